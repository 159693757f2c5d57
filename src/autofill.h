/*
 * autofill.h — the key's writes.autofill merged into the events it writes:
 * ak_autofill (session and pure) and the autofill trigger of protected
 * collections.  Everything here is SQL-callable; no C interface.
 */
#ifndef ACCESS_KEY_AUTOFILL_H
#define ACCESS_KEY_AUTOFILL_H

#endif							/* ACCESS_KEY_AUTOFILL_H */
