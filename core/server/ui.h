/*
 * ui.h - the web UI's static files (DESIGN.md section 7), embedded into the
 * binary at build time: the Makefile turns core/server/ui/{*.html,*.js,*.css,*.svg}
 * into build/ui_assets.c (core/server/ui/embed.py), so `crm serve` needs no files
 * beside it and nothing from the network at run time.
 *
 * Every GET outside /api/v1 comes here: "/ui/<name>" is that asset (404 if
 * there is none), anything else is index.html (the UI routes with #fragments).
 * Each answer carries a strict Content-Security-Policy: scripts, styles and
 * connections only from this origin, no inline script, no eval, no framing.
 */
#ifndef CRM_UI_H
#define CRM_UI_H

#include <stdbool.h>
#include <stddef.h>

struct ui_asset {
	const char *name;            /* "index.html", "app.js", ... */
	const unsigned char *data;
	size_t len;
};

/* In the generated build/ui_assets.c. */
extern const struct ui_asset ui_assets[];
extern const size_t ui_asset_count;

#define UI_CSP "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
               "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

/* The asset called name, or NULL. */
const struct ui_asset *ui_find(const char *name);
/* The Content-Type for a file name, by its extension (static string). */
const char *ui_content_type(const char *name);
/*
 * The asset a GET or HEAD for target (the request target, query ignored)
 * outside the API answers with: "/ui/<name>" is that asset (NULL if there is
 * none), anything else index.html. The server (api.c) sends it with UI_CSP.
 */
const struct ui_asset *ui_route(const char *target);

#endif
