/*
 * definition.h — the access_key type: a validated, canonical key definition.
 *
 * A value is a versioned header followed by a jsonb container holding the
 * definition with every default filled in.  Storing jsonb lets the permission
 * checks look members up by binary search instead of re-parsing text, and the
 * version byte lets the format change later without guessing (hstore's lesson).
 */
#ifndef ACCESS_KEY_DEFINITION_H
#define ACCESS_KEY_DEFINITION_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/jsonb.h"

#define AK_FORMAT_VERSION 1

/* Upper bound on a definition's text, so hostile input stays cheap to reject. */
#define AK_MAX_DEFINITION_BYTES (1024 * 1024)

/* Longest name, property path segment or saved-query name, in characters. */
#define AK_MAX_NAME_CHARS 256

typedef struct AccessKeyData
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	uint8		version;		/* AK_FORMAT_VERSION */
	uint8		reserved[3];	/* zero; room for flags */
	char		container[FLEXIBLE_ARRAY_MEMBER];	/* a JsonbContainer */
} AccessKeyData;

typedef AccessKeyData *AccessKey;

#define AK_HEADER_SIZE offsetof(AccessKeyData, container)
#define AkContainer(ak) ((JsonbContainer *) (ak)->container)

extern AccessKey DatumGetAccessKey(Datum datum);

#define PG_GETARG_ACCESS_KEY(n) DatumGetAccessKey(PG_GETARG_DATUM(n))
#define PG_RETURN_ACCESS_KEY(ak) PG_RETURN_POINTER(ak)

/* The actions of "permitted", in canonical order. */
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

extern const char *const ak_action_names[AK_ACTION_COUNT];

/* Dataset operations, in canonical order. */
#define AK_DATASET_OPERATION_COUNT 3
extern const char *const ak_dataset_operation_names[AK_DATASET_OPERATION_COUNT];

/* Index of name in names[0..count), or -1. */
extern int	AkLookupName(const char *const *names, int count, const char *name, int len);

/* Validation (validate.c): the one way a definition comes into being. */
extern AccessKey AkDefinitionFromJsonb(Jsonb *jb);

/* Raises the definition error: 22023 with a detail naming the JSON path. */
#define AkInvalidDefinition(hint, ...) \
	ereport(ERROR, \
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE), \
			 errmsg("invalid access key definition"), \
			 errdetail(__VA_ARGS__), \
			 (hint) ? errhint("%s", (const char *) (hint)) : 0))

/* Helpers shared by the validators (validate.c). */
extern const char *AkJsonTypeName(const JsonbValue *v);
extern bool AkIsObject(const JsonbValue *v);
extern bool AkIsArray(const JsonbValue *v);
extern JsonbValue *AkGetMember(JsonbContainer *object, const char *key);
extern void AkCheckMembers(JsonbContainer *object, const char *path,
						   const char *const *allowed, int nallowed);
extern char *AkChildPath(const char *path, const char *member);
extern char *AkElementPath(const char *path, int index);
extern void AkValidatePropertyPath(const JsonbValue *v, const char *path);
extern void AkPushKey(JsonbParseState **state, const char *key);
extern double AkJsonbNumber(const JsonbValue *v);	/* a jbvNumeric, as double */

/* Filters (filter.c): validates a filter list and pushes its canonical form. */
extern void AkValidateFilterList(JsonbValue *filters, const char *path,
								 JsonbParseState **state);

/* Reading a stored definition. */
extern JsonbValue *AkDefinitionMember(AccessKey ak, const char *key);
extern JsonbValue *AkSectionMember(AccessKey ak, const char *section, const char *key);
extern bool AkIsActive(AccessKey ak);
extern bool AkPermitsAction(AccessKey ak, AkAction action);
extern bool AkArrayContainsString(JsonbValue *array, const char *str, int len);
extern char *AkDefinitionToCString(AccessKey ak);

/*
 * SPEC §7 for a definition: the action permitted (and the key active), the
 * named resource not blocked and allowed, the dataset operation (index into
 * ak_dataset_operation_names, or -1) listed.  resource may be NULL.
 */
extern bool AkKeyPermits(AccessKey ak, AkAction action, const char *resource, int resource_len,
						 int operation);

#endif							/* ACCESS_KEY_DEFINITION_H */
