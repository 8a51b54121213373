/*
 * ytree.h - YAML text read into small trees that keep the line and column of
 * every node, so that the metadata loader (meta.c) and the plugin manifests
 * (plugin.c) report each problem at the key or value that causes it.
 *
 * Anchors, aliases, tags and NUL characters are refused and nesting and node
 * count are bounded: metadata and manifests also come from plugins, and a
 * reader that a file can make explode (billion laughs) is not worth the
 * keystrokes anchors save. What the reader refuses reaches the caller as a
 * struct ytree_problem, which each caller words in its own messages.
 */
#ifndef CRM_YTREE_H
#define CRM_YTREE_H

#include <stdbool.h>
#include <stddef.h>

enum ynode_kind { YNODE_SCALAR, YNODE_SEQUENCE, YNODE_MAPPING };

struct ynode {
	enum ynode_kind kind;
	int line, column;         /* 1-based */
	char *text;               /* scalar; NUL characters inside are refused */
	bool plain;               /* scalar written without quotes: may be a number, bool or null */
	int count, cap;
	struct ynode **items;     /* owned; sequence: items; mapping: key, value, key, value, ... */
};

enum ytree_problem_kind {
	YTREE_BAD_CHARACTERS,      /* libyaml's reader: not UTF-8, a control character; ends the text */
	YTREE_BAD_SYNTAX,          /* libyaml's scanner or parser; ends the text */
	YTREE_REFUSED_NODE,        /* an alias, anchor, tag or NUL character; skips the document */
	YTREE_TOO_MANY_NODES,      /* more than max_nodes; ends the text */
	YTREE_TOO_DEEP,            /* nested deeper than max_depth; ends the text */
};

/* What the reader refused, at line:column (1-based). Strings are borrowed for the call. */
struct ytree_problem {
	enum ytree_problem_kind kind;
	int line, column;
	const char *text;         /* BAD_*: libyaml's description, NULL when it ran out of memory */
	const char *context;      /* BAD_*: what libyaml was reading (at context_line), or NULL */
	int context_line;
	const char *alias, *anchor, *tag;   /* REFUSED_NODE: what the node carries, or NULL */
	bool nul;                 /* REFUSED_NODE: a NUL character in a scalar */
};

struct ytree_reader {
	int max_depth;            /* nested sequences and mappings */
	int max_nodes;            /* nodes in one document, or with nodes_per_text in the whole text */
	bool nodes_per_text;
	void *context;            /* passed to the callbacks */
	void (*problem)(void *context, const struct ytree_problem *problem);
	/* NULL, or called as each mapping closes: false skips the document (the callback said why). */
	bool (*mapping_done)(void *context, const struct ynode *map);
	/* Each document that was not skipped; root is owned by the callback. */
	void (*document)(void *context, struct ynode *root);
};

/*
 * Reads every document of text (length bytes, no NUL needed at the end),
 * calling reader's callbacks in the order of the text.
 */
void ytree_read(const struct ytree_reader *reader, const char *text, size_t length);
/* The value of the first key equal to key in map, or NULL (also when map is NULL or no mapping). */
const struct ynode *ytree_map_get(const struct ynode *map, const char *key);
/* Frees node and everything under it; NULL is fine. */
void ytree_free(struct ynode *node);

#endif
