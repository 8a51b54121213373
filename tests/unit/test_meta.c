/*
 * test_meta.c - the metadata loader: every field type, system fields, labels,
 * extensions, roles, and the diagnostics (with their line and column) for
 * the mistakes an implementer makes, plus loads from real directories.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "test.h"
#include "meta.h"

/* Loads one in-memory file. */
static int load_one(const char *name, const char *text, struct meta **out, struct meta_diags *diags)
{
	const char *names[] = {name};
	const char *texts[] = {text};
	return meta_load_texts(1, names, texts, out, diags);
}

static int load_two(const char *name1, const char *text1, const char *name2, const char *text2,
                    struct meta **out, struct meta_diags *diags)
{
	const char *names[] = {name1, name2};
	const char *texts[] = {text1, text2};
	return meta_load_texts(2, names, texts, out, diags);
}

static const struct meta_diag *find_diag(const struct meta_diags *diags, const char *needle)
{
	for (int i = 0; i < diags->count; i++) {
		if (strstr(diags->items[i].message, needle))
			return &diags->items[i];
	}
	return NULL;
}

static int count_diags(const struct meta_diags *diags, const char *needle)
{
	int count = 0;
	for (int i = 0; i < diags->count; i++)
		count += strstr(diags->items[i].message, needle) != NULL;
	return count;
}

/* Asserts a diagnostic containing needle at file:line:column (printing them all if not). */
#define ASSERT_DIAG(diags, file_, line_, column_, needle) do { \
	const struct meta_diag *dg_ = find_diag(&(diags), (needle)); \
	if (!dg_) { \
		fprintf(stderr, "  %s:%d: no diagnostic contains \"%s\"; got:\n", __FILE__, __LINE__, (needle)); \
		meta_diags_print(&(diags), stderr); \
		test_failed_now = 1; return; } \
	ASSERT_STR_EQ(dg_->file, (file_)); \
	ASSERT_EQ(dg_->line, (line_)); \
	ASSERT_EQ(dg_->column, (column_)); \
} while (0)

#define ASSERT_LOADED(rc, diags) do { if ((rc) != CRM_OK) { \
	fprintf(stderr, "  %s:%d: load failed:\n", __FILE__, __LINE__); \
	meta_diags_print(&(diags), stderr); test_failed_now = 1; return; } } while (0)

static const char every_type_yaml[] =
	"object: account\n"
	"label: { en: Account, zh: 客户 }\n"
	"module: sales\n"
	"description: companies we sell to\n"
	"fields:\n"
	"  name: { type: text, required: true, max: 120, search: true }\n"
	"  notes: { type: textarea }\n"
	"  email: { type: email, unique: true }\n"
	"  phone: { type: phone }\n"
	"  website: { type: url, max_length: 500 }\n"
	"  employees: { type: int, min: 0, default: 10 }\n"
	"  rating: { type: decimal }\n"
	"  revenue: { type: money, min: 0, scale: 4 }\n"
	"  share: { type: percent, default: 12.5 }\n"
	"  active: { type: bool, default: true }\n"
	"  founded: { type: date, default: 2020-01-31 }\n"
	"  last_call: { type: datetime, readonly: true }\n"
	"  tier: { type: enum, values: [gold, silver], default: gold }\n"
	"  tags: { type: multienum, values: [{ value: vip, label: { en: VIP, zh: 贵宾 } }, partner], default: [vip] }\n"
	"  parent: { type: ref, to: account, on_delete: set_null }\n"
	"  manager: { type: user }\n"
	"  extra: { type: json, default: { a: 1 } }\n"
	"  location: { type: geo }\n"
	"  code: { type: autonumber, format: \"ACC-{00000}\" }\n"
	"  score: { type: formula, formula: \"employees * 2\", returns: int }\n"
	"  expected: { type: money, formula: \"revenue * share / 100\" }\n"
	"  deals: { type: rollup, of: opportunity.account, measure: sum(amount), where: \"stage = 'won'\" }\n"
	"  deal_count: { type: rollup, of: opportunity.account, measure: count }\n"
	"  first_close: { type: rollup, of: opportunity.account, measure: min(close_date) }\n"
	"rules:\n"
	"  - { when: \"employees < 0\", message: \"Employees cannot be negative\", field: employees }\n"
	"indexes: [[name, tier], { fields: [email], unique: true }]\n"
	"views:\n"
	"  list: [name, tier]\n"
	"  kanban: { group_by: tier, limit: 5, ratio: 0.5, flag: false, note: \"10\" }\n"
	"---\n"
	"object: opportunity\n"
	"fields:\n"
	"  account: { type: ref, to: account, required: true }\n"
	"  amount: { type: money }\n"
	"  stage: { type: enum, values: [open, won, lost] }\n"
	"  close_date: { type: date }\n"
	"---\n"
	"workflow: opportunity_stage\n"
	"object: opportunity\n"
	"field: stage\n"
	"---\n"
	"role: sales_rep\n"
	"kind: employee\n";

static void test_every_field_type_loads_with_its_attributes(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("crm.yaml", every_type_yaml, &meta, &diags);
	ASSERT_LOADED(rc, diags);
	ASSERT_EQ(diags.count, 0);
	ASSERT_EQ(meta->object_count, 2);   /* workflow documents are skipped */
	ASSERT_EQ(meta->role_count, 1);
	ASSERT(meta_find_role(meta, "sales_rep") != NULL);
	ASSERT_EQ(strlen(meta->version), 64);
	ASSERT_EQ(meta->language_count, 1);
	ASSERT_STR_EQ(meta->languages[0], "en");

	const struct meta_object *account = meta_find_object(meta, "account");
	const struct meta_object *opportunity = meta_find_object(meta, "opportunity");
	ASSERT(account && opportunity);
	ASSERT_STR_EQ(account->module, "sales");
	ASSERT_EQ(account->pos.line, 1);
	ASSERT_EQ(account->pos.column, 9);
	ASSERT_EQ(account->field_count, 8 + 24);

	static const struct { const char *name; enum field_type type; } expected[] = {
		{"name", FIELD_TEXT}, {"notes", FIELD_TEXTAREA}, {"email", FIELD_EMAIL}, {"phone", FIELD_PHONE},
		{"website", FIELD_URL}, {"employees", FIELD_INT}, {"rating", FIELD_DECIMAL},
		{"revenue", FIELD_MONEY}, {"share", FIELD_PERCENT}, {"active", FIELD_BOOL},
		{"founded", FIELD_DATE}, {"last_call", FIELD_DATETIME}, {"tier", FIELD_ENUM},
		{"tags", FIELD_MULTIENUM}, {"parent", FIELD_REF}, {"manager", FIELD_USER},
		{"extra", FIELD_JSON}, {"location", FIELD_GEO}, {"code", FIELD_AUTONUMBER},
		{"score", FIELD_FORMULA}, {"expected", FIELD_FORMULA}, {"deals", FIELD_ROLLUP},
		{"deal_count", FIELD_ROLLUP}, {"first_close", FIELD_ROLLUP},
	};
	bool seen[FIELD_TYPE_COUNT] = {0};
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		const struct meta_field *field = &account->fields[8 + i];
		ASSERT_STR_EQ(field->name, expected[i].name);
		ASSERT_EQ(field->type, expected[i].type);
		ASSERT(!field->system);
		ASSERT_EQ(meta_field_index(account, expected[i].name), 8 + (int)i);
		seen[field->type] = true;
	}
	for (int t = 0; t < FIELD_TYPE_COUNT; t++)
		ASSERT(seen[t]);

	const struct meta_field *f = meta_find_field(account, "name");
	ASSERT(f->required && f->search && f->has_max);
	ASSERT_EQ(f->max_length, 120);
	ASSERT_EQ(f->pos.line, 6);
	ASSERT_EQ(f->pos.column, 3);
	ASSERT_EQ(meta_find_field(account, "notes")->max_length, 32000);
	ASSERT_EQ(meta_find_field(account, "phone")->max_length, 255);
	ASSERT_EQ(meta_find_field(account, "website")->max_length, 500);
	ASSERT(meta_find_field(account, "email")->unique);
	ASSERT(meta_find_field(account, "last_call")->readonly);

	f = meta_find_field(account, "employees");
	ASSERT(f->has_min && f->min == 0 && !f->has_max);
	ASSERT(json_is_integer(f->default_value));
	ASSERT_EQ(json_integer_value(f->default_value), 10);
	ASSERT_EQ(meta_field_kind(f), KIND_INT);
	ASSERT_EQ(meta_find_field(account, "rating")->scale, 6);
	ASSERT_EQ(meta_find_field(account, "revenue")->scale, 4);
	f = meta_find_field(account, "share");
	ASSERT_EQ(f->scale, 2);
	ASSERT(!f->has_min && !f->has_max);   /* percent has no implicit bounds */
	ASSERT(json_is_real(f->default_value) && json_real_value(f->default_value) == 12.5);
	ASSERT_EQ(meta_field_kind(f), KIND_REAL);
	f = meta_find_field(account, "active");
	ASSERT(json_is_true(f->default_value));
	ASSERT_EQ(meta_field_kind(f), KIND_BOOL);
	ASSERT_STR_EQ(json_string_value(meta_find_field(account, "founded")->default_value), "2020-01-31");

	f = meta_find_field(account, "tier");
	ASSERT_EQ(f->value_count, 2);
	ASSERT_STR_EQ(f->values[1], "silver");
	ASSERT_STR_EQ(json_string_value(f->default_value), "gold");
	ASSERT_EQ(meta_field_kind(f), KIND_TEXT);
	f = meta_find_field(account, "tags");
	ASSERT_EQ(f->value_count, 2);
	ASSERT_STR_EQ(f->values[0], "vip");
	ASSERT_STR_EQ(meta_label_text(&f->value_labels[0], "zh", "vip"), "贵宾");
	ASSERT_EQ(f->value_labels[1].count, 0);
	ASSERT(json_is_array(f->default_value) && json_array_size(f->default_value) == 1);
	ASSERT_EQ(meta_field_kind(f), KIND_JSON);

	f = meta_find_field(account, "parent");
	ASSERT_STR_EQ(f->to, "account");
	ASSERT(f->target == account);
	ASSERT_EQ(f->on_delete, ON_DELETE_SET_NULL);
	f = meta_find_field(account, "manager");
	ASSERT_STR_EQ(f->to, "user");
	ASSERT(f->target == NULL);            /* no user object loaded: not an error */
	ASSERT_EQ(f->on_delete, ON_DELETE_SET_NULL);
	ASSERT_EQ(meta_find_field(opportunity, "account")->on_delete, ON_DELETE_RESTRICT);
	ASSERT_EQ(json_integer_value(json_object_get(meta_find_field(account, "extra")->default_value, "a")), 1);
	ASSERT_EQ(meta_field_kind(meta_find_field(account, "location")), KIND_JSON);
	ASSERT_STR_EQ(meta_find_field(account, "code")->format, "ACC-{00000}");

	f = meta_find_field(account, "score");
	ASSERT_EQ(f->result_type, FIELD_INT);
	ASSERT(f->formula_expr != NULL);
	ASSERT_EQ(meta_field_kind(f), KIND_INT);
	ASSERT(!meta_field_stored(f));
	f = meta_find_field(account, "expected");
	ASSERT_EQ(f->result_type, FIELD_MONEY);   /* { type: money, formula: ... } */
	ASSERT_STR_EQ(f->formula, "revenue * share / 100");
	ASSERT_EQ(f->scale, 2);
	ASSERT_EQ(meta_field_kind(f), KIND_REAL);

	f = meta_find_field(account, "deals");
	ASSERT(f->rollup_child == opportunity);
	ASSERT(f->rollup_child_field == meta_find_field(opportunity, "account"));
	ASSERT_EQ(f->rollup_measure, ROLLUP_SUM);
	ASSERT_STR_EQ(f->rollup_measure_field, "amount");
	ASSERT(f->rollup_where_expr != NULL);
	ASSERT_EQ(meta_field_kind(f), KIND_REAL);
	ASSERT(meta_field_stored(f));
	f = meta_find_field(account, "deal_count");
	ASSERT_EQ(f->rollup_measure, ROLLUP_COUNT);
	ASSERT(f->rollup_measure_field == NULL);
	ASSERT_EQ(meta_field_kind(f), KIND_INT);
	ASSERT_EQ(meta_field_kind(meta_find_field(account, "first_close")), KIND_TEXT);
	ASSERT_EQ(opportunity->rollup_parent_count, 3);
	ASSERT(opportunity->rollup_parents[0] == meta_find_field(account, "deals"));

	ASSERT_EQ(account->rule_count, 1);
	ASSERT_STR_EQ(account->rules[0].field, "employees");
	ASSERT_STR_EQ(account->rules[0].message, "Employees cannot be negative");
	ASSERT(account->rules[0].expr != NULL);
	ASSERT_EQ(account->index_count, 2);
	ASSERT_EQ(account->indexes[0].field_count, 2);
	ASSERT(!account->indexes[0].unique);
	ASSERT(account->indexes[1].unique);
	ASSERT_STR_EQ(account->indexes[1].fields[0], "email");

	json_t *kanban = json_object_get(account->views, "kanban");
	ASSERT(json_is_array(json_object_get(account->views, "list")));
	ASSERT_EQ(json_integer_value(json_object_get(kanban, "limit")), 5);
	ASSERT(json_is_real(json_object_get(kanban, "ratio")));
	ASSERT(json_is_false(json_object_get(kanban, "flag")));
	ASSERT_STR_EQ(json_string_value(json_object_get(kanban, "note")), "10");
	ASSERT_STR_EQ(json_string_value(json_object_get(kanban, "group_by")), "tier");

	ASSERT_STR_EQ(meta_type_name(FIELD_MULTIENUM), "multienum");
	ASSERT_STR_EQ(meta_type_name(FIELD_TYPE_COUNT), "unknown");
	ASSERT(meta_find_object(meta, "nothing") == NULL);
	ASSERT(meta_find_field(account, "nothing") == NULL);
	ASSERT_EQ(meta_field_index(account, "nothing"), -1);
	meta_free(meta);
	meta_diags_free(&diags);
}

static void test_system_fields_come_first_in_order(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("a.yaml",
		"object: user\nfields:\n  login: { type: text }\n---\n"
		"object: note\nfields:\n  body: { type: textarea }\n  author: { type: user }\n", &meta, &diags);
	ASSERT_LOADED(rc, diags);
	static const struct { const char *name; enum field_type type; } system[] = {
		{"id", FIELD_INT}, {"created_at", FIELD_DATETIME}, {"created_by", FIELD_USER},
		{"updated_at", FIELD_DATETIME}, {"updated_by", FIELD_USER}, {"owner", FIELD_USER},
		{"version", FIELD_INT}, {"deleted_at", FIELD_DATETIME},
	};
	const struct meta_object *user = meta_find_object(meta, "user");
	const struct meta_object *note = meta_find_object(meta, "note");
	ASSERT_EQ(note->field_count, 10);
	for (int i = 0; i < 8; i++) {
		ASSERT_STR_EQ(note->fields[i].name, system[i].name);
		ASSERT_EQ(note->fields[i].type, system[i].type);
		ASSERT(note->fields[i].system);
	}
	ASSERT_STR_EQ(note->fields[8].name, "body");
	ASSERT(!note->fields[8].system);
	/* User fields, system or not, point at the user object when there is one. */
	ASSERT(meta_find_field(note, "owner")->target == user);
	ASSERT(meta_find_field(note, "author")->target == user);
	ASSERT(meta_find_field(user, "created_by")->target == user);
	meta_free(meta);
	meta_diags_free(&diags);
}

static void test_i18n_label_falls_back_to_en_then_name(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("a.yaml",
		"object: lead\nlabel: { en: Lead, zh: 线索 }\nfields:\n  name: { type: text, label: Name }\n"
		"  source: { type: text }\n", &meta, &diags);
	ASSERT_LOADED(rc, diags);
	const struct meta_object *lead = meta_find_object(meta, "lead");
	ASSERT_EQ(lead->label.count, 2);
	ASSERT_STR_EQ(meta_label_text(&lead->label, "zh", "lead"), "线索");
	ASSERT_STR_EQ(meta_label_text(&lead->label, "en", "lead"), "Lead");
	ASSERT_STR_EQ(meta_label_text(&lead->label, "fr", "lead"), "Lead");
	ASSERT_STR_EQ(meta_label_text(&lead->label, NULL, "lead"), "Lead");
	const struct meta_field *name = meta_find_field(lead, "name");
	ASSERT_STR_EQ(meta_label_text(&name->label, "zh", "name"), "Name");   /* a plain text is en */
	const struct meta_field *source = meta_find_field(lead, "source");
	ASSERT_STR_EQ(meta_label_text(&source->label, "zh", "source"), "source");
	meta_free(meta);
	meta_diags_free(&diags);
}

static void test_extend_merges_from_an_earlier_file_name(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	/* a.yaml is loaded first, yet extends contact, defined in b.yaml. */
	int rc = load_two(
		"a.yaml",
		"object: contact\nextend: true\nlabel: Person\nfields:\n  wechat: { type: text }\n"
		"rules:\n  - { when: \"wechat = ''\", message: empty }\n"
		"indexes: [[wechat]]\nviews:\n  list: [wechat]\n  card: [name]\n",
		"b.yaml",
		"object: contact\nlabel: Contact\nmodule: sales\nfields:\n  name: { type: text }\n"
		"rules:\n  - { when: \"name = ''\", message: empty }\n"
		"indexes: [[name]]\nviews:\n  list: [name]\n  form: [name]\n",
		&meta, &diags);
	ASSERT_LOADED(rc, diags);
	ASSERT_EQ(meta->object_count, 1);
	const struct meta_object *contact = meta_find_object(meta, "contact");
	ASSERT_EQ(contact->field_count, 10);
	ASSERT_STR_EQ(contact->fields[8].name, "name");
	ASSERT_STR_EQ(contact->fields[9].name, "wechat");
	ASSERT_STR_EQ(contact->fields[9].pos.file, "a.yaml");
	ASSERT_STR_EQ(contact->pos.file, "b.yaml");
	ASSERT_STR_EQ(meta_label_text(&contact->label, "en", "contact"), "Person");
	ASSERT_STR_EQ(contact->module, "sales");
	ASSERT_EQ(contact->rule_count, 2);
	ASSERT_EQ(contact->index_count, 2);
	ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(contact->views, "list"), 0)), "wechat");
	ASSERT(json_object_get(contact->views, "form") && json_object_get(contact->views, "card"));
	ASSERT_EQ(meta->file_count, 2);
	meta_free(meta);
	meta_diags_free(&diags);
}

static void test_object_defined_twice_names_both_places(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_two("a.yaml", "object: contact\n", "b.yaml", "# again\nobject: contact\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT(meta == NULL);
	ASSERT_EQ(diags.error_count, 1);
	ASSERT_DIAG(diags, "b.yaml", 2, 9, "object 'contact' is already defined at a.yaml:1:9");
	meta_diags_free(&diags);
}

static void test_extend_of_unknown_object_is_refused(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("a.yaml", "object: ghost\nextend: true\nfields:\n  x: { type: int }\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 1);
	ASSERT_DIAG(diags, "a.yaml", 1, 9, "extend of unknown object 'ghost'");
	meta_diags_free(&diags);
}

static int load_three(const char *const names[3], const char *const texts[3], struct meta **out,
                      struct meta_diags *diags)
{
	return meta_load_texts(3, names, texts, out, diags);
}

/* The base of the workflow extension tests: a deal moved by the pipeline workflow. */
static const char pipeline_yaml[] =
	"object: deal\n"
	"fields:\n"
	"  stage: { type: enum, values: [open, won, lost] }\n"
	"  kind: { type: text }\n"
	"---\n"
	"workflow: pipeline\n"
	"object: deal\n"
	"field: stage\n"
	"initial: open\n"
	"terminal: [won]\n"
	"transitions:\n"
	"  - { name: win, from: open, to: won, do: [{ set: { kind: small } }] }\n"
	"  - { name: lose, from: open, to: lost }\n"
	"  - { name: reopen, from: lost, to: open, direct: true }\n";

static void test_workflow_extensions_merge_whatever_the_file_order(void)
{
	/* a.yaml extends a transition b.yaml adds to the workflow c.yaml defines: all loaded before their base */
	static const char *const names[3] = { "a.yaml", "b.yaml", "c.yaml" };
	static const char *const texts[3] = {
		"workflow: pipeline\n"
		"extend: true\n"
		"transitions:\n"
		"  - { name: stall, extend: true, do: [{ set: { kind: quiet } }] }\n",
		"object: deal\n"
		"extend: true\n"
		"fields:\n"
		"  stage: { extend: true, values: [{ value: stalled, label: { en: Stalled, zh: 停滞 } }, dead] }\n"
		"---\n"
		"workflow: pipeline\n"
		"extend: true\n"
		"terminal: [dead]\n"
		"description: \"The quiet deals\"\n"
		"transitions:\n"
		"  - { name: stall, from: open, to: stalled }\n"
		"  - { name: bury, from: [stalled, lost], to: dead, direct: true }\n"
		"  - { name: win, extend: true, do: [{ set: { kind: big } }] }\n"
		"timers:\n"
		"  - { name: stall_quiet, when: \"stage = 'open'\", untouched_for: 60d, every: 1d, do: [{ transition: stall }] }\n"
		"  - { name: bury_stalled, when: \"stage = 'stalled'\", every: 1d, do: [{ transition: bury }] }\n",
		pipeline_yaml,
	};
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_three(names, texts, &meta, &diags);
	ASSERT_LOADED(rc, diags);
	ASSERT_EQ(diags.count, 0);
	const struct meta_field *stage = meta_find_field(meta_find_object(meta, "deal"), "stage");
	ASSERT_EQ(stage->value_count, 5);
	ASSERT_STR_EQ(stage->values[3], "stalled");
	ASSERT_STR_EQ(meta_label_text(&stage->value_labels[3], "zh", "stalled"), "停滞");
	ASSERT_STR_EQ(stage->values[4], "dead");
	const struct meta_workflow *wf = meta_find_workflow(meta, "pipeline");
	ASSERT_EQ(wf->transition_count, 5);
	ASSERT_STR_EQ(wf->pos.file, "c.yaml");
	ASSERT_EQ(wf->terminal_count, 2);
	const struct meta_transition *win = meta_find_transition(wf, "win");
	ASSERT_EQ(win->action_count, 2);   /* its own, then the extension's */
	ASSERT_STR_EQ(json_string_value(json_object_get(win->actions[1].values, "kind")), "big");
	const struct meta_transition *stall = meta_find_transition(wf, "stall");
	ASSERT_STR_EQ(stall->pos.file, "b.yaml");
	ASSERT_EQ(stall->action_count, 1);
	ASSERT_STR_EQ(stall->actions[0].pos.file, "a.yaml");
	ASSERT(meta_find_transition(wf, "bury")->direct);
	ASSERT_EQ(wf->timer_count, 2);
	ASSERT_EQ(wf->timers[0].actions[0].kind, WORKFLOW_ACTION_TRANSITION);
	ASSERT_STR_EQ(wf->timers[0].actions[0].transition, "stall");
	meta_free(meta);
	meta_diags_free(&diags);
}

static void test_bad_workflow_extensions_are_refused_where_written(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_two("a.yaml",
		"workflow: ghost\n"
		"extend: true\n"
		"---\n"
		"workflow: pipeline\n"
		"extend: true\n"
		"object: deal\n"
		"initial: won\n"
		"transitions:\n"
		"  - { name: win, from: open, to: lost }\n"
		"  - { name: nope, extend: true, do: [] }\n"
		"  - { name: lose, extend: true, to: won, do: [{ transition: win }] }\n"
		"  - { name: reopen, extend: true, do: [{ set: { kind: x } }] }\n"
		"  - { name: stall, from: open, to: stalled }\n"
		"timers:\n"
		"  - { name: t1, every: 1d, do: [{ transition: nothing }] }\n"
		"  - { name: t2, every: 1d, do: [{ transition: reopen }] }\n"
		"  - { name: t2, every: 2d, do: [{ transition: lose }] }\n",
		"b.yaml", pipeline_yaml, &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT(meta == NULL);
	ASSERT_DIAG(diags, "a.yaml", 1, 11, "extend of unknown workflow 'ghost' (it is defined nowhere without 'extend: true')");
	ASSERT_DIAG(diags, "a.yaml", 6, 1, "an extension of workflow 'pipeline' cannot set 'object'");
	ASSERT_DIAG(diags, "a.yaml", 7, 1, "an extension of workflow 'pipeline' cannot set 'initial'");
	ASSERT_DIAG(diags, "a.yaml", 9, 13, "transition 'win' is already defined at b.yaml:12:13 (add 'extend: true'");
	ASSERT_DIAG(diags, "a.yaml", 10, 13, "no transition 'nope' in workflow 'pipeline' to extend");
	ASSERT_DIAG(diags, "a.yaml", 11, 33, "transition 'lose' extends one defined elsewhere: it takes only 'do'");
	ASSERT_DIAG(diags, "a.yaml", 11, 47, "a transition's 'do' cannot fire another (transition 'lose'");
	ASSERT_DIAG(diags, "a.yaml", 12, 13, "transition 'reopen' (b.yaml:14:13) is direct: it cannot have do");
	/* the merged workflow is checked as a whole: the extension's transition, in the extension's file */
	ASSERT_DIAG(diags, "a.yaml", 13, 13, "unknown state 'stalled' in 'to' of transition 'stall'");
	ASSERT_DIAG(diags, "a.yaml", 15, 33, "unknown transition 'nothing' in workflow 'pipeline' (timer 't1' of workflow "
	            "'pipeline'; its transitions: win, lose, reopen, stall)");
	ASSERT_DIAG(diags, "a.yaml", 17, 5, "timer 't2' is already defined at a.yaml:16:5");
	ASSERT_EQ(diags.error_count, 11);
	meta_diags_free(&diags);

	/* extend: true on a transition of a workflow that is no extension */
	rc = load_one("a.yaml",
		"object: deal\n"
		"fields:\n"
		"  stage: { type: enum, values: [open, won] }\n"
		"---\n"
		"workflow: pipeline\n"
		"object: deal\n"
		"field: stage\n"
		"transitions:\n"
		"  - { name: win, extend: true, do: [{ set: { stage: won } }] }\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_DIAG(diags, "a.yaml", 9, 13, "transition 'win' has 'extend: true', but workflow 'pipeline' is not an extension");
	meta_diags_free(&diags);
}

static void test_bad_enum_value_extensions_are_refused_where_written(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_two("a.yaml",
		"object: deal\n"
		"extend: true\n"
		"fields:\n"
		"  kind: { extend: true, values: [x] }\n"
		"  ghost: { extend: true, values: [x] }\n"
		"  stage: { extend: true, values: [won, dead], label: Stage }\n"
		"  lost: { extend: true }\n"
		"---\n"
		"object: other\n"
		"fields:\n"
		"  stage: { extend: true, values: [a] }\n",
		"b.yaml", pipeline_yaml, &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_DIAG(diags, "a.yaml", 4, 3, "only an enum or multienum field takes more values: 'deal.kind' is text");
	ASSERT_DIAG(diags, "a.yaml", 5, 3, "field 'ghost' to extend is not a field of object 'deal'");
	ASSERT_DIAG(diags, "a.yaml", 6, 47, "field 'stage' extends a field defined elsewhere: it takes only 'values'");
	ASSERT_DIAG(diags, "a.yaml", 6, 3, "'won' is already a value of 'deal.stage' (b.yaml:3:3)");
	ASSERT_DIAG(diags, "a.yaml", 7, 3, "field 'lost' extends a field defined elsewhere: give the enum 'values' to add");
	ASSERT_DIAG(diags, "a.yaml", 11, 3, "field 'stage' has 'extend: true', but object 'other' is not an extension");
	ASSERT_EQ(diags.error_count, 6);
	meta_diags_free(&diags);
}

static void test_timer_transition_must_name_one_without_approval(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_two("a.yaml",
		"object: approval\n"
		"fields:\n"
		"  approver: { type: user }\n"
		"  status: { type: text }\n"
		"---\n"
		"workflow: pipeline\n"
		"extend: true\n"
		"transitions:\n"
		"  - { name: bless, from: lost, to: won, approval: { approvers: [\"user:boss\"] } }\n"
		"timers:\n"
		"  - { name: t1, every: 1d, do: [{ transition: bless }] }\n"
		"  - { name: t2, every: 1d, do: [{ set: { kind: x } }, { transition: reopen }, { transition: win }] }\n",
		"b.yaml", pipeline_yaml, &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_DIAG(diags, "a.yaml", 11, 33, "transition 'bless' needs an approval: a timer cannot fire it");
	ASSERT_EQ(diags.error_count, 1);   /* a direct transition, and one with actions, are fine */
	meta_diags_free(&diags);
}

static void test_unknown_keys_in_object_and_field_are_reported_where_written(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("c.yaml",
		"object: contact\n"
		"colour: blue\n"
		"fields:\n"
		"  name: { type: text, size: 3 }\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 2);
	ASSERT_DIAG(diags, "c.yaml", 2, 1, "unknown key 'colour' in object (expected one of: object, label, label_plural, module");
	ASSERT_DIAG(diags, "c.yaml", 4, 23, "unknown key 'size' in field 'name' (expected one of: type, label,");
	ASSERT_DIAG(diags, "c.yaml", 2, 1, ") (see docs/metadata.md#object)");
	ASSERT_DIAG(diags, "c.yaml", 4, 23, ") (see docs/metadata.md#field)");
	/* The list offered is the keys valid for the type. */
	ASSERT(!strstr(find_diag(&diags, "'size'")->message, "values"));
	meta_diags_free(&diags);
}

static void test_key_not_valid_for_the_type_is_refused(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("c.yaml",
		"object: contact\n"
		"fields:\n"
		"  name: { type: text, values: [a] }\n"
		"  age: { type: int, to: user }\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 2);
	ASSERT_DIAG(diags, "c.yaml", 3, 23, "key 'values' is not valid for a field of type 'text'");
	ASSERT_DIAG(diags, "c.yaml", 4, 21, "key 'to' is not valid for a field of type 'int'");
	meta_diags_free(&diags);
}

static void test_wrong_value_types_say_what_was_expected(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("c.yaml",
		"object: contact\n"
		"fields:\n"
		"  name: { type: text, required: yes please }\n"
		"  age: { type: int, max: abc }\n"
		"  vip: { type: bool, search: \"true\" }\n"
		"  code: { type: text, max_length: 1.5 }\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 4);
	ASSERT_DIAG(diags, "c.yaml", 3, 33, "expected a boolean (true or false) for 'required'");
	ASSERT_DIAG(diags, "c.yaml", 4, 26, "expected a number for 'max'");
	ASSERT_DIAG(diags, "c.yaml", 5, 30, "expected a boolean (true or false) for 'search'");
	ASSERT_DIAG(diags, "c.yaml", 6, 35, "expected an integer from 1 to");
	meta_diags_free(&diags);
}

static void test_unknown_field_type_lists_the_types(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("c.yaml", "object: contact\nfields:\n  name: { type: txt }\n  age: { required: true }\n",
	                  &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 2);
	ASSERT_DIAG(diags, "c.yaml", 3, 17, "unknown field type 'txt' (expected one of: text, textarea,");
	ASSERT_CONTAINS(find_diag(&diags, "'txt'")->message, "autonumber, formula, rollup)");
	ASSERT_DIAG(diags, "c.yaml", 4, 3, "field 'age' has no 'type'");
	meta_diags_free(&diags);
}

static void test_enum_without_values_is_refused(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("c.yaml",
		"object: contact\nfields:\n  stage: { type: enum }\n  tags: { type: multienum, values: [] }\n",
		&meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 2);
	ASSERT_DIAG(diags, "c.yaml", 3, 3, "field 'stage' of type 'enum' needs 'values'");
	ASSERT_DIAG(diags, "c.yaml", 4, 36, "expected a non-empty list for 'values'");
	meta_diags_free(&diags);
}

static void test_duplicate_field_names_are_refused_in_a_document_and_across_extends(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_two(
		"a.yaml", "object: contact\nfields:\n  name: { type: text }\n  name: { type: int }\n",
		"b.yaml", "object: contact\nextend: true\nfields:\n  name: { type: email }\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 2);
	/* The first document is refused whole: its duplicate key makes it ambiguous. */
	ASSERT_DIAG(diags, "a.yaml", 4, 3, "duplicate key 'name' (first at line 3)");
	meta_diags_free(&diags);

	rc = load_two(
		"a.yaml", "object: contact\nfields:\n  name: { type: text }\n",
		"b.yaml", "object: contact\nextend: true\nfields:\n  name: { type: email }\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 1);
	ASSERT_DIAG(diags, "b.yaml", 4, 3, "duplicate field 'name' in object 'contact' (first at a.yaml:3:3)");
	meta_diags_free(&diags);
}

static void test_duplicate_enum_value_is_refused(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("c.yaml", "object: contact\nfields:\n  stage: { type: enum, values: [new, old, new] }\n",
	                  &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 1);
	ASSERT_DIAG(diags, "c.yaml", 3, 43, "duplicate value 'new' (first at line 3)");
	meta_diags_free(&diags);
}

static void test_enum_default_must_be_one_of_the_values(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("c.yaml",
		"object: contact\nfields:\n"
		"  stage: { type: enum, values: [new, old], default: gone }\n"
		"  born: { type: date, default: 2023-02-29 }\n"
		"  size: { type: int, max: 10, default: 11 }\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 3);
	ASSERT_DIAG(diags, "c.yaml", 3, 53, "default 'gone' is not one of the values of 'stage'");
	ASSERT_DIAG(diags, "c.yaml", 4, 32, "expected a date (YYYY-MM-DD)");
	ASSERT_DIAG(diags, "c.yaml", 5, 40, "default 11 is outside the bounds");
	meta_diags_free(&diags);
}

static void test_ref_to_missing_object_is_reported_at_to(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("c.yaml", "object: contact\nfields:\n  company: { type: ref, to: company }\n",
	                  &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 1);
	ASSERT_DIAG(diags, "c.yaml", 3, 29, "unknown object 'company' in ref 'company'");
	meta_diags_free(&diags);
}

static void test_rollup_with_bad_of_is_refused(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("r.yaml",
		"object: account\n"
		"fields:\n"
		"  total: { type: rollup, of: deal.account }\n"
		"  notes: { type: rollup, of: note.body }\n"
		"  sizes: { type: rollup, of: note, measure: sum(body) }\n"
		"  bodies: { type: rollup, of: note.account, measure: sum(body) }\n"
		"---\n"
		"object: note\n"
		"fields:\n"
		"  body: { type: text }\n"
		"  account: { type: ref, to: account }\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 4);
	ASSERT_DIAG(diags, "r.yaml", 3, 30, "unknown object 'deal' in rollup 'total'");
	ASSERT_DIAG(diags, "r.yaml", 4, 30, "'note.body' is not a ref to object 'account' (in rollup 'notes')");
	ASSERT_DIAG(diags, "r.yaml", 5, 30, "expected 'object.field' (the child object and its ref to this object) for 'of'");
	ASSERT_DIAG(diags, "r.yaml", 6, 54, "cannot measure field 'body' of type 'text' in rollup 'bodies'");
	meta_diags_free(&diags);
}

/* line_total (formula) -> subtotal (rollup) -> grand (formula) -> account's sum: each link is refreshed after the one below. */
static void test_rollups_chain_through_formulas_and_rollups(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("chain.yaml",
		"object: account\n"
		"fields:\n"
		"  quoted: { type: rollup, of: quote.account, measure: sum(grand) }\n"
		"  lines: { type: rollup, of: quote.account, measure: sum(line_count) }\n"
		"  names: { type: rollup, of: quote.account, measure: count }\n"
		"---\n"
		"object: quote\n"
		"fields:\n"
		"  account: { type: ref, to: account }\n"
		"  name: { type: text }\n"
		"  subtotal: { type: rollup, of: line.quote, measure: sum(total) }\n"
		"  line_count: { type: rollup, of: line.quote, measure: count }\n"
		"  grand: { type: money, formula: \"subtotal * 1.13\" }\n"
		"---\n"
		"object: line\n"
		"fields:\n"
		"  quote: { type: ref, to: quote }\n"
		"  qty: { type: decimal }\n"
		"  price: { type: money }\n"
		"  total: { type: money, formula: \"qty * price\" }\n", &meta, &diags);
	if (rc != CRM_OK)
		meta_diags_print(&diags, stderr);
	ASSERT_EQ(rc, CRM_OK);
	const struct meta_object *account = meta_find_object(meta, "account"), *quote = meta_find_object(meta, "quote");
	ASSERT(meta_find_field(account, "quoted")->rollup_reads_rollup);
	ASSERT(meta_find_field(account, "lines")->rollup_reads_rollup);
	ASSERT(!meta_find_field(account, "names")->rollup_reads_rollup);
	ASSERT(!meta_find_field(quote, "subtotal")->rollup_reads_rollup);
	ASSERT_EQ(meta_find_field(quote, "subtotal")->scale, 2);
	meta_free(meta);
	meta_diags_free(&diags);
}

/* A measured formula that reads another record, the day or the reader would leave the total stale. */
static void test_rollup_of_unstorable_formula_or_a_loop_is_refused(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("stale.yaml",
		"object: account\n"
		"fields:\n"
		"  name: { type: text }\n"
		"  parent: { type: ref, to: account }\n"
		"  rate: { type: decimal }\n"
		"  a: { type: rollup, of: deal.account, measure: sum(converted) }\n"
		"  b: { type: rollup, of: deal.account, measure: sum(age) }\n"
		"  c: { type: rollup, of: deal.account, measure: sum(mine) }\n"
		"  d: { type: rollup, of: deal.account, measure: sum(title) }\n"
		"  tree: { type: rollup, of: account.parent, measure: sum(tree) }\n"
		"---\n"
		"object: deal\n"
		"fields:\n"
		"  account: { type: ref, to: account }\n"
		"  amount: { type: money }\n"
		"  converted: { type: money, formula: \"amount * account.rate\" }\n"
		"  age: { type: int, formula: \"days_between(created_at, today())\" }\n"
		"  mine: { type: int, formula: \"if(owner = $me, 1, 0)\" }\n"
		"  title: { type: text, formula: \"lower(account.name)\" }\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 5);
	ASSERT_DIAG(diags, "stale.yaml", 6, 49, "rollup 'a' cannot measure 'converted': it reads another record through "
	            "'account.rate'");
	ASSERT_DIAG(diags, "stale.yaml", 7, 49, "rollup 'b' cannot measure 'age': it depends on the day or the reader");
	ASSERT_DIAG(diags, "stale.yaml", 8, 49, "rollup 'c' cannot measure 'mine'");
	ASSERT_DIAG(diags, "stale.yaml", 9, 49, "cannot measure field 'title' of type 'text' in rollup 'd'");
	ASSERT_DIAG(diags, "stale.yaml", 1, 9, "rollups that measure rollups form a loop: account.tree");
	meta_diags_free(&diags);
}

/* currency: a code, or a text/enum field of the record (then exchange_rate must exist); only on money. */
static void test_currency_key_is_checked(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("cur.yaml",
		"object: quote\n"
		"fields:\n"
		"  code: { type: enum, values: [EUR, USD] }\n"
		"  total: { type: money, currency: code }\n"
		"  fixed: { type: money, currency: USD }\n"
		"  bad: { type: money, currency: usd }\n"
		"  count: { type: int, currency: EUR }\n"
		"  ratio: { type: decimal, formula: \"total / 2\", currency: code }\n"
		"---\n"
		"object: exchange_rate\n"
		"fields:\n"
		"  currency: { type: text }\n"
		"  rate: { type: decimal }\n"
		"  valid_from: { type: date }\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 3);
	ASSERT_DIAG(diags, "cur.yaml", 6, 33, "'currency' of field 'bad' must be an ISO 4217 code such as EUR or a text or "
	            "enum field of 'quote' holding one, not 'usd'");
	ASSERT_DIAG(diags, "cur.yaml", 7, 23, "key 'currency' is not valid for a field of type 'int'");
	ASSERT_DIAG(diags, "cur.yaml", 8, 59, "'currency' of field 'ratio' needs a money value");
	meta_diags_free(&diags);

	rc = load_one("cur.yaml",
		"object: quote\n"
		"fields:\n"
		"  code: { type: text }\n"
		"  total: { type: money, currency: code }\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_DIAG(diags, "cur.yaml", 4, 35, "converting needs the exchange_rate object");
	meta_diags_free(&diags);

	rc = load_one("cur.yaml",
		"object: quote\n"
		"fields:\n"
		"  code: { type: text }\n"
		"  total: { type: money, currency: code }\n"
		"---\n"
		"object: exchange_rate\n"
		"fields:\n"
		"  currency: { type: text }\n"
		"  rate: { type: decimal }\n"
		"  valid_from: { type: date }\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_OK);
	const struct meta_object *quote = meta_find_object(meta, "quote");
	ASSERT(meta_find_field(quote, "total")->currency_field == meta_find_field(quote, "code"));
	meta_free(meta);
	meta_diags_free(&diags);
}

/* kpi documents: every key checked against the objects, each error where it is written. */
static void test_kpi_documents_are_checked(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	static const char objects[] =
		"object: user\n"
		"fields:\n"
		"  name: { type: text }\n"
		"---\n"
		"object: deal\n"
		"fields:\n"
		"  amount: { type: money }\n"
		"  name: { type: text }\n"
		"  closed_on: { type: date }\n"
		"  rep: { type: user }\n";
	int rc = load_two("o.yaml", objects, "k.yaml",
		"kpi: good\n"
		"label: { en: Won, zh: 赢单 }\n"
		"object: deal\n"
		"measure: sum(amount)\n"
		"filter: \"amount > 0\"\n"
		"date: closed_on\n"
		"owner: rep\n"
		"period: quarter\n"
		"direction: down\n"
		"target: 100\n"
		"category: business_value\n", &meta, &diags);
	if (rc != CRM_OK)
		meta_diags_print(&diags, stderr);
	ASSERT_EQ(rc, CRM_OK);
	const struct meta_kpi *k = meta_find_kpi(meta, "good");
	ASSERT(k && k->object == meta_find_object(meta, "deal") && k->period == KPI_QUARTER && k->lower_is_better);
	ASSERT(k->has_target && k->target == 100 && k->category == KPI_BUSINESS_VALUE);
	meta_free(meta);
	meta_diags_free(&diags);

	rc = load_two("o.yaml", objects, "k.yaml",
		"kpi: bad\n"
		"object: deal\n"
		"measure: sum(name)\n"
		"filter: \"nosuch > 1\"\n"
		"date: amount\n"
		"period: week\n"
		"direction: sideways\n"
		"colour: red\n"
		"---\n"
		"kpi: ghost\n"
		"object: nothing\n"
		"date: x\n"
		"---\n"
		"kpi: bad\n"
		"object: deal\n"
		"date: closed_on\n"
		"---\n"
		"kpi: nodate\n"
		"object: deal\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_DIAG(diags, "k.yaml", 3, 10, "kpi 'bad': 'measure' is count, sum(f), avg(f), min(f) or max(f) of a number "
	            "field, count_distinct(f) or retention(f) of a field of 'deal', not 'sum(name)'");
	ASSERT_DIAG(diags, "k.yaml", 4, 9, "unknown field 'nosuch'");
	ASSERT_DIAG(diags, "k.yaml", 5, 7, "kpi 'bad': 'date' must be a date or datetime field of 'deal', not 'amount'");
	ASSERT_DIAG(diags, "k.yaml", 6, 9, "expected month, quarter or year for 'period', not 'week'");
	ASSERT_DIAG(diags, "k.yaml", 7, 12, "expected up (higher is better) or down for 'direction'");
	ASSERT_DIAG(diags, "k.yaml", 8, 1, "unknown key 'colour' in kpi");
	ASSERT_DIAG(diags, "k.yaml", 11, 9, "kpi 'ghost': no object 'nothing'");
	ASSERT_DIAG(diags, "k.yaml", 14, 6, "kpi 'bad' is already defined at k.yaml:1:6");
	ASSERT_DIAG(diags, "k.yaml", 18, 1, "kpi 'nodate' needs an 'object' and a 'date' field");
	meta_diags_free(&diags);
}

/*
 * The evaluation model's keys: formulas over other kpis (unknown names and
 * loops refused), the audit trail as a source, count_distinct, retention,
 * per: day, unit and dashboards, each error where it is written.
 */
static void test_kpi_model_keys_are_checked(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	static const char objects[] =
		"object: user\n"
		"fields:\n"
		"  name: { type: text }\n"
		"---\n"
		"role: boss\n"
		"---\n"
		"object: deal\n"
		"fields:\n"
		"  amount: { type: money }\n"
		"  client: { type: text }\n"
		"  closed_on: { type: date }\n";
	int rc = load_two("o.yaml", objects, "k.yaml",
		"kpi: won\n"
		"object: deal\n"
		"date: closed_on\n"
		"measure: count_distinct(client)\n"
		"per: day\n"
		"---\n"
		"kpi: kept\n"
		"object: deal\n"
		"date: closed_on\n"
		"measure: retention(client)\n"
		"---\n"
		"kpi: writers\n"
		"source: audit\n"
		"measure: count_distinct(user)\n"
		"actions: [create, update]\n"
		"---\n"
		"kpi: rate\n"
		"formula: \"won / writers * 100\"\n"
		"unit: percent\n"
		"dashboards: { boss: team }\n", &meta, &diags);
	if (rc != CRM_OK)
		meta_diags_print(&diags, stderr);
	ASSERT_EQ(rc, CRM_OK);
	const struct meta_kpi *k = meta_find_kpi(meta, "rate");
	ASSERT(k && k->source == KPI_SOURCE_FORMULA && k->dashboard_count == 1 && k->dashboard_scopes[0] == KPI_DASHBOARD_TEAM);
	k = meta_find_kpi(meta, "writers");
	ASSERT(k && k->source == KPI_SOURCE_AUDIT && k->action_count == 2 && !strcmp(k->measure, "count_distinct(user)"));
	ASSERT(meta_find_kpi(meta, "won")->per_day);
	meta_free(meta);
	meta_diags_free(&diags);

	rc = load_two("o.yaml", objects, "k.yaml",
		"kpi: loop_a\n"
		"formula: \"loop_b + 1\"\n"
		"---\n"
		"kpi: loop_b\n"
		"formula: \"loop_a * 2\"\n"
		"---\n"
		"kpi: ghost\n"
		"formula: \"nosuch / 2\"\n"
		"---\n"
		"kpi: mixed\n"
		"formula: \"ghost\"\n"
		"object: deal\n"
		"---\n"
		"kpi: audited\n"
		"source: audit\n"
		"measure: sum(amount)\n"
		"actions: [create, fly]\n"
		"date: closed_on\n"
		"---\n"
		"kpi: shown\n"
		"object: deal\n"
		"date: closed_on\n"
		"measure: retention(nosuch)\n"
		"per: week\n"
		"unit: furlongs\n"
		"dashboards: { nobody: team, boss: galaxy }\n"
		"source: diary\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_DIAG(diags, "k.yaml", 2, 10, "kpi 'loop_a': its formula reaches itself through 'loop_b'");
	ASSERT_DIAG(diags, "k.yaml", 5, 10, "kpi 'loop_b': its formula reaches itself through 'loop_a'");
	ASSERT_DIAG(diags, "k.yaml", 8, 10, "kpi 'ghost': formula: 'nosuch' is not a kpi");
	ASSERT_DIAG(diags, "k.yaml", 11, 10, "kpi 'mixed': a formula kpi takes no object");
	ASSERT_DIAG(diags, "k.yaml", 17, 10, "actions: 'fly' is not an audited action");
	ASSERT_DIAG(diags, "k.yaml", 15, 9, "kpi 'audited': the audit trail has no object, filter, date or owner");
	ASSERT_DIAG(diags, "k.yaml", 23, 10, "kpi 'shown': 'measure' is count, sum(f)");
	ASSERT_DIAG(diags, "k.yaml", 24, 6, "expected day for 'per'");
	ASSERT_DIAG(diags, "k.yaml", 25, 7, "expected count, number, money, percent, hours or days for 'unit'");
	ASSERT_DIAG(diags, "k.yaml", 26, 13, "kpi 'shown': dashboards: no role 'nobody'");
	ASSERT_DIAG(diags, "k.yaml", 26, 35, "dashboards: expected role: me, team or all, not 'boss: galaxy'");
	ASSERT_DIAG(diags, "k.yaml", 27, 9, "expected records or audit for 'source', not 'diary'");
	meta_diags_free(&diags);

	rc = load_two("o.yaml", objects, "k.yaml",
		"kpi: measured\n"
		"source: audit\n"
		"measure: sum(amount)\n"
		"---\n"
		"kpi: self\n"
		"formula: \"self + 1\"\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_DIAG(diags, "k.yaml", 3, 10, "kpi 'measured': the audit trail's measure is count, count_distinct(user)");
	ASSERT_DIAG(diags, "k.yaml", 6, 10, "kpi 'self': formula: 'self' is the kpi itself");
	meta_diags_free(&diags);
}

/* views.charts: each chart's group, measure, filter, by and type checked (they used to pass unchecked). */
static void test_bad_charts_are_refused(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("c.yaml",
		"object: deal\n"
		"fields:\n"
		"  amount: { type: money }\n"
		"  stage: { type: enum, values: [open, won] }\n"
		"  closed_on: { type: date }\n"
		"views:\n"
		"  charts:\n"
		"    - { title: Fine, group: closed_on, measure: sum(amount), filter: \"stage = 'won'\", by: month, type: bar }\n"
		"    - { group: nosuch, measure: sum(stage), filter: \"nosuch = 1\", by: week, type: pie, colour: red }\n"
		"    - { group: stage, measure: count, by: month }\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 7);
	ASSERT_DIAG(diags, "c.yaml", 1, 9, "views.charts[1] of 'deal': unknown key 'colour'");
	ASSERT_DIAG(diags, "c.yaml", 1, 9, "views.charts[1] of 'deal': 'group' must name a field of 'deal'");
	ASSERT_DIAG(diags, "c.yaml", 1, 9, "views.charts[1] of 'deal': 'measure' is count, sum(f), avg(f), min(f) or "
	            "max(f) of a number field, not 'sum(stage)'");
	ASSERT_DIAG(diags, "c.yaml", 1, 9, "unknown field 'nosuch' in views.charts[1] filter");
	ASSERT_DIAG(diags, "c.yaml", 1, 9, "views.charts[1] of 'deal': 'by' is year, month or day");
	ASSERT_DIAG(diags, "c.yaml", 1, 9, "views.charts[1] of 'deal': 'type' is bar");
	ASSERT_DIAG(diags, "c.yaml", 1, 9, "views.charts[2] of 'deal': 'by: month' needs a date group, 'stage' is enum");
	meta_diags_free(&diags);
}

static void test_formula_referring_to_unknown_field_is_refused(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("f.yaml",
		"object: deal\n"
		"fields:\n"
		"  amount: { type: money }\n"
		"  net: { type: money, formula: \"amount - discount\" }\n"
		"  via: { type: text, formula: \"amount.name\" }\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 2);
	ASSERT_DIAG(diags, "f.yaml", 4, 32, "unknown field 'discount' in formula 'net'");
	ASSERT_DIAG(diags, "f.yaml", 5, 31, "cannot follow 'amount.name': 'amount' is not a ref or user field");
	meta_diags_free(&diags);
}

static void test_formula_paths_follow_refs(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("f.yaml",
		"object: account\nfields:\n  industry: { type: text }\n"
		"---\n"
		"object: deal\nfields:\n  account: { type: ref, to: account }\n"
		"  sector: { type: text, formula: \"account.industry || '-'\" }\n"
		"  bad: { type: text, formula: \"account.region\" }\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 1);
	ASSERT_DIAG(diags, "f.yaml", 9, 31, "unknown field 'region' on object 'account' in path 'account.region'");
	meta_diags_free(&diags);
}

static void test_formula_cycle_is_named(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("f.yaml",
		"object: deal\n"
		"fields:\n"
		"  a: { type: formula, formula: \"b + 1\" }\n"
		"  b: { type: formula, formula: \"a * 2\" }\n"
		"  c: { type: formula, formula: \"a + b\" }\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 1);
	ASSERT_EQ(count_diags(&diags, "formula cycle"), 1);
	ASSERT_DIAG(diags, "f.yaml", 3, 32, "formula cycle: a -> b -> a");
	meta_diags_free(&diags);
}

static void test_invalid_expression_in_rule_is_reported_at_the_expression(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("r.yaml",
		"object: deal\n"
		"fields:\n"
		"  amount: { type: money }\n"
		"rules:\n"
		"  - { when: \"amount >\", message: \"bad\" }\n"
		"  - { when: \"amount > 1\" }\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 2);
	ASSERT_DIAG(diags, "r.yaml", 5, 13, "invalid expression: ");
	ASSERT_DIAG(diags, "r.yaml", 6, 5, "rule needs 'message'");
	meta_diags_free(&diags);
}

/*
 * Gap C3b: an expression every query or create would refuse (date * 2, a
 * datetime in arithmetic, a text where a function needs a number) is refused
 * when the metadata loads, at the expression, with the column inside it.
 */
static void test_type_errors_in_expressions_are_refused_at_load(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("t.yaml",
		"object: deal\n"
		"fields:\n"
		"  close_date: { type: date }\n"
		"  amount: { type: money }\n"
		"  stage: { type: enum, values: [open, won, lost] }\n"
		"  due: { type: date, formula: \"today() + 'x'\" }\n"
		"  twice: { type: formula, formula: \"close_date * 2\", returns: int }\n"
		"  later: { type: formula, formula: \"updated_at + 1\", returns: datetime }\n"
		"  sum: { type: formula, formula: \"close_date + close_date\", returns: date }\n"
		"  ok: { type: date, formula: \"today() + 30\" }\n"
		"  ok_too: { type: int, formula: \"ok - close_date\" }\n"
		"rules:\n"
		"  - { when: \"round(stage, 2) > 1\", message: \"bad\" }\n"
		"  - { when: \"year(amount) = 2024\", message: \"bad\" }\n"
		"  - { when: \"close_date - today() > 3650 and add_months(close_date, 1) > ok\", message: \"far\" }\n"
		"---\n"
		"role: rep\n"
		"objects:\n"
		"  deal: { read: \"min(amount, stage) > 1\" }\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_DIAG(diags, "t.yaml", 6, 31, "invalid expression: column 9: operator '+' needs a number of days beside a "
	            "date, not text");
	ASSERT_DIAG(diags, "t.yaml", 7, 36, "invalid expression: column 12: operator '*' cannot take a date");
	ASSERT_DIAG(diags, "t.yaml", 8, 36, "invalid expression: column 12: operator '+' cannot take a datetime");
	ASSERT_DIAG(diags, "t.yaml", 9, 34, "invalid expression: column 12: operator '+' cannot add two dates");
	ASSERT_DIAG(diags, "t.yaml", 13, 13, "invalid expression: column 7: function 'round' needs a number, not text");
	ASSERT_DIAG(diags, "t.yaml", 14, 13, "invalid expression: column 6: function 'year' needs a date, not a number");
	ASSERT_DIAG(diags, "t.yaml", 19, 17, "invalid expression: column 1: function 'min' compares a number with text");
	ASSERT_EQ(diags.error_count, 7);
	meta_diags_free(&diags);
}

static void test_every_error_of_a_run_is_reported(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_two(
		"a.yaml",
		"object: contact\n"
		"colour: blue\n"
		"fields:\n"
		"  name: { type: txt }\n"
		"  age: { type: int, max: abc }\n"
		"  boss: { type: ref, to: nobody }\n"
		"---\n"
		"object: Bad Name\n",
		"b.yaml", "object: ghost\nextend: true\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT(meta == NULL);
	ASSERT_EQ(diags.error_count, 6);
	ASSERT_EQ(diags.count, 6);
	ASSERT_DIAG(diags, "a.yaml", 2, 1, "unknown key 'colour'");
	ASSERT_DIAG(diags, "a.yaml", 4, 17, "unknown field type 'txt'");
	ASSERT_DIAG(diags, "a.yaml", 5, 26, "expected a number for 'max'");
	ASSERT_DIAG(diags, "a.yaml", 6, 26, "unknown object 'nobody' in ref 'boss'");
	ASSERT_DIAG(diags, "a.yaml", 8, 9, "invalid name 'Bad Name' for 'object'");
	ASSERT_DIAG(diags, "b.yaml", 1, 9, "extend of unknown object 'ghost'");

	char *printed = NULL;
	size_t printed_size = 0;
	FILE *stream = open_memstream(&printed, &printed_size);
	meta_diags_print(&diags, stream);
	fclose(stream);
	ASSERT_CONTAINS(printed, "a.yaml:2:1: error: unknown key 'colour' in object");
	ASSERT_CONTAINS(printed, "\nb.yaml:1:9: error: extend of unknown object 'ghost'");
	free(printed);
	meta_diags_free(&diags);
}

static void test_yaml_syntax_error_has_its_line(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("s.yaml", "object: contact\nfields:\n  name: { type: text\n  age: x\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 1);
	ASSERT_DIAG(diags, "s.yaml", 4, 6, "invalid yaml: did not find expected ',' or '}'");
	meta_diags_free(&diags);

	/* Documents before the broken one are still read (and checked). */
	rc = load_one("s.yaml", "object: a\ncolour: x\n---\nobject: b\n  bad: indent\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 2);
	ASSERT_DIAG(diags, "s.yaml", 2, 1, "unknown key 'colour'");
	ASSERT_DIAG(diags, "s.yaml", 5, 6, "invalid yaml: mapping values are not allowed");
	meta_diags_free(&diags);
}

static void test_anchors_aliases_and_tags_are_refused(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("y.yaml",
		"object: contact\n"
		"fields:\n"
		"  name: &t { type: text }\n"
		"  other: *t\n"
		"  third: !!str x\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 3);
	ASSERT_DIAG(diags, "y.yaml", 3, 9, "anchors (&t) are not supported");
	ASSERT_DIAG(diags, "y.yaml", 4, 10, "aliases (*t) are not supported");
	ASSERT_DIAG(diags, "y.yaml", 5, 10, "tags (tag:yaml.org,2002:str) are not supported");
	meta_diags_free(&diags);

	/* The billion laughs stop at the first alias. */
	rc = load_one("y.yaml",
		"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_DIAG(diags, "y.yaml", 1, 4, "anchors (&a) are not supported");
	meta_diags_free(&diags);
}

static void test_system_field_name_cannot_be_used_for_a_field(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("c.yaml", "object: contact\nfields:\n  name: { type: text }\n  owner: { type: text }\n",
	                  &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 1);
	ASSERT_DIAG(diags, "c.yaml", 4, 3, "'owner' is a system field");
	meta_diags_free(&diags);
}

static void test_hostile_names_are_refused(void)
{
	char long_name[120];
	memset(long_name, 'a', 100);
	long_name[100] = '\0';
	char text[1024];
	snprintf(text, sizeof(text),
		"object: contact\n"
		"fields:\n"
		"  \"drop table\": { type: text }\n"
		"  'a\"b': { type: text }\n"
		"  ../x: { type: text }\n"
		"  %s: { type: text }\n"
		"  \"bad\\nname\": { type: text }\n"
		"  Name: { type: text }\n"
		"  ok: { type: ref, to: \"../etc\" }\n"
		"---\n"
		"object: \"../x\"\n"
		"---\n"
		"object: sqlite_master\n"
		"---\n"
		"object: \"x\\0y\"\n", long_name);
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("h.yaml", text, &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 10);
	ASSERT_DIAG(diags, "h.yaml", 3, 3, "invalid field name 'drop table'");
	ASSERT_DIAG(diags, "h.yaml", 4, 3, "invalid field name 'a\"b'");
	ASSERT_DIAG(diags, "h.yaml", 5, 3, "invalid field name '../x'");
	ASSERT_DIAG(diags, "h.yaml", 6, 3, "invalid field name 'aaaaaaaa");
	ASSERT_DIAG(diags, "h.yaml", 7, 3, "invalid field name 'bad\\x0aname'");   /* no raw newline in a message */
	ASSERT_DIAG(diags, "h.yaml", 8, 3, "invalid field name 'Name'");
	ASSERT_DIAG(diags, "h.yaml", 9, 24, "invalid name '../etc' for 'to'");
	ASSERT_DIAG(diags, "h.yaml", 11, 9, "invalid name '../x' for 'object'");
	ASSERT_DIAG(diags, "h.yaml", 13, 9, "reserved: 'sqlite_master'");
	ASSERT_DIAG(diags, "h.yaml", 15, 9, "NUL characters are not allowed");
	for (int i = 0; i < diags.count; i++)
		ASSERT(strchr(diags.items[i].message, '\n') == NULL);
	meta_diags_free(&diags);
}

static void test_limits_on_depth_and_size(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	char deep[256] = "object: contact\nviews:\n  v: ";
	size_t len = strlen(deep);
	for (int i = 0; i < 40; i++)
		deep[len++] = '[';
	for (int i = 0; i < 40; i++)
		deep[len++] = ']';
	deep[len++] = '\n';
	deep[len] = '\0';
	int rc = load_one("d.yaml", deep, &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 1);
	ASSERT_DIAG(diags, "d.yaml", 3, 36, "nesting deeper than 32 levels");
	meta_diags_free(&diags);

	size_t big = 4 * 1024 * 1024 + 1;
	char *huge = malloc(big + 1);
	memset(huge, '#', big);
	huge[big] = '\0';
	rc = load_one("big.yaml", huge, &meta, &diags);
	free(huge);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_DIAG(diags, "big.yaml", 1, 1, "file is larger than 4 MiB");
	meta_diags_free(&diags);
}

static void test_version_changes_with_the_text(void)
{
	struct meta *one = NULL, *two = NULL, *three = NULL;
	struct meta_diags diags;
	ASSERT_EQ(load_one("a.yaml", "object: a\n", &one, &diags), CRM_OK);
	meta_diags_free(&diags);
	ASSERT_EQ(load_one("a.yaml", "object: a\n", &two, &diags), CRM_OK);
	meta_diags_free(&diags);
	ASSERT_EQ(load_one("a.yaml", "object: b\n", &three, &diags), CRM_OK);
	meta_diags_free(&diags);
	ASSERT_STR_EQ(one->version, two->version);
	ASSERT(strcmp(one->version, three->version) != 0);
	meta_free(one);
	meta_free(two);
	meta_free(three);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *stream = fopen(path, "w");
	if (!stream) {
		perror(path);
		abort();
	}
	fputs(text, stream);
	fclose(stream);
}

static void test_load_directory_with_plugins_from_disk(void)
{
	char root[] = "/tmp/crm_test_meta_XXXXXX";
	ASSERT(mkdtemp(root) != NULL);
	char metadata[128], plugins[128], sales[160], objects[192], empty[160], path[512];
	snprintf(metadata, sizeof(metadata), "%s/metadata", root);
	snprintf(plugins, sizeof(plugins), "%s/plugins", root);
	snprintf(sales, sizeof(sales), "%s/sales", plugins);
	snprintf(objects, sizeof(objects), "%s/objects", sales);
	snprintf(empty, sizeof(empty), "%s/empty", plugins);   /* a plugin with no objects/ */
	ASSERT(mkdir(metadata, 0700) == 0 && mkdir(plugins, 0700) == 0 && mkdir(sales, 0700) == 0 &&
	       mkdir(objects, 0700) == 0 && mkdir(empty, 0700) == 0);

	write_file(metadata, "app.yaml",
		"app: demo\nindustry: automotive\nlanguages: [en, zh]\n"
		"plugins:\n  - sales\n  - { name: empty, version: \">=1.0\" }\n"
		"config:\n  currency: CNY\n  page_size: 50\n");
	write_file(metadata, "b_contact.yaml", "object: contact\nfields:\n  name: { type: text }\n");
	write_file(metadata, "a_contact_ext.yaml",
		"object: contact\nextend: true\nfields:\n  deal_count: { type: rollup, of: deal.contact }\n");
	write_file(metadata, "notes.txt", "not yaml: [");
	write_file(objects, "deal.yaml", "object: deal\nfields:\n  contact: { type: ref, to: contact }\n");

	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = meta_load(metadata, plugins, &meta, &diags);
	ASSERT_LOADED(rc, diags);
	ASSERT_STR_EQ(meta->app_name, "demo");
	ASSERT_STR_EQ(meta->industry, "automotive");
	ASSERT_EQ(meta->language_count, 2);
	ASSERT_STR_EQ(meta->languages[1], "zh");
	ASSERT_EQ(meta->plugin_count, 2);
	ASSERT_STR_EQ(meta->plugins[1].name, "empty");
	ASSERT_STR_EQ(meta->plugins[1].version_range, ">=1.0");
	ASSERT_EQ(json_integer_value(json_object_get(meta->config, "page_size")), 50);
	ASSERT_EQ(meta->file_count, 4);
	snprintf(path, sizeof(path), "%s/app.yaml", metadata);
	ASSERT_STR_EQ(meta->files[0], path);
	snprintf(path, sizeof(path), "%s/a_contact_ext.yaml", metadata);
	ASSERT_STR_EQ(meta->files[1], path);
	snprintf(path, sizeof(path), "%s/deal.yaml", objects);
	ASSERT_STR_EQ(meta->files[3], path);
	const struct meta_object *deal = meta_find_object(meta, "deal");
	ASSERT(deal != NULL);
	ASSERT_STR_EQ(deal->pos.file, path);
	const struct meta_object *contact = meta_find_object(meta, "contact");
	ASSERT(meta_find_field(contact, "deal_count")->rollup_child == deal);
	ASSERT_EQ(deal->rollup_parent_count, 1);
	meta_free(meta);
	meta_diags_free(&diags);

	/* A plugin listed in app.yaml without its folder: reported at its entry. */
	write_file(metadata, "app.yaml", "app: demo\nplugins:\n  - sales\n  - { name: missing, version: \"1\" }\n");
	rc = meta_load(metadata, plugins, &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 1);
	snprintf(path, sizeof(path), "%s/app.yaml", metadata);
	ASSERT_DIAG(diags, path, 4, 13, "plugin 'missing' not found");
	meta_diags_free(&diags);

	/* A metadata folder without app.yaml names the file. */
	snprintf(path, sizeof(path), "%s/app.yaml", metadata);
	unlink(path);
	rc = meta_load(metadata, plugins, &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_DIAG(diags, path, 1, 1, "cannot read file: No such file or directory");
	meta_diags_free(&diags);

	snprintf(path, sizeof(path), "rm -rf '%s'", root);
	ASSERT_EQ(system(path), 0);
}

/* app.yaml `industries:`: the selected industry's plugins load after `plugins:`; --industry must name one. */
static void test_industries(void)
{
	char root[] = "/tmp/crm_test_industry_XXXXXX";
	ASSERT(mkdtemp(root) != NULL);
	char metadata[128], plugins[128], dir[192], path[512];
	snprintf(metadata, sizeof(metadata), "%s/metadata", root);
	snprintf(plugins, sizeof(plugins), "%s/plugins", root);
	ASSERT(mkdir(metadata, 0700) == 0 && mkdir(plugins, 0700) == 0);
	const char *names[] = { "sales", "pharma", "automotive" };
	for (int i = 0; i < 3; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", plugins, names[i]);
		ASSERT(mkdir(dir, 0700) == 0);
		snprintf(dir, sizeof(dir), "%s/%s/objects", plugins, names[i]);
		ASSERT(mkdir(dir, 0700) == 0);
		snprintf(path, sizeof(path), "object: %s_thing\nfields:\n  name: { type: text }\n", names[i]);
		write_file(dir, "thing.yaml", path);
	}
	write_file(metadata, "app.yaml",
		"app: demo\nindustry: generic\nplugins: [sales]\n"
		"industries:\n"
		"  pharma: { label: { en: Pharma, zh: 医药 }, plugins: [pharma] }\n"
		"  automotive: { plugins: [{ name: automotive, version: \">=0\" }] }\n");
	struct meta *meta = NULL;
	struct meta_diags diags;

	/* the base deployment: no industry plugin, both industries known */
	int rc = meta_load(metadata, plugins, &meta, &diags);
	ASSERT_LOADED(rc, diags);
	ASSERT_EQ(meta->plugin_count, 1);
	ASSERT_EQ(meta->industry_count, 2);
	ASSERT_STR_EQ(meta->industries[0].label.text[1], "医药");
	ASSERT(meta_find_object(meta, "pharma_thing") == NULL);
	meta_free(meta);
	meta_diags_free(&diags);

	/* --industry automotive: its plugin after the base ones, its objects loaded */
	rc = meta_load_industry(metadata, plugins, "automotive", &meta, &diags);
	ASSERT_LOADED(rc, diags);
	ASSERT_STR_EQ(meta->industry, "automotive");
	ASSERT_EQ(meta->plugin_count, 2);
	ASSERT_STR_EQ(meta->plugins[1].name, "automotive");
	ASSERT_STR_EQ(meta->plugins[1].version_range, ">=0");
	ASSERT(meta_find_object(meta, "automotive_thing") != NULL);
	ASSERT(meta_find_object(meta, "pharma_thing") == NULL);
	meta_free(meta);
	meta_diags_free(&diags);

	/* an unknown --industry names the known ones, at app.yaml's `industry:` */
	rc = meta_load_industry(metadata, plugins, "retail", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	snprintf(path, sizeof(path), "%s/app.yaml", metadata);
	ASSERT_DIAG(diags, path, 2, 11, "--industry retail: app.yaml has no such industry (its industries: pharma, automotive)");
	meta_diags_free(&diags);

	/* app.yaml's industry selects its entry too; a plugin both in plugins and the industry's is an error */
	write_file(metadata, "app.yaml",
		"app: demo\nindustry: pharma\nplugins: [sales, pharma]\n"
		"industries:\n  pharma: { plugins: [pharma] }\n  empty: { label: x }\n  bad: [pharma]\n"
		"  worse: { plugins: pharma, colour: red }\n");
	rc = meta_load(metadata, plugins, &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_DIAG(diags, path, 6, 3, "industry 'empty' needs 'plugins', a non-empty list");
	ASSERT_DIAG(diags, path, 7, 8, "expected a map { label, plugins } for industry 'bad'");
	ASSERT_DIAG(diags, path, 8, 21, "expected a list of plugin names");
	ASSERT_DIAG(diags, path, 8, 29, "unknown key 'colour'");
	ASSERT_DIAG(diags, path, 5, 3, "industry 'pharma' enables plugin 'pharma', which 'plugins' already lists (line 3)");
	meta_diags_free(&diags);

	snprintf(path, sizeof(path), "rm -rf '%s'", root);
	ASSERT_EQ(system(path), 0);
}

/* ------------------------------------------------------------------- roles */

/* Objects the role tests refer to; roles come in a second file. */
static const char role_objects_yaml[] =
	"object: user\n"
	"fields:\n"
	"  name: { type: text }\n"
	"  email: { type: email }\n"
	"  team: { type: ref, to: team }\n"
	"---\n"
	"object: team\n"
	"fields:\n"
	"  name: { type: text }\n"
	"---\n"
	"object: account\n"
	"fields:\n"
	"  name: { type: text }\n"
	"  region: { type: text }\n"
	"---\n"
	"object: opportunity\n"
	"fields:\n"
	"  name: { type: text }\n"
	"  account: { type: ref, to: account }\n"
	"  discount: { type: percent }\n"
	"  public: { type: bool }\n";

static int load_roles(const char *roles_yaml, struct meta **out, struct meta_diags *diags)
{
	return load_two("objects.yaml", role_objects_yaml, "roles.yaml", roles_yaml, out, diags);
}

static void test_valid_role_loads_with_levels_expressions_and_field_access(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	/* The role is written before its objects: they are resolved after every file is read. */
	const char *names[] = {"a_roles.yaml", "b_objects.yaml"};
	const char *texts[] = {
		"role: sales_rep\n"
		"label: { en: Sales Rep, zh: 销售代表 }\n"
		"description: works own deals\n"
		"objects:\n"
		"  opportunity: { read: team, create: true, update: own, delete: none, change_owner: false }\n"
		"  account: { read: \"owner = $me or region = 'emea'\", update: all }\n"
		"fields:\n"
		"  opportunity.discount: read\n"
		"  account.owner: hidden\n"
		"  opportunity.name: write\n"
		"---\n"
		"role: manager\n"
		"kind: partner\n"
		"objects:\n"
		"  opportunity: { read: \"account.region = $user.email or public\", create: false, delete: all,"
		" change_owner: true, update: \"owner = $me\" }\n"
		"  account: {}\n"
		"---\n"
		"role: boss\n"
		"admin: true\n",
		role_objects_yaml,
	};
	int rc = meta_load_texts(2, names, texts, &meta, &diags);
	ASSERT_LOADED(rc, diags);
	ASSERT_EQ(diags.count, 0);
	ASSERT_EQ(meta->role_count, 3);

	const struct meta_role *rep = meta_find_role(meta, "sales_rep");
	const struct meta_object *opportunity = meta_find_object(meta, "opportunity");
	const struct meta_object *account = meta_find_object(meta, "account");
	const struct meta_object *team = meta_find_object(meta, "team");
	ASSERT(rep && opportunity && account && team);
	ASSERT(meta_find_role(meta, "nobody") == NULL);
	ASSERT_STR_EQ(meta_label_text(&rep->label, "zh", rep->name), "销售代表");
	ASSERT_EQ(rep->kind, USER_EMPLOYEE);
	ASSERT(!rep->admin);
	ASSERT_STR_EQ(rep->pos.file, "a_roles.yaml");
	ASSERT_EQ(rep->pos.line, 1);
	ASSERT_EQ(rep->pos.column, 7);
	ASSERT_EQ(rep->object_count, 2);

	const struct meta_role_object *ro = meta_role_object(rep, opportunity);
	ASSERT(ro != NULL && ro->object == opportunity);
	ASSERT_EQ(ro->ops[ACCESS_READ].level, LEVEL_TEAM);
	ASSERT_EQ(ro->ops[ACCESS_CREATE].level, LEVEL_ALL);
	ASSERT_EQ(ro->ops[ACCESS_UPDATE].level, LEVEL_OWN);
	ASSERT_EQ(ro->ops[ACCESS_DELETE].level, LEVEL_NONE);
	ASSERT(ro->ops[ACCESS_READ].text == NULL && ro->ops[ACCESS_READ].expr == NULL);
	ASSERT(!ro->change_owner);
	ASSERT(meta_role_object(rep, team) == NULL);   /* not listed: no access */

	ro = meta_role_object(rep, account);
	ASSERT(ro != NULL);
	ASSERT_EQ(ro->ops[ACCESS_READ].level, LEVEL_EXPR);
	ASSERT_STR_EQ(ro->ops[ACCESS_READ].text, "owner = $me or region = 'emea'");
	ASSERT(ro->ops[ACCESS_READ].expr != NULL);
	ASSERT_EQ(ro->ops[ACCESS_READ].pos.line, 6);
	ASSERT_EQ(ro->ops[ACCESS_READ].pos.column, 20);
	ASSERT_EQ(ro->ops[ACCESS_UPDATE].level, LEVEL_ALL);
	ASSERT_EQ(ro->ops[ACCESS_CREATE].level, LEVEL_NONE);   /* unspecified */
	ASSERT_EQ(ro->ops[ACCESS_DELETE].level, LEVEL_NONE);

	ASSERT_EQ(rep->field_count, 3);
	ASSERT(rep->fields[0].object == opportunity);
	ASSERT(rep->fields[0].field == meta_find_field(opportunity, "discount"));
	ASSERT_EQ(rep->fields[0].access, FIELD_ACCESS_READ);
	ASSERT(rep->fields[1].field == meta_find_field(account, "owner"));   /* system fields may be listed */
	ASSERT_EQ(rep->fields[1].access, FIELD_ACCESS_HIDDEN);
	ASSERT_EQ(rep->fields[2].access, FIELD_ACCESS_WRITE);

	const struct meta_role *manager = meta_find_role(meta, "manager");
	ASSERT(manager != NULL);
	ASSERT_EQ(manager->kind, USER_PARTNER);
	ro = meta_role_object(manager, opportunity);
	ASSERT(ro != NULL);
	ASSERT_EQ(ro->ops[ACCESS_READ].level, LEVEL_EXPR);   /* a path through a ref, $user.<field> */
	ASSERT_EQ(ro->ops[ACCESS_CREATE].level, LEVEL_NONE);
	ASSERT_EQ(ro->ops[ACCESS_DELETE].level, LEVEL_ALL);
	ASSERT_EQ(ro->ops[ACCESS_UPDATE].level, LEVEL_EXPR);
	ASSERT(ro->change_owner);
	ro = meta_role_object(manager, account);   /* listed with no rights */
	ASSERT(ro != NULL);
	for (int op = 0; op < ACCESS_OP_COUNT; op++)
		ASSERT_EQ(ro->ops[op].level, LEVEL_NONE);

	const struct meta_role *boss = meta_find_role(meta, "boss");
	ASSERT(boss != NULL && boss->admin);
	ASSERT_EQ(boss->object_count, 0);
	meta_free(meta);
	meta_diags_free(&diags);
}

static void test_unknown_right_in_role_object_lists_the_allowed_keys(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_roles(
		"role: r\n"
		"objects:\n"
		"  account: { read: all, write: own, change_owner: maybe }\n"
		"  opportunity: all\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 3);
	ASSERT_DIAG(diags, "roles.yaml", 3, 25, "unknown key 'write' in object 'account' of role 'r' "
	            "(expected one of: read, create, update, delete, change_owner)");
	ASSERT_DIAG(diags, "roles.yaml", 3, 51, "expected a boolean (true or false) for 'change_owner'");
	ASSERT_DIAG(diags, "roles.yaml", 4, 16, "expected a map of rights for object 'opportunity' in role 'r'");
	meta_diags_free(&diags);

	/* Unknown keys of the role itself, and extend. */
	rc = load_roles("role: r\nobject: account\nextend: true\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 2);
	ASSERT_DIAG(diags, "roles.yaml", 2, 1, "unknown key 'object' in role (expected one of: role, extend, label, kind, "
	            "admin, objects, fields, navigation, home, description)");
	ASSERT_DIAG(diags, "roles.yaml", 1, 7, "role 'r' is extended but defined nowhere");
	meta_diags_free(&diags);
}

static void test_unknown_level_word_is_read_as_an_expression(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_roles(
		"role: r\n"
		"objects:\n"
		"  account: { read: everyone, update: Own }\n"
		"  opportunity: { read: public, update: \"owner = \", delete: \"\", create: [all] }\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 5);
	/* A bare word that is no field: most likely a mistyped level. */
	ASSERT_DIAG(diags, "roles.yaml", 3, 20, "unknown level 'everyone' for 'read' of object 'account' in role 'r' "
	            "(expected none, own, team, all, true, false or an expression over the fields of 'account')");
	ASSERT_DIAG(diags, "roles.yaml", 3, 38, "unknown level 'Own' for 'update'");
	/* public is a bool field of opportunity: a valid expression. */
	ASSERT_DIAG(diags, "roles.yaml", 4, 40, "invalid expression: column ");
	ASSERT_DIAG(diags, "roles.yaml", 4, 60, "expected none, own, team, all, true, false or an expression for 'delete'");
	ASSERT_DIAG(diags, "roles.yaml", 4, 72, "expected none, own, team, all, true, false or an expression for 'create'");
	meta_diags_free(&diags);
}

static void test_role_expression_path_to_unknown_field_is_refused(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_roles(
		"role: r\n"
		"objects:\n"
		"  account: { read: \"owner = $me or colour = 'red'\" }\n"
		"  opportunity: { read: \"account.industry = 'x'\", update: \"discount.x = 1\" }\n"
		"  user: { read: \"email = $user.mail and name != '$user.nothing'\", update: \"team.name = $USER.name\" }\n",
		&meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 4);
	ASSERT_DIAG(diags, "roles.yaml", 3, 20, "unknown field 'colour' in 'read' of object 'account' in role 'r'");
	ASSERT_DIAG(diags, "roles.yaml", 4, 24, "unknown field 'industry' on object 'account' in path 'account.industry' "
	            "('read' of object 'opportunity' in role 'r')");
	ASSERT_DIAG(diags, "roles.yaml", 4, 58, "cannot follow 'discount.x': 'discount' is not a ref or user field");
	/* $user.<field> must be a field of user; a quoted '$user.nothing' is a text. */
	ASSERT_DIAG(diags, "roles.yaml", 5, 17, "unknown field '$user.mail' in 'read' of object 'user' in role 'r' "
	            "(the 'user' object has no field 'mail')");
	ASSERT_EQ(count_diags(&diags, "nothing"), 0);
	meta_diags_free(&diags);
}

static void test_append_only_mistakes_are_refused_where_written(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("ledger.yaml",
		"object: member\n"
		"fields:\n"
		"  name: { type: text }\n"
		"  points: { type: rollup, of: entry.member, measure: sum(points) }\n"
		"---\n"
		"object: entry\n"
		"append_only: true\n"
		"fields:\n"
		"  member: { type: ref, to: member, on_delete: cascade }\n"
		"  points: { type: int }\n"
		"  lines: { type: rollup, of: line.entry, measure: count }\n"
		"---\n"
		"object: line\n"
		"fields:\n"
		"  entry: { type: ref, to: entry, on_delete: restrict }\n"
		"---\n"
		"object: member\n"
		"extend: true\n"
		"append_only: true\n"
		"---\n"
		"workflow: entry_flow\n"
		"object: entry\n"
		"field: points\n"
		"initial: 0\n"
		"transitions: []\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_DIAG(diags, "ledger.yaml", 9, 28, "field 'member' of append-only object 'entry' needs on_delete: restrict");
	ASSERT_DIAG(diags, "ledger.yaml", 11, 18, "append-only object 'entry' cannot have rollup 'lines'");
	ASSERT_DIAG(diags, "ledger.yaml", 19, 1, "append_only belongs to the object's own definition");
	ASSERT_DIAG(diags, "ledger.yaml", 22, 9, "workflow 'entry_flow' cannot move append-only object 'entry'");
	/* a rollup on the parent over an append-only child is how a ledger keeps its balance */
	ASSERT_EQ(count_diags(&diags, "rollup 'points'"), 0);
	meta_diags_free(&diags);
	rc = load_one("ok.yaml",
		"object: entry\n"
		"append_only: true\n"
		"fields:\n"
		"  points: { type: int }\n", &meta, &diags);
	ASSERT_LOADED(rc, diags);
	ASSERT(meta_find_object(meta, "entry")->append_only);
	meta_free(meta);
	meta_diags_free(&diags);
}

static void test_role_on_unknown_object_is_refused(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_roles(
		"role: r\n"
		"objects:\n"
		"  account: { read: all }\n"
		"  ghost: { read: \"anything = 1\" }\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 1);   /* the expression of an unknown object is not checked */
	ASSERT_DIAG(diags, "roles.yaml", 4, 3, "unknown object 'ghost' in role 'r'");
	meta_diags_free(&diags);
}

static void test_unknown_field_in_role_fields_is_refused(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_roles(
		"role: r\n"
		"fields:\n"
		"  opportunity.margin: read\n"
		"  ghost.name: hidden\n"
		"  discount: read\n"
		"  opportunity.account.name: read\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 4);
	ASSERT_DIAG(diags, "roles.yaml", 3, 3, "unknown field 'margin' on object 'opportunity' in role 'r'");
	ASSERT_DIAG(diags, "roles.yaml", 4, 3, "unknown object 'ghost' in role 'r'");
	ASSERT_DIAG(diags, "roles.yaml", 5, 3, "expected 'object.field' for a key of 'fields' in role 'r', not 'discount'");
	ASSERT_DIAG(diags, "roles.yaml", 6, 3, "not 'opportunity.account.name'");
	meta_diags_free(&diags);
}

static void test_bad_field_access_value_is_refused(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_roles(
		"role: r\n"
		"fields:\n"
		"  opportunity.discount: readonly\n"
		"  opportunity.name: [read]\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 2);
	ASSERT_DIAG(diags, "roles.yaml", 3, 25, "expected read, hidden or write for 'opportunity.discount' in role 'r', "
	            "not 'readonly'");
	ASSERT_DIAG(diags, "roles.yaml", 4, 21, "expected read, hidden or write for 'opportunity.name' in role 'r'");
	meta_diags_free(&diags);
}

static void test_role_defined_twice_names_the_first(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	const char *names[] = {"objects.yaml", "a.yaml", "b.yaml"};
	const char *texts[] = {role_objects_yaml, "role: rep\n---\nrole: Bad Role\n", "# again\nrole: rep\n"};
	int rc = meta_load_texts(3, names, texts, &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 2);
	ASSERT_DIAG(diags, "b.yaml", 2, 7, "role 'rep' is already defined at a.yaml:1:7");
	ASSERT_DIAG(diags, "a.yaml", 3, 7, "invalid name 'Bad Role' for 'role'");
	meta_diags_free(&diags);
}

/* A plugin's `role: x, extend: true` adds objects, fields and navigation; it may not restate or redefine. */
static void test_role_extension_adds_rights_and_is_checked(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	/* the extension is read first: roles merge once every file is read */
	const char *names[] = {"a_ext.yaml", "b_objects.yaml", "c_roles.yaml"};
	const char *texts[] = {
		"role: sales_rep\n"
		"extend: true\n"
		"navigation: [team]\n"
		"objects:\n"
		"  team: { read: all }\n"
		"fields:\n"
		"  account.owner: read\n",
		role_objects_yaml,
		"role: sales_rep\n"
		"navigation: [account]\n"
		"objects:\n"
		"  account: { read: all }\n",
	};
	int rc = meta_load_texts(3, names, texts, &meta, &diags);
	if (rc != CRM_OK)
		meta_diags_print(&diags, stderr);
	ASSERT_EQ(rc, CRM_OK);
	const struct meta_role *rep = meta_find_role(meta, "sales_rep");
	ASSERT_EQ(rep->object_count, 2);
	ASSERT(rep->objects[1].object == meta_find_object(meta, "team"));
	ASSERT_EQ(rep->objects[1].ops[ACCESS_READ].level, LEVEL_ALL);
	ASSERT_EQ(rep->field_count, 1);
	ASSERT_EQ(rep->fields[0].access, FIELD_ACCESS_READ);
	ASSERT_EQ(rep->navigation_count, 2);
	ASSERT_STR_EQ(rep->navigation[1], "team");
	meta_free(meta);
	meta_diags_free(&diags);

	const char *bad_names[] = {"objects.yaml", "roles.yaml", "ext.yaml"};
	const char *bad_texts[] = {
		role_objects_yaml,
		"role: sales_rep\n"
		"objects:\n"
		"  account: { read: all }\n"
		"---\n"
		"role: boss\n"
		"admin: true\n",
		"role: sales_rep\n"
		"extend: true\n"
		"kind: partner\n"
		"objects:\n"
		"  account: { read: own }\n"
		"---\n"
		"role: ghost\n"
		"extend: true\n"
		"objects: { team: { read: all } }\n"
		"---\n"
		"role: boss\n"
		"extend: true\n"
		"objects: { team: { read: all } }\n",
	};
	rc = meta_load_texts(3, bad_names, bad_texts, &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 4);
	ASSERT_DIAG(diags, "ext.yaml", 3, 7, "role 'sales_rep' is extended here: kind, admin and label belong to the "
	            "document that defines it");
	ASSERT_DIAG(diags, "ext.yaml", 5, 3, "role 'sales_rep' already lists object 'account' at roles.yaml:3:3");
	ASSERT_DIAG(diags, "ext.yaml", 7, 7, "role 'ghost' is extended but defined nowhere");
	ASSERT_DIAG(diags, "ext.yaml", 11, 7, "role 'boss' is an admin role with every right");
	meta_diags_free(&diags);
}

/* role home: sections appended by extensions in load order, the first title kept, every part checked where written */
static void test_role_home_is_parsed_merged_and_checked(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	const char *names[] = {"a_ext.yaml", "b_objects.yaml", "c_roles.yaml"};
	const char *texts[] = {
		"role: sales_rep\n"
		"extend: true\n"
		"home:\n"
		"  title: Ignored\n"
		"  sections:\n"
		"    - { object: account, filter: \"region = $user.name and created_at < today()\", new: true }\n",
		role_objects_yaml,
		"role: sales_rep\n"
		"objects: { account: { read: all } }\n"
		"home:\n"
		"  title: { en: Desk, zh: 工作台 }\n"
		"  sections:\n"
		"    - object: opportunity\n"
		"      title: { en: Mine, zh: 我的 }\n"
		"      filter: \"owner = $me\"\n"
		"      sort: -created_at\n"
		"      fields: [name, account]\n"
		"      limit: 5\n",
	};
	int rc = meta_load_texts(3, names, texts, &meta, &diags);
	ASSERT_LOADED(rc, diags);
	const struct meta_role *rep = meta_find_role(meta, "sales_rep");
	ASSERT_STR_EQ(meta_label_text(&rep->home_title, "zh", ""), "工作台");
	ASSERT_EQ(rep->home_count, 2);
	ASSERT(rep->home[0].object == meta_find_object(meta, "opportunity"));
	ASSERT_EQ(rep->home[0].limit, 5);
	ASSERT_EQ(rep->home[0].field_count, 2);
	ASSERT_STR_EQ(rep->home[0].sort, "-created_at");
	ASSERT(!rep->home[0].new_button);
	ASSERT(rep->home[1].object == meta_find_object(meta, "account"));
	ASSERT_EQ(rep->home[1].limit, 10);
	ASSERT(rep->home[1].new_button);
	meta_free(meta);
	meta_diags_free(&diags);

	rc = load_roles("role: r\n"
	                "home:\n"
	                "  colour: red\n"
	                "  sections:\n"
	                "    - object: nothing\n"
	                "    - object: account\n"
	                "      filter: \"region = \"\n"
	                "      sort: size\n"
	                "      fields: [name, size]\n"
	                "      limit: 51\n"
	                "      new: maybe\n"
	                "      icon: star\n"
	                "    - { title: No object }\n"
	                "    - [account]\n"
	                "    - { object: opportunity, limit: 0, fields: name }\n"
	                "---\n"
	                "role: s\n"
	                "home: { sections: [] }\n"
	                "---\n"
	                "role: t\n"
	                "home: [account]\n",
	                &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_DIAG(diags, "roles.yaml", 3, 3, "unknown key 'colour' in role home (expected one of: title, sections)");
	ASSERT_DIAG(diags, "roles.yaml", 5, 15, "home section 1 of role 'r': unknown object 'nothing'");
	ASSERT_DIAG(diags, "roles.yaml", 7, 15, "home section filter: invalid expression");
	ASSERT_DIAG(diags, "roles.yaml", 10, 14, "expected an integer from 1 to 50 for 'limit'");
	ASSERT_DIAG(diags, "roles.yaml", 11, 12, "expected a boolean (true or false) for 'new'");
	ASSERT_DIAG(diags, "roles.yaml", 12, 7, "unknown key 'icon' in home section");
	ASSERT_DIAG(diags, "roles.yaml", 13, 7, "a home section needs 'object'");
	ASSERT_DIAG(diags, "roles.yaml", 14, 7, "expected a map { object, title, filter, sort, fields, limit, new }");
	ASSERT_EQ(count_diags(&diags, "expected an integer from 1 to 50 for 'limit'"), 2);   /* 10:14 and 15:37 */
	bool at_15_37 = false;
	for (int i = 0; i < diags.count; i++)
		at_15_37 = at_15_37 || (diags.items[i].line == 15 && diags.items[i].column == 37);
	ASSERT(at_15_37);
	ASSERT_DIAG(diags, "roles.yaml", 15, 48, "expected a list of at most 50 field names for 'fields'");
	ASSERT_DIAG(diags, "roles.yaml", 18, 19, "expected a list of 1 to 50 sections for 'sections'");
	ASSERT_DIAG(diags, "roles.yaml", 21, 7, "expected a map { title, sections } for 'home'");
	ASSERT_EQ(diags.error_count, 12);
	meta_diags_free(&diags);

	/* sort and fields name fields of the section's object */
	rc = load_roles("role: r\n"
	                "home:\n"
	                "  sections:\n"
	                "    - object: account\n"
	                "      sort: -size\n"
	                "      fields: [name, size]\n",
	                &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_DIAG(diags, "roles.yaml", 5, 13, "home section 1 of role 'r': sort: 'account' has no field '-size'");
	ASSERT_DIAG(diags, "roles.yaml", 6, 22, "home section 1 of role 'r': fields: 'account' has no field 'size'");
	ASSERT_EQ(diags.error_count, 2);
	meta_diags_free(&diags);

	/* the filter is typed over the object, as a list's filter is */
	rc = load_roles("role: r\n"
	                "home:\n"
	                "  sections:\n"
	                "    - object: account\n"
	                "      filter: \"size > 3\"\n"
	                "    - object: opportunity\n"
	                "      filter: \"discount + 'x' > 1\"\n",
	                &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 2);
	ASSERT_EQ(diags.items[0].line, 5);
	ASSERT_EQ(diags.items[0].column, 15);
	ASSERT_EQ(diags.items[1].line, 7);
	ASSERT_EQ(diags.items[1].column, 15);
	meta_diags_free(&diags);
}

/* app.yaml signup: a consumer role, an e-mail template with vars name and link, an http(s) url, 1..168 hours */
static void test_signup_is_checked_where_written(void)
{
	static const char roles[] = "role: member\nkind: consumer\n---\nrole: rep\n";
	static const char templates[] =
		"template: hello\nchannel: email\nvars: [name, link]\nsubject: Hi\nbody: \"{{name}}: {{link}}\"\n"
		"---\n"
		"template: bare\nchannel: email\nvars: [name]\nsubject: Hi\nbody: \"{{name}}\"\n";
	struct meta *meta = NULL;
	struct meta_diags diags;
	const char *names[] = {"app.yaml", "objects.yaml", "roles.yaml", "templates.yaml"};
	const char *texts[] = {
		"app: crm\nsignup: { role: member, template: hello, url: \"https://crm.example.com\", expires_hours: 48 }\n",
		role_objects_yaml, roles, templates,
	};
	int rc = meta_load_texts(4, names, texts, &meta, &diags);
	ASSERT_LOADED(rc, diags);
	ASSERT(meta->signup != NULL);
	ASSERT_STR_EQ(meta->signup->role, "member");
	ASSERT_STR_EQ(meta->signup->template_name, "hello");
	ASSERT_STR_EQ(meta->signup->url, "https://crm.example.com");
	ASSERT_EQ(meta->signup->expires_hours, 48);
	meta_free(meta);
	meta_diags_free(&diags);

	texts[0] = "app: crm\n"
	           "signup:\n"
	           "  role: rep\n"
	           "  template: bare\n"
	           "  url: \"ftp://crm.example.com\"\n"
	           "  expires_hours: 169\n"
	           "  colour: red\n";
	rc = meta_load_texts(4, names, texts, &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_DIAG(diags, "app.yaml", 3, 9, "signup: role 'rep' is for employee users");
	ASSERT_DIAG(diags, "app.yaml", 4, 13, "signup: template 'bare' must be an e-mail template with no object and vars "
	            "[name, link]");
	ASSERT_DIAG(diags, "app.yaml", 5, 8, "'url' must be an http:// or https:// address");
	ASSERT_DIAG(diags, "app.yaml", 6, 18, "expected an integer from 1 to 168 for 'expires_hours'");
	ASSERT_DIAG(diags, "app.yaml", 7, 3, "unknown key 'colour' in signup");
	ASSERT_EQ(diags.error_count, 5);
	meta_diags_free(&diags);

	texts[0] = "app: crm\nsignup: { role: nobody, template: nothing, url: \"https://x.example/a b\" }\n";
	rc = meta_load_texts(4, names, texts, &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_DIAG(diags, "app.yaml", 2, 17, "signup: no role 'nobody'");
	ASSERT_DIAG(diags, "app.yaml", 2, 35, "signup: no template 'nothing'");
	ASSERT_DIAG(diags, "app.yaml", 2, 49, "'url' must be an http:// or https:// address");
	meta_diags_free(&diags);

	texts[0] = "app: crm\nsignup: { url: \"https://x.example\" }\n";
	rc = meta_load_texts(4, names, texts, &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_DIAG(diags, "app.yaml", 2, 9, "'signup' needs 'role'");
	ASSERT_DIAG(diags, "app.yaml", 2, 9, "'signup' needs 'template'");
	ASSERT_EQ(diags.error_count, 2);
	meta_diags_free(&diags);

	texts[0] = "app: crm\nsignup: consumer\n";
	rc = meta_load_texts(4, names, texts, &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_DIAG(diags, "app.yaml", 2, 9, "expected a map { role, template, url, expires_hours } for 'signup'");
	meta_diags_free(&diags);
}

static void test_invalid_role_kind_is_refused(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_roles("role: r\nkind: customer\n---\nrole: s\nkind: { a: b }\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 2);
	ASSERT_DIAG(diags, "roles.yaml", 2, 7, "expected employee, partner or consumer for 'kind', not 'customer'");
	ASSERT_EQ(diags.count, 2);   /* the map has nothing to quote: the same message without "not" */
	ASSERT_EQ(diags.items[1].line, 5);
	ASSERT_EQ(diags.items[1].column, 7);
	ASSERT_STR_EQ(diags.items[1].message, "expected employee, partner or consumer for 'kind'");
	meta_diags_free(&diags);

	rc = load_roles("role: r\nkind: consumer\n", &meta, &diags);
	ASSERT_LOADED(rc, diags);
	ASSERT_EQ(meta_find_role(meta, "r")->kind, USER_CONSUMER);
	meta_free(meta);
	meta_diags_free(&diags);
}

static void test_admin_role_with_objects_or_fields_is_refused(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_roles(
		"role: root\n"
		"admin: true\n"
		"objects:\n"
		"  account: { read: all }\n"
		"fields:\n"
		"  account.name: read\n"
		"---\n"
		"role: partner_admin\n"
		"kind: partner\n"
		"admin: true\n"
		"---\n"
		"role: odd\n"
		"admin: yes\n", &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_EQ(diags.error_count, 4);
	ASSERT_DIAG(diags, "roles.yaml", 3, 1, "role 'root' is an admin role with every right: 'objects' is not allowed "
	            "with 'admin: true'");
	ASSERT_DIAG(diags, "roles.yaml", 5, 1, "'fields' is not allowed with 'admin: true'");
	ASSERT_DIAG(diags, "roles.yaml", 9, 7, "an admin role is for employees: role 'partner_admin' cannot be "
	            "'admin: true' with kind 'partner'");
	ASSERT_DIAG(diags, "roles.yaml", 13, 8, "expected a boolean (true or false) for 'admin'");
	meta_diags_free(&diags);
}

static void test_repository_metadata_loads_with_the_demo_roles(void)
{
	/* Tests run from the repository root. */
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = meta_load("metadata", "plugins", &meta, &diags);
	ASSERT_LOADED(rc, diags);
	ASSERT_EQ(diags.error_count, 0);
	ASSERT_EQ(meta->role_count, 16);  /* 8 in metadata/ (guest among them), sales_director and finance from lead2cash, marketing_manager from marketing, service_manager from service, channel_manager from channel, member_service from membership, field_rep and field_manager from fieldforce */
	static const char *const demo_roles[] = {
		"admin", "sales_manager", "sales_rep", "service_agent", "marketing_user", "partner_user", "consumer",
	};
	for (size_t i = 0; i < sizeof(demo_roles) / sizeof(demo_roles[0]); i++) {
		const struct meta_role *role = meta_find_role(meta, demo_roles[i]);
		ASSERT(role != NULL);
		ASSERT(strcmp(meta_label_text(&role->label, "zh", ""), "") != 0);
		ASSERT(strcmp(meta_label_text(&role->label, "en", ""), "") != 0);
	}
	ASSERT(meta_find_role(meta, "admin")->admin);
	ASSERT_EQ(meta_find_role(meta, "partner_user")->kind, USER_PARTNER);
	ASSERT_EQ(meta_find_role(meta, "consumer")->kind, USER_CONSUMER);

	const struct meta_role *rep = meta_find_role(meta, "sales_rep");
	const struct meta_object *lead = meta_find_object(meta, "lead");
	const struct meta_object *opportunity = meta_find_object(meta, "opportunity");
	const struct meta_role_object *ro = meta_role_object(rep, lead);
	ASSERT(ro != NULL);
	ASSERT_EQ(ro->ops[ACCESS_READ].level, LEVEL_EXPR);
	ASSERT_STR_EQ(ro->ops[ACCESS_READ].text, "owner = $me or owner = null");
	ro = meta_role_object(rep, opportunity);
	ASSERT(ro != NULL);
	ASSERT_EQ(ro->ops[ACCESS_READ].level, LEVEL_TEAM);
	ASSERT_EQ(ro->ops[ACCESS_DELETE].level, LEVEL_NONE);
	ASSERT_EQ(rep->field_count, 12);  /* 1 in metadata/, 10 from lead2cash's extension, 1 from marketing's */
	ASSERT(rep->fields[0].field == meta_find_field(opportunity, "discount"));
	ASSERT_EQ(rep->fields[0].access, FIELD_ACCESS_READ);
	ASSERT(meta_role_object(meta_find_role(meta, "consumer"), opportunity) == NULL);
	meta_free(meta);
	meta_diags_free(&diags);
}

/* The checked parts of views (kanban card, home, composer) and dynamic defaults refuse bad input by file:line. */
static void test_bad_views_and_defaults_are_refused_where_written(void)
{
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("v.yaml",
		"object: deal\n"
		"fields:\n"
		"  name: { type: text }\n"
		"  amount: { type: money, default: $me }\n"
		"  owner_ref: { type: user, default: 7 }\n"
		"  region: { type: text, default: $user.no_such_field }\n"
		"views:\n"
		"  kanban: { group_by: name, card: { title: nope, fields: [a, b, c, d] } }\n"
		"  home: [{ title: x, filter: \"amount >\", sort: nope, limit: 500, colour: red }]\n"
		"  composer: { object: nothing, ref: deal }\n",
		&meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT(meta == NULL);
	ASSERT_DIAG(diags, "v.yaml", 4, 35, "default '$me' needs a user field");
	ASSERT_DIAG(diags, "v.yaml", 5, 37, "takes '$me' or '$user.<field>' as default, not a fixed id");
	ASSERT(find_diag(&diags, "views.kanban.card of 'deal': unknown field 'nope'"));
	ASSERT(find_diag(&diags, "'fields' is a list of at most three fields"));
	ASSERT(find_diag(&diags, "views.home[0] of 'deal': filter:"));
	ASSERT(find_diag(&diags, "views.home[0] of 'deal': sort: unknown field 'nope'"));
	ASSERT(find_diag(&diags, "views.home[0] of 'deal': limit is 1 to 50"));
	ASSERT(find_diag(&diags, "views.home[0] of 'deal': unknown key 'colour'"));
	ASSERT(find_diag(&diags, "views.composer of 'deal': 'object' must name an object"));
	meta_diags_free(&diags);
}

/* views.console: shapes refused as written; each name checked against the objects, at the value it is in. */
static void test_bad_console_view_is_refused_where_written(void)
{
	static const char shapes[] =
		"object: ticket\n"
		"fields:\n"
		"  subject: { type: text }\n"
		"views:\n"
		"  console: { sort: subject, colour: red, clocks: [{ due: subject, when: 1 }], related: [] }\n"
		"---\n"
		"object: order\n"
		"views:\n"
		"  console: [queue]\n";
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_one("c.yaml", shapes, &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_DIAG(diags, "c.yaml", 5, 29, "unknown key 'colour' in views.console");
	ASSERT_DIAG(diags, "c.yaml", 5, 67, "unknown key 'when' in views.console.clocks");
	ASSERT_DIAG(diags, "c.yaml", 5, 88, "views.console of 'ticket': 'related' is a list of 1 to 8 maps");
	ASSERT_DIAG(diags, "c.yaml", 5, 3, "views.console of 'ticket': 'queue' is required");
	ASSERT_DIAG(diags, "c.yaml", 9, 12, "views.console of 'order': expected a map");
	meta_diags_free(&diags);

	static const char names[] =
		"object: account\n"
		"fields:\n"
		"  name: { type: text }\n"
		"---\n"
		"object: ticket\n"
		"fields:\n"
		"  subject: { type: text }\n"
		"  account: { type: ref, to: account }\n"
		"  due: { type: datetime }\n"
		"views:\n"
		"  console:\n"
		"    queue: \"nosuch = 1\"\n"
		"    sort: nope\n"
		"    clocks: [{ due: subject }]\n"
		"    suggest: \"../x/{id}\"\n"
		"    link: subject\n"
		"    customer: account\n"
		"    panels: [{ object: ticket, ref: subject, fields: [zzz] }, { object: nothing, ref: a, fields: [a] }]\n";
	rc = load_one("c.yaml", names, &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_DIAG(diags, "c.yaml", 12, 12, "views.console: queue of 'ticket': unknown field 'nosuch'");
	ASSERT_DIAG(diags, "c.yaml", 13, 11, "views.console: sort: 'ticket' has no field 'nope'");
	ASSERT_DIAG(diags, "c.yaml", 14, 14, "views.console: clocks: 'ticket.subject' is text, not a datetime");
	ASSERT_DIAG(diags, "c.yaml", 15, 14, "'suggest' is a plugin route path under /api/v1/plugins/");
	ASSERT_DIAG(diags, "c.yaml", 16, 11, "views.console: link: 'ticket.subject' must be a ref field");
	ASSERT_DIAG(diags, "c.yaml", 18, 14, "views.console: panels: 'ticket.subject' must be a ref field to account");
	ASSERT_DIAG(diags, "c.yaml", 18, 14, "views.console: panels: 'ticket' has no field 'zzz'");
	ASSERT_DIAG(diags, "c.yaml", 18, 63, "views.console: panels[1]: 'object' must name an object, not 'nothing'");
	meta_diags_free(&diags);

	static const char good[] =
		"object: ticket\n"
		"fields:\n"
		"  subject: { type: text }\n"
		"  due: { type: datetime }\n"
		"views:\n"
		"  console: { queue: \"owner = $me\", sort: due, columns: [subject], clocks: [{ due: due }] }\n";
	rc = load_one("c.yaml", good, &meta, &diags);
	ASSERT_EQ(rc, CRM_OK);
	ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(meta_find_object(meta, "ticket")->views,
	              "console"), "sort")), "due");
	meta_free(meta);
	meta_diags_free(&diags);
}

/* views.lines: each name is checked against the objects, and each error points at the name it is about. */
static void test_bad_lines_view_is_refused_where_written(void)
{
	static const char parent[] =
		"object: quote\n"
		"fields:\n"
		"  name: { type: text }\n"
		"views:\n"
		"  lines: { object: quote_line, ref: name, fields: [product, nope, product, quote], order: discount }\n"
		"---\n"
		"object: order\n"
		"views:\n"
		"  lines: { object: nothing, ref: order, fields: [a] }\n"
		"---\n"
		"object: invoice\n"
		"views:\n"
		"  lines: { object: quote_line, fields: [], colour: red }\n"
		"---\n"
		"object: receipt\n"
		"views:\n"
		"  lines: [quote_line]\n";
	static const char child[] =
		"object: quote_line\n"
		"fields:\n"
		"  quote: { type: ref, to: quote }\n"
		"  product: { type: text }\n"
		"  discount: { type: percent }\n";
	struct meta *meta = NULL;
	struct meta_diags diags;
	int rc = load_two("quote.yaml", parent, "quote_line.yaml", child, &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT(meta == NULL);
	ASSERT_DIAG(diags, "quote.yaml", 5, 37,
	            "views.lines of 'quote': 'ref' must be a ref field of 'quote_line' to 'quote' ('quote_line' has no field 'name')");
	ASSERT_DIAG(diags, "quote.yaml", 5, 61, "views.lines of 'quote': 'quote_line' has no field 'nope'");
	ASSERT_DIAG(diags, "quote.yaml", 5, 67, "views.lines of 'quote': field 'product' is listed twice");
	ASSERT_DIAG(diags, "quote.yaml", 5, 91,
	            "views.lines of 'quote': 'order' must be a writable int field of 'quote_line' ('discount' is not an int)");
	ASSERT_DIAG(diags, "quote.yaml", 9, 20, "views.lines of 'order': no object 'nothing'");
	ASSERT_DIAG(diags, "quote.yaml", 13, 40, "views.lines of 'invoice': 'fields' is a list of 1 to 12 field names");
	ASSERT_DIAG(diags, "quote.yaml", 13, 44, "unknown key 'colour' in views.lines");
	ASSERT_DIAG(diags, "quote.yaml", 13, 3, "views.lines of 'invoice': 'ref' is required");
	ASSERT_DIAG(diags, "quote.yaml", 17, 10, "views.lines of 'receipt': expected { object, ref, fields, order }");
	meta_diags_free(&diags);

	/* the ref is not a column; a valid view loads and reaches the views as written */
	static const char listed_ref[] =
		"object: quote\n"
		"views:\n"
		"  lines: { object: quote_line, ref: quote, fields: [quote, product] }\n";
	rc = load_two("quote.yaml", listed_ref, "quote_line.yaml", child, &meta, &diags);
	ASSERT_EQ(rc, CRM_EMETA);
	ASSERT_DIAG(diags, "quote.yaml", 3, 53, "'quote' is the ref to 'quote', which the grid sets");
	meta_diags_free(&diags);
	static const char good[] =
		"object: quote\n"
		"views:\n"
		"  lines: { object: quote_line, ref: quote, fields: [product, discount], order: position }\n";
	static const char good_child[] =
		"object: quote_line\n"
		"fields:\n"
		"  quote: { type: ref, to: quote }\n"
		"  product: { type: text }\n"
		"  discount: { type: percent }\n"
		"  position: { type: int }\n";
	rc = load_two("quote.yaml", good, "quote_line.yaml", good_child, &meta, &diags);
	ASSERT_LOADED(rc, diags);
	json_t *lines = json_object_get(meta_find_object(meta, "quote")->views, "lines");
	ASSERT_STR_EQ(json_string_value(json_object_get(lines, "order")), "position");
	ASSERT_EQ(json_array_size(json_object_get(lines, "fields")), 2);
	meta_free(meta);
	meta_diags_free(&diags);

	/* declared by an extension (a pack adding lines to a base object): errors point into the extension */
	static const char extension[] =
		"object: quote\n"
		"extend: true\n"
		"views:\n"
		"  lines: { object: quote_line, ref: quote, fields: [product], order: quote }\n";
	static const char base[] =
		"object: quote\n"
		"---\n"
		"object: quote_line\n"
		"fields:\n"
		"  quote: { type: ref, to: quote }\n"
		"  product: { type: text }\n";
	rc = load_two("quote.yaml", base, "quote_x.yaml", extension, &meta, &diags);
	ASSERT(rc == CRM_EMETA);
	ASSERT_DIAG(diags, "quote_x.yaml", 4, 70, "'order' must be a writable int field of 'quote_line' ('quote' is not an int)");
	meta_diags_free(&diags);
}

static struct test_case tests[] = {
	{ "type_errors_in_expressions_are_refused_at_load", test_type_errors_in_expressions_are_refused_at_load },
	{"every_field_type_loads_with_its_attributes", test_every_field_type_loads_with_its_attributes},
	{"system_fields_come_first_in_order", test_system_fields_come_first_in_order},
	{"i18n_label_falls_back_to_en_then_name", test_i18n_label_falls_back_to_en_then_name},
	{"extend_merges_from_an_earlier_file_name", test_extend_merges_from_an_earlier_file_name},
	{"object_defined_twice_names_both_places", test_object_defined_twice_names_both_places},
	{"extend_of_unknown_object_is_refused", test_extend_of_unknown_object_is_refused},
	{"workflow_extensions_merge_whatever_the_file_order", test_workflow_extensions_merge_whatever_the_file_order},
	{"bad_workflow_extensions_are_refused_where_written", test_bad_workflow_extensions_are_refused_where_written},
	{"bad_enum_value_extensions_are_refused_where_written", test_bad_enum_value_extensions_are_refused_where_written},
	{"timer_transition_must_name_one_without_approval", test_timer_transition_must_name_one_without_approval},
	{"unknown_keys_in_object_and_field_are_reported_where_written",
	 test_unknown_keys_in_object_and_field_are_reported_where_written},
	{"key_not_valid_for_the_type_is_refused", test_key_not_valid_for_the_type_is_refused},
	{"wrong_value_types_say_what_was_expected", test_wrong_value_types_say_what_was_expected},
	{"unknown_field_type_lists_the_types", test_unknown_field_type_lists_the_types},
	{"enum_without_values_is_refused", test_enum_without_values_is_refused},
	{"duplicate_field_names_are_refused_in_a_document_and_across_extends",
	 test_duplicate_field_names_are_refused_in_a_document_and_across_extends},
	{"duplicate_enum_value_is_refused", test_duplicate_enum_value_is_refused},
	{"enum_default_must_be_one_of_the_values", test_enum_default_must_be_one_of_the_values},
	{"ref_to_missing_object_is_reported_at_to", test_ref_to_missing_object_is_reported_at_to},
	{"rollup_with_bad_of_is_refused", test_rollup_with_bad_of_is_refused},
	{"currency_key_is_checked", test_currency_key_is_checked},
	{"kpi_documents_are_checked", test_kpi_documents_are_checked},
	{"kpi_model_keys_are_checked", test_kpi_model_keys_are_checked},
	{"bad_charts_are_refused", test_bad_charts_are_refused},
	{"rollups_chain_through_formulas_and_rollups", test_rollups_chain_through_formulas_and_rollups},
	{"rollup_of_unstorable_formula_or_a_loop_is_refused", test_rollup_of_unstorable_formula_or_a_loop_is_refused},
	{"formula_referring_to_unknown_field_is_refused", test_formula_referring_to_unknown_field_is_refused},
	{"formula_paths_follow_refs", test_formula_paths_follow_refs},
	{"formula_cycle_is_named", test_formula_cycle_is_named},
	{"invalid_expression_in_rule_is_reported_at_the_expression",
	 test_invalid_expression_in_rule_is_reported_at_the_expression},
	{"every_error_of_a_run_is_reported", test_every_error_of_a_run_is_reported},
	{"yaml_syntax_error_has_its_line", test_yaml_syntax_error_has_its_line},
	{"anchors_aliases_and_tags_are_refused", test_anchors_aliases_and_tags_are_refused},
	{"system_field_name_cannot_be_used_for_a_field", test_system_field_name_cannot_be_used_for_a_field},
	{"hostile_names_are_refused", test_hostile_names_are_refused},
	{"limits_on_depth_and_size", test_limits_on_depth_and_size},
	{"version_changes_with_the_text", test_version_changes_with_the_text},
	{"load_directory_with_plugins_from_disk", test_load_directory_with_plugins_from_disk},
	{"industries", test_industries},
	{"valid_role_loads_with_levels_expressions_and_field_access",
	 test_valid_role_loads_with_levels_expressions_and_field_access},
	{"unknown_right_in_role_object_lists_the_allowed_keys", test_unknown_right_in_role_object_lists_the_allowed_keys},
	{"unknown_level_word_is_read_as_an_expression", test_unknown_level_word_is_read_as_an_expression},
	{"role_expression_path_to_unknown_field_is_refused", test_role_expression_path_to_unknown_field_is_refused},
	{"append_only_mistakes_are_refused_where_written", test_append_only_mistakes_are_refused_where_written},
	{"role_on_unknown_object_is_refused", test_role_on_unknown_object_is_refused},
	{"unknown_field_in_role_fields_is_refused", test_unknown_field_in_role_fields_is_refused},
	{"bad_field_access_value_is_refused", test_bad_field_access_value_is_refused},
	{"role_defined_twice_names_the_first", test_role_defined_twice_names_the_first},
	{"invalid_role_kind_is_refused", test_invalid_role_kind_is_refused},
	{"role_extension_adds_rights_and_is_checked", test_role_extension_adds_rights_and_is_checked},
	{"role_home_is_parsed_merged_and_checked", test_role_home_is_parsed_merged_and_checked},
	{"signup_is_checked_where_written", test_signup_is_checked_where_written},
	{"admin_role_with_objects_or_fields_is_refused", test_admin_role_with_objects_or_fields_is_refused},
	{"repository_metadata_loads_with_the_demo_roles", test_repository_metadata_loads_with_the_demo_roles},
	{"bad_views_and_defaults_are_refused_where_written", test_bad_views_and_defaults_are_refused_where_written},
	{"bad_lines_view_is_refused_where_written", test_bad_lines_view_is_refused_where_written},
	{"bad_console_view_is_refused_where_written", test_bad_console_view_is_refused_where_written},
};

TEST_MAIN(tests)
