/*
 * stored_sql.c — validating SQL that admins store (saved queries, cached
 * queries, datasets).
 *
 * Stored SQL is checked once, at creation, to be one SELECT that changes
 * nothing, locks nothing and does not read the extension's tables; it is
 * analyzed as the admin who stores it (analysis can run code, such as a
 * domain's CHECK on a constant), and the search_path it resolved with is
 * stored beside it.
 */
#include "postgres.h"

#include "compat.h"
#include "stored_sql.h"

#include "catalog/namespace.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "parser/analyze.h"
#include "rewrite/rewriteHandler.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

/* Raises 22023 "invalid stored query" with the reason. */
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

/* Adds the relid of every relation a query tree reads, at any depth, to *relids. */
static bool
CollectRelids(Node *node, List **relids)
{
	if (node == NULL)
		return false;
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		if (rte->rtekind == RTE_RELATION)
			*relids = list_append_unique_oid(*relids, rte->relid);
		return false;
	}
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, CollectRelids, (void *) relids, QTW_EXAMINE_RTES_BEFORE);
	return expression_tree_walker(node, CollectRelids, (void *) relids);
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
void
AkPinParserSettings(void)
{
	(void) set_config_option("standard_conforming_strings", "on", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("transform_null_equals", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

char *
AkCheckStoredQuery(const char *sql, List **columns)
{
	return AkCheckStoredQueryReads(sql, columns, NULL);
}

char *
AkCheckStoredQueryReads(const char *sql, List **columns, List **relids)
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

	AkPinParserSettings();
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
	if (relids)
	{
		ListCell   *rc;

		*relids = NIL;
		/* Rewritten, so the tables under views count too. */
		foreach(rc, QueryRewrite(copyObject(query)))
			CollectRelids(lfirst(rc), relids);
	}
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
