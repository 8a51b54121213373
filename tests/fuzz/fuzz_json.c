/*
 * fuzz_json.c - libFuzzer target for the JSON-body-to-record path: the bytes
 * are parsed as the server parses a request body (depth pre-scan, jansson,
 * duplicate keys refused) and, when they are an object, created as a record
 * through object_create inside a transaction that is then rolled back, and
 * the result encoded as the server would send it. Refusals are fine; crashes,
 * leaks and undefined behaviour are not. Two properties are checked as well
 * (a failure aborts): the response encoder (jsonw) writes JSON that reads
 * back equal to what it encoded, and a created record written straight from
 * its row (object_get_text, the REST GET) equals the encoded record.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "api.h"
#include "jsonw.h"
#include "kernel.h"
#include "object.h"

static const char app_yaml[] = "app: fuzz\nlanguages: [en]\nplugins: []\n";
static const char thing_yaml[] =
	"object: company\nfields:\n  name: { type: text, required: true }\n"
	"---\n"
	"object: thing\nfields:\n"
	"  title: { type: text, required: true, max: 80 }\n  notes: { type: textarea }\n"
	"  email: { type: email }\n  phone: { type: phone }\n  website: { type: url }\n"
	"  quantity: { type: int, min: 0, max: 1000 }\n  ratio: { type: decimal }\n"
	"  amount: { type: money, min: 0 }\n  discount: { type: percent }\n  active: { type: bool }\n"
	"  due: { type: date }\n  at: { type: datetime }\n"
	"  status: { type: enum, values: [new, open, closed], default: new }\n"
	"  tags: { type: multienum, values: [red, green, blue] }\n"
	"  company: { type: ref, to: company }\n  extra: { type: json }\n  place: { type: geo }\n"
	"  number: { type: autonumber, format: \"T-{000}\" }\n"
	"  total: { type: money, formula: \"amount * quantity\" }\n"
	"rules:\n  - { when: \"status = 'closed' and amount is null\", message: needs an amount }\n";

static struct crm_kernel *kernel;
static char dir[64];

static void write_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0)
		abort();
	fclose(f);
}

static void remove_dir(void)
{
	static const char *const files[] = { "app.yaml", "thing.yaml", "fuzz.db", "fuzz.db-wal",
	                                     "fuzz.db-shm", NULL };
	char path[128];
	if (kernel)
		kernel_close(kernel);
	for (int i = 0; files[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

static void open_kernel(void)
{
	struct kernel_options options;
	char db[128];
	snprintf(dir, sizeof(dir), "/tmp/crm-fuzz-json-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	write_file("app.yaml", app_yaml);
	write_file("thing.yaml", thing_yaml);
	snprintf(db, sizeof(db), "%s/fuzz.db", dir);
	memset(&options, 0, sizeof(options));
	options.db_path = db;
	options.metadata_dir = dir;
	options.plugins_dir = dir;
	options.readers = 1;
	options.migrate = true;
	options.log = fopen("/dev/null", "w");
	if (kernel_open(&options, &kernel) != CRM_OK)
		abort();
	atexit(remove_dir);
}

/* What jsonw writes reads back as the value it wrote. */
static void check_round_trip(const json_t *value)
{
	struct jsonw w = { 0 };
	jsonw_value(&w, value);
	size_t len;
	char *text = jsonw_finish(&w, &len);
	json_error_t error;
	json_t *back = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
	if (!back || !json_equal(back, value)) {
		fprintf(stderr, "jsonw wrote %s (%s)\n", text, back ? "reads back different" : error.text);
		abort();
	}
	json_decref(back);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *body = NULL, *record = NULL;
	struct crm_ctx ctx;
	char err[300];

	if (!kernel)
		open_kernel();
	if (api_parse_json((const char *)data, size, API_MAX_JSON_DEPTH, &body, err, sizeof(err)) != CRM_OK)
		return 0;
	check_round_trip(body);
	if (json_is_object(body)) {
		crm_ctx_init(&ctx, kernel, 0, "fuzz");
		if (object_begin(&ctx) == CRM_OK) {
			if (object_create(&ctx, "thing", body, &record) == CRM_OK) {
				size_t len;
				char *encoded = api_dump_json(record, &len);
				struct jsonw text = { 0 };
				int64_t version = 0;
				json_int_t id = json_integer_value(json_object_get(record, "id"));
				if (object_get_text(&ctx, "thing", id, false, &text, &version) != CRM_OK)
					abort();
				char *direct = jsonw_finish(&text, NULL);
				if (strcmp(direct, encoded) != 0) {
					fprintf(stderr, "encoded: %s\nfrom the row: %s\n", encoded, direct);
					abort();
				}
				free(direct);
				free(encoded);
				json_decref(record);
			}
			object_rollback(&ctx);
		}
		crm_ctx_clear(&ctx);
	}
	json_decref(body);
	return 0;
}
