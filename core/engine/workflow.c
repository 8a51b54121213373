/*
 * workflow.c - the workflow engine (see workflow.h): firing transitions,
 * approvals and timers. Every read and write goes through the object API;
 * the engine's own bookkeeping records (approvals, notifications) are
 * written as the system inside the caller's transaction, so that a
 * requester needs no rights on them.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "access.h"
#include "eval.h"
#include "events.h"
#include "context.h"
#include "meta_model.h"
#include "object.h"
#include "plugin_registry.h"
#include "store.h"
#include "outbox.h"
#include "workflow.h"
#include "calendar.h"

#define MAX_APPROVERS 1000
#define TIMER_RETRY_SECONDS 30

/* ---- small helpers ------------------------------------------------------- */

static void time_text(time_t when, char *out, size_t len)
{
	struct tm tm;
	gmtime_r(&when, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Ends the engine's transaction: commit on success, else roll back (or leave it to an outer caller). */
static int finish(struct crm_ctx *ctx, bool own, int code)
{
	if (code == CRM_OK)
		return object_commit(ctx);
	if (own)
		object_rollback(ctx);
	else
		ctx->txn_depth--;
	return code;
}

/* The workflow of object that has a transition called name. */
static const struct meta_workflow *find_transition(const struct meta *meta, const struct meta_object *o,
                                                   const char *name, const struct meta_transition **out)
{
	for (int i = 0; i < meta->workflow_count; i++) {
		const struct meta_workflow *wf = &meta->workflows[i];
		const struct meta_transition *t;
		if (wf->object == o && wf->field && (t = meta_find_transition(wf, name))) {
			*out = t;
			return wf;
		}
	}
	return NULL;
}

/* Runs a query as the system and returns its records (owned), or NULL with ctx set. */
static json_t *system_query(struct crm_ctx *ctx, const char *object, const char *filter, int limit)
{
	struct access_saved_caller saved;
	struct object_query query = { .filter = filter, .limit = limit };
	json_t *page = NULL;
	access_become_system(ctx, &saved);
	int code = object_query(ctx, object, &query, &page);
	access_become_caller(ctx, &saved);
	if (code != CRM_OK)
		return NULL;
	json_t *records = json_incref(json_object_get(page, "records"));
	json_decref(page);
	return records;
}

static int system_create(struct crm_ctx *ctx, const char *object, json_t *values, int64_t *id)
{
	struct access_saved_caller saved;
	access_become_system(ctx, &saved);
	int code = object_create_id(ctx, object, values, id);
	access_become_caller(ctx, &saved);
	return code;
}

static int system_update(struct crm_ctx *ctx, const char *object, int64_t id, json_t *changes)
{
	struct access_saved_caller saved;
	access_become_system(ctx, &saved);
	int code = object_update(ctx, object, id, 0, changes, NULL);
	access_become_caller(ctx, &saved);
	return code;
}

/* 'text' with quotes doubled, appended to sb: a literal for a filter. */
static void quote_literal(struct strbuf *sb, const char *text)
{
	strbuf_putc(sb, '\'');
	for (const char *p = text; *p; p++) {
		if (*p == '\'')
			strbuf_putc(sb, '\'');
		strbuf_putc(sb, *p);
	}
	strbuf_putc(sb, '\'');
}

static int64_t user_by_login(struct crm_ctx *ctx, const char *login)
{
	if (!meta_find_object(ctx->kernel->meta, "user"))
		return 0;
	struct strbuf filter = { 0 };
	strbuf_puts(&filter, "login = ");
	quote_literal(&filter, login);
	json_t *records = system_query(ctx, "user", filter.data, 1);
	strbuf_free(&filter);
	int64_t id = json_integer_value(json_object_get(json_array_get(records, 0), "id"));
	json_decref(records);
	crm_error_reset(ctx);
	return id;
}

/* A field of user user_id, read as the system (new reference; NULL if none). */
static json_t *user_field(struct crm_ctx *ctx, int64_t user_id, const char *field)
{
	const struct meta_object *users = meta_find_object(ctx->kernel->meta, "user");
	if (!user_id || !users || !meta_find_field(users, field))
		return NULL;
	struct store_conn *conn = ctx->txn ? ctx->txn : store_reader(ctx->kernel->store);
	json_t *user = NULL, *value = NULL;
	if (store_get(conn, users, user_id, false, &user, ctx) == CRM_OK)
		value = json_incref(json_object_get(user, field));
	if (conn != ctx->txn)
		store_reader_done(conn);
	json_decref(user);
	crm_error_forget(ctx);
	return value;
}

/* A ref field (manager, team) of user user_id, read as the system; 0 if none. */
static int64_t user_ref(struct crm_ctx *ctx, int64_t user_id, const char *field)
{
	json_t *value = user_field(ctx, user_id, field);
	int64_t id = json_integer_value(value);
	json_decref(value);
	return id;
}

static int64_t manager_of(struct crm_ctx *ctx, int64_t user_id)
{
	return user_ref(ctx, user_id, "manager");
}

static int64_t team_of(struct crm_ctx *ctx, int64_t user_id)
{
	return user_ref(ctx, user_id, "team");
}

/* ---- notifications ------------------------------------------------------- */

/* Creates an in-app notification for user (0: nobody, nothing happens). */
static int notify_user(struct crm_ctx *ctx, int64_t user, const char *title, const char *object, int64_t id)
{
	if (!user || !meta_find_object(ctx->kernel->meta, "notification"))
		return CRM_OK;
	json_t *values = json_pack("{s:I, s:s}", "user", (json_int_t)user, "title", title);
	const struct meta_object *notification = meta_find_object(ctx->kernel->meta, "notification");
	if (object && meta_find_field(notification, "object_name"))
		json_object_set_new(values, "object_name", json_string(object));
	if (id && meta_find_field(notification, "record_id"))
		json_object_set_new(values, "record_id", json_integer(id));
	int64_t created;
	int code = system_create(ctx, "notification", values, &created);
	json_decref(values);
	return code;
}

/* ---- actions ------------------------------------------------------------- */

/* What the actions of one firing share. */
struct run {
	struct crm_ctx *ctx;
	const struct meta_object *object;
	const struct meta_workflow *workflow;
	const char *what;           /* "transition 'x'" or "timer 'y'", for messages */
	int64_t id;
	json_t *record;             /* the record with the given values applied (borrowed) */
	json_t *pending;            /* owned: values written with the new state */
	json_t *created;            /* owned: object name -> id of records created by earlier actions */
	json_t *owners;             /* owned while the actions run: [{object, id, owner}] to assign after them */
	int64_t requester;          /* who asked (notify: requester) */
	const char *state;          /* a transition's target state (written after the actions), or NULL */
	time_t now;
	/* timers: a transition action that may not fire on this record now (the record is skipped), and why */
	const char *skipped;        /* the transition's name (the model's), or NULL */
	char skip_reason[600];
};

/* A value of an action: a literal, or $record.<field>, $created.<object>, $me, $now, $today. New reference. */
static json_t *resolve_value(struct run *run, json_t *value)
{
	const char *text = json_string_value(value);
	char buffer[32];
	if (!text || text[0] != '$')
		return json_incref(value);
	if (!strncmp(text, "$record.", 8)) {
		json_t *v = json_object_get(run->pending, text + 8);
		if (!v)
			v = json_object_get(run->record, text + 8);
		return v ? json_incref(v) : json_null();
	}
	if (!strncmp(text, "$created.", 9)) {
		json_t *v = json_object_get(run->created, text + 9);
		return v ? json_incref(v) : json_null();
	}
	if (!strcmp(text, "$me"))
		return run->ctx->user_id > 0 ? json_integer(run->ctx->user_id) : json_null();
	if (!strcmp(text, "$now")) {
		time_text(run->now, buffer, sizeof(buffer));
		return json_string(buffer);
	}
	if (!strcmp(text, "$today")) {
		time_text(run->now, buffer, sizeof(buffer));
		buffer[10] = '\0';
		return json_string(buffer);
	}
	return json_incref(value);
}

static json_t *resolve_values(struct run *run, json_t *values)
{
	json_t *out = json_object();
	const char *key;
	json_t *value;
	json_object_foreach(values, key, value)
		json_object_set_new(out, key, resolve_value(run, value));
	return out;
}

static int64_t notify_target(struct run *run, const char *who)
{
	int64_t owner = json_integer_value(json_object_get(run->record, "owner"));
	if (!strcmp(who, "owner"))
		return owner;
	if (!strcmp(who, "manager"))
		return manager_of(run->ctx, owner);
	if (!strcmp(who, "requester"))
		return run->requester;
	if (!strncmp(who, "user:", 5))
		return user_by_login(run->ctx, who + 5);
	return 0;
}

static void failure_reason(struct crm_ctx *ctx, char *out, size_t size);

/*
 * { notify: who, channel: email, template: t }: an outbox e-mail to the
 * user's address, rendered from the record as the transition leaves it,
 * in the firing's transaction (sent after the commit). A user with no
 * address gets nothing, as nobody does.
 */
static int notify_email(struct run *run, const struct meta_workflow_action *action)
{
	struct crm_ctx *ctx = run->ctx;
	json_t *email = user_field(ctx, notify_target(run, action->notify), "email");
	int code = CRM_OK;
	if (json_is_string(email) && *json_string_value(email)) {
		json_t *record = json_deep_copy(run->record);
		json_object_update(record, run->pending);
		if (run->state)   /* an e-mail tells the state the transition moves to */
			json_object_set_new(record, run->workflow->field->name, json_string(run->state));
		code = outbox_send(ctx, "email", json_string_value(email), action->template_name, NULL, run->object->name,
		                   run->id, record, NULL);
		json_decref(record);
	}
	json_decref(email);
	if (code != CRM_OK) {
		char reason[600];
		failure_reason(ctx, reason, sizeof(reason));
		return crm_error(ctx, code, "%s: the e-mail to %s failed: %s", run->what, action->notify, reason);
	}
	return CRM_OK;
}

/*
 * Why the last call failed, in one piece: its message, and the first field
 * error's when the message only says the record was invalid. Copied out of
 * ctx, so that a new error may be written from it.
 */
static void failure_reason(struct crm_ctx *ctx, char *out, size_t size)
{
	json_t *first = json_array_get(ctx->field_errors, 0);
	const char *field = json_string_value(json_object_get(first, "field"));
	const char *message = json_string_value(json_object_get(first, "message"));
	if (message && field && *field)
		snprintf(out, size, "%s: %s", field, message);
	else if (message)
		snprintf(out, size, "%s", message);
	else
		snprintf(out, size, "%s", ctx->message[0] ? ctx->message : crm_status_name(ctx->status));
}

/* Who owns a record a create action made (action->owner), or 0 to leave the creator. */
static int64_t created_owner(struct run *run, const struct meta_workflow_action *action, int64_t caller)
{
	const char *who = action->owner ? action->owner : "record";
	if (strcmp(who, "caller") == 0)
		return caller;
	const char *field = strcmp(who, "record") == 0 ? "owner" : who;
	json_t *v = json_object_get(run->pending, field);
	if (!v)
		v = json_object_get(run->record, field);
	return json_is_integer(v) ? json_integer_value(v) : 0;
}

static int fire(struct crm_ctx *ctx, const struct meta_workflow *wf, const struct meta_transition *t, int64_t id,
                json_t *values, int64_t expected_version, bool privileged, int64_t requester, json_t **out,
                char request_out[33], bool *refused);

/*
 * A timer's { transition: name }: fires the transition of the timer's
 * workflow on the record inside the timer's transaction for it, as the
 * system, as workflow_fire would (its checks, hooks, actions and audit);
 * the values earlier `set` actions gathered go with it. If the record's
 * state, a pending approval, `require` or `when` stops it, the record is
 * skipped: run->skipped says why, and the timer rolls the record back.
 */
static int fire_from_timer(struct run *run, const struct meta_workflow_action *action)
{
	struct crm_ctx *ctx = run->ctx;
	const struct meta_transition *t = meta_find_transition(run->workflow, action->transition);
	if (!t)
		return crm_error(ctx, CRM_EINTERNAL, "%s: no transition '%s'", run->what, action->transition);
	json_t *after = NULL;
	char request[33] = "";
	bool refused = false;
	crm_error_reset(ctx);
	int code = fire(ctx, run->workflow, t, run->id, json_object_size(run->pending) ? run->pending : NULL, 0, false, 0,
	                &after, request, &refused);
	if (code != CRM_OK) {
		failure_reason(ctx, run->skip_reason, sizeof(run->skip_reason));
		if (refused) {
			run->skipped = t->name;
			return code;
		}
		return crm_error(ctx, code, "%s: transition '%s' failed: %s", run->what, t->name, run->skip_reason);
	}
	/* what later actions read ($record.<field>, the owner to notify) is the record as the transition left it */
	json_object_clear(run->pending);
	json_object_update(run->record, after);
	json_decref(after);
	return CRM_OK;
}

static int run_action_as(struct run *run, const struct meta_workflow_action *action, int64_t caller)
{
	struct crm_ctx *ctx = run->ctx;
	json_t *values, *result = NULL;
	int64_t new_id = 0;
	int code = CRM_OK;
	char title[300], reason[600];
	switch (action->kind) {
	case WORKFLOW_ACTION_SET:
		values = resolve_values(run, action->values);
		json_object_update(run->pending, values);
		json_decref(values);
		return CRM_OK;
	case WORKFLOW_ACTION_CREATE:
		values = resolve_values(run, action->values);
		code = object_create_id(ctx, action->object, values, &new_id);
		json_decref(values);
		if (code != CRM_OK) {
			failure_reason(ctx, reason, sizeof(reason));
			return crm_error(ctx, code, "%s: creating the %s failed: %s", run->what, action->object, reason);
		}
		json_object_set_new(run->created, action->object, json_integer(new_id));
		int64_t owner = created_owner(run, action, caller);
		if (owner)
			json_array_append_new(run->owners, json_pack("{s:s, s:I, s:I}", "object", action->object, "id",
			                                             (json_int_t)new_id, "owner", (json_int_t)owner));
		if (action->link)
			json_object_set_new(run->pending, action->link, json_integer(new_id));
		return CRM_OK;
	case WORKFLOW_ACTION_NOTIFY:
		if (action->email)
			return notify_email(run, action);
		if (action->message)
			snprintf(title, sizeof(title), "%s", action->message);
		else
			snprintf(title, sizeof(title), "%s #%lld: %s", run->object->name, (long long)run->id, run->what);
		return notify_user(ctx, notify_target(run, action->notify), title, run->object->name, run->id);
	case WORKFLOW_ACTION_PLUGIN:
		/* the run's clock: a timer run with `crm timer --at T` hands its code T, not the wall clock */
		time_text(run->now, title, sizeof(title));
		values = json_pack("{s:s, s:O, s:s}", "workflow", run->workflow->name, "values", run->pending, "now", title);
		code = plugin_action(ctx->kernel, ctx, action->plugin_action, run->object->name, run->id, values, &result);
		json_decref(values);
		json_decref(result);
		if (code != CRM_OK) {
			failure_reason(ctx, reason, sizeof(reason));
			return crm_error(ctx, code, "%s: action '%s' failed: %s", run->what, action->plugin_action, reason);
		}
		return CRM_OK;
	case WORKFLOW_ACTION_TRANSITION:
		return fire_from_timer(run, action);
	}
	return CRM_OK;
}

static int run_action(struct run *run, const struct meta_workflow_action *action)
{
	struct crm_ctx *ctx = run->ctx;
	int64_t caller = ctx->user_id > 0 ? ctx->user_id : ctx->on_behalf_of;
	/* as: system: every right for this action, audited on behalf of the caller */
	struct access_saved_caller saved = { 0 };
	if (action->as_system)
		access_become_system(ctx, &saved);
	int code = run_action_as(run, action, caller);
	if (action->as_system)
		access_become_caller(ctx, &saved);
	return code;
}

/*
 * Runs the actions in order, then gives each record a create action made its
 * owner (the record's owner by default): the engine assigns it, as the
 * system on behalf of the caller, once every action ran, so that later
 * actions still reach what earlier ones created.
 */
static int run_actions(struct run *run, const struct meta_workflow_action *actions, int count)
{
	struct crm_ctx *ctx = run->ctx;
	int code = CRM_OK;
	run->owners = json_array();
	for (int i = 0; i < count && code == CRM_OK; i++)
		code = run_action(run, &actions[i]);
	size_t k;
	json_t *item;
	json_array_foreach(run->owners, k, item) {
		if (code != CRM_OK)
			break;
		const char *object = json_string_value(json_object_get(item, "object"));
		int64_t id = json_integer_value(json_object_get(item, "id"));
		int64_t owner = json_integer_value(json_object_get(item, "owner"));
		json_t *record = NULL;
		struct access_saved_caller saved;
		access_become_system(ctx, &saved);
		if ((code = object_get(ctx, object, id, false, &record)) == CRM_OK
		    && json_integer_value(json_object_get(record, "owner")) != owner) {
			json_t *values = json_pack("{s:I}", "owner", (json_int_t)owner);
			code = object_update(ctx, object, id, 0, values, NULL);
			json_decref(values);
		}
		json_decref(record);
		access_become_caller(ctx, &saved);
		if (code != CRM_OK) {
			char reason[600];
			failure_reason(ctx, reason, sizeof(reason));
			code = crm_error(ctx, code, "%s: giving the new %s to its owner failed: %s", run->what, object, reason);
		}
	}
	json_decref(run->owners);
	run->owners = NULL;
	return code;
}

/* ---- firing -------------------------------------------------------------- */

static bool role_may_fire(struct crm_ctx *ctx, const struct meta_transition *t)
{
	if (t->role_count == 0 || access_is_admin(ctx))
		return true;
	const struct meta_role *role = ctx->access ? ctx->access->role : NULL;
	for (int i = 0; role && i < t->role_count; i++)
		if (strcmp(role->name, t->roles[i]) == 0)
			return true;
	return false;
}

/* True (in *out) if the condition holds on record; a failing evaluation is an error. */
static int condition_holds(struct crm_ctx *ctx, const struct meta_object *o, const struct expr *e, const char *text,
                           json_t *record, bool *out)
{
	struct expr_value result = { 0 };
	char err[256];
	json_t *user = ctx->access ? ctx->access->record : NULL;
	struct store_conn *conn = ctx->txn ? ctx->txn : store_reader(ctx->kernel->store);
	int code = eval_record(ctx, conn, o, e, record, user, &result, err, sizeof(err));
	if (conn != ctx->txn)
		store_reader_done(conn);
	if (code != CRM_OK)
		return crm_error(ctx, CRM_EINTERNAL, "condition '%s' failed: %s", text, err);
	*out = expr_truthy(&result);
	expr_value_clear(&result);
	return CRM_OK;
}

static bool approval_pending(struct crm_ctx *ctx, const char *object, int64_t id)
{
	if (!meta_find_object(ctx->kernel->meta, "approval"))
		return false;
	struct strbuf filter = { 0 };
	strbuf_printf(&filter, "object_name = '%s' and record_id = %lld and status = 'pending'", object, (long long)id);
	json_t *records = system_query(ctx, "approval", filter.data, 1);
	strbuf_free(&filter);
	bool pending = json_array_size(records) > 0;
	json_decref(records);
	crm_error_reset(ctx);
	return pending;
}

static bool blank(json_t *value)
{
	return !value || json_is_null(value) || (json_is_string(value) && json_string_length(value) == 0);
}

static int open_step(struct crm_ctx *ctx, const struct meta_workflow *wf, const struct meta_transition *t,
                     json_t *record, const char *request, int step, int64_t requester, json_t *values);

/*
 * The body of a firing, inside the caller's transaction. privileged: the
 * final approval fires as the system (roles, pending approvals and the
 * approval itself are behind it). *out: the record as written. *refused
 * (may be NULL) is set when the transition may not fire on the record now
 * (its state, a pending approval, the role, `require` or `when`), as
 * opposed to a failure of what firing does.
 */
static int fire(struct crm_ctx *ctx, const struct meta_workflow *wf, const struct meta_transition *t, int64_t id,
                json_t *values, int64_t expected_version, bool privileged, int64_t requester, json_t **out,
                char request_out[33], bool *refused)
{
	bool not_now = false;
	const struct meta_object *o = wf->object;
	json_t *record = NULL, *merged = NULL, *after = NULL;
	struct run run = { 0 };
	char what[200];
	bool allowed = false, holds = true;
	snprintf(what, sizeof(what), "transition '%s'", t->name);
	int code = access_load(ctx);
	if (code == CRM_OK)
		code = store_get(ctx->txn, o, id, false, &record, ctx);
	if (code == CRM_OK && (code = access_check(ctx, o, ACCESS_READ, record, &allowed)) == CRM_OK && !allowed)
		code = crm_error(ctx, CRM_ENOTFOUND, "no %s with id %lld", o->name, (long long)id);
	if (code == CRM_OK && (code = access_check(ctx, o, ACCESS_UPDATE, record, &allowed)) == CRM_OK && !allowed)
		code = crm_error(ctx, CRM_EDENIED, "your role may not change this %s, so it cannot fire '%s'", o->name, t->name);
	if (code != CRM_OK)
		goto done;
	int64_t version = json_integer_value(json_object_get(record, "version"));
	if (expected_version > 0 && version != expected_version) {
		code = crm_error(ctx, CRM_ECONFLICT, "record %s/%lld was changed by someone else (version %lld, expected %lld)",
		                 o->name, (long long)id, (long long)version, (long long)expected_version);
		goto done;
	}
	const char *state = json_string_value(json_object_get(record, wf->field->name));
	if (!meta_transition_leaves(wf, t, state)) {
		struct strbuf from = { 0 };
		for (int i = 0; i < t->from_count; i++)
			strbuf_printf(&from, "%s%s", i ? ", " : "", t->from[i]);
		code = crm_error(ctx, CRM_ESTATE, "transition '%s' cannot fire from state '%s' (it leaves %s)", t->name,
		                 state ? state : "(none)", t->from_any ? "every non-terminal state" : from.data);
		strbuf_free(&from);
		not_now = true;
		goto done;
	}
	if (!privileged && approval_pending(ctx, o->name, id)) {
		code = crm_error(ctx, CRM_ESTATE, "this %s is waiting for an approval; no transition fires until it is decided",
		                 o->name);
		not_now = true;
		goto done;
	}
	if (!privileged && !role_may_fire(ctx, t)) {
		not_now = true;
		struct strbuf roles = { 0 };
		for (int i = 0; i < t->role_count; i++)
			strbuf_printf(&roles, "%s%s", i ? ", " : "", t->roles[i]);
		code = crm_error(ctx, CRM_EDENIED, "transition '%s' is for the roles %s", t->name, roles.data);
		strbuf_free(&roles);
		goto done;
	}
	if (values && !json_is_object(values)) {
		code = crm_error(ctx, CRM_EINVAL, "the values of a transition must be a JSON object");
		goto done;
	}
	if (values && json_object_get(values, wf->field->name)) {
		crm_field_error(ctx, wf->field->name, "workflow", "is set by the transition ('%s' leads to '%s')", t->name, t->to);
		code = crm_error(ctx, CRM_EVALIDATION, "invalid values for transition '%s'", t->name);
		goto done;
	}
	merged = json_deep_copy(record);
	if (values)
		json_object_update(merged, values);
	for (int i = 0; i < t->require_count; i++)
		if (blank(json_object_get(merged, t->require[i])))
			crm_field_error(ctx, t->require[i], "required", "is required by transition '%s'", t->name);
	if (ctx->field_errors) {
		code = crm_error(ctx, CRM_EVALIDATION, "transition '%s' needs more fields", t->name);
		not_now = true;
		goto done;
	}
	if (t->when_expr && (code = condition_holds(ctx, o, t->when_expr, t->when, merged, &holds)) != CRM_OK)
		goto done;
	if (!holds) {
		/* the implementer's message if there is one; the end user never reads the raw expression */
		const char *why = meta_label_text(&t->message, "en", NULL);
		if (why) {
			crm_field_error(ctx, "", "guard", "%s", why);
			code = crm_error(ctx, CRM_EVALIDATION, "transition '%s' is not allowed now: %s", t->name, why);
		} else {
			crm_field_error(ctx, "", "guard", "the conditions of transition '%s' are not met", t->name);
			code = crm_error(ctx, CRM_EVALIDATION, "transition '%s' is not allowed now", t->name);
		}
		not_now = true;
		goto done;
	}
	if (t->approval && !privileged) {
		bool needed = true;
		if (t->approval->when_expr &&
		    (code = condition_holds(ctx, o, t->approval->when_expr, t->approval->when, merged, &needed)) != CRM_OK)
			goto done;
		if (needed) {
			unsigned char random[16];
			randombytes_buf(random, sizeof(random));
			sodium_bin2hex(request_out, 33, random, sizeof(random));
			code = open_step(ctx, wf, t, record, request_out, 0, ctx->user_id, values);
			if (code == CRM_OK)
				*out = json_incref(record);
			goto done;
		}
	}
	if (events_has(ctx->kernel->events, o, EVENT_BEFORE_TRANSITION)) {
		ctx->depth++;
		code = events_fire(ctx, EVENT_BEFORE_TRANSITION, o, values, record);
		ctx->depth--;
		if (code != CRM_OK)
			goto done;
	}
	run.ctx = ctx;
	run.object = o;
	run.workflow = wf;
	run.what = what;
	run.id = id;
	run.record = merged;
	run.pending = values ? json_deep_copy(values) : json_object();
	run.state = t->to;
	run.created = json_object();
	run.requester = requester;
	run.now = time(NULL);
	if ((code = run_actions(&run, t->actions, t->action_count)) != CRM_OK)
		goto done;
	json_object_set_new(run.pending, wf->field->name, json_string(t->to));
	if ((code = object_update_state(ctx, o->name, id, 0, run.pending, t->name, NULL)) != CRM_OK)
		goto done;
	if ((code = store_get(ctx->txn, o, id, false, &after, ctx)) != CRM_OK)
		goto done;
	if (events_has(ctx->kernel->events, o, EVENT_AFTER_TRANSITION)) {
		ctx->depth++;
		code = events_fire(ctx, EVENT_AFTER_TRANSITION, o, NULL, after);
		ctx->depth--;
		if (code != CRM_OK)
			goto done;
		/* the hooks may write the record again: answer with it as they left it */
		json_decref(after);
		after = NULL;
		if ((code = store_get(ctx->txn, o, id, false, &after, ctx)) != CRM_OK)
			goto done;
	}
	*out = after;
	after = NULL;
done:
	if (refused)
		*refused = not_now;
	json_decref(record);
	json_decref(merged);
	json_decref(after);
	json_decref(run.pending);
	json_decref(run.created);
	return code;
}

int workflow_fire(struct crm_ctx *ctx, const char *object, int64_t id, const char *name, json_t *values,
                  int64_t expected_version, json_t **out)
{
	crm_error_reset(ctx);
	const struct meta *meta = ctx->kernel->meta;
	const struct meta_object *o = object ? meta_find_object(meta, object) : NULL;
	if (!o)
		return crm_error(ctx, CRM_ENOTFOUND, "unknown object '%.64s'", object ? object : "");
	const struct meta_transition *t = NULL;
	const struct meta_workflow *wf = find_transition(meta, o, name ? name : "", &t);
	if (!wf)
		return crm_error(ctx, CRM_ENOTFOUND, "no transition '%.64s' on %s", name ? name : "", o->name);
	bool own = ctx->txn == NULL;
	int code = object_begin(ctx);
	if (code != CRM_OK)
		return code;
	json_t *record = NULL;
	char request[33] = "";
	code = fire(ctx, wf, t, id, values, expected_version, false, ctx->user_id, &record, request, NULL);
	code = finish(ctx, own, code);
	if (code != CRM_OK) {
		json_decref(record);
		return code;
	}
	access_strip(ctx, o, record);
	*out = json_pack("{s:s, s:s, s:o}", "transition", t->name, "status", request[0] ? "pending_approval" : "done",
	                 "record", record);
	if (request[0])
		json_object_set_new(*out, "request", json_string(request));
	return CRM_OK;
}

bool workflow_has_states(const struct meta *meta, const struct meta_object *object)
{
	for (int w = 0; w < meta->workflow_count; w++)
		if (meta->workflows[w].object == object && meta->workflows[w].field)
			return true;
	return false;
}

int workflow_available(struct crm_ctx *ctx, const char *object, json_t *record, json_t **names)
{
	const struct meta *meta = ctx->kernel->meta;
	const struct meta_object *o = meta_find_object(meta, object);
	json_t *list = json_array();
	if (!o) {
		*names = list;
		return CRM_OK;
	}
	int code = access_load(ctx);
	if (code != CRM_OK) {
		json_decref(list);
		return code;
	}
	int64_t id = json_integer_value(json_object_get(record, "id"));
	bool may_update = false, checked_pending = false, pending = false;
	for (int w = 0; w < meta->workflow_count; w++) {
		const struct meta_workflow *wf = &meta->workflows[w];
		if (wf->object != o || !wf->field)
			continue;
		const char *state = json_string_value(json_object_get(record, wf->field->name));
		for (int i = 0; i < wf->transition_count; i++) {
			const struct meta_transition *t = &wf->transitions[i];
			if (!meta_transition_leaves(wf, t, state) || !role_may_fire(ctx, t))
				continue;
			if (!checked_pending) {
				checked_pending = true;
				if ((code = access_check(ctx, o, ACCESS_UPDATE, record, &may_update)) != CRM_OK)
					may_update = false;
				pending = approval_pending(ctx, o->name, id);
			}
			if (!may_update || pending)
				break;
			bool holds = true;
			if (t->when_expr && condition_holds(ctx, o, t->when_expr, t->when, record, &holds) != CRM_OK)
				holds = false;
			if (holds)
				json_array_append_new(list, json_string(t->name));
		}
	}
	crm_error_reset(ctx);
	*names = list;
	return CRM_OK;
}

/* ---- approvals ----------------------------------------------------------- */

static void add_user(json_t *ids, int64_t id)
{
	size_t i;
	json_t *v;
	if (!id)
		return;
	json_array_foreach(ids, i, v)
		if (json_integer_value(v) == id)
			return;
	json_array_append_new(ids, json_integer(id));
}

/* The user a field:<path> approver names on record (0: none), read as the system. */
static int64_t user_at_path(struct crm_ctx *ctx, const struct meta_object *object, const char *path, json_t *record)
{
	struct expr *e = NULL;
	char err[256];
	int64_t id = 0;
	if (expr_parse(path, &e, err, sizeof(err)) != CRM_OK)
		return 0;
	struct store_conn *conn = context_reader(ctx);
	struct expr_value value = { 0 };
	if (eval_record(ctx, conn, object, e, record, NULL, &value, err, sizeof(err)) == CRM_OK && value.type == EV_INT)
		id = value.i;
	context_reader_done(ctx, conn);
	expr_value_clear(&value);
	expr_free(e);
	crm_error_forget(ctx);
	return id;
}

/*
 * The users who may approve step of t's approval on record (of object), as
 * an array of ids (owned); requester fired the transition.
 */
static json_t *step_approvers(struct crm_ctx *ctx, const struct meta_object *object,
                              const struct meta_approval_step *step, json_t *record, int64_t requester)
{
	json_t *ids = json_array();
	const struct meta_object *users = meta_find_object(ctx->kernel->meta, "user");
	for (int a = 0; users && a < step->approver_count; a++) {
		const struct meta_approver *approver = &step->approvers[a];
		int64_t owner = json_integer_value(json_object_get(record, "owner"));
		if (approver->kind == APPROVER_OWNER_MANAGER) {
			add_user(ids, manager_of(ctx, owner));
		} else if (approver->kind == APPROVER_REQUESTER_MANAGER) {
			add_user(ids, manager_of(ctx, requester));
		} else if (approver->kind == APPROVER_USER) {
			add_user(ids, user_by_login(ctx, approver->name));
		} else if (approver->kind == APPROVER_FIELD) {
			add_user(ids, user_at_path(ctx, object, approver->name, record));
		} else {
			struct strbuf filter = { 0 };
			strbuf_printf(&filter, "role = '%s'", approver->name);   /* a valid name: no quotes */
			if (approver->kind == APPROVER_ROLE_IN_OWNER_TEAM) {
				int64_t team = team_of(ctx, owner);
				/* an owner without a team has no team mates to approve */
				strbuf_printf(&filter, team ? " and team = %lld" : " and id = 0", (long long)team);
			}
			if (meta_find_field(users, "active"))
				strbuf_puts(&filter, " and (active is null or active = true)");
			json_t *records = system_query(ctx, "user", filter.data, MAX_APPROVERS);
			strbuf_free(&filter);
			size_t i;
			json_t *user;
			json_array_foreach(records, i, user)
				add_user(ids, json_integer_value(json_object_get(user, "id")));
			json_decref(records);
			crm_error_reset(ctx);
		}
	}
	return ids;
}

/* The approvers who approved earlier steps of request (they may not approve again). */
static json_t *request_records(struct crm_ctx *ctx, const char *request, const char *extra)
{
	struct strbuf filter = { 0 };
	strbuf_printf(&filter, "request = '%s'%s%s", request, extra ? " and " : "", extra ? extra : "");
	json_t *records = system_query(ctx, "approval", filter.data, OBJECT_MAX_LIMIT);
	strbuf_free(&filter);
	return records ? records : json_array();
}

/* Creates the approval records of step (0-based) and notifies their approvers. */
static int open_step(struct crm_ctx *ctx, const struct meta_workflow *wf, const struct meta_transition *t,
                     json_t *record, const char *request, int step, int64_t requester, json_t *values)
{
	const struct meta_approval *approval = t->approval;
	const struct meta_approval_step *s = &approval->steps[step];
	json_t *ids = step_approvers(ctx, wf->object, s, record, requester);
	json_t *earlier = step > 0 ? request_records(ctx, request, "status = 'approved'") : json_array();
	bool self = approval->self_approval || wf->self_approval;
	json_t *kept = json_array();
	size_t i, k;
	json_t *id, *old;
	json_array_foreach(ids, i, id) {
		bool skip = !self && json_integer_value(id) == requester;
		json_array_foreach(earlier, k, old)
			skip = skip || json_integer_value(json_object_get(old, "approver")) == json_integer_value(id);
		if (!skip)
			json_array_append(kept, id);
	}
	json_decref(ids);
	json_decref(earlier);
	int code = CRM_OK;
	int64_t record_id = json_integer_value(json_object_get(record, "id"));
	if (json_array_size(kept) == 0) {
		code = crm_error(ctx, CRM_EDENIED, "no one can approve step %d of transition '%s' (the requester may not "
		                 "approve their own request, nor one person two steps)", step + 1, t->name);
		json_decref(kept);
		return code;
	}
	char title[300];
	snprintf(title, sizeof(title), "Approval requested: %s #%lld, transition '%s' (step %d of %d)", wf->object->name,
	         (long long)record_id, t->name, step + 1, approval->step_count);
	json_array_foreach(kept, i, id) {
		json_t *fields = json_pack("{s:s, s:s, s:s, s:s, s:I, s:i, s:i, s:s, s:O, s:s}", "request", request,
		                           "workflow", wf->name, "transition", t->name, "object_name", wf->object->name,
		                           "record_id", (json_int_t)record_id, "step", step + 1, "steps", approval->step_count,
		                           "mode", s->all ? "all" : "any", "approver", id, "status", "pending");
		if (requester)
			json_object_set_new(fields, "requester", json_integer(requester));
		if (values)
			json_object_set(fields, "transition_values", values);
		int64_t created;
		code = system_create(ctx, "approval", fields, &created);
		json_decref(fields);
		if (code == CRM_OK)
			code = notify_user(ctx, json_integer_value(id), title, wf->object->name, record_id);
		if (code != CRM_OK)
			break;
	}
	json_decref(kept);
	return code;
}

/* Loads an approval for deciding: readable by the caller, theirs, pending. *out owned. */
static int load_decision(struct crm_ctx *ctx, int64_t approval_id, json_t **out)
{
	const struct meta_object *o = meta_find_object(ctx->kernel->meta, "approval");
	if (!o)
		return crm_error(ctx, CRM_ENOTFOUND, "unknown object 'approval'");
	json_t *approval = NULL;
	bool readable = false;
	int code = access_load(ctx);
	if (code == CRM_OK)
		code = store_get(ctx->txn, o, approval_id, false, &approval, ctx);
	if (code == CRM_OK && (code = access_check(ctx, o, ACCESS_READ, approval, &readable)) == CRM_OK && !readable)
		code = crm_error(ctx, CRM_ENOTFOUND, "no approval with id %lld", (long long)approval_id);
	if (code != CRM_OK) {
		json_decref(approval);
		return code;
	}
	int64_t approver = json_integer_value(json_object_get(approval, "approver"));
	int64_t requester = json_integer_value(json_object_get(approval, "requester"));
	const struct meta_workflow *wf = meta_find_workflow(ctx->kernel->meta,
	                                                    json_string_value(json_object_get(approval, "workflow")));
	const struct meta_transition *t = wf ? meta_find_transition(wf, json_string_value(json_object_get(approval,
	                                                                                    "transition"))) : NULL;
	bool self = (t && t->approval && t->approval->self_approval) || (wf && wf->self_approval);
	const char *status = json_string_value(json_object_get(approval, "status"));
	if (approver != ctx->user_id)
		code = crm_error(ctx, CRM_EDENIED, "only the approver this request was sent to may decide it");
	else if (requester == ctx->user_id && !self)
		code = crm_error(ctx, CRM_EDENIED, "the requester may not approve their own request");
	else if (!status || strcmp(status, "pending") != 0)
		code = crm_error(ctx, CRM_ESTATE, "this approval is already %s", status ? status : "decided");
	else if (!t || !t->approval)
		code = crm_error(ctx, CRM_ESTATE, "the transition of this approval no longer exists");
	if (code != CRM_OK) {
		json_decref(approval);
		return code;
	}
	*out = approval;
	return CRM_OK;
}

static json_t *decision(const char *status, const char *comment)
{
	char now[32];
	time_text(time(NULL), now, sizeof(now));
	json_t *changes = json_pack("{s:s, s:s}", "status", status, "decided_at", now);
	if (comment)
		json_object_set_new(changes, "comment", json_string(comment));
	return changes;
}

/* Sets every other pending approval of request (in step, if step > 0) to cancelled. */
static int cancel_pending(struct crm_ctx *ctx, const char *request, int step)
{
	char extra[64];
	snprintf(extra, sizeof(extra), step > 0 ? "status = 'pending' and step = %d" : "status = 'pending'", step);
	json_t *records = request_records(ctx, request, extra);
	size_t i;
	json_t *r;
	int code = CRM_OK;
	json_array_foreach(records, i, r) {
		json_t *changes = json_pack("{s:s}", "status", "cancelled");
		code = system_update(ctx, "approval", json_integer_value(json_object_get(r, "id")), changes);
		json_decref(changes);
		if (code != CRM_OK)
			break;
	}
	json_decref(records);
	return code;
}

static int decide(struct crm_ctx *ctx, int64_t approval_id, const char *comment, bool approve, json_t **out)
{
	crm_error_reset(ctx);
	bool own = ctx->txn == NULL;
	int code = object_begin(ctx);
	if (code != CRM_OK)
		return code;
	json_t *approval = NULL, *record = NULL, *fired = NULL;
	bool transitioned = false;
	if ((code = load_decision(ctx, approval_id, &approval)) != CRM_OK)
		goto done;
	const struct meta *meta = ctx->kernel->meta;
	const struct meta_workflow *wf = meta_find_workflow(meta, json_string_value(json_object_get(approval, "workflow")));
	const struct meta_transition *t = meta_find_transition(wf, json_string_value(json_object_get(approval, "transition")));
	const char *request = json_string_value(json_object_get(approval, "request"));
	int step = (int)json_integer_value(json_object_get(approval, "step"));
	int64_t record_id = json_integer_value(json_object_get(approval, "record_id"));
	int64_t requester = json_integer_value(json_object_get(approval, "requester"));
	json_t *changes = decision(approve ? "approved" : "rejected", comment);
	code = system_update(ctx, "approval", approval_id, changes);
	json_decref(changes);
	if (code != CRM_OK)
		goto done;
	if (!approve) {
		char title[300];
		if ((code = cancel_pending(ctx, request, 0)) != CRM_OK)
			goto done;
		snprintf(title, sizeof(title), "Rejected: %s #%lld, transition '%s'%s%s", wf->object->name,
		         (long long)record_id, t->name, comment ? ": " : "", comment ? comment : "");
		code = notify_user(ctx, requester, title, wf->object->name, record_id);
		goto done;
	}
	const struct meta_approval_step *s = &t->approval->steps[step - 1];
	if (s->all) {
		json_t *left = request_records(ctx, request, "status = 'pending'");
		bool open = json_array_size(left) > 0;
		json_decref(left);
		if (open)
			goto done;
	} else if ((code = cancel_pending(ctx, request, step)) != CRM_OK) {
		goto done;
	}
	if ((code = store_get(ctx->txn, wf->object, record_id, false, &record, ctx)) != CRM_OK)
		goto done;
	json_t *values = json_object_get(approval, "transition_values");
	if (step < t->approval->step_count) {
		code = open_step(ctx, wf, t, record, request, step, requester, json_is_object(values) ? values : NULL);
		goto done;
	}
	struct access_saved_caller saved;
	char unused[33] = "";
	access_become_system(ctx, &saved);
	code = fire(ctx, wf, t, record_id, json_is_object(values) ? values : NULL, 0, true, requester, &fired, unused,
	            NULL);
	access_become_caller(ctx, &saved);
	transitioned = code == CRM_OK;
	if (code == CRM_OK) {
		char title[300];
		snprintf(title, sizeof(title), "Approved: %s #%lld, transition '%s'", wf->object->name, (long long)record_id,
		         t->name);
		code = notify_user(ctx, requester, title, wf->object->name, record_id);
	}
done:
	json_decref(record);
	json_decref(fired);
	code = finish(ctx, own, code);
	if (code == CRM_OK) {
		json_t *after = NULL;
		if (object_get(ctx, "approval", approval_id, false, &after) == CRM_OK) {
			json_object_set_new(after, "transitioned", json_boolean(transitioned));
			*out = after;
		} else {
			crm_error_reset(ctx);
			*out = json_pack("{s:I, s:b}", "id", (json_int_t)approval_id, "transitioned", transitioned);
		}
	}
	json_decref(approval);
	return code;
}

int workflow_approve(struct crm_ctx *ctx, int64_t approval_id, const char *comment, json_t **out)
{
	return decide(ctx, approval_id, comment, true, out);
}

int workflow_reject(struct crm_ctx *ctx, int64_t approval_id, const char *comment, json_t **out)
{
	return decide(ctx, approval_id, comment, false, out);
}

/* ---- timers -------------------------------------------------------------- */

static void timer_key(const struct meta_workflow *wf, const struct meta_timer *timer, char *out, size_t len)
{
	snprintf(out, len, "workflow_timer.%s.%s", wf->name, timer->name);
}

static json_t *timer_state(struct crm_kernel *kernel, const char *key)
{
	struct store_conn *conn = store_reader(kernel->store);
	char *text = NULL;
	json_t *state = NULL;
	if (store_setting_get(conn, key, &text) == CRM_OK && text)
		state = json_loads(text, 0, NULL);
	store_reader_done(conn);
	free(text);
	return json_is_object(state) ? state : (json_decref(state), json_object());
}

static void timer_save(struct crm_kernel *kernel, const char *key, json_t *state)
{
	struct crm_ctx ctx;
	struct store_conn *conn;
	crm_ctx_init(&ctx, kernel, 0, "timer");
	char *text = json_dumps(state, JSON_COMPACT);
	if (store_begin(kernel->store, &conn, &ctx) == CRM_OK) {
		if (store_setting_set(conn, key, text) == CRM_OK)
			store_commit(conn, &ctx);
		else
			store_rollback(conn);
	}
	free(text);
	crm_ctx_clear(&ctx);
}

static int collect_id(void *arg, json_t *record)
{
	json_array_append(arg, json_object_get(record, "id"));
	return 0;
}

/* ---- clocks: a timer's deadline that pauses (due, pause_when, calendar) ---- */

/* A stored datetime ("2026-12-04T09:00:00Z", seconds optional) as Unix seconds; false if it is none. */
static bool parse_utc(const char *text, int64_t *out)
{
	int y, mo, d, h, mi, sec = 0, n = 0;
	if (!text || sscanf(text, "%4d-%2d-%2dT%2d:%2d%n", &y, &mo, &d, &h, &mi, &n) != 5)
		return false;
	if (text[n] == ':' && sscanf(text + n + 1, "%2d", &sec) != 1)
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return false;
	*out = calendar_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	return true;
}

static int clock_holidays(void *arg, const char *calendar, const char *from_day, struct calendar_holiday *out,
                          int max, int *count)
{
	return store_holidays(arg, calendar, from_day, out, max, count);
}

/* The ids of the live records of wf's object matching filter, as the system. */
static json_t *clock_ids(struct crm_ctx *c, const struct meta_workflow *wf, const char *filter, int *code)
{
	struct object_query query = { .filter = filter, .sort = "id" };
	json_t *ids = json_array();
	*code = object_query_each(c, wf->object->name, &query, collect_id, ids);
	return ids;
}

/*
 * The clock of a timer with pause_when, at now: records on which it now
 * holds get paused_since = now; records on which it no longer holds get the
 * time since paused_since (business minutes of the timer's calendar, or
 * wall-clock minutes) added to paused_minutes and to due, and paused_since
 * cleared. Each record in a transaction of its own; outer as in timer_run.
 */
static int clock_pauses(struct crm_ctx *c, bool outer, const struct meta_workflow *wf, const struct meta_timer *timer,
                        time_t now, char *error, size_t errlen)
{
	char at[32];
	time_text(now, at, sizeof(at));
	struct strbuf filter = { 0 };
	int code;
	const struct meta_calendar *calendar = meta_find_calendar(c->kernel->meta, timer->calendar);
	for (int resume = 0; resume < 2; resume++) {
		filter.len = 0;
		if (resume)
			strbuf_printf(&filter, "not (%s) and %s is not null", timer->pause_when, timer->paused_since);
		else
			strbuf_printf(&filter, "(%s) and %s is null and %s is not null", timer->pause_when, timer->paused_since,
			              timer->due);
		json_t *ids = clock_ids(c, wf, filter.data, &code);
		size_t i;
		json_t *id;
		json_array_foreach(ids, i, id) {
			if (code != CRM_OK || (code = object_begin(c)) != CRM_OK)
				break;
			json_t *record = NULL, *changes = NULL;
			code = store_get(c->txn, wf->object, json_integer_value(id), false, &record, c);
			if (code == CRM_OK && !resume) {
				changes = json_pack("{s:s}", timer->paused_since, at);
			} else if (code == CRM_OK) {
				int64_t since = 0, due = 0, minutes = 0, pushed = 0;
				char text[32];
				bool timed = parse_utc(json_string_value(json_object_get(record, timer->paused_since)), &since);
				bool dated = parse_utc(json_string_value(json_object_get(record, timer->due)), &due);
				if (timed && calendar) {
					struct calendar_holidays holidays = { clock_holidays, c->txn };
					char why[200];
					if (calendar_minutes_between(&calendar->calendar, &holidays, since, now, &minutes, why,
					                             sizeof(why)) != 0
					    || (dated && calendar_add_minutes(&calendar->calendar, &holidays, due, minutes, &pushed, why,
					                                      sizeof(why)) != 0))
						code = crm_error(c, CRM_EINVAL, "%s", why);
				} else if (timed) {
					minutes = now > since ? (now - since) / 60 : 0;
					pushed = due + minutes * 60;
				}
				changes = json_pack("{s:n, s:I}", timer->paused_since, timer->paused_minutes,
				                    (json_int_t)(json_integer_value(json_object_get(record, timer->paused_minutes))
				                                 + minutes));
				if (dated && timed) {
					time_text((time_t)pushed, text, sizeof(text));
					json_object_set_new(changes, timer->due, json_string(text));
				}
			}
			if (code == CRM_OK)
				code = object_update(c, wf->object->name, json_integer_value(id), 0, changes, NULL);
			if (code == CRM_OK)
				code = object_commit(c);
			else if (outer)
				c->txn_depth--;
			else
				object_rollback(c);
			if (code != CRM_OK)
				snprintf(error, errlen, "%s #%lld (clock of timer '%s'): %s", wf->object->name,
				         (long long)json_integer_value(id), timer->name, c->message);
			json_decref(record);
			json_decref(changes);
		}
		if (code != CRM_OK && !error[0])
			snprintf(error, errlen, "%s", c->message);
		json_decref(ids);
		if (code != CRM_OK)
			break;
	}
	strbuf_free(&filter);
	return code;
}

/*
 * One run of a timer at now: the actions on each matching record, each in
 * its own transaction. *touched: the records done; *skipped: those a
 * transition action may not move now (skip: why, for the first of them).
 */
/*
 * One run of a timer. outer NULL: the server's way, each record in a
 * transaction of its own as the system. outer given (crm.test.timer): inside
 * the caller's transaction, so that a test sees what it wrote; the first
 * record that fails ends the run.
 */
static int timer_run(struct crm_kernel *kernel, struct crm_ctx *outer, const struct meta_workflow *wf,
                     const struct meta_timer *timer, time_t now, int64_t *touched, int64_t *skipped, char *skip,
                     size_t skiplen, char *error, size_t errlen)
{
	struct crm_ctx own, *c = outer ? outer : &own;
	char request_id[160], cutoff[32];
	snprintf(request_id, sizeof(request_id), "timer:%s.%s", wf->name, timer->name);
	if (!outer)
		crm_ctx_init(&own, kernel, 0, request_id);
	struct strbuf filter = { 0 };
	*touched = 0;
	*skipped = 0;
	error[0] = '\0';
	if (timer->pause_when) {
		int paused = clock_pauses(c, outer != NULL, wf, timer, now, error, errlen);
		if (paused != CRM_OK) {
			if (!outer)
				crm_ctx_clear(&own);
			return paused;
		}
	}
	if (timer->when)
		strbuf_printf(&filter, "(%s)", timer->when);
	if (timer->due) {
		/* a clock fires once its deadline has passed at the run's time, and not while paused */
		time_text(now, cutoff, sizeof(cutoff));
		strbuf_printf(&filter, "%s%s is not null and %s <= '%s'", filter.len ? " and " : "", timer->due, timer->due,
		              cutoff);
		if (timer->paused_since)
			strbuf_printf(&filter, " and %s is null", timer->paused_since);
	}
	if (timer->untouched_for) {
		time_text(now - (time_t)timer->untouched_for, cutoff, sizeof(cutoff));
		strbuf_printf(&filter, "%supdated_at < '%s'", filter.len ? " and " : "", cutoff);
	}
	struct object_query query = { .filter = filter.len ? filter.data : NULL, .sort = "id" };
	json_t *ids = json_array();
	int code = object_query_each(c, wf->object->name, &query, collect_id, ids);
	strbuf_free(&filter);
	int first_error = CRM_OK;
	*touched = 0;
	*skipped = 0;
	if (code != CRM_OK) {
		snprintf(error, errlen, "%s", c->message);
		first_error = code;
	}
	size_t i;
	json_t *id;
	char what[200];
	snprintf(what, sizeof(what), "timer '%s'", timer->name);
	json_array_foreach(ids, i, id) {
		if (first_error != CRM_OK && code != CRM_OK)
			break;
		json_t *record = NULL;
		struct run run = { 0 };
		if ((code = object_begin(c)) != CRM_OK)
			break;
		code = store_get(c->txn, wf->object, json_integer_value(id), false, &record, c);
		if (code == CRM_OK) {
			run = (struct run){ .ctx = c, .object = wf->object, .workflow = wf, .what = what,
			                    .id = json_integer_value(id), .record = record, .pending = json_object(),
			                    .created = json_object(), .now = now };
			code = run_actions(&run, timer->actions, timer->action_count);
			if (code == CRM_OK && json_object_size(run.pending) > 0)
				code = object_update(c, wf->object->name, run.id, 0, run.pending, NULL);
		}
		if (code == CRM_OK)
			code = object_commit(c);
		else if (outer)
			c->txn_depth--;   /* the caller's transaction: it decides (a test rolls it back) */
		else
			object_rollback(c);
		if (code == CRM_OK) {
			(*touched)++;
		} else if (run.skipped) {
			if ((*skipped)++ == 0)
				snprintf(skip, skiplen, "%s #%lld: transition '%s' does not fire: %s", wf->object->name,
				         (long long)run.id, run.skipped, run.skip_reason);
			crm_error_reset(c);
		} else if (first_error == CRM_OK) {
			first_error = code;
			json_t *field_error = json_array_get(c->field_errors, 0);
			snprintf(error, errlen, "%s #%lld: %s%s%s%s%s%s", wf->object->name, (long long)json_integer_value(id),
			         c->message, field_error ? " (" : "",
			         field_error ? json_string_value(json_object_get(field_error, "field")) : "",
			         field_error ? ": " : "",
			         field_error ? json_string_value(json_object_get(field_error, "message")) : "",
			         field_error ? ")" : "");
		}
		code = CRM_OK;
		json_decref(record);
		json_decref(run.pending);
		json_decref(run.created);
	}
	json_decref(ids);
	if (!outer)
		crm_ctx_clear(&own);
	return first_error;
}

int workflow_timer_run(struct crm_ctx *ctx, const char *workflow, const char *timer, time_t now, int64_t *touched)
{
	const struct meta *meta = ctx->kernel->meta;
	for (int w = 0; w < meta->workflow_count; w++) {
		const struct meta_workflow *wf = &meta->workflows[w];
		if (!wf->object || strcmp(wf->name, workflow) != 0)
			continue;
		for (int t = 0; t < wf->timer_count; t++) {
			if (strcmp(wf->timers[t].name, timer) != 0)
				continue;
			int64_t skipped = 0;
			char skip[300] = "", error[600] = "";
			int code = timer_run(ctx->kernel, ctx, wf, &wf->timers[t], now, touched, &skipped, skip, sizeof(skip),
			                     error, sizeof(error));
			return code == CRM_OK ? CRM_OK : crm_error(ctx, code, "timer %s.%s: %s", workflow, timer, error);
		}
	}
	return crm_error(ctx, CRM_ENOTFOUND, "no timer '%.64s' in a workflow '%.64s'", timer, workflow);
}

void workflow_timers_tick(struct crm_kernel *kernel, time_t now)
{
	const struct meta *meta = kernel->meta;
	for (int w = 0; w < meta->workflow_count; w++) {
		const struct meta_workflow *wf = &meta->workflows[w];
		for (int t = 0; wf->object && t < wf->timer_count; t++) {
			const struct meta_timer *timer = &wf->timers[t];
			char key[200], start[32], end[32], error[600] = "";
			timer_key(wf, timer, key, sizeof(key));
			json_t *state = timer_state(kernel, key);
			json_t *next = json_object_get(state, "next_run");
			if (timer->timed && !json_is_integer(next)) {
				/* at/cron: the first slot after the timer first appears, not at once; kept across restarts */
				json_object_set_new(state, "next_run", json_integer((json_int_t)cron_next(&timer->cron, now)));
				timer_save(kernel, key, state);
				json_decref(state);
				continue;
			}
			if (json_is_integer(next) && now < (time_t)json_integer_value(next)) {
				json_decref(state);
				continue;
			}
			int64_t touched = 0, skipped = 0;
			char skip[800] = "";
			time_t started = time(NULL);
			int code = timer_run(kernel, NULL, wf, timer, now, &touched, &skipped, skip, sizeof(skip), error,
			                     sizeof(error));
			time_text(now, start, sizeof(start));
			time_text(now + (time(NULL) - started), end, sizeof(end));
			int64_t runs = json_integer_value(json_object_get(state, "runs")) + 1;
			int64_t failures = json_integer_value(json_object_get(state, "failures"));
			int64_t consecutive = json_integer_value(json_object_get(state, "consecutive_failures"));
			/* every: from now; at/cron: the next slot (a slot missed while the server was down ran just now, once) */
			int64_t delay = timer->timed ? (int64_t)(cron_next(&timer->cron, now) - now) : timer->every;
			if (code != CRM_OK) {
				failures++;
				consecutive++;
				delay = TIMER_RETRY_SECONDS;
				for (int64_t k = 1; k < consecutive && delay < timer->every; k++)
					delay *= 2;
				if (delay > timer->every)
					delay = timer->every;
				fprintf(kernel->log, "crm: timer %s.%s failed (%lld records done, retry in %lld s): %s\n", wf->name,
				        timer->name, (long long)touched, (long long)delay, error);
			} else {
				consecutive = 0;
				if (touched)
					fprintf(kernel->log, "crm: timer %s.%s: %lld records\n", wf->name, timer->name, (long long)touched);
			}
			if (skipped)
				fprintf(kernel->log, "crm: timer %s.%s skipped %lld records (the first: %s)\n", wf->name, timer->name,
				        (long long)skipped, skip);
			json_t *fresh = json_pack("{s:I, s:I, s:I, s:s, s:s, s:I, s:I, s:s?, s:s?, s:I}", "runs", (json_int_t)runs,
			                          "failures", (json_int_t)failures, "consecutive_failures", (json_int_t)consecutive,
			                          "last_start", start, "last_end", end, "last_touched", (json_int_t)touched,
			                          "last_skipped", (json_int_t)skipped, "last_skip", skipped ? skip : NULL,
			                          "last_error", code != CRM_OK ? error : NULL, "next_run",
			                          (json_int_t)(now + delay));
			timer_save(kernel, key, fresh);
			json_decref(fresh);
			json_decref(state);
		}
	}
}

json_t *workflow_timer_stats(struct crm_kernel *kernel)
{
	const struct meta *meta = kernel->meta;
	json_t *list = json_array();
	for (int w = 0; w < meta->workflow_count; w++) {
		const struct meta_workflow *wf = &meta->workflows[w];
		for (int t = 0; t < wf->timer_count; t++) {
			char key[200];
			timer_key(wf, &wf->timers[t], key, sizeof(key));
			json_t *state = timer_state(kernel, key);
			json_object_set_new(state, "workflow", json_string(wf->name));
			json_object_set_new(state, "timer", json_string(wf->timers[t].name));
			json_object_set_new(state, "every", json_integer(wf->timers[t].every));
			json_array_append_new(list, state);
		}
	}
	return list;
}
