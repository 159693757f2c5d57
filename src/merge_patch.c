/*
 * merge_patch.c — JSON Merge Patch (RFC 7396) over jsonb (see merge_patch.h).
 */
#include "postgres.h"

#include "merge_patch.h"

#include "miscadmin.h"

/* The object member of a container named like key, or NULL (also when not an object). */
static JsonbContainer *
ObjectMember(JsonbContainer *object, const JsonbValue *key)
{
	JsonbValue *v;

	if (object == NULL || !JsonContainerIsObject(object))
		return NULL;
	v = getKeyJsonValueFromContainer(object, key->val.string.val, key->val.string.len, NULL);
	if (v == NULL || v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		return NULL;
	return v->val.binary.data;
}

/*
 * Pushes the object patch applied to target (NULL or not an object: {}).
 * RFC 7396's MergePatch(Target, Patch) for an object Patch.
 */
static JsonbValue *
PushMergedObject(JsonbParseState **state, JsonbContainer *target, JsonbContainer *patch)
{
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	key;
	JsonbValue	value;

	check_stack_depth();
	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);

	/* The target's members that the patch does not name stay as they are. */
	if (target != NULL && JsonContainerIsObject(target))
	{
		it = JsonbIteratorInit(target);
		while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
		{
			if (tok != WJB_KEY)
				continue;
			(void) JsonbIteratorNext(&it, &value, true);
			if (getKeyJsonValueFromContainer(patch, key.val.string.val, key.val.string.len, NULL) != NULL)
				continue;
			pushJsonbValue(state, WJB_KEY, &key);
			pushJsonbValue(state, WJB_VALUE, &value);
		}
	}

	/* The patch's members: null removes, an object merges, anything else replaces. */
	it = JsonbIteratorInit(patch);
	while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		(void) JsonbIteratorNext(&it, &value, true);
		if (value.type == jbvNull)
			continue;
		pushJsonbValue(state, WJB_KEY, &key);
		if (value.type == jbvBinary && JsonContainerIsObject(value.val.binary.data))
			PushMergedObject(state, ObjectMember(target, &key), value.val.binary.data);
		else
			pushJsonbValue(state, WJB_VALUE, &value);
	}
	return pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

Jsonb *
AkJsonbMergePatch(Jsonb *target, Jsonb *patch)
{
	JsonbParseState *state = NULL;

	if (!JB_ROOT_IS_OBJECT(patch) || JB_ROOT_IS_SCALAR(patch))
	{
		Jsonb	   *copy = palloc(VARSIZE(patch));

		memcpy(copy, patch, VARSIZE(patch));
		return copy;
	}
	return JsonbValueToJsonb(PushMergedObject(&state, &target->root, &patch->root));
}
