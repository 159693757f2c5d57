/*
 * session.c — presenting a key: the access_key.key and access_key.context
 * settings, and the session's current key.
 *
 * The setting holds the token.  Parallel workers receive settings, not C
 * statics, so everything here is rebuilt from the setting and the key tables.
 * The hot path compares two integers (the setting's generation and the key
 * cache's epoch); a new token costs a BLAKE2b hash and a probe of the key
 * cache (key_cache.c), which resolves it from the key tables on a miss.
 */
#include "postgres.h"

#include <sodium.h>

#include "compat.h"
#include "key_cache.h"
#include "last_used.h"
#include "plan_shape.h"
#include "session.h"

#include "access/xact.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(ak_use_key);
PG_FUNCTION_INFO_V1(ak_current_key_id);
PG_FUNCTION_INFO_V1(ak_current_key);
PG_FUNCTION_INFO_V1(ak_require_no_key);

#define AK_KEY_SETTING "access_key.key"

static char *key_setting = NULL;

/*
 * The filter context.  Only superusers may SET it: a keyed session must not
 * switch itself to the saved_queries filters.  The saved-query runner sets it
 * from C for the duration of one query, and parallel workers inherit it.
 */
static int	context_setting = AK_CONTEXT_QUERIES;

static const struct config_enum_entry context_options[] = {
	{"queries", AK_CONTEXT_QUERIES, false},
	{"saved_queries", AK_CONTEXT_SAVED_QUERIES, false},
	{NULL, 0, false}
};

/* Bumped by every assignment to the setting, so the hot path compares integers. */
static uint64 key_setting_generation = 1;

/*
 * The key the setting resolved to, for key_setting_generation as of
 * current_generation and the key cache's epoch as of current_epoch; NULL
 * with current_format set when the token is malformed.
 */
static AkCachedKey *current = NULL;
static AkTokenFormat current_format = AK_TOKEN_NATIVE;
static uint64 current_generation = 0;
static uint64 current_epoch = 0;

/*
 * What the check hook works out once for each value of the setting: the
 * token's format and, when well-formed, its hash.  The GUC machinery keeps
 * it with the value (its "extra"), also across SET LOCAL and the revert at
 * transaction end, so a token is hashed once however often it is resolved
 * again (after every change to the key tables) or its plans' shape checked.
 */
typedef struct KeySettingExtra
{
	AkTokenFormat format;
	uint8		hash[AK_TOKEN_HASH_BYTES];	/* when format is valid */
} KeySettingExtra;

/* The extra of the value in force; NULL when no key is presented. */
static const KeySettingExtra *key_extra = NULL;

/* The token hash of the setting in force, or NULL (no key, or malformed). */
static const uint8 *
SettingHash(const KeySettingExtra *extra)
{
	return (extra && AkTokenFormatIsValid(extra->format)) ? extra->hash : NULL;
}

/* Check hook of access_key.key: refuses sources every role can read. */
static bool
CheckKeySetting(char **newval, void **extra, GucSource source)
{
	/*
	 * Role, database and function settings are stored in catalogs that every
	 * role can read, and server-wide settings would give every session the
	 * key: a token there would be a token published.
	 */
	if (*newval && **newval &&
		(source == PGC_S_FILE || source == PGC_S_ARGV || source == PGC_S_GLOBAL ||
		 source == PGC_S_DATABASE || source == PGC_S_USER ||
		 source == PGC_S_DATABASE_USER || source == PGC_S_TEST))
	{
		GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
		GUC_check_errmsg("access_key.key cannot be stored in server, role, database or function settings");
		GUC_check_errdetail("Those settings are readable by every role, and the token is a secret.");
		GUC_check_errhint("Set it in the session: SET LOCAL access_key.key, or access_key.ak_use_key().");
		return false;
	}
	if (*newval && **newval)
	{
		size_t		len = strlen(*newval);
		KeySettingExtra *computed = AkGucMalloc(sizeof(KeySettingExtra));

		if (computed == NULL)
			return false;
		computed->format = AkCheckTokenFormat(*newval, len);
		if (AkTokenFormatIsValid(computed->format))
			AkHashToken(*newval, len, computed->hash);
		*extra = computed;
	}
	return true;
}

/* Only the saved-query runner (and superusers' SET) may change the context. */
static bool
CheckContextSetting(int *newval, void **extra, GucSource source)
{
	if (*newval != AK_CONTEXT_QUERIES && source != PGC_S_SESSION && source != PGC_S_DEFAULT)
	{
		GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
		GUC_check_errmsg("access_key.context can only be changed for the duration of a saved query");
		return false;
	}
	return true;
}

/* Assign hook of access_key.key: a new value is a new generation. */
static void
AssignKeySetting(const char *newval, void *extra)
{
	key_setting_generation++;
	key_extra = (newval && *newval) ? extra : NULL;
	/* Cached plans made for another key's filters are re-planned (plan_shape.c). */
	AkPlanShapeSettingAssigned(key_extra != NULL, SettingHash(key_extra), context_setting);
}

/* A context has its own filters: cached plans made for others are re-planned (plan_shape.c). */
static void
AssignContextSetting(int newval, void *extra)
{
	AkPlanShapeSettingAssigned(key_extra != NULL, SettingHash(key_extra), newval);
}

/* SHOW and current_setting() print this instead of the token. */
static const char *
ShowKeySetting(void)
{
	return (key_setting && *key_setting) ? "(redacted)" : "";
}

void
AkSessionInit(void)
{
	DefineCustomStringVariable(AK_KEY_SETTING,
							   "The access key token this session presents.",
							   "Empty means no key: every access_key check answers \"not permitted\".",
							   &key_setting,
							   "",
							   PGC_USERSET,
							   GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
							   CheckKeySetting,
							   AssignKeySetting,
							   ShowKeySetting);
	DefineCustomEnumVariable("access_key.context",
							 "The filter context of the session's key: queries or saved_queries.",
							 "Set by access_key while a saved query runs; not for direct use.",
							 &context_setting,
							 AK_CONTEXT_QUERIES,
							 context_options,
							 PGC_SUSET,
							 GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
							 CheckContextSetting, AssignContextSetting, NULL);
	AkKeyCacheInit();
}

bool
AkSessionPresentsKey(void)
{
	return key_setting != NULL && key_setting[0] != '\0';
}

/* Points current at the entry for the setting's token (NULL: malformed). */
static void
ResolveSessionKey(void)
{
	uint64		epoch = AkKeyCacheEpoch();

	Assert(key_extra != NULL);
	current = NULL;
	current_format = key_extra->format;
	if (AkTokenFormatIsValid(current_format))
		current = AkKeyCacheLookup(key_extra->hash);
	current_generation = key_setting_generation;
	/* An invalidation during the lookup: use this answer once, look again next time. */
	current_epoch = (AkKeyCacheEpoch() == epoch) ? epoch : 0;
}

/* Raises 28000 "access key is not valid" with the reason; never the token. */
static AK_NORETURN void
ReportInvalidKey(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("access key is not valid"),
			 errdetail_internal("%s", detail),
			 errhint("Present a valid key with access_key.ak_use_key(), or RESET access_key.key.")));
}

const AkStoredKey *
AkSessionKey(void)
{
	TimestampTz now;

	if (!AkSessionPresentsKey())
		return NULL;
	if (current_generation != key_setting_generation || current_epoch != AkKeyCacheEpoch())
		ResolveSessionKey();

	if (current == NULL)
		ReportInvalidKey(AkTokenFormatProblem(current_format));
	if (!current->found)
		ReportInvalidKey("No key matches the token; it may have been deleted.");
	if (!current->active)
		ReportInvalidKey(current->key.chain_problem ? current->key.chain_problem : "The key has been revoked.");
	now = GetCurrentTransactionStartTimestamp();
	if (current->key.expires_at <= now)
		ReportInvalidKey(psprintf("The key expired at %s.", timestamptz_to_str(current->key.expires_at)));
	if (current->key.token_valid_until <= now)
		ReportInvalidKey(psprintf("The key was rotated: this token stopped working at %s.",
								  timestamptz_to_str(current->key.token_valid_until)));
	/* Once per transaction per key: the hot path compares two timestamps. */
	if (current->use_noted_at != now)
	{
		current->use_noted_at = now;
		AkLastUsedNote(&current->key.id, now);
	}
	return &current->key;
}

const uint8 *
AkSessionTokenHash(void)
{
	return AkSessionKey() ? current->token_hash : NULL;
}

uint64
AkSessionKeyGeneration(void)
{
	return key_setting_generation;
}

AkContext
AkCurrentContext(void)
{
	return (AkContext) context_setting;
}

const AkContextView *
AkSessionContextView(void)
{
	if (AkSessionKey() == NULL)
		return NULL;
	return AkKeyCacheView(current, AkCurrentContext());
}

void
AkRequireNoSessionKey(const char *function_name)
{
	if (AkSessionPresentsKey())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function %s", function_name),
				 errdetail("Administrative functions are not available while the session presents an access key."),
				 errhint("Run administrative functions in a session without access_key.key.")));
}

/* ak_use_key(key text, is_local boolean): validates a token and presents it. */
Datum
ak_use_key(PG_FUNCTION_ARGS)
{
	char	   *token;
	bool		is_local;
	const AkStoredKey *key;
	pg_uuid_t  *id;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the key must not be null"),
				 errhint("To stop presenting a key, RESET access_key.key.")));
	token = text_to_cstring(PG_GETARG_TEXT_PP(0));
	is_local = PG_ARGISNULL(1) ? true : PG_GETARG_BOOL(1);

	if (is_local && !IsTransactionBlock())
		ereport(WARNING,
				(errcode(ERRCODE_NO_ACTIVE_SQL_TRANSACTION),
				 errmsg("ak_use_key with is_local = true has no effect outside a transaction block"),
				 errhint("Call it after BEGIN, or pass is_local => false for the whole session.")));

	/*
	 * If the key turns out invalid, the error rolls the setting back.  The
	 * key is resolved right after it is set, so cached plans need not be
	 * invalidated for a key the cache does not know yet (plan_shape.c).
	 */
	AkPlanShapeResolutionFollows(true);
	PG_TRY();
	{
		(void) set_config_option(AK_KEY_SETTING, token, PGC_USERSET, PGC_S_SESSION,
								 is_local ? GUC_ACTION_LOCAL : GUC_ACTION_SET, true, 0, false);
	}
	PG_FINALLY();
	{
		AkPlanShapeResolutionFollows(false);
	}
	PG_END_TRY();
	sodium_memzero(token, strlen(token));

	key = AkSessionKey();
	if (key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("access key is not valid"),
				 errdetail("The token is empty.")));
	AkPlanShapeKeyResolved(AkSessionContextView()->shape);
	id = palloc(sizeof(pg_uuid_t));
	memcpy(id, &key->id, sizeof(pg_uuid_t));
	PG_RETURN_UUID_P(id);
}

/* ak_current_key_id(): the id of the session's key, NULL without one. */
Datum
ak_current_key_id(PG_FUNCTION_ARGS)
{
	const AkStoredKey *key = AkSessionKey();
	pg_uuid_t  *id;

	if (key == NULL)
		PG_RETURN_NULL();
	id = palloc(sizeof(pg_uuid_t));
	memcpy(id, &key->id, sizeof(pg_uuid_t));
	PG_RETURN_UUID_P(id);
}

/* ak_current_key(): the session key's definition, NULL without one. */
Datum
ak_current_key(PG_FUNCTION_ARGS)
{
	const AkStoredKey *key = AkSessionKey();

	if (key == NULL)
		PG_RETURN_NULL();
	PG_RETURN_POINTER(PG_DETOAST_DATUM_COPY(PointerGetDatum(key->definition)));
}

/* ak_require_no_key(function_name): the admin functions' guard. */
Datum
ak_require_no_key(PG_FUNCTION_ARGS)
{
	AkRequireNoSessionKey(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}
