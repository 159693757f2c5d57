-- What row-level security cannot hide (docs/security.md, "What row-level
-- security cannot hide"): each claim there, shown as a keyed session of a
-- role that is not a superuser and does not own the collection.
SET search_path = public;
SET max_parallel_workers_per_gather = 0;
CREATE ROLE regress_rl_owner;
CREATE ROLE regress_rl_app;
GRANT CREATE ON SCHEMA public TO regress_rl_owner;
GRANT EXECUTE ON FUNCTION access_key.ak_protect(regclass, name, name) TO regress_rl_owner;

-- 10 events: 2 of acme's, 8 of globex's.  event_id is chosen by the tenant.
SET ROLE regress_rl_owner;
CREATE TABLE public.rl_events (
    id bigint GENERATED ALWAYS AS IDENTITY,
    event_id text NOT NULL,
    properties jsonb NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX rl_events_event_id ON public.rl_events (event_id);
INSERT INTO public.rl_events (event_id, properties)
SELECT 'e' || g, jsonb_build_object('customer', jsonb_build_object('id', CASE WHEN g IN (3, 7) THEN 'acme' ELSE 'globex' END))
FROM generate_series(1, 10) AS g;
SELECT access_key.ak_protect('public.rl_events');
GRANT SELECT, INSERT ON public.rl_events TO regress_rl_app;
ANALYZE public.rl_events;
RESET ROLE;
SELECT key AS acme FROM access_key.ak_create_key('{"name": "rl acme", "permitted": ["queries", "writes"],
    "options": {"queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "acme"}]},
                "writes": {"autofill": {"customer": {"id": "acme"}}}}}') \gset
SELECT key AS globex FROM access_key.ak_create_key('{"name": "rl globex", "permitted": ["queries", "writes"],
    "options": {"queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "globex"}]},
                "writes": {"autofill": {"customer": {"id": "globex"}}}}}') \gset

SET ROLE regress_rl_app;

------------------------------------------------------------------------------
-- 1. Row counts through EXPLAIN ANALYZE: "Rows Removed by Filter" counts the
--    rows the policy hid, other tenants' included.
------------------------------------------------------------------------------
BEGIN;
SELECT access_key.ak_use_key(:'acme') IS NOT NULL AS keyed;
SELECT count(*) FROM public.rl_events;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM public.rl_events;
-- Narrowed by an index condition of the tenant's choosing, it answers whether
-- a row exists: globex has an e5, nobody has an e55.
SET LOCAL enable_seqscan = off;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM public.rl_events WHERE event_id = 'e5';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM public.rl_events WHERE event_id = 'e55';
COMMIT;

------------------------------------------------------------------------------
-- 2. Existence through unique keys: a tenant-chosen value that another tenant
--    already used conflicts, although the row stays invisible.
------------------------------------------------------------------------------
BEGIN;
SELECT access_key.ak_use_key(:'acme') IS NOT NULL AS keyed;
SELECT count(*) FROM public.rl_events WHERE event_id = 'e5';
INSERT INTO public.rl_events (event_id) VALUES ('e5') ON CONFLICT DO NOTHING RETURNING event_id;
INSERT INTO public.rl_events (event_id) VALUES ('e55') ON CONFLICT DO NOTHING RETURNING event_id;
ROLLBACK;
-- Without ON CONFLICT the error says as much (its DETAIL, which would show the
-- key's value, is left out because row-level security applies).
BEGIN;
SELECT access_key.ak_use_key(:'acme') IS NOT NULL AS keyed;
INSERT INTO public.rl_events (event_id) VALUES ('e5');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
RESET ROLE;
-- A foreign key checks hidden rows too: a table of the tenant's that
-- references the collection accepts globex's id 5 and refuses a missing 55.
ALTER TABLE public.rl_events ADD CONSTRAINT rl_events_pkey PRIMARY KEY (id);
GRANT REFERENCES (id) ON public.rl_events TO regress_rl_app;
GRANT CREATE ON SCHEMA public TO regress_rl_app;
SET ROLE regress_rl_app;
CREATE TABLE public.rl_probe (event bigint REFERENCES public.rl_events (id));
BEGIN;
SELECT access_key.ak_use_key(:'acme') IS NOT NULL AS keyed;
INSERT INTO public.rl_probe VALUES (5);
SAVEPOINT probe;
\set VERBOSITY sqlstate
INSERT INTO public.rl_probe VALUES (55);
\set VERBOSITY default
ROLLBACK TO probe;
COMMIT;
DROP TABLE public.rl_probe;
RESET ROLE;
REVOKE CREATE ON SCHEMA public FROM regress_rl_app;
REVOKE REFERENCES (id) ON public.rl_events FROM regress_rl_app;
-- The mitigation: unique per tenant, with the tenant's value (stamped by
-- autofill, so a key cannot choose it) in the key.
DROP INDEX public.rl_events_event_id;
CREATE UNIQUE INDEX rl_events_tenant_event_id ON public.rl_events ((properties #>> '{customer,id}'), event_id);
SET ROLE regress_rl_app;
BEGIN;
SELECT access_key.ak_use_key(:'acme') IS NOT NULL AS keyed;
INSERT INTO public.rl_events (event_id) VALUES ('e5') ON CONFLICT DO NOTHING RETURNING event_id, properties;
-- acme's own duplicates still conflict.
INSERT INTO public.rl_events (event_id) VALUES ('e3') ON CONFLICT DO NOTHING RETURNING event_id;
ROLLBACK;

------------------------------------------------------------------------------
-- 3. Table-wide statistics: readable by any role, with or without a key.
------------------------------------------------------------------------------
BEGIN;
SELECT access_key.ak_use_key(:'acme') IS NOT NULL AS keyed;
SELECT count(*) AS visible FROM public.rl_events;
SELECT reltuples FROM pg_class WHERE oid = 'public.rl_events'::regclass;
-- (At least every tenant's 10 rows: the exact count depends on when statistics were flushed.)
SELECT n_live_tup >= 10 AS counts_every_tenant FROM pg_stat_user_tables WHERE relid = 'public.rl_events'::regclass;
-- The functions behind the statistics views are executable by PUBLIC too.
SELECT pg_stat_get_live_tuples('public.rl_events'::regclass) >= 10 AS live_tuples_every_tenant,
       pg_relation_size('public.rl_events') > 0 AS has_size;
-- pg_stats, by contrast, hides a table's column statistics from roles that
-- row-level security applies to.
SELECT count(*) AS column_statistics FROM pg_stats WHERE schemaname = 'public' AND tablename = 'rl_events';
-- Identifiers drawn from one sequence count everybody's inserts: acme's two
-- events are 3 and 7, so 4 others were written between them.
SELECT id FROM public.rl_events ORDER BY id;
COMMIT;

------------------------------------------------------------------------------
-- 4. Session state on a pooled connection.  One backend serves tenant acme,
--    then tenant globex, as a transaction pooler would hand it over.
------------------------------------------------------------------------------
-- acme's transaction leaves a prepared statement, a session setting and a
-- temporary table named like the collection.
BEGIN;
SELECT access_key.ak_use_key(:'acme') IS NOT NULL AS keyed;
PREPARE acme_report AS SELECT count(*) FROM public.rl_events WHERE event_id <> 'acme-secret-campaign';
SET app.tenant = 'acme';
CREATE TEMP TABLE rl_events (event_id text, properties jsonb);
COMMIT;
-- globex's transaction, on the same connection: it sees acme's statement text
-- and setting.  Running the statement uses globex's key, not acme's.
BEGIN;
SELECT access_key.ak_use_key(:'globex') IS NOT NULL AS keyed;
SELECT name, statement FROM pg_prepared_statements;
SELECT current_setting('app.tenant') AS tenant;
EXECUTE acme_report;
-- An unqualified name finds the temporary table first: globex's event goes there.
INSERT INTO rl_events (event_id, properties) VALUES ('g1', '{"card": "4111 1111 1111 1111"}');
COMMIT;
-- Back to acme, which reads globex's event.
BEGIN;
SELECT access_key.ak_use_key(:'acme') IS NOT NULL AS keyed;
SELECT event_id, properties FROM rl_events;
COMMIT;
-- With pg_temp last on the search_path, the unqualified name is the collection.
BEGIN;
SET LOCAL search_path = public, pg_temp;
SELECT access_key.ak_use_key(:'globex') IS NOT NULL AS keyed;
INSERT INTO rl_events (event_id) VALUES ('g2') RETURNING event_id, properties;
ROLLBACK;
-- A key presented for the session (not SET LOCAL) stays too.
BEGIN;
SELECT access_key.ak_use_key(:'acme', false) IS NOT NULL AS keyed;
COMMIT;
BEGIN;
SELECT count(*) AS rows_without_presenting_a_key FROM public.rl_events;
COMMIT;
-- DISCARD ALL (what a pooler's server_reset_query runs) clears all of it.  (It
-- also resets SET ROLE, which a pooled connection logged in as the role has
-- no need of.)
DISCARD ALL;
SET ROLE regress_rl_app;
SELECT count(*) AS prepared FROM pg_prepared_statements;
SELECT current_setting('app.tenant', true) AS tenant;
SELECT count(*) AS temporary_tables FROM pg_class WHERE relnamespace = pg_my_temp_schema();
SELECT access_key.ak_current_key_id() AS key_id;
SELECT count(*) FROM public.rl_events;
RESET ROLE;

-- Without TEMP on the database, the role cannot create the capturing table.
SELECT format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database()) \gexec
SET ROLE regress_rl_app;
\set VERBOSITY sqlstate
CREATE TEMP TABLE rl_events (event_id text, properties jsonb);
\set VERBOSITY default
RESET ROLE;
SELECT format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC', current_database()) \gexec

-- Clean up.
DROP TABLE public.rl_events;
SELECT access_key.ak_delete_key(id) FROM access_key.ak_list_keys() WHERE name LIKE 'rl %';
REVOKE CREATE ON SCHEMA public FROM regress_rl_owner;
REVOKE EXECUTE ON FUNCTION access_key.ak_protect(regclass, name, name) FROM regress_rl_owner;
DROP ROLE regress_rl_owner, regress_rl_app;
