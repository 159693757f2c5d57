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
