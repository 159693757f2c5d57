/*
 * key_derive.h — ak_derive_key: a key with the "keys" permission mints a
 * narrower child key (SQL-callable only; no C interface).
 *
 * The one key-management function a keyed session may call.  The session's
 * key is the authority, so EXECUTE is granted to PUBLIC (like ak_permits):
 * without a key, or with a key lacking "keys", it refuses.  The child is
 * written as the extension's owner with parent_id = the session's key and
 * the hash of the token that derived it; what it may do is bounded at every
 * use by its parent's effective definition (key_chain.h), and a request for
 * more than the parent has is refused when it is made.  A tree of keys (a
 * root key and every key derived from it) holds at most
 * access_key.max_derived_keys derived keys, so a tenant cannot fill the key
 * tables.
 */
#ifndef ACCESS_KEY_KEY_DERIVE_H
#define ACCESS_KEY_KEY_DERIVE_H

/* Defines access_key.max_derived_keys; called from _PG_init. */
extern void AkKeyDeriveInit(void);

#endif							/* ACCESS_KEY_KEY_DERIVE_H */
