/*
 * bench_report.c - a report across objects beside the hand-written SQL of the
 * same figures, on the same database in the same run: won revenue per
 * campaign through its members, their leads and the opportunities those
 * became (report campaign_won of tests/api/report/campaign.yaml).
 *
 *   bench_report DB METADATA_DIR      (DB migrated and empty: it is filled here)
 *
 * 100 campaigns, 150,000 members, 100,000 leads, 100,000 opportunities. The
 * floor is the faster of two hand-written queries: the same IN chain the
 * report compiles to, and a DISTINCT join a person might write instead. The
 * report runs as the system (no row rules: the floor has none) and the two
 * must give the same figures.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "kernel.h"
#include "report.h"
#include "bench.h"

#define CAMPAIGNS 100
#define OPPORTUNITIES 100000
#define LEADS 100000
#define MEMBERS 150000
#define RUNS 15

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct timing {
	double wall, cpu;   /* medians, seconds */
};

static struct timing medians(double *wall, double *cpu)
{
	qsort(wall, RUNS, sizeof(double), compare_double);
	qsort(cpu, RUNS, sizeof(double), compare_double);
	return (struct timing){ wall[RUNS / 2], cpu[RUNS / 2] };
}

static uint64_t state = 88172645463325252ULL;
static uint64_t next_random(void)
{
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return state;
}

static int exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "bench_report: %s: %s\n", sql, err);
		sqlite3_free(err);
		return 1;
	}
	return 0;
}

/* Campaigns, opportunities (a third won), leads (two in three converted, some into the same deal), members. */
static int fill(sqlite3 *db)
{
	if (exec(db, "BEGIN"))
		return 1;
	sqlite3_stmt *stmt;
	const char *now = "2026-12-01T00:00:00Z";
	sqlite3_prepare_v2(db, "INSERT INTO campaign (id, created_at, updated_at, version, name, kind) VALUES (?1, ?2, ?2, 1, "
	                   "'Campaign ' || ?1, 'email')", -1, &stmt, NULL);
	for (int i = 1; i <= CAMPAIGNS; i++) {
		sqlite3_bind_int(stmt, 1, i);
		sqlite3_bind_text(stmt, 2, now, -1, SQLITE_STATIC);
		sqlite3_step(stmt);
		sqlite3_reset(stmt);
	}
	sqlite3_finalize(stmt);
	static const char *const stages[] = { "won", "lost", "prospecting", "proposal", "won", "negotiation" };
	sqlite3_prepare_v2(db, "INSERT INTO opportunity (id, created_at, updated_at, version, name, amount, stage, close_date) "
	                   "VALUES (?1, ?2, ?2, 1, 'Deal ' || ?1, ?3, ?4, '2026-06-30')", -1, &stmt, NULL);
	for (int i = 1; i <= OPPORTUNITIES; i++) {
		sqlite3_bind_int(stmt, 1, i);
		sqlite3_bind_text(stmt, 2, now, -1, SQLITE_STATIC);
		sqlite3_bind_double(stmt, 3, (double)(next_random() % 10000000) / 100);
		sqlite3_bind_text(stmt, 4, stages[next_random() % 6], -1, SQLITE_STATIC);
		sqlite3_step(stmt);
		sqlite3_reset(stmt);
	}
	sqlite3_finalize(stmt);
	sqlite3_prepare_v2(db, "INSERT INTO lead (id, created_at, updated_at, version, last_name, company, status, "
	                   "converted_opportunity) VALUES (?1, ?2, ?2, 1, 'Lead ' || ?1, 'Company', 'qualified', ?3)", -1,
	                   &stmt, NULL);
	for (int i = 1; i <= LEADS; i++) {
		sqlite3_bind_int(stmt, 1, i);
		sqlite3_bind_text(stmt, 2, now, -1, SQLITE_STATIC);
		if (i % 3)
			sqlite3_bind_int64(stmt, 3, (int64_t)(next_random() % OPPORTUNITIES) + 1);
		else
			sqlite3_bind_null(stmt, 3);
		sqlite3_step(stmt);
		sqlite3_reset(stmt);
	}
	sqlite3_finalize(stmt);
	sqlite3_prepare_v2(db, "INSERT INTO campaign_member (id, created_at, updated_at, version, campaign, lead, status) "
	                   "VALUES (?1, ?2, ?2, 1, ?3, ?4, 'sent')", -1, &stmt, NULL);
	for (int i = 1; i <= MEMBERS; i++) {
		sqlite3_bind_int(stmt, 1, i);
		sqlite3_bind_text(stmt, 2, now, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 3, (int64_t)(next_random() % CAMPAIGNS) + 1);
		sqlite3_bind_int64(stmt, 4, (int64_t)(next_random() % LEADS) + 1);
		sqlite3_step(stmt);
		sqlite3_reset(stmt);
	}
	sqlite3_finalize(stmt);
	return exec(db, "COMMIT") || exec(db, "ANALYZE");
}

/* Runs sql RUNS times; out[campaign] the figures of the last run; returns the median times. */
static struct timing time_raw(sqlite3 *db, const char *sql, double *out)
{
	double wall[RUNS], cpu[RUNS];
	sqlite3_stmt *stmt;
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_report: %s\n", sqlite3_errmsg(db));
		exit(1);
	}
	for (int r = -1; r < RUNS; r++) {   /* run -1 warms the cache, untimed */
		double start = now_s(), start_cpu = cpu_s();
		while (sqlite3_step(stmt) == SQLITE_ROW) {
			int campaign = sqlite3_column_int(stmt, 0);
			if (campaign >= 1 && campaign <= CAMPAIGNS)
				out[campaign] = sqlite3_column_double(stmt, 1);
		}
		sqlite3_reset(stmt);
		if (r >= 0) {
			wall[r] = now_s() - start;
			cpu[r] = cpu_s() - start_cpu;
		}
	}
	sqlite3_finalize(stmt);
	return medians(wall, cpu);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: bench_report DB METADATA_DIR\n");
		return 2;
	}
	sqlite3 *raw;
	if (sqlite3_open(argv[1], &raw) != SQLITE_OK || fill(raw) || exec(raw, "PRAGMA cache_size=-8192"))
		return 1;   /* the page cache of the kernel's readers (store.c), for a like-for-like floor */
	/* no deadline to speak of: a busy machine must slow the figures, not stop the query */
	struct kernel_options options = { .db_path = argv[1], .metadata_dir = argv[2], .plugins_dir = "plugins",
	                                  .query_time_ms = 600000 };
	struct crm_kernel *kernel;
	if (kernel_open(&options, &kernel) != CRM_OK)
		return 1;
	struct crm_ctx ctx;
	crm_ctx_init(&ctx, kernel, 0, "bench");

	static double by_report[CAMPAIGNS + 1], by_in[CAMPAIGNS + 1], by_join[CAMPAIGNS + 1];
	double wall[RUNS], cpu[RUNS];
	json_t *params = json_object();
	for (int r = -1; r < RUNS; r++) {   /* run -1 warms the cache, untimed */
		json_t *out = NULL;
		double start = now_s(), start_cpu = cpu_s();
		if (report_run(&ctx, "campaign_won", params, &out) != CRM_OK) {
			fprintf(stderr, "bench_report: %s\n", ctx.message);
			return 1;
		}
		if (r >= 0) {
			wall[r] = now_s() - start;
			cpu[r] = cpu_s() - start_cpu;
		}
		size_t i;
		json_t *row;
		json_array_foreach(json_object_get(out, "rows"), i, row) {
			json_int_t id = json_integer_value(json_object_get(row, "id"));
			if (id >= 1 && id <= CAMPAIGNS)
				by_report[id] = json_number_value(json_object_get(row, "won_amount"));
		}
		json_decref(out);
	}
	json_decref(params);
	struct timing report = medians(wall, cpu);
	struct timing in = time_raw(raw,
		"SELECT c.id, (SELECT coalesce(sum(o.amount), 0) FROM opportunity o WHERE o.deleted_at IS NULL AND o.stage = "
		"'won' AND o.id IN (SELECT l.converted_opportunity FROM lead l WHERE l.deleted_at IS NULL AND l.id IN (SELECT "
		"m.lead FROM campaign_member m WHERE m.deleted_at IS NULL AND m.campaign = c.id))) FROM campaign c WHERE "
		"c.deleted_at IS NULL ORDER BY c.id", by_in);
	struct timing join = time_raw(raw,
		"SELECT x.campaign, sum(o.amount) FROM (SELECT DISTINCT m.campaign, l.converted_opportunity AS opportunity "
		"FROM campaign_member m JOIN lead l ON l.id = m.lead AND l.deleted_at IS NULL WHERE m.deleted_at IS NULL) x "
		"JOIN opportunity o ON o.id = x.opportunity AND o.deleted_at IS NULL AND o.stage = 'won' GROUP BY x.campaign",
		by_join);
	for (int c = 1; c <= CAMPAIGNS; c++) {
		if (fabs(by_report[c] - by_in[c]) > 0.01 || fabs(by_in[c] - by_join[c]) > 0.01) {
			fprintf(stderr, "bench_report: campaign %d: report %.2f, IN %.2f, join %.2f\n", c, by_report[c], by_in[c],
			        by_join[c]);
			return 1;
		}
	}
	struct timing floor = in.cpu < join.cpu ? in : join;
	printf("%d campaigns, %d members, %d leads, %d opportunities; median of %d runs (wall clock, CPU)\n", CAMPAIGNS,
	       MEMBERS, LEADS, OPPORTUNITIES, RUNS);
	printf("report campaign_won (object API)  %8.1f ms  %8.1f ms CPU\n", report.wall * 1000, report.cpu * 1000);
	printf("raw SQL, IN chain                 %8.1f ms  %8.1f ms CPU\n", in.wall * 1000, in.cpu * 1000);
	printf("raw SQL, DISTINCT join            %8.1f ms  %8.1f ms CPU\n", join.wall * 1000, join.cpu * 1000);
	printf("report / faster raw SQL           %8.2fx   %8.2fx CPU\n", report.wall / floor.wall, report.cpu / floor.cpu);
	kernel_close(kernel);
	sqlite3_close(raw);
	return 0;
}
