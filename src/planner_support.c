/*
 * planner_support.c — the planner support function of the SELECT policy:
 * ak_filter_row(collection, properties), its planned form
 * ak_filter_row(collection, properties, plan_shape, indexed), and
 * ak_apply_filters(properties).
 *
 * The planner asks it four things, and it answers from the filters of the
 * key presented while planning (docs/reference.md, "Plans"):
 *   - Simplify: B-tree conditions on indexed paths the key pins or bounds,
 *     added as ordinary quals (index_terms.c);
 *   - IndexCondition: the GIN prefilter, properties @@ a jsonpath of the
 *     key's most selective indexable filters;
 *   - Selectivity: the share of rows the filters pass (selectivity.c);
 *   - Cost: what evaluating them costs per row.
 *
 * Plans outlive keys.  No value of the planning key enters a plan: every
 * condition compares with a STABLE function evaluated when the plan runs,
 * for the key running it.  What the plan depends on is the shape of the
 * planning key's filters, and plan_shape.c re-plans cached plans before a
 * key of another shape runs them.
 */
#include "postgres.h"

#include "compat.h"
#include "index_terms.h"
#include "key_scope.h"
#include "plan_shape.h"
#include "planner_support.h"
#include "prefilter.h"
#include "selectivity.h"
#include "session.h"

#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/supportnodes.h"
#include "optimizer/optimizer.h"
#include "utils/array.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

PG_FUNCTION_INFO_V1(ak_apply_filters_support);

/*
 * What an ANDed GIN term spends on each posting item it matches, relative
 * to a heap row the bitmap heap scan fetches and checks: measured on
 * 1,000,000 events, 5 to 14 ns an item (GIN skips through the larger
 * posting lists) against about 1.3 us a row.  A term is worth adding while
 * the items it reads cost less than the heap rows it saves.
 */
#define GIN_ITEM_COST 0.01

/*
 * Beyond this share of the table a bitmap heap scan costs more than a
 * sequential scan (1.3 us a row against 0.2 us a row read in order), so no
 * GIN condition is offered: the planner's estimate of one under row-level
 * security is a fixed 1%, which would make it look cheap.
 */
#define GIN_MAX_SELECTIVITY 0.10

/* The calls the support function serves, told apart by their arguments. */
typedef struct PolicyCall
{
	Node	   *collection;		/* NULL for ak_apply_filters(properties) */
	Node	   *properties;
	Node	   *positions;		/* the planned form's indexed positions, or NULL */
} PolicyCall;

static bool
ReadPolicyCall(List *args, PolicyCall *call)
{
	memset(call, 0, sizeof(PolicyCall));
	switch (list_length(args))
	{
		case 1:
			call->properties = linitial(args);
			break;
		case 2:
		case 4:
			call->collection = linitial(args);
			call->properties = lsecond(args);
			if (exprType(call->collection) != REGCLASSOID)
				return false;
			if (list_length(args) == 4)
				call->positions = lfourth(args);
			break;
		default:
			return false;
	}
	return exprType(call->properties) == JSONBOID;
}

/*
 * The filters of the key presented while planning (NULL: none), after
 * telling plan_shape.c which shape this plan is made for.
 */
static const AkContextView *
PlanningView(PlannerInfo *root, FunctionCallInfo fcinfo)
{
	const AkContextView *view = AkSessionContextView();

	AkPlanShapePlanning(root, fcinfo->flinfo->fn_oid, view ? view->shape : "-");
	return view;
}

/* The positions a planned call lists (its filters checked by index conditions). */
static Bitmapset *
ListedPositions(Node *positions)
{
	Bitmapset  *set = NULL;
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (positions == NULL || !IsA(positions, Const) || ((Const *) positions)->constisnull ||
		((Const *) positions)->consttype != INT4ARRAYOID)
		return NULL;
	deconstruct_array(DatumGetArrayTypeP(((Const *) positions)->constvalue), INT4OID, sizeof(int32), true,
					  TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (!nulls[i] && DatumGetInt32(elems[i]) > 0)
			set = bms_add_member(set, DatumGetInt32(elems[i]));
	return set;
}

/* Simplify: the policy call with B-tree conditions on the paths the key pins or bounds. */
static Node *
Simplify(SupportRequestSimplify *req, FunctionCallInfo fcinfo)
{
	const AkContextView *view;
	PolicyCall	call;

	/* Only ak_filter_row(collection, properties), only while planning. */
	if (req->root == NULL || !ReadPolicyCall(req->fcall->args, &call) || call.collection == NULL ||
		call.positions != NULL)
		return NULL;
	view = PlanningView(req->root, fcinfo);
	if (view == NULL || !view->permitted)
		return NULL;
	return AkIndexedFilterConditions(req->root, req->fcall, view);
}

/*
 * The share of rows the key's filters pass, as ak_filter_row would decide
 * for collection (NULL for ak_apply_filters(properties), which checks only
 * the filters).  The sampled rows stand for the key's own share only when
 * it could see them: a key that may not read the collection sees none, and
 * a timeframe is checked on a sampled row only when it reads keen.timestamp
 * (a time column is not in the sample).  Otherwise the filters are judged
 * blind, so that no estimate tells such a key about rows outside its reach.
 */
static Selectivity
KeyShare(PlannerInfo *root, const AkContextView *view, Node *collection, const AkPropertySample *sample,
		 Node *properties, const Bitmapset *skip)
{
	AkKeyScope *scope = view->scope;
	AkKeyScope *timeframe = NULL;

	if (collection != NULL && scope != NULL)
	{
		Oid			relid = InvalidOid;

		if (IsA(collection, Const) && !((Const *) collection)->constisnull)
			relid = DatumGetObjectId(((Const *) collection)->constvalue);
		if (!OidIsValid(relid) ? (scope->nread >= 0 || scope->ntimeframes > 0) :
			(!AkScopeMayRead(scope, relid) ||
			 (scope->ntimeframes > 0 && !AkScopeTimeFromProperties(scope, relid))))
			return AkEstimateFiltersBlind(root, sample, properties, view->filters, skip);
		if (scope->ntimeframes > 0)
			timeframe = scope;
	}
	return AkEstimateFilters(root, sample, properties, view->filters, skip, timeframe);
}

static SupportRequestSelectivity *
EstimateSelectivity(SupportRequestSelectivity *req, FunctionCallInfo fcinfo)
{
	const AkContextView *view;
	PolicyCall	call;

	if (!ReadPolicyCall(req->args, &call))
		return NULL;
	view = PlanningView(req->root, fcinfo);
	if (view == NULL || !view->permitted)
		req->selectivity = 0.0; /* no row: nothing, or 42501 */
	else if (view->filters->nfilters == 0)
		req->selectivity = 1.0;
	else
		req->selectivity = KeyShare(req->root, view, call.collection,
									AkFetchPropertySample(req->root, call.properties), call.properties,
									ListedPositions(call.positions));
	return req;
}

/*
 * The planned form of the policy call leaves the filters the plan's
 * conditions check exactly to them: it is evaluated after them (as dearer),
 * so a sequential scan tests the indexed expression first, as the owner's
 * query does, and the call sees only the rows that pass it.
 */
#define PLANNED_CALL_EXTRA_UNITS 10

static SupportRequestCost *
EstimateCost(SupportRequestCost *req, FunctionCallInfo fcinfo)
{
	const AkContextView *view = req->root ? PlanningView(req->root, fcinfo) : AkSessionContextView();
	double		units = (view && view->permitted) ? AkFiltersCostUnits(view->filters) : 1.0;

	if (req->node && IsA(req->node, FuncExpr) && list_length(((FuncExpr *) req->node)->args) == 4)
		units += PLANNED_CALL_EXTRA_UNITS;
	req->startup = 0;
	req->per_tuple = cpu_operator_cost * units;
	return req;
}

typedef struct RankedTerm
{
	int			position;		/* 1-based */
	Selectivity selectivity;
} RankedTerm;

static int
CompareRankedTerms(const void *a, const void *b)
{
	const RankedTerm *x = a;
	const RankedTerm *y = b;

	if (x->selectivity != y->selectivity)
		return x->selectivity < y->selectivity ? -1 : 1;
	return x->position - y->position;
}

/*
 * The filters the GIN prefilter keeps, among those no B-tree condition of
 * the plan already checks (a second index for one filter only adds its
 * items): the most selective indexable one, if selective enough, then each
 * next one while the posting items it reads (one per row it matches) cost
 * less than the heap rows it saves.  Every term would be a superset; more
 * terms mean fewer heap rows but more posting items, and a term most rows
 * match is all cost.
 */
static Datum *
ChooseGinTerms(PlannerInfo *root, const AkContextView *view, Node *collection, Node *properties,
			   bool keys_indexed, const Bitmapset *btree_checked, int *nterms)
{
	const AkFilterList *filters = view->filters;
	RankedTerm *ranked = palloc(sizeof(RankedTerm) * Max(filters->nfilters, 1));
	const AkPropertySample *sample = AkFetchPropertySample(root, properties);
	int			n = 0;
	Datum	   *chosen;
	Selectivity passing;

	for (int i = 0; i < filters->nfilters; i++)
		if (AkFilterIndexable(&filters->filters[i], keys_indexed) && !bms_is_member(i + 1, btree_checked))
		{
			ranked[n].position = i + 1;
			ranked[n].selectivity = AkEstimateFilter(root, sample, properties, &filters->filters[i]);
			n++;
		}
	*nterms = 0;
	if (n == 0)
		return NULL;
	qsort(ranked, n, sizeof(RankedTerm), CompareRankedTerms);
	/*
	 * Whether the key reads few enough rows is judged from every filter at
	 * once, over the sampled rows it would see itself: a term's own share of
	 * every tenant's rows is not for its plan to show (selectivity.c).  Next
	 * to a B-tree condition, a term must be selective on its own (blind).
	 */
	if (KeyShare(root, view, collection, sample, properties, NULL) > GIN_MAX_SELECTIVITY ||
		(!bms_is_empty(btree_checked) && ranked[0].selectivity > GIN_MAX_SELECTIVITY))
		return NULL;
	chosen = palloc(sizeof(Datum) * n);
	chosen[(*nterms)++] = Int32GetDatum(ranked[0].position);
	passing = ranked[0].selectivity;
	for (int i = 1; i < n; i++)
	{
		Selectivity s = ranked[i].selectivity;

		if (s * GIN_ITEM_COST >= passing * (1.0 - s))
			break;
		chosen[(*nterms)++] = Int32GetDatum(ranked[i].position);
		passing *= s;
	}
	return chosen;
}

/* IndexCondition: properties @@ the GIN prefilter, for a GIN jsonb index on properties. */
static List *
IndexCondition(SupportRequestIndexCondition *req, FunctionCallInfo fcinfo)
{
	PolicyCall	call;
	int			properties_arg;
	Oid			opno;
	bool		keys_indexed;
	const AkContextView *view;
	Expr	   *prefilter;

	if (!IsA(req->node, FuncExpr) || !ReadPolicyCall(((FuncExpr *) req->node)->args, &call))
		return NIL;
	properties_arg = call.collection ? 1 : 0;
	if (req->indexarg != properties_arg)
		return NIL;
	opno = get_opfamily_member(req->opfamily, JSONBOID, JSONPATHOID, JsonbJsonpathPredicateStrategyNumber);
	if (!OidIsValid(opno))
		return NIL;
	/* jsonb_ops indexes keys (it has the ? operator); jsonb_path_ops only paths to values. */
	keys_indexed = OidIsValid(get_opfamily_member(req->opfamily, JSONBOID, TEXTOID, JsonbExistsStrategyNumber));

	/* No key, or one that may not read: no condition (the filter passes no row, or raises). */
	view = PlanningView(req->root, fcinfo);
	if (view == NULL || !view->permitted)
		return NIL;

	if (call.collection == NULL)
	{
		/* ak_apply_filters(properties): every term jsonb_path_ops can use. */
		if (view->prefilter == NULL || !OidIsValid(AkPlanFunctionOid(AK_FN_INDEX_PREFILTER)))
			return NIL;
		prefilter = (Expr *) makeFuncExpr(AkPlanFunctionOid(AK_FN_INDEX_PREFILTER), JSONPATHOID, NIL,
										  InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	}
	else
	{
		int			nterms;
		Datum	   *terms;

		if (!OidIsValid(AkPlanFunctionOid(AK_FN_INDEX_PREFILTER_TERMS)))
			return NIL;
		terms = ChooseGinTerms(req->root, view, call.collection, call.properties, keys_indexed,
							   ListedPositions(call.positions), &nterms);
		/* No indexable filter: a full index scan would be no better than the table. */
		if (nterms == 0)
			return NIL;
		prefilter = (Expr *) makeFuncExpr(AkPlanFunctionOid(AK_FN_INDEX_PREFILTER_TERMS), JSONPATHOID,
										  list_make2(copyObject(call.collection),
													 makeConst(INT4ARRAYOID, -1, InvalidOid, -1,
															   PointerGetDatum(construct_array(terms, nterms, INT4OID,
																							   sizeof(int32), true,
																							   TYPALIGN_INT)),
															   false, false)),
										  InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	}
	req->lossy = true;
	return list_make1(make_opclause(opno, BOOLOID, false, (Expr *) copyObject(call.properties), prefilter,
									InvalidOid, InvalidOid));
}

/*
 * ak_apply_filters_support(internal): planner support for the SELECT
 * policy's functions (see the file header).
 */
Datum
ak_apply_filters_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);

	if (IsA(rawreq, SupportRequestSimplify))
		PG_RETURN_POINTER(Simplify((SupportRequestSimplify *) rawreq, fcinfo));
	if (IsA(rawreq, SupportRequestSelectivity))
		PG_RETURN_POINTER(EstimateSelectivity((SupportRequestSelectivity *) rawreq, fcinfo));
	if (IsA(rawreq, SupportRequestCost))
		PG_RETURN_POINTER(EstimateCost((SupportRequestCost *) rawreq, fcinfo));
	if (IsA(rawreq, SupportRequestIndexCondition))
		PG_RETURN_POINTER(IndexCondition((SupportRequestIndexCondition *) rawreq, fcinfo));
	PG_RETURN_POINTER(NULL);
}
