/*
 * filter_validate.h — validating the shape of filters in a definition.
 */
#ifndef ACCESS_KEY_FILTER_VALIDATE_H
#define ACCESS_KEY_FILTER_VALIDATE_H

#include "postgres.h"

#include "utils/jsonb.h"

/* Validates a filter list at path and pushes its canonical form. */
extern void AkValidateFilterList(JsonbValue *filters, const char *path, JsonbParseState **state);

#endif							/* ACCESS_KEY_FILTER_VALIDATE_H */
