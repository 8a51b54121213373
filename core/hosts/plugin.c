/*
 * plugin.c - the plugin loader (see plugin.h): manifests, versions, order,
 * loading Lua plugins (lua_host.c) and C plugins (the host table of the C
 * ABI, sdk/crm_plugin.h), and the plugin commands. What plugins register
 * lives in plugin_registry.c.
 *
 * A plugin's registrations are staged while its code loads and committed to
 * the kernel (events, handler tables) only when it loaded completely, so a
 * plugin that fails half-way leaves nothing behind, and hooks end up in
 * dependency order. C plugins get a table of function pointers and exchange
 * records as JSON text; nothing of the kernel's structures crosses the
 * boundary. A C callback gets a struct crm_call holding the request's
 * context and a list of call-scoped allocations freed when it returns.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "context.h"
#include "lua_host.h"
#include "meta.h"
#include "object.h"
#include "outbox.h"
#include "plugin_registry_internal.h"
#include "ytree.h"
#include "../../sdk/crm_plugin.h"

#define MANIFEST_MAX_SIZE   (256 * 1024)
#define MANIFEST_MAX_DEPTH  16
#define MANIFEST_MAX_NODES  20000
#define MAX_PLUGINS         256
#define DEFAULT_INSTRUCTIONS 10000000LL
#define DEFAULT_MEMORY_MB   16

_Static_assert(CRM_ABI_VERSION_MAJOR(CRM_ABI_VERSION) == CRM_ABI_MAJOR, "ABI macros");

/* ------------------------------------------------------------ YAML (small) */

/*
 * Manifests are small: ytree.c's trees, with tighter bounds on size, depth and
 * node count (a plugin is third-party input) and only the first problem told.
 */
/* What read_yaml_file collects: the documents and the first problem. */
struct file_docs {
	struct ynode **docs;
	int max_docs, doc_count;
	int code;
	char *err;
	size_t errlen;
};

static void file_document(void *context, struct ynode *root)
{
	struct file_docs *file = context;
	if (file->doc_count < file->max_docs)
		file->docs[file->doc_count++] = root;
	else
		ytree_free(root);
}

/* The first problem, as "line:column: message". */
static void file_problem(void *context, const struct ytree_problem *problem)
{
	struct file_docs *file = context;
	if (file->code != CRM_OK)
		return;
	char limit[64];
	const char *message = limit;
	if (problem->kind == YTREE_TOO_MANY_NODES)
		snprintf(limit, sizeof(limit), "more than %d values", MANIFEST_MAX_NODES);
	else if (problem->kind == YTREE_TOO_DEEP)
		snprintf(limit, sizeof(limit), "nested deeper than %d levels", MANIFEST_MAX_DEPTH);
	else if (problem->kind != YTREE_REFUSED_NODE)
		message = problem->text ? problem->text : "invalid YAML";
	else
		message = problem->nul ? "NUL characters are not allowed"
		        : problem->alias ? "aliases are not supported" : "anchors and tags are not supported";
	file->code = message == limit ? CRM_ELIMIT : CRM_EINVAL;
	/* libyaml sets no mark for an encoding error: manifests have always said 1:1 there. */
	bool unmarked = problem->kind == YTREE_BAD_CHARACTERS;
	snprintf(file->err, file->errlen, "%d:%d: %s", unmarked ? 1 : problem->line, unmarked ? 1 : problem->column,
	         message);
}

/* Every document of a file (up to max_docs), or none with err "line:column: message". */
static int read_yaml_file(const char *path, struct ynode **docs, int max_docs, int *doc_count, char *err,
                          size_t errlen)
{
	*doc_count = 0;
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return CRM_ENOTFOUND;
	}
	char *data = xmalloc(MANIFEST_MAX_SIZE + 1);
	size_t len = fread(data, 1, MANIFEST_MAX_SIZE + 1, f);
	fclose(f);
	if (len > MANIFEST_MAX_SIZE) {
		free(data);
		snprintf(err, errlen, "1:1: larger than %d bytes", MANIFEST_MAX_SIZE);
		return CRM_ELIMIT;
	}
	struct file_docs file = { docs, max_docs, 0, CRM_OK, err, errlen };
	struct ytree_reader reader = {
		.max_depth = MANIFEST_MAX_DEPTH, .max_nodes = MANIFEST_MAX_NODES, .nodes_per_text = true,
		.context = &file, .problem = file_problem, .document = file_document,
	};
	ytree_read(&reader, data, len);
	free(data);
	for (int i = 0; file.code != CRM_OK && i < file.doc_count; i++)
		ytree_free(docs[i]);
	*doc_count = file.code == CRM_OK ? file.doc_count : 0;
	return file.code;
}

/* A plain empty, ~ or null scalar. */
static bool is_null(const struct ynode *node)
{
	return node->kind == YNODE_SCALAR && node->plain
		&& (!node->text[0] || !strcmp(node->text, "~") || !strcmp(node->text, "null"));
}

/* YAML to JSON: plain scalars that read as numbers, booleans or null become those. */
static json_t *ynode_json(const struct ynode *node)
{
	if (node->kind == YNODE_SCALAR) {
		if (node->plain) {
			const char *t = node->text;
			char *end;
			if (is_null(node))
				return json_null();
			if (!strcmp(t, "true"))
				return json_true();
			if (!strcmp(t, "false"))
				return json_false();
			errno = 0;
			long long integer = strtoll(t, &end, 10);
			if (*t && !*end && errno == 0)
				return json_integer(integer);
			double real = strtod(t, &end);
			if (*t && !*end && (t[0] == '-' || t[0] == '.' || (t[0] >= '0' && t[0] <= '9')))
				return json_real(real);
		}
		json_t *s = json_string(node->text);
		return s ? s : json_string("");
	}
	json_t *out = node->kind == YNODE_MAPPING ? json_object() : json_array();
	int step = node->kind == YNODE_MAPPING ? 2 : 1;
	for (int i = 0; i + step - 1 < node->count; i += step) {
		json_t *item = ynode_json(node->items[i + step - 1]);
		if (node->kind == YNODE_MAPPING)
			json_object_set_new(out, node->items[i]->text ? node->items[i]->text : "", item);
		else
			json_array_append_new(out, item);
	}
	return out;
}

/* ------------------------------------------------------------ ABI version */

int plugin_abi_check(uint32_t host_abi, uint32_t plugin_abi, bool *warning, char *err, size_t errlen)
{
	unsigned hm = CRM_ABI_VERSION_MAJOR(host_abi), pm = CRM_ABI_VERSION_MAJOR(plugin_abi);
	*warning = false;
	if (plugin_abi == 0) {
		snprintf(err, errlen, "the plugin did not set abi_version (set self->abi_version = CRM_ABI_VERSION)");
		return CRM_EINVAL;
	}
	if (pm > hm) {
		snprintf(err, errlen, "built against ABI %u.%u, newer than the kernel's %u.%u: upgrade the kernel "
		         "or rebuild the plugin against this kernel's sdk/crm_plugin.h", pm,
		         CRM_ABI_VERSION_MINOR(plugin_abi), hm, CRM_ABI_VERSION_MINOR(host_abi));
		return CRM_EINVAL;
	}
	if (pm < hm) {
		snprintf(err, errlen, "built against ABI %u.%u, which this kernel (ABI %u.%u) no longer offers: "
		         "rebuild it against sdk/crm_plugin.h", pm, CRM_ABI_VERSION_MINOR(plugin_abi), hm,
		         CRM_ABI_VERSION_MINOR(host_abi));
		return CRM_EINVAL;
	}
	if (CRM_ABI_VERSION_MINOR(plugin_abi) > CRM_ABI_VERSION_MINOR(host_abi)) {
		*warning = true;
		snprintf(err, errlen, "built against ABI %u.%u, newer than the kernel's %u.%u: it must check "
		         "CRM_HOST_HAS before using newer functions", pm, CRM_ABI_VERSION_MINOR(plugin_abi), hm,
		         CRM_ABI_VERSION_MINOR(host_abi));
	}
	return CRM_OK;
}

static void plugin_unload(struct plugin *plugin)
{
	if (plugin->lua) {
		lua_host_free(plugin->lua);
		plugin->lua = NULL;
	}
	if (plugin->dl) {
		if (plugin->self && plugin->self->unload)
			plugin->self->unload(plugin->self);
		dlclose(plugin->dl);
		plugin->dl = NULL;
	}
	free(plugin->self);
	plugin->self = NULL;
	for (int i = 0; i < plugin->owned_count; i++)
		free(plugin->owned[i]);
	plugin->owned_count = 0;
}

static void plugin_free(struct plugin *plugin)
{
	if (!plugin)
		return;
	plugin_unload(plugin);
	plugin_pending_clear(plugin);
	free(plugin->owned);
	free(plugin->name);
	free(plugin->version_text);
	free(plugin->description);
	free(plugin->dir);
	free(plugin->manifest_path);
	free(plugin->lua_file);
	free(plugin->library);
	free(plugin->config_text);
	json_decref(plugin->requires);
	json_decref(plugin->require_pos);
	json_decref(plugin->defaults);
	json_decref(plugin->action_decls);
	json_decref(plugin->config);
	json_decref(plugin->hooks);
	free(plugin);
}

void plugins_free(struct plugins *plugins)
{
	if (!plugins)
		return;
	/* unload in reverse dependency order: a plugin may rely on what it depends on */
	for (int i = plugins->count - 1; i >= 0; i--)
		plugin_unload(plugins->items[i]);
	for (int i = 0; i < plugins->all_count; i++)
		plugin_free(plugins->all[i]);
	for (int i = 0; i < plugins->handler_count; i++)
		plugin_handler_free(plugins->handlers[i]);
	free(plugins->handlers);
	free(plugins->items);
	free(plugins->all);
	free(plugins->plugins_dir);
	pthread_mutex_destroy(&plugins->jobs_lock);
	free(plugins);
}

/* ------------------------------------------------- the C ABI (host table) */

struct call_block {
	struct call_block *next;
	max_align_t align[];
};

struct crm_call {
	struct plugin *plugin;
	struct crm_ctx *ctx;
	json_t *values;            /* borrowed: incoming values, or NULL */
	json_t *record;            /* borrowed: the stored record, or NULL */
	json_t *input;             /* borrowed: handler input, or NULL */
	int status;                /* respond() */
	json_t *response;          /* owned */
	struct call_block *blocks; /* call-scoped memory */
	int poison;                /* a write failed inside the transaction */
	char poison_message[512];
};

static struct plugin *self_plugin(struct crm_plugin *self)
{
	return self ? self->host_private : NULL;
}

static void *host_alloc(size_t size) { return malloc(size ? size : 1); }
static void host_free(void *ptr) { free(ptr); }

static void *host_call_alloc(struct crm_call *call, size_t size)
{
	if (!call || size > ((size_t)1 << 30))
		return NULL;
	struct call_block *block = malloc(sizeof(*block) + size);
	if (!block)
		return NULL;
	block->next = call->blocks;
	call->blocks = block;
	return block->align;
}

static const char *call_strdup(struct crm_call *call, const char *text)
{
	if (!text)
		return NULL;
	size_t len = strlen(text);
	char *copy = host_call_alloc(call, len + 1);
	if (copy)
		memcpy(copy, text, len + 1);
	return copy;
}

/* JSON text in call-scoped memory. */
static const char *call_dump(struct crm_call *call, const json_t *value)
{
	char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
	const char *copy = call_strdup(call, text);
	free(text);
	return copy;
}

static void host_log(struct crm_plugin *self, int level, const char *fmt, ...)
{
	static const char *const levels[] = { "debug", "info", "warn", "error" };
	struct plugin *plugin = self_plugin(self);
	if (!plugin || !fmt)
		return;
	char message[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	plugin_log(plugin, levels[level < 0 ? 0 : level > 3 ? 3 : level], "%s", message);
}

static int host_error(struct crm_call *call, int code, const char *fmt, ...)
{
	char message[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt ? fmt : "", ap);
	va_end(ap);
	if (code == CRM_OK)
		code = CRM_EINTERNAL;
	return crm_error(call->ctx, code, "%s", message);
}

static void host_field_error(struct crm_call *call, const char *field, const char *message)
{
	crm_field_error(call->ctx, field, "plugin", "%s", message ? message : "is not valid");
	if (!call->ctx->message[0])
		crm_error(call->ctx, CRM_EVALIDATION, "%s: %s", field ? field : "", message ? message : "is not valid");
}

static const char *host_errmsg(struct crm_call *call)
{
	return call->ctx->message;
}

/* Adapters from the kernel's callback types to the ABI's. */
struct c_hook {
	struct plugin *plugin;
	crm_hook_fn fn;
	void *data;
};

struct c_handler {
	struct plugin *plugin;
	crm_handler_fn fn;
	void *data;
};

/* Ends a C callback: a poisoned call fails, call-scoped memory goes. */
static int call_finish(struct crm_call *call, int code)
{
	if (code == CRM_OK && call->poison) {
		code = crm_error(call->ctx, call->poison, "%s", call->poison_message);
	} else if (code == CRM_OK) {
		crm_error_reset(call->ctx);   /* a failed read the plugin handled is not the request's error */
	} else if (!call->ctx->message[0]) {
		crm_error(call->ctx, code, "plugin '%s' failed (%s) without a message", call->plugin->name,
		          crm_status_name(code));
	}
	while (call->blocks) {
		struct call_block *next = call->blocks->next;
		free(call->blocks);
		call->blocks = next;
	}
	return code;
}

static int c_hook_call(void *data, struct crm_ctx *ctx, enum event_kind kind, const struct meta_object *object,
                       json_t *values, json_t *record)
{
	struct c_hook *hook = data;
	struct crm_call call = { .plugin = hook->plugin, .ctx = ctx, .values = values, .record = record };
	int code = hook->fn(hook->data, &call, object->name, events_kind_name(kind));
	code = call_finish(&call, code);
	json_decref(call.response);
	return code;
}

static int c_handler_call(void *data, struct crm_ctx *ctx, json_t *input, json_t **output)
{
	struct c_handler *handler = data;
	struct crm_call call = { .plugin = handler->plugin, .ctx = ctx, .input = input };
	int code = handler->fn(handler->data, &call);
	code = call_finish(&call, code);
	if (code == CRM_OK)
		*output = json_pack("{s:i, s:o}", "status", call.status ? call.status : 200,
		                    "json", call.response ? call.response : json_null());
	else
		json_decref(call.response);
	return code;
}

static int host_on(struct crm_plugin *self, const char *object, const char *event, unsigned flags,
                   crm_hook_fn fn, void *data)
{
	struct plugin *plugin = self_plugin(self);
	if (!plugin || !fn)
		return CRM_EINVAL;
	struct c_hook *hook = xcalloc(1, sizeof(*hook));
	*hook = (struct c_hook) { .plugin = plugin, .fn = fn, .data = data };
	char err[256];
	int code = plugin_add_hook(plugin, object, event, (flags & CRM_HOOK_ASYNC) != 0, c_hook_call, hook,
	                           err, sizeof(err));
	if (code != CRM_OK) {
		free(hook);
		plugin_log(plugin, "error", "on(%s, %s): %s", object ? object : "", event ? event : "", err);
		return code;
	}
	plugin_own(plugin, hook);
	return CRM_OK;
}

/* options: a route's (borrowed, may be NULL). */
static int add_c_handler(struct crm_plugin *self, enum plugin_handler_kind kind, const char *a, const char *b,
                         json_t *options, crm_handler_fn fn, void *data)
{
	struct plugin *plugin = self_plugin(self);
	if (!plugin || !fn)
		return CRM_EINVAL;
	struct c_handler *handler = xcalloc(1, sizeof(*handler));
	*handler = (struct c_handler) { .plugin = plugin, .fn = fn, .data = data };
	char err[256];
	int code = kind == PLUGIN_ROUTE
	         ? plugin_add_route(plugin, a, b, options, c_handler_call, handler, err, sizeof(err))
	         : plugin_add_handler(plugin, kind, a, b, c_handler_call, handler, err, sizeof(err));
	if (code != CRM_OK) {
		free(handler);
		plugin_log(plugin, "error", "%s", err);
		return code;
	}
	plugin_own(plugin, handler);
	return CRM_OK;
}

static int host_action(struct crm_plugin *self, const char *name, crm_handler_fn fn, void *data)
{
	return add_c_handler(self, PLUGIN_ACTION, name, NULL, NULL, fn, data);
}

static int host_route(struct crm_plugin *self, const char *method, const char *path, crm_handler_fn fn, void *data)
{
	return add_c_handler(self, PLUGIN_ROUTE, method, path, NULL, fn, data);
}

/* ABI 1.1: a route with options, as JSON text (a public route and its limits). */
static int host_route_v2(struct crm_plugin *self, const char *method, const char *path, const char *options_json,
                         crm_handler_fn fn, void *data)
{
	json_t *options = NULL;
	if (options_json) {
		json_error_t error;
		if (!(options = json_loads(options_json, JSON_REJECT_DUPLICATES, &error))) {
			if (self_plugin(self))
				plugin_log(self_plugin(self), "error", "route_v2(%s, %s): the options are not JSON: %s",
				           method ? method : "", path ? path : "", error.text);
			return CRM_EINVAL;
		}
	}
	int code = add_c_handler(self, PLUGIN_ROUTE, method, path, options, fn, data);
	json_decref(options);
	return code;
}

static int host_job(struct crm_plugin *self, const char *name, const char *schedule, crm_handler_fn fn, void *data)
{
	return add_c_handler(self, PLUGIN_JOB, name, schedule, NULL, fn, data);
}

static const char *host_config_json(struct crm_plugin *self)
{
	struct plugin *plugin = self_plugin(self);
	return plugin ? plugin->config_text : "{}";
}

static const char *host_config_text(struct crm_plugin *self, const char *key)
{
	struct plugin *plugin = self_plugin(self);
	return plugin && key ? json_string_value(json_object_get(plugin->config, key)) : NULL;
}

static int host_config_number(struct crm_plugin *self, const char *key, double *out)
{
	struct plugin *plugin = self_plugin(self);
	json_t *v = plugin && key ? json_object_get(plugin->config, key) : NULL;
	if (!v || json_is_null(v))
		return CRM_ENOTFOUND;
	if (!json_is_number(v))
		return CRM_EINVAL;
	*out = json_number_value(v);
	return CRM_OK;
}

static json_t *which_json(struct crm_call *call, int which)
{
	return which == CRM_VALUES ? call->values : which == CRM_RECORD ? call->record : NULL;
}

static const char *host_get_text(struct crm_call *call, int which, const char *field)
{
	json_t *source = which_json(call, which);
	return source && field ? json_string_value(json_object_get(source, field)) : NULL;
}

static int host_get_number(struct crm_call *call, int which, const char *field, double *out)
{
	json_t *source = which_json(call, which);
	json_t *v = source && field ? json_object_get(source, field) : NULL;
	if (!v || json_is_null(v))
		return CRM_ENOTFOUND;
	if (!json_is_number(v))
		return CRM_EINVAL;
	*out = json_number_value(v);
	return CRM_OK;
}

static const char *host_get_json(struct crm_call *call, int which, const char *field)
{
	json_t *source = which_json(call, which);
	json_t *v = source && field ? json_object_get(source, field) : NULL;
	return v ? call_dump(call, v) : NULL;
}

static const char *host_record_json(struct crm_call *call, int which)
{
	json_t *source = which_json(call, which);
	return source ? call_dump(call, source) : NULL;
}

static int set_value(struct crm_call *call, const char *field, json_t *value)
{
	if (!value)
		return crm_error(call->ctx, CRM_EINVAL, "set: the value is not valid (bad JSON or UTF-8?)");
	if (!call->values || !field) {
		json_decref(value);
		return crm_error(call->ctx, CRM_EINVAL, "set: only before_create and before_update hooks may change values");
	}
	json_object_set_new(call->values, field, value);
	return CRM_OK;
}

static int host_set_text(struct crm_call *call, const char *field, const char *text)
{
	return set_value(call, field, text ? json_string(text) : json_null());
}

static int host_set_number(struct crm_call *call, const char *field, double value)
{
	return set_value(call, field, json_real(value));
}

static int host_set_int(struct crm_call *call, const char *field, int64_t value)
{
	return set_value(call, field, json_integer((json_int_t)value));
}

static int host_set_null(struct crm_call *call, const char *field)
{
	return set_value(call, field, json_null());
}

static json_t *parse_json_arg(struct crm_call *call, const char *what, const char *text)
{
	json_error_t error;
	json_t *value = text ? json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &error) : NULL;
	if (!value)
		crm_error(call->ctx, CRM_EINVAL, "%s: %s", what, text ? error.text : "missing JSON text");
	return value;
}

static int host_set_json(struct crm_call *call, const char *field, const char *json)
{
	json_t *value = parse_json_arg(call, "set_json", json);
	return value ? set_value(call, field, value) : CRM_EINVAL;
}

static int64_t host_user_id(struct crm_call *call)
{
	return call->ctx->user_id;
}

/* A failed write inside a transaction may have left part of itself: the whole call fails. */
static int write_done(struct crm_call *call, int code)
{
	if (code != CRM_OK && call->ctx->txn && !call->poison) {
		call->poison = code;
		snprintf(call->poison_message, sizeof(call->poison_message), "%s", call->ctx->message);
	}
	return code;
}

static int host_object_get(struct crm_call *call, const char *object, int64_t id, const char **out_json)
{
	json_t *record = NULL;
	int code = object_get(call->ctx, object, id, false, &record);
	if (code == CRM_OK) {
		*out_json = call_dump(call, record);
		json_decref(record);
	}
	return code;
}

static int host_object_query(struct crm_call *call, const char *object, const char *query_json,
                             const char **out_json)
{
	json_t *spec = query_json ? parse_json_arg(call, "query", query_json) : json_object();
	if (!spec)
		return CRM_EINVAL;
	struct object_query query = {
		.filter = json_string_value(json_object_get(spec, "filter")),
		.sort = json_string_value(json_object_get(spec, "sort")),
		.fields = json_string_value(json_object_get(spec, "fields")),
		.search = json_string_value(json_object_get(spec, "search")),
		.after = json_string_value(json_object_get(spec, "after")),
		.limit = (int)json_integer_value(json_object_get(spec, "limit")),
	};
	json_t *page = NULL;
	int code = object_query(call->ctx, object, &query, &page);
	json_decref(spec);
	if (code == CRM_OK) {
		*out_json = call_dump(call, page);
		json_decref(page);
	}
	return code;
}

static int host_object_count(struct crm_call *call, const char *object, const char *filter, int64_t *out)
{
	return object_count(call->ctx, object, filter, out);
}

static int host_object_aggregate(struct crm_call *call, const char *object, const char *group,
                                 const char *measures, const char *filter, const char **out_json)
{
	json_t *rows = NULL;
	int code = object_aggregate(call->ctx, object, group, measures, filter, &rows);
	if (code == CRM_OK) {
		*out_json = call_dump(call, rows);
		json_decref(rows);
	}
	return code;
}

static int host_object_create(struct crm_call *call, const char *object, const char *values_json, int64_t *out_id)
{
	json_t *values = parse_json_arg(call, "create", values_json);
	if (!values)
		return CRM_EINVAL;
	int64_t id = 0;
	int code = write_done(call, object_create_id(call->ctx, object, values, &id));
	json_decref(values);
	if (code == CRM_OK && out_id)
		*out_id = id;
	return code;
}

static int host_send(struct crm_call *call, const char *channel, const char *to, const char *template_name,
                     const char *vars_json, const char *object, int64_t id, int64_t *out_id)
{
	json_t *vars = vars_json ? parse_json_arg(call, "send", vars_json) : NULL;
	if (vars_json && !vars)
		return CRM_EINVAL;
	int64_t created = 0;
	int code = write_done(call, outbox_send(call->ctx, channel, to, template_name, vars, object, id, NULL, &created));
	json_decref(vars);
	if (code == CRM_OK && out_id)
		*out_id = created;
	return code;
}

static int host_object_update(struct crm_call *call, const char *object, int64_t id, int64_t version,
                              const char *changes_json)
{
	json_t *changes = parse_json_arg(call, "update", changes_json);
	if (!changes)
		return CRM_EINVAL;
	int code = write_done(call, object_update(call->ctx, object, id, version, changes, NULL));
	json_decref(changes);
	return code;
}

static int host_object_delete(struct crm_call *call, const char *object, int64_t id, int64_t version)
{
	return write_done(call, object_delete(call->ctx, object, id, version));
}

static const char *host_input_json(struct crm_call *call)
{
	return call->input ? call_dump(call, call->input) : "null";
}

static int host_respond(struct crm_call *call, int status, const char *json)
{
	json_t *value = json ? parse_json_arg(call, "respond", json) : json_null();
	if (!value)
		return CRM_EINVAL;
	if (status != 0 && (status < 200 || status > 599)) {
		json_decref(value);
		return crm_error(call->ctx, CRM_EINVAL, "respond: status %d is not an HTTP status", status);
	}
	json_decref(call->response);
	call->response = value;
	call->status = status;
	return CRM_OK;
}

static void host_table_init(struct crm_host *host)
{
	memset(host, 0, sizeof(*host));
	host->abi_version = CRM_ABI_VERSION;
	host->size = sizeof(*host);
	host->kernel_version = CRM_VERSION;
	host->alloc = host_alloc;
	host->free = host_free;
	host->call_alloc = host_call_alloc;
	host->log = host_log;
	host->error = host_error;
	host->field_error = host_field_error;
	host->errmsg = host_errmsg;
	host->on = host_on;
	host->action = host_action;
	host->route = host_route;
	host->job = host_job;
	host->config_json = host_config_json;
	host->config_text = host_config_text;
	host->config_number = host_config_number;
	host->get_text = host_get_text;
	host->get_number = host_get_number;
	host->get_json = host_get_json;
	host->record_json = host_record_json;
	host->set_text = host_set_text;
	host->set_number = host_set_number;
	host->set_int = host_set_int;
	host->set_null = host_set_null;
	host->set_json = host_set_json;
	host->user_id = host_user_id;
	host->object_get = host_object_get;
	host->object_query = host_object_query;
	host->object_count = host_object_count;
	host->object_aggregate = host_object_aggregate;
	host->object_create = host_object_create;
	host->object_update = host_object_update;
	host->object_delete = host_object_delete;
	host->input_json = host_input_json;
	host->respond = host_respond;
	host->route_v2 = host_route_v2;
	host->send = host_send;
}

typedef int (*plugin_init_fn)(const struct crm_host *, struct crm_plugin *);

static int load_library(struct plugin *plugin, char *err, size_t errlen)
{
	struct strbuf path = { 0 };
	strbuf_printf(&path, "%s/%s.so", plugin->dir, plugin->library);
	int code = CRM_EINVAL;
	struct stat st;
	if (stat(path.data, &st) != 0) {
		snprintf(err, errlen, "%s: not built (run 'make -C %s')", path.data, plugin->dir);
		goto done;
	}
	/* RTLD_LOCAL: a plugin's symbols never satisfy another plugin's references */
	plugin->dl = dlopen(path.data, RTLD_NOW | RTLD_LOCAL);
	if (!plugin->dl) {
		snprintf(err, errlen, "%s: %s", path.data, dlerror());
		goto done;
	}
	plugin_init_fn init;
	void *symbol = dlsym(plugin->dl, "crm_plugin_init");
	if (!symbol) {
		snprintf(err, errlen, "%s: no crm_plugin_init (export int crm_plugin_init(const struct crm_host *, "
		         "struct crm_plugin *))", path.data);
		goto done;
	}
	memcpy(&init, &symbol, sizeof(init));
	plugin->self = xcalloc(1, sizeof(*plugin->self));
	plugin->self->host_private = plugin;
	int rc = init(&plugin->owner->host, plugin->self);
	if (rc != CRM_OK) {
		snprintf(err, errlen, "%s: crm_plugin_init refused to load (%s)%s%s", path.data, crm_status_name(rc),
		         CRM_ABI_VERSION_MAJOR(plugin->self->abi_version) != CRM_ABI_MAJOR && plugin->self->abi_version
		         ? ": ABI mismatch" : "", "");
		plugin->self->unload = NULL;
		goto done;
	}
	bool warning;
	char abi_err[256];
	if (plugin_abi_check(CRM_ABI_VERSION, plugin->self->abi_version, &warning, abi_err, sizeof(abi_err)) != CRM_OK) {
		snprintf(err, errlen, "%s: %s", path.data, abi_err);
		plugin->self->unload = NULL;   /* built for another ABI: call nothing more */
		goto done;
	}
	if (warning)
		plugin_log(plugin, "warn", "%s", abi_err);
	if (plugin->self->name && strcmp(plugin->self->name, plugin->name) != 0) {
		snprintf(err, errlen, "%s: calls itself '%s' but plugin.yaml says '%s'", path.data, plugin->self->name,
		         plugin->name);
		goto done;
	}
	if (plugin->self->version && strcmp(plugin->self->version, plugin->version_text) != 0)
		plugin_log(plugin, "warn", "the library says version %s, plugin.yaml %s", plugin->self->version,
		           plugin->version_text);
	code = CRM_OK;
done:
	strbuf_free(&path);
	return code;
}

/* ---------------------------------------------------------------- manifests */

struct loader {
	FILE *log;
	int errors;
};

static void diag(struct loader *ld, const char *file, int line, int column, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* "file:line:column: error: message", like the metadata loader. */
static void diag(struct loader *ld, const char *file, int line, int column, const char *fmt, ...)
{
	char message[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (line > 0)
		fprintf(ld->log, "%s:%d:%d: error: %s\n", file, line, column, message);
	else
		fprintf(ld->log, "%s: error: %s\n", file, message);
	ld->errors++;
}

#define NODE_DIAG(ld, plugin, node, ...) \
	diag(ld, (plugin)->manifest_path, (node)->line, (node)->column, __VA_ARGS__)

static const char *const manifest_keys[] = {
	"name", "version", "description", "author", "license", "requires", "lua", "library", "config",
	"limits", "system_access", "actions", NULL,
};
static const char *const limit_keys[] = { "instructions", "memory_mb", NULL };
/* actions: { claim: { object: lead, label: {...}, when: "owner = null", confirm: {...} } } */
static const char *const action_decl_keys[] = { "object", "label", "when", "confirm", NULL };

/* For the reference (meta_docs.h): each list names its section of docs/metadata.md. */
static const struct meta_key_table manifest_key_tables[] = {
	{ "plugin-manifest", manifest_keys },
	{ "plugin-limits", limit_keys },
	{ "plugin-action", action_decl_keys },
};

const struct meta_key_table *plugin_key_tables(int *count)
{
	*count = (int)(sizeof(manifest_key_tables) / sizeof(manifest_key_tables[0]));
	return manifest_key_tables;
}

/* "a, b, c (see docs/metadata.md#section)": the keys an unknown-key message lists. */
static void expected_keys(struct strbuf *sb, const char *section, const char *const *keys)
{
	for (int k = 0; keys[k]; k++)
		strbuf_printf(sb, "%s%s", k ? ", " : "", keys[k]);
	strbuf_printf(sb, ") (see docs/metadata.md#%s", section);
}

static bool in_keys(const struct ynode *key, const char *const *keys)
{
	for (int k = 0; keys[k]; k++) {
		if (key->kind == YNODE_SCALAR && strcmp(key->text, keys[k]) == 0)
			return true;
	}
	return false;
}

static bool is_scalar(const struct ynode *node)
{
	return node && node->kind == YNODE_SCALAR && !is_null(node);
}

/* A file name inside the plugin folder: no absolute path, no "..", plain characters. */
static bool safe_relative_path(const char *path)
{
	if (!path[0] || path[0] == '/' || strlen(path) > 200)
		return false;
	for (const char *p = path; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'
		      || c == '.' || c == '/'))
			return false;
	}
	return !strstr(path, "..");
}

static bool parse_limit(struct loader *ld, struct plugin *plugin, const struct ynode *node, const char *key,
                        long long min, long long max, long long *out)
{
	char *end;
	errno = 0;
	long long value = is_scalar(node) && node->plain ? strtoll(node->text, &end, 10) : 0;
	if (!is_scalar(node) || !node->plain || *end || errno || value < min || value > max) {
		NODE_DIAG(ld, plugin, node, "'%s' must be a whole number from %lld to %lld", key, min, max);
		return false;
	}
	*out = value;
	return true;
}

/* Reads plugins_dir/name/plugin.yaml into a plugin; problems go to ld. */
static struct plugin *read_manifest(struct plugins *plugins, struct loader *ld, const char *name)
{
	struct plugin *plugin = xcalloc(1, sizeof(*plugin));
	plugin->owner = plugins;
	plugin->name = xstrdup(name);
	plugin->requires = json_object();
	plugin->require_pos = json_object();
	plugin->hooks = json_array();
	plugin->instructions = DEFAULT_INSTRUCTIONS;
	plugin->memory = (size_t)DEFAULT_MEMORY_MB << 20;
	struct strbuf sb = { 0 };
	crm_path_find(plugins->plugins_dir, name, &sb);   /* a search path: the first folder that has it */
	plugin->dir = strbuf_detach(&sb);
	strbuf_printf(&sb, "%s/plugin.yaml", plugin->dir);
	plugin->manifest_path = strbuf_detach(&sb);

	int errors_before = ld->errors;
	struct ynode *docs[2];
	int doc_count = 0;
	char err[512];
	if (read_yaml_file(plugin->manifest_path, docs, 2, &doc_count, err, sizeof(err)) != CRM_OK) {
		diag(ld, plugin->manifest_path, 0, 0, "%s", err);
		return plugin;
	}
	const struct ynode *root = doc_count > 0 ? docs[0] : NULL;
	if (doc_count != 1 || root->kind != YNODE_MAPPING) {
		diag(ld, plugin->manifest_path, root ? root->line : 0, root ? root->column : 0,
		     "expected one document: a map with name, version and the other manifest keys");
		goto done;
	}
	for (int i = 0; i + 1 < root->count; i += 2) {
		const struct ynode *key = root->items[i];
		if (!in_keys(key, manifest_keys)) {
			struct strbuf expected = { 0 };
			expected_keys(&expected, "plugin-manifest", manifest_keys);
			NODE_DIAG(ld, plugin, key, "unknown key '%s' (expected %s)", key->kind == YNODE_SCALAR ? key->text : "?",
			          expected.data);
			strbuf_free(&expected);
		}
		for (int j = 0; j < i; j += 2) {
			if (key->kind == YNODE_SCALAR && root->items[j]->kind == YNODE_SCALAR
			    && !strcmp(key->text, root->items[j]->text))
				NODE_DIAG(ld, plugin, key, "'%s' is given twice", key->text);
		}
	}
	const struct ynode *node = ytree_map_get(root, "name");
	if (!is_scalar(node))
		diag(ld, plugin->manifest_path, node ? node->line : root->line, node ? node->column : root->column,
		     "'name' is required");
	else if (strcmp(node->text, name) != 0)
		NODE_DIAG(ld, plugin, node, "the plugin is named '%s' but its folder is '%s': they must match", node->text, name);
	node = ytree_map_get(root, "version");
	if (!is_scalar(node))
		diag(ld, plugin->manifest_path, node ? node->line : root->line, node ? node->column : root->column,
		     "'version' is required (semantic version like 1.0.0)");
	else if (semver_parse(node->text, &plugin->version) != CRM_OK)
		NODE_DIAG(ld, plugin, node, "version '%s' is not a semantic version (MAJOR.MINOR.PATCH, like 1.2.0)", node->text);
	else
		plugin->version_text = xstrdup(node->text);
	if ((node = ytree_map_get(root, "description"))) {
		if (node->kind != YNODE_SCALAR)
			NODE_DIAG(ld, plugin, node, "'description' must be a text");
		else
			plugin->description = xstrdup(node->text);
	}
	const struct ynode *lua = ytree_map_get(root, "lua"), *library = ytree_map_get(root, "library");
	if (lua && library)
		NODE_DIAG(ld, plugin, library, "give either 'lua' or 'library', not both");
	if (lua) {
		if (!is_scalar(lua) || !safe_relative_path(lua->text) || strlen(lua->text) < 5
		    || strcmp(lua->text + strlen(lua->text) - 4, ".lua") != 0)
			NODE_DIAG(ld, plugin, lua, "'lua' must name a .lua file inside the plugin folder (like %s.lua)", name);
		else
			plugin->lua_file = xstrdup(lua->text);
	}
	if (library) {
		if (!is_scalar(library) || !crm_valid_name(library->text))
			NODE_DIAG(ld, plugin, library, "'library' must be a name (the plugin folder holds NAME.c, built into NAME.so)");
		else
			plugin->library = xstrdup(library->text);
	}
	if ((node = ytree_map_get(root, "requires")) && !is_null(node)) {
		if (node->kind != YNODE_MAPPING) {
			NODE_DIAG(ld, plugin, node, "'requires' must be a map like { kernel: \">=0.1\", base: \"^1.0\" }");
		} else {
			for (int i = 0; i + 1 < node->count; i += 2) {
				const struct ynode *k = node->items[i], *v = node->items[i + 1];
				if (k->kind != YNODE_SCALAR || (!crm_valid_name(k->text))) {
					NODE_DIAG(ld, plugin, k, "'requires' keys are 'kernel' or plugin names");
					continue;
				}
				if (!is_scalar(v)) {
					NODE_DIAG(ld, plugin, v, "requires.%s must be a version range like \">=1.0\"", k->text);
					continue;
				}
				bool ok;
				struct semver zero = { 0 };
				if (semver_satisfies(v->text, &zero, &ok, err, sizeof(err)) != CRM_OK) {
					NODE_DIAG(ld, plugin, v, "requires.%s: %s", k->text, err);
					continue;
				}
				json_object_set_new(plugin->requires, k->text, json_string(v->text));
				json_object_set_new(plugin->require_pos, k->text, json_pack("[i,i]", v->line, v->column));
			}
		}
	}
	if ((node = ytree_map_get(root, "config")) && !is_null(node)) {
		if (node->kind != YNODE_MAPPING)
			NODE_DIAG(ld, plugin, node, "'config' must be a map of settings with their defaults");
		else
			plugin->defaults = ynode_json(node);
	}
	if ((node = ytree_map_get(root, "limits")) && !is_null(node)) {
		if (node->kind != YNODE_MAPPING) {
			NODE_DIAG(ld, plugin, node, "'limits' must be a map: { instructions: N, memory_mb: N }");
		} else {
			for (int i = 0; i + 1 < node->count; i += 2) {
				const struct ynode *k = node->items[i], *v = node->items[i + 1];
				long long value;
				if (!in_keys(k, limit_keys)) {
					struct strbuf expected = { 0 };
					expected_keys(&expected, "plugin-limits", limit_keys);
					NODE_DIAG(ld, plugin, k, "unknown limit '%s' (expected %s)", k->kind == YNODE_SCALAR ? k->text : "?",
					          expected.data);
					strbuf_free(&expected);
				} else if (!strcmp(k->text, "instructions")) {
					if (parse_limit(ld, plugin, v, "instructions", 10000, 10000000000LL, &value))
						plugin->instructions = value;
				} else if (!strcmp(k->text, "memory_mb")) {
					if (parse_limit(ld, plugin, v, "memory_mb", 1, 1024, &value))
						plugin->memory = (size_t)value << 20;
				}
			}
		}
	}
	if ((node = ytree_map_get(root, "actions")) && !is_null(node)) {
		/* how the code's actions show as buttons; plugin_commit_registrations attaches them */
		if (node->kind != YNODE_MAPPING) {
			NODE_DIAG(ld, plugin, node, "'actions' must be a map: { claim: { object: lead, label: ..., when: ... } }");
		} else {
			plugin->action_decls = json_object();
			for (int i = 0; i + 1 < node->count; i += 2) {
				const struct ynode *k = node->items[i], *v = node->items[i + 1];
				if (k->kind != YNODE_SCALAR || !crm_valid_name(k->text) || v->kind != YNODE_MAPPING) {
					NODE_DIAG(ld, plugin, k, "an action declaration is name: { object, label, when, confirm }");
					continue;
				}
				json_t *decl = json_pack("{s:i, s:i}", "line", k->line, "column", k->column);
				for (int j = 0; j + 1 < v->count; j += 2) {
					const struct ynode *dk = v->items[j], *dv = v->items[j + 1];
					if (!in_keys(dk, action_decl_keys)) {
						struct strbuf expected = { 0 };
						expected_keys(&expected, "plugin-action", action_decl_keys);
						NODE_DIAG(ld, plugin, dk, "unknown key '%s' in action '%s' (expected %s)",
						          dk->kind == YNODE_SCALAR ? dk->text : "?", k->text, expected.data);
						strbuf_free(&expected);
					} else if ((!strcmp(dk->text, "object") || !strcmp(dk->text, "when")) && dv->kind != YNODE_SCALAR) {
						NODE_DIAG(ld, plugin, dv, "'%s' of action '%s' must be a text", dk->text, k->text);
					} else {
						json_object_set_new(decl, dk->text, ynode_json(dv));
					}
				}
				if (!json_object_get(decl, "object"))
					NODE_DIAG(ld, plugin, k, "action '%s' needs 'object': the object whose records show it", k->text);
				json_object_set_new(plugin->action_decls, k->text, decl);
			}
		}
	}
	if ((node = ytree_map_get(root, "system_access"))) {
		if (node->kind != YNODE_SCALAR || (strcmp(node->text, "true") && strcmp(node->text, "false")))
			NODE_DIAG(ld, plugin, node, "'system_access' must be true or false");
		else
			plugin->system_access = strcmp(node->text, "true") == 0;
	}
	plugin->parsed = ld->errors == errors_before;
done:
	for (int i = 0; i < doc_count; i++)
		ytree_free(docs[i]);
	return plugin;
}

/* The position of name in app.yaml's plugins list, for messages. */
struct app_positions {
	char *file;
	struct ynode *root;
};

static void app_positions_read(const struct meta *meta, struct app_positions *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < meta->file_count; i++) {
		size_t len = strlen(meta->files[i]);
		if (len >= 8 && strcmp(meta->files[i] + len - 8, "app.yaml") == 0
		    && (len == 8 || meta->files[i][len - 9] == '/')) {
			out->file = xstrdup(meta->files[i]);
			break;
		}
	}
	if (!out->file)
		return;
	struct ynode *docs[1];
	int count = 0;
	char err[256];
	if (read_yaml_file(out->file, docs, 1, &count, err, sizeof(err)) == CRM_OK && count == 1)
		out->root = docs[0];
}

static void app_plugin_pos(const struct app_positions *app, const char *name, int *line, int *column)
{
	*line = *column = 0;
	const struct ynode *list = ytree_map_get(app->root, "plugins");
	for (int i = 0; list && list->kind == YNODE_SEQUENCE && i < list->count; i++) {
		const struct ynode *item = list->items[i];
		const struct ynode *n = item->kind == YNODE_MAPPING ? ytree_map_get(item, "name") : item;
		if (n && n->kind == YNODE_SCALAR && strcmp(n->text, name) == 0) {
			*line = n->line;
			*column = n->column;
			return;
		}
	}
}

static void app_positions_free(struct app_positions *app)
{
	free(app->file);
	ytree_free(app->root);
}

/* Settings: plugin.yaml defaults, overridden key by key by app.yaml config.<plugin>. */
static void merge_config(struct loader *ld, struct plugin *plugin, const struct meta *meta,
                         const struct app_positions *app)
{
	json_t *overrides = meta->config ? json_object_get(meta->config, plugin->name) : NULL;
	plugin->config = plugin->defaults ? json_deep_copy(plugin->defaults) : json_object();
	if (overrides && !json_is_object(overrides)) {
		diag(ld, app->file ? app->file : "app.yaml", 0, 0, "config.%s must be a map of settings", plugin->name);
	} else if (overrides) {
		const char *key;
		json_t *value;
		json_object_foreach(overrides, key, value) {
			if (plugin->defaults && !json_object_get(plugin->defaults, key)) {
				struct strbuf known = { 0 };
				const char *k;
				json_t *v;
				json_object_foreach(plugin->defaults, k, v)
					strbuf_printf(&known, "%s%s", known.len ? ", " : "", k);
				diag(ld, app->file ? app->file : "app.yaml", 0, 0,
				     "config.%s.%s: plugin '%s' has no such setting (its settings: %s)", plugin->name, key,
				     plugin->name, known.len ? known.data : "none");
				strbuf_free(&known);
				continue;
			}
			json_t *base = json_object_get(plugin->config, key);
			if (json_is_object(base) && json_is_object(value))
				json_object_update(base, value);
			else
				json_object_set(plugin->config, key, value);
		}
	}
	plugin->config_text = json_dumps(plugin->config, JSON_COMPACT | JSON_SORT_KEYS);
}

static struct plugin *find_plugin(struct plugins *plugins, const char *name)
{
	for (int i = 0; i < plugins->all_count; i++)
		if (strcmp(plugins->all[i]->name, name) == 0)
			return plugins->all[i];
	return NULL;
}

/* Depth-first: dependencies first, in the order they are written; reports cycles with their path. */
static void visit(struct plugins *plugins, struct loader *ld, struct plugin *plugin, struct plugin **path, int depth)
{
	if (plugin->mark == 2)
		return;
	path[depth] = plugin;
	if (plugin->mark == 1) {
		int start = 0;
		while (path[start] != plugin)
			start++;
		struct strbuf sb = { 0 };
		for (int i = start; i <= depth; i++)
			strbuf_printf(&sb, "%s%s", i > start ? " -> " : "", path[i]->name);
		json_t *pos = json_object_get(path[depth - 1]->require_pos, plugin->name);
		diag(ld, path[depth - 1]->manifest_path, (int)json_integer_value(json_array_get(pos, 0)),
		     (int)json_integer_value(json_array_get(pos, 1)), "dependency cycle: %s", sb.data);
		strbuf_free(&sb);
		return;
	}
	plugin->mark = 1;
	const char *dep;
	json_t *range;
	json_object_foreach(plugin->requires, dep, range) {
		struct plugin *other = strcmp(dep, "kernel") ? find_plugin(plugins, dep) : NULL;
		if (other && other->parsed && depth + 1 < MAX_PLUGINS)
			visit(plugins, ld, other, path, depth + 1);
	}
	plugin->mark = 2;
	plugins->items[plugins->count++] = plugin;
}

/* Checks requires: the kernel's version, enabled plugins, their versions. */
static void check_requires(struct plugins *plugins, struct loader *ld, struct plugin *plugin)
{
	struct semver kernel_version;
	semver_parse(CRM_VERSION, &kernel_version);
	const char *dep;
	json_t *range;
	json_object_foreach(plugin->requires, dep, range) {
		json_t *pos = json_object_get(plugin->require_pos, dep);
		int line = (int)json_integer_value(json_array_get(pos, 0)), column = (int)json_integer_value(json_array_get(pos, 1));
		char err[256];
		bool ok = true;
		if (strcmp(dep, "kernel") == 0) {
			semver_satisfies(json_string_value(range), &kernel_version, &ok, err, sizeof(err));
			if (!ok)
				diag(ld, plugin->manifest_path, line, column, "plugin '%s' requires kernel %s, but this kernel is %s",
				     plugin->name, json_string_value(range), CRM_VERSION);
			continue;
		}
		struct plugin *other = find_plugin(plugins, dep);
		if (!other) {
			diag(ld, plugin->manifest_path, line, column, "plugin '%s' requires plugin '%s' (%s), which is not "
			     "enabled: add it to 'plugins:' in app.yaml", plugin->name, dep, json_string_value(range));
			continue;
		}
		if (!other->parsed)
			continue;
		semver_satisfies(json_string_value(range), &other->version, &ok, err, sizeof(err));
		if (!ok)
			diag(ld, plugin->manifest_path, line, column, "plugin '%s' requires '%s' %s, but %s is version %s",
			     plugin->name, dep, json_string_value(range), dep, other->version_text);
	}
}

static int load_code(struct plugin *plugin, struct loader *ld)
{
	char err[1024] = "";
	int code = CRM_OK;
	plugin->loading = true;
	if (plugin->lua_file) {
		struct strbuf path = { 0 };
		strbuf_printf(&path, "%s/%s", plugin->dir, plugin->lua_file);
		code = lua_host_load(plugin, path.data, &plugin->lua, err, sizeof(err));
		if (code != CRM_OK)
			diag(ld, path.data, 0, 0, "%s", err);
		strbuf_free(&path);
	} else if (plugin->library) {
		code = load_library(plugin, err, sizeof(err));
		if (code != CRM_OK)
			diag(ld, plugin->manifest_path, 0, 0, "library '%s': %s", plugin->library, err);
	}
	plugin->loading = false;
	if (code == CRM_OK && (code = plugin_commit_registrations(plugin, err, sizeof(err))) != CRM_OK)
		diag(ld, plugin->manifest_path, 0, 0, "%s", err);
	plugin_pending_clear(plugin);
	if (code != CRM_OK)
		plugin_unload(plugin);
	return code;
}

static int load_all(struct crm_kernel *kernel, const char *plugins_dir, FILE *log, struct plugins **out)
{
	const struct meta *meta = kernel->meta;
	struct plugins *plugins = xcalloc(1, sizeof(*plugins));
	plugins->kernel = kernel;
	plugins->plugins_dir = xstrdup(plugins_dir ? plugins_dir : "plugins");
	pthread_mutex_init(&plugins->jobs_lock, NULL);
	host_table_init(&plugins->host);
	*out = plugins;
	if (meta->plugin_count == 0)
		return CRM_OK;
	if (meta->plugin_count > MAX_PLUGINS) {
		fprintf(log, "crm: more than %d plugins enabled\n", MAX_PLUGINS);
		return CRM_ELIMIT;
	}
	struct loader ld = { .log = log };
	struct app_positions app;
	app_positions_read(meta, &app);
	plugins->all = xcalloc((size_t)meta->plugin_count, sizeof(*plugins->all));
	plugins->items = xcalloc((size_t)meta->plugin_count, sizeof(*plugins->items));
	for (int i = 0; i < meta->plugin_count; i++) {
		struct plugin *plugin = read_manifest(plugins, &ld, meta->plugins[i].name);
		plugins->all[plugins->all_count++] = plugin;
		const char *range = meta->plugins[i].version_range;
		bool ok = true;
		char err[256];
		int line, column;
		app_plugin_pos(&app, plugin->name, &line, &column);
		if (range && plugin->parsed) {
			if (semver_satisfies(range, &plugin->version, &ok, err, sizeof(err)) != CRM_OK)
				diag(&ld, app.file ? app.file : "app.yaml", line, column, "plugin '%s': %s", plugin->name, err);
			else if (!ok)
				diag(&ld, app.file ? app.file : "app.yaml", line, column, "plugin '%s' %s is enabled, but %s "
				     "has version %s", plugin->name, range, plugin->manifest_path, plugin->version_text);
		}
		merge_config(&ld, plugin, meta, &app);
	}
	for (int i = 0; i < plugins->all_count; i++)
		if (plugins->all[i]->parsed)
			check_requires(plugins, &ld, plugins->all[i]);
	if (ld.errors == 0) {
		struct plugin *path[MAX_PLUGINS + 1];
		for (int i = 0; i < plugins->all_count; i++)
			visit(plugins, &ld, plugins->all[i], path, 0);
	}
	app_positions_free(&app);
	if (ld.errors) {
		plugins->count = 0;
		fprintf(log, "crm: %d plugin error%s\n", ld.errors, ld.errors == 1 ? "" : "s");
		return CRM_EMETA;
	}
	for (int i = 0; i < plugins->count; i++) {
		if (load_code(plugins->items[i], &ld) != CRM_OK) {
			plugins->count = i;   /* the ones before stay loaded until freed */
			fprintf(log, "crm: plugin '%s' failed to load\n", plugins->items[i]->name);
			return CRM_EMETA;
		}
	}
	return CRM_OK;
}

int plugins_load(struct crm_kernel *kernel, const char *plugins_dir, struct plugins **out)
{
	struct plugins *plugins = NULL;
	int code = load_all(kernel, plugins_dir, kernel->log ? kernel->log : stderr, &plugins);
	if (code != CRM_OK) {
		plugins_free(plugins);
		return code;
	}
	*out = plugins;
	return CRM_OK;
}

/* ---------------------------------------------------------------- commands */

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir ending with suffix, sorted (owned array of owned strings). */
static int list_files(const char *dir, const char *suffix, char ***out)
{
	*out = NULL;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int count = 0, cap = 0;
	struct dirent *entry;
	size_t slen = strlen(suffix);
	while ((entry = readdir(d))) {
		size_t len = strlen(entry->d_name);
		if (entry->d_name[0] == '.' || len <= slen || strcmp(entry->d_name + len - slen, suffix) != 0)
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 8;
			*out = xrealloc(*out, (size_t)cap * sizeof(**out));
		}
		(*out)[count++] = xstrdup(entry->d_name);
	}
	closedir(d);
	if (count)
		qsort(*out, (size_t)count, sizeof(**out), compare_names);
	return count;
}

static void free_names(char **names, int count)
{
	for (int i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

/* "vehicle, lead (extends), workflow lead_flow" from the plugin's objects/ folder. */
static void describe_objects(const struct plugin *plugin, struct strbuf *sb)
{
	struct strbuf dir = { 0 };
	strbuf_printf(&dir, "%s/objects", plugin->dir);
	char **names;
	int count = list_files(dir.data, ".yaml", &names);
	for (int i = 0; i < count; i++) {
		struct strbuf path = { 0 };
		strbuf_printf(&path, "%s/%s", dir.data, names[i]);
		struct ynode *docs[64];
		int doc_count = 0;
		char err[256];
		if (read_yaml_file(path.data, docs, 64, &doc_count, err, sizeof(err)) == CRM_OK) {
			for (int d = 0; d < doc_count; d++) {
				static const char *const kinds[] = { "object", "workflow", "role", NULL };
				for (int k = 0; kinds[k]; k++) {
					const struct ynode *n = ytree_map_get(docs[d], kinds[k]);
					if (!is_scalar(n))
						continue;
					const struct ynode *extend = ytree_map_get(docs[d], "extend");
					strbuf_printf(sb, "%s%s%s%s%s", sb->len ? ", " : "", k ? kinds[k] : "", k ? " " : "", n->text,
					              extend && is_scalar(extend) && !strcmp(extend->text, "true") ? " (extends)" : "");
					break;
				}
				ytree_free(docs[d]);
			}
		}
		strbuf_free(&path);
	}
	free_names(names, count);
	strbuf_free(&dir);
}

static void list_handlers(struct plugins *plugins, const struct plugin *plugin, enum plugin_handler_kind kind,
                          struct strbuf *sb)
{
	for (int i = 0; i < plugins->handler_count; i++) {
		const struct handler *h = plugins->handlers[i];
		if (h->plugin != plugin || h->kind != kind)
			continue;
		strbuf_printf(sb, "%s%s", sb->len ? ", " : "", h->name);
		if (kind == PLUGIN_JOB)
			strbuf_printf(sb, " (%s)", h->schedule);
		/* anyone may call it, as the guest, at API_PUBLIC_PREFIX (server/api.h) */
		if (kind == PLUGIN_ROUTE && h->is_public) {
			strbuf_puts(sb, " (public at /api/v1/public");
			for (int s = 0; s < h->segment_count; s++)
				strbuf_printf(sb, "/%s", h->segments[s]);
			strbuf_printf(sb, ", %d per %d s per address, body up to %zu bytes", h->rate_limit, h->rate_period,
			              h->max_body);
			if (h->secret_env[0])
				strbuf_printf(sb, ", signed with $%s within %d s", h->secret_env, h->max_age);
			strbuf_putc(sb, ')');
		}
	}
}

int plugin_cli_list(struct crm_kernel *kernel, bool stats, FILE *out)
{
	struct plugins *plugins = kernel ? kernel->plugins : NULL;
	if (!plugins || plugins->count == 0) {
		fprintf(out, "no plugins enabled (list them under 'plugins:' in metadata/app.yaml)\n");
		return 0;
	}
	for (int i = 0; i < plugins->count; i++) {
		const struct plugin *p = plugins->items[i];
		fprintf(out, "%s %s", p->name, p->version_text);
		if (p->lua_file)
			fprintf(out, "  (lua: %s)\n", p->lua_file);
		else if (p->library)
			fprintf(out, "  (c: %s.so, ABI %u.%u)\n", p->library, CRM_ABI_VERSION_MAJOR(p->self->abi_version),
			        CRM_ABI_VERSION_MINOR(p->self->abi_version));
		else
			fprintf(out, "  (metadata only)\n");
		if (p->description)
			fprintf(out, "  %s\n", p->description);
		struct strbuf sb = { 0 };
		const char *dep;
		json_t *range;
		json_object_foreach(p->requires, dep, range)
			strbuf_printf(&sb, "%s%s %s", sb.len ? ", " : "", dep, json_string_value(range));
		if (sb.len)
			fprintf(out, "  requires: %s\n", sb.data);
		strbuf_reset(&sb);
		describe_objects(p, &sb);
		if (sb.len)
			fprintf(out, "  objects:  %s\n", sb.data);
		strbuf_reset(&sb);
		size_t k;
		json_t *hook;
		json_array_foreach(p->hooks, k, hook)
			strbuf_printf(&sb, "%s%s", sb.len ? ", " : "", json_string_value(hook));
		if (sb.len)
			fprintf(out, "  hooks:    %s\n", sb.data);
		static const char *const labels[] = { "actions: ", "routes:  ", "jobs:    " };
		for (int kind = PLUGIN_ACTION; kind <= PLUGIN_JOB; kind++) {
			strbuf_reset(&sb);
			list_handlers(plugins, p, kind, &sb);
			if (sb.len)
				fprintf(out, "  %s %s\n", labels[kind], sb.data);
		}
		if (p->system_access)
			fprintf(out, "  system access: yes (crm.as_system)\n");
		strbuf_free(&sb);
	}
	if (!stats)
		return 0;
	fprintf(out, "\nhooks:\n  %-16s %-16s %-18s %9s %7s %9s %9s\n", "plugin", "object", "event", "calls", "errors",
	        "avg_us", "max_us");
	json_t *hooks = events_stats(kernel->events);
	size_t i;
	json_t *row;
	json_array_foreach(hooks, i, row) {
		long long calls = json_integer_value(json_object_get(row, "calls"));
		fprintf(out, "  %-16s %-16s %-18s %9lld %7lld %9.1f %9lld\n", json_string_value(json_object_get(row, "plugin")),
		        json_string_value(json_object_get(row, "object")), json_string_value(json_object_get(row, "event")),
		        calls, (long long)json_integer_value(json_object_get(row, "errors")),
		        calls ? (double)json_integer_value(json_object_get(row, "total_us")) / (double)calls : 0.0,
		        (long long)json_integer_value(json_object_get(row, "max_us")));
	}
	json_decref(hooks);
	fprintf(out, "\nactions and routes:\n  %-16s %-32s %9s %7s %9s %9s\n", "plugin", "name", "calls", "errors",
	        "avg_us", "max_us");
	for (int h = 0; h < plugins->handler_count; h++) {
		const struct handler *hd = plugins->handlers[h];
		if (hd->kind == PLUGIN_JOB)
			continue;
		long long calls = atomic_load(&hd->calls);
		fprintf(out, "  %-16s %-32s %9lld %7lld %9.1f %9lld\n", hd->plugin->name, hd->name, calls,
		        (long long)atomic_load(&hd->errors), calls ? (double)atomic_load(&hd->total_us) / (double)calls : 0.0,
		        (long long)atomic_load(&hd->max_us));
	}
	fprintf(out, "\njobs:\n  %-16s %-24s %-12s %6s %8s %s\n", "plugin", "job", "every", "runs", "failures", "last error");
	json_t *jobs = plugin_jobs_stats(kernel);
	json_array_foreach(jobs, i, row) {
		fprintf(out, "  %-16s %-24s %-12s %6lld %8lld %s\n", json_string_value(json_object_get(row, "plugin")),
		        json_string_value(json_object_get(row, "job")), json_string_value(json_object_get(row, "every")),
		        (long long)json_integer_value(json_object_get(row, "runs")),
		        (long long)json_integer_value(json_object_get(row, "failures")),
		        json_string_value(json_object_get(row, "last_error")));
	}
	json_decref(jobs);
	fprintf(out, "\nlua states:\n");
	for (int p = 0; p < plugins->count; p++) {
		if (!plugins->items[p]->lua)
			continue;
		json_t *ls = lua_host_stats(plugins->items[p]->lua);
		fprintf(out, "  %-16s %lld states, %lld busy, %lld KiB in use, budget %lld instructions, cap %lld MiB\n",
		        plugins->items[p]->name, (long long)json_integer_value(json_object_get(ls, "states")),
		        (long long)json_integer_value(json_object_get(ls, "busy")),
		        (long long)json_integer_value(json_object_get(ls, "memory")) / 1024,
		        plugins->items[p]->instructions, (long long)(plugins->items[p]->memory >> 20));
		json_decref(ls);
	}
	return 0;
}

/* One deployment (the base, or an industry's); *industries gets the names app.yaml declares, if asked. */
static int check_deployment(const char *metadata_dir, const char *plugins_dir, const char *industry, FILE *out,
                            char ***industries, int *industry_count)
{
	struct meta *meta = NULL;
	struct meta_diags diags = { 0 };
	int code = meta_load_industry(metadata_dir, plugins_dir, industry, &meta, &diags);
	meta_diags_print(&diags, out);
	meta_diags_free(&diags);
	if (code != CRM_OK) {
		fprintf(out, "crm check: metadata has errors\n");
		return 1;
	}
	/* a kernel without a store: plugins load and register, data calls are not possible */
	struct crm_kernel kernel = { .meta = meta, .log = out };
	kernel.events = events_new(meta);
	struct plugins *plugins = NULL;
	code = plugins_load(&kernel, plugins_dir, &plugins);
	if (code == CRM_OK) {
		int fields = 0;
		for (int i = 0; i < meta->object_count; i++)
			fields += meta->objects[i].field_count;
		fprintf(out, "ok: %d objects, %d fields, %d plugins (metadata %.12s)\n", meta->object_count, fields,
		        meta->plugin_count, meta->version);
		for (int i = 0; i < plugins->count; i++) {
			const struct plugin *p = plugins->items[i];
			int handlers[3] = { 0 };
			for (int h = 0; h < plugins->handler_count; h++)
				if (plugins->handlers[h]->plugin == p)
					handlers[plugins->handlers[h]->kind]++;
			fprintf(out, "  plugin %s %s: %zu hooks, %d actions, %d routes, %d jobs\n", p->name, p->version_text,
			        json_array_size(p->hooks), handlers[PLUGIN_ACTION], handlers[PLUGIN_ROUTE], handlers[PLUGIN_JOB]);
		}
	} else {
		fprintf(out, "crm check: plugins have errors\n");
	}
	plugins_free(plugins);
	events_free(kernel.events);
	for (int i = 0; industries && i < meta->industry_count; i++) {
		*industries = xrealloc(*industries, (size_t)(*industry_count + 1) * sizeof(**industries));
		(*industries)[(*industry_count)++] = xstrdup(meta->industries[i].name);
	}
	meta_free(meta);
	return code == CRM_OK ? 0 : 1;
}

int plugin_check(const char *metadata_dir, const char *plugins_dir, const char *industry, FILE *out)
{
	char **industries = NULL;
	int count = 0;
	int status = check_deployment(metadata_dir, plugins_dir, industry, out, industry ? NULL : &industries, &count);
	/* without --industry, every industry app.yaml declares is a deployment to check too */
	for (int i = 0; i < count; i++) {
		fprintf(out, "industry %s: ", industries[i]);
		status |= check_deployment(metadata_dir, plugins_dir, industries[i], out, NULL, NULL);
		free(industries[i]);
	}
	free(industries);
	return status;
}

/* Writes text to dir/name, replacing every "@NAME@" with name and "@SDK@" with sdk. */
static int write_template(const char *dir, const char *file, const char *text, const char *name, const char *sdk,
                          FILE *out)
{
	struct strbuf path = { 0 }, body = { 0 };
	strbuf_printf(&path, "%s/%s", dir, file);
	for (const char *p = text; *p;) {
		if (!strncmp(p, "@NAME@", 6)) {
			strbuf_puts(&body, name);
			p += 6;
		} else if (!strncmp(p, "@SDK@", 5)) {
			strbuf_puts(&body, sdk);
			p += 5;
		} else {
			strbuf_putc(&body, *p++);
		}
	}
	FILE *f = fopen(path.data, "wx");
	int code = 0;
	if (!f || fwrite(body.data, 1, body.len, f) != body.len) {
		fprintf(out, "crm plugin new: cannot write %s: %s\n", path.data, strerror(errno));
		code = 1;
	}
	if (f && fclose(f) != 0)
		code = 1;
	strbuf_free(&path);
	strbuf_free(&body);
	return code;
}

static const char lua_manifest[] =
	"# @NAME@: one line on what this plugin does.\n"
	"name: @NAME@\n"
	"version: 0.1.0\n"
	"description: \"What @NAME@ does, for the people who enable it\"\n"
	"requires: { kernel: \">=0.1\" }\n"
	"lua: @NAME@.lua\n"
	"# Settings with their defaults; a deployment overrides them in app.yaml under config: { @NAME@: {...} }\n"
	"config:\n"
	"  greeting: hello\n";

static const char lua_source[] =
	"-- @NAME@: the plugin's behaviour. Every crm.* function is described in sdk/lua-api.md.\n"
	"--\n"
	"-- Registrations (crm.on, crm.action, crm.route, crm.job) run once, when the plugin\n"
	"-- loads; the functions they register run on each event or request.\n"
	"\n"
	"-- GET /api/v1/plugins/@NAME@/hello\n"
	"crm.route(\"GET\", \"/@NAME@/hello\", function(req, ctx)\n"
	"  return { status = 200, json = { message = crm.config.greeting .. \" from @NAME@\", user = ctx.user } }\n"
	"end)\n"
	"\n"
	"-- An action, run on a record: POST /api/v1/objects/{object}/{id}/actions/@NAME@.echo\n"
	"crm.action(\"echo\", function(record, ctx, args)\n"
	"  return { id = record and record.id, args = args }\n"
	"end)\n"
	"\n"
	"-- Next: a hook on one of your objects, for example\n"
	"--   crm.on(\"account\", \"before_create\", function(new, old, ctx) ... end)\n"
	"-- where error(\"why\") refuses the write with your message (HTTP 422).\n";

static const char c_manifest[] =
	"# @NAME@: one line on what this plugin does.\n"
	"name: @NAME@\n"
	"version: 0.1.0\n"
	"description: \"What @NAME@ does, for the people who enable it\"\n"
	"requires: { kernel: \">=0.1\" }\n"
	"library: @NAME@\n"
	"# Settings with their defaults; a deployment overrides them in app.yaml under config: { @NAME@: {...} }\n"
	"config:\n"
	"  greeting: hello\n";

static const char c_source[] =
	"/*\n"
	" * @NAME@: the plugin's behaviour. The whole ABI is documented in crm_plugin.h.\n"
	" * Build: make -C plugins/@NAME@   Test: crm plugin test @NAME@\n"
	" */\n"
	"#include <stdio.h>\n"
	"#include \"crm_plugin.h\"\n"
	"\n"
	"static const struct crm_host *host;   /* plugin-scoped: valid until unload */\n"
	"static struct crm_plugin *plugin;\n"
	"\n"
	"/* GET /api/v1/plugins/@NAME@/hello */\n"
	"static int hello(void *data, struct crm_call *call)\n"
	"{\n"
	"\t(void)data;\n"
	"\tconst char *greeting = host->config_text(plugin, \"greeting\");\n"
	"\tchar json[256];\n"
	"\t/* greeting is a plain word in this template; escape it if yours may hold quotes */\n"
	"\tsnprintf(json, sizeof(json), \"{\\\"message\\\": \\\"%s from @NAME@\\\"}\", greeting ? greeting : \"hello\");\n"
	"\treturn host->respond(call, 200, json);\n"
	"}\n"
	"\n"
	"int crm_plugin_init(const struct crm_host *h, struct crm_plugin *self)\n"
	"{\n"
	"\tif (!crm_host_compatible(h))\n"
	"\t\treturn CRM_EINVAL;\n"
	"\thost = h;\n"
	"\tplugin = self;\n"
	"\tself->abi_version = CRM_ABI_VERSION;\n"
	"\tself->name = \"@NAME@\";\n"
	"\tself->version = \"0.1.0\";\n"
	"\treturn host->route(self, \"GET\", \"/@NAME@/hello\", hello, NULL);\n"
	"}\n";

static const char c_makefile[] =
	"# Builds @NAME@.so from @NAME@.c against the SDK header: make -C plugins/@NAME@\n"
	"NAME   := @NAME@\n"
	"SDK    ?= @SDK@\n"
	"CFLAGS ?= -O2 -g\n"
	"\n"
	"$(NAME).so: $(NAME).c $(SDK)/crm_plugin.h\n"
	"\t$(CC) -std=c11 -Wall -Wextra -Werror -shared -fPIC -I$(SDK) $(CFLAGS) -o $@ $< $(LDFLAGS)\n"
	"\n"
	"clean:\n"
	"\trm -f $(NAME).so\n"
	"\n"
	".PHONY: clean\n";

static const char test_source[] =
	"-- Tests of @NAME@: crm plugin test @NAME@\n"
	"-- Every global function named test_* runs against a scratch database, in a\n"
	"-- transaction rolled back afterwards. Fail with error() or assert().\n"
	"\n"
	"function test_hello_route_answers()\n"
	"  local res = crm.test.route(\"GET\", \"/@NAME@/hello\")\n"
	"  assert(res.status == 200, \"status \" .. tostring(res.status))\n"
	"  assert(res.json.message == \"hello from @NAME@\", res.json.message)\n"
	"end\n"
	"\n"
	"function test_settings_have_their_defaults()\n"
	"  assert(crm.config.greeting == \"hello\")\n"
	"end\n";

int plugin_cli_new(const char *plugins_dir, const char *name, const char *lang, FILE *out)
{
	if (!name || !crm_valid_name(name)) {
		fprintf(out, "crm plugin new: '%s' is not a valid plugin name (lower-case letters, digits and _, "
		        "starting with a letter)\n", name ? name : "");
		return 1;
	}
	bool c = lang && strcmp(lang, "c") == 0;
	if (!lang || (!c && strcmp(lang, "lua") != 0)) {
		fprintf(out, "crm plugin new: --lang must be lua or c\n");
		return 1;
	}
	struct strbuf dir = { 0 }, sub = { 0 }, sdk = { 0 };
	/* a new plugin goes into the first folder of the search path */
	char *first = xstrndup(plugins_dir, strcspn(plugins_dir, ":"));
	plugins_dir = first;
	strbuf_printf(&dir, "%s/%s", plugins_dir, name);
	int code = 1;
	mkdir(plugins_dir, 0755);
	if (mkdir(dir.data, 0755) != 0) {
		fprintf(out, "crm plugin new: cannot create %s: %s\n", dir.data, strerror(errno));
		goto done;
	}
	strbuf_printf(&sub, "%s/tests", dir.data);
	mkdir(sub.data, 0755);
	/* the SDK relative to the plugin when the plugins folder sits beside sdk/, else where we run */
	strbuf_printf(&sdk, "%s/../sdk/crm_plugin.h", plugins_dir);
	char real[PATH_MAX];
	if (access(sdk.data, R_OK) == 0) {
		strbuf_reset(&sdk);
		strbuf_puts(&sdk, "../../sdk");
	} else if (realpath("sdk", real) && strlen(real) + 20 < sizeof(real)) {
		strbuf_reset(&sdk);
		strbuf_puts(&sdk, real);
	} else {
		strbuf_reset(&sdk);
		strbuf_puts(&sdk, "../../sdk");
	}
	struct strbuf file = { 0 };
	strbuf_printf(&file, "%s.%s", name, c ? "c" : "lua");
	struct strbuf test_file = { 0 };
	strbuf_printf(&test_file, "tests/%s_test.lua", name);
	code = write_template(dir.data, "plugin.yaml", c ? c_manifest : lua_manifest, name, sdk.data, out)
	    || write_template(dir.data, file.data, c ? c_source : lua_source, name, sdk.data, out)
	    || (c && write_template(dir.data, "Makefile", c_makefile, name, sdk.data, out))
	    || write_template(dir.data, test_file.data, test_source, name, sdk.data, out);
	if (!code) {
		fprintf(out, "created %s: plugin.yaml, %s%s, %s\n", dir.data, file.data, c ? ", Makefile" : "", test_file.data);
		fprintf(out, "next:\n");
		if (c)
			fprintf(out, "  make -C %s              build %s.so\n", dir.data, name);
		fprintf(out, "  crm plugin test %s       run its tests on a scratch database\n", name);
		fprintf(out, "  add '- %s' under plugins: in metadata/app.yaml to enable it, then crm check\n", name);
	}
	strbuf_free(&file);
	strbuf_free(&test_file);
done:
	strbuf_free(&dir);
	strbuf_free(&sub);
	strbuf_free(&sdk);
	free(first);
	return code;
}

/* Removes a scratch directory made by plugin_cli_test (files and one level of folders). */
static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *entry;
		while ((entry = readdir(d))) {
			if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, ".."))
				continue;
			struct strbuf path = { 0 };
			strbuf_printf(&path, "%s/%s", dir, entry->d_name);
			struct stat st;
			if (lstat(path.data, &st) == 0 && S_ISDIR(st.st_mode))
				remove_tree(path.data);
			else
				unlink(path.data);
			strbuf_free(&path);
		}
		closedir(d);
	}
	rmdir(dir);
}

static void yaml_quoted(struct strbuf *sb, const char *text)
{
	json_t *s = json_string(text ? text : "");
	char *dumped = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
	strbuf_puts(sb, dumped ? dumped : "\"\"");
	free(dumped);
	json_decref(s);
}

int plugin_test_scratch(const char *metadata_dir, const char *plugins_dir, const char *name, char **dir, FILE *out)
{
	struct meta *meta = NULL;
	struct meta_diags diags = { 0 };
	if (meta_load(metadata_dir, plugins_dir, &meta, &diags) != CRM_OK) {
		meta_diags_print(&diags, out);
		meta_diags_free(&diags);
		fprintf(out, "crm plugin test: the metadata has errors\n");
		return 1;
	}
	meta_diags_free(&diags);
	char *scratch = xstrdup("/tmp/crm-plugin-test-XXXXXX");
	if (!mkdtemp(scratch)) {
		fprintf(out, "crm plugin test: cannot create a scratch folder: %s\n", strerror(errno));
		meta_free(meta);
		free(scratch);
		return 1;
	}
	/* scratch metadata: the deployment's files, and an app.yaml that also enables the plugin */
	struct strbuf path = { 0 }, text = { 0 };
	strbuf_printf(&path, "%s/metadata", scratch);
	mkdir(path.data, 0755);
	char real[PATH_MAX];
	char **names;
	int count = realpath(metadata_dir, real) ? list_files(metadata_dir, ".yaml", &names) : 0;
	for (int i = 0; i < count; i++) {
		if (strcmp(names[i], "app.yaml") == 0)
			continue;
		struct strbuf target = { 0 }, link_path = { 0 };
		strbuf_printf(&target, "%s/%s", real, names[i]);
		strbuf_printf(&link_path, "%s/metadata/%s", scratch, names[i]);
		if (symlink(target.data, link_path.data) != 0)
			fprintf(out, "crm plugin test: cannot link %s: %s\n", target.data, strerror(errno));
		strbuf_free(&target);
		strbuf_free(&link_path);
	}
	if (count)
		free_names(names, count);
	strbuf_puts(&text, "app: ");
	yaml_quoted(&text, meta->app_name ? meta->app_name : "test");
	strbuf_puts(&text, "\nindustry: ");
	yaml_quoted(&text, meta->industry ? meta->industry : "generic");
	strbuf_puts(&text, "\nlanguages: [");
	for (int i = 0; i < meta->language_count; i++) {
		if (i)
			strbuf_puts(&text, ", ");
		yaml_quoted(&text, meta->languages[i]);
	}
	strbuf_puts(&text, "]\nplugins:\n");
	bool listed = false;
	for (int i = 0; i < meta->plugin_count; i++) {
		strbuf_puts(&text, "  - ");
		yaml_quoted(&text, meta->plugins[i].name);
		strbuf_putc(&text, '\n');
		listed = listed || strcmp(meta->plugins[i].name, name) == 0;
	}
	if (!listed) {
		strbuf_puts(&text, "  - ");
		yaml_quoted(&text, name);
		strbuf_putc(&text, '\n');
	}
	char *config = meta->config ? json_dumps(meta->config, JSON_COMPACT) : NULL;
	strbuf_printf(&text, "config: %s\n", config ? config : "{}");
	free(config);
	meta_free(meta);
	strbuf_reset(&path);
	strbuf_printf(&path, "%s/metadata/app.yaml", scratch);
	FILE *f = fopen(path.data, "w");
	if (f) {
		fputs(text.data, f);
		fclose(f);
	}
	strbuf_free(&text);
	strbuf_free(&path);
	*dir = scratch;
	return 0;
}

void plugin_test_run(struct crm_kernel *kernel, const char *plugins_dir, const char *name, FILE *out, int *passed,
                     int *failed)
{
	struct plugin *plugin = NULL;
	for (int i = 0; kernel->plugins && i < kernel->plugins->count; i++)
		if (strcmp(kernel->plugins->items[i]->name, name) == 0)
			plugin = kernel->plugins->items[i];
	struct strbuf path = { 0 };
	char **names;
	crm_path_find(plugins_dir, name, &path);
	strbuf_puts(&path, "/tests");
	int count = plugin ? list_files(path.data, ".lua", &names) : 0;
	if (plugin && count == 0)
		fprintf(out, "crm plugin test: no tests in %s (files *.lua with functions test_*)\n", path.data);
	for (int i = 0; i < count; i++) {
		struct strbuf file = { 0 };
		strbuf_printf(&file, "%s/%s", path.data, names[i]);
		fprintf(out, "== %s\n", file.data);
		lua_host_run_tests(plugin, file.data, out, passed, failed);
		strbuf_free(&file);
	}
	if (count)
		free_names(names, count);
	strbuf_free(&path);
}

void plugin_test_cleanup(char *dir)
{
	if (!dir)
		return;
	remove_tree(dir);
	free(dir);
}
