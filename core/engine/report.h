/*
 * report.h - `report:` documents (lang/meta_model.h struct meta_report) run
 * for a caller: GET /api/v1/reports lists those the caller may run,
 * GET /api/v1/reports/<name> runs one. A report runs through the object API
 * (object_aggregate_parts) as the caller: the row rules of every object it
 * touches and the field rules of every field it reads apply.
 */
#ifndef CRM_REPORT_H
#define CRM_REPORT_H

#include <jansson.h>
#include "crm.h"

struct meta_report;

/*
 * Whether the caller may run report: the root and every joined object are
 * readable by the caller, and every field the report reads (groups,
 * parameters, joins' refs, measured fields, filters) is one they may read.
 */
bool report_allowed(struct crm_ctx *ctx, const struct meta_report *report);

/*
 * *out (owned) = { "reports": [ { name, label, description, module, view,
 * object, parameters: [names], dated, columns } ] }: the reports the caller
 * may run, in load order.
 */
int report_list(struct crm_ctx *ctx, json_t **out);

/*
 * Runs the report name with the run-time parameters params (an object of
 * texts, borrowed: the report's own parameters, `from` and `to` on its first
 * date group (YYYY-MM-DD, both days included), `filter` (an expression over
 * the root), `limit`; names starting with '_' are ignored). *out (owned) =
 * { "report", "label", "view", "module", "columns": [ { name, kind: group |
 * measure, label, type } ], "rows": [ {column: value} ] }.
 * CRM_ENOTFOUND: no such report; CRM_EDENIED: the caller may not run it
 * (report_allowed); CRM_EINVAL: a bad parameter.
 */
int report_run(struct crm_ctx *ctx, const char *name, json_t *params, json_t **out);

#endif
