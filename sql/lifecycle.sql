-- Key lifecycle beyond Keen (docs/reference.md#key-lifecycle): rotation with a
-- grace period, import of existing tokens, merge patches, expiry changes and
-- the revoked-update rule, run as a non-superuser admin and application role.
SET search_path = access_key, public;
CREATE ROLE regress_ak_admin;
CREATE ROLE regress_ak_app;
GRANT EXECUTE ON FUNCTION ak_create_key(access_key, timestamptz), ak_get_key(uuid),
    ak_list_keys(text), ak_update_key(uuid, access_key), ak_revoke_key(uuid),
    ak_unrevoke_key(uuid), ak_delete_key(uuid), ak_rotate_key(uuid, interval), ak_key_id(text),
    ak_patch_key(uuid, jsonb), ak_set_key_expiry(uuid, timestamptz),
    ak_import_key(text, access_key, timestamptz), ak_import_keen_key(jsonb, timestamptz)
TO regress_ak_admin;

-- Presents a token for one statement: the key's name, or the SQLSTATE and
-- DETAIL of the refusal (times masked).
CREATE FUNCTION pg_temp.present(token text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text;
    detail text;
BEGIN
    PERFORM pg_catalog.set_config('access_key.key', token, true);
    RETURN 'valid: ' || (access_key.ak_current_key()::jsonb ->> 'name');
EXCEPTION WHEN others THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, detail = PG_EXCEPTION_DETAIL;
    RETURN state || ': ' || regexp_replace(detail, '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?[+-]\d\d', '<time>', 'g');
END
$$;

SET ROLE regress_ak_admin;

------------------------------------------------------------------------------
-- Rotation
------------------------------------------------------------------------------

SELECT id AS ada, key AS ada0 FROM ak_create_key('{"name": "Ada", "permitted": ["queries"]}') \gset

-- The new token works at once; the old one during the grace period.
SELECT ak_rotate_key(:'ada', '1 hour') AS ada1 \gset
SELECT :'ada1' ~ '^ak_[0-9A-Za-z]{49}$' AS native_token, :'ada1' <> :'ada0' AS new_token;
SET ROLE regress_ak_app;
SELECT pg_temp.present(:'ada0') AS old_in_grace, pg_temp.present(:'ada1') AS new_token;
SET ROLE regress_ak_admin;

-- Both tokens still name the key.
SELECT ak_key_id(:'ada0') = :'ada' AS old_names_key, ak_key_id(:'ada1') = :'ada' AS new_names_key;

-- Rotating again during the grace period never lengthens the grace of a
-- token already rotated out: ada0 keeps its hour, ada1 gets two.
SELECT ak_rotate_key(:'ada', '2 hours') AS ada2 \gset
RESET ROLE;
SELECT count(*) AS tokens, count(*) FILTER (WHERE valid_until IS NULL) AS current_tokens,
       count(*) FILTER (WHERE valid_until <= now() + interval '1 hour') AS within_one_hour,
       count(*) FILTER (WHERE valid_until > now() + interval '1 hour' AND valid_until <= now() + interval '2 hours') AS within_two_hours
FROM access_key.key_tokens WHERE key_id = :'ada';
SET ROLE regress_ak_admin;
-- A grace of 0 (the default) ends every other token at once; each refusal
-- says the key was rotated.
SELECT ak_rotate_key(:'ada') AS ada3 \gset
SET ROLE regress_ak_app;
SELECT pg_temp.present(:'ada0') AS first, pg_temp.present(:'ada1') AS second,
       pg_temp.present(:'ada2') AS third, pg_temp.present(:'ada3') AS current;
RESET ROLE;
SELECT count(*) AS tokens, count(*) FILTER (WHERE valid_until IS NULL) AS current_tokens,
       count(*) FILTER (WHERE valid_until <= now()) AS ended
FROM access_key.key_tokens WHERE key_id = :'ada';
SET ROLE regress_ak_admin;

-- A grace period ends by itself.
SELECT ak_rotate_key(:'ada', '1.5 seconds') AS ada4 \gset
SET ROLE regress_ak_app;
SELECT pg_temp.present(:'ada3') AS during_grace;
SELECT pg_sleep(1.6);
SELECT pg_temp.present(:'ada3') AS after_grace, pg_temp.present(:'ada4') AS current;
SET ROLE regress_ak_admin;

-- Each rotation prunes the tokens whose grace has ended (the one of 1.5
-- seconds pruned ada0 to ada2, this one ada3): only the current token and
-- those still in grace remain.
SELECT ak_rotate_key(:'ada', '1 minute') AS ada5 \gset
RESET ROLE;
SELECT count(*) AS tokens_left, count(*) FILTER (WHERE valid_until IS NULL) AS current_tokens
FROM access_key.key_tokens WHERE key_id = :'ada';
SET ROLE regress_ak_admin;
SELECT ak_key_id(:'ada0');
\echo SQLSTATE :SQLSTATE
SET ROLE regress_ak_app;
SELECT pg_temp.present(:'ada0') AS pruned, pg_temp.present(:'ada3') AS pruned_too,
       pg_temp.present(:'ada4') AS in_new_grace;
SET ROLE regress_ak_admin;

-- Revoking ends every token, including those in grace; un-revoking brings
-- back only the current token.
SELECT ak_revoke_key(:'ada');
SET ROLE regress_ak_app;
SELECT pg_temp.present(:'ada4') AS in_grace, pg_temp.present(:'ada5') AS current;
SET ROLE regress_ak_admin;
SELECT ak_unrevoke_key(:'ada');
SET ROLE regress_ak_app;
SELECT pg_temp.present(:'ada4') AS grace_ended_by_revoke, pg_temp.present(:'ada5') AS current;
SET ROLE regress_ak_admin;

-- Expiring ends every token: an expiry caps the grace of old tokens.
SELECT ak_rotate_key(:'ada', '1 day') AS ada6 \gset
SELECT ak_set_key_expiry(:'ada', now() + interval '1 second');
RESET ROLE;
SELECT count(*) FILTER (WHERE valid_until > (SELECT expires_at FROM access_key.keys WHERE id = :'ada')) AS outlasting_the_key
FROM access_key.key_tokens WHERE key_id = :'ada';
SET ROLE regress_ak_app;
SELECT pg_temp.present(:'ada5') AS in_grace, pg_temp.present(:'ada6') AS current;
SELECT pg_sleep(1.1);
SELECT pg_temp.present(:'ada5') AS in_grace, pg_temp.present(:'ada6') AS current;
SET ROLE regress_ak_admin;
-- Removing the expiry brings the key back, but not the capped grace.
SELECT ak_set_key_expiry(:'ada', NULL);
SELECT expires_at FROM ak_list_keys('Ada');
SET ROLE regress_ak_app;
SELECT pg_temp.present(:'ada5') AS capped_grace, pg_temp.present(:'ada6') AS current;
SET ROLE regress_ak_admin;

-- Deleting ends every token.
SELECT ak_rotate_key(:'ada', '1 day') AS ada7 \gset
SELECT ak_delete_key(:'ada');
SET ROLE regress_ak_app;
SELECT pg_temp.present(:'ada6') AS in_grace, pg_temp.present(:'ada7') AS current;
SET ROLE regress_ak_admin;

-- Argument errors.
SELECT id AS bob FROM ak_create_key('{"name": "Bob"}') \gset
SELECT ak_rotate_key(:'bob', NULL);
\echo SQLSTATE :SQLSTATE
SELECT ak_rotate_key(:'bob', '-1 second');
\echo SQLSTATE :SQLSTATE
SELECT ak_rotate_key(:'bob', '1 day -25 hours');
\echo SQLSTATE :SQLSTATE
SELECT ak_rotate_key('00000000-0000-0000-0000-000000000000');
\echo SQLSTATE :SQLSTATE
SELECT ak_rotate_key(NULL);
\echo SQLSTATE :SQLSTATE
\set VERBOSITY terse
SELECT ak_set_key_expiry(:'bob', now() - interval '1 second');
\set VERBOSITY default
\echo SQLSTATE :SQLSTATE
SELECT ak_set_key_expiry('00000000-0000-0000-0000-000000000000', NULL);
\echo SQLSTATE :SQLSTATE

------------------------------------------------------------------------------
-- Finding a key by its token
------------------------------------------------------------------------------

SELECT id AS carol, key AS carol_token FROM ak_create_key('{"name": "Carol"}') \gset
SELECT ak_key_id(:'carol_token') = :'carol' AS found;
-- A well-formed token nobody holds, a malformed one, NULL.
SELECT ak_key_id('ak_Keen2Access0Key1Known2Answer3Test4Vector5671HHAGA');
\echo SQLSTATE :SQLSTATE
SELECT ak_key_id(left(:'carol_token', 51));
\echo SQLSTATE :SQLSTATE
SELECT ak_key_id('short');
\echo SQLSTATE :SQLSTATE
SELECT ak_key_id(NULL);
\echo SQLSTATE :SQLSTATE

------------------------------------------------------------------------------
-- Import
------------------------------------------------------------------------------

\set keen_token '2B9F4E7A1C6D3085F2A9E4B7C1D6083F5A2E9B4C7D1F6A3058E2B9C4F7A1D6E30'
SELECT ak_import_key(:'keen_token', '{"name": "Keen customer", "permitted": ["queries"],
    "options": {"queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "k1"}]}}}')
    AS keen \gset
SELECT name, is_active, permitted, expires_at FROM ak_list_keys('Keen customer');
SELECT ak_key_id(:'keen_token') = :'keen' AS found_by_token;

-- Refused: shorter than 32 characters, longer than 256, spaces or other
-- invisible characters, an "ak_" token whose checksum or shape is wrong,
-- a token already stored (by any key), NULLs.  No error shows the token or its hash.
SELECT ak_import_key(repeat('a', 31), '{"name": "x"}');
\echo SQLSTATE :SQLSTATE
SELECT ak_import_key(repeat('a', 257), '{"name": "x"}');
\echo SQLSTATE :SQLSTATE
SELECT ak_import_key(repeat('a', 20) || ' ' || repeat('a', 20), '{"name": "x"}');
\echo SQLSTATE :SQLSTATE
SELECT ak_import_key(repeat('a', 20) || 'é' || repeat('a', 20), '{"name": "x"}');
\echo SQLSTATE :SQLSTATE
SELECT ak_import_key('ak_live_' || repeat('a', 40), '{"name": "x"}');
\echo SQLSTATE :SQLSTATE
SELECT ak_import_key(:'keen_token', '{"name": "again"}');
\echo SQLSTATE :SQLSTATE
SELECT ak_import_key(:'carol_token', '{"name": "a native token that exists"}');
\echo SQLSTATE :SQLSTATE
SELECT ak_import_key(NULL, '{"name": "x"}');
\echo SQLSTATE :SQLSTATE
SELECT ak_import_key(repeat('a', 32), NULL);
\echo SQLSTATE :SQLSTATE
\set VERBOSITY terse
SELECT ak_import_key(repeat('a', 32), '{"name": "x"}', now() - interval '1 day');
\set VERBOSITY default
\echo SQLSTATE :SQLSTATE
-- Nothing was stored by the refusals.
SELECT count(*) AS keys_named_x FROM ak_list_keys('x');

-- Exactly 32 and 256 characters are accepted; an imported key can expire.
SELECT ak_import_key(repeat('b', 32), '{"name": "shortest"}') IS NOT NULL AS shortest,
       ak_import_key(repeat('c', 256), '{"name": "longest"}', now() + interval '1 day') IS NOT NULL AS longest;
SELECT name, expires_at > now() AS expires FROM ak_list_keys() WHERE name IN ('shortest', 'longest') ORDER BY name;

-- A native token moves between databases: delete its key here, import it again.
SELECT ak_delete_key(:'carol');
SELECT ak_import_key(:'carol_token', '{"name": "Carol moved"}') AS carol_moved \gset

-- Keen's key objects, as its API returns them: the members Keen alone uses
-- are ignored, the rest is the definition.
SELECT ak_import_keen_key('{
  "key": "9C4E1A7F3B6D2058E1F4A7C3B9D6E2A05F8C1E4B7A3D9F6C2E5B8A1D4F7C3E06",
  "name": "Keen export", "is_active": false, "permitted": ["writes", "queries"],
  "options": {"writes": {"autofill": {"customer": {"id": "k2"}}}, "queries": null},
  "project_id": "5c3a8f", "created_date": "2019-04-02T10:00:00.000Z", "last_modified_date": "2020-01-01T00:00:00.000Z"
}') AS keen_export \gset
SELECT ak_get_key(:'keen_export');
SELECT ak_import_keen_key('{"key": "7D2A9E4F1C6B3085D2A9E4F7C1B6083D5A2E9F4C7B1D6A3058E2F9C4D7A1B6E30", "name": "Keen, expiring"}',
                          now() + interval '1 hour') IS NOT NULL AS imported;
SELECT expires_at > now() AS expires FROM ak_list_keys('Keen, expiring');
-- Strict as every definition: an unknown member is an error naming it.
SELECT ak_import_keen_key('{"key": "5E2A9C4F7B1D6E3085A2E9C4F7B1D6A3058E2F9C4D7A1B6E309C4E1A7F3B6D20", "name": "x", "permited": []}');
SELECT ak_import_keen_key('{"name": "no token"}');
\echo SQLSTATE :SQLSTATE
SELECT ak_import_keen_key('{"key": 12345, "name": "x"}');
\echo SQLSTATE :SQLSTATE
SELECT ak_import_keen_key('[{"key": "x"}]');
\echo SQLSTATE :SQLSTATE
SELECT ak_import_keen_key('{"key": "short", "name": "x"}');
\echo SQLSTATE :SQLSTATE
SELECT ak_import_keen_key(NULL);
\echo SQLSTATE :SQLSTATE

-- An imported token validates through every path: ak_use_key, SET LOCAL,
-- set_config, and the row-level security of a protected collection.
RESET ROLE;
CREATE TABLE public.lifecycle_events (properties jsonb);
SELECT ak_protect('public.lifecycle_events');
INSERT INTO public.lifecycle_events VALUES ('{"customer": {"id": "k1"}, "n": 1}'), ('{"customer": {"id": "k2"}, "n": 2}'),
    ('{"customer": {"id": "k1"}, "n": 3}');
GRANT SELECT ON public.lifecycle_events TO regress_ak_app;
SET ROLE regress_ak_app;
BEGIN;
SELECT ak_use_key(:'keen_token') = :'keen' AS ak_use_key;
SELECT ak_current_key_id() = :'keen' AS current_key_id, ak_permits('queries') AS permits_queries;
SELECT array_agg(properties ->> 'n' ORDER BY properties ->> 'n') AS visible_rows FROM public.lifecycle_events;
ROLLBACK;
BEGIN;
SET LOCAL access_key.key = :'keen_token';
SELECT ak_current_key_id() = :'keen' AS set_local, count(*) AS visible_rows FROM public.lifecycle_events;
SHOW access_key.key;
ROLLBACK;
BEGIN;
SELECT set_config('access_key.key', :'keen_token', true) IS NOT NULL AS set_config;
SELECT ak_current_key_id() = :'keen' AS via_set_config;
ROLLBACK;
SELECT pg_temp.present(:'carol_token') AS moved_native_token,
       pg_temp.present('9C4E1A7F3B6D2058E1F4A7C3B9D6E2A05F8C1E4B7A3D9F6C2E5B8A1D4F7C3E06') AS revoked_keen_key;
-- A token one character off is simply unknown: imported tokens carry no checksum.
SELECT pg_temp.present(overlay(:'keen_token' placing '0' from 64 for 1)) AS one_character_off;
SELECT pg_temp.present(repeat('a', 31)) AS too_short, pg_temp.present(repeat('a', 257)) AS too_long,
       pg_temp.present(repeat('a', 20) || ' ' || repeat('a', 20)) AS with_a_space;
RESET ROLE;
DROP TABLE public.lifecycle_events;
SET ROLE regress_ak_admin;

------------------------------------------------------------------------------
-- Merge patches (RFC 7396)
------------------------------------------------------------------------------

SELECT id AS dan FROM ak_create_key('{"name": "Dan", "permitted": ["writes", "queries"],
    "options": {"writes": {"autofill": {"a": "b", "c": {"d": "e", "f": "g"}, "list": [1, 2], "e": null}},
                "queries": {"filters": [{"property_name": "t", "operator": "eq", "property_value": 1}]}}}') \gset
-- Members merge recursively; null removes; arrays are replaced, never merged;
-- a null already in the target stays; members the patch does not name stay.
SELECT ak_patch_key(:'dan', '{"options": {"writes": {"autofill": {"a": "z", "c": {"f": null, "h": {"i": null}}, "list": [3]}}}}');
-- Removing a section, and a whole member that has a default.
SELECT ak_patch_key(:'dan', '{"options": {"queries": null}, "permitted": null}');
-- The result is validated like any definition, with the path of the fault.
SELECT ak_patch_key(:'dan', '{"permitted": ["reads"]}');
SELECT ak_patch_key(:'dan', '{"name": null}');
SELECT ak_patch_key(:'dan', '{"options": {"queries": {"filter": []}}}');
-- A patch that is not an object replaces the whole definition, so it fails.
SELECT ak_patch_key(:'dan', '[]');
SELECT ak_patch_key(:'dan', '"Dan"');
SELECT ak_patch_key(:'dan', NULL);
\echo SQLSTATE :SQLSTATE
SELECT ak_patch_key('00000000-0000-0000-0000-000000000000', '{}');
\echo SQLSTATE :SQLSTATE
-- Nothing changed by the failures; an empty patch changes nothing.
SELECT ak_patch_key(:'dan', '{}') = ak_get_key(:'dan') AS empty_patch_is_identity, ak_get_key(:'dan');

------------------------------------------------------------------------------
-- Updating a revoked key never re-activates it unless the new definition
-- says "is_active": true
------------------------------------------------------------------------------

SELECT id AS eve FROM ak_create_key('{"name": "Eve", "permitted": ["queries"]}') \gset
SELECT ak_revoke_key(:'eve');
-- Keen's update semantics (the whole definition) without is_active: still revoked.
SELECT ak_update_key(:'eve', '{"name": "Eve", "permitted": ["queries", "writes"]}');
-- A patch that does not name is_active, or removes it (null): still revoked.
SELECT ak_patch_key(:'eve', '{"permitted": ["queries"]}')::jsonb -> 'is_active' AS patched;
SELECT (ak_patch_key(:'eve', '{"is_active": null}')::jsonb) -> 'is_active' AS is_active_removed;
-- A definition read back from the store prints "is_active": true for an
-- active key, but was not written so: it does not re-activate either.
SELECT id AS frank FROM ak_create_key('{"name": "Frank"}') \gset
SELECT (ak_update_key(:'eve', ak_get_key(:'frank'))::jsonb) -> 'is_active' AS copied_definition;
-- Saying it, in text or in jsonb, re-activates.
SELECT ak_update_key(:'eve', '{"name": "Eve", "is_active": true}');
SELECT ak_revoke_key(:'eve');
SELECT (ak_update_key(:'eve', '{"name": "Eve", "is_active": true}'::jsonb::access_key)::jsonb) -> 'is_active' AS from_jsonb;
SELECT ak_revoke_key(:'eve');
SELECT ak_patch_key(:'eve', '{"is_active": true}')::jsonb -> 'is_active' AS patched_active;
SELECT is_active FROM ak_list_keys('Eve');
-- An active key is revoked by a definition that says false, and stays
-- active with one that says nothing.
SELECT (ak_update_key(:'eve', '{"name": "Eve"}')::jsonb) -> 'is_active' AS stays_active;
SELECT (ak_update_key(:'eve', '{"name": "Eve", "is_active": false}')::jsonb) -> 'is_active' AS revoked_by_update;
SELECT (ak_patch_key(:'eve', '{"is_active": false}')::jsonb) -> 'is_active' AS revoked_by_patch_too;

-- How a value was written never changes what it is: =, hashing, DISTINCT,
-- output and binary send all ignore it.
SELECT '{"name": "x"}'::access_key = '{"name": "x", "is_active": true}'::access_key AS equal,
       access_key_hash('{"name": "x"}') = access_key_hash('{"name": "x", "is_active": true}') AS same_hash,
       access_key_send('{"name": "x"}') = access_key_send('{"name": "x", "is_active": true}') AS same_send,
       (SELECT count(*) FROM (SELECT DISTINCT d FROM (VALUES ('{"name": "x"}'::access_key),
                                                              ('{"name": "x", "is_active": true}')) AS v(d)) AS u) AS distinct_values,
       '{"name": "x"}'::access_key::text = '{"name": "x", "is_active": true}'::access_key::text AS same_text;

------------------------------------------------------------------------------
-- Who may call these
------------------------------------------------------------------------------

-- Not an application role.
SET ROLE regress_ak_app;
SELECT ak_rotate_key(:'bob');
SELECT ak_key_id(:'carol_token');
SELECT ak_patch_key(:'bob', '{}');
SELECT ak_set_key_expiry(:'bob', NULL);
SELECT ak_import_key(repeat('d', 32), '{"name": "x"}');
SELECT ak_import_keen_key('{}');
-- Not a session that presents a key, whatever its role.
SET ROLE regress_ak_admin;
BEGIN;
SET LOCAL access_key.key = :'keen_token';
SELECT ak_rotate_key(:'keen');
\echo SQLSTATE :SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL access_key.key = :'keen_token';
SELECT ak_key_id(:'keen_token');
ROLLBACK;
BEGIN;
SET LOCAL access_key.key = :'keen_token';
SELECT ak_patch_key(:'keen', '{"permitted": ["keys"]}');
ROLLBACK;
BEGIN;
SET LOCAL access_key.key = :'keen_token';
SELECT ak_set_key_expiry(:'keen', NULL);
ROLLBACK;
BEGIN;
SET LOCAL access_key.key = :'keen_token';
SELECT ak_import_key(repeat('d', 32), '{"name": "x"}');
ROLLBACK;
BEGIN;
SET LOCAL access_key.key = :'keen_token';
SELECT ak_import_keen_key('{}');
ROLLBACK;
RESET ROLE;

-- Clean up.
DELETE FROM access_key.keys;
DROP OWNED BY regress_ak_admin, regress_ak_app;
DROP ROLE regress_ak_admin, regress_ak_app;
