/*
 * token.h — access key tokens: generation, format check and hashing.
 *
 * A token is "ak_" + 43 base62 characters encoding 256 random bits + a
 * 6-character base62 CRC32 of everything before it.  The checksum lets a
 * mistyped or truncated token be rejected before any lookup.
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

/* Stored hash of a token: BLAKE2b-256. */
#define AK_TOKEN_HASH_BYTES 32

typedef enum AkTokenFormat
{
	AK_TOKEN_OK,
	AK_TOKEN_BAD_PREFIX,
	AK_TOKEN_BAD_LENGTH,
	AK_TOKEN_BAD_CHARACTER,
	AK_TOKEN_BAD_CHECKSUM
} AkTokenFormat;

extern void AkGenerateToken(char *token);	/* AK_TOKEN_LEN + 1 bytes */
extern AkTokenFormat AkCheckTokenFormat(const char *token, size_t len);
extern const char *AkTokenFormatProblem(AkTokenFormat format);
extern void AkHashToken(const char *token, size_t len, uint8 *hash);

#endif							/* ACCESS_KEY_TOKEN_H */
