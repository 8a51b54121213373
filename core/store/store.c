/*
 * store.c - SQLite: connections, settings, the statement cache, and the SQL
 * for records and queries. The only file (with schema.c, the store's DDL
 * half) that includes sqlite3.h.
 *
 * One writer connection, behind a mutex, does every write and checkpoint
 * (SQLite 3.40.1 can corrupt a WAL database when two connections write or
 * checkpoint at once). Readers are query_only connections handed to one
 * thread at a time. Every connection has a progress handler that interrupts
 * a statement running past its deadline, and a statement cache keyed by the
 * SQL text.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "expr.h"
#include "jsonw.h"
#include "meta_model.h"
#include "store.h"
#include "store_internal.h"

#define STMT_CACHE_BUCKETS 256
#define STMT_CACHE_MAX 512

struct stmt_entry {
	char *sql;
	uint64_t hash;
	sqlite3_stmt *stmt;
	struct stmt_entry *next;
};

/* A compiled "SELECT <all fields> FROM obj t0 <joins>" for store_get. */
struct select_cache {
	char *sql;               /* up to and including the joins */
	char *get_sql[2];        /* sql + "WHERE id = ?", live only [0] or deleted too [1] */
	int bind_count;
	struct expr_value *binds;
	time_t built_at;
	bool has_formula;
};

/*
 * Autonumber sequences on the writer: read once per transaction, counted in
 * memory, written back just before COMMIT (one statement per transaction,
 * not per row). A rollback forgets them. There is one writer, so no race.
 */
struct sequence {
	const struct meta_object *object;
	const struct meta_field *field;
	int64_t next;
};

struct store_conn {
	struct store *store;
	sqlite3 *db;
	bool writer;
	struct stmt_entry *buckets[STMT_CACHE_BUCKETS];
	int stmt_count;
	struct select_cache *selects;   /* one per object */
	sqlite3_stmt **inserts;         /* one per object: the hottest statement skips the cache lookup */
	sqlite3_stmt *audit_insert;     /* likewise the audit row that goes with every write */
	sqlite3_stmt *holidays;         /* the business-time functions' holiday lookup (holidays_of) */
	time_t audit_at;                /* the second audit_at_text spells */
	char audit_at_text[24];
	int64_t deadline_ns;            /* progress handler: interrupt after this */
	struct sequence sequences[32];  /* writer only */
	int sequence_count;
	struct store_conn *next_free;
	struct store_auth_memo *auth_memo; /* readers only */
};

struct store {
	const struct meta *meta;
	char **insert_sql;              /* per object: INSERT of every stored column */
	struct store_options options;
	struct store_conn *writer;
	pthread_mutex_t writer_lock;
	/* group commit (store_begin): the writer's open transaction and whose work waits in it */
	bool group_open;                /* writer_lock: a BEGIN IMMEDIATE that later requests join */
	int group_size;                 /* writer_lock: requests released into it, waiting for COMMIT */
	int64_t group_opened_ns;        /* writer_lock */
	struct group_waiter *group;     /* writer_lock: those requests, told by group_publish */
	int writers_waiting;            /* atomic: threads blocked in store_begin on writer_lock */
	pthread_mutex_t group_lock;     /* group_waiter.done and .code; group_done */
	pthread_cond_t group_done;
	int reader_count;
	struct store_conn *readers;
	struct store_conn *free_readers;
	pthread_mutex_t reader_lock;
	pthread_cond_t reader_free;
	/* the background checkpointer (options.background_checkpoint) */
	sqlite3 *checkpoint_db;
	pthread_t checkpointer;
	pthread_mutex_t checkpoint_lock;
	pthread_cond_t checkpoint_wake;
	bool checkpoint_wanted, checkpoint_stop, checkpointer_running;
	/* the disk-full test's knob (test_max_pages); NULL: none */
	const char *max_pages_file;
	int64_t max_pages_mtime;        /* st_mtim in ns when last read */
};

static int64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int sequences_flush(struct store_conn *conn, struct crm_ctx *ctx);

/* Aborts a statement that outlives its deadline (RELIABILITY row 19). */
static int progress_handler(void *arg)
{
	struct store_conn *conn = arg;
	return conn->deadline_ns && monotonic_ns() > conn->deadline_ns;
}

static void arm_deadline(struct store_conn *conn)
{
	conn->deadline_ns = monotonic_ns() + (int64_t)conn->store->options.query_time_ms * 1000000;
}

/* Maps a SQLite result code to ours with a message. */
int store_sql_error(struct store_conn *conn, int rc, struct crm_ctx *ctx, const char *what)
{
	const char *msg = conn ? sqlite3_errmsg(conn->db) : sqlite3_errstr(rc);
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return crm_error(ctx, CRM_EBUSY, "database busy: %s", msg);
	case SQLITE_FULL:
		return crm_error(ctx, CRM_EFULL, "the database or its disk is full: the change was not saved");
	case SQLITE_INTERRUPT:
		return crm_error(ctx, CRM_ELIMIT, "query took too long and was stopped");
	case SQLITE_NOMEM:
		return crm_error(ctx, CRM_ENOMEM, "out of memory in the database");
	case SQLITE_TOOBIG:
		return crm_error(ctx, CRM_ELIMIT, "value or statement too big");
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
			return crm_error(ctx, CRM_ESTATE, "the record is still referenced by other records");
		if (rc == SQLITE_CONSTRAINT_UNIQUE)
			return crm_error(ctx, CRM_EVALIDATION, "a unique value is already taken");
		return crm_error(ctx, CRM_EVALIDATION, "constraint failed: %s", msg);
	default:
		return crm_error(ctx, CRM_EIO, "%s: %s", what, msg);
	}
}

static uint64_t hash_text(const char *text)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

static void stmt_cache_clear(struct store_conn *conn)
{
	for (int i = 0; i < STMT_CACHE_BUCKETS; i++) {
		struct stmt_entry *e = conn->buckets[i];
		while (e) {
			struct stmt_entry *next = e->next;
			sqlite3_finalize(e->stmt);
			free(e->sql);
			free(e);
			e = next;
		}
		conn->buckets[i] = NULL;
	}
	conn->stmt_count = 0;
}

/* What the authorizer of one prepare asks and what it refused first. */
struct authorize_state {
	const struct store_query *q;
	char refused[160];
};

static int authorize(void *arg, int action, const char *a1, const char *a2, const char *db, const char *trigger)
{
	struct authorize_state *state = arg;
	(void)db;
	(void)trigger;
	switch (action) {
	case SQLITE_UPDATE:
		/* SQLite asks this itself when a query first uses a table-valued function (json_each) */
		if (a1 && strcmp(a1, "sqlite_master") == 0)
			return SQLITE_OK;
		break;
	case SQLITE_PRAGMA:
		/* FTS5 reads it when a connection first uses a full-text index (schema.c): read-only */
		if (a1 && strcmp(a1, "data_version") == 0 && !a2)
			return SQLITE_OK;
		break;
	case SQLITE_INSERT:
	case SQLITE_DELETE:
	case SQLITE_ATTACH:
	case SQLITE_DETACH:
		break;
	case SQLITE_READ:
		if (state->q->column_allowed(state->q->column_arg, a1 ? a1 : "", a2 ? a2 : ""))
			return SQLITE_OK;
		if (!state->refused[0])
			snprintf(state->refused, sizeof(state->refused), "column %s.%s", a1 ? a1 : "?", a2 ? a2 : "?");
		return SQLITE_DENY;
	default:
		return SQLITE_OK;
	}
	/* a read query that would write, attach or change a pragma is a bug too */
	if (!state->refused[0])
		snprintf(state->refused, sizeof(state->refused), "action %d (%s %s)", action, a1 ? a1 : "", a2 ? a2 : "");
	return SQLITE_DENY;
}

/*
 * A cached prepared statement for sql, reset and unbound, ready to bind.
 * With q (may be NULL) and its column_allowed, the statement is prepared
 * under the access backstop and cached under q's access key.
 */
static int prepare_cached(struct store_conn *conn, const char *sql, const struct store_query *q, sqlite3_stmt **out,
                          struct crm_ctx *ctx)
{
	bool guarded = q && q->column_allowed;
	struct strbuf keyed = { 0 };
	const char *key = sql;
	if (guarded) {
		strbuf_printf(&keyed, "-- %s\n%s", q->access_key ? q->access_key : "", sql);
		key = keyed.data;
	}
	uint64_t h = hash_text(key);
	struct stmt_entry **bucket = &conn->buckets[h % STMT_CACHE_BUCKETS];
	for (struct stmt_entry *e = *bucket; e; e = e->next) {
		if (e->hash == h && strcmp(e->sql, key) == 0) {
			sqlite3_reset(e->stmt);
			sqlite3_clear_bindings(e->stmt);
			*out = e->stmt;
			strbuf_free(&keyed);
			return CRM_OK;
		}
	}
	if (conn->stmt_count >= STMT_CACHE_MAX)
		stmt_cache_clear(conn);
	sqlite3_stmt *stmt;
	struct authorize_state state = { .q = q };
	if (guarded)
		sqlite3_set_authorizer(conn->db, authorize, &state);
	int rc = sqlite3_prepare_v3(conn->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
	if (guarded)
		sqlite3_set_authorizer(conn->db, NULL, NULL);
	if (rc != SQLITE_OK) {
		strbuf_free(&keyed);
		if (state.refused[0])
			return crm_error(ctx, CRM_EINTERNAL, "bug: the access backstop refused a query that reads %s",
			                 state.refused);
		return store_sql_error(conn, rc, ctx, "prepare");
	}
	struct stmt_entry *e = xmalloc(sizeof(*e));
	e->sql = guarded ? strbuf_detach(&keyed) : xstrdup(sql);
	e->hash = h;
	e->stmt = stmt;
	bucket = &conn->buckets[h % STMT_CACHE_BUCKETS];
	e->next = *bucket;
	*bucket = e;
	conn->stmt_count++;
	*out = stmt;
	return CRM_OK;
}

int store_prepare(struct store_conn *conn, const char *sql, sqlite3_stmt **out, struct crm_ctx *ctx)
{
	return prepare_cached(conn, sql, NULL, out, ctx);
}

/* Runs a statement to completion (or the first row) with the deadline armed. */
int store_step(struct store_conn *conn, sqlite3_stmt *stmt)
{
	if (!conn->deadline_ns)
		arm_deadline(conn);
	return sqlite3_step(stmt);
}

void store_done(struct store_conn *conn, sqlite3_stmt *stmt)
{
	sqlite3_reset(stmt);
	conn->deadline_ns = 0;
}

/* Calls the expr_sql_function in the user data with the arguments as expression values. */
static void call_sql_function(sqlite3_context *context, int count, sqlite3_value **values)
{
	const struct expr_sql_function *fn = sqlite3_user_data(context);
	struct expr_value arguments[4], result;
	char err[200];
	for (int i = 0; i < count && i < 4; i++) {
		memset(&arguments[i], 0, sizeof(arguments[i]));
		switch (sqlite3_value_type(values[i])) {
		case SQLITE_INTEGER:
			arguments[i].type = EV_INT;
			arguments[i].i = sqlite3_value_int64(values[i]);
			break;
		case SQLITE_FLOAT:
			arguments[i].type = EV_REAL;
			arguments[i].r = sqlite3_value_double(values[i]);
			break;
		case SQLITE_NULL:
			arguments[i].type = EV_NULL;
			break;
		default:  /* text, and a blob read as text */
			arguments[i].type = EV_TEXT;
			arguments[i].s = (char *)sqlite3_value_text(values[i]);
			if (!arguments[i].s) {
				sqlite3_result_error_nomem(context);
				return;
			}
			break;
		}
	}
	if (fn->call(arguments, &result, err, sizeof(err)) != CRM_OK) {
		sqlite3_result_error(context, err, -1);
		return;
	}
	switch (result.type) {
	case EV_INT:
	case EV_BOOL:
		sqlite3_result_int64(context, result.i);
		break;
	case EV_REAL:
		sqlite3_result_double(context, result.r);
		break;
	case EV_TEXT:
		sqlite3_result_text(context, result.s, -1, SQLITE_TRANSIENT);
		break;
	default:
		sqlite3_result_null(context);
		break;
	}
	expr_value_clear(&result);
}

int store_register_functions(sqlite3 *db)
{
	const struct expr_sql_function *fn;
	for (int i = 0; (fn = expr_sql_function(i)); i++) {
		assert(fn->arity <= 4);
		int rc = sqlite3_create_function_v2(db, fn->name, fn->arity,
		                                    SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, (void *)fn,
		                                    call_sql_function, NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

/* ---- holidays and the business-time SQL functions ------------------------ */

/*
 * The holiday records of calendar from from_day on, in day order (see
 * calendar.h): the holiday object's day and hours (a half day's
 * "09:00-12:00"; none: closed all day; hours that do not parse: closed).
 * Metadata without that object has no holidays.
 */
static int holidays_of(struct store_conn *conn, const char *calendar, const char *from_day,
                       struct calendar_holiday *out, int max, int *count)
{
	*count = 0;
	const struct meta_object *o = meta_find_object(conn->store->meta, "holiday");
	if (!o || !meta_find_field(o, "calendar") || !meta_find_field(o, "day") || !meta_find_field(o, "hours"))
		return 0;
	/*
	 * Prepared once per connection and kept beside it (not in the statement
	 * cache, which a prepare may clear while the query calling this runs).
	 */
	if (!conn->holidays
	    && sqlite3_prepare_v3(conn->db, "SELECT \"day\", \"hours\" FROM \"holiday\" WHERE \"calendar\" = ?1 AND "
	                          "\"day\" >= ?2 AND \"deleted_at\" IS NULL ORDER BY \"day\" LIMIT ?3", -1,
	                          SQLITE_PREPARE_PERSISTENT, &conn->holidays, NULL) != SQLITE_OK) {
		sqlite3_finalize(conn->holidays);
		conn->holidays = NULL;
		return -1;
	}
	sqlite3_stmt *stmt = conn->holidays;
	if (sqlite3_stmt_busy(stmt))
		return -1;   /* never: no function call nests inside this lookup */
	sqlite3_bind_text(stmt, 1, calendar, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, from_day, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 3, max);
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && *count < max) {
		const char *day = (const char *)sqlite3_column_text(stmt, 0);
		const char *hours = (const char *)sqlite3_column_text(stmt, 1);
		struct calendar_holiday *h = &out[*count];
		char err[160];
		if (!day || strlen(day) != 10)
			continue;
		memcpy(h->day, day, 11);
		if (!hours || calendar_parse_hours(hours, &h->hours, err, sizeof(err)) != 0)
			memset(&h->hours, 0, sizeof(h->hours));
		(*count)++;
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

static int list_holidays(void *arg, const char *calendar, const char *from_day, struct calendar_holiday *out, int max,
                         int *count)
{
	return holidays_of(arg, calendar, from_day, out, max, count);
}

int store_holidays(struct store_conn *conn, const char *calendar, const char *from_day, struct calendar_holiday *out,
                   int max, int *count)
{
	return holidays_of(conn, calendar, from_day, out, max, count);
}

/* What one registered business-time function of one connection needs. */
struct business_function {
	struct store_conn *conn;
	int which;      /* EXPR_BUSINESS_* */
};

/* crm_add_business_minutes and its kin: expr_business_call over the holidays of this database. */
static void call_business_function(sqlite3_context *context, int count, sqlite3_value **values)
{
	const struct business_function *fn = sqlite3_user_data(context);
	struct expr_value arguments[3], result;
	for (int i = 0; i < count && i < 3; i++) {
		memset(&arguments[i], 0, sizeof(arguments[i]));
		switch (sqlite3_value_type(values[i])) {
		case SQLITE_INTEGER: arguments[i].type = EV_INT; arguments[i].i = sqlite3_value_int64(values[i]); break;
		case SQLITE_FLOAT: arguments[i].type = EV_REAL; arguments[i].r = sqlite3_value_double(values[i]); break;
		case SQLITE_NULL: arguments[i].type = EV_NULL; break;
		default:
			arguments[i].type = EV_TEXT;
			if (!(arguments[i].s = (char *)sqlite3_value_text(values[i]))) {
				sqlite3_result_error_nomem(context);
				return;
			}
			break;
		}
	}
	struct calendar_holidays holidays = { list_holidays, fn->conn };
	char err[200];
	if (expr_business_call(fn->conn->store->meta, &holidays, fn->which, arguments, &result, err, sizeof(err)) != CRM_OK) {
		sqlite3_result_error(context, err, -1);
		return;
	}
	if (result.type == EV_TEXT)
		sqlite3_result_text(context, result.s, -1, SQLITE_TRANSIENT);
	else if (result.type == EV_INT || result.type == EV_BOOL)
		sqlite3_result_int64(context, result.i);
	else
		sqlite3_result_null(context);
	expr_value_clear(&result);
}

/*
 * Not deterministic for SQLite (they read the holiday table, which a write
 * may change between statements), so never in an index or a view.
 */
static int register_business_functions(struct store_conn *conn)
{
	sqlite3 *db = conn->db;
	const char *name;
	int arity;
	for (int i = 0; (name = expr_business_function(i, &arity)); i++) {
		struct business_function *fn = xmalloc(sizeof(*fn));
		fn->conn = conn;
		fn->which = i;
		int rc = sqlite3_create_function_v2(db, name, arity, SQLITE_UTF8 | SQLITE_DIRECTONLY, fn,
		                                    call_business_function, NULL, NULL, free);
		if (rc != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

static int configure(struct store_conn *conn, bool writer, char *err, size_t errlen)
{
	sqlite3 *db = conn->db;
	int on = 1;
	if (store_register_functions(db) != SQLITE_OK || register_business_functions(conn) != SQLITE_OK) {
		snprintf(err, errlen, "cannot register SQL functions: %s", sqlite3_errmsg(db));
		return CRM_EIO;
	}
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, &on);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, &on);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, &on);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DDL, 0, &on);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DML, 0, &on);
	sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, 1000000);
	sqlite3_limit(db, SQLITE_LIMIT_EXPR_DEPTH, 200);
	sqlite3_limit(db, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 1000);
	sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, 10000);
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 16 * 1024 * 1024);
	sqlite3_busy_timeout(db, conn->store->options.busy_timeout_ms);
	sqlite3_progress_handler(db, 10000, progress_handler, conn);
	const char *pragmas = writer
		? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA secure_delete=FAST;"
		  "PRAGMA mmap_size=0; PRAGMA journal_size_limit=67108864;"
		  "PRAGMA wal_autocheckpoint=1000;"
		: "PRAGMA foreign_keys=ON; PRAGMA mmap_size=0; PRAGMA query_only=ON;"
		  "PRAGMA wal_autocheckpoint=0;";
	char *msg = NULL;
	/*
	 * Page caches: small for a server (its RSS target is 64 MiB with a
	 * million records; the OS page cache holds the file anyway), large for a
	 * bulk import, whose random index inserts otherwise spill and re-read.
	 */
	char cache[64];
	int cache_kb = writer ? conn->store->options.writer_cache_kb : conn->store->options.reader_cache_kb;
	snprintf(cache, sizeof(cache), "PRAGMA cache_size=-%d;", cache_kb);
	if (sqlite3_exec(db, cache, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "cannot configure database: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return CRM_EIO;
	}
	if (sqlite3_exec(db, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "cannot configure database: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return CRM_EIO;
	}
	return CRM_OK;
}

static int open_conn(struct store *store, const char *path, bool writer, struct store_conn *conn,
                     char *err, size_t errlen)
{
	memset(conn, 0, sizeof(*conn));
	conn->store = store;
	conn->writer = writer;
	int flags = (writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY)
		| SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
	int rc = sqlite3_open_v2(path, &conn->db, flags, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open database '%s': %s", path,
		         conn->db ? sqlite3_errmsg(conn->db) : sqlite3_errstr(rc));
		sqlite3_close(conn->db);
		conn->db = NULL;
		return CRM_EIO;
	}
	conn->selects = xcalloc((size_t)store->meta->object_count, sizeof(*conn->selects));
	conn->inserts = xcalloc((size_t)store->meta->object_count, sizeof(*conn->inserts));
	return configure(conn, writer, err, errlen);
}

static void select_cache_free(struct select_cache *c)
{
	free(c->sql);
	free(c->get_sql[0]);
	free(c->get_sql[1]);
	for (int i = 0; i < c->bind_count; i++)
		expr_value_clear(&c->binds[i]);
	free(c->binds);
	memset(c, 0, sizeof(*c));
}

static void close_conn(struct store_conn *conn, int object_count)
{
	if (!conn->db)
		return;
	stmt_cache_clear(conn);
	for (int i = 0; conn->selects && i < object_count; i++)
		select_cache_free(&conn->selects[i]);
	free(conn->selects);
	for (int i = 0; conn->inserts && i < object_count; i++)
		sqlite3_finalize(conn->inserts[i]);
	free(conn->inserts);
	sqlite3_finalize(conn->audit_insert);
	conn->audit_insert = NULL;
	sqlite3_finalize(conn->holidays);
	conn->holidays = NULL;
	free(conn->auth_memo);
	conn->auth_memo = NULL;
	sqlite3_close(conn->db);
	conn->db = NULL;
}

/*
 * A geo field's point is kept twice: its JSON text in the field's column
 * and its two numbers in "<field>__lat" and "<field>__lng", which an index
 * covers (schema.c) and within() searches (expr.c). Both are written by the
 * same INSERT or UPDATE, so they never disagree; a null point nulls both.
 */
static void geo_column(struct strbuf *sql, const struct meta_field *field, const char *suffix)
{
	char column[80];
	snprintf(column, sizeof(column), "%s%s", field->name, suffix);
	strbuf_ident(sql, column);
}

/* Binds a point's latitude (which 0) or longitude (1), or null. */
static int bind_geo(sqlite3_stmt *stmt, int index, json_t *point, int which)
{
	json_t *number = json_object_get(point, which ? "lng" : "lat");
	return json_is_number(number) ? sqlite3_bind_double(stmt, index, json_number_value(number))
	                              : sqlite3_bind_null(stmt, index);
}

/* Every stored column, NULL when absent, then the geo fields' numbers: one statement per object. */
static char *insert_sql_for(const struct meta_object *object)
{
	struct strbuf sql = { 0 };
	strbuf_puts(&sql, "INSERT INTO ");
	strbuf_ident(&sql, object->name);
	strbuf_puts(&sql, " (");
	int n = 0;
	for (int i = 0; i < object->field_count; i++) {
		const struct meta_field *f = &object->fields[i];
		if (!meta_field_stored(f) || strcmp(f->name, "id") == 0)
			continue;
		if (n++)
			strbuf_puts(&sql, ", ");
		strbuf_ident(&sql, f->name);
	}
	for (int i = 0; i < object->field_count; i++) {
		const struct meta_field *f = &object->fields[i];
		if (f->type != FIELD_GEO)
			continue;
		strbuf_puts(&sql, ", ");
		geo_column(&sql, f, "__lat");
		strbuf_puts(&sql, ", ");
		geo_column(&sql, f, "__lng");
		n += 2;
	}
	strbuf_puts(&sql, ") VALUES (");
	for (int i = 1; i <= n; i++)
		strbuf_printf(&sql, i > 1 ? ", ?%d" : "?%d", i);
	strbuf_puts(&sql, ")");
	return strbuf_detach(&sql);
}

/*
 * Process-wide SQLite settings, before its first use. Memory statistics
 * take a global mutex on every allocation, which the server's threads then
 * fight over (futex calls on every request); nothing here reads them.
 */
static void sqlite_setup(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/*
 * Background checkpoints. With the writer checkpointing as it commits
 * (wal_autocheckpoint), the request whose commit crosses 1,000 WAL pages
 * copies them into the database and syncs it: 6% of a CSV import, and a
 * latency spike for whoever is unlucky. In a server, the WAL hook only
 * wakes this thread instead, which runs a PASSIVE checkpoint on its own
 * connection: it runs beside readers and the writer, copying what no
 * reader still needs; the writer then restarts the WAL from the top.
 */
#define STORE_CHECKPOINT_PAGES 1000
/*
 * A PASSIVE checkpoint beside a writer that never pauses may never catch up,
 * and the WAL restarts only when one has: past this size the writer
 * checkpoints itself, as it otherwise would, which bounds the WAL (32 MiB).
 */
#define STORE_CHECKPOINT_FORCE_PAGES 8000

static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct store *store = arg;
	if (pages >= STORE_CHECKPOINT_FORCE_PAGES) {
		sqlite3_wal_checkpoint(db, name);
		return SQLITE_OK;
	}
	if (pages >= STORE_CHECKPOINT_PAGES) {
		pthread_mutex_lock(&store->checkpoint_lock);
		store->checkpoint_wanted = true;
		pthread_cond_signal(&store->checkpoint_wake);
		pthread_mutex_unlock(&store->checkpoint_lock);
	}
	return SQLITE_OK;
}

static void *checkpointer_main(void *arg)
{
	struct store *store = arg;
	pthread_mutex_lock(&store->checkpoint_lock);
	while (!store->checkpoint_stop) {
		if (!store->checkpoint_wanted) {
			pthread_cond_wait(&store->checkpoint_wake, &store->checkpoint_lock);
			continue;
		}
		store->checkpoint_wanted = false;
		pthread_mutex_unlock(&store->checkpoint_lock);
		sqlite3_wal_checkpoint_v2(store->checkpoint_db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&store->checkpoint_lock);
	}
	pthread_mutex_unlock(&store->checkpoint_lock);
	return NULL;
}

static int start_checkpointer(struct store *store, const char *path, char *err, size_t errlen)
{
	int rc = sqlite3_open_v2(path, &store->checkpoint_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(store->checkpoint_db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open the checkpoint connection to '%s': %s", path,
		         store->checkpoint_db ? sqlite3_errmsg(store->checkpoint_db) : sqlite3_errstr(rc));
		return CRM_EIO;
	}
	sqlite3_busy_timeout(store->checkpoint_db, store->options.busy_timeout_ms);
	if (pthread_create(&store->checkpointer, NULL, checkpointer_main, store) != 0) {
		snprintf(err, errlen, "cannot start the checkpoint thread");
		return CRM_EIO;
	}
	store->checkpointer_running = true;
	sqlite3_wal_hook(store->writer->db, wal_hook, store); /* replaces wal_autocheckpoint */
	return CRM_OK;
}

static void stop_checkpointer(struct store *store)
{
	if (store->checkpointer_running) {
		if (store->writer && store->writer->db)
			sqlite3_wal_autocheckpoint(store->writer->db, STORE_CHECKPOINT_PAGES);
		pthread_mutex_lock(&store->checkpoint_lock);
		store->checkpoint_stop = true;
		pthread_cond_signal(&store->checkpoint_wake);
		pthread_mutex_unlock(&store->checkpoint_lock);
		pthread_join(store->checkpointer, NULL);
		store->checkpointer_running = false;
	}
	sqlite3_close(store->checkpoint_db);
	store->checkpoint_db = NULL;
}

int store_open(const char *path, const struct meta *meta, const struct store_options *options,
               struct store **out, char *err, size_t errlen)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, sqlite_setup);
	struct store *store = xcalloc(1, sizeof(*store));
	store->meta = meta;
	if (options)
		store->options = *options;
	if (store->options.readers <= 0)
		store->options.readers = 2;
	if (store->options.busy_timeout_ms <= 0)
		store->options.busy_timeout_ms = 5000;
	if (store->options.query_time_ms <= 0)
		store->options.query_time_ms = 2000;
	if (store->options.writer_cache_kb <= 0)
		store->options.writer_cache_kb = 16 * 1024;
	if (store->options.reader_cache_kb <= 0)
		store->options.reader_cache_kb = 8 * 1024;
	store->insert_sql = xcalloc((size_t)meta->object_count, sizeof(*store->insert_sql));
	for (int i = 0; i < meta->object_count; i++)
		store->insert_sql[i] = insert_sql_for(&meta->objects[i]);
	pthread_mutex_init(&store->writer_lock, NULL);
	pthread_mutex_init(&store->group_lock, NULL);
	pthread_cond_init(&store->group_done, NULL);
	pthread_mutex_init(&store->reader_lock, NULL);
	pthread_cond_init(&store->reader_free, NULL);
	pthread_mutex_init(&store->checkpoint_lock, NULL);
	pthread_cond_init(&store->checkpoint_wake, NULL);
	store->writer = xcalloc(1, sizeof(*store->writer));
	if (open_conn(store, path, true, store->writer, err, errlen) != CRM_OK)
		goto fail;
	/* Readers open after the writer set WAL mode, so they see it. */
	store->reader_count = store->options.readers;
	store->readers = xcalloc((size_t)store->reader_count, sizeof(*store->readers));
	for (int i = 0; i < store->reader_count; i++) {
		if (open_conn(store, path, false, &store->readers[i], err, errlen) != CRM_OK)
			goto fail;
		store->readers[i].next_free = store->free_readers;
		store->free_readers = &store->readers[i];
	}
	if (store->options.background_checkpoint && start_checkpointer(store, path, err, errlen) != CRM_OK)
		goto fail;
	store->max_pages_file = getenv("CRM_TEST_MAX_PAGES_FILE");
	*out = store;
	return CRM_OK;
fail:
	store_close(store);
	return CRM_EIO;
}

void store_close(struct store *store)
{
	if (!store)
		return;
	int object_count = store->meta->object_count;
	stop_checkpointer(store);
	for (int i = 0; i < store->reader_count; i++)
		close_conn(&store->readers[i], object_count);
	if (store->writer && store->writer->db) {
		sqlite3_exec(store->writer->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
		close_conn(store->writer, object_count);
	}
	for (int i = 0; store->insert_sql && i < store->meta->object_count; i++)
		free(store->insert_sql[i]);
	free(store->insert_sql);
	free(store->readers);
	free(store->writer);
	pthread_mutex_destroy(&store->writer_lock);
	pthread_mutex_destroy(&store->group_lock);
	pthread_cond_destroy(&store->group_done);
	pthread_mutex_destroy(&store->reader_lock);
	pthread_cond_destroy(&store->reader_free);
	pthread_mutex_destroy(&store->checkpoint_lock);
	pthread_cond_destroy(&store->checkpoint_wake);
	free(store);
}

struct store *store_conn_store(struct store_conn *conn)
{
	return conn->store;
}

struct store_auth_memo *store_conn_auth_memo(struct store_conn *conn)
{
	if (conn->writer)
		return NULL;
	if (!conn->auth_memo)
		conn->auth_memo = xcalloc(STORE_AUTH_MEMO_SLOTS, sizeof(*conn->auth_memo));
	return conn->auth_memo;
}

const struct meta *store_meta(const struct store *store)
{
	return store->meta;
}

/*
 * Transaction control through cached statements: sqlite3_exec would parse
 * "BEGIN" and "COMMIT" on every request (the parser's allocation alone cost
 * 7% of a list request).
 */
static int run_control(struct store_conn *conn, const char *sql)
{
	sqlite3_stmt *stmt;
	if (store_prepare(conn, sql, &stmt, NULL) != CRM_OK)
		return sqlite3_errcode(conn->db);
	int rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/*
 * Group commit. The writer is one connection and a request holds it from
 * store_begin to store_commit, as before; but its work is a SAVEPOINT in a
 * transaction that stays open while other requests wait for the writer:
 * store_commit releases the savepoint and, when another request is queued
 * behind it, hands the writer on and sleeps until a later request's COMMIT
 * makes its work durable too. The last request of a run (no one queued,
 * or the group is GROUP_MAX_SIZE requests or GROUP_MAX_NS old) commits for
 * all and wakes them. One fsync then covers the whole group, where each
 * request paid its own; a request that fails rolls back to its savepoint
 * alone; store_commit still returns only after the COMMIT that holds the
 * request's work returned, so a 2xx is still durable. If the transaction
 * itself is lost (the COMMIT fails, or SQLite rolls everything back after
 * an interrupt, a full disk or an I/O error), every request in it gets the
 * error: none of them was acknowledged. A process alone (the CLI, a bulk
 * import) never waits: nobody is queued, so each commit is its own.
 */
#define GROUP_MAX_SIZE 256
#define GROUP_MAX_NS (10 * 1000000)

struct group_waiter {
	struct group_waiter *next;
	bool done;
	int code;                       /* CRM_OK: committed */
	char message[160];
};

/* Tells every request of the group how its COMMIT went (writer_lock held). */
static void group_publish(struct store *store, int code, const char *message)
{
	pthread_mutex_lock(&store->group_lock);
	for (struct group_waiter *w = store->group; w; w = w->next) {
		w->code = code;
		snprintf(w->message, sizeof(w->message), "%.159s", message ? message : "");
		w->done = true;
	}
	pthread_cond_broadcast(&store->group_done);
	pthread_mutex_unlock(&store->group_lock);
	store->group = NULL;
	store->group_size = 0;
	store->group_open = false;
}

/* COMMITs the open group (writer_lock held); CRM_OK or the error, told to the group too. */
static int group_commit(struct store *store, struct crm_ctx *ctx)
{
	struct store_conn *conn = store->writer;
	int code = CRM_OK;
	if (!sqlite3_get_autocommit(conn->db)) {
		int rc = run_control(conn, "COMMIT");
		if (rc != SQLITE_OK) {
			code = store_sql_error(conn, rc, ctx, "commit");
			if (!sqlite3_get_autocommit(conn->db))
				run_control(conn, "ROLLBACK");
		}
	} else if (store->group_open) {
		/* SQLite rolled it all back under the last request: the group fails as that request did
		 * (a full disk is a 507 for all of them, not an internal error) */
		int rc = sqlite3_errcode(conn->db);
		code = store_sql_error(conn, rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_IOERR : rc,
		                       ctx, "commit");
	}
	group_publish(store, code, code == CRM_OK ? NULL : ctx->message);
	return code;
}

/*
 * RELIABILITY row 2 (disk full) without filling a disk: when the environment
 * names CRM_TEST_MAX_PAGES_FILE (tests/api/reliability_test.py only), the
 * writer's PRAGMA max_page_count follows the number in that file, re-read
 * when the file changes, so a test shrinks the room a running server has
 * and gives it back. Writers past it fail with SQLITE_FULL (507).
 */
static void test_max_pages(struct store *store, struct store_conn *conn)
{
	struct stat st;
	if (stat(store->max_pages_file, &st) != 0)
		return;
	int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	if (mtime == store->max_pages_mtime)
		return;
	FILE *f = fopen(store->max_pages_file, "r");
	long long pages = 0;
	if (!f || fscanf(f, "%lld", &pages) != 1 || pages <= 0) {
		if (f)
			fclose(f);
		return;
	}
	fclose(f);
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%lld", pages);
	sqlite3_exec(conn->db, sql, NULL, NULL, NULL);
	store->max_pages_mtime = mtime;
}

/* For work on the writer outside a request (ANALYZE, checkpoints): the lock, with no group open. */
static void writer_lock_alone(struct store *store)
{
	pthread_mutex_lock(&store->writer_lock);
	if (store->group_open) {
		struct crm_ctx scratch;
		crm_ctx_init(&scratch, NULL, 0, NULL);
		group_commit(store, &scratch);
		crm_error_reset(&scratch);
	}
}

int store_begin(struct store *store, struct store_conn **out, struct crm_ctx *ctx)
{
	__atomic_add_fetch(&store->writers_waiting, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&store->writer_lock);
	__atomic_sub_fetch(&store->writers_waiting, 1, __ATOMIC_SEQ_CST);
	struct store_conn *conn = store->writer;
	if (store->group_open && sqlite3_get_autocommit(conn->db))
		group_commit(store, ctx);   /* lost under the last request: its waiters learn it */
	if (store->max_pages_file)
		test_max_pages(store, conn);
	int rc = SQLITE_OK;
	if (!store->group_open) {
		rc = run_control(conn, "BEGIN IMMEDIATE");
		if (rc == SQLITE_OK) {
			store->group_open = true;
			store->group_opened_ns = monotonic_ns();
		}
	}
	if (rc == SQLITE_OK)
		rc = run_control(conn, "SAVEPOINT request");
	if (rc != SQLITE_OK) {
		int code = store_sql_error(conn, rc, ctx, "begin");
		if (store->group_open && !store->group && !sqlite3_get_autocommit(conn->db)) {
			run_control(conn, "ROLLBACK");
			store->group_open = false;
		}
		pthread_mutex_unlock(&store->writer_lock);
		return code;
	}
	*out = conn;
	return CRM_OK;
}

/*
 * The end of a request's turn at the writer (writer_lock held, its
 * savepoint released or rolled back): commit the group now, or leave it
 * open for the request queued next and, if self is in it, wait for that.
 */
static int request_done(struct store *store, struct group_waiter *self, struct crm_ctx *ctx)
{
	bool alone = __atomic_load_n(&store->writers_waiting, __ATOMIC_SEQ_CST) == 0;
	bool lost = sqlite3_get_autocommit(store->writer->db);
	if (self && !lost) {
		self->next = store->group;
		store->group = self;
		store->group_size++;
	}
	if (lost || alone || store->group_size >= GROUP_MAX_SIZE
	    || monotonic_ns() - store->group_opened_ns >= GROUP_MAX_NS) {
		struct crm_ctx scratch;
		crm_ctx_init(&scratch, NULL, 0, NULL);
		int code = group_commit(store, self ? ctx : &scratch);
		crm_error_reset(&scratch);
		pthread_mutex_unlock(&store->writer_lock);
		return code;
	}
	pthread_mutex_unlock(&store->writer_lock);
	if (!self)
		return CRM_OK;
	pthread_mutex_lock(&store->group_lock);
	while (!self->done)
		pthread_cond_wait(&store->group_done, &store->group_lock);
	pthread_mutex_unlock(&store->group_lock);
	return self->code == CRM_OK ? CRM_OK : crm_error(ctx, self->code, "%s", self->message);
}

int store_commit(struct store_conn *conn, struct crm_ctx *ctx)
{
	struct store *store = conn->store;
	conn->deadline_ns = 0;
	int code = sequences_flush(conn, ctx);
	int rc = code == CRM_OK ? run_control(conn, "RELEASE request") : SQLITE_ABORT;
	if (code == CRM_OK && rc != SQLITE_OK)
		code = store_sql_error(conn, rc, ctx, "commit");
	if (code != CRM_OK) {
		if (!sqlite3_get_autocommit(conn->db)) {
			run_control(conn, "ROLLBACK TO request");
			run_control(conn, "RELEASE request");
		}
		request_done(store, NULL, ctx);
		return code;
	}
	struct group_waiter self = { 0 };
	return request_done(store, &self, ctx);
}

void store_rollback(struct store_conn *conn)
{
	conn->deadline_ns = 0;
	conn->sequence_count = 0;
	if (!sqlite3_get_autocommit(conn->db)) {
		run_control(conn, "ROLLBACK TO request");
		run_control(conn, "RELEASE request");
	}
	struct crm_ctx scratch;
	crm_ctx_init(&scratch, NULL, 0, NULL);
	request_done(conn->store, NULL, &scratch);
	crm_error_reset(&scratch);
}

struct store_conn *store_reader(struct store *store)
{
	pthread_mutex_lock(&store->reader_lock);
	while (!store->free_readers)
		pthread_cond_wait(&store->reader_free, &store->reader_lock);
	struct store_conn *conn = store->free_readers;
	store->free_readers = conn->next_free;
	pthread_mutex_unlock(&store->reader_lock);
	return conn;
}

void store_reader_done(struct store_conn *conn)
{
	struct store *store = conn->store;
	conn->deadline_ns = 0;
	pthread_mutex_lock(&store->reader_lock);
	conn->next_free = store->free_readers;
	store->free_readers = conn;
	pthread_cond_signal(&store->reader_free);
	pthread_mutex_unlock(&store->reader_lock);
}

int store_read_begin(struct store_conn *conn)
{
	return run_control(conn, "BEGIN") == SQLITE_OK ? CRM_OK : CRM_EIO;
}

void store_read_end(struct store_conn *conn)
{
	if (!sqlite3_get_autocommit(conn->db))
		run_control(conn, "COMMIT");
}

int store_analyze(struct store *store)
{
	writer_lock_alone(store);
	/* analysis_limit: sample about 1,000 rows per index, so this takes milliseconds at any size */
	int rc = sqlite3_exec(store->writer->db, "PRAGMA analysis_limit=1000; ANALYZE;", NULL, NULL, NULL);
	pthread_mutex_unlock(&store->writer_lock);
	return rc == SQLITE_OK ? CRM_OK : CRM_EIO;
}

int store_checkpoint(struct store *store)
{
	writer_lock_alone(store);
	/* TRUNCATE: like RESTART, and the WAL file is emptied (erased values leave it too) */
	int rc = sqlite3_wal_checkpoint_v2(store->writer->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	pthread_mutex_unlock(&store->writer_lock);
	return rc == SQLITE_OK || rc == SQLITE_BUSY ? CRM_OK : CRM_EIO;
}

int store_exec(struct store_conn *conn, const char *sql, struct crm_ctx *ctx)
{
	char *msg = NULL;
	int rc = sqlite3_exec(conn->db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		int code = store_sql_error(conn, rc, ctx, "exec");
		crm_error(ctx, code, "%s (in: %.200s)", msg ? msg : sqlite3_errmsg(conn->db), sql);
		sqlite3_free(msg);
		return code;
	}
	return CRM_OK;
}

/* --- values ----------------------------------------------------------- */

/*
 * Binds a JSON value. Strings are bound SQLITE_STATIC: every caller keeps
 * value alive until the statement is reset, and the copy SQLite would
 * otherwise make was a measurable share of an import.
 */
static int bind_json(sqlite3_stmt *stmt, int index, json_t *value)
{
	switch (json_typeof(value)) {
	case JSON_STRING:
		return sqlite3_bind_text(stmt, index, json_string_value(value),
		                         (int)json_string_length(value), SQLITE_STATIC);
	case JSON_INTEGER:
		return sqlite3_bind_int64(stmt, index, json_integer_value(value));
	case JSON_REAL:
		return sqlite3_bind_double(stmt, index, json_real_value(value));
	case JSON_TRUE:
		return sqlite3_bind_int(stmt, index, 1);
	case JSON_FALSE:
		return sqlite3_bind_int(stmt, index, 0);
	case JSON_ARRAY:
	case JSON_OBJECT: {
		char *text = json_dumps(value, JSON_COMPACT | JSON_ENSURE_ASCII);
		if (!text)
			return SQLITE_NOMEM;
		return sqlite3_bind_text(stmt, index, text, -1, free);
	}
	default:
		return sqlite3_bind_null(stmt, index);
	}
}

int store_bind_value(sqlite3_stmt *stmt, int index, const struct expr_value *value)
{
	switch (value->type) {
	case EV_INT:
	case EV_BOOL:
		return sqlite3_bind_int64(stmt, index, value->i);
	case EV_REAL:
		return sqlite3_bind_double(stmt, index, value->r);
	case EV_TEXT:
		return sqlite3_bind_text(stmt, index, value->s, -1, SQLITE_TRANSIENT);
	default:
		return sqlite3_bind_null(stmt, index);
	}
}

/*
 * Binds the builder's parameters. A statement may use fewer than the builder
 * holds (a count leaves out the select list and its formulas' literals):
 * parameters past the statement's highest number are not there to bind.
 */
static int bind_all(sqlite3_stmt *stmt, int count, const struct expr_value *values)
{
	int present = sqlite3_bind_parameter_count(stmt);
	if (count > present)
		count = present;
	for (int i = 0; i < count; i++) {
		int rc = store_bind_value(stmt, i + 1, &values[i]);
		if (rc != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

/* Formulas and averages carry float noise: a real is presented at its field's scale. */
static double column_real(sqlite3_stmt *stmt, int column, const struct meta_field *field)
{
	double v = sqlite3_column_double(stmt, column);
	if (field && field->scale >= 0 && field->scale <= 9) {
		static const double pow10[] = { 1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9 };
		double f = pow10[field->scale];
		double r = v * f;
		if (r > -9e15 && r < 9e15)
			v = (double)(int64_t)(r + (r >= 0 ? 0.5 : -0.5)) / f;
	}
	return v;
}

static enum value_kind column_kind(int type, const struct meta_field *field)
{
	return field ? meta_field_kind(field)
		: type == SQLITE_INTEGER ? KIND_INT : type == SQLITE_FLOAT ? KIND_REAL : KIND_TEXT;
}

/* A column as the JSON value of field (NULL field: by SQLite type). */
json_t *store_column_json(sqlite3_stmt *stmt, int column, const struct meta_field *field)
{
	int type = sqlite3_column_type(stmt, column);
	if (type == SQLITE_NULL)
		return json_null();
	switch (column_kind(type, field)) {
	case KIND_INT:
		return json_integer(sqlite3_column_int64(stmt, column));
	case KIND_REAL:
		return json_real(column_real(stmt, column, field));
	case KIND_BOOL:
		return json_boolean(sqlite3_column_int64(stmt, column) != 0);
	case KIND_JSON: {
		json_t *v = json_loadb((const char *)sqlite3_column_text(stmt, column),
		                       (size_t)sqlite3_column_bytes(stmt, column), JSON_DECODE_ANY, NULL);
		return v ? v : json_null();
	}
	case KIND_TEXT:
	default:
		if (type == SQLITE_INTEGER || type == SQLITE_FLOAT) {
			/* e.g. a text formula that computed a number */
			if (type == SQLITE_INTEGER)
				return json_integer(sqlite3_column_int64(stmt, column));
			return json_real(sqlite3_column_double(stmt, column));
		}
		return json_stringn((const char *)sqlite3_column_text(stmt, column),
		                    (size_t)sqlite3_column_bytes(stmt, column));
	}
}

/*
 * The same value written as JSON text: store_column_json followed by
 * jsonw_value, without the jansson value in between (the equivalence is
 * tested in test_object.c).
 */
static void column_write(sqlite3_stmt *stmt, int column, const struct meta_field *field, struct jsonw *out)
{
	int type = sqlite3_column_type(stmt, column);
	if (type == SQLITE_NULL) {
		jsonw_raw(out, "null", 4);
		return;
	}
	switch (column_kind(type, field)) {
	case KIND_INT:
		jsonw_int(out, sqlite3_column_int64(stmt, column));
		return;
	case KIND_REAL:
		jsonw_real(out, column_real(stmt, column, field));
		return;
	case KIND_BOOL:
		if (sqlite3_column_int64(stmt, column) != 0)
			jsonw_raw(out, "true", 4);
		else
			jsonw_raw(out, "false", 5);
		return;
	case KIND_TEXT: {
		if (type == SQLITE_INTEGER) {
			jsonw_int(out, sqlite3_column_int64(stmt, column));
			return;
		}
		if (type == SQLITE_FLOAT) {
			jsonw_real(out, sqlite3_column_double(stmt, column));
			return;
		}
		/* text first, then its length (SQLite's documented order) */
		const char *text = (const char *)sqlite3_column_text(stmt, column);
		jsonw_string(out, text, (size_t)sqlite3_column_bytes(stmt, column));
		return;
	}
	default: {
		/* stored JSON (rare): through jansson, which also checks it */
		json_t *v = store_column_json(stmt, column, field);
		jsonw_value(out, v);
		json_decref(v);
		return;
	}
	}
}

static int object_index(const struct store_conn *conn, const struct meta_object *object)
{
	return (int)(object - conn->store->meta->objects);
}

/* --- settings --------------------------------------------------------- */

int store_setting_get(struct store_conn *conn, const char *key, char **out)
{
	sqlite3_stmt *stmt;
	struct crm_ctx scratch;
	crm_ctx_init(&scratch, NULL, 0, NULL);
	if (store_prepare(conn, "SELECT value FROM _crm_settings WHERE key = ?1", &stmt, &scratch) != CRM_OK)
		return CRM_ENOTFOUND;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	int code = CRM_ENOTFOUND;
	if (store_step(conn, stmt) == SQLITE_ROW) {
		*out = xstrdup((const char *)sqlite3_column_text(stmt, 0));
		code = CRM_OK;
	}
	store_done(conn, stmt);
	return code;
}

int store_setting_set(struct store_conn *conn, const char *key, const char *value)
{
	sqlite3_stmt *stmt;
	struct crm_ctx scratch;
	crm_ctx_init(&scratch, NULL, 0, NULL);
	if (store_prepare(conn, "INSERT INTO _crm_settings(key, value) VALUES (?1, ?2) "
	                  "ON CONFLICT(key) DO UPDATE SET value = excluded.value", &stmt, &scratch) != CRM_OK)
		return CRM_EIO;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, value, -1, SQLITE_STATIC);
	int rc = store_step(conn, stmt);
	store_done(conn, stmt);
	return rc == SQLITE_DONE ? CRM_OK : CRM_EIO;
}

/* --- records ---------------------------------------------------------- */

int store_field_sql(struct expr_sql *b, const struct meta_field *field, struct strbuf *out,
                    char *err, size_t errlen)
{
	return expr_compile_path(b, field->name, out, NULL, err, errlen);
}

/*
 * The full-text index ("<object>__search", schema.c) follows each record
 * write here, on the writer's connection and so in its transaction: the
 * record and its index entry commit or roll back together. Not triggers:
 * SQLite refuses a trigger that writes an FTS5 table while the schema is
 * untrusted (SQLITE_DBCONFIG_TRUSTED_SCHEMA 0, set in store_open), and
 * trusting a database file's schema would let that file run code on open.
 * Every record write goes through store_insert, store_update, store_purge
 * and store_rollup_refresh, so these four calls cover them; schema steps
 * refill the index themselves. The entry is dropped by id and written again
 * from the row as it now is (nothing when the row is gone).
 */
bool store_search_columns(const struct meta_object *object, struct strbuf *out)
{
	size_t start = out->len;
	for (int i = 0; i < object->field_count; i++) {
		const struct meta_field *f = &object->fields[i];
		if (!f->search || !meta_field_stored(f))
			continue;
		if (out->len > start)
			strbuf_puts(out, ", ");
		strbuf_ident(out, f->name);
	}
	return out->len > start;
}

static int search_sync(struct store_conn *conn, const struct meta_object *object, int64_t id,
                       struct crm_ctx *ctx)
{
	struct strbuf cols = { 0 }, table = { 0 }, sql = { 0 };
	if (!store_search_columns(object, &cols))
		return CRM_OK;
	strbuf_printf(&table, "%s__search", object->name);
	strbuf_puts(&sql, "DELETE FROM ");
	strbuf_ident(&sql, table.data);
	strbuf_puts(&sql, " WHERE rowid = ?1");
	int code = CRM_OK;
	for (int pass = 0; pass < 2 && code == CRM_OK; pass++) {
		if (pass) {
			strbuf_reset(&sql);
			strbuf_puts(&sql, "INSERT INTO ");
			strbuf_ident(&sql, table.data);
			strbuf_printf(&sql, "(rowid, %s) SELECT \"id\", %s FROM ", cols.data, cols.data);
			strbuf_ident(&sql, object->name);
			strbuf_puts(&sql, " WHERE \"id\" = ?1");
		}
		sqlite3_stmt *stmt;
		code = store_prepare(conn, sql.data, &stmt, ctx);
		if (code != CRM_OK)
			break;
		sqlite3_bind_int64(stmt, 1, id);
		int rc = store_step(conn, stmt);
		store_done(conn, stmt);
		if (rc != SQLITE_DONE)
			code = store_sql_error(conn, rc, ctx, "search index");
	}
	strbuf_free(&cols);
	strbuf_free(&table);
	strbuf_free(&sql);
	return code;
}

/* Whether changes (field: value) touch a field of the full-text index. */
static bool search_touched(const struct meta_object *object, json_t *changes)
{
	const char *key;
	json_t *value;
	json_object_foreach(changes, key, value) {
		const struct meta_field *f = meta_find_field(object, key);
		if (f && f->search)
			return true;
	}
	return false;
}

int store_insert(struct store_conn *conn, const struct meta_object *object, json_t *values,
                 int64_t *out_id, struct crm_ctx *ctx)
{
	int oi = object_index(conn, object);
	sqlite3_stmt *stmt = conn->inserts[oi];
	if (!stmt) {
		int rc = sqlite3_prepare_v3(conn->db, conn->store->insert_sql[oi], -1, SQLITE_PREPARE_PERSISTENT,
		                            &stmt, NULL);
		if (rc != SQLITE_OK)
			return store_sql_error(conn, rc, ctx, "prepare");
		conn->inserts[oi] = stmt;
	}
	int index = 1;
	for (int i = 0; i < object->field_count; i++) {
		const struct meta_field *f = &object->fields[i];
		if (!meta_field_stored(f) || strcmp(f->name, "id") == 0)
			continue;
		json_t *v = json_object_get(values, f->name);
		int rc = v ? bind_json(stmt, index, v) : sqlite3_bind_null(stmt, index);
		if (rc != SQLITE_OK) {
			store_done(conn, stmt);
			return store_sql_error(conn, rc, ctx, "bind");
		}
		index++;
	}
	for (int i = 0; i < object->field_count; i++) {
		const struct meta_field *f = &object->fields[i];
		if (f->type != FIELD_GEO)
			continue;
		json_t *v = json_object_get(values, f->name);
		bind_geo(stmt, index++, v, 0);
		bind_geo(stmt, index++, v, 1);
	}
	int rc = store_step(conn, stmt);
	store_done(conn, stmt);
	if (rc != SQLITE_DONE)
		return store_sql_error(conn, rc, ctx, "insert");
	int64_t id = sqlite3_last_insert_rowid(conn->db);
	int code = search_sync(conn, object, id, ctx);
	if (code != CRM_OK)
		return code;
	*out_id = id;
	return CRM_OK;
}

int store_update(struct store_conn *conn, const struct meta_object *object, int64_t id,
                 int64_t expected_version, bool allow_deleted, json_t *changes, struct crm_ctx *ctx)
{
	struct strbuf sql = { 0 };
	strbuf_puts(&sql, "UPDATE ");
	strbuf_ident(&sql, object->name);
	strbuf_puts(&sql, " SET \"version\" = \"version\" + 1");
	const char *key;
	json_t *value;
	int n = 0;
	json_object_foreach(changes, key, value) {
		strbuf_puts(&sql, ", ");
		strbuf_ident(&sql, key);
		strbuf_printf(&sql, " = ?%d", ++n);
		const struct meta_field *f = meta_find_field(object, key);
		if (f && f->type == FIELD_GEO) {
			strbuf_puts(&sql, ", ");
			geo_column(&sql, f, "__lat");
			strbuf_printf(&sql, " = ?%d, ", ++n);
			geo_column(&sql, f, "__lng");
			strbuf_printf(&sql, " = ?%d", ++n);
		}
	}
	strbuf_printf(&sql, " WHERE \"id\" = ?%d", n + 1);
	if (!allow_deleted)
		strbuf_puts(&sql, " AND \"deleted_at\" IS NULL");
	if (expected_version > 0)
		strbuf_printf(&sql, " AND \"version\" = ?%d", n + 2);
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, sql.data, &stmt, ctx);
	strbuf_free(&sql);
	if (code != CRM_OK)
		return code;
	n = 0;
	json_object_foreach(changes, key, value) {
		bind_json(stmt, ++n, value);
		const struct meta_field *f = meta_find_field(object, key);
		if (f && f->type == FIELD_GEO) {
			bind_geo(stmt, ++n, value, 0);
			bind_geo(stmt, ++n, value, 1);
		}
	}
	sqlite3_bind_int64(stmt, n + 1, id);
	if (expected_version > 0)
		sqlite3_bind_int64(stmt, n + 2, expected_version);
	int rc = store_step(conn, stmt);
	store_done(conn, stmt);
	if (rc != SQLITE_DONE)
		return store_sql_error(conn, rc, ctx, "update");
	if (sqlite3_changes(conn->db) == 1)
		return search_touched(object, changes) ? search_sync(conn, object, id, ctx) : CRM_OK;
	/* Nothing changed: tell a missing record from a lost update. */
	json_t *current = NULL;
	code = store_get(conn, object, id, allow_deleted, &current, ctx);
	if (code != CRM_OK)
		return code;
	int64_t version = json_integer_value(json_object_get(current, "version"));
	json_decref(current);
	return crm_error(ctx, CRM_ECONFLICT, "record %s/%lld was changed by someone else "
	                 "(version %lld, expected %lld)", object->name, (long long)id,
	                 (long long)version, (long long)expected_version);
}

/* Builds (or reuses) the SELECT of every field of object, with joins for formulas. */
static int select_for(struct store_conn *conn, const struct meta_object *object,
                      struct select_cache **out, struct crm_ctx *ctx)
{
	struct select_cache *c = &conn->selects[object_index(conn, object)];
	time_t now = time(NULL);
	/* Formulas may use today()/now(), bound as parameters: refresh them each second. */
	if (c->sql && (!c->has_formula || c->built_at == now)) {
		*out = c;
		return CRM_OK;
	}
	select_cache_free(c);
	struct expr_sql b = { .meta = conn->store->meta, .object = object, .base_alias = "t0", .now = now };
	struct strbuf sql = { 0 };
	char err[256];
	strbuf_puts(&sql, "SELECT ");
	for (int i = 0; i < object->field_count; i++) {
		const struct meta_field *f = &object->fields[i];
		if (i)
			strbuf_puts(&sql, ", ");
		if (f->type == FIELD_FORMULA)
			c->has_formula = true;
		if (store_field_sql(&b, f, &sql, err, sizeof(err)) != CRM_OK) {
			strbuf_free(&sql);
			expr_sql_free(&b);
			return crm_error(ctx, CRM_EINTERNAL, "field '%s.%s': %s", object->name, f->name, err);
		}
	}
	strbuf_puts(&sql, " FROM ");
	strbuf_ident(&sql, object->name);
	strbuf_puts(&sql, " t0");
	if (b.joins.data)
		strbuf_puts(&sql, b.joins.data);
	c->sql = strbuf_detach(&sql);
	c->bind_count = b.bind_count;
	c->binds = b.binds;
	b.binds = NULL;
	b.bind_count = 0;
	c->built_at = now;
	expr_sql_free(&b);
	*out = c;
	return CRM_OK;
}

static json_t *row_record(sqlite3_stmt *stmt, const struct meta_object *object)
{
	json_t *record = json_object();
	for (int i = 0; i < object->field_count; i++)
		json_object_set_new_nocheck(record, object->fields[i].name,
		                            store_column_json(stmt, i, &object->fields[i]));
	return record;
}

/* The prepared lookup of one record by id, stepped: SQLITE_ROW means found. */
static int get_row(struct store_conn *conn, const struct meta_object *object, int64_t id,
                   bool include_deleted, sqlite3_stmt **out, struct crm_ctx *ctx)
{
	struct select_cache *c = NULL;
	int code = select_for(conn, object, &c, ctx);
	if (code != CRM_OK)
		return code;
	char **text = &c->get_sql[include_deleted ? 1 : 0];
	if (!*text) {
		struct strbuf sql = { 0 };
		strbuf_printf(&sql, "%s WHERE t0.\"id\" = ?%d%s", c->sql, c->bind_count + 1,
		              include_deleted ? "" : " AND t0.\"deleted_at\" IS NULL");
		*text = strbuf_detach(&sql);
	}
	sqlite3_stmt *stmt;
	code = store_prepare(conn, *text, &stmt, ctx);
	if (code != CRM_OK)
		return code;
	bind_all(stmt, c->bind_count, c->binds);
	sqlite3_bind_int64(stmt, c->bind_count + 1, id);
	int rc = store_step(conn, stmt);
	if (rc == SQLITE_ROW) {
		*out = stmt;
		return CRM_OK;
	}
	store_done(conn, stmt);
	if (rc != SQLITE_DONE)
		return store_sql_error(conn, rc, ctx, "get");
	return crm_error(ctx, CRM_ENOTFOUND, "no %s with id %lld", object->name, (long long)id);
}

int store_get(struct store_conn *conn, const struct meta_object *object, int64_t id,
              bool include_deleted, json_t **out, struct crm_ctx *ctx)
{
	sqlite3_stmt *stmt;
	int code = get_row(conn, object, id, include_deleted, &stmt, ctx);
	if (code != CRM_OK)
		return code;
	*out = row_record(stmt, object);
	store_done(conn, stmt);
	return CRM_OK;
}

int store_get_text(struct store_conn *conn, const struct meta_object *object, int64_t id,
                   bool include_deleted, struct jsonw *out, int64_t *version, struct crm_ctx *ctx)
{
	sqlite3_stmt *stmt;
	int code = get_row(conn, object, id, include_deleted, &stmt, ctx);
	if (code != CRM_OK)
		return code;
	int version_column = meta_field_index(object, "version"); /* a system field: always there */
	*version = version_column >= 0 ? sqlite3_column_int64(stmt, version_column) : 0;
	jsonw_char(out, '{');
	for (int i = 0; i < object->field_count; i++) {
		if (i)
			jsonw_char(out, ',');
		jsonw_key(out, object->fields[i].name);
		column_write(stmt, i, &object->fields[i], out);
	}
	jsonw_char(out, '}');
	store_done(conn, stmt);
	return CRM_OK;
}

int store_ref_value(struct store_conn *conn, const struct meta_object *object, const struct meta_field *ref,
                    int64_t id, int64_t *out, struct crm_ctx *ctx)
{
	struct strbuf sql = { 0 };
	strbuf_puts(&sql, "SELECT ");
	strbuf_ident(&sql, ref->name);
	strbuf_puts(&sql, " FROM ");
	strbuf_ident(&sql, object->name);
	strbuf_puts(&sql, " WHERE \"id\" = ?1");
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, sql.data, &stmt, ctx);
	strbuf_free(&sql);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_int64(stmt, 1, id);
	int rc = store_step(conn, stmt);
	*out = rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) == SQLITE_INTEGER ? sqlite3_column_int64(stmt, 0) : 0;
	store_done(conn, stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_sql_error(conn, rc, ctx, "ref");
	return CRM_OK;
}

int store_exists(struct store_conn *conn, const struct meta_object *object, int64_t id,
                 bool *out, struct crm_ctx *ctx)
{
	struct strbuf sql = { 0 };
	strbuf_puts(&sql, "SELECT 1 FROM ");
	strbuf_ident(&sql, object->name);
	strbuf_puts(&sql, " WHERE \"id\" = ?1 AND \"deleted_at\" IS NULL");
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, sql.data, &stmt, ctx);
	strbuf_free(&sql);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_int64(stmt, 1, id);
	int rc = store_step(conn, stmt);
	store_done(conn, stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_sql_error(conn, rc, ctx, "exists");
	*out = rc == SQLITE_ROW;
	return CRM_OK;
}

int store_value_taken(struct store_conn *conn, const struct meta_object *object,
                      const struct meta_field *field, json_t *value, int64_t except_id,
                      bool *out, struct crm_ctx *ctx)
{
	struct strbuf sql = { 0 };
	strbuf_puts(&sql, "SELECT 1 FROM ");
	strbuf_ident(&sql, object->name);
	strbuf_puts(&sql, " WHERE ");
	strbuf_ident(&sql, field->name);
	strbuf_puts(&sql, " = ?1 AND \"id\" <> ?2 AND \"deleted_at\" IS NULL LIMIT 1");
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, sql.data, &stmt, ctx);
	strbuf_free(&sql);
	if (code != CRM_OK)
		return code;
	bind_json(stmt, 1, value);
	sqlite3_bind_int64(stmt, 2, except_id);
	int rc = store_step(conn, stmt);
	store_done(conn, stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_sql_error(conn, rc, ctx, "unique check");
	*out = rc == SQLITE_ROW;
	return CRM_OK;
}

int store_children(struct store_conn *conn, const struct meta_object *child,
                   const struct meta_field *ref, int64_t id, int limit, json_t **out_ids,
                   struct crm_ctx *ctx)
{
	struct strbuf sql = { 0 };
	strbuf_puts(&sql, "SELECT \"id\" FROM ");
	strbuf_ident(&sql, child->name);
	strbuf_puts(&sql, " WHERE ");
	strbuf_ident(&sql, ref->name);
	strbuf_puts(&sql, " = ?1 AND \"deleted_at\" IS NULL ORDER BY \"id\" LIMIT ?2");
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, sql.data, &stmt, ctx);
	strbuf_free(&sql);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_int(stmt, 2, limit);
	json_t *ids = json_array();
	int rc;
	while ((rc = store_step(conn, stmt)) == SQLITE_ROW)
		json_array_append_new(ids, json_integer(sqlite3_column_int64(stmt, 0)));
	store_done(conn, stmt);
	if (rc != SQLITE_DONE) {
		json_decref(ids);
		return store_sql_error(conn, rc, ctx, "children");
	}
	*out_ids = ids;
	return CRM_OK;
}

int store_purge(struct store_conn *conn, const struct meta_object *object, int64_t id,
                struct crm_ctx *ctx)
{
	struct strbuf sql = { 0 };
	strbuf_puts(&sql, "DELETE FROM ");
	strbuf_ident(&sql, object->name);
	strbuf_puts(&sql, " WHERE \"id\" = ?1 AND \"deleted_at\" IS NOT NULL");
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, sql.data, &stmt, ctx);
	strbuf_free(&sql);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_int64(stmt, 1, id);
	int rc = store_step(conn, stmt);
	store_done(conn, stmt);
	if (rc != SQLITE_DONE)
		return store_sql_error(conn, rc, ctx, "purge");
	if (sqlite3_changes(conn->db) != 1)
		return crm_error(ctx, CRM_ENOTFOUND, "no deleted %s with id %lld", object->name, (long long)id);
	return search_sync(conn, object, id, ctx);
}

bool store_converts(const struct meta *meta, const struct meta_field *money)
{
	const char *company = json_string_value(json_object_get(meta->config, "currency"));
	if (!money || !money->currency || !meta_currency_code(company))
		return false;
	return money->currency_field || strcmp(money->currency, company) != 0;
}

/*
 * amount (SQL over the record that holds money) in the company currency:
 * times the rate of the exchange_rate record valid today for the record's
 * currency (1 for the company currency), at the cent. currency_sql: the SQL
 * of money's currency field beside amount (NULL for a fixed code).
 */
void store_convert_sql(struct expr_sql *b, const struct meta_field *money, const char *amount_sql,
                       const char *currency_sql, struct strbuf *out)
{
	const char *company = json_string_value(json_object_get(b->meta->config, "currency"));
	char today[16];
	time_t now = b->now ? b->now : time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(today, sizeof(today), "%Y-%m-%d", &tm);
	struct expr_value company_value = { .type = EV_TEXT, .s = (char *)company };
	struct expr_value today_value = { .type = EV_TEXT, .s = today };
	struct expr_value fixed = { .type = EV_TEXT, .s = money->currency };
	int company_param = expr_sql_bind(b, &company_value), today_param = expr_sql_bind(b, &today_value);
	/* the rates are the kernel's reference data, read for whoever asks (the backstop must let them) */
	const struct meta_object *rates = meta_find_object(b->meta, "exchange_rate");
	for (int i = 0; rates && i < rates->field_count; i++)
		expr_sql_vouch(b, &rates->fields[i]);
	struct strbuf code = { 0 };
	if (currency_sql)
		strbuf_printf(&code, "(%s)", currency_sql);
	else
		strbuf_printf(&code, "?%d", expr_sql_bind(b, &fixed));
	strbuf_printf(out, "crm_round((%s) * CASE WHEN %s IS NULL OR %s = ?%d THEN 1 ELSE (SELECT r.\"rate\" FROM "
	              "\"exchange_rate\" r WHERE r.\"currency\" = %s AND r.\"valid_from\" <= ?%d AND r.\"deleted_at\" "
	              "IS NULL ORDER BY r.\"valid_from\" DESC LIMIT 1) END, 2)", amount_sql, code.data, code.data,
	              company_param, code.data, today_param);
	strbuf_free(&code);
}

/* Appends the SQL aggregate of a rollup over child alias c0 (binds go to b). */
int store_rollup_sql(struct expr_sql *b, const struct meta_field *rollup, struct strbuf *out,
                     char *err, size_t errlen)
{
	static const char *const fn[] = { "count", "sum", "min", "max", "avg" };
	if (rollup->rollup_measure == ROLLUP_COUNT) {
		strbuf_puts(out, "count(*)");
		return CRM_OK;
	}
	/* sum over no rows is NULL in SQL; a CRM shows 0 */
	bool is_sum = rollup->rollup_measure == ROLLUP_SUM;
	strbuf_printf(out, "%s%s(", is_sum ? "coalesce(" : "", fn[rollup->rollup_measure]);
	const struct meta_field *measured = NULL;
	struct strbuf amount = { 0 };
	int code = expr_compile_path(b, rollup->rollup_measure_field, &amount, &measured, err, errlen);
	if (code == CRM_OK && store_converts(b->meta, measured)) {
		/* children in several currencies add up in the company's */
		struct strbuf currency = { 0 };
		if (measured->currency_field)
			code = expr_compile_path(b, measured->currency_field->name, &currency, NULL, err, errlen);
		if (code == CRM_OK)
			store_convert_sql(b, measured, amount.data, measured->currency_field ? currency.data : NULL, out);
		strbuf_free(&currency);
	} else if (amount.data) {
		strbuf_puts(out, amount.data);
	}
	strbuf_free(&amount);
	strbuf_puts(out, is_sum ? "), 0)" : ")");
	return code;
}

int store_rollup_refresh(struct store_conn *conn, const struct meta_field *rollup,
                         const struct meta_object *parent, int64_t parent_id, struct crm_ctx *ctx)
{
	const struct meta_object *child = rollup->rollup_child;
	struct expr_sql b = { .meta = conn->store->meta, .object = child, .base_alias = "c0" };
	struct strbuf sql = { 0 };
	char err[256];
	struct expr_value id_value = { .type = EV_INT, .i = parent_id };
	int id_param = expr_sql_bind(&b, &id_value);
	strbuf_puts(&sql, "UPDATE ");
	strbuf_ident(&sql, parent->name);
	strbuf_puts(&sql, " SET ");
	strbuf_ident(&sql, rollup->name);
	strbuf_puts(&sql, " = (SELECT ");
	int code = store_rollup_sql(&b, rollup, &sql, err, sizeof(err));
	struct strbuf where = { 0 };
	if (code == CRM_OK && rollup->rollup_where_expr)
		code = expr_compile(&b, rollup->rollup_where_expr, &where, err, sizeof(err));
	if (code != CRM_OK) {
		strbuf_free(&sql);
		strbuf_free(&where);
		expr_sql_free(&b);
		return crm_error(ctx, CRM_EINTERNAL, "rollup '%s.%s': %s", parent->name, rollup->name, err);
	}
	strbuf_puts(&sql, " FROM ");
	strbuf_ident(&sql, child->name);
	strbuf_puts(&sql, " c0");
	if (b.joins.data)
		strbuf_puts(&sql, b.joins.data);
	strbuf_puts(&sql, " WHERE c0.");
	strbuf_ident(&sql, rollup->rollup_child_field->name);
	strbuf_printf(&sql, " = ?%d AND c0.\"deleted_at\" IS NULL", id_param);
	if (where.data)
		strbuf_printf(&sql, " AND (%s)", where.data);
	strbuf_printf(&sql, ") WHERE \"id\" = ?%d", id_param);
	strbuf_free(&where);
	sqlite3_stmt *stmt;
	code = store_prepare(conn, sql.data, &stmt, ctx);
	strbuf_free(&sql);
	if (code == CRM_OK) {
		bind_all(stmt, b.bind_count, b.binds);
		int rc = store_step(conn, stmt);
		store_done(conn, stmt);
		if (rc != SQLITE_DONE)
			code = store_sql_error(conn, rc, ctx, "rollup");
	}
	if (code == CRM_OK && rollup->search)
		code = search_sync(conn, parent, parent_id, ctx);
	expr_sql_free(&b);
	return code;
}

int store_next_number(struct store_conn *conn, const struct meta_object *object,
                      const struct meta_field *field, int64_t *out, struct crm_ctx *ctx)
{
	for (int i = 0; i < conn->sequence_count; i++) {
		struct sequence *seq = &conn->sequences[i];
		if (seq->field == field) {
			*out = seq->next++;
			return CRM_OK;
		}
	}
	if (conn->sequence_count == (int)(sizeof(conn->sequences) / sizeof(conn->sequences[0])))
		return crm_error(ctx, CRM_ELIMIT, "too many autonumber fields written in one transaction");
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, "SELECT next FROM _crm_sequences WHERE object = ?1 AND field = ?2", &stmt, ctx);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_text(stmt, 1, object->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, field->name, -1, SQLITE_STATIC);
	int rc = store_step(conn, stmt);
	int64_t next = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 1;
	store_done(conn, stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_sql_error(conn, rc, ctx, "sequence");
	struct sequence *seq = &conn->sequences[conn->sequence_count++];
	seq->object = object;
	seq->field = field;
	seq->next = next + 1;
	*out = next;
	return CRM_OK;
}

/* Writes the sequences counted in this transaction back, before COMMIT. */
static int sequences_flush(struct store_conn *conn, struct crm_ctx *ctx)
{
	int code = CRM_OK;
	for (int i = 0; i < conn->sequence_count && code == CRM_OK; i++) {
		struct sequence *seq = &conn->sequences[i];
		sqlite3_stmt *stmt;
		code = store_prepare(conn, "INSERT INTO _crm_sequences(object, field, next) VALUES (?1, ?2, ?3) "
		                     "ON CONFLICT(object, field) DO UPDATE SET next = excluded.next", &stmt, ctx);
		if (code != CRM_OK)
			break;
		sqlite3_bind_text(stmt, 1, seq->object->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 2, seq->field->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 3, seq->next);
		int rc = store_step(conn, stmt);
		store_done(conn, stmt);
		if (rc != SQLITE_DONE)
			code = store_sql_error(conn, rc, ctx, "sequence");
	}
	conn->sequence_count = 0;
	return code;
}

int store_audit(struct store_conn *conn, const char *object, int64_t record_id, const char *action,
                int64_t user_id, const char *request_id, json_t *changes, struct crm_ctx *ctx)
{
	sqlite3_stmt *stmt = conn->audit_insert;
	if (!stmt) {
		int rc = sqlite3_prepare_v3(conn->db, "INSERT INTO _crm_audit(at, user_id, request_id, object, record_id,"
		                            " action, changes) VALUES (?7, ?1, ?2, ?3, ?4, ?5, ?6)", -1,
		                            SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
		if (rc != SQLITE_OK)
			return store_sql_error(conn, rc, ctx, "prepare");
		conn->audit_insert = stmt;
	}
	sqlite3_clear_bindings(stmt); /* user, request and changes are bound only when present */
	/* the time as text, formatted once a second (SQL's strftime('now') cost 2% of an import) */
	time_t now = time(NULL);
	if (now != conn->audit_at) {
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(conn->audit_at_text, sizeof(conn->audit_at_text), "%Y-%m-%dT%H:%M:%SZ", &tm);
		conn->audit_at = now;
	}
	sqlite3_bind_text(stmt, 7, conn->audit_at_text, -1, SQLITE_STATIC);
	if (user_id)
		sqlite3_bind_int64(stmt, 1, user_id);
	if (request_id)
		sqlite3_bind_text(stmt, 2, request_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, object, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, record_id);
	sqlite3_bind_text(stmt, 5, action, -1, SQLITE_STATIC);
	if (changes) {
		char *text = json_dumps(changes, JSON_COMPACT);
		if (text)
			sqlite3_bind_text(stmt, 6, text, -1, free);
	}
	int rc = store_step(conn, stmt);
	store_done(conn, stmt);
	return rc == SQLITE_DONE ? CRM_OK : store_sql_error(conn, rc, ctx, "audit");
}

int store_audit_scrub(struct store_conn *conn, const char *object, int64_t record_id, json_t *paths,
                      struct crm_ctx *ctx)
{
	size_t i;
	json_t *path;
	json_array_foreach(paths, i, path) {
		sqlite3_stmt *stmt;
		int code = store_prepare(conn, "UPDATE _crm_audit SET changes = json_remove(changes, ?3)"
		                         " WHERE object = ?1 AND record_id = ?2 AND changes IS NOT NULL", &stmt, ctx);
		if (code != CRM_OK)
			return code;
		sqlite3_bind_text(stmt, 1, object, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 2, record_id);
		sqlite3_bind_text(stmt, 3, json_string_value(path), -1, SQLITE_STATIC);
		int rc = store_step(conn, stmt);
		store_done(conn, stmt);
		if (rc != SQLITE_DONE)
			return store_sql_error(conn, rc, ctx, "scrub");
	}
	return CRM_OK;
}

int store_history(struct store_conn *conn, const char *object, int64_t record_id, int limit,
                  json_t **out, struct crm_ctx *ctx)
{
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, "SELECT id, at, user_id, request_id, action, changes FROM _crm_audit"
	                         " WHERE object = ?1 AND record_id = ?2 ORDER BY id LIMIT ?3", &stmt, ctx);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_text(stmt, 1, object, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, record_id);
	sqlite3_bind_int(stmt, 3, limit);
	json_t *rows = json_array();
	int rc;
	while ((rc = store_step(conn, stmt)) == SQLITE_ROW) {
		json_t *changes = sqlite3_column_type(stmt, 5) == SQLITE_NULL ? json_null()
			: json_loads((const char *)sqlite3_column_text(stmt, 5), 0, NULL);
		json_array_append_new(rows, json_pack("{s:I, s:o, s:o, s:o, s:o, s:o}",
			"id", (json_int_t)sqlite3_column_int64(stmt, 0),
			"at", store_column_json(stmt, 1, NULL), "user", store_column_json(stmt, 2, NULL),
			"request_id", store_column_json(stmt, 3, NULL), "action", store_column_json(stmt, 4, NULL),
			"changes", changes ? changes : json_null()));
	}
	store_done(conn, stmt);
	if (rc != SQLITE_DONE) {
		json_decref(rows);
		return store_sql_error(conn, rc, ctx, "history");
	}
	*out = rows;
	return CRM_OK;
}

static int audit_figure_row(void *arg, json_t *row)
{
	*(double *)arg = json_number_value(json_array_get(row, 0));
	return 0;
}

int store_audit_figure(struct store_conn *conn, json_t *actions, const char *from, const char *to, json_t *user_ids,
                       const char *distinct, bool per_day, double *out, struct crm_ctx *ctx)
{
	static const char *const columns[] = { "user_id", "record_id", "object" };
	const char *column = NULL;
	for (int i = 0; distinct && i < 3; i++)
		if (!strcmp(distinct, columns[i]))
			column = columns[i];
	if (distinct && !column)
		return crm_error(ctx, CRM_EINVAL, "audit: no column '%.32s'", distinct);
	struct strbuf sql = { 0 };
	strbuf_printf(&sql, "SELECT %s(n), 0 FROM (SELECT %s%s%s AS n FROM _crm_audit WHERE at >= ?1 AND at < ?2"
	              " AND action IN (SELECT value FROM json_each(?3)) AND user_id IS NOT NULL%s%s)",
	              "total", column ? "count(DISTINCT " : "count(*", column ? column : "", ")",
	              user_ids ? " AND user_id IN (SELECT value FROM json_each(?4))" : "",
	              per_day ? " GROUP BY substr(at, 1, 10)" : "");
	char *action_text = json_dumps(actions, JSON_COMPACT), *id_text = user_ids ? json_dumps(user_ids, JSON_COMPACT) : NULL;
	json_t *params = json_pack("[s, s, s]", from, to, action_text ? action_text : "[]");
	if (id_text)
		json_array_append_new(params, json_string(id_text));
	*out = 0;
	int code = store_rows(conn, sql.data, params, audit_figure_row, out, ctx);
	json_decref(params);
	free(action_text);
	free(id_text);
	strbuf_free(&sql);
	return code;
}

static int collect_ids(void *arg, json_t *row);

/* Runs sql with params (consumed) and hands back the first column of every row as an id list. */
static int select_ids(struct store_conn *conn, const char *sql, json_t *params, json_t **out_ids,
                      struct crm_ctx *ctx)
{
	json_t *ids = json_array();
	int code = store_rows(conn, sql, params, collect_ids, ids, ctx);
	json_decref(params);
	if (code != CRM_OK) {
		json_decref(ids);
		return code;
	}
	*out_ids = ids;
	return CRM_OK;
}

int store_deleted_before(struct store_conn *conn, const struct meta_object *object, const char *cutoff,
                         int limit, json_t **out_ids, struct crm_ctx *ctx)
{
	struct strbuf sql = { 0 };
	strbuf_puts(&sql, "SELECT \"id\" FROM ");
	strbuf_ident(&sql, object->name);
	strbuf_puts(&sql, " WHERE \"deleted_at\" IS NOT NULL AND \"deleted_at\" < ?1 ORDER BY \"id\" LIMIT ?2");
	int code = select_ids(conn, sql.data, json_pack("[si]", cutoff, limit), out_ids, ctx);
	strbuf_free(&sql);
	return code;
}

/* --- manual sharing ---------------------------------------------------- */

void store_share_sql(struct expr_sql *b, const char *object, int64_t user_id, int64_t team_id, bool edit,
                     struct strbuf *out)
{
	struct expr_value name = { .type = EV_TEXT, .s = (char *)object };
	struct expr_value user = { .type = EV_INT, .i = user_id };
	struct expr_value team = { .type = EV_INT, .i = team_id };
	int p_object = expr_sql_bind(b, &name), p_user = expr_sql_bind(b, &user), p_team = expr_sql_bind(b, &team);
	strbuf_printf(out, "%s.\"id\" IN (SELECT record_id FROM _crm_shares WHERE object = ?%d AND "
	              "(user_id = ?%d OR team_id = ?%d)%s)", b->base_alias, p_object, p_user, p_team,
	              edit ? " AND access = 'edit'" : "");
}

int store_share_exists(struct store_conn *conn, const char *object, int64_t id, int64_t user_id,
                       int64_t team_id, bool edit, bool *out, struct crm_ctx *ctx)
{
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, "SELECT 1 FROM _crm_shares WHERE object = ?1 AND record_id = ?2"
	                         " AND (user_id = ?3 OR team_id = ?4) AND (?5 = 0 OR access = 'edit') LIMIT 1", &stmt, ctx);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_text(stmt, 1, object, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, id);
	sqlite3_bind_int64(stmt, 3, user_id);
	sqlite3_bind_int64(stmt, 4, team_id);
	sqlite3_bind_int(stmt, 5, edit);
	int rc = store_step(conn, stmt);
	store_done(conn, stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_sql_error(conn, rc, ctx, "share");
	*out = rc == SQLITE_ROW;
	return CRM_OK;
}

int store_share_add(struct store_conn *conn, const char *object, int64_t id, int64_t user_id, int64_t team_id,
                    bool edit, int64_t created_by, int64_t *out_id, struct crm_ctx *ctx)
{
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, "INSERT INTO _crm_shares(object, record_id, user_id, team_id, access, created_by,"
	                         " created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
	                         &stmt, ctx);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_text(stmt, 1, object, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, id);
	if (user_id)
		sqlite3_bind_int64(stmt, 3, user_id);
	if (team_id)
		sqlite3_bind_int64(stmt, 4, team_id);
	sqlite3_bind_text(stmt, 5, edit ? "edit" : "read", -1, SQLITE_STATIC);
	if (created_by)
		sqlite3_bind_int64(stmt, 6, created_by);
	int rc = store_step(conn, stmt);
	store_done(conn, stmt);
	if (rc != SQLITE_DONE)
		return store_sql_error(conn, rc, ctx, "share");
	*out_id = sqlite3_last_insert_rowid(conn->db);
	return CRM_OK;
}

int store_share_remove(struct store_conn *conn, const char *object, int64_t id, int64_t share_id,
                       struct crm_ctx *ctx)
{
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, "DELETE FROM _crm_shares WHERE id = ?1 AND object = ?2 AND record_id = ?3",
	                         &stmt, ctx);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_int64(stmt, 1, share_id);
	sqlite3_bind_text(stmt, 2, object, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, id);
	int rc = store_step(conn, stmt);
	store_done(conn, stmt);
	if (rc != SQLITE_DONE)
		return store_sql_error(conn, rc, ctx, "unshare");
	if (sqlite3_changes(conn->db) != 1)
		return crm_error(ctx, CRM_ENOTFOUND, "no share %lld on this record", (long long)share_id);
	return CRM_OK;
}

int store_share_list(struct store_conn *conn, const char *object, int64_t id, json_t **out, struct crm_ctx *ctx)
{
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, "SELECT id, user_id, team_id, access, created_by, created_at FROM _crm_shares"
	                         " WHERE object = ?1 AND record_id = ?2 ORDER BY id", &stmt, ctx);
	if (code != CRM_OK)
		return code;
	sqlite3_bind_text(stmt, 1, object, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, id);
	json_t *rows = json_array();
	int rc;
	while ((rc = store_step(conn, stmt)) == SQLITE_ROW)
		json_array_append_new(rows, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}",
			"id", store_column_json(stmt, 0, NULL), "user", store_column_json(stmt, 1, NULL),
			"team", store_column_json(stmt, 2, NULL), "access", store_column_json(stmt, 3, NULL),
			"created_by", store_column_json(stmt, 4, NULL), "created_at", store_column_json(stmt, 5, NULL)));
	store_done(conn, stmt);
	if (rc != SQLITE_DONE) {
		json_decref(rows);
		return store_sql_error(conn, rc, ctx, "shares");
	}
	*out = rows;
	return CRM_OK;
}

static int collect_ids(void *arg, json_t *row)
{
	json_array_append(arg, json_array_get(row, 0));
	return 0;
}

int store_user_scope(struct store_conn *conn, const struct meta_object *users,
                     const struct meta_field *team_field, const struct meta_field *manager_field,
                     int64_t user_id, json_t **out_ids, struct crm_ctx *ctx)
{
	struct strbuf sql = { 0 };
	strbuf_puts(&sql, "WITH RECURSIVE reports(id) AS (SELECT ?1");
	if (manager_field) {
		strbuf_puts(&sql, " UNION SELECT u.\"id\" FROM ");
		strbuf_ident(&sql, users->name);
		strbuf_puts(&sql, " u JOIN reports r ON u.");
		strbuf_ident(&sql, manager_field->name);
		strbuf_puts(&sql, " = r.id WHERE u.\"deleted_at\" IS NULL");
	}
	strbuf_puts(&sql, ") SELECT id FROM reports");
	if (team_field) {
		strbuf_puts(&sql, " UNION SELECT t.\"id\" FROM ");
		strbuf_ident(&sql, users->name);
		strbuf_puts(&sql, " t WHERE t.\"deleted_at\" IS NULL AND t.");
		strbuf_ident(&sql, team_field->name);
		strbuf_puts(&sql, " = (SELECT me.");
		strbuf_ident(&sql, team_field->name);
		strbuf_puts(&sql, " FROM ");
		strbuf_ident(&sql, users->name);
		strbuf_puts(&sql, " me WHERE me.\"id\" = ?1)");
	}
	/* a cycle in the manager chain must not loop: UNION drops repeats, LIMIT bounds it */
	strbuf_puts(&sql, " LIMIT 100000");
	int code = select_ids(conn, sql.data, json_pack("[I]", (json_int_t)user_id), out_ids, ctx);
	strbuf_free(&sql);
	return code;
}

void store_sql_in_ids(struct expr_sql *b, const char *column_sql, json_t *ids, struct strbuf *out)
{
	char *text = json_dumps(ids, JSON_COMPACT);
	struct expr_value v = { .type = EV_TEXT, .s = text ? text : "[]" };
	int param = expr_sql_bind(b, &v);
	free(text);
	strbuf_printf(out, "%s IN (SELECT value FROM json_each(?%d))", column_sql, param);
}

/* --- queries ---------------------------------------------------------- */

/*
 * The id breaks ties in the direction of the last sort key, so that an index
 * on the filter and sort columns (which holds the rowid in the same order)
 * delivers rows already sorted: "ORDER BY revenue DESC, id ASC" would make
 * SQLite sort every page with a temporary b-tree.
 */
static enum store_sort_dir id_direction(const struct store_query *q)
{
	return q->sort_count ? q->sort_dir[q->sort_count - 1] : STORE_ASC;
}

/* FROM, joins and WHERE of q (keyset included when with_keyset). */
static void query_body(struct store_query *q, struct strbuf *sql, bool with_keyset)
{
	strbuf_puts(sql, " FROM ");
	strbuf_ident(sql, q->object->name);
	strbuf_puts(sql, " t0");
	if (q->sql->joins.data)
		strbuf_puts(sql, q->sql->joins.data);
	strbuf_puts(sql, q->deleted ? " WHERE t0.\"deleted_at\" IS NOT NULL"
	                            : " WHERE t0.\"deleted_at\" IS NULL");
	if (q->where)
		strbuf_printf(sql, " AND (%s)", q->where);
	if (!with_keyset || !q->after)
		return;
	/*
	 * Keyset: rows strictly after the cursor in ORDER BY k1, k2, ..., id.
	 * SQLite sorts NULL first ascending and last descending, so "after v"
	 * is spelled out per direction, and ties use IS (null-safe equality).
	 */
	strbuf_puts(sql, " AND (");
	for (int i = 0; i <= q->sort_count; i++) {
		if (i)
			strbuf_puts(sql, " OR ");
		strbuf_putc(sql, '(');
		for (int j = 0; j < i; j++) {
			struct expr_value v = { 0 };
			json_t *jv = json_array_get(q->after, (size_t)j);
			store_json_to_value(jv, &v);
			int p = expr_sql_bind(q->sql, &v);
			strbuf_printf(sql, "%s IS ?%d AND ", q->sort_sql[j], p);
		}
		if (i == q->sort_count) {
			struct expr_value v = { .type = EV_INT,
				.i = json_integer_value(json_array_get(q->after, (size_t)q->sort_count)) };
			strbuf_printf(sql, "t0.\"id\" %c ?%d)", id_direction(q) == STORE_ASC ? '>' : '<',
			              expr_sql_bind(q->sql, &v));
			continue;
		}
		json_t *jv = json_array_get(q->after, (size_t)i);
		const char *key = q->sort_sql[i];
		if (json_is_null(jv)) {
			strbuf_printf(sql, q->sort_dir[i] == STORE_ASC ? "%s IS NOT NULL)" : "0)", key);
		} else {
			struct expr_value v = { 0 };
			store_json_to_value(jv, &v);
			int p = expr_sql_bind(q->sql, &v);
			if (q->sort_dir[i] == STORE_ASC)
				strbuf_printf(sql, "%s > ?%d)", key, p);
			else
				strbuf_printf(sql, "(%s < ?%d OR %s IS NULL))", key, p, key);
		}
	}
	strbuf_putc(sql, ')');
}

void store_json_to_value(json_t *json, struct expr_value *out)
{
	memset(out, 0, sizeof(*out));
	switch (json_typeof(json)) {
	case JSON_INTEGER:
		out->type = EV_INT;
		out->i = json_integer_value(json);
		break;
	case JSON_REAL:
		out->type = EV_REAL;
		out->r = json_real_value(json);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		out->type = EV_INT;
		out->i = json_is_true(json);
		break;
	case JSON_STRING:
		out->type = EV_TEXT;
		out->s = (char *)json_string_value(json); /* borrowed: expr_sql_bind copies */
		break;
	default:
		out->type = EV_NULL;
	}
}

static int prepare_query(struct store_conn *conn, struct store_query *q, struct strbuf *sql,
                         sqlite3_stmt **out, struct crm_ctx *ctx)
{
	int code = prepare_cached(conn, sql->data, q, out, ctx);
	if (code != CRM_OK)
		return code;
	int rc = bind_all(*out, q->sql->bind_count, q->sql->binds);
	if (rc != SQLITE_OK) {
		store_done(conn, *out);
		return store_sql_error(conn, rc, ctx, "bind");
	}
	return CRM_OK;
}

struct store_row {
	sqlite3_stmt *stmt;
	const struct store_query *q;
	const char *keys;        /* '"name":' of each column, back to back (made once per query) */
	const int *key_end;      /* where each column's ends in keys */
};

json_t *store_row_record(const struct store_row *row)
{
	json_t *record = json_object();
	for (int i = 0; i < row->q->column_count; i++)
		json_object_set_new(record, row->q->column_names[i],
		                    store_column_json(row->stmt, i, row->q->column_fields[i]));
	return record;
}

void store_row_write(const struct store_row *row, struct jsonw *out)
{
	jsonw_char(out, '{');
	int start = 0;
	for (int i = 0; i < row->q->column_count; i++) {
		if (i)
			jsonw_char(out, ',');
		jsonw_raw(out, row->keys + start, (size_t)(row->key_end[i] - start));
		start = row->key_end[i];
		column_write(row->stmt, i, row->q->column_fields[i], out);
	}
	jsonw_char(out, '}');
}

json_t *store_row_keys(const struct store_row *row)
{
	json_t *keys = json_array();
	for (int i = 0; i <= row->q->sort_count; i++)
		json_array_append_new(keys, store_column_json(row->stmt, row->q->column_count + i, NULL));
	return keys;
}

int store_select(struct store_conn *conn, struct store_query *q,
                 int (*row_fn)(void *arg, const struct store_row *row), void *arg,
                 struct crm_ctx *ctx)
{
	struct strbuf sql = { 0 };
	strbuf_puts(&sql, "SELECT ");
	for (int i = 0; i < q->column_count; i++)
		strbuf_printf(&sql, "%s, ", q->column_sql[i]);
	for (int i = 0; i < q->sort_count; i++)
		strbuf_printf(&sql, "%s, ", q->sort_sql[i]);
	strbuf_puts(&sql, "t0.\"id\"");
	query_body(q, &sql, true);
	strbuf_puts(&sql, " ORDER BY ");
	for (int i = 0; i < q->sort_count; i++)
		strbuf_printf(&sql, "%s %s, ", q->sort_sql[i], q->sort_dir[i] == STORE_ASC ? "ASC" : "DESC");
	strbuf_puts(&sql, id_direction(q) == STORE_ASC ? "t0.\"id\" ASC" : "t0.\"id\" DESC");
	if (q->limit > 0)
		strbuf_printf(&sql, " LIMIT %d", q->limit);
	sqlite3_stmt *stmt;
	int code = prepare_query(conn, q, &sql, &stmt, ctx);
	strbuf_free(&sql);
	if (code != CRM_OK)
		return code;
	struct jsonw keys = { 0 };
	int *key_end = xcalloc((size_t)q->column_count + 1, sizeof(int));
	for (int i = 0; i < q->column_count; i++) {
		jsonw_key(&keys, q->column_names[i]);
		key_end[i] = (int)keys.len;
	}
	int rc;
	struct store_row row = { .stmt = stmt, .q = q, .keys = keys.data, .key_end = key_end };
	while ((rc = store_step(conn, stmt)) == SQLITE_ROW) {
		int stop = row_fn(arg, &row);
		if (stop) {
			store_done(conn, stmt);
			jsonw_free(&keys);
			free(key_end);
			return stop;
		}
		/* A long export is many statements' worth of work: keep the deadline per row batch. */
		conn->deadline_ns = 0;
	}
	jsonw_free(&keys);
	free(key_end);
	store_done(conn, stmt);
	if (rc != SQLITE_DONE)
		return store_sql_error(conn, rc, ctx, "query");
	return CRM_OK;
}

int store_count(struct store_conn *conn, struct store_query *q, int64_t max, int64_t *out,
                struct crm_ctx *ctx)
{
	struct strbuf sql = { 0 };
	if (max > 0)
		strbuf_puts(&sql, "SELECT count(*) FROM (SELECT 1");
	else
		strbuf_puts(&sql, "SELECT count(*)");
	query_body(q, &sql, false);
	if (max > 0)
		strbuf_printf(&sql, " LIMIT %lld)", (long long)max);
	sqlite3_stmt *stmt;
	int code = prepare_query(conn, q, &sql, &stmt, ctx);
	strbuf_free(&sql);
	if (code != CRM_OK)
		return code;
	int rc = store_step(conn, stmt);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(stmt, 0);
	store_done(conn, stmt);
	if (rc != SQLITE_ROW)
		return store_sql_error(conn, rc, ctx, "count");
	return CRM_OK;
}

int store_max_id(struct store_conn *conn, const struct meta_object *object, int64_t *out,
                 struct crm_ctx *ctx)
{
	struct strbuf sql = { 0 };
	strbuf_puts(&sql, "SELECT coalesce(max(\"id\"), 0) FROM ");
	strbuf_ident(&sql, object->name);
	sqlite3_stmt *stmt;
	int code = store_prepare(conn, sql.data, &stmt, ctx);
	strbuf_free(&sql);
	if (code != CRM_OK)
		return code;
	int rc = store_step(conn, stmt);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(stmt, 0);
	store_done(conn, stmt);
	return rc == SQLITE_ROW ? CRM_OK : store_sql_error(conn, rc, ctx, "max id");
}

int store_aggregate(struct store_conn *conn, struct store_query *q, int group_count,
                    const char **group_sql, const char **group_names,
                    const struct meta_field **group_fields, int measure_count,
                    const char **measure_sql, const char **measure_names, json_t **out,
                    struct crm_ctx *ctx)
{
	struct strbuf sql = { 0 };
	strbuf_puts(&sql, "SELECT ");
	for (int i = 0; i < group_count; i++)
		strbuf_printf(&sql, "%s, ", group_sql[i]);
	for (int i = 0; i < measure_count; i++)
		strbuf_printf(&sql, i ? ", %s" : "%s", measure_sql[i]);
	query_body(q, &sql, false);
	if (group_count) {
		strbuf_puts(&sql, " GROUP BY ");
		for (int i = 1; i <= group_count; i++)
			strbuf_printf(&sql, i > 1 ? ", %d" : "%d", i);
		strbuf_puts(&sql, " ORDER BY ");
		for (int i = 1; i <= group_count; i++)
			strbuf_printf(&sql, i > 1 ? ", %d" : "%d", i);
	}
	strbuf_puts(&sql, " LIMIT 10000");
	sqlite3_stmt *stmt;
	int code = prepare_query(conn, q, &sql, &stmt, ctx);
	strbuf_free(&sql);
	if (code != CRM_OK)
		return code;
	json_t *rows = json_array();
	int rc;
	while ((rc = store_step(conn, stmt)) == SQLITE_ROW) {
		json_t *row = json_object();
		for (int i = 0; i < group_count; i++)
			json_object_set_new(row, group_names[i], store_column_json(stmt, i, group_fields[i]));
		for (int i = 0; i < measure_count; i++)
			json_object_set_new(row, measure_names[i], store_column_json(stmt, group_count + i, NULL));
		json_array_append_new(rows, row);
	}
	store_done(conn, stmt);
	if (rc != SQLITE_DONE) {
		json_decref(rows);
		return store_sql_error(conn, rc, ctx, "aggregate");
	}
	*out = rows;
	return CRM_OK;
}

int store_rows(struct store_conn *conn, const char *sql, const json_t *params,
               int (*row_fn)(void *arg, json_t *row), void *arg, struct crm_ctx *ctx)
{
	sqlite3_stmt *stmt;
	int rc = sqlite3_prepare_v2(conn->db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return store_sql_error(conn, rc, ctx, "prepare");
	size_t i;
	json_t *p;
	json_array_foreach(params, i, p)
		bind_json(stmt, (int)i + 1, p);
	int code = CRM_OK;
	while ((rc = store_step(conn, stmt)) == SQLITE_ROW) {
		json_t *row = json_array();
		for (int c = 0; c < sqlite3_column_count(stmt); c++)
			json_array_append_new(row, store_column_json(stmt, c, NULL));
		int stop = row_fn ? row_fn(arg, row) : 0;
		json_decref(row);
		if (stop) {
			code = stop;
			break;
		}
	}
	if (code == CRM_OK && rc != SQLITE_DONE)
		code = store_sql_error(conn, rc, ctx, "query");
	conn->deadline_ns = 0;
	sqlite3_finalize(stmt);
	return code;
}
