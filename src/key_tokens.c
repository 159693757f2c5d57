/*
 * key_tokens.c — ak_rotate_key, ak_key_id, ak_import_key and
 * ak_import_keen_key (see key_tokens.h).
 */
#include "postgres.h"

#include <sodium.h>

#include "audit.h"
#include "catalog.h"
#include "definition.h"
#include "jsonb_util.h"
#include "key_admin.h"
#include "key_tokens.h"
#include "session.h"
#include "token.h"
#include "validate.h"

#include "access/stratnum.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(ak_rotate_key);
PG_FUNCTION_INFO_V1(ak_key_id);
PG_FUNCTION_INFO_V1(ak_import_key);
PG_FUNCTION_INFO_V1(ak_import_keen_key);

/* Members of a Keen key object that have no meaning here. */
static const char *const keen_ignored_members[] = {"project_id", "created_date", "last_modified_date"};

/* A token argument, detoasted; the caller wipes it with ForgetToken. */
typedef struct TokenArg
{
	const char *chars;
	size_t		len;
	struct varlena *copy;		/* detoasted copy to wipe, or NULL */
} TokenArg;

/* The token argument argno: 22004 when NULL. */
static TokenArg
GetTokenArg(FunctionCallInfo fcinfo, int argno)
{
	TokenArg	token;
	text	   *t;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the token must not be null")));
	t = PG_GETARG_TEXT_PP(argno);
	token.chars = VARDATA_ANY(t);
	token.len = VARSIZE_ANY_EXHDR(t);
	token.copy = (Pointer) t != DatumGetPointer(PG_GETARG_DATUM(argno)) ? (struct varlena *) t : NULL;
	return token;
}

/* Wipes the detoasted copy of a token argument, if one was made. */
static void
ForgetToken(TokenArg *token)
{
	if (token->copy)
		sodium_memzero(token->copy, VARSIZE_ANY(token->copy));
	token->chars = NULL;
	token->len = 0;
}

/* An interval as ISO 8601 text ("PT1H"), whatever the session's IntervalStyle. */
static char *
IntervalIso8601(Interval *interval)
{
	int			nestlevel = NewGUCNestLevel();
	char	   *text;

	(void) set_config_option("IntervalStyle", "iso_8601", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	text = DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(interval)));
	AtEOXact_GUC(true, nestlevel);
	return text;
}

/* 22023 for a malformed token (the detail says why, never what). */
static AkTokenFormat
RequireWellFormedToken(const char *chars, size_t len)
{
	AkTokenFormat format = AkCheckTokenFormat(chars, len);

	if (!AkTokenFormatIsValid(format))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid access key token"),
				 errdetail_internal("%s", AkTokenFormatProblem(format)),
				 errhint("Tokens are \"ak_\" tokens of this extension, or imported tokens of %d to %d visible ASCII characters.",
						 AK_TOKEN_IMPORTED_MIN_LEN, AK_TOKEN_MAX_LEN)));
	return format;
}

/*
 * ak_rotate_key(id, grace): issues a new token for the key and returns it.
 * The key's other tokens keep working until now() + grace (never longer than
 * they already would); tokens whose grace period has ended are deleted.
 */
Datum
ak_rotate_key(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *id;
	Interval   *grace;
	Interval	zero = {0};
	AkLockedKey key;
	TimestampTz old_tokens_until;
	Oid			types[2] = {UUIDOID, TIMESTAMPTZOID};
	Datum		args[2];
	uint64		pruned;
	uint64		rotated_out;
	char		token[AK_TOKEN_LEN + 1];
	text	   *result;
	AkAuditChanges changes;

	AkRequireNoSessionKey("ak_rotate_key");
	id = AkKeyIdArg(fcinfo, 0);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the grace period must not be null"),
				 errhint("A grace period of '0' ends the old token at once.")));
	grace = PG_GETARG_INTERVAL_P(1);
	if (DatumGetBool(DirectFunctionCall2(interval_lt, IntervalPGetDatum(grace), IntervalPGetDatum(&zero))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the grace period must not be negative"),
				 errdetail("grace is %s.", DatumGetCString(DirectFunctionCall1(interval_out,
																				 IntervalPGetDatum(grace))))));
	old_tokens_until = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
															   TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
															   IntervalPGetDatum(grace)));

	/* One rotation of a key at a time: the next one starts from this one's tokens. */
	AkLockKey(id, &key);

	args[0] = UUIDPGetDatum(id);
	args[1] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	pruned = AkCatalogExecute("DELETE FROM access_key.key_tokens"
							  " WHERE key_id OPERATOR(pg_catalog.=) $1 AND valid_until OPERATOR(pg_catalog.<=) $2",
							  2, types, args, NULL);
	args[1] = TimestampTzGetDatum(old_tokens_until);
	rotated_out = AkCatalogExecute("UPDATE access_key.key_tokens SET valid_until = $2"
								   " WHERE key_id OPERATOR(pg_catalog.=) $1"
								   "   AND (valid_until IS NULL OR valid_until OPERATOR(pg_catalog.>) $2)",
								   2, types, args, NULL);

	AkGenerateToken(token);
	{
		Oid			token_types[2] = {BYTEAOID, UUIDOID};
		Datum		token_args[2];

		token_args[0] = PointerGetDatum(AkTokenHashBytea(token, AK_TOKEN_LEN));
		token_args[1] = UUIDPGetDatum(id);
		AkCatalogExecute("INSERT INTO access_key.key_tokens (token_hash, key_id) VALUES ($1, $2)",
						 2, token_types, token_args, NULL);
	}
	AkCatalogExecute("UPDATE access_key.keys SET updated_at = pg_catalog.now() WHERE id OPERATOR(pg_catalog.=) $1",
					 1, types, args, NULL);

	AkAuditChangesInit(&changes);
	AkAuditChangesAddText(&changes, "grace", IntervalIso8601(grace));
	AkAuditChangesAddTimestamp(&changes, "old_tokens_valid_until", old_tokens_until, false);
	AkAuditChangesAddInteger(&changes, "tokens_rotated_out", (int64) rotated_out);
	AkAuditChangesAddInteger(&changes, "tokens_pruned", (int64) pruned);
	AkAuditKeyChange(AK_AUDIT_ROTATE, id, AkLockedKeyParent(&key), AkAuditChangesFinish(&changes));

	result = cstring_to_text_with_len(token, AK_TOKEN_LEN);
	sodium_memzero(token, sizeof(token));
	PG_RETURN_TEXT_P(result);
}

/*
 * ak_key_id(token): the id of the key that holds this token (current or
 * rotated out, whether or not the key is revoked or expired); 42704 when no
 * key holds it.
 */
Datum
ak_key_id(PG_FUNCTION_ARGS)
{
	TokenArg	token;
	bytea	   *hash;
	ScanKeyData skey;
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;
	pg_uuid_t  *id;

	AkRequireNoSessionKey("ak_key_id");
	token = GetTokenArg(fcinfo, 0);
	(void) RequireWellFormedToken(token.chars, token.len);
	hash = AkTokenHashBytea(token.chars, token.len);
	ForgetToken(&token);
	ScanKeyInit(&skey, 1, BTEqualStrategyNumber, F_BYTEAEQ, PointerGetDatum(hash));
	row = AkCatalogFetch("key_tokens", AK_CATALOG_STATEMENT_SNAPSHOT, 1, &skey, &desc);
	if (row == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no access key has this token"),
				 errdetail("The token is well-formed, but its key was deleted, or it was never issued here or was pruned after a rotation.")));
	id = palloc(sizeof(pg_uuid_t));
	memcpy(id, DatumGetUUIDP(AkCatalogColumn(row, desc, "key_id", &isnull)), sizeof(pg_uuid_t));
	PG_RETURN_UUID_P(id);
}

/*
 * Stores a key whose token was issued elsewhere; returns its id.  source
 * names where the definition came from in the audit row.
 */
static pg_uuid_t *
ImportKey(TokenArg *token, AccessKey definition, FunctionCallInfo fcinfo, int expires_argno,
		  const char *source)
{
	AkTokenFormat format = RequireWellFormedToken(token->chars, token->len);
	bool		expires = !PG_ARGISNULL(expires_argno);
	TimestampTz expires_at = expires ? PG_GETARG_TIMESTAMPTZ(expires_argno) : 0;
	pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));
	TimestampTz created_at;
	AkAuditChanges changes;

	if (expires)
		AkCheckExpiryInFuture(expires_at);
	definition = AkDefinitionWithoutFlags(definition);
	AkStoreNewKey(definition, expires ? &expires_at : NULL, NULL, NULL, token->chars, token->len,
				  id, &created_at);
	ForgetToken(token);

	AkAuditChangesInit(&changes);
	AkAuditChangesAddDefinition(&changes, "definition", definition);
	AkAuditChangesAddTimestamp(&changes, "expires_at", expires_at, !expires);
	AkAuditChangesAddText(&changes, "token", format == AK_TOKEN_NATIVE ? "native" : "imported");
	AkAuditChangesAddText(&changes, "source", source);
	AkAuditKeyChange(AK_AUDIT_IMPORT, id, NULL, AkAuditChangesFinish(&changes));
	return id;
}

/*
 * ak_import_key(key, definition, expires_at): stores an existing token (for
 * example a Keen key) by its hash, with a definition; returns the key id.
 */
Datum
ak_import_key(PG_FUNCTION_ARGS)
{
	TokenArg	token;
	AccessKey	definition;

	AkRequireNoSessionKey("ak_import_key");
	token = GetTokenArg(fcinfo, 0);
	if (PG_ARGISNULL(1))
	{
		ForgetToken(&token);
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("key definition must not be null")));
	}
	definition = PG_GETARG_ACCESS_KEY(1);
	PG_RETURN_UUID_P(ImportKey(&token, definition, fcinfo, 2, "ak_import_key"));
}

/*
 * ak_import_keen_key(keen_key, expires_at): imports a key object as Keen's
 * API returns it: "key" is the token; "name", "is_active", "permitted" and
 * "options" are the definition (validated as any definition, so an unknown
 * member is an error); "project_id", "created_date" and "last_modified_date"
 * are ignored.
 */
Datum
ak_import_keen_key(PG_FUNCTION_ARGS)
{
	Jsonb	   *keen;
	JsonbValue *key_member;
	JsonbParseState *state = NULL;
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	k;
	JsonbValue	v;
	TokenArg	token = {0};
	AccessKey	definition;

	AkRequireNoSessionKey("ak_import_keen_key");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the Keen key must not be null")));
	keen = PG_GETARG_JSONB_P(0);
	if (!JB_ROOT_IS_OBJECT(keen) || JB_ROOT_IS_SCALAR(keen))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Keen key"),
				 errdetail("A Keen key is a JSON object, as Keen's API returns it."),
				 errhint("Import each element of an exported array: SELECT access_key.ak_import_keen_key(k) FROM jsonb_array_elements($1) AS k.")));
	key_member = AkGetMember(&keen->root, "key");
	if (key_member == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Keen key"),
				 errdetail("Member \"key\" (the token) is missing.")));
	if (key_member->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Keen key"),
				 errdetail("Member \"key\" must be a string, not %s.", AkJsonTypeName(key_member))));

	/* The definition: every member but the token and those Keen alone uses. */
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	it = JsonbIteratorInit(&keen->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		(void) JsonbIteratorNext(&it, &v, true);
		if ((k.val.string.len == 3 && memcmp(k.val.string.val, "key", 3) == 0) ||
			AkLookupName(keen_ignored_members, lengthof(keen_ignored_members),
						 k.val.string.val, k.val.string.len) >= 0)
			continue;
		pushJsonbValue(&state, WJB_KEY, &k);
		pushJsonbValue(&state, WJB_VALUE, &v);
	}
	definition = AkDefinitionFromJsonb(JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL)));

	token.chars = key_member->val.string.val;
	token.len = key_member->val.string.len;
	/* A detoasted copy of the Keen object holds the token: wipe it with the token. */
	if ((Pointer) keen != DatumGetPointer(PG_GETARG_DATUM(0)))
		token.copy = (struct varlena *) keen;
	PG_RETURN_UUID_P(ImportKey(&token, definition, fcinfo, 1, "keen"));
}
