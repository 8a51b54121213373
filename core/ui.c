/*
 * ui.c - serves the embedded web UI (see ui.h).
 */
#include "ui.h"

#include <stdlib.h>
#include <string.h>
#include "api.h"

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

void ui_serve(const char *target, struct api_response *res)
{
	char path[256];
	size_t len = strcspn(target, "?#");
	const struct ui_asset *asset;

	if (len >= sizeof(path))
		len = sizeof(path) - 1;
	memcpy(path, target, len);
	path[len] = '\0';
	if (strncmp(path, "/ui/", 4) == 0)
		asset = ui_find(path + 4);   /* names are flat: "vendor/x.js" only if embedded so */
	else
		asset = ui_find("index.html");
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
