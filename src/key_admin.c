/*
 * key_admin.c — key administration (docs/reference.md, "Admin functions").
 *
 * Every function here refuses to run while the session presents a key
 * (AkRequireNoSessionKey), so a key can never manage keys whatever its
 * role's privileges.  Reads use the statement's snapshot; writes run as the
 * extension's owner through SQL (AkCatalogExecute), so the key tables'
 * constraints and their cache-invalidation triggers apply.  A token is
 * visible once, in ak_create_key's result: only its BLAKE2b hash is stored.
 */
#include "postgres.h"

#include <sodium.h>

#include "catalog.h"
#include "compat.h"
#include "definition.h"
#include "jsonb_util.h"
#include "key_admin.h"
#include "result_set.h"
#include "session.h"
#include "token.h"

#include "access/stratnum.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(ak_create_key);
PG_FUNCTION_INFO_V1(ak_get_key);
PG_FUNCTION_INFO_V1(ak_list_keys);
PG_FUNCTION_INFO_V1(ak_update_key);
PG_FUNCTION_INFO_V1(ak_revoke_key);
PG_FUNCTION_INFO_V1(ak_unrevoke_key);
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

/* The id argument: 22004 when NULL. */
static pg_uuid_t *
KeyIdArg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		AkUnknownKey(NULL);
	return PG_GETARG_UUID_P(argno);
}

/* The definition argument: 22004 when NULL. */
static Datum
DefinitionArg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("key definition must not be null")));
	/* Validated by the type; this also refuses formats this build cannot read. */
	return PointerGetDatum(PG_GETARG_ACCESS_KEY(argno));
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
AkRequireFutureExpiry(FunctionCallInfo fcinfo, int argno)
{
	if (!PG_ARGISNULL(argno) && PG_GETARG_TIMESTAMPTZ(argno) <= GetCurrentTransactionStartTimestamp())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expiry time must be in the future"),
				 errdetail("expires_at is %s; the current time is %s.",
						   timestamptz_to_str(PG_GETARG_TIMESTAMPTZ(argno)),
						   timestamptz_to_str(GetCurrentTransactionStartTimestamp()))));
}

void
AkStoreNewKey(FunctionCallInfo fcinfo, Datum definition, int expires_argno,
			  const pg_uuid_t *parent_id, const uint8 *parent_token_hash)
{
	AkResultSet rs = AkBeginResultSet(fcinfo);
	char		token[AK_TOKEN_LEN + 1];
	bytea	   *hash = palloc(VARHDRSZ + AK_TOKEN_HASH_BYTES);
	bytea	   *parent_hash = palloc(VARHDRSZ + AK_TOKEN_HASH_BYTES);
	bool		no_expiry = PG_ARGISNULL(expires_argno);
	Oid			key_types[4] = {InvalidOid, TIMESTAMPTZOID, UUIDOID, BYTEAOID};
	Datum		key_args[4];
	char		key_nulls[4] = {' ', ' ', ' ', ' '};
	Oid			token_types[2] = {BYTEAOID, UUIDOID};
	Datum		token_args[2];
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	key_types[0] = get_fn_expr_argtype(fcinfo->flinfo, 0);
	key_args[0] = definition;
	key_args[1] = no_expiry ? (Datum) 0 : PG_GETARG_DATUM(expires_argno);
	key_nulls[1] = no_expiry ? 'n' : ' ';
	key_args[2] = parent_id ? UUIDPGetDatum(parent_id) : (Datum) 0;
	key_nulls[2] = parent_id ? ' ' : 'n';
	SET_VARSIZE(parent_hash, VARHDRSZ + AK_TOKEN_HASH_BYTES);
	if (parent_token_hash)
		memcpy(VARDATA(parent_hash), parent_token_hash, AK_TOKEN_HASH_BYTES);
	key_args[3] = PointerGetDatum(parent_hash);
	key_nulls[3] = parent_token_hash ? ' ' : 'n';
	/* Only derived keys name the columns a 1.0 key table lacks. */
	if (parent_id)
		row = AkCatalogExecuteReturning("INSERT INTO access_key.keys (definition, expires_at, parent_id, parent_token_hash)"
										" VALUES ($1, $2, $3, $4) RETURNING id, created_at",
										4, key_types, key_args, key_nulls, &desc);
	else
		row = AkCatalogExecuteReturning("INSERT INTO access_key.keys (definition, expires_at)"
										" VALUES ($1, $2) RETURNING id, created_at",
										2, key_types, key_args, key_nulls, &desc);

	AkGenerateToken(token);
	SET_VARSIZE(hash, VARHDRSZ + AK_TOKEN_HASH_BYTES);
	AkHashToken(token, AK_TOKEN_LEN, (uint8 *) VARDATA(hash));
	token_args[0] = PointerGetDatum(hash);
	token_args[1] = AkCatalogColumn(row, desc, "id", &isnull);
	AkCatalogExecute("INSERT INTO access_key.key_tokens (token_hash, key_id) VALUES ($1, $2)",
					 2, token_types, token_args, NULL);

	values[0] = token_args[1];
	values[1] = PointerGetDatum(cstring_to_text_with_len(token, AK_TOKEN_LEN));
	sodium_memzero(token, sizeof(token));
	values[2] = definition;
	values[3] = AkCatalogColumn(row, desc, "created_at", &isnull);
	values[4] = key_args[1];
	nulls[4] = no_expiry;
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
	Datum		definition;

	AkRequireNoSessionKey("ak_create_key");
	definition = DefinitionArg(fcinfo, 0);
	AkRequireFutureExpiry(fcinfo, 1);
	AkStoreNewKey(fcinfo, definition, 1, NULL, NULL);
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
	id = KeyIdArg(fcinfo, 0);
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

/* ak_update_key(id, definition): replaces the whole definition; the token stays. */
Datum
ak_update_key(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *id;
	Datum		definition;
	Oid			types[2] = {UUIDOID, InvalidOid};
	Datum		args[2];

	AkRequireNoSessionKey("ak_update_key");
	id = KeyIdArg(fcinfo, 0);
	definition = DefinitionArg(fcinfo, 1);
	types[1] = get_fn_expr_argtype(fcinfo->flinfo, 1);
	args[0] = UUIDPGetDatum(id);
	args[1] = definition;
	if (AkCatalogExecute("UPDATE access_key.keys SET definition = $2, updated_at = pg_catalog.now()"
						 " WHERE id OPERATOR(pg_catalog.=) $1", 2, types, args, NULL) == 0)
		AkUnknownKey(id);
	PG_RETURN_DATUM(definition);
}

/* Sets is_active in a key's definition (revoke and unrevoke). */
static void
SetKeyActive(FunctionCallInfo fcinfo, bool active, const char *function)
{
	pg_uuid_t  *id;
	Oid			types[2] = {UUIDOID, BOOLOID};
	Datum		args[2];

	AkRequireNoSessionKey(function);
	id = KeyIdArg(fcinfo, 0);
	args[0] = UUIDPGetDatum(id);
	args[1] = BoolGetDatum(active);
	if (AkCatalogExecute("UPDATE access_key.keys"
						 " SET definition = pg_catalog.jsonb_set(definition::pg_catalog.jsonb, '{is_active}',"
						 "         pg_catalog.to_jsonb($2))::access_key.access_key,"
						 "     updated_at = pg_catalog.now()"
						 " WHERE id OPERATOR(pg_catalog.=) $1", 2, types, args, NULL) == 0)
		AkUnknownKey(id);
}

/* ak_revoke_key(id): sets is_active to false. */
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

/* ak_delete_key(id): deletes the key and its tokens; true. */
Datum
ak_delete_key(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *id;
	Oid			types[1] = {UUIDOID};
	Datum		args[1];

	AkRequireNoSessionKey("ak_delete_key");
	id = KeyIdArg(fcinfo, 0);
	args[0] = UUIDPGetDatum(id);
	if (AkCatalogExecute("DELETE FROM access_key.keys WHERE id OPERATOR(pg_catalog.=) $1",
						 1, types, args, NULL) == 0)
		AkUnknownKey(id);
	PG_RETURN_BOOL(true);
}
