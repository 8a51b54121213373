/*
 * jsonw.h - the JSON text writer: one growing buffer, written straight into.
 *
 * Responses are encoded here, either from a jansson value (jsonw_value) or
 * field by field from a database row (store_row_write), with the same
 * primitives, so both spell a value identically: strings escaped only where
 * JSON requires it (UTF-8 passes through), reals in the fewest decimals
 * that read back exactly and always with a '.', integers as integers.
 *
 * Measured on a 50-record page of accounts (30 KB): json_dumps 200 us,
 * json_dump_callback into a buffer 230 us, jsonw_value about 40 us. Writing
 * the rows directly, with no jansson tree at all, took the server's CPU time
 * for that page over HTTP from about 400 us to about 150 us a request (the
 * tree's allocations, not the encoding, were the cost).
 */
#ifndef CRM_JSONW_H
#define CRM_JSONW_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <jansson.h>

struct jsonw {
	char *data;
	size_t len, cap;
};

/* Room for extra more bytes (and a terminating NUL). */
void jsonw_grow(struct jsonw *w, size_t extra);

static inline void jsonw_reserve(struct jsonw *w, size_t extra)
{
	if (w->len + extra + 1 > w->cap)
		jsonw_grow(w, extra);
}

/* Bytes as they are (already JSON). */
static inline void jsonw_raw(struct jsonw *w, const char *data, size_t len)
{
	jsonw_reserve(w, len);
	memcpy(w->data + w->len, data, len);
	w->len += len;
}

static inline void jsonw_char(struct jsonw *w, char c)
{
	jsonw_reserve(w, 1);
	w->data[w->len++] = c;
}

void jsonw_int(struct jsonw *w, int64_t value);
void jsonw_real(struct jsonw *w, double value);
void jsonw_string(struct jsonw *w, const char *text, size_t len);
/* "key": (with the quotes and colon; key is plain ASCII such as a field name) */
void jsonw_key(struct jsonw *w, const char *key);
void jsonw_value(struct jsonw *w, const json_t *value);

/* The text, NUL-terminated, owned by the caller; the writer is emptied. */
char *jsonw_finish(struct jsonw *w, size_t *len_out);
void jsonw_free(struct jsonw *w);

#endif
