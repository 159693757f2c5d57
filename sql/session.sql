-- Presenting a key (docs/reference.md#presenting-a-key): the setting, ak_use_key, and every error case.
SET search_path = access_key, public;
CREATE ROLE regress_ak_app;

SELECT id AS ada_id, key AS ada_token FROM ak_create_key('{"name": "Ada", "permitted": ["queries"]}') \gset
SELECT id AS gone_id, key AS gone_token FROM ak_create_key('{"name": "Gone"}') \gset
SELECT ak_delete_key(:'gone_id');

SET ROLE regress_ak_app;

-- No key is not an error: nothing is permitted.
SELECT ak_current_key_id() IS NULL AS no_id, ak_current_key() IS NULL AS no_definition,
       ak_permits('queries') AS permits_queries;
SET access_key.key = '';
SELECT ak_current_key_id() IS NULL AS empty_means_no_key, ak_permits('queries') AS permits_queries;
RESET access_key.key;

-- ak_use_key validates at once and returns the key id; is_local is the default.
BEGIN;
SELECT ak_use_key(:'ada_token') = :'ada_id' AS returns_id;
SELECT ak_current_key_id() = :'ada_id' AS current_id, ak_current_key() AS definition,
       ak_permits('queries') AS permits_queries;
COMMIT;
SELECT ak_current_key_id() IS NULL AS local_key_gone_after_commit;

-- Session-wide with is_local => false, until RESET or DISCARD ALL.
SELECT ak_use_key(:'ada_token', false) = :'ada_id' AS session_key;
SELECT ak_current_key_id() = :'ada_id' AS still_presented;
RESET access_key.key;
SELECT ak_current_key_id() IS NULL AS cleared_by_reset;
SELECT ak_use_key(:'ada_token', is_local => false) IS NOT NULL AS session_key;
RESET ROLE;
DISCARD ALL;
SET search_path = access_key, public;
SELECT ak_current_key_id() IS NULL AS cleared_by_discard_all;
SET ROLE regress_ak_app;

-- SET LOCAL works as well as ak_use_key, and set_config too.
BEGIN;
SET LOCAL access_key.key = :'ada_token';
SELECT ak_current_key_id() = :'ada_id' AS set_local_works;
ROLLBACK;
BEGIN;
SELECT set_config('access_key.key', :'ada_token', true) AS shown;
SELECT ak_current_key_id() = :'ada_id' AS set_config_works;
ROLLBACK;

-- The token is never printed: SHOW and current_setting() redact it, and
-- SHOW ALL / pg_settings leave the setting out.
BEGIN;
SELECT ak_use_key(:'ada_token') IS NOT NULL;
SHOW access_key.key;
SELECT current_setting('access_key.key');
SELECT count(*) AS in_pg_settings FROM pg_settings WHERE name = 'access_key.key';
ROLLBACK;
SHOW access_key.key;

-- Calling ak_use_key with is_local outside a transaction block warns: it has no lasting effect.
SELECT ak_use_key(:'ada_token') = :'ada_id' AS validated;
SELECT ak_current_key_id() IS NULL AS no_lasting_effect;

-- Errors: each invalid token raises 28000 with a detail saying why, from
-- every function that consults it.
SELECT ak_use_key(NULL);
\echo SQLSTATE :SQLSTATE
SELECT ak_use_key('', false);
\echo SQLSTATE :SQLSTATE
SELECT ak_use_key('garbage', false);
\echo SQLSTATE :SQLSTATE
SELECT ak_use_key('ak_short', false);
\echo SQLSTATE :SQLSTATE
SELECT ak_use_key('ak_' || repeat('-', 49), false);
\echo SQLSTATE :SQLSTATE
-- A mistyped character breaks the checksum: rejected before any lookup.
SELECT ak_use_key(overlay(:'ada_token' placing (CASE WHEN substr(:'ada_token', 10, 1) = 'x' THEN 'y' ELSE 'x' END) from 10 for 1), false);
\echo SQLSTATE :SQLSTATE
SELECT ak_use_key(left(:'ada_token', 51), false);
\echo SQLSTATE :SQLSTATE
-- Well-formed but unknown (its key was deleted).
SELECT ak_use_key(:'gone_token', false);
\echo SQLSTATE :SQLSTATE
-- Invalid tokens set directly fail in each function that consults them.
BEGIN;
SET LOCAL access_key.key = 'garbage';
SELECT ak_permits('queries');
\echo SQLSTATE :SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL access_key.key = :'gone_token';
SELECT ak_current_key_id();
\echo SQLSTATE :SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL access_key.key = :'gone_token';
SELECT ak_current_key();
\echo SQLSTATE :SQLSTATE
ROLLBACK;
-- A failed ak_use_key leaves no key behind.
BEGIN;
SELECT ak_use_key(:'ada_token', false) IS NOT NULL AS first_key;
SAVEPOINT s;
SELECT ak_use_key('garbage', false);
\echo SQLSTATE :SQLSTATE
ROLLBACK TO s;
SELECT ak_current_key_id() = :'ada_id' AS previous_key_kept;
ROLLBACK;

-- Revoked: invalid from the next statement; unrevoked: valid again.
RESET ROLE;
SELECT ak_revoke_key(:'ada_id');
SET ROLE regress_ak_app;
SELECT ak_use_key(:'ada_token', false);
\echo SQLSTATE :SQLSTATE
BEGIN;
SET LOCAL access_key.key = :'ada_token';
SELECT ak_permits('queries');
\echo SQLSTATE :SQLSTATE
ROLLBACK;
RESET ROLE;
SELECT ak_unrevoke_key(:'ada_id');
SET ROLE regress_ak_app;
BEGIN;
SELECT ak_use_key(:'ada_token') = :'ada_id' AS valid_again;
ROLLBACK;

-- A revoke applied with triggers disabled for replication still reaches the cache.
BEGIN; SELECT ak_use_key(:'ada_token') = :'ada_id' AS cached; COMMIT;
RESET ROLE;
SET session_replication_role = replica;
SELECT ak_revoke_key(:'ada_id');
RESET session_replication_role;
SET ROLE regress_ak_app;
SELECT ak_use_key(:'ada_token', false);
\echo SQLSTATE :SQLSTATE
RESET ROLE;
SELECT ak_unrevoke_key(:'ada_id');
SET ROLE regress_ak_app;

-- Expired.
RESET ROLE;
UPDATE access_key.keys SET expires_at = '2020-01-01 00:00:00+00' WHERE id = :'ada_id';
SET ROLE regress_ak_app;
SELECT ak_use_key(:'ada_token', false);
\echo SQLSTATE :SQLSTATE
RESET ROLE;
UPDATE access_key.keys SET expires_at = NULL WHERE id = :'ada_id';

-- The token cannot be stored where every role could read it.
ALTER ROLE regress_ak_app SET access_key.key = 'ak_x';
\echo SQLSTATE :SQLSTATE
ALTER DATABASE contrib_regression SET access_key.key = 'ak_x';
\echo SQLSTATE :SQLSTATE
CREATE FUNCTION pg_temp.keyed() RETURNS int LANGUAGE sql SET access_key.key = 'ak_x' AS 'SELECT 1';
\echo SQLSTATE :SQLSTATE
-- ... while resetting there is fine.
ALTER ROLE regress_ak_app RESET access_key.key;
-- The access_key prefix is reserved: a typo is an error, not a silent placeholder.
SET access_key.kye = 'x';

-- Clean up.
DELETE FROM access_key.keys;
DROP ROLE regress_ak_app;
