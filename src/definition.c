/*
 * definition.c — the access_key type's input, output, binary I/O, casts and
 * equality, and reading members of a stored definition.
 */
#include "postgres.h"

#include "compat.h"
#include "definition.h"
#include "jsonb_util.h"
#include "validate.h"

#include "common/hashfn.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(access_key_in);
PG_FUNCTION_INFO_V1(access_key_out);
PG_FUNCTION_INFO_V1(access_key_recv);
PG_FUNCTION_INFO_V1(access_key_send);
PG_FUNCTION_INFO_V1(access_key_to_jsonb);
PG_FUNCTION_INFO_V1(access_key_from_jsonb);
PG_FUNCTION_INFO_V1(access_key_eq);
PG_FUNCTION_INFO_V1(access_key_ne);
PG_FUNCTION_INFO_V1(access_key_hash);

AccessKey
DatumGetAccessKey(Datum datum)
{
	AccessKey	ak = (AccessKey) PG_DETOAST_DATUM(datum);

	if (ak->version != AK_FORMAT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("unsupported access_key format version %d", ak->version),
				 errhint("The value was written by a newer version of the access_key extension.")));
	return ak;
}

/*
 * Duplicate member detection.
 *
 * jsonb keeps the last of duplicate members, so {"filters": [...],
 * "filters": []} would silently drop a filter.  Before building the jsonb we
 * walk the text once with the core JSON parser and reject any object that
 * names a member twice, naming its path.  Members seen are kept in one hash
 * table keyed by (object serial, name) so hostile inputs stay linear.
 */
typedef struct JsonFrame
{
	bool		is_object;
	int			serial;			/* objects: identifies the object */
	int			index;			/* arrays: current element */
	char	   *field;			/* objects: current member */
} JsonFrame;

typedef struct SeenMember
{
	int			serial;
	const char *name;
} SeenMember;

typedef struct DuplicateCheck
{
	JsonFrame  *frames;
	int			depth;
	int			capacity;
	int			next_serial;
	HTAB	   *seen;
} DuplicateCheck;

static uint32
SeenMemberHash(const void *key, Size keysize)
{
	const SeenMember *m = key;

	return hash_combine(hash_bytes((const unsigned char *) m->name, strlen(m->name)),
						(uint32) m->serial);
}

static int
SeenMemberMatch(const void *a, const void *b, Size keysize)
{
	const SeenMember *x = a;
	const SeenMember *y = b;

	return (x->serial == y->serial && strcmp(x->name, y->name) == 0) ? 0 : 1;
}

static char *
FramePath(DuplicateCheck *dc)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < dc->depth; i++)
	{
		JsonFrame  *f = &dc->frames[i];

		if (f->is_object && f->field)
			appendStringInfo(&buf, "%s%s", buf.len ? "." : "", f->field);
		else if (!f->is_object)
			appendStringInfo(&buf, "[%d]", f->index);
	}
	return buf.data;
}

static void
PushFrame(DuplicateCheck *dc, bool is_object)
{
	JsonFrame  *f;

	if (dc->depth == dc->capacity)
	{
		dc->capacity *= 2;
		dc->frames = repalloc(dc->frames, sizeof(JsonFrame) * dc->capacity);
	}
	f = &dc->frames[dc->depth++];
	f->is_object = is_object;
	f->serial = dc->next_serial++;
	f->index = -1;
	f->field = NULL;
}

static AK_JSON_ACTION
DupObjectStart(void *state)
{
	PushFrame(state, true);
	AK_JSON_ACTION_OK;
}

static AK_JSON_ACTION
DupArrayStart(void *state)
{
	PushFrame(state, false);
	AK_JSON_ACTION_OK;
}

static AK_JSON_ACTION
DupEnd(void *state)
{
	((DuplicateCheck *) state)->depth--;
	AK_JSON_ACTION_OK;
}

static AK_JSON_ACTION
DupArrayElementStart(void *state, bool isnull)
{
	DuplicateCheck *dc = state;

	dc->frames[dc->depth - 1].index++;
	AK_JSON_ACTION_OK;
}

static AK_JSON_ACTION
DupObjectFieldStart(void *state, char *fname, bool isnull)
{
	DuplicateCheck *dc = state;
	JsonFrame  *f = &dc->frames[dc->depth - 1];
	SeenMember	key;
	bool		found;

	key.serial = f->serial;
	key.name = fname;
	f->field = fname;
	hash_search(dc->seen, &key, HASH_ENTER, &found);
	if (found)
		AkInvalidDefinition("Each member may appear once in an object.",
							"Member \"%s\" appears more than once.", FramePath(dc));
	AK_JSON_ACTION_OK;
}

/* Raises 22P02 for text that is not JSON and 22023 for duplicate members. */
static void
CheckJsonText(const char *text, int len)
{
	JsonLexContext *lex = AkMakeJsonLexer(text, len);
	JsonSemAction sem = {0};
	DuplicateCheck dc = {0};
	HASHCTL		ctl = {0};
	JsonParseErrorType result;

	dc.capacity = 8;
	dc.frames = palloc(sizeof(JsonFrame) * dc.capacity);
	ctl.keysize = sizeof(SeenMember);
	ctl.entrysize = sizeof(SeenMember);
	ctl.hash = SeenMemberHash;
	ctl.match = SeenMemberMatch;
	ctl.hcxt = CurrentMemoryContext;
	dc.seen = hash_create("access_key members", 64, &ctl,
						  HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);

	sem.semstate = &dc;
	sem.object_start = DupObjectStart;
	sem.object_end = DupEnd;
	sem.array_start = DupArrayStart;
	sem.array_end = DupEnd;
	sem.object_field_start = DupObjectFieldStart;
	sem.array_element_start = DupArrayElementStart;

	result = pg_parse_json(lex, &sem);
	if (result != JSON_SUCCESS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type access_key"),
				 errdetail("The definition is not valid JSON: %s", json_errdetail(result, lex))));
	AkFreeJsonLexer(lex);
	hash_destroy(dc.seen);
	pfree(dc.frames);
}

/* Parses and validates a definition's JSON text (the one way text comes in). */
static AccessKey
AkDefinitionFromText(const char *text, int len)
{
	Datum		jb;

	if (len > AK_MAX_DEFINITION_BYTES)
		AkInvalidDefinition(NULL, "The definition is larger than %d bytes.", AK_MAX_DEFINITION_BYTES);
	CheckJsonText(text, len);
	jb = DirectFunctionCall1(jsonb_in, CStringGetDatum(pnstrdup(text, len)));
	return AkDefinitionFromJsonb(DatumGetJsonbP(jb));
}

/*
 * Canonical output: members of the definition's own objects in a fixed
 * order, user data (autofill, filter values, dataset maps) in jsonb's
 * deterministic order, no insignificant whitespace.
 */
static const char *const member_rank[] = {
	"name", "is_active", "permitted", "options",
	"writes", "queries", "saved_queries", "cached_queries", "datasets", "schema",
	"autofill", "collections", "timeframe", "operations", "allowed", "blocked", "filters", "index_by",
	"property_name", "operator", "property_value", "operands",
	"start", "end",
};

/* Members whose values are user data, printed as stored. */
static const char *const free_members[] = {"autofill", "property_value", "allowed", "index_by"};

typedef struct Member
{
	JsonbValue	key;
	JsonbValue	value;
	int			rank;
} Member;

static int
CompareMemberRank(const void *a, const void *b)
{
	return ((const Member *) a)->rank - ((const Member *) b)->rank;
}

static void PrintContainer(StringInfo out, JsonbContainer *c, bool ranked);

static void
PrintString(StringInfo out, const char *s, int len)
{
	AkEscapeJson(out, pnstrdup(s, len));
}

/* Prints one value; ranked: it belongs to the definition's own structure. */
static void
PrintValue(StringInfo out, JsonbValue *v, bool ranked)
{
	switch (v->type)
	{
		case jbvNull:
			appendStringInfoString(out, "null");
			break;
		case jbvBool:
			appendStringInfoString(out, v->val.boolean ? "true" : "false");
			break;
		case jbvString:
			PrintString(out, v->val.string.val, v->val.string.len);
			break;
		case jbvNumeric:
			appendStringInfoString(out, DatumGetCString(DirectFunctionCall1(numeric_out,
																			NumericGetDatum(v->val.numeric))));
			break;
		case jbvBinary:
			PrintContainer(out, v->val.binary.data, ranked);
			break;
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
}

/* Prints an object or array canonically (see member_rank for the order). */
static void
PrintContainer(StringInfo out, JsonbContainer *c, bool ranked)
{
	JsonbIterator *it = JsonbIteratorInit(c);
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			n = JsonContainerSize(c);

	check_stack_depth();
	if (JsonContainerIsScalar(c))
	{
		PrintValue(out, getIthJsonbValueFromContainer(c, 0), false);
		return;
	}
	if (JsonContainerIsArray(c))
	{
		bool		first = true;

		appendStringInfoChar(out, '[');
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok != WJB_ELEM)
				continue;
			if (!first)
				appendStringInfoChar(out, ',');
			first = false;
			PrintValue(out, &v, ranked);
		}
		appendStringInfoChar(out, ']');
	}
	else
	{
		Member	   *members = palloc(sizeof(Member) * Max(n, 1));
		int			count = 0;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_KEY)
			{
				int			rank = ranked ? AkLookupName(member_rank, lengthof(member_rank),
														 v.val.string.val, v.val.string.len) : -1;

				members[count].key = v;
				members[count].rank = rank >= 0 ? rank : (int) lengthof(member_rank) + count;
			}
			else if (tok == WJB_VALUE)
				members[count++].value = v;
		}
		/* Unranked members keep jsonb's order: their ranks follow it. */
		if (ranked)
			qsort(members, count, sizeof(Member), CompareMemberRank);

		appendStringInfoChar(out, '{');
		for (int i = 0; i < count; i++)
		{
			bool		child_ranked = ranked &&
				AkLookupName(free_members, lengthof(free_members),
							 members[i].key.val.string.val, members[i].key.val.string.len) < 0;

			if (i)
				appendStringInfoChar(out, ',');
			PrintString(out, members[i].key.val.string.val, members[i].key.val.string.len);
			appendStringInfoChar(out, ':');
			PrintValue(out, &members[i].value, child_ranked);
		}
		appendStringInfoChar(out, '}');
		pfree(members);
	}
}

char *
AkDefinitionToCString(AccessKey ak)
{
	StringInfoData out;

	initStringInfo(&out);
	PrintContainer(&out, AkContainer(ak), true);
	return out.data;
}

/* access_key_in(cstring): parses and validates a definition. */
Datum
access_key_in(PG_FUNCTION_ARGS)
{
	char	   *text = PG_GETARG_CSTRING(0);

	PG_RETURN_ACCESS_KEY(AkDefinitionFromText(text, strlen(text)));
}

/* access_key_out(access_key): the canonical JSON text. */
Datum
access_key_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(AkDefinitionToCString(PG_GETARG_ACCESS_KEY(0)));
}

/*
 * access_key_recv(internal): a format byte, then the JSON text, which is
 * validated exactly as text input is.
 */
Datum
access_key_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			version = pq_getmsgint(buf, 1);
	int			nbytes;
	char	   *text;

	if (version != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("unsupported access_key binary format version %d", version)));
	text = pq_getmsgtext(buf, buf->len - buf->cursor, &nbytes);
	PG_RETURN_ACCESS_KEY(AkDefinitionFromText(text, nbytes));
}

/* access_key_send(access_key): format byte 1 and the canonical text. */
Datum
access_key_send(PG_FUNCTION_ARGS)
{
	char	   *text = AkDefinitionToCString(PG_GETARG_ACCESS_KEY(0));
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint8(&buf, 1);
	pq_sendtext(&buf, text, strlen(text));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

Jsonb *
AkDefinitionToJsonb(AccessKey ak)
{
	Size		csize = VARSIZE(ak) - AK_HEADER_SIZE;
	Jsonb	   *jb = palloc(VARHDRSZ + csize);

	SET_VARSIZE(jb, VARHDRSZ + csize);
	memcpy(&jb->root, AkContainer(ak), csize);
	return jb;
}

/* access_key_to_jsonb(access_key): the definition with defaults filled in. */
Datum
access_key_to_jsonb(PG_FUNCTION_ARGS)
{
	PG_RETURN_JSONB_P(AkDefinitionToJsonb(PG_GETARG_ACCESS_KEY(0)));
}

/* access_key_from_jsonb(jsonb): the validated cast into the type. */
Datum
access_key_from_jsonb(PG_FUNCTION_ARGS)
{
	PG_RETURN_ACCESS_KEY(AkDefinitionFromJsonb(PG_GETARG_JSONB_P(0)));
}

/*
 * Canonical forms are unique, so equal definitions have equal containers
 * (and versions); flags say how a value was written and are ignored.
 */
static bool
AccessKeyEquals(AccessKey a, AccessKey b)
{
	return VARSIZE(a) == VARSIZE(b) && a->version == b->version &&
		memcmp(a->container, b->container, VARSIZE(a) - AK_HEADER_SIZE) == 0;
}

/* access_key_eq(access_key, access_key) */
Datum
access_key_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(AccessKeyEquals(PG_GETARG_ACCESS_KEY(0), PG_GETARG_ACCESS_KEY(1)));
}

/* access_key_ne(access_key, access_key) */
Datum
access_key_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(!AccessKeyEquals(PG_GETARG_ACCESS_KEY(0), PG_GETARG_ACCESS_KEY(1)));
}

/*
 * access_key_hash(access_key): consistent with =.  It hashes the value's bytes
 * with its flags cleared, which for every value 1.0 wrote (no flags) is the
 * hash 1.0 computed: hash indexes built then stay valid.
 */
Datum
access_key_hash(PG_FUNCTION_ARGS)
{
	AccessKey	ak = PG_GETARG_ACCESS_KEY(0);

	if (ak->flags != 0)
		ak = AkDefinitionWithoutFlags(ak);
	return hash_any((const unsigned char *) ak, VARSIZE(ak));
}

JsonbValue *
AkDefinitionMember(AccessKey ak, const char *key)
{
	return AkGetMember(AkContainer(ak), key);
}

JsonbValue *
AkSectionMember(AccessKey ak, AkSection section, const char *key)
{
	JsonbValue *options = AkDefinitionMember(ak, "options");
	JsonbValue *s;

	if (options == NULL || !AkIsObject(options))
		return NULL;
	s = AkGetMember(options->val.binary.data, ak_section_names[section]);
	if (s == NULL || !AkIsObject(s))
		return NULL;
	return AkGetMember(s->val.binary.data, key);
}

bool
AkIsActive(AccessKey ak)
{
	JsonbValue *v = AkDefinitionMember(ak, "is_active");

	return v != NULL && v->type == jbvBool && v->val.boolean;
}

bool
AkIsActiveGiven(AccessKey ak)
{
	return (ak->flags & AK_FLAG_IS_ACTIVE_GIVEN) != 0;
}

AccessKey
AkDefinitionWithoutFlags(AccessKey ak)
{
	AccessKey	copy = palloc(VARSIZE(ak));

	memcpy(copy, ak, VARSIZE(ak));
	copy->flags = 0;
	return copy;
}

bool
AkPermitsAction(AccessKey ak, AkAction action)
{
	const char *name = ak_action_names[action];

	return AkArrayContainsString(AkDefinitionMember(ak, "permitted"), name, strlen(name));
}
