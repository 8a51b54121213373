/*
 * bench.h - the clocks and the record maker every bench shares (header-only:
 * each bench is one program linked with libcrm.a).
 */
#ifndef CRM_BENCH_H
#define CRM_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <jansson.h>
#include "crm.h"
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

#endif
