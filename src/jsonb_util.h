/*
 * jsonb_util.h — small helpers over PostgreSQL's jsonb API, used by every
 * module that reads or builds jsonb.
 */
#ifndef ACCESS_KEY_JSONB_UTIL_H
#define ACCESS_KEY_JSONB_UTIL_H

#include "postgres.h"

#include "nodes/pg_list.h"
#include "datatype/timestamp.h"
#include "utils/jsonb.h"

/* "a string", "an object", ...: a value's JSON type for error details. */
extern const char *AkJsonTypeName(const JsonbValue *v);

extern bool AkIsObject(const JsonbValue *v);
extern bool AkIsArray(const JsonbValue *v);	/* a real array, not a scalar's wrapper */

/* The member of an object, or NULL. */
extern JsonbValue *AkGetMember(JsonbContainer *object, const char *key);

/* Whether an array (NULL: no array) contains the string. */
extern bool AkArrayContainsString(JsonbValue *array, const char *str, int len);

/* A jbvNumeric as a double (never overflows: infinities saturate). */
extern double AkJsonbNumber(const JsonbValue *v);

/* A JSON array of exactly two numbers, read as [longitude, latitude]. */
extern bool AkLonLatPair(JsonbContainer *pair, double *lon, double *lat);

/* Pushes an object key, or a string value. */
extern void AkPushKey(JsonbParseState **state, const char *key);
extern void AkPushString(JsonbParseState **state, JsonbIteratorToken token, const char *str);

/* Pushes a timestamptz as a JSON string (jsonb's format), or null when !present. */
extern void AkPushTimestamp(JsonbParseState **state, bool present, TimestampTz ts);

/* A jsonb array of the given jsonb datums (NULL pointers become JSON nulls). */
extern Jsonb *AkJsonbArray(List *elements);

/* A whole Jsonb as a value to push (jbvBinary). */
extern JsonbValue AkJsonbAsValue(Jsonb *jb);

/* JSON paths for error details: path.member and path[index]. */
extern char *AkChildPath(const char *path, const char *member);
extern char *AkElementPath(const char *path, int index);

#endif							/* ACCESS_KEY_JSONB_UTIL_H */
