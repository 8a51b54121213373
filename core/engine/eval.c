/* eval.c - expressions over one record in C (see eval.h). */
#include <stdlib.h>
#include <string.h>
#include "eval.h"
#include "meta_model.h"
#include "store.h"
#include "context.h"

struct env {
	struct crm_ctx *ctx;
	struct store_conn *conn;
	const struct meta_object *object;
	json_t *record;
	json_t *user;
	json_t *kept;     /* records fetched and texts computed, alive until the evaluation ends */
};

void eval_value_from_json(json_t *v, struct expr_value *out)
{
	memset(out, 0, sizeof(*out));
	if (!v)
		return;
	switch (json_typeof(v)) {
	case JSON_INTEGER: out->type = EV_INT; out->i = json_integer_value(v); break;
	case JSON_REAL: out->type = EV_REAL; out->r = json_real_value(v); break;
	case JSON_TRUE: out->type = EV_BOOL; out->i = 1; break;
	case JSON_FALSE: out->type = EV_BOOL; out->i = 0; break;
	case JSON_STRING: out->type = EV_TEXT; out->s = (char *)json_string_value(v); break;
	default: out->type = EV_NULL; break;
	}
}

static int lookup(void *arg, const char *path, struct expr_value *out);

/* The holidays of the business-time functions: the holiday records, read on the evaluation's connection. */
static int list_holidays(void *arg, const char *calendar, const char *from_day, struct calendar_holiday *out, int max,
                         int *count)
{
	struct env *env = arg;
	*count = 0;
	return env->conn ? store_holidays(env->conn, calendar, from_day, out, max, count) : -1;
}

static int user_field(void *arg, const char *field, struct expr_value *out)
{
	struct env *env = arg;
	/* no user, or a user without that field: unknown, so every comparison is null (deny) */
	if (!env->user)
		return -1;
	eval_value_from_json(json_object_get(env->user, field), out);
	return 0;
}

static int computed(struct env *env, const struct meta_object *o, json_t *record, const struct expr *e,
                    struct expr_value *out)
{
	struct env inner = *env;
	inner.object = o;
	inner.record = record;
	struct calendar_holidays holidays = { list_holidays, &inner };
	struct expr_env eval = { .lookup = lookup, .user_field = user_field, .arg = &inner, .me = env->ctx->user_id,
	                         .meta = env->ctx->kernel ? env->ctx->kernel->meta : NULL, .holidays = &holidays };
	char err[256];
	struct expr_value result = { 0 };
	if (expr_eval(e, &eval, &result, err, sizeof(err)) != CRM_OK)
		return -1;
	if (result.type == EV_TEXT) {
		/* keep the text alive until the outer evaluation ends */
		json_array_append_new(env->kept, json_string(result.s));
		expr_value_clear(&result);
		out->type = EV_TEXT;
		out->s = (char *)json_string_value(json_array_get(env->kept, json_array_size(env->kept) - 1));
		return 0;
	}
	*out = result;
	return 0;
}

static int lookup(void *arg, const char *path, struct expr_value *out)
{
	struct env *env = arg;
	const struct meta_object *o = env->object;
	json_t *record = env->record;
	char segment[64];
	const char *p = path;
	for (int hop = 0; hop <= EXPR_MAX_PATH; hop++) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		if (len >= sizeof(segment))
			return -1;
		memcpy(segment, p, len);
		segment[len] = '\0';
		const struct meta_field *f = meta_find_field(o, segment);
		if (!f)
			return -1;
		if (!dot) {
			if (f->type == FIELD_FORMULA && f->formula_expr) {
				int rc = computed(env, o, record, f->formula_expr, out);
				/* at the field's scale, as the SQL compiler inlines it (expr.c: crm_round) */
				if (rc == 0 && expr_formula_scaled(f) && out->type == EV_REAL)
					out->r = expr_round(out->r, f->scale);
				return rc;
			}
			json_t *value = json_object_get(record, segment);
			if (f->type == FIELD_GEO && json_is_object(value)) {
				/* a point is its JSON text, as the store keeps it (expr.c reads distance() from it) */
				char *text = json_dumps(value, JSON_COMPACT | JSON_ENSURE_ASCII);
				if (!text)
					return -1;
				json_array_append_new(env->kept, json_string(text));
				free(text);
				value = json_array_get(env->kept, json_array_size(env->kept) - 1);
			}
			eval_value_from_json(value, out);
			return 0;
		}
		json_t *v = json_object_get(record, segment);
		if (!f->target)
			return -1;
		if (!json_is_integer(v) || !env->conn) {
			out->type = EV_NULL;
			return 0;
		}
		json_t *next = NULL;
		int code = store_get(env->conn, f->target, json_integer_value(v), true, &next, env->ctx);
		if (code == CRM_ENOTFOUND) {
			crm_error_forget(env->ctx);
			out->type = EV_NULL;
			return 0;
		}
		if (code != CRM_OK)
			return -1;
		json_array_append_new(env->kept, next);
		record = next;
		o = f->target;
		p = dot + 1;
	}
	return -1;
}

int eval_record(struct crm_ctx *ctx, struct store_conn *conn, const struct meta_object *object,
                const struct expr *e, json_t *record, json_t *user, struct expr_value *out,
                char *err, size_t errlen)
{
	struct env env = { ctx, conn, object, record, user, json_array() };
	struct calendar_holidays holidays = { list_holidays, &env };
	struct expr_env eval = { .lookup = lookup, .user_field = user_field, .arg = &env, .me = ctx->user_id,
	                         .meta = ctx->kernel ? ctx->kernel->meta : NULL, .holidays = &holidays };
	/* expr_eval hands back text it owns, so nothing points into kept */
	int code = expr_eval(e, &eval, out, err, errlen);
	json_decref(env.kept);
	return code;
}
