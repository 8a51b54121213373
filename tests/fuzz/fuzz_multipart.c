/*
 * fuzz_multipart.c - libFuzzer target for attachment uploads' multipart
 * bodies (api_parse_multipart). The input's first line is the Content-Type
 * header, the rest the body: any bytes must give a file or be refused with a
 * message. A file found must lie inside the body, after its part's blank
 * line and before a delimiter; a failure aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *eol = memchr(data, '\n', size);
	if (!eol)
		return 0;
	char *content_type = xstrndup((const char *)data, (size_t)(eol - data));
	const char *body = (const char *)eol + 1;
	size_t len = size - (size_t)(eol - data) - 1;
	size_t start = 0, length = 0;
	char name[1024], err[300];
	if (api_parse_multipart(body, len, content_type, &start, &length, name, sizeof(name), err,
	                        sizeof(err)) == CRM_OK) {
		if (start < 4 || start > len || length > len - start || memcmp(body + start - 4, "\r\n\r\n", 4) != 0
		    || len - start - length < 4 || memcmp(body + start + length, "\r\n--", 4) != 0) {
			fprintf(stderr, "file at %zu+%zu of a %zu-byte body is not framed\n", start, length, len);
			abort();
		}
	} else if (!err[0]) {
		fprintf(stderr, "refused without a message\n");
		abort();
	}
	free(content_type);
	return 0;
}
