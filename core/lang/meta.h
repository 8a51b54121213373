/*
 * meta.h - the metadata loader: reads YAML (metadata/ *.yaml and the objects/
 * folder of every enabled plugin) into the model of meta_model.h, then checks
 * the model as a whole. It reports every error of a run, each as
 * "file:line:column: message".
 */
#ifndef CRM_META_H
#define CRM_META_H

#include "meta_model.h"

/* One loader diagnostic. */
struct meta_diag {
	char *file;
	int line, column;
	bool warning;
	char *message;
};

struct meta_diags {
	int count, error_count;
	struct meta_diag *items;  /* owned */
};

/*
 * Loads metadata_dir/app.yaml, metadata_dir/ *.yaml (sorted by name, app.yaml
 * excluded) and plugins_dir/<plugin>/objects/ *.yaml for each plugin listed
 * in app.yaml, then resolves refs, rollups, formulas (cycles are errors) and
 * adds the system fields. Returns CRM_OK and sets *out, or CRM_EMETA with
 * every problem in diags. diags is always filled (warnings too); free it
 * with meta_diags_free.
 */
int meta_load(const char *metadata_dir, const char *plugins_dir, struct meta **out,
              struct meta_diags *diags);
/* Loads from in-memory YAML documents (tests, fuzzing). names[i] labels texts[i]. */
int meta_load_texts(int count, const char *const *names, const char *const *texts,
                    struct meta **out, struct meta_diags *diags);
void meta_free(struct meta *meta);
void meta_diags_free(struct meta_diags *diags);
/* Prints every diagnostic as "file:line:column: error: message" to stream (a FILE *). */
void meta_diags_print(const struct meta_diags *diags, void *stream);

#endif
