/*
 * stored_sql.h — validating SQL stored by admins.
 */
#ifndef ACCESS_KEY_STORED_SQL_H
#define ACCESS_KEY_STORED_SQL_H

#include "postgres.h"

#include "nodes/pg_list.h"

/*
 * Validates stored SQL: exactly one SELECT, read-only, parsed and analyzed
 * as the caller, not reading the extension's own tables.  Returns the
 * statement's text alone; *columns (if not NULL) gets its output column names.
 */
extern char *AkCheckStoredQuery(const char *sql, List **columns);

/*
 * AkCheckStoredQuery that also returns in *relids the oids of every
 * relation the query reads, at any depth, views expanded.
 */
extern char *AkCheckStoredQueryReads(const char *sql, List **columns, List **relids);

/*
 * The caller's search_path as it resolves now, with pg_temp last: stored
 * with a query, so it always resolves alike whoever runs it.
 */
extern char *AkCurrentSearchPath(void);

/*
 * Pins the settings that change what SQL text means (standard strings,
 * transform_null_equals) at the current GUC nest level.
 */
extern void AkPinParserSettings(void);

#endif							/* ACCESS_KEY_STORED_SQL_H */
