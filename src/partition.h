/*
 * partition.h — protected collections that are partitioned tables.
 */
#ifndef ACCESS_KEY_PARTITION_H
#define ACCESS_KEY_PARTITION_H

#include "postgres.h"

#include "compat.h"

/*
 * Puts the collection's policies and append-only trigger on every partition
 * of a protected partitioned table, at every level, and the autofill row
 * trigger on every leaf.  Partitions that already have them are left alone;
 * a partition that is a protected collection of its own is adopted, and a
 * foreign table among them is refused (42809).
 */
extern void AkProtectPartitions(Oid root, const char *column, const char *time_column);

/* Undoes AkProtectPartitions on every partition of root. */
extern void AkUnprotectPartitions(Oid root);

/* Raises 42809: partitions are protected and unprotected with their root. */
extern AK_NORETURN void AkRefusePartition(Oid relid, const char *function);

#endif							/* ACCESS_KEY_PARTITION_H */
