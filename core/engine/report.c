/*
 * report.c - the compiler and runner of `report:` documents (see report.h).
 *
 * A report is one aggregate of its root object through the object API
 * (object_aggregate_parts): the root's read rule, the caller's ?filter=, the
 * groups. What this file adds is compiled into that query's builder:
 *
 * - the report's filter and run-time parameters, as a condition over t0;
 * - each measure. A measure of the root is an aggregate of the root rows
 *   (count(*), sum(t0.amount), ...). A measure of a join is a correlated
 *   subquery per root row over the joined object, which the group then adds
 *   up (min, max: takes the least or greatest):
 *
 *     (SELECT sum(r1."amount") FROM "opportunity" r1
 *       WHERE r1."deleted_at" IS NULL AND <opportunity's read rule> AND <filter>
 *         AND r1."id" IN (SELECT r2."converted_opportunity" FROM "lead" r2
 *              WHERE r2."deleted_at" IS NULL AND <lead's read rule>
 *                AND r2."id" IN (SELECT r3."lead" FROM "campaign_member" r3
 *                     WHERE r3."deleted_at" IS NULL AND <member's read rule>
 *                       AND r3."campaign" = t0."id")))
 *
 *   Each step of the chain is a set (IN), never a join of rows: a lead two
 *   members point at, or an opportunity two leads converted into, is one
 *   element of its set, so it counts once per root row. A flat join
 *   campaign x member x lead x opportunity would instead repeat each
 *   opportunity once per path to it and multiply its amount.
 *
 * Every joined object's read rule is compiled at its own alias (access.c,
 * the same rule as its lists), so a record the caller may not read is in
 * no set and adds nothing; the caller's field rules apply to every path
 * (b->can_read), and report_allowed refuses a report whose objects or fields
 * the caller may not read at all before anything runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "access.h"
#include "context.h"
#include "expr.h"
#include "meta_model.h"
#include "object.h"
#include "report.h"
#include "store.h"

#define REPORT_MAX_ROWS 10000

static const char *const bucket_names[] = { "", "day", "week", "month", "quarter", "year" };
static const char *const view_names[] = { "table", "bar", "line", "funnel" };

/* --- who may run a report ---------------------------------------------- */

/* Every field on path from object is one the caller may read. */
static bool path_readable(struct crm_ctx *ctx, const struct meta_object *object, const char *path)
{
	char segment[64];
	const char *p = path;
	while (object && *p) {
		const char *dot = strchr(p, '.');
		size_t length = dot ? (size_t)(dot - p) : strlen(p);
		if (length >= sizeof(segment))
			return false;
		memcpy(segment, p, length);
		segment[length] = '\0';
		const struct meta_field *field = meta_find_field(object, segment);
		if (!field || access_field(ctx, object, field) == FIELD_ACCESS_HIDDEN)
			return false;
		if (!dot)
			return true;
		object = field->target;
		p = dot + 1;
	}
	return false;
}

struct paths_readable {
	struct crm_ctx *ctx;
	const struct meta_object *object;
	bool readable;
};

static void each_path_readable(void *arg, const char *path)
{
	struct paths_readable *pr = arg;
	pr->readable = pr->readable && path_readable(pr->ctx, pr->object, path);
}

static bool expression_readable(struct crm_ctx *ctx, const struct meta_object *object, const struct expr *e)
{
	struct paths_readable pr = { ctx, object, true };
	if (e)
		expr_each_path(e, each_path_readable, &pr);
	return pr.readable;
}

bool report_allowed(struct crm_ctx *ctx, const struct meta_report *r)
{
	if (!r->object || !access_allows(ctx, r->object, ACCESS_READ))
		return false;
	for (int i = 0; i < r->join_count; i++) {
		const struct meta_report_join *j = &r->joins[i];
		const struct meta_object *owner = j->kind == REPORT_JOIN_CHILDREN ? j->object
		                                  : j->from >= 0 ? r->joins[j->from].object : r->object;
		if (!j->object || !access_allows(ctx, j->object, ACCESS_READ)
		    || access_field(ctx, owner, j->ref) == FIELD_ACCESS_HIDDEN)
			return false;
	}
	for (int i = 0; i < r->group_count; i++)
		if (!path_readable(ctx, r->object, r->groups[i].path))
			return false;
	for (int i = 0; i < r->parameter_count; i++)
		if (!path_readable(ctx, r->object, r->parameters[i].path))
			return false;
	for (int i = 0; i < r->measure_count; i++) {
		const struct meta_report_measure *m = &r->measures[i];
		const struct meta_object *object = m->join >= 0 ? r->joins[m->join].object : r->object;
		if ((m->path && !path_readable(ctx, object, m->path)) || !expression_readable(ctx, object, m->filter_expr))
			return false;
	}
	return expression_readable(ctx, r->object, r->filter_expr);
}

/* --- compiling --------------------------------------------------------- */

struct run {
	struct crm_ctx *ctx;
	const struct meta_report *report;
	json_t *params;                    /* borrowed */
	const char *from, *to;             /* validated days, or NULL */
	char to_next[11];                  /* the day after to */
	int levels;                        /* subquery levels opened: their aliases r1, r2, ... */
};

/* The builder's state of one query level, set aside while a subquery is compiled in the same builder. */
struct level {
	const struct meta_object *object;
	const char *base_alias;
	struct strbuf joins;
	int join_count, alias_base;
	char **join_paths;
	char alias[16];
};

/* Opens a subquery level over object: its own alias (r<n>), its own joins, the same parameters. */
static void level_enter(struct run *run, struct expr_sql *b, const struct meta_object *object, struct level *saved)
{
	int n = ++run->levels;
	saved->object = b->object;
	saved->base_alias = b->base_alias;
	saved->joins = b->joins;
	saved->join_count = b->join_count;
	saved->join_paths = b->join_paths;
	saved->alias_base = b->alias_base;
	snprintf(saved->alias, sizeof(saved->alias), "r%d", n);
	b->object = object;
	b->base_alias = saved->alias;
	b->joins = (struct strbuf){ 0 };
	b->join_count = 0;
	b->join_paths = NULL;
	b->alias_base = 100 * n;   /* jN of this level never meet the query's (j1..j32) or another level's */
}

/* Closes the level: its joins go to *joins (owned by the caller), the outer state comes back. */
static void level_leave(struct expr_sql *b, struct level *saved, struct strbuf *joins)
{
	*joins = b->joins;
	for (int i = 0; i < b->join_count; i++)
		free(b->join_paths[i]);
	free(b->join_paths);
	b->object = saved->object;
	b->base_alias = saved->base_alias;
	b->joins = saved->joins;
	b->join_count = saved->join_count;
	b->join_paths = saved->join_paths;
	b->alias_base = saved->alias_base;
}

static int compile_error(struct run *run, const char *what, const char *err)
{
	return crm_error(run->ctx, CRM_EINVAL, "report '%s': %s: %s", run->report->name, what, err);
}

static int join_set(struct run *run, struct expr_sql *b, int join, const char *column, struct strbuf *out);

/*
 * The condition tying alias (a record of join) to the root row t0: its ref
 * is the root's id or in the set of its start's ids (children), or its id is
 * the root's ref or in the set of its start's ref values (parent).
 */
static int join_link(struct run *run, struct expr_sql *b, int join, const char *alias, struct strbuf *out)
{
	const struct meta_report_join *j = &run->report->joins[join];
	bool children = j->kind == REPORT_JOIN_CHILDREN;
	strbuf_printf(out, "%s.", alias);
	strbuf_ident(out, children ? j->ref->name : "id");
	if (j->from < 0) {
		strbuf_puts(out, " = t0.");
		strbuf_ident(out, children ? "id" : j->ref->name);
		return CRM_OK;
	}
	strbuf_puts(out, " IN (");
	int code = join_set(run, b, j->from, children ? "id" : j->ref->name, out);
	strbuf_putc(out, ')');
	return code;
}

/*
 * FROM and WHERE of the records of join a root row reaches, at the current
 * level's alias: live, readable by the caller, linked to the root row, and
 * (filter, may be NULL) matching filter. The level's joins go into from.
 */
static int join_where(struct run *run, struct expr_sql *b, int join, const struct expr *filter, struct strbuf *where)
{
	const struct meta_object *object = run->report->joins[join].object;
	strbuf_printf(where, "%s.\"deleted_at\" IS NULL AND ", b->base_alias);
	char alias[16];
	snprintf(alias, sizeof(alias), "%s", b->base_alias);
	int code = join_link(run, b, join, alias, where);
	struct strbuf rule = { 0 };
	if (code == CRM_OK)
		code = access_predicate(run->ctx, object, ACCESS_READ, b, &rule);
	if (code == CRM_OK && rule.len)
		strbuf_printf(where, " AND (%s)", rule.data);
	strbuf_free(&rule);
	if (code == CRM_OK && filter) {
		struct strbuf condition = { 0 };
		char err[256];
		if (expr_compile(b, filter, &condition, err, sizeof(err)) != CRM_OK)
			code = compile_error(run, "a measure's filter", err);
		else
			strbuf_printf(where, " AND (%s)", condition.data);
		strbuf_free(&condition);
	}
	return code;
}

/* SELECT <column> of the records of join a root row reaches (a set for IN). */
static int join_set(struct run *run, struct expr_sql *b, int join, const char *column, struct strbuf *out)
{
	const struct meta_object *object = run->report->joins[join].object;
	struct level saved;
	level_enter(run, b, object, &saved);
	struct strbuf where = { 0 }, joins = { 0 };
	int code = join_where(run, b, join, NULL, &where);
	char alias[16];
	snprintf(alias, sizeof(alias), "%s", b->base_alias);
	level_leave(b, &saved, &joins);
	strbuf_printf(out, "SELECT %s.", alias);
	strbuf_ident(out, column);
	strbuf_puts(out, " FROM ");
	strbuf_ident(out, object->name);
	strbuf_printf(out, " %s%s WHERE %s", alias, joins.data ? joins.data : "", where.data ? where.data : "1");
	strbuf_free(&where);
	strbuf_free(&joins);
	return code;
}

/* The SQL of a measured path at the current level, in the company currency where money is converted. */
static int measured_value(struct run *run, struct expr_sql *b, const struct meta_report_measure *m,
                          struct strbuf *out)
{
	char err[256];
	struct strbuf amount = { 0 };
	int code = CRM_OK;
	if (expr_compile_path(b, m->path, &amount, NULL, err, sizeof(err)) != CRM_OK) {
		code = compile_error(run, m->name, err);
	} else if (m->fn != REPORT_COUNT_DISTINCT && store_converts(b->meta, m->field)) {
		struct strbuf currency = { 0 }, path = { 0 };
		const char *dot = strrchr(m->path, '.');
		if (m->field->currency_field) {
			strbuf_printf(&path, "%.*s%s", dot ? (int)(dot + 1 - m->path) : 0, m->path, m->field->currency_field->name);
			if (expr_compile_path(b, path.data, &currency, NULL, err, sizeof(err)) != CRM_OK)
				code = compile_error(run, m->name, err);
		}
		if (code == CRM_OK)
			store_convert_sql(b, m->field, amount.data, m->field->currency_field ? currency.data : NULL, out);
		strbuf_free(&currency);
		strbuf_free(&path);
	} else {
		strbuf_puts(out, amount.data);
	}
	strbuf_free(&amount);
	return code;
}

/* Beside enum report_fn, for an average's denominator: count(v), the values that are not null. */
#define COUNT_VALUES ((enum report_fn)100)

/* count(*) / count(DISTINCT v) / sum(v) ... of the rows at the current level for fn. */
static void aggregate_sql(enum report_fn fn, const char *value, struct strbuf *out)
{
	static const char *const fns[] = { "count", "count", "sum", "avg", "min", "max" };
	if (fn == COUNT_VALUES)
		strbuf_printf(out, "count(%s)", value);
	else if (fn == REPORT_COUNT)
		strbuf_puts(out, "count(*)");
	else
		strbuf_printf(out, "%s(%s%s)", fns[fn], fn == REPORT_COUNT_DISTINCT ? "DISTINCT " : "", value);
}

/* A measure of the root rows: fn over them, the filter as CASE WHEN inside. */
static int root_measure(struct run *run, struct expr_sql *b, const struct meta_report_measure *m, struct strbuf *out)
{
	struct strbuf value = { 0 }, condition = { 0 };
	int code = CRM_OK;
	if (m->path)
		code = measured_value(run, b, m, &value);
	else
		strbuf_puts(&value, "1");
	char err[256];
	if (code == CRM_OK && m->filter_expr && expr_compile(b, m->filter_expr, &condition, err, sizeof(err)) != CRM_OK)
		code = compile_error(run, m->name, err);
	if (code == CRM_OK) {
		if (condition.len) {
			struct strbuf when = { 0 };
			strbuf_printf(&when, "CASE WHEN %s THEN %s END", condition.data, value.data);
			strbuf_free(&value);
			value = when;
		}
		aggregate_sql(m->fn == REPORT_COUNT && condition.len ? REPORT_SUM : m->fn, value.data, out);
		if (m->fn == REPORT_COUNT && condition.len) {
			/* count of the rows the filter holds for: a sum of 1s that is 0, not null, over none */
			struct strbuf zero = { 0 };
			strbuf_printf(&zero, "coalesce(%s, 0)", out->data);
			strbuf_free(out);
			*out = zero;
		}
	}
	strbuf_free(&value);
	strbuf_free(&condition);
	return code;
}

/* (SELECT fn(value) FROM <join's records of this root row>): one figure per root row. */
static int join_subquery(struct run *run, struct expr_sql *b, const struct meta_report_measure *m, enum report_fn fn,
                         struct strbuf *out)
{
	const struct meta_object *object = run->report->joins[m->join].object;
	struct level saved;
	level_enter(run, b, object, &saved);
	struct strbuf where = { 0 }, joins = { 0 }, value = { 0 };
	char alias[16];
	snprintf(alias, sizeof(alias), "%s", b->base_alias);
	int code = join_where(run, b, m->join, m->filter_expr, &where);
	if (code == CRM_OK && m->path)
		code = measured_value(run, b, m, &value);
	level_leave(b, &saved, &joins);
	strbuf_puts(out, "(SELECT ");
	aggregate_sql(fn, value.data ? value.data : "1", out);
	strbuf_puts(out, " FROM ");
	strbuf_ident(out, object->name);
	strbuf_printf(out, " %s%s WHERE %s)", alias, joins.data ? joins.data : "", where.data ? where.data : "1");
	strbuf_free(&where);
	strbuf_free(&joins);
	strbuf_free(&value);
	return code;
}

/* A measure of a join: its figure per root row, added up (or least, greatest) over the group's root rows. */
static int join_measure(struct run *run, struct expr_sql *b, const struct meta_report_measure *m, struct strbuf *out)
{
	struct strbuf first = { 0 }, second = { 0 };
	int code;
	if (m->fn == REPORT_AVG) {
		/* the average of all the group's joined values: their sum over their count, not an average of averages */
		code = join_subquery(run, b, m, REPORT_SUM, &first);
		if (code == CRM_OK)
			code = join_subquery(run, b, m, COUNT_VALUES, &second);
		if (code == CRM_OK)
			strbuf_printf(out, "(sum(%s) * 1.0 / nullif(sum(%s), 0))", first.data, second.data);
	} else {
		code = join_subquery(run, b, m, m->fn, &first);
		if (code == CRM_OK && (m->fn == REPORT_MIN || m->fn == REPORT_MAX))
			strbuf_printf(out, "%s(%s)", m->fn == REPORT_MIN ? "min" : "max", first.data);
		else if (code == CRM_OK)
			strbuf_printf(out, "coalesce(sum(%s), 0)", first.data);
	}
	strbuf_free(&first);
	strbuf_free(&second);
	return code;
}

/* value of ?name= as the type of field, bound in b; CRM_EINVAL naming the parameter when it is not one. */
static int bind_parameter(struct run *run, struct expr_sql *b, const char *name, const struct meta_field *field,
                          const char *text, int *number)
{
	struct expr_value value = { .type = EV_TEXT, .s = (char *)text };
	enum value_kind kind = meta_field_kind(field);
	char *end = NULL;
	if (field->type == FIELD_BOOL) {
		if (strcmp(text, "true") && strcmp(text, "false"))
			return crm_error(run->ctx, CRM_EINVAL, "%s: expected true or false", name);
		value = (struct expr_value){ .type = EV_BOOL, .i = !strcmp(text, "true") };
	} else if (kind == KIND_INT) {
		long long parsed = *text ? strtoll(text, &end, 10) : 0;
		if (!*text || *end || strlen(text) > 18)
			return crm_error(run->ctx, CRM_EINVAL, "%s: expected a whole number, not '%.40s'", name, text);
		value = (struct expr_value){ .type = EV_INT, .i = parsed };
	} else if (kind == KIND_REAL) {
		double parsed = *text ? strtod(text, &end) : 0;
		if (!*text || *end || parsed != parsed)
			return crm_error(run->ctx, CRM_EINVAL, "%s: expected a number, not '%.40s'", name, text);
		value = (struct expr_value){ .type = EV_REAL, .r = parsed };
	} else if (strlen(text) > 1000) {
		return crm_error(run->ctx, CRM_EINVAL, "%s is longer than 1000 bytes", name);
	}
	*number = expr_sql_bind(b, &value);
	return CRM_OK;
}

static bool valid_day(const char *text)
{
	int year, month, day;
	char tail;
	return strlen(text) == 10 && sscanf(text, "%4d-%2d-%2d%c", &year, &month, &day, &tail) == 3 && year >= 1
	       && month >= 1 && month <= 12 && day >= 1 && day <= 31 && text[4] == '-' && text[7] == '-';
}

/* The first group by a date bucket, or NULL. */
static const struct meta_report_group *date_group(const struct meta_report *r)
{
	for (int i = 0; i < r->group_count; i++)
		if (r->groups[i].by)
			return &r->groups[i];
	return NULL;
}

/* The condition over t0: the report's filter, each parameter given, from and to. */
static int root_condition(struct run *run, struct expr_sql *b, struct strbuf *out)
{
	const struct meta_report *r = run->report;
	char err[256];
	if (r->filter_expr) {
		struct strbuf condition = { 0 };
		if (expr_compile(b, r->filter_expr, &condition, err, sizeof(err)) != CRM_OK) {
			strbuf_free(&condition);
			return compile_error(run, "filter", err);
		}
		strbuf_printf(out, "(%s)", condition.data);
		strbuf_free(&condition);
	}
	for (int i = 0; i < r->parameter_count; i++) {
		const char *text = json_string_value(json_object_get(run->params, r->parameters[i].name));
		if (!text)
			continue;
		struct strbuf path = { 0 };
		int number = 0;
		int code = bind_parameter(run, b, r->parameters[i].name, r->parameters[i].field, text, &number);
		if (code == CRM_OK && expr_compile_path(b, r->parameters[i].path, &path, NULL, err, sizeof(err)) != CRM_OK)
			code = compile_error(run, r->parameters[i].name, err);
		if (code == CRM_OK)
			strbuf_printf(out, "%s%s = ?%d", out->len ? " AND " : "", path.data, number);
		strbuf_free(&path);
		if (code != CRM_OK)
			return code;
	}
	const struct meta_report_group *dated = date_group(r);
	for (int edge = 0; dated && edge < 2; edge++) {
		const char *day = edge == 0 ? run->from : run->to ? run->to_next : NULL;
		if (!day)
			continue;
		struct strbuf path = { 0 };
		if (expr_compile_path(b, dated->path, &path, NULL, err, sizeof(err)) != CRM_OK) {
			strbuf_free(&path);
			return compile_error(run, dated->path, err);
		}
		struct expr_value value = { .type = EV_TEXT, .s = (char *)day };
		strbuf_printf(out, "%s%s %s ?%d", out->len ? " AND " : "", path.data, edge == 0 ? ">=" : "<",
		              expr_sql_bind(b, &value));
		strbuf_free(&path);
	}
	return CRM_OK;
}

/* object_aggregate_parts' compile: measure -1 the condition, else that measure. */
static int compile_part(void *arg, struct expr_sql *b, int measure, struct strbuf *out)
{
	struct run *run = arg;
	if (measure < 0)
		return root_condition(run, b, out);
	const struct meta_report_measure *m = &run->report->measures[measure];
	return m->join < 0 ? root_measure(run, b, m, out) : join_measure(run, b, m, out);
}

/* --- the answer -------------------------------------------------------- */

static json_t *label_json(const struct meta_label *label, const char *fallback)
{
	json_t *out = json_object();
	for (int i = 0; i < label->count; i++)
		json_object_set_new(out, label->lang[i], json_string(label->text[i]));
	if (label->count == 0)
		json_object_set_new(out, "en", json_string(fallback));
	return out;
}

static json_t *columns_json(const struct meta_report *r)
{
	json_t *columns = json_array();
	for (int i = 0; i < r->group_count; i++) {
		const struct meta_report_group *g = &r->groups[i];
		json_t *label = label_json(g->label.count ? &g->label : &g->field->label, g->field->name);
		json_array_append_new(columns, json_pack("{s:s, s:s, s:s, s:o, s:s, s:s*}", "name", g->column, "kind", "group",
		                                         "path", g->path, "label", label, "type",
		                                         g->by ? "text" : meta_type_name(g->field->type), "by",
		                                         g->by ? bucket_names[g->by] : NULL));
	}
	for (int i = 0; i < r->measure_count; i++) {
		const struct meta_report_measure *m = &r->measures[i];
		/* counts are whole numbers, an average a decimal, the others the measured field's type */
		const char *type = m->fn == REPORT_COUNT || m->fn == REPORT_COUNT_DISTINCT ? "int"
		                   : m->fn == REPORT_AVG || !m->field ? "decimal" : meta_type_name(m->field->type);
		json_array_append_new(columns, json_pack("{s:s, s:s, s:o, s:s, s:s}", "name", m->name, "kind", "measure",
		                                         "label", label_json(&m->label, m->name), "type", type, "measure",
		                                         m->measure));
	}
	return columns;
}

static json_t *summary_json(const struct meta_report *r)
{
	json_t *parameters = json_array();
	for (int i = 0; i < r->parameter_count; i++)
		json_array_append_new(parameters, json_string(r->parameters[i].name));
	return json_pack("{s:s, s:o, s:s*, s:s*, s:s, s:s, s:o, s:b, s:o}", "name", r->name, "label",
	                 label_json(&r->label, r->name), "description", r->description, "module", r->module, "view",
	                 view_names[r->view], "object", r->object->name, "parameters", parameters, "dated",
	                 date_group(r) != NULL, "columns", columns_json(r));
}

int report_list(struct crm_ctx *ctx, json_t **out)
{
	const struct meta *meta = ctx->kernel->meta;
	int code = access_load(ctx);
	if (code != CRM_OK)
		return code;
	json_t *list = json_array();
	for (int i = 0; i < meta->report_count; i++)
		if (report_allowed(ctx, &meta->reports[i]))
			json_array_append_new(list, summary_json(&meta->reports[i]));
	*out = json_pack("{s:o}", "reports", list);
	return CRM_OK;
}

/* Numbers by value, texts by bytes, null first; direction -1 reverses. */
static int compare_values(json_t *x, json_t *y, int direction)
{
	bool x_null = !x || json_is_null(x), y_null = !y || json_is_null(y);
	int order;
	if (x_null || y_null)
		order = !x_null - !y_null;
	else if (json_is_number(x) && json_is_number(y))
		order = (json_number_value(x) > json_number_value(y)) - (json_number_value(x) < json_number_value(y));
	else if (json_is_string(x) && json_is_string(y))
		order = strcmp(json_string_value(x), json_string_value(y));
	else
		order = json_is_number(x) ? -1 : 1;
	return order * direction;
}

/* Sorts rows by key ('-' first: descending); a merge sort, so equal keys keep the order SQL gave them. */
static void sort_rows(json_t *rows, const char *key)
{
	size_t count = json_array_size(rows);
	int direction = key[0] == '-' ? -1 : 1;
	const char *name = key[0] == '-' ? key + 1 : key;
	if (count < 2)
		return;
	json_t **items = xcalloc(count, sizeof(*items)), **spare = xcalloc(count, sizeof(*spare));
	for (size_t i = 0; i < count; i++)
		items[i] = json_incref(json_array_get(rows, i));
	for (size_t width = 1; width < count; width *= 2) {
		for (size_t low = 0; low < count; low += 2 * width) {
			size_t middle = low + width < count ? low + width : count;
			size_t high = low + 2 * width < count ? low + 2 * width : count;
			size_t a = low, b = middle, k = low;
			while (a < middle && b < high)
				spare[k++] = compare_values(json_object_get(items[b], name), json_object_get(items[a], name),
				                            direction) < 0 ? items[b++] : items[a++];
			while (a < middle)
				spare[k++] = items[a++];
			while (b < high)
				spare[k++] = items[b++];
		}
		json_t **swap = items;
		items = spare;
		spare = swap;
	}
	json_array_clear(rows);
	for (size_t i = 0; i < count; i++)
		json_array_append_new(rows, items[i]);
	free(items);
	free(spare);
}

/* The run-time parameters: each known, each well-formed. */
static int check_params(struct run *run, int *limit, const char **filter)
{
	const struct meta_report *r = run->report;
	const char *name;
	json_t *value;
	*limit = r->limit ? r->limit : REPORT_MAX_ROWS;
	*filter = NULL;
	json_object_foreach(run->params, name, value) {
		const char *text = json_string_value(value);
		bool known = name[0] == '_';
		for (int i = 0; !known && i < r->parameter_count; i++)
			known = !strcmp(r->parameters[i].name, name);
		if (known)
			continue;
		if (!text)
			return crm_error(run->ctx, CRM_EINVAL, "%.40s: expected a text", name);
		if (!strcmp(name, "from") || !strcmp(name, "to")) {
			if (!date_group(r))
				return crm_error(run->ctx, CRM_EINVAL, "%s: report '%s' has no date group", name, r->name);
			if (!valid_day(text))
				return crm_error(run->ctx, CRM_EINVAL, "%s: expected YYYY-MM-DD, not '%.20s'", name, text);
			if (name[0] == 'f')
				run->from = text;
			else
				run->to = text;
		} else if (!strcmp(name, "filter")) {
			if (strlen(text) > EXPR_MAX_LENGTH)
				return crm_error(run->ctx, CRM_EINVAL, "filter is longer than %d bytes", EXPR_MAX_LENGTH);
			*filter = *text ? text : NULL;
		} else if (!strcmp(name, "limit")) {
			char *end;
			long parsed = strtol(text, &end, 10);
			if (!*text || *end || parsed < 1 || parsed > REPORT_MAX_ROWS)
				return crm_error(run->ctx, CRM_EINVAL, "limit: expected 1 to %d", REPORT_MAX_ROWS);
			if (parsed < *limit)
				*limit = (int)parsed;
		} else {
			return crm_error(run->ctx, CRM_EINVAL, "unknown query parameter '%.40s' (report '%s' takes from, to, "
			                 "filter, limit%s)", name, r->name, r->parameter_count ? " and its parameters" : "");
		}
	}
	if (run->to) {
		/* to is included: the condition is date < the day after */
		int year, month, day;
		sscanf(run->to, "%4d-%2d-%2d", &year, &month, &day);
		static const int lengths[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
		int length = lengths[month - 1] + (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0));
		if (++day > length) {
			day = 1;
			if (++month > 12) {
				month = 1;
				year++;
			}
		}
		snprintf(run->to_next, sizeof(run->to_next), "%04u-%02u-%02u", (unsigned)year % 10000u, (unsigned)month % 100u,
		         (unsigned)day % 100u);
	}
	return CRM_OK;
}

int report_run(struct crm_ctx *ctx, const char *name, json_t *params, json_t **out)
{
	const struct meta_report *r = meta_find_report(ctx->kernel->meta, name);
	if (!r)
		return crm_error(ctx, CRM_ENOTFOUND, "no report '%.64s'", name);
	int code = access_load(ctx);
	if (code != CRM_OK)
		return code;
	if (!report_allowed(ctx, r))
		return crm_error(ctx, CRM_EDENIED, "report '%s' reads records or fields you may not read", r->name);
	struct run run = { .ctx = ctx, .report = r, .params = params };
	int limit;
	const char *filter;
	if ((code = check_params(&run, &limit, &filter)) != CRM_OK)
		return code;
	struct strbuf group = { 0 };
	for (int i = 0; i < r->group_count; i++)
		strbuf_printf(&group, "%s%s%s%s", i ? "," : "", r->groups[i].path, r->groups[i].by ? ":" : "",
		              bucket_names[r->groups[i].by]);
	const char *names[32];
	for (int i = 0; i < r->measure_count; i++)
		names[i] = r->measures[i].name;
	struct object_aggregate_parts parts = {
		.group = group.data, .filter = filter, .measure_count = r->measure_count, .measure_names = names,
		.compile = compile_part, .arg = &run,
	};
	json_t *rows = NULL;
	code = object_aggregate_parts(ctx, r->object->name, &parts, &rows);
	strbuf_free(&group);
	if (code != CRM_OK)
		return code;
	/* a plain group's key is its path (account.industry); the report's column is account_industry */
	size_t index;
	json_t *row;
	json_array_foreach(rows, index, row) {
		for (int i = 0; i < r->group_count; i++) {
			const struct meta_report_group *g = &r->groups[i];
			json_t *value = g->by ? NULL : json_object_get(row, g->path);
			if (value && strcmp(g->path, g->column) != 0) {
				json_object_set(row, g->column, value);
				json_object_del(row, g->path);
			}
		}
	}
	if (r->sort)
		sort_rows(rows, r->sort);
	while (json_array_size(rows) > (size_t)limit)
		json_array_remove(rows, json_array_size(rows) - 1);
	json_t *doc = summary_json(r);
	json_object_set_new(doc, "report", json_string(r->name));
	json_object_del(doc, "name");
	json_object_set_new(doc, "rows", rows);
	*out = doc;
	return CRM_OK;
}
