/*
 * key_derive.c — ak_derive_key (see key_derive.h).
 */
#include "postgres.h"

#include "catalog.h"
#include "key_admin.h"
#include "key_chain.h"
#include "key_derive.h"
#include "narrowing.h"
#include "permits.h"
#include "session.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

PG_FUNCTION_INFO_V1(ak_derive_key);

/* How many derived keys one tree of keys may hold (access_key.max_derived_keys). */
static int	max_derived_keys = 1000;

void
AkKeyDeriveInit(void)
{
	DefineCustomIntVariable("access_key.max_derived_keys",
							"How many keys may be derived, in all, from one root access key and its descendants.",
							"ak_derive_key refuses a key beyond it; 0 refuses every derived key.",
							&max_derived_keys,
							1000, 0, 1000000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);
}

static void
ReportKeyDeleted(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("access key is not valid"),
			 errdetail("No key matches the token; it may have been deleted.")));
}

/*
 * Locks the parent's row against a concurrent ak_delete_key until this
 * transaction ends.  A delete that committed first leaves nothing to lock:
 * the session's key is reported deleted, as at its next use, rather than
 * by the child's foreign key.
 */
static void
LockParentKey(pg_uuid_t *parent_id)
{
	Oid			argtypes[1] = {UUIDOID};
	Datum		args[1] = {UUIDPGetDatum(parent_id)};

	if (AkCatalogExecute("SELECT FROM access_key.keys WHERE id OPERATOR(pg_catalog.=) $1 FOR KEY SHARE",
						 1, argtypes, args, NULL) == 0)
		ReportKeyDeleted();
}

/*
 * Refuses a child beyond access_key.max_derived_keys in the parent's tree,
 * counting the keys committed and those this transaction derived.  Derives
 * in one tree are serialized by an advisory lock on its root (a row lock
 * on the root would hold up an admin revoking it).
 */
static void
RequireRoomInTree(pg_uuid_t *parent_id)
{
	Oid			argtypes[1] = {UUIDOID};
	Datum		args[1] = {UUIDPGetDatum(parent_id)};
	TupleDesc	desc;
	HeapTuple	row;
	bool		isnull;
	Datum		root;
	int64		derived;

	row = AkCatalogExecuteReturning("WITH RECURSIVE up AS ("
									" SELECT id, parent_id FROM access_key.keys WHERE id OPERATOR(pg_catalog.=) $1"
									" UNION ALL SELECT k.id, k.parent_id FROM access_key.keys AS k, up"
									" WHERE k.id OPERATOR(pg_catalog.=) up.parent_id)"
									" SELECT id FROM up WHERE parent_id IS NULL",
									1, argtypes, args, NULL, &desc);
	if (row == NULL)
		ReportKeyDeleted();
	root = heap_getattr(row, 1, desc, &isnull);
	/*
	 * One derive at a time per tree, until its transaction ends, and a count
	 * that sees what the previous one committed: otherwise each of N open
	 * transactions could add max_derived_keys keys (N times the bound).  The
	 * lock is advisory, so it holds up no admin's revoke or delete, only the
	 * tree's own derives.
	 */
	(void) AkCatalogExecute("SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended("
							"'access_key derive ' OPERATOR(pg_catalog.||) $1::pg_catalog.text, 0))",
							1, argtypes, &root, NULL);
	row = AkCatalogQueryLatest("WITH RECURSIVE down AS ("
									" SELECT id FROM access_key.keys WHERE parent_id OPERATOR(pg_catalog.=) $1"
									" UNION ALL SELECT k.id FROM access_key.keys AS k, down"
									" WHERE k.parent_id OPERATOR(pg_catalog.=) down.id)"
									" SELECT pg_catalog.count(*) FROM down",
									1, argtypes, &root, NULL, &desc);
	derived = DatumGetInt64(heap_getattr(row, 1, desc, &isnull));
	if (derived >= max_derived_keys)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many keys derived from one root key"),
				 errdetail("The key this session presents descends from a root key from which %lld keys are already derived; access_key.max_derived_keys is %d.",
						   (long long) derived, max_derived_keys),
				 errhint("Ask an admin to delete unused derived keys, or to raise access_key.max_derived_keys.")));
}

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
	LockParentKey(&parent_id);
	RequireRoomInTree(&parent_id);

	AkCreateKeyWithToken(fcinfo, requested, 1, &parent_id, parent_token_hash, AK_AUDIT_DERIVE);
	return (Datum) 0;
}
