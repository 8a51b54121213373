/*
 * ytree.c - YAML text into trees of struct ynode (see ytree.h), built from
 * libyaml's events; problems go to the caller's callback as they are met.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "crm.h"
#include "ytree.h"

static struct ynode *node_new(enum ynode_kind kind, int line, int column)
{
	struct ynode *node = xcalloc(1, sizeof(*node));
	node->kind = kind;
	node->line = line;
	node->column = column;
	return node;
}

static void node_append(struct ynode *parent, struct ynode *child)
{
	if (parent->count == parent->cap) {
		parent->cap = parent->cap ? parent->cap * 2 : 8;
		parent->items = xrealloc(parent->items, (size_t)parent->cap * sizeof(*parent->items));
	}
	parent->items[parent->count++] = child;
}

void ytree_free(struct ynode *node)
{
	if (!node)
		return;
	for (int i = 0; i < node->count; i++)
		ytree_free(node->items[i]);
	free(node->items);
	free(node->text);
	free(node);
}

const struct ynode *ytree_map_get(const struct ynode *map, const char *key)
{
	if (!map || map->kind != YNODE_MAPPING)
		return NULL;
	for (int i = 0; i + 1 < map->count; i += 2) {
		if (map->items[i]->kind == YNODE_SCALAR && strcmp(map->items[i]->text, key) == 0)
			return map->items[i + 1];
	}
	return NULL;
}

static void report(const struct ytree_reader *reader, enum ytree_problem_kind kind, int line, int column)
{
	struct ytree_problem problem = { .kind = kind, .line = line, .column = column };
	reader->problem(reader->context, &problem);
}

static void report_parser_error(const struct ytree_reader *reader, const yaml_parser_t *parser, const char *text,
                                size_t length)
{
	struct ytree_problem problem = {
		.kind = YTREE_BAD_SYNTAX,
		.line = (int)parser->problem_mark.line + 1,
		.column = (int)parser->problem_mark.column + 1,
		.text = parser->problem,
		.context = parser->context,
		.context_line = (int)parser->context_mark.line + 1,
	};
	if (parser->error == YAML_READER_ERROR) {
		/* The reader (encoding) reports an offset, not a mark. */
		problem.kind = YTREE_BAD_CHARACTERS;
		problem.line = problem.column = 1;
		for (size_t i = 0; i < parser->problem_offset && i < length; i++) {
			problem.line += text[i] == '\n';
			problem.column = text[i] == '\n' ? 1 : problem.column + 1;
		}
	}
	reader->problem(reader->context, &problem);
}

void ytree_read(const struct ytree_reader *reader, const char *text, size_t length)
{
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		fprintf(stderr, "crm: out of memory (yaml parser)\n");
		abort();
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, length);
	struct ynode **stack = xmalloc((size_t)reader->max_depth * sizeof(*stack));
	struct ynode *root = NULL;
	int depth = 0, node_count = 0;
	bool skip_document = false, done = false;
	while (!done) {
		yaml_event_t event;
		if (!yaml_parser_parse(&parser, &event)) {
			report_parser_error(reader, &parser, text, length);
			break;
		}
		int line = (int)event.start_mark.line + 1, column = (int)event.start_mark.column + 1;
		struct ytree_problem refused = { .kind = YTREE_REFUSED_NODE, .line = line, .column = column };
		struct ynode *node = NULL;
		switch (event.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_END_EVENT:
			if (root && !skip_document)
				reader->document(reader->context, root);
			else
				ytree_free(root);
			root = NULL;
			skip_document = false;
			if (!reader->nodes_per_text)
				node_count = 0;
			break;
		case YAML_ALIAS_EVENT:
			refused.alias = (const char *)event.data.alias.anchor;
			node = node_new(YNODE_SCALAR, line, column);   /* keeps key/value pairs aligned */
			node->text = xstrdup("");
			break;
		case YAML_SCALAR_EVENT:
			refused.anchor = (const char *)event.data.scalar.anchor;
			refused.tag = (const char *)event.data.scalar.tag;
			node = node_new(YNODE_SCALAR, line, column);
			node->text = xstrndup((const char *)event.data.scalar.value, event.data.scalar.length);
			node->plain = event.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
			/* "\0" in a quoted text would cut names short behind our back. */
			refused.nul = memchr(event.data.scalar.value, '\0', event.data.scalar.length) != NULL;
			break;
		case YAML_SEQUENCE_START_EVENT:
			refused.anchor = (const char *)event.data.sequence_start.anchor;
			refused.tag = (const char *)event.data.sequence_start.tag;
			node = node_new(YNODE_SEQUENCE, line, column);
			break;
		case YAML_MAPPING_START_EVENT:
			refused.anchor = (const char *)event.data.mapping_start.anchor;
			refused.tag = (const char *)event.data.mapping_start.tag;
			node = node_new(YNODE_MAPPING, line, column);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (depth > 0) {
				struct ynode *closed = stack[--depth];
				if (closed->kind == YNODE_MAPPING && reader->mapping_done
				    && !reader->mapping_done(reader->context, closed))
					skip_document = true;
			}
			break;
		default:
			break;
		}
		if (refused.alias || refused.anchor || refused.tag || refused.nul) {
			reader->problem(reader->context, &refused);
			skip_document = true;
		}
		yaml_event_delete(&event);
		if (!node)
			continue;
		if (++node_count > reader->max_nodes) {
			report(reader, YTREE_TOO_MANY_NODES, line, column);
			ytree_free(node);
			break;
		}
		if (depth > 0) {
			node_append(stack[depth - 1], node);
		} else if (!root) {
			root = node;
		} else {
			ytree_free(node);   /* libyaml gives one root per document; never reached */
			continue;
		}
		if (node->kind != YNODE_SCALAR) {
			if (depth == reader->max_depth) {
				report(reader, YTREE_TOO_DEEP, line, column);
				break;
			}
			stack[depth++] = node;
		}
	}
	ytree_free(root);
	free(stack);
	yaml_parser_delete(&parser);
}
