/*
 * api.h - the REST API (DESIGN.md section 6): routing, problem+json errors
 * and the handlers that turn HTTP requests into object API calls.
 *
 * api.c knows nothing about the HTTP library: http.c hands it a request
 * (method, raw request target, a few headers, the whole body) and sends back
 * the response api.c fills in, either a body in memory or a stream (CSV
 * export) that http.c pulls from block by block. The parsers here (request
 * target, list parameters, JSON bodies) are pure functions so that the
 * fuzzers in tests/fuzz/ can call them directly.
 *
 * Status mapping: object API codes become HTTP statuses in one table in api.c
 * (api_status_for); nowhere else.
 */
#ifndef CRM_API_H
#define CRM_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "crm.h"
#include "object.h"

struct crm_kernel;
struct meta;

#define API_PREFIX "/api/v1"
#define API_MAX_PARAMS 32          /* query parameters in one request */
#define API_MAX_SEGMENTS 8         /* path segments */
#define API_MAX_JSON_DEPTH 32      /* nesting of arrays/objects in a JSON body */
#define API_EXPORT_PAGE 500        /* records fetched per page while streaming CSV */
#define API_FORM_MAX_FIELDS 100    /* fields (each value of a name[] field counts) in a form body */
#define API_FORM_MAX_NAME 128      /* bytes in a form field's name */
#define API_MULTIPART_ROOM (64 * 1024) /* an upload's body beyond the file cap: multipart framing */
#define API_MULTIPART_HEADERS 8192    /* bytes of one multipart part's headers */
#define API_PUBLIC_PREFIX API_PREFIX "/public"   /* public plugin routes: no session, act as the guest */

struct api;  /* opaque: the kernel, options, the cached /meta and /openapi.json per role */

struct api_options {
	bool require_if_match;     /* PATCH without If-Match -> 428 */
	bool secure_cookies;       /* the session cookie gets Secure (served behind TLS) */
	bool log_errors;           /* 5xx details to the kernel log */
};

/*
 * Builds the API over kernel (borrowed; must outlive the api), rendering
 * /meta once (metadata is immutable); /openapi.json is rendered the first
 * time a role asks for it and kept for that role. Never NULL.
 */
struct api *api_new(struct crm_kernel *kernel, const struct api_options *options);
void api_free(struct api *api);

/* What http.c hands over. Every pointer is borrowed for the call. */
struct api_request {
	const char *method;        /* "GET", ... */
	const char *target;        /* raw request target as sent: /path?query (not decoded) */
	const char *content_type;  /* header value or NULL */
	const char *if_match;      /* header value or NULL */
	const char *if_none_match; /* header value or NULL */
	const char *body;          /* NULL when there is none */
	size_t body_len;
	const char *body_path;     /* the body spooled to this file instead (api_body_spool), or NULL */
	const char *request_id;
	const char *authorization; /* "Bearer <token>" or NULL */
	const char *cookie;        /* Cookie header or NULL (the session cookie is crm_session) */
	const char *csrf;          /* X-CSRF-Token header or NULL */
	const char *client_ip;     /* the peer's address as text, for the login and public-route limits; may be NULL */
	const char *signature;     /* X-CRM-Signature header or NULL (a signed public route) */
	const char *signature_time; /* X-CRM-Timestamp header or NULL */
};

struct api_stream;  /* a response body produced on demand (CSV export) */

/* What api.c hands back. Clear with api_response_clear. */
struct api_response {
	int status;
	const char *content_type;  /* static string, NULL = no body */
	char *body;                /* owned (malloc) or NULL */
	size_t body_len;
	char etag[32];             /* "\"<version>\"" or empty */
	char location[160];        /* or empty */
	const char *allow;         /* static: the Allow header of a 405 / OPTIONS */
	const char *disposition;   /* static: Content-Disposition or NULL */
	const char *cache_control; /* static; NULL = "no-store" (records are personal data) */
	int retry_after;           /* seconds; 0 = no Retry-After */
	char set_cookie[192];      /* a Set-Cookie header value, or empty */
	const char *www_authenticate; /* static: the WWW-Authenticate of a 401, or NULL */
	const char *csp;           /* static: Content-Security-Policy (the web UI's pages), or NULL */
	struct api_stream *stream; /* owned: when set, body is NULL and http.c pulls */
};

/*
 * Handles one request. Always fills res (an error is a problem+json
 * response); never fails. May run on any worker thread concurrently.
 */
void api_handle(struct api *api, const struct api_request *req, struct api_response *res);
void api_response_clear(struct api_response *res);

/*
 * The most body bytes the request may send, for http.c to check before it
 * reads any: a public plugin route's max_body (for a path under
 * API_PUBLIC_PREFIX that names no route, the default public cap), else 0
 * (the server's --max-body). target is the raw request target.
 */
size_t api_body_limit(struct api *api, const char *method, const char *target);

/*
 * For an attachment upload (POST .../objects/{object}/{id}/attachments): the
 * directory to spool the body into (a file of http.c's under it, removed when
 * the request ends) instead of memory, and in *limit the most body bytes
 * (the file cap plus room for multipart framing). NULL for any other route.
 */
const char *api_body_spool(struct api *api, const char *method, const char *target, size_t *limit);

/*
 * A problem+json response (RFC 9457) for errors found before routing (body
 * too large, bad framing, oversized headers). detail may be NULL.
 */
void api_problem(struct api_response *res, int status, const char *detail,
                 const char *request_id);
/* The HTTP status for an object API code (the one mapping table). */
int api_status_for(int code);

/*
 * Pulls the next block of a stream into buf (at most max bytes). Returns the
 * byte count (> 0), 0 at the end, or -1 on a failure (logged; the response
 * is then cut short and the connection closed).
 */
ssize_t api_stream_read(struct api_stream *stream, char *buf, size_t max);
void api_stream_free(struct api_stream *stream);

/* ---- parsers (pure; fuzzed) -------------------------------------------- */

/* A decoded request target: path segments and query parameters. */
struct api_target {
	int segment_count;
	const char *segments[API_MAX_SEGMENTS];   /* decoded, NUL-terminated, in buffer */
	int param_count;
	const char *names[API_MAX_PARAMS];        /* decoded, in buffer */
	const char *values[API_MAX_PARAMS];       /* decoded, in buffer ("" when no '=') */
	char *buffer;                             /* owned */
};

/*
 * Splits target ("/api/v1/objects/account?limit=5") into decoded path
 * segments (empty segments dropped) and query parameters (%XX and '+'
 * decoded). Refuses with CRM_EINVAL and a message in err: bad %-escapes,
 * NUL bytes, invalid UTF-8, control characters, a dot segment ("." or ".."
 * after decoding), more than API_MAX_SEGMENTS segments or API_MAX_PARAMS
 * parameters, a repeated parameter. On success *out must be released with
 * api_target_free; on failure there is nothing to free.
 */
int api_parse_target(const char *target, size_t len, struct api_target *out,
                     char *err, size_t errlen);
void api_target_free(struct api_target *target);
/* The value of parameter name, or NULL. */
const char *api_target_param(const struct api_target *target, const char *name);

/* What a list request asks for, beyond the object query itself. */
struct api_list_options {
	bool csv;                  /* format=csv */
};

/*
 * Reads the list parameters (filter, sort, limit, after, fields, search,
 * count, deleted, format) into query (pointers borrowed from target).
 * Unknown parameters (other than ones starting with '_'), a limit outside
 * 1..OBJECT_MAX_LIMIT, an unknown count or format value, over-long values:
 * CRM_EINVAL with a message in err.
 */
int api_list_query(const struct api_target *target, struct object_query *query,
                   struct api_list_options *options, char *err, size_t errlen);

/*
 * Parses a JSON body like the server does: rejects nesting deeper than
 * max_depth (before jansson sees it), invalid UTF-8, NUL bytes, duplicate
 * keys and trailing garbage, naming line and column. Returns CRM_OK and
 * *out (owned), or CRM_EINVAL with err set.
 */
int api_parse_json(const char *body, size_t len, int max_depth, json_t **out,
                   char *err, size_t errlen);

/*
 * Decodes an application/x-www-form-urlencoded body (an HTML form) into an
 * object of strings: '+' and %XX decoded as in the query string (line breaks
 * allowed in values), names of 1 to API_FORM_MAX_NAME bytes, at most
 * API_FORM_MAX_FIELDS fields. A name given twice is refused, unless it ends
 * in "[]": "tag[]=a&tag[]=b" gives "tag": ["a", "b"]. An empty body is {}.
 * CRM_OK and *out (owned), or CRM_EINVAL / CRM_ELIMIT with err set.
 */
int api_parse_form(const char *body, size_t len, json_t **out, char *err, size_t errlen);

/*
 * Finds the file in a multipart/form-data body (RFC 7578): the first part
 * named "file" with a filename. content_type is the request's header (its
 * boundary parameter). *start and *length give the file's bytes in body,
 * file_name its name as sent (valid UTF-8). A missing or overlong boundary,
 * a part without a closing delimiter, headers over API_MULTIPART_HEADERS, no
 * such part: CRM_EINVAL with err set.
 */
int api_parse_multipart(const char *body, size_t len, const char *content_type, size_t *start,
                        size_t *length, char *file_name, size_t name_size, char *err, size_t errlen);

/*
 * Serialises json into a malloc'd buffer with the API's encoding flags
 * (compact, UTF-8, 15 significant digits for reals). *len_out gets the length.
 */
char *api_dump_json(const json_t *json, size_t *len_out);

/* ---- documents --------------------------------------------------------- */

/* The metadata as JSON for GET /meta (owned). */
json_t *api_meta_json(const struct meta *meta);

#endif
