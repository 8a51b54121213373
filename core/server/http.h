/*
 * http.h - the HTTP server (libmicrohttpd). The only file that includes
 * microhttpd.h is http.c; routes live in api.c.
 */
#ifndef CRM_HTTP_H
#define CRM_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct crm_kernel;

struct http_options {
	const char *bind;            /* default 127.0.0.1 */
	int port;                    /* default 8080; 0 = any free port (printed) */
	int threads;                 /* worker threads; default 2 */
	size_t max_body;             /* request body cap; default 10 MiB */
	int max_connections;         /* default 1024 */
	int per_ip_connections;      /* default 64 */
	int connection_timeout;      /* seconds of inactivity; default 30 */
	int request_deadline;        /* absolute seconds per request; default 60 */
	bool require_if_match;       /* PATCH without If-Match -> 428; default true (DELETE only moves
	                                to the recycle bin, so it takes If-Match but does not need it) */
	bool secure_cookies;         /* the session cookie gets Secure: behind a TLS-terminating proxy */
	bool quiet;                  /* no access log */
};

/*
 * Serves until SIGTERM or SIGINT, then stops accepting, finishes in-flight
 * requests, checkpoints the WAL and returns CRM_OK. Prints the URL it
 * listens on to stdout when ready.
 */
int http_serve(struct crm_kernel *kernel, const struct http_options *options);

#endif
