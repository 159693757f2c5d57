-- Partitioned collections (docs/scaling.md#partitioned-collections): ak_protect on
-- a partitioned table protects it and every partition, present and future;
-- reading or writing a partition directly is as restricted as the parent.
SET search_path = access_key, public;
CREATE ROLE regress_pt_owner;
CREATE ROLE regress_pt_app;
GRANT CREATE ON SCHEMA public TO regress_pt_owner;
GRANT EXECUTE ON FUNCTION ak_protect(regclass, name, name), ak_unprotect(regclass) TO regress_pt_owner;

SET ROLE regress_pt_owner;
CREATE TABLE public.pt_events (at timestamptz NOT NULL, properties jsonb NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE public.pt_events_2026_01 PARTITION OF public.pt_events
    FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
INSERT INTO public.pt_events
SELECT '2026-01-10'::timestamptz + i * interval '1 hour', jsonb_build_object('customer', jsonb_build_object('id', c))
FROM unnest(ARRAY['a', 'b']) AS c, generate_series(1, 3) AS i;
SELECT ak_protect('public.pt_events');
-- Partitions made after ak_protect: created in the tree, attached, and a
-- partition that is itself partitioned.
CREATE TABLE public.pt_events_2026_02 PARTITION OF public.pt_events
    FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
CREATE TABLE public.pt_events_2026_03 (LIKE public.pt_events);
INSERT INTO public.pt_events_2026_03 VALUES ('2026-03-05', '{"customer": {"id": "b"}}');
ALTER TABLE public.pt_events ATTACH PARTITION public.pt_events_2026_03
    FOR VALUES FROM ('2026-03-01') TO ('2026-04-01');
CREATE TABLE public.pt_events_2026_04 PARTITION OF public.pt_events
    FOR VALUES FROM ('2026-04-01') TO ('2026-05-01') PARTITION BY RANGE (at);
CREATE TABLE public.pt_events_2026_04a PARTITION OF public.pt_events_2026_04
    FOR VALUES FROM ('2026-04-01') TO ('2026-04-16');
GRANT SELECT, INSERT, UPDATE, DELETE ON public.pt_events, public.pt_events_2026_01, public.pt_events_2026_02,
    public.pt_events_2026_03, public.pt_events_2026_04, public.pt_events_2026_04a TO regress_pt_app;
RESET ROLE;

-- Every table of the tree: RLS, the two policies naming the root, the
-- append-only trigger and the (cloned) autofill trigger; only the root is registered.
SELECT c.relname, c.relrowsecurity AS rls,
       (SELECT string_agg(p.polname || ': ' || pg_get_expr(coalesce(p.polqual, p.polwithcheck), p.polrelid), '; ' ORDER BY p.polname)
        FROM pg_policy AS p WHERE p.polrelid = c.oid) AS policies,
       (SELECT string_agg(t.tgname, ', ' ORDER BY t.tgname) FROM pg_trigger AS t
        WHERE t.tgrelid = c.oid AND NOT t.tgisinternal) AS triggers
FROM pg_class AS c WHERE c.relname LIKE 'pt_events%' AND c.relkind IN ('r', 'p') ORDER BY c.relname;
SELECT collection FROM access_key.collections;
-- A partition created while session_replication_role is replica is protected all the same: the event
-- triggers fire in every role (ENABLE ALWAYS), as the key tables' triggers do.
SET session_replication_role = replica;
CREATE TABLE public.pt_events_2026_05 PARTITION OF public.pt_events FOR VALUES FROM ('2026-05-01') TO ('2026-06-01');
RESET session_replication_role;
SELECT relrowsecurity AS rls, (SELECT count(*) FROM pg_policy WHERE polrelid = c.oid) AS policies
FROM pg_class AS c WHERE oid = 'public.pt_events_2026_05'::regclass;
DROP TABLE public.pt_events_2026_05;
-- A protected collection cannot join a tree that is not protected: reading through its root would show every row.
CREATE TABLE public.pt_open (at timestamptz NOT NULL, properties jsonb NOT NULL DEFAULT '{}') PARTITION BY RANGE (at);
CREATE TABLE public.pt_alone (LIKE public.pt_open);
SELECT ak_protect('public.pt_alone');
ALTER TABLE public.pt_open ATTACH PARTITION public.pt_alone FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
SELECT relispartition FROM pg_class WHERE oid = 'public.pt_alone'::regclass;
DROP TABLE public.pt_open, public.pt_alone;

SELECT key AS k_a FROM ak_create_key('{"name": "a", "permitted": ["writes", "queries"],
    "options": {"writes": {"autofill": {"customer": {"id": "a"}}},
                "queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "a"}]}}}') \gset
SELECT key AS k_reader FROM ak_create_key('{"name": "reader", "permitted": ["queries"],
    "options": {"queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "a"}]}}}') \gset

SET ROLE regress_pt_app;
BEGIN;
SELECT ak_use_key(:'k_a') IS NOT NULL AS keyed;
-- Writing through the parent or into a partition directly: autofilled.
INSERT INTO public.pt_events VALUES ('2026-02-03', '{"customer": {"id": "b"}, "via": "parent"}');
INSERT INTO public.pt_events_2026_03 VALUES ('2026-03-07', '{"customer": {"id": "b"}, "via": "partition"}');
INSERT INTO public.pt_events_2026_04a VALUES ('2026-04-02', '{"via": "sub-partition"}');
-- Reading the parent or a partition directly: only the key's rows.
SELECT tableoid::regclass AS part, properties FROM public.pt_events ORDER BY at;
SELECT count(*) AS direct_january FROM public.pt_events_2026_01;
SELECT count(*) AS direct_march FROM public.pt_events_2026_03;
-- Append-only on every partition.
SAVEPOINT s;
UPDATE public.pt_events_2026_01 SET properties = '{}';
ROLLBACK TO s;
DELETE FROM public.pt_events_2026_03;
ROLLBACK TO s;
DELETE FROM public.pt_events_2026_04a;
ROLLBACK;
-- A key without writes cannot write into a partition either.
BEGIN;
SELECT ak_use_key(:'k_reader') IS NOT NULL AS keyed;
INSERT INTO public.pt_events_2026_02 VALUES ('2026-02-05', '{}');
ROLLBACK;
-- Without a key, no rows from any partition.
SELECT count(*) AS no_key_parent FROM public.pt_events;
SELECT count(*) AS no_key_partition FROM public.pt_events_2026_01;

-- Partition pruning still works for keyed queries.
BEGIN;
SELECT ak_use_key(:'k_a') IS NOT NULL AS keyed;
EXPLAIN (COSTS OFF) SELECT count(*) FROM public.pt_events WHERE at >= '2026-03-01' AND at < '2026-03-08';
PREPARE pruned(timestamptz) AS SELECT count(*) FROM public.pt_events WHERE at >= $1 AND at < $1 + interval '1 day';
EXPLAIN (COSTS OFF) EXECUTE pruned('2026-01-10');
EXECUTE pruned('2026-01-10');
DEALLOCATE pruned;
ROLLBACK;
RESET ROLE;

-- A partition is protected with its tree, never alone.
SET ROLE regress_pt_owner;
SELECT ak_protect('public.pt_events_2026_01');
SELECT ak_unprotect('public.pt_events_2026_02');

-- A detached partition stays protected, as a collection of its own.
ALTER TABLE public.pt_events DETACH PARTITION public.pt_events_2026_01;
RESET ROLE;
SELECT collection, properties_column FROM access_key.collections ORDER BY collection::text;
SELECT polname, pg_get_expr(polqual, polrelid) FROM pg_policy
WHERE polrelid = 'public.pt_events_2026_01'::regclass ORDER BY polname;
SET ROLE regress_pt_app;
BEGIN;
SELECT ak_use_key(:'k_a') IS NOT NULL AS keyed;
SELECT count(*) AS detached_visible FROM public.pt_events_2026_01;
INSERT INTO public.pt_events_2026_01 VALUES ('2026-01-20', '{"customer": {"id": "b"}}');
SELECT properties FROM public.pt_events_2026_01 WHERE at = '2026-01-20';
ROLLBACK;
RESET ROLE;

-- ak_unprotect undoes it on every partition.
SET ROLE regress_pt_owner;
SELECT ak_unprotect('public.pt_events');
RESET ROLE;
SELECT c.relname, c.relrowsecurity AS rls,
       (SELECT count(*) FROM pg_policy AS p WHERE p.polrelid = c.oid) AS policies,
       (SELECT count(*) FROM pg_trigger AS t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal) AS triggers
FROM pg_class AS c WHERE c.relname LIKE 'pt_events%' AND c.relkind IN ('r', 'p') ORDER BY c.relname;
SET ROLE regress_pt_app;
SELECT count(*) AS unprotected_rows FROM public.pt_events;
RESET ROLE;
-- The event trigger refuses to be called otherwise.
SELECT access_key.ak_collection_changed();

-- Clean up.
DROP TABLE public.pt_events, public.pt_events_2026_01;
DELETE FROM access_key.keys;
REVOKE CREATE ON SCHEMA public FROM regress_pt_owner;
DROP OWNED BY regress_pt_owner, regress_pt_app;
DROP ROLE regress_pt_owner, regress_pt_app;
