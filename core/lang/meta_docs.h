/*
 * meta_docs.h - the metadata reference, docs/metadata.md: every kind of
 * document and map an implementer writes, every key with its type, allowed
 * values, default, the field types that take it and an example. The keys
 * come from the loaders' own tables (meta_key_tables, the meta_field_key_*
 * functions, and the plugin manifest's tables, which the hosts layer above
 * hands in as extra); the words come from meta_docs.c. `crm docs metadata`
 * prints it; meta_docs_check is the test that the two agree.
 */
#ifndef CRM_META_DOCS_H
#define CRM_META_DOCS_H

#include <stddef.h>
#include <stdio.h>
#include "meta.h"

/*
 * Writes the reference as Markdown to out. extra: key tables checked by
 * loaders above this layer (plugin_key_tables: plugin.yaml and its limits);
 * each needs its section in meta_docs.c like the loader's own.
 */
void meta_docs_write(FILE *out, const struct meta_key_table *extra, int extra_count);

/*
 * Compares the documented keys with the keys the loaders accept (and the
 * field types, system fields and expression functions with theirs). Returns
 * the number of disagreements, 0 if none; err gets them, "; "-separated
 * (cut to errlen): a key without an entry, an entry for a key no loader
 * accepts, a kind without a section.
 */
int meta_docs_check(const struct meta_key_table *extra, int extra_count, char *err, size_t errlen);

#endif
