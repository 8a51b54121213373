/*
 * kpi.c - KPI figures per person, team and period (see kpi.h).
 *
 * Each figure is one object_aggregate over the kpi's object with its filter,
 * the period's bounds on its date field and the people on its owner field:
 * the same query, compiler and row rules as GET /api/v1/reports, so a kpi
 * never counts a record its reader could not list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "access.h"
#include "context.h"
#include "kpi.h"
#include "meta_model.h"
#include "object.h"

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
	if (json_is_null(result) && (!strncmp(measure, "sum(", 4) || !strcmp(measure, "count")))
		return json_integer(0);   /* a sum over no records is nothing, not unknown */
	return result;
}

static json_t *kpi_one(struct crm_ctx *ctx, const struct meta_kpi *k, int year, int month, enum kpi_scope scope,
                       int *code_out)
{
	struct period p, before;
	period_of(k->period, year, month, &p);
	int py, pm;
	sscanf(p.previous, "%d-%d", &py, &pm);
	period_of(k->period, py, pm, &before);
	struct strbuf people = { 0 };
	*code_out = people_filter(ctx, scope, k->owner_field->name, &people);
	if (*code_out != CRM_OK) {
		strbuf_free(&people);
		return NULL;
	}
	bool refused = false;
	const char *who = people.data ? people.data : "";
	json_t *actual = figure(ctx, k->object, k->measure, k->filter, k->date_field->name, p.start, p.next, who,
	                        &refused);
	if (refused) {
		strbuf_free(&people);
		json_decref(actual);
		return NULL;
	}
	json_t *previous = figure(ctx, k->object, k->measure, k->filter, k->date_field->name, before.start, before.next,
	                          who, &refused);
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
	strbuf_free(&people);
	json_t *attainment = json_null();
	if (json_is_number(actual) && json_is_number(target) && json_number_value(target) != 0
	    && json_number_value(actual) != 0) {
		double a = json_number_value(actual), t = json_number_value(target);
		double pct = k->lower_is_better ? t / a * 100 : a / t * 100;
		json_decref(attainment);
		attainment = json_real((double)(long long)(pct * 10 + (pct >= 0 ? 0.5 : -0.5)) / 10);
	}
	static const char *const periods[] = { "month", "quarter", "year" };
	json_t *label = json_object();
	for (int i = 0; i < k->label.count; i++)
		json_object_set_new(label, k->label.lang[i], json_string(k->label.text[i]));
	if (k->label.count == 0)
		json_object_set_new(label, "en", json_string(k->name));
	return json_pack("{s:s, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s}", "name", k->name,
	                 "label", label, "category", k->category == KPI_OPERATING ? "operating" : "business_value",
	                 "direction", k->lower_is_better ? "down" : "up", "object", k->object->name, "measure", k->measure,
	                 "period", periods[k->period], "start", p.start, "end", p.end, "actual", actual, "target", target,
	                 "attainment", attainment, "previous", previous, "previous_start", before.start);
}

int kpi_evaluate(struct crm_ctx *ctx, const char *day, enum kpi_scope scope, const char *name, json_t **out)
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
	json_t *list = json_array();
	for (int i = 0; i < meta->kpi_count; i++) {
		const struct meta_kpi *k = &meta->kpis[i];
		if (name && strcmp(k->name, name) != 0)
			continue;
		int code = CRM_OK;
		json_t *one = kpi_one(ctx, k, year, month, scope, &code);
		if (code != CRM_OK) {
			json_decref(list);
			return code;
		}
		if (one)
			json_array_append_new(list, one);
	}
	static const char *const scopes[] = { "me", "team", "all" };
	*out = json_pack("{s:s, s:s, s:o}", "day", day, "scope", scopes[scope], "kpis", list);
	return CRM_OK;
}
