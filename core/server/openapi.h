/*
 * openapi.h - the OpenAPI 3.1 document of the REST API (openapi.c). The
 * server (api.c) asks for it and serves it; this side knows the routes'
 * shapes and the metadata, never the server's code.
 */
#ifndef CRM_OPENAPI_H
#define CRM_OPENAPI_H

#include "crm.h"

/*
 * The document as ctx's caller may use the API (owned), for a server mounted
 * at prefix ("/api/v1"): generated from ctx->kernel's metadata and plugins,
 * keeping only the objects, fields and operations the caller's role allows
 * (access.h). It depends on the role alone, never on the user.
 */
json_t *openapi_document(struct crm_ctx *ctx, const char *prefix);

#endif
