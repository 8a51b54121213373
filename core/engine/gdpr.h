/*
 * gdpr.h - personal data: export everything held about a person, and erase
 * it (anonymise the fields marked `personal: true`, keep the business
 * records, scrub the old values from the audit trail, audit the erasure).
 */
#ifndef CRM_GDPR_H
#define CRM_GDPR_H

#include "crm.h"

/*
 * *out = { "object", "record", "history", "related": { object: [records that
 * refer to it] } } for object/id, read through the object API as the caller.
 */
int gdpr_export(struct crm_ctx *ctx, const char *object, int64_t id, json_t **out);
/*
 * Clears the personal fields of object/id (required text fields become
 * "[erased]"), removes their values from every audit row of the record, and
 * records an "erase" audit row, all in one transaction. *fields_out (may be
 * NULL) = how many fields were cleared. Needs the system context or an admin.
 */
int gdpr_erase(struct crm_ctx *ctx, const char *object, int64_t id, int *fields_out);

#endif
