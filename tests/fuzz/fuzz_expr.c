/*
 * fuzz_expr.c - libFuzzer target for the expression language: any bytes are
 * parsed; what parses is typed by the checker (which marks date arithmetic
 * for the evaluator), evaluated against a lookup that answers null, an int,
 * a real, a text or "not found" depending on the path, and compiled against
 * a small hand-built object with refs, a user field and a formula.
 * The bytes are also tried as a sort-key path. Nothing may crash, leak or
 * hit undefined behaviour.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "expr.h"
#include "meta.h"

static struct meta_field account_fields[] = {
	{ .name = "id", .type = FIELD_INT, .system = true },
	{ .name = "name", .type = FIELD_TEXT },
	{ .name = "amount", .type = FIELD_MONEY },
	{ .name = "quantity", .type = FIELD_INT },
	{ .name = "active", .type = FIELD_BOOL },
	{ .name = "close_date", .type = FIELD_DATE },
	{ .name = "parent", .type = FIELD_REF, .to = "account" },
	{ .name = "owner", .type = FIELD_USER, .to = "user" },  /* no user object: a dead end */
	{ .name = "secret", .type = FIELD_TEXT },
	{ .name = "total", .type = FIELD_FORMULA, .formula = "amount * 2 + len(name) / quantity",
	  .result_type = FIELD_MONEY },
	{ .name = "label", .type = FIELD_FORMULA, .formula = "if(total > 10, parent.name || '!', lower(name))",
	  .result_type = FIELD_TEXT },
	{ .name = "due", .type = FIELD_FORMULA, .formula = "close_date + quantity", .result_type = FIELD_DATE },
};
static struct meta_object account = {
	.name = "account", .field_count = sizeof(account_fields) / sizeof(account_fields[0]), .fields = account_fields,
};
static struct meta meta = { .object_count = 1, .objects = &account };

static void setup(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	char err[256];
	account_fields[6].target = &account;
	for (int i = 0; i < account.field_count; i++) {
		struct meta_field *f = &account_fields[i];
		if (f->formula && expr_parse(f->formula, &f->formula_expr, err, sizeof(err)) != CRM_OK)
			abort();
	}
	for (int i = 0; i < account.field_count; i++) {
		struct meta_field *f = &account_fields[i];
		if (f->formula_expr && expr_check(f->formula_expr, &meta, &account, err, sizeof(err)) != CRM_OK)
			abort();
	}
}

static uint32_t hash(const char *text)
{
	uint32_t h = 2166136261u;
	for (; *text; text++)
		h = (h ^ (unsigned char)*text) * 16777619u;
	return h;
}

static int lookup(void *arg, const char *path, struct expr_value *out)
{
	(void)arg;
	uint32_t h = hash(path);
	switch (h % 6) {
	case 0: out->type = EV_NULL; return 0;
	case 1: out->type = EV_INT; out->i = (int64_t)(h % 3) == 0 ? INT64_MAX : (int64_t)h - 2000000000; return 0;
	case 2: out->type = EV_REAL; out->r = (double)h / 7.0; return 0;
	case 3: out->type = EV_TEXT; out->s = (h & 64) ? "2024-02-29T10:00:00Z" : "%a_b%"; return 0;
	case 4: out->type = EV_BOOL; out->i = h & 1; return 0;
	default: return 1;  /* not found */
	}
}

static int user_field(void *arg, const char *field, struct expr_value *out)
{
	(void)arg;
	if (strcmp(field, "team") == 0) {
		out->type = EV_TEXT;
		out->s = "east";
		return 0;
	}
	if (strcmp(field, "id") == 0) {
		out->type = EV_INT;
		out->i = 7;
		return 0;
	}
	return 1;
}

static bool can_read(void *arg, const struct meta_object *object, const struct meta_field *field)
{
	(void)arg;
	(void)object;
	return strcmp(field->name, "secret") != 0;
}

static void ignore_path(void *arg, const char *path)
{
	(void)arg;
	(void)path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	char err[256];

	struct expr_sql b = {
		.meta = &meta, .object = &account, .base_alias = "t0", .me = 7, .now = 1700000000,
		.user_field = user_field, .can_read = can_read,
	};
	struct strbuf sql = {0};
	const struct meta_field *field = NULL;
	expr_compile_path(&b, text, &sql, &field, err, sizeof(err));

	struct expr *e = NULL;
	if (expr_parse(text, &e, err, sizeof(err)) == CRM_OK) {
		expr_each_path(e, ignore_path, NULL);
		expr_check(e, &meta, &account, err, sizeof(err));
		struct expr_env env = { .lookup = lookup, .user_field = user_field, .me = 7, .now = 1700000000 };
		struct expr_value value;
		if (expr_eval(e, &env, &value, err, sizeof(err)) == CRM_OK) {
			expr_truthy(&value);
			expr_value_clear(&value);
		}
		/* twice into one builder: the second reuses joins, and a failure must roll back cleanly */
		expr_compile(&b, e, &sql, err, sizeof(err));
		expr_compile(&b, e, &sql, err, sizeof(err));
		expr_free(e);
	}
	strbuf_free(&sql);
	expr_sql_free(&b);
	free(text);
	return 0;
}
