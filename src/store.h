/*
 * store.h — reading the extension's own tables from C.
 *
 * Keyed sessions run as roles that hold no privileges on the extension's
 * tables; the functions that serve them read those tables directly, by
 * index, like catalogs: no privilege check, no row-level security.  Writes
 * always go through SQL as the tables' owner.
 */
#ifndef ACCESS_KEY_STORE_H
#define ACCESS_KEY_STORE_H

#include "postgres.h"

#include "access/htup.h"
#include "access/skey.h"
#include "access/tupdesc.h"

/* The oid of access_key.<relname>; raises when the extension is missing. */
extern Oid	AkStoreRelid(const char *relname);

/* The same, or InvalidOid (a table added by a later extension version). */
extern Oid	AkStoreRelidIfExists(const char *relname);

/*
 * Which snapshot a read uses.  Results (saved queries, datasets) are read with
 * the calling statement's snapshot, so one statement never mixes two
 * refreshes.  The key store is read with a fresh snapshot: what it reads is
 * cached across transactions, and an older snapshot could cache a key a
 * committed revoke has already invalidated.
 */
typedef enum AkStoreSnapshot
{
	AK_STORE_STATEMENT_SNAPSHOT,
	AK_STORE_LATEST_SNAPSHOT
} AkStoreSnapshot;

/*
 * The row of access_key.<relname> whose leading primary key columns equal
 * the nkeys values (ScanKey attribute numbers are index columns, 1-based),
 * copied into the current memory context, or NULL.  *desc gets a copy of the
 * table's descriptor.
 */
extern HeapTuple AkStoreFetch(const char *relname, AkStoreSnapshot snapshot,
							  int nkeys, ScanKey keys, TupleDesc *desc);

/* Every row of access_key.<relname>, copied, in primary key order. */
extern List *AkStoreScan(const char *relname, AkStoreSnapshot snapshot, TupleDesc *desc);

/* A column of a fetched row by name, or (Datum) 0 with *isnull set. */
extern Datum AkStoreColumn(HeapTuple tuple, TupleDesc desc, const char *column, bool *isnull);

#endif							/* ACCESS_KEY_STORE_H */
