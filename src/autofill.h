/*
 * autofill.h — the key's writes.autofill merged into the events it writes:
 * ak_autofill (session and pure) and the autofill trigger of protected
 * collections, and the deep merge they use (also for a child key's autofill).
 */
#ifndef ACCESS_KEY_AUTOFILL_H
#define ACCESS_KEY_AUTOFILL_H

#include "postgres.h"

#include "utils/jsonb.h"

/*
 * Pushes base deep-merged with overlay: members of both that are objects
 * merge recursively; on any other conflict the overlay's value wins.
 */
extern JsonbValue *AkPushMergedObject(JsonbParseState **state, JsonbContainer *base, JsonbContainer *overlay);

#endif							/* ACCESS_KEY_AUTOFILL_H */
