-- ak_check_setup(role): a clean setup first, then each misconfiguration
-- alone.  Every step shows the finding it adds (compared with the clean
-- setup), runs that finding's fix column as written (\gexec), and shows that
-- the finding is gone.
SET search_path = public;
CREATE ROLE regress_cs_owner;
CREATE ROLE regress_cs_app;
CREATE ROLE regress_cs_admin;
GRANT CREATE ON SCHEMA public TO regress_cs_owner;
GRANT EXECUTE ON FUNCTION access_key.ak_protect(regclass, name, name) TO regress_cs_owner;
GRANT EXECUTE ON FUNCTION access_key.ak_check_setup(regrole) TO regress_cs_admin;

-- The clean setup: a protected collection with a GIN index, SELECT and
-- INSERT for the application role, no TEMP for PUBLIC.
SET ROLE regress_cs_owner;
CREATE TABLE public.cs_events (id bigint GENERATED ALWAYS AS IDENTITY, properties jsonb NOT NULL DEFAULT '{}');
SELECT access_key.ak_protect('public.cs_events');
CREATE INDEX cs_events_properties ON public.cs_events USING gin (properties jsonb_path_ops);
GRANT SELECT, INSERT ON public.cs_events TO regress_cs_app;
RESET ROLE;
SELECT format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database()) \gexec

-- Who may call it: not PUBLIC; an admin, without a key.
SET ROLE regress_cs_app;
SELECT count(*) FROM access_key.ak_check_setup('regress_cs_app');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT key AS token FROM access_key.ak_create_key('{"name": "cs", "permitted": ["queries"]}') \gset
SET ROLE regress_cs_admin;
SELECT severity, object, problem FROM access_key.ak_check_setup('regress_cs_app');
BEGIN;
SELECT access_key.ak_use_key(:'token') IS NOT NULL AS keyed;
SELECT count(*) FROM access_key.ak_check_setup('regress_cs_app');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- A NULL role is an error, not an empty answer.
SELECT count(*) FROM access_key.ak_check_setup(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM access_key.ak_check_setup(1::oid::regrole);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- What the clean setup still reports: failing statements are logged with
-- their text (the server default log_min_error_statement = error).
\x on
SELECT * FROM access_key.ak_check_setup('regress_cs_app');
CREATE TEMP TABLE baseline AS SELECT * FROM access_key.ak_check_setup('regress_cs_app');
-- The finding goes away with its fix, and comes back with the default.
SELECT fix FROM pg_temp.baseline WHERE object = 'setting log_min_error_statement' \gexec
SELECT * FROM access_key.ak_check_setup('regress_cs_app');
ALTER ROLE regress_cs_app RESET log_min_error_statement;

-- :new lists the findings the clean setup does not have; :fix runs their fixes.
\set new 'SELECT * FROM (SELECT * FROM access_key.ak_check_setup(''regress_cs_app'') EXCEPT ALL SELECT * FROM pg_temp.baseline) AS f ORDER BY array_position(ARRAY[''critical'', ''warning'', ''info''], severity), object, problem'
\set fix 'SELECT fix FROM (SELECT * FROM access_key.ak_check_setup(''regress_cs_app'') EXCEPT ALL SELECT * FROM pg_temp.baseline) AS f ORDER BY 1'
:new;

------------------------------------------------------------------------------
-- critical: row-level security does not apply to the role
------------------------------------------------------------------------------
ALTER ROLE regress_cs_app SUPERUSER;
:new;
:fix \gexec
:new;

ALTER ROLE regress_cs_app BYPASSRLS;
:new;
:fix \gexec
:new;

-- A role it can SET ROLE to, even without inheriting its rights.
CREATE ROLE regress_cs_super SUPERUSER;
CREATE ROLE regress_cs_group NOINHERIT;
GRANT regress_cs_super TO regress_cs_group;
GRANT regress_cs_group TO regress_cs_app;
:new;
:fix \gexec
:new;
REVOKE regress_cs_super FROM regress_cs_group;

-- Owning the collection, directly or through membership (which also lends
-- the owner's CREATE on schema public; its fix is undone here, since the
-- owner needs it below).
GRANT regress_cs_owner TO regress_cs_app;
:new;
:fix \gexec
:new;
GRANT CREATE ON SCHEMA public TO regress_cs_owner;
ALTER TABLE public.cs_events OWNER TO regress_cs_app;
:new;
:fix \gexec
:new;
-- (The privileges granted to the role merged into the owner's and left with it.)
ALTER TABLE public.cs_events OWNER TO regress_cs_owner;
GRANT SELECT, INSERT ON public.cs_events TO regress_cs_app;

-- EXECUTE on an admin function: SECURITY DEFINER ones run as the extension's owner.
GRANT EXECUTE ON FUNCTION access_key.ak_create_key(access_key.access_key, timestamptz) TO regress_cs_app;
GRANT EXECUTE ON FUNCTION access_key.ak_protect(regclass, name, name) TO regress_cs_owner;
GRANT EXECUTE ON FUNCTION access_key.ak_refresh_dataset(text) TO regress_cs_group;
GRANT regress_cs_group TO regress_cs_app;
:new;
:fix \gexec
:new;

-- Privileges on the extension's own tables.
GRANT SELECT ON access_key.keys TO regress_cs_app;
:new;
:fix \gexec
:new;

------------------------------------------------------------------------------
-- warning: paths around the keys, and leaks
------------------------------------------------------------------------------

-- Tables and views that are not protected collections, with column privileges
-- and privileges granted to PUBLIC.
CREATE TABLE public.cs_plain (a int, b int);
GRANT SELECT ON public.cs_plain TO PUBLIC;
GRANT UPDATE (a, b) ON public.cs_plain TO regress_cs_app;
CREATE VIEW public.cs_plain_view AS SELECT a FROM public.cs_plain;
GRANT SELECT ON public.cs_plain_view TO regress_cs_group;
:new;
:fix \gexec
:new;
-- A table the role owns.
ALTER TABLE public.cs_plain OWNER TO regress_cs_app;
:new;
:fix \gexec
:new;
DROP VIEW public.cs_plain_view;
DROP TABLE public.cs_plain;
-- A schema it may create objects in, or owns: objects it plants there can
-- take the place of what unqualified SQL names.
GRANT CREATE ON SCHEMA public TO regress_cs_app;
CREATE SCHEMA cs_app_schema AUTHORIZATION regress_cs_app;
:new;
:fix \gexec
:new;
DROP SCHEMA cs_app_schema;

-- Privileges on the collection beyond SELECT and INSERT.
GRANT TRUNCATE, TRIGGER, UPDATE ON public.cs_events TO regress_cs_app;
GRANT REFERENCES (id) ON public.cs_events TO PUBLIC;
:new;
:fix \gexec
:new;

-- Views over the collection without security_invoker, also through another
-- view; the owner is not subject to row-level security on it.
SET ROLE regress_cs_owner;
CREATE VIEW public.cs_view AS SELECT * FROM public.cs_events;
CREATE VIEW public.cs_view_of_view AS SELECT id FROM public.cs_view WITH CASCADED CHECK OPTION;
GRANT SELECT ON public.cs_view, public.cs_view_of_view TO regress_cs_app;
RESET ROLE;
:new;
:fix \gexec
:new;
-- With security_invoker the reader's own privileges and policies apply.
SET ROLE regress_cs_owner;
INSERT INTO public.cs_events (properties) VALUES ('{"customer": {"id": "acme"}}');
RESET ROLE;
SET ROLE regress_cs_app;
SELECT count(*) FROM public.cs_view_of_view;
RESET ROLE;
DROP VIEW public.cs_view_of_view, public.cs_view;
-- Owned by a role subject to the policies, such a view still applies keys (info).
CREATE ROLE regress_cs_reader;
GRANT SELECT ON public.cs_events TO regress_cs_reader;
GRANT CREATE ON SCHEMA public TO regress_cs_reader;
SET ROLE regress_cs_reader;
CREATE VIEW public.cs_reader_view AS SELECT * FROM public.cs_events;
GRANT SELECT ON public.cs_reader_view TO regress_cs_app;
RESET ROLE;
:new;
:fix \gexec
:new;
DROP VIEW public.cs_reader_view;

-- A materialized view stores rows with no key applied.
SET ROLE regress_cs_owner;
CREATE MATERIALIZED VIEW public.cs_counts AS SELECT count(*) AS n FROM public.cs_events;
GRANT SELECT ON public.cs_counts TO regress_cs_app;
RESET ROLE;
:new;
:fix \gexec
:new;
DROP MATERIALIZED VIEW public.cs_counts;

-- Another permissive policy is ORed with the key's.
SET ROLE regress_cs_owner;
CREATE POLICY cs_open ON public.cs_events FOR SELECT USING (true);
CREATE POLICY cs_restrictive ON public.cs_events AS RESTRICTIVE FOR SELECT USING (true);
CREATE POLICY cs_other_role ON public.cs_events FOR SELECT TO regress_cs_reader USING (true);
RESET ROLE;
:new;
:fix \gexec
:new;
DROP POLICY cs_restrictive ON public.cs_events;
DROP POLICY cs_other_role ON public.cs_events;

-- Temporary tables.
SELECT format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC', current_database()) \gexec
:new;
:fix \gexec
:new;

-- SECURITY DEFINER functions: run as the collection's owner (warning), owned
-- by the role (info), or run as a superuser without naming a collection (info).
SET ROLE regress_cs_owner;
CREATE FUNCTION public.cs_count_all() RETURNS bigint LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'SELECT count(*) FROM public.cs_events';
CREATE FUNCTION public.cs_count_atomic() RETURNS bigint LANGUAGE sql SECURITY DEFINER
    BEGIN ATOMIC SELECT count(*) FROM public.cs_events; END;
CREATE FUNCTION public.cs_invoker() RETURNS bigint LANGUAGE sql
    AS 'SELECT count(*) FROM public.cs_events';
RESET ROLE;
CREATE FUNCTION public.cs_superuser() RETURNS text LANGUAGE sql SECURITY DEFINER AS 'SELECT current_user';
ALTER FUNCTION public.cs_superuser() OWNER TO regress_cs_super;
:new;
:fix \gexec
:new;
GRANT CREATE ON SCHEMA public TO regress_cs_app;
SET ROLE regress_cs_app;
CREATE FUNCTION public.cs_app_function() RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER
    AS $$ BEGIN RETURN (SELECT count(*) FROM public.cs_events); END $$;
RESET ROLE;
REVOKE CREATE ON SCHEMA public FROM regress_cs_app;
:new;
:fix \gexec
:new;
DROP FUNCTION public.cs_count_all(), public.cs_count_atomic(), public.cs_invoker(), public.cs_superuser(),
    public.cs_app_function();

-- Predefined roles that read other sessions' statements or every table.
GRANT pg_read_all_stats, pg_read_all_data TO regress_cs_app;
:new;
:fix \gexec
:new;

------------------------------------------------------------------------------
-- Settings that log tokens, for the role (role settings take precedence).
------------------------------------------------------------------------------
ALTER ROLE regress_cs_app SET log_statement = 'all';
:new;
:fix \gexec
:new;
SELECT format('ALTER ROLE regress_cs_app IN DATABASE %I SET log_min_duration_statement = 0', current_database()) \gexec
:new;
:fix \gexec
:new;
ALTER ROLE regress_cs_app SET log_transaction_sample_rate = 0.01;
ALTER ROLE regress_cs_app SET log_min_duration_sample = 100;
ALTER ROLE regress_cs_app SET log_parameter_max_length = 0;
:new;
:fix \gexec
:new;
ALTER ROLE regress_cs_app SET log_parameter_max_length_on_error = -1;
:new;
:fix \gexec
:new;
-- auto_explain, loaded for the role's sessions.
ALTER ROLE regress_cs_app SET session_preload_libraries = 'auto_explain';
ALTER ROLE regress_cs_app SET auto_explain.log_min_duration = 0;
:new;
:fix \gexec
:new;
ALTER ROLE regress_cs_app RESET ALL;
SELECT format('ALTER ROLE regress_cs_app IN DATABASE %I RESET ALL', current_database()) \gexec

------------------------------------------------------------------------------
-- info: no GIN index on the properties column.  An expression index or a
-- btree does not serve the key's filters.
------------------------------------------------------------------------------
DROP INDEX public.cs_events_properties;
CREATE INDEX cs_events_customer ON public.cs_events USING gin ((properties -> 'customer'));
CREATE INDEX cs_events_btree ON public.cs_events (properties);
:new;
:fix \gexec
:new;
SELECT count(*) FROM pg_index WHERE indrelid = 'public.cs_events'::regclass;

-- A superuser: keys never apply, and only the settings are checked besides.
SELECT severity, object FROM access_key.ak_check_setup('regress_cs_super') ORDER BY 1, 2;
\x off

-- Clean up.
DROP TABLE public.cs_events;
SELECT format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC', current_database()) \gexec
REVOKE CREATE ON SCHEMA public FROM regress_cs_owner, regress_cs_reader;
REVOKE EXECUTE ON FUNCTION access_key.ak_protect(regclass, name, name) FROM regress_cs_owner;
REVOKE EXECUTE ON FUNCTION access_key.ak_check_setup(regrole) FROM regress_cs_admin;
SELECT access_key.ak_delete_key(id) FROM access_key.ak_list_keys('cs');
DROP ROLE regress_cs_owner, regress_cs_app, regress_cs_admin, regress_cs_super, regress_cs_group,
    regress_cs_reader;
