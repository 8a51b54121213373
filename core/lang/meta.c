/*
 * meta.c - the metadata loader: reads app.yaml, the other metadata files and
 * the objects/ folder of every enabled plugin into the model of meta.h, then
 * checks the model as a whole.
 *
 * YAML is read by ytree.c into a small tree (ynode) that keeps the line and
 * column of every node, so each problem is reported at the key or value that
 * causes it; size, nesting and node count are bounded, since metadata also
 * comes from plugins.
 *
 * Loading runs in three stages:
 *   1. parse: every object document becomes a staged object (a definition or
 *      an extension), holding next to the model the positions of the values
 *      that the later checks report on; every role document becomes a role
 *      whose object and field names wait, with their positions, beside it;
 *      every workflow document becomes a workflow holding names and
 *      positions (states, fields, roles, actions are checked in stage 3),
 *      or, with `extend: true`, an extension of one waiting beside them;
 *   2. merge: extensions are applied to their definitions in load order,
 *      whatever the file order: objects (fields, rules, indexes, views),
 *      then the values fields with `extend: true` add to enums, then
 *      workflows (terminal states, transitions, timers, then the actions
 *      appended to transitions);
 *   3. resolve: refs, user fields, rollups, expression paths, formula cycles,
 *      rule fields and index fields are checked against the whole model, then
 *      the roles' objects, fields and access expressions (a role may name an
 *      object of any file or plugin), then the workflows: the state field (an
 *      enum), states, terminal states left by no transition, fields, roles,
 *      guards, actions (a plugin action's plugin must be enabled in app.yaml;
 *      whether the plugin defines it is known only once plugins load; a
 *      timer's transition must be one of its workflow's) and states
 *      unreachable from the initial one (a warning), each workflow as
 *      merged;
 *   4. type: once the model has no error, every expression is typed over its
 *      object (expr_check), as the SQL compiler will type it.
 * Every error of the run is collected; the model is handed out only when
 * there are none.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sodium.h>
#include "meta.h"
#include "expr.h"
#include "ytree.h"

#define MAX_FILE_SIZE   (4 * 1024 * 1024)
#define MAX_DEPTH       32        /* nested mappings and lists in one document */
#define MAX_NODES       200000    /* nodes in one document */
#define MAX_DIAGS       500       /* diagnostics kept; error_count goes on counting */
#define MAX_FIELDS      2000      /* SQLite's default column limit */
#define MAX_VALUE_CHARS 64        /* enum values */
#define MAX_TEXT_LENGTH 10000000  /* max_length */
#define MAX_SCALE       15        /* digits a double carries */
#define MAX_FORMAT      255       /* autonumber format */

#define NAME_RULE "lower-case letters, digits and _, not starting with a digit, at most 63 characters"


/* Added first to every object, in this order. */
static const struct {
	const char *name;
	enum field_type type;
	const char *en, *zh;         /* their labels: people read system fields too */
} system_fields[] = {
	{"id", FIELD_INT, "ID", "编号"},
	{"created_at", FIELD_DATETIME, "Created", "创建时间"},
	{"created_by", FIELD_USER, "Created by", "创建人"},
	{"updated_at", FIELD_DATETIME, "Last modified", "最后修改时间"},
	{"updated_by", FIELD_USER, "Last modified by", "最后修改人"},
	{"owner", FIELD_USER, "Owner", "负责人"},
	{"version", FIELD_INT, "Version", "版本"},
	{"deleted_at", FIELD_DATETIME, "Deleted", "删除时间"},
};
#define SYSTEM_FIELD_COUNT ((int)(sizeof(system_fields) / sizeof(system_fields[0])))

/* Field keys and the types each is valid for: one table, so the messages
 * that list the allowed keys can never disagree with the parser. */
#define TYPE_BIT(t)     (1u << (t))
#define ALL_TYPES       ((1u << FIELD_TYPE_COUNT) - 1)
#define TEXT_TYPES      (TYPE_BIT(FIELD_TEXT) | TYPE_BIT(FIELD_TEXTAREA) | TYPE_BIT(FIELD_EMAIL) | \
                         TYPE_BIT(FIELD_PHONE) | TYPE_BIT(FIELD_URL))
#define SCALED_TYPES    (TYPE_BIT(FIELD_DECIMAL) | TYPE_BIT(FIELD_MONEY) | TYPE_BIT(FIELD_PERCENT))
#define NUMBER_TYPES    (TYPE_BIT(FIELD_INT) | SCALED_TYPES)
#define COMPUTED_TYPES  (TYPE_BIT(FIELD_FORMULA) | TYPE_BIT(FIELD_ROLLUP))
#define RESULT_TYPES    (TYPE_BIT(FIELD_TEXT) | NUMBER_TYPES | TYPE_BIT(FIELD_BOOL) | \
                         TYPE_BIT(FIELD_DATE) | TYPE_BIT(FIELD_DATETIME))

enum field_key {
	FK_TYPE, FK_LABEL, FK_DESCRIPTION, FK_REQUIRED, FK_SEARCH, FK_UNIQUE, FK_READONLY,
	FK_MIN, FK_MAX, FK_MAX_LENGTH, FK_SCALE, FK_DEFAULT, FK_VALUES, FK_TO, FK_ON_DELETE,
	FK_FORMULA, FK_RETURNS, FK_OF, FK_MEASURE, FK_WHERE, FK_FORMAT, FK_PERSONAL, FK_EXTEND, FK_CURRENCY,
	FK_COUNT
};

static const struct {
	const char *name;
	unsigned types;
} field_keys[FK_COUNT] = {
	[FK_TYPE] = {"type", ALL_TYPES},
	[FK_LABEL] = {"label", ALL_TYPES},
	[FK_DESCRIPTION] = {"description", ALL_TYPES},
	[FK_REQUIRED] = {"required", ALL_TYPES & ~(COMPUTED_TYPES | TYPE_BIT(FIELD_AUTONUMBER))},
	[FK_SEARCH] = {"search", ALL_TYPES},
	[FK_UNIQUE] = {"unique", ALL_TYPES & ~COMPUTED_TYPES},
	[FK_READONLY] = {"readonly", ALL_TYPES},
	[FK_MIN] = {"min", NUMBER_TYPES | TEXT_TYPES},
	[FK_MAX] = {"max", NUMBER_TYPES | TEXT_TYPES},
	[FK_MAX_LENGTH] = {"max_length", TEXT_TYPES},
	[FK_SCALE] = {"scale", SCALED_TYPES | TYPE_BIT(FIELD_FORMULA)},
	[FK_DEFAULT] = {"default", ALL_TYPES & ~(COMPUTED_TYPES | TYPE_BIT(FIELD_GEO) | TYPE_BIT(FIELD_AUTONUMBER))},
	[FK_VALUES] = {"values", TYPE_BIT(FIELD_ENUM) | TYPE_BIT(FIELD_MULTIENUM)},
	[FK_TO] = {"to", TYPE_BIT(FIELD_REF) | TYPE_BIT(FIELD_USER)},
	[FK_ON_DELETE] = {"on_delete", TYPE_BIT(FIELD_REF) | TYPE_BIT(FIELD_USER)},
	[FK_FORMULA] = {"formula", TYPE_BIT(FIELD_FORMULA)},
	[FK_RETURNS] = {"returns", TYPE_BIT(FIELD_FORMULA)},
	[FK_OF] = {"of", TYPE_BIT(FIELD_ROLLUP)},
	[FK_MEASURE] = {"measure", TYPE_BIT(FIELD_ROLLUP)},
	[FK_WHERE] = {"where", TYPE_BIT(FIELD_ROLLUP)},
	[FK_FORMAT] = {"format", TYPE_BIT(FIELD_AUTONUMBER)},
	[FK_PERSONAL] = {"personal", ALL_TYPES & ~COMPUTED_TYPES},
	/* in an object extension, with `values` alone: adds values to an enum defined elsewhere (parse_field_extension) */
	[FK_EXTEND] = {"extend", TYPE_BIT(FIELD_ENUM) | TYPE_BIT(FIELD_MULTIENUM)},
	/* money: a fixed ISO 4217 code, or the text or enum field of the record that holds one */
	[FK_CURRENCY] = {"currency", TYPE_BIT(FIELD_MONEY) | TYPE_BIT(FIELD_FORMULA) | TYPE_BIT(FIELD_ROLLUP)},
};

static const char *const object_keys[] = {
	"object", "label", "label_plural", "module", "extend", "fields", "rules", "indexes", "views", "description",
	"append_only", NULL,
};
static const char *const module_keys[] = {"name", "label", NULL};
static const char *const app_keys[] = {"app", "industry", "industries", "languages", "plugins", "config", "signup",
                                       NULL};
static const char *const industry_keys[] = {"label", "plugins", NULL};
static const char *const signup_keys[] = {"role", "template", "url", "expires_hours", NULL};
/* app.yaml config.outbox (core/engine/outbox.c reads them) and one of its webhooks. */
static const char *const outbox_keys[] = {
	"smtp_url", "from", "smtp_user_env", "smtp_password_env", "starttls", "timeout", "retry_base", "retry_cap",
	"max_attempts", "max_body", "poll", "webhooks", NULL,
};
static const char *const webhook_keys[] = { "url", "secret_env", NULL };
static const char *const rule_keys[] = {"when", "message", "field", NULL};
static const char *const index_keys[] = {"fields", "unique", NULL};
static const char *const value_keys[] = {"value", "label", NULL};
static const char *const plugin_keys[] = {"name", "version", NULL};
static const char *const role_keys[] = {"role", "extend", "label", "kind", "admin", "objects", "fields", "navigation",
                                        "home", "description", NULL};
static const char *const role_home_keys[] = {"title", "sections", NULL};
static const char *const home_section_keys[] = {"object", "title", "filter", "sort", "fields", "limit", "new", NULL};
/* The first ACCESS_OP_COUNT entries are the operations, in enum access_op order. */
static const char *const role_object_keys[] = {"read", "create", "update", "delete", "change_owner", NULL};
static const char *const user_kind_names[] = {"employee", "partner", "consumer", NULL};
static const char *const field_access_names[] = {"write", "read", "hidden", NULL};   /* enum field_access order */

#define LEVEL_WORDS "none, own, team, all, true, false or an expression"

/* ------------------------------------------------------------------ loader */

/* Positions the resolve stage reports on, kept beside each field. */
struct field_aux {
	struct meta_pos type_pos, to_pos, formula_pos, of_pos, measure_pos, where_pos, currency_pos;
	bool to_given;
	bool broken;              /* already reported: later checks do not pile on */
	bool extends;             /* `extend: true`: values to add to the field of that name (merge_values) */
};

struct rule_aux {
	struct meta_pos when_pos, field_pos;
};

struct index_aux {
	struct meta_pos *field_pos;   /* owned, one per index field */
};

/* A grid of line items is a row of inputs: more columns than this do not fit a page. */
#define LINES_MAX_FIELDS 12

/*
 * Where views.lines was written, part by part: its names are checked once
 * every object is loaded (check_lines_view), and each error points at the
 * name it is about.
 */
struct lines_aux {
	bool present;                 /* written, with a valid shape: check_lines_view looks at it */
	struct meta_pos at;           /* the `lines` key */
	struct meta_pos object_pos, ref_pos, order_pos;
	struct meta_pos field_pos[LINES_MAX_FIELDS];   /* parallel to views.lines.fields */
};

#define CONSOLE_MAX_ITEMS 8

/*
 * Where views.console was written (parse_console_view): its names are checked
 * once every object is loaded (check_console_view), each error at the value
 * of the key it is about.
 */
struct console_aux {
	bool present;                 /* written, with a valid shape */
	struct meta_pos at;           /* the `console` key */
	struct meta_pos key_pos[16];  /* the value of each key, by its index in console_keys */
	struct meta_pos clock_pos[CONSOLE_MAX_ITEMS], related_pos[CONSOLE_MAX_ITEMS], panel_pos[CONSOLE_MAX_ITEMS];
};

/* An object document, before extensions are merged into definitions. */
struct staged_object {
	struct meta_object object;
	bool extend;
	bool over_field_limit;        /* reported once */
	int field_cap;
	struct field_aux *field_aux;  /* parallel to object.fields */
	struct rule_aux *rule_aux;    /* parallel to object.rules */
	struct index_aux *index_aux;  /* parallel to object.indexes */
	struct lines_aux lines;       /* views.lines, from the last document that wrote it */
	struct console_aux console;   /* views.console, likewise */
};

/*
 * The names a role refers to, kept until every object is merged: a role may
 * name an object that a later file or a plugin defines.
 */
struct role_aux {
	char **object_names;          /* owned, parallel to role.objects */
	struct meta_pos *object_pos;  /* the object's key under `objects:` */
	char **field_keys;            /* owned "object.field", parallel to role.fields */
	struct meta_pos *field_pos;   /* the key under `fields:` */
	int object_count, field_count;
};

/* A `workflow: name, extend: true` document, kept until every file is read (merge_workflows). */
struct workflow_extension {
	struct meta_workflow workflow;   /* name, pos, and what it adds: terminal states, transitions, timers */
	bool *extends;                   /* parallel to workflow.transitions: appends its `do` to the transition of that name */
};

struct loader {
	struct meta *meta;
	struct meta_diags *diags;
	const char *file;             /* being parsed; borrowed from meta->files */
	bool app_file;                /* file is app.yaml */
	bool app_seen;
	struct meta_pos *plugin_pos;  /* parallel to meta->plugins */
	struct meta_pos industry_pos; /* app.yaml's `industry:`, else the document: where --industry is judged */
	int staged_count, staged_cap;
	struct staged_object *staged; /* load order; after the merge: definitions only, parallel to meta->objects */
	int role_cap;
	struct role_aux *role_aux;    /* parallel to meta->roles */
	/* `role: x, extend: true` documents, merged into their roles once every file is read */
	int role_ext_count, role_ext_cap;
	struct meta_role *role_ext;
	struct role_aux *role_ext_aux;
	int workflow_extension_count;
	struct workflow_extension *workflow_extensions;   /* load order */
	crypto_hash_sha256_state hash;
	char shown[4][160];           /* ring of buffers for shown() */
	int shown_next;
};

static void add_diag(struct loader *ld, bool warning, const char *file, int line, int column,
                     const char *fmt, va_list ap)
{
	struct meta_diags *diags = ld->diags;
	if (!warning)
		diags->error_count++;
	/* A hostile file could produce millions of errors: keep the first
	 * MAX_DIAGS, the last of which says so. */
	if (diags->count >= MAX_DIAGS)
		return;
	struct strbuf message = {0};
	if (diags->count == MAX_DIAGS - 1)
		strbuf_puts(&message, "too many problems; the rest are not listed");
	else
		strbuf_vprintf(&message, fmt, ap);
	diags->items = xrealloc(diags->items, (size_t)(diags->count + 1) * sizeof(*diags->items));
	struct meta_diag *item = &diags->items[diags->count++];
	item->file = xstrdup(file ? file : "(unknown)");
	item->line = line;
	item->column = column;
	item->warning = warning;
	item->message = strbuf_detach(&message);
}

static void error_at(struct loader *ld, struct meta_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void error_at(struct loader *ld, struct meta_pos pos, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_diag(ld, false, pos.file, pos.line, pos.column, fmt, ap);
	va_end(ap);
}

static struct meta_pos node_pos(const struct loader *ld, const struct ynode *node)
{
	struct meta_pos pos = {ld->file, node->line, node->column};
	return pos;
}

static struct meta_pos line_pos(const struct loader *ld, int line, int column)
{
	struct meta_pos pos = {ld->file, line, column};
	return pos;
}

#define error_node(ld, node, ...) error_at((ld), node_pos((ld), (node)), __VA_ARGS__)

/*
 * Makes text safe to quote in a one-line message: control characters are
 * escaped and long texts cut (never inside a UTF-8 character). The result
 * lives in one of four buffers of the loader, enough for one message.
 */
static const char *shown(struct loader *ld, const char *text)
{
	char *out = ld->shown[ld->shown_next++ % 4];
	size_t size = sizeof(ld->shown[0]), len = 0;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		char piece[8];
		size_t piece_len = 1;
		if (*p < 0x20 || *p == 0x7f)
			piece_len = (size_t)snprintf(piece, sizeof(piece), "\\x%02x", *p);
		else
			piece[0] = (char)*p;
		if (len + piece_len + 4 > size) {
			if ((*p & 0xC0) == 0x80) {
				while (len > 0 && ((unsigned char)out[len - 1] & 0xC0) == 0x80)
					len--;
				if (len > 0)
					len--;
			}
			memcpy(out + len, "...", 3);
			len += 3;
			break;
		}
		memcpy(out + len, piece, piece_len);
		len += piece_len;
	}
	out[len] = '\0';
	return out;
}

/* "a, b, c" from a NULL-terminated list, for "expected one of" messages. */
static void join_words(struct strbuf *sb, const char *const *words)
{
	for (int i = 0; words[i]; i++)
		strbuf_printf(sb, "%s%s", i ? ", " : "", words[i]);
}

static const char *key_section(const char *const *allowed);   /* beside the workflow key tables */

/* Names the allowed keys and the section of docs/metadata.md that documents them. */
static void error_unknown_key(struct loader *ld, const struct ynode *key, const char *where,
                              const char *const *allowed)
{
	struct strbuf list = {0};
	join_words(&list, allowed);
	error_node(ld, key, "unknown key '%s' in %s (expected one of: %s) (see docs/metadata.md#%s)",
	           shown(ld, key->text), where, list.data, key_section(allowed));
	strbuf_free(&list);
}

static bool in_list(const char *word, const char *const *list)
{
	for (int i = 0; list[i]; i++) {
		if (strcmp(word, list[i]) == 0)
			return true;
	}
	return false;
}

struct name_ref {
	const char *name;
	int index;
};

static int compare_name_ref(const void *a, const void *b)
{
	const struct name_ref *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : (x->index > y->index) - (x->index < y->index);
}

/*
 * Sets first[i] to the index of the first of names equal to names[i] (i
 * itself for the first or only one). Sorting keeps this O(n log n): a file
 * may hold a hundred thousand keys.
 */
static void find_first_occurrences(int count, const char *const *names, int *first)
{
	struct name_ref *refs = xmalloc((size_t)count * sizeof(*refs));
	for (int i = 0; i < count; i++) {
		refs[i].name = names[i];
		refs[i].index = i;
	}
	qsort(refs, (size_t)count, sizeof(*refs), compare_name_ref);
	for (int i = 0; i < count; i++) {
		bool same = i > 0 && strcmp(refs[i].name, refs[i - 1].name) == 0;
		first[refs[i].index] = same ? first[refs[i - 1].index] : refs[i].index;
	}
	free(refs);
}

/* ------------------------------------------------------------ reading YAML */

/* What ytree.c refused, worded for metadata. */
static void report_yaml_problem(void *context, const struct ytree_problem *problem)
{
	struct loader *ld = context;
	struct meta_pos pos = line_pos(ld, problem->line, problem->column);
	const char *text = problem->text ? problem->text : "cannot read the document";
	if (problem->kind == YTREE_TOO_MANY_NODES)
		error_at(ld, pos, "document has more than %d values", MAX_NODES);
	else if (problem->kind == YTREE_TOO_DEEP)
		error_at(ld, pos, "nesting deeper than %d levels", MAX_DEPTH);
	else if (problem->kind != YTREE_REFUSED_NODE && problem->context)
		error_at(ld, pos, "invalid yaml: %s (%s at line %d)", text, problem->context, problem->context_line);
	else if (problem->kind != YTREE_REFUSED_NODE)
		error_at(ld, pos, "invalid yaml: %s", text);
	if (problem->alias)
		error_at(ld, pos, "aliases (*%s) are not supported: repeat the value instead", shown(ld, problem->alias));
	if (problem->anchor)
		error_at(ld, pos, "anchors (&%s) are not supported: repeat the value instead", shown(ld, problem->anchor));
	if (problem->tag)
		error_at(ld, pos, "tags (%s) are not supported", shown(ld, problem->tag));
	if (problem->nul)
		error_at(ld, pos, "NUL characters are not allowed");
}

/* Mapping keys must be texts and unique: later lookups rely on it. */
static bool check_mapping_keys(void *context, const struct ynode *map)
{
	struct loader *ld = context;
	int pair_count = map->count / 2;
	bool ok = true;
	for (int i = 0; i < pair_count; i++) {
		const struct ynode *key = map->items[2 * i];
		if (key->kind != YNODE_SCALAR) {
			error_node(ld, key, "mapping keys must be texts");
			ok = false;
		}
	}
	if (!ok || pair_count < 2)
		return ok;
	const char **names = xmalloc((size_t)pair_count * sizeof(*names));
	int *first = xmalloc((size_t)pair_count * sizeof(*first));
	for (int i = 0; i < pair_count; i++)
		names[i] = map->items[2 * i]->text;
	find_first_occurrences(pair_count, names, first);
	for (int i = 0; i < pair_count; i++) {
		if (first[i] != i) {
			error_node(ld, map->items[2 * i], "duplicate key '%s' (first at line %d)",
			           shown(ld, names[i]), map->items[2 * first[i]]->line);
			ok = false;
		}
	}
	free(names);
	free(first);
	return ok;
}

/* ------------------------------------------------------- scalar conversion */

static bool is_null(const struct ynode *node)
{
	if (node->kind != YNODE_SCALAR || !node->plain)
		return false;
	const char *t = node->text;
	return !*t || !strcmp(t, "~") || !strcmp(t, "null") || !strcmp(t, "Null") || !strcmp(t, "NULL");
}

static bool is_int_text(const char *t)
{
	if (*t == '-' || *t == '+')
		t++;
	if (!*t)
		return false;
	for (; *t; t++) {
		if (*t < '0' || *t > '9')
			return false;
	}
	return true;
}

/* [-+]? (digits [. digits?] | . digits) ([eE] [-+]? digits)? : no inf, nan or hex. */
static bool is_float_text(const char *t)
{
	int digits = 0;
	if (*t == '-' || *t == '+')
		t++;
	for (; *t >= '0' && *t <= '9'; t++)
		digits++;
	if (*t == '.') {
		for (t++; *t >= '0' && *t <= '9'; t++)
			digits++;
	}
	if (!digits)
		return false;
	if (*t == 'e' || *t == 'E') {
		t++;
		if (*t == '-' || *t == '+')
			t++;
		if (*t < '0' || *t > '9')
			return false;
		while (*t >= '0' && *t <= '9')
			t++;
	}
	return *t == '\0';
}

static bool parse_int_text(const char *t, long long *out)
{
	if (!is_int_text(t))
		return false;
	errno = 0;
	long long value = strtoll(t, NULL, 10);
	if (errno == ERANGE)
		return false;
	*out = value;
	return true;
}

static bool parse_float_text(const char *t, double *out)
{
	if (!is_float_text(t))
		return false;
	double value = strtod(t, NULL);
	if (!isfinite(value))
		return false;
	*out = value;
	return true;
}

static bool parse_bool_text(const char *t, bool *out)
{
	if (!strcmp(t, "true") || !strcmp(t, "True") || !strcmp(t, "TRUE")) {
		*out = true;
		return true;
	}
	if (!strcmp(t, "false") || !strcmp(t, "False") || !strcmp(t, "FALSE")) {
		*out = false;
		return true;
	}
	return false;
}

/*
 * YAML to JSON as written: quoted scalars are strings; plain ones become
 * numbers, booleans or null when they read as such. Returns NULL only for a
 * text jansson refuses (libyaml already checks UTF-8, so in practice never).
 */
static json_t *node_to_json(const struct ynode *node)
{
	if (node->kind == YNODE_SCALAR) {
		long long integer;
		double real;
		bool boolean;
		if (node->plain) {
			if (is_null(node))
				return json_null();
			if (parse_int_text(node->text, &integer))
				return json_integer(integer);
			if (parse_float_text(node->text, &real))
				return json_real(real);
			if (parse_bool_text(node->text, &boolean))
				return json_boolean(boolean);
		}
		return json_string(node->text);
	}
	json_t *out = node->kind == YNODE_MAPPING ? json_object() : json_array();
	int step = node->kind == YNODE_MAPPING ? 2 : 1;
	for (int i = 0; i < node->count; i += step) {
		json_t *item = node_to_json(node->items[i + step - 1]);
		if (!item) {
			json_decref(out);
			return NULL;
		}
		if (node->kind == YNODE_MAPPING)
			json_object_set_new(out, node->items[i]->text, item);
		else
			json_array_append_new(out, item);
	}
	return out;
}

/* ------------------------------------------------------------ typed values */

static bool get_bool(struct loader *ld, const struct ynode *node, const char *key, bool *out)
{
	if (node->kind == YNODE_SCALAR && node->plain && parse_bool_text(node->text, out))
		return true;
	error_node(ld, node, "expected a boolean (true or false) for '%s'", key);
	return false;
}

static bool get_number(struct loader *ld, const struct ynode *node, const char *key, double *out)
{
	if (node->kind == YNODE_SCALAR && node->plain && parse_float_text(node->text, out))
		return true;
	error_node(ld, node, "expected a number for '%s'", key);
	return false;
}

static bool get_int(struct loader *ld, const struct ynode *node, const char *key, long long min,
                    long long max, long long *out)
{
	long long value;
	if (node->kind == YNODE_SCALAR && node->plain && parse_int_text(node->text, &value) &&
	    value >= min && value <= max) {
		*out = value;
		return true;
	}
	error_node(ld, node, "expected an integer from %lld to %lld for '%s'", min, max, key);
	return false;
}

/* A scalar's text (borrowed from the tree), or NULL after an error. */
static const char *get_text(struct loader *ld, const struct ynode *node, const char *key)
{
	if (node->kind == YNODE_SCALAR && !is_null(node))
		return node->text;
	error_node(ld, node, "expected a text for '%s'", key);
	return NULL;
}

static const char *get_name(struct loader *ld, const struct ynode *node, const char *key)
{
	const char *text = get_text(ld, node, key);
	if (text && !crm_valid_name(text)) {
		error_node(ld, node, "invalid name '%s' for '%s' (expected %s)", shown(ld, text), key, NAME_RULE);
		return NULL;
	}
	return text;
}

static bool valid_language(const char *code)
{
	size_t len = strlen(code);
	if (len == 0 || len > 16 || !((*code >= 'a' && *code <= 'z') || (*code >= 'A' && *code <= 'Z')))
		return false;
	for (const char *p = code; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '_' || *p == '-'))
			return false;
	}
	return true;
}

static void label_add(struct meta_label *label, const char *lang, const char *text)
{
	label->lang = xrealloc(label->lang, (size_t)(label->count + 1) * sizeof(*label->lang));
	label->text = xrealloc(label->text, (size_t)(label->count + 1) * sizeof(*label->text));
	label->lang[label->count] = xstrdup(lang);
	label->text[label->count] = xstrdup(text);
	label->count++;
}

static void label_free(struct meta_label *label)
{
	for (int i = 0; i < label->count; i++) {
		free(label->lang[i]);
		free(label->text[i]);
	}
	free(label->lang);
	free(label->text);
	memset(label, 0, sizeof(*label));
}

/* A text (stored under "en") or a map of language codes to texts; replaces *out. */
static bool parse_label(struct loader *ld, const struct ynode *node, const char *key, struct meta_label *out)
{
	struct meta_label label = {0};
	if (node->kind == YNODE_SCALAR && !is_null(node)) {
		label_add(&label, "en", node->text);
	} else if (node->kind == YNODE_MAPPING && node->count > 0) {
		bool ok = true;
		for (int i = 0; i < node->count; i += 2) {
			const struct ynode *lang = node->items[i];
			const char *text = get_text(ld, node->items[i + 1], key);
			if (!valid_language(lang->text)) {
				error_node(ld, lang, "invalid language code '%s' in '%s'", shown(ld, lang->text), key);
				ok = false;
			} else if (!text) {
				ok = false;
			} else {
				label_add(&label, lang->text, text);
			}
		}
		if (!ok) {
			label_free(&label);
			return false;
		}
	} else {
		error_node(ld, node, "expected a text or a map of language codes to texts for '%s'", key);
		return false;
	}
	label_free(out);
	*out = label;
	return true;
}

/* ------------------------------------------------------------ model memory */

static void field_free(struct meta_field *field)
{
	free(field->name);
	label_free(&field->label);
	json_decref(field->default_value);
	free(field->default_user_field);
	for (int i = 0; i < field->value_count; i++) {
		free(field->values[i]);
		label_free(&field->value_labels[i]);
	}
	free(field->values);
	free(field->value_labels);
	free(field->to);
	free(field->formula);
	expr_free(field->formula_expr);
	free(field->rollup_of);
	free(field->rollup_measure_field);
	free(field->rollup_where);
	expr_free(field->rollup_where_expr);
	free(field->format);
	free(field->currency);
	memset(field, 0, sizeof(*field));
}

static void rule_free(struct meta_rule *rule)
{
	free(rule->when);
	expr_free(rule->expr);
	free(rule->message);
	label_free(&rule->message_label);
	free(rule->field);
}

static void index_free(struct meta_index *index)
{
	for (int i = 0; i < index->field_count; i++)
		free(index->fields[i]);
	free(index->fields);
}

static void object_free(struct meta_object *object)
{
	free(object->name);
	label_free(&object->label);
	label_free(&object->label_plural);
	free(object->module);
	label_free(&object->module_label);
	for (int i = 0; i < object->field_count; i++)
		field_free(&object->fields[i]);
	free(object->fields);
	free(object->field_slots);
	for (int i = 0; i < object->rule_count; i++)
		rule_free(&object->rules[i]);
	free(object->rules);
	for (int i = 0; i < object->index_count; i++)
		index_free(&object->indexes[i]);
	free(object->indexes);
	json_decref(object->views);
	free(object->rollup_parents);
	memset(object, 0, sizeof(*object));
}

/* index_count: entries of index_aux (the object may have been moved out). */
static void staged_free_aux(struct staged_object *so, int index_count)
{
	for (int i = 0; so->index_aux && i < index_count; i++)
		free(so->index_aux[i].field_pos);
	free(so->field_aux);
	free(so->rule_aux);
	free(so->index_aux);
	so->field_aux = NULL;
	so->rule_aux = NULL;
	so->index_aux = NULL;
}

static void staged_free(struct staged_object *so)
{
	staged_free_aux(so, so->object.index_count);
	object_free(&so->object);
	memset(so, 0, sizeof(*so));
}

static void home_section_free(struct meta_home_section *section)
{
	free(section->object_name);
	label_free(&section->title);
	free(section->filter);
	expr_free(section->filter_expr);
	free(section->sort);
	for (int i = 0; i < section->field_count; i++)
		free(section->fields[i]);
	free(section->fields);
	free(section->field_pos);
	memset(section, 0, sizeof(*section));
}

static void role_free(struct meta_role *role)
{
	free(role->name);
	label_free(&role->label);
	label_free(&role->home_title);
	for (int i = 0; i < role->home_count; i++)
		home_section_free(&role->home[i]);
	free(role->home);
	for (int i = 0; i < role->navigation_count; i++)
		free(role->navigation[i]);
	free(role->navigation);
	for (int i = 0; i < role->object_count; i++) {
		for (int op = 0; op < ACCESS_OP_COUNT; op++) {
			free(role->objects[i].ops[op].text);
			expr_free(role->objects[i].ops[op].expr);
		}
	}
	free(role->objects);
	free(role->fields);
	memset(role, 0, sizeof(*role));
}

static void role_aux_free(struct role_aux *aux)
{
	for (int i = 0; i < aux->object_count; i++)
		free(aux->object_names[i]);
	for (int i = 0; i < aux->field_count; i++)
		free(aux->field_keys[i]);
	free(aux->object_names);
	free(aux->object_pos);
	free(aux->field_keys);
	free(aux->field_pos);
	memset(aux, 0, sizeof(*aux));
}

/* Moves field (and its aux) into the object, or frees it past the field limit. */
static void staged_add_field(struct loader *ld, struct staged_object *so, struct meta_field *field,
                             const struct field_aux *aux)
{
	struct meta_object *object = &so->object;
	if (object->field_count >= MAX_FIELDS) {
		if (!so->over_field_limit)
			error_at(ld, field->pos, "object '%s' has more than %d fields", object->name, MAX_FIELDS);
		so->over_field_limit = true;
		field_free(field);
		return;
	}
	if (object->field_count == so->field_cap) {
		so->field_cap = so->field_cap ? so->field_cap * 2 : 16;
		object->fields = xrealloc(object->fields, (size_t)so->field_cap * sizeof(*object->fields));
		so->field_aux = xrealloc(so->field_aux, (size_t)so->field_cap * sizeof(*so->field_aux));
	}
	object->fields[object->field_count] = *field;
	so->field_aux[object->field_count] = *aux;
	object->field_count++;
	memset(field, 0, sizeof(*field));
}

/* ------------------------------------------------------------------ fields */

static bool type_from_name(const char *name, enum field_type *out)
{
	for (int t = 0; t < FIELD_TYPE_COUNT; t++) {
		if (strcmp(name, meta_type_name(t)) == 0) {
			*out = (enum field_type)t;
			return true;
		}
	}
	return false;
}

static void list_types(struct strbuf *sb, unsigned mask)
{
	bool first = true;
	for (int t = 0; t < FIELD_TYPE_COUNT; t++) {
		if (mask & TYPE_BIT(t)) {
			strbuf_printf(sb, "%s%s", first ? "" : ", ", meta_type_name(t));
			first = false;
		}
	}
}

static bool is_system_field(const char *name)
{
	for (int i = 0; i < SYSTEM_FIELD_COUNT; i++) {
		if (strcmp(name, system_fields[i].name) == 0)
			return true;
	}
	return false;
}

static int field_key_from_name(const char *name)
{
	for (int k = 0; k < FK_COUNT; k++) {
		if (strcmp(name, field_keys[k].name) == 0)
			return k;
	}
	return -1;
}

/* Counts UTF-8 characters; false if a control character is found. */
static bool count_chars(const char *text, size_t *out)
{
	size_t chars = 0;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return false;
		if ((*p & 0xC0) != 0x80)
			chars++;
	}
	*out = chars;
	return true;
}

static bool parse_expression(struct loader *ld, const struct ynode *node, const char *key,
                             char **text_out, struct expr **expr_out)
{
	const char *text = get_text(ld, node, key);
	if (!text)
		return false;
	char err[256] = "";
	struct expr *expr = NULL;
	if (expr_parse(text, &expr, err, sizeof(err)) != CRM_OK) {
		error_node(ld, node, "invalid expression: %s", err);
		return false;
	}
	*text_out = xstrdup(text);
	*expr_out = expr;
	return true;
}

static void parse_values(struct loader *ld, struct meta_field *field, const struct ynode *node)
{
	if (node->kind != YNODE_SEQUENCE || node->count == 0) {
		error_node(ld, node, "expected a non-empty list for 'values'");
		return;
	}
	int count = node->count;
	const char **names = xcalloc((size_t)count, sizeof(*names));
	const struct ynode **value_nodes = xcalloc((size_t)count, sizeof(*value_nodes));
	struct meta_label *labels = xcalloc((size_t)count, sizeof(*labels));
	int *first = xmalloc((size_t)count * sizeof(*first));
	bool ok = true;

	for (int i = 0; i < count; i++) {
		const struct ynode *item = node->items[i], *value = item;
		if (item->kind == YNODE_MAPPING) {
			value = ytree_map_get(item, "value");
			for (int k = 0; k < item->count; k += 2) {
				const struct ynode *key = item->items[k];
				if (!in_list(key->text, value_keys)) {
					error_unknown_key(ld, key, "enum value", value_keys);
					ok = false;
				} else if (!strcmp(key->text, "label") && !parse_label(ld, item->items[k + 1], "label", &labels[i])) {
					ok = false;
				}
			}
			if (!value) {
				error_node(ld, item, "enum value needs 'value'");
				ok = false;
				continue;
			}
		}
		const char *text = get_text(ld, value, "values");
		size_t chars;
		if (!text) {
			ok = false;
			continue;
		}
		if (!count_chars(text, &chars) || chars == 0 || chars > MAX_VALUE_CHARS) {
			error_node(ld, value, "invalid enum value '%s' (expected a text of 1 to %d characters without control characters)",
			           shown(ld, text), MAX_VALUE_CHARS);
			ok = false;
			continue;
		}
		names[i] = text;
		value_nodes[i] = value;
	}
	if (ok) {
		find_first_occurrences(count, names, first);
		for (int i = 0; i < count; i++) {
			if (first[i] != i) {
				error_node(ld, value_nodes[i], "duplicate value '%s' (first at line %d)",
				           shown(ld, names[i]), value_nodes[first[i]]->line);
				ok = false;
			}
		}
	}
	if (ok) {
		field->value_count = count;
		field->values = xmalloc((size_t)count * sizeof(*field->values));
		for (int i = 0; i < count; i++)
			field->values[i] = xstrdup(names[i]);
		field->value_labels = labels;
		labels = NULL;
	}
	for (int i = 0; labels && i < count; i++)
		label_free(&labels[i]);
	free(labels);
	free(names);
	free(value_nodes);
	free(first);
}

static void parse_on_delete(struct loader *ld, struct meta_field *field, const struct ynode *node)
{
	const char *text = get_text(ld, node, "on_delete");
	if (!text)
		return;
	if (!strcmp(text, "restrict"))
		field->on_delete = ON_DELETE_RESTRICT;
	else if (!strcmp(text, "set_null"))
		field->on_delete = ON_DELETE_SET_NULL;
	else if (!strcmp(text, "cascade"))
		field->on_delete = ON_DELETE_CASCADE;
	else
		error_node(ld, node, "expected restrict, set_null or cascade for 'on_delete', not '%s'", shown(ld, text));
}

/* "opportunity.account": the child object and its ref to this object. */
static bool parse_rollup_of(struct loader *ld, struct meta_field *field, const struct ynode *node)
{
	const char *text = get_text(ld, node, "of");
	if (!text)
		return false;
	const char *dot = strchr(text, '.');
	bool ok = dot != NULL;
	if (ok) {
		char *child = xstrndup(text, (size_t)(dot - text));
		ok = crm_valid_name(child) && crm_valid_name(dot + 1);
		free(child);
	}
	if (!ok) {
		error_node(ld, node, "expected 'object.field' (the child object and its ref to this object) for 'of', not '%s'",
		           shown(ld, text));
		return false;
	}
	field->rollup_of = xstrdup(text);
	return true;
}

/* count | sum(field) | min(field) | max(field) | avg(field) */
static void parse_measure(struct loader *ld, struct meta_field *field, const struct ynode *node)
{
	static const struct {
		const char *name;
		enum rollup_measure measure;
	} functions[] = {
		{"sum", ROLLUP_SUM}, {"min", ROLLUP_MIN}, {"max", ROLLUP_MAX}, {"avg", ROLLUP_AVG},
	};
	const char *text = get_text(ld, node, "measure");
	if (!text)
		return;
	if (!strcmp(text, "count")) {
		field->rollup_measure = ROLLUP_COUNT;
		return;
	}
	for (size_t i = 0; i < sizeof(functions) / sizeof(functions[0]); i++) {
		size_t len = strlen(functions[i].name);
		if (strncmp(text, functions[i].name, len) != 0 || text[len] != '(')
			continue;
		const char *start = text + len + 1, *end = strchr(start, ')');
		if (!end || end[1] != '\0')
			break;
		while (*start == ' ')
			start++;
		while (end > start && end[-1] == ' ')
			end--;
		char *argument = xstrndup(start, (size_t)(end - start));
		if (!crm_valid_name(argument)) {
			free(argument);
			break;
		}
		field->rollup_measure = functions[i].measure;
		free(field->rollup_measure_field);
		field->rollup_measure_field = argument;
		return;
	}
	error_node(ld, node, "expected count, sum(field), min(field), max(field) or avg(field) for 'measure', not '%s'",
	           shown(ld, text));
}

/* An autonumber format holds exactly one {0...} placeholder and no other braces. */
static void parse_format(struct loader *ld, struct meta_field *field, const struct ynode *node)
{
	const char *text = get_text(ld, node, "format");
	if (!text)
		return;
	int placeholders = 0;
	bool ok = strlen(text) <= MAX_FORMAT;
	for (const char *p = text; ok && *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == '}') {
			ok = false;
		} else if (*p == '{') {
			const char *q = p + 1;
			while (*q == '0')
				q++;
			ok = q > p + 1 && q - p - 1 <= 18 && *q == '}';
			placeholders++;
			p = q;
		}
	}
	if (!ok || placeholders != 1) {
		error_node(ld, node, "expected one {0...} placeholder in 'format', as in \"CASE-{00000}\"");
		return;
	}
	field->format = xstrdup(text);
}

static bool valid_date(const char *t)
{
	static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	for (int i = 0; i < 10; i++) {
		bool digit = t[i] >= '0' && t[i] <= '9';
		if ((i == 4 || i == 7) ? t[i] != '-' : !digit)
			return false;
	}
	int year = (t[0] - '0') * 1000 + (t[1] - '0') * 100 + (t[2] - '0') * 10 + (t[3] - '0');
	int month = (t[5] - '0') * 10 + (t[6] - '0'), day = (t[8] - '0') * 10 + (t[9] - '0');
	if (month < 1 || month > 12 || day < 1 || day > days[month - 1])
		return false;
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return !(month == 2 && day == 29 && !leap);
}

static bool two_digits(const char *t, int max)
{
	return t[0] >= '0' && t[0] <= '9' && t[1] >= '0' && t[1] <= '9' && (t[0] - '0') * 10 + (t[1] - '0') <= max;
}

/* YYYY-MM-DD[T ]HH:MM[:SS[.fraction]][Z|+HH:MM|-HH:MM] */
static bool valid_datetime(const char *t)
{
	if (strlen(t) < 16 || !valid_date(t) || (t[10] != 'T' && t[10] != ' '))
		return false;
	if (!two_digits(t + 11, 23) || t[13] != ':' || !two_digits(t + 14, 59))
		return false;
	t += 16;
	if (*t == ':') {
		if (!two_digits(t + 1, 60))
			return false;
		t += 3;
		if (*t == '.') {
			t++;
			if (*t < '0' || *t > '9')
				return false;
			while (*t >= '0' && *t <= '9')
				t++;
		}
	}
	if (*t == 'Z')
		return t[1] == '\0';
	if (*t == '+' || *t == '-')
		return two_digits(t + 1, 23) && t[3] == ':' && two_digits(t + 4, 59) && t[6] == '\0';
	return *t == '\0';
}

static bool in_values(const struct meta_field *field, const char *text)
{
	for (int i = 0; i < field->value_count; i++) {
		if (strcmp(field->values[i], text) == 0)
			return true;
	}
	return false;
}

static bool check_bounds(struct loader *ld, const struct meta_field *field, const struct ynode *node, double value)
{
	if ((field->has_min && value < field->min) || (field->has_max && value > field->max)) {
		error_node(ld, node, "default %s is outside the bounds of field '%s'", shown(ld, node->text), field->name);
		return false;
	}
	return true;
}

/* Checks the default against the field's settings and stores it with its JSON type. */
/*
 * A default worked out when a record is created: $me (the creating user),
 * $user.<field> (a field of the creating user's record), today(), now().
 * Returns false when node is none of these (a literal default).
 */
static bool parse_dynamic_default(struct loader *ld, struct meta_field *field, const struct ynode *node)
{
	if (node->kind != YNODE_SCALAR || !node->plain)
		return false;
	const char *text = node->text;
	enum field_type type = field->type;
	bool dated = type == FIELD_DATE || type == FIELD_DATETIME || (TYPE_BIT(type) & TEXT_TYPES);
	if (strcmp(text, "$me") == 0) {
		if (type != FIELD_USER && !(type == FIELD_REF && field->to && strcmp(field->to, "user") == 0))
			error_node(ld, node, "default '$me' needs a user field ('%s' is %s)", field->name, meta_type_name(type));
		field->default_kind = DEFAULT_ME;
	} else if (strcmp(text, "today()") == 0) {
		if (!dated)
			error_node(ld, node, "default 'today()' needs a date, datetime or text field ('%s' is %s)", field->name,
			           meta_type_name(type));
		field->default_kind = DEFAULT_TODAY;
	} else if (strcmp(text, "now()") == 0) {
		if (!dated)
			error_node(ld, node, "default 'now()' needs a date, datetime or text field ('%s' is %s)", field->name,
			           meta_type_name(type));
		field->default_kind = DEFAULT_NOW;
	} else if (strncmp(text, "$user.", 6) == 0) {
		if (!crm_valid_name(text + 6))
			error_node(ld, node, "'%s' is not a field of the user: expected $user.<field>", shown(ld, text));
		field->default_kind = DEFAULT_USER_FIELD;
		free(field->default_user_field);
		field->default_user_field = xstrdup(text + 6);   /* checked against the user object in check_defaults */
	} else {
		return false;
	}
	return true;
}

static void parse_default(struct loader *ld, struct meta_field *field, const struct ynode *node)
{
	json_t *value = NULL;
	long long integer;
	double real;
	bool boolean;
	size_t chars;

	if (is_null(node) || parse_dynamic_default(ld, field, node))
		return;
	switch (field->type) {
	case FIELD_REF: case FIELD_USER:
		error_node(ld, node, "a %s field takes '$me' or '$user.<field>' as default, not a fixed id",
		           meta_type_name(field->type));
		break;
	case FIELD_TEXT: case FIELD_TEXTAREA: case FIELD_EMAIL: case FIELD_PHONE: case FIELD_URL:
		if (node->kind != YNODE_SCALAR) {
			error_node(ld, node, "expected a text for 'default'");
		} else if (count_chars(node->text, &chars) && field->max_length > 0 && chars > (size_t)field->max_length) {
			error_node(ld, node, "default is longer than %d characters", field->max_length);
		} else {
			value = json_string(node->text);
		}
		break;
	case FIELD_INT:
		if (node->kind != YNODE_SCALAR || !node->plain || !parse_int_text(node->text, &integer))
			error_node(ld, node, "expected an integer for 'default'");
		else if (check_bounds(ld, field, node, (double)integer))
			value = json_integer(integer);
		break;
	case FIELD_DECIMAL: case FIELD_MONEY: case FIELD_PERCENT:
		if (get_number(ld, node, "default", &real) && check_bounds(ld, field, node, real))
			value = json_real(real);
		break;
	case FIELD_BOOL:
		if (get_bool(ld, node, "default", &boolean))
			value = json_boolean(boolean);
		break;
	case FIELD_DATE:
		if (node->kind != YNODE_SCALAR || !valid_date(node->text) || node->text[10] != '\0')
			error_node(ld, node, "expected a date (YYYY-MM-DD) for 'default'");
		else
			value = json_string(node->text);
		break;
	case FIELD_DATETIME:
		if (node->kind != YNODE_SCALAR || !valid_datetime(node->text))
			error_node(ld, node, "expected a date and time (YYYY-MM-DDTHH:MM:SS, optionally with Z or an offset) for 'default'");
		else
			value = json_string(node->text);
		break;
	case FIELD_ENUM:
		if (node->kind != YNODE_SCALAR)
			error_node(ld, node, "expected one of the values of '%s' for 'default'", field->name);
		else if (field->value_count > 0 && !in_values(field, node->text))
			error_node(ld, node, "default '%s' is not one of the values of '%s'", shown(ld, node->text), field->name);
		else
			value = json_string(node->text);
		break;
	case FIELD_MULTIENUM: {
		if (node->kind != YNODE_SEQUENCE) {
			error_node(ld, node, "expected a list of values of '%s' for 'default'", field->name);
			break;
		}
		value = json_array();
		for (int i = 0; i < node->count; i++) {
			const struct ynode *item = node->items[i];
			bool repeated = false;
			for (int j = 0; j < i && !repeated; j++)
				repeated = node->items[j]->kind == YNODE_SCALAR && item->kind == YNODE_SCALAR &&
				           strcmp(node->items[j]->text, item->text) == 0;
			if (item->kind != YNODE_SCALAR || (field->value_count > 0 && !in_values(field, item->text))) {
				error_node(ld, item, "default '%s' is not one of the values of '%s'",
				           item->kind == YNODE_SCALAR ? shown(ld, item->text) : "(list or map)", field->name);
			} else if (repeated) {
				error_node(ld, item, "default '%s' is repeated", shown(ld, item->text));
			} else {
				json_array_append_new(value, json_string(item->text));
				continue;
			}
			json_decref(value);
			value = NULL;
			break;
		}
		break;
	}
	case FIELD_JSON:
		value = node_to_json(node);
		if (!value)
			error_node(ld, node, "default is not valid JSON text");
		break;
	default:
		break;   /* other types refuse 'default' before we get here */
	}
	if (value) {
		json_decref(field->default_value);
		field->default_value = value;
	}
}

/* Which keys a field map gave, for the checks that need all of them. */
struct field_keys_seen {
	bool max_length, scale, returns, on_delete, values, to, formula, of, format;
	bool shortcut;            /* { type: money, formula: ... } */
};

/* Post-checks and defaults that need all the keys of a field. */
static void finish_field(struct loader *ld, struct meta_field *field, struct field_aux *aux,
                         const struct ynode *key, const struct field_keys_seen *seen)
{
	const char *type = meta_type_name(field->type);
	int errors_before = ld->diags->error_count;

	switch (field->type) {
	case FIELD_ENUM: case FIELD_MULTIENUM:
		if (!seen->values)
			error_node(ld, key, "field '%s' of type '%s' needs 'values'", field->name, type);
		break;
	case FIELD_REF:
		if (!seen->to)
			error_node(ld, key, "field '%s' of type 'ref' needs 'to' (the target object)", field->name);
		if (!seen->on_delete)
			field->on_delete = ON_DELETE_RESTRICT;
		break;
	case FIELD_USER:
		if (!seen->to)
			field->to = xstrdup("user");
		if (!seen->on_delete)
			field->on_delete = ON_DELETE_SET_NULL;
		break;
	case FIELD_FORMULA:
		if (!seen->formula)
			error_node(ld, key, "field '%s' of type 'formula' needs 'formula'", field->name);
		if (!seen->shortcut && !seen->returns)
			field->result_type = FIELD_DECIMAL;
		break;
	case FIELD_ROLLUP:
		if (!seen->of)
			error_node(ld, key, "field '%s' of type 'rollup' needs 'of' (child_object.ref_field)", field->name);
		break;
	case FIELD_AUTONUMBER:
		if (!seen->format)
			error_node(ld, key, "field '%s' of type 'autonumber' needs 'format', as in \"CASE-{00000}\"", field->name);
		break;
	default:
		break;
	}

	if (TYPE_BIT(field->type) & TEXT_TYPES) {
		/* On a text, `max` is the length in characters (DESIGN.md writes max: 120). */
		if (field->has_max && seen->max_length) {
			error_node(ld, key, "field '%s' has both 'max' and 'max_length': keep one", field->name);
		} else if (field->has_max) {
			if (field->max < 1 || field->max > MAX_TEXT_LENGTH || field->max != floor(field->max))
				error_node(ld, key, "'max' of text field '%s' must be a whole number of characters from 1 to %d",
				           field->name, MAX_TEXT_LENGTH);
			else
				field->max_length = (int)field->max;
		}
		if (field->has_min && (field->min < 0 || field->min != floor(field->min)))
			error_node(ld, key, "'min' of text field '%s' must be a whole number of characters", field->name);
		if (field->max_length == 0)
			field->max_length = field->type == FIELD_TEXTAREA ? 32000 : 255;
	}

	enum field_type numeric = field->type == FIELD_FORMULA ? field->result_type : field->type;
	if (TYPE_BIT(numeric) & SCALED_TYPES) {
		if (!seen->scale)
			field->scale = numeric == FIELD_DECIMAL ? 6 : 2;
	} else if (seen->scale) {
		error_node(ld, key, "'scale' of field '%s' needs a decimal, money or percent result", field->name);
	}
	if (field->has_min && field->has_max && field->min > field->max)
		error_node(ld, key, "'min' of field '%s' is greater than its 'max'", field->name);
	if (field->required && seen->on_delete && field->on_delete == ON_DELETE_SET_NULL)
		error_node(ld, key, "required field '%s' cannot use on_delete: set_null", field->name);
	if (ld->diags->error_count != errors_before)
		aux->broken = true;
}

/*
 * `status: { extend: true, values: [waiting_customer] }` in an object
 * extension: values to append to the enum or multienum field of that name,
 * defined elsewhere (a plugin adding a state to a base workflow). Staged as
 * a field marked `extends`; merge_values applies it once every field is in.
 */
static void parse_field_extension(struct loader *ld, struct staged_object *so, const struct ynode *key,
                                  const struct ynode *spec)
{
	struct meta_field field;
	struct field_aux aux;
	memset(&field, 0, sizeof(field));
	memset(&aux, 0, sizeof(aux));
	field.name = xstrdup(key->text);
	field.pos = node_pos(ld, key);
	field.type = FIELD_ENUM;   /* a placeholder: the values take the extended field's type */
	aux.extends = true;
	bool values = false;
	for (int i = 0; i < spec->count; i += 2) {
		const struct ynode *k = spec->items[i], *v = spec->items[i + 1];
		if (!strcmp(k->text, "values")) {
			values = true;
			parse_values(ld, &field, v);
		} else if (strcmp(k->text, "extend") != 0) {
			error_node(ld, k, "field '%s' extends a field defined elsewhere: it takes only 'values' (the enum values "
			           "to add), not '%s'", field.name, shown(ld, k->text));
		}
	}
	if (!values)
		error_node(ld, key, "field '%s' extends a field defined elsewhere: give the enum 'values' to add", field.name);
	if (!so->extend) {
		error_node(ld, key, "field '%s' has 'extend: true', but object '%s' is not an extension: add 'extend: true' "
		           "to the object document", field.name, so->object.name);
		field_free(&field);
		return;
	}
	if (field.value_count == 0) {
		field_free(&field);
		return;
	}
	staged_add_field(ld, so, &field, &aux);
}

static void parse_field(struct loader *ld, struct staged_object *so, const struct ynode *key,
                        const struct ynode *spec)
{
	struct meta_field field;
	struct field_aux aux;
	memset(&field, 0, sizeof(field));
	memset(&aux, 0, sizeof(aux));

	if (!crm_valid_name(key->text)) {
		error_node(ld, key, "invalid field name '%s' (expected %s)", shown(ld, key->text), NAME_RULE);
		return;
	}
	if (is_system_field(key->text)) {
		error_node(ld, key, "'%s' is a system field: every object has it already", key->text);
		return;
	}
	const struct ynode *extend_node = spec->kind == YNODE_MAPPING ? ytree_map_get(spec, "extend") : NULL;
	bool extend = false;
	if (extend_node && !get_bool(ld, extend_node, "extend", &extend))
		return;   /* reported: whether it defines or extends the field is unknown */
	if (extend) {
		parse_field_extension(ld, so, key, spec);
		return;
	}
	field.name = xstrdup(key->text);
	field.pos = node_pos(ld, key);
	field.type = FIELD_TEXT;   /* until the real type is known */
	if (spec->kind != YNODE_MAPPING) {
		error_node(ld, spec, "expected a map of settings for field '%s', such as { type: text }", field.name);
		aux.broken = true;
		goto add;
	}

	int errors_before = ld->diags->error_count;
	const struct ynode *type_node = ytree_map_get(spec, "type");
	bool type_known = false, shortcut = false;
	enum field_type declared = FIELD_TEXT;
	if (!type_node) {
		error_node(ld, key, "field '%s' has no 'type'", field.name);
	} else if (type_node->kind != YNODE_SCALAR) {
		error_node(ld, type_node, "expected a text for 'type'");
	} else if (!type_from_name(type_node->text, &declared)) {
		struct strbuf list = {0};
		list_types(&list, ALL_TYPES);
		error_node(ld, type_node, "unknown field type '%s' (expected one of: %s)", shown(ld, type_node->text),
		           list.data);
		strbuf_free(&list);
	} else {
		type_known = true;
		field.type = declared;
		aux.type_pos = node_pos(ld, type_node);
		/* { type: money, formula: "..." } is a formula returning money. */
		if (declared != FIELD_FORMULA && ytree_map_get(spec, "formula")) {
			shortcut = true;
			field.type = FIELD_FORMULA;
			field.result_type = declared;
			if (!(TYPE_BIT(declared) & RESULT_TYPES)) {
				struct strbuf list = {0};
				list_types(&list, RESULT_TYPES);
				error_node(ld, type_node, "a formula cannot return '%s' (expected one of: %s)",
				           meta_type_name(declared), list.data);
				strbuf_free(&list);
			}
		}
	}

	const struct ynode *default_node = NULL;
	struct field_keys_seen seen;
	memset(&seen, 0, sizeof(seen));
	seen.shortcut = shortcut;
	for (int i = 0; i < spec->count; i += 2) {
		const struct ynode *k = spec->items[i], *v = spec->items[i + 1];
		int fk = field_key_from_name(k->text);
		if (fk < 0) {
			const char *allowed[FK_COUNT + 1];
			int n = 0;
			for (int j = 0; j < FK_COUNT; j++) {
				if (!type_known || (field_keys[j].types & TYPE_BIT(field.type)))
					allowed[n++] = field_keys[j].name;
			}
			allowed[n] = NULL;
			char where[128];
			snprintf(where, sizeof(where), "field '%s'", field.name);
			error_unknown_key(ld, k, where, allowed);
			continue;
		}
		if (type_known && !(field_keys[fk].types & TYPE_BIT(field.type))) {
			if (shortcut)
				error_node(ld, k, "key '%s' is not valid for a formula field (type '%s' with 'formula')",
				           k->text, meta_type_name(declared));
			else
				error_node(ld, k, "key '%s' is not valid for a field of type '%s'", k->text, meta_type_name(field.type));
			continue;
		}
		if (shortcut && fk == FK_RETURNS) {
			error_node(ld, k, "key 'returns' is not needed: 'type: %s' with a formula already gives the result type",
			           meta_type_name(declared));
			continue;
		}
		long long integer;
		enum field_type returns;
		const char *text;
		switch ((enum field_key)fk) {
		case FK_TYPE:
			break;
		case FK_LABEL:
			parse_label(ld, v, "label", &field.label);
			break;
		case FK_DESCRIPTION:
			get_text(ld, v, "description");
			break;
		case FK_REQUIRED:
			get_bool(ld, v, "required", &field.required);
			break;
		case FK_SEARCH:
			get_bool(ld, v, "search", &field.search);
			break;
		case FK_PERSONAL:
			get_bool(ld, v, "personal", &field.personal);
			break;
		case FK_CURRENCY:
			aux.currency_pos = node_pos(ld, v);
			if ((text = get_text(ld, v, "currency")))
				field.currency = xstrdup(text);
			break;
		case FK_UNIQUE:
			get_bool(ld, v, "unique", &field.unique);
			break;
		case FK_READONLY:
			get_bool(ld, v, "readonly", &field.readonly);
			break;
		case FK_MIN:
			field.has_min = get_number(ld, v, "min", &field.min);
			break;
		case FK_MAX:
			field.has_max = get_number(ld, v, "max", &field.max);
			break;
		case FK_MAX_LENGTH:
			seen.max_length = true;
			if (get_int(ld, v, "max_length", 1, MAX_TEXT_LENGTH, &integer))
				field.max_length = (int)integer;
			break;
		case FK_SCALE:
			seen.scale = true;
			if (get_int(ld, v, "scale", 0, MAX_SCALE, &integer))
				field.scale = (int)integer;
			break;
		case FK_DEFAULT:
			default_node = v;
			break;
		case FK_VALUES:
			seen.values = true;
			parse_values(ld, &field, v);
			break;
		case FK_TO:
			seen.to = aux.to_given = true;
			aux.to_pos = node_pos(ld, v);
			if ((text = get_name(ld, v, "to")))
				field.to = xstrdup(text);
			break;
		case FK_ON_DELETE:
			seen.on_delete = true;
			parse_on_delete(ld, &field, v);
			break;
		case FK_FORMULA:
			seen.formula = true;
			aux.formula_pos = node_pos(ld, v);
			parse_expression(ld, v, "formula", &field.formula, &field.formula_expr);
			break;
		case FK_RETURNS:
			seen.returns = true;
			if (!(text = get_text(ld, v, "returns")))
				break;
			if (!type_from_name(text, &returns) || !(TYPE_BIT(returns) & RESULT_TYPES)) {
				struct strbuf list = {0};
				list_types(&list, RESULT_TYPES);
				error_node(ld, v, "a formula cannot return '%s' (expected one of: %s)", shown(ld, text), list.data);
				strbuf_free(&list);
			} else {
				field.result_type = returns;
			}
			break;
		case FK_OF:
			seen.of = true;
			aux.of_pos = node_pos(ld, v);
			parse_rollup_of(ld, &field, v);
			break;
		case FK_MEASURE:
			aux.measure_pos = node_pos(ld, v);
			parse_measure(ld, &field, v);
			break;
		case FK_WHERE:
			aux.where_pos = node_pos(ld, v);
			parse_expression(ld, v, "where", &field.rollup_where, &field.rollup_where_expr);
			break;
		case FK_FORMAT:
			seen.format = true;
			parse_format(ld, &field, v);
			break;
		case FK_EXTEND:
			break;   /* extend: false (true went to parse_field_extension) */
		case FK_COUNT:
			break;
		}
	}
	if (!type_known) {
		aux.broken = true;
		goto add;
	}
	finish_field(ld, &field, &aux, key, &seen);
	/* The default is checked last: it depends on values, bounds and length. */
	if (default_node && ld->diags->error_count == errors_before)
		parse_default(ld, &field, default_node);
	if (ld->diags->error_count != errors_before)
		aux.broken = true;
add:
	staged_add_field(ld, so, &field, &aux);
}

/* ----------------------------------------------------------------- objects */

static void add_system_fields(struct loader *ld, struct staged_object *so)
{
	for (int i = 0; i < SYSTEM_FIELD_COUNT; i++) {
		struct meta_field field;
		struct field_aux aux;
		memset(&field, 0, sizeof(field));
		memset(&aux, 0, sizeof(aux));
		field.name = xstrdup(system_fields[i].name);
		field.type = system_fields[i].type;
		label_add(&field.label, "en", system_fields[i].en);
		label_add(&field.label, "zh", system_fields[i].zh);
		field.pos = so->object.pos;
		field.system = true;
		field.readonly = true;
		if (field.type == FIELD_USER) {
			field.to = xstrdup("user");
			field.on_delete = ON_DELETE_SET_NULL;
		}
		staged_add_field(ld, so, &field, &aux);
	}
}

static void parse_rules(struct loader *ld, struct staged_object *so, const struct ynode *node)
{
	if (node->kind != YNODE_SEQUENCE) {
		error_node(ld, node, "expected a list of { when, message } for 'rules'");
		return;
	}
	for (int i = 0; i < node->count; i++) {
		const struct ynode *item = node->items[i];
		if (item->kind != YNODE_MAPPING) {
			error_node(ld, item, "expected a map { when, message } for a rule");
			continue;
		}
		struct meta_rule rule;
		struct rule_aux aux;
		memset(&rule, 0, sizeof(rule));
		memset(&aux, 0, sizeof(aux));
		rule.pos = node_pos(ld, item);
		bool ok = true;
		for (int k = 0; k < item->count; k += 2) {
			const struct ynode *key = item->items[k], *value = item->items[k + 1];
			const char *text;
			if (!in_list(key->text, rule_keys)) {
				error_unknown_key(ld, key, "rule", rule_keys);
				ok = false;
			} else if (!strcmp(key->text, "when")) {
				aux.when_pos = node_pos(ld, value);
				ok = parse_expression(ld, value, "when", &rule.when, &rule.expr) && ok;
			} else if (!strcmp(key->text, "message")) {
				/* text or { en, zh }: the server answers in en (or the first language given) */
				if (parse_label(ld, value, "message", &rule.message_label) && rule.message_label.count) {
					const char *en = meta_label_text(&rule.message_label, "en", rule.message_label.text[0]);
					rule.message = xstrdup(en);
				}
				else
					ok = false;
			} else {
				aux.field_pos = node_pos(ld, value);
				if ((text = get_name(ld, value, "field")))
					rule.field = xstrdup(text);
				else
					ok = false;
			}
		}
		if (!ytree_map_get(item, "when")) {
			error_node(ld, item, "rule needs 'when' (an expression that is true when the record is invalid)");
			ok = false;
		}
		if (!ytree_map_get(item, "message")) {
			error_node(ld, item, "rule needs 'message'");
			ok = false;
		}
		if (!ok) {
			rule_free(&rule);
			continue;
		}
		struct meta_object *object = &so->object;
		object->rules = xrealloc(object->rules, (size_t)(object->rule_count + 1) * sizeof(*object->rules));
		so->rule_aux = xrealloc(so->rule_aux, (size_t)(object->rule_count + 1) * sizeof(*so->rule_aux));
		object->rules[object->rule_count] = rule;
		so->rule_aux[object->rule_count] = aux;
		object->rule_count++;
	}
}

static void parse_index(struct loader *ld, struct staged_object *so, const struct ynode *item)
{
	const struct ynode *list = item;
	bool unique = false, ok = true;
	if (item->kind == YNODE_MAPPING) {
		for (int k = 0; k < item->count; k += 2) {
			const struct ynode *key = item->items[k];
			if (!in_list(key->text, index_keys)) {
				error_unknown_key(ld, key, "index", index_keys);
				ok = false;
			} else if (!strcmp(key->text, "unique")) {
				ok = get_bool(ld, item->items[k + 1], "unique", &unique) && ok;
			}
		}
		list = ytree_map_get(item, "fields");
		if (!list) {
			error_node(ld, item, "index needs 'fields'");
			return;
		}
	}
	if (list->kind != YNODE_SEQUENCE || list->count == 0) {
		error_node(ld, list, "expected a non-empty list of field names for an index");
		return;
	}
	const char **names = xcalloc((size_t)list->count, sizeof(*names));
	int *first = xmalloc((size_t)list->count * sizeof(*first));
	for (int i = 0; i < list->count; i++) {
		names[i] = get_name(ld, list->items[i], "fields");
		ok = names[i] != NULL && ok;
	}
	if (ok) {
		find_first_occurrences(list->count, names, first);
		for (int i = 0; i < list->count; i++) {
			if (first[i] != i) {
				error_node(ld, list->items[i], "field '%s' is repeated in the index", names[i]);
				ok = false;
			}
		}
	}
	if (ok) {
		struct meta_object *object = &so->object;
		struct meta_index index = {0};
		struct index_aux aux = {0};
		index.field_count = list->count;
		index.fields = xmalloc((size_t)list->count * sizeof(*index.fields));
		aux.field_pos = xmalloc((size_t)list->count * sizeof(*aux.field_pos));
		for (int i = 0; i < list->count; i++) {
			index.fields[i] = xstrdup(names[i]);
			aux.field_pos[i] = node_pos(ld, list->items[i]);
		}
		index.unique = unique;
		index.pos = node_pos(ld, item);
		object->indexes = xrealloc(object->indexes, (size_t)(object->index_count + 1) * sizeof(*object->indexes));
		so->index_aux = xrealloc(so->index_aux, (size_t)(object->index_count + 1) * sizeof(*so->index_aux));
		object->indexes[object->index_count] = index;
		so->index_aux[object->index_count] = aux;
		object->index_count++;
	}
	free(names);
	free(first);
}

static bool reserved_object_name(const char *name)
{
	/* Kernel tables start with _ and SQLite owns sqlite_*. */
	return name[0] == '_' || strncmp(name, "sqlite_", 7) == 0;
}

/* Keeps a parsed object document; a second definition of a name is refused. */
static void stage_object(struct loader *ld, struct staged_object *so)
{
	for (int i = 0; !so->extend && i < ld->staged_count; i++) {
		const struct meta_object *other = &ld->staged[i].object;
		if (!ld->staged[i].extend && strcmp(other->name, so->object.name) == 0) {
			error_at(ld, so->object.pos,
			         "object '%s' is already defined at %s:%d:%d (add 'extend: true' to add to it)",
			         so->object.name, other->pos.file, other->pos.line, other->pos.column);
			staged_free(so);
			return;
		}
	}
	if (ld->staged_count == ld->staged_cap) {
		ld->staged_cap = ld->staged_cap ? ld->staged_cap * 2 : 16;
		ld->staged = xrealloc(ld->staged, (size_t)ld->staged_cap * sizeof(*ld->staged));
	}
	ld->staged[ld->staged_count++] = *so;
	memset(so, 0, sizeof(*so));
}

/* views.lines, the one views key whose map the loader checks key by key (docs/metadata.md#lines-view) */
static const char *const lines_keys[] = {"object", "ref", "fields", "order", NULL};

/*
 * views.lines: { object, ref, fields, order }: child records edited as a grid
 * on this object's record page. The shape is checked here, where each part's
 * position is known; what the names point to is checked by check_lines_view.
 */
static void parse_lines_view(struct loader *ld, const char *object_name, struct lines_aux *aux,
                             const struct ynode *key, const struct ynode *node)
{
	memset(aux, 0, sizeof(*aux));
	aux->at = node_pos(ld, key);
	if (node->kind != YNODE_MAPPING) {
		error_node(ld, node, "views.lines of '%s': expected { object, ref, fields, order } (see "
		           "docs/metadata.md#lines-view)", object_name);
		return;
	}
	bool valid = true, has_fields = false;
	for (int i = 0; i < node->count; i += 2) {
		const struct ynode *part = node->items[i], *value = node->items[i + 1];
		if (!in_list(part->text, lines_keys)) {
			error_unknown_key(ld, part, "views.lines", lines_keys);
			valid = false;
		} else if (!strcmp(part->text, "fields")) {
			has_fields = true;
			if (value->kind != YNODE_SEQUENCE || value->count == 0 || value->count > LINES_MAX_FIELDS) {
				error_node(ld, value, "views.lines of '%s': 'fields' is a list of 1 to %d field names", object_name,
				           LINES_MAX_FIELDS);
				valid = false;
				continue;
			}
			for (int f = 0; f < value->count; f++) {
				valid = get_name(ld, value->items[f], "fields") && valid;
				aux->field_pos[f] = node_pos(ld, value->items[f]);
			}
		} else {
			valid = get_name(ld, value, part->text) && valid;
			struct meta_pos *pos = !strcmp(part->text, "object") ? &aux->object_pos
			                     : !strcmp(part->text, "ref") ? &aux->ref_pos : &aux->order_pos;
			*pos = node_pos(ld, value);
		}
	}
	const char *missing = !aux->object_pos.line ? "object" : !aux->ref_pos.line ? "ref" : !has_fields ? "fields" : NULL;
	if (missing) {
		error_at(ld, aux->at, "views.lines of '%s': '%s' is required (see docs/metadata.md#lines-view)", object_name,
		         missing);
		valid = false;
	}
	aux->present = valid;
}


/* views.console (docs/metadata.md#console-view), its clocks and its panels */
static const char *const console_keys[] = {
	"title", "queue", "sort", "columns", "fields", "clocks", "paused", "related", "suggest", "link", "customer",
	"panels", NULL,
};
static const char *const console_clock_keys[] = { "due", "done", NULL };
static const char *const console_panel_keys[] = { "object", "ref", "fields", "filter", "sort", "limit", "title", NULL };

/* A list of 1 to CONSOLE_MAX_ITEMS maps whose keys are in keys; each map's position in pos. */
static bool parse_console_list(struct loader *ld, const char *object_name, const struct ynode *key,
                               const struct ynode *node, const char *const *keys, struct meta_pos *pos)
{
	if (node->kind != YNODE_SEQUENCE || node->count == 0 || node->count > CONSOLE_MAX_ITEMS) {
		error_node(ld, node, "views.console of '%s': '%s' is a list of 1 to %d maps (see docs/metadata.md#console-view)",
		           object_name, key->text, CONSOLE_MAX_ITEMS);
		return false;
	}
	bool valid = true;
	char where[64];
	snprintf(where, sizeof(where), "views.console.%s", key->text);
	for (int i = 0; i < node->count; i++) {
		const struct ynode *item = node->items[i];
		pos[i] = node_pos(ld, item);
		if (item->kind != YNODE_MAPPING) {
			error_node(ld, item, "views.console of '%s': each of '%s' is a map of %s", object_name, key->text,
			           keys == console_clock_keys ? "{ due, done }" : "{ object, ref, fields, filter, sort, limit, title }");
			valid = false;
			continue;
		}
		for (int k = 0; k < item->count; k += 2) {
			if (!in_list(item->items[k]->text, keys)) {
				error_unknown_key(ld, item->items[k], where, keys);
				valid = false;
			}
		}
	}
	return valid;
}

/*
 * views.console: a work page for this object's records (the service console
 * of a case): a queue on the left, the selected record with its clocks and
 * related lists in the middle, the records of its customer on the right. The
 * shape is checked here; the names, by check_console_view.
 */
static void parse_console_view(struct loader *ld, const char *object_name, struct console_aux *aux,
                               const struct ynode *key, const struct ynode *node)
{
	memset(aux, 0, sizeof(*aux));
	aux->at = node_pos(ld, key);
	if (node->kind != YNODE_MAPPING) {
		error_node(ld, node, "views.console of '%s': expected a map { queue, sort, columns, fields, clocks, ... } (see "
		           "docs/metadata.md#console-view)", object_name);
		return;
	}
	bool valid = true;
	for (int i = 0; i < node->count; i += 2) {
		const struct ynode *part = node->items[i], *value = node->items[i + 1];
		int k = 0;
		while (console_keys[k] && strcmp(console_keys[k], part->text))
			k++;
		if (!console_keys[k]) {
			error_unknown_key(ld, part, "views.console", console_keys);
			valid = false;
			continue;
		}
		aux->key_pos[k] = node_pos(ld, value);
		if (!strcmp(part->text, "clocks"))
			valid = parse_console_list(ld, object_name, part, value, console_clock_keys, aux->clock_pos) && valid;
		else if (!strcmp(part->text, "related"))
			valid = parse_console_list(ld, object_name, part, value, console_panel_keys, aux->related_pos) && valid;
		else if (!strcmp(part->text, "panels"))
			valid = parse_console_list(ld, object_name, part, value, console_panel_keys, aux->panel_pos) && valid;
		else if (!strcmp(part->text, "columns") || !strcmp(part->text, "fields")) {
			if (value->kind != YNODE_SEQUENCE || value->count == 0 || value->count > 24) {
				error_node(ld, value, "views.console of '%s': '%s' is a list of 1 to 24 field names", object_name,
				           part->text);
				valid = false;
			}
		} else if (!strcmp(part->text, "title")) {
			struct meta_label label = {0};
			parse_label(ld, value, "title", &label);
			label_free(&label);
		} else if (!get_text(ld, value, part->text)) {
			valid = false;
		}
	}
	if (!aux->key_pos[1].line) {
		error_at(ld, aux->at, "views.console of '%s': 'queue' is required: the filter of the records to work on "
		         "(see docs/metadata.md#console-view)", object_name);
		valid = false;
	}
	aux->present = valid;
}

static void parse_object(struct loader *ld, const struct ynode *root)
{
	struct staged_object so;
	memset(&so, 0, sizeof(so));
	const struct ynode *name_node = ytree_map_get(root, "object"), *extend_node = ytree_map_get(root, "extend");
	const char *name = get_name(ld, name_node, "object");
	if (name && reserved_object_name(name)) {
		error_node(ld, name_node, "object names starting with '_' or 'sqlite_' are reserved: '%s'", name);
		name = NULL;
	}
	so.object.name = xstrdup(name ? name : "");
	so.object.pos = node_pos(ld, name_node);
	if (extend_node)
		get_bool(ld, extend_node, "extend", &so.extend);
	if (!so.extend)
		add_system_fields(ld, &so);

	for (int i = 0; i < root->count; i += 2) {
		const struct ynode *key = root->items[i], *value = root->items[i + 1];
		const char *text;
		if (!in_list(key->text, object_keys)) {
			error_unknown_key(ld, key, "object", object_keys);
		} else if (!strcmp(key->text, "label")) {
			parse_label(ld, value, "label", &so.object.label);
		} else if (!strcmp(key->text, "label_plural")) {
			parse_label(ld, value, "label_plural", &so.object.label_plural);
		} else if (!strcmp(key->text, "module")) {
			/* a name, or { name, label: text or { en, zh } } */
			const struct ynode *name = value->kind == YNODE_MAPPING ? ytree_map_get(value, "name") : value;
			for (int k = 0; value->kind == YNODE_MAPPING && k < value->count; k += 2) {
				const struct ynode *mk = value->items[k];
				if (!in_list(mk->text, module_keys))
					error_unknown_key(ld, mk, "module", module_keys);
				else if (!strcmp(mk->text, "label"))
					parse_label(ld, value->items[k + 1], "label", &so.object.module_label);
			}
			if (!name)
				error_node(ld, value, "expected a module name, or { name: sales, label: { en: Sales, zh: 销售 } }");
			else if ((text = get_name(ld, name, "module")))
				so.object.module = xstrdup(text);
		} else if (!strcmp(key->text, "description")) {
			get_text(ld, value, "description");
		} else if (!strcmp(key->text, "append_only")) {
			if (so.extend)
				error_node(ld, key, "append_only belongs to the object's own definition, not to an extension");
			else
				get_bool(ld, value, "append_only", &so.object.append_only);
		} else if (!strcmp(key->text, "fields")) {
			if (value->kind != YNODE_MAPPING) {
				error_node(ld, value, "expected a map of field names to settings for 'fields'");
				continue;
			}
			for (int f = 0; f < value->count; f += 2)
				parse_field(ld, &so, value->items[f], value->items[f + 1]);
		} else if (!strcmp(key->text, "rules")) {
			parse_rules(ld, &so, value);
		} else if (!strcmp(key->text, "indexes")) {
			if (value->kind != YNODE_SEQUENCE) {
				error_node(ld, value, "expected a list of indexes for 'indexes'");
				continue;
			}
			for (int x = 0; x < value->count; x++)
				parse_index(ld, &so, value->items[x]);
		} else if (!strcmp(key->text, "views")) {
			if (value->kind != YNODE_MAPPING) {
				error_node(ld, value, "expected a map of views for 'views'");
				continue;
			}
			so.object.views = node_to_json(value);
			if (!so.object.views)
				error_node(ld, value, "views are not valid JSON text");
			for (int v = 0; v < value->count; v += 2)
				if (!strcmp(value->items[v]->text, "lines"))
					parse_lines_view(ld, so.object.name, &so.lines, value->items[v], value->items[v + 1]);
				else if (!strcmp(value->items[v]->text, "console"))
					parse_console_view(ld, so.object.name, &so.console, value->items[v], value->items[v + 1]);
		}
	}
	if (!name) {
		staged_free(&so);
		return;
	}
	stage_object(ld, &so);
}

/* ------------------------------------------------------------ app settings */

static void parse_languages(struct loader *ld, const struct ynode *node)
{
	struct meta *meta = ld->meta;
	if (node->kind != YNODE_SEQUENCE || node->count == 0) {
		error_node(ld, node, "expected a non-empty list of language codes for 'languages', such as [en, zh]");
		return;
	}
	for (int i = 0; i < node->count; i++) {
		const char *code = get_text(ld, node->items[i], "languages");
		if (!code)
			continue;
		bool repeated = false;
		for (int j = 0; j < meta->language_count; j++)
			repeated = repeated || strcmp(meta->languages[j], code) == 0;
		if (!valid_language(code)) {
			error_node(ld, node->items[i], "invalid language code '%s'", shown(ld, code));
		} else if (repeated) {
			error_node(ld, node->items[i], "language '%s' is listed twice", code);
		} else {
			meta->languages = xrealloc(meta->languages, (size_t)(meta->language_count + 1) * sizeof(char *));
			meta->languages[meta->language_count++] = xstrdup(code);
		}
	}
}

/*
 * A `plugins:` list (app.yaml's or an industry's) appended to *list, each
 * name's position to *pos; a name already in the list is an error.
 */
static void parse_plugin_list(struct loader *ld, const struct ynode *node, struct meta_plugin_ref **list, int *count,
                              struct meta_pos **pos)
{
	if (node->kind != YNODE_SEQUENCE) {
		error_node(ld, node, "expected a list of plugin names or { name, version } for 'plugins'");
		return;
	}
	for (int i = 0; i < node->count; i++) {
		const struct ynode *item = node->items[i], *name_node = item, *version_node = NULL;
		if (item->kind == YNODE_MAPPING) {
			bool ok = true;
			for (int k = 0; k < item->count; k += 2) {
				if (!in_list(item->items[k]->text, plugin_keys)) {
					error_unknown_key(ld, item->items[k], "plugin", plugin_keys);
					ok = false;
				}
			}
			name_node = ytree_map_get(item, "name");
			version_node = ytree_map_get(item, "version");
			if (!name_node) {
				error_node(ld, item, "plugin needs 'name'");
				continue;
			}
			if (!ok)
				continue;
		}
		const char *name = get_name(ld, name_node, "plugins");
		const char *version = version_node ? get_text(ld, version_node, "version") : NULL;
		if (!name || (version_node && !version))
			continue;
		bool repeated = false;
		for (int j = 0; j < *count && !repeated; j++) {
			if (strcmp((*list)[j].name, name) == 0) {
				error_node(ld, name_node, "plugin '%s' is listed twice (first at line %d)", name, (*pos)[j].line);
				repeated = true;
			}
		}
		if (repeated)
			continue;
		*list = xrealloc(*list, (size_t)(*count + 1) * sizeof(**list));
		*pos = xrealloc(*pos, (size_t)(*count + 1) * sizeof(**pos));
		(*list)[*count].name = xstrdup(name);
		(*list)[*count].version_range = version ? xstrdup(version) : NULL;
		(*pos)[*count] = node_pos(ld, name_node);
		(*count)++;
	}
}

/* `industries: { pharma: { label, plugins: [pharma] }, ... }` */
static void parse_industries(struct loader *ld, const struct ynode *node)
{
	struct meta *meta = ld->meta;
	if (node->kind != YNODE_MAPPING) {
		error_node(ld, node, "expected a map of industry names to { label, plugins } for 'industries'");
		return;
	}
	for (int i = 0; i < node->count; i += 2) {
		const struct ynode *key = node->items[i], *value = node->items[i + 1];
		const char *name = get_name(ld, key, "industries");
		if (!name)
			continue;
		if (value->kind != YNODE_MAPPING) {
			error_node(ld, value, "expected a map { label, plugins } for industry '%s'", name);
			continue;
		}
		meta->industries = xrealloc(meta->industries, (size_t)(meta->industry_count + 1) * sizeof(*meta->industries));
		struct meta_industry *industry = &meta->industries[meta->industry_count++];
		memset(industry, 0, sizeof(*industry));
		industry->name = xstrdup(name);
		industry->pos = node_pos(ld, key);
		struct meta_pos *pos = NULL;
		for (int k = 0; k < value->count; k += 2) {
			const struct ynode *ikey = value->items[k], *ivalue = value->items[k + 1];
			if (!in_list(ikey->text, industry_keys))
				error_unknown_key(ld, ikey, "industry", industry_keys);
			else if (!strcmp(ikey->text, "label"))
				parse_label(ld, ivalue, "label", &industry->label);
			else
				parse_plugin_list(ld, ivalue, &industry->plugins, &industry->plugin_count, &pos);
		}
		free(pos);
		if (!industry->plugin_count)
			error_node(ld, key, "industry '%s' needs 'plugins', a non-empty list", name);
	}
}

/*
 * The deployment's industry: `wanted` (crm --industry) or app.yaml's
 * `industry:`. An `industries:` entry of that name appends its plugins to
 * `plugins:`, so an industry pack may require and extend every base package.
 * An `industry:` with no entry is a label only; --industry must name one,
 * or `base` (also `generic`): app.yaml's plugins only.
 */
static void select_industry(struct loader *ld, const char *wanted)
{
	struct meta *meta = ld->meta;
	if (wanted && (!strcmp(wanted, "base") || !strcmp(wanted, "generic"))) {
		free(meta->industry);   /* the base deployment: app.yaml's plugins only */
		meta->industry = xstrdup("generic");
		return;
	}
	const char *name = wanted ? wanted : meta->industry;
	if (!name)
		return;
	const struct meta_industry *industry = NULL;
	for (int i = 0; i < meta->industry_count && !industry; i++)
		if (!strcmp(meta->industries[i].name, name))
			industry = &meta->industries[i];
	if (!industry && wanted && !(meta->industry && !strcmp(meta->industry, wanted))) {
		struct strbuf known = {0};
		for (int i = 0; i < meta->industry_count; i++)
			strbuf_printf(&known, "%s%s", i ? ", " : "", meta->industries[i].name);
		struct meta_pos where = ld->industry_pos;
		if (!where.file)
			where = (struct meta_pos){"app.yaml", 0, 0};
		error_at(ld, where, "--industry %s: app.yaml has no such industry (its industries: %s)", shown(ld, wanted),
		         known.len ? known.data : "none");
		strbuf_free(&known);
		return;
	}
	if (wanted && (!meta->industry || strcmp(meta->industry, wanted) != 0)) {
		free(meta->industry);
		meta->industry = xstrdup(wanted);
	}
	for (int i = 0; industry && i < industry->plugin_count; i++) {
		const struct meta_plugin_ref *ref = &industry->plugins[i];
		int j = 0;
		while (j < meta->plugin_count && strcmp(meta->plugins[j].name, ref->name) != 0)
			j++;
		if (j < meta->plugin_count) {
			error_at(ld, industry->pos, "industry '%s' enables plugin '%s', which 'plugins' already lists (line %d)",
			         industry->name, ref->name, ld->plugin_pos[j].line);
			continue;
		}
		meta->plugins = xrealloc(meta->plugins, (size_t)(meta->plugin_count + 1) * sizeof(*meta->plugins));
		ld->plugin_pos = xrealloc(ld->plugin_pos, (size_t)(meta->plugin_count + 1) * sizeof(*ld->plugin_pos));
		meta->plugins[meta->plugin_count].name = xstrdup(ref->name);
		meta->plugins[meta->plugin_count].version_range = ref->version_range ? xstrdup(ref->version_range) : NULL;
		ld->plugin_pos[meta->plugin_count] = industry->pos;
		meta->plugin_count++;
	}
}

/* A text of config.outbox: what it must start with (NULL: anything) and no line break (it goes into headers). */
static bool outbox_text(struct loader *ld, const struct ynode *node, const char *key, const char *const *prefixes)
{
	const char *text = get_text(ld, node, key);
	if (!text)
		return false;
	bool ok = !prefixes;
	for (int i = 0; prefixes && prefixes[i]; i++)
		ok = ok || !strncmp(text, prefixes[i], strlen(prefixes[i]));
	if (!ok || strpbrk(text, "\r\n")) {
		error_node(ld, node, "'%s' must %s%s%s%s and hold no line break", key, prefixes ? "start with " : "be a text",
		           prefixes ? prefixes[0] : "", prefixes ? " or " : "", prefixes ? prefixes[1] : "");
		return false;
	}
	return true;
}

/* config.outbox: the keys of docs/metadata.md#outbox with their types, checked where they are written. */
static bool check_outbox_config(struct loader *ld, const struct ynode *outbox)
{
	static const char *const smtp[] = { "smtp://", "smtps://", NULL };
	static const char *const web[] = { "https://", "http://", NULL };
	int errors = ld->diags->error_count;
	if (outbox->kind != YNODE_MAPPING) {
		error_node(ld, outbox, "expected a map for 'outbox' (see docs/metadata.md#outbox)");
		return false;
	}
	for (int i = 0; i < outbox->count; i += 2) {
		const struct ynode *key = outbox->items[i], *value = outbox->items[i + 1];
		double number;
		bool flag;
		if (!in_list(key->text, outbox_keys)) {
			error_unknown_key(ld, key, "outbox settings", outbox_keys);
		} else if (!strcmp(key->text, "smtp_url")) {
			outbox_text(ld, value, "smtp_url", smtp);
		} else if (!strcmp(key->text, "from") || !strcmp(key->text, "smtp_user_env") ||
		           !strcmp(key->text, "smtp_password_env")) {
			outbox_text(ld, value, key->text, NULL);
		} else if (!strcmp(key->text, "starttls")) {
			get_bool(ld, value, "starttls", &flag);
		} else if (!strcmp(key->text, "webhooks")) {
			if (value->kind != YNODE_MAPPING) {
				error_node(ld, value, "expected a map of endpoint names to { url, secret_env } for 'webhooks'");
				continue;
			}
			for (int w = 0; w < value->count; w += 2) {
				const struct ynode *name = value->items[w], *endpoint = value->items[w + 1];
				if (!get_name(ld, name, "webhooks"))
					continue;
				if (endpoint->kind != YNODE_MAPPING || !ytree_map_get(endpoint, "url") ||
				    !ytree_map_get(endpoint, "secret_env")) {
					error_node(ld, endpoint, "webhook '%s' needs { url, secret_env }", name->text);
					continue;
				}
				for (int k = 0; k < endpoint->count; k += 2) {
					const struct ynode *ek = endpoint->items[k], *ev = endpoint->items[k + 1];
					if (!in_list(ek->text, webhook_keys))
						error_unknown_key(ld, ek, "outbox webhook", webhook_keys);
					else
						outbox_text(ld, ev, ek->text, !strcmp(ek->text, "url") ? web : NULL);
				}
			}
		} else if (get_number(ld, value, key->text, &number)) {
			/* the ranges outbox_config_read clamps to (docs/metadata.md#outbox) */
			double low = !strcmp(key->text, "max_body") ? 1024 : 1;
			double high = !strcmp(key->text, "timeout") ? 300 : !strcmp(key->text, "max_attempts") ? 100
			              : !strcmp(key->text, "max_body") ? 1048576 : 7 * 86400;
			if (number < low || number > high || number != (double)(long long)number)
				error_node(ld, value, "'%s' must be a whole number from %.0f to %.0f", key->text, low, high);
		}
	}
	return ld->diags->error_count == errors;
}

/* config's attachment settings (attachment.h): files_dir a path, file_max_bytes a positive integer */
static void check_files_config(struct loader *ld, const struct ynode *map, const json_t *config)
{
	const struct ynode *node;
	json_t *value;
	if ((node = ytree_map_get(map, "files_dir")) && (!json_is_string(value = json_object_get(config, "files_dir"))
	                                                 || json_string_length(value) == 0))
		error_node(ld, node, "config files_dir must be a directory path");
	if ((node = ytree_map_get(map, "file_max_bytes"))
	    && (!json_is_integer(value = json_object_get(config, "file_max_bytes")) || json_integer_value(value) < 1
	        || json_integer_value(value) > ((json_int_t)1 << 32)))
		error_node(ld, node, "config file_max_bytes must be a whole number of bytes from 1 to 4294967296");
}

static void signup_free(struct meta_signup *signup)
{
	if (!signup)
		return;
	free(signup->role);
	free(signup->template_name);
	free(signup->url);
	free(signup);
}

/* app.yaml `signup: { role, template, url, expires_hours }`; the role and template are checked in check_signup. */
static void parse_signup(struct loader *ld, const struct ynode *node)
{
	if (node->kind != YNODE_MAPPING) {
		error_node(ld, node, "expected a map { role, template, url, expires_hours } for 'signup' "
		           "(see docs/metadata.md#signup)");
		return;
	}
	struct meta_signup *signup = xcalloc(1, sizeof(*signup));
	signup->pos = node_pos(ld, node);
	signup->expires_hours = 24;
	for (int i = 0; i < node->count; i += 2) {
		const struct ynode *key = node->items[i], *value = node->items[i + 1];
		const char *text;
		long long hours;
		if (!in_list(key->text, signup_keys)) {
			error_unknown_key(ld, key, "signup", signup_keys);
		} else if (!strcmp(key->text, "role")) {
			signup->role_pos = node_pos(ld, value);
			if ((text = get_name(ld, value, "role")))
				signup->role = xstrdup(text);
		} else if (!strcmp(key->text, "template")) {
			signup->template_pos = node_pos(ld, value);
			if ((text = get_name(ld, value, "template")))
				signup->template_name = xstrdup(text);
		} else if (!strcmp(key->text, "url")) {
			text = get_text(ld, value, "url");
			bool web = text && (!strncmp(text, "https://", 8) || !strncmp(text, "http://", 7));
			if (text && (!web || strlen(text) > 500 || strpbrk(text, " \t\r\n\"'<>#?")))
				error_node(ld, value, "'url' must be an http:// or https:// address of at most 500 characters, "
				           "without spaces, quotes, '#' or '?' (the link is url + \"/#/verify?token=...\")");
			else if (text)
				signup->url = xstrdup(text);
		} else if (get_int(ld, value, "expires_hours", 1, 168, &hours)) {
			signup->expires_hours = (int)hours;
		}
	}
	static const char *const required[] = { "role", "template", "url", NULL };
	for (int i = 0; required[i]; i++)
		if (!ytree_map_get(node, required[i]))
			error_node(ld, node, "'signup' needs '%s'", required[i]);
	/* kept with its mistakes too (the load fails anyway): check_signup reports the role and template */
	signup_free(ld->meta->signup);
	ld->meta->signup = signup;
}

/* The sign-up's role is a consumer role; its template an e-mail that takes name and link. */
static void check_signup(struct loader *ld)
{
	const struct meta_signup *signup = ld->meta->signup;
	if (!signup)
		return;
	const struct meta_role *role = signup->role ? meta_find_role(ld->meta, signup->role) : NULL;
	if (!signup->role || !signup->template_name)
		return;   /* reported where it is missing or malformed */
	if (!role)
		error_at(ld, signup->role_pos, "signup: no role '%s'", shown(ld, signup->role));
	else if (role->kind != USER_CONSUMER || role->admin)
		error_at(ld, signup->role_pos, "signup: role '%s' is for %s users: people who sign themselves up get a "
		         "role of kind consumer", role->name, user_kind_names[role->kind]);
	const struct meta_template *t = meta_find_template(ld->meta, signup->template_name);
	if (!t) {
		error_at(ld, signup->template_pos, "signup: no template '%s'", shown(ld, signup->template_name));
		return;
	}
	bool name = false, link = false;
	for (int v = 0; v < t->var_count; v++) {
		name = name || !strcmp(t->vars[v], "name");
		link = link || !strcmp(t->vars[v], "link");
	}
	if (strcmp(t->channel, "email") || t->object || !name || !link)
		error_at(ld, signup->template_pos, "signup: template '%s' must be an e-mail template with no object and "
		         "vars [name, link]", t->name);
}

static void parse_app(struct loader *ld, const struct ynode *root)
{
	struct meta *meta = ld->meta;
	if (ld->app_seen) {
		error_node(ld, root, "app settings are given twice: keep one app document");
		return;
	}
	ld->app_seen = true;
	ld->industry_pos = node_pos(ld, root);
	for (int i = 0; i < root->count; i += 2) {
		const struct ynode *key = root->items[i], *value = root->items[i + 1];
		const char *text;
		if (!in_list(key->text, app_keys)) {
			error_unknown_key(ld, key, "app settings", app_keys);
		} else if (!strcmp(key->text, "app")) {
			if ((text = get_text(ld, value, "app")))
				meta->app_name = xstrdup(text);
		} else if (!strcmp(key->text, "industry")) {
			ld->industry_pos = node_pos(ld, value);
			if ((text = get_text(ld, value, "industry")))
				meta->industry = xstrdup(text);
		} else if (!strcmp(key->text, "languages")) {
			parse_languages(ld, value);
		} else if (!strcmp(key->text, "plugins")) {
			parse_plugin_list(ld, value, &meta->plugins, &meta->plugin_count, &ld->plugin_pos);
		} else if (!strcmp(key->text, "industries")) {
			parse_industries(ld, value);
		} else if (!strcmp(key->text, "signup")) {
			parse_signup(ld, value);
		} else if (value->kind != YNODE_MAPPING) {
			error_node(ld, value, "expected a map for 'config'");
		} else if (ytree_map_get(value, "outbox") && !check_outbox_config(ld, ytree_map_get(value, "outbox"))) {
			continue;
		} else if (!(meta->config = node_to_json(value))) {
			error_node(ld, value, "config is not valid JSON text");
		} else {
			check_files_config(ld, value, meta->config);
		}
	}
}

/* ------------------------------------------------------------------- roles */

static int word_index(const char *word, const char *const *list)
{
	for (int i = 0; list[i]; i++) {
		if (strcmp(word, list[i]) == 0)
			return i;
	}
	return -1;
}

/*
 * One operation's level: none, own, team, all, a YAML boolean (true: all,
 * false: none) or else an expression, parsed here and checked against the
 * object once every object is known.
 */
static void parse_access_rule(struct loader *ld, struct meta_access_rule *rule, const char *op,
                              const struct ynode *node)
{
	static const char *const level_words[] = {"none", "own", "team", "all", NULL};   /* enum access_level order */
	bool boolean;
	rule->pos = node_pos(ld, node);
	if (node->kind != YNODE_SCALAR || is_null(node) || strspn(node->text, " \t\r\n") == strlen(node->text)) {
		error_node(ld, node, "expected " LEVEL_WORDS " for '%s'", op);
		return;
	}
	if (node->plain && parse_bool_text(node->text, &boolean)) {
		rule->level = boolean ? LEVEL_ALL : LEVEL_NONE;
		return;
	}
	int level = word_index(node->text, level_words);
	if (level >= 0) {
		rule->level = (enum access_level)level;
		return;
	}
	char err[256] = "";
	struct expr *expr = NULL;
	if (expr_parse(node->text, &expr, err, sizeof(err)) != CRM_OK) {
		/* A single word that is no expression either ("All") is a mistyped level. */
		const char *word = node->text + strspn(node->text, " \t\r\n");
		size_t length = strspn(word, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
		if (length > 0 && word[length + strspn(word + length, " \t\r\n")] == '\0')
			error_node(ld, node, "unknown level '%s' for '%s' (expected " LEVEL_WORDS ")", shown(ld, node->text), op);
		else
			error_node(ld, node, "invalid expression: %s", err);
		return;
	}
	rule->level = LEVEL_EXPR;
	rule->text = xstrdup(node->text);
	rule->expr = expr;
}

/* `objects:` a map of object names to { read, create, update, delete, change_owner }. */
static void parse_role_objects(struct loader *ld, struct meta_role *role, struct role_aux *aux,
                               const struct ynode *node)
{
	if (node->kind != YNODE_MAPPING) {
		error_node(ld, node, "expected a map of object names to rights for 'objects', such as { account: { read: all } }");
		return;
	}
	int count = node->count / 2;
	if (count == 0)
		return;
	role->objects = xcalloc((size_t)count, sizeof(*role->objects));
	aux->object_names = xcalloc((size_t)count, sizeof(*aux->object_names));
	aux->object_pos = xcalloc((size_t)count, sizeof(*aux->object_pos));
	for (int i = 0; i < node->count; i += 2) {
		const struct ynode *key = node->items[i], *spec = node->items[i + 1];
		struct meta_role_object *entry = &role->objects[role->object_count++];
		aux->object_names[aux->object_count] = xstrdup(key->text);
		aux->object_pos[aux->object_count++] = node_pos(ld, key);
		if (spec->kind != YNODE_MAPPING) {
			error_node(ld, spec, "expected a map of rights for object '%s' in role '%s', such as { read: all, update: own }",
			           shown(ld, key->text), role->name);
			continue;
		}
		char where[160];
		snprintf(where, sizeof(where), "object '%s' of role '%s'", shown(ld, key->text), role->name);
		for (int k = 0; k < spec->count; k += 2) {
			const struct ynode *op_key = spec->items[k], *value = spec->items[k + 1];
			int op = word_index(op_key->text, role_object_keys);
			if (op < 0)
				error_unknown_key(ld, op_key, where, role_object_keys);
			else if (op == ACCESS_OP_COUNT)
				get_bool(ld, value, "change_owner", &entry->change_owner);
			else
				parse_access_rule(ld, &entry->ops[op], op_key->text, value);
		}
	}
}

/* `fields:` a map of "object.field" to read, hidden or write. */
static void parse_role_fields(struct loader *ld, struct meta_role *role, struct role_aux *aux,
                              const struct ynode *node)
{
	if (node->kind != YNODE_MAPPING) {
		error_node(ld, node, "expected a map of 'object.field' to read, hidden or write for 'fields'");
		return;
	}
	int count = node->count / 2;
	if (count == 0)
		return;
	role->fields = xcalloc((size_t)count, sizeof(*role->fields));
	aux->field_keys = xcalloc((size_t)count, sizeof(*aux->field_keys));
	aux->field_pos = xcalloc((size_t)count, sizeof(*aux->field_pos));
	for (int i = 0; i < node->count; i += 2) {
		const struct ynode *key = node->items[i], *value = node->items[i + 1];
		const char *dot = strchr(key->text, '.');
		bool key_ok = dot != NULL;
		if (key_ok) {
			char *object = xstrndup(key->text, (size_t)(dot - key->text));
			key_ok = crm_valid_name(object) && crm_valid_name(dot + 1);
			free(object);
		}
		if (!key_ok) {
			error_node(ld, key, "expected 'object.field' for a key of 'fields' in role '%s', not '%s'", role->name,
			           shown(ld, key->text));
			continue;
		}
		int access = value->kind == YNODE_SCALAR ? word_index(value->text, field_access_names) : -1;
		if (access < 0) {
			error_node(ld, value, "expected read, hidden or write for '%s' in role '%s'%s%s%s", key->text, role->name,
			           value->kind == YNODE_SCALAR ? ", not '" : "", value->kind == YNODE_SCALAR ? shown(ld, value->text) : "",
			           value->kind == YNODE_SCALAR ? "'" : "");
			continue;
		}
		role->fields[role->field_count++].access = (enum field_access)access;
		aux->field_keys[aux->field_count] = xstrdup(key->text);
		aux->field_pos[aux->field_count++] = node_pos(ld, key);
	}
}

/* Keeps a parsed role; a second role of the same name is refused where it is written. */
static void stage_role(struct loader *ld, struct meta_role *role, struct role_aux *aux)
{
	struct meta *meta = ld->meta;
	for (int i = 0; i < meta->role_count; i++) {
		const struct meta_role *other = &meta->roles[i];
		if (strcmp(other->name, role->name) == 0) {
			error_at(ld, role->pos, "role '%s' is already defined at %s:%d:%d", role->name, other->pos.file,
			         other->pos.line, other->pos.column);
			role_free(role);
			role_aux_free(aux);
			return;
		}
	}
	if (meta->role_count == ld->role_cap) {
		ld->role_cap = ld->role_cap ? ld->role_cap * 2 : 8;
		meta->roles = xrealloc(meta->roles, (size_t)ld->role_cap * sizeof(*meta->roles));
		ld->role_aux = xrealloc(ld->role_aux, (size_t)ld->role_cap * sizeof(*ld->role_aux));
	}
	meta->roles[meta->role_count] = *role;
	ld->role_aux[meta->role_count++] = *aux;
	memset(role, 0, sizeof(*role));
	memset(aux, 0, sizeof(*aux));
}

static bool parse_name_list(struct loader *ld, const struct ynode *node, const char *key, bool allow_star,
                            bool *star, char ***out, int *count_out);

#define MAX_HOME_SECTIONS 50
#define MAX_HOME_FIELDS 50

/* One entry of home.sections: { object, title, filter, sort, fields, limit, new }. */
static bool parse_home_section(struct loader *ld, const struct ynode *node, struct meta_home_section *out)
{
	memset(out, 0, sizeof(*out));
	out->pos = node_pos(ld, node);
	out->limit = 10;
	if (node->kind != YNODE_MAPPING) {
		error_node(ld, node, "expected a map { object, title, filter, sort, fields, limit, new } for a home section "
		           "(see docs/metadata.md#home-section)");
		return false;
	}
	int errors = ld->diags->error_count;
	for (int i = 0; i < node->count; i += 2) {
		const struct ynode *key = node->items[i], *value = node->items[i + 1];
		const char *text;
		long long limit;
		if (!in_list(key->text, home_section_keys)) {
			error_unknown_key(ld, key, "home section", home_section_keys);
		} else if (!strcmp(key->text, "object")) {
			out->object_pos = node_pos(ld, value);
			if ((text = get_name(ld, value, "object")))
				out->object_name = xstrdup(text);
		} else if (!strcmp(key->text, "title")) {
			parse_label(ld, value, "title", &out->title);
		} else if (!strcmp(key->text, "filter")) {
			out->filter_pos = node_pos(ld, value);
			char err[256] = "";
			if ((text = get_text(ld, value, "filter")) && expr_parse(text, &out->filter_expr, err, sizeof(err)) != CRM_OK)
				error_node(ld, value, "home section filter: invalid expression: %s", err);
			else if (text)
				out->filter = xstrdup(text);
		} else if (!strcmp(key->text, "sort")) {
			out->sort_pos = node_pos(ld, value);
			if ((text = get_text(ld, value, "sort")))
				out->sort = xstrdup(text);
		} else if (!strcmp(key->text, "fields")) {
			if (value->kind != YNODE_SEQUENCE || value->count > MAX_HOME_FIELDS) {
				error_node(ld, value, "expected a list of at most %d field names for 'fields'", MAX_HOME_FIELDS);
				continue;
			}
			out->fields = xcalloc((size_t)value->count + 1, sizeof(char *));
			out->field_pos = xcalloc((size_t)value->count + 1, sizeof(struct meta_pos));
			for (int f = 0; f < value->count; f++) {
				if (!(text = get_name(ld, value->items[f], "fields")))
					continue;
				out->field_pos[out->field_count] = node_pos(ld, value->items[f]);
				out->fields[out->field_count++] = xstrdup(text);
			}
		} else if (!strcmp(key->text, "limit")) {
			if (get_int(ld, value, "limit", 1, 50, &limit))
				out->limit = (int)limit;
		} else if (!strcmp(key->text, "new")) {
			get_bool(ld, value, "new", &out->new_button);
		}
	}
	if (!ytree_map_get(node, "object"))
		error_node(ld, node, "a home section needs 'object': the object whose records it lists");
	return ld->diags->error_count == errors;
}

/* A role's `home: { title, sections }`: the home page its users get instead of the objects' views.home. */
static void parse_role_home(struct loader *ld, struct meta_role *role, const struct ynode *node)
{
	if (node->kind != YNODE_MAPPING) {
		error_node(ld, node, "expected a map { title, sections } for 'home' (see docs/metadata.md#role-home)");
		return;
	}
	for (int i = 0; i < node->count; i += 2) {
		const struct ynode *key = node->items[i], *value = node->items[i + 1];
		if (!in_list(key->text, role_home_keys)) {
			error_unknown_key(ld, key, "role home", role_home_keys);
		} else if (!strcmp(key->text, "title")) {
			parse_label(ld, value, "title", &role->home_title);
		} else if (value->kind != YNODE_SEQUENCE || value->count == 0 || value->count > MAX_HOME_SECTIONS) {
			error_node(ld, value, "expected a list of 1 to %d sections for 'sections'", MAX_HOME_SECTIONS);
		} else {
			role->home = xcalloc((size_t)value->count, sizeof(*role->home));
			for (int s = 0; s < value->count; s++) {
				if (parse_home_section(ld, value->items[s], &role->home[role->home_count]))
					role->home_count++;
				else
					home_section_free(&role->home[role->home_count]);
			}
		}
	}
}

static void parse_role(struct loader *ld, const struct ynode *root)
{
	struct meta_role role;
	struct role_aux aux;
	memset(&role, 0, sizeof(role));
	memset(&aux, 0, sizeof(aux));
	const struct ynode *name_node = ytree_map_get(root, "role");
	const char *name = get_name(ld, name_node, "role");
	role.name = xstrdup(name ? name : "");
	role.pos = node_pos(ld, name_node);
	role.kind = USER_EMPLOYEE;

	const struct ynode *objects_key = NULL, *fields_key = NULL, *kind_node = NULL, *admin_node = NULL,
		*label_node = NULL;
	bool extend = false;
	for (int i = 0; i < root->count; i += 2) {
		const struct ynode *key = root->items[i], *value = root->items[i + 1];
		int kind;
		if (!strcmp(key->text, "extend")) {
			get_bool(ld, value, "extend", &extend);
		} else if (!in_list(key->text, role_keys)) {
			error_unknown_key(ld, key, "role", role_keys);
		} else if (!strcmp(key->text, "label")) {
			label_node = key;
			parse_label(ld, value, "label", &role.label);
		} else if (!strcmp(key->text, "description")) {
			get_text(ld, value, "description");
		} else if (!strcmp(key->text, "kind")) {
			kind_node = value;
			kind = value->kind == YNODE_SCALAR ? word_index(value->text, user_kind_names) : -1;
			if (kind < 0)
				error_node(ld, value, "expected employee, partner or consumer for 'kind'%s%s%s",
				           value->kind == YNODE_SCALAR ? ", not '" : "",
				           value->kind == YNODE_SCALAR ? shown(ld, value->text) : "",
				           value->kind == YNODE_SCALAR ? "'" : "");
			else
				role.kind = (enum user_kind)kind;
		} else if (!strcmp(key->text, "admin")) {
			admin_node = key;
			get_bool(ld, value, "admin", &role.admin);
		} else if (!strcmp(key->text, "navigation")) {
			parse_name_list(ld, value, "navigation", false, NULL, &role.navigation, &role.navigation_count);
		} else if (!strcmp(key->text, "home")) {
			parse_role_home(ld, &role, value);
		} else if (!strcmp(key->text, "objects")) {
			objects_key = key;
			parse_role_objects(ld, &role, &aux, value);
		} else if (!strcmp(key->text, "fields")) {
			fields_key = key;
			parse_role_fields(ld, &role, &aux, value);
		}
	}
	/* Rights listed beside admin: true would read as limits that do not apply. */
	if (role.admin) {
		if (objects_key)
			error_node(ld, objects_key, "role '%s' is an admin role with every right: 'objects' is not allowed with 'admin: true'",
			           role.name);
		if (fields_key)
			error_node(ld, fields_key, "role '%s' is an admin role with every right: 'fields' is not allowed with 'admin: true'",
			           role.name);
		if (role.kind != USER_EMPLOYEE)
			error_node(ld, kind_node, "an admin role is for employees: role '%s' cannot be 'admin: true' with kind '%s'",
			           role.name, user_kind_names[role.kind]);
		/* the anonymous caller of public plugin routes (crm.h CRM_GUEST_ROLE) gets what it is granted, never all */
		if (name && !strcmp(name, CRM_GUEST_ROLE))
			error_node(ld, admin_node, "role '%s' is what anonymous callers of public plugin routes act with: "
			           "it cannot be 'admin: true'; grant it the objects it needs", name);
	}
	if (!name) {
		role_free(&role);
		role_aux_free(&aux);
		return;
	}
	if (extend) {
		/* an extension adds rights; who the role is for is the defining document's to say */
		const struct ynode *fixed = kind_node ? kind_node : admin_node ? admin_node : label_node;
		if (fixed)
			error_node(ld, fixed, "role '%s' is extended here: kind, admin and label belong to the document that "
			           "defines it", role.name);
		if (ld->role_ext_count == ld->role_ext_cap) {
			ld->role_ext_cap = ld->role_ext_cap ? ld->role_ext_cap * 2 : 4;
			ld->role_ext = xrealloc(ld->role_ext, (size_t)ld->role_ext_cap * sizeof(*ld->role_ext));
			ld->role_ext_aux = xrealloc(ld->role_ext_aux, (size_t)ld->role_ext_cap * sizeof(*ld->role_ext_aux));
		}
		ld->role_ext[ld->role_ext_count] = role;
		ld->role_ext_aux[ld->role_ext_count++] = aux;
		return;
	}
	stage_role(ld, &role, &aux);
}

/*
 * `role: sales_rep, extend: true` (a plugin's document) adds objects, fields
 * and navigation entries to a role defined elsewhere: a package grants its
 * own objects to the roles of the base without editing metadata/. It may not
 * restate an object or field the role already lists: two documents deciding
 * the same right would leave a reader unsure which one holds.
 */
static void merge_role_home(struct meta_role *role, struct meta_role *ext)
{
	/* the defining document's title, else the first extension's (in load order) that gives one */
	if (!role->home_title.count) {
		role->home_title = ext->home_title;
		memset(&ext->home_title, 0, sizeof(ext->home_title));
	}
	if (!ext->home_count)
		return;
	role->home = xrealloc(role->home, (size_t)(role->home_count + ext->home_count) * sizeof(*role->home));
	memcpy(role->home + role->home_count, ext->home, (size_t)ext->home_count * sizeof(*ext->home));
	role->home_count += ext->home_count;
	ext->home_count = 0;
}

static void merge_role_extensions(struct loader *ld)
{
	struct meta *meta = ld->meta;
	for (int e = 0; e < ld->role_ext_count; e++) {
		struct meta_role *ext = &ld->role_ext[e];
		struct role_aux *ext_aux = &ld->role_ext_aux[e];
		struct meta_role *role = NULL;
		struct role_aux *aux = NULL;
		for (int r = 0; r < meta->role_count && !role; r++) {
			if (strcmp(meta->roles[r].name, ext->name) == 0) {
				role = &meta->roles[r];
				aux = &ld->role_aux[r];
			}
		}
		if (!role)
			error_at(ld, ext->pos, "role '%s' is extended but defined nowhere (define it with 'role: %s' in "
			         "metadata/ or a plugin)", ext->name, ext->name);
		else if (role->admin)
			error_at(ld, ext->pos, "role '%s' is an admin role with every right: there is nothing to extend",
			         ext->name);
		if (!role || role->admin) {
			role_free(ext);
			role_aux_free(ext_aux);
			continue;
		}
		role->objects = xrealloc(role->objects, (size_t)(role->object_count + ext->object_count) * sizeof(*role->objects));
		aux->object_names = xrealloc(aux->object_names, (size_t)(aux->object_count + ext->object_count) * sizeof(char *));
		aux->object_pos = xrealloc(aux->object_pos, (size_t)(aux->object_count + ext->object_count) * sizeof(struct meta_pos));
		for (int i = 0; i < ext->object_count; i++) {
			int known = 0;
			while (known < aux->object_count && strcmp(aux->object_names[known], ext_aux->object_names[i]) != 0)
				known++;
			if (known < aux->object_count) {
				error_at(ld, ext_aux->object_pos[i], "role '%s' already lists object '%s' at %s:%d:%d", ext->name,
				         shown(ld, ext_aux->object_names[i]), aux->object_pos[known].file,
				         aux->object_pos[known].line, aux->object_pos[known].column);
				continue;
			}
			role->objects[role->object_count++] = ext->objects[i];
			memset(&ext->objects[i], 0, sizeof(ext->objects[i]));
			aux->object_names[aux->object_count] = ext_aux->object_names[i];
			ext_aux->object_names[i] = NULL;
			aux->object_pos[aux->object_count++] = ext_aux->object_pos[i];
		}
		role->fields = xrealloc(role->fields, (size_t)(role->field_count + ext->field_count) * sizeof(*role->fields));
		aux->field_keys = xrealloc(aux->field_keys, (size_t)(aux->field_count + ext->field_count) * sizeof(char *));
		aux->field_pos = xrealloc(aux->field_pos, (size_t)(aux->field_count + ext->field_count) * sizeof(struct meta_pos));
		for (int i = 0; i < ext->field_count; i++) {
			int known = 0;
			while (known < aux->field_count && strcmp(aux->field_keys[known], ext_aux->field_keys[i]) != 0)
				known++;
			if (known < aux->field_count) {
				error_at(ld, ext_aux->field_pos[i], "role '%s' already lists field '%s' at %s:%d:%d", ext->name,
				         shown(ld, ext_aux->field_keys[i]), aux->field_pos[known].file, aux->field_pos[known].line,
				         aux->field_pos[known].column);
				continue;
			}
			role->fields[role->field_count++] = ext->fields[i];
			aux->field_keys[aux->field_count] = ext_aux->field_keys[i];
			ext_aux->field_keys[i] = NULL;
			aux->field_pos[aux->field_count++] = ext_aux->field_pos[i];
		}
		for (int i = 0; i < ext->navigation_count; i++) {
			role->navigation = xrealloc(role->navigation, (size_t)(role->navigation_count + 1) * sizeof(char *));
			role->navigation[role->navigation_count++] = ext->navigation[i];
			ext->navigation[i] = NULL;
		}
		merge_role_home(role, ext);
		role_free(ext);
		role_aux_free(ext_aux);
	}
	free(ld->role_ext);
	free(ld->role_ext_aux);
	ld->role_ext = NULL;
	ld->role_ext_aux = NULL;
	ld->role_ext_count = 0;
}

/* --------------------------------------------------------------- workflows */

static const char *const workflow_keys[] = {
	"workflow", "extend", "object", "field", "initial", "terminal", "self_approval", "transitions", "timers", "label",
	"description", NULL,
};
/* What only the document that defines a workflow may say (an extension keeps these). */
static const char *const workflow_defining_keys[] = { "object", "field", "initial", "self_approval", NULL };
static const char *const transition_keys[] = {
	"name", "extend", "from", "to", "require", "when", "message", "roles", "do", "approval", "direct", "label", NULL,
};
static const char *const approval_keys[] = { "when", "approvers", "steps", "mode", "self_approval", NULL };
static const char *const step_keys[] = { "approvers", "mode", NULL };
static const char *const kpi_keys[] = {
	"kpi", "label", "description", "object", "measure", "filter", "date", "owner", "period", "direction", "target",
	"category", "source", "formula", "actions", "per", "unit", "dashboards", NULL,
};
/* source: audit: the actions the audit trail records that count (default: the writes, not login or password) */
static const char *const kpi_audit_actions[] = {
	"create", "update", "delete", "restore", "transition", "purge", "login", "password", NULL,
};
static const char *const kpi_units[] = { "count", "number", "money", "percent", "hours", "days", NULL };
static const char *const kpi_scope_names[] = { "me", "team", "all", NULL };
static const char *const kpi_target_keys[] = { "object", "field", "owner", "date", NULL };
static const char *const kpi_periods[] = { "month", "quarter", "year", NULL };
static const char *const kpi_categories[] = { "operating", "business_value", NULL };
static const char *const report_keys[] = {
	"report", "label", "description", "module", "object", "joins", "group", "measures", "filter", "parameters",
	"sort", "limit", "view", NULL,
};
static const char *const report_join_keys[] = { "children", "parent", "from", NULL };
static const char *const report_group_keys[] = { "field", "by", "label", NULL };
static const char *const report_measure_keys[] = { "measure", "filter", "label", NULL };
static const char *const report_buckets[] = { "", "day", "week", "month", "quarter", "year", NULL };
static const char *const report_views[] = { "table", "bar", "line", "funnel", NULL };
static const char *const template_keys[] = {
	"template", "label", "description", "channel", "format", "subject", "body", "vars", "object", NULL,
};
static const char *const template_formats[] = { "text", "html", "json", NULL };
static const char *const calendar_keys[] = { "calendar", "label", "description", "timezone", "hours", NULL };
/* calendar hours: the weekdays, Monday first (calendar.h: week[0] is Monday) */
static const char *const calendar_days[] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun", NULL };
static const char *const timer_keys[] = {
	"name", "when", "every", "at", "cron", "untouched_for", "do", "due", "pause_when", "calendar", "paused_since",
	"paused_minutes", "extend", "enabled", NULL,
};
static const char *const create_keys[] = { "object", "values", "link", "owner", NULL };
/* Beside the action's own key in an action map: whose rights it runs with. */
static const char *const action_keys[] = { "set", "create", "notify", "transition", "as", NULL };
static const char *const notify_keys[] = { "notify", "message", "channel", "template", NULL };

/*
 * Every list above, named by the section of docs/metadata.md that documents
 * it: meta_key_tables hands them to the reference (core/lang/meta_docs.c),
 * whose test fails when a key here has no entry there. A new list of keys
 * goes here too.
 */
static const struct meta_key_table key_tables[] = {
	{ "app", app_keys },
	{ "app-plugin", plugin_keys },
	{ "industry", industry_keys },
	{ "signup", signup_keys },
	{ "object", object_keys },
	{ "module", module_keys },
	{ "enum-value", value_keys },
	{ "rule", rule_keys },
	{ "index", index_keys },
	{ "role", role_keys },
	{ "role-object", role_object_keys },
	{ "role-home", role_home_keys },
	{ "home-section", home_section_keys },
	{ "workflow", workflow_keys },
	{ "transition", transition_keys },
	{ "approval", approval_keys },
	{ "approval-step", step_keys },
	{ "timer", timer_keys },
	{ "kpi", kpi_keys },
	{ "kpi-target", kpi_target_keys },
	{ "report", report_keys },
	{ "report-join", report_join_keys },
	{ "report-group", report_group_keys },
	{ "report-measure", report_measure_keys },
	{ "template", template_keys },
	{ "outbox", outbox_keys },
	{ "outbox-webhook", webhook_keys },
	{ "actions", action_keys },
	{ "create-action", create_keys },
	{ "notify-action", notify_keys },
	{ "lines-view", lines_keys },
	{ "console-view", console_keys },
	{ "console-clock", console_clock_keys },
	{ "console-panel", console_panel_keys },
	{ "calendar", calendar_keys },
	{ "calendar-hours", calendar_days },
};

/* The section for an unknown-key message: a field's list is built from field_keys ("type" first). */
static const char *key_section(const char *const *allowed)
{
	for (size_t i = 0; i < sizeof(key_tables) / sizeof(key_tables[0]); i++) {
		if (key_tables[i].keys == allowed)
			return key_tables[i].kind;
	}
	return allowed[0] == field_keys[FK_TYPE].name ? "field" : "contents";
}

#define MAX_WORKFLOW_ITEMS 200

static void free_names(char **names, int count);    /* transitions, timers, actions, steps, approvers */

static void warning_at(struct loader *ld, struct meta_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void warning_at(struct loader *ld, struct meta_pos pos, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_diag(ld, true, pos.file, pos.line, pos.column, fmt, ap);
	va_end(ap);
}

static void action_free(struct meta_workflow_action *action)
{
	free(action->plugin_action);
	json_decref(action->values);
	free(action->object);
	free(action->link);
	free(action->notify);
	free(action->message);
	free(action->template_name);
	free(action->owner);
	free(action->transition);
}

static void actions_free(struct meta_workflow_action *actions, int count)
{
	for (int i = 0; i < count; i++)
		action_free(&actions[i]);
	free(actions);
}

static void approval_free(struct meta_approval *approval)
{
	if (!approval)
		return;
	free(approval->when);
	expr_free(approval->when_expr);
	for (int s = 0; s < approval->step_count; s++) {
		for (int a = 0; a < approval->steps[s].approver_count; a++)
			free(approval->steps[s].approvers[a].name);
		free(approval->steps[s].approvers);
	}
	free(approval->steps);
	free(approval);
}

static void transition_free(struct meta_transition *t)
{
	free(t->name);
	free_names(t->from, t->from_count);
	free(t->to);
	free_names(t->require, t->require_count);
	free(t->when);
	expr_free(t->when_expr);
	label_free(&t->message);
	label_free(&t->label);
	free_names(t->roles, t->role_count);
	actions_free(t->actions, t->action_count);
	approval_free(t->approval);
	memset(t, 0, sizeof(*t));
}

static void timer_free(struct meta_timer *timer)
{
	free(timer->name);
	free(timer->when);
	expr_free(timer->when_expr);
	actions_free(timer->actions, timer->action_count);
	free(timer->due);
	free(timer->pause_when);
	expr_free(timer->pause_expr);
	free(timer->calendar);
	free(timer->paused_since);
	free(timer->paused_minutes);
	memset(timer, 0, sizeof(*timer));
}

static void workflow_free(struct meta_workflow *workflow)
{
	free(workflow->name);
	free(workflow->object_name);
	free(workflow->field_name);
	free(workflow->initial);
	free_names(workflow->terminal, workflow->terminal_count);
	for (int i = 0; i < workflow->transition_count; i++)
		transition_free(&workflow->transitions[i]);
	free(workflow->transitions);
	for (int i = 0; i < workflow->timer_count; i++)
		timer_free(&workflow->timers[i]);
	free(workflow->timers);
}

/* A name or a list of names (state names, fields, roles). *out owned; false after an error. */
static bool parse_name_list(struct loader *ld, const struct ynode *node, const char *key, bool allow_star,
                            bool *star, char ***out, int *count_out)
{
	const struct ynode *single[1] = { node };
	const struct ynode *const *items = single;
	int count = 1;
	if (node->kind == YNODE_SEQUENCE) {
		items = (const struct ynode *const *)node->items;
		count = node->count;
	} else if (node->kind != YNODE_SCALAR) {
		error_node(ld, node, "expected a name or a list of names for '%s'", key);
		return false;
	}
	if (count > MAX_WORKFLOW_ITEMS) {
		error_node(ld, node, "more than %d names in '%s'", MAX_WORKFLOW_ITEMS, key);
		return false;
	}
	char **names = count ? xcalloc((size_t)count, sizeof(*names)) : NULL;
	int kept = 0;
	bool ok = true;
	for (int i = 0; i < count; i++) {
		if (allow_star && items[i]->kind == YNODE_SCALAR && strcmp(items[i]->text, "*") == 0) {
			*star = true;
			continue;
		}
		const char *name = get_name(ld, items[i], key);
		if (!name) {
			ok = false;
			continue;
		}
		names[kept++] = xstrdup(name);
	}
	*out = names;
	*count_out = kept;
	return ok;
}

/* "90", "30s", "15m", "1h", "2d" in seconds; false (reported) otherwise. */
static bool parse_duration(struct loader *ld, const struct ynode *node, const char *key, int64_t *out)
{
	const char *text = node->kind == YNODE_SCALAR ? node->text : "";
	char *end = NULL;
	errno = 0;
	long long value = *text >= '0' && *text <= '9' ? strtoll(text, &end, 10) : -1;
	int64_t unit = 0;
	if (value > 0 && errno == 0 && end) {
		if (!*end || !strcmp(end, "s"))
			unit = 1;
		else if (!strcmp(end, "m"))
			unit = 60;
		else if (!strcmp(end, "h"))
			unit = 3600;
		else if (!strcmp(end, "d"))
			unit = 86400;
	}
	if (!unit || value > INT64_C(315360000) / unit) {
		error_node(ld, node, "expected a duration such as 30s, 15m, 1h or 2d (at most ten years) for '%s'", key);
		return false;
	}
	*out = value * unit;
	return true;
}

/* One `do:` item into *action; false (reported) if it is not one. */
static bool parse_action(struct loader *ld, const struct ynode *node, struct meta_workflow_action *action)
{
	memset(action, 0, sizeof(*action));
	action->pos = node_pos(ld, node);
	if (node->kind == YNODE_SCALAR) {
		const char *text = node->text;
		if (!strcmp(text, "notify_owner") || !strcmp(text, "notify_manager")) {
			action->kind = WORKFLOW_ACTION_NOTIFY;
			action->notify = xstrdup(text + strlen("notify_"));
			return true;
		}
		const char *dot = strchr(text, '.');
		bool ok = dot && dot != text && !strchr(dot + 1, '.');
		if (ok) {
			char *plugin = xstrndup(text, (size_t)(dot - text));
			ok = crm_valid_name(plugin) && crm_valid_name(dot + 1);
			free(plugin);
		}
		if (!ok) {
			error_node(ld, node, "unknown action '%s' (expected plugin.action, notify_owner, notify_manager "
			           "or a map with set, create, notify or transition)", shown(ld, text));
			return false;
		}
		action->kind = WORKFLOW_ACTION_PLUGIN;
		action->plugin_action = xstrdup(text);
		return true;
	}
	if (node->kind != YNODE_MAPPING || node->count == 0) {
		error_node(ld, node, "expected an action: plugin.action or a map with set, create, notify or transition");
		return false;
	}
	/* as: caller (the default: the caller's rights) or as: system, beside the action's key */
	int pairs = node->count / 2, first = 0;
	const struct ynode *as_node = ytree_map_get(node, "as");
	if (as_node) {
		const char *as = get_text(ld, as_node, "as");
		if (as && strcmp(as, "system") == 0)
			action->as_system = true;
		else if (as && strcmp(as, "caller") != 0)
			error_node(ld, as_node, "expected caller or system for 'as', not '%s'", shown(ld, as));
		pairs--;
		if (strcmp(node->items[0]->text, "as") == 0)
			first = 2;
	}
	if (pairs == 0) {
		error_node(ld, node, "'as' needs an action beside it: set, create, notify or transition");
		return false;
	}
	const struct ynode *key = node->items[first], *value = node->items[first + 1];
	if (!strcmp(key->text, "set")) {
		if (pairs != 1 || value->kind != YNODE_MAPPING || value->count == 0) {
			error_node(ld, node, "expected { set: { field: value, ... } }");
			return false;
		}
		action->kind = WORKFLOW_ACTION_SET;
		action->values = node_to_json(value);
	} else if (!strcmp(key->text, "create")) {
		if (pairs != 1 || value->kind != YNODE_MAPPING) {
			error_node(ld, node, "expected { create: { object: name, values: { ... }, link: field, owner: record } }");
			return false;
		}
		action->kind = WORKFLOW_ACTION_CREATE;
		for (int i = 0; i < value->count; i += 2) {
			const struct ynode *k = value->items[i], *v = value->items[i + 1];
			const char *name;
			if (!in_list(k->text, create_keys))
				error_unknown_key(ld, k, "create", create_keys);
			else if (!strcmp(k->text, "object") && (name = get_name(ld, v, "object")))
				action->object = xstrdup(name);
			else if (!strcmp(k->text, "link") && (name = get_name(ld, v, "link")))
				action->link = xstrdup(name);
			else if (!strcmp(k->text, "owner") && (name = get_name(ld, v, "owner")))
				action->owner = xstrdup(name);   /* record, caller or a user field: resolve_workflow checks */
			else if (!strcmp(k->text, "values")) {
				if (v->kind != YNODE_MAPPING)
					error_node(ld, v, "expected a map of field values for 'values'");
				else
					action->values = node_to_json(v);
			}
		}
		if (!action->object) {
			error_node(ld, node, "a create action needs 'object'");
			return false;
		}
		if (!action->values)
			action->values = json_object();
	} else if (!strcmp(key->text, "transition")) {
		/* a timer's: which transition of its workflow it fires (resolve_workflow checks the name) */
		const char *name = get_name(ld, value, "transition");
		if (!name)
			return false;
		action->kind = WORKFLOW_ACTION_TRANSITION;
		action->transition = xstrdup(name);
	} else if (!strcmp(key->text, "notify")) {
		action->kind = WORKFLOW_ACTION_NOTIFY;
		for (int i = 0; i < node->count; i += 2) {
			const struct ynode *k = node->items[i], *v = node->items[i + 1];
			const char *text;
			if (!strcmp(k->text, "notify")) {
				if (!(text = get_text(ld, v, "notify")))
					return false;
				bool ok = !strcmp(text, "owner") || !strcmp(text, "manager") || !strcmp(text, "requester") ||
				          (!strncmp(text, "user:", 5) && text[5]);
				if (!ok) {
					error_node(ld, v, "expected owner, manager, requester or user:<login> for 'notify', not '%s'",
					           shown(ld, text));
					return false;
				}
				action->notify = xstrdup(text);
			} else if (!strcmp(k->text, "message")) {
				if ((text = get_text(ld, v, "message")))
					action->message = xstrdup(text);
			} else if (!strcmp(k->text, "channel")) {
				if ((text = get_text(ld, v, "channel")) && strcmp(text, "app") != 0 && strcmp(text, "email") != 0)
					error_node(ld, v, "expected app or email for 'channel', not '%s'", shown(ld, text));
				else if (text)
					action->email = !strcmp(text, "email");
			} else if (!strcmp(k->text, "template")) {
				const char *name = get_name(ld, v, "template");
				if (name)
					action->template_name = xstrdup(name);
			} else if (!strcmp(k->text, "as")) {
				continue;   /* read above */
			} else {
				error_unknown_key(ld, k, "notify action", notify_keys);
			}
		}
	} else {
		error_unknown_key(ld, key, "action", action_keys);
		return false;
	}
	if (action->kind != WORKFLOW_ACTION_NOTIFY && pairs != 1) {
		for (int i = 0; i < node->count; i += 2)
			if (i != first && strcmp(node->items[i]->text, "as") != 0) {
				error_node(ld, node->items[i], "an action map holds one action (and 'as'); write each in its own "
				           "list item");
				break;
			}
		return false;
	}
	if (action->values && !json_is_object(action->values)) {
		error_node(ld, value, "values are not valid JSON text");
		return false;
	}
	return true;
}

static void parse_actions(struct loader *ld, const struct ynode *node, struct meta_workflow_action **out,
                          int *count_out)
{
	if (node->kind != YNODE_SEQUENCE) {
		error_node(ld, node, "expected a list of actions for 'do'");
		return;
	}
	if (node->count > MAX_WORKFLOW_ITEMS) {
		error_node(ld, node, "more than %d actions", MAX_WORKFLOW_ITEMS);
		return;
	}
	struct meta_workflow_action *actions = node->count ? xcalloc((size_t)node->count, sizeof(*actions)) : NULL;
	int count = 0;
	for (int i = 0; i < node->count; i++) {
		if (parse_action(ld, node->items[i], &actions[count]))
			count++;
		else
			action_free(&actions[count]);
	}
	*out = actions;
	*count_out = count;
}

static bool parse_mode(struct loader *ld, const struct ynode *node, bool *all)
{
	if (node->kind == YNODE_SCALAR && (!strcmp(node->text, "any") || !strcmp(node->text, "all"))) {
		*all = !strcmp(node->text, "all");
		return true;
	}
	error_node(ld, node, "expected any or all for 'mode'");
	return false;
}

#define APPROVER_FORMS "role:<name>, role:<name> in team of owner, user:<login>, owner_manager, " \
                       "requester_manager or field:<user field path>"

static void parse_approvers(struct loader *ld, const struct ynode *node, struct meta_approval_step *step)
{
	if (node->kind != YNODE_SEQUENCE || node->count == 0 || node->count > MAX_WORKFLOW_ITEMS) {
		error_node(ld, node, "expected a non-empty list of approvers: " APPROVER_FORMS);
		return;
	}
	step->approvers = xcalloc((size_t)node->count, sizeof(*step->approvers));
	for (int i = 0; i < node->count; i++) {
		const struct ynode *item = node->items[i];
		const char *text = item->kind == YNODE_SCALAR ? item->text : "";
		struct meta_approver *approver = &step->approvers[step->approver_count];
		static const char in_team[] = " in team of owner";
		size_t length = strlen(text), tail = sizeof(in_team) - 1;
		if (!strcmp(text, "owner_manager")) {
			approver->kind = APPROVER_OWNER_MANAGER;
		} else if (!strcmp(text, "requester_manager")) {
			approver->kind = APPROVER_REQUESTER_MANAGER;
		} else if (!strncmp(text, "role:", 5) && length > 5 + tail && !strcmp(text + length - tail, in_team)) {
			approver->kind = APPROVER_ROLE_IN_OWNER_TEAM;
			approver->name = xstrndup(text + 5, length - 5 - tail);
			if (!crm_valid_name(approver->name)) {
				error_node(ld, item, "'%s' is not a role name", shown(ld, approver->name));
				free(approver->name);
				continue;
			}
		} else if (!strncmp(text, "role:", 5) && crm_valid_name(text + 5)) {
			approver->kind = APPROVER_ROLE;
			approver->name = xstrdup(text + 5);
		} else if (!strncmp(text, "user:", 5) && text[5] && strlen(text) < 70) {
			approver->kind = APPROVER_USER;
			approver->name = xstrdup(text + 5);
		} else if (!strncmp(text, "field:", 6) && text[6] && strlen(text) < 200) {
			approver->kind = APPROVER_FIELD;
			approver->name = xstrdup(text + 6);   /* a user field by path: resolve_workflow checks each hop */
		} else {
			error_node(ld, item, "unknown approver '%s' (expected " APPROVER_FORMS ")", shown(ld, text));
			continue;
		}
		step->approver_count++;
	}
}

static struct meta_approval *parse_approval(struct loader *ld, const struct ynode *node)
{
	if (node->kind != YNODE_MAPPING) {
		error_node(ld, node, "expected a map for 'approval': { when, approvers, steps, mode }");
		return NULL;
	}
	struct meta_approval *approval = xcalloc(1, sizeof(*approval));
	approval->pos = node_pos(ld, node);
	struct meta_approval_step common = { 0, NULL, false };
	const struct ynode *steps_node = NULL, *approvers_node = NULL;
	long long repeat = 1;
	for (int i = 0; i < node->count; i += 2) {
		const struct ynode *key = node->items[i], *value = node->items[i + 1];
		if (!in_list(key->text, approval_keys))
			error_unknown_key(ld, key, "approval", approval_keys);
		else if (!strcmp(key->text, "when"))
			parse_expression(ld, value, "when", &approval->when, &approval->when_expr);
		else if (!strcmp(key->text, "approvers")) {
			approvers_node = value;
			parse_approvers(ld, value, &common);
		} else if (!strcmp(key->text, "mode"))
			parse_mode(ld, value, &common.all);
		else if (!strcmp(key->text, "self_approval"))
			get_bool(ld, value, "self_approval", &approval->self_approval);
		else if (!strcmp(key->text, "steps"))
			steps_node = value;
	}
	if (steps_node && steps_node->kind == YNODE_SEQUENCE) {
		if (approvers_node)
			error_node(ld, approvers_node, "give 'approvers' in each step when 'steps' is a list");
		if (steps_node->count == 0 || steps_node->count > MAX_WORKFLOW_ITEMS) {
			error_node(ld, steps_node, "expected from 1 to %d steps", MAX_WORKFLOW_ITEMS);
		} else {
			approval->steps = xcalloc((size_t)steps_node->count, sizeof(*approval->steps));
			for (int s = 0; s < steps_node->count; s++) {
				const struct ynode *step = steps_node->items[s];
				struct meta_approval_step *out = &approval->steps[approval->step_count++];
				if (step->kind != YNODE_MAPPING || !ytree_map_get(step, "approvers")) {
					error_node(ld, step, "expected a step: { approvers: [...], mode: any|all }");
					continue;
				}
				for (int k = 0; k < step->count; k += 2) {
					const struct ynode *key = step->items[k], *value = step->items[k + 1];
					if (!in_list(key->text, step_keys))
						error_unknown_key(ld, key, "approval step", step_keys);
					else if (!strcmp(key->text, "approvers"))
						parse_approvers(ld, value, out);
					else
						parse_mode(ld, value, &out->all);
				}
			}
		}
		for (int a = 0; a < common.approver_count; a++)
			free(common.approvers[a].name);
		free(common.approvers);
		return approval;
	}
	if (steps_node && !get_int(ld, steps_node, "steps", 1, 10, &repeat))
		repeat = 1;
	if (!approvers_node) {
		error_node(ld, node, "an approval needs 'approvers' (or 'steps' as a list of steps with approvers)");
		return approval;
	}
	approval->steps = xcalloc((size_t)repeat, sizeof(*approval->steps));
	for (int s = 0; s < repeat; s++) {
		struct meta_approval_step *out = &approval->steps[approval->step_count++];
		out->all = common.all;
		out->approver_count = common.approver_count;
		out->approvers = common.approver_count ? xcalloc((size_t)common.approver_count, sizeof(*out->approvers)) : NULL;
		for (int a = 0; a < common.approver_count; a++) {
			out->approvers[a].kind = common.approvers[a].kind;
			out->approvers[a].name = common.approvers[a].name ? xstrdup(common.approvers[a].name) : NULL;
		}
	}
	for (int a = 0; a < common.approver_count; a++)
		free(common.approvers[a].name);
	free(common.approvers);
	return approval;
}

/*
 * `{ name: win, extend: true, do: [...] }` in a workflow extension: actions
 * to append to the transition of that name, defined elsewhere
 * (merge_workflows). Nothing else about a transition can be changed.
 */
static bool parse_transition_extension(struct loader *ld, const struct ynode *node, struct meta_transition *t)
{
	const struct ynode *name_node = ytree_map_get(node, "name");
	if (!name_node) {
		error_node(ld, node, "a transition with 'extend: true' needs the 'name' of the transition it adds to");
		return false;
	}
	const char *name = get_name(ld, name_node, "name");
	if (!name)
		return false;
	t->name = xstrdup(name);
	t->pos = node_pos(ld, name_node);
	bool actions = false;
	for (int i = 0; i < node->count; i += 2) {
		const struct ynode *key = node->items[i], *value = node->items[i + 1];
		if (!in_list(key->text, transition_keys)) {
			error_unknown_key(ld, key, "transition", transition_keys);
		} else if (!strcmp(key->text, "do")) {
			actions = true;
			parse_actions(ld, value, &t->actions, &t->action_count);
		} else if (strcmp(key->text, "name") != 0 && strcmp(key->text, "extend") != 0) {
			error_node(ld, key, "transition '%s' extends one defined elsewhere: it takes only 'do' (the actions to "
			           "add), not '%s'", name, key->text);
		}
	}
	if (!actions)
		error_at(ld, t->pos, "transition '%s' extends one defined elsewhere: give the 'do' actions to add", name);
	return true;
}

/* One item of `transitions:`; *extends: it has `extend: true` (parse_transition_extension). */
static bool parse_transition(struct loader *ld, const struct ynode *node, struct meta_transition *t, bool *extends)
{
	memset(t, 0, sizeof(*t));
	*extends = false;
	t->pos = node_pos(ld, node);
	if (node->kind != YNODE_MAPPING) {
		error_node(ld, node, "expected a transition: { name, from, to, ... }");
		return false;
	}
	const struct ynode *extend_node = ytree_map_get(node, "extend");
	if (extend_node && get_bool(ld, extend_node, "extend", extends) && *extends)
		return parse_transition_extension(ld, node, t);
	const struct ynode *name_node = ytree_map_get(node, "name");
	if (!name_node || !ytree_map_get(node, "from") || !ytree_map_get(node, "to")) {
		error_node(ld, node, "a transition needs 'name', 'from' and 'to'");
		return false;
	}
	const char *name = get_name(ld, name_node, "name");
	if (!name)
		return false;
	t->name = xstrdup(name);
	t->pos = node_pos(ld, name_node);
	for (int i = 0; i < node->count; i += 2) {
		const struct ynode *key = node->items[i], *value = node->items[i + 1];
		const char *text;
		if (!in_list(key->text, transition_keys))
			error_unknown_key(ld, key, "transition", transition_keys);
		else if (!strcmp(key->text, "from"))
			parse_name_list(ld, value, "from", true, &t->from_any, &t->from, &t->from_count);
		else if (!strcmp(key->text, "to") && (text = get_name(ld, value, "to")))
			t->to = xstrdup(text);
		else if (!strcmp(key->text, "require"))
			parse_name_list(ld, value, "require", false, NULL, &t->require, &t->require_count);
		else if (!strcmp(key->text, "roles"))
			parse_name_list(ld, value, "roles", false, NULL, &t->roles, &t->role_count);
		else if (!strcmp(key->text, "when")) {
			t->when_pos = node_pos(ld, value);
			parse_expression(ld, value, "when", &t->when, &t->when_expr);
		} else if (!strcmp(key->text, "do"))
			parse_actions(ld, value, &t->actions, &t->action_count);
		else if (!strcmp(key->text, "approval"))
			t->approval = parse_approval(ld, value);
		else if (!strcmp(key->text, "direct"))
			get_bool(ld, value, "direct", &t->direct);
		else if (!strcmp(key->text, "label"))
			parse_label(ld, value, "label", &t->label);
		else if (!strcmp(key->text, "message"))
			parse_label(ld, value, "message", &t->message);
	}
	if (t->direct && (t->require_count || t->when || t->role_count || t->action_count || t->approval))
		error_at(ld, t->pos, "transition '%s' is direct: it cannot have require, when, roles, do or approval", t->name);
	if (t->message.count && !t->when)
		error_at(ld, t->pos, "transition '%s' has a 'message' but no 'when': the message is what a failed 'when' says",
		         t->name);
	return true;
}

/*
 * A workflow extension's `{ name: escalate, extend: true, enabled: false }`:
 * switches off the timer of that name defined elsewhere (merge_timer_switches
 * takes it out of the merged workflow). The only keys it takes.
 */
static bool parse_timer_switch(struct loader *ld, const struct ynode *node, struct meta_timer *timer)
{
	bool extend = false, enabled = true, ok = true;
	const struct ynode *enabled_node = ytree_map_get(node, "enabled");
	for (int i = 0; i < node->count; i += 2) {
		const struct ynode *key = node->items[i];
		if (strcmp(key->text, "name") && strcmp(key->text, "extend") && strcmp(key->text, "enabled")) {
			error_node(ld, key, "a timer with 'extend: true' takes only 'name' and 'enabled: false' (it switches "
			           "off a timer defined elsewhere), not '%s'", key->text);
			ok = false;
		}
	}
	if (!get_bool(ld, ytree_map_get(node, "extend"), "extend", &extend))
		return false;
	if (!extend) {
		error_node(ld, ytree_map_get(node, "extend"), "'extend: false' is a timer's default: leave it out");
		return false;
	}
	if (!enabled_node) {
		error_node(ld, node, "a timer with 'extend: true' needs 'enabled: false' (switching a timer off is all "
		           "an extension may do to it)");
		return false;
	}
	if (!get_bool(ld, enabled_node, "enabled", &enabled))
		return false;
	if (enabled) {
		error_node(ld, enabled_node, "'enabled: true' changes nothing: a timer is enabled unless switched off");
		return false;
	}
	const char *name = get_name(ld, ytree_map_get(node, "name"), "name");
	if (!ok || !name)
		return false;
	timer->name = xstrdup(name);
	timer->switched_off = true;
	return true;
}

static bool parse_timer(struct loader *ld, const struct ynode *node, struct meta_timer *timer)
{
	memset(timer, 0, sizeof(*timer));
	timer->pos = node_pos(ld, node);
	const struct ynode *name_node = node->kind == YNODE_MAPPING ? ytree_map_get(node, "name") : NULL;
	if (name_node && ytree_map_get(node, "extend"))
		return parse_timer_switch(ld, node, timer);
	if (name_node && ytree_map_get(node, "enabled")) {
		error_node(ld, ytree_map_get(node, "enabled"), "'enabled' goes with 'extend: true' in a workflow "
		           "extension (it switches off a timer defined elsewhere); to remove a timer of this file, delete it");
		return false;
	}
	int schedules = (ytree_map_get(node, "every") != NULL) + (ytree_map_get(node, "at") != NULL)
	              + (ytree_map_get(node, "cron") != NULL);
	if (!name_node || schedules == 0 || !ytree_map_get(node, "do")) {
		error_node(ld, node, "expected a timer: { name, when, every (or at, or cron), do: [...] }");
		return false;
	}
	if (schedules > 1)
		error_node(ld, node, "a timer runs by one of every, at or cron, not several");
	const char *name = get_name(ld, name_node, "name");
	if (!name)
		return false;
	timer->name = xstrdup(name);
	for (int i = 0; i < node->count; i += 2) {
		const struct ynode *key = node->items[i], *value = node->items[i + 1];
		if (!in_list(key->text, timer_keys))
			error_unknown_key(ld, key, "timer", timer_keys);
		else if (!strcmp(key->text, "when")) {
			timer->when_pos = node_pos(ld, value);
			parse_expression(ld, value, "when", &timer->when, &timer->when_expr);
		} else if (!strcmp(key->text, "every")) {
			parse_duration(ld, value, "every", &timer->every);
		} else if (!strcmp(key->text, "at") || !strcmp(key->text, "cron")) {
			char why[200];
			const char *text = get_text(ld, value, key->text);
			bool ok = text && (!strcmp(key->text, "at") ? cron_parse_at(text, &timer->cron, why, sizeof(why))
			                                             : cron_parse_fields(text, &timer->cron, why, sizeof(why)));
			if (text && !ok)
				error_node(ld, value, "%s", why);
			timer->timed = ok;
			timer->every = 86400;
		}
		else if (!strcmp(key->text, "untouched_for"))
			parse_duration(ld, value, "untouched_for", &timer->untouched_for);
		else if (!strcmp(key->text, "pause_when")) {
			timer->pause_pos = node_pos(ld, value);
			parse_expression(ld, value, "pause_when", &timer->pause_when, &timer->pause_expr);
		} else if (!strcmp(key->text, "due") || !strcmp(key->text, "calendar") || !strcmp(key->text, "paused_since")
		           || !strcmp(key->text, "paused_minutes")) {
			const char *text = get_name(ld, value, key->text);
			char **slot = !strcmp(key->text, "due") ? &timer->due : !strcmp(key->text, "calendar") ? &timer->calendar
			              : !strcmp(key->text, "paused_since") ? &timer->paused_since : &timer->paused_minutes;
			struct meta_pos *pos = !strcmp(key->text, "due") ? &timer->due_pos
			                       : !strcmp(key->text, "calendar") ? &timer->calendar_pos
			                       : !strcmp(key->text, "paused_since") ? &timer->paused_since_pos
			                                                            : &timer->paused_minutes_pos;
			*pos = node_pos(ld, value);
			if (text)
				*slot = xstrdup(text);
		}
		else if (!strcmp(key->text, "do"))
			parse_actions(ld, value, &timer->actions, &timer->action_count);
	}
	if (!timer->every)
		timer->every = 3600;
	return true;
}

/* Keeps a workflow extension for merge_workflows; takes wf and extends. */
static void stage_workflow_extension(struct loader *ld, struct meta_workflow *wf, bool *extends)
{
	ld->workflow_extensions = xrealloc(ld->workflow_extensions, (size_t)(ld->workflow_extension_count + 1) *
	                                   sizeof(*ld->workflow_extensions));
	struct workflow_extension *ext = &ld->workflow_extensions[ld->workflow_extension_count++];
	ext->workflow = *wf;
	ext->extends = extends;
	memset(wf, 0, sizeof(*wf));
}

static void parse_workflow(struct loader *ld, const struct ynode *root)
{
	struct meta_workflow wf;
	memset(&wf, 0, sizeof(wf));
	const struct ynode *name_node = ytree_map_get(root, "workflow"), *extend_node = ytree_map_get(root, "extend");
	const char *name = get_name(ld, name_node, "workflow");
	wf.pos = node_pos(ld, name_node);
	bool ok = name != NULL, extend = false;
	bool *extends = NULL;   /* parallel to wf.transitions */
	if (extend_node)
		get_bool(ld, extend_node, "extend", &extend);
	for (int i = 0; i < root->count; i += 2) {
		const struct ynode *key = root->items[i], *value = root->items[i + 1];
		const char *text;
		if (!in_list(key->text, workflow_keys)) {
			error_unknown_key(ld, key, "workflow", workflow_keys);
		} else if (extend && in_list(key->text, workflow_defining_keys)) {
			error_node(ld, key, "an extension of workflow '%s' cannot set '%s' (only the document that defines the "
			           "workflow does)", name ? name : "", key->text);
		} else if (!strcmp(key->text, "object")) {
			wf.object_pos = node_pos(ld, value);
			if ((text = get_name(ld, value, "object")))
				wf.object_name = xstrdup(text);
		} else if (!strcmp(key->text, "field")) {
			wf.field_pos = node_pos(ld, value);
			if ((text = get_name(ld, value, "field")))
				wf.field_name = xstrdup(text);
		} else if (!strcmp(key->text, "initial")) {
			wf.initial_pos = node_pos(ld, value);
			if ((text = get_name(ld, value, "initial")))
				wf.initial = xstrdup(text);
		} else if (!strcmp(key->text, "terminal")) {
			parse_name_list(ld, value, "terminal", false, NULL, &wf.terminal, &wf.terminal_count);
		} else if (!strcmp(key->text, "self_approval")) {
			get_bool(ld, value, "self_approval", &wf.self_approval);
		} else if (!strcmp(key->text, "label")) {
			struct meta_label label = { 0, NULL, NULL };
			parse_label(ld, value, "label", &label);
			label_free(&label);
		} else if (!strcmp(key->text, "description")) {
			get_text(ld, value, "description");
		} else if (!strcmp(key->text, "transitions")) {
			if (value->kind != YNODE_SEQUENCE || value->count > MAX_WORKFLOW_ITEMS) {
				error_node(ld, value, "expected a list of at most %d transitions for 'transitions'", MAX_WORKFLOW_ITEMS);
				continue;
			}
			wf.transitions = value->count ? xcalloc((size_t)value->count, sizeof(*wf.transitions)) : NULL;
			extends = value->count ? xcalloc((size_t)value->count, sizeof(*extends)) : NULL;
			for (int t = 0; t < value->count; t++) {
				struct meta_transition *transition = &wf.transitions[wf.transition_count];
				bool extends_one = false;
				if (!parse_transition(ld, value->items[t], transition, &extends_one)) {
					transition_free(transition);
				} else if (extends_one && !extend) {
					error_at(ld, transition->pos, "transition '%s' has 'extend: true', but workflow '%s' is not an "
					         "extension: add 'extend: true' to the workflow document", transition->name,
					         name ? name : "");
					transition_free(transition);
				} else {
					extends[wf.transition_count++] = extends_one;
				}
			}
		} else if (!strcmp(key->text, "timers")) {
			if (value->kind != YNODE_SEQUENCE || value->count > MAX_WORKFLOW_ITEMS) {
				error_node(ld, value, "expected a list of at most %d timers for 'timers'", MAX_WORKFLOW_ITEMS);
				continue;
			}
			wf.timers = value->count ? xcalloc((size_t)value->count, sizeof(*wf.timers)) : NULL;
			for (int t = 0; t < value->count; t++) {
				struct meta_timer *timer = &wf.timers[wf.timer_count];
				if (!parse_timer(ld, value->items[t], timer)) {
					free(timer->name);
				} else if (timer->switched_off && !extend) {
					error_at(ld, timer->pos, "timer '%s' has 'extend: true', but workflow '%s' is not an extension: "
					         "add 'extend: true' to the workflow document", timer->name, name ? name : "");
					timer_free(timer);
				} else {
					wf.timer_count++;
				}
			}
		}
	}
	if (extend) {
		if (ok) {
			wf.name = xstrdup(name);
			stage_workflow_extension(ld, &wf, extends);
		} else {
			workflow_free(&wf);
			free(extends);
		}
		return;
	}
	free(extends);
	if (ok && (!ytree_map_get(root, "object") || !ytree_map_get(root, "field"))) {
		error_node(ld, root, "workflow '%s' needs 'object' and 'field'", name);
		ok = false;
	}
	if (!ok || !wf.object_name || !wf.field_name) {
		workflow_free(&wf);
		return;
	}
	wf.name = xstrdup(name);
	struct meta *meta = ld->meta;
	for (int i = 0; i < meta->workflow_count; i++) {
		if (!strcmp(meta->workflows[i].name, wf.name)) {
			error_at(ld, wf.pos, "workflow '%s' is already defined at %s:%d:%d", wf.name, meta->workflows[i].pos.file,
			         meta->workflows[i].pos.line, meta->workflows[i].pos.column);
			workflow_free(&wf);
			return;
		}
	}
	meta->workflows = xrealloc(meta->workflows, (size_t)(meta->workflow_count + 1) * sizeof(*meta->workflows));
	meta->workflows[meta->workflow_count++] = wf;
}

static struct meta_workflow *find_workflow(struct meta *meta, const char *name)
{
	for (int i = 0; i < meta->workflow_count; i++)
		if (!strcmp(meta->workflows[i].name, name))
			return &meta->workflows[i];
	return NULL;
}

static struct meta_transition *find_transition(struct meta_workflow *wf, const char *name)
{
	for (int i = 0; i < wf->transition_count; i++)
		if (!strcmp(wf->transitions[i].name, name))
			return &wf->transitions[i];
	return NULL;
}

/* Moves ext's terminal states, new transitions and timers into wf; a name wf has already is refused. */
static void merge_workflow_additions(struct loader *ld, struct meta_workflow *wf, struct workflow_extension *ext)
{
	struct meta_workflow *from = &ext->workflow;
	for (int i = 0; i < from->terminal_count; i++) {
		bool known = false;
		for (int k = 0; k < wf->terminal_count && !known; k++)
			known = !strcmp(wf->terminal[k], from->terminal[i]);
		if (known)
			continue;
		wf->terminal = xrealloc(wf->terminal, (size_t)(wf->terminal_count + 1) * sizeof(*wf->terminal));
		wf->terminal[wf->terminal_count++] = from->terminal[i];
		from->terminal[i] = NULL;
	}
	for (int i = 0; i < from->transition_count; i++) {
		struct meta_transition *t = &from->transitions[i];
		if (ext->extends[i])
			continue;
		const struct meta_transition *existing = find_transition(wf, t->name);
		if (existing) {
			error_at(ld, t->pos, "transition '%s' is already defined at %s:%d:%d (add 'extend: true' to add actions "
			         "to it)", t->name, existing->pos.file, existing->pos.line, existing->pos.column);
			continue;
		}
		wf->transitions = xrealloc(wf->transitions, (size_t)(wf->transition_count + 1) * sizeof(*wf->transitions));
		wf->transitions[wf->transition_count++] = *t;
		memset(t, 0, sizeof(*t));
	}
	for (int i = 0; i < from->timer_count; i++) {
		struct meta_timer *timer = &from->timers[i];
		if (timer->switched_off)
			continue;
		const struct meta_timer *existing = NULL;
		for (int k = 0; k < wf->timer_count && !existing; k++)
			if (!strcmp(wf->timers[k].name, timer->name))
				existing = &wf->timers[k];
		if (existing) {
			error_at(ld, timer->pos, "timer '%s' is already defined at %s:%d:%d", timer->name, existing->pos.file,
			         existing->pos.line, existing->pos.column);
			continue;
		}
		wf->timers = xrealloc(wf->timers, (size_t)(wf->timer_count + 1) * sizeof(*wf->timers));
		wf->timers[wf->timer_count++] = *timer;
		memset(timer, 0, sizeof(*timer));
	}
}

/* Appends the actions of ext's `extend: true` transitions to the transitions of wf they name. */
static void merge_transition_actions(struct loader *ld, struct meta_workflow *wf, struct workflow_extension *ext)
{
	struct meta_workflow *from = &ext->workflow;
	for (int i = 0; i < from->transition_count; i++) {
		struct meta_transition *t = &from->transitions[i];
		if (!ext->extends[i])
			continue;
		struct meta_transition *target = find_transition(wf, t->name);
		if (!target) {
			error_at(ld, t->pos, "no transition '%s' in workflow '%s' to extend (without 'extend: true' it would be "
			         "a new transition, with 'from' and 'to')", t->name, wf->name);
			continue;
		}
		if (t->action_count == 0)
			continue;
		if (target->direct) {
			error_at(ld, t->pos, "transition '%s' (%s:%d:%d) is direct: it cannot have do", t->name, target->pos.file,
			         target->pos.line, target->pos.column);
			continue;
		}
		int total = target->action_count + t->action_count;
		target->actions = xrealloc(target->actions, (size_t)total * sizeof(*target->actions));
		memcpy(target->actions + target->action_count, t->actions, (size_t)t->action_count * sizeof(*t->actions));
		target->action_count = total;
		free(t->actions);
		t->actions = NULL;
		t->action_count = 0;
	}
}

/* Takes the timers ext switches off (`extend: true, enabled: false`) out of wf; one wf does not have is an error. */
static void merge_timer_switches(struct loader *ld, struct meta_workflow *wf, struct workflow_extension *ext)
{
	struct meta_workflow *from = &ext->workflow;
	for (int i = 0; i < from->timer_count; i++) {
		const struct meta_timer *off = &from->timers[i];
		if (!off->switched_off)
			continue;
		int found = -1;
		for (int k = 0; k < wf->timer_count && found < 0; k++)
			if (!strcmp(wf->timers[k].name, off->name))
				found = k;
		if (found < 0) {
			error_at(ld, off->pos, "no timer '%s' in workflow '%s' to switch off", off->name, wf->name);
			continue;
		}
		timer_free(&wf->timers[found]);
		memmove(&wf->timers[found], &wf->timers[found + 1], (size_t)(wf->timer_count - found - 1) * sizeof(*wf->timers));
		wf->timer_count--;
	}
}

/*
 * Applies every `workflow: name, extend: true` document to the workflow it
 * names, whatever the file order: first what each adds (terminal states,
 * transitions, timers, in load order), then the actions each appends to a
 * transition, which may be one another extension added. resolve_workflows
 * then checks each workflow as a whole.
 */
static void merge_workflows(struct loader *ld)
{
	for (int pass = 0; pass < 2; pass++) {
		for (int e = 0; e < ld->workflow_extension_count; e++) {
			struct workflow_extension *ext = &ld->workflow_extensions[e];
			struct meta_workflow *wf = find_workflow(ld->meta, ext->workflow.name);
			if (!wf && pass == 0)
				error_at(ld, ext->workflow.pos, "extend of unknown workflow '%s' (it is defined nowhere without "
				         "'extend: true')", ext->workflow.name);
			else if (wf && pass == 0)
				merge_workflow_additions(ld, wf, ext);
			else if (wf) {
				merge_transition_actions(ld, wf, ext);
				merge_timer_switches(ld, wf, ext);
			}
		}
	}
	for (int e = 0; e < ld->workflow_extension_count; e++) {
		workflow_free(&ld->workflow_extensions[e].workflow);
		free(ld->workflow_extensions[e].extends);
	}
	free(ld->workflow_extensions);
	ld->workflow_extensions = NULL;
	ld->workflow_extension_count = 0;
}

static void kpi_free(struct meta_kpi *k)
{
	free(k->name);
	label_free(&k->label);
	free(k->description);
	free(k->object_name);
	free(k->measure);
	free(k->filter);
	expr_free(k->filter_expr);
	free(k->date_name);
	free(k->owner_name);
	free(k->target_object_name);
	free(k->target_field_name);
	free(k->target_owner_name);
	free(k->target_date_name);
	free(k->formula);
	expr_free(k->formula_expr);
	for (int i = 0; i < k->action_count; i++)
		free(k->actions[i]);
	free(k->actions);
	free(k->unit);
	for (int i = 0; i < k->dashboard_count; i++)
		free(k->dashboard_roles[i]);
	free(k->dashboard_roles);
	free(k->dashboard_scopes);
	memset(k, 0, sizeof(*k));
}

/* dashboards: { role: me | team | all }: the roles are checked in resolve_kpis. */
static void parse_kpi_dashboards(struct loader *ld, const struct ynode *value, struct meta_kpi *k)
{
	k->dashboards_pos = node_pos(ld, value);
	if (value->kind != YNODE_MAPPING) {
		error_node(ld, value, "expected a map of role: me | team | all for 'dashboards'");
		return;
	}
	for (int i = 0; i < value->count; i += 2) {
		const struct ynode *role = value->items[i], *scope = value->items[i + 1];
		const char *text = get_text(ld, scope, "dashboards");
		int index = text ? word_index(text, kpi_scope_names) : -1;
		if (!crm_valid_name(role->text) || index < 0) {
			error_node(ld, scope, "dashboards: expected role: me, team or all, not '%s: %s'", shown(ld, role->text),
			           text ? shown(ld, text) : "");
			continue;
		}
		k->dashboard_roles = xrealloc(k->dashboard_roles, (size_t)(k->dashboard_count + 1) * sizeof(char *));
		k->dashboard_scopes = xrealloc(k->dashboard_scopes, (size_t)(k->dashboard_count + 1) * sizeof(*k->dashboard_scopes));
		k->dashboard_roles[k->dashboard_count] = xstrdup(role->text);
		k->dashboard_scopes[k->dashboard_count++] = (enum kpi_dashboard_scope)index;
	}
}

/* The evaluation model's keys of a kpi (source, formula, actions, per, unit, dashboards); false: not one of them. */
static bool parse_kpi_model_key(struct loader *ld, const struct ynode *key, const struct ynode *value,
                                struct meta_kpi *k)
{
	const char *text;
	if (!strcmp(key->text, "source")) {
		k->source_pos = node_pos(ld, value);
		if ((text = get_text(ld, value, "source")) && strcmp(text, "audit") != 0 && strcmp(text, "records") != 0)
			error_node(ld, value, "expected records or audit for 'source', not '%s'", shown(ld, text));
		else if (text && !strcmp(text, "audit"))
			k->source = KPI_SOURCE_AUDIT;
	} else if (!strcmp(key->text, "formula")) {
		k->formula_pos = node_pos(ld, value);
		parse_expression(ld, value, "formula", &k->formula, &k->formula_expr);
	} else if (!strcmp(key->text, "actions")) {
		k->actions_pos = node_pos(ld, value);
		parse_name_list(ld, value, "actions", false, NULL, &k->actions, &k->action_count);
		for (int i = 0; i < k->action_count; i++)
			if (!in_list(k->actions[i], kpi_audit_actions))
				error_node(ld, value, "actions: '%s' is not an audited action (create, update, delete, restore, "
				           "transition, purge, login, password)", shown(ld, k->actions[i]));
	} else if (!strcmp(key->text, "per")) {
		if ((text = get_text(ld, value, "per")) && strcmp(text, "day") != 0)
			error_node(ld, value, "expected day for 'per' (the daily figure averaged over the period), not '%s'",
			           shown(ld, text));
		else if (text)
			k->per_day = true;
	} else if (!strcmp(key->text, "unit")) {
		if ((text = get_text(ld, value, "unit")) && !in_list(text, kpi_units))
			error_node(ld, value, "expected count, number, money, percent, hours or days for 'unit', not '%s'",
			           shown(ld, text));
		else if (text)
			k->unit = xstrdup(text);
	} else if (!strcmp(key->text, "dashboards")) {
		parse_kpi_dashboards(ld, value, k);
	} else {
		return false;
	}
	return true;
}

static char *kpi_name_key(struct loader *ld, const struct ynode *node, const char *key, struct meta_pos *pos)
{
	const char *text = get_name(ld, node, key);
	if (pos)
		*pos = node_pos(ld, node);
	return text ? xstrdup(text) : NULL;
}

/* `kpi: name`: see struct meta_kpi; checked against the objects in resolve_kpis. */
static void parse_kpi(struct loader *ld, const struct ynode *root)
{
	struct meta_kpi k;
	memset(&k, 0, sizeof(k));
	const struct ynode *name_node = ytree_map_get(root, "kpi");
	const char *name = get_name(ld, name_node, "kpi");
	k.pos = node_pos(ld, name_node);
	bool ok = name != NULL;
	for (int i = 0; i < root->count; i += 2) {
		const struct ynode *key = root->items[i], *value = root->items[i + 1];
		const char *text;
		int index;
		if (!in_list(key->text, kpi_keys)) {
			error_unknown_key(ld, key, "kpi", kpi_keys);
		} else if (parse_kpi_model_key(ld, key, value, &k)) {
			continue;
		} else if (!strcmp(key->text, "label")) {
			parse_label(ld, value, "label", &k.label);
		} else if (!strcmp(key->text, "description")) {
			if ((text = get_text(ld, value, "description")))
				k.description = xstrdup(text);
		} else if (!strcmp(key->text, "object")) {
			k.object_name = kpi_name_key(ld, value, "object", &k.object_pos);
		} else if (!strcmp(key->text, "measure")) {
			k.measure_pos = node_pos(ld, value);
			if ((text = get_text(ld, value, "measure")))
				k.measure = xstrdup(text);
		} else if (!strcmp(key->text, "filter")) {
			k.filter_pos = node_pos(ld, value);
			parse_expression(ld, value, "filter", &k.filter, &k.filter_expr);
		} else if (!strcmp(key->text, "date")) {
			k.date_name = kpi_name_key(ld, value, "date", &k.date_pos);
		} else if (!strcmp(key->text, "owner")) {
			k.owner_name = kpi_name_key(ld, value, "owner", &k.owner_pos);
		} else if (!strcmp(key->text, "period")) {
			if ((text = get_text(ld, value, "period")) && (index = word_index(text, kpi_periods)) < 0)
				error_node(ld, value, "expected month, quarter or year for 'period', not '%s'", shown(ld, text));
			else if (text)
				k.period = (enum kpi_period)index;
		} else if (!strcmp(key->text, "category")) {
			if ((text = get_text(ld, value, "category")) && (index = word_index(text, kpi_categories)) < 0)
				error_node(ld, value, "expected operating or business_value for 'category', not '%s'", shown(ld, text));
			else if (text)
				k.category = (enum kpi_category)index;
		} else if (!strcmp(key->text, "direction")) {
			if ((text = get_text(ld, value, "direction")) && strcmp(text, "up") != 0 && strcmp(text, "down") != 0)
				error_node(ld, value, "expected up (higher is better) or down for 'direction', not '%s'",
				           shown(ld, text));
			else if (text)
				k.lower_is_better = strcmp(text, "down") == 0;
		} else if (!strcmp(key->text, "target")) {
			k.target_pos = node_pos(ld, value);
			if (value->kind == YNODE_MAPPING) {
				for (int t = 0; t < value->count; t += 2) {
					const struct ynode *tk = value->items[t], *tv = value->items[t + 1];
					if (!in_list(tk->text, kpi_target_keys))
						error_unknown_key(ld, tk, "kpi target", kpi_target_keys);
					else if (!strcmp(tk->text, "object"))
						k.target_object_name = kpi_name_key(ld, tv, "object", NULL);
					else if (!strcmp(tk->text, "field"))
						k.target_field_name = kpi_name_key(ld, tv, "field", NULL);
					else if (!strcmp(tk->text, "owner"))
						k.target_owner_name = kpi_name_key(ld, tv, "owner", NULL);
					else if (!strcmp(tk->text, "date"))
						k.target_date_name = kpi_name_key(ld, tv, "date", NULL);
				}
				if (!k.target_object_name || !k.target_field_name || !k.target_date_name)
					error_node(ld, value, "a target from records needs { object, field, date } (and owner, "
					           "default owner)");
			} else {
				k.has_target = get_number(ld, value, "target", &k.target);
			}
		}
	}
	if (k.formula && k.source == KPI_SOURCE_AUDIT) {
		error_at(ld, k.source_pos, "kpi '%s': a formula kpi has no 'source' (its figures are the other kpis')",
		         name ? name : "");
		ok = false;
	} else if (k.formula) {
		k.source = KPI_SOURCE_FORMULA;
		if (k.object_name || k.measure || k.filter || k.date_name || k.owner_name || k.per_day || k.action_count) {
			error_at(ld, k.formula_pos, "kpi '%s': a formula kpi takes no object, measure, filter, date, owner, per "
			         "or actions (its figures are the other kpis')", name ? name : "");
			ok = false;
		}
	} else if (k.source == KPI_SOURCE_AUDIT) {
		if (k.object_name || k.filter || k.date_name || k.owner_name) {
			error_at(ld, k.source_pos, "kpi '%s': the audit trail has no object, filter, date or owner to name (it "
			         "counts the people's audited actions by their time)", name ? name : "");
			ok = false;
		}
	} else if (!k.object_name || !k.date_name) {
		error_node(ld, root, "kpi '%s' needs an 'object' and a 'date' field, a 'source: audit' or a 'formula' (see "
		           "docs/metadata.md#kpi)", name ? name : "");
		ok = false;
	} else if (k.action_count) {
		error_at(ld, k.actions_pos, "kpi '%s': 'actions' is for source: audit", name ? name : "");
		ok = false;
	}
	for (int i = 0; ok && i < ld->meta->kpi_count; i++) {
		const struct meta_kpi *other = &ld->meta->kpis[i];
		if (!strcmp(other->name, name)) {
			error_at(ld, k.pos, "kpi '%s' is already defined at %s:%d:%d", name, other->pos.file, other->pos.line,
			         other->pos.column);
			ok = false;
		}
	}
	if (!ok) {
		kpi_free(&k);
		return;
	}
	k.name = xstrdup(name);
	if (!k.measure && k.source != KPI_SOURCE_FORMULA)
		k.measure = xstrdup("count");
	if (!k.owner_name && k.source == KPI_SOURCE_RECORDS)
		k.owner_name = xstrdup("owner");
	if (k.source == KPI_SOURCE_AUDIT && !k.action_count) {
		static const char *const writes[] = { "create", "update", "delete", "restore", "transition" };
		k.actions = xcalloc(5, sizeof(char *));
		for (int i = 0; i < 5; i++)
			k.actions[k.action_count++] = xstrdup(writes[i]);
	}
	ld->meta->kpis = xrealloc(ld->meta->kpis, (size_t)(ld->meta->kpi_count + 1) * sizeof(*ld->meta->kpis));
	ld->meta->kpis[ld->meta->kpi_count++] = k;
}

/* ------------------------------------------------------------ report: documents */

static void report_free(struct meta_report *r)
{
	free(r->name);
	label_free(&r->label);
	free(r->description);
	free(r->module);
	free(r->object_name);
	for (int i = 0; i < r->join_count; i++) {
		free(r->joins[i].name);
		free(r->joins[i].from_name);
		free(r->joins[i].object_name);
		free(r->joins[i].ref_name);
	}
	free(r->joins);
	for (int i = 0; i < r->group_count; i++) {
		free(r->groups[i].path);
		free(r->groups[i].column);
		label_free(&r->groups[i].label);
	}
	free(r->groups);
	for (int i = 0; i < r->measure_count; i++) {
		free(r->measures[i].name);
		label_free(&r->measures[i].label);
		free(r->measures[i].measure);
		free(r->measures[i].path);
		free(r->measures[i].filter);
		expr_free(r->measures[i].filter_expr);
	}
	free(r->measures);
	for (int i = 0; i < r->parameter_count; i++) {
		free(r->parameters[i].name);
		free(r->parameters[i].path);
	}
	free(r->parameters);
	free(r->filter);
	expr_free(r->filter_expr);
	free(r->sort);
	memset(r, 0, sizeof(*r));
}

#define MAX_REPORT_ITEMS 16   /* joins, groups (4), measures, parameters of one report */

/* joins: { name: { children: object.ref | parent: [join.]ref, from: join } }: see struct meta_report_join. */
static void parse_report_joins(struct loader *ld, struct meta_report *r, const struct ynode *node)
{
	if (node->kind != YNODE_MAPPING || node->count / 2 > MAX_REPORT_ITEMS) {
		error_node(ld, node, "expected a map of at most %d join names to { children: object.ref } or "
		           "{ parent: join.ref } for 'joins' (see docs/metadata.md#report-join)", MAX_REPORT_ITEMS);
		return;
	}
	r->joins = xcalloc((size_t)node->count / 2 + 1, sizeof(*r->joins));
	for (int i = 0; i < node->count; i += 2) {
		const struct ynode *key = node->items[i], *value = node->items[i + 1];
		const char *name = get_name(ld, key, "joins");
		if (!name)
			continue;
		struct meta_report_join j = { .pos = node_pos(ld, key), .from = -1 };
		const struct ynode *children = value->kind == YNODE_MAPPING ? ytree_map_get(value, "children") : NULL;
		const struct ynode *parent = value->kind == YNODE_MAPPING ? ytree_map_get(value, "parent") : NULL;
		if (!children == !parent) {
			error_node(ld, value, "join '%s': expected either { children: object.ref } or { parent: join.ref } "
			           "(see docs/metadata.md#report-join)", name);
			continue;
		}
		for (int k = 0; k < value->count; k += 2)
			if (!in_list(value->items[k]->text, report_join_keys))
				error_unknown_key(ld, value->items[k], "report join", report_join_keys);
		const struct ynode *from = ytree_map_get(value, "from");
		const char *text = get_text(ld, children ? children : parent, children ? "children" : "parent");
		if (!text)
			continue;
		const char *dot = strchr(text, '.');
		if (children) {
			j.kind = REPORT_JOIN_CHILDREN;
			if (!dot || strchr(dot + 1, '.')) {
				error_node(ld, children, "join '%s': 'children' is object.ref (the child object and its ref "
				           "field to the record it starts from), not '%s'", name, shown(ld, text));
				continue;
			}
			j.object_name = xstrndup(text, (size_t)(dot - text));
			j.ref_name = xstrdup(dot + 1);
			if (from && (text = get_name(ld, from, "from")))
				j.from_name = xstrdup(text);
		} else {
			j.kind = REPORT_JOIN_PARENT;
			if (from) {
				error_node(ld, from, "join '%s': a parent join names its start in 'parent: join.ref'", name);
				continue;
			}
			if (dot && strchr(dot + 1, '.')) {
				error_node(ld, parent, "join '%s': 'parent' is join.ref (or a ref of the root), not '%s'", name,
				           shown(ld, text));
				continue;
			}
			j.from_name = dot ? xstrndup(text, (size_t)(dot - text)) : NULL;
			j.ref_name = xstrdup(dot ? dot + 1 : text);
		}
		j.name = xstrdup(name);
		r->joins[r->join_count++] = j;
	}
}

/* group: [path | { field, by, label }]. */
static void parse_report_groups(struct loader *ld, struct meta_report *r, const struct ynode *node)
{
	if (node->kind != YNODE_SEQUENCE || node->count > 4) {
		error_node(ld, node, "expected a list of at most 4 fields or { field, by } for 'group' "
		           "(see docs/metadata.md#report-group)");
		return;
	}
	r->groups = xcalloc((size_t)node->count + 1, sizeof(*r->groups));
	for (int i = 0; i < node->count; i++) {
		const struct ynode *item = node->items[i];
		struct meta_report_group g = { .pos = node_pos(ld, item) };
		const char *path = NULL;
		if (item->kind == YNODE_MAPPING) {
			for (int k = 0; k < item->count; k += 2) {
				const struct ynode *key = item->items[k], *value = item->items[k + 1];
				const char *text;
				int index;
				if (!in_list(key->text, report_group_keys))
					error_unknown_key(ld, key, "report group", report_group_keys);
				else if (!strcmp(key->text, "field"))
					path = get_text(ld, value, "field");
				else if (!strcmp(key->text, "label"))
					parse_label(ld, value, "label", &g.label);
				else if (!(text = get_text(ld, value, "by")))
					continue;
				else if ((index = word_index(text, report_buckets)) <= 0)
					error_node(ld, value, "expected day, week, month, quarter or year for 'by', not '%s'",
					           shown(ld, text));
				else
					g.by = (enum report_bucket)index;
			}
		} else {
			path = get_text(ld, item, "group");
		}
		if (!path) {
			error_node(ld, item, "a group needs a 'field'");
			label_free(&g.label);
			continue;
		}
		g.path = xstrdup(path);
		struct strbuf column = { 0 };
		strbuf_puts(&column, path);
		if (g.by)
			strbuf_printf(&column, "_%s", report_buckets[g.by]);
		for (char *p = column.data; *p; p++)
			if (*p == '.')
				*p = '_';
		g.column = strbuf_detach(&column);
		r->groups[r->group_count++] = g;
	}
}

/* "sum(opportunity.amount)" into fn and the text inside (owned, NULL for a bare count); false if malformed. */
static bool report_measure_split(const char *text, enum report_fn *fn, char **inner)
{
	static const char *const fns[] = { "count", "count_distinct", "sum", "avg", "min", "max", NULL };
	*inner = NULL;
	if (!strcmp(text, "count")) {
		*fn = REPORT_COUNT;
		return true;
	}
	const char *open = strchr(text, '(');
	size_t length = strlen(text);
	if (!open || length < 3 || text[length - 1] != ')' || open + 1 >= text + length - 1)
		return false;
	char *name = xstrndup(text, (size_t)(open - text));
	int index = word_index(name, fns);
	free(name);
	if (index < 0)
		return false;
	*fn = (enum report_fn)index;
	*inner = xstrndup(open + 1, (size_t)(text + length - 1 - (open + 1)));
	return true;
}

/* measures: { name: { measure, filter, label } }. */
static void parse_report_measures(struct loader *ld, struct meta_report *r, const struct ynode *node)
{
	if (node->kind != YNODE_MAPPING || node->count == 0 || node->count / 2 > MAX_REPORT_ITEMS) {
		error_node(ld, node, "expected a map of 1 to %d measure names to { measure, filter, label } for "
		           "'measures' (see docs/metadata.md#report-measure)", MAX_REPORT_ITEMS);
		return;
	}
	r->measures = xcalloc((size_t)node->count / 2 + 1, sizeof(*r->measures));
	for (int i = 0; i < node->count; i += 2) {
		const struct ynode *key = node->items[i], *value = node->items[i + 1];
		const char *name = get_name(ld, key, "measures");
		if (!name)
			continue;
		struct meta_report_measure m = { .pos = node_pos(ld, key), .join = -1 };
		if (value->kind != YNODE_MAPPING) {
			error_node(ld, value, "measure '%s': expected { measure, filter, label }", name);
			continue;
		}
		for (int k = 0; k < value->count; k += 2) {
			const struct ynode *mk = value->items[k], *mv = value->items[k + 1];
			const char *text;
			if (!in_list(mk->text, report_measure_keys)) {
				error_unknown_key(ld, mk, "report measure", report_measure_keys);
			} else if (!strcmp(mk->text, "label")) {
				parse_label(ld, mv, "label", &m.label);
			} else if (!strcmp(mk->text, "filter")) {
				m.filter_pos = node_pos(ld, mv);
				parse_expression(ld, mv, "filter", &m.filter, &m.filter_expr);
			} else if ((text = get_text(ld, mv, "measure"))) {
				m.measure_pos = node_pos(ld, mv);
				m.measure = xstrdup(text);
				if (!report_measure_split(text, &m.fn, &m.path))
					error_node(ld, mv, "measure '%s': expected count, count(join), count_distinct(path), sum(path), "
					           "avg(path), min(path) or max(path), not '%s'", name, shown(ld, text));
			}
		}
		if (!m.measure)
			m.measure = xstrdup("count");
		m.name = xstrdup(name);
		r->measures[r->measure_count++] = m;
	}
}

/* `report: name`: see struct meta_report; checked against the objects in resolve_reports. */
static void parse_report(struct loader *ld, const struct ynode *root)
{
	struct meta_report r;
	memset(&r, 0, sizeof(r));
	const struct ynode *name_node = ytree_map_get(root, "report");
	const char *name = get_name(ld, name_node, "report");
	r.pos = node_pos(ld, name_node);
	for (int i = 0; i < root->count; i += 2) {
		const struct ynode *key = root->items[i], *value = root->items[i + 1];
		const char *text;
		long long number;
		int index;
		if (!in_list(key->text, report_keys)) {
			error_unknown_key(ld, key, "report", report_keys);
		} else if (!strcmp(key->text, "label")) {
			parse_label(ld, value, "label", &r.label);
		} else if (!strcmp(key->text, "description")) {
			if ((text = get_text(ld, value, "description")))
				r.description = xstrdup(text);
		} else if (!strcmp(key->text, "module")) {
			if ((text = get_name(ld, value, "module")))
				r.module = xstrdup(text);
		} else if (!strcmp(key->text, "object")) {
			r.object_pos = node_pos(ld, value);
			if ((text = get_name(ld, value, "object")))
				r.object_name = xstrdup(text);
		} else if (!strcmp(key->text, "joins")) {
			parse_report_joins(ld, &r, value);
		} else if (!strcmp(key->text, "group")) {
			parse_report_groups(ld, &r, value);
		} else if (!strcmp(key->text, "measures")) {
			parse_report_measures(ld, &r, value);
		} else if (!strcmp(key->text, "filter")) {
			r.filter_pos = node_pos(ld, value);
			parse_expression(ld, value, "filter", &r.filter, &r.filter_expr);
		} else if (!strcmp(key->text, "parameters")) {
			if (value->kind != YNODE_MAPPING || value->count / 2 > MAX_REPORT_ITEMS) {
				error_node(ld, value, "expected a map of at most %d parameter names to root paths for 'parameters'",
				           MAX_REPORT_ITEMS);
				continue;
			}
			r.parameters = xcalloc((size_t)value->count / 2 + 1, sizeof(*r.parameters));
			for (int k = 0; k < value->count; k += 2) {
				const char *param = get_name(ld, value->items[k], "parameters");
				const char *path = get_text(ld, value->items[k + 1], "parameters");
				if (!param || !path)
					continue;
				if (in_list(param, (const char *const[]){ "from", "to", "filter", "limit", NULL }))
					error_node(ld, value->items[k], "parameter '%s' is the report's own (from, to, filter, limit)",
					           param);
				struct meta_report_parameter *p = &r.parameters[r.parameter_count++];
				p->name = xstrdup(param);
				p->path = xstrdup(path);
				p->pos = node_pos(ld, value->items[k + 1]);
			}
		} else if (!strcmp(key->text, "sort")) {
			r.sort_pos = node_pos(ld, value);
			if ((text = get_text(ld, value, "sort")))
				r.sort = xstrdup(text);
		} else if (!strcmp(key->text, "limit")) {
			if (get_int(ld, value, "limit", 1, 10000, &number))
				r.limit = (int)number;
		} else if (!strcmp(key->text, "view")) {
			r.view_pos = node_pos(ld, value);
			if ((text = get_text(ld, value, "view")) && (index = word_index(text, report_views)) < 0)
				error_node(ld, value, "expected table, bar, line or funnel for 'view', not '%s'", shown(ld, text));
			else if (text)
				r.view = (enum report_view)index;
		}
	}
	bool ok = name != NULL;
	if (ok && (!r.object_name || !r.measure_count)) {
		error_node(ld, root, "report '%s' needs an 'object' and 'measures' (see docs/metadata.md#report)", name);
		ok = false;
	}
	for (int i = 0; ok && i < ld->meta->report_count; i++) {
		const struct meta_report *other = &ld->meta->reports[i];
		if (!strcmp(other->name, name)) {
			error_at(ld, r.pos, "report '%s' is already defined at %s:%d:%d", name, other->pos.file, other->pos.line,
			         other->pos.column);
			ok = false;
		}
	}
	if (!ok) {
		report_free(&r);
		return;
	}
	r.name = xstrdup(name);
	ld->meta->reports = xrealloc(ld->meta->reports, (size_t)(ld->meta->report_count + 1) * sizeof(*ld->meta->reports));
	ld->meta->reports[ld->meta->report_count++] = r;
}

static void template_free(struct meta_template *t)
{
	free(t->name);
	free(t->channel);
	label_free(&t->label);
	label_free(&t->subject);
	label_free(&t->body);
	free_names(t->vars, t->var_count);
	free(t->object_name);
	memset(t, 0, sizeof(*t));
}

/* `template: name`: see struct meta_template; placeholders are checked in resolve_templates. */
static void parse_template(struct loader *ld, const struct ynode *root)
{
	struct meta_template t;
	memset(&t, 0, sizeof(t));
	const struct ynode *name_node = ytree_map_get(root, "template");
	const char *name = get_name(ld, name_node, "template");
	t.pos = node_pos(ld, name_node);
	bool ok = name != NULL, has_format = false;
	for (int i = 0; i < root->count; i += 2) {
		const struct ynode *key = root->items[i], *value = root->items[i + 1];
		const char *text;
		int index;
		if (!in_list(key->text, template_keys)) {
			error_unknown_key(ld, key, "template", template_keys);
		} else if (!strcmp(key->text, "label")) {
			parse_label(ld, value, "label", &t.label);
		} else if (!strcmp(key->text, "description")) {
			get_text(ld, value, "description");
		} else if (!strcmp(key->text, "channel")) {
			if ((text = get_text(ld, value, "channel")) && strcmp(text, "email") != 0 && strcmp(text, "webhook") != 0)
				error_node(ld, value, "expected email or webhook for 'channel', not '%s'", shown(ld, text));
			else if (text)
				t.channel = xstrdup(text);
		} else if (!strcmp(key->text, "format")) {
			if ((text = get_text(ld, value, "format")) && (index = word_index(text, template_formats)) < 0)
				error_node(ld, value, "expected text, html or json for 'format', not '%s'", shown(ld, text));
			else if (text)
				t.format = (enum template_format)index, has_format = true;
		} else if (!strcmp(key->text, "subject")) {
			t.subject_pos = node_pos(ld, value);
			parse_label(ld, value, "subject", &t.subject);
		} else if (!strcmp(key->text, "body")) {
			t.body_pos = node_pos(ld, value);
			parse_label(ld, value, "body", &t.body);
		} else if (!strcmp(key->text, "vars")) {
			free_names(t.vars, t.var_count);
			parse_name_list(ld, value, "vars", false, NULL, &t.vars, &t.var_count);
		} else if (!strcmp(key->text, "object")) {
			t.object_name = kpi_name_key(ld, value, "object", &t.object_pos);
		}
	}
	if (name && (!t.channel || !t.body.count)) {
		error_node(ld, root, "template '%s' needs a 'channel' and a 'body' (see docs/metadata.md#template)", name);
		ok = false;
	} else if (name && !strcmp(t.channel, "email") && !t.subject.count) {
		error_node(ld, root, "e-mail template '%s' needs a 'subject'", name);
		ok = false;
	} else if (name && !strcmp(t.channel, "webhook")) {
		if (has_format && t.format != TEMPLATE_JSON)
			error_node(ld, root, "webhook template '%s': a webhook posts JSON (format: json)", name);
		t.format = TEMPLATE_JSON;
	} else if (name && t.format == TEMPLATE_JSON) {
		error_node(ld, root, "e-mail template '%s': format is text or html", name);
	}
	if (ok && meta_find_template(ld->meta, name)) {
		const struct meta_template *other = meta_find_template(ld->meta, name);
		error_at(ld, t.pos, "template '%s' is already defined at %s:%d:%d", name, other->pos.file, other->pos.line,
		         other->pos.column);
		ok = false;
	}
	if (!ok) {
		template_free(&t);
		return;
	}
	t.name = xstrdup(name);
	ld->meta->templates = xrealloc(ld->meta->templates,
	                               (size_t)(ld->meta->template_count + 1) * sizeof(*ld->meta->templates));
	ld->meta->templates[ld->meta->template_count++] = t;
}

/* ---- calendar: business hours --------------------------------------------- */

static void calendar_free(struct meta_calendar *c)
{
	free(c->name);
	free(c->timezone);
	free(c->description);
	label_free(&c->label);
	calendar_zone_free((struct calendar_zone *)c->calendar.zone);
	memset(c, 0, sizeof(*c));
}

/* hours: { mon: ["09:00-12:00", "13:00-18:00"], ..., sat: [] }: a day not listed has no working time. */
static void parse_calendar_hours(struct loader *ld, const struct ynode *node, struct meta_calendar *c)
{
	if (node->kind != YNODE_MAPPING) {
		error_node(ld, node, "expected a map of weekdays for 'hours', as in hours: { mon: [\"09:00-18:00\"] }");
		return;
	}
	for (int i = 0; i < node->count; i += 2) {
		const struct ynode *key = node->items[i], *value = node->items[i + 1];
		int day = word_index(key->text, calendar_days);
		if (day < 0) {
			error_unknown_key(ld, key, "calendar hours", calendar_days);
			continue;
		}
		struct calendar_hours *h = &c->calendar.week[day];
		if (is_null(value))
			continue;
		if (value->kind != YNODE_SEQUENCE || value->count > CALENDAR_MAX_INTERVALS) {
			error_node(ld, value, "expected a list of at most %d intervals for '%s', as in [\"09:00-12:00\", "
			           "\"13:00-18:00\"] ([] for a day off)", CALENDAR_MAX_INTERVALS, key->text);
			continue;
		}
		h->count = 0;
		for (int k = 0; k < value->count; k++) {
			const struct ynode *item = value->items[k];
			const char *text = get_text(ld, item, key->text);
			char err[160];
			struct calendar_interval *interval = &h->intervals[h->count];
			if (!text)
				continue;
			if (calendar_parse_interval(text, interval, err, sizeof(err)) != 0) {
				error_node(ld, item, "%s", err);
				continue;
			}
			if (h->count > 0 && interval->start < h->intervals[h->count - 1].end) {
				error_node(ld, item, "interval '%s' of '%s' overlaps the one before it or comes before it: list a "
				           "day's intervals in order, apart", shown(ld, text), key->text);
				continue;
			}
			h->count++;
		}
	}
}

static void parse_calendar(struct loader *ld, const struct ynode *root)
{
	struct meta_calendar c;
	memset(&c, 0, sizeof(c));
	const struct ynode *name_node = ytree_map_get(root, "calendar");
	const char *name = get_name(ld, name_node, "calendar");
	c.pos = node_pos(ld, name_node);
	bool ok = name != NULL, has_hours = false;
	int errors = ld->diags->error_count;
	for (int i = 0; i < root->count; i += 2) {
		const struct ynode *key = root->items[i], *value = root->items[i + 1];
		const char *text;
		if (!in_list(key->text, calendar_keys)) {
			error_unknown_key(ld, key, "calendar", calendar_keys);
		} else if (!strcmp(key->text, "label")) {
			parse_label(ld, value, "label", &c.label);
		} else if (!strcmp(key->text, "description")) {
			if ((text = get_text(ld, value, "description")))
				c.description = xstrdup(text);
		} else if (!strcmp(key->text, "timezone")) {
			char err[200];
			struct calendar_zone *zone = NULL;
			if (!(text = get_text(ld, value, "timezone"))) {
				ok = false;
			} else if (calendar_zone_load(text, &zone, err, sizeof(err)) != 0) {
				error_node(ld, value, "%s", err);
				ok = false;
			} else {
				c.timezone = xstrdup(text);
				c.calendar.zone = zone;
			}
		} else if (!strcmp(key->text, "hours")) {
			has_hours = true;
			parse_calendar_hours(ld, value, &c);
		}
	}
	if (ok && !c.timezone) {
		error_at(ld, c.pos, "calendar '%s' needs a 'timezone' (an IANA name such as Asia/Shanghai)", name);
		ok = false;
	}
	bool working = false;
	for (int d = 0; d < 7; d++)
		working = working || c.calendar.week[d].count > 0;
	if (ok && ld->diags->error_count == errors && !working) {
		error_at(ld, c.pos, "calendar '%s' has no working time: give 'hours' at least one interval, as in "
		         "hours: { mon: [\"09:00-18:00\"] }%s", name, has_hours ? "" : " (it has no 'hours')");
		ok = false;
	}
	for (int i = 0; ok && i < ld->meta->calendar_count; i++) {
		const struct meta_calendar *other = &ld->meta->calendars[i];
		if (!strcmp(other->name, name)) {
			error_at(ld, c.pos, "calendar '%s' is already defined at %s:%d:%d", name, other->pos.file,
			         other->pos.line, other->pos.column);
			ok = false;
		}
	}
	if (!ok) {
		calendar_free(&c);
		return;
	}
	c.name = xstrdup(name);
	c.calendar.name = c.name;
	ld->meta->calendars = xrealloc(ld->meta->calendars,
	                               (size_t)(ld->meta->calendar_count + 1) * sizeof(*ld->meta->calendars));
	ld->meta->calendars[ld->meta->calendar_count++] = c;   /* calendar.name points at the same owned name */
}

/*
 * Dispatches one document by its leading key. workflow and role are tested
 * first because a workflow also has an `object:` key.
 */
static void process_document(struct loader *ld, const struct ynode *root)
{
	if (is_null(root))
		return;   /* an empty document, as after a trailing --- */
	if (root->kind != YNODE_MAPPING) {
		error_node(ld, root, "expected a map: an 'object', 'workflow', 'role', 'kpi', 'report', 'template' or 'calendar' document");
		return;
	}
	if (ytree_map_get(root, "workflow"))
		parse_workflow(ld, root);
	else if (ytree_map_get(root, "kpi"))
		parse_kpi(ld, root);
	else if (ytree_map_get(root, "report"))
		parse_report(ld, root);
	else if (ytree_map_get(root, "template"))
		parse_template(ld, root);
	else if (ytree_map_get(root, "calendar"))
		parse_calendar(ld, root);
	else if (ytree_map_get(root, "role"))
		parse_role(ld, root);
	else if (ytree_map_get(root, "object"))
		parse_object(ld, root);
	else if (ld->app_file)
		parse_app(ld, root);
	else
		error_node(ld, root, "expected an 'object', 'workflow', 'role', 'kpi', 'report', 'template' or 'calendar' document");
}

/* Each document ytree.c reads, in order. */
static void read_document(void *context, struct ynode *root)
{
	process_document(context, root);
	ytree_free(root);
}

/* Parses every document of one file; data need not be NUL-terminated. */
static void load_text(struct loader *ld, const char *name, const char *data, size_t length, bool app_file)
{
	struct meta *meta = ld->meta;
	meta->files = xrealloc(meta->files, (size_t)(meta->file_count + 1) * sizeof(*meta->files));
	meta->files[meta->file_count] = xstrdup(name);
	ld->file = meta->files[meta->file_count++];

	/* Name, NUL, 8-byte length, content: no two file sets hash alike by accident. */
	unsigned char size_bytes[8];
	for (int i = 0; i < 8; i++)
		size_bytes[i] = (unsigned char)((uint64_t)length >> (8 * i));
	crypto_hash_sha256_update(&ld->hash, (const unsigned char *)name, strlen(name) + 1);
	crypto_hash_sha256_update(&ld->hash, size_bytes, sizeof(size_bytes));
	crypto_hash_sha256_update(&ld->hash, (const unsigned char *)data, length);

	if (length > MAX_FILE_SIZE) {
		error_at(ld, line_pos(ld, 1, 1), "file is larger than 4 MiB");
		return;
	}
	ld->app_file = app_file;
	struct ytree_reader reader = {
		.max_depth = MAX_DEPTH, .max_nodes = MAX_NODES, .context = ld,
		.problem = report_yaml_problem, .mapping_done = check_mapping_keys, .document = read_document,
	};
	ytree_read(&reader, data, length);
}

/* ----------------------------------------------------------------- merging */

static int find_staged_definition(const struct loader *ld, const char *name)
{
	for (int i = 0; i < ld->staged_count; i++) {
		if (!ld->staged[i].extend && strcmp(ld->staged[i].object.name, name) == 0)
			return i;
	}
	return -1;
}

static void merge_extension(struct loader *ld, struct staged_object *base, struct staged_object *ext)
{
	struct meta_object *to = &base->object, *from = &ext->object;
	if (from->label.count > 0) {
		label_free(&to->label);
		to->label = from->label;
		memset(&from->label, 0, sizeof(from->label));
	}
	if (from->label_plural.count > 0) {
		label_free(&to->label_plural);
		to->label_plural = from->label_plural;
		memset(&from->label_plural, 0, sizeof(from->label_plural));
	}
	if (from->module) {
		free(to->module);
		to->module = from->module;
		from->module = NULL;
		label_free(&to->module_label);
		to->module_label = from->module_label;
		memset(&from->module_label, 0, sizeof(from->module_label));
	}
	int value_extensions = 0;   /* kept at the front of from->fields for merge_values */
	for (int i = 0; i < from->field_count; i++) {
		struct meta_field *field = &from->fields[i];
		if (ext->field_aux[i].extends) {
			from->fields[value_extensions] = *field;
			ext->field_aux[value_extensions++] = ext->field_aux[i];
			continue;
		}
		const struct meta_field *existing = meta_find_field(to, field->name);
		if (existing) {
			if (existing->system)
				error_at(ld, field->pos, "'%s' is a system field: every object has it already", field->name);
			else
				error_at(ld, field->pos, "duplicate field '%s' in object '%s' (first at %s:%d:%d)", field->name,
				         to->name, existing->pos.file, existing->pos.line, existing->pos.column);
			field_free(field);
			continue;
		}
		staged_add_field(ld, base, field, &ext->field_aux[i]);
	}
	from->field_count = value_extensions;

	int rule_total = to->rule_count + from->rule_count;
	to->rules = xrealloc(to->rules, (size_t)rule_total * sizeof(*to->rules));
	base->rule_aux = xrealloc(base->rule_aux, (size_t)rule_total * sizeof(*base->rule_aux));
	for (int i = 0; i < from->rule_count; i++) {
		to->rules[to->rule_count] = from->rules[i];
		base->rule_aux[to->rule_count++] = ext->rule_aux[i];
	}
	from->rule_count = 0;

	int index_total = to->index_count + from->index_count;
	to->indexes = xrealloc(to->indexes, (size_t)index_total * sizeof(*to->indexes));
	base->index_aux = xrealloc(base->index_aux, (size_t)index_total * sizeof(*base->index_aux));
	for (int i = 0; i < from->index_count; i++) {
		to->indexes[to->index_count] = from->indexes[i];
		base->index_aux[to->index_count++] = ext->index_aux[i];
	}
	from->index_count = 0;

	if (from->views) {
		if (to->views)
			json_object_update(to->views, from->views);
		else
			json_incref(to->views = from->views);
	}
	if (json_object_get(from->views, "lines"))
		base->lines = ext->lines;
	if (json_object_get(from->views, "console"))
		base->console = ext->console;
}

/*
 * Appends the values of ext's field extensions (what merge_extension left in
 * its fields) to the enum and multienum fields of base, then frees them.
 */
static void merge_values(struct loader *ld, struct staged_object *base, struct staged_object *ext)
{
	struct meta_object *to = &base->object, *from = &ext->object;
	for (int i = 0; i < from->field_count; i++) {
		struct meta_field *field = &from->fields[i];
		int index = meta_field_index(to, field->name);
		struct meta_field *target = index < 0 ? NULL : &to->fields[index];
		if (!target) {
			error_at(ld, field->pos, "field '%s' to extend is not a field of object '%s' (an extension adds values "
			         "to a field defined without 'extend')", field->name, to->name);
		} else if (target->type != FIELD_ENUM && target->type != FIELD_MULTIENUM) {
			error_at(ld, field->pos, "only an enum or multienum field takes more values: '%s.%s' is %s", to->name,
			         target->name, meta_type_name(target->type));
		} else if (!base->field_aux[index].broken) {
			int total = target->value_count + field->value_count;
			target->values = xrealloc(target->values, (size_t)total * sizeof(*target->values));
			target->value_labels = xrealloc(target->value_labels, (size_t)total * sizeof(*target->value_labels));
			for (int v = 0; v < field->value_count; v++) {
				if (in_values(target, field->values[v])) {
					error_at(ld, field->pos, "'%s' is already a value of '%s.%s' (%s:%d:%d)", shown(ld, field->values[v]),
					         to->name, target->name, target->pos.file, target->pos.line, target->pos.column);
					continue;
				}
				target->values[target->value_count] = field->values[v];
				target->value_labels[target->value_count++] = field->value_labels[v];
				field->values[v] = NULL;
				memset(&field->value_labels[v], 0, sizeof(field->value_labels[v]));
			}
		}
		field_free(field);
	}
	from->field_count = 0;
}

/*
 * Applies every extension to its definition in load order (first fields,
 * rules, indexes and views, then enum values, so that values may go to a
 * field another extension adds), then moves the definitions into
 * meta->objects; ld->staged keeps their positions, index for index.
 */
static void merge_and_assemble(struct loader *ld)
{
	int kept = 0;
	for (int i = 0; i < ld->staged_count; i++) {
		struct staged_object *so = &ld->staged[i];
		if (!so->extend)
			continue;
		int base = find_staged_definition(ld, so->object.name);
		if (base < 0)
			error_at(ld, so->object.pos, "extend of unknown object '%s' (it is defined nowhere without 'extend: true')",
			         so->object.name);
		else
			merge_extension(ld, &ld->staged[base], so);
	}
	for (int i = 0; i < ld->staged_count; i++) {
		struct staged_object *so = &ld->staged[i];
		int base = so->extend && so->object.field_count > 0 ? find_staged_definition(ld, so->object.name) : -1;
		if (base >= 0)
			merge_values(ld, &ld->staged[base], so);
	}
	for (int i = 0; i < ld->staged_count; i++) {
		if (ld->staged[i].extend)
			staged_free(&ld->staged[i]);
		else
			ld->staged[kept++] = ld->staged[i];
	}
	ld->staged_count = kept;

	struct meta *meta = ld->meta;
	meta->object_count = kept;
	meta->objects = xcalloc((size_t)(kept ? kept : 1), sizeof(*meta->objects));
	for (int i = 0; i < kept; i++) {
		meta->objects[i] = ld->staged[i].object;
		memset(&ld->staged[i].object, 0, sizeof(ld->staged[i].object));
	}
}

/* --------------------------------------------------------------- resolving */


struct path_check {
	struct loader *ld;
	const struct meta_object *object;
	struct meta_pos pos;
	const char *context;      /* "formula 'expected'", for messages */
	/* formulas only: formula fields of the object named by a path's first segment */
	int *deps;
	int dep_count;
};

/* expr_each_path callback: every segment must name a field, every hop a ref or user field. */
static void check_path(void *arg, const char *path)
{
	struct path_check *pc = arg;
	struct loader *ld = pc->ld;
	char *copy = xstrdup(path), *segment = copy;
	const struct meta_object *object = pc->object;
	int hops = 0;

	for (;;) {
		char *dot = strchr(segment, '.');
		if (dot)
			*dot = '\0';
		const struct meta_field *field = meta_find_field(object, segment);
		if (!field) {
			if (segment == copy)
				error_at(ld, pc->pos, "unknown field '%s' in %s", shown(ld, segment), pc->context);
			else
				error_at(ld, pc->pos, "unknown field '%s' on object '%s' in path '%s' (%s)", shown(ld, segment),
				         object->name, shown(ld, path), pc->context);
			break;
		}
		if (segment == copy && pc->deps && field->type == FIELD_FORMULA) {
			int index = (int)(field - object->fields);
			bool known = false;
			for (int i = 0; i < pc->dep_count; i++)
				known = known || pc->deps[i] == index;
			if (!known)
				pc->deps[pc->dep_count++] = index;
		}
		if (!dot)
			break;
		if (++hops > EXPR_MAX_PATH) {
			error_at(ld, pc->pos, "path '%s' goes through more than %d refs (%s)", shown(ld, path), EXPR_MAX_PATH,
			         pc->context);
			break;
		}
		if (field->type != FIELD_REF && field->type != FIELD_USER) {
			error_at(ld, pc->pos, "cannot follow '%s': '%s' is not a ref or user field (%s)", shown(ld, path),
			         field->name, pc->context);
			break;
		}
		if (!field->target) {
			/* An unknown ref target is reported at its `to:` already. */
			if (field->type == FIELD_USER)
				error_at(ld, pc->pos, "cannot follow '%s': there is no 'user' object (%s)", shown(ld, path),
				         pc->context);
			break;
		}
		object = field->target;
		segment = dot + 1;
	}
	free(copy);
}

static void resolve_targets(struct loader *ld)
{
	struct meta *meta = ld->meta;
	for (int o = 0; o < meta->object_count; o++) {
		struct meta_object *object = &meta->objects[o];
		for (int f = 0; f < object->field_count; f++) {
			struct meta_field *field = &object->fields[f];
			const struct field_aux *aux = &ld->staged[o].field_aux[f];
			/* an append-only record is never written again: nothing may keep a total on it or
			 * change its refs when what they point at goes */
			if (object->append_only && !field->system && field->type == FIELD_ROLLUP)
				error_at(ld, aux->type_pos, "append-only object '%s' cannot have rollup '%s': a rollup rewrites the "
				         "record; keep the total on the parent", object->name, field->name);
			if (object->append_only && !field->system && (field->type == FIELD_REF || field->type == FIELD_USER)
			    && field->on_delete != ON_DELETE_RESTRICT && !aux->broken)
				error_at(ld, aux->to_given ? aux->to_pos : aux->type_pos, "field '%s' of append-only object '%s' needs "
				         "on_delete: restrict (set_null and cascade would change or delete its records)",
				         field->name, object->name);
			if ((field->type != FIELD_REF && field->type != FIELD_USER) || !field->to)
				continue;
			field->target = meta_find_object(meta, field->to);
			/* A user field without `to:` may live in a kernel without a user object. */
			bool required = field->type == FIELD_REF || (aux->to_given && strcmp(field->to, "user") != 0);
			if (!field->target && required && !aux->broken)
				error_at(ld, aux->to_pos, "unknown object '%s' in %s '%s'", field->to, meta_type_name(field->type),
				         field->name);
		}
	}
}

static bool measure_type_ok(enum rollup_measure measure, enum field_type type)
{
	if (TYPE_BIT(type) & NUMBER_TYPES)
		return true;
	return (measure == ROLLUP_MIN || measure == ROLLUP_MAX) && (type == FIELD_DATE || type == FIELD_DATETIME);
}

static void resolve_rollup(struct loader *ld, int object_index, struct meta_field *field, const struct field_aux *aux)
{
	struct meta *meta = ld->meta;
	const struct meta_object *object = &meta->objects[object_index];
	const char *dot = strchr(field->rollup_of, '.');
	char *child_name = xstrndup(field->rollup_of, (size_t)(dot - field->rollup_of));
	int child_index = meta_object_index(meta, child_name);
	if (child_index < 0)
		error_at(ld, aux->of_pos, "unknown object '%s' in rollup '%s'", child_name, field->name);
	free(child_name);
	if (child_index < 0)
		return;
	struct meta_object *child = &meta->objects[child_index];
	const struct meta_field *ref = meta_find_field(child, dot + 1);
	if (!ref) {
		error_at(ld, aux->of_pos, "unknown field '%s' on object '%s' in rollup '%s'", dot + 1, child->name,
		         field->name);
		return;
	}
	if ((ref->type != FIELD_REF && ref->type != FIELD_USER) || ref->target != object) {
		error_at(ld, aux->of_pos, "'%s' is not a ref to object '%s' (in rollup '%s')", field->rollup_of,
		         object->name, field->name);
		return;
	}
	field->rollup_child = child;
	field->rollup_child_field = ref;
	child->rollup_parents = xrealloc(child->rollup_parents,
	                                 (size_t)(child->rollup_parent_count + 1) * sizeof(*child->rollup_parents));
	child->rollup_parents[child->rollup_parent_count++] = field;
}

/*
 * What a rollup can measure is a value the child stores or derives from
 * itself alone: a stored number (or date for min/max), a rollup of the
 * child's own children, or a formula over such fields. A formula that reads
 * another record, the clock or the caller would leave the stored total stale
 * the moment that record, the day or the reader changed, so it is refused.
 */
struct measure_walk {
	const struct meta_object *child;
	const char *why;          /* first reason the value cannot be stored, or NULL */
	char detail[160];
	bool reads_rollup;
	int depth;
};

static void walk_measured(struct measure_walk *w, const struct meta_field *f);

static void walk_measured_path(void *arg, const char *path)
{
	struct measure_walk *w = arg;
	if (w->why)
		return;
	if (strchr(path, '.')) {
		w->why = "reads another record through";
		snprintf(w->detail, sizeof(w->detail), "'%s'", path);
		return;
	}
	const struct meta_field *f = meta_find_field(w->child, path);
	if (f)
		walk_measured(w, f);
}

static void walk_measured(struct measure_walk *w, const struct meta_field *f)
{
	if (f->type == FIELD_ROLLUP) {
		w->reads_rollup = true;
		return;
	}
	if (f->type != FIELD_FORMULA || !f->formula_expr || w->why)
		return;
	if (w->depth >= EXPR_MAX_FORMULA_DEPTH) {
		w->why = "nests formulas too deeply at";
		snprintf(w->detail, sizeof(w->detail), "formula '%s'", f->name);
	} else if (expr_reads_context(f->formula_expr)) {
		w->why = "depends on the day or the reader (today(), now(), $me, $user) in";
		snprintf(w->detail, sizeof(w->detail), "formula '%s'", f->name);
	} else {
		w->depth++;
		expr_each_path(f->formula_expr, walk_measured_path, w);
		w->depth--;
	}
}

/* The type of a field's value, for measuring it: a formula's result, a rollup's (count: int). */
static enum field_type measured_type(const struct meta_field *f, int depth)
{
	if (f->type == FIELD_FORMULA)
		return f->result_type;
	if (f->type != FIELD_ROLLUP)
		return f->type;
	if (f->rollup_measure == ROLLUP_COUNT)
		return FIELD_INT;
	if (f->rollup_measure == ROLLUP_AVG || !f->rollup_child || !f->rollup_measure_field || depth > 8)
		return FIELD_DECIMAL;
	const struct meta_field *measured = meta_find_field(f->rollup_child, f->rollup_measure_field);
	return measured ? measured_type(measured, depth + 1) : FIELD_DECIMAL;
}

/* Second pass: every rollup knows its child by now, so a measure may be a rollup in turn. */
static void check_rollup_measure(struct loader *ld, struct meta_field *field, const struct field_aux *aux)
{
	const struct meta_object *child = field->rollup_child;
	struct measure_walk w = { .child = child };
	if (field->rollup_measure_field) {
		const struct meta_field *measured = meta_find_field(child, field->rollup_measure_field);
		enum field_type type = measured ? measured_type(measured, 0) : FIELD_TEXT;
		if (measured)
			walk_measured(&w, measured);
		if (!measured)
			error_at(ld, aux->measure_pos, "unknown field '%s' on object '%s' in measure of rollup '%s'",
			         field->rollup_measure_field, child->name, field->name);
		else if (!measure_type_ok(field->rollup_measure, type))
			error_at(ld, aux->measure_pos, "cannot measure field '%s' of type '%s' in rollup '%s' (expected %s)",
			         measured->name, meta_type_name(type), field->name,
			         field->rollup_measure == ROLLUP_MIN || field->rollup_measure == ROLLUP_MAX
			             ? "int, decimal, money, percent, date or datetime"
			             : "int, decimal, money or percent");
		else if (w.why)
			error_at(ld, aux->measure_pos, "rollup '%s' cannot measure '%s': it %s %s, so the stored total "
			         "would go stale", field->name, measured->name, w.why, w.detail);
		else if (field->rollup_measure == ROLLUP_AVG)
			field->scale = 6;
		else
			field->scale = measured->scale;
	}
	if (field->rollup_where_expr) {
		char context[128];
		snprintf(context, sizeof(context), "where of rollup '%s'", field->name);
		struct path_check pc = {ld, child, aux->where_pos, context, NULL, 0};
		expr_each_path(field->rollup_where_expr, check_path, &pc);
		w.why = NULL;
		expr_each_path(field->rollup_where_expr, walk_measured_path, &w);
	}
	field->rollup_reads_rollup = w.reads_rollup;
}

/*
 * A rollup that reads a rollup is refreshed after it: object.c climbs the
 * refs. A loop of such rollups (account.total over its sub-accounts' totals)
 * would climb forever on a cyclic hierarchy, so it is refused here.
 */
static bool rollup_climb_cycle(struct loader *ld, const struct meta_object *object, char *state, struct strbuf *path)
{
	int index = (int)(object - ld->meta->objects);
	if (state[index] == 1)
		return true;
	if (state[index] == 2)
		return false;
	state[index] = 1;
	for (int i = 0; i < object->rollup_parent_count; i++) {
		const struct meta_field *up = object->rollup_parents[i];
		if (!up->rollup_reads_rollup)
			continue;
		const struct meta_object *parent = up->rollup_child_field->target;
		if (rollup_climb_cycle(ld, parent, state, path)) {
			strbuf_printf(path, "%s%s.%s", path->len ? " <- " : "", parent->name, up->name);
			return true;
		}
	}
	state[index] = 2;
	return false;
}

static void check_rollup_cycles(struct loader *ld)
{
	char *state = xcalloc((size_t)ld->meta->object_count, 1);
	for (int o = 0; o < ld->meta->object_count; o++) {
		struct strbuf path = {0};
		bool loop = rollup_climb_cycle(ld, &ld->meta->objects[o], state, &path);
		if (loop)
			error_at(ld, ld->meta->objects[o].pos, "rollups that measure rollups form a loop: %s", path.data);
		strbuf_free(&path);
		if (loop)
			break;
	}
	free(state);
}

struct cycle_search {
	struct loader *ld;
	const struct meta_object *object;
	const struct field_aux *aux;
	int **deps;
	int *dep_counts;
	char *state;              /* 0 unvisited, 1 on the path, 2 done */
	int *path;
	int path_length;
};

static void visit_formula(struct cycle_search *cs, int index)
{
	cs->state[index] = 1;
	cs->path[cs->path_length++] = index;
	for (int i = 0; i < cs->dep_counts[index]; i++) {
		int next = cs->deps[index][i];
		if (cs->state[next] == 0) {
			visit_formula(cs, next);
		} else if (cs->state[next] == 1) {
			struct strbuf cycle = {0};
			int start = cs->path_length - 1;
			while (cs->path[start] != next)
				start--;
			for (int p = start; p < cs->path_length; p++)
				strbuf_printf(&cycle, "%s -> ", cs->object->fields[cs->path[p]].name);
			strbuf_puts(&cycle, cs->object->fields[next].name);
			error_at(cs->ld, cs->aux[next].formula_pos, "formula cycle: %s", cycle.data);
			strbuf_free(&cycle);
		}
	}
	cs->path_length--;
	cs->state[index] = 2;
}

/* Formula, rule and index checks for one object: everything its fields can reach is resolved by now. */
/*
 * views.kanban.card: { title, subtitle, fields: [up to three] }: what a
 * board's card shows. Each names a field of the object.
 */
static void check_kanban_card(struct loader *ld, const struct meta_object *object)
{
	json_t *card = json_object_get(json_object_get(object->views, "kanban"), "card");
	if (!card)
		return;
	if (!json_is_object(card)) {
		error_at(ld, object->pos, "views.kanban.card of '%s': expected { title, subtitle, fields: [...] }",
		         object->name);
		return;
	}
	const char *key;
	json_t *value;
	json_object_foreach(card, key, value) {
		bool list = strcmp(key, "fields") == 0;
		if (!list && strcmp(key, "title") != 0 && strcmp(key, "subtitle") != 0) {
			error_at(ld, object->pos, "views.kanban.card of '%s': unknown key '%s' (expected title, subtitle, "
			         "fields; see docs/metadata.md#object)", object->name, shown(ld, key));
			continue;
		}
		if (list && (!json_is_array(value) || json_array_size(value) > 3)) {
			error_at(ld, object->pos, "views.kanban.card of '%s': 'fields' is a list of at most three fields",
			         object->name);
			continue;
		}
		size_t i;
		json_t *item;
		json_t *names = list ? value : json_pack("[O]", value);
		json_array_foreach(names, i, item) {
			const char *name = json_string_value(item);
			if (!name || !meta_find_field(object, name))
				error_at(ld, object->pos, "views.kanban.card of '%s': unknown field '%s' in '%s'", object->name,
				         name ? shown(ld, name) : "(not a name)", key);
		}
		if (!list)
			json_decref(names);
	}
}

/*
 * views.home: [{ title, filter, sort, fields, limit }]: the sections of each
 * person's home page that list this object's records. The filter is an
 * expression over the object (with $me, today()); sort and fields name fields.
 */
static void check_home_sections(struct loader *ld, const struct meta_object *object)
{
	json_t *home = json_object_get(object->views, "home");
	if (!home)
		return;
	if (!json_is_array(home)) {
		error_at(ld, object->pos, "views.home of '%s': expected a list of sections { title, filter, sort, fields, "
		         "limit } (see docs/metadata.md#views)", object->name);
		return;
	}
	size_t i;
	json_t *section;
	json_array_foreach(home, i, section) {
		const char *key;
		json_t *value;
		json_object_foreach(section, key, value) {
			if (strcmp(key, "title") && strcmp(key, "filter") && strcmp(key, "sort") && strcmp(key, "fields")
			    && strcmp(key, "limit"))
				error_at(ld, object->pos, "views.home[%zu] of '%s': unknown key '%s' (expected title, filter, sort, "
				         "fields, limit)", i, object->name, shown(ld, key));
		}
		const char *filter = json_string_value(json_object_get(section, "filter"));
		if (filter) {
			struct expr *e = NULL;
			char err[256];
			if (expr_parse(filter, &e, err, sizeof(err)) != CRM_OK)
				error_at(ld, object->pos, "views.home[%zu] of '%s': filter: %s", i, object->name, err);
			expr_free(e);
		}
		const char *sort = json_string_value(json_object_get(section, "sort"));
		if (sort && !meta_find_field(object, sort[0] == '-' ? sort + 1 : sort))
			error_at(ld, object->pos, "views.home[%zu] of '%s': sort: unknown field '%s'", i, object->name, shown(ld, sort));
		json_t *limit = json_object_get(section, "limit");
		if (limit && (!json_is_integer(limit) || json_integer_value(limit) < 1 || json_integer_value(limit) > 50))
			error_at(ld, object->pos, "views.home[%zu] of '%s': limit is 1 to 50", i, object->name);
		size_t k;
		json_t *name;
		json_array_foreach(json_object_get(section, "fields"), k, name)
			if (!json_is_string(name) || !meta_find_field(object, json_string_value(name)))
				error_at(ld, object->pos, "views.home[%zu] of '%s': fields: unknown field '%s'", i, object->name,
				         json_is_string(name) ? shown(ld, json_string_value(name)) : "(not a name)");
	}
}

/*
 * views.composer: { object, ref, fields }: a quick form on this object's
 * record pages that creates a child record (a call, a task, a note) linked
 * through ref, a ref field of the child to this object.
 */
static void check_composer(struct loader *ld, const struct meta *meta, const struct meta_object *object)
{
	json_t *composer = json_object_get(object->views, "composer");
	if (!composer)
		return;
	const char *child_name = json_string_value(json_object_get(composer, "object"));
	const char *ref_name = json_string_value(json_object_get(composer, "ref"));
	const struct meta_object *child = child_name ? meta_find_object(meta, child_name) : NULL;
	const struct meta_field *ref = child && ref_name ? meta_find_field(child, ref_name) : NULL;
	if (!child) {
		error_at(ld, object->pos, "views.composer of '%s': 'object' must name an object (see docs/metadata.md#views)",
		         object->name);
		return;
	}
	if (!ref || ref->type != FIELD_REF || ref->target != object)
		error_at(ld, object->pos, "views.composer of '%s': 'ref' must be a ref field of '%s' to '%s'", object->name,
		         child->name, object->name);
	size_t i;
	json_t *name;
	json_array_foreach(json_object_get(composer, "fields"), i, name)
		if (!json_is_string(name) || !meta_find_field(child, json_string_value(name)))
			error_at(ld, object->pos, "views.composer of '%s': unknown field '%s' of '%s'", object->name,
			         json_is_string(name) ? shown(ld, json_string_value(name)) : "(not a name)", child->name);
}

/* A field of object whose kind fits: any field (type 0), a datetime, or a ref (to target when given). */
static const struct meta_field *console_field(struct loader *ld, const struct meta_object *object, const char *name,
                                              enum field_type type, const struct meta_object *target,
                                              struct meta_pos pos, const char *what)
{
	const struct meta_field *field = name ? meta_find_field(object, name[0] == '-' ? name + 1 : name) : NULL;
	if (!field)
		error_at(ld, pos, "views.console: %s: '%s' has no field '%s'", what, object->name, name ? shown(ld, name) : "(not a name)");
	else if (type == FIELD_DATETIME && field->type != FIELD_DATETIME)
		error_at(ld, pos, "views.console: %s: '%s.%s' is %s, not a datetime", what, object->name, field->name,
		         meta_type_name(field->type));
	else if (type == FIELD_REF && (field->type != FIELD_REF || (target && field->target != target)))
		error_at(ld, pos, "views.console: %s: '%s.%s' must be a ref field%s%s", what, object->name, field->name,
		         target ? " to " : "", target ? target->name : "");
	else
		return field;
	return NULL;
}

static void console_filter(struct loader *ld, const struct meta *meta, const struct meta_object *object,
                           const char *filter, struct meta_pos pos, const char *what)
{
	struct expr *e = NULL;
	char err[256];
	if (filter && (expr_parse(filter, &e, err, sizeof(err)) != CRM_OK || expr_check(e, meta, object, err, sizeof(err)) != CRM_OK))
		error_at(ld, pos, "views.console: %s of '%s': %s", what, object->name, err);
	expr_free(e);
}

/* The panels of related or panels: records of their object whose ref points at a record of target. */
static void check_console_panels(struct loader *ld, const struct meta *meta, json_t *list, const struct meta_object *target,
                                 const struct meta_pos *pos, const char *what)
{
	size_t i, k;
	json_t *panel, *name;
	json_array_foreach(list, i, panel) {
		const char *object_name = json_string_value(json_object_get(panel, "object"));
		const struct meta_object *object = object_name ? meta_find_object(meta, object_name) : NULL;
		if (!object) {
			error_at(ld, pos[i], "views.console: %s[%zu]: 'object' must name an object, not '%s'", what, i,
			         object_name ? shown(ld, object_name) : "(none)");
			continue;
		}
		console_field(ld, object, json_string_value(json_object_get(panel, "ref")), FIELD_REF, target, pos[i], what);
		json_array_foreach(json_object_get(panel, "fields"), k, name)
			console_field(ld, object, json_string_value(name), 0, NULL, pos[i], what);
		if (!json_array_size(json_object_get(panel, "fields")))
			error_at(ld, pos[i], "views.console: %s[%zu]: 'fields' is a list of field names of '%s'", what, i, object->name);
		if (json_object_get(panel, "sort"))
			console_field(ld, object, json_string_value(json_object_get(panel, "sort")), 0, NULL, pos[i], what);
		console_filter(ld, meta, object, json_string_value(json_object_get(panel, "filter")), pos[i], what);
		json_t *limit = json_object_get(panel, "limit");
		if (limit && (!json_is_integer(limit) || json_integer_value(limit) < 1 || json_integer_value(limit) > 50))
			error_at(ld, pos[i], "views.console: %s[%zu]: limit is 1 to 50", what, i);
	}
}

/* views.console, once every object is known: each name against the objects (docs/metadata.md#console-view). */
static void check_console_view(struct loader *ld, const struct meta *meta, const struct meta_object *object,
                               const struct console_aux *aux)
{
	if (!aux->present)
		return;
	json_t *console = json_object_get(object->views, "console"), *name;
	const struct meta_pos *at = aux->key_pos;   /* by the index of the key in console_keys */
	size_t i;
	console_filter(ld, meta, object, json_string_value(json_object_get(console, "queue")), at[1], "queue");
	if (json_object_get(console, "sort"))
		console_field(ld, object, json_string_value(json_object_get(console, "sort")), 0, NULL, at[2], "sort");
	json_array_foreach(json_object_get(console, "columns"), i, name)
		console_field(ld, object, json_string_value(name), 0, NULL, at[3], "columns");
	json_array_foreach(json_object_get(console, "fields"), i, name)
		console_field(ld, object, json_string_value(name), 0, NULL, at[4], "fields");
	json_t *clock;
	json_array_foreach(json_object_get(console, "clocks"), i, clock) {
		if (!json_object_get(clock, "due"))
			error_at(ld, aux->clock_pos[i], "views.console: clocks[%zu]: 'due' is required", i);
		else
			console_field(ld, object, json_string_value(json_object_get(clock, "due")), FIELD_DATETIME, NULL,
			              aux->clock_pos[i], "clocks");
		if (json_object_get(clock, "done"))
			console_field(ld, object, json_string_value(json_object_get(clock, "done")), FIELD_DATETIME, NULL,
			              aux->clock_pos[i], "clocks");
	}
	if (json_object_get(console, "paused"))
		console_field(ld, object, json_string_value(json_object_get(console, "paused")), FIELD_DATETIME, NULL, at[6],
		              "paused");
	check_console_panels(ld, meta, json_object_get(console, "related"), object, aux->related_pos, "related");
	const char *route = json_string_value(json_object_get(console, "suggest"));
	if (route) {
		bool ok = strstr(route, "{id}") && !strstr(route, "..") && route[0] != '/' && strlen(route) < 200;
		for (const char *c = route; ok && *c; c++)
			ok = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || strchr("_-/{}", *c);
		if (!ok)
			error_at(ld, at[8], "views.console of '%s': 'suggest' is a plugin route path under /api/v1/plugins/ with "
			         "{id} for the record, such as service/cases/{id}/suggestions, not '%s'", object->name, shown(ld, route));
		if (!json_object_get(console, "link"))
			error_at(ld, at[8], "views.console of '%s': 'suggest' needs 'link', the ref field a suggestion is linked by",
			         object->name);
	}
	if (json_object_get(console, "link"))
		console_field(ld, object, json_string_value(json_object_get(console, "link")), FIELD_REF, NULL, at[9], "link");
	const struct meta_field *customer = json_object_get(console, "customer")
		? console_field(ld, object, json_string_value(json_object_get(console, "customer")), FIELD_REF, NULL, at[10],
		                "customer")
		: NULL;
	if (json_object_get(console, "panels") && !json_object_get(console, "customer"))
		error_at(ld, at[11], "views.console of '%s': 'panels' needs 'customer', the ref field to the record they are "
		         "about", object->name);
	else if (customer && customer->target)
		check_console_panels(ld, meta, json_object_get(console, "panels"), customer->target, aux->panel_pos, "panels");
}

bool meta_currency_code(const char *text)
{
	return text && strlen(text) == 3 && text[0] >= 'A' && text[0] <= 'Z' && text[1] >= 'A' && text[1] <= 'Z'
	       && text[2] >= 'A' && text[2] <= 'Z';
}

/*
 * currency: on a money field (or a money formula): "EUR" fixes it; a field
 * name makes each record say its own, which reports and rollups convert into
 * the company currency (app.yaml config.currency) at the exchange_rate
 * object's rate valid that day.
 */
static void check_currency(struct loader *ld, const struct meta_object *object, struct meta_field *field,
                           const struct field_aux *aux)
{
	if (!field->currency)
		return;
	const struct meta_field *measured = field->type == FIELD_ROLLUP && field->rollup_child && field->rollup_measure_field
		? meta_find_field(field->rollup_child, field->rollup_measure_field) : NULL;
	if ((field->type == FIELD_FORMULA && field->result_type != FIELD_MONEY)
	    || (field->type == FIELD_ROLLUP && (!measured || (measured->type != FIELD_MONEY
	        && !(measured->type == FIELD_FORMULA && measured->result_type == FIELD_MONEY))))) {
		error_at(ld, aux->currency_pos, "'currency' of field '%s' needs a money value", field->name);
		return;
	}
	if (meta_currency_code(field->currency))
		return;
	const struct meta_field *holder = meta_find_field(object, field->currency);
	if (!holder || (holder->type != FIELD_TEXT && holder->type != FIELD_ENUM)) {
		error_at(ld, aux->currency_pos, "'currency' of field '%s' must be an ISO 4217 code such as EUR or a text or "
		         "enum field of '%s' holding one, not '%s'", field->name, object->name, shown(ld, field->currency));
		return;
	}
	field->currency_field = holder;
	const struct meta_object *rates = meta_find_object(ld->meta, "exchange_rate");
	if (!rates || !meta_find_field(rates, "currency") || !meta_find_field(rates, "rate")
	    || !meta_find_field(rates, "valid_from"))
		error_at(ld, aux->currency_pos, "field '%s' takes its currency from '%s': converting needs the exchange_rate "
		         "object (currency, rate, valid_from; see metadata/exchange_rate.yaml)", field->name, holder->name);
}

/*
 * views.lines, once every object is known: the child object, its ref field to
 * this object (which the grid sets, so not among the columns), the columns
 * (fields of the child, each once) and the optional order, an int field of
 * the child the grid writes to keep the order the user gives the lines.
 */
static void check_lines_view(struct loader *ld, const struct meta *meta, const struct meta_object *object,
                             const struct lines_aux *aux)
{
	if (!aux->present)
		return;
	json_t *lines = json_object_get(object->views, "lines");
	const char *child_name = json_string_value(json_object_get(lines, "object"));
	const char *ref_name = json_string_value(json_object_get(lines, "ref"));
	const char *order_name = json_string_value(json_object_get(lines, "order"));
	const struct meta_object *child = meta_find_object(meta, child_name);
	if (!child) {
		error_at(ld, aux->object_pos, "views.lines of '%s': no object '%s' (see docs/metadata.md#lines-view)",
		         object->name, shown(ld, child_name));
		return;
	}
	const struct meta_field *ref = meta_find_field(child, ref_name);
	if (!ref)
		error_at(ld, aux->ref_pos, "views.lines of '%s': 'ref' must be a ref field of '%s' to '%s' ('%s' has no "
		         "field '%s')", object->name, child->name, object->name, child->name, shown(ld, ref_name));
	else if (ref->type != FIELD_REF)
		error_at(ld, aux->ref_pos, "views.lines of '%s': 'ref' must be a ref field of '%s' to '%s' (%s.%s is %s)",
		         object->name, child->name, object->name, child->name, ref->name, meta_type_name(ref->type));
	else if (ref->target != object)
		error_at(ld, aux->ref_pos, "views.lines of '%s': 'ref' must be a ref field of '%s' to '%s' (%s.%s refers "
		         "to '%s')", object->name, child->name, object->name, child->name, ref->name,
		         ref->target ? ref->target->name : ref->to);
	bool ref_ok = ref && ref->type == FIELD_REF && ref->target == object;
	size_t i;
	json_t *item;
	json_array_foreach(json_object_get(lines, "fields"), i, item) {
		const char *name = json_string_value(item);
		if (!meta_find_field(child, name))
			error_at(ld, aux->field_pos[i], "views.lines of '%s': '%s' has no field '%s'", object->name, child->name,
			         shown(ld, name));
		else if (ref_ok && !strcmp(name, ref->name))
			error_at(ld, aux->field_pos[i], "views.lines of '%s': '%s' is the ref to '%s', which the grid sets; "
			         "it is not a column", object->name, name, object->name);
		for (size_t k = 0; k < i; k++)
			if (!strcmp(name, json_string_value(json_array_get(json_object_get(lines, "fields"), k))))
				error_at(ld, aux->field_pos[i], "views.lines of '%s': field '%s' is listed twice", object->name,
				         shown(ld, name));
	}
	if (order_name) {
		const struct meta_field *order = meta_find_field(child, order_name);
		if (!order || order->type != FIELD_INT || order->system || order->readonly)
			error_at(ld, aux->order_pos, "views.lines of '%s': 'order' must be a writable int field of '%s' "
			         "('%s' %s)", object->name, child->name, shown(ld, order_name),
			         !order ? "does not exist" : order->type != FIELD_INT ? "is not an int" : "cannot be written");
	}
}

/*
 * A report measure as dashboards and kpis write it: count, or sum(f), avg(f),
 * min(f), max(f) of a number field f of object (what object_aggregate takes).
 */
static bool report_measure_ok(const struct meta_object *object, const char *measure)
{
	if (!measure || !strcmp(measure, "count"))
		return measure != NULL;
	size_t length = strlen(measure);
	if (length <= 5 || measure[length - 1] != ')' || (strncmp(measure, "sum(", 4) && strncmp(measure, "avg(", 4)
	    && strncmp(measure, "min(", 4) && strncmp(measure, "max(", 4)))
		return false;
	char *name = xstrndup(measure + 4, length - 5);
	const struct meta_field *measured = meta_find_field(object, name);
	free(name);
	enum value_kind kind = measured ? meta_field_kind(measured) : KIND_TEXT;
	return kind == KIND_INT || kind == KIND_REAL;
}

/*
 * views.charts: [{ title, group, measure, filter, by, type }], the dashboard's
 * bar charts of this object, each one report (GET /reports): checked here so
 * that a typo fails `crm check`, not the dashboard in a buyer's browser.
 */
static void check_charts(struct loader *ld, const struct meta_object *object)
{
	static const char *const chart_keys[] = { "title", "group", "measure", "filter", "by", "type", NULL };
	json_t *charts = json_object_get(object->views, "charts");
	if (!charts)
		return;
	if (!json_is_array(charts)) {
		error_at(ld, object->pos, "views.charts of '%s': expected a list of { title, group, measure, filter, by, "
		         "type }", object->name);
		return;
	}
	size_t i;
	json_t *chart;
	json_array_foreach(charts, i, chart) {
		if (!json_is_object(chart)) {
			error_at(ld, object->pos, "views.charts[%zu] of '%s': expected { title, group, measure, ... }", i,
			         object->name);
			continue;
		}
		const char *key;
		json_t *value;
		json_object_foreach(chart, key, value)
			if (!in_list(key, chart_keys))
				error_at(ld, object->pos, "views.charts[%zu] of '%s': unknown key '%s' (expected title, group, "
				         "measure, filter, by, type; see docs/metadata.md#views)", i, object->name, shown(ld, key));
		const char *group = json_string_value(json_object_get(chart, "group"));
		const struct meta_field *grouped = group ? meta_find_field(object, group) : NULL;
		if (!grouped)
			error_at(ld, object->pos, "views.charts[%zu] of '%s': 'group' must name a field of '%s'", i, object->name,
			         object->name);
		json_t *measure = json_object_get(chart, "measure");
		if (measure && !report_measure_ok(object, json_string_value(measure)))
			error_at(ld, object->pos, "views.charts[%zu] of '%s': 'measure' is count, sum(f), avg(f), min(f) or "
			         "max(f) of a number field, not '%s'", i, object->name,
			         json_is_string(measure) ? shown(ld, json_string_value(measure)) : "(not a text)");
		const char *filter = json_string_value(json_object_get(chart, "filter"));
		if (filter) {
			struct expr *e = NULL;
			char err[256];
			if (expr_parse(filter, &e, err, sizeof(err)) != CRM_OK) {
				error_at(ld, object->pos, "views.charts[%zu] of '%s': filter: %s", i, object->name, err);
			} else {
				char context[160];
				snprintf(context, sizeof(context), "views.charts[%zu] filter", i);
				struct path_check pc = {ld, object, object->pos, context, NULL, 0};
				expr_each_path(e, check_path, &pc);
			}
			expr_free(e);
		}
		const char *by = json_string_value(json_object_get(chart, "by"));
		if (json_object_get(chart, "by") && (!by || (strcmp(by, "year") && strcmp(by, "month") && strcmp(by, "day"))))
			error_at(ld, object->pos, "views.charts[%zu] of '%s': 'by' is year, month or day", i, object->name);
		else if (by && grouped && grouped->type != FIELD_DATE && grouped->type != FIELD_DATETIME)
			error_at(ld, object->pos, "views.charts[%zu] of '%s': 'by: %s' needs a date group, '%s' is %s", i,
			         object->name, by, grouped->name, meta_type_name(grouped->type));
		const char *type = json_string_value(json_object_get(chart, "type"));
		if (json_object_get(chart, "type") && (!type || strcmp(type, "bar") != 0))
			error_at(ld, object->pos, "views.charts[%zu] of '%s': 'type' is bar (the one chart the UI draws)", i,
			         object->name);
	}
}

/*
 * A geo field "x" keeps its point's numbers in the columns "x__lat" and
 * "x__lng" (store.c): a field of one of those names would be the same column.
 */
static void check_geo_columns(struct loader *ld, const struct meta_object *object)
{
	for (int i = 0; i < object->field_count; i++) {
		const struct meta_field *field = &object->fields[i];
		size_t length = strlen(field->name);
		if (length <= 5 || (strcmp(field->name + length - 5, "__lat") && strcmp(field->name + length - 5, "__lng")))
			continue;
		char base[64];
		snprintf(base, sizeof(base), "%.*s", (int)(length - 5), field->name);
		const struct meta_field *geo = meta_find_field(object, base);
		if (geo && geo->type == FIELD_GEO)
			error_at(ld, field->pos, "field '%s' is the column that keeps geo field '%s' as numbers: name it "
			         "otherwise", field->name, base);
	}
}

static void check_object(struct loader *ld, int object_index)
{
	const struct meta_object *object = &ld->meta->objects[object_index];
	const struct staged_object *so = &ld->staged[object_index];
	int count = object->field_count;
	check_geo_columns(ld, object);
	int **deps = xcalloc((size_t)count, sizeof(*deps));
	int *dep_counts = xcalloc((size_t)count, sizeof(*dep_counts));
	char context[128];

	for (int f = 0; f < count; f++) {
		const struct meta_field *field = &object->fields[f];
		if (field->type != FIELD_FORMULA || !field->formula_expr)
			continue;
		snprintf(context, sizeof(context), "formula '%s'", field->name);
		/* A formula cannot name more distinct fields than the object has. */
		struct path_check pc = {ld, object, so->field_aux[f].formula_pos, context, xmalloc((size_t)count * sizeof(int)), 0};
		expr_each_path(field->formula_expr, check_path, &pc);
		deps[f] = pc.deps;
		dep_counts[f] = pc.dep_count;
	}
	struct cycle_search cs = {ld, object, so->field_aux, deps, dep_counts, xcalloc((size_t)count, 1),
	                          xmalloc((size_t)count * sizeof(int)), 0};
	for (int f = 0; f < count; f++) {
		if (deps[f] && cs.state[f] == 0)
			visit_formula(&cs, f);
	}
	free(cs.state);
	free(cs.path);
	for (int f = 0; f < count; f++)
		free(deps[f]);
	free(deps);
	free(dep_counts);

	for (int f = 0; f < count; f++)
		check_currency(ld, object, &object->fields[f], &so->field_aux[f]);
	for (int r = 0; r < object->rule_count; r++) {
		const struct meta_rule *rule = &object->rules[r];
		if (rule->expr) {
			struct path_check pc = {ld, object, so->rule_aux[r].when_pos, "rule", NULL, 0};
			expr_each_path(rule->expr, check_path, &pc);
		}
		if (rule->field && !meta_find_field(object, rule->field))
			error_at(ld, so->rule_aux[r].field_pos, "unknown field '%s' in rule of object '%s'", rule->field,
			         object->name);
	}
	for (int x = 0; x < object->index_count; x++) {
		const struct meta_index *index = &object->indexes[x];
		for (int i = 0; i < index->field_count; i++) {
			const struct meta_field *field = meta_find_field(object, index->fields[i]);
			if (!field)
				error_at(ld, so->index_aux[x].field_pos[i], "unknown field '%s' in index of object '%s'",
				         index->fields[i], object->name);
			else if (!meta_field_stored(field))
				error_at(ld, so->index_aux[x].field_pos[i], "formula field '%s' cannot be indexed (it is not stored)",
				         field->name);
		}
	}
}

struct first_path {
	int count;
	const char *path;         /* borrowed from the expression */
};

static void note_path(void *arg, const char *path)
{
	struct first_path *first = arg;
	if (first->count++ == 0)
		first->path = path;
}

static bool ascii_equal_ignoring_case(const char *text, const char *word, size_t length)
{
	for (size_t i = 0; i < length; i++) {
		char c = text[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != word[i])
			return false;
	}
	return true;
}

/*
 * Every $user.<field> of an expression must be a field of the user object.
 * The AST keeps no list of them, so the source is scanned, skipping quoted
 * texts ('it''s'); expr_parse has already accepted it, so every $user. is
 * followed by a valid name.
 */
static void check_user_fields(struct loader *ld, const struct meta_access_rule *rule, const struct meta_object *user,
                              const char *context)
{
	for (const char *p = rule->text; *p; p++) {
		if (*p == '\'') {
			for (p++; *p && !(*p == '\'' && p[1] != '\''); p++) {
				if (*p == '\'')
					p++;   /* a doubled quote */
			}
			if (!*p)
				break;
			continue;
		}
		if (*p != '$' || !ascii_equal_ignoring_case(p + 1, "user.", 5))
			continue;
		const char *start = p + 6, *end = start;
		while ((*end >= 'a' && *end <= 'z') || (*end >= 'A' && *end <= 'Z') || (*end >= '0' && *end <= '9') ||
		       *end == '_')
			end++;
		char *name = xstrndup(start, (size_t)(end - start));
		if (!meta_find_field(user, name))
			error_at(ld, rule->pos, "unknown field '$user.%s' in %s (the 'user' object has no field '%s')",
			         shown(ld, name), context, shown(ld, name));
		free(name);
		p = end - 1;
	}
}

/* True if text is word, give or take surrounding white space. */
static bool is_only_word(const char *text, const char *word)
{
	size_t length = strlen(word);
	text += strspn(text, " \t\r\n");
	if (strncmp(text, word, length) != 0)
		return false;
	text += length;
	return text[strspn(text, " \t\r\n")] == '\0';
}

/*
 * An access expression is over the records of its object: paths start at
 * its fields. A single unknown word is most likely a mistyped level.
 */
static void check_access_expression(struct loader *ld, const struct meta_role *role, const struct meta_object *object,
                                    int op, const struct meta_access_rule *rule, const struct meta_object *user)
{
	char context[256];
	snprintf(context, sizeof(context), "'%s' of object '%s' in role '%s'", role_object_keys[op], object->name,
	         role->name);
	struct first_path first = {0, NULL};
	expr_each_path(rule->expr, note_path, &first);
	if (first.count == 1 && is_only_word(rule->text, first.path) && !meta_find_field(object, first.path)) {
		error_at(ld, rule->pos, "unknown level '%s' for %s (expected " LEVEL_WORDS " over the fields of '%s')",
		         shown(ld, first.path), context, object->name);
		return;
	}
	struct path_check pc = {ld, object, rule->pos, context, NULL, 0};
	expr_each_path(rule->expr, check_path, &pc);
	if (user)
		check_user_fields(ld, rule, user, context);
}

/* Points each home section at its object; its sort and fields must be fields of it (the filter is typed in check_types). */
static void resolve_role_home(struct loader *ld, struct meta_role *role)
{
	for (int s = 0; s < role->home_count; s++) {
		struct meta_home_section *section = &role->home[s];
		section->object = meta_find_object(ld->meta, section->object_name);
		if (!section->object) {
			error_at(ld, section->object_pos, "home section %d of role '%s': unknown object '%s'", s + 1, role->name,
			         shown(ld, section->object_name));
			continue;
		}
		const char *sort = section->sort;
		if (sort && !meta_find_field(section->object, sort[0] == '-' ? sort + 1 : sort))
			error_at(ld, section->sort_pos, "home section %d of role '%s': sort: '%s' has no field '%s' (write "
			         "field or -field)", s + 1, role->name, section->object->name, shown(ld, sort));
		for (int f = 0; f < section->field_count; f++)
			if (!meta_find_field(section->object, section->fields[f]))
				error_at(ld, section->field_pos[f], "home section %d of role '%s': fields: '%s' has no field '%s'",
				         s + 1, role->name, section->object->name, shown(ld, section->fields[f]));
	}
}

/* Points every role entry at its object and field, and checks the access expressions. */
static void resolve_roles(struct loader *ld)
{
	struct meta *meta = ld->meta;
	const struct meta_object *user = meta_find_object(meta, "user");
	merge_role_extensions(ld);
	for (int r = 0; r < meta->role_count; r++) {
		struct meta_role *role = &meta->roles[r];
		const struct role_aux *aux = &ld->role_aux[r];
		/* navigation names modules (an object's `module:`) or objects */
		for (int i = 0; i < role->navigation_count; i++) {
			bool known = meta_find_object(meta, role->navigation[i]) != NULL;
			for (int o = 0; o < meta->object_count && !known; o++)
				known = meta->objects[o].module && strcmp(meta->objects[o].module, role->navigation[i]) == 0;
			if (!known)
				error_at(ld, role->pos, "navigation of role '%s': '%s' is neither a module nor an object", role->name,
				         shown(ld, role->navigation[i]));
		}
		resolve_role_home(ld, role);
		for (int i = 0; i < role->object_count; i++) {
			struct meta_role_object *entry = &role->objects[i];
			entry->object = meta_find_object(meta, aux->object_names[i]);
			if (!entry->object) {
				error_at(ld, aux->object_pos[i], "unknown object '%s' in role '%s'", shown(ld, aux->object_names[i]),
				         role->name);
				continue;
			}
			for (int op = 0; op < ACCESS_OP_COUNT; op++) {
				if (entry->ops[op].expr)
					check_access_expression(ld, role, entry->object, op, &entry->ops[op], user);
			}
		}
		for (int i = 0; i < role->field_count; i++) {
			struct meta_role_field *entry = &role->fields[i];
			const char *key = aux->field_keys[i], *dot = strchr(key, '.');
			char *object_name = xstrndup(key, (size_t)(dot - key));
			entry->object = meta_find_object(meta, object_name);
			if (!entry->object)
				error_at(ld, aux->field_pos[i], "unknown object '%s' in role '%s'", object_name, role->name);
			else if (!(entry->field = meta_find_field(entry->object, dot + 1)))
				error_at(ld, aux->field_pos[i], "unknown field '%s' on object '%s' in role '%s'", dot + 1,
				         object_name, role->name);
			free(object_name);
		}
	}
}

static bool is_state(const struct meta_field *field, const char *state)
{
	return in_values(field, state);
}

/* "$record.x", "$created.o", "$me", "$now", "$today": known references; other texts are literals. */
static void check_value_reference(struct loader *ld, const struct meta_workflow *wf, json_t *value,
                                  struct meta_pos pos, const char *context)
{
	const char *text = json_string_value(value);
	if (!text || text[0] != '$')
		return;
	if (!strncmp(text, "$record.", 8)) {
		if (!meta_find_field(wf->object, text + 8))
			error_at(ld, pos, "unknown field '%s' on object '%s' in '%s' (%s)", shown(ld, text + 8), wf->object->name,
			         shown(ld, text), context);
	} else if (!strncmp(text, "$created.", 9)) {
		if (!meta_find_object(ld->meta, text + 9))
			error_at(ld, pos, "unknown object '%s' in '%s' (%s)", shown(ld, text + 9), shown(ld, text), context);
	} else if (strcmp(text, "$me") && strcmp(text, "$now") && strcmp(text, "$today")) {
		error_at(ld, pos, "unknown reference '%s' (%s; expected $record.<field>, $created.<object>, $me, $now or "
		         "$today)", shown(ld, text), context);
	}
}

static void check_value_fields(struct loader *ld, const struct meta_workflow *wf, const struct meta_object *object,
                               json_t *values, struct meta_pos pos, const char *context)
{
	const char *key;
	json_t *value;
	json_object_foreach(values, key, value) {
		const struct meta_field *field = meta_find_field(object, key);
		if (!field)
			error_at(ld, pos, "unknown field '%s' on object '%s' (%s)", shown(ld, key), object->name, context);
		else if (field->system && strcmp(key, "owner") != 0)
			error_at(ld, pos, "'%s' is a system field and cannot be set (%s)", key, context);
		else if (object == wf->object && !strcmp(key, wf->field_name))
			error_at(ld, pos, "'%s' is the workflow's state field: only a transition's 'to' moves it (%s)", key,
			         context);
		check_value_reference(ld, wf, value, pos, context);
	}
}

/*
 * A timer's { transition: name }: a transition of the same workflow, one
 * that fires without an approval (nobody would be the requester).
 */
static void check_timer_transition(struct loader *ld, const struct meta_workflow *wf,
                                   const struct meta_workflow_action *action, bool in_timer, const char *context)
{
	if (!in_timer) {
		error_at(ld, action->pos, "only a timer's 'do' fires a transition: a transition's 'do' cannot fire another "
		         "(%s)", context);
		return;
	}
	const struct meta_transition *t = meta_find_transition(wf, action->transition);
	if (!t) {
		struct strbuf names = { 0 };
		for (int i = 0; i < wf->transition_count; i++)
			strbuf_printf(&names, "%s%s", i ? ", " : "", wf->transitions[i].name);
		error_at(ld, action->pos, "unknown transition '%s' in workflow '%s' (%s; its transitions: %s)",
		         shown(ld, action->transition), wf->name, context, names.len ? names.data : "none");
		strbuf_free(&names);
	} else if (t->approval) {
		error_at(ld, action->pos, "transition '%s' needs an approval: a timer cannot fire it (%s)", t->name, context);
	}
}

static void check_actions(struct loader *ld, const struct meta_workflow *wf, const struct meta_workflow_action *actions,
                          int count, bool in_timer, const char *context)
{
	struct meta *meta = ld->meta;
	for (int i = 0; i < count; i++) {
		const struct meta_workflow_action *action = &actions[i];
		const struct meta_object *target;
		switch (action->kind) {
		case WORKFLOW_ACTION_TRANSITION:
			check_timer_transition(ld, wf, action, in_timer, context);
			break;
		case WORKFLOW_ACTION_PLUGIN: {
			const char *dot = strchr(action->plugin_action, '.');
			bool known = false;
			for (int p = 0; p < meta->plugin_count; p++)
				known = known || (strlen(meta->plugins[p].name) == (size_t)(dot - action->plugin_action) &&
				                  !strncmp(meta->plugins[p].name, action->plugin_action, (size_t)(dot - action->plugin_action)));
			if (!known)
				error_at(ld, action->pos, "action '%s' names no enabled plugin (%s; app.yaml 'plugins:' lists the "
				         "plugins)", shown(ld, action->plugin_action), context);
			break;
		}
		case WORKFLOW_ACTION_SET:
			check_value_fields(ld, wf, wf->object, action->values, action->pos, context);
			break;
		case WORKFLOW_ACTION_CREATE:
			target = meta_find_object(meta, action->object);
			if (!target) {
				error_at(ld, action->pos, "unknown object '%s' in create action (%s)", shown(ld, action->object), context);
				break;
			}
			check_value_fields(ld, wf, target, action->values, action->pos, context);
			if (action->link) {
				const struct meta_field *link = meta_find_field(wf->object, action->link);
				if (!link || link->type != FIELD_REF || link->target != target)
					error_at(ld, action->pos, "link '%s' must be a ref field of '%s' to '%s' (%s)", shown(ld, action->link),
					         wf->object->name, target->name, context);
			}
			if (action->owner && strcmp(action->owner, "record") != 0 && strcmp(action->owner, "caller") != 0) {
				const struct meta_field *owner = meta_find_field(wf->object, action->owner);
				if (!owner || owner->type != FIELD_USER)
					error_at(ld, action->pos, "owner '%s' must be record, caller or a user field of '%s' (%s)",
					         shown(ld, action->owner), wf->object->name, context);
			}
			break;
		case WORKFLOW_ACTION_NOTIFY: {
			if (action->email || action->template_name) {
				/* by e-mail: to the user's email field, with a template about this object (outbox.c) */
				const struct meta_template *t = meta_find_template(meta, action->template_name);
				const struct meta_field *email = meta_find_field(meta_find_object(meta, "user"), "email");
				if (!action->email || !action->template_name)
					error_at(ld, action->pos, "notify: 'channel: email' and 'template' go together (%s)", context);
				else if (!t)
					error_at(ld, action->pos, "notify: no template '%s' (%s)", shown(ld, action->template_name), context);
				else if (strcmp(t->channel, "email") != 0)
					error_at(ld, action->pos, "notify: template '%s' is a %s template, not an e-mail one (%s)", t->name,
					         t->channel, context);
				else if (t->object_name && strcmp(t->object_name, wf->object->name) != 0)
					error_at(ld, action->pos, "notify: template '%s' is about '%s', not '%s' (%s)", t->name,
					         t->object_name, wf->object->name, context);
				else if (t->var_count)
					error_at(ld, action->pos, "notify: template '%s' has vars, which a workflow cannot give (%s)",
					         t->name, context);
				if (!email || email->type != FIELD_EMAIL)
					error_at(ld, action->pos, "notify by e-mail needs an 'email' field of type email on 'user' (%s)",
					         context);
				if (!meta_find_object(meta, "outbox_message"))
					error_at(ld, action->pos, "notify by e-mail needs the 'outbox_message' object (%s)", context);
				if (!strcmp(action->notify, "manager") && !meta_find_field(meta_find_object(meta, "user"), "manager"))
					error_at(ld, action->pos, "notify: manager needs a 'manager' field on the 'user' object (%s)",
					         context);
				break;
			}
			const struct meta_object *notification = meta_find_object(meta, "notification");
			if (!notification || !meta_find_field(notification, "user") || !meta_find_field(notification, "title"))
				error_at(ld, action->pos, "notify needs a 'notification' object with 'user' and 'title' fields (%s)",
				         context);
			if (!strcmp(action->notify, "manager") && !meta_find_field(meta_find_object(meta, "user"), "manager"))
				error_at(ld, action->pos, "notify: manager needs a 'manager' field on the 'user' object (%s)", context);
			break;
		}
		}
	}
}

static void check_workflow_expression(struct loader *ld, const struct meta_workflow *wf, const struct expr *e,
                                      struct meta_pos pos, const char *context)
{
	if (!e)
		return;
	struct path_check pc = {ld, wf->object, pos, context, NULL, 0};
	expr_each_path(e, check_path, &pc);
}

/* A field of the workflow's object of type type named at pos by key, or an error. */
static void check_clock_field(struct loader *ld, const struct meta_workflow *wf, const char *name, struct meta_pos pos,
                              const char *key, enum field_type type, const char *context)
{
	const struct meta_field *field = meta_find_field(wf->object, name);
	if (!field)
		error_at(ld, pos, "unknown field '%s' of object '%s' for '%s' in %s", name, wf->object->name, key, context);
	else if (field->type != type)
		error_at(ld, pos, "'%s' of %s needs a %s field, and '%s' is a %s field", key, context, meta_type_name(type),
		         name, meta_type_name(field->type));
}

/*
 * A timer's clock: due a datetime field; pause_when with paused_since (a
 * datetime field) and paused_minutes (an int field); calendar a calendar:
 * document. Each key needs the others it works with.
 */
static void check_timer_clock(struct loader *ld, const struct meta_workflow *wf, const struct meta_timer *timer,
                              const char *context)
{
	if (timer->due)
		check_clock_field(ld, wf, timer->due, timer->due_pos, "due", FIELD_DATETIME, context);
	if (timer->paused_since)
		check_clock_field(ld, wf, timer->paused_since, timer->paused_since_pos, "paused_since", FIELD_DATETIME,
		                  context);
	if (timer->paused_minutes)
		check_clock_field(ld, wf, timer->paused_minutes, timer->paused_minutes_pos, "paused_minutes", FIELD_INT,
		                  context);
	if (timer->calendar && !meta_find_calendar(ld->meta, timer->calendar)) {
		struct strbuf known = { 0 };
		for (int i = 0; i < ld->meta->calendar_count; i++)
			strbuf_printf(&known, "%s%s", i ? ", " : "", ld->meta->calendars[i].name);
		error_at(ld, timer->calendar_pos, "unknown calendar '%s' in %s (%s%s)", timer->calendar, context,
		         known.len ? "defined: " : "no calendar: document defines one", known.len ? known.data : "");
		strbuf_free(&known);
	}
	if (timer->pause_expr) {
		check_workflow_expression(ld, wf, timer->pause_expr, timer->pause_pos, context);
		if (!timer->due || !timer->paused_since || !timer->paused_minutes)
			error_at(ld, timer->pause_pos, "'pause_when' of %s needs 'due' (the deadline it pushes), 'paused_since' "
			         "and 'paused_minutes' (the fields that record the pause)", context);
	} else if (timer->paused_since || timer->paused_minutes) {
		error_at(ld, timer->paused_since ? timer->paused_since_pos : timer->paused_minutes_pos,
		         "'paused_since' and 'paused_minutes' of %s record a pause: they need 'pause_when'", context);
	}
	if (timer->calendar && !timer->due)
		error_at(ld, timer->calendar_pos, "'calendar' of %s counts a clock's paused time: it needs 'due'", context);
}

/* Marks the states reachable from the initial one; warns about the others. */
static void check_reachable(struct loader *ld, const struct meta_workflow *wf)
{
	const struct meta_field *field = wf->field;
	if (wf->transition_count == 0)
		return;   /* a workflow that only fixes the initial state (and maybe runs timers) */
	bool *reached = xcalloc((size_t)field->value_count, sizeof(*reached));
	for (int v = 0; v < field->value_count; v++)
		reached[v] = !strcmp(field->values[v], wf->initial);
	for (bool changed = true; changed;) {
		changed = false;
		for (int t = 0; t < wf->transition_count; t++) {
			const struct meta_transition *tr = &wf->transitions[t];
			bool from_reached = false;
			for (int v = 0; v < field->value_count && !from_reached; v++)
				from_reached = reached[v] && meta_transition_leaves(wf, tr, field->values[v]);
			for (int v = 0; from_reached && tr->to && v < field->value_count; v++) {
				if (!reached[v] && !strcmp(field->values[v], tr->to)) {
					reached[v] = true;
					changed = true;
				}
			}
		}
	}
	for (int v = 0; v < field->value_count; v++)
		if (!reached[v])
			warning_at(ld, wf->field_pos, "state '%s' of workflow '%s' cannot be reached from '%s'", field->values[v],
			           wf->name, wf->initial);
	free(reached);
}

/* A path of refs from object ending at a user field (an approver field:<path>). */
static void check_user_path(struct loader *ld, const struct meta_object *object, const char *path,
                            struct meta_pos pos, const char *context)
{
	char *copy = xstrdup(path);
	const struct meta_object *at = object;
	char *save = NULL;
	for (char *part = strtok_r(copy, ".", &save); part; part = strtok_r(NULL, ".", &save)) {
		const struct meta_field *field = at ? meta_find_field(at, part) : NULL;
		bool last = save == NULL || *save == '\0';
		if (!field) {
			error_at(ld, pos, "approver field:%s: '%s' has no field '%s' (%s)", shown(ld, path),
			         at ? at->name : "?", shown(ld, part), context);
			break;
		}
		bool user = field->type == FIELD_USER || (field->type == FIELD_REF && field->target
		                                           && strcmp(field->target->name, "user") == 0);
		if (last && !user)
			error_at(ld, pos, "approver field:%s: '%s' is %s, not a user field (%s)", shown(ld, path), field->name,
			         meta_type_name(field->type), context);
		if (!last && field->type != FIELD_REF && field->type != FIELD_USER) {
			error_at(ld, pos, "approver field:%s: '%s' is not a reference (%s)", shown(ld, path), field->name, context);
			break;
		}
		at = field->target;
	}
	free(copy);
}

static void resolve_workflow(struct loader *ld, struct meta_workflow *wf, int index)
{
	struct meta *meta = ld->meta;
	char context[200];
	wf->object = meta_find_object(meta, wf->object_name);
	if (!wf->object) {
		error_at(ld, wf->object_pos, "unknown object '%s' in workflow '%s'", shown(ld, wf->object_name), wf->name);
		return;
	}
	if (wf->object->append_only) {
		error_at(ld, wf->object_pos, "workflow '%s' cannot move append-only object '%s': its records never change",
		         wf->name, wf->object->name);
		return;
	}
	wf->field = meta_find_field(wf->object, wf->field_name);
	if (!wf->field) {
		error_at(ld, wf->field_pos, "unknown field '%s' on object '%s' in workflow '%s'", shown(ld, wf->field_name),
		         wf->object->name, wf->name);
		return;
	}
	if (wf->field->type != FIELD_ENUM) {
		error_at(ld, wf->field_pos, "the state field '%s' of workflow '%s' must be an enum, not %s", wf->field->name,
		         wf->name, meta_type_name(wf->field->type));
		wf->field = NULL;
		return;
	}
	for (int i = 0; i < index; i++) {
		const struct meta_workflow *other = &meta->workflows[i];
		if (other->field == wf->field)
			error_at(ld, wf->pos, "field '%s.%s' is already moved by workflow '%s' (%s:%d:%d)", wf->object->name,
			         wf->field->name, other->name, other->pos.file, other->pos.line, other->pos.column);
	}
	const struct meta_field *field = wf->field;
	if (field->value_count == 0)
		return; /* an enum without values is reported already; there are no states to check */
	if (wf->initial && !is_state(field, wf->initial))
		error_at(ld, wf->initial_pos, "unknown state '%s' for 'initial' of workflow '%s' (not a value of '%s')",
		         wf->initial, wf->name, field->name);
	if (!wf->initial)
		wf->initial = xstrdup(json_is_string(field->default_value) ? json_string_value(field->default_value)
		                                                            : field->values[0]);
	for (int i = 0; i < wf->terminal_count; i++)
		if (!is_state(field, wf->terminal[i]))
			error_at(ld, wf->pos, "unknown state '%s' in 'terminal' of workflow '%s'", wf->terminal[i], wf->name);
	for (int t = 0; t < wf->transition_count; t++) {
		struct meta_transition *tr = &wf->transitions[t];
		snprintf(context, sizeof(context), "transition '%s' of workflow '%s'", tr->name, wf->name);
		for (int o = 0; o < t; o++)
			if (!strcmp(wf->transitions[o].name, tr->name))
				error_at(ld, tr->pos, "duplicate transition '%s' in workflow '%s'", tr->name, wf->name);
		for (int f = 0; f < tr->from_count; f++) {
			if (!is_state(field, tr->from[f]))
				error_at(ld, tr->pos, "unknown state '%s' in 'from' of %s", tr->from[f], context);
			for (int x = 0; x < wf->terminal_count; x++)
				if (!strcmp(tr->from[f], wf->terminal[x]))
					error_at(ld, tr->pos, "%s leaves '%s', a terminal state", context, tr->from[f]);
		}
		if (!tr->from_any && tr->from_count == 0)
			error_at(ld, tr->pos, "%s has no 'from' state", context);
		if (tr->to && !is_state(field, tr->to))
			error_at(ld, tr->pos, "unknown state '%s' in 'to' of %s", tr->to, context);
		if (!tr->to)
			error_at(ld, tr->pos, "%s has no 'to' state", context);
		for (int r = 0; r < tr->require_count; r++)
			if (!meta_find_field(wf->object, tr->require[r]))
				error_at(ld, tr->pos, "unknown field '%s' in 'require' of %s", tr->require[r], context);
		for (int r = 0; r < tr->role_count; r++)
			if (!meta_find_role(meta, tr->roles[r]))
				error_at(ld, tr->pos, "unknown role '%s' in 'roles' of %s", tr->roles[r], context);
		check_workflow_expression(ld, wf, tr->when_expr, tr->when_pos, context);
		check_actions(ld, wf, tr->actions, tr->action_count, false, context);
		if (tr->approval) {
			const struct meta_object *approval_object = meta_find_object(meta, "approval");
			check_workflow_expression(ld, wf, tr->approval->when_expr, tr->approval->pos, context);
			if (!approval_object || !meta_find_field(approval_object, "approver") ||
			    !meta_find_field(approval_object, "status"))
				error_at(ld, tr->approval->pos, "an approval needs an 'approval' object (see metadata/approval.yaml) (%s)",
				         context);
			for (int s = 0; s < tr->approval->step_count; s++) {
				const struct meta_approval_step *step = &tr->approval->steps[s];
				for (int a = 0; a < step->approver_count; a++) {
					const struct meta_approver *approver = &step->approvers[a];
					if ((approver->kind == APPROVER_ROLE || approver->kind == APPROVER_ROLE_IN_OWNER_TEAM)
					    && !meta_find_role(meta, approver->name))
						error_at(ld, tr->approval->pos, "unknown role '%s' in the approvers of %s",
						         approver->name, context);
					if (approver->kind == APPROVER_FIELD)
						check_user_path(ld, wf->object, approver->name, tr->approval->pos, context);
				}
			}
		}
	}
	for (int t = 0; t < wf->timer_count; t++) {
		struct meta_timer *timer = &wf->timers[t];
		snprintf(context, sizeof(context), "timer '%s' of workflow '%s'", timer->name, wf->name);
		for (int o = 0; o < t; o++)
			if (!strcmp(wf->timers[o].name, timer->name))
				error_at(ld, timer->pos, "duplicate timer '%s' in workflow '%s'", timer->name, wf->name);
		check_workflow_expression(ld, wf, timer->when_expr, timer->when_pos, context);
		check_actions(ld, wf, timer->actions, timer->action_count, true, context);
		check_timer_clock(ld, wf, timer, context);
	}
	check_reachable(ld, wf);
}

static void resolve_workflows(struct loader *ld)
{
	for (int i = 0; i < ld->meta->workflow_count; i++)
		resolve_workflow(ld, &ld->meta->workflows[i], i);
}

/* $user.<field> defaults name a field of the user object, of a type the field can hold. */
static void check_defaults(struct loader *ld)
{
	struct meta *meta = ld->meta;
	const struct meta_object *user = meta_find_object(meta, "user");
	for (int o = 0; o < meta->object_count; o++) {
		for (int f = 0; f < meta->objects[o].field_count; f++) {
			const struct meta_field *field = &meta->objects[o].fields[f];
			if (field->default_kind != DEFAULT_USER_FIELD)
				continue;
			const struct meta_field *source = user ? meta_find_field(user, field->default_user_field) : NULL;
			if (!source)
				error_at(ld, field->pos, "default of '%s.%s': the 'user' object has no field '%s'",
				         meta->objects[o].name, field->name, shown(ld, field->default_user_field));
			else if (meta_field_kind(source) != meta_field_kind(field)
			         || ((field->type == FIELD_REF || field->type == FIELD_USER) && source->target != field->target))
				error_at(ld, field->pos, "default of '%s.%s': $user.%s is %s, '%s' is %s", meta->objects[o].name,
				         field->name, source->name, meta_type_name(source->type), field->name,
				         meta_type_name(field->type));
		}
	}
}

/* Types one expression over object (expr_check); a refusal is reported at pos. */
static void check_expression_types(struct loader *ld, struct expr *e, const struct meta_object *object,
                                   struct meta_pos pos)
{
	char err[256];
	if (e && object && expr_check(e, ld->meta, object, err, sizeof(err)) != CRM_OK)
		error_at(ld, pos, "invalid expression: %s", err);
}

/*
 * Stage 4, once the model resolved without an error (formulas are inlined
 * as they are typed, so their paths and cycles must be sound): every
 * expression is typed over its object as the SQL compiler types it, so that
 * `close_date * 2` or `today() + 'x'` is refused here rather than by every
 * query or create that meets it.
 */
static void check_types(struct loader *ld)
{
	struct meta *meta = ld->meta;
	for (int o = 0; o < meta->object_count; o++) {
		struct meta_object *object = &meta->objects[o];
		const struct staged_object *so = &ld->staged[o];
		for (int f = 0; f < object->field_count; f++) {
			struct meta_field *field = &object->fields[f];
			check_expression_types(ld, field->formula_expr, object, so->field_aux[f].formula_pos);
			check_expression_types(ld, field->rollup_where_expr, field->rollup_child, so->field_aux[f].where_pos);
		}
		for (int r = 0; r < object->rule_count; r++)
			check_expression_types(ld, object->rules[r].expr, object, so->rule_aux[r].when_pos);
		size_t i;
		json_t *section;
		json_array_foreach(json_object_get(object->views, "home"), i, section) {
			const char *filter = json_string_value(json_object_get(section, "filter"));
			struct expr *e = NULL;
			char err[256];
			if (filter && expr_parse(filter, &e, err, sizeof(err)) == CRM_OK
			    && expr_check(e, meta, object, err, sizeof(err)) != CRM_OK)
				error_at(ld, object->pos, "views.home[%zu] of '%s': filter: %s", i, object->name, err);
			expr_free(e);
		}
	}
	for (int r = 0; r < meta->role_count; r++) {
		struct meta_role *role = &meta->roles[r];
		for (int i = 0; i < role->object_count; i++) {
			for (int op = 0; op < ACCESS_OP_COUNT; op++)
				check_expression_types(ld, role->objects[i].ops[op].expr, role->objects[i].object,
				                       role->objects[i].ops[op].pos);
		}
		for (int s = 0; s < role->home_count; s++)
			if (role->home[s].object)
				check_expression_types(ld, role->home[s].filter_expr, role->home[s].object, role->home[s].filter_pos);
	}
	for (int w = 0; w < meta->workflow_count; w++) {
		struct meta_workflow *wf = &meta->workflows[w];
		for (int t = 0; t < wf->transition_count; t++) {
			struct meta_transition *tr = &wf->transitions[t];
			check_expression_types(ld, tr->when_expr, wf->object, tr->when_pos);
			if (tr->approval)
				check_expression_types(ld, tr->approval->when_expr, wf->object, tr->approval->pos);
		}
		for (int t = 0; t < wf->timer_count; t++) {
			check_expression_types(ld, wf->timers[t].when_expr, wf->object, wf->timers[t].when_pos);
			check_expression_types(ld, wf->timers[t].pause_expr, wf->object, wf->timers[t].pause_pos);
		}
	}
}

static bool kpi_user_field(const struct meta_field *f)
{
	return f && (f->type == FIELD_USER || (f->type == FIELD_REF && f->to && !strcmp(f->to, "user")));
}

static bool kpi_date_field(const struct meta_field *f)
{
	return f && (f->type == FIELD_DATE || f->type == FIELD_DATETIME);
}

/* A formula's names: each the name of another kpi. */
struct kpi_names {
	struct loader *ld;
	const struct meta_kpi *kpi;
	int bad;
};

static void kpi_check_name(void *arg, const char *path)
{
	struct kpi_names *names = arg;
	const struct meta_kpi *input = meta_find_kpi(names->ld->meta, path);
	if (!input || input == names->kpi) {
		error_at(names->ld, names->kpi->formula_pos, "kpi '%s': formula: '%s' is %s", names->kpi->name,
		         shown(names->ld, path), input ? "the kpi itself" : "not a kpi");
		names->bad++;
	}
}

struct kpi_uses {
	const char *name;
	bool found;
};

static void kpi_uses_name(void *arg, const char *path)
{
	struct kpi_uses *uses = arg;
	if (!strcmp(uses->name, path))
		uses->found = true;
}

/*
 * A kpi measure beyond the report measures: count_distinct(f) of any field
 * and retention(f) (the percent of the previous period's distinct f that
 * come back in this one), f a field of object; NULL when it is neither.
 */
static const struct meta_field *kpi_distinct_measure(const struct meta_object *object, const char *measure)
{
	size_t length = strlen(measure);
	size_t open = !strncmp(measure, "count_distinct(", 15) ? 15 : !strncmp(measure, "retention(", 10) ? 10 : 0;
	if (!open || length <= open + 1 || measure[length - 1] != ')')
		return NULL;
	char *name = xstrndup(measure + open, length - open - 1);
	const struct meta_field *f = meta_find_field(object, name);
	free(name);
	return f;
}

/* Walks the formula kpis from i (state: 0 new, 1 on the walk, 2 done): false (and an error) on a loop. */
static bool kpi_formula_acyclic(struct loader *ld, int i, char *state)
{
	if (state[i] != 0)
		return state[i] == 2;
	const struct meta_kpi *k = &ld->meta->kpis[i];
	state[i] = 1;
	bool ok = true;
	for (int j = 0; ok && j < ld->meta->kpi_count; j++) {
		const struct meta_kpi *input = &ld->meta->kpis[j];
		struct kpi_uses uses = { input->name, false };
		if (j != i && input->source == KPI_SOURCE_FORMULA)
			expr_each_path(k->formula_expr, kpi_uses_name, &uses);
		if (uses.found && !kpi_formula_acyclic(ld, j, state)) {
			error_at(ld, k->formula_pos, "kpi '%s': its formula reaches itself through '%s'", k->name, input->name);
			ok = false;
		}
	}
	state[i] = 2;   /* reported once: the kpis that use it do not repeat the loop */
	return ok;
}

/* A formula kpi's names: each another kpi (not itself), no loops; the evaluation model's other keys. */
static void resolve_kpi_model(struct loader *ld, struct meta_kpi *k, char *state)
{
	for (int d = 0; d < k->dashboard_count; d++)
		if (!meta_find_role(ld->meta, k->dashboard_roles[d]))
			error_at(ld, k->dashboards_pos, "kpi '%s': dashboards: no role '%s'", k->name, shown(ld,
			         k->dashboard_roles[d]));
	if (k->source == KPI_SOURCE_AUDIT) {
		static const char *const measures[] = {
			"count", "count_distinct(user)", "count_distinct(record)", "count_distinct(object)", NULL,
		};
		if (!in_list(k->measure, measures))
			error_at(ld, k->measure_pos.line ? k->measure_pos : k->source_pos, "kpi '%s': the audit trail's measure "
			         "is count, count_distinct(user), count_distinct(record) or count_distinct(object), not '%s'",
			         k->name, shown(ld, k->measure));
		return;
	}
	if (k->source != KPI_SOURCE_FORMULA)
		return;
	struct kpi_names names = { ld, k, 0 };
	expr_each_path(k->formula_expr, kpi_check_name, &names);
	if (names.bad == 0)
		kpi_formula_acyclic(ld, (int)(k - ld->meta->kpis), state);
}

/* Every kpi against the objects: its fields exist with the right types, its measure and filter are sound. */
static void resolve_kpis(struct loader *ld)
{
	char *state = xcalloc((size_t)ld->meta->kpi_count + 1, 1);
	for (int i = 0; i < ld->meta->kpi_count; i++) {
		struct meta_kpi *k = &ld->meta->kpis[i];
		resolve_kpi_model(ld, k, state);
		if (k->source != KPI_SOURCE_RECORDS)
			continue;
		k->object = meta_find_object(ld->meta, k->object_name);
		if (!k->object) {
			error_at(ld, k->object_pos, "kpi '%s': no object '%s'", k->name, shown(ld, k->object_name));
			continue;
		}
		k->date_field = meta_find_field(k->object, k->date_name);
		if (!kpi_date_field(k->date_field))
			error_at(ld, k->date_pos, "kpi '%s': 'date' must be a date or datetime field of '%s', not '%s'", k->name,
			         k->object->name, shown(ld, k->date_name));
		k->owner_field = meta_find_field(k->object, k->owner_name);
		if (!kpi_user_field(k->owner_field))
			error_at(ld, k->owner_pos.line ? k->owner_pos : k->pos, "kpi '%s': 'owner' must be a user field of '%s', "
			         "not '%s'", k->name, k->object->name, shown(ld, k->owner_name));
		if (!report_measure_ok(k->object, k->measure) && !kpi_distinct_measure(k->object, k->measure))
			error_at(ld, k->measure_pos, "kpi '%s': 'measure' is count, sum(f), avg(f), min(f) or max(f) of a "
			         "number field, count_distinct(f) or retention(f) of a field of '%s', not '%s'", k->name,
			         k->object->name, shown(ld, k->measure));
		else if (k->per_day && !strncmp(k->measure, "retention(", 10))
			error_at(ld, k->measure_pos, "kpi '%s': retention compares two periods: it has no 'per: day'", k->name);
		if (k->filter_expr) {
			char context[128];
			snprintf(context, sizeof(context), "filter of kpi '%s'", k->name);
			struct path_check pc = {ld, k->object, k->filter_pos, context, NULL, 0};
			expr_each_path(k->filter_expr, check_path, &pc);
		}
		if (!k->target_object_name)
			continue;
		k->target_object = meta_find_object(ld->meta, k->target_object_name);
		if (!k->target_object) {
			error_at(ld, k->target_pos, "kpi '%s': target: no object '%s'", k->name, shown(ld, k->target_object_name));
			continue;
		}
		k->target_field = meta_find_field(k->target_object, k->target_field_name);
		k->target_date = meta_find_field(k->target_object, k->target_date_name);
		k->target_owner = meta_find_field(k->target_object, k->target_owner_name ? k->target_owner_name : "owner");
		enum value_kind kind = k->target_field ? meta_field_kind(k->target_field) : KIND_TEXT;
		if (kind != KIND_INT && kind != KIND_REAL)
			error_at(ld, k->target_pos, "kpi '%s': target field '%s' must be a number field of '%s'", k->name,
			         shown(ld, k->target_field_name), k->target_object->name);
		if (!kpi_date_field(k->target_date))
			error_at(ld, k->target_pos, "kpi '%s': target date '%s' must be a date field of '%s'", k->name,
			         shown(ld, k->target_date_name), k->target_object->name);
		if (!kpi_user_field(k->target_owner))
			error_at(ld, k->target_pos, "kpi '%s': target owner must be a user field of '%s'", k->name,
			         k->target_object->name);
	}
	free(state);
}

/*
 * The last field of path over object (every hop a ref or user field, at most
 * EXPR_MAX_PATH), or NULL after an error at pos naming what.
 */
static const struct meta_field *report_path(struct loader *ld, const struct meta_object *object, const char *path,
                                            struct meta_pos pos, const char *what)
{
	char *copy = xstrdup(path), *segment = copy;
	const struct meta_field *field = NULL;
	for (int hops = 0;; hops++) {
		char *dot = strchr(segment, '.');
		if (dot)
			*dot = '\0';
		field = crm_valid_name(segment) ? meta_find_field(object, segment) : NULL;
		if (!field) {
			error_at(ld, pos, "%s: no field '%s' on '%s' (path '%s')", what, shown(ld, segment), object->name,
			         shown(ld, path));
			break;
		}
		if (!dot)
			break;
		if (hops == EXPR_MAX_PATH || (field->type != FIELD_REF && field->type != FIELD_USER) || !field->target) {
			error_at(ld, pos, "%s: cannot follow '%s' in '%s' (not a ref, or more than %d hops)", what, field->name,
			         shown(ld, path), EXPR_MAX_PATH);
			field = NULL;
			break;
		}
		object = field->target;
		segment = dot + 1;
	}
	free(copy);
	return field;
}

/* An expression of a report over object: its paths exist and it types as the compiler types it. */
static void report_expression(struct loader *ld, struct expr *e, const struct meta_object *object,
                              struct meta_pos pos, const char *context)
{
	if (!e)
		return;
	int before = ld->diags->error_count;
	struct path_check pc = { ld, object, pos, context, NULL, 0 };
	expr_each_path(e, check_path, &pc);
	if (ld->diags->error_count == before)
		check_expression_types(ld, e, object, pos);
}

/* Joins: their start, object and ref; a join that starts from itself through others is a loop. */
static void resolve_report_joins(struct loader *ld, struct meta_report *r)
{
	for (int i = 0; i < r->join_count; i++) {
		struct meta_report_join *j = &r->joins[i];
		j->from = -1;
		if (meta_find_field(r->object, j->name))
			error_at(ld, j->pos, "report '%s': join '%s' has the name of a field of '%s' (a measure's path would "
			         "be ambiguous)", r->name, j->name, r->object->name);
		for (int k = 0; k < i; k++)
			if (!strcmp(r->joins[k].name, j->name))
				error_at(ld, j->pos, "report '%s': join '%s' is defined twice", r->name, j->name);
		if (!j->from_name)
			continue;
		for (int k = 0; k < r->join_count; k++)
			if (!strcmp(r->joins[k].name, j->from_name))
				j->from = k;
		if (j->from < 0) {
			error_at(ld, j->pos, "report '%s': join '%s' starts from '%s', which is no join of the report", r->name,
			         j->name, shown(ld, j->from_name));
			j->from = -2;
		}
	}
	for (int i = 0; i < r->join_count; i++) {
		int at = i, steps = 0;
		while (at >= 0 && steps <= r->join_count) {
			at = r->joins[at].from;
			steps++;
		}
		if (steps > r->join_count) {
			struct strbuf chain = { 0 };
			at = i;
			for (int k = 0; k <= r->join_count && (k == 0 || at != i); k++, at = r->joins[at].from)
				strbuf_printf(&chain, "%s -> ", r->joins[at].name);
			strbuf_puts(&chain, r->joins[i].name);
			error_at(ld, r->joins[i].pos, "report '%s': joins loop: %s (a join starts from the root or an "
			         "earlier step)", r->name, chain.data);
			strbuf_free(&chain);
			return;
		}
	}
	/* objects in the order of the chains: a join's start is resolved before it */
	for (int pass = 0; pass <= r->join_count; pass++) {
		for (int i = 0; i < r->join_count; i++) {
			struct meta_report_join *j = &r->joins[i];
			if (j->object || j->from == -2 || (j->from >= 0 && !r->joins[j->from].object))
				continue;
			const struct meta_object *start = j->from >= 0 ? r->joins[j->from].object : r->object;
			if (j->kind == REPORT_JOIN_PARENT) {
				j->ref = meta_find_field(start, j->ref_name);
				if (!j->ref || (j->ref->type != FIELD_REF && j->ref->type != FIELD_USER) || !j->ref->target) {
					error_at(ld, j->pos, "report '%s': join '%s': '%s' is no ref field of '%s'", r->name, j->name,
					         shown(ld, j->ref_name), start->name);
					j->from = -2;
					continue;
				}
				j->object = j->ref->target;
			} else {
				const struct meta_object *child = meta_find_object(ld->meta, j->object_name);
				j->ref = child ? meta_find_field(child, j->ref_name) : NULL;
				if (!child || !j->ref || (j->ref->type != FIELD_REF && j->ref->type != FIELD_USER)
				    || j->ref->target != start) {
					error_at(ld, j->pos, "report '%s': join '%s': children '%s.%s' must be an object and its ref "
					         "field to '%s'", r->name, j->name, shown(ld, j->object_name), shown(ld, j->ref_name),
					         start->name);
					j->from = -2;
					continue;
				}
				j->object = child;
			}
		}
	}
}

static int report_join_index(const struct meta_report *r, const char *name, size_t length)
{
	for (int i = 0; i < r->join_count; i++)
		if (strlen(r->joins[i].name) == length && !strncmp(r->joins[i].name, name, length))
			return i;
	return -1;
}

static void resolve_report_measure(struct loader *ld, struct meta_report *r, struct meta_report_measure *m)
{
	const struct meta_object *object = r->object;
	char what[160];
	snprintf(what, sizeof(what), "report '%s', measure '%s'", r->name, m->name);
	if (m->path) {
		const char *dot = strchr(m->path, '.');
		int join = report_join_index(r, m->path, dot ? (size_t)(dot - m->path) : strlen(m->path));
		if (join >= 0) {
			m->join = join;
			object = r->joins[join].object;
			char *rest = dot ? xstrdup(dot + 1) : NULL;
			free(m->path);
			m->path = rest;
		}
	}
	if (!object)
		return;   /* its join did not resolve: said already */
	if (m->fn == REPORT_COUNT && m->path) {
		error_at(ld, m->measure_pos, "%s: count counts the records of a join, count(join), not '%s' (use "
		         "count_distinct(path) to count values)", what, shown(ld, m->measure));
		return;
	}
	if (m->fn != REPORT_COUNT && !m->path) {
		error_at(ld, m->measure_pos, "%s: '%s' needs a field (join.field or a field of '%s')", what,
		         shown(ld, m->measure), r->object->name);
		return;
	}
	if (m->path && !(m->field = report_path(ld, object, m->path, m->measure_pos, what)))
		return;
	enum value_kind kind = m->field ? meta_field_kind(m->field) : KIND_INT;
	bool number = kind == KIND_INT || kind == KIND_REAL;
	bool date = m->field && (m->field->type == FIELD_DATE || m->field->type == FIELD_DATETIME);
	if ((m->fn == REPORT_SUM || m->fn == REPORT_AVG) && !number)
		error_at(ld, m->measure_pos, "%s: %s needs a number field, '%s' is %s", what, shown(ld, m->measure),
		         m->field->name, meta_type_name(m->field->type));
	if ((m->fn == REPORT_MIN || m->fn == REPORT_MAX) && !number && !date)
		error_at(ld, m->measure_pos, "%s: %s needs a number or date field, '%s' is %s", what, shown(ld, m->measure),
		         m->field->name, meta_type_name(m->field->type));
	snprintf(what, sizeof(what), "filter of measure '%s' of report '%s' (over '%s')", m->name, r->name,
	         object->name);
	report_expression(ld, m->filter_expr, object, m->filter_pos, what);
}

/* Every report against the objects: see docs/metadata.md#report for what each check protects. */
static void resolve_reports(struct loader *ld)
{
	for (int i = 0; i < ld->meta->report_count; i++) {
		struct meta_report *r = &ld->meta->reports[i];
		if (meta_find_object(ld->meta, r->name))
			error_at(ld, r->pos, "report '%s' has the name of an object: GET /api/v1/reports/%s is the object's own "
			         "report", r->name, r->name);
		r->object = meta_find_object(ld->meta, r->object_name);
		if (!r->object) {
			error_at(ld, r->object_pos, "report '%s': no object '%s'", r->name, shown(ld, r->object_name));
			continue;
		}
		resolve_report_joins(ld, r);
		char what[160];
		snprintf(what, sizeof(what), "report '%s', group", r->name);
		for (int g = 0; g < r->group_count; g++) {
			struct meta_report_group *group = &r->groups[g];
			group->field = report_path(ld, r->object, group->path, group->pos, what);
			if (group->field && group->by && group->field->type != FIELD_DATE && group->field->type != FIELD_DATETIME)
				error_at(ld, group->pos, "%s: '%s' is %s; only a date or datetime is grouped 'by'", what,
				         group->path, meta_type_name(group->field->type));
		}
		for (int m = 0; m < r->measure_count; m++) {
			resolve_report_measure(ld, r, &r->measures[m]);
			for (int k = 0; k < m; k++)
				if (!strcmp(r->measures[k].name, r->measures[m].name))
					error_at(ld, r->measures[m].pos, "report '%s': measure '%s' is defined twice", r->name,
					         r->measures[m].name);
			for (int g = 0; g < r->group_count; g++)
				if (!strcmp(r->groups[g].column, r->measures[m].name))
					error_at(ld, r->measures[m].pos, "report '%s': measure '%s' has the name of a group column",
					         r->name, r->measures[m].name);
		}
		snprintf(what, sizeof(what), "report '%s', parameter", r->name);
		for (int p = 0; p < r->parameter_count; p++)
			r->parameters[p].field = report_path(ld, r->object, r->parameters[p].path, r->parameters[p].pos, what);
		snprintf(what, sizeof(what), "filter of report '%s' (over '%s')", r->name, r->object->name);
		report_expression(ld, r->filter_expr, r->object, r->filter_pos, what);
		if (r->sort) {
			const char *key = r->sort[0] == '-' ? r->sort + 1 : r->sort;
			bool known = false;
			for (int m = 0; m < r->measure_count; m++)
				known = known || !strcmp(r->measures[m].name, key);
			for (int g = 0; g < r->group_count; g++)
				known = known || !strcmp(r->groups[g].column, key);
			if (!known)
				error_at(ld, r->sort_pos, "report '%s': sort '%s' names no measure or group column", r->name,
				         shown(ld, r->sort));
		}
		bool dated = false;
		for (int g = 0; g < r->group_count; g++)
			dated = dated || r->groups[g].by;
		if (r->view == REPORT_VIEW_LINE && !dated)
			error_at(ld, r->view_pos, "report '%s': a line needs a group by day, week, month, quarter or year",
			         r->name);
		if (r->view == REPORT_VIEW_BAR && !r->group_count)
			error_at(ld, r->view_pos, "report '%s': bars need a group", r->name);
		if (r->view == REPORT_VIEW_FUNNEL && r->measure_count < 2)
			error_at(ld, r->view_pos, "report '%s': a funnel needs two or more measures (its stages)", r->name);
	}
}

/* Every {{name}} of one text of a template: a declared var or a field of its object. */
static void check_placeholders(struct loader *ld, const struct meta_template *t, const char *what, const char *lang,
                               const char *text, struct meta_pos pos)
{
	const char *p = text, *name, *end;
	size_t length;
	while ((p = meta_placeholder_next(p, &name, &length, &end))) {
		if (!end) {
			error_at(ld, pos, "template '%s': %s (%s) has a '{{' with no '}}'", t->name, what, lang);
			return;
		}
		char word[64];
		snprintf(word, sizeof(word), "%.*s", (int)(length < 63 ? length : 63), name);
		bool known = length > 0 && length < 64 && t->object && meta_find_field(t->object, word);
		for (int v = 0; !known && length > 0 && v < t->var_count; v++)
			known = strlen(t->vars[v]) == length && !strncmp(t->vars[v], name, length);
		if (!known)
			error_at(ld, pos, "template '%s': %s (%s) names '{{%.*s}}', which is no var of the template%s%s",
			         t->name, what, lang, (int)(end - 2 - (p + 2)), p + 2, t->object ? " nor a field of " : "",
			         t->object ? t->object->name : "");
		p = end;
	}
}

static void resolve_templates(struct loader *ld)
{
	for (int i = 0; i < ld->meta->template_count; i++) {
		struct meta_template *t = &ld->meta->templates[i];
		if (t->object_name && !(t->object = meta_find_object(ld->meta, t->object_name)))
			error_at(ld, t->object_pos, "template '%s': no object '%s'", t->name, shown(ld, t->object_name));
		for (int v = 0; v < t->var_count; v++)
			if (t->object && meta_find_field(t->object, t->vars[v]))
				error_at(ld, t->pos, "template '%s': var '%s' is also a field of '%s'", t->name, t->vars[v],
				         t->object->name);
		for (int l = 0; l < t->subject.count; l++)
			check_placeholders(ld, t, "subject", t->subject.lang[l], t->subject.text[l], t->subject_pos);
		for (int l = 0; l < t->body.count; l++)
			check_placeholders(ld, t, "body", t->body.lang[l], t->body.text[l], t->body_pos);
	}
}

static void resolve(struct loader *ld)
{
	struct meta *meta = ld->meta;
	resolve_targets(ld);
	check_defaults(ld);
	for (int o = 0; o < meta->object_count; o++) {
		for (int f = 0; f < meta->objects[o].field_count; f++) {
			struct meta_field *field = &meta->objects[o].fields[f];
			const struct field_aux *aux = &ld->staged[o].field_aux[f];
			if (field->type == FIELD_ROLLUP && field->rollup_of && !aux->broken)
				resolve_rollup(ld, o, field, aux);
		}
	}
	for (int o = 0; o < meta->object_count; o++) {
		for (int f = 0; f < meta->objects[o].field_count; f++) {
			struct meta_field *field = &meta->objects[o].fields[f];
			if (field->type == FIELD_ROLLUP && field->rollup_child)
				check_rollup_measure(ld, field, &ld->staged[o].field_aux[f]);
		}
	}
	check_rollup_cycles(ld);
	for (int o = 0; o < meta->object_count; o++) {
		check_object(ld, o);
		check_kanban_card(ld, &meta->objects[o]);
		check_home_sections(ld, &meta->objects[o]);
		check_composer(ld, meta, &meta->objects[o]);
		check_charts(ld, &meta->objects[o]);
		check_lines_view(ld, meta, &meta->objects[o], &ld->staged[o].lines);
	}
	resolve_roles(ld);
	resolve_workflows(ld);
	resolve_kpis(ld);
	resolve_reports(ld);
	resolve_templates(ld);
	check_signup(ld);
	for (int o = 0; o < meta->object_count; o++)
		check_console_view(ld, meta, &meta->objects[o], &ld->staged[o].console);
	if (ld->diags->error_count == 0)
		check_types(ld);
}

/* ------------------------------------------------------------- entry points */

static void loader_init(struct loader *ld, struct meta_diags *diags)
{
	memset(ld, 0, sizeof(*ld));
	memset(diags, 0, sizeof(*diags));
	ld->diags = diags;
	ld->meta = xcalloc(1, sizeof(*ld->meta));
	crypto_hash_sha256_init(&ld->hash);
}


/*
 * The object API looks fields up by name for every value of every record:
 * a small hash table keeps that off the profile (a linear strcmp scan was
 * 6% of an import).
 */
static void index_field_names(struct meta_object *object)
{
	int size = 16;
	while (size < object->field_count * 2)
		size *= 2;
	object->field_slots = xcalloc((size_t)size, sizeof(int));
	object->field_slot_count = size;
	for (int i = 0; i < object->field_count; i++) {
		uint32_t slot = meta_name_hash(object->fields[i].name) & (uint32_t)(size - 1);
		while (object->field_slots[slot])
			slot = (slot + 1) & (uint32_t)(size - 1);
		object->field_slots[slot] = i + 1;
	}
}

/* Merges, resolves, fills defaults and hands out the model or frees it. */
static int loader_finish(struct loader *ld, struct meta **out)
{
	struct meta *meta = ld->meta;
	merge_and_assemble(ld);
	merge_workflows(ld);
	resolve(ld);
	if (meta->language_count == 0) {
		meta->languages = xmalloc(sizeof(*meta->languages));
		meta->languages[meta->language_count++] = xstrdup("en");
	}
	unsigned char digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_final(&ld->hash, digest);
	sodium_bin2hex(meta->version, sizeof(meta->version), digest, sizeof(digest));

	for (int i = 0; i < ld->staged_count; i++)
		staged_free_aux(&ld->staged[i], meta->objects[i].index_count);
	free(ld->staged);
	free(ld->plugin_pos);
	for (int i = 0; i < meta->role_count; i++)
		role_aux_free(&ld->role_aux[i]);
	free(ld->role_aux);
	for (int i = 0; i < ld->role_ext_count; i++) {   /* not merged: loading stopped before roles */
		role_free(&ld->role_ext[i]);
		role_aux_free(&ld->role_ext_aux[i]);
	}
	free(ld->role_ext);
	free(ld->role_ext_aux);
	if (ld->diags->error_count > 0) {
		meta_free(meta);
		return CRM_EMETA;
	}
	for (int i = 0; i < meta->object_count; i++)
		index_field_names(&meta->objects[i]);
	*out = meta;
	return CRM_OK;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void free_names(char **names, int count)
{
	for (int i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

/*
 * The *.yaml files directly in dir (hidden files and app.yaml left out),
 * sorted by name. Returns 0 or an errno value from opendir.
 */
static int list_yaml_files(const char *dir, char ***out, int *count_out)
{
	DIR *handle = opendir(dir);
	if (!handle)
		return errno;
	char **names = NULL;
	int count = 0;
	struct dirent *entry;
	struct strbuf path = {0};
	while ((entry = readdir(handle))) {
		const char *name = entry->d_name;
		size_t len = strlen(name);
		if (name[0] == '.' || len < 6 || strcmp(name + len - 5, ".yaml") != 0 || strcmp(name, "app.yaml") == 0)
			continue;
		struct stat st;
		strbuf_reset(&path);
		strbuf_printf(&path, "%s/%s", dir, name);
		if (stat(path.data, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		names = xrealloc(names, (size_t)(count + 1) * sizeof(*names));
		names[count++] = xstrdup(name);
	}
	closedir(handle);
	strbuf_free(&path);
	if (count > 1)
		qsort(names, (size_t)count, sizeof(*names), compare_strings);
	*out = names;
	*count_out = count;
	return 0;
}

/* Reads and parses one file; a file that cannot be read is reported at 1:1. */
static void load_file(struct loader *ld, const char *path, bool app_file)
{
	struct meta_pos pos = {path, 1, 1};
	char *data = NULL;
	FILE *stream = fopen(path, "rb");
	struct stat st;
	if (!stream) {
		error_at(ld, pos, "cannot read file: %s", strerror(errno));
		return;
	}
	if (fstat(fileno(stream), &st) != 0 || !S_ISREG(st.st_mode)) {
		error_at(ld, pos, "cannot read file: not a regular file");
		goto cleanup;
	}
	if (st.st_size > MAX_FILE_SIZE) {
		error_at(ld, pos, "file is larger than 4 MiB");
		goto cleanup;
	}
	size_t size = (size_t)st.st_size;
	data = xmalloc(size + 1);
	if (fread(data, 1, size, stream) != size || ferror(stream)) {
		error_at(ld, pos, "cannot read file: %s", strerror(errno ? errno : EIO));
		goto cleanup;
	}
	load_text(ld, path, data, size, app_file);
cleanup:
	free(data);
	fclose(stream);
}

/* Loads dir's *.yaml files in name order; a missing dir is an error only if required. */
static void load_directory(struct loader *ld, const char *dir, bool required, struct meta_pos where)
{
	char **names = NULL;
	int count = 0;
	int err = list_yaml_files(dir, &names, &count);
	if (err) {
		if (required || err != ENOENT)
			error_at(ld, where, "cannot read folder '%s': %s", shown(ld, dir), strerror(err));
		return;
	}
	struct strbuf path = {0};
	for (int i = 0; i < count; i++) {
		strbuf_reset(&path);
		strbuf_printf(&path, "%s/%s", dir, names[i]);
		load_file(ld, path.data, false);
	}
	strbuf_free(&path);
	free_names(names, count);
}

int meta_load(const char *metadata_dir, const char *plugins_dir, struct meta **out,
              struct meta_diags *diags)
{
	return meta_load_industry(metadata_dir, plugins_dir, NULL, out, diags);
}

int meta_load_industry(const char *metadata_dir, const char *plugins_dir, const char *industry, struct meta **out,
                       struct meta_diags *diags)
{
	struct meta_diags scratch;
	struct loader ld;
	struct strbuf path = {0};
	if (!diags)
		diags = &scratch;
	if (sodium_init() < 0) {
		fprintf(stderr, "crm: libsodium failed to start\n");
		abort();
	}
	loader_init(&ld, diags);

	strbuf_printf(&path, "%s/app.yaml", metadata_dir);
	load_file(&ld, path.data, true);
	struct meta_pos dir_pos = {metadata_dir, 1, 1};
	load_directory(&ld, metadata_dir, true, dir_pos);
	select_industry(&ld, industry);

	/* Plugin object folders follow app.yaml's order; extensions do not care. */
	for (int i = 0; i < ld.meta->plugin_count; i++) {
		const char *name = ld.meta->plugins[i].name;
		struct stat st;
		if (!plugins_dir) {
			error_at(&ld, ld.plugin_pos[i], "plugin '%s' is enabled but no plugins folder was given", name);
			continue;
		}
		/* plugins_dir is a search path: "plugins:/opt/crm/plugins", the first folder that has the plugin */
		if (!crm_path_find(plugins_dir, name, &path) || stat(path.data, &st) != 0 || !S_ISDIR(st.st_mode)) {
			error_at(&ld, ld.plugin_pos[i], "plugin '%s' not found: no folder '%s' (searched %s)", name,
			         shown(&ld, path.data), shown(&ld, plugins_dir));
			continue;
		}
		strbuf_puts(&path, "/objects");
		load_directory(&ld, path.data, false, ld.plugin_pos[i]);
	}
	strbuf_free(&path);

	int status = loader_finish(&ld, out);
	if (diags == &scratch)
		meta_diags_free(&scratch);
	return status;
}

int meta_load_texts(int count, const char *const *names, const char *const *texts,
                    struct meta **out, struct meta_diags *diags)
{
	struct meta_diags scratch;
	struct loader ld;
	if (!diags)
		diags = &scratch;
	if (sodium_init() < 0) {
		fprintf(stderr, "crm: libsodium failed to start\n");
		abort();
	}
	loader_init(&ld, diags);
	for (int i = 0; i < count; i++) {
		const char *name = names && names[i] ? names[i] : "(text)";
		const char *text = texts[i] ? texts[i] : "";
		load_text(&ld, name, text, strlen(text), strcmp(base_name(name), "app.yaml") == 0);
	}
	select_industry(&ld, NULL);
	int status = loader_finish(&ld, out);
	if (diags == &scratch)
		meta_diags_free(&scratch);
	return status;
}

void meta_free(struct meta *meta)
{
	if (!meta)
		return;
	free(meta->app_name);
	free(meta->industry);
	for (int i = 0; i < meta->industry_count; i++) {
		struct meta_industry *industry = &meta->industries[i];
		free(industry->name);
		label_free(&industry->label);
		for (int j = 0; j < industry->plugin_count; j++) {
			free(industry->plugins[j].name);
			free(industry->plugins[j].version_range);
		}
		free(industry->plugins);
	}
	free(meta->industries);
	signup_free(meta->signup);
	free_names(meta->languages, meta->language_count);
	for (int i = 0; i < meta->plugin_count; i++) {
		free(meta->plugins[i].name);
		free(meta->plugins[i].version_range);
	}
	free(meta->plugins);
	for (int i = 0; i < meta->object_count; i++)
		object_free(&meta->objects[i]);
	free(meta->objects);
	for (int i = 0; i < meta->role_count; i++)
		role_free(&meta->roles[i]);
	free(meta->roles);
	for (int i = 0; i < meta->workflow_count; i++)
		workflow_free(&meta->workflows[i]);
	free(meta->workflows);
	for (int i = 0; i < meta->kpi_count; i++)
		kpi_free(&meta->kpis[i]);
	free(meta->kpis);
	for (int i = 0; i < meta->report_count; i++)
		report_free(&meta->reports[i]);
	free(meta->reports);
	for (int i = 0; i < meta->template_count; i++)
		template_free(&meta->templates[i]);
	free(meta->templates);
	for (int i = 0; i < meta->calendar_count; i++)
		calendar_free(&meta->calendars[i]);
	free(meta->calendars);
	json_decref(meta->config);
	free_names(meta->files, meta->file_count);
	free(meta);
}

void meta_diags_free(struct meta_diags *diags)
{
	if (!diags)
		return;
	for (int i = 0; i < diags->count; i++) {
		free(diags->items[i].file);
		free(diags->items[i].message);
	}
	free(diags->items);
	memset(diags, 0, sizeof(*diags));
}

void meta_diags_print(const struct meta_diags *diags, void *stream)
{
	for (int i = 0; i < diags->count; i++) {
		const struct meta_diag *d = &diags->items[i];
		fprintf(stream, "%s:%d:%d: %s: %s\n", d->file, d->line, d->column, d->warning ? "warning" : "error",
		        d->message);
	}
}

/* ------------------------------------------- the key tables, for the reference */

const struct meta_key_table *meta_key_tables(int *count)
{
	*count = (int)(sizeof(key_tables) / sizeof(key_tables[0]));
	return key_tables;
}

int meta_field_key_count(void)
{
	return FK_COUNT;
}

const char *meta_field_key_name(int key)
{
	return key >= 0 && key < FK_COUNT ? field_keys[key].name : NULL;
}

bool meta_field_key_valid(int key, enum field_type type)
{
	return key >= 0 && key < FK_COUNT && (int)type >= 0 && type < FIELD_TYPE_COUNT &&
	       (field_keys[key].types & TYPE_BIT(type));
}

const char *meta_system_field(int index, enum field_type *type)
{
	if (index < 0 || index >= SYSTEM_FIELD_COUNT)
		return NULL;
	if (type)
		*type = system_fields[index].type;
	return system_fields[index].name;
}

