/*
 * auth.c - identity (see auth.h): Argon2id passwords, sessions, API tokens,
 * login rate limiting, and the user commands of the CLI. The SQL is in
 * store_auth.c; user records are created and changed only through the
 * object API.
 *
 * Passwords: Argon2id (crypto_pwhash_str) with 12 MiB and 3 passes, one of
 * the configurations OWASP's password storage guidance lists as equivalent
 * (19 MiB x 2, 12 MiB x 3, ...; about 35 ms per hash here): the cost every
 * login and password change pays, and the cost of each guess to someone
 * holding the hashes. libsodium's INTERACTIVE limit (64 MiB) alone was more
 * than the server's whole memory budget (64 MiB with a million records), so
 * memory is traded for passes, and one hash runs at a time in a process
 * (hash_lock): a flood of logins queues instead of multiplying memory. A
 * hash made with other parameters is replaced at the next successful login.
 *
 * A login never tells an unknown login from a wrong password: both run one
 * Argon2id verification (a dummy hash for an unknown login), the same
 * writes, and get the same code and message. Failures are counted per login
 * and per address; the check comes before the verification, so a correct
 * password is refused too while the limit holds, and each attempt is
 * recorded as a failure before its password is checked (then cleared on
 * success), so concurrent guesses cannot slip past the limit. Refusals for
 * the limit write nothing.
 *
 * Tokens (sessions and API tokens) are 32 random bytes in base64url (43
 * characters); the database holds only their BLAKE2b-256, looked up through
 * a unique index (the token is a high-entropy secret, so a plain hash is
 * enough and no comparison of secrets happens in C).
 *
 * The Argon2id work is done outside the writer lock whenever the caller has
 * no transaction open, so a login does not stall other writers.
 */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "access.h"
#include "auth.h"
#include "context.h"
#include "meta_model.h"
#include "object.h"
#include "outbox.h"
#include "store.h"
#include "store_auth.h"

#define AUTH_PASSWORD_MIN 8        /* characters */
#define AUTH_PASSWORD_MAX 1024     /* bytes */
#define AUTH_LOGIN_MAX 256         /* bytes; longer logins never match and are counted truncated */
#define AUTH_IP_MAX 64
#define AUTH_TOKEN_NAME_MAX 64
#define AUTH_TOKEN_BYTES 32
#define AUTH_TOKEN_CHARS 43        /* base64url of 32 bytes, no padding */

static const char invalid_login[] = "invalid login or password";

/*
 * The hash an unknown login is verified against, so that it costs what a
 * known one costs. Made once with PWHASH_OPS/PWHASH_MEM from random bytes
 * nobody kept; if those change, dummy_verify hashes instead, which costs the
 * same.
 */
#define PWHASH_OPS 3
#define PWHASH_MEM (12u * 1024 * 1024)
static const char dummy_hash[crypto_pwhash_STRBYTES] =
	"$argon2id$v=19$m=12288,t=3,p=1$lKxIeH+/jAwrr2hrz4xPoA$szVdxI2fr7SoqawYGSdRrpYHmRJ4wenfRxPNFxeDK+Y";

/* One Argon2id run at a time in this process: its memory is the largest single allocation. */
static pthread_mutex_t hash_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const kind_names[] = { "employee", "partner", "consumer" };   /* enum user_kind */

/* --- helpers ------------------------------------------------------------ */

static int find_users(struct crm_ctx *ctx, const struct meta_object **out)
{
	const struct meta_object *users = meta_find_object(ctx->kernel->meta, "user");
	if (!users || !meta_find_field(users, "login"))
		return crm_error(ctx, CRM_EMETA, "this application has no user object with a login field");
	*out = users;
	return CRM_OK;
}

static size_t utf8_length(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* A fresh secret: 32 random bytes, base64url without padding (out: 64 bytes). */
static void token_new(char *out)
{
	unsigned char raw[AUTH_TOKEN_BYTES];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(out, 64, raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
}

static bool token_well_formed(const char *token)
{
	if (!token)
		return false;
	size_t i = 0;
	for (; token[i]; i++) {
		char c = token[i];
		if (i >= AUTH_TOKEN_CHARS || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		                               (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return i == AUTH_TOKEN_CHARS;
}

/* Hex BLAKE2b-256 of a token: what the database holds. */
static void token_hash(const char *token, char out[STORE_AUTH_HASH_HEX])
{
	unsigned char digest[32];
	crypto_generichash(digest, sizeof(digest), (const unsigned char *)token, strlen(token), NULL, 0);
	sodium_bin2hex(out, STORE_AUTH_HASH_HEX, digest, sizeof(digest));
}

/* A field error on password and CRM_EVALIDATION, or CRM_OK. */
static int password_check(struct crm_ctx *ctx, const char *password)
{
	if (!password || utf8_length(password) < AUTH_PASSWORD_MIN) {
		crm_field_error(ctx, "password", "min", "at least %d characters", AUTH_PASSWORD_MIN);
		return crm_error(ctx, CRM_EVALIDATION, "a password has at least %d characters", AUTH_PASSWORD_MIN);
	}
	if (strlen(password) > AUTH_PASSWORD_MAX) {
		crm_field_error(ctx, "password", "max", "at most %d bytes", AUTH_PASSWORD_MAX);
		return crm_error(ctx, CRM_EVALIDATION, "a password has at most %d bytes", AUTH_PASSWORD_MAX);
	}
	return CRM_OK;
}

static int password_hash(struct crm_ctx *ctx, const char *password, char out[crypto_pwhash_STRBYTES])
{
	pthread_mutex_lock(&hash_lock);
	int rc = crypto_pwhash_str(out, password, strlen(password), PWHASH_OPS, PWHASH_MEM);
	pthread_mutex_unlock(&hash_lock);
	if (rc != 0)
		return crm_error(ctx, CRM_ENOMEM, "not enough memory to hash the password");
	return CRM_OK;
}

/* Argon2id runs (real and dummy) since start: a test checks each login costs one, with no clock. */
static long long hash_runs;

long long auth_hash_runs(void)
{
	pthread_mutex_lock(&hash_lock);
	long long n = hash_runs;
	pthread_mutex_unlock(&hash_lock);
	return n;
}

/* Costs one Argon2id run, like a real verification, and is never true. */
static void dummy_verify(const char *password)
{
	pthread_mutex_lock(&hash_lock);
	hash_runs++;
	if (crypto_pwhash_str_needs_rehash(dummy_hash, PWHASH_OPS, PWHASH_MEM) == 0) {
		volatile int ignored = crypto_pwhash_str_verify(dummy_hash, password, strlen(password));
		(void)ignored;   /* the caller denies whatever the outcome */
	} else {
		char scratch[crypto_pwhash_STRBYTES];
		if (crypto_pwhash_str(scratch, password, strlen(password), PWHASH_OPS, PWHASH_MEM) == 0)
			sodium_memzero(scratch, sizeof(scratch));
	}
	pthread_mutex_unlock(&hash_lock);
}

/* True when password matches hash; hash NULL (no such user, no password set) runs the dummy. */
static bool password_verify(const char *hash, const char *password)
{
	if (!password || strlen(password) > AUTH_PASSWORD_MAX) {
		dummy_verify("");
		return false;
	}
	if (!hash) {
		dummy_verify(password);
		return false;
	}
	pthread_mutex_lock(&hash_lock);
	hash_runs++;
	bool ok = crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
	pthread_mutex_unlock(&hash_lock);
	return ok;
}

/* System, an admin, or the user themself. */
static bool may_manage(struct crm_ctx *ctx, int64_t user_id)
{
	return ctx->user_id == 0 || ctx->user_id == user_id || access_is_admin(ctx);
}

/*
 * Seconds until login (and ip, if not NULL) have fewer than
 * AUTH_MAX_FAILURES failures in the window: 0 when they already have.
 */
static int lockout_wait(struct crm_ctx *ctx, struct store_conn *conn, const char *login, const char *ip,
                        time_t now, int *wait)
{
	time_t since = now - AUTH_WINDOW_SECONDS, by_login = 0, by_ip = 0;
	int code = store_auth_failure_at(conn, false, login, since, AUTH_MAX_FAILURES, &by_login, ctx);
	if (code == CRM_OK && ip)
		code = store_auth_failure_at(conn, true, ip, since, AUTH_MAX_FAILURES, &by_ip, ctx);
	if (code != CRM_OK)
		return code;
	time_t latest = by_login > by_ip ? by_login : by_ip;
	int seconds = latest ? (int)(latest + AUTH_WINDOW_SECONDS - now) : 0;
	*wait = latest && seconds < 1 ? 1 : seconds;
	return CRM_OK;
}

static int refuse_locked(struct crm_ctx *ctx, int wait, int *retry_after)
{
	if (retry_after)
		*retry_after = wait;
	return crm_error(ctx, CRM_ELIMIT, "too many failed logins: try again in %d seconds", wait);
}

/* {"ip": [null, ip]} for the audit trail, or NULL. */
static json_t *ip_change(const char *ip)
{
	return ip ? json_pack("{s:[n,s]}", "ip", ip) : NULL;
}

/* --- login, sessions, tokens --------------------------------------------- */

int auth_login(struct crm_ctx *ctx, const char *login, const char *password, const char *ip,
               struct auth_session *out, int *retry_after)
{
	const struct meta_object *users = NULL;
	int code = find_users(ctx, &users);
	if (code != CRM_OK)
		return code;
	if (!login)
		login = "";
	bool login_too_long = strlen(login) > AUTH_LOGIN_MAX;
	char key[AUTH_LOGIN_MAX + 1], address[AUTH_IP_MAX + 1];
	snprintf(key, sizeof(key), "%s", login);
	if (ip && *ip) {
		snprintf(address, sizeof(address), "%s", ip);
		ip = address;
	} else {
		ip = NULL;
	}
	time_t now = time(NULL);

	/* 1. a locked login or address is refused at once, on a reader */
	int wait = 0;
	struct store_conn *conn = object_read_conn(ctx);
	code = lockout_wait(ctx, conn, key, ip, now, &wait);
	object_read_done(ctx, conn);
	if (code != CRM_OK)
		return code;
	if (wait > 0)
		return refuse_locked(ctx, wait, retry_after);

	/* 2. count the attempt as a failure before checking it; read the user */
	bool own;
	if ((code = object_write_begin(ctx, &own)) != CRM_OK)
		return code;
	int64_t user_id = 0;
	bool active = false;
	char *hash = NULL;
	code = lockout_wait(ctx, ctx->txn, key, ip, now, &wait);
	if (code == CRM_OK && wait == 0)
		code = store_auth_failure_add(ctx->txn, key, ip, now, now - AUTH_WINDOW_SECONDS, ctx);
	if (code == CRM_OK && wait == 0 && !login_too_long) {
		code = store_auth_user_by_login(ctx->txn, users, key, &user_id, &active, ctx);
		if (code == CRM_OK) {
			code = store_auth_credential_get(ctx->txn, user_id, &hash, ctx);
			if (code == CRM_ENOTFOUND)
				code = CRM_OK;
		} else if (code == CRM_ENOTFOUND) {
			user_id = 0;
			code = CRM_OK;
		}
	}
	if (code == CRM_OK && wait > 0) {
		object_write_end(ctx, own, CRM_ELIMIT);
		return refuse_locked(ctx, wait, retry_after);
	}
	if ((code = object_write_end(ctx, own, code)) != CRM_OK) {
		free(hash);
		return code;
	}
	crm_error_reset(ctx);

	/* 3. verify outside the writer: the same work whether or not the login exists */
	bool ok = password_verify(hash, password) && user_id != 0 && active;
	char fresh[crypto_pwhash_STRBYTES] = "";
	bool rehash = false;
	if (ok && crypto_pwhash_str_needs_rehash(hash, PWHASH_OPS, PWHASH_MEM) != 0) {
		rehash = password_hash(ctx, password, fresh) == CRM_OK;
		crm_error_reset(ctx);   /* no memory for a new hash: keep the old one */
	}
	free(hash);

	/* 4. record the outcome */
	if (!ok) {
		if ((code = object_write_begin(ctx, &own)) != CRM_OK)
			return code;
		json_t *changes = json_pack("{s:[n,s]}", "login", key);
		if (ip)
			json_object_set_new(changes, "ip", json_pack("[n,s]", ip));
		code = store_audit(ctx->txn, "user", user_id, "login_failed", 0, ctx->request_id, changes, ctx);
		json_decref(changes);
		if ((code = object_write_end(ctx, own, code)) != CRM_OK)
			return code;
		return crm_error(ctx, CRM_EDENIED, "%s", invalid_login);
	}
	struct auth_session session = { .user_id = user_id, .expires_at = now + AUTH_SESSION_SECONDS };
	char session_hash[STORE_AUTH_HASH_HEX];
	token_new(session.token);
	token_new(session.csrf);
	token_hash(session.token, session_hash);
	if ((code = object_write_begin(ctx, &own)) != CRM_OK)
		return code;
	code = store_auth_failures_clear(ctx->txn, key, ctx);
	if (code == CRM_OK)
		code = store_auth_session_add(ctx->txn, session_hash, user_id, session.csrf, now, session.expires_at,
		                              ip, ctx);
	if (code == CRM_OK && rehash)
		code = store_auth_credential_set(ctx->txn, user_id, fresh, now, ctx);
	if (code == CRM_OK) {
		json_t *changes = ip_change(ip);
		code = store_audit(ctx->txn, "user", user_id, "login", user_id, ctx->request_id, changes, ctx);
		json_decref(changes);
	}
	if ((code = object_write_end(ctx, own, code)) != CRM_OK) {
		sodium_memzero(&session, sizeof(session));
		return code;
	}
	*out = session;
	sodium_memzero(&session, sizeof(session));
	return CRM_OK;
}

int auth_resolve(struct crm_ctx *ctx, const char *token, int64_t *user_id, char *csrf_out, bool *api_token)
{
	if (!token_well_formed(token))
		return crm_error(ctx, CRM_EDENIED, "invalid or expired session");
	const struct meta_object *users = NULL;
	int code = find_users(ctx, &users);
	if (code != CRM_OK)
		return code;
	char hash[STORE_AUTH_HASH_HEX], csrf[64];
	token_hash(token, hash);
	int64_t id = 0;
	bool api = false;
	struct store_conn *conn = object_read_conn(ctx);
	code = store_auth_resolve(conn, users, hash, time(NULL), &id, csrf, sizeof(csrf), &api, ctx);
	object_read_done(ctx, conn);
	if (code == CRM_ENOTFOUND)
		return crm_error(ctx, CRM_EDENIED, "invalid or expired session");
	if (code != CRM_OK)
		return code;
	*user_id = id;
	if (csrf_out)
		memcpy(csrf_out, csrf, sizeof(csrf));
	if (api_token)
		*api_token = api;
	return CRM_OK;
}

int auth_logout(struct crm_ctx *ctx, const char *token)
{
	if (!token_well_formed(token))
		return CRM_OK;
	char hash[STORE_AUTH_HASH_HEX];
	token_hash(token, hash);
	bool own;
	int code = object_write_begin(ctx, &own);
	if (code != CRM_OK)
		return code;
	int64_t user_id = 0;
	code = store_auth_session_delete(ctx->txn, hash, &user_id, ctx);
	if (code == CRM_OK && user_id)
		code = store_audit(ctx->txn, "user", user_id, "logout", user_id, ctx->request_id, NULL, ctx);
	return object_write_end(ctx, own, code);
}

/*
 * Finds the live user login inside the open transaction, for a change that
 * only the system, an admin or the user themself may make. Anyone else gets
 * the same refusal whether or not the login exists.
 */
static int find_managed_user(struct crm_ctx *ctx, const struct meta_object *users, const char *login,
                             const char *what, int64_t *id, bool *active)
{
	int code = store_auth_user_by_login(ctx->txn, users, login ? login : "", id, active, ctx);
	bool privileged = ctx->user_id == 0 || access_is_admin(ctx);
	if (!privileged && (code == CRM_ENOTFOUND || (code == CRM_OK && !may_manage(ctx, *id))))
		return crm_error(ctx, CRM_EDENIED, "you may not %s for '%.64s'", what, login ? login : "");
	return code;
}

int auth_token_create(struct crm_ctx *ctx, const char *login, const char *name, char **out)
{
	const struct meta_object *users = NULL;
	int code = find_users(ctx, &users);
	if (code != CRM_OK)
		return code;
	if (!name || !*name || strlen(name) > AUTH_TOKEN_NAME_MAX || has_control(name))
		return crm_error(ctx, CRM_EINVAL, "a token name has 1 to %d characters", AUTH_TOKEN_NAME_MAX);
	bool own;
	if ((code = object_write_begin(ctx, &own)) != CRM_OK)
		return code;
	int64_t user_id = 0;
	bool active = false;
	code = find_managed_user(ctx, users, login, "create tokens", &user_id, &active);
	if (code == CRM_OK && !active)
		code = crm_error(ctx, CRM_ESTATE, "user '%.64s' is disabled", login);
	char token[64], hash[STORE_AUTH_HASH_HEX];
	token_new(token);
	token_hash(token, hash);
	if (code == CRM_OK)
		code = store_auth_token_add(ctx->txn, hash, user_id, name, time(NULL), ctx->user_id, ctx);
	if (code == CRM_OK) {
		json_t *changes = json_pack("{s:[n,s]}", "token", name);
		code = store_audit(ctx->txn, "user", user_id, "token_create", ctx->user_id, ctx->request_id, changes, ctx);
		json_decref(changes);
	}
	if ((code = object_write_end(ctx, own, code)) == CRM_OK)
		*out = xstrdup(token);
	sodium_memzero(token, sizeof(token));
	return code;
}

int auth_token_revoke(struct crm_ctx *ctx, const char *login, const char *name)
{
	const struct meta_object *users = NULL;
	int code = find_users(ctx, &users);
	if (code != CRM_OK)
		return code;
	bool own;
	if ((code = object_write_begin(ctx, &own)) != CRM_OK)
		return code;
	int64_t user_id = 0;
	bool active = false;
	code = find_managed_user(ctx, users, login, "revoke tokens", &user_id, &active);
	if (code == CRM_OK)
		code = store_auth_token_delete(ctx->txn, user_id, name ? name : "", ctx);
	if (code == CRM_OK) {
		json_t *changes = json_pack("{s:[s,n]}", "token", name);
		code = store_audit(ctx->txn, "user", user_id, "token_revoke", ctx->user_id, ctx->request_id, changes, ctx);
		json_decref(changes);
	}
	return object_write_end(ctx, own, code);
}

/* Stores a hash for user_id and ends their sessions, in the open transaction. */
static int store_password(struct crm_ctx *ctx, int64_t user_id, const char *hash)
{
	int code = store_auth_credential_set(ctx->txn, user_id, hash, time(NULL), ctx);
	if (code == CRM_OK)
		code = store_auth_user_revoke(ctx->txn, user_id, false, ctx);
	if (code == CRM_OK)
		code = store_audit(ctx->txn, "user", user_id, "password", ctx->user_id, ctx->request_id, NULL, ctx);
	return code;
}

int auth_set_password(struct crm_ctx *ctx, const char *login, const char *password)
{
	const struct meta_object *users = NULL;
	int code = find_users(ctx, &users);
	if (code != CRM_OK)
		return code;
	if ((code = password_check(ctx, password)) != CRM_OK)
		return code;
	int64_t user_id = 0;
	bool active = false;
	if (ctx->user_id != 0 && !access_is_admin(ctx)) {
		/* refuse before the expensive hash, so that nobody can make the server hash for others */
		struct store_conn *conn = object_read_conn(ctx);
		code = store_auth_user_by_login(conn, users, login ? login : "", &user_id, &active, ctx);
		object_read_done(ctx, conn);
		if (code == CRM_ENOTFOUND || (code == CRM_OK && user_id != ctx->user_id))
			return crm_error(ctx, CRM_EDENIED, "you may not set the password for '%.64s'", login ? login : "");
		if (code != CRM_OK)
			return code;
	}
	char hash[crypto_pwhash_STRBYTES];
	if ((code = password_hash(ctx, password, hash)) != CRM_OK)
		return code;
	bool own;
	if ((code = object_write_begin(ctx, &own)) != CRM_OK)
		return code;
	code = find_managed_user(ctx, users, login, "set the password", &user_id, &active);
	if (code == CRM_OK)
		code = store_password(ctx, user_id, hash);
	sodium_memzero(hash, sizeof(hash));
	return object_write_end(ctx, own, code);
}

/* --- consumer sign-up ---------------------------------------------------- */

#define SIGNUP_NAME_MAX 120        /* characters */
#define SIGNUP_EMAIL_MAX 254       /* bytes; the user's login field may allow fewer */

static const char invalid_signup_token[] = "this link is not valid: it was used already, it has expired or it "
                                           "was never issued; sign up again to get a new one";

/* local@domain.tld of plain characters (no quotes, spaces, controls, comments), lower-cased into out. */
static bool signup_email(const char *email, char *out, size_t size)
{
	static const char local_extra[] = "!#$%&'*+/=?^_`{|}~.-";
	size_t len = strlen(email);
	const char *at = strchr(email, '@');
	if (!at || at == email || len >= size || strchr(at + 1, '@') || at[1] == '\0')
		return false;
	for (const char *p = email; p < at; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr(local_extra, *p)))
			return false;
	bool dot = false;
	for (const char *p = at + 1; *p; p++) {
		bool label_char = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		                  *p == '-';
		if (*p == '.' && p > at + 1 && p[-1] != '.' && p[1] != '\0')
			dot = true;
		else if (!label_char)
			return false;
	}
	if (!dot || email[0] == '.' || at[-1] == '.')
		return false;
	for (size_t i = 0; i <= len; i++)
		out[i] = (email[i] >= 'A' && email[i] <= 'Z') ? (char)(email[i] - 'A' + 'a') : email[i];
	return true;
}

/* Field errors for what a sign-up sends; the e-mail, lower-cased, into email (SIGNUP_EMAIL_MAX + 1 bytes). */
static void signup_check(struct crm_ctx *ctx, const struct meta_object *users, const struct auth_signup *in,
                         char *email)
{
	const struct meta_field *login = meta_find_field(users, "login");
	size_t login_max = login && login->has_max && login->max < SIGNUP_EMAIL_MAX ? (size_t)login->max : SIGNUP_EMAIL_MAX;
	if (!in->email || !*in->email)
		crm_field_error(ctx, "email", "required", "an e-mail address is required");
	else if (strlen(in->email) > login_max)
		crm_field_error(ctx, "email", "max", "at most %zu characters", login_max);
	else if (!signup_email(in->email, email, SIGNUP_EMAIL_MAX + 1))
		crm_field_error(ctx, "email", "format", "not an e-mail address such as name@example.com");
	size_t name_len = in->name ? utf8_length(in->name) : 0;
	if (!in->name || strspn(in->name, " ") == strlen(in->name))
		crm_field_error(ctx, "name", "required", "a name is required");
	else if (name_len > SIGNUP_NAME_MAX)
		crm_field_error(ctx, "name", "max", "at most %d characters", SIGNUP_NAME_MAX);
	else if (has_control(in->name) || strpbrk(in->name, "<>"))
		crm_field_error(ctx, "name", "format", "a name holds no line breaks, control characters, '<' or '>'");
	password_check(ctx, in->password);   /* the rules of crm user add; a field error when broken */
	const struct meta *meta = ctx->kernel->meta;
	bool known = !in->language;
	for (int i = 0; !known && i < meta->language_count; i++)
		known = !strcmp(in->language, meta->languages[i]);
	if (!known)
		crm_field_error(ctx, "language", "values", "one of the app's languages");
}

/* The verification mail: name and link = url + "/#/verify?token=" + token, in lang. */
static int signup_mail(struct crm_ctx *ctx, const struct meta_signup *signup, const char *email, const char *name,
                       const char *lang, const char *token)
{
	char link[600 + 64];
	const char *url = signup->url;
	size_t url_len = strlen(url);
	while (url_len > 0 && url[url_len - 1] == '/')
		url_len--;
	snprintf(link, sizeof(link), "%.*s/#/verify?token=%s", (int)url_len, url, token);
	json_t *vars = json_pack("{s:s, s:s}", "name", name, "link", link);
	if (lang)
		json_object_set_new(vars, "lang", json_string(lang));
	int code = outbox_send(ctx, "email", email, signup->template_name, vars, NULL, 0, NULL, NULL);
	json_decref(vars);
	return code;
}

/* Inside the transaction, as the system: creates or refreshes the pending user, or leaves a taken one. */
static int signup_write(struct crm_ctx *ctx, const struct meta_object *users, const struct meta_signup *signup,
                        const struct auth_signup *in, const char *email, const char *hash, const char *token)
{
	time_t now = time(NULL);
	int64_t id = 0;
	bool active = false, pending = false;
	int code = store_auth_user_by_login(ctx->txn, users, email, &id, &active, ctx);
	if (code == CRM_ENOTFOUND) {
		crm_error_reset(ctx);
		json_t *values = json_pack("{s:s, s:s, s:s, s:s}", "login", email, "name", in->name, "role", signup->role,
		                           "kind", "consumer");
		if (meta_find_field(users, "email"))
			json_object_set_new(values, "email", json_string(email));
		if (meta_find_field(users, "active"))
			json_object_set_new(values, "active", json_false());
		code = object_create_id(ctx, "user", values, &id);
		json_decref(values);
		pending = true;
	} else if (code == CRM_OK && !active) {
		code = store_auth_signup_get(ctx->txn, id, &pending, ctx);
		if (code == CRM_OK && pending) {
			json_t *values = json_pack("{s:s}", "name", in->name);
			code = object_update(ctx, "user", id, 0, values, NULL);
			json_decref(values);
		}
	}
	if (code != CRM_OK)
		return code;
	char token_digest[STORE_AUTH_HASH_HEX];
	token_hash(token, token_digest);
	if (pending)
		code = store_auth_credential_set(ctx->txn, id, hash, now, ctx);
	if (code == CRM_OK && pending)
		code = store_auth_signup_set(ctx->txn, id, token_digest, now, now + (time_t)signup->expires_hours * 3600, ctx);
	if (code == CRM_OK && pending)
		code = signup_mail(ctx, signup, email, in->name, in->language, token);
	if (code == CRM_OK) {
		/* who asked, from where; a sign-up for a taken e-mail is kept too, with nothing sent */
		json_t *changes = json_pack("{s:[n,b]}", "mail_sent", pending);
		if (in->ip)
			json_object_set_new(changes, "ip", json_pack("[n,s]", in->ip));
		code = store_audit(ctx->txn, "user", id, "signup", 0, ctx->request_id, changes, ctx);
		json_decref(changes);
	}
	return code;
}

/* The user object and the checked, lower-cased e-mail (SIGNUP_EMAIL_MAX + 1 bytes), or the error. */
static int signup_prepare(struct crm_ctx *ctx, const struct auth_signup *in, const struct meta_object **users,
                          char *email)
{
	if (!ctx->kernel->meta->signup)
		return crm_error(ctx, CRM_ENOTFOUND, "this application has no sign-up");
	int code = find_users(ctx, users);
	if (code != CRM_OK)
		return code;
	crm_error_reset(ctx);
	signup_check(ctx, *users, in, email);
	if (ctx->field_errors)
		return crm_error(ctx, CRM_EVALIDATION, "invalid sign-up");
	return CRM_OK;
}

int auth_signup_check(struct crm_ctx *ctx, const struct auth_signup *in)
{
	const struct meta_object *users = NULL;
	char email[SIGNUP_EMAIL_MAX + 1] = "";
	return signup_prepare(ctx, in, &users, email);
}

int auth_signup(struct crm_ctx *ctx, const struct auth_signup *in)
{
	const struct meta_signup *signup = ctx->kernel->meta->signup;
	const struct meta_object *users = NULL;
	char email[SIGNUP_EMAIL_MAX + 1] = "";
	int code = signup_prepare(ctx, in, &users, email);
	if (code != CRM_OK)
		return code;
	/* the same Argon2id work for a new, a pending and a taken e-mail */
	char hash[crypto_pwhash_STRBYTES], token[64];
	if ((code = password_hash(ctx, in->password, hash)) != CRM_OK)
		return code;
	token_new(token);
	int64_t caller = ctx->user_id;
	ctx->user_id = 0;   /* the records are the system's to write: the caller is nobody yet */
	bool own;
	if ((code = object_write_begin(ctx, &own)) == CRM_OK)
		code = object_write_end(ctx, own, signup_write(ctx, users, signup, in, email, hash, token));
	ctx->user_id = caller;
	sodium_memzero(hash, sizeof(hash));
	sodium_memzero(token, sizeof(token));
	return code;
}

int auth_signup_verify(struct crm_ctx *ctx, const char *token, const char *ip, struct auth_session *out)
{
	if (!ctx->kernel->meta->signup)
		return crm_error(ctx, CRM_ENOTFOUND, "this application has no sign-up");
	if (!token_well_formed(token))
		return crm_error(ctx, CRM_EDENIED, "%s", invalid_signup_token);
	char digest[STORE_AUTH_HASH_HEX];
	token_hash(token, digest);
	time_t now = time(NULL);
	struct auth_session session = { .expires_at = now + AUTH_SESSION_SECONDS };
	char session_hash[STORE_AUTH_HASH_HEX];
	token_new(session.token);
	token_new(session.csrf);
	token_hash(session.token, session_hash);
	int64_t caller = ctx->user_id;
	ctx->user_id = 0;   /* the activation is the system's: hooks see an update by the system */
	bool own;
	int code = object_write_begin(ctx, &own);
	if (code != CRM_OK) {
		ctx->user_id = caller;
		return code;
	}
	code = store_auth_signup_take(ctx->txn, digest, now, &session.user_id, ctx);
	if (code == CRM_OK) {
		json_t *values = json_pack("{s:b}", "active", 1);
		code = object_update(ctx, "user", session.user_id, 0, values, NULL);
		json_decref(values);
	}
	if (code == CRM_OK)
		code = store_auth_session_add(ctx->txn, session_hash, session.user_id, session.csrf, now, session.expires_at,
		                              ip, ctx);
	if (code == CRM_OK) {
		json_t *changes = ip_change(ip);
		code = store_audit(ctx->txn, "user", session.user_id, "verify", session.user_id, ctx->request_id, changes,
		                   ctx);
		json_decref(changes);
	}
	bool unknown = code == CRM_ENOTFOUND;
	code = object_write_end(ctx, own, code);
	ctx->user_id = caller;
	if (unknown)
		return crm_error(ctx, CRM_EDENIED, "%s", invalid_signup_token);
	if (code == CRM_OK)
		*out = session;
	sodium_memzero(&session, sizeof(session));
	return code;
}

/* --- the CLI's user commands ---------------------------------------------- */

/* Folds the field errors into ctx->message, so that one CLI line says what is wrong. */
static int explain_fields(struct crm_ctx *ctx, int code)
{
	if (code != CRM_EVALIDATION || !json_array_size(ctx->field_errors))
		return code;
	struct strbuf sb = { 0 };
	strbuf_puts(&sb, ctx->message);
	size_t i;
	json_t *error;
	json_array_foreach(ctx->field_errors, i, error)
		strbuf_printf(&sb, "%s%s: %s", i ? "; " : " (", json_string_value(json_object_get(error, "field")),
		              json_string_value(json_object_get(error, "message")));
	strbuf_putc(&sb, ')');
	crm_error(ctx, code, "%s", sb.data);
	strbuf_free(&sb);
	return code;
}

/* The id of the team named name: 0 with a field error when there is none. */
static int find_team(struct crm_ctx *ctx, const char *name, int64_t *out)
{
	*out = 0;
	const struct meta_object *teams = meta_find_object(ctx->kernel->meta, "team");
	if (!teams || !meta_find_field(teams, "name")) {
		crm_field_error(ctx, "team", "unknown", "this application has no teams");
		return CRM_OK;
	}
	struct strbuf filter = { 0 };
	strbuf_puts(&filter, "name = '");
	for (const char *p = name; *p; p++) {
		if (*p == '\'')
			strbuf_putc(&filter, '\'');
		strbuf_putc(&filter, *p);
	}
	strbuf_putc(&filter, '\'');
	struct object_query query = { .filter = filter.data, .fields = "id", .limit = 1 };
	json_t *page = NULL;
	int code = object_query(ctx, "team", &query, &page);
	strbuf_free(&filter);
	if (code != CRM_OK)
		return code;
	json_t *first = json_array_get(json_object_get(page, "records"), 0);
	if (first)
		*out = json_integer_value(json_object_get(first, "id"));
	else
		crm_field_error(ctx, "team", "ref", "no team '%.64s'", name);
	json_decref(page);
	return CRM_OK;
}

/* Sets values[field] = text when the user object has field, else reports it. */
static void set_field(struct crm_ctx *ctx, const struct meta_object *users, json_t *values, const char *field,
                      json_t *value)
{
	if (!value)
		return;
	if (!meta_find_field(users, field)) {
		crm_field_error(ctx, field, "unknown", "the user object has no field '%s'", field);
		json_decref(value);
		return;
	}
	json_object_set_new(values, field, value);
}

int auth_user_add(struct crm_ctx *ctx, const struct auth_user_spec *spec, int64_t *out_id)
{
	const struct meta_object *users = NULL;
	int code = find_users(ctx, &users);
	if (code != CRM_OK)
		return code;
	if (!access_is_admin(ctx))
		return crm_error(ctx, CRM_EDENIED, "only an administrator may add users");
	crm_error_reset(ctx);
	json_t *values = json_object();
	int64_t id = 0, team_id = 0;
	char hash[crypto_pwhash_STRBYTES] = "";
	bool own = false;

	/* first the team: object_query starts by forgetting earlier errors */
	if (spec->team && *spec->team && (code = find_team(ctx, spec->team, &team_id)) != CRM_OK)
		goto cleanup;
	if (!spec->login || !*spec->login)
		crm_field_error(ctx, "login", "required", "a login is required");
	const struct meta_role *role = spec->role ? meta_find_role(ctx->kernel->meta, spec->role) : NULL;
	if (!spec->role || !*spec->role)
		crm_field_error(ctx, "role", "required", "a role is required");
	else if (!role)
		crm_field_error(ctx, "role", "unknown", "no role '%.64s'", spec->role);
	const char *kind = spec->kind;
	if (!kind && role)
		kind = kind_names[role->kind];
	if (kind && role && strcmp(kind, kind_names[role->kind]) != 0)
		crm_field_error(ctx, "kind", "role", "role '%s' is for %s users, not %s", role->name,
		                kind_names[role->kind], kind);
	if (spec->manager && *spec->manager) {
		int64_t manager_id = 0;
		bool active;
		struct store_conn *conn = object_read_conn(ctx);
		code = store_auth_user_by_login(conn, users, spec->manager, &manager_id, &active, ctx);
		object_read_done(ctx, conn);
		if (code == CRM_ENOTFOUND)
			crm_field_error(ctx, "manager", "ref", "no user '%.64s'", spec->manager);
		else if (code != CRM_OK)
			goto cleanup;
		set_field(ctx, users, values, "manager", manager_id ? json_integer(manager_id) : NULL);
	}
	if (spec->partner && *spec->partner) {
		char *end;
		long long partner = strtoll(spec->partner, &end, 10);
		if (*end || partner <= 0)
			crm_field_error(ctx, "partner", "type", "a partner is given by its id");
		else
			set_field(ctx, users, values, "partner", json_integer(partner));
	}
	if (spec->password)
		password_check(ctx, spec->password);
	set_field(ctx, users, values, "login", spec->login ? json_string(spec->login) : NULL);
	set_field(ctx, users, values, "name", json_string(spec->name && *spec->name ? spec->name
	                                                  : spec->login ? spec->login : ""));
	set_field(ctx, users, values, "email", spec->email && *spec->email ? json_string(spec->email) : NULL);
	set_field(ctx, users, values, "role", role ? json_string(role->name) : NULL);
	set_field(ctx, users, values, "kind", kind && meta_find_field(users, "kind") ? json_string(kind) : NULL);
	if (meta_find_field(users, "active"))
		json_object_set_new(values, "active", json_true());
	set_field(ctx, users, values, "team", team_id ? json_integer(team_id) : NULL);
	if (ctx->field_errors) {
		code = crm_error(ctx, CRM_EVALIDATION, "invalid user");
		goto cleanup;
	}
	if (spec->password && (code = password_hash(ctx, spec->password, hash)) != CRM_OK)
		goto cleanup;

	if ((code = object_write_begin(ctx, &own)) != CRM_OK)
		goto cleanup;
	code = object_create_id(ctx, "user", values, &id);
	if (code == CRM_OK && spec->password)
		code = store_password(ctx, id, hash);
	if ((code = object_write_end(ctx, own, code)) == CRM_OK)
		*out_id = id;
cleanup:
	json_decref(values);
	sodium_memzero(hash, sizeof(hash));
	return explain_fields(ctx, code);
}

int auth_user_disable(struct crm_ctx *ctx, const char *login)
{
	const struct meta_object *users = NULL;
	int code = find_users(ctx, &users);
	if (code != CRM_OK)
		return code;
	if (!access_is_admin(ctx))
		return crm_error(ctx, CRM_EDENIED, "only an administrator may disable users");
	if (!meta_find_field(users, "active"))
		return crm_error(ctx, CRM_EMETA, "the user object has no active field");
	bool own;
	if ((code = object_write_begin(ctx, &own)) != CRM_OK)
		return code;
	int64_t user_id = 0;
	bool active = false;
	code = store_auth_user_by_login(ctx->txn, users, login ? login : "", &user_id, &active, ctx);
	if (code == CRM_OK) {
		json_t *changes = json_pack("{s:b}", "active", 0);
		code = object_update(ctx, "user", user_id, 0, changes, NULL);
		json_decref(changes);
	}
	if (code == CRM_OK)
		code = store_auth_user_revoke(ctx->txn, user_id, true, ctx);
	return explain_fields(ctx, object_write_end(ctx, own, code));
}

static const char *text_of(json_t *record, const char *field)
{
	const char *text = json_string_value(json_object_get(record, field));
	return text ? text : "";
}

static int print_user(void *arg, json_t *record)
{
	json_t *active = json_object_get(record, "active");
	fprintf(arg, "%-20s %-28s %-16s %-9s %-6s %s\n", text_of(record, "login"), text_of(record, "name"),
	        text_of(record, "role"), text_of(record, "kind"), json_is_false(active) ? "no" : "yes",
	        text_of(record, "team.name"));
	return 0;
}

int auth_user_list(struct crm_ctx *ctx, FILE *out)
{
	const struct meta_object *users = NULL;
	int code = find_users(ctx, &users);
	if (code != CRM_OK)
		return code;
	struct strbuf fields = { 0 };
	strbuf_puts(&fields, "login");
	static const char *const optional[] = { "name", "role", "kind", "active" };
	for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++)
		if (meta_find_field(users, optional[i]))
			strbuf_printf(&fields, ",%s", optional[i]);
	const struct meta_field *team = meta_find_field(users, "team");
	if (team && team->target && meta_find_field(team->target, "name"))
		strbuf_puts(&fields, ",team.name");
	struct object_query query = { .fields = fields.data, .sort = "login" };
	fprintf(out, "%-20s %-28s %-16s %-9s %-6s %s\n", "LOGIN", "NAME", "ROLE", "KIND", "ACTIVE", "TEAM");
	code = object_query_each(ctx, "user", &query, print_user, out);
	strbuf_free(&fields);
	return code;
}
