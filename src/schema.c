/*
 * schema.c — schema inspection (docs/reference.md#schema-inspection): the protected collections a key
 * may read, and the property paths and Keen types seen in the rows it can see.
 *
 * ak_schema reads at most access_key.schema_sample_rows rows of the
 * collection through SPI as the caller, so row-level security decides which
 * rows feed it: a key never learns a path that only other tenants' events
 * have.
 */
#include "postgres.h"

#include "collection.h"
#include "compat.h"
#include "filter.h"
#include "result_set.h"
#include "schema.h"
#include "session.h"
#include "admin.h"
#include "iso8601.h"
#include "jsonb_util.h"
#include "key_scope.h"
#include "permits.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"

PG_FUNCTION_INFO_V1(ak_collections);
PG_FUNCTION_INFO_V1(ak_schema);
/* Named by the 1.0 install script; kept so 1.0 databases keep working. */
PG_FUNCTION_INFO_V1(ak_require_schema_access);
PG_FUNCTION_INFO_V1(ak_keen_type);

/* Schema admins hold EXECUTE on ak_protect: three arguments from 1.1 on, two in a 1.0 database. */
#define SCHEMA_ADMIN "access_key.ak_protect(regclass,name,name)"
#define SCHEMA_ADMIN_1_0 "access_key.ak_protect(regclass,name)"

/* How many visible rows ak_schema() reads to infer a collection's schema. */
static int	schema_sample_rows = 1000;

void
AkSchemaInit(void)
{
	DefineCustomIntVariable("access_key.schema_sample_rows",
							"How many visible rows access_key.ak_schema() reads.",
							NULL,
							&schema_sample_rows,
							1000, 1, 10000000,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
}

/* Whether the caller (presenting no key) holds EXECUTE on ak_protect, whichever version declares it. */
static bool
IsSchemaAdmin(void)
{
	Oid			argtypes[3] = {REGCLASSOID, NAMEOID, NAMEOID};
	List	   *name = list_make2(makeString("access_key"), makeString("ak_protect"));

	return AkIsAdmin(OidIsValid(LookupFuncName(name, 3, argtypes, true)) ? SCHEMA_ADMIN : SCHEMA_ADMIN_1_0);
}

/* 42501 unless the session's key permits "schema" (or, without a key, an admin asks). */
static void
RequireSchemaAccess(void)
{
	const AkStoredKey *key = AkSessionKey();

	if (key ? AkKeyPermits(key->definition, AK_ACTION_SCHEMA, NULL, 0, -1) : IsSchemaAdmin())
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied for schema inspection"),
			 errdetail(key ? "The access key does not permit \"schema\"."
					   : "Present an access key that permits \"schema\", or call it as an admin.")));
}

/* ak_require_schema_access(): RequireSchemaAccess for the 1.0 SQL functions. */
Datum
ak_require_schema_access(PG_FUNCTION_ARGS)
{
	RequireSchemaAccess();
	PG_RETURN_VOID();
}

/* Whether a JSON array is a [longitude, latitude] pair within range. */
static bool
IsLonLat(JsonbContainer *c)
{
	double		x,
				y;

	return AkLonLatPair(c, &x, &y) && x >= -180 && x <= 180 && y >= -90 && y <= 90;
}

/* Whether the last segment of a dot path is "coordinates". */
static bool
NamedCoordinates(const char *path, int len)
{
	static const char suffix[] = "coordinates";
	int			slen = sizeof(suffix) - 1;

	return len >= slen && memcmp(path + len - slen, suffix, slen) == 0 &&
		(len == slen || path[len - slen - 1] == '.');
}

/*
 * Keen's type name of a value at a path: string, num, bool, list, null,
 * datetime (an ISO-8601 string), geo (a [lon, lat] pair under a property
 * named "coordinates") or object.
 */
static const char *
KeenType(const char *path, int pathlen, const JsonbValue *v)
{
	TimestampTz ts;

	switch (v->type)
	{
		case jbvString:
			return AkParseIsoTimestamp(v->val.string.val, v->val.string.len, &ts) ? "datetime" : "string";
		case jbvNumeric:
			return "num";
		case jbvBool:
			return "bool";
		case jbvNull:
			return "null";
		case jbvBinary:
			if (JsonContainerIsObject(v->val.binary.data))
				return "object";
			return NamedCoordinates(path, pathlen) && IsLonLat(v->val.binary.data) ? "geo" : "list";
		default:
			return "null";
	}
}

/* ak_keen_type(path, value): KeenType for the 1.0 SQL function ak_schema. */
Datum
ak_keen_type(PG_FUNCTION_ARGS)
{
	text	   *path = PG_GETARG_TEXT_PP(0);
	Jsonb	   *jb = PG_GETARG_JSONB_P(1);
	JsonbValue	v;

	if (JB_ROOT_IS_SCALAR(jb))
		v = *getIthJsonbValueFromContainer(&jb->root, 0);
	else
	{
		v.type = jbvBinary;
		v.val.binary.data = &jb->root;
		v.val.binary.len = VARSIZE(jb) - VARHDRSZ;
	}
	PG_RETURN_TEXT_P(cstring_to_text(KeenType(VARDATA_ANY(path), VARSIZE_ANY_EXHDR(path), &v)));
}

static int
CompareNames(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * ak_collections(): the protected collections this role may read, by name
 * (a key learns no other table's name).  Needs "schema".
 */
Datum
ak_collections(PG_FUNCTION_ARGS)
{
	AkResultSet rs;
	List	   *relids;
	ListCell   *lc;
	typedef struct
	{
		char	   *name;
		Oid			relid;
	} Named;
	Named	   *named;
	int			n = 0;

	RequireSchemaAccess();
	rs = AkBeginResultSet(fcinfo);
	relids = AkCollectionRelids();
	named = palloc(sizeof(Named) * Max(list_length(relids), 1));
	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);
		char	   *name = get_rel_name(relid);

		if (name == NULL || pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
			continue;
		/* Nor the collections the key may not read (options.queries.collections). */
		if (AkSessionKey() != NULL && !AkScopeMayRead(AkSessionContextView()->scope, relid))
			continue;
		named[n].name = DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(relid)));
		named[n].relid = relid;
		n++;
	}
	/* Named is ordered by its first member, the name. */
	qsort(named, n, sizeof(Named), CompareNames);
	for (int i = 0; i < n; i++)
	{
		Datum		value = ObjectIdGetDatum(named[i].relid);
		bool		isnull = false;

		AkResultSetAppend(&rs, &value, &isnull);
	}
	return (Datum) 0;
}

/* A (path, Keen type) pair seen in the sample. */
typedef struct SeenPath
{
	char	   *path;
	const char *type;			/* a static string: compared by content */
} SeenPath;

static uint32
HashSeenPath(const void *key, Size keysize)
{
	const SeenPath *p = key;

	return hash_combine(hash_bytes((const unsigned char *) p->path, strlen(p->path)),
						hash_bytes((const unsigned char *) p->type, strlen(p->type)));
}

static int
CompareSeenPaths(const void *a, const void *b)
{
	const SeenPath *x = a;
	const SeenPath *y = b;
	int			cmp = strcmp(x->path, y->path);

	return cmp ? cmp : strcmp(x->type, y->type);
}

static int
MatchSeenPath(const void *a, const void *b, Size keysize)
{
	return CompareSeenPaths(a, b) != 0;
}

/* Adds the (path, Keen type) of every member of object, recursing into objects. */
static void
CollectPaths(JsonbContainer *object, StringInfo path, HTAB *seen, List **found)
{
	JsonbIterator *it = JsonbIteratorInit(object);
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			base = path->len;

	check_stack_depth();
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		SeenPath	key;
		SeenPath   *entry;
		bool		found_before;

		if (tok == WJB_KEY)
		{
			path->len = base;
			path->data[base] = '\0';
			if (base > 0)
				appendStringInfoChar(path, '.');
			appendBinaryStringInfo(path, v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		key.path = path->data;
		key.type = KeenType(path->data, path->len, &v);
		entry = hash_search(seen, &key, HASH_ENTER, &found_before);
		if (!found_before)
		{
			entry->path = pstrdup(path->data);
			entry->type = key.type;
			*found = lappend(*found, entry);
		}
		if (v.type == jbvBinary && JsonContainerIsObject(v.val.binary.data))
		{
			int			len = path->len;

			CollectPaths(v.val.binary.data, path, seen, found);
			path->len = len;
			path->data[len] = '\0';
		}
	}
	path->len = base;
	path->data[base] = '\0';
}

/*
 * ak_schema(collection): the distinct (property path, Keen type) pairs in
 * the rows of a protected collection this session can see, ordered.
 */
Datum
ak_schema(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *column;
	AkResultSet rs;
	HASHCTL		ctl = {0};
	HTAB	   *seen;
	List	   *found = NIL;
	Portal		cursor;
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(schema_sample_rows)};
	MemoryContext caller = CurrentMemoryContext;
	StringInfoData path;
	SeenPath   *sorted;
	int			n = 0;
	ListCell   *lc;

	RequireSchemaAccess();
	if (AkFetchCollection(relid, &column) != AK_COLLECTION_REGISTERED)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s is not a protected collection",
						DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(relid))))));
	rs = AkBeginResultSet(fcinfo);
	/* A key that may not read the collection has seen no properties. */
	if (AkSessionKey() != NULL && !AkSessionContextView()->permitted)
		return (Datum) 0;
	/* 42501 for a collection outside the key's options.queries.collections, even when empty. */
	if (AkSessionKey() != NULL)
		AkRequireReadableCollection(AkSessionContextView()->scope, relid);

	ctl.keysize = sizeof(SeenPath);
	ctl.entrysize = sizeof(SeenPath);
	ctl.hash = HashSeenPath;
	ctl.match = MatchSeenPath;
	ctl.hcxt = CurrentMemoryContext;
	seen = hash_create("access_key schema paths", 256, &ctl,
					   HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	initStringInfo(&path);

	/* As the caller: privileges and row-level security decide what is read. */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	cursor = SPI_cursor_open_with_args(NULL,
									   psprintf("SELECT c.%s FROM %s AS c LIMIT $1",
												quote_identifier(column),
												quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
																		   get_rel_name(relid))),
									   1, argtypes, args, NULL, true, 0);
	for (;;)
	{
		SPI_cursor_fetch(cursor, true, 1000);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
			MemoryContext spi = MemoryContextSwitchTo(caller);
			Jsonb	   *properties;

			if (!isnull)
			{
				properties = DatumGetJsonbP(d);
				if (JB_ROOT_IS_OBJECT(properties))
					CollectPaths(&properties->root, &path, seen, &found);
			}
			MemoryContextSwitchTo(spi);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(cursor);
	SPI_finish();

	sorted = palloc(sizeof(SeenPath) * Max(list_length(found), 1));
	foreach(lc, found)
		sorted[n++] = *(SeenPath *) lfirst(lc);
	qsort(sorted, n, sizeof(SeenPath), CompareSeenPaths);
	for (int i = 0; i < n; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = CStringGetTextDatum(sorted[i].path);
		values[1] = CStringGetTextDatum(sorted[i].type);
		AkResultSetAppend(&rs, values, nulls);
	}
	return (Datum) 0;
}
