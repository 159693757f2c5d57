/*
 * collection_name.h — how key definitions name protected collections
 * (options.writes.collections, options.queries.collections).
 *
 * A name is schema-qualified and written as in SQL: "public.events",
 * "analytics.\"PageViews\"".  Unquoted parts fold to lower case, quoted
 * parts keep their case; each part is 1 to 63 bytes.  The canonical form
 * quotes a part only when it is not a plain lower-case identifier, so every
 * spelling of one table gives one string, and a relation's current name in
 * that form is compared with the key's list.  Names, not oids, are stored:
 * definitions survive pg_dump/pg_restore, and a renamed table no longer
 * matches (fail closed).
 */
#ifndef ACCESS_KEY_COLLECTION_NAME_H
#define ACCESS_KEY_COLLECTION_NAME_H

#include "postgres.h"

/*
 * The canonical form of a collection name written s[0..len), or NULL with
 * *problem saying what is wrong.
 */
extern char *AkCanonicalCollectionName(const char *s, int len, const char **problem);

/* The canonical name of relation relid as it is named now, or NULL when it does not exist. */
extern char *AkRelationCollectionName(Oid relid);

#endif							/* ACCESS_KEY_COLLECTION_NAME_H */
