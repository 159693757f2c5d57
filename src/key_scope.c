/*
 * key_scope.c — the collections a key may write to and read, and the event
 * times it may read (see key_scope.h): per-row checks, the timeframe policy
 * conjunct ak_in_timeframe with its planner support, and what stored
 * queries read.
 */
#include "postgres.h"

#include "catalog.h"
#include "collection.h"
#include "collection_name.h"
#include "iso8601.h"
#include "jsonb_util.h"
#include "key_scope.h"
#include "row_filter.h"
#include "session.h"

#include "access/stratnum.h"
#include "access/xact.h"
#include "catalog/partition.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/pathnodes.h"
#include "nodes/supportnodes.h"
#include "parser/parse_func.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(ak_in_timeframe);
PG_FUNCTION_INFO_V1(ak_in_timeframe_support);
PG_FUNCTION_INFO_V1(ak_timeframe_earliest);
PG_FUNCTION_INFO_V1(ak_timeframe_latest);

/* Bumped by every relcache or schema invalidation: names may have changed. */
static uint64 scope_generation = 1;

void
AkKeyScopeRelcacheChanged(void)
{
	scope_generation++;
}

/* Any change to relations or namespaces may rename a collection: recompute scopes. */
static void
InvalidateScopesOnSyscache(Datum arg, int cacheid, uint32 hashvalue)
{
	scope_generation++;
}

void
AkKeyScopeInit(void)
{
	CacheRegisterSyscacheCallback(NAMESPACEOID, InvalidateScopesOnSyscache, (Datum) 0);
}

/* The strings of a validated name list; -1 when the list is absent (every collection). */
static int
CompileNames(JsonbValue *list, char ***names)
{
	JsonbContainer *c;
	int			n;

	*names = NULL;
	if (list == NULL)
		return -1;
	c = list->val.binary.data;
	n = JsonContainerSize(c);
	*names = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(c, i);

		(*names)[i] = pnstrdup(e->val.string.val, e->val.string.len);
	}
	return n;
}

AkKeyScope *
AkCompileKeyScope(AccessKey ak)
{
	AkKeyScope *scope = palloc0(sizeof(AkKeyScope));
	JsonbValue *timeframe = AkSectionMember(ak, AK_SECTION_QUERIES, "timeframe");

	scope->nread = CompileNames(AkSectionMember(ak, AK_SECTION_QUERIES, "collections"), &scope->read);
	scope->nwrite = CompileNames(AkSectionMember(ak, AK_SECTION_WRITES, "collections"), &scope->write);
	if (timeframe)
		scope->timeframes = AkCompileTimeframes(timeframe, &scope->ntimeframes);
	return scope;
}

/* Whether name is one of names[0..n). */
static bool
NameListed(char **names, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/* The decisions for relid, computed once per name generation. */
static const AkScopeMemo *
Memo(AkKeyScope *scope, Oid relid)
{
	uint64		generation = scope_generation;
	AkScopeMemo decision;
	AkScopeMemo *m;
	char	   *name = NULL;

	if (scope->memo_generation != generation)
	{
		scope->nmemo = 0;
		scope->next_slot = 0;
		scope->memo_generation = generation;
	}
	for (int i = 0; i < scope->nmemo; i++)
		if (scope->memo[i].relid == relid)
			return &scope->memo[i];

	/*
	 * Decided before a slot is taken: the catalog lookups can raise (a
	 * canceled lock wait), and a slot already naming relid would keep
	 * another collection's decisions.  They may also process invalidations:
	 * then this answer is used once.
	 */
	decision.relid = relid;
	/* A partition of a protected table is named by its root, as in the catalog. */
	if (scope->nread >= 0 || scope->nwrite >= 0)
		name = AkRelationCollectionName(get_rel_relispartition(relid) ?
										llast_oid(get_partition_ancestors(relid)) : relid);
	decision.readable = scope->nread < 0 || (name && NameListed(scope->read, scope->nread, name));
	decision.writable = scope->nwrite < 0 || (name && NameListed(scope->write, scope->nwrite, name));
	decision.time_from_properties = scope->ntimeframes > 0 && AkFetchCollectionTimeColumn(relid) == NULL;

	m = &scope->memo[scope->next_slot];
	*m = decision;
	scope->next_slot = (scope->next_slot + 1) % AK_SCOPE_MEMO_SIZE;
	scope->nmemo = Min(scope->nmemo + 1, AK_SCOPE_MEMO_SIZE);
	return m;
}

bool
AkScopeMayRead(AkKeyScope *scope, Oid relid)
{
	return scope->nread < 0 || Memo(scope, relid)->readable;
}

/* A relation's name for messages, whether or not it still exists. */
static char *
CollectionLabel(Oid relid)
{
	char	   *name = AkRelationCollectionName(relid);

	return name ? name : psprintf("%u", relid);
}

void
AkRequireReadableCollection(AkKeyScope *scope, Oid relid)
{
	if (AkScopeMayRead(scope, relid))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("access key does not permit reading collection %s", CollectionLabel(relid)),
			 errdetail("The key may read only the collections its options.queries.collections lists.")));
}

void
AkRequireWritableCollection(AkKeyScope *scope, Oid relid)
{
	if (scope->nwrite < 0 || Memo(scope, relid)->writable)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("access key does not permit writing to collection %s", CollectionLabel(relid)),
			 errdetail("The key may write only to the collections its options.writes.collections lists.")));
}

/* The inclusive interval of event times the key may read in this transaction. */
static void
ScopeBounds(AkKeyScope *scope, TimestampTz *earliest, TimestampTz *latest)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	if (!scope->bounds_valid || scope->bounds_for != now)
	{
		AkTimeframeBounds(scope->timeframes, scope->ntimeframes, now, &scope->earliest, &scope->latest);
		scope->bounds_for = now;
		scope->bounds_valid = true;
	}
	*earliest = scope->earliest;
	*latest = scope->latest;
}

bool
AkScopeTimeFromProperties(AkKeyScope *scope, Oid relid)
{
	return scope->ntimeframes > 0 && Memo(scope, relid)->time_from_properties;
}

bool
AkScopePropertiesInTimeframe(AkKeyScope *scope, Jsonb *properties)
{
	JsonbValue *keen;
	JsonbValue *ts;
	TimestampTz t;
	TimestampTz earliest;
	TimestampTz latest;

	if (!JB_ROOT_IS_OBJECT(properties) ||
		(keen = getKeyJsonValueFromContainer(&properties->root, "keen", 4, NULL)) == NULL ||
		!AkIsObject(keen) ||
		(ts = getKeyJsonValueFromContainer(keen->val.binary.data, "timestamp", 9, NULL)) == NULL ||
		ts->type != jbvString ||
		!AkParseIsoTimestamp(ts->val.string.val, ts->val.string.len, &t))
		return false;
	ScopeBounds(scope, &earliest, &latest);
	return earliest <= t && t <= latest;
}

/*
 * ak_in_timeframe(collection, event_time): the SELECT policy conjunct of a
 * collection protected with a time column.  Whether the session's key may
 * read an event of that time; false without a key or without a time, 42501
 * (as ak_filter_row) when the key may not read the collection.
 */
Datum
ak_in_timeframe(PG_FUNCTION_ARGS)
{
	const AkContextView *view;
	TimestampTz t;
	TimestampTz earliest;
	TimestampTz latest;

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	view = AkReadableView(PG_GETARG_OID(0));
	if (view == NULL || PG_ARGISNULL(1))
		PG_RETURN_BOOL(false);
	t = PG_GETARG_TIMESTAMPTZ(1);
	ScopeBounds(view->scope, &earliest, &latest);
	PG_RETURN_BOOL(earliest <= t && t <= latest);
}

/*
 * ak_timeframe_earliest(collection) / ak_timeframe_latest(collection): the
 * inclusive bounds of the event times the session's key may read, for the
 * index condition of ak_in_timeframe: -infinity / infinity without a
 * timeframe, an empty interval (infinity / -infinity) without a key, 42501
 * like ak_in_timeframe, so an index scan refuses as a sequential scan does.
 */
static Datum
TimeframeBound(FunctionCallInfo fcinfo, bool earliest_bound)
{
	const AkContextView *view = AkReadableView(PG_GETARG_OID(0));
	TimestampTz earliest;
	TimestampTz latest;

	if (view == NULL)
		PG_RETURN_TIMESTAMPTZ(earliest_bound ? DT_NOEND : DT_NOBEGIN);
	ScopeBounds(view->scope, &earliest, &latest);
	PG_RETURN_TIMESTAMPTZ(earliest_bound ? earliest : latest);
}

Datum
ak_timeframe_earliest(PG_FUNCTION_ARGS)
{
	return TimeframeBound(fcinfo, true);
}

Datum
ak_timeframe_latest(PG_FUNCTION_ARGS)
{
	return TimeframeBound(fcinfo, false);
}

/* access_key.<name>(regclass) */
static Oid
BoundFunctionOid(const char *name)
{
	List	   *qualified = list_make2(makeString("access_key"), makeString(pstrdup(name)));
	Oid			argtypes[1] = {REGCLASSOID};

	return LookupFuncName(qualified, 1, argtypes, false);
}

/* event_time <op> access_key.<bound>(collection) */
static Expr *
BoundClause(Oid opno, Node *event_time, Node *collection, const char *bound)
{
	Expr	   *call = (Expr *) makeFuncExpr(BoundFunctionOid(bound), TIMESTAMPTZOID,
											 list_make1(copyObject(collection)),
											 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);

	return make_opclause(opno, BOOLOID, false, (Expr *) copyObject(event_time), call,
						 InvalidOid, InvalidOid);
}

/*
 * Planner support for ak_in_timeframe(collection, event_time): when
 * event_time is a column indexed by a B-tree (or BRIN) timestamptz operator
 * class, offer the index conditions
 *   event_time >= ak_timeframe_earliest(collection)
 *   event_time <= ak_timeframe_latest(collection)
 * whose bounds are STABLE calls evaluated when the scan starts, never values
 * frozen into the plan.  Lossy: ak_in_timeframe is still checked per row.
 */
Datum
ak_in_timeframe_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);
	SupportRequestIndexCondition *req;
	FuncExpr   *call;
	Oid			ge;
	Oid			le;

	if (!IsA(rawreq, SupportRequestIndexCondition))
		PG_RETURN_POINTER(NULL);
	req = (SupportRequestIndexCondition *) rawreq;
	if (!IsA(req->node, FuncExpr))
		PG_RETURN_POINTER(NULL);
	call = (FuncExpr *) req->node;
	/* Only for (regclass, timestamptz) calls, whatever a superuser attaches it to. */
	if (list_length(call->args) != 2 || req->indexarg != 1 ||
		exprType(linitial(call->args)) != REGCLASSOID || exprType(lsecond(call->args)) != TIMESTAMPTZOID ||
		(req->index->relam != BTREE_AM_OID && req->index->relam != BRIN_AM_OID))
		PG_RETURN_POINTER(NULL);
	ge = get_opfamily_member(req->opfamily, TIMESTAMPTZOID, TIMESTAMPTZOID, BTGreaterEqualStrategyNumber);
	le = get_opfamily_member(req->opfamily, TIMESTAMPTZOID, TIMESTAMPTZOID, BTLessEqualStrategyNumber);
	if (!OidIsValid(ge) || !OidIsValid(le))
		PG_RETURN_POINTER(NULL);

	req->lossy = true;
	PG_RETURN_POINTER(list_make2(BoundClause(ge, lsecond(call->args), linitial(call->args), "ak_timeframe_earliest"),
								 BoundClause(le, lsecond(call->args), linitial(call->args), "ak_timeframe_latest")));
}

/* The reads column of the stored query's row, or NULL (not recorded). */
static ArrayType *
FetchStoredQueryReads(const char *table, const char *name)
{
	ScanKeyData key;
	TupleDesc	desc;
	HeapTuple	row;
	bool		isnull;
	bool		exists;
	Datum		d;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(name));
	row = AkCatalogFetch(table, AK_CATALOG_STATEMENT_SNAPSHOT, 1, &key, &desc);
	if (row == NULL)
		return NULL;
	d = AkCatalogColumnIfExists(row, desc, "reads", &isnull, &exists);
	return isnull ? NULL : DatumGetArrayTypePCopy(d);
}

void
AkRequireStoredQueryReadable(const char *table, const char *name, const char *what)
{
	const AkContextView *view = AkSessionContextView();
	ArrayType  *reads;
	Datum	   *relids;
	bool	   *nulls;
	int			n;

	if (view == NULL || view->scope->nread < 0)
		return;
	reads = FetchStoredQueryReads(table, name);
	if (reads == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("access key does not permit reading %s \"%s\"", what, name),
				 errdetail("The key may read only some collections, and which collections the %s reads was not recorded.",
						   what),
				 errhint("An admin stores the %s again to record what it reads.", what)));
	deconstruct_array(reads, REGCLASSOID, sizeof(Oid), true, TYPALIGN_INT, &relids, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		Oid			relid = DatumGetObjectId(relids[i]);

		if (nulls[i])
			continue;
		/* A table it read that is gone may have been a collection: refuse. */
		if ((get_rel_name(relid) == NULL ||
			 AkFetchCollection(relid, NULL) == AK_COLLECTION_REGISTERED) &&
			!AkScopeMayRead(view->scope, relid))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("access key does not permit reading collection %s", CollectionLabel(relid)),
					 errdetail("The %s \"%s\" is computed from it, and the key may read only the collections its options.queries.collections lists.",
							   what, name)));
	}
}

void
AkRecordStoredQueryReads(const char *table, const char *name, List *relids)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(list_length(relids), 1));
	int			n = 0;
	ListCell   *lc;
	Oid			types[2] = {TEXTOID, REGCLASSARRAYOID};
	Datum		args[2];

	foreach(lc, relids)
		elems[n++] = ObjectIdGetDatum(lfirst_oid(lc));
	args[0] = CStringGetTextDatum(name);
	args[1] = PointerGetDatum(construct_array(elems, n, REGCLASSOID, sizeof(Oid), true, TYPALIGN_INT));
	AkCatalogExecute(psprintf("UPDATE access_key.%s SET reads = $2 WHERE name OPERATOR(pg_catalog.=) $1",
							  quote_identifier(table)),
					 2, types, args, NULL);
}
