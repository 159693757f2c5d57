/*
 * key_derive.c — ak_derive_key (see key_derive.h).
 */
#include "postgres.h"

#include "key_admin.h"
#include "key_chain.h"
#include "key_derive.h"
#include "narrowing.h"
#include "permits.h"
#include "session.h"

#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(ak_derive_key);

/*
 * ak_derive_key(definition, expires_at): creates a child of the session's
 * key; returns (id, key, definition, created_at, expires_at) like
 * ak_create_key, the only time the child's token is visible.
 */
Datum
ak_derive_key(PG_FUNCTION_ARGS)
{
	const AkStoredKey *parent = AkSessionKey();
	AccessKey	requested;
	TimestampTz expires_at;
	pg_uuid_t	parent_id;
	uint8		parent_token_hash[AK_TOKEN_HASH_BYTES];

	if (parent == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function ak_derive_key"),
				 errdetail("A key is derived from the key the session presents, and this session presents none."),
				 errhint("Present a key with the \"keys\" permission, or, as an admin, use access_key.ak_create_key().")));
	if (!AkKeyPermits(parent->definition, AK_ACTION_KEYS, NULL, 0, -1))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("access key does not permit keys"),
				 errdetail("Deriving a key needs the \"keys\" permission.")));

	/*
	 * What the child records of its parent, copied now: the catalog reads
	 * below (AkKeyDepth) can process an invalidation, after which the next
	 * AkSessionKey() or AkSessionTokenHash() would resolve the key again and
	 * free the one parent points to.  Neither is called after this.
	 */
	memcpy(parent_token_hash, AkSessionTokenHash(), AK_TOKEN_HASH_BYTES);
	parent = AkSessionKey();
	parent_id = parent->id;
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("key definition must not be null")));
	requested = PG_GETARG_ACCESS_KEY(0);
	if (!PG_ARGISNULL(1))
		AkCheckExpiryInFuture(PG_GETARG_TIMESTAMPTZ(1));

	AkRequireWithin(parent->definition, requested);
	/* No expiry of its own (NULL) is not more: the parent's expiry binds it at every use. */
	expires_at = PG_ARGISNULL(1) ? DT_NOBEGIN : PG_GETARG_TIMESTAMPTZ(1);
	if (expires_at > parent->expires_at)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("a derived key cannot have more than the key that derives it"),
				 errdetail("expires_at asks for %s, later than the parent key, which expires at %s.",
						   pstrdup(timestamptz_to_str(expires_at)), pstrdup(timestamptz_to_str(parent->expires_at))),
				 errhint("Give an expiry no later than the parent's, or none to inherit it.")));
	if (AkKeyDepth(&parent_id) >= AK_MAX_KEY_DEPTH)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a derived key can have at most %d ancestors", AK_MAX_KEY_DEPTH),
				 errdetail("The key this session presents already has %d.", AK_MAX_KEY_DEPTH)));
	/* The child's effective definition must be computable (for example, not too large). */
	(void) AkNarrowDefinition(parent->definition, requested);

	AkCreateKeyWithToken(fcinfo, requested, 1, &parent_id, parent_token_hash, AK_AUDIT_DERIVE);
	return (Datum) 0;
}
