/*
 * openapi.c - the OpenAPI 3.1 document (GET /api/v1/openapi.json) generated
 * from the metadata: one schema per object with every field's JSON type,
 * format, bounds and enum values; the list, create, get, patch, delete,
 * restore, history, import, report and batch operations of every object; and
 * the problem+json schema shared by every error response.
 *
 * OpenAPI 3.1 uses JSON Schema 2020-12, so a nullable field is
 * {"type": ["string", "null"]} and there is no `nullable` keyword.
 */
#include <stdio.h>
#include <string.h>
#include "api.h"
#include "meta.h"
#include "object.h"

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

static json_t *nullable(const char *type)
{
	return json_pack("[s, s]", type, "null");
}

/* The JSON Schema of one field's value. */
static json_t *field_schema(const struct meta_field *field)
{
	json_t *s = json_object();
	enum field_type type = field->type;
	const char *en = meta_label_text(&field->label, "en", field->name);
	bool computed = type == FIELD_FORMULA || type == FIELD_ROLLUP || type == FIELD_AUTONUMBER ||
	                field->formula != NULL;

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
		break;
	case FIELD_AUTONUMBER:
		json_object_set_new(s, "type", json_string("string"));
		if (field->format)
			json_object_set_new(s, "x-crm-format", json_string(field->format));
		break;
	case FIELD_ROLLUP:
		json_object_set_new(s, "type", nullable("number"));
		break;
	default:
		break;
	}
	if (field->has_min || field->has_max) {
		bool text = type == FIELD_TEXT || type == FIELD_TEXTAREA || type == FIELD_EMAIL ||
		            type == FIELD_PHONE || type == FIELD_URL;
		if (!text && field->has_min)
			json_object_set_new(s, "minimum", json_real(field->min));
		if (!text && field->has_max)
			json_object_set_new(s, "maximum", json_real(field->max));
	}
	if (field->default_value)
		json_object_set(s, "default", field->default_value);
	if (field->system || field->readonly || computed)
		json_object_set_new(s, "readOnly", json_true());
	json_object_set_new(s, "x-crm-type", json_string(meta_type_name(field->type)));
	if (field->formula)
		json_object_set_new(s, "x-crm-formula", json_string(field->formula));
	return s;
}

static json_t *object_schema(const struct meta_object *object)
{
	json_t *properties = json_object(), *required = json_array();
	json_t *s = json_object();

	for (int i = 0; i < object->field_count; i++) {
		const struct meta_field *field = &object->fields[i];
		json_object_set_new(properties, field->name, field_schema(field));
		if (field->required && !field->system)
			json_array_append_new(required, json_string(field->name));
	}
	json_object_set_new(s, "type", json_string("object"));
	json_object_set_new(s, "title", json_string(meta_label_text(&object->label, "en", object->name)));
	json_object_set_new(s, "properties", properties);
	if (json_array_size(required))
		json_object_set_new(s, "x-crm-required-on-create", required);
	else
		json_decref(required);
	return s;
}

/* The create body: the writable fields, with the required ones required. */
static json_t *object_input_schema(const struct meta_object *object, const char *schema, bool create)
{
	json_t *required = json_array();
	json_t *s = json_pack("{s:[o], s:b}", "allOf", ref_to(schema), "unevaluatedProperties", 0);
	for (int i = 0; create && i < object->field_count; i++)
		if (object->fields[i].required && !object->fields[i].system)
			json_array_append_new(required, json_string(object->fields[i].name));
	if (json_array_size(required))
		json_object_set_new(s, "required", required);
	else
		json_decref(required);
	return s;
}

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

/* The error responses every operation may give, plus extra (stolen) ones. */
static json_t *responses(json_t *success_code_and_body)
{
	json_t *out = success_code_and_body;
	json_object_set_new(out, "400", problem_response("Malformed request (bad filter, cursor, JSON)"));
	json_object_set_new(out, "404", problem_response("No such object or record"));
	json_object_set_new(out, "5XX", problem_response("Server error (503 busy: retry after Retry-After)"));
	return out;
}

static json_t *json_content(json_t *schema)
{
	return json_pack("{s:{s:o}}", "application/json", "schema", schema);
}

static json_t *record_response(const char *schema, const char *description)
{
	return json_pack("{s:s, s:{s:{s:s, s:{s:s}}}, s:o}", "description", description,
	                 "headers", "ETag", "description", "The record's version, quoted",
	                 "schema", "type", "string", "content", json_content(ref_to(schema)));
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
		"Comma-separated fields or dotted paths to return"));
	json_array_append_new(p, param("search", "query", false, json_pack("{s:s}", "type", "string"),
		"Text matched against the fields marked search: true"));
	json_array_append_new(p, param("count", "query", false,
		json_pack("{s:s, s:[s,s,s]}", "type", "string", "enum", "true", "estimate", "false"),
		"Include `total`: exact (true) or estimated"));
	json_array_append_new(p, param("deleted", "query", false, json_pack("{s:s}", "type", "boolean"),
		"List the recycle bin instead of live records"));
	json_array_append_new(p, param("format", "query", false,
		json_pack("{s:s, s:[s,s]}", "type", "string", "enum", "json", "csv"),
		"csv streams every matching record as CSV (limit and after are ignored)"));
	return p;
}

static json_t *list_schema(const char *schema)
{
	return json_pack("{s:s, s:[s,s], s:{s:{s:s, s:o}, s:{s:[s,s]}, s:{s:s}}}",
		"type", "object", "required", "records", "next",
		"properties",
		"records", "type", "array", "items", ref_to(schema),
		"next", "type", "string", "null",
		"total", "type", "integer");
}

static json_t *if_match_header(bool required)
{
	return param("If-Match", "header", required, json_pack("{s:s}", "type", "string"),
		required ? "The record's ETag; a mismatch is a 412 (lost update), its absence a 428"
		         : "The record's ETag; a mismatch is a 412 (lost update)");
}

static void add_object_paths(json_t *paths, const struct meta_object *object)
{
	char schema[80], path[200], op_id[120];
	const char *label = meta_label_text(&object->label, "en", object->name);
	json_t *id_param = param("id", "path", true,
		json_pack("{s:s, s:s, s:i}", "type", "integer", "format", "int64", "minimum", 1), "Record id");
	json_t *collection = json_object(), *item = json_object(), *op, *r;

	schema_name(object->name, schema, sizeof(schema));

	/* list */
	snprintf(op_id, sizeof(op_id), "list_%s", object->name);
	r = responses(json_pack("{s:{s:s, s:{s:{s:o}, s:{s:{s:s}}}}}", "200", "description", "One page",
		"content", "application/json", "schema", list_schema(schema),
		"text/csv", "schema", "type", "string"));
	op = json_pack("{s:s, s:s, s:[s], s:o, s:o}", "operationId", op_id, "summary",
	               "List records (keyset pages)", "tags", object->name, "parameters", list_parameters(),
	               "responses", r);
	json_object_set_new(collection, "get", op);

	/* create */
	snprintf(op_id, sizeof(op_id), "create_%s", object->name);
	r = responses(json_pack("{s:o}", "201", record_response(schema, "Created; Location names the record")));
	json_object_set_new(r, "415", problem_response("Body is not application/json"));
	json_object_set_new(r, "422", problem_response("Invalid record: errors[] lists every field error"));
	op = json_pack("{s:s, s:s, s:[s], s:{s:b, s:o}, s:o}", "operationId", op_id, "summary", "Create a record",
	               "tags", object->name, "requestBody", "required", 1,
	               "content", json_content(object_input_schema(object, schema, true)), "responses", r);
	json_object_set_new(collection, "post", op);
	snprintf(path, sizeof(path), "/objects/%s", object->name);
	json_object_set_new(paths, path, collection);

	/* get, patch, delete */
	json_object_set_new(item, "parameters", json_pack("[O]", id_param));
	snprintf(op_id, sizeof(op_id), "get_%s", object->name);
	r = responses(json_pack("{s:o, s:{s:s}}", "200", record_response(schema, label),
	                        "304", "description", "Not modified (If-None-Match)"));
	op = json_pack("{s:s, s:s, s:[s], s:[o], s:o}", "operationId", op_id, "summary", "Read a record",
	               "tags", object->name, "parameters",
	               param("deleted", "query", false, json_pack("{s:s}", "type", "boolean"),
	                     "Also find the record in the recycle bin"), "responses", r);
	json_object_set_new(item, "get", op);

	snprintf(op_id, sizeof(op_id), "update_%s", object->name);
	r = responses(json_pack("{s:o}", "200", record_response(schema, "Updated")));
	json_object_set_new(r, "412", problem_response("Lost update: If-Match no longer matches"));
	json_object_set_new(r, "415", problem_response("Body is not JSON"));
	json_object_set_new(r, "422", problem_response("Invalid record"));
	json_object_set_new(r, "428", problem_response("If-Match missing"));
	op = json_pack("{s:s, s:s, s:[s], s:[o], s:{s:b, s:{s:{s:o}, s:{s:o}}}, s:o}",
	               "operationId", op_id, "summary", "Change fields (merge patch; null clears)",
	               "tags", object->name, "parameters", if_match_header(true),
	               "requestBody", "required", 1, "content",
	               "application/json", "schema", object_input_schema(object, schema, false),
	               "application/merge-patch+json", "schema", object_input_schema(object, schema, false),
	               "responses", r);
	json_object_set_new(item, "patch", op);

	snprintf(op_id, sizeof(op_id), "delete_%s", object->name);
	r = responses(json_pack("{s:{s:s}}", "204", "description", "Moved to the recycle bin"));
	json_object_set_new(r, "409", problem_response("Still referenced (on_delete: restrict) or already deleted"));
	json_object_set_new(r, "412", problem_response("Lost update: If-Match no longer matches"));
	op = json_pack("{s:s, s:s, s:[s], s:[o], s:o}", "operationId", op_id, "summary",
	               "Delete to the recycle bin", "tags", object->name, "parameters", if_match_header(false),
	               "responses", r);
	json_object_set_new(item, "delete", op);
	snprintf(path, sizeof(path), "/objects/%s/{id}", object->name);
	json_object_set_new(paths, path, item);

	/* restore */
	snprintf(op_id, sizeof(op_id), "restore_%s", object->name);
	r = responses(json_pack("{s:o}", "200", record_response(schema, "Restored")));
	json_object_set_new(r, "409", problem_response("The record is not deleted"));
	op = json_pack("{s:s, s:s, s:[s], s:o}", "operationId", op_id, "summary",
	               "Restore from the recycle bin", "tags", object->name, "responses", r);
	snprintf(path, sizeof(path), "/objects/%s/{id}/restore", object->name);
	json_object_set_new(paths, path, json_pack("{s:[O], s:o}", "parameters", id_param, "post", op));

	/* history */
	snprintf(op_id, sizeof(op_id), "history_%s", object->name);
	r = responses(json_pack("{s:{s:s}}", "200", "description", "Field-level audit trail"));
	json_object_set_new(r, "501", problem_response("Not available until the audit trail lands"));
	op = json_pack("{s:s, s:s, s:[s], s:o}", "operationId", op_id, "summary", "Field-level history",
	               "tags", object->name, "responses", r);
	snprintf(path, sizeof(path), "/objects/%s/{id}/history", object->name);
	json_object_set_new(paths, path, json_pack("{s:[O], s:o}", "parameters", id_param, "get", op));

	/* import */
	snprintf(op_id, sizeof(op_id), "import_%s", object->name);
	r = responses(json_pack("{s:{s:s, s:o}}", "200", "description",
		"Imported; rejected rows are listed with their line and field errors",
		"content", json_content(ref_to("ImportResult"))));
	json_object_set_new(r, "413", problem_response("Body over the size cap"));
	json_object_set_new(r, "415", problem_response("Body is not text/csv"));
	op = json_pack("{s:s, s:s, s:[s], s:{s:b, s:{s:{s:{s:s}}}}, s:o}", "operationId", op_id,
	               "summary", "Import CSV (header line of field names)", "tags", object->name,
	               "requestBody", "required", 1, "content", "text/csv", "schema", "type", "string",
	               "responses", r);
	snprintf(path, sizeof(path), "/objects/%s/import", object->name);
	json_object_set_new(paths, path, json_pack("{s:o}", "post", op));

	/* report */
	snprintf(op_id, sizeof(op_id), "report_%s", object->name);
	r = responses(json_pack("{s:{s:s, s:o}}", "200", "description", "One row per group",
		"content", json_content(json_pack("{s:s, s:{s:{s:s, s:{s:s}}}}", "type", "object",
			"properties", "rows", "type", "array", "items", "type", "object"))));
	op = json_pack("{s:s, s:s, s:[s], s:[o,o,o], s:o}", "operationId", op_id,
	               "summary", "Group-by aggregate", "tags", object->name, "parameters",
	               param("group", "query", false, json_pack("{s:s}", "type", "string"),
	                     "Comma-separated fields to group by"),
	               param("measure", "query", false, json_pack("{s:s}", "type", "string"),
	                     "count, sum(f), avg(f), min(f), max(f), comma-separated"),
	               param("filter", "query", false, json_pack("{s:s}", "type", "string"),
	                     "Expression selecting the records"),
	               "responses", r);
	snprintf(path, sizeof(path), "/reports/%s", object->name);
	json_object_set_new(paths, path, json_pack("{s:o}", "get", op));
	json_decref(id_param);
}

static json_t *problem_schema(void)
{
	return json_pack("{s:s, s:s, s:[s,s], s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s},"
	                 " s:{s:s, s:{s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}}}}}}",
		"type", "object", "description", "RFC 9457 problem details",
		"required", "title", "status",
		"properties",
		"type", "type", "string",
		"title", "type", "string",
		"status", "type", "integer",
		"detail", "type", "string",
		"request_id", "type", "string",
		"code", "type", "string",
		"errors", "type", "array", "items", "type", "object", "properties",
		"field", "type", "string", "code", "type", "string", "message", "type", "string");
}

json_t *api_openapi(const struct meta *meta)
{
	json_t *doc = json_object(), *paths = json_object(), *schemas = json_object();
	json_t *tags = json_array(), *r, *op;

	json_object_set_new(doc, "openapi", json_string("3.1.0"));
	json_object_set_new(doc, "info", json_pack("{s:s, s:s, s:s}",
		"title", meta->app_name ? meta->app_name : "crm",
		"version", meta->version,
		"description", "REST API generated from the metadata. Errors are application/problem+json (RFC 9457)."));
	json_object_set_new(doc, "jsonSchemaDialect", json_string("https://spec.openapis.org/oas/3.1/dialect/base"));
	json_object_set_new(doc, "servers", json_pack("[{s:s}]", "url", API_PREFIX));

	for (int i = 0; i < meta->object_count; i++) {
		const struct meta_object *object = &meta->objects[i];
		char schema[80];
		schema_name(object->name, schema, sizeof(schema));
		json_object_set_new(schemas, schema, object_schema(object));
		json_array_append_new(tags, json_pack("{s:s, s:s}", "name", object->name, "description",
			meta_label_text(&object->label, "en", object->name)));
		add_object_paths(paths, object);
	}
	json_object_set_new(schemas, "Problem", problem_schema());
	json_object_set_new(schemas, "ImportResult", json_pack(
		"{s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s, s:{s:s}}}}", "type", "object", "properties",
		"rows", "type", "integer", "created", "type", "integer", "rejected", "type", "integer",
		"errors_truncated", "type", "boolean",
		"row_errors", "type", "array", "items", "type", "object"));
	json_object_set_new(schemas, "BatchOperation", json_pack(
		"{s:s, s:[s,s], s:{s:{s:s, s:[s,s,s,s]}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}}",
		"type", "object", "required", "op", "object", "properties",
		"op", "type", "string", "enum", "create", "update", "delete", "restore",
		"object", "type", "string", "id", "type", "integer", "version", "type", "integer",
		"values", "type", "object"));

	r = responses(json_pack("{s:{s:s, s:o}}", "200", "description", "Every operation succeeded",
		"content", json_content(json_pack("{s:s, s:{s:{s:s, s:{s:s}}}}", "type", "object",
			"properties", "results", "type", "array", "items", "type", "object"))));
	json_object_set_new(r, "422", problem_response("An operation failed; nothing was written. "
		"`failed` is its index, `results` every operation's outcome"));
	op = json_pack("{s:s, s:s, s:{s:b, s:o}, s:o}", "operationId", "batch", "summary",
		"Several operations in one transaction, all or nothing", "requestBody", "required", 1,
		"content", json_content(json_pack("{s:s, s:[s], s:{s:{s:s, s:i, s:i, s:o}}}",
			"type", "object", "required", "operations", "properties", "operations", "type", "array",
			"minItems", 1, "maxItems", OBJECT_MAX_BATCH, "items", ref_to("BatchOperation"))),
		"responses", r);
	json_object_set_new(paths, "/batch", json_pack("{s:o}", "post", op));

	json_object_set_new(paths, "/meta", json_pack("{s:{s:s, s:s, s:{s:{s:s}}}}", "get",
		"operationId", "meta", "summary", "The effective metadata (drives the UI)",
		"responses", "200", "description", "Objects, fields, labels, views, rules"));
	json_object_set_new(paths, "/openapi.json", json_pack("{s:{s:s, s:s, s:{s:{s:s}}}}", "get",
		"operationId", "openapi", "summary", "This document",
		"responses", "200", "description", "OpenAPI 3.1"));

	json_object_set_new(doc, "paths", paths);
	json_object_set_new(doc, "components", json_pack("{s:o}", "schemas", schemas));
	json_object_set_new(doc, "tags", tags);
	return doc;
}
