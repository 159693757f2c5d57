/*
 * row_filter.h — ak_apply_filters, ak_index_prefilter, ak_filter_values:
 * what the SELECT policy of a protected collection calls.  SQL-callable
 * only; no C interface.
 */
#ifndef ACCESS_KEY_ROW_FILTER_H
#define ACCESS_KEY_ROW_FILTER_H

#endif							/* ACCESS_KEY_ROW_FILTER_H */
