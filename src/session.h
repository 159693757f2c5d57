/*
 * session.h — the key a session presents (docs/reference.md#presenting-a-key),
 * resolved through the backend's key cache.
 */
#ifndef ACCESS_KEY_SESSION_H
#define ACCESS_KEY_SESSION_H

#include "postgres.h"

#include "key_cache.h"

/*
 * Defines access_key.key and access_key.context and registers the relcache
 * callback that drops the cached key; called from _PG_init.
 */
extern void AkSessionInit(void);

/* Whether access_key.key is set (to anything, valid or not). */
extern bool AkSessionPresentsKey(void);

/*
 * The session's key, or NULL when it presents none.  Raises 28000 when the
 * token is malformed, unknown, revoked or expired.
 *
 * The key (and a view from AkSessionContextView) lives in the key cache: it
 * stays valid only until the next call of AkSessionKey, AkSessionTokenHash
 * or AkSessionContextView after an invalidation was processed, which any
 * catalog read may do, since that call empties the cache.  Copy what is
 * needed past such a call.
 */
extern const AkStoredKey *AkSessionKey(void);

/* The BLAKE2b hash of the session's token, or NULL without a key; raises 28000 like AkSessionKey. */
extern const uint8 *AkSessionTokenHash(void);

/*
 * The view for the current context, compiled once per key and cached with
 * it; NULL when the session presents no key.  Raises 28000 like AkSessionKey.
 */
extern const AkContextView *AkSessionContextView(void);

/*
 * Changes whenever access_key.key is assigned.  With AkKeyCacheEpoch, the
 * filter context and the transaction, it tells that the session's key is
 * the one an earlier call saw (per-row functions remember answers by it).
 */
extern uint64 AkSessionKeyGeneration(void);

/* The filter context in force (set while a saved query runs). */
extern AkContext AkCurrentContext(void);

/* Raises 42501 when the session presents a key: admin functions call this. */
extern void AkRequireNoSessionKey(const char *function_name);

#endif							/* ACCESS_KEY_SESSION_H */
