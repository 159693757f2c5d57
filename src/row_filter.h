/*
 * row_filter.h — ak_apply_filters, ak_index_prefilter, ak_filter_values:
 * what the SELECT policy of a protected collection calls.
 */
#ifndef ACCESS_KEY_ROW_FILTER_H
#define ACCESS_KEY_ROW_FILTER_H

#include "postgres.h"

#include "key_cache.h"

#include "utils/jsonb.h"

/*
 * The session key's view for reading a protected collection, as the SELECT
 * policy sees it: NULL without a key; 42501 when the key may not read it in
 * the current context, or may not read that collection at all
 * (options.queries.collections).  The values index conditions compare with
 * (index_values.c) answer exactly as ak_filter_row does.
 */
extern const AkContextView *AkReadableView(Oid collection);

/*
 * Whether a row passes the key's timeframe when the collection has no time
 * column (by its keen.timestamp property; a time column is checked by the
 * policy's ak_in_timeframe).  *detoasted is set when the row was read.
 */
extern bool AkRowInTimeframe(const AkContextView *view, Oid collection, Datum properties, Jsonb **detoasted);

#endif							/* ACCESS_KEY_ROW_FILTER_H */
