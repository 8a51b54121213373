/*
 * access.c - roles turned into SQL predicates and single-record checks
 * (see access.h). Fail closed: no user, a disabled user, no role, an
 * unknown $user field or an expression that cannot be compiled all deny.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "access.h"
#include "eval.h"
#include "expr.h"
#include "context.h"
#include "store.h"

/*
 * Who a user is (their record) and whom a `team` rule covers for them cost a
 * lookup and a recursive query on every request; a short-lived cache in the
 * kernel keeps them. Any write to a user record in this process empties it
 * at once (access_users_changed); writes from another process (the CLI) are
 * seen within ACCESS_CACHE_SECONDS. A disabled user is refused earlier
 * still: sessions are resolved against the live user row (a reader reuses
 * an answer only while no one, in any process, has committed since:
 * store_auth_resolve).
 */
#define ACCESS_CACHE_SLOTS 1024
#define ACCESS_CACHE_SECONDS 2

struct access_cache_entry {
	int64_t user_id;
	uint64_t generation;
	time_t at;
	json_t *record;            /* owned */
	json_t *scope;             /* owned, NULL until a team rule needed it */
};

struct access_cache {
	pthread_mutex_t lock;
	uint64_t generation;       /* bumped by every change to a user */
	struct access_cache_entry slots[ACCESS_CACHE_SLOTS];
};

struct access_cache *access_cache_new(void)
{
	struct access_cache *cache = xcalloc(1, sizeof(*cache));
	pthread_mutex_init(&cache->lock, NULL);
	return cache;
}

void access_cache_free(struct access_cache *cache)
{
	if (!cache)
		return;
	for (int i = 0; i < ACCESS_CACHE_SLOTS; i++) {
		json_decref(cache->slots[i].record);
		json_decref(cache->slots[i].scope);
	}
	pthread_mutex_destroy(&cache->lock);
	free(cache);
}

void access_users_changed(struct access_cache *cache)
{
	if (!cache)
		return;
	pthread_mutex_lock(&cache->lock);
	cache->generation++;
	pthread_mutex_unlock(&cache->lock);
}

/* A fresh cached copy of what is known about user_id (owned references), or false. */
static bool cache_get(struct access_cache *cache, int64_t user_id, json_t **record, json_t **scope)
{
	if (!cache)
		return false;
	bool hit = false;
	pthread_mutex_lock(&cache->lock);
	struct access_cache_entry *e = &cache->slots[(uint64_t)user_id % ACCESS_CACHE_SLOTS];
	if (e->record && e->user_id == user_id && e->generation == cache->generation
	    && time(NULL) - e->at < ACCESS_CACHE_SECONDS) {
		*record = json_incref(e->record);
		if (scope)
			*scope = e->scope ? json_incref(e->scope) : NULL;
		hit = true;
	}
	pthread_mutex_unlock(&cache->lock);
	return hit;
}

/* Keeps record (and scope, if not NULL) for user_id; references are copied. */
static void cache_put(struct access_cache *cache, int64_t user_id, json_t *record, json_t *scope)
{
	if (!cache || !record)
		return;
	pthread_mutex_lock(&cache->lock);
	struct access_cache_entry *e = &cache->slots[(uint64_t)user_id % ACCESS_CACHE_SLOTS];
	if (e->user_id != user_id || e->generation != cache->generation || e->record != record) {
		json_decref(e->record);
		json_decref(e->scope);
		e->user_id = user_id;
		e->generation = cache->generation;
		e->at = time(NULL);
		e->record = json_incref(record);
		e->scope = NULL;
	}
	if (scope && !e->scope)
		e->scope = json_incref(scope);
	pthread_mutex_unlock(&cache->lock);
}

void access_free(struct access_user *user)
{
	if (!user)
		return;
	json_decref(user->record);
	json_decref(user->scope);
	free(user);
}

/*
 * The guest (CRM_USER_GUEST, a public route's caller) has no user record:
 * who it is comes from the metadata alone, so that nothing done at run time
 * (an admin editing a user) can give it rights. Its role is the one named
 * guest, if the metadata defines one; its kind is that role's. $user.<field>
 * reads these few fields; any other is null, which denies.
 */
static void load_guest(const struct meta *meta, struct access_user *user)
{
	static const char *const kind_names[] = { "employee", "partner", "consumer" };
	user->role = meta_find_role(meta, CRM_GUEST_ROLE);
	user->active = true;
	user->record = json_pack("{s:I, s:s, s:s, s:b}", "id", (json_int_t)CRM_USER_GUEST, "login", CRM_GUEST_ROLE,
	                         "name", "Guest", "active", 1);
	if (user->role) {
		json_object_set_new(user->record, "role", json_string(user->role->name));
		json_object_set_new(user->record, "kind", json_string(kind_names[user->role->kind]));
	}
	user->scope = json_array();   /* a team rule covers nobody */
}

int access_load(struct crm_ctx *ctx)
{
	if (ctx->user_id == 0 || ctx->access)
		return CRM_OK;
	const struct meta *meta = ctx->kernel->meta;
	struct access_user *user = xcalloc(1, sizeof(*user));
	user->id = ctx->user_id;
	ctx->access = user;
	if (ctx->user_id == CRM_USER_GUEST) {
		load_guest(meta, user);
		return CRM_OK;
	}
	const struct meta_object *users = meta_find_object(meta, "user");
	if (!users)
		return CRM_OK; /* no user object: nobody but the system has rights */
	json_t *record = NULL, *scope = NULL;
	int code = CRM_OK;
	if (!cache_get(ctx->kernel->access_cache, ctx->user_id, &record, &scope)) {
		struct store_conn *conn = context_reader(ctx);
		code = store_get(conn, users, ctx->user_id, false, &record, ctx);
		context_reader_done(ctx, conn);
		if (code == CRM_OK)
			cache_put(ctx->kernel->access_cache, ctx->user_id, record, NULL);
	}
	if (code == CRM_OK) {
		user->record = record;
		user->scope = scope;
		json_t *active = json_object_get(record, "active");
		user->active = !json_is_false(active);
		user->role = meta_find_role(meta, json_string_value(json_object_get(record, "role")));
	} else if (code == CRM_ENOTFOUND) {
		code = CRM_OK; /* a deleted user: no rights */
	}
	if (code != CRM_OK)
		return code;
	crm_error_forget(ctx);
	return CRM_OK;
}

/*
 * The owners a `team` rule covers, computed on first use: most requests
 * (admins, own/all/expression rules) never need the recursive query.
 * An error leaves an empty scope: deny.
 */
static json_t *scope_of(struct crm_ctx *ctx)
{
	struct access_user *u = ctx->access;
	if (u->scope)
		return u->scope;
	const struct meta_object *users = meta_find_object(ctx->kernel->meta, "user");
	struct store_conn *conn = context_reader(ctx);
	if (store_user_scope(conn, users, meta_find_field(users, "team"), meta_find_field(users, "manager"),
	                     u->id, &u->scope, ctx) != CRM_OK)
		u->scope = json_array();
	else
		cache_put(ctx->kernel->access_cache, u->id, u->record, u->scope);
	context_reader_done(ctx, conn);
	crm_error_forget(ctx);
	return u->scope;
}

json_t *access_team_scope(struct crm_ctx *ctx)
{
	if (!ctx->user_id || access_load(ctx) != CRM_OK || !ctx->access)
		return NULL;
	return scope_of(ctx);
}

bool access_is_admin(struct crm_ctx *ctx)
{
	if (ctx->user_id == 0)
		return true;
	if (access_load(ctx) != CRM_OK)
		return false;
	struct access_user *u = ctx->access;
	return u->active && u->role && u->role->admin;
}

/* The rule for op, or NULL when the caller has no rights at all on object. */
static const struct meta_access_rule *rule_for(struct crm_ctx *ctx, const struct meta_object *object,
                                               enum access_op op)
{
	struct access_user *u = ctx->access;
	if (!u || !u->active || !u->role)
		return NULL;
	const struct meta_role_object *ro = meta_role_object(u->role, object);
	return ro ? &ro->ops[op] : NULL;
}

bool access_allows(struct crm_ctx *ctx, const struct meta_object *object, enum access_op op)
{
	if (access_is_admin(ctx))
		return true;
	const struct meta_access_rule *rule = rule_for(ctx, object, op);
	return rule && rule->level != LEVEL_NONE;
}

static int user_field(void *arg, const char *field, struct expr_value *out)
{
	struct crm_ctx *ctx = arg;
	json_t *record = ctx->access ? ctx->access->record : NULL;
	json_t *v = record ? json_object_get(record, field) : NULL;
	if (!v)
		return -1;
	eval_value_from_json(v, out); /* text borrowed from the user record: the builder copies it */
	return 0;
}

/* Shares widen read and update, never beyond an object the role cannot touch at all. */
static bool shares_apply(const struct meta_access_rule *rule, enum access_op op)
{
	return (op == ACCESS_READ || op == ACCESS_UPDATE) && rule->level != LEVEL_NONE && rule->level != LEVEL_ALL;
}

static int64_t user_team(struct crm_ctx *ctx)
{
	return json_integer_value(json_object_get(ctx->access->record, "team"));
}

int access_predicate(struct crm_ctx *ctx, const struct meta_object *object, enum access_op op,
                     struct expr_sql *b, struct strbuf *out)
{
	if (access_is_admin(ctx))
		return CRM_OK;
	const struct meta_access_rule *rule = rule_for(ctx, object, op);
	if (!rule || rule->level == LEVEL_NONE) {
		strbuf_puts(out, "0");
		return CRM_OK;
	}
	struct strbuf owner = { 0 };
	strbuf_printf(&owner, "%s.\"owner\"", b->base_alias);
	switch (rule->level) {
	case LEVEL_ALL:
		break;
	case LEVEL_OWN: {
		struct expr_value me = { .type = EV_INT, .i = ctx->user_id };
		strbuf_printf(out, "%s = ?%d", owner.data, expr_sql_bind(b, &me));
		break;
	}
	case LEVEL_TEAM:
		store_sql_in_ids(b, owner.data, scope_of(ctx), out);
		break;
	case LEVEL_EXPR: {
		/* the rule may use fields the caller cannot read: it is the role's, not the caller's */
		bool (*can_read)(void *, const struct meta_object *, const struct meta_field *) = b->can_read;
		int (*saved_user_field)(void *, const char *, struct expr_value *) = b->user_field;
		void *saved_arg = b->arg;
		int (*join_rule)(void *, struct expr_sql *, const struct meta_object *, const char *, struct strbuf *) =
			b->join_rule;
		b->join_rule = NULL;  /* and its paths reach what the rule names, whoever may read it */
		b->can_read = NULL;
		b->user_field = user_field;
		b->arg = ctx;
		b->me = ctx->user_id;
		char err[256];
		struct strbuf sql = { 0 };
		int code = expr_compile(b, rule->expr, &sql, err, sizeof(err));
		b->can_read = can_read;
		b->join_rule = join_rule;
		b->user_field = saved_user_field;
		b->arg = saved_arg;
		/* a rule that cannot be compiled for this user (a missing $user field) denies */
		strbuf_puts(out, code == CRM_OK ? sql.data : "0");
		strbuf_free(&sql);
		break;
	}
	default:
		strbuf_puts(out, "0");
	}
	strbuf_free(&owner);
	if (shares_apply(rule, op) && out->len) {
		/* a record shared with the caller (or their team) is readable, or editable if shared for edit */
		struct strbuf both = { 0 };
		strbuf_printf(&both, "(%s) OR ", out->data);
		store_share_sql(b, object->name, ctx->user_id, user_team(ctx), op == ACCESS_UPDATE, &both);
		strbuf_reset(out);
		strbuf_puts(out, both.data);
		strbuf_free(&both);
	}
	return CRM_OK;
}

int access_join_rule(void *arg, struct expr_sql *b, const struct meta_object *target, const char *alias,
                     struct strbuf *out)
{
	struct crm_ctx *ctx = arg;
	const struct meta_object *object = b->object;
	const char *base_alias = b->base_alias;
	b->object = target;
	b->base_alias = alias;
	int code = access_predicate(ctx, target, ACCESS_READ, b, out);
	b->object = object;
	b->base_alias = base_alias;
	return code;
}

static bool in_ids(json_t *ids, json_t *value)
{
	if (!json_is_integer(value))
		return false;
	size_t i;
	json_t *id;
	json_array_foreach(ids, i, id)
		if (json_integer_value(id) == json_integer_value(value))
			return true;
	return false;
}

int access_check(struct crm_ctx *ctx, const struct meta_object *object, enum access_op op,
                 json_t *record, bool *allowed)
{
	*allowed = false;
	if (access_is_admin(ctx)) {
		*allowed = true;
		return CRM_OK;
	}
	const struct meta_access_rule *rule = rule_for(ctx, object, op);
	if (!rule)
		return CRM_OK;
	json_t *owner = json_object_get(record, "owner");
	switch (rule->level) {
	case LEVEL_ALL:
		*allowed = true;
		break;
	case LEVEL_OWN:
		*allowed = json_is_integer(owner) && json_integer_value(owner) == ctx->user_id;
		break;
	case LEVEL_TEAM:
		*allowed = in_ids(scope_of(ctx), owner);
		break;
	case LEVEL_EXPR: {
		struct store_conn *conn = context_reader(ctx);
		struct expr_value result = { 0 };
		char err[256];
		int code = eval_record(ctx, conn, object, rule->expr, record, ctx->access->record, &result,
		                       err, sizeof(err));
		context_reader_done(ctx, conn);
		/* an evaluation error (a missing $user field) denies */
		*allowed = code == CRM_OK && expr_truthy(&result);
		expr_value_clear(&result);
		crm_error_forget(ctx);
		break;
	}
	default:
		break;
	}
	int64_t id = json_integer_value(json_object_get(record, "id"));
	if (!*allowed && id && shares_apply(rule, op)) {
		struct store_conn *conn = context_reader(ctx);
		int code = store_share_exists(conn, object->name, id, ctx->user_id, user_team(ctx), op == ACCESS_UPDATE,
		                              allowed, ctx);
		context_reader_done(ctx, conn);
		if (code != CRM_OK)
			*allowed = false;
		return code;
	}
	return CRM_OK;
}

int access_check_after(struct crm_ctx *ctx, const struct meta_object *object, enum access_op op,
                       json_t *record, bool *allowed)
{
	*allowed = true;
	if (access_is_admin(ctx))
		return CRM_OK;
	const struct meta_access_rule *rule = rule_for(ctx, object, op);
	if (!rule || rule->level != LEVEL_EXPR)
		return CRM_OK;
	return access_check(ctx, object, op, record, allowed);
}

enum field_access access_field(struct crm_ctx *ctx, const struct meta_object *object,
                               const struct meta_field *field)
{
	if (access_is_admin(ctx))
		return FIELD_ACCESS_WRITE;
	struct access_user *u = ctx->access;
	if (!u || !u->active || !u->role)
		return FIELD_ACCESS_HIDDEN;
	if (!access_allows(ctx, object, ACCESS_READ))
		return FIELD_ACCESS_HIDDEN;
	enum field_access by_object = access_allows(ctx, object, ACCESS_CREATE) || access_allows(ctx, object, ACCESS_UPDATE)
		? FIELD_ACCESS_WRITE : FIELD_ACCESS_READ;
	for (int i = 0; i < u->role->field_count; i++) {
		const struct meta_role_field *rf = &u->role->fields[i];
		/* a field entry narrows what the object allows, never widens it */
		if (rf->field == field && rf->object == object)
			return rf->access == FIELD_ACCESS_WRITE ? by_object : rf->access;
	}
	return by_object;
}

bool access_can_read(void *arg, const struct meta_object *object, const struct meta_field *field)
{
	return access_field(arg, object, field) != FIELD_ACCESS_HIDDEN;
}

int access_user_value(void *arg, const char *field, struct expr_value *out)
{
	struct crm_ctx *ctx = arg;
	const struct meta_object *users = meta_find_object(ctx->kernel->meta, "user");
	const struct meta_field *f = users ? meta_find_field(users, field) : NULL;
	if (!f || !access_can_read(ctx, users, f))
		return -1;   /* as a field that does not exist: a hidden one is not confirmed */
	return user_field(arg, field, out);
}

bool access_reads_everything(struct crm_ctx *ctx, const struct meta_object *object)
{
	if (access_is_admin(ctx))
		return true;
	const struct meta_access_rule *rule = rule_for(ctx, object, ACCESS_READ);
	if (!rule || rule->level != LEVEL_ALL)
		return false;
	for (int i = 0; i < object->field_count; i++)
		if (access_field(ctx, object, &object->fields[i]) == FIELD_ACCESS_HIDDEN)
			return false;
	return true;
}

void access_strip(struct crm_ctx *ctx, const struct meta_object *object, json_t *record)
{
	if (access_is_admin(ctx))
		return;
	for (int i = 0; i < object->field_count; i++) {
		const struct meta_field *f = &object->fields[i];
		if (access_field(ctx, object, f) == FIELD_ACCESS_HIDDEN)
			json_object_del(record, f->name);
	}
}


void access_become_system(struct crm_ctx *ctx, struct access_saved_caller *saved)
{
	saved->user_id = ctx->user_id;
	saved->on_behalf_of = ctx->on_behalf_of;
	saved->access = ctx->access;
	if (ctx->user_id)
		ctx->on_behalf_of = ctx->user_id;
	ctx->user_id = 0;
	ctx->access = NULL;
}

void access_become_caller(struct crm_ctx *ctx, struct access_saved_caller *saved)
{
	access_free(ctx->access);
	ctx->access = saved->access;
	ctx->user_id = saved->user_id;
	ctx->on_behalf_of = saved->on_behalf_of;
}
