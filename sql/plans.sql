-- Plans (docs/reference.md#plans): keyed queries get the access paths the table owner's would — B-tree conditions
-- on indexed paths, GIN prefilters for eq, in, or, exists and contains, estimates from the filters — and a cached
-- plan is re-planned before a key whose filters have another shape runs it.  No value of a key enters a plan.
SET search_path = access_key, public;
CREATE ROLE regress_plans_owner;
CREATE ROLE regress_plans_app;
GRANT CREATE ON SCHEMA public TO regress_plans_owner;
GRANT EXECUTE ON FUNCTION ak_protect(regclass, name, name) TO regress_plans_owner;

SET ROLE regress_plans_owner;
-- 20,000 events (ANALYZE reads them all, so estimates are the same on every run): 200 customers, event types,
-- amounts and tags drawn from a hash of the row number, and times written with three UTC offsets.
CREATE TABLE public.plan_events (id bigserial PRIMARY KEY, properties jsonb NOT NULL);
INSERT INTO public.plan_events (properties)
SELECT jsonb_build_object(
           'customer', jsonb_build_object('id', 'c' || (hashint4(i) & 255) % 200, 'plan', CASE WHEN i % 3 = 0 THEN 'pro' ELSE 'free' END),
           'event', jsonb_build_object('type', (ARRAY['pageview', 'pageview', 'pageview', 'click', 'click', 'purchase', 'signup'])[1 + (hashint4(i + 1) & 255) % 7]),
           'amount', (hashint4(i + 2) & 1023) % 500,
           'tags', jsonb_build_array(i % 5, (hashint4(i + 3) & 255) % 97),
           'at', to_char(timestamptz '2026-01-01 00:00:00+00' + i * interval '3 minutes'
                             + (ARRAY[interval '0', interval '5 hours', interval '-8 hours'])[1 + i % 3],
                         'YYYY-MM-DD"T"HH24:MI:SS') || (ARRAY['Z', '+05:00', '-08:00'])[1 + i % 3])
FROM generate_series(1, 20000) AS i;
-- Rows without a customer id, and one whose id is a number.
INSERT INTO public.plan_events (properties) VALUES ('{"event": {"type": "signup"}}'), ('{"customer": {"id": 7}}');
CREATE INDEX plan_events_gin ON public.plan_events USING gin (properties jsonb_path_ops);
CREATE INDEX plan_events_customer ON public.plan_events ((properties -> 'customer' ->> 'id'), id);
CREATE INDEX plan_events_amount ON public.plan_events ((properties -> 'amount'));
CREATE INDEX plan_events_customer_json ON public.plan_events USING hash ((properties -> 'customer' -> 'id'));
CREATE INDEX plan_events_at ON public.plan_events ((properties ->> 'at') COLLATE "C");
ANALYZE public.plan_events;
SELECT ak_protect('public.plan_events');
GRANT SELECT ON public.plan_events TO regress_plans_app;
RESET ROLE;

-- Keys of different shapes.  expected: what each may see, counted as the owner with the pure ak_apply_filters.
CREATE TABLE pg_temp.plan_keys (name text PRIMARY KEY, definition access_key, token text, expected bigint);
INSERT INTO pg_temp.plan_keys (name, definition)
VALUES ('eq', '{"name": "eq", "permitted": ["queries"], "options": {"queries": {"filters": [
           {"property_name": "customer.id", "operator": "eq", "property_value": "c7"}]}}}'),
       ('eq2', '{"name": "eq2", "permitted": ["queries"], "options": {"queries": {"filters": [
           {"property_name": "customer.id", "operator": "eq", "property_value": "c8"}]}}}'),
       ('in', '{"name": "in", "permitted": ["queries"], "options": {"queries": {"filters": [
           {"property_name": "customer.id", "operator": "in", "property_value": ["c7", "c8", "c9"]}]}}}'),
       ('or', '{"name": "or", "permitted": ["queries"], "options": {"queries": {"filters": [
           {"operator": "or", "operands": [{"property_name": "customer.id", "operator": "eq", "property_value": "c7"},
                                           {"property_name": "customer.id", "operator": "eq", "property_value": "c8"}]}]}}}'),
       ('or_paths', '{"name": "or across paths", "permitted": ["queries"], "options": {"queries": {"filters": [
           {"operator": "or", "operands": [{"property_name": "customer.id", "operator": "eq", "property_value": "c7"},
                                           {"property_name": "tags", "operator": "contains", "property_value": 96}]}]}}}'),
       ('three', '{"name": "three", "permitted": ["queries"], "options": {"queries": {"filters": [
           {"property_name": "customer.id", "operator": "eq", "property_value": "c7"},
           {"property_name": "amount", "operator": "gte", "property_value": 250},
           {"property_name": "event.type", "operator": "in", "property_value": ["purchase", "signup"]}]}}}'),
       ('amounts', '{"name": "amounts", "permitted": ["queries"], "options": {"queries": {"filters": [
           {"property_name": "amount", "operator": "gt", "property_value": 495},
           {"property_name": "amount", "operator": "lte", "property_value": 497.5}]}}}'),
       ('times', '{"name": "times", "permitted": ["queries"], "options": {"queries": {"filters": [
           {"property_name": "at", "operator": "gte", "property_value": "2026-01-20T00:00:00+05:00"},
           {"property_name": "at", "operator": "lt", "property_value": "2026-01-20T06:00:00Z"}]}}}'),
       ('number', '{"name": "number", "permitted": ["queries"], "options": {"queries": {"filters": [
           {"property_name": "customer.id", "operator": "eq", "property_value": 7}]}}}'),
       ('regex', '{"name": "regex", "permitted": ["queries"], "options": {"queries": {"filters": [
           {"property_name": "customer.id", "operator": "regex", "property_value": "^c1[0-9]$"}]}}}'),
       ('contains', '{"name": "contains", "permitted": ["queries"], "options": {"queries": {"filters": [
           {"property_name": "tags", "operator": "contains", "property_value": 96}]}}}'),
       ('all', '{"name": "all", "permitted": ["queries"]}'),
       ('pro_c8', '{"name": "pro c8", "permitted": ["queries"], "options": {"queries": {"filters": [
           {"property_name": "customer.plan", "operator": "eq", "property_value": "pro"},
           {"property_name": "customer.id", "operator": "eq", "property_value": "c8"}]}}}'),
       ('fresh_in', '{"name": "fresh in", "permitted": ["queries"], "options": {"queries": {"filters": [
           {"property_name": "customer.id", "operator": "in", "property_value": ["c1", "c2"]}]}}}'),
       ('fresh_all', '{"name": "fresh all", "permitted": ["queries"]}'),
       ('writer', '{"name": "writer", "permitted": ["writes"]}');
UPDATE pg_temp.plan_keys SET token = (SELECT key FROM ak_create_key(definition)),
       expected = (SELECT count(*) FROM public.plan_events AS e WHERE ak_apply_filters(definition, e.properties));
GRANT SELECT ON pg_temp.plan_keys TO regress_plans_app;
SELECT name, expected FROM pg_temp.plan_keys ORDER BY name;
SELECT token AS eq FROM pg_temp.plan_keys WHERE name = 'eq' \gset
SELECT token AS eq2 FROM pg_temp.plan_keys WHERE name = 'eq2' \gset
SELECT token AS in_key FROM pg_temp.plan_keys WHERE name = 'in' \gset
SELECT token AS or_key FROM pg_temp.plan_keys WHERE name = 'or' \gset
SELECT token AS all_key FROM pg_temp.plan_keys WHERE name = 'all' \gset
SELECT token AS writer FROM pg_temp.plan_keys WHERE name = 'writer' \gset
SELECT token AS fresh_in FROM pg_temp.plan_keys WHERE name = 'fresh_in' \gset
SELECT token AS pro_c8 FROM pg_temp.plan_keys WHERE name = 'pro_c8' \gset
SELECT token AS fresh_all FROM pg_temp.plan_keys WHERE name = 'fresh_all' \gset

SET ROLE regress_plans_app;
SET max_parallel_workers_per_gather = 0;

-- The plan of each key, and its count against the owner's (every key's rows, no more, no fewer).
CREATE FUNCTION pg_temp.keyed_plan(key_name text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    line text;
    n bigint;
BEGIN
    PERFORM set_config('access_key.key', (SELECT token FROM pg_temp.plan_keys WHERE name = key_name), true);
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) SELECT count(*) FROM public.plan_events' LOOP
        RETURN NEXT line;
    END LOOP;
    SELECT count(*) INTO n FROM public.plan_events;
    RETURN NEXT CASE WHEN n = (SELECT expected FROM pg_temp.plan_keys WHERE name = key_name)
                     THEN format('%s rows, as the owner counts', n)
                     ELSE format('%s rows, but the owner counts %s', n, (SELECT expected FROM pg_temp.plan_keys WHERE name = key_name)) END;
END
$$;
-- eq: a B-tree condition on the indexed expression, compared with a value computed when the plan runs.
BEGIN; SELECT * FROM pg_temp.keyed_plan('eq'); COMMIT;
-- in, and an or of eq on one path: = ANY of the values.
BEGIN; SELECT * FROM pg_temp.keyed_plan('in'); COMMIT;
BEGIN; SELECT * FROM pg_temp.keyed_plan('or'); COMMIT;
-- An or across paths: the GIN prefilter (jsonpath ||).
BEGIN; SELECT * FROM pg_temp.keyed_plan('or_paths'); COMMIT;
-- Several filters: the B-tree condition on the most selective path; the GIN index does not add the weak one.
BEGIN; SELECT * FROM pg_temp.keyed_plan('three'); COMMIT;
-- Ranges on a text expression compared bytewise (COLLATE "C"); timestamps widen to whole days, since events carry
-- any UTC offset.  Number ranges get no B-tree condition: under row-level security PostgreSQL cannot estimate a
-- range of jsonb (its comparison is not leakproof).
BEGIN; SELECT * FROM pg_temp.keyed_plan('times'); COMMIT;
BEGIN; SELECT * FROM pg_temp.keyed_plan('amounts'); COMMIT;
-- A number cannot use the ->> index (1 and 1.0 print differently); a jsonb expression (here in a hash index)
-- compares JSON values as eq does.
BEGIN; SELECT * FROM pg_temp.keyed_plan('number'); COMMIT;
BEGIN; SELECT * FROM pg_temp.keyed_plan('contains'); COMMIT;
-- No indexable filter, no filter: no useless full-index condition.
BEGIN; SELECT * FROM pg_temp.keyed_plan('regex'); COMMIT;
BEGIN; SELECT * FROM pg_temp.keyed_plan('all'); COMMIT;
-- A key that may not read: 42501 when the plan runs, as before.
-- (Without the error's context: it names the backend's own temporary schema, pg_temp_N.)
\set SHOW_CONTEXT never
BEGIN; SELECT * FROM pg_temp.keyed_plan('writer'); COMMIT;
\set SHOW_CONTEXT errors
\echo :LAST_ERROR_SQLSTATE

-- The owner's access paths: the newest events of a customer come from the (customer id, id) index in order.
BEGIN;
SELECT ak_use_key(:'eq') IS NOT NULL;
EXPLAIN (COSTS OFF) SELECT id FROM public.plan_events ORDER BY id DESC LIMIT 5;
SELECT id FROM public.plan_events ORDER BY id DESC LIMIT 5;
COMMIT;

-- Estimates come from the filters and the statistics, not a default third of the table.
CREATE FUNCTION pg_temp.estimated_rows(query text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    plan json;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
    RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::bigint;
END
$$;
BEGIN;
SELECT set_config('access_key.key', token, true) IS NOT NULL, name,
       pg_temp.estimated_rows('SELECT * FROM public.plan_events') AS estimate, expected
FROM pg_temp.plan_keys WHERE name IN ('eq', 'in', 'three', 'amounts', 'regex', 'all') ORDER BY name;
COMMIT;

-- Plans outlive keys, and suit the key that runs them: a prepared statement's cached plan is re-planned when a
-- key whose filters have another shape is presented, and serves every key of the same shape with its own rows.
PREPARE newest AS SELECT count(*), min(id), max(id) FROM public.plan_events;
PREPARE newest_plan AS SELECT 1;
BEGIN;
SELECT ak_use_key(:'eq') IS NOT NULL;
EXECUTE newest;
EXPLAIN (COSTS OFF) EXECUTE newest;
SELECT ak_use_key(:'eq2') IS NOT NULL;
EXECUTE newest;
SELECT ak_use_key(:'or_key') IS NOT NULL;
EXPLAIN (COSTS OFF) EXECUTE newest;
EXECUTE newest;
SELECT ak_use_key(:'all_key') IS NOT NULL;
EXPLAIN (COSTS OFF) EXECUTE newest;
EXECUTE newest;
SELECT ak_use_key(:'eq') IS NOT NULL;
EXPLAIN (COSTS OFF) EXECUTE newest;
EXECUTE newest;
-- Keys this session has not presented before: ak_use_key resolves the key before deciding, SET cannot.
SELECT ak_use_key(:'fresh_in') IS NOT NULL;
EXPLAIN (COSTS OFF) EXECUTE newest;
EXECUTE newest;
SET LOCAL access_key.key = :'fresh_all';
EXPLAIN (COSTS OFF) EXECUTE newest;
EXECUTE newest;
COMMIT;
-- Without a key the cached plan returns nothing (and is kept for the next key of its shape).
EXECUTE newest;
BEGIN; SELECT ak_use_key(:'eq2') IS NOT NULL; EXECUTE newest; COMMIT;
-- A generic plan with parameters, forced: the same.
SET plan_cache_mode = force_generic_plan;
PREPARE of_type(text) AS SELECT count(*) FROM public.plan_events WHERE properties -> 'event' ->> 'type' = $1;
BEGIN; SELECT ak_use_key(:'in_key') IS NOT NULL; EXECUTE of_type('signup'); COMMIT;
BEGIN; SELECT ak_use_key(:'eq') IS NOT NULL; EXECUTE of_type('signup'); EXPLAIN (COSTS OFF) EXECUTE of_type('signup'); COMMIT;
BEGIN; SELECT ak_use_key(:'all_key') IS NOT NULL; EXECUTE of_type('signup'); COMMIT;
RESET plan_cache_mode;

-- PL/pgSQL caches plans too.
CREATE FUNCTION pg_temp.count_events() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT count(*) FROM public.plan_events);
END
$$;
DO $$
DECLARE
    k record;
BEGIN
    FOR k IN SELECT * FROM unnest('{eq,in,eq2,or,all,three,eq,number,or_paths,amounts}'::text[]) WITH ORDINALITY AS t(name, n)
                  JOIN pg_temp.plan_keys USING (name) ORDER BY n LOOP
        PERFORM set_config('access_key.key', k.token, false);
        RAISE NOTICE '%: %', k.name, CASE WHEN pg_temp.count_events() = k.expected THEN 'as the owner counts' ELSE 'WRONG' END;
    END LOOP;
END
$$;
RESET access_key.key;

-- The only way to run a plan under a key of another shape is to change keys inside a SQL function, whose
-- statements are planned together: the value the plan needs is refused, never a row lost.
CREATE FUNCTION pg_temp.switch_and_count(token text) RETURNS bigint LANGUAGE sql AS $$
    SELECT set_config('access_key.key', token, true);
    SELECT count(*) FROM public.plan_events;
$$;
BEGIN; SELECT ak_use_key(:'eq') IS NOT NULL; SELECT pg_temp.switch_and_count(:'eq2'); COMMIT;
BEGIN; SELECT ak_use_key(:'eq') IS NOT NULL; SELECT pg_temp.switch_and_count(:'in_key'); COMMIT;
\echo :LAST_ERROR_SQLSTATE
BEGIN; SELECT ak_use_key(:'eq') IS NOT NULL; SELECT pg_temp.switch_and_count(:'all_key'); COMMIT;
-- A key that pins the path too, among other filters: the plan's condition holds, and the policy call, seeing
-- a key of another shape than the plan's, checks every filter again (rather than trusting the condition for the
-- first one, as it does for keys of the plan's shape).
BEGIN; SELECT ak_use_key(:'eq') IS NOT NULL;
SELECT pg_temp.switch_and_count(:'pro_c8') AS pro_c8, (SELECT expected FROM pg_temp.plan_keys WHERE name = 'pro_c8') AS expected;
COMMIT;

-- A scan compares with the values of the key it started under.  A cursor read on after another key of the same
-- shape is presented yields none of the first key's rows: the policy call checks every filter again.
BEGIN;
SELECT ak_use_key(:'eq') IS NOT NULL;
DECLARE newest_first CURSOR FOR SELECT properties #>> '{customer,id}' AS customer FROM public.plan_events ORDER BY id DESC;
FETCH 2 FROM newest_first;
SELECT ak_use_key(:'eq2') IS NOT NULL;
FETCH ALL FROM newest_first;
COMMIT;

-- The value functions answer for the session's key as ak_filter_row does.
SELECT ak_filter_text('public.plan_events', 'customer.id') AS without_key,
       ak_filter_texts('public.plan_events', 'customer.id') AS without_key;
BEGIN; SELECT ak_use_key(:'in_key') IS NOT NULL;
SELECT ak_filter_texts('public.plan_events', 'customer.id') AS texts, ak_filter_jsonbs('public.plan_events', 'customer.id') AS jsonbs;
SELECT ak_filter_text('public.plan_events', 'customer.id');
COMMIT;
BEGIN; SELECT set_config('access_key.key', token, true) IS NOT NULL FROM pg_temp.plan_keys WHERE name = 'amounts';
SELECT ak_filter_text_lower('public.plan_events', 'amount');
COMMIT;
BEGIN; SELECT set_config('access_key.key', token, true) IS NOT NULL FROM pg_temp.plan_keys WHERE name = 'times';
SELECT ak_filter_text_lower('public.plan_events', 'at') AS lower, ak_filter_text_upper('public.plan_events', 'at') AS upper;
COMMIT;
BEGIN; SELECT ak_use_key(:'writer') IS NOT NULL; SELECT ak_filter_text('public.plan_events', 'customer.id'); COMMIT;
\echo :LAST_ERROR_SQLSTATE
-- The planned form of the policy call trusts the plan that holds it to check the listed filters: called directly
-- with a shape and positions it answers true without checking them, which gives a tenant nothing, since the
-- SELECT policy still applies.
BEGIN; SELECT ak_use_key(:'eq') IS NOT NULL;
SELECT count(*) AS visible FROM public.plan_events
WHERE ak_filter_row('public.plan_events', properties, 'eq(11:customer.id:s)', '{1}');
COMMIT;

-- Parallel workers compute the values from the session's settings: the same rows.
BEGIN;
SELECT ak_use_key(:'in_key') IS NOT NULL;
\i sql/include/parallel_setting.sql
SET LOCAL :parallel_setting = on;
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
EXPLAIN (COSTS OFF) SELECT count(*) FROM public.plan_events;
SELECT count(*) = (SELECT expected FROM pg_temp.plan_keys WHERE name = 'in') AS as_the_owner_counts FROM public.plan_events;
SET LOCAL enable_bitmapscan = off;
SET LOCAL enable_indexscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM public.plan_events;
SELECT count(*) = (SELECT expected FROM pg_temp.plan_keys WHERE name = 'in') AS as_the_owner_counts FROM public.plan_events;
COMMIT;

-- A timeframe read from keen.timestamp (a collection without a time column) is checked on every row the index
-- returns, even when the B-tree condition checks the key's only filter: 2 of c7's 3 events are in it.
RESET ROLE;
SET ROLE regress_plans_owner;
CREATE TABLE public.plan_times (id bigserial PRIMARY KEY, properties jsonb NOT NULL);
CREATE INDEX plan_times_customer ON public.plan_times ((properties -> 'customer' ->> 'id'));
INSERT INTO public.plan_times (properties)
SELECT jsonb_build_object('customer', jsonb_build_object('id', 'c' || i % 100),
                          'keen', jsonb_build_object('timestamp', to_char(timestamptz '2026-01-01 00:00:00+00' + i * interval '1 day',
                                                                         'YYYY-MM-DD"T"HH24:MI:SS"Z"')))
FROM generate_series(1, 300) AS i;
ANALYZE public.plan_times;
SELECT ak_protect('public.plan_times');
GRANT SELECT ON public.plan_times TO regress_plans_app;
RESET ROLE;
SELECT key AS recent_c7 FROM ak_create_key('{"name": "c7 until June", "permitted": ["queries"], "options": {"queries": {
    "filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "c7"}],
    "timeframe": {"start": "2026-01-01T00:00:00Z", "end": "2026-06-01T00:00:00Z"}}}}') \gset
SET ROLE regress_plans_app;
BEGIN;
SET LOCAL enable_seqscan = off;
SELECT ak_use_key(:'recent_c7') IS NOT NULL;
EXPLAIN (COSTS OFF) SELECT count(*) FROM public.plan_times;
SELECT count(*) AS in_timeframe, 2 AS expected FROM public.plan_times;
SELECT count(*) AS in_timeframe, 2 AS expected FROM public.plan_times;
COMMIT;

-- Estimates reveal nothing about rows the key cannot see.  c7's 200 events all have amount 5, everybody else's
-- are spread from 0 to 2,000; two keys that see exactly c7's events, one filtering amount <= 5 and one amount
-- <= 1500, get the same estimate.  Estimating each filter over every tenant's rows would give the second about 250
-- times more, and a tenant deriving child keys could read any property's distribution through EXPLAIN.
RESET ROLE;
SET ROLE regress_plans_owner;
CREATE TABLE public.plan_spread (id bigserial PRIMARY KEY, properties jsonb NOT NULL);
INSERT INTO public.plan_spread (properties)
SELECT jsonb_build_object('customer', jsonb_build_object('id', 'c' || i % 10),
                          'amount', CASE WHEN i % 10 = 7 THEN 5 ELSE i END)
FROM generate_series(1, 2000) AS i;
ANALYZE public.plan_spread;
SELECT ak_protect('public.plan_spread');
GRANT SELECT ON public.plan_spread TO regress_plans_app;
RESET ROLE;
SELECT key AS c7_small FROM ak_create_key('{"name": "c7, amount <= 5", "permitted": ["queries"], "options": {"queries": {
    "filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "c7"},
                {"property_name": "amount", "operator": "lte", "property_value": 5}]}}}') \gset
SELECT key AS c7_wide FROM ak_create_key('{"name": "c7, amount <= 1500", "permitted": ["queries"], "options": {"queries": {
    "filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "c7"},
                {"property_name": "amount", "operator": "lte", "property_value": 1500}]}}}') \gset
SET ROLE regress_plans_app;
BEGIN;
SELECT ak_use_key(:'c7_small') IS NOT NULL;
SELECT count(*) AS visible, pg_temp.estimated_rows('SELECT * FROM public.plan_spread') AS small_estimate
FROM public.plan_spread \gset
SELECT ak_use_key(:'c7_wide') IS NOT NULL;
SELECT count(*) = :visible AS same_rows,
       pg_temp.estimated_rows('SELECT * FROM public.plan_spread') = :small_estimate AS same_estimate
FROM public.plan_spread;
COMMIT;

RESET ROLE;
RESET max_parallel_workers_per_gather;
DEALLOCATE ALL;
DROP OWNED BY regress_plans_app;
DROP TABLE public.plan_events, public.plan_times, public.plan_spread;
REVOKE CREATE ON SCHEMA public FROM regress_plans_owner;
REVOKE EXECUTE ON FUNCTION ak_protect(regclass, name, name) FROM regress_plans_owner;
DROP ROLE regress_plans_app;
DROP ROLE regress_plans_owner;
