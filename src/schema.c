/*
 * schema.c — schema inspection helpers (SPEC §11): access checks and Keen's
 * type names for the properties a key can see.
 */
#include "postgres.h"

#include "compat.h"
#include "filter.h"
#include "session.h"
#include "stored_query.h"

#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(ak_require_schema_access);
PG_FUNCTION_INFO_V1(ak_keen_type);

#define SCHEMA_ADMIN "access_key.ak_protect(regclass,name)"

/* ak_require_schema_access(): 42501 unless the key permits "schema" (or an admin asks). */
Datum
ak_require_schema_access(PG_FUNCTION_ARGS)
{
	const AkStoredKey *key = AkSessionKey();

	if (key ? AkKeyPermits(key->definition, AK_ACTION_SCHEMA, NULL, 0, -1) : AkIsAdmin(SCHEMA_ADMIN))
		PG_RETURN_VOID();
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied for schema inspection"),
			 errdetail(key ? "The access key does not permit \"schema\"."
					   : "Present an access key that permits \"schema\", or call it as an admin.")));
	PG_RETURN_VOID();
}

static bool
IsLonLat(JsonbContainer *c)
{
	double		x,
				y;

	return AkLonLatPair(c, &x, &y) && x >= -180 && x <= 180 && y >= -90 && y <= 90;
}

/*
 * ak_keen_type(path, value): string, num, bool, list, null, datetime (an
 * ISO-8601 string), geo (a [lon, lat] pair under a property named
 * "coordinates") or object.
 */
Datum
ak_keen_type(PG_FUNCTION_ARGS)
{
	text	   *path = PG_GETARG_TEXT_PP(0);
	Jsonb	   *jb = PG_GETARG_JSONB_P(1);
	JsonbValue *v;
	const char *p = VARDATA_ANY(path);
	int			len = VARSIZE_ANY_EXHDR(path);
	static const char suffix[] = "coordinates";
	int			slen = sizeof(suffix) - 1;
	TimestampTz ts;

	if (JB_ROOT_IS_OBJECT(jb))
		PG_RETURN_TEXT_P(cstring_to_text("object"));
	if (!JB_ROOT_IS_SCALAR(jb))
	{
		bool		named_coordinates = len >= slen && memcmp(p + len - slen, suffix, slen) == 0 &&
			(len == slen || p[len - slen - 1] == '.');

		PG_RETURN_TEXT_P(cstring_to_text(named_coordinates && IsLonLat(&jb->root) ? "geo" : "list"));
	}
	v = getIthJsonbValueFromContainer(&jb->root, 0);
	switch (v->type)
	{
		case jbvString:
			PG_RETURN_TEXT_P(cstring_to_text(AkParseIsoTimestamp(v->val.string.val, v->val.string.len, &ts)
											 ? "datetime" : "string"));
		case jbvNumeric:
			PG_RETURN_TEXT_P(cstring_to_text("num"));
		case jbvBool:
			PG_RETURN_TEXT_P(cstring_to_text("bool"));
		default:
			PG_RETURN_TEXT_P(cstring_to_text("null"));
	}
}
