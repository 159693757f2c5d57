/*
 * key_admin.c — key administration (docs/reference.md, "Admin functions").
 *
 * Every function here refuses to run while the session presents a key
 * (AkRequireNoSessionKey), so a key can never manage keys whatever its
 * role's privileges.  Reads use the statement's snapshot; writes run as the
 * extension's owner through SQL (AkCatalogExecute), so the key tables'
 * constraints and their cache-invalidation triggers apply.  Each change
 * first locks the key's row and reads what is committed (AkLockKey), so a
 * revoke and a concurrent update never undo each other, and records itself
 * in the audit log in the same transaction.  A token is visible once, in
 * ak_create_key's result: only its BLAKE2b hash is stored.
 */
#include "postgres.h"

#include <sodium.h>

#include "audit.h"
#include "catalog.h"
#include "compat.h"
#include "definition.h"
#include "jsonb_util.h"
#include "key_admin.h"
#include "merge_patch.h"
#include "result_set.h"
#include "session.h"
#include "token.h"
#include "validate.h"

#include "access/stratnum.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(ak_create_key);
PG_FUNCTION_INFO_V1(ak_get_key);
PG_FUNCTION_INFO_V1(ak_list_keys);
PG_FUNCTION_INFO_V1(ak_update_key);
PG_FUNCTION_INFO_V1(ak_patch_key);
PG_FUNCTION_INFO_V1(ak_revoke_key);
PG_FUNCTION_INFO_V1(ak_unrevoke_key);
PG_FUNCTION_INFO_V1(ak_set_key_expiry);
PG_FUNCTION_INFO_V1(ak_delete_key);

void
AkUnknownKey(const pg_uuid_t *id)
{
	if (id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("key id must not be null")));
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("access key %s does not exist",
					DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(id)))),
			 errhint("access_key.ak_list_keys() lists the keys.")));
}

pg_uuid_t *
AkKeyIdArg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		AkUnknownKey(NULL);
	return PG_GETARG_UUID_P(argno);
}

/* The definition argument: 22004 when NULL. */
static AccessKey
DefinitionArg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("key definition must not be null")));
	/* Validated by the type; this also refuses formats this build cannot read. */
	return PG_GETARG_ACCESS_KEY(argno);
}

void
AkCheckExpiryInFuture(TimestampTz expires_at)
{
	if (expires_at <= GetCurrentTransactionStartTimestamp())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expiry time must be in the future"),
				 /* timestamptz_to_str returns a static buffer: copy the first. */
				 errdetail("expires_at is %s; the current time is %s.",
						   pstrdup(timestamptz_to_str(expires_at)),
						   timestamptz_to_str(GetCurrentTransactionStartTimestamp())),
				 errhint("To end a key now, revoke it with access_key.ak_revoke_key().")));
}

Oid
AkAccessKeyTypeOid(void)
{
	Oid			nsp = get_namespace_oid("access_key", false);
	Oid			type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
									   CStringGetDatum("access_key"), ObjectIdGetDatum(nsp));

	if (!OidIsValid(type))
		elog(ERROR, "type access_key.access_key is missing");
	return type;
}

/* The row of access_key.keys with this id, or NULL. */
static HeapTuple
FetchKeyRow(const pg_uuid_t *id, TupleDesc *desc)
{
	ScanKeyData skey;

	ScanKeyInit(&skey, 1, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(id));
	return AkCatalogFetch("keys", AK_CATALOG_STATEMENT_SNAPSHOT, 1, &skey, desc);
}

void
AkLockKey(const pg_uuid_t *id, AkLockedKey *key)
{
	Oid			types[1] = {UUIDOID};
	Datum		args[1];
	TupleDesc	desc;
	HeapTuple	row;
	bool		isnull;
	Datum		d;

	args[0] = UUIDPGetDatum(id);
	/* In READ COMMITTED this waits for a concurrent change and reads its result. */
	row = AkCatalogExecuteReturning("SELECT definition, expires_at, parent_id FROM access_key.keys"
									" WHERE id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE",
									1, types, args, NULL, &desc);
	if (row == NULL)
		AkUnknownKey(id);
	memcpy(&key->id, id, sizeof(pg_uuid_t));
	d = AkCatalogColumn(row, desc, "definition", &isnull);
	key->definition = DatumGetAccessKey(PointerGetDatum(PG_DETOAST_DATUM_COPY(d)));
	d = AkCatalogColumn(row, desc, "expires_at", &isnull);
	key->expires = !isnull;
	key->expires_at = isnull ? 0 : DatumGetTimestampTz(d);
	d = AkCatalogColumn(row, desc, "parent_id", &isnull);
	key->has_parent = !isnull;
	if (!isnull)
		memcpy(&key->parent_id, DatumGetUUIDP(d), sizeof(pg_uuid_t));
}

void
AkStoreNewKey(AccessKey definition, const TimestampTz *expires_at, const pg_uuid_t *parent_id,
			  const uint8 *parent_token_hash, const char *token, size_t token_len,
			  pg_uuid_t *id, TimestampTz *created_at)
{
	Oid			key_types[4] = {AkAccessKeyTypeOid(), TIMESTAMPTZOID, UUIDOID, BYTEAOID};
	Datum		key_args[4];
	char		key_nulls[4] = {' ', ' ', ' ', ' '};
	Oid			token_types[2] = {BYTEAOID, UUIDOID};
	Datum		token_args[2];
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;

	key_args[0] = PointerGetDatum(AkDefinitionWithoutFlags(definition));
	key_args[1] = expires_at ? TimestampTzGetDatum(*expires_at) : (Datum) 0;
	key_nulls[1] = expires_at ? ' ' : 'n';
	key_args[2] = parent_id ? UUIDPGetDatum(parent_id) : (Datum) 0;
	key_nulls[2] = parent_id ? ' ' : 'n';
	key_args[3] = parent_token_hash ? PointerGetDatum(AkHashAsBytea(parent_token_hash)) : (Datum) 0;
	key_nulls[3] = parent_token_hash ? ' ' : 'n';
	row = AkCatalogExecuteReturning("INSERT INTO access_key.keys (definition, expires_at, parent_id, parent_token_hash)"
									" VALUES ($1, $2, $3, $4) RETURNING id, created_at",
									4, key_types, key_args, key_nulls, &desc);
	memcpy(id, DatumGetUUIDP(AkCatalogColumn(row, desc, "id", &isnull)), sizeof(pg_uuid_t));
	*created_at = DatumGetTimestampTz(AkCatalogColumn(row, desc, "created_at", &isnull));

	/* ON CONFLICT: a unique violation's detail would print the hash. */
	token_args[0] = PointerGetDatum(AkTokenHashBytea(token, token_len));
	token_args[1] = UUIDPGetDatum(id);
	if (AkCatalogExecute("INSERT INTO access_key.key_tokens (token_hash, key_id) VALUES ($1, $2)"
						 " ON CONFLICT (token_hash) DO NOTHING",
						 2, token_types, token_args, NULL) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("the token already belongs to an access key"),
				 errdetail("A token identifies one key; it cannot be stored twice."),
				 errhint("access_key.ak_key_id(token) tells which key holds it.")));
}

void
AkCreateKeyWithToken(FunctionCallInfo fcinfo, AccessKey definition, int expires_argno,
					 const pg_uuid_t *parent_id, const uint8 *parent_token_hash, AkAuditOperation operation)
{
	AkResultSet rs;
	char		token[AK_TOKEN_LEN + 1];
	bool		never_expires = PG_ARGISNULL(expires_argno);
	TimestampTz expires_at = never_expires ? 0 : PG_GETARG_TIMESTAMPTZ(expires_argno);
	pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));
	TimestampTz created_at;
	AkAuditChanges changes;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	definition = AkDefinitionWithoutFlags(definition);
	if (!never_expires)
		AkCheckExpiryInFuture(expires_at);
	rs = AkBeginResultSet(fcinfo);

	AkGenerateToken(token);
	AkStoreNewKey(definition, never_expires ? NULL : &expires_at, parent_id, parent_token_hash,
				  token, AK_TOKEN_LEN, id, &created_at);

	AkAuditChangesInit(&changes);
	AkAuditChangesAddDefinition(&changes, "definition", definition);
	AkAuditChangesAddTimestamp(&changes, "expires_at", expires_at, never_expires);
	AkAuditKeyChange(operation, id, parent_id, AkAuditChangesFinish(&changes));

	values[0] = UUIDPGetDatum(id);
	values[1] = PointerGetDatum(cstring_to_text_with_len(token, AK_TOKEN_LEN));
	sodium_memzero(token, sizeof(token));
	values[2] = PointerGetDatum(definition);
	values[3] = TimestampTzGetDatum(created_at);
	values[4] = never_expires ? (Datum) 0 : TimestampTzGetDatum(expires_at);
	nulls[4] = never_expires;
	AkResultSetAppend(&rs, values, nulls);
}

/*
 * ak_create_key(definition, expires_at): stores a key and the hash of a new
 * token; returns (id, key, definition, created_at, expires_at), the only
 * time the token is visible.
 */
Datum
ak_create_key(PG_FUNCTION_ARGS)
{
	AkRequireNoSessionKey("ak_create_key");
	AkCreateKeyWithToken(fcinfo, DefinitionArg(fcinfo, 0), 1, NULL, NULL, AK_AUDIT_CREATE);
	return (Datum) 0;
}

/* ak_get_key(id): the definition. */
Datum
ak_get_key(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *id;
	TupleDesc	desc;
	HeapTuple	row;
	bool		isnull;

	AkRequireNoSessionKey("ak_get_key");
	id = AkKeyIdArg(fcinfo, 0);
	row = FetchKeyRow(id, &desc);
	if (row == NULL)
		AkUnknownKey(id);
	PG_RETURN_DATUM(PointerGetDatum(PG_DETOAST_DATUM_COPY(AkCatalogColumn(row, desc, "definition", &isnull))));
}

/* The permitted actions of a definition, as text[]. */
static Datum
PermittedArray(AccessKey ak)
{
	Datum		elems[AK_ACTION_COUNT];
	int			n = 0;

	for (int i = 0; i < AK_ACTION_COUNT; i++)
		if (AkPermitsAction(ak, (AkAction) i))
			elems[n++] = CStringGetTextDatum(ak_action_names[i]);
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

#define LIST_COLUMNS 9

/* One row of ak_list_keys. */
typedef struct ListedKey
{
	Datum		values[LIST_COLUMNS];
	bool		nulls[LIST_COLUMNS];
} ListedKey;

/* Oldest first (created_at is column 4), then by id (column 0). */
static int
CompareListedKeys(const void *a, const void *b)
{
	const ListedKey *x = a;
	const ListedKey *y = b;
	TimestampTz tx = DatumGetTimestampTz(x->values[4]);
	TimestampTz ty = DatumGetTimestampTz(y->values[4]);

	if (tx != ty)
		return tx < ty ? -1 : 1;
	return DatumGetInt32(DirectFunctionCall2(uuid_cmp, x->values[0], y->values[0]));
}

/*
 * ak_list_keys(name): every key, or those with this exact name, oldest
 * first: (id, name, is_active, permitted, created_at, updated_at,
 * expires_at, last_used_at, parent_id).  Never a token or a hash.
 */
Datum
ak_list_keys(PG_FUNCTION_ARGS)
{
	/* Columns read from the table; NULL: computed from the definition. */
	static const char *const columns[LIST_COLUMNS] = {
		"id", NULL, NULL, NULL, "created_at", "updated_at", "expires_at", "last_used_at", "parent_id"
	};
	text	   *wanted = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	AkResultSet rs;
	TupleDesc	desc;
	List	   *rows;
	ListCell   *lc;
	ListedKey  *listed;
	int			n = 0;

	AkRequireNoSessionKey("ak_list_keys");
	rs = AkBeginResultSet(fcinfo);
	rows = AkCatalogScan("keys", AK_CATALOG_STATEMENT_SNAPSHOT, &desc);
	listed = palloc(sizeof(ListedKey) * Max(list_length(rows), 1));
	foreach(lc, rows)
	{
		bool		isnull;
		AccessKey	ak = DatumGetAccessKey(AkCatalogColumn(lfirst(lc), desc, "definition", &isnull));
		JsonbValue *name = AkDefinitionMember(ak, "name");
		ListedKey  *k = &listed[n];

		if (wanted && (VARSIZE_ANY_EXHDR(wanted) != name->val.string.len ||
					   memcmp(VARDATA_ANY(wanted), name->val.string.val, name->val.string.len) != 0))
			continue;
		for (int i = 0; i < LIST_COLUMNS; i++)
		{
			k->nulls[i] = false;
			if (columns[i])
				k->values[i] = AkCatalogColumn(lfirst(lc), desc, columns[i], &k->nulls[i]);
		}
		k->values[1] = PointerGetDatum(cstring_to_text_with_len(name->val.string.val, name->val.string.len));
		k->values[2] = BoolGetDatum(AkIsActive(ak));
		k->values[3] = PermittedArray(ak);
		n++;
	}
	qsort(listed, n, sizeof(ListedKey), CompareListedKeys);
	for (int i = 0; i < n; i++)
		AkResultSetAppend(&rs, listed[i].values, listed[i].nulls);
	return (Datum) 0;
}

/* A definition with is_active set: {"is_active": active} merged in, validated. */
static AccessKey
DefinitionWithActive(AccessKey ak, bool active)
{
	JsonbParseState *state = NULL;
	JsonbValue	v;
	Jsonb	   *patch;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	AkPushKey(&state, "is_active");
	v.type = jbvBool;
	v.val.boolean = active;
	pushJsonbValue(&state, WJB_VALUE, &v);
	patch = JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
	return AkDefinitionWithoutFlags(AkDefinitionFromJsonb(AkJsonbMergePatch(AkDefinitionToJsonb(ak), patch)));
}

/*
 * Ends the grace period of a key's rotated-out tokens at `at` (tokens whose
 * valid_until is later); the current token (valid_until NULL) is untouched.
 */
static void
EndGracePeriods(const pg_uuid_t *id, TimestampTz at)
{
	Oid			types[2] = {UUIDOID, TIMESTAMPTZOID};
	Datum		args[2];

	args[0] = UUIDPGetDatum(id);
	args[1] = TimestampTzGetDatum(at);
	AkCatalogExecute("UPDATE access_key.key_tokens SET valid_until = $2"
					 " WHERE key_id OPERATOR(pg_catalog.=) $1 AND valid_until OPERATOR(pg_catalog.>) $2",
					 2, types, args, NULL);
}

/*
 * Replaces a locked key's definition and records the change.  A revoked key
 * stays revoked unless the new definition says "is_active": true as written
 * (AK_FLAG_IS_ACTIVE_GIVEN): a definition that merely defaults to active
 * never re-activates a key.  Deactivating ends the grace period of old
 * tokens, so a later re-activation does not revive them.
 */
static AccessKey
ReplaceDefinition(AkLockedKey *key, AccessKey definition, AkAuditOperation operation)
{
	Oid			types[2] = {UUIDOID, AkAccessKeyTypeOid()};
	Datum		args[2];

	if (!AkIsActive(key->definition) && AkIsActive(definition) && !AkIsActiveGiven(definition))
		definition = DefinitionWithActive(definition, false);
	definition = AkDefinitionWithoutFlags(definition);
	args[0] = UUIDPGetDatum(&key->id);
	args[1] = PointerGetDatum(definition);
	AkCatalogExecute("UPDATE access_key.keys SET definition = $2, updated_at = pg_catalog.now()"
					 " WHERE id OPERATOR(pg_catalog.=) $1", 2, types, args, NULL);
	if (AkIsActive(key->definition) && !AkIsActive(definition))
		EndGracePeriods(&key->id, GetCurrentTransactionStartTimestamp());
	AkAuditKeyChange(operation, &key->id, AkLockedKeyParent(key),
					 AkAuditDefinitionDiff(key->definition, definition));
	return definition;
}

/*
 * ak_update_key(id, definition): replaces the whole definition; the token
 * stays.  Returns the stored definition.
 */
Datum
ak_update_key(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *id;
	AccessKey	definition;
	AkLockedKey key;

	AkRequireNoSessionKey("ak_update_key");
	id = AkKeyIdArg(fcinfo, 0);
	definition = DefinitionArg(fcinfo, 1);
	AkLockKey(id, &key);
	PG_RETURN_ACCESS_KEY(ReplaceDefinition(&key, definition, AK_AUDIT_UPDATE));
}

/*
 * ak_patch_key(id, patch): applies an RFC 7396 merge patch to the stored
 * definition, validates the result and stores it.  A patch that is not an
 * object replaces the whole definition (and so fails validation).
 */
Datum
ak_patch_key(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *id;
	Jsonb	   *patch;
	AkLockedKey key;
	AccessKey	definition;
	JsonbValue *is_active;

	AkRequireNoSessionKey("ak_patch_key");
	id = AkKeyIdArg(fcinfo, 0);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the patch must not be null"),
				 errhint("An empty patch is '{}'.")));
	patch = PG_GETARG_JSONB_P(1);
	AkLockKey(id, &key);
	definition = AkDefinitionFromJsonb(AkJsonbMergePatch(AkDefinitionToJsonb(key.definition), patch));
	/* "As written" is the patch: the merged value always has the old is_active. */
	is_active = JB_ROOT_IS_OBJECT(patch) && !JB_ROOT_IS_SCALAR(patch) ?
		AkGetMember(&patch->root, "is_active") : NULL;
	definition->flags = (is_active != NULL && is_active->type != jbvNull) ? AK_FLAG_IS_ACTIVE_GIVEN : 0;
	PG_RETURN_ACCESS_KEY(ReplaceDefinition(&key, definition, AK_AUDIT_PATCH));
}

/* Sets is_active in a key's definition (revoke and unrevoke). */
static void
SetKeyActive(FunctionCallInfo fcinfo, bool active, const char *function)
{
	pg_uuid_t  *id;
	AkLockedKey key;
	AccessKey	definition;

	AkRequireNoSessionKey(function);
	id = AkKeyIdArg(fcinfo, 0);
	AkLockKey(id, &key);
	definition = DefinitionWithActive(key.definition, active);
	definition->flags = AK_FLAG_IS_ACTIVE_GIVEN;
	(void) ReplaceDefinition(&key, definition, active ? AK_AUDIT_UNREVOKE : AK_AUDIT_REVOKE);
}

/* ak_revoke_key(id): sets is_active to false; rotated-out tokens end now. */
Datum
ak_revoke_key(PG_FUNCTION_ARGS)
{
	SetKeyActive(fcinfo, false, "ak_revoke_key");
	PG_RETURN_VOID();
}

/* ak_unrevoke_key(id): sets is_active to true. */
Datum
ak_unrevoke_key(PG_FUNCTION_ARGS)
{
	SetKeyActive(fcinfo, true, "ak_unrevoke_key");
	PG_RETURN_VOID();
}

/*
 * ak_set_key_expiry(id, expires_at): sets or (NULL) removes the expiry.  A
 * rotated-out token's grace period never outlasts the key: it is cut at the
 * new expiry.
 */
Datum
ak_set_key_expiry(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *id;
	AkLockedKey key;
	bool		expires = !PG_ARGISNULL(1);
	TimestampTz expires_at = expires ? PG_GETARG_TIMESTAMPTZ(1) : 0;
	Oid			types[2] = {UUIDOID, TIMESTAMPTZOID};
	Datum		args[2];
	char		nulls[2] = {' ', expires ? ' ' : 'n'};
	AkAuditChanges old_expiry;
	AkAuditChanges new_expiry;
	AkAuditChanges changes;

	AkRequireNoSessionKey("ak_set_key_expiry");
	id = AkKeyIdArg(fcinfo, 0);
	if (expires)
		AkCheckExpiryInFuture(expires_at);
	AkLockKey(id, &key);
	args[0] = UUIDPGetDatum(id);
	args[1] = TimestampTzGetDatum(expires_at);
	AkCatalogExecute("UPDATE access_key.keys SET expires_at = $2, updated_at = pg_catalog.now()"
					 " WHERE id OPERATOR(pg_catalog.=) $1", 2, types, args, nulls);
	if (expires)
		EndGracePeriods(id, expires_at);

	AkAuditChangesInit(&old_expiry);
	AkAuditChangesAddTimestamp(&old_expiry, "expires_at", key.expires_at, !key.expires);
	AkAuditChangesInit(&new_expiry);
	AkAuditChangesAddTimestamp(&new_expiry, "expires_at", expires_at, !expires);
	AkAuditChangesInit(&changes);
	AkAuditChangesAddJsonb(&changes, "old", AkAuditChangesFinish(&old_expiry));
	AkAuditChangesAddJsonb(&changes, "new", AkAuditChangesFinish(&new_expiry));
	AkAuditKeyChange(AK_AUDIT_SET_EXPIRY, id, AkLockedKeyParent(&key), AkAuditChangesFinish(&changes));
	PG_RETURN_VOID();
}

/* ak_delete_key(id): deletes the key and its tokens; true. */
Datum
ak_delete_key(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *id;
	AkLockedKey key;
	Oid			types[1] = {UUIDOID};
	Datum		args[1];
	AkAuditChanges changes;

	AkRequireNoSessionKey("ak_delete_key");
	id = AkKeyIdArg(fcinfo, 0);
	AkLockKey(id, &key);
	args[0] = UUIDPGetDatum(id);
	AkCatalogExecute("DELETE FROM access_key.keys WHERE id OPERATOR(pg_catalog.=) $1",
					 1, types, args, NULL);
	/* The last state of the key, so the log alone tells what was deleted. */
	AkAuditChangesInit(&changes);
	AkAuditChangesAddDefinition(&changes, "definition", key.definition);
	AkAuditChangesAddTimestamp(&changes, "expires_at", key.expires_at, !key.expires);
	AkAuditKeyChange(AK_AUDIT_DELETE, id, AkLockedKeyParent(&key), AkAuditChangesFinish(&changes));
	PG_RETURN_BOOL(true);
}
