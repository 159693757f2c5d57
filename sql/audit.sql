-- The key audit log (docs/reference.md#audit-log): a row for every lifecycle
-- change, written in the changing transaction, never holding a token or a
-- hash, readable only by roles granted the view, and append-only.
SET search_path = access_key, public;
CREATE ROLE regress_ak_admin;
CREATE ROLE regress_ak_auditor;
CREATE ROLE regress_ak_app;
GRANT EXECUTE ON FUNCTION ak_create_key(access_key, timestamptz), ak_update_key(uuid, access_key),
    ak_patch_key(uuid, jsonb), ak_revoke_key(uuid), ak_unrevoke_key(uuid), ak_delete_key(uuid),
    ak_rotate_key(uuid, interval), ak_set_key_expiry(uuid, timestamptz),
    ak_import_key(text, access_key, timestamptz), ak_import_keen_key(jsonb, timestamptz)
TO regress_ak_admin;
GRANT SELECT ON key_audit TO regress_ak_auditor;

-- Every token this test sees, to look for in the log afterwards.
CREATE TEMP TABLE seen_tokens (token text);
GRANT INSERT ON seen_tokens TO regress_ak_admin;

-- Other tests leave rows behind: this one looks at its own.
SELECT coalesce(max(id), 0) AS start FROM key_audit \gset
SET ROLE regress_ak_admin;
SELECT id AS ada, key AS ada_token FROM ak_create_key('{"name": "Ada", "permitted": ["queries"]}',
                                                      '2999-01-01 00:00:00+00') \gset
INSERT INTO seen_tokens VALUES (:'ada_token');
SELECT ak_update_key(:'ada', '{"name": "Ada Corp", "permitted": ["queries"]}') IS NOT NULL AS updated;
SELECT ak_patch_key(:'ada', '{"permitted": ["queries", "writes"]}') IS NOT NULL AS patched;
SELECT ak_revoke_key(:'ada');
SELECT ak_unrevoke_key(:'ada');
INSERT INTO seen_tokens SELECT ak_rotate_key(:'ada', '1 hour');
SELECT ak_set_key_expiry(:'ada', NULL);
\set keen_token '3C8E1F5A9B2D7046C3E8F1A5B9D2E704A6C3F8E1B5D9A2C7E4F1B6A3D8C5E2F07'
INSERT INTO seen_tokens VALUES (:'keen_token');
SELECT ak_import_key(:'keen_token', '{"name": "Keen"}') AS keen \gset
SELECT ak_import_keen_key('{"key": "6F1A8C3E5B9D2047F6A1C8E3B5D9F2A07C4E1B8A6D3F9C5E2B7A4D1F8C6E3A09",
                            "name": "Keen export", "project_id": "p1"}') AS keen_export \gset
INSERT INTO seen_tokens VALUES ('6F1A8C3E5B9D2047F6A1C8E3B5D9F2A07C4E1B8A6D3F9C5E2B7A4D1F8C6E3A09');
SELECT ak_delete_key(:'keen');
-- A change that rolls back leaves no row; a failed one neither.
BEGIN;
SELECT ak_revoke_key(:'ada');
ROLLBACK;
\set VERBOSITY terse
SELECT ak_update_key(:'ada', '{"name": "Ada", "permitted": ["nope"]}');
\set VERBOSITY default
RESET ROLE;

-- One row per change, in order, by the role that made it (current_user and
-- session_user), with what changed.  Times are when the change's transaction began.
SELECT operation, role, session_role = session_user AS session_role_ok,
       CASE key_id WHEN :'ada' THEN 'ada' WHEN :'keen' THEN 'keen' WHEN :'keen_export' THEN 'keen export' END AS key,
       parent_id, at <= now() AS at_ok,
       regexp_replace(changes::text, '"\d{4}-\d\d-\d\dT[^"]*"', '"<time>"', 'g') AS changes
FROM key_audit WHERE id > :start ORDER BY id;

-- Never a token, a piece of one, or a stored hash.
SELECT count(*) AS rows_with_a_token
FROM key_audit_log AS a, seen_tokens AS t
WHERE a::text LIKE '%' || t.token || '%' OR a::text LIKE '%' || substr(t.token, 5, 16) || '%';
SELECT count(*) AS rows_with_a_hash
FROM key_audit_log AS a, key_tokens AS k
WHERE a::text LIKE '%' || encode(k.token_hash, 'hex') || '%' OR a::text LIKE '%' || encode(k.token_hash, 'base64') || '%';

-- Who may read it: roles granted SELECT on the view; not the admin of keys,
-- not an application role, and nobody but its owner reads the table.
SET ROLE regress_ak_auditor;
SELECT count(*) > 0 AS auditor_reads FROM key_audit;
SELECT count(*) FROM key_audit_log;
\echo SQLSTATE :SQLSTATE
-- ... and cannot change it, through the view or otherwise.
UPDATE key_audit SET operation = 'create';
\echo SQLSTATE :SQLSTATE
DELETE FROM key_audit;
\echo SQLSTATE :SQLSTATE
INSERT INTO key_audit (key_id, operation, changes, role, session_role) VALUES (gen_random_uuid(), 'create', '{}', 'x', 'x');
\echo SQLSTATE :SQLSTATE
SELECT ak_prune_audit(now());
\echo SQLSTATE :SQLSTATE
SET ROLE regress_ak_admin;
SELECT count(*) FROM key_audit;
\echo SQLSTATE :SQLSTATE
SET ROLE regress_ak_app;
SELECT count(*) FROM key_audit;
\echo SQLSTATE :SQLSTATE
TRUNCATE key_audit_log;
\echo SQLSTATE :SQLSTATE
RESET ROLE;

-- Append-only even for its owner: no UPDATE, DELETE or TRUNCATE.
UPDATE key_audit_log SET operation = 'create' WHERE operation = 'delete';
\echo SQLSTATE :SQLSTATE
DELETE FROM key_audit_log;
\echo SQLSTATE :SQLSTATE
TRUNCATE key_audit_log;
\echo SQLSTATE :SQLSTATE
UPDATE key_audit SET changes = '{}';
\echo SQLSTATE :SQLSTATE
SELECT count(*) AS rows_kept FROM key_audit WHERE id > :start;

-- The trigger function refuses to work for another table, or as a row trigger.
CREATE TEMP TABLE not_the_log (x int);
CREATE TRIGGER t BEFORE DELETE ON not_the_log FOR EACH STATEMENT EXECUTE FUNCTION ak_audit_append_only();
DELETE FROM not_the_log;
DROP TRIGGER t ON not_the_log;
CREATE TRIGGER t BEFORE DELETE ON not_the_log FOR EACH ROW EXECUTE FUNCTION ak_audit_append_only();
INSERT INTO not_the_log VALUES (1);
DELETE FROM not_the_log;
SELECT ak_audit_append_only();

-- Retention: ak_prune_audit removes the rows older than a time, and only those.
GRANT EXECUTE ON FUNCTION ak_prune_audit(timestamptz) TO regress_ak_admin;
SET ROLE regress_ak_admin;
SELECT ak_prune_audit(now() - interval '1 day') AS pruned_nothing_recent;
BEGIN;
SET LOCAL access_key.key = :'ada_token';
SELECT ak_prune_audit(now());
\echo SQLSTATE :SQLSTATE
ROLLBACK;
SELECT ak_prune_audit(NULL);
\echo SQLSTATE :SQLSTATE
-- A cutoff in the future would erase the caller's own changes of this transaction.
BEGIN;
SELECT ak_revoke_key(:'ada');
\set VERBOSITY terse
SELECT ak_prune_audit(now() + interval '1 second');
\set VERBOSITY default
\echo SQLSTATE :SQLSTATE
ROLLBACK;
SELECT ak_revoke_key(:'ada');
-- Rows of this transaction and earlier ones: pruning "older than now()" keeps this one's.
RESET ROLE;
SELECT count(*) AS older_rows FROM key_audit_log \gset
SET ROLE regress_ak_admin;
BEGIN;
SELECT ak_unrevoke_key(:'ada');
SELECT ak_prune_audit(now()) = :older_rows AS pruned_every_older_row;
COMMIT;
RESET ROLE;
SELECT operation FROM key_audit ORDER BY id;
-- Pruning leaves the table append-only again.
DELETE FROM key_audit_log;
\echo SQLSTATE :SQLSTATE

-- Clean up.
DELETE FROM keys;
DROP TABLE seen_tokens, not_the_log;
DROP OWNED BY regress_ak_admin, regress_ak_auditor, regress_ak_app;
DROP ROLE regress_ak_admin, regress_ak_auditor, regress_ak_app;
