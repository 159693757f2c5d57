/*
 * stored_query.c — validating and running SQL stored by admins.
 *
 * Stored SQL never escapes: it is checked at creation to be one SELECT that
 * does not read the extension's tables, and it always runs read-only
 * (transaction_read_only for its duration), through SPI, as the role that
 * asks — so privileges and row-level security apply to it as to any query.
 * Results are written back to the extension's tables as their owner.
 */
#include "postgres.h"

#include "compat.h"
#include "definition.h"
#include "session.h"
#include "store.h"
#include "stored_query.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "parser/analyze.h"
#include "parser/parsetree.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

static AK_NORETURN void
RejectQuery(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid stored query"),
			 errdetail("%s", detail),
			 errhint("A saved query or dataset is one read-only SELECT statement.")));
}

/* Rejects any reference to a relation in schema access_key, at any depth. */
static bool
RejectExtensionTables(Node *node, Oid *extension_namespace)
{
	if (node == NULL)
		return false;
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		if (rte->rtekind == RTE_RELATION &&
			get_rel_namespace(rte->relid) == *extension_namespace)
			RejectQuery(psprintf("It reads %s, a table of the access_key extension.",
								 get_rel_name(rte->relid)));
		return false;
	}
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, RejectExtensionTables,
								 (void *) extension_namespace, QTW_EXAMINE_RTES_BEFORE);
	return expression_tree_walker(node, RejectExtensionTables, (void *) extension_namespace);
}

/* Points parse errors into the stored query's text, not the calling statement. */
static void
StoredQueryErrorCallback(void *arg)
{
	int			position = geterrposition();

	if (position > 0)
	{
		errposition(0);
		internalerrposition(position);
		internalerrquery((const char *) arg);
	}
	errcontext("checking a stored query");
}

/*
 * Settings that change how SQL text parses or what it means are pinned to
 * their defaults whenever stored SQL is analyzed or run, so a caller cannot
 * make the stored text say something else.
 */
static void
PinParserSettings(void)
{
	(void) set_config_option("standard_conforming_strings", "on", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("transform_null_equals", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

char *
AkCheckStoredQuery(const char *sql, List **columns)
{
	ErrorContextCallback callback = {error_context_stack, StoredQueryErrorCallback, (void *) sql};
	int			nestlevel = NewGUCNestLevel();
	List	   *raw;
	RawStmt    *stmt;
	SelectStmt *select;
	Query	   *query;
	Oid			nsp = get_namespace_oid("access_key", false);
	char	   *text;
	ListCell   *lc;

	PinParserSettings();
	error_context_stack = &callback;
	raw = pg_parse_query(sql);
	if (list_length(raw) != 1)
		RejectQuery(psprintf("It contains %d statements.", list_length(raw)));
	stmt = linitial_node(RawStmt, raw);
	if (!IsA(stmt->stmt, SelectStmt))
		RejectQuery(psprintf("The statement is %s, not SELECT.", CreateCommandName(stmt->stmt)));
	select = (SelectStmt *) stmt->stmt;
	if (select->intoClause)
		RejectQuery("SELECT INTO creates a table.");

	query = AkParseAnalyze(stmt, sql);
	if (query->commandType != CMD_SELECT || query->utilityStmt != NULL)
		RejectQuery("It is not a plain SELECT.");
	if (query->hasModifyingCTE)
		RejectQuery("It changes data in a WITH clause.");
	if (query->rowMarks != NIL)
		RejectQuery("It locks rows (FOR UPDATE or FOR SHARE).");
	RejectExtensionTables((Node *) query, &nsp);
	error_context_stack = callback.previous;
	AtEOXact_GUC(true, nestlevel);

	if (columns)
	{
		*columns = NIL;
		foreach(lc, query->targetList)
		{
			TargetEntry *te = lfirst_node(TargetEntry, lc);

			if (!te->resjunk && te->resname)
				*columns = lappend(*columns, pstrdup(te->resname));
		}
	}

	/* The statement alone: no trailing semicolon or anything after it. */
	text = stmt->stmt_len > 0 ? pnstrdup(sql + stmt->stmt_location, stmt->stmt_len)
		: pstrdup(sql + stmt->stmt_location);
	return text;
}

char *
AkRowsAsJsonbSql(const char *sql)
{
	/* The newline keeps a trailing "--" comment from swallowing the wrapper. */
	return psprintf("SELECT pg_catalog.to_jsonb(q) FROM (\n%s\n) AS q", sql);
}

List *
AkRunReadOnly(const char *sql, const char *search_path, int nargs, Oid *argtypes, Datum *args,
			  bool saved_queries_context, int ncolumns)
{
	MemoryContext caller = CurrentMemoryContext;
	int			nestlevel = NewGUCNestLevel();
	List	   *rows = NIL;
	int			rc;

	(void) set_config_option("transaction_read_only", "on", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("search_path", search_path, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	PinParserSettings();
	if (saved_queries_context)
		(void) set_config_option("access_key.context", "saved_queries", PGC_SUSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args(sql, nargs, argtypes, args, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "stored query did not run as a SELECT (SPI result %d)", rc);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext spi = MemoryContextSwitchTo(caller);

		for (int col = 1; col <= ncolumns; col++)
		{
			bool		isnull;
			Datum		d = SPI_getbinval(tuple, desc, col, &isnull);
			Form_pg_attribute att = TupleDescAttr(desc, col - 1);

			rows = lappend(rows, isnull ? NULL :
						   DatumGetPointer(datumCopy(d, att->attbyval, att->attlen)));
		}
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	AtEOXact_GUC(true, nestlevel);
	return rows;
}

List *
AkRunReadOnlyAs(Oid role, const char *sql, const char *search_path,
				int nargs, Oid *argtypes, Datum *args, int ncolumns)
{
	Oid			save_userid;
	int			save_sec_context;
	List	   *rows;

	/* Rows store the owner's oid, which no dependency protects from DROP ROLE. */
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(role)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the role that stored this query no longer exists"),
				 errhint("Store the query again (update it, or delete and create it) as an existing role.")));
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(role, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	rows = AkRunReadOnly(sql, search_path, nargs, argtypes, args, false, ncolumns);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	return rows;
}

Jsonb *
AkJsonbArray(List *elements)
{
	JsonbParseState *state = NULL;
	ListCell   *lc;

	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	foreach(lc, elements)
	{
		Jsonb	   *jb = lfirst(lc) ? DatumGetJsonbP(PointerGetDatum(lfirst(lc))) : NULL;
		JsonbValue	v;

		if (jb == NULL)
		{
			v.type = jbvNull;
			pushJsonbValue(&state, WJB_ELEM, &v);
			continue;
		}
		v.type = jbvBinary;
		v.val.binary.data = &jb->root;
		v.val.binary.len = VARSIZE(jb) - VARHDRSZ;
		pushJsonbValue(&state, WJB_ELEM, &v);
	}
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_ARRAY, NULL));
}

Jsonb *
AkResultObject(Jsonb *result, bool has_refreshed_at, TimestampTz refreshed_at)
{
	JsonbParseState *state = NULL;
	JsonbValue	v;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	AkPushKey(&state, "result");
	v.type = jbvBinary;
	v.val.binary.data = &result->root;
	v.val.binary.len = VARSIZE(result) - VARHDRSZ;
	pushJsonbValue(&state, WJB_VALUE, &v);
	AkPushKey(&state, "refreshed_at");
	if (has_refreshed_at)
	{
		char	   *ts = JsonEncodeDateTime(NULL, TimestampTzGetDatum(refreshed_at), TIMESTAMPTZOID, NULL);

		v.type = jbvString;
		v.val.string.val = ts;
		v.val.string.len = strlen(ts);
	}
	else
		v.type = jbvNull;
	pushJsonbValue(&state, WJB_VALUE, &v);
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

void
AkWriteStore(const char *sql, int nargs, Oid *argtypes, Datum *args, const char *nulls)
{
	Oid			owner;
	Oid			save_userid;
	int			save_sec_context;
	HeapTuple	tuple;
	int			rc;
	int			nestlevel;

	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(AkStoreRelid("saved_queries")));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for access_key.saved_queries");
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);

	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args(sql, nargs, argtypes, args, nulls, false, 0);
	if (rc < 0)
		elog(ERROR, "writing access_key results failed (SPI result %d)", rc);
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec_context);
	AtEOXact_GUC(true, nestlevel);
}

void
AkCheckResourceName(const char *kind, const char *name)
{
	size_t		len = strlen(name);
	bool		ok = len > 0 && len <= AK_MAX_NAME_CHARS;

	for (size_t i = 0; ok && i < len; i++)
		ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
			(name[i] >= '0' && name[i] <= '9') || name[i] == '-' || name[i] == '_';
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s name \"%s\"", kind, name),
				 errhint("Names are 1 to %d letters, digits, \"-\" and \"_\".", AK_MAX_NAME_CHARS)));
}

/*
 * The schemas the caller's search_path resolves to now ("$user" expanded,
 * missing schemas dropped), quoted, with pg_temp explicitly last: stored
 * SQL later resolves names the same way whoever runs it, and a caller's
 * temporary objects can never stand in for the stored query's tables.
 */
char *
AkCurrentSearchPath(void)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, fetch_search_path(false))
	{
		char	   *nspname = get_namespace_name(lfirst_oid(lc));

		if (nspname == NULL || isTempNamespace(lfirst_oid(lc)))
			continue;
		appendStringInfo(&buf, "%s, ", quote_identifier(nspname));
	}
	appendStringInfoString(&buf, "pg_temp");
	return buf.data;
}

ArrayType *
AkVisibleNames(const char *relname, const char *admin_function_signature, AkRowVisible visible)
{
	const AkStoredKey *key = AkSessionKey();
	bool		admin = key == NULL && AkIsAdmin(admin_function_signature);
	TupleDesc	desc;
	List	   *rows;
	ListCell   *lc;
	Datum	   *names;
	int			n = 0;

	if (key == NULL && !admin)
		return construct_empty_array(TEXTOID);
	rows = AkStoreScan(relname, AK_STORE_STATEMENT_SNAPSHOT, &desc);
	names = palloc(sizeof(Datum) * Max(list_length(rows), 1));
	foreach(lc, rows)
	{
		char	   *name;
		bool		ok = visible(lfirst(lc), desc, key ? key->definition : NULL, &name);

		if (admin || ok)
			names[n++] = CStringGetTextDatum(name);
	}
	return construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT);
}

bool
AkIsAdmin(const char *admin_function_signature)
{
	Oid			proc;
	bool		ok;

	if (AkSessionPresentsKey())
		return false;
	/* A bad signature here is a bug; a missing function is not an error. */
	proc = DatumGetObjectId(DirectFunctionCall1(regprocedurein,
												CStringGetDatum(admin_function_signature)));
	ok = OidIsValid(proc) && AkProcAclCheck(proc, GetUserId(), ACL_EXECUTE) == ACLCHECK_OK;
	return ok;
}
