-- The release path: a database created at 1.0 and updated with
-- ALTER EXTENSION ... UPDATE has exactly the objects of a fresh install of
-- the current version, and C entry points named by the 1.0 script keep
-- working with the current library until the database is updated.
DROP EXTENSION access_key;

-- Everything that makes up the extension, described by name (oids differ
-- between installs): members, and for each kind what defines it.
CREATE FUNCTION pg_temp.extension_objects() RETURNS TABLE (kind text, description text)
LANGUAGE sql AS $$
    WITH ext AS (SELECT oid, extconfig, extcondition FROM pg_extension WHERE extname = 'access_key'),
    members AS (
        SELECT d.classid, d.objid FROM pg_depend AS d, ext
        WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e')
    SELECT 'member', pg_describe_object(classid, objid, 0) FROM members
    UNION ALL
    SELECT 'function', concat_ws(' | ', p.oid::regprocedure, pg_get_function_arguments(p.oid),
               pg_get_function_result(p.oid), l.lanname, p.prokind, p.provolatile, p.proisstrict,
               p.proleakproof, p.proparallel, p.prosecdef, p.proconfig::text, p.procost, p.prorows,
               p.prosupport::regproc, p.proacl::text, md5(p.prosrc), p.probin, obj_description(p.oid, 'pg_proc'))
    FROM pg_proc AS p JOIN pg_language AS l ON l.oid = p.prolang
    WHERE p.oid IN (SELECT objid FROM members WHERE classid = 'pg_proc'::regclass)
    UNION ALL
    SELECT 'relation', concat_ws(' | ', c.oid::regclass, c.relkind, c.relpersistence, c.relrowsecurity,
               c.relforcerowsecurity, c.relacl::text, obj_description(c.oid, 'pg_class'))
    FROM pg_class AS c WHERE c.relnamespace = 'access_key'::regnamespace
    UNION ALL
    SELECT 'column', concat_ws(' | ', a.attrelid::regclass, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
               a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid), a.attcollation::regcollation, a.attacl::text)
    FROM pg_attribute AS a
    JOIN pg_class AS c ON c.oid = a.attrelid AND c.relnamespace = 'access_key'::regnamespace
    LEFT JOIN pg_attrdef AS ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
    WHERE a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT 'constraint', concat_ws(' | ', co.conrelid::regclass, co.conname, pg_get_constraintdef(co.oid))
    FROM pg_constraint AS co WHERE co.connamespace = 'access_key'::regnamespace
    UNION ALL
    SELECT 'index', pg_get_indexdef(i.indexrelid)
    FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indrelid AND c.relnamespace = 'access_key'::regnamespace
    UNION ALL
    SELECT 'trigger', concat_ws(' | ', pg_get_triggerdef(t.oid), t.tgenabled)
    FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid AND c.relnamespace = 'access_key'::regnamespace
    WHERE NOT t.tgisinternal
    UNION ALL
    SELECT 'policy', concat_ws(' | ', po.polrelid::regclass, po.polname)
    FROM pg_policy AS po JOIN pg_class AS c ON c.oid = po.polrelid AND c.relnamespace = 'access_key'::regnamespace
    UNION ALL
    SELECT 'type', concat_ws(' | ', t.oid::regtype, t.typtype, t.typlen, t.typbyval, t.typalign, t.typstorage,
               t.typinput, t.typoutput, t.typreceive, t.typsend, t.typcategory, t.typacl::text,
               obj_description(t.oid, 'pg_type'))
    FROM pg_type AS t WHERE t.typnamespace = 'access_key'::regnamespace
    UNION ALL
    SELECT 'cast', concat_ws(' | ', ca.castsource::regtype, ca.casttarget::regtype, ca.castfunc::regprocedure,
               ca.castcontext, ca.castmethod)
    FROM pg_cast AS ca WHERE ca.oid IN (SELECT objid FROM members WHERE classid = 'pg_cast'::regclass)
    UNION ALL
    SELECT 'operator', concat_ws(' | ', o.oid::regoperator, o.oprcode, o.oprcom::regoperator, o.oprnegate::regoperator,
               o.oprrest, o.oprjoin, o.oprcanhash, o.oprcanmerge)
    FROM pg_operator AS o WHERE o.oprnamespace = 'access_key'::regnamespace
    UNION ALL
    SELECT 'operator class', concat_ws(' | ', oc.opcname, am.amname, oc.opcintype::regtype, oc.opcdefault,
               (SELECT string_agg(ao.amopstrategy || ':' || ao.amopopr::regoperator, ',' ORDER BY ao.amopstrategy)
                FROM pg_amop AS ao WHERE ao.amopfamily = oc.opcfamily),
               (SELECT string_agg(ap.amprocnum || ':' || ap.amproc::regprocedure, ',' ORDER BY ap.amprocnum)
                FROM pg_amproc AS ap WHERE ap.amprocfamily = oc.opcfamily))
    FROM pg_opclass AS oc JOIN pg_am AS am ON am.oid = oc.opcmethod
    WHERE oc.opcnamespace = 'access_key'::regnamespace
    UNION ALL
    SELECT 'event trigger', concat_ws(' | ', ev.evtname, ev.evtevent, ev.evtfoid::regprocedure, ev.evtenabled,
               ev.evttags::text)
    FROM pg_event_trigger AS ev WHERE ev.oid IN (SELECT objid FROM members WHERE classid = 'pg_event_trigger'::regclass)
    UNION ALL
    SELECT 'configuration table', concat_ws(' | ', cfg.rel::regclass, cfg.cond)
    FROM ext, unnest(ext.extconfig, ext.extcondition) AS cfg(rel, cond)
    UNION ALL
    SELECT 'schema', concat_ws(' | ', n.nspname, n.nspacl::text) FROM pg_namespace AS n WHERE n.nspname = 'access_key'
$$;

-- 1.0 as released, with a collection protected by 1.0's ak_protect and an
-- admin grant that must survive the update.
CREATE EXTENSION access_key VERSION '1.0';
CREATE ROLE regress_ak_owner;
CREATE ROLE regress_ak_app;
GRANT EXECUTE ON FUNCTION access_key.ak_protect(regclass, name), access_key.ak_unprotect(regclass)
    TO regress_ak_owner;
CREATE TABLE public.old_events (properties jsonb);
ALTER TABLE public.old_events OWNER TO regress_ak_owner;
SELECT access_key.ak_protect('public.old_events');
GRANT SELECT, INSERT ON public.old_events TO regress_ak_app;
SELECT key AS writer FROM access_key.ak_create_key('{"name": "w", "permitted": ["writes", "queries"],
    "options": {"writes": {"autofill": {"tenant": "t1"}}}}') \gset

-- The current library serves a 1.0 database: autofill still works, and the
-- trigger still refuses a column that is not jsonb (1.0 has no catalog of
-- collections, and PUBLIC may still execute 1.0's trigger functions).
SET ROLE regress_ak_app;
BEGIN;
SELECT access_key.ak_use_key(:'writer') IS NOT NULL AS keyed;
INSERT INTO public.old_events VALUES ('{"n": 1}');
CREATE TEMP TABLE loot (p int);
CREATE TRIGGER steal BEFORE INSERT ON loot FOR EACH ROW EXECUTE FUNCTION access_key.ak_autofill_trigger('p');
INSERT INTO loot VALUES (1);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT access_key.ak_use_key(:'writer') IS NOT NULL AS keyed;
SELECT * FROM access_key.ak_list_saved_queries();
ROLLBACK;
RESET ROLE;
-- Schema admins of a 1.0 database hold EXECUTE on 1.0's two-argument ak_protect.
SET ROLE regress_ak_owner;
SELECT count(*) AS collections_for_a_1_0_schema_admin FROM access_key.ak_collections();
RESET ROLE;

ALTER EXTENSION access_key UPDATE;
SELECT extversion = (SELECT default_version FROM pg_available_extensions WHERE name = 'access_key') AS current
FROM pg_extension WHERE extname = 'access_key';
-- The 1.0 collection is in the catalog, its grant kept; it still works.
SELECT collection, properties_column FROM access_key.collections;
SELECT has_function_privilege('regress_ak_owner', 'access_key.ak_protect(regclass, name, name)', 'EXECUTE') AS grant_kept;
-- ... as the admin's own grant, not as an initial privilege of the extension
-- (pg_dump leaves those out, so a restore would lose it).
SELECT NOT EXISTS (SELECT FROM pg_init_privs AS i, aclexplode(i.initprivs) AS a
                   WHERE i.objoid = 'access_key.ak_protect(regclass, name, name)'::regprocedure
                     AND a.grantee = 'regress_ak_owner'::regrole) AS not_an_initial_privilege;
SET ROLE regress_ak_app;
BEGIN;
SELECT access_key.ak_use_key(:'writer') IS NOT NULL AS keyed;
INSERT INTO public.old_events VALUES ('{"n": 2}');
SELECT properties FROM public.old_events ORDER BY properties ->> 'n';
ROLLBACK;
RESET ROLE;
SET ROLE regress_ak_owner;
SELECT access_key.ak_unprotect('public.old_events');
RESET ROLE;
REVOKE EXECUTE ON FUNCTION access_key.ak_protect(regclass, name, name), access_key.ak_unprotect(regclass)
    FROM regress_ak_owner;

CREATE TEMP TABLE upgraded AS SELECT * FROM pg_temp.extension_objects();
DROP TABLE public.old_events;
DROP EXTENSION access_key;
CREATE EXTENSION access_key;
CREATE TEMP TABLE fresh AS SELECT * FROM pg_temp.extension_objects();

-- No difference either way (a row here names what the upgrade script misses).
(SELECT 'only after upgrade' AS side, * FROM upgraded EXCEPT ALL SELECT 'only after upgrade', * FROM fresh)
UNION ALL
(SELECT 'only in fresh install', * FROM fresh EXCEPT ALL SELECT 'only in fresh install', * FROM upgraded)
ORDER BY 1, 2, 3;
SELECT count(*) > 100 AS compared_many_objects FROM fresh;

DROP ROLE regress_ak_owner, regress_ak_app;
