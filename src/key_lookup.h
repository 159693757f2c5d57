/*
 * key_lookup.h — finding the key of a token in the extension's key tables.
 *
 * Keyed sessions run as unprivileged roles that cannot read the key tables;
 * the lookup therefore reads them directly (by index, like a catalog), which
 * involves no privilege check and no row-level security.  Native and
 * imported tokens (token.h) are found the same way, by their hash.
 */
#ifndef ACCESS_KEY_KEY_LOOKUP_H
#define ACCESS_KEY_KEY_LOOKUP_H

#include "postgres.h"

#include "definition.h"
#include "token.h"

#include "utils/timestamp.h"
#include "utils/uuid.h"

typedef struct AkStoredKey
{
	pg_uuid_t	id;
	AccessKey	definition;		/* allocated in the caller's context */
	TimestampTz expires_at;		/* DT_NOEND when the key never expires */
	TimestampTz token_valid_until;	/* DT_NOEND unless the token was rotated out */
	/* Child keys (key_chain.c): definition and expires_at above are the effective ones. */
	const char *chain_problem;	/* why an ancestor makes the key invalid, or NULL; in the
								 * caller's context too */
} AkStoredKey;

/* Finds the key whose token has this hash; false when there is none. */
extern bool AkFetchKeyByTokenHash(const uint8 *hash, AkStoredKey *key);

/* Whether relid is one of the key tables (for cache invalidation). */
extern bool AkIsKeyTable(Oid relid);

#endif							/* ACCESS_KEY_KEY_LOOKUP_H */
