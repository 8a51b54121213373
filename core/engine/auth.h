/*
 * auth.h - identity: passwords (libsodium Argon2id), sessions, API tokens,
 * login rate limiting, and the user commands of the CLI.
 *
 * Users are records of the `user` object (login, name, email, kind, role,
 * active, team, manager, partner). Secrets never live there: password
 * hashes, session and token hashes are in the store's own tables, which the
 * object API cannot reach. A token is 32 random bytes, base64url; only its
 * hash is stored. Login failures are answered identically for an unknown
 * login and a wrong password, and are limited per account and per address.
 */
#ifndef CRM_AUTH_H
#define CRM_AUTH_H

#include <stdio.h>
#include <time.h>
#include "crm.h"

struct crm_kernel;

#define AUTH_SESSION_SECONDS (12 * 3600)   /* a session lives 12 hours */
#define AUTH_MAX_FAILURES 10               /* per account and per address ... */
#define AUTH_WINDOW_SECONDS (15 * 60)      /* ... in 15 minutes */

struct auth_session {
	char token[64];        /* base64url of 32 random bytes: give it to the client, never store it */
	char csrf[64];         /* the CSRF token for cookie-authenticated writes */
	int64_t user_id;
	time_t expires_at;
};

/*
 * Checks login/password; on success opens a session (a new token every
 * time: no fixation) and records a "login" audit row. Failures: CRM_EDENIED
 * with one message for every cause (unknown login, wrong password, disabled
 * user, no password set), after the same Argon2id work, writes and
 * "login_failed" audit row (with the login name, never the password);
 * CRM_ELIMIT when the account or the address (ip, may be NULL) has
 * AUTH_MAX_FAILURES failures in the last AUTH_WINDOW_SECONDS
 * (*retry_after, if not NULL, = seconds to wait), checked before the
 * password, so the right password is refused too; such a refusal writes
 * nothing. A success forgets the account's failures and upgrades a hash
 * made with weaker parameters. out->token and out->csrf are secrets for the
 * client: the database keeps only the token's hash.
 */
/* How many Argon2id verifications ran (real or dummy): every login attempt costs exactly one. */
long long auth_hash_runs(void);
int auth_login(struct crm_ctx *ctx, const char *login, const char *password, const char *ip,
               struct auth_session *out, int *retry_after);
/*
 * The user behind a session or API token. CRM_EDENIED for an unknown,
 * expired or revoked token, or a user that is disabled or deleted.
 * csrf_out (may be NULL, 64 bytes) receives the session's CSRF token ("" for
 * API tokens); *api_token tells the two apart.
 */
int auth_resolve(struct crm_ctx *ctx, const char *token, int64_t *user_id, char *csrf_out, bool *api_token);
/* Ends a session (logout). Unknown tokens are not an error. */
int auth_logout(struct crm_ctx *ctx, const char *token);
/*
 * Creates an API token for login named name (1 to 64 characters, unique per
 * user: CRM_ECONFLICT); *out (owned) is shown once. API tokens do not
 * expire; they are revoked by auth_token_revoke or when the user is
 * disabled. The system, an admin or the user themself may create one
 * (CRM_EDENIED otherwise, whether or not login exists): a token never
 * carries more rights than the user it resolves to.
 */
int auth_token_create(struct crm_ctx *ctx, const char *login, const char *name, char **out);
/* Revokes login's API token called name (CRM_ENOTFOUND if none); same rights as creating one. */
int auth_token_revoke(struct crm_ctx *ctx, const char *login, const char *name);
/*
 * Sets a password (8 to 1024 bytes, at least 8 characters; else
 * CRM_EVALIDATION with a field error on "password"); ends the user's
 * sessions. The system, an admin or the user themself (CRM_EDENIED
 * otherwise). Hashing (~0.1 s, 64 MiB) happens before the writer is taken.
 */
int auth_set_password(struct crm_ctx *ctx, const char *login, const char *password);

/*
 * CLI: `crm user add|passwd|disable|list`. password may be NULL (then none is set).
 * add and disable are for the system and admins. add checks that role names
 * a role of the metadata and that kind (default: the role's kind) is the
 * role's kind; team is a team name, manager a login, partner a record id.
 * The user and their password are written in one transaction.
 */
struct auth_user_spec {
	const char *login, *name, *email, *role, *kind, *team, *manager, *partner, *password;
};
int auth_user_add(struct crm_ctx *ctx, const struct auth_user_spec *spec, int64_t *out_id);
/* Disables the user and ends their sessions and tokens. */
int auth_user_disable(struct crm_ctx *ctx, const char *login);
int auth_user_list(struct crm_ctx *ctx, FILE *out);

/*
 * Consumer self sign-up (app.yaml `signup:`, meta->signup). auth_signup
 * answers CRM_OK alike for a new, a pending (signed up, not verified) and a
 * taken e-mail, after the same Argon2id work: nobody learns who has an
 * account. A new e-mail gets an inactive user (login = the e-mail, lower
 * case; role signup.role, kind consumer), its password, a one-time token
 * (only its hash kept, expiring after signup.expires_hours) and an e-mail
 * through the outbox (signup.template, vars name and link = signup.url +
 * "/#/verify?token=..."), all in one transaction: a failure leaves nothing.
 * A pending e-mail gets a new name, password and token (the old link stops
 * working) and the mail again; a taken one nothing. Each writes a "signup"
 * audit row on the user. language (may be NULL) is one of the app's
 * languages: the mail's. CRM_ENOTFOUND without `signup:`; CRM_EVALIDATION
 * with field errors (email, name, password, language) for bad input.
 */
struct auth_signup {
	const char *email, *name, *password, *language, *ip;
};
int auth_signup(struct crm_ctx *ctx, const struct auth_signup *in);
/* auth_signup's checks alone (no writes, no hashing): for a limit that counts only well-formed sign-ups. */
int auth_signup_check(struct crm_ctx *ctx, const struct auth_signup *in);
/*
 * Verifies a sign-up token: activates its user through the object API as
 * the system (an update setting active: true, so after_update hooks run),
 * deletes the token and opens a session as auth_login does, in one
 * transaction. CRM_EDENIED with one message for an unknown, used, expired
 * or malformed token; CRM_ENOTFOUND without `signup:`.
 */
int auth_signup_verify(struct crm_ctx *ctx, const char *token, const char *ip, struct auth_session *out);

#endif
