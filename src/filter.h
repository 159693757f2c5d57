/*
 * filter.h — compiled filters (SPEC §4).
 *
 * A key's filter list is compiled once — operators resolved, paths split,
 * regexes compiled, timestamps parsed — and then evaluated against every row
 * without re-reading the definition.
 */
#ifndef ACCESS_KEY_FILTER_H
#define ACCESS_KEY_FILTER_H

#include "postgres.h"

#include "definition.h"

#include "regex/regex.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

/* Where filters come from: ad-hoc queries, or a saved query being run. */
typedef enum AkContext
{
	AK_CONTEXT_QUERIES,
	AK_CONTEXT_SAVED_QUERIES
} AkContext;

#define AK_CONTEXT_COUNT 2

typedef enum AkFilterOp
{
	AK_OP_EQ,
	AK_OP_NE,
	AK_OP_LT,
	AK_OP_LTE,
	AK_OP_GT,
	AK_OP_GTE,
	AK_OP_EXISTS,
	AK_OP_IN,
	AK_OP_CONTAINS,
	AK_OP_NOT_CONTAINS,
	AK_OP_REGEX,
	AK_OP_WITHIN,
	AK_OP_OR
} AkFilterOp;

typedef struct AkFilter
{
	AkFilterOp	op;
	char	   *property_name;	/* as written, for ak_filter_values */
	int			nsegments;		/* property path, split on '.' */
	char	  **segments;
	int		   *segment_lengths;
	JsonbValue	value;			/* property_value (strings point into the definition) */
	bool		value_is_timestamp; /* ordered ops on strings */
	TimestampTz value_timestamp;
	regex_t    *regex;			/* regex */
	double		longitude;		/* within */
	double		latitude;
	double		max_miles;
	int			nvalues;		/* in: the candidate values */
	JsonbValue *values;
	int			noperands;		/* or */
	struct AkFilter *operands;
} AkFilter;

typedef struct AkFilterList
{
	int			nfilters;
	AkFilter   *filters;
} AkFilterList;

extern const char *const ak_context_names[AK_CONTEXT_COUNT];

/* The action whose permission a context needs. */
extern AkAction AkContextAction(AkContext context);

/* Parses a context name; raises 22023 for anything else. */
extern AkContext AkParseContext(const char *name, int len);

/*
 * Compiles options.<context>.filters of ak into the current memory context;
 * the definition must outlive the result (values point into it).
 */
extern AkFilterList *AkCompileFilters(AccessKey ak, AkContext context);

extern bool AkFiltersMatch(const AkFilterList *list, Jsonb *properties);

/*
 * A jsonpath predicate that every row passing the filters satisfies (a
 * superset, for GIN indexes), or NULL when the filters give no usable one.
 */
extern char *AkFiltersPrefilter(const AkFilterList *list);

/* A JSON array of exactly two numbers, read as [longitude, latitude]. */
extern bool AkLonLatPair(JsonbContainer *pair, double *lon, double *lat);

/* ISO-8601 timestamps (SPEC §4 ordering); false when s is not one. */
extern bool AkParseIsoTimestamp(const char *s, int len, TimestampTz *result);

#endif							/* ACCESS_KEY_FILTER_H */
