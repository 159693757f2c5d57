/*
 * selectivity.h — how many rows a key's filters let through, and what they
 * cost per row, for the planner (planner_support.c).
 */
#ifndef ACCESS_KEY_SELECTIVITY_H
#define ACCESS_KEY_SELECTIVITY_H

#include "postgres.h"

#include "filter.h"

#include "nodes/pathnodes.h"
#include "nodes/primnodes.h"

/* The statistics sample of a properties column (opaque). */
typedef struct AkPropertySample AkPropertySample;

/*
 * The sample ANALYZE keeps of the column a properties Var of the query
 * refers to: most common values with frequencies, and the histogram.  NULL
 * when the expression is not a plain column of a table or has no
 * statistics.  Kept per backend until the statistics change.
 */
extern const AkPropertySample *AkFetchPropertySample(PlannerInfo *root, Node *properties);

/*
 * The fraction of rows passing one filter, judged blind: from how many
 * distinct values a path it pins holds, else by the operator's default
 * (sample: NULL for defaults).  Never from which sampled rows it accepts.
 */
extern Selectivity AkEstimateFilter(PlannerInfo *root, const AkPropertySample *sample, Node *properties,
									const AkFilter *f);

struct AkKeyScope;

/*
 * The fraction of rows passing every filter of the list, with the share of
 * those whose 1-based positions are in skip divided out (the plan checks
 * them through index conditions, which the planner estimates itself).  From
 * the sampled rows the key itself would see (selectivity.c); timeframe, if
 * not NULL, is the scope whose keen.timestamp timeframe a row must also be
 * in, as ak_filter_row checks.
 */
extern Selectivity AkEstimateFilters(PlannerInfo *root, const AkPropertySample *sample, Node *properties,
									 const AkFilterList *list, const Bitmapset *skip,
									 struct AkKeyScope *timeframe);

/*
 * The same fraction judged blind, filter by filter (AkEstimateFilter): for
 * keys the sampled rows cannot be checked for, because they may not read
 * the collection or a timeframe limits them to times the sample lacks.
 */
extern Selectivity AkEstimateFiltersBlind(PlannerInfo *root, const AkPropertySample *sample, Node *properties,
										  const AkFilterList *list, const Bitmapset *skip);

/* What evaluating the filters on one row costs, in cpu_operator_cost units. */
extern double AkFiltersCostUnits(const AkFilterList *list);

#endif							/* ACCESS_KEY_SELECTIVITY_H */
