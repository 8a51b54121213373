/*
 * bench_backup.c - an online backup of the bench database (1,000,000
 * accounts, made by run.sh's crm import) while a writer creates accounts
 * through the object API, one durable commit each, as a server's requests
 * do. Figures: the writer's commits/s alone (the floor), then during a
 * backup through the backup API (what crm backup uses) and during VACUUM
 * INTO (the alternative it was measured against); each backup's time and
 * MB/s. Then the first backup is restored into a fresh path (store_restore)
 * and compared with the source at its snapshot: accounts are only inserted,
 * one writer commits them in id order, so the snapshot is the source's
 * accounts up to the copy's largest id and its audit trail up to the copy's
 * last audit row; every column of every such row must be equal.
 *
 *   bench_backup DB METADATA_DIR [PLUGINS_DIR]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "backup.h"
#include "bench.h"

struct writer {
	struct crm_kernel *kernel;
	atomic_bool stop;
	atomic_llong commits;
	bool failed;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct crm_ctx ctx;
	crm_ctx_init(&ctx, w->kernel, 0, "bench");
	char name[64];
	long long n = 0;
	while (!atomic_load(&w->stop)) {
		snprintf(name, sizeof(name), "Backup bench %lld", ++n);
		json_t *values = json_pack("{s:s, s:s}", "name", name, "industry", "retail");
		int64_t id;
		crm_error_reset(&ctx);
		if (object_create_id(&ctx, "account", values, &id) != CRM_OK) {
			fprintf(stderr, "bench_backup: writer: %s\n", ctx.message);
			w->failed = true;
			json_decref(values);
			break;
		}
		json_decref(values);
		atomic_fetch_add(&w->commits, 1);
	}
	crm_ctx_clear(&ctx);
	return NULL;
}

/* Commits/s of the writer over the span of fn (or of seconds when fn is NULL). */
static double writer_rate(struct writer *w, double seconds, int (*fn)(void *), void *arg, double *elapsed)
{
	long long before = atomic_load(&w->commits);
	double start = now_s();
	if (fn) {
		if (fn(arg) != CRM_OK)
			exit(1);
	} else {
		usleep((useconds_t)(seconds * 1e6));
	}
	*elapsed = now_s() - start;
	return (double)(atomic_load(&w->commits) - before) / *elapsed;
}

struct backup_job {
	const char *db, *file;
	struct store_backup_options options;
	struct store_backup_stats stats;
};

static int run_backup(void *arg)
{
	struct backup_job *job = arg;
	char err[700];
	int code = store_backup(job->db, job->file, &job->options, &job->stats, err, sizeof(err));
	if (code != CRM_OK)
		fprintf(stderr, "bench_backup: %s\n", err);
	return code;
}

/* Steps the same query over two databases and counts rows and rows that differ in any column. */
static void compare(sqlite3 *a, sqlite3 *b, const char *sql, int64_t bound, int64_t *rows, int64_t *differ)
{
	sqlite3_stmt *x, *y;
	*rows = *differ = 0;
	if (sqlite3_prepare_v2(a, sql, -1, &x, NULL) != SQLITE_OK || sqlite3_prepare_v2(b, sql, -1, &y, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_backup: %s: %s / %s\n", sql, sqlite3_errmsg(a), sqlite3_errmsg(b));
		exit(1);
	}
	sqlite3_bind_int64(x, 1, bound);
	sqlite3_bind_int64(y, 1, bound);
	for (;;) {
		int rx = sqlite3_step(x), ry = sqlite3_step(y);
		if (rx != SQLITE_ROW || ry != SQLITE_ROW) {
			if (rx != ry)
				(*differ)++;   /* one side has rows the other lacks */
			break;
		}
		(*rows)++;
		int n = sqlite3_column_count(x);
		bool same = n == sqlite3_column_count(y);
		for (int i = 0; same && i < n; i++) {
			int t = sqlite3_column_type(x, i);
			if (t != sqlite3_column_type(y, i)) {
				same = false;
				break;
			}
			const void *p = sqlite3_column_blob(x, i), *q = sqlite3_column_blob(y, i);
			int lp = sqlite3_column_bytes(x, i), lq = sqlite3_column_bytes(y, i);
			same = lp == lq && (lp == 0 || memcmp(p, q, (size_t)lp) == 0);
		}
		if (!same)
			(*differ)++;
	}
	sqlite3_finalize(x);
	sqlite3_finalize(y);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: bench_backup DB METADATA_DIR [PLUGINS_DIR]\n");
		return 2;
	}
	const char *db = argv[1];
	char api_file[512], vacuum_file[512], restored[512], err[700];
	snprintf(api_file, sizeof(api_file), "%s.backup-api", db);
	snprintf(vacuum_file, sizeof(vacuum_file), "%s.backup-vacuum", db);
	snprintf(restored, sizeof(restored), "%s.restored", db);
	bench_remove_db(api_file);
	bench_remove_db(vacuum_file);
	bench_remove_db(restored);
	struct kernel_options options = { .db_path = db, .metadata_dir = argv[2],
	                                  .plugins_dir = argc > 3 ? argv[3] : "plugins", .migrate = true,
	                                  .server = true, .log = stderr };
	struct writer w = { 0 };
	if (kernel_open(&options, &w.kernel) != CRM_OK)
		return 1;
	pthread_t thread;
	pthread_create(&thread, NULL, writer_main, &w);
	double t;
	sleep(1);   /* warm */
	double alone = writer_rate(&w, 5, NULL, NULL, &t);
	struct backup_job api = { .db = db, .file = api_file };
	double during_api = writer_rate(&w, 0, run_backup, &api, &t);
	struct backup_job vacuum = { .db = db, .file = vacuum_file, .options = { .vacuum = true } };
	double during_vacuum = writer_rate(&w, 0, run_backup, &vacuum, &t);
	double after = writer_rate(&w, 3, NULL, NULL, &t);
	atomic_store(&w.stop, true);
	pthread_join(thread, NULL);
	kernel_close(w.kernel);
	if (w.failed)
		return 1;
	double mb = 1024.0 * 1024.0;
	printf("writer alone (object API creates, one fsync'd commit each)  %8.0f commits/s (%.0f after the backups)\n",
	       alone, after);
	printf("backup API (crm backup): %7.1f s  %6.1f MB/s  %6.0f MB  writer %6.0f commits/s (%.0f%% of alone)\n",
	       api.stats.seconds, (double)api.stats.bytes / mb / api.stats.seconds, (double)api.stats.bytes / mb,
	       during_api, 100 * during_api / alone);
	printf("VACUUM INTO:             %7.1f s  %6.1f MB/s  %6.0f MB  writer %6.0f commits/s (%.0f%% of alone)\n",
	       vacuum.stats.seconds, (double)vacuum.stats.bytes / mb / vacuum.stats.seconds,
	       (double)vacuum.stats.bytes / mb, during_vacuum, 100 * during_vacuum / alone);
	double start = now_s();
	if (store_restore(api_file, restored, err, sizeof(err)) != CRM_OK) {
		fprintf(stderr, "bench_backup: restore: %s\n", err);
		return 1;
	}
	double restore_s = now_s() - start;
	sqlite3 *src, *copy;
	if (sqlite3_open_v2(db, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK
	    || sqlite3_open_v2(restored, &copy, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_backup: cannot open the databases to compare\n");
		return 1;
	}
	int64_t max_id = bench_scalar(copy, "SELECT max(id) FROM account");
	int64_t source_total = bench_scalar(src, "SELECT count(*) FROM account");
	int64_t rows, differ, audit_rows, audit_differ;
	compare(src, copy, "SELECT * FROM account WHERE id <= ?1 ORDER BY id", max_id, &rows, &differ);
	compare(src, copy, "SELECT * FROM _crm_audit WHERE id <= ?1 ORDER BY id", api.stats.audit_id, &audit_rows,
	        &audit_differ);
	int64_t beyond = bench_scalar(copy, "SELECT count(*) FROM _crm_audit") - audit_rows;
	printf("restore: %.1f s; restored copy vs the source at the snapshot: %lld accounts (source now %lld), "
	       "%lld differ; %lld audit rows, %lld differ, %lld beyond the snapshot  %s\n",
	       restore_s, (long long)rows, (long long)source_total, (long long)differ, (long long)audit_rows,
	       (long long)audit_differ, (long long)beyond,
	       differ == 0 && audit_differ == 0 && beyond == 0 && rows > 0 && source_total > rows ? "EQUAL" : "DIFFERENT");
	sqlite3_close(src);
	sqlite3_close(copy);
	bench_remove_db(api_file);
	bench_remove_db(vacuum_file);
	bench_remove_db(restored);
	char lock[530];
	snprintf(lock, sizeof(lock), "%s.lock", restored);
	unlink(lock);
	return differ == 0 && audit_differ == 0 && beyond == 0 ? 0 : 1;
}
