/*
 * crm_plugin.h - the C plugin ABI of the CRM platform. This file IS the
 * contract: if it is not in this file, it is not a published API.
 *
 * A C plugin is a shared object built from plugins/<name>/<name>.c:
 *
 *     cc -std=c11 -shared -fPIC -I<sdk> -o <name>.so <name>.c
 *
 * It exports exactly one symbol, crm_plugin_init, which the kernel calls once
 * at start (after loading the metadata and opening the database), with the
 * host table of function pointers and the plugin's own descriptor:
 *
 *     int crm_plugin_init(const struct crm_host *host, struct crm_plugin *self)
 *     {
 *         if (!crm_host_compatible(host))
 *             return CRM_EINVAL;
 *         self->abi_version = CRM_ABI_VERSION;
 *         self->name = "vin";
 *         self->version = "1.0.0";
 *         return host->on(self, "vehicle", "before_create", 0, check_vin, NULL);
 *     }
 *
 * Model: SQLite's loadable extensions (sqlite3ext.h) and Redis modules
 * (redismodule.h). The kernel never hands over its own structures: every
 * record crosses the boundary as JSON text, and every call goes through a
 * function pointer of struct crm_host.
 *
 * VERSIONING. CRM_ABI_VERSION is (major << 16) | minor. Within a major, the
 * host table only grows at its end: nothing is reordered, removed or changed.
 * The kernel refuses a plugin built against another major ABI (a newer one
 * certainly: it would call functions the kernel does not have). A plugin built
 * against a newer minor loads, with a warning; it must then test with
 * CRM_HOST_HAS(host, member) before using a member newer than the kernel.
 *
 * OWNERSHIP. Each pointer below is one of:
 *   borrowed       valid for the duration of the call that passed it in;
 *                  never free it, copy what you keep;
 *   call-scoped    valid until the callback (hook, action, route, job) that
 *                  received the struct crm_call returns; the kernel frees it
 *                  then (like Redis' pool allocator); never free it yourself;
 *   plugin-scoped  valid until the kernel unloads the plugin;
 *   owned          yours: release it with host->free.
 *
 * THREADS. Callbacks run on the server's worker threads, several at once.
 * Keep global state read-only after crm_plugin_init, or guard it yourself.
 * A struct crm_call belongs to one thread and one callback.
 *
 * TRUST. C plugins are the trusted tier: they run inside the server process
 * with its full rights. Only an administrator installs them, and only at
 * start. Prefer Lua plugins (sandboxed) unless you need speed or a C library.
 *
 * This header needs only the C standard library.
 */
#ifndef CRM_PLUGIN_H
#define CRM_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CRM_ABI_MAJOR 1
#define CRM_ABI_MINOR 2
#define CRM_ABI_VERSION ((CRM_ABI_MAJOR << 16) | CRM_ABI_MINOR)
#define CRM_ABI_VERSION_MAJOR(v) ((unsigned)(v) >> 16)
#define CRM_ABI_VERSION_MINOR(v) ((unsigned)(v) & 0xffffu)

/*
 * Status codes: the same numbers as the kernel's. Every fallible host
 * function returns one; hooks and handlers return one. Append-only.
 * (The kernel's own crm.h defines the same names; it is included first there.)
 */
#ifndef CRM_H
enum crm_status {
	CRM_OK = 0,
	CRM_EINVAL = 1,       /* malformed input */
	CRM_ENOTFOUND = 2,    /* no such object, field or record */
	CRM_ECONFLICT = 3,    /* lost update: the version differs (HTTP 412) */
	CRM_EVALIDATION = 4,  /* invalid values; a hook's refusal (HTTP 422) */
	CRM_EMETA = 5,        /* metadata is invalid */
	CRM_EIO = 6,          /* storage failed */
	CRM_ENOMEM = 7,       /* allocation failed */
	CRM_ELIMIT = 8,       /* a limit was reached: size, depth, time */
	CRM_EBUSY = 9,        /* database busy beyond the timeout */
	CRM_EDENIED = 10,     /* the caller may not do this (HTTP 403) */
	CRM_EFULL = 11,       /* disk or database full */
	CRM_EDESTRUCTIVE = 12,
	CRM_EINTERNAL = 13,   /* a bug (HTTP 500) */
	CRM_ESTATE = 14,      /* wrong state, e.g. a claim over its limit (HTTP 409) */
};
#endif

/* host->user_id in a public route: nobody signed in (the kernel's crm.h defines the same). */
#ifndef CRM_USER_GUEST
#define CRM_USER_GUEST ((int64_t)-1)
#endif

/* Log levels for host->log. */
enum crm_log_level { CRM_LOG_DEBUG = 0, CRM_LOG_INFO = 1, CRM_LOG_WARN = 2, CRM_LOG_ERROR = 3 };

/* host->on flags. */
#define CRM_HOOK_ASYNC 1u   /* after_* only: run after the COMMIT, outside the transaction */

/* Which values a field accessor reads (host->get_text and friends). */
enum crm_which {
	CRM_VALUES = 0,   /* the incoming values of before_create/before_update (writable) */
	CRM_RECORD = 1,   /* the stored record: before_update/delete/restore, and every after_* */
};

/*
 * One callback invocation: the acting user, the transaction of the request,
 * the record the hook is about, call-scoped memory. Opaque; valid until the
 * callback returns.
 */
struct crm_call;

struct crm_plugin;

/*
 * A hook. object and event ("before_update", ...) are borrowed. Return
 * CRM_OK, or an error code after host->error(call, ...): from a before-hook
 * CRM_EVALIDATION refuses the write and the client sees your message (422);
 * from a synchronous after-hook any error rolls the whole write back.
 */
typedef int (*crm_hook_fn)(void *data, struct crm_call *call, const char *object, const char *event);

/*
 * An action, a route or a job. Read the input with host->input_json; answer
 * with host->respond. Return CRM_OK or an error code after host->error.
 */
typedef int (*crm_handler_fn)(void *data, struct crm_call *call);

/*
 * The host table. Filled by the kernel; read-only for the plugin; lives as
 * long as the plugin is loaded (plugin-scoped). Members are appended only.
 */
struct crm_host {
	uint32_t abi_version;        /* CRM_ABI_VERSION of the kernel */
	uint32_t size;               /* sizeof(struct crm_host) in the kernel: see CRM_HOST_HAS */
	const char *kernel_version;  /* "0.1.0"; plugin-scoped */

	/* ---- memory ---------------------------------------------------- 1.0 */

	/* Owned memory (release with free). NULL when out of memory. */
	void *(*alloc)(size_t size);
	void (*free)(void *ptr);
	/* Call-scoped memory: freed by the kernel when the callback returns. */
	void *(*call_alloc)(struct crm_call *call, size_t size);

	/* ---- logging and errors ---------------------------------------- 1.0 */

	/* A line in the server log, tagged with the plugin's name. */
	void (*log)(struct crm_plugin *self, int level, const char *fmt, ...)
#if defined(__GNUC__)
		__attribute__((format(printf, 3, 4)))
#endif
		;
	/* Sets the call's error message and returns code: `return host->error(call, CRM_EVALIDATION, ...)`. */
	int (*error)(struct crm_call *call, int code, const char *fmt, ...)
#if defined(__GNUC__)
		__attribute__((format(printf, 3, 4)))
#endif
		;
	/* Adds an error on one field (shown beside that field in the UI); return CRM_EVALIDATION after. */
	void (*field_error)(struct crm_call *call, const char *field, const char *message);
	/* The message of the last failed host call on this call (borrowed until the next host call). */
	const char *(*errmsg)(struct crm_call *call);

	/* ---- registration: only inside crm_plugin_init -------------------- 1.0 */

	/*
	 * A hook on object ("*" = every object) for event: before_create,
	 * after_create, before_update, after_update, before_delete, after_delete,
	 * before_restore, after_restore, before_transition, after_transition.
	 * flags: CRM_HOOK_ASYNC for an after-hook that runs after the commit.
	 * data is passed back to fn (yours; the kernel never frees it).
	 * Hooks run in plugin dependency order, then registration order.
	 */
	int (*on)(struct crm_plugin *self, const char *object, const char *event, unsigned flags,
	          crm_hook_fn fn, void *data);
	/* An action, invoked as "<plugin>.<name>" on a record (or none). Runs in one transaction. */
	int (*action)(struct crm_plugin *self, const char *name, crm_handler_fn fn, void *data);
	/* A route: method GET|POST|PUT|PATCH|DELETE, path "/<plugin>/..." with {param} segments. */
	int (*route)(struct crm_plugin *self, const char *method, const char *path, crm_handler_fn fn,
	             void *data);
	/* A job: schedule "every 30s" | "every 15m" | "every 1h" | "every 1d". Runs as the system user. */
	int (*job)(struct crm_plugin *self, const char *name, const char *schedule, crm_handler_fn fn,
	           void *data);

	/* ---- configuration --------------------------------------------- 1.0 */

	/* The plugin's settings as JSON text: plugin.yaml `config:` merged with app.yaml `config.<plugin>`. Plugin-scoped. */
	const char *(*config_json)(struct crm_plugin *self);
	/* A top-level setting that is a string, or NULL. Plugin-scoped. */
	const char *(*config_text)(struct crm_plugin *self, const char *key);
	/* A top-level setting that is a number: CRM_OK, CRM_ENOTFOUND (absent) or CRM_EINVAL (not a number). */
	int (*config_number)(struct crm_plugin *self, const char *key, double *out);

	/* ---- the record a hook is about ---------------------------------- 1.0 */

	/* A text value, or NULL when absent, null or not text. Call-scoped (and until that field is set). */
	const char *(*get_text)(struct crm_call *call, int which, const char *field);
	/* A number (int, decimal, money, percent): CRM_OK, CRM_ENOTFOUND (absent or null), CRM_EINVAL. */
	int (*get_number)(struct crm_call *call, int which, const char *field, double *out);
	/* Any value as JSON text, or NULL when absent. Call-scoped. */
	const char *(*get_json)(struct crm_call *call, int which, const char *field);
	/* The whole values or record as JSON text, or NULL when the event has none. Call-scoped. */
	const char *(*record_json)(struct crm_call *call, int which);
	/*
	 * Changes an incoming value (before_create/before_update only; else
	 * CRM_EINVAL). The kernel validates the result like client input.
	 */
	int (*set_text)(struct crm_call *call, const char *field, const char *text);
	int (*set_number)(struct crm_call *call, const char *field, double value);
	int (*set_int)(struct crm_call *call, const char *field, int64_t value);
	int (*set_null)(struct crm_call *call, const char *field);
	int (*set_json)(struct crm_call *call, const char *field, const char *json);
	/* The acting user's id (0 = system, CRM_USER_GUEST = the caller of a public route). */
	int64_t (*user_id)(struct crm_call *call);

	/*
	 * ---- the object API ------------------------------------------- 1.0
	 * Acting as the calling user, inside the call's transaction (hooks,
	 * actions) or in a transaction of their own (routes, jobs). Records are
	 * JSON text. On failure: a CRM_E* code and host->errmsg(call) says why.
	 * A failed write inside a transaction fails the whole callback.
	 */
	int (*object_get)(struct crm_call *call, const char *object, int64_t id, const char **out_json);
	/* query_json: {"filter": "...", "sort": "-amount", "limit": 50, "fields": "a,b", "after": "cursor"}
	 * (NULL = defaults). *out_json: {"records": [...], "next": cursor|null}. */
	int (*object_query)(struct crm_call *call, const char *object, const char *query_json,
	                    const char **out_json);
	int (*object_count)(struct crm_call *call, const char *object, const char *filter, int64_t *out);
	/* group "stage" or NULL, measures "count,sum(amount)" or NULL. *out_json: [{...}, ...]. */
	int (*object_aggregate)(struct crm_call *call, const char *object, const char *group,
	                        const char *measures, const char *filter, const char **out_json);
	int (*object_create)(struct crm_call *call, const char *object, const char *values_json, int64_t *out_id);
	/* version > 0 must equal the stored version (else CRM_ECONFLICT); 0 skips the check. */
	int (*object_update)(struct crm_call *call, const char *object, int64_t id, int64_t version,
	                     const char *changes_json);
	int (*object_delete)(struct crm_call *call, const char *object, int64_t id, int64_t version);

	/* ---- actions, routes, jobs ---------------------------------------- 1.0 */

	/*
	 * The input as JSON text (call-scoped):
	 *   action: {"object": "lead", "id": 12, "record": {...}|null, "args": {...}}
	 *   route:  {"method": "GET", "path": "/p/x/3", "params": {"id": "3"}, "query": {...}, "body": ...,
	 *            "user": 7|null} (a public route: also "public": true, "form": true|false)
	 *   job:    {"job": "name"}
	 */
	const char *(*input_json)(struct crm_call *call);
	/* The answer: a route's status and JSON body; an action's result (status ignored). */
	int (*respond)(struct crm_call *call, int status, const char *json);

	/* ---- routes with options ------------------------------------------- 1.1 */

	/*
	 * route() with options_json (borrowed; NULL = none), an object of:
	 *   "public": true      served at /api/v1/public/<plugin>/... to anyone, with
	 *                       no session: the handler acts as the guest
	 *                       (user_id() is CRM_USER_GUEST, rights: the metadata's
	 *                       role named guest, none without one). Its input has
	 *                       "public": true and "form": true when the body was
	 *                       an HTML form (application/x-www-form-urlencoded,
	 *                       given as an object of strings).
	 *   "rate_limit": "10/min"  public only: requests per client address, a
	 *                       count per s, min, h or d ("100/15min"); default 10/min
	 *                       (over it: 429 with Retry-After)
	 *   "max_body": 16384   public only: body bytes (1 to 1 MiB; default 16 KiB;
	 *                       over it: 413)
	 * Unknown options are refused (CRM_EINVAL, the reason in the log).
	 * Test CRM_HOST_HAS(host, route_v2) first: a 1.0 kernel has no such member.
	 */
	int (*route_v2)(struct crm_plugin *self, const char *method, const char *path, const char *options_json,
	                crm_handler_fn fn, void *data);

	/* ---- outbound messages -------------------------------------------- 1.2 */

	/*
	 * Queues an e-mail (channel "email", to: one address) or a webhook post
	 * (channel "webhook", to: the name of an endpoint in app.yaml's
	 * config.outbox.webhooks) rendered from the `template:` document named
	 * template, in the call's transaction: if it rolls back, nothing is
	 * sent. vars_json: an object of the template's vars (NULL = none; "lang"
	 * picks the language); object and id (NULL and 0 = none): the record the
	 * message is about, read as the caller. *out_id: the outbox_message id.
	 * CRM_EINVAL (host->errmsg says why) for a bad channel, address,
	 * endpoint, template or var, or a line break in a header value.
	 * Test CRM_HOST_HAS(host, send) first: a 1.1 kernel has no such member.
	 */
	int (*send)(struct crm_call *call, const char *channel, const char *to, const char *template_name,
	            const char *vars_json, const char *object, int64_t id, int64_t *out_id);
};

/* True if the kernel's host table has member (for plugins built against a newer minor). */
#define CRM_HOST_HAS(host, member) \
	(offsetof(struct crm_host, member) + sizeof(((struct crm_host *)0)->member) <= (host)->size)

/* True if the kernel offers the major ABI this plugin was compiled against. */
static inline int crm_host_compatible(const struct crm_host *host)
{
	return host && CRM_ABI_VERSION_MAJOR(host->abi_version) == CRM_ABI_MAJOR;
}

/*
 * The plugin's descriptor. The kernel allocates it zeroed and passes it to
 * crm_plugin_init; the plugin fills in its part. Its size never changes:
 * new members take reserved slots.
 */
struct crm_plugin {
	/* filled by the plugin */
	uint32_t abi_version;        /* CRM_ABI_VERSION it was compiled against (required) */
	const char *name;            /* must equal plugin.yaml's name; plugin-scoped (a literal) */
	const char *version;         /* semver; should equal plugin.yaml's version */
	void *data;                  /* the plugin's own state, handed back to unload */
	void (*unload)(struct crm_plugin *self);   /* optional: called once before dlclose */
	void *reserved_plugin[8];    /* zero */
	/* the kernel's: do not touch */
	void *host_private;
	void *reserved_host[7];
};

/* The one exported symbol. Return CRM_OK, or an error code to refuse loading. */
int crm_plugin_init(const struct crm_host *host, struct crm_plugin *self);

#ifdef __cplusplus
}
#endif

#endif
