/*
 * saved_query.c — saved and cached queries (docs/reference.md#saved-and-cached-queries).
 *
 * A non-cached saved query runs live, as the caller, in the saved_queries
 * filter context, so the key's saved_queries.filters restrict the protected
 * collections it reads.  A cached query's result is computed by an admin's
 * ak_refresh_cached_queries() and stored; keys read the stored result.
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
#include "stored_sql.h"
#include "validate.h"

#include "access/stratnum.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
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

static AK_NORETURN void
DenySavedQuery(const char *name, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied for saved query \"%s\"", name),
			 errdetail("%s", detail)));
}

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

static void
WriteSavedQuery(FunctionCallInfo fcinfo, bool create)
{
	const char *function = create ? "ak_create_saved_query" : "ak_update_saved_query";
	char	   *name;
	char	   *query;
	Interval   *rate;
	List	   *reads;
	SavedQuery	existing;
	Oid			types[5] = {TEXTOID, TEXTOID, INTERVALOID, TEXTOID, OIDOID};
	Datum		args[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

	AkRequireNoSessionKey(function);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the name and the query of a saved query must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	AkCheckResourceName("saved query", name);
	rate = CheckRefreshRate(fcinfo, 2);
	query = AkCheckStoredQueryReads(text_to_cstring(PG_GETARG_TEXT_PP(1)), NULL, &reads);

	if (FetchSavedQuery(name, &existing) == create)
		ereport(ERROR,
				(errcode(create ? ERRCODE_DUPLICATE_OBJECT : ERRCODE_UNDEFINED_OBJECT),
				 errmsg(create ? "saved query \"%s\" already exists" : "saved query \"%s\" does not exist", name),
				 create ? errhint("Use access_key.ak_update_saved_query() to change it.") : 0));

	args[0] = CStringGetTextDatum(name);
	args[1] = CStringGetTextDatum(query);
	args[2] = rate ? IntervalPGetDatum(rate) : (Datum) 0;
	nulls[2] = rate ? ' ' : 'n';
	args[3] = CStringGetTextDatum(AkCurrentSearchPath());
	args[4] = ObjectIdGetDatum(GetUserId());
	if (create)
		AkCatalogExecute("INSERT INTO access_key.saved_queries (name, query, refresh_rate, search_path, owner)"
					 " VALUES ($1, $2, $3, $4, $5)", 5, types, args, nulls);
	else
		/* A changed query or rate drops the stored result; the updater owns it now. */
		AkCatalogExecute("UPDATE access_key.saved_queries"
					 " SET query = $2, refresh_rate = $3, search_path = $4, owner = $5, result = NULL,"
					 "     refreshed_at = NULL, updated_at = pg_catalog.now()"
					 " WHERE name OPERATOR(pg_catalog.=) $1", 5, types, args, nulls);
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
	char	   *name;
	Oid			types[1] = {TEXTOID};
	Datum		args[1];

	AkRequireNoSessionKey("ak_delete_saved_query");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the name of a %s must not be null", "saved query")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	args[0] = PG_GETARG_DATUM(0);
	if (AkCatalogExecute("DELETE FROM access_key.saved_queries WHERE name OPERATOR(pg_catalog.=) $1",
						 1, types, args, NULL) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("saved query \"%s\" does not exist", name)));
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

static void
RefreshOne(const SavedQuery *q)
{
	List	   *rows = AkRunReadOnlyAs(q->owner, AkRowsAsJsonbSql(q->query), q->search_path,
									   0, NULL, NULL, 1);
	Oid			types[2] = {TEXTOID, JSONBOID};
	Datum		args[2] = {CStringGetTextDatum(q->name), JsonbPGetDatum(AkJsonbArray(rows))};

	AkCatalogExecute("UPDATE access_key.saved_queries"
				 " SET result = $2, refreshed_at = pg_catalog.now()"
				 " WHERE name OPERATOR(pg_catalog.=) $1",
				 2, types, args, NULL);
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
	TupleDesc	desc;
	List	   *rows;
	ListCell   *lc;
	volatile int refreshed = 0;
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	AkRequireNoSessionKey("ak_refresh_cached_queries");
	rows = AkCatalogScan("saved_queries", AK_CATALOG_STATEMENT_SNAPSHOT, &desc);
	foreach(lc, rows)
	{
		SavedQuery	q;
		MemoryContext caller = CurrentMemoryContext;
		ResourceOwner owner = CurrentResourceOwner;

		ReadSavedQuery(lfirst(lc), desc, &q);
		if (!RefreshIsDue(&q, now))
			continue;

		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(caller);
		PG_TRY();
		{
			RefreshOne(&q);
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(caller);
			CurrentResourceOwner = owner;
			refreshed++;
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(caller);
			edata = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(caller);
			CurrentResourceOwner = owner;
			if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
				ReThrowError(edata);
			ereport(WARNING,
					(errcode(edata->sqlerrcode),
					 errmsg("could not refresh cached query \"%s\": %s", q.name, edata->message),
					 edata->detail ? errdetail("%s", edata->detail) : 0));
			FreeErrorData(edata);
		}
		PG_END_TRY();
	}
	PG_RETURN_INT32(refreshed);
}
