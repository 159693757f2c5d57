/*
 * check_setup.c — ak_check_setup(role regrole) (SPEC §15): one row per
 * finding about what would let that application role escape or weaken its
 * keys, for an administrator to run before going live.
 *
 * The facts come from read-only catalog queries run through SPI with
 * search_path pinned to pg_catalog; which facts are findings, how severe they
 * are and what they say is decided here in C.  Privileges are read from the
 * ACLs themselves, not from has_table_privilege(): a privilege reached through
 * a role the application role can SET ROLE to counts (membership, not only
 * inheritance), and each finding can name the grant to revoke.
 *
 * What this cannot see: code that reaches a protected collection without
 * naming it (dynamic SQL, a function calling another), grants made after the
 * check, and settings given at connection time (startup options such as
 * PGOPTIONS).  Role settings are those of the role named, which apply when
 * sessions log in as it, not when they SET ROLE to it.
 */
#include "postgres.h"

#include "catalog.h"
#include "check_setup.h"
#include "collection.h"
#include "compat.h"
#include "result_set.h"
#include "session.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_authid.h"
#include "utils/acl.h"
#include "catalog/pg_class.h"
#include "catalog/pg_db_role_setting.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

PG_FUNCTION_INFO_V1(ak_check_setup);

const char *
AkSeverityName(AkSeverity severity)
{
	switch (severity)
	{
		case AK_SEVERITY_CRITICAL:
			return "critical";
		case AK_SEVERITY_WARNING:
			return "warning";
		case AK_SEVERITY_INFO:
			return "info";
	}
	return "info";				/* not reached */
}

typedef struct Finding
{
	AkSeverity	severity;
	char	   *object;
	char	   *problem;
	char	   *fix;
} Finding;

typedef struct Check
{
	Oid			role;
	const char *role_ident;		/* the role's name, quoted as an identifier */
	const char *db_ident;		/* the current database's name, quoted */
	Datum		args[3];		/* $1 role oid, $2 protected collections oid[], $3 extension schema */
	MemoryContext findings_cxt;
	List	   *findings;
} Check;

/* Records one finding (copied into the findings' memory context). */
static void
AddFinding(Check *cx, AkSeverity severity, const char *object, const char *problem, const char *fix)
{
	MemoryContext old = MemoryContextSwitchTo(cx->findings_cxt);
	Finding    *f = palloc(sizeof(Finding));

	f->severity = severity;
	f->object = pstrdup(object);
	f->problem = pstrdup(problem);
	f->fix = pstrdup(fix);
	cx->findings = lappend(cx->findings, f);
	MemoryContextSwitchTo(old);
}

static int
CompareFindings(const ListCell *a, const ListCell *b)
{
	const Finding *x = lfirst(a);
	const Finding *y = lfirst(b);
	int			c;

	if (x->severity != y->severity)
		return x->severity < y->severity ? -1 : 1;
	if ((c = strcmp(x->object, y->object)) != 0)
		return c;
	return strcmp(x->problem, y->problem);
}

/* Runs a catalog query with $1 role, $2 collections, $3 extension schema. */
static void
RunQuery(Check *cx, const char *sql)
{
	static Oid	types[3] = {OIDOID, OIDARRAYOID, OIDOID};
	int			rc = SPI_execute_with_args(sql, 3, types, cx->args, NULL, true, 0);

	if (rc != SPI_OK_SELECT)
		elog(ERROR, "ak_check_setup: catalog query failed (SPI result %d)", rc);
}

/* Column `name` of result row i as text, or NULL. */
static char *
Col(uint64 i, const char *name)
{
	int			fnum = SPI_fnumber(SPI_tuptable->tupdesc, name);

	if (fnum <= 0)
		elog(ERROR, "ak_check_setup: no column \"%s\"", name);
	return SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, fnum);
}

/* A boolean column of row i of the last SPI result ("t"), false when NULL. */
static bool
ColBool(uint64 i, const char *name)
{
	char	   *v = Col(i, name);

	return v != NULL && strcmp(v, "t") == 0;
}

/* "what (granted to x, y)", naming the grantees through which the role holds a privilege. */
static char *
Through(const char *what, const char *grantees)
{
	return grantees ? psprintf("%s (granted to %s)", what, grantees) : pstrdup(what);
}

/* ---------- shared SQL ---------- */

/*
 * protected: the protected collections, and partitions whose root is one.
 * over_protected: views and materialized views reading a protected
 * collection, directly or through other views (the rewrite rule's
 * dependencies).
 */
#define CTE_PROTECTED \
	"protected AS (" \
	"  SELECT c.oid, c.relowner, c.relforcerowsecurity FROM pg_class AS c" \
	"  WHERE c.oid = ANY ($2) OR (c.relispartition AND pg_partition_root(c.oid) = ANY ($2)))," \
	" reads AS (" \
	"  SELECT DISTINCT r.ev_class AS viewid, d.refobjid AS relid FROM pg_rewrite AS r" \
	"  JOIN pg_depend AS d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid" \
	"   AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.ev_class" \
	"  WHERE r.rulename = '_RETURN')," \
	" over_protected (viewid, collection) AS (" \
	"  SELECT r.viewid, r.relid FROM reads AS r JOIN protected AS p ON p.oid = r.relid" \
	"  UNION" \
	"  SELECT r.viewid, o.collection FROM reads AS r JOIN over_protected AS o ON o.viewid = r.relid)"

/* Whether role `who` is not subject to row-level security on protected collection p. */
#define EXEMPT(who) \
	"(EXISTS (SELECT FROM pg_roles AS x WHERE x.oid = " who " AND (x.rolsuper OR x.rolbypassrls))" \
	" OR (NOT p.relforcerowsecurity AND pg_has_role(" who ", p.relowner, 'USAGE')))"

#define PRIVILEGE_ORDER "array_position(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES','TRIGGER'], h.privilege_type)"
#define GRANTEE_NAME "CASE WHEN h.grantee = 0 THEN 'PUBLIC' ELSE h.grantee::regrole::text END"

/*
 * held: the table and column privileges the role holds on each relation,
 * directly, through PUBLIC or through a role it is a member of (the owner's
 * own privileges excepted: ownership is reported on its own).
 */
#define CTE_HELD \
	"held AS (" \
	"  SELECT c.oid AS relid, a.grantee, a.privilege_type, NULL::name AS attname" \
	"  FROM pg_class AS c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) AS a" \
	"  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.grantee <> c.relowner" \
	"   AND (a.grantee = 0 OR pg_has_role($1, a.grantee, 'MEMBER'))" \
	"  UNION ALL" \
	"  SELECT c.oid, a.grantee, a.privilege_type, att.attname" \
	"  FROM pg_class AS c JOIN pg_attribute AS att ON att.attrelid = c.oid, aclexplode(att.attacl) AS a" \
	"  WHERE att.attacl IS NOT NULL AND att.attnum > 0 AND NOT att.attisdropped" \
	"   AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.grantee <> c.relowner" \
	"   AND (a.grantee = 0 OR pg_has_role($1, a.grantee, 'MEMBER')))"

/*
 * For relation rel (columns oid and name), the privileges in `held`
 * matching `filter`: as text ("SELECT, UPDATE (a, b)"), the REVOKE
 * statements that take them away, and the grantees other than the role.
 */
static char *
HeldPrivilegesSql(const char *prefix, const char *filter)
{
	return psprintf(
		"LEFT JOIN LATERAL ("
		" SELECT string_agg(s.priv, ', ' ORDER BY s.ord) AS %1$s_privileges"
		" FROM (SELECT " PRIVILEGE_ORDER " AS ord, h.privilege_type ||"
		"        CASE WHEN bool_and(h.attname IS NOT NULL)"
		"        THEN ' (' || string_agg(DISTINCT quote_ident(h.attname), ', ') || ')' ELSE '' END AS priv"
		"       FROM held AS h WHERE h.relid = rel.oid AND (%2$s) GROUP BY h.privilege_type) AS s"
		") AS %1$s_p ON true "
		"LEFT JOIN LATERAL ("
		" SELECT string_agg(s.stmt, ' ' ORDER BY s.grantee_name, s.kind, s.stmt) AS %1$s_revokes,"
		"        string_agg(DISTINCT s.grantee_name, ', ' ORDER BY s.grantee_name)"
		"          AS %1$s_through"
		" FROM (SELECT h.grantee, " GRANTEE_NAME " AS grantee_name, 0 AS kind,"
		"        format('REVOKE %%s ON TABLE %%s FROM %%s;', string_agg(h.privilege_type, ', ' ORDER BY " PRIVILEGE_ORDER "),"
		"               rel.name, " GRANTEE_NAME ") AS stmt"
		"       FROM held AS h WHERE h.relid = rel.oid AND h.attname IS NULL AND (%2$s) GROUP BY h.grantee"
		"       UNION ALL"
		"       SELECT h.grantee, " GRANTEE_NAME ", 1,"
		"        format('REVOKE %%s (%%s) ON TABLE %%s FROM %%s;', h.privilege_type,"
		"               string_agg(quote_ident(h.attname), ', ' ORDER BY h.attname), rel.name, " GRANTEE_NAME ")"
		"       FROM held AS h WHERE h.relid = rel.oid AND h.attname IS NOT NULL AND (%2$s)"
		"        AND NOT EXISTS (SELECT FROM held AS t WHERE t.relid = h.relid AND t.grantee = h.grantee"
		"                        AND t.privilege_type = h.privilege_type AND t.attname IS NULL)"
		"       GROUP BY h.grantee, h.privilege_type) AS s"
		") AS %1$s_r ON true ",
		prefix, filter);
}

/* REVOKE statements for the roles granted to $1 that make it a member of `target`. */
#define VIA_REVOKES(target) \
	"(SELECT string_agg(format('REVOKE %s FROM %s;', m.roleid::regrole, $1::regrole), ' ' ORDER BY m.roleid::regrole::text)" \
	" FROM pg_auth_members AS m WHERE m.member = $1 AND pg_has_role(m.roleid, " target ", 'MEMBER'))"

/* ---------- the role itself ---------- */

static void
CheckRoleAttributes(Check *cx, bool *superuser)
{
	HeapTuple	tuple = SearchSysCache1(AUTHOID, ObjectIdGetDatum(cx->role));
	Form_pg_authid form;
	const char *object = psprintf("role %s", cx->role_ident);

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for role %u", cx->role);
	form = (Form_pg_authid) GETSTRUCT(tuple);
	*superuser = form->rolsuper;
	if (form->rolsuper)
		AddFinding(cx, AK_SEVERITY_CRITICAL, object,
				   "the role is a superuser: row-level security does not apply to it, and it can read and change the key tables",
				   psprintf("ALTER ROLE %s NOSUPERUSER;", cx->role_ident));
	else if (form->rolbypassrls)
		AddFinding(cx, AK_SEVERITY_CRITICAL, object,
				   "the role has BYPASSRLS: row-level security does not apply to it",
				   psprintf("ALTER ROLE %s NOBYPASSRLS;", cx->role_ident));
	ReleaseSysCache(tuple);
}

/*
 * Roles the role can become or use: superusers and BYPASSRLS roles, and the
 * predefined roles that read other sessions' statements or every table.
 */
static void
CheckMemberships(Check *cx)
{
	RunQuery(cx,
		  "SELECT r.rolname::regrole::text AS name, r.rolname, r.rolsuper, r.rolbypassrls, "
		  VIA_REVOKES("r.oid") " AS fix"
		  " FROM pg_roles AS r"
		  " WHERE r.oid <> $1 AND pg_has_role($1, r.oid, 'MEMBER')"
		  "  AND (r.rolsuper OR r.rolbypassrls"
		  "       OR r.rolname IN ('pg_read_all_stats', 'pg_monitor', 'pg_read_all_data', 'pg_write_all_data'))"
		  " ORDER BY 1");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		const char *name = Col(i, "name");
		const char *rolname = Col(i, "rolname");
		const char *fix = Col(i, "fix");
		const char *object = psprintf("role %s", cx->role_ident);

		if (ColBool(i, "rolsuper") || ColBool(i, "rolbypassrls"))
			AddFinding(cx, AK_SEVERITY_CRITICAL, object,
					   psprintf("the role can SET ROLE to %s, which %s: row-level security does not apply to it then",
								name, ColBool(i, "rolsuper") ? "is a superuser" : "has BYPASSRLS"),
					   fix);
		else if (strcmp(rolname, "pg_read_all_data") == 0 || strcmp(rolname, "pg_write_all_data") == 0)
			AddFinding(cx, AK_SEVERITY_WARNING, object,
					   psprintf("the role is a member of %s: it may %s every table, view and sequence whatever their grants "
								"(row-level security still applies)",
								name, strcmp(rolname, "pg_read_all_data") == 0 ? "read" : "write"),
					   fix);
		else
			AddFinding(cx, AK_SEVERITY_WARNING, object,
					   psprintf("the role is a member of %s: it can read the statement text of every session "
								"(pg_stat_activity, pg_stat_statements), including tokens written as literals",
								name),
					   fix);
	}
}

/* ---------- relations ---------- */

static const char *
RelationKind(char relkind)
{
	switch (relkind)
	{
		case 'v':
			return "view";
		case 'm':
			return "materialized view";
		case 'f':
			return "foreign table";
		default:
			return "table";
	}
}

/* The ALTER keyword of a relation kind, for the fix column. */
static const char *
AlterKeyword(char relkind)
{
	switch (relkind)
	{
		case 'v':
			return "VIEW";
		case 'm':
			return "MATERIALIZED VIEW";
		case 'f':
			return "FOREIGN TABLE";
		default:
			return "TABLE";
	}
}

/* The fix for owning a relation: give it away, or leave the owning role. */
static char *
OwnershipFix(Check *cx, char relkind, const char *name, bool owned, const char *via_revokes)
{
	if (owned || via_revokes == NULL)
		return psprintf("ALTER %s %s OWNER TO CURRENT_USER;", AlterKeyword(relkind), name);
	return pstrdup(via_revokes);
}

/*
 * Every relation outside the system schemas that the role holds a privilege
 * on or owns, every protected collection, and every view over one.
 */
static void
CheckRelations(Check *cx)
{
	const char *sql = psprintf("%s %s %s %s",
		"WITH RECURSIVE " CTE_PROTECTED ", " CTE_HELD ","
		" rel AS ("
		"  SELECT c.oid, c.relkind, format('%I.%I', n.nspname, c.relname) AS name, c.relowner,"
		"         c.relnamespace = $3 AS in_extension"
		"  FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace"
		"  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relpersistence <> 't'"
		"   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast'))"
		" SELECT rel.oid, rel.relkind, rel.name, rel.relowner::regrole::text AS owner, rel.in_extension,"
		"  rel.relowner = $1 AS owned, pg_has_role($1, rel.relowner, 'MEMBER') AS owner_member,"
		"  " VIA_REVOKES("rel.relowner") " AS via_revokes,"
		"  rel.oid IN (SELECT oid FROM protected) AS protected,"
		"  EXISTS (SELECT FROM over_protected AS o WHERE o.viewid = rel.oid) AS over_protected,"
		"  (SELECT string_agg(DISTINCT o.collection::regclass::text, ', ')"
		"   FROM over_protected AS o WHERE o.viewid = rel.oid) AS reads,"
		"  (SELECT string_agg(DISTINCT o.collection::regclass::text, ', ')"
		"   FROM over_protected AS o JOIN protected AS p ON p.oid = o.collection"
		"   WHERE o.viewid = rel.oid AND " EXEMPT("rel.relowner") ") AS reads_exempt,"
		"  EXISTS (SELECT FROM pg_class AS c, pg_options_to_table(c.reloptions) AS o"
		"          WHERE c.oid = rel.oid"
		"           AND CASE WHEN o.option_name = 'security_invoker' THEN o.option_value::boolean ELSE false END)"
		"   AS security_invoker,"
		"  all_privileges, all_revokes, all_through, extra_privileges, extra_revokes, extra_through"
		" FROM rel",
		HeldPrivilegesSql("all", "true"),
		HeldPrivilegesSql("extra", "h.privilege_type NOT IN ('SELECT', 'INSERT')"),
		" WHERE rel.oid IN (SELECT relid FROM held) OR pg_has_role($1, rel.relowner, 'MEMBER')"
		"  OR rel.oid IN (SELECT oid FROM protected)"
		" ORDER BY rel.name");

	RunQuery(cx, sql);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char		relkind = Col(i, "relkind")[0];
		const char *name = Col(i, "name");
		const char *object = psprintf("%s %s", RelationKind(relkind), name);
		const char *owner = Col(i, "owner");
		bool		owned = ColBool(i, "owned");
		bool		owner_member = ColBool(i, "owner_member");
		const char *via_revokes = Col(i, "via_revokes");
		const char *privileges = Col(i, "all_privileges");
		const char *revokes = Col(i, "all_revokes");
		const char *through = Col(i, "all_through");
		bool		has_privileges = privileges != NULL;

		if (ColBool(i, "in_extension"))
		{
			/* The extension's own tables: keys, token hashes, stored results. */
			if (has_privileges)
				AddFinding(cx, AK_SEVERITY_CRITICAL, object,
						   psprintf("%s on a table of access_key, which holds every key, token hash and stored result",
									Through(psprintf("the role holds %s", privileges), through)),
						   revokes);
			continue;
		}

		if (ColBool(i, "protected"))
		{
			const char *extra = Col(i, "extra_privileges");

			if (owner_member)
				AddFinding(cx, AK_SEVERITY_CRITICAL, object,
						   owned ? "the role owns this protected collection: row-level security does not apply to "
						   "its owner, who can also turn it off"
						   : psprintf("the role can SET ROLE to %s, the owner of this protected collection: "
									  "row-level security does not apply to its owner, who can also turn it off",
									  owner),
						   OwnershipFix(cx, relkind, name, owned, via_revokes));
			if (extra != NULL)
				AddFinding(cx, AK_SEVERITY_WARNING, object,
						   psprintf("%s on this protected collection: TRUNCATE is not subject to row-level "
									"security, TRIGGER lets it attach a trigger that sees other tenants' new rows, "
									"REFERENCES lets a foreign key reveal which rows exist, and keys need no UPDATE "
									"or DELETE (they only append)",
									Through(psprintf("the role holds %s", extra), Col(i, "extra_through"))),
						   Col(i, "extra_revokes"));
			continue;
		}

		if (ColBool(i, "over_protected") && relkind == 'v')
		{
			const char *reads = Col(i, "reads");
			const char *reads_exempt = Col(i, "reads_exempt");
			const char *fix = psprintf("ALTER VIEW %s SET (security_invoker = true);", name);

			/* With security_invoker the reader's own rights and policies apply. */
			if (ColBool(i, "security_invoker") || !(has_privileges || owner_member))
				continue;
			/* Before PostgreSQL 15 there is no security_invoker: take the view away. */
			if (!AK_HAVE_SECURITY_INVOKER)
				fix = has_privileges ? revokes : OwnershipFix(cx, relkind, name, owned, via_revokes);
			if (reads_exempt != NULL)
				AddFinding(cx, AK_SEVERITY_WARNING, object,
						   psprintf("the view reads %s with the rights of its owner %s, who is not subject to "
									"row-level security there: every session that may use the view sees every "
									"row through it, whatever its key", reads_exempt, owner),
						   fix);
			else
				AddFinding(cx, AK_SEVERITY_INFO, object,
						   psprintf("the view reads %s with the rights of its owner %s; keys still apply because "
									"the owner is subject to row-level security, but they would not if the owner "
									"changed", reads, owner),
						   fix);
			continue;
		}

		if (!(has_privileges || owner_member))
			continue;

		if (ColBool(i, "over_protected") && relkind == 'm')
		{
			const char *what = has_privileges ? psprintf("%s on", Through(psprintf("the role holds %s", privileges), through))
				: pstrdup(owned ? "the role owns" : psprintf("the role can SET ROLE to %s, the owner of", owner));

			AddFinding(cx, AK_SEVERITY_WARNING, object,
					   psprintf("%s this materialized view, which stores rows of %s as they were when it was "
								"refreshed: no key applies to them", what, Col(i, "reads")),
					   has_privileges ? revokes : OwnershipFix(cx, relkind, name, owned, via_revokes));
			continue;
		}

		if (has_privileges)
			AddFinding(cx, AK_SEVERITY_WARNING, object,
					   psprintf("%s on this %s, which is not a protected collection: keys do not limit what it "
								"reads or writes there",
								Through(psprintf("the role holds %s", privileges), through), RelationKind(relkind)),
					   revokes);
		if (owner_member)
			AddFinding(cx, AK_SEVERITY_WARNING, object,
					   owned ? psprintf("the role owns this %s, which is not a protected collection: keys do not "
										"limit what it reads or writes there", RelationKind(relkind))
					   : psprintf("the role can SET ROLE to %s, the owner of this %s, which is not a protected "
								  "collection: keys do not limit what it reads or writes there",
								  owner, RelationKind(relkind)),
					   OwnershipFix(cx, relkind, name, owned, via_revokes));
	}
}

/* The statements that protect a collection again, with the columns it is protected with. */
static char *
ProtectAgainSql(Oid collection)
{
	char	   *name = quote_literal_cstr(AkQualifiedName(collection));
	char	   *column = NULL;
	char	   *time_column;

	(void) AkFetchCollection(collection, &column);
	time_column = AkFetchCollectionTimeColumn(collection);
	return psprintf("SELECT access_key.ak_unprotect(%s); SELECT access_key.ak_protect(%s, %s%s%s);",
					name, name, quote_literal_cstr(column ? column : "properties"),
					time_column ? ", " : "", time_column ? quote_literal_cstr(time_column) : "");
}

/*
 * Protected collections and their partitions that have lost what ak_protect
 * put on them: row-level security turned off, the autofill trigger dropped or
 * disabled, or a foreign table among the partitions.  These weaken the keys
 * of every role, so they are reported whatever the role's privileges.
 */
static void
CheckProtection(Check *cx)
{
	RunQuery(cx,
		  "WITH RECURSIVE " CTE_PROTECTED
		  " SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS name, c.relkind, c.relrowsecurity AS rls,"
		  "  CASE WHEN c.oid = ANY ($2) THEN c.oid ELSE pg_partition_root(c.oid)::oid END AS collection,"
		  "  (SELECT format('%I.%I', pn.nspname, pc.relname) FROM pg_inherits AS i"
		  "   JOIN pg_class AS pc ON pc.oid = i.inhparent JOIN pg_namespace AS pn ON pn.oid = pc.relnamespace"
		  "   WHERE i.inhrelid = c.oid) AS parent,"
		  "  (SELECT t.tgenabled FROM pg_trigger AS t WHERE t.tgrelid = c.oid AND t.tgname = 'access_key_autofill')"
		  "   AS autofill"
		  " FROM protected AS p JOIN pg_class AS c ON c.oid = p.oid JOIN pg_namespace AS n ON n.oid = c.relnamespace"
		  " ORDER BY 1");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		const char *name = Col(i, "name");
		char		relkind = Col(i, "relkind")[0];
		Oid			collection = (Oid) strtoul(Col(i, "collection"), NULL, 10);
		const char *autofill = Col(i, "autofill");
		const char *whose = (Oid) strtoul(Col(i, "oid"), NULL, 10) == collection ? "this protected collection"
			: psprintf("this partition of protected collection %s", AkQualifiedName(collection));

		if (relkind == RELKIND_FOREIGN_TABLE)
		{
			AddFinding(cx, AK_SEVERITY_CRITICAL, psprintf("foreign table %s", name),
					   psprintf("%s is a foreign table: row-level security does not apply to foreign tables, so "
								"no key limits what is read from it directly, and rows written through the "
								"collection into it skip the keys' autofill and writes.collections", whose),
					   psprintf("ALTER TABLE %s DETACH PARTITION %s;", Col(i, "parent"), name));
			continue;
		}
		if (!ColBool(i, "rls"))
			AddFinding(cx, AK_SEVERITY_CRITICAL, psprintf("table %s", name),
					   psprintf("row-level security is disabled on %s: no key limits what any role reads or "
								"writes there", whose),
					   psprintf("ALTER TABLE %s ENABLE ROW LEVEL SECURITY;", name));
		/* Rows are stored in plain tables only: that is where autofill runs. */
		if (relkind == RELKIND_RELATION && (autofill == NULL || (autofill[0] != TRIGGER_FIRES_ON_ORIGIN &&
																  autofill[0] != TRIGGER_FIRES_ALWAYS)))
			AddFinding(cx, AK_SEVERITY_CRITICAL, psprintf("table %s", name),
					   psprintf("the trigger access_key_autofill of %s is %s: rows written there skip the keys' "
								"autofill (a tenant can write another tenant's customer.id) and writes.collections",
								whose, autofill == NULL ? "missing" : "disabled"),
					   autofill == NULL ? ProtectAgainSql(collection)
					   : psprintf("ALTER TABLE %s ENABLE TRIGGER access_key_autofill;", name));
	}
}

/* Permissive policies other than access_key's that apply to the role. */
static void
CheckPolicies(Check *cx)
{
	RunQuery(cx,
		  "WITH RECURSIVE " CTE_PROTECTED
		  " SELECT format('%I.%I', n.nspname, c.relname) AS name, quote_ident(po.polname) AS policy,"
		  "  CASE po.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN '*' THEN 'ALL' END AS cmd"
		  " FROM pg_policy AS po JOIN pg_class AS c ON c.oid = po.polrelid"
		  " JOIN pg_namespace AS n ON n.oid = c.relnamespace"
		  " WHERE po.polrelid IN (SELECT oid FROM protected) AND po.polpermissive"
		  "  AND po.polname NOT IN ('access_key_select', 'access_key_insert')"
		  "  AND po.polcmd IN ('r', 'a', '*')"
		  "  AND EXISTS (SELECT FROM unnest(po.polroles) AS r(oid)"
		  "              WHERE r.oid = 0 OR pg_has_role($1, r.oid, 'MEMBER'))"
		  " ORDER BY 1, 2");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		const char *name = Col(i, "name");
		const char *policy = Col(i, "policy");

		AddFinding(cx, AK_SEVERITY_WARNING, psprintf("table %s", name),
				   psprintf("permissive policy %s (FOR %s) applies to the role and is ORed with the key's policies: "
							"it widens what every key %s", policy, Col(i, "cmd"),
							strcmp(Col(i, "cmd"), "INSERT") == 0 ? "may write" : "sees"),
				   psprintf("DROP POLICY %s ON %s; -- recreate it AS RESTRICTIVE, or for roles that present no keys",
							policy, name));
	}
}

/* The access method of a relation. */
static Oid
RelationAm(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			am;

	if (!HeapTupleIsValid(tuple))
		return InvalidOid;
	am = ((Form_pg_class) GETSTRUCT(tuple))->relam;
	ReleaseSysCache(tuple);
	return am;
}

/* Whether `relid` has a valid, non-partial GIN index whose key is the column itself. */
static bool
HasPropertiesGinIndex(Oid relid, AttrNumber attnum)
{
	Relation	rel = table_open(relid, AccessShareLock);
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	bool		found = false;

	foreach(lc, indexes)
	{
		Oid			indexid = lfirst_oid(lc);
		HeapTuple	tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexid));
		Form_pg_index index;
		bool		isnull;

		if (!HeapTupleIsValid(tuple))
			continue;
		index = (Form_pg_index) GETSTRUCT(tuple);
		if (index->indisvalid && RelationAm(indexid) == GIN_AM_OID &&
			heap_attisnull(tuple, Anum_pg_index_indpred, NULL))
		{
			Datum		classes = SysCacheGetAttr(INDEXRELID, tuple, Anum_pg_index_indclass, &isnull);
			oidvector  *opclasses = (oidvector *) DatumGetPointer(classes);

			for (int k = 0; k < index->indnkeyatts; k++)
			{
				Oid			family = get_opclass_family(opclasses->values[k]);

				/* The operator ak_apply_filters' planner support offers: jsonb @@ jsonpath. */
				if (index->indkey.values[k] == attnum &&
					OidIsValid(get_opfamily_member(family, JSONBOID, JSONPATHOID,
												   JsonbJsonpathPredicateStrategyNumber)))
					found = true;
			}
		}
		ReleaseSysCache(tuple);
		if (found)
			break;
	}
	list_free(indexes);
	table_close(rel, AccessShareLock);
	return found;
}

/* Protected collections the role may read without a GIN index on their properties. */
static void
CheckIndexes(Check *cx, List *collections)
{
	ListCell   *lc;

	foreach(lc, collections)
	{
		Oid			relid = lfirst_oid(lc);
		char	   *column;
		AttrNumber	attnum;
		char	   *name;

		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)) ||
			AkFetchCollection(relid, &column) != AK_COLLECTION_REGISTERED)
			continue;
		attnum = get_attnum(relid, column);
		if (attnum == InvalidAttrNumber || HasPropertiesGinIndex(relid, attnum))
			continue;
		name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid));
		if (!DatumGetBool(DirectFunctionCall3(has_table_privilege_id_id,
											  ObjectIdGetDatum(cx->role), ObjectIdGetDatum(relid),
											  CStringGetTextDatum("SELECT"))))
			continue;
		AddFinding(cx, AK_SEVERITY_INFO, psprintf("table %s", name),
				   psprintf("the protected collection has no GIN index on its properties column %s: "
							"every keyed query reads the whole table", quote_identifier(column)),
				   psprintf("CREATE INDEX ON %s USING gin (%s jsonb_path_ops);", name, quote_identifier(column)));
	}
}

/* ---------- the database ---------- */

/*
 * The stored queries whose stored search_path names schema nspname, as
 * "saved query a, dataset b", or NULL.
 */
static char *
StoredQueriesSearching(const char *nspname)
{
	static const char *const tables[] = {"saved_queries", "datasets"};
	static const char *const kinds[] = {"saved query", "dataset"};
	StringInfoData found;

	initStringInfo(&found);
	for (int t = 0; t < lengthof(tables); t++)
	{
		TupleDesc	desc;
		ListCell   *lc;

		foreach(lc, AkCatalogScan(tables[t], AK_CATALOG_STATEMENT_SNAPSHOT, &desc))
		{
			bool		isnull;
			char	   *path = TextDatumGetCString(AkCatalogColumn(lfirst(lc), desc, "search_path", &isnull));
			char	   *name = TextDatumGetCString(AkCatalogColumn(lfirst(lc), desc, "name", &isnull));
			List	   *schemas;
			ListCell   *sc;

			if (!SplitIdentifierString(path, ',', &schemas))
				continue;
			foreach(sc, schemas)
				if (strcmp(lfirst(sc), nspname) == 0)
				{
					appendStringInfo(&found, "%s%s %s", found.len ? ", " : "", kinds[t], name);
					break;
				}
		}
	}
	return found.len ? found.data : NULL;
}

/*
 * Schemas the role may create objects in (CREATE, or owning them): what it
 * creates there can take the place of what unqualified SQL names, in other
 * sessions of the role and in stored queries, whose refreshes run as their
 * owner.
 */
static void
CheckSchemas(Check *cx)
{
	RunQuery(cx,
		  "WITH creators AS ("
		  "  SELECT n.oid, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END AS grantee"
		  "  FROM pg_namespace AS n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) AS a"
		  "  WHERE a.privilege_type = 'CREATE' AND a.grantee <> n.nspowner"
		  "   AND (a.grantee = 0 OR pg_has_role($1, a.grantee, 'MEMBER')))"
		  " SELECT n.nspname, format('%I', n.nspname) AS name, n.nspowner::regrole::text AS owner,"
		  "  n.nspowner = $1 AS owned, pg_has_role($1, n.nspowner, 'MEMBER') AS owner_member,"
		  "  " VIA_REVOKES("n.nspowner") " AS via_revokes,"
		  "  (SELECT string_agg(c.grantee, ', ' ORDER BY c.grantee) FROM creators AS c WHERE c.oid = n.oid) AS through,"
		  "  (SELECT string_agg(format('REVOKE CREATE ON SCHEMA %I FROM %s;', n.nspname, c.grantee), ' ' ORDER BY c.grantee)"
		  "   FROM creators AS c WHERE c.oid = n.oid) AS revokes"
		  " FROM pg_namespace AS n"
		  " WHERE n.oid <> $3 AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
		  "  AND n.nspname !~ '^pg_(toast_)?temp_'"
		  "  AND (EXISTS (SELECT FROM creators AS c WHERE c.oid = n.oid) OR pg_has_role($1, n.nspowner, 'MEMBER'))"
		  " ORDER BY 2");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		const char *name = Col(i, "name");
		bool		owner_member = ColBool(i, "owner_member");
		const char *how;
		const char *fix;
		char	   *queries = StoredQueriesSearching(Col(i, "nspname"));

		if (owner_member)
		{
			how = ColBool(i, "owned") ? "the role owns this schema"
				: psprintf("the role can SET ROLE to %s, the owner of this schema", Col(i, "owner"));
			fix = ColBool(i, "owned") || Col(i, "via_revokes") == NULL
				? psprintf("ALTER SCHEMA %s OWNER TO CURRENT_USER;", name) : Col(i, "via_revokes");
		}
		else
		{
			how = Through("the role may create objects in this schema", Col(i, "through"));
			fix = Col(i, "revokes");
		}
		if (queries)
			AddFinding(cx, AK_SEVERITY_CRITICAL, psprintf("schema %s", name),
					   psprintf("%s, which the stored search_path of %s names: a function, operator or table it "
								"creates there can take the place of one the query names, and run with the rights "
								"of the query's owner whenever it is refreshed", how, queries),
					   fix);
		else
			AddFinding(cx, AK_SEVERITY_WARNING, psprintf("schema %s", name),
					   psprintf("%s: a function, operator or table it creates there can take the place of one that "
								"unqualified SQL names, in other sessions of the role (other tenants' on a pooled "
								"connection) and in saved queries and datasets stored with the schema on their "
								"search_path", how),
					   fix);
	}
}

static void
CheckTemp(Check *cx)
{
	RunQuery(cx,
		  "SELECT string_agg(format('REVOKE TEMPORARY ON DATABASE %I FROM %s;', d.datname,"
		  "        CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END), ' '"
		  "        ORDER BY a.grantee <> 0, a.grantee::regrole::text) AS fix,"
		  "  string_agg(CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END, ', '"
		  "        ORDER BY a.grantee <> 0, a.grantee::regrole::text) AS through"
		  " FROM pg_database AS d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) AS a"
		  " WHERE d.datname = current_database() AND a.privilege_type = 'TEMPORARY'"
		  "  AND (a.grantee = 0 OR pg_has_role($1, a.grantee, 'MEMBER'))"
		  " HAVING count(*) > 0");
	if (SPI_processed == 0)
		return;
	AddFinding(cx, AK_SEVERITY_WARNING, psprintf("database %s", cx->db_ident),
			   psprintf("%s: on a pooled connection, a temporary table one tenant leaves behind takes precedence "
						"over the table another tenant's unqualified statements name, and captures what they write",
						Through("the role can create temporary tables", Col(0, "through"))),
			   Col(0, "fix"));
}

/* ---------- functions ---------- */

/*
 * Administrative functions of the extension (EXECUTE not granted to PUBLIC)
 * that the role may execute: any session can drop its key and call them.
 */
static void
CheckAdminFunctions(Check *cx)
{
	RunQuery(cx,
		  "SELECT p.oid::regprocedure::text AS name,"
		  "  (p.prorettype IN ('trigger'::regtype, 'event_trigger'::regtype, 'internal'::regtype)) AS internal,"
		  "  string_agg(format('REVOKE EXECUTE ON FUNCTION %s FROM %s;', p.oid::regprocedure, a.grantee::regrole), ' '"
		  "             ORDER BY a.grantee::regrole::text) AS fix,"
		  "  string_agg(a.grantee::regrole::text, ', ' ORDER BY a.grantee::regrole::text)"
		  "             AS through"
		  " FROM pg_proc AS p"
		  " JOIN pg_depend AS d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'"
		  " JOIN pg_extension AS e ON e.oid = d.refobjid AND e.extname = 'access_key',"
		  " aclexplode(p.proacl) AS a"
		  " WHERE p.proacl IS NOT NULL AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0"
		  "  AND a.grantee <> p.proowner AND pg_has_role($1, a.grantee, 'MEMBER')"
		  "  AND NOT EXISTS (SELECT FROM aclexplode(p.proacl) AS pub WHERE pub.grantee = 0)"
		  " GROUP BY p.oid ORDER BY 1");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		internal = ColBool(i, "internal");

		AddFinding(cx, internal ? AK_SEVERITY_WARNING : AK_SEVERITY_CRITICAL,
				   psprintf("function %s", Col(i, "name")),
				   psprintf("%s, %s",
							Through("the role may execute this function", Col(i, "through")),
							internal ? "an internal function of access_key (a trigger or planner support function)"
							: "an administrative function of access_key: a session only has to drop its key to call it"),
				   Col(i, "fix"));
	}
}

/*
 * SECURITY DEFINER functions outside the system schemas and the extension:
 * those the role may execute whose owner is not subject to row-level
 * security on a protected collection they name, and those the role owns
 * that name one.  "Name" is a heuristic: the function's source text contains
 * the name of a protected collection or of a view over one, or (SQL-standard
 * bodies) it depends on one.
 */
static void
CheckSecurityDefiner(Check *cx)
{
	RunQuery(cx,
		  "WITH RECURSIVE " CTE_PROTECTED ","
		  " reachable AS ("
		  "  SELECT p.oid AS relid, p.oid AS collection FROM protected AS p"
		  "  UNION SELECT o.viewid, o.collection FROM over_protected AS o),"
		  " fn AS ("
		  "  SELECT p.oid, p.prokind, p.proowner, p.prosrc, l.lanname, p.proacl"
		  "  FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace"
		  "  JOIN pg_language AS l ON l.oid = p.prolang"
		  "  WHERE p.prosecdef AND p.pronamespace <> $3"
		  "   AND n.nspname NOT IN ('pg_catalog', 'information_schema')),"
		  " mentions AS ("
		  "  SELECT DISTINCT fn.oid AS fnid, r.relid, r.collection FROM fn, reachable AS r JOIN pg_class AS c ON c.oid = r.relid"
		  "  WHERE (fn.lanname NOT IN ('c', 'internal') AND position(lower(c.relname) IN lower(fn.prosrc)) > 0)"
		  "   OR EXISTS (SELECT FROM pg_depend AS d WHERE d.classid = 'pg_proc'::regclass AND d.objid = fn.oid"
		  "              AND d.refclassid = 'pg_class'::regclass AND d.refobjid = r.relid))"
		  " SELECT fn.oid::regprocedure::text AS name, fn.prokind, fn.proowner::regrole::text AS owner,"
		  "  fn.proowner = $1 AS owned, pg_has_role($1, fn.proowner, 'MEMBER') AS owner_member,"
		  "  o.rolsuper OR o.rolbypassrls AS owner_unrestricted,"
		  "  (SELECT string_agg(DISTINCT m.relid::regclass::text, ', ') FROM mentions AS m WHERE m.fnid = fn.oid) AS mentions,"
		  "  (SELECT string_agg(DISTINCT m.collection::regclass::text, ', ') FROM mentions AS m"
		  "   JOIN protected AS p ON p.oid = m.collection WHERE m.fnid = fn.oid AND " EXEMPT("fn.proowner") ") AS exempt_on,"
		  "  ex.fix, ex.through"
		  " FROM fn JOIN pg_roles AS o ON o.oid = fn.proowner"
		  " LEFT JOIN LATERAL ("
		  "  SELECT string_agg(format('REVOKE EXECUTE ON %s %s FROM %s;',"
		  "          CASE WHEN fn.prokind = 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, fn.oid::regprocedure,"
		  "          CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END), ' '"
		  "          ORDER BY a.grantee <> 0, a.grantee::regrole::text) AS fix,"
		  "   string_agg(CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END, ', '"
		  "          ORDER BY a.grantee <> 0, a.grantee::regrole::text) AS through"
		  "  FROM aclexplode(coalesce(fn.proacl, acldefault('f', fn.proowner))) AS a"
		  "  WHERE a.privilege_type = 'EXECUTE' AND a.grantee <> fn.proowner"
		  "   AND (a.grantee = 0 OR pg_has_role($1, a.grantee, 'MEMBER'))) AS ex ON true"
		  " ORDER BY 1");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		const char *kind = Col(i, "prokind")[0] == 'p' ? "procedure" : "function";
		const char *object = psprintf("%s %s", kind, Col(i, "name"));
		const char *mentions = Col(i, "mentions");
		const char *exempt_on = Col(i, "exempt_on");
		const char *owner = Col(i, "owner");
		const char *fix = Col(i, "fix");

		if (ColBool(i, "owner_member"))
		{
			if (mentions != NULL)
				AddFinding(cx, AK_SEVERITY_INFO, object,
						   psprintf("%s this SECURITY DEFINER %s, which names %s: it runs with %s's privileges "
									"for every role that may execute it",
									ColBool(i, "owned") ? "the role owns"
									: psprintf("the role can SET ROLE to %s, the owner of", owner),
									kind, mentions, owner),
						   psprintf("ALTER %s %s SECURITY INVOKER;", Col(i, "prokind")[0] == 'p' ? "PROCEDURE" : "FUNCTION",
									Col(i, "name")));
			continue;
		}
		if (fix == NULL)
			continue;			/* the role may not execute it */
		if (exempt_on != NULL)
			AddFinding(cx, AK_SEVERITY_WARNING, object,
					   psprintf("%s, which runs as %s and names %s: %s is not subject to row-level security "
								"on %s, so keys do not limit what the %s reads or writes there",
								Through(psprintf("the role may execute this SECURITY DEFINER %s", kind), Col(i, "through")),
								owner, mentions, owner, exempt_on, kind),
					   fix);
		else if (ColBool(i, "owner_unrestricted"))
			AddFinding(cx, AK_SEVERITY_INFO, object,
					   psprintf("%s, which runs as %s, who is not subject to row-level security: it names no "
								"protected collection, but dynamic SQL or the functions it calls could reach one",
								Through(psprintf("the role may execute this SECURITY DEFINER %s", kind), Col(i, "through")),
								owner),
					   fix);
	}
}

/* ---------- settings ---------- */

typedef struct Setting
{
	char	   *value;			/* NULL when the parameter does not exist here */
	char	   *where;			/* "role", "role in database", "database", "server" */
	bool		role_in_database;
	bool		unreadable;		/* a superuser-only server setting the caller may not read */
} Setting;

/* The value `name=...` in a setconfig array, or NULL. */
static char *
ConfigArrayValue(ArrayType *config, const char *name)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	size_t		len = strlen(name);
	char	   *found = NULL;

	deconstruct_array(config, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		char	   *item;

		if (nulls[i])
			continue;
		item = TextDatumGetCString(elems[i]);
		if (pg_strncasecmp(item, name, len) == 0 && item[len] == '=')
			found = pstrdup(item + len + 1);
	}
	return found;
}

/* A setting stored for (database, role) in pg_db_role_setting, or NULL. */
static char *
DbRoleSetting(Oid database, Oid role, const char *name)
{
	Relation	rel = table_open(DbRoleSettingRelationId, AccessShareLock);
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	tuple;
	char	   *value = NULL;

	ScanKeyInit(&keys[0], Anum_pg_db_role_setting_setdatabase, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(database));
	ScanKeyInit(&keys[1], Anum_pg_db_role_setting_setrole, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(role));
	scan = systable_beginscan(rel, DbRoleSettingDatidRolidIndexId, true, NULL, 2, keys);
	if (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		bool		isnull;
		Datum		config = heap_getattr(tuple, Anum_pg_db_role_setting_setconfig,
										  RelationGetDescr(rel), &isnull);

		if (!isnull)
			value = ConfigArrayValue(DatumGetArrayTypeP(config), name);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return value;
}

/*
 * The value of a parameter in the role's sessions in this database: its
 * role-and-database setting, role setting, database setting, or else the
 * server's (this session's value at connection start, before any SET).
 */
static Setting
EffectiveSetting(Check *cx, const char *name, const char *boot_value)
{
	Setting		s = {NULL, NULL, false, false};

	if ((s.value = DbRoleSetting(MyDatabaseId, cx->role, name)) != NULL)
	{
		s.where = "set for the role in this database";
		s.role_in_database = true;
	}
	else if ((s.value = DbRoleSetting(InvalidOid, cx->role, name)) != NULL)
		s.where = "set for the role";
	else if ((s.value = DbRoleSetting(MyDatabaseId, InvalidOid, name)) != NULL)
		s.where = "set for the database";
	else if (GetConfigOption(name, true, false) != NULL)
	{
		/* PostgreSQL's own rule for reading it (GetConfigOptionResetString does not tell). */
		if ((GetConfigOptionFlags(name, false) & GUC_SUPERUSER_ONLY) &&
			!has_privs_of_role(GetUserId(), AK_ROLE_READ_ALL_SETTINGS))
		{
			s.where = "not readable by the calling role";
			s.unreadable = true;
			return s;
		}
		s.value = pstrdup(GetConfigOptionResetString(name));
		s.where = "the server's setting";
	}
	else
	{
		s.value = boot_value ? pstrdup(boot_value) : NULL;
		s.where = "the default";
	}
	return s;
}

/* The statement that sets `name` for the role, where it takes precedence. */
static char *
SetForRole(Check *cx, const Setting *s, const char *name, const char *value)
{
	if (s->role_in_database)
		return psprintf("ALTER ROLE %s IN DATABASE %s SET %s = %s;", cx->role_ident, cx->db_ident, name, value);
	return psprintf("ALTER ROLE %s SET %s = %s;", cx->role_ident, name, value);
}

/* A parameter's value as an integer (units as the parameter's own); `otherwise` if it does not parse. */
static double
SettingNumber(const Setting *s, double otherwise)
{
	char	   *end;
	double		v;

	if (s->value == NULL)
		return otherwise;
	v = strtod(s->value, &end);
	return end == s->value ? otherwise : v;
}

/* A setting read as a boolean; otherwise when it is unset or not one. */
static bool
SettingBool(const Setting *s, bool otherwise)
{
	bool		result;

	if (s->value == NULL || !parse_bool(s->value, &result))
		return otherwise;
	return result;
}

/* Whether a library list (shared/session/local_preload_libraries) names `library`. */
static bool
ListsLibrary(const char *list, const char *library)
{
	char	   *copy;
	List	   *names;
	ListCell   *lc;

	if (list == NULL)
		return false;
	copy = pstrdup(list);
	if (!SplitDirectoriesString(copy, ',', &names))
		return false;
	foreach(lc, names)
	{
		const char *path = lfirst(lc);
		const char *base = last_dir_separator(path) ? last_dir_separator(path) + 1 : path;
		size_t		len = strlen(library);

		if (strncmp(base, library, len) == 0 && (base[len] == '\0' || base[len] == '.'))
			return true;
	}
	return false;
}

static const char *const ERROR_LEVELS[] = {
	"debug5", "debug4", "debug3", "debug2", "debug1", "info", "notice", "warning", "error", NULL
};

/* Settings that would log tokens, as the role would get them in this database. */
static void
CheckSettings(Check *cx)
{
	Setting		log_statement = EffectiveSetting(cx, "log_statement", "none");
	Setting		min_duration = EffectiveSetting(cx, "log_min_duration_statement", "-1");
	Setting		sample_duration = EffectiveSetting(cx, "log_min_duration_sample", "-1");
	Setting		sample_rate = EffectiveSetting(cx, "log_statement_sample_rate", "1");
	Setting		xact_rate = EffectiveSetting(cx, "log_transaction_sample_rate", "0");
	Setting		param_length = EffectiveSetting(cx, "log_parameter_max_length", "-1");
	Setting		param_on_error = EffectiveSetting(cx, "log_parameter_max_length_on_error", "0");
	Setting		error_statement = EffectiveSetting(cx, "log_min_error_statement", "error");
	Setting		shared = EffectiveSetting(cx, "shared_preload_libraries", "");
	Setting		session = EffectiveSetting(cx, "session_preload_libraries", "");
	Setting		local = EffectiveSetting(cx, "local_preload_libraries", "");
	bool		logs_statements = false;
	const char *literal = "a token written as a literal (SET access_key.key = '...', ak_use_key('...')) is logged";

	if (log_statement.value && pg_strcasecmp(log_statement.value, "all") == 0)
	{
		logs_statements = true;
		AddFinding(cx, AK_SEVERITY_WARNING, "setting log_statement",
				   psprintf("log_statement = 'all' (%s) logs the text of every statement of the role: %s",
							log_statement.where, literal),
				   SetForRole(cx, &log_statement, "log_statement", "'none'"));
	}
	if (SettingNumber(&min_duration, -1) >= 0)
	{
		logs_statements = true;
		AddFinding(cx, AK_SEVERITY_WARNING, "setting log_min_duration_statement",
				   psprintf("log_min_duration_statement = %s (%s) logs the text of every statement of the role "
							"that runs that long: %s", min_duration.value, min_duration.where, literal),
				   SetForRole(cx, &min_duration, "log_min_duration_statement", "-1"));
	}
	if (SettingNumber(&sample_duration, -1) >= 0 && SettingNumber(&sample_rate, 1) > 0)
	{
		logs_statements = true;
		AddFinding(cx, AK_SEVERITY_WARNING, "setting log_min_duration_sample",
				   psprintf("log_min_duration_sample = %s (%s) logs the text of a sample of the role's statements "
							"that run that long: %s", sample_duration.value, sample_duration.where, literal),
				   SetForRole(cx, &sample_duration, "log_min_duration_sample", "-1"));
	}
	if (SettingNumber(&xact_rate, 0) > 0)
	{
		logs_statements = true;
		AddFinding(cx, AK_SEVERITY_WARNING, "setting log_transaction_sample_rate",
				   psprintf("log_transaction_sample_rate = %s (%s) logs the text of every statement in a sample "
							"of the role's transactions: %s", xact_rate.value, xact_rate.where, literal),
				   SetForRole(cx, &xact_rate, "log_transaction_sample_rate", "0"));
	}
	if (logs_statements && SettingNumber(&param_length, -1) != 0)
		AddFinding(cx, AK_SEVERITY_WARNING, "setting log_parameter_max_length",
				   psprintf("log_parameter_max_length = %s (%s): statements that are logged show their bind "
							"parameters, so a token presented with ak_use_key($1) is logged too",
							param_length.value, param_length.where),
				   SetForRole(cx, &param_length, "log_parameter_max_length", "0"));
	if (SettingNumber(&param_on_error, 0) != 0)
		AddFinding(cx, AK_SEVERITY_WARNING, "setting log_parameter_max_length_on_error",
				   psprintf("log_parameter_max_length_on_error = %s (%s): a statement that fails (for example "
							"because the key was revoked) is logged with its bind parameters, so a token "
							"presented with ak_use_key($1) is logged", param_on_error.value, param_on_error.where),
				   SetForRole(cx, &param_on_error, "log_parameter_max_length_on_error", "0"));
	for (int i = 0; error_statement.value && ERROR_LEVELS[i]; i++)
		if (pg_strcasecmp(error_statement.value, ERROR_LEVELS[i]) == 0)
		{
			AddFinding(cx, AK_SEVERITY_INFO, "setting log_min_error_statement",
					   psprintf("log_min_error_statement = %s (%s) logs the text of every statement of the role "
								"that fails: a token written as a literal in it is logged (bind parameters are not)",
								error_statement.value, error_statement.where),
					   SetForRole(cx, &error_statement, "log_min_error_statement", "'panic'"));
			break;
		}

	if (shared.unreadable || session.unreadable)
		AddFinding(cx, AK_SEVERITY_INFO,
				   psprintf("setting %s", shared.unreadable ? "shared_preload_libraries" : "session_preload_libraries"),
				   "the calling role may not read this setting, so whether auto_explain or pg_stat_statements "
				   "is loaded was not checked",
				   psprintf("GRANT pg_read_all_settings TO %s;", quote_identifier(GetUserNameFromId(GetUserId(), false))));

	/* auto_explain logs the query text of the plans it logs (PostgreSQL 15: not bind parameters). */
	if (ListsLibrary(shared.value, "auto_explain") || ListsLibrary(session.value, "auto_explain") ||
		ListsLibrary(local.value, "auto_explain"))
	{
		Setting		explain = EffectiveSetting(cx, "auto_explain.log_min_duration", "-1");

		if (SettingNumber(&explain, -1) >= 0)
			AddFinding(cx, AK_SEVERITY_WARNING, "setting auto_explain.log_min_duration",
					   psprintf("auto_explain is loaded and auto_explain.log_min_duration = %s (%s): it logs the "
								"text of every query of the role that runs that long, so a token written as a "
								"literal in a query (ak_use_key('...')) is logged", explain.value, explain.where),
					   SetForRole(cx, &explain, "auto_explain.log_min_duration", "-1"));
	}

	/*
	 * pg_stat_statements (PostgreSQL 15) keeps utility statements as written:
	 * SET access_key.key = '...' is stored with the token, and every session of
	 * the same role can read it.
	 */
	if (ListsLibrary(shared.value, "pg_stat_statements"))
	{
		Setting		track = EffectiveSetting(cx, "pg_stat_statements.track", "top");
		Setting		utility = EffectiveSetting(cx, "pg_stat_statements.track_utility", "on");

		if (SettingBool(&utility, true) && track.value && pg_strcasecmp(track.value, "none") != 0)
			AddFinding(cx, AK_SEVERITY_WARNING, "setting pg_stat_statements.track_utility",
					   psprintf("pg_stat_statements is loaded and track_utility is on (%s): it stores SET "
								"statements as written, so a token presented with SET access_key.key = '...' is "
								"kept in pg_stat_statements, where every session of the role can read it",
								utility.where),
					   SetForRole(cx, &utility, "pg_stat_statements.track_utility", "off"));
	}
}

/* ---------- the function ---------- */

/*
 * ak_check_setup(role regrole) RETURNS TABLE(severity, object, problem,
 * fix): admin function (EXECUTE revoked from PUBLIC), refused while the
 * session presents a key; a NULL role raises 22004.
 */
Datum
ak_check_setup(PG_FUNCTION_ARGS)
{
	Check		cx;
	AkResultSet rs;
	List	   *collections;
	Datum	   *relids;
	int			n = 0;
	ListCell   *lc;
	bool		superuser;
	int			nestlevel;

	AkRequireNoSessionKey("ak_check_setup");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("role must not be null")));
	cx.role = PG_GETARG_OID(0);
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(cx.role)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role with OID %u does not exist", cx.role)));
	cx.role_ident = quote_identifier(GetUserNameFromId(cx.role, false));
	cx.db_ident = quote_identifier(get_database_name(MyDatabaseId));
	cx.findings = NIL;
	cx.findings_cxt = CurrentMemoryContext;

	rs = AkBeginResultSet(fcinfo);

	collections = AkCollectionRelids();
	relids = palloc(sizeof(Datum) * Max(list_length(collections), 1));
	foreach(lc, collections)
		relids[n++] = ObjectIdGetDatum(lfirst_oid(lc));
	cx.args[0] = ObjectIdGetDatum(cx.role);
	cx.args[1] = PointerGetDatum(construct_array(relids, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
	cx.args[2] = ObjectIdGetDatum(get_namespace_oid("access_key", false));

	/* Names in the queries are the catalogs', whatever the caller's search_path. */
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	CheckRoleAttributes(&cx, &superuser);
	/* A superuser holds every privilege and is a member of every role: only the settings still matter. */
	if (!superuser)
	{
		CheckMemberships(&cx);
		CheckRelations(&cx);
		CheckPolicies(&cx);
		CheckTemp(&cx);
		CheckSchemas(&cx);
		CheckAdminFunctions(&cx);
		CheckSecurityDefiner(&cx);
	}
	CheckProtection(&cx);
	CheckIndexes(&cx, collections);
	CheckSettings(&cx);
	SPI_finish();
	AtEOXact_GUC(true, nestlevel);

	list_sort(cx.findings, CompareFindings);
	foreach(lc, cx.findings)
	{
		Finding    *f = lfirst(lc);
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = CStringGetTextDatum(AkSeverityName(f->severity));
		values[1] = CStringGetTextDatum(f->object);
		values[2] = CStringGetTextDatum(f->problem);
		values[3] = CStringGetTextDatum(f->fix);
		AkResultSetAppend(&rs, values, nulls);
	}
	return (Datum) 0;
}
