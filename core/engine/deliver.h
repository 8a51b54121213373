/*
 * deliver.h - the wire of the outbox (libcurl): one e-mail over SMTP, one
 * webhook POST. No database, no model: outbox_deliver.c hands in the
 * message and its settings and records the outcome.
 */
#ifndef CRM_DELIVER_H
#define CRM_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct deliver_mail {
	const char *url;             /* smtp://host:port or smtps://host:port */
	const char *user, *password; /* may be NULL */
	int starttls;                /* require STARTTLS on smtp:// */
	const char *from;            /* "Name <addr>" or "addr" */
	const char *to;              /* one address */
	const char *subject;         /* UTF-8, no line breaks */
	const char *body;            /* UTF-8 */
	const char *content_type;    /* "text/plain; charset=UTF-8", "text/html; charset=UTF-8" */
	int64_t id;                  /* the outbox message: its Message-ID */
	long timeout;                /* seconds */
};

/* 0 when the server accepted the message; else -1 and why in err. */
int deliver_mail(const struct deliver_mail *mail, char *err, size_t errlen);

/*
 * POSTs body (JSON) to url with X-CRM-Signature: sha256=<hex HMAC-SHA256 of
 * the body under secret> and X-CRM-Delivery: <id>; redirects are not
 * followed. 0 on a 2xx answer; else -1 and why in err.
 */
int deliver_webhook(const char *url, const char *secret, const char *body, int64_t id, long timeout, char *err,
                    size_t errlen);

/* The signature's hex text (65 bytes with the NUL): also what a receiver computes. */
void deliver_signature(const char *secret, const char *body, char out[65]);

/*
 * The receiving side of the same signature (a signed public route, api.c):
 * whether hex is the HMAC-SHA256 under secret of prefix (NUL-terminated, may
 * be "") followed by the length bytes of data, as 64 hex digits (either case).
 * The MACs are compared in constant time; malformed hex is simply false.
 */
bool deliver_signature_check(const char *secret, const char *prefix, const void *data, size_t length,
                             const char *hex);

#endif
