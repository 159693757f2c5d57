/*
 * schema.h — schema inspection (docs/reference.md#schema-inspection): ak_collections, ak_schema.
 */
#ifndef ACCESS_KEY_SCHEMA_H
#define ACCESS_KEY_SCHEMA_H

/* Defines access_key.schema_sample_rows; called from _PG_init. */
extern void AkSchemaInit(void);

#endif							/* ACCESS_KEY_SCHEMA_H */
