/*
 * test_demo.c - the demo data generator against real SQLite files with the
 * repository's base metadata: deterministic per seed, the promised shape
 * (counts, owners, the lead pool), and safe to run twice.
 */
#include <unistd.h>
#include "test.h"
#include "fixture.h"
#include "csv.h"
#include "demo.h"
#include "meta.h"

__attribute__((unused)) static const void *const unused_fixture_helpers[] = {
	(const void *)fixture_open, (const void *)first_error_code, (const void *)first_error_field,
};

static const char *const demo_objects[] = { "team", "user", "account", "contact", "opportunity",
                                            "activity", "lead", "case", "vehicle" };

static int open_base(struct fixture *fx)
{
	fixture_prepare(fx, "");
	char cwd[200];
	if (!getcwd(cwd, sizeof(cwd)))
		return CRM_EIO;
	snprintf(fx->metadata, sizeof(fx->metadata), "%s/metadata", cwd);
	FILE *quiet = fopen("/dev/null", "w");
	struct kernel_options options = { .db_path = fx->db, .metadata_dir = fx->metadata,
	                                  .plugins_dir = "plugins", .migrate = true, .log = quiet };
	int code = kernel_open(&options, &fx->kernel);
	if (code == CRM_OK) {
		fx->kernel->log = stderr;
		crm_ctx_init(&fx->ctx, fx->kernel, 0, "test");
	}
	fclose(quiet);
	return code;
}

static int strbuf_write(void *arg, const char *data, size_t len)
{
	strbuf_add(arg, data, len);
	return 0;
}

/* Every demo object as CSV, all fields but the clock's (created_at, updated_at). */
static char *export_everything(struct crm_ctx *ctx)
{
	struct strbuf out = { 0 };
	for (size_t i = 0; i < sizeof(demo_objects) / sizeof(demo_objects[0]); i++) {
		const struct meta_object *object = meta_find_object(ctx->kernel->meta, demo_objects[i]);
		if (!object)
			return strbuf_detach(&out);
		struct strbuf fields = { 0 };
		for (int f = 0; f < object->field_count; f++) {
			const char *name = object->fields[f].name;
			if (strcmp(name, "created_at") == 0 || strcmp(name, "updated_at") == 0)
				continue;
			if (fields.len)
				strbuf_putc(&fields, ',');
			strbuf_puts(&fields, name);
		}
		struct object_query query = { .fields = fields.data, .sort = "id" };
		strbuf_printf(&out, "== %s\n", demo_objects[i]);
		if (csv_export_to(ctx, demo_objects[i], &query, strbuf_write, &out, NULL) != CRM_OK)
			strbuf_printf(&out, "export failed: %s\n", ctx->message);
		strbuf_free(&fields);
	}
	return strbuf_detach(&out);
}

static int64_t count_of(struct crm_ctx *ctx, const char *object, const char *filter)
{
	int64_t count = -1;
	if (object_count(ctx, object, filter, &count) != CRM_OK)
		return -1;
	return count;
}

static char *generate(int records, uint64_t seed, int *status)
{
	struct fixture fx;
	if (open_base(&fx) != CRM_OK) {
		*status = CRM_EIO;
		return NULL;
	}
	*status = demo_generate(&fx.ctx, records, seed, NULL);
	if (*status != CRM_OK)
		fprintf(stderr, "  demo: %s\n", fx.ctx.message);
	char *text = export_everything(&fx.ctx);
	fixture_close(&fx);
	return text;
}

static void test_same_seed_gives_identical_data(void)
{
	int first_status, second_status;
	char *first = generate(30, 7, &first_status);
	char *second = generate(30, 7, &second_status);
	ASSERT_EQ(first_status, CRM_OK);
	ASSERT_EQ(second_status, CRM_OK);
	ASSERT(first && second);
	ASSERT(strlen(first) > 10000);
	ASSERT(!strstr(first, "export failed"));
	ASSERT(strcmp(first, second) == 0);
	free(first);
	free(second);
}

static void test_another_seed_gives_other_data(void)
{
	int first_status, second_status;
	char *first = generate(10, 1, &first_status);
	char *second = generate(10, 2, &second_status);
	ASSERT_EQ(first_status, CRM_OK);
	ASSERT_EQ(second_status, CRM_OK);
	ASSERT(first && second && strcmp(first, second) != 0);
	free(first);
	free(second);
}

static void test_demo_has_the_promised_shape(void)
{
	struct fixture fx;
	ASSERT_EQ(open_base(&fx), CRM_OK);
	int records = 200;
	char *log = NULL;
	size_t log_len = 0;
	FILE *log_file = open_memstream(&log, &log_len);
	int status = demo_generate(&fx.ctx, records, 42, log_file);
	fclose(log_file);
	if (status != CRM_OK)
		fprintf(stderr, "  demo: %s\n", fx.ctx.message);
	ASSERT_EQ(status, CRM_OK);
	ASSERT_CONTAINS(log, "200 accounts");
	ASSERT(!strstr(log, "refuses owner"));
	free(log);
	struct crm_ctx *ctx = &fx.ctx;
	ASSERT_EQ(count_of(ctx, "team", NULL), 10);   /* with the service package's L2, L3 and field service, fieldforce's two */
	/* with lead2cash's sales_director and finance, marketing's marketing_manager, service's manager and two agents,
	 * channel's two channel managers and the 11 people of its partners (plugins/channel/demo.lua) */
	ASSERT_EQ(count_of(ctx, "user", NULL), 34);   /* and the membership package's member_service, fieldforce's three */
	ASSERT_EQ(count_of(ctx, "user", "login = 'sales_rep3' and kind = 'employee' and active = true"), 1);
	ASSERT_EQ(count_of(ctx, "account", NULL), records);
	ASSERT_EQ(count_of(ctx, "lead", NULL), records / 2);
	int64_t contacts = count_of(ctx, "contact", NULL);
	ASSERT(contacts >= 2 * records && contacts <= 4 * records);
	int64_t opportunities = count_of(ctx, "opportunity", NULL);
	ASSERT(opportunities >= records && opportunities <= 3 * records);
	int64_t activities = count_of(ctx, "activity", NULL);
	ASSERT(activities >= records && activities <= 3 * records);
	/* every account, contact and opportunity belongs to a sales user */
	const char *sales_owner = "owner.login in ('sales_manager', 'sales_rep1', 'sales_rep2', 'sales_rep3')";
	ASSERT_EQ(count_of(ctx, "account", sales_owner), records);
	ASSERT_EQ(count_of(ctx, "contact", sales_owner), contacts);
	ASSERT_EQ(count_of(ctx, "opportunity", sales_owner), opportunities);
	ASSERT_EQ(count_of(ctx, "account", "owner.login = 'sales_rep1'"), records / 4);
	/* some new leads wait in the public pool, the others have owners */
	int64_t pool = count_of(ctx, "lead", "owner is null");
	ASSERT(pool > 0);
	ASSERT_EQ(count_of(ctx, "lead", "owner is null and status != 'new'"), 0);
	/* stages and probabilities agree; closed deals lie mostly in the past */
	ASSERT_EQ(count_of(ctx, "opportunity", "stage = 'won' and probability != 100"), 0);
	ASSERT_EQ(count_of(ctx, "opportunity", "stage = 'lost' and probability != 0"), 0);
	ASSERT(count_of(ctx, "opportunity", "stage = 'won' and close_date < '2026-01-01'") >
	       count_of(ctx, "opportunity", "stage = 'won' and close_date >= '2026-01-01'"));
	/* (renewals lead2cash opens for running contracts close when those end, after today, and so do the deals
	 * channel converts from deal registrations, "Company (DR-000003)") */
	ASSERT_EQ(count_of(ctx, "opportunity", "(close_date < '2024-12-31' or close_date > '2026-07-03') and "
	                   "not (name like 'Renewal CT-%' or name like '%(DR-%)')"), 0);
	/* rollups follow the opportunities (the demo's own: 1 to 3 an account, and lead2cash's renewals) */
	ASSERT_EQ(count_of(ctx, "account", "opportunity_count < 1 or opportunity_count > 4"), 0);
	/* cases: one per 5 accounts, every state, a year of history, resolved ones say how (the service
	   package's demo adds live cases and recent history of its own, opened since) */
	ASSERT_EQ(count_of(ctx, "case", "opened_at <= '2026-01-02'"), records / 5);
	ASSERT(count_of(ctx, "case", "status = 'new'") > 0);
	ASSERT(count_of(ctx, "case", "status = 'open'") > 0);
	ASSERT(count_of(ctx, "case", "status = 'resolved'") > 0);
	ASSERT(count_of(ctx, "case", "status = 'closed'") > 0);
	ASSERT(count_of(ctx, "case", "tier = 'l2'") > 0);
	ASSERT_EQ(count_of(ctx, "case", "status in ('resolved', 'closed') and resolution is null"), 0);
	ASSERT_EQ(count_of(ctx, "case", "status in ('new', 'open') and resolution is not null"), 0);
	ASSERT_EQ(count_of(ctx, "case", "account is null or contact is null or contact.account != account"), 0);
	ASSERT_EQ(count_of(ctx, "case", "opened_at < '2025-01-01'"), 0);
	ASSERT(count_of(ctx, "case", "opened_at < '2025-07-01'") > 0);
	ASSERT(count_of(ctx, "case", "owner.login = 'service_agent'") > records / 10);
	ASSERT(count_of(ctx, "case", "owner.login != 'service_agent'") > 0);
	ASSERT(count_of(ctx, "case", "subject like '%发票%' or subject like '%登录%' or subject like '%如何%' "
	                             "or subject like '%导出%' or subject like '%同步%' or subject like '%培训%' "
	                             "or subject like '%通知%' or subject like '%搜索%' or subject like '%上传%'") > 0);
	/* vehicles (the vin plugin): valid VINs, so the plugin took them and decoded the model year */
	if (meta_find_object(ctx->kernel->meta, "vehicle")) {
		ASSERT_EQ(count_of(ctx, "vehicle", NULL), records / 20);
		ASSERT_EQ(count_of(ctx, "vehicle", "model_year is null or account is null or len(vin) != 17"), 0);
	}
	/* the team managers were filled in after the users */
	ASSERT_EQ(count_of(ctx, "team", "manager is null"), 0);
	ASSERT_EQ(count_of(ctx, "user", "login = 'sales_rep1' and manager.login = 'sales_manager'"), 1);
	fixture_close(&fx);
}

static void test_demo_twice_reuses_users_and_teams(void)
{
	struct fixture fx;
	ASSERT_EQ(open_base(&fx), CRM_OK);
	ASSERT_EQ(demo_generate(&fx.ctx, 5, 1, NULL), CRM_OK);
	int status = demo_generate(&fx.ctx, 5, 2, NULL);
	if (status != CRM_OK)
		fprintf(stderr, "  demo: %s\n", fx.ctx.message);
	ASSERT_EQ(status, CRM_OK);
	ASSERT_EQ(count_of(&fx.ctx, "user", NULL), 34);
	ASSERT_EQ(count_of(&fx.ctx, "team", NULL), 10);
	ASSERT_EQ(count_of(&fx.ctx, "account", NULL), 10);
	ASSERT(fx.ctx.txn == NULL);
	fixture_close(&fx);
}

static void test_demo_with_no_records_creates_only_people(void)
{
	struct fixture fx;
	ASSERT_EQ(open_base(&fx), CRM_OK);
	ASSERT_EQ(demo_generate(&fx.ctx, 0, 1, NULL), CRM_OK);
	ASSERT_EQ(count_of(&fx.ctx, "user", NULL), 23);   /* no accounts: no package demo, the people only (channel managers, member_service, field force) */
	ASSERT_EQ(count_of(&fx.ctx, "account", NULL), 0);
	ASSERT_EQ(demo_generate(&fx.ctx, -1, 1, NULL), CRM_EINVAL);
	fixture_close(&fx);
}

static const struct test_case tests[] = {
	{ "same_seed_gives_identical_data", test_same_seed_gives_identical_data },
	{ "another_seed_gives_other_data", test_another_seed_gives_other_data },
	{ "demo_has_the_promised_shape", test_demo_has_the_promised_shape },
	{ "demo_twice_reuses_users_and_teams", test_demo_twice_reuses_users_and_teams },
	{ "demo_with_no_records_creates_only_people", test_demo_with_no_records_creates_only_people },
};

TEST_MAIN(tests)
