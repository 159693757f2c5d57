/*
 * dataset.h — datasets.
 */
#ifndef ACCESS_KEY_DATASET_H
#define ACCESS_KEY_DATASET_H

#include "postgres.h"

#include "utils/timestamp.h"

/*
 * Refreshes every dataset with a refresh rate that is due at now, each in its
 * own subtransaction and as the role that stored it; a dataset that fails
 * becomes a WARNING (a cancel, a timeout or a server problem is raised).
 * Returns how many were refreshed.
 */
extern int	AkRefreshDueDatasets(TimestampTz now);

#endif							/* ACCESS_KEY_DATASET_H */
