-- Autofill when the event already carries the autofilled values: the row is stored as sent, and only then
-- (docs/reference.md#protected-collections).  Every row the trigger stores equals the pure merge ak_autofill.
SET search_path = access_key, public;
CREATE ROLE regress_fill_app;
CREATE TABLE public.fill_events (id serial PRIMARY KEY, properties jsonb);
SELECT ak_protect('public.fill_events');
GRANT SELECT, INSERT ON public.fill_events TO regress_fill_app;
GRANT USAGE ON SEQUENCE public.fill_events_id_seq TO regress_fill_app;
SELECT key AS filler, definition AS filler_definition FROM ak_create_key('{"name": "filler", "permitted": ["writes", "queries"],
    "options": {"writes": {"autofill": {"customer": {"id": "acme", "tier": 1.0, "flags": {"beta": true}}, "source": "api"}}}}') \gset
CREATE TABLE pg_temp.sent (n int, properties jsonb);
INSERT INTO pg_temp.sent VALUES
    (1, '{"customer": {"id": "acme", "tier": 1.0, "flags": {"beta": true}}, "source": "api"}'),              -- exactly filled
    (2, '{"page": "/", "source": "api", "customer": {"seat": 3, "flags": {"beta": true, "x": 1}, "tier": 1.0, "id": "acme"}}'), -- and more
    (3, '{"customer": {"id": "acme", "tier": 1, "flags": {"beta": true}}, "source": "api"}'),                -- 1, not 1.0
    (4, '{"customer": {"id": "acme", "tier": 1.0, "flags": {"beta": "true"}}, "source": "api"}'),           -- a string, not true
    (5, '{"customer": {"id": "acme", "tier": 1.0, "flags": true}, "source": "api"}'),                       -- not an object
    (6, '{"customer": {"id": "acme", "tier": 1.0}, "source": "api"}'),                                      -- flags missing
    (7, '{"customer": {"id": "globex", "tier": 1.0, "flags": {"beta": true}}, "source": "api"}'),           -- another tenant
    (8, '{"customer": {"id": "acme", "tier": 1.0, "flags": {"beta": true}}, "source": ["api"]}'),          -- an array
    (9, '{}'), (10, NULL), (11, '{"customer": "acme"}');
GRANT SELECT ON pg_temp.sent TO regress_fill_app;
SET ROLE regress_fill_app;
BEGIN;
SELECT ak_use_key(:'filler') IS NOT NULL;
INSERT INTO public.fill_events (id, properties) SELECT n, properties FROM pg_temp.sent ORDER BY n;
COMMIT;
RESET ROLE;
SELECT s.n, e.properties = s.properties AS stored_as_sent,
       e.properties = ak_autofill(:'filler_definition', s.properties) AS as_merged
FROM pg_temp.sent AS s JOIN public.fill_events AS e ON e.id = s.n ORDER BY s.n;
-- Stored as sent means byte for byte: 1.0 stays 1.0.
SELECT properties #>> '{customer,tier}' AS tier FROM public.fill_events WHERE id IN (1, 3) ORDER BY id;
-- The trigger remembers the key's autofill for the key it read it under: a key presented between two rows of one
-- statement stamps its own.
SELECT key AS other FROM ak_create_key('{"name": "other", "permitted": ["writes"],
    "options": {"writes": {"autofill": {"customer": {"id": "globex"}}}}}') \gset
SET ROLE regress_fill_app;
BEGIN;
SELECT ak_use_key(:'filler') IS NOT NULL;
INSERT INTO public.fill_events (id, properties)
SELECT n, CASE WHEN n = 21 THEN '{"page": 1}'::jsonb ELSE ('{"page": 2, "switched": ' || (set_config('access_key.key', :'other', true) IS NOT NULL) || '}')::jsonb END
FROM generate_series(21, 22) AS n ORDER BY n;
COMMIT;
RESET ROLE;
SELECT id, properties -> 'customer' ->> 'id' AS customer FROM public.fill_events WHERE id IN (21, 22) ORDER BY id;
-- A scalar event is refused as before.
SET ROLE regress_fill_app;
BEGIN;
SELECT ak_use_key(:'filler') IS NOT NULL;
INSERT INTO public.fill_events (properties) VALUES ('[1]');
ROLLBACK;
RESET ROLE;
DROP TABLE public.fill_events;
DROP OWNED BY regress_fill_app;
DROP ROLE regress_fill_app;
