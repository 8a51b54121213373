/*
 * ui.c - serves the embedded web UI (see ui.h).
 */
#include "ui.h"

#include <stdlib.h>
#include <string.h>

const struct ui_asset *ui_find(const char *name)
{
	for (size_t i = 0; i < ui_asset_count; i++)
		if (strcmp(ui_assets[i].name, name) == 0)
			return &ui_assets[i];
	return NULL;
}

const char *ui_content_type(const char *name)
{
	static const struct { const char *ext, *type; } types[] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },
		{ ".svg", "image/svg+xml" },
		{ ".png", "image/png" },
		{ ".json", "application/json" },
	};
	const char *dot = strrchr(name, '.');
	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

const struct ui_asset *ui_route(const char *target)
{
	char path[256];
	size_t len = strcspn(target, "?#");
	if (len >= sizeof(path))
		len = sizeof(path) - 1;
	memcpy(path, target, len);
	path[len] = '\0';
	if (strncmp(path, "/ui/", 4) == 0)
		return ui_find(path + 4);   /* names are flat: "vendor/x.js" only if embedded so */
	return ui_find("index.html");
}
