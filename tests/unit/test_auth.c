/*
 * test_auth.c - identity on a real kernel: logins, sessions, API tokens,
 * the login rate limit, password changes, disabled and deleted users, the
 * user commands, and that no secret reaches the database file
 * (RELIABILITY.md rows 11, 15, 16, 24).
 *
 * Argon2id costs ~0.1 s per hash on purpose; the tests use about fifty.
 */
#include <sodium.h>
#include <time.h>
#include "test.h"
#include "fixture.h"
#include "auth.h"
#include "store.h"
#include "store_auth.h"

static const char *const schema =
	"object: team\n"
	"fields:\n"
	"  name: { type: text, required: true }\n"
	"---\n"
	"object: user\n"
	"fields:\n"
	"  login: { type: text, required: true, unique: true, max: 64 }\n"
	"  name: { type: text, required: true }\n"
	"  email: { type: email }\n"
	"  kind: { type: enum, values: [employee, partner, consumer], default: employee }\n"
	"  role: { type: text }\n"
	"  active: { type: bool, default: true }\n"
	"  team: { type: ref, to: team, on_delete: set_null }\n"
	"  manager: { type: ref, to: user, on_delete: set_null }\n"
	"---\n"
	"role: admin\n"
	"admin: true\n"
	"---\n"
	"role: rep\n"
	"objects:\n"
	"  user: { read: all }\n"
	"  team: { read: all }\n"
	"---\n"
	"role: consumer\n"
	"kind: consumer\n"
	"objects:\n"
	"  user: { read: \"id = $me\" }\n";

#define PASSWORD "Correct-Horse-7319"

static struct fixture fx;

/* A fresh kernel with team "Sales" and user alice (role rep, password PASSWORD unless NULL). */
static int64_t setup(const char *password)
{
	if (fixture_open(&fx, schema) != CRM_OK)
		return 0;
	json_t *team = json_pack("{s:s}", "name", "Sales");
	int64_t team_id = 0;
	int code = object_create_id(&fx.ctx, "team", team, &team_id);
	json_decref(team);
	if (code != CRM_OK)
		return 0;
	struct auth_user_spec spec = { .login = "alice", .name = "Alice Example", .email = "alice@example.com",
	                               .role = "rep", .team = "Sales", .password = password };
	int64_t id = 0;
	if (auth_user_add(&fx.ctx, &spec, &id) != CRM_OK) {
		fprintf(stderr, "  setup: %s\n", fx.ctx.message);
		return 0;
	}
	return id;
}

static int login(const char *user, const char *password, const char *ip, struct auth_session *out,
                 int *retry_after)
{
	crm_error_reset(&fx.ctx);
	return auth_login(&fx.ctx, user, password, ip, out, retry_after);
}

static int resolve(const char *token, int64_t *user_id, char *csrf, bool *api)
{
	crm_error_reset(&fx.ctx);
	return auth_resolve(&fx.ctx, token, user_id, csrf, api);
}

/* The actions of the user record's audit trail, space separated. */
static char *history_actions(int64_t user_id)
{
	json_t *history = NULL;
	struct strbuf sb = { 0 };
	strbuf_puts(&sb, "");
	if (object_history(&fx.ctx, "user", user_id, &history) == CRM_OK) {
		size_t i;
		json_t *row;
		json_array_foreach(history, i, row)
			strbuf_printf(&sb, "%s ", json_string_value(json_object_get(row, "action")));
	}
	json_decref(history);
	return strbuf_detach(&sb);
}

static void test_login_gives_a_token_that_resolves_to_the_user(void)
{
	int64_t alice = setup(PASSWORD);
	ASSERT(alice > 0);
	struct auth_session session;
	int retry = -1;
	time_t before = time(NULL);
	ASSERT_EQ(login("alice", PASSWORD, "127.0.0.1", &session, &retry), CRM_OK);
	ASSERT_EQ(session.user_id, alice);
	ASSERT_EQ(strlen(session.token), 43);
	ASSERT_EQ(strlen(session.csrf), 43);
	ASSERT(session.expires_at >= before + AUTH_SESSION_SECONDS);
	ASSERT(session.expires_at <= time(NULL) + AUTH_SESSION_SECONDS);
	int64_t user_id = 0;
	char csrf[64] = "x";
	bool api = true;
	ASSERT_EQ(resolve(session.token, &user_id, csrf, &api), CRM_OK);
	ASSERT_EQ(user_id, alice);
	ASSERT_STR_EQ(csrf, session.csrf);
	ASSERT(!api);
	/* the login is in the audit trail, with the address and no secret */
	char *actions = history_actions(alice);
	ASSERT_CONTAINS(actions, "create password login");
	free(actions);
	json_t *history = NULL;
	ASSERT_EQ(object_history(&fx.ctx, "user", alice, &history), CRM_OK);
	char *text = json_dumps(history, JSON_COMPACT);
	json_decref(history);
	ASSERT_CONTAINS(text, "127.0.0.1");
	ASSERT(!strstr(text, PASSWORD) && !strstr(text, session.token));
	free(text);
	fixture_close(&fx);
}

static void test_wrong_password_and_unknown_login_answer_alike(void)
{
	int64_t alice = setup(PASSWORD);
	ASSERT(alice > 0);
	struct auth_session session;
	int retry = 0;
	long long runs0 = auth_hash_runs();
	int wrong = login("alice", "not-the-password", "10.0.0.1", &session, &retry);
	char wrong_message[512];
	snprintf(wrong_message, sizeof(wrong_message), "%s", fx.ctx.message);
	long long runs1 = auth_hash_runs();
	int unknown = login("mallory", "not-the-password", "10.0.0.2", &session, &retry);
	long long runs2 = auth_hash_runs();
	ASSERT_EQ(wrong, CRM_EDENIED);
	ASSERT_EQ(unknown, CRM_EDENIED);
	ASSERT_STR_EQ(fx.ctx.message, wrong_message);
	ASSERT_STR_EQ(wrong_message, "invalid login or password");
	/* an unknown login runs an Argon2id verification too: the same cost, counted rather than timed */
	ASSERT_EQ(runs1 - runs0, 1);
	ASSERT_EQ(runs2 - runs1, 1);
	/* a user without a password is refused alike */
	struct auth_user_spec spec = { .login = "nopass", .role = "rep" };
	int64_t nopass = 0;
	ASSERT_EQ(auth_user_add(&fx.ctx, &spec, &nopass), CRM_OK);
	ASSERT_EQ(login("nopass", "", NULL, &session, &retry), CRM_EDENIED);
	ASSERT_STR_EQ(fx.ctx.message, wrong_message);
	/* the failure is audited with the login name, never the password */
	json_t *history = NULL;
	ASSERT_EQ(object_history(&fx.ctx, "user", alice, &history), CRM_OK);
	char *text = json_dumps(history, JSON_COMPACT);
	json_decref(history);
	ASSERT_CONTAINS(text, "login_failed");
	ASSERT_CONTAINS(text, "\"login\":[null,\"alice\"]");
	ASSERT(!strstr(text, "not-the-password"));
	free(text);
	fixture_close(&fx);
}

static void test_ten_failures_lock_the_account_even_for_the_right_password(void)
{
	ASSERT(setup(PASSWORD) > 0);
	struct auth_session session;
	int retry = 0;
	for (int i = 0; i < AUTH_MAX_FAILURES; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "10.0.1.%d", i + 1);   /* many addresses: the account limit holds */
		ASSERT_EQ(login("alice", "guess-number-x", ip, &session, &retry), CRM_EDENIED);
	}
	long long runs = auth_hash_runs();
	ASSERT_EQ(login("alice", PASSWORD, "10.0.2.1", &session, &retry), CRM_ELIMIT);
	ASSERT(retry > 0 && retry <= AUTH_WINDOW_SECONDS);
	ASSERT_CONTAINS(fx.ctx.message, "too many failed logins");
	ASSERT_EQ(auth_hash_runs(), runs);   /* refused before any hashing */
	/* an unknown login locks the same way: the limit does not reveal which logins exist */
	for (int i = 0; i < AUTH_MAX_FAILURES; i++)
		ASSERT_EQ(login("ghost", "guess-number-x", NULL, &session, &retry), CRM_EDENIED);
	retry = 0;
	ASSERT_EQ(login("ghost", "guess-number-x", NULL, &session, &retry), CRM_ELIMIT);
	ASSERT(retry > 0);
	fixture_close(&fx);
}

static void test_failures_from_one_address_lock_that_address(void)
{
	ASSERT(setup(PASSWORD) > 0);
	struct auth_session session;
	int retry = 0;
	for (int i = 0; i < AUTH_MAX_FAILURES; i++) {
		char user[32];
		snprintf(user, sizeof(user), "guess%d", i);
		ASSERT_EQ(login(user, "guess-number-x", "192.0.2.7", &session, &retry), CRM_EDENIED);
	}
	ASSERT_EQ(login("alice", PASSWORD, "192.0.2.7", &session, &retry), CRM_ELIMIT);
	ASSERT(retry > 0 && retry <= AUTH_WINDOW_SECONDS);
	/* the account itself is not locked: another address gets in */
	ASSERT_EQ(login("alice", PASSWORD, "192.0.2.8", &session, &retry), CRM_OK);
	fixture_close(&fx);
}

static void test_success_clears_the_account_failures(void)
{
	ASSERT(setup(PASSWORD) > 0);
	struct auth_session session;
	int retry = 0;
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(login("alice", "guess-number-x", NULL, &session, &retry), CRM_EDENIED);
	time_t since = time(NULL) - AUTH_WINDOW_SECONDS, at = 0;
	struct store_conn *conn = store_reader(fx.kernel->store);
	int code = store_auth_failure_at(conn, false, "alice", since, 3, &at, &fx.ctx);
	store_reader_done(conn);
	ASSERT_EQ(code, CRM_OK);
	ASSERT(at > 0);
	ASSERT_EQ(login("alice", PASSWORD, NULL, &session, &retry), CRM_OK);
	conn = store_reader(fx.kernel->store);
	code = store_auth_failure_at(conn, false, "alice", since, 1, &at, &fx.ctx);
	store_reader_done(conn);
	ASSERT_EQ(code, CRM_OK);
	ASSERT_EQ(at, 0);
	fixture_close(&fx);
}

static void test_logout_ends_the_session(void)
{
	ASSERT(setup(PASSWORD) > 0);
	struct auth_session session;
	int retry = 0;
	int64_t user_id = 0;
	bool api = false;
	ASSERT_EQ(login("alice", PASSWORD, NULL, &session, &retry), CRM_OK);
	ASSERT_EQ(auth_logout(&fx.ctx, session.token), CRM_OK);
	ASSERT_EQ(resolve(session.token, &user_id, NULL, &api), CRM_EDENIED);
	/* logging out twice, or with nonsense, is not an error */
	ASSERT_EQ(auth_logout(&fx.ctx, session.token), CRM_OK);
	ASSERT_EQ(auth_logout(&fx.ctx, "nonsense"), CRM_OK);
	ASSERT_EQ(auth_logout(&fx.ctx, NULL), CRM_OK);
	char *actions = history_actions(session.user_id);
	ASSERT_CONTAINS(actions, "login logout");
	free(actions);
	fixture_close(&fx);
}

/*
 * Readers remember resolved tokens per snapshot (store_auth_resolve): a
 * change committed by another process, like the CLI's, must end the
 * session at once all the same.
 */
static void test_remembered_sessions_follow_other_processes(void)
{
	ASSERT(setup(PASSWORD) > 0);
	struct auth_session first, second;
	int retry = 0;
	int64_t user_id = 0;
	bool api = false;
	ASSERT_EQ(login("alice", PASSWORD, NULL, &first, &retry), CRM_OK);
	ASSERT_EQ(login("alice", PASSWORD, NULL, &second, &retry), CRM_OK);
	for (int i = 0; i < 3; i++) /* the second and third time from memory */
		ASSERT_EQ(resolve(first.token, &user_id, NULL, &api), CRM_OK);
	ASSERT_EQ(resolve(second.token, &user_id, NULL, &api), CRM_OK);

	/* another kernel on the same file stands for another process */
	struct kernel_options options = { .db_path = fx.db, .metadata_dir = fx.metadata,
	                                  .plugins_dir = "plugins", .log = stderr };
	struct crm_kernel *other = NULL;
	ASSERT_EQ(kernel_open(&options, &other), CRM_OK);
	struct crm_ctx other_ctx;
	crm_ctx_init(&other_ctx, other, 0, "other");
	ASSERT_EQ(auth_logout(&other_ctx, first.token), CRM_OK);
	ASSERT_EQ(resolve(first.token, &user_id, NULL, &api), CRM_EDENIED);
	ASSERT_EQ(resolve(second.token, &user_id, NULL, &api), CRM_OK);
	ASSERT_EQ(auth_user_disable(&other_ctx, "alice"), CRM_OK);
	ASSERT_EQ(resolve(second.token, &user_id, NULL, &api), CRM_EDENIED);
	crm_ctx_clear(&other_ctx);
	kernel_close(other);
	fixture_close(&fx);
}

static void test_password_change_ends_sessions(void)
{
	ASSERT(setup(PASSWORD) > 0);
	struct auth_session first, second;
	int retry = 0;
	int64_t user_id = 0;
	bool api = false;
	ASSERT_EQ(login("alice", PASSWORD, NULL, &first, &retry), CRM_OK);
	ASSERT_EQ(login("alice", PASSWORD, NULL, &second, &retry), CRM_OK);
	ASSERT_EQ(auth_set_password(&fx.ctx, "alice", "another-secret-42"), CRM_OK);
	ASSERT_EQ(resolve(first.token, &user_id, NULL, &api), CRM_EDENIED);
	ASSERT_EQ(resolve(second.token, &user_id, NULL, &api), CRM_EDENIED);
	ASSERT_EQ(login("alice", PASSWORD, NULL, &first, &retry), CRM_EDENIED);
	ASSERT_EQ(login("alice", "another-secret-42", NULL, &first, &retry), CRM_OK);
	ASSERT_EQ(resolve(first.token, &user_id, NULL, &api), CRM_OK);
	fixture_close(&fx);
}

static void test_disabled_user_is_locked_out_everywhere(void)
{
	int64_t alice = setup(PASSWORD);
	ASSERT(alice > 0);
	struct auth_session session;
	int retry = 0;
	int64_t user_id = 0;
	bool api = false;
	char *token = NULL;
	ASSERT_EQ(login("alice", PASSWORD, NULL, &session, &retry), CRM_OK);
	ASSERT_EQ(auth_token_create(&fx.ctx, "alice", "ci", &token), CRM_OK);
	ASSERT_EQ(resolve(token, &user_id, NULL, &api), CRM_OK);
	ASSERT(api);
	ASSERT_EQ(auth_user_disable(&fx.ctx, "alice"), CRM_OK);
	ASSERT_EQ(resolve(session.token, &user_id, NULL, &api), CRM_EDENIED);
	ASSERT_EQ(resolve(token, &user_id, NULL, &api), CRM_EDENIED);
	ASSERT_EQ(login("alice", PASSWORD, NULL, &session, &retry), CRM_EDENIED);
	ASSERT_STR_EQ(fx.ctx.message, "invalid login or password");
	char *another = NULL;
	ASSERT_EQ(auth_token_create(&fx.ctx, "alice", "ci2", &another), CRM_ESTATE);
	/* enabled again: the password works, the old session and token stay revoked */
	json_t *changes = json_pack("{s:b}", "active", 1);
	ASSERT_EQ(object_update(&fx.ctx, "user", alice, 0, changes, NULL), CRM_OK);
	json_decref(changes);
	ASSERT_EQ(resolve(token, &user_id, NULL, &api), CRM_EDENIED);
	ASSERT_EQ(login("alice", PASSWORD, NULL, &session, &retry), CRM_OK);
	free(token);
	fixture_close(&fx);
}

static void test_expired_session_is_refused(void)
{
	int64_t alice = setup(PASSWORD);
	ASSERT(alice > 0);
	struct auth_session session;
	int retry = 0;
	int64_t user_id = 0;
	bool api = false;
	ASSERT_EQ(login("alice", PASSWORD, NULL, &session, &retry), CRM_OK);
	ASSERT_EQ(resolve(session.token, &user_id, NULL, &api), CRM_OK);
	ASSERT_EQ(object_begin(&fx.ctx), CRM_OK);
	ASSERT_EQ(store_auth_sessions_expire_at(fx.ctx.txn, alice, time(NULL) - 1, &fx.ctx), CRM_OK);
	ASSERT_EQ(object_commit(&fx.ctx), CRM_OK);
	ASSERT_EQ(resolve(session.token, &user_id, NULL, &api), CRM_EDENIED);
	fixture_close(&fx);
}

static void test_every_login_gets_a_new_token(void)
{
	ASSERT(setup(PASSWORD) > 0);
	struct auth_session first, second;
	int retry = 0;
	int64_t user_id = 0;
	bool api = false;
	ASSERT_EQ(login("alice", PASSWORD, NULL, &first, &retry), CRM_OK);
	ASSERT_EQ(login("alice", PASSWORD, NULL, &second, &retry), CRM_OK);
	ASSERT(strcmp(first.token, second.token) != 0);
	ASSERT(strcmp(first.csrf, second.csrf) != 0);
	ASSERT_EQ(resolve(first.token, &user_id, NULL, &api), CRM_OK);
	ASSERT_EQ(resolve(second.token, &user_id, NULL, &api), CRM_OK);
	fixture_close(&fx);
}

static void test_api_tokens_resolve_without_csrf_and_can_be_revoked(void)
{
	int64_t alice = setup(NULL);
	ASSERT(alice > 0);
	char *token = NULL, *other = NULL;
	ASSERT_EQ(auth_token_create(&fx.ctx, "alice", "nightly import", &token), CRM_OK);
	ASSERT_EQ(strlen(token), 43);
	int64_t user_id = 0;
	char csrf[64] = "x";
	bool api = false;
	ASSERT_EQ(resolve(token, &user_id, csrf, &api), CRM_OK);
	ASSERT_EQ(user_id, alice);
	ASSERT(api);
	ASSERT_STR_EQ(csrf, "");
	ASSERT_EQ(auth_token_create(&fx.ctx, "alice", "nightly import", &other), CRM_ECONFLICT);
	ASSERT_EQ(auth_token_create(&fx.ctx, "alice", "", &other), CRM_EINVAL);
	ASSERT_EQ(auth_token_create(&fx.ctx, "nobody", "x", &other), CRM_ENOTFOUND);
	ASSERT(other == NULL);
	/* logout does not end an API token */
	ASSERT_EQ(auth_logout(&fx.ctx, token), CRM_OK);
	ASSERT_EQ(resolve(token, &user_id, NULL, &api), CRM_OK);
	ASSERT_EQ(auth_token_revoke(&fx.ctx, "alice", "nightly import"), CRM_OK);
	ASSERT_EQ(resolve(token, &user_id, NULL, &api), CRM_EDENIED);
	ASSERT_EQ(auth_token_revoke(&fx.ctx, "alice", "nightly import"), CRM_ENOTFOUND);
	char *actions = history_actions(alice);
	ASSERT_CONTAINS(actions, "token_create token_revoke");
	free(actions);
	free(token);
	fixture_close(&fx);
}

/* RELIABILITY row 11: no token, password or user beyond the creator's own rights. */
static void test_only_admins_act_for_other_users(void)
{
	int64_t alice = setup(NULL);
	ASSERT(alice > 0);
	struct auth_user_spec spec = { .login = "bob", .role = "rep" };
	int64_t bob = 0;
	ASSERT_EQ(auth_user_add(&fx.ctx, &spec, &bob), CRM_OK);
	struct crm_ctx as_bob;
	crm_ctx_init(&as_bob, fx.kernel, bob, "t");
	char *token = NULL;
	ASSERT_EQ(auth_token_create(&as_bob, "alice", "steal", &token), CRM_EDENIED);
	char message[512];
	snprintf(message, sizeof(message), "%s", as_bob.message);
	ASSERT_EQ(auth_token_create(&as_bob, "nobody", "steal", &token), CRM_EDENIED);
	ASSERT(strstr(message, "alice") && strstr(as_bob.message, "nobody"));
	ASSERT_EQ(auth_set_password(&as_bob, "alice", "taken-over-123"), CRM_EDENIED);
	ASSERT_EQ(auth_user_disable(&as_bob, "alice"), CRM_EDENIED);
	struct auth_user_spec boss = { .login = "boss", .role = "admin" };
	int64_t boss_id = 0;
	ASSERT_EQ(auth_user_add(&as_bob, &boss, &boss_id), CRM_EDENIED);
	/* their own token is fine */
	ASSERT_EQ(auth_token_create(&as_bob, "bob", "mine", &token), CRM_OK);
	free(token);
	crm_ctx_clear(&as_bob);
	/* an admin may act for others */
	struct auth_user_spec admin = { .login = "root", .role = "admin" };
	int64_t admin_id = 0;
	ASSERT_EQ(auth_user_add(&fx.ctx, &admin, &admin_id), CRM_OK);
	struct crm_ctx as_admin;
	crm_ctx_init(&as_admin, fx.kernel, admin_id, "t");
	token = NULL;
	ASSERT_EQ(auth_token_create(&as_admin, "alice", "support", &token), CRM_OK);
	free(token);
	ASSERT_EQ(auth_user_disable(&as_admin, "bob"), CRM_OK);
	crm_ctx_clear(&as_admin);
	fixture_close(&fx);
}

static void test_deleted_or_purged_users_leave_nothing_behind(void)
{
	int64_t alice = setup(PASSWORD);
	ASSERT(alice > 0);
	char *token = NULL;
	int64_t user_id = 0;
	bool api = false;
	ASSERT_EQ(auth_token_create(&fx.ctx, "alice", "ci", &token), CRM_OK);
	ASSERT_EQ(object_delete(&fx.ctx, "user", alice, 0), CRM_OK);
	ASSERT_EQ(resolve(token, &user_id, NULL, &api), CRM_EDENIED);
	ASSERT_EQ(object_purge(&fx.ctx, "user", alice), CRM_OK);
	struct store_conn *conn = store_reader(fx.kernel->store);
	char *hash = NULL;
	int code = store_auth_credential_get(conn, alice, &hash, &fx.ctx);
	store_reader_done(conn);
	ASSERT_EQ(code, CRM_ENOTFOUND);
	/* a new user that gets the same id inherits neither password nor token */
	struct auth_user_spec spec = { .login = "carol", .role = "rep" };
	int64_t carol = 0;
	ASSERT_EQ(auth_user_add(&fx.ctx, &spec, &carol), CRM_OK);
	ASSERT_EQ(resolve(token, &user_id, NULL, &api), CRM_EDENIED);
	struct auth_session session;
	int retry = 0;
	ASSERT_EQ(login("carol", PASSWORD, NULL, &session, &retry), CRM_EDENIED);
	free(token);
	fixture_close(&fx);
}

static bool file_contains(const char *path, const char *needle)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	struct strbuf sb = { 0 };
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(&sb, buf, n);
	fclose(f);
	bool found = sb.data && memmem(sb.data, sb.len, needle, strlen(needle)) != NULL;
	strbuf_free(&sb);
	return found;
}

static void test_secrets_never_reach_the_database_file(void)
{
	int64_t alice = setup(PASSWORD);
	ASSERT(alice > 0);
	struct auth_session session;
	int retry = 0;
	char *token = NULL;
	ASSERT_EQ(login("alice", PASSWORD, NULL, &session, &retry), CRM_OK);
	ASSERT_EQ(login("alice", "Wrong-Horse-0000", NULL, &session, &retry), CRM_EDENIED);
	ASSERT_EQ(auth_token_create(&fx.ctx, "alice", "ci", &token), CRM_OK);
	char session_hash[65], token_hash[65];
	unsigned char digest[32];
	crypto_generichash(digest, 32, (const unsigned char *)session.token, strlen(session.token), NULL, 0);
	sodium_bin2hex(session_hash, sizeof(session_hash), digest, 32);
	crypto_generichash(digest, 32, (const unsigned char *)token, strlen(token), NULL, 0);
	sodium_bin2hex(token_hash, sizeof(token_hash), digest, 32);
	fixture_close_kernel(&fx);   /* checkpoints: everything is in the main file */
	char wal[400];
	snprintf(wal, sizeof(wal), "%s-wal", fx.db);
	ASSERT(file_contains(fx.db, session_hash));   /* the scan works: the hashes are there */
	ASSERT(file_contains(fx.db, token_hash));
	ASSERT(file_contains(fx.db, "$argon2id$"));
	ASSERT(!file_contains(fx.db, session.token));
	ASSERT(!file_contains(fx.db, token));
	ASSERT(!file_contains(fx.db, PASSWORD));
	ASSERT(!file_contains(fx.db, "Wrong-Horse-0000"));
	ASSERT(!file_contains(wal, session.token) && !file_contains(wal, PASSWORD));
	free(token);
	fixture_close(&fx);
}

static void test_login_upgrades_a_weaker_hash(void)
{
	int64_t alice = setup(NULL);
	ASSERT(alice > 0);
	char weak[crypto_pwhash_STRBYTES];
	ASSERT_EQ(crypto_pwhash_str(weak, PASSWORD, strlen(PASSWORD), crypto_pwhash_OPSLIMIT_MIN,
	                            crypto_pwhash_MEMLIMIT_MIN), 0);
	ASSERT_EQ(object_begin(&fx.ctx), CRM_OK);
	ASSERT_EQ(store_auth_credential_set(fx.ctx.txn, alice, weak, time(NULL), &fx.ctx), CRM_OK);
	ASSERT_EQ(object_commit(&fx.ctx), CRM_OK);
	struct auth_session session;
	int retry = 0;
	ASSERT_EQ(login("alice", PASSWORD, NULL, &session, &retry), CRM_OK);
	struct store_conn *conn = store_reader(fx.kernel->store);
	char *hash = NULL;
	int code = store_auth_credential_get(conn, alice, &hash, &fx.ctx);
	store_reader_done(conn);
	ASSERT_EQ(code, CRM_OK);
	/* Argon2id, 12 MiB, 3 passes (auth.c) */
	ASSERT_CONTAINS(hash, "$argon2id$v=19$m=12288,t=3,p=1$");
	free(hash);
	fixture_close(&fx);
}

static void test_passwords_have_a_length_range(void)
{
	ASSERT(setup(NULL) > 0);
	ASSERT_EQ(auth_set_password(&fx.ctx, "alice", "short"), CRM_EVALIDATION);
	ASSERT_STR_EQ(first_error_field(&fx.ctx), "password");
	crm_error_reset(&fx.ctx);
	/* eight characters, not eight bytes */
	ASSERT_EQ(auth_set_password(&fx.ctx, "alice", "密码密码密码密"), CRM_EVALIDATION);
	crm_error_reset(&fx.ctx);
	char *huge = malloc(1026);
	memset(huge, 'a', 1025);
	huge[1025] = '\0';
	ASSERT_EQ(auth_set_password(&fx.ctx, "alice", huge), CRM_EVALIDATION);
	free(huge);
	crm_error_reset(&fx.ctx);
	ASSERT_EQ(auth_set_password(&fx.ctx, "nobody", "long-enough-1"), CRM_ENOTFOUND);
	fixture_close(&fx);
}

static void test_user_add_checks_role_kind_team_and_manager(void)
{
	ASSERT(setup(NULL) > 0);
	int64_t id = 0;
	struct auth_user_spec bad = { .login = "x", .role = "sales_wizard", .team = "Nowhere", .manager = "ghost" };
	ASSERT_EQ(auth_user_add(&fx.ctx, &bad, &id), CRM_EVALIDATION);
	ASSERT_CONTAINS(fx.ctx.message, "role: no role 'sales_wizard'");
	ASSERT_CONTAINS(fx.ctx.message, "team: no team 'Nowhere'");
	ASSERT_CONTAINS(fx.ctx.message, "manager: no user 'ghost'");
	struct auth_user_spec mismatch = { .login = "x", .role = "consumer", .kind = "employee" };
	ASSERT_EQ(auth_user_add(&fx.ctx, &mismatch, &id), CRM_EVALIDATION);
	ASSERT_CONTAINS(fx.ctx.message, "kind: role 'consumer' is for consumer users");
	struct auth_user_spec none = { .login = "x" };
	ASSERT_EQ(auth_user_add(&fx.ctx, &none, &id), CRM_EVALIDATION);
	struct auth_user_spec taken = { .login = "alice", .role = "rep" };
	ASSERT_EQ(auth_user_add(&fx.ctx, &taken, &id), CRM_EVALIDATION);
	/* the kind defaults to the role's; team by name, manager by login */
	struct auth_user_spec ok = { .login = "cora", .role = "consumer", .email = "cora@example.com",
	                             .team = "Sales", .manager = "alice" };
	ASSERT_EQ(auth_user_add(&fx.ctx, &ok, &id), CRM_OK);
	json_t *record = NULL;
	ASSERT_EQ(object_get(&fx.ctx, "user", id, false, &record), CRM_OK);
	ASSERT_STR_EQ(json_string_value(json_object_get(record, "kind")), "consumer");
	ASSERT_STR_EQ(json_string_value(json_object_get(record, "name")), "cora");
	ASSERT(json_integer_value(json_object_get(record, "manager")) > 0);
	ASSERT(json_integer_value(json_object_get(record, "team")) > 0);
	ASSERT(json_is_true(json_object_get(record, "active")));
	json_decref(record);
	fixture_close(&fx);
}

static void test_user_list_prints_every_user(void)
{
	ASSERT(setup(NULL) > 0);
	ASSERT_EQ(auth_user_disable(&fx.ctx, "alice"), CRM_OK);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	ASSERT_EQ(auth_user_list(&fx.ctx, out), CRM_OK);
	fclose(out);
	ASSERT_CONTAINS(text, "LOGIN");
	ASSERT_CONTAINS(text, "alice");
	ASSERT_CONTAINS(text, "Alice Example");
	ASSERT_CONTAINS(text, "rep");
	ASSERT_CONTAINS(text, "employee");
	ASSERT_CONTAINS(text, " no ");
	ASSERT_CONTAINS(text, "Sales");
	free(text);
	fixture_close(&fx);
}

static void test_malformed_tokens_are_refused(void)
{
	ASSERT(setup(NULL) > 0);
	int64_t user_id = 0;
	bool api = false;
	ASSERT_EQ(resolve(NULL, &user_id, NULL, &api), CRM_EDENIED);
	ASSERT_EQ(resolve("", &user_id, NULL, &api), CRM_EDENIED);
	ASSERT_EQ(resolve("abc", &user_id, NULL, &api), CRM_EDENIED);
	ASSERT_EQ(resolve("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &user_id, NULL, &api), CRM_EDENIED);
	ASSERT_EQ(resolve("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", &user_id, NULL, &api), CRM_EDENIED);
	ASSERT_EQ(resolve("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &user_id, NULL, &api), CRM_EDENIED);
	fixture_close(&fx);
}

static const struct test_case tests[] = {
	{ "login_gives_a_token_that_resolves_to_the_user", test_login_gives_a_token_that_resolves_to_the_user },
	{ "remembered_sessions_follow_other_processes", test_remembered_sessions_follow_other_processes },
	{ "wrong_password_and_unknown_login_answer_alike", test_wrong_password_and_unknown_login_answer_alike },
	{ "ten_failures_lock_the_account_even_for_the_right_password",
	  test_ten_failures_lock_the_account_even_for_the_right_password },
	{ "failures_from_one_address_lock_that_address", test_failures_from_one_address_lock_that_address },
	{ "success_clears_the_account_failures", test_success_clears_the_account_failures },
	{ "logout_ends_the_session", test_logout_ends_the_session },
	{ "password_change_ends_sessions", test_password_change_ends_sessions },
	{ "disabled_user_is_locked_out_everywhere", test_disabled_user_is_locked_out_everywhere },
	{ "expired_session_is_refused", test_expired_session_is_refused },
	{ "every_login_gets_a_new_token", test_every_login_gets_a_new_token },
	{ "api_tokens_resolve_without_csrf_and_can_be_revoked", test_api_tokens_resolve_without_csrf_and_can_be_revoked },
	{ "only_admins_act_for_other_users", test_only_admins_act_for_other_users },
	{ "deleted_or_purged_users_leave_nothing_behind", test_deleted_or_purged_users_leave_nothing_behind },
	{ "secrets_never_reach_the_database_file", test_secrets_never_reach_the_database_file },
	{ "login_upgrades_a_weaker_hash", test_login_upgrades_a_weaker_hash },
	{ "passwords_have_a_length_range", test_passwords_have_a_length_range },
	{ "user_add_checks_role_kind_team_and_manager", test_user_add_checks_role_kind_team_and_manager },
	{ "user_list_prints_every_user", test_user_list_prints_every_user },
	{ "malformed_tokens_are_refused", test_malformed_tokens_are_refused },
};

TEST_MAIN(tests)
