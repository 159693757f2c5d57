/*
 * token.h — access key tokens: generation, format check and hashing.
 *
 * A native token is "ak_" + 43 base62 characters encoding 256 random bits +
 * a 6-character base62 CRC32 of everything before it.  The checksum lets a
 * mistyped or truncated token be rejected before any lookup.
 *
 * An imported token (ak_import_key: for example a 64-hex Keen key) is any
 * other string of 32 to 256 visible ASCII characters that does not start
 * with "ak_": the prefix is reserved, so every token that claims to be
 * native gets the checksum check.  Both kinds are stored and looked up the
 * same way, by their BLAKE2b-256 hash.
 */
#ifndef ACCESS_KEY_TOKEN_H
#define ACCESS_KEY_TOKEN_H

#include "postgres.h"

#define AK_TOKEN_PREFIX "ak_"
#define AK_TOKEN_PREFIX_LEN 3
#define AK_TOKEN_SECRET_BYTES 32
#define AK_TOKEN_SECRET_CHARS 43	/* ceil(256 / log2(62)) */
#define AK_TOKEN_CHECKSUM_CHARS 6	/* 62^6 > 2^32 */
#define AK_TOKEN_LEN (AK_TOKEN_PREFIX_LEN + AK_TOKEN_SECRET_CHARS + AK_TOKEN_CHECKSUM_CHARS)

/* Bounds on imported tokens: short ones are guessable, long ones are not tokens. */
#define AK_TOKEN_IMPORTED_MIN_LEN 32
#define AK_TOKEN_MAX_LEN 256

/* Stored hash of a token: BLAKE2b-256. */
#define AK_TOKEN_HASH_BYTES 32

typedef enum AkTokenFormat
{
	AK_TOKEN_NATIVE,			/* well-formed "ak_" token, checksum verified */
	AK_TOKEN_IMPORTED,			/* well-formed token of another system */
	AK_TOKEN_BAD_LENGTH,		/* "ak_" but not AK_TOKEN_LEN characters */
	AK_TOKEN_BAD_CHARACTER,		/* "ak_" followed by a non-base62 character */
	AK_TOKEN_BAD_CHECKSUM,		/* "ak_" token whose checksum does not match */
	AK_TOKEN_TOO_SHORT,			/* not "ak_", under AK_TOKEN_IMPORTED_MIN_LEN */
	AK_TOKEN_TOO_LONG,			/* not "ak_", over AK_TOKEN_MAX_LEN */
	AK_TOKEN_BAD_IMPORTED_CHARACTER /* not "ak_", a space, control or non-ASCII character */
} AkTokenFormat;

#define AkTokenFormatIsValid(format) ((format) == AK_TOKEN_NATIVE || (format) == AK_TOKEN_IMPORTED)

extern void AkGenerateToken(char *token);	/* AK_TOKEN_LEN + 1 bytes */
extern AkTokenFormat AkCheckTokenFormat(const char *token, size_t len);
extern const char *AkTokenFormatProblem(AkTokenFormat format);
extern void AkHashToken(const char *token, size_t len, uint8 *hash);

/* The stored form of a token's hash: a bytea of AK_TOKEN_HASH_BYTES. */
extern bytea *AkTokenHashBytea(const char *token, size_t len);

/* The same for a hash already computed (AK_TOKEN_HASH_BYTES bytes). */
extern bytea *AkHashAsBytea(const uint8 *hash);

#endif							/* ACCESS_KEY_TOKEN_H */
