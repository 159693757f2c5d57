/*
 * subtransaction.h — running a piece of work in its own subtransaction, so
 * its failure can be reported without aborting the caller's transaction.
 */
#ifndef ACCESS_KEY_SUBTRANSACTION_H
#define ACCESS_KEY_SUBTRANSACTION_H

#include "postgres.h"

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

#endif							/* ACCESS_KEY_SUBTRANSACTION_H */
