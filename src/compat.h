/*
 * compat.h — every PostgreSQL version difference (13 to 18) in one place.
 *
 * Only PostgreSQL 15 can be tested on our machines; the other branches are
 * written against each release's headers and kept compile-guarded here so the
 * rest of the tree reads as if there were one PostgreSQL.
 */
#ifndef ACCESS_KEY_COMPAT_H
#define ACCESS_KEY_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM < 130000
#error "access_key requires PostgreSQL 13 or later"
#endif

#include "common/jsonapi.h"

/*
 * JSON parser callbacks return a JsonParseErrorType from PostgreSQL 16 on and
 * void before.
 */
#if PG_VERSION_NUM >= 160000
#define AK_JSON_ACTION JsonParseErrorType
#define AK_JSON_ACTION_OK return JSON_SUCCESS
#else
#define AK_JSON_ACTION void
#define AK_JSON_ACTION_OK return
#endif

/*
 * PostgreSQL 17 lets the caller own the lexer (and requires freeing it);
 * before, makeJsonLexContextCstringLen allocates one.
 */
#if PG_VERSION_NUM >= 170000
#define AkMakeJsonLexer(json, len) \
	makeJsonLexContextCstringLen(NULL, (json), (len), GetDatabaseEncoding(), true)
#define AkFreeJsonLexer(lex) freeJsonLexContext(lex)
#else
#define AkMakeJsonLexer(json, len) \
	makeJsonLexContextCstringLen((char *) (json), (len), GetDatabaseEncoding(), true)
#define AkFreeJsonLexer(lex) ((void) (lex))
#endif

/* JSON string escaping gained a length-aware variant in 18; the old one stays. */
#include "utils/json.h"
#define AkEscapeJson(buf, str) escape_json((buf), (str))

/*
 * A GUC check hook's "extra": freed by the GUC machinery with free() up to
 * PostgreSQL 15, with guc_free() (its own memory context) from 16 on.
 */
#if PG_VERSION_NUM >= 160000
#include "utils/guc.h"
#define AkGucMalloc(size) guc_malloc(LOG, (size))
#else
#define AkGucMalloc(size) malloc(size)
#endif

/* MarkGUCPrefixReserved replaced EmitWarningsOnPlaceholders in 15. */
#if PG_VERSION_NUM >= 150000
#define AkReserveGucPrefix(prefix) MarkGUCPrefixReserved(prefix)
#else
#define AkReserveGucPrefix(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

/* pg_attribute_noreturn() gave way to the pg_noreturn specifier in 18. */
#if PG_VERSION_NUM >= 180000
#define AK_NORETURN pg_noreturn
#else
#define AK_NORETURN pg_attribute_noreturn()
#endif

/* Parse analysis with fixed parameters was renamed in 15. */
#if PG_VERSION_NUM >= 150000
#define AkParseAnalyze(raw, sql) parse_analyze_fixedparams((raw), (sql), NULL, 0, NULL)
#else
#define AkParseAnalyze(raw, sql) parse_analyze((raw), (sql), NULL, 0, NULL)
#endif

/* Per-catalog ACL checks became object_aclcheck in 16. */
#if PG_VERSION_NUM >= 160000
#define AkProcAclCheck(proc, role, mode) object_aclcheck(ProcedureRelationId, (proc), (role), (mode))
#else
#define AkProcAclCheck(proc, role, mode) pg_proc_aclcheck((proc), (role), (mode))
#endif

/* Per-catalog ownership checks became object_ownercheck in 16. */
#if PG_VERSION_NUM >= 160000
#define AkOwnsRelation(relid) object_ownercheck(RelationRelationId, (relid), GetUserId())
#else
#define AkOwnsRelation(relid) pg_class_ownercheck((relid), GetUserId())
#endif

/* Predefined roles were named DEFAULT_ROLE_* before 14. */
#if PG_VERSION_NUM >= 140000
#define AK_ROLE_READ_ALL_SETTINGS ROLE_PG_READ_ALL_SETTINGS
#else
#define AK_ROLE_READ_ALL_SETTINGS DEFAULT_ROLE_READ_ALL_SETTINGS
#endif

/* Views have the security_invoker option from 15 on. */
#define AK_HAVE_SECURITY_INVOKER (PG_VERSION_NUM >= 150000)

/* index_beginscan takes the scan's instrumentation from 18 on. */
#if PG_VERSION_NUM >= 180000
#define AkIndexBeginScan(heap, index, snapshot, nkeys) index_beginscan((heap), (index), (snapshot), NULL, (nkeys), 0)
#else
#define AkIndexBeginScan(heap, index, snapshot, nkeys) index_beginscan((heap), (index), (snapshot), (nkeys), 0)
#endif

/* Whether a collation compares bytewise: lc_collate_is_c gave way to the locale's flag in 18. */
#include "utils/pg_locale.h"
#if PG_VERSION_NUM >= 180000
#define AkCollationIsC(collid) (pg_newlocale_from_collation(collid)->collate_is_c)
#else
#define AkCollationIsC(collid) lc_collate_is_c(collid)
#endif

#endif							/* ACCESS_KEY_COMPAT_H */
