/*
 * outbox_deliver.h - delivering the outbox (outbox_deliver.c): one pass,
 * and the server's delivery thread. Apart from outbox.h because delivery
 * moves messages through their workflow (workflow.h), and the workflow
 * engine queues e-mails through outbox.h.
 */
#ifndef CRM_OUTBOX_DELIVER_H
#define CRM_OUTBOX_DELIVER_H

#include "context.h"

/* What one delivery pass did. */
struct outbox_stats {
	int sent, failed, dead, recovered;
};

/*
 * One delivery pass (outbox_deliver.c): messages left `sending` untouched
 * for stale_seconds or more go back to the queue (0: all of them, as when a
 * server starts after a crash), then every due message is claimed,
 * delivered with no transaction open, and marked sent, failed (retried after
 * the backoff) or dead (after max_attempts).
 */
int outbox_run(struct crm_kernel *kernel, long stale_seconds, struct outbox_stats *stats);

/* The server's delivery thread: its own context, a pass every config.outbox.poll seconds. */
struct outbox_worker;
struct outbox_worker *outbox_worker_start(struct crm_kernel *kernel);
void outbox_worker_stop(struct outbox_worker *worker);

#endif
