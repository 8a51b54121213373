/*
 * api.c - the REST API under /api/v1 (DESIGN.md section 6): parses the
 * request target and JSON bodies, routes, calls the object API and turns
 * its answers into JSON or application/problem+json (RFC 9457) responses.
 *
 * Knows nothing of libmicrohttpd (http.c does the wire). Object names from a
 * URL are only ever looked up in the metadata, never used to build a path or
 * SQL, so `../etc`, `%2e%2e` or `account;drop` are simply unknown objects.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "api.h"
#include "attachment.h"
#include "csv.h"
#include "deliver.h"
#include "jsonw.h"
#include "kpi.h"
#include "report.h"
#include "expr.h"
#include "context.h"
#include "access.h"
#include "auth.h"
#include "meta_model.h"
#include "object.h"
#include "openapi.h"
#include "plugin_registry.h"
#include "rate_limit.h"
#include "ui.h"
#include "workflow.h"
#include <sodium.h>

#define MAX_SORT_LENGTH    1024
#define MAX_FIELDS_LENGTH  8192
#define MAX_CURSOR_LENGTH  4096
#define MAX_SEARCH_LENGTH  1024
#define MAX_GROUP_LENGTH   1024
#define IMPORT_ERROR_LIMIT 1000     /* rejected rows listed in an import response */

struct api {
	struct crm_kernel *kernel;     /* borrowed */
	struct api_options options;
	char *meta_body;               /* GET /meta, rendered once */
	size_t meta_len;
	/* GET /openapi.json per role: [role index] or [role_count] for a caller without rights */
	_Atomic(struct api_document *) *openapi;
	int openapi_slots;
	struct rate_limiter *public_limits;   /* requests per client address to each public plugin route */
};

/* A rendered document and its ETag. */
struct api_document {
	size_t len;
	char etag[32];
	char body[];
};

/* ---- the one status table ---------------------------------------------- */

static const struct {
	int code;
	int status;
	const char *type;
} status_table[] = {
	{ CRM_OK,           200, "ok" },
	{ CRM_EINVAL,       400, "bad-request" },
	{ CRM_ENOTFOUND,    404, "not-found" },
	{ CRM_ECONFLICT,    412, "lost-update" },
	{ CRM_EVALIDATION,  422, "validation" },
	{ CRM_EMETA,        500, "internal" },
	{ CRM_EIO,          500, "internal" },
	{ CRM_ENOMEM,       503, "out-of-memory" },
	{ CRM_ELIMIT,       400, "limit" },
	{ CRM_EBUSY,        503, "busy" },
	{ CRM_EDENIED,      403, "denied" },
	{ CRM_EFULL,        507, "storage-full" },
	{ CRM_EDESTRUCTIVE, 409, "destructive" },
	{ CRM_EINTERNAL,    500, "internal" },
	{ CRM_ESTATE,       409, "wrong-state" },
};

int api_status_for(int code)
{
	for (size_t i = 0; i < sizeof(status_table) / sizeof(status_table[0]); i++)
		if (status_table[i].code == code)
			return status_table[i].status;
	return 500;
}

static const char *type_for_code(int code)
{
	for (size_t i = 0; i < sizeof(status_table) / sizeof(status_table[0]); i++)
		if (status_table[i].code == code)
			return status_table[i].type;
	return "internal";
}

static const char *title_for(int status)
{
	switch (status) {
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 422: return "Invalid record";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 507: return "Insufficient Storage";
	default: return status < 500 ? "Bad Request" : "Internal Server Error";
	}
}

static const char *type_for_status(int status)
{
	switch (status) {
	case 400: return "bad-request";
	case 401: return "unauthenticated";
	case 403: return "denied";
	case 404: return "not-found";
	case 405: return "method-not-allowed";
	case 409: return "conflict";
	case 412: return "precondition-failed";
	case 413: return "too-large";
	case 414: return "uri-too-long";
	case 415: return "unsupported-media-type";
	case 422: return "validation";
	case 428: return "precondition-required";
	case 429: return "too-many-requests";
	case 431: return "headers-too-large";
	case 501: return "not-implemented";
	case 503: return "unavailable";
	case 507: return "storage-full";
	default: return "internal";
	}
}

/* ---- responses ----------------------------------------------------------- */

char *api_dump_json(const json_t *json, size_t *len_out)
{
	struct jsonw w = { 0 };
	jsonw_value(&w, json);
	return jsonw_finish(&w, len_out);
}

static void respond_json(struct api_response *res, int status, const json_t *json)
{
	res->status = status;
	res->content_type = "application/json";
	res->body = api_dump_json(json, &res->body_len);
}

static void respond_static(struct api_response *res, int status, const char *body, size_t len,
                           const char *content_type)
{
	res->status = status;
	res->content_type = content_type;
	res->body = xmalloc(len + 1);
	memcpy(res->body, body, len);
	res->body[len] = '\0';
	res->body_len = len;
}

/*
 * A problem+json body. errors (borrowed) may be NULL; extra (stolen) holds
 * extension members merged into the document.
 */
static void problem_full(struct api_response *res, int status, const char *type,
                         const char *detail, const json_t *errors, const char *request_id,
                         json_t *extra)
{
	json_t *doc = json_object();
	char type_uri[96];

	snprintf(type_uri, sizeof(type_uri), "urn:crm:problem:%s", type ? type : type_for_status(status));
	json_object_set_new(doc, "type", json_string(type_uri));
	json_object_set_new(doc, "title", json_string(title_for(status)));
	json_object_set_new(doc, "status", json_integer(status));
	/* Messages may quote client input: keep them valid UTF-8 for jansson. */
	if (detail && *detail) {
		json_t *text = json_string(detail);
		if (!text)
			text = json_string("(message not valid UTF-8)");
		json_object_set_new(doc, "detail", text);
	}
	if (errors && json_array_size(errors) > 0)
		json_object_set(doc, "errors", (json_t *)errors);
	if (request_id)
		json_object_set_new(doc, "request_id", json_string(request_id));
	if (extra) {
		json_object_update_missing(doc, extra);
		json_decref(extra);
	}
	api_response_clear(res);
	res->status = status;
	res->content_type = "application/problem+json";
	res->body = api_dump_json(doc, &res->body_len);
	json_decref(doc);
}

void api_problem(struct api_response *res, int status, const char *detail, const char *request_id)
{
	problem_full(res, status, NULL, detail, NULL, request_id, NULL);
}

static void problem(struct api_response *res, const struct api_request *req, int status,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void problem(struct api_response *res, const struct api_request *req, int status,
                    const char *fmt, ...)
{
	char detail[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	problem_full(res, status, NULL, detail, NULL, req->request_id, NULL);
}

/* Quotes a client-supplied name in a message, cut to a sane length. */
static const char *shorten(const char *text, char *buf, size_t size)
{
	size_t len = strlen(text);
	if (len < size)
		return text;
	/* Cut on a UTF-8 character boundary. */
	len = size - 4;
	while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
		len--;
	memcpy(buf, text, len);
	memcpy(buf + len, "...", 4);
	return buf;
}

/* The problem response for a failed object API call; extra is stolen. */
static void problem_from_ctx(struct api *api, struct api_response *res,
                             const struct api_request *req, int code, struct crm_ctx *ctx,
                             json_t *extra)
{
	int status = api_status_for(code);
	const char *detail = ctx->message[0] ? ctx->message : crm_status_name(code);

	if (status >= 500) {
		FILE *log = api->kernel->log ? api->kernel->log : stderr;
		if (code != CRM_EBUSY && code != CRM_ENOMEM) {
			fprintf(log, "request %s: %s %s: %s: %s\n", req->request_id ? req->request_id : "-",
			        req->method, req->target, crm_status_name(code), ctx->message);
			/* a full disk is no secret and the client's to know (507, RELIABILITY row 2) */
			if (code != CRM_EFULL)
				detail = "internal error; the server log has the details under this request id";
		}
	}
	if (!extra)
		extra = json_object();
	json_object_set_new(extra, "code", json_string(crm_status_name(code)));
	problem_full(res, status, type_for_code(code), detail,
	             code == CRM_EVALIDATION ? ctx->field_errors : NULL, req->request_id, extra);
	if (code == CRM_EBUSY || code == CRM_ENOMEM)
		res->retry_after = 1;
	else if (code == CRM_EFULL)
		res->retry_after = 30;
}

void api_response_clear(struct api_response *res)
{
	free(res->body);
	if (res->stream)
		api_stream_free(res->stream);
	memset(res, 0, sizeof(*res));
}

static void set_etag(struct api_response *res, const json_t *record)
{
	json_t *version = json_object_get(record, "version");
	if (json_is_integer(version))
		snprintf(res->etag, sizeof(res->etag), "\"%lld\"", (long long)json_integer_value(version));
}

/* ---- the request target ------------------------------------------------- */

static int hex_value(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* True if text[0..len) is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF). */
static bool valid_utf8(const unsigned char *text, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = text[i];
		size_t need;
		uint32_t cp;
		if (c < 0x80) { i++; continue; }
		if (c >= 0xC2 && c <= 0xDF) { need = 1; cp = c & 0x1F; }
		else if (c >= 0xE0 && c <= 0xEF) { need = 2; cp = c & 0x0F; }
		else if (c >= 0xF0 && c <= 0xF4) { need = 3; cp = c & 0x07; }
		else return false;
		if (len - i <= need)
			return false;
		for (size_t k = 1; k <= need; k++) {
			if ((text[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (text[i + k] & 0x3F);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += need + 1;
	}
	return true;
}

/*
 * Decodes text[start..end) in place (%XX; '+' as space when plus_space) and
 * NUL-terminates it. Returns the decoded start, or NULL on a bad escape,
 * a control character (line_breaks lets CR and LF through: a form's
 * textarea) or invalid UTF-8.
 */
static char *decode_piece(char *text, size_t start, size_t end, bool plus_space, bool line_breaks)
{
	size_t out = start;
	for (size_t i = start; i < end; i++) {
		int c = (unsigned char)text[i];
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= end)
				return NULL;
			hi = hex_value((unsigned char)text[i + 1]);
			lo = hex_value((unsigned char)text[i + 2]);
			if (hi < 0 || lo < 0)
				return NULL;
			c = hi * 16 + lo;
			i += 2;
		} else if (c == '+' && plus_space) {
			c = ' ';
		}
		/* Tab is allowed (filters may hold it); other controls and NUL are not. */
		if ((c < 0x20 && c != '\t' && !(line_breaks && (c == '\r' || c == '\n'))) || c == 0x7F)
			return NULL;
		text[out++] = (char)c;
	}
	text[out] = '\0';
	if (!valid_utf8((const unsigned char *)text + start, out - start))
		return NULL;
	return text + start;
}

int api_parse_target(const char *target, size_t len, struct api_target *out,
                     char *err, size_t errlen)
{
	struct api_target t;
	size_t query_at, i, start;

	memset(&t, 0, sizeof(t));
	if (len == 0 || target[0] != '/') {
		snprintf(err, errlen, "the request target must start with '/'");
		return CRM_EINVAL;
	}
	if (memchr(target, '\0', len)) {
		snprintf(err, errlen, "NUL byte in the request target");
		return CRM_EINVAL;
	}
	t.buffer = xmalloc(len + 1);
	memcpy(t.buffer, target, len);
	t.buffer[len] = '\0';

	query_at = len;
	for (i = 0; i < len; i++)
		if (t.buffer[i] == '?') {
			query_at = i;
			break;
		}

	/* Path segments; empty ones ("//", a trailing '/') are dropped. */
	start = 1;
	for (i = 1; i <= query_at; i++) {
		if (i < query_at && t.buffer[i] != '/')
			continue;
		if (i > start) {
			char *segment;
			if (t.segment_count == API_MAX_SEGMENTS) {
				snprintf(err, errlen, "too many path segments");
				goto fail;
			}
			segment = decode_piece(t.buffer, start, i, false, false);
			if (!segment) {
				snprintf(err, errlen, "malformed path: bad %%-escape, control character or invalid UTF-8");
				goto fail;
			}
			t.segments[t.segment_count++] = segment;
		}
		start = i + 1;
	}

	/* Query parameters: name=value pairs separated by '&'. */
	start = query_at + 1;
	for (i = start; query_at < len && i <= len; i++) {
		size_t eq;
		char *name, *value;
		if (i < len && t.buffer[i] != '&')
			continue;
		if (i == start) {
			start = i + 1;
			continue;
		}
		for (eq = start; eq < i && t.buffer[eq] != '='; eq++)
			;
		if (t.param_count == API_MAX_PARAMS) {
			snprintf(err, errlen, "more than %d query parameters", API_MAX_PARAMS);
			goto fail;
		}
		name = decode_piece(t.buffer, start, eq, true, false);
		value = eq < i ? decode_piece(t.buffer, eq + 1, i, true, false) : (t.buffer[eq] = '\0', t.buffer + eq);
		if (!name || !value) {
			snprintf(err, errlen, "malformed query string: bad %%-escape, control character or invalid UTF-8");
			goto fail;
		}
		if (*name == '\0') {
			snprintf(err, errlen, "query parameter without a name");
			goto fail;
		}
		for (int k = 0; k < t.param_count; k++)
			if (strcmp(t.names[k], name) == 0) {
				char shortbuf[64];
				snprintf(err, errlen, "query parameter '%s' given twice", shorten(name, shortbuf, sizeof(shortbuf)));
				goto fail;
			}
		t.names[t.param_count] = name;
		t.values[t.param_count] = value;
		t.param_count++;
		start = i + 1;
	}
	*out = t;
	return CRM_OK;
fail:
	free(t.buffer);
	return CRM_EINVAL;
}

void api_target_free(struct api_target *target)
{
	free(target->buffer);
	memset(target, 0, sizeof(*target));
}

const char *api_target_param(const struct api_target *target, const char *name)
{
	for (int i = 0; i < target->param_count; i++)
		if (strcmp(target->names[i], name) == 0)
			return target->values[i];
	return NULL;
}

/* CRM_EINVAL unless every parameter is in allowed (NULL-terminated) or starts with '_'. */
static int check_params(const struct api_target *target, const char *const *allowed,
                        char *err, size_t errlen)
{
	for (int i = 0; i < target->param_count; i++) {
		const char *name = target->names[i];
		bool known = name[0] == '_';
		for (int k = 0; !known && allowed[k]; k++)
			known = strcmp(allowed[k], name) == 0;
		if (!known) {
			char shortbuf[64];
			snprintf(err, errlen, "unknown query parameter '%s'", shorten(name, shortbuf, sizeof(shortbuf)));
			return CRM_EINVAL;
		}
	}
	return CRM_OK;
}

static int parse_bool_param(const char *name, const char *value, bool *out, char *err, size_t errlen)
{
	if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0 || strcmp(value, "") == 0)
		*out = true;
	else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
		*out = false;
	else {
		snprintf(err, errlen, "%s must be true or false", name);
		return CRM_EINVAL;
	}
	return CRM_OK;
}

static int check_length(const char *name, const char *value, size_t max, char *err, size_t errlen)
{
	if (value && strlen(value) > max) {
		snprintf(err, errlen, "%s is longer than %zu bytes", name, max);
		return CRM_ELIMIT;
	}
	return CRM_OK;
}

int api_list_query(const struct api_target *target, struct object_query *query,
                   struct api_list_options *options, char *err, size_t errlen)
{
	static const char *const allowed[] = {
		"filter", "sort", "limit", "after", "fields", "search", "q", "count", "deleted", "format", NULL
	};
	const char *value;
	int rc;

	memset(query, 0, sizeof(*query));
	memset(options, 0, sizeof(*options));
	if ((rc = check_params(target, allowed, err, errlen)) != CRM_OK)
		return rc;

	query->filter = api_target_param(target, "filter");
	query->sort = api_target_param(target, "sort");
	query->fields = api_target_param(target, "fields");
	query->search = api_target_param(target, "search");
	if (api_target_param(target, "q"))   /* q: the search box's name for the same full-text search */
		query->search = api_target_param(target, "q");
	query->after = api_target_param(target, "after");
	if ((rc = check_length("filter", query->filter, EXPR_MAX_LENGTH, err, errlen)) ||
	    (rc = check_length("sort", query->sort, MAX_SORT_LENGTH, err, errlen)) ||
	    (rc = check_length("fields", query->fields, MAX_FIELDS_LENGTH, err, errlen)) ||
	    (rc = check_length("search", query->search, MAX_SEARCH_LENGTH, err, errlen)) ||
	    (rc = check_length("after", query->after, MAX_CURSOR_LENGTH, err, errlen)))
		return rc;
	/* Empty means absent, so that a form can send every field. */
	if (query->filter && !*query->filter) query->filter = NULL;
	if (query->sort && !*query->sort) query->sort = NULL;
	if (query->fields && !*query->fields) query->fields = NULL;
	if (query->search && !*query->search) query->search = NULL;
	if (query->after && !*query->after) query->after = NULL;

	if ((value = api_target_param(target, "limit")) != NULL) {
		long long limit = 0;
		size_t digits = strlen(value);
		if (digits == 0 || digits > 9 || strspn(value, "0123456789") != digits) {
			snprintf(err, errlen, "limit must be a whole number from 1 to %d", OBJECT_MAX_LIMIT);
			return CRM_EINVAL;
		}
		for (size_t i = 0; i < digits; i++)
			limit = limit * 10 + (value[i] - '0');
		if (limit < 1 || limit > OBJECT_MAX_LIMIT) {
			snprintf(err, errlen, "limit must be a whole number from 1 to %d", OBJECT_MAX_LIMIT);
			return CRM_ELIMIT;
		}
		query->limit = (int)limit;
	}
	if ((value = api_target_param(target, "count")) != NULL) {
		if (strcmp(value, "true") == 0 || strcmp(value, "exact") == 0 || strcmp(value, "") == 0)
			query->count = OBJECT_COUNT_EXACT;
		else if (strcmp(value, "estimate") == 0)
			query->count = OBJECT_COUNT_ESTIMATE;
		else if (strcmp(value, "false") == 0)
			query->count = OBJECT_COUNT_NONE;
		else {
			snprintf(err, errlen, "count must be true, estimate or false");
			return CRM_EINVAL;
		}
	}
	if ((value = api_target_param(target, "deleted")) != NULL &&
	    (rc = parse_bool_param("deleted", value, &query->deleted, err, errlen)) != CRM_OK)
		return rc;
	if ((value = api_target_param(target, "format")) != NULL) {
		if (strcmp(value, "csv") == 0)
			options->csv = true;
		else if (strcmp(value, "json") != 0) {
			snprintf(err, errlen, "format must be json or csv");
			return CRM_EINVAL;
		}
	}
	return CRM_OK;
}

/* ---- JSON bodies --------------------------------------------------------- */

int api_parse_json(const char *body, size_t len, int max_depth, json_t **out,
                   char *err, size_t errlen)
{
	json_error_t error;
	json_t *json;
	int depth = 0, line = 1, column = 0;
	bool in_string = false, escaped = false;

	if (len == 0) {
		snprintf(err, errlen, "the request body is empty; a JSON document is required");
		return CRM_EINVAL;
	}
	/*
	 * jansson recurses once per level (up to 2048): count brackets outside
	 * strings first, so that a deeply nested body costs one linear pass.
	 */
	for (size_t i = 0; i < len; i++) {
		char c = body[i];
		column++;
		if (c == '\n') {
			line++;
			column = 0;
		}
		if (in_string) {
			if (escaped)
				escaped = false;
			else if (c == '\\')
				escaped = true;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"')
			in_string = true;
		else if (c == '[' || c == '{') {
			if (++depth > max_depth) {
				snprintf(err, errlen, "JSON nested deeper than %d levels at line %d, column %d",
				         max_depth, line, column);
				return CRM_ELIMIT;
			}
		} else if (c == ']' || c == '}')
			depth--;
	}
	json = json_loadb(body, len, JSON_REJECT_DUPLICATES, &error);
	if (!json) {
		snprintf(err, errlen, "invalid JSON at line %d, column %d: %s", error.line, error.column,
		         error.text);
		return CRM_EINVAL;
	}
	*out = json;
	return CRM_OK;
}

/* ---- HTML form bodies ------------------------------------------------------ */

/*
 * application/x-www-form-urlencoded, what an HTML form posts, decoded with
 * the query string's own decoder (decode_piece), so that a form field and a
 * query parameter are read alike: the same %XX and '+' rules, the same
 * refusals, except that a value may hold line breaks (a textarea).
 *
 * Debian's liburiparser (0.9.7) has a query dissector, but it hands back
 * NUL-terminated strings, so "%00" silently cuts a value short, and it keeps
 * malformed escapes as they are where the query string refuses them: two
 * decoders of one format that disagree. Splitting on '&' and '=' is all
 * that is added here.
 */
int api_parse_form(const char *body, size_t len, json_t **out, char *err, size_t errlen)
{
	if (memchr(body, '\0', len)) {
		snprintf(err, errlen, "NUL byte in the form");
		return CRM_EINVAL;
	}
	char *text = xmalloc(len + 1);
	memcpy(text, body, len);
	text[len] = '\0';
	json_t *form = json_object();
	int fields = 0, code = CRM_EINVAL;
	char shortbuf[64];
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && text[i] != '&')
			continue;
		size_t eq = start;
		while (eq < i && text[eq] != '=')
			eq++;
		if (i == start) {          /* "a=1&&b=2", a trailing '&' */
			start = i + 1;
			continue;
		}
		if (++fields > API_FORM_MAX_FIELDS) {
			snprintf(err, errlen, "the form has more than %d fields", API_FORM_MAX_FIELDS);
			code = CRM_ELIMIT;
			goto fail;
		}
		char *name = decode_piece(text, start, eq, true, false);
		char *value = eq < i ? decode_piece(text, eq + 1, i, true, true) : (text[eq] = '\0', text + eq);
		if (!name || !value) {
			snprintf(err, errlen, "malformed form field %d: bad %%-escape, control character or invalid UTF-8",
			         fields);
			goto fail;
		}
		size_t name_len = strlen(name);
		if (name_len == 0 || name_len > API_FORM_MAX_NAME) {
			snprintf(err, errlen, "form field %d: a name of 1 to %d bytes is needed", fields, API_FORM_MAX_NAME);
			goto fail;
		}
		/* "tag[]=a&tag[]=b": several values, as a list under "tag"; any other name once */
		bool many = name_len > 2 && name[name_len - 2] == '[' && name[name_len - 1] == ']';
		if (many)
			name[name_len - 2] = '\0';
		json_t *held = json_object_get(form, name);
		if (held && (!many || !json_is_array(held))) {
			snprintf(err, errlen, "form field '%s' is given more than once (a field that takes several values "
			         "is named '%s[]')", shorten(name, shortbuf, sizeof(shortbuf)), shorten(name, shortbuf, sizeof(shortbuf)));
			goto fail;
		}
		if (many && !held)
			json_object_set_new(form, name, held = json_array());
		json_t *string = json_string(value);
		if (many)
			json_array_append_new(held, string);
		else
			json_object_set_new(form, name, string);
		start = i + 1;
	}
	free(text);
	*out = form;
	return CRM_OK;
fail:
	free(text);
	json_decref(form);
	return code;
}

/* ---- /meta --------------------------------------------------------------- */

static json_t *label_json(const struct meta_label *label, const char *fallback)
{
	json_t *out = json_object();
	for (int i = 0; i < label->count; i++)
		json_object_set_new(out, label->lang[i], json_string(label->text[i]));
	if (label->count == 0 && fallback)
		json_object_set_new(out, "en", json_string(fallback));
	return out;
}

static const char *on_delete_name(enum on_delete on_delete)
{
	switch (on_delete) {
	case ON_DELETE_SET_NULL: return "set_null";
	case ON_DELETE_CASCADE: return "cascade";
	default: return "restrict";
	}
}

static const char *measure_name(enum rollup_measure measure)
{
	switch (measure) {
	case ROLLUP_SUM: return "sum";
	case ROLLUP_MIN: return "min";
	case ROLLUP_MAX: return "max";
	case ROLLUP_AVG: return "avg";
	default: return "count";
	}
}

static json_t *field_json(const struct meta_field *field)
{
	json_t *out = json_object();
	bool computed = field->type == FIELD_FORMULA || field->type == FIELD_ROLLUP ||
	                field->type == FIELD_AUTONUMBER || field->formula != NULL;

	json_object_set_new(out, "name", json_string(field->name));
	json_object_set_new(out, "type", json_string(meta_type_name(field->type)));
	json_object_set_new(out, "label", label_json(&field->label, field->name));
	json_object_set_new(out, "required", json_boolean(field->required));
	json_object_set_new(out, "readonly", json_boolean(field->readonly || field->system || computed));
	json_object_set_new(out, "system", json_boolean(field->system));
	if (field->search)
		json_object_set_new(out, "search", json_true());
	if (field->unique)
		json_object_set_new(out, "unique", json_true());
	if (field->has_min)
		json_object_set_new(out, "min", json_real(field->min));
	if (field->has_max)
		json_object_set_new(out, "max", json_real(field->max));
	if (field->max_length > 0)
		json_object_set_new(out, "max_length", json_integer(field->max_length));
	if (field->type == FIELD_DECIMAL || field->type == FIELD_MONEY || field->type == FIELD_PERCENT)
		json_object_set_new(out, "scale", json_integer(field->scale));
	/* "EUR", or {"field": "currency"}: the record's own (the UI shows the code beside the amount) */
	if (field->currency && field->currency_field)
		json_object_set_new(out, "currency", json_pack("{s:s}", "field", field->currency_field->name));
	else if (field->currency)
		json_object_set_new(out, "currency", json_string(field->currency));
	if (field->default_value)
		json_object_set(out, "default", field->default_value);
	static const char *const computed_defaults[] = { NULL, "$me", NULL, "today()", "now()" };
	if (field->default_kind == DEFAULT_USER_FIELD) {
		char text[80];
		snprintf(text, sizeof(text), "$user.%s", field->default_user_field);
		json_object_set_new(out, "default_expr", json_string(text));
	} else if (field->default_kind != DEFAULT_VALUE) {
		json_object_set_new(out, "default_expr", json_string(computed_defaults[field->default_kind]));
	}
	if (field->value_count > 0) {
		json_t *values = json_array();
		for (int i = 0; i < field->value_count; i++)
			json_array_append_new(values, json_pack("{s:s, s:o}", "value", field->values[i],
				"label", label_json(&field->value_labels[i], field->values[i])));
		json_object_set_new(out, "values", values);
	}
	if (field->to) {
		json_object_set_new(out, "to", json_string(field->to));
		json_object_set_new(out, "on_delete", json_string(on_delete_name(field->on_delete)));
	}
	if (field->formula) {
		json_object_set_new(out, "formula", json_string(field->formula));
		json_object_set_new(out, "returns", json_string(meta_type_name(field->result_type)));
	}
	if (field->type == FIELD_ROLLUP) {
		json_t *rollup = json_object();
		if (field->rollup_of)
			json_object_set_new(rollup, "of", json_string(field->rollup_of));
		json_object_set_new(rollup, "measure", json_string(measure_name(field->rollup_measure)));
		if (field->rollup_measure_field)
			json_object_set_new(rollup, "field", json_string(field->rollup_measure_field));
		if (field->rollup_where)
			json_object_set_new(rollup, "where", json_string(field->rollup_where));
		json_object_set_new(out, "rollup", rollup);
	}
	if (field->format)
		json_object_set_new(out, "format", json_string(field->format));
	return out;
}

json_t *api_meta_json(const struct meta *meta)
{
	json_t *doc = json_object(), *app = json_object(), *objects = json_array();
	json_t *languages = json_array();

	for (int i = 0; i < meta->language_count; i++)
		json_array_append_new(languages, json_string(meta->languages[i]));
	json_object_set_new(app, "name", json_string(meta->app_name ? meta->app_name : "crm"));
	if (meta->industry)
		json_object_set_new(app, "industry", json_string(meta->industry));
	json_object_set_new(app, "languages", languages);
	json_object_set_new(app, "version", json_string(meta->version));
	json_object_set_new(app, "kernel", json_string(CRM_VERSION));
	/* the one setting the UI reads: the ISO 4217 code money fields show (config: { currency: EUR }) */
	const char *currency = json_string_value(json_object_get(meta->config, "currency"));
	if (currency && strlen(currency) == 3 && currency[0] >= 'A' && currency[0] <= 'Z' && currency[1] >= 'A'
	    && currency[1] <= 'Z' && currency[2] >= 'A' && currency[2] <= 'Z')
		json_object_set_new(app, "currency", json_string(currency));
	json_object_set_new(doc, "app", app);

	for (int i = 0; i < meta->object_count; i++) {
		const struct meta_object *object = &meta->objects[i];
		json_t *o = json_object(), *fields = json_array(), *rules = json_array();
		json_object_set_new(o, "name", json_string(object->name));
		json_object_set_new(o, "label", label_json(&object->label, object->name));
		json_object_set_new(o, "module", object->module ? json_string(object->module) : json_null());
		if (object->label_plural.count)
			json_object_set_new(o, "label_plural", label_json(&object->label_plural, object->name));
		if (object->module_label.count)
			json_object_set_new(o, "module_label", label_json(&object->module_label, object->module));
		for (int k = 0; k < object->field_count; k++)
			json_array_append_new(fields, field_json(&object->fields[k]));
		json_object_set_new(o, "fields", fields);
		for (int k = 0; k < object->rule_count; k++) {
			json_t *rule = json_object();
			json_object_set_new(rule, "message", json_string(object->rules[k].message ? object->rules[k].message : ""));
			if (object->rules[k].message_label.count > 1)   /* the message in every language it has */
				json_object_set_new(rule, "message_label", label_json(&object->rules[k].message_label, ""));
			if (object->rules[k].field)
				json_object_set_new(rule, "field", json_string(object->rules[k].field));
			json_array_append_new(rules, rule);
		}
		json_object_set_new(o, "rules", rules);
		json_object_set_new(o, "views", object->views ? json_incref(object->views) : json_object());
		json_array_append_new(objects, o);
	}
	json_object_set_new(doc, "objects", objects);
	return doc;
}

/* ---- construction --------------------------------------------------------- */

struct api *api_new(struct crm_kernel *kernel, const struct api_options *options)
{
	struct api *api = xcalloc(1, sizeof(*api));
	json_t *doc;

	api->kernel = kernel;
	if (options)
		api->options = *options;
	doc = api_meta_json(kernel->meta);
	api->meta_body = api_dump_json(doc, &api->meta_len);
	json_decref(doc);
	api->openapi_slots = kernel->meta->role_count + 1;
	api->openapi = xcalloc((size_t)api->openapi_slots, sizeof(*api->openapi));
	for (int i = 0; i < api->openapi_slots; i++)
		atomic_init(&api->openapi[i], NULL);
	api->public_limits = rate_limiter_new();
	return api;
}

void api_free(struct api *api)
{
	if (!api)
		return;
	free(api->meta_body);
	for (int i = 0; i < api->openapi_slots; i++)
		free(atomic_load(&api->openapi[i]));
	free(api->openapi);
	rate_limiter_free(api->public_limits);
	free(api);
}

/* ---- helpers for handlers ------------------------------------------------- */

/* A record id from a path segment: 1..2^62 in plain decimal, else 0. */
static int64_t parse_id(const char *text)
{
	int64_t id = 0;
	size_t len = strlen(text);
	if (len == 0 || len > 18 || text[0] == '0' || strspn(text, "0123456789") != len)
		return 0;
	for (size_t i = 0; i < len; i++)
		id = id * 10 + (text[i] - '0');
	return id;
}

/* True if the media type of content_type (before ';', case-insensitive) is one of types. */
static bool content_type_is(const char *content_type, const char *const *types)
{
	size_t len;
	if (!content_type)
		return false;
	while (*content_type == ' ' || *content_type == '\t')
		content_type++;
	len = strcspn(content_type, "; \t");
	for (int i = 0; types[i]; i++)
		if (strlen(types[i]) == len && strncasecmp(content_type, types[i], len) == 0)
			return true;
	return false;
}

static const char *const json_types[] = { "application/json", NULL };
static const char *const patch_types[] = { "application/json", "application/merge-patch+json", NULL };
static const char *const csv_types[] = { "text/csv", NULL };

/*
 * The JSON object body of a POST/PATCH; on failure the response is filled
 * and NULL returned.
 */
static json_t *json_body(const struct api_request *req, struct api_response *res,
                         const char *const *types, bool want_object)
{
	char err[300];
	json_t *json = NULL;
	int rc;

	if (!content_type_is(req->content_type, types)) {
		problem(res, req, 415, "the body must be sent as %s", types[0]);
		return NULL;
	}
	rc = api_parse_json(req->body ? req->body : "", req->body_len, API_MAX_JSON_DEPTH, &json,
	                    err, sizeof(err));
	if (rc != CRM_OK) {
		problem(res, req, 400, "%s", err);
		return NULL;
	}
	if (want_object && !json_is_object(json)) {
		json_decref(json);
		problem(res, req, 400, "the body must be a JSON object");
		return NULL;
	}
	return json;
}

/*
 * Reads If-Match: *version_out = the version it names, 0 for "*" or when
 * absent (*present says which). On an unusable value fills a 412 and returns false.
 */
static bool if_match_version(const struct api_request *req, struct api_response *res,
                             int64_t *version_out, bool *present)
{
	const char *value = req->if_match;
	size_t len;
	int64_t version = 0;

	*version_out = 0;
	*present = value != NULL;
	if (!value)
		return true;
	while (*value == ' ' || *value == '\t')
		value++;
	len = strlen(value);
	while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
		len--;
	if (len == 1 && value[0] == '*')
		return true;
	if (len >= 2 && value[0] == '"' && value[len - 1] == '"') {
		value++;
		len -= 2;
	}
	if (len == 0 || len > 18 || strspn(value, "0123456789") < len) {
		problem(res, req, 412, "If-Match must be the ETag of the record (\"<version>\"); "
		        "weak tags and lists never match");
		return false;
	}
	for (size_t i = 0; i < len; i++)
		version = version * 10 + (value[i] - '0');
	if (version <= 0) {
		problem(res, req, 412, "the record has no version %lld", (long long)version);
		return false;
	}
	*version_out = version;
	return true;
}

/* True if If-None-Match names etag (or is "*"). */
static bool if_none_match_hits(const char *header, const char *etag)
{
	size_t etag_len = strlen(etag);
	const char *p = header;
	if (!header || !*etag)
		return false;
	while (*p) {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (*p == '*')
			return true;
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		if (strncmp(p, etag, etag_len) == 0 && (p[etag_len] == '\0' || p[etag_len] == ',' ||
		                                         p[etag_len] == ' '))
			return true;
		p = strchr(p, ',');
		if (!p)
			break;
	}
	return false;
}

static void respond_record(struct api_response *res, int status, const json_t *record)
{
	respond_json(res, status, record);
	set_etag(res, record);
}

/* ---- CSV export stream --------------------------------------------------- */

struct api_stream {
	struct crm_ctx ctx;
	char request_id[72];
	char object[72];
	const struct meta_object *meta_object;
	struct object_query query;
	char *filter, *sort, *fields, *search, *after;   /* owned copies behind query */
	int column_count;
	char **columns;                                 /* owned */
	const struct meta_field **column_fields;        /* NULL for paths */
	json_t *page;                                   /* the current page's records */
	size_t page_index;
	bool last_page;
	struct strbuf out;                              /* CSV not yet handed out */
	size_t out_pos;
	struct csv_writer writer;
	int64_t rows;
	FILE *log;
	/* an attachment's download instead: its blob, read block by block */
	bool is_file;
	int file_fd;
	char disposition[1200];
};

static int stream_write(void *arg, const char *data, size_t len)
{
	strbuf_add(arg, data, len);
	return 0;
}

static void stream_real(struct strbuf *sb, double value)
{
	char text[40];
	/* The shortest of %.15g and %.17g that reads back exactly. */
	snprintf(text, sizeof(text), "%.15g", value);
	if (strtod(text, NULL) != value)
		snprintf(text, sizeof(text), "%.17g", value);
	strbuf_puts(sb, text);
}

static bool field_is_text(const struct meta_field *field)
{
	enum field_type type;
	if (!field)
		return true;
	type = field->type == FIELD_FORMULA ? field->result_type : field->type;
	return type == FIELD_TEXT || type == FIELD_TEXTAREA || type == FIELD_EMAIL ||
	       type == FIELD_PHONE || type == FIELD_URL || type == FIELD_AUTONUMBER;
}

static void stream_value(struct api_stream *s, const json_t *value, const struct meta_field *field)
{
	struct strbuf text = { 0 };
	switch (json_typeof(value)) {
	case JSON_STRING:
		csv_writer_field(&s->writer, json_string_value(value), json_string_length(value),
		                 field_is_text(field) ? CSV_TEXT : 0);
		return;
	case JSON_INTEGER:
		strbuf_printf(&text, "%lld", (long long)json_integer_value(value));
		break;
	case JSON_REAL:
		stream_real(&text, json_real_value(value));
		break;
	case JSON_TRUE:
		strbuf_puts(&text, "true");
		break;
	case JSON_FALSE:
		strbuf_puts(&text, "false");
		break;
	case JSON_ARRAY:
		if (field && field->type == FIELD_MULTIENUM) {
			size_t i;
			json_t *item;
			json_array_foreach(value, i, item) {
				if (i > 0)
					strbuf_putc(&text, ';');
				if (json_is_string(item))
					strbuf_puts(&text, json_string_value(item));
			}
			break;
		}
		/* json fields are written as JSON text */
		__attribute__((fallthrough));
	case JSON_OBJECT: {
		size_t len;
		char *dump = api_dump_json(value, &len);
		csv_writer_field(&s->writer, dump, len, CSV_TEXT);
		free(dump);
		return;
	}
	default:
		csv_writer_field(&s->writer, NULL, 0, 0);
		return;
	}
	csv_writer_field(&s->writer, text.data, text.len, 0);
	strbuf_free(&text);
}

/* Fetches the next page into s->page; CRM_OK or an object API error. */
static int stream_fetch(struct api_stream *s)
{
	json_t *result = NULL, *next;
	int rc;

	s->query.after = s->after;
	rc = object_query(&s->ctx, s->object, &s->query, &result);
	if (rc != CRM_OK)
		return rc;
	json_decref(s->page);
	s->page = json_incref(json_object_get(result, "records"));
	if (!json_is_array(s->page)) {
		json_decref(s->page);
		s->page = json_array();
	}
	s->page_index = 0;
	next = json_object_get(result, "next");
	free(s->after);
	s->after = json_is_string(next) ? xstrdup(json_string_value(next)) : NULL;
	s->last_page = s->after == NULL;
	json_decref(result);
	return CRM_OK;
}

/* Renders the rest of the current page (and fetches the next) into s->out. */
static int stream_fill(struct api_stream *s)
{
	int rc;
	while (s->page_index >= json_array_size(s->page)) {
		if (s->last_page)
			return CRM_OK;
		if ((rc = stream_fetch(s)) != CRM_OK)
			return rc;
	}
	while (s->page_index < json_array_size(s->page)) {
		json_t *record = json_array_get(s->page, s->page_index++);
		for (int i = 0; i < s->column_count; i++)
			stream_value(s, json_object_get(record, s->columns[i]), s->column_fields[i]);
		csv_writer_end_record(&s->writer);
		s->rows++;
	}
	return csv_writer_flush(&s->writer);
}

ssize_t api_stream_read(struct api_stream *s, char *buf, size_t max)
{
	size_t available;
	if (s->is_file) {
		ssize_t n;
		do
			n = read(s->file_fd, buf, max);
		while (n < 0 && errno == EINTR);
		return n;
	}
	if (s->out_pos == s->out.len) {
		int rc;
		strbuf_reset(&s->out);
		s->out_pos = 0;
		rc = stream_fill(s);
		if (rc != CRM_OK) {
			fprintf(s->log, "request %s: csv export of %s cut short after %lld rows: %s: %s\n",
			        s->request_id, s->object, (long long)s->rows, crm_status_name(rc), s->ctx.message);
			return -1;
		}
		if (s->out.len == 0)
			return 0;
	}
	available = s->out.len - s->out_pos;
	if (available > max)
		available = max;
	memcpy(buf, s->out.data + s->out_pos, available);
	s->out_pos += available;
	return (ssize_t)available;
}

void api_stream_free(struct api_stream *s)
{
	if (!s)
		return;
	if (s->is_file) {
		close(s->file_fd);
		free(s);
		return;
	}
	crm_ctx_clear(&s->ctx);
	json_decref(s->page);
	for (int i = 0; i < s->column_count; i++)
		free(s->columns[i]);
	free(s->columns);
	free(s->column_fields);
	free(s->filter);
	free(s->sort);
	free(s->fields);
	free(s->search);
	free(s->after);
	csv_writer_free(&s->writer);
	strbuf_free(&s->out);
	free(s);
}

static char *dup_or_null(const char *text)
{
	return text ? xstrdup(text) : NULL;
}

static void export_csv(struct api *api, const struct api_request *req, struct api_response *res,
                       const struct meta_object *object, const struct object_query *query, int64_t user_id)
{
	struct api_stream *s = xcalloc(1, sizeof(*s));
	int rc;

	snprintf(s->request_id, sizeof(s->request_id), "%s", req->request_id ? req->request_id : "-");
	snprintf(s->object, sizeof(s->object), "%s", object->name);
	/* the export runs after this call returns, as the same caller: same rows, same fields */
	crm_ctx_init(&s->ctx, api->kernel, user_id, s->request_id);
	s->meta_object = object;
	s->log = api->kernel->log ? api->kernel->log : stderr;
	s->filter = dup_or_null(query->filter);
	s->sort = dup_or_null(query->sort);
	s->fields = dup_or_null(query->fields);
	s->search = dup_or_null(query->search);
	s->after = dup_or_null(query->after);
	s->query = *query;
	s->query.filter = s->filter;
	s->query.sort = s->sort;
	s->query.fields = s->fields;
	s->query.search = s->search;
	s->query.limit = query->limit ? query->limit : API_EXPORT_PAGE;
	s->query.count = OBJECT_COUNT_NONE;

	/* Columns: the fields asked for, or every field of the object. */
	if (s->fields) {
		const char *p = s->fields;
		while (*p) {
			size_t len = strcspn(p, ",");
			if (len > 0) {
				char *name = xstrndup(p, len);
				char *trimmed = name;
				while (*trimmed == ' ')
					trimmed++;
				s->columns = xrealloc(s->columns, sizeof(char *) * (size_t)(s->column_count + 1));
				s->column_fields = xrealloc(s->column_fields, sizeof(*s->column_fields) * (size_t)(s->column_count + 1));
				s->columns[s->column_count] = xstrdup(trimmed);
				s->column_fields[s->column_count] = meta_find_field(object, trimmed);
				s->column_count++;
				free(name);
			}
			p += len;
			if (*p == ',')
				p++;
		}
	} else {
		s->columns = xcalloc((size_t)object->field_count, sizeof(char *));
		s->column_fields = xcalloc((size_t)object->field_count, sizeof(*s->column_fields));
		for (int i = 0; i < object->field_count; i++) {
			if (access_field(&s->ctx, object, &object->fields[i]) == FIELD_ACCESS_HIDDEN)
				continue; /* a hidden field is not even a column name */
			s->columns[s->column_count] = xstrdup(object->fields[i].name);
			s->column_fields[s->column_count] = &object->fields[i];
			s->column_count++;
		}
	}

	/* The first page now, so that a bad filter or cursor is a proper 400. */
	rc = stream_fetch(s);
	if (rc != CRM_OK) {
		problem_from_ctx(api, res, req, rc, &s->ctx, NULL);
		api_stream_free(s);
		return;
	}
	csv_writer_init(&s->writer, stream_write, &s->out);
	for (int i = 0; i < s->column_count; i++)
		csv_writer_field(&s->writer, s->columns[i], strlen(s->columns[i]), 0);
	csv_writer_end_record(&s->writer);
	csv_writer_flush(&s->writer);

	res->status = 200;
	res->content_type = "text/csv; charset=utf-8";
	res->disposition = "attachment";
	res->stream = s;
}

/* ---- handlers ------------------------------------------------------------ */

struct route_ctx {
	struct api *api;
	const struct api_request *req;
	struct api_response *res;
	struct api_target *target;
	struct crm_ctx ctx;
	const struct meta_object *object;
	int64_t id;
	bool from_cookie;           /* authenticated by the session cookie (a browser) */
	char csrf[64];              /* that session's CSRF token */
};

static bool no_params(struct route_ctx *r, const char *const *allowed)
{
	char err[200];
	static const char *const none[] = { NULL };
	if (check_params(r->target, allowed ? allowed : none, err, sizeof(err)) != CRM_OK) {
		problem(r->res, r->req, 400, "%s", err);
		return false;
	}
	return true;
}

static void handle_list(struct route_ctx *r)
{
	struct object_query query;
	struct api_list_options options;
	char err[300];
	int rc;

	rc = api_list_query(r->target, &query, &options, err, sizeof(err));
	if (rc != CRM_OK) {
		problem(r->res, r->req, 400, "%s", err);
		return;
	}
	if (options.csv) {
		export_csv(r->api, r->req, r->res, r->object, &query, r->ctx.user_id);
		return;
	}
	struct jsonw text = { 0 };
	rc = object_query_text(&r->ctx, r->object->name, &query, &text);
	if (rc != CRM_OK) {
		jsonw_free(&text);
		problem_from_ctx(r->api, r->res, r->req, rc, &r->ctx, NULL);
		return;
	}
	r->res->status = 200;
	r->res->content_type = "application/json";
	r->res->body = jsonw_finish(&text, &r->res->body_len);
}

/*
 * GET /api/v1/search?q=text[&limit=n]: the header box's search across every
 * object the caller may read (engine/object.c object_search), n records per
 * object (default 5, at most 50).
 */
static void handle_search(struct route_ctx *r)
{
	static const char *const allowed[] = { "q", "limit", NULL };
	if (!no_params(r, allowed))
		return;
	const char *text = api_target_param(r->target, "q");
	const char *limit_text = api_target_param(r->target, "limit");
	char err[200];
	if (!text || !*text) {
		problem(r->res, r->req, 400, "q is required: the text to search for");
		return;
	}
	if (check_length("q", text, MAX_SEARCH_LENGTH, err, sizeof(err)) != CRM_OK) {
		problem(r->res, r->req, 400, "%s", err);
		return;
	}
	long limit = 5;
	if (limit_text) {
		char *end;
		limit = strtol(limit_text, &end, 10);
		if (*end || end == limit_text || limit < 1 || limit > 50) {
			problem(r->res, r->req, 400, "limit must be a number from 1 to 50");
			return;
		}
	}
	json_t *out = NULL;
	int rc = object_search(&r->ctx, text, (int)limit, &out);
	if (rc != CRM_OK) {
		problem_from_ctx(r->api, r->res, r->req, rc, &r->ctx, NULL);
		return;
	}
	respond_json(r->res, 200, out);
	json_decref(out);
}

static void handle_create(struct route_ctx *r)
{
	json_t *values, *out = NULL;
	int rc;

	if (!no_params(r, NULL) || !(values = json_body(r->req, r->res, json_types, true)))
		return;
	rc = object_create(&r->ctx, r->object->name, values, &out);
	json_decref(values);
	if (rc != CRM_OK) {
		problem_from_ctx(r->api, r->res, r->req, rc, &r->ctx, NULL);
		return;
	}
	respond_record(r->res, 201, out);
	snprintf(r->res->location, sizeof(r->res->location), API_PREFIX "/objects/%s/%lld",
	         r->object->name, (long long)json_integer_value(json_object_get(out, "id")));
	json_decref(out);
}

static void handle_get(struct route_ctx *r)
{
	static const char *const allowed[] = { "deleted", NULL };
	const char *deleted_param;
	bool deleted = false;
	json_t *out = NULL;
	char err[200];
	int rc;

	if (!no_params(r, allowed))
		return;
	deleted_param = api_target_param(r->target, "deleted");
	if (deleted_param && parse_bool_param("deleted", deleted_param, &deleted, err, sizeof(err))) {
		problem(r->res, r->req, 400, "%s", err);
		return;
	}
	struct jsonw text = { 0 };
	int64_t version = 0;
	/* plugin actions to offer on this object's records need the record as a tree (their `when`) */
	bool buttons = plugin_object_has_actions(r->api->kernel, r->object);
	if (!workflow_has_states(r->api->kernel->meta, r->object) && !buttons) {
		/* the common case: no transitions to offer, the record goes out as written by the store */
		rc = object_get_text(&r->ctx, r->object->name, r->id, deleted, &text, &version);
		if (rc == CRM_OK) {
			text.len--; /* the closing brace */
			jsonw_raw(&text, ",\"_transitions\":[]}", sizeof(",\"_transitions\":[]}") - 1);
		}
	} else {
		rc = object_get(&r->ctx, r->object->name, r->id, deleted, &out);
		if (rc == CRM_OK) {
			version = json_integer_value(json_object_get(out, "version"));
			/* the transitions the caller may fire now, for the UI's buttons */
			json_t *transitions = NULL;
			if (workflow_available(&r->ctx, r->object->name, out, &transitions) == CRM_OK)
				json_object_set_new(out, "_transitions", transitions);
			else
				json_object_set_new(out, "_transitions", json_array());
			crm_error_reset(&r->ctx);
			/* and the plugin actions declared for it whose `when` holds (plugin.yaml actions:) */
			json_t *actions = plugin_record_actions(r->api->kernel, &r->ctx, r->object, out);
			if (actions)
				json_object_set_new(out, "_actions", actions);
			jsonw_value(&text, out);
			json_decref(out);
		}
	}
	if (rc != CRM_OK) {
		jsonw_free(&text);
		problem_from_ctx(r->api, r->res, r->req, rc, &r->ctx, NULL);
		return;
	}
	snprintf(r->res->etag, sizeof(r->res->etag), "\"%lld\"", (long long)version);
	if (if_none_match_hits(r->req->if_none_match, r->res->etag)) {
		jsonw_free(&text);
		r->res->status = 304;
		return;
	}
	r->res->status = 200;
	r->res->content_type = "application/json";
	r->res->body = jsonw_finish(&text, &r->res->body_len);
}

static void handle_patch(struct route_ctx *r)
{
	json_t *changes, *out = NULL;
	int64_t version;
	bool present;
	int rc;

	if (!no_params(r, NULL) || !if_match_version(r->req, r->res, &version, &present))
		return;
	if (!present && r->api->options.require_if_match) {
		problem(r->res, r->req, 428, "PATCH needs If-Match with the record's ETag "
		        "(GET it first); this prevents lost updates");
		return;
	}
	if (!(changes = json_body(r->req, r->res, patch_types, true)))
		return;
	rc = object_update(&r->ctx, r->object->name, r->id, version, changes, &out);
	json_decref(changes);
	if (rc != CRM_OK) {
		json_t *extra = NULL;
		if (rc == CRM_ECONFLICT) {
			/*
			 * Tell the client what it lost against, so it can show the new values beside
			 * the user's edits and re-read: the record as it is now, who changed it last
			 * and when (their name if the caller may read users).
			 */
			json_t *current = NULL, *who = NULL;
			crm_error_reset(&r->ctx);
			extra = json_object();
			char by[200] = "someone else", at[40] = "";
			if (object_get(&r->ctx, r->object->name, r->id, false, &current) == CRM_OK) {
				json_object_set(extra, "current_version", json_object_get(current, "version"));
				json_object_set(extra, "changed_by", json_object_get(current, "updated_by"));
				json_object_set(extra, "changed_at", json_object_get(current, "updated_at"));
				json_object_set(extra, "current", current);
				const char *updated = json_string_value(json_object_get(current, "updated_at"));
				snprintf(at, sizeof(at), "%s", updated ? updated : "");
				int64_t user = json_integer_value(json_object_get(current, "updated_by"));
				if (user && object_get(&r->ctx, "user", user, false, &who) == CRM_OK) {
					const char *name = json_string_value(json_object_get(who, "name"));
					if (name)
						snprintf(by, sizeof(by), "%s", name);
					json_object_set_new(extra, "changed_by_name", json_string(by));
				}
				json_decref(who);
				json_decref(current);
			}
			crm_error_reset(&r->ctx);
			crm_error(&r->ctx, CRM_ECONFLICT, "%s changed this record%s%s after you opened it; reload to see "
			          "their changes", by, at[0] ? " at " : "", at);
		}
		problem_from_ctx(r->api, r->res, r->req, rc, &r->ctx, extra);
		return;
	}
	respond_record(r->res, 200, out);
	json_decref(out);
}

static void handle_delete(struct route_ctx *r)
{
	int64_t version;
	bool present;
	int rc;

	if (!no_params(r, NULL) || !if_match_version(r->req, r->res, &version, &present))
		return;
	rc = object_delete(&r->ctx, r->object->name, r->id, version);
	if (rc != CRM_OK) {
		problem_from_ctx(r->api, r->res, r->req, rc, &r->ctx, NULL);
		return;
	}
	r->res->status = 204;
}

static void handle_restore(struct route_ctx *r)
{
	json_t *out = NULL;
	int rc;

	if (!no_params(r, NULL))
		return;
	rc = object_restore(&r->ctx, r->object->name, r->id);
	if (rc == CRM_OK)
		rc = object_get(&r->ctx, r->object->name, r->id, false, &out);
	if (rc != CRM_OK) {
		problem_from_ctx(r->api, r->res, r->req, rc, &r->ctx, NULL);
		return;
	}
	respond_record(r->res, 200, out);
	json_decref(out);
}

static void handle_import(struct route_ctx *r)
{
	struct csv_import_stats stats = { 0 };
	json_t *errors, *doc;
	int rc;

	if (!no_params(r, NULL))
		return;
	if (!content_type_is(r->req->content_type, csv_types)) {
		problem(r->res, r->req, 415, "the body must be sent as text/csv");
		return;
	}
	if (r->req->body_len == 0) {
		problem(r->res, r->req, 400, "the request body is empty; CSV with a header line is required");
		return;
	}
	errors = json_array();
	{
		struct csv_import_options options = { 0 };
		struct csv_reader *reader = csv_reader_new_buffer(r->req->body, r->req->body_len);
		options.errors = errors;
		options.error_limit = IMPORT_ERROR_LIMIT;
		rc = csv_import_reader(&r->ctx, r->object->name, reader, &options, &stats);
		csv_reader_free(reader);
	}
	doc = json_pack("{s:I, s:I, s:I}", "rows", (json_int_t)stats.rows,
	                "created", (json_int_t)stats.created, "rejected", (json_int_t)stats.rejected);
	if (stats.rejected > (int64_t)json_array_size(errors))
		json_object_set_new(doc, "errors_truncated", json_true());
	json_object_set_new(doc, "row_errors", errors);
	if (rc != CRM_OK) {
		problem_from_ctx(r->api, r->res, r->req, rc, &r->ctx, doc);
		return;
	}
	respond_json(r->res, 200, doc);
	json_decref(doc);
}

static void handle_batch(struct route_ctx *r)
{
	json_t *body, *operations, *results = NULL;
	int rc;

	if (!no_params(r, NULL) || !(body = json_body(r->req, r->res, json_types, true)))
		return;
	operations = json_object_get(body, "operations");
	if (!json_is_array(operations) || json_object_size(body) != 1) {
		problem(r->res, r->req, 400, "the body must be {\"operations\": [...]}");
		goto cleanup;
	}
	if (json_array_size(operations) == 0 || json_array_size(operations) > OBJECT_MAX_BATCH) {
		problem(r->res, r->req, json_array_size(operations) ? 413 : 400,
		        "a batch holds 1 to %d operations", OBJECT_MAX_BATCH);
		goto cleanup;
	}
	rc = object_batch(&r->ctx, operations, &results);
	if (rc != CRM_OK) {
		json_t *extra = json_object(), *result;
		size_t i;
		json_array_foreach(results, i, result) {
			if (json_is_string(json_object_get(result, "status")) &&
			    strcmp(json_string_value(json_object_get(result, "status")), "error") == 0) {
				json_object_set_new(extra, "failed", json_integer((json_int_t)i));
				if (rc == CRM_EVALIDATION && !r->ctx.field_errors &&
				    json_is_array(json_object_get(result, "errors")))
					r->ctx.field_errors = json_incref(json_object_get(result, "errors"));
				break;
			}
		}
		if (results)
			json_object_set(extra, "results", results);
		json_object_set_new(extra, "rolled_back", json_true());
		problem_from_ctx(r->api, r->res, r->req, rc, &r->ctx, extra);
		goto cleanup;
	}
	{
		json_t *doc = json_pack("{s:O}", "results", results);
		respond_json(r->res, 200, doc);
		json_decref(doc);
	}
cleanup:
	json_decref(results);
	json_decref(body);
}

static void handle_report(struct route_ctx *r)
{
	static const char *const allowed[] = { "group", "measure", "measures", "filter", NULL };
	const char *group, *measures, *filter;
	json_t *out = NULL, *doc;
	char err[200];
	int rc;

	if (!no_params(r, allowed))
		return;
	group = api_target_param(r->target, "group");
	measures = api_target_param(r->target, "measure");
	if (!measures)
		measures = api_target_param(r->target, "measures");
	filter = api_target_param(r->target, "filter");
	if (check_length("group", group, MAX_GROUP_LENGTH, err, sizeof(err)) ||
	    check_length("measure", measures, MAX_GROUP_LENGTH, err, sizeof(err)) ||
	    check_length("filter", filter, EXPR_MAX_LENGTH, err, sizeof(err))) {
		problem(r->res, r->req, 400, "%s", err);
		return;
	}
	if (group && !*group) group = NULL;
	if (measures && !*measures) measures = NULL;
	if (filter && !*filter) filter = NULL;
	rc = object_aggregate(&r->ctx, r->object->name, group, measures, filter, &out);
	if (rc != CRM_OK) {
		problem_from_ctx(r->api, r->res, r->req, rc, &r->ctx, NULL);
		return;
	}
	doc = json_pack("{s:o}", "rows", out);
	respond_json(r->res, 200, doc);
	json_decref(doc);
}

/*
 * GET /api/v1/reports: the `report:` documents the caller may run.
 * GET /api/v1/reports/{name}?<parameters>&from=&to=&filter=&limit=: runs one
 * (report.h); a name that is no report is an object's own report above
 * (crm check keeps the two apart).
 */
static void handle_report_documents(struct route_ctx *r, const char *name)
{
	if (!name && !no_params(r, NULL))
		return;
	json_t *out = NULL, *params = json_object();
	for (int i = 0; i < r->target->param_count; i++)
		json_object_set_new(params, r->target->names[i], json_string(r->target->values[i]));
	int rc = name ? report_run(&r->ctx, name, params, &out) : report_list(&r->ctx, &out);
	json_decref(params);
	if (rc != CRM_OK) {
		problem_from_ctx(r->api, r->res, r->req, rc, &r->ctx, NULL);
		return;
	}
	respond_json(r->res, 200, out);
	json_decref(out);
}

/*
 * GET /api/v1/kpis[/{name}]?day=YYYY-MM-DD&scope=me|team|all: the kpi documents'
 * figures for the periods holding day (kpi.h); kpis of objects the caller
 * cannot read are left out. ?view=dashboard: the caller's role's dashboard
 * (kpi_dashboard).
 */
static void handle_kpis(struct route_ctx *r, const char *name)
{
	static const char *const allowed[] = { "day", "scope", "view", NULL };
	if (!no_params(r, allowed))
		return;
	const char *day = api_target_param(r->target, "day"), *scope_text = api_target_param(r->target, "scope");
	const char *view = api_target_param(r->target, "view");
	if (view && (strcmp(view, "dashboard") != 0 || scope_text || name)) {
		/* ?view=dashboard: the caller's role's tiles, each kpi at the scope its `dashboards:` gives the role */
		problem(r->res, r->req, 400, "view: expected dashboard (without scope or a kpi name)");
		return;
	}
	enum kpi_scope scope = KPI_SCOPE_ME;
	if (scope_text && !strcmp(scope_text, "team"))
		scope = KPI_SCOPE_TEAM;
	else if (scope_text && !strcmp(scope_text, "all"))
		scope = KPI_SCOPE_ALL;
	else if (scope_text && strcmp(scope_text, "me") != 0) {
		problem(r->res, r->req, 400, "scope: expected me, team or all");
		return;
	}
	json_t *out = NULL;
	int rc = view ? kpi_dashboard(&r->ctx, day && *day ? day : NULL, &out)
	              : kpi_evaluate(&r->ctx, day && *day ? day : NULL, scope, name, &out);
	if (rc != CRM_OK) {
		problem_from_ctx(r->api, r->res, r->req, rc, &r->ctx, NULL);
		return;
	}
	if (name && json_array_size(json_object_get(out, "kpis")) == 0) {
		json_decref(out);
		problem(r->res, r->req, 404, "no kpi '%.64s'", name);   /* its object is closed to the caller */
		return;
	}
	respond_json(r->res, 200, out);
	json_decref(out);
}

enum method { M_GET = 1, M_POST = 2, M_PATCH = 4, M_DELETE = 8, M_OTHER = 16, M_OPTIONS = 32 };

/* ---- identity -------------------------------------------------------------- */

#define SESSION_COOKIE "crm_session"

/* The token of a Bearer header or the session cookie, copied into token (empty if none). */
static void request_token(const struct api_request *req, char *token, size_t size, bool *from_cookie)
{
	token[0] = '\0';
	*from_cookie = false;
	if (req->authorization && strncasecmp(req->authorization, "Bearer ", 7) == 0) {
		snprintf(token, size, "%s", req->authorization + 7);
		return;
	}
	for (const char *p = req->cookie; p && *p;) {
		while (*p == ' ' || *p == ';')
			p++;
		size_t name_len = strlen(SESSION_COOKIE);
		if (strncmp(p, SESSION_COOKIE "=", name_len + 1) == 0) {
			const char *value = p + name_len + 1;
			size_t len = strcspn(value, "; ");
			if (len < size) {
				memcpy(token, value, len);
				token[len] = '\0';
				*from_cookie = true;
			}
			return;
		}
		p = strchr(p, ';');
	}
}

static bool unsafe_method(const char *method)
{
	return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 && strcmp(method, "OPTIONS") != 0;
}

/*
 * Who is calling: a Bearer token (integrations, API tokens) or the session
 * cookie (the browser, which must then send X-CSRF-Token on every write).
 * Answers 401 or 403 itself and returns false when the caller is not let in.
 */
static bool authenticate(struct route_ctx *r)
{
	char token[128], csrf[64] = "";
	bool from_cookie, api_token = false;
	int64_t user = 0;
	request_token(r->req, token, sizeof(token), &from_cookie);
	if (!token[0]) {
		problem(r->res, r->req, 401, "log in first: POST %s/session, then send the token as "
		        "'Authorization: Bearer <token>'", API_PREFIX);
		r->res->www_authenticate = "Bearer";
		return false;
	}
	if (auth_resolve(&r->ctx, token, &user, csrf, &api_token) != CRM_OK) {
		problem(r->res, r->req, 401, "the session has ended or the token is not valid; log in again");
		r->res->www_authenticate = "Bearer error=\"invalid_token\"";
		return false;
	}
	if (from_cookie && unsafe_method(r->req->method)) {
		/* a cross-site form can carry the cookie, never this header */
		size_t want = strlen(csrf);
		if (!r->req->csrf || !want || strlen(r->req->csrf) != want || sodium_memcmp(r->req->csrf, csrf, want) != 0) {
			problem(r->res, r->req, 403, "a cookie-authenticated write needs the session's X-CSRF-Token header");
			return false;
		}
	}
	crm_error_reset(&r->ctx);
	r->ctx.user_id = user;
	r->from_cookie = from_cookie;
	snprintf(r->csrf, sizeof(r->csrf), "%s", csrf);
	return true;
}

/* Secure only when asked (crm serve --secure-cookies, behind TLS): a browser drops a Secure cookie sent over http. */
static void session_cookie(struct route_ctx *r, const char *token, int max_age)
{
	snprintf(r->res->set_cookie, sizeof(r->res->set_cookie),
	         SESSION_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict%s; Max-Age=%d", token,
	         r->api->options.secure_cookies ? "; Secure" : "", max_age);
}

/*
 * The caller's own user: the record as their role reads it, else (a partner
 * or consumer role that reads no users) who they are: id, login, name,
 * e-mail, kind, role and the records they are tied to. Never NULL (JSON null
 * for a user that is gone).
 */
static json_t *own_user(struct route_ctx *r)
{
	json_t *user = NULL;
	if (object_get(&r->ctx, "user", r->ctx.user_id, false, &user) == CRM_OK)
		return user;
	crm_error_reset(&r->ctx);
	if (access_load(&r->ctx) != CRM_OK || !r->ctx.access || !r->ctx.access->record)
		return json_null();
	static const char *const identity[] = {
		"id", "login", "name", "email", "kind", "role", "team", "partner", "contact", NULL,
	};
	json_t *me = json_object();
	for (int i = 0; identity[i]; i++) {
		json_t *v = json_object_get(r->ctx.access->record, identity[i]);
		if (v)
			json_object_set(me, identity[i], v);
	}
	return me;
}

static void handle_login(struct route_ctx *r)
{
	static const char *const types[] = { "application/json", NULL };
	if (!no_params(r, NULL))
		return;
	json_t *body = json_body(r->req, r->res, types, true);
	if (!body)
		return;
	const char *login = json_string_value(json_object_get(body, "login"));
	const char *password = json_string_value(json_object_get(body, "password"));
	if (!login || !password || strlen(login) > 200 || strlen(password) > 1024) {
		json_decref(body);
		problem(r->res, r->req, 400, "send {\"login\": \"...\", \"password\": \"...\"}");
		return;
	}
	struct auth_session session;
	int retry_after = 0;
	int rc = auth_login(&r->ctx, login, password, r->req->client_ip, &session, &retry_after);
	json_decref(body);
	if (rc == CRM_ELIMIT) {
		int wait = retry_after > 0 ? retry_after : 60;
		problem(r->res, r->req, 429, "too many failed logins; try again in %d seconds", wait);
		r->res->retry_after = wait; /* after problem(): it starts the response afresh */
		return;
	}
	if (rc != CRM_OK) {
		if (rc == CRM_EDENIED) {
			problem(r->res, r->req, 401, "invalid login or password");
			r->res->www_authenticate = "Bearer";
		} else {
			problem_from_ctx(r->api, r->res, r->req, rc, &r->ctx, NULL);
		}
		return;
	}
	r->ctx.user_id = session.user_id;
	json_t *user = own_user(r);
	json_t *doc = json_pack("{s:s, s:s, s:I, s:o}", "token", session.token, "csrf", session.csrf,
	                        "expires_in", (json_int_t)(session.expires_at - time(NULL)), "user", user);
	session_cookie(r, session.token, (int)(session.expires_at - time(NULL)));
	respond_json(r->res, 201, doc);
	json_decref(doc);
}

/* ---- consumer sign-up (app.yaml signup:, auth.h) ------------------------- */

#define SIGNUP_MAX_BODY 16384
#define SIGNUP_SCOPE 0xfffffff1u           /* the limiter's scopes: apart from plugin routes' ids */
#define VERIFY_SCOPE 0xfffffff2u
#define SIGNUP_PER_ADDRESS AUTH_MAX_FAILURES   /* well-formed sign-ups per address in AUTH_WINDOW_SECONDS */
#define VERIFY_PER_ADDRESS (3 * AUTH_MAX_FAILURES)

static bool method_allowed(struct route_ctx *r, int allowed, int method);

static const char signup_accepted[] = "thank you: if this address can be signed up, a message with a link to "
                                      "confirm it is on its way; the link works once";

/* Counts one request from the caller's address; false (a 429 with Retry-After written) past the limit. */
static bool auth_route_take(struct route_ctx *r, uint32_t scope, int limit)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int retry_after = 0;
	if (rate_limiter_take(r->api->public_limits, scope, r->req->client_ip, limit, AUTH_WINDOW_SECONDS,
	                      (int64_t)now.tv_sec, &retry_after))
		return true;
	problem(r->res, r->req, 429, "too many requests from this address; try again in %d seconds", retry_after);
	r->res->retry_after = retry_after; /* after problem(): it starts the response afresh */
	return false;
}

/* The JSON object of a sign-up or verify request, or NULL with the 413/415/400 written. */
static json_t *auth_route_body(struct route_ctx *r)
{
	static const char *const types[] = { "application/json", NULL };
	if (r->req->body_len > SIGNUP_MAX_BODY) {
		problem(r->res, r->req, 413, "the body (%zu bytes) is larger than %d bytes", r->req->body_len, SIGNUP_MAX_BODY);
		return NULL;
	}
	return no_params(r, NULL) ? json_body(r->req, r->res, types, true) : NULL;
}

/* A text member or NULL; false (400 written) when it is there with another type. */
static bool auth_text(struct route_ctx *r, json_t *body, const char *key, const char **out)
{
	json_t *value = json_object_get(body, key);
	*out = json_string_value(value);
	if (!value || json_is_string(value))
		return true;
	problem(r->res, r->req, 400, "'%s' must be a text", key);
	return false;
}

/*
 * POST /api/v1/auth/signup {email, name, password [, language]}: 202 with the
 * same body whether the address is new, waiting for its link or taken (no
 * account oracle); 422 with field errors for bad values; 429 past the
 * address's limit (well-formed sign-ups only count). GET answers 204 when
 * the application has a sign-up (the login page's "Sign up" link), 404 if not.
 */
static void handle_signup(struct route_ctx *r, int method)
{
	if (!method_allowed(r, M_GET | M_POST, method))
		return;
	if (method == M_GET) {
		if (!no_params(r, NULL))
			return;
		if (r->api->kernel->meta->signup)
			r->res->status = 204;
		else
			problem(r->res, r->req, 404, "this application has no sign-up");
		return;
	}
	if (!r->api->kernel->meta->signup) {
		problem(r->res, r->req, 404, "this application has no sign-up");
		return;
	}
	json_t *body = auth_route_body(r);
	if (!body)
		return;
	struct auth_signup in = { .ip = r->req->client_ip };
	if (auth_text(r, body, "email", &in.email) && auth_text(r, body, "name", &in.name) &&
	    auth_text(r, body, "password", &in.password) && auth_text(r, body, "language", &in.language)) {
		int rc = auth_signup_check(&r->ctx, &in);
		bool limited = rc == CRM_OK && !auth_route_take(r, SIGNUP_SCOPE, SIGNUP_PER_ADDRESS);
		if (rc == CRM_OK && !limited)
			rc = auth_signup(&r->ctx, &in);
		if (rc == CRM_OK && !limited) {
			json_t *doc = json_pack("{s:s, s:s}", "status", "accepted", "message", signup_accepted);
			respond_json(r->res, 202, doc);
			json_decref(doc);
		} else if (rc != CRM_OK) {
			problem_from_ctx(r->api, r->res, r->req, rc, &r->ctx, NULL);
		}
	}
	json_decref(body);
}

/*
 * POST /api/v1/auth/verify {token}: activates the signed-up user and signs
 * them in (200, the session cookie and the body of a login); 410 with one
 * message for an unknown, used, expired or malformed token.
 */
static void handle_verify(struct route_ctx *r, int method)
{
	if (!method_allowed(r, M_POST, method))
		return;
	if (!r->api->kernel->meta->signup) {
		problem(r->res, r->req, 404, "this application has no sign-up");
		return;
	}
	json_t *body = auth_route_body(r);
	const char *token = NULL;
	if (!body || !auth_text(r, body, "token", &token)) {
		json_decref(body);
		return;
	}
	if (!token) {
		problem(r->res, r->req, 400, "send {\"token\": \"...\"}: the token of the link in the e-mail");
		json_decref(body);
		return;
	}
	if (!auth_route_take(r, VERIFY_SCOPE, VERIFY_PER_ADDRESS)) {
		json_decref(body);
		return;
	}
	struct auth_session session;
	int rc = auth_signup_verify(&r->ctx, token, r->req->client_ip, &session);
	json_decref(body);
	if (rc == CRM_EDENIED) {
		problem(r->res, r->req, 410, "%s", r->ctx.message);
		return;
	}
	if (rc != CRM_OK) {
		problem_from_ctx(r->api, r->res, r->req, rc, &r->ctx, NULL);
		return;
	}
	r->ctx.user_id = session.user_id;
	json_t *doc = json_pack("{s:s, s:s, s:I, s:o}", "token", session.token, "csrf", session.csrf,
	                        "expires_in", (json_int_t)(session.expires_at - time(NULL)), "user", own_user(r));
	session_cookie(r, session.token, (int)(session.expires_at - time(NULL)));
	sodium_memzero(&session, sizeof(session));
	respond_json(r->res, 200, doc);
	json_decref(doc);
}

static void handle_logout(struct route_ctx *r)
{
	char token[128];
	bool from_cookie;
	request_token(r->req, token, sizeof(token), &from_cookie);
	auth_logout(&r->ctx, token);
	session_cookie(r, "", 0);
	r->res->status = 204;
}

static void handle_whoami(struct route_ctx *r)
{
	json_t *user = own_user(r);
	if (json_is_null(user)) {
		json_decref(user);
		problem(r->res, r->req, 401, "no such user");
		return;
	}
	const struct meta_role *role = r->ctx.access ? r->ctx.access->role : NULL;
	json_t *doc = json_pack("{s:o, s:s?, s:b}", "user", user, "role", role ? role->name : NULL,
	                        "admin", access_is_admin(&r->ctx));
	/*
	 * A browser tab that holds the cookie but not the CSRF token (a second tab, a reload)
	 * gets it here: only this origin's script can read the answer to a GET.
	 */
	if (r->from_cookie && r->csrf[0])
		json_object_set_new(doc, "csrf", json_string(r->csrf));
	respond_json(r->res, 200, doc);
	json_decref(doc);
}

/*
 * views.lines as this caller may use it: gone when they may not read the
 * child object, else only the columns they may see (a hidden field is an
 * unknown field), and no order field they may not see. The views are shared
 * with the kernel's metadata: a changed copy replaces them in item.
 */
static void caller_lines_view(struct route_ctx *r, const struct meta *meta, json_t *item)
{
	json_t *views = json_object_get(item, "views");
	json_t *lines = json_object_get(views, "lines");
	if (!lines)
		return;
	views = json_deep_copy(views);
	lines = json_object_get(views, "lines");
	const char *child_name = json_string_value(json_object_get(lines, "object"));
	const char *order_name = json_string_value(json_object_get(lines, "order"));
	const struct meta_object *child = child_name ? meta_find_object(meta, child_name) : NULL;
	if (!child || !access_allows(&r->ctx, child, ACCESS_READ)) {
		json_object_del(views, "lines");
	} else {
		json_t *fields = json_object_get(lines, "fields"), *shown = json_array(), *name;
		size_t i;
		json_array_foreach(fields, i, name) {
			const struct meta_field *f = json_is_string(name) ? meta_find_field(child, json_string_value(name)) : NULL;
			if (f && access_field(&r->ctx, child, f) != FIELD_ACCESS_HIDDEN)
				json_array_append(shown, name);
		}
		json_object_set_new(lines, "fields", shown);
		const struct meta_field *order = order_name ? meta_find_field(child, order_name) : NULL;
		if (order && access_field(&r->ctx, child, order) == FIELD_ACCESS_HIDDEN)
			json_object_del(lines, "order");
	}
	json_object_set_new(item, "views", views);
}

/*
 * The caller's role's home page (role `home:`): { title, sections }, only the
 * sections of objects they may read, only the fields they may see, `new`
 * only where they may create. NULL when the role has no home sections.
 */
static json_t *caller_home(struct route_ctx *r, const struct meta_role *role)
{
	json_t *sections = json_array();
	for (int s = 0; role && s < role->home_count; s++) {
		const struct meta_home_section *section = &role->home[s];
		if (!section->object || !access_allows(&r->ctx, section->object, ACCESS_READ))
			continue;
		json_t *item = json_pack("{s:s, s:i, s:b}", "object", section->object->name, "limit", section->limit, "new",
		                         section->new_button && access_allows(&r->ctx, section->object, ACCESS_CREATE));
		if (section->title.count)
			json_object_set_new(item, "title", label_json(&section->title, section->object->name));
		if (section->filter)
			json_object_set_new(item, "filter", json_string(section->filter));
		if (section->sort)
			json_object_set_new(item, "sort", json_string(section->sort));
		if (section->field_count) {
			json_t *fields = json_array();
			for (int f = 0; f < section->field_count; f++) {
				const struct meta_field *field = meta_find_field(section->object, section->fields[f]);
				if (field && access_field(&r->ctx, section->object, field) != FIELD_ACCESS_HIDDEN)
					json_array_append_new(fields, json_string(field->name));
			}
			json_object_set_new(item, "fields", fields);
		}
		json_array_append_new(sections, item);
	}
	if (!role || !role->home_count) {
		json_decref(sections);
		return NULL;
	}
	json_t *home = json_pack("{s:o}", "sections", sections);
	if (role->home_title.count)
		json_object_set_new(home, "title", label_json(&role->home_title, ""));
	return home;
}

/*
 * Whether the caller's Dashboards page shows anything: their role's kpi
 * tiles, a report they may run, a chart or board of an object they read
 * (objects: /meta's list, already cut to those). The UI hides the link when not.
 */
static bool caller_dashboard(struct route_ctx *r, const struct meta_role *role, json_t *objects)
{
	const struct meta *meta = r->api->kernel->meta;
	if (access_is_admin(&r->ctx))
		return true;
	for (int k = 0; role && k < meta->kpi_count; k++)
		for (int d = 0; d < meta->kpis[k].dashboard_count; d++)
			if (!strcmp(meta->kpis[k].dashboard_roles[d], role->name))
				return true;
	for (int i = 0; i < meta->report_count; i++)
		if (report_allowed(&r->ctx, &meta->reports[i]))
			return true;
	size_t i;
	json_t *item;
	json_array_foreach(objects, i, item) {
		json_t *views = json_object_get(item, "views");
		if (json_array_size(json_object_get(views, "charts")) || json_object_get(views, "kanban"))
			return true;
	}
	return false;
}

/*
 * GET /meta for this caller: only the objects they may read, only the fields
 * they may see, each field marked readonly where they may not write it, and
 * per object what they may do. The UI is built from this alone.
 */
static void handle_meta(struct route_ctx *r)
{
	if (!no_params(r, NULL))
		return;
	const struct meta *meta = r->api->kernel->meta;
	json_t *doc = api_meta_json(meta);
	json_t *objects = json_object_get(doc, "objects");
	json_t *kept = json_array();
	size_t i;
	json_t *item;
	json_array_foreach(objects, i, item) {
		const struct meta_object *o = meta_find_object(meta, json_string_value(json_object_get(item, "name")));
		if (!o || !access_allows(&r->ctx, o, ACCESS_READ))
			continue;
		json_t *fields = json_object_get(item, "fields");
		json_t *visible = json_array();
		size_t j;
		json_t *field;
		json_array_foreach(fields, j, field) {
			const struct meta_field *f = meta_find_field(o, json_string_value(json_object_get(field, "name")));
			enum field_access fa = f ? access_field(&r->ctx, o, f) : FIELD_ACCESS_HIDDEN;
			if (fa == FIELD_ACCESS_HIDDEN)
				continue;
			if (fa == FIELD_ACCESS_READ)
				json_object_set_new(field, "readonly", json_true());
			json_array_append(visible, field);
		}
		json_object_set_new(item, "fields", visible);
		caller_lines_view(r, meta, item);
		/* the workflows on this object: the UI maps a kanban move to the transition that makes it */
		json_t *flows = json_array();
		for (int w = 0; w < meta->workflow_count; w++) {
			const struct meta_workflow *wf = &meta->workflows[w];
			if (wf->object != o)
				continue;
			json_t *transitions = json_array();
			for (int t = 0; t < wf->transition_count; t++) {
				const struct meta_transition *tr = &wf->transitions[t];
				json_t *from = json_array();
				for (int k = 0; k < tr->from_count; k++)
					json_array_append_new(from, json_string(tr->from[k]));
				json_t *item = json_pack("{s:s, s:o, s:b, s:s, s:b, s:o}", "name", tr->name, "from", from,
					"from_any", tr->from_any, "to", tr->to, "approval", tr->approval != NULL,
					"label", label_json(&tr->label, tr->name));
				if (tr->message.count)
					json_object_set_new(item, "message", label_json(&tr->message, ""));
				/* the fields it requires: the UI asks for those the record lacks before it fires */
				if (tr->require_count) {
					json_t *require = json_array();
					for (int k = 0; k < tr->require_count; k++)
						json_array_append_new(require, json_string(tr->require[k]));
					json_object_set_new(item, "require", require);
				}
				json_array_append_new(transitions, item);
			}
			json_array_append_new(flows, json_pack("{s:s, s:s, s:s, s:o}", "name", wf->name, "field", wf->field->name,
			                                       "initial", wf->initial, "transitions", transitions));
		}
		json_object_set_new(item, "workflows", flows);
		/* the buttons plugins declare for its records (plugin.yaml actions:) */
		json_t *actions = plugin_object_actions(r->api->kernel, o);
		if (json_array_size(actions))
			json_object_set_new(item, "actions", actions);
		else
			json_decref(actions);
		/* an append-only object's records are never changed or deleted, whatever the role says */
		json_object_set_new(item, "can", json_pack("{s:b, s:b, s:b, s:b}",
			"read", 1, "create", access_allows(&r->ctx, o, ACCESS_CREATE),
			"update", !o->append_only && access_allows(&r->ctx, o, ACCESS_UPDATE),
			"delete", !o->append_only && access_allows(&r->ctx, o, ACCESS_DELETE)));
		if (o->append_only)
			json_object_set_new(item, "append_only", json_true());
		json_array_append(kept, item);
	}
	json_object_set_new(doc, "objects", kept);
	const struct meta_role *role = r->ctx.access ? r->ctx.access->role : NULL;
	json_t *caller = json_pack("{s:I, s:s?, s:b}", "user", (json_int_t)r->ctx.user_id,
	                           "role", role ? role->name : NULL, "admin", access_is_admin(&r->ctx));
	if (role && role->navigation_count) {
		/* what this role works with, in order: the UI's navigation lists only these */
		json_t *navigation = json_array();
		for (int i = 0; i < role->navigation_count; i++)
			json_array_append_new(navigation, json_string(role->navigation[i]));
		json_object_set_new(caller, "navigation", navigation);
	}
	json_t *home = caller_home(r, role);
	if (home)
		json_object_set_new(caller, "home", home);
	json_object_set_new(caller, "dashboard", json_boolean(caller_dashboard(r, role, kept)));
	json_object_set_new(doc, "caller", caller);
	r->res->cache_control = "private, no-cache";
	respond_json(r->res, 200, doc);
	json_decref(doc);
	/* the ETag is a hash of what this caller sees: it changes with their role and the metadata */
	unsigned char hash[8];
	crypto_generichash(hash, sizeof(hash), (const unsigned char *)r->res->body, r->res->body_len, NULL, 0);
	char hex[17];
	sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
	snprintf(r->res->etag, sizeof(r->res->etag), "\"%s\"", hex);
	if (if_none_match_hits(r->req->if_none_match, r->res->etag)) {
		free(r->res->body);
		r->res->body = NULL;
		r->res->body_len = 0;
		r->res->content_type = NULL;
		r->res->status = 304;
	}
}

static void handle_history(struct route_ctx *r)
{
	if (!no_params(r, NULL))
		return;
	json_t *rows = NULL;
	int rc = object_history(&r->ctx, r->object->name, r->id, &rows);
	if (rc != CRM_OK) {
		problem_from_ctx(r->api, r->res, r->req, rc, &r->ctx, NULL);
		return;
	}
	json_t *doc = json_pack("{s:o}", "history", rows);
	respond_json(r->res, 200, doc);
	json_decref(doc);
}

static void handle_shares(struct route_ctx *r, int method, const char *share_text)
{
	static const char *const types[] = { "application/json", NULL };
	if (!no_params(r, NULL))
		return;
	int rc;
	json_t *out = NULL;
	if (share_text) {
		int64_t share_id = parse_id(share_text);
		rc = share_id > 0 ? object_unshare(&r->ctx, r->object->name, r->id, share_id)
		                  : crm_error(&r->ctx, CRM_ENOTFOUND, "no such share");
		if (rc == CRM_OK)
			r->res->status = 204;
	} else if (method == M_GET) {
		rc = object_shares(&r->ctx, r->object->name, r->id, &out);
		if (rc == CRM_OK) {
			json_t *doc = json_pack("{s:o}", "shares", out);
			respond_json(r->res, 200, doc);
			json_decref(doc);
		}
	} else {
		json_t *body = json_body(r->req, r->res, types, true);
		if (!body)
			return;
		rc = object_share(&r->ctx, r->object->name, r->id, body, &out);
		json_decref(body);
		if (rc == CRM_OK) {
			respond_json(r->res, 201, out);
			json_decref(out);
		}
	}
	if (rc != CRM_OK)
		problem_from_ctx(r->api, r->res, r->req, rc, &r->ctx, NULL);
}

/* ---- plugins ------------------------------------------------------------- */

/* The query parameters as a JSON object of strings, for plugin handlers. */
static json_t *params_json(const struct api_target *t)
{
	json_t *query = json_object();
	for (int i = 0; i < t->param_count; i++)
		json_object_set_new(query, t->names[i], json_string(t->values[i]));
	return query;
}

/* The route path "/<plugin>/..." from the target's segments from index on. Owned ("/" for none). */
static char *route_path(const struct api_target *target, int index)
{
	struct strbuf path = { 0 };
	for (int i = index; i < target->segment_count; i++) {
		strbuf_putc(&path, '/');
		strbuf_puts(&path, target->segments[i]);
	}
	if (!path.len)
		strbuf_putc(&path, '/');
	return strbuf_detach(&path);
}

/*
 * A plugin route's web page (a public form) or redirect (after a browser's
 * post): the page may load nothing from anywhere (no script, no image) and
 * post only to this server or an http(s) site.
 */
static void respond_page(struct api_response *res, int status, json_t *page)
{
	const char *html = json_string_value(json_object_get(page, "html"));
	if (html) {
		respond_static(res, status, html, json_string_length(json_object_get(page, "html")), "text/html; charset=utf-8");
		res->csp = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:; base-uri 'none'";
		return;
	}
	res->status = status;
	snprintf(res->location, sizeof(res->location), "%s", json_string_value(json_object_get(page, "location")));
}

static void respond_plugin(struct route_ctx *r, int rc, int status, json_t *response)
{
	if (rc != CRM_OK) {
		problem_from_ctx(r->api, r->res, r->req, rc, &r->ctx, NULL);
		return;
	}
	if (status < 200 || status > 599)
		status = 200;
	json_t *page = plugin_route_page(response);
	if (page) {
		respond_page(r->res, status, page);
	} else if (status == 204 || json_is_null(response)) {
		r->res->status = status == 200 ? 204 : status;
	} else if (status >= 400) {
		problem(r->res, r->req, status, "%s", json_string_value(json_object_get(response, "error"))
		        ? json_string_value(json_object_get(response, "error")) : "the plugin refused the request");
	} else {
		respond_json(r->res, status, response);
	}
	json_decref(response);
}

/* Any method on API_PREFIX/plugins/<plugin>/...: a route a plugin registered with crm.route. */
static void handle_plugin_route(struct route_ctx *r, int segment_index)
{
	json_t *body = NULL;
	if (r->req->body_len) {
		static const char *const types[] = { "application/json", NULL };
		if (!(body = json_body(r->req, r->res, types, false)))
			return;
	}
	char *path = route_path(r->target, segment_index);
	json_t *query = params_json(r->target), *response = NULL;
	int status = 200;
	int rc = plugin_route(r->api->kernel, &r->ctx, r->req->method, path, query, body, &status, &response);
	json_decref(query);
	json_decref(body);
	/* not_found raised by the route's own handler (crm.error) keeps its message: only a missing route is "no route" */
	if (rc == CRM_ENOTFOUND && !response && !plugin_route_exists(r->api->kernel, r->req->method, path)) {
		struct plugin_public_route route;
		if (plugin_public_route_find(r->api->kernel, r->req->method, path, &route) == CRM_OK)
			problem(r->res, r->req, 404, "no plugin route %s %s: the route is public, at %s%s", r->req->method,
			        r->req->target, API_PUBLIC_PREFIX, path);
		else
			problem(r->res, r->req, 404, "no plugin route %s %s", r->req->method, r->req->target);
		free(path);
		return;
	}
	free(path);
	respond_plugin(r, rc, status, response);
}

static const char *const form_types[] = { "application/x-www-form-urlencoded", NULL };

/*
 * A signed public route's check (plugin_registry.h, PLUGIN_SIGNED_MAX_AGE):
 * true when X-CRM-Signature is "sha256=" and the HMAC of X-CRM-Timestamp,
 * "." and the raw body under the secret, and the timestamp (Unix seconds)
 * is within the route's max_age of now, either way (a gateway's clock may
 * run ahead). Otherwise false with the answer: 503 while the secret's
 * variable is unset (a route that is not configured accepts nothing), 401
 * for a missing, malformed, wrong or stale signature. A replay inside the
 * window passes this check: the handler makes a repeated post harmless (the
 * service package dedupes by Message-ID), as it must for a gateway's retry.
 */
static bool public_signature_ok(struct route_ctx *r, const struct plugin_public_route *route)
{
	const char *secret = getenv(route->secret_env);
	if (!secret || !*secret) {
		problem(r->res, r->req, 503, "this route is signed and not configured: the server has no secret "
		        "(environment variable %s)", route->secret_env);
		return false;
	}
	const char *stamp = r->req->signature_time, *signature = r->req->signature;
	if (!stamp || !signature) {
		problem(r->res, r->req, 401, "this route needs X-CRM-Timestamp and X-CRM-Signature headers");
		r->res->www_authenticate = "CRM-Signature";
		return false;
	}
	size_t digits = strspn(stamp, "0123456789");
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	long long when = digits >= 1 && digits <= 12 && !stamp[digits] ? strtoll(stamp, NULL, 10) : -1;
	if (when < 0 || llabs(when - (long long)now.tv_sec) > route->max_age) {
		problem(r->res, r->req, 401, "X-CRM-Timestamp must be the Unix time within %d seconds of the server's",
		        route->max_age);
		r->res->www_authenticate = "CRM-Signature";
		return false;
	}
	char prefix[16];
	snprintf(prefix, sizeof(prefix), "%s.", stamp);
	if (strncmp(signature, "sha256=", 7) != 0
	    || !deliver_signature_check(secret, prefix, r->req->body ? r->req->body : "", r->req->body_len,
	                                signature + 7)) {
		problem(r->res, r->req, 401, "X-CRM-Signature does not match: send sha256=<hex HMAC-SHA256 of the "
		        "timestamp, \".\" and the body>");
		r->res->www_authenticate = "CRM-Signature";
		return false;
	}
	return true;
}

/*
 * Any method on API_PUBLIC_PREFIX/<plugin>/...: a route a plugin registered
 * with { public = true }, for callers who are nobody (web-to-lead forms,
 * survey answers, sign-ups). No credential is read: a session cookie, a
 * bearer token or X-CSRF-Token sent along changes nothing (so there is no
 * CSRF to guard against: no cookie acts). In order: the route (404), the
 * client address's count for it (429 with Retry-After), the body's size
 * (413; http.c refused a declared Content-Length over it before reading),
 * a signed route's signature (503, 401), its type and syntax (415, 400),
 * then the handler, acting as the guest.
 */
static void handle_public_route(struct route_ctx *r, int segment_index)
{
	char *path = route_path(r->target, segment_index);
	struct plugin_public_route route;
	if (plugin_public_route_find(r->api->kernel, r->req->method, path, &route) != CRM_OK) {
		problem(r->res, r->req, 404, "no public route %s %s", r->req->method, r->req->target);
		free(path);
		return;
	}
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int retry_after = 0;
	if (!rate_limiter_take(r->api->public_limits, route.id, r->req->client_ip, route.rate_limit, route.rate_period,
	                       (int64_t)now.tv_sec, &retry_after)) {
		problem(r->res, r->req, 429, "at most %d requests in %d seconds from one address to this route; "
		        "try again in %d seconds", route.rate_limit, route.rate_period, retry_after);
		r->res->retry_after = retry_after; /* after problem(): it starts the response afresh */
		free(path);
		return;
	}
	if (r->req->body_len > route.max_body) {
		problem(r->res, r->req, 413, "the body (%zu bytes) is larger than this route's %zu-byte cap",
		        r->req->body_len, route.max_body);
		free(path);
		return;
	}
	if (route.secret_env && !public_signature_ok(r, &route)) {
		free(path);
		return;
	}
	json_t *body = NULL;
	bool form = false;
	if (r->req->body_len || content_type_is(r->req->content_type, form_types)) {
		char err[300];
		int rc;
		if (content_type_is(r->req->content_type, json_types)) {
			rc = api_parse_json(r->req->body ? r->req->body : "", r->req->body_len, API_MAX_JSON_DEPTH, &body,
			                    err, sizeof(err));
		} else if (content_type_is(r->req->content_type, form_types)) {
			form = true;
			rc = api_parse_form(r->req->body ? r->req->body : "", r->req->body_len, &body, err, sizeof(err));
		} else {
			problem(r->res, r->req, 415, "the body must be sent as application/json or "
			        "application/x-www-form-urlencoded (an HTML form)");
			free(path);
			return;
		}
		if (rc != CRM_OK) {
			problem(r->res, r->req, 400, "%s", err);
			free(path);
			return;
		}
	}
	json_t *query = params_json(r->target), *response = NULL;
	int status = 200;
	int rc = plugin_public_route(r->api->kernel, &r->ctx, r->req->method, path, query, body, form, &status,
	                             &response);
	json_decref(query);
	json_decref(body);
	free(path);
	respond_plugin(r, rc, status, response);
}

size_t api_body_limit(struct api *api, const char *method, const char *target)
{
	struct api_target t;
	char err[200];
	size_t limit = 0;
	if (!target || api_parse_target(target, strlen(target), &t, err, sizeof(err)) != CRM_OK)
		return 0;   /* api_handle refuses it (400) without reading the body */
	if (t.segment_count >= 3 && !strcmp(t.segments[0], "api") && !strcmp(t.segments[1], "v1")
	    && !strcmp(t.segments[2], "public")) {
		struct plugin_public_route route;
		char *path = route_path(&t, 3);
		limit = plugin_public_route_find(api->kernel, method, path, &route) == CRM_OK ? route.max_body
		                                                                                  : PLUGIN_PUBLIC_MAX_BODY;
		free(path);
	}
	api_target_free(&t);
	return limit;
}

/* POST .../objects/{object}/{id}/actions/{name}: a plugin action declared on the object (a button) on one record. */
static void handle_action(struct route_ctx *r, const char *name)
{
	json_t *args = NULL;
	if (r->req->body_len) {
		static const char *const types[] = { "application/json", NULL };
		if (!(args = json_body(r->req, r->res, types, false)))
			return;
	}
	json_t *result = NULL;
	int rc = plugin_client_action(r->api->kernel, &r->ctx, name, r->object, r->id, args, &result);
	json_decref(args);
	respond_plugin(r, rc, 200, result);
}

/*
 * POST .../objects/{object}/{id}/transitions/{name} with an optional body of
 * field values (If-Match optional): 200 with {transition, status: "done",
 * record}, or 202 with status "pending_approval" and the request key.
 */
static void handle_transition(struct route_ctx *r, const char *name)
{
	json_t *values = NULL, *out = NULL;
	int64_t version;
	bool present;
	if (!no_params(r, NULL) || !if_match_version(r->req, r->res, &version, &present))
		return;
	if (r->req->body_len && !(values = json_body(r->req, r->res, json_types, false)))
		return;
	int rc = workflow_fire(&r->ctx, r->object->name, r->id, name, values, version, &out);
	json_decref(values);
	if (rc != CRM_OK) {
		problem_from_ctx(r->api, r->res, r->req, rc, &r->ctx, NULL);
		return;
	}
	bool pending = strcmp(json_string_value(json_object_get(out, "status")), "pending_approval") == 0;
	respond_json(r->res, pending ? 202 : 200, out);
	json_decref(out);
}

/* POST /api/v1/objects/approval/{id}/approve or /reject with {"comment": "..."} (optional). */
static void handle_decision(struct route_ctx *r, bool approve)
{
	json_t *body = NULL, *out = NULL;
	if (!no_params(r, NULL))
		return;
	if (r->req->body_len && !(body = json_body(r->req, r->res, json_types, false)))
		return;
	json_t *comment = json_object_get(body, "comment");
	if (comment && !json_is_string(comment) && !json_is_null(comment)) {
		json_decref(body);
		problem(r->res, r->req, 400, "'comment' must be a text");
		return;
	}
	int rc = approve ? workflow_approve(&r->ctx, r->id, json_string_value(comment), &out)
	                 : workflow_reject(&r->ctx, r->id, json_string_value(comment), &out);
	json_decref(body);
	if (rc != CRM_OK) {
		problem_from_ctx(r->api, r->res, r->req, rc, &r->ctx, NULL);
		return;
	}
	respond_json(r->res, 200, out);
	json_decref(out);
}

/*
 * GET /openapi.json: the contract as this caller may use the API (openapi.c).
 * It depends on the caller's role alone, so each role's document is rendered
 * once, on its first request, and kept (a race renders it twice; one wins).
 */
static void handle_openapi(struct route_ctx *r)
{
	if (!no_params(r, NULL))
		return;
	struct api *api = r->api;
	const struct meta *meta = api->kernel->meta;
	int rc = access_load(&r->ctx);
	if (rc != CRM_OK) {
		problem_from_ctx(api, r->res, r->req, rc, &r->ctx, NULL);
		return;
	}
	const struct access_user *u = r->ctx.access;
	int slot = meta->role_count;  /* no role, or disabled: the document without rights */
	if (u && u->active && u->role && u->role >= meta->roles && u->role < meta->roles + meta->role_count)
		slot = (int)(u->role - meta->roles);
	struct api_document *d = atomic_load(&api->openapi[slot]);
	if (!d) {
		size_t len;
		json_t *doc = openapi_document(&r->ctx, API_PREFIX);
		char *text = api_dump_json(doc, &len);
		json_decref(doc);
		d = xmalloc(sizeof(*d) + len + 1);
		d->len = len;
		memcpy(d->body, text, len + 1);
		free(text);
		unsigned char hash[8];
		char hex[17];
		crypto_generichash(hash, sizeof(hash), (const unsigned char *)d->body, d->len, NULL, 0);
		sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
		snprintf(d->etag, sizeof(d->etag), "\"o%s\"", hex);
		struct api_document *expected = NULL;
		if (!atomic_compare_exchange_strong(&api->openapi[slot], &expected, d)) {
			free(d);
			d = expected;
		}
	}
	snprintf(r->res->etag, sizeof(r->res->etag), "%s", d->etag);
	r->res->cache_control = "private, no-cache";
	if (if_none_match_hits(r->req->if_none_match, r->res->etag)) {
		r->res->status = 304;
		return;
	}
	respond_static(r->res, 200, d->body, d->len, "application/json");
}

/* ---- routing ------------------------------------------------------------- */


static int method_bit(const char *method)
{
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) return M_GET;
	if (strcmp(method, "POST") == 0) return M_POST;
	if (strcmp(method, "PATCH") == 0) return M_PATCH;
	if (strcmp(method, "DELETE") == 0) return M_DELETE;
	if (strcmp(method, "OPTIONS") == 0) return M_OPTIONS;
	return M_OTHER;
}

static const char *allow_text(int methods)
{
	switch (methods) {
	case M_GET: return "GET, HEAD, OPTIONS";
	case M_POST: return "POST, OPTIONS";
	case M_GET | M_POST: return "GET, HEAD, POST, OPTIONS";
	case M_GET | M_PATCH | M_DELETE: return "GET, HEAD, PATCH, DELETE, OPTIONS";
	case M_POST | M_DELETE: return "POST, DELETE, OPTIONS";
	case M_DELETE: return "DELETE, OPTIONS";
	case M_GET | M_POST | M_DELETE: return "GET, HEAD, POST, DELETE, OPTIONS";
	default: return "OPTIONS";
	}
}

/* Resolves an object name from the URL: metadata only, so traversal is a 404. */
static bool find_object(struct route_ctx *r, const char *name)
{
	char shortbuf[72];
	r->object = crm_valid_name(name) ? meta_find_object(r->api->kernel->meta, name) : NULL;
	if (!r->object) {
		problem(r->res, r->req, 404, "no object '%s'", shorten(name, shortbuf, sizeof(shortbuf)));
		return false;
	}
	return true;
}

static bool find_id(struct route_ctx *r, const char *text)
{
	char shortbuf[40];
	r->id = parse_id(text);
	if (r->id <= 0) {
		problem(r->res, r->req, 404, "no %s with id '%s'", r->object->name,
		        shorten(text, shortbuf, sizeof(shortbuf)));
		return false;
	}
	return true;
}

/* Checks the method against the route's; answers OPTIONS and 405 itself. */
static bool method_allowed(struct route_ctx *r, int allowed, int method)
{
	if (method & allowed)
		return true;
	r->res->allow = allow_text(allowed);
	if (method == M_OPTIONS) {
		r->res->status = 204;
		return false;
	}
	problem(r->res, r->req, 405, "%s is not allowed here; use %s", r->req->method, r->res->allow);
	r->res->allow = allow_text(allowed);
	return false;
}

/* The web UI's asset for target (ui.c), with its strict Content-Security-Policy. */
static void serve_ui(const char *target, struct api_response *res)
{
	const struct ui_asset *asset = ui_route(target);
	res->csp = UI_CSP;
	if (!asset) {
		static const char missing[] = "not found\n";
		res->status = 404;
		res->content_type = "text/plain; charset=utf-8";
		res->body = malloc(sizeof(missing) - 1);
		if (res->body) {
			memcpy(res->body, missing, sizeof(missing) - 1);
			res->body_len = sizeof(missing) - 1;
		}
		return;
	}
	res->status = 200;
	res->content_type = ui_content_type(asset->name);
	/* revalidate each time: a new binary brings new assets under the same names */
	res->cache_control = "no-cache";
	res->body = malloc(asset->len ? asset->len : 1);
	if (!res->body) {
		res->status = 503;
		return;
	}
	memcpy(res->body, asset->data, asset->len);
	res->body_len = asset->len;
}

/* ---- attachments ----------------------------------------------------------- */

/* The route an upload comes by: POST /api/v1/objects/{object}/{id}/attachments. */
static bool upload_route(const struct api_target *t)
{
	return t->segment_count == 6 && !strcmp(t->segments[0], "api") && !strcmp(t->segments[1], "v1")
		&& !strcmp(t->segments[2], "objects") && !strcmp(t->segments[5], "attachments");
}

const char *api_body_spool(struct api *api, const char *method, const char *target, size_t *limit)
{
	struct api_target t;
	char err[200];
	const char *dir = NULL;
	if (strcmp(method, "POST") != 0 || !target || !api->kernel->files_dir
	    || api_parse_target(target, strlen(target), &t, err, sizeof(err)) != CRM_OK)
		return NULL;
	if (upload_route(&t) && attachment_enabled(api->kernel, t.segments[3])) {
		dir = api->kernel->files_dir;
		*limit = api->kernel->file_max + API_MULTIPART_ROOM;
	}
	api_target_free(&t);
	return dir;
}

/* The value of parameter name in a header such as `form-data; name="file"` (quoted or not), into out. */
static bool header_param(const char *header, size_t header_len, const char *name, char *out, size_t size)
{
	size_t name_len = strlen(name);
	for (size_t i = 0; i + name_len + 1 < header_len; i++) {
		if ((header[i] != ';' && header[i] != ' ') || strncasecmp(header + i + 1, name, name_len) != 0
		    || header[i + 1 + name_len] != '=')
			continue;
		const char *p = header + i + 2 + name_len, *end = header + header_len;
		bool quoted = p < end && *p == '"';
		if (quoted)
			p++;
		size_t len = 0;
		while (p + len < end && (quoted ? p[len] != '"' : p[len] != ';' && p[len] != ' '))
			len++;
		if ((quoted && p + len >= end) || len >= size)
			return false;
		memcpy(out, p, len);
		out[len] = '\0';
		return true;
	}
	return false;
}

int api_parse_multipart(const char *body, size_t len, const char *content_type, size_t *start,
                        size_t *length, char *file_name, size_t name_size, char *err, size_t errlen)
{
	char boundary[80], delimiter[90];
	if (!content_type || !header_param(content_type, strlen(content_type), "boundary", boundary, 71)
	    || boundary[0] == '\0') {
		snprintf(err, errlen, "multipart/form-data needs a boundary of 1 to 70 characters");
		return CRM_EINVAL;
	}
	int delimiter_len = snprintf(delimiter, sizeof(delimiter), "\r\n--%s", boundary);
	/* the first delimiter may open the body (no preceding line break) */
	size_t pos;
	if (len >= (size_t)delimiter_len - 2 && memcmp(body, delimiter + 2, (size_t)delimiter_len - 2) == 0)
		pos = (size_t)delimiter_len - 2;
	else {
		const char *first = memmem(body, len, delimiter, (size_t)delimiter_len);
		if (!first) {
			snprintf(err, errlen, "the multipart body has no boundary line");
			return CRM_EINVAL;
		}
		pos = (size_t)(first - body) + (size_t)delimiter_len;
	}
	for (;;) {
		if (pos + 2 <= len && memcmp(body + pos, "--", 2) == 0)
			break;   /* the closing delimiter */
		if (pos + 2 > len || memcmp(body + pos, "\r\n", 2) != 0) {
			snprintf(err, errlen, "malformed multipart body: a boundary line runs on");
			return CRM_EINVAL;
		}
		pos += 2;
		size_t header_room = len - pos < API_MULTIPART_HEADERS ? len - pos : API_MULTIPART_HEADERS;
		const char *headers_end = memmem(body + pos, header_room, "\r\n\r\n", 4);
		if (!headers_end) {
			snprintf(err, errlen, "malformed multipart body: a part's headers do not end within %d bytes",
			         API_MULTIPART_HEADERS);
			return CRM_EINVAL;
		}
		size_t content = (size_t)(headers_end - body) + 4;
		const char *next = memmem(body + content, len - content, delimiter, (size_t)delimiter_len);
		if (!next) {
			snprintf(err, errlen, "malformed multipart body: no closing boundary");
			return CRM_EINVAL;
		}
		char name[64], filename[1024];
		bool is_file = false;
		for (const char *line = body + pos; line < headers_end;) {
			const char *eol = memmem(line, (size_t)(headers_end - line) + 2, "\r\n", 2);
			size_t line_len = (size_t)(eol - line);
			if (line_len > 20 && strncasecmp(line, "Content-Disposition:", 20) == 0
			    && header_param(line, line_len, "name", name, sizeof(name)) && strcmp(name, "file") == 0
			    && header_param(line, line_len, "filename", filename, sizeof(filename)))
				is_file = true;
			line = eol + 2;
		}
		if (is_file) {
			if (!valid_utf8((const unsigned char *)filename, strlen(filename))) {
				snprintf(err, errlen, "the file name is not valid UTF-8");
				return CRM_EINVAL;
			}
			snprintf(file_name, name_size, "%s", filename);
			*start = content;
			*length = (size_t)(next - body) - content;
			return CRM_OK;
		}
		pos = (size_t)(next - body) + (size_t)delimiter_len;
	}
	snprintf(err, errlen, "the multipart body has no part named \"file\" with a filename");
	return CRM_EINVAL;
}

static void respond_attachment_error(struct route_ctx *r, int rc)
{
	if (rc == CRM_ELIMIT)
		problem(r->res, r->req, 413, "%s", r->ctx.message);
	else
		problem_from_ctx(r->api, r->res, r->req, rc, &r->ctx, NULL);
}

/* POST .../objects/{object}/{id}/attachments: multipart/form-data (a part named "file"), or the raw bytes with ?filename=. */
static void handle_attachment_upload(struct route_ctx *r)
{
	static const char *const allowed[] = { "filename", NULL };
	const struct api_request *req = r->req;
	char err[300], name[1024];
	size_t start = 0, length = req->body_len;
	if (!no_params(r, allowed))
		return;
	if (!req->body_path || req->body_len == 0) {
		problem(r->res, req, 400, "the upload is empty");
		return;
	}
	if (req->content_type && strncasecmp(req->content_type, "multipart/form-data", 19) == 0) {
		int fd = open(req->body_path, O_RDONLY | O_CLOEXEC);
		void *map = fd >= 0 ? mmap(NULL, req->body_len, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
		if (fd >= 0)
			close(fd);
		if (map == MAP_FAILED) {
			crm_error(&r->ctx, CRM_EIO, "cannot read the spooled upload: %s", strerror(errno));
			problem_from_ctx(r->api, r->res, req, CRM_EIO, &r->ctx, NULL);
			return;
		}
		int rc = api_parse_multipart(map, req->body_len, req->content_type, &start, &length, name, sizeof(name),
		                             err, sizeof(err));
		munmap(map, req->body_len);
		if (rc != CRM_OK) {
			problem(r->res, req, 400, "%s", err);
			return;
		}
	} else {
		const char *given = api_target_param(r->target, "filename");
		if (!given || !*given) {
			problem(r->res, req, 400, "name the file with ?filename=, or upload multipart/form-data");
			return;
		}
		snprintf(name, sizeof(name), "%s", given);
	}
	json_t *record = NULL;
	int rc = attachment_add(&r->ctx, r->object->name, r->id, name, req->body_path, (off_t)start, (off_t)length,
	                        &record);
	if (rc != CRM_OK) {
		respond_attachment_error(r, rc);
		return;
	}
	snprintf(r->res->location, sizeof(r->res->location), API_PREFIX "/attachments/%lld/content",
	         (long long)json_integer_value(json_object_get(record, "id")));
	respond_json(r->res, 201, record);
	json_decref(record);
}

/* GET .../objects/{object}/{id}/attachments */
static void handle_attachment_list(struct route_ctx *r)
{
	json_t *records = NULL;
	if (!no_params(r, NULL))
		return;
	int rc = attachment_list(&r->ctx, r->object->name, r->id, &records);
	if (rc != CRM_OK) {
		respond_attachment_error(r, rc);
		return;
	}
	json_t *page = json_pack("{s:o}", "records", records);
	respond_json(r->res, 200, page);
	json_decref(page);
}

/* Content-Disposition for name: attachment, an ASCII fallback and the UTF-8 name (RFC 6266). */
static void attachment_disposition(const char *name, char *out, size_t size)
{
	struct strbuf sb = { 0 };
	strbuf_puts(&sb, "attachment; filename=\"");
	for (const unsigned char *p = (const unsigned char *)name; *p && sb.len < 240; p++)
		strbuf_putc(&sb, *p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\' || *p == ';' ? '_' : (char)*p);
	strbuf_puts(&sb, "\"; filename*=UTF-8''");
	for (const unsigned char *p = (const unsigned char *)name; *p && sb.len < size - 4; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-._~", *p))
			strbuf_putc(&sb, (char)*p);
		else
			strbuf_printf(&sb, "%%%02X", *p);
	}
	snprintf(out, size, "%s", sb.data);
	free(sb.data);
}

/* GET /attachments/{id}/content: always a download, never a page (no HTML, no SVG, no sniffing, sandboxed). */
static void handle_attachment_content(struct route_ctx *r)
{
	json_t *row = NULL;
	int fd = -1;
	if (!no_params(r, NULL))
		return;
	int rc = attachment_open(&r->ctx, r->id, &row, &fd);
	if (rc != CRM_OK) {
		respond_attachment_error(r, rc);
		return;
	}
	struct api_stream *s = xcalloc(1, sizeof(*s));
	s->is_file = true;
	s->file_fd = fd;
	const char *name = json_string_value(json_object_get(row, "file_name"));
	attachment_disposition(name ? name : "file", s->disposition, sizeof(s->disposition));
	r->res->status = 200;
	/* only a type the sniffer can give: a row cannot make the server send text/html */
	const char *type = json_string_value(json_object_get(row, "content_type"));
	r->res->content_type = attachment_sniff_known(type);
	r->res->disposition = s->disposition;
	r->res->csp = "sandbox; default-src 'none'";
	r->res->cache_control = "private, no-store";
	r->res->stream = s;
	json_decref(row);
}

/* /attachments/{id} (GET: the row; DELETE: to the recycle bin) and /attachments/{id}/content. */
static void route_attachments(struct route_ctx *r, const char *const *seg, int count, int method)
{
	char shortbuf[40];
	r->id = parse_id(seg[1]);
	if (r->id <= 0) {
		problem(r->res, r->req, 404, "no attachment '%s'", shorten(seg[1], shortbuf, sizeof(shortbuf)));
		return;
	}
	if (count == 3 && strcmp(seg[2], "content") == 0) {
		if (method_allowed(r, M_GET, method))
			handle_attachment_content(r);
		return;
	}
	if (count != 2) {
		problem(r->res, r->req, 404, "no such route");
		return;
	}
	if (!method_allowed(r, M_GET | M_DELETE, method) || !no_params(r, NULL))
		return;
	json_t *row = NULL;
	int fd = -1;
	int rc = method == M_DELETE ? attachment_delete(&r->ctx, r->id) : attachment_open(&r->ctx, r->id, &row, &fd);
	if (fd >= 0)
		close(fd);
	if (rc != CRM_OK)
		respond_attachment_error(r, rc);
	else if (method == M_DELETE)
		r->res->status = 204;
	else
		respond_json(r->res, 200, row);
	json_decref(row);
}

static void route(struct route_ctx *r)
{
	struct api_target *t = r->target;
	const char *const *seg = t->segments;
	int count = t->segment_count, method = method_bit(r->req->method);

	if (count < 3 || strcmp(seg[0], "api") != 0 || strcmp(seg[1], "v1") != 0) {
		if ((method == M_GET || strcmp(r->req->method, "HEAD") == 0) &&
		    (count == 0 || strcmp(seg[0], "api") != 0)) {
			serve_ui(r->req->target, r->res);   /* the web UI (ui.c) */
			return;
		}
		problem(r->res, r->req, 404, "no such route; the API lives under " API_PREFIX);
		return;
	}
	seg += 2;
	count -= 2;

	if (count == 1 && strcmp(seg[0], "session") == 0 && method == M_POST) {
		handle_login(r);
		return;
	}
	/* sign-up and its verification: for people who have no account yet (no credential is read) */
	if (count == 2 && strcmp(seg[0], "auth") == 0 && strcmp(seg[1], "signup") == 0) {
		handle_signup(r, method);
		return;
	}
	if (count == 2 && strcmp(seg[0], "auth") == 0 && strcmp(seg[1], "verify") == 0) {
		handle_verify(r, method);
		return;
	}
	/* before authenticate: public routes read no credential at all */
	if (count >= 2 && strcmp(seg[0], "public") == 0) {
		handle_public_route(r, (int)(seg - t->segments) + 1);
		return;
	}
	if (method != M_OPTIONS && !authenticate(r))
		return;
	if (count == 1 && strcmp(seg[0], "session") == 0) {
		if (!method_allowed(r, M_GET | M_POST | M_DELETE, method))
			return;
		if (method == M_DELETE)
			handle_logout(r);
		else
			handle_whoami(r);
		return;
	}
	if (count == 1 && strcmp(seg[0], "meta") == 0) {
		if (method_allowed(r, M_GET, method))
			handle_meta(r);
		return;
	}
	if (count == 1 && strcmp(seg[0], "openapi.json") == 0) {
		/* per caller, like /meta: only what their role may use */
		if (method_allowed(r, M_GET, method))
			handle_openapi(r);
		return;
	}
	if (count == 1 && strcmp(seg[0], "search") == 0) {
		if (method_allowed(r, M_GET, method))
			handle_search(r);
		return;
	}
	if (count == 1 && strcmp(seg[0], "batch") == 0) {
		if (method_allowed(r, M_POST, method))
			handle_batch(r);
		return;
	}

	if (count >= 2 && strcmp(seg[0], "plugins") == 0) {
		handle_plugin_route(r, (int)(seg - t->segments) + 1);
		return;
	}
	if ((count == 2 || count == 3) && strcmp(seg[0], "attachments") == 0) {
		route_attachments(r, seg, count, method);
		return;
	}
	if ((count == 1 || count == 2) && strcmp(seg[0], "kpis") == 0) {
		if (method_allowed(r, M_GET, method))
			handle_kpis(r, count == 2 ? seg[1] : NULL);
		return;
	}
	if ((count == 1 || (count == 2 && meta_find_report(r->api->kernel->meta, seg[1])))
	    && strcmp(seg[0], "reports") == 0) {
		if (method_allowed(r, M_GET, method))
			handle_report_documents(r, count == 2 ? seg[1] : NULL);
		return;
	}
	if (count == 2 && strcmp(seg[0], "reports") == 0) {
		if (find_object(r, seg[1]) && method_allowed(r, M_GET, method))
			handle_report(r);
		return;
	}
	if (count >= 2 && strcmp(seg[0], "objects") == 0) {
		if (!find_object(r, seg[1]))
			return;
		if (count == 2) {
			if (!method_allowed(r, M_GET | M_POST, method))
				return;
			if (method == M_GET)
				handle_list(r);
			else
				handle_create(r);
			return;
		}
		if (count == 3 && strcmp(seg[2], "import") == 0) {
			if (method_allowed(r, M_POST, method))
				handle_import(r);
			return;
		}
		if (!find_id(r, seg[2]))
			return;
		if (count == 3) {
			if (!method_allowed(r, M_GET | M_PATCH | M_DELETE, method))
				return;
			if (method == M_GET)
				handle_get(r);
			else if (method == M_PATCH)
				handle_patch(r);
			else
				handle_delete(r);
			return;
		}
		if (count == 4 && strcmp(seg[3], "restore") == 0) {
			if (method_allowed(r, M_POST, method))
				handle_restore(r);
			return;
		}
		if (count == 4 && strcmp(seg[3], "attachments") == 0) {
			if (method_allowed(r, M_GET | M_POST, method)) {
				if (method == M_GET)
					handle_attachment_list(r);
				else
					handle_attachment_upload(r);
			}
			return;
		}
		if (count == 4 && strcmp(seg[3], "history") == 0) {
			if (method_allowed(r, M_GET, method))
				handle_history(r);
			return;
		}
		if (count == 4 && strcmp(seg[3], "shares") == 0) {
			if (method_allowed(r, M_GET | M_POST, method))
				handle_shares(r, method, NULL);
			return;
		}
		if (count == 5 && strcmp(seg[3], "shares") == 0) {
			if (method_allowed(r, M_DELETE, method))
				handle_shares(r, method, seg[4]);
			return;
		}
		if (count == 5 && strcmp(seg[3], "actions") == 0) {
			if (method_allowed(r, M_POST, method))
				handle_action(r, seg[4]);
			return;
		}
		if (count == 5 && strcmp(seg[3], "transitions") == 0) {
			if (method_allowed(r, M_POST, method))
				handle_transition(r, seg[4]);
			return;
		}
		if (count == 4 && strcmp(r->object->name, "approval") == 0 &&
		    (strcmp(seg[3], "approve") == 0 || strcmp(seg[3], "reject") == 0)) {
			if (method_allowed(r, M_POST, method))
				handle_decision(r, strcmp(seg[3], "approve") == 0);
			return;
		}
	}
	problem(r->res, r->req, 404, "no such route");
}

void api_handle(struct api *api, const struct api_request *req, struct api_response *res)
{
	struct api_target target;
	struct route_ctx r;
	char err[300];

	memset(res, 0, sizeof(*res));
	if (api_parse_target(req->target, strlen(req->target), &target, err, sizeof(err)) != CRM_OK) {
		problem(res, req, 400, "%s", err);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.api = api;
	r.req = req;
	r.res = res;
	r.target = &target;
	crm_ctx_init(&r.ctx, api->kernel, 0, req->request_id);
	/* a read-only request reads one snapshot: one lock cycle instead of one per statement */
	if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)
		context_read_begin(&r.ctx);
	route(&r);
	crm_ctx_clear(&r.ctx);
	api_target_free(&target);
	if (res->status == 0)
		problem(res, req, 500, "no response");
}
