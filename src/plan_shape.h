/*
 * plan_shape.h — cached plans suit the key that runs them.
 *
 * The planner support functions make a plan for the filters of the key
 * presented while planning.  No value of the key enters a plan, but the
 * shape of its filters does (AkFiltersShape): which B-tree conditions are
 * added, which GIN terms are kept, the estimates.  This module remembers the
 * shape the backend's shaped plans were made for and invalidates them before
 * a key of another shape can run them, so the plan cache re-plans.
 */
#ifndef ACCESS_KEY_PLAN_SHAPE_H
#define ACCESS_KEY_PLAN_SHAPE_H

#include "postgres.h"

#include "nodes/pathnodes.h"

/* Registers the invalidation callback; called from _PG_init. */
extern void AkPlanShapeInit(void);

/*
 * A plan is being shaped for the filters of this shape ("-" without a key):
 * records the plan's dependency on the support function support_oid, and
 * invalidates plans made for another shape.
 */
extern void AkPlanShapePlanning(PlannerInfo *root, Oid support_oid, const char *shape);

/*
 * access_key.key or access_key.context was just assigned: when the key now
 * presented (presents_key; token_hash NULL for a malformed token) may have
 * another shape than the shaped plans were made for, invalidates them.
 * Safe in a GUC assign hook: no catalog access, no error.
 */
extern void AkPlanShapeSettingAssigned(bool presents_key, const uint8 *token_hash, int context);

/*
 * ak_use_key resolves the key it presents at once: while it assigns the
 * setting (on), a key the cache does not know yet leaves the decision to
 * AkPlanShapeKeyResolved, instead of invalidating every shaped plan.
 */
extern void AkPlanShapeResolutionFollows(bool on);

/* The key just presented has this shape: invalidates shaped plans of another. */
extern void AkPlanShapeKeyResolved(const char *shape);

#endif							/* ACCESS_KEY_PLAN_SHAPE_H */
