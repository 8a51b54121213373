/*
 * meta_model.c - looking things up in a loaded metadata model (see
 * meta_model.h): objects, fields, roles, workflows, types and labels. The
 * loader (meta.c) builds the model; everything else only reads it.
 */
#include <stdint.h>
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
