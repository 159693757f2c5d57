-- Particular streams and tighter timeframes (docs/reference.md#collections-and-timeframes):
-- options.writes.collections, options.queries.collections and options.queries.timeframe,
-- enforced for reads, writes, saved queries, cached queries, datasets and schema
-- inspection, as non-superuser roles.
SET search_path = access_key, public;
SET timezone = 'UTC';
CREATE ROLE regress_ks_owner;
CREATE ROLE regress_ks_app;
GRANT CREATE ON SCHEMA public TO regress_ks_owner;
GRANT EXECUTE ON FUNCTION ak_protect(regclass, name, name), ak_unprotect(regclass),
    ak_create_saved_query(text, text, interval), ak_update_saved_query(text, text, interval),
    ak_refresh_cached_queries(), ak_create_dataset(text, text, text[]), ak_refresh_dataset(text)
TO regress_ks_owner;

------------------------------------------------------------------------------
-- Validation
------------------------------------------------------------------------------

-- Collections are schema-qualified names written as in SQL, stored canonically:
-- unquoted parts fold to lower case, quotes stay only where needed, sorted.
SELECT '{"name": "c", "options": {"queries": {"collections": ["Public.Events", "analytics.\"Page Views\"", "a.\"b\"\"c\"", "\"x\".y"]},
    "writes": {"collections": []}}}'::access_key;
SELECT '{"name": "c", "options": {"queries": {"collections": ["events"]}}}'::access_key;
SELECT '{"name": "c", "options": {"queries": {"collections": ["public.events", "PUBLIC.\"events\""]}}}'::access_key;
SELECT '{"name": "c", "options": {"queries": {"collections": ["a.b.c"]}}}'::access_key;
SELECT '{"name": "c", "options": {"queries": {"collections": ["public.\"open"]}}}'::access_key;
SELECT '{"name": "c", "options": {"queries": {"collections": ["public.1st"]}}}'::access_key;
SELECT '{"name": "c", "options": {"queries": {"collections": ["public."]}}}'::access_key;
SELECT '{"name": "c", "options": {"queries": {"collections": ["public.\"\""]}}}'::access_key;
SELECT format('{"name": "c", "options": {"writes": {"collections": ["public.%s"]}}}', repeat('x', 64))::access_key;
SELECT '{"name": "c", "options": {"writes": {"collections": [7]}}}'::access_key;
SELECT '{"name": "c", "options": {"writes": {"collections": "public.events"}}}'::access_key;
SELECT '{"name": "c", "options": {"saved_queries": {"collections": ["public.events"]}}}'::access_key;

-- Timeframes: relative this_N_units / previous_N_units, absolute {start, end},
-- or an array of them (all apply).
SELECT '{"name": "t", "options": {"queries": {"timeframe": "this_1_minutes"}}}'::access_key;
SELECT '{"name": "t", "options": {"queries": {"timeframe": "previous_1000000_years"}}}'::access_key;
SELECT '{"name": "t", "options": {"queries": {"timeframe": {"end": "2024-02-01T00:00:00Z", "start": "2024-01-01"}}}}'::access_key;
SELECT '{"name": "t", "options": {"queries": {"timeframe": ["this_7_days", {"start": "2024-01-01", "end": "2024-02-01"}]}}}'::access_key;
SELECT '{"name": "t", "options": {"queries": {"timeframe": "this_7_day"}}}'::access_key;
SELECT '{"name": "t", "options": {"queries": {"timeframe": "this_07_days"}}}'::access_key;
SELECT '{"name": "t", "options": {"queries": {"timeframe": "last_7_days"}}}'::access_key;
SELECT '{"name": "t", "options": {"queries": {"timeframe": "this_1000001_days"}}}'::access_key;
SELECT '{"name": "t", "options": {"queries": {"timeframe": "this__days"}}}'::access_key;
SELECT '{"name": "t", "options": {"queries": {"timeframe": 7}}}'::access_key;
SELECT '{"name": "t", "options": {"queries": {"timeframe": []}}}'::access_key;
SELECT '{"name": "t", "options": {"queries": {"timeframe": [["this_7_days"]]}}}'::access_key;
SELECT '{"name": "t", "options": {"queries": {"timeframe": {"start": "2024-01-01"}}}}'::access_key;
SELECT '{"name": "t", "options": {"queries": {"timeframe": {"start": "2024-01-01", "end": "soon"}}}}'::access_key;
SELECT '{"name": "t", "options": {"queries": {"timeframe": {"start": "2024-01-01", "end": "2024-01-01T00:00:00Z"}}}}'::access_key;
SELECT '{"name": "t", "options": {"queries": {"timeframe": {"start": "2024-01-01", "end": "2024-02-01", "timezone": "UTC"}}}}'::access_key;
SELECT '{"name": "t", "options": {"queries": {"timeframe": ["this_1_days", {"start": 1, "end": "2024-02-01"}]}}}'::access_key;
SELECT '{"name": "t", "options": {"writes": {"timeframe": "this_1_days"}}}'::access_key;

------------------------------------------------------------------------------
-- Collections: reads, writes, schema inspection
------------------------------------------------------------------------------

CREATE SCHEMA ks_data AUTHORIZATION regress_ks_owner;
SET ROLE regress_ks_owner;
CREATE TABLE public.pageviews (id bigserial PRIMARY KEY, properties jsonb NOT NULL DEFAULT '{}');
CREATE TABLE public.purchases (id bigserial PRIMARY KEY, properties jsonb NOT NULL DEFAULT '{}');
CREATE TABLE ks_data."Secret Events" (id bigserial PRIMARY KEY, properties jsonb NOT NULL DEFAULT '{}');
INSERT INTO public.pageviews (properties) SELECT jsonb_build_object('page', '/p/' || i) FROM generate_series(1, 3) AS i;
INSERT INTO public.purchases (properties) SELECT jsonb_build_object('amount', i, 'sku', 'a' || i) FROM generate_series(1, 2) AS i;
INSERT INTO ks_data."Secret Events" (properties) VALUES ('{"secret": true}');
CREATE INDEX purchases_properties_idx ON public.purchases USING gin (properties jsonb_path_ops);
SELECT ak_protect('public.pageviews'), ak_protect('public.purchases'), ak_protect('ks_data."Secret Events"');
GRANT USAGE ON SCHEMA ks_data TO regress_ks_app;
GRANT SELECT, INSERT ON public.pageviews, public.purchases, ks_data."Secret Events" TO regress_ks_app;
GRANT USAGE ON SEQUENCE public.pageviews_id_seq, public.purchases_id_seq TO regress_ks_app;
RESET ROLE;

CREATE FUNCTION pg_temp.new_key(definition text) RETURNS text LANGUAGE sql AS
    'SELECT key FROM access_key.ak_create_key(definition::access_key.access_key)';
SELECT pg_temp.new_key('{"name": "pageviews only", "permitted": ["queries", "writes", "schema"],
    "options": {"queries": {"collections": ["public.pageviews"]}, "writes": {"collections": ["public.pageviews"]}}}') AS k_pv \gset
SELECT pg_temp.new_key('{"name": "secret only", "permitted": ["queries"],
    "options": {"queries": {"collections": ["KS_DATA.\"Secret Events\""]}}}') AS k_secret \gset
SELECT pg_temp.new_key('{"name": "no collection", "permitted": ["queries", "writes"],
    "options": {"queries": {"collections": []}, "writes": {"collections": []}}}') AS k_none \gset
SELECT pg_temp.new_key('{"name": "every collection", "permitted": ["queries", "writes", "schema"]}') AS k_all \gset
SELECT pg_temp.new_key('{"name": "writes purchases, reads pageviews", "permitted": ["queries", "writes"],
    "options": {"queries": {"collections": ["public.pageviews"]}, "writes": {"collections": ["public.purchases"]}}}') AS k_split \gset

SET ROLE regress_ks_app;
-- A key reads only its collections; another collection is refused with 42501 naming it.
BEGIN; SELECT ak_use_key(:'k_pv') IS NOT NULL AS pageviews_only;
SELECT count(*) AS pageviews FROM public.pageviews;
SELECT count(*) FROM public.purchases;
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- Through an index scan (the GIN prefilter is evaluated first) and in a join, alike.
BEGIN; SELECT ak_use_key(:'k_pv') IS NOT NULL;
SET LOCAL enable_seqscan = off;
SELECT count(*) FROM public.purchases WHERE properties @> '{"sku": "a1"}';
ROLLBACK;
BEGIN; SELECT ak_use_key(:'k_pv') IS NOT NULL;
SELECT count(*) FROM public.pageviews AS v JOIN public.purchases AS p ON true;
ROLLBACK;
-- Quoted, mixed-case names match their table; other tables are refused.
BEGIN; SELECT ak_use_key(:'k_secret') IS NOT NULL AS secret_only;
SELECT properties FROM ks_data."Secret Events";
SELECT count(*) FROM public.pageviews;
ROLLBACK;
-- An empty list reads (and writes) nothing; no list reads everything.
BEGIN; SELECT ak_use_key(:'k_none') IS NOT NULL AS no_collection;
SELECT count(*) FROM public.pageviews;
ROLLBACK;
BEGIN; SELECT ak_use_key(:'k_all') IS NOT NULL AS every_collection;
SELECT (SELECT count(*) FROM public.pageviews) AS pageviews, (SELECT count(*) FROM public.purchases) AS purchases,
       (SELECT count(*) FROM ks_data."Secret Events") AS secret;
ROLLBACK;

-- Writes: only to writes.collections; reads and writes are separate lists.
BEGIN; SELECT ak_use_key(:'k_pv') IS NOT NULL;
INSERT INTO public.pageviews (properties) VALUES ('{"page": "/new"}');
INSERT INTO public.purchases (properties) VALUES ('{"amount": 9}');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN; SELECT ak_use_key(:'k_none') IS NOT NULL;
INSERT INTO public.pageviews (properties) VALUES ('{"page": "/new"}');
ROLLBACK;
BEGIN; SELECT ak_use_key(:'k_split') IS NOT NULL AS split;
INSERT INTO public.purchases (properties) VALUES ('{"amount": 9}');
SAVEPOINT s;
-- ... but reading it back (RETURNING) is a read of purchases.
INSERT INTO public.purchases (properties) VALUES ('{"amount": 10}') RETURNING id;
ROLLBACK TO s;
INSERT INTO public.pageviews (properties) VALUES ('{"page": "/x"}');
ROLLBACK;

-- Schema inspection: ak_collections lists only the key's collections, ak_schema
-- refuses the others (even when they are empty).
BEGIN; SELECT ak_use_key(:'k_pv') IS NOT NULL;
SELECT * FROM ak_collections();
SELECT * FROM ak_schema('public.pageviews');
SELECT * FROM ak_schema('public.purchases');
ROLLBACK;
BEGIN; SELECT ak_use_key(:'k_all') IS NOT NULL;
SELECT * FROM ak_collections();
ROLLBACK;

-- Names are resolved when the key is used: a renamed table no longer matches
-- (fail closed), in the same session, without any change to the key.
BEGIN; SELECT ak_use_key(:'k_pv') IS NOT NULL; SELECT count(*) AS before_rename FROM public.pageviews; COMMIT;
RESET ROLE;
ALTER TABLE public.pageviews RENAME TO pageviews_old;
SET ROLE regress_ks_app;
BEGIN; SELECT ak_use_key(:'k_pv') IS NOT NULL; SELECT count(*) FROM public.pageviews_old; ROLLBACK;
RESET ROLE;
ALTER TABLE public.pageviews_old RENAME TO pageviews;
ALTER SCHEMA ks_data RENAME TO ks_other;
SET ROLE regress_ks_app;
BEGIN; SELECT ak_use_key(:'k_pv') IS NOT NULL; SELECT count(*) AS after_rename_back FROM public.pageviews; COMMIT;
BEGIN; SELECT ak_use_key(:'k_secret') IS NOT NULL; SELECT count(*) FROM ks_other."Secret Events"; ROLLBACK;
RESET ROLE;
ALTER SCHEMA ks_other RENAME TO ks_data;
SET ROLE regress_ks_app;
BEGIN; SELECT ak_use_key(:'k_secret') IS NOT NULL; SELECT count(*) AS schema_renamed_back FROM ks_data."Secret Events"; COMMIT;
RESET ROLE;

------------------------------------------------------------------------------
-- Collections: saved queries, cached queries and datasets
------------------------------------------------------------------------------

SET ROLE regress_ks_owner;
CREATE VIEW public.purchase_totals WITH (security_invoker = true) AS
    SELECT sum((properties ->> 'amount')::int) AS total FROM public.purchases;
SELECT ak_create_saved_query('live_pageviews', 'SELECT count(*) AS n FROM pageviews');
SELECT ak_create_saved_query('live_purchases', 'SELECT count(*) AS n FROM purchases');
SELECT ak_create_saved_query('cached_pageviews', 'SELECT count(*) AS n FROM pageviews', '1 hour');
SELECT ak_create_saved_query('cached_purchases', 'SELECT count(*) AS n FROM purchases', '1 hour');
SELECT ak_create_saved_query('cached_through_view', 'SELECT total FROM purchase_totals', '1 hour');
SELECT ak_create_saved_query('cached_constant', 'SELECT 1 AS one', '1 hour');
SELECT ak_refresh_cached_queries() AS refreshed;
SELECT ak_create_dataset('pageviews_by_page', 'SELECT properties ->> ''page'' AS page, count(*) AS n FROM pageviews GROUP BY 1',
                         ARRAY['page']);
SELECT ak_create_dataset('purchases_by_sku', 'SELECT properties ->> ''sku'' AS sku, count(*) AS n FROM purchases GROUP BY 1',
                         ARRAY['sku']);
SELECT ak_refresh_dataset('pageviews_by_page'), ak_refresh_dataset('purchases_by_sku');
RESET ROLE;
-- What each stored query reads is recorded when it is stored (views expanded).
SELECT name, reads FROM access_key.saved_queries ORDER BY name;
SELECT name, reads FROM access_key.datasets ORDER BY name;

SELECT pg_temp.new_key('{"name": "stored, pageviews only", "permitted": ["saved_queries", "cached_queries", "datasets"],
    "options": {"queries": {"collections": ["public.pageviews"]}}}') AS k_stored \gset
SELECT pg_temp.new_key('{"name": "stored, everything", "permitted": ["saved_queries", "cached_queries", "datasets"]}') AS k_stored_all \gset
SET ROLE regress_ks_app;
CREATE FUNCTION pg_temp.try(token text, call text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    result text;
BEGIN
    PERFORM access_key.ak_use_key(token);
    EXECUTE call INTO result;
    RETURN result;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
-- Live saved queries run through the policies, in the saved_queries context:
-- collections apply there too.  Cached queries and datasets are checked
-- against what their query reads.
SELECT c.call, pg_temp.try(:'k_stored', c.call) AS pageviews_only, pg_temp.try(:'k_stored_all', c.call) AS everything
FROM (VALUES ($$SELECT ak_saved_query_result('live_pageviews') -> 'result'$$),
             ($$SELECT ak_saved_query_result('live_purchases') -> 'result'$$),
             ($$SELECT ak_saved_query_result('cached_pageviews') -> 'result'$$),
             ($$SELECT ak_saved_query_result('cached_purchases') -> 'result'$$),
             ($$SELECT ak_saved_query_result('cached_through_view') -> 'result'$$),
             ($$SELECT ak_saved_query_result('cached_constant') -> 'result'$$),
             ($$SELECT ak_dataset_results('pageviews_by_page', '{"page": "/p/1"}') -> 'result'$$),
             ($$SELECT ak_dataset_results('purchases_by_sku', '{"sku": "a1"}') -> 'result'$$)) AS c(call);
RESET ROLE;
-- A stored query whose reads were never recorded (stored before this version)
-- is refused to keys limited to some collections, until an admin stores it again.
UPDATE access_key.saved_queries SET reads = NULL WHERE name = 'cached_pageviews';
SET ROLE regress_ks_app;
SELECT pg_temp.try(:'k_stored', $$SELECT ak_saved_query_result('cached_pageviews') -> 'result'$$) AS not_recorded,
       pg_temp.try(:'k_stored_all', $$SELECT ak_saved_query_result('cached_pageviews') -> 'result'$$) AS unlimited_key;
SET ROLE regress_ks_owner;
SELECT ak_update_saved_query('cached_pageviews', 'SELECT count(*) AS n FROM pageviews', '1 hour');
SELECT ak_refresh_cached_queries() AS refreshed;
SET ROLE regress_ks_app;
SELECT pg_temp.try(:'k_stored', $$SELECT ak_saved_query_result('cached_pageviews') -> 'result'$$) AS recorded_again;
RESET ROLE;

------------------------------------------------------------------------------
-- Timeframes on a time column
------------------------------------------------------------------------------

SET ROLE regress_ks_owner;
CREATE TABLE public.timed (id bigserial PRIMARY KEY, label text, at timestamptz, day date,
                           properties jsonb NOT NULL DEFAULT '{}');
-- The column must exist and be timestamptz.
SELECT ak_protect('public.timed', 'properties', 'nope');
SELECT ak_protect('public.timed', 'properties', 'day');
SELECT ak_protect('public.timed', timestamp_column => 'at');
-- A minute apart over 2024-01-01 .. 2024-01-07, and rows at the edges of 2024-01-02.
INSERT INTO public.timed (label, at)
SELECT 'bulk', timestamptz '2024-01-01' + make_interval(mins => i) FROM generate_series(0, 8639) AS i;
INSERT INTO public.timed (label, at, properties) VALUES
    ('day before, last microsecond', '2024-01-01 23:59:59.999999+00', '{"keen": {"timestamp": "2024-01-02"}}'),
    ('day start', '2024-01-02 00:00:00+00', '{}'),
    ('day end, last microsecond', '2024-01-02 23:59:59.999999+00', '{}'),
    ('next day start', '2024-01-03 00:00:00+00', '{}'),
    ('no time', NULL, '{}');
CREATE INDEX timed_at_idx ON public.timed (at);
ANALYZE public.timed;
GRANT SELECT ON public.timed TO regress_ks_app;
RESET ROLE;
SELECT collection, properties_column, timestamp_column FROM access_key.collections ORDER BY collection::text;
SELECT pg_get_expr(polqual, polrelid) AS select_policy FROM pg_policy
WHERE polrelid = 'public.timed'::regclass AND polname = 'access_key_select';

SELECT pg_temp.new_key('{"name": "2024-01-02", "permitted": ["queries", "saved_queries"],
    "options": {"queries": {"timeframe": {"start": "2024-01-02T00:00:00Z", "end": "2024-01-03T00:00:00Z"}}}}') AS k_day \gset
SELECT pg_temp.new_key('{"name": "2024-01-03 and 04", "permitted": ["queries"],
    "options": {"queries": {"timeframe": {"start": "2024-01-03", "end": "2024-01-05"}}}}') AS k_days \gset
SELECT pg_temp.new_key('{"name": "two timeframes", "permitted": ["queries"],
    "options": {"queries": {"timeframe": [{"start": "2024-01-01T12:00:00Z", "end": "2024-01-02T06:00:00Z"},
                                          {"start": "2024-01-02T00:00:00Z", "end": "2024-01-04T00:00:00Z"}]}}}') AS k_both \gset
SELECT pg_temp.new_key('{"name": "no timeframe", "permitted": ["queries"]}') AS k_any \gset

SET ROLE regress_ks_app;
-- Start inclusive, end exclusive; an event without a time is outside every timeframe.
BEGIN; SELECT ak_use_key(:'k_day') IS NOT NULL;
SELECT label, count(*) FROM public.timed GROUP BY label ORDER BY min(at);
SELECT ak_timeframe_earliest('public.timed') AS earliest, ak_timeframe_latest('public.timed') AS latest;
COMMIT;
-- Several timeframes all apply (here: 2024-01-02 00:00 to 06:00).
BEGIN; SELECT ak_use_key(:'k_both') IS NOT NULL;
SELECT count(*), min(at), max(at) FROM public.timed;
COMMIT;
-- Without a timeframe: every row that has a time.
BEGIN; SELECT ak_use_key(:'k_any') IS NOT NULL;
SELECT count(*) AS every_timed_row FROM public.timed;
SELECT ak_timeframe_earliest('public.timed') AS earliest, ak_timeframe_latest('public.timed') AS latest;
COMMIT;
-- Without a key: nothing, and an empty interval.
SELECT count(*) AS without_key FROM public.timed;
SELECT ak_timeframe_earliest('public.timed') > ak_timeframe_latest('public.timed') AS empty_without_key;

-- The B-tree index on the time column serves the bound, which the index
-- condition reads from STABLE functions at execution: a generic plan prepared
-- once gives each key its own rows.
SET plan_cache_mode = force_generic_plan;
PREPARE timed_count AS SELECT count(*) FROM public.timed;
BEGIN; SELECT ak_use_key(:'k_day') IS NOT NULL;
EXPLAIN (COSTS OFF) EXECUTE timed_count;
EXECUTE timed_count;
COMMIT;
BEGIN; SELECT ak_use_key(:'k_days') IS NOT NULL; EXECUTE timed_count; COMMIT;
BEGIN; SELECT ak_use_key(:'k_day') IS NOT NULL; EXECUTE timed_count; COMMIT;
BEGIN; SELECT ak_use_key(:'k_any') IS NOT NULL; EXECUTE timed_count; COMMIT;
-- Switching keys within a transaction switches bounds too.
BEGIN;
SELECT ak_use_key(:'k_days') IS NOT NULL; EXECUTE timed_count;
SELECT ak_use_key(:'k_day') IS NOT NULL; EXECUTE timed_count;
COMMIT;
DEALLOCATE timed_count;
RESET plan_cache_mode;
-- A live saved query applies the key's timeframe too (it is key-wide).
RESET ROLE;
SET ROLE regress_ks_owner;
SELECT ak_create_saved_query('timed_count', 'SELECT count(*) AS n FROM timed');
SET ROLE regress_ks_app;
SELECT pg_temp.try(:'k_day', $$SELECT ak_saved_query_result('timed_count') -> 'result'$$) AS live_saved_query;
RESET ROLE;

-- Relative timeframes move with the transaction's start time (now()), in UTC;
-- weeks start on Monday.  Rows are placed at the edges of each timeframe,
-- computed independently here, in the transaction that reads them.
CREATE FUNCTION pg_temp.place_edges(timeframe text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    kind text := split_part(timeframe, '_', 1);
    n int := split_part(timeframe, '_', 2)::int;
    unit text := split_part(timeframe, '_', 3);
    unit_start timestamptz := date_trunc(rtrim(unit, 's'), now());
    first timestamptz;
    last timestamptz;
BEGIN
    IF kind = 'this' THEN
        first := unit_start - ((n - 1) || ' ' || unit)::interval;
        last := now();
    ELSE
        first := unit_start - (n || ' ' || unit)::interval;
        last := unit_start - interval '1 microsecond';
    END IF;
    INSERT INTO public.timed (label, at) VALUES
        ('before first', first - interval '1 microsecond'), ('first', first),
        ('last', last), ('after last', last + interval '1 microsecond');
END
$$;
CREATE TEMP TABLE relative_keys (timeframe text, token text);
INSERT INTO relative_keys
SELECT t, pg_temp.new_key(format('{"name": "%s", "permitted": ["queries"], "options": {"queries": {"timeframe": "%s"}}}', t, t))
FROM unnest(ARRAY['this_2_minutes', 'previous_1_hours', 'this_1_days', 'previous_1_weeks', 'previous_2_months', 'this_2_years']) AS t;
GRANT SELECT ON relative_keys TO regress_ks_app;

BEGIN; SET LOCAL ROLE regress_ks_owner; SELECT pg_temp.place_edges('this_2_minutes');
SET LOCAL ROLE regress_ks_app; SELECT ak_use_key(token) IS NOT NULL FROM relative_keys WHERE timeframe = 'this_2_minutes';
SELECT 'this_2_minutes' AS timeframe, string_agg(label, ', ' ORDER BY at) AS visible FROM public.timed WHERE label <> 'bulk';
ROLLBACK;
BEGIN; SET LOCAL ROLE regress_ks_owner; SELECT pg_temp.place_edges('previous_1_hours');
SET LOCAL ROLE regress_ks_app; SELECT ak_use_key(token) IS NOT NULL FROM relative_keys WHERE timeframe = 'previous_1_hours';
SELECT 'previous_1_hours' AS timeframe, string_agg(label, ', ' ORDER BY at) AS visible FROM public.timed WHERE label <> 'bulk';
ROLLBACK;
BEGIN; SET LOCAL ROLE regress_ks_owner; SELECT pg_temp.place_edges('this_1_days');
SET LOCAL ROLE regress_ks_app; SELECT ak_use_key(token) IS NOT NULL FROM relative_keys WHERE timeframe = 'this_1_days';
SELECT 'this_1_days' AS timeframe, string_agg(label, ', ' ORDER BY at) AS visible FROM public.timed WHERE label <> 'bulk';
ROLLBACK;
BEGIN; SET LOCAL ROLE regress_ks_owner; SELECT pg_temp.place_edges('previous_1_weeks');
SET LOCAL ROLE regress_ks_app; SELECT ak_use_key(token) IS NOT NULL FROM relative_keys WHERE timeframe = 'previous_1_weeks';
SELECT 'previous_1_weeks' AS timeframe, string_agg(label, ', ' ORDER BY at) AS visible FROM public.timed WHERE label <> 'bulk';
SELECT extract(isodow FROM ak_timeframe_earliest('public.timed')) AS week_starts_on_isodow;
ROLLBACK;
BEGIN; SET LOCAL ROLE regress_ks_owner; SELECT pg_temp.place_edges('previous_2_months');
SET LOCAL ROLE regress_ks_app; SELECT ak_use_key(token) IS NOT NULL FROM relative_keys WHERE timeframe = 'previous_2_months';
SELECT 'previous_2_months' AS timeframe, string_agg(label, ', ' ORDER BY at) AS visible FROM public.timed WHERE label <> 'bulk';
ROLLBACK;
BEGIN; SET LOCAL ROLE regress_ks_owner; SELECT pg_temp.place_edges('this_2_years');
SET LOCAL ROLE regress_ks_app; SELECT ak_use_key(token) IS NOT NULL FROM relative_keys WHERE timeframe = 'this_2_years';
SELECT 'this_2_years' AS timeframe, string_agg(label, ', ' ORDER BY at) AS visible FROM public.timed WHERE label <> 'bulk';
ROLLBACK;

-- A prepared statement executed across a moving bound: an event one second
-- after the first transaction's start is outside "this_1_days" in that
-- transaction and inside in a transaction that starts later.
SET ROLE regress_ks_app;
SET plan_cache_mode = force_generic_plan;
PREPARE future_events AS SELECT count(*) FROM public.timed WHERE label = 'future';
BEGIN;
SET LOCAL ROLE regress_ks_owner;
INSERT INTO public.timed (label, at) VALUES ('future', now() + interval '1 second');
SET LOCAL ROLE regress_ks_app;
SELECT ak_use_key(token) IS NOT NULL FROM relative_keys WHERE timeframe = 'this_1_days';
EXECUTE future_events;
COMMIT;
SELECT pg_sleep(1.1);
BEGIN;
SELECT ak_use_key(token) IS NOT NULL FROM relative_keys WHERE timeframe = 'this_1_days';
EXECUTE future_events;
COMMIT;
RESET plan_cache_mode;
RESET ROLE;
DELETE FROM public.timed WHERE label = 'future';

------------------------------------------------------------------------------
-- Timeframes on the keen.timestamp property (no time column)
------------------------------------------------------------------------------

SET ROLE regress_ks_owner;
CREATE TABLE public.keen_events (properties jsonb NOT NULL);
INSERT INTO public.keen_events VALUES
    ('{"n": 1, "keen": {"timestamp": "2024-01-01T23:59:59.999999Z"}, "early": true}'),
    ('{"n": 2, "keen": {"timestamp": "2024-01-02T00:00:00Z"}}'),
    ('{"n": 3, "keen": {"timestamp": "2024-01-02T05:00:00+05:00"}}'),
    ('{"n": 4, "keen": {"timestamp": "2024-01-02"}}'),
    ('{"n": 5, "keen": {"timestamp": "2024-01-02 23:59:59.999999"}}'),
    ('{"n": 6, "keen": {"timestamp": "2024-01-03"}}'),
    ('{"n": 7, "keen": {"timestamp": "yesterday"}}'),
    ('{"n": 8, "keen": {"timestamp": 1704153600}}'),
    ('{"n": 9, "keen": "2024-01-02"}'),
    ('{"n": 10}'),
    ('[1, 2]');
SELECT ak_protect('public.keen_events');
GRANT SELECT ON public.keen_events TO regress_ks_app;
SET ROLE regress_ks_app;
BEGIN; SELECT ak_use_key(:'k_day') IS NOT NULL;
SELECT string_agg(properties ->> 'n', ', ' ORDER BY (properties ->> 'n')::int) AS on_2024_01_02 FROM public.keen_events;
ROLLBACK;
BEGIN; SELECT ak_use_key(:'k_any') IS NOT NULL;
SELECT count(*) AS without_timeframe FROM public.keen_events;
ROLLBACK;
RESET ROLE;
SELECT pg_temp.new_key('{"name": "schema on 2024-01-02", "permitted": ["queries", "schema"],
    "options": {"queries": {"timeframe": {"start": "2024-01-02", "end": "2024-01-03"}}}}') AS k_day_schema \gset
SET ROLE regress_ks_app;
-- ak_schema samples only the rows the key can see: "early" is not among them.
BEGIN; SELECT ak_use_key(:'k_day_schema') IS NOT NULL;
SELECT * FROM ak_schema('public.keen_events');
ROLLBACK;
-- On a collection with a time column, the column decides, not keen.timestamp.
BEGIN; SELECT ak_use_key(:'k_day') IS NOT NULL;
SELECT label FROM public.timed WHERE properties ? 'keen';
ROLLBACK;

-- Clean up.
RESET ROLE;
DROP TABLE public.pageviews, public.purchases, ks_data."Secret Events", public.timed, public.keen_events CASCADE;
DROP SCHEMA ks_data;
DELETE FROM access_key.saved_queries;
DELETE FROM access_key.datasets;
DELETE FROM access_key.keys;
REVOKE CREATE ON SCHEMA public FROM regress_ks_owner;
DROP OWNED BY regress_ks_owner, regress_ks_app;
DROP ROLE regress_ks_owner, regress_ks_app;
