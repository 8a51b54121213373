/*
 * bench_sla.c - the SLA breach timer sweep of the service package over open
 * cases whose resolution is past due, beside the raw SQL of the same work,
 * on the same database in the same run.
 *
 *   bench_sla METADATA_DIR PLUGINS_DIR [CASES]     (default 100,000 cases)
 *
 * The cases (and their two milestones each) are written raw. The sweep is
 * `crm timer case_flow sla_breach` (workflow_timer_run): per case, in a
 * transaction of its own, the timer's `set: { breached: true }`, the owner's
 * manager notified and service.sla_breach (sla.lua: the resolution
 * milestone violated, the case escalated to the policy's tier and re-queued),
 * audited, with the plugin's hooks. The L2 queue has no team, so the sweep
 * re-queues without picking an owner (that pick counts each team member's
 * open cases). The floor: select the due cases and set their flag, in one
 * transaction of raw prepared statements. Cases per second of each, by the
 * wall clock and by the process's CPU time (one durable commit per case: the
 * wall clock follows the disk's fsync and the machine's load).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "kernel.h"
#include "object.h"
#include "workflow.h"
#include "bench.h"

#define AGENTS 4
#define SWEEP_AT 1767603600   /* 2026-01-05T09:00:00Z, the cases' resolution due */

/* N open cases past due, owned by the agents, with a running resolution and a met first-response milestone. */
static void write_cases(sqlite3 *db, int cases, int64_t policy, const int64_t *agents)
{
	sqlite3_stmt *c, *m;
	bench_exec(db, "BEGIN");
	if (sqlite3_prepare_v2(db, "INSERT INTO \"case\" (id, created_at, created_by, updated_at, owner, version, number, "
	                           "subject, status, priority, tier, skill, channel, opened_at, sla_policy, "
	                           "first_response_due, resolution_due, warn_at, first_responded_at, sla_paused_minutes, "
	                           "warned, breached, first_response_breached, chargeable) VALUES (?1, "
	                           "'2026-01-05T00:00:00Z', 0, '2026-01-05T01:00:00Z', ?2, 1, printf('CASE-%05d', ?1), "
	                           "'Bench case', ?3, 'high', 'l1', 'general', 'phone', '2026-01-05T01:00:00Z', ?4, "
	                           "'2026-01-05T02:00:00Z', '2026-01-05T09:00:00Z', '2026-01-05T08:00:00Z', "
	                           "'2026-01-05T01:30:00Z', 0, 1, 0, 0, 0)", -1, &c, NULL) != SQLITE_OK
	    || sqlite3_prepare_v2(db, "INSERT INTO case_milestone (created_at, created_by, updated_at, version, \"case\", "
	                              "policy, kind, tier, started_at, due_at, paused_minutes, completed_at, status) VALUES "
	                              "('2026-01-05T00:00:00Z', 0, '2026-01-05T00:00:00Z', 1, ?1, ?2, ?3, 'l1', "
	                              "'2026-01-05T01:00:00Z', ?4, 0, ?5, ?6)", -1, &m, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_sla: %s\n", sqlite3_errmsg(db));
		exit(1);
	}
	for (int i = 1; i <= cases; i++) {
		sqlite3_bind_int(c, 1, i);
		sqlite3_bind_int64(c, 2, agents[i % AGENTS]);
		sqlite3_bind_text(c, 3, i % 3 ? "open" : "new", -1, SQLITE_STATIC);
		sqlite3_bind_int64(c, 4, policy);
		if (sqlite3_step(c) != SQLITE_DONE) {
			fprintf(stderr, "bench_sla: case %d: %s\n", i, sqlite3_errmsg(db));
			exit(1);
		}
		sqlite3_reset(c);
		for (int k = 0; k < 2; k++) {
			sqlite3_bind_int(m, 1, i);
			sqlite3_bind_int64(m, 2, policy);
			sqlite3_bind_text(m, 3, k ? "resolution" : "first_response", -1, SQLITE_STATIC);
			sqlite3_bind_text(m, 4, k ? "2026-01-05T09:00:00Z" : "2026-01-05T02:00:00Z", -1, SQLITE_STATIC);
			if (k)
				sqlite3_bind_null(m, 5);
			else
				sqlite3_bind_text(m, 5, "2026-01-05T01:30:00Z", -1, SQLITE_STATIC);
			sqlite3_bind_text(m, 6, k ? "running" : "met", -1, SQLITE_STATIC);
			if (sqlite3_step(m) != SQLITE_DONE) {
				fprintf(stderr, "bench_sla: milestone %d: %s\n", i, sqlite3_errmsg(db));
				exit(1);
			}
			sqlite3_reset(m);
		}
	}
	sqlite3_finalize(c);
	sqlite3_finalize(m);
	bench_exec(db, "COMMIT");
}

/* The floor: the due cases selected and flagged in one transaction of raw statements. */
static int floor_sweep(sqlite3 *db)
{
	sqlite3_stmt *select, *update;
	int done = 0;
	bench_exec(db, "BEGIN IMMEDIATE");
	if (sqlite3_prepare_v2(db, "SELECT id FROM \"case\" WHERE deleted_at IS NULL AND status IN ('new', 'open') "
	                           "AND breached = 0 AND resolution_due IS NOT NULL AND resolution_due <= ?1 ORDER BY id",
	                       -1, &select, NULL) != SQLITE_OK
	    || sqlite3_prepare_v2(db, "UPDATE \"case\" SET breached = 1, updated_at = ?2, version = version + 1 "
	                              "WHERE id = ?1", -1, &update, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_sla: %s\n", sqlite3_errmsg(db));
		exit(1);
	}
	sqlite3_bind_text(select, 1, "2026-01-05T09:00:00Z", -1, SQLITE_STATIC);
	while (sqlite3_step(select) == SQLITE_ROW) {
		sqlite3_bind_int64(update, 1, sqlite3_column_int64(select, 0));
		sqlite3_bind_text(update, 2, "2026-01-05T09:00:00Z", -1, SQLITE_STATIC);
		if (sqlite3_step(update) != SQLITE_DONE)
			exit(1);
		sqlite3_reset(update);
		done++;
	}
	sqlite3_finalize(select);
	sqlite3_finalize(update);
	bench_exec(db, "COMMIT");
	return done;
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: bench_sla METADATA_DIR PLUGINS_DIR [CASES]\n");
		return 2;
	}
	int cases = argc == 4 ? (int)strtol(argv[3], NULL, 10) : 100000;
	if (cases < 1)
		return 2;
	char db[] = "/tmp/crm-bench-sla-XXXXXX";
	bench_temp_path(db);
	FILE *quiet = fopen("/dev/null", "w");

	/* the package's records through the object API: a manager, agents, the L2 queue, the policy */
	struct crm_kernel *kernel = bench_open_kernel(db, argv[1], argv[2], quiet);
	struct crm_ctx ctx;
	crm_ctx_init(&ctx, kernel, 0, "bench");
	object_begin(&ctx);
	int64_t manager = create(&ctx, "user", json_pack("{s:s, s:s, s:s}", "login", "bench_mgr", "name", "Bench Manager",
	                                                 "role", "service_manager"));
	int64_t agents[AGENTS];
	for (int i = 0; i < AGENTS; i++) {
		char login[32];
		snprintf(login, sizeof(login), "bench_agent%d", i);
		agents[i] = create(&ctx, "user", json_pack("{s:s, s:s, s:s, s:I}", "login", login, "name", login, "role",
		                                           "service_agent", "manager", (json_int_t)manager));
	}
	create(&ctx, "service_queue", json_pack("{s:s, s:s, s:s}", "name", "Bench L2", "tier", "l2", "skill", "general"));
	int64_t policy = create(&ctx, "sla_policy", json_pack("{s:s, s:s, s:i, s:i, s:s}", "name", "Bench Gold",
	                                                      "calendar", "cn_office", "first_response_minutes", 60,
	                                                      "resolution_minutes", 480, "escalate_to_tier", "l2"));
	if (object_commit(&ctx) != CRM_OK)
		return 1;
	crm_ctx_clear(&ctx);
	kernel_close(kernel);

	sqlite3 *raw;
	if (sqlite3_open(db, &raw) != SQLITE_OK)
		return 1;
	bench_exec(raw, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON");
	write_cases(raw, cases, policy, agents);

	double t0 = now_s(), c0 = cpu_s();
	int flagged = floor_sweep(raw);
	double floor = now_s() - t0, floor_cpu = cpu_s() - c0;
	bench_exec(raw, "UPDATE \"case\" SET breached = 0");
	sqlite3_close(raw);

	kernel = bench_open_kernel(db, argv[1], argv[2], quiet);
	crm_ctx_init(&ctx, kernel, 0, "bench");
	int64_t touched = 0;
	t0 = now_s();
	c0 = cpu_s();
	if (workflow_timer_run(&ctx, "case_flow", "sla_breach", (time_t)SWEEP_AT, &touched) != CRM_OK) {
		fprintf(stderr, "bench_sla: the sweep: %s\n", ctx.message);
		return 1;
	}
	double sweep = now_s() - t0, sweep_cpu = cpu_s() - c0;
	crm_ctx_clear(&ctx);
	kernel_close(kernel);

	sqlite3_open(db, &raw);
	int64_t breached = bench_scalar(raw, "SELECT count(*) FROM \"case\" WHERE breached = 1 AND tier = 'l2'");
	int64_t violated = bench_scalar(raw, "SELECT count(*) FROM case_milestone WHERE kind = 'resolution' AND status = 'violated'");
	int64_t notes = bench_scalar(raw, "SELECT count(*) FROM notification");
	sqlite3_close(raw);
	if (flagged != cases || touched != cases || breached != cases || violated != cases || notes != cases) {
		fprintf(stderr, "bench_sla: %d cases: floor flagged %d, sweep %lld (breached %lld, violated %lld, "
		        "notified %lld)\n", cases, flagged, (long long)touched, (long long)breached, (long long)violated,
		        (long long)notes);
		return 1;
	}
	printf("%-60s %9.0f cases/s  (%.2f s, %.2f s CPU)\n",
	       "raw SQL: select the due cases, set the flag, one transaction (floor)", cases / floor, floor, floor_cpu);
	printf("%-60s %9.0f cases/s  (%.1f s, %.1f s CPU: %.0f cases/s of CPU; %.1f%% of the floor)\n",
	       "sla_breach timer: flag, notify, violate, escalate, re-queue", cases / sweep, sweep, sweep_cpu,
	       cases / sweep_cpu, 100 * floor / sweep);
	fclose(quiet);
	bench_remove_db(db);
	return 0;
}
