/*
 * key_chain.c — a child key's effective definition and validity from its
 * stored chain of parents (see key_chain.h), and ak_effective_key.
 */
#include "postgres.h"

#include "catalog.h"
#include "jsonb_util.h"
#include "key_admin.h"
#include "key_chain.h"
#include "narrowing.h"
#include "session.h"
#include "validate.h"

#include "access/stratnum.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(ak_effective_key);

/* One key of a chain, as stored. */
typedef struct ChainLink
{
	AccessKey	definition;
	TimestampTz expires_at;		/* DT_NOEND: never */
	bool		has_parent;
	pg_uuid_t	parent_id;
	bool		has_parent_token;	/* the parent's token it was derived with is recorded */
	uint8		parent_token_hash[AK_TOKEN_HASH_BYTES];
} ChainLink;

/* A key's effective definition and validity. */
typedef struct EffectiveKey
{
	AccessKey	definition;
	TimestampTz expires_at;
	const char *problem;		/* why an ancestor makes it invalid, or NULL */
} EffectiveKey;

/* The chain columns of a row of access_key.keys (1.0 tables lack parent_token_hash). */
static void
ReadLinkParent(HeapTuple row, TupleDesc desc, ChainLink *link)
{
	bool		isnull;
	bool		exists;
	Datum		d;

	d = AkCatalogColumnIfExists(row, desc, "parent_id", &isnull, &exists);
	link->has_parent = !isnull;
	if (!isnull)
		memcpy(&link->parent_id, DatumGetUUIDP(d), sizeof(pg_uuid_t));
	d = AkCatalogColumnIfExists(row, desc, "parent_token_hash", &isnull, &exists);
	link->has_parent_token = !isnull && VARSIZE_ANY_EXHDR(DatumGetByteaPP(d)) == AK_TOKEN_HASH_BYTES;
	if (link->has_parent_token)
		memcpy(link->parent_token_hash, VARDATA_ANY(DatumGetByteaPP(d)), AK_TOKEN_HASH_BYTES);
}

/* Reads the key with this id into link; false when there is none. */
static bool
FetchLink(const pg_uuid_t *id, AkCatalogSnapshot snapshot, ChainLink *link)
{
	ScanKeyData skey;
	TupleDesc	desc;
	HeapTuple	row;
	bool		isnull;
	Datum		d;

	ScanKeyInit(&skey, 1, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(id));
	row = AkCatalogFetch("keys", snapshot, 1, &skey, &desc);
	if (row == NULL)
		return false;
	link->definition = DatumGetAccessKey(PointerGetDatum(PG_DETOAST_DATUM_COPY(
		AkCatalogColumn(row, desc, "definition", &isnull))));
	d = AkCatalogColumn(row, desc, "expires_at", &isnull);
	link->expires_at = isnull ? DT_NOEND : DatumGetTimestampTz(d);
	ReadLinkParent(row, desc, link);
	return true;
}

/*
 * When the parent's token that derived child stops working: DT_NOEND,
 * its valid_until (rotated out), or DT_NOBEGIN when it is gone.
 */
static TimestampTz
DerivingTokenEnd(const ChainLink *child, AkCatalogSnapshot snapshot)
{
	bytea	   *hash = AkHashAsBytea(child->parent_token_hash);
	ScanKeyData skey;
	TupleDesc	desc;
	HeapTuple	row;
	bool		isnull;
	Datum		d;

	ScanKeyInit(&skey, 1, BTEqualStrategyNumber, F_BYTEAEQ, PointerGetDatum(hash));
	row = AkCatalogFetch("key_tokens", snapshot, 1, &skey, &desc);
	if (row == NULL)
		return DT_NOBEGIN;
	d = AkCatalogColumn(row, desc, "key_id", &isnull);
	if (memcmp(DatumGetUUIDP(d), &child->parent_id, sizeof(pg_uuid_t)) != 0)
		return DT_NOBEGIN;
	d = AkCatalogColumn(row, desc, "valid_until", &isnull);
	return isnull ? DT_NOEND : DatumGetTimestampTz(d);
}

/*
 * Walks up from own and combines the chain, root first (see key_chain.h).
 * A broken chain (too long, an ancestor or the deriving token gone) leaves
 * nothing to combine: the key gets a definition that permits nothing.
 */
static void
ResolveChain(const ChainLink *own, AkCatalogSnapshot snapshot, EffectiveKey *out)
{
	ChainLink	ancestors[AK_MAX_KEY_DEPTH];
	const ChainLink *link = own;
	int			n = 0;
	const char *broken = NULL;
	AccessKey	effective;

	out->definition = own->definition;
	out->expires_at = own->expires_at;
	out->problem = NULL;
	while (link->has_parent && broken == NULL)
	{
		CHECK_FOR_INTERRUPTS();
		if (n == AK_MAX_KEY_DEPTH)
			broken = psprintf("Its chain of parent keys is longer than %d keys, or circular.", AK_MAX_KEY_DEPTH);
		else if (!FetchLink(&link->parent_id, snapshot, &ancestors[n]))
			broken = "A key it was derived from no longer exists.";
		else
		{
			TimestampTz token_end = link->has_parent_token ? DerivingTokenEnd(link, snapshot) : DT_NOEND;

			if (token_end == DT_NOBEGIN)
			{
				broken = "The token it was derived with no longer exists.";
				break;
			}
			out->expires_at = Min(out->expires_at, Min(token_end, ancestors[n].expires_at));
			if (!AkIsActive(ancestors[n].definition) && AkIsActive(own->definition) && out->problem == NULL)
				out->problem = "A key it was derived from has been revoked.";
			link = &ancestors[n++];
		}
	}
	if (broken)
	{
		out->problem = broken;
		out->definition = AkInactiveDefinition(own->definition);
		return;
	}
	if (n == 0)
		return;
	effective = ancestors[n - 1].definition;
	for (int i = n - 2; i >= 0; i--)
		effective = AkNarrowDefinition(effective, ancestors[i].definition);
	out->definition = AkNarrowDefinition(effective, own->definition);
}

void
AkApplyKeyChain(AkStoredKey *key, HeapTuple key_row, TupleDesc desc)
{
	ChainLink	own;
	EffectiveKey effective;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext work;

	key->chain_problem = NULL;
	ReadLinkParent(key_row, desc, &own);
	if (!own.has_parent)
		return;
	own.definition = key->definition;
	own.expires_at = key->expires_at;

	/* The combining leaves garbage: only the results stay in the caller's context. */
	work = AllocSetContextCreate(caller, "access_key key chain", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(work);
	ResolveChain(&own, AK_CATALOG_LATEST_SNAPSHOT, &effective);
	MemoryContextSwitchTo(caller);
	key->definition = (AccessKey) PG_DETOAST_DATUM_COPY(PointerGetDatum(effective.definition));
	key->expires_at = effective.expires_at;
	key->chain_problem = effective.problem ? pstrdup(effective.problem) : NULL;
	MemoryContextDelete(work);
}

int
AkKeyDepth(const pg_uuid_t *id)
{
	ChainLink	link;
	int			depth = 0;

	if (!FetchLink(id, AK_CATALOG_STATEMENT_SNAPSHOT, &link))
		return 0;
	while (link.has_parent && depth <= AK_MAX_KEY_DEPTH)
	{
		pg_uuid_t	parent = link.parent_id;

		depth++;
		if (!FetchLink(&parent, AK_CATALOG_STATEMENT_SNAPSHOT, &link))
			break;
	}
	return depth;
}

/*
 * ak_effective_key(id): the definition a key acts with: its own for a root
 * key; for a child key, its own narrowed by every ancestor's (inactive when
 * an ancestor is revoked, or the chain is broken).  Admin function.
 */
Datum
ak_effective_key(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *id;
	ChainLink	own;
	EffectiveKey effective;

	AkRequireNoSessionKey("ak_effective_key");
	id = AkKeyIdArg(fcinfo, 0);
	if (!FetchLink(id, AK_CATALOG_STATEMENT_SNAPSHOT, &own))
		AkUnknownKey(id);
	ResolveChain(&own, AK_CATALOG_STATEMENT_SNAPSHOT, &effective);
	PG_RETURN_ACCESS_KEY(effective.definition);
}
