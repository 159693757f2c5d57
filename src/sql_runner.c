/*
 * sql_runner.c — running stored SQL read-only through SPI.
 *
 * Stored SQL always runs with transaction_read_only on, its stored
 * search_path and pinned parser settings, as the role that asks (live saved
 * queries: privileges and row-level security apply as to any query) or as
 * the role that stored it (cached results and datasets, as a materialized
 * view refresh runs as the view's owner).
 */
#include "postgres.h"

#include "compat.h"
#include "jsonb_util.h"
#include "sql_runner.h"
#include "stored_sql.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/syscache.h"

char *
AkRowsAsJsonbSql(const char *sql)
{
	/* The newline keeps a trailing "--" comment from swallowing the wrapper. */
	return psprintf("SELECT pg_catalog.to_jsonb(q) FROM (\n%s\n) AS q", sql);
}

/*
 * Runs sql read-only as the current user.  With latest_data, in READ
 * COMMITTED, it reads with a new snapshot (data committed until now, such as
 * by a refresh whose lock we waited for); else with the calling statement's.
 */
static List *
RunStoredSql(const char *sql, const char *search_path, int nargs, Oid *argtypes, Datum *args,
			 bool saved_queries_context, int ncolumns, bool latest_data)
{
	MemoryContext caller = CurrentMemoryContext;
	int			nestlevel = NewGUCNestLevel();
	List	   *rows = NIL;
	int			rc;

	(void) set_config_option("transaction_read_only", "on", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("search_path", search_path, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	AkPinParserSettings();
	if (saved_queries_context)
		(void) set_config_option("access_key.context", "saved_queries", PGC_SUSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* transaction_read_only, not SPI's read_only flag, is what forbids writes. */
	rc = SPI_execute_with_args(sql, nargs, argtypes, args, NULL, !latest_data, 0);
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
AkRunReadOnly(const char *sql, const char *search_path, int nargs, Oid *argtypes, Datum *args,
			  bool saved_queries_context, int ncolumns)
{
	return RunStoredSql(sql, search_path, nargs, argtypes, args, saved_queries_context, ncolumns, false);
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
	rows = RunStoredSql(sql, search_path, nargs, argtypes, args, false, ncolumns, true);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	return rows;
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
	AkPushTimestamp(&state, has_refreshed_at, refreshed_at);
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}
