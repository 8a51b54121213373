/*
 * outbox_deliver.c - delivering the outbox (outbox.h): one pass over the due
 * messages, and the server's thread that runs a pass every few seconds.
 *
 * A message moves through the outbox_flow workflow (metadata/outbox.yaml)
 * as the system: claim (queued|failed -> sending) in a transaction of its
 * own, then the delivery with no transaction open (an SMTP server or a
 * webhook that takes seconds never holds the writer), then delivered,
 * attempt_failed (next_attempt_at = now + min(cap, base * 2^(n-1))) or
 * give_up (dead after max_attempts) in another. A crash between the claim
 * and the outcome leaves the message `sending`; the next start puts it back
 * in the queue (requeue), so delivery is at least once: the Message-ID and
 * X-CRM-Delivery stay the same on every attempt for receivers to drop a copy.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "deliver.h"
#include "meta_model.h"
#include "object.h"
#include "outbox.h"
#include "outbox_deliver.h"
#include "workflow.h"

#define OUTBOX_BATCH 50     /* messages read at a time */
#define OUTBOX_PASS 1000    /* at most per sweep of a pass: the worker checks for a stop between passes */

static void iso_time(time_t t, char out[32])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The ids of the live messages matching filter, oldest first (at most OUTBOX_BATCH). */
static json_t *message_ids(struct crm_ctx *ctx, const char *filter)
{
	struct object_query query = { .filter = filter, .sort = "id", .fields = "id", .limit = OUTBOX_BATCH };
	json_t *page = NULL;
	if (object_query(ctx, OUTBOX_OBJECT, &query, &page) != CRM_OK) {
		fprintf(ctx->kernel->log, "crm: outbox: %s\n", ctx->message);
		return json_array();
	}
	json_t *ids = json_array(), *record;
	size_t i;
	json_array_foreach(json_object_get(page, "records"), i, record)
		json_array_append(ids, json_object_get(record, "id"));
	json_decref(page);
	return ids;
}

static int fire(struct crm_ctx *ctx, int64_t id, const char *transition, json_t *values)
{
	json_t *out = NULL;
	int code = workflow_fire(ctx, OUTBOX_OBJECT, id, transition, values, 0, &out);
	json_decref(out);
	json_decref(values);
	if (code != CRM_OK)
		fprintf(ctx->kernel->log, "crm: outbox: message %lld: %s: %s\n", (long long)id, transition, ctx->message);
	crm_error_reset(ctx);
	return code;
}

/* Sends one claimed message; 0 or -1 with why in err. */
static int deliver(const struct outbox_config *config, json_t *message, char *err, size_t errlen)
{
	const char *channel = json_string_value(json_object_get(message, "channel"));
	const char *to = json_string_value(json_object_get(message, "to"));
	const char *body = json_string_value(json_object_get(message, "body"));
	int64_t id = json_integer_value(json_object_get(message, "id"));
	if (!to || !body) {
		snprintf(err, errlen, "the message has no recipient or body");
		return -1;
	}
	if (channel && !strcmp(channel, "webhook")) {
		json_t *endpoint = json_object_get(config->webhooks, to);
		const char *url = json_string_value(json_object_get(endpoint, "url"));
		const char *secret_env = json_string_value(json_object_get(endpoint, "secret_env"));
		const char *secret = secret_env ? getenv(secret_env) : NULL;
		if (!url) {
			snprintf(err, errlen, "no webhook endpoint '%s' with a url in config.outbox.webhooks", to);
			return -1;
		}
		if (!secret || !*secret) {
			snprintf(err, errlen, "webhook '%s': its secret_env names no set environment variable", to);
			return -1;
		}
		return deliver_webhook(url, secret, body, id, config->timeout, err, errlen);
	}
	const char *subject = json_string_value(json_object_get(message, "subject"));
	const char *type = json_string_value(json_object_get(message, "content_type"));
	struct deliver_mail mail = {
		.url = config->smtp_url, .user = config->user, .password = config->password, .starttls = config->starttls,
		.from = config->from, .to = to, .subject = subject ? subject : "", .body = body,
		.content_type = type ? type : "text/plain; charset=UTF-8", .id = id, .timeout = config->timeout,
	};
	return deliver_mail(&mail, err, errlen);
}

static void outcome(struct crm_ctx *ctx, const struct outbox_config *config, int64_t id, int64_t attempts, int ok,
                    const char *err, struct outbox_stats *stats)
{
	char now[32], next[32];
	time_t t = time(NULL);
	iso_time(t, now);
	if (ok == 0) {
		fire(ctx, id, "delivered", json_pack("{s:I, s:s, s:n}", "attempts", (json_int_t)attempts, "sent_at", now,
		                                     "last_error"));
		stats->sent++;
	} else if (attempts >= config->max_attempts) {
		fire(ctx, id, "give_up", json_pack("{s:I, s:s, s:n}", "attempts", (json_int_t)attempts, "last_error", err,
		                                   "next_attempt_at"));
		stats->dead++;
	} else {
		long wait = config->retry_base;
		for (int64_t n = 1; n < attempts && wait < config->retry_cap; n++)
			wait *= 2;
		iso_time(t + (wait < config->retry_cap ? wait : config->retry_cap), next);
		fire(ctx, id, "attempt_failed", json_pack("{s:I, s:s, s:s}", "attempts", (json_int_t)attempts, "last_error",
		                                          err, "next_attempt_at", next));
		stats->failed++;
	}
}

/* Delivers one claimed message and records the outcome. */
static void deliver_one(struct crm_ctx *ctx, const struct outbox_config *config, int64_t id, struct outbox_stats *stats)
{
	json_t *message = NULL;
	/* the claim is the lock: a second worker's claim of the same message fails on its state */
	if (fire(ctx, id, "claim", NULL) != CRM_OK || object_get(ctx, OUTBOX_OBJECT, id, false, &message) != CRM_OK) {
		crm_error_reset(ctx);
		return;
	}
	char err[512] = "";
	int ok = deliver(config, message, err, sizeof(err));
	outcome(ctx, config, id, json_integer_value(json_object_get(message, "attempts")) + 1, ok, err, stats);
	json_decref(message);
}

int outbox_run(struct crm_kernel *kernel, long stale_seconds, struct outbox_stats *stats)
{
	struct outbox_config config;
	struct crm_ctx ctx;
	char filter[240], now[32];
	memset(stats, 0, sizeof(*stats));
	if (!meta_find_object(kernel->meta, OUTBOX_OBJECT))
		return CRM_OK;
	outbox_config_read(kernel, &config);
	crm_ctx_init(&ctx, kernel, 0, "outbox");
	/* two sweeps in id order, a batch at a time: the abandoned `sending` ones back to the queue, then the due */
	for (int sweep = 0; sweep < 2; sweep++) {
		int64_t after = 0;
		int done = 0;
		iso_time(time(NULL) - (sweep == 0 ? stale_seconds : 0), now);
		for (size_t count = OUTBOX_BATCH; count == OUTBOX_BATCH && done < OUTBOX_PASS;) {
			if (sweep == 0)
				snprintf(filter, sizeof(filter), "status = 'sending' and updated_at <= '%s' and id > %lld", now,
				         (long long)after);
			else
				snprintf(filter, sizeof(filter), "status in ('queued', 'failed') and (next_attempt_at is null or "
				         "next_attempt_at <= '%s') and id > %lld", now, (long long)after);
			json_t *ids = message_ids(&ctx, filter), *value;
			size_t i;
			count = json_array_size(ids);
			json_array_foreach(ids, i, value) {
				after = json_integer_value(value);
				if (sweep == 0 && fire(&ctx, after, "requeue", NULL) == CRM_OK)
					stats->recovered++;
				else if (sweep == 1)
					deliver_one(&ctx, &config, after, stats);
				done++;
			}
			json_decref(ids);
		}
	}
	crm_ctx_clear(&ctx);
	return CRM_OK;
}

/* ---- the server's thread ---------------------------------------------------- */

struct outbox_worker {
	struct crm_kernel *kernel;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
};

static void *worker_main(void *context)
{
	struct outbox_worker *w = context;
	struct outbox_config config;
	struct outbox_stats stats;
	outbox_config_read(w->kernel, &config);
	long stale = 0;   /* the first pass: whatever is `sending` was left by a process that is gone */
	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		pthread_mutex_unlock(&w->lock);
		outbox_run(w->kernel, stale, &stats);
		if (stats.recovered)
			fprintf(w->kernel->log, "crm: outbox: %d messages left sending went back to the queue\n", stats.recovered);
		stale = 10 * 60;
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += config.poll;
		pthread_mutex_lock(&w->lock);
		while (!w->stop && pthread_cond_timedwait(&w->wake, &w->lock, &until) == 0)
			;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

struct outbox_worker *outbox_worker_start(struct crm_kernel *kernel)
{
	if (!meta_find_object(kernel->meta, OUTBOX_OBJECT))
		return NULL;
	struct outbox_worker *w = xcalloc(1, sizeof(*w));
	w->kernel = kernel;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		fprintf(kernel->log, "crm: outbox: cannot start the delivery thread\n");
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->wake);
		free(w);
		return NULL;
	}
	return w;
}

void outbox_worker_stop(struct outbox_worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	free(w);
}
