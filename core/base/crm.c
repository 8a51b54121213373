/* crm.c - the call context, error reporting, aborting allocators and strbuf. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "crm.h"

void crm_ctx_init(struct crm_ctx *ctx, struct crm_kernel *kernel, int64_t user_id,
                  const char *request_id)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->kernel = kernel;
	ctx->user_id = user_id;
	ctx->request_id = request_id;
}

void crm_error_reset(struct crm_ctx *ctx)
{
	ctx->status = CRM_OK;
	ctx->message[0] = '\0';
	if (ctx->field_errors) {
		json_decref(ctx->field_errors);
		ctx->field_errors = NULL;
	}
}

void crm_error_forget(struct crm_ctx *ctx)
{
	ctx->status = CRM_OK;
	ctx->message[0] = '\0';
}

int crm_error(struct crm_ctx *ctx, int code, const char *fmt, ...)
{
	if (!ctx)
		return code; /* a caller that only wants the code */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ctx->message, sizeof(ctx->message), fmt, ap);
	va_end(ap);
	ctx->status = code;
	return code;
}

void crm_field_error(struct crm_ctx *ctx, const char *field, const char *code, const char *fmt, ...)
{
	char message[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (!ctx->field_errors)
		ctx->field_errors = json_array();
	json_array_append_new(ctx->field_errors,
		json_pack("{s:s, s:s, s:s}", "field", field ? field : "", "code", code, "message", message));
}

const char *crm_status_name(int code)
{
	static const char *const names[] = {
		"ok", "invalid", "not found", "conflict", "validation", "metadata", "io",
		"out of memory", "limit", "busy", "denied", "full", "destructive", "internal", "state",
	};
	if (code < 0 || (size_t)code >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[code];
}

static void out_of_memory(size_t size)
{
	fprintf(stderr, "crm: out of memory (%zu bytes)\n", size);
	abort();
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (!p)
		out_of_memory(size);
	return p;
}

void *xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);
	if (!p)
		out_of_memory(count * size);
	return p;
}

void *xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);
	if (!p)
		out_of_memory(size);
	return p;
}

char *xstrdup(const char *text)
{
	return xstrndup(text, strlen(text));
}

char *xstrndup(const char *text, size_t len)
{
	char *p = xmalloc(len + 1);
	memcpy(p, text, len);
	p[len] = '\0';
	return p;
}

static void strbuf_grow(struct strbuf *sb, size_t extra)
{
	if (sb->len + extra + 1 <= sb->cap)
		return;
	size_t cap = sb->cap ? sb->cap : 64;
	while (cap < sb->len + extra + 1)
		cap *= 2;
	sb->data = xrealloc(sb->data, cap);
	sb->cap = cap;
}

void strbuf_add(struct strbuf *sb, const char *data, size_t len)
{
	strbuf_grow(sb, len);
	memcpy(sb->data + sb->len, data, len);
	sb->len += len;
	sb->data[sb->len] = '\0';
}

void strbuf_puts(struct strbuf *sb, const char *text)
{
	strbuf_add(sb, text, strlen(text));
}

void strbuf_putc(struct strbuf *sb, char c)
{
	strbuf_add(sb, &c, 1);
}

void strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list copy;
	va_copy(copy, ap);
	int n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0)
		return;
	strbuf_grow(sb, (size_t)n);
	vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
}

void strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	strbuf_vprintf(sb, fmt, ap);
	va_end(ap);
}

void strbuf_ident(struct strbuf *sb, const char *name)
{
	/* Names are validated by crm_valid_name at load time; quoting keeps
	 * SQL keywords (order, group) usable as field names. */
	strbuf_putc(sb, '"');
	for (const char *p = name; *p; p++) {
		if (*p == '"')
			strbuf_putc(sb, '"');
		strbuf_putc(sb, *p);
	}
	strbuf_putc(sb, '"');
}

void strbuf_reset(struct strbuf *sb)
{
	sb->len = 0;
	if (sb->data)
		sb->data[0] = '\0';
}

void strbuf_free(struct strbuf *sb)
{
	free(sb->data);
	sb->data = NULL;
	sb->len = sb->cap = 0;
}

char *strbuf_detach(struct strbuf *sb)
{
	char *data = sb->data ? sb->data : xstrdup("");
	sb->data = NULL;
	sb->len = sb->cap = 0;
	return data;
}

bool crm_valid_name(const char *name)
{
	if (!name || !*name)
		return false;
	if (!((*name >= 'a' && *name <= 'z') || *name == '_'))
		return false;
	size_t len = 0;
	for (const char *p = name; *p; p++, len++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	}
	return len <= 63;
}

bool crm_path_find(const char *search_path, const char *name, struct strbuf *out)
{
	const char *p = search_path ? search_path : "";
	struct strbuf first = { 0 };
	for (;;) {
		size_t length = strcspn(p, ":");
		if (length > 0) {
			strbuf_reset(out);
			strbuf_printf(out, "%.*s/%s", (int)length, p, name);
			struct stat st;
			if (stat(out->data, &st) == 0 && S_ISDIR(st.st_mode)) {
				strbuf_free(&first);
				return true;
			}
			if (!first.len)
				strbuf_puts(&first, out->data);
		}
		if (p[length] == '\0')
			break;
		p += length + 1;
	}
	strbuf_reset(out);
	strbuf_puts(out, first.len ? first.data : name);
	strbuf_free(&first);
	return false;
}
