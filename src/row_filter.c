/*
 * row_filter.c — the SQL face of filters: ak_apply_filters (session and
 * pure), ak_index_prefilter and ak_filter_values.
 *
 * Plans outlive keys: nothing here is folded into a plan.  The index
 * condition the planner support adds (planner_support.c) calls
 * ak_index_prefilter(), a STABLE function evaluated when the scan starts, so
 * a prepared statement executed under another key gets that key's prefilter.
 */
#include "postgres.h"

#include "compat.h"
#include "filter.h"
#include "key_scope.h"
#include "row_filter.h"
#include "session.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonpath.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

PG_FUNCTION_INFO_V1(ak_apply_filters);
PG_FUNCTION_INFO_V1(ak_apply_filters_definition);
PG_FUNCTION_INFO_V1(ak_index_prefilter);
PG_FUNCTION_INFO_V1(ak_filter_row);
PG_FUNCTION_INFO_V1(ak_collection_index_prefilter);
PG_FUNCTION_INFO_V1(ak_filter_values);

/* ak_apply_filters(properties): the session key's filters in the current context. */
Datum
ak_apply_filters(PG_FUNCTION_ARGS)
{
	const AkContextView *view;

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	view = AkSessionContextView();
	if (view == NULL || !view->permitted)
		PG_RETURN_BOOL(false);
	if (view->filters->nfilters == 0)
		PG_RETURN_BOOL(true);
	PG_RETURN_BOOL(AkFiltersMatch(view->filters, PG_GETARG_JSONB_P(0)));
}

const AkContextView *
AkReadableView(Oid collection)
{
	const AkContextView *view = AkSessionContextView();
	const char *action;

	if (view == NULL)
		return NULL;
	if (view->permitted)
	{
		AkRequireReadableCollection(view->scope, collection);
		return view;
	}
	action = ak_action_names[AkContextAction(view->context)];
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("access key does not permit %s", action),
			 errdetail("Reading protected collection \"%s\" needs the \"%s\" permission.",
					   DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(collection))),
					   action),
			 errhint("Every read of a protected collection needs it, including INSERT ... RETURNING.")));
	return NULL;
}

bool
AkRowInTimeframe(const AkContextView *view, Oid collection, Datum properties, Jsonb **detoasted)
{
	if (!AkScopeTimeFromProperties(view->scope, collection))
		return true;
	*detoasted = DatumGetJsonbP(properties);
	return AkScopePropertiesInTimeframe(view->scope, *detoasted);
}

/*
 * ak_filter_row(collection, properties): the SELECT policy of a protected
 * collection.  Whether the session's key may see the row; false without a
 * key, 42501 when the key may not read the collection at all.  (Plans hold
 * its planned form, ak_filter_row_planned in index_values.c, which must
 * check everything this checks.)
 */
Datum
ak_filter_row(PG_FUNCTION_ARGS)
{
	const AkContextView *view;
	Jsonb	   *properties;

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	view = AkReadableView(PG_GETARG_OID(0));
	if (view == NULL || PG_ARGISNULL(1))
		PG_RETURN_BOOL(false);
	properties = NULL;
	if (!AkRowInTimeframe(view, PG_GETARG_OID(0), PG_GETARG_DATUM(1), &properties))
		PG_RETURN_BOOL(false);
	if (view->filters->nfilters == 0)
		PG_RETURN_BOOL(true);
	PG_RETURN_BOOL(AkFiltersMatch(view->filters, properties ? properties : PG_GETARG_JSONB_P(1)));
}

/* Per-call-site cache of the last definition compiled by the pure variant. */
typedef struct PureFilterCache
{
	MemoryContext context;
	AccessKey	definition;		/* a copy: compiled values point into it */
	AkContext	filter_context;
	bool		permitted;
	AkFilterList *filters;
} PureFilterCache;

/* ak_apply_filters(definition, properties, context): pure. */
Datum
ak_apply_filters_definition(PG_FUNCTION_ARGS)
{
	AccessKey	ak;
	text	   *context_name;
	AkContext	ctx;
	PureFilterCache *cache = fcinfo->flinfo->fn_extra;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	ak = PG_GETARG_ACCESS_KEY(0);
	context_name = PG_GETARG_TEXT_PP(2);
	ctx = AkParseContext(VARDATA_ANY(context_name), VARSIZE_ANY_EXHDR(context_name));
	if (PG_ARGISNULL(1))
		PG_RETURN_BOOL(false);

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(PureFilterCache));
		cache->context = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt, "access_key filters",
											   ALLOCSET_SMALL_SIZES);
		fcinfo->flinfo->fn_extra = cache;
	}
	if (cache->definition == NULL || cache->filter_context != ctx ||
		VARSIZE(cache->definition) != VARSIZE(ak) ||
		memcmp(cache->definition, ak, VARSIZE(ak)) != 0)
	{
		MemoryContext old;

		cache->definition = NULL;
		MemoryContextReset(cache->context);
		old = MemoryContextSwitchTo(cache->context);
		cache->definition = palloc(VARSIZE(ak));
		memcpy(cache->definition, ak, VARSIZE(ak));
		cache->filter_context = ctx;
		cache->permitted = AkIsActive(ak) && AkPermitsAction(ak, AkContextAction(ctx));
		cache->filters = AkCompileFilters(cache->definition, ctx);
		MemoryContextSwitchTo(old);
	}
	PG_RETURN_BOOL(cache->permitted && AkFiltersMatch(cache->filters, PG_GETARG_JSONB_P(1)));
}

/*
 * ak_index_prefilter(): a jsonpath that every row visible to the session's
 * key satisfies; "true" when its filters give no index condition, "false"
 * when it sees nothing.
 */
Datum
ak_index_prefilter(PG_FUNCTION_ARGS)
{
	const AkContextView *view = AkSessionContextView();
	const char *path;

	if (view == NULL || !view->permitted)
		path = "false";
	else if (view->prefilter == NULL)
		path = "true";
	else
		path = view->prefilter;
	return DirectFunctionCall1(jsonpath_in, CStringGetDatum(path));
}

/*
 * ak_index_prefilter(collection): the index condition of ak_filter_row;
 * "false" without a key, 42501 like ak_filter_row, so an index scan refuses
 * as a sequential scan does.
 */
Datum
ak_collection_index_prefilter(PG_FUNCTION_ARGS)
{
	const AkContextView *view = AkReadableView(PG_GETARG_OID(0));

	if (view == NULL)
		return DirectFunctionCall1(jsonpath_in, CStringGetDatum("false"));
	return DirectFunctionCall1(jsonpath_in, CStringGetDatum(view->prefilter ? view->prefilter : "true"));
}

static text *
ScalarText(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			return cstring_to_text_with_len(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			/* Without trailing zeros, so 1 and 1.0 are one value. */
			return cstring_to_text(numeric_normalize(v->val.numeric));
		case jbvBool:
			return cstring_to_text(v->val.boolean ? "true" : "false");
		default:
			return NULL;
	}
}

static bool
ContainsText(List *values, text *t)
{
	ListCell   *lc;

	foreach(lc, values)
	{
		text	   *x = lfirst(lc);

		if (VARSIZE_ANY_EXHDR(x) == VARSIZE_ANY_EXHDR(t) &&
			memcmp(VARDATA_ANY(x), VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)) == 0)
			return true;
	}
	return false;
}

/*
 * ak_filter_values(property_name): the values the session key's eq and in
 * filters (current context) allow for that property, as text; several
 * filters on one property intersect.  NULL when the key does not filter the
 * property this way; an empty array without a key or without permission.
 */
Datum
ak_filter_values(PG_FUNCTION_ARGS)
{
	char	   *property = text_to_cstring(PG_GETARG_TEXT_PP(0));
	const AkContextView *view = AkSessionContextView();
	List	   *allowed = NIL;
	bool		filtered = false;
	Datum	   *elems;
	int			n = 0;
	ListCell   *lc;

	if (view == NULL || !view->permitted)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(TEXTOID));

	for (int i = 0; i < view->filters->nfilters; i++)
	{
		const AkFilter *f = &view->filters->filters[i];
		List	   *these = NIL;

		if ((f->op != AK_OP_EQ && f->op != AK_OP_IN) || strcmp(f->property_name, property) != 0)
			continue;
		if (f->op == AK_OP_EQ)
		{
			text	   *t = ScalarText(&f->value);

			if (t)
				these = lappend(these, t);
		}
		else
		{
			for (int j = 0; j < f->nvalues; j++)
			{
				text	   *t = ScalarText(&f->values[j]);

				if (t && !ContainsText(these, t))
					these = lappend(these, t);
			}
		}
		if (filtered)
		{
			List	   *both = NIL;

			foreach(lc, allowed)
				if (ContainsText(these, lfirst(lc)))
					both = lappend(both, lfirst(lc));
			allowed = both;
		}
		else
			allowed = these;
		filtered = true;
	}
	if (!filtered)
		PG_RETURN_NULL();

	elems = palloc(sizeof(Datum) * Max(list_length(allowed), 1));
	foreach(lc, allowed)
		elems[n++] = PointerGetDatum(lfirst(lc));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}
