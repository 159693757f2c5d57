/*
 * store.c — direct, index-ordered reads of the extension's tables.
 */
#include "postgres.h"

#include "compat.h"
#include "store.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "nodes/pg_list.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#define AK_SCHEMA "access_key"

Oid
AkStoreRelidIfExists(const char *relname)
{
	Oid			nsp = get_namespace_oid(AK_SCHEMA, true);

	return OidIsValid(nsp) ? get_relname_relid(relname, nsp) : InvalidOid;
}

Oid
AkStoreRelid(const char *relname)
{
	Oid			relid = AkStoreRelidIfExists(relname);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"access_key\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION access_key.")));
	return relid;
}

/* Scans access_key.<relname> by its primary key; copies up to one or all rows. */
static List *
ScanByPrimaryKey(const char *relname, AkStoreSnapshot which, int nkeys, ScanKey keys,
				 bool first_only, TupleDesc *desc)
{
	Relation	rel = table_open(AkStoreRelid(relname), AccessShareLock);
	/* Named in access_key.sql; RelationGetPrimaryKeyIndex changed in 18. */
	Oid			pkey = get_relname_relid(psprintf("%s_pkey", relname), RelationGetNamespace(rel));
	SysScanDesc scan;
	HeapTuple	tuple;
	List	   *rows = NIL;
	Snapshot	snapshot = NULL;	/* NULL: a fresh one, the relation is no catalog */

	if (which == AK_STORE_STATEMENT_SNAPSHOT && ActiveSnapshotSet())
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
AkStoreFetch(const char *relname, AkStoreSnapshot snapshot, int nkeys, ScanKey keys, TupleDesc *desc)
{
	List	   *rows = ScanByPrimaryKey(relname, snapshot, nkeys, keys, true, desc);

	return rows ? (HeapTuple) linitial(rows) : NULL;
}

List *
AkStoreScan(const char *relname, AkStoreSnapshot snapshot, TupleDesc *desc)
{
	return ScanByPrimaryKey(relname, snapshot, 0, NULL, false, desc);
}

Datum
AkStoreColumn(HeapTuple tuple, TupleDesc desc, const char *column, bool *isnull)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), column) == 0)
			return heap_getattr(tuple, i + 1, desc, isnull);
	}
	elog(ERROR, "column \"%s\" is missing from an access_key table", column);
	return (Datum) 0;
}
