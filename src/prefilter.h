/*
 * prefilter.h — GIN index conditions derived from compiled filters: jsonpath
 * predicates that every row passing the filters satisfies.
 */
#ifndef ACCESS_KEY_PREFILTER_H
#define ACCESS_KEY_PREFILTER_H

#include "postgres.h"

#include "filter.h"

/*
 * Whether filter f gives a GIN term: eq on a scalar, in on scalars, contains
 * of a non-string scalar (an array element), an or of such terms, and, when
 * the index holds keys (jsonb_ops, not jsonb_path_ops), exists: true.
 */
extern bool AkFilterIndexable(const AkFilter *f, bool keys_indexed);

/*
 * A jsonpath that every row passing the filters satisfies (a superset, for
 * GIN indexes) from all their terms that jsonb_path_ops can use, or NULL
 * when they give none.
 */
extern char *AkFiltersPrefilter(const AkFilterList *list);

/*
 * The same from the filters at the given 1-based positions only (any subset
 * of a list's filters is still a superset); NULL when none of them gives a
 * term.
 */
extern char *AkFiltersPrefilterAt(const AkFilterList *list, const int *positions, int npositions);

#endif							/* ACCESS_KEY_PREFILTER_H */
