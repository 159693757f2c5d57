/*
 * session.c — presenting a key: the access_key.key setting and its cache.
 *
 * The setting holds the token.  Parallel workers receive settings, not C
 * statics, so everything here is rebuilt from the setting and the key tables.
 * Resolution costs a hash and two index probes; it happens once per backend
 * per token and again only after the key tables change (relcache callback,
 * fed by the trigger on those tables) — never per row.
 */
#include "postgres.h"

#include <sodium.h>

#include "compat.h"
#include "prefilter.h"
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

/* Bumped by every invalidation of the key tables, to notice one during a lookup. */
static uint64 key_store_invalidations = 0;

typedef enum CachedKeyState
{
	KEY_FOUND,
	KEY_MALFORMED,
	KEY_UNKNOWN
} CachedKeyState;

typedef struct SessionKeyCache
{
	bool		valid;			/* cleared when the key tables change */
	uint64		generation;		/* key_setting_generation it was checked for */
	char	   *token;			/* the token it was resolved for (wiped on reuse) */
	CachedKeyState state;
	AkTokenFormat format;		/* why it is malformed */
	AkStoredKey key;			/* when found */
	bool		active;			/* definition's is_active, read once */
	AkContextView views[AK_CONTEXT_COUNT];	/* compiled on first use */
	bool		view_ready[AK_CONTEXT_COUNT];
	MemoryContext context;		/* holds token, key and views */
} SessionKeyCache;

static SessionKeyCache cache;

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

static void
AssignKeySetting(const char *newval, void *extra)
{
	key_setting_generation++;
}

/* SHOW and current_setting() print this instead of the token. */
static const char *
ShowKeySetting(void)
{
	return (key_setting && *key_setting) ? "(redacted)" : "";
}

static void InvalidateKeyCache(Datum arg, Oid relid);

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
							 CheckContextSetting, NULL, NULL);
	CacheRegisterRelcacheCallback(InvalidateKeyCache, (Datum) 0);
}

static void
InvalidateKeyCache(Datum arg, Oid relid)
{
	if (!OidIsValid(relid) || AkIsKeyTable(relid))
	{
		cache.valid = false;
		key_store_invalidations++;
	}
}

bool
AkSessionPresentsKey(void)
{
	return key_setting != NULL && key_setting[0] != '\0';
}

static void
ResolveSessionKey(void)
{
	size_t		len = strlen(key_setting);
	uint8		hash[AK_TOKEN_HASH_BYTES];
	MemoryContext old;
	uint64		invalidations_before = key_store_invalidations;

	/* Same token as before and the key tables unchanged: nothing to do. */
	if (cache.valid && cache.token && strcmp(cache.token, key_setting) == 0)
	{
		cache.generation = key_setting_generation;
		return;
	}

	if (cache.context == NULL)
		cache.context = AllocSetContextCreate(TopMemoryContext, "access_key session key",
											  ALLOCSET_SMALL_SIZES);
	if (cache.token)
		sodium_memzero(cache.token, strlen(cache.token));
	cache.valid = false;
	cache.token = NULL;
	memset(cache.view_ready, 0, sizeof(cache.view_ready));
	MemoryContextReset(cache.context);

	old = MemoryContextSwitchTo(cache.context);
	cache.format = AkCheckTokenFormat(key_setting, len);
	if (cache.format != AK_TOKEN_OK)
		cache.state = KEY_MALFORMED;
	else
	{
		AkHashToken(key_setting, len, hash);
		cache.state = AkFetchKeyByTokenHash(hash, &cache.key) ? KEY_FOUND : KEY_UNKNOWN;
		sodium_memzero(hash, sizeof(hash));
		if (cache.state == KEY_FOUND)
			cache.active = AkIsActive(cache.key.definition);
	}
	cache.token = pstrdup(key_setting);
	MemoryContextSwitchTo(old);

	cache.generation = key_setting_generation;

	/*
	 * Opening the key tables can process invalidations; if one arrived
	 * during the lookup, use this answer once but look again next time.
	 */
	cache.valid = (key_store_invalidations == invalidations_before);
}

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
	if (!cache.valid || cache.generation != key_setting_generation)
		ResolveSessionKey();

	switch (cache.state)
	{
		case KEY_MALFORMED:
			ReportInvalidKey(AkTokenFormatProblem(cache.format));
		case KEY_UNKNOWN:
			ReportInvalidKey("No key matches the token; it may have been deleted.");
		case KEY_FOUND:
			break;
	}
	if (!cache.active)
		ReportInvalidKey("The key has been revoked.");
	now = GetCurrentTransactionStartTimestamp();
	if (cache.key.expires_at <= now)
		ReportInvalidKey(psprintf("The key expired at %s.", timestamptz_to_str(cache.key.expires_at)));
	if (cache.key.token_valid_until <= now)
		ReportInvalidKey(psprintf("The token was replaced by a rotated one and stopped working at %s.",
								  timestamptz_to_str(cache.key.token_valid_until)));
	return &cache.key;
}

AkContext
AkCurrentContext(void)
{
	return (AkContext) context_setting;
}

const AkContextView *
AkSessionContextView(void)
{
	const AkStoredKey *key = AkSessionKey();
	AkContext	ctx = AkCurrentContext();
	AkContextView *view;

	if (key == NULL)
		return NULL;
	view = &cache.views[ctx];
	if (!cache.view_ready[ctx])
	{
		MemoryContext old = MemoryContextSwitchTo(cache.context);

		view->context = ctx;
		view->permitted = cache.active && AkPermitsAction(key->definition, AkContextAction(ctx));
		view->filters = AkCompileFilters(key->definition, ctx);
		view->prefilter = AkFiltersPrefilter(view->filters);
		MemoryContextSwitchTo(old);
		cache.view_ready[ctx] = true;
	}
	return view;
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

	/* If the key turns out invalid, the error rolls the setting back. */
	(void) set_config_option(AK_KEY_SETTING, token, PGC_USERSET, PGC_S_SESSION,
							 is_local ? GUC_ACTION_LOCAL : GUC_ACTION_SET, true, 0, false);
	sodium_memzero(token, strlen(token));

	key = AkSessionKey();
	if (key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("access key is not valid"),
				 errdetail("The token is empty.")));
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
