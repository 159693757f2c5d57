-- Attack surface of the C functions a role might attach or call: trigger and
-- event trigger functions check how they are called before they read
-- anything.  (The autofill trigger, attached by a tenant to a table of its
-- own, once read arbitrary memory through a non-jsonb column.)
SET search_path = access_key, public;
CREATE ROLE regress_ak_owner;
CREATE ROLE regress_ak_app;
-- A role an administrator wrongly granted EXECUTE on the trigger functions.
CREATE ROLE regress_ak_granted;
GRANT CREATE ON SCHEMA public TO regress_ak_owner, regress_ak_app, regress_ak_granted;
GRANT EXECUTE ON FUNCTION ak_protect(regclass, name, name) TO regress_ak_owner;

SET ROLE regress_ak_owner;
CREATE TABLE public.events (id serial, properties jsonb NOT NULL DEFAULT '{}');
SELECT ak_protect('public.events');
GRANT SELECT, INSERT ON public.events TO regress_ak_app, regress_ak_granted;
GRANT USAGE ON SEQUENCE public.events_id_seq TO regress_ak_app, regress_ak_granted;
RESET ROLE;
SELECT key AS writer FROM ak_create_key('{"name": "acme writer", "permitted": ["writes", "queries"],
    "options": {"writes": {"autofill": {"customer": {"id": "acme"}}},
                "queries": {"filters": [{"property_name": "customer.id", "operator": "eq", "property_value": "acme"}]}}}') \gset

-- The attack: a tenant holding a writer key attaches the autofill trigger to
-- a table of its own.  PUBLIC may not execute trigger functions.
SET ROLE regress_ak_app;
BEGIN;
SELECT ak_use_key(:'writer') IS NOT NULL AS keyed;
CREATE TEMP TABLE loot (p int);
CREATE TRIGGER steal BEFORE INSERT ON loot FOR EACH ROW EXECUTE FUNCTION access_key.ak_autofill_trigger('p');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- Any non-superuser, without a key: the same for every trigger function.
CREATE TABLE public.mine (p bytea);
CREATE TRIGGER steal BEFORE INSERT ON public.mine FOR EACH ROW EXECUTE FUNCTION access_key.ak_autofill_trigger('p');
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER guard BEFORE UPDATE ON public.mine FOR EACH STATEMENT EXECUTE FUNCTION access_key.ak_forbid_keyed_changes();
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER flush AFTER INSERT ON public.mine FOR EACH STATEMENT EXECUTE FUNCTION access_key.ak_key_store_changed();
\echo :LAST_ERROR_SQLSTATE
-- Writing through the real collection still works, autofill included.
BEGIN;
SELECT ak_use_key(:'writer') IS NOT NULL AS keyed;
INSERT INTO public.events (properties) VALUES ('{"customer": {"id": "globex"}, "n": 1}') RETURNING properties;
ROLLBACK;
RESET ROLE;

-- Even with EXECUTE, the functions refuse any context but their own, before
-- reading the row.
GRANT EXECUTE ON FUNCTION ak_autofill_trigger(), ak_forbid_keyed_changes(), ak_key_store_changed()
    TO regress_ak_granted;
SET ROLE regress_ak_granted;
CREATE TABLE public.granted_int (p int);
CREATE TRIGGER steal BEFORE INSERT ON public.granted_int FOR EACH ROW EXECUTE FUNCTION access_key.ak_autofill_trigger('p');
CREATE TABLE public.granted_bytea (p bytea);
CREATE TRIGGER steal BEFORE INSERT ON public.granted_bytea FOR EACH ROW EXECUTE FUNCTION access_key.ak_autofill_trigger('p');
CREATE TABLE public.granted_jsonb (p jsonb, q jsonb);
BEGIN;
SELECT ak_use_key(:'writer') IS NOT NULL AS keyed;
INSERT INTO public.granted_int VALUES (1);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT ak_use_key(:'writer') IS NOT NULL AS keyed;
-- A forged varlena: a jsonb header claiming a huge container.
INSERT INTO public.granted_bytea VALUES ('\xffffff0f00000000'::bytea);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- Without a key too: the checks come first.
INSERT INTO public.granted_int VALUES (1);
\echo :LAST_ERROR_SQLSTATE
-- A jsonb column of a table that is not a protected collection.
CREATE TRIGGER fill BEFORE INSERT ON public.granted_jsonb FOR EACH ROW EXECUTE FUNCTION access_key.ak_autofill_trigger('p');
INSERT INTO public.granted_jsonb VALUES ('{}');
DROP TRIGGER fill ON public.granted_jsonb;
-- Wrong timing, level, event or arguments.
CREATE TRIGGER fill AFTER INSERT ON public.granted_jsonb FOR EACH ROW EXECUTE FUNCTION access_key.ak_autofill_trigger('p');
INSERT INTO public.granted_jsonb VALUES ('{}');
DROP TRIGGER fill ON public.granted_jsonb;
CREATE TRIGGER fill BEFORE INSERT ON public.granted_jsonb FOR EACH STATEMENT EXECUTE FUNCTION access_key.ak_autofill_trigger('p');
INSERT INTO public.granted_jsonb VALUES ('{}');
DROP TRIGGER fill ON public.granted_jsonb;
INSERT INTO public.granted_jsonb VALUES ('{}');
CREATE TRIGGER fill BEFORE UPDATE ON public.granted_jsonb FOR EACH ROW EXECUTE FUNCTION access_key.ak_autofill_trigger('p');
UPDATE public.granted_jsonb SET q = '{}';
DROP TRIGGER fill ON public.granted_jsonb;
-- The append-only guard and the cache flush on tables they were not made for.
CREATE TRIGGER guard BEFORE UPDATE ON public.granted_jsonb FOR EACH STATEMENT EXECUTE FUNCTION access_key.ak_forbid_keyed_changes();
UPDATE public.granted_jsonb SET q = '{}';
DROP TRIGGER guard ON public.granted_jsonb;
CREATE TRIGGER guard BEFORE UPDATE ON public.granted_jsonb FOR EACH ROW EXECUTE FUNCTION access_key.ak_forbid_keyed_changes();
UPDATE public.granted_jsonb SET q = '{}';
DROP TRIGGER guard ON public.granted_jsonb;
CREATE TRIGGER flush AFTER INSERT ON public.granted_jsonb FOR EACH STATEMENT EXECUTE FUNCTION access_key.ak_key_store_changed();
INSERT INTO public.granted_jsonb VALUES ('{}');
DROP TRIGGER flush ON public.granted_jsonb;
CREATE TRIGGER flush BEFORE INSERT ON public.granted_jsonb FOR EACH ROW EXECUTE FUNCTION access_key.ak_key_store_changed();
INSERT INTO public.granted_jsonb VALUES ('{}');
DROP TRIGGER flush ON public.granted_jsonb;
-- Called as plain functions.
SELECT access_key.ak_autofill_trigger();
RESET ROLE;

-- Only a superuser can change the catalog or the collection's triggers, and
-- even then the trigger checks what it is told.
-- A second autofill trigger on a collection, naming another column:
ALTER TABLE public.events ADD COLUMN extra jsonb;
CREATE TRIGGER extra_fill BEFORE INSERT ON public.events FOR EACH ROW EXECUTE FUNCTION access_key.ak_autofill_trigger('extra');
SET ROLE regress_ak_app;
INSERT INTO public.events (properties) VALUES ('{}');
RESET ROLE;
DROP TRIGGER extra_fill ON public.events;
-- A catalog row naming a column that is not jsonb (42804, naming the type):
INSERT INTO access_key.collections (collection, properties_column) VALUES ('public.granted_int', 'p');
SET ROLE regress_ak_granted;
INSERT INTO public.granted_int VALUES (1);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
-- An event trigger function on another event.
CREATE EVENT TRIGGER regress_wrong_event ON ddl_command_end EXECUTE FUNCTION access_key.ak_collection_dropped();
CREATE TABLE public.after_ddl (x int);
DROP EVENT TRIGGER regress_wrong_event;

-- The planner support function builds index conditions only on arguments of
-- the types it was made for, whatever function a superuser attaches it to.
CREATE TABLE public.support_probe (n int, p jsonb);
CREATE INDEX ON public.support_probe USING gin (p jsonb_path_ops);
CREATE FUNCTION public.two_jsonb(jsonb, jsonb) RETURNS boolean LANGUAGE plpgsql STABLE AS 'BEGIN RETURN true; END'
    SUPPORT access_key.ak_apply_filters_support;
CREATE FUNCTION public.int_first(int, jsonb) RETURNS boolean LANGUAGE plpgsql STABLE AS 'BEGIN RETURN true; END'
    SUPPORT access_key.ak_apply_filters_support;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM public.support_probe WHERE public.two_jsonb(p, p);
EXPLAIN (COSTS OFF) SELECT * FROM public.support_probe WHERE public.int_first(n, p);
-- The same for the timeframe's support function: (regclass, timestamptz) only.
CREATE TABLE public.time_probe (n int, at timestamptz);
CREATE INDEX ON public.time_probe (at);
CREATE FUNCTION public.int_time(int, timestamptz) RETURNS boolean LANGUAGE plpgsql STABLE AS 'BEGIN RETURN true; END'
    SUPPORT access_key.ak_in_timeframe_support;
EXPLAIN (COSTS OFF) SELECT * FROM public.time_probe WHERE public.int_time(n, at);
RESET enable_seqscan;
DROP TABLE public.support_probe, public.time_probe;
DROP FUNCTION public.two_jsonb(jsonb, jsonb), public.int_first(int, jsonb), public.int_time(int, timestamptz);
-- ak_filter_row names whatever relation it is given, even one that does not exist.
BEGIN;
SELECT ak_use_key(:'writer') IS NOT NULL AS keyed;
SELECT ak_filter_row(0::regclass, '{}');
SELECT ak_filter_row(NULL, '{}') AS null_collection, ak_filter_row('public.events', NULL) AS null_properties;
ROLLBACK;

-- Clean up.
DROP TABLE public.events, public.mine, public.granted_int, public.granted_bytea, public.granted_jsonb;
DELETE FROM access_key.keys;
REVOKE CREATE ON SCHEMA public FROM regress_ak_owner, regress_ak_app, regress_ak_granted;
DROP OWNED BY regress_ak_owner, regress_ak_app, regress_ak_granted;
DROP ROLE regress_ak_owner, regress_ak_app, regress_ak_granted;
