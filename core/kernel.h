/*
 * kernel.h - the kernel object: loaded metadata plus the open store. One per
 * process, passed explicitly (no global mutable state).
 */
#ifndef CRM_KERNEL_H
#define CRM_KERNEL_H

#include <stdio.h>
#include <time.h>
#include "crm.h"

struct meta;
struct store;
struct events;
struct plugins;
struct access_cache;

struct kernel_options {
	const char *db_path;         /* default var/crm.db */
	const char *metadata_dir;    /* default metadata */
	const char *plugins_dir;     /* default plugins */
	int readers;                 /* read-only connections (one per worker thread); 0 = 2 */
	bool migrate;                /* apply additive schema changes at open (serve, import, demo) */
	bool no_schema;              /* leave the schema alone (crm migrate plans it itself) */
	bool bulk;                   /* a bulk load (import, demo): a large writer page cache */
	bool server;                 /* crm serve: checkpoints on a thread of their own (store.h) */
	FILE *log;                   /* where diagnostics and plans go; NULL = stderr */
};

struct crm_kernel {
	struct meta *meta;           /* owned, immutable */
	struct store *store;         /* owned */
	struct events *events;       /* owned: hooks registered by plugins */
	struct plugins *plugins;     /* owned: loaded plugins (plugin.h) */
	struct access_cache *access_cache; /* owned: users and team scopes, briefly (access.c) */
	unsigned char secret[32];    /* signs cursors; kept in the database */
	time_t last_purge;           /* kernel_tick: when the recycle bin was last emptied */
	/*
	 * Test-only fault (CRM_TEST_FAULT=hidden_column in the environment): every
	 * list a caller with hidden fields asks for also selects one of them,
	 * bypassing the query builder's check, so that tests can prove the SQLite
	 * authorizer fails such a query closed (500, no data).
	 */
	bool fault_hidden_column;
	FILE *log;
};

/*
 * Loads metadata (printing diagnostics to log), opens the database and, if
 * options->migrate, applies additive schema changes (refusing destructive
 * ones). Returns CRM_OK and *out, or an error code after printing why.
 */
int kernel_open(const struct kernel_options *options, struct crm_kernel **out);
void kernel_close(struct crm_kernel *kernel);
/*
 * The connection a read should use: the open write transaction, else the
 * reader held for the request, else a reader from the pool (give it back
 * with kernel_reader_done, which leaves held ones alone).
 */
struct store_conn *kernel_reader(struct crm_ctx *ctx);
void kernel_reader_done(struct crm_ctx *ctx, struct store_conn *conn);
/*
 * Holds one reader in one read transaction for the rest of a read-only
 * request (a GET): one snapshot and one lock cycle instead of one per
 * statement. kernel_read_end ends it (crm_ctx_clear does too).
 */
void kernel_read_begin(struct crm_ctx *ctx);
void kernel_read_end(struct crm_ctx *ctx);
/* Periodic work (recycle bin retention, plugin jobs); the server calls it about once a second. */
void kernel_tick(struct crm_kernel *kernel, time_t now);

#endif
