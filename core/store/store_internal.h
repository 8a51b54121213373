/*
 * store_internal.h - what store.c shares with schema.c (both SQLite). Not for
 * other modules (test_expr.c, which checks compiled SQL against SQLite, uses
 * store_register_functions).
 */
#ifndef CRM_STORE_INTERNAL_H
#define CRM_STORE_INTERNAL_H

#include <sqlite3.h>
#include "store.h"

int store_prepare(struct store_conn *conn, const char *sql, sqlite3_stmt **out, struct crm_ctx *ctx);
/* sqlite3_step with the statement deadline armed (the progress handler interrupts past it). */
int store_step(struct store_conn *conn, sqlite3_stmt *stmt);
/* Resets a statement after use and disarms the deadline. */
void store_done(struct store_conn *conn, sqlite3_stmt *stmt);
/* Maps a SQLite result code to a CRM_E* code with a message in ctx. */
int store_sql_error(struct store_conn *conn, int rc, struct crm_ctx *ctx, const char *what);
int store_bind_value(sqlite3_stmt *stmt, int index, const struct expr_value *value);
json_t *store_column_json(sqlite3_stmt *stmt, int column, const struct meta_field *field);
int store_rollup_sql(struct expr_sql *b, const struct meta_field *rollup, struct strbuf *out,
                     char *err, size_t errlen);
struct store *store_conn_store(struct store_conn *conn);
/*
 * The columns of object's full-text index (its stored `search: true` fields)
 * as a quoted SQL list appended to out; false (out untouched) when it has none.
 */
bool store_search_columns(const struct meta_object *object, struct strbuf *out);
/*
 * Registers on db the SQL functions that compiled expressions call
 * (expr_sql_function: crm_round, crm_add_months); every connection that
 * runs expression SQL needs them. Returns an SQLite result code.
 */
int store_register_functions(sqlite3 *db);

/*
 * store_auth.c's memo of resolved tokens, one per reader connection (see
 * store_auth_resolve); NULL for the writer.
 */
#define STORE_AUTH_MEMO_SLOTS 64
struct store_auth_memo {
	sqlite3_int64 data_version;     /* the snapshot it was read in; 0 = empty */
	char token_hash[65];
	sqlite3_int64 user_id;
	sqlite3_int64 expires_at;       /* sessions; 0 for API tokens (no expiry) */
	char csrf[64];
	int api_token;
};
struct store_auth_memo *store_conn_auth_memo(struct store_conn *conn);
/* Borrowed conversion for binding (text not copied). */
void store_json_to_value(json_t *json, struct expr_value *out);

#endif
