/*
 * attachment.c - files attached to records: content-addressed blobs under
 * the files directory, rows through the object API (attachment.h says how a
 * file is written and what a crash leaves).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "access.h"
#include "attachment.h"
#include "context.h"
#include "events.h"
#include "meta_model.h"
#include "object.h"

#define COPY_BLOCK (64 * 1024)

bool attachment_enabled(const struct crm_kernel *kernel, const char *object)
{
	return kernel->files_dir && meta_find_object(kernel->meta, ATTACHMENT_OBJECT)
		&& meta_find_object(kernel->meta, object) && strcmp(object, ATTACHMENT_OBJECT) != 0;
}

static int make_dir(const char *path, char *err, size_t errlen)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return CRM_OK;
	snprintf(err, errlen, "cannot create '%s': %s", path, strerror(errno));
	return CRM_EIO;
}

int attachment_prepare(const struct crm_kernel *kernel, char *err, size_t errlen)
{
	char path[4096];
	if (!kernel->files_dir)
		return CRM_OK;
	snprintf(path, sizeof(path), "%s/tmp", kernel->files_dir);
	int code = make_dir(kernel->files_dir, err, errlen);
	return code == CRM_OK ? make_dir(path, err, errlen) : code;
}

void attachment_safe_name(const char *name, char *out, size_t size)
{
	const char *base = name;
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	while (*base == '.' || *base == ' ')
		base++;
	size_t len = 0, limit = size - 1 < ATTACHMENT_MAX_NAME ? size - 1 : ATTACHMENT_MAX_NAME;
	for (const unsigned char *p = (const unsigned char *)base; *p && len < limit; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '"')
			continue;
		out[len++] = (char)*p;
	}
	/* never cut a UTF-8 sequence in two */
	while (len > 0 && ((unsigned char)out[len - 1] & 0xc0) == 0x80 && len == limit) {
		size_t start = len - 1;
		while (start > 0 && ((unsigned char)out[start] & 0xc0) == 0x80)
			start--;
		len = start;
	}
	if (len > 0 && ((unsigned char)out[len - 1] & 0xc0) == 0xc0)
		len--;
	out[len] = '\0';
	if (len == 0)
		snprintf(out, size, "file");
}

static const struct {
	size_t offset, len;
	const char *magic;
	const char *type;
} magics[] = {
		{ 0, 8, "\x89PNG\r\n\x1a\n", "image/png" },
		{ 0, 3, "\xff\xd8\xff", "image/jpeg" },
		{ 0, 6, "GIF87a", "image/gif" },
		{ 0, 6, "GIF89a", "image/gif" },
		{ 8, 4, "WEBP", "image/webp" },
		{ 0, 5, "%PDF-", "application/pdf" },
		{ 0, 4, "PK\x03\x04", "application/zip" },
		{ 0, 2, "\x1f\x8b", "application/gzip" },
		{ 0, 8, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage" },
};

const char *attachment_sniff_known(const char *type)
{
	for (size_t i = 0; type && i < sizeof(magics) / sizeof(magics[0]); i++)
		if (strcmp(type, magics[i].type) == 0)
			return magics[i].type;
	return "application/octet-stream";
}

const char *attachment_sniff(const unsigned char *head, size_t len)
{
	for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
		if (len >= magics[i].offset + magics[i].len
		    && memcmp(head + magics[i].offset, magics[i].magic, magics[i].len) == 0
		    && (magics[i].offset == 0 || memcmp(head, "RIFF", 4) == 0))
			return magics[i].type;
	return "application/octet-stream";
}

static bool valid_hash(const char *hash)
{
	return hash && strlen(hash) == 64 && strspn(hash, "0123456789abcdef") == 64;
}

static void blob_path(const struct crm_kernel *kernel, const char *hash, char *out, size_t size, bool dir_only)
{
	if (dir_only)
		snprintf(out, size, "%s/%.2s", kernel->files_dir, hash);
	else
		snprintf(out, size, "%s/%.2s/%s", kernel->files_dir, hash, hash);
}

static void fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* ---- the parent's rules ----------------------------------------------------- */

/* CRM_OK when the caller may op (ACCESS_READ or ACCESS_UPDATE) the parent record; never says more than read allows. */
static int check_parent(struct crm_ctx *ctx, const char *object, int64_t id, enum access_op op)
{
	if (!attachment_enabled(ctx->kernel, object))
		return crm_error(ctx, CRM_ENOTFOUND, "no attachments on object '%.64s'", object);
	json_t *parent = NULL;
	int code = object_get(ctx, object, id, false, &parent);
	if (code == CRM_EDENIED || code == CRM_ENOTFOUND)
		return crm_error(ctx, CRM_ENOTFOUND, "no record %lld of '%s'", (long long)id, object);
	if (code != CRM_OK)
		return code;
	bool allowed = true;
	if (op != ACCESS_READ) {
		const struct meta_object *o = meta_find_object(ctx->kernel->meta, object);
		code = access_check(ctx, o, op, parent, &allowed);
	}
	json_decref(parent);
	if (code == CRM_OK && !allowed)
		return crm_error(ctx, CRM_EDENIED, "you may not change the attachments of %s %lld", object,
		                 (long long)id);
	return code;
}

/* The live (or, with deleted, the deleted) attachments matching filter, as the system. */
static int system_query(struct crm_ctx *ctx, const char *filter, bool deleted,
                        int (*row_fn)(void *arg, json_t *record), void *arg)
{
	struct access_saved_caller saved;
	struct object_query query = { .filter = filter, .sort = "-id", .deleted = deleted };
	access_become_system(ctx, &saved);
	int code = object_query_each(ctx, ATTACHMENT_OBJECT, &query, row_fn, arg);
	access_become_caller(ctx, &saved);
	return code;
}

static int collect(void *arg, json_t *record)
{
	json_array_append(arg, record);
	return 0;
}

static void parent_filter(char *out, size_t size, const char *object, int64_t id)
{
	/* object is a metadata name (checked by attachment_enabled): letters, digits, '_' */
	snprintf(out, size, "parent_object = '%s' and parent_id = %lld", object, (long long)id);
}

/* ---- writing ---------------------------------------------------------------- */

/* Copies [offset, offset+length) of source into a fresh temporary file, hashing it; *tmp_path gets its name. */
static int copy_to_temp(struct crm_ctx *ctx, const char *source_path, off_t offset, off_t length,
                        char *tmp_path, size_t tmp_size, char hash[65], const char **type)
{
	int in = open(source_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0)
		return crm_error(ctx, CRM_EIO, "cannot open the uploaded body: %s", strerror(errno));
	snprintf(tmp_path, tmp_size, "%s/tmp/blob-XXXXXX", ctx->kernel->files_dir);
	int out = mkostemp(tmp_path, O_CLOEXEC);
	if (out < 0) {
		close(in);
		return crm_error(ctx, errno == ENOSPC ? CRM_EFULL : CRM_EIO, "cannot create a temporary file: %s",
		                 strerror(errno));
	}
	crypto_hash_sha256_state state;
	crypto_hash_sha256_init(&state);
	char *block = xmalloc(COPY_BLOCK);
	int code = CRM_OK;
	off_t done = 0;
	*type = NULL;
	if (lseek(in, offset, SEEK_SET) != offset)
		code = crm_error(ctx, CRM_EIO, "cannot seek in the uploaded body");
	while (code == CRM_OK && done < length) {
		size_t want = length - done < COPY_BLOCK ? (size_t)(length - done) : COPY_BLOCK;
		ssize_t got = read(in, block, want);
		if (got <= 0) {
			code = crm_error(ctx, CRM_EIO, "the uploaded body is shorter than announced");
			break;
		}
		if (!*type)
			*type = attachment_sniff((const unsigned char *)block, (size_t)got);
		crypto_hash_sha256_update(&state, (const unsigned char *)block, (unsigned long long)got);
		for (ssize_t written = 0; written < got;) {
			ssize_t n = write(out, block + written, (size_t)(got - written));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				code = crm_error(ctx, errno == ENOSPC ? CRM_EFULL : CRM_EIO, "cannot write the file: %s",
				                 strerror(errno));
				break;
			}
			written += n;
		}
		done += got;
	}
	if (code == CRM_OK && fsync(out) != 0)
		code = crm_error(ctx, errno == ENOSPC ? CRM_EFULL : CRM_EIO, "cannot sync the file: %s", strerror(errno));
	free(block);
	close(in);
	close(out);
	if (code != CRM_OK) {
		unlink(tmp_path);
		return code;
	}
	unsigned char digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_final(&state, digest);
	sodium_bin2hex(hash, 65, digest, sizeof(digest));
	if (!*type)
		*type = "application/octet-stream";
	return CRM_OK;
}

/* Puts the temporary file at its content address (or finds the same content there already). */
static int place_blob(struct crm_ctx *ctx, const char *tmp_path, const char *hash)
{
	char dir[4096], path[4200];
	char err[300];
	blob_path(ctx->kernel, hash, dir, sizeof(dir), true);
	blob_path(ctx->kernel, hash, path, sizeof(path), false);
	if (make_dir(dir, err, sizeof(err)) != CRM_OK)
		return crm_error(ctx, CRM_EIO, "%s", err);
	if (link(tmp_path, path) != 0) {
		if (errno != EEXIST)
			return crm_error(ctx, errno == ENOSPC ? CRM_EFULL : CRM_EIO, "cannot store the file: %s",
			                 strerror(errno));
		/* the same content is there: freshen it so that a sweep's grace period covers this upload */
		utimensat(AT_FDCWD, path, NULL, 0);
	}
	fsync_dir(dir);
	return CRM_OK;
}

int attachment_add(struct crm_ctx *ctx, const char *object, int64_t id, const char *file_name,
                   const char *source_path, off_t offset, off_t length, json_t **out)
{
	int code = check_parent(ctx, object, id, ACCESS_UPDATE);
	if (code != CRM_OK)
		return code;
	if (length <= 0)
		return crm_error(ctx, CRM_EINVAL, "the file is empty");
	if ((uint64_t)length > ctx->kernel->file_max)
		return crm_error(ctx, CRM_ELIMIT, "the file (%lld bytes) is larger than the %zu-byte cap",
		                 (long long)length, ctx->kernel->file_max);
	char tmp_path[4200], hash[65], name[ATTACHMENT_MAX_NAME + 1];
	const char *type = NULL;
	code = copy_to_temp(ctx, source_path, offset, length, tmp_path, sizeof(tmp_path), hash, &type);
	if (code != CRM_OK)
		return code;
	code = place_blob(ctx, tmp_path, hash);
	attachment_safe_name(file_name ? file_name : "", name, sizeof(name));
	json_t *record = NULL;
	if (code == CRM_OK) {
		json_t *values = json_pack("{s:s, s:I, s:s, s:I, s:s, s:s}", "parent_object", object, "parent_id",
		                           (json_int_t)id, "file_name", name, "size", (json_int_t)length,
		                           "content_type", type, "sha256", hash);
		if (ctx->user_id > 0 && meta_find_field(meta_find_object(ctx->kernel->meta, ATTACHMENT_OBJECT), "uploaded_by"))
			json_object_set_new(values, "uploaded_by", json_integer(ctx->user_id));
		struct access_saved_caller saved;
		access_become_system(ctx, &saved);
		code = object_create(ctx, ATTACHMENT_OBJECT, values, &record);
		access_become_caller(ctx, &saved);
		json_decref(values);
	}
	if (code == CRM_OK) {
		/* an erasure that ran between the link and the commit may have taken the shared blob */
		char path[4200];
		struct stat st;
		blob_path(ctx->kernel, hash, path, sizeof(path), false);
		if (stat(path, &st) != 0 && link(tmp_path, path) != 0)
			code = crm_error(ctx, CRM_EIO, "cannot store the file: %s", strerror(errno));
	}
	unlink(tmp_path);
	if (code != CRM_OK) {
		json_decref(record);
		return code;
	}
	if (out)
		*out = record;
	else
		json_decref(record);
	return CRM_OK;
}

/* ---- reading ---------------------------------------------------------------- */

int attachment_list(struct crm_ctx *ctx, const char *object, int64_t id, json_t **out)
{
	int code = check_parent(ctx, object, id, ACCESS_READ);
	if (code != CRM_OK)
		return code;
	char filter[160];
	parent_filter(filter, sizeof(filter), object, id);
	json_t *records = json_array();
	code = system_query(ctx, filter, false, collect, records);
	if (code != CRM_OK) {
		json_decref(records);
		return code;
	}
	*out = records;
	return CRM_OK;
}

/* The live attachment row id, read as the system. */
static int get_row(struct crm_ctx *ctx, int64_t id, json_t **out)
{
	if (!meta_find_object(ctx->kernel->meta, ATTACHMENT_OBJECT) || !ctx->kernel->files_dir)
		return crm_error(ctx, CRM_ENOTFOUND, "no attachment %lld", (long long)id);
	struct access_saved_caller saved;
	access_become_system(ctx, &saved);
	int code = object_get(ctx, ATTACHMENT_OBJECT, id, false, out);
	access_become_caller(ctx, &saved);
	return code;
}

/* The row of attachment id if the caller may op its parent; else "not found" or "denied" as check_parent says. */
static int row_for(struct crm_ctx *ctx, int64_t id, enum access_op op, json_t **out)
{
	json_t *row = NULL;
	int code = get_row(ctx, id, &row);
	if (code == CRM_OK) {
		const char *object = json_string_value(json_object_get(row, "parent_object"));
		int64_t parent = json_integer_value(json_object_get(row, "parent_id"));
		code = check_parent(ctx, object ? object : "", parent, op);
	}
	if (code == CRM_ENOTFOUND)
		crm_error(ctx, CRM_ENOTFOUND, "no attachment %lld", (long long)id);
	if (code != CRM_OK) {
		json_decref(row);
		return code;
	}
	*out = row;
	return CRM_OK;
}

int attachment_open(struct crm_ctx *ctx, int64_t id, json_t **record, int *fd)
{
	json_t *row = NULL;
	int code = row_for(ctx, id, ACCESS_READ, &row);
	if (code != CRM_OK)
		return code;
	const char *hash = json_string_value(json_object_get(row, "sha256"));
	char path[4200];
	int blob = -1;
	if (valid_hash(hash)) {
		blob_path(ctx->kernel, hash, path, sizeof(path), false);
		blob = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	}
	if (blob < 0) {
		json_decref(row);
		return crm_error(ctx, CRM_EIO, "the content of attachment %lld is missing from the files directory",
		                 (long long)id);
	}
	*record = row;
	*fd = blob;
	return CRM_OK;
}

int attachment_delete(struct crm_ctx *ctx, int64_t id)
{
	json_t *row = NULL;
	int code = row_for(ctx, id, ACCESS_UPDATE, &row);
	json_decref(row);
	if (code != CRM_OK)
		return code;
	struct access_saved_caller saved;
	access_become_system(ctx, &saved);
	code = object_delete(ctx, ATTACHMENT_OBJECT, id, 0);
	access_become_caller(ctx, &saved);
	return code;
}

/* ---- erasure, the sweep and the delete hook ---------------------------------- */

int attachment_erase_parent(struct crm_ctx *ctx, const char *object, int64_t id, json_t **hashes)
{
	json_t *rows = json_array();
	*hashes = json_array();
	if (!meta_find_object(ctx->kernel->meta, ATTACHMENT_OBJECT) || strcmp(object, ATTACHMENT_OBJECT) == 0) {
		json_decref(rows);
		return CRM_OK;
	}
	char filter[160];
	parent_filter(filter, sizeof(filter), object, id);
	int code = system_query(ctx, filter, false, collect, rows);
	if (code == CRM_OK)
		code = system_query(ctx, filter, true, collect, rows);
	struct access_saved_caller saved;
	access_become_system(ctx, &saved);
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row) {
		if (code != CRM_OK)
			break;
		int64_t row_id = json_integer_value(json_object_get(row, "id"));
		json_array_append(*hashes, json_object_get(row, "sha256"));
		/* purge takes a deleted record: move live ones to the bin first */
		if (json_is_null(json_object_get(row, "deleted_at")) || !json_object_get(row, "deleted_at"))
			code = object_delete(ctx, ATTACHMENT_OBJECT, row_id, 0);
		if (code == CRM_OK)
			code = object_purge(ctx, ATTACHMENT_OBJECT, row_id);
	}
	access_become_caller(ctx, &saved);
	json_decref(rows);
	return code;
}

/* Whether any row, live or deleted, names hash. */
static int hash_referenced(struct crm_ctx *ctx, const char *hash, bool *referenced)
{
	char filter[120];
	json_t *rows = json_array();
	snprintf(filter, sizeof(filter), "sha256 = '%s'", hash);
	int code = system_query(ctx, filter, false, collect, rows);
	if (code == CRM_OK)
		code = system_query(ctx, filter, true, collect, rows);
	*referenced = json_array_size(rows) > 0;
	json_decref(rows);
	return code;
}

int attachment_unlink_unreferenced(struct crm_ctx *ctx, json_t *hashes, int64_t *removed)
{
	size_t i;
	json_t *value;
	*removed = 0;
	if (!ctx->kernel->files_dir)
		return CRM_OK;
	json_array_foreach(hashes, i, value) {
		const char *hash = json_string_value(value);
		bool referenced = true;
		if (!valid_hash(hash))
			continue;
		int code = hash_referenced(ctx, hash, &referenced);
		if (code != CRM_OK)
			return code;
		char path[4200];
		blob_path(ctx->kernel, hash, path, sizeof(path), false);
		if (!referenced && unlink(path) == 0)
			(*removed)++;
	}
	return CRM_OK;
}

static bool old_enough(const char *path, time_t now, int grace_seconds)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime >= grace_seconds;
}

static int record_hash(void *arg, json_t *record)
{
	const char *hash = json_string_value(json_object_get(record, "sha256"));
	if (hash)
		json_object_set_new(arg, hash, json_true());
	return 0;
}

int attachment_sweep(struct crm_ctx *ctx, int grace_seconds, int64_t *removed)
{
	*removed = 0;
	if (!ctx->kernel->files_dir || !meta_find_object(ctx->kernel->meta, ATTACHMENT_OBJECT))
		return CRM_OK;
	/* the blobs first, then the names: a blob linked after the listing is young, and spared */
	time_t now = time(NULL);
	json_t *referenced = json_object();
	int code = system_query(ctx, NULL, false, record_hash, referenced);
	if (code == CRM_OK)
		code = system_query(ctx, NULL, true, record_hash, referenced);
	DIR *top = code == CRM_OK ? opendir(ctx->kernel->files_dir) : NULL;
	struct dirent *entry;
	while (top && (entry = readdir(top))) {
		const char *name = entry->d_name;
		bool tmp = strcmp(name, "tmp") == 0;
		if (!tmp && (strlen(name) != 2 || strspn(name, "0123456789abcdef") != 2))
			continue;
		char dir_path[4096];
		snprintf(dir_path, sizeof(dir_path), "%s/%s", ctx->kernel->files_dir, name);
		DIR *dir = opendir(dir_path);
		struct dirent *file;
		while (dir && (file = readdir(dir))) {
			if (file->d_name[0] == '.')
				continue;
			char path[4400];
			snprintf(path, sizeof(path), "%s/%s", dir_path, file->d_name);
			bool orphan = tmp || (valid_hash(file->d_name) && !json_object_get(referenced, file->d_name));
			if (orphan && old_enough(path, now, grace_seconds) && unlink(path) == 0)
				(*removed)++;
		}
		if (dir)
			closedir(dir);
	}
	if (top)
		closedir(top);
	json_decref(referenced);
	return code;
}

/* after_delete on every object: the record's attachments go to the recycle bin with it. */
static int on_parent_deleted(void *data, struct crm_ctx *ctx, enum event_kind kind,
                             const struct meta_object *object, json_t *values, json_t *record)
{
	(void)data;
	(void)kind;
	(void)values;
	if (strcmp(object->name, ATTACHMENT_OBJECT) == 0 || !ctx->kernel->files_dir)
		return CRM_OK;
	char filter[160];
	json_t *rows = json_array();
	parent_filter(filter, sizeof(filter), object->name, json_integer_value(json_object_get(record, "id")));
	int code = system_query(ctx, filter, false, collect, rows);
	struct access_saved_caller saved;
	access_become_system(ctx, &saved);
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row) {
		if (code == CRM_OK)
			code = object_delete(ctx, ATTACHMENT_OBJECT, json_integer_value(json_object_get(row, "id")), 0);
	}
	access_become_caller(ctx, &saved);
	json_decref(rows);
	return code;
}

int attachment_register_hooks(struct crm_kernel *kernel)
{
	if (!meta_find_object(kernel->meta, ATTACHMENT_OBJECT))
		return CRM_OK;
	return events_register(kernel->events, NULL, EVENT_AFTER_DELETE, false, "attachments", on_parent_deleted,
	                       NULL);
}
