/*
 * kernel.h - the opener: builds the kernel (context.h: loaded metadata, the
 * open store, events, plugins) and closes it. One per process, passed
 * explicitly (no global mutable state). It sits on top of the engine: the
 * command line and the server call it; nothing below does.
 */
#ifndef CRM_KERNEL_H
#define CRM_KERNEL_H

#include <stdio.h>
#include <time.h>
#include "context.h"

struct kernel_options {
	const char *db_path;         /* default var/crm.db */
	const char *metadata_dir;    /* default metadata */
	const char *plugins_dir;     /* default plugins */
	const char *industry;        /* crm --industry: app.yaml `industries:` entry; NULL = app.yaml `industry:` */
	int readers;                 /* read-only connections (one per worker thread); 0 = 2 */
	bool migrate;                /* apply additive schema changes at open (serve, import, demo) */
	bool no_schema;              /* leave the schema alone (crm migrate plans it itself) */
	bool bulk;                   /* a bulk load (import, demo): a large writer page cache */
	bool server;                 /* crm serve: checkpoints on a thread of their own (store.h) */
	int query_time_ms;           /* a statement running longer is interrupted; 0 = 2000 (store.h) */
	const char *files_dir;       /* attachments' files; NULL = config files_dir, else <db_path>.files */
	size_t file_max;             /* bytes in one attachment; 0 = config file_max_bytes, else 10 MiB */
	FILE *log;                   /* where diagnostics and plans go; NULL = stderr */
};

/*
 * Loads metadata (printing diagnostics to log), opens the database and, if
 * options->migrate, applies additive schema changes (refusing destructive
 * ones). Returns CRM_OK and *out, or an error code after printing why.
 */
int kernel_open(const struct kernel_options *options, struct crm_kernel **out);
void kernel_close(struct crm_kernel *kernel);
/*
 * `crm plugin test NAME`: runs plugins_dir/NAME/tests/ *.lua against a
 * scratch database built from metadata_dir with NAME enabled (plugin.h).
 * Prints "ok"/"FAIL" per test and "N passed, N failed". Returns 0 or 1.
 */
int kernel_plugin_test(const char *metadata_dir, const char *plugins_dir, const char *name, FILE *out);
/*
 * A database belongs to one industry (app.yaml `industries:`): its schema
 * holds that industry's objects. kernel_open refuses a database recorded
 * for another industry before the schema diff would read as objects to drop
 * (INDUSTRY_CHECK), and records the deployment's on a database that has none
 * once the schema is applied (INDUSTRY_RECORD); `crm migrate
 * --allow-destructive` moves a database to another industry (INDUSTRY_SET).
 */
enum kernel_industry_mode { INDUSTRY_CHECK, INDUSTRY_RECORD, INDUSTRY_SET };
int kernel_industry(struct crm_kernel *kernel, enum kernel_industry_mode mode, struct crm_ctx *ctx);
/* Periodic work (recycle bin retention, plugin jobs); the server calls it about once a second. */
void kernel_tick(struct crm_kernel *kernel, time_t now);

#endif
