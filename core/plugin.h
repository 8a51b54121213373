/*
 * plugin.h - the plugin host: manifests (plugins/<name>/plugin.yaml),
 * semantic versions and ranges, dependency order, loading Lua plugins
 * (through lua_host) and C plugins (.so through dlopen and sdk/crm_plugin.h),
 * the registries of actions, routes and jobs, and the `crm plugins`,
 * `crm plugin new`, `crm plugin test` and `crm check` commands.
 *
 * Registration (hooks, actions, routes, jobs) happens only while a plugin
 * loads; it is staged and takes effect only when the whole plugin loaded, in
 * dependency order. Afterwards the registries are read-only, except for
 * their counters and the job schedule (guarded by a mutex).
 */
#ifndef CRM_PLUGIN_HOST_H
#define CRM_PLUGIN_HOST_H

#include <stdio.h>
#include <time.h>
#include "crm.h"
#include "events.h"

struct crm_kernel;
struct meta;
struct plugin;
struct plugins;

/* ---- loading ------------------------------------------------------------ */

/*
 * Reads the manifest of every plugin enabled in kernel->meta (app.yaml
 * `plugins:`), checks versions, the kernel range and the ABI, orders them by
 * dependency and loads their code, registering hooks into kernel->events.
 * Prints every problem to kernel->log as "file:line: message". Returns
 * CRM_OK and *out (owned; free with plugins_free after the store closed or
 * before, but after the last request), or CRM_EMETA / CRM_EINVAL.
 */
int plugins_load(struct crm_kernel *kernel, const char *plugins_dir, struct plugins **out);
void plugins_free(struct plugins *plugins);

/* ---- commands (the lead wires these into main.c) ------------------------- */

/* `crm plugins [--stats]`: what is loaded, versions, contributions, and with stats the timings. 0 or 1. */
int plugin_cli_list(struct crm_kernel *kernel, bool stats, FILE *out);
/* `crm plugin new NAME --lang lua|c`: scaffolds plugins_dir/NAME. 0, or 1 with a message. */
int plugin_cli_new(const char *plugins_dir, const char *name, const char *lang, FILE *out);
/*
 * `crm check`: validates the metadata and every enabled plugin (manifests,
 * order, code loads and registers against the metadata) without a database.
 * Prints "ok: ..." or the problems; returns 0 or 1.
 */
int plugin_check(const char *metadata_dir, const char *plugins_dir, FILE *out);
/*
 * `crm plugin test NAME`: runs plugins_dir/NAME/tests/ *.lua (every global
 * function test_*) against a scratch database built from metadata_dir with
 * NAME enabled; each test runs in a transaction that is rolled back.
 * Prints "ok"/"FAIL" per test and "N passed, N failed". Returns 0 or 1.
 */
int plugin_cli_test(const char *metadata_dir, const char *plugins_dir, const char *name, FILE *out);

/* ---- HTTP and the timer thread (the lead wires these) --------------------- */

/*
 * Dispatches a plugin route. path is the part after the plugin mount point
 * (API_PREFIX "/plugins"), e.g. "/sales/forecast"; query (may be NULL) maps
 * parameter names to strings; body (may be NULL) is the parsed JSON body.
 * Returns CRM_ENOTFOUND when no plugin route matches method and path;
 * CRM_OK with *status and *response (owned, may be JSON null) when the
 * handler answered; else the handler's error code with ctx->message.
 * All pointers borrowed.
 */
int plugin_route(struct crm_kernel *kernel, struct crm_ctx *ctx, const char *method, const char *path,
                 json_t *query, json_t *body, int *status, json_t **response);
/*
 * Runs action name ("sales.claim_lead", or "claim_lead" when only one plugin
 * has it) on record object/id (object NULL: none), in one transaction,
 * acting as ctx's user. args may be NULL. CRM_OK and *result (owned), or an
 * error code with ctx->message (CRM_ENOTFOUND: no such action or record).
 */
int plugin_action(struct crm_kernel *kernel, struct crm_ctx *ctx, const char *name, const char *object,
                  int64_t id, json_t *args, json_t **result);
/*
 * Runs every job due at now (the first run is at the first tick), recording
 * start, end and error of each run in memory and in the kernel log. A failed
 * run is retried after 30 s, doubling each time up to the job's interval.
 * Call from one timer thread (a concurrent call returns at once).
 */
void plugin_jobs_tick(struct crm_kernel *kernel, time_t now);
/* Runs job name ("plugin.job" or "job") now, as ctx's user, outside the schedule (tests, operators). */
int plugin_job_run(struct crm_kernel *kernel, struct crm_ctx *ctx, const char *name);
/*
 * The actions and routes the loaded plugins registered, in registration order, for the
 * OpenAPI document: [{"kind": "action", "plugin", "name": "plugin.action"} |
 * {"kind": "route", "plugin", "method": "GET", "path": "/plugin/x/{param}"}]. Owned.
 */
json_t *plugin_endpoints(struct crm_kernel *kernel);
/* Jobs: [{plugin, job, every, runs, failures, consecutive_failures, last_start, last_end, last_error, next_run}]. Owned. */
json_t *plugin_jobs_stats(struct crm_kernel *kernel);

/* ---- versions (pure; tested) ---------------------------------------------- */

struct semver {
	long long major, minor, patch;
	char prerelease[64];         /* "" for a release */
};

/* Parses "1.2.3" or "1.2.3-rc.1" (build metadata "+..." ignored). CRM_OK or CRM_EINVAL. */
int semver_parse(const char *text, struct semver *out);
int semver_compare(const struct semver *a, const struct semver *b);
/*
 * True if version satisfies range: comparators >=, >, <=, <, =, ^, ~ or a
 * bare (possibly partial) version, "*", separated by spaces or commas (all
 * must hold). CRM_OK and *ok, or CRM_EINVAL with err for a malformed range.
 */
int semver_satisfies(const char *range, const struct semver *version, bool *ok, char *err, size_t errlen);
/*
 * Whether a kernel offering host_abi can load a plugin built against
 * plugin_abi ((major << 16) | minor): CRM_OK (same major; a newer minor is
 * allowed, *warning set), else CRM_EINVAL with the reason in err.
 */
int plugin_abi_check(uint32_t host_abi, uint32_t plugin_abi, bool *warning, char *err, size_t errlen);

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

#endif
