/*
 * events.c - the hook registry (see events.h). Registration happens while
 * plugins load, before any request; afterwards the table is read-only
 * except for the per-hook counters, which are atomics.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "events.h"
#include "context.h"
#include "meta_model.h"

struct hook {
	const struct meta_object *object;   /* NULL = every object */
	enum event_kind kind;
	bool async;
	const char *owner;
	event_fn fn;
	void *data;
	atomic_llong calls, errors, total_us, max_us;
};

struct events {
	const struct meta *meta;
	int count, cap;
	struct hook *hooks;
	/* bit (object index * EVENT_KIND_COUNT + kind) set when a hook may apply */
	unsigned char *present;
	bool any_global[EVENT_KIND_COUNT];
};

static const char *const kind_names[] = {
	"before_create", "after_create", "before_update", "after_update", "before_delete",
	"after_delete", "before_restore", "after_restore", "before_transition", "after_transition",
};

const char *events_kind_name(enum event_kind kind)
{
	return (unsigned)kind < EVENT_KIND_COUNT ? kind_names[kind] : NULL;
}

int events_kind_from_name(const char *name)
{
	for (int i = 0; i < EVENT_KIND_COUNT; i++)
		if (strcmp(kind_names[i], name) == 0)
			return i;
	return -1;
}

struct events *events_new(const struct meta *meta)
{
	struct events *events = xcalloc(1, sizeof(*events));
	events->meta = meta;
	events->present = xcalloc((size_t)meta->object_count * EVENT_KIND_COUNT + 1, 1);
	return events;
}

void events_free(struct events *events)
{
	if (!events)
		return;
	free(events->hooks);
	free(events->present);
	free(events);
}

int events_register(struct events *events, const char *object, enum event_kind kind, bool async,
                    const char *owner, event_fn fn, void *data)
{
	if ((unsigned)kind >= EVENT_KIND_COUNT)
		return CRM_EINVAL;
	const struct meta_object *o = NULL;
	if (object && !(o = meta_find_object(events->meta, object)))
		return CRM_ENOTFOUND;
	if (async && kind % 2 == 0)
		return CRM_EINVAL; /* before-hooks decide the write: they cannot wait for it */
	if (events->count == events->cap) {
		/* Hooks are registered before serving starts: growing is safe. */
		events->cap = events->cap ? events->cap * 2 : 16;
		events->hooks = xrealloc(events->hooks, (size_t)events->cap * sizeof(*events->hooks));
	}
	struct hook *h = &events->hooks[events->count++];
	memset(h, 0, sizeof(*h));
	h->object = o;
	h->kind = kind;
	h->async = async;
	h->owner = owner;
	h->fn = fn;
	h->data = data;
	if (o)
		events->present[(o - events->meta->objects) * EVENT_KIND_COUNT + kind] = 1;
	else
		events->any_global[kind] = true;
	return CRM_OK;
}

bool events_has(const struct events *events, const struct meta_object *object, enum event_kind kind)
{
	if (!events)
		return false;
	return events->any_global[kind]
		|| events->present[(object - events->meta->objects) * EVENT_KIND_COUNT + kind];
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int call(struct hook *h, struct crm_ctx *ctx, const struct meta_object *object, json_t *values,
                json_t *record)
{
	int64_t start = now_us();
	int code = h->fn(h->data, ctx, h->kind, object, values, record);
	long long spent = now_us() - start;
	atomic_fetch_add(&h->calls, 1);
	atomic_fetch_add(&h->total_us, spent);
	long long max = atomic_load(&h->max_us);
	while (spent > max && !atomic_compare_exchange_weak(&h->max_us, &max, spent))
		;
	if (code != CRM_OK)
		atomic_fetch_add(&h->errors, 1);
	return code;
}

int events_fire(struct crm_ctx *ctx, enum event_kind kind, const struct meta_object *object,
                json_t *values, json_t *record)
{
	struct events *events = ctx->kernel->events;
	if (!events_has(events, object, kind))
		return CRM_OK;
	for (int i = 0; i < events->count; i++) {
		struct hook *h = &events->hooks[i];
		if (h->kind != kind || (h->object && h->object != object))
			continue;
		if (h->async) {
			if (!ctx->async_queue)
				ctx->async_queue = json_array();
			json_array_append_new(ctx->async_queue,
				json_pack("{s:I, s:I, s:O?}", "hook", (json_int_t)i,
				          "object", (json_int_t)(object - events->meta->objects), "record", record));
			continue;
		}
		int code = call(h, ctx, object, values, record);
		if (code != CRM_OK) {
			if (ctx->status == CRM_OK || ctx->message[0] == '\0')
				crm_error(ctx, code, "%s hook of plugin '%s' failed", kind_names[kind], h->owner ? h->owner : "?");
			return code;
		}
	}
	return CRM_OK;
}

void events_committed(struct crm_ctx *ctx, void (*clear)(struct crm_ctx *ctx))
{
	json_t *queue = ctx->async_queue;
	if (!queue)
		return;
	ctx->async_queue = NULL;
	struct events *events = ctx->kernel->events;
	size_t i;
	json_t *item;
	json_array_foreach(queue, i, item) {
		struct hook *h = &events->hooks[json_integer_value(json_object_get(item, "hook"))];
		const struct meta_object *object = &events->meta->objects[json_integer_value(json_object_get(item, "object"))];
		/* An async hook runs in its own context: its errors belong to no request. */
		struct crm_ctx hook_ctx;
		crm_ctx_init(&hook_ctx, ctx->kernel, ctx->user_id, ctx->request_id);
		hook_ctx.depth = ctx->depth + 1;
		int code = call(h, &hook_ctx, object, NULL, json_object_get(item, "record"));
		if (code != CRM_OK)
			fprintf(ctx->kernel->log, "crm: async %s hook of plugin '%s' on %s failed: %s\n",
			        kind_names[h->kind], h->owner ? h->owner : "?", object->name, hook_ctx.message);
		clear(&hook_ctx);
	}
	json_decref(queue);
}

void events_rolled_back(struct crm_ctx *ctx)
{
	json_decref(ctx->async_queue);
	ctx->async_queue = NULL;
}

json_t *events_stats(const struct events *events)
{
	json_t *out = json_array();
	for (int i = 0; events && i < events->count; i++) {
		const struct hook *h = &events->hooks[i];
		json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I}",
			"plugin", h->owner ? h->owner : "", "object", h->object ? h->object->name : "*",
			"event", kind_names[h->kind], "async", h->async,
			"calls", (json_int_t)atomic_load(&h->calls), "errors", (json_int_t)atomic_load(&h->errors),
			"total_us", (json_int_t)atomic_load(&h->total_us), "max_us", (json_int_t)atomic_load(&h->max_us)));
	}
	return out;
}
