/*
 * workflow.h - the workflow engine: state machines on an enum field
 * (metadata `workflow:` documents, meta.h), fired by name through the object
 * API; approvals that stand between a transition and its firing; timers run
 * by the server's tick.
 *
 * Rules (DESIGN.md section 4):
 *  - only transitions move a state field: a plain update that changes it is
 *    refused with a field error "workflow" naming the transitions available
 *    (object.c), except for the system (user 0: imports, demo data) and
 *    `direct: true` transitions; a new record starts in `initial`;
 *  - firing checks, in order: the record is readable (else CRM_ENOTFOUND)
 *    and updatable by the caller (CRM_EDENIED), the version (CRM_ECONFLICT),
 *    no approval pending and the state in `from` (CRM_ESTATE), the caller's
 *    role in `roles` (CRM_EDENIED; admins pass), the required fields after
 *    the given values and the guard (CRM_EVALIDATION with field errors
 *    "required" / "guard"); then before_transition hooks, the actions in
 *    order, one write of the values, the `set` values, `link`s and the new
 *    state (audited as "transition"), after_transition hooks. All in one
 *    transaction: any failure leaves everything as it was;
 *  - approvals: a transition with `approval:` whose `when` holds (or has
 *    none) creates one `approval` record per approver of the first step
 *    (status pending, one `request` key for the whole request) and leaves
 *    the record in its state; while a request is pending, no transition of
 *    the record fires (CRM_ESTATE). Approvers are resolved to users when a
 *    step opens; the requester is left out unless self_approval. A step in
 *    mode any completes with one approval (the others are cancelled), in
 *    mode all with every one. The last step's completion fires the
 *    transition as the system with the values given at the request; a
 *    rejection cancels the request and notifies the requester;
 *  - timers: every `every`, each live record matching `when` (compiled to
 *    SQL) and untouched for `untouched_for` gets the timer's actions, one
 *    transaction per record. A `{ transition: name }` action fires that
 *    transition of the workflow as the system, as workflow_fire does (the
 *    checks from the state on, hooks, actions, audit), with the values the
 *    timer's earlier `set` actions gathered; a record the transition may
 *    not leave now (state, pending approval, require, guard) is skipped:
 *    rolled back, counted and its reason kept, which is no failure. Runs
 *    are recorded in the database settings (_crm_settings
 *    "workflow_timer.<workflow>.<timer>": runs, failures, last
 *    start/end/touched/skipped/skip/error, next run) and the kernel log. A
 *    failed run is retried after 30 s, doubling up to `every`.
 */
#ifndef CRM_WORKFLOW_H
#define CRM_WORKFLOW_H

#include <time.h>
#include "crm.h"

struct crm_kernel;
struct meta;
struct meta_object;

/*
 * Fires transition name on object/id as ctx's user. values (may be NULL,
 * borrowed): extra field values written with the transition (for
 * `require`); they may not hold the state field. expected_version > 0 must
 * match. *out (owned) = { "transition", "status": "done" | "pending_approval",
 * "record": the record as the caller sees it now, "request": key (pending) }.
 */
int workflow_fire(struct crm_ctx *ctx, const char *object, int64_t id, const char *name, json_t *values,
                  int64_t expected_version, json_t **out);

/*
 * The names of the transitions the caller could fire on record (a record of
 * object as object_get returned it) now: leaving its state, allowed to the
 * caller's role, guard true, no approval pending. *names owned (array).
 */
int workflow_available(struct crm_ctx *ctx, const char *object, json_t *record, json_t **names);
/* Whether object has a workflow with a state field (else no record has transitions). */
bool workflow_has_states(const struct meta *meta, const struct meta_object *object);

/*
 * An approver decides one approval record (object `approval`). Only its
 * approver may (CRM_EDENIED; CRM_ENOTFOUND if they cannot read it), only
 * while pending (CRM_ESTATE). comment may be NULL. *out (owned) = the
 * approval record after, with "transitioned": true when this approval
 * completed the request and the transition fired.
 */
int workflow_approve(struct crm_ctx *ctx, int64_t approval_id, const char *comment, json_t **out);
int workflow_reject(struct crm_ctx *ctx, int64_t approval_id, const char *comment, json_t **out);

/*
 * Runs one timer once at now, due or not, leaving its schedule alone (crm.test.timer in
 * plugin tests); *touched = records acted on. CRM_ENOTFOUND for an unknown workflow or timer.
 */
int workflow_timer_run(struct crm_ctx *ctx, const char *workflow, const char *timer, time_t now, int64_t *touched);
/* Runs every workflow timer due at now (the server calls it from kernel_tick; tests pass now). */
void workflow_timers_tick(struct crm_kernel *kernel, time_t now);
/*
 * [{workflow, timer, every, runs, failures, consecutive_failures, last_start, last_end, last_touched,
 * last_skipped, last_skip (the first skipped record and why), last_error, next_run}]. Owned.
 */
json_t *workflow_timer_stats(struct crm_kernel *kernel);

#endif
