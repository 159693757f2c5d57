/*
 * refresh_schedule.h — refreshing what is due, and scheduling that with pg_cron.
 */
#ifndef ACCESS_KEY_REFRESH_SCHEDULE_H
#define ACCESS_KEY_REFRESH_SCHEDULE_H

#include "postgres.h"

/* The pg_cron job name of the current database's refresh job. */
extern char *AkRefreshJobName(void);

#endif							/* ACCESS_KEY_REFRESH_SCHEDULE_H */
