/*
 * filter.h — compiled filters.
 *
 * A key's filter list is compiled once per key and context — operators
 * resolved, paths split, regexes compiled, timestamps parsed — and then
 * evaluated against every row without re-reading the definition.
 */
#ifndef ACCESS_KEY_FILTER_H
#define ACCESS_KEY_FILTER_H

#include "postgres.h"

#include "definition.h"
#include "vocabulary.h"

#include "datatype/timestamp.h"
#include "regex/regex.h"
#include "utils/jsonb.h"

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

/*
 * Compiles options.<context>.filters of ak into the current memory context;
 * the definition must outlive the result (values point into it).
 */
extern AkFilterList *AkCompileFilters(AccessKey ak, AkContext context);

/* Whether properties pass every filter of the list. */
extern bool AkFiltersMatch(const AkFilterList *list, Jsonb *properties);

/* Whether properties pass one filter of a list (for estimates, filter_facts.c). */
extern bool AkFilterMatches(const AkFilter *f, Jsonb *properties);

/* The value at f's path in properties (buf holds it), or NULL when absent. */
extern JsonbValue *AkFilterValueAt(const AkFilter *f, Jsonb *properties, JsonbValue *buf);

/* JSON equality as eq and in compare: same type, numbers numerically, containers structurally. */
extern bool AkJsonValuesEqual(const JsonbValue *a, const JsonbValue *b);

/*
 * Compiles a filter's regular expression (advanced syntax, C collation) into
 * the current memory context.  With free_with_context the engine's memory is
 * released when that context is reset; otherwise the caller calls
 * pg_regfree.  NULL, with the engine's message, when the pattern is invalid.
 */
extern regex_t *AkCompileRegex(const char *pattern, int len, bool free_with_context,
							   char *message, size_t message_size);

#endif							/* ACCESS_KEY_FILTER_H */
