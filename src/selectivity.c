/*
 * selectivity.c — how many rows a key's filters let through (see
 * selectivity.h).
 *
 * Estimates may reveal nothing about rows the key cannot see.  PostgreSQL
 * withholds column statistics from operators that are not leakproof on
 * tables under row-level security, because a plan's estimates show what
 * the statistics hold; a child key chooses its own filters, so estimating
 * each filter over every tenant's rows would let a tenant read the
 * distribution of any property through EXPLAIN.  So:
 *   - the filters are run together over the sample ANALYZE keeps of the
 *     properties column (most common values with their frequencies, the
 *     histogram standing for the other rows): the share of sampled rows the
 *     key itself would see, which it can count anyway;
 *   - when it sees none of them, and to rank GIN terms, each filter is
 *     estimated blind: a pinned value (eq, in, an or of them) as the share
 *     of one value among the distinct values the sample suggests for the
 *     path (the Duj1 estimator ANALYZE uses, as PostgreSQL's own estimate of
 *     the added B-tree condition does from the index's statistics); any
 *     other filter by PostgreSQL's default for its kind of operator.
 * What an estimate can show is thus the key's own share of the rows, how
 * often a pinned path is present, and about how many distinct values it
 * holds (docs/security.md).
 */
#include "postgres.h"

#include "filter_facts.h"
#include "key_scope.h"
#include "selectivity.h"

#include "access/htup_details.h"
#include "catalog/pg_statistic.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/selfuncs.h"
#include "utils/syscache.h"

/* Histograms below this size say little (PostgreSQL's generic estimator's threshold). */
#define MIN_HISTOGRAM 10

typedef struct SampleKey
{
	Oid			relid;
	AttrNumber	attnum;
	bool		inh;
} SampleKey;

struct AkPropertySample
{
	bool		valid;			/* statistics exist */
	double		nullfrac;
	int			nmcv;
	Jsonb	  **mcv;
	double	   *mcv_freq;
	double		mcv_total;
	int			nhist;
	Jsonb	  **hist;
};

typedef struct CachedSample
{
	SampleKey	key;			/* hash key: must be first */
	AkPropertySample *sample;	/* in its own context, a child of sample_context */
} CachedSample;

/* Holds the hash table and every cached sample; reset when statistics change. */
static MemoryContext sample_context = NULL;
static HTAB *samples = NULL;
static uint64 statistics_generation = 0;
static bool callback_registered = false;

/* pg_statistic changed (ANALYZE): every cached sample may be stale. */
static void
StatisticsChanged(Datum arg, int cacheid, uint32 hashvalue)
{
	statistics_generation++;
	if (sample_context)
		MemoryContextReset(sample_context);
	samples = NULL;
}

static void
CreateSampleCache(void)
{
	HASHCTL		ctl = {0};

	if (sample_context == NULL)
		sample_context = AllocSetContextCreate(TopMemoryContext, "access_key statistics samples",
											   ALLOCSET_DEFAULT_SIZES);
	ctl.keysize = sizeof(SampleKey);
	ctl.entrysize = sizeof(CachedSample);
	ctl.hcxt = sample_context;
	samples = hash_create("access_key statistics samples", 16, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* Copies a statistics slot's jsonb values (into the current context). */
static Jsonb **
CopyValues(const AttStatsSlot *slot)
{
	Jsonb	  **values = palloc(sizeof(Jsonb *) * Max(slot->nvalues, 1));

	for (int i = 0; i < slot->nvalues; i++)
		values[i] = DatumGetJsonbP(PointerGetDatum(PG_DETOAST_DATUM_COPY(slot->values[i])));
	return values;
}

/* Reads the sample of a column into the current memory context. */
static AkPropertySample *
LoadSample(const SampleKey *key)
{
	AkPropertySample *sample = palloc0(sizeof(AkPropertySample));
	HeapTuple	stats;
	AttStatsSlot slot;

	stats = SearchSysCache3(STATRELATTINH, ObjectIdGetDatum(key->relid),
							Int16GetDatum(key->attnum), BoolGetDatum(key->inh));
	if (!HeapTupleIsValid(stats))
		return sample;
	sample->nullfrac = ((Form_pg_statistic) GETSTRUCT(stats))->stanullfrac;
	if (get_attstatsslot(&slot, stats, STATISTIC_KIND_MCV, InvalidOid,
						 ATTSTATSSLOT_VALUES | ATTSTATSSLOT_NUMBERS))
	{
		if (slot.valuetype == JSONBOID && slot.nvalues == slot.nnumbers)
		{
			sample->nmcv = slot.nvalues;
			sample->mcv = CopyValues(&slot);
			sample->mcv_freq = palloc(sizeof(double) * Max(slot.nnumbers, 1));
			for (int i = 0; i < slot.nnumbers; i++)
			{
				sample->mcv_freq[i] = slot.numbers[i];
				sample->mcv_total += slot.numbers[i];
			}
		}
		free_attstatsslot(&slot);
	}
	if (get_attstatsslot(&slot, stats, STATISTIC_KIND_HISTOGRAM, InvalidOid, ATTSTATSSLOT_VALUES))
	{
		if (slot.valuetype == JSONBOID)
		{
			sample->nhist = slot.nvalues;
			sample->hist = CopyValues(&slot);
		}
		free_attstatsslot(&slot);
	}
	ReleaseSysCache(stats);
	sample->valid = sample->nmcv > 0 || sample->nhist > 0;
	return sample;
}

const AkPropertySample *
AkFetchPropertySample(PlannerInfo *root, Node *properties)
{
	Var		   *var = (Var *) properties;
	RangeTblEntry *rte;
	SampleKey	key = {0};
	CachedSample *cached;
	AkPropertySample *sample;
	MemoryContext context;
	MemoryContext old;
	uint64		generation;

	if (root == NULL || properties == NULL || !IsA(properties, Var) || var->varlevelsup != 0 ||
		var->varattno <= 0 || var->varno < 1 || var->varno > list_length(root->parse->rtable))
		return NULL;
	rte = planner_rt_fetch(var->varno, root);
	if (rte->rtekind != RTE_RELATION)
		return NULL;
	key.relid = rte->relid;
	key.attnum = var->varattno;
	key.inh = rte->inh;

	if (!callback_registered)
	{
		CacheRegisterSyscacheCallback(STATRELATTINH, StatisticsChanged, (Datum) 0);
		callback_registered = true;
	}
	if (samples && (cached = hash_search(samples, &key, HASH_FIND, NULL)) != NULL)
		return cached->sample->valid ? cached->sample : NULL;

	generation = statistics_generation;

	/*
	 * Reading pg_statistic may process invalidations, which reset the cache:
	 * load into a context of our own, and keep it only if none came.
	 */
	context = AllocSetContextCreate(CurrentMemoryContext, "access_key statistics sample", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(context);
	sample = LoadSample(&key);
	MemoryContextSwitchTo(old);
	if (generation == statistics_generation)
	{
		if (samples == NULL)
			CreateSampleCache();
		MemoryContextSetParent(context, sample_context);
		cached = hash_search(samples, &key, HASH_ENTER, NULL);
		cached->sample = sample;
	}
	return sample->valid ? sample : NULL;
}

/* The estimate without statistics, by operator (PostgreSQL's defaults where it has one). */
static double
DefaultSelectivity(const AkFilter *f)
{
	double		s;

	switch (f->op)
	{
		case AK_OP_EQ:
		case AK_OP_CONTAINS:
		case AK_OP_WITHIN:
			return DEFAULT_EQ_SEL;
		case AK_OP_IN:
			return Min(DEFAULT_EQ_SEL * Max(f->nvalues, 1), 0.5);
		case AK_OP_NE:
		case AK_OP_NOT_CONTAINS:
			return 1.0 - DEFAULT_EQ_SEL;
		case AK_OP_LT:
		case AK_OP_LTE:
		case AK_OP_GT:
		case AK_OP_GTE:
			return DEFAULT_INEQ_SEL;
		case AK_OP_EXISTS:
			return f->value.val.boolean ? 0.9 : 0.1;
		case AK_OP_REGEX:
			return DEFAULT_MATCH_SEL;
		case AK_OP_OR:
			s = 1.0;
			for (int i = 0; i < f->noperands; i++)
				s *= 1.0 - DefaultSelectivity(&f->operands[i]);
			return 1.0 - s;
		default:
			return DEFAULT_EQ_SEL;
	}
}

/* The first leaf of f (an or's first operand, recursively): where its path is. */
static const AkFilter *
FirstLeaf(const AkFilter *f)
{
	while (f->op == AK_OP_OR && f->noperands > 0)
		f = &f->operands[0];
	return f;
}

/* Orders scalars for counting distinct values; containers compare structurally. */
static int
CompareJsonValues(const void *a, const void *b)
{
	const JsonbValue *x = *(const JsonbValue *const *) a;
	const JsonbValue *y = *(const JsonbValue *const *) b;

	if (x->type != y->type)
		return (x->type > y->type) - (x->type < y->type);
	switch (x->type)
	{
		case jbvString:
			{
				int			cmp = memcmp(x->val.string.val, y->val.string.val,
										 Min(x->val.string.len, y->val.string.len));

				return cmp ? cmp : (x->val.string.len > y->val.string.len) - (x->val.string.len < y->val.string.len);
			}
		case jbvNumeric:
			return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(x->val.numeric),
													 NumericGetDatum(y->val.numeric)));
		case jbvBool:
			return (int) x->val.boolean - (int) y->val.boolean;
		case jbvBinary:
			return compareJsonbContainers(x->val.binary.data, y->val.binary.data);
		default:
			return 0;
	}
}

/*
 * The share of rows holding one given value at the path of leaf, for a
 * value the histogram never shows: the share of rows that have the path,
 * over the number of distinct values there, estimated from the histogram
 * as ANALYZE does (Haas and Stokes' Duj1).  -1 when the sample says nothing.
 */
static double
UnseenValueShare(PlannerInfo *root, const AkPropertySample *sample, Node *properties, const AkFilter *leaf)
{
	JsonbValue **values = palloc(sizeof(JsonbValue *) * sample->nhist);
	int			n = 0;
	int			distinct = 0;
	int			singletons = 0;
	double		total_rows = 0;
	double		ndistinct;
	Var		   *var = (Var *) properties;

	if (IsA(properties, Var) && var->varno < root->simple_rel_array_size && root->simple_rel_array[var->varno])
		total_rows = root->simple_rel_array[var->varno]->tuples;
	if (total_rows <= 0)
		return -1;

	for (int i = 0; i < sample->nhist; i++)
	{
		JsonbValue *v = palloc(sizeof(JsonbValue));

		if (AkFilterValueAt(leaf, sample->hist[i], v))
			values[n++] = v;
	}
	if (n == 0)
		return 1.0 / total_rows;	/* the path is (nearly) never there */
	qsort(values, n, sizeof(JsonbValue *), CompareJsonValues);
	for (int i = 0; i < n;)
	{
		int			j = i + 1;

		while (j < n && CompareJsonValues(&values[i], &values[j]) == 0)
			j++;
		distinct++;
		if (j - i == 1)
			singletons++;
		i = j;
	}
	/* Duj1: n*d / (n - f1 + f1*n/N); every value seen once means "mostly distinct". */
	ndistinct = (double) n * distinct / ((double) (n - singletons) + (double) singletons * n / total_rows);
	ndistinct = Max(ndistinct, distinct);
	ndistinct = Min(ndistinct, total_rows);
	return ((double) n / sample->nhist) / ndistinct;
}

Selectivity
AkEstimateFilter(PlannerInfo *root, const AkPropertySample *sample, Node *properties, const AkFilter *f)
{
	List	   *pinned;

	if (sample != NULL && sample->nhist >= MIN_HISTOGRAM &&
		AkFilterPinsPath(f, FirstLeaf(f)->property_name, &pinned))
	{
		double		share = UnseenValueShare(root, sample, properties, FirstLeaf(f));

		if (share >= 0)
			return Max(0.0001, Min(1.0, share * list_length(pinned) * (1.0 - sample->nullfrac)));
	}
	return DefaultSelectivity(f);
}

/* The product of the blind estimates of the filters not in skip. */
Selectivity
AkEstimateFiltersBlind(PlannerInfo *root, const AkPropertySample *sample, Node *properties,
					   const AkFilterList *list, const Bitmapset *skip)
{
	Selectivity s = 1.0;

	for (int i = 0; i < list->nfilters; i++)
		if (!bms_is_member(i + 1, skip))
			s *= AkEstimateFilter(root, sample, properties, &list->filters[i]);
	return s;
}

/* Whether the key would see a sampled row: its filters, and its keen.timestamp timeframe if given. */
static bool
SampledRowSeen(const AkFilterList *list, AkKeyScope *timeframe, Jsonb *row)
{
	return AkFiltersMatch(list, row) && (timeframe == NULL || AkScopePropertiesInTimeframe(timeframe, row));
}

Selectivity
AkEstimateFilters(PlannerInfo *root, const AkPropertySample *sample, Node *properties,
				  const AkFilterList *list, const Bitmapset *skip, AkKeyScope *timeframe)
{
	double		mcv_share = 0;
	int			matches = 0;
	Selectivity seen;
	int			member;

	if (sample == NULL || sample->nhist < MIN_HISTOGRAM)
		return AkEstimateFiltersBlind(root, sample, properties, list, skip);

	/* Every filter at once: the sampled rows the key itself would see. */
	for (int i = 0; i < sample->nmcv; i++)
		if (SampledRowSeen(list, timeframe, sample->mcv[i]))
			mcv_share += sample->mcv_freq[i];
	for (int i = 0; i < sample->nhist; i++)
		if (SampledRowSeen(list, timeframe, sample->hist[i]))
			matches++;
	/* It sees none of them: the sample tells nothing more. */
	if (mcv_share == 0 && matches == 0)
		return AkEstimateFiltersBlind(root, sample, properties, list, skip);

	seen = mcv_share + ((double) matches / sample->nhist) * (1.0 - sample->nullfrac - sample->mcv_total);
	seen = Max(0.0001, Min(1.0, seen));
	/* The planner estimates the index conditions on skipped filters itself: their share is divided out. */
	member = -1;
	while ((member = bms_next_member(skip, member)) >= 0)
		if (member >= 1 && member <= list->nfilters)
			seen /= AkEstimateFilter(root, sample, properties, &list->filters[member - 1]);
	return Min(1.0, seen);
}

static double
FilterCostUnits(const AkFilter *f)
{
	double		units = 0;

	switch (f->op)
	{
		case AK_OP_OR:
			for (int i = 0; i < f->noperands; i++)
				units += FilterCostUnits(&f->operands[i]);
			return units;
		case AK_OP_REGEX:
			return 10;			/* text to wide characters, then the regex engine */
		case AK_OP_WITHIN:
			return 5;			/* trigonometry */
		case AK_OP_CONTAINS:
		case AK_OP_NOT_CONTAINS:
			return 2;			/* a substring or array scan */
		case AK_OP_IN:
			return 1 + f->nvalues / 8.0;
		default:
			return 1;			/* a path lookup and one comparison */
	}
}

double
AkFiltersCostUnits(const AkFilterList *list)
{
	double		units = 1;		/* the call, finding the session's key */

	for (int i = 0; i < list->nfilters; i++)
		units += FilterCostUnits(&list->filters[i]);
	return units;
}
