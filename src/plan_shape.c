/*
 * plan_shape.c — cached plans suit the key that runs them (see plan_shape.h).
 *
 * Every plan the support functions shape records a dependency on the
 * support function (a PlanInvalItem on its pg_proc row).  Calling the
 * backend's pg_proc invalidation callbacks with that row's hash marks exactly
 * those cached plans invalid, in this backend only, as an ALTER FUNCTION of
 * the support function would in every backend; the plan cache then re-plans
 * each before its next execution.
 *
 * planned_shape is the shape of the filters every valid shaped plan was made
 * for (NULL: none is valid).  It changes at three moments:
 *   - a plan is made: the planning key's shape becomes it, after invalidating
 *     plans of another shape;
 *   - a key or context is assigned: the new key's shape is looked up in the
 *     key cache (no catalog access is possible in an assign hook); when it
 *     differs or is unknown, shaped plans are invalidated — except that
 *     ak_use_key, which resolves the key at once, decides once it knows
 *     the shape, so a key new to this backend re-plans nothing when its
 *     shape is the same;
 *   - the key tables change (relcache callback): a key's definition, and so
 *     its shape, may have changed.
 * The plan cache checks validity before a plan runs (GetCachedPlan), after
 * the assignment that presents the key, so no shaped plan runs under a key
 * of another shape — except in two cases that are not invalidations: a key
 * definition committed while a statement runs, and a SQL function that
 * changes keys between statements its body planned together.  For those the
 * values the plan compares with are checked against the executing key when
 * the plan runs (index_values.c), and the GIN prefilter is a superset for
 * any key: correctness never rests on this module.
 */
#include "postgres.h"

#include "key_cache.h"
#include "plan_shape.h"
#include "token.h"

#include "access/parallel.h"
#include "optimizer/planmain.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

static char *planned_shape = NULL;

/* ak_use_key is assigning the setting and will resolve the key next. */
static bool resolution_follows = false;

/* The support function plans depend on, and its pg_proc row's hash. */
static Oid	dependency_oid = InvalidOid;
static uint32 dependency_hash = 0;

static void
InvalidateShapedPlans(void)
{
	if (OidIsValid(dependency_oid))
		CallSyscacheCallbacks(PROCOID, dependency_hash);
	if (planned_shape)
		pfree(planned_shape);
	planned_shape = NULL;
}

/* The key tables changed: any key's filters may have. */
static void
KeyTablesChanged(Datum arg, Oid relid)
{
	if (planned_shape && (!OidIsValid(relid) || AkIsKeyTable(relid)))
		InvalidateShapedPlans();
}

void
AkPlanShapeInit(void)
{
	CacheRegisterRelcacheCallback(KeyTablesChanged, (Datum) 0);
}

void
AkPlanShapePlanning(PlannerInfo *root, Oid support_oid, const char *shape)
{
	ListCell   *lc;

	if (root == NULL || root->glob == NULL)
		return;
	if (support_oid != dependency_oid)
	{
		dependency_hash = GetSysCacheHashValue1(PROCOID, ObjectIdGetDatum(support_oid));
		dependency_oid = support_oid;
	}
	foreach(lc, root->glob->invalItems)
	{
		PlanInvalItem *item = lfirst(lc);

		if (item->cacheId == PROCOID && item->hashValue == dependency_hash)
			break;
	}
	if (lc == NULL)
		record_plan_function_dependency(root, support_oid);

	if (planned_shape && strcmp(planned_shape, shape) == 0)
		return;
	if (planned_shape)
		InvalidateShapedPlans();
	planned_shape = MemoryContextStrdup(TopMemoryContext, shape);
}

/*
 * The shape of the key of this token hash in the current context, from the
 * key cache; NULL when the cache does not know it yet.
 */
static const char *
CachedShape(const uint8 *token_hash, int context)
{
	const AkCachedKey *entry = token_hash ? AkKeyCacheProbe(token_hash) : NULL;

	if (entry == NULL || !entry->found || !entry->view_ready[context])
		return NULL;
	return entry->views[context].shape;
}

void
AkPlanShapeSettingAssigned(bool presents_key, const uint8 *token_hash, int context)
{
	const char *shape;

	/*
	 * No shaped plan is valid (always so in parallel workers), or no key:
	 * nothing can mismatch.  ak_use_key decides once it has resolved the key.
	 */
	if (planned_shape == NULL || !presents_key || IsParallelWorker() || resolution_follows)
		return;
	shape = CachedShape(token_hash, context);
	if (shape == NULL || strcmp(shape, planned_shape) != 0)
		InvalidateShapedPlans();
}

void
AkPlanShapeResolutionFollows(bool on)
{
	resolution_follows = on;
}

void
AkPlanShapeKeyResolved(const char *shape)
{
	if (planned_shape && strcmp(shape, planned_shape) != 0)
		InvalidateShapedPlans();
}
