/*
 * collection.h — protected event collections: ak_protect/ak_unprotect, the
 * access_key.collections catalog, autofill and the append-only guard.
 *
 * A table is a protected collection exactly when access_key.collections has
 * a row for it (or for its partition root); that row names the jsonb column
 * holding event properties.  The triggers ak_protect creates check the
 * catalog before reading a row, so they cannot be pointed at other tables.
 */
#ifndef ACCESS_KEY_COLLECTION_H
#define ACCESS_KEY_COLLECTION_H

#include "postgres.h"

#include "compat.h"

#include "nodes/pg_list.h"

typedef enum AkCollectionLookup
{
	AK_COLLECTION_REGISTERED,
	AK_COLLECTION_NOT_REGISTERED,
	AK_COLLECTION_NO_CATALOG	/* a database still at extension version 1.0 */
} AkCollectionLookup;

/*
 * Whether relid (or its partition root) is a protected collection;
 * *properties_column (if not NULL) gets its properties column.
 */
extern AkCollectionLookup AkFetchCollection(Oid relid, char **properties_column);

/*
 * The event time column named at ak_protect for relid (or its partition
 * root), or NULL: none, or not a protected collection.
 */
extern char *AkFetchCollectionTimeColumn(Oid relid);

/*
 * Whether relid has a catalog row of its own: a protected collection that is
 * not (or not yet) counted as its partition root.
 */
extern bool AkCollectionRegisteredItself(Oid relid);

/* The relids of every protected collection, in catalog order. */
extern List *AkCollectionRelids(void);

/* The schema-qualified, quoted name of a relation. */
extern char *AkQualifiedName(Oid relid);

/*
 * The statements that put a protected collection's policies and triggers on
 * a table (the collection itself, or a partition of it, whose
 * SELECT policy names the collection).
 */
extern char *AkSelectPolicySql(const char *table, Oid collection, const char *column,
							   const char *time_column);
extern char *AkInsertPolicySql(const char *table);
extern char *AkAppendOnlyTriggerSql(const char *table);
extern char *AkAutofillTriggerSql(const char *table, const char *column);

/* Whether the table has policies other than the two ak_protect creates. */
extern bool AkHasOtherPolicies(Oid relid);

/*
 * Raises 39P01 "<function> <problem>" for a trigger or event trigger function
 * called in a way it was not made for.
 */
extern AK_NORETURN void AkTriggerMisused(const char *function, const char *problem);

#endif							/* ACCESS_KEY_COLLECTION_H */
