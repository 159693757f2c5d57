/*
 * vocabulary.c — name tables of the definition's fixed words.
 */
#include "postgres.h"

#include "vocabulary.h"

#include "lib/stringinfo.h"

const char *const ak_action_names[AK_ACTION_COUNT] = {
	[AK_ACTION_WRITES] = "writes",
	[AK_ACTION_QUERIES] = "queries",
	[AK_ACTION_SAVED_QUERIES] = "saved_queries",
	[AK_ACTION_CACHED_QUERIES] = "cached_queries",
	[AK_ACTION_DATASETS] = "datasets",
	[AK_ACTION_SCHEMA] = "schema",
	[AK_ACTION_KEYS] = "keys",
};
StaticAssertDecl(lengthof(ak_action_names) == AK_ACTION_COUNT, "ak_action_names matches AkAction");

const char *const ak_section_names[AK_SECTION_COUNT] = {
	[AK_SECTION_WRITES] = "writes",
	[AK_SECTION_QUERIES] = "queries",
	[AK_SECTION_SAVED_QUERIES] = "saved_queries",
	[AK_SECTION_CACHED_QUERIES] = "cached_queries",
	[AK_SECTION_DATASETS] = "datasets",
	[AK_SECTION_SCHEMA] = "schema",
};
StaticAssertDecl(lengthof(ak_section_names) == AK_SECTION_COUNT, "ak_section_names matches AkSection");
/* A section is named after its action, so AkSection values convert to AkAction. */
StaticAssertDecl((int) AK_SECTION_SCHEMA == (int) AK_ACTION_SCHEMA, "sections follow actions");

const char *const ak_dataset_operation_names[AK_DATASET_OPERATION_COUNT] = {
	[AK_DATASET_READ] = "read",
	[AK_DATASET_LIST] = "list",
	[AK_DATASET_RETRIEVE] = "retrieve",
};
StaticAssertDecl(lengthof(ak_dataset_operation_names) == AK_DATASET_OPERATION_COUNT,
				 "ak_dataset_operation_names matches AkDatasetOperation");

const char *const ak_filter_op_names[AK_OP_COUNT] = {
	[AK_OP_EQ] = "eq",
	[AK_OP_NE] = "ne",
	[AK_OP_LT] = "lt",
	[AK_OP_LTE] = "lte",
	[AK_OP_GT] = "gt",
	[AK_OP_GTE] = "gte",
	[AK_OP_EXISTS] = "exists",
	[AK_OP_IN] = "in",
	[AK_OP_CONTAINS] = "contains",
	[AK_OP_NOT_CONTAINS] = "not_contains",
	[AK_OP_REGEX] = "regex",
	[AK_OP_WITHIN] = "within",
	[AK_OP_OR] = "or",
};
StaticAssertDecl(lengthof(ak_filter_op_names) == AK_OP_COUNT, "ak_filter_op_names matches AkFilterOp");

const char *const ak_property_type_names[AK_PTYPE_COUNT] = {
	[AK_PTYPE_STRING] = "String",
	[AK_PTYPE_NUMBER] = "Number",
	[AK_PTYPE_BOOLEAN] = "Boolean",
	[AK_PTYPE_DATETIME] = "Datetime",
	[AK_PTYPE_NULL] = "Null",
	[AK_PTYPE_LIST] = "List",
	[AK_PTYPE_GEO] = "Geo",
};
StaticAssertDecl(lengthof(ak_property_type_names) == AK_PTYPE_COUNT, "ak_property_type_names matches AkPropertyType");

const char *const ak_context_names[AK_CONTEXT_COUNT] = {
	[AK_CONTEXT_QUERIES] = "queries",
	[AK_CONTEXT_SAVED_QUERIES] = "saved_queries",
};
StaticAssertDecl(lengthof(ak_context_names) == AK_CONTEXT_COUNT, "ak_context_names matches AkContext");

const char *const ak_audit_operation_names[AK_AUDIT_OPERATION_COUNT] = {
	[AK_AUDIT_CREATE] = "create",
	[AK_AUDIT_UPDATE] = "update",
	[AK_AUDIT_PATCH] = "patch",
	[AK_AUDIT_REVOKE] = "revoke",
	[AK_AUDIT_UNREVOKE] = "unrevoke",
	[AK_AUDIT_DELETE] = "delete",
	[AK_AUDIT_ROTATE] = "rotate",
	[AK_AUDIT_DERIVE] = "derive",
	[AK_AUDIT_IMPORT] = "import",
	[AK_AUDIT_SET_EXPIRY] = "set_expiry",
};
StaticAssertDecl(lengthof(ak_audit_operation_names) == AK_AUDIT_OPERATION_COUNT,
				 "ak_audit_operation_names matches AkAuditOperation");
const char *const ak_time_unit_names[AK_UNIT_COUNT] = {
	[AK_UNIT_MINUTES] = "minutes",
	[AK_UNIT_HOURS] = "hours",
	[AK_UNIT_DAYS] = "days",
	[AK_UNIT_WEEKS] = "weeks",
	[AK_UNIT_MONTHS] = "months",
	[AK_UNIT_YEARS] = "years",
};
StaticAssertDecl(lengthof(ak_time_unit_names) == AK_UNIT_COUNT, "ak_time_unit_names matches AkTimeUnit");

const char *const ak_relative_kind_names[AK_RELATIVE_COUNT] = {
	[AK_RELATIVE_THIS] = "this",
	[AK_RELATIVE_PREVIOUS] = "previous",
};
StaticAssertDecl(lengthof(ak_relative_kind_names) == AK_RELATIVE_COUNT,
				 "ak_relative_kind_names matches AkRelativeKind");

int
AkLookupName(const char *const *names, int count, const char *name, int len)
{
	for (int i = 0; i < count; i++)
		if (strlen(names[i]) == (size_t) len && memcmp(names[i], name, len) == 0)
			return i;
	return -1;
}

char *
AkJoinNames(const char *const *names, int count)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < count; i++)
		appendStringInfo(&buf, "%s%s", i ? ", " : "", names[i]);
	return buf.data;
}

AkAction
AkContextAction(AkContext context)
{
	return context == AK_CONTEXT_SAVED_QUERIES ? AK_ACTION_SAVED_QUERIES : AK_ACTION_QUERIES;
}

AkContext
AkParseContext(const char *name, int len)
{
	int			idx = AkLookupName(ak_context_names, AK_CONTEXT_COUNT, name, len);

	if (idx < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown filter context \"%s\"", pnstrdup(name, len)),
				 errhint("Contexts are: %s.", AkJoinNames(ak_context_names, AK_CONTEXT_COUNT))));
	return (AkContext) idx;
}
