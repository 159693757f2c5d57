/*
 * index_values.c — the values index conditions compare with, computed when
 * the plan runs, from the key running it (docs/reference.md, "Plans").
 *
 * The support functions put calls to these into plans (index_terms.c,
 * planner_support.c); they are STABLE, so an index scan evaluates them once
 * when it starts, and PARALLEL SAFE, since they read only the session's
 * settings and the key tables.  Each answers for the session's key as
 * ak_filter_row does for the same collection: nothing without a key (the
 * condition then matches no row, as the filter would), 42501 when the key
 * may not read the collection.
 *
 * Each value is a necessary condition of the key's filters
 * (filter_facts.c), so the condition selects a superset of the rows the
 * filters accept.  A plan was made for a key that pins or bounds the path;
 * should it ever run for a key that does not (plan_shape.c re-plans before
 * that, except when a key's definition changes while a statement runs, or
 * a SQL function changes keys between statements it planned together), the
 * condition cannot be made a superset — a B-tree scan cannot return rows
 * without the path — and the function raises instead of losing rows.
 */
#include "postgres.h"

#include "compat.h"
#include "filter_facts.h"
#include "key_cache.h"
#include "prefilter.h"
#include "row_filter.h"
#include "session.h"

#include "access/xact.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/jsonpath.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(ak_filter_text);
PG_FUNCTION_INFO_V1(ak_filter_texts);
PG_FUNCTION_INFO_V1(ak_filter_jsonb);
PG_FUNCTION_INFO_V1(ak_filter_jsonbs);
PG_FUNCTION_INFO_V1(ak_filter_text_lower);
PG_FUNCTION_INFO_V1(ak_filter_text_upper);
PG_FUNCTION_INFO_V1(ak_index_prefilter_terms);
PG_FUNCTION_INFO_V1(ak_filter_row_planned);

/* The longest property path a filter can name (validate.c: 1 to 256 characters a segment). */
#define MAX_PATH_BYTES (64 * 1024)

static AK_NORETURN void
ReportPlanMismatch(const char *path, const char *needs)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("the access key's filters do not fit the plan of this statement"),
			 errdetail("The plan compares property \"%s\" with %s, which the key presented has not: "
					   "the statement was planned while a key with other filters was presented.", path, needs),
			 errhint("Run the statement again: plans are made anew for the filters of the key presented.")));
}

/*
 * The session key's view for the collection (arg 0) and the path (arg 1);
 * NULL without a key.
 */
static const AkContextView *
ViewAndPath(FunctionCallInfo fcinfo, char **path)
{
	text	   *t = PG_GETARG_TEXT_PP(1);

	if (VARSIZE_ANY_EXHDR(t) > MAX_PATH_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("property path is too long")));
	*path = text_to_cstring(t);
	return AkReadableView(PG_GETARG_OID(0));
}

/* The values the key pins path to; raises when it does not pin it. */
static List *
PinnedValues(const AkContextView *view, const char *path)
{
	List	   *values;

	if (!AkFiltersPathValues(view->filters, path, &values))
		ReportPlanMismatch(path, "the values of the key's eq, in or or filters");
	return values;
}

/* A pinned value as the text ->> yields: strings and booleans only. */
static text *
AsText(const JsonbValue *v, const char *path)
{
	if (v->type == jbvString)
		return cstring_to_text_with_len(v->val.string.val, v->val.string.len);
	if (v->type == jbvBool)
		return cstring_to_text(v->val.boolean ? "true" : "false");
	ReportPlanMismatch(path, "strings from the key's eq, in or or filters");
}

/* A pinned value as ->> or -> yields it: text (strings and booleans only) or jsonb. */
static Datum
PinnedDatum(const JsonbValue *v, const char *path, Oid type)
{
	if (type == TEXTOID)
		return PointerGetDatum(AsText(v, path));
	return JsonbPGetDatum(JsonbValueToJsonb((JsonbValue *) v));
}

/*
 * The one value the session key's eq filters pin the path (arg 1) to, as
 * type: NULL without a key, or when the filters together exclude every value.
 */
static Datum
PinnedValue(FunctionCallInfo fcinfo, Oid type)
{
	char	   *path;
	const AkContextView *view = ViewAndPath(fcinfo, &path);
	List	   *values;

	if (view == NULL)
		PG_RETURN_NULL();
	values = PinnedValues(view, path);
	if (values == NIL)
		PG_RETURN_NULL();
	if (list_length(values) > 1)
		ReportPlanMismatch(path, "the one value of an eq filter");
	return PinnedDatum(linitial(values), path, type);
}

/* The values the session key's eq, in and one-path or filters allow, as an array of type. */
static Datum
PinnedArray(FunctionCallInfo fcinfo, Oid type)
{
	char	   *path;
	const AkContextView *view = ViewAndPath(fcinfo, &path);
	List	   *values;
	Datum	   *elems;
	int			n = 0;
	ListCell   *lc;

	if (view == NULL)
		PG_RETURN_NULL();
	values = PinnedValues(view, path);
	elems = palloc(sizeof(Datum) * Max(list_length(values), 1));
	foreach(lc, values)
		elems[n++] = PinnedDatum(lfirst(lc), path, type);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, type, -1, false, TYPALIGN_INT));
}

/* ak_filter_text(collection, path): the one string the key pins path to (NULL: none can match). */
Datum
ak_filter_text(PG_FUNCTION_ARGS)
{
	return PinnedValue(fcinfo, TEXTOID);
}

/* ak_filter_texts(collection, path): the strings the key pins path to. */
Datum
ak_filter_texts(PG_FUNCTION_ARGS)
{
	return PinnedArray(fcinfo, TEXTOID);
}

/* ak_filter_jsonb(collection, path): the one JSON value the key pins path to. */
Datum
ak_filter_jsonb(PG_FUNCTION_ARGS)
{
	return PinnedValue(fcinfo, JSONBOID);
}

/* ak_filter_jsonbs(collection, path): the JSON values the key pins path to. */
Datum
ak_filter_jsonbs(PG_FUNCTION_ARGS)
{
	return PinnedArray(fcinfo, JSONBOID);
}

static Datum
TextBound(FunctionCallInfo fcinfo, bool lower)
{
	char	   *path;
	const AkContextView *view = ViewAndPath(fcinfo, &path);
	text	   *bound;

	if (view == NULL)
		PG_RETURN_NULL();
	bound = AkFiltersTextBound(view->filters, path, lower);
	if (bound == NULL)
		ReportPlanMismatch(path, lower ? "a lower bound from a gt or gte filter on a string"
						   : "an upper bound from an lt or lte filter on a string");
	PG_RETURN_TEXT_P(bound);
}

/* ak_filter_text_lower(collection, path): every visible row's string at path is >= this (bytewise). */
Datum
ak_filter_text_lower(PG_FUNCTION_ARGS)
{
	return TextBound(fcinfo, true);
}

/* ak_filter_text_upper(collection, path): every visible row's string at path is < this (bytewise). */
Datum
ak_filter_text_upper(PG_FUNCTION_ARGS)
{
	return TextBound(fcinfo, false);
}

/*
 * A jsonpath no row satisfies and a GIN index answers without reading a
 * posting list: no property has this name.
 */
#define NO_ROW_PREFILTER "$.\"access_key: no key\" == \"no row\""

/* The non-NULL elements of a positions array (filters' 1-based positions). */
static int *
ReadPositions(ArrayType *array, int *npositions)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int		   *positions;

	if (ARR_ELEMTYPE(array) != INT4OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("positions must be an integer array")));
	deconstruct_array(array, INT4OID, sizeof(int32), true, TYPALIGN_INT, &elems, &nulls, &n);
	positions = palloc(sizeof(int) * Max(n, 1));
	*npositions = 0;
	for (int i = 0; i < n; i++)
		if (!nulls[i])
			positions[(*npositions)++] = DatumGetInt32(elems[i]);
	return positions;
}

/*
 * ak_index_prefilter(collection, positions): the GIN condition of the
 * session key's filters at those 1-based positions (a superset of the rows
 * its filters accept: any subset of them is); "true" when none of them gives
 * a term.  42501 like ak_filter_row; without a key, one that matches no row.
 */
Datum
ak_index_prefilter_terms(PG_FUNCTION_ARGS)
{
	const AkContextView *view = AkReadableView(PG_GETARG_OID(0));
	int			npositions;
	int		   *positions;
	char	   *path;

	if (view == NULL)
		return DirectFunctionCall1(jsonpath_in, CStringGetDatum(NO_ROW_PREFILTER));
	positions = ReadPositions(PG_GETARG_ARRAYTYPE_P(1), &npositions);
	path = AkFiltersPrefilterAt(view->filters, positions, npositions);
	return DirectFunctionCall1(jsonpath_in, CStringGetDatum(path ? path : "true"));
}

/* What a call site of the planned policy call knows once: its plan's shape and which filters it may skip. */
typedef struct PlannedCall
{
	char	   *plan_shape;
	int			nfilters;
	bool	   *skip;			/* per filter: checked exactly by the plan's index condition */

	/*
	 * The key the scan started under: the condition's values were computed
	 * for it, so skips hold only while the session presents it (a cursor
	 * read on after another key is presented gets every filter checked).
	 */
	uint64		scan_generation;
	uint64		scan_epoch;

	/*
	 * The key state for which every filter was found skipped, so that the
	 * answer is true for every row: the next rows need no lookup at all.
	 */
	bool		all_skipped;
	uint64		generation;
	uint64		epoch;
	AkContext	context;
	TimestampTz xact_start;
} PlannedCall;

static PlannedCall *
ReadPlannedCall(FunctionCallInfo fcinfo, const AkContextView *view)
{
	PlannedCall *call = fcinfo->flinfo->fn_extra;
	MemoryContext old;
	int		   *positions;
	int			n;

	if (call)
		return call;
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	call = palloc0(sizeof(PlannedCall));
	call->plan_shape = text_to_cstring(PG_GETARG_TEXT_PP(2));
	call->nfilters = view->filters->nfilters;
	call->scan_generation = AkSessionKeyGeneration();
	call->scan_epoch = AkKeyCacheEpoch();
	call->skip = palloc0(sizeof(bool) * Max(call->nfilters, 1));
	positions = ReadPositions(PG_GETARG_ARRAYTYPE_P(3), &n);
	/* Only a view of the plan's shape is consulted, so these are that shape's filters. */
	if (strcmp(view->shape, call->plan_shape) == 0)
		for (int i = 0; i < n; i++)
		{
			int			p = positions[i];

			if (p >= 1 && p <= call->nfilters &&
				AkFilterPinsExactly(&view->filters->filters[p - 1]))
				call->skip[p - 1] = true;
		}
	MemoryContextSwitchTo(old);
	fcinfo->flinfo->fn_extra = call;
	return call;
}

/*
 * ak_filter_row(collection, properties, plan_shape, indexed): the SELECT
 * policy's call as a plan made by the support function holds it
 * (index_terms.c).  The same answer as ak_filter_row(collection,
 * properties), but a filter at one of the indexed positions that pins its
 * path to plain strings is not checked again: the plan's condition on that
 * path, an index condition or a filter of the same scan, selects exactly
 * the rows it accepts.  That holds only for the shape the plan was made
 * for, which plan_shape names, and for the key the scan started under,
 * whose values the condition compares with: otherwise every filter is
 * checked.  Rows the index returns thus cost no second look.
 */
Datum
ak_filter_row_planned(PG_FUNCTION_ARGS)
{
	const AkContextView *view;
	PlannedCall *call;
	bool		same_shape;
	Jsonb	   *properties = NULL;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_BOOL(false);
	call = fcinfo->flinfo->fn_extra;
	if (call && call->all_skipped && call->generation == AkSessionKeyGeneration() &&
		call->epoch == AkKeyCacheEpoch() && call->context == AkCurrentContext() &&
		call->xact_start == GetCurrentTransactionStartTimestamp())
		PG_RETURN_BOOL(true);	/* the same key as for the last row, which needed no check */

	view = AkReadableView(PG_GETARG_OID(0));
	if (view == NULL)
		PG_RETURN_BOOL(false);
	/* The timeframe by keen.timestamp, as ak_filter_row checks it (every row: never all skipped). */
	if (!AkRowInTimeframe(view, PG_GETARG_OID(0), PG_GETARG_DATUM(1), &properties))
		PG_RETURN_BOOL(false);
	if (view->filters->nfilters == 0)
		PG_RETURN_BOOL(true);
	if (PG_ARGISNULL(2) || PG_ARGISNULL(3))
		PG_RETURN_BOOL(AkFiltersMatch(view->filters, PG_GETARG_JSONB_P(1)));

	/*
	 * The skips were read from a view of the plan's shape; a view of the
	 * same shape has the same filters but for their values.
	 */
	call = ReadPlannedCall(fcinfo, view);
	same_shape = call->scan_generation == AkSessionKeyGeneration() && call->scan_epoch == AkKeyCacheEpoch() &&
		strcmp(view->shape, call->plan_shape) == 0;
	call->all_skipped = false;
	for (int i = 0; i < view->filters->nfilters; i++)
	{
		if (same_shape && call->skip[i])
			continue;
		if (properties == NULL)
			properties = PG_GETARG_JSONB_P(1);
		if (!AkFilterMatches(&view->filters->filters[i], properties))
			PG_RETURN_BOOL(false);
	}
	if (properties == NULL)
	{
		/* No filter needed the row: remember for which key state. */
		call->all_skipped = true;
		call->generation = AkSessionKeyGeneration();
		call->epoch = AkKeyCacheEpoch();
		call->context = AkCurrentContext();
		call->xact_start = GetCurrentTransactionStartTimestamp();
	}
	PG_RETURN_BOOL(true);
}
