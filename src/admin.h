/*
 * admin.h — administrators of saved queries, datasets and schema
 * inspection, and the names a caller may see.
 */
#ifndef ACCESS_KEY_ADMIN_H
#define ACCESS_KEY_ADMIN_H

#include "postgres.h"

#include "definition.h"

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

#endif							/* ACCESS_KEY_ADMIN_H */
