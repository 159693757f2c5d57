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

#include "utils/uuid.h"

/* Raises 42704 "access key ... does not exist" (22004 for a NULL id). */
extern AK_NORETURN void AkUnknownKey(const pg_uuid_t *id);

#endif							/* ACCESS_KEY_KEY_ADMIN_H */
