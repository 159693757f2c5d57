/*
 * key_cache.c — the per-backend cache of resolved keys (see key_cache.h).
 */
#include "postgres.h"

#include "filter_facts.h"
#include "key_cache.h"
#include "key_scope.h"
#include "prefilter.h"

#include "access/xact.h"

#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"

/*
 * The first block of an entry's context: a definition and its compiled
 * views usually fit, so an entry costs one allocation of this size.
 */
#define ENTRY_BLOCK_SIZE 2048

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
	AkKeyScopeRelcacheChanged();
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

#ifdef USE_ASSERT_CHECKING

	/*
	 * A pointer into an entry (AkSessionKey's key, a view) kept past a call
	 * that resolves the key again would read freed memory, which the
	 * allocator usually fills again with the same entry, hiding the bug.
	 * Assertion builds keep the emptied entries, wiped, until the transaction
	 * ends, so such a read fails at once in the tests.
	 */
	if (cache_context != NULL && IsTransactionState())
	{
		HASH_SEQ_STATUS seq;
		AkCachedKey *entry;

		hash_seq_init(&seq, entries);
		while ((entry = hash_seq_search(&seq)) != NULL)
			memset(entry, 0x7F, sizeof(AkCachedKey));
		MemoryContextSetParent(cache_context, TopTransactionContext);
		cache_context = NULL;
	}
#endif
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
		/*
		 * The entry keeps the definition and what is compiled from it, nothing
		 * of the lookup (tuples, descriptors): that is read in a scratch
		 * context.  An entry is about 2 kB.
		 */
		MemoryContext entry_context = AllocSetContextCreate(cache_context, "access_key cached key",
															0, ENTRY_BLOCK_SIZE, ALLOCSET_SMALL_MAXSIZE);
		MemoryContext scratch = AllocSetContextCreate(CurrentMemoryContext, "access_key key lookup",
													  ALLOCSET_SMALL_SIZES);
		AkStoredKey key;
		bool		resolved;

		old = MemoryContextSwitchTo(scratch);
		PG_TRY();
		{
			resolved = AkFetchKeyByTokenHash(token_hash, &key);
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(old);
			MemoryContextDelete(entry_context);
			MemoryContextDelete(scratch);
			PG_RE_THROW();
		}
		PG_END_TRY();
		MemoryContextSwitchTo(old);
		if (resolved)
		{
			/* Every pointer of the key is copied out before the scratch context goes. */
			AccessKey	definition = MemoryContextAlloc(entry_context, VARSIZE(key.definition));

			memcpy(definition, key.definition, VARSIZE(key.definition));
			key.definition = definition;
			if (key.chain_problem)
				key.chain_problem = MemoryContextStrdup(entry_context, key.chain_problem);
		}
		MemoryContextDelete(scratch);

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
		MemoryContext scratch = AllocSetContextCreate(CurrentMemoryContext, "access_key view",
													  ALLOCSET_SMALL_SIZES);

		view->context = context;
		view->permitted = entry->active && AkPermitsAction(entry->key.definition, AkContextAction(context));
		view->filters = AkCompileFilters(entry->key.definition, context);
		view->scope = AkCompileKeyScope(entry->key.definition);
		/* The strings are built in scratch space and kept at their length. */
		MemoryContextSwitchTo(scratch);
		{
			char	   *prefilter = AkFiltersPrefilter(view->filters);
			char	   *shape = AkFiltersShape(view->filters, view->permitted);

			view->prefilter = prefilter ? MemoryContextStrdup(entry->context, prefilter) : NULL;
			view->shape = MemoryContextStrdup(entry->context, shape);
		}
		MemoryContextSwitchTo(old);
		MemoryContextDelete(scratch);
		entry->view_ready[context] = true;
	}
	return view;
}
