/*
 * openapi.c - the OpenAPI 3.1 document (GET /api/v1/openapi.json) generated
 * from the metadata, the plugins' registrations and the caller's role: the
 * contract a client of that role can rely on.
 *
 *  - Security: a bearer token (POST /session, API tokens) or the session
 *    cookie, which needs X-CSRF-Token on every write; POST /session (login)
 *    and the plugins' public routes (/public/<plugin>/..., run as the guest,
 *    limited per client address) are the anonymous operations (security: []).
 *  - Every route the router answers: session, meta, openapi.json, batch, per
 *    object list/create/get/patch/delete/restore/history/shares/import/
 *    report/transitions, approvals' approve/reject, plugin routes and plugin
 *    actions; each with its request and response schemas and the
 *    problem+json (RFC 9457) errors it may give.
 *  - Per object: <Name> is the record as GET/create/patch/restore send it
 *    (every field the caller may read, required, nothing else; GET adds
 *    `_transitions`), <Name>ListItem a list record (a `fields=` selection,
 *    dotted paths allowed), <Name>Create / <Name>Update what the server
 *    accepts (no system, computed or workflow state fields, no field the
 *    role may only read; owner only with change_owner).
 *  - Only the objects, fields and operations the caller may use appear: the
 *    same access_allows/access_field rules as GET /meta. The document
 *    depends on the caller's role alone, so api.c renders it once per role.
 *
 * OpenAPI 3.1 uses JSON Schema 2020-12, so a nullable field is
 * {"type": ["string", "null"]} and there is no `nullable` keyword.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "openapi.h"
#include "access.h"
#include "attachment.h"
#include "context.h"
#include "meta_model.h"
#include "object.h"
#include "plugin_registry.h"
#include "report.h"

/* Error responses an operation may give (5XX always). */
enum {
	E400 = 1 << 0, E401 = 1 << 1, E403 = 1 << 2, E404 = 1 << 3, E409 = 1 << 4, E412 = 1 << 5,
	E413 = 1 << 6, E415 = 1 << 7, E422 = 1 << 8, E428 = 1 << 9, E429 = 1 << 10,
};
#define E_READ (E400 | E401 | E404)
#define E_WRITE (E400 | E401 | E403 | E404 | E409 | E415 | E422)

struct doc {
	struct crm_ctx *ctx;
	const struct meta *meta;
	json_t *paths, *schemas;
	json_t *records;       /* [$ref to every record schema]: batch results */
	json_t *object_names;  /* visible object names */
	json_t *tags;
};

/* "Account" from "account", "SalesOrder" from "sales_order": schema names. */
static void schema_name(const char *object, char *out, size_t size)
{
	size_t len = 0;
	bool upper = true;
	for (const char *p = object; *p && len + 1 < size; p++) {
		if (*p == '_') {
			upper = true;
			continue;
		}
		out[len++] = upper && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
		upper = false;
	}
	out[len] = '\0';
}

static json_t *ref_to(const char *schema)
{
	char ref[160];
	snprintf(ref, sizeof(ref), "#/components/schemas/%s", schema);
	return json_pack("{s:s}", "$ref", ref);
}

static json_t *ref_named(const char *object_schema, const char *suffix)
{
	char name[120];
	snprintf(name, sizeof(name), "%s%s", object_schema, suffix);
	return ref_to(name);
}

static json_t *nullable(const char *type)
{
	return json_pack("[s, s]", type, "null");
}

/* ---- the caller's view ---------------------------------------------------- */

static bool computed_field(const struct meta_field *field)
{
	return field->type == FIELD_FORMULA || field->type == FIELD_ROLLUP || field->type == FIELD_AUTONUMBER ||
	       field->formula != NULL;
}

static bool state_field(const struct meta *meta, const struct meta_object *object, const struct meta_field *field)
{
	return meta_workflow_for_field(meta, object, field->name) != NULL;
}

/* Mirrors object.c: admins and roles with change_owner may write owner. */
static bool may_change_owner(struct crm_ctx *ctx, const struct meta_object *object)
{
	if (access_is_admin(ctx))
		return true;
	const struct meta_role *role = ctx->access && ctx->access->active ? ctx->access->role : NULL;
	const struct meta_role_object *ro = role ? meta_role_object(role, object) : NULL;
	return ro && ro->change_owner;
}

/* Whether the caller may send field in a create (or an update) body: object.c's writable(). */
static bool accepts(struct doc *d, const struct meta_object *object, const struct meta_field *field, bool create)
{
	if (access_field(d->ctx, object, field) != FIELD_ACCESS_WRITE)
		return false;
	if (field->system)
		return strcmp(field->name, "owner") == 0 && may_change_owner(d->ctx, object);
	if (computed_field(field) || state_field(d->meta, object, field))
		return false;
	return create || !field->readonly;
}

/* The transitions of object's workflows this caller's role may fire (names, owned array). */
static json_t *caller_transitions(struct doc *d, const struct meta_object *object)
{
	json_t *names = json_array();
	bool admin = access_is_admin(d->ctx);
	const struct meta_role *role = d->ctx->access && d->ctx->access->active ? d->ctx->access->role : NULL;
	if (!admin && !access_allows(d->ctx, object, ACCESS_UPDATE))
		return names;
	for (int w = 0; w < d->meta->workflow_count; w++) {
		const struct meta_workflow *wf = &d->meta->workflows[w];
		if (wf->object != object || !wf->field)
			continue;
		for (int t = 0; t < wf->transition_count; t++) {
			const struct meta_transition *tr = &wf->transitions[t];
			bool allowed = admin || tr->role_count == 0;
			for (int k = 0; !allowed && role && k < tr->role_count; k++)
				allowed = strcmp(tr->roles[k], role->name) == 0;
			if (allowed)
				json_array_append_new(names, json_string(tr->name));
		}
	}
	return names;
}

/* ---- schemas ---------------------------------------------------------------- */

/*
 * The JSON Schema of one field's value: in a record (readOnly where the
 * caller cannot write it) or in a request body; `default` (what the server
 * fills in when a create leaves the field out) only in create bodies.
 */
static json_t *field_schema(const struct meta_field *field, bool read_only, bool request, bool create)
{
	json_t *s = json_object();
	enum field_type type = field->type;
	const char *en = meta_label_text(&field->label, "en", field->name);

	if (type == FIELD_FORMULA || field->formula)
		type = field->result_type;
	json_object_set_new(s, "title", json_string(en));
	switch (type) {
	case FIELD_TEXT: case FIELD_TEXTAREA: case FIELD_EMAIL: case FIELD_PHONE: case FIELD_URL:
		json_object_set_new(s, "type", nullable("string"));
		if (field->max_length > 0)
			json_object_set_new(s, "maxLength", json_integer(field->max_length));
		if (type == FIELD_EMAIL)
			json_object_set_new(s, "format", json_string("email"));
		if (type == FIELD_URL)
			json_object_set_new(s, "format", json_string("uri"));
		if (type == FIELD_PHONE)
			json_object_set_new(s, "x-crm-format", json_string("phone"));
		break;
	case FIELD_INT:
		json_object_set_new(s, "type", nullable("integer"));
		json_object_set_new(s, "format", json_string("int64"));
		break;
	case FIELD_DECIMAL: case FIELD_MONEY: case FIELD_PERCENT:
		json_object_set_new(s, "type", nullable("number"));
		json_object_set_new(s, "x-crm-scale", json_integer(field->scale));
		break;
	case FIELD_BOOL:
		json_object_set_new(s, "type", nullable("boolean"));
		break;
	case FIELD_DATE:
		json_object_set_new(s, "type", nullable("string"));
		json_object_set_new(s, "format", json_string("date"));
		break;
	case FIELD_DATETIME:
		json_object_set_new(s, "type", nullable("string"));
		json_object_set_new(s, "format", json_string("date-time"));
		break;
	case FIELD_ENUM: {
		json_t *values = json_array();
		for (int i = 0; i < field->value_count; i++)
			json_array_append_new(values, json_string(field->values[i]));
		json_array_append_new(values, json_null());
		json_object_set_new(s, "type", nullable("string"));
		json_object_set_new(s, "enum", values);
		break;
	}
	case FIELD_MULTIENUM: {
		json_t *values = json_array();
		for (int i = 0; i < field->value_count; i++)
			json_array_append_new(values, json_string(field->values[i]));
		json_object_set_new(s, "type", nullable("array"));
		json_object_set_new(s, "items", json_pack("{s:s, s:o}", "type", "string", "enum", values));
		json_object_set_new(s, "uniqueItems", json_true());
		break;
	}
	case FIELD_REF: case FIELD_USER:
		json_object_set_new(s, "type", nullable("integer"));
		json_object_set_new(s, "format", json_string("int64"));
		json_object_set_new(s, "description", json_sprintf("id of a %s record",
			field->to ? field->to : "user"));
		if (field->to)
			json_object_set_new(s, "x-crm-ref", json_string(field->to));
		break;
	case FIELD_JSON:
		json_object_set_new(s, "description", json_string("any JSON value"));
		break;
	case FIELD_GEO:
		json_object_set_new(s, "type", nullable("object"));
		json_object_set_new(s, "properties", json_pack(
			"{s:{s:s, s:i, s:i}, s:{s:s, s:i, s:i}}",
			"lat", "type", "number", "minimum", -90, "maximum", 90,
			"lng", "type", "number", "minimum", -180, "maximum", 180));
		json_object_set_new(s, "required", json_pack("[s, s]", "lat", "lng"));
		json_object_set_new(s, "additionalProperties", json_false());
		break;
	case FIELD_AUTONUMBER:
		json_object_set_new(s, "type", json_string("string"));
		if (field->format)
			json_object_set_new(s, "x-crm-format", json_string(field->format));
		break;
	case FIELD_ROLLUP: {
		/* min and max of a date or datetime are one (the last order's day), the rest numbers */
		const struct meta_field *measured = field->rollup_measure_field && field->rollup_child
		                                    ? meta_find_field(field->rollup_child, field->rollup_measure_field) : NULL;
		bool when = (field->rollup_measure == ROLLUP_MIN || field->rollup_measure == ROLLUP_MAX) && measured &&
		            (measured->type == FIELD_DATE || measured->type == FIELD_DATETIME);
		json_object_set_new(s, "type", nullable(when ? "string" : "number"));
		if (when)
			json_object_set_new(s, "format", json_string(measured->type == FIELD_DATE ? "date" : "date-time"));
		break;
	}
	default:
		break;
	}
	/* the server always fills these: never null */
	if (field->system && (strcmp(field->name, "id") == 0 || strcmp(field->name, "version") == 0 ||
	                      strcmp(field->name, "created_at") == 0 || strcmp(field->name, "updated_at") == 0))
		json_object_set(s, "type", json_array_get(json_object_get(s, "type"), 0));
	if (field->has_min || field->has_max) {
		bool text = type == FIELD_TEXT || type == FIELD_TEXTAREA || type == FIELD_EMAIL ||
		            type == FIELD_PHONE || type == FIELD_URL;
		if (!text && field->has_min)
			json_object_set_new(s, "minimum", json_real(field->min));
		if (!text && field->has_max)
			json_object_set_new(s, "maximum", json_real(field->max));
	}
	if (field->default_value && create)
		json_object_set(s, "default", field->default_value);
	if (read_only && !request)
		json_object_set_new(s, "readOnly", json_true());
	json_object_set_new(s, "x-crm-type", json_string(meta_type_name(field->type)));
	if (field->formula && !request)
		json_object_set_new(s, "x-crm-formula", json_string(field->formula));
	return s;
}

/* `_transitions` of a GET: the names of the transitions the caller may fire now. */
static json_t *transitions_schema(json_t *names)
{
	json_t *s = json_pack("{s:s, s:s, s:b}", "type", "array", "description",
		"The workflow transitions the caller may fire on this record now (GET only)", "readOnly", 1);
	if (json_array_size(names))
		json_object_set_new(s, "items", json_pack("{s:s, s:O}", "type", "string", "enum", names));
	else {
		json_object_set_new(s, "items", json_pack("{s:s}", "type", "string"));
		json_object_set_new(s, "maxItems", json_integer(0));
	}
	return s;
}

/*
 * The record as the server sends it: every visible field, required (GET,
 * create, patch, restore always send them all), plus `_transitions` (GET only).
 */
/* The schema of every field the caller may read, by name; their names appended to required (may be NULL). */
static json_t *readable_properties(struct doc *d, const struct meta_object *object, json_t *required)
{
	json_t *properties = json_object();
	for (int i = 0; i < object->field_count; i++) {
		const struct meta_field *field = &object->fields[i];
		enum field_access fa = access_field(d->ctx, object, field);
		if (fa == FIELD_ACCESS_HIDDEN)
			continue;
		bool read_only = field->system || field->readonly || computed_field(field) ||
		                 state_field(d->meta, object, field) || fa == FIELD_ACCESS_READ;
		json_object_set_new(properties, field->name, field_schema(field, read_only, false, false));
		if (required)
			json_array_append_new(required, json_string(field->name));
	}
	return properties;
}

static json_t *record_schema(struct doc *d, const struct meta_object *object, json_t *transitions)
{
	json_t *required = json_array();
	json_t *properties = readable_properties(d, object, required);
	json_object_set_new(properties, "_transitions", transitions_schema(transitions));
	/* the plugin actions (plugin.yaml actions:) whose `when` holds for the caller, on objects that have any */
	json_object_set_new(properties, "_actions", json_pack("{s:s, s:{s:s}, s:s, s:b}", "type", "array", "items", "type",
		"string", "description", "Declared plugin actions that apply to this record now (plugin.action names)",
		"readOnly", 1));
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:b}", "type", "object",
		"title", meta_label_text(&object->label, "en", object->name),
		"description", "A record as GET, create, patch and restore send it: every field the caller may read",
		"properties", properties, "required", required, "additionalProperties", 0);
}

/* A list record: the fields asked for (`fields=`, dotted paths too) or all of them; id always. */
static json_t *list_item_schema(struct doc *d, const struct meta_object *object)
{
	json_t *properties = readable_properties(d, object, NULL);
	return json_pack("{s:s, s:s, s:o, s:{s:{s:s}}, s:[s], s:b}", "type", "object",
		"description", "A record in a list page: every readable field, or those named in `fields` "
		"(dotted paths such as account.name appear under their path)",
		"properties", properties,
		"patternProperties", "^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$", "description", "a dotted path's value",
		"required", "id", "additionalProperties", 0);
}

/* The body of a create or a patch: only what the server accepts from this caller. */
static json_t *input_schema(struct doc *d, const struct meta_object *object, bool create)
{
	json_t *properties = json_object(), *required = json_array();
	for (int i = 0; i < object->field_count; i++) {
		const struct meta_field *field = &object->fields[i];
		if (!accepts(d, object, field, create))
			continue;
		json_object_set_new(properties, field->name, field_schema(field, false, true, create));
		if (create && field->required && !field->default_value)
			json_array_append_new(required, json_string(field->name));
	}
	json_t *s = json_pack("{s:s, s:s, s:o, s:b}", "type", "object", "description", create
		? "A new record's values: the fields the caller may write (system, computed and workflow state "
		  "fields are set by the server)"
		: "Changed fields (merge patch; null clears); system, computed, workflow state and readonly "
		  "fields are refused", "properties", properties, "additionalProperties", 0);
	if (json_array_size(required))
		json_object_set_new(s, "required", required);
	else
		json_decref(required);
	return s;
}

static json_t *problem_schema(void)
{
	return json_pack("{s:s, s:s, s:b, s:[s,s,s], s:{s:{s:s, s:s}, s:{s:s}, s:{s:s, s:i, s:i}, s:{s:s}, s:{s:s},"
	                 " s:{s:s}, s:{s:s, s:{s:s, s:[s,s,s], s:{s:{s:s}, s:{s:s}, s:{s:s}}}},"
	                 " s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:s, s:{s:s}}}}",
		"type", "object", "description", "RFC 9457 problem details; other extension members may appear",
		"additionalProperties", 1, "required", "type", "title", "status",
		"properties",
		"type", "type", "string", "description", "urn:crm:problem:<kind>",
		"title", "type", "string",
		"status", "type", "integer", "minimum", 400, "maximum", 599,
		"detail", "type", "string",
		"request_id", "type", "string",
		"code", "type", "string",
		"errors", "type", "array", "items", "type", "object", "required", "field", "code", "message",
		"properties", "field", "type", "string", "code", "type", "string", "message", "type", "string",
		"current_version", "type", "integer", "description", "412 on a patch: the record's version now",
		"failed", "type", "integer", "description", "batch: the index of the operation that failed",
		"rolled_back", "type", "boolean", "description", "batch: nothing was written",
		"results", "type", "array", "description", "batch: every operation's outcome", "items", "type", "object");
}

static json_t *label_schema(void)
{
	return json_pack("{s:s, s:{s:s}, s:s}", "type", "object", "additionalProperties", "type", "string",
	                 "description", "A text per language code (en, zh, ...)");
}

/* GET /meta caller.home: the caller's role's home page (role `home:`), sections of readable objects only. */
static json_t *caller_home_schema(void)
{
	json_t *section = json_pack("{s:s, s:[s,s,s], s:{s:{s:s}, s:o, s:{s:s}, s:{s:s}, s:{s:s, s:{s:s}},"
	                            " s:{s:s, s:i, s:i}, s:{s:s}}}",
		"type", "object", "required", "object", "limit", "new", "properties",
		"object", "type", "string", "title", label_schema(), "filter", "type", "string", "sort", "type", "string",
		"fields", "type", "array", "items", "type", "string", "limit", "type", "integer", "minimum", 1, "maximum", 50,
		"new", "type", "boolean");
	return json_pack("{s:s, s:[s], s:{s:o, s:{s:s, s:o}}, s:s}", "type", "object", "required", "sections",
	                 "properties", "title", label_schema(), "sections", "type", "array", "items", section,
	                 "description", "The caller's role's home page (a portal): shown instead of the objects' views.home");
}

/* GET /meta as the caller sees it (api.c handle_meta). */
static void add_meta_schemas(struct doc *d)
{
	json_t *field = json_pack("{s:s, s:[s,s,s,s,s,s], s:{s:{s:s}, s:{s:s}, s:o, s:{s:s}, s:{s:s}, s:{s:s},"
	                          " s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{}, s:{s:s, s:{s:s, s:[s,s],"
	                          " s:{s:{s:s}, s:o}}}, s:{s:s}, s:{s:s, s:[s,s,s]}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}}",
		"type", "object", "required", "name", "type", "label", "required", "readonly", "system",
		"properties",
		"name", "type", "string", "type", "type", "string", "label", label_schema(),
		"required", "type", "boolean", "readonly", "type", "boolean", "system", "type", "boolean",
		"search", "type", "boolean", "unique", "type", "boolean", "min", "type", "number", "max", "type", "number",
		"max_length", "type", "integer", "scale", "type", "integer", "default",
		"values", "type", "array", "items", "type", "object", "required", "value", "label",
		"properties", "value", "type", "string", "label", label_schema(),
		"to", "type", "string", "on_delete", "type", "string", "enum", "restrict", "set_null", "cascade",
		"formula", "type", "string", "returns", "type", "string", "rollup", "type", "object",
		"format", "type", "string");
	/* $me, $user.<field>, today() or now(): a default the server works out at creation */
	json_object_set_new(json_object_get(field, "properties"), "default_expr", json_pack("{s:s}", "type", "string"));
	/* money: a fixed ISO 4217 code, or {field}: the record's field that holds it */
	json_object_set_new(json_object_get(field, "properties"), "currency",
	                    json_pack("{s:[{s:s, s:s}, {s:s, s:[s], s:{s:{s:s}}}]}", "oneOf", "type", "string", "pattern",
	                              "^[A-Z]{3}$", "type", "object", "required", "field", "properties", "field", "type",
	                              "string"));
	json_object_set_new(d->schemas, "MetaField", field);

	json_t *transition = json_pack("{s:s, s:[s,s,s,s,s], s:{s:{s:s}, s:{s:s, s:{s:s}}, s:{s:s}, s:{s:s}, s:{s:s}}}",
		"type", "object", "required", "name", "from", "from_any", "to", "approval", "properties",
		"name", "type", "string", "from", "type", "array", "items", "type", "string", "from_any", "type", "boolean",
		"to", "type", "string", "approval", "type", "boolean");
	/* the button's label, and what a failed guard tells the user (meta_label: text or {en, zh}) */
	json_object_set_new(json_object_get(transition, "properties"), "label", label_schema());
	json_object_set_new(json_object_get(transition, "properties"), "message", label_schema());
	/* the fields the transition requires (require:), when it has any */
	json_object_set_new(json_object_get(transition, "properties"), "require",
	                    json_pack("{s:s, s:{s:s}}", "type", "array", "items", "type", "string"));
	json_t *object = json_pack("{s:s, s:[s,s,s,s,s,s,s,s], s:{s:{s:s}, s:o, s:{s:[s,s]}, s:{s:s, s:o},"
	                           " s:{s:s, s:{s:s, s:[s], s:{s:{s:s}, s:{s:s}}}}, s:{s:s},"
	                           " s:{s:s, s:{s:s, s:[s,s,s,s], s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s, s:o}}}},"
	                           " s:{s:s, s:[s,s,s,s], s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}}}}",
		"type", "object", "required", "name", "label", "module", "fields", "rules", "views", "workflows", "can",
		"properties",
		"name", "type", "string", "label", label_schema(), "module", "type", "string", "null",
		"fields", "type", "array", "items", ref_to("MetaField"),
		"rules", "type", "array", "items", "type", "object", "required", "message", "properties",
		"message", "type", "string", "field", "type", "string",
		"views", "type", "object",
		"workflows", "type", "array", "items", "type", "object", "required", "name", "field", "initial",
		"transitions", "properties", "name", "type", "string", "field", "type", "string", "initial", "type", "string",
		"transitions", "type", "array", "items", transition,
		"can", "type", "object", "required", "read", "create", "update", "delete", "properties",
		"read", "type", "boolean", "create", "type", "boolean", "update", "type", "boolean", "delete", "type", "boolean");
	json_object_set_new(json_object_get(object, "properties"), "module_label", label_schema());
	json_object_set_new(json_object_get(object, "properties"), "label_plural", label_schema());
	/* a ledger (api.c handle_meta): present, and true, only on an append-only object */
	json_object_set_new(json_object_get(object, "properties"), "append_only", json_pack("{s:s}", "type", "boolean"));
	json_object_set_new(json_object_get(object, "properties"), "actions", json_pack("{s:s, s:{s:s, s:[s], s:{s:{s:s}, s:o, s:o}}}",
		"type", "array", "items", "type", "object", "required", "name", "properties", "name", "type", "string",
		"label", label_schema(), "confirm", label_schema()));
	json_t *rule_properties = json_object_get(json_object_get(json_object_get(json_object_get(object, "properties"),
	                                                                          "rules"), "items"), "properties");
	json_object_set_new(rule_properties, "message_label", label_schema());
	json_object_set_new(d->schemas, "MetaObject", object);

	json_t *meta = json_pack("{s:s, s:[s,s,s], s:{s:{s:s, s:[s,s,s,s], s:{s:{s:s}, s:{s:s}, s:{s:s, s:{s:s}},"
	                         " s:{s:s}, s:{s:s}}}, s:{s:s, s:o}, s:{s:s, s:[s,s], s:{s:{s:s}, s:{s:s}, s:{s:s}}}}}",
		"type", "object", "required", "app", "objects", "caller", "properties",
		"app", "type", "object", "required", "name", "languages", "version", "kernel", "properties",
		"name", "type", "string", "industry", "type", "string", "languages", "type", "array", "items", "type", "string",
		"version", "type", "string", "kernel", "type", "string",
		"objects", "type", "array", "items", ref_to("MetaObject"),
		"caller", "type", "object", "required", "user", "admin", "properties",
		"user", "type", "integer", "role", "type", "string", "admin", "type", "boolean");
	json_object_set_new(json_object_get(json_object_get(json_object_get(meta, "properties"), "caller"), "properties"),
	                    "navigation", json_pack("{s:s, s:{s:s}, s:s}", "type", "array", "items", "type", "string",
	                                            "description", "The modules and objects the caller's role works with"));
	json_object_set_new(json_object_get(json_object_get(json_object_get(meta, "properties"), "caller"), "properties"),
	                    "home", caller_home_schema());
	json_object_set_new(json_object_get(json_object_get(json_object_get(meta, "properties"), "caller"), "properties"),
	                    "dashboard", json_pack("{s:s, s:s}", "type", "boolean", "description",
	                                           "Whether the caller's dashboard has tiles, reports, charts or boards"));
	/* app.yaml config: { currency: EUR }: the currency money fields show */
	json_object_set_new(json_object_get(json_object_get(json_object_get(meta, "properties"), "app"), "properties"),
	                    "currency", json_pack("{s:s, s:s}", "type", "string", "pattern", "^[A-Z]{3}$"));
	json_object_set_new(d->schemas, "Meta", meta);
}

/* ---- operations ------------------------------------------------------------ */

static json_t *param(const char *name, const char *in, bool required, json_t *schema,
                     const char *description)
{
	return json_pack("{s:s, s:s, s:b, s:o, s:s}", "name", name, "in", in, "required", required,
	                 "schema", schema, "description", description);
}

static json_t *problem_response(const char *description)
{
	return json_pack("{s:s, s:{s:{s:o}}}", "description", description, "content",
	                 "application/problem+json", "schema", ref_to("Problem"));
}

/* ok (stolen) holds the success responses; adds the error responses named in errors, and 5XX. */
static json_t *responses(json_t *ok, unsigned errors)
{
	static const struct { unsigned bit; const char *status, *text; } table[] = {
		{ E400, "400", "Malformed request: bad parameter, filter, cursor or JSON, or over a limit" },
		{ E401, "401", "No session, or the session ended: log in (POST /session)" },
		{ E403, "403", "Refused: the role may not do this to this record, or a cookie-authenticated write "
		               "lacks X-CSRF-Token" },
		{ E404, "404", "No such record, or one the caller may not read" },
		{ E409, "409", "Conflict: wrong workflow state, still referenced, already deleted, or not unique" },
		{ E412, "412", "Lost update: If-Match no longer matches (current_version tells the version now)" },
		{ E413, "413", "Body or batch over the size limit" },
		{ E415, "415", "Body sent with an unsupported Content-Type" },
		{ E422, "422", "Invalid values: errors[] lists every field error" },
		{ E428, "428", "If-Match is required" },
		{ E429, "429", "Too many failed logins: wait Retry-After seconds" },
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (errors & table[i].bit)
			json_object_set_new(ok, table[i].status, problem_response(table[i].text));
	json_object_set_new(ok, "5XX", problem_response("Server error (503 busy or out of memory: retry after "
	                                                "Retry-After; 507 storage full)"));
	return ok;
}

static json_t *json_content(json_t *schema)
{
	return json_pack("{s:{s:o}}", "application/json", "schema", schema);
}

static json_t *json_response(const char *description, json_t *schema)
{
	return json_pack("{s:s, s:o}", "description", description, "content", json_content(schema));
}

static json_t *etag_header(void)
{
	return json_pack("{s:{s:s, s:{s:s}}}", "ETag", "description", "The record's version, quoted",
	                 "schema", "type", "string");
}

static json_t *record_response(json_t *schema, const char *description)
{
	return json_pack("{s:s, s:o, s:o}", "description", description, "headers", etag_header(),
	                 "content", json_content(schema));
}

static json_t *security_read(void)
{
	return json_pack("[{s:[]}, {s:[]}]", "bearer", "session_cookie");
}

static json_t *security_write(void)
{
	return json_pack("[{s:[]}, {s:[], s:[]}]", "bearer", "session_cookie", "csrf_header");
}

/* An operation: summary, tag, security for a read or a write, responses (stolen). */
static json_t *operation(const char *op_id, const char *summary, const char *tag, bool write, json_t *responses)
{
	return json_pack("{s:s, s:s, s:[s], s:o, s:o}", "operationId", op_id, "summary", summary, "tags", tag,
	                 "security", write ? security_write() : security_read(), "responses", responses);
}

static void set_body(json_t *op, json_t *content, bool required)
{
	json_object_set_new(op, "requestBody", json_pack("{s:b, s:o}", "required", required, "content", content));
}

static json_t *list_parameters(void)
{
	json_t *p = json_array();
	json_array_append_new(p, param("filter", "query", false, json_pack("{s:s, s:i}", "type", "string", "maxLength", 65536),
		"Expression over the object's fields, e.g. amount > 1000 and stage in ('won','lost')"));
	json_array_append_new(p, param("sort", "query", false, json_pack("{s:s}", "type", "string"),
		"Comma-separated fields or dotted paths; a leading '-' sorts descending"));
	json_array_append_new(p, param("limit", "query", false,
		json_pack("{s:s, s:i, s:i, s:i}", "type", "integer", "minimum", 1, "maximum", OBJECT_MAX_LIMIT,
		          "default", OBJECT_DEFAULT_LIMIT), "Records per page"));
	json_array_append_new(p, param("after", "query", false, json_pack("{s:s}", "type", "string"),
		"Opaque cursor: the `next` of the previous page"));
	json_array_append_new(p, param("fields", "query", false, json_pack("{s:s}", "type", "string"),
		"Comma-separated fields or dotted paths to return (id always comes too)"));
	json_array_append_new(p, param("search", "query", false, json_pack("{s:s}", "type", "string"),
		"Full-text search of the fields marked search: true: records holding every term, best first unless sorted"));
	json_array_append_new(p, param("q", "query", false, json_pack("{s:s}", "type", "string"),
		"The same as search (the search box's name for it)"));
	json_array_append_new(p, param("count", "query", false,
		json_pack("{s:s, s:[s,s,s,s]}", "type", "string", "enum", "true", "exact", "estimate", "false"),
		"Include `total`: exact (true) or estimated"));
	json_array_append_new(p, param("deleted", "query", false, json_pack("{s:s}", "type", "boolean"),
		"List the recycle bin instead of live records"));
	json_array_append_new(p, param("format", "query", false,
		json_pack("{s:s, s:[s,s]}", "type", "string", "enum", "json", "csv"),
		"csv streams every matching record as CSV (limit and after are ignored)"));
	return p;
}

static json_t *if_match_header(bool required)
{
	return param("If-Match", "header", required, json_pack("{s:s}", "type", "string"),
		required ? "The record's ETag; a mismatch is a 412 (lost update), its absence a 428"
		         : "The record's ETag; a mismatch is a 412 (lost update)");
}

static json_t *id_param(const char *name, const char *description)
{
	return param(name, "path", true,
		json_pack("{s:s, s:s, s:i}", "type", "integer", "format", "int64", "minimum", 1), description);
}

/* Adds op (stolen) under method of path; parameters (stolen, may be NULL) are the path item's when it is new. */
static void add_op(struct doc *d, const char *path, const char *method, json_t *op, json_t *parameters)
{
	json_t *item = json_object_get(d->paths, path);
	if (!item) {
		item = json_object();
		if (parameters)
			json_object_set(item, "parameters", parameters);
		json_object_set_new(d->paths, path, item);
	}
	json_decref(parameters);
	json_object_set_new(item, method, op);
}

static void add_object_paths(struct doc *d, const struct meta_object *object)
{
	char schema[80], path[200], op_id[120], summary[200];
	const char *name = object->name;
	bool may_create = access_allows(d->ctx, object, ACCESS_CREATE);
	/* an append-only object's records are never changed or deleted: no PATCH, DELETE or restore */
	bool may_update = !object->append_only && access_allows(d->ctx, object, ACCESS_UPDATE);
	bool may_delete = !object->append_only && access_allows(d->ctx, object, ACCESS_DELETE);
	json_t *ids = json_pack("[o]", id_param("id", "Record id"));
	json_t *transitions = caller_transitions(d, object);
	json_t *op, *r;

	schema_name(name, schema, sizeof(schema));
	json_object_set_new(d->schemas, schema, record_schema(d, object, transitions));
	snprintf(summary, sizeof(summary), "%sListItem", schema);
	json_object_set_new(d->schemas, summary, list_item_schema(d, object));
	snprintf(summary, sizeof(summary), "%sList", schema);
	json_object_set_new(d->schemas, summary, json_pack(
		"{s:s, s:[s,s], s:{s:{s:s, s:o}, s:{s:[s,s], s:s}, s:{s:s, s:i, s:s}}, s:b}",
		"type", "object", "required", "records", "next", "properties",
		"records", "type", "array", "items", ref_named(schema, "ListItem"),
		"next", "type", "string", "null", "description", "The cursor of the next page (after=), null on the last",
		"total", "type", "integer", "minimum", 0, "description", "With count=true or estimate",
		"additionalProperties", 0));
	if (may_create) {
		snprintf(summary, sizeof(summary), "%sCreate", schema);
		json_object_set_new(d->schemas, summary, input_schema(d, object, true));
	}
	if (may_update) {
		snprintf(summary, sizeof(summary), "%sUpdate", schema);
		json_object_set_new(d->schemas, summary, input_schema(d, object, false));
	}
	json_array_append_new(d->records, ref_to(schema));
	json_array_append_new(d->object_names, json_string(name));
	json_array_append_new(d->tags, json_pack("{s:s, s:s}", "name", name, "description",
		meta_label_text(&object->label, "en", name)));

	/* list, create */
	snprintf(path, sizeof(path), "/objects/%s", name);
	snprintf(op_id, sizeof(op_id), "list_%s", name);
	r = responses(json_pack("{s:{s:s, s:{s:{s:o}, s:{s:{s:s}}}}}", "200", "description", "One page",
		"content", "application/json", "schema", ref_named(schema, "List"),
		"text/csv", "schema", "type", "string"), E_READ);
	op = operation(op_id, "List records (keyset pages)", name, false, r);
	json_object_set_new(op, "parameters", list_parameters());
	add_op(d, path, "get", op, NULL);
	if (may_create) {
		snprintf(op_id, sizeof(op_id), "create_%s", name);
		json_t *created = record_response(ref_to(schema), "Created; Location names the record");
		json_object_set_new(json_object_get(created, "headers"), "Location",
			json_pack("{s:s, s:{s:s}}", "description", "The new record's URL", "schema", "type", "string"));
		r = responses(json_pack("{s:o}", "201", created), E_WRITE);
		op = operation(op_id, "Create a record", name, true, r);
		set_body(op, json_content(ref_named(schema, "Create")), true);
		add_op(d, path, "post", op, NULL);
	}

	/* get, patch, delete */
	snprintf(path, sizeof(path), "/objects/%s/{id}", name);
	snprintf(op_id, sizeof(op_id), "get_%s", name);
	r = responses(json_pack("{s:o, s:{s:s, s:o}}",
		"200", record_response(json_pack("{s:[o], s:[s]}", "allOf", ref_to(schema), "required", "_transitions"),
		                       meta_label_text(&object->label, "en", name)),
		"304", "description", "Not modified (If-None-Match)", "headers", etag_header()), E_READ);
	op = operation(op_id, "Read a record", name, false, r);
	json_object_set_new(op, "parameters", json_pack("[o, o]",
		param("deleted", "query", false, json_pack("{s:s}", "type", "boolean"), "Also find the record in the recycle bin"),
		param("If-None-Match", "header", false, json_pack("{s:s}", "type", "string"), "A 304 when the ETag still matches")));
	add_op(d, path, "get", op, json_incref(ids));
	if (may_update) {
		snprintf(op_id, sizeof(op_id), "update_%s", name);
		r = responses(json_pack("{s:o}", "200", record_response(ref_to(schema), "Updated")), E_WRITE | E412 | E428);
		op = operation(op_id, "Change fields (merge patch; null clears)", name, true, r);
		json_object_set_new(op, "parameters", json_pack("[o]", if_match_header(true)));
		set_body(op, json_pack("{s:{s:o}, s:{s:o}}", "application/json", "schema", ref_named(schema, "Update"),
		                       "application/merge-patch+json", "schema", ref_named(schema, "Update")), true);
		add_op(d, path, "patch", op, json_incref(ids));
	}
	if (may_delete) {
		snprintf(op_id, sizeof(op_id), "delete_%s", name);
		r = responses(json_pack("{s:{s:s}}", "204", "description", "Moved to the recycle bin"),
		              E400 | E401 | E403 | E404 | E409 | E412);
		op = operation(op_id, "Delete to the recycle bin", name, true, r);
		json_object_set_new(op, "parameters", json_pack("[o]", if_match_header(false)));
		add_op(d, path, "delete", op, json_incref(ids));

		snprintf(path, sizeof(path), "/objects/%s/{id}/restore", name);
		snprintf(op_id, sizeof(op_id), "restore_%s", name);
		r = responses(json_pack("{s:o}", "200", record_response(ref_to(schema), "Restored")),
		              E400 | E401 | E403 | E404 | E409);
		add_op(d, path, "post", operation(op_id, "Restore from the recycle bin", name, true, r), json_incref(ids));
	}

	/* history */
	snprintf(path, sizeof(path), "/objects/%s/{id}/history", name);
	snprintf(op_id, sizeof(op_id), "history_%s", name);
	r = responses(json_pack("{s:o}", "200", json_response("Field-level audit trail, oldest first", ref_to("History"))),
	              E_READ);
	add_op(d, path, "get", operation(op_id, "Field-level history", name, false, r), json_incref(ids));

	/* shares */
	snprintf(path, sizeof(path), "/objects/%s/{id}/shares", name);
	snprintf(op_id, sizeof(op_id), "shares_%s", name);
	r = responses(json_pack("{s:o}", "200", json_response("The record's shares", ref_to("ShareList"))), E_READ);
	add_op(d, path, "get", operation(op_id, "List the record's shares", name, false, r), json_incref(ids));
	snprintf(op_id, sizeof(op_id), "share_%s", name);
	r = responses(json_pack("{s:o}", "201", json_response("Shared", ref_to("Share"))), E_WRITE);
	op = operation(op_id, "Share the record with a user or a team (owner or admin)", name, true, r);
	set_body(op, json_content(ref_to("ShareRequest")), true);
	add_op(d, path, "post", op, json_incref(ids));
	snprintf(path, sizeof(path), "/objects/%s/{id}/shares/{share_id}", name);
	snprintf(op_id, sizeof(op_id), "unshare_%s", name);
	r = responses(json_pack("{s:{s:s}}", "204", "description", "Share removed"), E400 | E401 | E403 | E404);
	add_op(d, path, "delete", operation(op_id, "Remove a share", name, true, r),
	       json_pack("[O, o]", json_array_get(ids, 0), id_param("share_id", "Share id")));

	/* transitions */
	if (json_array_size(transitions)) {
		char result[120];
		snprintf(result, sizeof(result), "%sTransitionResult", schema);
		json_object_set_new(d->schemas, result, json_pack(
			"{s:s, s:[s,s,s], s:{s:{s:s, s:O}, s:{s:s, s:[s,s]}, s:o, s:{s:s, s:s}}, s:b}",
			"type", "object", "required", "transition", "status", "record", "properties",
			"transition", "type", "string", "enum", transitions,
			"status", "type", "string", "enum", "done", "pending_approval",
			"record", ref_to(schema),
			"request", "type", "string", "description", "The approval request's key (pending_approval)",
			"additionalProperties", 0));
		snprintf(path, sizeof(path), "/objects/%s/{id}/transitions/{name}", name);
		snprintf(op_id, sizeof(op_id), "transition_%s", name);
		r = responses(json_pack("{s:o, s:o}", "200", json_response("Fired", ref_to(result)),
		                        "202", json_response("Waiting for approval (status pending_approval)", ref_to(result))),
		              E_WRITE | E412);
		op = operation(op_id, "Fire a workflow transition", name, true, r);
		json_object_set_new(op, "parameters", json_pack("[o]", if_match_header(false)));
		set_body(op, json_content(json_pack("{s:s, s:s}", "type", "object", "description",
			"Field values written with the transition (for its require list)")), false);
		add_op(d, path, "post", op, json_pack("[O, o]", json_array_get(ids, 0), param("name", "path", true,
			json_pack("{s:s, s:O}", "type", "string", "enum", transitions), "The transition")));
	}

	/* approvals */
	if (strcmp(name, "approval") == 0) {
		json_t *decision = json_deep_copy(json_object_get(d->schemas, schema));
		json_object_del(json_object_get(decision, "properties"), "_transitions");
		json_object_set_new(json_object_get(decision, "properties"), "transitioned", json_pack("{s:s, s:s}",
			"type", "boolean", "description", "This approval completed the request and the transition fired"));
		json_object_set_new(decision, "required", json_pack("[s, s]", "id", "transitioned"));
		json_object_set_new(decision, "description", json_string(
			"The approval after the decision (only id and transitioned when the approver may no longer read it)"));
		json_object_set_new(d->schemas, "ApprovalDecision", decision);
		for (int k = 0; k < 2; k++) {
			const char *verb = k == 0 ? "approve" : "reject";
			snprintf(path, sizeof(path), "/objects/%s/{id}/%s", name, verb);
			r = responses(json_pack("{s:o}", "200", json_response("Decided", ref_to("ApprovalDecision"))), E_WRITE);
			op = operation(verb, k == 0 ? "Approve (the approver only, while pending)"
			                            : "Reject (the approver only, while pending)", name, true, r);
			set_body(op, json_content(json_pack("{s:s, s:{s:{s:[s,s]}}, s:b}", "type", "object", "properties",
				"comment", "type", "string", "null", "additionalProperties", 0)), false);
			add_op(d, path, "post", op, json_incref(ids));
		}
	}

	/* import */
	if (may_create) {
		snprintf(path, sizeof(path), "/objects/%s/import", name);
		snprintf(op_id, sizeof(op_id), "import_%s", name);
		r = responses(json_pack("{s:o}", "200",
			json_response("Imported; rejected rows are listed with their line and field errors", ref_to("ImportResult"))),
			E_WRITE | E413);
		op = operation(op_id, "Import CSV (header line of field names)", name, true, r);
		set_body(op, json_pack("{s:{s:{s:s}}}", "text/csv", "schema", "type", "string"), true);
		add_op(d, path, "post", op, NULL);
	}

	/* report */
	snprintf(path, sizeof(path), "/reports/%s", name);
	snprintf(op_id, sizeof(op_id), "report_%s", name);
	r = responses(json_pack("{s:o}", "200", json_response("One row per group", ref_to("Report"))), E_READ);
	op = operation(op_id, "Group-by aggregate", name, false, r);
	json_object_set_new(op, "parameters", json_pack("[o,o,o]",
		param("group", "query", false, json_pack("{s:s}", "type", "string"),
		      "Comma-separated fields to group by; a date field with :day, :month, :quarter or :year groups by that "
		      "bucket (close_date:month)"),
		param("measure", "query", false, json_pack("{s:s}", "type", "string"),
		      "count, sum(f), avg(f), min(f), max(f), comma-separated (default count)"),
		param("filter", "query", false, json_pack("{s:s}", "type", "string"), "Expression selecting the records")));
	add_op(d, path, "get", op, NULL);

	json_decref(transitions);
	json_decref(ids);
}

/*
 * GET /reports and GET /reports/{name} of each `report:` document the caller
 * may run (report_allowed): its own parameters, from/to on a date group, and
 * a row schema naming its columns.
 */
static void add_report_documents(struct doc *d)
{
	json_object_set_new(d->schemas, "ReportColumn", json_pack("{s:s, s:[s,s,s,s], s:{s:{s:s}, s:{s:s, s:[s,s]}, "
		"s:{s:s}, s:o, s:{s:s}, s:{s:s}, s:{s:s}}, s:b}", "type", "object", "required", "name", "kind", "label", "type",
		"properties", "name", "type", "string", "kind", "type", "string", "enum", "group", "measure", "path", "type",
		"string", "label",
		label_schema(), "type", "type", "string", "by", "type", "string", "measure", "type", "string",
		"additionalProperties", 0));
	json_object_set_new(d->schemas, "ReportSummary", json_pack("{s:s, s:[s,s,s,s,s,s,s], s:{s:{s:s}, s:o, s:{s:s}, "
		"s:{s:s}, s:{s:s, s:[s,s,s,s]}, s:{s:s}, s:{s:s, s:{s:s}}, s:{s:s}, s:{s:s, s:o}}, s:b}", "type", "object",
		"required", "name", "label", "view", "object", "parameters", "dated", "columns", "properties",
		"name", "type", "string", "label", label_schema(), "description", "type", "string", "module", "type", "string",
		"view", "type", "string", "enum", "table", "bar", "line", "funnel", "object", "type", "string",
		"parameters", "type", "array", "items", "type", "string", "dated", "type", "boolean",
		"columns", "type", "array", "items", ref_to("ReportColumn"), "additionalProperties", 0));
	json_object_set_new(d->schemas, "ReportList", json_pack("{s:s, s:[s], s:{s:{s:s, s:o}}, s:b}", "type", "object",
		"required", "reports", "properties", "reports", "type", "array", "items", ref_to("ReportSummary"),
		"additionalProperties", 0));
	json_t *r = responses(json_pack("{s:o}", "200", json_response("The reports the caller may run",
	                      ref_to("ReportList"))), E_READ);
	add_op(d, "/reports", "get", operation("reports", "The report documents the caller may run", "reports", false, r),
	       NULL);
	json_array_append_new(d->tags, json_pack("{s:s, s:s}", "name", "reports", "description",
		"Reports across objects: the report documents of the metadata"));
	for (int i = 0; i < d->meta->report_count; i++) {
		const struct meta_report *report = &d->meta->reports[i];
		if (!report_allowed(d->ctx, report))
			continue;
		json_t *cells = json_object(), *run = json_pack("{s:s, s:[s,s,s,s]}", "type", "object", "required", "report",
			"columns", "rows", "view");
		for (int g = 0; g < report->group_count; g++)
			json_object_set_new(cells, report->groups[g].column, json_object());
		for (int m = 0; m < report->measure_count; m++) {
			const struct meta_report_measure *measure = &report->measures[m];
			bool dated = measure->field && (measure->fn == REPORT_MIN || measure->fn == REPORT_MAX)
			             && (measure->field->type == FIELD_DATE || measure->field->type == FIELD_DATETIME);
			json_object_set_new(cells, measure->name, json_pack("{s:[s,s]}", "type", dated ? "string" : "number",
			                                                    "null"));
		}
		json_object_set_new(run, "properties", json_pack("{s:{s:s}, s:o, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, "
			"s:{s:s, s:{s:s}}, s:{s:s}, s:{s:s, s:o}, s:{s:s, s:{s:s, s:o, s:b}}}", "report", "type", "string",
			"label", label_schema(), "description", "type", "string", "module", "type", "string", "view", "type",
			"string", "object", "type", "string", "dated", "type", "boolean", "parameters", "type", "array", "items",
			"type", "string", "name", "type", "string", "columns", "type", "array", "items", ref_to("ReportColumn"),
			"rows", "type", "array", "items", "type", "object", "properties", cells, "additionalProperties", 0));
		char schema[96], path[128], op_id[96];
		snprintf(schema, sizeof(schema), "Report_%s", report->name);
		json_object_set_new(d->schemas, schema, run);
		snprintf(path, sizeof(path), "/reports/%s", report->name);
		snprintf(op_id, sizeof(op_id), "run_report_%s", report->name);
		json_t *parameters = json_array();
		for (int p = 0; p < report->parameter_count; p++)
			json_array_append_new(parameters, param(report->parameters[p].name, "query", false,
				json_pack("{s:s}", "type", "string"), "Keeps the root records whose field equals this value"));
		for (int g = 0; g < report->group_count; g++) {
			if (!report->groups[g].by)
				continue;
			json_array_append_new(parameters, param("from", "query", false, json_pack("{s:s, s:s}", "type", "string",
				"format", "date"), "The first day of the date group (included)"));
			json_array_append_new(parameters, param("to", "query", false, json_pack("{s:s, s:s}", "type", "string",
				"format", "date"), "The last day of the date group (included)"));
			break;
		}
		json_array_append_new(parameters, param("filter", "query", false, json_pack("{s:s}", "type", "string"),
			"Expression over the root object's records"));
		json_array_append_new(parameters, param("limit", "query", false, json_pack("{s:s, s:i, s:i}", "type",
			"integer", "minimum", 1, "maximum", 10000), "The most rows"));
		r = responses(json_pack("{s:o}", "200", json_response("Columns and rows", ref_to(schema))), E_READ);
		json_t *op = operation(op_id, meta_label_text(&report->label, "en", report->name), "reports", false, r);
		json_object_set_new(op, "parameters", parameters);
		add_op(d, path, "get", op, NULL);
	}
}

/* op ids and summaries must be URL-safe: letters, digits and _ */
static void sanitize(char *text)
{
	for (char *p = text; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
			*p = '_';
}

/*
 * A signed public route (signed: its "signed" endpoint entry, or NULL for
 * none): the two headers it needs, and its 401 and 503, on op.
 */
static void signed_operation(json_t *op, const json_t *signed_route)
{
	if (!signed_route)
		return;
	char text[300];
	snprintf(text, sizeof(text), "Unix seconds, within %lld seconds of the server's clock",
	         json_integer_value(json_object_get(signed_route, "max_age")));
	json_object_set_new(op, "parameters", json_pack("[o, o]",
		param("X-CRM-Timestamp", "header", true, json_pack("{s:s, s:s}", "type", "string", "pattern", "^[0-9]{1,12}$"),
		      text),
		param("X-CRM-Signature", "header", true, json_pack("{s:s, s:s}", "type", "string", "pattern",
		      "^sha256=[0-9a-fA-F]{64}$"), "sha256= and the hex HMAC-SHA256, under the shared secret, of the "
		      "timestamp, \".\" and the raw body")));
	json_t *r = json_object_get(op, "responses");
	json_object_set_new(r, "401", problem_response("The signature is missing, wrong or outside the time window"));
	json_object_set_new(r, "503", problem_response("The route is not configured: the server has no secret"));
}

/*
 * A public route (endpoint e of plugin_endpoints): no security, no 401, its
 * limits in the description, a 429 with Retry-After, and a body as JSON or
 * as an HTML form. ok (stolen) holds the success responses.
 */
static json_t *public_operation(const char *op_id, const char *summary, const json_t *e, bool write, json_t *ok)
{
	long long limit = json_integer_value(json_object_get(e, "rate_limit"));
	long long period = json_integer_value(json_object_get(e, "rate_period"));
	long long max_body = json_integer_value(json_object_get(e, "max_body"));
	json_t *r = responses(ok, E400 | E403 | E404 | E409 | E422 | (write ? E413 | E415 : 0));
	char text[400];
	snprintf(text, sizeof(text), "Over %lld requests in %lld seconds from one client address: wait Retry-After "
	         "seconds", limit, period);
	json_t *limited = problem_response(text);
	json_object_set_new(limited, "headers", json_pack("{s:{s:s, s:{s:s, s:i}}}", "Retry-After", "description",
		"Seconds until the address may call this route again", "schema", "type", "integer", "minimum", 1));
	json_object_set_new(r, "429", limited);
	/* a public form's page for what is not there (a campaign's form, say) */
	json_object_set_new(json_object_get(json_object_get(r, "404"), "content"), "text/html",
	                    json_pack("{s:{s:s}}", "schema", "type", "string"));
	if (write) {
		snprintf(text, sizeof(text), "Body over this route's %lld-byte cap", max_body);
		json_object_set_new(r, "413", problem_response(text));
	}
	snprintf(text, sizeof(text), "Open to anyone: no session or token is needed, and one sent along is ignored "
	         "(the handler acts as the guest, with the rights of the role named guest, none without one). At most "
	         "%lld requests in %lld seconds per client address%s.", limit, period,
	         write ? "; a body of JSON or an HTML form (application/x-www-form-urlencoded)" : "");
	json_t *op = json_pack("{s:s, s:s, s:s, s:[s], s:[], s:o}", "operationId", op_id, "summary", summary,
	                       "description", text, "tags", "public", "security", "responses", r);
	signed_operation(op, json_object_get(e, "signed"));
	if (write) {
		json_t *field = json_pack("{s:[{s:s}, {s:s, s:{s:s}}]}", "oneOf", "type", "string", "type", "array",
		                          "items", "type", "string");
		json_t *form = json_pack("{s:s, s:s, s:o}", "type", "object", "description",
			"Form fields as strings; a name ending in [] gives a list", "additionalProperties", field);
		set_body(op, json_pack("{s:{s:{s:s}}, s:{s:o}}", "application/json", "schema", "description",
		                       "Any JSON body", "application/x-www-form-urlencoded", "schema", form), false);
	}
	return op;
}

static void add_plugin_paths(struct doc *d)
{
	json_t *endpoints = plugin_endpoints(d->ctx->kernel);
	size_t i;
	json_t *e;
	bool tagged = false, public_tagged = false;
	json_array_foreach(endpoints, i, e) {
		const char *kind = json_string_value(json_object_get(e, "kind"));
		const char *plugin = json_string_value(json_object_get(e, "plugin"));
		char path[400], op_id[300], summary[300];
		json_t *op, *r, *params = json_array();
		if (strcmp(kind, "action") == 0) {
			const char *name = json_string_value(json_object_get(e, "name"));
			if (json_array_size(d->object_names) == 0) {
				json_decref(params);
				continue;
			}
			snprintf(path, sizeof(path), "/objects/{object}/{id}/actions/%s", name);
			snprintf(op_id, sizeof(op_id), "action_%s", name);
			snprintf(summary, sizeof(summary), "Plugin action %s on one record", name);
			sanitize(op_id);
			r = responses(json_pack("{s:{s:s, s:{s:{s:{s:s}}}}, s:{s:s}}", "200", "description",
				"The action's result (any JSON)", "content", "application/json", "schema", "description", "any JSON value",
				"204", "description", "Done, nothing to return"), E_WRITE);
			op = operation(op_id, summary, "plugins", true, r);
			set_body(op, json_content(json_pack("{s:s}", "description", "The action's arguments (any JSON)")), false);
			tagged = true;
			json_array_append_new(params, param("object", "path", true,
				json_pack("{s:s, s:O}", "type", "string", "enum", d->object_names), "The record's object"));
			json_array_append_new(params, id_param("id", "Record id"));
			add_op(d, path, "post", op, json_incref(params));
		} else {
			const char *method = json_string_value(json_object_get(e, "method"));
			const char *route = json_string_value(json_object_get(e, "path"));
			char lower[16];
			size_t k;
			for (k = 0; method[k] && k + 1 < sizeof(lower); k++)
				lower[k] = (char)(method[k] >= 'A' && method[k] <= 'Z' ? method[k] - 'A' + 'a' : method[k]);
			lower[k] = '\0';
			bool is_public = json_is_true(json_object_get(e, "public"));
			snprintf(path, sizeof(path), "%s%s", is_public ? "/public" : "/plugins", route);
			snprintf(op_id, sizeof(op_id), "%s_%s%s", is_public ? "public" : "plugin", lower, route);
			sanitize(op_id);
			snprintf(summary, sizeof(summary), "%s route %s %s (plugin %s)", is_public ? "Public" : "Plugin",
			         method, route, plugin);
			/* {name} segments are path parameters */
			for (const char *p = strchr(route, '{'); p; p = strchr(p + 1, '{')) {
				const char *end = strchr(p, '}');
				if (!end)
					break;
				char pname[64];
				snprintf(pname, sizeof(pname), "%.*s", (int)(end - p - 1), p + 1);
				json_array_append_new(params, param(pname, "path", true, json_pack("{s:s}", "type", "string"),
				                                    "Route parameter"));
			}
			bool write = strcmp(method, "GET") != 0;
			/* a route answers JSON, a web page ({ html = }) or a redirect ({ location = }) */
			json_t *ok = json_pack("{s:{s:s, s:{s:{s:{s:s}}, s:{s:{s:s}}}}, s:{s:s}, s:{s:s, s:{s:{s:s, s:{s:s}}}}}",
				"200", "description", "The route's answer: any JSON, or a web page", "content", "application/json",
				"schema", "description", "any JSON value", "text/html", "schema", "type", "string",
				"204", "description", "No content",
				"3XX", "description", "A redirect", "headers", "Location", "description", "Where the route sends the "
				"client", "schema", "type", "string");
			if (is_public) {
				op = public_operation(op_id, summary, e, write, ok);
				public_tagged = true;
			} else {
				r = responses(ok, (write ? E_WRITE : E_READ | E403) | E409 | E422);
				op = operation(op_id, summary, "plugins", write, r);
				if (write)
					set_body(op, json_content(json_pack("{s:s}", "description", "Any JSON body")), false);
				tagged = true;
			}
			if (json_array_size(params))
				json_object_set(op, "parameters", params);
			add_op(d, path, lower, op, NULL);
		}
		json_decref(params);
	}
	if (tagged)
		json_array_append_new(d->tags, json_pack("{s:s, s:s}", "name", "plugins", "description",
			"Routes and record actions registered by the enabled plugins"));
	if (public_tagged)
		json_array_append_new(d->tags, json_pack("{s:s, s:s}", "name", "public", "description",
			"Plugin routes open to anyone, with no session (web forms, survey answers, sign-ups): the handler "
			"acts as the guest, whose rights are the role named guest (none without one); each is limited per "
			"client address and in body size"));
	json_decref(endpoints);
}

/*
 * app.yaml signup: POST /auth/signup, GET /auth/signup (is there one?) and
 * POST /auth/verify, open to anyone (security: []); absent without signup.
 */
static void add_signup_paths(struct doc *d)
{
	if (!d->meta->signup)
		return;
	json_object_set_new(d->schemas, "SignupRequest", json_pack("{s:s, s:[s,s,s], s:{s:{s:s, s:i, s:s}, "
		"s:{s:s, s:i, s:i}, s:{s:s, s:i, s:i}, s:{s:s, s:s}}}",
		"type", "object", "required", "email", "name", "password", "properties",
		"email", "type", "string", "maxLength", 254, "description", "The address: the login, and where the link goes",
		"name", "type", "string", "minLength", 1, "maxLength", 120, "password", "type", "string", "minLength", 8,
		"maxLength", 1024, "language", "type", "string", "description", "One of the app's languages: the e-mail's"));
	json_t *r = responses(json_pack("{s:o}", "202", json_response("Accepted, alike for a new, a waiting and a taken "
		"address: a new one gets an inactive account and an e-mail with a one-time link",
		json_pack("{s:s, s:[s,s], s:{s:{s:s, s:[s]}, s:{s:s}}}", "type", "object", "required", "status", "message",
		          "properties", "status", "type", "string", "enum", "accepted", "message", "type", "string"))),
		E400 | E404 | E413 | E415 | E422 | E429);
	json_t *op = json_pack("{s:s, s:s, s:s, s:[s], s:[], s:o}", "operationId", "signup", "summary",
		"Sign up as a consumer (anonymous)", "description", "Well-formed sign-ups are limited per client address "
		"(429 with Retry-After). The answer never tells whether the address has an account.",
		"tags", "session", "security", "responses", r);
	set_body(op, json_content(ref_to("SignupRequest")), true);
	add_op(d, "/auth/signup", "post", op, NULL);
	r = responses(json_pack("{s:{s:s}}", "204", "description", "This application has a sign-up"), E400 | E404);
	add_op(d, "/auth/signup", "get", json_pack("{s:s, s:s, s:[s], s:[], s:o}", "operationId", "signupOpen",
		"summary", "Whether people may sign up (the login page's link)", "tags", "session", "security", "responses", r),
		NULL);
	json_object_set_new(d->schemas, "VerifyRequest", json_pack("{s:s, s:[s], s:{s:{s:s, s:s}}}", "type", "object",
		"required", "token", "properties", "token", "type", "string", "description", "The token of the e-mail's link"));
	r = responses(json_pack("{s:{s:s, s:{s:{s:s, s:{s:s}}}, s:o}}", "200", "description",
		"The address is confirmed and the account active: signed in, as by POST /session",
		"headers", "Set-Cookie", "description", "crm_session (HttpOnly, SameSite=Strict)", "schema", "type", "string",
		"content", json_content(ref_to("Session"))), E400 | E404 | E413 | E415 | E429);
	json_object_set_new(r, "410", problem_response("The link does not work: used already, expired or never issued "
		"(one answer for all three)"));
	op = json_pack("{s:s, s:s, s:[s], s:[], s:o}", "operationId", "verifySignup", "summary",
		"Confirm a sign-up with the e-mail's token (anonymous)", "tags", "session", "security", "responses", r);
	set_body(op, json_content(ref_to("VerifyRequest")), true);
	add_op(d, "/auth/verify", "post", op, NULL);
}

static void add_global_paths(struct doc *d)
{
	json_t *op, *r;

	/* session */
	json_object_set_new(d->schemas, "LoginRequest", json_pack("{s:s, s:[s,s], s:{s:{s:s, s:i}, s:{s:s, s:i}}, s:b}",
		"type", "object", "required", "login", "password", "properties",
		"login", "type", "string", "maxLength", 200, "password", "type", "string", "maxLength", 1024,
		"additionalProperties", 0));
	json_t *user = json_pack("{s:[s,s], s:s, s:{s:{s:s}, s:{s:s}}, s:b}", "type", "object", "null",
		"description", "The user's record as they may read it; a role that reads no users gets who they are (id, login, name, email, kind, role, team, partner, contact)",
		"properties", "id", "type", "integer", "login", "type", "string", "additionalProperties", 1);
	json_object_set_new(d->schemas, "Session", json_pack("{s:s, s:[s,s,s,s], s:{s:{s:s}, s:{s:s}, s:{s:s}, s:o}, s:b}",
		"type", "object", "required", "token", "csrf", "expires_in", "user", "properties",
		"token", "type", "string", "csrf", "type", "string", "expires_in", "type", "integer", "user", user,
		"additionalProperties", 0));
	/* the caller's own user record as they read it; a role that reads no users gets who they are */
	user = json_object_get(d->schemas, "User") ? ref_to("User")
	     : json_pack("{s:s, s:s, s:[s], s:{s:{s:s}, s:{s:s}}, s:b}", "type", "object",
		"description", "The caller's user record", "required", "id",
		"properties", "id", "type", "integer", "login", "type", "string", "additionalProperties", 1);
	json_object_set_new(d->schemas, "Whoami", json_pack("{s:s, s:[s,s], s:{s:o, s:{s:s}, s:{s:s}, s:{s:s, s:s}}, s:b}",
		"type", "object", "required", "user", "admin", "properties",
		"user", user, "role", "type", "string", "admin", "type", "boolean",
		"csrf", "type", "string", "description", "The session's CSRF token, when the session cookie authenticated the request",
		"additionalProperties", 0));
	json_t *login_responses = json_pack("{s:{s:s, s:{s:{s:s, s:{s:s}}}, s:o}}", "201", "description",
		"Logged in: a bearer token, the CSRF token for cookie writes, and the session cookie",
		"headers", "Set-Cookie", "description", "crm_session (HttpOnly, SameSite=Strict)", "schema", "type", "string",
		"content", json_content(ref_to("Session")));
	r = responses(login_responses, E400 | E401 | E415 | E429);
	op = json_pack("{s:s, s:s, s:[s], s:[], s:o}", "operationId", "login", "summary", "Log in (anonymous)",
	               "tags", "session", "security", "responses", r);
	set_body(op, json_content(ref_to("LoginRequest")), true);
	add_op(d, "/session", "post", op, NULL);
	r = responses(json_pack("{s:o}", "200", json_response("Who is calling", ref_to("Whoami"))), E_READ);
	add_op(d, "/session", "get", operation("whoami", "The caller's user, role and admin flag", "session", false, r), NULL);
	r = responses(json_pack("{s:{s:s}}", "204", "description", "Logged out; the cookie is cleared"), E400 | E401 | E403);
	add_op(d, "/session", "delete", operation("logout", "Log out (ends this session)", "session", true, r), NULL);

	/* kpis */
	json_t *num = json_pack("{s:[s,s]}", "type", "number", "null");
	json_object_set_new(d->schemas, "Kpi", json_pack("{s:s, s:[s,s,s,s,s,s], s:{s:{s:s}, s:o, s:{s:s, s:[s,s]}, "
		"s:{s:s, s:[s,s]}, s:{s:s}, s:{s:s}, s:{s:s, s:[s,s,s]}, s:{s:s, s:s}, s:{s:s, s:s}, s:O, s:O, s:O, s:O, "
		"s:{s:s, s:s}}}",
		"type", "object", "required", "name", "label", "period", "start", "end", "actual",
		"properties", "name", "type", "string", "label", label_schema(),
		"category", "type", "string", "enum", "operating", "business_value",
		"direction", "type", "string", "enum", "up", "down", "object", "type", "string", "measure", "type", "string",
		"period", "type", "string", "enum", "month", "quarter", "year", "start", "type", "string", "format", "date",
		"end", "type", "string", "format", "date", "actual", num, "target", num, "attainment", num, "previous", num,
		"previous_start", "type", "string", "format", "date"));
	json_decref(num);
	json_object_set_new(d->schemas, "Kpis", json_pack("{s:s, s:[s,s,s], s:{s:{s:s, s:s}, s:{s:s, s:[s,s,s]}, "
		"s:{s:s, s:o}}}", "type", "object", "required", "day", "scope", "kpis", "properties", "day", "type", "string",
		"format", "date", "scope", "type", "string", "enum", "me", "team", "all", "kpis", "type", "array", "items",
		ref_to("Kpi")));
	/* the evaluation model: derived and audit kpis (no object or measure), units, a role's dashboard */
	json_t *kpi_props = json_object_get(json_object_get(d->schemas, "Kpi"), "properties");
	json_object_set_new(kpi_props, "object", json_pack("{s:[s,s]}", "type", "string", "null"));
	json_object_set_new(kpi_props, "measure", json_pack("{s:[s,s]}", "type", "string", "null"));
	json_object_set_new(kpi_props, "formula", json_pack("{s:[s,s]}", "type", "string", "null"));
	json_object_set_new(kpi_props, "source", json_pack("{s:s, s:[s,s,s]}", "type", "string", "enum", "records",
	                                                   "audit", "formula"));
	json_object_set_new(kpi_props, "unit", json_pack("{s:s, s:[s,s,s,s,s,s]}", "type", "string", "enum", "count",
	                                                 "number", "money", "percent", "hours", "days"));
	json_object_set_new(kpi_props, "scope", json_pack("{s:s, s:[s,s,s], s:s}", "type", "string", "enum", "me", "team",
	                                                  "all", "description", "With view=dashboard: whose figure"));
	json_t *kpis_schema = json_object_get(d->schemas, "Kpis");
	json_object_set_new(kpis_schema, "required", json_pack("[s,s]", "day", "kpis"));
	json_object_set_new(json_object_get(kpis_schema, "properties"), "role", json_pack("{s:s, s:s}", "type", "string",
	                    "description", "With view=dashboard: the caller's role"));
	json_t *kpi_params = json_pack("[o,o,o]",
		param("view", "query", false, json_pack("{s:s, s:[s]}", "type", "string", "enum", "dashboard"),
		      "dashboard: the kpis whose `dashboards:` name the caller's role, each for the people it gives"),
		param("day", "query", false, json_pack("{s:s, s:s}", "type", "string", "format", "date"),
		      "A day in the periods wanted (default today, UTC)"),
		param("scope", "query", false, json_pack("{s:s, s:[s,s,s]}", "type", "string", "enum", "me", "team", "all"),
		      "Whose records: the caller's (default), the caller's team, everyone's the caller may read"));
	r = responses(json_pack("{s:o}", "200", json_response("Each kpi of an object the caller reads", ref_to("Kpis"))),
	              E_READ);
	op = operation("kpis", "Key figures for the periods holding a day", "kpis", false, r);
	json_object_set_new(op, "parameters", json_deep_copy(kpi_params));
	add_op(d, "/kpis", "get", op, NULL);
	r = responses(json_pack("{s:o}", "200", json_response("The kpi (404 if its object is closed to the caller)",
	              ref_to("Kpis"))), E_READ);
	op = operation("kpi", "One key figure", "kpis", false, r);
	json_array_append_new(kpi_params, param("name", "path", true, json_pack("{s:s}", "type", "string"), "The kpi"));
	json_object_set_new(op, "parameters", kpi_params);
	add_op(d, "/kpis/{name}", "get", op, NULL);

	/* the global search (engine/object.c object_search): the header box's */
	json_object_set_new(d->schemas, "SearchResults", json_pack("{s:s, s:[s,s], s:{s:{s:s}, s:{s:s, s:{s:s, "
		"s:[s,s,s], s:{s:{s:s}, s:{s:s, s:{s:s}}, s:{s:s}}}}}}", "type", "object", "required", "q", "results",
		"properties", "q", "type", "string", "results", "type", "array", "items", "type", "object", "required",
		"object", "records", "more", "properties", "object", "type", "string", "records", "type", "array", "items",
		"type", "object", "more", "type", "boolean"));
	r = responses(json_pack("{s:o}", "200", json_response("Ranked hits per object the caller reads, each record with "
		"_snippet (hits between U+0002 and U+0003) and _snippet_field", ref_to("SearchResults"))), E_READ);
	op = operation("search", "Full-text search across every object the caller reads", "search", false, r);
	json_object_set_new(op, "parameters", json_pack("[o,o]",
		param("q", "query", true, json_pack("{s:s, s:i}", "type", "string", "minLength", 1),
		      "The text: records holding every term (white space between terms)"),
		param("limit", "query", false, json_pack("{s:s, s:i, s:i, s:i}", "type", "integer", "minimum", 1,
		      "maximum", 50, "default", 5), "Records per object")));
	add_op(d, "/search", "get", op, NULL);

	add_report_documents(d);

	/* meta, openapi.json */
	add_meta_schemas(d);
	r = responses(json_pack("{s:{s:s, s:{s:{s:s, s:{s:s}}}, s:o}, s:{s:s}}", "200", "description",
		"Objects, fields, labels, views, rules, workflows and rights, as the caller may use them",
		"headers", "ETag", "description", "Changes with the caller's role and the metadata", "schema", "type", "string",
		"content", json_content(ref_to("Meta")), "304", "description", "Not modified (If-None-Match)"), E_READ);
	add_op(d, "/meta", "get", operation("meta", "The effective metadata (drives the UI)", "metadata", false, r), NULL);
	r = responses(json_pack("{s:{s:s, s:{s:{s:s, s:{s:s}}}, s:o}, s:{s:s}}", "200", "description",
		"This document, for the caller's role",
		"headers", "ETag", "description", "Changes with the caller's role and the metadata", "schema", "type", "string",
		"content", json_content(json_pack("{s:s, s:[s,s,s], s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}, s:b}", "type", "object",
			"required", "openapi", "info", "paths", "properties", "openapi", "type", "string",
			"info", "type", "object", "paths", "type", "object", "components", "type", "object",
			"additionalProperties", 1)),
		"304", "description", "Not modified (If-None-Match)"), E_READ);
	add_op(d, "/openapi.json", "get", operation("openapi", "This OpenAPI document, as the caller may use the API",
	                                              "metadata", false, r), NULL);

	/* batch: a created or updated record is one of the caller's records */
	json_t *record = json_array_size(d->records) > 1 ? json_pack("{s:O}", "anyOf", d->records)
	               : json_array_size(d->records) == 1 ? json_incref(json_array_get(d->records, 0))
	               : json_pack("{s:s}", "type", "object");
	json_object_set_new(d->schemas, "BatchOperation", json_pack(
		"{s:s, s:[s,s], s:{s:{s:s, s:[s,s,s,s]}, s:{s:s, s:O}, s:{s:s}, s:{s:s}, s:{s:s}}}",
		"type", "object", "required", "op", "object", "properties",
		"op", "type", "string", "enum", "create", "update", "delete", "restore",
		"object", "type", "string", "enum", d->object_names, "id", "type", "integer", "version", "type", "integer",
		"values", "type", "object"));
	if (json_array_size(d->object_names) == 0)  /* a caller without objects: no empty enum */
		json_object_del(json_object_get(json_object_get(json_object_get(d->schemas, "BatchOperation"),
		                                                "properties"), "object"), "enum");
	json_object_set_new(d->schemas, "BatchResult", json_pack(
		"{s:s, s:[s], s:{s:{s:s, s:{s:s, s:[s], s:{s:{s:s, s:[s]}, s:o}, s:b}}}, s:b}",
		"type", "object", "required", "results", "properties",
		"results", "type", "array", "items", "type", "object", "required", "status", "properties",
		"status", "type", "string", "enum", "ok", "record", record, "additionalProperties", 0,
		"additionalProperties", 0));
	r = responses(json_pack("{s:o}", "200", json_response("Every operation succeeded", ref_to("BatchResult"))),
	              E_WRITE | E412 | E413);
	op = operation("batch", "Several operations in one transaction, all or nothing", "batch", true, r);
	set_body(op, json_content(json_pack("{s:s, s:[s], s:{s:{s:s, s:i, s:i, s:o}}, s:b}",
		"type", "object", "required", "operations", "properties", "operations", "type", "array",
		"minItems", 1, "maxItems", OBJECT_MAX_BATCH, "items", ref_to("BatchOperation"), "additionalProperties", 0)), true);
	add_op(d, "/batch", "post", op, NULL);

	json_array_append_new(d->tags, json_pack("{s:s, s:s}", "name", "session", "description", "Log in, who am I, log out"));
	json_array_append_new(d->tags, json_pack("{s:s, s:s}", "name", "metadata", "description",
		"The metadata and this document, as the caller may use them"));
	json_array_append_new(d->tags, json_pack("{s:s, s:s}", "name", "search", "description",
		"Full-text search across objects"));
	json_array_append_new(d->tags, json_pack("{s:s, s:s}", "name", "batch", "description",
		"Several object operations in one transaction"));
}

static void add_shared_schemas(struct doc *d)
{
	json_object_set_new(d->schemas, "Problem", problem_schema());
	json_object_set_new(d->schemas, "ImportResult", json_pack(
		"{s:s, s:[s,s,s,s], s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s, s:{s:s}}}}", "type", "object",
		"required", "rows", "created", "rejected", "row_errors", "properties",
		"rows", "type", "integer", "created", "type", "integer", "rejected", "type", "integer",
		"errors_truncated", "type", "boolean",
		"row_errors", "type", "array", "items", "type", "object"));
	json_object_set_new(d->schemas, "History", json_pack(
		"{s:s, s:[s], s:{s:{s:s, s:{s:s, s:[s,s,s,s,s,s], s:{s:{s:s}, s:{s:s, s:s}, s:{s:[s,s]}, s:{s:[s,s]},"
		" s:{s:s, s:s}, s:{s:[s,s], s:s}}, s:b}}}, s:b}",
		"type", "object", "required", "history", "properties",
		"history", "type", "array", "items", "type", "object",
		"required", "id", "at", "user", "request_id", "action", "changes", "properties",
		"id", "type", "integer", "at", "type", "string", "format", "date-time",
		"user", "type", "integer", "null", "request_id", "type", "string", "null",
		"action", "type", "string", "description", "create, update, delete, restore, transition, share, unshare, ...",
		"changes", "type", "object", "null", "description",
		"update: {field: [old, new]} (fields the caller may read); share: the share; create: null",
		"additionalProperties", 0, "additionalProperties", 0));
	json_t *share = json_pack("{s:s, s:[s,s,s,s], s:{s:{s:s}, s:{s:[s,s]}, s:{s:[s,s]}, s:{s:s, s:[s,s]},"
	                          " s:{s:s}, s:{s:s, s:s}}, s:b}",
		"type", "object", "required", "id", "user", "team", "access", "properties",
		"id", "type", "integer", "user", "type", "integer", "null", "team", "type", "integer", "null",
		"access", "type", "string", "enum", "read", "edit", "created_by", "type", "integer",
		"created_at", "type", "string", "format", "date-time", "additionalProperties", 0);
	json_object_set_new(d->schemas, "Share", share);
	json_object_set_new(d->schemas, "ShareList", json_pack("{s:s, s:[s], s:{s:{s:s, s:o}}, s:b}",
		"type", "object", "required", "shares", "properties", "shares", "type", "array", "items", ref_to("Share"),
		"additionalProperties", 0));
	json_object_set_new(d->schemas, "ShareRequest", json_pack(
		"{s:s, s:s, s:[s], s:{s:{s:s}, s:{s:s}, s:{s:s, s:[s,s]}}, s:[{s:[s]}, {s:[s]}], s:b}",
		"type", "object", "description", "Exactly one of user and team", "required", "access", "properties",
		"user", "type", "integer", "team", "type", "integer", "access", "type", "string", "enum", "read", "edit",
		"oneOf", "required", "user", "required", "team", "additionalProperties", 0));
	json_object_set_new(d->schemas, "Report", json_pack("{s:s, s:[s], s:{s:{s:s, s:{s:s, s:s}}}, s:b}",
		"type", "object", "required", "rows", "properties", "rows", "type", "array", "items", "type", "object",
		"description", "The group fields' values and one member per measure: count, sum_<f>, avg_<f>, min_<f>, max_<f>",
		"additionalProperties", 0));
}

/*
 * Attachments: per object whose records the caller reads, list and upload on
 * /objects/{object}/{id}/attachments; once, the row and the download under
 * /attachments/{id}. The parent record's rules apply (read: list, download;
 * update: upload, delete).
 */
static void add_attachment_schema(struct doc *d)
{
	json_object_set_new(d->schemas, "FileAttachment", json_pack(
		"{s:s, s:[s,s,s,s,s,s,s], s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s, s:s}, s:{s:s},"
		" s:{s:[s,s]}, s:{s:s, s:s}}, s:b}",
		"type", "object", "required", "id", "parent_object", "parent_id", "file_name", "size", "content_type", "sha256",
		"properties", "id", "type", "integer", "parent_object", "type", "string", "parent_id", "type", "integer",
		"file_name", "type", "string", "size", "type", "integer",
		"content_type", "type", "string", "description", "Sniffed from the bytes: one of a few known types, else application/octet-stream",
		"sha256", "type", "string", "uploaded_by", "type", "integer", "null",
		"created_at", "type", "string", "format", "date-time", "additionalProperties", 1));
	json_object_set_new(d->schemas, "FileAttachmentList", json_pack("{s:s, s:[s], s:{s:{s:s, s:o}}, s:b}",
		"type", "object", "required", "records", "properties", "records", "type", "array", "items",
		ref_to("FileAttachment"), "additionalProperties", 0));
}

static void add_attachment_paths(struct doc *d, const struct meta_object *object)
{
	char path[200], op_id[120];
	const char *name = object->name;
	if (!attachment_enabled(d->ctx->kernel, name))
		return;
	if (!json_object_get(d->schemas, "FileAttachment"))
		add_attachment_schema(d);
	json_t *ids = json_pack("[o]", id_param("id", "The record's id"));
	snprintf(path, sizeof(path), "/objects/%s/{id}/attachments", name);
	snprintf(op_id, sizeof(op_id), "attachments_%s", name);
	json_t *r = responses(json_pack("{s:o}", "200", json_response("The record's files, newest first",
	                                                              ref_to("FileAttachmentList"))), E_READ);
	add_op(d, path, "get", operation(op_id, "List the record's attachments", name, false, r), json_incref(ids));
	snprintf(op_id, sizeof(op_id), "attach_%s", name);
	r = responses(json_pack("{s:o}", "201", json_response("Attached (Location: the download)", ref_to("FileAttachment"))),
	              E400 | E401 | E403 | E404 | E413);
	json_t *op = operation(op_id, "Attach a file: multipart/form-data with a part named file, or the raw bytes "
	                       "with ?filename= (needs update on the record)", name, true, r);
	set_body(op, json_pack("{s:{s:{s:s, s:[s], s:{s:{s:s, s:s}}}}, s:{s:{s:s, s:s}}}",
		"multipart/form-data", "schema", "type", "object", "required", "file", "properties", "file",
		"type", "string", "contentMediaType", "application/octet-stream",
		"application/octet-stream", "schema", "type", "string", "contentMediaType", "application/octet-stream"), true);
	json_object_set_new(op, "parameters", json_pack("[o]", param("filename", "query", false,
		json_pack("{s:s, s:i}", "type", "string", "maxLength", 1024), "The file's name for a raw body")));
	add_op(d, path, "post", op, ids);

	if (json_object_get(d->paths, "/attachments/{id}"))
		return;
	ids = json_pack("[o]", id_param("id", "The attachment's id"));
	json_array_append_new(d->tags, json_pack("{s:s, s:s}", "name", "attachments", "description",
		"Files attached to records; the record's rules apply"));
	r = responses(json_pack("{s:o}", "200", json_response("The attachment", ref_to("FileAttachment"))), E_READ);
	add_op(d, "/attachments/{id}", "get", operation("attachment_row", "An attachment's row", "attachments", false, r),
	       json_incref(ids));
	r = responses(json_pack("{s:{s:s}}", "204", "description", "Moved to the recycle bin"), E400 | E401 | E403 | E404);
	add_op(d, "/attachments/{id}", "delete", operation("attachment_delete", "Delete an attachment (needs update on "
	       "its record)", "attachments", true, r), NULL);
	r = responses(json_pack("{s:{s:s, s:{s:{s:{s:s, s:s}}}}}", "200", "description",
		"The bytes, always as a download (Content-Disposition: attachment, nosniff, a sandbox CSP)", "content",
		"application/octet-stream", "schema", "type", "string", "contentMediaType", "application/octet-stream"),
		E_READ);
	add_op(d, "/attachments/{id}/content", "get", operation("attachment_content", "Download an attachment",
	       "attachments", false, r), ids);
}

/*
 * A free-form object schema ({"type": "object"} with no properties) says so
 * with additionalProperties: true, so that generated types take any member
 * (openapi-typescript reads a bare object as one with no members).
 */
static void open_objects(json_t *node)
{
	const char *key;
	json_t *value;
	size_t i;
	if (json_is_array(node)) {
		json_array_foreach(node, i, value)
			open_objects(value);
		return;
	}
	if (!json_is_object(node))
		return;
	json_t *type = json_object_get(node, "type");
	bool object = json_is_string(type) && strcmp(json_string_value(type), "object") == 0;
	json_array_foreach(json_is_array(type) ? type : NULL, i, value)
		object = object || (json_is_string(value) && strcmp(json_string_value(value), "object") == 0);
	if (object && !json_object_get(node, "properties") && !json_object_get(node, "additionalProperties") &&
	    !json_object_get(node, "patternProperties") && !json_object_get(node, "$ref") &&
	    !json_object_get(node, "allOf") && !json_object_get(node, "anyOf") && !json_object_get(node, "oneOf"))
		json_object_set_new(node, "additionalProperties", json_true());
	json_object_foreach(node, key, value)
		open_objects(value);
}

/* Drops the schemas nothing refers to (a caller without objects needs no History). */
static void prune_schemas(json_t *doc)
{
	json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
	for (bool changed = true; changed;) {
		char *text = json_dumps(doc, JSON_COMPACT);
		const char *name;
		json_t *value;
		void *tmp;
		changed = false;
		json_object_foreach_safe(schemas, tmp, name, value) {
			char ref[160];
			snprintf(ref, sizeof(ref), "\"#/components/schemas/%s\"", name);
			if (!strstr(text, ref)) {
				json_object_del(schemas, name);
				changed = true;
			}
		}
		free(text);
	}
}

json_t *openapi_document(struct crm_ctx *ctx, const char *prefix)
{
	const struct meta *meta = ctx->kernel->meta;
	json_t *doc = json_object();
	struct doc d = {
		.ctx = ctx, .meta = meta, .paths = json_object(), .schemas = json_object(),
		.records = json_array(), .object_names = json_array(), .tags = json_array(),
	};

	access_load(ctx);
	json_object_set_new(doc, "openapi", json_string("3.1.0"));
	json_object_set_new(doc, "info", json_pack("{s:s, s:s, s:s}",
		"title", meta->app_name ? meta->app_name : "crm",
		"version", meta->version,
		"description", "REST API generated from the metadata, as the calling user's role may use it: only the "
		"objects, fields and operations that role may use appear. Log in with POST /session, then send "
		"`Authorization: Bearer <token>` (or the session cookie plus X-CSRF-Token on writes). "
		"Errors are application/problem+json (RFC 9457)."));
	json_object_set_new(doc, "jsonSchemaDialect", json_string("https://spec.openapis.org/oas/3.1/dialect/base"));
	json_object_set_new(doc, "servers", json_pack("[{s:s}]", "url", prefix));
	json_object_set_new(doc, "security", security_read());

	add_shared_schemas(&d);
	for (int i = 0; i < meta->object_count; i++)
		if (access_allows(ctx, &meta->objects[i], ACCESS_READ)) {
			add_object_paths(&d, &meta->objects[i]);
			add_attachment_paths(&d, &meta->objects[i]);
		}
	add_global_paths(&d);
	add_signup_paths(&d);
	add_plugin_paths(&d);

	json_object_set_new(doc, "paths", d.paths);
	json_object_set_new(doc, "components", json_pack("{s:o, s:{s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s},"
	                                                 " s:{s:s, s:s, s:s, s:s}}}",
		"schemas", d.schemas, "securitySchemes",
		"bearer", "type", "http", "scheme", "bearer", "description",
		"The token from POST /session (or `crm token create`): Authorization: Bearer <token>",
		"session_cookie", "type", "apiKey", "in", "cookie", "name", "crm_session", "description",
		"The HttpOnly session cookie POST /session sets (browsers); writes also need csrf_header",
		"csrf_header", "type", "apiKey", "in", "header", "name", "X-CSRF-Token", "description",
		"The session's csrf from POST /session; required on every cookie-authenticated write"));
	json_object_set_new(doc, "tags", d.tags);
	open_objects(json_object_get(doc, "paths"));
	open_objects(json_object_get(json_object_get(doc, "components"), "schemas"));
	prune_schemas(doc);
	json_decref(d.records);
	json_decref(d.object_names);
	crm_error_reset(ctx);
	return doc;
}
