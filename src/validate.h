/*
 * validate.h — the one way a definition comes into being, and the naming
 * rules it shares with the SQL functions.
 *
 * Every way into the type (text input, binary receive, the cast from jsonb)
 * ends in AkDefinitionFromJsonb.  Each rejection is 22023 with a detail
 * naming the JSON path of the fault: a typo such as "filter" must never
 * yield a silently unfiltered key.
 */
#ifndef ACCESS_KEY_VALIDATE_H
#define ACCESS_KEY_VALIDATE_H

#include "postgres.h"

#include "definition.h"

/* Upper bound on a definition's text, so hostile input stays cheap to reject. */
#define AK_MAX_DEFINITION_BYTES (1024 * 1024)

/* Longest name, property path segment or resource name, in characters. */
#define AK_MAX_NAME_CHARS 256

/* Validates a definition and returns its canonical stored form. */
extern AccessKey AkDefinitionFromJsonb(Jsonb *jb);

/* Raises the definition error: 22023 with a detail naming the JSON path. */
#define AkInvalidDefinition(hint, ...) \
	ereport(ERROR, \
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE), \
			 errmsg("invalid access key definition"), \
			 errdetail(__VA_ARGS__), \
			 (hint) ? errhint("%s", (const char *) (hint)) : 0))

/* Rejects any member of object (at path) not in allowed[]. */
extern void AkCheckMembers(JsonbContainer *object, const char *path,
						   const char *const *allowed, int nallowed);

/*
 * The property-path rule: dot-separated segments of 1 to 256 characters, not
 * starting with '$'.  NULL when s[0..len) follows it, else why not.
 */
extern const char *AkPropertyPathProblem(const char *s, int len);

/* A definition member that must be a property path (22023 naming path). */
extern void AkValidatePropertyPath(const JsonbValue *v, const char *path);

/*
 * The resource-name rule (saved queries, cached queries, datasets): 1 to 256
 * ASCII letters, digits, '-' and '_'.
 */
extern bool AkIsResourceName(const char *s, int len);

/* 22023 "invalid <kind> name" unless name follows the resource-name rule. */
extern void AkCheckResourceName(const char *kind, const char *name);

#endif							/* ACCESS_KEY_VALIDATE_H */
