/*
 * filter.c — filters (SPEC §4): validation of their shape.
 *
 * A filter is {"property_name", "operator", "property_value"} or
 * {"operator": "or", "operands": [...]}.  Filters are data: they are checked
 * here once, when a definition is created, and never turned into SQL text.
 */
#include "postgres.h"

#include "compat.h"
#include "definition.h"

#include "catalog/pg_collation.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "regex/regex.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

/* Deepest nesting of "or" filters; deeper definitions are surely mistakes. */
#define AK_MAX_FILTER_DEPTH 16

typedef enum FilterValueKind
{
	VALUE_ANY,					/* eq, ne */
	VALUE_ORDERED,				/* lt, lte, gt, gte: number or string */
	VALUE_BOOLEAN,				/* exists */
	VALUE_ARRAY,				/* in */
	VALUE_SCALAR,				/* contains, not_contains */
	VALUE_REGEX,				/* regex */
	VALUE_GEO,					/* within */
	VALUE_OPERANDS				/* or */
} FilterValueKind;

typedef struct FilterOperator
{
	const char *name;
	FilterValueKind kind;
} FilterOperator;

static const FilterOperator filter_operators[] = {
	{"eq", VALUE_ANY},
	{"ne", VALUE_ANY},
	{"lt", VALUE_ORDERED},
	{"lte", VALUE_ORDERED},
	{"gt", VALUE_ORDERED},
	{"gte", VALUE_ORDERED},
	{"exists", VALUE_BOOLEAN},
	{"in", VALUE_ARRAY},
	{"contains", VALUE_SCALAR},
	{"not_contains", VALUE_SCALAR},
	{"regex", VALUE_REGEX},
	{"within", VALUE_GEO},
	{"or", VALUE_OPERANDS},
};

static const char *const property_filter_members[] = {"property_name", "operator", "property_value"};
static const char *const or_filter_members[] = {"operator", "operands"};
static const char *const within_members[] = {"coordinates", "max_distance_miles"};

static void ValidateFilter(JsonbValue *filter, const char *path, int depth,
						   JsonbParseState **state);

static const FilterOperator *
LookupOperator(const JsonbValue *op)
{
	for (int i = 0; i < (int) lengthof(filter_operators); i++)
		if (strlen(filter_operators[i].name) == (size_t) op->val.string.len &&
			memcmp(filter_operators[i].name, op->val.string.val, op->val.string.len) == 0)
			return &filter_operators[i];
	return NULL;
}

static char *
OperatorNames(void)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < (int) lengthof(filter_operators); i++)
		appendStringInfo(&buf, "%s%s", i ? ", " : "", filter_operators[i].name);
	return buf.data;
}

/* Compiles the regex once to prove it valid; evaluation compiles its own. */
static void
ValidateRegex(const JsonbValue *v, const char *path)
{
	regex_t		re;
	pg_wchar   *wide;
	int			wlen;
	int			rc;

	wide = palloc((v->val.string.len + 1) * sizeof(pg_wchar));
	wlen = pg_mb2wchar_with_len(v->val.string.val, wide, v->val.string.len);
	rc = pg_regcomp(&re, wide, wlen, REG_ADVANCED, C_COLLATION_OID);
	if (rc != REG_OKAY)
	{
		char		message[128];

		pg_regerror(rc, &re, message, sizeof(message));
		AkInvalidDefinition("Patterns are PostgreSQL regular expressions (as for the ~ operator).",
							"Member \"%s\" is not a valid regular expression: %s.",
							path, message);
	}
	pg_regfree(&re);
	pfree(wide);
}

/* {"coordinates": [lon, lat], "max_distance_miles": d} */
static void
ValidateGeo(JsonbValue *v, const char *path)
{
	JsonbValue *coords;
	JsonbValue *distance;
	char	   *cpath = AkChildPath(path, "coordinates");
	char	   *dpath = AkChildPath(path, "max_distance_miles");
	const char *hint = "Use {\"coordinates\": [longitude, latitude], \"max_distance_miles\": miles}.";

	if (!AkIsObject(v))
		AkInvalidDefinition(hint, "Member \"%s\" must be an object, not %s.", path, AkJsonTypeName(v));
	AkCheckMembers(v->val.binary.data, path, within_members, lengthof(within_members));

	coords = AkGetMember(v->val.binary.data, "coordinates");
	if (coords == NULL || !AkIsArray(coords) || JsonContainerSize(coords->val.binary.data) != 2)
		AkInvalidDefinition(hint, "Member \"%s\" must be an array of two numbers.", cpath);
	for (int i = 0; i < 2; i++)
	{
		JsonbValue *c = getIthJsonbValueFromContainer(coords->val.binary.data, i);
		double		limit = (i == 0) ? 180.0 : 90.0;
		double		d;

		if (c->type != jbvNumeric)
			AkInvalidDefinition(hint, "Member \"%s\" must be a number, not %s.",
								AkElementPath(cpath, i), AkJsonTypeName(c));
		d = AkJsonbNumber(c);
		if (d < -limit || d > limit)
			AkInvalidDefinition(hint, "Member \"%s\": %s must be between %g and %g.",
								AkElementPath(cpath, i), i == 0 ? "longitude" : "latitude",
								-limit, limit);
	}

	distance = AkGetMember(v->val.binary.data, "max_distance_miles");
	if (distance == NULL || distance->type != jbvNumeric)
		AkInvalidDefinition(hint, "Member \"%s\" must be a number.", dpath);
	if (!(AkJsonbNumber(distance) >= 0))
		AkInvalidDefinition(NULL, "Member \"%s\" must not be negative.", dpath);
}

static void
ValidatePropertyValue(const FilterOperator *op, JsonbValue *v, const char *path)
{
	switch (op->kind)
	{
		case VALUE_ANY:
			return;
		case VALUE_ORDERED:
			if (v->type != jbvNumeric && v->type != jbvString)
				AkInvalidDefinition(NULL, "Member \"%s\" must be a number or a string for operator \"%s\", not %s.",
									path, op->name, AkJsonTypeName(v));
			return;
		case VALUE_BOOLEAN:
			if (v->type != jbvBool)
				AkInvalidDefinition(NULL, "Member \"%s\" must be true or false for operator \"%s\", not %s.",
									path, op->name, AkJsonTypeName(v));
			return;
		case VALUE_ARRAY:
			if (!AkIsArray(v))
				AkInvalidDefinition(NULL, "Member \"%s\" must be an array for operator \"%s\", not %s.",
									path, op->name, AkJsonTypeName(v));
			return;
		case VALUE_SCALAR:
			if (v->type == jbvBinary)
				AkInvalidDefinition(NULL, "Member \"%s\" must be a string or another scalar for operator \"%s\", not %s.",
									path, op->name, AkJsonTypeName(v));
			return;
		case VALUE_REGEX:
			if (v->type != jbvString)
				AkInvalidDefinition(NULL, "Member \"%s\" must be a string for operator \"%s\", not %s.",
									path, op->name, AkJsonTypeName(v));
			ValidateRegex(v, path);
			return;
		case VALUE_GEO:
			ValidateGeo(v, path);
			return;
		case VALUE_OPERANDS:
			break;
	}
	pg_unreachable();
}

static void
ValidateFilter(JsonbValue *filter, const char *path, int depth, JsonbParseState **state)
{
	JsonbContainer *obj;
	JsonbValue *opv;
	const FilterOperator *op;
	char	   *oppath = AkChildPath(path, "operator");

	check_stack_depth();
	if (!AkIsObject(filter))
		AkInvalidDefinition("A filter looks like {\"property_name\": \"customer.id\", \"operator\": \"eq\", \"property_value\": \"...\"}.",
							"Member \"%s\" must be an object, not %s.", path, AkJsonTypeName(filter));
	obj = filter->val.binary.data;

	opv = AkGetMember(obj, "operator");
	if (opv == NULL)
		AkInvalidDefinition(NULL, "Member \"%s\" is missing.", oppath);
	if (opv->type != jbvString)
		AkInvalidDefinition(NULL, "Member \"%s\" must be a string, not %s.", oppath, AkJsonTypeName(opv));
	op = LookupOperator(opv);
	if (op == NULL)
		AkInvalidDefinition(psprintf("Operators are: %s.", OperatorNames()),
							"Member \"%s\": \"%s\" is not a filter operator.",
							oppath, pnstrdup(opv->val.string.val, opv->val.string.len));

	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	AkPushKey(state, "operator");
	pushJsonbValue(state, WJB_VALUE, opv);

	if (op->kind == VALUE_OPERANDS)
	{
		JsonbValue *operands;
		char	   *opspath = AkChildPath(path, "operands");
		int			n;

		AkCheckMembers(obj, path, or_filter_members, lengthof(or_filter_members));
		if (depth >= AK_MAX_FILTER_DEPTH)
			AkInvalidDefinition(NULL, "Member \"%s\": \"or\" filters nest deeper than %d levels.",
								path, AK_MAX_FILTER_DEPTH);
		operands = AkGetMember(obj, "operands");
		if (operands == NULL || !AkIsArray(operands) ||
			(n = JsonContainerSize(operands->val.binary.data)) == 0)
			AkInvalidDefinition("An \"or\" filter looks like {\"operator\": \"or\", \"operands\": [filter, ...]}.",
								"Member \"%s\" must be a non-empty array of filters.", opspath);
		AkPushKey(state, "operands");
		pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
		for (int i = 0; i < n; i++)
			ValidateFilter(getIthJsonbValueFromContainer(operands->val.binary.data, i),
						   AkElementPath(opspath, i), depth + 1, state);
		pushJsonbValue(state, WJB_END_ARRAY, NULL);
	}
	else
	{
		JsonbValue *name;
		JsonbValue *value;
		char	   *npath = AkChildPath(path, "property_name");
		char	   *vpath = AkChildPath(path, "property_value");

		AkCheckMembers(obj, path, property_filter_members, lengthof(property_filter_members));
		name = AkGetMember(obj, "property_name");
		if (name == NULL)
			AkInvalidDefinition(NULL, "Member \"%s\" is missing.", npath);
		AkValidatePropertyPath(name, npath);
		value = AkGetMember(obj, "property_value");
		if (value == NULL)
			AkInvalidDefinition(NULL, "Member \"%s\" is missing.", vpath);
		ValidatePropertyValue(op, value, vpath);

		AkPushKey(state, "property_name");
		pushJsonbValue(state, WJB_VALUE, name);
		AkPushKey(state, "property_value");
		pushJsonbValue(state, WJB_VALUE, value);
	}
	pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

void
AkValidateFilterList(JsonbValue *filters, const char *path, JsonbParseState **state)
{
	int			n;

	if (!AkIsArray(filters))
		AkInvalidDefinition("Filters are an array: [{\"property_name\": ..., \"operator\": ..., \"property_value\": ...}].",
							"Member \"%s\" must be an array of filters, not %s.",
							path, AkJsonTypeName(filters));
	n = JsonContainerSize(filters->val.binary.data);
	pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < n; i++)
		ValidateFilter(getIthJsonbValueFromContainer(filters->val.binary.data, i),
					   AkElementPath(path, i), 1, state);
	pushJsonbValue(state, WJB_END_ARRAY, NULL);
}
