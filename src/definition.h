/*
 * definition.h — the access_key type: a validated, canonical key definition.
 *
 * A value is a versioned header followed by a jsonb container holding the
 * definition with every default filled in.  Storing jsonb lets the permission
 * checks look members up by binary search instead of re-parsing text, and the
 * version byte lets the format change later without guessing (hstore's lesson).
 * Values only come into being through validate.c, so every reader here may
 * assume a valid definition.
 */
#ifndef ACCESS_KEY_DEFINITION_H
#define ACCESS_KEY_DEFINITION_H

#include "postgres.h"

#include "vocabulary.h"

#include "fmgr.h"
#include "utils/jsonb.h"

#define AK_FORMAT_VERSION 1

typedef struct AccessKeyData
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	uint8		version;		/* AK_FORMAT_VERSION */
	uint8		flags;			/* how the value was written: AK_FLAG_* */
	uint8		reserved[2];	/* zero */
	char		container[FLEXIBLE_ARRAY_MEMBER];	/* a JsonbContainer */
} AccessKeyData;

/*
 * Flags record how a value was written, not what it means: equality,
 * hashing, output and binary send ignore them, and the key store keeps
 * definitions with no flags set (as 1.0 wrote every value).
 *
 * AK_FLAG_IS_ACTIVE_GIVEN: the JSON the value was made from had a member
 * "is_active" (the canonical form always has one, so only this flag tells
 * "true by default" from "true as written": updating a revoked key
 * re-activates it only in the second case).
 */
#define AK_FLAG_IS_ACTIVE_GIVEN 0x01

typedef AccessKeyData *AccessKey;

#define AK_HEADER_SIZE offsetof(AccessKeyData, container)
#define AkContainer(ak) ((JsonbContainer *) (ak)->container)

/* Detoasts a stored definition and refuses formats this build cannot read. */
extern AccessKey DatumGetAccessKey(Datum datum);

#define PG_GETARG_ACCESS_KEY(n) DatumGetAccessKey(PG_GETARG_DATUM(n))
#define PG_RETURN_ACCESS_KEY(ak) PG_RETURN_POINTER(ak)

/* A top-level member ("name", "is_active", "permitted", "options"), or NULL. */
extern JsonbValue *AkDefinitionMember(AccessKey ak, const char *key);

/* options.<section>.<key>, or NULL when any part is absent. */
extern JsonbValue *AkSectionMember(AccessKey ak, AkSection section, const char *key);

extern bool AkIsActive(AccessKey ak);

/* Whether the JSON the value was made from said "is_active" (true or false). */
extern bool AkIsActiveGiven(AccessKey ak);

/* A copy without flags: the form the key store keeps. */
extern AccessKey AkDefinitionWithoutFlags(AccessKey ak);

/* Whether "permitted" lists the action (activity is not checked). */
extern bool AkPermitsAction(AccessKey ak, AkAction action);

/* The definition as jsonb (what the cast to jsonb returns). */
extern Jsonb *AkDefinitionToJsonb(AccessKey ak);

/* The canonical JSON text. */
extern char *AkDefinitionToCString(AccessKey ak);

#endif							/* ACCESS_KEY_DEFINITION_H */
