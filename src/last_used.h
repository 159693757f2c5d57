/*
 * last_used.h — recording keys.last_used_at with bounded cost
 * (docs/reference.md#last-use).
 *
 * A request never writes.  Each backend notes in memory, at most once per
 * transaction per key, the start time of a transaction that presented the
 * key.  At the end of a transaction (commit or rollback alike), and at most
 * once per access_key.last_used_interval, the backend hands what it noted to
 * a short-lived dynamic background worker, through a small shared memory
 * segment, and forgets it; the worker updates last_used_at = the greater of
 * the stored and the noted time, in its own transaction.  So:
 *
 * - a write per key per backend per interval at most, and one worker per
 *   backend per interval at most;
 * - the caller's rollback does not lose the use, and a read-only (or any)
 *   transaction never fails because of it: nothing is written in it;
 * - on a hot standby, in parallel workers and in single-user mode nothing is
 *   recorded and nothing fails; when no worker slot is free the batch waits
 *   for a later transaction end;
 * - what a backend noted in its last interval is handed over when it exits.
 *
 * Nothing here may raise an error into the caller's transaction end: the
 * flush runs in transaction callbacks and traps its own errors.
 */
#ifndef ACCESS_KEY_LAST_USED_H
#define ACCESS_KEY_LAST_USED_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

/* Defines access_key.last_used_interval; called from _PG_init. */
extern void AkLastUsedInit(void);

/* Notes that a transaction starting at used_at presented the key. */
extern void AkLastUsedNote(const pg_uuid_t *key_id, TimestampTz used_at);

/* The background worker's entry point (named in its registration). */
extern PGDLLEXPORT void ak_last_used_worker_main(Datum main_arg);

#endif							/* ACCESS_KEY_LAST_USED_H */
