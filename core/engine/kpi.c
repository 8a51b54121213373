/*
 * kpi.c - KPI figures per person, team and period (see kpi.h).
 *
 * Each figure is one object_aggregate over the kpi's object with its filter,
 * the period's bounds on its date field and the people on its owner field:
 * the same query, compiler and row rules as GET /api/v1/reports, so a kpi
 * never counts a record its reader could not list.
 *
 * The evaluation model adds three sources beside one object's records: a
 * kpi over the audit trail (adoption: who writes, how much; no new
 * tracking), a formula over other kpis evaluated for the same people and
 * period (win rate, average deal, pipeline velocity), and the measures
 * count_distinct(f), retention(f) and `per: day` over any object.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "access.h"
#include "context.h"
#include "expr.h"
#include "kpi.h"
#include "meta_model.h"
#include "object.h"
#include "store.h"

struct period {
	char start[11], end[11], next[11], previous[11];   /* end inclusive; next: the day after */
};

static void ymd(int year, int month, char out[11])
{
	while (month > 12) { month -= 12; year++; }
	while (month < 1) { month += 12; year--; }
	unsigned y = (unsigned)(year < 1 ? 1 : year > 9999 ? 9999 : year), m = (unsigned)month;
	snprintf(out, 11, "%04u-%02u-01", y % 10000u, m % 100u);
}

/* The kpi's period holding day, the one before, and the day after it ends. */
static void period_of(enum kpi_period kind, int year, int month, struct period *p)
{
	int first = kind == KPI_MONTH ? month : kind == KPI_QUARTER ? (month - 1) / 3 * 3 + 1 : 1;
	int length = kind == KPI_MONTH ? 1 : kind == KPI_QUARTER ? 3 : 12;
	ymd(year, first, p->start);
	ymd(year, first + length, p->next);
	ymd(year, first - length, p->previous);
	/* the last day: the day before next */
	struct tm tm = { 0 };
	sscanf(p->next, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm) - 86400;
	gmtime_r(&t, &tm);
	strftime(p->end, sizeof(p->end), "%Y-%m-%d", &tm);
}

/* "owner in (1,2,3)" for the scope, or "" for everyone (0 when the caller has no identity). */
static int people_filter(struct crm_ctx *ctx, enum kpi_scope scope, const char *field, struct strbuf *out)
{
	if (scope == KPI_SCOPE_ALL)
		return CRM_OK;
	if (scope == KPI_SCOPE_ME || !ctx->user_id) {
		strbuf_printf(out, " and %s = %lld", field, (long long)ctx->user_id);
		return CRM_OK;
	}
	json_t *ids = access_team_scope(ctx);
	strbuf_printf(out, " and %s in (%lld", field, (long long)ctx->user_id);
	size_t i;
	json_t *id;
	json_array_foreach(ids, i, id)
		if (json_is_integer(id) && json_integer_value(id) != ctx->user_id)
			strbuf_printf(out, ", %lld", (long long)json_integer_value(id));
	strbuf_putc(out, ')');
	return CRM_OK;
}

/*
 * measure over object's records with filter, date in [from, to) and the people:
 * a number, or null when there is nothing (min/max/avg of no rows) or the
 * caller may not read the object (forgotten: a kpi of an unreadable object is
 * left out by the caller, not an error).
 */
static json_t *figure(struct crm_ctx *ctx, const struct meta_object *object, const char *measure, const char *filter,
                      const char *date, const char *from, const char *to, const char *people, bool *refused)
{
	struct strbuf text = { 0 };
	strbuf_printf(&text, "%s%s%s%s >= '%s' and %s < '%s'%s", filter ? "(" : "", filter ? filter : "",
	              filter ? ") and " : "", date, from, date, to, people);
	json_t *rows = NULL;
	int code = object_aggregate(ctx, object->name, NULL, measure, text.data, &rows);
	strbuf_free(&text);
	if (code != CRM_OK) {
		*refused = code == CRM_EDENIED || code == CRM_ENOTFOUND;
		crm_error_forget(ctx);
		json_decref(rows);
		return json_null();
	}
	json_t *row = json_array_get(rows, 0);
	const char *key;
	json_t *value, *result = json_null();
	json_object_foreach(row, key, value)
		if (json_is_number(value)) {
			json_decref(result);
			result = json_incref(value);
		}
	json_decref(rows);
	if (json_is_null(result) && (!strncmp(measure, "sum(", 4) || !strncmp(measure, "count", 5)))
		return json_integer(0);   /* a sum or a count over no records is nothing, not unknown */
	return result;
}


/* One evaluation: the caller's people, the day asked, and each figure computed once. */
struct memo {
	const struct meta_kpi *kpi;
	char start[11];
	json_t *value;     /* NULL: refused */
};

struct eval {
	struct crm_ctx *ctx;
	enum kpi_scope scope;
	char day_after[11];           /* the day after the day asked: `per: day` counts the days before it */
	json_t *audit_people;         /* the ids the audit trail is read for (NULL: everyone) */
	bool audit_loaded, audit_refused;
	int memo_count, memo_size;
	struct memo *memos;
};

static void day_shift(const char *day, int days, char out[11])
{
	struct tm tm = { 0 };
	sscanf(day, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm) + (time_t)days * 86400;
	gmtime_r(&t, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

static int days_from(const char *from, const char *to)
{
	struct tm a = { 0 }, b = { 0 };
	sscanf(from, "%d-%d-%d", &a.tm_year, &a.tm_mon, &a.tm_mday);
	sscanf(to, "%d-%d-%d", &b.tm_year, &b.tm_mon, &b.tm_mday);
	a.tm_year -= 1900, b.tm_year -= 1900, a.tm_mon -= 1, b.tm_mon -= 1;
	return (int)((timegm(&b) - timegm(&a)) / 86400);
}

/* The period before p (of the same kind). */
static void period_before(enum kpi_period kind, const struct period *p, struct period *out)
{
	int year, month;
	sscanf(p->previous, "%d-%d", &year, &month);
	period_of(kind, year, month, out);
}

/*
 * The people whose audit trail a kpi reads: me, my reports down the manager
 * tree (a rep has none: their own figure), or everyone for an admin. Who
 * else wrote what is not a team mate's to read, so `team` is the manager
 * tree only, and `all` is refused to anyone but an admin.
 */
static json_t *audit_people(struct eval *ev)
{
	if (ev->audit_loaded)
		return ev->audit_people;
	ev->audit_loaded = true;
	struct crm_ctx *ctx = ev->ctx;
	if (ev->scope == KPI_SCOPE_ALL) {
		ev->audit_refused = !access_is_admin(ctx);
		return NULL;
	}
	ev->audit_people = json_array();
	json_array_append_new(ev->audit_people, json_integer(ctx->user_id));
	for (size_t from = 0; ev->scope == KPI_SCOPE_TEAM && from < json_array_size(ev->audit_people)
	     && json_array_size(ev->audit_people) < 10000;) {
		struct strbuf filter = { 0 };
		strbuf_puts(&filter, "manager in (");
		size_t until = json_array_size(ev->audit_people);
		for (size_t i = from; i < until; i++)
			strbuf_printf(&filter, "%s%lld", i > from ? ", " : "",
			              (long long)json_integer_value(json_array_get(ev->audit_people, i)));
		strbuf_putc(&filter, ')');
		json_t *rows = NULL;
		int code = object_aggregate(ctx, "user", "id", "count", filter.data, &rows);
		strbuf_free(&filter);
		if (code != CRM_OK)
			crm_error_forget(ctx);
		size_t i;
		json_t *row;
		json_array_foreach(rows, i, row) {
			json_int_t id = json_integer_value(json_object_get(row, "id"));
			bool known = false;
			for (size_t j = 0; j < json_array_size(ev->audit_people) && !known; j++)
				known = json_integer_value(json_array_get(ev->audit_people, j)) == id;
			if (!known)
				json_array_append_new(ev->audit_people, json_integer(id));
		}
		json_decref(rows);
		from = until;
	}
	return ev->audit_people;
}

/* The end of a `per: day` window (the day after the day asked, or the period's next day) and its days. */
static int window_days(const struct eval *ev, const struct period *p, const char **to)
{
	*to = strcmp(ev->day_after, p->next) < 0 ? ev->day_after : p->next;
	return days_from(p->start, *to);
}

static json_t *audit_value(struct eval *ev, const struct meta_kpi *k, const struct period *p)
{
	json_t *people = audit_people(ev);
	if (ev->audit_refused)
		return NULL;
	const char *to = p->next;
	int days = k->per_day ? window_days(ev, p, &to) : 1;
	if (days <= 0)
		return json_null();
	json_t *actions = json_array();
	for (int i = 0; i < k->action_count; i++)
		json_array_append_new(actions, json_string(k->actions[i]));
	const char *distinct = !strcmp(k->measure, "count_distinct(user)") ? "user_id"
	                     : !strcmp(k->measure, "count_distinct(record)") ? "record_id"
	                     : !strcmp(k->measure, "count_distinct(object)") ? "object" : NULL;
	double figure = 0;
	struct store_conn *conn = context_reader(ev->ctx);
	int code = store_audit_figure(conn, actions, p->start, to, people, distinct, k->per_day, &figure, ev->ctx);
	context_reader_done(ev->ctx, conn);
	json_decref(actions);
	if (code != CRM_OK) {
		crm_error_forget(ev->ctx);
		return json_null();
	}
	return k->per_day ? json_real(figure / days) : json_integer((json_int_t)figure);
}

/*
 * retention(f): of the f values of the period before p, the percent that
 * come back in p (null when the period before has none). The two periods
 * are adjacent, so the values in both are those of each less those of the
 * two together: three count_distinct(f) in SQL, however many values.
 */
static json_t *retention(struct eval *ev, const struct meta_kpi *k, const struct period *p, const char *people)
{
	struct period before;
	period_before(k->period, p, &before);
	struct strbuf measure = { 0 };
	strbuf_printf(&measure, "count_distinct(%.*s)", (int)strlen(k->measure) - 11, k->measure + 10);
	bool refused = false;
	json_t *then = figure(ev->ctx, k->object, measure.data, k->filter, k->date_field->name, before.start, p->start,
	                      people, &refused);
	json_t *now = figure(ev->ctx, k->object, measure.data, k->filter, k->date_field->name, p->start, p->next, people,
	                     &refused);
	json_t *both = figure(ev->ctx, k->object, measure.data, k->filter, k->date_field->name, before.start, p->next,
	                      people, &refused);
	strbuf_free(&measure);
	json_t *result = refused ? NULL : json_null();
	double a = json_number_value(then), b = json_number_value(now), all = json_number_value(both);
	if (!refused && json_is_number(then) && a > 0) {
		json_decref(result);
		result = json_real((a + b - all) * 100 / a);
	}
	json_decref(then);
	json_decref(now);
	json_decref(both);
	return result;
}

/* per: day over records: the measure for each day of the window, summed, over the days. */
static json_t *per_day_value(struct eval *ev, const struct meta_kpi *k, const struct period *p, const char *people,
                             bool *refused)
{
	const char *to;
	int days = window_days(ev, p, &to);
	if (days <= 0)
		return json_null();
	struct strbuf text = { 0 }, group = { 0 };
	strbuf_printf(&text, "%s%s%s%s >= '%s' and %s < '%s'%s", k->filter ? "(" : "", k->filter ? k->filter : "",
	              k->filter ? ") and " : "", k->date_field->name, p->start, k->date_field->name, to, people);
	strbuf_printf(&group, "%s:day", k->date_field->name);
	json_t *rows = NULL;
	int code = object_aggregate(ev->ctx, k->object->name, group.data, k->measure, text.data, &rows);
	strbuf_free(&text);
	strbuf_free(&group);
	if (code != CRM_OK) {
		*refused = code == CRM_EDENIED || code == CRM_ENOTFOUND;
		crm_error_forget(ev->ctx);
		return json_null();
	}
	double total = 0;
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row) {
		const char *key;
		json_t *value;
		json_object_foreach(row, key, value)
			if (json_is_number(value))
				total += json_number_value(value);
	}
	json_decref(rows);
	return json_real(total / days);
}

static json_t *kpi_value(struct eval *ev, const struct meta_kpi *k, const struct period *p, int depth);

/* A formula's names, looked up in the figures of its kpis for the same people and period. */
struct formula_env {
	struct eval *ev;
	const struct period *p;
	int depth;
	bool refused;
};

static int formula_lookup(void *arg, const char *path, struct expr_value *out)
{
	struct formula_env *env = arg;
	const struct meta_kpi *input = meta_find_kpi(env->ev->ctx->kernel->meta, path);
	json_t *value = input ? kpi_value(env->ev, input, env->p, env->depth + 1) : NULL;
	memset(out, 0, sizeof(*out));
	if (!value) {
		env->refused = true;
		out->type = EV_NULL;
	} else if (json_is_integer(value)) {
		out->type = EV_INT;
		out->i = json_integer_value(value);
	} else if (json_is_number(value)) {
		out->type = EV_REAL;
		out->r = json_number_value(value);
	} else {
		out->type = EV_NULL;
	}
	return 0;
}

/* A formula kpi: its expression over the other kpis' figures; null when one is unknown or a divisor is 0. */
static json_t *formula_value(struct eval *ev, const struct meta_kpi *k, const struct period *p, int depth)
{
	struct formula_env fe = { ev, p, depth, false };
	struct expr_env env = { .lookup = formula_lookup, .arg = &fe, .me = ev->ctx->user_id };
	struct expr_value out = { 0 };
	char err[128];
	int code = expr_eval(k->formula_expr, &env, &out, err, sizeof(err));
	json_t *result = fe.refused ? NULL
	               : code == CRM_OK && out.type == EV_INT ? json_integer(out.i)
	               : code == CRM_OK && out.type == EV_REAL ? json_real(out.r) : json_null();
	expr_value_clear(&out);
	return result;
}

/*
 * k's figure over period p for the evaluation's people: a number, null when
 * unknown, NULL when the caller may not have it (an object they cannot
 * read, the audit trail of people they may not see). Each (kpi, period)
 * once per evaluation: formulas share their inputs.
 */
static json_t *kpi_value(struct eval *ev, const struct meta_kpi *k, const struct period *p, int depth)
{
	for (int i = 0; i < ev->memo_count; i++)
		if (ev->memos[i].kpi == k && !strcmp(ev->memos[i].start, p->start))
			return ev->memos[i].value;
	json_t *value = NULL;
	bool refused = false;
	if (depth > 32) {
		value = json_null();   /* crm check refuses loops: a guard, not a path */
	} else if (k->source == KPI_SOURCE_FORMULA) {
		value = formula_value(ev, k, p, depth);
	} else if (k->source == KPI_SOURCE_AUDIT) {
		value = audit_value(ev, k, p);
	} else {
		struct strbuf people = { 0 };
		people_filter(ev->ctx, ev->scope, k->owner_field->name, &people);
		const char *who = people.data ? people.data : "";
		if (!strncmp(k->measure, "retention(", 10))
			value = retention(ev, k, p, who);
		else if (k->per_day)
			value = per_day_value(ev, k, p, who, &refused);
		else
			value = figure(ev->ctx, k->object, k->measure, k->filter, k->date_field->name, p->start, p->next, who,
			               &refused);
		strbuf_free(&people);
		if (refused) {
			json_decref(value);
			value = NULL;
		}
	}
	if (ev->memo_count == ev->memo_size) {
		ev->memo_size = ev->memo_size ? ev->memo_size * 2 : 32;
		ev->memos = xrealloc(ev->memos, (size_t)ev->memo_size * sizeof(*ev->memos));
	}
	struct memo *m = &ev->memos[ev->memo_count++];
	m->kpi = k;
	snprintf(m->start, sizeof(m->start), "%s", p->start);
	m->value = value;
	return value;
}

/* What a figure counts, for its display: the kpi's unit, or what its measure says. */
static const char *kpi_unit(const struct meta_kpi *k)
{
	if (k->unit)
		return k->unit;
	if (k->source == KPI_SOURCE_FORMULA)
		return "number";
	if (!strncmp(k->measure, "retention(", 10))
		return "percent";
	if (k->per_day)
		return "number";
	if (k->source == KPI_SOURCE_AUDIT || !strncmp(k->measure, "count", 5))
		return "count";
	size_t length = strlen(k->measure + 4);   /* "sum(amount)" -> amount */
	char name[128];
	snprintf(name, sizeof(name), "%.*s", (int)(length ? length - 1 : 0), k->measure + 4);
	const struct meta_field *f = meta_find_field(k->object, name);
	enum field_type type = f && f->type == FIELD_FORMULA ? f->result_type : f ? f->type : FIELD_DECIMAL;
	return type == FIELD_MONEY ? "money" : type == FIELD_PERCENT ? "percent" : "number";
}

static json_t *kpi_one(struct eval *ev, const struct meta_kpi *k, int year, int month)
{
	struct period p, before;
	period_of(k->period, year, month, &p);
	period_before(k->period, &p, &before);
	json_t *actual = json_incref(kpi_value(ev, k, &p, 0));
	if (!actual)
		return NULL;
	json_t *previous = kpi_value(ev, k, &before, 0);
	previous = previous ? json_incref(previous) : json_null();
	struct crm_ctx *ctx = ev->ctx;
	enum kpi_scope scope = ev->scope;
	json_t *target = json_null();
	if (k->has_target) {
		json_decref(target);
		target = json_real(k->target);
	} else if (k->target_object) {
		struct strbuf target_people = { 0 }, measure = { 0 };
		people_filter(ctx, scope, k->target_owner->name, &target_people);
		strbuf_printf(&measure, "sum(%s)", k->target_field->name);
		bool target_refused = false;
		json_decref(target);
		target = figure(ctx, k->target_object, measure.data, NULL, k->target_date->name, p.start, p.next,
		                target_people.data ? target_people.data : "", &target_refused);
		strbuf_free(&target_people);
		strbuf_free(&measure);
	}
	json_t *attainment = json_null();
	/* up: actual / target (0 is 0%); down: target / actual (nothing to divide by at 0: unknown) */
	if (json_is_number(actual) && json_is_number(target) && json_number_value(target) != 0
	    && (!k->lower_is_better || json_number_value(actual) != 0)) {
		double a = json_number_value(actual), t = json_number_value(target);
		double pct = k->lower_is_better ? t / a * 100 : a / t * 100;
		json_decref(attainment);
		attainment = json_real((double)(long long)(pct * 10 + (pct >= 0 ? 0.5 : -0.5)) / 10);
	}
	static const char *const periods[] = { "month", "quarter", "year" };
	static const char *const sources[] = { "records", "audit", "formula" };
	json_t *label = json_object();
	for (int i = 0; i < k->label.count; i++)
		json_object_set_new(label, k->label.lang[i], json_string(k->label.text[i]));
	if (k->label.count == 0)
		json_object_set_new(label, "en", json_string(k->name));
	return json_pack("{s:s, s:o, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s}",
	                 "name", k->name, "label", label,
	                 "category", k->category == KPI_OPERATING ? "operating" : "business_value",
	                 "direction", k->lower_is_better ? "down" : "up", "source", sources[k->source],
	                 "object", k->object ? k->object->name : NULL, "measure", k->measure, "formula", k->formula,
	                 "unit", kpi_unit(k), "period", periods[k->period], "start", p.start, "end", p.end,
	                 "actual", actual, "target", target, "attainment", attainment, "previous", previous,
	                 "previous_start", before.start);
}

static void eval_free(struct eval *ev)
{
	for (int i = 0; i < ev->memo_count; i++)
		json_decref(ev->memos[i].value);
	free(ev->memos);
	json_decref(ev->audit_people);
}

/*
 * The kpis for day: every kpi (or name) for scope's people, or, for a role,
 * the kpis whose dashboards name it, each for that role's people.
 */
static int evaluate(struct crm_ctx *ctx, const char *day, enum kpi_scope scope, const char *name,
                    const struct meta_role *role, json_t **out)
{
	*out = NULL;
	char today[11];
	if (!day) {
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(today, sizeof(today), "%Y-%m-%d", &tm);
		day = today;
	}
	int year, month, mday;
	char tail;
	if (strlen(day) != 10 || sscanf(day, "%4d-%2d-%2d%c", &year, &month, &mday, &tail) != 3 || year < 1
	    || month < 1 || month > 12 || mday < 1 || mday > 31)
		return crm_error(ctx, CRM_EINVAL, "day: expected YYYY-MM-DD, not '%.20s'", day);
	const struct meta *meta = ctx->kernel->meta;
	if (name && !meta_find_kpi(meta, name))
		return crm_error(ctx, CRM_ENOTFOUND, "no kpi '%.64s'", name);
	static const char *const scopes[] = { "me", "team", "all" };
	struct eval evs[3];
	memset(evs, 0, sizeof(evs));
	for (int s = 0; s < 3; s++) {
		evs[s].ctx = ctx;
		evs[s].scope = (enum kpi_scope)s;
		day_shift(day, 1, evs[s].day_after);
	}
	json_t *list = json_array();
	for (int i = 0; i < meta->kpi_count; i++) {
		const struct meta_kpi *k = &meta->kpis[i];
		int at = role ? -1 : (int)scope;
		for (int d = 0; role && d < k->dashboard_count; d++)
			if (!strcmp(k->dashboard_roles[d], role->name))
				at = (int)k->dashboard_scopes[d];
		if ((name && strcmp(k->name, name) != 0) || at < 0)
			continue;
		json_t *one = kpi_one(&evs[at], k, year, month);
		if (one && role)
			json_object_set_new(one, "scope", json_string(scopes[at]));
		if (one)
			json_array_append_new(list, one);
	}
	for (int s = 0; s < 3; s++)
		eval_free(&evs[s]);
	if (role)
		*out = json_pack("{s:s, s:s, s:o}", "day", day, "role", role->name, "kpis", list);
	else
		*out = json_pack("{s:s, s:s, s:o}", "day", day, "scope", scopes[scope], "kpis", list);
	return CRM_OK;
}

int kpi_evaluate(struct crm_ctx *ctx, const char *day, enum kpi_scope scope, const char *name, json_t **out)
{
	return evaluate(ctx, day, scope, name, NULL, out);
}

int kpi_dashboard(struct crm_ctx *ctx, const char *day, json_t **out)
{
	static const struct meta_role no_role = { .name = "" };   /* names no dashboard */
	*out = NULL;
	const struct meta_role *role = access_load(ctx) == CRM_OK && ctx->access && ctx->access->role
	                             ? ctx->access->role : &no_role;
	crm_error_forget(ctx);
	return evaluate(ctx, day, KPI_SCOPE_ME, NULL, role, out);
}
