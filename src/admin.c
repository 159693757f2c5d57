/*
 * admin.c — who counts as an administrator of saved queries, datasets and
 * schema inspection, and the names each caller may see.
 *
 * Without a key, a role is an admin of a kind of object when it holds
 * EXECUTE on that kind's creating function; with a key, the key decides.
 */
#include "postgres.h"

#include "admin.h"
#include "catalog.h"
#include "compat.h"
#include "session.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/regproc.h"

ArrayType *
AkVisibleNames(const char *relname, const char *admin_function_signature, AkRowVisible visible)
{
	const AkStoredKey *key = AkSessionKey();
	bool		admin = key == NULL && AkIsAdmin(admin_function_signature);
	TupleDesc	desc;
	List	   *rows;
	ListCell   *lc;
	Datum	   *names;
	int			n = 0;

	if (key == NULL && !admin)
		return construct_empty_array(TEXTOID);
	rows = AkCatalogScan(relname, AK_CATALOG_STATEMENT_SNAPSHOT, &desc);
	names = palloc(sizeof(Datum) * Max(list_length(rows), 1));
	foreach(lc, rows)
	{
		char	   *name;
		bool		ok = visible(lfirst(lc), desc, key ? key->definition : NULL, &name);

		if (admin || ok)
			names[n++] = CStringGetTextDatum(name);
	}
	return construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT);
}

bool
AkIsAdmin(const char *admin_function_signature)
{
	Oid			proc;
	bool		ok;

	if (AkSessionPresentsKey())
		return false;
	/* A bad signature here is a bug; a missing function is not an error. */
	proc = DatumGetObjectId(DirectFunctionCall1(regprocedurein,
												CStringGetDatum(admin_function_signature)));
	ok = OidIsValid(proc) && AkProcAclCheck(proc, GetUserId(), ACL_EXECUTE) == ACLCHECK_OK;
	return ok;
}

void
AkDeleteNamed(FunctionCallInfo fcinfo, const char *function, const char *relname, const char *kind)
{
	Oid			types[1] = {TEXTOID};
	Datum		args[1];

	AkRequireNoSessionKey(function);
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the name of a %s must not be null", kind)));
	args[0] = PG_GETARG_DATUM(0);
	if (AkCatalogExecute(psprintf("DELETE FROM access_key.%s WHERE name OPERATOR(pg_catalog.=) $1", relname),
						 1, types, args, NULL) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("%s \"%s\" does not exist", kind, text_to_cstring(PG_GETARG_TEXT_PP(0)))));
}
