-- Cached results that are always there (docs/reference.md#refreshing-on-a-schedule):
-- cached queries and datasets are computed when stored, ak_refresh_due()
-- refreshes what is due, and scheduling needs pg_cron (absent here).
SET search_path = access_key, public;
CREATE ROLE regress_rf_admin;
CREATE ROLE regress_rf_app;
GRANT CREATE ON SCHEMA public TO regress_rf_admin;
GRANT EXECUTE ON FUNCTION ak_protect(regclass, name, name), ak_create_saved_query(text, text, interval),
    ak_update_saved_query(text, text, interval), ak_create_dataset(text, text, text[]),
    ak_create_dataset(text, text, text[], interval), ak_refresh_due(),
    ak_schedule_refresh(text), ak_unschedule_refresh() TO regress_rf_admin;

SET ROLE regress_rf_admin;
CREATE TABLE public.rf_events (properties jsonb NOT NULL);
INSERT INTO public.rf_events
SELECT jsonb_build_object('customer', jsonb_build_object('id', c)) FROM unnest(ARRAY['a', 'a', 'b']) AS c;
SELECT ak_protect('public.rf_events');
GRANT SELECT, INSERT ON public.rf_events TO regress_rf_app;
SELECT ak_create_saved_query('rf_counts',
    'SELECT properties #>> ''{customer,id}'' AS customer, count(*) AS n FROM public.rf_events GROUP BY 1 ORDER BY 1',
    '1 hour');
-- A dataset with a refresh rate, one without, and one whose rate is invalid.
SELECT ak_create_dataset('rf_due', 'SELECT properties #>> ''{customer,id}'' AS c, count(*) AS n FROM public.rf_events GROUP BY 1',
    ARRAY['c'], '1 microsecond');
SELECT ak_create_dataset('rf_manual', 'SELECT properties #>> ''{customer,id}'' AS c, count(*) AS n FROM public.rf_events GROUP BY 1',
    ARRAY['c']);
SELECT ak_create_dataset('rf_bad_rate', 'SELECT 1 AS c', ARRAY['c'], '-1 minute');
-- A dataset whose query fails when computed is not stored.
\set VERBOSITY terse
SELECT ak_create_dataset('rf_broken', 'SELECT 1 / (count(*) - count(*)) AS c FROM public.rf_events', ARRAY['c']);
\set VERBOSITY default
RESET ROLE;
SELECT name, refresh_rate, refreshed_at IS NOT NULL AS computed_when_stored FROM access_key.datasets ORDER BY name;

SELECT pg_temp_key.key AS k_app FROM access_key.ak_create_key('{"name": "app", "permitted": ["writes", "cached_queries", "datasets"],
    "options": {"writes": {"autofill": {"customer": {"id": "b"}}}}}') AS pg_temp_key \gset

-- An application writes an event and reads the cached query and a dataset
-- in one transaction, right after an admin stored or changed them: there is
-- always a result, so nothing rolls the event back.
SET ROLE regress_rf_admin;
SELECT ak_update_saved_query('rf_counts',
    'SELECT properties #>> ''{customer,id}'' AS customer, count(*) AS events FROM public.rf_events GROUP BY 1 ORDER BY 1',
    '1 hour');
RESET ROLE;
SET ROLE regress_rf_app;
BEGIN;
SELECT ak_use_key(:'k_app') IS NOT NULL AS keyed;
INSERT INTO public.rf_events VALUES ('{"page": "/"}');
SELECT ak_saved_query_result('rf_counts') -> 'result' AS cached,
       ak_saved_query_result('rf_counts') ? 'refreshed_at' AS has_refreshed_at;
SELECT ak_dataset_results('rf_manual', '{"c": "b"}') -> 'result' AS dataset,
       ak_dataset_results('rf_manual', '{"c": "b"}') ->> 'refreshed_at' IS NOT NULL AS has_refreshed_at;
COMMIT;
RESET ROLE;
SELECT count(*) AS events_kept FROM public.rf_events;

-- ak_refresh_due refreshes the due dataset (and no cached query: not due),
-- as the role that stored it; the dataset without a rate keeps its rows.
SET ROLE regress_rf_admin;
SELECT ak_refresh_due() AS refreshed;
SELECT ak_dataset_results('rf_due', '{"c": "b"}') -> 'result' AS due_refreshed,
       ak_dataset_results('rf_manual', '{"c": "b"}') -> 'result' AS manual_unchanged;
RESET ROLE;

-- Scheduling needs pg_cron, which this server does not load: 0A000 and a
-- hint saying how to install it.
SET ROLE regress_rf_admin;
SELECT ak_schedule_refresh();
\echo :LAST_ERROR_SQLSTATE
SELECT ak_unschedule_refresh();
\echo :LAST_ERROR_SQLSTATE
SELECT ak_schedule_refresh(NULL);
RESET ROLE;

-- Only admins: not PUBLIC, and never with a key.
SET ROLE regress_rf_app;
SELECT ak_refresh_due();
SELECT ak_schedule_refresh();
SELECT ak_unschedule_refresh();
BEGIN;
SELECT ak_use_key(:'k_app') IS NOT NULL AS keyed;
SELECT ak_dataset_results('rf_due', '{"c": "a"}') -> 'result' AS key_reads;
SELECT ak_create_dataset('rf_by_key', 'SELECT 1 AS c', ARRAY['c'], '1 hour');
ROLLBACK;
RESET ROLE;
SET ROLE regress_rf_admin;
BEGIN;
SELECT ak_use_key(:'k_app') IS NOT NULL AS keyed;
SELECT ak_refresh_due();
ROLLBACK;
BEGIN;
SELECT ak_use_key(:'k_app') IS NOT NULL AS keyed;
SELECT ak_schedule_refresh();
ROLLBACK;
RESET ROLE;

-- Clean up.
DROP TABLE public.rf_events;
DELETE FROM access_key.datasets;
DELETE FROM access_key.saved_queries;
DELETE FROM access_key.keys;
REVOKE CREATE ON SCHEMA public FROM regress_rf_admin;
DROP OWNED BY regress_rf_admin, regress_rf_app;
DROP ROLE regress_rf_admin, regress_rf_app;
