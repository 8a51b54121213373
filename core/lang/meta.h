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
/* The same for a deployment of industry (app.yaml `industries:`); NULL: app.yaml's `industry:`. */
int meta_load_industry(const char *metadata_dir, const char *plugins_dir, const char *industry, struct meta **out,
                       struct meta_diags *diags);
/* Loads from in-memory YAML documents (tests, fuzzing). names[i] labels texts[i]. */
int meta_load_texts(int count, const char *const *names, const char *const *texts,
                    struct meta **out, struct meta_diags *diags);
void meta_free(struct meta *meta);
void meta_diags_free(struct meta_diags *diags);
/* Prints every diagnostic as "file:line:column: error: message" to stream (a FILE *). */
void meta_diags_print(const struct meta_diags *diags, void *stream);

/*
 * The keys the loader accepts, for the reference (meta_docs.h) and its drift
 * test. Each table is one kind of map ("workflow", "transition", ...: also
 * the section of docs/metadata.md that an unknown-key error points to) with
 * the very NULL-terminated list the loader checks keys against. Static;
 * *count is set to the number of tables. Field keys, valid per field type,
 * are read with the meta_field_key_* functions instead.
 */
struct meta_key_table {
	const char *kind;
	const char *const *keys;
};
const struct meta_key_table *meta_key_tables(int *count);
/* The field keys: index 0 .. meta_field_key_count() - 1, in the loader's order. */
int meta_field_key_count(void);
const char *meta_field_key_name(int key);
/* True if a field of type may carry key (the loader refuses it otherwise). */
bool meta_field_key_valid(int key, enum field_type type);
/* The system fields every object gets, in order: the name of the index-th, or NULL past the last. */
const char *meta_system_field(int index, enum field_type *type);

#endif
