/*
 * store.h - records in SQLite. The only file that includes sqlite3.h is
 * store.c; every SQL statement the kernel runs (other than the fragments the
 * expression compiler produces) is written there, so that a second backend
 * (PostgreSQL) replaces store.c and schema.c without touching the object API.
 *
 * Connections (RELIABILITY.md): exactly one writer connection, guarded by a
 * mutex, that alone writes; N read-only reader connections (query_only)
 * handed out one per thread at a time; in a server, one more connection on
 * a thread of its own that only checkpoints, so that no request pays for
 * one (elsewhere the writer checkpoints as it commits). WAL,
 * synchronous=FULL, foreign keys, busy timeout, defensive mode, limits, no
 * mmap.
 *
 * Values crossing this interface are normalised jansson values (object.c
 * validated them): strings, integers, reals, booleans, arrays/objects for
 * multienum/json/geo.
 */
#ifndef CRM_STORE_H
#define CRM_STORE_H

#include <time.h>
#include "crm.h"

struct jsonw;

struct meta;
struct meta_object;
struct meta_field;
struct expr_sql;
struct expr_value;

struct store;
struct store_conn;

struct store_options {
	int readers;               /* read-only connections; 0 = 2 */
	int busy_timeout_ms;       /* 0 = 5000 */
	int query_time_ms;         /* a statement running longer is interrupted; 0 = 2000 */
	int writer_cache_kb;       /* the writer's page cache; 0 = 16 MiB (a bulk load wants more) */
	int reader_cache_kb;       /* each reader's page cache; 0 = 8 MiB (the OS caches the file too) */
	bool background_checkpoint; /* a server: checkpoints run on a thread of their own (store.c) */
};

int store_open(const char *path, const struct meta *meta, const struct store_options *options,
               struct store **out, char *err, size_t errlen);
/* Checkpoints the WAL (TRUNCATE) and closes every connection. */
void store_close(struct store *store);
const struct meta *store_meta(const struct store *store);

/* The writer: takes the writer mutex and runs BEGIN IMMEDIATE. */
int store_begin(struct store *store, struct store_conn **out, struct crm_ctx *ctx);
/* COMMIT; CRM_OK only when the commit is durable. Releases the writer either way. */
int store_commit(struct store_conn *conn, struct crm_ctx *ctx);
void store_rollback(struct store_conn *conn);
/* A reader for this thread; give it back with store_reader_done. Never NULL. */
struct store_conn *store_reader(struct store *store);
void store_reader_done(struct store_conn *conn);
/* An explicit read transaction on a reader (BEGIN ... COMMIT): one snapshot for several statements. */
int store_read_begin(struct store_conn *conn);
void store_read_end(struct store_conn *conn);
/*
 * Refreshes the query planner's statistics (ANALYZE, bounded by
 * analysis_limit) on the writer: after a bulk load, so that for example
 * `industry = ?` sorted by id scans the table in id order rather than
 * sorting a whole industry.
 */
int store_analyze(struct store *store);
/* Runs a checkpoint on the writer (RESTART); for the server's periodic job. */
int store_checkpoint(struct store *store);

/* Key/value settings in the database (_crm_settings). *out owned. */
int store_setting_get(struct store_conn *conn, const char *key, char **out);
int store_setting_set(struct store_conn *conn, const char *key, const char *value);

/* --- records ---------------------------------------------------------- */

/* values: field -> normalised value for stored fields (system fields included). */
int store_insert(struct store_conn *conn, const struct meta_object *object, json_t *values,
                 int64_t *out_id, struct crm_ctx *ctx);
/*
 * Writes changes and bumps version, when the row is live (or deleted, if
 * allow_deleted) and (expected_version == 0 or version == expected_version).
 * CRM_ENOTFOUND if absent, CRM_ECONFLICT on a version mismatch.
 */
int store_update(struct store_conn *conn, const struct meta_object *object, int64_t id,
                 int64_t expected_version, bool allow_deleted, json_t *changes, struct crm_ctx *ctx);
/* Reads a record with formulas; CRM_ENOTFOUND if absent (or deleted, unless include_deleted). */
int store_get(struct store_conn *conn, const struct meta_object *object, int64_t id,
              bool include_deleted, json_t **out, struct crm_ctx *ctx);
/* The same record as JSON text appended to out (no jansson tree), and its version. */
int store_get_text(struct store_conn *conn, const struct meta_object *object, int64_t id,
                   bool include_deleted, struct jsonw *out, int64_t *version, struct crm_ctx *ctx);
/* The id a ref field of record id holds (deleted records too), 0 when empty or no such record. */
int store_ref_value(struct store_conn *conn, const struct meta_object *object, const struct meta_field *ref,
                    int64_t id, int64_t *out, struct crm_ctx *ctx);
/* True if a live record with that id exists. */
int store_exists(struct store_conn *conn, const struct meta_object *object, int64_t id,
                 bool *out, struct crm_ctx *ctx);
/* True if another live record has field = value. */
int store_value_taken(struct store_conn *conn, const struct meta_object *object,
                      const struct meta_field *field, json_t *value, int64_t except_id,
                      bool *out, struct crm_ctx *ctx);
/* Ids of live records of child whose ref field points to id (at most limit). */
int store_children(struct store_conn *conn, const struct meta_object *child,
                   const struct meta_field *ref, int64_t id, int limit, json_t **out_ids,
                   struct crm_ctx *ctx);
int store_purge(struct store_conn *conn, const struct meta_object *object, int64_t id,
                struct crm_ctx *ctx);
/* Whether sums of money are converted into the company currency (money has `currency:`, app.yaml a currency). */
bool store_converts(const struct meta *meta, const struct meta_field *money);
/* Appends amount_sql in the company currency at today's exchange_rate (store.c); binds go to b. */
void store_convert_sql(struct expr_sql *b, const struct meta_field *money, const char *amount_sql,
                       const char *currency_sql, struct strbuf *out);
/* Recomputes a rollup field of the parent record parent_id. */
int store_rollup_refresh(struct store_conn *conn, const struct meta_field *rollup,
                         const struct meta_object *parent, int64_t parent_id, struct crm_ctx *ctx);
/* Next value of an autonumber sequence (1, 2, ...). */
int store_next_number(struct store_conn *conn, const struct meta_object *object,
                      const struct meta_field *field, int64_t *out, struct crm_ctx *ctx);

/*
 * The ids of the users whose records a `team` rule shows user_id: the user,
 * the members of their team (team_field), and their reports all the way
 * down (manager_field). Fields may be NULL when the user object lacks them.
 */
int store_user_scope(struct store_conn *conn, const struct meta_object *users,
                     const struct meta_field *team_field, const struct meta_field *manager_field,
                     int64_t user_id, json_t **out_ids, struct crm_ctx *ctx);
/* Appends "column IN (<the ids>)" with the ids bound as one parameter. */
void store_sql_in_ids(struct expr_sql *b, const char *column_sql, json_t *ids, struct strbuf *out);

/*
 * Appends an audit row in the current transaction. changes (may be NULL):
 * { field: [old, new] }. user_id 0 = the system.
 */
int store_audit(struct store_conn *conn, const char *object, int64_t record_id, const char *action,
                int64_t user_id, const char *request_id, json_t *changes, struct crm_ctx *ctx);
/* Removes the JSON paths ("$.email", ...) from every audit row of one record. */
int store_audit_scrub(struct store_conn *conn, const char *object, int64_t record_id, json_t *paths,
                      struct crm_ctx *ctx);
/* The audit rows of one record, oldest first: [{id, at, user, request_id, action, changes}]. */
int store_history(struct store_conn *conn, const char *object, int64_t record_id, int limit,
                  json_t **out, struct crm_ctx *ctx);

/*
 * The audit trail as a kpi reads it (engine/kpi.c): over the rows with one of
 * actions (a JSON array of action names), at in [from, to) and user_id among
 * user_ids (a JSON array; NULL: every user, never the system's rows),
 * count(*) or, with distinct "user_id", "record_id" or "object", the number
 * of its values; per_day: the sum over the days of each day's figure. *out:
 * the figure (0 for no rows).
 */
int store_audit_figure(struct store_conn *conn, json_t *actions, const char *from, const char *to, json_t *user_ids,
                       const char *distinct, bool per_day, double *out, struct crm_ctx *ctx);

/* Ids of records deleted before cutoff ("YYYY-MM-DDTHH:MM:SSZ"), at most limit. */
int store_deleted_before(struct store_conn *conn, const struct meta_object *object, const char *cutoff,
                         int limit, json_t **out_ids, struct crm_ctx *ctx);

/* --- manual sharing ---------------------------------------------------- */

/* Appends "t0.id IN (records of object shared with user or team[, for edit])". */
void store_share_sql(struct expr_sql *b, const char *object, int64_t user_id, int64_t team_id, bool edit,
                     struct strbuf *out);
/* True if o/id is shared with user or team (for edit, when edit). */
int store_share_exists(struct store_conn *conn, const char *object, int64_t id, int64_t user_id,
                       int64_t team_id, bool edit, bool *out, struct crm_ctx *ctx);
int store_share_add(struct store_conn *conn, const char *object, int64_t id, int64_t user_id, int64_t team_id,
                    bool edit, int64_t created_by, int64_t *out_id, struct crm_ctx *ctx);
/* CRM_ENOTFOUND if no such share on that record. */
int store_share_remove(struct store_conn *conn, const char *object, int64_t id, int64_t share_id,
                       struct crm_ctx *ctx);
/* [{id, user, team, access, created_by, created_at}] */
int store_share_list(struct store_conn *conn, const char *object, int64_t id, json_t **out, struct crm_ctx *ctx);

/* --- queries ---------------------------------------------------------- */

enum store_sort_dir { STORE_ASC, STORE_DESC };

/* A compiled query: the object API fills it, the store runs it. */
struct store_query {
	const struct meta_object *object;
	struct expr_sql *sql;            /* builder holding joins and binds (borrowed) */
	const char *where;               /* SQL condition over t0 / joins, or NULL */
	int column_count;                /* selected columns */
	const char **column_sql;         /* their SQL */
	const char **column_names;       /* their output names */
	const struct meta_field **column_fields; /* their fields, for decoding */
	int sort_count;
	const char **sort_sql;           /* sort keys */
	enum store_sort_dir *sort_dir;
	json_t *after;                   /* keyset: [v1, ..., vn, id] or NULL */
	int limit;                       /* 0 = no limit */
	bool deleted;                    /* recycle bin instead of live records */
	/*
	 * The access backstop (NULL: none). The statement is prepared under an
	 * SQLite authorizer that asks column_allowed about every column it
	 * reads, and refuses any write, pragma or attach; a refusal fails the
	 * query with CRM_EINTERNAL ("bug: ...") before a row is read. Statements
	 * are cached per access_key (the caller's role) and text, since the same
	 * text may be allowed for one role and refused for another.
	 */
	bool (*column_allowed)(void *arg, const char *table, const char *column);
	void *column_arg;
	const char *access_key;
};

/*
 * Runs q; row_fn receives each row, valid during the call, and reads it as
 * it needs: a jansson record, the record as JSON text (no tree built: the
 * fast way to a response), or the values of its sort keys followed by its
 * id (a JSON array, for a cursor). row_fn returns 0 to go on; anything else
 * stops the query and is returned.
 */
struct store_row;
json_t *store_row_record(const struct store_row *row);
void store_row_write(const struct store_row *row, struct jsonw *out);
json_t *store_row_keys(const struct store_row *row);
int store_select(struct store_conn *conn, struct store_query *q,
                 int (*row_fn)(void *arg, const struct store_row *row), void *arg,
                 struct crm_ctx *ctx);
int store_count(struct store_conn *conn, struct store_query *q, int64_t max, int64_t *out,
                struct crm_ctx *ctx);
/* Largest id ever given (a cheap upper estimate of the row count). */
int store_max_id(struct store_conn *conn, const struct meta_object *object, int64_t *out,
                 struct crm_ctx *ctx);
/* group_sql[i] AS group_names[i]; measures: SQL aggregate expressions named measure_names[i]. */
int store_aggregate(struct store_conn *conn, struct store_query *q, int group_count,
                    const char **group_sql, const char **group_names,
                    const struct meta_field **group_fields, int measure_count,
                    const char **measure_sql, const char **measure_names, json_t **out,
                    struct crm_ctx *ctx);

/* The SQL expression of a stored or formula field, for select lists (appended to out). */
int store_field_sql(struct expr_sql *b, const struct meta_field *field, struct strbuf *out,
                    char *err, size_t errlen);

/* --- schema (schema.c) ------------------------------------------------ */

struct schema_plan;
/* Diffs meta against the database. *out owned (schema_plan_free). */
int schema_plan(struct store *store, struct schema_plan **out, struct crm_ctx *ctx);
/* Prints the plan, one step a line. */
void schema_plan_print(const struct schema_plan *plan, void *stream);
int schema_plan_step_count(const struct schema_plan *plan);
bool schema_plan_destructive(const struct schema_plan *plan);
/* Applies the plan in one transaction with a journal; destructive steps need allow_destructive. */
int schema_apply(struct store *store, const struct schema_plan *plan, bool allow_destructive,
                 struct crm_ctx *ctx);
void schema_plan_free(struct schema_plan *plan);
/*
 * Rebuilds the full-text index ("<object>__search", see schema.c) of object,
 * or of every object with `search: true` fields when object is NULL, from the
 * records, in one transaction. *out_count: the indexes rebuilt.
 */
int schema_search_rebuild(struct store *store, const char *object, int *out_count, struct crm_ctx *ctx);

/* For schema.c: DDL on the writer inside a transaction. */
int store_exec(struct store_conn *conn, const char *sql, struct crm_ctx *ctx);
/* Runs sql (one statement) and calls row_fn with each row as a JSON array of column values. */
int store_rows(struct store_conn *conn, const char *sql, const json_t *params,
               int (*row_fn)(void *arg, json_t *row), void *arg, struct crm_ctx *ctx);

/*
 * The holiday records of calendar on or after from_day, in day order, for
 * the business-time functions (calendar.h's calendar_holidays.list); SQL
 * reads the same through the functions store.c registers on every
 * connection. Returns 0, or -1 (read as none).
 */
struct calendar_holiday;
int store_holidays(struct store_conn *conn, const char *calendar, const char *from_day, struct calendar_holiday *out,
                   int max, int *count);

#endif
