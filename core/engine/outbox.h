/*
 * outbox.h - outbound messages (e-mail over SMTP, webhook posts): the
 * transactional outbox. outbox_send renders a `template:` document and
 * writes an outbox_message record in the caller's transaction (a change that
 * rolls back leaves no message). outbox_run (outbox_deliver.c) delivers
 * committed messages later, outside any request's transaction, with retries,
 * exponential backoff and a dead-letter state; the server runs it on a
 * thread of its own (outbox_worker_start), `crm outbox run` once. Those are
 * declared in outbox_deliver.h: delivery sits above the workflow engine,
 * which queues through this header.
 *
 * Settings: app.yaml `config: { outbox: {...} }` (docs/metadata.md#app).
 */
#ifndef CRM_OUTBOX_H
#define CRM_OUTBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "context.h"

#define OUTBOX_OBJECT "outbox_message"

/* The settings of config.outbox, with their defaults filled in. */
struct outbox_config {
	const char *smtp_url;        /* smtp://host:port, smtps://host:port; NULL: e-mail cannot be sent */
	const char *from;            /* "CRM <crm@example.com>" */
	const char *user, *password; /* from the environment variables smtp_user_env, smtp_password_env */
	bool starttls;               /* smtp:// with STARTTLS required */
	long timeout;                /* seconds per delivery attempt (10) */
	long retry_base, retry_cap;  /* seconds: the n-th retry waits min(cap, base * 2^(n-1)) (30, 3600) */
	long max_attempts;           /* attempts before a message is dead (8) */
	long max_body;               /* bytes of a rendered body (262144) */
	long poll;                   /* seconds between the worker's passes (2) */
	json_t *webhooks;            /* borrowed: { name: { url, secret_env } } */
};

void outbox_config_read(const struct crm_kernel *kernel, struct outbox_config *out);

/*
 * Queues one message in ctx's transaction (or one of its own): channel
 * email (to: one address) or webhook (to: the name of an endpoint of
 * config.outbox.webhooks), the template's subject and body rendered in the
 * language vars.lang (else the app's first) from vars (a JSON object, may be
 * NULL) and, when object/id are given, the record's fields as the caller
 * reads them (record, when not NULL, is used instead of reading it). The
 * message is written as the system, audited on behalf of the caller.
 * CRM_EINVAL with a message naming the problem for a bad channel, address,
 * endpoint, template, var, header injection or an oversized body.
 */
int outbox_send(struct crm_ctx *ctx, const char *channel, const char *to, const char *template_name, json_t *vars,
                const char *object, int64_t id, json_t *record, int64_t *out_id);

#endif
