/*
 * kpi.h - the figures of `kpi:` documents (lang/meta_model.h struct meta_kpi)
 * for one person, their team or everyone, for the period of each kpi that
 * holds a day: GET /api/v1/kpis. Computed through the object API as the
 * caller, so the records a person may not read never count.
 */
#ifndef CRM_KPI_H
#define CRM_KPI_H

#include <jansson.h>
#include "crm.h"

/* Which people a kpi counts: the caller, the caller's team (the `team` access scope), or everyone. */
enum kpi_scope { KPI_SCOPE_ME, KPI_SCOPE_TEAM, KPI_SCOPE_ALL };

/*
 * day: "YYYY-MM-DD" (NULL: today, UTC). name: one kpi or NULL for every kpi
 * whose object the caller reads. *out (owned) = { "day", "scope", "kpis": [
 * { name, label, category, direction, source (records | audit | formula),
 * object, measure, formula, unit, period, start, end, actual, target,
 * attainment, previous, previous_start } ] }; a figure the caller cannot
 * compute (no records, no target, a zero divisor) is null; a kpi of an
 * object the caller cannot read, or of the audit trail of people they may
 * not see, is left out.
 */
int kpi_evaluate(struct crm_ctx *ctx, const char *day, enum kpi_scope scope, const char *name, json_t **out);

/*
 * The caller's role's dashboard: the kpis whose `dashboards:` name the role,
 * each for the people the role sees there (me, team or all: a scope per kpi,
 * in each kpi's "scope"). *out = { "day", "role", "kpis": [ ... ] }.
 */
int kpi_dashboard(struct crm_ctx *ctx, const char *day, json_t **out);

#endif
