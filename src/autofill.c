/*
 * autofill.c — writes: the key's writes.autofill deep-merged into every
 * event it inserts (the autofill value wins on conflict, so a tenant cannot
 * overwrite the customer.id that isolates it).
 */
#include "postgres.h"

#include "autofill.h"
#include "collection.h"
#include "compat.h"
#include "jsonb_util.h"
#include "key_cache.h"
#include "key_scope.h"
#include "session.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(ak_autofill);
PG_FUNCTION_INFO_V1(ak_autofill_definition);
PG_FUNCTION_INFO_V1(ak_autofill_trigger);

JsonbValue *
AkPushMergedObject(JsonbParseState **state, JsonbContainer *base, JsonbContainer *overlay)
{
	JsonbIterator *it;
	JsonbValue	key;
	JsonbValue	v;
	JsonbIteratorToken tok;

	check_stack_depth();
	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);

	it = JsonbIteratorInit(base);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbValue *over;

		if (tok == WJB_KEY)
		{
			key = v;
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		over = getKeyJsonValueFromContainer(overlay, key.val.string.val, key.val.string.len, NULL);
		pushJsonbValue(state, WJB_KEY, &key);
		if (over == NULL)
			pushJsonbValue(state, WJB_VALUE, &v);
		else if (AkIsObject(over) && AkIsObject(&v))
			AkPushMergedObject(state, v.val.binary.data, over->val.binary.data);
		else
			pushJsonbValue(state, WJB_VALUE, over);
	}

	it = JsonbIteratorInit(overlay);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			key = v;
		else if (tok == WJB_VALUE &&
				 getKeyJsonValueFromContainer(base, key.val.string.val, key.val.string.len, NULL) == NULL)
		{
			pushJsonbValue(state, WJB_KEY, &key);
			pushJsonbValue(state, WJB_VALUE, &v);
		}
	}
	return pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/*
 * Whether a and b are the same JSON scalar written the same way (a number's
 * digits included: 1.0 is kept as 1.0 only when the autofill says 1.0).
 */
static bool
SameScalar(const JsonbValue *a, const JsonbValue *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type)
	{
		case jbvNull:
			return true;
		case jbvBool:
			return a->val.boolean == b->val.boolean;
		case jbvString:
			return a->val.string.len == b->val.string.len &&
				memcmp(a->val.string.val, b->val.string.val, a->val.string.len) == 0;
		case jbvNumeric:
			return VARSIZE_ANY(a->val.numeric) == VARSIZE_ANY(b->val.numeric) &&
				memcmp(a->val.numeric, b->val.numeric, VARSIZE_ANY(a->val.numeric)) == 0;
		default:
			return false;		/* containers: merged, however alike */
	}
}

/*
 * Whether deep-merging overlay into base would leave base as it is: each
 * member of overlay is in base, objects filled recursively, anything else
 * the same scalar.  Most events of a keyed application already carry the
 * autofilled customer; they are stored as sent, without rebuilding them.
 */
static bool
AlreadyFilled(JsonbContainer *base, JsonbContainer *overlay)
{
	JsonbIterator *it = JsonbIteratorInit(overlay);
	JsonbValue	key = {0};
	JsonbValue	v;
	JsonbIteratorToken tok;

	check_stack_depth();
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbValue	have;

		if (tok == WJB_KEY)
		{
			key = v;
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		if (!getKeyJsonValueFromContainer(base, key.val.string.val, key.val.string.len, &have))
			return false;
		if (AkIsObject(&v) && AkIsObject(&have))
		{
			if (!AlreadyFilled(have.val.binary.data, v.val.binary.data))
				return false;
		}
		else if (!SameScalar(&have, &v))
			return false;
	}
	return true;
}

/* The definition's writes.autofill, or NULL when it has none or it is empty. */
static JsonbValue *
AutofillOf(AccessKey ak)
{
	JsonbValue *autofill = AkSectionMember(ak, AK_SECTION_WRITES, "autofill");

	return (autofill && JsonContainerSize(autofill->val.binary.data) > 0) ? autofill : NULL;
}

/* properties with autofill (from AutofillOf) merged in; NULL properties count as {}. */
static Jsonb *
Autofill(JsonbValue *autofill, Jsonb *properties)
{
	JsonbParseState *state = NULL;

	if (autofill == NULL)
		return properties;
	if (properties == NULL)
		properties = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	if (!JB_ROOT_IS_OBJECT(properties))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("event properties must be a JSON object"),
				 errdetail("The key autofills properties, which needs an object to merge into.")));
	return JsonbValueToJsonb(AkPushMergedObject(&state, &properties->root, autofill->val.binary.data));
}

/* ak_autofill(properties): merges the session key's autofill; unchanged without a key. */
Datum
ak_autofill(PG_FUNCTION_ARGS)
{
	const AkStoredKey *key = AkSessionKey();
	Jsonb	   *properties = PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0);
	Jsonb	   *result = key ? Autofill(AutofillOf(key->definition), properties) : properties;

	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(result);
}

/* ak_autofill(definition, properties): pure. */
Datum
ak_autofill_definition(PG_FUNCTION_ARGS)
{
	Jsonb	   *result;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	result = Autofill(AutofillOf(PG_GETARG_ACCESS_KEY(0)), PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1));
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(result);
}

/* The properties column an autofill trigger call may write, checked once per statement. */
typedef struct AutofillTarget
{
	Oid			relid;
	int			attnum;

	/*
	 * What the session's key writes, as read for the key state below: the
	 * next rows of the statement need neither the key nor its definition.
	 */
	bool		known;
	uint64		generation;
	uint64		epoch;
	TimestampTz xact_start;
	bool		keyed;			/* a key is presented (it permits writes) */
	Jsonb	   *autofill;		/* its autofill, a copy; NULL when it has none */
} AutofillTarget;

/*
 * Everything ak_autofill_trigger() is told is checked before it reads the
 * row: whoever may create a trigger can point it at any table and column,
 * and reading a non-jsonb datum as jsonb reads arbitrary memory.
 */
static AutofillTarget *
CheckAutofillCall(FunctionCallInfo fcinfo)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	AutofillTarget *target = fcinfo->flinfo->fn_extra;
	Relation	rel;
	TupleDesc	desc;
	const char *column;
	char	   *registered = NULL;
	Form_pg_attribute att;
	int			attnum;

	if (!CALLED_AS_TRIGGER(fcinfo))
		AkTriggerMisused("ak_autofill_trigger()", "must be called as a trigger");
	if (!TRIGGER_FIRED_BEFORE(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(td->tg_event))
		AkTriggerMisused("ak_autofill_trigger()", "must be fired BEFORE INSERT FOR EACH ROW");
	rel = td->tg_relation;
	if (target && target->relid == RelationGetRelid(rel))
		return target;

	if (td->tg_trigger->tgnargs != 1)
		AkTriggerMisused("ak_autofill_trigger()", "takes exactly one argument, the properties column");
	column = td->tg_trigger->tgargs[0];
	switch (AkFetchCollection(RelationGetRelid(rel), &registered))
	{
		case AK_COLLECTION_NOT_REGISTERED:
			AkTriggerMisused("ak_autofill_trigger()",
						   psprintf("fired on table \"%s\", which is not a protected collection",
									RelationGetRelationName(rel)));
			break;
		case AK_COLLECTION_REGISTERED:
			if (strcmp(registered, column) != 0)
				AkTriggerMisused("ak_autofill_trigger()",
							   psprintf("names column \"%s\", but the properties column of \"%s\" is \"%s\"",
										column, RelationGetRelationName(rel), registered));
			break;
		case AK_COLLECTION_NO_CATALOG:
			break;				/* 1.0 has no catalog; the column checks below still apply */
	}

	desc = RelationGetDescr(rel);
	attnum = SPI_fnumber(desc, column);
	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						column, RelationGetRelationName(rel)),
				 errhint("Protect the collection again with access_key.ak_protect().")));
	att = TupleDescAttr(desc, attnum - 1);
	if (att->atttypid != JSONBOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of relation \"%s\" is of type %s, not jsonb",
						column, RelationGetRelationName(rel), format_type_be(att->atttypid)),
				 errhint("Autofill writes event properties, which are jsonb.")));

	target = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(AutofillTarget));
	target->relid = RelationGetRelid(rel);
	target->attnum = attnum;
	fcinfo->flinfo->fn_extra = target;
	return target;
}

/*
 * Reads what the session's key writes into target, for the current key
 * state: whether a key is presented, and its autofill.  A key without
 * "writes", or one whose writes.collections leaves this collection out, is
 * refused here, with a message that says so (the INSERT policy would only
 * say "violates row-level security"); an invalid one raises 28000.  Nothing is remembered before these checks pass.
 */
static void
ReadKeyWrites(AutofillTarget *target, MemoryContext context, Relation rel)
{
	const AkStoredKey *key = AkSessionKey();
	JsonbValue *autofill;

	target->known = false;
	if (target->autofill)
		pfree(target->autofill);
	target->autofill = NULL;
	target->keyed = (key != NULL);
	if (key)
	{
		if (!AkPermitsAction(key->definition, AK_ACTION_WRITES))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("access key does not permit writes"),
					 errdetail("Inserting into protected collection \"%s\" needs the \"writes\" permission.",
							   RelationGetRelationName(rel))));
		AkRequireWritableCollection(AkSessionContextView()->scope, RelationGetRelid(rel));
		if ((autofill = AutofillOf(key->definition)) != NULL)
		{
			MemoryContext old = MemoryContextSwitchTo(context);

			target->autofill = JsonbValueToJsonb(autofill);
			MemoryContextSwitchTo(old);
		}
	}
	target->generation = AkSessionKeyGeneration();
	target->epoch = AkKeyCacheEpoch();
	target->xact_start = GetCurrentTransactionStartTimestamp();
	target->known = true;
}

/*
 * ak_autofill_trigger(): BEFORE INSERT FOR EACH ROW on a protected
 * collection; its argument names the properties column.  Stamps the key's
 * autofill onto the row, so a tenant cannot write another tenant's
 * customer.id.  A key without "writes" is refused here, with a message that
 * says so (the INSERT policy would only say "violates row-level security").
 */
Datum
ak_autofill_trigger(PG_FUNCTION_ARGS)
{
	AutofillTarget *target = CheckAutofillCall(fcinfo);
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	int			attnum = target->attnum;
	JsonbValue	autofill;
	bool		isnull;
	Datum		value;
	Jsonb	   *properties;

	if (!target->known || target->generation != AkSessionKeyGeneration() ||
		target->epoch != AkKeyCacheEpoch() || target->xact_start != GetCurrentTransactionStartTimestamp())
		ReadKeyWrites(target, fcinfo->flinfo->fn_mcxt, td->tg_relation);

	/* Without a key the INSERT policy refuses the row, as for any role. */
	if (!target->keyed || target->autofill == NULL)
		return PointerGetDatum(td->tg_trigtuple);
	autofill = AkJsonbAsValue(target->autofill);

	value = heap_getattr(td->tg_trigtuple, attnum, desc, &isnull);
	properties = isnull ? NULL : DatumGetJsonbP(value);
	if (properties && JB_ROOT_IS_OBJECT(properties) && AlreadyFilled(&properties->root, &target->autofill->root))
		return PointerGetDatum(td->tg_trigtuple);
	value = JsonbPGetDatum(Autofill(&autofill, properties));
	isnull = false;
	return PointerGetDatum(heap_modify_tuple_by_cols(td->tg_trigtuple, desc, 1, &attnum, &value, &isnull));
}
