/*
 * test_object.c - the object API against a real SQLite file: validation of
 * every field type, create/get/update/delete/restore/purge, lost updates,
 * rollups, formulas, queries with keyset cursors, aggregates and batches.
 */
#include <math.h>
#include "test.h"
#include "fixture.h"
#include "events.h"
#include "gdpr.h"
#include "jsonw.h"
#include "meta.h"
#include "store.h"

static const char *const schema =
	"object: user\n"
	"fields:\n"
	"  login: { type: text, required: true, unique: true }\n"
	"---\n"
	"object: account\n"
	"label: { en: Account, zh: 客户 }\n"
	"fields:\n"
	"  name: { type: text, required: true, max_length: 20, search: true }\n"
	"  industry: { type: enum, values: [tech, retail, bank] }\n"
	"  number: { type: autonumber, format: \"ACC-{0000}\" }\n"
	"  open_total: { type: rollup, of: deal.account, measure: sum(amount), where: \"stage != 'lost'\" }\n"
	"  deal_count: { type: rollup, of: deal.account, measure: count }\n"
	"---\n"
	"object: deal\n"
	"fields:\n"
	"  name: { type: text, required: true }\n"
	"  account: { type: ref, to: account, required: true }\n"
	"  amount: { type: money, min: 0 }\n"
	"  probability: { type: percent, default: 10 }\n"
	"  expected: { type: money, formula: \"amount * probability / 100\" }\n"
	"  stage: { type: enum, values: [open, won, lost], default: open }\n"
	"rules:\n"
	"  - { when: \"stage = 'won' and amount is null\", message: \"A won deal needs an amount\" }\n"
	"---\n"
	"object: note\n"
	"fields:\n"
	"  deal: { type: ref, to: deal, on_delete: cascade }\n"
	"  body: { type: textarea }\n"
	"---\n"
	"object: thing\n"
	"fields:\n"
	"  t_text: { type: text, max_length: 5 }\n"
	"  t_textarea: { type: textarea }\n"
	"  t_email: { type: email }\n"
	"  t_phone: { type: phone }\n"
	"  t_url: { type: url }\n"
	"  t_int: { type: int, min: 0, max: 10 }\n"
	"  t_decimal: { type: decimal }\n"
	"  t_money: { type: money }\n"
	"  t_percent: { type: percent, max: 100 }\n"
	"  t_bool: { type: bool }\n"
	"  t_date: { type: date }\n"
	"  t_datetime: { type: datetime }\n"
	"  t_enum: { type: enum, values: [a, b] }\n"
	"  t_multi: { type: multienum, values: [x, y, z] }\n"
	"  t_ref: { type: ref, to: account, on_delete: set_null }\n"
	"  t_user: { type: user }\n"
	"  t_json: { type: json }\n"
	"  t_geo: { type: geo }\n"
	"  t_auto: { type: autonumber, format: \"T-{000}\" }\n"
	"  t_formula: { type: formula, formula: \"t_int * 2\", returns: int }\n"
	"  t_rollup: { type: rollup, of: part.thing, measure: count }\n"
	"---\n"
	"object: part\n"
	"fields:\n"
	"  thing: { type: ref, to: thing }\n"
	"---\n"
	"object: entry\n"
	"append_only: true\n"
	"fields:\n"
	"  account: { type: ref, to: account, on_delete: restrict }\n"
	"  points: { type: int, required: true }\n"
	"  holder: { type: text, personal: true }\n";

static struct fixture fx;

static int64_t create(const char *object, const char *json)
{
	json_error_t error;
	json_t *values = json_loads(json, 0, &error);
	if (!values) {
		fprintf(stderr, "bad test json: %s\n", error.text);
		return -1;
	}
	json_t *out = NULL;
	int code = object_create(&fx.ctx, object, values, &out);
	json_decref(values);
	if (code != CRM_OK) {
		if (getenv("VERBOSE")) {
			char *e = json_dumps(fx.ctx.field_errors, 0);
			fprintf(stderr, "  create %s failed: %s %s\n", object, fx.ctx.message, e ? e : "");
			free(e);
		}
		return -code;
	}
	int64_t id = json_integer_value(json_object_get(out, "id"));
	json_decref(out);
	return id;
}

static json_t *get(const char *object, int64_t id)
{
	json_t *out = NULL;
	if (object_get(&fx.ctx, object, id, true, &out) != CRM_OK)
		return NULL;
	return out;
}

/* Creates a thing with one field set; returns the code (and keeps the ctx error). */
static int try_thing(const char *field, const char *json_value)
{
	char text[512];
	snprintf(text, sizeof(text), "{\"%s\": %s}", field, json_value);
	crm_error_reset(&fx.ctx);
	json_t *values = json_loads(text, JSON_DECODE_ANY, NULL);
	int code = values ? object_create(&fx.ctx, "thing", values, NULL) : -1;
	json_decref(values);
	return code;
}

static void setup(void)
{
	if (fixture_open(&fx, schema) != CRM_OK) {
		fprintf(stderr, "fixture failed to open\n");
		exit(1);
	}
}

static void test_every_field_type_accepts_valid_values(void)
{
	setup();
	int64_t account = create("account", "{\"name\": \"Acme\"}");
	ASSERT(account > 0);
	char json[1024];
	snprintf(json, sizeof(json),
		"{\"t_text\": \"abc\", \"t_textarea\": \"line1\\nline2\", \"t_email\": \"a.b@example.com\","
		" \"t_phone\": \"+49 (30) 1234-56\", \"t_url\": \"https://example.com/x?y=1\", \"t_int\": 7,"
		" \"t_decimal\": 1.234567, \"t_money\": 12.345, \"t_percent\": 55.5, \"t_bool\": true,"
		" \"t_date\": \"2024-02-29\", \"t_datetime\": \"2024-03-01T10:00:00+02:00\", \"t_enum\": \"b\","
		" \"t_multi\": [\"x\", \"z\", \"x\"], \"t_ref\": %lld, \"t_json\": {\"k\": [1, 2]},"
		" \"t_geo\": {\"lat\": 52.5, \"lng\": 13.4}}", (long long)account);
	int64_t id = create("thing", json);
	ASSERT(id > 0);
	json_t *r = get("thing", id);
	ASSERT(r);
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "t_text")), "abc");
	ASSERT_EQ(json_integer_value(json_object_get(r, "t_int")), 7);
	ASSERT(fabs(json_real_value(json_object_get(r, "t_money")) - 12.35) < 1e-9);
	ASSERT(json_is_true(json_object_get(r, "t_bool")));
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "t_datetime")), "2024-03-01T08:00:00Z");
	ASSERT_EQ(json_array_size(json_object_get(r, "t_multi")), 2);
	ASSERT_EQ(json_integer_value(json_object_get(json_object_get(r, "t_json"), "k") ? json_array_get(json_object_get(json_object_get(r, "t_json"), "k"), 1) : NULL), 2);
	ASSERT(fabs(json_real_value(json_object_get(json_object_get(r, "t_geo"), "lat")) - 52.5) < 1e-9);
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "t_auto")), "T-001");
	ASSERT_EQ(json_integer_value(json_object_get(r, "t_formula")), 14);
	ASSERT_EQ(json_integer_value(json_object_get(r, "t_rollup")), 0);
	ASSERT_EQ(json_integer_value(json_object_get(r, "version")), 1);
	ASSERT(json_is_string(json_object_get(r, "created_at")));
	ASSERT(json_is_null(json_object_get(r, "deleted_at")));
	json_decref(r);
	fixture_close(&fx);
}

/* The page written as text (object_query_text) is the page object_query builds, encoded. */
static void assert_text_page_matches(const struct object_query *q)
{
	json_t *page = NULL;
	ASSERT_EQ(object_query(&fx.ctx, "thing", q, &page), CRM_OK);
	struct jsonw expected = { 0 }, text = { 0 };
	jsonw_value(&expected, page);
	json_decref(page);
	ASSERT_EQ(object_query_text(&fx.ctx, "thing", q, &text), CRM_OK);
	char *want = jsonw_finish(&expected, NULL), *got = jsonw_finish(&text, NULL);
	if (strcmp(want, got) != 0)
		fprintf(stderr, "  object_query:      %s\n  object_query_text: %s\n", want, got);
	ASSERT_STR_EQ(got, want);
	json_t *parsed = json_loads(got, 0, NULL); /* and it is JSON */
	ASSERT(parsed != NULL);
	json_decref(parsed);
	free(want);
	free(got);
}

static void test_text_pages_equal_encoded_pages(void)
{
	setup();
	int64_t account = create("account", "{\"name\": \"Acme\"}");
	char json[1024];
	snprintf(json, sizeof(json),
		"{\"t_text\": \"a\\\"\\\\<\", \"t_textarea\": \"tab\\there\\nnew \\u00e9\\u4e2d \\ud83d\\ude00\","
		" \"t_int\": 7, \"t_decimal\": -0.1, \"t_money\": 12.345, \"t_percent\": 1e-7, \"t_bool\": false,"
		" \"t_date\": \"2024-02-29\", \"t_datetime\": \"2024-03-01T10:00:00+02:00\", \"t_enum\": \"b\","
		" \"t_multi\": [\"x\", \"z\"], \"t_ref\": %lld, \"t_json\": {\"k\": [1, 2.5, null, \"</script>\"]},"
		" \"t_geo\": {\"lat\": 52.5, \"lng\": 13.4}}", (long long)account);
	ASSERT(create("thing", json) > 0);
	ASSERT(create("thing", "{\"t_int\": 0, \"t_bool\": true, \"t_decimal\": 123456789.123456789}") > 0);
	ASSERT(create("thing", "{}") > 0); /* every optional field null */
	for (int i = 0; i < 5; i++)
		ASSERT(create("thing", "{\"t_text\": \"same\", \"t_decimal\": 2.5}") > 0);
	struct object_query all = { .limit = 100 };
	assert_text_page_matches(&all);
	/* and each record as the REST GET writes it */
	for (int64_t id = 1; id <= 8; id++) {
		json_t *record = get("thing", id);
		ASSERT(record != NULL);
		struct jsonw expected = { 0 }, text = { 0 };
		jsonw_value(&expected, record);
		int64_t version = -1;
		ASSERT_EQ(object_get_text(&fx.ctx, "thing", id, true, &text, &version), CRM_OK);
		ASSERT_EQ(version, json_integer_value(json_object_get(record, "version")));
		char *want = jsonw_finish(&expected, NULL), *got = jsonw_finish(&text, NULL);
		ASSERT_STR_EQ(got, want);
		free(want);
		free(got);
		json_decref(record);
	}
	struct object_query paged = { .limit = 3, .sort = "-t_decimal", .count = OBJECT_COUNT_EXACT };
	assert_text_page_matches(&paged);
	struct object_query estimated = { .limit = 2, .fields = "t_text,t_ref.name,t_formula",
	                                  .filter = "t_int is null or t_int >= 0", .count = OBJECT_COUNT_ESTIMATE };
	assert_text_page_matches(&estimated);
	/* the second page, through the first page's cursor */
	json_t *first = NULL;
	ASSERT_EQ(object_query(&fx.ctx, "thing", &paged, &first), CRM_OK);
	struct object_query next = paged;
	next.after = json_string_value(json_object_get(first, "next"));
	ASSERT(next.after != NULL);
	assert_text_page_matches(&next);
	json_decref(first);
	/* an error appends nothing */
	struct jsonw text = { 0 };
	jsonw_raw(&text, "x", 1);
	struct object_query bad = { .filter = "no_such_field = 1" };
	ASSERT_EQ(object_query_text(&fx.ctx, "thing", &bad, &text), CRM_EINVAL);
	ASSERT_EQ(text.len, 1);
	jsonw_free(&text);
	fixture_close(&fx);
}

static void test_every_field_type_refuses_invalid_values(void)
{
	setup();
	static const struct { const char *field, *value, *code; } cases[] = {
		{ "t_text", "\"toolong\"", "max_length" },
		{ "t_text", "12", "type" },
		{ "t_text", "\"a\\u0001b\"", "format" },
		{ "t_email", "\"not-an-email\"", "format" },
		{ "t_email", "\"a@b\"", "format" },
		{ "t_phone", "\"call me\"", "format" },
		{ "t_url", "\"javascript:alert(1)\"", "format" },
		{ "t_url", "\"ftp://x.y\"", "format" },
		{ "t_int", "11", "max" },
		{ "t_int", "-1", "min" },
		{ "t_int", "1.5", "type" },
		{ "t_int", "\"5\"", "type" },
		{ "t_decimal", "\"1.0\"", "type" },
		{ "t_money", "true", "type" },
		{ "t_percent", "101", "max" },
		{ "t_bool", "1", "type" },
		{ "t_date", "\"2023-02-29\"", "format" },
		{ "t_date", "\"2023-13-01\"", "format" },
		{ "t_date", "\"01/02/2023\"", "format" },
		{ "t_datetime", "\"2023-01-01 25:00:00\"", "format" },
		{ "t_datetime", "\"yesterday\"", "format" },
		{ "t_enum", "\"c\"", "enum" },
		{ "t_enum", "\"' OR 1=1 --\"", "enum" },
		{ "t_multi", "[\"x\", \"nope\"]", "enum" },
		{ "t_multi", "\"x\"", "type" },
		{ "t_ref", "999", "ref" },
		{ "t_ref", "\"1\"", "type" },
		{ "t_user", "12345", "ref" },
		{ "t_geo", "{\"lat\": 91, \"lng\": 0}", "range" },
		{ "t_geo", "{\"lat\": 0, \"lng\": -180.01}", "range" },
		{ "t_geo", "[1, 2]", "format" },
		{ "t_geo", "\"48.1, 11.5\"", "format" },
		{ "t_geo", "{\"lat\": 1}", "format" },
		{ "t_geo", "{\"lat\": 1, \"lng\": 2, \"alt\": 3}", "format" },
		{ "t_geo", "{\"lat\": \"1\", \"lng\": 2}", "type" },
		{ "t_geo", "{\"lat\": {\"lat\": 1}, \"lng\": 2}", "type" },
		{ "t_geo", "{\"lat\": 1, \"lng\": null}", "type" },
		{ "t_auto", "\"T-999\"", "readonly" },
		{ "t_formula", "3", "readonly" },
		{ "t_rollup", "3", "readonly" },
		{ "version", "7", "readonly" },
		{ "created_by", "1", "readonly" },
		{ "no_such_field", "1", "unknown" },
		{ "; DROP TABLE thing; --", "1", "unknown" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int code = try_thing(cases[i].field, cases[i].value);
		if (code != CRM_EVALIDATION || strcmp(first_error_code(&fx.ctx), cases[i].code) != 0) {
			fprintf(stderr, "  case %s = %s: code %d, error '%s' (expected %s)\n", cases[i].field,
			        cases[i].value, code, first_error_code(&fx.ctx), cases[i].code);
			ASSERT(0);
		}
	}
	int64_t count = -1;
	ASSERT_EQ(object_count(&fx.ctx, "thing", NULL, &count), CRM_OK);
	ASSERT_EQ(count, 0);
	fixture_close(&fx);
}

static void test_all_field_errors_are_reported_at_once(void)
{
	setup();
	json_t *values = json_pack("{s:i, s:s, s:s}", "t_int", 99, "t_email", "x", "t_enum", "zzz");
	ASSERT_EQ(object_create(&fx.ctx, "thing", values, NULL), CRM_EVALIDATION);
	json_decref(values);
	ASSERT_EQ(json_array_size(fx.ctx.field_errors), 3);
	fixture_close(&fx);
}

static void test_required_fields_and_rules(void)
{
	setup();
	ASSERT_EQ(-create("account", "{}"), CRM_EVALIDATION);
	ASSERT_STR_EQ(first_error_field(&fx.ctx), "name");
	ASSERT_STR_EQ(first_error_code(&fx.ctx), "required");
	int64_t account = create("account", "{\"name\": \"Acme\"}");
	char json[256];
	snprintf(json, sizeof(json), "{\"name\": \"D\", \"account\": %lld, \"stage\": \"won\"}", (long long)account);
	ASSERT_EQ(-create("deal", json), CRM_EVALIDATION);
	ASSERT_STR_EQ(first_error_code(&fx.ctx), "rule");
	ASSERT_CONTAINS(json_string_value(json_object_get(json_array_get(fx.ctx.field_errors, 0), "message")),
	                "needs an amount");
	snprintf(json, sizeof(json), "{\"name\": \"D\", \"account\": %lld, \"stage\": \"won\", \"amount\": 5}",
	         (long long)account);
	ASSERT(create("deal", json) > 0);
	fixture_close(&fx);
}

static void test_unique_field_is_enforced(void)
{
	setup();
	ASSERT(create("user", "{\"login\": \"ann\"}") > 0);
	ASSERT_EQ(-create("user", "{\"login\": \"ann\"}"), CRM_EVALIDATION);
	ASSERT_STR_EQ(first_error_code(&fx.ctx), "unique");
	fixture_close(&fx);
}

static void test_defaults_formula_and_autonumber(void)
{
	setup();
	int64_t a1 = create("account", "{\"name\": \"A\"}");
	int64_t a2 = create("account", "{\"name\": \"B\"}");
	json_t *r = get("account", a2);
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "number")), "ACC-0002");
	json_decref(r);
	char json[256];
	snprintf(json, sizeof(json), "{\"name\": \"D\", \"account\": %lld, \"amount\": 1000}", (long long)a1);
	int64_t d = create("deal", json);
	r = get("deal", d);
	ASSERT(fabs(json_real_value(json_object_get(r, "probability")) - 10) < 1e-9);
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "stage")), "open");
	ASSERT(fabs(json_real_value(json_object_get(r, "expected")) - 100) < 1e-9);
	json_decref(r);
	fixture_close(&fx);
}

/*
 * Gap C3b: `today() + 30` in a date formula, date arithmetic in rules, and
 * the new functions, through create (rules in C), read (formulas in SQL) and
 * a list filter. Before, every create of such an object failed with a 500.
 */
static void test_date_arithmetic_in_formulas_rules_and_filters(void)
{
	if (fixture_open(&fx,
		"object: task\n"
		"fields:\n"
		"  name: { type: text, required: true }\n"
		"  due: { type: date }\n"
		"  amount: { type: money, scale: 4 }\n"
		"  follow_up: { type: date, formula: \"due + 30\" }\n"
		"  reminder: { type: date, formula: \"today() + 30\" }\n"
		"  next_month: { type: date, formula: \"add_months(due, 1)\" }\n"
		"  quarter: { type: date, formula: \"date_trunc('quarter', due)\" }\n"
		"  label: { type: text, formula: \"concat(name, ' ', round(amount, 2), ' ', substr(name, 1, 2))\" }\n"
		"rules:\n"
		"  - { when: \"due - today() > 3650\", message: \"Due more than ten years ahead\" }\n"
		"  - { when: \"due + 1 < '2000-01-01'\", message: \"Too old\" }\n") != CRM_OK) {
		fprintf(stderr, "fixture failed to open\n");
		exit(1);
	}
	int64_t id = create("task", "{\"name\": \"été\", \"due\": \"2024-01-31\", \"amount\": 2.675}");
	ASSERT(id > 0);
	json_t *r = get("task", id);
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "follow_up")), "2024-03-01");
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "next_month")), "2024-02-29");
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "quarter")), "2024-01-01");
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "label")), "été 2.68 ét");
	char expected[32];
	time_t later = time(NULL) + 30 * 86400;
	strftime(expected, sizeof(expected), "%Y-%m-%d", gmtime(&later));
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "reminder")), expected);
	json_decref(r);
	/* the rules, evaluated in C, see dates as dates */
	ASSERT_EQ(-create("task", "{\"name\": \"far\", \"due\": \"2099-01-01\"}"), CRM_EVALIDATION);
	ASSERT_CONTAINS(json_string_value(json_object_get(json_array_get(fx.ctx.field_errors, 0), "message")),
	                "ten years");
	ASSERT_EQ(-create("task", "{\"name\": \"old\", \"due\": \"1999-12-30\"}"), CRM_EVALIDATION);
	ASSERT(create("task", "{\"name\": \"none\"}") > 0);
	/* and a list filter with them compiles to SQL */
	struct object_query q = { .filter = "follow_up < '2024-04-01' and due - 1 = '2024-01-30'", .count = OBJECT_COUNT_EXACT };
	json_t *page = NULL;
	ASSERT_EQ(object_query(&fx.ctx, "task", &q, &page), CRM_OK);
	ASSERT_EQ(json_integer_value(json_object_get(page, "total")), 1);
	json_decref(page);
	struct object_query bad = { .filter = "due * 2 > 1" };
	ASSERT_EQ(object_query(&fx.ctx, "task", &bad, &page), CRM_EINVAL);
	ASSERT_CONTAINS(fx.ctx.message, "operator '*' cannot take a date");
	fixture_close(&fx);
}

static double account_total(int64_t id)
{
	json_t *r = get("account", id);
	double v = json_number_value(json_object_get(r, "open_total"));
	json_decref(r);
	return v;
}

static int64_t account_deals(int64_t id)
{
	json_t *r = get("account", id);
	int64_t v = json_integer_value(json_object_get(r, "deal_count"));
	json_decref(r);
	return v;
}

static void test_rollup_follows_create_update_move_delete_restore(void)
{
	setup();
	int64_t a = create("account", "{\"name\": \"A\"}");
	int64_t b = create("account", "{\"name\": \"B\"}");
	char json[256];
	snprintf(json, sizeof(json), "{\"name\": \"D1\", \"account\": %lld, \"amount\": 100}", (long long)a);
	int64_t d1 = create("deal", json);
	snprintf(json, sizeof(json), "{\"name\": \"D2\", \"account\": %lld, \"amount\": 50}", (long long)a);
	int64_t d2 = create("deal", json);
	ASSERT(fabs(account_total(a) - 150) < 1e-9);
	ASSERT_EQ(account_deals(a), 2);
	/* changed */
	json_t *changes = json_pack("{s:i}", "amount", 70);
	ASSERT_EQ(object_update(&fx.ctx, "deal", d2, 0, changes, NULL), CRM_OK);
	json_decref(changes);
	ASSERT(fabs(account_total(a) - 170) < 1e-9);
	/* the where clause: a lost deal leaves the total */
	changes = json_pack("{s:s}", "stage", "lost");
	ASSERT_EQ(object_update(&fx.ctx, "deal", d2, 0, changes, NULL), CRM_OK);
	json_decref(changes);
	ASSERT(fabs(account_total(a) - 100) < 1e-9);
	ASSERT_EQ(account_deals(a), 2);
	/* moved to another parent */
	changes = json_pack("{s:I}", "account", (json_int_t)b);
	ASSERT_EQ(object_update(&fx.ctx, "deal", d1, 0, changes, NULL), CRM_OK);
	json_decref(changes);
	ASSERT(fabs(account_total(a) - 0) < 1e-9);
	ASSERT(fabs(account_total(b) - 100) < 1e-9);
	ASSERT_EQ(account_deals(a), 1);
	ASSERT_EQ(account_deals(b), 1);
	/* deleted and restored */
	ASSERT_EQ(object_delete(&fx.ctx, "deal", d1, 0), CRM_OK);
	ASSERT(fabs(account_total(b) - 0) < 1e-9);
	ASSERT_EQ(account_deals(b), 0);
	ASSERT_EQ(object_restore(&fx.ctx, "deal", d1), CRM_OK);
	ASSERT(fabs(account_total(b) - 100) < 1e-9);
	fixture_close(&fx);
}

static void test_update_with_stale_version_is_a_lost_update(void)
{
	setup();
	int64_t a = create("account", "{\"name\": \"A\"}");
	json_t *changes = json_pack("{s:s}", "name", "B");
	json_t *out = NULL;
	ASSERT_EQ(object_update(&fx.ctx, "account", a, 1, changes, &out), CRM_OK);
	ASSERT_EQ(json_integer_value(json_object_get(out, "version")), 2);
	json_decref(out);
	/* a second client still holding version 1 */
	ASSERT_EQ(object_update(&fx.ctx, "account", a, 1, changes, NULL), CRM_ECONFLICT);
	ASSERT_CONTAINS(fx.ctx.message, "changed by someone else");
	json_decref(changes);
	json_t *r = get("account", a);
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "name")), "B");
	ASSERT_EQ(json_integer_value(json_object_get(r, "version")), 2);
	json_decref(r);
	/* a refused update leaves the record unchanged */
	changes = json_pack("{s:s}", "name", "this name is far too long for the field");
	ASSERT_EQ(object_update(&fx.ctx, "account", a, 2, changes, NULL), CRM_EVALIDATION);
	json_decref(changes);
	r = get("account", a);
	ASSERT_EQ(json_integer_value(json_object_get(r, "version")), 2);
	json_decref(r);
	fixture_close(&fx);
}

static long long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

/* Writes n notes of about 1 KB each, 250 to a transaction. */
static void write_notes(struct crm_ctx *ctx, int n)
{
	char body[1025];
	memset(body, 'x', 1024);
	body[1024] = '\0';
	for (int i = 0; i < n; i += 250) {
		ASSERT_EQ(object_begin(ctx), CRM_OK);
		for (int j = i; j < n && j < i + 250; j++) {
			json_t *v = json_pack("{s:s}", "body", body);
			ASSERT_EQ(object_create_id(ctx, "note", v, NULL), CRM_OK);
			json_decref(v);
		}
		ASSERT_EQ(object_commit(ctx), CRM_OK);
	}
}

/*
 * A server checkpoints on a thread of its own (store.c): the database file
 * takes the WAL's pages while the writer never checkpoints below 8,000
 * pages, and past that the writer does, so the WAL stays bounded.
 */
static void test_server_checkpoints_in_the_background(void)
{
	fixture_prepare(&fx, schema);
	struct kernel_options options = { .db_path = fx.db, .metadata_dir = fx.metadata, .plugins_dir = "plugins",
	                                  .migrate = true, .server = true, .log = stderr };
	ASSERT_EQ(kernel_open(&options, &fx.kernel), CRM_OK);
	crm_ctx_init(&fx.ctx, fx.kernel, 0, "test");
	char wal[400];
	snprintf(wal, sizeof(wal), "%s-wal", fx.db);
	long long before = file_size(fx.db);
	write_notes(&fx.ctx, 6000); /* about 1,600 pages: past the 1,000 that wake the thread */
	long long grown = 0;
	for (int i = 0; i < 200 && grown < 4 * 1024 * 1024; i++) {
		usleep(10 * 1000);
		grown = file_size(fx.db) - before;
	}
	if (grown < 4 * 1024 * 1024)
		fprintf(stderr, "  the database file grew by %lld bytes only\n", grown);
	ASSERT(grown >= 4 * 1024 * 1024);
	write_notes(&fx.ctx, 40000); /* about 10,000 pages more */
	long long wal_size = file_size(wal);
	if (wal_size > 40LL * 1024 * 1024)
		fprintf(stderr, "  the WAL is %lld bytes\n", wal_size);
	ASSERT(wal_size <= 40LL * 1024 * 1024);
	int64_t count = 0;
	ASSERT_EQ(object_count(&fx.ctx, "note", NULL, &count), CRM_OK);
	ASSERT_EQ(count, 46000);
	fixture_close(&fx);
}

static void test_append_only_records_are_created_never_changed(void)
{
	setup();
	int64_t a = create("account", "{\"name\": \"Ledger\"}");
	int64_t e = create("entry", "{\"account\": 0, \"points\": 100, \"holder\": \"Ann Lee\"}");
	ASSERT(e < 0);   /* validated as any create: account 0 does not exist */
	char json[160];
	snprintf(json, sizeof(json), "{\"account\": %lld, \"points\": 100, \"holder\": \"Ann Lee\"}", (long long)a);
	e = create("entry", json);
	ASSERT(e > 0);
	json_t *change = json_pack("{s:i}", "points", 5);
	ASSERT_EQ(object_update(&fx.ctx, "entry", e, 0, change, NULL), CRM_ESTATE);
	ASSERT(strstr(fx.ctx.message, "append-only") != NULL);
	json_decref(change);
	ASSERT_EQ(object_delete(&fx.ctx, "entry", e, 0), CRM_ESTATE);
	ASSERT_EQ(object_delete(&fx.ctx, "account", a, 0), CRM_ESTATE);   /* restrict: the ledger keeps its account */
	/* a correction is a reversing entry */
	snprintf(json, sizeof(json), "{\"account\": %lld, \"points\": -100}", (long long)a);
	ASSERT(create("entry", json) > 0);
	/* a GDPR erase still clears the personal field, and nothing else */
	int fields = 0;
	ASSERT_EQ(gdpr_erase(&fx.ctx, "entry", e, &fields), CRM_OK);
	json_t *r = NULL;
	ASSERT_EQ(object_get(&fx.ctx, "entry", e, false, &r), CRM_OK);
	ASSERT(json_is_null(json_object_get(r, "holder")) || !json_object_get(r, "holder"));
	ASSERT_EQ(json_integer_value(json_object_get(r, "points")), 100);
	json_decref(r);
	fixture_close(&fx);
}

static void test_soft_delete_restore_and_purge(void)
{
	setup();
	int64_t a = create("account", "{\"name\": \"A\"}");
	ASSERT_EQ(object_delete(&fx.ctx, "account", a, 0), CRM_OK);
	json_t *r = NULL;
	ASSERT_EQ(object_get(&fx.ctx, "account", a, false, &r), CRM_ENOTFOUND);
	ASSERT_EQ(object_get(&fx.ctx, "account", a, true, &r), CRM_OK);
	ASSERT(json_is_string(json_object_get(r, "deleted_at")));
	json_decref(r);
	/* the recycle bin lists it, the live list does not */
	struct object_query bin = { .deleted = true };
	json_t *page = NULL;
	ASSERT_EQ(object_query(&fx.ctx, "account", &bin, &page), CRM_OK);
	ASSERT_EQ(json_array_size(json_object_get(page, "records")), 1);
	json_decref(page);
	ASSERT_EQ(object_delete(&fx.ctx, "account", a, 0), CRM_ENOTFOUND);
	ASSERT_EQ(object_restore(&fx.ctx, "account", a), CRM_OK);
	ASSERT_EQ(object_restore(&fx.ctx, "account", a), CRM_ESTATE);
	ASSERT_EQ(object_get(&fx.ctx, "account", a, false, &r), CRM_OK);
	json_decref(r);
	ASSERT_EQ(object_purge(&fx.ctx, "account", a), CRM_ENOTFOUND); /* only deleted records */
	ASSERT_EQ(object_delete(&fx.ctx, "account", a, 0), CRM_OK);
	ASSERT_EQ(object_purge(&fx.ctx, "account", a), CRM_OK);
	ASSERT_EQ(object_get(&fx.ctx, "account", a, true, &r), CRM_ENOTFOUND);
	fixture_close(&fx);
}

static void test_recycle_bin_retention_purges_old_deletions(void)
{
	setup();
	int64_t a = create("account", "{\"name\": \"old\"}");
	int64_t b = create("account", "{\"name\": \"recent\"}");
	ASSERT_EQ(object_delete(&fx.ctx, "account", a, 0), CRM_OK);
	ASSERT_EQ(object_delete(&fx.ctx, "account", b, 0), CRM_OK);
	/* age a's deletion by 40 days through the API's own update path */
	ASSERT_EQ(object_begin(&fx.ctx), CRM_OK);
	json_t *aged = json_pack("{s:s}", "deleted_at", "2000-01-01T00:00:00Z");
	ASSERT_EQ(store_update(fx.ctx.txn, meta_find_object(fx.kernel->meta, "account"), a, 0, true, aged, &fx.ctx), CRM_OK);
	json_decref(aged);
	ASSERT_EQ(object_commit(&fx.ctx), CRM_OK);
	int64_t purged = -1, kept = -1;
	ASSERT_EQ(object_purge_expired(&fx.ctx, 30, &purged, &kept), CRM_OK);
	ASSERT_EQ(purged, 1);
	ASSERT_EQ(kept, 0);
	json_t *r = NULL;
	ASSERT_EQ(object_get(&fx.ctx, "account", a, true, &r), CRM_ENOTFOUND);
	ASSERT_EQ(object_get(&fx.ctx, "account", b, true, &r), CRM_OK);
	json_decref(r);
	fixture_close(&fx);
}

static void test_delete_restrict_and_cascade(void)
{
	setup();
	int64_t a = create("account", "{\"name\": \"A\"}");
	char json[256];
	snprintf(json, sizeof(json), "{\"name\": \"D\", \"account\": %lld}", (long long)a);
	int64_t d = create("deal", json);
	snprintf(json, sizeof(json), "{\"deal\": %lld, \"body\": \"hi\"}", (long long)d);
	int64_t n = create("note", json);
	/* account <- deal is restrict */
	ASSERT_EQ(object_delete(&fx.ctx, "account", a, 0), CRM_ESTATE);
	ASSERT_CONTAINS(fx.ctx.message, "still refer");
	/* deal <- note is cascade */
	ASSERT_EQ(object_delete(&fx.ctx, "deal", d, 0), CRM_OK);
	json_t *r = NULL;
	ASSERT_EQ(object_get(&fx.ctx, "note", n, false, &r), CRM_ENOTFOUND);
	/* a record pointing to a deleted parent cannot be restored before it */
	ASSERT_EQ(object_restore(&fx.ctx, "note", n), CRM_ESTATE);
	ASSERT_EQ(object_restore(&fx.ctx, "deal", d), CRM_OK);
	ASSERT_EQ(object_restore(&fx.ctx, "note", n), CRM_OK);
	fixture_close(&fx);
}

static int64_t collect_all(const char *sort, const char *filter, int limit, unsigned char *seen,
                           int64_t seen_size, int insert_every, int *duplicates)
{
	struct object_query q = { .sort = sort, .filter = filter, .limit = limit, .fields = "name" };
	char *cursor = NULL;
	int64_t total = 0;
	int pages = 0;
	for (;;) {
		q.after = cursor;
		json_t *page = NULL;
		if (object_query(&fx.ctx, "account", &q, &page) != CRM_OK) {
			fprintf(stderr, "  query failed: %s\n", fx.ctx.message);
			free(cursor);
			return -1;
		}
		size_t i;
		json_t *r;
		json_array_foreach(json_object_get(page, "records"), i, r) {
			int64_t id = json_integer_value(json_object_get(r, "id"));
			if (id < seen_size) {
				if (seen[id])
					(*duplicates)++;
				seen[id] = 1;
			}
			total++;
		}
		free(cursor);
		const char *next = json_string_value(json_object_get(page, "next"));
		cursor = next ? xstrdup(next) : NULL;
		json_decref(page);
		if (insert_every && ++pages % insert_every == 0) {
			/* concurrent inserts while paging: both ends of the sort order */
			json_t *v = json_pack("{s:s}", "name", pages % 2 ? "AAAA new" : "zzzz new");
			object_create(&fx.ctx, "account", v, NULL);
			json_decref(v);
		}
		if (!cursor)
			break;
	}
	return total;
}

static void test_keyset_pagination_visits_every_record_once(void)
{
	setup();
	ASSERT_EQ(object_begin(&fx.ctx), CRM_OK);
	static const char *const industries[] = { "tech", "retail", "bank", NULL };
	for (int i = 0; i < 10000; i++) {
		char name[32];
		snprintf(name, sizeof(name), "acct %05d", (i * 7919) % 10000 / 3); /* many duplicate names */
		json_t *v = json_pack("{s:s}", "name", name);
		if (industries[i % 4])
			json_object_set_new(v, "industry", json_string(industries[i % 4]));
		ASSERT_EQ(object_create(&fx.ctx, "account", v, NULL), CRM_OK);
		json_decref(v);
	}
	ASSERT_EQ(object_commit(&fx.ctx), CRM_OK);
	static const char *const sorts[] = { NULL, "name", "-name", "industry,-name", "-industry,name", "-id" };
	for (size_t s = 0; s < sizeof(sorts) / sizeof(sorts[0]); s++) {
		unsigned char *seen = calloc(20001, 1);
		int duplicates = 0;
		int64_t total = collect_all(sorts[s], NULL, 97, seen, 20001, s == 3 ? 5 : 0, &duplicates);
		int missing = 0;
		for (int id = 1; id <= 10000; id++)
			missing += !seen[id];
		free(seen);
		if (missing || duplicates || total < 10000) {
			fprintf(stderr, "  sort %s: total %lld, missing %d, duplicates %d\n", sorts[s] ? sorts[s] : "(id)",
			        (long long)total, missing, duplicates);
			ASSERT(0);
		}
	}
	fixture_close(&fx);
}

static void test_query_filter_sort_fields_count(void)
{
	setup();
	int64_t a = create("account", "{\"name\": \"Acme\", \"industry\": \"tech\"}");
	create("account", "{\"name\": \"Bank of X\", \"industry\": \"bank\"}");
	char json[256];
	for (int i = 1; i <= 5; i++) {
		snprintf(json, sizeof(json), "{\"name\": \"D%d\", \"account\": %lld, \"amount\": %d}", i, (long long)a, i * 100);
		create("deal", json);
	}
	struct object_query q = { .filter = "amount >= 300 and account.industry = 'tech'", .sort = "-amount",
	                          .fields = "name,amount,account.name,expected", .count = OBJECT_COUNT_EXACT };
	json_t *page = NULL;
	ASSERT_EQ(object_query(&fx.ctx, "deal", &q, &page), CRM_OK);
	json_t *records = json_object_get(page, "records");
	ASSERT_EQ(json_array_size(records), 3);
	ASSERT_EQ(json_integer_value(json_object_get(page, "total")), 3);
	json_t *first = json_array_get(records, 0);
	ASSERT_STR_EQ(json_string_value(json_object_get(first, "name")), "D5");
	ASSERT_STR_EQ(json_string_value(json_object_get(first, "account.name")), "Acme");
	ASSERT(fabs(json_real_value(json_object_get(first, "expected")) - 50) < 1e-9);
	ASSERT(!json_object_get(first, "stage"));
	json_decref(page);
	/* search */
	struct object_query s = { .search = "bank" };
	ASSERT_EQ(object_query(&fx.ctx, "account", &s, &page), CRM_OK);
	ASSERT_EQ(json_array_size(json_object_get(page, "records")), 1);
	json_decref(page);
	/* no total unless asked */
	struct object_query plain = { 0 };
	ASSERT_EQ(object_query(&fx.ctx, "deal", &plain, &page), CRM_OK);
	ASSERT(!json_object_get(page, "total"));
	json_decref(page);
	fixture_close(&fx);
}

static void test_hostile_queries_are_refused(void)
{
	setup();
	create("account", "{\"name\": \"x'); DROP TABLE a;--\"}");
	json_t *page = NULL;
	static const struct { const char *filter, *sort, *fields; int limit; } bad[] = {
		{ "name = 'a' or 1=1; drop table account", NULL, NULL, 0 },
		{ "\"name\" = 1", NULL, NULL, 0 },
		{ "nope = 1", NULL, NULL, 0 },
		{ NULL, "name; drop table account", NULL, 0 },
		{ NULL, "-\"id\"", NULL, 0 },
		{ NULL, "nope", NULL, 0 },
		{ NULL, NULL, "name, (select 1)", 0 },
		{ NULL, NULL, "../etc/passwd", 0 },
		{ NULL, NULL, NULL, 1000000000 },
		{ NULL, NULL, NULL, -5 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct object_query q = { .filter = bad[i].filter, .sort = bad[i].sort, .fields = bad[i].fields,
		                          .limit = bad[i].limit };
		int code = object_query(&fx.ctx, "account", &q, &page);
		if (code != CRM_EINVAL && code != CRM_ELIMIT) {
			fprintf(stderr, "  case %zu: code %d\n", i, code);
			ASSERT(0);
		}
	}
	/* the value with metacharacters is data, matched exactly */
	struct object_query q = { .filter = "name = 'x''); DROP TABLE a;--'" };
	ASSERT_EQ(object_query(&fx.ctx, "account", &q, &page), CRM_OK);
	ASSERT_EQ(json_array_size(json_object_get(page, "records")), 1);
	json_decref(page);
	/* a forged cursor */
	struct object_query forged = { .after = "eyJzIjoiIiwiayI6WzEwMF19" };
	ASSERT_EQ(object_query(&fx.ctx, "account", &forged, &page), CRM_EINVAL);
	ASSERT_EQ(object_query(&fx.ctx, "../../etc", &forged, &page), CRM_ENOTFOUND);
	fixture_close(&fx);
}

static void test_cursor_from_another_sort_is_refused(void)
{
	setup();
	for (int i = 0; i < 5; i++)
		create("account", "{\"name\": \"A\"}");
	struct object_query q = { .sort = "name", .limit = 2 };
	json_t *page = NULL;
	ASSERT_EQ(object_query(&fx.ctx, "account", &q, &page), CRM_OK);
	char *cursor = xstrdup(json_string_value(json_object_get(page, "next")));
	json_decref(page);
	struct object_query other = { .sort = "-name", .after = cursor };
	ASSERT_EQ(object_query(&fx.ctx, "account", &other, &page), CRM_EINVAL);
	/* one flipped character */
	cursor[5] = cursor[5] == 'A' ? 'B' : 'A';
	q.after = cursor;
	ASSERT_EQ(object_query(&fx.ctx, "account", &q, &page), CRM_EINVAL);
	free(cursor);
	fixture_close(&fx);
}

static void test_aggregate_groups_and_measures(void)
{
	setup();
	int64_t a = create("account", "{\"name\": \"A\"}");
	char json[256];
	static const char *const stages[] = { "open", "won", "won", "lost" };
	for (int i = 0; i < 4; i++) {
		snprintf(json, sizeof(json), "{\"name\": \"D\", \"account\": %lld, \"amount\": %d, \"stage\": \"%s\"}",
		         (long long)a, (i + 1) * 10, stages[i]);
		create("deal", json);
	}
	json_t *rows = NULL;
	ASSERT_EQ(object_aggregate(&fx.ctx, "deal", "stage", "count,sum(amount),max(amount)", NULL, &rows), CRM_OK);
	ASSERT_EQ(json_array_size(rows), 3);
	json_t *won = json_array_get(rows, 2);
	ASSERT_STR_EQ(json_string_value(json_object_get(won, "stage")), "won");
	ASSERT_EQ(json_integer_value(json_object_get(won, "count")), 2);
	ASSERT(fabs(json_number_value(json_object_get(won, "sum_amount")) - 50) < 1e-9);
	json_decref(rows);
	ASSERT_EQ(object_aggregate(&fx.ctx, "deal", "stage", "sum(name)", NULL, &rows), CRM_EINVAL);
	ASSERT_EQ(object_aggregate(&fx.ctx, "deal", "stage", "sum(amount); drop", NULL, &rows), CRM_EINVAL);
	fixture_close(&fx);
}

static void test_batch_is_all_or_nothing(void)
{
	setup();
	json_t *ops = json_pack("[{s:s, s:s, s:{s:s}}, {s:s, s:s, s:{s:s}}, {s:s, s:s, s:{}}]",
		"op", "create", "object", "account", "values", "name", "One",
		"op", "create", "object", "account", "values", "name", "Two",
		"op", "create", "object", "account", "values");
	json_t *results = NULL;
	ASSERT_EQ(object_batch(&fx.ctx, ops, &results), CRM_EVALIDATION);
	ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(results, 2), "status")), "error");
	ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(results, 0), "status")), "ok");
	json_decref(results);
	json_decref(ops);
	int64_t count = -1;
	ASSERT_EQ(object_count(&fx.ctx, "account", NULL, &count), CRM_OK);
	ASSERT_EQ(count, 0);
	ops = json_pack("[{s:s, s:s, s:{s:s}}, {s:s, s:s, s:{s:s}}]",
		"op", "create", "object", "account", "values", "name", "One",
		"op", "create", "object", "account", "values", "name", "Two");
	ASSERT_EQ(object_batch(&fx.ctx, ops, &results), CRM_OK);
	json_decref(results);
	json_decref(ops);
	ASSERT_EQ(object_count(&fx.ctx, "account", NULL, &count), CRM_OK);
	ASSERT_EQ(count, 2);
	fixture_close(&fx);
}

static void test_unknown_object_is_not_found(void)
{
	setup();
	json_t *v = json_object();
	ASSERT_EQ(object_create(&fx.ctx, "nope", v, NULL), CRM_ENOTFOUND);
	ASSERT_EQ(object_create(&fx.ctx, "account; DROP TABLE account", v, NULL), CRM_ENOTFOUND);
	ASSERT_EQ(object_create(&fx.ctx, "_crm_settings", v, NULL), CRM_ENOTFOUND);
	json_decref(v);
	fixture_close(&fx);
}

/* --- hooks ---------------------------------------------------------- */

static int async_calls;

static int hook_before_create(void *data, struct crm_ctx *ctx, enum event_kind kind,
                              const struct meta_object *object, json_t *values, json_t *record)
{
	(void)data; (void)kind; (void)object; (void)record;
	const char *name = json_string_value(json_object_get(values, "name"));
	if (name && strcmp(name, "refuse me") == 0)
		return crm_error(ctx, CRM_EVALIDATION, "names like that are not allowed");
	if (name && strcmp(name, "shout") == 0)
		json_object_set_new(values, "name", json_string("SHOUT"));
	return CRM_OK;
}

static int hook_after_create(void *data, struct crm_ctx *ctx, enum event_kind kind,
                             const struct meta_object *object, json_t *values, json_t *record)
{
	(void)data; (void)kind; (void)object; (void)values;
	if (strcmp(json_string_value(json_object_get(record, "name")), "fail after") == 0)
		return crm_error(ctx, CRM_EINVAL, "after-hook failed");
	return CRM_OK;
}

/* Updates the record that triggered it: an endless chain, cut at a fixed depth. */
static int hook_loop(void *data, struct crm_ctx *ctx, enum event_kind kind, const struct meta_object *object,
                     json_t *values, json_t *record)
{
	(void)data; (void)kind; (void)object; (void)values;
	json_t *changes = json_pack("{s:s}", "body", "again");
	int code = object_update(ctx, "note", json_integer_value(json_object_get(record, "id")), 0, changes, NULL);
	json_decref(changes);
	return code;
}

static int hook_async(void *data, struct crm_ctx *ctx, enum event_kind kind, const struct meta_object *object,
                      json_t *values, json_t *record)
{
	(void)data; (void)ctx; (void)kind; (void)object; (void)values; (void)record;
	async_calls++;
	return CRM_OK;
}

static void test_hooks_change_refuse_and_roll_back(void)
{
	setup();
	struct events *ev = fx.kernel->events;
	ASSERT_EQ(events_register(ev, "account", EVENT_BEFORE_CREATE, false, "test", hook_before_create, NULL), CRM_OK);
	ASSERT_EQ(events_register(ev, "account", EVENT_AFTER_CREATE, false, "test", hook_after_create, NULL), CRM_OK);
	ASSERT_EQ(events_register(ev, "account", EVENT_AFTER_CREATE, true, "test", hook_async, NULL), CRM_OK);
	ASSERT_EQ(events_register(ev, "account", EVENT_BEFORE_CREATE, true, "test", hook_async, NULL), CRM_EINVAL);
	ASSERT_EQ(events_register(ev, "nope", EVENT_BEFORE_CREATE, false, "test", hook_async, NULL), CRM_ENOTFOUND);
	async_calls = 0;
	int64_t id = create("account", "{\"name\": \"shout\"}");
	ASSERT(id > 0);
	json_t *r = get("account", id);
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "name")), "SHOUT");
	json_decref(r);
	ASSERT_EQ(async_calls, 1);
	ASSERT_EQ(-create("account", "{\"name\": \"refuse me\"}"), CRM_EVALIDATION);
	ASSERT_CONTAINS(fx.ctx.message, "not allowed");
	ASSERT_EQ(-create("account", "{\"name\": \"fail after\"}"), CRM_EINVAL);
	int64_t count = 0;
	ASSERT_EQ(object_count(&fx.ctx, "account", NULL, &count), CRM_OK);
	ASSERT_EQ(count, 1);
	/* async hooks run only after a commit */
	ASSERT_EQ(async_calls, 1);
	fixture_close(&fx);
}

static void test_hook_that_retriggers_itself_is_stopped(void)
{
	setup();
	ASSERT_EQ(events_register(fx.kernel->events, "note", EVENT_AFTER_UPDATE, false, "test", hook_loop, NULL), CRM_OK);
	int64_t id = create("note", "{\"body\": \"x\"}");
	ASSERT(id > 0);
	json_t *changes = json_pack("{s:s}", "body", "y");
	ASSERT_EQ(object_update(&fx.ctx, "note", id, 0, changes, NULL), CRM_ELIMIT);
	json_decref(changes);
	ASSERT_CONTAINS(fx.ctx.message, "nested deeper");
	json_t *r = get("note", id);
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "body")), "x");
	ASSERT_EQ(json_integer_value(json_object_get(r, "version")), 1);
	json_decref(r);
	fixture_close(&fx);
}

static const struct test_case tests[] = {
	{ "date_arithmetic_in_formulas_rules_and_filters", test_date_arithmetic_in_formulas_rules_and_filters },
	{ "hooks_change_refuse_and_roll_back", test_hooks_change_refuse_and_roll_back },
	{ "hook_that_retriggers_itself_is_stopped", test_hook_that_retriggers_itself_is_stopped },
	{ "every_field_type_accepts_valid_values", test_every_field_type_accepts_valid_values },
	{ "text_pages_equal_encoded_pages", test_text_pages_equal_encoded_pages },
	{ "server_checkpoints_in_the_background", test_server_checkpoints_in_the_background },
	{ "every_field_type_refuses_invalid_values", test_every_field_type_refuses_invalid_values },
	{ "all_field_errors_are_reported_at_once", test_all_field_errors_are_reported_at_once },
	{ "required_fields_and_rules", test_required_fields_and_rules },
	{ "unique_field_is_enforced", test_unique_field_is_enforced },
	{ "defaults_formula_and_autonumber", test_defaults_formula_and_autonumber },
	{ "rollup_follows_create_update_move_delete_restore", test_rollup_follows_create_update_move_delete_restore },
	{ "update_with_stale_version_is_a_lost_update", test_update_with_stale_version_is_a_lost_update },
	{ "append_only_records_are_created_never_changed", test_append_only_records_are_created_never_changed },
	{ "soft_delete_restore_and_purge", test_soft_delete_restore_and_purge },
	{ "delete_restrict_and_cascade", test_delete_restrict_and_cascade },
	{ "recycle_bin_retention_purges_old_deletions", test_recycle_bin_retention_purges_old_deletions },
	{ "keyset_pagination_visits_every_record_once", test_keyset_pagination_visits_every_record_once },
	{ "query_filter_sort_fields_count", test_query_filter_sort_fields_count },
	{ "hostile_queries_are_refused", test_hostile_queries_are_refused },
	{ "cursor_from_another_sort_is_refused", test_cursor_from_another_sort_is_refused },
	{ "aggregate_groups_and_measures", test_aggregate_groups_and_measures },
	{ "batch_is_all_or_nothing", test_batch_is_all_or_nothing },
	{ "unknown_object_is_not_found", test_unknown_object_is_not_found },
};

TEST_MAIN(tests)
