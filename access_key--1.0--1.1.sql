-- access_key 1.0 -> 1.1
--
-- Released upgrade scripts are never edited; this one is written alongside
-- access_key.sql until 1.1 is released, and test upgrade checks that a 1.0
-- database updated with it has exactly the objects of a fresh 1.1 install.

\echo Use "ALTER EXTENSION access_key UPDATE TO '1.1'" to load this file. \quit

------------------------------------------------------------------------------
-- Least privilege: trigger functions, planner support and the admin guard
-- are not for PUBLIC.
------------------------------------------------------------------------------

REVOKE ALL ON FUNCTION
    access_key.ak_apply_filters_support(internal),
    access_key.ak_autofill_trigger(),
    access_key.ak_forbid_keyed_changes()
FROM PUBLIC;

------------------------------------------------------------------------------
-- Protected collections are recorded in a catalog table, not recognised by a
-- trigger's name; ak_protect and ak_unprotect are C.
------------------------------------------------------------------------------

CREATE TABLE access_key.collections (
    collection regclass NOT NULL,
    properties_column name NOT NULL,
    protected_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT collections_pkey PRIMARY KEY (collection)
);
COMMENT ON TABLE access_key.collections IS 'protected event collections and their properties columns';
REVOKE ALL ON access_key.collections FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('access_key.collections', '');

-- Dropping a protected table forgets it (see ak_collection_dropped).
CREATE FUNCTION access_key.ak_collection_dropped() RETURNS event_trigger
    AS 'MODULE_PATHNAME' LANGUAGE C;
REVOKE ALL ON FUNCTION access_key.ak_collection_dropped() FROM PUBLIC;
CREATE EVENT TRIGGER access_key_collection_dropped ON sql_drop
    EXECUTE FUNCTION access_key.ak_collection_dropped();

-- Every table 1.0's ak_protect set up: its autofill trigger's argument names
-- the properties column (tgargs holds NUL-terminated arguments).
INSERT INTO access_key.collections (collection, properties_column)
SELECT t.tgrelid::pg_catalog.regclass,
       pg_catalog.convert_from(
           pg_catalog.substr(t.tgargs, 1,
               pg_catalog.position(t.tgargs, '\x00'::pg_catalog.bytea) OPERATOR(pg_catalog.-) 1),
           pg_catalog.getdatabaseencoding())::pg_catalog.name
FROM pg_catalog.pg_trigger AS t
WHERE t.tgname OPERATOR(pg_catalog.=) 'access_key_autofill'
  AND t.tgfoid OPERATOR(pg_catalog.=) 'access_key.ak_autofill_trigger()'::pg_catalog.regprocedure;

-- CREATE OR REPLACE keeps the privileges admins granted on them.
CREATE OR REPLACE FUNCTION access_key.ak_protect(collection regclass, properties_column name DEFAULT 'properties')
RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
CREATE OR REPLACE FUNCTION access_key.ak_unprotect(collection regclass) RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;

------------------------------------------------------------------------------
-- Listing and schema inspection in C: their internal SQL helpers go.
------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION access_key.ak_list_saved_queries() RETURNS SETOF text
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
CREATE OR REPLACE FUNCTION access_key.ak_list_datasets() RETURNS SETOF text
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
CREATE OR REPLACE FUNCTION access_key.ak_collections() RETURNS SETOF regclass
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
CREATE OR REPLACE FUNCTION access_key.ak_schema(collection regclass)
RETURNS TABLE (property_name text, type text)
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT;
DROP FUNCTION access_key.ak_readable_saved_queries();
DROP FUNCTION access_key.ak_visible_datasets();
DROP FUNCTION access_key.ak_require_schema_access();
DROP FUNCTION access_key.ak_keen_type(text, jsonb);

------------------------------------------------------------------------------
-- Key administration and deletions in C (CREATE OR REPLACE keeps the
-- privileges admins were granted); their SQL helpers go.
------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION access_key.ak_create_key(
    definition access_key.access_key, expires_at timestamptz DEFAULT NULL)
RETURNS TABLE (id uuid, key text, definition access_key.access_key,
               created_at timestamptz, expires_at timestamptz)
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE ROWS 1;
CREATE OR REPLACE FUNCTION access_key.ak_get_key(id uuid) RETURNS access_key.access_key
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
CREATE OR REPLACE FUNCTION access_key.ak_list_keys(name text DEFAULT NULL)
RETURNS TABLE (id uuid, name text, is_active boolean, permitted text[],
               created_at timestamptz, updated_at timestamptz, expires_at timestamptz,
               last_used_at timestamptz, parent_id uuid)
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
CREATE OR REPLACE FUNCTION access_key.ak_update_key(id uuid, definition access_key.access_key)
RETURNS access_key.access_key
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
CREATE OR REPLACE FUNCTION access_key.ak_revoke_key(id uuid) RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
CREATE OR REPLACE FUNCTION access_key.ak_unrevoke_key(id uuid) RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
CREATE OR REPLACE FUNCTION access_key.ak_delete_key(id uuid) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
CREATE OR REPLACE FUNCTION access_key.ak_delete_saved_query(name text) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
CREATE OR REPLACE FUNCTION access_key.ak_delete_dataset(name text) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;

DROP FUNCTION access_key.ak_set_key_active(uuid, boolean, text);
DROP FUNCTION access_key.ak_store_new_key(access_key.access_key, timestamptz, uuid);
DROP FUNCTION access_key.ak_raise_unknown_key(uuid);
DROP FUNCTION access_key.ak_require_no_key(text);
DROP FUNCTION access_key.ak_generate_token();
DROP FUNCTION access_key.ak_hash_token(text);

------------------------------------------------------------------------------
-- A key that may not read a collection gets 42501, not an empty result: the
-- SELECT policy of every protected collection calls ak_filter_row.
------------------------------------------------------------------------------

-- The SELECT policy of protected collections: like ak_apply_filters, and
-- 42501 (rather than no rows) for a key that may not read the collection.
CREATE FUNCTION access_key.ak_index_prefilter(collection regclass) RETURNS jsonpath
    AS 'MODULE_PATHNAME', 'ak_collection_index_prefilter' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION access_key.ak_index_prefilter(regclass)
    IS 'the GIN index condition of ak_filter_row: a jsonpath every row the session''s key may see satisfies';

CREATE FUNCTION access_key.ak_filter_row(collection regclass, properties jsonb) RETURNS boolean
    AS 'MODULE_PATHNAME', 'ak_filter_row' LANGUAGE C STABLE PARALLEL SAFE
    SUPPORT access_key.ak_apply_filters_support;
COMMENT ON FUNCTION access_key.ak_filter_row(regclass, jsonb)
    IS 'whether the session''s key may see an event of a protected collection (42501 if it may not read the collection)';

DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT collection, properties_column FROM access_key.collections LOOP
        EXECUTE pg_catalog.format(
            'ALTER POLICY access_key_select ON %s USING (access_key.ak_filter_row(%L::pg_catalog.regclass, %I))',
            c.collection, c.collection::pg_catalog.oid, c.properties_column);
    END LOOP;
END
$$;
-- Setup checks (SPEC §15)
------------------------------------------------------------------------------

-- An admin function: it reads only catalogs, but what it reports is a map of
-- the ways around the keys.  Not STRICT: a NULL role raises 22004.
CREATE FUNCTION access_key.ak_check_setup(role regrole)
RETURNS TABLE (severity text, object text, problem text, fix text)
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
COMMENT ON FUNCTION access_key.ak_check_setup(regrole)
    IS 'what would let an application role escape or weaken its keys, one row per finding';
REVOKE ALL ON FUNCTION access_key.ak_check_setup(regrole) FROM PUBLIC;

------------------------------------------------------------------------------
-- Operations (docs/reference.md#refreshing-on-a-schedule): cached results that
-- refresh themselves.  Cached queries and datasets are computed when stored;
-- datasets may have a refresh rate; ak_refresh_due() refreshes what is due and
-- ak_schedule_refresh() makes pg_cron run it.
------------------------------------------------------------------------------

ALTER TABLE access_key.datasets ADD COLUMN refresh_rate interval;
ALTER TABLE access_key.datasets ADD CONSTRAINT datasets_refresh_rate_check
    CHECK (refresh_rate OPERATOR(pg_catalog.>) '0'::interval);

COMMENT ON FUNCTION access_key.ak_update_saved_query(text, text, interval)
    IS 'replaces a saved query; a cached one is computed again, as the caller';
COMMENT ON FUNCTION access_key.ak_create_saved_query(text, text, interval)
    IS 'stores a read-only SELECT under a name; with a refresh rate it is a cached query, computed now';
COMMENT ON FUNCTION access_key.ak_create_dataset(text, text, text[])
    IS 'stores a dataset: a read-only SELECT returning a column per index_by property; computes its rows';

CREATE FUNCTION access_key.ak_create_dataset(name text, query text, index_by text[], refresh_rate interval)
RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION access_key.ak_create_dataset(text, text, text[], interval)
    IS 'stores a dataset refreshed by ak_refresh_due() every refresh_rate, and computes its rows';

CREATE FUNCTION access_key.ak_refresh_due() RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION access_key.ak_refresh_due()
    IS 'refreshes every cached query and dataset whose refresh rate has passed, each as its owner; returns how many';

CREATE FUNCTION access_key.ak_schedule_refresh(schedule text DEFAULT '* * * * *') RETURNS bigint
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION access_key.ak_schedule_refresh(text)
    IS 'creates or replaces the pg_cron job that runs ak_refresh_due() in this database; returns its job id';

CREATE FUNCTION access_key.ak_unschedule_refresh() RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION access_key.ak_unschedule_refresh()
    IS 'removes the caller''s pg_cron refresh job of this database; false if there was none';

REVOKE ALL ON FUNCTION
    access_key.ak_create_dataset(text, text, text[], interval),
    access_key.ak_refresh_due(),
    access_key.ak_schedule_refresh(text),
    access_key.ak_unschedule_refresh()
FROM PUBLIC;

------------------------------------------------------------------------------
-- Batch ingest (docs/operations.md#batch-ingest): Keen's multi-event body,
-- inserted as the caller through the collections' policies and autofill.
------------------------------------------------------------------------------

CREATE FUNCTION access_key.ak_record_events(events jsonb) RETURNS jsonb
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION access_key.ak_record_events(jsonb)
    IS 'inserts {"<collection>": [event, ...]} as the caller; answers per event, as Keen''s multi-event API';

CREATE FUNCTION access_key.ak_record_event(collection regclass, event jsonb) RETURNS jsonb
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION access_key.ak_record_event(regclass, jsonb)
    IS 'inserts one event into a protected collection as the caller; returns {"created": true}';

------------------------------------------------------------------------------
-- Partitioned collections (docs/scaling.md#partitioned-collections): partitions
-- created in or attached to a protected tree get its policies and triggers.
------------------------------------------------------------------------------

CREATE FUNCTION access_key.ak_collection_changed() RETURNS event_trigger
    AS 'MODULE_PATHNAME' LANGUAGE C;
REVOKE ALL ON FUNCTION access_key.ak_collection_changed() FROM PUBLIC;
CREATE EVENT TRIGGER access_key_collection_changed ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
    EXECUTE FUNCTION access_key.ak_collection_changed();
-- Key lifecycle beyond Keen (docs/reference.md#key-lifecycle): rotation with a
-- grace period, import of existing tokens, merge patches, expiry changes,
-- last use and the audit log.
------------------------------------------------------------------------------

-- Recording last_used_at must not empty every backend's key cache: the
-- trigger fires only for the columns the cache reads.
DROP TRIGGER keys_changed ON access_key.keys;
CREATE TRIGGER keys_changed
    AFTER INSERT OR UPDATE OF id, definition, expires_at, parent_id OR DELETE OR TRUNCATE ON access_key.keys
    FOR EACH STATEMENT EXECUTE FUNCTION access_key.ak_key_store_changed();
ALTER TABLE access_key.keys ENABLE ALWAYS TRIGGER keys_changed;

-- A key has one current token; rotated-out ones carry valid_until.
CREATE UNIQUE INDEX key_tokens_one_current ON access_key.key_tokens (key_id)
    WHERE valid_until IS NULL;

-- The audit log: one row per lifecycle change, written as the extension's
-- owner in the changing transaction; never a token or a hash.  Append-only:
-- only ak_prune_audit deletes.
CREATE TABLE access_key.key_audit_log (
    id bigint GENERATED BY DEFAULT AS IDENTITY,
    at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    role name NOT NULL,
    session_role name NOT NULL,
    key_id uuid NOT NULL,
    parent_id uuid,
    operation text NOT NULL,
    changes jsonb NOT NULL,
    CONSTRAINT key_audit_log_pkey PRIMARY KEY (id)
);
CREATE INDEX key_audit_log_key_id_idx ON access_key.key_audit_log (key_id);
COMMENT ON TABLE access_key.key_audit_log IS 'key lifecycle changes, append-only; read through the view key_audit';
REVOKE ALL ON access_key.key_audit_log FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('access_key.key_audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('access_key.key_audit_log_id_seq', '');

CREATE FUNCTION access_key.ak_audit_append_only() RETURNS trigger
    AS 'MODULE_PATHNAME' LANGUAGE C;
REVOKE ALL ON FUNCTION access_key.ak_audit_append_only() FROM PUBLIC;
CREATE TRIGGER key_audit_log_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON access_key.key_audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION access_key.ak_audit_append_only();

-- What admins read: GRANT SELECT ON access_key.key_audit TO <admin role>.
CREATE VIEW access_key.key_audit AS
    SELECT id, at, role, session_role, key_id, parent_id, operation, changes
    FROM access_key.key_audit_log;
COMMENT ON VIEW access_key.key_audit
    IS 'key lifecycle changes: when, which roles, which key, what changed (never a token or hash)';
REVOKE ALL ON access_key.key_audit FROM PUBLIC;

CREATE FUNCTION access_key.ak_prune_audit(older_than timestamptz) RETURNS bigint
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION access_key.ak_prune_audit(timestamptz)
    IS 'deletes the audit rows written before older_than; returns how many';

CREATE FUNCTION access_key.ak_rotate_key(id uuid, grace interval DEFAULT '0') RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION access_key.ak_rotate_key(uuid, interval)
    IS 'issues a new token for a key; its other tokens keep working for the grace period';

CREATE FUNCTION access_key.ak_key_id(token text) RETURNS uuid
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
COMMENT ON FUNCTION access_key.ak_key_id(text) IS 'the id of the key that holds a token';

CREATE FUNCTION access_key.ak_patch_key(id uuid, patch jsonb) RETURNS access_key.access_key
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION access_key.ak_patch_key(uuid, jsonb)
    IS 'applies a JSON merge patch (RFC 7396) to a key''s definition';

CREATE FUNCTION access_key.ak_set_key_expiry(id uuid, expires_at timestamptz) RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION access_key.ak_set_key_expiry(uuid, timestamptz)
    IS 'sets when a key expires (NULL: never)';

CREATE FUNCTION access_key.ak_import_key(key text, definition access_key.access_key,
                                         expires_at timestamptz DEFAULT NULL) RETURNS uuid
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION access_key.ak_import_key(text, access_key.access_key, timestamptz)
    IS 'stores a key whose token was issued elsewhere (for example a Keen key), by the token''s hash';

CREATE FUNCTION access_key.ak_import_keen_key(keen_key jsonb, expires_at timestamptz DEFAULT NULL) RETURNS uuid
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION access_key.ak_import_keen_key(jsonb, timestamptz)
    IS 'imports a key object as Keen''s API returns it (key, name, is_active, permitted, options)';

REVOKE ALL ON FUNCTION
    access_key.ak_prune_audit(timestamptz),
    access_key.ak_rotate_key(uuid, interval),
    access_key.ak_key_id(text),
    access_key.ak_patch_key(uuid, jsonb),
    access_key.ak_set_key_expiry(uuid, timestamptz),
    access_key.ak_import_key(text, access_key.access_key, timestamptz),
    access_key.ak_import_keen_key(jsonb, timestamptz)
FROM PUBLIC;

------------------------------------------------------------------------------
-- ak_protect gains timestamp_column.  CREATE OR REPLACE cannot add an
-- argument: the new signature is created, every grant of the old one is
-- repeated on it, and the old one dropped.
------------------------------------------------------------------------------

CREATE FUNCTION access_key.ak_protect(collection regclass, properties_column name DEFAULT 'properties',
                                      timestamp_column name DEFAULT NULL)
RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION access_key.ak_protect(regclass, name, name)
    IS 'makes a table a protected event collection: RLS policies for keys, autofill, append-only';
REVOKE ALL ON FUNCTION access_key.ak_protect(regclass, name, name) FROM PUBLIC;

DO $$
DECLARE
    new_fn pg_catalog.oid := 'access_key.ak_protect(pg_catalog.regclass, pg_catalog.name, pg_catalog.name)'::pg_catalog.regprocedure;
    fresh_acl pg_catalog.aclitem[];
    g record;
BEGIN
    SELECT p.proacl INTO fresh_acl FROM pg_catalog.pg_proc AS p WHERE p.oid OPERATOR(pg_catalog.=) new_fn;
    FOR g IN
        SELECT a.grantee, a.is_grantable
        FROM pg_catalog.pg_proc AS p, pg_catalog.aclexplode(p.proacl) AS a
        WHERE p.oid OPERATOR(pg_catalog.=) 'access_key.ak_protect(pg_catalog.regclass, pg_catalog.name)'::pg_catalog.regprocedure
          AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
          AND a.grantee OPERATOR(pg_catalog.<>) p.proowner
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION access_key.ak_protect(pg_catalog.regclass, pg_catalog.name, pg_catalog.name) TO %s%s',
            CASE WHEN g.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                 ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(g.grantee)) END,
            CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
    -- Grants made by an extension script are recorded as the extension's
    -- initial privileges, which pg_dump leaves out; these belong to the
    -- admins, so the initial privileges stay those of a fresh install.
    UPDATE pg_catalog.pg_init_privs SET initprivs = fresh_acl
    WHERE objoid OPERATOR(pg_catalog.=) new_fn
      AND classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
      AND objsubid OPERATOR(pg_catalog.=) 0;
END
$$;
DROP FUNCTION access_key.ak_protect(regclass, name);

------------------------------------------------------------------------------
-- Narrower keys (docs/reference.md#collections-and-timeframes, docs/reference.md#child-keys):
-- particular collections, tighter timeframes, and child keys bounded by their parent.
------------------------------------------------------------------------------

-- A derived key records the hash of its parent's token that derived it
-- (rotating that token out ends the child); deleting a key cascades to its
-- children through keys_parent_fkey, which this index serves.
ALTER TABLE access_key.keys ADD COLUMN parent_token_hash bytea;
ALTER TABLE access_key.keys ADD CONSTRAINT keys_parent_token_hash_length
    CHECK (pg_catalog.octet_length(parent_token_hash) OPERATOR(pg_catalog.=) 32);
CREATE INDEX keys_parent_id_idx ON access_key.keys (parent_id);

-- A collection's event time column, named at ak_protect (NULL: the keen.timestamp property).
ALTER TABLE access_key.collections ADD COLUMN timestamp_column name;

-- The relations each stored query reads (NULL: not recorded), for keys that may read only some collections.
ALTER TABLE access_key.saved_queries ADD COLUMN reads regclass[];
ALTER TABLE access_key.datasets ADD COLUMN reads regclass[];

-- The timeframe conjunct of the SELECT policy of a collection protected with
-- a time column, and the STABLE bounds its B-tree index condition compares with.
CREATE FUNCTION access_key.ak_in_timeframe_support(internal) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
REVOKE ALL ON FUNCTION access_key.ak_in_timeframe_support(internal) FROM PUBLIC;

CREATE FUNCTION access_key.ak_timeframe_earliest(collection regclass) RETURNS timestamptz
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION access_key.ak_timeframe_earliest(regclass)
    IS 'the earliest event time the session''s key may read in a protected collection';

CREATE FUNCTION access_key.ak_timeframe_latest(collection regclass) RETURNS timestamptz
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION access_key.ak_timeframe_latest(regclass)
    IS 'the latest event time the session''s key may read in a protected collection';

CREATE FUNCTION access_key.ak_in_timeframe(collection regclass, event_time timestamptz) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE
    SUPPORT access_key.ak_in_timeframe_support;
COMMENT ON FUNCTION access_key.ak_in_timeframe(regclass, timestamptz)
    IS 'whether the session''s key may read an event of this time in a protected collection';

-- Child keys.  ak_derive_key is executable by PUBLIC: the session's key is
-- the authority (it needs "keys"), as for ak_permits; it refuses without one.
CREATE FUNCTION access_key.ak_derive_key(
    definition access_key.access_key, expires_at timestamptz DEFAULT NULL)
RETURNS TABLE (id uuid, key text, definition access_key.access_key,
               created_at timestamptz, expires_at timestamptz)
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE ROWS 1;
COMMENT ON FUNCTION access_key.ak_derive_key(access_key.access_key, timestamptz)
    IS 'creates a child of the session''s key, never more than it; returns its token, the only time it is visible';

CREATE FUNCTION access_key.ak_effective_key(id uuid) RETURNS access_key.access_key
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
COMMENT ON FUNCTION access_key.ak_effective_key(uuid)
    IS 'the definition a key acts with: for a child key, its own narrowed by every ancestor';

CREATE FUNCTION access_key.ak_narrow(parent access_key.access_key, child access_key.access_key)
RETURNS access_key.access_key
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION access_key.ak_narrow(access_key.access_key, access_key.access_key)
    IS 'the effective definition of a child key under a parent''s effective definition';

REVOKE ALL ON FUNCTION
    access_key.ak_effective_key(uuid),
    access_key.ak_narrow(access_key.access_key, access_key.access_key)
FROM PUBLIC;

------------------------------------------------------------------------------
-- Foreign tables are never partitions of a protected collection
-- (docs/scaling.md#partitioned-collections): row-level security cannot be
-- enabled on them, so the event trigger also fires for CREATE FOREIGN TABLE
-- (... PARTITION OF), and refuses it.
------------------------------------------------------------------------------

DROP EVENT TRIGGER access_key_collection_changed;
CREATE EVENT TRIGGER access_key_collection_changed ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE', 'CREATE FOREIGN TABLE')
    EXECUTE FUNCTION access_key.ak_collection_changed();

------------------------------------------------------------------------------
-- Plans as good as the table owner's (docs/reference.md#plans).  The planner
-- support function adds index conditions on the paths the planning key's
-- filters pin or bound; they compare with these functions, which compute
-- the values from the key that runs the plan, so no value of a key is ever
-- frozen into a plan.  Each answers as ak_filter_row does: nothing without
-- a key, 42501 for a key that may not read the collection.
------------------------------------------------------------------------------

-- The SELECT policy's call as a plan made by the support function holds it:
-- plan_shape is the shape of the filters the plan was made for, indexed the
-- 1-based positions of the filters its index conditions also check.  For a
-- key of that shape, filters the conditions check exactly are not checked
-- twice; for any other key, every filter is.
CREATE FUNCTION access_key.ak_filter_row(collection regclass, properties jsonb, plan_shape text, indexed integer[])
RETURNS boolean
    AS 'MODULE_PATHNAME', 'ak_filter_row_planned' LANGUAGE C STABLE PARALLEL SAFE
    SUPPORT access_key.ak_apply_filters_support;
COMMENT ON FUNCTION access_key.ak_filter_row(regclass, jsonb, text, integer[])
    IS 'ak_filter_row as a plan holds it: the same answer, without checking twice what the plan''s index conditions check';

CREATE FUNCTION access_key.ak_index_prefilter(collection regclass, filters integer[]) RETURNS jsonpath
    AS 'MODULE_PATHNAME', 'ak_index_prefilter_terms' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION access_key.ak_index_prefilter(regclass, integer[])
    IS 'the GIN index condition of the session key''s filters at these positions (a superset of its rows)';

CREATE FUNCTION access_key.ak_filter_text(collection regclass, property_name text) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION access_key.ak_filter_text(regclass, text)
    IS 'the string the session key''s eq filter pins a property to, for B-tree conditions on ->>';
CREATE FUNCTION access_key.ak_filter_texts(collection regclass, property_name text) RETURNS text[]
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION access_key.ak_filter_texts(regclass, text)
    IS 'the strings the session key''s eq, in and or filters pin a property to, for B-tree conditions on ->>';
CREATE FUNCTION access_key.ak_filter_jsonb(collection regclass, property_name text) RETURNS jsonb
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION access_key.ak_filter_jsonb(regclass, text)
    IS 'the value the session key''s eq filter pins a property to, for B-tree conditions on ->';
CREATE FUNCTION access_key.ak_filter_jsonbs(collection regclass, property_name text) RETURNS jsonb[]
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION access_key.ak_filter_jsonbs(regclass, text)
    IS 'the values the session key''s eq, in and or filters pin a property to, for B-tree conditions on ->';
CREATE FUNCTION access_key.ak_filter_text_lower(collection regclass, property_name text) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION access_key.ak_filter_text_lower(regclass, text)
    IS 'a string every row the session key sees is at or above at a property (bytewise)';
CREATE FUNCTION access_key.ak_filter_text_upper(collection regclass, property_name text) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION access_key.ak_filter_text_upper(regclass, text)
    IS 'a string every row the session key sees is below at a property (bytewise)';

-- Presenting a key the backend has not cached reads these two: through hash
-- indexes the lookup costs the same with 100 keys stored as with 1,000,000
-- (src/key_lookup.c).
CREATE INDEX key_tokens_token_hash_idx ON access_key.key_tokens USING hash (token_hash);
CREATE INDEX keys_id_idx ON access_key.keys USING hash (id);

------------------------------------------------------------------------------
-- The event triggers fire whatever session_replication_role is (ENABLE
-- ALWAYS), as the key tables' triggers do: a partition created while it is
-- "replica" is protected all the same.
------------------------------------------------------------------------------

ALTER EVENT TRIGGER access_key_collection_dropped ENABLE ALWAYS;
ALTER EVENT TRIGGER access_key_collection_changed ENABLE ALWAYS;
