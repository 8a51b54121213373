/*
 * bench_geo.c - within() through the object API on N accounts with a
 * location (default 1,000,000), beside the same question asked without the
 * box, `distance(location, point(...)) <= metres`, which reads every row:
 * one database, one run. Accounts lie around 40 cities (most within 30 km
 * of a centre, the densest case for a box) and a fifth anywhere on Earth;
 * each query asks for a page of 50 within 1 to 20 km of a city or of a
 * random point, the date line and the poles included.
 *
 *   bench_geo DB METADATA_DIR [N]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernel.h"
#include "object.h"
#include "store.h"
#include "bench.h"

#define QUERIES 2000
#define SCANS 5

static const double cities[][2] = {
	{ 48.137, 11.575 }, { 52.520, 13.405 }, { 50.110, 8.682 }, { 53.551, 9.994 }, { 48.857, 2.352 },
	{ 51.507, -0.128 }, { 40.416, -3.704 }, { 41.902, 12.496 }, { 52.370, 4.895 }, { 59.329, 18.069 },
	{ 31.230, 121.474 }, { 39.904, 116.407 }, { 22.543, 114.058 }, { 23.129, 113.264 }, { 30.573, 104.066 },
	{ 35.676, 139.650 }, { 37.567, 126.978 }, { 1.352, 103.820 }, { 19.076, 72.878 }, { 28.614, 77.209 },
	{ 40.713, -74.006 }, { 34.052, -118.244 }, { 41.878, -87.630 }, { 29.760, -95.370 }, { 37.775, -122.419 },
	{ 43.653, -79.383 }, { 19.433, -99.133 }, { -23.551, -46.633 }, { -34.604, -58.382 }, { -33.869, 151.209 },
	{ -37.814, 144.963 }, { -36.849, 174.763 }, { -17.713, 178.065 }, { 64.147, -21.943 }, { 69.649, 18.956 },
	{ -33.925, 18.424 }, { 30.044, 31.236 }, { 6.524, 3.379 }, { 55.756, 37.617 }, { 25.205, 55.271 },
};
#define CITIES (sizeof(cities) / sizeof(cities[0]))

static uint64_t state = 88172645463325252ULL;
static double uniform(void)
{
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return (double)(state >> 11) / 9007199254740992.0;
}

static double gaussian(void)
{
	double u = uniform(), v = uniform();
	return sqrt(-2 * log(u + 1e-300)) * cos(2 * 3.14159265358979323846 * v);
}

static double clamp(double x, double low, double high)
{
	return x < low ? low : x > high ? high : x;
}

/* A point: near a city (80%), else anywhere (uniform on the sphere). */
static void place(double *lat, double *lng)
{
	if (uniform() < 0.8) {
		const double *c = cities[(size_t)(uniform() * CITIES) % CITIES];
		*lat = clamp(c[0] + gaussian() * 0.15, -90, 90);
		*lng = c[1] + gaussian() * 0.2;
		*lng = *lng > 180 ? *lng - 360 : *lng < -180 ? *lng + 360 : *lng;
		return;
	}
	*lat = asin(2 * uniform() - 1) * 180 / 3.14159265358979323846;
	*lng = uniform() * 360 - 180;
}

static int fill(struct crm_ctx *ctx, int64_t from, int64_t count)
{
	state = 7 + (uint64_t)from;
	for (int64_t i = 0; i < count; i++) {
		if (i % 5000 == 0 && (i ? object_commit(ctx) : CRM_OK) != CRM_OK)
			return 1;
		if (i % 5000 == 0 && object_begin(ctx) != CRM_OK)
			return 1;
		double lat, lng;
		place(&lat, &lng);
		char name[64];
		snprintf(name, sizeof(name), "Geo account %07lld", (long long)(from + i + 1));
		json_t *values = json_pack("{s:s, s:{s:f, s:f}}", "name", name, "location", "lat", lat, "lng", lng);
		int64_t id;
		int code = object_create_id(ctx, "account", values, &id);
		json_decref(values);
		if (code != CRM_OK) {
			fprintf(stderr, "create: %s\n", ctx->message);
			return 1;
		}
	}
	return object_commit(ctx) == CRM_OK ? 0 : 1;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The i-th query's circle: a city's centre (half of them: the densest), or anywhere, some by the date line and the poles. */
static void circle(int i, double *lat, double *lng, double *metres)
{
	int kind = i % 8;
	if (kind < 4) {
		*lat = cities[(size_t)i / 8 % CITIES][0];
		*lng = cities[(size_t)i / 8 % CITIES][1];
	} else if (kind == 4) {
		*lat = uniform() * 160 - 80;
		*lng = uniform() < 0.5 ? 180 - uniform() * 0.1 : -180 + uniform() * 0.1;
	} else if (kind == 5) {
		*lat = (uniform() < 0.5 ? 1 : -1) * (90 - uniform() * 0.2);
		*lng = uniform() * 360 - 180;
	} else {
		place(lat, lng);
	}
	*metres = 1000 + uniform() * 19000;
}

/*
 * Asks the i-th circle (within(), or with scan the same test as a bare
 * distance, which no index serves) for a page; *rows gets its size.
 * Returns seconds, or -1 on failure.
 */
static double ask(struct crm_ctx *ctx, int i, bool scan, size_t *rows, double *cpu)
{
	double lat, lng, metres;
	char filter[200];
	circle(i, &lat, &lng, &metres);
	snprintf(filter, sizeof(filter), scan ? "distance(location, point(%.6f, %.6f)) <= %.0f"
	                                      : "within(location, point(%.6f, %.6f), %.0f)", lat, lng, metres);
	struct object_query q = { .filter = filter, .fields = "id,name,location", .limit = 50 };
	json_t *page = NULL;
	double s = now_s(), c = cpu_s();
	if (object_query(ctx, "account", &q, &page) != CRM_OK) {
		fprintf(stderr, "query failed: %s: %s\n", filter, ctx->message);
		return -1;
	}
	double took = now_s() - s;
	*cpu = cpu_s() - c;
	*rows = json_array_size(json_object_get(page, "records"));
	json_decref(page);
	return took;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: bench_geo DB METADATA_DIR [N]\n");
		return 2;
	}
	int64_t n = argc > 3 ? atoll(argv[3]) : 1000000;
	struct kernel_options options = { .db_path = argv[1], .metadata_dir = argv[2], .plugins_dir = "plugins",
	                                  .migrate = true };
	struct crm_kernel *kernel;
	if (kernel_open(&options, &kernel) != CRM_OK)
		return 1;
	struct crm_ctx ctx;
	crm_ctx_init(&ctx, kernel, 0, "bench");
	int64_t have = 0;
	object_count(&ctx, "account", NULL, &have);
	if (have < n) {
		double s = now_s();
		if (fill(&ctx, have, n - have))
			return 1;
		printf("created %lld accounts with a location through the object API: %.0f/s\n", (long long)(n - have),
		       (double)(n - have) / (now_s() - s));
		store_analyze(kernel->store);
	}
	double *boxed = malloc(QUERIES * sizeof(double)), *boxed_cpu = malloc(QUERIES * sizeof(double)), cpu;
	size_t rows, total_rows = 0, full_pages = 0;
	state = 42;
	for (int i = 0; i < QUERIES; i++) {
		if ((boxed[i] = ask(&ctx, i, false, &rows, &boxed_cpu[i])) < 0)
			return 1;
		total_rows += rows;
		full_pages += rows == 50;
	}
	/*
	 * The same questions without the box: every row's distance. Circles away
	 * from the cities (kinds 4 to 7), whose page is not full, so that the scan
	 * reads the whole table rather than stopping at the 50th hit; a few runs,
	 * each reading a million rows.
	 */
	double scanned[SCANS];
	size_t scan_rows = 0, same_rows = 0;
	for (int pass = 0; pass < 2; pass++) {
		state = 42;   /* the same circles both times */
		for (int i = 0; i < SCANS; i++) {
			double took = ask(&ctx, 8 * i + 4 + i % 4, pass == 0, &rows, &cpu);
			if (took < 0)
				return 1;
			if (pass == 0)
				scanned[i] = took;
			*(pass == 0 ? &scan_rows : &same_rows) += rows;
		}
	}
	if (scan_rows != same_rows) {
		fprintf(stderr, "bench_geo: the scan found %zu rows, within %zu\n", scan_rows, same_rows);
		return 1;
	}
	qsort(boxed, QUERIES, sizeof(double), compare_double);
	qsort(boxed_cpu, QUERIES, sizeof(double), compare_double);
	qsort(scanned, SCANS, sizeof(double), compare_double);
	printf("%lld accounts with a location; %d pages of up to 50 within 1-20 km (%.1f rows a page, %zu full)\n",
	       (long long)(have > n ? have : n), QUERIES, (double)total_rows / QUERIES, full_pages);
	printf("%-44s p50 %8.2f ms  p99 %8.2f ms  (CPU: p50 %.2f ms, p99 %.2f ms)\n",
	       "within(location, point(..), m)  (box + exact)", boxed[QUERIES / 2] * 1e3, boxed[QUERIES * 99 / 100] * 1e3,
	       boxed_cpu[QUERIES / 2] * 1e3, boxed_cpu[QUERIES * 99 / 100] * 1e3);
	printf("%-44s p50 %8.2f ms  max %8.2f ms  (%d runs away from the cities, %.1f rows a page)\n",
	       "distance(location, point(..)) <= m  (scan)", scanned[SCANS / 2] * 1e3, scanned[SCANS - 1] * 1e3, SCANS,
	       (double)scan_rows / SCANS);
	printf("%-44s %.0fx at p50\n", "box over scan", scanned[SCANS / 2] / boxed[QUERIES / 2]);
	free(boxed);
	free(boxed_cpu);
	kernel_close(kernel);
	return 0;
}
