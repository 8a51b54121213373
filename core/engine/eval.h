/*
 * eval.h - evaluating an expression against one record in C: validation
 * rules, access checks, workflow guards. Dotted paths (account.industry)
 * follow refs by reading the target records through the store on conn.
 * Formula fields are computed from their expression.
 */
#ifndef CRM_EVAL_H
#define CRM_EVAL_H

#include "crm.h"
#include "expr.h"

struct meta_object;
struct store_conn;

/*
 * Evaluates e over record (an object of object). user (may be NULL) answers
 * $user.<field>. out's text is owned by the caller (expr_value_clear).
 * Returns CRM_OK, or an error with err set.
 */
int eval_record(struct crm_ctx *ctx, struct store_conn *conn, const struct meta_object *object,
                const struct expr *e, json_t *record, json_t *user, struct expr_value *out,
                char *err, size_t errlen);

/* A JSON value as an expression value (text borrowed from json). */
void eval_value_from_json(json_t *json, struct expr_value *out);

#endif
