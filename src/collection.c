/*
 * collection.c — protected event collections: ak_protect/ak_unprotect, the
 * access_key.collections catalog, and the append-only guard.
 *
 * Invariant: a table has a row in access_key.collections exactly while
 * ak_protect's policies and triggers are on it.  Both are written in the
 * caller's transaction, and an sql_drop event trigger removes the row of a
 * dropped table, so the catalog never names a table that is not protected.
 */
#include "postgres.h"

#include "collection.h"
#include "compat.h"
#include "session.h"
#include "catalog.h"
#include "jsonb_util.h"
#include "partition.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_policy.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(ak_forbid_keyed_changes);
PG_FUNCTION_INFO_V1(ak_protect);
PG_FUNCTION_INFO_V1(ak_unprotect);
PG_FUNCTION_INFO_V1(ak_collection_dropped);

/* The catalog row of relid itself (not of its partition root), or NULL. */
static HeapTuple
FetchOwnCollectionRow(Oid relid, TupleDesc *desc)
{
	ScanKeyData key;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	return AkCatalogFetch("collections", AK_CATALOG_LATEST_SNAPSHOT, 1, &key, desc);
}

bool
AkCollectionRegisteredItself(Oid relid)
{
	TupleDesc	desc;

	return OidIsValid(AkCatalogRelidIfExists("collections")) && FetchOwnCollectionRow(relid, &desc) != NULL;
}

/* The catalog row of relid (or of its partition root), or NULL. */
static HeapTuple
FetchCollectionRow(Oid relid, TupleDesc *desc)
{
	HeapTuple	row = FetchOwnCollectionRow(relid, desc);

	/* A partition of a protected table counts as its root. */
	if (row == NULL && get_rel_relispartition(relid))
		row = FetchOwnCollectionRow(llast_oid(get_partition_ancestors(relid)), desc);
	return row;
}

char *
AkFetchCollectionTimeColumn(Oid relid)
{
	TupleDesc	desc;
	HeapTuple	row;
	bool		isnull;
	bool		exists;
	Datum		d;

	if (!OidIsValid(AkCatalogRelidIfExists("collections")) || (row = FetchCollectionRow(relid, &desc)) == NULL)
		return NULL;
	d = AkCatalogColumnIfExists(row, desc, "timestamp_column", &isnull, &exists);
	return isnull ? NULL : pstrdup(NameStr(*DatumGetName(d)));
}

AkCollectionLookup
AkFetchCollection(Oid relid, char **properties_column)
{
	TupleDesc	desc;
	HeapTuple	row;
	bool		isnull;

	if (!OidIsValid(AkCatalogRelidIfExists("collections")))
		return AK_COLLECTION_NO_CATALOG;
	row = FetchCollectionRow(relid, &desc);
	if (row == NULL)
		return AK_COLLECTION_NOT_REGISTERED;
	if (properties_column)
		*properties_column = pstrdup(NameStr(*DatumGetName(AkCatalogColumn(row, desc, "properties_column",
																		  &isnull))));
	return AK_COLLECTION_REGISTERED;
}

List *
AkCollectionRelids(void)
{
	TupleDesc	desc;
	List	   *rows = AkCatalogScan("collections", AK_CATALOG_STATEMENT_SNAPSHOT, &desc);
	List	   *relids = NIL;
	ListCell   *lc;
	bool		isnull;

	foreach(lc, rows)
		relids = lappend_oid(relids, DatumGetObjectId(AkCatalogColumn(lfirst(lc), desc, "collection", &isnull)));
	return relids;
}

void
AkTriggerMisused(const char *function, const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
			 errmsg("%s %s", function, problem),
			 errhint("Only access_key.ak_protect() sets up the triggers of a protected collection.")));
}

/*
 * ak_forbid_keyed_changes(): BEFORE UPDATE OR DELETE OR TRUNCATE statement
 * trigger.  Row-level security already hides every row from UPDATE and
 * DELETE (there is no policy for them); this turns the silent "0 rows" into
 * a clear error, and stops TRUNCATE, which RLS does not cover.  Roles that
 * RLS does not apply to (owners, BYPASSRLS) are unaffected.
 */
Datum
ak_forbid_keyed_changes(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	const char *what;

	if (!CALLED_AS_TRIGGER(fcinfo))
		AkTriggerMisused("ak_forbid_keyed_changes()", "must be called as a trigger");
	if (!TRIGGER_FIRED_BEFORE(td->tg_event) || !TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) ||
		TRIGGER_FIRED_BY_INSERT(td->tg_event))
		AkTriggerMisused("ak_forbid_keyed_changes()",
					   "must be fired BEFORE UPDATE OR DELETE OR TRUNCATE FOR EACH STATEMENT");
	if (AkFetchCollection(RelationGetRelid(td->tg_relation), NULL) == AK_COLLECTION_NOT_REGISTERED)
		AkTriggerMisused("ak_forbid_keyed_changes()",
					   psprintf("fired on table \"%s\", which is not a protected collection",
								RelationGetRelationName(td->tg_relation)));
	if (!AkSessionPresentsKey() ||
		check_enable_rls(RelationGetRelid(td->tg_relation), InvalidOid, true) != RLS_ENABLED)
		return PointerGetDatum(NULL);

	what = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? "update" :
		TRIGGER_FIRED_BY_DELETE(td->tg_event) ? "delete from" : "truncate";
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("access keys cannot %s protected collection \"%s\"",
					what, RelationGetRelationName(td->tg_relation)),
			 errdetail("Events in a protected collection are append-only for sessions that present a key.")));
	return PointerGetDatum(NULL);
}

/* ---------- ak_protect / ak_unprotect ---------- */

/* Runs one utility statement through SPI as the current user. */
static void
ExecuteDdl(const char *sql)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(sql, false, 0) < 0)
		elog(ERROR, "could not execute: %s", sql);
	SPI_finish();
}

/*
 * Checks that the caller may protect or unprotect relid — no key presented,
 * owner of the table — and locks it as ALTER TABLE would.  Ownership is
 * checked before the lock, so nobody can queue a lock on a table they do
 * not own.
 */
static void
LockCollectionForDdl(Oid relid, const char *function)
{
	AkRequireNoSessionKey(function);
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	if (!AkOwnsRelation(relid))
		aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(get_rel_relkind(relid)),
					   get_rel_name(relid));
	/* Not table_open: the DDL below must find no reference to it in use. */
	LockRelationOid(relid, AccessExclusiveLock);
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
}

char *
AkQualifiedName(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid));
}

/*
 * The USING expression of the SELECT policy: the key's filters (and
 * collections, and keen.timestamp timeframes); with a time column, also the
 * timeframe on that column, which a B-tree index on it can serve.
 */
static char *
SelectPolicyUsing(Oid relid, const char *properties_column, const char *time_column)
{
	char	   *filter_row = psprintf("access_key.ak_filter_row('%u'::pg_catalog.regclass, %s)",
									  relid, quote_identifier(properties_column));

	if (time_column == NULL)
		return filter_row;
	return psprintf("%s AND access_key.ak_in_timeframe('%u'::pg_catalog.regclass, %s)",
					filter_row, relid, quote_identifier(time_column));
}

char *
AkSelectPolicySql(const char *table, Oid collection, const char *column, const char *time_column)
{
	return psprintf("CREATE POLICY access_key_select ON %s FOR SELECT USING (%s)",
					table, SelectPolicyUsing(collection, column, time_column));
}

char *
AkInsertPolicySql(const char *table)
{
	return psprintf("CREATE POLICY access_key_insert ON %s FOR INSERT"
					" WITH CHECK (access_key.ak_permits('writes'))", table);
}

char *
AkAutofillTriggerSql(const char *table, const char *column)
{
	return psprintf("CREATE TRIGGER access_key_autofill BEFORE INSERT ON %s FOR EACH ROW"
					" EXECUTE FUNCTION access_key.ak_autofill_trigger(%s)", table, quote_literal_cstr(column));
}

char *
AkAppendOnlyTriggerSql(const char *table)
{
	return psprintf("CREATE TRIGGER access_key_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON %s"
					" FOR EACH STATEMENT EXECUTE FUNCTION access_key.ak_forbid_keyed_changes()", table);
}

/*
 * ak_protect's optional timestamp_column (argument 2, absent when called
 * through 1.0's two-argument declaration): NULL, or a timestamptz column of
 * the table, which then holds the events' time for key timeframes.
 */
static char *
TimeColumnArg(FunctionCallInfo fcinfo, Oid relid, const char *table)
{
	char	   *column;
	AttrNumber	attnum;

	if (PG_NARGS() < 3 || PG_ARGISNULL(2))
		return NULL;
	column = NameStr(*PG_GETARG_NAME(2));
	attnum = get_attnum(relid, column);
	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation %s does not exist", column, table),
				 errhint("Name the timestamptz column holding each event's time as timestamp_column, or leave it out to use the keen.timestamp property.")));
	if (get_atttype(relid, attnum) != TIMESTAMPTZOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of relation %s is of type %s, not timestamp with time zone",
						column, table, format_type_be(get_atttype(relid, attnum))),
				 errhint("Key timeframes compare event times as timestamptz; convert the column with ALTER TABLE ... TYPE timestamptz.")));
	return column;
}

/*
 * ak_protect(collection regclass, properties_column name, timestamp_column
 * name): row-level security with the two policies, the autofill and
 * append-only triggers, and a row in access_key.collections.  The caller must own the table; the
 * triggers are created as the extension's owner, because their functions
 * are not executable by PUBLIC (anyone who could attach them could point
 * them at tables that are not collections).
 */
Datum
ak_protect(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *column;
	char	   *table;
	char		relkind;
	AttrNumber	attnum;
	char	   *time_column;
	Oid			types[3] = {OIDOID, NAMEOID, NAMEOID};
	Datum		args[3];

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the collection and its properties column must not be null")));
	relid = PG_GETARG_OID(0);
	column = NameStr(*PG_GETARG_NAME(1));
	LockCollectionForDdl(relid, "ak_protect");
	table = AkQualifiedName(relid);
	relkind = get_rel_relkind(relid);

	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s is not a table", table)));
	/* A partition is protected with its tree: see src/partition.c. */
	if (get_rel_relispartition(relid))
		AkRefusePartition(relid, "ak_protect");
	attnum = get_attnum(relid, column);
	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation %s does not exist", column, table),
				 errhint("Name the jsonb column holding event properties as the second argument.")));
	if (get_atttype(relid, attnum) != JSONBOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of relation %s is of type %s, not jsonb",
						column, table, format_type_be(get_atttype(relid, attnum)))));
	time_column = TimeColumnArg(fcinfo, relid, table);
	if (AkFetchCollection(relid, NULL) == AK_COLLECTION_REGISTERED)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("collection %s is already protected", table),
				 errhint("Call access_key.ak_unprotect() first to change its properties column.")));

	/* What the owner may do, as the owner. */
	ExecuteDdl(psprintf("ALTER TABLE %s ENABLE ROW LEVEL SECURITY", table));
	ExecuteDdl(AkSelectPolicySql(table, relid, column, time_column));
	ExecuteDdl(AkInsertPolicySql(table));

	/* The triggers and the catalog row, as the extension's owner. */
	/*
	 * Not on a partitioned table: PostgreSQL would clone it to each new
	 * partition as the role adding it, which may not execute the function.
	 * Its leaf partitions get their own (src/partition.c).
	 */
	if (relkind != RELKIND_PARTITIONED_TABLE)
		AkCatalogExecute(AkAutofillTriggerSql(table, column), 0, NULL, NULL, NULL);
	AkCatalogExecute(AkAppendOnlyTriggerSql(table), 0, NULL, NULL, NULL);
	args[0] = ObjectIdGetDatum(relid);
	args[1] = PG_GETARG_DATUM(1);
	if (time_column == NULL)
		AkCatalogExecute("INSERT INTO access_key.collections (collection, properties_column) VALUES ($1, $2)",
						 2, types, args, NULL);
	else
	{
		args[2] = PG_GETARG_DATUM(2);
		AkCatalogExecute("INSERT INTO access_key.collections (collection, properties_column, timestamp_column)"
						 " VALUES ($1, $2, $3)", 3, types, args, NULL);
	}
	if (relkind == RELKIND_PARTITIONED_TABLE)
		AkProtectPartitions(relid, column, time_column);
	PG_RETURN_VOID();
}

bool
AkHasOtherPolicies(Oid relid)
{
	Relation	rel = table_open(PolicyRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		found = false;

	ScanKeyInit(&key, Anum_pg_policy_polrelid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, PolicyPolrelidPolnameIndexId, true, NULL, 1, &key);
	while (!found && HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		const char *name = NameStr(((Form_pg_policy) GETSTRUCT(tuple))->polname);

		found = strcmp(name, "access_key_select") != 0 && strcmp(name, "access_key_insert") != 0;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/* ak_unprotect(collection regclass): undoes ak_protect. */
Datum
ak_unprotect(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *table;
	Oid			types[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(relid)};

	LockCollectionForDdl(relid, "ak_unprotect");
	table = AkQualifiedName(relid);
	if (get_rel_relispartition(relid))
		AkRefusePartition(relid, "ak_unprotect");
	if (AkFetchCollection(relid, NULL) != AK_COLLECTION_REGISTERED)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("collection %s is not protected", table)));

	if (get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE)
		AkCatalogExecute(psprintf("DROP TRIGGER IF EXISTS access_key_autofill ON %s", table), 0, NULL, NULL, NULL);
	AkCatalogExecute(psprintf("DROP TRIGGER IF EXISTS access_key_append_only ON %s", table), 0, NULL, NULL, NULL);
	AkCatalogExecute("DELETE FROM access_key.collections WHERE collection OPERATOR(pg_catalog.=) $1",
				 1, types, args, NULL);
	ExecuteDdl(psprintf("DROP POLICY IF EXISTS access_key_select ON %s", table));
	ExecuteDdl(psprintf("DROP POLICY IF EXISTS access_key_insert ON %s", table));
	if (get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE)
		AkUnprotectPartitions(relid);
	/* The table's own policies, if any, keep applying. */
	if (!AkHasOtherPolicies(relid))
		ExecuteDdl(psprintf("ALTER TABLE %s DISABLE ROW LEVEL SECURITY", table));
	PG_RETURN_VOID();
}

/*
 * ak_collection_dropped(): sql_drop event trigger.  Forgets dropped tables,
 * so a later table that happens to get the same oid is not taken for a
 * protected collection.
 */
Datum
ak_collection_dropped(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_EVENT_TRIGGER(fcinfo) ||
		strcmp(((EventTriggerData *) fcinfo->context)->event, "sql_drop") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ak_collection_dropped() must be called as an sql_drop event trigger")));
	AkCatalogExecute("DELETE FROM access_key.collections AS c"
				 " USING pg_catalog.pg_event_trigger_dropped_objects() AS d"
				 " WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass"
				 " AND d.objsubid OPERATOR(pg_catalog.=) 0"
				 " AND c.collection::pg_catalog.oid OPERATOR(pg_catalog.=) d.objid",
				 0, NULL, NULL, NULL);
	PG_RETURN_VOID();
}
