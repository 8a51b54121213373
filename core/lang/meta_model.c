/*
 * meta_model.c - looking things up in a loaded metadata model (see
 * meta_model.h): objects, fields, roles, workflows, types and labels. The
 * loader (meta.c) builds the model; everything else only reads it.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "meta_model.h"

static const char *const type_names[FIELD_TYPE_COUNT] = {
	"text", "textarea", "email", "phone", "url",
	"int", "decimal", "money", "percent", "bool",
	"date", "datetime", "enum", "multienum", "ref",
	"user", "json", "geo", "autonumber", "formula",
	"rollup",
};

int meta_object_index(const struct meta *meta, const char *name)
{
	for (int i = 0; i < meta->object_count; i++) {
		if (strcmp(meta->objects[i].name, name) == 0)
			return i;
	}
	return -1;
}

uint32_t meta_name_hash(const char *name)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

const struct meta_object *meta_find_object(const struct meta *meta, const char *name)
{
	int index = meta_object_index(meta, name);
	return index < 0 ? NULL : &meta->objects[index];
}

const struct meta_field *meta_find_field(const struct meta_object *object, const char *name)
{
	int index = meta_field_index(object, name);
	return index < 0 ? NULL : &object->fields[index];
}

int meta_field_index(const struct meta_object *object, const char *name)
{
	if (object->field_slots) {
		uint32_t mask = (uint32_t)object->field_slot_count - 1;
		for (uint32_t slot = meta_name_hash(name) & mask;; slot = (slot + 1) & mask) {
			int index = object->field_slots[slot] - 1;
			if (index < 0)
				return -1;
			if (strcmp(object->fields[index].name, name) == 0)
				return index;
		}
	}
	for (int i = 0; i < object->field_count; i++) {
		if (strcmp(object->fields[i].name, name) == 0)
			return i;
	}
	return -1;
}

const struct meta_kpi *meta_find_kpi(const struct meta *meta, const char *name)
{
	for (int i = 0; name && i < meta->kpi_count; i++)
		if (strcmp(meta->kpis[i].name, name) == 0)
			return &meta->kpis[i];
	return NULL;
}

const struct meta_report *meta_find_report(const struct meta *meta, const char *name)
{
	for (int i = 0; name && i < meta->report_count; i++)
		if (strcmp(meta->reports[i].name, name) == 0)
			return &meta->reports[i];
	return NULL;
}

const struct meta_template *meta_find_template(const struct meta *meta, const char *name)
{
	for (int i = 0; name && i < meta->template_count; i++)
		if (strcmp(meta->templates[i].name, name) == 0)
			return &meta->templates[i];
	return NULL;
}

const char *meta_placeholder_next(const char *p, const char **name, size_t *length, const char **end)
{
	const char *start = strstr(p, "{{");
	if (!start)
		return NULL;
	const char *close = strstr(start + 2, "}}");
	*end = close ? close + 2 : NULL;
	const char *a = start + 2, *b = close ? close : a;
	while (a < b && *a == ' ')
		a++;
	while (b > a && b[-1] == ' ')
		b--;
	bool word = a < b && (islower((unsigned char)*a) || *a == '_');
	for (const char *c = a; word && c < b; c++)
		word = islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '_';
	*name = a;
	*length = word ? (size_t)(b - a) : 0;
	return start;
}

const struct meta_calendar *meta_find_calendar(const struct meta *meta, const char *name)
{
	for (int i = 0; meta && name && i < meta->calendar_count; i++)
		if (strcmp(meta->calendars[i].name, name) == 0)
			return &meta->calendars[i];
	return NULL;
}

const struct meta_role *meta_find_role(const struct meta *meta, const char *name)
{
	for (int i = 0; name && i < meta->role_count; i++) {
		if (strcmp(meta->roles[i].name, name) == 0)
			return &meta->roles[i];
	}
	return NULL;
}

const struct meta_role_object *meta_role_object(const struct meta_role *role, const struct meta_object *object)
{
	for (int i = 0; role && i < role->object_count; i++) {
		if (role->objects[i].object == object)
			return &role->objects[i];
	}
	return NULL;
}

const char *meta_type_name(enum field_type type)
{
	if ((int)type < 0 || type >= FIELD_TYPE_COUNT)
		return "unknown";
	return type_names[type];
}

static enum value_kind type_kind(enum field_type type)
{
	switch (type) {
	case FIELD_INT: case FIELD_REF: case FIELD_USER:
		return KIND_INT;
	case FIELD_DECIMAL: case FIELD_MONEY: case FIELD_PERCENT:
		return KIND_REAL;
	case FIELD_BOOL:
		return KIND_BOOL;
	case FIELD_MULTIENUM: case FIELD_JSON: case FIELD_GEO:
		return KIND_JSON;
	default:
		return KIND_TEXT;
	}
}

enum value_kind meta_field_kind(const struct meta_field *field)
{
	if (field->type == FIELD_FORMULA)
		return type_kind(field->result_type);
	if (field->type == FIELD_ROLLUP) {
		if (field->rollup_measure == ROLLUP_COUNT)
			return KIND_INT;
		/* min/max of a date is a date, stored as text like the dates it comes from. */
		if ((field->rollup_measure == ROLLUP_MIN || field->rollup_measure == ROLLUP_MAX) &&
		    field->rollup_child && field->rollup_measure_field) {
			const struct meta_field *measured = meta_find_field(field->rollup_child, field->rollup_measure_field);
			if (measured && (measured->type == FIELD_DATE || measured->type == FIELD_DATETIME))
				return KIND_TEXT;
		}
		return KIND_REAL;
	}
	return type_kind(field->type);
}

bool meta_field_stored(const struct meta_field *field)
{
	return field->type != FIELD_FORMULA;
}

const char *meta_label_text(const struct meta_label *label, const char *lang, const char *fallback)
{
	for (int pass = 0; pass < 2; pass++) {
		const char *want = pass == 0 ? lang : "en";
		for (int i = 0; want && i < label->count; i++) {
			if (strcmp(label->lang[i], want) == 0)
				return label->text[i];
		}
	}
	return fallback;
}

const struct meta_workflow *meta_find_workflow(const struct meta *meta, const char *name)
{
	for (int i = 0; name && i < meta->workflow_count; i++)
		if (strcmp(meta->workflows[i].name, name) == 0)
			return &meta->workflows[i];
	return NULL;
}

const struct meta_workflow *meta_workflow_for_field(const struct meta *meta, const struct meta_object *object,
                                                    const char *field)
{
	for (int i = 0; i < meta->workflow_count; i++) {
		const struct meta_workflow *wf = &meta->workflows[i];
		if (wf->object == object && wf->field && strcmp(wf->field->name, field) == 0)
			return wf;
	}
	return NULL;
}

const struct meta_transition *meta_find_transition(const struct meta_workflow *workflow, const char *name)
{
	for (int i = 0; name && i < workflow->transition_count; i++)
		if (strcmp(workflow->transitions[i].name, name) == 0)
			return &workflow->transitions[i];
	return NULL;
}

bool meta_transition_leaves(const struct meta_workflow *workflow, const struct meta_transition *transition,
                            const char *state)
{
	if (!state)
		return false;
	for (int i = 0; i < transition->from_count; i++)
		if (strcmp(transition->from[i], state) == 0)
			return true;
	if (!transition->from_any)
		return false;
	for (int i = 0; i < workflow->terminal_count; i++)
		if (strcmp(workflow->terminal[i], state) == 0)
			return false;
	return true;
}

static bool has_lang(const struct meta_label *label, const char *lang)
{
	for (int i = 0; i < label->count; i++)
		if (strcmp(label->lang[i], lang) == 0)
			return true;
	return false;
}

/* One missing text: what (object 'x', field 'x.y', ...) and which label. */
static int missing(FILE *out, struct meta_pos pos, const char *lang, const char *what, const char *which)
{
	fprintf(out, "%s:%d:%d: warning: %s has no %s %s\n", pos.file ? pos.file : "?", pos.line, pos.column, what,
	        lang, which);
	return 1;
}

int meta_i18n_missing(const struct meta *meta, const char *lang, void *stream)
{
	FILE *out = stream;
	int count = 0;
	char what[200];
	for (int o = 0; o < meta->object_count; o++) {
		const struct meta_object *object = &meta->objects[o];
		snprintf(what, sizeof(what), "object '%s'", object->name);
		if (!has_lang(&object->label, lang))
			count += missing(out, object->pos, lang, what, "label");
		if (!has_lang(&object->label_plural, lang))
			count += missing(out, object->pos, lang, what, "label_plural");
		if (object->module && !has_lang(&object->module_label, lang)) {
			/* a module needs its label once: on any of its objects */
			bool elsewhere = false;
			for (int k = 0; k < meta->object_count && !elsewhere; k++)
				elsewhere = meta->objects[k].module && strcmp(meta->objects[k].module, object->module) == 0
				            && has_lang(&meta->objects[k].module_label, lang);
			bool first = true;
			for (int k = 0; k < o && first; k++)
				first = !meta->objects[k].module || strcmp(meta->objects[k].module, object->module) != 0;
			if (!elsewhere && first) {
				snprintf(what, sizeof(what), "module '%s'", object->module);
				count += missing(out, object->pos, lang, what, "label (module: { name, label })");
			}
		}
		/* views.charts[].title: a text or { en, zh } (drawn by the UI, passed through /meta) */
		size_t c;
		json_t *chart;
		json_array_foreach(json_object_get(object->views, "charts"), c, chart) {
			json_t *title = json_object_get(chart, "title");
			if (title && !(json_is_object(title) && json_object_get(title, lang))) {
				snprintf(what, sizeof(what), "chart %zu of object '%s'", c + 1, object->name);
				count += missing(out, object->pos, lang, what, "title");
			}
		}
		json_array_foreach(json_object_get(object->views, "home"), c, chart) {
			json_t *title = json_object_get(chart, "title");
			if (title && !(json_is_object(title) && json_object_get(title, lang))) {
				snprintf(what, sizeof(what), "home section %zu of object '%s'", c + 1, object->name);
				count += missing(out, object->pos, lang, what, "title");
			}
		}
		for (int r = 0; r < object->rule_count; r++) {
			snprintf(what, sizeof(what), "a rule of object '%s'", object->name);
			if (!has_lang(&object->rules[r].message_label, lang))
				count += missing(out, object->rules[r].pos, lang, what, "message");
		}
		for (int f = 0; f < object->field_count; f++) {
			const struct meta_field *field = &object->fields[f];
			if (field->system)
				continue;   /* the UI's own catalogue names system fields */
			snprintf(what, sizeof(what), "field '%s.%s'", object->name, field->name);
			if (!has_lang(&field->label, lang))
				count += missing(out, field->pos, lang, what, "label");
			for (int v = 0; v < field->value_count; v++) {
				if (has_lang(&field->value_labels[v], lang))
					continue;
				snprintf(what, sizeof(what), "value '%s' of field '%s.%s'", field->values[v], object->name,
				         field->name);
				count += missing(out, field->pos, lang, what, "label");
			}
		}
	}
	for (int w = 0; w < meta->workflow_count; w++) {
		const struct meta_workflow *wf = &meta->workflows[w];
		for (int t = 0; t < wf->transition_count; t++) {
			const struct meta_transition *tr = &wf->transitions[t];
			snprintf(what, sizeof(what), "transition '%s' of workflow '%s'", tr->name, wf->name);
			if (!has_lang(&tr->label, lang))
				count += missing(out, tr->pos, lang, what, "label");
			if (tr->message.count && !has_lang(&tr->message, lang))
				count += missing(out, tr->pos, lang, what, "message");
		}
	}
	for (int r = 0; r < meta->role_count; r++) {
		const struct meta_role *role = &meta->roles[r];
		snprintf(what, sizeof(what), "the home of role '%s'", role->name);
		if (role->home_title.count && !has_lang(&role->home_title, lang))
			count += missing(out, role->pos, lang, what, "title");
		for (int s = 0; s < role->home_count; s++) {
			snprintf(what, sizeof(what), "home section %d of role '%s'", s + 1, role->name);
			if (role->home[s].title.count && !has_lang(&role->home[s].title, lang))
				count += missing(out, role->home[s].pos, lang, what, "title");
		}
	}
	for (int c = 0; c < meta->calendar_count; c++) {
		snprintf(what, sizeof(what), "calendar '%s'", meta->calendars[c].name);
		if (!has_lang(&meta->calendars[c].label, lang))
			count += missing(out, meta->calendars[c].pos, lang, what, "label");
	}
	for (int r = 0; r < meta->report_count; r++) {
		const struct meta_report *report = &meta->reports[r];
		snprintf(what, sizeof(what), "report '%s'", report->name);
		if (!has_lang(&report->label, lang))
			count += missing(out, report->pos, lang, what, "label");
		for (int m = 0; m < report->measure_count; m++) {
			snprintf(what, sizeof(what), "measure '%s' of report '%s'", report->measures[m].name, report->name);
			if (!has_lang(&report->measures[m].label, lang))
				count += missing(out, report->measures[m].pos, lang, what, "label");
		}
		for (int g = 0; g < report->group_count; g++) {
			snprintf(what, sizeof(what), "group '%s' of report '%s'", report->groups[g].path, report->name);
			if (report->groups[g].label.count && !has_lang(&report->groups[g].label, lang))
				count += missing(out, report->groups[g].pos, lang, what, "label");
		}
	}
	for (int r = 0; r < meta->role_count; r++) {
		snprintf(what, sizeof(what), "role '%s'", meta->roles[r].name);
		if (!has_lang(&meta->roles[r].label, lang))
			count += missing(out, meta->roles[r].pos, lang, what, "label");
	}
	for (int i = 0; i < meta->template_count; i++) {
		const struct meta_template *t = &meta->templates[i];
		snprintf(what, sizeof(what), "template '%s'", t->name);
		if (!has_lang(&t->label, lang))
			count += missing(out, t->pos, lang, what, "label");
		if (t->format == TEMPLATE_JSON)
			continue;   /* a webhook's body is for a program, in no person's language */
		if (!has_lang(&t->subject, lang))
			count += missing(out, t->subject_pos, lang, what, "subject");
		if (!has_lang(&t->body, lang))
			count += missing(out, t->body_pos, lang, what, "body");
	}
	return count;
}
