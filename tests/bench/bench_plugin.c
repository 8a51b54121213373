/*
 * bench_plugin.c - what a plugin hook costs per create: the same create with
 * no hook, with one Lua before-hook and with one C before-hook, each on its
 * own kernel and database in a temporary directory.
 *   usage: bench_plugin [N]   (N creates per case, default 20000)
 * Needs cc on the PATH (the C plugin is built at run time against sdk/).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "kernel.h"
#include "object.h"

static const char schema[] =
	"object: note\nfields:\n  body: { type: text }\n  score: { type: int }\n";
static const char lua_hook[] =
	"crm.on('note', 'before_create', function(new) new.score = #(new.body or '') end)\n";
static const char c_hook[] =
	"#include <string.h>\n#include \"crm_plugin.h\"\n"
	"static const struct crm_host *host;\n"
	"static int hook(void *d, struct crm_call *call, const char *o, const char *e)\n"
	"{ (void)d; (void)o; (void)e; const char *b = host->get_text(call, CRM_VALUES, \"body\");\n"
	"  return host->set_int(call, \"score\", b ? (int64_t)strlen(b) : 0); }\n"
	"int crm_plugin_init(const struct crm_host *h, struct crm_plugin *self)\n"
	"{ host = h; self->abi_version = CRM_ABI_VERSION; self->name = \"c\"; self->version = \"1.0.0\";\n"
	"  return host->on(self, \"note\", \"before_create\", 0, hook, NULL); }\n";

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* Microseconds per create with plugin "none", "lua" or "c". */
static double run(const char *kind, int n)
{
	char dir[] = "/tmp/crm-bench-plugin-XXXXXX", path[PATH_MAX], sdk[PATH_MAX];
	if (!mkdtemp(dir) || !realpath("sdk", sdk)) {
		fprintf(stderr, "run from the repository root\n");
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/metadata", dir);
	mkdir(path, 0755);
	char app[256];
	snprintf(app, sizeof(app), "app: bench\nplugins: [%s]\n", strcmp(kind, "none") ? kind : "");
	write_file(path, "app.yaml", app);
	write_file(path, "objects.yaml", schema);
	snprintf(path, sizeof(path), "%s/plugins", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/plugins/%s", dir, kind);
	mkdir(path, 0755);
	if (!strcmp(kind, "lua")) {
		write_file(path, "plugin.yaml", "name: lua\nversion: 1.0.0\nlua: lua.lua\n");
		write_file(path, "lua.lua", lua_hook);
	} else if (!strcmp(kind, "c")) {
		write_file(path, "plugin.yaml", "name: c\nversion: 1.0.0\nlibrary: c\n");
		write_file(path, "c.c", c_hook);
		char cmd[3 * PATH_MAX + 64];
		snprintf(cmd, sizeof(cmd), "cc -O2 -shared -fPIC -I'%s' -o '%s/c.so' '%s/c.c'", sdk, path, path);
		if (system(cmd) != 0)
			exit(1);
	}
	char metadata[PATH_MAX], plugins[PATH_MAX], db[PATH_MAX];
	snprintf(metadata, sizeof(metadata), "%s/metadata", dir);
	snprintf(plugins, sizeof(plugins), "%s/plugins", dir);
	snprintf(db, sizeof(db), "%s/bench.db", dir);
	struct kernel_options options = { .db_path = db, .metadata_dir = metadata, .plugins_dir = plugins,
	                                  .migrate = true, .log = stderr };
	struct crm_kernel *kernel;
	if (kernel_open(&options, &kernel) != CRM_OK)
		exit(1);
	struct crm_ctx ctx;
	crm_ctx_init(&ctx, kernel, 0, "bench");
	json_t *values = json_pack("{s:s}", "body", "hello plugin");
	/* one transaction around all creates: the figure is the API and hook cost, not fsync */
	object_begin(&ctx);
	struct timespec start, end;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (int i = 0; i < n; i++) {
		int64_t id;
		if (object_create_id(&ctx, "note", values, &id) != CRM_OK) {
			fprintf(stderr, "%s: %s\n", kind, ctx.message);
			exit(1);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	object_commit(&ctx);
	json_decref(values);
	crm_ctx_clear(&ctx);
	kernel_close(kernel);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return ((double)(end.tv_sec - start.tv_sec) * 1e6 + (double)(end.tv_nsec - start.tv_nsec) / 1e3) / n;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 20000;
	if (n <= 0)
		n = 20000;
	double none = run("none", n), lua = run("lua", n), c = run("c", n);
	printf("create, no hook           %7.2f us\n", none);
	printf("create + Lua before-hook  %7.2f us  (hook %+.2f us)\n", lua, lua - none);
	printf("create + C before-hook    %7.2f us  (hook %+.2f us)\n", c, c - none);
	return 0;
}
