/*
 * key_lookup.c — token lookup in the key tables, and the trigger that tells
 * every backend when those tables change.
 */
#include "postgres.h"

#include "compat.h"
#include "key_lookup.h"
#include "catalog.h"
#include "key_chain.h"

#include "access/stratnum.h"
#include "commands/trigger.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(ak_key_store_changed);

/* Relation ids seen by the last lookup; they only change if the extension is re-created. */
static Oid	keys_relid = InvalidOid;
static Oid	key_tokens_relid = InvalidOid;

bool
AkIsKeyTable(Oid relid)
{
	return relid == keys_relid || relid == key_tokens_relid;
}

/* A nullable timestamptz column, NULL read as "never" (DT_NOEND). */
static TimestampTz
TimestampOrNoEnd(HeapTuple tuple, TupleDesc desc, const char *column)
{
	bool		isnull;
	Datum		d = AkCatalogColumn(tuple, desc, column, &isnull);

	return isnull ? DT_NOEND : DatumGetTimestampTz(d);
}

bool
AkFetchKeyByTokenHash(const uint8 *hash, AkStoredKey *key)
{
	bytea	   *hash_datum = AkHashAsBytea(hash);
	HeapTuple	token_row;
	HeapTuple	key_row;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;
	ScanKeyData skey;

	keys_relid = AkCatalogRelid("keys");
	key_tokens_relid = AkCatalogRelid("key_tokens");

	/* Hash indexes: presenting a key costs the same with 100 keys stored as with 1,000,000. */
	ScanKeyInit(&skey, 1, HTEqualStrategyNumber, F_BYTEAEQ, PointerGetDatum(hash_datum));
	token_row = AkCatalogFetchHashed("key_tokens", "key_tokens_token_hash_idx", AK_CATALOG_LATEST_SNAPSHOT,
									 &skey, &desc);
	pfree(hash_datum);
	if (!HeapTupleIsValid(token_row))
		return false;
	key->token_valid_until = TimestampOrNoEnd(token_row, desc, "valid_until");
	d = AkCatalogColumn(token_row, desc, "key_id", &isnull);
	memcpy(&key->id, DatumGetUUIDP(d), sizeof(pg_uuid_t));

	ScanKeyInit(&skey, 1, HTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(&key->id));
	key_row = AkCatalogFetchHashed("keys", "keys_id_idx", AK_CATALOG_LATEST_SNAPSHOT, &skey, &desc);
	if (!HeapTupleIsValid(key_row))
		return false;			/* cannot happen: the foreign key cascades */
	d = AkCatalogColumn(key_row, desc, "definition", &isnull);
	key->definition = DatumGetAccessKey(PointerGetDatum(PG_DETOAST_DATUM_COPY(d)));
	key->expires_at = TimestampOrNoEnd(key_row, desc, "expires_at");
	AkApplyKeyChain(key, key_row, desc);
	return true;
}

/*
 * ak_key_store_changed(): statement trigger on the key tables.  A relcache
 * invalidation of the changed table reaches every backend at its next
 * transaction (and this one at its next command), where the relcache
 * callback drops the cached key.
 */
Datum
ak_key_store_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ak_key_store_changed() must be fired AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE FOR EACH STATEMENT")));
	keys_relid = AkCatalogRelid("keys");
	key_tokens_relid = AkCatalogRelid("key_tokens");
	if (!AkIsKeyTable(RelationGetRelid(trigdata->tg_relation)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ak_key_store_changed() fired on table \"%s\", which is not a key table",
						RelationGetRelationName(trigdata->tg_relation))));
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}
