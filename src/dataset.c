/*
 * dataset.c — datasets (docs/reference.md#datasets): a query whose rows are precomputed per
 * value of its index_by properties, so retrieval never re-runs the query.
 *
 * The rows are computed when the dataset is created, in the admin's
 * transaction, and again by ak_refresh_dataset and, for datasets with a
 * refresh rate, ak_refresh_due; always as the role that stored the dataset.
 * A refresh locks the dataset's row (FOR NO KEY UPDATE, which the foreign
 * key checks of dataset_results do not conflict with) before it re-reads the
 * definition and replaces the rows, so two refreshes of one dataset run one
 * after the other and never mix or collide.
 */
#include "postgres.h"

#include "compat.h"
#include "dataset.h"
#include "result_set.h"
#include "session.h"
#include "catalog.h"
#include "admin.h"
#include "jsonb_util.h"
#include "key_scope.h"
#include "permits.h"
#include "sql_runner.h"
#include "stored_sql.h"
#include "subtransaction.h"
#include "validate.h"

#include "access/stratnum.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(ak_create_dataset);
PG_FUNCTION_INFO_V1(ak_refresh_dataset);
PG_FUNCTION_INFO_V1(ak_delete_dataset);
PG_FUNCTION_INFO_V1(ak_dataset_definition);
PG_FUNCTION_INFO_V1(ak_list_datasets);
/* Named by the 1.0 install script; kept so 1.0 databases keep working. */
PG_FUNCTION_INFO_V1(ak_visible_datasets);
PG_FUNCTION_INFO_V1(ak_dataset_results);

#define DATASET_ADMIN "access_key.ak_create_dataset(text,text,text[])"

typedef struct Dataset
{
	char	   *name;
	char	   *query;
	char	   *search_path;	/* the one it was stored with */
	Oid			owner;			/* who stored it; refreshes run as them */
	ArrayType  *index_by;		/* text[] */
	Interval   *refresh_rate;	/* NULL: refreshed only on demand */
	bool		refreshed;
	TimestampTz refreshed_at;
} Dataset;

/* Whether a table descriptor has this column (1.0 tables lack the new ones). */
static bool
HasColumn(TupleDesc desc, const char *column)
{
	for (int i = 0; i < desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped && strcmp(NameStr(TupleDescAttr(desc, i)->attname), column) == 0)
			return true;
	return false;
}

/* Reads a row of access_key.datasets into ds. */
static void
ReadDataset(HeapTuple row, TupleDesc desc, Dataset *ds)
{
	bool		isnull;
	Datum		d;

	ds->name = TextDatumGetCString(AkCatalogColumn(row, desc, "name", &isnull));
	ds->query = TextDatumGetCString(AkCatalogColumn(row, desc, "query", &isnull));
	ds->search_path = TextDatumGetCString(AkCatalogColumn(row, desc, "search_path", &isnull));
	ds->owner = DatumGetObjectId(AkCatalogColumn(row, desc, "owner", &isnull));
	ds->index_by = DatumGetArrayTypePCopy(AkCatalogColumn(row, desc, "index_by", &isnull));
	ds->refresh_rate = NULL;
	if (HasColumn(desc, "refresh_rate"))	/* not in a 1.0 database */
	{
		d = AkCatalogColumn(row, desc, "refresh_rate", &isnull);
		ds->refresh_rate = isnull ? NULL : DatumGetIntervalP(d);
	}
	d = AkCatalogColumn(row, desc, "refreshed_at", &isnull);
	ds->refreshed = !isnull;
	ds->refreshed_at = isnull ? DT_NOBEGIN : DatumGetTimestampTz(d);
}

static bool
FetchDataset(const char *name, Dataset *ds)
{
	ScanKeyData key;
	TupleDesc	desc;
	HeapTuple	row;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(name));
	row = AkCatalogFetch("datasets", AK_CATALOG_STATEMENT_SNAPSHOT, 1, &key, &desc);
	if (row == NULL)
		return false;
	ReadDataset(row, desc, ds);
	return true;
}

static void
RequireDataset(const char *name, Dataset *ds)
{
	if (!FetchDataset(name, ds))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("dataset \"%s\" does not exist", name)));
}

/* The index_by properties of a dataset, as C strings. */
static char **
IndexProperties(const Dataset *ds, int *n)
{
	Datum	   *elems;
	char	  **props;

	deconstruct_array(ds->index_by, TEXTOID, -1, false, TYPALIGN_INT, &elems, NULL, n);
	props = palloc(sizeof(char *) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
		props[i] = TextDatumGetCString(elems[i]);
	return props;
}

/*
 * Raises 42501 unless the session's key permits this operation on the
 * dataset (or, without a key, the caller is a dataset admin); returns the key.
 */
static const AkStoredKey *
RequireDatasetAccess(const char *name, AkDatasetOperation op)
{
	const AkStoredKey *key = AkSessionKey();

	if (key ? AkKeyPermits(key->definition, AK_ACTION_DATASETS, name, strlen(name), op)
		: AkIsAdmin(DATASET_ADMIN))
		return key;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied for dataset \"%s\"", name),
			 errdetail(key ? "The access key does not permit the \"%s\" operation on this dataset."
					   : "Present an access key that permits the \"%s\" operation on it, or call it as an admin.",
					   ak_dataset_operation_names[op])));
	return NULL;
}

/* Every index_by property is a property path, listed once, and a column of the query. */
static void
CheckIndexBy(ArrayType *index_by, List *columns)
{
	Datum	   *names;
	bool	   *nulls;
	int			n;

	deconstruct_array(index_by, TEXTOID, -1, false, TYPALIGN_INT, &names, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a dataset needs at least one index_by property")));
	for (int i = 0; i < n; i++)
	{
		char	   *prop;
		ListCell   *lc;
		bool		found = false;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("index_by properties must not be null")));
		prop = TextDatumGetCString(names[i]);
		if (AkPropertyPathProblem(prop, strlen(prop)) != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid index_by property \"%s\"", prop),
					 errdetail("The property path is invalid: %s.", AkPropertyPathProblem(prop, strlen(prop))),
					 errhint("Properties are dot paths such as \"customer.id\": segments of 1 to %d characters, not starting with \"$\".",
							 AK_MAX_NAME_CHARS)));
		for (int j = 0; j < i; j++)
			if (strcmp(prop, TextDatumGetCString(names[j])) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("index_by property \"%s\" is listed twice", prop)));
		foreach(lc, columns)
			found = found || strcmp(lfirst(lc), prop) == 0;
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the dataset query returns no column named \"%s\"", prop),
					 errhint("Name the column after the index_by property: SELECT ... AS \"%s\".", prop)));
	}
}

/*
 * Computes a dataset's rows as the role that stored it, grouped per index
 * value, and replaces its stored rows with them.  The caller holds the lock
 * on the dataset's row.  Returns how many index values it stored.
 */
static int
StoreDatasetRows(const Dataset *ds)
{
	List	   *rows;
	int			ngroups;
	Datum	   *indexes;
	Datum	   *groups;
	ListCell   *lc;
	int			i = 0;
	Oid			group_types[1] = {TEXTARRAYOID};
	Datum		group_args[1];
	Oid			write_types[3] = {TEXTOID, JSONBARRAYOID, JSONBARRAYOID};
	Datum		write_args[3];

	group_args[0] = PointerGetDatum(ds->index_by);
	rows = AkRunReadOnlyAs(ds->owner, psprintf("SELECT s.idx, pg_catalog.jsonb_agg(s.r)"
								  " FROM (SELECT (SELECT pg_catalog.jsonb_object_agg(k, t.r OPERATOR(pg_catalog.->) k)"
								  "               FROM pg_catalog.unnest($1) AS k) AS idx, t.r"
								  "       FROM (%s) AS t(r)) AS s"
								  " GROUP BY s.idx", AkRowsAsJsonbSql(ds->query)),
						   ds->search_path, 1, group_types, group_args, 2);

	ngroups = list_length(rows) / 2;
	indexes = palloc(sizeof(Datum) * Max(ngroups, 1));
	groups = palloc(sizeof(Datum) * Max(ngroups, 1));
	foreach(lc, rows)
	{
		if (i % 2 == 0)
			indexes[i / 2] = PointerGetDatum(lfirst(lc));
		else
			groups[i / 2] = PointerGetDatum(lfirst(lc));
		i++;
	}

	write_args[0] = CStringGetTextDatum(ds->name);
	write_args[1] = PointerGetDatum(construct_array(indexes, ngroups, JSONBOID, -1, false, TYPALIGN_INT));
	write_args[2] = PointerGetDatum(construct_array(groups, ngroups, JSONBOID, -1, false, TYPALIGN_INT));
	AkCatalogExecute("DELETE FROM access_key.dataset_results WHERE dataset OPERATOR(pg_catalog.=) $1",
				 1, write_types, write_args, NULL);
	AkCatalogExecute("INSERT INTO access_key.dataset_results (dataset, index_values, rows)"
				 " SELECT $1, u.i, u.r FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3)) AS u(i, r)",
				 3, write_types, write_args, NULL);
	AkCatalogExecute("UPDATE access_key.datasets SET refreshed_at = pg_catalog.now()"
				 " WHERE name OPERATOR(pg_catalog.=) $1",
				 1, write_types, write_args, NULL);
	return ngroups;
}

/*
 * Locks a dataset's row and reads it as it is once locked: false when it
 * does not exist (or was deleted while we waited).
 */
static bool
LockDataset(const char *name, Dataset *ds)
{
	Oid			types[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(name)};
	TupleDesc	desc;
	HeapTuple	row;

	row = AkCatalogExecuteReturning("SELECT * FROM access_key.datasets WHERE name OPERATOR(pg_catalog.=) $1"
									" FOR NO KEY UPDATE", 1, types, args, NULL, &desc);
	if (row == NULL)
		return false;
	ReadDataset(row, desc, ds);
	return true;
}

/* The refresh_rate argument: NULL, or a positive interval (22023 otherwise). */
static Interval *
CheckDatasetRefreshRate(FunctionCallInfo fcinfo, int argno)
{
	Interval   *rate;
	Interval   *zero = palloc0(sizeof(Interval));

	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return NULL;
	rate = PG_GETARG_INTERVAL_P(argno);
	if (!DatumGetBool(DirectFunctionCall2(interval_gt, IntervalPGetDatum(rate), IntervalPGetDatum(zero))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("refresh rate must be positive"),
				 errhint("Leave it NULL for a dataset refreshed only by access_key.ak_refresh_dataset().")));
	return rate;
}

/*
 * ak_create_dataset(name, query, index_by, refresh_rate): stores a validated
 * dataset and computes its rows, as the calling admin.
 */
Datum
ak_create_dataset(PG_FUNCTION_ARGS)
{
	char	   *name;
	char	   *query;
	List	   *columns;
	List	   *reads;
	Dataset		ds;
	Interval   *rate;
	Oid			types[6] = {TEXTOID, TEXTOID, TEXTARRAYOID, TEXTOID, OIDOID, INTERVALOID};
	Datum		args[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

	AkRequireNoSessionKey("ak_create_dataset");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the name, query and index_by of a dataset must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	AkCheckResourceName("dataset", name);
	query = AkCheckStoredQueryReads(text_to_cstring(PG_GETARG_TEXT_PP(1)), &columns, &reads);
	CheckIndexBy(PG_GETARG_ARRAYTYPE_P(2), columns);
	rate = CheckDatasetRefreshRate(fcinfo, 3);
	if (FetchDataset(name, &ds))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("dataset \"%s\" already exists", name),
				 errhint("Delete it first with access_key.ak_delete_dataset().")));

	args[0] = CStringGetTextDatum(name);
	args[1] = CStringGetTextDatum(query);
	args[2] = PG_GETARG_DATUM(2);
	args[3] = CStringGetTextDatum(AkCurrentSearchPath());
	args[4] = ObjectIdGetDatum(GetUserId());
	args[5] = rate ? IntervalPGetDatum(rate) : (Datum) 0;
	nulls[5] = rate ? ' ' : 'n';
	AkCatalogExecute(PG_NARGS() > 3
					 ? "INSERT INTO access_key.datasets (name, query, index_by, search_path, owner, refresh_rate)"
					 " VALUES ($1, $2, $3, $4, $5, $6)"
					 : "INSERT INTO access_key.datasets (name, query, index_by, search_path, owner)"
					 " VALUES ($1, $2, $3, $4, $5)",
					 PG_NARGS() > 3 ? 6 : 5, types, args, nulls);
	/* What it reads, for keys limited to some collections (key_scope.h). */
	AkRecordStoredQueryReads("datasets", name, reads);
	/* Its first rows, as the caller: a key never finds it without any. */
	if (!LockDataset(name, &ds))
		elog(ERROR, "dataset \"%s\" vanished while it was created", name);
	StoreDatasetRows(&ds);
	PG_RETURN_VOID();
}

/*
 * ak_refresh_dataset(name): runs the dataset's query as the role that stored it
 * (read-only) and replaces its stored results, grouped per index value, in
 * one transaction.  Returns how many index values it stored.
 */
Datum
ak_refresh_dataset(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Dataset		ds;

	AkRequireNoSessionKey("ak_refresh_dataset");
	if (!LockDataset(name, &ds))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("dataset \"%s\" does not exist", name)));
	PG_RETURN_INT32(StoreDatasetRows(&ds));
}

/* Whether a dataset with a refresh rate is due at now. */
static bool
DatasetRefreshIsDue(const Dataset *ds, TimestampTz now)
{
	if (ds->refresh_rate == NULL)
		return false;
	if (!ds->refreshed)
		return true;
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
												   TimestampTzGetDatum(ds->refreshed_at),
												   IntervalPGetDatum(ds->refresh_rate))) <= now;
}

/* Refreshes one dataset if, once locked, it is still due. */
static void
RefreshDueDataset(void *arg)
{
	AkRefreshRequest *req = arg;
	Dataset		ds;

	req->refreshed = false;
	if (!LockDataset(req->name, &ds) || !DatasetRefreshIsDue(&ds, req->now))
		return;
	StoreDatasetRows(&ds);
	req->refreshed = true;
}

/* The name of a datasets row whose refresh is due at now, else NULL. */
static const char *
DueDatasetName(HeapTuple row, TupleDesc desc, TimestampTz now)
{
	Dataset		ds;

	ReadDataset(row, desc, &ds);
	return DatasetRefreshIsDue(&ds, now) ? ds.name : NULL;
}

int
AkRefreshDueDatasets(TimestampTz now)
{
	return AkRefreshEachDue("datasets", "dataset", DueDatasetName, RefreshDueDataset, now);
}

/* ak_delete_dataset(name): deletes a dataset and its stored rows; true. */
Datum
ak_delete_dataset(PG_FUNCTION_ARGS)
{
	AkDeleteNamed(fcinfo, "ak_delete_dataset", "datasets", "dataset");
	PG_RETURN_BOOL(true);
}

/* ak_dataset_definition(name): name, query, index_by, refreshed_at (operation "read"). */
Datum
ak_dataset_definition(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Dataset		ds;
	JsonbParseState *state = NULL;
	JsonbValue	v;
	char	  **props;
	int			n;

	RequireDatasetAccess(name, AK_DATASET_READ);
	RequireDataset(name, &ds);
	props = IndexProperties(&ds, &n);

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	AkPushKey(&state, "dataset_name");
	v.type = jbvString;
	v.val.string.val = ds.name;
	v.val.string.len = strlen(ds.name);
	pushJsonbValue(&state, WJB_VALUE, &v);
	AkPushKey(&state, "query");
	v.val.string.val = ds.query;
	v.val.string.len = strlen(ds.query);
	pushJsonbValue(&state, WJB_VALUE, &v);
	AkPushKey(&state, "index_by");
	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < n; i++)
	{
		v.type = jbvString;
		v.val.string.val = props[i];
		v.val.string.len = strlen(props[i]);
		pushJsonbValue(&state, WJB_ELEM, &v);
	}
	pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	AkPushKey(&state, "refreshed_at");
	AkPushTimestamp(&state, ds.refreshed, ds.refreshed_at);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL)));
}

/* AkRowVisible for datasets: may the key list this one (operation "list")? */
static bool
DatasetVisible(HeapTuple row, TupleDesc desc, AccessKey key, char **name)
{
	Dataset		ds;

	ReadDataset(row, desc, &ds);
	*name = ds.name;
	return key != NULL && AkKeyPermits(key, AK_ACTION_DATASETS, ds.name, strlen(ds.name), AK_DATASET_LIST);
}

/* ak_list_datasets(): the datasets this caller may list (operation "list"). */
Datum
ak_list_datasets(PG_FUNCTION_ARGS)
{
	return AkReturnArrayAsSet(fcinfo, AkVisibleNames("datasets", DATASET_ADMIN, DatasetVisible));
}

/* ak_visible_datasets(): the same names as text[] (1.0). */
Datum
ak_visible_datasets(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(AkVisibleNames("datasets", DATASET_ADMIN, DatasetVisible));
}

/* Whether value equals an element of the JSON array (jsonb equality). */
static bool
JsonValueInArray(JsonbValue *value, JsonbContainer *array)
{
	return findJsonbValueFromContainer(array, JB_FARRAY, value) != NULL;
}

/*
 * ak_dataset_results(name, index_by): the stored rows for those index values
 * (operation "retrieve").  Every index_by property must be given, nothing
 * else; a key that lists values for a property may only ask for those.
 */
Datum
ak_dataset_results(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Jsonb	   *requested = PG_GETARG_JSONB_P(1);
	const AkStoredKey *key = RequireDatasetAccess(name, AK_DATASET_RETRIEVE);
	bool		keyed = key != NULL;
	JsonbValue *limits = NULL;
	Dataset		ds;
	char	  **props;
	int			n;
	JsonbParseState *state = NULL;
	Jsonb	   *index_values;
	ScanKeyData keys[2];
	TupleDesc	desc;
	HeapTuple	row;
	bool		isnull;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	/*
	 * The key's limits, copied now: reading the catalogs below can process an
	 * invalidation, after which the next AkSessionKey() (in
	 * AkRequireStoredQueryReadable) frees the key it returned here.
	 */
	if (keyed)
	{
		JsonbValue *allowed = AkSectionMember(key->definition, AK_SECTION_DATASETS, "allowed");
		JsonbValue *entry = allowed ? getKeyJsonValueFromContainer(allowed->val.binary.data,
																   name, strlen(name), NULL) : NULL;

		limits = entry ? AkGetMember(entry->val.binary.data, "index_by") : NULL;
		if (limits)
		{
			JsonbValue *copy = palloc(sizeof(JsonbValue));

			*copy = AkJsonbAsValue(JsonbValueToJsonb(limits));
			limits = copy;
		}
	}
	key = NULL;

	RequireDataset(name, &ds);
	if (keyed)
		AkRequireStoredQueryReadable("datasets", name, "dataset");
	props = IndexProperties(&ds, &n);

	if (!JB_ROOT_IS_OBJECT(requested))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("index_by must be a JSON object"),
				 errhint("Give a value for each index_by property of the dataset, for example {\"%s\": ...}.", props[0])));
	it = JsonbIteratorInit(&requested->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		bool		known = false;

		if (tok != WJB_KEY)
			continue;
		for (int i = 0; i < n; i++)
			known = known || (strlen(props[i]) == v.val.string.len &&
							  memcmp(props[i], v.val.string.val, v.val.string.len) == 0);
		if (!known)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("dataset \"%s\" is not indexed by \"%s\"", name,
							pnstrdup(v.val.string.val, v.val.string.len))));
	}

	/*
	 * A restriction on a property the dataset is not indexed by cannot be
	 * enforced: refuse rather than ignore it (a typo must not open it up).
	 */
	if (limits)
	{
		it = JsonbIteratorInit(limits->val.binary.data);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			bool		indexed = false;

			if (tok != WJB_KEY)
				continue;
			for (int i = 0; i < n; i++)
				indexed = indexed || (strlen(props[i]) == v.val.string.len &&
									  memcmp(props[i], v.val.string.val, v.val.string.len) == 0);
			if (!indexed)
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("permission denied for dataset \"%s\"", name),
						 errdetail("The access key restricts \"%s\", which the dataset is not indexed by.",
								   pnstrdup(v.val.string.val, v.val.string.len))));
		}
	}

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < n; i++)
	{
		JsonbValue *value = AkGetMember(&requested->root, props[i]);
		JsonbValue *allowed_values = limits ? AkGetMember(limits->val.binary.data, props[i]) : NULL;

		if (value == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("missing index property \"%s\" for dataset \"%s\"", props[i], name),
					 errhint("Every index_by property of the dataset must be given.")));
		if (allowed_values && !JsonValueInArray(value, allowed_values->val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for this value of \"%s\" in dataset \"%s\"", props[i], name),
					 errdetail("The access key lists the %s values it may retrieve.", props[i])));
		AkPushKey(&state, props[i]);
		pushJsonbValue(&state, WJB_VALUE, value);
	}
	index_values = JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));

	if (!ds.refreshed)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("dataset \"%s\" has not been computed yet", name),
				 errhint("An admin computes it with access_key.ak_refresh_dataset().")));

	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(name));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_JSONB_EQ, JsonbPGetDatum(index_values));
	row = AkCatalogFetch("dataset_results", AK_CATALOG_STATEMENT_SNAPSHOT, 2, keys, &desc);
	PG_RETURN_JSONB_P(AkResultObject(row ? DatumGetJsonbPCopy(AkCatalogColumn(row, desc, "rows", &isnull))
									 : AkJsonbArray(NIL),
									 true, ds.refreshed_at));
}
