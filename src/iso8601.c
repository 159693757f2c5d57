/*
 * iso8601.c — parsing ISO-8601 timestamps without the server's date parser
 * (which accepts far more, and depends on DateStyle and TimeZone).
 */
#include "postgres.h"

#include "iso8601.h"

#include "utils/datetime.h"

/* Reads exactly ndigits decimal digits at *p into *result, advancing *p. */
static bool
ParseDigits(const char **p, const char *end, int ndigits, int *result)
{
	int			value = 0;

	if (end - *p < ndigits)
		return false;
	for (int i = 0; i < ndigits; i++)
	{
		char		c = (*p)[i];

		if (c < '0' || c > '9')
			return false;
		value = value * 10 + (c - '0');
	}
	*p += ndigits;
	*result = value;
	return true;
}

bool
AkParseIsoTimestamp(const char *s, int len, TimestampTz *result)
{
	const char *p = s;
	const char *end = s + len;
	int			year,
				month,
				day,
				hour = 0,
				minute = 0,
				second = 0;
	int64		usec = 0;
	int			offset_sec = 0;

	if (!ParseDigits(&p, end, 4, &year) || p == end || *p++ != '-' ||
		!ParseDigits(&p, end, 2, &month) || p == end || *p++ != '-' ||
		!ParseDigits(&p, end, 2, &day))
		return false;
	if (month < 1 || month > 12 || day < 1 ||
		day > day_tab[isleap(year)][month - 1])
		return false;

	if (p < end && (*p == 'T' || *p == 't' || *p == ' '))
	{
		p++;
		if (!ParseDigits(&p, end, 2, &hour) || p == end || *p++ != ':' ||
			!ParseDigits(&p, end, 2, &minute))
			return false;
		if (p < end && *p == ':')
		{
			p++;
			if (!ParseDigits(&p, end, 2, &second))
				return false;
			if (p < end && (*p == '.' || *p == ','))
			{
				int64		scale = USECS_PER_SEC;

				p++;
				if (p == end || *p < '0' || *p > '9')
					return false;
				while (p < end && *p >= '0' && *p <= '9')
				{
					scale /= 10;
					usec += (*p - '0') * scale;
					p++;
				}
			}
		}
		if (hour > 23 || minute > 59 || second > 60)
			return false;
		if (p < end && (*p == 'Z' || *p == 'z'))
			p++;
		else if (p < end && (*p == '+' || *p == '-'))
		{
			int			sign = (*p == '-') ? -1 : 1;
			int			oh,
						om = 0;

			p++;
			if (!ParseDigits(&p, end, 2, &oh))
				return false;
			if (p < end && *p == ':')
			{
				p++;
				if (!ParseDigits(&p, end, 2, &om))
					return false;
			}
			else if (p < end && !ParseDigits(&p, end, 2, &om))
				return false;
			if (oh > 23 || om > 59)
				return false;
			offset_sec = sign * (oh * 3600 + om * 60);
		}
	}
	if (p != end)
		return false;

	*result = ((int64) (date2j(year, month, day) - POSTGRES_EPOCH_JDATE)) * USECS_PER_DAY +
		((int64) hour * 3600 + minute * 60 + second - offset_sec) * USECS_PER_SEC + usec;
	return true;
}
