/*
 * access_key.c — module entry point.
 */
#include "postgres.h"

#include <sodium.h>

#include "compat.h"
#include "key_derive.h"
#include "key_scope.h"
#include "last_used.h"
#include "plan_shape.h"
#include "schema.h"
#include "session.h"

#include "fmgr.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* Loaded per backend on first use: no shared_preload_libraries needed. */
void
_PG_init(void)
{
	if (sodium_init() < 0)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not initialize libsodium")));
	AkSessionInit();
	AkSchemaInit();
	AkLastUsedInit();
	AkKeyScopeInit();
	AkKeyDeriveInit();
	AkPlanShapeInit();
	AkReserveGucPrefix("access_key");
}
