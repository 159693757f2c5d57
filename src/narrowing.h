/*
 * narrowing.h — the rules by which a child key never exceeds its parent.
 *
 * AkNarrowDefinition combines a parent's (effective) definition with a
 * child's own into the child's effective definition, an ordinary validated
 * access_key value, so every check (permits, filters, prefilters, autofill,
 * saved queries, datasets, schema, collections, timeframes) works on it
 * unchanged.  It never widens:
 *
 *   is_active      both
 *   permitted      intersection
 *   filters        the parent's, then the child's (ANDed), in every context
 *   autofill       the child's deep-merged under the parent's (the parent wins)
 *   allowed        intersection, where an absent list means "all"
 *                  (datasets: names in both; index_by values per property
 *                  intersected, a property restricted by one side keeps that
 *                  side's values)
 *   blocked        union
 *   operations     intersection (absent: all)
 *   collections    intersection (absent: all)
 *   timeframe      all of both apply (an array of the timeframes)
 *
 * AkRequireWithin is what ak_derive_key refuses: a request for anything the
 * parent does not grant (rather than silently narrowing it).
 */
#ifndef ACCESS_KEY_NARROWING_H
#define ACCESS_KEY_NARROWING_H

#include "postgres.h"

#include "definition.h"

/* The child's effective definition under its parent's effective one; the child's name. */
extern AccessKey AkNarrowDefinition(AccessKey parent, AccessKey child);

/* A definition named like ak that is inactive and permits nothing (a key whose chain is broken). */
extern AccessKey AkInactiveDefinition(AccessKey ak);

/*
 * Raises 42501, naming the first member that asks for it, when requested asks
 * for a permission, collection, saved query, cached query, dataset, dataset
 * operation or index value that parent does not grant.
 */
extern void AkRequireWithin(AccessKey parent, AccessKey requested);

#endif							/* ACCESS_KEY_NARROWING_H */
