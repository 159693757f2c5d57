/*
 * prefilter.c — the GIN index condition of a key's filters: a jsonpath
 * predicate that every row passing the filters satisfies.
 *
 * A prefilter may accept more rows than the filters (the exact filters are
 * rechecked on every row the index returns), never fewer.  Lax jsonpath
 * matches through arrays ($.a.b == 1 also holds for {"a": [{"b": 1}]} and
 * {"a": {"b": [1]}}), and == compares numbers numerically, as eq does; so
 * each term accepts a superset of the rows its filter accepts:
 *   eq V (a scalar)            $.p == V
 *   in [V1, V2]                ($.p == V1 || $.p == V2)
 *   contains V (not a string)  $.p == V      (an array holding V)
 *   exists true                exists($.p)   (useful with jsonb_ops only)
 *   or                         (term || term), when every operand has one
 */
#include "postgres.h"

#include "compat.h"
#include "prefilter.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

static bool
IsScalar(const JsonbValue *v)
{
	return v->type == jbvString || v->type == jbvNumeric || v->type == jbvBool || v->type == jbvNull;
}

bool
AkFilterIndexable(const AkFilter *f, bool keys_indexed)
{
	check_stack_depth();
	switch (f->op)
	{
		case AK_OP_EQ:
			return IsScalar(&f->value);
		case AK_OP_IN:
			if (f->nvalues == 0)
				return false;
			for (int i = 0; i < f->nvalues; i++)
				if (!IsScalar(&f->values[i]))
					return false;
			return true;
		case AK_OP_CONTAINS:
			/* A string also matches strings containing it: no GIN term for that. */
			return IsScalar(&f->value) && f->value.type != jbvString;
		case AK_OP_EXISTS:
			return keys_indexed && f->value.val.boolean;
		case AK_OP_OR:
			if (f->noperands == 0)
				return false;
			for (int i = 0; i < f->noperands; i++)
				if (!AkFilterIndexable(&f->operands[i], keys_indexed))
					return false;
			return true;
		default:
			return false;
	}
}

static void
AppendJsonpathScalar(StringInfo buf, const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			AkEscapeJson(buf, pnstrdup(v->val.string.val, v->val.string.len));
			break;
		case jbvNumeric:
			appendStringInfoString(buf, DatumGetCString(DirectFunctionCall1(numeric_out,
																			NumericGetDatum(v->val.numeric))));
			break;
		case jbvBool:
			appendStringInfoString(buf, v->val.boolean ? "true" : "false");
			break;
		case jbvNull:
			appendStringInfoString(buf, "null");
			break;
		default:
			elog(ERROR, "unexpected jsonb value type %d in prefilter", (int) v->type);
	}
}

static void
AppendJsonpathPath(StringInfo buf, const AkFilter *f)
{
	appendStringInfoChar(buf, '$');
	for (int i = 0; i < f->nsegments; i++)
	{
		appendStringInfoChar(buf, '.');
		AkEscapeJson(buf, pnstrdup(f->segments[i], f->segment_lengths[i]));
	}
}

static void
AppendJsonpathComparison(StringInfo buf, const AkFilter *f, const JsonbValue *value)
{
	AppendJsonpathPath(buf, f);
	appendStringInfoString(buf, " == ");
	AppendJsonpathScalar(buf, value);
}

/* The term of an indexable filter (AkFilterIndexable with keys_indexed). */
static void
AppendTerm(StringInfo buf, const AkFilter *f)
{
	check_stack_depth();
	switch (f->op)
	{
		case AK_OP_EQ:
		case AK_OP_CONTAINS:
			AppendJsonpathComparison(buf, f, &f->value);
			break;
		case AK_OP_IN:
			appendStringInfoChar(buf, '(');
			for (int j = 0; j < f->nvalues; j++)
			{
				if (j)
					appendStringInfoString(buf, " || ");
				AppendJsonpathComparison(buf, f, &f->values[j]);
			}
			appendStringInfoChar(buf, ')');
			break;
		case AK_OP_EXISTS:
			appendStringInfoString(buf, "exists(");
			AppendJsonpathPath(buf, f);
			appendStringInfoChar(buf, ')');
			break;
		case AK_OP_OR:
			appendStringInfoChar(buf, '(');
			for (int j = 0; j < f->noperands; j++)
			{
				if (j)
					appendStringInfoString(buf, " || ");
				AppendTerm(buf, &f->operands[j]);
			}
			appendStringInfoChar(buf, ')');
			break;
		default:
			elog(ERROR, "filter operator %d gives no prefilter term", (int) f->op);
	}
}

static void
AppendConjunct(StringInfo buf, int *terms, const AkFilter *f, bool keys_indexed)
{
	if (!AkFilterIndexable(f, keys_indexed))
		return;
	if ((*terms)++)
		appendStringInfoString(buf, " && ");
	AppendTerm(buf, f);
}

char *
AkFiltersPrefilter(const AkFilterList *list)
{
	StringInfoData buf;
	int			terms = 0;

	initStringInfo(&buf);
	for (int i = 0; i < list->nfilters; i++)
		AppendConjunct(&buf, &terms, &list->filters[i], false);
	return terms ? buf.data : NULL;
}

char *
AkFiltersPrefilterAt(const AkFilterList *list, const int *positions, int npositions)
{
	StringInfoData buf;
	int			terms = 0;

	initStringInfo(&buf);
	for (int i = 0; i < npositions; i++)
		if (positions[i] >= 1 && positions[i] <= list->nfilters)
			AppendConjunct(&buf, &terms, &list->filters[positions[i] - 1], true);
	return terms ? buf.data : NULL;
}
