/*
 * test_plugin.c - the plugin host against a real kernel on a temporary
 * directory: manifests and their refusals, load order, Lua hooks that change
 * or refuse writes, rollback, async hooks, hook loops, the sandbox's limits
 * and escapes, the crm.* API, a C plugin built as a .so, routes, actions,
 * jobs with backoff, a workflow extended by a plugin whose timer fires a
 * transition, scaffolded plugins and the example plugins' own tests.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "test.h"
#include "events.h"
#include "kernel.h"
#include "object.h"
#include "plugin.h"
#include "plugin_registry.h"
#include "workflow.h"
#include "../../sdk/crm_plugin.h"

static const char *const schema =
	"object: user\n"
	"fields:\n"
	"  login: { type: text, required: true, unique: true }\n"
	"---\n"
	"object: account\n"
	"fields:\n"
	"  name: { type: text, required: true }\n"
	"---\n"
	"object: opportunity\n"
	"fields:\n"
	"  name: { type: text, required: true }\n"
	"  amount: { type: money, min: 0 }\n"
	"  discount: { type: percent, max: 100 }\n"
	"  approved: { type: bool }\n"
	"---\n"
	"object: note\n"
	"fields:\n"
	"  body: { type: textarea }\n"
	"  count: { type: int }\n"
	"---\n"
	"object: log_entry\n"
	"fields:\n"
	"  text: { type: text }\n";

/* A kernel on a temporary directory with metadata/ and plugins/ written by the test. */
struct pfx {
	char dir[256], metadata[300], plugins[300], db[300];
	struct crm_kernel *kernel;
	struct crm_ctx ctx;
	FILE *log;
	char *log_text;
	size_t log_len;
};

static struct pfx fx;
static char sdk_dir[PATH_MAX];

static void pfx_write(const char *relative, const char *text)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", fx.dir, relative);
	for (char *p = path + strlen(fx.dir) + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0755);
			*p = '/';
		}
	}
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		abort();
	}
	fputs(text, f);
	fclose(f);
}

/* app_rest: what follows "app: test" in app.yaml (plugins:, config:). */
static void pfx_prepare(const char *app_rest)
{
	memset(&fx, 0, sizeof(fx));
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/crm-plugin-XXXXXX");
	if (!mkdtemp(fx.dir))
		abort();
	snprintf(fx.metadata, sizeof(fx.metadata), "%s/metadata", fx.dir);
	snprintf(fx.plugins, sizeof(fx.plugins), "%s/plugins", fx.dir);
	snprintf(fx.db, sizeof(fx.db), "%s/test.db", fx.dir);
	char app[4096];
	snprintf(app, sizeof(app), "app: test\nlanguages: [en]\n%s", app_rest);
	pfx_write("metadata/app.yaml", app);
	pfx_write("metadata/objects.yaml", schema);
	mkdir(fx.plugins, 0755);
}

/* A Lua plugin: plugin.yaml (name, version 1.0.0, extra lines) and main.lua. */
static void pfx_lua_plugin(const char *name, const char *manifest_extra, const char *lua)
{
	char path[512], text[4096];
	snprintf(path, sizeof(path), "plugins/%s/plugin.yaml", name);
	snprintf(text, sizeof(text), "name: %s\nversion: 1.0.0\n%s%s", name, manifest_extra, lua ? "lua: main.lua\n" : "");
	pfx_write(path, text);
	if (lua) {
		snprintf(path, sizeof(path), "plugins/%s/main.lua", name);
		pfx_write(path, lua);
	}
}

static int pfx_open(void)
{
	fx.log = open_memstream(&fx.log_text, &fx.log_len);
	struct kernel_options options = { .db_path = fx.db, .metadata_dir = fx.metadata, .plugins_dir = fx.plugins,
	                                  .migrate = true, .log = fx.log };
	int code = kernel_open(&options, &fx.kernel);
	if (code == CRM_OK)
		crm_ctx_init(&fx.ctx, fx.kernel, 0, "test");
	return code;
}

static const char *pfx_log(void)
{
	fflush(fx.log);
	return fx.log_text ? fx.log_text : "";
}

static void pfx_close(void)
{
	if (fx.kernel) {
		crm_ctx_clear(&fx.ctx);
		kernel_close(fx.kernel);
		fx.kernel = NULL;
	}
	if (getenv("VERBOSE"))
		fputs(pfx_log(), stderr);
	if (fx.log)
		fclose(fx.log);
	free(fx.log_text);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", fx.dir);
}

/* Opens a kernel with one Lua plugin "p" (manifest extra lines, script). */
static int open_with(const char *manifest_extra, const char *lua)
{
	pfx_prepare("plugins: [p]\n");
	pfx_lua_plugin("p", manifest_extra, lua);
	return pfx_open();
}

static int64_t create(const char *object, const char *json)
{
	json_t *values = json_loads(json, 0, NULL);
	int64_t id = 0;
	int code = object_create_id(&fx.ctx, object, values, &id);
	json_decref(values);
	return code == CRM_OK ? id : -code;
}

static int update(const char *object, int64_t id, const char *json)
{
	json_t *values = json_loads(json, 0, NULL);
	int code = object_update(&fx.ctx, object, id, 0, values, NULL);
	json_decref(values);
	return code;
}

static json_t *get(const char *object, int64_t id)
{
	json_t *record = NULL;
	object_get(&fx.ctx, object, id, false, &record);
	return record;
}

static int64_t count(const char *object)
{
	int64_t n = -1;
	object_count(&fx.ctx, object, NULL, &n);
	return n;
}

/* Runs action p.name with args (JSON text); *result owned. */
static int action(const char *name, const char *args_json, json_t **result)
{
	json_t *args = args_json ? json_loads(args_json, 0, NULL) : NULL;
	*result = NULL;
	int code = plugin_action(fx.kernel, &fx.ctx, name, NULL, 0, args, result);
	json_decref(args);
	return code;
}

static double seconds_since(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* --- versions ------------------------------------------------------------- */

static bool satisfies(const char *range, const char *version)
{
	struct semver v;
	bool ok = false;
	char err[256];
	if (semver_parse(version, &v) != CRM_OK || semver_satisfies(range, &v, &ok, err, sizeof(err)) != CRM_OK)
		return false;
	return ok;
}

static void test_semver_ranges(void)
{
	struct semver a, b;
	ASSERT_EQ(semver_parse("1.2.3", &a), CRM_OK);
	ASSERT_EQ(semver_parse("1.2.3-rc.1", &b), CRM_OK);
	ASSERT(semver_compare(&b, &a) < 0);
	ASSERT_EQ(semver_parse("1.2", &a), CRM_EINVAL);
	ASSERT_EQ(semver_parse("1.x.3", &a), CRM_EINVAL);
	ASSERT_EQ(semver_parse("01a.2.3", &a), CRM_EINVAL);
	ASSERT(satisfies(">=0.1", "0.1.0"));
	ASSERT(!satisfies(">0.1", "0.1.9"));
	ASSERT(satisfies(">0.1", "0.2.0"));
	ASSERT(satisfies("^1.2", "1.9.0"));
	ASSERT(!satisfies("^1.2", "2.0.0"));
	ASSERT(!satisfies("^1.2", "1.1.9"));
	ASSERT(satisfies("^0.2.3", "0.2.9"));
	ASSERT(!satisfies("^0.2.3", "0.3.0"));
	ASSERT(satisfies("~1.2.3", "1.2.9"));
	ASSERT(!satisfies("~1.2.3", "1.3.0"));
	ASSERT(satisfies(">=1.0, <2", "1.5.0"));
	ASSERT(!satisfies(">=1.0 <2", "2.0.0"));
	ASSERT(satisfies("<=1.2", "1.2.7"));
	ASSERT(satisfies("=1.2.3", "1.2.3"));
	ASSERT(satisfies("1.2", "1.2.5"));
	ASSERT(satisfies("*", "7.0.0"));
	ASSERT(satisfies(">= 1.0", "1.0.0"));
	bool ok;
	char err[256];
	struct semver v = { 1, 0, 0, "" };
	ASSERT_EQ(semver_satisfies(">=1.0 || <0.5", &v, &ok, err, sizeof(err)), CRM_EINVAL);
	ASSERT_EQ(semver_satisfies(">=banana", &v, &ok, err, sizeof(err)), CRM_EINVAL);
	ASSERT_CONTAINS(err, "not a version");
}

static void test_abi_minor_older_loads_newer_major_is_refused(void)
{
	bool warning;
	char err[256];
	ASSERT_EQ(plugin_abi_check((1 << 16) | 3, (1 << 16) | 1, &warning, err, sizeof(err)), CRM_OK);
	ASSERT(!warning);
	ASSERT_EQ(plugin_abi_check((1 << 16) | 3, (1 << 16) | 4, &warning, err, sizeof(err)), CRM_OK);
	ASSERT(warning);
	ASSERT_EQ(plugin_abi_check((1 << 16) | 3, (2 << 16) | 0, &warning, err, sizeof(err)), CRM_EINVAL);
	ASSERT_CONTAINS(err, "newer than the kernel's");
	ASSERT_EQ(plugin_abi_check((2 << 16) | 0, (1 << 16) | 9, &warning, err, sizeof(err)), CRM_EINVAL);
	ASSERT_CONTAINS(err, "no longer offers");
	ASSERT_EQ(plugin_abi_check(CRM_ABI_VERSION, 0, &warning, err, sizeof(err)), CRM_EINVAL);
}

/* --- manifests -------------------------------------------------------------- */

static void test_manifest_requiring_a_plugin_not_enabled_is_refused(void)
{
	pfx_prepare("plugins: [a]\n");
	pfx_lua_plugin("a", "requires:\n  kernel: \">=0.1\"\n  b: \"^1.0\"\n", NULL);
	ASSERT_EQ(pfx_open(), CRM_EMETA);
	ASSERT_CONTAINS(pfx_log(), "plugins/a/plugin.yaml:5:6: error: plugin 'a' requires plugin 'b' (^1.0), which is not enabled");
	pfx_close();
	/* enabled in app.yaml but with no folder: the metadata loader names app.yaml */
	pfx_prepare("plugins: [a, ghost]\n");
	pfx_lua_plugin("a", "", NULL);
	ASSERT_EQ(pfx_open(), CRM_EMETA);
	ASSERT_CONTAINS(pfx_log(), "plugin 'ghost' not found");
	pfx_close();
}

static void test_manifest_unmet_versions_are_refused(void)
{
	pfx_prepare("plugins: [a, b]\n");
	pfx_lua_plugin("a", "requires: { b: \"^2.0\", kernel: \">=9\" }\n", NULL);
	pfx_lua_plugin("b", "", NULL);
	ASSERT_EQ(pfx_open(), CRM_EMETA);
	ASSERT_CONTAINS(pfx_log(), "plugin 'a' requires 'b' ^2.0, but b is version 1.0.0");
	ASSERT_CONTAINS(pfx_log(), "plugin 'a' requires kernel >=9, but this kernel is " CRM_VERSION);
	pfx_close();
	/* app.yaml pins a range the plugin does not meet */
	pfx_prepare("plugins:\n  - { name: b, version: \">=1.5\" }\n");
	pfx_lua_plugin("b", "", NULL);
	ASSERT_EQ(pfx_open(), CRM_EMETA);
	ASSERT_CONTAINS(pfx_log(), "app.yaml:4:13: error: plugin 'b' >=1.5 is enabled, but");
	pfx_close();
}

static void test_manifest_dependency_cycle_is_refused(void)
{
	pfx_prepare("plugins: [a, b, c]\n");
	pfx_lua_plugin("a", "requires: { b: \">=1\" }\n", NULL);
	pfx_lua_plugin("b", "requires: { c: \">=1\" }\n", NULL);
	pfx_lua_plugin("c", "requires: { a: \">=1\" }\n", NULL);
	ASSERT_EQ(pfx_open(), CRM_EMETA);
	ASSERT_CONTAINS(pfx_log(), "dependency cycle: a -> b -> c -> a");
	ASSERT_CONTAINS(pfx_log(), "plugins/c/plugin.yaml:3:");
	pfx_close();
}

static void test_manifest_bad_semver_and_unknown_keys_are_refused(void)
{
	pfx_prepare("plugins: [a]\n");
	pfx_write("plugins/a/plugin.yaml", "name: a\nversion: \"1.0\"\nlibary: a\nrequires: { kernel: \">=x.1\" }\n"
	          "limits: { memory: 8 }\n");
	ASSERT_EQ(pfx_open(), CRM_EMETA);
	ASSERT_CONTAINS(pfx_log(), "plugins/a/plugin.yaml:2:10: error: version '1.0' is not a semantic version");
	ASSERT_CONTAINS(pfx_log(), "plugins/a/plugin.yaml:3:1: error: unknown key 'libary'");
	ASSERT_CONTAINS(pfx_log(), ") (see docs/metadata.md#plugin-manifest)");
	ASSERT_CONTAINS(pfx_log(), "plugins/a/plugin.yaml:5:11: error: unknown limit 'memory' (expected instructions, "
	                "memory_mb) (see docs/metadata.md#plugin-limits)");
	ASSERT_CONTAINS(pfx_log(), "requires.kernel: version range '>=x.1'");
	pfx_close();
	/* a folder name and a manifest name that differ */
	pfx_prepare("plugins: [a]\n");
	pfx_write("plugins/a/plugin.yaml", "name: b\nversion: 1.0.0\n");
	ASSERT_EQ(pfx_open(), CRM_EMETA);
	ASSERT_CONTAINS(pfx_log(), "the plugin is named 'b' but its folder is 'a'");
	pfx_close();
}

static void test_manifest_config_merges_app_settings_and_refuses_unknown_ones(void)
{
	pfx_prepare("plugins: [p]\nconfig: { p: { limit: 7 } }\n");
	pfx_lua_plugin("p", "config: { limit: 3, greeting: hi }\n",
		"crm.action('config', function() return crm.config end)\n");
	ASSERT_EQ(pfx_open(), CRM_OK);
	json_t *result;
	ASSERT_EQ(action("p.config", NULL, &result), CRM_OK);
	ASSERT_EQ(json_integer_value(json_object_get(result, "limit")), 7);
	ASSERT_STR_EQ(json_string_value(json_object_get(result, "greeting")), "hi");
	json_decref(result);
	pfx_close();
	pfx_prepare("plugins: [p]\nconfig: { p: { limt: 7 } }\n");
	pfx_lua_plugin("p", "config: { limit: 3 }\n", NULL);
	ASSERT_EQ(pfx_open(), CRM_EMETA);
	ASSERT_CONTAINS(pfx_log(), "config.p.limt: plugin 'p' has no such setting (its settings: limit)");
	pfx_close();
}

/* --- hooks ------------------------------------------------------------------ */

static void test_plugins_load_in_dependency_order_and_hooks_run_in_it(void)
{
	pfx_prepare("plugins: [c, a, b]\n");
	static const char hook[] =
		"crm.on('note', 'before_create', function(new) new.body = (new.body or '') .. crm.plugin.name end)\n";
	pfx_lua_plugin("c", "requires: { b: \"^1\" }\n", hook);
	pfx_lua_plugin("a", "", hook);
	pfx_lua_plugin("b", "requires: { a: \">=1.0.0\" }\n", hook);
	ASSERT_EQ(pfx_open(), CRM_OK);
	int64_t id = create("note", "{\"body\": \">\"}");
	ASSERT(id > 0);
	json_t *r = get("note", id);
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "body")), ">abc");
	json_decref(r);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	ASSERT_EQ(plugin_cli_list(fx.kernel, true, out), 0);
	fclose(out);
	ASSERT_CONTAINS(text, "a 1.0.0  (lua: main.lua)");
	ASSERT_CONTAINS(text, "hooks:    note before_create");
	ASSERT_CONTAINS(text, "requires: b ^1");
	ASSERT(strstr(text, "\na 1.0.0") < strstr(text, "\nb 1.0.0") || strncmp(text, "a 1.0.0", 7) == 0);
	free(text);
	pfx_close();
}

static const char sales_rules[] =
	"crm.on('opportunity', 'before_update', function(new, old, ctx)\n"
	"  if new.name then new.name = new.name:upper() end\n"
	"end)\n"
	"crm.on('opportunity', 'before_update', function(new, old, ctx)\n"
	"  local discount = new.discount or old.discount or 0\n"
	"  local approved = new.approved\n"
	"  if approved == nil then approved = old.approved end\n"
	"  if discount > 50 and not approved then\n"
	"    error('a discount over 50% needs approval')\n"
	"  end\n"
	"  if discount > 90 then error({ field = 'discount', message = 'at most 90%' }) end\n"
	"end)\n";

static void test_lua_before_update_changes_a_value_and_another_refuses_with_its_message(void)
{
	ASSERT_EQ(open_with("", sales_rules), CRM_OK);
	int64_t id = create("opportunity", "{\"name\": \"big deal\", \"discount\": 10}");
	ASSERT(id > 0);
	ASSERT_EQ(update("opportunity", id, "{\"name\": \"bigger deal\"}"), CRM_OK);
	json_t *r = get("opportunity", id);
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "name")), "BIGGER DEAL");
	json_decref(r);
	ASSERT_EQ(update("opportunity", id, "{\"discount\": 60}"), CRM_EVALIDATION);
	ASSERT_STR_EQ(fx.ctx.message, "a discount over 50% needs approval");
	ASSERT_EQ(update("opportunity", id, "{\"discount\": 60, \"approved\": true}"), CRM_OK);
	ASSERT_EQ(update("opportunity", id, "{\"discount\": 95}"), CRM_EVALIDATION);
	ASSERT_STR_EQ(fx.ctx.message, "at most 90%");
	ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(fx.ctx.field_errors, 0), "field")), "discount");
	r = get("opportunity", id);
	ASSERT(fabs(json_number_value(json_object_get(r, "discount")) - 60) < 1e-9);
	json_decref(r);
	pfx_close();
}

static void test_after_hook_error_rolls_the_write_back(void)
{
	ASSERT_EQ(open_with("",
		"crm.on('account', 'after_create', function(record)\n"
		"  crm.create('log_entry', { text = 'created ' .. record.name })\n"
		"  if record.name == 'boom' then error('no booms') end\n"
		"end)\n"), CRM_OK);
	ASSERT(create("account", "{\"name\": \"fine\"}") > 0);
	ASSERT_EQ(-create("account", "{\"name\": \"boom\"}"), CRM_EVALIDATION);
	ASSERT_STR_EQ(fx.ctx.message, "no booms");
	ASSERT_EQ(count("account"), 1);
	ASSERT_EQ(count("log_entry"), 1);   /* the hook's own write went too */
	/* a runtime error (a bug) is a 500 with the position, and also rolls back */
	pfx_close();
	ASSERT_EQ(open_with("", "crm.on('account', 'after_create', function(record) local x = nil; return x.y end)\n"), CRM_OK);
	ASSERT_EQ(-create("account", "{\"name\": \"x\"}"), CRM_EINTERNAL);
	ASSERT_CONTAINS(fx.ctx.message, "main.lua:1: attempt to index a nil value");
	ASSERT_EQ(count("account"), 0);
	pfx_close();
}

static void test_async_after_hook_runs_after_commit(void)
{
	ASSERT_EQ(open_with("",
		"crm.on('account', 'after_create', function(record, _, ctx)\n"
		"  crm.create('log_entry', { text = 'async ' .. record.name })\n"
		"end, { async = true })\n"), CRM_OK);
	ASSERT_EQ(object_begin(&fx.ctx), CRM_OK);
	ASSERT(create("account", "{\"name\": \"a\"}") > 0);
	ASSERT_EQ(count("log_entry"), 0);          /* not before the commit */
	ASSERT_EQ(object_commit(&fx.ctx), CRM_OK);
	ASSERT_EQ(count("log_entry"), 1);
	ASSERT_EQ(object_begin(&fx.ctx), CRM_OK);
	ASSERT(create("account", "{\"name\": \"b\"}") > 0);
	object_rollback(&fx.ctx);
	ASSERT_EQ(count("log_entry"), 1);          /* never after a rollback */
	pfx_close();
}

static void test_hook_that_updates_its_own_record_is_stopped_at_a_fixed_depth(void)
{
	ASSERT_EQ(open_with("",
		"crm.on('note', 'after_update', function(record)\n"
		"  crm.update('note', record.id, { count = (record.count or 0) + 1 })\n"
		"end)\n"), CRM_OK);
	int64_t id = create("note", "{\"body\": \"x\", \"count\": 0}");
	ASSERT(id > 0);
	ASSERT_EQ(update("note", id, "{\"body\": \"y\"}"), CRM_ELIMIT);
	ASSERT_CONTAINS(fx.ctx.message, "nested deeper");
	json_t *r = get("note", id);
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "body")), "x");
	ASSERT_EQ(json_integer_value(json_object_get(r, "count")), 0);
	json_decref(r);
	pfx_close();
}

/* --- the sandbox's limits ----------------------------------------------------- */

static void test_endless_loop_is_stopped_by_the_budget_and_the_next_call_works(void)
{
	ASSERT_EQ(open_with("limits: { instructions: 2000000 }\n",
		"crm.on('note', 'before_create', function(new)\n"
		"  crm.create('log_entry', { text = 'before the loop' })\n"
		"  if new.body == 'loop' then while true do end end\n"
		"  if new.body == 'catch' then\n"
		"    for i = 1, 100 do pcall(function() while true do end end) end\n"
		"    new.body = 'escaped'\n"
		"  end\n"
		"  if new.body == 'xpcall' then\n"
		"    xpcall(function() while true do end end, function(e) while true do end end)\n"
		"    new.body = 'escaped'\n"
		"  end\n"
		"end)\n"), CRM_OK);
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	static const char *const bodies[] = { "{\"body\": \"loop\"}", "{\"body\": \"catch\"}", "{\"body\": \"xpcall\"}" };
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(object_begin(&fx.ctx), CRM_OK);
		ASSERT_EQ(-create("note", bodies[i]), CRM_ELIMIT);
		ASSERT_CONTAINS(fx.ctx.message, "instruction budget of 2000000 exceeded");
		object_rollback(&fx.ctx);
	}
	ASSERT(seconds_since(&start) < 5);
	ASSERT_EQ(count("note"), 0);
	ASSERT_EQ(count("log_entry"), 0);   /* the hook's write went with the transaction */
	ASSERT(create("note", "{\"body\": \"fine\"}") > 0);
	ASSERT_EQ(count("log_entry"), 1);
	pfx_close();
}

/* An action that runs the code in args.code, for the sandbox tests. */
static const char eval_plugin[] =
	"crm.action('eval', function(record, ctx, args)\n"
	"  local f, err = load(args.code)\n"
	"  if not f then error(err) end\n"
	"  return f()\n"
	"end)\n";

/* Runs code through p.eval: returns the code, *message gets ctx's message. */
static int eval(const char *code, json_t **result)
{
	json_t *args = json_pack("{s:s}", "code", code);
	*result = NULL;
	int rc = plugin_action(fx.kernel, &fx.ctx, "p.eval", NULL, 0, args, result);
	json_decref(args);
	return rc;
}

static void test_exponential_pattern_is_stopped_quickly(void)
{
	ASSERT_EQ(open_with("limits: { instructions: 5000000 }\n", eval_plugin), CRM_OK);
	json_t *result;
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	ASSERT_EQ(eval("return string.find(string.rep('a', 3000), '.-.-.-.-.-.-.-.-.-b')", &result), CRM_ELIMIT);
	ASSERT_CONTAINS(fx.ctx.message, "instruction budget");
	ASSERT_EQ(eval("return ('a'):rep(5000):match('(.-)%1%1%1%1b')", &result), CRM_ELIMIT);
	ASSERT(seconds_since(&start) < 3);
	ASSERT_EQ(eval("return string.find('x', string.rep('a?', 300))", &result), CRM_ELIMIT);
	ASSERT_CONTAINS(fx.ctx.message, "pattern is longer than 512 bytes");
	/* patterns still work */
	ASSERT_EQ(eval("local s = 'key = value; other=2'\n"
	               "local t = {}\n"
	               "for k, v in s:gmatch('(%w+)%s*=%s*(%w+)') do t[#t + 1] = k .. ':' .. v end\n"
	               "local a, b = string.find('hello world', 'o w')\n"
	               "local g, n = ('hello'):gsub('l+', { ll = 'LL' })\n"
	               "local d = ('abc'):gsub('%w', '%0%0')\n"
	               "local p = ('THE (quick) fox'):find('%((%a+)%)')\n"
	               "local f = ('THE (quick) fox'):gsub('%f[%a]%a+', function(w) return w:lower() end)\n"
	               "local bal = ('x(a(b)c)y'):match('%b()')\n"
	               "local pos = ('hello'):match('()ll()')\n"
	               "return table.concat(t, ',') .. '|' .. a .. b .. '|' .. g .. n .. '|' .. d .. '|' .. p\n"
	               "  .. '|' .. f .. '|' .. bal .. '|' .. pos .. '|' .. tostring(('abc'):match('^b'))",
	               &result), CRM_OK);
	ASSERT_STR_EQ(json_string_value(result),
	              "key:value,other:2|57|heLLo1|aabbcc|5|the (quick) fox|(a(b)c)|3|nil");
	json_decref(result);
	pfx_close();
}

static void test_memory_bombs_fail_at_the_quota(void)
{
	ASSERT_EQ(open_with("limits: { memory_mb: 8 }\n", eval_plugin), CRM_OK);
	json_t *result;
	ASSERT_EQ(eval("return ('x'):rep(1e9)", &result), CRM_ELIMIT);
	ASSERT_CONTAINS(fx.ctx.message, "string.rep: the result would be 1000000000 bytes");
	ASSERT_EQ(eval("return string.rep('x', 1e10)", &result), CRM_ELIMIT);
	ASSERT_EQ(eval("local s = 'x' while true do s = s .. s end", &result), CRM_ELIMIT);
	ASSERT_CONTAINS(fx.ctx.message, "memory limit of 8 MiB exceeded");
	ASSERT_EQ(eval("local t = {} local i = 1 while true do t[i] = {i, i} i = i + 1 end", &result), CRM_ELIMIT);
	ASSERT_CONTAINS(fx.ctx.message, "memory limit of 8 MiB exceeded");
	ASSERT_EQ(eval("local ok = pcall(function() local s = 'x' while true do s = s .. s end end) return 'caught'",
	               &result), CRM_ELIMIT);
	ASSERT_EQ(eval("local function f(n) return 1 + f(n + 1) end return f(1)", &result), CRM_ELIMIT);
	/* and the state works afterwards */
	ASSERT_EQ(eval("return #('x'):rep(1000)", &result), CRM_OK);
	ASSERT_EQ(json_integer_value(result), 1000);
	json_decref(result);
	pfx_close();
}

static void test_escapes_are_refused(void)
{
	ASSERT_EQ(open_with("", eval_plugin), CRM_OK);
	static const struct { const char *code, *message; } escapes[] = {
		{ "return getmetatable('').__index", "attempt to index a boolean value" },
		{ "return string.dump(function() end)", "attempt to call a nil value (field 'dump')" },
		{ "return load('\\27Lua\\84\\0', 'x', 'b')", "mode 'b' is not allowed" },
		{ "local f, e = load('\\27LuaT\\0\\25\\147\\r\\n\\26\\n') error(e)", "attempt to load a binary chunk" },
		{ "return io.open('/etc/passwd')", "attempt to index a nil value (global 'io')" },
		{ "return os.execute('id')", "attempt to index a nil value (global 'os')" },
		{ "return debug.getregistry()", "attempt to index a nil value (global 'debug')" },
		{ "return package.loadlib('libc.so.6', 'system')", "attempt to index a nil value (global 'package')" },
		{ "return require('../../etc/passwd')", "only modules inside the plugin folder" },
		{ "return require('nothere')", "no module 'nothere' in the plugin folder" },
		{ "return collectgarbage('count')", "attempt to call a nil value (global 'collectgarbage')" },
		{ "return dofile('/etc/passwd')", "attempt to call a nil value (global 'dofile')" },
		{ "return loadfile('/etc/passwd')", "attempt to call a nil value (global 'loadfile')" },
		{ "return coroutine.create(print)", "attempt to index a nil value (global 'coroutine')" },
		{ "setmetatable({}, { __gc = function() end })", "__gc metamethods are not allowed" },
		{ "return load(function() return nil end)", "only text chunks" },
		{ "return rawget(_G, 'io') or error('no io')", "no io" },
		{ "return crm.on('note', 'before_create', print)", "only possible at the top level" },
	};
	json_t *result;
	for (size_t i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
		int code = eval(escapes[i].code, &result);
		if (code == CRM_OK || !strstr(fx.ctx.message, escapes[i].message))
			fprintf(stderr, "  escape %zu: %s -> %d %s\n", i, escapes[i].code, code, fx.ctx.message);
		ASSERT(code != CRM_OK);
		ASSERT_CONTAINS(fx.ctx.message, escapes[i].message);
	}
	/* what the sandbox offers works */
	ASSERT_EQ(eval("return string.format('%d-%s', 4, 'x') .. table.concat({1, 2}, ',') .. math.floor(2.5)\n"
	               "  .. utf8.char(72) .. load('return 1 + 1')() .. #tostring(crm.now()) .. select('#', 1, 2)\n"
	               "  .. (('10' + 1) == 11 and 'y' or 'n') .. crm.json.encode({ a = crm.json.array() })\n"
	               "  .. crm.json.decode('[1,null]')[1] .. tostring(crm.json.decode('[1,null]')[2] == crm.null)",
	               &result), CRM_OK);
	ASSERT_STR_EQ(json_string_value(result), "4-x1,22H2102y{\"a\":[]}1true");
	json_decref(result);
	pfx_close();
}

/* crm.crypto: tokens of the asked size from the system's randomness, SHA-256 digests, constant-time equality */
static void test_crypto_tokens_hashes_and_equality(void)
{
	ASSERT_EQ(open_with("", eval_plugin), CRM_OK);
	json_t *result;
	ASSERT_EQ(eval("local a, b = crm.crypto.token(), crm.crypto.token()\n"
	               "local s = crm.crypto.token(16) local l = crm.crypto.token(64)\n"
	               "return table.concat({ #a, #s, #l, tostring(a ~= b), tostring(a:match('^[%w_%-]+$') ~= nil),\n"
	               "  crm.crypto.hash('abc'), crm.crypto.hash(''), #crm.crypto.hash(('x'):rep(100000)),\n"
	               "  tostring(crm.crypto.equal(a, a)), tostring(crm.crypto.equal(a, b)), tostring(crm.crypto.equal('', '')),\n"
	               "  tostring(crm.crypto.equal('ab', 'abc')), tostring(crm.crypto.equal('a\\0b', 'a\\0c')) }, ' ')",
	               &result), CRM_OK);
	ASSERT_STR_EQ(json_string_value(result),
	              "43 22 86 true true "
	              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad "
	              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 64 "
	              "true false true false false");
	json_decref(result);
	/* a thousand tokens, none twice */
	ASSERT_EQ(eval("local seen, n = {}, 0 for i = 1, 1000 do local t = crm.crypto.token()\n"
	               "  if not seen[t] then n = n + 1 end seen[t] = true end return n", &result), CRM_OK);
	ASSERT_EQ(json_integer_value(result), 1000);
	json_decref(result);
	static const struct { const char *code, *message; } refused[] = {
		{ "return crm.crypto.token(15)", "crm.crypto.token: bytes must be 16 to 64" },
		{ "return crm.crypto.token(65)", "crm.crypto.token: bytes must be 16 to 64" },
		{ "return crm.crypto.token('x')", "number expected" },
		{ "return crm.crypto.hash()", "string expected" },
		{ "return crm.crypto.hash({})", "string expected" },
		{ "return crm.crypto.equal('a')", "string expected" },
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		ASSERT(eval(refused[i].code, &result) != CRM_OK);
		ASSERT_CONTAINS(fx.ctx.message, refused[i].message);
	}
	pfx_close();
}

/* --- the crm module ------------------------------------------------------------ */

static void test_crm_api_from_lua_creates_queries_and_writes_records(void)
{
	ASSERT_EQ(open_with("",
		"crm.route('GET', '/p/work', function(req, ctx)\n"
		"  local a = crm.create('account', { name = 'Acme' })\n"
		"  crm.create('opportunity', { name = 'o1', amount = 100 })\n"
		"  crm.create('opportunity', { name = 'o2', amount = 250.5 })\n"
		"  local rows, next = crm.query('opportunity', { filter = 'amount > 150', sort = '-amount', limit = 10 })\n"
		"  local agg = crm.aggregate('opportunity', { measures = 'count,sum(amount)' })\n"
		"  local upd = crm.update('account', a.id, { name = 'Acme AG' }, 1)\n"
		"  local n = crm.count('opportunity', \"name = 'o1'\")\n"
		"  crm.delete('opportunity', rows[1].id)\n"
		"  local ok, err = pcall(crm.update, 'account', a.id, { name = 'stale' }, 1)\n"
		"  return { first = rows[1].name, next = next, count = agg[1].count, sum = agg[1].sum_amount,\n"
		"           name = upd.name, version = upd.version, n = n, left = crm.count('opportunity'),\n"
		"           missing = crm.get('account', 999) == nil, stale = err, user = ctx.user,\n"
		"           transition = select(2, pcall(crm.transition, 'account', a.id, 'x')) }\n"
		"end)\n"), CRM_OK);
	json_t *r;
	int status;
	fx.ctx.user_id = 0;
	ASSERT_EQ(plugin_route(fx.kernel, &fx.ctx, "GET", "/p/work", NULL, NULL, &status, &r), CRM_OK);
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "first")), "o2");
	ASSERT(!json_object_get(r, "next"));
	ASSERT_EQ(json_integer_value(json_object_get(r, "count")), 2);
	ASSERT(fabs(json_number_value(json_object_get(r, "sum")) - 350.5) < 1e-9);
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "name")), "Acme AG");
	ASSERT_EQ(json_integer_value(json_object_get(r, "version")), 2);
	ASSERT_EQ(json_integer_value(json_object_get(r, "n")), 1);
	ASSERT_EQ(json_integer_value(json_object_get(r, "left")), 1);
	ASSERT(json_is_true(json_object_get(r, "missing")));
	ASSERT_CONTAINS(json_string_value(json_object_get(r, "stale")), "crm.update: record account/1 was changed");
	ASSERT_CONTAINS(json_string_value(json_object_get(r, "transition")), "no transition 'x' on account");
	json_decref(r);
	/* a route has no transaction of its own: each write stands, and a caught failure is just caught */
	ASSERT_EQ(count("account"), 1);
	pfx_close();
}

static void test_failed_write_in_a_transaction_fails_the_call_even_if_caught(void)
{
	ASSERT_EQ(open_with("",
		"crm.action('half', function()\n"
		"  crm.create('account', { name = 'kept?' })\n"
		"  pcall(crm.create, 'account', { nope = 1 })\n"
		"  return 'done'\n"
		"end)\n"
		"crm.action('claim', function() crm.error('conflict', 'you hold too many leads') end)\n"
		"crm.action('sys', function(record, ctx) return crm.as_system(function() return 1 end) end)\n"), CRM_OK);
	json_t *r;
	ASSERT_EQ(action("p.half", NULL, &r), CRM_EVALIDATION);
	ASSERT_CONTAINS(fx.ctx.message, "invalid account record");
	ASSERT_EQ(count("account"), 0);
	ASSERT_EQ(action("claim", NULL, &r), CRM_ESTATE);
	ASSERT_STR_EQ(fx.ctx.message, "you hold too many leads");
	ASSERT_EQ(action("sys", NULL, &r), CRM_EDENIED);
	ASSERT_CONTAINS(fx.ctx.message, "has no system access");
	ASSERT_EQ(action("nothing", NULL, &r), CRM_ENOTFOUND);
	pfx_close();
}

static void test_lua_states_are_pooled_and_replayed(void)
{
	/* a hook that writes fires the same plugin's hook again: it takes a second state */
	ASSERT_EQ(open_with("",
		"local loaded = 0\n"
		"crm.on('account', 'after_create', function(record)\n"
		"  crm.create('log_entry', { text = record.name })\n"
		"end)\n"
		"crm.on('log_entry', 'before_create', function(new) new.text = new.text .. '!' end)\n"), CRM_OK);
	ASSERT(create("account", "{\"name\": \"a\"}") > 0);
	json_t *page = NULL;
	struct object_query q = { 0 };
	ASSERT_EQ(object_query(&fx.ctx, "log_entry", &q, &page), CRM_OK);
	ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(json_object_get(page, "records"), 0), "text")), "a!");
	json_decref(page);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	plugin_cli_list(fx.kernel, true, out);
	fclose(out);
	ASSERT_CONTAINS(text, "p                2 states");
	ASSERT_CONTAINS(text, "account          after_create");
	free(text);
	pfx_close();
	/* a script whose registrations depend on data cannot get a second state */
	ASSERT_EQ(open_with("",
		"crm.on('account', 'after_create', function(record) crm.create('log_entry', { text = 'x' }) end)\n"
		"if math.random() < 2 and _G.once == nil then\n"
		"  crm.on('log_entry', 'before_create', function() end)\n"
		"end\n"), CRM_OK);
	ASSERT(create("account", "{\"name\": \"a\"}") > 0);
	pfx_close();
}

/* --- C plugins ---------------------------------------------------------------- */

static const char c_plugin[] =
	"#include <ctype.h>\n"
	"#include <stdio.h>\n"
	"#include <string.h>\n"
	"#include \"crm_plugin.h\"\n"
	"static const struct crm_host *host;\n"
	"static int shout(void *data, struct crm_call *call, const char *object, const char *event)\n"
	"{\n"
	"\t(void)data; (void)object; (void)event;\n"
	"\tconst char *body = host->get_text(call, CRM_VALUES, \"body\");\n"
	"\tif (!body) return CRM_OK;\n"
	"\tif (!strcmp(body, \"no\")) return host->error(call, CRM_EVALIDATION, \"the C plugin says no\");\n"
	"\tchar up[256];\n"
	"\tsize_t i = 0;\n"
	"\tfor (; body[i] && i < 255; i++) up[i] = (char)toupper((unsigned char)body[i]);\n"
	"\tup[i] = 0;\n"
	"\tint64_t id = 0;\n"
	"\tint rc = host->object_create(call, \"log_entry\", \"{\\\"text\\\": \\\"from C\\\"}\", &id);\n"
	"\tif (rc) return rc;\n"
	"\treturn host->set_text(call, \"body\", up);\n"
	"}\n"
	"static int hello(void *data, struct crm_call *call)\n"
	"{\n"
	"\t(void)data;\n"
	"\tconst char *input = host->input_json(call);\n"
	"\tchar json[512];\n"
	"\tsnprintf(json, sizeof(json), \"{\\\"input\\\": %s, \\\"user\\\": %lld}\", input, (long long)host->user_id(call));\n"
	"\treturn host->respond(call, 201, json);\n"
	"}\n"
	"int crm_plugin_init(const struct crm_host *h, struct crm_plugin *self)\n"
	"{\n"
	"\tif (!crm_host_compatible(h)) return CRM_EINVAL;\n"
	"\thost = h;\n"
	"\tself->abi_version = ABI;\n"
	"\tself->name = \"cp\";\n"
	"\tself->version = \"1.0.0\";\n"
	"\tif (host->on(self, \"note\", \"before_create\", 0, shout, NULL)) return CRM_EINVAL;\n"
	"\tif (CRM_HOST_HAS(host, route_v2) && host->route_v2(self, \"POST\", \"/cp/public\",\n"
	"\t        \"{\\\"public\\\": true, \\\"rate_limit\\\": \\\"5/min\\\"}\", hello, NULL)) return CRM_EINVAL;\n"
	"\treturn host->route(self, \"POST\", \"/cp/hello/{name}\", hello, NULL);\n"
	"}\n";

/* Writes plugins/cp with the C source above built against abi (a C expression). */
static bool build_c_plugin(const char *abi)
{
	pfx_write("plugins/cp/plugin.yaml", "name: cp\nversion: 1.0.0\nlibrary: cp\n");
	pfx_write("plugins/cp/cp.c", c_plugin);
	char cmd[PATH_MAX + 1024];
	snprintf(cmd, sizeof(cmd), "cc -std=c11 -Wall -Wextra -Werror -shared -fPIC -I'%s' '-DABI=%s' "
	         "-o '%s/plugins/cp/cp.so' '%s/plugins/cp/cp.c'", sdk_dir, abi, fx.dir, fx.dir);
	return system(cmd) == 0;
}

static void test_c_plugin_so_loads_and_its_hook_and_route_run(void)
{
	pfx_prepare("plugins: [cp]\n");
	ASSERT(build_c_plugin("CRM_ABI_VERSION"));
	ASSERT_EQ(pfx_open(), CRM_OK);
	int64_t id = create("note", "{\"body\": \"quiet\"}");
	ASSERT(id > 0);
	json_t *r = get("note", id);
	ASSERT_STR_EQ(json_string_value(json_object_get(r, "body")), "QUIET");
	json_decref(r);
	ASSERT_EQ(count("log_entry"), 1);
	ASSERT_EQ(-create("note", "{\"body\": \"no\"}"), CRM_EVALIDATION);
	ASSERT_STR_EQ(fx.ctx.message, "the C plugin says no");
	ASSERT_EQ(count("log_entry"), 1);
	int status = 0;
	json_t *response = NULL, *body = json_pack("{s:i}", "x", 1);
	fx.ctx.user_id = 7;
	ASSERT_EQ(plugin_route(fx.kernel, &fx.ctx, "POST", "/cp/hello/world", NULL, body, &status, &response), CRM_OK);
	fx.ctx.user_id = 0;
	json_decref(body);
	ASSERT_EQ(status, 201);
	ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(json_object_get(response, "input"), "params"), "name")),
	              "world");
	ASSERT_EQ(json_integer_value(json_object_get(response, "user")), 7);
	json_decref(response);
	/* route_v2 (ABI 1.1): a public route, called as the guest */
	struct plugin_public_route route;
	ASSERT_EQ(plugin_public_route_find(fx.kernel, "POST", "/cp/public", &route), CRM_OK);
	ASSERT_EQ(route.rate_limit, 5);
	fx.ctx.user_id = 7;
	ASSERT_EQ(plugin_public_route(fx.kernel, &fx.ctx, "POST", "/cp/public", NULL, NULL, false, &status, &response),
	          CRM_OK);
	ASSERT_EQ(fx.ctx.user_id, 7);
	fx.ctx.user_id = 0;
	ASSERT_EQ(json_integer_value(json_object_get(response, "user")), CRM_USER_GUEST);
	ASSERT(json_is_true(json_object_get(json_object_get(response, "input"), "public")));
	json_decref(response);
	pfx_close();
}

/* host->send (ABI 1.2): an e-mail queued from a C hook, in the hook's transaction. */
static const char c_send_plugin[] =
	"#include \"crm_plugin.h\"\n"
	"static const struct crm_host *host;\n"
	"static int mail(void *data, struct crm_call *call, const char *object, const char *event)\n"
	"{\n"
	"\t(void)data; (void)object; (void)event;\n"
	"\tconst char *to = host->get_text(call, CRM_VALUES, \"body\");\n"
	"\tint64_t id = 0;\n"
	"\treturn host->send(call, \"email\", to, \"hello\", \"{\\\"who\\\": \\\"C\\\"}\", NULL, 0, &id);\n"
	"}\n"
	"int crm_plugin_init(const struct crm_host *h, struct crm_plugin *self)\n"
	"{\n"
	"\tif (!crm_host_compatible(h) || !CRM_HOST_HAS(h, send)) return CRM_EINVAL;\n"
	"\thost = h;\n"
	"\tself->abi_version = CRM_ABI_VERSION;\n"
	"\tself->name = \"cs\";\n"
	"\tself->version = \"1.0.0\";\n"
	"\treturn host->on(self, \"note\", \"before_create\", 0, mail, NULL);\n"
	"}\n";

static void test_c_plugin_sends_through_the_outbox(void)
{
	pfx_prepare("plugins: [cs]\n");
	char outbox[PATH_MAX + 64], *text = NULL;
	size_t length = 0;
	snprintf(outbox, sizeof(outbox), "%s/../metadata/outbox.yaml", sdk_dir);
	FILE *f = fopen(outbox, "r");
	ASSERT(f != NULL);
	char chunk[4096];
	FILE *copy = open_memstream(&text, &length);
	for (size_t n; (n = fread(chunk, 1, sizeof(chunk), f)) > 0;)
		fwrite(chunk, 1, n, copy);
	fclose(f);
	fclose(copy);
	pfx_write("metadata/outbox.yaml", text);
	free(text);
	pfx_write("metadata/roles.yaml", "role: admin\nadmin: true\n");
	pfx_write("metadata/templates.yaml", "template: hello\nchannel: email\nvars: [who]\n"
	          "subject: \"Hello from {{who}}\"\nbody: \"{{who}} says hello\"\n");
	pfx_write("plugins/cs/plugin.yaml", "name: cs\nversion: 1.0.0\nlibrary: cs\n");
	pfx_write("plugins/cs/cs.c", c_send_plugin);
	char cmd[PATH_MAX + 1024];
	snprintf(cmd, sizeof(cmd), "cc -std=c11 -Wall -Wextra -Werror -shared -fPIC -I'%s' -o '%s/plugins/cs/cs.so' "
	         "'%s/plugins/cs/cs.c'", sdk_dir, fx.dir, fx.dir);
	ASSERT(system(cmd) == 0);
	if (pfx_open() != CRM_OK)
		fputs(pfx_log(), stderr);
	ASSERT(fx.kernel != NULL);
	ASSERT(create("note", "{\"body\": \"ann@example.com\"}") > 0);
	ASSERT_EQ(count("outbox_message"), 1);
	json_t *m = get("outbox_message", 1);
	ASSERT_STR_EQ(json_string_value(json_object_get(m, "subject")), "Hello from C");
	ASSERT_STR_EQ(json_string_value(json_object_get(m, "status")), "queued");
	json_decref(m);
	/* refused: the hook fails, the note and the message roll back together */
	ASSERT_EQ(-create("note", "{\"body\": \"ann@example.com\\r\\nBcc: eve@example.com\"}"), CRM_EINVAL);
	ASSERT_CONTAINS(fx.ctx.message, "line break");
	ASSERT_EQ(-create("note", "{\"body\": \"not an address\"}"), CRM_EINVAL);
	ASSERT_CONTAINS(fx.ctx.message, "is not one e-mail address");
	ASSERT_EQ(count("note"), 1);
	ASSERT_EQ(count("outbox_message"), 1);
	pfx_close();
}

static void test_c_plugin_with_a_newer_major_abi_is_refused(void)
{
	pfx_prepare("plugins: [cp]\n");
	ASSERT(build_c_plugin("((CRM_ABI_MAJOR + 1) << 16)"));
	ASSERT_EQ(pfx_open(), CRM_EMETA);
	char expected[96];
	snprintf(expected, sizeof(expected), "built against ABI 2.0, newer than the kernel's 1.%d", CRM_ABI_MINOR);
	ASSERT_CONTAINS(pfx_log(), expected);
	pfx_close();
	/* a newer minor of the same major loads, with a warning */
	pfx_prepare("plugins: [cp]\n");
	ASSERT(build_c_plugin("(CRM_ABI_VERSION + 1)"));
	ASSERT_EQ(pfx_open(), CRM_OK);
	ASSERT_CONTAINS(pfx_log(), "must check CRM_HOST_HAS");
	pfx_close();
}

/* --- routes and jobs ---------------------------------------------------------------- */

static void test_routes_dispatch_through_plugin_route(void)
{
	ASSERT_EQ(open_with("",
		"crm.route('GET', '/p/items/{id}', function(req, ctx)\n"
		"  return { status = 200, json = { id = req.params.id, q = req.query.q, method = req.method } }\n"
		"end)\n"
		"crm.route('POST', '/p/items', function(req) return req.body end)\n"
		"crm.route('DELETE', '/p/items/{id}', function(req) end)\n"
		"crm.route('GET', '/p/broken', function(req) return { status = 99 } end)\n"), CRM_OK);
	int status;
	json_t *response, *query = json_pack("{s:s}", "q", "search");
	ASSERT_EQ(plugin_route(fx.kernel, &fx.ctx, "GET", "/p/items/42", query, NULL, &status, &response), CRM_OK);
	json_decref(query);
	ASSERT_EQ(status, 200);
	ASSERT_STR_EQ(json_string_value(json_object_get(response, "id")), "42");
	ASSERT_STR_EQ(json_string_value(json_object_get(response, "q")), "search");
	json_decref(response);
	json_t *body = json_pack("{s:[i,i]}", "list", 1, 2);
	ASSERT_EQ(plugin_route(fx.kernel, &fx.ctx, "POST", "/p/items", NULL, body, &status, &response), CRM_OK);
	ASSERT_EQ(status, 200);
	ASSERT(json_equal(response, body));
	json_decref(body);
	json_decref(response);
	ASSERT_EQ(plugin_route(fx.kernel, &fx.ctx, "DELETE", "/p/items/1", NULL, NULL, &status, &response), CRM_OK);
	ASSERT_EQ(status, 204);
	json_decref(response);
	ASSERT_EQ(plugin_route(fx.kernel, &fx.ctx, "GET", "/p/nothing", NULL, NULL, &status, &response), CRM_ENOTFOUND);
	ASSERT_EQ(plugin_route(fx.kernel, &fx.ctx, "PUT", "/p/items/1", NULL, NULL, &status, &response), CRM_ENOTFOUND);
	ASSERT_EQ(plugin_route(fx.kernel, &fx.ctx, "GET", "/p/broken", NULL, NULL, &status, &response), CRM_EINTERNAL);
	pfx_close();
	/* routes live under the plugin's name */
	ASSERT_EQ(open_with("", "crm.route('GET', '/api/v1/objects', function() end)\n"), CRM_EMETA);
	ASSERT_CONTAINS(pfx_log(), "must start with /p/");
	pfx_close();
}

/* --- public routes ------------------------------------------------------------------ */

/* The guest may create notes and reads none: `own` is nothing for the guest, who owns nothing. */
static const char guest_role[] =
	"role: guest\n"
	"kind: consumer\n"
	"objects:\n"
	"  note: { read: own, create: true }\n";

static const char public_plugin[] =
	"crm.route('POST', '/p/note', function(req, ctx)\n"
	"  local note = crm.create('note', { body = req.body.body })\n"
	"  local read, why = pcall(crm.query, 'account')\n"
	"  return { status = 201, json = { id = note.id, user = ctx.user, guest = ctx.guest, req_user = req.user,\n"
	"           public = req.public, form = req.form, read_accounts = read, why = why,\n"
	"           notes = #crm.query('note') } }\n"
	"end, { public = true })\n"
	"crm.route('GET', '/p/private', function(req, ctx) return { user = ctx.user } end)\n";

static void test_public_route_runs_as_the_guest_with_only_the_guest_role(void)
{
	pfx_prepare("plugins: [p]\n");
	pfx_write("metadata/roles.yaml", guest_role);
	pfx_lua_plugin("p", "", public_plugin);
	ASSERT_EQ(pfx_open(), CRM_OK);
	ASSERT(create("account", "{\"name\": \"Acme\"}") > 0);
	int status = 0;
	json_t *response = NULL, *body = json_pack("{s:s}", "body", "from a form");
	/* whoever calls (here the system), the handler acts as the guest */
	fx.ctx.user_id = 0;
	ASSERT_EQ(plugin_public_route(fx.kernel, &fx.ctx, "POST", "/p/note", NULL, body, true, &status, &response), CRM_OK);
	json_decref(body);
	ASSERT_EQ(fx.ctx.user_id, 0);
	ASSERT_EQ(status, 201);
	ASSERT_EQ(json_integer_value(json_object_get(response, "user")), CRM_USER_GUEST);
	ASSERT(json_is_true(json_object_get(response, "guest")));
	ASSERT(json_is_null(json_object_get(response, "req_user")));
	ASSERT(json_is_true(json_object_get(response, "public")));
	ASSERT(json_is_true(json_object_get(response, "form")));
	/* accounts are not the guest's to read, and neither are the notes it created */
	ASSERT(json_is_false(json_object_get(response, "read_accounts")));
	ASSERT_CONTAINS(json_string_value(json_object_get(response, "why")), "unknown object 'account'");
	ASSERT_EQ(json_integer_value(json_object_get(response, "notes")), 0);
	/* what it created belongs to nobody; the audit trail names the guest */
	json_t *note = get("note", json_integer_value(json_object_get(response, "id")));
	ASSERT_STR_EQ(json_string_value(json_object_get(note, "body")), "from a form");
	ASSERT(json_is_null(json_object_get(note, "owner")));
	ASSERT(json_is_null(json_object_get(note, "created_by")));
	json_t *history = NULL;
	ASSERT_EQ(object_history(&fx.ctx, "note", json_integer_value(json_object_get(note, "id")), &history), CRM_OK);
	ASSERT_EQ(json_integer_value(json_object_get(json_array_get(history, 0), "user")), CRM_USER_GUEST);
	json_decref(history);
	json_decref(note);
	json_decref(response);
	/* public and signed-in routes are apart: each is found only where it is served */
	ASSERT_EQ(plugin_route(fx.kernel, &fx.ctx, "POST", "/p/note", NULL, NULL, &status, &response), CRM_ENOTFOUND);
	ASSERT_EQ(plugin_public_route(fx.kernel, &fx.ctx, "GET", "/p/private", NULL, NULL, false, &status, &response),
	          CRM_ENOTFOUND);
	struct plugin_public_route route;
	ASSERT_EQ(plugin_public_route_find(fx.kernel, "GET", "/p/private", &route), CRM_ENOTFOUND);
	ASSERT_EQ(plugin_public_route_find(fx.kernel, "POST", "/p/note", &route), CRM_OK);
	ASSERT_EQ(route.rate_limit, PLUGIN_PUBLIC_RATE_LIMIT);
	ASSERT_EQ(route.rate_period, PLUGIN_PUBLIC_RATE_PERIOD);
	ASSERT_EQ(route.max_body, PLUGIN_PUBLIC_MAX_BODY);
	json_t *endpoints = plugin_endpoints(fx.kernel);
	ASSERT(json_is_true(json_object_get(json_array_get(endpoints, 0), "public")));
	ASSERT(!json_object_get(json_array_get(endpoints, 1), "public"));
	json_decref(endpoints);
	pfx_close();
}

static void test_public_route_without_a_guest_role_may_do_nothing(void)
{
	pfx_prepare("plugins: [p]\n");
	pfx_lua_plugin("p", "", public_plugin);
	ASSERT_EQ(pfx_open(), CRM_OK);
	int status = 0;
	json_t *response = NULL, *body = json_pack("{s:s}", "body", "x");
	fx.ctx.user_id = 0;
	ASSERT_EQ(plugin_public_route(fx.kernel, &fx.ctx, "POST", "/p/note", NULL, body, false, &status, &response),
	          CRM_EDENIED);
	json_decref(body);
	ASSERT_CONTAINS(fx.ctx.message, "defines no role named 'guest'");
	ASSERT_EQ(count("note"), 0);
	pfx_close();
}

static void test_public_route_options_are_checked(void)
{
	int count_out = 0, period = 0;
	ASSERT(plugin_parse_rate("10/min", &count_out, &period) && count_out == 10 && period == 60);
	ASSERT(plugin_parse_rate("100/15min", &count_out, &period) && count_out == 100 && period == 900);
	ASSERT(plugin_parse_rate("5/s", &count_out, &period) && count_out == 5 && period == 1);
	ASSERT(plugin_parse_rate("1000/d", &count_out, &period) && count_out == 1000 && period == 86400);
	static const char *const bad[] = { "", "10", "0/min", "-1/min", "10/", "10/fortnight", "10/2d", "10 / min",
	                                   "1000001/min", "10/0min", "x/min", NULL };
	for (int i = 0; bad[i]; i++)
		ASSERT(!plugin_parse_rate(bad[i], &count_out, &period));
	static const struct { const char *lua, *message; } refused[] = {
		{ "crm.route('POST', '/p/x', function() end, { public = true, rate_limit = '10/fortnight' })",
		  "'rate_limit' must be a count per period" },
		{ "crm.route('POST', '/p/x', function() end, { rate_limit = '10/min' })", "for public routes" },
		{ "crm.route('POST', '/p/x', function() end, { public = true, max_body = 0 })", "'max_body' must be" },
		{ "crm.route('POST', '/p/x', function() end, { public = true, max_body = 2000000 })", "'max_body' must be" },
		{ "crm.route('POST', '/p/x', function() end, { publik = true })", "unknown route option 'publik'" },
		{ "crm.route('POST', '/p/x', function() end, { public = 'yes' })", "'public' must be true or false" },
		{ "crm.route('POST', '/p/x', function() end)\n"
		  "crm.route('POST', '/p/x', function() end, { public = true })", "registered twice" },
		/* signed: a secret's variable that is a name, a window of 30 s to an hour, nothing else */
		{ "crm.route('POST', '/p/x', function() end, { signed = { secret_env = 'X' } })", "for public routes" },
		{ "crm.route('POST', '/p/x', function() end, { public = true, signed = true })", "'signed' must be a table" },
		{ "crm.route('POST', '/p/x', function() end, { public = true, signed = { max_age = 60 } })",
		  "secret_env is required" },
		{ "crm.route('POST', '/p/x', function() end, { public = true, signed = { secret_env = 'BAD-NAME' } })",
		  "'signed.secret_env' must name" },
		{ "crm.route('POST', '/p/x', function() end, { public = true, signed = { secret_env = '9X' } })",
		  "'signed.secret_env' must name" },
		{ "crm.route('POST', '/p/x', function() end, { public = true, signed = { secret_env = 'X', max_age = 10 } })",
		  "'signed.max_age' must be" },
		{ "crm.route('POST', '/p/x', function() end, { public = true, signed = { secret_env = 'X', max_age = 60.5 } })",
		  "'signed.max_age' must be" },
		{ "crm.route('POST', '/p/x', function() end, { public = true, signed = { secret_env = 'X', header = 'Y' } })",
		  "unknown key 'header' in route option 'signed'" },
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		ASSERT_EQ(open_with("", refused[i].lua), CRM_EMETA);
		ASSERT_CONTAINS(pfx_log(), refused[i].message);
		pfx_close();
	}
	ASSERT_EQ(open_with("", "crm.route('POST', '/p/x', function() end, { public = true, rate_limit = '100/15min', "
	                        "max_body = 1024 })\n"
	                        "crm.route('GET', '/p/y', function() end, {})\n"
	                        "crm.route('POST', '/p/z', function() end, { public = true, signed = { secret_env = "
	                        "'P_SECRET', max_age = 600 } })\n"), CRM_OK);
	struct plugin_public_route route;
	ASSERT_EQ(plugin_public_route_find(fx.kernel, "POST", "/p/x", &route), CRM_OK);
	ASSERT_EQ(route.rate_limit, 100);
	ASSERT_EQ(route.rate_period, 900);
	ASSERT_EQ(route.max_body, 1024);
	ASSERT(route.secret_env == NULL);
	ASSERT_EQ(plugin_public_route_find(fx.kernel, "POST", "/p/z", &route), CRM_OK);
	ASSERT_STR_EQ(route.secret_env, "P_SECRET");
	ASSERT_EQ(route.max_age, 600);
	/* `crm plugins` shows who may call it */
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	plugin_cli_list(fx.kernel, false, out);
	fclose(out);
	ASSERT_CONTAINS(text, "POST /p/x (public at /api/v1/public/p/x, 100 per 900 s per address, body up to 1024 bytes)");
	ASSERT_CONTAINS(text, "GET /p/y");
	ASSERT_CONTAINS(text, "body up to 16384 bytes, signed with $P_SECRET within 600 s)");
	free(text);
	pfx_close();
}

/* A plugin's own tests reach a public route with crm.test.route, running as the guest. */
static void test_plugin_tests_call_public_routes_as_the_guest(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	int code = kernel_plugin_test("tests/api/public", "tests/plugins", "webform", out);
	fclose(out);
	if (code != 0 || getenv("VERBOSE"))
		fputs(text, stderr);
	ASSERT_EQ(code, 0);
	ASSERT_CONTAINS(text, "ok   test_the_form_creates_a_pooled_lead_as_the_guest");
	free(text);
}

static void test_jobs_run_on_tick_and_a_failing_job_is_retried_with_backoff(void)
{
	ASSERT_EQ(open_with("",
		"crm.job('tidy', 'every 1h', function(ctx) crm.create('log_entry', { text = 'tidy' }) end)\n"
		"crm.job('flaky', 'every 10m', function(ctx)\n"
		"  if crm.count('log_entry', \"text = 'fixed'\") == 0 then error('the upstream is down') end\n"
		"end)\n"), CRM_OK);
	time_t t0 = 1000000;
	plugin_jobs_tick(fx.kernel, t0);
	ASSERT_EQ(count("log_entry"), 1);
	json_t *stats = plugin_jobs_stats(fx.kernel);
	json_t *flaky = json_array_get(stats, 1);
	ASSERT_STR_EQ(json_string_value(json_object_get(flaky, "job")), "flaky");
	ASSERT_EQ(json_integer_value(json_object_get(flaky, "failures")), 1);
	ASSERT_EQ(json_integer_value(json_object_get(flaky, "next_run")), t0 + 30);
	ASSERT_STR_EQ(json_string_value(json_object_get(flaky, "last_error")), "the upstream is down");
	json_decref(stats);
	plugin_jobs_tick(fx.kernel, t0 + 10);          /* not due yet */
	plugin_jobs_tick(fx.kernel, t0 + 30);          /* second failure: retry after 60 s */
	plugin_jobs_tick(fx.kernel, t0 + 60);
	stats = plugin_jobs_stats(fx.kernel);
	flaky = json_array_get(stats, 1);
	ASSERT_EQ(json_integer_value(json_object_get(flaky, "runs")), 2);
	ASSERT_EQ(json_integer_value(json_object_get(flaky, "next_run")), t0 + 90);
	ASSERT_EQ(json_integer_value(json_object_get(json_array_get(stats, 0), "runs")), 1);   /* tidy: hourly */
	json_decref(stats);
	plugin_jobs_tick(fx.kernel, t0 + 90);          /* third: 120 s */
	ASSERT(create("log_entry", "{\"text\": \"fixed\"}") > 0);
	plugin_jobs_tick(fx.kernel, t0 + 210);         /* succeeds: back to every 10 minutes */
	stats = plugin_jobs_stats(fx.kernel);
	flaky = json_array_get(stats, 1);
	ASSERT_EQ(json_integer_value(json_object_get(flaky, "runs")), 4);
	ASSERT_EQ(json_integer_value(json_object_get(flaky, "consecutive_failures")), 0);
	ASSERT_EQ(json_integer_value(json_object_get(flaky, "next_run")), t0 + 210 + 600);
	json_decref(stats);
	ASSERT_CONTAINS(pfx_log(), "job flaky failed");
	pfx_close();
	ASSERT_EQ(open_with("", "crm.job('bad', 'hourly', function() end)\n"), CRM_EMETA);
	ASSERT_CONTAINS(pfx_log(), "schedule 'hourly' is not valid");
	pfx_close();
}

/* "at 02:30": not before its slot; the slot is kept across a restart; slots missed while down run once. */
static void test_timed_job_runs_once_per_slot_across_a_restart(void)
{
	ASSERT_EQ(open_with("", "crm.job('nightly', 'at 02:30', function(ctx) crm.create('log_entry', { text = 'n' }) end)\n"
	                        "crm.job('monthly', 'cron 5 0 1 * *', function(ctx) end)\n"), CRM_OK);
	time_t t0 = 1796601600;   /* 2026-12-07 00:00 UTC */
	plugin_jobs_tick(fx.kernel, t0);
	ASSERT_EQ(count("log_entry"), 0);           /* not at start: at 02:30 */
	json_t *stats = plugin_jobs_stats(fx.kernel);
	ASSERT_EQ(json_integer_value(json_object_get(json_array_get(stats, 0), "next_run")), t0 + 2 * 3600 + 1800);
	ASSERT_EQ(json_integer_value(json_object_get(json_array_get(stats, 1), "next_run")), 1798761900);  /* 2027-01-01 00:05 */
	json_decref(stats);
	plugin_jobs_tick(fx.kernel, t0 + 2 * 3600 + 1800);
	ASSERT_EQ(count("log_entry"), 1);
	/* a restart: the next slot (tomorrow 02:30) comes from the database; three days pass while down */
	crm_ctx_clear(&fx.ctx);
	kernel_close(fx.kernel);
	fx.kernel = NULL;
	fclose(fx.log);
	free(fx.log_text);
	fx.log_text = NULL;
	ASSERT_EQ(pfx_open(), CRM_OK);
	plugin_jobs_tick(fx.kernel, t0 + 4 * 86400);
	plugin_jobs_tick(fx.kernel, t0 + 4 * 86400 + 60);
	ASSERT_EQ(count("log_entry"), 2);           /* once, not once per missed day */
	stats = plugin_jobs_stats(fx.kernel);
	ASSERT_EQ(json_integer_value(json_object_get(json_array_get(stats, 0), "next_run")), t0 + 4 * 86400 + 2 * 3600 + 1800);
	json_decref(stats);
	pfx_close();
	ASSERT_EQ(open_with("", "crm.job('bad', 'at 25:00', function() end)\n"), CRM_EMETA);
	ASSERT_CONTAINS(pfx_log(), "at: expected a time of day HH:MM");
	pfx_close();
}

/* A plugin adds a state, transitions and a timer to a base workflow; the timer's transition runs hooks and actions. */
static void test_plugin_extends_a_workflow_whose_timer_fires_a_transition_with_hooks(void)
{
	pfx_prepare("plugins: [p]\n");
	pfx_write("metadata/ticket.yaml",
		"object: ticket\n"
		"fields:\n"
		"  subject: { type: text }\n"
		"  status: { type: enum, values: [open, closed] }\n"
		"---\n"
		"workflow: ticket_flow\n"
		"object: ticket\n"
		"field: status\n"
		"initial: open\n"
		"transitions:\n"
		"  - { name: close, from: open, to: closed }\n");
	pfx_write("plugins/p/objects/ticket.yaml",
		"object: ticket\n"
		"extend: true\n"
		"fields:\n"
		"  status: { extend: true, values: [snoozed] }\n"
		"---\n"
		"workflow: ticket_flow\n"
		"extend: true\n"
		"transitions:\n"
		"  - { name: snooze, from: open, to: snoozed }\n"
		"  - { name: wake, from: snoozed, to: open, do: [p.note] }\n"
		"  - { name: close, extend: true, do: [p.note] }\n"
		"timers:\n"
		"  - { name: wake_up, when: \"status = 'snoozed'\", every: 1h, do: [{ transition: wake }] }\n");
	pfx_lua_plugin("p", "",
		"crm.on('ticket', 'after_transition', function(new, old, ctx)\n"
		"  crm.create('log_entry', { text = 'after ' .. new.status })\n"
		"end)\n"
		"crm.action('note', function(ticket, ctx, args)\n"
		"  crm.create('log_entry', { text = 'note ' .. ticket.status })\n"
		"end)\n");
	ASSERT_EQ(pfx_open(), CRM_OK);
	int64_t id = create("ticket", "{\"subject\": \"printer\"}");
	ASSERT(id > 0);
	json_t *out = NULL;
	ASSERT_EQ(workflow_fire(&fx.ctx, "ticket", id, "snooze", NULL, 0, &out), CRM_OK);
	json_decref(out);
	ASSERT_EQ(count("log_entry"), 1);   /* after snoozed */
	workflow_timers_tick(fx.kernel, time(NULL));
	json_t *ticket = get("ticket", id);
	ASSERT_STR_EQ(json_string_value(json_object_get(ticket, "status")), "open");
	json_decref(ticket);
	/* the transition's action (on the record before the move), then the after_transition hook */
	ASSERT_EQ(count("log_entry"), 3);
	struct object_query query = { .filter = "text = 'note snoozed' or text = 'after open'" };
	json_t *page = NULL;
	ASSERT_EQ(object_query(&fx.ctx, "log_entry", &query, &page), CRM_OK);
	ASSERT_EQ(json_array_size(json_object_get(page, "records")), 2);
	json_decref(page);
	/* the base's transition runs the plugin's appended action too */
	ASSERT_EQ(workflow_fire(&fx.ctx, "ticket", id, "close", NULL, 0, &out), CRM_OK);
	json_decref(out);
	ASSERT_EQ(count("log_entry"), 5);
	ASSERT_CONTAINS(pfx_log(), "timer ticket_flow.wake_up: 1 records");
	pfx_close();
}

/* --- commands ---------------------------------------------------------------- */

static void test_check_validates_plugins(void)
{
	pfx_prepare("plugins: [p]\n");
	pfx_lua_plugin("p", "", "crm.on('note', 'before_create', function() end)\n");
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	ASSERT_EQ(plugin_check(fx.metadata, fx.plugins, NULL, out), 0);
	fclose(out);
	ASSERT_CONTAINS(text, "plugin p 1.0.0: 1 hooks, 0 actions, 0 routes, 0 jobs");
	free(text);
	pfx_lua_plugin("p", "", "crm.on('nope', 'before_create', function() end)\nlocal x = = 1\n");
	out = open_memstream(&text, &len);
	ASSERT_EQ(plugin_check(fx.metadata, fx.plugins, NULL, out), 1);
	fclose(out);
	ASSERT_CONTAINS(text, "plugins/p/main.lua:2: unexpected symbol near '='");
	free(text);
	pfx_lua_plugin("p", "", "crm.on('nope', 'before_create', function() end)\n");
	out = open_memstream(&text, &len);
	ASSERT_EQ(plugin_check(fx.metadata, fx.plugins, NULL, out), 1);
	fclose(out);
	ASSERT_CONTAINS(text, "crm.on: unknown object 'nope'");
	free(text);
	pfx_close();
}

static void test_scaffolded_plugins_build_load_and_pass_their_tests(void)
{
	pfx_prepare("plugins: []\n");
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	ASSERT_EQ(plugin_cli_new(fx.plugins, "greeter", "lua", out), 0);
	ASSERT_EQ(plugin_cli_new(fx.plugins, "cgreeter", "c", out), 0);
	ASSERT_EQ(plugin_cli_new(fx.plugins, "greeter", "lua", out), 1);       /* exists */
	ASSERT_EQ(plugin_cli_new(fx.plugins, "Bad-Name", "lua", out), 1);
	ASSERT_EQ(plugin_cli_new(fx.plugins, "x", "cobol", out), 1);
	fclose(out);
	free(text);
	char cmd[PATH_MAX + 1024];
	snprintf(cmd, sizeof(cmd), "make -s -C '%s/cgreeter' SDK='%s' >/dev/null", fx.plugins, sdk_dir);
	ASSERT_EQ(system(cmd), 0);
	out = open_memstream(&text, &len);
	ASSERT_EQ(kernel_plugin_test(fx.metadata, fx.plugins, "greeter", out), 0);
	ASSERT_EQ(kernel_plugin_test(fx.metadata, fx.plugins, "cgreeter", out), 0);
	fclose(out);
	ASSERT_CONTAINS(text, "ok   test_hello_route_answers");
	ASSERT_CONTAINS(text, "2 passed, 0 failed");
	free(text);
	pfx_close();
}

/* The example plugins in plugins/ pass their own tests against the repository's metadata. */
static void test_example_plugins_pass_their_own_tests(void)
{
	static const char *const examples[] = { "sales", "vin", "lead2cash", "marketing" };
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "make -s -C plugins/vin >/dev/null");
	ASSERT_EQ(system(cmd), 0);
	for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
		char *text = NULL;
		size_t len = 0;
		FILE *out = open_memstream(&text, &len);
		int code = kernel_plugin_test("metadata", "plugins", examples[i], out);
		fclose(out);
		if (code != 0 || getenv("VERBOSE"))
			fputs(text, stderr);
		free(text);
		ASSERT_EQ(code, 0);
	}
}

static const struct test_case tests[] = {
	{ "semver_ranges", test_semver_ranges },
	{ "abi_minor_older_loads_newer_major_is_refused", test_abi_minor_older_loads_newer_major_is_refused },
	{ "manifest_requiring_a_plugin_not_enabled_is_refused", test_manifest_requiring_a_plugin_not_enabled_is_refused },
	{ "manifest_unmet_versions_are_refused", test_manifest_unmet_versions_are_refused },
	{ "manifest_dependency_cycle_is_refused", test_manifest_dependency_cycle_is_refused },
	{ "manifest_bad_semver_and_unknown_keys_are_refused", test_manifest_bad_semver_and_unknown_keys_are_refused },
	{ "manifest_config_merges_app_settings_and_refuses_unknown_ones",
	  test_manifest_config_merges_app_settings_and_refuses_unknown_ones },
	{ "plugins_load_in_dependency_order_and_hooks_run_in_it", test_plugins_load_in_dependency_order_and_hooks_run_in_it },
	{ "lua_before_update_changes_a_value_and_another_refuses_with_its_message",
	  test_lua_before_update_changes_a_value_and_another_refuses_with_its_message },
	{ "after_hook_error_rolls_the_write_back", test_after_hook_error_rolls_the_write_back },
	{ "async_after_hook_runs_after_commit", test_async_after_hook_runs_after_commit },
	{ "hook_that_updates_its_own_record_is_stopped_at_a_fixed_depth",
	  test_hook_that_updates_its_own_record_is_stopped_at_a_fixed_depth },
	{ "endless_loop_is_stopped_by_the_budget_and_the_next_call_works",
	  test_endless_loop_is_stopped_by_the_budget_and_the_next_call_works },
	{ "exponential_pattern_is_stopped_quickly", test_exponential_pattern_is_stopped_quickly },
	{ "memory_bombs_fail_at_the_quota", test_memory_bombs_fail_at_the_quota },
	{ "escapes_are_refused", test_escapes_are_refused },
	{ "crypto_tokens_hashes_and_equality", test_crypto_tokens_hashes_and_equality },
	{ "crm_api_from_lua_creates_queries_and_writes_records", test_crm_api_from_lua_creates_queries_and_writes_records },
	{ "failed_write_in_a_transaction_fails_the_call_even_if_caught",
	  test_failed_write_in_a_transaction_fails_the_call_even_if_caught },
	{ "lua_states_are_pooled_and_replayed", test_lua_states_are_pooled_and_replayed },
	{ "c_plugin_so_loads_and_its_hook_and_route_run", test_c_plugin_so_loads_and_its_hook_and_route_run },
	{ "c_plugin_with_a_newer_major_abi_is_refused", test_c_plugin_with_a_newer_major_abi_is_refused },
	{ "c_plugin_sends_through_the_outbox", test_c_plugin_sends_through_the_outbox },
	{ "routes_dispatch_through_plugin_route", test_routes_dispatch_through_plugin_route },
	{ "public_route_runs_as_the_guest_with_only_the_guest_role",
	  test_public_route_runs_as_the_guest_with_only_the_guest_role },
	{ "public_route_without_a_guest_role_may_do_nothing", test_public_route_without_a_guest_role_may_do_nothing },
	{ "public_route_options_are_checked", test_public_route_options_are_checked },
	{ "plugin_tests_call_public_routes_as_the_guest", test_plugin_tests_call_public_routes_as_the_guest },
	{ "timed_job_runs_once_per_slot_across_a_restart", test_timed_job_runs_once_per_slot_across_a_restart },
	{ "jobs_run_on_tick_and_a_failing_job_is_retried_with_backoff",
	  test_jobs_run_on_tick_and_a_failing_job_is_retried_with_backoff },
	{ "plugin_extends_a_workflow_whose_timer_fires_a_transition_with_hooks",
	  test_plugin_extends_a_workflow_whose_timer_fires_a_transition_with_hooks },
	{ "check_validates_plugins", test_check_validates_plugins },
	{ "scaffolded_plugins_build_load_and_pass_their_tests", test_scaffolded_plugins_build_load_and_pass_their_tests },
	{ "example_plugins_pass_their_own_tests", test_example_plugins_pass_their_own_tests },
};

/* TEST_MAIN, after finding the SDK (tests run from the repository root). */
#define main test_main
TEST_MAIN(tests)
#undef main

int main(int argc, char **argv)
{
	if (!realpath("sdk", sdk_dir)) {
		fprintf(stderr, "run from the repository root (no ./sdk)\n");
		return 1;
	}
	return test_main(argc, argv);
}
