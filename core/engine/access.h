/*
 * access.h - who may do what. A caller's role (metadata `role:` documents)
 * is turned into, per object and operation, one rule that yields both a SQL
 * predicate (lists, counts, aggregates, exports, ref paths) and a check of a
 * single record (get, update, delete); the two come from the same level or
 * the same expression AST, so they cannot disagree.
 *
 * The caller is ctx->user_id. 0 is the system (CLI, demo, jobs): all rights.
 * Anyone else is a record of the `user` object; its `role` field names the
 * role, `team` its team, `manager` its manager; a disabled (active = false)
 * or deleted user has no rights at all. The user is loaded once per context.
 *
 * Refusals are never oracles: a record the caller may not read is "not
 * found", a hidden field is an "unknown field".
 */
#ifndef CRM_ACCESS_H
#define CRM_ACCESS_H

#include "crm.h"
#include "meta_model.h"

struct expr_sql;
struct expr_value;

/* The caller as access control sees it (owned by the context). */
struct access_user {
	int64_t id;
	const struct meta_role *role;   /* NULL: no role, no rights */
	bool active;
	json_t *record;                 /* the user record, for $user.<field> */
	json_t *scope;                  /* ids whose records `team` covers: self, team mates, reports */
};

/* The caller's `team` scope (self, team mates, reports down the manager tree); borrowed, NULL for none. */
json_t *access_team_scope(struct crm_ctx *ctx);
/* Loads the caller (once); CRM_OK or an error. Called by every check below. */
int access_load(struct crm_ctx *ctx);
void access_free(struct access_user *user);

/* True if the caller may do op on some records of object. */
bool access_allows(struct crm_ctx *ctx, const struct meta_object *object, enum access_op op);

/*
 * Appends to out the SQL condition restricting object (alias t0 in b) to the
 * records the caller may op; nothing when unrestricted. Parameters go into b.
 */
int access_predicate(struct crm_ctx *ctx, const struct meta_object *object, enum access_op op,
                     struct expr_sql *b, struct strbuf *out);

/*
 * For expr_sql.join_rule (arg is the ctx): the read predicate of target on
 * alias, so that a dotted path through a record the caller may not read
 * reads as null. The rule's own paths join unrestricted (it is the role's).
 */
int access_join_rule(void *arg, struct expr_sql *b, const struct meta_object *target, const char *alias,
                     struct strbuf *out);

/* Whether the caller may op this record (a stored or about-to-be-stored one). */
int access_check(struct crm_ctx *ctx, const struct meta_object *object, enum access_op op,
                 json_t *record, bool *allowed);

/*
 * After a change: whether the record as it will be stays within the caller's
 * op rule, when that rule is an expression (`partner = $user.partner`): a
 * partner may not hand a deal to another partner. own/team rules follow the
 * owner, whose changes change_owner governs.
 */
int access_check_after(struct crm_ctx *ctx, const struct meta_object *object, enum access_op op,
                       json_t *record, bool *allowed);

/* The caller's access to a field: write, read (read-only) or hidden. */
enum field_access access_field(struct crm_ctx *ctx, const struct meta_object *object,
                               const struct meta_field *field);

/* For expr_sql.can_read: arg is the ctx. */
bool access_can_read(void *ctx, const struct meta_object *object, const struct meta_field *field);
/* $user.<field> in a caller's filter: a field of their own user record they may read (the builder's user_field). */
int access_user_value(void *ctx, const char *field, struct expr_value *out);

/* Removes the fields the caller may not read from record (in place). */
void access_strip(struct crm_ctx *ctx, const struct meta_object *object, json_t *record);

/* The kernel's cache of users and team scopes (see access.c). */
struct access_cache;
struct access_cache *access_cache_new(void);
void access_cache_free(struct access_cache *cache);
/* A user record changed (object.c calls it): forget every cached user. */
void access_users_changed(struct access_cache *cache);

/* The caller's identity, saved while the engine acts as the system. */
struct access_saved_caller {
	int64_t user_id, on_behalf_of;
	struct access_user *access;
};
/* Acts as the system (user 0) until access_become_caller; what it writes is audited on behalf of the caller. */
void access_become_system(struct crm_ctx *ctx, struct access_saved_caller *saved);
void access_become_caller(struct crm_ctx *ctx, struct access_saved_caller *saved);

/* True for the system context and admins. */
bool access_is_admin(struct crm_ctx *ctx);
/* Every record of object and every field readable (access_load first): no check per record, nothing to strip. */
bool access_reads_everything(struct crm_ctx *ctx, const struct meta_object *object);

#endif
