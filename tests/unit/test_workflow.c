/*
 * test_workflow.c - the workflow engine: every transition rule, the refusal
 * of direct state writes, rollback of failed actions, lead conversion,
 * multi-step approvals, timers driven by a clock the test passes in, a
 * workflow extended from another file, and timers firing transitions.
 */
#include "test.h"
#include "fixture.h"
#include "meta.h"
#include "workflow.h"

static const char *const schema =
	"object: team\n"
	"fields:\n"
	"  name: { type: text, required: true }\n"
	"---\n"
	"object: user\n"
	"fields:\n"
	"  login: { type: text, required: true, unique: true }\n"
	"  role: { type: text }\n"
	"  team: { type: ref, to: team, on_delete: set_null }\n"
	"  manager: { type: ref, to: user, on_delete: set_null }\n"
	"  active: { type: bool, default: true }\n"
	"---\n"
	"object: account\n"
	"fields:\n"
	"  name: { type: text, required: true }\n"
	"---\n"
	"object: contact\n"
	"fields:\n"
	"  last_name: { type: text, required: true }\n"
	"  first_name: { type: text }\n"
	"  email: { type: email }\n"
	"  account: { type: ref, to: account }\n"
	"---\n"
	"object: opportunity\n"
	"fields:\n"
	"  name: { type: text, required: true, max: 120 }\n"
	"  account: { type: ref, to: account }\n"
	"  amount: { type: money }\n"
	"  discount: { type: percent }\n"
	"  close_date: { type: date }\n"
	"  probability: { type: int, default: 10 }\n"
	"  stage: { type: enum, values: [prospecting, qualification, proposal, negotiation, won, lost] }\n"
	"---\n"
	"object: lead\n"
	"fields:\n"
	"  company: { type: text, required: true, max: 200 }\n"
	"  last_name: { type: text, required: true }\n"
	"  first_name: { type: text }\n"
	"  email: { type: email }\n"
	"  estimated_value: { type: money }\n"
	"  status: { type: enum, default: working, values: [new, working, qualified, disqualified] }\n"
	"  converted_account: { type: ref, to: account, readonly: true }\n"
	"  converted_contact: { type: ref, to: contact, readonly: true }\n"
	"  converted_opportunity: { type: ref, to: opportunity, readonly: true }\n"
	"---\n"
	"object: case\n"
	"fields:\n"
	"  subject: { type: text, required: true }\n"
	"  opened_by: { type: user, default: $me }\n"
	"  opened_on: { type: date, default: today() }\n"
	"  opened_at: { type: datetime, default: now() }\n"
	"  team: { type: ref, to: team, default: $user.team }\n"
	"  status: { type: enum, values: [new, open, closed] }\n"
	"  tier: { type: enum, default: l1, values: [l1, l2] }\n"
	"---\n"
	"object: approval\n"
	"fields:\n"
	"  request: { type: text, required: true }\n"
	"  workflow: { type: text, required: true }\n"
	"  transition: { type: text, required: true }\n"
	"  object_name: { type: text, required: true }\n"
	"  record_id: { type: int, required: true }\n"
	"  step: { type: int, required: true }\n"
	"  steps: { type: int, required: true }\n"
	"  mode: { type: enum, values: [any, all], default: any }\n"
	"  approver: { type: user, required: true }\n"
	"  requester: { type: user }\n"
	"  status: { type: enum, values: [pending, approved, rejected, cancelled], default: pending }\n"
	"  comment: { type: textarea }\n"
	"  decided_at: { type: datetime }\n"
	"  transition_values: { type: json }\n"
	"---\n"
	"object: notification\n"
	"fields:\n"
	"  user: { type: user, required: true }\n"
	"  title: { type: text, required: true, max: 300 }\n"
	"  object_name: { type: text }\n"
	"  record_id: { type: int }\n"
	"  read: { type: bool, default: false }\n"
	"---\n"
	"role: boss\n"
	"admin: true\n"
	"---\n"
	"role: manager\n"
	"objects:\n"
	"  opportunity: { read: all, create: true, update: all }\n"
	"  approval: { read: \"approver = $me or requester = $me\" }\n"
	"  notification: { read: \"user = $me\" }\n"
	"---\n"
	"role: director\n"
	"objects:\n"
	"  opportunity: { read: all }\n"
	"  approval: { read: \"approver = $me or requester = $me\" }\n"
	"---\n"
	"role: rep\n"
	"objects:\n"
	"  account: { read: all, create: true }\n"
	"  contact: { read: all, create: true }\n"
	"  opportunity: { read: all, create: true, update: own }\n"
	"  lead: { read: all, create: true, update: own }\n"
	"  approval: { read: \"approver = $me or requester = $me\" }\n"
	"  notification: { read: \"user = $me\" }\n"
	"---\n"
	"workflow: opp\n"
	"object: opportunity\n"
	"field: stage\n"
	"initial: prospecting\n"
	"terminal: [won, lost]\n"
	"transitions:\n"
	"  - { name: qualify, from: prospecting, to: qualification }\n"
	"  - { name: propose, from: qualification, to: proposal, require: [amount, close_date] }\n"
	"  - name: negotiate\n"
	"    from: proposal\n"
	"    to: negotiation\n"
	"    when: \"amount > 0\"\n"
	"    message: { en: \"Give the deal an amount first\", zh: \"请先填写金额\" }\n"
	"    approval:\n"
	"      when: \"discount > 20\"\n"
	"      steps: [ { approvers: [owner_manager] }, { approvers: [\"role:director\"] } ]\n"
	"  - { name: win, from: negotiation, to: won, roles: [manager], do: [{ set: { probability: 100 } }, notify_owner] }\n"
	"  - name: doom\n"
	"    from: negotiation\n"
	"    to: won\n"
	"    do:\n"
	"      - { set: { probability: 100 } }\n"
	"      - { create: { object: account, values: { name: \"$record.name\" } } }\n"
	"      - { create: { object: contact, values: { first_name: nobody } } }\n"
	"  - name: award\n"
	"    from: negotiation\n"
	"    to: won\n"
	"    when: \"amount > 50\"\n"
	"    do:\n"
	"      - { create: { object: case, values: { subject: \"$record.name\", tier: l2 }, owner: record }, as: system }\n"
	"  - name: qualify_reviewed\n"
	"    from: prospecting\n"
	"    to: qualification\n"
	"    approval:\n"
	"      approvers: [requester_manager, \"role:director in team of owner\", \"field:account.owner\"]\n"
	"  - { name: lose, from: '*', to: lost }\n"
	"---\n"
	"workflow: lead_flow\n"
	"object: lead\n"
	"field: status\n"
	"initial: new\n"
	"terminal: [qualified, disqualified]\n"
	"transitions:\n"
	"  - { name: work, from: new, to: working, direct: true }\n"
	"  - name: convert\n"
	"    from: [new, working]\n"
	"    to: qualified\n"
	"    do:\n"
	"      - { create: { object: account, values: { name: \"$record.company\" }, link: converted_account } }\n"
	"      - create: { object: contact, link: converted_contact,\n"
	"                  values: { account: \"$created.account\", last_name: \"$record.last_name\", email: \"$record.email\" } }\n"
	"      - create: { object: opportunity, link: converted_opportunity,\n"
	"                  values: { name: \"$record.company\", account: \"$created.account\", amount: \"$record.estimated_value\" } }\n"
	"  - { name: disqualify, from: [new, working], to: disqualified }\n"
	"---\n"
	"workflow: case_flow\n"
	"object: case\n"
	"field: status\n"
	"initial: new\n"
	"transitions:\n"
	"  - { name: open, from: new, to: open }\n"
	"  - { name: close, from: [new, open], to: closed }\n"
	"timers:\n"
	"  - { name: escalate, when: \"status in ('new', 'open') and tier = 'l1' and subject != 'poison'\",\n"
	"      untouched_for: 4h, every: 5m, do: [{ set: { tier: l2 } }] }\n"
	"  - { name: broken, when: \"subject = 'poison'\", every: 10m, do: [{ set: { tier: l9 } }] }\n"
	"  - { name: nightly, when: \"subject = 'never matches'\", at: \"02:30\", do: [notify_owner] }\n";

/*
 * Extensions, written before the documents they extend: two states added to
 * case.status, and transitions, an action and timers added to case_flow.
 * (test_meta.c loads extensions from other files in every order.)
 */
static const char *const extensions =
	"object: case\n"
	"extend: true\n"
	"fields:\n"
	"  status: { extend: true, values: [waiting, expired] }\n"
	"---\n"
	"workflow: case_flow\n"
	"extend: true\n"
	"terminal: [expired]\n"
	"transitions:\n"
	"  - { name: wait, from: open, to: waiting, when: \"subject not like '%urgent%'\",\n"
	"      message: \"An urgent case cannot wait\" }\n"
	"  - { name: expire, from: waiting, to: expired, direct: true }\n"
	"  - { name: open, extend: true, do: [{ set: { tier: l2 } }] }\n"
	"timers:\n"
	"  - { name: give_up, when: \"status = 'waiting'\", every: 1h,\n"
	"      do: [{ set: { tier: l1 } }, { transition: expire }, notify_owner] }\n"
	"  - { name: park, when: \"status = 'open' and subject like 'park%'\", every: 1h, do: [{ transition: wait }] }\n";

static struct fixture fx;
static int64_t boss, mgr, rep, rep2, director;

static int64_t sys_create(const char *object, json_t *values)
{
	int64_t saved = fx.ctx.user_id;
	crm_ctx_clear(&fx.ctx);
	crm_ctx_init(&fx.ctx, fx.kernel, 0, "setup");
	int64_t id = 0;
	if (object_create_id(&fx.ctx, object, values, &id) != CRM_OK) {
		fprintf(stderr, "  setup create %s failed: %s\n", object, fx.ctx.message);
		id = -1;
	}
	json_decref(values);
	crm_ctx_clear(&fx.ctx);
	crm_ctx_init(&fx.ctx, fx.kernel, saved, "test");
	return id;
}

static void as(int64_t user)
{
	crm_ctx_clear(&fx.ctx);
	crm_ctx_init(&fx.ctx, fx.kernel, user, "test");
}

static void setup(void)
{
	size_t length = strlen(extensions) + strlen("---\n") + strlen(schema) + 1;
	char *text = malloc(length);
	snprintf(text, length, "%s---\n%s", extensions, schema);
	int code = fixture_open(&fx, text);
	free(text);
	if (code != CRM_OK) {
		fprintf(stderr, "fixture failed\n");
		exit(1);
	}
	int64_t team = sys_create("team", json_pack("{s:s}", "name", "East"));
	boss = sys_create("user", json_pack("{s:s, s:s, s:I}", "login", "boss", "role", "boss", "team", (json_int_t)team));
	mgr = sys_create("user", json_pack("{s:s, s:s}", "login", "mgr", "role", "manager"));
	director = sys_create("user", json_pack("{s:s, s:s, s:I}", "login", "dir", "role", "director", "team",
	                                        (json_int_t)team));
	rep = sys_create("user", json_pack("{s:s, s:s, s:I, s:I}", "login", "rep", "role", "rep", "manager", (json_int_t)mgr,
	                                   "team", (json_int_t)team));
	rep2 = sys_create("user", json_pack("{s:s, s:s, s:I}", "login", "rep2", "role", "rep", "manager", (json_int_t)mgr));
}

/* An opportunity owned by owner, moved by the system to stage (history loads may set states). */
static int64_t opportunity(int64_t owner, const char *stage, double amount, double discount)
{
	json_t *v = json_pack("{s:s, s:s, s:I, s:f, s:f, s:s}", "name", "Deal", "stage", stage, "owner", (json_int_t)owner,
	                      "amount", amount, "discount", discount, "close_date", "2030-01-01");
	return sys_create("opportunity", v);
}

static const char *field_of(const char *object, int64_t id, const char *field)
{
	static char text[128];
	json_t *r = NULL;
	int64_t saved = fx.ctx.user_id;
	as(0);
	text[0] = '\0';
	if (object_get(&fx.ctx, object, id, false, &r) == CRM_OK) {
		json_t *v = json_object_get(r, field);
		if (json_is_string(v))
			snprintf(text, sizeof(text), "%s", json_string_value(v));
		else if (json_is_integer(v))
			snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(v));
		else if (json_is_null(v) || !v)
			snprintf(text, sizeof(text), "null");
	}
	json_decref(r);
	as(saved);
	return text;
}

static int64_t count(const char *object, const char *filter)
{
	int64_t saved = fx.ctx.user_id, n = -1;
	as(0);
	if (object_count(&fx.ctx, object, filter, &n) != CRM_OK)
		n = -1;
	as(saved);
	return n;
}

static int fire(int64_t id, const char *name, json_t *values)
{
	json_t *out = NULL;
	int code = workflow_fire(&fx.ctx, "opportunity", id, name, values, 0, &out);
	json_decref(out);
	json_decref(values);
	return code;
}

/* ---- transitions ---- */

static void test_allowed_transition_moves_the_state_and_is_audited(void)
{
	int64_t id = opportunity(rep, "prospecting", 100, 0);
	as(rep);
	json_t *out = NULL;
	ASSERT_EQ(workflow_fire(&fx.ctx, "opportunity", id, "qualify", NULL, 0, &out), CRM_OK);
	ASSERT_STR_EQ(json_string_value(json_object_get(out, "status")), "done");
	ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(out, "record"), "stage")), "qualification");
	json_decref(out);
	json_t *history = NULL;
	ASSERT_EQ(object_history(&fx.ctx, "opportunity", id, &history), CRM_OK);
	json_t *last = json_array_get(history, json_array_size(history) - 1);
	ASSERT_STR_EQ(json_string_value(json_object_get(last, "action")), "transition");
	json_t *change = json_object_get(json_object_get(last, "changes"), "_transition");
	ASSERT_STR_EQ(json_string_value(json_array_get(change, 1)), "qualify");
	json_decref(history);
}

static void test_transition_from_the_wrong_state_is_refused(void)
{
	int64_t id = opportunity(rep, "prospecting", 100, 0);
	as(mgr);
	ASSERT_EQ(fire(id, "win", NULL), CRM_ESTATE);
	ASSERT_CONTAINS(fx.ctx.message, "'prospecting'");
	ASSERT_STR_EQ(field_of("opportunity", id, "stage"), "prospecting");
	/* a terminal state is left by no transition, not even from: '*' */
	int64_t lost = opportunity(rep, "lost", 100, 0);
	ASSERT_EQ(fire(lost, "lose", NULL), CRM_ESTATE);
}

static void test_missing_required_field_is_refused_and_values_can_supply_it(void)
{
	json_t *v = json_pack("{s:s, s:I}", "name", "Bare", "owner", (json_int_t)rep);
	int64_t id = sys_create("opportunity", v);
	as(0);
	ASSERT_EQ(fire(id, "qualify", NULL), CRM_OK);
	as(rep);
	ASSERT_EQ(fire(id, "propose", NULL), CRM_EVALIDATION);
	ASSERT_STR_EQ(first_error_code(&fx.ctx), "required");
	ASSERT_EQ(json_array_size(fx.ctx.field_errors), 2);
	ASSERT_STR_EQ(field_of("opportunity", id, "stage"), "qualification");
	ASSERT_EQ(fire(id, "propose", json_pack("{s:i, s:s}", "amount", 50, "close_date", "2030-02-01")), CRM_OK);
	ASSERT_STR_EQ(field_of("opportunity", id, "stage"), "proposal");
	/* values may not carry the state itself */
	ASSERT_EQ(fire(id, "lose", json_pack("{s:s}", "stage", "won")), CRM_EVALIDATION);
	ASSERT_STR_EQ(first_error_code(&fx.ctx), "workflow");
}

static void test_failing_guard_is_refused(void)
{
	int64_t id = opportunity(rep, "proposal", 0, 0);
	as(rep);
	ASSERT_EQ(fire(id, "negotiate", NULL), CRM_EVALIDATION);
	ASSERT_STR_EQ(first_error_code(&fx.ctx), "guard");
	/* the implementer's message, never the raw expression */
	ASSERT_CONTAINS(fx.ctx.message, "Give the deal an amount first");
	ASSERT(!strstr(fx.ctx.message, "amount > 0"));
	ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(fx.ctx.field_errors, 0), "message")),
	              "Give the deal an amount first");
	/* without a message: the transition is named, the expression is not */
	int64_t small = opportunity(rep, "negotiation", 10, 0);
	ASSERT_EQ(fire(small, "award", NULL), CRM_EVALIDATION);
	ASSERT_CONTAINS(fx.ctx.message, "award");
	ASSERT(!strstr(fx.ctx.message, "amount > 50"));
	ASSERT_STR_EQ(field_of("opportunity", id, "stage"), "proposal");
	ASSERT_EQ(fire(id, "negotiate", json_pack("{s:i}", "amount", 10)), CRM_OK);
	ASSERT_STR_EQ(field_of("opportunity", id, "stage"), "negotiation");
}

static void test_wrong_role_is_refused_and_the_right_one_fires_with_actions(void)
{
	int64_t id = opportunity(rep, "negotiation", 100, 0);
	as(rep);
	ASSERT_EQ(fire(id, "win", NULL), CRM_EDENIED);
	ASSERT_CONTAINS(fx.ctx.message, "manager");
	int64_t before = count("notification", NULL);
	as(mgr);
	ASSERT_EQ(fire(id, "win", NULL), CRM_OK);
	ASSERT_STR_EQ(field_of("opportunity", id, "stage"), "won");
	ASSERT_STR_EQ(field_of("opportunity", id, "probability"), "100");
	ASSERT_EQ(count("notification", NULL), before + 1);   /* notify_owner */
	/* someone who may not update the record may not fire its transitions */
	int64_t other = opportunity(rep2, "prospecting", 1, 0);
	as(rep);
	ASSERT_EQ(fire(other, "qualify", NULL), CRM_EDENIED);
}

static void test_direct_write_of_the_state_field_is_refused(void)
{
	int64_t id = opportunity(rep, "prospecting", 100, 0);
	as(rep);
	json_t *changes = json_pack("{s:s}", "stage", "won");
	ASSERT_EQ(object_update(&fx.ctx, "opportunity", id, 0, changes, NULL), CRM_EVALIDATION);
	json_decref(changes);
	ASSERT_STR_EQ(first_error_code(&fx.ctx), "workflow");
	ASSERT_STR_EQ(first_error_field(&fx.ctx), "stage");
	const char *message = json_string_value(json_object_get(json_array_get(fx.ctx.field_errors, 0), "message"));
	ASSERT_CONTAINS(message, "qualify");
	ASSERT_CONTAINS(message, "lose");
	/* writing the current value back is no move */
	changes = json_pack("{s:s, s:s}", "stage", "prospecting", "name", "Renamed");
	ASSERT_EQ(object_update(&fx.ctx, "opportunity", id, 0, changes, NULL), CRM_OK);
	json_decref(changes);
	/* a new record starts in the initial state; a client may not pick another */
	changes = json_pack("{s:s, s:s}", "name", "New", "stage", "won");
	ASSERT_EQ(object_create(&fx.ctx, "opportunity", changes, NULL), CRM_EVALIDATION);
	ASSERT_STR_EQ(first_error_code(&fx.ctx), "workflow");
	json_decref(changes);
	json_t *created = NULL;
	changes = json_pack("{s:s}", "name", "New");
	ASSERT_EQ(object_create(&fx.ctx, "opportunity", changes, &created), CRM_OK);
	json_decref(changes);
	ASSERT_STR_EQ(json_string_value(json_object_get(created, "stage")), "prospecting");
	/* the UI's buttons */
	json_t *names = NULL;
	ASSERT_EQ(workflow_available(&fx.ctx, "opportunity", created, &names), CRM_OK);
	ASSERT_EQ(json_array_size(names), 3);
	ASSERT_STR_EQ(json_string_value(json_array_get(names, 0)), "qualify");
	ASSERT_STR_EQ(json_string_value(json_array_get(names, 1)), "qualify_reviewed");
	ASSERT_STR_EQ(json_string_value(json_array_get(names, 2)), "lose");
	json_decref(names);
	json_decref(created);
	/* a direct: true transition covers a plain write (the sales plugin's claim) */
	int64_t lead = sys_create("lead", json_pack("{s:s, s:s, s:I}", "company", "Acme", "last_name", "Li", "owner",
	                                            (json_int_t)rep));
	ASSERT_STR_EQ(field_of("lead", lead, "status"), "new");   /* initial beats the field default */
	changes = json_pack("{s:s}", "status", "working");
	ASSERT_EQ(object_update(&fx.ctx, "lead", lead, 0, changes, NULL), CRM_OK);
	json_decref(changes);
	changes = json_pack("{s:s}", "status", "qualified");
	ASSERT_EQ(object_update(&fx.ctx, "lead", lead, 0, changes, NULL), CRM_EVALIDATION);
	json_decref(changes);
	ASSERT_CONTAINS(json_string_value(json_object_get(json_array_get(fx.ctx.field_errors, 0), "message")), "convert");
}

static void test_action_failure_rolls_everything_back(void)
{
	int64_t id = opportunity(rep, "negotiation", 100, 0);
	int64_t accounts = count("account", NULL);
	as(rep);
	ASSERT_EQ(fire(id, "doom", NULL), CRM_EVALIDATION);
	/* the action and the reason, once */
	ASSERT_STR_EQ(fx.ctx.message, "transition 'doom': creating the contact failed: last_name: is required");
	ASSERT_STR_EQ(field_of("opportunity", id, "stage"), "negotiation");
	ASSERT_STR_EQ(field_of("opportunity", id, "probability"), "10");
	ASSERT_EQ(count("account", NULL), accounts);
}

static void test_system_action_creates_for_the_records_owner(void)
{
	int64_t id = opportunity(rep, "negotiation", 100, 0);
	/* a rep may not create cases; the action runs as the system on the rep's behalf */
	as(rep);
	json_t *v = json_pack("{s:s}", "subject", "by hand");
	ASSERT(object_create_id(&fx.ctx, "case", v, NULL) != CRM_OK);
	json_decref(v);
	int64_t before = count("case", NULL);
	as(rep);
	ASSERT_EQ(fire(id, "award", NULL), CRM_OK);
	ASSERT_EQ(count("case", NULL), before + 1);
	as(0);
	json_t *page = NULL;
	struct object_query q = { .sort = "-id", .limit = 1 };
	ASSERT_EQ(object_query(&fx.ctx, "case", &q, &page), CRM_OK);
	json_t *made = json_array_get(json_object_get(page, "records"), 0);
	ASSERT_EQ(json_integer_value(json_object_get(made, "owner")), rep);       /* the opportunity's owner */
	ASSERT_EQ(json_integer_value(json_object_get(made, "opened_by")), 0);    /* $me of the system: null */
	int64_t case_id = json_integer_value(json_object_get(made, "id"));
	json_decref(page);
	json_t *history = NULL;
	ASSERT_EQ(object_history(&fx.ctx, "case", case_id, &history), CRM_OK);
	json_t *created = json_array_get(history, 0);
	ASSERT_EQ(json_integer_value(json_object_get(json_object_get(created, "changes"), "_on_behalf_of")), rep);
	json_decref(history);
	/* a guarded system action still checks the guard */
	as(rep);
	int64_t small = opportunity(rep, "negotiation", 10, 0);
	ASSERT_EQ(fire(small, "award", NULL), CRM_EVALIDATION);
}

static void test_defaults_from_the_caller_and_the_clock(void)
{
	as(boss);
	json_t *r = NULL;
	/* tier l2: out of the way of the escalation timer's test */
	json_t *v = json_pack("{s:s, s:s}", "subject", "mine", "tier", "l2");
	ASSERT_EQ(object_create(&fx.ctx, "case", v, &r), CRM_OK);
	json_decref(v);
	ASSERT_EQ(json_integer_value(json_object_get(r, "opened_by")), boss);
	ASSERT(json_integer_value(json_object_get(r, "team")) > 0);                  /* the caller's team */
	const char *on = json_string_value(json_object_get(r, "opened_on"));
	const char *at = json_string_value(json_object_get(r, "opened_at"));
	ASSERT(on && strlen(on) == 10 && at && strlen(at) == 20 && strncmp(on, at, 10) == 0);
	json_decref(r);
	/* a value given wins over the default */
	v = json_pack("{s:s, s:s, s:s}", "subject", "dated", "opened_on", "2020-01-02", "tier", "l2");
	ASSERT_EQ(object_create(&fx.ctx, "case", v, &r), CRM_OK);
	json_decref(v);
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "opened_on")), "2020-01-02");
	json_decref(r);
}

/* ---- lead conversion ---- */

static void test_lead_conversion_creates_three_records_atomically(void)
{
	int64_t accounts = count("account", NULL), contacts = count("contact", NULL), deals = count("opportunity", NULL);
	as(rep);
	json_t *values = json_pack("{s:s, s:s, s:s, s:i}", "company", "Globex", "last_name", "Wu", "email", "wu@globex.test",
	                           "estimated_value", 5000);
	int64_t lead = 0;
	ASSERT_EQ(object_create_id(&fx.ctx, "lead", values, &lead), CRM_OK);
	json_decref(values);
	json_t *out = NULL;
	ASSERT_EQ(workflow_fire(&fx.ctx, "lead", lead, "convert", NULL, 0, &out), CRM_OK);
	json_t *record = json_object_get(out, "record");
	ASSERT_STR_EQ(json_string_value(json_object_get(record, "status")), "qualified");
	int64_t account = json_integer_value(json_object_get(record, "converted_account"));
	int64_t contact = json_integer_value(json_object_get(record, "converted_contact"));
	int64_t deal = json_integer_value(json_object_get(record, "converted_opportunity"));
	json_decref(out);
	ASSERT(account > 0 && contact > 0 && deal > 0);
	ASSERT_EQ(count("account", NULL), accounts + 1);
	ASSERT_EQ(count("contact", NULL), contacts + 1);
	ASSERT_EQ(count("opportunity", NULL), deals + 1);
	ASSERT_STR_EQ(field_of("account", account, "name"), "Globex");
	ASSERT_EQ(strtoll(field_of("contact", contact, "account"), NULL, 10), account);
	ASSERT_EQ(strtoll(field_of("opportunity", deal, "account"), NULL, 10), account);
	ASSERT_STR_EQ(field_of("opportunity", deal, "stage"), "prospecting");

	/* the third create fails (an opportunity name is at most 120 characters): nothing is left behind */
	char company[160];
	memset(company, 'x', 150);
	company[150] = '\0';
	values = json_pack("{s:s, s:s}", "company", company, "last_name", "Long");
	ASSERT_EQ(object_create_id(&fx.ctx, "lead", values, &lead), CRM_OK);
	json_decref(values);
	ASSERT_EQ(workflow_fire(&fx.ctx, "lead", lead, "convert", NULL, 0, &out), CRM_EVALIDATION);
	ASSERT_CONTAINS(fx.ctx.message, "opportunity");
	ASSERT_EQ(count("account", NULL), accounts + 1);
	ASSERT_EQ(count("contact", NULL), contacts + 1);
	ASSERT_EQ(count("opportunity", NULL), deals + 1);
	ASSERT_STR_EQ(field_of("lead", lead, "status"), "new");
	ASSERT_STR_EQ(field_of("lead", lead, "converted_account"), "null");
}

/* ---- approvals ---- */

static int64_t pending_for(int64_t approver, int64_t record)
{
	char filter[160];
	snprintf(filter, sizeof(filter), "approver = %lld and record_id = %lld and status = 'pending'", (long long)approver,
	         (long long)record);
	int64_t saved = fx.ctx.user_id;
	as(0);
	struct object_query q = { .filter = filter };
	json_t *page = NULL;
	int64_t id = 0;
	if (object_query(&fx.ctx, "approval", &q, &page) == CRM_OK)
		id = json_integer_value(json_object_get(json_array_get(json_object_get(page, "records"), 0), "id"));
	json_decref(page);
	as(saved);
	return id;
}

static int decide(int64_t user, int64_t approval, bool approve, const char *comment)
{
	as(user);
	json_t *out = NULL;
	int code = approve ? workflow_approve(&fx.ctx, approval, comment, &out)
	                   : workflow_reject(&fx.ctx, approval, comment, &out);
	json_decref(out);
	return code;
}

static void test_approvers_by_requester_team_and_field(void)
{
	int64_t account = sys_create("account", json_pack("{s:s, s:I}", "name", "Initech", "owner", (json_int_t)rep2));
	int64_t id = opportunity(rep, "prospecting", 100, 0);
	as(0);
	json_t *v = json_pack("{s:I}", "account", (json_int_t)account);
	ASSERT_EQ(object_update(&fx.ctx, "opportunity", id, 0, v, NULL), CRM_OK);
	json_decref(v);
	as(rep);
	json_t *out = NULL;
	ASSERT_EQ(workflow_fire(&fx.ctx, "opportunity", id, "qualify_reviewed", NULL, 0, &out), CRM_OK);
	ASSERT_STR_EQ(json_string_value(json_object_get(out, "status")), "pending_approval");
	json_decref(out);
	ASSERT(pending_for(mgr, id) > 0);        /* requester_manager: the rep's manager */
	ASSERT(pending_for(director, id) > 0);   /* role:director in team of owner: the rep's team */
	ASSERT(pending_for(rep2, id) > 0);       /* field:account.owner */
	ASSERT_EQ(pending_for(boss, id), 0);
	ASSERT_EQ(pending_for(rep, id), 0);
}

static void test_two_step_approval_fires_the_transition(void)
{
	int64_t id = opportunity(rep, "proposal", 100, 30);
	as(rep);
	json_t *out = NULL;
	ASSERT_EQ(workflow_fire(&fx.ctx, "opportunity", id, "negotiate", NULL, 0, &out), CRM_OK);
	ASSERT_STR_EQ(json_string_value(json_object_get(out, "status")), "pending_approval");
	json_decref(out);
	ASSERT_STR_EQ(field_of("opportunity", id, "stage"), "proposal");
	/* while it waits, nothing else moves the record, and no buttons show */
	ASSERT_EQ(fire(id, "lose", NULL), CRM_ESTATE);
	ASSERT_CONTAINS(fx.ctx.message, "approval");
	/* the rep's queue shows their request; step 1 went to the owner's manager only */
	as(rep);
	int64_t mine = -1;
	ASSERT_EQ(object_count(&fx.ctx, "approval", "status = 'pending'", &mine), CRM_OK);
	ASSERT_EQ(mine, 1);
	int64_t step1 = pending_for(mgr, id);
	ASSERT(step1 > 0);
	ASSERT_EQ(pending_for(director, id), 0);

	/* neither the requester nor someone else may decide it */
	ASSERT_EQ(decide(rep, step1, true, "me"), CRM_EDENIED);
	ASSERT_EQ(decide(rep2, step1, true, "me too"), CRM_ENOTFOUND);
	ASSERT_EQ(decide(director, step1, true, "not mine"), CRM_ENOTFOUND);   /* not theirs to see */
	ASSERT_EQ(decide(mgr, step1, true, "fine by me"), CRM_OK);
	ASSERT_STR_EQ(field_of("opportunity", id, "stage"), "proposal");
	ASSERT_EQ(decide(mgr, step1, true, "again"), CRM_ESTATE);
	int64_t step2 = pending_for(director, id);
	ASSERT(step2 > 0);
	int64_t notes = count("notification", NULL);
	ASSERT_EQ(decide(director, step2, true, "go"), CRM_OK);
	ASSERT_STR_EQ(field_of("opportunity", id, "stage"), "negotiation");
	ASSERT_STR_EQ(field_of("approval", step2, "status"), "approved");
	ASSERT_STR_EQ(field_of("approval", step1, "comment"), "fine by me");
	ASSERT_EQ(count("notification", NULL), notes + 1);   /* the requester hears of it */

	/* a small discount needs no approval */
	int64_t small = opportunity(rep, "proposal", 100, 5);
	as(rep);
	ASSERT_EQ(fire(small, "negotiate", NULL), CRM_OK);
	ASSERT_STR_EQ(field_of("opportunity", small, "stage"), "negotiation");
}

static void test_rejection_returns_the_record_and_notifies_the_requester(void)
{
	int64_t id = opportunity(rep, "proposal", 100, 40);
	as(rep);
	ASSERT_EQ(fire(id, "negotiate", NULL), CRM_OK);
	int64_t step1 = pending_for(mgr, id);
	ASSERT(step1 > 0);
	ASSERT_EQ(decide(mgr, step1, false, "too generous"), CRM_OK);
	ASSERT_STR_EQ(field_of("opportunity", id, "stage"), "proposal");
	ASSERT_STR_EQ(field_of("approval", step1, "status"), "rejected");
	ASSERT_EQ(pending_for(director, id), 0);
	char filter[160];
	snprintf(filter, sizeof(filter), "user = %lld and title like '%%too generous%%'", (long long)rep);
	ASSERT_EQ(count("notification", filter), 1);
	/* the record moves freely again */
	as(rep);
	ASSERT_EQ(fire(id, "lose", NULL), CRM_OK);
	ASSERT_STR_EQ(field_of("opportunity", id, "stage"), "lost");
}

/* ---- timers ---- */

static json_t *timer_stats(const char *name)
{
	json_t *all = workflow_timer_stats(fx.kernel), *found = NULL;
	size_t i;
	json_t *t;
	json_array_foreach(all, i, t)
		if (strcmp(json_string_value(json_object_get(t, "timer")), name) == 0)
			found = json_incref(t);
	json_decref(all);
	return found;
}

static void test_timer_fires_on_records_past_their_deadline(void)
{
	int64_t fresh = sys_create("case", json_pack("{s:s}", "subject", "Printer on fire"));
	int64_t done = sys_create("case", json_pack("{s:s}", "subject", "Solved"));
	as(0);
	json_t *out = NULL;
	ASSERT_EQ(workflow_fire(&fx.ctx, "case", done, "close", NULL, 0, &out), CRM_OK);
	json_decref(out);
	time_t now = time(NULL);
	workflow_timers_tick(fx.kernel, now);
	ASSERT_STR_EQ(field_of("case", fresh, "tier"), "l1");   /* touched just now */
	json_t *stats = timer_stats("escalate");
	ASSERT_EQ(json_integer_value(json_object_get(stats, "runs")), 1);
	ASSERT_EQ(json_integer_value(json_object_get(stats, "last_touched")), 0);
	json_decref(stats);
	workflow_timers_tick(fx.kernel, now + 60);   /* not due: every 5m */
	stats = timer_stats("escalate");
	ASSERT_EQ(json_integer_value(json_object_get(stats, "runs")), 1);
	json_decref(stats);
	workflow_timers_tick(fx.kernel, now + 5 * 3600);
	ASSERT_STR_EQ(field_of("case", fresh, "tier"), "l2");
	ASSERT_STR_EQ(field_of("case", done, "tier"), "l1");    /* closed cases stay */
	stats = timer_stats("escalate");
	ASSERT_EQ(json_integer_value(json_object_get(stats, "runs")), 2);
	ASSERT_EQ(json_integer_value(json_object_get(stats, "last_touched")), 1);
	ASSERT(json_is_null(json_object_get(stats, "last_error")) || !json_object_get(stats, "last_error"));
	json_decref(stats);
}

/* at: "02:30": not before its slot; a slot missed while the server was down runs once, not once per missed day. */
static void test_timer_at_a_time_of_day_runs_once_per_slot(void)
{
	/* earlier tests ticked the clock ahead: start from where the timer stands */
	time_t now = time(NULL) + 30 * 86400;
	workflow_timers_tick(fx.kernel, now);
	json_t *stats = timer_stats("nightly");
	int64_t runs = json_integer_value(json_object_get(stats, "runs"));
	time_t slot = (time_t)json_integer_value(json_object_get(stats, "next_run"));
	json_decref(stats);
	struct tm tm;
	gmtime_r(&slot, &tm);
	ASSERT(slot > now && slot - now <= 86400);
	ASSERT_EQ(tm.tm_hour, 2);
	ASSERT_EQ(tm.tm_min, 30);
	workflow_timers_tick(fx.kernel, slot - 60);
	stats = timer_stats("nightly");
	ASSERT_EQ(json_integer_value(json_object_get(stats, "runs")), runs);
	json_decref(stats);
	/* the server was down for three days past the slot: one run, then the next slot after that */
	time_t later = slot + 3 * 86400 + 600;
	workflow_timers_tick(fx.kernel, later);
	workflow_timers_tick(fx.kernel, later + 60);
	stats = timer_stats("nightly");
	ASSERT_EQ(json_integer_value(json_object_get(stats, "runs")), runs + 1);
	ASSERT_EQ((time_t)json_integer_value(json_object_get(stats, "next_run")), slot + 4 * 86400);
	json_decref(stats);
}

static void test_failing_timer_is_retried_with_backoff_without_blocking_requests(void)
{
	int64_t poison = sys_create("case", json_pack("{s:s}", "subject", "poison"));
	time_t now = time(NULL) + 86400;
	workflow_timers_tick(fx.kernel, now);
	json_t *stats = timer_stats("broken");
	int64_t runs = json_integer_value(json_object_get(stats, "runs"));
	ASSERT_EQ(json_integer_value(json_object_get(stats, "consecutive_failures")), 1);
	ASSERT_CONTAINS(json_string_value(json_object_get(stats, "last_error")), "tier");
	ASSERT_EQ(json_integer_value(json_object_get(stats, "next_run")), now + 30);
	json_decref(stats);
	ASSERT_STR_EQ(field_of("case", poison, "tier"), "l1");   /* the failed run left it as it was */
	/* requests go on meanwhile */
	as(0);
	json_t *changes = json_pack("{s:s}", "subject", "poison");
	ASSERT_EQ(object_update(&fx.ctx, "case", poison, 0, changes, NULL), CRM_OK);
	json_decref(changes);
	workflow_timers_tick(fx.kernel, now + 10);   /* waits for the retry */
	stats = timer_stats("broken");
	ASSERT_EQ(json_integer_value(json_object_get(stats, "runs")), runs);
	json_decref(stats);
	workflow_timers_tick(fx.kernel, now + 30);
	stats = timer_stats("broken");
	ASSERT_EQ(json_integer_value(json_object_get(stats, "runs")), runs + 1);
	ASSERT_EQ(json_integer_value(json_object_get(stats, "consecutive_failures")), 2);
	ASSERT_EQ(json_integer_value(json_object_get(stats, "next_run")), now + 30 + 60);   /* doubled */
	json_decref(stats);
}

/* ---- a workflow extended from another file; timers firing transitions ---- */

static void test_extension_adds_states_transitions_and_actions_that_work(void)
{
	int64_t id = sys_create("case", json_pack("{s:s, s:I}", "subject", "extended", "owner", (json_int_t)rep));
	as(0);
	json_t *out = NULL;
	/* the base's transition, with the action the extension appended */
	ASSERT_EQ(workflow_fire(&fx.ctx, "case", id, "open", NULL, 0, &out), CRM_OK);
	json_decref(out);
	ASSERT_STR_EQ(field_of("case", id, "tier"), "l2");
	/* the extension's transition into the extension's state */
	ASSERT_EQ(workflow_fire(&fx.ctx, "case", id, "wait", NULL, 0, &out), CRM_OK);
	json_decref(out);
	ASSERT_STR_EQ(field_of("case", id, "status"), "waiting");
	/* its direct transition covers a plain write; the added terminal state is left by nothing */
	as(boss);
	json_t *changes = json_pack("{s:s}", "status", "expired");
	ASSERT_EQ(object_update(&fx.ctx, "case", id, 0, changes, NULL), CRM_OK);
	json_decref(changes);
	ASSERT_STR_EQ(field_of("case", id, "status"), "expired");
	ASSERT_EQ(workflow_fire(&fx.ctx, "case", id, "close", NULL, 0, &out), CRM_ESTATE);
	/* its guard and message */
	int64_t urgent = sys_create("case", json_pack("{s:s, s:s}", "subject", "urgent: down", "status", "open"));
	as(0);
	ASSERT_EQ(workflow_fire(&fx.ctx, "case", urgent, "wait", NULL, 0, &out), CRM_EVALIDATION);
	ASSERT_CONTAINS(fx.ctx.message, "An urgent case cannot wait");
}

static void test_timer_fires_a_named_transition_once_and_skips_a_guarded_record(void)
{
	int64_t parked = sys_create("case", json_pack("{s:s, s:I}", "subject", "park me", "owner", (json_int_t)rep));
	int64_t urgent = sys_create("case", json_pack("{s:s, s:I}", "subject", "park: urgent", "owner", (json_int_t)rep));
	as(0);
	json_t *out = NULL;
	ASSERT_EQ(workflow_fire(&fx.ctx, "case", parked, "open", NULL, 0, &out), CRM_OK);
	json_decref(out);
	ASSERT_EQ(workflow_fire(&fx.ctx, "case", urgent, "open", NULL, 0, &out), CRM_OK);
	json_decref(out);
	int64_t notes = count("notification", NULL);
	time_t base = time(NULL) + 10 * 86400;   /* past the runs of the tests before */

	/* park fires wait on both; the guard holds for one, the other is skipped, and the run says why */
	workflow_timers_tick(fx.kernel, base);
	ASSERT_STR_EQ(field_of("case", parked, "status"), "waiting");
	ASSERT_STR_EQ(field_of("case", urgent, "status"), "open");
	json_t *stats = timer_stats("park");
	ASSERT_EQ(json_integer_value(json_object_get(stats, "last_touched")), 1);
	ASSERT_EQ(json_integer_value(json_object_get(stats, "last_skipped")), 1);
	char expected[200];
	snprintf(expected, sizeof(expected), "case #%lld: transition 'wait' does not fire: An urgent case cannot wait",
	         (long long)urgent);
	ASSERT_STR_EQ(json_string_value(json_object_get(stats, "last_skip")), expected);
	ASSERT_EQ(json_integer_value(json_object_get(stats, "consecutive_failures")), 0);   /* a skip is no failure */
	ASSERT(!json_string_value(json_object_get(stats, "last_error")));
	ASSERT_EQ(json_integer_value(json_object_get(stats, "next_run")), base + 3600);
	json_decref(stats);

	/* give_up fires the direct transition expire, with the value its set gathered, then notifies */
	workflow_timers_tick(fx.kernel, base + 3600);
	ASSERT_STR_EQ(field_of("case", parked, "status"), "expired");
	ASSERT_STR_EQ(field_of("case", parked, "tier"), "l1");
	ASSERT_EQ(count("notification", NULL), notes + 1);
	stats = timer_stats("give_up");
	ASSERT_EQ(json_integer_value(json_object_get(stats, "last_touched")), 1);
	ASSERT_EQ(json_integer_value(json_object_get(stats, "last_skipped")), 0);
	json_decref(stats);
	json_t *history = NULL;
	ASSERT_EQ(object_history(&fx.ctx, "case", parked, &history), CRM_OK);
	json_t *last = json_array_get(history, json_array_size(history) - 1);
	ASSERT_STR_EQ(json_string_value(json_object_get(last, "action")), "transition");
	json_t *changes = json_object_get(last, "changes");
	ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(changes, "_transition"), 1)), "expire");
	ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(changes, "tier"), 1)), "l1");
	json_decref(history);

	/* once, not twice: the next run finds nothing to move */
	workflow_timers_tick(fx.kernel, base + 7200);
	stats = timer_stats("give_up");
	ASSERT(json_integer_value(json_object_get(stats, "runs")) > 1);
	ASSERT_EQ(json_integer_value(json_object_get(stats, "last_touched")), 0);
	json_decref(stats);
	ASSERT_EQ(count("notification", NULL), notes + 1);
	ASSERT_STR_EQ(field_of("case", parked, "status"), "expired");
	ASSERT_STR_EQ(field_of("case", urgent, "status"), "open");
}

/* ---- loader ---- */

static void test_loader_reports_workflow_mistakes_with_positions(void)
{
	static const char *const names[] = { "app.yaml", "wf.yaml" };
	static const char *const texts[] = {
		"app: t\nplugins: []\n",
		"object: deal\n"
		"fields:\n"
		"  stage: { type: enum, values: [a, b, c, d] }\n"
		"---\n"
		"workflow: w\n"
		"object: deal\n"
		"field: stage\n"
		"initial: a\n"
		"terminal: [c]\n"
		"transitions:\n"
		"  - { name: go, from: a, to: zz }\n"
		"  - { name: back, from: c, to: a }\n"
		"  - { name: ship, from: a, to: b, do: [sales.ship], require: [nope] }\n",
	};
	struct meta *meta = NULL;
	struct meta_diags diags;
	ASSERT_EQ(meta_load_texts(2, names, texts, &meta, &diags), CRM_EMETA);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	meta_diags_print(&diags, out);
	fclose(out);
	ASSERT_CONTAINS(text, "wf.yaml:11:");
	ASSERT_CONTAINS(text, "unknown state 'zz'");
	ASSERT_CONTAINS(text, "wf.yaml:12:");
	ASSERT_CONTAINS(text, "leaves 'c', a terminal state");
	ASSERT_CONTAINS(text, "action 'sales.ship' names no enabled plugin");
	ASSERT_CONTAINS(text, "unknown field 'nope'");
	ASSERT_CONTAINS(text, "warning: state 'd' of workflow 'w' cannot be reached");
	free(text);
	meta_diags_free(&diags);
}

static void teardown(void)
{
	fixture_close(&fx);
}

static void test_setup(void) { setup(); }
static void test_teardown(void) { teardown(); }

static const struct test_case tests[] = {
	{ "setup", test_setup },
	{ "allowed_transition_moves_the_state_and_is_audited", test_allowed_transition_moves_the_state_and_is_audited },
	{ "transition_from_the_wrong_state_is_refused", test_transition_from_the_wrong_state_is_refused },
	{ "missing_required_field_is_refused_and_values_can_supply_it",
	  test_missing_required_field_is_refused_and_values_can_supply_it },
	{ "failing_guard_is_refused", test_failing_guard_is_refused },
	{ "system_action_creates_for_the_records_owner", test_system_action_creates_for_the_records_owner },
	{ "defaults_from_the_caller_and_the_clock", test_defaults_from_the_caller_and_the_clock },
	{ "wrong_role_is_refused_and_the_right_one_fires_with_actions",
	  test_wrong_role_is_refused_and_the_right_one_fires_with_actions },
	{ "direct_write_of_the_state_field_is_refused", test_direct_write_of_the_state_field_is_refused },
	{ "action_failure_rolls_everything_back", test_action_failure_rolls_everything_back },
	{ "lead_conversion_creates_three_records_atomically", test_lead_conversion_creates_three_records_atomically },
	{ "two_step_approval_fires_the_transition", test_two_step_approval_fires_the_transition },
	{ "approvers_by_requester_team_and_field", test_approvers_by_requester_team_and_field },
	{ "rejection_returns_the_record_and_notifies_the_requester",
	  test_rejection_returns_the_record_and_notifies_the_requester },
	{ "timer_fires_on_records_past_their_deadline", test_timer_fires_on_records_past_their_deadline },
	{ "failing_timer_is_retried_with_backoff_without_blocking_requests",
	  test_failing_timer_is_retried_with_backoff_without_blocking_requests },
	{ "extension_adds_states_transitions_and_actions_that_work",
	  test_extension_adds_states_transitions_and_actions_that_work },
	{ "timer_fires_a_named_transition_once_and_skips_a_guarded_record",
	  test_timer_fires_a_named_transition_once_and_skips_a_guarded_record },
	{ "loader_reports_workflow_mistakes_with_positions", test_loader_reports_workflow_mistakes_with_positions },
	/* last: it moves the clock days ahead, past every other timer's schedule */
	{ "timer_at_a_time_of_day_runs_once_per_slot", test_timer_at_a_time_of_day_runs_once_per_slot },
	{ "teardown", test_teardown },
};

TEST_MAIN(tests)
