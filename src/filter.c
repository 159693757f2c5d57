/*
 * filter.c — compiling and evaluating filters (docs/reference.md, "Filter
 * semantics").
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
#include "iso8601.h"
#include "jsonb_util.h"

#include "catalog/pg_collation.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/numeric.h"

#define EARTH_RADIUS_MILES 3958.7613

/* ---------- compilation ---------- */

/* The regex engine allocates outside memory contexts on some versions. */
static void
FreeRegex(void *arg)
{
	pg_regfree((regex_t *) arg);
}

regex_t *
AkCompileRegex(const char *pattern, int len, bool free_with_context, char *message, size_t message_size)
{
	pg_wchar   *wide = palloc((len + 1) * sizeof(pg_wchar));
	int			wlen = pg_mb2wchar_with_len(pattern, wide, len);
	regex_t    *re = palloc(sizeof(regex_t));
	int			rc = pg_regcomp(re, wide, wlen, REG_ADVANCED, C_COLLATION_OID);

	pfree(wide);
	if (rc != REG_OKAY)
	{
		/* A cancel surfaces as REG_CANCEL: report the cancel, not the regex. */
		CHECK_FOR_INTERRUPTS();
		pg_regerror(rc, re, message, message_size);
		pfree(re);
		return NULL;
	}
	if (free_with_context)
	{
		MemoryContextCallback *cleanup = palloc(sizeof(MemoryContextCallback));

		cleanup->func = FreeRegex;
		cleanup->arg = re;
		MemoryContextRegisterResetCallback(CurrentMemoryContext, cleanup);
	}
	return re;
}

static void
CompileFilter(JsonbValue *filter, AkFilter *f)
{
	JsonbContainer *obj = filter->val.binary.data;
	JsonbValue *op = AkGetMember(obj, "operator");
	JsonbValue *v;

	check_stack_depth();
	memset(f, 0, sizeof(AkFilter));
	f->op = (AkFilterOp) AkLookupName(ak_filter_op_names, AK_OP_COUNT, op->val.string.val, op->val.string.len);
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
			{
				char		message[128];

				f->regex = AkCompileRegex(f->value.val.string.val, f->value.val.string.len, true,
										  message, sizeof(message));
				if (f->regex == NULL)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_REGULAR_EXPRESSION),
							 errmsg("invalid regular expression in access key filter: %s", message)));
				break;
			}
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
	JsonbValue *filters = AkSectionMember(ak, context == AK_CONTEXT_SAVED_QUERIES ? AK_SECTION_SAVED_QUERIES
										   : AK_SECTION_QUERIES, "filters");

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
bool
AkJsonValuesEqual(const JsonbValue *a, const JsonbValue *b)
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
			if (tok == WJB_ELEM && AkJsonValuesEqual(&elem, &f->value))
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
			return AkJsonValuesEqual(v, &f->value);
		case AK_OP_NE:
			return !AkJsonValuesEqual(v, &f->value);
		case AK_OP_LT:
		case AK_OP_LTE:
		case AK_OP_GT:
		case AK_OP_GTE:
			return MatchesOrder(f, v);
		case AK_OP_IN:
			for (int i = 0; i < f->nvalues; i++)
				if (AkJsonValuesEqual(v, &f->values[i]))
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

bool
AkFilterMatches(const AkFilter *f, Jsonb *properties)
{
	return FilterMatches(f, &properties->root);
}

JsonbValue *
AkFilterValueAt(const AkFilter *f, Jsonb *properties, JsonbValue *buf)
{
	return LookupProperty(&properties->root, f, buf);
}
