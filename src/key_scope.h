/*
 * key_scope.h — particular streams and tighter timeframes: which protected
 * collections a key may write to (options.writes.collections) and read
 * (options.queries.collections), and which event times it may read
 * (options.queries.timeframe).
 *
 * Both are key-wide: they apply to reads in every filter context (ad-hoc
 * queries and live saved queries), and collections also to cached queries and
 * datasets computed from protected collections.  A scope is compiled once
 * per cached key (with its context views) and answers per row from a small
 * memo: the per-collection decision is recomputed only after a relcache or
 * schema invalidation (a rename), the timeframe bounds only when the
 * transaction changes.  Nothing of it is frozen into a plan: the index
 * conditions of ak_in_timeframe call STABLE functions evaluated at execution.
 *
 * Event time: a timestamptz column named at ak_protect (policy conjunct
 * ak_in_timeframe(collection, column), indexable by a B-tree), else the
 * properties' keen.timestamp (an ISO-8601 string, checked in ak_filter_row).
 * An event without a time is outside every timeframe.
 */
#ifndef ACCESS_KEY_KEY_SCOPE_H
#define ACCESS_KEY_KEY_SCOPE_H

#include "postgres.h"

#include "definition.h"
#include "key_lookup.h"
#include "timeframe.h"

#include "nodes/pg_list.h"
#include "utils/jsonb.h"

/* Decisions remembered per collection. */
#define AK_SCOPE_MEMO_SIZE 8

typedef struct AkScopeMemo
{
	Oid			relid;
	bool		readable;
	bool		writable;
	bool		time_from_properties;	/* no time column: keen.timestamp decides */
} AkScopeMemo;

typedef struct AkKeyScope
{
	int			nread;			/* -1: every collection */
	char	  **read;			/* canonical names */
	int			nwrite;			/* -1: every collection */
	char	  **write;
	int			ntimeframes;
	AkTimeframe *timeframes;

	/* per-collection memo, valid while memo_generation is current */
	uint64		memo_generation;
	int			nmemo;
	int			next_slot;
	AkScopeMemo memo[AK_SCOPE_MEMO_SIZE];

	/* timeframe bounds, valid for the transaction that started at bounds_for */
	bool		bounds_valid;
	TimestampTz bounds_for;
	TimestampTz earliest;
	TimestampTz latest;
} AkKeyScope;

/* Registers the schema invalidation callback that ages the memos; called from _PG_init. */
extern void AkKeyScopeInit(void);

/*
 * Ages the memos after any relcache invalidation (a table may have been
 * renamed); called by the key cache's relcache callback, so the extension
 * takes one of the backend's few relcache callback slots, not two.
 */
extern void AkKeyScopeRelcacheChanged(void);

/* Compiles a (valid) definition's collections and timeframes into the current memory context. */
extern AkKeyScope *AkCompileKeyScope(AccessKey ak);

/* Whether the key may read collection relid (a non-raising check). */
extern bool AkScopeMayRead(AkKeyScope *scope, Oid relid);

/* Raises 42501 naming the collection unless the key may read it. */
extern void AkRequireReadableCollection(AkKeyScope *scope, Oid relid);

/* Raises 42501 naming the collection unless the key may write to it. */
extern void AkRequireWritableCollection(AkKeyScope *scope, Oid relid);

/*
 * For ak_filter_row: whether the key has a timeframe that the rows of
 * collection relid meet by their keen.timestamp property (the collection has
 * no time column; with one, ak_in_timeframe decides).
 */
extern bool AkScopeTimeFromProperties(AkKeyScope *scope, Oid relid);

/* Whether event properties have a keen.timestamp inside the key's timeframe. */
extern bool AkScopePropertiesInTimeframe(AkKeyScope *scope, Jsonb *properties);

/*
 * The stored query (a row of access_key.<table> named name) reads only
 * collections the session's key may read; raises 42501 naming the first it
 * may not (or when what it reads was never recorded).  what names the
 * object in messages ("cached query", "dataset").
 */
extern void AkRequireStoredQueryReadable(const char *table, const char *name, const char *what);

/*
 * Records in access_key.<table> (saved_queries or datasets) the relations
 * (oids, from AkCheckStoredQueryReads) the stored query named name reads,
 * for AkRequireStoredQueryReadable.  Called when it is stored.
 */
extern void AkRecordStoredQueryReads(const char *table, const char *name, List *relids);

#endif							/* ACCESS_KEY_KEY_SCOPE_H */
