/*
 * key_admin.h — key administration: create, read, list, update, patch,
 * revoke, unrevoke, expire and delete keys, and the helpers the other
 * lifecycle functions (key_tokens.c: rotate, import; child keys) share.
 *
 * EXECUTE on these functions is the master key: none is granted to PUBLIC,
 * each refuses to run while the session presents a key, and each writes the
 * key tables as the extension's owner (the caller holds no privilege on them).
 * Every change locks the key's row first (AkLockKey), so concurrent changes
 * of one key apply one after the other, each to what the previous committed,
 * and writes its audit row (audit.h) in the same transaction.
 */
#ifndef ACCESS_KEY_KEY_ADMIN_H
#define ACCESS_KEY_KEY_ADMIN_H

#include "postgres.h"

#include "compat.h"
#include "vocabulary.h"
#include "definition.h"

#include "fmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

/* Raises 42704 "access key ... does not exist" (22004 for a NULL id). */
extern AK_NORETURN void AkUnknownKey(const pg_uuid_t *id);

/* The key id argument argno: 22004 when NULL. */
extern pg_uuid_t *AkKeyIdArg(FunctionCallInfo fcinfo, int argno);

/* Raises 22023 unless expires_at is later than the transaction's start. */
extern void AkCheckExpiryInFuture(TimestampTz expires_at);

/* The oid of type access_key.access_key (SPI parameters of that type). */
extern Oid	AkAccessKeyTypeOid(void);

/* A row of access_key.keys, locked against other changes until the transaction ends. */
typedef struct AkLockedKey
{
	pg_uuid_t	id;
	AccessKey	definition;		/* as stored: no flags */
	bool		expires;		/* false: never expires */
	TimestampTz expires_at;
	bool		has_parent;
	pg_uuid_t	parent_id;
} AkLockedKey;

/* Locks the key with this id FOR NO KEY UPDATE and reads it; 42704 when absent. */
extern void AkLockKey(const pg_uuid_t *id, AkLockedKey *key);

/* The parent id of a locked key, or NULL. */
#define AkLockedKeyParent(key) ((key)->has_parent ? &(key)->parent_id : NULL)

/*
 * Stores a new key (expires_at, parent_id, parent_token_hash may be NULL) with the hash of
 * its first token; sets *id and *created_at.  The definition is stored
 * without flags.  A token some key already has raises 42710, without
 * revealing which key or hash.
 */
extern void AkStoreNewKey(AccessKey definition, const TimestampTz *expires_at,
						  const pg_uuid_t *parent_id, const uint8 *parent_token_hash,
						  const char *token, size_t token_len, pg_uuid_t *id, TimestampTz *created_at);

/*
 * Creates a key with a new token (AkStoreNewKey; the expiry is argument
 * expires_argno of fcinfo, NULL for never), records operation in the audit
 * log, and returns the key as the one row of fcinfo's result set: (id, key,
 * definition, created_at, expires_at), the only time the token is visible.
 * parent_id and parent_token_hash are those of a derived key, else NULL.
 */
extern void AkCreateKeyWithToken(FunctionCallInfo fcinfo, AccessKey definition, int expires_argno,
								 const pg_uuid_t *parent_id, const uint8 *parent_token_hash,
								 AkAuditOperation operation);

#endif							/* ACCESS_KEY_KEY_ADMIN_H */
