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
	uint8		reserved[3];	/* zero; room for flags */
	char		container[FLEXIBLE_ARRAY_MEMBER];	/* a JsonbContainer */
} AccessKeyData;

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

/* Whether "permitted" lists the action (activity is not checked). */
extern bool AkPermitsAction(AccessKey ak, AkAction action);

/* The canonical JSON text. */
extern char *AkDefinitionToCString(AccessKey ak);

#endif							/* ACCESS_KEY_DEFINITION_H */
