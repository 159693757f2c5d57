/*
 * collection_name.c — schema-qualified collection names in key definitions
 * (see collection_name.h).
 */
#include "postgres.h"

#include "collection_name.h"

#include "lib/stringinfo.h"
#include "utils/lsyscache.h"

/* Whether a name part can be written without quotes: [a-z_][a-z0-9_$]* */
static bool
IsPlainIdentifier(const char *s, int len)
{
	if (len == 0 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (int i = 1; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '$'))
			return false;
	return true;
}

static void
AppendNamePart(StringInfo buf, const char *s, int len)
{
	if (IsPlainIdentifier(s, len))
	{
		appendBinaryStringInfo(buf, s, len);
		return;
	}
	appendStringInfoChar(buf, '"');
	for (int i = 0; i < len; i++)
	{
		if (s[i] == '"')
			appendStringInfoChar(buf, '"');
		appendStringInfoChar(buf, s[i]);
	}
	appendStringInfoChar(buf, '"');
}

/*
 * Reads one identifier at *p (quoted, or unquoted and folded to lower case)
 * into part; false with *problem when malformed.
 */
static bool
ReadNamePart(const char **p, const char *end, StringInfo part, const char **problem)
{
	const char *s = *p;

	resetStringInfo(part);
	if (s < end && *s == '"')
	{
		s++;
		for (;;)
		{
			if (s == end)
			{
				*problem = "a quoted part is not closed";
				return false;
			}
			if (*s == '"')
			{
				if (s + 1 < end && s[1] == '"')
					s++;		/* "" is a quote */
				else
					break;
			}
			appendStringInfoChar(part, *s++);
		}
		s++;					/* the closing quote */
		if (part->len == 0)
		{
			*problem = "a quoted part is empty";
			return false;
		}
	}
	else
	{
		while (s < end && *s != '.')
		{
			unsigned char c = (unsigned char) *s;

			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80 ||
				  (part->len > 0 && ((c >= '0' && c <= '9') || c == '$'))))
			{
				*problem = "an unquoted part may contain only letters, digits, \"_\" and \"$\", and must not start with a digit or \"$\"";
				return false;
			}
			appendStringInfoChar(part, (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c);
			s++;
		}
		if (part->len == 0)
		{
			*problem = "it has an empty part";
			return false;
		}
	}
	if (part->len >= NAMEDATALEN)
	{
		*problem = psprintf("a part is longer than %d bytes", NAMEDATALEN - 1);
		return false;
	}
	*p = s;
	return true;
}

char *
AkCanonicalCollectionName(const char *s, int len, const char **problem)
{
	const char *p = s;
	const char *end = s + len;
	StringInfoData part;
	StringInfoData result;

	initStringInfo(&part);
	initStringInfo(&result);
	if (!ReadNamePart(&p, end, &part, problem))
		return NULL;
	AppendNamePart(&result, part.data, part.len);
	if (p == end || *p != '.')
	{
		*problem = "it is not schema-qualified (write \"schema.table\")";
		return NULL;
	}
	p++;
	if (!ReadNamePart(&p, end, &part, problem))
		return NULL;
	if (p != end)
	{
		*problem = "it has more than two parts (write \"schema.table\")";
		return NULL;
	}
	appendStringInfoChar(&result, '.');
	AppendNamePart(&result, part.data, part.len);
	pfree(part.data);
	return result.data;
}

char *
AkRelationCollectionName(Oid relid)
{
	char	   *relname = get_rel_name(relid);
	char	   *nspname;
	StringInfoData result;

	if (relname == NULL)
		return NULL;
	nspname = get_namespace_name(get_rel_namespace(relid));
	if (nspname == NULL)
		return NULL;
	initStringInfo(&result);
	AppendNamePart(&result, nspname, strlen(nspname));
	appendStringInfoChar(&result, '.');
	AppendNamePart(&result, relname, strlen(relname));
	return result.data;
}
