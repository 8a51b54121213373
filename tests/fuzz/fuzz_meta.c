/*
 * fuzz_meta.c - libFuzzer target for the metadata loader: any bytes, read as
 * app.yaml (so app settings and object documents are both reached), must load
 * or be refused with diagnostics, never crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xstrndup((const char *)data, size);
	const char *names[] = {"app.yaml"};
	const char *texts[] = {text};
	struct meta *meta = NULL;
	struct meta_diags diags;
	if (meta_load_texts(1, names, texts, &meta, &diags) == CRM_OK)
		meta_free(meta);
	meta_diags_free(&diags);
	free(text);
	return 0;
}
