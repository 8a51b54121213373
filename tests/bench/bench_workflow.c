/*
 * bench_workflow.c - workflow transitions per second (each with a guard and
 * a set action, audited) beside plain updates of the same records, through
 * the object API on a temporary database, in transactions of 1,000 so that
 * the figure is the engine's cost and not the disk's fsync.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "kernel.h"
#include "object.h"
#include "workflow.h"
#include "bench.h"

#define RECORDS 1000
#define ROUNDS 20

static const char *const objects_yaml =
	"object: deal\n"
	"fields:\n"
	"  name: { type: text, required: true }\n"
	"  amount: { type: money }\n"
	"  stage: { type: enum, values: [open, review] }\n"
	"  note: { type: text }\n";

static const char *const workflow_yaml =
	"workflow: deal_flow\n"
	"object: deal\n"
	"field: stage\n"
	"initial: open\n"
	"transitions:\n"
	"  - { name: submit, from: open, to: review, when: \"amount > 0\", do: [{ set: { note: submitted } }] }\n"
	"  - { name: reopen, from: review, to: open, when: \"amount > 0\", do: [{ set: { note: reopened } }] }\n";

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0)
		exit(1);
	fclose(f);
}

int main(void)
{
	char dir[] = "/tmp/crm-bench-workflow-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	char metadata[600], db[600];
	snprintf(metadata, sizeof(metadata), "%s/metadata", dir);
	snprintf(db, sizeof(db), "%s/bench.db", dir);
	mkdir(metadata, 0755);
	write_file(metadata, "app.yaml", "app: bench\nplugins: []\n");
	write_file(metadata, "objects.yaml", objects_yaml);
	write_file(metadata, "workflows.yaml", workflow_yaml);
	FILE *quiet = fopen("/dev/null", "w");
	struct kernel_options options = { .db_path = db, .metadata_dir = metadata, .plugins_dir = dir,
	                                  .migrate = true, .log = quiet };
	struct crm_kernel *kernel;
	if (kernel_open(&options, &kernel) != CRM_OK)
		return 1;
	struct crm_ctx ctx;
	crm_ctx_init(&ctx, kernel, 0, "bench");
	int64_t ids[RECORDS];
	object_begin(&ctx);
	for (int i = 0; i < RECORDS; i++) {
		json_t *v = json_pack("{s:s, s:f}", "name", "deal", "amount", 100.0 + i);
		object_create_id(&ctx, "deal", v, &ids[i]);
		json_decref(v);
	}
	object_commit(&ctx);

	double t0 = now_s();
	int fired = 0;
	for (int round = 0; round < ROUNDS; round++) {
		object_begin(&ctx);
		for (int i = 0; i < RECORDS; i++) {
			json_t *out = NULL;
			if (workflow_fire(&ctx, "deal", ids[i], round % 2 ? "reopen" : "submit", NULL, 0, &out) == CRM_OK)
				fired++;
			json_decref(out);
		}
		object_commit(&ctx);
	}
	double transitions = fired / (now_s() - t0);

	t0 = now_s();
	int updated = 0;
	for (int round = 0; round < ROUNDS; round++) {
		object_begin(&ctx);
		for (int i = 0; i < RECORDS; i++) {
			json_t *v = json_pack("{s:s}", "note", round % 2 ? "odd" : "even");
			if (object_update(&ctx, "deal", ids[i], 0, v, NULL) == CRM_OK)
				updated++;
			json_decref(v);
		}
		object_commit(&ctx);
	}
	double updates = updated / (now_s() - t0);
	printf("%-44s %10.0f/s\n", "plain update (object API)", updates);
	printf("%-44s %10.0f/s  (%.0f%% of plain updates; %d of %d fired)\n",
	       "transition with guard + set action (audited)", transitions, 100 * transitions / updates, fired,
	       RECORDS * ROUNDS);
	crm_ctx_clear(&ctx);
	kernel_close(kernel);
	fclose(quiet);
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
