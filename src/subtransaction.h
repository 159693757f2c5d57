/*
 * subtransaction.h — running a piece of work in its own subtransaction, so
 * its failure can be reported without aborting the caller's transaction;
 * the loop that refreshes each due cached query or dataset that way.
 */
#ifndef ACCESS_KEY_SUBTRANSACTION_H
#define ACCESS_KEY_SUBTRANSACTION_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "utils/timestamp.h"

/*
 * Runs work(arg) in a subtransaction.  On success the subtransaction is
 * committed into the caller's and NULL is returned; on error it is rolled
 * back and the error, copied into the caller's memory context, is returned.
 * Allocations made by work survive in the caller's memory context either way.
 */
extern ErrorData *AkTrySubtransaction(void (*work) (void *arg), void *arg);

/*
 * Whether an error is about the session or the server rather than the work
 * that raised it (a cancel, a timeout, a serialization failure, running out
 * of resources, an invalid key...): callers that turn errors into reports
 * must raise these again.
 */
extern bool AkErrorStopsEverything(const ErrorData *error);

/*
 * Runs work(arg) in a subtransaction; an error that does not stop
 * everything becomes a WARNING "<what>: <message>" (same SQLSTATE and
 * DETAIL) and false is returned; the others are raised again.
 */
extern bool AkTryOrWarn(void (*work) (void *arg), void *arg, const char *what);

/* One stored object to refresh if, once locked, it is still due at now. */
typedef struct AkRefreshRequest
{
	const char *name;
	TimestampTz now;
	bool		refreshed;		/* set by the refresh: it was still due */
} AkRefreshRequest;

/*
 * The refresh of what is due: for each row of access_key.<table> that
 * due_name() names (it returns NULL for a row that is not due at now),
 * refresh(AkRefreshRequest *) in its own subtransaction; a failure becomes
 * the WARNING "could not refresh <what> "<name>": ..." (AkTryOrWarn) and the
 * others go on.  Returns how many were refreshed.
 */
extern int	AkRefreshEachDue(const char *table, const char *what,
							 const char *(*due_name) (HeapTuple row, TupleDesc desc, TimestampTz now),
							 void (*refresh) (void *request), TimestampTz now);

#endif							/* ACCESS_KEY_SUBTRANSACTION_H */
