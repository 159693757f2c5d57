/*
 * token.c — access key tokens (docs/reference.md#tokens): generation, the
 * format check of native and imported tokens, and hashing.
 */
#include "postgres.h"

#include <sodium.h>

#include "token.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/pg_crc.h"

PG_FUNCTION_INFO_V1(ak_hash_token);
PG_FUNCTION_INFO_V1(ak_generate_token);

static const char base62_digits[] =
"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/*
 * Writes the big-endian number in bytes[0..nbytes) as exactly nchars base62
 * digits (left-padded with '0'), by repeated division.  Destroys bytes.
 */
static void
EncodeBase62(uint8 *bytes, int nbytes, char *out, int nchars)
{
	for (int pos = nchars - 1; pos >= 0; pos--)
	{
		uint32		remainder = 0;

		for (int i = 0; i < nbytes; i++)
		{
			uint32		acc = (remainder << 8) | bytes[i];

			bytes[i] = acc / 62;
			remainder = acc % 62;
		}
		out[pos] = base62_digits[remainder];
	}
}

/*
 * CRC-32 (IEEE 802.3, as zlib), by PostgreSQL's table: every key presented
 * is checked, so this is on the path of each key switch.
 */
static uint32
Crc32(const char *data, size_t len)
{
	pg_crc32	crc;

	INIT_TRADITIONAL_CRC32(crc);
	COMP_TRADITIONAL_CRC32(crc, data, len);
	FIN_TRADITIONAL_CRC32(crc);
	return crc;
}

/* Whether c is a base62 digit, without scanning the digit string. */
static bool
IsBase62Digit(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* The 6 base62 characters of the CRC-32 of data[0..len). */
static void
EncodeChecksum(const char *data, size_t len, char *out)
{
	uint32		crc = Crc32(data, len);
	uint8		bytes[4] = {crc >> 24, crc >> 16, crc >> 8, crc};

	EncodeBase62(bytes, 4, out, AK_TOKEN_CHECKSUM_CHARS);
}

void
AkGenerateToken(char *token)
{
	uint8		secret[AK_TOKEN_SECRET_BYTES];

	randombytes_buf(secret, sizeof(secret));
	memcpy(token, AK_TOKEN_PREFIX, AK_TOKEN_PREFIX_LEN);
	EncodeBase62(secret, sizeof(secret), token + AK_TOKEN_PREFIX_LEN, AK_TOKEN_SECRET_CHARS);
	sodium_memzero(secret, sizeof(secret));
	EncodeChecksum(token, AK_TOKEN_PREFIX_LEN + AK_TOKEN_SECRET_CHARS,
				   token + AK_TOKEN_PREFIX_LEN + AK_TOKEN_SECRET_CHARS);
	token[AK_TOKEN_LEN] = '\0';
}

/* A native token: the "ak_" shape, then the checksum. */
static AkTokenFormat
CheckNativeToken(const char *token, size_t len)
{
	char		checksum[AK_TOKEN_CHECKSUM_CHARS];

	if (len != AK_TOKEN_LEN)
		return AK_TOKEN_BAD_LENGTH;
	for (size_t i = AK_TOKEN_PREFIX_LEN; i < len; i++)
		if (!IsBase62Digit(token[i]))
			return AK_TOKEN_BAD_CHARACTER;
	EncodeChecksum(token, AK_TOKEN_LEN - AK_TOKEN_CHECKSUM_CHARS, checksum);
	if (memcmp(checksum, token + AK_TOKEN_LEN - AK_TOKEN_CHECKSUM_CHARS, AK_TOKEN_CHECKSUM_CHARS) != 0)
		return AK_TOKEN_BAD_CHECKSUM;
	return AK_TOKEN_NATIVE;
}

AkTokenFormat
AkCheckTokenFormat(const char *token, size_t len)
{
	if (len >= AK_TOKEN_PREFIX_LEN && memcmp(token, AK_TOKEN_PREFIX, AK_TOKEN_PREFIX_LEN) == 0)
		return CheckNativeToken(token, len);
	if (len < AK_TOKEN_IMPORTED_MIN_LEN)
		return AK_TOKEN_TOO_SHORT;
	if (len > AK_TOKEN_MAX_LEN)
		return AK_TOKEN_TOO_LONG;
	for (size_t i = 0; i < len; i++)
		if (token[i] < '!' || token[i] > '~')
			return AK_TOKEN_BAD_IMPORTED_CHARACTER;
	return AK_TOKEN_IMPORTED;
}

/* The detail sentence for a malformed token; never quotes the token. */
const char *
AkTokenFormatProblem(AkTokenFormat format)
{
	switch (format)
	{
		case AK_TOKEN_NATIVE:
		case AK_TOKEN_IMPORTED:
			return "The token is well-formed.";
		case AK_TOKEN_BAD_LENGTH:
			return psprintf("The token is malformed: it starts with \"ak_\" but is not %d characters long.",
							AK_TOKEN_LEN);
		case AK_TOKEN_BAD_CHARACTER:
			return "The token is malformed: it contains a character other than a letter or digit after \"ak_\".";
		case AK_TOKEN_BAD_CHECKSUM:
			return "The token is malformed: its checksum does not match (a typo or a truncated copy).";
		case AK_TOKEN_TOO_SHORT:
			return psprintf("The token is malformed: it does not start with \"ak_\", and an imported token has at least %d characters.",
							AK_TOKEN_IMPORTED_MIN_LEN);
		case AK_TOKEN_TOO_LONG:
			return psprintf("The token is malformed: it is longer than %d characters.", AK_TOKEN_MAX_LEN);
		case AK_TOKEN_BAD_IMPORTED_CHARACTER:
			return "The token is malformed: it contains a space, a control character or a non-ASCII character.";
	}
	return "The token is malformed.";
}

void
AkHashToken(const char *token, size_t len, uint8 *hash)
{
	crypto_generichash(hash, AK_TOKEN_HASH_BYTES, (const unsigned char *) token, len, NULL, 0);
}

/* An uninitialized bytea of a hash's size. */
static bytea *
NewHashBytea(void)
{
	bytea	   *hash = palloc(VARHDRSZ + AK_TOKEN_HASH_BYTES);

	SET_VARSIZE(hash, VARHDRSZ + AK_TOKEN_HASH_BYTES);
	return hash;
}

bytea *
AkTokenHashBytea(const char *token, size_t len)
{
	bytea	   *hash = NewHashBytea();

	AkHashToken(token, len, (uint8 *) VARDATA(hash));
	return hash;
}

bytea *
AkHashAsBytea(const uint8 *hash)
{
	bytea	   *result = NewHashBytea();

	memcpy(VARDATA(result), hash, AK_TOKEN_HASH_BYTES);
	return result;
}

/* ak_generate_token(): a fresh token (internal; the key store hashes it). */
Datum
ak_generate_token(PG_FUNCTION_ARGS)
{
	char		token[AK_TOKEN_LEN + 1];
	text	   *result;

	AkGenerateToken(token);
	result = cstring_to_text_with_len(token, AK_TOKEN_LEN);
	sodium_memzero(token, sizeof(token));
	PG_RETURN_TEXT_P(result);
}

/* ak_hash_token(text): the stored BLAKE2b-256 hash of a token. */
Datum
ak_hash_token(PG_FUNCTION_ARGS)
{
	text	   *token = PG_GETARG_TEXT_PP(0);

	PG_RETURN_BYTEA_P(AkTokenHashBytea(VARDATA_ANY(token), VARSIZE_ANY_EXHDR(token)));
}
