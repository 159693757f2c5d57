/*
 * result_set.h — returning rows from C set-returning functions.
 *
 * Every set-returning function of the extension materializes its rows into a
 * tuplestore (the mode every caller of a SETOF function in FROM supports),
 * through this one helper, so the version-specific setup lives in one place.
 */
#ifndef ACCESS_KEY_RESULT_SET_H
#define ACCESS_KEY_RESULT_SET_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/array.h"
#include "utils/tuplestore.h"

typedef struct AkResultSet
{
	Tuplestorestate *store;
	TupleDesc	desc;
} AkResultSet;

/* Prepares fcinfo's caller to receive a materialized set; raises 0A000 where it cannot. */
extern AkResultSet AkBeginResultSet(FunctionCallInfo fcinfo);

/* Appends one row (values and nulls in the result's column order). */
extern void AkResultSetAppend(AkResultSet *rs, Datum *values, bool *nulls);

/* Returns every element of a one-dimensional array as a row of one column. */
extern Datum AkReturnArrayAsSet(FunctionCallInfo fcinfo, ArrayType *array);

#endif							/* ACCESS_KEY_RESULT_SET_H */
