/*
 * fixture.h - a kernel on a temporary directory: metadata written from
 * strings, a fresh SQLite file. For unit tests of the object API and schema.
 */
#ifndef CRM_TEST_FIXTURE_H
#define CRM_TEST_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "kernel.h"
#include "object.h"

struct fixture {
	char dir[256];
	char metadata[300];
	char db[300];
	struct crm_kernel *kernel;
	struct crm_ctx ctx;
};

static void fixture_write(struct fixture *fx, const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", fx->metadata, name);
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		abort();
	}
	fputs(text, f);
	fclose(f);
}

/* Creates the directory with app.yaml and objects.yaml = yaml; does not open. */
static void fixture_prepare(struct fixture *fx, const char *yaml)
{
	memset(fx, 0, sizeof(*fx));
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/crm-test-XXXXXX");
	if (!mkdtemp(fx->dir))
		abort();
	snprintf(fx->metadata, sizeof(fx->metadata), "%s/metadata", fx->dir);
	snprintf(fx->db, sizeof(fx->db), "%s/test.db", fx->dir);
	mkdir(fx->metadata, 0755);
	fixture_write(fx, "app.yaml", "app: test\nlanguages: [en, zh]\nplugins: []\n");
	fixture_write(fx, "objects.yaml", yaml);
}

static int fixture_open_kernel(struct fixture *fx, bool migrate)
{
	struct kernel_options options = { .db_path = fx->db, .metadata_dir = fx->metadata,
	                                  .plugins_dir = "plugins", .migrate = migrate,
	                                  .log = stderr };
	int code = kernel_open(&options, &fx->kernel);
	if (code == CRM_OK)
		crm_ctx_init(&fx->ctx, fx->kernel, 0, "test");
	return code;
}

static int fixture_open(struct fixture *fx, const char *yaml)
{
	fixture_prepare(fx, yaml);
	return fixture_open_kernel(fx, true);
}

static void fixture_close_kernel(struct fixture *fx)
{
	crm_ctx_clear(&fx->ctx);
	kernel_close(fx->kernel);
	fx->kernel = NULL;
}

static void fixture_close(struct fixture *fx)
{
	if (fx->kernel)
		fixture_close_kernel(fx);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", fx->dir);
}

/* The code of the first field error, or "". */
static inline const char *first_error_code(struct crm_ctx *ctx)
{
	json_t *e = json_array_get(ctx->field_errors, 0);
	const char *code = json_string_value(json_object_get(e, "code"));
	return code ? code : "";
}

static inline const char *first_error_field(struct crm_ctx *ctx)
{
	json_t *e = json_array_get(ctx->field_errors, 0);
	const char *field = json_string_value(json_object_get(e, "field"));
	return field ? field : "";
}

#endif
