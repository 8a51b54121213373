/* gdpr.c - export and erasure of a person's data (see gdpr.h). */
#include <stdio.h>
#include <string.h>
#include "access.h"
#include "attachment.h"
#include "gdpr.h"
#include "context.h"
#include "meta_model.h"
#include "object.h"
#include "store.h"

struct collect {
	json_t *records;
};

static int collect_row(void *arg, json_t *record)
{
	struct collect *c = arg;
	if (json_array_size(c->records) >= 100000)
		return 1; /* bounded: a person is not referenced by more than this */
	json_array_append(c->records, record);
	return 0;
}

int gdpr_export(struct crm_ctx *ctx, const char *object, int64_t id, json_t **out)
{
	json_t *record = NULL, *history = NULL;
	int code = object_get(ctx, object, id, true, &record);
	if (code == CRM_OK)
		code = object_history(ctx, object, id, &history);
	if (code != CRM_OK) {
		json_decref(record);
		return code;
	}
	const struct meta *meta = ctx->kernel->meta;
	const struct meta_object *target = meta_find_object(meta, object);
	json_t *related = json_object();
	for (int oi = 0; oi < meta->object_count; oi++) {
		const struct meta_object *o = &meta->objects[oi];
		if (!access_allows(ctx, o, ACCESS_READ))
			continue;
		for (int fi = 0; fi < o->field_count; fi++) {
			const struct meta_field *f = &o->fields[fi];
			if (f->system || f->target != target || access_field(ctx, o, f) == FIELD_ACCESS_HIDDEN)
				continue;
			char filter[128];
			snprintf(filter, sizeof(filter), "%s = %lld", f->name, (long long)id);
			struct object_query q = { .filter = filter };
			struct collect c = { json_array() };
			code = object_query_each(ctx, o->name, &q, collect_row, &c);
			if (code == 1)
				code = CRM_OK;
			if (code == CRM_OK && json_array_size(c.records)) {
				json_t *list = json_object_get(related, o->name);
				if (!list)
					json_object_set(related, o->name, c.records);
				else
					json_array_extend(list, c.records);
			}
			json_decref(c.records);
			if (code != CRM_OK)
				goto fail;
		}
	}
	*out = json_pack("{s:s, s:o, s:o, s:o}", "object", object, "record", record, "history", history,
	                 "related", related);
	return CRM_OK;
fail:
	json_decref(record);
	json_decref(history);
	json_decref(related);
	return code;
}

int gdpr_erase(struct crm_ctx *ctx, const char *object, int64_t id, int *fields_out)
{
	const struct meta_object *o = meta_find_object(ctx->kernel->meta, object);
	if (!o)
		return crm_error(ctx, CRM_ENOTFOUND, "unknown object '%.64s'", object);
	if (!access_is_admin(ctx))
		return crm_error(ctx, CRM_EDENIED, "only an admin may erase personal data");
	json_t *changes = json_object();
	json_t *paths = json_array();
	for (int i = 0; i < o->field_count; i++) {
		const struct meta_field *f = &o->fields[i];
		if (!f->personal)
			continue;
		bool text = meta_field_kind(f) == KIND_TEXT && f->type != FIELD_ENUM && f->type != FIELD_DATE
			&& f->type != FIELD_DATETIME && f->type != FIELD_EMAIL && f->type != FIELD_PHONE && f->type != FIELD_URL;
		json_object_set_new(changes, f->name, f->required && text ? json_string("[erased]") : json_null());
		char path[80];
		snprintf(path, sizeof(path), "$.%s", f->name);
		json_array_append_new(paths, json_string(path));
	}
	if (json_object_size(changes) == 0) {
		json_decref(changes);
		json_decref(paths);
		return crm_error(ctx, CRM_EINVAL, "object '%s' has no field marked personal: true", o->name);
	}
	int code = object_begin(ctx);
	if (code == CRM_OK) {
		/* the update itself records old values in the trail: they are scrubbed just below */
		ctx->erasing = true;   /* the one change an append-only record takes */
		code = object_update(ctx, object, id, 0, changes, NULL);
		ctx->erasing = false;
	}
	/* the person's files are personal data too: their rows go now, their blobs after the commit */
	json_t *hashes = NULL;
	if (code == CRM_OK)
		code = attachment_erase_parent(ctx, object, id, &hashes);
	if (code == CRM_OK)
		code = store_audit_scrub(ctx->txn, o->name, id, paths, ctx);
	if (code == CRM_OK) {
		json_t *audit = json_pack("{s:O}", "fields", paths);
		code = store_audit(ctx->txn, o->name, id, "erase", ctx->user_id, ctx->request_id, audit, ctx);
		json_decref(audit);
	}
	if (code == CRM_OK)
		code = object_commit(ctx);
	else
		object_rollback(ctx);
	if (code == CRM_OK && hashes) {
		int64_t removed = 0;
		code = attachment_unlink_unreferenced(ctx, hashes, &removed);
	}
	json_decref(hashes);
	if (code == CRM_OK) {
		/* old values may still sit in freed pages and in the WAL: overwrite and truncate */
		store_checkpoint(ctx->kernel->store);
		if (fields_out)
			*fields_out = (int)json_object_size(changes);
	}
	json_decref(changes);
	json_decref(paths);
	return code;
}
