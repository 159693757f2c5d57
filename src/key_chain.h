/*
 * key_chain.h — child keys: a key's effective definition and validity,
 * computed from its stored chain of parents.
 *
 * A key whose row has a parent_id is a child key.  Whenever a key is
 * resolved into a backend's key cache, its ancestors are read too (with a
 * fresh snapshot, like the key itself) and combined into one effective
 * definition (narrowing.h) and one validity: inactive when any ancestor is
 * revoked or missing, or the chain is longer than AK_MAX_KEY_DEPTH (or
 * circular); expiring at the earliest expiry of the chain, including the
 * moment the parent's token it was derived with stops working (rotation).
 * Every change to the key tables empties every backend's key cache at its
 * next transaction, so a change to an ancestor reaches every descendant;
 * and the chain is resolved once per key, so a child costs its parent's
 * price per row.
 */
#ifndef ACCESS_KEY_KEY_CHAIN_H
#define ACCESS_KEY_KEY_CHAIN_H

#include "postgres.h"

#include "catalog.h"
#include "key_lookup.h"

/* At most this many ancestors: a root key and 8 generations below it. */
#define AK_MAX_KEY_DEPTH 8

/*
 * For a key just read from access_key.keys (key_row), replaces
 * key->definition and key->expires_at with the effective ones and sets
 * key->chain_problem; a key without a parent is left as it is.  Reads with a
 * fresh snapshot.
 */
extern void AkApplyKeyChain(AkStoredKey *key, HeapTuple key_row, TupleDesc desc);

/* How many ancestors the key has (statement snapshot). */
extern int	AkKeyDepth(const pg_uuid_t *id);

#endif							/* ACCESS_KEY_KEY_CHAIN_H */
