/*
 * check_setup.h — ak_check_setup(role): what would let an application role
 * escape or weaken its keys (SPEC §15).
 *
 * Each finding has a severity from one fixed vocabulary, the object it is
 * about, the problem (a lowercase sentence, like PostgreSQL's messages) and
 * the statements that fix it.
 */
#ifndef ACCESS_KEY_CHECK_SETUP_H
#define ACCESS_KEY_CHECK_SETUP_H

#include "postgres.h"

/* In the order findings are reported. */
typedef enum AkSeverity
{
	AK_SEVERITY_CRITICAL,		/* keys are not enforced for this role at all */
	AK_SEVERITY_WARNING,		/* a path around the keys, or a leak of rows or tokens */
	AK_SEVERITY_INFO			/* worth knowing; not a way around the keys by itself */
} AkSeverity;

/* "critical", "warning" or "info". */
extern const char *AkSeverityName(AkSeverity severity);

#endif							/* ACCESS_KEY_CHECK_SETUP_H */
