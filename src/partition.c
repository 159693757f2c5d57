/*
 * partition.c — partitioned protected collections (docs/scaling.md#partitioned-collections).
 *
 * Row-level security on a partitioned table applies to queries that name
 * the table, not to queries that name a partition: each partition needs its
 * own policies.  So ak_protect on a partitioned table also protects every
 * partition, and the event trigger access_key_collection_changed protects
 * partitions created later (CREATE TABLE ... PARTITION OF) or attached
 * (ALTER TABLE ... ATTACH PARTITION, which is how pg_partman adds them).
 *
 * Invariants:
 * - Only the root is registered in access_key.collections; a partition
 *   counts as its root (AkFetchCollection).
 * - Every partition of a protected root has RLS enabled, the policies
 *   access_key_select (naming the root: rules are per logical collection)
 *   and access_key_insert, and the statement trigger access_key_append_only;
 *   every leaf partition has the autofill row trigger.  A partitioned table
 *   has no autofill trigger of its own: PostgreSQL would clone it to each new
 *   partition with the privileges of the role that adds the partition, who
 *   may not execute ak_autofill_trigger (nobody but the extension may).
 * - A partition detached from a protected tree stays protected: it becomes
 *   a protected collection of its own (registered, its SELECT policy naming
 *   itself, its own autofill trigger), so detaching old partitions for
 *   archiving never exposes other tenants' rows.  Attached again (to any
 *   protected tree), it is adopted: its own row, SELECT policies and
 *   autofill triggers give way to the new root's.
 * - No partition of a protected tree is a foreign table: row-level security
 *   cannot be enabled on one.  Creating, attaching or protecting one is
 *   refused (the event trigger also fires for CREATE FOREIGN TABLE).
 *
 * Policies and triggers on partitions are created as the extension's owner:
 * the role that runs pg_partman's maintenance need not own the partitions.
 */
#include "postgres.h"

#include "catalog.h"
#include "collection.h"
#include "compat.h"
#include "partition.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_policy.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "tcop/deparse_utility.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(ak_collection_changed);

/*
 * Set while this module changes partitions: the DDL it runs fires the event
 * trigger again, which must then leave it alone.
 */
static bool changing_partitions = false;

void
AkRefusePartition(Oid relid, const char *function)
{
	Oid			root = llast_oid(get_partition_ancestors(relid));

	ereport(ERROR,
			(errcode(ERRCODE_WRONG_OBJECT_TYPE),
			 errmsg("%s is a partition", AkQualifiedName(relid)),
			 errdetail("Partitions are protected and unprotected with their partitioned table."),
			 errhint("Call access_key.%s() on %s.", function, AkQualifiedName(root))));
}

/* Whether the table has the policy of that name. */
static bool
HasPolicy(Oid relid, const char *name)
{
	Relation	rel = table_open(PolicyRelationId, AccessShareLock);
	ScanKeyData keys[2];
	SysScanDesc scan;
	bool		found;

	ScanKeyInit(&keys[0], Anum_pg_policy_polrelid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	ScanKeyInit(&keys[1], Anum_pg_policy_polname, BTEqualStrategyNumber, F_NAMEEQ, CStringGetDatum(name));
	scan = systable_beginscan(rel, PolicyPolrelidPolnameIndexId, true, NULL, 2, keys);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

static bool
HasTrigger(Oid relid, const char *name)
{
	return OidIsValid(get_trigger_oid(relid, name, true));
}

/* Runs DDL as the extension's owner (trigger functions are not executable by PUBLIC). */
static void
Execute(const char *sql)
{
	AkCatalogExecute(sql, 0, NULL, NULL, NULL);
}

/* Every partition of root, at every level, without root itself. */
static List *
PartitionsOf(Oid root)
{
	return list_delete_first(find_all_inheritors(root, NoLock, NULL));
}

/*
 * Raises 42809 for a foreign table in a protected tree: row-level security
 * cannot be enabled on it, so reading it directly would show every row, and
 * it has no autofill trigger, so rows routed to it through the root would
 * skip the key's autofill and its writes.collections.
 */
static void
RefuseForeignPartition(Oid part, Oid root)
{
	ereport(ERROR,
			(errcode(ERRCODE_WRONG_OBJECT_TYPE),
			 errmsg("foreign table %s cannot be a partition of protected collection %s",
					AkQualifiedName(part), AkQualifiedName(root)),
			 errdetail("Row-level security does not apply to foreign tables, and rows routed to one would skip the keys' autofill."),
			 errhint("Keep foreign tables out of protected collections: detach it, or make it a table.")));
}

/*
 * A protected collection of its own that became a partition of the tree (a
 * partition detached earlier and attached again, say) now counts as the
 * root: its catalog row goes, and so do the SELECT policies and autofill
 * triggers naming it or its properties column, at every level below it, so
 * that they are made again for the root.
 */
static void
AdoptCollection(Oid part)
{
	Oid			types[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(part)};
	ListCell   *lc;

	foreach(lc, find_all_inheritors(part, NoLock, NULL))
	{
		Oid			t = lfirst_oid(lc);
		char	   *table = AkQualifiedName(t);

		if (HasPolicy(t, "access_key_select"))
			Execute(psprintf("DROP POLICY access_key_select ON %s", table));
		if (HasTrigger(t, "access_key_autofill"))
			Execute(psprintf("DROP TRIGGER access_key_autofill ON %s", table));
	}
	AkCatalogExecute("DELETE FROM access_key.collections WHERE collection OPERATOR(pg_catalog.=) $1",
					 1, types, args, NULL);
}

/* Gives every partition below root the collection's policies and triggers. */
static void
ProtectPartitions(Oid root, const char *column, const char *time_column)
{
	List	   *partitions = PartitionsOf(root);
	ListCell   *lc;

	foreach(lc, partitions)
	{
		if (get_rel_relkind(lfirst_oid(lc)) == RELKIND_FOREIGN_TABLE)
			RefuseForeignPartition(lfirst_oid(lc), root);
		if (AkCollectionRegisteredItself(lfirst_oid(lc)))
			AdoptCollection(lfirst_oid(lc));
	}
	foreach(lc, partitions)
	{
		Oid			part = lfirst_oid(lc);
		char	   *table = AkQualifiedName(part);

		if (!HasPolicy(part, "access_key_select"))
		{
			Execute(psprintf("ALTER TABLE %s ENABLE ROW LEVEL SECURITY", table));
			Execute(AkSelectPolicySql(table, root, column, time_column));
		}
		if (!HasPolicy(part, "access_key_insert"))
			Execute(AkInsertPolicySql(table));
		if (!HasTrigger(part, "access_key_append_only"))
			Execute(AkAppendOnlyTriggerSql(table));
		if (get_rel_relkind(part) == RELKIND_RELATION && !HasTrigger(part, "access_key_autofill"))
			Execute(AkAutofillTriggerSql(table, column));
	}
}

void
AkUnprotectPartitions(Oid root)
{
	ListCell   *lc;
	bool		was_changing = changing_partitions;

	changing_partitions = true;
	PG_TRY();
	{
	foreach(lc, PartitionsOf(root))
	{
		Oid			part = lfirst_oid(lc);
		char	   *table = AkQualifiedName(part);

		if (HasTrigger(part, "access_key_autofill"))
			Execute(psprintf("DROP TRIGGER access_key_autofill ON %s", table));
		if (HasTrigger(part, "access_key_append_only"))
			Execute(psprintf("DROP TRIGGER access_key_append_only ON %s", table));
		if (HasPolicy(part, "access_key_select"))
			Execute(psprintf("DROP POLICY access_key_select ON %s", table));
		if (HasPolicy(part, "access_key_insert"))
			Execute(psprintf("DROP POLICY access_key_insert ON %s", table));
		if (!AkHasOtherPolicies(part))
			Execute(psprintf("ALTER TABLE %s DISABLE ROW LEVEL SECURITY", table));
	}
	}
	PG_FINALLY();
	{
		changing_partitions = was_changing;
	}
	PG_END_TRY();
}

void
AkProtectPartitions(Oid root, const char *column, const char *time_column)
{
	bool		was_changing = changing_partitions;

	changing_partitions = true;
	PG_TRY();
	{
		ProtectPartitions(root, column, time_column);
	}
	PG_FINALLY();
	{
		changing_partitions = was_changing;
	}
	PG_END_TRY();
}

/* The properties column of root when it is itself a registered collection, else NULL. */
static char *
RegisteredColumn(Oid root)
{
	char	   *column;

	if (get_rel_relispartition(root))
		return NULL;
	if (AkFetchCollection(root, &column) != AK_COLLECTION_REGISTERED)
		return NULL;
	return column;
}

/* The root of relid's partition tree (relid itself when it is no partition). */
static Oid
RootOf(Oid relid)
{
	return get_rel_relispartition(relid) ? llast_oid(get_partition_ancestors(relid)) : relid;
}

/* A table created or changed: protect the partitions of its protected tree. */
static void
TableChanged(Oid relid)
{
	Oid			root;
	char	   *column;

	if (get_rel_relkind(relid) == '\0')
		return;					/* dropped again meanwhile */
	root = RootOf(relid);
	if (get_rel_relkind(root) != RELKIND_PARTITIONED_TABLE || (column = RegisteredColumn(root)) == NULL)
		return;
	ProtectPartitions(root, column, AkFetchCollectionTimeColumn(root));
}

/*
 * A partition detached from parent: if it was part of a protected tree, it
 * becomes a protected collection of its own.
 */
static void
PartitionDetached(Oid relid, Oid parent)
{
	Oid			old_root = RootOf(parent);
	char	   *column = RegisteredColumn(old_root);
	char	   *time_column = AkFetchCollectionTimeColumn(old_root);
	List	   *tables;
	ListCell   *lc;
	Oid			types[3] = {OIDOID, NAMEOID, NAMEOID};
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};

	if (column == NULL || !OidIsValid(relid) || get_rel_relispartition(relid))
		return;					/* not protected, gone, or a detach still pending */
	tables = find_all_inheritors(relid, NoLock, NULL);
	if (!HasPolicy(relid, "access_key_select"))
		return;					/* protection was taken off by hand: leave it */
	foreach(lc, tables)
	{
		char	   *t = AkQualifiedName(lfirst_oid(lc));

		if (HasPolicy(lfirst_oid(lc), "access_key_select"))
			Execute(psprintf("DROP POLICY access_key_select ON %s", t));
		Execute(AkSelectPolicySql(t, relid, column, time_column));
	}
	args[0] = ObjectIdGetDatum(relid);
	args[1] = DirectFunctionCall1(namein, CStringGetDatum(column));
	args[2] = time_column ? DirectFunctionCall1(namein, CStringGetDatum(time_column)) : (Datum) 0;
	nulls[2] = time_column ? ' ' : 'n';
	AkCatalogExecute("INSERT INTO access_key.collections (collection, properties_column, timestamp_column)"
					 " VALUES ($1, $2, $3)", 3, types, args, nulls);
}

/*
 * A protected collection attached to a tree that is not protected would
 * show its every row through the tree's root: row-level security applies
 * to the table a query names.  Refused (a protected tree adopts it instead).
 */
static void
RefuseUnprotectedTree(Oid partition, Oid parent)
{
	char	   *column;
	Oid			root = RootOf(parent);

	if (!OidIsValid(partition) || RegisteredColumn(root) != NULL ||
		AkFetchCollection(partition, &column) != AK_COLLECTION_REGISTERED)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("protected collection \"%s\" cannot be a partition of a table that is not protected",
					AkQualifiedName(partition)),
			 errdetail("Reading through \"%s\" would show every row of it: row-level security applies to the table a query names.",
					   AkQualifiedName(root)),
			 errhint("Protect \"%s\" with access_key.ak_protect() first; its partitions are then protected with it.",
					 AkQualifiedName(root))));
}

/* Handles one collected CREATE TABLE or ALTER TABLE command. */
static void
CommandEnded(CollectedCommand *cmd)
{
	ListCell   *lc;

	if (cmd->type == SCT_Simple)
	{
		if (cmd->d.simple.address.classId == RelationRelationId)
			TableChanged(cmd->d.simple.address.objectId);
		return;
	}
	if (cmd->type != SCT_AlterTable || cmd->d.alterTable.classId != RelationRelationId)
		return;
	foreach(lc, cmd->d.alterTable.subcmds)
	{
		CollectedATSubcmd *sub = lfirst(lc);
		AlterTableCmd *at = (AlterTableCmd *) sub->parsetree;

		if (!IsA(at, AlterTableCmd) ||
			(at->subtype != AT_DetachPartition && at->subtype != AT_AttachPartition) ||
			at->def == NULL || !IsA(at->def, PartitionCmd))
			continue;
		/* The collected address of a detach is empty: the command names the partition. */
		if (at->subtype == AT_DetachPartition)
			PartitionDetached(RangeVarGetRelid(((PartitionCmd *) at->def)->name, NoLock, true),
							  cmd->d.alterTable.objectId);
		else if (at->subtype == AT_AttachPartition)
			RefuseUnprotectedTree(RangeVarGetRelid(((PartitionCmd *) at->def)->name, NoLock, true),
								  cmd->d.alterTable.objectId);
	}
	/* Attached partitions, and anything else that changed the tree. */
	TableChanged(cmd->d.alterTable.objectId);
}

/*
 * ak_collection_changed(): ddl_command_end event trigger for CREATE TABLE
 * and ALTER TABLE.  Protects partitions created in or attached to a
 * protected tree, and keeps detached ones protected.
 */
Datum
ak_collection_changed(PG_FUNCTION_ARGS)
{
	List	   *volatile commands = NIL;
	ListCell   *lc;
	MemoryContext caller = CurrentMemoryContext;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo) ||
		strcmp(((EventTriggerData *) fcinfo->context)->event, "ddl_command_end") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ak_collection_changed() must be called as a ddl_command_end event trigger")));
	if (changing_partitions || !OidIsValid(AkCatalogRelidIfExists("collections")))
		PG_RETURN_VOID();

	changing_partitions = true;
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		/* Runs with the DDL's search_path: the operator is pg_catalog's, whatever that path holds. */
		if (SPI_execute("SELECT command FROM pg_catalog.pg_event_trigger_ddl_commands()"
						" WHERE command_tag OPERATOR(pg_catalog.=) ANY"
						" ('{CREATE TABLE,ALTER TABLE,CREATE FOREIGN TABLE}'::pg_catalog.text[])",
						true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read the DDL commands");
		/* The commands live in the event trigger's state, not in SPI's memory. */
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

			if (!isnull)
			{
				MemoryContext spi = MemoryContextSwitchTo(caller);

				commands = lappend(commands, DatumGetPointer(d));
				MemoryContextSwitchTo(spi);
			}
		}
		SPI_finish();
		foreach(lc, commands)
			CommandEnded(lfirst(lc));
	}
	PG_FINALLY();
	{
		changing_partitions = false;
	}
	PG_END_TRY();
	PG_RETURN_VOID();
}
