/*
 * prefilter.c — the GIN index condition of a key's filters: a jsonpath
 * predicate that every row passing the filters satisfies.
 *
 * A prefilter may accept more rows than the filters (the exact filters are
 * rechecked on every row the index returns), never fewer.
 */
#include "postgres.h"

#include "compat.h"
#include "prefilter.h"

#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

static bool
IsIndexableScalar(const JsonbValue *v)
{
	return v->type == jbvString || v->type == jbvNumeric || v->type == jbvBool;
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
		default:
			elog(ERROR, "unexpected jsonb value type %d in prefilter", (int) v->type);
	}
}

static void
AppendJsonpathComparison(StringInfo buf, const AkFilter *f, const JsonbValue *value)
{
	appendStringInfoChar(buf, '$');
	for (int i = 0; i < f->nsegments; i++)
	{
		appendStringInfoChar(buf, '.');
		AkEscapeJson(buf, pnstrdup(f->segments[i], f->segment_lengths[i]));
	}
	appendStringInfoString(buf, " == ");
	AppendJsonpathScalar(buf, value);
}

/*
 * Only eq and in filters on scalars become index conditions.  Lax jsonpath
 * also matches through arrays, so the predicate accepts a superset of the
 * rows the exact filters accept; they are rechecked on every row.
 */
char *
AkFiltersPrefilter(const AkFilterList *list)
{
	StringInfoData buf;
	int			terms = 0;

	initStringInfo(&buf);
	for (int i = 0; i < list->nfilters; i++)
	{
		const AkFilter *f = &list->filters[i];
		bool		usable = false;

		if (f->op == AK_OP_EQ)
			usable = IsIndexableScalar(&f->value);
		else if (f->op == AK_OP_IN && f->nvalues > 0)
		{
			usable = true;
			for (int j = 0; j < f->nvalues; j++)
				usable = usable && IsIndexableScalar(&f->values[j]);
		}
		if (!usable)
			continue;

		if (terms++)
			appendStringInfoString(&buf, " && ");
		if (f->op == AK_OP_EQ)
			AppendJsonpathComparison(&buf, f, &f->value);
		else
		{
			appendStringInfoChar(&buf, '(');
			for (int j = 0; j < f->nvalues; j++)
			{
				if (j)
					appendStringInfoString(&buf, " || ");
				AppendJsonpathComparison(&buf, f, &f->values[j]);
			}
			appendStringInfoChar(&buf, ')');
		}
	}
	return terms ? buf.data : NULL;
}
