/*
 * subtransaction.c — work that may fail without aborting the caller.
 *
 * The pattern of PL/pgSQL's exception blocks: begin an internal
 * subtransaction, run, and on error copy the error data out, flush the
 * error state and roll the subtransaction back.  The caller's memory context
 * and resource owner are restored in both cases.
 */
#include "postgres.h"

#include "catalog.h"
#include "subtransaction.h"

#include "access/xact.h"
#include "utils/elog.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

ErrorData *
AkTrySubtransaction(void (*work) (void *arg), void *arg)
{
	MemoryContext caller = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile error = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(caller);
	PG_TRY();
	{
		work(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(caller);
		error = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
	}
	PG_END_TRY();
	return error;
}

bool
AkTryOrWarn(void (*work) (void *arg), void *arg, const char *what)
{
	ErrorData  *error = AkTrySubtransaction(work, arg);

	if (error == NULL)
		return true;
	if (AkErrorStopsEverything(error))
		ReThrowError(error);
	ereport(WARNING,
			(errcode(error->sqlerrcode),
			 errmsg("%s: %s", what, error->message),
			 error->detail ? errdetail("%s", error->detail) : 0));
	FreeErrorData(error);
	return false;
}

bool
AkErrorStopsEverything(const ErrorData *error)
{
	switch (ERRCODE_TO_CATEGORY(error->sqlerrcode))
	{
		case ERRCODE_TO_CATEGORY(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION):	/* 28: the key */
		case ERRCODE_TO_CATEGORY(ERRCODE_TRANSACTION_ROLLBACK): /* 40 */
		case ERRCODE_TO_CATEGORY(ERRCODE_INSUFFICIENT_RESOURCES):	/* 53 */
		case ERRCODE_TO_CATEGORY(ERRCODE_OPERATOR_INTERVENTION):	/* 57: cancel, shutdown */
		case ERRCODE_TO_CATEGORY(ERRCODE_SYSTEM_ERROR): /* 58 */
		case ERRCODE_TO_CATEGORY(ERRCODE_INTERNAL_ERROR):	/* XX */
			return true;
		default:
			return false;
	}
}

int
AkRefreshEachDue(const char *table, const char *what,
				 const char *(*due_name) (HeapTuple row, TupleDesc desc, TimestampTz now),
				 void (*refresh) (void *request), TimestampTz now)
{
	TupleDesc	desc;
	List	   *rows = AkCatalogScan(table, AK_CATALOG_STATEMENT_SNAPSHOT, &desc);
	ListCell   *lc;
	int			refreshed = 0;

	foreach(lc, rows)
	{
		AkRefreshRequest req = {.name = due_name(lfirst(lc), desc, now),.now = now};

		if (req.name == NULL)
			continue;
		if (AkTryOrWarn(refresh, &req, psprintf("could not refresh %s \"%s\"", what, req.name)))
			refreshed += req.refreshed ? 1 : 0;
	}
	return refreshed;
}
