/*
 * index_terms.h — B-tree (and hash) conditions for a key's filters, added
 * to the SELECT policy's call at planning (SupportRequestSimplify).
 */
#ifndef ACCESS_KEY_INDEX_TERMS_H
#define ACCESS_KEY_INDEX_TERMS_H

#include "postgres.h"

#include "key_cache.h"

#include "nodes/pathnodes.h"
#include "nodes/primnodes.h"

/*
 * For ak_filter_row(collection, properties) in a query: when the filters of
 * view pin or bound a path that an index of the table covers, the call
 * rewritten as
 *     ak_filter_row(collection, properties, '<shape of view>', '{positions}')
 *     AND <indexed expression> <op> <value function>(collection, path) ...
 * (positions: the filters the added conditions express, left out of the
 * estimate).  NULL when there is nothing to add.
 */
extern Node *AkIndexedFilterConditions(PlannerInfo *root, FuncExpr *call, const AkContextView *view);

/* The OIDs of the extension's functions plans call (looked up once per change of pg_proc). */
typedef enum AkPlanFunction
{
	AK_FN_FILTER_ROW_PLANNED,	/* ak_filter_row(regclass, jsonb, text, integer[]) */
	AK_FN_INDEX_PREFILTER_TERMS,	/* ak_index_prefilter(regclass, integer[]) */
	AK_FN_INDEX_PREFILTER,		/* ak_index_prefilter() */
	AK_FN_FILTER_TEXT,
	AK_FN_FILTER_TEXTS,
	AK_FN_FILTER_JSONB,
	AK_FN_FILTER_JSONBS,
	AK_FN_FILTER_TEXT_LOWER,
	AK_FN_FILTER_TEXT_UPPER,
	AK_FN_COUNT
} AkPlanFunction;

/* The function's OID, or InvalidOid when the installed version lacks it. */
extern Oid	AkPlanFunctionOid(AkPlanFunction fn);

#endif							/* ACCESS_KEY_INDEX_TERMS_H */
