-- Least privilege: the extension functions PUBLIC may execute, with their
-- arguments.  Anything added here must be meant for applications or
-- administrators; trigger functions, planner support and internal helpers
-- never are.  A new function that lands here by default fails this test.
SELECT p.oid::regprocedure::text AS executable_by_public
FROM pg_proc AS p
JOIN pg_depend AS d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension AS e ON e.oid = d.refobjid AND e.extname = 'access_key'
WHERE p.proacl IS NULL
   OR EXISTS (SELECT FROM aclexplode(p.proacl) AS a WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
ORDER BY 1;

-- What only administrators hold (EXECUTE granted to no one but the owner).
SELECT p.oid::regprocedure::text AS owner_only
FROM pg_proc AS p
JOIN pg_depend AS d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension AS e ON e.oid = d.refobjid AND e.extname = 'access_key'
WHERE NOT (p.proacl IS NULL
   OR EXISTS (SELECT FROM aclexplode(p.proacl) AS a WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'))
ORDER BY 1;

-- The extension's tables are readable by no one but their owner.
SELECT c.oid::regclass::text AS extension_table, c.relacl IS NULL OR NOT EXISTS (
           SELECT FROM aclexplode(c.relacl) AS a WHERE a.grantee <> c.relowner) AS owner_only
FROM pg_class AS c
WHERE c.relnamespace = 'access_key'::regnamespace AND c.relkind IN ('r', 'v', 'm')
ORDER BY 1;
