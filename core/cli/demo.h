/*
 * demo.h - deterministic, realistic demo data, created through the object
 * API: teams, users, accounts with their contacts, opportunities,
 * activities, support cases and vehicles, and leads.
 */
#ifndef CRM_DEMO_H
#define CRM_DEMO_H

#include <stdio.h>
#include "crm.h"

/*
 * Creates `records` accounts and, per account, 2-4 contacts, 1-3
 * opportunities and 1-3 activities, plus records/2 leads, records/5 support
 * cases (at least 20; every state, opened over the year before the base
 * date, mostly the service agent's, in Chinese for some Chinese customers),
 * records/20 vehicles with valid VINs (at least 5; where the metadata has a
 * vehicle object, i.e. the vin plugin is enabled) and, unless they
 * exist already (matched by login and by name), the demo teams and users
 * (employees admin, sales_manager, sales_rep1..3, service_agent, marketing_user;
 * partner users partner1, partner2; consumers consumer1, consumer2 tied to
 * demo contacts by email), each with its role and the password demo1234.
 *
 * The same seed gives the same data: a private PRNG, and dates relative to
 * the fixed base date 2026-01-01, never to the clock (created_at and
 * updated_at are the clock's, as for any record). Owners are the sales
 * users, round-robin by account; an account's contacts, opportunities and
 * activities belong to its owner; about a third of new leads have no owner
 * (the public pool).
 *
 * Runs as ctx's user (0, the system, may set owner) in transactions of a
 * few thousand records. Progress and a summary go to log (may be NULL).
 * Returns CRM_OK, or the object API's error with ctx->message (records of
 * the transactions committed before the error stay).
 */
int demo_generate(struct crm_ctx *ctx, int records, uint64_t seed, FILE *log);

#endif
