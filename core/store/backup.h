/*
 * backup.h - online backup and restore of a database file (RELIABILITY row 5).
 *
 * A backup reads one consistent snapshot of the live database through its
 * own read-only connection (beside a server's writer, which it never
 * blocks: WAL), copies it with the SQLite online backup API into FILE.tmp in
 * steps with short pauses, turns the copy into a single rollback-journal
 * file, fsyncs it, runs `PRAGMA integrity_check` on it, then renames it to
 * FILE and fsyncs the directory. A failure leaves no FILE.tmp behind.
 *
 * A restore replaces a database that no server holds: `crm serve` keeps an
 * advisory lock on PATH.lock (store_instance_lock) for its whole life and
 * restore takes the same lock, so neither starts while the other runs.
 */
#ifndef CRM_BACKUP_H
#define CRM_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store_backup_options {
	int step_pages;       /* pages copied per step; 0 = 2048 (8 MiB at 4 KiB pages) */
	int pause_us;         /* pause between steps, giving writers the disk; 0 = 1000, -1 = none */
	bool force;           /* replace an existing FILE */
	bool vacuum;          /* VACUUM INTO instead of the backup API (measured in bench_backup) */
};

struct store_backup_stats {
	int64_t pages;        /* pages in the copy */
	int64_t bytes;        /* its size */
	double seconds;       /* wall time, copy to rename */
	int64_t audit_id;     /* the last audit row in the copy (its snapshot point); 0 if none */
	int64_t steps;        /* backup_step calls */
};

/* Backs up the database at db_path into file. CRM_OK, or an error with a message naming the file. */
int store_backup(const char *db_path, const char *file, const struct store_backup_options *options,
                 struct store_backup_stats *stats, char *err, size_t errlen);
/*
 * Checks a backup (or any database file): it opens, `PRAGMA integrity_check`
 * says ok and it is a database of this application (the kernel's `_crm_*`
 * tables are there). Fills pages, bytes and audit_id of stats (may be NULL).
 */
int store_backup_verify(const char *file, struct store_backup_stats *stats, char *err, size_t errlen);
/*
 * Replaces the database at db_path by a verified copy of file, holding the
 * instance lock: CRM_EBUSY when a server holds the database. The old
 * database (and its WAL) is kept as PATH.before-restore until the new one is
 * in place and synced, then removed; a restore that fails puts it back.
 */
int store_restore(const char *file, const char *db_path, char *err, size_t errlen);
/*
 * Takes the advisory lock PATH.lock that says a process serves db_path
 * (flock, released by the kernel when the process dies, even by kill -9).
 * *fd: the lock's descriptor, for store_instance_unlock. CRM_EBUSY if
 * another process holds it.
 */
int store_instance_lock(const char *db_path, int *fd, char *err, size_t errlen);
void store_instance_unlock(int fd);

#endif
