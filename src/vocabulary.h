/*
 * vocabulary.h — the fixed words of a key definition, each listed once.
 *
 * Every enum here has a name table of exactly its size (checked at compile
 * time), in canonical order: validation, canonical output, ak_permits, the
 * filter compiler and error hints all read the same table.
 */
#ifndef ACCESS_KEY_VOCABULARY_H
#define ACCESS_KEY_VOCABULARY_H

#include "postgres.h"

/* The actions of "permitted". */
typedef enum AkAction
{
	AK_ACTION_WRITES,
	AK_ACTION_QUERIES,
	AK_ACTION_SAVED_QUERIES,
	AK_ACTION_CACHED_QUERIES,
	AK_ACTION_DATASETS,
	AK_ACTION_SCHEMA,
	AK_ACTION_KEYS,
	AK_ACTION_COUNT
} AkAction;

/* The sections of "options": one per action except keys, in the same order. */
typedef enum AkSection
{
	AK_SECTION_WRITES,
	AK_SECTION_QUERIES,
	AK_SECTION_SAVED_QUERIES,
	AK_SECTION_CACHED_QUERIES,
	AK_SECTION_DATASETS,
	AK_SECTION_SCHEMA,
	AK_SECTION_COUNT
} AkSection;

/* Dataset operations (datasets.operations). */
typedef enum AkDatasetOperation
{
	AK_DATASET_READ,
	AK_DATASET_LIST,
	AK_DATASET_RETRIEVE,
	AK_DATASET_OPERATION_COUNT
} AkDatasetOperation;

/* Filter operators. */
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
	AK_OP_OR,
	AK_OP_COUNT
} AkFilterOp;

/*
 * The types a filter's optional property_type (or, from older Keen
 * Explorers, coercion_type) reads property_value as.
 */
typedef enum AkPropertyType
{
	AK_PTYPE_STRING,
	AK_PTYPE_NUMBER,
	AK_PTYPE_BOOLEAN,
	AK_PTYPE_DATETIME,
	AK_PTYPE_NULL,
	AK_PTYPE_LIST,
	AK_PTYPE_GEO,
	AK_PTYPE_COUNT
} AkPropertyType;

/* Where filters come from: ad-hoc queries, or a saved query being run. */
typedef enum AkContext
{
	AK_CONTEXT_QUERIES,
	AK_CONTEXT_SAVED_QUERIES,
	AK_CONTEXT_COUNT
} AkContext;

/* Key lifecycle changes recorded in the audit log (access_key.key_audit). */
typedef enum AkAuditOperation
{
	AK_AUDIT_CREATE,
	AK_AUDIT_UPDATE,
	AK_AUDIT_PATCH,
	AK_AUDIT_REVOKE,
	AK_AUDIT_UNREVOKE,
	AK_AUDIT_DELETE,
	AK_AUDIT_ROTATE,
	AK_AUDIT_DERIVE,
	AK_AUDIT_IMPORT,
	AK_AUDIT_SET_EXPIRY,
	AK_AUDIT_OPERATION_COUNT
} AkAuditOperation;
/* Units of relative timeframes ("this_7_days"). */
typedef enum AkTimeUnit
{
	AK_UNIT_MINUTES,
	AK_UNIT_HOURS,
	AK_UNIT_DAYS,
	AK_UNIT_WEEKS,
	AK_UNIT_MONTHS,
	AK_UNIT_YEARS,
	AK_UNIT_COUNT
} AkTimeUnit;

/* The two kinds of relative timeframe: "this_…" includes the current unit, "previous_…" does not. */
typedef enum AkRelativeKind
{
	AK_RELATIVE_THIS,
	AK_RELATIVE_PREVIOUS,
	AK_RELATIVE_COUNT
} AkRelativeKind;

extern const char *const ak_action_names[AK_ACTION_COUNT];
extern const char *const ak_section_names[AK_SECTION_COUNT];
extern const char *const ak_dataset_operation_names[AK_DATASET_OPERATION_COUNT];
extern const char *const ak_filter_op_names[AK_OP_COUNT];
extern const char *const ak_context_names[AK_CONTEXT_COUNT];
extern const char *const ak_property_type_names[AK_PTYPE_COUNT];
extern const char *const ak_audit_operation_names[AK_AUDIT_OPERATION_COUNT];
extern const char *const ak_time_unit_names[AK_UNIT_COUNT];
extern const char *const ak_relative_kind_names[AK_RELATIVE_COUNT];

/* Index of name[0..len) in names[0..count), or -1. */
extern int	AkLookupName(const char *const *names, int count, const char *name, int len);

/* "a, b, c": the names of a table, for hints. */
extern char *AkJoinNames(const char *const *names, int count);

/* The action a context's filters need (queries or saved_queries). */
extern AkAction AkContextAction(AkContext context);

/* Parses a context name; raises 22023 naming the valid ones. */
extern AkContext AkParseContext(const char *name, int len);

#endif							/* ACCESS_KEY_VOCABULARY_H */
