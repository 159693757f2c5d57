/*
 * filter_validate.c — validation of the shape of filters.
 *
 * A filter is {"property_name", "operator", "property_value"} or
 * {"operator": "or", "operands": [...]}.  Filters are data: they are checked
 * here once, when a definition is created, and never turned into SQL text.
 */
#include "postgres.h"

#include "compat.h"
#include "filter.h"
#include "filter_validate.h"
#include "iso8601.h"
#include "jsonb_util.h"
#include "validate.h"

#include "catalog/pg_collation.h"
#include "common/jsonapi.h"
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

/* What property_value each operator takes. */
static const FilterValueKind value_kinds[AK_OP_COUNT] = {
	[AK_OP_EQ] = VALUE_ANY,
	[AK_OP_NE] = VALUE_ANY,
	[AK_OP_LT] = VALUE_ORDERED,
	[AK_OP_LTE] = VALUE_ORDERED,
	[AK_OP_GT] = VALUE_ORDERED,
	[AK_OP_GTE] = VALUE_ORDERED,
	[AK_OP_EXISTS] = VALUE_BOOLEAN,
	[AK_OP_IN] = VALUE_ARRAY,
	[AK_OP_CONTAINS] = VALUE_SCALAR,
	[AK_OP_NOT_CONTAINS] = VALUE_SCALAR,
	[AK_OP_REGEX] = VALUE_REGEX,
	[AK_OP_WITHIN] = VALUE_GEO,
	[AK_OP_OR] = VALUE_OPERANDS,
};
StaticAssertDecl(lengthof(value_kinds) == AK_OP_COUNT, "value_kinds matches AkFilterOp");

static const char *const property_filter_members[] = {"property_name", "operator", "property_value",
"property_type", "coercion_type"};
static const char *const or_filter_members[] = {"operator", "operands"};
static const char *const within_members[] = {"coordinates", "max_distance_miles"};

static void ValidateFilter(JsonbValue *filter, const char *path, int depth,
						   JsonbParseState **state);

/* Compiles the regex once to prove it valid; evaluation compiles its own. */
static void
ValidateRegex(const JsonbValue *v, const char *path)
{
	char		message[128];
	regex_t    *re = AkCompileRegex(v->val.string.val, v->val.string.len, false,
									message, sizeof(message));

	if (re == NULL)
		AkInvalidDefinition("Patterns are PostgreSQL regular expressions (as for the ~ operator).",
							"Member \"%s\" is not a valid regular expression: %s.",
							path, message);
	pg_regfree(re);
	pfree(re);
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

/* Whether v is the string word, ignoring ASCII case (Keen's type names). */
static bool
StringIs(const JsonbValue *v, const char *word)
{
	return v->type == jbvString && v->val.string.len == strlen(word) &&
		pg_strncasecmp(v->val.string.val, word, v->val.string.len) == 0;
}

/*
 * property_value read as Keen reads it with property_type: a string from a
 * form becomes the number, boolean or null it spells; a number or boolean
 * read as a String becomes its text.  Raises when the value cannot be read
 * as that type.
 */
static JsonbValue *
CoercePropertyValue(AkPropertyType type, JsonbValue *v, const char *path)
{
	JsonbValue *out = palloc(sizeof(JsonbValue));
	const char *tname = ak_property_type_names[type];

	*out = *v;
	switch (type)
	{
		case AK_PTYPE_STRING:
			if (v->type == jbvNumeric)
			{
				out->type = jbvString;
				out->val.string.val = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
				out->val.string.len = strlen(out->val.string.val);
			}
			else if (v->type == jbvBool)
			{
				out->type = jbvString;
				out->val.string.val = v->val.boolean ? "true" : "false";
				out->val.string.len = strlen(out->val.string.val);
			}
			else if (v->type != jbvString)
				break;
			return out;
		case AK_PTYPE_NUMBER:
			if (v->type == jbvString && IsValidJsonNumber(v->val.string.val, v->val.string.len))
			{
				out->type = jbvNumeric;
				out->val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
																	   CStringGetDatum(pnstrdup(v->val.string.val, v->val.string.len)),
																	   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
			}
			else if (v->type != jbvNumeric)
				break;
			return out;
		case AK_PTYPE_BOOLEAN:
			if (StringIs(v, "true") || StringIs(v, "false"))
			{
				out->type = jbvBool;
				out->val.boolean = StringIs(v, "true");
			}
			else if (v->type != jbvBool)
				break;
			return out;
		case AK_PTYPE_DATETIME:
			{
				TimestampTz ts;

				if (v->type != jbvString || !AkParseIsoTimestamp(v->val.string.val, v->val.string.len, &ts))
					break;
				return out;
			}
		case AK_PTYPE_NULL:
			if (StringIs(v, "null"))
				out->type = jbvNull;
			else if (v->type != jbvNull)
				break;
			return out;
		case AK_PTYPE_LIST:
			if (!AkIsArray(v))
				break;
			return out;
		case AK_PTYPE_GEO:
			if (!AkIsObject(v))
				break;
			return out;
		case AK_PTYPE_COUNT:
			break;
	}
	AkInvalidDefinition(psprintf("property_type says how property_value is read: %s.",
								 AkJoinNames(ak_property_type_names, AK_PTYPE_COUNT)),
						"Member \"%s\" cannot be read as a %s: it is %s.", path, tname, AkJsonTypeName(v));
	return NULL;
}

/*
 * The filter's property_type, or coercion_type (older Keen Explorers), or
 * -1 when it has neither; both must agree when both are given.
 */
static int
PropertyType(JsonbContainer *obj, const char *path)
{
	const char *members[2] = {"property_type", "coercion_type"};
	int			found = -1;

	for (int i = 0; i < 2; i++)
	{
		JsonbValue *v = AkGetMember(obj, members[i]);
		char	   *mpath = AkChildPath(path, members[i]);
		int			type;

		if (v == NULL)
			continue;
		if (v->type != jbvString)
			AkInvalidDefinition(NULL, "Member \"%s\" must be a string, not %s.", mpath, AkJsonTypeName(v));
		type = AkLookupName(ak_property_type_names, AK_PTYPE_COUNT, v->val.string.val, v->val.string.len);
		if (type < 0)
			AkInvalidDefinition(psprintf("Property types are: %s.", AkJoinNames(ak_property_type_names, AK_PTYPE_COUNT)),
								"Member \"%s\": \"%s\" is not a property type.",
								mpath, pnstrdup(v->val.string.val, v->val.string.len));
		if (found >= 0 && type != found)
			AkInvalidDefinition(NULL, "Member \"%s\" contradicts \"%s\".", mpath, AkChildPath(path, members[0]));
		found = type;
	}
	return found;
}

/* Checks property_value against what the operator takes. */
static void
ValidatePropertyValue(AkFilterOp op, JsonbValue *v, const char *path)
{
	const char *opname = ak_filter_op_names[op];

	switch (value_kinds[op])
	{
		case VALUE_ANY:
			return;
		case VALUE_ORDERED:
			if (v->type != jbvNumeric && v->type != jbvString)
				AkInvalidDefinition(NULL, "Member \"%s\" must be a number or a string for operator \"%s\", not %s.",
									path, opname, AkJsonTypeName(v));
			return;
		case VALUE_BOOLEAN:
			if (v->type != jbvBool)
				AkInvalidDefinition(NULL, "Member \"%s\" must be true or false for operator \"%s\", not %s.",
									path, opname, AkJsonTypeName(v));
			return;
		case VALUE_ARRAY:
			if (!AkIsArray(v))
				AkInvalidDefinition(NULL, "Member \"%s\" must be an array for operator \"%s\", not %s.",
									path, opname, AkJsonTypeName(v));
			return;
		case VALUE_SCALAR:
			if (v->type == jbvBinary)
				AkInvalidDefinition(NULL, "Member \"%s\" must be a string or another scalar for operator \"%s\", not %s.",
									path, opname, AkJsonTypeName(v));
			return;
		case VALUE_REGEX:
			if (v->type != jbvString)
				AkInvalidDefinition(NULL, "Member \"%s\" must be a string for operator \"%s\", not %s.",
									path, opname, AkJsonTypeName(v));
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

/* Validates one filter (recursing into "or" operands) and pushes its canonical form. */
static void
ValidateFilter(JsonbValue *filter, const char *path, int depth, JsonbParseState **state)
{
	JsonbContainer *obj;
	JsonbValue *opv;
	int			op;
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
	op = AkLookupName(ak_filter_op_names, AK_OP_COUNT, opv->val.string.val, opv->val.string.len);
	if (op < 0)
		AkInvalidDefinition(psprintf("Operators are: %s.", AkJoinNames(ak_filter_op_names, AK_OP_COUNT)),
							"Member \"%s\": \"%s\" is not a filter operator.",
							oppath, pnstrdup(opv->val.string.val, opv->val.string.len));

	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	AkPushKey(state, "operator");
	pushJsonbValue(state, WJB_VALUE, opv);

	if (value_kinds[op] == VALUE_OPERANDS)
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
		int			type;

		AkCheckMembers(obj, path, property_filter_members, lengthof(property_filter_members));
		name = AkGetMember(obj, "property_name");
		if (name == NULL)
			AkInvalidDefinition(NULL, "Member \"%s\" is missing.", npath);
		AkValidatePropertyPath(name, npath);
		value = AkGetMember(obj, "property_value");
		if (value == NULL)
			AkInvalidDefinition(NULL, "Member \"%s\" is missing.", vpath);
		type = PropertyType(obj, path);
		if (type >= 0)
			value = CoercePropertyValue((AkPropertyType) type, value, vpath);
		ValidatePropertyValue((AkFilterOp) op, value, vpath);

		AkPushKey(state, "property_name");
		pushJsonbValue(state, WJB_VALUE, name);
		AkPushKey(state, "property_value");
		pushJsonbValue(state, WJB_VALUE, value);
		/* Kept, as property_type, so Keen's tools read back what they wrote. */
		if (type >= 0)
		{
			AkPushKey(state, "property_type");
			AkPushString(state, WJB_VALUE, ak_property_type_names[type]);
		}
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
