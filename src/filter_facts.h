/*
 * filter_facts.h — what a key's filters imply about one property path, for
 * the planner and the values its index conditions compare with: the values
 * the path may hold (eq, in, and an or of those on one path), the bounds it
 * lies within (lt, lte, gt, gte), and the shape of a filter list.
 *
 * Every fact is a necessary condition of the filters: a row that passes them
 * satisfies it.  An index condition built from facts therefore selects a
 * superset of the rows the filters accept, and the filters still check every
 * row the index returns.
 */
#ifndef ACCESS_KEY_FILTER_FACTS_H
#define ACCESS_KEY_FILTER_FACTS_H

#include "postgres.h"

#include "filter.h"

#include "nodes/pg_list.h"

/*
 * The shape of a filter list: operators, paths and kinds of values, never
 * the values.  Two lists with equal shapes get plans of the same form, so
 * a cached plan made for one suits the other (plan_shape.c).
 */
extern char *AkFiltersShape(const AkFilterList *list, bool permitted);

/*
 * Whether filter f pins the value at path to a list of JSON values: an eq
 * or in on path, or an or whose every operand pins path.  *values (when not
 * NULL) receives them (const JsonbValue *).
 */
extern bool AkFilterPinsPath(const AkFilter *f, const char *path, List **values);

/*
 * Whether filter f pins a path to strings only, none of which is the ->>
 * text of another kind of JSON value ("acme", not "1" or "true"): then an
 * index condition on the path, text or jsonb, selects exactly the rows f
 * accepts.  Depends only on f's shape.
 */
extern bool AkFilterPinsExactly(const AkFilter *f);

/*
 * The values the list allows at path: the intersection over its filters
 * that pin it (JSON equality); false when no filter pins the path.
 */
extern bool AkFiltersPathValues(const AkFilterList *list, const char *path, List **values);

/* Whether f is a range filter (lt, lte, gt, gte) on a string bounding path from that side. */
extern bool AkFilterBoundsPath(const AkFilter *f, const char *path, bool lower);

/*
 * The tightest text bound the list's range filters on string values set on
 * path, compared bytewise: lower is inclusive (value >= bound), upper
 * exclusive (value < bound).  Filter values that are ISO-8601 timestamps
 * compare by time with events that carry any UTC offset, so their bounds
 * widen to whole days around it.  NULL when no filter bounds the path so.
 */
extern text *AkFiltersTextBound(const AkFilterList *list, const char *path, bool lower);

#endif							/* ACCESS_KEY_FILTER_FACTS_H */
