/*
 * bench_quote.c - lead-to-cash through the object API: a quote with 20
 * lines (each priced from the price book by the lead2cash plugin's hook,
 * totals chained by rollups), submitted, approved, presented and accepted
 * (the plugin copies it into an order with its 20 lines and updates the
 * deal), one transaction per quote, audited. Beside it, in the same run,
 * plain creates of the same number of rows (42 per quote) of an object
 * without hooks or rollups: the floor.
 *
 * Usage: bench_quote METADATA_DIR PLUGINS_DIR (the repository's, with lead2cash enabled).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "kernel.h"
#include "object.h"
#include "workflow.h"
#include "bench.h"

#define QUOTES 200
#define LINES 20
#define ROWS_PER_QUOTE (1 + LINES + 1 + LINES)

static void fire(struct crm_ctx *ctx, const char *object, int64_t id, const char *name)
{
	json_t *out = NULL;
	crm_error_reset(ctx);
	if (workflow_fire(ctx, object, id, name, NULL, 0, &out) != CRM_OK) {
		fprintf(stderr, "bench_quote: %s on %s %lld: %s\n", name, object, (long long)id, ctx->message);
		exit(1);
	}
	json_decref(out);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: bench_quote METADATA_DIR PLUGINS_DIR\n");
		return 2;
	}
	char db[] = "/tmp/crm-bench-quote-XXXXXX";
	bench_temp_path(db);
	FILE *quiet = fopen("/dev/null", "w");
	struct kernel_options options = { .db_path = db, .metadata_dir = argv[1], .plugins_dir = argv[2],
	                                  .migrate = true, .log = quiet };
	struct crm_kernel *kernel;
	if (kernel_open(&options, &kernel) != CRM_OK) {
		fprintf(stderr, "bench_quote: cannot open the kernel over %s and %s\n", argv[1], argv[2]);
		return 1;
	}
	struct crm_ctx ctx;
	crm_ctx_init(&ctx, kernel, 0, "bench");
	object_begin(&ctx);
	int64_t account = create(&ctx, "account", json_pack("{s:s}", "name", "Bench Industries"));
	int64_t products[LINES];
	for (int i = 0; i < LINES; i++) {
		char code[32];
		snprintf(code, sizeof(code), "P-%03d", i);
		products[i] = create(&ctx, "product", json_pack("{s:s, s:s, s:f}", "code", code, "name", code,
		                                                "list_price", 10.0 + i * 7.25));
		create(&ctx, "price_book_entry", json_pack("{s:I, s:s, s:f, s:s}", "product", (json_int_t)products[i],
		                                           "price_book", "standard", "unit_price", 9.99 + i * 7.25,
		                                           "valid_from", "2020-01-01"));
	}
	int64_t deals[QUOTES];
	for (int q = 0; q < QUOTES; q++)
		deals[q] = create(&ctx, "opportunity", json_pack("{s:s, s:I, s:f}", "name", "Bench deal", "account",
		                                                 (json_int_t)account, "amount", 1000.0));
	object_commit(&ctx);

	double t0 = now_s();
	for (int q = 0; q < QUOTES; q++) {
		object_begin(&ctx);
		int64_t quote = create(&ctx, "quote", json_pack("{s:s, s:I, s:I, s:s, s:f}", "name", "Bench quote",
		                                                "opportunity", (json_int_t)deals[q], "account",
		                                                (json_int_t)account, "valid_until", "2099-12-31",
		                                                "discount", 5.0));
		for (int i = 0; i < LINES; i++)
			create(&ctx, "quote_line", json_pack("{s:I, s:I, s:f, s:f}", "quote", (json_int_t)quote, "product",
			                                     (json_int_t)products[i], "quantity", 1.0 + i % 7,
			                                     "discount", (double)(i % 3) * 5));
		fire(&ctx, "quote", quote, "submit");
		fire(&ctx, "quote", quote, "approve");
		fire(&ctx, "quote", quote, "present");
		fire(&ctx, "quote", quote, "accept");
		if (object_commit(&ctx) != CRM_OK)
			return 1;
	}
	double quotes = QUOTES / (now_s() - t0);

	t0 = now_s();
	for (int q = 0; q < QUOTES; q++) {
		object_begin(&ctx);
		for (int r = 0; r < ROWS_PER_QUOTE; r++) {
			char name[48];
			snprintf(name, sizeof(name), "Floor %d-%d", q, r);
			create(&ctx, "contact", json_pack("{s:s}", "last_name", name));
		}
		if (object_commit(&ctx) != CRM_OK)
			return 1;
	}
	double floor = QUOTES / (now_s() - t0);
	printf("%-52s %8.0f/s  (%d rows each)\n", "plain creates, grouped as one quote's rows (floor)", floor,
	       ROWS_PER_QUOTE);
	printf("%-52s %8.0f/s  (%.0f%% of the floor)\n", "quote of 20 lines created and accepted (+ order)", quotes,
	       100 * quotes / floor);
	crm_ctx_clear(&ctx);
	kernel_close(kernel);
	fclose(quiet);
	bench_remove_db(db);
	return 0;
}
