/*
 * attachment.h - files attached to records (metadata/attachment.yaml).
 *
 * The row is the file's metadata (parent object and id, file name, size,
 * sniffed content type, sha256); the bytes live outside the database under
 * kernel->files_dir, at <dir>/<first two hex digits>/<sha256>: the path is
 * only ever the hash, so a file name cannot reach the file system, and the
 * same content is stored once.
 *
 * Every call checks the PARENT record's rules as the caller: read to list and
 * download (a parent the caller cannot read answers CRM_ENOTFOUND, so that an
 * attachment's existence does not leak), update to attach and delete. The
 * rows themselves are written as the system (no role lists the object).
 *
 * Writing a file, and what a crash leaves:
 *   1. the content is copied (hashed on the way) into <dir>/tmp/blob-XXXXXX
 *      and fsynced;
 *   2. that file is linked to its content address (link(2) never replaces:
 *      an existing blob is the same content, dedup) and the directory fsynced;
 *   3. the row is inserted and committed.
 * A crash in 1 leaves a temporary file, in 2-3 a blob that no row names;
 * attachment_sweep removes both once older than its grace period. A row is
 * never committed before its complete blob is in place, so no row names a
 * missing or half-written file.
 */
#ifndef CRM_ATTACHMENT_H
#define CRM_ATTACHMENT_H

#include <stdint.h>
#include <sys/types.h>
#include "crm.h"

#define ATTACHMENT_OBJECT "attachment"
#define ATTACHMENT_DEFAULT_MAX (10 * 1024 * 1024)   /* bytes in one file, unless configured */
#define ATTACHMENT_MAX_NAME 200                     /* bytes kept of a file name */

struct crm_kernel;

/* True when the metadata has the attachment object and object may carry attachments. */
bool attachment_enabled(const struct crm_kernel *kernel, const char *object);
/*
 * Makes <files_dir>/tmp (and files_dir) if missing; CRM_OK or CRM_EIO with
 * the reason in err. The server calls it once at start.
 */
int attachment_prepare(const struct crm_kernel *kernel, char *err, size_t errlen);
/* A file name made safe to show and to send in a header: the last path component, no control characters. */
void attachment_safe_name(const char *name, char *out, size_t size);
/* The content type of a file from its first bytes (magic numbers), else application/octet-stream. Static. */
const char *attachment_sniff(const unsigned char *head, size_t len);
/* type if the sniffer can give it (a static copy), else application/octet-stream: what a download may say. */
const char *attachment_sniff_known(const char *type);

/*
 * Attaches bytes [offset, offset + length) of the file at source_path (a
 * spooled request body; left in place) to object/id under file_name. The
 * caller must be able to update the parent. length over the configured cap:
 * CRM_ELIMIT. *out (may be NULL) = the attachment row.
 */
int attachment_add(struct crm_ctx *ctx, const char *object, int64_t id, const char *file_name,
                   const char *source_path, off_t offset, off_t length, json_t **out);
/* *out = the live attachments of object/id, newest first, for a caller who can read the parent. */
int attachment_list(struct crm_ctx *ctx, const char *object, int64_t id, json_t **out);
/*
 * Opens attachment id's content for a caller who can read its parent.
 * *record = the row (owned), *fd = the open blob (owned). CRM_ENOTFOUND for
 * an unknown id and for a parent the caller cannot read alike.
 */
int attachment_open(struct crm_ctx *ctx, int64_t id, json_t **record, int *fd);
/* Moves attachment id to the recycle bin, for a caller who can update its parent. */
int attachment_delete(struct crm_ctx *ctx, int64_t id);
/*
 * For gdpr_erase, inside its transaction: purges every attachment row of
 * object/id (live or deleted). *hashes (owned) = their sha256 values, for
 * attachment_unlink_unreferenced after the commit.
 */
int attachment_erase_parent(struct crm_ctx *ctx, const char *object, int64_t id, json_t **hashes);
/* Removes the blobs among hashes that no row (live or deleted) names any more. */
int attachment_unlink_unreferenced(struct crm_ctx *ctx, json_t *hashes, int64_t *removed);
/*
 * Removes every blob no attachment row names, and temporary files, older than
 * grace_seconds (a younger one may belong to an upload in flight). *removed
 * = files removed.
 */
int attachment_sweep(struct crm_ctx *ctx, int grace_seconds, int64_t *removed);
/* Registers the after_delete hook that moves a record's attachments to the recycle bin with it. */
int attachment_register_hooks(struct crm_kernel *kernel);

#endif
