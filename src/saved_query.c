/*
 * saved_query.c — saved and cached queries (docs/reference.md#saved-and-cached-queries).
 *
 * A non-cached saved query runs live, as the caller, in the saved_queries
 * filter context, so the key's saved_queries.filters restrict the protected
 * collections it reads.  A cached query's result is computed when it is
 * stored or updated, in the admin's transaction, and again by refreshes
 * (ak_refresh_cached_queries, ak_refresh_due); keys read the stored result,
 * so a key never meets a cached query without one.  Results are always
 * computed as the role that stored the query, as a materialized view is
 * refreshed as its owner.
 *
 * Concurrency: a refresh locks the query's row (FOR NO KEY UPDATE) and
 * re-reads it before computing, so a concurrent update or delete is either
 * waited for and seen, or waits for the refresh: a result is always stored
 * under the definition it was computed from.
 */
#include "postgres.h"

#include "compat.h"
#include "result_set.h"
#include "session.h"
#include "catalog.h"
#include "admin.h"
#include "jsonb_util.h"
#include "key_scope.h"
#include "permits.h"
#include "sql_runner.h"
#include "saved_query.h"
#include "stored_sql.h"
#include "subtransaction.h"
#include "validate.h"

#include "access/stratnum.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(ak_create_saved_query);
PG_FUNCTION_INFO_V1(ak_update_saved_query);
PG_FUNCTION_INFO_V1(ak_delete_saved_query);
PG_FUNCTION_INFO_V1(ak_saved_query_result);
PG_FUNCTION_INFO_V1(ak_list_saved_queries);
/* Named by the 1.0 install script; kept so 1.0 databases keep working. */
PG_FUNCTION_INFO_V1(ak_readable_saved_queries);
PG_FUNCTION_INFO_V1(ak_refresh_cached_queries);

#define SAVED_QUERY_ADMIN "access_key.ak_create_saved_query(text,text,interval)"

typedef struct SavedQuery
{
	char	   *name;
	char	   *query;
	char	   *search_path;	/* the one it was stored with */
	Oid			owner;			/* who stored it; cached results run as them */
	bool		cached;			/* has a refresh rate */
	Interval   *refresh_rate;
	bool		computed;		/* a cached result is stored */
	Datum		result;			/* jsonb, possibly toasted: detoasted when read */
	TimestampTz refreshed_at;
} SavedQuery;

/* Reads a row of access_key.saved_queries into q. */
static void
ReadSavedQuery(HeapTuple row, TupleDesc desc, SavedQuery *q)
{
	bool		isnull;
	Datum		d;

	q->name = TextDatumGetCString(AkCatalogColumn(row, desc, "name", &isnull));
	q->query = TextDatumGetCString(AkCatalogColumn(row, desc, "query", &isnull));
	q->search_path = TextDatumGetCString(AkCatalogColumn(row, desc, "search_path", &isnull));
	q->owner = DatumGetObjectId(AkCatalogColumn(row, desc, "owner", &isnull));
	d = AkCatalogColumn(row, desc, "refresh_rate", &isnull);
	q->cached = !isnull;
	q->refresh_rate = isnull ? NULL : DatumGetIntervalP(d);
	q->result = AkCatalogColumn(row, desc, "result", &isnull);
	q->computed = !isnull;
	d = AkCatalogColumn(row, desc, "refreshed_at", &isnull);
	q->refreshed_at = isnull ? DT_NOBEGIN : DatumGetTimestampTz(d);
}

static bool
FetchSavedQuery(const char *name, SavedQuery *q)
{
	ScanKeyData key;
	TupleDesc	desc;
	HeapTuple	row;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(name));
	row = AkCatalogFetch("saved_queries", AK_CATALOG_STATEMENT_SNAPSHOT, 1, &key, &desc);
	if (row == NULL)
		return false;
	ReadSavedQuery(row, desc, q);
	return true;
}

/* Raises 42501 for a saved query the caller may not read. */
static AK_NORETURN void
DenySavedQuery(const char *name, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied for saved query \"%s\"", name),
			 errdetail("%s", detail)));
}

/* The refresh_rate argument: NULL (a live query), or a positive interval. */
static Interval *
CheckRefreshRate(FunctionCallInfo fcinfo, int argno)
{
	Interval   *rate;
	Interval   *zero = palloc0(sizeof(Interval));

	if (PG_ARGISNULL(argno))
		return NULL;
	rate = PG_GETARG_INTERVAL_P(argno);
	if (!DatumGetBool(DirectFunctionCall2(interval_gt, IntervalPGetDatum(rate), IntervalPGetDatum(zero))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("refresh rate must be positive"),
				 errhint("Leave it NULL for a live (not cached) saved query.")));
	return rate;
}

/* A saved query's rows as a jsonb array, computed read-only as role. */
static Jsonb *
ComputeResult(Oid role, const char *query, const char *search_path)
{
	return AkJsonbArray(AkRunReadOnlyAs(role, AkRowsAsJsonbSql(query), search_path, 0, NULL, NULL, 1));
}

/*
 * Creates or replaces a saved query.  A cached one gets its first result
 * here, computed as the calling admin (who becomes its owner), so keys never
 * read a cached query that has no result.
 */
static void
WriteSavedQuery(FunctionCallInfo fcinfo, bool create)
{
	const char *function = create ? "ak_create_saved_query" : "ak_update_saved_query";
	char	   *name;
	char	   *query;
	char	   *search_path;
	Interval   *rate;
	List	   *reads;
	SavedQuery	existing;
	Oid			types[6] = {TEXTOID, TEXTOID, INTERVALOID, TEXTOID, OIDOID, JSONBOID};
	Datum		args[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

	AkRequireNoSessionKey(function);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the name and the query of a saved query must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	AkCheckResourceName("saved query", name);
	rate = CheckRefreshRate(fcinfo, 2);
	query = AkCheckStoredQueryReads(text_to_cstring(PG_GETARG_TEXT_PP(1)), NULL, &reads);
	search_path = AkCurrentSearchPath();

	if (FetchSavedQuery(name, &existing) == create)
		ereport(ERROR,
				(errcode(create ? ERRCODE_DUPLICATE_OBJECT : ERRCODE_UNDEFINED_OBJECT),
				 errmsg(create ? "saved query \"%s\" already exists" : "saved query \"%s\" does not exist", name),
				 create ? errhint("Use access_key.ak_update_saved_query() to change it.") : 0));

	args[0] = CStringGetTextDatum(name);
	args[1] = CStringGetTextDatum(query);
	args[2] = rate ? IntervalPGetDatum(rate) : (Datum) 0;
	nulls[2] = rate ? ' ' : 'n';
	args[3] = CStringGetTextDatum(search_path);
	args[4] = ObjectIdGetDatum(GetUserId());
	args[5] = rate ? JsonbPGetDatum(ComputeResult(GetUserId(), query, search_path)) : (Datum) 0;
	nulls[5] = rate ? ' ' : 'n';
	if (create)
		AkCatalogExecute("INSERT INTO access_key.saved_queries"
						 " (name, query, refresh_rate, search_path, owner, result, refreshed_at)"
						 " VALUES ($1, $2, $3, $4, $5, $6,"
						 "         CASE WHEN $6 IS NOT NULL THEN pg_catalog.now() END)",
						 6, types, args, nulls);
	/* The updater owns it now; a live query keeps no result. */
	else if (AkCatalogExecute("UPDATE access_key.saved_queries"
							  " SET query = $2, refresh_rate = $3, search_path = $4, owner = $5, result = $6,"
							  "     refreshed_at = CASE WHEN $6 IS NOT NULL THEN pg_catalog.now() END,"
							  "     updated_at = pg_catalog.now()"
							  " WHERE name OPERATOR(pg_catalog.=) $1", 6, types, args, nulls) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("saved query \"%s\" does not exist", name),
				 errdetail("It was deleted while it was being updated.")));
	/* What it reads, for keys limited to some collections (key_scope.h). */
	AkRecordStoredQueryReads("saved_queries", name, reads);
}

/* ak_create_saved_query(name, query, refresh_rate): stores a validated SELECT. */
Datum
ak_create_saved_query(PG_FUNCTION_ARGS)
{
	WriteSavedQuery(fcinfo, true);
	PG_RETURN_VOID();
}

/* ak_update_saved_query(name, query, refresh_rate): replaces one. */
Datum
ak_update_saved_query(PG_FUNCTION_ARGS)
{
	WriteSavedQuery(fcinfo, false);
	PG_RETURN_VOID();
}

/* ak_delete_saved_query(name): deletes it (and its cached result); true. */
Datum
ak_delete_saved_query(PG_FUNCTION_ARGS)
{
	AkDeleteNamed(fcinfo, "ak_delete_saved_query", "saved_queries", "saved query");
	PG_RETURN_BOOL(true);
}

/*
 * ak_saved_query_result(name): {"result": [rows], "refreshed_at": ...}.
 * With a key: live queries need saved_queries permission for the name,
 * cached ones cached_queries permission.  Without a key: admins only.
 */
Datum
ak_saved_query_result(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	const AkStoredKey *key = AkSessionKey();
	bool		may_run = true;
	bool		may_read_cache = true;
	SavedQuery	q;
	List	   *rows;

	if (key)
	{
		may_run = AkKeyPermits(key->definition, AK_ACTION_SAVED_QUERIES, name, strlen(name), -1);
		may_read_cache = AkKeyPermits(key->definition, AK_ACTION_CACHED_QUERIES, name, strlen(name), -1);
		/* Checked first, so a key cannot probe which names exist. */
		if (!may_run && !may_read_cache)
			DenySavedQuery(name, "The access key permits neither saved_queries nor cached_queries for this name.");
	}
	else if (!AkIsAdmin(SAVED_QUERY_ADMIN))
		DenySavedQuery(name, "Present an access key that permits it, or run it as an admin.");

	if (!FetchSavedQuery(name, &q))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("saved query \"%s\" does not exist", name)));

	if (q.cached)
	{
		if (!may_read_cache)
			DenySavedQuery(name, "It is a cached query: the access key needs cached_queries permission for it.");
		if (key)
			AkRequireStoredQueryReadable("saved_queries", name, "cached query");
		/* Only a database upgraded from 1.0 can hold a cached query never computed. */
		if (!q.computed)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cached query \"%s\" has not been computed yet", name),
					 errhint("An admin computes it with access_key.ak_refresh_cached_queries().")));
		PG_RETURN_JSONB_P(AkResultObject(DatumGetJsonbP(q.result), true, q.refreshed_at));
	}

	if (!may_run)
		DenySavedQuery(name, "It is a live saved query: the access key needs saved_queries permission for it.");
	rows = AkRunReadOnly(AkRowsAsJsonbSql(q.query), q.search_path, 0, NULL, NULL, key != NULL, 1);
	PG_RETURN_JSONB_P(AkResultObject(AkJsonbArray(rows), false, 0));
}

/* Whether a key may read this saved query (live or cached, by its kind). */
static bool
SavedQueryVisible(HeapTuple row, TupleDesc desc, AccessKey key, char **name)
{
	SavedQuery	q;

	ReadSavedQuery(row, desc, &q);
	*name = q.name;
	return key != NULL && AkKeyPermits(key, q.cached ? AK_ACTION_CACHED_QUERIES : AK_ACTION_SAVED_QUERIES,
						q.name, strlen(q.name), -1);
}

/* ak_list_saved_queries(): the names this caller may read. */
Datum
ak_list_saved_queries(PG_FUNCTION_ARGS)
{
	return AkReturnArrayAsSet(fcinfo, AkVisibleNames("saved_queries", SAVED_QUERY_ADMIN, SavedQueryVisible));
}

/* ak_readable_saved_queries(): the same names as text[] (1.0). */
Datum
ak_readable_saved_queries(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(AkVisibleNames("saved_queries", SAVED_QUERY_ADMIN, SavedQueryVisible));
}

/* Whether a cached query is due at now (never computed, or older than its rate). */
static bool
RefreshIsDue(const SavedQuery *q, TimestampTz now)
{
	TimestampTz due;

	if (!q->cached)
		return false;
	if (!q->computed)
		return true;
	due = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
												  TimestampTzGetDatum(q->refreshed_at),
												  IntervalPGetDatum(q->refresh_rate)));
	return due <= now;
}

/*
 * Refreshes one cached query if it is still due: locks its row, re-reads it
 * (the lock waits for a concurrent update or delete, and the re-read sees
 * it), computes the result of the definition it read, and stores it under
 * that same row version, which nobody can change while the lock is held.
 */
static void
RefreshOne(void *arg)
{
	AkRefreshRequest *req = arg;
	Oid			types[2] = {TEXTOID, JSONBOID};
	Datum		args[2] = {CStringGetTextDatum(req->name), (Datum) 0};
	TupleDesc	desc;
	HeapTuple	row;
	SavedQuery	q;

	/* The stored result itself is not needed: only whether there is one. */
	row = AkCatalogExecuteReturning("SELECT name, query, refresh_rate, search_path, owner, refreshed_at,"
									"       CASE WHEN result IS NOT NULL THEN 'null'::pg_catalog.jsonb END AS result"
									" FROM access_key.saved_queries WHERE name OPERATOR(pg_catalog.=) $1"
									" FOR NO KEY UPDATE", 1, types, args, NULL, &desc);
	req->refreshed = false;
	if (row == NULL)
		return;					/* deleted meanwhile */
	ReadSavedQuery(row, desc, &q);
	if (!RefreshIsDue(&q, req->now))
		return;					/* refreshed, updated or made live meanwhile */
	args[1] = JsonbPGetDatum(ComputeResult(q.owner, q.query, q.search_path));
	AkCatalogExecute("UPDATE access_key.saved_queries"
					 " SET result = $2, refreshed_at = pg_catalog.now()"
					 " WHERE name OPERATOR(pg_catalog.=) $1",
					 2, types, args, NULL);
	req->refreshed = true;
}

/* The name of a saved_queries row whose refresh is due at now, else NULL. */
static const char *
DueCachedQueryName(HeapTuple row, TupleDesc desc, TimestampTz now)
{
	SavedQuery	q;

	ReadSavedQuery(row, desc, &q);
	return RefreshIsDue(&q, now) ? q.name : NULL;
}

int
AkRefreshDueCachedQueries(TimestampTz now)
{
	return AkRefreshEachDue("saved_queries", "cached query", DueCachedQueryName, RefreshOne, now);
}

/*
 * ak_refresh_cached_queries(): computes every cached query that is due, each
 * as the role that stored it, and stores the results.  A query that fails is
 * reported as a warning and left as it was; the others still refresh.  A
 * cancel or statement_timeout stops the whole refresh.  Returns how many
 * were refreshed.
 */
Datum
ak_refresh_cached_queries(PG_FUNCTION_ARGS)
{
	AkRequireNoSessionKey("ak_refresh_cached_queries");
	PG_RETURN_INT32(AkRefreshDueCachedQueries(GetCurrentTransactionStartTimestamp()));
}
