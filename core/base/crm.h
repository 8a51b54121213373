/*
 * crm.h - what every kernel file shares: status codes, the call context that
 * carries the acting user, the request id and the error of the last call, and
 * a growable string buffer.
 *
 * Errors work like sqlite3_errmsg: a fallible function returns CRM_OK or a
 * CRM_E* code and leaves the human message (and, for validation, one entry per
 * field) in the context. Codes are append-only: never renumber.
 */
#ifndef CRM_H
#define CRM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define CRM_VERSION "0.1.0"

/*
 * The acting user of a public plugin route (crm.route(..., { public = true })):
 * nobody signed in. No user record has this id; access.c gives it the
 * metadata's role named `guest` (none: no rights at all). Records it creates
 * have no owner, created_by or updated_by; the audit trail records it as -1.
 */
#define CRM_USER_GUEST ((int64_t)-1)
#define CRM_GUEST_ROLE "guest"

enum crm_status {
	CRM_OK = 0,
	CRM_EINVAL = 1,      /* malformed input: bad expression, bad cursor, bad option */
	CRM_ENOTFOUND = 2,   /* no such object, field or record */
	CRM_ECONFLICT = 3,   /* lost update: expected version differs */
	CRM_EVALIDATION = 4, /* one or more field errors, see ctx->field_errors */
	CRM_EMETA = 5,       /* metadata is invalid */
	CRM_EIO = 6,         /* storage failed */
	CRM_ENOMEM = 7,      /* allocation failed (budgeted allocations only) */
	CRM_ELIMIT = 8,      /* a limit was reached: size, depth, time */
	CRM_EBUSY = 9,       /* database busy beyond the timeout */
	CRM_EDENIED = 10,    /* the caller may not do this */
	CRM_EFULL = 11,      /* disk or database full */
	CRM_EDESTRUCTIVE = 12, /* schema change would lose data */
	CRM_EINTERNAL = 13,  /* a bug */
	CRM_ESTATE = 14,     /* the record is in the wrong state (deleted, not deleted) */
};

struct crm_kernel;
struct store_conn;
struct access_user;

/*
 * One call context per request (HTTP), command (CLI) or plugin call. It is
 * not shared between threads. The error fields describe the last failure.
 */
struct crm_ctx {
	struct crm_kernel *kernel;   /* borrowed */
	int64_t user_id;             /* acting user; 0 = system (CLI, demo), CRM_USER_GUEST = a public route's caller */
	const char *request_id;      /* borrowed, may be NULL */
	int depth;                   /* nesting of object API calls from hooks */

	int status;                  /* last error code */
	char message[512];           /* last error message */
	json_t *field_errors;        /* owned: array of {field, code, message} or NULL */

	struct store_conn *txn;      /* the writer while a transaction is open (object_begin) */
	struct store_conn *reader;   /* a reader held for a whole read-only request (context_read_begin) */
	int txn_depth;
	json_t *async_queue;         /* owned: async after-hooks waiting for the commit (events.c) */
	struct access_user *access;  /* owned: the caller as access control sees it (access.c) */
	int64_t on_behalf_of;        /* a workflow action run `as: system` (user 0) for this user: audited so */
	bool erasing;                /* a GDPR erase (gdpr.c): the one change an append-only record takes */
};

void crm_ctx_init(struct crm_ctx *ctx, struct crm_kernel *kernel, int64_t user_id,
                  const char *request_id);
/* Frees field errors; rolls back a transaction left open. */
void crm_ctx_clear(struct crm_ctx *ctx);
/* Sets the context's error and returns code, so that `return crm_error(...)` reads well. */
int crm_error(struct crm_ctx *ctx, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Appends a field error (validation); the caller returns CRM_EVALIDATION once all are found. */
void crm_field_error(struct crm_ctx *ctx, const char *field, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Forgets the last error and the field errors collected. */
void crm_error_reset(struct crm_ctx *ctx);
/*
 * Forgets an error a lookup has handled (status and message) and keeps the
 * field errors collected so far: an access or path lookup in the middle of
 * validating a record must not lose the errors of the fields before it.
 */
void crm_error_forget(struct crm_ctx *ctx);
const char *crm_status_name(int code);

/* Allocation that aborts with a message: for kernel-lifetime memory. */
void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *text);
char *xstrndup(const char *text, size_t len);

/* A growable, always NUL-terminated string. Zero-initialise to use. */
struct strbuf {
	char *data;
	size_t len, cap;
};
void strbuf_add(struct strbuf *sb, const char *data, size_t len);
void strbuf_puts(struct strbuf *sb, const char *text);
void strbuf_putc(struct strbuf *sb, char c);
void strbuf_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap);
/* Appends a double-quoted SQL identifier; identifiers only ever come from metadata. */
void strbuf_ident(struct strbuf *sb, const char *name);
void strbuf_reset(struct strbuf *sb);
void strbuf_free(struct strbuf *sb);
/* Hands over the buffer (owned by the caller) and resets sb. Never NULL. */
char *strbuf_detach(struct strbuf *sb);

/* True if name is a safe identifier: [a-z_][a-z0-9_]{0,62}. */
bool crm_valid_name(const char *name);
/*
 * Finds folder name in a search path of folders separated by ':' (like
 * PATH: "plugins:/opt/crm/plugins"): true and "<folder>/<name>" in out for
 * the first that has it; else false and the first folder's "<folder>/<name>"
 * (for messages). out is reset first.
 */
bool crm_path_find(const char *search_path, const char *name, struct strbuf *out);

#include "banned.h"
#endif
