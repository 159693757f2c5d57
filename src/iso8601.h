/*
 * iso8601.h — the ISO-8601 timestamps filters compare in time order, and
 * ak_schema reports as "datetime".
 */
#ifndef ACCESS_KEY_ISO8601_H
#define ACCESS_KEY_ISO8601_H

#include "postgres.h"

#include "datatype/timestamp.h"

/*
 * YYYY-MM-DD, optionally followed by [T or space]HH:MM[:SS[.fraction]] and
 * an optional Z or ±HH[:MM] offset; without an offset the time is UTC.
 * False when s[0..len) is not one.
 */
extern bool AkParseIsoTimestamp(const char *s, int len, TimestampTz *result);

#endif							/* ACCESS_KEY_ISO8601_H */
