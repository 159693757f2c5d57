/*
 * permits.c — ak_permits (docs/reference.md#ak_permits-rules): may this key perform an action, on a
 * named saved query, cached query or dataset, with a dataset operation?
 */
#include "postgres.h"

#include "jsonb_util.h"
#include "permits.h"
#include "session.h"

#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(ak_permits);
PG_FUNCTION_INFO_V1(ak_permits_definition);

typedef struct PermitsRequest
{
	AkAction	action;
	text	   *resource;		/* NULL: the action as a whole */
	int			operation;		/* dataset operation index, or -1 */
} PermitsRequest;

/* Validates the arguments; errors do not depend on which key is asking. */
static PermitsRequest
ParseRequest(text *action, text *resource, text *operation)
{
	PermitsRequest req;
	int			idx = AkLookupName(ak_action_names, AK_ACTION_COUNT,
								   VARDATA_ANY(action), VARSIZE_ANY_EXHDR(action));

	if (idx < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown access key action \"%s\"", text_to_cstring(action)),
				 errhint("Actions are: %s.", AkJoinNames(ak_action_names, AK_ACTION_COUNT))));
	req.action = (AkAction) idx;
	req.resource = resource;
	req.operation = -1;

	if (resource && req.action != AK_ACTION_SAVED_QUERIES &&
		req.action != AK_ACTION_CACHED_QUERIES && req.action != AK_ACTION_DATASETS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("action \"%s\" does not take a resource name", ak_action_names[idx]),
				 errhint("Only saved_queries, cached_queries and datasets are checked per name.")));
	if (operation)
	{
		if (req.action != AK_ACTION_DATASETS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("action \"%s\" does not take an operation", ak_action_names[idx]),
					 errhint("Only datasets have operations (read, list, retrieve).")));
		req.operation = AkLookupName(ak_dataset_operation_names, AK_DATASET_OPERATION_COUNT,
									 VARDATA_ANY(operation), VARSIZE_ANY_EXHDR(operation));
		if (req.operation < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown dataset operation \"%s\"", text_to_cstring(operation)),
					 errhint("Operations are: %s.",
							 AkJoinNames(ak_dataset_operation_names, AK_DATASET_OPERATION_COUNT))));
	}
	return req;
}

bool
AkKeyPermits(AccessKey ak, AkAction action, const char *resource, int resource_len, int operation)
{
	AkSection	section = (AkSection) action;

	if (!AkIsActive(ak) || !AkPermitsAction(ak, action))
		return false;
	/* Only actions with an options section have named resources or operations. */
	Assert((resource == NULL && operation < 0) || action < AK_ACTION_KEYS);
	if (action >= AK_ACTION_KEYS)
		return resource == NULL && operation < 0;

	if (operation >= 0)
	{
		JsonbValue *operations = AkSectionMember(ak, section, "operations");
		const char *op = ak_dataset_operation_names[operation];

		if (operations && !AkArrayContainsString(operations, op, strlen(op)))
			return false;
	}

	if (resource)
	{
		JsonbValue *allowed = AkSectionMember(ak, section, "allowed");

		if (AkArrayContainsString(AkSectionMember(ak, section, "blocked"), resource, resource_len))
			return false;
		if (allowed == NULL)
			return true;
		if (AkIsObject(allowed))	/* datasets: name -> restrictions */
			return getKeyJsonValueFromContainer(allowed->val.binary.data, resource, resource_len, NULL) != NULL;
		return AkArrayContainsString(allowed, resource, resource_len);
	}
	return true;
}

/* AkKeyPermits for a parsed request. */
static bool
Permits(AccessKey ak, const PermitsRequest *req)
{
	if (req->resource)
		return AkKeyPermits(ak, req->action, VARDATA_ANY(req->resource),
							VARSIZE_ANY_EXHDR(req->resource), req->operation);
	return AkKeyPermits(ak, req->action, NULL, 0, req->operation);
}

/* ak_permits(action, resource, operation): for the session's key; false without one. */
Datum
ak_permits(PG_FUNCTION_ARGS)
{
	PermitsRequest req;
	const AkStoredKey *key;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	req = ParseRequest(PG_GETARG_TEXT_PP(0),
					   PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1),
					   PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2));
	key = AkSessionKey();
	PG_RETURN_BOOL(key != NULL && Permits(key->definition, &req));
}

/* ak_permits(definition, action, resource, operation): pure. */
Datum
ak_permits_definition(PG_FUNCTION_ARGS)
{
	PermitsRequest req;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	req = ParseRequest(PG_GETARG_TEXT_PP(1),
					   PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2),
					   PG_ARGISNULL(3) ? NULL : PG_GETARG_TEXT_PP(3));
	PG_RETURN_BOOL(Permits(PG_GETARG_ACCESS_KEY(0), &req));
}
