/*
 * bench.h - the clocks and the record maker every bench shares (header-only:
 * each bench is one program linked with libcrm.a).
 */
#ifndef CRM_BENCH_H
#define CRM_BENCH_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "crm.h"
#include "kernel.h"
#include "object.h"

/* Wall-clock seconds (monotonic). */
static inline double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The process's CPU time: beside the wall clock, a figure that other work on the machine does not inflate. */
static inline double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Creates a record through the object API (values are taken) and returns its id; exits on failure. */
static inline int64_t create(struct crm_ctx *ctx, const char *object, json_t *values)
{
	int64_t id = 0;
	crm_error_reset(ctx);
	if (object_create_id(ctx, object, values, &id) != CRM_OK) {
		fprintf(stderr, "bench: creating %s: %s\n", object, ctx->message);
		exit(1);
	}
	json_decref(values);
	return id;
}

/* A fresh database path from template (a mkstemp pattern, rewritten in place): the file itself is removed. */
static inline void bench_temp_db(char *template)
{
	int fd = mkstemp(template);
	if (fd < 0) {
		perror("bench: mkstemp");
		exit(1);
	}
	close(fd);
	unlink(template);
}

/* Removes a database and its WAL files. */
static inline void bench_remove_db(const char *db)
{
	char path[300];
	snprintf(path, sizeof(path), "%s-wal", db);
	unlink(path);
	snprintf(path, sizeof(path), "%s-shm", db);
	unlink(path);
	unlink(db);
}

/* Runs raw SQL; exits on failure. */
static inline void bench_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "bench: %s: %s\n", sql, err);
		exit(1);
	}
}

/* The first column of the first row of a query, or -1. */
static inline int64_t bench_scalar(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t value = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		value = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return value;
}

/* The kernel over db with the metadata and plugins given (migrated; its log to log); exits on failure. */
static inline struct crm_kernel *bench_open_kernel(const char *db, const char *metadata, const char *plugins, FILE *log)
{
	struct kernel_options options = { .db_path = db, .metadata_dir = metadata, .plugins_dir = plugins,
	                                  .migrate = true, .log = log };
	struct crm_kernel *kernel;
	if (kernel_open(&options, &kernel) != CRM_OK) {
		fprintf(stderr, "bench: cannot open the kernel over %s and %s\n", metadata, plugins ? plugins : "no plugins");
		exit(1);
	}
	return kernel;
}

#endif
