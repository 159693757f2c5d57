/*
 * permits.h — may a key perform an action (on a named resource, with a
 * dataset operation)?  See docs/reference.md, "ak_permits rules".
 */
#ifndef ACCESS_KEY_PERMITS_H
#define ACCESS_KEY_PERMITS_H

#include "postgres.h"

#include "definition.h"

/*
 * The action permitted (and the key active), the named resource not blocked
 * and allowed, the dataset operation (an AkDatasetOperation, or -1 for none)
 * listed.  resource may be NULL: the action as a whole.
 */
extern bool AkKeyPermits(AccessKey ak, AkAction action, const char *resource, int resource_len,
						 int operation);

#endif							/* ACCESS_KEY_PERMITS_H */
