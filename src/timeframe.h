/*
 * timeframe.h — Keen timeframes (options.queries.timeframe): the event times
 * a key may read.
 *
 * A timeframe is relative ("this_7_days", "previous_6_hours") or absolute
 * ({"start": ISO-8601, "end": ISO-8601}); a definition may give an array of
 * them, which all apply (a child key's effective definition uses that form
 * to carry its ancestors' timeframes).  Relative timeframes are evaluated at
 * a given moment (the transaction's start when a query runs), in UTC; weeks
 * start on Monday.  Every timeframe is turned into an inclusive interval
 * [earliest, latest] of event times, so "end" (exclusive) becomes the
 * microsecond before it.
 */
#ifndef ACCESS_KEY_TIMEFRAME_H
#define ACCESS_KEY_TIMEFRAME_H

#include "postgres.h"

#include "vocabulary.h"

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

/* Largest N of a relative timeframe. */
#define AK_MAX_TIMEFRAME_UNITS 1000000

typedef struct AkTimeframe
{
	bool		relative;
	AkRelativeKind kind;		/* relative: this_ or previous_ */
	int			count;			/* relative: N */
	AkTimeUnit	unit;			/* relative */
	TimestampTz start;			/* absolute: [start, end) */
	TimestampTz end;
} AkTimeframe;

/*
 * Validates a timeframe member (a timeframe or a non-empty array of them) at
 * path, raising the definition error (22023) naming the fault, and pushes it
 * unchanged as the value of the current key.
 */
extern void AkPushTimeframe(JsonbParseState **state, JsonbValue *value, const char *path);

/* The timeframes of a validated timeframe member, in the current memory context. */
extern AkTimeframe *AkCompileTimeframes(JsonbValue *value, int *count);

/*
 * The inclusive interval of event times every timeframe allows at moment
 * now: *earliest is DT_NOBEGIN and *latest DT_NOEND when there are none; an
 * empty intersection gives *earliest > *latest.
 */
extern void AkTimeframeBounds(const AkTimeframe *timeframes, int count, TimestampTz now,
							  TimestampTz *earliest, TimestampTz *latest);

#endif							/* ACCESS_KEY_TIMEFRAME_H */
