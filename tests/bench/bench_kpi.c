/*
 * bench_kpi.c - the KPI evaluation model at 50 users x 12 months: every kpi
 * of metadata/kpis.yaml (records, the audit trail, formulas, retention,
 * per day), each user's own figure (scope me, with their row rules) and the
 * previous period's for each month of a year, through kpi_evaluate; beside
 * it, in the same run, the hand-written SQL of the same figures (one
 * prepared statement per kpi, as tests/api/kpi_test.py writes them), and the
 * count of figures where the two disagree (0 expected).
 *
 * Data, written straight into the migrated schema: 50 reps, and for each
 * over 13 months 15 opportunities, 10 leads with their first contact, 20
 * activities and about 120 audited writes.
 *
 * Usage: bench_kpi METADATA_DIR
 */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "kernel.h"
#include "kpi.h"
#include "bench.h"

#define USERS 50
#define MONTHS 12
#define YEAR 2025

static void ymd(char out[11], int year, int month, int day)
{
	snprintf(out, 11, "%04u-%02u-%02u", (unsigned)year % 10000u, (unsigned)month % 100u, (unsigned)day % 100u);
}

/* a day of month m (0 = December YEAR-1 ... 12 = December YEAR) */
static void day_of(int m, int day, char out[11])
{
	ymd(out, YEAR - 1 + (m + 11) / 12, (m + 11) % 12 + 1, day);
}

static void seed(const char *path)
{
	sqlite3 *db;
	if (sqlite3_open(path, &db) != SQLITE_OK)
		exit(1);
	bench_exec(db, "BEGIN");
	srand(15);
	char sql[1024], day[11];
	for (int u = 1; u <= USERS; u++) {
		snprintf(sql, sizeof(sql), "INSERT INTO user (id, login, name, kind, role, active, version) VALUES (%d, "
		         "'rep%d', 'Rep %d', 'employee', 'sales_rep', 1, 1)", u, u, u);
		bench_exec(db, sql);
	}
	bench_exec(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400) "
	     "INSERT INTO account (id, name, version) SELECT i, 'Account ' || i, 1 FROM n");
	static const char *const stages[] = { "won", "won", "lost", "prospecting", "proposal" };
	static const char *const actions[] = { "create", "update", "update", "transition", "delete", "login" };
	sqlite3_stmt *opp, *lead, *act, *audit;
	sqlite3_prepare_v2(db, "INSERT INTO opportunity (name, account, amount, stage, close_date, created_at, owner, "
	                   "version) VALUES ('Deal', ?1, ?2, ?3, ?4, ?5, ?6, 1)", -1, &opp, NULL);
	sqlite3_prepare_v2(db, "INSERT INTO lead (last_name, company, status, created_at, first_contact_at, owner, "
	                   "version) VALUES ('Lead', 'Co', 'new', ?1, ?2, ?3, 1)", -1, &lead, NULL);
	sqlite3_prepare_v2(db, "INSERT INTO activity (kind, subject, status, due_at, owner, version) VALUES ('call', "
	                   "'Call', ?1, ?2, ?3, 1)", -1, &act, NULL);
	sqlite3_prepare_v2(db, "INSERT INTO _crm_audit (at, user_id, object, record_id, action) VALUES (?1, ?2, "
	                   "'account', ?3, ?4)", -1, &audit, NULL);
	for (int u = 1; u <= USERS; u++)
		for (int m = 0; m <= MONTHS; m++) {
			char at[32];
			for (int i = 0; i < 15; i++) {
				day_of(m, 1 + rand() % 28, day);
				snprintf(at, sizeof(at), "%sT09:00:00Z", day);
				char created[11];
				day_of(m > 2 ? m - 2 : 0, 1 + rand() % 28, created);
				snprintf(sql, sizeof(sql), "%sT10:00:00Z", created);
				sqlite3_bind_int(opp, 1, 1 + rand() % 400);
				sqlite3_bind_double(opp, 2, (double)(1000 + rand() % 90000));
				sqlite3_bind_text(opp, 3, stages[rand() % 5], -1, SQLITE_STATIC);
				sqlite3_bind_text(opp, 4, day, -1, SQLITE_TRANSIENT);
				sqlite3_bind_text(opp, 5, sql, -1, SQLITE_TRANSIENT);
				sqlite3_bind_int(opp, 6, u);
				sqlite3_step(opp);
				sqlite3_reset(opp);
			}
			for (int i = 0; i < 10; i++) {
				day_of(m, 1 + rand() % 28, day);
				char contact[32];
				snprintf(at, sizeof(at), "%sT08:%02d:00Z", day, rand() % 60);
				snprintf(contact, sizeof(contact), "%sT%02d:30:00Z", day, 9 + rand() % 14);
				sqlite3_bind_text(lead, 1, at, -1, SQLITE_TRANSIENT);
				if (i % 4)
					sqlite3_bind_text(lead, 2, contact, -1, SQLITE_TRANSIENT);
				else
					sqlite3_bind_null(lead, 2);
				sqlite3_bind_int(lead, 3, u);
				sqlite3_step(lead);
				sqlite3_reset(lead);
			}
			for (int i = 0; i < 20; i++) {
				day_of(m, 1 + rand() % 28, day);
				snprintf(at, sizeof(at), "%sT11:00:00Z", day);
				sqlite3_bind_text(act, 1, i % 3 ? "done" : "open", -1, SQLITE_STATIC);
				sqlite3_bind_text(act, 2, at, -1, SQLITE_TRANSIENT);
				sqlite3_bind_int(act, 3, u);
				sqlite3_step(act);
				sqlite3_reset(act);
			}
			for (int i = 0; i < 120; i++) {
				if (rand() % 3 == 0)
					continue;   /* some days a rep writes nothing */
				day_of(m, 1 + rand() % 28, day);
				snprintf(at, sizeof(at), "%sT%02d:%02d:00Z", day, rand() % 24, rand() % 60);
				sqlite3_bind_text(audit, 1, at, -1, SQLITE_TRANSIENT);
				sqlite3_bind_int(audit, 2, u);
				sqlite3_bind_int(audit, 3, 1 + rand() % 400);
				sqlite3_bind_text(audit, 4, actions[rand() % 6], -1, SQLITE_STATIC);
				sqlite3_step(audit);
				sqlite3_reset(audit);
			}
		}
	sqlite3_finalize(opp);
	sqlite3_finalize(lead);
	sqlite3_finalize(act);
	sqlite3_finalize(audit);
	bench_exec(db, "COMMIT");
	sqlite3_close(db);
}

/*
 * The hand-written SQL, as tests/api/kpi_test.py has it: :start, :after
 * (the period), :before (the period before it), :window and :days (per day),
 * :me (the owner / the audit trail's user).
 */
#define WON "FROM opportunity WHERE deleted_at IS NULL AND stage = 'won' AND close_date >= :start AND close_date < :after AND owner = :me"
#define CLOSED "FROM opportunity WHERE deleted_at IS NULL AND stage IN ('won', 'lost') AND close_date >= :start AND close_date < :after AND owner = :me"
#define OPEN "FROM opportunity WHERE deleted_at IS NULL AND stage NOT IN ('won', 'lost') AND close_date >= :start AND close_date < :after AND owner = :me"
#define WRITES(actions, to) "FROM _crm_audit WHERE user_id IS NOT NULL AND at >= :start AND at < " to " AND action IN (" actions ") AND user_id = :me"
#define ALL "'create', 'update', 'delete', 'restore', 'transition'"
#define CYCLE "CAST(julianday(close_date) - julianday(created_at) AS INTEGER)"
static const struct { const char *name, *sql; } raw[] = {
	{ "won_revenue", "SELECT coalesce(sum(amount), 0) " WON },
	{ "deals_won", "SELECT count(*) " WON },
	{ "deals_closed", "SELECT count(*) " CLOSED },
	{ "win_rate", "SELECT 100.0 * sum(stage = 'won') / nullif(count(*), 0) " CLOSED },
	{ "average_deal", "SELECT sum(amount) * 1.0 / nullif(count(*), 0) " WON },
	{ "customer_retention", "WITH b AS (SELECT DISTINCT account FROM opportunity WHERE deleted_at IS NULL AND "
	  "stage = 'won' AND account IS NOT NULL AND close_date >= :before AND close_date < :start AND owner = :me), "
	  "n AS (SELECT DISTINCT account " WON ") SELECT 100.0 * (SELECT count(*) FROM b WHERE account IN (SELECT "
	  "account FROM n)) / nullif((SELECT count(*) FROM b), 0)" },
	{ "new_opportunities", "SELECT count(*) FROM opportunity WHERE deleted_at IS NULL AND created_at >= :start AND "
	  "created_at < :after AND owner = :me" },
	{ "open_opportunities", "SELECT count(*) " OPEN },
	{ "sales_cycle_days", "SELECT avg(" CYCLE ") " WON },
	{ "pipeline_velocity", "SELECT (SELECT count(*) " OPEN ") * (SELECT 100.0 * sum(stage = 'won') / "
	  "nullif(count(*), 0) " CLOSED ") / 100 * (SELECT sum(amount) * 1.0 / nullif(count(*), 0) " WON ") / "
	  "(SELECT CASE WHEN avg(" CYCLE ") > 0 THEN avg(" CYCLE ") END " WON ")" },
	{ "activities_done", "SELECT count(*) FROM activity WHERE deleted_at IS NULL AND status = 'done' AND due_at >= "
	  ":start AND due_at < :after AND owner = :me" },
	{ "hours_to_first_contact", "SELECT avg(round(round((julianday(first_contact_at) - julianday(created_at)) * "
	  "86400000.0) / 3600000.0, 6)) FROM lead WHERE deleted_at IS NULL AND created_at >= :start AND created_at < "
	  ":after AND owner = :me" },
	{ "active_users", "SELECT count(DISTINCT user_id) " WRITES(ALL, ":after") },
	{ "active_users_per_day", "SELECT total(n) / nullif(:days, 0) FROM (SELECT count(DISTINCT user_id) AS n "
	  WRITES(ALL, ":window") " GROUP BY substr(at, 1, 10))" },
	{ "records_created", "SELECT count(*) " WRITES("'create'", ":after") },
	{ "records_updated", "SELECT count(*) " WRITES("'update', 'transition'", ":after") },
	{ "records_created_per_user", "SELECT 1.0 * sum(action = 'create') / nullif(count(DISTINCT user_id), 0) "
	  WRITES(ALL, ":after") },
	{ "records_updated_per_user", "SELECT 1.0 * sum(action IN ('update', 'transition')) / nullif(count(DISTINCT "
	  "user_id), 0) " WRITES(ALL, ":after") },
};
#define RAW_COUNT ((int)(sizeof(raw) / sizeof(raw[0])))

/* [start, after) of the kpi's period kind holding day (month, quarter, year), and the start before it */
static void bounds(const char *period, const char *day, char start[11], char after[11], char before[11])
{
	int year, month;
	sscanf(day, "%d-%d", &year, &month);
	int first = !strcmp(period, "month") ? month : !strcmp(period, "quarter") ? (month - 1) / 3 * 3 + 1 : 1;
	int length = !strcmp(period, "month") ? 1 : !strcmp(period, "quarter") ? 3 : 12;
	int a = first - 1 + length, b = first - 1 - length;
	ymd(start, year, first, 1);
	ymd(after, year + (a >= 0 ? a / 12 : -1), (a % 12 + 12) % 12 + 1, 1);
	ymd(before, year + (b >= 0 ? b / 12 : -1), (b % 12 + 12) % 12 + 1, 1);
}

static int days_between(const char *a, const char *b)
{
	struct tm x = { 0 }, y = { 0 };
	sscanf(a, "%d-%d-%d", &x.tm_year, &x.tm_mon, &x.tm_mday);
	sscanf(b, "%d-%d-%d", &y.tm_year, &y.tm_mon, &y.tm_mday);
	x.tm_year -= 1900, y.tm_year -= 1900, x.tm_mon--, y.tm_mon--;
	return (int)((timegm(&y) - timegm(&x)) / 86400);
}

/* The kpi named name among the kernel's figures, or NULL. */
static json_t *kpi_named(json_t *kpis, const char *name)
{
	size_t i;
	json_t *kpi;
	json_array_foreach(kpis, i, kpi)
		if (!strcmp(json_string_value(json_object_get(kpi, "name")), name))
			return kpi;
	return NULL;
}

/* The raw figure of kpi i for user over [start, after) asked on day; NAN for null. */
static double raw_figure(sqlite3_stmt *stmt, int user, const char *day, const char *start, const char *after,
                         const char *before)
{
	char window[11];
	int days = 16;   /* the day asked is the 15th: the per-day window ends the day after it */
	snprintf(window, sizeof(window), "%.8s16", day);
	if (strcmp(window, after) > 0) {
		snprintf(window, sizeof(window), "%s", after);
		days = days_between(start, after);
	} else {
		days = days_between(start, window);
	}
	sqlite3_bind_text(stmt, sqlite3_bind_parameter_index(stmt, ":start"), start, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, sqlite3_bind_parameter_index(stmt, ":after"), after, -1, SQLITE_STATIC);
	int i;
	if ((i = sqlite3_bind_parameter_index(stmt, ":before")))
		sqlite3_bind_text(stmt, i, before, -1, SQLITE_STATIC);
	if ((i = sqlite3_bind_parameter_index(stmt, ":window")))
		sqlite3_bind_text(stmt, i, window, -1, SQLITE_TRANSIENT);
	if ((i = sqlite3_bind_parameter_index(stmt, ":days")))
		sqlite3_bind_int(stmt, i, days);
	sqlite3_bind_int(stmt, sqlite3_bind_parameter_index(stmt, ":me"), user);
	double v = NAN;
	if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL)
		v = sqlite3_column_double(stmt, 0);
	sqlite3_reset(stmt);
	return v;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: bench_kpi METADATA_DIR\n");
		return 2;
	}
	char db[] = "/tmp/crm-bench-kpi-XXXXXX";
	bench_temp_path(db);
	FILE *quiet = fopen("/dev/null", "w");
	char none[] = "/tmp/crm-bench-kpi-plugins-XXXXXX";
	if (!mkdtemp(none))
		return 1;
	struct kernel_options options = { .db_path = db, .metadata_dir = argv[1], .plugins_dir = none, .migrate = true,
	                                  .log = quiet };
	struct crm_kernel *kernel;
	if (kernel_open(&options, &kernel) != CRM_OK) {
		fprintf(stderr, "bench_kpi: cannot open the kernel over %s\n", argv[1]);
		return 1;
	}
	kernel_close(kernel);
	seed(db);
	if (kernel_open(&options, &kernel) != CRM_OK)
		return 1;

	/* the kernel: each user's figures for each month (and the previous periods) */
	json_t *results[USERS][MONTHS];
	char day[11];
	int figures = 0;
	double t0 = now_s(), c0 = cpu_s();
	for (int u = 0; u < USERS; u++) {
		struct crm_ctx ctx;
		crm_ctx_init(&ctx, kernel, u + 1, "bench");
		for (int m = 0; m < MONTHS; m++) {
			day_of(m + 1, 15, day);
			if (kpi_evaluate(&ctx, day, KPI_SCOPE_ME, NULL, &results[u][m]) != CRM_OK) {
				fprintf(stderr, "bench_kpi: %s\n", ctx.message);
				return 1;
			}
			figures += 2 * (int)json_array_size(json_object_get(results[u][m], "kpis"));
		}
		crm_ctx_clear(&ctx);
	}
	double kernel_s = now_s() - t0, kernel_cpu = cpu_s() - c0;

	/* the raw SQL of the same figures, prepared once, on a connection of its own */
	sqlite3 *raw_db;
	sqlite3_open_v2(db, &raw_db, SQLITE_OPEN_READONLY, NULL);
	sqlite3_stmt *stmts[RAW_COUNT];
	for (int k = 0; k < RAW_COUNT; k++)
		if (sqlite3_prepare_v2(raw_db, raw[k].sql, -1, &stmts[k], NULL) != SQLITE_OK) {
			fprintf(stderr, "bench_kpi: %s: %s\n", raw[k].name, sqlite3_errmsg(raw_db));
			return 1;
		}
	static double want[USERS][MONTHS][RAW_COUNT][2], spent[RAW_COUNT];
	char start[11], after[11], before[11], before2[11], unused1[11], unused2[11];
	t0 = now_s(), c0 = cpu_s();
	for (int u = 0; u < USERS; u++)
		for (int m = 0; m < MONTHS; m++) {
			day_of(m + 1, 15, day);
			json_t *kpis = json_object_get(results[u][m], "kpis");
			for (int k = 0; k < RAW_COUNT; k++) {
				json_t *kpi = kpi_named(kpis, raw[k].name);
				const char *period = kpi ? json_string_value(json_object_get(kpi, "period")) : "month";
				bounds(period, day, start, after, before);
				bounds(period, before, unused1, unused2, before2);
				double t1 = now_s();
				want[u][m][k][0] = raw_figure(stmts[k], u + 1, day, start, after, before);
				want[u][m][k][1] = raw_figure(stmts[k], u + 1, day, before, start, before2);
				spent[k] += now_s() - t1;
			}
		}
	double raw_s = now_s() - t0, raw_cpu = cpu_s() - c0;
	for (int k = 0; getenv("BENCH_KPI_DETAIL") && k < RAW_COUNT; k++)
		printf("  sql %-28s %8.0f ms\n", raw[k].name, spent[k] * 1000);

	/* the same figures? */
	int differ = 0;
	for (int u = 0; u < USERS; u++)
		for (int m = 0; m < MONTHS; m++) {
			json_t *kpis = json_object_get(results[u][m], "kpis");
			for (int k = 0; k < RAW_COUNT; k++) {
				json_t *kpi = kpi_named(kpis, raw[k].name);
				if (!kpi) {
					differ++;
					continue;
				}
				for (int p = 0; p < 2; p++) {
					json_t *got = json_object_get(kpi, p ? "previous" : "actual");
					double w = want[u][m][k][p];
					bool same = isnan(w) ? json_is_null(got)
					          : json_is_number(got) && fabs(json_number_value(got) - w) < 0.005;
					if (!same && differ++ < 3)
						fprintf(stderr, "bench_kpi: %s %s for rep%d in month %d: kernel %g, sql %g\n", raw[k].name,
						        p ? "previous" : "actual", u + 1, m + 1, json_number_value(got), w);
				}
			}
			json_decref(results[u][m]);
		}
	for (int k = 0; k < RAW_COUNT; k++)
		sqlite3_finalize(stmts[k]);
	sqlite3_close(raw_db);
	printf("%-58s %8.0f ms, %6.0f ms CPU  (%d figures, %.0f us CPU each)\n",
	       "kpi_evaluate: 50 users x 12 months, every kpi, scope me", kernel_s * 1000, kernel_cpu * 1000, figures,
	       kernel_cpu * 1e6 / figures);
	printf("%-58s %8.0f ms, %6.0f ms CPU  (the kernel takes %.2fx the CPU)\n",
	       "hand-written SQL of the same figures (floor)", raw_s * 1000, raw_cpu * 1000, kernel_cpu / raw_cpu);
	printf("%-58s %8d\n", "figures where the two differ", differ);
	kernel_close(kernel);
	fclose(quiet);
	bench_remove_db(db);
	rmdir(none);
	return differ != 0;
}
