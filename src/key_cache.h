/*
 * key_cache.h — the per-backend cache of resolved keys, by token hash.
 *
 * A pooled backend serves many tenants, each presenting its own token; the
 * cache keeps up to access_key.key_cache_size resolved keys (least recently
 * used evicted first), each with its compiled filters, so switching keys
 * costs a hash of the token and a hash-table probe, not two index probes and
 * a filter compilation.
 *
 * Invalidation is exact: any change to the key tables (the statement
 * triggers send a relcache invalidation to every backend) empties the whole
 * cache before its next use; an invalidation that arrives while a key is
 * being resolved empties it again on the next lookup.  Entries live in their
 * own memory contexts and are freed only by a lookup (eviction or emptying),
 * so a pointer returned by AkKeyCacheLookup stays valid until the next one.
 */
#ifndef ACCESS_KEY_KEY_CACHE_H
#define ACCESS_KEY_KEY_CACHE_H

#include "postgres.h"

#include "filter.h"
#include "key_lookup.h"
#include "token.h"

#include "lib/ilist.h"

/* What a key allows in one filter context, compiled on first use. */
typedef struct AkContextView
{
	AkContext	context;
	bool		permitted;		/* active and the context's action permitted */
	AkFilterList *filters;		/* the context's compiled filters */
	char	   *prefilter;		/* jsonpath for GIN indexes, or NULL */
	struct AkKeyScope *scope;	/* collections and timeframe (key_scope.h) */
	char	   *shape;			/* AkFiltersShape: what cached plans depend on */
} AkContextView;

typedef struct AkCachedKey
{
	uint8		token_hash[AK_TOKEN_HASH_BYTES];	/* hash key: must be first */
	bool		found;			/* false: no key has this token */
	AkStoredKey key;			/* when found */
	bool		active;			/* the definition's is_active */
	AkContextView views[AK_CONTEXT_COUNT];
	bool		view_ready[AK_CONTEXT_COUNT];
	TimestampTz use_noted_at;	/* start of the last transaction noted as a use (last_used.h) */
	MemoryContext context;		/* holds everything of this entry */
	dlist_node	lru;			/* most recently used first */
} AkCachedKey;

/* Defines access_key.key_cache_size and registers the invalidation callback. */
extern void AkKeyCacheInit(void);

/* The entry for a token hash, resolved from the key tables on a miss. */
extern AkCachedKey *AkKeyCacheLookup(const uint8 *token_hash);

/*
 * The entry for a token hash if the cache holds it and it is current, else
 * NULL; never reads the key tables, never allocates, never raises (for GUC
 * assign hooks, plan_shape.c).
 */
extern const AkCachedKey *AkKeyCacheProbe(const uint8 *token_hash);

/* Changes whenever the cache is invalidated: entries older than it are gone. */
extern uint64 AkKeyCacheEpoch(void);

/* The view of a cached (found) key for a context, compiled on first use. */
extern const AkContextView *AkKeyCacheView(AkCachedKey *entry, AkContext context);

#endif							/* ACCESS_KEY_KEY_CACHE_H */
