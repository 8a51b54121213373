/*
 * kernel.c - opening the kernel: metadata, store, schema sync, cursor secret.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "access.h"
#include "attachment.h"
#include "events.h"
#include "kernel.h"
#include "meta.h"
#include "object.h"
#include "plugin.h"
#include "store.h"
#include "workflow.h"

/* Where attachments' files live and how large one may be: options, then app.yaml config, then defaults. */
static void files_settings(struct crm_kernel *kernel, const struct kernel_options *options, const char *db_path)
{
	json_t *dir = json_object_get(kernel->meta->config, "files_dir");
	json_t *max = json_object_get(kernel->meta->config, "file_max_bytes");
	if (options->files_dir)
		kernel->files_dir = xstrdup(options->files_dir);
	else if (json_is_string(dir) && json_string_length(dir) > 0)
		kernel->files_dir = xstrdup(json_string_value(dir));
	else {
		struct strbuf path = { 0 };
		strbuf_printf(&path, "%s.files", db_path);
		kernel->files_dir = path.data;
	}
	kernel->file_max = options->file_max ? options->file_max
		: json_is_integer(max) && json_integer_value(max) > 0 ? (size_t)json_integer_value(max)
		: ATTACHMENT_DEFAULT_MAX;
}

/* The key that signs cursors lives in the database so it survives restarts. */
static int load_secret(struct crm_kernel *kernel, struct crm_ctx *ctx)
{
	struct store_conn *conn;
	int code = store_begin(kernel->store, &conn, ctx);
	if (code != CRM_OK)
		return code;
	char *hex = NULL;
	if (store_setting_get(conn, "cursor_secret", &hex) == CRM_OK && strlen(hex) == 64
	    && sodium_hex2bin(kernel->secret, sizeof(kernel->secret), hex, 64, NULL, NULL, NULL) == 0) {
		free(hex);
		store_rollback(conn);
		return CRM_OK;
	}
	free(hex);
	char fresh[65];
	randombytes_buf(kernel->secret, sizeof(kernel->secret));
	sodium_bin2hex(fresh, sizeof(fresh), kernel->secret, sizeof(kernel->secret));
	if (store_setting_set(conn, "cursor_secret", fresh) != CRM_OK) {
		store_rollback(conn);
		return crm_error(ctx, CRM_EIO, "cannot store the cursor secret");
	}
	return store_commit(conn, ctx);
}

int kernel_industry(struct crm_kernel *kernel, enum kernel_industry_mode mode, struct crm_ctx *ctx)
{
	const char *industry = kernel->meta->industry ? kernel->meta->industry : "generic";
	struct store_conn *conn;
	int code = store_begin(kernel->store, &conn, ctx);
	if (code != CRM_OK)
		return code;
	char *recorded = NULL;
	if (mode != INDUSTRY_SET && store_setting_get(conn, "industry", &recorded) == CRM_OK) {
		bool same = strcmp(recorded, industry) == 0;
		store_rollback(conn);
		if (!same)
			code = crm_error(ctx, CRM_EMETA, "the database was made for industry '%s', this deployment runs '%s': "
			                 "use --industry %s (or another database)", recorded, industry, recorded);
		free(recorded);
		return code;
	}
	if (mode == INDUSTRY_CHECK) {
		store_rollback(conn);
		return CRM_OK;
	}
	if (store_setting_set(conn, "industry", industry) != CRM_OK) {
		store_rollback(conn);
		return crm_error(ctx, CRM_EIO, "cannot record the database's industry");
	}
	return store_commit(conn, ctx);
}

int kernel_open(const struct kernel_options *options, struct crm_kernel **out)
{
	FILE *log = options->log ? options->log : stderr;
	if (sodium_init() < 0) {
		fprintf(log, "crm: libsodium failed to initialise\n");
		return CRM_EINTERNAL;
	}
	struct crm_kernel *kernel = xcalloc(1, sizeof(*kernel));
	kernel->log = log;
	const char *fault = getenv("CRM_TEST_FAULT");
	kernel->fault_hidden_column = fault && strcmp(fault, "hidden_column") == 0;
	struct meta_diags diags = { 0 };
	int code = meta_load_industry(options->metadata_dir ? options->metadata_dir : "metadata",
	                              options->plugins_dir ? options->plugins_dir : "plugins", options->industry,
	                              &kernel->meta, &diags);
	meta_diags_print(&diags, log);
	meta_diags_free(&diags);
	if (code != CRM_OK) {
		free(kernel);
		return code;
	}
	char err[512];
	struct store_options store_options = { .readers = options->readers,
	                                       .writer_cache_kb = options->bulk ? 256 * 1024 : 0,
	                                       .background_checkpoint = options->server,
	                                       .query_time_ms = options->query_time_ms };
	const char *path = options->db_path ? options->db_path : "var/crm.db";
	code = store_open(path, kernel->meta, &store_options, &kernel->store, err, sizeof(err));
	if (code != CRM_OK) {
		fprintf(log, "crm: %s\n", err);
		meta_free(kernel->meta);
		free(kernel);
		return code;
	}
	files_settings(kernel, options, path);
	struct crm_ctx ctx;
	crm_ctx_init(&ctx, kernel, 0, NULL);
	struct schema_plan *plan = NULL;
	if (!options->no_schema)
		code = kernel_industry(kernel, INDUSTRY_CHECK, &ctx);
	if (code == CRM_OK && !options->no_schema)
		code = schema_plan(kernel->store, &plan, &ctx);
	if (code == CRM_OK && plan && schema_plan_step_count(plan) > 0) {
		if (!options->migrate) {
			schema_plan_print(plan, log);
			code = crm_error(&ctx, CRM_EMETA, "the database schema differs from the metadata: run 'crm migrate'");
		} else if (schema_plan_destructive(plan)) {
			schema_plan_print(plan, log);
			code = crm_error(&ctx, CRM_EDESTRUCTIVE, "the metadata asks for destructive schema changes: "
			                 "review them with 'crm migrate --dry-run' and apply with 'crm migrate --allow-destructive'");
		} else {
			schema_plan_print(plan, log);
			code = schema_apply(kernel->store, plan, false, &ctx);
		}
	}
	schema_plan_free(plan);
	if (code == CRM_OK && !options->no_schema)
		code = load_secret(kernel, &ctx);
	if (code == CRM_OK && !options->no_schema && options->migrate)
		code = kernel_industry(kernel, INDUSTRY_RECORD, &ctx);
	if (code != CRM_OK) {
		fprintf(log, "crm: %s\n", ctx.message);
		crm_ctx_clear(&ctx);
		kernel_close(kernel);
		return code;
	}
	crm_ctx_clear(&ctx);
	kernel->events = events_new(kernel->meta);
	kernel->access_cache = access_cache_new();
	attachment_register_hooks(kernel);
	if ((code = plugins_load(kernel, options->plugins_dir ? options->plugins_dir : "plugins",
	                         &kernel->plugins)) != CRM_OK) {
		kernel_close(kernel);
		return code;
	}
	*out = kernel;
	return CRM_OK;
}

void kernel_close(struct crm_kernel *kernel)
{
	if (!kernel)
		return;
	store_close(kernel->store);
	events_free(kernel->events);
	access_cache_free(kernel->access_cache);
	plugins_free(kernel->plugins);
	meta_free(kernel->meta);
	free(kernel->files_dir);
	free(kernel);
}

/*
 * Periodic work, called about once a second by the server's main thread
 * (never by request threads, so a slow job never delays a request): plugin
 * jobs and workflow timers when due, and the recycle bin's retention, hourly.
 */
void kernel_tick(struct crm_kernel *kernel, time_t now)
{
	plugin_jobs_tick(kernel, now);
	workflow_timers_tick(kernel, now);
	if (now - kernel->last_purge < 3600)
		return;
	kernel->last_purge = now;
	json_t *days = json_object_get(kernel->meta->config, "recycle_bin_days");
	int retention = json_is_integer(days) && json_integer_value(days) > 0 ? (int)json_integer_value(days) : 30;
	struct crm_ctx ctx;
	crm_ctx_init(&ctx, kernel, 0, "recycle-bin");
	int64_t purged = 0, kept = 0;
	if (object_purge_expired(&ctx, retention, &purged, &kept) != CRM_OK)
		fprintf(kernel->log, "crm: recycle bin purge failed: %s\n", ctx.message);
	else if (purged || kept)
		fprintf(kernel->log, "crm: recycle bin: %lld records purged after %d days, %lld still referenced\n",
		        (long long)purged, retention, (long long)kept);
	/* files no row names any more (their rows purged above, or an upload cut short) */
	int64_t removed = 0;
	if (attachment_sweep(&ctx, 3600, &removed) != CRM_OK)
		fprintf(kernel->log, "crm: attachment sweep failed: %s\n", ctx.message);
	else if (removed)
		fprintf(kernel->log, "crm: attachments: %lld unreferenced files removed\n", (long long)removed);
	crm_ctx_clear(&ctx);
}

int kernel_plugin_test(const char *metadata_dir, const char *plugins_dir, const char *name, FILE *out)
{
	char *scratch = NULL;
	if (plugin_test_scratch(metadata_dir, plugins_dir, name, &scratch, out) != 0)
		return 1;
	struct strbuf metadata = { 0 }, db = { 0 };
	strbuf_printf(&metadata, "%s/metadata", scratch);
	strbuf_printf(&db, "%s/test.db", scratch);
	struct kernel_options options = { .db_path = db.data, .metadata_dir = metadata.data,
	                                  .plugins_dir = plugins_dir, .migrate = true, .log = out };
	struct crm_kernel *kernel = NULL;
	int passed = 0, failed = 0, code = 1;
	if (kernel_open(&options, &kernel) != CRM_OK) {
		fprintf(out, "crm plugin test: the kernel did not open with plugin '%s' enabled\n", name);
	} else {
		plugin_test_run(kernel, plugins_dir, name, out, &passed, &failed);
		fprintf(out, "%d passed, %d failed\n", passed, failed);
		code = failed == 0 && passed > 0 ? 0 : 1;
		kernel_close(kernel);
	}
	strbuf_free(&metadata);
	strbuf_free(&db);
	plugin_test_cleanup(scratch);
	return code;
}
