/*
 * store_auth.h - the SQL of identity (auth.c): password hashes, sessions,
 * API tokens and login attempts, in the kernel's own tables
 * (_crm_credentials, _crm_sessions, _crm_tokens, _crm_login_attempts; see
 * schema.c), which the object API cannot reach. Only hashes are stored:
 * Argon2id strings for passwords, hex BLAKE2b-256 of tokens.
 *
 * Times are Unix seconds. Every function runs on the connection it is given:
 * the writer inside a transaction for writes, a reader or the writer for
 * reads. Strings passed in are borrowed for the call.
 */
#ifndef CRM_STORE_AUTH_H
#define CRM_STORE_AUTH_H

#include <time.h>
#include "crm.h"

struct store_conn;
struct meta_object;

#define STORE_AUTH_HASH_HEX 65     /* 64 hex digits of BLAKE2b-256 and the NUL */

/*
 * The live (not deleted) user whose login is login: *id and *active (true
 * when the object has no `active` field or it is not false). CRM_ENOTFOUND
 * when there is none.
 */
int store_auth_user_by_login(struct store_conn *conn, const struct meta_object *users, const char *login,
                             int64_t *id, bool *active, struct crm_ctx *ctx);

/* The Argon2id string of user_id's password: *out owned. CRM_ENOTFOUND if none is set. */
int store_auth_credential_get(struct store_conn *conn, int64_t user_id, char **out, struct crm_ctx *ctx);
/* Sets (or replaces) the user's password hash. */
int store_auth_credential_set(struct store_conn *conn, int64_t user_id, const char *hash, time_t now,
                              struct crm_ctx *ctx);

/*
 * The time of the nth most recent login failure (1 = the latest) after
 * since, for one login (by_ip false) or one address (by_ip true); 0 when
 * there are fewer than nth.
 */
int store_auth_failure_at(struct store_conn *conn, bool by_ip, const char *key, time_t since, int nth,
                          time_t *out, struct crm_ctx *ctx);
/* Records a failure (ip may be NULL) and forgets every failure at or before forget_before. */
int store_auth_failure_add(struct store_conn *conn, const char *login, const char *ip, time_t at,
                           time_t forget_before, struct crm_ctx *ctx);
/* Forgets the failures of one login (a successful login). */
int store_auth_failures_clear(struct store_conn *conn, const char *login, struct crm_ctx *ctx);

/* Opens a session; token_hash is the hex hash of its token. Also drops expired sessions. */
int store_auth_session_add(struct store_conn *conn, const char *token_hash, int64_t user_id, const char *csrf,
                           time_t now, time_t expires_at, const char *ip, struct crm_ctx *ctx);
/* Ends the session with that token hash; *user_id = its user, or 0 when there was none. */
int store_auth_session_delete(struct store_conn *conn, const char *token_hash, int64_t *user_id,
                              struct crm_ctx *ctx);
/* Ends every session of the user and, when tokens, revokes their API tokens too. */
int store_auth_user_revoke(struct store_conn *conn, int64_t user_id, bool tokens, struct crm_ctx *ctx);
/* Moves the expiry of every session of the user (tests; an operator shortening sessions). */
int store_auth_sessions_expire_at(struct store_conn *conn, int64_t user_id, time_t expires_at,
                                  struct crm_ctx *ctx);

/* Adds an API token; CRM_ECONFLICT when the user has a token of that name already. */
int store_auth_token_add(struct store_conn *conn, const char *token_hash, int64_t user_id, const char *name,
                         time_t now, int64_t created_by, struct crm_ctx *ctx);
/* Revokes the user's token called name; CRM_ENOTFOUND if there is none. */
int store_auth_token_delete(struct store_conn *conn, int64_t user_id, const char *name, struct crm_ctx *ctx);

/*
 * The user behind a token hash: a session that has not expired at now, or
 * an API token, of a user that is live and active. One statement, an index
 * probe on each table. csrf (csrf_size bytes) receives the session's CSRF
 * token, "" for an API token. CRM_ENOTFOUND when none matches.
 */
int store_auth_resolve(struct store_conn *conn, const struct meta_object *users, const char *token_hash,
                       time_t now, int64_t *user_id, char *csrf, size_t csrf_size, bool *api_token,
                       struct crm_ctx *ctx);

/*
 * Sign-up verification (auth_signup, auth_signup_verify): one token per
 * user in _crm_signup_tokens, its hash and expiry. A row, expired or not,
 * marks a user that signed up and never verified. get: *pending is whether
 * the user has one; set: inserts or replaces the user's token; take: deletes
 * the token with that hash if it has not expired at now and gives its user
 * (CRM_ENOTFOUND for an unknown, used or expired token, alike).
 */
int store_auth_signup_get(struct store_conn *conn, int64_t user_id, bool *pending, struct crm_ctx *ctx);
int store_auth_signup_set(struct store_conn *conn, int64_t user_id, const char *token_hash, time_t now,
                          time_t expires_at, struct crm_ctx *ctx);
int store_auth_signup_take(struct store_conn *conn, const char *token_hash, time_t now, int64_t *user_id,
                           struct crm_ctx *ctx);

#endif
