/*
 * admin.h — administrators of saved queries, datasets and schema
 * inspection, and the names a caller may see.
 */
#ifndef ACCESS_KEY_ADMIN_H
#define ACCESS_KEY_ADMIN_H

#include "postgres.h"

#include "definition.h"

#include "fmgr.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "utils/array.h"

/* No key presented and EXECUTE on the named admin function ("schema.fn(args)"). */
extern bool AkIsAdmin(const char *admin_function_signature);

/*
 * Whether a key may see a row of an extension table; sets *name to the row's
 * name in any case (key is NULL for an admin).
 */
typedef bool (*AkRowVisible) (HeapTuple row, TupleDesc desc, AccessKey key, char **name);

/*
 * The names (text[]) of the rows of access_key.<relname> the caller may see:
 * all of them for an admin (see AkIsAdmin), those `visible` accepts for the
 * session's key, none otherwise.
 */
extern ArrayType *AkVisibleNames(const char *relname, const char *admin_function_signature,
								 AkRowVisible visible);

/*
 * The body of ak_delete_saved_query and ak_delete_dataset: deletes the row
 * of access_key.<relname> named by the function's first argument, as the
 * extension's owner; 42501 while a key is presented, 22004 for a NULL name,
 * 42704 when there is no such row.  kind names the object in messages.
 */
extern void AkDeleteNamed(FunctionCallInfo fcinfo, const char *function, const char *relname,
						  const char *kind);

#endif							/* ACCESS_KEY_ADMIN_H */
