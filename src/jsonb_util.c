/*
 * jsonb_util.c — helpers over PostgreSQL's jsonb API.
 */
#include "postgres.h"

#include "jsonb_util.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/timestamp.h"
#include "utils/numeric.h"

const char *
AkJsonTypeName(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "a string";
		case jbvNumeric:
			return "a number";
		case jbvBool:
			return "a boolean";
		case jbvArray:
			return "an array";
		case jbvObject:
			return "an object";
		case jbvBinary:
			return JsonContainerIsObject(v->val.binary.data) ? "an object" : "an array";
		default:
			return "an unknown value";
	}
}

bool
AkIsObject(const JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

bool
AkIsArray(const JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data) &&
		!JsonContainerIsScalar(v->val.binary.data);
}

JsonbValue *
AkGetMember(JsonbContainer *object, const char *key)
{
	return getKeyJsonValueFromContainer(object, key, strlen(key), NULL);
}

bool
AkArrayContainsString(JsonbValue *array, const char *str, int len)
{
	JsonbValue	s;

	if (array == NULL || !AkIsArray(array))
		return false;
	s.type = jbvString;
	s.val.string.val = (char *) str;
	s.val.string.len = len;
	return findJsonbValueFromContainer(array->val.binary.data, JB_FARRAY, &s) != NULL;
}

double
AkJsonbNumber(const JsonbValue *v)
{
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
											  NumericGetDatum(v->val.numeric)));
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

void
AkPushKey(JsonbParseState **state, const char *key)
{
	AkPushString(state, WJB_KEY, key);
}

void
AkPushString(JsonbParseState **state, JsonbIteratorToken token, const char *str)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) str;
	v.val.string.len = strlen(str);
	pushJsonbValue(state, token, &v);
}

void
AkPushTimestamp(JsonbParseState **state, bool present, TimestampTz ts)
{
	JsonbValue	v;

	if (!present)
	{
		v.type = jbvNull;
		pushJsonbValue(state, WJB_VALUE, &v);
		return;
	}
	AkPushString(state, WJB_VALUE, JsonEncodeDateTime(NULL, TimestampTzGetDatum(ts), TIMESTAMPTZOID, NULL));
}

JsonbValue
AkJsonbAsValue(Jsonb *jb)
{
	JsonbValue	v;

	v.type = jbvBinary;
	v.val.binary.data = &jb->root;
	v.val.binary.len = VARSIZE(jb) - VARHDRSZ;
	return v;
}

Jsonb *
AkJsonbArray(List *elements)
{
	JsonbParseState *state = NULL;
	ListCell   *lc;

	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	foreach(lc, elements)
	{
		JsonbValue	v;

		if (lfirst(lc) == NULL)
			v.type = jbvNull;
		else
			v = AkJsonbAsValue(DatumGetJsonbP(PointerGetDatum(lfirst(lc))));
		pushJsonbValue(&state, WJB_ELEM, &v);
	}
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_ARRAY, NULL));
}

char *
AkChildPath(const char *path, const char *member)
{
	return path[0] ? psprintf("%s.%s", path, member) : pstrdup(member);
}

char *
AkElementPath(const char *path, int index)
{
	return psprintf("%s[%d]", path, index);
}
