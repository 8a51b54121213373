/*
 * bench_conflict.c - the channel package's deal registration conflict check at
 * scale: a partner user's submit (workflow_fire "submit": the after_transition
 * hook normalises nothing more, matches the account by its normalised name,
 * probes other registrations by company key, account and e-mail domain, the
 * account's open opportunities and its primary coverage, moves a conflict on
 * to `conflict`, writes conflict_with and notifies the channel manager), one
 * committed transaction per submit, over 100,000 accounts and 100,000
 * registrations; beside the floor: the same index probes as raw prepared
 * statements, on the same database in the same run. p50 and p99 of each.
 *
 *   bench_conflict METADATA_DIR PLUGINS_DIR [ACCOUNTS [SUBMITS]]   (default 100,000 and 2,000)
 *
 * Accounts, registrations and opportunities are written raw (their keys as
 * channel.lua computes them: "Company 0000042 GmbH" is company0000042); the
 * registrations the bench submits are created through the object API. Half of
 * them name an existing account in another spelling ("COMPANY 0000042
 * LIMITED"), which the other partner's live registration or open deal
 * holds for most of them (a conflict); the other half are new companies. The query plan of the account
 * lookup is checked to use the name_key index (never a scan).
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

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_conflict: %s: %s\n", sql, sqlite3_errmsg(db));
		exit(1);
	}
	return st;
}

static void step_done(sqlite3 *db, sqlite3_stmt *st)
{
	if (sqlite3_step(st) != SQLITE_DONE) {
		fprintf(stderr, "bench_conflict: %s\n", sqlite3_errmsg(db));
		exit(1);
	}
	sqlite3_reset(st);
}

static int compare(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double percentile(double *v, int n, double p)
{
	qsort(v, n, sizeof(*v), compare);
	int i = (int)(p * (n - 1) + 0.5);
	return v[i];
}

static const char *const states[] = { "approved", "submitted", "converted", "rejected", "expired", "draft" };

/* whether a registration of account i's company conflicts: partner B's live registration or open deal holds it */
static bool held(int i)
{
	return i % 2 == 0 || i % 6 <= 1;
}

/* accounts "Company %07d GmbH", every other one with an open opportunity; a registration per account */
static void write_raw(sqlite3 *db, int n, int64_t partner_a, int64_t partner_b)
{
	bench_exec(db, "BEGIN");
	sqlite3_stmt *a = prepare(db, "INSERT INTO account (id, created_at, created_by, updated_at, version, name, "
	                              "industry, region, email, name_key, email_domain) VALUES (?1, '2026-01-05T00:00:00Z', "
	                              "0, '2026-01-05T00:00:00Z', 1, printf('Company %07d GmbH', ?1), 'manufacturing', "
	                              "'emea', printf('info@c%d.example', ?1), printf('company%07d', ?1), "
	                              "printf('c%d.example', ?1))");
	sqlite3_stmt *o = prepare(db, "INSERT INTO opportunity (created_at, created_by, updated_at, version, name, "
	                              "account, amount, stage, probability, close_date, partner) VALUES "
	                              "('2026-01-05T00:00:00Z', 0, '2026-01-05T00:00:00Z', 1, 'Bench deal', ?1, 1000, "
	                              "'prospecting', 10, '2027-01-01', ?2)");
	sqlite3_stmt *r = prepare(db, "INSERT INTO deal_registration (created_at, created_by, updated_at, version, number, "
	                              "partner, company, account, amount, expected_close, status, protected_until, "
	                              "company_key, email_domain, conflicted, submitted_at) VALUES "
	                              "('2026-01-05T00:00:00Z', 0, '2026-01-05T00:00:00Z', 1, printf('DR-B%07d', ?1), ?2, "
	                              "printf('Company %07d GmbH', ?1), ?1, 5000, '2027-01-01', ?3, ?4, "
	                              "printf('company%07d', ?1), printf('c%d.example', ?1), 0, '2026-01-05T00:00:00Z')");
	for (int i = 1; i <= n; i++) {
		sqlite3_bind_int(a, 1, i);
		step_done(db, a);
		if (i % 2 == 0) {
			sqlite3_bind_int(o, 1, i);
			sqlite3_bind_int64(o, 2, partner_b);
			step_done(db, o);
		}
		const char *state = states[i % 6];
		sqlite3_bind_int(r, 1, i);
		sqlite3_bind_int64(r, 2, partner_b);
		sqlite3_bind_text(r, 3, state, -1, SQLITE_STATIC);
		if (strcmp(state, "approved") == 0)
			sqlite3_bind_text(r, 4, "2099-01-01", -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(r, 4);
		step_done(db, r);
	}
	(void)partner_a;
	sqlite3_finalize(a);
	sqlite3_finalize(o);
	sqlite3_finalize(r);
	bench_exec(db, "COMMIT");
}

/* the floor: one submit's index probes as raw statements (account by key, registrations by key and by account,
 * open opportunities and primary coverage of the account) */
static double floor_probe(sqlite3_stmt **st, int i)
{
	char key[32];
	snprintf(key, sizeof(key), "company%07d", i);
	double t0 = now_s();
	int64_t account = 0;
	sqlite3_bind_text(st[0], 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st[0]) == SQLITE_ROW)
		account = sqlite3_column_int64(st[0], 0);
	sqlite3_reset(st[0]);
	sqlite3_bind_text(st[1], 1, key, -1, SQLITE_STATIC);
	while (sqlite3_step(st[1]) == SQLITE_ROW) {}
	sqlite3_reset(st[1]);
	for (int k = 2; k < 5; k++) {
		sqlite3_bind_int64(st[k], 1, account);
		while (sqlite3_step(st[k]) == SQLITE_ROW) {}
		sqlite3_reset(st[k]);
	}
	return now_s() - t0;
}

/* the channel manager, two partners and a user of the first: through the object API */
static void people(struct crm_kernel *kernel, int64_t *partner_a, int64_t *partner_b, int64_t *seller)
{
	struct crm_ctx ctx;
	crm_ctx_init(&ctx, kernel, 0, "bench");
	object_begin(&ctx);
	json_int_t manager = create(&ctx, "user", json_pack("{s:s, s:s, s:s}", "login", "bench_cm", "name", "Bench CM",
	                                                    "role", "channel_manager"));
	*partner_a = create(&ctx, "partner", json_pack("{s:s, s:I}", "name", "Bench Partner A", "channel_manager", manager));
	*partner_b = create(&ctx, "partner", json_pack("{s:s, s:I}", "name", "Bench Partner B", "channel_manager", manager));
	*seller = create(&ctx, "user", json_pack("{s:s, s:s, s:s, s:s, s:I}", "login", "bench_partner", "name",
	                                         "Bench Partner User", "role", "partner_user", "kind", "partner",
	                                         "partner", (json_int_t)*partner_a));
	if (object_commit(&ctx) != CRM_OK) {
		fprintf(stderr, "bench_conflict: %s\n", ctx.message);
		exit(1);
	}
	crm_ctx_clear(&ctx);
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 5) {
		fprintf(stderr, "usage: bench_conflict METADATA_DIR PLUGINS_DIR [ACCOUNTS [SUBMITS]]\n");
		return 2;
	}
	int n = argc >= 4 ? (int)strtol(argv[3], NULL, 10) : 100000;
	int submits = argc == 5 ? (int)strtol(argv[4], NULL, 10) : 2000;
	if (n < 2 || submits < 2 || submits > n)
		return 2;
	FILE *quiet = fopen("/dev/null", "w");
	char db[] = "/tmp/crm-bench-conflict-XXXXXX";
	bench_temp_db(db);
	struct crm_kernel *kernel = bench_open_kernel(db, argv[1], argv[2], quiet);
	int64_t partner_a, partner_b, seller;
	people(kernel, &partner_a, &partner_b, &seller);
	kernel_close(kernel);

	sqlite3 *raw;
	if (sqlite3_open(db, &raw) != SQLITE_OK)
		return 1;
	bench_exec(raw, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL");
	write_raw(raw, n, partner_a, partner_b);
	bench_exec(raw, "ANALYZE");

	/* the account lookup must be an index probe */
	sqlite3_stmt *plan = prepare(raw, "EXPLAIN QUERY PLAN SELECT id FROM account WHERE deleted_at IS NULL AND "
	                                  "name_key = 'company0000001' ORDER BY id LIMIT 5");
	bool indexed = false;
	while (sqlite3_step(plan) == SQLITE_ROW)
		indexed = indexed || strstr((const char *)sqlite3_column_text(plan, 3), "USING INDEX") != NULL;
	sqlite3_finalize(plan);
	if (!indexed) {
		fprintf(stderr, "bench_conflict: the account lookup by name_key scans\n");
		return 1;
	}

	sqlite3_stmt *probes[5] = {
		prepare(raw, "SELECT id FROM account WHERE deleted_at IS NULL AND name_key = ?1 ORDER BY id LIMIT 5"),
		prepare(raw, "SELECT id, number, partner FROM deal_registration WHERE deleted_at IS NULL AND company_key = ?1 "
		             "AND status IN ('submitted', 'conflict', 'approved') LIMIT 5"),
		prepare(raw, "SELECT id, number, partner FROM deal_registration WHERE deleted_at IS NULL AND account = ?1 "
		             "AND status IN ('submitted', 'conflict', 'approved') LIMIT 5"),
		prepare(raw, "SELECT id, name, partner FROM opportunity WHERE deleted_at IS NULL AND account = ?1 "
		             "AND stage NOT IN ('won', 'lost') LIMIT 5"),
		prepare(raw, "SELECT id, partner FROM partner_coverage WHERE deleted_at IS NULL AND account = ?1 "
		             "AND role = 'primary' LIMIT 5"),
	};
	double *floor = malloc(sizeof(double) * submits), *times = malloc(sizeof(double) * submits);
	for (int s = 0; s < submits; s++)
		floor[s] = floor_probe(probes, 1 + (int)((int64_t)s * n / submits));
	for (int k = 0; k < 5; k++)
		sqlite3_finalize(probes[k]);
	sqlite3_close(raw);

	/* the submits, as the partner user: create the draft (not timed), then submit in a transaction of its own */
	kernel = bench_open_kernel(db, argv[1], argv[2], quiet);
	struct crm_ctx ctx;
	crm_ctx_init(&ctx, kernel, seller, "bench");
	int conflicts = 0, expected = 0;
	double total0 = now_s(), cpu0 = cpu_s();
	for (int s = 0; s < submits; s++) {
		int i = 1 + (int)((int64_t)s * n / submits);
		char company[64];
		if (s % 2 == 0) {
			snprintf(company, sizeof(company), "COMPANY %07d LIMITED", i);   /* an existing account */
			expected += held(i);
		} else
			snprintf(company, sizeof(company), "Newco %07d Ltd.", i);
		int64_t id = create(&ctx, "deal_registration", json_pack("{s:s, s:i, s:s}", "company", company, "amount",
		                                                         1000 + s, "expected_close", "2027-06-30"));
		json_t *out = NULL;
		double t0 = now_s();
		crm_error_reset(&ctx);
		if (workflow_fire(&ctx, "deal_registration", id, "submit", NULL, 0, &out) != CRM_OK) {
			fprintf(stderr, "bench_conflict: submit %d: %s\n", s, ctx.message);
			return 1;
		}
		times[s] = now_s() - t0;
		const char *status = json_string_value(json_object_get(json_object_get(out, "record"), "status"));
		conflicts += status && strcmp(status, "conflict") == 0;
		json_decref(out);
	}
	double total = now_s() - total0, total_cpu = cpu_s() - cpu0;
	crm_ctx_clear(&ctx);
	kernel_close(kernel);
	if (conflicts != expected) {
		fprintf(stderr, "bench_conflict: %d conflicts of %d submits, expected %d\n", conflicts, submits, expected);
		return 1;
	}
	printf("%-66s p50 %7.3f ms  p99 %7.3f ms\n", "raw SQL: the five index probes of one check (floor)",
	       1000 * percentile(floor, submits, 0.5), 1000 * percentile(floor, submits, 0.99));
	printf("%-66s p50 %7.3f ms  p99 %7.3f ms  (%d submits, %d conflicts, %.1f s, %.1f s CPU with the drafts)\n",
	       "submit with the conflict check (workflow, hooks, commit)", 1000 * percentile(times, submits, 0.5),
	       1000 * percentile(times, submits, 0.99), submits, conflicts, total, total_cpu);
	free(floor);
	free(times);
	fclose(quiet);
	bench_remove_db(db);
	return 0;
}
