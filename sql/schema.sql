-- Schema inspection (docs/reference.md#schema-inspection): only what the key can see, Keen's type names.
SET search_path = access_key, public;
CREATE ROLE regress_ak_owner;
CREATE ROLE regress_ak_app;
GRANT CREATE ON SCHEMA public TO regress_ak_owner;
GRANT EXECUTE ON FUNCTION ak_protect(regclass, name, name) TO regress_ak_owner;

SET ROLE regress_ak_owner;
CREATE TABLE public.events (id serial, properties jsonb NOT NULL);
INSERT INTO public.events (properties) VALUES
    ('{"customer": {"id": "a", "vip": true}, "page": "/home", "at": "2026-11-01T10:00:00Z",
       "cart": ["x", "y"], "location": {"coordinates": [2.35, 48.85]}, "amount": 9.5, "note": null}'),
    ('{"customer": {"id": "a"}, "page": 404}'),
    ('{"customer": {"id": "b", "secret_b_only": "s"}, "b_campaign": {"name": "spring"}}');
CREATE TABLE public.other_events (properties jsonb NOT NULL);
CREATE TABLE public.hidden_events (properties jsonb NOT NULL);
SELECT ak_protect('public.events'), ak_protect('public.other_events'), ak_protect('public.hidden_events', 'properties');
GRANT SELECT ON public.events, public.other_events TO regress_ak_app;
RESET ROLE;

CREATE FUNCTION pg_temp.new_key(definition text) RETURNS text LANGUAGE sql AS
    'SELECT key FROM access_key.ak_create_key(definition::access_key.access_key)';
SELECT pg_temp.new_key('{"name": "a", "permitted": ["queries", "schema"],
    "options": {"queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "a"}]}}}') AS k_a \gset
SELECT pg_temp.new_key('{"name": "b", "permitted": ["queries", "schema"],
    "options": {"queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "b"}]}}}') AS k_b \gset
SELECT pg_temp.new_key('{"name": "no schema", "permitted": ["queries"]}') AS k_noschema \gset
SELECT pg_temp.new_key('{"name": "schema only", "permitted": ["schema"]}') AS k_schema_only \gset

SET ROLE regress_ak_app;
-- Each tenant's key sees the paths and types of its own events only.
BEGIN; SELECT ak_use_key(:'k_a') IS NOT NULL;
SELECT * FROM ak_schema('public.events');
-- Collections this role may read (hidden_events is not granted to it).
SELECT * FROM ak_collections();
ROLLBACK;
BEGIN; SELECT ak_use_key(:'k_b') IS NOT NULL;
SELECT * FROM ak_schema('public.events');
ROLLBACK;
-- The sample is bounded by access_key.schema_sample_rows.
BEGIN; SELECT ak_use_key(:'k_a') IS NOT NULL;
SET LOCAL access_key.schema_sample_rows = 1;
SELECT count(*) AS paths_from_one_row FROM ak_schema('public.events');
ROLLBACK;
-- A key with "schema" but not "queries" sees no rows, so no properties.
BEGIN; SELECT ak_use_key(:'k_schema_only') IS NOT NULL;
SELECT count(*) AS paths FROM ak_schema('public.events');
ROLLBACK;
-- Without "schema", or without a key, both are refused.
BEGIN; SELECT ak_use_key(:'k_noschema') IS NOT NULL; SELECT * FROM ak_collections(); ROLLBACK;
BEGIN; SELECT ak_use_key(:'k_noschema') IS NOT NULL; SELECT * FROM ak_schema('public.events'); ROLLBACK;
SELECT * FROM ak_collections();
-- Only protected collections have a schema.
BEGIN; SELECT ak_use_key(:'k_a') IS NOT NULL; SELECT * FROM ak_schema('pg_class'); ROLLBACK;
RESET ROLE;

-- An admin (EXECUTE on ak_protect) may inspect without a key: the owner sees every row.
SET ROLE regress_ak_owner;
SELECT * FROM ak_collections();
SELECT * FROM ak_schema('public.events') WHERE property_name LIKE 'b%' OR property_name LIKE 'customer%';
RESET ROLE;

-- Any column name works, even one that needs quoting.
SET ROLE regress_ak_owner;
CREATE TABLE public.odd ("propriétés \ ""x""" jsonb);
INSERT INTO public.odd VALUES ('{"a": 1}');
SELECT ak_protect('public.odd', 'propriétés \ "x"');
SELECT * FROM ak_schema('public.odd');
DROP TABLE public.odd;
RESET ROLE;

-- Keen's type names, one value each (each property is named for what it holds).
SET ROLE regress_ak_owner;
CREATE TABLE public.kinds (properties jsonb);
INSERT INTO public.kinds VALUES ('{"text": "text", "date": "2026-11-01", "datetime": "2026-11-01T10:00:00+02:00",
    "number": 1.5, "boolean": false, "nothing": null, "list": [1, 2], "place": {"coordinates": [2.35, 48.85]},
    "off_map": {"coordinates": [200, 48.85]}, "object": {"b": 1}, "not_an_object": 1}'), ('[1]'), ('"scalar"'), (NULL);
SELECT ak_protect('public.kinds');
SELECT * FROM ak_schema('public.kinds');
DROP TABLE public.kinds;
RESET ROLE;
-- Dropped tables are forgotten: only the three collections above remain.
SELECT collection FROM access_key.collections ORDER BY collection::text;

-- Clean up.
DROP TABLE public.events, public.other_events, public.hidden_events;
DELETE FROM access_key.keys;
REVOKE CREATE ON SCHEMA public FROM regress_ak_owner;
DROP OWNED BY regress_ak_owner, regress_ak_app;
DROP ROLE regress_ak_owner, regress_ak_app;
