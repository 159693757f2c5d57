/*
 * result_set.c — materialized results of set-returning functions.
 */
#include "postgres.h"

#include "result_set.h"

#include "funcapi.h"
#include "miscadmin.h"
#include "utils/lsyscache.h"

AkResultSet
AkBeginResultSet(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	AkResultSet rs;
	MemoryContext old;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		(rsinfo->allowedModes & SFRM_Materialize) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	if (get_call_result_type(fcinfo, NULL, &rs.desc) != TYPEFUNC_COMPOSITE)
	{
		/* A scalar SETOF type: one unnamed column. */
		rs.desc = CreateTemplateTupleDesc(1);
		TupleDescInitEntry(rs.desc, 1, "value", get_fn_expr_rettype(fcinfo->flinfo), -1, 0);
	}
	rs.desc = BlessTupleDesc(CreateTupleDescCopy(rs.desc));
	rs.store = tuplestore_begin_heap(true, false, work_mem);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = rs.store;
	rsinfo->setDesc = rs.desc;
	MemoryContextSwitchTo(old);
	return rs;
}

void
AkResultSetAppend(AkResultSet *rs, Datum *values, bool *nulls)
{
	tuplestore_putvalues(rs->store, rs->desc, values, nulls);
}

Datum
AkReturnArrayAsSet(FunctionCallInfo fcinfo, ArrayType *array)
{
	AkResultSet rs = AkBeginResultSet(fcinfo);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	get_typlenbyvalalign(ARR_ELEMTYPE(array), &typlen, &typbyval, &typalign);
	deconstruct_array(array, ARR_ELEMTYPE(array), typlen, typbyval, typalign, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		AkResultSetAppend(&rs, &elems[i], &nulls[i]);
	return (Datum) 0;
}
