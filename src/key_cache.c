/*
 * key_cache.c — the per-backend cache of resolved keys (see key_cache.h).
 */
#include "postgres.h"

#include "filter_facts.h"
#include "key_cache.h"
#include "prefilter.h"

#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"

/* How many resolved keys a backend keeps. */
static int	key_cache_size = 1000;

/* Bumped by every invalidation of the key tables. */
static uint64 epoch = 1;

/* The epoch the entries were resolved in; when it differs, they are stale. */
static uint64 entries_epoch = 0;

static MemoryContext cache_context = NULL;
static HTAB *entries = NULL;
static dlist_head lru = DLIST_STATIC_INIT(lru);
static int	nentries = 0;

static void
InvalidateKeyCache(Datum arg, Oid relid)
{
	if (!OidIsValid(relid) || AkIsKeyTable(relid))
		epoch++;
}

void
AkKeyCacheInit(void)
{
	DefineCustomIntVariable("access_key.key_cache_size",
							"How many resolved access keys each backend keeps.",
							"Least recently used keys are evicted first; a key resolved again costs two index probes.",
							&key_cache_size,
							1000, 1, 1000000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);
	CacheRegisterRelcacheCallback(InvalidateKeyCache, (Datum) 0);
}

uint64
AkKeyCacheEpoch(void)
{
	return epoch;
}

/* Drops every entry (their memory goes with cache_context's children). */
static void
EmptyCache(void)
{
	HASHCTL		ctl = {0};

	if (cache_context == NULL)
		cache_context = AllocSetContextCreate(TopMemoryContext, "access_key key cache",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(cache_context);
	ctl.keysize = AK_TOKEN_HASH_BYTES;
	ctl.entrysize = sizeof(AkCachedKey);
	ctl.hcxt = cache_context;
	entries = hash_create("access_key key cache", 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	dlist_init(&lru);
	nentries = 0;
	entries_epoch = epoch;
}

static void
Evict(AkCachedKey *entry)
{
	dlist_delete(&entry->lru);
	MemoryContextDelete(entry->context);
	hash_search(entries, entry->token_hash, HASH_REMOVE, NULL);
	nentries--;
}

AkCachedKey *
AkKeyCacheLookup(const uint8 *token_hash)
{
	AkCachedKey *entry;
	bool		found;
	uint64		epoch_before;
	MemoryContext old;

	if (entries == NULL || entries_epoch != epoch)
		EmptyCache();

	entry = hash_search(entries, token_hash, HASH_FIND, NULL);
	if (entry)
	{
		dlist_move_head(&lru, &entry->lru);
		return entry;
	}

	while (nentries >= key_cache_size && !dlist_is_empty(&lru))
		Evict(dlist_tail_element(AkCachedKey, lru, &lru));

	/*
	 * Resolve before inserting, so an error leaves no half-built entry.
	 * Opening the key tables can process invalidations: if one arrives
	 * meanwhile, the entry is used once and the cache emptied next time.
	 */
	epoch_before = epoch;
	{
		MemoryContext entry_context = AllocSetContextCreate(cache_context, "access_key cached key",
															ALLOCSET_SMALL_SIZES);
		AkStoredKey key;
		bool		resolved;

		old = MemoryContextSwitchTo(entry_context);
		PG_TRY();
		{
			resolved = AkFetchKeyByTokenHash(token_hash, &key);
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(old);
			MemoryContextDelete(entry_context);
			PG_RE_THROW();
		}
		PG_END_TRY();
		MemoryContextSwitchTo(old);

		entry = hash_search(entries, token_hash, HASH_ENTER, &found);
		Assert(!found);
		memset(((char *) entry) + AK_TOKEN_HASH_BYTES, 0, sizeof(AkCachedKey) - AK_TOKEN_HASH_BYTES);
		entry->context = entry_context;
		entry->found = resolved;
		if (resolved)
		{
			entry->key = key;
			entry->active = AkIsActive(key.definition);
		}
		dlist_push_head(&lru, &entry->lru);
		nentries++;
	}
	if (epoch != epoch_before)
		entries_epoch = 0;		/* stale: emptied on the next lookup */
	return entry;
}

const AkCachedKey *
AkKeyCacheProbe(const uint8 *token_hash)
{
	if (entries == NULL || entries_epoch != epoch)
		return NULL;
	return hash_search(entries, token_hash, HASH_FIND, NULL);
}

const AkContextView *
AkKeyCacheView(AkCachedKey *entry, AkContext context)
{
	AkContextView *view = &entry->views[context];

	Assert(entry->found);
	if (!entry->view_ready[context])
	{
		MemoryContext old = MemoryContextSwitchTo(entry->context);

		view->context = context;
		view->permitted = entry->active && AkPermitsAction(entry->key.definition, AkContextAction(context));
		view->filters = AkCompileFilters(entry->key.definition, context);
		view->prefilter = AkFiltersPrefilter(view->filters);
		view->shape = AkFiltersShape(view->filters, view->permitted);
		MemoryContextSwitchTo(old);
		entry->view_ready[context] = true;
	}
	return view;
}
