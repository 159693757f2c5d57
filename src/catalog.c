/*
 * catalog.c — the extension's own tables: index-ordered reads like catalogs, and
 * writes as the extension's owner.
 */
#include "postgres.h"

#include "compat.h"
#include "catalog.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/pg_class.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "catalog/namespace.h"
#include "nodes/pg_list.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#define AK_SCHEMA "access_key"

Oid
AkCatalogRelidIfExists(const char *relname)
{
	Oid			nsp = get_namespace_oid(AK_SCHEMA, true);

	return OidIsValid(nsp) ? get_relname_relid(relname, nsp) : InvalidOid;
}

Oid
AkCatalogRelid(const char *relname)
{
	Oid			relid = AkCatalogRelidIfExists(relname);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"access_key\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION access_key.")));
	return relid;
}

/*
 * Scans access_key.<relname> by an index (NULL: its primary key); copies up
 * to one or all rows.
 */
static List *
ScanByIndex(const char *relname, const char *index_name, AkCatalogSnapshot which, int nkeys, ScanKey keys,
			bool first_only, TupleDesc *desc)
{
	Relation	rel = table_open(AkCatalogRelid(relname), AccessShareLock);
	/* Named in access_key.sql; RelationGetPrimaryKeyIndex changed in 18. */
	Oid			pkey = get_relname_relid(index_name ? index_name : psprintf("%s_pkey", relname),
										 RelationGetNamespace(rel));
	SysScanDesc scan;
	HeapTuple	tuple;
	List	   *rows = NIL;
	Snapshot	snapshot = NULL;	/* NULL: a fresh one, the relation is no catalog */

	if (which == AK_CATALOG_STATEMENT_SNAPSHOT && ActiveSnapshotSet())
		snapshot = GetActiveSnapshot();
	if (!OidIsValid(pkey))
		elog(ERROR, "primary key index of access_key.%s is missing", relname);
	scan = systable_beginscan(rel, pkey, true, snapshot, nkeys, keys);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		rows = lappend(rows, heap_copytuple(tuple));
		if (first_only)
			break;
	}
	systable_endscan(scan);
	*desc = CreateTupleDescCopy(RelationGetDescr(rel));
	table_close(rel, AccessShareLock);
	return rows;
}

HeapTuple
AkCatalogFetch(const char *relname, AkCatalogSnapshot snapshot, int nkeys, ScanKey keys, TupleDesc *desc)
{
	List	   *rows = ScanByIndex(relname, NULL, snapshot, nkeys, keys, true, desc);

	return rows ? (HeapTuple) linitial(rows) : NULL;
}

HeapTuple
AkCatalogFetchHashed(const char *relname, const char *index_name, AkCatalogSnapshot which,
					 ScanKey key, TupleDesc *desc)
{
	Relation	rel;
	Relation	index;
	Oid			indexoid = get_relname_relid(index_name, get_namespace_oid(AK_SCHEMA, false));
	Snapshot	snapshot;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	ScanKeyData index_key;
	HeapTuple	found = NULL;

	if (!OidIsValid(indexoid))
	{
		List	   *rows;

		key->sk_strategy = BTEqualStrategyNumber;
		rows = ScanByIndex(relname, NULL, which, 1, key, true, desc);
		return rows ? (HeapTuple) linitial(rows) : NULL;
	}

	/*
	 * An index scan, not systable_beginscan: a hash index only narrows the
	 * search to the entries of one hash value, so each row is rechecked.
	 */
	rel = table_open(AkCatalogRelid(relname), AccessShareLock);
	index = index_open(indexoid, AccessShareLock);
	snapshot = (which == AK_CATALOG_STATEMENT_SNAPSHOT && ActiveSnapshotSet())
		? GetActiveSnapshot() : GetCatalogSnapshot(RelationGetRelid(rel));
	snapshot = RegisterSnapshot(snapshot);
	index_key = *key;
	index_key.sk_attno = 1;
	scan = AkIndexBeginScan(rel, index, snapshot, 1);
	index_rescan(scan, &index_key, 1, NULL, 0);
	slot = table_slot_create(rel, NULL);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		value = slot_getattr(slot, key->sk_attno, &isnull);

		if (isnull || !DatumGetBool(FunctionCall2Coll(&key->sk_func, key->sk_collation, value, key->sk_argument)))
			continue;
		found = ExecCopySlotHeapTuple(slot);
		break;
	}
	ExecDropSingleTupleTableSlot(slot);
	index_endscan(scan);
	UnregisterSnapshot(snapshot);
	*desc = CreateTupleDescCopy(RelationGetDescr(rel));
	index_close(index, AccessShareLock);
	table_close(rel, AccessShareLock);
	return found;
}

List *
AkCatalogScan(const char *relname, AkCatalogSnapshot snapshot, TupleDesc *desc)
{
	return ScanByIndex(relname, NULL, snapshot, 0, NULL, false, desc);
}

Datum
AkCatalogColumnIfExists(HeapTuple tuple, TupleDesc desc, const char *column, bool *isnull, bool *exists)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), column) == 0)
		{
			*exists = true;
			return heap_getattr(tuple, i + 1, desc, isnull);
		}
	}
	*exists = false;
	*isnull = true;
	return (Datum) 0;
}

Datum
AkCatalogColumn(HeapTuple tuple, TupleDesc desc, const char *column, bool *isnull)
{
	bool		exists;
	Datum		d = AkCatalogColumnIfExists(tuple, desc, column, isnull, &exists);

	if (!exists)
		elog(ERROR, "column \"%s\" is missing from an access_key table", column);
	return d;
}

Oid
AkExtensionOwner(void)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(AkCatalogRelid("keys")));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for access_key.keys");
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/* Runs sql as the extension's owner; copies the first row returned, if asked. */
static uint64
ExecuteAsOwner(const char *sql, int nargs, Oid *argtypes, Datum *args, const char *nulls,
			   HeapTuple *first_row, TupleDesc *desc, bool latest)
{
	MemoryContext caller = CurrentMemoryContext;
	Oid			owner = AkExtensionOwner();
	Oid			save_userid;
	int			save_sec_context;
	int			nestlevel = NewGUCNestLevel();
	uint64		processed;

	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (latest)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

		if (plan == NULL ||
			SPI_execute_snapshot(plan, args, nulls, GetLatestSnapshot(), InvalidSnapshot, false, false, 0) < 0)
			elog(ERROR, "could not read the access_key tables: %s", sql);
	}
	else if (SPI_execute_with_args(sql, nargs, argtypes, args, nulls, false, 0) < 0)
		elog(ERROR, "could not change the access_key tables: %s", sql);
	processed = SPI_processed;
	if (first_row)
	{
		*first_row = NULL;
		if (SPI_tuptable != NULL && SPI_processed > 0)
		{
			MemoryContext spi = MemoryContextSwitchTo(caller);

			*first_row = heap_copytuple(SPI_tuptable->vals[0]);
			*desc = CreateTupleDescCopy(SPI_tuptable->tupdesc);
			MemoryContextSwitchTo(spi);
		}
	}
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec_context);
	AtEOXact_GUC(true, nestlevel);
	return processed;
}

uint64
AkCatalogExecute(const char *sql, int nargs, Oid *argtypes, Datum *args, const char *nulls)
{
	return ExecuteAsOwner(sql, nargs, argtypes, args, nulls, NULL, NULL, false);
}

HeapTuple
AkCatalogExecuteReturning(const char *sql, int nargs, Oid *argtypes, Datum *args, const char *nulls,
						  TupleDesc *desc)
{
	HeapTuple	row;

	(void) ExecuteAsOwner(sql, nargs, argtypes, args, nulls, &row, desc, false);
	return row;
}

HeapTuple
AkCatalogQueryLatest(const char *sql, int nargs, Oid *argtypes, Datum *args, const char *nulls,
					 TupleDesc *desc)
{
	HeapTuple	row;

	(void) ExecuteAsOwner(sql, nargs, argtypes, args, nulls, &row, desc, true);
	return row;
}
