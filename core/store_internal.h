/* store_internal.h - what store.c shares with schema.c (both SQLite). Not for other modules. */
#ifndef CRM_STORE_INTERNAL_H
#define CRM_STORE_INTERNAL_H

#include <sqlite3.h>
#include "store.h"

int store_prepare(struct store_conn *conn, const char *sql, sqlite3_stmt **out, struct crm_ctx *ctx);
int store_bind_value(sqlite3_stmt *stmt, int index, const struct expr_value *value);
json_t *store_column_json(sqlite3_stmt *stmt, int column, const struct meta_field *field);
int store_rollup_sql(struct expr_sql *b, const struct meta_field *rollup, struct strbuf *out,
                     char *err, size_t errlen);
struct store *store_conn_store(struct store_conn *conn);
/* Borrowed conversion for binding (text not copied). */
void store_json_to_value(json_t *json, struct expr_value *out);

#endif
