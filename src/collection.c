/*
 * collection.c — protected event collections (SPEC §8): autofill on insert,
 * and no updates or deletes from keyed sessions.
 */
#include "postgres.h"

#include "compat.h"
#include "session.h"

#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/rls.h"

PG_FUNCTION_INFO_V1(ak_autofill);
PG_FUNCTION_INFO_V1(ak_autofill_definition);
PG_FUNCTION_INFO_V1(ak_autofill_trigger);
PG_FUNCTION_INFO_V1(ak_forbid_keyed_changes);

/*
 * Pushes base deep-merged with overlay: members of both that are objects
 * merge recursively; on any other conflict the overlay's value wins.
 */
static JsonbValue *
PushMerged(JsonbParseState **state, JsonbContainer *base, JsonbContainer *overlay)
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
			PushMerged(state, v.val.binary.data, over->val.binary.data);
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

/* The definition's writes.autofill, or NULL when it has none or it is empty. */
static JsonbValue *
AutofillOf(AccessKey ak)
{
	JsonbValue *autofill = AkSectionMember(ak, "writes", "autofill");

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
	return JsonbValueToJsonb(PushMerged(&state, &properties->root, autofill->val.binary.data));
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

/*
 * ak_autofill_trigger(): BEFORE INSERT FOR EACH ROW on a protected
 * collection; its argument names the properties column.  Stamps the key's
 * autofill onto the row, so a tenant cannot write another tenant's
 * customer.id.  Keys without "writes" are left to the INSERT policy.
 */
Datum
ak_autofill_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	const AkStoredKey *key;
	JsonbValue *autofill;
	TupleDesc	desc;
	int			attnum;
	bool		isnull;
	Datum		value;
	Jsonb	   *merged;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_BY_INSERT(td->tg_event) ||
		td->tg_trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ak_autofill_trigger() must be a BEFORE INSERT row trigger with the properties column as argument"),
				 errhint("Use access_key.ak_protect() to set it up.")));

	key = AkSessionKey();
	if (key == NULL || (autofill = AutofillOf(key->definition)) == NULL ||
		!AkPermitsAction(key->definition, AK_ACTION_WRITES))
		return PointerGetDatum(td->tg_trigtuple);

	desc = RelationGetDescr(td->tg_relation);
	attnum = SPI_fnumber(desc, td->tg_trigger->tgargs[0]);
	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						td->tg_trigger->tgargs[0], RelationGetRelationName(td->tg_relation)),
				 errhint("Protect the collection again with access_key.ak_protect().")));

	value = heap_getattr(td->tg_trigtuple, attnum, desc, &isnull);
	merged = Autofill(autofill, isnull ? NULL : DatumGetJsonbP(value));
	value = JsonbPGetDatum(merged);
	isnull = false;
	return PointerGetDatum(heap_modify_tuple_by_cols(td->tg_trigtuple, desc, 1, &attnum, &value, &isnull));
}

/*
 * ak_forbid_keyed_changes(): BEFORE UPDATE OR DELETE OR TRUNCATE statement
 * trigger.  Row-level security already hides every row from UPDATE and
 * DELETE (there is no policy for them); this turns the silent "0 rows" into
 * a clear error, and stops TRUNCATE, which RLS does not cover.  Roles that
 * RLS does not apply to (owners, BYPASSRLS) are unaffected.
 */
Datum
ak_forbid_keyed_changes(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	const char *what;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ak_forbid_keyed_changes() must be called as a trigger")));
	if (!AkSessionPresentsKey() ||
		check_enable_rls(RelationGetRelid(td->tg_relation), InvalidOid, true) != RLS_ENABLED)
		return PointerGetDatum(NULL);

	what = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? "update" :
		TRIGGER_FIRED_BY_DELETE(td->tg_event) ? "delete from" : "truncate";
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("access keys cannot %s protected collection \"%s\"",
					what, RelationGetRelationName(td->tg_relation)),
			 errdetail("Events in a protected collection are append-only for sessions that present a key.")));
	return PointerGetDatum(NULL);
}
