/*
 * test_docs.c - the metadata reference (meta_docs.c) against the loaders:
 * every key a loader accepts has its entry and every entry a key, each
 * section the unknown-key messages point to exists, and those messages name
 * it. tests/cli/run.sh checks that the committed docs/metadata.md is what
 * `crm docs metadata` writes.
 */
#include <stdlib.h>
#include "test.h"
#include "meta.h"
#include "meta_docs.h"
#include "plugin.h"

/* The whole reference, as written for `crm docs metadata`. Owned. */
static char *written(void)
{
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);
	int count;
	const struct meta_key_table *manifest = plugin_key_tables(&count);
	meta_docs_write(out, manifest, count);
	fclose(out);
	return text;
}

static void test_every_loader_key_is_documented_and_every_entry_is_a_key(void)
{
	char err[4096];
	int count;
	const struct meta_key_table *manifest = plugin_key_tables(&count);
	int problems = meta_docs_check(manifest, count, err, sizeof(err));
	if (problems)
		fprintf(stderr, "  %d disagreements between the loaders and core/lang/meta_docs.c: %s\n", problems, err);
	ASSERT_EQ(problems, 0);
}

static void test_an_undocumented_key_or_kind_fails_the_check(void)
{
	static const char *const keys[] = { "name", "version", "colour", NULL };
	static const char *const other[] = { "x", NULL };
	const struct meta_key_table extra[] = { { "plugin-manifest", keys }, { "gadget", other } };
	char err[1024];
	int problems = meta_docs_check(extra, 2, err, sizeof(err));
	ASSERT(problems >= 2);
	ASSERT_CONTAINS(err, "key 'colour' of 'plugin-manifest' has no entry");
	ASSERT_CONTAINS(err, "key table 'gadget' has no section");
}

static void test_every_key_table_has_its_section_and_every_field_key_its_row(void)
{
	char *text = written();
	ASSERT(text != NULL);
	int count;
	const struct meta_key_table *tables = meta_key_tables(&count);
	char anchor[128];
	for (int i = 0; i < count; i++) {
		snprintf(anchor, sizeof(anchor), "<a id=\"%s\"></a>", tables[i].kind);
		ASSERT_CONTAINS(text, anchor);
	}
	tables = plugin_key_tables(&count);
	for (int i = 0; i < count; i++) {
		snprintf(anchor, sizeof(anchor), "<a id=\"%s\"></a>", tables[i].kind);
		ASSERT_CONTAINS(text, anchor);
	}
	ASSERT_CONTAINS(text, "<a id=\"field\"></a>");
	ASSERT_CONTAINS(text, "<a id=\"contents\"></a>");
	for (int k = 0; k < meta_field_key_count(); k++) {
		snprintf(anchor, sizeof(anchor), "| `%s` | ", meta_field_key_name(k));
		ASSERT_CONTAINS(text, anchor);
	}
	/* from the loader's masks */
	ASSERT_CONTAINS(text, "| `on_delete` | ref, user | text | restrict, set_null, cascade |");
	ASSERT_CONTAINS(text, "| `rollup` | ");
	ASSERT_CONTAINS(text, "| `days_between(a, b)` | ");
	ASSERT_CONTAINS(text, "| `deleted_at` | datetime | ");
	ASSERT(strstr(text, "(undocumented)") == NULL);
	free(text);
}

static const struct meta_diag *find_diag(const struct meta_diags *diags, const char *needle)
{
	for (int i = 0; i < diags->count; i++) {
		if (strstr(diags->items[i].message, needle))
			return &diags->items[i];
	}
	return NULL;
}

#define ASSERT_LINKED(diags, key, section) do { \
	const struct meta_diag *d_ = find_diag(&(diags), "unknown key '" key); \
	if (!d_) { fprintf(stderr, "  %s:%d: no unknown-key error for '%s; got:\n", __FILE__, __LINE__, key); \
		meta_diags_print(&(diags), stderr); test_failed_now = 1; return; } \
	ASSERT_CONTAINS(d_->message, "(see docs/metadata.md#" section ")"); \
} while (0)

static void test_unknown_key_errors_point_to_their_section(void)
{
	const char *names[] = { "app.yaml", "a.yaml" };
	const char *texts[] = {
		"app: crm\nplugins: [{ name: x, vers: 1 }]\ncolor: red\n",
		"object: thing\n"
		"colour: red\n"
		"fields:\n"
		"  name: { type: text, size: 3 }\n"
		"  kind: { type: enum, values: [{ value: a, colour: red }] }\n"
		"rules: [{ when: \"name = 'x'\", message: m, level: 1 }]\n"
		"indexes: [{ fields: [name], sort: 1 }]\n"
		"---\n"
		"role: r\n"
		"power: 1\n"
		"objects: { thing: { read: all, write: all } }\n"
		"---\n"
		"workflow: w\n"
		"object: thing\n"
		"field: kind\n"
		"colour: red\n"
		"transitions:\n"
		"  - { name: t, from: a, to: a, speed: 1,\n"
		"      approval: { approvers: [owner_manager], quorum: 1, steps: [{ approvers: [owner_manager], size: 1 }] },\n"
		"      do: [{ create: { object: thing, colour: 1 } }, { notify: owner, tone: loud }, { sett: { name: x } }] }\n"
		"timers:\n"
		"  - { name: tm, every: 1h, do: [notify_owner], period: 1 }\n",
	};
	struct meta *meta = NULL;
	struct meta_diags diags;
	ASSERT_EQ(meta_load_texts(2, names, texts, &meta, &diags), CRM_EMETA);
	ASSERT_LINKED(diags, "color'", "app");
	ASSERT_LINKED(diags, "vers'", "app-plugin");
	ASSERT_LINKED(diags, "colour' in object", "object");
	ASSERT_LINKED(diags, "size' in field", "field");
	ASSERT_LINKED(diags, "colour' in enum value", "enum-value");
	ASSERT_LINKED(diags, "level'", "rule");
	ASSERT_LINKED(diags, "sort'", "index");
	ASSERT_LINKED(diags, "power'", "role");
	ASSERT_LINKED(diags, "write'", "role-object");
	ASSERT_LINKED(diags, "colour' in workflow", "workflow");
	ASSERT_LINKED(diags, "speed'", "transition");
	ASSERT_LINKED(diags, "quorum'", "approval");
	ASSERT_LINKED(diags, "size' in approval step", "approval-step");
	ASSERT_LINKED(diags, "colour' in create", "create-action");
	ASSERT_LINKED(diags, "tone'", "notify-action");
	ASSERT_LINKED(diags, "sett'", "actions");
	ASSERT_LINKED(diags, "period'", "timer");
	/* the file:line:column of the key itself, as before */
	const struct meta_diag *d = find_diag(&diags, "unknown key 'speed'");
	ASSERT_STR_EQ(d->file, "a.yaml");
	ASSERT_EQ(d->line, 18);
	meta_diags_free(&diags);
}

static struct test_case tests[] = {
	{"every_loader_key_is_documented_and_every_entry_is_a_key",
	 test_every_loader_key_is_documented_and_every_entry_is_a_key},
	{"an_undocumented_key_or_kind_fails_the_check", test_an_undocumented_key_or_kind_fails_the_check},
	{"every_key_table_has_its_section_and_every_field_key_its_row",
	 test_every_key_table_has_its_section_and_every_field_key_its_row},
	{"unknown_key_errors_point_to_their_section", test_unknown_key_errors_point_to_their_section},
};

TEST_MAIN(tests)
