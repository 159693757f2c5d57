/*
 * last_used.c — noting key use per backend, and the background worker that
 * writes keys.last_used_at (see last_used.h).
 *
 * The hand-over segment.  Each backend that noted a use creates one dynamic
 * shared memory segment, mapped for the backend's life, holding one batch and
 * its state:
 *
 *   FREE   --backend: fills it, pins the segment, registers a worker-->  READY
 *   READY  --worker: claims it (compare-and-exchange)-->                   TAKING
 *   TAKING --worker: copies it, unpins the segment-->                      FREE
 *
 * The pin keeps a READY batch alive when its backend exits before the worker
 * starts; the worker drops the pin once it has its copy.  The backend pins
 * only from FREE, and the worker unpins before it sets FREE, so a pin is
 * never taken twice.
 */
#include "postgres.h"

#include "catalog.h"
#include "last_used.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#define BATCH_MAGIC 0x616B4C55	/* "akLU" */
#define BATCH_CAPACITY 1024		/* keys per hand-over; more wait for the next */
#define RETRY_AFTER_MS 1000		/* after finding no free worker slot */
#define EXIT_WAIT_MS 250		/* how long an exiting backend waits for its worker */

enum
{
	BATCH_FREE,
	BATCH_READY,
	BATCH_TAKING
};

/* One noted use: the hash key comes first. */
typedef struct KeyUse
{
	pg_uuid_t	key_id;
	TimestampTz used_at;
} KeyUse;

/* The hand-over segment's contents. */
typedef struct UsageBatch
{
	uint32		magic;
	pg_atomic_uint32 state;
	Oid			database;
	int			count;
	KeyUse		uses[BATCH_CAPACITY];
} UsageBatch;

/* Seconds between hand-overs of one backend; 0 turns recording off. */
static int	last_used_interval = 60;

/* The uses noted since the last hand-over, by key id (in TopMemoryContext). */
static HTAB *pending = NULL;

/* This backend's hand-over segment and its latest worker, or NULL. */
static dsm_segment *segment = NULL;
static BackgroundWorkerHandle *worker = NULL;

/* A READY batch waits for a worker slot. */
static bool launch_failed = false;

/* When this backend last handed a batch over (0: never, so the first goes at once). */
static TimestampTz last_handover_at = 0;

/* No attempt before this time, after one found no free worker slot. */
static TimestampTz retry_at = 0;

void
AkLastUsedInit(void)
{
	DefineCustomIntVariable("access_key.last_used_interval",
							"How often each backend hands the keys it used over to be recorded in last_used_at.",
							"A key is written at most once per interval per backend. 0 turns recording off.",
							&last_used_interval,
							60, 0, 24 * 60 * 60,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);
}

/* Drops what was noted (on a standby nothing can be recorded). */
static void
ForgetPending(void)
{
	HASH_SEQ_STATUS seq;
	KeyUse	   *use;

	hash_seq_init(&seq, pending);
	while ((use = hash_seq_search(&seq)) != NULL)
		hash_search(pending, &use->key_id, HASH_REMOVE, NULL);
}

/* Whether this backend's latest worker may still take its batch. */
static bool
WorkerMayRun(void)
{
	pid_t		pid;
	BgwHandleStatus status;

	if (worker == NULL)
		return false;
	status = GetBackgroundWorkerPid(worker, &pid);
	return status == BGWH_NOT_YET_STARTED || status == BGWH_STARTED;
}

/* The hand-over segment, created on first use; NULL when none can be had now. */
static UsageBatch *
Batch(void)
{
	UsageBatch *batch;

	if (segment == NULL)
	{
		segment = dsm_create(sizeof(UsageBatch), DSM_CREATE_NULL_IF_MAXSEGMENTS);
		if (segment == NULL)
			return NULL;
		dsm_pin_mapping(segment);
		batch = dsm_segment_address(segment);
		batch->magic = BATCH_MAGIC;
		pg_atomic_init_u32(&batch->state, BATCH_FREE);
		batch->count = 0;
	}
	return dsm_segment_address(segment);
}

/* Moves up to a batch of noted uses into the segment and marks it READY. */
static void
FillBatch(UsageBatch *batch)
{
	HASH_SEQ_STATUS seq;
	KeyUse	   *use;
	int			n = 0;

	hash_seq_init(&seq, pending);
	while ((use = hash_seq_search(&seq)) != NULL)
	{
		if (n == BATCH_CAPACITY)
		{
			hash_seq_term(&seq);
			break;
		}
		batch->uses[n++] = *use;
		hash_search(pending, &use->key_id, HASH_REMOVE, NULL);
	}
	batch->count = n;
	batch->database = MyDatabaseId;
	dsm_pin_segment(segment);
	pg_write_barrier();
	pg_atomic_write_u32(&batch->state, BATCH_READY);
}

/* Registers a worker for the READY batch; false when no slot is free. */
static bool
LaunchWorker(void)
{
	BackgroundWorker w;
	BackgroundWorkerHandle *handle;
	MemoryContext old;
	bool		launched;

	memset(&w, 0, sizeof(w));
	snprintf(w.bgw_name, BGW_MAXLEN, "access_key last_used recorder for PID %d", MyProcPid);
	snprintf(w.bgw_type, BGW_MAXLEN, "access_key last_used recorder");
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "access_key");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "ak_last_used_worker_main");
	w.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(segment));
	w.bgw_notify_pid = 0;

	old = MemoryContextSwitchTo(TopMemoryContext);
	launched = RegisterDynamicBackgroundWorker(&w, &handle);
	MemoryContextSwitchTo(old);
	if (worker != NULL)
		pfree(worker);
	worker = launched ? handle : NULL;
	launch_failed = !launched;
	return launched;
}

/*
 * Hands noted uses over to a worker if the segment is free, or relaunches a
 * worker for a READY batch whose worker never ran.  Returns whether a worker
 * is now in charge of a batch.
 */
static bool
HandOver(void)
{
	UsageBatch *batch = Batch();
	uint32		state;

	if (batch == NULL)
		return false;
	state = pg_atomic_read_u32(&batch->state);
	if (state == BATCH_FREE)
	{
		if (hash_get_num_entries(pending) == 0)
			return false;
		FillBatch(batch);
	}
	else if (WorkerMayRun())
		return true;
	else if (state == BATCH_TAKING)
	{
		/* Its worker died while taking it: give the segment up, start afresh. */
		dsm_detach(segment);
		segment = NULL;
		return false;
	}
	return LaunchWorker();
}

/*
 * Hands over what was noted, with errors trapped: this runs at transaction
 * end and at backend exit, where an error must not escape.  At exit, it
 * first waits briefly for a worker still taking the previous batch, and
 * afterwards unpins a READY batch that no worker will take, so its segment
 * goes with the backend.
 */
static void
HandOverQuietly(bool exiting)
{
	MemoryContext context = CurrentMemoryContext;
	/* An error resets these; the transaction end that called us holds them. */
	uint32		interrupt_holdoff = InterruptHoldoffCount;
	uint32		cancel_holdoff = QueryCancelHoldoffCount;
	uint32		crit_section = CritSectionCount;
	TimestampTz now = GetCurrentTimestamp();

	PG_TRY();
	{
		UsageBatch *batch = segment ? dsm_segment_address(segment) : NULL;

		if (RecoveryInProgress())
			ForgetPending();
		else
		{
			if (exiting && batch != NULL && hash_get_num_entries(pending) > 0)
				for (int waited = 0; waited < EXIT_WAIT_MS &&
					 pg_atomic_read_u32(&batch->state) != BATCH_FREE && WorkerMayRun(); waited += 5)
					pg_usleep(5000L);
			if (HandOver())
				last_handover_at = now;
			else if (hash_get_num_entries(pending) > 0)
				retry_at = now + (TimestampTz) RETRY_AFTER_MS * 1000;
			batch = segment ? dsm_segment_address(segment) : NULL;
			if (exiting && batch != NULL &&
				pg_atomic_read_u32(&batch->state) == BATCH_READY && !WorkerMayRun())
				dsm_unpin_segment(dsm_segment_handle(segment));
		}
	}
	PG_CATCH();
	{
		ErrorData  *error;

		MemoryContextSwitchTo(context);
		InterruptHoldoffCount = interrupt_holdoff;
		QueryCancelHoldoffCount = cancel_holdoff;
		CritSectionCount = crit_section;
		error = CopyErrorData();
		FlushErrorState();
		ereport(LOG,
				(errmsg("access_key could not hand key use over for recording: %s", error->message)));
		FreeErrorData(error);
		retry_at = now + (TimestampTz) RETRY_AFTER_MS * 1000;
	}
	PG_END_TRY();
}

/*
 * At the end of every transaction, committed or not: hand over at most once
 * per interval per backend.
 */
static void
LastUsedXactCallback(XactEvent event, void *arg)
{
	TimestampTz now;

	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT)
		return;
	if (hash_get_num_entries(pending) == 0 && !launch_failed)
		return;
	now = GetCurrentTimestamp();
	if (now < retry_at || now < last_handover_at + (TimestampTz) last_used_interval * USECS_PER_SEC)
		return;
	HandOverQuietly(false);
}

/* At backend exit: hand over what is left, and release a batch no worker will take. */
static void
LastUsedAtExit(int code, Datum arg)
{
	if (hash_get_num_entries(pending) > 0 || segment != NULL)
		HandOverQuietly(true);
}

void
AkLastUsedNote(const pg_uuid_t *key_id, TimestampTz used_at)
{
	KeyUse	   *use;
	bool		found;

	if (last_used_interval == 0 || IsParallelWorker() || !IsUnderPostmaster)
		return;
	if (pending == NULL)
	{
		HASHCTL		ctl = {0};

		ctl.keysize = sizeof(pg_uuid_t);
		ctl.entrysize = sizeof(KeyUse);
		ctl.hcxt = TopMemoryContext;
		pending = hash_create("access_key key use", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		RegisterXactCallback(LastUsedXactCallback, NULL);
		before_shmem_exit(LastUsedAtExit, (Datum) 0);
	}
	use = hash_search(pending, key_id, HASH_FIND, NULL);
	if (use == NULL)
	{
		/* Bounded memory: beyond a batch, uses wait until noted again. */
		if (hash_get_num_entries(pending) >= BATCH_CAPACITY)
			return;
		use = hash_search(pending, key_id, HASH_ENTER, &found);
		use->used_at = used_at;
	}
	else if (use->used_at < used_at)
		use->used_at = used_at;
}

/* Whether this database's access_key records last use (not before 1.1). */
static bool
DatabaseRecordsUse(void)
{
	bool		records = false;

	if (!OidIsValid(AkCatalogRelidIfExists("keys")))
		return false;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* 1.0's key table trigger would empty every backend's key cache on each write. */
	if (SPI_execute("SELECT 1 FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'access_key'"
					" AND extversion OPERATOR(pg_catalog.<>) '1.0'", true, 1) == SPI_OK_SELECT)
		records = SPI_processed == 1;
	SPI_finish();
	return records;
}

/* Writes a batch: last_used_at only ever moves forward; locked keys are skipped. */
static void
RecordUses(KeyUse *uses, int count)
{
	Datum	   *ids = palloc(sizeof(Datum) * count);
	Datum	   *times = palloc(sizeof(Datum) * count);
	Oid			types[2] = {UUIDARRAYOID, TIMESTAMPTZARRAYOID};
	Datum		args[2];

	for (int i = 0; i < count; i++)
	{
		ids[i] = UUIDPGetDatum(&uses[i].key_id);
		times[i] = TimestampTzGetDatum(uses[i].used_at);
	}
	args[0] = PointerGetDatum(construct_array(ids, count, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
	args[1] = PointerGetDatum(construct_array(times, count, TIMESTAMPTZOID, sizeof(TimestampTz),
											  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	/* A key row an admin is changing is skipped rather than waited for. */
	AkCatalogExecute("WITH used AS ("
					 "    SELECT u.id, u.used_at FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) AS u(id, used_at)),"
					 " lockable AS ("
					 "    SELECT k.id FROM access_key.keys AS k JOIN used ON k.id OPERATOR(pg_catalog.=) used.id"
					 "    WHERE k.last_used_at IS NULL OR k.last_used_at OPERATOR(pg_catalog.<) used.used_at"
					 "    FOR NO KEY UPDATE OF k SKIP LOCKED)"
					 " UPDATE access_key.keys AS k SET last_used_at = used.used_at"
					 " FROM used JOIN lockable ON lockable.id OPERATOR(pg_catalog.=) used.id"
					 " WHERE k.id OPERATOR(pg_catalog.=) used.id"
					 "   AND (k.last_used_at IS NULL OR k.last_used_at OPERATOR(pg_catalog.<) used.used_at)",
					 2, types, args, NULL);
}

void
ak_last_used_worker_main(Datum main_arg)
{
	dsm_handle	handle = DatumGetUInt32(main_arg);
	dsm_segment *seg;
	UsageBatch *batch;
	uint32		expected = BATCH_READY;
	KeyUse	   *uses;
	int			count;
	Oid			database;

	BackgroundWorkerUnblockSignals();

	/* Take the batch: claim it, copy it, release the segment. */
	seg = dsm_attach(handle);
	if (seg == NULL)
		proc_exit(0);
	batch = dsm_segment_address(seg);
	if (batch->magic != BATCH_MAGIC ||
		!pg_atomic_compare_exchange_u32(&batch->state, &expected, BATCH_TAKING))
	{
		dsm_detach(seg);
		proc_exit(0);
	}
	pg_read_barrier();
	count = Min(Max(batch->count, 0), BATCH_CAPACITY);
	database = batch->database;
	uses = palloc(sizeof(KeyUse) * Max(count, 1));
	memcpy(uses, batch->uses, sizeof(KeyUse) * count);
	dsm_unpin_segment(handle);
	pg_write_barrier();
	pg_atomic_write_u32(&batch->state, BATCH_FREE);
	dsm_detach(seg);
	if (count == 0)
		proc_exit(0);

	/* The bootstrap superuser; the write itself runs as the extension's owner. */
	BackgroundWorkerInitializeConnectionByOid(database, InvalidOid, 0);
	SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("lock_timeout", "5000", PGC_SUSET, PGC_S_OVERRIDE);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "access_key: recording last_used_at");
	if (DatabaseRecordsUse())
		RecordUses(uses, count);
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}
