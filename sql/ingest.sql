-- Batch ingest (docs/operations.md#batch-ingest): ak_record_events takes
-- Keen's multi-event body and inserts every event as the caller, through the
-- collection's policies and autofill; a bad event does not stop the others.
SET search_path = access_key, public;
CREATE ROLE regress_in_owner;
CREATE ROLE regress_in_app;
GRANT CREATE ON SCHEMA public TO regress_in_owner;
GRANT EXECUTE ON FUNCTION ak_protect(regclass, name, name) TO regress_in_owner;

SET ROLE regress_in_owner;
CREATE TABLE public.in_events (
    id bigint GENERATED ALWAYS AS IDENTITY,
    properties jsonb NOT NULL CHECK (jsonb_typeof(properties -> 'n') IS DISTINCT FROM 'string'));
CREATE UNIQUE INDEX in_events_uid ON public.in_events ((properties ->> 'uid'));
SELECT ak_protect('public.in_events');
GRANT SELECT, INSERT ON public.in_events TO regress_in_app;
CREATE TABLE public.in_plain (properties jsonb);
GRANT SELECT, INSERT ON public.in_plain TO regress_in_app;
-- Another tenant's event, whose uid a writer's unique violation must not reveal.
INSERT INTO public.in_events (properties) VALUES ('{"uid": "secret-of-b", "customer": {"id": "b"}}');
RESET ROLE;

SELECT key AS k_writer FROM ak_create_key('{"name": "writer a", "permitted": ["writes", "queries"],
    "options": {"writes": {"autofill": {"customer": {"id": "a"}}},
                "queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "a"}]}}}') \gset
SELECT key AS k_reader FROM ak_create_key('{"name": "reader", "permitted": ["queries"]}') \gset
SELECT id AS revoked_id, key AS k_revoked FROM ak_create_key('{"name": "revoked", "permitted": ["writes"]}') \gset
SELECT ak_revoke_key(:'revoked_id');

SET ROLE regress_in_app;
-- One call, every kind of outcome; the caller's transaction goes on.
BEGIN;
SELECT ak_use_key(:'k_writer') IS NOT NULL AS keyed;
SELECT jsonb_pretty(ak_record_events('{"in_events": [
    {"n": 1},
    5,
    {"n": "not a number"},
    {"uid": "u1"},
    {"uid": "u1"},
    {"uid": "secret-of-b"},
    {"n": 2, "customer": {"id": "b"}}]}'));
SELECT properties FROM public.in_events ORDER BY id;
COMMIT;

-- Names resolve as regclass input does: schema-qualified, or on search_path.
BEGIN;
SELECT ak_use_key(:'k_writer') IS NOT NULL AS keyed;
SELECT ak_record_events('{"public.in_events": [{"n": 3}], "in_events": [{"n": 4}]}');
SELECT ak_record_events('{}');
SELECT ak_record_events('{"in_events": []}');
ROLLBACK;

-- An event too large for an index on it (54000) is an EventTooLargeError; the next event is inserted.
BEGIN;
SELECT ak_use_key(:'k_writer') IS NOT NULL AS keyed;
SELECT o -> 'success' AS success, o -> 'error' ->> 'name' AS error
FROM jsonb_array_elements(ak_record_events(jsonb_build_object('in_events', jsonb_build_array(
         jsonb_build_object('uid', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 300) AS i)),
         jsonb_build_object('n', 5)))) -> 'in_events') AS o;
ROLLBACK;

-- A thousand events with three bad ones: the rest are inserted.
BEGIN;
SELECT ak_use_key(:'k_writer') IS NOT NULL AS keyed;
SELECT count(*) FILTER (WHERE (o ->> 'success')::boolean) AS succeeded,
       count(*) FILTER (WHERE NOT (o ->> 'success')::boolean) AS failed
FROM jsonb_array_elements(ak_record_events(jsonb_build_object('in_events',
         (SELECT jsonb_agg(CASE WHEN i IN (7, 500, 999) THEN jsonb_build_object('n', 'bad') ELSE jsonb_build_object('n', i) END)
          FROM generate_series(1, 1000) AS i))) -> 'in_events') AS o;
SELECT count(*) AS rows_inserted FROM public.in_events WHERE (properties ->> 'n')::int > 4;
ROLLBACK;

-- What the whole call refuses.
BEGIN;
SELECT ak_use_key(:'k_writer') IS NOT NULL AS keyed;
SAVEPOINT s;
SELECT ak_record_events('{"no_such_table": [{}]}');
ROLLBACK TO s;
SELECT ak_record_events('{"in_plain": [{}]}');
ROLLBACK TO s;
SELECT ak_record_events('[{"n": 1}]');
ROLLBACK TO s;
SELECT ak_record_events('{"in_events": {"n": 1}}');
ROLLBACK TO s;
SELECT ak_record_events(NULL);
ROLLBACK;

-- A key without writes: every event is refused; an invalid key stops the call.
BEGIN;
SELECT ak_use_key(:'k_reader') IS NOT NULL AS keyed;
SELECT ak_record_events('{"in_events": [{"n": 1}, {"n": 2}]}') -> 'in_events' -> 0 -> 'error' ->> 'name' AS refused;
ROLLBACK;
BEGIN;
SET LOCAL access_key.key = :'k_revoked';
SELECT ak_record_events('{"in_events": [{"n": 1}]}');
ROLLBACK;

-- The single form raises errors as they are.
BEGIN;
SELECT ak_use_key(:'k_writer') IS NOT NULL AS keyed;
SELECT ak_record_event('in_events', '{"n": 5}');
SELECT properties FROM public.in_events WHERE properties ->> 'n' = '5';
SAVEPOINT s;
SELECT ak_record_event('in_events', '{"n": "x"}');
ROLLBACK TO s;
SELECT ak_record_event('in_events', '[1]');
ROLLBACK TO s;
SELECT ak_record_event('in_plain', '{}');
ROLLBACK TO s;
SELECT ak_record_event('in_events', NULL);
ROLLBACK;
RESET ROLE;

-- A collection with a time column gets each event's keen.timestamp there;
-- an event without one gets the column's default.
SET ROLE regress_in_owner;
CREATE TABLE public.in_timed (properties jsonb NOT NULL, at timestamptz NOT NULL DEFAULT now());
SELECT ak_protect('public.in_timed', 'properties', 'at');
GRANT SELECT, INSERT ON public.in_timed TO regress_in_app;
RESET ROLE;
SET ROLE regress_in_app;
BEGIN;
SELECT ak_use_key(:'k_writer') IS NOT NULL AS keyed;
SELECT ak_record_events('{"in_timed": [{"n": 1, "keen": {"timestamp": "2026-11-01T10:00:00Z"}}, {"n": 2},
                                       {"n": 3, "keen": {"timestamp": "not a time"}}]}');
SELECT properties ->> 'n' AS n, at = '2026-11-01T10:00:00Z' AS from_keen_timestamp, at = now() AS received_now
FROM public.in_timed ORDER BY 1;
COMMIT;
RESET ROLE;

-- Clean up.
DROP TABLE public.in_events, public.in_plain, public.in_timed;
DELETE FROM access_key.keys;
REVOKE CREATE ON SCHEMA public FROM regress_in_owner;
DROP OWNED BY regress_in_owner, regress_in_app;
DROP ROLE regress_in_owner, regress_in_app;
