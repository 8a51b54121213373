/*
 * test_gdpr.c - export and erasure of a person's data; after erasure no
 * personal value is left in the table, the audit trail, or the database and
 * WAL files on disk (RELIABILITY row 23).
 */
#include "test.h"
#include "fixture.h"
#include "gdpr.h"

static const char *const schema =
	"object: account\n"
	"fields:\n"
	"  name: { type: text, required: true }\n"
	"---\n"
	"object: contact\n"
	"fields:\n"
	"  last_name: { type: text, required: true, personal: true }\n"
	"  email: { type: email, personal: true }\n"
	"  phone: { type: phone, personal: true }\n"
	"  title: { type: text }\n"
	"  account: { type: ref, to: account }\n"
	"---\n"
	"object: activity\n"
	"fields:\n"
	"  subject: { type: text }\n"
	"  contact: { type: ref, to: contact }\n";

static struct fixture fx;

/* True if needle occurs anywhere in the file. */
static bool file_contains(const char *path, const char *needle)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	size_t n = strlen(needle), size = 0, cap = 1 << 20;
	char *data = malloc(cap);
	size_t got;
	while ((got = fread(data + size, 1, cap - size, f)) > 0) {
		size += got;
		if (size == cap)
			data = realloc(data, cap *= 2);
	}
	fclose(f);
	bool found = false;
	for (size_t i = 0; i + n <= size && !found; i++)
		found = memcmp(data + i, needle, n) == 0;
	free(data);
	return found;
}

static void test_export_collects_record_history_and_related(void)
{
	ASSERT_EQ(fixture_open(&fx, schema), CRM_OK);
	json_t *v = json_pack("{s:s}", "name", "Acme");
	int64_t acct = 0, person = 0, act = 0;
	ASSERT_EQ(object_create_id(&fx.ctx, "account", v, &acct), CRM_OK);
	json_decref(v);
	v = json_pack("{s:s, s:s, s:I}", "last_name", "Lovelace", "email", "ada@example.com", "account", (json_int_t)acct);
	ASSERT_EQ(object_create_id(&fx.ctx, "contact", v, &person), CRM_OK);
	json_decref(v);
	v = json_pack("{s:s, s:I}", "subject", "Call Ada", "contact", (json_int_t)person);
	ASSERT_EQ(object_create_id(&fx.ctx, "activity", v, &act), CRM_OK);
	json_decref(v);
	json_t *out = NULL;
	ASSERT_EQ(gdpr_export(&fx.ctx, "contact", person, &out), CRM_OK);
	ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(out, "record"), "email")), "ada@example.com");
	ASSERT_EQ(json_array_size(json_object_get(json_object_get(out, "related"), "activity")), 1);
	ASSERT_EQ(json_array_size(json_object_get(out, "history")), 1);
	json_decref(out);
	ASSERT_EQ(gdpr_export(&fx.ctx, "contact", 999, &out), CRM_ENOTFOUND);
	fixture_close(&fx);
}

static void test_erase_leaves_no_personal_value_anywhere(void)
{
	ASSERT_EQ(fixture_open(&fx, schema), CRM_OK);
	json_t *v = json_pack("{s:s, s:s, s:s, s:s}", "last_name", "Hopper", "email", "grace.hopper@example.org",
	                      "phone", "+1 555 0100", "title", "Rear Admiral");
	int64_t person = 0;
	ASSERT_EQ(object_create_id(&fx.ctx, "contact", v, &person), CRM_OK);
	json_decref(v);
	/* an update puts the old email in the audit trail */
	v = json_pack("{s:s}", "email", "grace@navy.example.org");
	ASSERT_EQ(object_update(&fx.ctx, "contact", person, 0, v, NULL), CRM_OK);
	json_decref(v);
	int fields = 0;
	ASSERT_EQ(gdpr_erase(&fx.ctx, "contact", person, &fields), CRM_OK);
	ASSERT_EQ(fields, 3);
	json_t *r = NULL;
	ASSERT_EQ(object_get(&fx.ctx, "contact", person, false, &r), CRM_OK);
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "last_name")), "[erased]");
	ASSERT(json_is_null(json_object_get(r, "email")));
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "title")), "Rear Admiral");
	json_decref(r);
	json_t *history = NULL;
	ASSERT_EQ(object_history(&fx.ctx, "contact", person, &history), CRM_OK);
	char *text = json_dumps(history, 0);
	ASSERT(!strstr(text, "grace"));
	ASSERT(!strstr(text, "Hopper"));
	ASSERT_CONTAINS(text, "erase");
	free(text);
	json_decref(history);
	fixture_close_kernel(&fx);
	char wal[400];
	snprintf(wal, sizeof(wal), "%s-wal", fx.db);
	ASSERT(!file_contains(fx.db, "grace.hopper@example.org"));
	ASSERT(!file_contains(fx.db, "grace@navy.example.org"));
	ASSERT(!file_contains(fx.db, "Hopper"));
	ASSERT(!file_contains(wal, "Hopper"));
	fixture_close(&fx);
}

static void test_erase_needs_an_admin(void)
{
	ASSERT_EQ(fixture_open(&fx, schema), CRM_OK);
	fx.ctx.user_id = 12345; /* not a user at all */
	ASSERT_EQ(gdpr_erase(&fx.ctx, "contact", 1, NULL), CRM_EDENIED);
	fx.ctx.user_id = 0;
	ASSERT_EQ(gdpr_erase(&fx.ctx, "account", 1, NULL), CRM_EINVAL);
	ASSERT_EQ(gdpr_erase(&fx.ctx, "contact", 777, NULL), CRM_ENOTFOUND);
	fixture_close(&fx);
}

static const struct test_case tests[] = {
	{ "export_collects_record_history_and_related", test_export_collects_record_history_and_related },
	{ "erase_leaves_no_personal_value_anywhere", test_erase_leaves_no_personal_value_anywhere },
	{ "erase_needs_an_admin", test_erase_needs_an_admin },
};

TEST_MAIN(tests)
