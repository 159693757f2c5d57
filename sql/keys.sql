-- Key store and lifecycle (docs/reference.md#admin-functions), run as a non-superuser admin role.
SET search_path = access_key, public;
CREATE ROLE regress_ak_admin;
CREATE ROLE regress_ak_app;
GRANT EXECUTE ON FUNCTION ak_create_key(access_key, timestamptz), ak_get_key(uuid),
    ak_list_keys(text), ak_update_key(uuid, access_key), ak_revoke_key(uuid),
    ak_unrevoke_key(uuid), ak_delete_key(uuid) TO regress_ak_admin;

SET ROLE regress_ak_admin;

-- Creating a key returns the token once, with the canonical definition.
SELECT id AS ada_id, key AS ada_token, definition, created_at IS NOT NULL AS has_created_at,
       expires_at IS NULL AS no_expiry
FROM ak_create_key('{"name": "Ada Corp", "permitted": ["queries"]}') \gset
SELECT :'definition' AS definition, :'has_created_at' AS has_created_at, :'no_expiry' AS no_expiry;

-- Token format: ak_ + 43 base62 characters (256 bits) + 6 base62 checksum characters.
SELECT :'ada_token' ~ '^ak_[0-9A-Za-z]{43}[0-9A-Za-z]{6}$' AS token_format,
       length(:'ada_token') AS token_length;
-- Two keys never share a token.
SELECT count(DISTINCT key) AS distinct_tokens, count(DISTINCT id) AS distinct_ids
FROM generate_series(1, 20) AS i, LATERAL ak_create_key(format('{"name": "batch %s"}', i)::access_key);

-- An expiry in the past is refused, one in the future is kept.
\set VERBOSITY terse
SELECT * FROM ak_create_key('{"name": "late"}', now() - interval '1 day');
\set VERBOSITY default
SELECT id AS expiring_id, expires_at > now() AS expires_in_future
FROM ak_create_key('{"name": "expiring"}', now() + interval '30 days') \gset
SELECT :'expires_in_future';

-- Reading keys back.
SELECT ak_get_key(:'ada_id');
SELECT name, is_active, permitted, updated_at >= created_at AS updated_after_created,
       expires_at, last_used_at, parent_id
FROM ak_list_keys('Ada Corp');
SELECT count(*) AS batch_keys FROM ak_list_keys() WHERE name LIKE 'batch %';
SELECT count(*) AS exact_name_only FROM ak_list_keys('batch');
SELECT count(*) AS all_keys FROM ak_list_keys();
-- The listing has no column that could hold a hash or a token.
SELECT string_agg(column_name, ', ') AS list_columns
FROM (SELECT unnest(proargnames) AS column_name FROM pg_proc WHERE proname = 'ak_list_keys') AS c;

-- Update replaces the whole definition; the token stays.
SELECT ak_update_key(:'ada_id', '{"name": "Ada Corp", "permitted": ["queries", "writes"]}');
SELECT ak_get_key(:'ada_id');
SELECT ak_update_key((SELECT id FROM ak_list_keys('Ada Corp')), '{"name": "Ada Corp", "permitted": ["nope"]}');
SELECT ak_get_key(:'ada_id') = '{"name": "Ada Corp", "permitted": ["queries", "writes"]}' AS unchanged_after_bad_update;

-- Revoke and unrevoke flip is_active.
SELECT ak_revoke_key(:'ada_id');
SELECT is_active FROM ak_list_keys('Ada Corp');
SELECT ak_unrevoke_key(:'ada_id');
SELECT is_active FROM ak_list_keys('Ada Corp');

-- Unknown ids are errors, not silent no-ops.
SELECT ak_get_key('00000000-0000-0000-0000-000000000000');
\echo SQLSTATE :SQLSTATE
SELECT ak_update_key('00000000-0000-0000-0000-000000000000', '{"name": "x"}');
\echo SQLSTATE :SQLSTATE
SELECT ak_revoke_key('00000000-0000-0000-0000-000000000000');
\echo SQLSTATE :SQLSTATE
SELECT ak_unrevoke_key('00000000-0000-0000-0000-000000000000');
\echo SQLSTATE :SQLSTATE
SELECT ak_delete_key('00000000-0000-0000-0000-000000000000');
\echo SQLSTATE :SQLSTATE

-- NULL arguments are clear errors.
SELECT * FROM ak_create_key(NULL);
\echo SQLSTATE :SQLSTATE
SELECT ak_get_key(NULL);
\echo SQLSTATE :SQLSTATE
SELECT ak_update_key(:'ada_id', NULL);
\echo SQLSTATE :SQLSTATE

-- The admin role cannot read the key tables directly.
SELECT count(*) FROM access_key.keys;
\echo SQLSTATE :SQLSTATE
SELECT count(*) FROM access_key.key_tokens;

-- Admin functions refuse while the session presents a key, whatever the role.
BEGIN;
SELECT ak_use_key(:'ada_token') = :'ada_id' AS presenting;
SELECT * FROM ak_create_key('{"name": "sneaky"}');
\echo SQLSTATE :SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL access_key.key = 'ak_not_even_valid';
SELECT ak_list_keys();
\echo SQLSTATE :SQLSTATE
ROLLBACK;
BEGIN;
SELECT ak_use_key(:'ada_token') IS NOT NULL AS presenting;
SELECT ak_get_key(:'ada_id');
ROLLBACK;
BEGIN;
SELECT ak_use_key(:'ada_token') IS NOT NULL AS presenting;
SELECT ak_update_key(:'ada_id', '{"name": "mine now", "permitted": ["queries", "writes", "keys"]}');
ROLLBACK;
BEGIN;
SELECT ak_use_key(:'ada_token') IS NOT NULL AS presenting;
SELECT ak_revoke_key(:'ada_id');
ROLLBACK;
BEGIN;
SELECT ak_use_key(:'ada_token') IS NOT NULL AS presenting;
SELECT ak_unrevoke_key(:'ada_id');
ROLLBACK;
BEGIN;
SELECT ak_use_key(:'ada_token') IS NOT NULL AS presenting;
SELECT ak_delete_key(:'ada_id');
ROLLBACK;
RESET ROLE;

-- A plain role has none of the admin functions.
SET ROLE regress_ak_app;
SELECT * FROM ak_create_key('{"name": "x"}');
SELECT ak_get_key(:'ada_id');
SELECT ak_list_keys();
\echo SQLSTATE :SQLSTATE
SELECT ak_update_key(:'ada_id', '{"name": "x"}');
SELECT ak_revoke_key(:'ada_id');
SELECT ak_unrevoke_key(:'ada_id');
SELECT ak_delete_key(:'ada_id');
SELECT count(*) FROM access_key.keys;
\echo SQLSTATE :SQLSTATE
RESET ROLE;

-- Only a BLAKE2b-256 hash is stored: no column of any extension table holds
-- a token, or any text starting with ak_.
SELECT octet_length(token_hash) AS hash_bytes, position(convert_to(:'ada_token', 'UTF8') IN token_hash) AS token_inside
FROM access_key.key_tokens WHERE key_id = :'ada_id';
CREATE FUNCTION pg_temp.columns_containing(needle text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    col record;
    hits bigint := 0;
    n bigint;
BEGIN
    FOR col IN
        SELECT c.oid::regclass AS rel, a.attname, a.atttypid = 'bytea'::regtype AS is_bytea
        FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
        WHERE c.relnamespace = 'access_key'::regnamespace AND c.relkind = 'r'
          AND a.attnum > 0 AND NOT a.attisdropped
    LOOP
        -- Bytes are searched as raw bytes, everything else as its text.
        EXECUTE format(CASE WHEN col.is_bytea THEN 'SELECT count(*) FROM %s WHERE encode(%I, ''escape'') LIKE %L'
                            ELSE 'SELECT count(*) FROM %s WHERE %I::text LIKE %L' END,
                       col.rel, col.attname, '%' || needle || '%')
            INTO n;
        hits := hits + n;
    END LOOP;
    RETURN hits;
END
$$;
SELECT pg_temp.columns_containing(:'ada_token') AS cells_with_token,
       pg_temp.columns_containing(substr(:'ada_token', 4, 20)) AS cells_with_token_part;

-- Known answers: the stored hash is BLAKE2b-256 of the token's bytes, and the
-- checksum is zlib's CRC-32 in base62, both computed independently (Python:
-- hashlib.blake2b(token.encode(), digest_size=32), zlib.crc32).  A 64-hex
-- Keen key and a native token with its checksum:
SELECT access_key.ak_import_key('8F4A7C2E91B3D6054E2A9C7F1B8D3E6A0C5F9B2D7E4A1C8F6B3D0E9A2C7F5B14',
                                '{"name": "known answer, Keen"}') AS keen_known_id \gset
SELECT access_key.ak_import_key('ak_Keen2Access0Key1Known2Answer3Test4Vector5671HHAGA',
                                '{"name": "known answer, native"}') AS native_known_id \gset
SELECT k.name, encode(t.token_hash, 'hex') AS token_hash
FROM access_key.key_tokens AS t JOIN access_key.ak_list_keys() AS k ON k.id = t.key_id
WHERE t.key_id IN (:'keen_known_id', :'native_known_id') ORDER BY k.name;
-- One character off the native token breaks its checksum.
SELECT access_key.ak_import_key('ak_Keen2Access0Key1Known2Answer3Test4Vector5671HHAGB', '{"name": "typo"}');
\echo SQLSTATE :SQLSTATE

-- Deleting removes the key and its tokens.
SET ROLE regress_ak_admin;
SELECT ak_delete_key(:'ada_id');
SELECT count(*) AS left_named_ada FROM ak_list_keys('Ada Corp');
RESET ROLE;
SELECT count(*) AS tokens_left FROM access_key.key_tokens WHERE key_id = :'ada_id';

-- The key tables are extension configuration tables: pg_dump keeps their rows.
SELECT extconfig::regclass[] FROM pg_extension WHERE extname = 'access_key';

-- Clean up.
DELETE FROM access_key.keys;
DROP OWNED BY regress_ak_admin, regress_ak_app;
DROP ROLE regress_ak_admin, regress_ak_app;
