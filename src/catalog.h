/*
 * catalog.h — the extension's own tables (access_key.keys, key_tokens,
 * collections, saved_queries, datasets, dataset_results), read and written
 * from C.
 *
 * Keyed sessions run as roles that hold no privileges on these tables; the
 * functions that serve them read the tables directly, by index, like
 * catalogs: no privilege check, no row-level security.  Writes always go
 * through SQL as the extension's owner (AkCatalogExecute), so constraints,
 * triggers and cache invalidation apply.
 */
#ifndef ACCESS_KEY_CATALOG_H
#define ACCESS_KEY_CATALOG_H

#include "postgres.h"

#include "access/htup.h"
#include "access/skey.h"
#include "access/tupdesc.h"

/* The oid of access_key.<relname>; raises when the extension is missing. */
extern Oid	AkCatalogRelid(const char *relname);

/* The same, or InvalidOid (a table added by a later extension version). */
extern Oid	AkCatalogRelidIfExists(const char *relname);

/*
 * Which snapshot a read uses.  Results (saved queries, datasets) are read with
 * the calling statement's snapshot, so one statement never mixes two
 * refreshes.  The key store is read with a fresh snapshot: what it reads is
 * cached across transactions, and an older snapshot could cache a key a
 * committed revoke has already invalidated.
 */
typedef enum AkCatalogSnapshot
{
	AK_CATALOG_STATEMENT_SNAPSHOT,
	AK_CATALOG_LATEST_SNAPSHOT
} AkCatalogSnapshot;

/*
 * The row of access_key.<relname> whose leading primary key columns equal
 * the nkeys values (ScanKey attribute numbers are index columns, 1-based),
 * copied into the current memory context, or NULL.  *desc gets a copy of the
 * table's descriptor.
 */
extern HeapTuple AkCatalogFetch(const char *relname, AkCatalogSnapshot snapshot,
							  int nkeys, ScanKey keys, TupleDesc *desc);

/*
 * The same through the hash index access_key.<index_name> on the column the
 * key names (a heap attribute number, HTEqualStrategyNumber): a lookup costs
 * the same whatever the table's size.  Through the primary key instead
 * (whose first column the key must then be; its strategy is made
 * BTEqualStrategyNumber) when the index does not exist, as in databases
 * still on version 1.0.
 */
extern HeapTuple AkCatalogFetchHashed(const char *relname, const char *index_name, AkCatalogSnapshot snapshot,
									  ScanKey key, TupleDesc *desc);

/* Every row of access_key.<relname>, copied, in primary key order. */
extern List *AkCatalogScan(const char *relname, AkCatalogSnapshot snapshot, TupleDesc *desc);

/* A column of a fetched row by name, or (Datum) 0 with *isnull set. */
extern Datum AkCatalogColumn(HeapTuple tuple, TupleDesc desc, const char *column, bool *isnull);

/* The same for a column a later extension version added: *exists false (and *isnull true) without it. */
extern Datum AkCatalogColumnIfExists(HeapTuple tuple, TupleDesc desc, const char *column, bool *isnull,
									 bool *exists);

/*
 * Runs SQL (a change to the extension's tables, or DDL only the extension
 * may do) as the extension's owner, with search_path pg_catalog, pg_temp, in
 * a security-restricted operation.  nulls as for SPI ('n' = NULL), or NULL.
 */
extern uint64 AkCatalogExecute(const char *sql, int nargs, Oid *argtypes, Datum *args, const char *nulls);

/* The same for a statement with RETURNING: its first row, copied, or NULL. */
extern HeapTuple AkCatalogExecuteReturning(const char *sql, int nargs, Oid *argtypes, Datum *args,
										   const char *nulls, TupleDesc *desc);

/*
 * As AkCatalogExecuteReturning, with the latest snapshot rather than the
 * statement's: rows committed by transactions that ended after this one's
 * snapshot was taken are seen too (even under REPEATABLE READ).
 */
extern HeapTuple AkCatalogQueryLatest(const char *sql, int nargs, Oid *argtypes, Datum *args,
									  const char *nulls, TupleDesc *desc);

/* The role that owns the extension's tables (the one that created it). */
extern Oid	AkExtensionOwner(void);

#endif							/* ACCESS_KEY_CATALOG_H */
