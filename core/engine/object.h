/*
 * object.h - the object API: the one door to records.
 *
 * HTTP handlers, the CLI (import, export, demo), plugins and workflows all
 * read and write records through these functions, so validation, (later)
 * access control, hooks and audit cannot be skipped by a side entrance.
 *
 * Records are jansson objects: { "id": 12, "name": "Acme", "amount": 12.5,
 * "account": 7, "tags": ["a","b"], ... } with the system fields id,
 * created_at, created_by, updated_at, updated_by, owner, version, deleted_at.
 * Dates are "YYYY-MM-DD", datetimes "YYYY-MM-DDTHH:MM:SSZ" (UTC), bools JSON
 * booleans, refs the target's id, multienum/json/geo JSON values
 * (geo: {"lat": .., "lng": ..}).
 *
 * Every call takes a context (acting user, request id; see crm.h). On
 * failure it returns a CRM_E* code, ctx->message says why and, for
 * CRM_EVALIDATION, ctx->field_errors lists every field error at once.
 * Output pointers are set only on success and are owned by the caller.
 */
#ifndef CRM_OBJECT_H
#define CRM_OBJECT_H

#include "crm.h"

#define OBJECT_DEFAULT_LIMIT 50
#define OBJECT_MAX_LIMIT 1000
#define OBJECT_MAX_BATCH 1000

enum object_count_mode { OBJECT_COUNT_NONE, OBJECT_COUNT_EXACT, OBJECT_COUNT_ESTIMATE };

struct object_query {
	const char *filter;      /* expression, or NULL */
	const char *sort;        /* "-amount,name": fields or dotted paths, '-' = descending */
	const char *fields;      /* "name,amount,account.name" or NULL = all readable fields */
	const char *search;      /* full-text search of the search: true fields (ranked unless sorted) */
	int limit;               /* 0 = OBJECT_DEFAULT_LIMIT; above OBJECT_MAX_LIMIT is CRM_ELIMIT */
	const char *after;       /* opaque cursor from a previous page, or NULL */
	enum object_count_mode count;
	bool deleted;            /* true: the recycle bin (deleted records only) */
};

/*
 * The global search: text in every object the caller may read that has
 * `search: true` fields they may read, at most per_object records each,
 * under the same row and field rules as a list. *out (owned) =
 * { "q": text, "results": [ { "object", "records": [...], "more": bool } ] },
 * objects without a hit left out; each record carries "_snippet" (its best
 * matching readable field's text around the hits, each hit between U+0002
 * and U+0003) and "_snippet_field".
 */
int object_search(struct crm_ctx *ctx, const char *text, int per_object, json_t **out);

/* Creates a record; *out (may be NULL) receives it as stored. */
int object_create(struct crm_ctx *ctx, const char *object, json_t *values, json_t **out);
/* Creates a record and returns only its id (cheaper than reading it back). */
int object_create_id(struct crm_ctx *ctx, const char *object, json_t *values, int64_t *out_id);
/* Reads one live record (deleted ones too when include_deleted). CRM_ENOTFOUND if absent. */
int object_get(struct crm_ctx *ctx, const char *object, int64_t id, bool include_deleted, json_t **out);
/*
 * The same record as JSON text appended to out (what the REST GET answers
 * with), and its version. A caller who may read every record and field of
 * the object gets the row written straight to text, without a jansson tree.
 */
struct jsonw;
int object_get_text(struct crm_ctx *ctx, const char *object, int64_t id, bool include_deleted,
                    struct jsonw *out, int64_t *version);
/*
 * Changes the given fields. expected_version > 0 must equal the stored
 * version, else CRM_ECONFLICT (a lost update); 0 skips the check.
 */
int object_update(struct crm_ctx *ctx, const char *object, int64_t id, int64_t expected_version,
                  json_t *changes, json_t **out);
/* Soft delete to the recycle bin (sets deleted_at). Refs with on_delete restrict block it. */
int object_delete(struct crm_ctx *ctx, const char *object, int64_t id, int64_t expected_version);
int object_restore(struct crm_ctx *ctx, const char *object, int64_t id);
/* Removes a deleted record for good. */
int object_purge(struct crm_ctx *ctx, const char *object, int64_t id);

/*
 * One page: *out = { "records": [...], "next": "cursor" or null, "total": n (if asked) }.
 * Keyset pagination: the cursor is signed (tamper-evident) and encodes the
 * sort values of the last record, so pages stay stable under inserts.
 */
int object_query(struct crm_ctx *ctx, const char *object, const struct object_query *query,
                 json_t **out);
/*
 * The same page appended to out as JSON text, written from the database rows
 * with no jansson tree in between (what the REST list answers with: at 50
 * records a page it is the difference between building 1,500 jansson values
 * and none). On error nothing is appended.
 */
int object_query_text(struct crm_ctx *ctx, const char *object, const struct object_query *query,
                      struct jsonw *out);
/*
 * Streams every matching record to row_fn in sort order (no limit), reading
 * in pages so memory stays flat. row_fn returns 0 to go on, non-zero to stop
 * (that value is returned). Records passed to row_fn are borrowed.
 */
int object_query_each(struct crm_ctx *ctx, const char *object, const struct object_query *query,
                      int (*row_fn)(void *arg, json_t *record), void *arg);
int object_count(struct crm_ctx *ctx, const char *object, const char *filter, int64_t *out);
/*
 * Group-by aggregate. group: "stage" or "stage,owner" (may be NULL);
 * measures: "count,sum(amount),avg(probability),count_distinct(account)" (NULL = count).
 * *out = [ { "stage": "won", "count": 3, "sum_amount": 1200.0 }, ... ].
 */
int object_aggregate(struct crm_ctx *ctx, const char *object, const char *group,
                     const char *measures, const char *filter, json_t **out);

/*
 * A group-by aggregate whose condition and measures the caller compiles into
 * the query's own builder (engine/report.c: measures over joined records as
 * subqueries). The query is object_aggregate's: the root's read rule, the
 * caller's filter, the groups (as object_aggregate's group, plus
 * `date:week`), the access backstop over every column. compile(arg, b, -1,
 * out) appends a condition over t0 (or nothing); compile(arg, b, i, out) the
 * i-th measure's aggregate SQL; b's parameters and joins are shared, so
 * values bound there are bound to the statement. An error from compile is
 * returned as it is. *out as object_aggregate's, keys measure_names.
 */
struct expr_sql;
struct object_aggregate_parts {
	const char *group;                 /* "stage,close_date:month" or NULL */
	const char *filter;                /* the caller's expression over object, or NULL */
	int measure_count;                 /* 1 to 32 */
	const char *const *measure_names;
	int (*compile)(void *arg, struct expr_sql *b, int measure, struct strbuf *out);
	void *arg;
};
int object_aggregate_parts(struct crm_ctx *ctx, const char *object, const struct object_aggregate_parts *parts,
                           json_t **out);

/*
 * The field-level audit trail of one record (deleted ones too), oldest
 * first: [ { "id", "at", "user", "request_id", "action": "create" | "update"
 * | "delete" | "restore" | "purge", "changes": { field: [old, new] } } ].
 * Fields the caller may not read are left out.
 */
int object_history(struct crm_ctx *ctx, const char *object, int64_t id, json_t **out);

/*
 * Purges every record deleted more than days ago (the recycle bin's
 * retention), in batches, as the system. A record still referenced by
 * others (restrict) stays and is counted in *kept. For the server's job.
 */
int object_purge_expired(struct crm_ctx *ctx, int days, int64_t *purged, int64_t *kept);

/*
 * Manual sharing: the owner of a record (or an admin) shares it with one
 * user or one team, {"user": id} or {"team": id}, with "access": "read" or
 * "edit"; never more than the sharer may do. *out = the share with its id.
 * Shares widen read/update within what the role allows on the object.
 */
int object_share(struct crm_ctx *ctx, const char *object, int64_t id, json_t *share, json_t **out);
int object_unshare(struct crm_ctx *ctx, const char *object, int64_t id, int64_t share_id);
/* [{id, user, team, access, created_by, created_at}] for a record the caller can read. */
int object_shares(struct crm_ctx *ctx, const char *object, int64_t id, json_t **out);

/*
 * Transactions. Calls made between begin and commit share one write
 * transaction (BEGIN IMMEDIATE on the single writer connection). Nested
 * begins are counted. A failed call inside leaves the transaction open:
 * the caller decides to commit the rest or roll back.
 */
int object_begin(struct crm_ctx *ctx);
int object_commit(struct crm_ctx *ctx);
void object_rollback(struct crm_ctx *ctx);

/*
 * For modules built on the object API that also keep tables of their own
 * (auth): the connection to read with (the open transaction, or a reader
 * to give back with object_read_done), and a write in the caller's
 * transaction or one of its own (object_write_end commits when code is
 * CRM_OK, else rolls back its own transaction; it returns the first error).
 */
struct store_conn *object_read_conn(struct crm_ctx *ctx);
void object_read_done(struct crm_ctx *ctx, struct store_conn *conn);
int object_write_begin(struct crm_ctx *ctx, bool *own);
int object_write_end(struct crm_ctx *ctx, bool own, int code);

/*
 * A batch: operations = [ {"op":"create","object":"account","values":{...}},
 * {"op":"update","object":"account","id":3,"version":2,"values":{...}},
 * {"op":"delete","object":"account","id":3}, {"op":"restore",...} ], all in
 * one transaction, all or nothing. *out = per-operation results
 * [ {"status":"ok","record":{...}} | {"status":"error","code":..,"message":..,"errors":[..]} ].
 * On failure *out is still set (the caller reports which operation failed)
 * and the return code is that of the first failing operation.
 */
int object_batch(struct crm_ctx *ctx, json_t *operations, json_t **out);

/*
 * The object API's own door for the workflow engine: an object_update that
 * may write state fields and readonly fields still empty, audited as action
 * "transition" with "_transition": name. Only workflow.c calls it.
 */
int object_update_state(struct crm_ctx *ctx, const char *object, int64_t id, int64_t expected_version,
                        json_t *changes, const char *transition, json_t **out);

#endif
