/*
 * fuzz_form.c - libFuzzer target for HTML form bodies (api_parse_form, what
 * public plugin routes accept as application/x-www-form-urlencoded): any
 * bytes must decode or be refused with a message. What decodes must encode
 * back (every byte percent-encoded, lists as name[]) to a body that decodes
 * to the same fields; a failure aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "api.h"

static void encode(struct strbuf *out, const char *name, const char *value, bool list)
{
	if (out->len)
		strbuf_putc(out, '&');
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		strbuf_printf(out, "%%%02X", *p);
	if (list)
		strbuf_puts(out, "[]");
	strbuf_putc(out, '=');
	for (const unsigned char *p = (const unsigned char *)value; *p; p++)
		strbuf_printf(out, "%%%02X", *p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *form = NULL, *again = NULL;
	char err[300];
	if (api_parse_form((const char *)data, size, &form, err, sizeof(err)) != CRM_OK)
		return 0;
	struct strbuf body = { 0 };
	const char *name;
	json_t *value;
	json_object_foreach(form, name, value) {
		size_t i;
		json_t *item;
		if (json_is_array(value))
			json_array_foreach(value, i, item)
				encode(&body, name, json_string_value(item), true);
		else
			encode(&body, name, json_string_value(value), false);
	}
	if (api_parse_form(body.data ? body.data : "", body.len, &again, err, sizeof(err)) != CRM_OK
	    || !json_equal(form, again)) {
		fprintf(stderr, "the form re-encoded as %s %s\n", body.data ? body.data : "",
		        again ? "decodes to other fields" : err);
		abort();
	}
	strbuf_free(&body);
	json_decref(form);
	json_decref(again);
	return 0;
}
