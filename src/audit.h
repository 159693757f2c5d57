/*
 * audit.h — the key audit log (docs/reference.md#audit-log): one row per key
 * lifecycle change, written in the changing transaction.
 *
 * Invariants: a row is written as the extension's owner inside the admin
 * function's own transaction, so a change that rolls back leaves no row and
 * a committed change always has one.  Rows hold the roles, the key and its
 * parent, the operation and a JSON description of what changed; never a
 * token or a token hash.  The table is append-only: a statement trigger
 * refuses UPDATE, DELETE and TRUNCATE except the DELETE of ak_prune_audit.
 */
#ifndef ACCESS_KEY_AUDIT_H
#define ACCESS_KEY_AUDIT_H

#include "postgres.h"

#include "definition.h"
#include "vocabulary.h"

#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

/*
 * Records one change of a key; parent_id may be NULL.  changes is a JSON
 * object (built with AkAuditChanges or AkAuditDefinitionDiff), NULL for {}.
 * Callers must never put a token or a token hash into it.
 */
extern void AkAuditKeyChange(AkAuditOperation operation, const pg_uuid_t *key_id,
							 const pg_uuid_t *parent_id, Jsonb *changes);

/* Builds the "changes" object of an audit row, member by member. */
typedef struct AkAuditChanges
{
	JsonbParseState *state;
} AkAuditChanges;

extern void AkAuditChangesInit(AkAuditChanges *changes);
extern void AkAuditChangesAddJsonb(AkAuditChanges *changes, const char *member, Jsonb *value);
extern void AkAuditChangesAddDefinition(AkAuditChanges *changes, const char *member, AccessKey ak);
/* isnull: JSON null (for example "never expires"). */
extern void AkAuditChangesAddTimestamp(AkAuditChanges *changes, const char *member,
									   TimestampTz ts, bool isnull);
extern void AkAuditChangesAddText(AkAuditChanges *changes, const char *member, const char *value);
extern void AkAuditChangesAddInteger(AkAuditChanges *changes, const char *member, int64 value);
extern Jsonb *AkAuditChangesFinish(AkAuditChanges *changes);

/*
 * {"old": {...}, "new": {...}}: the top-level members ("name", "is_active",
 * "permitted", "options") whose values differ between two definitions.
 */
extern Jsonb *AkAuditDefinitionDiff(AccessKey old_definition, AccessKey new_definition);

#endif							/* ACCESS_KEY_AUDIT_H */
