/*
 * planner_support.c — the planner support function of
 * ak_apply_filters(properties): index conditions for protected collections.
 *
 * Plans outlive keys: an index condition added here never contains a value
 * of the key that was present at planning time.  It calls a STABLE function
 * (ak_index_prefilter()) that is evaluated when the scan starts, so a cached
 * plan executed under another key uses that key's condition, and the exact
 * filter is still applied to every row the index returns.
 */
#include "postgres.h"

#include "compat.h"
#include "planner_support.h"

#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/supportnodes.h"
#include "parser/parse_func.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

PG_FUNCTION_INFO_V1(ak_apply_filters_support);

/* access_key.ak_index_prefilter() or ak_index_prefilter(regclass). */
static Oid
PrefilterFunctionOid(bool with_collection)
{
	List	   *name = list_make2(makeString("access_key"), makeString("ak_index_prefilter"));
	Oid			argtypes[1] = {REGCLASSOID};

	return LookupFuncName(name, with_collection ? 1 : 0, argtypes, false);
}

/*
 * Planner support for ak_apply_filters(properties) and
 * ak_filter_row(collection, properties): when properties is indexed by a GIN
 * jsonb operator class, offer the lossy index condition
 * properties @@ ak_index_prefilter([collection]).  The exact filter is still
 * applied to every row the index returns.
 */
Datum
ak_apply_filters_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);
	SupportRequestIndexCondition *req;
	FuncExpr   *call;
	Oid			opno;
	Expr	   *prefilter;
	int			properties_arg;

	if (!IsA(rawreq, SupportRequestIndexCondition))
		PG_RETURN_POINTER(NULL);
	req = (SupportRequestIndexCondition *) rawreq;
	if (!IsA(req->node, FuncExpr))
		PG_RETURN_POINTER(NULL);
	call = (FuncExpr *) req->node;
	/*
	 * (properties) or (collection, properties).  Only a superuser can attach
	 * a support function to another function, but check the argument types
	 * all the same before building an expression on them.
	 */
	properties_arg = list_length(call->args) - 1;
	if (properties_arg < 0 || properties_arg > 1 || req->indexarg != properties_arg ||
		exprType(list_nth(call->args, properties_arg)) != JSONBOID ||
		(properties_arg == 1 && exprType(linitial(call->args)) != REGCLASSOID))
		PG_RETURN_POINTER(NULL);

	opno = get_opfamily_member(req->opfamily, JSONBOID, JSONPATHOID,
							   JsonbJsonpathPredicateStrategyNumber);
	if (!OidIsValid(opno))
		PG_RETURN_POINTER(NULL);

	/* The collection argument is a constant in the policy; the index condition reuses it. */
	prefilter = (Expr *) makeFuncExpr(PrefilterFunctionOid(properties_arg == 1), JSONPATHOID,
									  properties_arg == 1 ? list_make1(copyObject(linitial(call->args))) : NIL,
									  InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	req->lossy = true;
	PG_RETURN_POINTER(list_make1(make_opclause(opno, BOOLOID, false,
											   (Expr *) list_nth(call->args, properties_arg), prefilter,
											   InvalidOid, InvalidOid)));
}
