/*
 * bench_object.c - object API speed beside raw SQLite, on the same database
 * file in the same run: get by id, a filtered + sorted page of 50, and a
 * dashboard's group-by (accounts per industry: count, sum of revenue).
 *
 *   bench_object DB METADATA_DIR
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "jsonw.h"
#include "kernel.h"
#include "object.h"
#include "bench.h"

#define GETS 300000
#define QUERIES 3000

static const char *const industries[] = { "technology", "manufacturing", "financial_services", "healthcare",
                                          "retail", "automotive", "energy", "logistics" };

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static uint64_t state = 88172645463325252ULL;
static uint64_t next_random(void)
{
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return state;
}

/* Reads every column the way a real caller would. */
static void read_row(sqlite3_stmt *stmt, volatile size_t *sink)
{
	int n = sqlite3_column_count(stmt);
	for (int c = 0; c < n; c++) {
		switch (sqlite3_column_type(stmt, c)) {
		case SQLITE_INTEGER: *sink += (size_t)sqlite3_column_int64(stmt, c); break;
		case SQLITE_FLOAT: *sink += (size_t)sqlite3_column_double(stmt, c); break;
		case SQLITE_TEXT: *sink += (size_t)sqlite3_column_bytes(stmt, c); break;
		default: break;
		}
	}
}

#define REPORTS 15

/* p50 and p99 (of REPORTS) of one raw statement run to its end, CPU seconds as wall ones */
static void raw_runs(sqlite3 *raw, const char *sql, double *p50, double *p99, volatile size_t *sink)
{
	double lat[REPORTS];
	sqlite3_stmt *stmt;
	if (sqlite3_prepare_v2(raw, sql, -1, &stmt, NULL) != SQLITE_OK) {
		fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(raw));
		exit(1);
	}
	for (int i = 0; i < REPORTS; i++) {
		double s = now_s();
		while (sqlite3_step(stmt) == SQLITE_ROW)
			read_row(stmt, sink);
		sqlite3_reset(stmt);
		lat[i] = now_s() - s;
	}
	sqlite3_finalize(stmt);
	qsort(lat, REPORTS, sizeof(double), compare_double);
	*p50 = lat[REPORTS / 2];
	*p99 = lat[REPORTS - 1];
}

/*
 * A dashboard's chart: accounts per industry (an indexed enum), counted and
 * revenue summed, through object_aggregate (what GET /reports/account
 * answers with) beside the same SQL raw, and a scan of the table (NOT
 * INDEXED): what an index without deleted_at cost, the reason every index
 * ends with it (core/store/schema.c index_tail).
 */
static int report_rows(struct crm_ctx *ctx, sqlite3 *raw, volatile size_t *sink)
{
	static const char *const measures[2] = { "count", "count,sum(annual_revenue)" };
	static const char *const raw_sql[2][2] = {
		{ "SELECT industry, count(*) FROM account WHERE deleted_at IS NULL GROUP BY 1 ORDER BY 1",
		  "SELECT industry, count(*) FROM account NOT INDEXED WHERE deleted_at IS NULL GROUP BY 1 ORDER BY 1" },
		{ "SELECT industry, count(*), sum(annual_revenue) FROM account WHERE deleted_at IS NULL GROUP BY 1 ORDER BY 1",
		  "SELECT industry, count(*), sum(annual_revenue) FROM account NOT INDEXED WHERE deleted_at IS NULL "
		  "GROUP BY 1 ORDER BY 1" },
	};
	printf("%-34s %14s %14s %14s\n", "report by industry (p50 / p99)", "crm", "raw SQL", "table scan");
	for (int m = 0; m < 2; m++) {
		double lat[REPORTS], cpu_total = 0;
		for (int i = 0; i < REPORTS; i++) {
			json_t *rows = NULL;
			double s = now_s(), c = cpu_s();
			if (object_aggregate(ctx, "account", "industry", measures[m], NULL, &rows) != CRM_OK) {
				fprintf(stderr, "report failed: %s\n", ctx->message);
				return 1;
			}
			lat[i] = now_s() - s;
			cpu_total += cpu_s() - c;
			*sink += json_array_size(rows);
			json_decref(rows);
		}
		qsort(lat, REPORTS, sizeof(double), compare_double);
		double raw50, raw99, scan50, scan99;
		raw_runs(raw, raw_sql[m][0], &raw50, &raw99, sink);
		raw_runs(raw, raw_sql[m][1], &scan50, &scan99, sink);
		printf("%-34s %6.1f/%5.1fms %6.1f/%5.1fms %6.0f/%5.0fms  (crm CPU %.1f ms a report)\n", measures[m],
		       lat[REPORTS / 2] * 1e3, lat[REPORTS - 1] * 1e3, raw50 * 1e3, raw99 * 1e3, scan50 * 1e3,
		       scan99 * 1e3, cpu_total / REPORTS * 1e3);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: bench_object DB METADATA_DIR\n");
		return 2;
	}
	struct kernel_options options = { .db_path = argv[1], .metadata_dir = argv[2], .plugins_dir = "plugins" };
	struct crm_kernel *kernel;
	if (kernel_open(&options, &kernel) != CRM_OK)
		return 1;
	struct crm_ctx ctx;
	crm_ctx_init(&ctx, kernel, 0, "bench");
	int64_t max_id = 0;
	object_count(&ctx, "account", NULL, &max_id);
	if (max_id < 1000) {
		fprintf(stderr, "bench_object: too few accounts (%lld)\n", (long long)max_id);
		return 1;
	}
	sqlite3 *raw;
	sqlite3_open_v2(argv[1], &raw, SQLITE_OPEN_READONLY, NULL);
	volatile size_t sink = 0;

	/* get by id: raw prepared point select */
	sqlite3_stmt *get;
	sqlite3_prepare_v2(raw, "SELECT * FROM account WHERE id = ?1 AND deleted_at IS NULL", -1, &get, NULL);
	state = 42;
	double t0 = now_s();
	for (int i = 0; i < GETS; i++) {
		sqlite3_bind_int64(get, 1, (int64_t)(next_random() % (uint64_t)max_id) + 1);
		if (sqlite3_step(get) == SQLITE_ROW)
			read_row(get, &sink);
		sqlite3_reset(get);
	}
	double raw_get = GETS / (now_s() - t0);
	state = 42;
	t0 = now_s();
	for (int i = 0; i < GETS; i++) {
		json_t *r = NULL;
		if (object_get(&ctx, "account", (int64_t)(next_random() % (uint64_t)max_id) + 1, false, &r) == CRM_OK) {
			sink += json_object_size(r);
			json_decref(r);
		}
	}
	double api_get = GETS / (now_s() - t0);

	/* filtered + sorted page of 50 */
	double *raw_lat = malloc(QUERIES * sizeof(double)), *api_lat = malloc(QUERIES * sizeof(double));
	sqlite3_stmt *list;
	sqlite3_prepare_v2(raw, "SELECT * FROM account WHERE deleted_at IS NULL AND industry = ?1 AND annual_revenue > ?2 "
	                   "ORDER BY annual_revenue DESC, id DESC LIMIT 51", -1, &list, NULL);
	double raw_total = 0, api_total = 0;
	for (int i = 0; i < QUERIES; i++) {
		const char *industry = industries[i % 8];
		double min = (double)(i % 10) * 100000;
		/* a first, untimed run brings the pages in: every variant below then reads a warm cache */
		sqlite3_bind_text(list, 1, industry, -1, SQLITE_STATIC);
		sqlite3_bind_double(list, 2, min);
		while (sqlite3_step(list) == SQLITE_ROW)
			read_row(list, &sink);
		sqlite3_reset(list);
		double s = now_s();
		sqlite3_bind_text(list, 1, industry, -1, SQLITE_STATIC);
		sqlite3_bind_double(list, 2, min);
		while (sqlite3_step(list) == SQLITE_ROW)
			read_row(list, &sink);
		sqlite3_reset(list);
		raw_lat[i] = now_s() - s;
		raw_total += raw_lat[i];

		char filter[160];
		snprintf(filter, sizeof(filter), "industry = '%s' and annual_revenue > %g", industry, min);
		struct object_query q = { .filter = filter, .sort = "-annual_revenue", .limit = 50 };
		s = now_s();
		json_t *page = NULL;
		if (object_query(&ctx, "account", &q, &page) != CRM_OK) {
			fprintf(stderr, "query failed: %s\n", ctx.message);
			return 1;
		}
		sink += json_array_size(json_object_get(page, "records"));
		json_decref(page);
		api_lat[i] = now_s() - s;
		api_total += api_lat[i];
	}
	/* the same pages as JSON text (object_query_text: what the REST list answers with) */
	double text_total = 0;
	struct jsonw text = { 0 };
	for (int i = 0; i < QUERIES; i++) {
		char filter[160];
		snprintf(filter, sizeof(filter), "industry = '%s' and annual_revenue > %g", industries[i % 8],
		         (double)(i % 10) * 100000);
		struct object_query q = { .filter = filter, .sort = "-annual_revenue", .limit = 50 };
		double s = now_s();
		text.len = 0;
		if (object_query_text(&ctx, "account", &q, &text) != CRM_OK) {
			fprintf(stderr, "query failed: %s\n", ctx.message);
			return 1;
		}
		sink += text.len;
		text_total += now_s() - s;
	}
	jsonw_free(&text);
	qsort(raw_lat, QUERIES, sizeof(double), compare_double);
	qsort(api_lat, QUERIES, sizeof(double), compare_double);
	printf("%-34s %14s %14s %8s\n", "object API (1 thread)", "crm", "raw SQLite", "ratio");
	printf("%-34s %12.0f/s %12.0f/s %7.0f%%\n", "get by id", api_get, raw_get, 100 * api_get / raw_get);
	printf("%-34s %12.0f/s %12.0f/s %7.0f%%\n", "filtered+sorted list of 50", QUERIES / api_total,
	       QUERIES / raw_total, 100 * raw_total / api_total);
	printf("%-34s %12.0f/s %12.0f/s %7.0f%%\n", "  the same, as JSON text", QUERIES / text_total,
	       QUERIES / raw_total, 100 * raw_total / text_total);
	printf("%-34s %12.3fms %12.3fms\n", "  list p50", api_lat[QUERIES / 2] * 1e3, raw_lat[QUERIES / 2] * 1e3);
	printf("%-34s %12.3fms %12.3fms\n", "  list p99", api_lat[QUERIES * 99 / 100] * 1e3,
	       raw_lat[QUERIES * 99 / 100] * 1e3);
	if (report_rows(&ctx, raw, &sink) != 0)
		return 1;
	printf("(%zu)\n", (size_t)(sink & 1));
	free(raw_lat);
	free(api_lat);
	sqlite3_finalize(get);
	sqlite3_finalize(list);
	sqlite3_close(raw);
	crm_ctx_clear(&ctx);
	kernel_close(kernel);
	return 0;
}
