/*
 * audit.c — the key audit log (see audit.h): writing rows, describing what
 * changed, the append-only trigger and ak_prune_audit.
 */
#include "postgres.h"

#include "audit.h"
#include "catalog.h"
#include "jsonb_util.h"
#include "session.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(ak_audit_append_only);
PG_FUNCTION_INFO_V1(ak_prune_audit);

#define AUDIT_TABLE "key_audit_log"

/* The definition members an update diff compares, in canonical order. */
static const char *const definition_members[] = {"name", "is_active", "permitted", "options"};

/* Set while ak_prune_audit deletes: the only DELETE the trigger lets through. */
static bool pruning = false;

void
AkAuditKeyChange(AkAuditOperation operation, const pg_uuid_t *key_id,
				 const pg_uuid_t *parent_id, Jsonb *changes)
{
	Oid			types[6] = {NAMEOID, NAMEOID, UUIDOID, UUIDOID, TEXTOID, JSONBOID};
	Datum		args[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	AkAuditChanges empty;

	Assert(operation >= 0 && operation < AK_AUDIT_OPERATION_COUNT);
	if (changes == NULL)
	{
		AkAuditChangesInit(&empty);
		changes = AkAuditChangesFinish(&empty);
	}
	/* Who: the roles of the caller, before the write switches to the owner. */
	args[0] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetUserId(), false)));
	args[1] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetSessionUserId(), false)));
	args[2] = UUIDPGetDatum(key_id);
	args[3] = parent_id ? UUIDPGetDatum(parent_id) : (Datum) 0;
	nulls[3] = parent_id ? ' ' : 'n';
	args[4] = CStringGetTextDatum(ak_audit_operation_names[operation]);
	args[5] = JsonbPGetDatum(changes);
	AkCatalogExecute("INSERT INTO access_key." AUDIT_TABLE
					 " (role, session_role, key_id, parent_id, operation, changes)"
					 " VALUES ($1, $2, $3, $4, $5, $6)",
					 6, types, args, nulls);
}

void
AkAuditChangesInit(AkAuditChanges *changes)
{
	changes->state = NULL;
	pushJsonbValue(&changes->state, WJB_BEGIN_OBJECT, NULL);
}

void
AkAuditChangesAddJsonb(AkAuditChanges *changes, const char *member, Jsonb *value)
{
	JsonbValue	v;

	if (value == NULL)
		v.type = jbvNull;
	else
		v = AkJsonbAsValue(value);
	AkPushKey(&changes->state, member);
	pushJsonbValue(&changes->state, WJB_VALUE, &v);
}

void
AkAuditChangesAddDefinition(AkAuditChanges *changes, const char *member, AccessKey ak)
{
	AkAuditChangesAddJsonb(changes, member, AkDefinitionToJsonb(ak));
}

void
AkAuditChangesAddTimestamp(AkAuditChanges *changes, const char *member, TimestampTz ts, bool isnull)
{
	AkPushKey(&changes->state, member);
	AkPushTimestamp(&changes->state, !isnull, ts);
}

void
AkAuditChangesAddText(AkAuditChanges *changes, const char *member, const char *value)
{
	AkPushKey(&changes->state, member);
	AkPushString(&changes->state, WJB_VALUE, value);
}

void
AkAuditChangesAddInteger(AkAuditChanges *changes, const char *member, int64 value)
{
	JsonbValue	v;

	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(value);
	AkPushKey(&changes->state, member);
	pushJsonbValue(&changes->state, WJB_VALUE, &v);
}

Jsonb *
AkAuditChangesFinish(AkAuditChanges *changes)
{
	return JsonbValueToJsonb(pushJsonbValue(&changes->state, WJB_END_OBJECT, NULL));
}

/* A member of a definition as a Jsonb of its own (NULL when absent). */
static Jsonb *
MemberJsonb(AccessKey ak, const char *member)
{
	JsonbValue *v = AkDefinitionMember(ak, member);

	return v ? JsonbValueToJsonb(v) : NULL;
}

Jsonb *
AkAuditDefinitionDiff(AccessKey old_definition, AccessKey new_definition)
{
	AkAuditChanges old_members;
	AkAuditChanges new_members;
	AkAuditChanges diff;

	AkAuditChangesInit(&old_members);
	AkAuditChangesInit(&new_members);
	for (int i = 0; i < lengthof(definition_members); i++)
	{
		Jsonb	   *before = MemberJsonb(old_definition, definition_members[i]);
		Jsonb	   *after = MemberJsonb(new_definition, definition_members[i]);

		/* Canonical forms: equal values have equal bytes. */
		if (before && after && VARSIZE(before) == VARSIZE(after) &&
			memcmp(before, after, VARSIZE(before)) == 0)
			continue;
		AkAuditChangesAddJsonb(&old_members, definition_members[i], before);
		AkAuditChangesAddJsonb(&new_members, definition_members[i], after);
	}
	AkAuditChangesInit(&diff);
	AkAuditChangesAddJsonb(&diff, "old", AkAuditChangesFinish(&old_members));
	AkAuditChangesAddJsonb(&diff, "new", AkAuditChangesFinish(&new_members));
	return AkAuditChangesFinish(&diff);
}

/*
 * ak_audit_append_only(): BEFORE UPDATE OR DELETE OR TRUNCATE statement
 * trigger of the audit table; refuses all of them except ak_prune_audit's
 * DELETE.
 */
Datum
ak_audit_append_only(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ak_audit_append_only() must be fired BEFORE UPDATE OR DELETE OR TRUNCATE FOR EACH STATEMENT")));
	if (RelationGetRelid(trigdata->tg_relation) != AkCatalogRelid(AUDIT_TABLE))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ak_audit_append_only() fired on table \"%s\", which is not the key audit log",
						RelationGetRelationName(trigdata->tg_relation))));
	if (pruning && TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		return PointerGetDatum(NULL);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("the key audit log is append-only"),
			 errdetail("Its rows can be neither updated nor deleted one by one."),
			 errhint("Remove old rows with access_key.ak_prune_audit(older_than).")));
	PG_RETURN_NULL();			/* not reached */
}

/*
 * ak_prune_audit(older_than): deletes the audit rows written before
 * older_than; returns how many.  Logs what it removed, so pruning leaves a
 * trace in the server log.
 */
Datum
ak_prune_audit(PG_FUNCTION_ARGS)
{
	Oid			types[1] = {TIMESTAMPTZOID};
	Datum		args[1];
	uint64		removed;

	AkRequireNoSessionKey("ak_prune_audit");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("older_than must not be null")));
	/* A later cutoff would erase this transaction's own changes from the log. */
	if (PG_GETARG_TIMESTAMPTZ(0) > GetCurrentTransactionStartTimestamp())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("older_than must not be later than the current time"),
				 errdetail("older_than is %s; the current time is %s.",
						   pstrdup(timestamptz_to_str(PG_GETARG_TIMESTAMPTZ(0))),
						   pstrdup(timestamptz_to_str(GetCurrentTransactionStartTimestamp()))),
				 errhint("The log is pruned of changes made before a time that has passed.")));
	args[0] = PG_GETARG_DATUM(0);
	pruning = true;
	PG_TRY();
	{
		removed = AkCatalogExecute("DELETE FROM access_key." AUDIT_TABLE
								   " WHERE at OPERATOR(pg_catalog.<) $1", 1, types, args, NULL);
	}
	PG_FINALLY();
	{
		pruning = false;
	}
	PG_END_TRY();
	ereport(LOG,
			(errmsg("access_key: role \"%s\" pruned %llu key audit rows older than %s",
					GetUserNameFromId(GetUserId(), false), (unsigned long long) removed,
					timestamptz_to_str(PG_GETARG_TIMESTAMPTZ(0)))));
	PG_RETURN_INT64((int64) removed);
}
