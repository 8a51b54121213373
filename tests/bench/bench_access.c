/*
 * bench_access.c - the cost of access control: get by id and a filtered,
 * sorted page of 50 as a sales rep whose role reads accounts by `team` (a
 * predicate over the owner: the rep, team mates and reports) beside the same
 * calls as an admin (no predicate), on the bench database.
 *
 *   bench_access DB METADATA_DIR
 *
 * It adds a role and a team of users for the run: the metadata is copied to
 * a temporary folder with one more role document, and account owners are
 * spread over the team and others with one SQL update (bench set-up, not a
 * product path).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "auth.h"
#include "kernel.h"
#include "object.h"
#include "bench.h"

#define GETS 100000
#define QUERIES 2000

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct figures {
	double gets, queries, p99;
	long found;
};

static void measure(struct crm_kernel *kernel, int64_t user, int64_t max_id, struct figures *f)
{
	static const char *const industries[] = { "technology", "manufacturing", "financial_services", "healthcare",
	                                          "retail", "automotive", "energy", "logistics" };
	struct crm_ctx ctx;
	uint64_t state = 42;
	f->found = 0;
	double t0 = now_s();
	for (int i = 0; i < GETS; i++) {
		state ^= state << 13; state ^= state >> 7; state ^= state << 17;
		/* a fresh context per call, as per request: the caller's role is loaded each time */
		crm_ctx_init(&ctx, kernel, user, "bench");
		json_t *r = NULL;
		if (object_get(&ctx, "account", (int64_t)(state % (uint64_t)max_id) + 1, false, &r) == CRM_OK)
			f->found++;
		json_decref(r);
		crm_ctx_clear(&ctx);
	}
	f->gets = GETS / (now_s() - t0);
	double *lat = malloc(QUERIES * sizeof(double)), total = 0;
	for (int i = 0; i < QUERIES; i++) {
		char filter[96];
		snprintf(filter, sizeof(filter), "industry = '%s'", industries[i % 8]);
		struct object_query q = { .filter = filter, .sort = "-annual_revenue", .limit = 50 };
		double s = now_s();
		crm_ctx_init(&ctx, kernel, user, "bench");
		json_t *page = NULL;
		object_query(&ctx, "account", &q, &page);
		json_decref(page);
		crm_ctx_clear(&ctx);
		lat[i] = now_s() - s;
		total += lat[i];
	}
	qsort(lat, QUERIES, sizeof(double), compare_double);
	f->queries = QUERIES / total;
	f->p99 = lat[QUERIES * 99 / 100] * 1e3;
	free(lat);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: bench_access DB METADATA_DIR\n");
		return 2;
	}
	char dir[] = "/tmp/crm-bench-access-XXXXXX", cmd[1200], path[600];
	if (!mkdtemp(dir))
		return 1;
	snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s/metadata'", argv[2], dir);
	if (system(cmd) != 0)
		return 1;
	snprintf(path, sizeof(path), "%s/metadata/bench_roles.yaml", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return 1;
	fputs("role: bench_rep\nobjects:\n  account: { read: team }\n  user: { read: all }\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/metadata", dir);
	FILE *quiet = fopen("/dev/null", "w");
	struct kernel_options options = { .db_path = argv[1], .metadata_dir = path, .plugins_dir = "plugins",
	                                  .migrate = true, .log = quiet };
	struct crm_kernel *kernel;
	if (kernel_open(&options, &kernel) != CRM_OK)
		return 1;
	struct crm_ctx ctx;
	crm_ctx_init(&ctx, kernel, 0, "bench");
	/* a team of four reps (one managed by the bench rep) and four outsiders; owners spread over all */
	int64_t users[8] = { 0 }, admin = 0;
	char team_name[64];
	snprintf(team_name, sizeof(team_name), "Bench team %ld", (long)time(NULL));
	json_t *team = json_pack("{s:s}", "name", team_name);
	int64_t team_id = 0;
	object_create_id(&ctx, "team", team, &team_id);
	json_decref(team);
	for (int i = 0; i < 8; i++) {
		char login[32];
		snprintf(login, sizeof(login), "bench_rep_%d_%ld", i, (long)time(NULL));
		json_t *v = json_pack("{s:s, s:s, s:s}", "login", login, "name", login, "role", "bench_rep");
		if (i < 3)
			json_object_set_new(v, "team", json_integer(team_id));
		if (i == 3)
			json_object_set_new(v, "manager", json_integer(users[0]));
		if (object_create_id(&ctx, "user", v, &users[i]) != CRM_OK) {
			char *e = json_dumps(ctx.field_errors, 0);
			fprintf(stderr, "bench_access: %s %s\n", ctx.message, e ? e : "");
			free(e);
			return 1;
		}
		json_decref(v);
	}
	json_t *v = json_pack("{s:s, s:s, s:s}", "login", "bench_admin_user", "name", "Bench Admin", "role", "admin");
	if (object_create_id(&ctx, "user", v, &admin) != CRM_OK) {
		/* left from an earlier run */
		crm_error_reset(&ctx);
		struct object_query q = { .filter = "login = 'bench_admin_user'", .fields = "id" };
		json_t *page = NULL;
		object_query(&ctx, "user", &q, &page);
		admin = json_integer_value(json_object_get(json_array_get(json_object_get(page, "records"), 0), "id"));
		json_decref(page);
	}
	json_decref(v);
	int64_t max_id = 0;
	object_count(&ctx, "account", NULL, &max_id);
	crm_ctx_clear(&ctx);
	sqlite3 *db;
	sqlite3_open(argv[1], &db);
	snprintf(cmd, sizeof(cmd), "UPDATE account SET owner = CASE id %% 8 WHEN 0 THEN %lld WHEN 1 THEN %lld WHEN 2 THEN %lld "
	         "WHEN 3 THEN %lld WHEN 4 THEN %lld WHEN 5 THEN %lld WHEN 6 THEN %lld ELSE %lld END",
	         (long long)users[0], (long long)users[1], (long long)users[2], (long long)users[3],
	         (long long)users[4], (long long)users[5], (long long)users[6], (long long)users[7]);
	if (sqlite3_exec(db, cmd, NULL, NULL, NULL) != SQLITE_OK)
		fprintf(stderr, "bench_access: %s\n", sqlite3_errmsg(db));
	sqlite3_close(db);

	struct figures as_admin, as_rep;
	measure(kernel, admin, max_id, &as_admin);
	measure(kernel, users[0], max_id, &as_rep);
	printf("%-40s %12s %12s %8s\n", "access control (1 thread)", "sales rep", "admin", "ratio");
	printf("%-40s %10.0f/s %10.0f/s %7.0f%%   (rep sees %ld of %d, admin %ld)\n", "get by id (team predicate)",
	       as_rep.gets, as_admin.gets, 100 * as_rep.gets / as_admin.gets, as_rep.found, GETS, as_admin.found);
	printf("%-40s %10.0f/s %10.0f/s %7.0f%%\n", "filtered+sorted list of 50", as_rep.queries, as_admin.queries,
	       100 * as_rep.queries / as_admin.queries);
	printf("%-40s %10.3fms %10.3fms\n", "  list p99", as_rep.p99, as_admin.p99);
	kernel_close(kernel);
	fclose(quiet);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
