/*
 * filter_eval.c — compiling and evaluating filters (SPEC §4).
 *
 * Semantics, for the event's value v at the filter's path and the filter's
 * value V:
 *   a missing v matches nothing except exists: false;
 *   eq/ne/in compare as JSON (numbers numerically, 1 = 1.0);
 *   lt/lte/gt/gte compare numbers numerically and strings as ISO-8601
 *   timestamps when both parse, else bytewise; mixed types never match;
 *   contains matches a substring of a string or an element of an array;
 *   within measures great-circle distance in miles to [lon, lat].
 */
#include "postgres.h"

#include <math.h>

#include "compat.h"
#include "filter.h"

#include "catalog/pg_collation.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/numeric.h"

const char *const ak_context_names[AK_CONTEXT_COUNT] = {"queries", "saved_queries"};

static const char *const op_names[] = {
	"eq", "ne", "lt", "lte", "gt", "gte", "exists", "in", "contains",
	"not_contains", "regex", "within", "or"
};

#define EARTH_RADIUS_MILES 3958.7613

AkAction
AkContextAction(AkContext context)
{
	return context == AK_CONTEXT_SAVED_QUERIES ? AK_ACTION_SAVED_QUERIES : AK_ACTION_QUERIES;
}

AkContext
AkParseContext(const char *name, int len)
{
	int			idx = AkLookupName(ak_context_names, AK_CONTEXT_COUNT, name, len);

	if (idx < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown filter context \"%s\"", pnstrdup(name, len)),
				 errhint("Contexts are: queries, saved_queries.")));
	return (AkContext) idx;
}

/* ---------- ISO-8601 ---------- */

static bool
ParseDigits(const char **p, const char *end, int ndigits, int *result)
{
	int			value = 0;

	if (end - *p < ndigits)
		return false;
	for (int i = 0; i < ndigits; i++)
	{
		char		c = (*p)[i];

		if (c < '0' || c > '9')
			return false;
		value = value * 10 + (c - '0');
	}
	*p += ndigits;
	*result = value;
	return true;
}

/*
 * YYYY-MM-DD, optionally followed by [T or space]HH:MM[:SS[.fraction]] and
 * an optional Z or ±HH[:MM] offset; without an offset the time is UTC.
 */
bool
AkParseIsoTimestamp(const char *s, int len, TimestampTz *result)
{
	const char *p = s;
	const char *end = s + len;
	int			year,
				month,
				day,
				hour = 0,
				minute = 0,
				second = 0;
	int64		usec = 0;
	int			offset_sec = 0;

	if (!ParseDigits(&p, end, 4, &year) || p == end || *p++ != '-' ||
		!ParseDigits(&p, end, 2, &month) || p == end || *p++ != '-' ||
		!ParseDigits(&p, end, 2, &day))
		return false;
	if (month < 1 || month > 12 || day < 1 ||
		day > day_tab[isleap(year)][month - 1])
		return false;

	if (p < end && (*p == 'T' || *p == 't' || *p == ' '))
	{
		p++;
		if (!ParseDigits(&p, end, 2, &hour) || p == end || *p++ != ':' ||
			!ParseDigits(&p, end, 2, &minute))
			return false;
		if (p < end && *p == ':')
		{
			p++;
			if (!ParseDigits(&p, end, 2, &second))
				return false;
			if (p < end && (*p == '.' || *p == ','))
			{
				int64		scale = USECS_PER_SEC;

				p++;
				if (p == end || *p < '0' || *p > '9')
					return false;
				while (p < end && *p >= '0' && *p <= '9')
				{
					scale /= 10;
					usec += (*p - '0') * scale;
					p++;
				}
			}
		}
		if (hour > 23 || minute > 59 || second > 60)
			return false;
		if (p < end && (*p == 'Z' || *p == 'z'))
			p++;
		else if (p < end && (*p == '+' || *p == '-'))
		{
			int			sign = (*p == '-') ? -1 : 1;
			int			oh,
						om = 0;

			p++;
			if (!ParseDigits(&p, end, 2, &oh))
				return false;
			if (p < end && *p == ':')
			{
				p++;
				if (!ParseDigits(&p, end, 2, &om))
					return false;
			}
			else if (p < end && !ParseDigits(&p, end, 2, &om))
				return false;
			if (oh > 23 || om > 59)
				return false;
			offset_sec = sign * (oh * 3600 + om * 60);
		}
	}
	if (p != end)
		return false;

	*result = ((int64) (date2j(year, month, day) - POSTGRES_EPOCH_JDATE)) * USECS_PER_DAY +
		((int64) hour * 3600 + minute * 60 + second - offset_sec) * USECS_PER_SEC + usec;
	return true;
}

/* ---------- compilation ---------- */

static void CompileFilter(JsonbValue *filter, AkFilter *out);

/* The regex engine allocates outside memory contexts on some versions. */
static void
FreeRegex(void *arg)
{
	pg_regfree((regex_t *) arg);
}

static void
CompileRegex(AkFilter *f)
{
	MemoryContextCallback *cleanup;

	pg_wchar   *wide = palloc((f->value.val.string.len + 1) * sizeof(pg_wchar));
	int			wlen = pg_mb2wchar_with_len(f->value.val.string.val, wide, f->value.val.string.len);
	int			rc;

	f->regex = palloc(sizeof(regex_t));
	rc = pg_regcomp(f->regex, wide, wlen, REG_ADVANCED, C_COLLATION_OID);
	pfree(wide);
	if (rc != REG_OKAY)
	{
		char		message[128];

		/* A cancel surfaces as REG_CANCEL: report the cancel, not the regex. */
		CHECK_FOR_INTERRUPTS();
		pg_regerror(rc, f->regex, message, sizeof(message));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_REGULAR_EXPRESSION),
				 errmsg("invalid regular expression in access key filter: %s", message)));
	}
	/* Freed with the memory that holds the compiled filters. */
	cleanup = palloc(sizeof(MemoryContextCallback));
	cleanup->func = FreeRegex;
	cleanup->arg = f->regex;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cleanup);
}

static void
CompileFilter(JsonbValue *filter, AkFilter *f)
{
	JsonbContainer *obj = filter->val.binary.data;
	JsonbValue *op = AkGetMember(obj, "operator");
	JsonbValue *v;

	check_stack_depth();
	memset(f, 0, sizeof(AkFilter));
	f->op = (AkFilterOp) AkLookupName(op_names, lengthof(op_names), op->val.string.val, op->val.string.len);
	Assert(f->op >= 0);

	if (f->op == AK_OP_OR)
	{
		JsonbContainer *operands = AkGetMember(obj, "operands")->val.binary.data;

		f->noperands = JsonContainerSize(operands);
		f->operands = palloc(sizeof(AkFilter) * f->noperands);
		for (int i = 0; i < f->noperands; i++)
			CompileFilter(getIthJsonbValueFromContainer(operands, i), &f->operands[i]);
		return;
	}

	/* The path, split once. */
	v = AkGetMember(obj, "property_name");
	f->property_name = pnstrdup(v->val.string.val, v->val.string.len);
	f->nsegments = 1;
	for (int i = 0; i < v->val.string.len; i++)
		if (v->val.string.val[i] == '.')
			f->nsegments++;
	f->segments = palloc(sizeof(char *) * f->nsegments);
	f->segment_lengths = palloc(sizeof(int) * f->nsegments);
	{
		int			seg = 0;
		int			start = 0;

		for (int i = 0; i <= v->val.string.len; i++)
		{
			if (i == v->val.string.len || v->val.string.val[i] == '.')
			{
				f->segments[seg] = f->property_name + start;
				f->segment_lengths[seg] = i - start;
				seg++;
				start = i + 1;
			}
		}
	}

	f->value = *AkGetMember(obj, "property_value");
	switch (f->op)
	{
		case AK_OP_LT:
		case AK_OP_LTE:
		case AK_OP_GT:
		case AK_OP_GTE:
			if (f->value.type == jbvString)
				f->value_is_timestamp = AkParseIsoTimestamp(f->value.val.string.val,
															f->value.val.string.len,
															&f->value_timestamp);
			break;
		case AK_OP_IN:
			{
				JsonbContainer *arr = f->value.val.binary.data;

				f->nvalues = JsonContainerSize(arr);
				f->values = palloc(sizeof(JsonbValue) * Max(f->nvalues, 1));
				for (int i = 0; i < f->nvalues; i++)
					f->values[i] = *getIthJsonbValueFromContainer(arr, i);
				break;
			}
		case AK_OP_REGEX:
			CompileRegex(f);
			break;
		case AK_OP_WITHIN:
			{
				JsonbContainer *geo = f->value.val.binary.data;
				JsonbContainer *coords = AkGetMember(geo, "coordinates")->val.binary.data;

				f->longitude = AkJsonbNumber(getIthJsonbValueFromContainer(coords, 0));
				f->latitude = AkJsonbNumber(getIthJsonbValueFromContainer(coords, 1));
				f->max_miles = AkJsonbNumber(AkGetMember(geo, "max_distance_miles"));
				break;
			}
		default:
			break;
	}
}

AkFilterList *
AkCompileFilters(AccessKey ak, AkContext context)
{
	AkFilterList *list = palloc0(sizeof(AkFilterList));
	JsonbValue *filters = AkSectionMember(ak, ak_context_names[context], "filters");

	if (filters == NULL || !AkIsArray(filters))
		return list;
	list->nfilters = JsonContainerSize(filters->val.binary.data);
	list->filters = palloc(sizeof(AkFilter) * Max(list->nfilters, 1));
	for (int i = 0; i < list->nfilters; i++)
		CompileFilter(getIthJsonbValueFromContainer(filters->val.binary.data, i), &list->filters[i]);
	return list;
}

/* ---------- evaluation ---------- */

/* The value at f's path, or NULL when any step is missing or not an object. */
static JsonbValue *
LookupProperty(JsonbContainer *root, const AkFilter *f, JsonbValue *buf)
{
	JsonbContainer *c = root;
	JsonbValue *v = NULL;

	for (int i = 0; i < f->nsegments; i++)
	{
		if (!JsonContainerIsObject(c))
			return NULL;
		v = getKeyJsonValueFromContainer(c, f->segments[i], f->segment_lengths[i], buf);
		if (v == NULL)
			return NULL;
		if (i < f->nsegments - 1)
		{
			if (v->type != jbvBinary)
				return NULL;
			c = v->val.binary.data;
		}
	}
	return v;
}

static int
CompareNumerics(const JsonbValue *a, const JsonbValue *b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp,
											 NumericGetDatum(a->val.numeric),
											 NumericGetDatum(b->val.numeric)));
}

static int
CompareBytes(const char *a, int alen, const char *b, int blen)
{
	int			cmp = memcmp(a, b, Min(alen, blen));

	return cmp ? cmp : (alen > blen) - (alen < blen);
}

/* JSON equality: same type, numbers numerically, containers structurally. */
static bool
JsonValuesEqual(const JsonbValue *a, const JsonbValue *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type)
	{
		case jbvNull:
			return true;
		case jbvBool:
			return a->val.boolean == b->val.boolean;
		case jbvNumeric:
			return CompareNumerics(a, b) == 0;
		case jbvString:
			return a->val.string.len == b->val.string.len &&
				memcmp(a->val.string.val, b->val.string.val, a->val.string.len) == 0;
		case jbvBinary:
			return JsonContainerIsObject(a->val.binary.data) == JsonContainerIsObject(b->val.binary.data) &&
				compareJsonbContainers(a->val.binary.data, b->val.binary.data) == 0;
		default:
			return false;
	}
}

static bool
MatchesOrder(const AkFilter *f, const JsonbValue *v)
{
	int			cmp;

	if (v->type == jbvNumeric && f->value.type == jbvNumeric)
		cmp = CompareNumerics(v, &f->value);
	else if (v->type == jbvString && f->value.type == jbvString)
	{
		TimestampTz ts;

		if (f->value_is_timestamp && AkParseIsoTimestamp(v->val.string.val, v->val.string.len, &ts))
			cmp = (ts > f->value_timestamp) - (ts < f->value_timestamp);
		else
			cmp = CompareBytes(v->val.string.val, v->val.string.len,
							   f->value.val.string.val, f->value.val.string.len);
	}
	else
		return false;

	switch (f->op)
	{
		case AK_OP_LT:
			return cmp < 0;
		case AK_OP_LTE:
			return cmp <= 0;
		case AK_OP_GT:
			return cmp > 0;
		default:
			return cmp >= 0;
	}
}

static bool
HasSubstring(const char *hay, int haylen, const char *needle, int needlelen)
{
	if (needlelen == 0)
		return true;
	for (int i = 0; i + needlelen <= haylen; i++)
		if (hay[i] == needle[0] && memcmp(hay + i, needle, needlelen) == 0)
			return true;
	return false;
}

static bool
MatchesContains(const AkFilter *f, const JsonbValue *v)
{
	if (v->type == jbvString && f->value.type == jbvString)
		return HasSubstring(v->val.string.val, v->val.string.len,
							f->value.val.string.val, f->value.val.string.len);
	if (v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data) &&
		!JsonContainerIsScalar(v->val.binary.data))
	{
		JsonbIterator *it = JsonbIteratorInit(v->val.binary.data);
		JsonbValue	elem;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
			if (tok == WJB_ELEM && JsonValuesEqual(&elem, &f->value))
				return true;
	}
	return false;
}

static bool
MatchesRegex(const AkFilter *f, const JsonbValue *v)
{
	pg_wchar   *wide;
	int			wlen;
	int			rc;

	if (v->type != jbvString)
		return false;
	wide = palloc((v->val.string.len + 1) * sizeof(pg_wchar));
	wlen = pg_mb2wchar_with_len(v->val.string.val, wide, v->val.string.len);
	rc = pg_regexec(f->regex, wide, wlen, 0, NULL, 0, NULL, 0);
	pfree(wide);
	if (rc == REG_OKAY)
		return true;
	if (rc == REG_NOMATCH)
		return false;
	/* REG_CANCEL (statement_timeout, cancel) lands here first. */
	CHECK_FOR_INTERRUPTS();
	{
		char		message[128];

		pg_regerror(rc, f->regex, message, sizeof(message));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_REGULAR_EXPRESSION),
				 errmsg("regular expression failed: %s", message)));
	}
	return false;
}

/* [lon, lat], or an object whose "coordinates" is one. */
static bool
PointOf(const JsonbValue *v, double *lon, double *lat)
{
	JsonbContainer *c;

	if (v->type != jbvBinary)
		return false;
	c = v->val.binary.data;
	if (JsonContainerIsObject(c))
	{
		JsonbValue *coords = AkGetMember(c, "coordinates");

		if (coords == NULL || coords->type != jbvBinary)
			return false;
		c = coords->val.binary.data;
	}
	return AkLonLatPair(c, lon, lat);
}

bool
AkLonLatPair(JsonbContainer *c, double *lon, double *lat)
{
	JsonbValue *x;
	JsonbValue *y;

	if (!JsonContainerIsArray(c) || JsonContainerIsScalar(c) || JsonContainerSize(c) != 2)
		return false;
	x = getIthJsonbValueFromContainer(c, 0);
	y = getIthJsonbValueFromContainer(c, 1);
	if (x->type != jbvNumeric || y->type != jbvNumeric)
		return false;
	*lon = AkJsonbNumber(x);
	*lat = AkJsonbNumber(y);
	return true;
}

static bool
MatchesWithin(const AkFilter *f, const JsonbValue *v)
{
	double		lon,
				lat;
	double		dlat,
				dlon,
				a;

	if (!PointOf(v, &lon, &lat) || lat < -90 || lat > 90 || lon < -180 || lon > 180)
		return false;
	dlat = (lat - f->latitude) * M_PI / 180.0;
	dlon = (lon - f->longitude) * M_PI / 180.0;
	a = sin(dlat / 2) * sin(dlat / 2) +
		cos(f->latitude * M_PI / 180.0) * cos(lat * M_PI / 180.0) * sin(dlon / 2) * sin(dlon / 2);
	return 2 * EARTH_RADIUS_MILES * asin(Min(1.0, sqrt(a))) <= f->max_miles;
}

static bool
FilterMatches(const AkFilter *f, JsonbContainer *root)
{
	JsonbValue	buf;
	JsonbValue *v;

	if (f->op == AK_OP_OR)
	{
		check_stack_depth();
		for (int i = 0; i < f->noperands; i++)
			if (FilterMatches(&f->operands[i], root))
				return true;
		return false;
	}

	v = LookupProperty(root, f, &buf);
	if (f->op == AK_OP_EXISTS)
		return (v != NULL) == f->value.val.boolean;
	if (v == NULL)
		return false;

	switch (f->op)
	{
		case AK_OP_EQ:
			return JsonValuesEqual(v, &f->value);
		case AK_OP_NE:
			return !JsonValuesEqual(v, &f->value);
		case AK_OP_LT:
		case AK_OP_LTE:
		case AK_OP_GT:
		case AK_OP_GTE:
			return MatchesOrder(f, v);
		case AK_OP_IN:
			for (int i = 0; i < f->nvalues; i++)
				if (JsonValuesEqual(v, &f->values[i]))
					return true;
			return false;
		case AK_OP_CONTAINS:
			return MatchesContains(f, v);
		case AK_OP_NOT_CONTAINS:
			return !MatchesContains(f, v);
		case AK_OP_REGEX:
			return MatchesRegex(f, v);
		case AK_OP_WITHIN:
			return MatchesWithin(f, v);
		default:
			return false;
	}
}

bool
AkFiltersMatch(const AkFilterList *list, Jsonb *properties)
{
	for (int i = 0; i < list->nfilters; i++)
		if (!FilterMatches(&list->filters[i], &properties->root))
			return false;
	return true;
}

/* ---------- index prefilter ---------- */

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
