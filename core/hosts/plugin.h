/*
 * plugin.h - the plugin loader: manifests (plugins/<name>/plugin.yaml),
 * semantic versions and ranges, dependency order, loading Lua plugins
 * (through lua_host) and C plugins (.so through dlopen and sdk/crm_plugin.h),
 * and the `crm plugins`, `crm plugin new`, `crm plugin test` and `crm check`
 * commands. What plugins register, and dispatching it, is plugin_registry.h.
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
#include "plugin_registry.h"
#include "semver.h"

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
 * Prints "ok: ..." or the problems; returns 0 or 1. industry: that
 * deployment only; NULL: app.yaml's, then each of its `industries:`.
 */
int plugin_check(const char *metadata_dir, const char *plugins_dir, const char *industry, FILE *out);
/*
 * `crm plugin test NAME` (kernel_plugin_test, kernel.h, which opens the
 * kernel between these, so that the loader never calls the opener):
 * plugin_test_scratch makes a temporary folder *dir (owned: give it to
 * plugin_test_cleanup) holding metadata/ (the deployment's files and an
 * app.yaml that also enables NAME); 0, or 1 with a message on out.
 * plugin_test_run runs plugins_dir/NAME/tests/ *.lua (every global function
 * test_*) against a kernel opened on dir/metadata, each test in a
 * transaction that is rolled back, adding to *passed and *failed.
 */
int plugin_test_scratch(const char *metadata_dir, const char *plugins_dir, const char *name, char **dir,
                        FILE *out);
void plugin_test_run(struct crm_kernel *kernel, const char *plugins_dir, const char *name, FILE *out, int *passed,
                     int *failed);
void plugin_test_cleanup(char *dir);

/*
 * The keys read_manifest accepts in plugin.yaml and under its `limits:`, as
 * key tables for the reference (meta_docs.h, which sits below this layer and
 * takes them as an argument). Static; *count is set.
 */
struct meta_key_table;
const struct meta_key_table *plugin_key_tables(int *count);

/* ---- the C ABI's version (pure; tested) ---------------------------------- */

/*
 * Whether a kernel offering host_abi can load a plugin built against
 * plugin_abi ((major << 16) | minor): CRM_OK (same major; a newer minor is
 * allowed, *warning set), else CRM_EINVAL with the reason in err.
 */
int plugin_abi_check(uint32_t host_abi, uint32_t plugin_abi, bool *warning, char *err, size_t errlen);

#endif
