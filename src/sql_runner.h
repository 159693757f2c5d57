/*
 * sql_runner.h — running stored SQL read-only.
 */
#ifndef ACCESS_KEY_SQL_RUNNER_H
#define ACCESS_KEY_SQL_RUNNER_H

#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

/*
 * Runs sql read-only as the current user (row-level security applies), with
 * the search_path it was stored with and the filter context set to
 * saved_queries when asked; returns the first ncolumns columns of every row
 * (NULL for SQL nulls), copied into the caller's memory context.
 */
extern List *AkRunReadOnly(const char *sql, const char *search_path,
						   int nargs, Oid *argtypes, Datum *args,
						   bool saved_queries_context, int ncolumns);

/*
 * AkRunReadOnly as another role (the stored query's owner), as a
 * materialized view refresh runs as the view's owner: cached results and
 * datasets are computed with their creator's rights, never the refresher's.
 * It reads the data committed when it runs (in READ COMMITTED, a new
 * snapshot), so a refresh that waited for another one's lock computes from
 * what that one committed, not from older data.
 */
extern List *AkRunReadOnlyAs(Oid role, const char *sql, const char *search_path,
							 int nargs, Oid *argtypes, Datum *args, int ncolumns);

/* Wraps a stored query so that each row comes back as one jsonb object. */
extern char *AkRowsAsJsonbSql(const char *sql);

/* {"result": <result>, "refreshed_at": <time or null>} */
extern Jsonb *AkResultObject(Jsonb *result, bool has_refreshed_at, TimestampTz refreshed_at);

#endif							/* ACCESS_KEY_SQL_RUNNER_H */
