/*
 * filter_facts.c — what a key's filters imply about one property path (see
 * filter_facts.h).
 */
#include "postgres.h"

#include "filter_facts.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"

/* ---------- shape ---------- */

/*
 * Whether a string is the ->> text of no other JSON value: not a number's
 * digits, not true, false or null, not an object's or array's text.  A
 * text condition on such a value selects exactly the rows holding that
 * string.
 */
static bool
IsPlainString(const JsonbValue *v)
{
	const char *s = v->val.string.val;
	int			len = v->val.string.len;

	if (len == 0)
		return true;
	if (strchr("{[-0123456789", s[0]) != NULL)
		return false;
	return !((len == 4 && (memcmp(s, "true", 4) == 0 || memcmp(s, "null", 4) == 0)) ||
			 (len == 5 && memcmp(s, "false", 5) == 0));
}

/* One letter per kind of JSON value; a shape records kinds, not values. */
static char
ValueKind(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			return IsPlainString(v) ? 's' : 'S';
		case jbvNumeric:
			return 'n';
		case jbvBool:
			return 'b';
		case jbvNull:
			return 'z';
		default:
			return JsonContainerIsObject(v->val.binary.data) ? 'o' : 'a';
	}
}

static void
AppendShape(StringInfo buf, const AkFilter *f)
{
	check_stack_depth();
	appendStringInfoString(buf, ak_filter_op_names[f->op]);
	appendStringInfoChar(buf, '(');
	if (f->op == AK_OP_OR)
	{
		for (int i = 0; i < f->noperands; i++)
			AppendShape(buf, &f->operands[i]);
	}
	else
	{
		/* Length-prefixed: no path can make two different shapes print alike. */
		appendStringInfo(buf, "%d:%s:", (int) strlen(f->property_name), f->property_name);
		switch (f->op)
		{
			case AK_OP_IN:
				{
					static const char kinds[] = "sSbnzoa";

					for (const char *k = kinds; *k; k++)
						for (int i = 0; i < f->nvalues; i++)
							if (ValueKind(&f->values[i]) == *k)
							{
								appendStringInfoChar(buf, *k);
								break;
							}
					break;
				}
			case AK_OP_LT:
			case AK_OP_LTE:
			case AK_OP_GT:
			case AK_OP_GTE:
				appendStringInfoChar(buf, f->value_is_timestamp ? 't' : ValueKind(&f->value));
				break;
			case AK_OP_EXISTS:
				appendStringInfoChar(buf, f->value.val.boolean ? 'T' : 'F');
				break;
			default:
				appendStringInfoChar(buf, ValueKind(&f->value));
				break;
		}
	}
	appendStringInfoChar(buf, ')');
}

char *
AkFiltersShape(const AkFilterList *list, bool permitted)
{
	StringInfoData buf;

	if (!permitted)
		return pstrdup("!");
	initStringInfo(&buf);
	for (int i = 0; i < list->nfilters; i++)
		AppendShape(&buf, &list->filters[i]);
	return buf.data;
}

/* ---------- pinned values ---------- */

static bool
ContainsValue(List *values, const JsonbValue *v)
{
	ListCell   *lc;

	foreach(lc, values)
		if (AkJsonValuesEqual(lfirst(lc), v))
			return true;
	return false;
}

bool
AkFilterPinsPath(const AkFilter *f, const char *path, List **values)
{
	List	   *found = NIL;

	check_stack_depth();
	switch (f->op)
	{
		case AK_OP_EQ:
			if (strcmp(f->property_name, path) != 0)
				return false;
			found = list_make1((JsonbValue *) &f->value);
			break;
		case AK_OP_IN:
			if (strcmp(f->property_name, path) != 0)
				return false;
			for (int i = 0; i < f->nvalues; i++)
				if (!ContainsValue(found, &f->values[i]))
					found = lappend(found, (JsonbValue *) &f->values[i]);
			break;
		case AK_OP_OR:
			if (f->noperands == 0)
				return false;
			for (int i = 0; i < f->noperands; i++)
			{
				List	   *these = NIL;
				ListCell   *lc;

				if (!AkFilterPinsPath(&f->operands[i], path, values ? &these : NULL))
					return false;
				foreach(lc, these)
					if (!ContainsValue(found, lfirst(lc)))
						found = lappend(found, lfirst(lc));
			}
			break;
		default:
			return false;
	}
	if (values)
		*values = found;
	return true;
}

bool
AkFiltersPathValues(const AkFilterList *list, const char *path, List **values)
{
	bool		pinned = false;
	List	   *allowed = NIL;

	for (int i = 0; i < list->nfilters; i++)
	{
		List	   *these;

		if (!AkFilterPinsPath(&list->filters[i], path, &these))
			continue;
		if (pinned)
		{
			List	   *both = NIL;
			ListCell   *lc;

			foreach(lc, allowed)
				if (ContainsValue(these, lfirst(lc)))
					both = lappend(both, lfirst(lc));
			allowed = both;
		}
		else
			allowed = these;
		pinned = true;
	}
	*values = allowed;
	return pinned;
}

bool
AkFilterPinsExactly(const AkFilter *f)
{
	List	   *values;
	ListCell   *lc;
	const AkFilter *leaf = f;

	while (leaf->op == AK_OP_OR && leaf->noperands > 0)
		leaf = &leaf->operands[0];
	if (leaf->op != AK_OP_EQ && leaf->op != AK_OP_IN)
		return false;
	if (!AkFilterPinsPath(f, leaf->property_name, &values))
		return false;
	foreach(lc, values)
	{
		const JsonbValue *v = lfirst(lc);

		if (v->type != jbvString || !IsPlainString(v))
			return false;
	}
	return true;
}

/* ---------- bounds ---------- */

static bool
IsLowerBound(AkFilterOp op)
{
	return op == AK_OP_GT || op == AK_OP_GTE;
}

bool
AkFilterBoundsPath(const AkFilter *f, const char *path, bool lower)
{
	if (f->op != AK_OP_LT && f->op != AK_OP_LTE && f->op != AK_OP_GT && f->op != AK_OP_GTE)
		return false;
	return IsLowerBound(f->op) == lower && f->value.type == jbvString && strcmp(f->property_name, path) == 0;
}

/* "YYYY-MM-DD" of the UTC day holding ts, clamped to years 0000..9999. */
static char *
UtcDate(TimestampTz ts)
{
	int64		days = ts / USECS_PER_DAY;
	int			year,
				month,
				day;

	if (ts < 0 && ts % USECS_PER_DAY != 0)
		days--;
	j2date((int) (days + POSTGRES_EPOCH_JDATE), &year, &month, &day);
	if (year < 0)
		return pstrdup("0000-01-01");
	if (year > 9999)
		return pstrdup("9999-12-31");
	return psprintf("%04d-%02d-%02d", year, month, day);
}

/*
 * The bytewise bound one string range filter sets.  A timestamp value T
 * matches events by time, whatever their offset: an event at or after T
 * has a local date no earlier than the UTC date of T - 24h (offsets are
 * under a day), and one at or before T a local date no later than that of
 * T + 24h.  Every timestamp starts with its local date ("YYYY-MM-DD"), and
 * the filter value itself lies within these bounds, so they also hold for
 * strings compared bytewise.
 */
static text *
TextBoundOf(const AkFilter *f, bool lower)
{
	char	   *bound;
	int			len;

	if (f->value_is_timestamp)
	{
		bound = UtcDate(f->value_timestamp + (lower ? -USECS_PER_DAY : USECS_PER_DAY));
		len = strlen(bound);
		if (!lower)
			bound[len - 1]++;	/* exclusive: just above every string starting with that date */
		return cstring_to_text_with_len(bound, len);
	}
	len = f->value.val.string.len;
	bound = palloc(len + 1);
	memcpy(bound, f->value.val.string.val, len);
	if (!lower)
		bound[len++] = '\x01';	/* exclusive: text holds no NUL, so nothing lies between V and this */
	return cstring_to_text_with_len(bound, len);
}

static int
CompareText(const text *a, const text *b)
{
	int			alen = VARSIZE_ANY_EXHDR(a);
	int			blen = VARSIZE_ANY_EXHDR(b);
	int			cmp = memcmp(VARDATA_ANY(a), VARDATA_ANY(b), Min(alen, blen));

	return cmp ? cmp : (alen > blen) - (alen < blen);
}

text *
AkFiltersTextBound(const AkFilterList *list, const char *path, bool lower)
{
	text	   *best = NULL;

	for (int i = 0; i < list->nfilters; i++)
	{
		const AkFilter *f = &list->filters[i];
		text	   *bound;

		if (!AkFilterBoundsPath(f, path, lower))
			continue;
		bound = TextBoundOf(f, lower);
		if (best == NULL || (lower ? CompareText(bound, best) > 0 : CompareText(bound, best) < 0))
			best = bound;
	}
	return best;
}
