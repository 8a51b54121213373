/*
 * test_schema.c - schema sync: additive changes apply at open, destructive
 * ones are refused unless allowed, and then the old data is kept.
 */
#include <sqlite3.h>
#include "test.h"
#include "fixture.h"
#include "store.h"

static struct fixture fx;

static const char *const v1 =
	"object: account\n"
	"fields:\n"
	"  name: { type: text, required: true }\n"
	"  tier: { type: enum, values: [gold, silver, bronze] }\n"
	"  score: { type: int }\n";

static int64_t sql_int(const char *db_path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	int64_t v = -1;
	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -2;
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK) {
		if (sqlite3_step(stmt) == SQLITE_ROW)
			v = sqlite3_column_int64(stmt, 0);
		sqlite3_finalize(stmt);
	} else {
		fprintf(stderr, "  sql: %s\n", sqlite3_errmsg(db));
	}
	sqlite3_close(db);
	return v;
}

static void seed(void)
{
	json_t *v = json_pack("{s:s, s:s, s:i}", "name", "Acme", "tier", "bronze", "score", 7);
	if (object_create(&fx.ctx, "account", v, NULL) != CRM_OK)
		fprintf(stderr, "  seed failed: %s\n", fx.ctx.message);
	json_decref(v);
}

static int plan_steps(bool *destructive)
{
	struct schema_plan *plan = NULL;
	struct crm_ctx ctx;
	crm_ctx_init(&ctx, fx.kernel, 0, NULL);
	int steps = -1;
	if (schema_plan(fx.kernel->store, &plan, &ctx) == CRM_OK) {
		steps = schema_plan_step_count(plan);
		*destructive = schema_plan_destructive(plan);
	}
	schema_plan_free(plan);
	crm_ctx_clear(&ctx);
	return steps;
}

static void test_new_database_gets_tables_indexes_and_version(void)
{
	ASSERT_EQ(fixture_open(&fx, v1), CRM_OK);
	seed();
	fixture_close_kernel(&fx);
	ASSERT_EQ(sql_int(fx.db, "SELECT count(*) FROM account"), 1);
	ASSERT_EQ(sql_int(fx.db, "SELECT count(*) FROM _crm_settings WHERE key = 'metadata_version' AND length(value) = 64"), 1);
	ASSERT(sql_int(fx.db, "SELECT count(*) FROM _crm_migrations") >= 1);
	ASSERT_EQ(sql_int(fx.db, "SELECT count(*) FROM pragma_index_list('account') WHERE name = 'account__owner__idx'"), 1);
	fixture_close(&fx);
}

static void test_additive_change_is_applied_and_data_kept(void)
{
	ASSERT_EQ(fixture_open(&fx, v1), CRM_OK);
	seed();
	fixture_close_kernel(&fx);
	fixture_write(&fx, "objects.yaml",
		"object: account\n"
		"fields:\n"
		"  name: { type: text, required: true }\n"
		"  tier: { type: enum, values: [gold, silver, bronze, platinum] }\n"
		"  score: { type: int }\n"
		"  website: { type: url }\n"
		"indexes: [[score]]\n"
		"---\n"
		"object: contact\n"
		"fields:\n"
		"  account: { type: ref, to: account }\n");
	/* without migrate the kernel refuses to run on a stale schema */
	ASSERT(fixture_open_kernel(&fx, false) != CRM_OK);
	ASSERT_EQ(fixture_open_kernel(&fx, true), CRM_OK);
	bool destructive = true;
	ASSERT_EQ(plan_steps(&destructive), 0);
	json_t *r = NULL;
	ASSERT_EQ(object_get(&fx.ctx, "account", 1, false, &r), CRM_OK);
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "name")), "Acme");
	ASSERT(json_is_null(json_object_get(r, "website")));
	json_decref(r);
	json_t *v = json_pack("{s:i}", "account", 1);
	ASSERT_EQ(object_create(&fx.ctx, "contact", v, NULL), CRM_OK);
	json_decref(v);
	fixture_close_kernel(&fx);
	ASSERT_EQ(sql_int(fx.db, "SELECT count(*) FROM pragma_index_list('account') WHERE name = 'account__score__idx'"), 1);
	ASSERT_EQ(sql_int(fx.db, "SELECT count(*) FROM pragma_index_list('contact') WHERE name = 'contact__account__idx'"), 1);
	fixture_close(&fx);
}

/*
 * A field added with a literal default: the records that exist read the
 * default (false, 7, not null) as if created with it; a dynamic default
 * (today()) and a unique field stay null on them.
 */
static void test_new_field_default_fills_existing_records(void)
{
	ASSERT_EQ(fixture_open(&fx, v1), CRM_OK);
	seed();
	seed();
	ASSERT_EQ(object_delete(&fx.ctx, "account", 2, 0), CRM_OK);   /* the recycle bin too */
	fixture_close_kernel(&fx);
	fixture_write(&fx, "objects.yaml",
		"object: account\n"
		"fields:\n"
		"  name: { type: text, required: true }\n"
		"  tier: { type: enum, values: [gold, silver, bronze] }\n"
		"  score: { type: int }\n"
		"  active: { type: bool, default: false }\n"
		"  level: { type: int, default: 7 }\n"
		"  rate: { type: decimal, default: 2.5 }\n"
		"  note: { type: text, default: \"it's new\" }\n"
		"  tags: { type: multienum, values: [a, b], default: [b] }\n"
		"  since: { type: date, default: today() }\n"
		"  code: { type: text, unique: true, default: X1 }\n");
	/* the plan says what existing records get */
	struct kernel_options options = { .db_path = fx.db, .metadata_dir = fx.metadata, .plugins_dir = "/none",
	                                  .no_schema = true };
	ASSERT_EQ(kernel_open(&options, &fx.kernel), CRM_OK);
	crm_ctx_init(&fx.ctx, fx.kernel, 0, NULL);
	struct schema_plan *plan = NULL;
	ASSERT_EQ(schema_plan(fx.kernel->store, &plan, &fx.ctx), CRM_OK);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	schema_plan_print(plan, out);
	fclose(out);
	ASSERT_CONTAINS(text, "add field account.active (bool; existing records get false)");
	ASSERT_CONTAINS(text, "add field account.level (int; existing records get 7)");
	ASSERT_CONTAINS(text, "add field account.since (date)\n");
	free(text);
	schema_plan_free(plan);
	fixture_close_kernel(&fx);

	ASSERT_EQ(fixture_open_kernel(&fx, true), CRM_OK);
	json_t *r = NULL;
	ASSERT_EQ(object_get(&fx.ctx, "account", 1, false, &r), CRM_OK);
	ASSERT(json_is_false(json_object_get(r, "active")));
	ASSERT_EQ(json_integer_value(json_object_get(r, "level")), 7);
	ASSERT(json_is_integer(json_object_get(r, "level")));
	ASSERT(json_real_value(json_object_get(r, "rate")) == 2.5);
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "note")), "it's new");
	ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(r, "tags"), 0)), "b");
	ASSERT(json_is_null(json_object_get(r, "since")));   /* no creation date to work today() out from */
	ASSERT(json_is_null(json_object_get(r, "code")));    /* X1 on every record would not be unique */
	json_decref(r);
	ASSERT_EQ(object_restore(&fx.ctx, "account", 2), CRM_OK);
	ASSERT_EQ(object_get(&fx.ctx, "account", 2, false, &r), CRM_OK);
	ASSERT(json_is_false(json_object_get(r, "active")));
	ASSERT_EQ(json_integer_value(json_object_get(r, "level")), 7);
	json_decref(r);
	/* filters see the value too, and a new record gets the defaults from the metadata */
	int64_t count = -1;
	ASSERT_EQ(object_count(&fx.ctx, "account", "active = false and level = 7", &count), CRM_OK);
	ASSERT_EQ(count, 2);
	json_t *v = json_pack("{s:s, s:b}", "name", "Beta", "active", 1);
	int64_t id = 0;
	ASSERT_EQ(object_create_id(&fx.ctx, "account", v, &id), CRM_OK);
	json_decref(v);
	ASSERT_EQ(object_get(&fx.ctx, "account", id, false, &r), CRM_OK);
	ASSERT(json_is_true(json_object_get(r, "active")));
	ASSERT_EQ(json_integer_value(json_object_get(r, "level")), 7);
	ASSERT(json_is_string(json_object_get(r, "since")));
	json_decref(r);
	fixture_close_kernel(&fx);
	ASSERT_EQ(sql_int(fx.db, "SELECT count(*) FROM account WHERE active = 0 AND level = 7 AND rate = 2.5"), 2);
	fixture_close(&fx);
}

static void test_removed_field_is_refused_then_backed_up(void)
{
	ASSERT_EQ(fixture_open(&fx, v1), CRM_OK);
	seed();
	fixture_close_kernel(&fx);
	fixture_write(&fx, "objects.yaml",
		"object: account\n"
		"fields:\n"
		"  name: { type: text, required: true }\n"
		"  tier: { type: enum, values: [gold, silver, bronze] }\n");
	ASSERT_EQ(fixture_open_kernel(&fx, true), CRM_EDESTRUCTIVE);
	ASSERT_EQ(sql_int(fx.db, "SELECT score FROM account WHERE id = 1"), 7);
	/* plan, then apply with the destructive flag */
	struct kernel_options options = { .db_path = fx.db, .metadata_dir = fx.metadata, .plugins_dir = "/none",
	                                  .no_schema = true };
	ASSERT_EQ(kernel_open(&options, &fx.kernel), CRM_OK);
	crm_ctx_init(&fx.ctx, fx.kernel, 0, NULL);
	struct schema_plan *plan = NULL;
	ASSERT_EQ(schema_plan(fx.kernel->store, &plan, &fx.ctx), CRM_OK);
	ASSERT(schema_plan_destructive(plan));
	ASSERT_EQ(schema_apply(fx.kernel->store, plan, false, &fx.ctx), CRM_EDESTRUCTIVE);
	ASSERT_CONTAINS(fx.ctx.message, "remove field account.score");
	ASSERT_EQ(schema_apply(fx.kernel->store, plan, true, &fx.ctx), CRM_OK);
	schema_plan_free(plan);
	fixture_close_kernel(&fx);
	ASSERT_EQ(sql_int(fx.db, "SELECT count(*) FROM pragma_table_info('account') WHERE name = 'score'"), 0);
	ASSERT_EQ(sql_int(fx.db, "SELECT count(*) FROM sqlite_master WHERE name LIKE '_crm_backup_account_score_%'"), 1);
	/* the backup holds the value */
	sqlite3 *db;
	sqlite3_open(fx.db, &db);
	sqlite3_stmt *stmt;
	ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE name LIKE '_crm_backup_account_score_%'", -1, &stmt, NULL), SQLITE_OK);
	ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
	char sql[256];
	snprintf(sql, sizeof(sql), "SELECT score FROM \"%s\" WHERE id = 1", sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	ASSERT_EQ(sql_int(fx.db, sql), 7);
	fixture_close(&fx);
}

static void test_type_change_and_narrowed_enum_are_destructive(void)
{
	ASSERT_EQ(fixture_open(&fx, v1), CRM_OK);
	seed();
	fixture_close_kernel(&fx);
	fixture_write(&fx, "objects.yaml",
		"object: account\n"
		"fields:\n"
		"  name: { type: text, required: true }\n"
		"  tier: { type: enum, values: [gold, silver] }\n"
		"  score: { type: text }\n");
	ASSERT_EQ(fixture_open_kernel(&fx, true), CRM_EDESTRUCTIVE);
	struct kernel_options options = { .db_path = fx.db, .metadata_dir = fx.metadata, .plugins_dir = "/none",
	                                  .no_schema = true };
	ASSERT_EQ(kernel_open(&options, &fx.kernel), CRM_OK);
	crm_ctx_init(&fx.ctx, fx.kernel, 0, NULL);
	struct schema_plan *plan = NULL;
	ASSERT_EQ(schema_plan(fx.kernel->store, &plan, &fx.ctx), CRM_OK);
	ASSERT_EQ(schema_plan_step_count(plan), 2);
	ASSERT_EQ(schema_apply(fx.kernel->store, plan, true, &fx.ctx), CRM_OK);
	schema_plan_free(plan);
	fixture_close_kernel(&fx);
	ASSERT_EQ(sql_int(fx.db, "SELECT count(*) FROM account WHERE tier IS NULL"), 1);
	ASSERT_EQ(sql_int(fx.db, "SELECT count(*) FROM sqlite_master WHERE name LIKE '_crm_backup_account_tier_%'"), 1);
	ASSERT_EQ(sql_int(fx.db, "SELECT count(*) FROM sqlite_master WHERE name LIKE '_crm_backup_account_score_%'"), 1);
	fixture_close(&fx);
}

static void test_removed_object_keeps_its_table(void)
{
	ASSERT_EQ(fixture_open(&fx, v1), CRM_OK);
	seed();
	fixture_close_kernel(&fx);
	fixture_write(&fx, "objects.yaml", "object: other\nfields:\n  x: { type: int }\n");
	ASSERT_EQ(fixture_open_kernel(&fx, true), CRM_EDESTRUCTIVE);
	ASSERT_EQ(sql_int(fx.db, "SELECT count(*) FROM account"), 1);
	fixture_close(&fx);
}

static const struct test_case tests[] = {
	{ "new_database_gets_tables_indexes_and_version", test_new_database_gets_tables_indexes_and_version },
	{ "additive_change_is_applied_and_data_kept", test_additive_change_is_applied_and_data_kept },
	{ "new_field_default_fills_existing_records", test_new_field_default_fills_existing_records },
	{ "removed_field_is_refused_then_backed_up", test_removed_field_is_refused_then_backed_up },
	{ "type_change_and_narrowed_enum_are_destructive", test_type_change_and_narrowed_enum_are_destructive },
	{ "removed_object_keeps_its_table", test_removed_object_keeps_its_table },
};

TEST_MAIN(tests)
