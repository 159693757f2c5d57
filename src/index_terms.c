/*
 * index_terms.c — B-tree (and hash) conditions for a key's filters (see
 * index_terms.h).
 *
 * To the planner, ak_filter_row(collection, properties) is an opaque
 * function of the whole properties value: it cannot use an index on
 * (properties->'customer'->>'id') for it, estimate it from that
 * expression's statistics, or know that the rows it passes share one
 * customer id (so that an index on (customer id, id) delivers them in id
 * order).  When the key presented while planning pins a path that an index
 * covers (eq, in, or an or of those on one path) or bounds it (lt, lte, gt,
 * gte), the support function rewrites the call while planning into the
 * same call AND ordinary quals on the indexed expression:
 *
 *     ak_filter_row(collection, properties, 'eq(11:customer.id:s)', '{1}')
 *     AND ((properties -> 'customer') ->> 'id') = ak_filter_text(collection, 'customer.id')
 *
 * Plans outlive keys: the quals compare with STABLE functions that compute
 * the values from the key running the plan, never with constants.  Each
 * added qual is implied by the filters (filter_facts.c), so it removes no
 * row the filters accept, and the policy call still checks every row —
 * except, for a key of the shape the plan was made for, a filter that a
 * qual checks exactly (index_values.c, ak_filter_row_planned).  What a
 * plan does depend on is the shape of the planning key's filters; cached
 * plans are re-planned when it changes (plan_shape.c), and the value
 * functions refuse to run for a key that does not pin or bound the path
 * (index_values.c).
 *
 * Which expressions count: the leading column of a valid B-tree or hash
 * index, written with ->, ->>, #> or #>> on the properties column, along a
 * path of object keys.  Text (->>, #>>) expressions take eq, in and or on
 * strings and booleans (a number's text varies: 1 and 1.0), and lt, lte,
 * gt and gte on strings when they compare bytewise (COLLATE "C" or
 * text_pattern_ops); jsonb expressions (->, #>) take eq, in and or on any
 * value.
 */
#include "postgres.h"

#include <ctype.h>

#include "compat.h"
#include "filter_facts.h"
#include "index_terms.h"

#include "access/genam.h"
#include "access/relation.h"
#include "access/stratnum.h"
#include "catalog/pg_am.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_opfamily.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/parse_func.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteManip.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

/* ---------- the functions plans call ---------- */

typedef struct PlanFunctionName
{
	const char *name;
	int			nargs;
	Oid			argtypes[4];
} PlanFunctionName;

static const PlanFunctionName plan_function_names[AK_FN_COUNT] = {
	[AK_FN_FILTER_ROW_PLANNED] = {"ak_filter_row", 4, {REGCLASSOID, JSONBOID, TEXTOID, INT4ARRAYOID}},
	[AK_FN_INDEX_PREFILTER_TERMS] = {"ak_index_prefilter", 2, {REGCLASSOID, INT4ARRAYOID}},
	[AK_FN_INDEX_PREFILTER] = {"ak_index_prefilter", 0, {0}},
	[AK_FN_FILTER_TEXT] = {"ak_filter_text", 2, {REGCLASSOID, TEXTOID}},
	[AK_FN_FILTER_TEXTS] = {"ak_filter_texts", 2, {REGCLASSOID, TEXTOID}},
	[AK_FN_FILTER_JSONB] = {"ak_filter_jsonb", 2, {REGCLASSOID, TEXTOID}},
	[AK_FN_FILTER_JSONBS] = {"ak_filter_jsonbs", 2, {REGCLASSOID, TEXTOID}},
	[AK_FN_FILTER_TEXT_LOWER] = {"ak_filter_text_lower", 2, {REGCLASSOID, TEXTOID}},
	[AK_FN_FILTER_TEXT_UPPER] = {"ak_filter_text_upper", 2, {REGCLASSOID, TEXTOID}},
};

static Oid	plan_function_oids[AK_FN_COUNT];
static bool plan_functions_known = false;

/* Any change to pg_proc (including re-creating the extension) forgets the OIDs. */
static void
FunctionsChanged(Datum arg, int cacheid, uint32 hashvalue)
{
	plan_functions_known = false;
}

Oid
AkPlanFunctionOid(AkPlanFunction fn)
{
	static bool callback_registered = false;

	if (!callback_registered)
	{
		CacheRegisterSyscacheCallback(PROCOID, FunctionsChanged, (Datum) 0);
		callback_registered = true;
	}
	if (!plan_functions_known)
	{
		for (int i = 0; i < AK_FN_COUNT; i++)
		{
			const PlanFunctionName *f = &plan_function_names[i];

			plan_function_oids[i] = LookupFuncName(list_make2(makeString("access_key"), makeString((char *) f->name)),
												   f->nargs, f->argtypes, true);
		}
		plan_functions_known = true;
	}
	return plan_function_oids[fn];
}

/* ---------- which paths a table's indexes cover ---------- */

typedef struct IndexedPath
{
	char	   *path;			/* dot-joined property path */
	AttrNumber	attno;			/* of the properties column */
	bool		text_form;		/* ->> or #>>: text; else jsonb */
	Expr	   *expr;			/* the index expression (Vars numbered 1) */
	Oid			opfamily;
	Oid			opcintype;
	Oid			collation;
	bool		ordered;		/* B-tree: ranges; hash: equality only */
	bool		bytewise;		/* text ordered bytewise */
} IndexedPath;

typedef struct TablePaths
{
	Oid			relid;			/* hash key: must be first */
	MemoryContext context;
	List	   *paths;			/* IndexedPath */
} TablePaths;

static HTAB *table_paths = NULL;

/* A relation changed (an index created or dropped, ...): forget what we read of it. */
static void
RelationChanged(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS scan;
	TablePaths *entry;

	if (table_paths == NULL)
		return;
	hash_seq_init(&scan, table_paths);
	while ((entry = hash_seq_search(&scan)) != NULL)
		if (!OidIsValid(relid) || entry->relid == relid)
		{
			MemoryContextDelete(entry->context);
			hash_search(table_paths, &entry->relid, HASH_REMOVE, NULL);
		}
}

static bool
IsPathStep(Oid funcid, bool *text_result, bool *multi)
{
	*text_result = (funcid == F_JSONB_OBJECT_FIELD_TEXT || funcid == F_JSONB_EXTRACT_PATH_TEXT);
	*multi = (funcid == F_JSONB_EXTRACT_PATH || funcid == F_JSONB_EXTRACT_PATH_TEXT);
	return funcid == F_JSONB_OBJECT_FIELD || funcid == F_JSONB_OBJECT_FIELD_TEXT ||
		funcid == F_JSONB_EXTRACT_PATH || funcid == F_JSONB_EXTRACT_PATH_TEXT;
}

/* A key a filter path can name: non-empty, no dot, not starting with $. */
static bool
AppendSegment(StringInfo path, const char *segment, int len)
{
	if (len == 0 || segment[0] == '$' || memchr(segment, '.', len) != NULL)
		return false;
	if (path->len > 0)
		appendStringInfoChar(path, '.');
	appendBinaryStringInfo(path, segment, len);
	return true;
}

/*
 * Whether #> or #>> (jsonb_extract_path) would take a step as an array
 * subscript: on an array it reads the element at strtol(step), where the
 * filter's path, stepping through objects only, finds nothing
 * ({"items": ["a"]} #>> '{items,0}' is 'a', but items.0 eq "a" rejects the
 * row).  An index on such a path selects rows the filter rejects.
 */
static bool
MayStepIntoArray(const char *segment, int len)
{
	int			i = 0;

	while (i < len && isspace((unsigned char) segment[i]))
		i++;
	if (i < len && (segment[i] == '+' || segment[i] == '-'))
		i++;
	if (i == len)
		return false;
	for (; i < len; i++)
		if (!isdigit((unsigned char) segment[i]))
			return false;
	return true;
}

/*
 * Reads expr as a path into a jsonb column: properties -> 'a' ->> 'b',
 * properties #>> '{a,b}', ... ; false for anything else, and for #> or #>>
 * with a step that may subscript an array.
 */
static bool
ParsePathExpression(Node *expr, StringInfo path, AttrNumber *attno, bool *text_form, bool outermost)
{
	List	   *args;
	Oid			funcid;
	bool		text_result;
	bool		multi;
	Const	   *key;

	if (IsA(expr, Var))
	{
		Var		   *var = (Var *) expr;

		if (outermost || var->varlevelsup != 0 || var->varattno <= 0 || var->vartype != JSONBOID)
			return false;
		*attno = var->varattno;
		return true;
	}
	if (IsA(expr, OpExpr))
	{
		funcid = get_opcode(((OpExpr *) expr)->opno);
		args = ((OpExpr *) expr)->args;
	}
	else if (IsA(expr, FuncExpr))
	{
		funcid = ((FuncExpr *) expr)->funcid;
		args = ((FuncExpr *) expr)->args;
	}
	else
		return false;
	if (!IsPathStep(funcid, &text_result, &multi) || list_length(args) != 2 ||
		(text_result && !outermost) || !IsA(lsecond(args), Const))
		return false;
	if (outermost)
		*text_form = text_result;
	if (!ParsePathExpression(linitial(args), path, attno, text_form, false))
		return false;

	key = lsecond_node(Const, args);
	if (key->constisnull)
		return false;
	if (!multi)
		return key->consttype == TEXTOID &&
			AppendSegment(path, VARDATA_ANY(DatumGetPointer(key->constvalue)),
						  VARSIZE_ANY_EXHDR(DatumGetPointer(key->constvalue)));
	else
	{
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		if (key->consttype != TEXTARRAYOID)
			return false;
		deconstruct_array(DatumGetArrayTypeP(key->constvalue), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &nulls, &n);
		for (int i = 0; i < n; i++)
			if (nulls[i] ||
				MayStepIntoArray(VARDATA_ANY(DatumGetPointer(elems[i])), VARSIZE_ANY_EXHDR(DatumGetPointer(elems[i]))) ||
				!AppendSegment(path, VARDATA_ANY(DatumGetPointer(elems[i])),
							   VARSIZE_ANY_EXHDR(DatumGetPointer(elems[i]))))
				return false;
		return n > 0;
	}
}

/* The path the leading column of an open index covers, or NULL. */
static IndexedPath *
IndexedPathOf(Relation index)
{
	Form_pg_index form = index->rd_index;
	IndexedPath *ip;
	StringInfoData path;
	AttrNumber	attno = 0;
	bool		text_form = false;
	List	   *exprs;
	Oid			am = index->rd_rel->relam;

	if (!form->indisvalid || form->indnatts < 1 || form->indkey.values[0] != 0 ||
		(am != BTREE_AM_OID && am != HASH_AM_OID))
		return NULL;
	exprs = RelationGetIndexExpressions(index);
	initStringInfo(&path);
	if (exprs == NIL || !ParsePathExpression(linitial(exprs), &path, &attno, &text_form, true))
		return NULL;

	ip = palloc0(sizeof(IndexedPath));
	ip->path = path.data;
	ip->attno = attno;
	ip->text_form = text_form;
	ip->expr = linitial(exprs);
	ip->opfamily = index->rd_opfamily[0];
	ip->opcintype = index->rd_opcintype[0];
	ip->collation = index->rd_indcollation[0];
	ip->ordered = (am == BTREE_AM_OID);
	if (ip->opcintype != (text_form ? TEXTOID : JSONBOID))
		return NULL;

	/*
	 * Under a nondeterministic collation = is not byte equality ('ACME'
	 * equals 'acme' case-insensitively): a condition on such an index would
	 * select rows the filter rejects.
	 */
	if (text_form && OidIsValid(ip->collation) && !get_collation_isdeterministic(ip->collation))
		return NULL;
	ip->bytewise = text_form && (ip->opfamily == TEXT_PATTERN_BTREE_FAM_OID ||
								 (OidIsValid(ip->collation) && AkCollationIsC(ip->collation)));
	return ip;
}

/* The indexed paths of a table the query has locked. */
static List *
IndexedPathsOf(Oid relid)
{
	TablePaths *entry;
	bool		found;

	if (table_paths == NULL)
	{
		HASHCTL		ctl = {0};

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(TablePaths);
		table_paths = hash_create("access_key indexed paths", 64, &ctl, HASH_ELEM | HASH_BLOBS);
		CacheRegisterRelcacheCallback(RelationChanged, (Datum) 0);
	}
	entry = hash_search(table_paths, &relid, HASH_FIND, NULL);
	if (entry)
		return entry->paths;

	{
		MemoryContext context = AllocSetContextCreate(CacheMemoryContext, "access_key indexed paths",
													  ALLOCSET_SMALL_SIZES);
		MemoryContext old = MemoryContextSwitchTo(context);
		List	   *paths = NIL;
		Relation	rel;
		ListCell   *lc;

		PG_TRY();
		{
			rel = relation_open(relid, NoLock);
			foreach(lc, RelationGetIndexList(rel))
			{
				Relation	index = index_open(lfirst_oid(lc), AccessShareLock);
				IndexedPath *ip = IndexedPathOf(index);

				if (ip)
					paths = lappend(paths, ip);
				index_close(index, NoLock);
			}
			relation_close(rel, NoLock);
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(old);
			MemoryContextDelete(context);
			PG_RE_THROW();
		}
		PG_END_TRY();
		MemoryContextSwitchTo(old);

		/* Opening the indexes may have processed invalidations: look again. */
		entry = hash_search(table_paths, &relid, HASH_ENTER, &found);
		if (found)
			MemoryContextDelete(entry->context);
		entry->context = context;
		entry->paths = paths;
		return paths;
	}
}

/* ---------- the conditions ---------- */

static Const *
TextConst(const char *s)
{
	return makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1, CStringGetTextDatum(s), false, false);
}

/* fn(collection, 'path'): the value function the condition compares with. */
static Expr *
ValueCall(AkPlanFunction fn, Oid rettype, Node *collection, const char *path)
{
	Oid			resultcollid = (rettype == TEXTOID || rettype == TEXTARRAYOID) ? DEFAULT_COLLATION_OID : InvalidOid;

	return (Expr *) makeFuncExpr(AkPlanFunctionOid(fn), rettype,
								 list_make2(copyObject(collection), TextConst(path)),
								 resultcollid, DEFAULT_COLLATION_OID, COERCE_EXPLICIT_CALL);
}

/* The indexed expression over the query's properties Var. */
static Expr *
IndexedExpression(const IndexedPath *ip, const Var *properties)
{
	Expr	   *expr = copyObject(ip->expr);

	if (properties->varno != 1)
		ChangeVarNodes((Node *) expr, 1, properties->varno, 0);
	return expr;
}

static Expr *
Comparison(const IndexedPath *ip, int strategy, Expr *left, Expr *right, bool any)
{
	Oid			opno = get_opfamily_member(ip->opfamily, ip->opcintype, ip->opcintype, strategy);
	Oid			collation = ip->text_form ? ip->collation : InvalidOid;
	Oid			fn;

	if (!OidIsValid(opno))
		return NULL;

	/*
	 * Only the built-in comparisons whose meaning the filters' facts assume:
	 * an operator family of the table owner's may map = to anything.
	 */
	fn = get_opcode(opno);
	if (strategy == (ip->ordered ? BTEqualStrategyNumber : HTEqualStrategyNumber) ? fn != (ip->text_form ? F_TEXTEQ : F_JSONB_EQ)
		: !(ip->text_form && (fn == F_TEXT_GE || fn == F_TEXT_LT || fn == F_TEXT_PATTERN_GE ||
							  fn == F_TEXT_PATTERN_LT)))
		return NULL;
	if (any)
	{
		ScalarArrayOpExpr *saop = makeNode(ScalarArrayOpExpr);

		saop->opno = opno;
		saop->opfuncid = fn;
		saop->useOr = true;
		saop->inputcollid = collation;
		saop->args = list_make2(left, right);
		saop->location = -1;
		return (Expr *) saop;
	}
	else
	{
		OpExpr	   *op = (OpExpr *) make_opclause(opno, BOOLOID, false, left, right, InvalidOid, collation);

		op->opfuncid = fn;
		return (Expr *) op;
	}
}

/* Whether a text expression can carry these values: strings and booleans print as themselves. */
static bool
TextCarries(List *values)
{
	ListCell   *lc;

	foreach(lc, values)
	{
		JsonbValue *v = lfirst(lc);

		if (v->type != jbvString && v->type != jbvBool)
			return false;
	}
	return true;
}

/* expr = value, or expr = ANY (values), when the view pins ip's path. */
static Expr *
PinCondition(const IndexedPath *ip, const Var *properties, Node *collection, const AkFilterList *filters,
			 Bitmapset **expressed)
{
	bool		single = false;
	Bitmapset  *pinning = NULL;
	List	   *values;
	bool		hash = !ip->ordered;
	Expr	   *cond;

	for (int i = 0; i < filters->nfilters; i++)
		if (AkFilterPinsPath(&filters->filters[i], ip->path, NULL))
		{
			pinning = bms_add_member(pinning, i + 1);
			single |= (filters->filters[i].op == AK_OP_EQ);
		}
	if (pinning == NULL || !AkFiltersPathValues(filters, ip->path, &values))
		return NULL;
	if ((ip->text_form && !TextCarries(values)) || (hash && !single))
		return NULL;
	if (ip->text_form)
		cond = Comparison(ip, hash ? HTEqualStrategyNumber : BTEqualStrategyNumber,
						  IndexedExpression(ip, properties),
						  single ? ValueCall(AK_FN_FILTER_TEXT, TEXTOID, collection, ip->path)
						  : ValueCall(AK_FN_FILTER_TEXTS, TEXTARRAYOID, collection, ip->path), !single);
	else
		cond = Comparison(ip, hash ? HTEqualStrategyNumber : BTEqualStrategyNumber,
						  IndexedExpression(ip, properties),
						  single ? ValueCall(AK_FN_FILTER_JSONB, JSONBOID, collection, ip->path)
						  : ValueCall(AK_FN_FILTER_JSONBS, JSONBARRAYOID, collection, ip->path), !single);
	if (cond)
		*expressed = bms_add_members(*expressed, pinning);
	return cond;
}

/*
 * expr >= lower, or expr < upper, when the view bounds ip's path from that
 * side with strings.  Only for text compared bytewise: under row-level
 * security PostgreSQL estimates a range only when its comparison is
 * leakproof (text's is; jsonb's and numeric's are not, and it would take
 * half the rows for one bound and next to none for a pair), and a number's
 * text does not sort as the number.
 */
static Expr *
BoundCondition(const IndexedPath *ip, const Var *properties, Node *collection, const AkFilterList *filters,
			   bool lower, Bitmapset **expressed)
{
	Bitmapset  *bounding = NULL;
	Expr	   *cond;

	if (!ip->ordered || !ip->text_form || !ip->bytewise)
		return NULL;
	for (int i = 0; i < filters->nfilters; i++)
		if (AkFilterBoundsPath(&filters->filters[i], ip->path, lower))
			bounding = bms_add_member(bounding, i + 1);
	if (bounding == NULL)
		return NULL;
	cond = Comparison(ip, lower ? BTGreaterEqualStrategyNumber : BTLessStrategyNumber,
					  IndexedExpression(ip, properties),
					  ValueCall(lower ? AK_FN_FILTER_TEXT_LOWER : AK_FN_FILTER_TEXT_UPPER, TEXTOID, collection,
								ip->path), false);
	if (cond)
		*expressed = bms_add_members(*expressed, bounding);
	return cond;
}

Node *
AkIndexedFilterConditions(PlannerInfo *root, FuncExpr *call, const AkContextView *view)
{
	Node	   *collection;
	Var		   *properties;
	RangeTblEntry *rte;
	List	   *conds = NIL;
	List	   *pinned_paths = NIL;
	Bitmapset  *expressed = NULL;
	ListCell   *lc;
	int			n = 0;
	Datum	   *positions;
	int			position = -1;
	FuncExpr   *planned;

	if (root == NULL || list_length(call->args) != 2 || view->filters->nfilters == 0)
		return NULL;
	collection = linitial(call->args);
	properties = lsecond(call->args);
	if (!IsA(collection, Const) || ((Const *) collection)->constisnull || !IsA(properties, Var) ||
		properties->varlevelsup != 0 || properties->varno < 1 ||
		properties->varno > list_length(root->parse->rtable))
		return NULL;
	rte = rt_fetch(properties->varno, root->parse->rtable);
	if (rte->rtekind != RTE_RELATION)
		return NULL;
	for (int fn = 0; fn < AK_FN_COUNT; fn++)
		if (!OidIsValid(AkPlanFunctionOid(fn)))
			return NULL;		/* the SQL objects are older than the library */

	/*
	 * One equality condition a path: two (a text and a jsonb index on it)
	 * would be estimated as independent, and ANDed for nothing.  B-tree
	 * first (it also orders), then text (it also takes ranges).
	 */
	for (int rank = 3; rank >= 0; rank--)
		foreach(lc, IndexedPathsOf(rte->relid))
		{
			IndexedPath *ip = lfirst(lc);
			Expr	   *cond[3] = {NULL, NULL, NULL};

			if (ip->attno != properties->varattno || (ip->ordered ? 2 : 0) + (ip->text_form ? 1 : 0) != rank)
				continue;
			if (!list_member(pinned_paths, makeString(ip->path)))
			{
				cond[0] = PinCondition(ip, properties, collection, view->filters, &expressed);
				if (cond[0])
					pinned_paths = lappend(pinned_paths, makeString(ip->path));
			}
			cond[1] = BoundCondition(ip, properties, collection, view->filters, true, &expressed);
			cond[2] = BoundCondition(ip, properties, collection, view->filters, false, &expressed);
			/* list_member compares with equal(): several indexes on one expression give one condition. */
			for (int i = 0; i < 3; i++)
				if (cond[i] && !list_member(conds, cond[i]))
					conds = lappend(conds, cond[i]);
		}
	if (conds == NIL)
		return NULL;

	positions = palloc(sizeof(Datum) * bms_num_members(expressed));
	while ((position = bms_next_member(expressed, position)) >= 0)
		positions[n++] = Int32GetDatum(position);
	planned = makeFuncExpr(AkPlanFunctionOid(AK_FN_FILTER_ROW_PLANNED), BOOLOID,
						   list_make4(copyObject(collection), copyObject(properties), TextConst(view->shape),
									  makeConst(INT4ARRAYOID, -1, InvalidOid, -1,
												PointerGetDatum(construct_array(positions, n, INT4OID, sizeof(int32),
																				true, TYPALIGN_INT)),
												false, false)),
						   InvalidOid, DEFAULT_COLLATION_OID, COERCE_EXPLICIT_CALL);
	return (Node *) make_andclause(lcons(planned, conds));
}
