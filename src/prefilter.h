/*
 * prefilter.h — index conditions derived from compiled filters.
 */
#ifndef ACCESS_KEY_PREFILTER_H
#define ACCESS_KEY_PREFILTER_H

#include "postgres.h"

#include "filter.h"

/*
 * A jsonpath predicate that every row passing the filters satisfies (a
 * superset, for GIN indexes), or NULL when the filters give no usable one.
 */
extern char *AkFiltersPrefilter(const AkFilterList *list);

#endif							/* ACCESS_KEY_PREFILTER_H */
