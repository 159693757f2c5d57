/*
 * validate.c — strict validation of a key definition and the construction of
 * its canonical stored form (docs/reference.md, "The access_key type").
 *
 * Every way into the type (text input, binary receive, the cast from jsonb)
 * ends in AkDefinitionFromJsonb, so there is exactly one set of rules.  Each
 * rejection names the JSON path of the fault: a typo such as "filter" must
 * never yield a silently unfiltered key.
 */
#include "postgres.h"

#include "collection_name.h"
#include "compat.h"
#include "filter_validate.h"
#include "jsonb_util.h"
#include "timeframe.h"
#include "validate.h"

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

static const char *const definition_members[] = {"name", "is_active", "permitted", "options"};
static const char *const writes_members[] = {"autofill", "collections"};
static const char *const queries_members[] = {"filters", "collections", "timeframe"};
static const char *const saved_queries_members[] = {"allowed", "blocked", "filters"};
static const char *const cached_queries_members[] = {"allowed", "blocked"};
static const char *const datasets_members[] = {"operations", "allowed", "blocked"};
static const char *const dataset_entry_members[] = {"index_by"};

#define lengthof_array(a) ((int) lengthof(a))

/* The members each options section may have. */
static const struct
{
	const char *const *members;
	int			count;
}			section_members[AK_SECTION_COUNT] = {
	[AK_SECTION_WRITES] = {writes_members, lengthof_array(writes_members)},
	[AK_SECTION_QUERIES] = {queries_members, lengthof_array(queries_members)},
	[AK_SECTION_SAVED_QUERIES] = {saved_queries_members, lengthof_array(saved_queries_members)},
	[AK_SECTION_CACHED_QUERIES] = {cached_queries_members, lengthof_array(cached_queries_members)},
	[AK_SECTION_DATASETS] = {datasets_members, lengthof_array(datasets_members)},
	[AK_SECTION_SCHEMA] = {NULL, 0},	/* no options yet */
};
StaticAssertDecl(lengthof(section_members) == AK_SECTION_COUNT, "section_members matches AkSection");

void
AkCheckMembers(JsonbContainer *object, const char *path,
			   const char *const *allowed, int nallowed)
{
	JsonbIterator *it = JsonbIteratorInit(object);
	JsonbValue	v;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;

		if (tok != WJB_KEY)
			continue;
		if (AkLookupName(allowed, nallowed, v.val.string.val, v.val.string.len) >= 0)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		AkInvalidDefinition(psprintf("Allowed members here are: %s.", AkJoinNames(allowed, nallowed)),
							"Unknown member \"%s\".", AkChildPath(path, key));
	}
}

/* Raises the definition error "must be <expected>" unless ok. */
static void
ExpectType(const JsonbValue *v, bool ok, const char *expected, const char *path)
{
	if (!ok)
		AkInvalidDefinition(NULL, "Member \"%s\" must be %s, not %s.",
							path, expected, AkJsonTypeName(v));
}

/* The property-path rule for one segment. */
typedef enum SegmentProblem
{
	SEGMENT_OK,
	SEGMENT_EMPTY,
	SEGMENT_DOLLAR,
	SEGMENT_TOO_LONG
} SegmentProblem;

static SegmentProblem
CheckPropertySegment(const char *seg, int len)
{
	if (len == 0)
		return SEGMENT_EMPTY;
	if (seg[0] == '$')
		return SEGMENT_DOLLAR;
	if (pg_mbstrlen_with_len(seg, len) > AK_MAX_NAME_CHARS)
		return SEGMENT_TOO_LONG;
	return SEGMENT_OK;
}

const char *
AkPropertyPathProblem(const char *s, int len)
{
	int			start = 0;

	for (int i = 0; i <= len; i++)
	{
		if (i < len && s[i] != '.')
			continue;
		switch (CheckPropertySegment(s + start, i - start))
		{
			case SEGMENT_OK:
				break;
			case SEGMENT_EMPTY:
				return "it has an empty segment";
			case SEGMENT_DOLLAR:
				return "a segment starts with \"$\"";
			case SEGMENT_TOO_LONG:
				return psprintf("a segment is longer than %d characters", AK_MAX_NAME_CHARS);
		}
		start = i + 1;
	}
	return NULL;
}

static void
ValidatePropertySegment(const char *seg, int len, const char *path, const char *what)
{
	switch (CheckPropertySegment(seg, len))
	{
		case SEGMENT_OK:
			return;
		case SEGMENT_EMPTY:
			AkInvalidDefinition("Property names are dot paths such as \"customer.id\".",
								"Member \"%s\" has an empty property name segment.", path);
			break;
		case SEGMENT_DOLLAR:
			AkInvalidDefinition(NULL, "Member \"%s\": %s \"%s\" starts with \"$\".",
								path, what, pnstrdup(seg, len));
			break;
		case SEGMENT_TOO_LONG:
			AkInvalidDefinition(NULL, "Member \"%s\": a property name segment is longer than %d characters.",
								path, AK_MAX_NAME_CHARS);
			break;
	}
}

void
AkValidatePropertyPath(const JsonbValue *v, const char *path)
{
	const char *s;
	int			len;
	int			start = 0;

	ExpectType(v, v->type == jbvString, "a string", path);
	s = v->val.string.val;
	len = v->val.string.len;
	for (int i = 0; i <= len; i++)
	{
		if (i == len || s[i] == '.')
		{
			ValidatePropertySegment(s + start, i - start, path, "property name segment");
			start = i + 1;
		}
	}
}

/*
 * Autofill keys become event property names, so they follow the same rules
 * as filter paths (no dot: a dot always means nesting).  Arrays are values.
 */
static void
ValidateAutofillObject(JsonbContainer *object, const char *path)
{
	JsonbIterator *it = JsonbIteratorInit(object);
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	check_stack_depth();
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			if (memchr(key, '.', v.val.string.len))
				AkInvalidDefinition("Nest objects instead: {\"customer\": {\"id\": ...}}.",
									"Member \"%s\": autofill property names cannot contain \".\".",
									AkChildPath(path, key));
			ValidatePropertySegment(key, v.val.string.len, AkChildPath(path, key),
									"property name");
		}
		else if (tok == WJB_VALUE && AkIsObject(&v))
			ValidateAutofillObject(v.val.binary.data, AkChildPath(path, key));
	}
}

bool
AkIsResourceName(const char *s, int len)
{
	if (len == 0 || len > AK_MAX_NAME_CHARS)
		return false;
	for (int i = 0; i < len; i++)
	{
		char		c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

void
AkCheckResourceName(const char *kind, const char *name)
{
	if (!AkIsResourceName(name, strlen(name)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s name \"%s\"", kind, name),
				 errhint("Names are 1 to %d letters, digits, \"-\" and \"_\".", AK_MAX_NAME_CHARS)));
}

/* A name in an allowed or blocked list of the definition. */
static void
ValidateResourceName(const char *s, int len, const char *path)
{
	if (len == 0 || len > AK_MAX_NAME_CHARS)
		AkInvalidDefinition(NULL, "Member \"%s\": names are 1 to %d characters long.",
							path, AK_MAX_NAME_CHARS);
	if (!AkIsResourceName(s, len))
		AkInvalidDefinition("Names contain only letters, digits, \"-\" and \"_\".",
							"Member \"%s\": \"%s\" is not a valid name.",
							path, pnstrdup(s, len));
}

static int
CompareJsonbStrings(const void *a, const void *b)
{
	const JsonbValue *x = a;
	const JsonbValue *y = b;
	int			cmp = memcmp(x->val.string.val, y->val.string.val,
							 Min(x->val.string.len, y->val.string.len));

	return cmp ? cmp : x->val.string.len - y->val.string.len;
}

/* A string of an array with its position, for finding duplicates by sorting. */
typedef struct PositionedString
{
	JsonbValue	value;
	int			index;
} PositionedString;

static int
ComparePositionedStrings(const void *a, const void *b)
{
	const PositionedString *x = a;
	const PositionedString *y = b;
	int			cmp = CompareJsonbStrings(&x->value, &y->value);

	return cmp ? cmp : x->index - y->index;
}

/*
 * Collects the strings of an array member, rejecting non-strings, duplicates
 * and values outside vocabulary[] (or, without one, invalid resource names);
 * returns them sorted bytewise.
 */
static JsonbValue *
CollectStringSet(const JsonbValue *array, const char *path, int *count,
				 const char *const *vocabulary, int nvocabulary)
{
	JsonbContainer *c;
	int			n;
	JsonbValue *items;

	PositionedString *sorted;

	ExpectType(array, AkIsArray(array), "an array of strings", path);
	c = array->val.binary.data;
	n = JsonContainerSize(c);
	items = palloc(sizeof(JsonbValue) * Max(n, 1));
	sorted = palloc(sizeof(PositionedString) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(c, i);
		char	   *epath = AkElementPath(path, i);

		CHECK_FOR_INTERRUPTS();
		ExpectType(e, e->type == jbvString, "a string", epath);
		if (vocabulary == NULL)
			ValidateResourceName(e->val.string.val, e->val.string.len, epath);
		else if (AkLookupName(vocabulary, nvocabulary, e->val.string.val, e->val.string.len) < 0)
			AkInvalidDefinition(psprintf("Valid values are: %s.", AkJoinNames(vocabulary, nvocabulary)),
								"Member \"%s\" is the unknown value \"%s\".", epath,
								pnstrdup(e->val.string.val, e->val.string.len));
		sorted[i].value = *e;
		sorted[i].index = i;
	}
	/* Sorting finds duplicates in n log n; report the later occurrence. */
	qsort(sorted, n, sizeof(PositionedString), ComparePositionedStrings);
	for (int i = 0; i < n; i++)
	{
		if (i > 0 && CompareJsonbStrings(&sorted[i].value, &sorted[i - 1].value) == 0)
			AkInvalidDefinition("Each value may appear once.",
								"Member \"%s\" repeats \"%s\".", AkElementPath(path, sorted[i].index),
								pnstrdup(sorted[i].value.val.string.val, sorted[i].value.val.string.len));
		items[i] = sorted[i].value;
	}
	*count = n;
	return items;
}

/*
 * An array of distinct strings drawn from vocabulary[], pushed in the
 * vocabulary's order so that equal sets print equally.
 */
static void
PushEnumSet(JsonbParseState **state, const JsonbValue *array, const char *path,
			const char *const *vocabulary, int nvocabulary)
{
	int			n;
	JsonbValue *items = CollectStringSet(array, path, &n, vocabulary, nvocabulary);

	pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < nvocabulary; i++)
	{
		for (int j = 0; j < n; j++)
		{
			if (AkLookupName(vocabulary + i, 1, items[j].val.string.val, items[j].val.string.len) == 0)
			{
				pushJsonbValue(state, WJB_ELEM, &items[j]);
				break;
			}
		}
	}
	pushJsonbValue(state, WJB_END_ARRAY, NULL);
}

/* An allowed/blocked list of saved query, cached query or dataset names. */
static void
PushNameList(JsonbParseState **state, const JsonbValue *array, const char *path)
{
	int			n;
	JsonbValue *items = CollectStringSet(array, path, &n, NULL, 0);

	pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < n; i++)
		pushJsonbValue(state, WJB_ELEM, &items[i]);
	pushJsonbValue(state, WJB_END_ARRAY, NULL);
}

/* A collection name with the position it was written at, for duplicates. */
typedef struct PositionedName
{
	char	   *canonical;
	int			index;
} PositionedName;

static int
ComparePositionedNames(const void *a, const void *b)
{
	const PositionedName *x = a;
	const PositionedName *y = b;
	int			cmp = strcmp(x->canonical, y->canonical);

	return cmp ? cmp : x->index - y->index;
}

/*
 * A list of protected collections (writes.collections, queries.collections):
 * schema-qualified names, stored in canonical form, sorted bytewise; two
 * spellings of one name are a duplicate.  An empty list names none.
 */
static void
PushCollectionList(JsonbParseState **state, const JsonbValue *array, const char *path)
{
	JsonbContainer *c;
	int			n;
	PositionedName *names;

	ExpectType(array, AkIsArray(array), "an array of collection names", path);
	c = array->val.binary.data;
	n = JsonContainerSize(c);
	names = palloc(sizeof(PositionedName) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(c, i);
		char	   *epath = AkElementPath(path, i);
		const char *problem = NULL;

		CHECK_FOR_INTERRUPTS();
		ExpectType(e, e->type == jbvString, "a string", epath);
		names[i].canonical = AkCanonicalCollectionName(e->val.string.val, e->val.string.len, &problem);
		names[i].index = i;
		if (names[i].canonical == NULL)
			AkInvalidDefinition("Name collections as \"schema.table\", as in SQL (unquoted parts fold to lower case).",
								"Member \"%s\": \"%s\" is not a collection name: %s.", epath,
								pnstrdup(e->val.string.val, e->val.string.len), problem);
	}
	qsort(names, n, sizeof(PositionedName), ComparePositionedNames);
	pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < n; i++)
	{
		if (i > 0 && strcmp(names[i].canonical, names[i - 1].canonical) == 0)
			AkInvalidDefinition("Each collection may appear once.",
								"Member \"%s\" repeats \"%s\".", AkElementPath(path, names[i].index),
								names[i].canonical);
		AkPushString(state, WJB_ELEM, names[i].canonical);
	}
	pushJsonbValue(state, WJB_END_ARRAY, NULL);
}

/* {"index_by": {"customer.id": ["a", "b"]}} or {} for one allowed dataset. */
static void
PushDatasetEntry(JsonbParseState **state, JsonbValue *entry, const char *path)
{
	JsonbValue *index_by;
	char	   *ipath;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *prop = NULL;

	ExpectType(entry, AkIsObject(entry), "an object", path);
	AkCheckMembers(entry->val.binary.data, path, dataset_entry_members,
				   lengthof_array(dataset_entry_members));
	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	index_by = AkGetMember(entry->val.binary.data, "index_by");
	if (index_by)
	{
		ipath = AkChildPath(path, "index_by");
		ExpectType(index_by, AkIsObject(index_by), "an object", ipath);
		it = JsonbIteratorInit(index_by->val.binary.data);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_KEY)
			{
				prop = AkChildPath(ipath, pnstrdup(v.val.string.val, v.val.string.len));
				AkValidatePropertyPath(&v, prop);
			}
			else if (tok == WJB_VALUE)
			{
				JsonbContainer *values;

				ExpectType(&v, AkIsArray(&v), "an array of values", prop);
				values = v.val.binary.data;
				for (int i = 0; i < (int) JsonContainerSize(values); i++)
				{
					JsonbValue *e = getIthJsonbValueFromContainer(values, i);

					ExpectType(e, e->type != jbvBinary, "a string, number, boolean or null",
							   AkElementPath(prop, i));
				}
			}
		}
		AkPushKey(state, "index_by");
		pushJsonbValue(state, WJB_VALUE, index_by);
	}
	pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/* datasets.allowed: an object mapping dataset names to {} or {"index_by": ...}. */
static void
PushDatasetAllowed(JsonbParseState **state, JsonbValue *allowed, const char *path)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *name = NULL;

	ExpectType(&*allowed, AkIsObject(allowed), "an object mapping dataset names to {} or {\"index_by\": ...}", path);
	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	it = JsonbIteratorInit(allowed->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			name = pnstrdup(v.val.string.val, v.val.string.len);
			ValidateResourceName(v.val.string.val, v.val.string.len, AkChildPath(path, name));
			pushJsonbValue(state, WJB_KEY, &v);
		}
		else if (tok == WJB_VALUE)
			PushDatasetEntry(state, &v, AkChildPath(path, name));
	}
	pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/* One options section: checks its members and pushes its canonical object. */
static void
PushSection(JsonbParseState **state, AkSection section, JsonbValue *value, const char *path)
{
	JsonbContainer *obj;
	JsonbValue *m;

	ExpectType(value, AkIsObject(value), "an object or null", path);
	obj = value->val.binary.data;
	AkCheckMembers(obj, path, section_members[section].members, section_members[section].count);

	AkPushKey(state, ak_section_names[section]);
	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);

	if ((m = AkGetMember(obj, "autofill")) != NULL)
	{
		char	   *mpath = AkChildPath(path, "autofill");

		ExpectType(m, AkIsObject(m), "an object", mpath);
		ValidateAutofillObject(m->val.binary.data, mpath);
		AkPushKey(state, "autofill");
		pushJsonbValue(state, WJB_VALUE, m);
	}
	if ((m = AkGetMember(obj, "operations")) != NULL)
	{
		AkPushKey(state, "operations");
		PushEnumSet(state, m, AkChildPath(path, "operations"),
					ak_dataset_operation_names, AK_DATASET_OPERATION_COUNT);
	}
	if ((m = AkGetMember(obj, "allowed")) != NULL)
	{
		AkPushKey(state, "allowed");
		if (section == AK_SECTION_DATASETS)
			PushDatasetAllowed(state, m, AkChildPath(path, "allowed"));
		else
			PushNameList(state, m, AkChildPath(path, "allowed"));
	}
	if ((m = AkGetMember(obj, "blocked")) != NULL)
	{
		AkPushKey(state, "blocked");
		PushNameList(state, m, AkChildPath(path, "blocked"));
	}
	if ((m = AkGetMember(obj, "filters")) != NULL)
	{
		AkPushKey(state, "filters");
		AkValidateFilterList(m, AkChildPath(path, "filters"), state);
	}
	if ((m = AkGetMember(obj, "collections")) != NULL)
	{
		AkPushKey(state, "collections");
		PushCollectionList(state, m, AkChildPath(path, "collections"));
	}
	if ((m = AkGetMember(obj, "timeframe")) != NULL)
	{
		AkPushKey(state, "timeframe");
		AkPushTimeframe(state, m, AkChildPath(path, "timeframe"));
	}
	pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/* Validates "options" (absent or null: no sections) and pushes its canonical form. */
static void
PushOptions(JsonbParseState **state, JsonbValue *options)
{
	JsonbContainer *obj;

	AkPushKey(state, "options");
	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	if (options != NULL && options->type != jbvNull)
	{
		ExpectType(options, AkIsObject(options), "an object", "options");
		obj = options->val.binary.data;
		AkCheckMembers(obj, "options", ak_section_names, AK_SECTION_COUNT);
		for (int i = 0; i < AK_SECTION_COUNT; i++)
		{
			JsonbValue *section = AkGetMember(obj, ak_section_names[i]);

			/* A null section is the same as an absent one. */
			if (section && section->type != jbvNull)
				PushSection(state, (AkSection) i, section, AkChildPath("options", ak_section_names[i]));
		}
	}
	pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/*
 * Validates a definition and returns its canonical stored form: defaults
 * filled in, sets sorted, null sections dropped.
 */
AccessKey
AkDefinitionFromJsonb(Jsonb *jb)
{
	JsonbContainer *root = &jb->root;
	JsonbParseState *state = NULL;
	JsonbValue *m;
	JsonbValue	v;
	Jsonb	   *canonical;
	AccessKey	ak;
	Size		csize;

	if (!JsonContainerIsObject(root))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid access key definition"),
				 errdetail("The definition must be a JSON object."),
				 errhint("Start from {\"name\": \"...\", \"permitted\": [...]}.")));
	if (VARSIZE(jb) > AK_MAX_DEFINITION_BYTES)
		AkInvalidDefinition(NULL, "The definition is larger than %d bytes.", AK_MAX_DEFINITION_BYTES);

	AkCheckMembers(root, "", definition_members, lengthof_array(definition_members));
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);

	m = AkGetMember(root, "name");
	if (m == NULL)
		AkInvalidDefinition("Every key needs a name.", "Member \"name\" is missing.");
	ExpectType(m, m->type == jbvString, "a string", "name");
	if (m->val.string.len == 0 ||
		pg_mbstrlen_with_len(m->val.string.val, m->val.string.len) > AK_MAX_NAME_CHARS)
		AkInvalidDefinition(NULL, "Member \"name\" must be 1 to %d characters long.", AK_MAX_NAME_CHARS);
	AkPushKey(&state, "name");
	pushJsonbValue(&state, WJB_VALUE, m);

	m = AkGetMember(root, "is_active");
	if (m)
		ExpectType(m, m->type == jbvBool, "a boolean", "is_active");
	v.type = jbvBool;
	v.val.boolean = m ? m->val.boolean : true;
	AkPushKey(&state, "is_active");
	pushJsonbValue(&state, WJB_VALUE, &v);

	AkPushKey(&state, "permitted");
	m = AkGetMember(root, "permitted");
	if (m)
		PushEnumSet(&state, m, "permitted", ak_action_names, AK_ACTION_COUNT);
	else
	{
		pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
		pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	}

	PushOptions(&state, AkGetMember(root, "options"));

	canonical = JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));

	csize = VARSIZE(canonical) - VARHDRSZ;
	ak = palloc0(AK_HEADER_SIZE + csize);
	SET_VARSIZE(ak, AK_HEADER_SIZE + csize);
	ak->version = AK_FORMAT_VERSION;
	if (AkGetMember(root, "is_active") != NULL)
		ak->flags |= AK_FLAG_IS_ACTIVE_GIVEN;
	memcpy(ak->container, &canonical->root, csize);

	/*
	 * Numbers print at full precision ("1e131071" has 131,072 digits), so
	 * the canonical text can outgrow the input: refuse what could not be
	 * read back (pg_dump would lose it).
	 */
	if (strlen(AkDefinitionToCString(ak)) > AK_MAX_DEFINITION_BYTES)
		AkInvalidDefinition("Write very large or very precise numbers as strings.",
							"The definition's canonical form is larger than %d bytes.",
							AK_MAX_DEFINITION_BYTES);
	return ak;
}
