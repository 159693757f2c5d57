/*
 * refresh_schedule.c — ak_refresh_due, and scheduling it with pg_cron
 * (docs/reference.md#refreshing-on-a-schedule).
 *
 * The extension has no scheduler of its own.  ak_schedule_refresh creates,
 * through pg_cron, one job per database named "access_key refresh <db>"
 * that runs SELECT access_key.ak_refresh_due(); pg_cron runs a job as the
 * role that scheduled it, so only a role that may run ak_refresh_due may
 * schedule it, and pg_cron's own rules (USAGE on schema cron) decide the
 * rest.  pg_cron keys named jobs by (name, user): scheduling again replaces
 * the caller's job.  Nothing here touches pg_cron's tables directly.
 */
#include "postgres.h"

#include "compat.h"
#include "dataset.h"
#include "refresh_schedule.h"
#include "saved_query.h"
#include "session.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/regproc.h"

PG_FUNCTION_INFO_V1(ak_refresh_due);
PG_FUNCTION_INFO_V1(ak_schedule_refresh);
PG_FUNCTION_INFO_V1(ak_unschedule_refresh);

#define REFRESH_DUE "access_key.ak_refresh_due()"
#define REFRESH_COMMAND "SELECT " REFRESH_DUE

/*
 * ak_refresh_due(): refreshes every cached query and every dataset with a
 * refresh rate whose rate has passed since its last refresh; returns how
 * many.  What pg_cron's job runs.
 */
Datum
ak_refresh_due(PG_FUNCTION_ARGS)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	int			refreshed;

	AkRequireNoSessionKey("ak_refresh_due");
	refreshed = AkRefreshDueCachedQueries(now);
	refreshed += AkRefreshDueDatasets(now);
	PG_RETURN_INT32(refreshed);
}

char *
AkRefreshJobName(void)
{
	return psprintf("access_key refresh %s", get_database_name(MyDatabaseId));
}

/*
 * Raises 0A000 unless pg_cron is installed in this database, with a hint
 * that says exactly what is missing.
 */
static void
RequirePgCron(void)
{
	const char *db = get_database_name(MyDatabaseId);
	const char *cron_db;

	if (OidIsValid(get_extension_oid("pg_cron", true)))
		return;
	/* Set only when the pg_cron library is loaded (shared_preload_libraries). */
	cron_db = GetConfigOption("cron.database_name", true, false);
	if (cron_db == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("pg_cron is not installed"),
				 errdetail("Refreshing on a schedule uses the pg_cron extension, which is not loaded in this server."),
				 errhint("Install the package postgresql-%s-cron; in postgresql.conf set shared_preload_libraries = 'pg_cron' "
						 "and cron.database_name = '%s'; restart the server; then, as a superuser in database \"%s\", run "
						 "CREATE EXTENSION pg_cron and GRANT USAGE ON SCHEMA cron TO the role that schedules the refresh.",
						 PG_MAJORVERSION, db, db)));
	if (strcmp(cron_db, db) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("pg_cron runs its jobs from database \"%s\", not \"%s\"", cron_db, db),
				 errhint("In database \"%s\", run SELECT cron.schedule_in_database('%s', '* * * * *', '%s', '%s'); "
						 "or set cron.database_name = '%s' and restart.",
						 cron_db, AkRefreshJobName(), REFRESH_COMMAND, db, db)));
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("extension \"pg_cron\" is not installed in database \"%s\"", db),
			 errdetail("The pg_cron library is loaded and runs jobs from this database."),
			 errhint("As a superuser, run CREATE EXTENSION pg_cron and GRANT USAGE ON SCHEMA cron TO the role that schedules the refresh.")));
}

/* Runs a query on pg_cron's functions as the caller; its one result, or NULL. */
static Datum
CallPgCron(const char *sql, int nargs, Oid *types, Datum *args, bool *isnull)
{
	int			nestlevel = NewGUCNestLevel();
	Datum		result = (Datum) 0;

	*isnull = true;
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(sql, nargs, types, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not run: %s", sql);
	if (SPI_processed > 0)
		result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, isnull);
	/* Every result here is by value (bigint, boolean). */
	SPI_finish();
	AtEOXact_GUC(true, nestlevel);
	return result;
}

/*
 * ak_schedule_refresh(schedule text): creates or replaces the pg_cron job of
 * this database that runs ak_refresh_due() on that schedule, as the caller;
 * returns pg_cron's job id.
 */
Datum
ak_schedule_refresh(PG_FUNCTION_ARGS)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		args[3];
	Oid			refresh_due;
	bool		isnull;
	Datum		jobid;

	AkRequireNoSessionKey("ak_schedule_refresh");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the schedule must not be null"),
				 errhint("Give a cron schedule such as '* * * * *' (every minute).")));
	RequirePgCron();
	/* The job runs as the caller: it must be able to run what it schedules. */
	refresh_due = DatumGetObjectId(DirectFunctionCall1(regprocedurein, CStringGetDatum(REFRESH_DUE)));
	if (AkProcAclCheck(refresh_due, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to schedule the refresh"),
				 errdetail("pg_cron would run %s as role \"%s\", which may not execute it.",
						   REFRESH_DUE, GetUserNameFromId(GetUserId(), false)),
				 errhint("GRANT EXECUTE ON FUNCTION %s TO that role.", REFRESH_DUE)));
	args[0] = CStringGetTextDatum(AkRefreshJobName());
	args[1] = PG_GETARG_DATUM(0);
	args[2] = CStringGetTextDatum(REFRESH_COMMAND);
	jobid = CallPgCron("SELECT cron.schedule($1, $2, $3)", 3, types, args, &isnull);
	if (isnull)
		elog(ERROR, "cron.schedule returned no job id");
	PG_RETURN_DATUM(jobid);
}

/*
 * ak_unschedule_refresh(): removes the caller's refresh job of this
 * database; false when there was none.
 */
Datum
ak_unschedule_refresh(PG_FUNCTION_ARGS)
{
	Oid			types[1] = {TEXTOID};
	Datum		args[1];
	bool		isnull;
	Datum		exists;

	AkRequireNoSessionKey("ak_unschedule_refresh");
	RequirePgCron();
	args[0] = CStringGetTextDatum(AkRefreshJobName());
	/* cron.job shows each role its own jobs; cron.unschedule raises on none. */
	exists = CallPgCron("SELECT EXISTS (SELECT FROM cron.job WHERE jobname OPERATOR(pg_catalog.=) $1"
						" AND username OPERATOR(pg_catalog.=) CURRENT_USER)", 1, types, args, &isnull);
	if (isnull || !DatumGetBool(exists))
		PG_RETURN_BOOL(false);
	(void) CallPgCron("SELECT cron.unschedule($1)", 1, types, args, &isnull);
	PG_RETURN_BOOL(true);
}
