/*
 * plugin_registry.c - what plugins registered (see plugin_registry.h): the
 * staging of hooks, actions, routes and jobs while a plugin loads, their
 * commit into the kernel's events and handler tables, and dispatching them:
 * routes, actions, the job schedule and their counters. It knows nothing of
 * how a plugin was loaded (plugin.c) or in which language it is written
 * (lua_host.c, the C ABI): a handler is a function pointer and its data.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "access.h"
#include "context.h"
#include "eval.h"
#include "expr.h"
#include "meta_model.h"
#include "object.h"
#include "plugin_registry_internal.h"
#include "plugin_registry.h"
#include "store.h"

#define JOB_RETRY_FIRST     30          /* seconds before the first retry of a failed job */

/* ------------------------------------------------------------ the registry */

void *plugin_own(struct plugin *plugin, void *ptr)
{
	if (plugin->owned_count == plugin->owned_cap) {
		plugin->owned_cap = plugin->owned_cap ? plugin->owned_cap * 2 : 8;
		plugin->owned = xrealloc(plugin->owned, (size_t)plugin->owned_cap * sizeof(*plugin->owned));
	}
	plugin->owned[plugin->owned_count++] = ptr;
	return ptr;
}

void plugin_handler_free(struct handler *h)
{
	if (!h)
		return;
	free(h->name);
	free(h->method);
	free(h->schedule);
	json_decref(h->label);
	json_decref(h->confirm);
	expr_free(h->when);
	for (int i = 0; i < h->segment_count; i++)
		free(h->segments[i]);
	free(h);
}

void plugin_pending_clear(struct plugin *plugin)
{
	for (int i = 0; i < plugin->pending_hook_count; i++)
		free(plugin->pending_hooks[i].object);
	free(plugin->pending_hooks);
	plugin->pending_hooks = NULL;
	plugin->pending_hook_count = plugin->pending_hook_cap = 0;
	for (int i = 0; i < plugin->pending_handler_count; i++)
		plugin_handler_free(plugin->pending_handlers[i]);
	free(plugin->pending_handlers);
	plugin->pending_handlers = NULL;
	plugin->pending_handler_count = plugin->pending_handler_cap = 0;
}

const char *plugin_name(const struct plugin *plugin) { return plugin->name; }
const char *plugin_version(const struct plugin *plugin) { return plugin->version_text; }
const char *plugin_dir(const struct plugin *plugin) { return plugin->dir; }
json_t *plugin_config(const struct plugin *plugin) { return plugin->config; }
bool plugin_system_access(const struct plugin *plugin) { return plugin->system_access; }
struct crm_kernel *plugin_kernel(const struct plugin *plugin) { return plugin->owner->kernel; }
long long plugin_instruction_limit(const struct plugin *plugin) { return plugin->instructions; }
size_t plugin_memory_limit(const struct plugin *plugin) { return plugin->memory; }

void plugin_log(const struct plugin *plugin, const char *level, const char *fmt, ...)
{
	FILE *log = plugin->owner->kernel->log ? plugin->owner->kernel->log : stderr;
	char message[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	/* one fprintf per line so that lines from several threads do not interleave */
	fprintf(log, "plugin %s [%s]: %s\n", plugin->name, level, message);
}

static const char *const event_list =
	"before_create, after_create, before_update, after_update, before_delete, after_delete, "
	"before_restore, after_restore, before_transition, after_transition";

int plugin_add_hook(struct plugin *plugin, const char *object, const char *event, bool async,
                    event_fn fn, void *data, char *err, size_t errlen)
{
	if (!plugin->loading) {
		snprintf(err, errlen, "hooks can only be registered while the plugin loads");
		return CRM_ESTATE;
	}
	int kind = event ? events_kind_from_name(event) : -1;
	if (kind < 0) {
		snprintf(err, errlen, "unknown event '%.64s' (expected one of %s)", event ? event : "", event_list);
		return CRM_EINVAL;
	}
	if (!object || (strcmp(object, "*") != 0 && !meta_find_object(plugin->owner->kernel->meta, object))) {
		snprintf(err, errlen, "unknown object '%.64s' (no such object in the metadata)", object ? object : "");
		return CRM_ENOTFOUND;
	}
	if (async && kind % 2 == 0) {
		snprintf(err, errlen, "only after_* hooks can be async (a before-hook decides the write)");
		return CRM_EINVAL;
	}
	if (plugin->pending_hook_count == plugin->pending_hook_cap) {
		plugin->pending_hook_cap = plugin->pending_hook_cap ? plugin->pending_hook_cap * 2 : 8;
		plugin->pending_hooks = xrealloc(plugin->pending_hooks,
		                                 (size_t)plugin->pending_hook_cap * sizeof(*plugin->pending_hooks));
	}
	plugin->pending_hooks[plugin->pending_hook_count++] = (struct pending_hook) {
		.object = strcmp(object, "*") ? xstrdup(object) : NULL, .kind = kind, .async = async,
		.fn = fn, .data = data,
	};
	return CRM_OK;
}

/* "every 30s", "every 15m", "every 1h", "every 2d" -> seconds, or -1. */
/*
 * "every 15m" -> 900 seconds; "manual" -> 0: never on a clock, only when
 * asked (`crm demo` runs each plugin's manual job named demo). -1: invalid.
 */
static long long parse_schedule(const char *schedule)
{
	if (schedule && strcmp(schedule, "manual") == 0)
		return 0;
	if (!schedule || strncmp(schedule, "every ", 6) != 0)
		return -1;
	const char *p = schedule + 6;
	while (*p == ' ')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	char *end;
	errno = 0;
	long long n = strtoll(p, &end, 10);
	if (errno || n <= 0 || n > 1000000)
		return -1;
	p = end;
	while (*p == ' ')
		p++;
	long long unit;
	if (!strcmp(p, "s") || !strcmp(p, "sec") || !strcmp(p, "seconds") || !strcmp(p, "second"))
		unit = 1;
	else if (!strcmp(p, "m") || !strcmp(p, "min") || !strcmp(p, "minutes") || !strcmp(p, "minute"))
		unit = 60;
	else if (!strcmp(p, "h") || !strcmp(p, "hours") || !strcmp(p, "hour"))
		unit = 3600;
	else if (!strcmp(p, "d") || !strcmp(p, "days") || !strcmp(p, "day"))
		unit = 86400;
	else
		return -1;
	return n * unit;
}

static bool valid_segment(const char *s, size_t len)
{
	if (len == 0 || len > 64)
		return false;
	if (s[0] == '{')
		return len > 2 && s[len - 1] == '}';
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
			return false;
	}
	return !(len == 1 && s[0] == '.') && !(len == 2 && s[0] == '.' && s[1] == '.');
}

static bool same_route(const struct handler *a, const struct handler *b)
{
	if (strcmp(a->method, b->method) != 0 || a->segment_count != b->segment_count)
		return false;
	for (int i = 0; i < a->segment_count; i++) {
		bool pa = a->segments[i][0] == '{', pb = b->segments[i][0] == '{';
		if (pa != pb || (!pa && strcmp(a->segments[i], b->segments[i]) != 0))
			return false;
	}
	return true;
}

int plugin_add_handler(struct plugin *plugin, enum plugin_handler_kind kind, const char *name_or_method,
                       const char *path_or_schedule, plugin_handler_fn fn, void *data, char *err, size_t errlen)
{
	if (!plugin->loading) {
		snprintf(err, errlen, "actions, routes and jobs can only be registered while the plugin loads");
		return CRM_ESTATE;
	}
	struct handler *h = xcalloc(1, sizeof(*h));
	h->kind = kind;
	h->plugin = plugin;
	h->fn = fn;
	h->data = data;
	const char *arg = name_or_method ? name_or_method : "";
	if (kind == PLUGIN_ACTION || kind == PLUGIN_JOB) {
		if (!crm_valid_name(arg)) {
			snprintf(err, errlen, "%s name '%.64s' is not valid (lower-case letters, digits and _)",
			         kind == PLUGIN_ACTION ? "action" : "job", arg);
			goto fail;
		}
		struct strbuf sb = { 0 };
		if (kind == PLUGIN_ACTION)
			strbuf_printf(&sb, "%s.%s", plugin->name, arg);
		else
			strbuf_puts(&sb, arg);
		h->name = strbuf_detach(&sb);
		if (kind == PLUGIN_JOB && path_or_schedule
		    && (!strncmp(path_or_schedule, "at ", 3) || !strncmp(path_or_schedule, "cron ", 5))) {
			char why[200];
			if (!cron_parse(path_or_schedule, &h->cron, why, sizeof(why))) {
				snprintf(err, errlen, "job '%s': %s", arg, why);
				goto fail;
			}
			h->timed = true;
			h->interval = 86400;
			h->schedule = xstrdup(path_or_schedule);
		} else if (kind == PLUGIN_JOB) {
			h->interval = parse_schedule(path_or_schedule);
			if (h->interval < 0) {
				snprintf(err, errlen, "job '%s': schedule '%.64s' is not valid (expected \"every N\" with "
				         "s, m, h or d, like \"every 15m\", \"at HH:MM\", \"cron M H DOM MON DOW\" or \"manual\")", arg,
				         path_or_schedule ? path_or_schedule : "");
				goto fail;
			}
			h->schedule = xstrdup(path_or_schedule);
		}
	} else {
		static const char *const methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE", NULL };
		bool known = false;
		for (int i = 0; methods[i]; i++)
			known = known || strcmp(methods[i], arg) == 0;
		if (!known) {
			snprintf(err, errlen, "route method '%.16s' is not one of GET, POST, PUT, PATCH, DELETE", arg);
			goto fail;
		}
		h->method = xstrdup(arg);
		const char *path = path_or_schedule ? path_or_schedule : "";
		if (path[0] != '/' || strlen(path) > 256) {
			snprintf(err, errlen, "route path '%.64s' must start with /%s/", path, plugin->name);
			goto fail;
		}
		const char *p = path + 1;
		while (*p) {
			size_t len = strcspn(p, "/");
			if (h->segment_count == MAX_ROUTE_SEGMENTS || !valid_segment(p, len)) {
				snprintf(err, errlen, "route path '%.64s': segments are letters, digits, _ - . or {name}, "
				         "at most %d", path, MAX_ROUTE_SEGMENTS);
				goto fail;
			}
			h->segments[h->segment_count++] = xstrndup(p, len);
			p += len;
			if (*p == '/')
				p++;
		}
		if (h->segment_count == 0 || strcmp(h->segments[0], plugin->name) != 0) {
			snprintf(err, errlen, "route path '%.64s' must start with /%s/ (routes live under the plugin's name)",
			         path, plugin->name);
			goto fail;
		}
		struct strbuf sb = { 0 };
		strbuf_printf(&sb, "%s %s", h->method, path);
		h->name = strbuf_detach(&sb);
	}
	for (int i = 0; i < plugin->pending_handler_count; i++) {
		struct handler *o = plugin->pending_handlers[i];
		if (o->kind == kind && (kind == PLUGIN_ROUTE ? same_route(o, h) : strcmp(o->name, h->name) == 0)) {
			snprintf(err, errlen, "%s '%s' is registered twice",
			         kind == PLUGIN_ACTION ? "action" : kind == PLUGIN_ROUTE ? "route" : "job", h->name);
			goto fail;
		}
	}
	if (plugin->pending_handler_count == plugin->pending_handler_cap) {
		plugin->pending_handler_cap = plugin->pending_handler_cap ? plugin->pending_handler_cap * 2 : 8;
		plugin->pending_handlers = xrealloc(plugin->pending_handlers,
		                                    (size_t)plugin->pending_handler_cap * sizeof(*plugin->pending_handlers));
	}
	plugin->pending_handlers[plugin->pending_handler_count++] = h;
	return CRM_OK;
fail:
	plugin_handler_free(h);
	return CRM_EINVAL;
}

bool plugin_parse_rate(const char *text, int *count, int *period)
{
	if (!text || *text < '0' || *text > '9')
		return false;
	char *end;
	errno = 0;
	long n = strtol(text, &end, 10);
	if (errno || n < 1 || n > 1000000 || *end != '/')
		return false;
	const char *p = end + 1;
	long times = 1;
	if (*p >= '0' && *p <= '9') {
		times = strtol(p, &end, 10);
		if (errno || times < 1 || times > 86400)
			return false;
		p = end;
	}
	long unit;
	if (!strcmp(p, "s") || !strcmp(p, "sec") || !strcmp(p, "second") || !strcmp(p, "seconds"))
		unit = 1;
	else if (!strcmp(p, "m") || !strcmp(p, "min") || !strcmp(p, "minute") || !strcmp(p, "minutes"))
		unit = 60;
	else if (!strcmp(p, "h") || !strcmp(p, "hour") || !strcmp(p, "hours"))
		unit = 3600;
	else if (!strcmp(p, "d") || !strcmp(p, "day") || !strcmp(p, "days"))
		unit = 86400;
	else
		return false;
	if (times * unit > 86400)
		return false;
	*count = (int)n;
	*period = (int)(times * unit);
	return true;
}

/* Reads a route's `signed` option ({ secret_env = "NAME", max_age = 300 }) into h; false with err. */
static bool signed_option(const json_t *value, struct handler *h, char *err, size_t errlen)
{
	static const char usage[] = "route option 'signed' must be a table like { secret_env = \"NAME\", max_age = 300 }";
	if (!json_is_object(value)) {
		snprintf(err, errlen, "%s", usage);
		return false;
	}
	h->max_age = PLUGIN_SIGNED_MAX_AGE;
	const char *key;
	json_t *item;
	json_object_foreach((json_t *)value, key, item) {
		if (!strcmp(key, "secret_env")) {
			const char *name = json_string_value(item);
			size_t length = name ? strlen(name) : 0;
			bool ok = length >= 1 && length <= PLUGIN_SECRET_ENV_MAX && !(name[0] >= '0' && name[0] <= '9');
			for (size_t i = 0; ok && i < length; i++)
				ok = (name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= 'a' && name[i] <= 'z')
				     || (name[i] >= '0' && name[i] <= '9') || name[i] == '_';
			if (!ok) {
				snprintf(err, errlen, "route option 'signed.secret_env' must name an environment variable "
				         "(letters, digits and '_', at most %d bytes)", PLUGIN_SECRET_ENV_MAX);
				return false;
			}
			memcpy(h->secret_env, name, length + 1);
		} else if (!strcmp(key, "max_age")) {
			double seconds = json_is_integer(item) ? (double)json_integer_value(item)
			               : json_is_real(item) ? json_real_value(item) : -1;
			if (!(seconds >= 30 && seconds <= 3600) || seconds != (double)(long)seconds) {
				snprintf(err, errlen, "route option 'signed.max_age' must be a number of seconds from 30 to 3600");
				return false;
			}
			h->max_age = (int)seconds;
		} else {
			snprintf(err, errlen, "unknown key '%.64s' in route option 'signed' (expected secret_env or max_age)", key);
			return false;
		}
	}
	if (!h->secret_env[0]) {
		snprintf(err, errlen, "%s: secret_env is required", usage);
		return false;
	}
	return true;
}

/* Reads crm.route's options into h; false with err for an option that is unknown or out of range. */
static bool route_options(const json_t *options, struct handler *h, char *err, size_t errlen)
{
	h->rate_limit = PLUGIN_PUBLIC_RATE_LIMIT;
	h->rate_period = PLUGIN_PUBLIC_RATE_PERIOD;
	h->max_body = PLUGIN_PUBLIC_MAX_BODY;
	/* an empty Lua table reads as an empty array */
	if (!options || json_is_null(options) || (json_is_array(options) && json_array_size(options) == 0))
		return true;
	if (!json_is_object(options)) {
		snprintf(err, errlen, "route options must be a table like { public = true, rate_limit = \"10/min\" }");
		return false;
	}
	const char *key;
	json_t *value;
	bool limits = false;
	json_object_foreach((json_t *)options, key, value) {
		if (!strcmp(key, "public")) {
			if (!json_is_boolean(value)) {
				snprintf(err, errlen, "route option 'public' must be true or false");
				return false;
			}
			h->is_public = json_is_true(value);
		} else if (!strcmp(key, "rate_limit")) {
			if (!plugin_parse_rate(json_string_value(value), &h->rate_limit, &h->rate_period)) {
				snprintf(err, errlen, "route option 'rate_limit' must be a count per period like \"10/min\", "
				         "\"100/h\" or \"5/10s\" (count 1 to 1000000, period s, min, h or d, at most a day)");
				return false;
			}
			limits = true;
		} else if (!strcmp(key, "max_body")) {
			/* a whole number, also when it comes as a real (16384.0); compared before any cast */
			double bytes = json_is_integer(value) ? (double)json_integer_value(value)
			             : json_is_real(value) ? json_real_value(value) : -1;
			if (!(bytes >= 1 && bytes <= PLUGIN_PUBLIC_MAX_BODY_CAP) || bytes != (double)(long)bytes) {
				snprintf(err, errlen, "route option 'max_body' must be a number of bytes from 1 to %d",
				         PLUGIN_PUBLIC_MAX_BODY_CAP);
				return false;
			}
			h->max_body = (size_t)bytes;
			limits = true;
		} else if (!strcmp(key, "signed")) {
			if (!signed_option(value, h, err, errlen))
				return false;
			limits = true;
		} else {
			snprintf(err, errlen, "unknown route option '%.64s' (expected public, rate_limit, max_body or signed)",
			         key);
			return false;
		}
	}
	if (limits && !h->is_public) {
		snprintf(err, errlen, "route options rate_limit, max_body and signed are for public routes "
		         "(add public = true); other routes are for signed-in callers");
		return false;
	}
	return true;
}

int plugin_add_route(struct plugin *plugin, const char *method, const char *path, json_t *options,
                     plugin_handler_fn fn, void *data, char *err, size_t errlen)
{
	struct handler settings = { 0 };
	if (!route_options(options, &settings, err, errlen))
		return CRM_EINVAL;
	int code = plugin_add_handler(plugin, PLUGIN_ROUTE, method, path, fn, data, err, errlen);
	if (code != CRM_OK)
		return code;
	struct handler *h = plugin->pending_handlers[plugin->pending_handler_count - 1];
	h->is_public = settings.is_public;
	h->rate_limit = settings.rate_limit;
	h->rate_period = settings.rate_period;
	h->max_body = settings.max_body;
	memcpy(h->secret_env, settings.secret_env, sizeof(h->secret_env));
	h->max_age = settings.max_age;
	return CRM_OK;
}

/* Moves the staged registrations into the kernel. */
/*
 * plugin.yaml `actions:` declares how an action the code registers shows as a
 * button: on which object's records, its label, when it applies, what to
 * confirm. A declaration without a registered action is an error.
 */
static int attach_action_decls(struct plugin *plugin, char *err, size_t errlen)
{
	const char *name;
	json_t *decl;
	json_object_foreach(plugin->action_decls, name, decl) {
		char full[200];
		snprintf(full, sizeof(full), "%s.%s", plugin->name, name);
		struct handler *h = NULL;
		for (int i = 0; i < plugin->pending_handler_count && !h; i++)
			if (plugin->pending_handlers[i]->kind == PLUGIN_ACTION && !strcmp(plugin->pending_handlers[i]->name, full))
				h = plugin->pending_handlers[i];
		int line = (int)json_integer_value(json_object_get(decl, "line"));
		if (!h) {
			snprintf(err, errlen, "plugin.yaml:%d: action '%s' is declared but the code registers no action '%s'",
			         line, name, name);
			return CRM_EINVAL;
		}
		const char *object = json_string_value(json_object_get(decl, "object"));
		h->object = object ? meta_find_object(plugin->owner->kernel->meta, object) : NULL;
		if (!h->object) {
			snprintf(err, errlen, "plugin.yaml:%d: action '%s': unknown object '%s'", line, name, object ? object : "");
			return CRM_EINVAL;
		}
		const char *when = json_string_value(json_object_get(decl, "when"));
		char why[200];
		/* typed as the loader types metadata expressions: the evaluator needs it for date arithmetic */
		if (when && (expr_parse(when, &h->when, why, sizeof(why)) != CRM_OK
		             || expr_check(h->when, plugin->owner->kernel->meta, h->object, why, sizeof(why)) != CRM_OK)) {
			snprintf(err, errlen, "plugin.yaml:%d: action '%s': when: %s", line, name, why);
			return CRM_EINVAL;
		}
		h->label = json_incref(json_object_get(decl, "label"));
		h->confirm = json_incref(json_object_get(decl, "confirm"));
	}
	return CRM_OK;
}

int plugin_commit_registrations(struct plugin *plugin, char *err, size_t errlen)
{
	struct plugins *plugins = plugin->owner;
	int declared = attach_action_decls(plugin, err, errlen);
	if (declared != CRM_OK)
		return declared;
	for (int i = 0; i < plugin->pending_handler_count; i++) {
		struct handler *h = plugin->pending_handlers[i];
		for (int j = 0; j < plugins->handler_count; j++) {
			struct handler *o = plugins->handlers[j];
			if (o->kind == PLUGIN_ROUTE && h->kind == PLUGIN_ROUTE && same_route(o, h)) {
				snprintf(err, errlen, "route '%s' is already registered by plugin '%s'", h->name, o->plugin->name);
				return CRM_EINVAL;
			}
		}
	}
	for (int i = 0; i < plugin->pending_hook_count; i++) {
		struct pending_hook *ph = &plugin->pending_hooks[i];
		int code = events_register(plugins->kernel->events, ph->object, ph->kind, ph->async, plugin->name,
		                           ph->fn, ph->data);
		if (code != CRM_OK) {
			snprintf(err, errlen, "cannot register %s on %s: %s", events_kind_name(ph->kind),
			         ph->object ? ph->object : "*", crm_status_name(code));
			return code;
		}
		char text[160];
		snprintf(text, sizeof(text), "%s %s%s", ph->object ? ph->object : "*", events_kind_name(ph->kind),
		         ph->async ? " (async)" : "");
		json_array_append_new(plugin->hooks, json_string(text));
	}
	for (int i = 0; i < plugin->pending_handler_count; i++) {
		struct handler *h = plugin->pending_handlers[i];
		if (plugins->handler_count == plugins->handler_cap) {
			plugins->handler_cap = plugins->handler_cap ? plugins->handler_cap * 2 : 16;
			plugins->handlers = xrealloc(plugins->handlers, (size_t)plugins->handler_cap * sizeof(*plugins->handlers));
		}
		plugins->handlers[plugins->handler_count++] = h;
		plugin->pending_handlers[i] = NULL;
	}
	plugin->pending_handler_count = 0;
	return CRM_OK;
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Calls a handler, measuring it like events.c measures hooks. */
static int handler_call(struct handler *h, struct crm_ctx *ctx, json_t *input, json_t **output)
{
	*output = NULL;
	int64_t start = now_us();
	int code = h->fn(h->data, ctx, input, output);
	long long spent = now_us() - start;
	atomic_fetch_add(&h->calls, 1);
	atomic_fetch_add(&h->total_us, spent);
	long long max = atomic_load(&h->max_us);
	while (spent > max && !atomic_compare_exchange_weak(&h->max_us, &max, spent))
		;
	if (code != CRM_OK) {
		atomic_fetch_add(&h->errors, 1);
		json_decref(*output);
		*output = NULL;
		if (!ctx->message[0])
			crm_error(ctx, code, "%s of plugin '%s' failed", h->name, h->plugin->name);
	}
	return code;
}

/* ------------------------------------------------ routes, actions and jobs */

static struct plugins *kernel_plugins(struct crm_kernel *kernel)
{
	return kernel ? kernel->plugins : NULL;
}

/*
 * The route among the public ones (or the others) that matches method and
 * path, or NULL; its {name} segments' values go into *params (owned) when
 * params is not NULL.
 */
static struct handler *match_route(struct plugins *plugins, const char *method, const char *path, bool public_route,
                                   json_t **params)
{
	if (!plugins || !method || !path)
		return NULL;
	/* split the path into at most MAX_ROUTE_SEGMENTS segments */
	char buffer[512];
	const char *segments[MAX_ROUTE_SEGMENTS];
	int count = 0;
	if (strlen(path) >= sizeof(buffer))
		return NULL;
	memcpy(buffer, path, strlen(path) + 1);
	char *p = buffer;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		if (count == MAX_ROUTE_SEGMENTS)
			return NULL;
		segments[count++] = p;
		p += strcspn(p, "/");
		if (*p)
			*p++ = '\0';
	}
	for (int i = 0; i < plugins->handler_count; i++) {
		struct handler *h = plugins->handlers[i];
		if (h->kind != PLUGIN_ROUTE || h->is_public != public_route || h->segment_count != count
		    || strcmp(h->method, method) != 0)
			continue;
		bool match = true;
		for (int s = 0; s < count && match; s++)
			match = h->segments[s][0] == '{' || strcmp(h->segments[s], segments[s]) == 0;
		if (!match)
			continue;
		if (params) {
			*params = json_object();
			for (int s = 0; s < count; s++) {
				if (h->segments[s][0] == '{') {
					char name[64];
					snprintf(name, sizeof(name), "%.*s", (int)strlen(h->segments[s]) - 2, h->segments[s] + 1);
					json_t *value = json_string(segments[s]);
					json_object_set_new(*params, name, value ? value : json_string(""));
				}
			}
		}
		return h;
	}
	return NULL;
}

/* Runs route h with its input; form is NULL for a route that is not public. */
static int route_call(struct handler *h, struct crm_ctx *ctx, const char *method, const char *path, json_t *params,
                      json_t *query, json_t *body, const bool *form, int *status, json_t **response)
{
	json_t *input = json_object(), *path_text = json_string(path);
	json_object_set_new(input, "method", json_string(method));
	json_object_set_new(input, "path", path_text ? path_text : json_string(""));
	json_object_set_new(input, "params", params);
	json_object_set_new(input, "query", query ? json_incref(query) : json_object());
	json_object_set_new(input, "body", body ? json_incref(body) : json_null());
	/* the guest is nobody: no user id to give */
	json_object_set_new(input, "user", ctx->user_id > 0 ? json_integer(ctx->user_id) : json_null());
	if (form) {
		json_object_set_new(input, "public", json_true());
		json_object_set_new(input, "form", json_boolean(*form));
	}
	json_t *output = NULL;
	crm_error_reset(ctx);
	int code = handler_call(h, ctx, input, &output);
	json_decref(input);
	if (code != CRM_OK)
		return code;
	json_t *st = json_object_get(output, "status");
	*status = json_is_integer(st) ? (int)json_integer_value(st) : 200;
	json_t *answer = json_object_get(output, "json"), *html = json_object_get(output, "html"),
	       *location = json_object_get(output, "location");
	if (json_is_string(html) || json_is_string(location))
		*response = json_pack("{s:{s:O}}", PLUGIN_ROUTE_PAGE, html ? "html" : "location", html ? html : location);
	else
		*response = answer ? json_incref(answer) : json_null();
	json_decref(output);
	return CRM_OK;
}

json_t *plugin_route_page(json_t *response)
{
	if (!json_is_object(response) || json_object_size(response) != 1)
		return NULL;
	json_t *page = json_object_get(response, PLUGIN_ROUTE_PAGE);
	return json_is_object(page) ? page : NULL;
}

int plugin_route(struct crm_kernel *kernel, struct crm_ctx *ctx, const char *method, const char *path,
                 json_t *query, json_t *body, int *status, json_t **response)
{
	json_t *params = NULL;
	struct handler *h = match_route(kernel_plugins(kernel), method, path, false, &params);
	if (!h)
		return crm_error(ctx, CRM_ENOTFOUND, "no plugin route for %.16s %.200s", method ? method : "", path ? path : "");
	return route_call(h, ctx, method, path, params, query, body, NULL, status, response);
}

bool plugin_route_exists(struct crm_kernel *kernel, const char *method, const char *path)
{
	return match_route(kernel_plugins(kernel), method, path, false, NULL) != NULL;
}

int plugin_public_route_find(struct crm_kernel *kernel, const char *method, const char *path,
                             struct plugin_public_route *out)
{
	struct plugins *plugins = kernel_plugins(kernel);
	struct handler *h = match_route(plugins, method, path, true, NULL);
	if (!h)
		return CRM_ENOTFOUND;
	uint32_t id = 0;
	while (plugins->handlers[id] != h)
		id++;
	*out = (struct plugin_public_route) { .id = id, .rate_limit = h->rate_limit, .rate_period = h->rate_period,
	                                      .max_body = h->max_body, .max_age = h->max_age,
	                                      .secret_env = h->secret_env[0] ? h->secret_env : NULL };
	return CRM_OK;
}

int plugin_public_route(struct crm_kernel *kernel, struct crm_ctx *ctx, const char *method, const char *path,
                        json_t *query, json_t *body, bool form, int *status, json_t **response)
{
	json_t *params = NULL;
	struct handler *h = match_route(kernel_plugins(kernel), method, path, true, &params);
	if (!h)
		return crm_error(ctx, CRM_ENOTFOUND, "no public route for %.16s %.200s", method ? method : "", path ? path : "");
	/* the guest, whoever ctx was: its rights are loaded afresh and ctx's are put back after */
	int64_t saved_user = ctx->user_id;
	struct access_user *saved_access = ctx->access;
	ctx->user_id = CRM_USER_GUEST;
	ctx->access = NULL;
	int code = route_call(h, ctx, method, path, params, query, body, &form, status, response);
	access_free(ctx->access);
	ctx->access = saved_access;
	ctx->user_id = saved_user;
	return code;
}

json_t *plugin_endpoints(struct crm_kernel *kernel)
{
	struct plugins *plugins = kernel_plugins(kernel);
	json_t *out = json_array();
	for (int i = 0; plugins && i < plugins->handler_count; i++) {
		const struct handler *h = plugins->handlers[i];
		if (h->kind == PLUGIN_ACTION) {
			json_array_append_new(out, json_pack("{s:s, s:s, s:s}", "kind", "action", "plugin", h->plugin->name,
			                                     "name", h->name));
		} else if (h->kind == PLUGIN_ROUTE) {
			struct strbuf path = { 0 };
			for (int s = 0; s < h->segment_count; s++) {
				strbuf_putc(&path, '/');
				strbuf_puts(&path, h->segments[s]);
			}
			json_t *route = json_pack("{s:s, s:s, s:s, s:s}", "kind", "route", "plugin", h->plugin->name,
			                          "method", h->method, "path", path.data ? path.data : "/");
			if (h->is_public)
				json_object_update_new(route, json_pack("{s:b, s:i, s:i, s:I}", "public", 1, "rate_limit",
				                                        h->rate_limit, "rate_period", h->rate_period,
				                                        "max_body", (json_int_t)h->max_body));
			if (h->is_public && h->secret_env[0])
				json_object_set_new(route, "signed", json_pack("{s:s, s:i}", "secret_env", h->secret_env,
				                                               "max_age", h->max_age));
			json_array_append_new(out, route);
			strbuf_free(&path);
		}
	}
	return out;
}

int plugin_action(struct crm_kernel *kernel, struct crm_ctx *ctx, const char *name, const char *object,
                  int64_t id, json_t *args, json_t **result)
{
	struct plugins *plugins = kernel_plugins(kernel);
	struct handler *found = NULL;
	int matches = 0;
	for (int i = 0; plugins && name && i < plugins->handler_count; i++) {
		struct handler *h = plugins->handlers[i];
		if (h->kind != PLUGIN_ACTION)
			continue;
		if (strcmp(h->name, name) == 0) {
			found = h;
			matches = 1;
			break;
		}
		const char *dot = strchr(h->name, '.');
		if (dot && strcmp(dot + 1, name) == 0) {
			found = h;
			matches++;
		}
	}
	if (!found)
		return crm_error(ctx, CRM_ENOTFOUND, "no action '%.100s'", name ? name : "");
	if (matches > 1)
		return crm_error(ctx, CRM_EINVAL, "action '%.100s' exists in several plugins: name it as plugin.action", name);
	/* inside a caller's transaction (a test, later a workflow) a failure is the caller's to roll back */
	bool nested = ctx->txn != NULL;
	int code = object_begin(ctx);
	if (code != CRM_OK)
		return code;
	json_t *record = NULL;
	if (object && (code = object_get(ctx, object, id, false, &record)) != CRM_OK) {
		if (nested)
			ctx->txn_depth--;
		else
			object_rollback(ctx);
		return code;
	}
	json_t *input = json_pack("{s:s?, s:o, s:o, s:O}", "object", object,
	                          "id", object ? json_integer(id) : json_null(),
	                          "record", record ? record : json_null(), "args", args ? args : json_null());
	json_t *output = NULL;
	crm_error_reset(ctx);
	code = handler_call(found, ctx, input, &output);
	json_decref(input);
	if (code != CRM_OK) {
		if (nested)
			ctx->txn_depth--;
		else
			object_rollback(ctx);
		return code;
	}
	if ((code = object_commit(ctx)) != CRM_OK) {
		json_decref(output);
		return code;
	}
	json_t *answer = json_object_get(output, "json");
	*result = answer ? json_incref(answer) : json_null();
	json_decref(output);
	return CRM_OK;
}

/* Seconds to wait after the n-th failure in a row: 30 s, doubling, at most the interval. */
static long long retry_delay(const struct handler *job)
{
	long long delay = JOB_RETRY_FIRST;
	for (int i = 1; i < job->consecutive_failures && delay < job->interval; i++)
		delay *= 2;
	return delay < job->interval ? delay : job->interval;
}

/*
 * A timed job's next run is kept in the database ("plugin_job.<plugin>.<job>"),
 * so that a run falls once per period whatever the restarts: a slot missed
 * while the server was down runs once at the next start.
 */
static void timed_key(const struct handler *job, char *out, size_t len)
{
	snprintf(out, len, "plugin_job.%s.%s", job->plugin->name, job->name);
}

static time_t timed_next_load(struct crm_kernel *kernel, const struct handler *job, time_t now)
{
	char key[200], *text = NULL;
	timed_key(job, key, sizeof(key));
	struct store_conn *conn = store_reader(kernel->store);
	time_t next = 0;
	if (conn && store_setting_get(conn, key, &text) == CRM_OK && text)
		next = (time_t)strtoll(text, NULL, 10);
	if (conn)
		store_reader_done(conn);
	free(text);
	return next > 0 ? next : cron_next(&job->cron, now);
}

static void timed_next_save(struct crm_kernel *kernel, const struct handler *job, time_t next)
{
	char key[200], text[32];
	timed_key(job, key, sizeof(key));
	snprintf(text, sizeof(text), "%lld", (long long)next);
	struct crm_ctx ctx;
	struct store_conn *conn;
	crm_ctx_init(&ctx, kernel, 0, "job-schedule");
	if (store_begin(kernel->store, &conn, &ctx) == CRM_OK) {
		if (store_setting_set(conn, key, text) == CRM_OK)
			store_commit(conn, &ctx);
		else
			store_rollback(conn);
	}
	crm_ctx_clear(&ctx);
}

void plugin_jobs_tick(struct crm_kernel *kernel, time_t now)
{
	struct plugins *plugins = kernel_plugins(kernel);
	if (!plugins || atomic_exchange(&plugins->ticking, true))
		return;
	for (int i = 0; i < plugins->handler_count; i++) {
		struct handler *job = plugins->handlers[i];
		if (job->kind != PLUGIN_JOB || job->interval == 0)   /* manual: never on a clock */
			continue;
		if (job->timed && job->next_run == 0)
			job->next_run = timed_next_load(kernel, job, now);   /* first tick: the stored slot */
		pthread_mutex_lock(&plugins->jobs_lock);
		bool due = job->next_run <= now;
		if (due)
			job->last_start = now;
		pthread_mutex_unlock(&plugins->jobs_lock);
		if (!due)
			continue;
		char request_id[160];
		snprintf(request_id, sizeof(request_id), "job:%s.%s", job->plugin->name, job->name);
		struct crm_ctx ctx;
		crm_ctx_init(&ctx, kernel, 0, request_id);
		json_t *input = json_pack("{s:s}", "job", job->name), *output = NULL;
		int64_t start = now_us();
		int code = handler_call(job, &ctx, input, &output);
		long long spent = now_us() - start;
		json_decref(input);
		json_decref(output);
		pthread_mutex_lock(&plugins->jobs_lock);
		job->runs++;
		job->last_end = now + (time_t)(spent / 1000000);
		if (code == CRM_OK) {
			job->consecutive_failures = 0;
			job->last_error[0] = '\0';
			job->next_run = job->timed ? cron_next(&job->cron, now) : now + (time_t)job->interval;
		} else {
			job->failures++;
			job->consecutive_failures++;
			snprintf(job->last_error, sizeof(job->last_error), "%.250s", ctx.message);
			job->next_run = now + (time_t)retry_delay(job);
		}
		long long retry = (long long)(job->next_run - now);
		time_t next = job->next_run;
		pthread_mutex_unlock(&plugins->jobs_lock);
		if (job->timed)
			timed_next_save(kernel, job, next);
		if (code == CRM_OK)
			plugin_log(job->plugin, "info", "job %s ran in %lld ms", job->name, spent / 1000);
		else
			plugin_log(job->plugin, "error", "job %s failed after %lld ms (%d in a row), retry in %lld s: %s",
			           job->name, spent / 1000, job->consecutive_failures, retry, ctx.message);
		crm_ctx_clear(&ctx);
	}
	atomic_store(&plugins->ticking, false);
}

int plugin_job_run(struct crm_kernel *kernel, struct crm_ctx *ctx, const char *name)
{
	struct plugins *plugins = kernel_plugins(kernel);
	for (int i = 0; plugins && name && i < plugins->handler_count; i++) {
		struct handler *job = plugins->handlers[i];
		if (job->kind != PLUGIN_JOB)
			continue;
		char qualified[200];
		snprintf(qualified, sizeof(qualified), "%s.%s", job->plugin->name, job->name);
		if (strcmp(job->name, name) != 0 && strcmp(qualified, name) != 0)
			continue;
		json_t *input = json_pack("{s:s}", "job", job->name), *output = NULL;
		crm_error_reset(ctx);
		int code = handler_call(job, ctx, input, &output);
		json_decref(input);
		json_decref(output);
		return code;
	}
	return crm_error(ctx, CRM_ENOTFOUND, "no job '%.100s'", name ? name : "");
}

int plugin_demo_run(struct crm_kernel *kernel, struct crm_ctx *ctx, FILE *log)
{
	struct plugins *plugins = kernel_plugins(kernel);
	for (int i = 0; plugins && i < plugins->handler_count; i++) {
		struct handler *job = plugins->handlers[i];
		if (job->kind != PLUGIN_JOB || job->interval != 0 || strcmp(job->name, "demo") != 0)
			continue;
		char qualified[200];
		snprintf(qualified, sizeof(qualified), "%s.%s", job->plugin->name, job->name);
		if (log)
			fprintf(log, "demo: plugin %s...\n", job->plugin->name);
		int code = plugin_job_run(kernel, ctx, qualified);
		if (code != CRM_OK)
			return code;
	}
	return CRM_OK;
}

json_t *plugin_jobs_stats(struct crm_kernel *kernel)
{
	struct plugins *plugins = kernel_plugins(kernel);
	json_t *out = json_array();
	for (int i = 0; plugins && i < plugins->handler_count; i++) {
		struct handler *job = plugins->handlers[i];
		if (job->kind != PLUGIN_JOB)
			continue;
		pthread_mutex_lock(&plugins->jobs_lock);
		json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:I, s:I, s:i, s:I, s:I, s:s, s:I, s:I, s:I}",
			"plugin", job->plugin->name, "job", job->name, "every", job->schedule,
			"runs", (json_int_t)job->runs, "failures", (json_int_t)job->failures,
			"consecutive_failures", job->consecutive_failures,
			"last_start", (json_int_t)job->last_start, "last_end", (json_int_t)job->last_end,
			"last_error", job->last_error, "next_run", (json_int_t)job->next_run,
			"total_us", (json_int_t)atomic_load(&job->total_us), "max_us", (json_int_t)atomic_load(&job->max_us)));
		pthread_mutex_unlock(&plugins->jobs_lock);
	}
	return out;
}

json_t *plugin_object_actions(struct crm_kernel *kernel, const struct meta_object *object)
{
	struct plugins *plugins = kernel ? kernel->plugins : NULL;
	json_t *out = json_array();
	for (int i = 0; plugins && i < plugins->handler_count; i++) {
		const struct handler *h = plugins->handlers[i];
		if (h->kind != PLUGIN_ACTION || h->object != object)
			continue;
		json_t *item = json_pack("{s:s}", "name", h->name);
		if (h->label)
			json_object_set(item, "label", h->label);
		if (h->confirm)
			json_object_set(item, "confirm", h->confirm);
		json_array_append_new(out, item);
	}
	return out;
}

json_t *plugin_record_actions(struct crm_kernel *kernel, struct crm_ctx *ctx, const struct meta_object *object,
                              json_t *record)
{
	struct plugins *plugins = kernel ? kernel->plugins : NULL;
	json_t *out = NULL;
	for (int i = 0; plugins && i < plugins->handler_count; i++) {
		const struct handler *h = plugins->handlers[i];
		if (h->kind != PLUGIN_ACTION || h->object != object)
			continue;
		if (!out)
			out = json_array();
		bool holds = true;
		if (h->when) {
			/* the caller's view of the record; an expression that cannot be evaluated hides the button */
			struct store_conn *conn = context_reader(ctx);
			struct expr_value value = { 0 };
			char err[200];
			json_t *user = ctx->access ? ctx->access->record : NULL;
			holds = eval_record(ctx, conn, object, h->when, record, user, &value, err, sizeof(err)) == CRM_OK
			        && expr_truthy(&value);
			expr_value_clear(&value);
			context_reader_done(ctx, conn);
			crm_error_forget(ctx);
		}
		if (holds)
			json_array_append_new(out, json_string(h->name));
	}
	return out;
}

/* Whether name ("plugin.action" or "action") is in list: names, or declarations { name, ... }. */
static bool action_listed(json_t *list, const char *name)
{
	size_t i;
	json_t *item;
	json_array_foreach(list, i, item) {
		const char *full = json_is_object(item) ? json_string_value(json_object_get(item, "name")) : json_string_value(item);
		const char *dot = full ? strchr(full, '.') : NULL;
		if (full && (!strcmp(full, name) || (dot && !strcmp(dot + 1, name))))
			return true;
	}
	return false;
}

int plugin_client_action(struct crm_kernel *kernel, struct crm_ctx *ctx, const char *name,
                         const struct meta_object *object, int64_t id, json_t *args, json_t **result)
{
	json_t *record = NULL;
	int code = object_get(ctx, object->name, id, false, &record);
	if (code != CRM_OK)
		return code;
	json_t *declared = plugin_object_actions(kernel, object);
	json_t *applies = plugin_record_actions(kernel, ctx, object, record);
	bool is_declared = action_listed(declared, name), holds = action_listed(applies, name);
	json_decref(declared);
	json_decref(applies);
	json_decref(record);
	if (!is_declared)
		return crm_error(ctx, CRM_ENOTFOUND, "no action '%.100s' on %s records", name, object->name);
	if (!holds)
		return crm_error(ctx, CRM_ESTATE, "action '%.100s' does not apply to this %s now", name, object->name);
	return plugin_action(kernel, ctx, name, object->name, id, args, result);
}

bool plugin_object_has_actions(struct crm_kernel *kernel, const struct meta_object *object)
{
	struct plugins *plugins = kernel ? kernel->plugins : NULL;
	for (int i = 0; plugins && i < plugins->handler_count; i++)
		if (plugins->handlers[i]->kind == PLUGIN_ACTION && plugins->handlers[i]->object == object)
			return true;
	return false;
}
