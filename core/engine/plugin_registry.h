/*
 * plugin_registry.h - what plugins registered and how the engine and the
 * server reach it: hooks (into events), actions, routes and jobs. The
 * language hosts (lua_host.c, the C ABI in plugin.c) register here while a
 * plugin loads; the workflow engine, the REST API and the timer thread
 * dispatch here. It sits below the hosts and the loader, above the object
 * API, so that a workflow action can run a plugin action without calling up.
 *
 * Registration happens only while a plugin loads; it is staged and takes
 * effect only when the whole plugin loaded, in dependency order. Afterwards
 * the registries are read-only, except for their counters and the job
 * schedule (guarded by a mutex).
 */
#ifndef CRM_PLUGIN_REGISTRY_H
#define CRM_PLUGIN_REGISTRY_H

#include <stdio.h>
#include <time.h>
#include "crm.h"
#include "events.h"

struct crm_kernel;
struct meta_object;
struct plugin;
struct plugins;

/* ---- dispatch: the REST API, the workflow engine and the timer thread ---- */

/*
 * Dispatches a plugin route. path is the part after the plugin mount point
 * (API_PREFIX "/plugins"), e.g. "/sales/forecast"; query (may be NULL) maps
 * parameter names to strings; body (may be NULL) is the parsed JSON body.
 * Returns CRM_ENOTFOUND when no plugin route matches method and path;
 * CRM_OK with *status and *response (owned, may be JSON null) when the
 * handler answered; else the handler's error code with ctx->message.
 * A handler answering a web page or a redirect (Lua `html =` or `location =`)
 * gives *response as an object whose one key is PLUGIN_ROUTE_PAGE, holding
 * { "html": text } or { "location": url }: see plugin_route_page.
 * All pointers borrowed.
 */
int plugin_route(struct crm_kernel *kernel, struct crm_ctx *ctx, const char *method, const char *path,
                 json_t *query, json_t *body, int *status, json_t **response);
/* Whether a signed-in route (not a public one) matches method and path: a handler's own not_found is not "no route". */
bool plugin_route_exists(struct crm_kernel *kernel, const char *method, const char *path);

/*
 * Public routes: crm.route(method, path, fn, { public = true, rate_limit =
 * "10/min", max_body = 16384 }). The REST API serves them under
 * API_PREFIX "/public" (the path is the same "/<plugin>/..." as above)
 * without authentication, and their handlers act as the guest
 * (CRM_USER_GUEST). Only public routes match there and only the others match
 * plugin_route.
 */
#define PLUGIN_PUBLIC_RATE_LIMIT   10            /* requests ... */
#define PLUGIN_PUBLIC_RATE_PERIOD  60            /* ... per minute per client address, unless the route says */
#define PLUGIN_ROUTE_PAGE          "$page"       /* the wrapper of a route's web page or redirect */
#define PLUGIN_ROUTE_LOCATION_MAX  159           /* bytes of a redirect's Location */
#define PLUGIN_PUBLIC_MAX_BODY     (16 * 1024)   /* bytes, unless the route says */
#define PLUGIN_PUBLIC_MAX_BODY_CAP (1024 * 1024) /* the most a route may allow */
/*
 * A signed public route ({ public = true, signed = { secret_env = "NAME",
 * max_age = 300 } }) is for machines holding a shared secret (a mail
 * gateway's webhook): the API runs it only when X-CRM-Signature is
 * "sha256=" and the hex HMAC-SHA256, under the secret in the environment
 * variable NAME, of X-CRM-Timestamp (Unix seconds), "." and the raw body,
 * and the timestamp lies within max_age seconds of the server's clock (401
 * otherwise; 503 while NAME is unset or empty). Checked before the body is
 * parsed and before the handler runs, so a refused post writes nothing.
 */
#define PLUGIN_SECRET_ENV_MAX      64            /* bytes of the variable's name */
#define PLUGIN_SIGNED_MAX_AGE      300           /* seconds, unless the route says (the replay window) */

/* What the API needs to know of a public route before running it. */
struct plugin_public_route {
	uint32_t id;               /* tells the route apart in this process (its rate-limit counters) */
	int rate_limit;            /* at most this many requests ... */
	int rate_period;           /* ... per this many seconds per client address */
	size_t max_body;           /* bytes */
	const char *secret_env;    /* signed: the variable holding the secret (borrowed: the route's), else NULL */
	int max_age;               /* signed: seconds */
};
/* A route's answer as a web page or a redirect: { "html": } or { "location": } (borrowed), else NULL. */
json_t *plugin_route_page(json_t *response);
/* The public route for method and path: CRM_OK and *out, or CRM_ENOTFOUND. Never sets an error. */
int plugin_public_route_find(struct crm_kernel *kernel, const char *method, const char *path,
                             struct plugin_public_route *out);
/*
 * Dispatches a public route like plugin_route, acting as the guest whatever
 * ctx's user is (ctx's user and rights are restored afterwards). form: the
 * body was an HTML form (application/x-www-form-urlencoded) decoded into an
 * object of strings. CRM_ENOTFOUND when no public route matches.
 */
int plugin_public_route(struct crm_kernel *kernel, struct crm_ctx *ctx, const char *method, const char *path,
                        json_t *query, json_t *body, bool form, int *status, json_t **response);
/*
 * Runs action name ("sales.claim_lead", or "claim_lead" when only one plugin
 * has it) on record object/id (object NULL: none), in one transaction,
 * acting as ctx's user. args may be NULL. CRM_OK and *result (owned), or an
 * error code with ctx->message (CRM_ENOTFOUND: no such action or record).
 */
int plugin_action(struct crm_kernel *kernel, struct crm_ctx *ctx, const char *name, const char *object,
                  int64_t id, json_t *args, json_t **result);
/*
 * A client's call of an action (POST .../actions/{name}): only an action
 * plugin.yaml declares on object (a button), and only on a record it applies
 * to (its `when` holds as the caller reads the record), then plugin_action.
 * Undeclared actions are the plugins' own steps, for workflows and code:
 * CRM_ENOTFOUND; a declared one whose `when` fails: CRM_ESTATE (409).
 */
int plugin_client_action(struct crm_kernel *kernel, struct crm_ctx *ctx, const char *name,
                         const struct meta_object *object, int64_t id, json_t *args, json_t **result);
/*
 * Runs every job due at now (the first run is at the first tick), recording
 * start, end and error of each run in memory and in the kernel log. A failed
 * run is retried after 30 s, doubling each time up to the job's interval.
 * Call from one timer thread (a concurrent call returns at once).
 */
void plugin_jobs_tick(struct crm_kernel *kernel, time_t now);
/* Runs job name ("plugin.job" or "job") now, as ctx's user, outside the schedule (tests, operators). */
int plugin_job_run(struct crm_kernel *kernel, struct crm_ctx *ctx, const char *name);
/* Runs every plugin's manual job named demo (crm.job("demo", "manual", fn)), in load order: demo data. */
int plugin_demo_run(struct crm_kernel *kernel, struct crm_ctx *ctx, FILE *log);
/*
 * The actions and routes the loaded plugins registered, in registration order, for the
 * OpenAPI document: [{"kind": "action", "plugin", "name": "plugin.action"} |
 * {"kind": "route", "plugin", "method": "GET", "path": "/plugin/x/{param}"}], a public
 * route with "public": true, "rate_limit", "rate_period" (seconds) and "max_body", a signed one
 * also "signed": { "secret_env", "max_age" }. Owned.
 */
json_t *plugin_endpoints(struct crm_kernel *kernel);
/* Jobs: [{plugin, job, every, runs, failures, consecutive_failures, last_start, last_end, last_error, next_run}]. Owned. */
json_t *plugin_jobs_stats(struct crm_kernel *kernel);

/* ---- for lua_host.c and the C host table --------------------------------- */

/* An action, route or job handler. input borrowed; *output owned (may be left NULL). */
typedef int (*plugin_handler_fn)(void *data, struct crm_ctx *ctx, json_t *input, json_t **output);

enum plugin_handler_kind { PLUGIN_ACTION, PLUGIN_ROUTE, PLUGIN_JOB };

const char *plugin_name(const struct plugin *plugin);
const char *plugin_version(const struct plugin *plugin);
const char *plugin_dir(const struct plugin *plugin);         /* plugins_dir/<name> */
json_t *plugin_config(const struct plugin *plugin);          /* borrowed: merged settings object */
bool plugin_system_access(const struct plugin *plugin);       /* plugin.yaml system_access: true */
struct crm_kernel *plugin_kernel(const struct plugin *plugin);
/* Limits for Lua plugins (plugin.yaml `limits:`). */
long long plugin_instruction_limit(const struct plugin *plugin);
size_t plugin_memory_limit(const struct plugin *plugin);
/* A log line tagged with the plugin name; level "debug", "info", "warn" or "error". */
void plugin_log(const struct plugin *plugin, const char *level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Staged registrations (while loading only; otherwise CRM_ESTATE). Names are
 * copied. On failure err says why, for the plugin author.
 * object may be "*" (every object). event is "before_update" and the like.
 */
int plugin_add_hook(struct plugin *plugin, const char *object, const char *event, bool async,
                    event_fn fn, void *data, char *err, size_t errlen);
int plugin_add_handler(struct plugin *plugin, enum plugin_handler_kind kind, const char *name_or_method,
                       const char *path_or_schedule, plugin_handler_fn fn, void *data, char *err, size_t errlen);
/*
 * A route with options (borrowed; NULL or an object): "public" (boolean),
 * and for a public route "rate_limit" ("10/min": a count, '/', and s, min, h
 * or d, optionally after a number: "100/15min") and "max_body" (bytes, 1 to
 * PLUGIN_PUBLIC_MAX_BODY_CAP) and "signed" ({ "secret_env": "NAME"
 * (letters, digits, '_'), "max_age": 30 to 3600 seconds }). Unknown options,
 * and limits or a signature on a route that is not public, are refused.
 * One method and path is one route, public or not.
 */
int plugin_add_route(struct plugin *plugin, const char *method, const char *path, json_t *options,
                     plugin_handler_fn fn, void *data, char *err, size_t errlen);
/* "10/min" -> 10 and 60; false when it is not a rate ("count/period", count 1 to 1000000, period up to a day). */
bool plugin_parse_rate(const char *text, int *count, int *period);

/*
 * Actions declared in plugin.yaml `actions:` for object's records, for GET
 * /meta: [{name: "sales.claim", label, confirm}] (owned; [] when none).
 */
json_t *plugin_object_actions(struct crm_kernel *kernel, const struct meta_object *object);
/* Whether object has any declared action (cheap: for the GET fast path). */
bool plugin_object_has_actions(struct crm_kernel *kernel, const struct meta_object *object);
/*
 * The declared actions of object whose `when` holds on record for ctx's
 * caller: ["sales.claim"] (owned), or NULL when object has no declared
 * action (the record answer then carries no `_actions`).
 */
json_t *plugin_record_actions(struct crm_kernel *kernel, struct crm_ctx *ctx, const struct meta_object *object,
                              json_t *record);

#endif
