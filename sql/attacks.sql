-- Attacks on the merged features (key lifecycle, narrower keys, operations,
-- setup checks), each written as a test that it fails: a tenant holding a
-- valid key in a role that owns nothing, a tenant whose key permits "keys",
-- and a careless admin.
SET search_path = access_key, public;
SET timezone = 'UTC';
CREATE ROLE regress_atk_owner;
CREATE ROLE regress_atk_app;
GRANT CREATE ON SCHEMA public TO regress_atk_owner;
GRANT EXECUTE ON FUNCTION ak_protect(regclass, name, name), ak_unprotect(regclass) TO regress_atk_owner;
-- A foreign-data wrapper without a handler: foreign tables can be created, never read.
CREATE FOREIGN DATA WRAPPER regress_atk_fdw;
CREATE SERVER regress_atk_server FOREIGN DATA WRAPPER regress_atk_fdw;
GRANT USAGE ON FOREIGN SERVER regress_atk_server TO regress_atk_owner;

SET ROLE regress_atk_owner;
CREATE TABLE public.atk (at timestamptz NOT NULL, properties jsonb NOT NULL DEFAULT '{}',
                         extra jsonb NOT NULL DEFAULT '{}') PARTITION BY RANGE (at);
CREATE TABLE public.atk_2024 PARTITION OF public.atk FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
INSERT INTO public.atk (at, properties) VALUES ('2024-03-01', '{"customer": {"id": "ada"}}'),
                                                ('2024-03-02', '{"customer": {"id": "bob"}}');
SELECT ak_protect('public.atk', timestamp_column => 'at');
GRANT SELECT, INSERT ON public.atk, public.atk_2024 TO regress_atk_app;
RESET ROLE;
SELECT key AS ada FROM ak_create_key('{"name": "ada", "permitted": ["queries", "writes"], "options": {
    "writes": {"autofill": {"customer": {"id": "ada"}}},
    "queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "ada"}]}}}') \gset
SELECT key AS bob FROM ak_create_key('{"name": "bob", "permitted": ["queries"], "options": {
    "queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "bob"}]}}}') \gset

------------------------------------------------------------------------------
-- A foreign table in a protected tree.  Row-level security cannot be enabled
-- on a foreign table, and it would have no autofill trigger: rows a tenant
-- routes to it through the root would keep the customer.id the tenant wrote
-- (another tenant's), and reading it directly would show every row.  So no
-- way of putting one there is accepted.
------------------------------------------------------------------------------

SET ROLE regress_atk_owner;
-- CREATE FOREIGN TABLE ... PARTITION OF (the event trigger fires for it too).
CREATE FOREIGN TABLE public.atk_2023 PARTITION OF public.atk FOR VALUES FROM ('2023-01-01') TO ('2024-01-01')
    SERVER regress_atk_server;
SELECT count(*) AS foreign_partitions FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
WHERE i.inhparent = 'public.atk'::regclass AND c.relkind = 'f';
-- ATTACH PARTITION of a foreign table.
CREATE FOREIGN TABLE public.atk_2022 (at timestamptz NOT NULL, properties jsonb NOT NULL, extra jsonb NOT NULL)
    SERVER regress_atk_server;
ALTER TABLE public.atk ATTACH PARTITION public.atk_2022 FOR VALUES FROM ('2022-01-01') TO ('2023-01-01');
-- ak_protect of a tree that already has one.
CREATE TABLE public.atk_mixed (at timestamptz NOT NULL, properties jsonb NOT NULL, extra jsonb NOT NULL)
    PARTITION BY RANGE (at);
ALTER TABLE public.atk_mixed ATTACH PARTITION public.atk_2022 FOR VALUES FROM ('2022-01-01') TO ('2023-01-01');
SELECT ak_protect('public.atk_mixed');
DROP TABLE public.atk_mixed;
RESET ROLE;
SELECT count(*) AS registered FROM access_key.collections WHERE collection::text LIKE 'atk%';

------------------------------------------------------------------------------
-- A protected collection of its own attached to a protected tree (an archived
-- partition put back, say) is adopted by the tree: it counts as the root, its
-- SELECT policy names the root, and its autofill writes the root's properties
-- column.  Left as it was, its autofill would write its own properties column
-- (here "extra"), and a tenant writing through the root could give another
-- tenant rows that the root's policy, reading "properties", shows to them.
------------------------------------------------------------------------------

SET ROLE regress_atk_owner;
CREATE TABLE public.atk_2025 (at timestamptz NOT NULL, properties jsonb NOT NULL DEFAULT '{}',
                              extra jsonb NOT NULL DEFAULT '{}');
SELECT ak_protect('public.atk_2025', 'extra');
ALTER TABLE public.atk ATTACH PARTITION public.atk_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
GRANT SELECT, INSERT ON public.atk_2025 TO regress_atk_app;
RESET ROLE;
SELECT collection, properties_column, timestamp_column FROM access_key.collections
WHERE collection::text LIKE 'atk%' ORDER BY 1::text;
SELECT polname, pg_get_expr(polqual, polrelid) FROM pg_policy
WHERE polrelid = 'public.atk_2025'::regclass AND polname = 'access_key_select';
SELECT tgname, tgargs FROM pg_trigger WHERE tgrelid = 'public.atk_2025'::regclass AND tgname = 'access_key_autofill';
SET ROLE regress_atk_app;
BEGIN;
SELECT ak_use_key(:'ada') IS NOT NULL AS ada;
INSERT INTO public.atk (at, properties) VALUES ('2025-02-01', '{"customer": {"id": "bob"}, "planted": true}');
INSERT INTO public.atk_2025 (at, properties) VALUES ('2025-02-02', '{"customer": {"id": "bob"}, "planted": true}');
COMMIT;
-- Bob sees no row planted by Ada; Ada sees hers, stamped with her customer.id.
BEGIN;
SELECT ak_use_key(:'bob') IS NOT NULL AS bob;
SELECT count(*) AS planted_for_bob FROM public.atk WHERE properties ? 'planted';
SELECT count(*) AS planted_for_bob_direct FROM public.atk_2025 WHERE properties ? 'planted';
COMMIT;
BEGIN;
SELECT ak_use_key(:'ada') IS NOT NULL AS ada;
SELECT at::date, properties FROM public.atk WHERE properties ? 'planted' ORDER BY at;
COMMIT;
RESET ROLE;
-- A protected partitioned collection is adopted with its partitions: their
-- policies name the new root, and bring its time column (without the
-- ak_in_timeframe conjunct, a key's timeframe would not bind direct reads).
SET ROLE regress_atk_owner;
CREATE TABLE public.atk_2026 (at timestamptz NOT NULL, properties jsonb NOT NULL DEFAULT '{}',
                              extra jsonb NOT NULL DEFAULT '{}') PARTITION BY RANGE (at);
CREATE TABLE public.atk_2026_h1 PARTITION OF public.atk_2026 FOR VALUES FROM ('2026-01-01') TO ('2026-07-01');
SELECT ak_protect('public.atk_2026');
ALTER TABLE public.atk ATTACH PARTITION public.atk_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
RESET ROLE;
SELECT c.relname, pg_get_expr(p.polqual, p.polrelid) FROM pg_policy AS p JOIN pg_class AS c ON c.oid = p.polrelid
WHERE c.relname LIKE 'atk_2026%' AND p.polname = 'access_key_select' ORDER BY 1;
SELECT count(*) AS registered FROM access_key.collections WHERE collection::text LIKE 'atk_2026%';
SET ROLE regress_atk_owner;
DROP TABLE public.atk_2026;
RESET ROLE;
-- Detached (here CONCURRENTLY, in two transactions), it is a collection of
-- its own again, naming itself; attached again, adopted again; ak_unprotect
-- of the tree then leaves nothing registered.
SET ROLE regress_atk_owner;
ALTER TABLE public.atk DETACH PARTITION public.atk_2025 CONCURRENTLY;
RESET ROLE;
SELECT polname, pg_get_expr(polqual, polrelid) FROM pg_policy
WHERE polrelid = 'public.atk_2025'::regclass AND polname = 'access_key_select';
SELECT collection, properties_column FROM access_key.collections WHERE collection::text LIKE 'atk%' ORDER BY 1::text;
SET ROLE regress_atk_owner;
ALTER TABLE public.atk ATTACH PARTITION public.atk_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
RESET ROLE;
SELECT collection, properties_column FROM access_key.collections WHERE collection::text LIKE 'atk%' ORDER BY 1::text;
SET ROLE regress_atk_owner;
SELECT ak_unprotect('public.atk');
RESET ROLE;
SELECT count(*) AS registered FROM access_key.collections WHERE collection::text LIKE 'atk%';
SELECT c.relname, c.relrowsecurity AS rls, (SELECT count(*) FROM pg_policy AS p WHERE p.polrelid = c.oid) AS policies
FROM pg_class AS c WHERE c.relname LIKE 'atk%' AND c.relkind IN ('r', 'p') ORDER BY 1;
SET ROLE regress_atk_owner;
SELECT ak_protect('public.atk', timestamp_column => 'at');
RESET ROLE;

-- The event trigger runs with the search_path of the DDL it follows: an
-- operator "=" placed before pg_catalog's there must not make it skip the
-- commands it protects partitions for.
CREATE SCHEMA regress_atk_shadow;
CREATE FUNCTION regress_atk_shadow.never(text, text) RETURNS boolean LANGUAGE sql AS 'SELECT false';
CREATE OPERATOR regress_atk_shadow.= (LEFTARG = text, RIGHTARG = text, FUNCTION = regress_atk_shadow.never);
GRANT USAGE ON SCHEMA regress_atk_shadow TO regress_atk_owner;
SET ROLE regress_atk_owner;
SET search_path = regress_atk_shadow, pg_catalog;
CREATE TABLE public.atk_2027 PARTITION OF public.atk FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
SET search_path = access_key, public;
RESET ROLE;
SELECT c.relrowsecurity AS rls, (SELECT count(*) FROM pg_policy AS p WHERE p.polrelid = c.oid) AS policies,
       (SELECT count(*) FROM pg_trigger AS t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal) AS triggers
FROM pg_class AS c WHERE c.oid = 'public.atk_2027'::regclass;
DROP TABLE public.atk_2027;
DROP SCHEMA regress_atk_shadow CASCADE;

------------------------------------------------------------------------------
-- ak_check_setup sees protection that was taken off behind the extension's
-- back: a foreign table in the tree (made while the event trigger was
-- disabled), row-level security disabled on a partition, the autofill
-- trigger disabled or set to fire only for replicas.
------------------------------------------------------------------------------

SELECT * FROM ak_check_setup('regress_atk_app') WHERE severity = 'critical';
ALTER EVENT TRIGGER access_key_collection_changed DISABLE;
SET ROLE regress_atk_owner;
CREATE FOREIGN TABLE public.atk_2023 PARTITION OF public.atk FOR VALUES FROM ('2023-01-01') TO ('2024-01-01')
    SERVER regress_atk_server;
ALTER TABLE public.atk_2024 DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.atk_2024 DISABLE TRIGGER access_key_autofill;
ALTER TABLE public.atk_2025 ENABLE REPLICA TRIGGER access_key_autofill;
RESET ROLE;
ALTER EVENT TRIGGER access_key_collection_changed ENABLE ALWAYS;
SELECT * FROM ak_check_setup('regress_atk_app') WHERE severity = 'critical';
-- What the findings are about: Ada writes Bob's customer.id into atk_2024,
-- and a keyed read of atk_2024 shows every tenant's rows.
SET ROLE regress_atk_app;
BEGIN;
SELECT ak_use_key(:'ada') IS NOT NULL AS ada;
INSERT INTO public.atk (at, properties) VALUES ('2024-05-01', '{"customer": {"id": "bob"}, "planted": true}');
SELECT properties #>> '{customer,id}' AS customer FROM public.atk_2024 ORDER BY at;
ROLLBACK;
RESET ROLE;
-- The fixes it gives take the findings away.
SET ROLE regress_atk_owner;
ALTER TABLE public.atk DETACH PARTITION public.atk_2023;
ALTER TABLE public.atk_2024 ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.atk_2024 ENABLE TRIGGER access_key_autofill;
ALTER TABLE public.atk_2025 ENABLE TRIGGER access_key_autofill;
DROP FOREIGN TABLE public.atk_2023;
RESET ROLE;
SELECT count(*) AS critical FROM ak_check_setup('regress_atk_app') WHERE severity = 'critical';
-- A dropped autofill trigger: the fix protects the collection again.
SET ROLE regress_atk_owner;
DROP TRIGGER access_key_autofill ON public.atk_2025;
RESET ROLE;
SELECT object, fix FROM ak_check_setup('regress_atk_app') WHERE severity = 'critical';
SET ROLE regress_atk_owner;
SELECT ak_unprotect('public.atk');
SELECT ak_protect('public.atk', 'properties', 'at');
RESET ROLE;
SELECT count(*) AS critical FROM ak_check_setup('regress_atk_app') WHERE severity = 'critical';

-- A schema the role may create objects in: what it creates there can take
-- the place of what unqualified SQL names, including a function or operator
-- that a stored query calls, which would then run as the query's owner on
-- every refresh (a count(jsonb) aggregate of the tenant's own shadows
-- pg_catalog's count("any") in "SELECT count(properties) ...").
GRANT CREATE ON SCHEMA public TO regress_atk_app;
SELECT severity, object, problem FROM ak_check_setup('regress_atk_app') WHERE object LIKE 'schema %';
SET search_path = public;
SELECT access_key.ak_create_saved_query('atk_counts', 'SELECT count(properties) AS n FROM atk', '1 hour');
SET search_path = access_key, public;
SELECT severity, object, problem, fix FROM ak_check_setup('regress_atk_app') WHERE object LIKE 'schema %';
REVOKE CREATE ON SCHEMA public FROM regress_atk_app;
SELECT count(*) AS schema_findings FROM ak_check_setup('regress_atk_app') WHERE object LIKE 'schema %';
SELECT ak_delete_saved_query('atk_counts');

------------------------------------------------------------------------------
-- A tenant holding a valid key, in a role that owns nothing
------------------------------------------------------------------------------

SET ROLE regress_atk_owner;
CREATE TABLE public.atk_other (properties jsonb NOT NULL);
INSERT INTO public.atk_other VALUES ('{"customer": {"id": "bob"}, "secret": 1}');
SELECT ak_protect('public.atk_other');
GRANT SELECT, INSERT ON public.atk_other TO regress_atk_app;
INSERT INTO public.atk (at, properties) VALUES ('2025-03-01', '{"customer": {"id": "ada"}}'),
                                                ('2025-09-01', '{"customer": {"id": "ada"}}');
-- Batch ingest writes the properties column; the others get their defaults.
ALTER TABLE public.atk ALTER COLUMN at SET DEFAULT '2025-04-01';
RESET ROLE;
-- Keys limited to public.atk, each with its own timeframe; one that writes only public.atk_other.
SELECT key AS h1 FROM ak_create_key('{"name": "h1", "permitted": ["queries", "writes", "saved_queries", "datasets", "keys"], "options": {
    "writes": {"autofill": {"customer": {"id": "ada"}}, "collections": ["public.atk"]},
    "queries": {"collections": ["public.atk"], "timeframe": {"start": "2024-01-01", "end": "2025-07-01"},
                "filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "ada"}]},
    "saved_queries": {"blocked": ["secret_query"]},
    "datasets": {"blocked": ["secret_dataset"]}}}') \gset
SELECT key AS h2 FROM ak_create_key('{"name": "h2", "permitted": ["queries"], "options": {
    "queries": {"collections": ["public.atk"], "timeframe": {"start": "2025-07-01", "end": "2026-01-01"},
                "filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "ada"}]}}}') \gset
SELECT key AS other_writer FROM ak_create_key('{"name": "other writer", "permitted": ["writes"], "options": {
    "writes": {"autofill": {"customer": {"id": "ada"}}, "collections": ["public.atk_other"]}}}') \gset

SET ROLE regress_atk_app;
-- A generic plan over the partitioned collection and over one partition,
-- executed under keys with different timeframes: each key its own rows.
SET plan_cache_mode = force_generic_plan;
PREPARE atk_days AS SELECT string_agg(at::date::text, ', ' ORDER BY at) FROM public.atk;
PREPARE atk_2025_days AS SELECT string_agg(at::date::text, ', ' ORDER BY at) FROM public.atk_2025;
BEGIN; SELECT ak_use_key(:'h1') IS NOT NULL AS h1; EXECUTE atk_days; EXECUTE atk_2025_days; COMMIT;
BEGIN; SELECT ak_use_key(:'h2') IS NOT NULL AS h2; EXECUTE atk_days; EXECUTE atk_2025_days; COMMIT;
BEGIN; SELECT ak_use_key(:'h1') IS NOT NULL AS h1; EXECUTE atk_days; COMMIT;
DEALLOCATE atk_days;
DEALLOCATE atk_2025_days;
RESET plan_cache_mode;
-- The other collection, through every way of reading it: refused, never rows.
BEGIN;
SELECT ak_use_key(:'h1') IS NOT NULL AS h1;
SAVEPOINT s;
SELECT count(*) FROM public.atk_other;
ROLLBACK TO s;
WITH o AS MATERIALIZED (SELECT * FROM public.atk_other) SELECT count(*) FROM o;
ROLLBACK TO s;
SELECT count(*) FROM public.atk AS a JOIN public.atk_other AS o ON true;
ROLLBACK TO s;
COPY (SELECT * FROM public.atk_other) TO STDOUT;
ROLLBACK TO s;
COPY public.atk_other TO STDOUT;
ROLLBACK TO s;
DECLARE c CURSOR FOR SELECT * FROM public.atk_other;
FETCH c;
ROLLBACK TO s;
SELECT ak_schema('public.atk_other');
ROLLBACK TO s;
CREATE TEMPORARY VIEW atk_other_invoker WITH (security_invoker) AS SELECT * FROM public.atk_other;
SELECT count(*) FROM atk_other_invoker;
ROLLBACK TO s;
CREATE TEMPORARY VIEW atk_other_owner AS SELECT * FROM public.atk_other;
SELECT count(*) FROM atk_other_owner;
ROLLBACK;
-- Writing outside its timeframe is allowed, reading the row back is not.
BEGIN;
SELECT ak_use_key(:'h1') IS NOT NULL AS h1;
INSERT INTO public.atk_2025 (at, properties) VALUES ('2025-08-01', '{}');
SAVEPOINT s;
INSERT INTO public.atk_2025 (at, properties) VALUES ('2025-08-02', '{}') RETURNING at;
ROLLBACK;

-- Batch ingest: a partition named directly counts as its collection, for
-- writes.collections too; other names are no collection, whatever shadows them.
BEGIN;
SELECT ak_use_key(:'other_writer') IS NOT NULL AS other_writer;
SELECT ak_record_events('{"public.atk_2025": [{}], "public.atk_other": [{"customer": {"id": "bob"}}]}');
SELECT ak_record_event('public.atk_2025', '{}');
ROLLBACK;
BEGIN;
SELECT ak_use_key(:'h1') IS NOT NULL AS h1;
SELECT ak_record_events('{"public.atk_2025": [{"customer": {"id": "bob"}, "via": "partition"}]}');
SELECT at::date, properties FROM public.atk_2025 WHERE properties ? 'via';
CREATE TEMPORARY TABLE atk_other (properties jsonb);
SAVEPOINT s;
SELECT ak_record_events('{"atk_other": [{}]}');
ROLLBACK TO s;
SELECT ak_record_events('{"pg_temp.atk_other": [{}]}');
ROLLBACK;

-- Subtransactions: a key presented, or a child derived, in a rolled-back
-- savepoint is gone with it.
BEGIN;
SAVEPOINT s;
SELECT ak_use_key(:'h1') IS NOT NULL AS h1;
ROLLBACK TO s;
SELECT ak_current_key_id() IS NULL AS no_key, count(*) AS rows FROM public.atk;
SELECT ak_use_key(:'h1') IS NOT NULL AS h1;
SAVEPOINT d;
SELECT key AS rolled_back_child FROM ak_derive_key('{"name": "gone", "permitted": ["queries"]}') \gset
ROLLBACK TO d;
COMMIT;
BEGIN;
SELECT set_config('access_key.key', :'rolled_back_child', true) IS NOT NULL;
SELECT ak_permits('queries');
ROLLBACK;

------------------------------------------------------------------------------
-- A tenant whose key permits "keys"
------------------------------------------------------------------------------

-- What the parent blocks, without an allowed list, a child cannot allow.
BEGIN;
SELECT ak_use_key(:'h1') IS NOT NULL AS h1;
SAVEPOINT s;
SELECT id FROM ak_derive_key('{"name": "x", "permitted": ["saved_queries"], "options": {"saved_queries": {"allowed": ["secret_query"]}}}');
ROLLBACK TO s;
SELECT id FROM ak_derive_key('{"name": "x", "permitted": ["datasets"], "options": {"datasets": {"allowed": {"secret_dataset": {}}}}}');
ROLLBACK TO s;
SELECT id FROM ak_derive_key('{"name": "x", "permitted": ["queries"], "options": {"queries": {"collections": ["public.atk_other"]}}}');
ROLLBACK TO s;
SELECT id FROM ak_derive_key('{"name": "x", "permitted": ["writes"], "options": {"writes": {"collections": ["public.atk_2025"]}}}');
ROLLBACK;
RESET ROLE;
-- A chain made circular behind the extension's back is refused at use.
SELECT id AS loop_a, key AS loop_a_key FROM ak_create_key('{"name": "loop a", "permitted": ["queries"]}') \gset
SELECT id AS loop_b FROM ak_create_key('{"name": "loop b", "permitted": ["queries"]}') \gset
UPDATE access_key.keys SET parent_id = CASE id WHEN :'loop_a'::uuid THEN :'loop_b'::uuid ELSE :'loop_a'::uuid END
WHERE id IN (:'loop_a', :'loop_b');
SET ROLE regress_atk_app;
BEGIN; SELECT ak_use_key(:'loop_a_key'); ROLLBACK;
RESET ROLE;
SELECT ak_delete_key(:'loop_a') AS deleted;
SELECT count(*) AS left_in_loop FROM access_key.keys WHERE id IN (:'loop_a', :'loop_b');
SET ROLE regress_atk_owner;
DROP TABLE public.atk_other;
RESET ROLE;

-- Clean up.
DROP TABLE public.atk;
DELETE FROM access_key.keys;
DROP SERVER regress_atk_server;
DROP FOREIGN DATA WRAPPER regress_atk_fdw;
REVOKE CREATE ON SCHEMA public FROM regress_atk_owner;
DROP OWNED BY regress_atk_owner, regress_atk_app;
DROP ROLE regress_atk_owner, regress_atk_app;
