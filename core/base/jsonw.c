/*
 * jsonw.c - the JSON text writer (see jsonw.h).
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include "crm.h"
#include "jsonw.h"

void jsonw_grow(struct jsonw *w, size_t extra)
{
	size_t cap = w->cap ? w->cap : 4096;
	while (cap < w->len + extra + 1)
		cap *= 2;
	w->data = xrealloc(w->data, cap);
	w->cap = cap;
}

void jsonw_int(struct jsonw *w, int64_t value)
{
	char text[24];
	int pos = (int)sizeof(text);
	uint64_t v = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
	do {
		text[--pos] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (value < 0)
		text[--pos] = '-';
	jsonw_raw(w, text + pos, sizeof(text) - (size_t)pos);
}

void jsonw_real(struct jsonw *w, double value)
{
	static const double powers[] = { 1, 10, 100, 1e3, 1e4, 1e5, 1e6 };
	char text[40];
	int len;

	/*
	 * Fast path: value = m / 10^k with |m| < 2^53. The division of two exact
	 * doubles is correctly rounded, as is reading the decimal text back, so
	 * equality here means the text below reads back as exactly this value.
	 */
	for (int k = 0; k < 7; k++) {
		double scaled = value * powers[k];
		if (scaled > -9007199254740992.0 && scaled < 9007199254740992.0 &&
		    scaled == (double)(int64_t)scaled && (double)(int64_t)scaled / powers[k] == value &&
		    !(value == 0 && signbit(value))) {
			int64_t m = (int64_t)scaled;
			uint64_t whole, frac;
			uint64_t p = (uint64_t)powers[k];
			uint64_t am = m < 0 ? (uint64_t)0 - (uint64_t)m : (uint64_t)m;
			if (m < 0)
				jsonw_char(w, '-');
			whole = am / (p ? p : 1);
			frac = am % (p ? p : 1);
			jsonw_int(w, (int64_t)whole);
			jsonw_char(w, '.');
			if (k == 0) {
				jsonw_char(w, '0');
			} else {
				char digits[8];
				for (int i = k - 1; i >= 0; i--) {
					digits[i] = (char)('0' + frac % 10);
					frac /= 10;
				}
				jsonw_raw(w, digits, (size_t)k);
			}
			return;
		}
	}
	/* The shortest of %.15g and %.17g that reads back exactly, as a real. */
	len = snprintf(text, sizeof(text), "%.15g", value);
	if (strtod(text, NULL) != value)
		len = snprintf(text, sizeof(text), "%.17g", value);
	jsonw_raw(w, text, (size_t)len);
	if (!strpbrk(text, ".eEni"))
		jsonw_raw(w, ".0", 2);
}

void jsonw_string(struct jsonw *w, const char *text, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;
	jsonw_reserve(w, len + 2);
	w->data[w->len++] = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		const char *escape;
		char buf[6];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		jsonw_raw(w, text + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': escape = "\\\""; break;
		case '\\': escape = "\\\\"; break;
		case '\n': escape = "\\n"; break;
		case '\r': escape = "\\r"; break;
		case '\t': escape = "\\t"; break;
		case '\b': escape = "\\b"; break;
		case '\f': escape = "\\f"; break;
		default:
			buf[0] = '\\'; buf[1] = 'u'; buf[2] = '0'; buf[3] = '0';
			buf[4] = hex[c >> 4]; buf[5] = hex[c & 15];
			jsonw_raw(w, buf, 6);
			continue;
		}
		jsonw_raw(w, escape, 2);
	}
	jsonw_raw(w, text + run, len - run);
	jsonw_char(w, '"');
}

static void write_value(struct jsonw *w, const json_t *json)
{
	switch (json_typeof(json)) {
	case JSON_OBJECT: {
		const char *key;
		json_t *value;
		bool first = true;
		jsonw_char(w, '{');
		json_object_foreach((json_t *)json, key, value) {
			if (!first)
				jsonw_char(w, ',');
			first = false;
			jsonw_string(w, key, strlen(key));
			jsonw_char(w, ':');
			write_value(w, value);
		}
		jsonw_char(w, '}');
		break;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *value;
		jsonw_char(w, '[');
		json_array_foreach(json, i, value) {
			if (i > 0)
				jsonw_char(w, ',');
			write_value(w, value);
		}
		jsonw_char(w, ']');
		break;
	}
	case JSON_STRING:
		jsonw_string(w, json_string_value(json), json_string_length(json));
		break;
	case JSON_INTEGER:
		jsonw_int(w, json_integer_value(json));
		break;
	case JSON_REAL:
		jsonw_real(w, json_real_value(json));
		break;
	case JSON_TRUE:
		jsonw_raw(w, "true", 4);
		break;
	case JSON_FALSE:
		jsonw_raw(w, "false", 5);
		break;
	default:
		jsonw_raw(w, "null", 4);
		break;
	}
}


void jsonw_key(struct jsonw *w, const char *key)
{
	size_t len = strlen(key);
	jsonw_reserve(w, len + 3);
	w->data[w->len++] = '"';
	memcpy(w->data + w->len, key, len);
	w->len += len;
	w->data[w->len++] = '"';
	w->data[w->len++] = ':';
}

void jsonw_value(struct jsonw *w, const json_t *value)
{
	write_value(w, value);
}

char *jsonw_finish(struct jsonw *w, size_t *len_out)
{
	jsonw_reserve(w, 0);
	w->data[w->len] = '\0';
	char *text = w->data;
	if (len_out)
		*len_out = w->len;
	w->data = NULL;
	w->len = w->cap = 0;
	return text;
}

void jsonw_free(struct jsonw *w)
{
	free(w->data);
	w->data = NULL;
	w->len = w->cap = 0;
}
