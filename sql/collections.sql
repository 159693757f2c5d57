-- Protected event collections (docs/reference.md#protected-collections): row filters through RLS, autofill,
-- append-only, index use and plan safety — as non-superuser roles.
SET search_path = access_key, public;
CREATE ROLE regress_ak_owner;
CREATE ROLE regress_ak_app;
GRANT CREATE ON SCHEMA public TO regress_ak_owner;
GRANT EXECUTE ON FUNCTION ak_protect(regclass, name, name), ak_unprotect(regclass) TO regress_ak_owner;

SET ROLE regress_ak_owner;
CREATE TABLE public.events (
    id bigserial PRIMARY KEY,
    properties jsonb NOT NULL DEFAULT '{}'
);
-- Three tenants plus many others, nested properties.
INSERT INTO public.events (properties)
SELECT jsonb_build_object(
           'customer', jsonb_build_object('id', CASE WHEN i <= 30 THEN 'acme'
                                                     WHEN i <= 50 THEN 'globex'
                                                     WHEN i <= 60 THEN 'initech'
                                                     ELSE 'other' || (i % 300) END,
                                          'plan', CASE WHEN i % 2 = 0 THEN 'pro' ELSE 'free' END),
           'page', '/p/' || (i % 7),
           'amount', i)
FROM generate_series(1, 30000) AS i;
CREATE INDEX events_properties_idx ON public.events USING gin (properties jsonb_path_ops);
ANALYZE public.events;
SELECT ak_protect('public.events');
SELECT ak_protect('public.events');
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON public.events TO regress_ak_app;
GRANT USAGE ON SEQUENCE public.events_id_seq TO regress_ak_app;
RESET ROLE;

-- What ak_protect set up.
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'public.events'::regclass;
SELECT polname, polcmd, pg_get_expr(polqual, polrelid) AS using_expr,
       pg_get_expr(polwithcheck, polrelid) AS check_expr
FROM pg_policy WHERE polrelid = 'public.events'::regclass ORDER BY polname;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'public.events'::regclass ORDER BY tgname;

CREATE FUNCTION pg_temp.tenant_key(tenant text, permitted text) RETURNS text
LANGUAGE sql AS $$
    SELECT key FROM access_key.ak_create_key(format(
        '{"name": "%s", "permitted": %s,
          "options": {"queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "%s"}]},
                      "writes": {"autofill": {"customer": {"id": "%s", "name": "%s Inc."}}}}}',
        tenant, permitted, tenant, tenant, tenant)::access_key.access_key)
$$;
SELECT pg_temp.tenant_key('acme', '["queries", "writes"]') AS acme \gset
SELECT pg_temp.tenant_key('globex', '["queries", "writes"]') AS globex \gset
SELECT pg_temp.tenant_key('initech', '["queries"]') AS initech \gset
SELECT key AS pro_partners FROM ak_create_key('{"name": "pro partners", "permitted": ["queries"],
    "options": {"queries": {"filters": [
        {"property_name": "customer.id", "operator": "in", "property_value": ["acme", "globex"]},
        {"property_name": "customer.plan", "operator": "eq", "property_value": "pro"}]}}}') \gset
SELECT key AS writer_only FROM ak_create_key('{"name": "writer", "permitted": ["writes"]}') \gset
SELECT key AS everything FROM ak_create_key('{"name": "internal", "permitted": ["queries"]}') \gset

SET ROLE regress_ak_app;

-- No key: nothing visible (fail closed), nothing writable.
SELECT count(*) AS without_key FROM public.events;
INSERT INTO public.events (properties) VALUES ('{"customer": {"id": "acme"}}');

-- Each tenant sees only its own rows, without repeating the filter.
CREATE FUNCTION pg_temp.visible() RETURNS TABLE (customer text, events bigint)
LANGUAGE sql AS $$
    SELECT properties #>> '{customer,id}', count(*) FROM public.events GROUP BY 1 ORDER BY 1
$$;
BEGIN; SELECT ak_use_key(:'acme') IS NOT NULL AS acme; SELECT * FROM pg_temp.visible(); COMMIT;
BEGIN; SELECT ak_use_key(:'globex') IS NOT NULL AS globex; SELECT * FROM pg_temp.visible(); COMMIT;
BEGIN; SELECT ak_use_key(:'initech') IS NOT NULL AS initech; SELECT * FROM pg_temp.visible(); COMMIT;
BEGIN; SELECT ak_use_key(:'pro_partners') IS NOT NULL AS pro_partners; SELECT * FROM pg_temp.visible(); COMMIT;
-- A key without "queries" is refused (42501 naming the permission, not an
-- empty result); a key without filters sees everything.
BEGIN; SELECT ak_use_key(:'writer_only') IS NOT NULL AS writer_only; SELECT count(*) FROM public.events; COMMIT;
BEGIN; SELECT ak_use_key(:'everything') IS NOT NULL AS everything; SELECT count(*) FROM public.events; COMMIT;
-- A user's own WHERE only narrows further.
BEGIN;
SELECT ak_use_key(:'acme') IS NOT NULL;
SELECT count(*) FROM public.events WHERE properties @> '{"customer": {"id": "globex"}}';
SELECT count(*) FROM public.events WHERE properties #>> '{customer,plan}' = 'pro';
COMMIT;

-- The GIN index answers the key's filter: no sequential scan.
BEGIN;
SELECT ak_use_key(:'acme') IS NOT NULL;
EXPLAIN (COSTS OFF) SELECT count(*) FROM public.events;
EXPLAIN (COSTS OFF) SELECT * FROM public.events WHERE properties #>> '{page}' = '/p/1';
COMMIT;

-- Writes: autofill stamps the tenant, overriding a forged customer.id.
BEGIN;
SELECT ak_use_key(:'acme') IS NOT NULL;
INSERT INTO public.events (properties)
VALUES ('{"customer": {"id": "globex", "seat": 7}, "page": "/signup"}'),
       ('{"page": "/pricing"}')
RETURNING properties;
SELECT count(*) AS acme_now FROM public.events;
COMMIT;
BEGIN; SELECT ak_use_key(:'globex') IS NOT NULL; SELECT count(*) AS globex_unchanged FROM public.events; COMMIT;
-- A key without "writes" cannot insert, and is told which permission it lacks.
BEGIN;
SELECT ak_use_key(:'initech') IS NOT NULL;
INSERT INTO public.events (properties) VALUES ('{"page": "/x"}');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- A key with "writes" but not "queries" inserts but cannot read back, not
-- even with INSERT ... RETURNING.
BEGIN;
SELECT ak_use_key(:'writer_only') IS NOT NULL;
INSERT INTO public.events (properties) VALUES ('{"customer": {"id": "acme"}, "page": "/w"}');
SAVEPOINT before_returning;
INSERT INTO public.events (properties) VALUES ('{"page": "/r"}') RETURNING id;
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO before_returning;
SELECT count(*) FROM public.events;
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- Through an index scan the refusal is the same (the index condition checks first).
BEGIN;
SELECT ak_use_key(:'writer_only') IS NOT NULL;
SET LOCAL enable_seqscan = off;
SELECT count(*) FROM public.events WHERE properties @> '{"customer": {"id": "acme"}}';
ROLLBACK;
-- Without a key nothing changes: no rows (and inserts fail RLS, as shown above).
SELECT count(*) AS without_key FROM public.events;

-- Updates, deletes and truncation are impossible for keyed sessions.
BEGIN;
SELECT ak_use_key(:'acme') IS NOT NULL;
UPDATE public.events SET properties = '{}';
ROLLBACK;
BEGIN;
SELECT ak_use_key(:'acme') IS NOT NULL;
DELETE FROM public.events;
ROLLBACK;
BEGIN;
SELECT ak_use_key(:'acme') IS NOT NULL;
TRUNCATE public.events;
ROLLBACK;
-- Without a key, RLS still hides every row from UPDATE and DELETE.
UPDATE public.events SET properties = '{}';
DELETE FROM public.events;

-- Plans outlive keys: a prepared statement, a PL/pgSQL function and a
-- cursor each see the rows of the key in force when they run.
SET plan_cache_mode = force_generic_plan;
PREPARE count_events AS SELECT count(*) FROM public.events;
PREPARE customer_rows AS SELECT DISTINCT properties #>> '{customer,id}' AS customer FROM public.events ORDER BY 1;
CREATE FUNCTION pg_temp.count_events() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT count(*) FROM public.events);
END
$$;
BEGIN; SELECT ak_use_key(:'acme') IS NOT NULL AS acme;
EXECUTE count_events; EXECUTE customer_rows; SELECT pg_temp.count_events();
COMMIT;
BEGIN; SELECT ak_use_key(:'globex') IS NOT NULL AS globex;
EXECUTE count_events; EXECUTE customer_rows; SELECT pg_temp.count_events();
DECLARE c CURSOR FOR SELECT properties #>> '{customer,id}' AS customer FROM public.events;
FETCH 2 FROM c;
COMMIT;
-- Even within one transaction, switching keys switches rows.
BEGIN;
SELECT ak_use_key(:'initech') IS NOT NULL AS initech;
EXECUTE count_events;
SELECT ak_use_key(:'acme') IS NOT NULL AS acme;
EXECUTE count_events;
COMMIT;
EXECUTE count_events;
RESET plan_cache_mode;

-- Parallel workers get the key from the session's settings: same answers.
BEGIN;
SELECT ak_use_key(:'pro_partners') IS NOT NULL;
\i sql/include/parallel_setting.sql
SET LOCAL :parallel_setting = on;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL enable_bitmapscan = off;
SET LOCAL enable_indexscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM public.events;
SELECT * FROM pg_temp.visible();
SET LOCAL enable_bitmapscan = on;
EXPLAIN (COSTS OFF) SELECT count(*) FROM public.events;
SELECT * FROM pg_temp.visible();
COMMIT;

-- ak_filter_values: for policies written by hand on typed columns.
BEGIN; SELECT ak_use_key(:'pro_partners') IS NOT NULL;
SELECT ak_filter_values('customer.id') AS customer_ids, ak_filter_values('customer.plan') AS plans,
       ak_filter_values('page') AS page;
COMMIT;
SELECT ak_filter_values('customer.id') AS without_key;
-- Numbers are one value however they are written; several filters intersect.
RESET ROLE;
SELECT key AS numbers FROM ak_create_key('{"name": "numbers", "permitted": ["queries"],
    "options": {"queries": {"filters": [
        {"property_name": "amount", "operator": "in", "property_value": [1.0, 2, 3.50]},
        {"property_name": "amount", "operator": "in", "property_value": [1, 3.5, 4]}]}}}') \gset
SET ROLE regress_ak_app;
BEGIN; SELECT ak_use_key(:'numbers') IS NOT NULL; SELECT ak_filter_values('amount') AS amounts; COMMIT;
RESET ROLE;

-- The documented hand-written pattern on a typed column.
SET ROLE regress_ak_owner;
CREATE TABLE public.invoices (customer_id text NOT NULL, total numeric NOT NULL);
INSERT INTO public.invoices VALUES ('acme', 10), ('acme', 5), ('globex', 7), ('initech', 1);
ALTER TABLE public.invoices ENABLE ROW LEVEL SECURITY;
CREATE POLICY invoices_by_key ON public.invoices FOR SELECT
    USING (access_key.ak_permits('queries')
           AND customer_id = ANY (coalesce(access_key.ak_filter_values('customer.id'), ARRAY[customer_id])));
GRANT SELECT ON public.invoices TO regress_ak_app;
SET ROLE regress_ak_app;
BEGIN; SELECT ak_use_key(:'acme') IS NOT NULL; SELECT customer_id, sum(total) FROM public.invoices GROUP BY 1; COMMIT;
BEGIN; SELECT ak_use_key(:'pro_partners') IS NOT NULL; SELECT customer_id, sum(total) FROM public.invoices GROUP BY 1 ORDER BY 1; COMMIT;
SELECT count(*) AS invoices_without_key FROM public.invoices;

-- Owners are unaffected by RLS, with or without a key.
SET ROLE regress_ak_owner;
BEGIN; SELECT ak_use_key(:'acme') IS NOT NULL; SELECT count(*) AS owner_sees_all FROM public.events; ROLLBACK;

-- ak_protect refuses what it cannot protect, and only admins may call it.
CREATE TABLE public.typed (id int, properties json);
CREATE VIEW public.events_view AS SELECT * FROM public.events;
SELECT ak_protect('public.typed');
SELECT ak_protect('public.typed', 'nope');
SELECT ak_protect('public.events_view');
SELECT ak_unprotect('public.typed');
BEGIN; SELECT ak_use_key(:'acme') IS NOT NULL; SELECT ak_protect('public.typed', 'id'); ROLLBACK;
SET ROLE regress_ak_app;
SELECT ak_protect('public.typed');
-- A partitioned table is protected with its partitions (sql/partitions.sql); a partition alone is refused.
SET ROLE regress_ak_owner;
CREATE TABLE public.parted (properties jsonb) PARTITION BY LIST ((properties ->> 'k'));
CREATE TABLE public.parted_a PARTITION OF public.parted FOR VALUES IN ('a');
SELECT ak_protect('public.parted');
SELECT ak_protect('public.parted_a');
DROP TABLE public.parted;
RESET ROLE;

-- ak_unprotect leaves a table's own policies (and so RLS) in force.
SET ROLE regress_ak_owner;
CREATE TABLE public.with_policy (properties jsonb);
ALTER TABLE public.with_policy ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_policy ON public.with_policy USING (true);
SELECT ak_protect('public.with_policy');
SELECT ak_unprotect('public.with_policy');
SELECT relrowsecurity AS still_rls, (SELECT array_agg(polname) FROM pg_policy WHERE polrelid = 'public.with_policy'::regclass) AS policies
FROM pg_class WHERE oid = 'public.with_policy'::regclass;
DROP TABLE public.with_policy;
-- ak_unprotect undoes everything.
SELECT ak_unprotect('public.events');
SELECT relrowsecurity FROM pg_class WHERE oid = 'public.events'::regclass;
SELECT count(*) AS policies FROM pg_policy WHERE polrelid = 'public.events'::regclass;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'public.events'::regclass;
RESET ROLE;

-- Autofill merge rules (pure variant).
SELECT p AS properties, ak_autofill('{"name": "t", "options": {"writes": {"autofill":
           {"customer": {"id": "acme", "tier": {"level": 2}}, "source": "api"}}}}', p::jsonb) AS merged
FROM (VALUES ('{}'),
             ('{"page": "/x"}'),
             ('{"customer": {"id": "globex", "seat": 3}}'),
             ('{"customer": "acme"}'),
             ('{"customer": {"tier": 5}}'),
             ('{"customer": {"tier": {"level": 9, "since": 2020}}}'),
             ('{"source": ["a", "b"]}')) AS t(p);
SELECT ak_autofill('{"name": "t", "options": {"writes": {"autofill": {"a": 1}}}}', NULL) AS from_null,
       ak_autofill('{"name": "t"}', '{"b": 2}') AS no_autofill;
SELECT ak_autofill('{"name": "t", "options": {"writes": {"autofill": {"a": 1}}}}', '[1]');
SELECT ak_autofill('{"page": 1}') AS session_without_key;

-- Clean up.
DROP TABLE public.events, public.invoices, public.typed CASCADE;
DELETE FROM access_key.keys;
REVOKE CREATE ON SCHEMA public FROM regress_ak_owner;
DROP OWNED BY regress_ak_owner, regress_ak_app;
DROP ROLE regress_ak_owner, regress_ak_app;
