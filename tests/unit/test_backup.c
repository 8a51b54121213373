/*
 * test_backup.c - store-level backup and restore (backup.h): a copy taken
 * while the kernel holds the database open equals it, both copy methods
 * verify, the instance lock excludes a second holder and a restore, and a
 * failed backup or restore leaves nothing behind.
 */
#include <errno.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include "backup.h"
#include "fixture.h"
#include "test.h"

static const char *schema =
	"object: note\n"
	"fields:\n"
	"  title: { type: text, required: true }\n";

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static int64_t count_notes(const char *db)
{
	sqlite3 *h;
	sqlite3_stmt *s;
	int64_t n = -1;
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK
	    && sqlite3_prepare_v2(h, "SELECT count(*) FROM note", -1, &s, NULL) == SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW)
			n = sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
	}
	sqlite3_close(h);
	return n;
}

static int add_notes(struct fixture *fx, int n)
{
	for (int i = 0; i < n; i++) {
		json_t *out = NULL;
		json_t *values = json_pack("{s:s}", "title", "a note");
		int code = object_create(&fx->ctx, "note", values, &out);
		json_decref(values);
		json_decref(out);
		if (code != CRM_OK)
			return code;
	}
	return CRM_OK;
}

static void test_backup_of_open_database(void)
{
	struct fixture fx;
	ASSERT_EQ(fixture_open(&fx, schema), CRM_OK);
	ASSERT_EQ(add_notes(&fx, 50), CRM_OK);
	char file[400], err[600];
	snprintf(file, sizeof(file), "%s/copy.db", fx.dir);
	struct store_backup_stats stats = { 0 };
	/* the kernel keeps the database open (WAL, uncheckpointed rows) while it is copied */
	ASSERT_EQ(store_backup(fx.db, file, NULL, &stats, err, sizeof(err)), CRM_OK);
	ASSERT(stats.pages > 0 && stats.bytes == stats.pages * 4096);
	ASSERT(stats.audit_id >= 50);
	ASSERT_EQ(count_notes(file), 50);
	ASSERT_EQ(store_backup_verify(file, NULL, err, sizeof(err)), CRM_OK);
	/* an existing FILE needs force; the refusal names it */
	ASSERT_EQ(store_backup(fx.db, file, NULL, &stats, err, sizeof(err)), CRM_ESTATE);
	ASSERT_CONTAINS(err, file);
	ASSERT_EQ(add_notes(&fx, 5), CRM_OK);
	struct store_backup_options vacuum = { .force = true, .vacuum = true };
	ASSERT_EQ(store_backup(fx.db, file, &vacuum, &stats, err, sizeof(err)), CRM_OK);
	ASSERT_EQ(count_notes(file), 55);
	char tmp[420];
	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	ASSERT(!exists(tmp));
	fixture_close(&fx);
}

static void test_failed_backup_leaves_nothing(void)
{
	struct fixture fx;
	ASSERT_EQ(fixture_open(&fx, schema), CRM_OK);
	char file[400], tmp[420], err[600];
	snprintf(file, sizeof(file), "%s/missing-dir/copy.db", fx.dir);
	ASSERT_EQ(store_backup(fx.db, file, NULL, NULL, err, sizeof(err)), CRM_EIO);
	ASSERT_CONTAINS(err, "copy.db.tmp");
	snprintf(file, sizeof(file), "%s/copy.db", fx.dir);
	snprintf(tmp, sizeof(tmp), "%s/none.db", fx.dir);
	ASSERT_EQ(store_backup(tmp, file, NULL, NULL, err, sizeof(err)), CRM_ENOTFOUND);
	ASSERT(!exists(file));
	ASSERT(!exists(tmp));
	fixture_close(&fx);
}

static void test_instance_lock_and_restore(void)
{
	struct fixture fx;
	ASSERT_EQ(fixture_open(&fx, schema), CRM_OK);
	ASSERT_EQ(add_notes(&fx, 7), CRM_OK);
	char file[400], target[400], err[600];
	snprintf(file, sizeof(file), "%s/copy.db", fx.dir);
	snprintf(target, sizeof(target), "%s/target.db", fx.dir);
	ASSERT_EQ(store_backup(fx.db, file, NULL, NULL, err, sizeof(err)), CRM_OK);
	fixture_close_kernel(&fx);
	int lock, second;
	ASSERT_EQ(store_instance_lock(target, &lock, err, sizeof(err)), CRM_OK);
	ASSERT_EQ(store_instance_lock(target, &second, err, sizeof(err)), CRM_EBUSY);
	ASSERT_EQ(store_restore(file, target, err, sizeof(err)), CRM_EBUSY);
	ASSERT_CONTAINS(err, target);
	ASSERT(!exists(target));
	store_instance_unlock(lock);
	ASSERT_EQ(store_restore(file, target, err, sizeof(err)), CRM_OK);
	ASSERT_EQ(count_notes(target), 7);
	/* over an existing database: replaced, nothing left beside it */
	ASSERT_EQ(store_restore(file, target, err, sizeof(err)), CRM_OK);
	char side[450];
	snprintf(side, sizeof(side), "%s.before-restore", target);
	ASSERT(!exists(side));
	snprintf(side, sizeof(side), "%s.restore-tmp", target);
	ASSERT(!exists(side));
	/* a database that is not this application's */
	sqlite3 *h;
	snprintf(side, sizeof(side), "%s/foreign.db", fx.dir);
	ASSERT_EQ(sqlite3_open(side, &h), SQLITE_OK);
	sqlite3_exec(h, "CREATE TABLE t(x)", NULL, NULL, NULL);
	sqlite3_close(h);
	ASSERT_EQ(store_restore(side, target, err, sizeof(err)), CRM_EINVAL);
	ASSERT_CONTAINS(err, "not a database of this application");
	ASSERT_EQ(count_notes(target), 7);
	fixture_close(&fx);
}

static const struct test_case tests[] = {
	{ "backup_of_open_database", test_backup_of_open_database },
	{ "failed_backup_leaves_nothing", test_failed_backup_leaves_nothing },
	{ "instance_lock_and_restore", test_instance_lock_and_restore },
};

TEST_MAIN(tests)
