/*
 * stored_query.h — SQL stored by admins and run on behalf of keys: saved
 * queries, cached queries and datasets (SPEC §9, §10).
 */
#ifndef ACCESS_KEY_STORED_QUERY_H
#define ACCESS_KEY_STORED_QUERY_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "nodes/pg_list.h"
#include "utils/array.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

/*
 * Validates stored SQL: exactly one SELECT, read-only, parsed and analyzed,
 * not reading the extension's own tables.  Returns the statement's text
 * alone; *columns (if not NULL) gets its output column names.
 */
extern char *AkCheckStoredQuery(const char *sql, List **columns);

/*
 * Runs sql read-only as the current user (row-level security applies), with
 * the search_path it was stored with and the filter context set to
 * saved_queries when asked; returns the first ncolumns columns of every row
 * (NULL for SQL nulls), copied into the caller's memory context.
 */
extern List *AkRunReadOnly(const char *sql, const char *search_path,
						   int nargs, Oid *argtypes, Datum *args,
						   bool saved_queries_context, int ncolumns);

/* 22023 unless name is 1 to 256 letters, digits, '-' or '_'. */
extern void AkCheckResourceName(const char *kind, const char *name);

/* The caller's search_path, stored with a query so it always resolves alike. */
extern char *AkCurrentSearchPath(void);

/*
 * AkRunReadOnly as another role (the stored query's owner), as a
 * materialized view refresh runs as the view's owner: cached results and
 * datasets are computed with their creator's rights, never the refresher's.
 */
extern List *AkRunReadOnlyAs(Oid role, const char *sql, const char *search_path,
							 int nargs, Oid *argtypes, Datum *args, int ncolumns);

/* Wraps a stored query so that each row comes back as one jsonb object. */
extern char *AkRowsAsJsonbSql(const char *sql);

/* A jsonb array of the given jsonb datums. */
extern Jsonb *AkJsonbArray(List *elements);

/* {"result": <result>, "refreshed_at": <time or null>} */
extern Jsonb *AkResultObject(Jsonb *result, bool has_refreshed_at, TimestampTz refreshed_at);

/* Runs a data-changing statement on the extension's tables as their owner. */
extern void AkWriteStore(const char *sql, int nargs, Oid *argtypes, Datum *args, const char *nulls);

/*
 * The names (text[]) of the rows of access_key.<relname> the caller may see:
 * all of them for an admin (see AkIsAdmin), those `visible` accepts for the
 * session's key, none otherwise.  `visible` also returns the row's name.
 */
typedef bool (*AkRowVisible) (HeapTuple row, TupleDesc desc, struct AccessKeyData *key, char **name);
/* (key is NULL for an admin; the callback must still set *name.) */
extern ArrayType *AkVisibleNames(const char *relname, const char *admin_function_signature,
								 AkRowVisible visible);

/* No key presented and EXECUTE on the named admin function. */
extern bool AkIsAdmin(const char *admin_function_signature);

#endif							/* ACCESS_KEY_STORED_QUERY_H */
