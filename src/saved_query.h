/*
 * saved_query.h — saved and cached queries.
 */
#ifndef ACCESS_KEY_SAVED_QUERY_H
#define ACCESS_KEY_SAVED_QUERY_H

#include "postgres.h"

#include "utils/timestamp.h"

/*
 * Refreshes every cached query due at now, each in its own subtransaction
 * and as the role that stored it; a query that fails becomes a WARNING (a
 * cancel, a timeout or a server problem is raised).  Returns how many were
 * refreshed.
 */
extern int	AkRefreshDueCachedQueries(TimestampTz now);

#endif							/* ACCESS_KEY_SAVED_QUERY_H */
