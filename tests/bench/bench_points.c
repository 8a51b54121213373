/*
 * bench_points.c - the membership package's points ledger (plugins/membership)
 * beside the raw inserts of the same rows, on the same database in the same run.
 *
 *   bench_points METADATA_DIR PLUGINS_DIR [MEMBERS] [LEDGER_ROWS]
 *                                       (default 100,000 members, 1,000,000 rows)
 *
 * 1. One member: earns (a held earn entry through the object API, one durable
 *    transaction each), their posting (`crm timer member_flow post_points`:
 *    the post pair and the lot per earn, the tier review), redemptions (the
 *    balance check, the burn entry, the lots consumed oldest first, one
 *    transaction each).
 * 2. MEMBERS members (written raw): one earn each, posted by the timer (a
 *    transaction per member), one redemption each.
 * 3. The floor: the same rows (earn, post pair, lot, burn, the stored
 *    balance) as raw prepared inserts in one transaction.
 * 4. The balance at LEDGER_ROWS rows (spread over 1,000 members, written raw):
 *    reading a member's stored rollup through the object API beside the
 *    recomputation from the entries (raw SUM over the member's rows), and one
 *    more entry on such a member (the rollup is recomputed in its transaction).
 * Each figure by the wall clock and by the process's CPU time.
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

#define POST_AT 1926547200   /* 2031-01-20T00:00:00Z: after every bench earn's hold */
#define ONE_EARNS 2000
#define ONE_REDEEMS 1000
#define BIG_MEMBERS 1000

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_points: %s: %s\n", sql, sqlite3_errmsg(db));
		exit(1);
	}
	return st;
}

static void step(sqlite3_stmt *st)
{
	if (sqlite3_step(st) != SQLITE_DONE) {
		fprintf(stderr, "bench_points: %s\n", sqlite3_errmsg(sqlite3_db_handle(st)));
		exit(1);
	}
	sqlite3_reset(st);
}

/* One write through the object API in a durable transaction of its own. */
static void create_one(struct crm_ctx *ctx, const char *object, json_t *values)
{
	object_begin(ctx);
	create(ctx, object, values);
	if (object_commit(ctx) != CRM_OK) {
		fprintf(stderr, "bench_points: commit %s: %s\n", object, ctx->message);
		exit(1);
	}
}

static json_t *earn(int64_t member)
{
	return json_pack("{s:I, s:s, s:i, s:s, s:s, s:s}", "member", (json_int_t)member, "kind", "earn", "points", 100,
	                 "status", "pending", "posts_on", "2031-01-15", "expires_on", "2032-01-01");
}

static json_t *redemption(int64_t member, int64_t reward)
{
	return json_pack("{s:I, s:I}", "member", (json_int_t)member, "reward", (json_int_t)reward);
}

static void post(struct crm_ctx *ctx, int64_t *touched)
{
	if (workflow_timer_run(ctx, "member_flow", "post_points", (time_t)POST_AT, touched) != CRM_OK) {
		fprintf(stderr, "bench_points: post_points: %s\n", ctx->message);
		exit(1);
	}
}

static void report(const char *what, int count, const char *unit, double wall, double cpu, double floor)
{
	printf("%-62s %8.0f %s/s  (%.2f s, %.2f s CPU: %.0f/s of CPU", what, count / wall, unit, wall, cpu, count / cpu);
	if (floor > 0)
		printf("; %.1f%% of the floor", 100 * floor / wall);
	printf(")\n");
}

/* Members 2..members+1 with their contacts, raw. */
static void write_members(sqlite3 *db, int members, int64_t program, int64_t tier)
{
	sqlite3_stmt *c = prepare(db, "INSERT INTO contact (id, created_at, updated_at, version, last_name, email) VALUES "
	                              "(?1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 1, 'Bench', "
	                              "printf('m%d@bench.example', ?1))");
	sqlite3_stmt *m = prepare(db, "INSERT INTO member (id, created_at, updated_at, version, number, contact, program, "
	                              "tier, joined_on, status, balance, pending, lifetime, orders) VALUES (?1, "
	                              "'2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 1, printf('M-%08d', ?1), 1000000 + ?1, ?2, ?3, "
	                              "'2026-01-01', 'active', 0, 0, 0, 0)");
	bench_exec(db, "BEGIN");
	for (int i = 2; i <= members + 1; i++) {
		sqlite3_bind_int(c, 1, 1000000 + i);
		step(c);
		sqlite3_bind_int(m, 1, i);
		sqlite3_bind_int64(m, 2, program);
		sqlite3_bind_int64(m, 3, tier);
		step(m);
	}
	bench_exec(db, "COMMIT");
	sqlite3_finalize(c);
	sqlite3_finalize(m);
}

/* The floor: per member an earn, its post pair, its lot, a burn, the stored balance: raw, one transaction. */
static double floor_rows(sqlite3 *db, int members)
{
	sqlite3_stmt *l = prepare(db, "INSERT INTO points_ledger (created_at, updated_at, version, member, kind, points, "
	                              "status, source, posts_on, expires_on) VALUES ('2031-01-20T00:00:00Z', "
	                              "'2031-01-20T00:00:00Z', 1, ?1, ?2, ?3, ?4, ?5, '2031-01-15', '2032-01-01')");
	sqlite3_stmt *lot = prepare(db, "INSERT INTO points_lot (created_at, updated_at, version, member, entry, points, "
	                                "remaining, expires_on) VALUES ('2031-01-20T00:00:00Z', '2031-01-20T00:00:00Z', 1, "
	                                "?1, ?2, 100, 90, '2032-01-01')");
	sqlite3_stmt *bal = prepare(db, "UPDATE member SET balance = coalesce(balance, 0) + 90, version = version + 1 "
	                                "WHERE id = ?1");
	double t0 = now_s();
	bench_exec(db, "BEGIN IMMEDIATE");
	for (int i = 2; i <= members + 1; i++) {
		static const struct { const char *kind, *status; int points; } rows[] = {
			{ "earn", "pending", 100 }, { "post", "pending", -100 }, { "post", "posted", 100 }, { "burn", "posted", -10 } };
		int64_t earn_id = 0, post_id = 0;
		for (int r = 0; r < 4; r++) {
			sqlite3_bind_int(l, 1, i);
			sqlite3_bind_text(l, 2, rows[r].kind, -1, SQLITE_STATIC);
			sqlite3_bind_int(l, 3, rows[r].points);
			sqlite3_bind_text(l, 4, rows[r].status, -1, SQLITE_STATIC);
			if (r == 1 || r == 2)
				sqlite3_bind_int64(l, 5, earn_id);
			else
				sqlite3_bind_null(l, 5);
			step(l);
			if (r == 0)
				earn_id = sqlite3_last_insert_rowid(db);
			if (r == 2)
				post_id = sqlite3_last_insert_rowid(db);
		}
		sqlite3_bind_int(lot, 1, i);
		sqlite3_bind_int64(lot, 2, post_id);
		step(lot);
		sqlite3_bind_int(bal, 1, i);
		step(bal);
	}
	bench_exec(db, "ROLLBACK");
	sqlite3_finalize(l);
	sqlite3_finalize(lot);
	sqlite3_finalize(bal);
	return now_s() - t0;
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 5) {
		fprintf(stderr, "usage: bench_points METADATA_DIR PLUGINS_DIR [MEMBERS] [LEDGER_ROWS]\n");
		return 2;
	}
	int members = argc >= 4 ? (int)strtol(argv[3], NULL, 10) : 100000;
	int rows = argc >= 5 ? (int)strtol(argv[4], NULL, 10) : 1000000;
	if (members < 1 || rows < BIG_MEMBERS)
		return 2;
	char db[] = "/tmp/crm-bench-points-XXXXXX";
	bench_temp_db(db);
	FILE *quiet = fopen("/dev/null", "w");

	/* the programme (hold 14 days), its tier and a 10-point reward, and member 1, through the object API */
	struct crm_kernel *kernel = bench_open_kernel(db, argv[1], argv[2], quiet);
	struct crm_ctx ctx;
	crm_ctx_init(&ctx, kernel, 0, "bench");
	object_begin(&ctx);
	int64_t program = create(&ctx, "loyalty_program", json_pack("{s:s, s:i, s:i}", "name", "Bench Club", "hold_days", 14,
	                                                            "expiry_days", 365));
	int64_t tier = create(&ctx, "member_tier", json_pack("{s:I, s:s, s:i}", "program", (json_int_t)program, "name",
	                                                     "basic", "min_lifetime_points", 0));
	int64_t reward = create(&ctx, "reward", json_pack("{s:I, s:s, s:i}", "program", (json_int_t)program, "name",
	                                                  "Bench voucher", "points_cost", 10));
	int64_t contact = create(&ctx, "contact", json_pack("{s:s}", "last_name", "Bench One"));
	int64_t one = create(&ctx, "member", json_pack("{s:I, s:I, s:I}", "contact", (json_int_t)contact, "program",
	                                               (json_int_t)program, "tier", (json_int_t)tier));
	if (object_commit(&ctx) != CRM_OK || one != 1) {
		fprintf(stderr, "bench_points: setup: %s\n", ctx.message);
		return 1;
	}

	/* 1. one member */
	double t0 = now_s(), c0 = cpu_s();
	for (int i = 0; i < ONE_EARNS; i++)
		create_one(&ctx, "points_ledger", earn(one));
	report("one member: earn entries (held), a transaction each", ONE_EARNS, "earns", now_s() - t0, cpu_s() - c0, 0);
	int64_t touched = 0;
	t0 = now_s();
	c0 = cpu_s();
	post(&ctx, &touched);
	report("one member: post_points timer (post pair + lot per earn)", ONE_EARNS, "earns", now_s() - t0,
	       cpu_s() - c0, 0);
	t0 = now_s();
	c0 = cpu_s();
	for (int i = 0; i < ONE_REDEEMS; i++)
		create_one(&ctx, "redemption", redemption(one, reward));
	report("one member: redemptions (check, burn, FIFO lots), a transaction each", ONE_REDEEMS, "redemptions",
	       now_s() - t0, cpu_s() - c0, 0);
	crm_ctx_clear(&ctx);
	kernel_close(kernel);

	/* 2. and 3. many members */
	sqlite3 *raw;
	if (sqlite3_open(db, &raw) != SQLITE_OK)
		return 1;
	bench_exec(raw, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON");
	write_members(raw, members, program, tier);
	double floor = floor_rows(raw, members);
	sqlite3_close(raw);
	printf("%-62s %8.0f members/s  (%.2f s: 5 rows + the balance per member)\n",
	       "floor: raw inserts of the same rows, one transaction", members / floor, floor);

	kernel = bench_open_kernel(db, argv[1], argv[2], quiet);
	crm_ctx_init(&ctx, kernel, 0, "bench");
	t0 = now_s();
	c0 = cpu_s();
	for (int i = 2; i <= members + 1; i++)
		create_one(&ctx, "points_ledger", earn(i));
	double earn_wall = now_s() - t0, earn_cpu = cpu_s() - c0;
	report("members: one earn each, a transaction each", members, "earns", earn_wall, earn_cpu, 0);
	t0 = now_s();
	c0 = cpu_s();
	touched = 0;
	post(&ctx, &touched);
	double post_wall = now_s() - t0, post_cpu = cpu_s() - c0;
	report("members: post_points timer, a transaction per member", members, "members", post_wall, post_cpu, 0);
	t0 = now_s();
	c0 = cpu_s();
	for (int i = 2; i <= members + 1; i++)
		create_one(&ctx, "redemption", redemption(i, reward));
	double redeem_wall = now_s() - t0, redeem_cpu = cpu_s() - c0;
	report("members: one redemption each, a transaction each", members, "redemptions", redeem_wall, redeem_cpu, 0);
	report("members: earn + post + redeem together", members, "members", earn_wall + post_wall + redeem_wall,
	       earn_cpu + post_cpu + redeem_cpu, floor);
	crm_ctx_clear(&ctx);
	kernel_close(kernel);

	/* 4. the balance at `rows` ledger rows, over the first `big` members */
	int big = members < BIG_MEMBERS ? members : BIG_MEMBERS;
	sqlite3_open(db, &raw);
	bench_exec(raw, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL");
	int64_t have = bench_scalar(raw, "SELECT count(*) FROM points_ledger");
	sqlite3_stmt *l = prepare(raw, "INSERT INTO points_ledger (created_at, updated_at, version, member, kind, points, "
	                               "status) VALUES ('2031-02-01T00:00:00Z', '2031-02-01T00:00:00Z', 1, ?1, 'adjust', "
	                               "?2, 'posted')");
	bench_exec(raw, "BEGIN");
	for (int64_t i = have; i < rows; i++) {
		sqlite3_bind_int64(l, 1, 2 + i % big);
		sqlite3_bind_int(l, 2, 1 + (int)(i % 7));
		step(l);
	}
	bench_exec(raw, "COMMIT");
	sqlite3_finalize(l);
	bench_exec(raw, "UPDATE member SET balance = (SELECT sum(points) FROM points_ledger p WHERE p.member = member.id "
	          "AND p.status = 'posted') WHERE id >= 2");
	int64_t total = bench_scalar(raw, "SELECT count(*) FROM points_ledger");
	sqlite3_stmt *sum = prepare(raw, "SELECT sum(points) FROM points_ledger WHERE member = ?1 AND status = 'posted'");
	int reads = 20000;
	t0 = now_s();
	for (int i = 0; i < reads; i++) {
		sqlite3_bind_int(sum, 1, 2 + i % big);
		if (sqlite3_step(sum) != SQLITE_ROW) {
			fprintf(stderr, "bench_points: %s\n", sqlite3_errmsg(raw));
			return 1;
		}
		sqlite3_reset(sum);
	}
	double recompute = now_s() - t0;
	sqlite3_finalize(sum);
	sqlite3_close(raw);

	kernel = bench_open_kernel(db, argv[1], argv[2], quiet);
	crm_ctx_init(&ctx, kernel, 0, "bench");
	t0 = now_s();
	for (int i = 0; i < reads; i++) {
		json_t *record = NULL;
		if (object_get(&ctx, "member", 2 + i % big, false, &record) != CRM_OK) {
			fprintf(stderr, "bench_points: member %d: %s\n", 2 + i % big, ctx.message);
			return 1;
		}
		json_decref(record);
	}
	double stored = now_s() - t0;
	printf("%-62s %8.0f reads/s  (%lld rows, ~%lld per member)\n", "balance: the member through the object API (stored rollup)",
	       reads / stored, (long long)total, (long long)(total / big));
	printf("%-62s %8.0f reads/s  (raw SUM over the member's posted rows)\n", "balance: recomputed from the entries (floor)",
	       reads / recompute);
	t0 = now_s();
	c0 = cpu_s();
	for (int i = 0; i < 200; i++)
		create_one(&ctx, "points_ledger", json_pack("{s:i, s:s, s:i}", "member", 2 + i % big, "kind", "adjust",
		                                            "points", 5));
	report("an entry on such a member (its rollups recomputed)", 200, "entries", now_s() - t0, cpu_s() - c0, 0);
	crm_ctx_clear(&ctx);
	kernel_close(kernel);
	fclose(quiet);
	bench_remove_db(db);
	return 0;
}
