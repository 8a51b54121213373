/*
 * test_expr.c - the expression language: parsing and its limits, evaluation
 * in C, compilation to SQL, and above all the agreement of the two: for
 * every filter, the rows SQLite selects with the compiled SQL are exactly
 * the rows expr_eval calls true (test_sql_and_c_select_the_same_rows).
 *
 * The metadata is built by hand here so that these tests do not depend on
 * the YAML loader. sqlite3.h is used only by this test, as the oracle.
 */
#include <math.h>
#include <sqlite3.h>
#include <time.h>
#include "expr.h"
#include "meta.h"
#include "store_internal.h"   /* store_register_functions: the SQL functions compiled SQL calls */
#include "test.h"

/* ---- hand-built metadata ------------------------------------------------- */

static struct meta_field user_fields[] = {
	{ .name = "id", .type = FIELD_INT, .system = true },
	{ .name = "name", .type = FIELD_TEXT },
	{ .name = "team", .type = FIELD_TEXT },
};

static struct meta_field account_fields[] = {
	{ .name = "id", .type = FIELD_INT, .system = true },
	{ .name = "name", .type = FIELD_TEXT },
	{ .name = "industry", .type = FIELD_ENUM },
	{ .name = "annual_revenue", .type = FIELD_MONEY },
	{ .name = "owner", .type = FIELD_USER, .to = "user" },    /* target left NULL: no user object */
	{ .name = "parent", .type = FIELD_REF, .to = "account" },
	{ .name = "is_active", .type = FIELD_BOOL },
	{ .name = "secret", .type = FIELD_TEXT },
};

static struct meta_field opportunity_fields[] = {
	{ .name = "id", .type = FIELD_INT, .system = true },
	{ .name = "name", .type = FIELD_TEXT },
	{ .name = "amount", .type = FIELD_MONEY },
	{ .name = "probability", .type = FIELD_PERCENT },
	{ .name = "stage", .type = FIELD_ENUM },
	{ .name = "close_date", .type = FIELD_DATE },
	{ .name = "account", .type = FIELD_REF, .to = "account" },
	{ .name = "expected", .type = FIELD_FORMULA, .formula = "amount * probability / 100",
	  .result_type = FIELD_MONEY, .scale = 2 },
	{ .name = "owner", .type = FIELD_USER, .to = "user" },
	{ .name = "closed", .type = FIELD_BOOL },
	{ .name = "quantity", .type = FIELD_INT },
	/* a formula over a formula and a ref path */
	{ .name = "label", .type = FIELD_FORMULA, .formula = "if(expected > 1000, account.name, name)",
	  .result_type = FIELD_TEXT },
	/* reads a field the caller may not read: only the formula field itself is checked */
	{ .name = "leak", .type = FIELD_FORMULA, .formula = "account.secret", .result_type = FIELD_TEXT },
	/* date arithmetic in a formula, inlined in SQL, evaluated in C as expr_check typed it */
	{ .name = "follow_up", .type = FIELD_FORMULA, .formula = "close_date + 14", .result_type = FIELD_DATE },
};

/* One row of values per object, to test the text forms of numbers and text-number comparison. */
static struct meta_field sample_fields[] = {
	{ .name = "id", .type = FIELD_INT, .system = true },
	{ .name = "x", .type = FIELD_DECIMAL },
	{ .name = "t", .type = FIELD_TEXT },
	{ .name = "d", .type = FIELD_DATETIME },
	{ .name = "day", .type = FIELD_DATE },     /* the same texts as d, typed as a date */
	{ .name = "k", .type = FIELD_INT },        /* days or months to add: small, negative, huge */
};

/* Every sample date against every other one, typed as dates. */
static struct meta_field pair_fields[] = {
	{ .name = "id", .type = FIELD_INT, .system = true },
	{ .name = "a", .type = FIELD_DATE },
	{ .name = "b", .type = FIELD_DATE },
};

/* The fields of record[] below, typed, so that expr_check can type what typed_repr evaluates. */
static struct meta_field record_fields[] = {
	{ .name = "id", .type = FIELD_INT, .system = true },
	{ .name = "t", .type = FIELD_BOOL },
	{ .name = "f", .type = FIELD_BOOL },
	{ .name = "n", .type = FIELD_INT },
	{ .name = "i", .type = FIELD_INT },
	{ .name = "r", .type = FIELD_DECIMAL },
	{ .name = "s", .type = FIELD_TEXT },
	{ .name = "big", .type = FIELD_INT },
	{ .name = "small", .type = FIELD_INT },
	{ .name = "d", .type = FIELD_DATE },
	{ .name = "at", .type = FIELD_DATETIME },
	{ .name = "u", .type = FIELD_TEXT },
};

/* Points: a geo field, two number fields for point(lat, lng), a ref to another place. */
static struct meta_field place_fields[] = {
	{ .name = "id", .type = FIELD_INT, .system = true },
	{ .name = "name", .type = FIELD_TEXT },
	{ .name = "at", .type = FIELD_GEO },
	{ .name = "lat", .type = FIELD_DECIMAL },
	{ .name = "lng", .type = FIELD_DECIMAL },
	{ .name = "near", .type = FIELD_REF, .to = "place" },
};

/* Many random points, where the box of within() meets the poles and the date line. */
static struct meta_field spot_fields[] = {
	{ .name = "id", .type = FIELD_INT, .system = true },
	{ .name = "p", .type = FIELD_GEO },
};

#define COUNT(array) ((int)(sizeof(array) / sizeof((array)[0])))

static struct meta_object objects[] = {
	{ .name = "user", .field_count = COUNT(user_fields), .fields = user_fields },
	{ .name = "account", .field_count = COUNT(account_fields), .fields = account_fields },
	{ .name = "opportunity", .field_count = COUNT(opportunity_fields), .fields = opportunity_fields },
	{ .name = "sample", .field_count = COUNT(sample_fields), .fields = sample_fields },
	{ .name = "pair", .field_count = COUNT(pair_fields), .fields = pair_fields },
	{ .name = "rec", .field_count = COUNT(record_fields), .fields = record_fields },
	{ .name = "place", .field_count = COUNT(place_fields), .fields = place_fields },
	{ .name = "spot", .field_count = COUNT(spot_fields), .fields = spot_fields },
};
static struct meta test_meta = { .object_count = COUNT(objects), .objects = objects };

#define USER (&objects[0])
#define ACCOUNT (&objects[1])
#define OPPORTUNITY (&objects[2])
#define SAMPLE (&objects[3])
#define PAIR (&objects[4])
#define RECORD (&objects[5])
#define PLACE (&objects[6])
#define SPOT (&objects[7])

static struct meta_field *field_named(struct meta_object *object, const char *name)
{
	for (int i = 0; i < object->field_count; i++) {
		if (strcmp(object->fields[i].name, name) == 0)
			return &object->fields[i];
	}
	return NULL;
}

/* Resolves targets and parses formulas once, as the loader would. */
static void meta_setup(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	field_named(ACCOUNT, "parent")->target = ACCOUNT;
	field_named(OPPORTUNITY, "account")->target = ACCOUNT;
	field_named(OPPORTUNITY, "owner")->target = USER;
	field_named(PLACE, "near")->target = PLACE;
	for (int o = 0; o < COUNT(objects); o++) {
		for (int i = 0; i < objects[o].field_count; i++) {
			struct meta_field *f = &objects[o].fields[i];
			char err[256];
			if (f->formula && expr_parse(f->formula, &f->formula_expr, err, sizeof(err)) != CRM_OK) {
				fprintf(stderr, "formula %s: %s\n", f->name, err);
				abort();
			}
		}
	}
	for (int o = 0; o < COUNT(objects); o++) {
		for (int i = 0; i < objects[o].field_count; i++) {
			struct meta_field *f = &objects[o].fields[i];
			char err[256];
			if (f->formula_expr && expr_check(f->formula_expr, &test_meta, &objects[o], err, sizeof(err)) != CRM_OK) {
				fprintf(stderr, "formula %s: %s\n", f->name, err);
				abort();
			}
		}
	}
}

/* 2024-05-10T12:34:56Z */
static time_t fixed_now(void)
{
	struct tm tm = { .tm_year = 124, .tm_mon = 4, .tm_mday = 10, .tm_hour = 12, .tm_min = 34, .tm_sec = 56 };
	return timegm(&tm);
}

/* ---- evaluating against a small record --------------------------------- */

struct record_field {
	const char *name;
	struct expr_value value;
};

static struct record_field record[] = {
	{ "t", { .type = EV_BOOL, .i = 1 } },
	{ "f", { .type = EV_BOOL, .i = 0 } },
	{ "n", { .type = EV_NULL } },
	{ "i", { .type = EV_INT, .i = 7 } },
	{ "r", { .type = EV_REAL, .r = 2.5 } },
	{ "s", { .type = EV_TEXT, .s = "abc" } },
	{ "big", { .type = EV_INT, .i = INT64_MAX } },
	{ "small", { .type = EV_INT, .i = INT64_MIN } },
	{ "account.industry", { .type = EV_TEXT, .s = "tech" } },
	{ "d", { .type = EV_TEXT, .s = "2024-05-01" } },
	{ "at", { .type = EV_TEXT, .s = "2024-05-01T10:30:00Z" } },
	{ "u", { .type = EV_TEXT, .s = "héllo wörld" } },
};

static int record_lookup(void *arg, const char *path, struct expr_value *out)
{
	(void)arg;
	for (int i = 0; i < COUNT(record); i++) {
		if (strcmp(record[i].name, path) == 0) {
			*out = record[i].value;
			return 0;
		}
	}
	return 1;
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
		out->i = 42;
		return 0;
	}
	return 1;
}

/* A printable form of a value: "null", "true", "int:7", "real:2.5", "text:abc". */
static void describe(const struct expr_value *v, char *out, size_t size)
{
	switch (v->type) {
	case EV_NULL: snprintf(out, size, "null"); break;
	case EV_BOOL: snprintf(out, size, "%s", v->i ? "true" : "false"); break;
	case EV_INT: snprintf(out, size, "int:%" PRId64, v->i); break;
	case EV_REAL: snprintf(out, size, "real:%.17g", v->r); break;
	case EV_TEXT: snprintf(out, size, "text:%s", v->s); break;
	}
}

/* Parses and evaluates text; returns the described result or "error:<message>". */
static const char *eval_repr(const char *text)
{
	static char results[8][512];
	static int next;
	char *out = results[next++ % 8];
	char err[256];
	struct expr *e;
	if (expr_parse(text, &e, err, sizeof(err)) != CRM_OK) {
		snprintf(out, 512, "error:%s", err);
		return out;
	}
	struct expr_env env = { .lookup = record_lookup, .user_field = user_field, .me = 42, .now = fixed_now() };
	struct expr_value v;
	if (expr_eval(e, &env, &v, err, sizeof(err)) != CRM_OK) {
		snprintf(out, 512, "error:%s", err);
	} else {
		describe(&v, out, 512);
		expr_value_clear(&v);
	}
	expr_free(e);
	return out;
}

/* As eval_repr, once expr_check has typed text over the fields of record[] (the RECORD object). */
static const char *typed_repr(const char *text)
{
	static char results[8][512];
	static int next;
	char *out = results[next++ % 8];
	char err[256];
	struct expr *e;
	meta_setup();
	if (expr_parse(text, &e, err, sizeof(err)) != CRM_OK) {
		snprintf(out, 512, "error:%s", err);
		return out;
	}
	if (expr_check(e, &test_meta, RECORD, err, sizeof(err)) != CRM_OK) {
		snprintf(out, 512, "error:%s", err);
		expr_free(e);
		return out;
	}
	struct expr_env env = { .lookup = record_lookup, .user_field = user_field, .me = 42, .now = fixed_now() };
	struct expr_value v;
	if (expr_eval(e, &env, &v, err, sizeof(err)) != CRM_OK) {
		snprintf(out, 512, "error:%s", err);
	} else {
		describe(&v, out, 512);
		expr_value_clear(&v);
	}
	expr_free(e);
	return out;
}

/* The parse error of text, or "" if it parses. */
static const char *parse_error(const char *text)
{
	static char err[8][256];
	static int next;
	char *out = err[next++ % 8];
	struct expr *e;
	if (expr_parse(text, &e, out, 256) == CRM_OK) {
		expr_free(e);
		return "";
	}
	return out;
}

/* ---- compiling ------------------------------------------------------------- */

static bool refuse_secret(void *arg, const struct meta_object *object, const struct meta_field *field)
{
	(void)arg;
	(void)object;
	return strcmp(field->name, "secret") != 0;
}

static void builder_init(struct expr_sql *b, const struct meta_object *object)
{
	meta_setup();
	memset(b, 0, sizeof(*b));
	b->meta = &test_meta;
	b->object = object;
	b->base_alias = "t0";
	b->me = 42;
	b->now = fixed_now();
	b->user_field = user_field;
	b->can_read = refuse_secret;
}

/* "SQL | joins | bind, bind" for text compiled on opportunity, or "error:<message>". */
static const char *compile_repr(const char *text)
{
	static char results[8][2048];
	static int next;
	char *out = results[next++ % 8];
	char err[256];
	struct expr *e;
	if (expr_parse(text, &e, err, sizeof(err)) != CRM_OK) {
		snprintf(out, 2048, "error:%s", err);
		return out;
	}
	struct expr_sql b;
	builder_init(&b, OPPORTUNITY);
	struct strbuf sql = {0};
	if (expr_compile(&b, e, &sql, err, sizeof(err)) != CRM_OK) {
		snprintf(out, 2048, "error:%s", err);
	} else {
		struct strbuf text_out = {0};
		strbuf_printf(&text_out, "%s |%s |", sql.data, b.joins.data ? b.joins.data : "");
		for (int i = 0; i < b.bind_count; i++) {
			char value[256];
			describe(&b.binds[i], value, sizeof(value));
			strbuf_printf(&text_out, "%s %s", i ? "," : "", value);
		}
		snprintf(out, 2048, "%s", text_out.data);
		strbuf_free(&text_out);
	}
	strbuf_free(&sql);
	expr_sql_free(&b);
	expr_free(e);
	return out;
}

/* ---- parsing ----------------------------------------------------------------- */

static void test_every_operator_and_function_parses(void)
{
	const char *texts[] = {
		"a or b", "a and b", "not a", "a = 1", "a != 1", "a <> 1", "a < 1", "a <= 1", "a > 1", "a >= 1",
		"a like 'x%'", "a not like 'x%'", "a in (1, 2)", "a not in ('x', null, $me, $user.team)",
		"a is null", "a is not null", "a || 'x'", "a + 1", "a - 1", "a * 2", "a / 2", "a % 2", "-a",
		"today()", "now()", "days_between(a, b)", "if(a, 1, 2)", "lower(a)", "upper(a)", "len(a)",
		"coalesce(a, 0)", "$me", "$user.team", "account.industry", "true", "false", "null", "1.5", ".5",
		"1e3", "2.5E-3", "'it''s'", "'tab\there'", "'ünïcødé 商机'", "x in (-1, -2.5)", "  a\n=\r\n1\t",
	};
	for (int i = 0; i < COUNT(texts); i++) {
		const char *err = parse_error(texts[i]);
		if (*err)
			fprintf(stderr, "  %s: %s\n", texts[i], err);
		ASSERT_STR_EQ(err, "");
	}
}

static void test_keywords_and_functions_are_case_insensitive(void)
{
	ASSERT_STR_EQ(eval_repr("t AND NOT f OR n IS NULL"), "true");
	ASSERT_STR_EQ(eval_repr("s LIKE 'A%' And i In (7) aNd n Is Not Null"), "false");
	ASSERT_STR_EQ(eval_repr("LOWER('AbC') = 'abc' and TRUE and not FALSE"), "true");
	ASSERT_STR_EQ(eval_repr("NULL"), "null");
}

static void test_precedence_follows_the_grammar(void)
{
	ASSERT_STR_EQ(eval_repr("1 + 2 * 3"), "int:7");
	ASSERT_STR_EQ(eval_repr("(1 + 2) * 3"), "int:9");
	ASSERT_STR_EQ(eval_repr("10 - 2 - 3"), "int:5");
	ASSERT_STR_EQ(eval_repr("100 / 10 / 5"), "int:2");
	ASSERT_STR_EQ(eval_repr("2 * 7 % 4"), "int:2");
	ASSERT_STR_EQ(eval_repr("-2 * 3"), "int:-6");
	ASSERT_STR_EQ(eval_repr("- i + 1"), "int:-6");
	ASSERT_STR_EQ(eval_repr("1 + 2 || 'x'"), "text:3x");
	ASSERT_STR_EQ(eval_repr("'a' || 'b' = 'ab'"), "true");
	/* a or (b and c); not binds tighter than and */
	ASSERT_STR_EQ(eval_repr("t or f and f"), "true");
	ASSERT_STR_EQ(eval_repr("(t or f) and f"), "false");
	ASSERT_STR_EQ(eval_repr("not f and f"), "false");
	ASSERT_STR_EQ(eval_repr("not i = 7"), "false");
	ASSERT_STR_EQ(compile_repr("closed or amount > 1 and quantity < 2"),
		"(t0.\"closed\" OR ((t0.\"amount\" > ?1) AND (t0.\"quantity\" < ?2))) | | int:1, int:2");
}

static void test_parse_errors_name_the_column(void)
{
	ASSERT_STR_EQ(parse_error("name = 'abc"), "column 8: unterminated string near ''abc'");
	ASSERT_STR_EQ(parse_error("frobnicate(1)"), "column 1: unknown function 'frobnicate'");
	ASSERT_STR_EQ(parse_error("x = lower(a, b)"), "column 5: function 'lower' takes 1 argument, not 2");
	ASSERT_STR_EQ(parse_error("if(a, b)"), "column 1: function 'if' takes 3 arguments, not 2");
	ASSERT_STR_EQ(parse_error("today(1)"), "column 1: function 'today' takes 0 arguments, not 1");
	ASSERT_STR_EQ(parse_error("amount > 5 abc"), "column 12: expected end of expression near 'abc'");
	ASSERT_STR_EQ(parse_error("a = 1 = 2"), "column 7: expected end of expression near '='");
	ASSERT_STR_EQ(parse_error(""), "column 1: expected an expression at end of input");
	ASSERT_STR_EQ(parse_error("   "), "column 4: expected an expression at end of input");
	ASSERT_STR_EQ(parse_error("(a = 1"), "column 7: expected ')' at end of input");
	ASSERT_STR_EQ(parse_error("a in ()"), "column 7: expected a value (a literal, $me or $user.<field>) near ')'");
	ASSERT_STR_EQ(parse_error("a in (b)"), "column 7: expected a value (a literal, $me or $user.<field>) near 'b'");
	ASSERT_STR_EQ(parse_error("a is 1"), "column 6: expected 'null' after 'is' near '1'");
	ASSERT_STR_EQ(parse_error("a not = 1"), "column 7: expected 'like' or 'in' after 'not' near '='");
	ASSERT_STR_EQ(parse_error("99999999999999999999 > 1"), "column 1: integer out of range near '99999999999999999999'");
	ASSERT_STR_EQ(parse_error("1e999"), "column 1: number out of range near '1e999'");
	ASSERT_STR_EQ(parse_error("12abc"), "column 1: invalid number near '12abc'");
	ASSERT_STR_EQ(parse_error("Amount > 1"), "column 1: invalid name 'Amount': field names are lower case");
	ASSERT_STR_EQ(parse_error("$who = 1"), "column 1: unknown variable near '$who' (there are $me and $user.<field>)");
	ASSERT_STR_EQ(parse_error("$user.a.b"), "column 1: expected one lower-case field name after '$user.' near '$user.a.b'");
	ASSERT_STR_EQ(parse_error("a == 1"), "column 4: expected an expression near '='");
	ASSERT_STR_EQ(parse_error("a ! b"), "column 3: unexpected character near '!'");
	/* columns count characters, not bytes */
	ASSERT_STR_EQ(parse_error("'商机' = x y"), "column 10: expected end of expression near 'y'");
}

static void test_strings_refuse_control_characters_and_invalid_utf8(void)
{
	ASSERT_STR_EQ(parse_error("name = 'a\001b'"), "column 10: control character 0x01 in string");
	ASSERT_STR_EQ(parse_error("name = 'a\nb'"), "column 10: control character 0x0a in string");
	ASSERT_STR_EQ(parse_error("name = 'a\x7f'"), "column 10: control character 0x7f in string");
	ASSERT_STR_EQ(parse_error("name = 'a\xc2\x85'"), "column 10: control character in string");
	ASSERT_STR_EQ(parse_error("name = 'a\xff'"), "column 10: invalid UTF-8 in string");
	ASSERT_STR_EQ(parse_error("name = 'a\xc3'"), "column 10: invalid UTF-8 in string");
	ASSERT_STR_EQ(parse_error("name = '\xc0\xaf'"), "column 9: invalid UTF-8 in string");      /* overlong '/' */
	ASSERT_STR_EQ(parse_error("name = '\xed\xa0\x80'"), "column 9: invalid UTF-8 in string");  /* surrogate */
	ASSERT_STR_EQ(parse_error("name = '\xf4\x90\x80\x80'"), "column 9: invalid UTF-8 in string"); /* > U+10FFFF */
	ASSERT_STR_EQ(parse_error("name = 'a\tb'"), "");
	/* outside strings only ASCII is allowed; the message never echoes raw bytes */
	ASSERT_STR_EQ(parse_error("name = \xff"), "column 8: unexpected character near '?'");
	ASSERT_STR_EQ(eval_repr("'it''s' || ''''"), "text:it's'");
}

static char *repeat(const char *piece, int count, const char *tail)
{
	struct strbuf sb = {0};
	for (int i = 0; i < count; i++)
		strbuf_puts(&sb, piece);
	strbuf_puts(&sb, tail);
	return strbuf_detach(&sb);
}

static void test_deep_nesting_is_refused_not_a_crash(void)
{
	char *text = repeat("(", 10000, "1");
	ASSERT_CONTAINS(parse_error(text), "expression nested too deeply: more than 64 levels");
	free(text);
	text = repeat("not ", 10000, "t");
	ASSERT_CONTAINS(parse_error(text), "expression nested too deeply");
	free(text);
	text = repeat("- ", 10000, "1");
	ASSERT_CONTAINS(parse_error(text), "expression nested too deeply");
	free(text);
	text = repeat("lower(", 10000, "1");
	ASSERT_CONTAINS(parse_error(text), "expression nested too deeply");
	free(text);
	/* a left-deep chain is nesting too: its evaluation would recurse as deep */
	text = repeat("1 + ", 100, "1");
	ASSERT_CONTAINS(parse_error(text), "expression nested too deeply");
	free(text);
	text = repeat("(", 30, "1");
	char *closed = repeat(")", 30, "");
	struct strbuf sb = {0};
	strbuf_printf(&sb, "%s%s + 1 = 2", text, closed);
	ASSERT_STR_EQ(eval_repr(sb.data), "true");
	strbuf_free(&sb);
	free(text);
	free(closed);
	ASSERT_STR_EQ(eval_repr("- - - - 5"), "int:5");
	ASSERT_STR_EQ(eval_repr("not not not not t"), "true");
}

static void test_ten_thousand_or_terms_are_refused(void)
{
	char *text = repeat("t or ", 9999, "t");
	ASSERT_CONTAINS(parse_error(text), "expression too large: more than 2000 terms");
	free(text);
	/* or chains are n-ary: a few hundred terms neither nest deeply nor hit a limit */
	text = repeat("i = 1 or ", 400, "i = 7");
	ASSERT_STR_EQ(eval_repr(text), "true");
	free(text);
}

static void test_in_lists_are_capped_at_500_values(void)
{
	char *text = repeat("1, ", 499, "7)");
	struct strbuf sb = {0};
	strbuf_printf(&sb, "i in (%s", text);
	ASSERT_STR_EQ(eval_repr(sb.data), "true");
	free(text);
	strbuf_reset(&sb);
	text = repeat("1, ", 500, "7)");
	strbuf_printf(&sb, "i in (%s", text);
	ASSERT_CONTAINS(parse_error(sb.data), "too many values in 'in' list: more than 500");
	free(text);
	strbuf_free(&sb);
}

static void test_overlong_source_and_names_are_refused(void)
{
	char *text = repeat(" ", EXPR_MAX_LENGTH, "1");
	ASSERT_STR_EQ(parse_error(text), "column 1: expression too long: more than 65536 bytes");
	free(text);
	text = repeat("a", 64, " = 1");
	ASSERT_CONTAINS(parse_error(text), "name too long: more than 63 characters");
	free(text);
	ASSERT_STR_EQ(parse_error("a.b.c.d.e.f = 1"), "column 1: path too long: more than 4 links near 'a.b.c.d.e.f'");
	ASSERT_STR_EQ(parse_error("a.b.c.d.e = 1"), "");
	ASSERT_STR_EQ(parse_error(NULL), "column 1: no expression");
}

static void collect_path(void *arg, const char *path)
{
	struct strbuf *sb = arg;
	strbuf_printf(sb, "%s;", path);
}

static void test_each_path_visits_every_field_path(void)
{
	struct expr *e;
	char err[256];
	ASSERT_EQ(expr_parse("amount > 1 and account.industry in ('x', $user.team) or lower(name) = $me",
	                     &e, err, sizeof(err)), CRM_OK);
	struct strbuf sb = {0};
	expr_each_path(e, collect_path, &sb);
	ASSERT_STR_EQ(sb.data, "amount;account.industry;name;");
	strbuf_free(&sb);
	expr_free(e);
}

/* ---- evaluation -------------------------------------------------------- */

static void test_three_valued_logic_matches_sql(void)
{
	/* and */
	ASSERT_STR_EQ(eval_repr("t and t"), "true");
	ASSERT_STR_EQ(eval_repr("t and f"), "false");
	ASSERT_STR_EQ(eval_repr("t and n"), "null");
	ASSERT_STR_EQ(eval_repr("f and n"), "false");
	ASSERT_STR_EQ(eval_repr("n and f"), "false");
	ASSERT_STR_EQ(eval_repr("n and n"), "null");
	/* or */
	ASSERT_STR_EQ(eval_repr("f or f"), "false");
	ASSERT_STR_EQ(eval_repr("t or n"), "true");
	ASSERT_STR_EQ(eval_repr("n or t"), "true");
	ASSERT_STR_EQ(eval_repr("f or n"), "null");
	ASSERT_STR_EQ(eval_repr("n or n"), "null");
	/* not */
	ASSERT_STR_EQ(eval_repr("not t"), "false");
	ASSERT_STR_EQ(eval_repr("not n"), "null");
	/* comparisons with null are unknown, is null is not; `x = null` is read as `x is null` (SOQL) */
	ASSERT_STR_EQ(eval_repr("n = null"), "true");
	ASSERT_STR_EQ(eval_repr("i = null"), "false");
	ASSERT_STR_EQ(eval_repr("i != null"), "true");
	ASSERT_STR_EQ(eval_repr("i != n"), "null");
	ASSERT_STR_EQ(eval_repr("n is null"), "true");
	ASSERT_STR_EQ(eval_repr("i is not null"), "true");
	ASSERT_STR_EQ(eval_repr("n like '%'"), "null");
	ASSERT_STR_EQ(eval_repr("i in (1, null)"), "null");
	ASSERT_STR_EQ(eval_repr("i in (7, null)"), "true");
	ASSERT_STR_EQ(eval_repr("i not in (1, null)"), "null");
	ASSERT_STR_EQ(eval_repr("i not in (1, 2)"), "true");
	ASSERT_STR_EQ(eval_repr("n in (1)"), "null");
	/* numbers as conditions; text is not a condition */
	ASSERT_STR_EQ(eval_repr("i and r"), "true");
	ASSERT_STR_EQ(eval_repr("0 or 0.0"), "false");
	ASSERT_STR_EQ(eval_repr("s and t"), "error:column 1: expected a condition, not text");
}

static void test_truthy_is_true_only_for_true_or_nonzero_numbers(void)
{
	struct expr_value v = { .type = EV_BOOL, .i = 1 };
	ASSERT(expr_truthy(&v));
	v.i = 0;
	ASSERT(!expr_truthy(&v));
	v.type = EV_NULL;
	ASSERT(!expr_truthy(&v));
	v.type = EV_TEXT;
	v.s = "true";
	ASSERT(!expr_truthy(&v));
	v.type = EV_REAL;
	v.r = 0.5;
	ASSERT(expr_truthy(&v));
}

static void test_comparison_rules(void)
{
	ASSERT_STR_EQ(eval_repr("i = 7.0"), "true");
	ASSERT_STR_EQ(eval_repr("r < 3"), "true");
	ASSERT_STR_EQ(eval_repr("9007199254740993 > 9007199254740992.0"), "true");  /* exact int/real order */
	ASSERT_STR_EQ(eval_repr("big > 9.2e18"), "true");
	ASSERT_STR_EQ(eval_repr("t = 1 and f = 0 and t > f"), "true");
	ASSERT_STR_EQ(eval_repr("'abc' < 'abd' and 'B' < 'a'"), "true");        /* bytewise */
	/* text against a number: numeric text compares as a number ... */
	ASSERT_STR_EQ(eval_repr("'10' > 9"), "true");
	ASSERT_STR_EQ(eval_repr("' 5.0 ' = 5"), "true");
	ASSERT_STR_EQ(eval_repr("'1e2' = 100"), "true");
	/* ... other text sorts after every number */
	ASSERT_STR_EQ(eval_repr("s > 1000000"), "true");
	ASSERT_STR_EQ(eval_repr("'5abc' = 5"), "false");
	ASSERT_STR_EQ(eval_repr("'' > -1"), "true");
	ASSERT_STR_EQ(eval_repr("s in (1, 'abc')"), "true");
}

static void test_arithmetic_keeps_integers_and_checks_overflow(void)
{
	ASSERT_STR_EQ(eval_repr("i + 1"), "int:8");
	ASSERT_STR_EQ(eval_repr("i * r"), "real:17.5");
	ASSERT_STR_EQ(eval_repr("6 / 3"), "int:2");
	ASSERT_STR_EQ(eval_repr("7 / 2"), "real:3.5");
	ASSERT_STR_EQ(eval_repr("-7 / 2"), "real:-3.5");
	ASSERT_STR_EQ(eval_repr("7.0 / 2"), "real:3.5");
	ASSERT_STR_EQ(eval_repr("7 % 3"), "int:1");
	ASSERT_STR_EQ(eval_repr("-7 % 3"), "int:-1");
	ASSERT_STR_EQ(eval_repr("small % -1"), "int:0");
	ASSERT_STR_EQ(eval_repr("t + t"), "int:2");
	ASSERT_STR_EQ(eval_repr("n + 1"), "null");
	ASSERT_STR_EQ(eval_repr("big + 1"), "error:column 5: integer overflow in '+'");
	ASSERT_STR_EQ(eval_repr("small - 1"), "error:column 7: integer overflow in '-'");
	ASSERT_STR_EQ(eval_repr("big * 2"), "error:column 5: integer overflow in '*'");
	ASSERT_STR_EQ(eval_repr("small / -1"), "error:column 7: integer overflow in '/'");
	ASSERT_STR_EQ(eval_repr("-small"), "error:column 1: integer overflow in '-'");
	ASSERT_STR_EQ(eval_repr("-9223372036854775807 - 1"), "int:-9223372036854775808");
	ASSERT_STR_EQ(eval_repr("s + 1"), "error:column 3: operator '+' needs numbers, not text");
	ASSERT_STR_EQ(eval_repr("-s"), "error:column 1: operator '-' needs numbers, not text");
	ASSERT_STR_EQ(eval_repr("r % 2"), "error:column 3: operator '%' needs integers");
}

static void test_division_by_zero_is_null(void)
{
	ASSERT_STR_EQ(eval_repr("1 / 0"), "null");
	ASSERT_STR_EQ(eval_repr("1.5 / 0"), "null");
	ASSERT_STR_EQ(eval_repr("1 / 0.0"), "null");
	ASSERT_STR_EQ(eval_repr("7 % 0"), "null");
	ASSERT_STR_EQ(eval_repr("(1 / 0) is null"), "true");
}

static void test_like_matches_wildcards_without_case(void)
{
	ASSERT_STR_EQ(eval_repr("'Acme Corp' like 'acme%'"), "true");
	ASSERT_STR_EQ(eval_repr("'Acme Corp' like '%CORP'"), "true");
	ASSERT_STR_EQ(eval_repr("'Acme' like 'A_me'"), "true");
	ASSERT_STR_EQ(eval_repr("'Acme' like 'A_e'"), "false");
	ASSERT_STR_EQ(eval_repr("'Acme' like '%'"), "true");
	ASSERT_STR_EQ(eval_repr("'' like '%'"), "true");
	ASSERT_STR_EQ(eval_repr("'' like '_'"), "false");
	ASSERT_STR_EQ(eval_repr("'abcabc' like '%b_a%c'"), "true");
	ASSERT_STR_EQ(eval_repr("'商机' like '_机'"), "true");        /* _ is one character, not one byte */
	ASSERT_STR_EQ(eval_repr("'É' like 'é'"), "false");          /* case folding is ASCII only, as in SQLite */
	ASSERT_STR_EQ(eval_repr("'Acme' not like 'b%'"), "true");
	ASSERT_STR_EQ(eval_repr("i like '7'"), "true");
	ASSERT_STR_EQ(eval_repr("r like '2.5'"), "true");
}

static void test_pathological_like_pattern_finishes_quickly(void)
{
	char *subject = repeat("a", 5000, "");
	struct strbuf sb = {0};
	strbuf_printf(&sb, "'%s' like '%%a%%a%%a%%a%%a%%a%%a%%a%%b'", subject);
	clock_t start = clock();
	ASSERT_STR_EQ(eval_repr(sb.data), "false");
	strbuf_reset(&sb);
	strbuf_printf(&sb, "'%s' like '%%a%%a%%a%%a%%a%%a%%a%%a%%_'", subject);
	ASSERT_STR_EQ(eval_repr(sb.data), "true");
	double seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
	ASSERT(seconds < 0.5);
	strbuf_free(&sb);
	free(subject);
}

static void test_like_pattern_over_1000_characters_is_refused(void)
{
	char *pattern = repeat("%", 1001, "");
	struct strbuf sb = {0};
	strbuf_printf(&sb, "s like '%s'", pattern);
	ASSERT_STR_EQ(eval_repr(sb.data), "error:column 3: like pattern too long: more than 1000 characters");
	strbuf_reset(&sb);
	strbuf_printf(&sb, "name like '%s'", pattern);
	ASSERT_STR_EQ(compile_repr(sb.data), "error:column 11: like pattern too long: more than 1000 characters");
	strbuf_free(&sb);
	free(pattern);
}

static void test_days_between_counts_whole_days(void)
{
	ASSERT_STR_EQ(eval_repr("days_between('2024-01-01', '2024-03-01')"), "int:60");
	ASSERT_STR_EQ(eval_repr("days_between('2024-03-01', '2024-01-01')"), "int:-60");
	ASSERT_STR_EQ(eval_repr("days_between(d, today())"), "int:9");
	ASSERT_STR_EQ(eval_repr("days_between('2024-01-01T23:00:00Z', '2024-01-02T01:00:00Z')"), "int:0");
	/* truncated toward zero, like SQLite's CAST(... AS INTEGER) */
	ASSERT_STR_EQ(eval_repr("days_between('2024-01-02T12:00:00Z', '2024-01-01')"), "int:-1");
	ASSERT_STR_EQ(eval_repr("days_between('2024-01-01 10:00+02:00', '2024-01-01 08:00Z')"), "int:0");
	ASSERT_STR_EQ(eval_repr("days_between('nonsense', today())"), "null");
	ASSERT_STR_EQ(eval_repr("days_between(n, today())"), "null");
	ASSERT_STR_EQ(eval_repr("today()"), "text:2024-05-10");
	ASSERT_STR_EQ(eval_repr("now()"), "text:2024-05-10T12:34:56Z");
	ASSERT_STR_EQ(eval_repr("days_between(now(), today())"), "int:0");
}

static void test_if_coalesce_and_text_functions(void)
{
	ASSERT_STR_EQ(eval_repr("if(i > 5, 'big', 'small')"), "text:big");
	ASSERT_STR_EQ(eval_repr("if(n, 1, 2)"), "int:2");              /* unknown is not true */
	ASSERT_STR_EQ(eval_repr("if(t, 1, 1 / 0)"), "int:1");
	ASSERT_STR_EQ(eval_repr("if(t, 1, big + 1)"), "int:1");         /* the other branch is not evaluated */
	ASSERT_STR_EQ(eval_repr("coalesce(n, 'x')"), "text:x");
	ASSERT_STR_EQ(eval_repr("coalesce(i, 'x')"), "int:7");
	ASSERT_STR_EQ(eval_repr("lower('AbC É')"), "text:abc É");
	ASSERT_STR_EQ(eval_repr("upper(s)"), "text:ABC");
	ASSERT_STR_EQ(eval_repr("len('商机')"), "int:2");
	ASSERT_STR_EQ(eval_repr("len(r)"), "int:3");
	ASSERT_STR_EQ(eval_repr("len(n)"), "null");
	ASSERT_STR_EQ(eval_repr("lower(t)"), "text:1");
}

static void test_concat_writes_numbers_as_sqlite_does(void)
{
	ASSERT_STR_EQ(eval_repr("s || '-' || i"), "text:abc-7");
	ASSERT_STR_EQ(eval_repr("r || ''"), "text:2.5");
	ASSERT_STR_EQ(eval_repr("100.0 || ''"), "text:100.0");
	ASSERT_STR_EQ(eval_repr("1e20 || ''"), "text:1.0e+20");
	ASSERT_STR_EQ(eval_repr("s || n"), "null");
}

static void test_date_arithmetic_moves_by_whole_days(void)
{
	ASSERT_STR_EQ(typed_repr("d + 30"), "text:2024-05-31");
	ASSERT_STR_EQ(typed_repr("30 + d"), "text:2024-05-31");
	ASSERT_STR_EQ(typed_repr("d - 1"), "text:2024-04-30");
	ASSERT_STR_EQ(typed_repr("d + 365"), "text:2025-05-01");
	ASSERT_STR_EQ(typed_repr("d + r"), "text:2024-05-03");       /* 2.5 days: truncated toward zero */
	ASSERT_STR_EQ(typed_repr("d - r"), "text:2024-04-29");
	ASSERT_STR_EQ(typed_repr("d - -r"), "text:2024-05-03");
	ASSERT_STR_EQ(typed_repr("d + n"), "null");
	ASSERT_STR_EQ(typed_repr("d + null"), "null");
	ASSERT_STR_EQ(typed_repr("d + big"), "null");                 /* past 9999-12-31 */
	ASSERT_STR_EQ(typed_repr("today() + 30"), "text:2024-06-09");
	ASSERT_STR_EQ(typed_repr("today() - d"), "int:9");            /* days_between(d, today()) */
	ASSERT_STR_EQ(typed_repr("d - today()"), "int:-9");
	ASSERT_STR_EQ(typed_repr("today() - 9 = d"), "true");
	ASSERT_STR_EQ(typed_repr("d + 30 < today() + 30"), "true");
	ASSERT_STR_EQ(typed_repr("(d + 1) - d"), "int:1");
	ASSERT_STR_EQ(typed_repr("'2024-02-28' < coalesce(d, today()) - 60"), "true");
	ASSERT_STR_EQ(typed_repr("if(t, d, today()) + 1"), "text:2024-05-02");
	/* expr_check is what tells the evaluator that d is a date: unchecked, d is text */
	ASSERT_STR_EQ(eval_repr("d + 1"), "error:column 3: operator '+' needs numbers, not text");
	/* and in SQL */
	ASSERT_STR_EQ(compile_repr("close_date + 30"), "date(julianday(t0.\"close_date\") + ?1) | | int:30");
	ASSERT_STR_EQ(compile_repr("close_date - probability"),
		"date(julianday(t0.\"close_date\") - CAST(t0.\"probability\" AS INTEGER)) | |");
	ASSERT_STR_EQ(compile_repr("today() - close_date"),
		"CAST(julianday(?1) - julianday(t0.\"close_date\") AS INTEGER) | | text:2024-05-10");
}

static void test_date_arithmetic_type_errors_name_the_column(void)
{
	ASSERT_STR_EQ(compile_repr("close_date * 2"), "error:column 12: operator '*' cannot take a date (a date only adds "
	              "or subtracts days: date + 30, date - 30, date - date)");
	ASSERT_STR_EQ(compile_repr("close_date / 2 > 1"), "error:column 12: operator '/' cannot take a date (a date only "
	              "adds or subtracts days: date + 30, date - 30, date - date)");
	ASSERT_STR_EQ(compile_repr("close_date + 'x'"),
	              "error:column 12: operator '+' needs a number of days beside a date, not text");
	ASSERT_STR_EQ(compile_repr("close_date - '2024-01-01'"),
	              "error:column 12: operator '-' needs a number of days beside a date, not text");
	ASSERT_STR_EQ(compile_repr("close_date + name"),
	              "error:column 12: operator '+' needs a number of days beside a date, not text");
	ASSERT_STR_EQ(compile_repr("close_date + close_date"),
	              "error:column 12: operator '+' cannot add two dates (date - date gives the days between them)");
	ASSERT_STR_EQ(compile_repr("1 - close_date"), "error:column 3: operator '-' cannot subtract a date from a number");
	ASSERT_STR_EQ(compile_repr("now() + 1"), "error:column 7: operator '+' cannot take a datetime (add_days gives a "
	              "date n days later; days_between and hours_between the time between two)");
	ASSERT_STR_EQ(compile_repr("close_date - now()"), "error:column 12: operator '-' cannot take a datetime (add_days "
	              "gives a date n days later; days_between and hours_between the time between two)");
	ASSERT_STR_EQ(compile_repr("-close_date"), "error:column 1: operator '-' needs numbers, not a date");
	ASSERT_STR_EQ(compile_repr("close_date and closed"), "error:column 1: expected a condition, not a date");
	ASSERT_STR_EQ(compile_repr("amount > 1 and (close_date % 7) = 0"), "error:column 28: operator '%' cannot take a "
	              "date (a date only adds or subtracts days: date + 30, date - 30, date - date)");
	/* the loader's checker says the same, with the column */
	ASSERT_STR_EQ(typed_repr("at - 1"), "error:column 4: operator '-' cannot take a datetime (add_days gives a date "
	              "n days later; days_between and hours_between the time between two)");
	ASSERT_STR_EQ(typed_repr("i * (d + 1)"), "error:column 3: operator '*' cannot take a date (a date only adds or "
	              "subtracts days: date + 30, date - 30, date - date)");
}

static void test_function_type_errors_name_the_column(void)
{
	/* literals the parser checks */
	const char *places = "function 'round' takes its places as a whole number from 0 to 9, as in round(amount, 2)";
	char expected[256];
	snprintf(expected, sizeof(expected), "column 15: %s", places);
	ASSERT_STR_EQ(parse_error("round(amount, 10)"), expected);
	snprintf(expected, sizeof(expected), "column 16: %s", places);  /* -1 is one literal, at its digits */
	ASSERT_STR_EQ(parse_error("round(amount, -1)"), expected);
	snprintf(expected, sizeof(expected), "column 15: %s", places);
	ASSERT_STR_EQ(parse_error("round(amount, 2.0)"), expected);
	ASSERT_STR_EQ(parse_error("round(amount, quantity)"), expected);
	ASSERT_STR_EQ(parse_error("round(amount)"), "column 1: function 'round' takes 2 arguments, not 1");
	ASSERT_STR_EQ(parse_error("date_trunc('week', close_date)"), "column 12: function 'date_trunc' takes 'month', "
	              "'quarter' or 'year' first, as in date_trunc('month', close_date)");
	ASSERT_STR_EQ(parse_error("x = date_trunc(stage, close_date)"), "column 16: function 'date_trunc' takes 'month', "
	              "'quarter' or 'year' first, as in date_trunc('month', close_date)");
	ASSERT_STR_EQ(parse_error("concat()"), "column 1: function 'concat' takes 1 to 16 arguments, not 0");
	ASSERT_STR_EQ(parse_error("concat(a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q)"),
	              "column 1: function 'concat' takes 1 to 16 arguments, not 17");
	ASSERT_STR_EQ(parse_error("concat(a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p)"), "");
	ASSERT_STR_EQ(parse_error("substr(name, 1)"), "column 1: function 'substr' takes 3 arguments, not 2");
	/* types the compiler checks, at the argument */
	ASSERT_STR_EQ(compile_repr("round(name, 2)"), "error:column 7: function 'round' needs a number, not text");
	ASSERT_STR_EQ(compile_repr("abs(close_date)"), "error:column 5: function 'abs' needs a number, not a date");
	ASSERT_STR_EQ(compile_repr("add_days(amount, 1)"), "error:column 10: function 'add_days' needs a date, not a number");
	ASSERT_STR_EQ(compile_repr("add_days(close_date, 'x')"),
	              "error:column 22: function 'add_days' needs a number, not text");
	ASSERT_STR_EQ(compile_repr("add_months(close_date, close_date)"),
	              "error:column 24: function 'add_months' needs a number, not a date");
	ASSERT_STR_EQ(compile_repr("year(quantity) = 2024"), "error:column 6: function 'year' needs a date, not a number");
	ASSERT_STR_EQ(compile_repr("month(closed)"), "error:column 7: function 'month' needs a date, not a bool");
	ASSERT_STR_EQ(compile_repr("date_trunc('month', 5)"),
	              "error:column 21: function 'date_trunc' needs a date, not a number");
	ASSERT_STR_EQ(compile_repr("hours_between(close_date, 1)"),
	              "error:column 27: function 'hours_between' needs a date, not a number");
	ASSERT_STR_EQ(compile_repr("min(amount, name)"), "error:column 1: function 'min' compares a number with text: "
	              "give it two numbers, or two dates or texts");
	ASSERT_STR_EQ(compile_repr("max(close_date, 0)"), "error:column 1: function 'max' compares a date with a number: "
	              "give it two numbers, or two dates or texts");
	ASSERT_STR_EQ(compile_repr("substr(name, 'a', 1)"), "error:column 14: function 'substr' needs a number, not text");
	ASSERT_STR_EQ(compile_repr("substr(name, 1, close_date)"),
	              "error:column 17: function 'substr' needs a number, not a date");
	/* results are typed: a date from add_months, a number from year() */
	ASSERT_STR_EQ(compile_repr("add_months(close_date, 1) * 2"), "error:column 27: operator '*' cannot take a date "
	              "(a date only adds or subtracts days: date + 30, date - 30, date - date)");
	ASSERT_STR_EQ(compile_repr("year(close_date) + 1 > 2024 and date_trunc('year', close_date) + 1 > today()"),
	              "(((CAST(strftime('%Y', julianday(t0.\"close_date\")) AS INTEGER) + ?1) > ?2) AND "
	              "(date(julianday(date(julianday(t0.\"close_date\"), 'start of year')) + ?3) > ?4)) | | int:1, "
	              "int:2024, int:1, text:2024-05-10");
}

static void test_round_is_half_away_from_zero_on_the_decimal(void)
{
	static const char *const trues[] = {
		"round(2.675, 2) = 2.68", "round(1.005, 2) = 1.01", "round(-1.005, 2) = -1.01", "round(0.285, 2) = 0.29",
		"round(-0.5, 0) = -1", "round(0.5, 0) = 1", "round(-2.5, 0) = -3", "round(2.5, 0) = 3",
		"round(0.49999999999999994, 0) = 0", "round(0.1 + 0.2, 2) = 0.3", "round(0.1 + 0.2, 9) = 0.3",
		"round(4503599627370495.5, 0) = 4503599627370496", "round(1e300, 2) = 1e300", "round(-1e300, 0) = -1e300",
		"round(123.456, 0) = 123", "round(-123.456, 1) = -123.5", "round(0.0004, 3) = 0", "round(0.0005, 3) = 0.001",
		"round(9.995, 2) = 10", "round(99.5, 0) = 100", "round(1.23456789012345, 9) = 1.23456789",
		"round(5e-324, 9) = 0", "round(0.000000000499, 9) = 0", "round(0.0000000005, 9) = 0.000000001",
		"round(1234567.891, 9) = 1234567.891",
	};
	for (int i = 0; i < COUNT(trues); i++) {
		const char *got = eval_repr(trues[i]);
		if (strcmp(got, "true") != 0)
			fprintf(stderr, "  %s: %s\n", trues[i], got);
		ASSERT_STR_EQ(got, "true");
	}
	ASSERT_STR_EQ(eval_repr("round(i, 2)"), "int:7");          /* an integer has nothing to round */
	ASSERT_STR_EQ(eval_repr("round(t, 0)"), "int:1");
	ASSERT_STR_EQ(eval_repr("round(r, 0)"), "real:3");
	ASSERT_STR_EQ(eval_repr("round(-0.4, 0)"), "real:0");      /* no negative zero */
	ASSERT_STR_EQ(eval_repr("round(n, 2)"), "null");
	ASSERT_STR_EQ(eval_repr("round(s, 2)"), "error:column 1: function 'round' needs a number, not text");
	ASSERT_STR_EQ(compile_repr("round(amount, 2)"), "crm_round(t0.\"amount\", ?1) | | int:2");
}

/* round half away from zero done on the text of the shortest decimal that reads back as x: the definition. */
static double decimal_round(double x, int places)
{
	char text[64];
	for (int precision = 1; precision <= 17; precision++) {
		snprintf(text, sizeof(text), "%.*e", precision - 1, fabs(x));
		if (strtod(text, NULL) == fabs(x))
			break;
	}
	/* the digits as a fixed-point text with places decimals and one more: "000267" "5" */
	char digits[32];
	int count = 0;
	for (const char *c = text; *c && *c != 'e'; c++)
		if (*c >= '0' && *c <= '9')
			digits[count++] = *c;
	long exponent = strtol(strchr(text, 'e') + 1, NULL, 10);
	char fixed[128];
	int length = 0;
	/* value = digits * 10^(exponent - count + 1); write it with 30 leading zero places for room */
	long first_place = exponent;       /* the power of ten of digits[0] */
	for (long place = 30; place >= -places - 1; place--) {
		long index = first_place - place;
		fixed[length++] = index >= 0 && index < count ? digits[index] : '0';
	}
	fixed[length] = '\0';
	bool up = fixed[length - 1] >= '5';
	fixed[--length] = '\0';
	for (int i = length - 1; up && i >= 0; i--) {  /* add one, carrying */
		if (fixed[i] == '9') {
			fixed[i] = '0';
		} else {
			fixed[i]++;
			up = false;
		}
	}
	char back[160];
	snprintf(back, sizeof(back), "%se-%d", fixed, places);
	double result = strtod(back, NULL);
	return result == 0.0 ? 0.0 : copysign(result, x);
}

static void test_round_agrees_with_rounding_the_decimal_text(void)
{
	const struct expr_sql_function *round = expr_sql_function(0);
	ASSERT_STR_EQ(round->name, "crm_round");
	uint64_t seed = 12345;
	int checked = 0, wrong = 0;
	for (int i = 0; i < 150000; i++) {
		seed = seed * 6364136223846793005u + 1442695040888963407u;
		int places = (int)(seed >> 60) % 10;
		double x;
		switch (i % 5) {
		case 0: x = ldexp((double)(seed >> 11), (int)(seed % 80) - 80); break;             /* any magnitude */
		case 1: x = ((double)(int64_t)(seed >> 24) + 0.5) / pow(10.0, places + 1 + (int)(seed % 3)); break;  /* halves */
		case 2: x = (double)(int64_t)(seed >> 30) / pow(10.0, (int)(seed % 12)); break;  /* decimals */
		case 3: x = nextafter(((double)(int64_t)(seed >> 34) + 0.5) / pow(10.0, places), (seed & 1) ? 1e300 : -1e300); break;
		default: x = (double)(int64_t)(seed >> 8) / 1e3; break;                          /* large money */
		}
		if (seed & 2)
			x = -x;
		if (!(fabs(x) < 4503599627370496.0))
			continue;
		struct expr_value arguments[2] = { { .type = EV_REAL, .r = x }, { .type = EV_INT, .i = places } }, out;
		char err[64];
		ASSERT_EQ(round->call(arguments, &out, err, sizeof(err)), CRM_OK);
		double expected = decimal_round(x, places);
		if (out.type != EV_REAL || out.r != expected) {
			if (wrong++ < 5)
				fprintf(stderr, "  round(%.17g, %d): %.17g, expected %.17g\n", x, places, out.r, expected);
		}
		checked++;
	}
	ASSERT(checked > 120000);
	ASSERT_EQ(wrong, 0);
}

static void test_abs_min_max_substr_concat(void)
{
	ASSERT_STR_EQ(eval_repr("abs(-i)"), "int:7");
	ASSERT_STR_EQ(eval_repr("abs(-r)"), "real:2.5");
	ASSERT_STR_EQ(eval_repr("abs(t)"), "int:1");
	ASSERT_STR_EQ(eval_repr("abs(n)"), "null");
	ASSERT_STR_EQ(eval_repr("abs(small)"), "error:column 1: integer overflow in 'abs'");
	ASSERT_STR_EQ(eval_repr("abs(s)"), "error:column 1: function 'abs' needs a number, not text");
	/* min and max: null if either is null, as SQLite's scalar min and max */
	ASSERT_STR_EQ(eval_repr("min(i, r)"), "real:2.5");
	ASSERT_STR_EQ(eval_repr("max(i, r)"), "int:7");
	ASSERT_STR_EQ(eval_repr("min(i, n)"), "null");
	ASSERT_STR_EQ(eval_repr("max(n, i)"), "null");
	ASSERT_STR_EQ(eval_repr("min(s, 'abd')"), "text:abc");
	ASSERT_STR_EQ(eval_repr("max('2024-05-01', '2024-05-01T10:30:00Z')"), "text:2024-05-01T10:30:00Z");
	ASSERT_STR_EQ(eval_repr("min(1, 1.0)"), "real:1");         /* SQLite keeps the later of equals for min */
	ASSERT_STR_EQ(eval_repr("max(1, 1.0)"), "int:1");          /* and the earlier for max */
	ASSERT_STR_EQ(eval_repr("min(5, 'abc')"), "int:5");        /* numbers before text, no conversion */
	ASSERT_STR_EQ(eval_repr("max(9, '10')"), "text:10");
	ASSERT_STR_EQ(typed_repr("max(d, at)"), "text:2024-05-01T10:30:00Z");
	ASSERT_STR_EQ(typed_repr("min(d, today() - 30)"), "text:2024-04-10");
	/* substr: characters, 1-based, SQLite's rules for 0 and negative numbers */
	ASSERT_STR_EQ(eval_repr("substr(u, 2, 4)"), "text:éllo");
	ASSERT_STR_EQ(eval_repr("substr(u, -5, 3)"), "text:wör");
	ASSERT_STR_EQ(eval_repr("substr(u, 0, 2)"), "text:h");
	ASSERT_STR_EQ(eval_repr("substr('商机管理', 2, 2)"), "text:机管");
	ASSERT_STR_EQ(eval_repr("substr('a😀b', 2, 1)"), "text:😀");
	ASSERT_STR_EQ(eval_repr("substr(s, 3, -2)"), "text:ab");
	ASSERT_STR_EQ(eval_repr("substr(s, -10, 9)"), "text:ab");
	ASSERT_STR_EQ(eval_repr("substr(s, -10, 7)"), "text:");
	ASSERT_STR_EQ(eval_repr("substr(s, 10, 2)"), "text:");
	ASSERT_STR_EQ(eval_repr("substr(s, 2, r)"), "text:bc");
	ASSERT_STR_EQ(eval_repr("substr(r, 1, 2)"), "text:2.");
	ASSERT_STR_EQ(eval_repr("substr(s, 4294967298, 1)"), "text:b");  /* SQLite reads a 32-bit int */
	ASSERT_STR_EQ(eval_repr("substr(n, 1, 2)"), "null");
	ASSERT_STR_EQ(eval_repr("substr(s, n, 2)"), "null");
	ASSERT_STR_EQ(eval_repr("substr(s, 1, n)"), "null");
	/* concat: a null is empty text, unlike || */
	ASSERT_STR_EQ(eval_repr("concat(s, n, i)"), "text:abc7");
	ASSERT_STR_EQ(eval_repr("s || n || i"), "null");
	ASSERT_STR_EQ(eval_repr("concat(n)"), "text:");
	ASSERT_STR_EQ(eval_repr("concat(r)"), "text:2.5");
	ASSERT_STR_EQ(eval_repr("concat(t, ' ', f, ' ', 1e20)"), "text:1 0 1.0e+20");
	ASSERT_STR_EQ(compile_repr("concat(name)"), "(coalesce(t0.\"name\", '') || '') | |");
	ASSERT_STR_EQ(compile_repr("concat(name, quantity)"),
	              "(coalesce(t0.\"name\", '') || coalesce(t0.\"quantity\", '')) | |");
}

static void test_date_functions(void)
{
	ASSERT_STR_EQ(typed_repr("add_days(d, 30)"), "text:2024-05-31");
	ASSERT_STR_EQ(typed_repr("add_days(at, -1)"), "text:2024-04-30");   /* a datetime gives a date */
	ASSERT_STR_EQ(typed_repr("add_days(d, n)"), "null");
	ASSERT_STR_EQ(typed_repr("add_days('nonsense', 1)"), "null");
	ASSERT_STR_EQ(typed_repr("add_days('2024-02-28', 1)"), "text:2024-02-29");
	ASSERT_STR_EQ(typed_repr("add_days('2023-02-28', 1)"), "text:2023-03-01");
	/* add_months clamps to the month's end */
	static const char *const months[][2] = {
		{ "add_months('2024-01-31', 1)", "text:2024-02-29" },
		{ "add_months('2023-01-31', 1)", "text:2023-02-28" },
		{ "add_months('2024-02-29', 12)", "text:2025-02-28" },
		{ "add_months('2024-02-29', 48)", "text:2028-02-29" },
		{ "add_months('2024-03-31', -1)", "text:2024-02-29" },
		{ "add_months('2024-05-31', -3)", "text:2024-02-29" },
		{ "add_months('2024-05-31', 1)", "text:2024-06-30" },
		{ "add_months('2024-01-15', -13)", "text:2022-12-15" },
		{ "add_months('2000-02-29', 1200)", "text:2100-02-28" },
		{ "add_months('1900-01-31', 1)", "text:1900-02-28" },
		{ "add_months('2024-12-31', 2)", "text:2025-02-28" },
		{ "add_months('0000-03-31', -1)", "text:0000-02-29" },
		{ "add_months('0000-01-15', -1)", "text:-0001-12-15" },
		{ "add_months('9999-12-31', 1)", "null" },
		{ "add_months('-4713-11-30', 0)", "text:-4713-11-30" },
		{ "add_months('-4713-12-01', -1)", "null" },                  /* before the first julian day */
		{ "add_months('2024-05-31T23:30:00Z', 1)", "text:2024-06-30" },
		{ "add_months('2024-08-31T00:30:00+02:00', 1)", "text:2024-09-30" },  /* UTC: August 30 */
		{ "add_months(d, 2.9)", "text:2024-07-01" },                   /* whole months, truncated */
		{ "add_months(d, n)", "null" },
		{ "add_months(d, big)", "null" },
		{ "add_months(d, small)", "null" },
		{ "add_months('now', 1)", "null" },
		{ "year(d)", "int:2024" },
		{ "month(at)", "int:5" },
		{ "year('-0001-06-01')", "int:-1" },
		{ "month('2024-02-30')", "int:3" },                          /* read as julianday() reads it */
		{ "year('garbage')", "null" },
		{ "month(add_days(d, n))", "null" },
		{ "date_trunc('month', '2024-05-17')", "text:2024-05-01" },
		{ "date_trunc('quarter', '2024-05-17')", "text:2024-04-01" },
		{ "date_trunc('quarter', '2024-12-31')", "text:2024-10-01" },
		{ "date_trunc('quarter', '2024-03-31')", "text:2024-01-01" },
		{ "date_trunc('quarter', '2024-08-31T00:30:00+02:00')", "text:2024-07-01" },
		{ "date_trunc('year', at)", "text:2024-01-01" },
		{ "date_trunc('month', '-4713-11-30')", "null" },
		{ "date_trunc('year', null)", "null" },
		{ "hours_between('2024-01-01T10:00:00Z', '2024-01-01T11:30:00Z')", "real:1.5" },
		{ "hours_between('2024-01-01T11:30:00Z', '2024-01-01T10:00:00Z')", "real:-1.5" },
		{ "hours_between('2024-01-01', '2024-01-02')", "real:24" },
		{ "hours_between('2024-01-01T10:00:00+02:00', '2024-01-01T10:00:00Z')", "real:2" },
		{ "hours_between(at, d)", "real:-10.5" },
		{ "hours_between('2024-01-01T00:00:00.001Z', '2024-01-01T00:00:00.002Z')", "real:2.7777777777777776e-07" },
		{ "hours_between(d, add_days(d, n))", "null" },
	};
	for (int i = 0; i < COUNT(months); i++) {
		const char *got = typed_repr(months[i][0]);
		if (strcmp(got, months[i][1]) != 0)
			fprintf(stderr, "  %s: %s, expected %s\n", months[i][0], got, months[i][1]);
		ASSERT_STR_EQ(got, months[i][1]);
	}
}

static void test_me_and_user_fields(void)
{
	ASSERT_STR_EQ(eval_repr("$me"), "int:42");
	ASSERT_STR_EQ(eval_repr("$ME = 42"), "true");
	ASSERT_STR_EQ(eval_repr("$user.team = 'east'"), "true");
	ASSERT_STR_EQ(eval_repr("$user.id in (1, $me)"), "true");
	ASSERT_STR_EQ(eval_repr("$user.nope = 1"), "error:column 1: unknown user field '$user.nope'");
	/* no user_field callback: an error, so that a rule fails closed */
	struct expr *e;
	char err[256];
	ASSERT_EQ(expr_parse("$user.team = 'east'", &e, err, sizeof(err)), CRM_OK);
	struct expr_env env = { .lookup = record_lookup };
	struct expr_value v;
	ASSERT_EQ(expr_eval(e, &env, &v, err, sizeof(err)), CRM_EINVAL);
	ASSERT_STR_EQ(err, "column 1: $user.team is not available here");
	expr_free(e);
}

static void test_failed_lookup_is_not_found(void)
{
	ASSERT_STR_EQ(eval_repr("missing = 1"), "error:column 1: cannot read field 'missing'");
	struct expr *e;
	char err[256];
	ASSERT_EQ(expr_parse("missing = 1", &e, err, sizeof(err)), CRM_OK);
	struct expr_env env = { .lookup = record_lookup };
	struct expr_value v;
	ASSERT_EQ(expr_eval(e, &env, &v, err, sizeof(err)), CRM_ENOTFOUND);
	expr_free(e);
}

/* ---- compilation ------------------------------------------------------- */

static void test_compile_binds_every_literal(void)
{
	ASSERT_STR_EQ(compile_repr("amount > 1000 and stage = 'won'"),
		"((t0.\"amount\" > ?1) AND (t0.\"stage\" = ?2)) | | int:1000, text:won");
	ASSERT_STR_EQ(compile_repr("stage in ('won', 'lost') and name not like 'A%'"),
		"((t0.\"stage\" IN (?1, ?2)) AND (t0.\"name\" NOT LIKE ?3)) | | text:won, text:lost, text:A%");
	ASSERT_STR_EQ(compile_repr("close_date is not null or amount is null"),
		"((t0.\"close_date\" IS NOT NULL) OR (t0.\"amount\" IS NULL)) | |");
	ASSERT_STR_EQ(compile_repr("owner = $me and stage != $user.team"),
		"((t0.\"owner\" = ?1) AND (t0.\"stage\" <> ?2)) | | int:42, text:east");
	ASSERT_STR_EQ(compile_repr("closed = true or closed = false or stage = null"),
		"((t0.\"closed\" = ?1) OR (t0.\"closed\" = ?2) OR (t0.\"stage\" IS NULL)) | | int:1, int:0");
	ASSERT_STR_EQ(compile_repr("name || '-' || lower(stage) = upper('x')"),
		"((t0.\"name\" || ?1 || lower(t0.\"stage\")) = upper(?2)) | | text:-, text:x");
	ASSERT_STR_EQ(compile_repr("-amount + 2 * quantity % 3 > 1.5"),
		"(((- t0.\"amount\") + ((?1 * t0.\"quantity\") % ?2)) > ?3) | | int:2, int:3, real:1.5");
	ASSERT_STR_EQ(compile_repr("if(closed, len(name), coalesce(quantity, 0))"),
		"(CASE WHEN t0.\"closed\" THEN length(t0.\"name\") ELSE coalesce(t0.\"quantity\", ?1) END) | | int:0");
	ASSERT_STR_EQ(compile_repr("days_between(close_date, today()) > 30"),
		"(CAST(julianday(?1) - julianday(t0.\"close_date\") AS INTEGER) > ?2) | | text:2024-05-10, int:30");
	ASSERT_STR_EQ(compile_repr("now() > close_date"),
		"(?1 > t0.\"close_date\") | | text:2024-05-10T12:34:56Z");
	ASSERT_STR_EQ(compile_repr("not closed"), "(NOT t0.\"closed\") | |");
}

static void test_compile_division_follows_the_c_rules(void)
{
	/* int / int: exact quotient as an int, else a real (SQLite's / would truncate) */
	ASSERT_STR_EQ(compile_repr("quantity / 2"),
		"(CASE WHEN (t0.\"quantity\" % ?1) = 0 THEN (t0.\"quantity\" / ?1) "
		"ELSE (CAST(t0.\"quantity\" AS REAL) / ?1) END) | | int:2");
	ASSERT_STR_EQ(compile_repr("amount / 2"), "(CAST(t0.\"amount\" AS REAL) / ?1) | | int:2");
	ASSERT_STR_EQ(compile_repr("amount % 2"), "error:column 8: operator '%' needs integers");
	ASSERT_STR_EQ(compile_repr("name + 1"), "error:column 6: operator '+' needs numbers, not text");
	ASSERT_STR_EQ(compile_repr("name and closed"), "error:column 1: expected a condition, not text");
}

static void test_compile_text_meeting_numbers_follows_the_c_rules(void)
{
	/* numeric text meeting a number is bound as that number */
	ASSERT_STR_EQ(compile_repr("amount = '1000'"), "(t0.\"amount\" = ?1) | | int:1000");
	ASSERT_STR_EQ(compile_repr("quantity in ('4', 5, 'x')"),
		"(t0.\"quantity\" IN (?1, ?2, ?3)) | | int:4, int:5, text:x");
	/* otherwise the number side gets NUMERIC affinity, so SQLite converts numeric-looking text */
	ASSERT_STR_EQ(compile_repr("name = 5"), "(t0.\"name\" = CAST(?1 AS NUMERIC)) | | int:5");
	ASSERT_STR_EQ(compile_repr("amount < 'abc'"), "(CAST(t0.\"amount\" AS NUMERIC) < ?1) | | text:abc");
	ASSERT_STR_EQ(compile_repr("name not in ('x', 5)"),
		"(NOT (t0.\"name\" = ?1 OR t0.\"name\" = CAST(?2 AS NUMERIC))) | | text:x, int:5");
}

static void test_nested_integer_divisions_are_bounded(void)
{
	/*
	 * Each exact-division CASE repeats its operands three times; % makes the
	 * quotient an int again, so ((q / 2) % 7) / 2 ... grows as 3^n. The SQL
	 * size cap stops it.
	 */
	char *text = repeat("((", 30, "quantity");
	struct strbuf sb = {0};
	strbuf_puts(&sb, text);
	for (int i = 0; i < 30; i++)
		strbuf_puts(&sb, " / 2) % 7)");
	clock_t start = clock();
	ASSERT_STR_EQ(compile_repr(sb.data), "error:expression too large: its SQL is more than 1048576 bytes");
	ASSERT((double)(clock() - start) / CLOCKS_PER_SEC < 1.0);
	strbuf_free(&sb);
	free(text);
}

static void test_sql_metacharacters_in_values_only_reach_binds(void)
{
	const char *texts[] = {
		"name = 'x'' OR 1=1 --'",
		"name = 'Robert''); DROP TABLE account;--'",
		"name like '%\"; DELETE FROM user; --'",
		"stage in ('a'' OR ''1''=''1', '\\'' ; --')",
		"name || '*/ /*' = '?1'",
	};
	for (int i = 0; i < COUNT(texts); i++) {
		const char *repr = compile_repr(texts[i]);
		ASSERT(strncmp(repr, "error:", 6) != 0);
		char sql[2048];
		snprintf(sql, sizeof(sql), "%s", repr);
		*strstr(sql, " |") = '\0';  /* the SQL alone, without the binds */
		ASSERT(!strchr(sql, '\''));
		ASSERT(!strstr(sql, "--"));
		ASSERT(!strstr(sql, ";"));
		ASSERT(!strstr(sql, "DROP"));
		ASSERT(!strstr(sql, "OR 1"));
		ASSERT(!strstr(sql, "/*"));
	}
	ASSERT_STR_EQ(compile_repr("name = 'x'' OR 1=1 --'"), "(t0.\"name\" = ?1) | | text:x' OR 1=1 --");
}

static void test_hostile_identifiers_are_refused(void)
{
	ASSERT_STR_EQ(compile_repr("\"name\" = 1"), "error:column 1: unexpected character near '\"'");
	ASSERT_STR_EQ(compile_repr("name; drop = 1"), "error:column 5: unexpected character near ';'");
	ASSERT_STR_EQ(compile_repr("a.b.c.d.e.f = 1"), "error:column 1: path too long: more than 4 links near 'a.b.c.d.e.f'");
	ASSERT_STR_EQ(compile_repr("account.nope = 1"), "error:unknown field 'nope' on object 'account'");
	ASSERT_STR_EQ(compile_repr("nope = 1"), "error:unknown field 'nope' on object 'opportunity'");
	ASSERT_STR_EQ(compile_repr("name.x = 1"),
		"error:field 'name' on object 'opportunity' is not a reference: 'x' cannot follow it");
	ASSERT_STR_EQ(compile_repr("account.owner.name = 'x'"),
		"error:field 'owner' on object 'account' leads to no object: 'name' cannot follow it");
	ASSERT_STR_EQ(compile_repr("a.b.c.d.e = 1"), "error:unknown field 'a' on object 'opportunity'");
	ASSERT_STR_EQ(compile_repr("Name = 1"), "error:column 1: invalid name 'Name': field names are lower case");

	/* expr_compile_path checks its own input: sort keys and columns come from the URL */
	const char *paths[] = { "\"name\"", "name; drop", "a.b.c.d.e.f", "name desc", "", ".name", "name.",
	                        "account..name", "1name", "Name", "na-me", "name\n" };
	for (int i = 0; i < COUNT(paths); i++) {
		struct expr_sql b;
		builder_init(&b, OPPORTUNITY);
		struct strbuf out = {0};
		char err[256];
		ASSERT_EQ(expr_compile_path(&b, paths[i], &out, NULL, err, sizeof(err)), CRM_EINVAL);
		ASSERT_CONTAINS(err, "invalid field path");
		ASSERT(out.len == 0 && b.bind_count == 0 && b.join_count == 0);
		expr_sql_free(&b);
		strbuf_free(&out);
	}
}

static void test_dotted_paths_join_once_per_prefix(void)
{
	ASSERT_STR_EQ(compile_repr("account.industry = 'tech' and account.name like 'A%' and account.parent.name = 'H'"),
		"((j1.\"industry\" = ?1) AND (j1.\"name\" LIKE ?2) AND (j2.\"name\" = ?3)) |"
		" LEFT JOIN \"account\" j1 ON j1.\"id\" = t0.\"account\""
		" LEFT JOIN \"account\" j2 ON j2.\"id\" = j1.\"parent\" | text:tech, text:A%, text:H");
	/* one builder serves a whole query: compile_path reuses the joins of the filter */
	struct expr_sql b;
	builder_init(&b, OPPORTUNITY);
	struct expr *e;
	char err[256];
	ASSERT_EQ(expr_parse("account.parent.industry = 'x'", &e, err, sizeof(err)), CRM_OK);
	struct strbuf where = {0}, column = {0};
	ASSERT_EQ(expr_compile(&b, e, &where, err, sizeof(err)), CRM_OK);
	const struct meta_field *field = NULL;
	ASSERT_EQ(expr_compile_path(&b, "account.name", &column, &field, err, sizeof(err)), CRM_OK);
	ASSERT_STR_EQ(column.data, "j1.\"name\"");
	ASSERT(field == field_named(ACCOUNT, "name"));
	ASSERT_EQ(b.join_count, 2);
	ASSERT_STR_EQ(b.join_paths[0], "account");
	ASSERT_STR_EQ(b.join_paths[1], "account.parent");
	strbuf_reset(&column);
	ASSERT_EQ(expr_compile_path(&b, "owner.team", &column, &field, err, sizeof(err)), CRM_OK);
	ASSERT_STR_EQ(column.data, "j3.\"team\"");
	ASSERT_CONTAINS(b.joins.data, " LEFT JOIN \"user\" j3 ON j3.\"id\" = t0.\"owner\"");
	expr_free(e);
	strbuf_free(&where);
	strbuf_free(&column);
	expr_sql_free(&b);
}

static void test_formula_fields_are_inlined(void)
{
	/* a money formula is used at its scale (2) */
	ASSERT_STR_EQ(compile_repr("expected > 500"),
		"(crm_round((CAST((t0.\"amount\" * t0.\"probability\") AS REAL) / ?1), 2) > ?2) | | int:100, int:500");
	/* a formula over a formula and a path, reached through a join */
	ASSERT_STR_EQ(compile_repr("label = 'x'"),
		"((CASE WHEN (crm_round((CAST((t0.\"amount\" * t0.\"probability\") AS REAL) / ?1), 2) > ?2) THEN j1.\"name\" "
		"ELSE t0.\"name\" END) = ?3) | LEFT JOIN \"account\" j1 ON j1.\"id\" = t0.\"account\" |"
		" int:100, int:1000, text:x");
	struct expr_sql b;
	builder_init(&b, OPPORTUNITY);
	struct strbuf out = {0};
	const struct meta_field *field = NULL;
	char err[256];
	ASSERT_EQ(expr_compile_path(&b, "expected", &out, &field, err, sizeof(err)), CRM_OK);
	ASSERT_STR_EQ(out.data, "crm_round((CAST((t0.\"amount\" * t0.\"probability\") AS REAL) / ?1), 2)");
	ASSERT(field == field_named(OPPORTUNITY, "expected"));
	strbuf_free(&out);
	expr_sql_free(&b);
}

static void test_refused_fields_are_not_readable(void)
{
	/* refused in the words of a field that does not exist: no oracle */
	ASSERT_STR_EQ(compile_repr("account.secret = 'x'"), "error:unknown field 'secret' on object 'account'");
	ASSERT_STR_EQ(compile_repr("account.secrex = 'x'"), "error:unknown field 'secrex' on object 'account'");
	ASSERT_STR_EQ(compile_repr("lower(account.secret) like '%'"), "error:unknown field 'secret' on object 'account'");
	/* inside a formula only the formula field itself is checked */
	ASSERT_STR_EQ(compile_repr("leak = 'x'"),
		"(j1.\"secret\" = ?1) | LEFT JOIN \"account\" j1 ON j1.\"id\" = t0.\"account\" | text:x");

	struct expr_sql b;
	builder_init(&b, OPPORTUNITY);
	struct strbuf out = {0};
	char err[256];
	ASSERT_EQ(expr_compile_path(&b, "account.secret", &out, NULL, err, sizeof(err)), CRM_EINVAL);
	ASSERT_STR_EQ(err, "unknown field 'secret' on object 'account'");
	expr_sql_free(&b);
	strbuf_free(&out);
}

static const char *refused_field;
static int can_read_calls;

static bool refuse_named(void *arg, const struct meta_object *object, const struct meta_field *field)
{
	(void)arg;
	(void)object;
	can_read_calls++;
	return strcmp(field->name, refused_field) != 0;
}

static void test_every_hop_of_a_path_is_checked(void)
{
	struct expr_sql b;
	builder_init(&b, OPPORTUNITY);
	b.can_read = refuse_named;
	refused_field = "account";
	struct strbuf out = {0};
	char err[256];
	ASSERT_EQ(expr_compile_path(&b, "account.name", &out, NULL, err, sizeof(err)), CRM_EINVAL);
	ASSERT_STR_EQ(err, "unknown field 'account' on object 'opportunity'");
	refused_field = "nothing";
	can_read_calls = 0;
	ASSERT_EQ(expr_compile_path(&b, "account.parent.name", &out, NULL, err, sizeof(err)), CRM_OK);
	ASSERT_EQ(can_read_calls, 3);
	/* a formula: one call, for the formula field */
	can_read_calls = 0;
	ASSERT_EQ(expr_compile_path(&b, "label", &out, NULL, err, sizeof(err)), CRM_OK);
	ASSERT_EQ(can_read_calls, 1);
	expr_sql_free(&b);
	strbuf_free(&out);
}

static void test_failed_compile_leaves_the_builder_unchanged(void)
{
	struct expr_sql b;
	builder_init(&b, OPPORTUNITY);
	struct expr *good, *bad;
	char err[256];
	ASSERT_EQ(expr_parse("account.name = 'a'", &good, err, sizeof(err)), CRM_OK);
	ASSERT_EQ(expr_parse("account.parent.name = 'b' and quantity in (1, 2, 3) and nope = 1", &bad, err, sizeof(err)),
	          CRM_OK);
	struct strbuf out = {0};
	ASSERT_EQ(expr_compile(&b, good, &out, err, sizeof(err)), CRM_OK);
	char *before = xstrdup(out.data);
	char *joins_before = xstrdup(b.joins.data);
	ASSERT_EQ(expr_compile(&b, bad, &out, err, sizeof(err)), CRM_EINVAL);
	ASSERT_STR_EQ(err, "unknown field 'nope' on object 'opportunity'");
	ASSERT_STR_EQ(out.data, before);
	ASSERT_STR_EQ(b.joins.data, joins_before);
	ASSERT_EQ(b.join_count, 1);
	ASSERT_EQ(b.bind_count, 1);
	free(before);
	free(joins_before);
	strbuf_free(&out);
	expr_free(good);
	expr_free(bad);
	expr_sql_free(&b);
}

static void test_compile_without_user_fields_is_refused(void)
{
	struct expr_sql b;
	builder_init(&b, OPPORTUNITY);
	b.user_field = NULL;
	struct expr *e;
	char err[256];
	ASSERT_EQ(expr_parse("stage = $user.team", &e, err, sizeof(err)), CRM_OK);
	struct strbuf out = {0};
	ASSERT_EQ(expr_compile(&b, e, &out, err, sizeof(err)), CRM_EINVAL);
	ASSERT_STR_EQ(err, "$user.team is not available here");
	expr_free(e);
	strbuf_free(&out);
	expr_sql_free(&b);
}

static void test_today_is_taken_once_per_builder(void)
{
	struct expr_sql b;
	builder_init(&b, OPPORTUNITY);
	b.now = 0;
	struct expr *e;
	char err[256];
	ASSERT_EQ(expr_parse("now() = now()", &e, err, sizeof(err)), CRM_OK);
	struct strbuf out = {0};
	ASSERT_EQ(expr_compile(&b, e, &out, err, sizeof(err)), CRM_OK);
	ASSERT(b.now != 0);
	ASSERT_STR_EQ(b.binds[0].s, b.binds[1].s);
	expr_free(e);
	strbuf_free(&out);
	expr_sql_free(&b);
}

/* ---- SQL and C agree: SQLite as the oracle ---------------------------- */

static void exec_sql(sqlite3 *db, const char *sql)
{
	char *message = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &message) != SQLITE_OK) {
		fprintf(stderr, "sql failed: %s: %s\n", sql, message);
		abort();
	}
}

/* typed: declared types as the store declares them; otherwise no affinity at all */
static sqlite3 *open_database(bool typed)
{
	sqlite3 *db;
	if (sqlite3_open(":memory:", &db) != SQLITE_OK || store_register_functions(db) != SQLITE_OK)
		abort();
	for (int o = 0; o < COUNT(objects); o++) {
		struct strbuf sql = {0};
		strbuf_puts(&sql, "CREATE TABLE ");
		strbuf_ident(&sql, objects[o].name);
		strbuf_puts(&sql, " (\"id\" INTEGER PRIMARY KEY");
		for (int i = 1; i < objects[o].field_count; i++) {
			const struct meta_field *f = &objects[o].fields[i];
			if (f->type == FIELD_FORMULA)
				continue;
			strbuf_puts(&sql, ", ");
			strbuf_ident(&sql, f->name);
			if (f->type == FIELD_GEO) {  /* and the point's numbers, as store.c keeps them beside it */
				strbuf_printf(&sql, "%s, \"%s__lat\" REAL, \"%s__lng\" REAL", typed ? " TEXT" : "", f->name,
				              f->name);
				continue;
			}
			if (!typed)
				continue;
			switch (f->type) {
			case FIELD_INT: case FIELD_REF: case FIELD_USER: case FIELD_BOOL:
				strbuf_puts(&sql, " INTEGER");
				break;
			case FIELD_DECIMAL: case FIELD_MONEY: case FIELD_PERCENT:
				strbuf_puts(&sql, " REAL");
				break;
			default:
				strbuf_puts(&sql, " TEXT");
				break;
			}
		}
		strbuf_puts(&sql, ")");
		exec_sql(db, sql.data);
		strbuf_free(&sql);
	}
	exec_sql(db,
		"INSERT INTO user VALUES (1, 'Ann', 'east'), (2, 'Bob', 'west'), (3, 'Cy', NULL);"
		"INSERT INTO account VALUES"
		" (1, 'Holding', 'finance', 5000000.0, 1, NULL, 1, 's1'),"
		" (2, 'Acme', 'tech', 1200000.5, 2, 1, 1, 's2'),"
		" (3, 'Globex', 'tech', NULL, NULL, 1, 0, NULL),"
		" (4, 'Initech', NULL, 50000.0, 3, 2, NULL, 's4'),"
		" (5, 'Umbrella', 'pharma', 0.0, 2, NULL, 1, 's5'),"
		" (6, 'abc', 'retail', 999.99, 1, 5, 0, 's6'),"
		" (7, 'Orphan', 'tech', 10.0, 1, 99, 1, 's7');"
		/* id, name, amount, probability, stage, close_date, account, owner, closed, quantity */
		"INSERT INTO opportunity VALUES"
		" (1, 'Acme deal', 1000.0, 50.0, 'won', '2024-03-15', 2, 1, 1, 4),"
		" (2, 'acme renewal', 250.5, 10.0, 'prospecting', '2024-07-01', 2, 2, 0, 5),"
		" (3, '5', 5.0, 100.0, 'won', '2023-12-31', 3, 1, 1, 0),"
		" (4, ' 5', NULL, 20.0, 'lost', NULL, 4, 3, 1, NULL),"
		" (5, '5.0', 0.0, 0.0, 'negotiation', '2024-06-01T12:00:00Z', 1, 2, 0, -3),"
		" (6, 'abc', 1000000.0, 75.5, NULL, '2025-01-01', NULL, NULL, NULL, 7),"
		" (7, 'Big Corp', 50000.0, 33.3, 'qualification', '2024-02-29', 5, 1, 0, 12),"
		" (8, 'corp small', 49.99, 90.0, 'won', '2024-12-31 23:59', 6, 2, 1, 2),"
		" (9, NULL, 120.0, NULL, 'proposal', '2024-13-01', 7, 1, 0, 9),"
		" (10, 'Zeta', -100.0, 50.0, 'lost', '2024-01-01', 2, NULL, 1, 1),"
		" (11, 'a_c', 300.0, 25.0, 'won', '2024-05-05', 3, 3, NULL, 6),"
		" (12, 'ABC corp', 1000.0, 100.0, 'negotiation', '2024-08-08', 4, 2, 0, 8),"
		" (13, 'x', 0.1, 33.33, 'proposal', '2024-09-30 10:30:00', 5, 1, 1, 3),"
		" (14, '1e1', 10.0, 10.0, 'prospecting', 'garbage', 6, 2, 0, 10),"
		" (15, 'Éclair', 75.0, 60.0, 'won', '2024-04-01', 2, 1, 1, 4),"
		" (16, '', 0.0, NULL, 'lost', '', NULL, 3, 0, 0),"
		" (17, 'Won', 2000.0, 40.0, 'WON', '2024-10-10', 1, 1, 0, 15),"
		" (18, 'tiny', 1.0, 1.0, 'prospecting', '2024-11-11', 7, 2, 1, -8),"
		" (19, 'huge', 9e15, 99.9, 'negotiation', '2030-01-01', 5, 3, 0, 100),"
		" (20, '10', 10.0, 5.0, 'proposal', '2024-03-01', 1, NULL, 0, 20),"
		" (21, 'abd', 333.0, 33.0, 'qualification', '2024-06-15', 2, 2, 1, 33),"
		" (22, 'far past', 12.5, 12.5, 'lost', '0001-01-01 00:00:00.5', 3, 1, 0, -1);"
		/* points as object.c stores them, and near the poles, the date line, the antipodes */
		"INSERT INTO place(id, name, at, lat, lng, near) VALUES"
		" (1, 'marienplatz', '{\"lat\":48.137,\"lng\":11.575}', 48.137, 11.575, 2),"
		" (2, 'stachus', '{\"lat\":48.139,\"lng\":11.566}', 48.139, 11.566, 1),"
		" (3, 'pasing', '{\"lat\":48.1497,\"lng\":11.4613}', 48.1497, 11.4613, 1),"
		" (4, 'account', '{\"lat\":31.231,\"lng\":121.474}', 31.2304, 121.4737, 5),"
		" (5, 'far check-in', '{\"lat\":31.2493,\"lng\":121.4737}', 31.2493, 121.4737, 4),"
		" (6, 'north pole', '{\"lat\":90.0,\"lng\":0.0}', 90, 0, 7),"
		" (7, 'near the pole', '{\"lat\":89.9,\"lng\":120.0}', 89.9, 120, 6),"
		" (8, 'south pole', '{\"lat\":-90.0,\"lng\":45.0}', -90, 45, NULL),"
		" (9, 'date line east', '{\"lat\":0.0,\"lng\":179.9999}', 0, 179.9999, 10),"
		" (10, 'date line west', '{\"lat\":0.0,\"lng\":-179.9999}', 0, -179.9999, 9),"
		" (11, 'antimeridian', '{\"lat\":0.0,\"lng\":-180.0}', 0, 180, 9),"
		" (12, 'munich antipode', '{\"lat\":-48.137,\"lng\":-168.425}', -48.137, -168.425, 1),"
		" (13, 'null island', '{\"lat\":0.0,\"lng\":0.0}', 0, 0, 99),"
		" (14, 'nowhere', NULL, NULL, NULL, 1),"
		" (15, 'bad numbers', '{\"lat\":10.0,\"lng\":10.0}', 95, 10, 14),"
		" (16, 'integers', '{\"lat\":48,\"lng\":11}', 48, 11, 1),"
		" (17, 'sydney', '{\"lat\":-33.8688,\"lng\":151.2093}', -33.8688, 151.2093, 12);"
		"UPDATE place SET at__lat = crm_geo_lat(at), at__lng = crm_geo_lng(at);");
	return db;
}

/* The row of object whose id is row_id: the C side of the comparison reads the same data. */
struct row_context {
	sqlite3 *db;
	const struct meta_object *object;
	int64_t id;
	char *texts[64];   /* text handed to expr_eval, freed once it returns */
	int text_count;
	int failures;      /* formulas that failed to evaluate */
};

static int row_lookup(void *arg, const char *path, struct expr_value *out);

/* Reads field of the row (object, id) into out; ids that do not exist give null, like LEFT JOIN. */
static int read_field(struct row_context *ctx, const struct meta_object *object, int64_t id,
                      const struct meta_field *field, struct expr_value *out)
{
	memset(out, 0, sizeof(*out));
	out->type = EV_NULL;
	if (field->type == FIELD_FORMULA) {
		struct row_context inner = { .db = ctx->db, .object = object, .id = id };
		struct expr_env env = { .lookup = row_lookup, .arg = &inner, .me = 42, .now = fixed_now() };
		char err[256];
		struct expr_value v;
		int rc = expr_eval(field->formula_expr, &env, &v, err, sizeof(err));
		for (int i = 0; i < inner.text_count; i++)
			free(inner.texts[i]);
		if (rc != CRM_OK) {
			ctx->failures++;
			return 0;
		}
		if (v.type == EV_REAL && expr_formula_scaled(field))
			v.r = expr_round(v.r, field->scale);   /* as eval.c: a scaled formula at its scale */
		*out = v;
		if (v.type == EV_TEXT)
			ctx->texts[ctx->text_count++] = v.s;
		return 0;
	}
	struct strbuf sql = {0};
	strbuf_puts(&sql, "SELECT ");
	strbuf_ident(&sql, field->name);
	strbuf_puts(&sql, " FROM ");
	strbuf_ident(&sql, object->name);
	strbuf_puts(&sql, " WHERE \"id\" = ?");
	sqlite3_stmt *stmt;
	if (sqlite3_prepare_v2(ctx->db, sql.data, -1, &stmt, NULL) != SQLITE_OK)
		abort();
	strbuf_free(&sql);
	sqlite3_bind_int64(stmt, 1, id);
	if (sqlite3_step(stmt) == SQLITE_ROW) {
		switch (sqlite3_column_type(stmt, 0)) {
		case SQLITE_INTEGER:
			out->type = field->type == FIELD_BOOL ? EV_BOOL : EV_INT;
			out->i = sqlite3_column_int64(stmt, 0);
			break;
		case SQLITE_FLOAT:
			out->type = EV_REAL;
			out->r = sqlite3_column_double(stmt, 0);
			break;
		case SQLITE_TEXT:
			out->type = EV_TEXT;
			out->s = xstrdup((const char *)sqlite3_column_text(stmt, 0));
			ctx->texts[ctx->text_count++] = out->s;
			break;
		default:
			break;
		}
	}
	sqlite3_finalize(stmt);
	return 0;
}

static int row_lookup(void *arg, const char *path, struct expr_value *out)
{
	struct row_context *ctx = arg;
	const struct meta_object *object = ctx->object;
	int64_t id = ctx->id;
	char *copy = xstrdup(path), *segment = copy;
	int rc = 0;
	for (;;) {
		char *dot = strchr(segment, '.');
		if (dot)
			*dot = '\0';
		const struct meta_field *field = NULL;
		for (int i = 0; i < object->field_count; i++) {
			if (strcmp(object->fields[i].name, segment) == 0)
				field = &object->fields[i];
		}
		if (!field) {
			rc = 1;
			break;
		}
		read_field(ctx, object, id, field, out);
		if (!dot)
			break;
		if (out->type == EV_NULL)  /* a null ref: everything beyond it is null */
			break;
		id = out->i;
		object = field->target;
		segment = dot + 1;
	}
	free(copy);
	return rc;
}

/* The compiled SQL of text over object, run as SELECT t0.id, <sql> ... ORDER BY t0.id. */
static sqlite3_stmt *prepare_compiled(sqlite3 *db, const struct meta_object *object, const char *text,
                                      bool as_filter, char *err, size_t errlen)
{
	struct expr *e;
	if (expr_parse(text, &e, err, errlen) != CRM_OK)
		return NULL;
	struct expr_sql b;
	builder_init(&b, object);
	struct strbuf sql = {0}, compiled = {0};
	sqlite3_stmt *stmt = NULL;
	if (expr_compile(&b, e, &compiled, err, errlen) == CRM_OK) {
		strbuf_printf(&sql, "SELECT t0.\"id\", %s FROM ", as_filter ? "1" : compiled.data);
		strbuf_ident(&sql, object->name);
		strbuf_printf(&sql, " t0%s", b.joins.data ? b.joins.data : "");
		if (as_filter)
			strbuf_printf(&sql, " WHERE %s", compiled.data);
		strbuf_puts(&sql, " ORDER BY t0.\"id\"");
		if (sqlite3_prepare_v2(db, sql.data, -1, &stmt, NULL) != SQLITE_OK) {
			snprintf(err, errlen, "prepare: %s: %s", sqlite3_errmsg(db), sql.data);
			stmt = NULL;
		}
		for (int i = 0; stmt && i < b.bind_count; i++) {
			const struct expr_value *v = &b.binds[i];
			switch (v->type) {
			case EV_INT: case EV_BOOL: sqlite3_bind_int64(stmt, i + 1, v->i); break;
			case EV_REAL: sqlite3_bind_double(stmt, i + 1, v->r); break;
			case EV_TEXT: sqlite3_bind_text(stmt, i + 1, v->s, -1, SQLITE_TRANSIENT); break;
			default: sqlite3_bind_null(stmt, i + 1); break;
			}
		}
	}
	strbuf_free(&sql);
	strbuf_free(&compiled);
	expr_sql_free(&b);
	expr_free(e);
	return stmt;
}

/* expr_eval of text on one row; returns non-zero on an evaluation error. */
static int eval_row(sqlite3 *db, const struct meta_object *object, const struct expr *e, int64_t id,
                    struct expr_value *out, char *err, size_t errlen)
{
	struct row_context ctx = { .db = db, .object = object, .id = id };
	struct expr_env env = { .lookup = row_lookup, .user_field = user_field, .arg = &ctx, .me = 42,
	                        .now = fixed_now() };
	int rc = expr_eval(e, &env, out, err, errlen);
	for (int i = 0; i < ctx.text_count; i++)
		free(ctx.texts[i]);
	if (rc == CRM_OK && ctx.failures)
		rc = CRM_EINVAL;
	return rc;
}

static int64_t *all_ids(sqlite3 *db, const struct meta_object *object, int *count)
{
	struct strbuf sql = {0};
	strbuf_puts(&sql, "SELECT \"id\" FROM ");
	strbuf_ident(&sql, object->name);
	strbuf_puts(&sql, " ORDER BY \"id\"");
	sqlite3_stmt *stmt;
	if (sqlite3_prepare_v2(db, sql.data, -1, &stmt, NULL) != SQLITE_OK)
		abort();
	strbuf_free(&sql);
	int64_t *ids = NULL;
	*count = 0;
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		ids = xrealloc(ids, (size_t)(*count + 1) * sizeof(*ids));
		ids[(*count)++] = sqlite3_column_int64(stmt, 0);
	}
	sqlite3_finalize(stmt);
	return ids;
}

/*
 * Checks that the ids SQLite selects with the compiled filter are exactly the
 * ids for which expr_eval is true. Returns the number of disagreements.
 */
static int filter_disagreements(sqlite3 *db, const struct meta_object *object, const char *text)
{
	char err[512];
	sqlite3_stmt *stmt = prepare_compiled(db, object, text, true, err, sizeof(err));
	if (!stmt) {
		fprintf(stderr, "  %s: %s\n", text, err);
		return 1;
	}
	struct expr *e;
	if (expr_parse(text, &e, err, sizeof(err)) != CRM_OK || expr_check(e, &test_meta, object, err, sizeof(err)) != CRM_OK)
		abort();
	int count, disagreements = 0, selected = 0;
	int64_t *ids = all_ids(db, object, &count);
	int step = sqlite3_step(stmt);
	for (int i = 0; i < count; i++) {
		bool in_sql = step == SQLITE_ROW && sqlite3_column_int64(stmt, 0) == ids[i];
		if (in_sql) {
			step = sqlite3_step(stmt);
			selected++;
		}
		struct expr_value v;
		bool in_c = false;
		if (eval_row(db, object, e, ids[i], &v, err, sizeof(err)) != CRM_OK) {
			fprintf(stderr, "  %s: row %" PRId64 ": %s\n", text, ids[i], err);
			disagreements++;
			continue;
		}
		in_c = expr_truthy(&v);
		expr_value_clear(&v);
		if (in_c != in_sql) {
			fprintf(stderr, "  %s: row %" PRId64 ": sql %s, c %s\n", text, ids[i], in_sql ? "selects" : "skips",
			        in_c ? "true" : "not true");
			disagreements++;
		}
	}
	if (step != SQLITE_DONE) {
		fprintf(stderr, "  %s: sql step %d: %s\n", text, step, sqlite3_errmsg(db));
		disagreements++;
	}
	sqlite3_finalize(stmt);
	expr_free(e);
	free(ids);
	return disagreements;
}

/* Both null, equal numbers (int or real) or equal text. */
static bool same_value(sqlite3_stmt *stmt, int column, const struct expr_value *v)
{
	switch (sqlite3_column_type(stmt, column)) {
	case SQLITE_NULL:
		return v->type == EV_NULL;
	case SQLITE_INTEGER: {
		int64_t i = sqlite3_column_int64(stmt, column);
		return (v->type == EV_INT || v->type == EV_BOOL) ? v->i == i : v->type == EV_REAL && v->r == (double)i;
	}
	case SQLITE_FLOAT: {
		double r = sqlite3_column_double(stmt, column);
		return v->type == EV_REAL ? v->r == r : (v->type == EV_INT && (double)v->i == r);
	}
	case SQLITE_TEXT:
		return v->type == EV_TEXT && strcmp(v->s, (const char *)sqlite3_column_text(stmt, column)) == 0;
	default:
		return false;
	}
}

/* Checks that the value SQLite computes for text equals expr_eval's, row by row. */
static int value_disagreements(sqlite3 *db, const struct meta_object *object, const char *text)
{
	char err[512];
	sqlite3_stmt *stmt = prepare_compiled(db, object, text, false, err, sizeof(err));
	if (!stmt) {
		fprintf(stderr, "  %s: %s\n", text, err);
		return 1;
	}
	struct expr *e;
	if (expr_parse(text, &e, err, sizeof(err)) != CRM_OK || expr_check(e, &test_meta, object, err, sizeof(err)) != CRM_OK)
		abort();
	int disagreements = 0;
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(stmt, 0);
		struct expr_value v;
		if (eval_row(db, object, e, id, &v, err, sizeof(err)) != CRM_OK) {
			fprintf(stderr, "  %s: row %" PRId64 ": %s\n", text, id, err);
			disagreements++;
			continue;
		}
		if (!same_value(stmt, 1, &v)) {
			char c_value[256];
			describe(&v, c_value, sizeof(c_value));
			fprintf(stderr, "  %s: row %" PRId64 ": sql '%s' (type %d), c %s\n", text, id,
			        sqlite3_column_text(stmt, 1) ? (const char *)sqlite3_column_text(stmt, 1) : "NULL",
			        sqlite3_column_type(stmt, 1), c_value);
			disagreements++;
		}
		expr_value_clear(&v);
	}
	sqlite3_finalize(stmt);
	expr_free(e);
	return disagreements;
}

static const char *const equivalence_filters[] = {
	"amount > 1000",
	"amount >= 1000 and stage = 'won'",
	"stage = 'won' or probability > 50",
	"not (stage = 'lost')",
	"stage in ('won', 'negotiation')",
	"stage not in ('won', 'lost', null)",
	"stage not in ('won', 'lost')",
	"amount is null or probability is null",
	"close_date is not null and close_date < '2024-06-01'",
	"name like '%corp%'",
	"name not like 'a_c%'",
	"name like '_clair'",
	"account.industry = 'tech'",
	"account.parent.name = 'Holding'",
	"account.parent.parent.industry is null",
	"account.annual_revenue > amount * 10",
	"expected > 500",
	"expected is null",
	"label like 'a%'",
	"closed",
	"closed and amount > 100",
	"not closed",
	"null or closed",
	"(amount > 100) = closed",
	"account.is_active or amount < 50",
	"quantity / 2 = 2",
	"quantity / 4 > 1.5",
	"quantity % 3 = 1",
	"quantity % 3 = -2",
	"days_between(close_date, '2024-12-31') > 100",
	"days_between(close_date, today()) < 0",
	"if(amount > 1000, 'big', 'small') = 'big'",
	"coalesce(amount, 0) < 100",
	"lower(name) = 'acme deal' or upper(stage) like 'W%'",
	"len(name) > 5",
	"name || '-' || stage = 'Acme deal-won'",
	"owner = $me or owner = 1",
	"owner.team = $user.team",
	"owner.team in ($user.team, 'west')",
	"name = 5",
	"name > 10",
	"name < 10",
	"name in (5, 'abc')",
	"name not in (5, 'x')",
	"name = '5'",
	"amount = '1000'",
	"amount < 'abc'",
	"amount >= '  1e3 '",
	"probability * 2 > amount / 100",
	"-amount < -500",
	"amount + quantity > 1000",
	"stage = null",
	"not (amount > 100 and stage = 'won')",
	"account.name like '%' || 'o' || '%'",
	"close_date > '2024'",
	"name like '5%'",
	"amount like '1%'",
	"quantity || '' = '4'",
	"expected / quantity > 10",
	"quantity in ('4', 5)",
	"name in ('5', 5)",
	"if(closed, quantity, amount) > 10",
	"coalesce(name, stage) like 'p%'",
	"amount / 0 is null",
	"quantity % 0 is null",
	"-quantity > 5",
	"$me in (1, 42) and closed",
	"account.owner = owner",
	"close_date = today() or close_date < now()",
	/* date arithmetic and the functions of gap C3 */
	"close_date + 30 > '2024-06-01'",
	"close_date - 7 < today()",
	"close_date - today() > 100",
	"today() - close_date > 30",
	"follow_up < '2024-04-01'",
	"add_months(close_date, 1) > '2024-03-30'",
	"year(close_date) = 2024 and month(close_date) in (2, 3)",
	"date_trunc('quarter', close_date) = '2024-04-01'",
	"round(amount, 0) = 1000",
	"round(probability, 1) > 33.3",
	"abs(quantity) > 5",
	"min(amount, 500) = 500",
	"max(close_date, '2024-06-01') = close_date",
	"substr(name, 1, 1) = 'a'",
	"concat(name, stage) like '%won'",
	"hours_between(close_date, '2024-06-01T12:00:00Z') > 24",
};

static void test_sql_and_c_select_the_same_rows(void)
{
	meta_setup();
	for (int typed = 1; typed >= 0; typed--) {
		sqlite3 *db = open_database(typed);
		int disagreements = 0;
		for (int i = 0; i < COUNT(equivalence_filters); i++)
			disagreements += filter_disagreements(db, OPPORTUNITY, equivalence_filters[i]);
		sqlite3_close(db);
		ASSERT_EQ(disagreements, 0);
	}
}

static const char *const equivalence_values[] = {
	"amount * probability / 100",
	"expected",
	"label",
	"quantity / 2",
	"quantity / 3 * 3",
	"quantity % 3",
	"probability / 3",
	"-quantity",
	"quantity * 2 + 1",
	"amount - quantity",
	"name || '/' || coalesce(stage, '?')",
	"lower(name) || upper(name)",
	"len(name)",
	"len(amount)",
	"days_between(close_date, '2024-12-31')",
	"days_between('2024-12-31 18:00', close_date)",
	"if(closed, amount, -1)",
	"amount || ''",
	"probability || ''",
	"account.annual_revenue / 1000",
	"account.parent.name || account.name",
	"coalesce(name, 0)",
	"closed + 1",
	"amount > 100",
	"stage in ('won', null)",
	/* date arithmetic: a whole number of days, a real one truncated, null */
	"close_date + 30",
	"30 + close_date",
	"close_date - 1",
	"close_date - quantity",
	"close_date + probability",
	"close_date + null",
	"close_date - close_date",
	"today() - close_date",
	"close_date - today()",
	"follow_up",
	"follow_up - close_date",
	"add_days(close_date, -45)",
	"add_days(close_date, quantity)",
	"add_days(close_date, amount)",
	"add_days(null, 1)",
	"add_days(now(), 1)",
	"add_months(close_date, 1)",
	"add_months(close_date, -13)",
	"add_months(close_date, quantity)",
	"add_months(today(), null)",
	"year(close_date)",
	"month(close_date)",
	"date_trunc('month', close_date)",
	"date_trunc('quarter', close_date)",
	"date_trunc('year', close_date)",
	"hours_between(close_date, now())",
	"hours_between('2024-01-01T00:00:00Z', close_date)",
	/* numbers */
	"round(amount, 2)",
	"round(probability, 1)",
	"round(amount * probability / 100, 2)",
	"round(quantity, 3)",
	"round(-amount, 0)",
	"round(expected, 9)",
	"round(2.675, 2)",
	"round(1.005, 2)",
	"round(-0.5, 0)",
	"round(0.285, 2)",
	"round(-2.5, 0)",
	"round(4503599627370495.5, 0)",
	"round(1e300, 2)",
	"round(null, 2)",
	"abs(amount)",
	"abs(quantity)",
	"abs(-probability)",
	"abs(null)",
	"min(amount, probability)",
	"max(amount, quantity)",
	"min(quantity, 4)",
	"max(quantity, 4.0)",
	"min(1, 1.0)",
	"max(1, 1.0)",
	"max(close_date, today())",
	"min(name, stage)",
	"min(amount, null)",
	"max(null, name)",
	/* text */
	"substr(name, 2, 3)",
	"substr(name, -3, 2)",
	"substr(name, 0, 2)",
	"substr(name, 2, -1)",
	"substr(name, quantity, 2)",
	"substr(name, 1, quantity)",
	"substr(amount, 1, 3)",
	"substr(null, 1, 2)",
	"substr(name, null, 2)",
	"concat(name, ' ', stage)",
	"concat(amount)",
	"concat(quantity)",
	"concat(null, quantity, closed, probability)",
	"concat(name)",
	"concat(null)",
};

static void test_sql_and_c_compute_the_same_values(void)
{
	meta_setup();
	sqlite3 *db = open_database(true);
	int disagreements = 0;
	for (int i = 0; i < COUNT(equivalence_values); i++)
		disagreements += value_disagreements(db, OPPORTUNITY, equivalence_values[i]);
	sqlite3_close(db);
	ASSERT_EQ(disagreements, 0);
}

/* Many values for x, t and d of the sample table, to compare text forms, numeric text and dates. */
static sqlite3 *open_samples(bool typed)
{
	sqlite3 *db = open_database(typed);
	static const char *const texts[] = {
		"5", " 5", "5 ", "+5", "5.", ".5", "-.5", "1e2", "1E2", "1e+2", "1e-2", "5e", "0x10", "", " ", "5abc",
		"-0", "0005", "1_0", "Inf", "99999999999999999999", "1e999", "\t5\n", "\v5", "5\r", "- 5", "--5",
		"abc", "ABC", "Zed", "10", "9", "100.0", "1.0e+20", "-9223372036854775808", "9223372036854775807",
		"9223372036854775808", "0.1", "３", "é", "héllo wörld", "商机管理系统", "a😀b", "Ünïcødé",
	};
	static const char *const dates[] = {
		"2024-01-01", "2024-01-02T12:00:00Z", "2024-03-01 10:00", "2024-02-30", "2023-12-31 23:59:59.999",
		"2024-01-01 10:00:00.0005", "2024-01-01T10:00+05:30", "2024-01-01 10:00 -14:00", "12:30", "24:00",
		"2460000.5", " 2460000.5 ", "garbage", "", "2024-1-1", "-0001-06-01", "9999-12-31", "2024-01-01Z",
		"2024-01-01 24:00", "0000-01-01 00:00 +14:00", "2024-01-01 10:00:00.", "2024-01-01  T10:00",
		"2024-01-01 10:00+15:00", "2024-01-01 10:00:60", "-4713-11-25 12:00", "9999-12-31 23:59:59.9999",
		"10:00Z", "2024-01-01T10:00:00.123456789Z", "5373484", "1970-01-01T00:00:00Z",
		/* month ends and leap years, for add_months, date_trunc and date arithmetic */
		"2024-01-31", "2023-01-31", "2024-02-29", "2023-02-28", "2000-02-29", "1900-02-28", "2100-03-31",
		"2024-03-31", "2024-05-31T23:30:00Z", "2024-08-31T00:30:00+02:00", "2024-12-31", "0000-01-01",
		"-4713-11-24 12:00", "-4713-11-30", "9999-12-01", "1582-10-10",
	};
	sqlite3_stmt *stmt;
	if (sqlite3_prepare_v2(db, "INSERT INTO sample (x, t, d) VALUES (?, ?, ?)", -1, &stmt, NULL) != SQLITE_OK)
		abort();
	uint64_t seed = 0x9e3779b97f4a7c15u;
	int rows = COUNT(texts) > COUNT(dates) ? COUNT(texts) : COUNT(dates);
	rows = rows < 160 ? 160 : rows;
	for (int i = 0; i < rows; i++) {
		seed = seed * 6364136223846793005u + 1442695040888963407u;
		double x;
		switch (i % 8) {
		case 0: x = ldexp((double)(seed >> 11), (int)(seed % 120) - 100); break;  /* wide range */
		case 1: x = (double)(int64_t)(seed >> 40) / 100.0; break;              /* money-like */
		case 2: x = pow(10.0, (double)(i / 8 % 40) - 20); break;               /* powers of ten */
		case 3: x = -(double)(seed >> 20) / 7.0; break;
		case 4: x = (double)(i * 1000); break;
		case 5: x = 1.0 / (double)(i + 1); break;
		case 6: x = (double)(seed >> 11) * 1e-3; break;
		default: x = (i & 16) ? 0.1 * i : -0.0; break;
		}
		sqlite3_bind_double(stmt, 1, x);
		sqlite3_bind_text(stmt, 2, texts[i % COUNT(texts)], -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 3, dates[i % COUNT(dates)], -1, SQLITE_STATIC);
		if (sqlite3_step(stmt) != SQLITE_DONE)
			abort();
		sqlite3_reset(stmt);
	}
	sqlite3_finalize(stmt);
	/* every date against every other one, in the d column of extra rows */
	exec_sql(db, "CREATE TABLE pairs AS SELECT DISTINCT a.d AS d1, b.d AS d2 FROM sample a, sample b");
	exec_sql(db, "INSERT INTO pair (a, b) SELECT d1, d2 FROM pairs");
	/* day: d typed as a date; k: days or months, small, negative, 32-bit and 64-bit extremes, null */
	exec_sql(db, "UPDATE sample SET day = d, k = CASE WHEN id % 11 = 0 THEN NULL ELSE CASE id % 10"
	             " WHEN 0 THEN 1 WHEN 1 THEN -1 WHEN 2 THEN 30 WHEN 3 THEN -365 WHEN 4 THEN 12 WHEN 5 THEN -13"
	             " WHEN 6 THEN 0 WHEN 7 THEN 4294967298 WHEN 8 THEN 9223372036854775807"
	             " ELSE -9223372036854775808 END END");
	return db;
}

static void test_numbers_as_text_match_sqlite(void)
{
	meta_setup();
	sqlite3 *db = open_samples(true);
	int disagreements = value_disagreements(db, SAMPLE, "x || ''")
	                    + value_disagreements(db, SAMPLE, "x * 1e10 || ''")
	                    + value_disagreements(db, SAMPLE, "x / 3 || ''")
	                    + value_disagreements(db, SAMPLE, "len(x)")
	                    + value_disagreements(db, SAMPLE, "upper(x)")
	                    + filter_disagreements(db, SAMPLE, "x like '%e+%'")
	                    + filter_disagreements(db, SAMPLE, "x like '%.0'");
	sqlite3_close(db);
	ASSERT_EQ(disagreements, 0);
}

static void test_text_against_numbers_matches_sqlite(void)
{
	meta_setup();
	const char *filters[] = {
		"t = 5", "t < 5", "t > 5", "t >= 10", "t = 0", "t < -1", "t = 0.5", "t = -0.5", "t = 100",
		"t = 1e20", "t > 9223372036854775806", "t = x", "t < x", "x < t", "t in (5, 100, 'abc')",
		"t not in (5, 0.1)", "t = 5.0", "t = true", "t like '5%'", "t = '5'", "x = t || ''",
		"t > 1000000", "lower(t) = 5", "t || '' < 5",
	};
	for (int typed = 1; typed >= 0; typed--) {
		sqlite3 *db = open_samples(typed);
		int disagreements = 0;
		for (int i = 0; i < COUNT(filters); i++)
			disagreements += filter_disagreements(db, SAMPLE, filters[i]);
		sqlite3_close(db);
		ASSERT_EQ(disagreements, 0);
	}
}

/* Two texts, a and b, for days_between(a, b). */
static int pair_lookup(void *arg, const char *path, struct expr_value *out)
{
	const char *const *pair = arg;
	out->type = EV_TEXT;
	out->s = (char *)pair[path[0] == 'b'];
	return 0;
}

static void test_days_between_matches_sqlite(void)
{
	meta_setup();
	sqlite3 *db = open_samples(true);
	int disagreements = value_disagreements(db, SAMPLE, "days_between(d, '2024-06-15T06:00:00Z')")
	                    + value_disagreements(db, SAMPLE, "days_between('2000-01-01', d)")
	                    + value_disagreements(db, SAMPLE, "days_between(d, x)")
	                    + value_disagreements(db, SAMPLE, "days_between(t, d)");
	/* every pair of sample dates, against SQLite's own julianday() */
	struct expr *e;
	char err[256];
	ASSERT_EQ(expr_parse("days_between(a, b)", &e, err, sizeof(err)), CRM_OK);
	sqlite3_stmt *stmt;
	if (sqlite3_prepare_v2(db, "SELECT d1, d2, CAST(julianday(d2) - julianday(d1) AS INTEGER) FROM pairs", -1,
	                       &stmt, NULL) != SQLITE_OK)
		abort();
	int pairs = 0;
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		const char *pair[2] = { (const char *)sqlite3_column_text(stmt, 0), (const char *)sqlite3_column_text(stmt, 1) };
		struct expr_env env = { .lookup = pair_lookup, .arg = pair, .now = fixed_now() };
		struct expr_value v;
		ASSERT_EQ(expr_eval(e, &env, &v, err, sizeof(err)), CRM_OK);
		if (!same_value(stmt, 2, &v)) {
			char c_value[64];
			describe(&v, c_value, sizeof(c_value));
			fprintf(stderr, "  days_between('%s', '%s'): sql %s, c %s\n", pair[0], pair[1],
			        sqlite3_column_text(stmt, 2) ? (const char *)sqlite3_column_text(stmt, 2) : "NULL", c_value);
			disagreements++;
		}
		pairs++;
	}
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	expr_free(e);
	ASSERT(pairs > 800);
	ASSERT_EQ(disagreements, 0);
}

/* The functions of gap C3 and date arithmetic over every sample value and every pair of sample dates. */
static void test_new_functions_match_sqlite_on_many_values(void)
{
	static const char *const sample_values[] = {
		"day + k", "day - k", "k + day", "day - 30", "day + x", "day - x", "day - day",
		"add_days(day, k)", "add_days(d, k)", "add_days(d, x)", "add_days(t, 1)",
		"add_months(day, k)", "add_months(d, 1)", "add_months(day, -1)", "add_months(d, x)", "add_months(d, 24)",
		"year(d)", "month(d)", "year(day)", "month(t)",
		"date_trunc('month', d)", "date_trunc('quarter', d)", "date_trunc('year', day)", "date_trunc('quarter', t)",
		"hours_between(d, '2024-06-15T06:00:00Z')", "hours_between(day, d)", "hours_between(t, d)",
		"round(x, 0)", "round(x, 1)", "round(x, 2)", "round(x, 5)", "round(x, 9)", "round(-x, 1)", "round(x / 7, 3)",
		"round(k, 2)", "abs(x)", "abs(-x)", "min(x, 0.5)", "max(x, -x)", "min(k, x)", "max(k, 0)",
		"min(t, d)", "max(d, day)", "min(day, today())",
		"substr(t, 2, 2)", "substr(t, -2, 5)", "substr(t, 0, 3)", "substr(t, k, 2)", "substr(t, 1, k)",
		"substr(t, x, 2)", "substr(x, 2, 3)", "substr(d, 6, -2)",
		"concat(t, x, k, d)", "concat(k)", "concat(x)",
	};
	static const char *const sample_filters[] = {
		"day + k > d", "add_months(day, 1) > day", "date_trunc('month', d) = day", "round(x, 2) > 0.5",
		"substr(t, 1, 1) = '5'", "year(day) = 2024 and month(day) = 2",
	};
	static const char *const pair_values[] = {
		"a - b", "b - a", "hours_between(a, b)", "min(a, b)", "max(a, b)", "a - b = days_between(b, a)",
		"add_months(a, 1) - b",
	};
	meta_setup();
	sqlite3 *db = open_samples(true);
	int disagreements = 0;
	for (int i = 0; i < COUNT(sample_values); i++)
		disagreements += value_disagreements(db, SAMPLE, sample_values[i]);
	for (int i = 0; i < COUNT(sample_filters); i++)
		disagreements += filter_disagreements(db, SAMPLE, sample_filters[i]);
	for (int i = 0; i < COUNT(pair_values); i++)
		disagreements += value_disagreements(db, PAIR, pair_values[i]);
	sqlite3_close(db);
	ASSERT_EQ(disagreements, 0);
}

/* ---- geo: distance(), within(), point() ---------------------------------- */

static const char *const geo_filters[] = {
	"within(at, point(48.137, 11.575), 5000)",
	"within(at, point(48.137, 11.575), 700)",
	"within(at, point(48.137, 11.575), 704)",
	"not within(at, point(48.137, 11.575), 5000)",
	"within(at, point(48.137, 11.575), 5000) is null",
	"within(at, point(48.137, 11.575), 5000) or name = 'nowhere'",
	"within(at, point(0, 180), 50)",
	"within(at, point(0, -179.99995), 20)",
	"within(at, point(90, 0), 12000)",
	"within(at, point(89.95, -60), 10000)",
	"within(at, point(-90, 0), 1)",
	"within(at, point(-48.137, -168.425), 1000)",
	"within(at, point(48.137, 11.575), 20015087)",
	"within(at, point(48.137, 11.575), 10007543)",
	"within(at, point(0, 0), 0)",
	"within(at, point(31.2304, 121.4737), 100)",
	"within(at, point(31.2304, 121.4737), 72)",
	"within(at, point(lat, lng), 100)",
	"within(at, near.at, 1000)",
	"within(near.at, point(48.137, 11.575), 1000)",
	"distance(at, point(48.137, 11.575)) < 5000",
	"distance(at, near.at) > 100000",
};

static const char *const geo_values[] = {
	"distance(at, point(48.137, 11.575))",
	"distance(at, point(0, 180))",
	"distance(at, point(-90, 0))",
	"distance(point(lat, lng), at)",
	"distance(at, near.at)",
	"distance(at, at)",
	"distance(near.at, point(-48.137, -168.425))",
	"within(at, point(48.137, 11.575), 5000)",
	"within(at, point(lat, lng), 0)",
	"round(distance(at, point(31.2304, 121.4737)), 0)",
	"distance(point(lat, lng), point(-lat, lng + 180))",
};

static void test_geo_sql_and_c_agree(void)
{
	meta_setup();
	for (int typed = 1; typed >= 0; typed--) {
		sqlite3 *db = open_database(typed);
		int disagreements = 0;
		for (int i = 0; i < COUNT(geo_filters); i++)
			disagreements += filter_disagreements(db, PLACE, geo_filters[i]);
		for (int i = 0; i < COUNT(geo_values); i++)
			disagreements += value_disagreements(db, PLACE, geo_values[i]);
		sqlite3_close(db);
		ASSERT_EQ(disagreements, 0);
	}
}

/* The ids SQLite selects with the compiled filter, as "1,2,3". */
static const char *selected_ids(sqlite3 *db, const struct meta_object *object, const char *text)
{
	static char out[1024];
	char err[512];
	sqlite3_stmt *stmt = prepare_compiled(db, object, text, true, err, sizeof(err));
	if (!stmt) {
		snprintf(out, sizeof(out), "error:%s", err);
		return out;
	}
	struct strbuf ids = {0};
	strbuf_puts(&ids, "");
	while (sqlite3_step(stmt) == SQLITE_ROW)
		strbuf_printf(&ids, "%s%lld", ids.len ? "," : "", (long long)sqlite3_column_int64(stmt, 0));
	sqlite3_finalize(stmt);
	snprintf(out, sizeof(out), "%s", ids.data);
	strbuf_free(&ids);
	return out;
}

static double eval_number(const char *text)
{
	const char *repr = eval_repr(text);
	if (strncmp(repr, "real:", 5) != 0) {
		fprintf(stderr, "  %s: %s\n", text, repr);
		return NAN;
	}
	return strtod(repr + 5, NULL);
}

static void test_distance_is_haversine_in_metres(void)
{
	const double half_circumference = 3.14159265358979323846 * 6371008.8;
	/* the acceptance story of DOMAIN.md B6: a check-in about 72 m from its account, another 2.1 km */
	double near = eval_number("distance(point(31.2304, 121.4737), point(31.2310, 121.4740))");
	ASSERT(near > 72.5 && near < 72.6);
	double far = eval_number("distance(point(31.2493, 121.4737), point(31.2310, 121.4740))");
	ASSERT(far > 2035 && far < 2035.2);
	ASSERT(fabs(eval_number("distance(point(31.2304, 121.4737), point(31.2493, 121.4737))") - 2101.587) < 0.001);
	/* identical points, the antipodes, pole to pole, across the date line */
	ASSERT_STR_EQ(eval_repr("distance(point(10, 20), point(10, 20))"), "real:0");
	ASSERT(fabs(eval_number("distance(point(0, 0), point(0, 180))") - half_circumference) < 1e-6);
	ASSERT(fabs(eval_number("distance(point(90, 0), point(-90, 0))") - half_circumference) < 1e-6);
	ASSERT(fabs(eval_number("distance(point(48.137, 11.575), point(-48.137, -168.425))") - half_circumference) < 1e-6);
	ASSERT(fabs(eval_number("distance(point(0, 179.5), point(0, -179.5))") - half_circumference / 180) < 1e-6);
	ASSERT(fabs(eval_number("distance(point(90, 0), point(90, 120))")) < 1e-6);  /* one pole, any longitude */
	ASSERT_STR_EQ(eval_repr("distance(point(0, 180), point(0, -180))"), "real:0");
	/* symmetric, nulls, and points out of range read as null (a field's value never fails a query) */
	ASSERT(eval_number("distance(point(1, 2), point(3, 4))") == eval_number("distance(point(3, 4), point(1, 2))"));
	ASSERT_STR_EQ(eval_repr("distance(point(n, 2), point(3, 4))"), "null");
	ASSERT_STR_EQ(eval_repr("within(point(1, 2), point(1, 2), n)"), "false");   /* within is a predicate: never null */
	ASSERT_STR_EQ(eval_repr("within(point(n, 2), point(1, 2), 5)"), "false");
	ASSERT_STR_EQ(eval_repr("distance(point(i * 100, 2), point(3, 4))"), "null");
	ASSERT_STR_EQ(eval_repr("within(point(1, 2), point(1, 2), 0)"), "true");
	ASSERT_STR_EQ(eval_repr("distance(point(s, 2), point(3, 4))"),
	              "error:column 1: function 'distance' needs numbers for latitude and longitude, not text");
}

static void test_within_boundary_is_the_exact_distance(void)
{
	meta_setup();
	sqlite3 *db = open_database(true);
	/* place 4 lies 72.56 m from the check-in at (31.2304, 121.4737): the radius that reaches it, a hair less */
	double metres = eval_number("distance(point(31.231, 121.474), point(31.2304, 121.4737))");
	char filter[160];
	snprintf(filter, sizeof(filter), "within(at, point(31.2304, 121.4737), %.17g)", metres);
	ASSERT_STR_EQ(selected_ids(db, PLACE, filter), "4");
	ASSERT_EQ(filter_disagreements(db, PLACE, filter), 0);
	snprintf(filter, sizeof(filter), "within(at, point(31.2304, 121.4737), %.17g)", nextafter(metres, 0));
	ASSERT_STR_EQ(selected_ids(db, PLACE, filter), "");
	ASSERT_EQ(filter_disagreements(db, PLACE, filter), 0);
	/* the box: a radius of 0 finds the point itself; the date line and the poles from either side */
	ASSERT_STR_EQ(selected_ids(db, PLACE, "within(at, point(0, 0), 0)"), "13");
	ASSERT_STR_EQ(selected_ids(db, PLACE, "within(at, point(0, 180), 50)"), "9,10,11");
	ASSERT_STR_EQ(selected_ids(db, PLACE, "within(at, point(0, -179.9999), 1)"), "10");
	ASSERT_STR_EQ(selected_ids(db, PLACE, "within(at, point(90, 0), 12000)"), "6,7");
	ASSERT_STR_EQ(selected_ids(db, PLACE, "within(at, point(89.95, -60), 10000)"), "6");   /* 7: 16.7 km over the pole */
	ASSERT_STR_EQ(selected_ids(db, PLACE, "within(at, point(89.95, -60), 17000)"), "6,7");
	ASSERT_STR_EQ(selected_ids(db, PLACE, "within(at, point(-90, 0), 1)"), "8");
	ASSERT_STR_EQ(selected_ids(db, PLACE, "within(at, point(-48.137, -168.425), 1000)"), "12");
	ASSERT_STR_EQ(selected_ids(db, PLACE, "within(at, point(48.137, 11.575), 5000)"), "1,2");
	ASSERT_STR_EQ(selected_ids(db, PLACE, "within(at, point(48.137, 11.575), 10000)"), "1,2,3");
	ASSERT_STR_EQ(selected_ids(db, PLACE, "not within(at, point(48.137, 11.575), 45000)"),
	              "4,5,6,7,8,9,10,11,12,13,14,15,16,17");   /* 14 has no point: not within, so listed */
	sqlite3_close(db);
}

/* SQL for text compiled on object, as compile_repr writes it. */
static const char *compile_place(const char *text)
{
	static char out[2048];
	char err[256];
	struct expr *e;
	if (expr_parse(text, &e, err, sizeof(err)) != CRM_OK) {
		snprintf(out, sizeof(out), "error:%s", err);
		return out;
	}
	struct expr_sql b;
	builder_init(&b, PLACE);
	struct strbuf sql = {0};
	if (expr_compile(&b, e, &sql, err, sizeof(err)) != CRM_OK)
		snprintf(out, sizeof(out), "error:%s", err);
	else
		snprintf(out, sizeof(out), "%s |%s", sql.data, b.joins.data ? b.joins.data : "");
	strbuf_free(&sql);
	expr_sql_free(&b);
	expr_free(e);
	return out;
}

static void test_within_searches_the_box_of_the_index(void)
{
	ASSERT_STR_EQ(compile_place("within(at, point(48.137, 11.575), 5000)"),
	              "(t0.\"id\" IN (SELECT \"id\" FROM \"place\" WHERE \"at__lat\" BETWEEN ?4 AND ?5 AND \"at__lng\" "
	              "BETWEEN ?6 AND ?7) AND coalesce(crm_distance(t0.\"at__lat\", t0.\"at__lng\", ?1, ?2) <= ?3, 0)) |");
	/* across the date line: two ranges of longitude; at a pole: every longitude */
	ASSERT_STR_EQ(compile_place("within(at, point(0, 180), 50)"),
	              "(t0.\"id\" IN (SELECT \"id\" FROM \"place\" WHERE \"at__lat\" BETWEEN ?4 AND ?5 AND (\"at__lng\" >= "
	              "?6 OR \"at__lng\" <= ?7)) AND coalesce(crm_distance(t0.\"at__lat\", t0.\"at__lng\", ?1, ?2) <= ?3, 0)) |");
	ASSERT_STR_EQ(compile_place("within(at, point(90, 0), 10)"),
	              "(t0.\"id\" IN (SELECT \"id\" FROM \"place\" WHERE \"at__lat\" BETWEEN ?4 AND ?5) AND "
	              "coalesce(crm_distance(t0.\"at__lat\", t0.\"at__lng\", ?1, ?2) <= ?3, 0)) |");
	/* no constant box: a centre or radius per row, a path through a ref, a quarter of the Earth */
	ASSERT_STR_EQ(compile_place("within(at, point(lat, lng), 10)"),
	              "(coalesce(crm_distance(t0.\"at__lat\", t0.\"at__lng\", t0.\"lat\", t0.\"lng\") <= ?1, 0)) |");
	ASSERT_STR_EQ(compile_place("within(near.at, point(1, 2), 10)"),
	              "(coalesce(crm_distance(j1.\"at__lat\", j1.\"at__lng\", ?1, ?2) <= ?3, 0)) | LEFT JOIN \"place\" j1 ON "
	              "j1.\"id\" = t0.\"near\"");
	ASSERT_STR_EQ(compile_place("within(at, point(1, 2), 10008000)"),
	              "(coalesce(crm_distance(t0.\"at__lat\", t0.\"at__lng\", ?1, ?2) <= ?3, 0)) |");
	ASSERT_STR_EQ(compile_place("distance(at, near.at)"),
	              "(crm_distance(t0.\"at__lat\", t0.\"at__lng\", j1.\"at__lat\", j1.\"at__lng\")) | LEFT JOIN "
	              "\"place\" j1 ON j1.\"id\" = t0.\"near\"");
}

static void test_geo_type_errors_name_the_column(void)
{
	ASSERT_STR_EQ(parse_error("distance(at)"), "column 1: function 'distance' takes 2 arguments, not 1");
	ASSERT_STR_EQ(parse_error("within(at, point(1, 2))"), "column 1: function 'within' takes 3 arguments, not 2");
	ASSERT_STR_EQ(parse_error("point(1, 2, 3)"), "column 1: function 'point' takes 2 arguments, not 3");
	ASSERT_STR_EQ(compile_place("distance(name, at) > 1"),
	              "error:column 10: function 'distance' needs a geo field or point(lat, lng), not 'name' (text)");
	ASSERT_STR_EQ(compile_place("distance(at, 5) > 1"),
	              "error:column 14: function 'distance' needs a geo field or point(lat, lng) there");
	ASSERT_STR_EQ(compile_place("within(at, near, 5)"),
	              "error:column 12: function 'within' needs a geo field or point(lat, lng), not 'near' (ref)");
	ASSERT_STR_EQ(compile_place("within(at, point(1, 2), 'far')"),
	              "error:column 25: function 'within' needs a number, not text");
	ASSERT_STR_EQ(compile_place("within(at, point(name, 2), 5)"),
	              "error:column 18: function 'point' needs a number, not text");
	ASSERT_STR_EQ(compile_place("point(1, 2) is null"),
	              "error:column 1: point(lat, lng) is a place, not a value: use it in distance() or within()");
	ASSERT_STR_EQ(compile_place("distance(at, point(91, 0)) > 1"),
	              "error:column 20: a latitude is from -90 to 90, not 91");
	ASSERT_STR_EQ(compile_place("distance(at, point(0, -180.5)) > 1"),
	              "error:column 24: a longitude is from -180 to 180, not -180.5");
	ASSERT_STR_EQ(compile_place("within(at, point(0, 0), -1)"),
	              "error:column 26: function 'within' needs a distance in metres of 0 or more, not -1");
}

/*
 * The box against the exact test on many random points and circles, most
 * of them near a pole or the date line: the rows the indexed SQL selects are
 * exactly those the evaluator finds within the radius.
 */
/* A deterministic number in [0, 1) (a 64-bit LCG's top bits). */
static double next_random(uint64_t *state)
{
	*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(*state >> 11) / 9007199254740992.0;
}

static void test_within_box_loses_no_point_near_poles_and_date_line(void)
{
	meta_setup();
	sqlite3 *db = open_database(true);
	uint64_t state = 20261207;
	#define NEXT() next_random(&state)
	exec_sql(db, "BEGIN");
	for (int i = 1; i <= 1500; i++) {
		double lat, lng, u = NEXT();
		if (u < 0.3) {           /* anywhere */
			lat = asin(2 * NEXT() - 1) * 180 / 3.14159265358979323846;
			lng = NEXT() * 360 - 180;
		} else if (u < 0.65) {   /* by the date line */
			lat = NEXT() * 170 - 85;
			lng = NEXT() < 0.5 ? 180 - NEXT() * 2 : -180 + NEXT() * 2;
		} else {                 /* by a pole */
			lat = (NEXT() < 0.5 ? 1 : -1) * (90 - NEXT() * 3);
			lng = NEXT() * 360 - 180;
		}
		char sql[200];
		snprintf(sql, sizeof(sql), "INSERT INTO spot(id, p) VALUES (%d, '{\"lat\":%.17g,\"lng\":%.17g}')", i, lat, lng);
		exec_sql(db, sql);
	}
	exec_sql(db, "UPDATE spot SET p__lat = crm_geo_lat(p), p__lng = crm_geo_lng(p); COMMIT");
	int disagreements = 0, selected = 0;
	for (int i = 0; i < 60; i++) {
		double lat = NEXT() < 0.5 ? (NEXT() < 0.5 ? 1 : -1) * (90 - NEXT() * 4) : NEXT() * 178 - 89;
		double lng = NEXT() < 0.6 ? (NEXT() < 0.5 ? 180 - NEXT() * 3 : -180 + NEXT() * 3) : NEXT() * 360 - 180;
		double metres = exp(log(1000.0) + NEXT() * (log(3e6) - log(1000.0)));
		char filter[200];
		snprintf(filter, sizeof(filter), "within(p, point(%.6f, %.6f), %.1f)", lat, lng, metres);
		disagreements += filter_disagreements(db, SPOT, filter);
		const char *ids = selected_ids(db, SPOT, filter);
		selected += *ids ? 1 : 0;
	}
	#undef NEXT
	sqlite3_close(db);
	ASSERT_EQ(disagreements, 0);
	ASSERT(selected > 15);   /* many circles hold points: the test looks at boundaries, not empty sets */
}

static const struct test_case tests[] = {
	{ "every_operator_and_function_parses", test_every_operator_and_function_parses },
	{ "keywords_and_functions_are_case_insensitive", test_keywords_and_functions_are_case_insensitive },
	{ "precedence_follows_the_grammar", test_precedence_follows_the_grammar },
	{ "parse_errors_name_the_column", test_parse_errors_name_the_column },
	{ "strings_refuse_control_characters_and_invalid_utf8", test_strings_refuse_control_characters_and_invalid_utf8 },
	{ "deep_nesting_is_refused_not_a_crash", test_deep_nesting_is_refused_not_a_crash },
	{ "ten_thousand_or_terms_are_refused", test_ten_thousand_or_terms_are_refused },
	{ "in_lists_are_capped_at_500_values", test_in_lists_are_capped_at_500_values },
	{ "overlong_source_and_names_are_refused", test_overlong_source_and_names_are_refused },
	{ "each_path_visits_every_field_path", test_each_path_visits_every_field_path },
	{ "three_valued_logic_matches_sql", test_three_valued_logic_matches_sql },
	{ "truthy_is_true_only_for_true_or_nonzero_numbers", test_truthy_is_true_only_for_true_or_nonzero_numbers },
	{ "comparison_rules", test_comparison_rules },
	{ "arithmetic_keeps_integers_and_checks_overflow", test_arithmetic_keeps_integers_and_checks_overflow },
	{ "division_by_zero_is_null", test_division_by_zero_is_null },
	{ "like_matches_wildcards_without_case", test_like_matches_wildcards_without_case },
	{ "pathological_like_pattern_finishes_quickly", test_pathological_like_pattern_finishes_quickly },
	{ "like_pattern_over_1000_characters_is_refused", test_like_pattern_over_1000_characters_is_refused },
	{ "days_between_counts_whole_days", test_days_between_counts_whole_days },
	{ "if_coalesce_and_text_functions", test_if_coalesce_and_text_functions },
	{ "concat_writes_numbers_as_sqlite_does", test_concat_writes_numbers_as_sqlite_does },
	{ "me_and_user_fields", test_me_and_user_fields },
	{ "failed_lookup_is_not_found", test_failed_lookup_is_not_found },
	{ "compile_binds_every_literal", test_compile_binds_every_literal },
	{ "compile_division_follows_the_c_rules", test_compile_division_follows_the_c_rules },
	{ "compile_text_meeting_numbers_follows_the_c_rules", test_compile_text_meeting_numbers_follows_the_c_rules },
	{ "nested_integer_divisions_are_bounded", test_nested_integer_divisions_are_bounded },
	{ "sql_metacharacters_in_values_only_reach_binds", test_sql_metacharacters_in_values_only_reach_binds },
	{ "hostile_identifiers_are_refused", test_hostile_identifiers_are_refused },
	{ "dotted_paths_join_once_per_prefix", test_dotted_paths_join_once_per_prefix },
	{ "formula_fields_are_inlined", test_formula_fields_are_inlined },
	{ "refused_fields_are_not_readable", test_refused_fields_are_not_readable },
	{ "every_hop_of_a_path_is_checked", test_every_hop_of_a_path_is_checked },
	{ "failed_compile_leaves_the_builder_unchanged", test_failed_compile_leaves_the_builder_unchanged },
	{ "compile_without_user_fields_is_refused", test_compile_without_user_fields_is_refused },
	{ "today_is_taken_once_per_builder", test_today_is_taken_once_per_builder },
	{ "sql_and_c_select_the_same_rows", test_sql_and_c_select_the_same_rows },
	{ "sql_and_c_compute_the_same_values", test_sql_and_c_compute_the_same_values },
	{ "numbers_as_text_match_sqlite", test_numbers_as_text_match_sqlite },
	{ "text_against_numbers_matches_sqlite", test_text_against_numbers_matches_sqlite },
	{ "days_between_matches_sqlite", test_days_between_matches_sqlite },
	{ "date_arithmetic_moves_by_whole_days", test_date_arithmetic_moves_by_whole_days },
	{ "date_arithmetic_type_errors_name_the_column", test_date_arithmetic_type_errors_name_the_column },
	{ "function_type_errors_name_the_column", test_function_type_errors_name_the_column },
	{ "round_is_half_away_from_zero_on_the_decimal", test_round_is_half_away_from_zero_on_the_decimal },
	{ "round_agrees_with_rounding_the_decimal_text", test_round_agrees_with_rounding_the_decimal_text },
	{ "abs_min_max_substr_concat", test_abs_min_max_substr_concat },
	{ "date_functions", test_date_functions },
	{ "new_functions_match_sqlite_on_many_values", test_new_functions_match_sqlite_on_many_values },
	{ "geo_sql_and_c_agree", test_geo_sql_and_c_agree },
	{ "distance_is_haversine_in_metres", test_distance_is_haversine_in_metres },
	{ "within_boundary_is_the_exact_distance", test_within_boundary_is_the_exact_distance },
	{ "within_searches_the_box_of_the_index", test_within_searches_the_box_of_the_index },
	{ "geo_type_errors_name_the_column", test_geo_type_errors_name_the_column },
	{ "within_box_loses_no_point_near_poles_and_date_line", test_within_box_loses_no_point_near_poles_and_date_line },
};

TEST_MAIN(tests)
