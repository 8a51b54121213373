/*
 * test_access.c - record- and field-level access through the object API:
 * own / team / hierarchy / expression rules, the public pool, hidden and
 * read-only fields, mass assignment, disabled users, fail-closed rules, and
 * the agreement of list predicates with single-record checks.
 */
#include <math.h>
#include "test.h"
#include "fixture.h"
#include "meta.h"

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
	"  email: { type: email }\n"
	"---\n"
	"object: account\n"
	"fields:\n"
	"  name: { type: text, required: true }\n"
	"  secret: { type: text }\n"
	"  email: { type: email }\n"
	"  has_secret: { type: formula, formula: \"secret is not null\", returns: bool }\n"
	"---\n"
	"object: opportunity\n"
	"fields:\n"
	"  name: { type: text, required: true }\n"
	"  account: { type: ref, to: account }\n"
	"  amount: { type: money }\n"
	"  discount: { type: percent }\n"
	"---\n"
	"object: lead\n"
	"fields:\n"
	"  name: { type: text, required: true }\n"
	"  opportunity: { type: ref, to: opportunity }\n"
	"---\n"
	"role: boss\n"
	"admin: true\n"
	"---\n"
	"role: rep\n"
	"objects:\n"
	"  account: { read: all, create: true, update: own }\n"
	"  opportunity: { read: team, create: true, update: own, delete: none }\n"
	"  lead: { read: \"owner = $me or owner = null\", update: own, create: true }\n"
	"  user: { read: all }\n"
	"  team: { read: all }\n"
	"fields:\n"
	"  opportunity.discount: read\n"
	"  account.secret: hidden\n"
	"---\n"
	"role: manager\n"
	"objects:\n"
	"  opportunity: { read: team, update: team, create: true, delete: team, change_owner: true }\n"
	"  account: { read: all }\n"
	"  user: { read: all }\n"
	"---\n"
	"role: consumer\n"
	"kind: consumer\n"
	"objects:\n"
	"  account: { read: \"email = $user.email\", update: \"email = $user.email\" }\n"
	"  opportunity: { read: \"account.email = $user.email\" }\n"
	"  lead: { read: all, create: true }\n"
	"---\n"
	"role: broken\n"
	"objects:\n"
	"  account: { read: \"email = $user.email\" }\n";

static struct fixture fx;
/* users */
static int64_t boss, mgr, rep_a, rep_b, rep_c, outsider, disabled, consumer, broken;
static int64_t team1, team2;

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

/* Acts as user from now on (a fresh context: the user is loaded again). */
static void as(int64_t user)
{
	crm_ctx_clear(&fx.ctx);
	crm_ctx_init(&fx.ctx, fx.kernel, user, "test");
}

static int64_t owned(const char *object, const char *name, int64_t owner)
{
	json_t *v = json_pack("{s:s}", "name", name);
	if (owner)
		json_object_set_new(v, "owner", json_integer(owner));
	return sys_create(object, v);
}

static void setup(void)
{
	if (fixture_open(&fx, schema) != CRM_OK) {
		fprintf(stderr, "fixture failed\n");
		exit(1);
	}
	team1 = sys_create("team", json_pack("{s:s}", "name", "East"));
	team2 = sys_create("team", json_pack("{s:s}", "name", "West"));
	boss = sys_create("user", json_pack("{s:s, s:s}", "login", "boss", "role", "boss"));
	mgr = sys_create("user", json_pack("{s:s, s:s, s:I}", "login", "mgr", "role", "manager", "team", (json_int_t)team2));
	/* rep_a reports to mgr; rep_b reports to rep_a (two levels down); rep_c is alone in team1 */
	rep_a = sys_create("user", json_pack("{s:s, s:s, s:I}", "login", "a", "role", "rep", "manager", (json_int_t)mgr));
	rep_b = sys_create("user", json_pack("{s:s, s:s, s:I}", "login", "b", "role", "rep", "manager", (json_int_t)rep_a));
	rep_c = sys_create("user", json_pack("{s:s, s:s, s:I}", "login", "c", "role", "rep", "team", (json_int_t)team1));
	outsider = sys_create("user", json_pack("{s:s, s:s, s:I}", "login", "o", "role", "rep", "team", (json_int_t)team1));
	disabled = sys_create("user", json_pack("{s:s, s:s, s:b}", "login", "d", "role", "boss", "active", 0));
	consumer = sys_create("user", json_pack("{s:s, s:s, s:s}", "login", "e", "role", "consumer", "email", "e@x.com"));
	broken = sys_create("user", json_pack("{s:s, s:s}", "login", "f", "role", "broken"));
	crm_ctx_clear(&fx.ctx);
	crm_ctx_init(&fx.ctx, fx.kernel, 0, "test");
}

static bool can_get(const char *object, int64_t id)
{
	json_t *r = NULL;
	int code = object_get(&fx.ctx, object, id, false, &r);
	json_decref(r);
	return code == CRM_OK;
}

static bool listed(const char *object, int64_t id)
{
	char filter[64];
	snprintf(filter, sizeof(filter), "id = %lld", (long long)id);
	struct object_query q = { .filter = filter };
	json_t *page = NULL;
	if (object_query(&fx.ctx, object, &q, &page) != CRM_OK)
		return false;
	bool found = json_array_size(json_object_get(page, "records")) == 1;
	json_decref(page);
	return found;
}

static void test_team_and_hierarchy_rules(void)
{
	setup();
	int64_t opp_a = owned("opportunity", "A's deal", rep_a);
	int64_t opp_b = owned("opportunity", "B's deal", rep_b);
	int64_t opp_c = owned("opportunity", "C's deal", rep_c);
	int64_t opp_o = owned("opportunity", "O's deal", outsider);
	/* the manager sees his reports' deals all the way down, not team1's */
	as(mgr);
	ASSERT(can_get("opportunity", opp_a));
	ASSERT(can_get("opportunity", opp_b));
	ASSERT(!can_get("opportunity", opp_c));
	ASSERT_EQ(fx.ctx.status, CRM_ENOTFOUND);
	/* rep_a sees his own and rep_b's (his report), not his manager's team */
	as(rep_a);
	ASSERT(can_get("opportunity", opp_a));
	ASSERT(can_get("opportunity", opp_b));
	ASSERT(!can_get("opportunity", opp_c));
	/* rep_c and outsider share team1 */
	as(rep_c);
	ASSERT(can_get("opportunity", opp_o));
	ASSERT(!can_get("opportunity", opp_a));
	int64_t count = -1;
	ASSERT_EQ(object_count(&fx.ctx, "opportunity", NULL, &count), CRM_OK);
	ASSERT_EQ(count, 2);
	fixture_close(&fx);
}

static void test_list_and_single_record_checks_agree(void)
{
	setup();
	int64_t users[] = { boss, mgr, rep_a, rep_b, rep_c, outsider, disabled, consumer, broken };
	int64_t records[8];
	int64_t owners[] = { rep_a, rep_b, rep_c, outsider, mgr, boss, 0, consumer };
	for (int i = 0; i < 8; i++)
		records[i] = owned(i % 2 ? "lead" : "opportunity", "r", owners[i]);
	for (size_t u = 0; u < sizeof(users) / sizeof(users[0]); u++) {
		as(users[u]);
		for (int i = 0; i < 8; i++) {
			const char *object = i % 2 ? "lead" : "opportunity";
			bool got = can_get(object, records[i]);
			bool in_list = listed(object, records[i]);
			if (got != in_list) {
				fprintf(stderr, "  user %lld, %s %lld: get %d, list %d\n", (long long)users[u], object,
				        (long long)records[i], got, in_list);
				ASSERT(0);
			}
		}
	}
	fixture_close(&fx);
}

static void test_public_pool_expression(void)
{
	setup();
	int64_t pool = owned("lead", "unowned", 0);
	int64_t mine = owned("lead", "mine", rep_c);
	int64_t theirs = owned("lead", "theirs", outsider);
	as(rep_c);
	ASSERT(can_get("lead", pool));
	ASSERT(can_get("lead", mine));
	ASSERT(!can_get("lead", theirs));
	/* claiming from the pool is an update of a record the rep cannot update (owner null != me) */
	json_t *claim = json_pack("{s:I}", "owner", (json_int_t)rep_c);
	ASSERT(object_update(&fx.ctx, "lead", pool, 0, claim, NULL) != CRM_OK);
	json_decref(claim);
	fixture_close(&fx);
}

static void test_hidden_and_read_only_fields(void)
{
	setup();
	int64_t acct = sys_create("account", json_pack("{s:s, s:s, s:I}", "name", "Acme", "secret", "s3cr3t",
	                                                "owner", (json_int_t)rep_c));
	int64_t opp = sys_create("opportunity", json_pack("{s:s, s:f, s:I}", "name", "D", "discount", 5.0,
	                                                  "owner", (json_int_t)rep_c));
	as(rep_c);
	json_t *r = NULL;
	ASSERT_EQ(object_get(&fx.ctx, "account", acct, false, &r), CRM_OK);
	ASSERT(!json_object_get(r, "secret"));
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "name")), "Acme");
	json_decref(r);
	/* filters, sorts, fields and groups on the hidden field are refused */
	json_t *page = NULL;
	struct object_query q1 = { .filter = "secret = 's3cr3t'" };
	ASSERT_EQ(object_query(&fx.ctx, "account", &q1, &page), CRM_EINVAL);
	struct object_query q2 = { .sort = "secret" };
	ASSERT_EQ(object_query(&fx.ctx, "account", &q2, &page), CRM_EINVAL);
	struct object_query q3 = { .fields = "name,secret" };
	ASSERT_EQ(object_query(&fx.ctx, "account", &q3, &page), CRM_EINVAL);
	struct object_query q4 = { .filter = "account.secret = 's3cr3t'" };
	ASSERT_EQ(object_query(&fx.ctx, "opportunity", &q4, &page), CRM_EINVAL);
	ASSERT_EQ(object_aggregate(&fx.ctx, "account", "secret", "count", NULL, &page), CRM_EINVAL);
	/*
	 * a formula over the hidden field is the implementer's: it lists, and the access
	 * backstop (the SQLite authorizer) lets its vouched column through
	 */
	struct object_query formula = { .fields = "name,has_secret", .filter = "has_secret = true" };
	ASSERT_EQ(object_query(&fx.ctx, "account", &formula, &page), CRM_OK);
	ASSERT_EQ(json_array_size(json_object_get(page, "records")), 1);
	ASSERT(json_is_true(json_object_get(json_array_get(json_object_get(page, "records"), 0), "has_secret")));
	json_decref(page);
	/* the default list has no hidden column */
	struct object_query all = { 0 };
	ASSERT_EQ(object_query(&fx.ctx, "account", &all, &page), CRM_OK);
	ASSERT(!json_object_get(json_array_get(json_object_get(page, "records"), 0), "secret"));
	json_decref(page);
	/* writing the hidden field: as if unknown; the read-only one: refused */
	json_t *v = json_pack("{s:s}", "secret", "x");
	ASSERT_EQ(object_update(&fx.ctx, "account", acct, 0, v, NULL), CRM_EVALIDATION);
	ASSERT_STR_EQ(first_error_code(&fx.ctx), "unknown");
	json_decref(v);
	v = json_pack("{s:f}", "discount", 50.0);
	ASSERT_EQ(object_update(&fx.ctx, "opportunity", opp, 0, v, NULL), CRM_EVALIDATION);
	ASSERT_STR_EQ(first_error_code(&fx.ctx), "readonly");
	json_decref(v);
	/* history leaves the hidden field out */
	as(0);
	v = json_pack("{s:s, s:s}", "secret", "new secret", "name", "Acme 2");
	ASSERT_EQ(object_update(&fx.ctx, "account", acct, 0, v, NULL), CRM_OK);
	json_decref(v);
	as(rep_c);
	json_t *history = NULL;
	ASSERT_EQ(object_history(&fx.ctx, "account", acct, &history), CRM_OK);
	ASSERT_EQ(json_array_size(history), 2);
	json_t *changes = json_object_get(json_array_get(history, 1), "changes");
	ASSERT(json_object_get(changes, "name"));
	ASSERT(!json_object_get(changes, "secret"));
	json_decref(history);
	fixture_close(&fx);
}

static void test_mass_assignment_is_refused(void)
{
	setup();
	int64_t opp = owned("opportunity", "D", rep_c);
	as(rep_c);
	static const char *const fields[] = { "owner", "version", "created_by", "created_at", "id", "deleted_at" };
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		json_t *v = json_pack("{s:I}", fields[i], (json_int_t)outsider);
		int code = object_update(&fx.ctx, "opportunity", opp, 0, v, NULL);
		json_decref(v);
		if (code != CRM_EVALIDATION) {
			fprintf(stderr, "  field %s: code %d\n", fields[i], code);
			ASSERT(0);
		}
	}
	json_t *v = json_pack("{s:s, s:I}", "name", "mine", "owner", (json_int_t)outsider);
	ASSERT_EQ(object_create(&fx.ctx, "opportunity", v, NULL), CRM_EVALIDATION);
	json_decref(v);
	/* created records belong to their creator */
	v = json_pack("{s:s}", "name", "mine");
	json_t *r = NULL;
	ASSERT_EQ(object_create(&fx.ctx, "opportunity", v, &r), CRM_OK);
	ASSERT_EQ(json_integer_value(json_object_get(r, "owner")), rep_c);
	ASSERT_EQ(json_integer_value(json_object_get(r, "created_by")), rep_c);
	json_decref(r);
	json_decref(v);
	/* the manager may reassign */
	as(mgr);
	int64_t opp_a = owned("opportunity", "A", rep_a);
	v = json_pack("{s:I}", "owner", (json_int_t)rep_b);
	ASSERT_EQ(object_update(&fx.ctx, "opportunity", opp_a, 0, v, NULL), CRM_OK);
	json_decref(v);
	r = NULL;
	ASSERT_EQ(object_get(&fx.ctx, "opportunity", opp, false, &r), CRM_ENOTFOUND);
	fixture_close(&fx);
}

static void test_operation_levels(void)
{
	setup();
	int64_t mine = owned("opportunity", "mine", rep_a);
	int64_t reports = owned("opportunity", "report's", rep_b);
	as(rep_a);
	json_t *v = json_pack("{s:s}", "name", "renamed");
	ASSERT_EQ(object_update(&fx.ctx, "opportunity", mine, 0, v, NULL), CRM_OK);
	/* readable (team) but not updatable (own): 403 with a reason */
	ASSERT_EQ(object_update(&fx.ctx, "opportunity", reports, 0, v, NULL), CRM_EDENIED);
	json_decref(v);
	/* delete: none */
	ASSERT_EQ(object_delete(&fx.ctx, "opportunity", mine, 0), CRM_EDENIED);
	/* objects the role does not list: as if they did not exist (the manager's role lists no team) */
	as(mgr);
	v = json_pack("{s:s}", "name", "x");
	ASSERT_EQ(object_create(&fx.ctx, "team", v, NULL), CRM_ENOTFOUND);
	json_decref(v);
	json_t *page = NULL;
	struct object_query q = { 0 };
	ASSERT_EQ(object_query(&fx.ctx, "team", &q, &page), CRM_ENOTFOUND);
	fixture_close(&fx);
}

static void test_disabled_broken_and_consumer_users(void)
{
	setup();
	int64_t acct = sys_create("account", json_pack("{s:s, s:s}", "name", "Mine", "email", "e@x.com"));
	int64_t other = sys_create("account", json_pack("{s:s, s:s}", "name", "Other", "email", "z@x.com"));
	/* a disabled admin has no rights at all */
	as(disabled);
	ASSERT(!can_get("account", acct));
	json_t *page = NULL;
	struct object_query q = { 0 };
	ASSERT_EQ(object_query(&fx.ctx, "account", &q, &page), CRM_ENOTFOUND);
	/* a rule on a $user field the user lacks denies (fail closed) */
	as(broken);
	ASSERT(!can_get("account", acct));
	ASSERT_EQ(object_query(&fx.ctx, "account", &q, &page), CRM_OK);
	ASSERT_EQ(json_array_size(json_object_get(page, "records")), 0);
	json_decref(page);
	/* a consumer sees the record tied to their email */
	as(consumer);
	ASSERT(can_get("account", acct));
	ASSERT(!can_get("account", other));
	/* a user id that does not exist */
	as(999999);
	ASSERT(!can_get("account", acct));
	fixture_close(&fx);
}

static void test_manual_sharing(void)
{
	setup();
	int64_t opp = owned("opportunity", "C's deal", rep_c);
	as(rep_a);
	ASSERT(!can_get("opportunity", opp));
	/* only the owner shares; a stranger cannot (and does not learn the record exists) */
	json_t *share = json_pack("{s:I, s:s}", "user", (json_int_t)rep_a, "access", "read");
	json_t *out = NULL;
	ASSERT_EQ(object_share(&fx.ctx, "opportunity", opp, share, &out), CRM_ENOTFOUND);
	as(rep_c);
	ASSERT_EQ(object_share(&fx.ctx, "opportunity", opp, share, &out), CRM_OK);
	int64_t share_id = json_integer_value(json_object_get(out, "id"));
	json_decref(out);
	json_decref(share);
	as(rep_a);
	ASSERT(can_get("opportunity", opp));
	ASSERT(listed("opportunity", opp));
	json_t *v = json_pack("{s:s}", "name", "taken over");
	ASSERT_EQ(object_update(&fx.ctx, "opportunity", opp, 0, v, NULL), CRM_EDENIED);
	/* an edit share: the rep's update rule is `own`, shares widen it */
	as(rep_c);
	share = json_pack("{s:I, s:s}", "user", (json_int_t)rep_a, "access", "edit");
	ASSERT_EQ(object_share(&fx.ctx, "opportunity", opp, share, NULL), CRM_OK);
	json_decref(share);
	as(rep_a);
	ASSERT_EQ(object_update(&fx.ctx, "opportunity", opp, 0, v, NULL), CRM_OK);
	json_decref(v);
	/* revoking */
	as(rep_c);
	json_t *list = NULL;
	ASSERT_EQ(object_shares(&fx.ctx, "opportunity", opp, &list), CRM_OK);
	ASSERT_EQ(json_array_size(list), 2);
	json_decref(list);
	ASSERT_EQ(object_unshare(&fx.ctx, "opportunity", opp, share_id), CRM_OK);
	ASSERT_EQ(object_unshare(&fx.ctx, "opportunity", opp, share_id), CRM_ENOTFOUND);
	/* bad shares */
	share = json_pack("{s:I, s:I, s:s}", "user", (json_int_t)rep_a, "team", (json_int_t)team1, "access", "read");
	ASSERT_EQ(object_share(&fx.ctx, "opportunity", opp, share, NULL), CRM_EINVAL);
	json_decref(share);
	share = json_pack("{s:I, s:s}", "user", (json_int_t)rep_a, "access", "own");
	ASSERT_EQ(object_share(&fx.ctx, "opportunity", opp, share, NULL), CRM_EINVAL);
	json_decref(share);
	share = json_pack("{s:I, s:s}", "user", (json_int_t)424242, "access", "read");
	ASSERT_EQ(object_share(&fx.ctx, "opportunity", opp, share, NULL), CRM_EINVAL);
	json_decref(share);
	/* a team share */
	int64_t opp2 = owned("opportunity", "C's second", rep_c);
	share = json_pack("{s:I, s:s}", "team", (json_int_t)team2, "access", "read");
	ASSERT_EQ(object_share(&fx.ctx, "opportunity", opp2, share, NULL), CRM_OK);
	json_decref(share);
	as(mgr);
	ASSERT(can_get("opportunity", opp2));
	fixture_close(&fx);
}

/* The value of path in the only record a query with filter finds, as the caller ("" for null). */
static const char *path_value(const char *object, const char *filter, const char *path, char *out, size_t size)
{
	char fields[96];
	snprintf(fields, sizeof(fields), "id,%s", path);
	struct object_query q = { .filter = filter, .fields = fields };
	json_t *page = NULL;
	snprintf(out, size, "%s", "?");
	if (object_query(&fx.ctx, object, &q, &page) == CRM_OK && json_array_size(json_object_get(page, "records")) == 1) {
		json_t *v = json_object_get(json_array_get(json_object_get(page, "records"), 0), path);
		snprintf(out, size, "%s", json_is_string(v) ? json_string_value(v) : "");
	}
	json_decref(page);
	return out;
}

static void test_paths_and_refs_reach_only_readable_records(void)
{
	setup();
	int64_t opp_a = owned("opportunity", "A's deal", rep_a);
	int64_t opp_c = owned("opportunity", "C's deal", rep_c);
	int64_t lead_to_a = sys_create("lead", json_pack("{s:s, s:I}", "name", "to A", "opportunity", (json_int_t)opp_a));
	int64_t lead_to_c = sys_create("lead", json_pack("{s:s, s:I}", "name", "to C", "opportunity", (json_int_t)opp_c));
	char value[64], filter[64];
	/* rep_c reads the public pool's leads and team1's deals: A's deal is another team's */
	as(rep_c);
	snprintf(filter, sizeof(filter), "id = %lld", (long long)lead_to_a);
	ASSERT_STR_EQ(path_value("lead", filter, "opportunity.name", value, sizeof(value)), "");
	snprintf(filter, sizeof(filter), "id = %lld", (long long)lead_to_c);
	ASSERT_STR_EQ(path_value("lead", filter, "opportunity.name", value, sizeof(value)), "C's deal");
	int64_t count = -1;
	ASSERT_EQ(object_count(&fx.ctx, "lead", "opportunity.name is not null", &count), CRM_OK);
	ASSERT_EQ(count, 1);
	ASSERT_EQ(object_count(&fx.ctx, "lead", "opportunity.name = 'A''s deal'", &count), CRM_OK);
	ASSERT_EQ(count, 0);
	/* setting a ref to A's deal answers as an id that does not exist, and the other fields' errors stay */
	json_t *v = json_pack("{s:s, s:I}", "name", "x", "opportunity", (json_int_t)opp_a);
	ASSERT_EQ(object_create(&fx.ctx, "lead", v, NULL), CRM_EVALIDATION);
	ASSERT_STR_EQ(first_error_code(&fx.ctx), "ref");
	char hidden[256], missing[256];
	snprintf(hidden, sizeof(hidden), "%s", json_string_value(json_object_get(json_array_get(fx.ctx.field_errors, 0),
	                                                                          "message")));
	json_decref(v);
	v = json_pack("{s:s, s:I}", "name", "x", "opportunity", (json_int_t)999999);
	ASSERT_EQ(object_create(&fx.ctx, "lead", v, NULL), CRM_EVALIDATION);
	snprintf(missing, sizeof(missing), "%s", json_string_value(json_object_get(json_array_get(fx.ctx.field_errors, 0),
	                                                                           "message")));
	json_decref(v);
	snprintf(value, sizeof(value), "no opportunity with id %lld", (long long)opp_a);
	ASSERT_STR_EQ(hidden, value);
	ASSERT_STR_EQ(missing, "no opportunity with id 999999");
	v = json_pack("{s:s, s:I}", "name", "x", "opportunity", (json_int_t)opp_c);
	ASSERT_EQ(object_create(&fx.ctx, "lead", v, NULL), CRM_OK);
	json_decref(v);
	/* a rule with a path of its own (the consumer's deals are those of their account) */
	int64_t acct = sys_create("account", json_pack("{s:s, s:s}", "name", "Mine", "email", "e@x.com"));
	int64_t other = sys_create("account", json_pack("{s:s, s:s}", "name", "Other", "email", "z@x.com"));
	int64_t opp_mine = sys_create("opportunity", json_pack("{s:s, s:I}", "name", "mine", "account", (json_int_t)acct));
	int64_t opp_other = sys_create("opportunity", json_pack("{s:s, s:I}", "name", "theirs", "account",
	                                                        (json_int_t)other));
	int64_t lead_mine = sys_create("lead", json_pack("{s:s, s:I}", "name", "m", "opportunity", (json_int_t)opp_mine));
	int64_t lead_other = sys_create("lead", json_pack("{s:s, s:I}", "name", "o", "opportunity",
	                                                  (json_int_t)opp_other));
	as(consumer);
	snprintf(filter, sizeof(filter), "id = %lld", (long long)lead_mine);
	ASSERT_STR_EQ(path_value("lead", filter, "opportunity.name", value, sizeof(value)), "mine");
	ASSERT_STR_EQ(path_value("lead", filter, "opportunity.account.name", value, sizeof(value)), "Mine");
	snprintf(filter, sizeof(filter), "id = %lld", (long long)lead_other);
	ASSERT_STR_EQ(path_value("lead", filter, "opportunity.name", value, sizeof(value)), "");
	ASSERT_STR_EQ(path_value("lead", filter, "opportunity.account.name", value, sizeof(value)), "");
	ASSERT_EQ(object_count(&fx.ctx, "lead", "opportunity.account.email is not null", &count), CRM_OK);
	ASSERT_EQ(count, 1);
	fixture_close(&fx);
}

static void test_user_changes_take_effect_at_once(void)
{
	setup();
	int64_t opp_o = owned("opportunity", "O's deal", outsider);
	as(rep_c);
	ASSERT(can_get("opportunity", opp_o));  /* team mates: both in team1 */
	/* the outsider moves to team2: the cached team scope must not outlive the change */
	as(0);
	json_t *v = json_pack("{s:I}", "team", (json_int_t)team2);
	ASSERT_EQ(object_update(&fx.ctx, "user", outsider, 0, v, NULL), CRM_OK);
	json_decref(v);
	as(rep_c);
	ASSERT(!can_get("opportunity", opp_o));
	/* a role change too */
	as(0);
	v = json_pack("{s:s}", "role", "boss");
	ASSERT_EQ(object_update(&fx.ctx, "user", rep_c, 0, v, NULL), CRM_OK);
	json_decref(v);
	as(rep_c);
	ASSERT(can_get("opportunity", opp_o));
	fixture_close(&fx);
}

static const struct test_case tests[] = {
	{ "user_changes_take_effect_at_once", test_user_changes_take_effect_at_once },
	{ "manual_sharing", test_manual_sharing },
	{ "paths_and_refs_reach_only_readable_records", test_paths_and_refs_reach_only_readable_records },
	{ "team_and_hierarchy_rules", test_team_and_hierarchy_rules },
	{ "list_and_single_record_checks_agree", test_list_and_single_record_checks_agree },
	{ "public_pool_expression", test_public_pool_expression },
	{ "hidden_and_read_only_fields", test_hidden_and_read_only_fields },
	{ "mass_assignment_is_refused", test_mass_assignment_is_refused },
	{ "operation_levels", test_operation_levels },
	{ "disabled_broken_and_consumer_users", test_disabled_broken_and_consumer_users },
};

TEST_MAIN(tests)
