/*
 * session.h — the key a session presents (SPEC §6), resolved once per
 * backend and dropped when the key tables change.
 */
#ifndef ACCESS_KEY_SESSION_H
#define ACCESS_KEY_SESSION_H

#include "postgres.h"

#include "key_store.h"

extern void AkDefineSessionSettings(void);
extern void AkRegisterCacheInvalidation(void);

/* Whether access_key.key is set (to anything, valid or not). */
extern bool AkSessionPresentsKey(void);

/*
 * The session's key, or NULL when it presents none.  Raises 28000 when the
 * token is malformed, unknown, revoked or expired.
 */
extern const AkStoredKey *AkSessionKey(void);

/* Raises 42501 when the session presents a key: admin functions call this. */
extern void AkRequireNoSessionKey(const char *function_name);

#endif							/* ACCESS_KEY_SESSION_H */
