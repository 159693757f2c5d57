/*
 * narrowing.c — a child key's effective definition under its parent, and
 * what a derived key may not ask for (see narrowing.h).
 */
#include "postgres.h"

#include "autofill.h"
#include "compat.h"
#include "jsonb_util.h"
#include "narrowing.h"
#include "session.h"
#include "validate.h"

#include "utils/builtins.h"
#include "utils/jsonb.h"

PG_FUNCTION_INFO_V1(ak_narrow);

/* options.<section> of a definition as an object, or NULL. */
static JsonbContainer *
SectionOf(AccessKey ak, AkSection section)
{
	JsonbValue *options = AkDefinitionMember(ak, "options");
	JsonbValue *s;

	if (options == NULL || !AkIsObject(options))
		return NULL;
	s = AkGetMember(options->val.binary.data, ak_section_names[section]);
	return (s && AkIsObject(s)) ? s->val.binary.data : NULL;
}

/* A member of a section object that may be NULL. */
static JsonbValue *
MemberOf(JsonbContainer *section, const char *key)
{
	return section ? AkGetMember(section, key) : NULL;
}

/* Whether an array (NULL: none) holds a scalar equal to v. */
static bool
ArrayHolds(JsonbValue *array, JsonbValue *v)
{
	return array != NULL && v->type != jbvBinary &&
		findJsonbValueFromContainer(array->val.binary.data, JB_FARRAY, v) != NULL;
}

/* Pushes every element of an array (a JsonbValue holding one). */
static void
PushElements(JsonbParseState **state, JsonbValue *array)
{
	JsonbContainer *c = array->val.binary.data;

	for (int i = 0; i < (int) JsonContainerSize(c); i++)
		pushJsonbValue(state, WJB_ELEM, getIthJsonbValueFromContainer(c, i));
}

/* Pushes the elements of array c that p holds (held) or does not hold (!held). */
static void
PushElementsWhere(JsonbParseState **state, JsonbValue *c, JsonbValue *p, bool held)
{
	JsonbContainer *cc = c->val.binary.data;

	for (int i = 0; i < (int) JsonContainerSize(cc); i++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(cc, i);

		if (ArrayHolds(p, e) == held)
			pushJsonbValue(state, WJB_ELEM, e);
	}
}

/*
 * Begins member key of the result when either side has it.  When only one
 * side does, that is the result (an absent list means "all", absent filters
 * add none): pushes it whole and returns false.  True: both are present and
 * the caller pushes their combination.
 */
static bool
BeginCombined(JsonbParseState **state, const char *key, JsonbValue *p, JsonbValue *c)
{
	if (p == NULL && c == NULL)
		return false;
	AkPushKey(state, key);
	if (p == NULL || c == NULL)
	{
		pushJsonbValue(state, WJB_VALUE, p ? p : c);
		return false;
	}
	return true;
}

/* key: the elements of c that p also holds. */
static void
PushIntersection(JsonbParseState **state, const char *key, JsonbValue *p, JsonbValue *c)
{
	if (!BeginCombined(state, key, p, c))
		return;
	pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	PushElementsWhere(state, c, p, true);
	pushJsonbValue(state, WJB_END_ARRAY, NULL);
}

/* key: the elements of p, then those of c that p lacks. */
static void
PushUnion(JsonbParseState **state, const char *key, JsonbValue *p, JsonbValue *c)
{
	if (!BeginCombined(state, key, p, c))
		return;
	pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	PushElements(state, p);
	PushElementsWhere(state, c, p, false);
	pushJsonbValue(state, WJB_END_ARRAY, NULL);
}

/*
 * key: the elements of both arrays, p's first.  A timeframe member that is
 * not an array counts as an array of itself.
 */
static void
PushConcatenation(JsonbParseState **state, const char *key, JsonbValue *p, JsonbValue *c)
{
	if (!BeginCombined(state, key, p, c))
		return;
	pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	if (AkIsArray(p))
		PushElements(state, p);
	else
		pushJsonbValue(state, WJB_ELEM, p);
	if (AkIsArray(c))
		PushElements(state, c);
	else
		pushJsonbValue(state, WJB_ELEM, c);
	pushJsonbValue(state, WJB_END_ARRAY, NULL);
}

/*
 * The index_by maps of one dataset both sides allow: the properties of
 * either, each with the values both allow (a property one side does not
 * restrict keeps the other's values).
 */
static void
PushIndexBy(JsonbParseState **state, JsonbValue *p, JsonbValue *c)
{
	JsonbValue *sides[2] = {p, c};

	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	for (int side = 0; side < 2; side++)
	{
		JsonbIterator *it = JsonbIteratorInit(sides[side]->val.binary.data);
		JsonbValue	v;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			char	   *property;
			JsonbValue *p_values;

			if (tok != WJB_KEY)
				continue;
			property = pnstrdup(v.val.string.val, v.val.string.len);
			p_values = AkGetMember(p->val.binary.data, property);
			/* the second pass adds only the properties p does not restrict */
			if (side == 0 || p_values == NULL)
				PushIntersection(state, property, p_values, AkGetMember(c->val.binary.data, property));
		}
	}
	pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/* One allowed dataset present on both sides: {} or {"index_by": ...}. */
static void
PushDatasetEntry(JsonbParseState **state, JsonbValue *p_entry, JsonbValue *c_entry)
{
	JsonbValue *p = AkGetMember(p_entry->val.binary.data, "index_by");
	JsonbValue *c = AkGetMember(c_entry->val.binary.data, "index_by");

	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	if (BeginCombined(state, "index_by", p, c))
		PushIndexBy(state, p, c);
	pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/* datasets.allowed: the datasets both allow (absent: all), entries combined. */
static void
PushDatasetsAllowed(JsonbParseState **state, JsonbValue *p, JsonbValue *c)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbValue	key = {0};
	JsonbIteratorToken tok;

	if (!BeginCombined(state, "allowed", p, c))
		return;
	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	it = JsonbIteratorInit(c->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbValue *p_entry;

		if (tok == WJB_KEY)
			key = v;
		else if (tok == WJB_VALUE &&
				 (p_entry = getKeyJsonValueFromContainer(p->val.binary.data, key.val.string.val,
														 key.val.string.len, NULL)) != NULL)
		{
			pushJsonbValue(state, WJB_KEY, &key);
			PushDatasetEntry(state, p_entry, &v);
		}
	}
	pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/* One options section of the effective definition. */
static void
PushNarrowedSection(JsonbParseState **state, AkSection section, JsonbContainer *p, JsonbContainer *c)
{
	JsonbValue *pv;
	JsonbValue *cv;

	if (p == NULL && c == NULL)
		return;
	AkPushKey(state, ak_section_names[section]);
	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);

	pv = MemberOf(p, "autofill");
	cv = MemberOf(c, "autofill");
	if (pv && cv)
	{
		AkPushKey(state, "autofill");
		AkPushMergedObject(state, cv->val.binary.data, pv->val.binary.data);
	}
	else if (pv || cv)
	{
		AkPushKey(state, "autofill");
		pushJsonbValue(state, WJB_VALUE, pv ? pv : cv);
	}
	PushIntersection(state, "collections", MemberOf(p, "collections"), MemberOf(c, "collections"));
	PushConcatenation(state, "timeframe", MemberOf(p, "timeframe"), MemberOf(c, "timeframe"));
	PushIntersection(state, "operations", MemberOf(p, "operations"), MemberOf(c, "operations"));
	if (section == AK_SECTION_DATASETS)
		PushDatasetsAllowed(state, MemberOf(p, "allowed"), MemberOf(c, "allowed"));
	else
		PushIntersection(state, "allowed", MemberOf(p, "allowed"), MemberOf(c, "allowed"));
	PushUnion(state, "blocked", MemberOf(p, "blocked"), MemberOf(c, "blocked"));
	PushConcatenation(state, "filters", MemberOf(p, "filters"), MemberOf(c, "filters"));
	pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/* Begins a definition object with ak's name and the given is_active. */
static void
BeginDefinition(JsonbParseState **state, AccessKey ak, bool is_active)
{
	JsonbValue	v;

	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	AkPushKey(state, "name");
	pushJsonbValue(state, WJB_VALUE, AkDefinitionMember(ak, "name"));
	AkPushKey(state, "is_active");
	v.type = jbvBool;
	v.val.boolean = is_active;
	pushJsonbValue(state, WJB_VALUE, &v);
}

/* Validates a built definition: the result is canonical like every stored one. */
static AccessKey
EndDefinition(JsonbParseState **state)
{
	return AkDefinitionFromJsonb(JsonbValueToJsonb(pushJsonbValue(state, WJB_END_OBJECT, NULL)));
}

AccessKey
AkInactiveDefinition(AccessKey ak)
{
	JsonbParseState *state = NULL;

	BeginDefinition(&state, ak, false);
	return EndDefinition(&state);
}

AccessKey
AkNarrowDefinition(AccessKey parent, AccessKey child)
{
	JsonbParseState *state = NULL;

	BeginDefinition(&state, child, AkIsActive(parent) && AkIsActive(child));
	AkPushKey(&state, "permitted");
	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < AK_ACTION_COUNT; i++)
		if (AkPermitsAction(parent, (AkAction) i) && AkPermitsAction(child, (AkAction) i))
			AkPushString(&state, WJB_ELEM, ak_action_names[i]);
	pushJsonbValue(&state, WJB_END_ARRAY, NULL);

	AkPushKey(&state, "options");
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < AK_SECTION_COUNT; i++)
		PushNarrowedSection(&state, (AkSection) i, SectionOf(parent, (AkSection) i), SectionOf(child, (AkSection) i));
	pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return EndDefinition(&state);
}

/* A scalar as JSON text, for error details. */
static char *
ScalarJson(JsonbValue *v)
{
	return JsonbToCString(NULL, &JsonbValueToJsonb(v)->root, 0);
}

/* Raises 42501 for a derived key asking more than its parent grants. */
static AK_NORETURN void
ReportExcess(const char *path, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("a derived key cannot have more than the key that derives it"),
			 errdetail("Member \"%s\" asks for %s, which the parent key does not grant.", path, what),
			 errhint("A derived key may only narrow its parent: leave a member out to inherit the parent's.")));
}

/*
 * Every element of c (the member at path) in p, when p is present; elements
 * of c that blocked (may be NULL) lists are refused too.  Lists are sorted
 * when stored, so the detail names the value, not its position.
 */
static void
RequireNamesWithin(JsonbValue *p, JsonbValue *blocked, JsonbValue *c, const char *path, const char *kind)
{
	JsonbContainer *cc;

	if (c == NULL)
		return;
	cc = c->val.binary.data;
	for (int i = 0; i < (int) JsonContainerSize(cc); i++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(cc, i);

		if ((p && !ArrayHolds(p, e)) || ArrayHolds(blocked, e))
			ReportExcess(path, psprintf("%s %s", kind, ScalarJson(e)));
	}
}

/* datasets.allowed of the request: each name allowed and not blocked, each index value listed. */
static void
RequireDatasetsWithin(JsonbContainer *p, JsonbContainer *c)
{
	JsonbValue *p_allowed = MemberOf(p, "allowed");
	JsonbValue *p_blocked = MemberOf(p, "blocked");
	JsonbValue *c_allowed = MemberOf(c, "allowed");
	JsonbIterator *it;
	JsonbValue	v;
	JsonbValue	key = {0};
	JsonbIteratorToken tok;

	if (c_allowed == NULL)
		return;
	it = JsonbIteratorInit(c_allowed->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *name;
		char	   *path;
		JsonbValue *p_entry;
		JsonbValue *p_index;
		JsonbValue *c_index;
		JsonbIterator *pit;
		JsonbValue	pv;
		JsonbValue	prop = {0};
		JsonbIteratorToken ptok;

		if (tok == WJB_KEY)
		{
			key = v;
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		name = pnstrdup(key.val.string.val, key.val.string.len);
		path = AkChildPath("options.datasets.allowed", name);
		p_entry = p_allowed ? getKeyJsonValueFromContainer(p_allowed->val.binary.data, key.val.string.val,
															key.val.string.len, NULL) : NULL;
		if ((p_allowed && p_entry == NULL) || ArrayHolds(p_blocked, &key))
			ReportExcess(path, psprintf("the dataset \"%s\"", name));
		if (p_entry == NULL || (p_index = AkGetMember(p_entry->val.binary.data, "index_by")) == NULL ||
			(c_index = AkGetMember(v.val.binary.data, "index_by")) == NULL)
			continue;
		/* values the request lists for a property the parent restricts */
		pit = JsonbIteratorInit(c_index->val.binary.data);
		while ((ptok = JsonbIteratorNext(&pit, &pv, true)) != WJB_DONE)
		{
			JsonbValue *p_values;

			if (ptok == WJB_KEY)
			{
				prop = pv;
				continue;
			}
			if (ptok != WJB_VALUE)
				continue;
			p_values = getKeyJsonValueFromContainer(p_index->val.binary.data, prop.val.string.val,
													prop.val.string.len, NULL);
			if (p_values)
				RequireNamesWithin(p_values, NULL, &pv,
								   AkChildPath(AkChildPath(path, "index_by"),
											   pnstrdup(prop.val.string.val, prop.val.string.len)),
								   "the index value");
		}
	}
}

void
AkRequireWithin(AccessKey parent, AccessKey requested)
{
	JsonbValue *permitted = AkDefinitionMember(requested, "permitted");
	JsonbContainer *pc = permitted->val.binary.data;
	static const AkSection named_sections[] = {AK_SECTION_SAVED_QUERIES, AK_SECTION_CACHED_QUERIES};
	static const char *const named_kinds[] = {"the saved query", "the cached query"};
	static const AkSection collection_sections[] = {AK_SECTION_WRITES, AK_SECTION_QUERIES};

	for (int i = 0; i < (int) JsonContainerSize(pc); i++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(pc, i);
		int			action = AkLookupName(ak_action_names, AK_ACTION_COUNT, e->val.string.val, e->val.string.len);

		if (!AkPermitsAction(parent, (AkAction) action))
			ReportExcess("permitted", psprintf("the permission \"%s\"", ak_action_names[action]));
	}
	for (int i = 0; i < lengthof(collection_sections); i++)
	{
		AkSection	s = collection_sections[i];

		RequireNamesWithin(MemberOf(SectionOf(parent, s), "collections"), NULL,
						   MemberOf(SectionOf(requested, s), "collections"),
						   psprintf("options.%s.collections", ak_section_names[s]), "the collection");
	}
	for (int i = 0; i < lengthof(named_sections); i++)
	{
		AkSection	s = named_sections[i];
		JsonbContainer *p = SectionOf(parent, s);

		RequireNamesWithin(MemberOf(p, "allowed"), MemberOf(p, "blocked"),
						   MemberOf(SectionOf(requested, s), "allowed"),
						   psprintf("options.%s.allowed", ak_section_names[s]), named_kinds[i]);
	}
	RequireNamesWithin(MemberOf(SectionOf(parent, AK_SECTION_DATASETS), "operations"), NULL,
					   MemberOf(SectionOf(requested, AK_SECTION_DATASETS), "operations"),
					   "options.datasets.operations", "the dataset operation");
	RequireDatasetsWithin(SectionOf(parent, AK_SECTION_DATASETS), SectionOf(requested, AK_SECTION_DATASETS));
}

/*
 * ak_narrow(parent, child): the effective definition a child key with
 * definition child has under a parent whose effective definition is parent.
 * Pure; an admin function (revoked from PUBLIC), as ak_effective_key is.
 */
Datum
ak_narrow(PG_FUNCTION_ARGS)
{
	AkRequireNoSessionKey("ak_narrow");
	PG_RETURN_ACCESS_KEY(AkNarrowDefinition(PG_GETARG_ACCESS_KEY(0), PG_GETARG_ACCESS_KEY(1)));
}
