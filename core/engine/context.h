/*
 * context.h - what every layer of the engine shares about the kernel: its
 * parts (struct crm_kernel, filled by the opener, kernel.c) and the
 * connection a call reads through. It sits below access, events, the object
 * API and the plugin hosts, so that none of them needs the opener; kernel.c,
 * on top, builds the kernel and nothing below calls it.
 */
#ifndef CRM_CONTEXT_H
#define CRM_CONTEXT_H

#include <stdio.h>
#include <time.h>
#include "crm.h"

struct meta;
struct store;
struct store_conn;
struct events;
struct plugins;
struct access_cache;

struct crm_kernel {
	struct meta *meta;           /* owned, immutable */
	struct store *store;         /* owned */
	struct events *events;       /* owned: hooks registered by plugins */
	struct plugins *plugins;     /* owned: loaded plugins (plugin.h) */
	struct access_cache *access_cache; /* owned: users and team scopes, briefly (access.c) */
	unsigned char secret[32];    /* signs cursors; kept in the database */
	char *files_dir;             /* owned: where attachments' files live (attachment.h); NULL = none */
	size_t file_max;             /* bytes in one attachment at most */
	time_t last_purge;           /* kernel_tick: when the recycle bin was last emptied */
	struct kernel_backup *backup; /* kernel.c: the scheduled backup (config.backup) of a server; may be NULL */
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
 * The connection a read should use: the open write transaction, else the
 * reader held for the request, else a reader from the pool (give it back
 * with context_reader_done, which leaves held ones alone).
 */
struct store_conn *context_reader(struct crm_ctx *ctx);
void context_reader_done(struct crm_ctx *ctx, struct store_conn *conn);
/*
 * Holds one reader in one read transaction for the rest of a read-only
 * request (a GET): one snapshot and one lock cycle instead of one per
 * statement. context_read_end ends it (crm_ctx_clear does too).
 */
void context_read_begin(struct crm_ctx *ctx);
void context_read_end(struct crm_ctx *ctx);

#endif
