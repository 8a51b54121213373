/*
 * events.h - the kernel's hook registry: before/after create, update,
 * delete, restore and transition, per object, in registration order (the
 * plugin host registers in plugin dependency order).
 *
 * The object API fires the hooks; plugins (Lua or C) register them through
 * the plugin host, only while loading. A before-hook may change the incoming
 * values or refuse the write with a message (the client gets a 422). After-
 * hooks run inside the write's transaction (an error rolls everything back)
 * unless registered async: those run after the COMMIT, outside it, and
 * their errors are logged, never returned.
 */
#ifndef CRM_EVENTS_H
#define CRM_EVENTS_H

#include "crm.h"

struct meta;
struct meta_object;

enum event_kind {
	EVENT_BEFORE_CREATE, EVENT_AFTER_CREATE,
	EVENT_BEFORE_UPDATE, EVENT_AFTER_UPDATE,
	EVENT_BEFORE_DELETE, EVENT_AFTER_DELETE,
	EVENT_BEFORE_RESTORE, EVENT_AFTER_RESTORE,
	EVENT_BEFORE_TRANSITION, EVENT_AFTER_TRANSITION,
	EVENT_KIND_COUNT
};

/* "before_create", ...; NULL if out of range. */
const char *events_kind_name(enum event_kind kind);
/* The kind named name, or -1. */
int events_kind_from_name(const char *name);

/*
 * A hook. values: the incoming values (before_create/before_update: the hook
 * may change them in place; NULL for other kinds). record: the current
 * stored record (before_update/delete/restore/transition), the record as
 * written (after_*), NULL for before_create. Both are borrowed for the call.
 * Return CRM_OK, or an error code with the message set in ctx (crm_error):
 * a before-hook's refusal should use CRM_EVALIDATION or CRM_EDENIED.
 */
typedef int (*event_fn)(void *data, struct crm_ctx *ctx, enum event_kind kind,
                        const struct meta_object *object, json_t *values, json_t *record);

struct events;

struct events *events_new(const struct meta *meta);
void events_free(struct events *events);

/*
 * Registers fn for kind on object (NULL = every object). owner names the
 * plugin (for stats and messages; borrowed, must outlive events). async
 * applies to after_* kinds only. data is passed back to fn (borrowed).
 * Returns CRM_OK, or CRM_ENOTFOUND for an unknown object, CRM_EINVAL for
 * async on a before-hook.
 */
int events_register(struct events *events, const char *object, enum event_kind kind, bool async,
                    const char *owner, event_fn fn, void *data);

/* True if any hook is registered for kind on object (cheap). */
bool events_has(const struct events *events, const struct meta_object *object, enum event_kind kind);

/*
 * Runs the hooks for kind on object. Synchronous hooks run now, in order;
 * the first error stops the chain and is returned. Async hooks are queued
 * on ctx (with a copy of record) and run by events_committed.
 */
int events_fire(struct crm_ctx *ctx, enum event_kind kind, const struct meta_object *object,
                json_t *values, json_t *record);
/*
 * After a durable COMMIT: runs the queued async hooks (errors are logged),
 * each in a context of its own that clear (the object API's crm_ctx_clear,
 * handed down so that events need not call up) releases afterwards.
 */
void events_committed(struct crm_ctx *ctx, void (*clear)(struct crm_ctx *ctx));
/* After a ROLLBACK: drops the queued async hooks. */
void events_rolled_back(struct crm_ctx *ctx);

/* Per hook: owner, object, kind, calls, total and max microseconds, errors. *out owned. */
json_t *events_stats(const struct events *events);

#endif
