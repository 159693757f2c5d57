-- Child keys (docs/reference.md#child-keys): a key with "keys" derives narrower
-- keys; a child never exceeds its parent, checked at every use from the stored
-- chain.  Run as non-superuser roles; the attacks of a hostile tenant holding a
-- valid key are written out as tests.
SET search_path = access_key, public;
SET timezone = 'UTC';
CREATE ROLE regress_ck_admin;
CREATE ROLE regress_ck_owner;
CREATE ROLE regress_ck_app;
GRANT EXECUTE ON FUNCTION ak_create_key(access_key, timestamptz), ak_get_key(uuid), ak_list_keys(text),
    ak_update_key(uuid, access_key), ak_revoke_key(uuid), ak_unrevoke_key(uuid), ak_delete_key(uuid),
    ak_effective_key(uuid), ak_narrow(access_key, access_key) TO regress_ck_admin;
GRANT CREATE ON SCHEMA public TO regress_ck_owner;
GRANT EXECUTE ON FUNCTION ak_protect(regclass, name, name), ak_create_saved_query(text, text, interval),
    ak_refresh_cached_queries(), ak_create_dataset(text, text, text[]), ak_refresh_dataset(text)
TO regress_ck_owner;

------------------------------------------------------------------------------
-- The combining rules, one at a time (ak_narrow(parent, child) is what
-- every use of a child key computes from its chain)
------------------------------------------------------------------------------

SET ROLE regress_ck_admin;
CREATE FUNCTION pg_temp.narrow(parent text, child text) RETURNS access_key LANGUAGE sql AS
    'SELECT access_key.ak_narrow(parent::access_key.access_key, child::access_key.access_key)';
-- Permissions intersect; both must be active; the name is the child's.
SELECT pg_temp.narrow('{"name": "p", "permitted": ["queries", "writes", "keys"]}',
                      '{"name": "c", "permitted": ["writes", "schema", "keys"]}');
SELECT pg_temp.narrow('{"name": "p", "is_active": false, "permitted": ["queries"]}', '{"name": "c", "permitted": ["queries"]}');
SELECT pg_temp.narrow('{"name": "p", "permitted": ["queries"]}', '{"name": "c", "is_active": false, "permitted": ["queries"]}');
-- Filters: the parent's, then the child's, in every context; a side without
-- filters adds none (so a parent without saved_queries filters does not lift the child's).
SELECT pg_temp.narrow(
    '{"name": "p", "options": {"queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "ada"}]}}}',
    '{"name": "c", "options": {"queries": {"filters": [{"property_name": "team", "operator": "eq", "property_value": "red"}]},
                               "saved_queries": {"filters": [{"property_name": "team", "operator": "eq", "property_value": "red"}]}}}');
SELECT pg_temp.narrow(
    '{"name": "p", "options": {"saved_queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "ada"}]}}}',
    '{"name": "c"}');
SELECT pg_temp.narrow(
    '{"name": "p", "options": {"queries": {"filters": [{"property_name": "a", "operator": "exists", "property_value": true}]}}}',
    '{"name": "c", "options": {"queries": {"filters": [{"operator": "or", "operands": [
        {"property_name": "a", "operator": "exists", "property_value": false},
        {"property_name": "b", "operator": "eq", "property_value": 1}]}]}}}');
-- Autofill: the child's deep-merged under the parent's; on a conflict the parent wins.
SELECT pg_temp.narrow(
    '{"name": "p", "options": {"writes": {"autofill": {"customer": {"id": "ada"}, "plan": "pro"}}}}',
    '{"name": "c", "options": {"writes": {"autofill": {"customer": {"id": "evil", "team": "red"}, "plan": {"x": 1}, "source": "app"}}}}');
SELECT pg_temp.narrow('{"name": "p", "options": {"writes": {"autofill": {"customer": "ada"}}}}',
                      '{"name": "c", "options": {"writes": {"autofill": {"customer": {"id": "evil"}}}}}');
-- allowed lists intersect, where an absent list means "all"; blocked lists unite.
SELECT pg_temp.narrow('{"name": "p", "options": {"saved_queries": {"allowed": ["q1", "q2"], "blocked": ["q3"]}}}',
                      '{"name": "c", "options": {"saved_queries": {"allowed": ["q2", "q4"], "blocked": ["q1"]}}}');
SELECT pg_temp.narrow('{"name": "p", "options": {"cached_queries": {"allowed": ["c1"]}}}', '{"name": "c"}');
SELECT pg_temp.narrow('{"name": "p"}', '{"name": "c", "options": {"cached_queries": {"allowed": ["c1"]}}}');
SELECT pg_temp.narrow('{"name": "p", "options": {"cached_queries": {"allowed": ["c1"]}}}',
                      '{"name": "c", "options": {"cached_queries": {"allowed": ["c2"]}}}');
-- Datasets: operations intersect; allowed datasets intersect, and so do the
-- index_by values of a property both restrict; a property only one restricts keeps its values.
SELECT pg_temp.narrow(
    '{"name": "p", "options": {"datasets": {"operations": ["read", "retrieve"],
        "allowed": {"d1": {"index_by": {"customer.id": ["ada", "bob"]}}, "d2": {}, "d3": {"index_by": {"region": ["eu"]}}},
        "blocked": ["d9"]}}}',
    '{"name": "c", "options": {"datasets": {"operations": ["list", "retrieve"],
        "allowed": {"d1": {"index_by": {"customer.id": ["bob", "cy"], "region": ["us"]}}, "d2": {"index_by": {"region": ["eu"]}},
                    "d3": {}, "d4": {}},
        "blocked": ["d8"]}}}');
SELECT pg_temp.narrow('{"name": "p", "options": {"datasets": {"allowed": {"d1": {"index_by": {"k": [1, "1"]}}}}}}',
                      '{"name": "c", "options": {"datasets": {"allowed": {"d1": {"index_by": {"k": [1.0, 2]}}}}}}');
-- Collections intersect (absent: all); timeframes all apply.
SELECT pg_temp.narrow(
    '{"name": "p", "options": {"queries": {"collections": ["public.a", "public.b"], "timeframe": "this_30_days"},
                               "writes": {"collections": ["public.a"]}}}',
    '{"name": "c", "options": {"queries": {"collections": ["public.b", "public.c"],
                                           "timeframe": [{"start": "2024-01-01", "end": "2025-01-01"}, "previous_6_hours"]}}}');
SELECT pg_temp.narrow('{"name": "p"}', '{"name": "c", "options": {"queries": {"collections": [], "timeframe": "this_1_days"}}}');
-- Narrowing twice by the same definition changes nothing more.
SELECT pg_temp.narrow(pg_temp.narrow(d, d)::text, d) = pg_temp.narrow(d, d) AS idempotent
FROM (VALUES ('{"name": "p", "permitted": ["queries"], "options": {"queries": {"collections": ["public.a"]},
              "datasets": {"allowed": {"d1": {"index_by": {"k": [1]}}}}, "saved_queries": {"blocked": ["q"]}}}')) AS t(d);
RESET ROLE;
-- ak_narrow is an admin function.
SET ROLE regress_ck_app;
SELECT ak_narrow('{"name": "p"}', '{"name": "c"}');
RESET ROLE;

------------------------------------------------------------------------------
-- A customer admin's key, and what a derived key can and cannot get
------------------------------------------------------------------------------

SET ROLE regress_ck_owner;
CREATE TABLE public.events (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT '2024-06-01',
                            properties jsonb NOT NULL DEFAULT '{}');
CREATE TABLE public.audit (id bigserial PRIMARY KEY, properties jsonb NOT NULL DEFAULT '{}');
INSERT INTO public.events (at, properties)
SELECT timestamptz '2023-12-31' + make_interval(days => i % 4),
       jsonb_build_object('customer', jsonb_build_object('id', c), 'team', t, 'n', i)
FROM generate_series(1, 48) AS i,
     LATERAL (SELECT (ARRAY['ada', 'bob'])[1 + i % 2] AS c, (ARRAY['red', 'blue', 'green'])[1 + i % 3] AS t) AS x;
INSERT INTO public.audit (properties) VALUES ('{"customer": {"id": "ada"}}');
SELECT ak_protect('public.events', timestamp_column => 'at'), ak_protect('public.audit');
GRANT SELECT, INSERT ON public.events, public.audit TO regress_ck_app;
GRANT USAGE ON SEQUENCE public.events_id_seq, public.audit_id_seq TO regress_ck_app;
SELECT ak_create_saved_query('team_counts', 'SELECT properties ->> ''team'' AS team, count(*) AS n FROM events GROUP BY 1 ORDER BY 1');
SELECT ak_create_saved_query('all_counts', 'SELECT count(*) AS n FROM events');
SELECT ak_create_saved_query('secret', 'SELECT 1 AS one');
SELECT ak_create_saved_query('totals', 'SELECT count(*) AS n FROM events', '1 hour');
SELECT ak_refresh_cached_queries() AS refreshed;
SELECT ak_create_dataset('by_customer', 'SELECT properties #>> ''{customer,id}'' AS "customer.id", count(*) AS n FROM events GROUP BY 1',
                         ARRAY['customer.id']);
SELECT ak_create_dataset('by_team', 'SELECT properties ->> ''team'' AS team, count(*) AS n FROM events GROUP BY 1', ARRAY['team']);
SELECT ak_refresh_dataset('by_customer'), ak_refresh_dataset('by_team');
RESET ROLE;

SET ROLE regress_ck_admin;
-- Ada Corp's admin key: only Ada's events of 2024, in public.events; it may derive keys.
SELECT id AS ada_id, key AS ada FROM ak_create_key('{"name": "Ada Corp admin",
    "permitted": ["queries", "writes", "saved_queries", "cached_queries", "datasets", "keys"],
    "options": {
        "writes": {"autofill": {"customer": {"id": "ada"}}, "collections": ["public.events"]},
        "queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "ada"}],
                    "collections": ["public.events"],
                    "timeframe": {"start": "2024-01-01T00:00:00Z", "end": "2025-01-01T00:00:00Z"}},
        "saved_queries": {"allowed": ["team_counts", "all_counts"], "blocked": ["secret"],
                          "filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "ada"}]},
        "cached_queries": {"allowed": ["totals"]},
        "datasets": {"operations": ["read", "retrieve"],
                     "allowed": {"by_customer": {"index_by": {"customer.id": ["ada"]}}, "by_team": {}}}}}',
    '2999-01-01 00:00:00+00') \gset
-- A key without "keys".
SELECT key AS plain FROM ak_create_key('{"name": "plain", "permitted": ["queries"]}') \gset
RESET ROLE;

SET ROLE regress_ck_app;
CREATE FUNCTION pg_temp.try(token text, call text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    result text;
    detail text;
BEGIN
    PERFORM access_key.ak_use_key(token);
    EXECUTE call INTO result;
    RETURN coalesce(result, 'ok');
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ': ' || SQLERRM || coalesce(' (' || nullif(detail, '') || ')', '');
END
$$;
-- Deriving needs a key, with "keys".
SELECT * FROM ak_derive_key('{"name": "x"}');
BEGIN; SELECT ak_use_key(:'plain') IS NOT NULL;
SELECT * FROM ak_derive_key('{"name": "x"}');
ROLLBACK;

-- Escalation attempts: each asks for something the parent does not have, and
-- is refused when it is made, with a detail naming what was asked for.
BEGIN; SELECT ak_use_key(:'ada') IS NOT NULL;
SAVEPOINT s;
SELECT id FROM ak_derive_key('{"name": "x", "permitted": ["queries", "schema"]}');
ROLLBACK TO s;
SELECT id FROM ak_derive_key('{"name": "x", "permitted": ["queries"], "options": {"queries": {"collections": ["public.audit"]}}}');
ROLLBACK TO s;
SELECT id FROM ak_derive_key('{"name": "x", "permitted": ["writes"], "options": {"writes": {"collections": ["public.events", "public.audit"]}}}');
ROLLBACK TO s;
SELECT id FROM ak_derive_key('{"name": "x", "permitted": ["saved_queries"], "options": {"saved_queries": {"allowed": ["team_counts", "secret"]}}}');
ROLLBACK TO s;
SELECT id FROM ak_derive_key('{"name": "x", "permitted": ["saved_queries"], "options": {"saved_queries": {"allowed": ["other"]}}}');
ROLLBACK TO s;
SELECT id FROM ak_derive_key('{"name": "x", "permitted": ["cached_queries"], "options": {"cached_queries": {"allowed": ["other_cache"]}}}');
ROLLBACK TO s;
SELECT id FROM ak_derive_key('{"name": "x", "permitted": ["datasets"], "options": {"datasets": {"allowed": {"secret_dataset": {}}}}}');
ROLLBACK TO s;
SELECT id FROM ak_derive_key('{"name": "x", "permitted": ["datasets"],
    "options": {"datasets": {"allowed": {"by_customer": {"index_by": {"customer.id": ["ada", "bob"]}}}}}}');
ROLLBACK TO s;
SELECT id FROM ak_derive_key('{"name": "x", "permitted": ["datasets"], "options": {"datasets": {"operations": ["read", "list"]}}}');
ROLLBACK TO s;
SELECT id FROM ak_derive_key('{"name": "x", "permitted": ["queries"]}', '2999-01-01 00:00:00.000001+00');
ROLLBACK TO s;
\set VERBOSITY terse
SELECT id FROM ak_derive_key('{"name": "x", "permitted": ["queries"]}', now() - interval '1 day');
\set VERBOSITY default
ROLLBACK TO s;
SELECT id FROM ak_derive_key(NULL);
ROLLBACK TO s;
SELECT id FROM ak_derive_key('{"name": "x", "permitted": ["nope"]}');
ROLLBACK;
-- Filters cannot widen: a child that filters on another customer, even with
-- "or", sees only what both keys let through.
BEGIN; SELECT ak_use_key(:'ada') IS NOT NULL;
SELECT key AS bob_filter FROM ak_derive_key('{"name": "bob or missing", "permitted": ["queries"], "options": {"queries": {"filters": [
    {"operator": "or", "operands": [{"property_name": "customer.id", "operator": "eq", "property_value": "bob"},
                                    {"property_name": "customer.id", "operator": "exists", "property_value": false}]}]}}}') \gset
COMMIT;
SELECT pg_temp.try(:'bob_filter', 'SELECT count(*) FROM public.events') AS bob_or_missing;
-- A malformed token derives nothing.
BEGIN; SET LOCAL access_key.key = 'ak_not_a_token';
SELECT id FROM ak_derive_key('{"name": "x"}');
ROLLBACK;

-- A team member's key: Ada's red team, reading events, its own saved query
-- filter, writing events with its team stamped.  Inherited restrictions
-- (collections, timeframe, datasets) need not be repeated.
BEGIN; SELECT ak_use_key(:'ada') IS NOT NULL;
SELECT id AS red_id, key AS red, definition AS red_definition, expires_at IS NULL AS no_own_expiry
FROM ak_derive_key('{"name": "Ada red team",
    "permitted": ["queries", "writes", "saved_queries", "datasets", "keys"],
    "options": {
        "writes": {"autofill": {"customer": {"id": "bob"}, "team": "red"}},
        "queries": {"filters": [{"property_name": "team", "operator": "eq", "property_value": "red"}],
                    "timeframe": {"start": "2023-01-01", "end": "2024-01-03"}},
        "saved_queries": {"allowed": ["team_counts"],
                          "filters": [{"property_name": "team", "operator": "eq", "property_value": "red"}]},
        "datasets": {"operations": ["retrieve"], "allowed": {"by_customer": {}}}}}') \gset
COMMIT;
SELECT :'red_definition' AS stored_as_asked, :'no_own_expiry' AS no_own_expiry;

-- What the child sees: Ada's red rows inside both timeframes (2024-01-01 to
-- 2024-01-03; Ada has none on 2023-12-31 to show), in public.events only.
BEGIN; SELECT ak_use_key(:'red') = :'red_id' AS red;
SELECT properties #>> '{customer,id}' AS customer, properties ->> 'team' AS team, at::date AS day, count(*)
FROM public.events GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
SELECT count(*) FROM public.audit;
ROLLBACK;
-- ak_current_key() is the effective definition, what the session acts with.
BEGIN; SELECT ak_use_key(:'red') IS NOT NULL;
SELECT ak_current_key();
-- permits, saved query and dataset rules: intersections.
SELECT ak_permits('schema') AS schema, ak_permits('cached_queries') AS cached_queries,
       ak_permits('saved_queries', 'team_counts') AS team_counts, ak_permits('saved_queries', 'all_counts') AS all_counts,
       ak_permits('datasets', 'by_customer', 'retrieve') AS retrieve, ak_permits('datasets', 'by_customer', 'read') AS read,
       ak_permits('datasets', 'by_team', 'retrieve') AS by_team;
ROLLBACK;
-- Saved queries: both keys' saved_queries filters apply (Ada's and red's).
SELECT pg_temp.try(:'red', $$SELECT ak_saved_query_result('team_counts') -> 'result'$$) AS red_team_counts,
       pg_temp.try(:'ada', $$SELECT ak_saved_query_result('team_counts') -> 'result'$$) AS ada_team_counts;
SELECT pg_temp.try(:'red', $$SELECT ak_saved_query_result('all_counts') -> 'result'$$) AS red_all_counts,
       pg_temp.try(:'red', $$SELECT ak_saved_query_result('totals') -> 'result'$$) AS red_cached;
-- Datasets: the child allowed by_customer without index_by; Ada's values still bind it.
SELECT pg_temp.try(:'red', $$SELECT ak_dataset_results('by_customer', '{"customer.id": "ada"}') -> 'result'$$) AS ada_values,
       pg_temp.try(:'red', $$SELECT ak_dataset_results('by_customer', '{"customer.id": "bob"}') -> 'result'$$) AS bob_values,
       pg_temp.try(:'red', $$SELECT ak_dataset_definition('by_customer')$$) AS read_op;
-- Writes: the parent's autofill wins over the child's, the child's adds its team.
BEGIN; SELECT ak_use_key(:'red') IS NOT NULL;
INSERT INTO public.events (at, properties) VALUES ('2024-01-02', '{"customer": {"id": "bob"}, "n": 100}')
RETURNING properties;
SAVEPOINT s;
INSERT INTO public.audit (properties) VALUES ('{}');
ROLLBACK;

-- Plans outlive keys: one generic plan serves the parent and the child, each
-- with its own rows.  Parallel workers resolve the chain themselves, from the
-- session's setting and the key tables: the same answers as the leader.
SET plan_cache_mode = force_generic_plan;
PREPARE events_count AS SELECT count(*) FROM public.events;
BEGIN; SELECT ak_use_key(:'ada') IS NOT NULL AS ada; EXECUTE events_count; COMMIT;
BEGIN; SELECT ak_use_key(:'red') IS NOT NULL AS red; EXECUTE events_count; COMMIT;
BEGIN; SELECT ak_use_key(:'ada') IS NOT NULL AS ada; EXECUTE events_count; COMMIT;
DEALLOCATE events_count;
RESET plan_cache_mode;
BEGIN; SELECT ak_use_key(:'red') IS NOT NULL AS red;
\i sql/include/parallel_setting.sql
SET LOCAL :parallel_setting = on;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT count(*) FROM public.events;
SELECT count(*) FROM public.events;
COMMIT;

-- A grandchild (derived by the child) is bounded by both, and adds its own filter.
BEGIN; SELECT ak_use_key(:'red') IS NOT NULL;
SAVEPOINT s;
SELECT id FROM ak_derive_key('{"name": "x", "permitted": ["queries", "cached_queries"]}');
ROLLBACK TO s;
SELECT id AS red2_id, key AS red2 FROM ak_derive_key('{"name": "red, day 2", "permitted": ["queries"],
    "options": {"queries": {"timeframe": {"start": "2024-01-02", "end": "2030-01-01"},
                            "filters": [{"property_name": "n", "operator": "gt", "property_value": 24}]}}}',
    now() + interval '1 day') \gset
COMMIT;
BEGIN; SELECT ak_use_key(:'red2') IS NOT NULL;
SELECT properties #>> '{customer,id}' AS customer, properties ->> 'team' AS team, at::date AS day, count(*)
FROM public.events GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
ROLLBACK;

-- A keyed session manages no keys, not even its own children or itself,
-- whatever its role's privileges: every admin function refuses it.
RESET ROLE;
SET ROLE regress_ck_admin;
BEGIN; SELECT ak_use_key(:'red') IS NOT NULL;
SAVEPOINT s; SELECT ak_update_key(:'red_id', '{"name": "me", "permitted": ["queries", "writes", "schema", "keys"]}');
ROLLBACK TO s; SELECT ak_revoke_key(:'ada_id');
ROLLBACK TO s; SELECT ak_delete_key(:'red2_id');
ROLLBACK TO s; SELECT * FROM ak_create_key('{"name": "x"}');
ROLLBACK TO s; SELECT ak_get_key(:'ada_id');
ROLLBACK TO s; SELECT ak_list_keys();
ROLLBACK TO s; SELECT ak_effective_key(:'red_id');
ROLLBACK TO s; SELECT ak_narrow('{"name": "p"}', '{"name": "c", "permitted": ["schema"]}');
ROLLBACK;
RESET ROLE;
-- Nor can it write the key tables, or forge a parent link.
SET ROLE regress_ck_app;
BEGIN; SELECT ak_use_key(:'red') IS NOT NULL;
SAVEPOINT s; INSERT INTO access_key.keys (definition, parent_id) VALUES ('{"name": "forged", "permitted": ["schema"]}', NULL);
ROLLBACK TO s; UPDATE access_key.keys SET parent_id = NULL;
ROLLBACK;
RESET ROLE;

------------------------------------------------------------------------------
-- Admins see and manage children like any key; the chain binds at every use
------------------------------------------------------------------------------

SET ROLE regress_ck_admin;
SELECT name, parent_id = :'ada_id' AS child_of_ada, parent_id = :'red_id' AS child_of_red, expires_at IS NOT NULL AS own_expiry
FROM ak_list_keys() WHERE parent_id IS NOT NULL ORDER BY created_at;
SELECT ak_get_key(:'red2_id');
SELECT ak_effective_key(:'red2_id');
-- An admin may store anything on a child: it still acts within its parent.
SELECT ak_update_key(:'red_id', '{"name": "Ada red team", "permitted": ["queries", "writes", "schema", "keys"]}') IS NOT NULL AS widened;
SELECT ak_effective_key(:'red_id');
RESET ROLE;
SET ROLE regress_ck_app;
BEGIN; SELECT ak_use_key(:'red') IS NOT NULL;
SELECT ak_permits('schema') AS schema, ak_permits('queries') AS queries;
SELECT count(*) AS ada_rows_of_2024 FROM public.events;
SELECT count(*) FROM public.audit;
ROLLBACK;
RESET ROLE;

-- A later narrowing of the parent narrows every descendant.
SET ROLE regress_ck_admin;
SELECT ak_update_key(:'ada_id', '{"name": "Ada Corp admin", "permitted": ["writes", "keys"]}') IS NOT NULL AS narrowed;
RESET ROLE;
SET ROLE regress_ck_app;
SELECT pg_temp.try(:'red', 'SELECT count(*) FROM public.events') AS red_reads,
       pg_temp.try(:'red2', 'SELECT count(*) FROM public.events') AS red2_reads;
RESET ROLE;

-- A child whose own definition keeps "keys" cannot derive once its parent lost it.
BEGIN; SELECT ak_use_key(:'red') IS NOT NULL;
SELECT ak_permits('keys') AS keys_before;
ROLLBACK;
SET ROLE regress_ck_admin;
SELECT ak_update_key(:'ada_id', '{"name": "Ada Corp admin", "permitted": ["writes"]}') IS NOT NULL AS keys_removed;
RESET ROLE;
SET ROLE regress_ck_app;
SELECT pg_temp.try(:'red', $$SELECT id::text FROM ak_derive_key('{"name": "x"}')$$) AS red_derives;
RESET ROLE;

-- Revoking (or expiring) any ancestor invalidates every descendant; unrevoking restores them.
SET ROLE regress_ck_admin;
SELECT ak_revoke_key(:'ada_id');
RESET ROLE;
SET ROLE regress_ck_app;
SELECT pg_temp.try(:'red', 'SELECT ak_current_key_id()::text') AS red, pg_temp.try(:'red2', 'SELECT ak_current_key_id()::text') AS red2;
BEGIN; SELECT ak_use_key(:'red2'); ROLLBACK;
RESET ROLE;
SET ROLE regress_ck_admin;
SELECT ak_unrevoke_key(:'ada_id');
SELECT ak_effective_key(:'red2_id') IS NOT NULL AS computed;
RESET ROLE;
UPDATE access_key.keys SET expires_at = now() - interval '1 second' WHERE id = :'red_id';
SET ROLE regress_ck_app;
\set VERBOSITY terse
BEGIN; SELECT ak_use_key(:'red2'); ROLLBACK;
\set VERBOSITY default
RESET ROLE;
UPDATE access_key.keys SET expires_at = NULL WHERE id = :'red_id';

-- Rotating out the parent's token that derived a child ends the child when
-- that token stops working, although the parent lives on with a new token
-- (ak_rotate_key with a grace that then ends); a token that is gone ends it at once.
SET ROLE regress_ck_app;
BEGIN; SELECT ak_use_key(:'red2') = :'red2_id' AS red2_works; ROLLBACK;
RESET ROLE;
SELECT ak_rotate_key(:'red_id', '1 hour') IS NOT NULL AS rotated;
-- Within the grace period the child still works; then the grace ends.
SET ROLE regress_ck_app;
BEGIN; SELECT ak_use_key(:'red2') = :'red2_id' AS red2_works_in_grace; ROLLBACK;
RESET ROLE;
UPDATE access_key.key_tokens SET valid_until = now() - interval '1 second'
WHERE key_id = :'red_id' AND valid_until IS NOT NULL;
SET ROLE regress_ck_app;
\set VERBOSITY terse
BEGIN; SELECT ak_use_key(:'red2'); ROLLBACK;
\set VERBOSITY default
RESET ROLE;
DELETE FROM access_key.key_tokens WHERE key_id = :'red_id' AND valid_until IS NOT NULL;
SET ROLE regress_ck_app;
BEGIN; SELECT ak_use_key(:'red2'); ROLLBACK;
RESET ROLE;

-- Depth is bounded: a root and 8 generations below it.
SET ROLE regress_ck_admin;
SELECT id AS root_id, key AS root FROM ak_create_key('{"name": "root", "permitted": ["queries", "keys"]}') \gset
RESET ROLE;
SET ROLE regress_ck_app;
CREATE FUNCTION pg_temp.derive_chain(token text, generations int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    i int;
BEGIN
    FOR i IN 1 .. generations LOOP
        PERFORM set_config('access_key.key', token, true);
        SELECT key INTO token FROM access_key.ak_derive_key(
            format('{"name": "generation %s", "permitted": ["queries", "keys"]}', i)::access_key.access_key);
    END LOOP;
    RETURN token;
END
$$;
BEGIN; SELECT pg_temp.derive_chain(:'root', 8) AS deepest \gset
COMMIT;
BEGIN; SELECT ak_use_key(:'deepest') IS NOT NULL AS eighth_generation_works;
SELECT * FROM ak_derive_key('{"name": "ninth", "permitted": ["queries"]}');
ROLLBACK;
RESET ROLE;
SELECT count(*) AS chain_keys FROM access_key.keys WHERE definition::jsonb ->> 'name' LIKE 'generation %';
-- A longer chain made behind the extension's back is refused at use.
INSERT INTO access_key.keys (definition, parent_id)
SELECT '{"name": "generation 9", "permitted": ["queries"]}', id FROM access_key.keys
WHERE definition::jsonb ->> 'name' = 'generation 8' RETURNING id AS too_deep_id \gset
INSERT INTO access_key.key_tokens (token_hash, key_id)
VALUES (decode(repeat('ab', 32), 'hex'), :'too_deep_id');
SET ROLE regress_ck_admin;
SELECT ak_effective_key(:'too_deep_id');
RESET ROLE;

-- Deleting a key deletes its descendants (and their tokens).
SELECT count(*) AS before_delete FROM access_key.keys WHERE definition::jsonb ->> 'name' LIKE 'generation %';
SET ROLE regress_ck_admin;
SELECT ak_delete_key(:'root_id');
RESET ROLE;
SELECT count(*) AS after_delete FROM access_key.keys WHERE definition::jsonb ->> 'name' LIKE 'generation %';
SELECT count(*) AS tokens_left FROM access_key.key_tokens WHERE key_id = :'too_deep_id';
SET ROLE regress_ck_app;
BEGIN; SELECT ak_use_key(:'deepest'); ROLLBACK;
RESET ROLE;

-- A tree of keys holds at most access_key.max_derived_keys derived keys, counted from its root, so a tenant
-- cannot fill the key tables: here 3, and a grandchild's child is the root's fourth.
SET access_key.max_derived_keys = 3;
SET ROLE regress_ck_admin;
SELECT key AS quota_root FROM ak_create_key('{"name": "quota root", "permitted": ["queries", "keys"]}') \gset
RESET ROLE;
SET ROLE regress_ck_app;
BEGIN; SELECT pg_temp.derive_chain(:'quota_root', 2) AS quota_grandchild \gset
COMMIT;
BEGIN; SELECT ak_use_key(:'quota_root') IS NOT NULL;
SELECT definition FROM ak_derive_key('{"name": "third", "permitted": ["queries"]}');
COMMIT;
BEGIN; SELECT ak_use_key(:'quota_grandchild') IS NOT NULL;
SELECT definition FROM ak_derive_key('{"name": "fourth", "permitted": ["queries"]}');
ROLLBACK;
-- Only a superuser sets the bound.
SET access_key.max_derived_keys = 1000000;
RESET ROLE;
RESET access_key.max_derived_keys;
SET ROLE regress_ck_admin;
SELECT ak_delete_key(:'ada_id');
SELECT count(*) AS ada_family_left FROM ak_list_keys() WHERE name LIKE 'Ada%' OR name LIKE 'red%';
RESET ROLE;

-- Clean up.
DROP TABLE public.events, public.audit CASCADE;
DELETE FROM access_key.saved_queries;
DELETE FROM access_key.datasets;
DELETE FROM access_key.keys;
REVOKE CREATE ON SCHEMA public FROM regress_ck_owner;
DROP OWNED BY regress_ck_admin, regress_ck_owner, regress_ck_app;
DROP ROLE regress_ck_admin, regress_ck_owner, regress_ck_app;
