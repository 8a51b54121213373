/*
 * store_auth.c - the SQL of identity (see store_auth.h): credentials,
 * sessions, API tokens and login attempts. Like store.c it includes
 * sqlite3.h; the rest of the kernel sees only store_auth.h.
 *
 * Statements come from store.c's statement cache (store_prepare) and are
 * reset before returning, so that no reader keeps a snapshot open. Strings
 * are bound SQLITE_STATIC: they outlive the statement's run.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include "meta_model.h"
#include "store_auth.h"
#include "store_internal.h"

/* Runs a statement that returns no rows, then resets it. */
static int run(struct store_conn *conn, sqlite3_stmt *stmt, struct crm_ctx *ctx, const char *what)
{
	int rc = store_step(conn, stmt);
	int code = rc == SQLITE_DONE ? CRM_OK : store_sql_error(conn, rc, ctx, what);
	store_done(conn, stmt);
	return code;
}

static void bind_text_or_null(sqlite3_stmt *stmt, int index, const char *text)
{
	if (text)
		sqlite3_bind_text(stmt, index, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, index);
}

/* " AND u.active IS NOT 0" when the user object has an active flag (NULL counts as active, as in access.c). */
static void active_condition(struct strbuf *sql, const struct meta_object *users, const char *alias)
{
	if (meta_find_field(users, "active"))
		strbuf_printf(sql, " AND %s\"active\" IS NOT 0", alias);
}

int store_auth_user_by_login(struct store_conn *conn, const struct meta_object *users, const char *login,
                             int64_t *id, bool *active, struct crm_ctx *ctx)
{
	struct strbuf sql = { 0 };
	strbuf_printf(&sql, "SELECT \"id\", %s FROM ",
	              meta_find_field(users, "active") ? "\"active\" IS NOT 0" : "1");
	strbuf_ident(&sql, users->name);
	strbuf_puts(&sql, " WHERE \"login\" = ?1 AND \"deleted_at\" IS NULL");
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, sql.data, &stmt, ctx);
	strbuf_free(&sql);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_text(stmt, 1, login, -1, SQLITE_STATIC);
	int rc = store_step(conn, stmt);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(stmt, 0);
		*active = sqlite3_column_int(stmt, 1) != 0;
		code = CRM_OK;
	} else if (rc == SQLITE_DONE) {
		code = crm_error(ctx, CRM_ENOTFOUND, "no user '%.64s'", login);
	} else {
		code = store_sql_error(conn, rc, ctx, "user");
	}
	store_done(conn, stmt);
	return code;
}

int store_auth_credential_get(struct store_conn *conn, int64_t user_id, char **out, struct crm_ctx *ctx)
{
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, "SELECT hash FROM _crm_credentials WHERE user_id = ?1", &stmt, ctx);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_int64(stmt, 1, user_id);
	int rc = store_step(conn, stmt);
	if (rc == SQLITE_ROW) {
		*out = xstrdup((const char *)sqlite3_column_text(stmt, 0));
		code = CRM_OK;
	} else if (rc == SQLITE_DONE) {
		code = crm_error(ctx, CRM_ENOTFOUND, "no password set");
	} else {
		code = store_sql_error(conn, rc, ctx, "credential");
	}
	store_done(conn, stmt);
	return code;
}

int store_auth_credential_set(struct store_conn *conn, int64_t user_id, const char *hash, time_t now,
                              struct crm_ctx *ctx)
{
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, "INSERT INTO _crm_credentials(user_id, hash, updated_at) VALUES (?1, ?2, ?3)"
	                         " ON CONFLICT(user_id) DO UPDATE SET hash = excluded.hash,"
	                         " updated_at = excluded.updated_at", &stmt, ctx);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)now);
	return run(conn, stmt, ctx, "credential");
}

int store_auth_failure_at(struct store_conn *conn, bool by_ip, const char *key, time_t since, int nth,
                          time_t *out, struct crm_ctx *ctx)
{
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, by_ip
		? "SELECT at FROM _crm_login_attempts WHERE ip = ?1 AND at > ?2 ORDER BY at DESC LIMIT 1 OFFSET ?3"
		: "SELECT at FROM _crm_login_attempts WHERE login = ?1 AND at > ?2 ORDER BY at DESC LIMIT 1 OFFSET ?3",
		&stmt, ctx);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)since);
	sqlite3_bind_int(stmt, 3, nth - 1);
	int rc = store_step(conn, stmt);
	time_t at = rc == SQLITE_ROW ? (time_t)sqlite3_column_int64(stmt, 0) : 0;
	code = rc == SQLITE_ROW || rc == SQLITE_DONE ? CRM_OK : store_sql_error(conn, rc, ctx, "login attempts");
	store_done(conn, stmt);
	if (code == CRM_OK)
		*out = at;
	return code;
}

int store_auth_failure_add(struct store_conn *conn, const char *login, const char *ip, time_t at,
                           time_t forget_before, struct crm_ctx *ctx)
{
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, "DELETE FROM _crm_login_attempts WHERE at <= ?1", &stmt, ctx);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)forget_before);
	if ((code = run(conn, stmt, ctx, "login attempts")) != CRM_OK)
		return code;
	code = store_prepare(conn, "INSERT INTO _crm_login_attempts(login, ip, at) VALUES (?1, ?2, ?3)", &stmt, ctx);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_text(stmt, 1, login, -1, SQLITE_STATIC);
	bind_text_or_null(stmt, 2, ip);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)at);
	return run(conn, stmt, ctx, "login attempts");
}

int store_auth_failures_clear(struct store_conn *conn, const char *login, struct crm_ctx *ctx)
{
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, "DELETE FROM _crm_login_attempts WHERE login = ?1", &stmt, ctx);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_text(stmt, 1, login, -1, SQLITE_STATIC);
	return run(conn, stmt, ctx, "login attempts");
}

int store_auth_session_add(struct store_conn *conn, const char *token_hash, int64_t user_id, const char *csrf,
                           time_t now, time_t expires_at, const char *ip, struct crm_ctx *ctx)
{
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, "DELETE FROM _crm_sessions WHERE expires_at <= ?1", &stmt, ctx);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)now);
	if ((code = run(conn, stmt, ctx, "sessions")) != CRM_OK)
		return code;
	code = store_prepare(conn, "INSERT INTO _crm_sessions(token_hash, user_id, csrf, ip, created_at, expires_at)"
	                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &stmt, ctx);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_text(stmt, 1, token_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, user_id);
	sqlite3_bind_text(stmt, 3, csrf, -1, SQLITE_STATIC);
	bind_text_or_null(stmt, 4, ip);
	sqlite3_bind_int64(stmt, 5, (sqlite3_int64)now);
	sqlite3_bind_int64(stmt, 6, (sqlite3_int64)expires_at);
	return run(conn, stmt, ctx, "session");
}

/* Runs a bound "DELETE ... RETURNING user_id" of at most one row: *user_id = its user, or 0 when none. */
static int delete_returning_user(struct store_conn *conn, sqlite3_stmt *stmt, int64_t *user_id, const char *what,
                                 struct crm_ctx *ctx)
{
	int64_t found = 0;
	int rc = store_step(conn, stmt);
	if (rc == SQLITE_ROW) {
		found = sqlite3_column_int64(stmt, 0);
		rc = store_step(conn, stmt);   /* runs the DELETE to its end */
	}
	int code = rc == SQLITE_DONE ? CRM_OK : store_sql_error(conn, rc, ctx, what);
	store_done(conn, stmt);
	if (code == CRM_OK)
		*user_id = found;
	return code;
}

int store_auth_session_delete(struct store_conn *conn, const char *token_hash, int64_t *user_id,
                              struct crm_ctx *ctx)
{
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, "DELETE FROM _crm_sessions WHERE token_hash = ?1 RETURNING user_id", &stmt, ctx);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_text(stmt, 1, token_hash, -1, SQLITE_STATIC);
	return delete_returning_user(conn, stmt, user_id, "session", ctx);
}

int store_auth_user_revoke(struct store_conn *conn, int64_t user_id, bool tokens, struct crm_ctx *ctx)
{
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, "DELETE FROM _crm_sessions WHERE user_id = ?1", &stmt, ctx);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_int64(stmt, 1, user_id);
	if ((code = run(conn, stmt, ctx, "sessions")) != CRM_OK || !tokens)
		return code;
	code = store_prepare(conn, "DELETE FROM _crm_tokens WHERE user_id = ?1", &stmt, ctx);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_int64(stmt, 1, user_id);
	return run(conn, stmt, ctx, "tokens");
}

int store_auth_sessions_expire_at(struct store_conn *conn, int64_t user_id, time_t expires_at,
                                  struct crm_ctx *ctx)
{
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, "UPDATE _crm_sessions SET expires_at = min(expires_at, ?2) WHERE user_id = ?1",
	                         &stmt, ctx);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)expires_at);
	return run(conn, stmt, ctx, "sessions");
}

int store_auth_token_add(struct store_conn *conn, const char *token_hash, int64_t user_id, const char *name,
                         time_t now, int64_t created_by, struct crm_ctx *ctx)
{
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, "INSERT INTO _crm_tokens(token_hash, user_id, name, created_at, created_by)"
	                         " VALUES (?1, ?2, ?3, ?4, ?5)", &stmt, ctx);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_text(stmt, 1, token_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, user_id);
	sqlite3_bind_text(stmt, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, (sqlite3_int64)now);
	if (created_by)
		sqlite3_bind_int64(stmt, 5, created_by);
	else
		sqlite3_bind_null(stmt, 5);
	int rc = store_step(conn, stmt);
	if (rc == SQLITE_CONSTRAINT_UNIQUE)
		code = crm_error(ctx, CRM_ECONFLICT, "a token named '%.64s' exists already", name);
	else
		code = rc == SQLITE_DONE ? CRM_OK : store_sql_error(conn, rc, ctx, "token");
	store_done(conn, stmt);
	return code;
}

int store_auth_token_delete(struct store_conn *conn, int64_t user_id, const char *name, struct crm_ctx *ctx)
{
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, "DELETE FROM _crm_tokens WHERE user_id = ?1 AND name = ?2", &stmt, ctx);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
	if ((code = run(conn, stmt, ctx, "token")) != CRM_OK)
		return code;
	if (sqlite3_changes(sqlite3_db_handle(stmt)) == 0)
		return crm_error(ctx, CRM_ENOTFOUND, "no token named '%.64s'", name);
	return CRM_OK;
}

/*
 * Which snapshot a reader connection reads: "PRAGMA data_version" changes
 * whenever another connection, in this process or another, has committed.
 * Readers never write, so an unchanged value means an unchanged database.
 * It also starts the read transaction, which the request's next statements
 * share.
 */
static int data_version(struct store_conn *conn, sqlite3_int64 *out)
{
	sqlite3_stmt *stmt;
	if (store_prepare(conn, "PRAGMA data_version", &stmt, NULL) != CRM_OK)
		return CRM_EIO;
	int rc = store_step(conn, stmt);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(stmt, 0);
	store_done(conn, stmt);
	return rc == SQLITE_ROW ? CRM_OK : CRM_EIO;
}

static unsigned memo_slot(const char *token_hash)
{
	/* the hash is hex of a keyed BLAKE2b: its first digits are already uniform */
	unsigned v = 0;
	for (int i = 0; i < 6; i++)
		v = v * 16 + (unsigned)(token_hash[i] <= '9' ? token_hash[i] - '0' : token_hash[i] - 'a' + 10);
	return v % STORE_AUTH_MEMO_SLOTS;
}

int store_auth_resolve(struct store_conn *conn, const struct meta_object *users, const char *token_hash,
                       time_t now, int64_t *user_id, char *csrf, size_t csrf_size, bool *api_token,
                       struct crm_ctx *ctx)
{
	/*
	 * A reader remembers what each token resolved to in which snapshot: while
	 * no one has committed since, the answer cannot have changed (logouts,
	 * revocations, disabled users and password changes are all commits, from
	 * this process or the CLI), and only a session's expiry is checked again.
	 * This saves the token query on most requests of a read-mostly load.
	 */
	struct store_auth_memo *memo = store_conn_auth_memo(conn);
	sqlite3_int64 version = 0;
	struct store_auth_memo *slot = NULL;
	if (memo && data_version(conn, &version) == CRM_OK && version) {
		slot = &memo[memo_slot(token_hash)];
		if (slot->data_version == version && strcmp(slot->token_hash, token_hash) == 0
		    && (slot->expires_at == 0 || slot->expires_at > (sqlite3_int64)now)) {
			*user_id = slot->user_id;
			if (csrf && csrf_size)
				snprintf(csrf, csrf_size, "%s", slot->csrf);
			*api_token = slot->api_token != 0;
			return CRM_OK;
		}
	}
	/* the text depends only on the metadata, so the statement cache keeps one copy */
	struct strbuf sql = { 0 };
	strbuf_puts(&sql, "SELECT s.user_id, s.csrf, 0, s.expires_at FROM _crm_sessions s JOIN ");
	strbuf_ident(&sql, users->name);
	strbuf_puts(&sql, " u ON u.\"id\" = s.user_id WHERE s.token_hash = ?1 AND s.expires_at > ?2"
	            " AND u.\"deleted_at\" IS NULL");
	active_condition(&sql, users, "u.");
	strbuf_puts(&sql, " UNION ALL SELECT t.user_id, '', 1, 0 FROM _crm_tokens t JOIN ");
	strbuf_ident(&sql, users->name);
	strbuf_puts(&sql, " u ON u.\"id\" = t.user_id WHERE t.token_hash = ?1 AND u.\"deleted_at\" IS NULL");
	active_condition(&sql, users, "u.");
	strbuf_puts(&sql, " LIMIT 1");
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, sql.data, &stmt, ctx);
	strbuf_free(&sql);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_text(stmt, 1, token_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)now);
	int rc = store_step(conn, stmt);
	if (rc == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(stmt, 1);
		*user_id = sqlite3_column_int64(stmt, 0);
		if (csrf && csrf_size)
			snprintf(csrf, csrf_size, "%s", text ? text : "");
		*api_token = sqlite3_column_int(stmt, 2) != 0;
		if (slot && strlen(token_hash) < sizeof(slot->token_hash)) {
			slot->data_version = version;
			snprintf(slot->token_hash, sizeof(slot->token_hash), "%s", token_hash);
			slot->user_id = *user_id;
			slot->expires_at = sqlite3_column_int64(stmt, 3);
			snprintf(slot->csrf, sizeof(slot->csrf), "%s", text ? text : "");
			slot->api_token = *api_token;
		}
		code = CRM_OK;
	} else if (rc == SQLITE_DONE) {
		code = crm_error(ctx, CRM_ENOTFOUND, "no such session or token");
	} else {
		code = store_sql_error(conn, rc, ctx, "session");
	}
	store_done(conn, stmt);
	return code;
}

/* --- sign-up verification tokens (_crm_signup_tokens: one per user, hashed) --- */

int store_auth_signup_get(struct store_conn *conn, int64_t user_id, bool *pending, struct crm_ctx *ctx)
{
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, "SELECT 1 FROM _crm_signup_tokens WHERE user_id = ?1", &stmt, ctx);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_int64(stmt, 1, user_id);
	int rc = store_step(conn, stmt);
	*pending = rc == SQLITE_ROW;
	code = rc == SQLITE_ROW || rc == SQLITE_DONE ? CRM_OK : store_sql_error(conn, rc, ctx, "sign-up token");
	store_done(conn, stmt);
	return code;
}

int store_auth_signup_set(struct store_conn *conn, int64_t user_id, const char *token_hash, time_t now,
                          time_t expires_at, struct crm_ctx *ctx)
{
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, "INSERT OR REPLACE INTO _crm_signup_tokens(user_id, token_hash, created_at,"
	                         " expires_at) VALUES (?1, ?2, ?3, ?4)", &stmt, ctx);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, token_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)now);
	sqlite3_bind_int64(stmt, 4, (sqlite3_int64)expires_at);
	return run(conn, stmt, ctx, "sign-up token");
}

int store_auth_signup_take(struct store_conn *conn, const char *token_hash, time_t now, int64_t *user_id,
                           struct crm_ctx *ctx)
{
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, "DELETE FROM _crm_signup_tokens WHERE token_hash = ?1 AND expires_at > ?2"
	                         " RETURNING user_id", &stmt, ctx);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_text(stmt, 1, token_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)now);
	*user_id = 0;
	code = delete_returning_user(conn, stmt, user_id, "sign-up token", ctx);
	if (code == CRM_OK && !*user_id)
		code = crm_error(ctx, CRM_ENOTFOUND, "no such sign-up token");
	return code;
}
