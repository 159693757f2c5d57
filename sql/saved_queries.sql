-- Saved and cached queries (docs/reference.md#saved-and-cached-queries), as non-superuser roles.
SET search_path = access_key, public;
CREATE ROLE regress_ak_owner;
CREATE ROLE regress_ak_app;
GRANT CREATE ON SCHEMA public TO regress_ak_owner;
GRANT EXECUTE ON FUNCTION ak_protect(regclass, name, name), ak_create_saved_query(text, text, interval),
    ak_update_saved_query(text, text, interval), ak_delete_saved_query(text),
    ak_refresh_cached_queries() TO regress_ak_owner;

SET ROLE regress_ak_owner;
CREATE TABLE public.events (properties jsonb NOT NULL);
INSERT INTO public.events
SELECT jsonb_build_object('customer', jsonb_build_object('id', c), 'page', '/p' || (i % 3))
FROM unnest(ARRAY['a', 'b', 'c']) AS c, generate_series(1, 10) AS i
WHERE i <= CASE c WHEN 'a' THEN 10 WHEN 'b' THEN 6 ELSE 3 END;
SELECT ak_protect('public.events');
GRANT SELECT ON public.events TO regress_ak_app;

-- Creation validates the name and the SQL: one read-only SELECT.
SELECT ak_create_saved_query('per_customer',
    'SELECT properties #>> ''{customer,id}'' AS customer, count(*) AS events FROM events GROUP BY 1 ORDER BY 1;');
SELECT ak_create_saved_query('pages',
    'SELECT properties ->> ''page'' AS page, count(*) AS views FROM events GROUP BY 1 ORDER BY 1 -- trailing comment');
SELECT ak_create_saved_query('my_sensitive_query', 'SELECT count(*) AS everything FROM events');
SELECT ak_create_saved_query('totals', 'SELECT count(*) AS total FROM events', '1 hour');
SELECT ak_create_saved_query('per_customer', 'SELECT 1');
SELECT ak_create_saved_query('bad name', 'SELECT 1');
SELECT ak_create_saved_query(repeat('q', 257), 'SELECT 1');
SELECT ak_create_saved_query('x', 'SELECT 1', '0 seconds');
SELECT ak_create_saved_query('x', 'DELETE FROM events');
SELECT ak_create_saved_query('x', 'SELECT 1; SELECT 2');
SELECT ak_create_saved_query('x', '');
SELECT ak_create_saved_query('x', 'SELECT * INTO copy FROM events');
SELECT ak_create_saved_query('x', 'WITH gone AS (DELETE FROM events RETURNING *) SELECT count(*) FROM gone');
SELECT ak_create_saved_query('x', 'SELECT * FROM events FOR UPDATE');
SELECT ak_create_saved_query('x', 'SELECT * FROM access_key.keys');
SELECT ak_create_saved_query('x', 'SELECT * FROM public.events WHERE EXISTS (SELECT FROM access_key.key_tokens)');
SELECT ak_create_saved_query('x', 'SELECT * FROM no_such_table');
SELECT ak_create_saved_query('x', 'SELEC 1');
SELECT ak_create_saved_query('x', NULL);
-- Analysis can run code (a domain's CHECK): it runs as the calling admin.
CREATE FUNCTION public.report_role(int) RETURNS boolean LANGUAGE plpgsql AS
    $$BEGIN RAISE NOTICE 'domain check ran as %', current_user; RETURN true; END$$;
CREATE DOMAIN public.checked_int AS int CHECK (public.report_role(VALUE));
SELECT ak_create_saved_query('domain_probe', $q$SELECT '{1}'::public.checked_int[] AS v$q$);
SELECT ak_delete_saved_query('domain_probe');
RESET ROLE;

-- Keys (docs/reference.md#ak_permits-rules rules for saved and cached queries).
CREATE FUNCTION pg_temp.new_key(definition text) RETURNS text LANGUAGE sql AS
    'SELECT key FROM access_key.ak_create_key(definition::access_key.access_key)';
SELECT pg_temp.new_key('{"name": "allowed", "permitted": ["saved_queries"],
    "options": {"queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "b"}]},
                "saved_queries": {"allowed": ["per_customer"],
                                  "filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "a"}]}}}') AS k_allowed \gset
SELECT pg_temp.new_key('{"name": "blocked", "permitted": ["saved_queries"],
    "options": {"saved_queries": {"blocked": ["my_sensitive_query"]}}}') AS k_blocked \gset
SELECT pg_temp.new_key('{"name": "both", "permitted": ["saved_queries"],
    "options": {"saved_queries": {"allowed": ["per_customer", "my_sensitive_query"], "blocked": ["my_sensitive_query"]}}}') AS k_both \gset
SELECT pg_temp.new_key('{"name": "neither", "permitted": ["saved_queries", "queries"],
    "options": {"queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "c"}]}}}') AS k_neither \gset
SELECT pg_temp.new_key('{"name": "cached", "permitted": ["cached_queries"],
    "options": {"cached_queries": {"allowed": ["totals"]}}}') AS k_cached \gset
SELECT pg_temp.new_key('{"name": "queries only", "permitted": ["queries"]}') AS k_queries_only \gset

SET ROLE regress_ak_app;
CREATE FUNCTION pg_temp.try(token text, name text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM access_key.ak_use_key(token);
    RETURN (access_key.ak_saved_query_result(name) - 'refreshed_at')::text;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ' ' || SQLERRM;
END
$$;
SELECT k.label, q.name, pg_temp.try(k.token, q.name) AS outcome
FROM (VALUES ('allowed', :'k_allowed'), ('blocked', :'k_blocked'), ('both', :'k_both'),
             ('neither', :'k_neither'), ('cached', :'k_cached'), ('queries only', :'k_queries_only')) AS k(label, token),
     (VALUES ('per_customer'), ('my_sensitive_query'), ('totals'), ('no_such_query')) AS q(name)
ORDER BY k.label, q.name;

-- Live queries use saved_queries.filters, not queries.filters, and need no
-- queries permission; outside the saved query the key may not read (42501).
BEGIN;
SELECT ak_use_key(:'k_allowed') IS NOT NULL;
SELECT ak_saved_query_result('per_customer');
SHOW access_key.context;
SELECT count(*) AS direct_select FROM public.events;
ROLLBACK;
-- ... and a key cannot switch itself into the saved_queries context.
BEGIN;
SELECT ak_use_key(:'k_allowed') IS NOT NULL;
SET access_key.context = 'saved_queries';
ROLLBACK;
-- The saved_queries context reaches parallel workers (it is a setting): with
-- parallel plans forced, the workers apply the same filters.
BEGIN;
SELECT ak_use_key(:'k_allowed') IS NOT NULL;
\i sql/include/parallel_setting.sql
SET LOCAL :parallel_setting = on;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SELECT ak_saved_query_result('per_customer') -> 'result' AS parallel_result;
ROLLBACK;
-- A key without saved_queries filters sees, through a live query, what the
-- context permits: every row (there are no saved_queries filters to apply).
BEGIN;
SELECT ak_use_key(:'k_neither') IS NOT NULL;
SELECT ak_saved_query_result('per_customer') -> 'result' AS live_without_filters;
SELECT count(*) AS direct_select_c_only FROM public.events;
ROLLBACK;

-- Stored SQL resolves names with the search_path it was stored with, and
-- temporary objects last: a caller's temp view cannot stand in for a table.
BEGIN;
SELECT ak_use_key(:'k_allowed') IS NOT NULL;
CREATE TEMP VIEW events AS SELECT '{"customer": {"id": "stolen"}}'::jsonb AS properties;
SELECT ak_saved_query_result('per_customer') -> 'result' AS still_the_real_table;
ROLLBACK;
-- The filter context cannot be stored in role or database settings either.
RESET ROLE;
ALTER ROLE regress_ak_app SET access_key.context = 'saved_queries';
SET ROLE regress_ak_app;

-- What each key may read.
BEGIN; SELECT ak_use_key(:'k_allowed') IS NOT NULL; SELECT * FROM ak_list_saved_queries(); ROLLBACK;
BEGIN; SELECT ak_use_key(:'k_blocked') IS NOT NULL; SELECT * FROM ak_list_saved_queries(); ROLLBACK;
BEGIN; SELECT ak_use_key(:'k_cached') IS NOT NULL; SELECT * FROM ak_list_saved_queries(); ROLLBACK;
BEGIN; SELECT ak_use_key(:'k_queries_only') IS NOT NULL; SELECT * FROM ak_list_saved_queries(); ROLLBACK;
-- Without a key, a role that is not an admin reads nothing.
SELECT count(*) AS listed_without_key FROM ak_list_saved_queries();
SELECT ak_saved_query_result('per_customer');
RESET ROLE;

-- Cached: computed when stored, so there is a result at once; a refresh
-- recomputes only what is due.
SET ROLE regress_ak_owner;
SELECT ak_saved_query_result('totals') - 'refreshed_at' AS totals,
       (ak_saved_query_result('totals') ->> 'refreshed_at')::timestamptz <= now() AS refreshed_when_stored;
SELECT ak_refresh_cached_queries() AS refreshed_none_due;
SELECT ak_refresh_cached_queries() AS refreshed_again_not_due;
SELECT ak_saved_query_result('totals') -> 'result' AS totals,
       ak_saved_query_result('totals') ->> 'refreshed_at' IS NOT NULL AS has_refreshed_at;
-- An admin reads live queries too (as itself: the owner sees every row).
SELECT ak_saved_query_result('pages');
SELECT * FROM ak_list_saved_queries();
SELECT ak_saved_query_result('no_such_query');
RESET ROLE;
SET ROLE regress_ak_app;
BEGIN; SELECT ak_use_key(:'k_cached') IS NOT NULL;
SELECT ak_saved_query_result('totals') -> 'result' AS cached_for_key,
       ak_saved_query_result('totals') -> 'refreshed_at' IS NOT NULL AS has_refreshed_at;
ROLLBACK;
RESET ROLE;

-- Stored SQL never escapes read-only mode, even through a function.
SET ROLE regress_ak_owner;
CREATE FUNCTION public.sneaky() RETURNS int LANGUAGE sql AS
    'INSERT INTO public.events VALUES (''{"customer": {"id": "a"}}''); SELECT 1';
SELECT ak_create_saved_query('sneaky', 'SELECT public.sneaky() AS x');
SELECT ak_saved_query_result('sneaky');
SELECT count(*) AS events_unchanged FROM public.events;

-- Cached results are computed as the role that stored the query, whoever refreshes.
SELECT ak_create_saved_query('computed_as', 'SELECT current_user AS role', '1 microsecond');
RESET ROLE;
SELECT ak_refresh_cached_queries() >= 1 AS refreshed_by_superuser;
SELECT ak_saved_query_result('computed_as') -> 'result' AS computed_as;
SET ROLE regress_ak_owner;
-- A query whose owner role was dropped refuses to run rather than run with less.
RESET ROLE;
CREATE ROLE regress_ak_gone;
GRANT EXECUTE ON FUNCTION ak_create_saved_query(text, text, interval) TO regress_ak_gone;
SET ROLE regress_ak_gone;
SELECT ak_create_saved_query('orphan', 'SELECT 1 AS one', '1 microsecond');
RESET ROLE;
REVOKE EXECUTE ON FUNCTION ak_create_saved_query(text, text, interval) FROM regress_ak_gone;
DROP ROLE regress_ak_gone;
SELECT ak_refresh_cached_queries() AS refreshed_without_orphan;
SELECT ak_delete_saved_query('orphan');
SET ROLE regress_ak_owner;
-- A cancel or statement_timeout stops the refresh instead of becoming a warning.
CREATE TABLE public.sleep_for (seconds float8);
INSERT INTO public.sleep_for VALUES (0);
SELECT ak_create_saved_query('slow', 'SELECT pg_sleep(seconds) AS slept FROM public.sleep_for', '1 microsecond');
UPDATE public.sleep_for SET seconds = 10;
SET statement_timeout = '200ms';
SELECT ak_refresh_cached_queries();
RESET statement_timeout;
SELECT ak_delete_saved_query('slow');
DROP TABLE public.sleep_for;

-- A cached query that fails is reported and skipped; the others refresh.
CREATE TABLE public.fragile (x int);
SELECT ak_create_saved_query('fragile', 'SELECT count(*) AS n FROM fragile', '1 microsecond');
SELECT ak_create_saved_query('sturdy', 'SELECT 42 AS answer', '1 microsecond');
DROP TABLE public.fragile;
SELECT ak_refresh_cached_queries() AS refreshed;
SELECT ak_saved_query_result('sturdy') -> 'result' AS sturdy;

-- Update replaces the query and computes its result at once; delete removes it.
SELECT ak_update_saved_query('totals', 'SELECT count(*) AS total, 2 AS version FROM events', '1 hour');
SELECT ak_saved_query_result('totals') - 'refreshed_at' AS totals_updated;
-- A query that fails when computed is not stored.
SELECT ak_create_saved_query('broken', 'SELECT 1 / (count(*) - count(*)) AS x FROM events', '1 hour');
SELECT ak_update_saved_query('totals', 'SELECT 1 / (count(*) - count(*)) AS x FROM events', '1 hour');
SELECT ak_saved_query_result('totals') - 'refreshed_at' AS totals_unchanged;
-- Made live, it keeps no result; made cached again, it has one at once.
SELECT ak_update_saved_query('sturdy', 'SELECT 43 AS answer');
RESET ROLE;
SELECT result IS NULL AND refreshed_at IS NULL AS live_keeps_no_result FROM access_key.saved_queries WHERE name = 'sturdy';
SET ROLE regress_ak_owner;
SELECT ak_update_saved_query('sturdy', 'SELECT 44 AS answer', '1 day');
SELECT ak_saved_query_result('sturdy') -> 'result' AS cached_again;
SELECT ak_update_saved_query('no_such_query', 'SELECT 1');
SELECT ak_delete_saved_query('sturdy');
SELECT ak_delete_saved_query('sturdy');
-- Admin functions refuse while a key is presented, and plain roles have none.
BEGIN;
SELECT ak_use_key(:'k_neither') IS NOT NULL;
SELECT ak_create_saved_query('x', 'SELECT 1');
ROLLBACK;
BEGIN;
SELECT ak_use_key(:'k_neither') IS NOT NULL;
SELECT ak_refresh_cached_queries();
ROLLBACK;
RESET ROLE;
SET ROLE regress_ak_app;
SELECT ak_create_saved_query('x', 'SELECT 1');
SELECT ak_refresh_cached_queries();
SELECT ak_delete_saved_query('pages');
RESET ROLE;

-- The stored text and search_path.
SELECT name, query, refresh_rate, search_path FROM access_key.saved_queries ORDER BY name;

-- Clean up.
DROP TABLE public.events;
DROP FUNCTION public.sneaky();
DROP DOMAIN public.checked_int;
DROP FUNCTION public.report_role(int);
DELETE FROM access_key.saved_queries;
DELETE FROM access_key.keys;
REVOKE CREATE ON SCHEMA public FROM regress_ak_owner;
DROP OWNED BY regress_ak_owner, regress_ak_app;
DROP ROLE regress_ak_owner, regress_ak_app;
