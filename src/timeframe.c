/*
 * timeframe.c — Keen timeframes: validation, and the interval of event times
 * they allow at a moment (see timeframe.h).
 */
#include "postgres.h"

#include "iso8601.h"
#include "jsonb_util.h"
#include "timeframe.h"
#include "validate.h"

#include "common/int.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

static const char *const absolute_members[] = {"start", "end"};

#define RELATIVE_HINT \
	"A relative timeframe is this_N_units or previous_N_units, with N from 1 to 1000000 and units one of: " \
	"minutes, hours, days, weeks, months, years; an absolute one is {\"start\": ..., \"end\": ...}."

/* Parses "this_7_days"; false when s[0..len) is not a relative timeframe. */
static bool
ParseRelative(const char *s, int len, AkTimeframe *tf)
{
	const char *p = s;
	const char *end = s + len;
	const char *sep = memchr(p, '_', len);
	int			kind;
	int			unit;
	int64		count = 0;

	if (sep == NULL)
		return false;
	kind = AkLookupName(ak_relative_kind_names, AK_RELATIVE_COUNT, p, sep - p);
	if (kind < 0)
		return false;
	p = sep + 1;
	/* N: digits without a leading zero, at most AK_MAX_TIMEFRAME_UNITS */
	if (p == end || *p < '1' || *p > '9')
		return false;
	while (p < end && *p >= '0' && *p <= '9')
	{
		count = count * 10 + (*p++ - '0');
		if (count > AK_MAX_TIMEFRAME_UNITS)
			return false;
	}
	if (p == end || *p++ != '_')
		return false;
	unit = AkLookupName(ak_time_unit_names, AK_UNIT_COUNT, p, end - p);
	if (unit < 0)
		return false;
	tf->relative = true;
	tf->kind = (AkRelativeKind) kind;
	tf->count = (int) count;
	tf->unit = (AkTimeUnit) unit;
	return true;
}

/* One of the two members of an absolute timeframe, as a timestamp. */
static TimestampTz
AbsoluteMember(JsonbContainer *object, const char *member, const char *path)
{
	JsonbValue *v = AkGetMember(object, member);
	char	   *mpath = AkChildPath(path, member);
	TimestampTz ts;

	if (v == NULL)
		AkInvalidDefinition("An absolute timeframe has a start and an end.", "Member \"%s\" is missing.", mpath);
	if (v->type != jbvString)
		AkInvalidDefinition(NULL, "Member \"%s\" must be a string, not %s.", mpath, AkJsonTypeName(v));
	if (!AkParseIsoTimestamp(v->val.string.val, v->val.string.len, &ts))
		AkInvalidDefinition("Write times as ISO-8601, for example \"2026-01-31T00:00:00Z\" (UTC when no offset is given).",
							"Member \"%s\": \"%s\" is not an ISO-8601 timestamp.", mpath,
							pnstrdup(v->val.string.val, v->val.string.len));
	return ts;
}

/* Validates one timeframe (not an array) at path; fills tf. */
static void
ParseTimeframe(JsonbValue *v, const char *path, AkTimeframe *tf)
{
	memset(tf, 0, sizeof(AkTimeframe));
	if (v->type == jbvString)
	{
		if (!ParseRelative(v->val.string.val, v->val.string.len, tf))
			AkInvalidDefinition(RELATIVE_HINT, "Member \"%s\": \"%s\" is not a timeframe.", path,
								pnstrdup(v->val.string.val, v->val.string.len));
		return;
	}
	if (!AkIsObject(v))
		AkInvalidDefinition(RELATIVE_HINT, "Member \"%s\" must be a string or an object, not %s.",
							path, AkJsonTypeName(v));
	AkCheckMembers(v->val.binary.data, path, absolute_members, lengthof(absolute_members));
	tf->relative = false;
	tf->start = AbsoluteMember(v->val.binary.data, "start", path);
	tf->end = AbsoluteMember(v->val.binary.data, "end", path);
	if (tf->start >= tf->end)
		AkInvalidDefinition(NULL, "Member \"%s\": the start must be earlier than the end.", path);
}

/* The timeframes of a (validated or not) member; raises when invalid. */
static AkTimeframe *
ParseTimeframes(JsonbValue *value, const char *path, int *count)
{
	AkTimeframe *timeframes;

	if (!AkIsArray(value))
	{
		timeframes = palloc(sizeof(AkTimeframe));
		ParseTimeframe(value, path, timeframes);
		*count = 1;
		return timeframes;
	}
	*count = JsonContainerSize(value->val.binary.data);
	if (*count == 0)
		AkInvalidDefinition("Leave the member out for no timeframe.",
							"Member \"%s\" must not be an empty array.", path);
	timeframes = palloc(sizeof(AkTimeframe) * *count);
	for (int i = 0; i < *count; i++)
		ParseTimeframe(getIthJsonbValueFromContainer(value->val.binary.data, i),
					   AkElementPath(path, i), &timeframes[i]);
	return timeframes;
}

void
AkPushTimeframe(JsonbParseState **state, JsonbValue *value, const char *path)
{
	int			count;

	pfree(ParseTimeframes(value, path, &count));
	pushJsonbValue(state, WJB_VALUE, value);
}

AkTimeframe *
AkCompileTimeframes(JsonbValue *value, int *count)
{
	return ParseTimeframes(value, "options.queries.timeframe", count);
}

/* The start of the unit (in UTC; weeks start on Monday) that contains now. */
static TimestampTz
UnitStart(TimestampTz now, AkTimeUnit unit)
{
	struct pg_tm tm;
	fsec_t		fsec;
	Timestamp	start;

	if (timestamp2tm(now, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	switch (unit)
	{
		case AK_UNIT_YEARS:
			tm.tm_mon = 1;
			/* FALLTHROUGH */
		case AK_UNIT_MONTHS:
			tm.tm_mday = 1;
			/* FALLTHROUGH */
		case AK_UNIT_WEEKS:
		case AK_UNIT_DAYS:
			tm.tm_hour = 0;
			/* FALLTHROUGH */
		case AK_UNIT_HOURS:
			tm.tm_min = 0;
			/* FALLTHROUGH */
		case AK_UNIT_MINUTES:
			tm.tm_sec = 0;
			break;
		case AK_UNIT_COUNT:
			Assert(false);
	}
	if (tm2timestamp(&tm, 0, NULL, &start) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	if (unit == AK_UNIT_WEEKS)	/* j2day: 0 is Sunday */
		start -= ((j2day(date2j(tm.tm_year, tm.tm_mon, tm.tm_mday)) + 6) % 7) * USECS_PER_DAY;
	return start;
}

/* t minus k units (k >= 0); DT_NOBEGIN when that is before the earliest timestamp. */
static TimestampTz
MinusUnits(TimestampTz t, int k, AkTimeUnit unit)
{
	static const int64 unit_usecs[] = {
		[AK_UNIT_MINUTES] = USECS_PER_MINUTE,
		[AK_UNIT_HOURS] = USECS_PER_HOUR,
		[AK_UNIT_DAYS] = USECS_PER_DAY,
		[AK_UNIT_WEEKS] = 7 * USECS_PER_DAY,
	};
	struct pg_tm tm;
	fsec_t		fsec;
	int64		delta;
	TimestampTz result;

	if (unit == AK_UNIT_MONTHS || unit == AK_UNIT_YEARS)
	{
		int			months;

		if (timestamp2tm(t, NULL, &tm, &fsec, NULL, NULL) != 0)
			return DT_NOBEGIN;
		months = tm.tm_year * MONTHS_PER_YEAR + (tm.tm_mon - 1) -
			(unit == AK_UNIT_YEARS ? k * MONTHS_PER_YEAR : k);
		/* floor division: years before 1 AD are negative */
		tm.tm_year = months >= 0 ? months / MONTHS_PER_YEAR : -((-months + MONTHS_PER_YEAR - 1) / MONTHS_PER_YEAR);
		tm.tm_mon = months - tm.tm_year * MONTHS_PER_YEAR + 1;
		if (!IS_VALID_JULIAN(tm.tm_year, tm.tm_mon, tm.tm_mday) ||
			tm2timestamp(&tm, fsec, NULL, &result) != 0 || !IS_VALID_TIMESTAMP(result))
			return DT_NOBEGIN;
		return result;
	}
	if (pg_mul_s64_overflow(unit_usecs[unit], k, &delta) ||
		pg_sub_s64_overflow(t, delta, &result) || !IS_VALID_TIMESTAMP(result))
		return DT_NOBEGIN;
	return result;
}

void
AkTimeframeBounds(const AkTimeframe *timeframes, int count, TimestampTz now,
				  TimestampTz *earliest, TimestampTz *latest)
{
	*earliest = DT_NOBEGIN;
	*latest = DT_NOEND;
	for (int i = 0; i < count; i++)
	{
		const AkTimeframe *tf = &timeframes[i];
		TimestampTz first;
		TimestampTz last;

		if (!tf->relative)
		{
			first = tf->start;
			last = tf->end - 1;
		}
		else
		{
			TimestampTz unit_start = UnitStart(now, tf->unit);

			if (tf->kind == AK_RELATIVE_THIS)
			{
				/* the current unit and N-1 before it, up to now */
				first = MinusUnits(unit_start, tf->count - 1, tf->unit);
				last = now;
			}
			else
			{
				/* the N complete units before the current one */
				first = MinusUnits(unit_start, tf->count, tf->unit);
				last = unit_start - 1;
			}
		}
		*earliest = Max(*earliest, first);
		*latest = Min(*latest, last);
	}
}
