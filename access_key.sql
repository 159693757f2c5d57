-- access_key: Keen-style access keys enforced by row-level security.
--
-- This file is the only place the install script is edited; the build copies
-- it to access_key--<version>.sql.  Once a version is released its upgrade
-- script (access_key--A--B.sql) is append-only.
--
-- Script security (CVE-2022-2625, CVE-2023-39417): objects are created with
-- plain CREATE (never OR REPLACE / IF NOT EXISTS), everything called is
-- schema-qualified, and SQL functions pin search_path.

\echo Use "CREATE EXTENSION access_key" to load this file. \quit

-- CREATE EXTENSION reuses an existing schema of this name: refuse one that
-- somebody else prepared, since objects planted there could shadow ours.
DO $$
BEGIN
    IF (SELECT n.nspowner FROM pg_catalog.pg_namespace AS n WHERE n.nspname OPERATOR(pg_catalog.=) 'access_key')
           OPERATOR(pg_catalog.<>) (SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER)
       OR EXISTS (SELECT FROM pg_catalog.pg_class AS c WHERE c.relnamespace OPERATOR(pg_catalog.=) 'access_key'::pg_catalog.regnamespace)
       OR EXISTS (SELECT FROM pg_catalog.pg_proc AS p WHERE p.pronamespace OPERATOR(pg_catalog.=) 'access_key'::pg_catalog.regnamespace)
       OR EXISTS (SELECT FROM pg_catalog.pg_type AS t WHERE t.typnamespace OPERATOR(pg_catalog.=) 'access_key'::pg_catalog.regnamespace)
       OR EXISTS (SELECT FROM pg_catalog.pg_operator AS o WHERE o.oprnamespace OPERATOR(pg_catalog.=) 'access_key'::pg_catalog.regnamespace)
    THEN
        RAISE EXCEPTION 'schema "access_key" already exists and is not empty or not owned by %', CURRENT_USER
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Drop the schema, or let CREATE EXTENSION access_key create it.';
    END IF;
END
$$;

GRANT USAGE ON SCHEMA access_key TO PUBLIC;

------------------------------------------------------------------------------
-- The access_key type (docs/reference.md#the-access_key-type)
------------------------------------------------------------------------------

CREATE TYPE access_key.access_key;

CREATE FUNCTION access_key.access_key_in(cstring) RETURNS access_key.access_key
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION access_key.access_key_out(access_key.access_key) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION access_key.access_key_recv(internal) RETURNS access_key.access_key
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION access_key.access_key_send(access_key.access_key) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE access_key.access_key (
    INPUT = access_key.access_key_in,
    OUTPUT = access_key.access_key_out,
    RECEIVE = access_key.access_key_recv,
    SEND = access_key.access_key_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = int4,
    STORAGE = extended
);
COMMENT ON TYPE access_key.access_key IS 'a validated Keen-style access key definition';

CREATE FUNCTION access_key.access_key_to_jsonb(access_key.access_key) RETURNS jsonb
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION access_key.access_key_from_jsonb(jsonb) RETURNS access_key.access_key
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Both casts run a function: a WITHOUT FUNCTION cast would skip validation.
CREATE CAST (access_key.access_key AS jsonb) WITH FUNCTION access_key.access_key_to_jsonb(access_key.access_key);
CREATE CAST (jsonb AS access_key.access_key) WITH FUNCTION access_key.access_key_from_jsonb(jsonb);

CREATE FUNCTION access_key.access_key_eq(access_key.access_key, access_key.access_key) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION access_key.access_key_ne(access_key.access_key, access_key.access_key) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OPERATOR access_key.= (
    LEFTARG = access_key.access_key, RIGHTARG = access_key.access_key,
    FUNCTION = access_key.access_key_eq,
    COMMUTATOR = OPERATOR(access_key.=), NEGATOR = OPERATOR(access_key.<>),
    RESTRICT = eqsel, JOIN = eqjoinsel, HASHES
);
CREATE OPERATOR access_key.<> (
    LEFTARG = access_key.access_key, RIGHTARG = access_key.access_key,
    FUNCTION = access_key.access_key_ne,
    COMMUTATOR = OPERATOR(access_key.<>), NEGATOR = OPERATOR(access_key.=),
    RESTRICT = neqsel, JOIN = neqjoinsel
);

-- Canonical forms are unique, so hashing the bytes agrees with =: DISTINCT,
-- GROUP BY, UNION and hash joins work on definitions.
CREATE FUNCTION access_key.access_key_hash(access_key.access_key) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OPERATOR CLASS access_key.access_key_hash_ops
    DEFAULT FOR TYPE access_key.access_key USING hash AS
    OPERATOR 1 access_key.=,
    FUNCTION 1 access_key.access_key_hash(access_key.access_key);

------------------------------------------------------------------------------
-- Key store (docs/reference.md#admin-functions): only a BLAKE2b hash of each token is stored.
------------------------------------------------------------------------------

CREATE TABLE access_key.keys (
    id uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    definition access_key.access_key NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    expires_at timestamptz,
    last_used_at timestamptz,
    parent_id uuid,
    CONSTRAINT keys_pkey PRIMARY KEY (id),
    CONSTRAINT keys_parent_fkey FOREIGN KEY (parent_id)
        REFERENCES access_key.keys (id) ON DELETE CASCADE
);
COMMENT ON TABLE access_key.keys IS 'access keys; tokens are never stored, see key_tokens';

-- One key may have several tokens (rotation keeps the old one for a grace period).
CREATE TABLE access_key.key_tokens (
    token_hash bytea NOT NULL,
    key_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    valid_until timestamptz,
    CONSTRAINT key_tokens_pkey PRIMARY KEY (token_hash),
    CONSTRAINT key_tokens_hash_length CHECK (pg_catalog.octet_length(token_hash) OPERATOR(pg_catalog.=) 32),
    CONSTRAINT key_tokens_key_fkey FOREIGN KEY (key_id)
        REFERENCES access_key.keys (id) ON DELETE CASCADE
);
CREATE INDEX key_tokens_key_id_idx ON access_key.key_tokens (key_id);
COMMENT ON TABLE access_key.key_tokens IS 'BLAKE2b-256 hashes of access key tokens';

REVOKE ALL ON access_key.keys, access_key.key_tokens FROM PUBLIC;

-- pg_dump keeps the rows of extension configuration tables.
SELECT pg_catalog.pg_extension_config_dump('access_key.keys', '');
SELECT pg_catalog.pg_extension_config_dump('access_key.key_tokens', '');

-- Every committed change reaches each backend's key cache at its next transaction.
-- UPDATE OF lists every column the key cache reads: recording last_used_at
-- (or updated_at alone) must not empty every backend's cache.
-- Private: called by PostgreSQL (a trigger, an event trigger or the planner), not by users.
CREATE FUNCTION access_key.ak_key_store_changed() RETURNS trigger
    AS 'MODULE_PATHNAME' LANGUAGE C;
REVOKE ALL ON FUNCTION access_key.ak_key_store_changed() FROM PUBLIC;
CREATE TRIGGER keys_changed
    AFTER INSERT OR UPDATE OF id, definition, expires_at, parent_id OR DELETE OR TRUNCATE ON access_key.keys
    FOR EACH STATEMENT EXECUTE FUNCTION access_key.ak_key_store_changed();
CREATE TRIGGER key_tokens_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON access_key.key_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION access_key.ak_key_store_changed();
-- Also under session_replication_role = replica (logical replication apply):
-- a replicated revoke must still take effect.  (DISABLE TRIGGER ALL, as
-- pg_restore --disable-triggers does, switches them off all the same.)
ALTER TABLE access_key.keys ENABLE ALWAYS TRIGGER keys_changed;
ALTER TABLE access_key.key_tokens ENABLE ALWAYS TRIGGER key_tokens_changed;

------------------------------------------------------------------------------
-- Key administration (docs/reference.md#admin-functions).  EXECUTE on these is the master key: none is
-- granted to PUBLIC, and each refuses to run while the session presents a key.
-- They run as their caller and write the key tables as the extension's owner.
------------------------------------------------------------------------------

CREATE FUNCTION access_key.ak_create_key(
    definition access_key.access_key, expires_at timestamptz DEFAULT NULL)
RETURNS TABLE (id uuid, key text, definition access_key.access_key,
               created_at timestamptz, expires_at timestamptz)
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE ROWS 1;
COMMENT ON FUNCTION access_key.ak_create_key(access_key.access_key, timestamptz)
    IS 'creates a key and returns its token, the only time the token is visible';

CREATE FUNCTION access_key.ak_get_key(id uuid) RETURNS access_key.access_key
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
COMMENT ON FUNCTION access_key.ak_get_key(uuid) IS 'the definition of a key';

CREATE FUNCTION access_key.ak_list_keys(name text DEFAULT NULL)
RETURNS TABLE (id uuid, name text, is_active boolean, permitted text[],
               created_at timestamptz, updated_at timestamptz, expires_at timestamptz,
               last_used_at timestamptz, parent_id uuid)
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
COMMENT ON FUNCTION access_key.ak_list_keys(text)
    IS 'all keys, or those with this exact name; never hashes or tokens';

CREATE FUNCTION access_key.ak_update_key(id uuid, definition access_key.access_key)
RETURNS access_key.access_key
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION access_key.ak_update_key(uuid, access_key.access_key)
    IS 'replaces the whole definition of a key; its token stays';

CREATE FUNCTION access_key.ak_revoke_key(id uuid) RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION access_key.ak_revoke_key(uuid) IS 'sets is_active to false';

CREATE FUNCTION access_key.ak_unrevoke_key(id uuid) RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION access_key.ak_unrevoke_key(uuid) IS 'sets is_active to true';

CREATE FUNCTION access_key.ak_delete_key(id uuid) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION access_key.ak_delete_key(uuid) IS 'deletes a key and its tokens permanently';

REVOKE ALL ON FUNCTION
    access_key.ak_create_key(access_key.access_key, timestamptz),
    access_key.ak_get_key(uuid),
    access_key.ak_list_keys(text),
    access_key.ak_update_key(uuid, access_key.access_key),
    access_key.ak_revoke_key(uuid),
    access_key.ak_unrevoke_key(uuid),
    access_key.ak_delete_key(uuid)
FROM PUBLIC;

------------------------------------------------------------------------------
-- Presenting a key (docs/reference.md#presenting-a-key) and permission checks (docs/reference.md#ak_permits-rules)
------------------------------------------------------------------------------

CREATE FUNCTION access_key.ak_use_key(key text, is_local boolean DEFAULT true) RETURNS uuid
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION access_key.ak_use_key(text, boolean)
    IS 'validates a token, presents it (sets access_key.key) and returns the key id';

CREATE FUNCTION access_key.ak_current_key_id() RETURNS uuid
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION access_key.ak_current_key_id() IS 'the id of the key this session presents, or NULL';

CREATE FUNCTION access_key.ak_current_key() RETURNS access_key.access_key
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION access_key.ak_current_key() IS 'the definition of the key this session presents, or NULL';

CREATE FUNCTION access_key.ak_permits(action text, resource text DEFAULT NULL, operation text DEFAULT NULL)
RETURNS boolean
    AS 'MODULE_PATHNAME', 'ak_permits' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION access_key.ak_permits(text, text, text)
    IS 'whether the session''s key permits an action (false without a key)';

CREATE FUNCTION access_key.ak_permits(definition access_key.access_key, action text,
                                      resource text DEFAULT NULL, operation text DEFAULT NULL)
RETURNS boolean
    AS 'MODULE_PATHNAME', 'ak_permits_definition' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION access_key.ak_permits(access_key.access_key, text, text, text)
    IS 'whether a key definition permits an action';

------------------------------------------------------------------------------
-- Filters and protected event collections (docs/reference.md#filters, docs/reference.md#protected-collections)
------------------------------------------------------------------------------

-- Private: called by PostgreSQL (a trigger, an event trigger or the planner), not by users.
CREATE FUNCTION access_key.ak_apply_filters_support(internal) RETURNS internal
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT;

-- The jsonpath the index condition added by the support function compares with.
CREATE FUNCTION access_key.ak_index_prefilter() RETURNS jsonpath
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION access_key.ak_index_prefilter()
    IS 'a jsonpath every row visible to the session''s key satisfies (for GIN indexes)';

CREATE FUNCTION access_key.ak_apply_filters(properties jsonb) RETURNS boolean
    AS 'MODULE_PATHNAME', 'ak_apply_filters' LANGUAGE C STABLE PARALLEL SAFE
    SUPPORT access_key.ak_apply_filters_support;
COMMENT ON FUNCTION access_key.ak_apply_filters(jsonb)
    IS 'whether the session''s key may see an event: its context is permitted and the row passes its filters';

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

CREATE FUNCTION access_key.ak_apply_filters(definition access_key.access_key, properties jsonb,
                                            context text DEFAULT 'queries') RETURNS boolean
    AS 'MODULE_PATHNAME', 'ak_apply_filters_definition' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION access_key.ak_apply_filters(access_key.access_key, jsonb, text)
    IS 'whether a key definition may see an event in a context (queries or saved_queries)';

CREATE FUNCTION access_key.ak_filter_values(property_name text) RETURNS text[]
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION access_key.ak_filter_values(text)
    IS 'values the session key''s eq/in filters allow for a property (NULL: not filtered)';

CREATE FUNCTION access_key.ak_autofill(properties jsonb) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'ak_autofill' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION access_key.ak_autofill(jsonb)
    IS 'event properties with the session key''s autofill deep-merged in (autofill wins)';

CREATE FUNCTION access_key.ak_autofill(definition access_key.access_key, properties jsonb) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'ak_autofill_definition' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION access_key.ak_autofill(access_key.access_key, jsonb)
    IS 'event properties with a definition''s autofill deep-merged in (autofill wins)';

-- Trigger functions of protected collections.  Not executable by PUBLIC:
-- ak_protect creates the triggers as the extension's owner, and each checks
-- that it fires on a protected collection before it reads a row.
-- Private: called by PostgreSQL (a trigger, an event trigger or the planner), not by users.
CREATE FUNCTION access_key.ak_autofill_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME' LANGUAGE C;
-- Private: called by PostgreSQL (a trigger, an event trigger or the planner), not by users.
CREATE FUNCTION access_key.ak_forbid_keyed_changes() RETURNS trigger
    AS 'MODULE_PATHNAME' LANGUAGE C;
REVOKE ALL ON FUNCTION
    access_key.ak_apply_filters_support(internal),
    access_key.ak_autofill_trigger(),
    access_key.ak_forbid_keyed_changes()
FROM PUBLIC;

-- The protected collections.  A row exists exactly while ak_protect's
-- policies and triggers are on the table; the regclass is dumped by name, so
-- pg_dump and pg_restore keep it pointing at the same table.
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
-- Private: called by PostgreSQL (a trigger, an event trigger or the planner), not by users.
CREATE FUNCTION access_key.ak_collection_dropped() RETURNS event_trigger
    AS 'MODULE_PATHNAME' LANGUAGE C;
REVOKE ALL ON FUNCTION access_key.ak_collection_dropped() FROM PUBLIC;
CREATE EVENT TRIGGER access_key_collection_dropped ON sql_drop
    EXECUTE FUNCTION access_key.ak_collection_dropped();

-- The caller must own the table; see src/collection.c for what is created.
CREATE FUNCTION access_key.ak_protect(collection regclass, properties_column name DEFAULT 'properties',
                                      timestamp_column name DEFAULT NULL)
RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION access_key.ak_protect(regclass, name, name)
    IS 'makes a table a protected event collection: RLS policies for keys, autofill, append-only';

CREATE FUNCTION access_key.ak_unprotect(collection regclass) RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION access_key.ak_unprotect(regclass) IS 'undoes ak_protect';

REVOKE ALL ON FUNCTION
    access_key.ak_protect(regclass, name, name),
    access_key.ak_unprotect(regclass)
FROM PUBLIC;

------------------------------------------------------------------------------
-- Saved and cached queries (docs/reference.md#saved-and-cached-queries), datasets (docs/reference.md#datasets)
------------------------------------------------------------------------------

-- Names are compared bytewise ("C"): keyed sessions look them up from C.
CREATE TABLE access_key.saved_queries (
    name text COLLATE "C" NOT NULL,
    query text NOT NULL,
    refresh_rate interval,
    search_path text NOT NULL,
    owner regrole NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    result jsonb,
    refreshed_at timestamptz,
    CONSTRAINT saved_queries_pkey PRIMARY KEY (name),
    CONSTRAINT saved_queries_name_check
        CHECK (name OPERATOR(pg_catalog.~) '^[A-Za-z0-9_-]+$'
               AND pg_catalog.length(name) OPERATOR(pg_catalog.<=) 256),
    CONSTRAINT saved_queries_refresh_rate_check
        CHECK (refresh_rate OPERATOR(pg_catalog.>) '0'::interval)
);
COMMENT ON TABLE access_key.saved_queries
    IS 'saved queries; those with a refresh rate are cached and keep their last result';

CREATE TABLE access_key.datasets (
    name text COLLATE "C" NOT NULL,
    query text NOT NULL,
    index_by text[] NOT NULL,
    search_path text NOT NULL,
    owner regrole NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    refreshed_at timestamptz,
    CONSTRAINT datasets_pkey PRIMARY KEY (name),
    CONSTRAINT datasets_name_check
        CHECK (name OPERATOR(pg_catalog.~) '^[A-Za-z0-9_-]+$'
               AND pg_catalog.length(name) OPERATOR(pg_catalog.<=) 256)
);
COMMENT ON TABLE access_key.datasets IS 'datasets: queries precomputed per value of their index_by properties';

CREATE TABLE access_key.dataset_results (
    dataset text COLLATE "C" NOT NULL,
    index_values jsonb NOT NULL,
    rows jsonb NOT NULL,
    CONSTRAINT dataset_results_pkey PRIMARY KEY (dataset, index_values),
    CONSTRAINT dataset_results_dataset_fkey FOREIGN KEY (dataset)
        REFERENCES access_key.datasets (name) ON DELETE CASCADE
);
COMMENT ON TABLE access_key.dataset_results IS 'the stored rows of each dataset, per index value';

REVOKE ALL ON access_key.saved_queries, access_key.datasets, access_key.dataset_results FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('access_key.saved_queries', '');
SELECT pg_catalog.pg_extension_config_dump('access_key.datasets', '');
SELECT pg_catalog.pg_extension_config_dump('access_key.dataset_results', '');

-- Creation is in C and runs as the calling admin: the query is analyzed with
-- the caller's rights and search_path (analysis can run type input functions,
-- so never as the extension owner), and that search_path, resolved, is stored
-- with it. Only the final write switches to the tables' owner.
CREATE FUNCTION access_key.ak_create_saved_query(name text, query text, refresh_rate interval DEFAULT NULL)
RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION access_key.ak_create_saved_query(text, text, interval)
    IS 'stores a read-only SELECT under a name; with a refresh rate it is a cached query';

CREATE FUNCTION access_key.ak_update_saved_query(name text, query text, refresh_rate interval DEFAULT NULL)
RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION access_key.ak_update_saved_query(text, text, interval)
    IS 'replaces a saved query (and drops its cached result)';

CREATE FUNCTION access_key.ak_delete_saved_query(name text) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION access_key.ak_delete_saved_query(text) IS 'deletes a saved query';

CREATE FUNCTION access_key.ak_refresh_cached_queries() RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION access_key.ak_refresh_cached_queries()
    IS 'computes every cached query that is due, each as the role that stored it; returns how many';

CREATE FUNCTION access_key.ak_saved_query_result(name text) RETURNS jsonb
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION access_key.ak_saved_query_result(text)
    IS '{"result": [rows], "refreshed_at": ...} of a saved or cached query the caller may read';

CREATE FUNCTION access_key.ak_list_saved_queries() RETURNS SETOF text
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
COMMENT ON FUNCTION access_key.ak_list_saved_queries() IS 'the saved and cached queries the caller may read';

CREATE FUNCTION access_key.ak_create_dataset(name text, query text, index_by text[]) RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION access_key.ak_create_dataset(text, text, text[])
    IS 'stores a dataset: a read-only SELECT returning a column per index_by property';

CREATE FUNCTION access_key.ak_refresh_dataset(name text) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION access_key.ak_refresh_dataset(text)
    IS 'recomputes a dataset as the role that stored it and stores its rows per index value; returns how many index values';

CREATE FUNCTION access_key.ak_delete_dataset(name text) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION access_key.ak_delete_dataset(text) IS 'deletes a dataset and its stored rows';

CREATE FUNCTION access_key.ak_dataset_definition(name text) RETURNS jsonb
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION access_key.ak_dataset_definition(text)
    IS 'a dataset''s name, query, index_by and refresh time (operation "read")';

CREATE FUNCTION access_key.ak_list_datasets() RETURNS SETOF text
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
COMMENT ON FUNCTION access_key.ak_list_datasets() IS 'the datasets the caller may list (operation "list")';

CREATE FUNCTION access_key.ak_dataset_results(name text, index_by jsonb) RETURNS jsonb
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION access_key.ak_dataset_results(text, jsonb)
    IS '{"result": [rows], "refreshed_at": ...} for one value of each index_by property (operation "retrieve")';

REVOKE ALL ON FUNCTION
    access_key.ak_create_saved_query(text, text, interval),
    access_key.ak_update_saved_query(text, text, interval),
    access_key.ak_delete_saved_query(text),
    access_key.ak_refresh_cached_queries(),
    access_key.ak_create_dataset(text, text, text[]),
    access_key.ak_refresh_dataset(text),
    access_key.ak_delete_dataset(text)
FROM PUBLIC;

------------------------------------------------------------------------------
-- Schema inspection (docs/reference.md#schema-inspection)
------------------------------------------------------------------------------

CREATE FUNCTION access_key.ak_collections() RETURNS SETOF regclass
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
COMMENT ON FUNCTION access_key.ak_collections() IS 'the protected collections this role may read (needs "schema")';

CREATE FUNCTION access_key.ak_schema(collection regclass)
RETURNS TABLE (property_name text, type text)
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION access_key.ak_schema(regclass)
    IS 'property paths and Keen types seen in the rows of a collection this session can see (needs "schema")';

------------------------------------------------------------------------------
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

-- Private: called by PostgreSQL (a trigger, an event trigger or the planner), not by users.
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

-- Private: called by PostgreSQL (a trigger, an event trigger or the planner), not by users.
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
-- Private: called by PostgreSQL (a trigger, an event trigger or the planner), not by users.
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
