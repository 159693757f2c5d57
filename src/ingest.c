/*
 * ingest.c — ak_record_events (Keen's multi-event body) and ak_record_event
 * (docs/operations.md#batch-ingest).
 *
 * COPY FROM is refused on tables with row-level security, so bulk writes
 * through a key go through these functions instead.  Events are inserted
 * with SQL, as the caller, so the collection's policies, triggers and
 * autofill apply exactly as to the caller's own INSERT.
 *
 * A bad event must not stop the others, yet a subtransaction per event
 * would cost more than the insert itself.  So each collection's events are
 * first inserted with one multi-row INSERT in one subtransaction; only when
 * that fails is the batch split in halves, each retried in its own
 * subtransaction, down to the single events that fail.  A batch with f bad
 * events among n costs about 1 + 2 f log2(n) subtransactions.
 *
 * Errors reported per event carry only the error's message: a DETAIL can
 * show key values of rows the caller may not see (a unique violation's
 * "Key (id)=(42) already exists"), so it is never included.  Errors that
 * are about the session rather than the event (an invalid key, a cancel,
 * a serialization failure, running out of resources) abort the whole call.
 */
#include "postgres.h"

#include "collection.h"
#include "compat.h"
#include "ingest.h"
#include "jsonb_util.h"
#include "subtransaction.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"

PG_FUNCTION_INFO_V1(ak_record_events);
PG_FUNCTION_INFO_V1(ak_record_event);

/* One collection's batch: its events and, per event, what happened. */
typedef struct Batch
{
	SPIPlanPtr	insert;			/* INSERT INTO <collection> (<column>) SELECT unnest($1) */
	SPIPlanPtr	insert_timed;	/* the same, also setting the time column (or NULL) */
	int			nevents;
	Datum	   *events;			/* jsonb; NULL for an event that is not an object */
	ErrorData **errors;			/* NULL: inserted */
} Batch;

/* An inclusive-exclusive range of a batch's events, inserted together. */
typedef struct Attempt
{
	Batch	   *batch;
	int			lo;
	int			hi;
} Attempt;

/*
 * The collection named like regclass input names a relation (schema-
 * qualified or found on search_path); raises unless it is a protected
 * collection (or a partition of one).  *column gets its properties column.
 */
static Oid
RequireCollectionNamed(const char *name, char **column)
{
	Oid			relid = DatumGetObjectId(DirectFunctionCall1(regclassin, CStringGetDatum(name)));

	if (AkFetchCollection(relid, column) != AK_COLLECTION_REGISTERED)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("relation \"%s\" is not a protected collection", name),
				 errhint("An admin makes a table a collection with access_key.ak_protect().")));
	return relid;
}

/*
 * Prepared INSERTs, per backend, by their SQL text (which names the
 * collection and its column, so a renamed table or column gets a new entry
 * rather than a stale plan).  Saved plans are revalidated by the plan cache
 * when the table changes.  A handful of collections is the common case; the
 * cache is bounded all the same.
 */
#define INSERT_PLAN_CACHE_SIZE 32

typedef struct InsertPlan
{
	char	   *sql;
	SPIPlanPtr	plan;
} InsertPlan;

static InsertPlan insert_plans[INSERT_PLAN_CACHE_SIZE];
static int	insert_plans_next;

/*
 * The plan of the INSERT that writes events into a collection, as the
 * caller; with time_column, one that also sets that column from each
 * event's keen.timestamp (events without one are inserted by the plain
 * INSERT, so the column's default applies to them).
 */
static SPIPlanPtr
PrepareInsert(Oid relid, const char *column, const char *time_column)
{
	Oid			types[1] = {JSONBARRAYOID};
	MemoryContext caller = CurrentMemoryContext;
	char	   *table = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
													  get_rel_name(relid));
	char	   *sql = time_column == NULL
		? psprintf("INSERT INTO %s (%s) SELECT e FROM pg_catalog.unnest($1) AS e",
				   table, quote_identifier(column))
		: psprintf("INSERT INTO %s (%s, %s)"
				   " SELECT e, (e OPERATOR(pg_catalog.#>>) '{keen,timestamp}')::pg_catalog.timestamptz"
				   " FROM pg_catalog.unnest($1) AS e",
				   table, quote_identifier(column), quote_identifier(time_column));
	InsertPlan *slot;
	SPIPlanPtr	plan;

	for (int i = 0; i < INSERT_PLAN_CACHE_SIZE; i++)
		if (insert_plans[i].sql && strcmp(insert_plans[i].sql, sql) == 0)
			return insert_plans[i].plan;

	plan = SPI_prepare(sql, 1, types);
	if (plan == NULL)
		elog(ERROR, "could not prepare \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	/*
	 * Saved: it outlives this call, and each execution's plan reference
	 * belongs to the subtransaction's resource owner, released when it aborts.
	 */
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	/* SPI calls return in SPI's procedure context; our memory is the caller's. */
	MemoryContextSwitchTo(caller);

	slot = &insert_plans[insert_plans_next];
	insert_plans_next = (insert_plans_next + 1) % INSERT_PLAN_CACHE_SIZE;
	if (slot->sql)
	{
		SPI_freeplan(slot->plan);
		pfree(slot->sql);
	}
	slot->sql = MemoryContextStrdup(TopMemoryContext, sql);
	slot->plan = plan;
	return plan;
}

/* Whether an event carries keen.timestamp (Keen's own event time). */
static bool
HasKeenTimestamp(Jsonb *event)
{
	JsonbValue *keen = AkGetMember(&event->root, "keen");

	return keen != NULL && AkIsObject(keen) && AkGetMember(keen->val.binary.data, "timestamp") != NULL;
}

/*
 * Inserts the objects among events [lo, hi): one statement, or two when the
 * collection has a time column (events with and without keen.timestamp).
 */
static void
InsertRange(void *arg)
{
	Attempt    *a = arg;
	MemoryContext caller = CurrentMemoryContext;
	Datum	   *values = palloc(sizeof(Datum) * (a->hi - a->lo));
	int			n = 0;
	Datum		param[1];
	int			rc;

	Datum	   *timed = palloc(sizeof(Datum) * (a->hi - a->lo));
	int			ntimed = 0;

	for (int i = a->lo; i < a->hi; i++)
	{
		Datum		event = a->batch->events[i];

		if (event == (Datum) 0)
			continue;
		if (a->batch->insert_timed && HasKeenTimestamp(DatumGetJsonbP(event)))
			timed[ntimed++] = event;
		else
			values[n++] = event;
	}
	if (n > 0)
	{
		param[0] = PointerGetDatum(construct_array(values, n, JSONBOID, -1, false, TYPALIGN_INT));
		rc = SPI_execute_plan(a->batch->insert, param, NULL, false, 0);
		MemoryContextSwitchTo(caller);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "inserting events failed (SPI result %d)", rc);
	}
	if (ntimed > 0)
	{
		param[0] = PointerGetDatum(construct_array(timed, ntimed, JSONBOID, -1, false, TYPALIGN_INT));
		rc = SPI_execute_plan(a->batch->insert_timed, param, NULL, false, 0);
		MemoryContextSwitchTo(caller);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "inserting events failed (SPI result %d)", rc);
	}
}

/*
 * Inserts events [lo, hi) of a batch in a subtransaction; if that fails,
 * retries each half the same way, so that only failing single events are
 * left with an error.
 */
static void
InsertOrBisect(Batch *batch, int lo, int hi)
{
	Attempt		a = {batch, lo, hi};
	ErrorData  *error;
	int			mid;

	if (lo >= hi)
		return;
	error = AkTrySubtransaction(InsertRange, &a);
	if (error == NULL)
		return;
	if (AkErrorStopsEverything(error))
		ReThrowError(error);
	if (hi - lo == 1)
	{
		batch->errors[lo] = error;
		return;
	}
	FreeErrorData(error);
	mid = lo + (hi - lo) / 2;
	InsertOrBisect(batch, lo, mid);
	InsertOrBisect(batch, mid, hi);
}

/* Keen's name for the kind of error an event met. */
static const char *
KeenErrorName(const ErrorData *error)
{
	if (error->sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE)
		return "ForbiddenError";
	if (error->sqlerrcode == ERRCODE_PROGRAM_LIMIT_EXCEEDED)
		return "EventTooLargeError";
	switch (ERRCODE_TO_CATEGORY(error->sqlerrcode))
	{
		case ERRCODE_TO_CATEGORY(ERRCODE_DATA_EXCEPTION):	/* 22 */
		case ERRCODE_TO_CATEGORY(ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION):	/* 23 */
		case ERRCODE_TO_CATEGORY(ERRCODE_TRIGGERED_ACTION_EXCEPTION):	/* 09 */
		case ERRCODE_TO_CATEGORY(ERRCODE_RAISE_EXCEPTION):	/* P0: a trigger said no */
			return "InvalidPropertyValueError";
		default:
			return "InternalServerError";
	}
}

/* Pushes "key": "value" into an object being built. */
static void
PushStringMember(JsonbParseState **state, const char *key, const char *value)
{
	AkPushKey(state, key);
	AkPushString(state, WJB_VALUE, value);
}

/* Pushes {"success": true} or {"success": false, "error": {"name", "description"}}. */
static void
PushOutcome(JsonbParseState **state, const char *error_name, const char *description)
{
	JsonbValue	v;

	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	AkPushKey(state, "success");
	v.type = jbvBool;
	v.val.boolean = error_name == NULL;
	pushJsonbValue(state, WJB_VALUE, &v);
	if (error_name)
	{
		AkPushKey(state, "error");
		pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
		PushStringMember(state, "name", error_name);
		PushStringMember(state, "description", description);
		pushJsonbValue(state, WJB_END_OBJECT, NULL);
	}
	pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/* Reads a collection's events (a JSON array) into a batch. */
static void
ReadEvents(Batch *batch, const char *collection, JsonbValue *array)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			n = 0;

	if (!AkIsArray(array))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the events of collection \"%s\" must be a JSON array, not %s", collection,
						AkJsonTypeName(array)),
				 errhint("The body is {\"<collection>\": [event, ...], ...}, as Keen's multi-event API takes.")));
	batch->nevents = JsonContainerSize(array->val.binary.data);
	batch->events = palloc0(sizeof(Datum) * Max(batch->nevents, 1));
	batch->errors = palloc0(sizeof(ErrorData *) * Max(batch->nevents, 1));
	it = JsonbIteratorInit(array->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (AkIsObject(&v))
			batch->events[n] = JsonbPGetDatum(JsonbValueToJsonb(&v));
		n++;
	}
}

/*
 * ak_record_events(events jsonb): inserts Keen's batch body
 * {"<collection>": [event, ...], ...} as the caller and answers
 * {"<collection>": [{"success": true} | {"success": false, "error": {...}}, ...]}.
 */
Datum
ak_record_events(PG_FUNCTION_ARGS)
{
	Jsonb	   *body;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbValue	name;
	JsonbIteratorToken tok;
	JsonbParseState *state = NULL;
	MemoryContext caller;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the events must not be null")));
	body = PG_GETARG_JSONB_P(0);
	if (!JB_ROOT_IS_OBJECT(body))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the events must be a JSON object of collections"),
				 errhint("The body is {\"<collection>\": [event, ...], ...}, as Keen's multi-event API takes.")));

	/* The answer and the events live in the caller's memory, which SPI_finish keeps. */
	caller = CurrentMemoryContext;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	MemoryContextSwitchTo(caller);
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	it = JsonbIteratorInit(&body->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *collection;
		char	   *column;
		char	   *time_column;
		Oid			relid;
		Batch		batch;

		if (tok == WJB_KEY)
		{
			name = v;
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		collection = pnstrdup(name.val.string.val, name.val.string.len);
		relid = RequireCollectionNamed(collection, &column);
		ReadEvents(&batch, collection, &v);
		time_column = AkFetchCollectionTimeColumn(relid);
		batch.insert = PrepareInsert(relid, column, NULL);
		batch.insert_timed = time_column ? PrepareInsert(relid, column, time_column) : NULL;
		InsertOrBisect(&batch, 0, batch.nevents);

		pushJsonbValue(&state, WJB_KEY, &name);
		pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
		for (int i = 0; i < batch.nevents; i++)
		{
			if (batch.events[i] == (Datum) 0)
				PushOutcome(&state, "InvalidEventError", "An event must be a JSON object.");
			else if (batch.errors[i])
				PushOutcome(&state, KeenErrorName(batch.errors[i]), batch.errors[i]->message);
			else
				PushOutcome(&state, NULL, NULL);
		}
		pushJsonbValue(&state, WJB_END_ARRAY, NULL);

	}
	SPI_finish();
	PG_RETURN_JSONB_P(JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL)));
}

/*
 * ak_record_event(collection regclass, event jsonb): inserts one event as
 * the caller; errors are raised as they are.  Returns {"created": true}, as
 * Keen's single-event API answers.
 */
Datum
ak_record_event(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *column;
	char	   *time_column;
	Jsonb	   *event;
	Datum		values[1];
	Batch		batch;
	Attempt		all = {&batch, 0, 1};
	JsonbParseState *state = NULL;
	JsonbValue	v;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the collection and the event must not be null")));
	relid = PG_GETARG_OID(0);
	event = PG_GETARG_JSONB_P(1);
	if (AkFetchCollection(relid, &column) != AK_COLLECTION_REGISTERED)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("relation \"%s\" is not a protected collection",
						get_rel_name(relid) ? get_rel_name(relid) : psprintf("%u", relid)),
				 errhint("An admin makes a table a collection with access_key.ak_protect().")));
	if (!JB_ROOT_IS_OBJECT(event))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an event must be a JSON object")));

	values[0] = JsonbPGetDatum(event);
	batch.nevents = 1;
	batch.events = values;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	time_column = AkFetchCollectionTimeColumn(relid);
	batch.insert = PrepareInsert(relid, column, NULL);
	batch.insert_timed = time_column ? PrepareInsert(relid, column, time_column) : NULL;
	InsertRange(&all);
	SPI_finish();

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	AkPushKey(&state, "created");
	v.type = jbvBool;
	v.val.boolean = true;
	pushJsonbValue(&state, WJB_VALUE, &v);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL)));
}
