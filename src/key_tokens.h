/*
 * key_tokens.h — administration of a key's tokens: rotation with a grace
 * period, finding a key by a token, and importing tokens issued elsewhere
 * (docs/reference.md#rotation-and-import).
 *
 * A key has one current token (key_tokens.valid_until NULL; a partial unique
 * index keeps it so) and, after rotations, rotated-out tokens that keep
 * working until their valid_until.  A rotated-out token is refused from then
 * on with 28000 "the key was rotated" until a later rotation prunes its row.
 * Revoking or expiring the key ends every token at once (key_admin.c).
 *
 * Tokens are secrets: none is ever put into an error message, a log line or
 * an audit row, and copies made here are wiped (sodium_memzero).
 */
#ifndef ACCESS_KEY_KEY_TOKENS_H
#define ACCESS_KEY_KEY_TOKENS_H

#include "postgres.h"

#endif							/* ACCESS_KEY_KEY_TOKENS_H */
