/*
 * bench_floor_import.c - the floor for `crm import`: the same CSV rows through
 * one raw prepared INSERT into the same table (DB was created by `crm
 * migrate`, so the columns and indexes are identical), 50,000 rows per
 * transaction, same pragmas (WAL, synchronous=FULL), with the values the
 * object API adds (timestamps, version, account number). Naive CSV split
 * (the bench file has no quoted commas). Prints records/s.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	sqlite3 *db;
	sqlite3_open(argv[1], &db);
	sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
	             "PRAGMA cache_size=-262144;", NULL, NULL, NULL);
	sqlite3_stmt *stmt;
	if (sqlite3_prepare_v2(db, "INSERT INTO account (name, industry, type, annual_revenue, employees, phone, website,"
	                       " email, billing_city, billing_country, rating, created_at, updated_at, account_number, version)"
	                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13, 1)", -1, &stmt, NULL)
	    != SQLITE_OK) {
		fprintf(stderr, "bench_floor_import: %s\n", sqlite3_errmsg(db));
		return 1;
	}
	FILE *f = fopen(argv[2], "r");
	if (!f)
		return 1;
	char line[4096];
	long rows = 0;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (!fgets(line, sizeof(line), f))
		return 1;
	sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		char *field = line;
		for (int i = 1; i <= 11 && field; i++) {
			char *comma = strchr(field, ',');
			if (comma)
				*comma = '\0';
			if (i == 4)
				sqlite3_bind_double(stmt, i, strtod(field, NULL));
			else if (i == 5)
				sqlite3_bind_int64(stmt, i, strtoll(field, NULL, 10));
			else
				sqlite3_bind_text(stmt, i, field, -1, SQLITE_TRANSIENT);
			field = comma ? comma + 1 : NULL;
		}
		char number[32];
		snprintf(number, sizeof(number), "ACC-%06ld", rows + 1);
		sqlite3_bind_text(stmt, 12, "2026-01-01T00:00:00Z", -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 13, number, -1, SQLITE_TRANSIENT);
		sqlite3_step(stmt);
		sqlite3_reset(stmt);
		if (++rows % 50000 == 0) {
			sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
			sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		}
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double s = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	printf("%.0f\n", rows / s);
	fclose(f);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return 0;
}
