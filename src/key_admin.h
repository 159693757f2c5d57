/*
 * key_admin.h — key administration: create, read, list, update, revoke,
 * unrevoke and delete keys.
 *
 * EXECUTE on these functions is the master key: none is granted to PUBLIC,
 * each refuses to run while the session presents a key, and each writes the
 * key tables as the extension's owner (the caller holds no privilege on them).
 */
#ifndef ACCESS_KEY_KEY_ADMIN_H
#define ACCESS_KEY_KEY_ADMIN_H

#include "postgres.h"

#include "compat.h"

#include "fmgr.h"
#include "utils/uuid.h"

/* Raises 42704 "access key ... does not exist" (22004 for a NULL id). */
extern AK_NORETURN void AkUnknownKey(const pg_uuid_t *id);

/* Raises 22023 unless argument argno (a timestamptz, or NULL) is after the transaction's start. */
extern void AkRequireFutureExpiry(FunctionCallInfo fcinfo, int argno);

/*
 * Stores a key with definition (argument 0's type), the expiry in argument
 * expires_argno, and, for a derived key, its parent and the hash of the
 * parent's token it was derived with; returns the one row (id, key,
 * definition, created_at, expires_at) of fcinfo's result set.  The only
 * time the new token is visible.
 */
extern void AkStoreNewKey(FunctionCallInfo fcinfo, Datum definition, int expires_argno,
						  const pg_uuid_t *parent_id, const uint8 *parent_token_hash);

#endif							/* ACCESS_KEY_KEY_ADMIN_H */
