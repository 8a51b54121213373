/*
 * schema.c - schema sync: diff the metadata against the database, print the
 * plan, apply it in one transaction with a journal.
 *
 * The database remembers what it was built from in _crm_fields (object,
 * field, type, enum values) and _crm_indexes. Additive steps (new object,
 * field, index) apply freely. Destructive ones (a removed object or field, a
 * changed type, a narrowed enum) are refused unless allowed, and even then
 * the old data is copied into a _crm_backup_* table first.
 *
 * An object with `search: true` fields also gets a full-text index, kept
 * among the indexes (see search_def).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "expr.h"
#include "meta_model.h"
#include "store.h"
#include "store_internal.h"

enum step_kind {
	STEP_CREATE_TABLE, STEP_ADD_COLUMN, STEP_CREATE_INDEX, STEP_DROP_INDEX,
	STEP_FILL_ROLLUP, STEP_DROP_COLUMN, STEP_CHANGE_TYPE, STEP_NARROW_ENUM,
	STEP_DROP_TABLE,
};

struct schema_step {
	enum step_kind kind;
	bool destructive;
	char *description;
	char *sql;              /* DDL for additive steps; NULL where apply composes it */
	const struct meta_object *object;
	const struct meta_field *field;
	char *name;             /* dropped field/table/index name */
	json_t *removed_values; /* narrowed enum: the values that go */
};

struct schema_plan {
	int count, cap;
	struct schema_step *steps;
	char version[65];
};

static const char *const bootstrap_sql =
	"CREATE TABLE IF NOT EXISTS _crm_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS _crm_fields (object TEXT NOT NULL, field TEXT NOT NULL,"
	"  type TEXT NOT NULL, detail TEXT, PRIMARY KEY (object, field));"
	"CREATE TABLE IF NOT EXISTS _crm_indexes (name TEXT PRIMARY KEY, object TEXT NOT NULL, sql TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS _crm_migrations (id INTEGER PRIMARY KEY, applied_at TEXT NOT NULL,"
	"  metadata_version TEXT NOT NULL, step TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS _crm_sequences (object TEXT NOT NULL, field TEXT NOT NULL,"
	"  next INTEGER NOT NULL, PRIMARY KEY (object, field));"
	/* the audit trail: one row per create, update, delete, restore, purge, transition, login */
	"CREATE TABLE IF NOT EXISTS _crm_audit (id INTEGER PRIMARY KEY, at TEXT NOT NULL, user_id INTEGER,"
	"  request_id TEXT, object TEXT NOT NULL, record_id INTEGER, action TEXT NOT NULL, changes TEXT);"
	"CREATE INDEX IF NOT EXISTS _crm_audit_record ON _crm_audit(object, record_id);"
	/* adoption kpis (source: audit) read one person's or a team's rows of a period */
	"CREATE INDEX IF NOT EXISTS _crm_audit_user ON _crm_audit(user_id, at);"
	/* manual sharing: one record with one user or one team, read or edit */
	"CREATE TABLE IF NOT EXISTS _crm_shares (id INTEGER PRIMARY KEY, object TEXT NOT NULL,"
	"  record_id INTEGER NOT NULL, user_id INTEGER, team_id INTEGER, access TEXT NOT NULL,"
	"  created_by INTEGER, created_at TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS _crm_shares_record ON _crm_shares(object, record_id);"
	"CREATE INDEX IF NOT EXISTS _crm_shares_user ON _crm_shares(user_id, object);"
	"CREATE INDEX IF NOT EXISTS _crm_shares_team ON _crm_shares(team_id, object);"
	/*
	 * identity (auth.c, store_auth.c): hashes only, never a password or a
	 * token in clear; times are Unix seconds. Rows go with their user when
	 * it is purged (so a reused id inherits nothing).
	 */
	"CREATE TABLE IF NOT EXISTS _crm_credentials (user_id INTEGER PRIMARY KEY"
	"  REFERENCES \"user\"(\"id\") ON DELETE CASCADE, hash TEXT NOT NULL, updated_at INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS _crm_sessions (id INTEGER PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE,"
	"  user_id INTEGER NOT NULL REFERENCES \"user\"(\"id\") ON DELETE CASCADE, csrf TEXT NOT NULL, ip TEXT,"
	"  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS _crm_sessions_user ON _crm_sessions(user_id);"
	"CREATE INDEX IF NOT EXISTS _crm_sessions_expiry ON _crm_sessions(expires_at);"
	"CREATE TABLE IF NOT EXISTS _crm_tokens (id INTEGER PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE,"
	"  user_id INTEGER NOT NULL REFERENCES \"user\"(\"id\") ON DELETE CASCADE, name TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL, created_by INTEGER, UNIQUE (user_id, name));"
	/* consumer sign-up: one verification token per user not yet verified (hash, expiry) */
	"CREATE TABLE IF NOT EXISTS _crm_signup_tokens (user_id INTEGER PRIMARY KEY"
	"  REFERENCES \"user\"(\"id\") ON DELETE CASCADE, token_hash TEXT NOT NULL UNIQUE,"
	"  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);"
	/* login failures, kept for the rate limit's window: per login and per address */
	"CREATE TABLE IF NOT EXISTS _crm_login_attempts (id INTEGER PRIMARY KEY, login TEXT NOT NULL, ip TEXT,"
	"  at INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS _crm_login_attempts_login ON _crm_login_attempts(login, at);"
	"CREATE INDEX IF NOT EXISTS _crm_login_attempts_ip ON _crm_login_attempts(ip, at);"
	"CREATE INDEX IF NOT EXISTS _crm_login_attempts_at ON _crm_login_attempts(at);";

static struct schema_step *add_step(struct schema_plan *plan, enum step_kind kind,
                                    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static struct schema_step *add_step(struct schema_plan *plan, enum step_kind kind, const char *fmt, ...)
{
	if (plan->count == plan->cap) {
		plan->cap = plan->cap ? plan->cap * 2 : 16;
		plan->steps = xrealloc(plan->steps, (size_t)plan->cap * sizeof(*plan->steps));
	}
	struct schema_step *s = &plan->steps[plan->count++];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->destructive = kind >= STEP_DROP_COLUMN;
	struct strbuf sb = { 0 };
	va_list ap;
	va_start(ap, fmt);
	strbuf_vprintf(&sb, fmt, ap);
	va_end(ap);
	s->description = strbuf_detach(&sb);
	return s;
}

static const char *column_type(const struct meta_field *f)
{
	switch (meta_field_kind(f)) {
	case KIND_INT:
	case KIND_BOOL:
		return "INTEGER";
	case KIND_REAL:
		return "REAL";
	default:
		return "TEXT";
	}
}

/* "name TYPE [REFERENCES ...]" for a stored field. */
static void column_def(struct strbuf *sb, const struct meta_field *f)
{
	strbuf_ident(sb, f->name);
	strbuf_printf(sb, " %s", column_type(f));
	if (strcmp(f->name, "id") == 0) {
		strbuf_puts(sb, " PRIMARY KEY");
		return;
	}
	if (strcmp(f->name, "version") == 0)
		strbuf_puts(sb, " NOT NULL DEFAULT 1");
	if (!f->system && (f->type == FIELD_REF || f->type == FIELD_USER) && f->target) {
		static const char *const actions[] = { "RESTRICT", "SET NULL", "CASCADE" };
		strbuf_puts(sb, " REFERENCES ");
		strbuf_ident(sb, f->target->name);
		strbuf_printf(sb, "(\"id\") ON DELETE %s", actions[f->on_delete]);
	}
}

/*
 * " DEFAULT <value>" for a column added to a table that may have rows, so that
 * existing records read the field's literal default (a new bool field with
 * `default: false` reads false, not null), as if created with it. SQLite keeps
 * the value in the schema: no row is rewritten. Inserts never use it (every
 * insert binds every column), so a later change of the default in the
 * metadata needs no schema step. DDL takes no bound parameters: the value is
 * written as an SQL literal in the form store.c's bind_json binds it (bool
 * 0/1, numbers, text and the JSON text of multienum and json quoted by
 * SQLite's %Q). Left null: dynamic defaults ($me, $user.<field>, today(),
 * now()), which name the creating user or the time of the create, and an
 * existing record has neither; and unique fields, where one value on every
 * existing row would break the uniqueness.
 */
static void column_default(struct strbuf *sb, const struct meta_field *f)
{
	const json_t *value = f->default_value;
	if (!value || f->default_kind != DEFAULT_VALUE || f->unique)
		return;
	char *text = NULL;
	switch (json_typeof(value)) {
	case JSON_TRUE:
	case JSON_FALSE:
		strbuf_printf(sb, " DEFAULT %d", json_is_true(value) ? 1 : 0);
		return;
	case JSON_INTEGER:
		strbuf_printf(sb, " DEFAULT %" JSON_INTEGER_FORMAT, json_integer_value(value));
		return;
	case JSON_REAL: {
		double real = json_real_value(value);
		char number[40];
		if (!isfinite(real))
			return;
		snprintf(number, sizeof(number), "%.17g", real);
		strbuf_printf(sb, " DEFAULT %s%s", number, strpbrk(number, ".e") ? "" : ".0");
		return;
	}
	case JSON_STRING:
		if (strlen(json_string_value(value)) != json_string_length(value))
			return;   /* an embedded NUL: not expressible as a literal */
		text = sqlite3_mprintf("%Q", json_string_value(value));
		break;
	case JSON_ARRAY:
	case JSON_OBJECT: {
		char *json = json_dumps(value, JSON_COMPACT | JSON_ENSURE_ASCII);
		text = json ? sqlite3_mprintf("%Q", json) : NULL;
		free(json);
		break;
	}
	default:
		return;
	}
	if (text)
		strbuf_printf(sb, " DEFAULT %s", text);
	sqlite3_free(text);
}

/* The type signature remembered per field: changes to it are type changes. */
static void field_signature(const struct meta_field *f, char *out, size_t len)
{
	snprintf(out, len, "%s", meta_field_stored(f) ? meta_type_name(f->type) : "formula");
}

static char *enum_detail(const struct meta_field *f)
{
	if (f->type != FIELD_ENUM && f->type != FIELD_MULTIENUM)
		return NULL;
	json_t *values = json_array();
	for (int i = 0; i < f->value_count; i++)
		json_array_append_new(values, json_string(f->values[i]));
	char *text = json_dumps(values, JSON_COMPACT);
	json_decref(values);
	return text;
}

struct index_def {
	char name[160];
	struct strbuf sql;
	const struct meta_field *geo;   /* the geo field whose point columns this index covers, or NULL */
};

static bool search_def(const struct meta_object *o, struct index_def *d);

/*
 * A geo field's index: "<object>__<field>__geo" on the REAL columns
 * "<field>__lat", "<field>__lng" that the store writes beside each point
 * (store.c), for within()'s box (expr.c). Creating it (apply_step:
 * geo_columns) first adds those columns where the table lacks them and
 * fills them from the points the records hold, so a database made before
 * them gets them at its next `crm migrate` or start, the JSON untouched.
 */
static void geo_def(const struct meta_object *o, const struct meta_field *f, struct index_def *d)
{
	char lat[80], lng[80];
	snprintf(d->name, sizeof(d->name), "%s__%s__geo", o->name, f->name);
	snprintf(lat, sizeof(lat), "%s__lat", f->name);
	snprintf(lng, sizeof(lng), "%s__lng", f->name);
	strbuf_puts(&d->sql, "CREATE INDEX ");
	strbuf_ident(&d->sql, d->name);
	strbuf_puts(&d->sql, " ON ");
	strbuf_ident(&d->sql, o->name);
	strbuf_putc(&d->sql, '(');
	strbuf_ident(&d->sql, lat);
	strbuf_puts(&d->sql, ", ");
	strbuf_ident(&d->sql, lng);
	strbuf_putc(&d->sql, ')');
	d->geo = f;
}

/*
 * The end of a record index's columns. Every query of live records says
 * `deleted_at IS NULL`, and an index that cannot answer it makes SQLite
 * fetch each row it walks from the table to test one column: grouping a
 * million accounts by an indexed enum walked (industry, annual_revenue) and
 * took 6 s cold, over 2 s warm (400 "query took too long"), where a scan of
 * the table took 0.7 s. So a unique or declared index covers live records
 * only (`WHERE deleted_at IS NULL`: a deleted record gives its unique value
 * back, and (fields..., id) stays the order a sorted page reads), and the
 * count is an index-only scan; a ref index keeps deleted records, since a
 * restore finds a deleted parent's children by their ref, and ends with
 * deleted_at instead, which an equality lookup (ref = ? AND deleted_at IS
 * NULL) reads in id order all the same.
 */
static void index_tail(struct strbuf *sql, bool live_only)
{
	strbuf_puts(sql, live_only ? ") WHERE \"deleted_at\" IS NULL" : ", \"deleted_at\")");
}

/* Every index the metadata asks for (refs, owner, unique fields, declared indexes), and the recycle bin's. */
static int index_defs(const struct meta_object *o, struct index_def **out)
{
	int cap = 2 * o->field_count + o->index_count + 2, count = 0;
	struct index_def *defs = xcalloc((size_t)cap, sizeof(*defs));
	for (int i = 0; i < o->field_count; i++) {
		const struct meta_field *f = &o->fields[i];
		if (f->type == FIELD_GEO)
			geo_def(o, f, &defs[count++]);
		bool ref = (f->type == FIELD_REF || f->type == FIELD_USER) && (!f->system || strcmp(f->name, "owner") == 0);
		if (!ref && !f->unique)
			continue;
		struct index_def *d = &defs[count++];
		snprintf(d->name, sizeof(d->name), "%s__%s__%s", o->name, f->name, f->unique ? "uniq" : "idx");
		strbuf_printf(&d->sql, "CREATE %sINDEX ", f->unique ? "UNIQUE " : "");
		strbuf_ident(&d->sql, d->name);
		strbuf_puts(&d->sql, " ON ");
		strbuf_ident(&d->sql, o->name);
		strbuf_putc(&d->sql, '(');
		strbuf_ident(&d->sql, f->name);
		index_tail(&d->sql, f->unique);   /* a ref's: deleted records too */
	}
	for (int i = 0; i < o->index_count; i++) {
		const struct meta_index *ix = &o->indexes[i];
		struct index_def *d = &defs[count++];
		struct strbuf name = { 0 };
		strbuf_puts(&name, o->name);
		for (int j = 0; j < ix->field_count; j++)
			strbuf_printf(&name, "__%s", ix->fields[j]);
		strbuf_puts(&name, ix->unique ? "__uniq" : "__idx");
		snprintf(d->name, sizeof(d->name), "%s", name.data);
		strbuf_free(&name);
		strbuf_printf(&d->sql, "CREATE %sINDEX ", ix->unique ? "UNIQUE " : "");
		strbuf_ident(&d->sql, d->name);
		strbuf_puts(&d->sql, " ON ");
		strbuf_ident(&d->sql, o->name);
		strbuf_putc(&d->sql, '(');
		for (int j = 0; j < ix->field_count; j++) {
			if (j)
				strbuf_puts(&d->sql, ", ");
			strbuf_ident(&d->sql, ix->fields[j]);
		}
		index_tail(&d->sql, true);
	}
	/*
	 * The recycle bin: a partial index of deleted records only, so listing
	 * the bin and the hourly retention purge do not scan the table (a
	 * million live records cost it nothing: they are not in it).
	 */
	struct index_def *d = &defs[count++];
	snprintf(d->name, sizeof(d->name), "%s__deleted_at__idx", o->name);
	strbuf_puts(&d->sql, "CREATE INDEX ");
	strbuf_ident(&d->sql, d->name);
	strbuf_puts(&d->sql, " ON ");
	strbuf_ident(&d->sql, o->name);
	strbuf_puts(&d->sql, "(\"deleted_at\") WHERE \"deleted_at\" IS NOT NULL");
	if (search_def(o, &defs[count]))
		count++;
	*out = defs;
	return count;
}

/*
 * The full-text index of o's stored `search: true` fields, or false when it
 * has none: an FTS5 table "<object>__search" with rowid = record id and the
 * trigram tokenizer, which finds any substring of 3 or more characters in
 * Chinese, Japanese and English alike with no word segmentation. It keeps its
 * own copy of the text, so a record's entry goes by id alone and a missed
 * write could only leave it stale, never corrupt it. The store's write path
 * keeps it in step (store.c: search_sync), in the writer's transaction. The
 * script fills it from the records already there; a change of the searchable
 * fields changes the script, which drops and refills it.
 */
static bool search_def(const struct meta_object *o, struct index_def *d)
{
	struct strbuf cols = { 0 };
	if (!store_search_columns(o, &cols))
		return false;
	snprintf(d->name, sizeof(d->name), "%s__search", o->name);
	struct strbuf *sql = &d->sql;
	strbuf_puts(sql, "CREATE VIRTUAL TABLE ");
	strbuf_ident(sql, d->name);
	strbuf_printf(sql, " USING fts5(%s, tokenize='trigram case_sensitive 0'); INSERT INTO ", cols.data);
	strbuf_ident(sql, d->name);
	strbuf_printf(sql, "(rowid, %s) SELECT \"id\", %s FROM ", cols.data, cols.data);
	strbuf_ident(sql, o->name);
	strbuf_free(&cols);
	return true;
}

static bool is_search_index(const char *name)
{
	size_t len = strlen(name), tail = strlen("__search");
	return len > tail && strcmp(name + len - tail, "__search") == 0;
}

/* Appends the SQL that drops index name (a full-text index is a table). */
static void drop_index_sql(struct strbuf *sql, const char *name)
{
	strbuf_puts(sql, is_search_index(name) ? "DROP TABLE IF EXISTS " : "DROP INDEX IF EXISTS ");
	strbuf_ident(sql, name);
}

static void index_defs_free(struct index_def *defs, int count)
{
	for (int i = 0; i < count; i++)
		strbuf_free(&defs[i].sql);
	free(defs);
}

struct known {
	json_t *fields;   /* { object: { field: [type, detail] } } */
	json_t *indexes;  /* { name: [object, sql] } */
};

static int collect_field(void *arg, json_t *row)
{
	struct known *k = arg;
	const char *object = json_string_value(json_array_get(row, 0));
	json_t *fields = json_object_get(k->fields, object);
	if (!fields) {
		fields = json_object();
		json_object_set_new(k->fields, object, fields);
	}
	json_object_set_new(fields, json_string_value(json_array_get(row, 1)),
	                    json_pack("[OO]", json_array_get(row, 2), json_array_get(row, 3)));
	return 0;
}

static int collect_index(void *arg, json_t *row)
{
	struct known *k = arg;
	json_object_set_new(k->indexes, json_string_value(json_array_get(row, 0)),
	                    json_pack("[OO]", json_array_get(row, 1), json_array_get(row, 2)));
	return 0;
}

int schema_plan(struct store *store, struct schema_plan **out, struct crm_ctx *ctx)
{
	const struct meta *meta = store_meta(store);
	struct store_conn *conn;
	int code = store_begin(store, &conn, ctx);
	if (code != CRM_OK)
		return code;
	code = store_exec(conn, bootstrap_sql, ctx);
	if (code != CRM_OK) {
		store_rollback(conn);
		return code;
	}
	struct known k = { json_object(), json_object() };
	code = store_rows(conn, "SELECT object, field, type, detail FROM _crm_fields", NULL,
	                  collect_field, &k, ctx);
	if (code == CRM_OK)
		code = store_rows(conn, "SELECT name, object, sql FROM _crm_indexes", NULL,
		                  collect_index, &k, ctx);
	if (code != CRM_OK) {
		store_rollback(conn);
		goto cleanup;
	}
	code = store_commit(conn, ctx);
	if (code != CRM_OK)
		goto cleanup;

	struct schema_plan *plan = xcalloc(1, sizeof(*plan));
	snprintf(plan->version, sizeof(plan->version), "%s", meta->version);
	json_t *wanted_indexes = json_object();
	for (int oi = 0; oi < meta->object_count; oi++) {
		const struct meta_object *o = &meta->objects[oi];
		json_t *have = json_object_get(k.fields, o->name);
		if (!have) {
			struct strbuf sql = { 0 };
			strbuf_puts(&sql, "CREATE TABLE ");
			strbuf_ident(&sql, o->name);
			strbuf_puts(&sql, " (");
			int n = 0;
			for (int i = 0; i < o->field_count; i++) {
				if (!meta_field_stored(&o->fields[i]))
					continue;
				if (n++)
					strbuf_puts(&sql, ", ");
				column_def(&sql, &o->fields[i]);
			}
			strbuf_puts(&sql, ")");
			struct schema_step *s = add_step(plan, STEP_CREATE_TABLE, "create object %s (%d fields)",
			                                 o->name, o->field_count);
			s->sql = strbuf_detach(&sql);
			s->object = o;
		}
		bool retyped = false;   /* a retyped or narrowed searchable column: refill the full-text index */
		for (int i = 0; i < o->field_count; i++) {
			const struct meta_field *f = &o->fields[i];
			json_t *was = have ? json_object_get(have, f->name) : NULL;
			char sig[64];
			field_signature(f, sig, sizeof(sig));
			if (have && !was) {
				struct schema_step *s = add_step(plan, STEP_ADD_COLUMN, "add field %s.%s (%s)",
				                                 o->name, f->name, meta_type_name(f->type));
				s->object = o;
				s->field = f;
				if (meta_field_stored(f)) {
					struct strbuf sql = { 0 };
					strbuf_puts(&sql, "ALTER TABLE ");
					strbuf_ident(&sql, o->name);
					strbuf_puts(&sql, " ADD COLUMN ");
					column_def(&sql, f);
					size_t plain = sql.len;
					column_default(&sql, f);
					if (sql.len > plain) {   /* say so in the plan: existing records change */
						char *value = json_dumps(f->default_value, JSON_ENCODE_ANY | JSON_COMPACT);
						free(s->description);
						struct strbuf text = { 0 };
						strbuf_printf(&text, "add field %s.%s (%s; existing records get %s)", o->name, f->name,
						              meta_type_name(f->type), value ? value : "its default");
						s->description = strbuf_detach(&text);
						free(value);
					}
					s->sql = strbuf_detach(&sql);
				}
				if (f->type == FIELD_ROLLUP) {
					struct schema_step *r = add_step(plan, STEP_FILL_ROLLUP, "compute rollup %s.%s",
					                                 o->name, f->name);
					r->object = o;
					r->field = f;
				}
				continue;
			}
			if (!was)
				continue;
			const char *old_sig = json_string_value(json_array_get(was, 0));
			if (strcmp(old_sig, sig) != 0) {
				retyped |= f->search;
				struct schema_step *s = add_step(plan, STEP_CHANGE_TYPE,
					"change type of %s.%s from %s to %s (old values kept in a backup table)",
					o->name, f->name, old_sig, sig);
				s->object = o;
				s->field = f;
				continue;
			}
			const char *old_detail = json_string_value(json_array_get(was, 1));
			if (old_detail && (f->type == FIELD_ENUM || f->type == FIELD_MULTIENUM)) {
				json_t *old_values = json_loads(old_detail, 0, NULL);
				json_t *removed = json_array();
				size_t vi;
				json_t *v;
				json_array_foreach(old_values, vi, v) {
					bool kept = false;
					for (int j = 0; j < f->value_count && !kept; j++)
						kept = strcmp(f->values[j], json_string_value(v)) == 0;
					if (!kept)
						json_array_append(removed, v);
				}
				json_decref(old_values);
				if (json_array_size(removed)) {
					retyped |= f->search;
					char *list = json_dumps(removed, JSON_COMPACT);
					struct schema_step *s = add_step(plan, STEP_NARROW_ENUM,
						"narrow enum %s.%s: remove %s (records holding them are kept in a backup table and cleared)",
						o->name, f->name, list);
					free(list);
					s->object = o;
					s->field = f;
					s->removed_values = removed;
				} else {
					json_decref(removed);
					/* widened: only the remembered list changes */
					char *detail = enum_detail(f);
					if (strcmp(detail, old_detail) != 0) {
						struct schema_step *s = add_step(plan, STEP_ADD_COLUMN,
							"widen enum %s.%s", o->name, f->name);
						s->object = o;
						s->field = f;
					}
					free(detail);
				}
			}
		}
		if (have) {
			const char *name;
			json_t *was;
			json_object_foreach(have, name, was) {
				if (meta_find_field(o, name))
					continue;
				struct schema_step *s = add_step(plan, STEP_DROP_COLUMN,
					"remove field %s.%s (its values are kept in a backup table)", o->name, name);
				s->object = o;
				s->name = xstrdup(name);
			}
		}
		struct index_def *defs;
		int def_count = index_defs(o, &defs);
		for (int i = 0; i < def_count; i++) {
			json_object_set_new(wanted_indexes, defs[i].name, json_true());
			json_t *was = json_object_get(k.indexes, defs[i].name);
			if (was && strcmp(json_string_value(json_array_get(was, 1)), defs[i].sql.data) == 0
			    && !(retyped && is_search_index(defs[i].name)))
				continue;
			if (was) {
				struct schema_step *d = add_step(plan, STEP_DROP_INDEX, "drop changed index %s", defs[i].name);
				d->name = xstrdup(defs[i].name);
			}
			struct schema_step *s = defs[i].geo
				? add_step(plan, STEP_CREATE_INDEX, "create index %s (the points of %s.%s as numbers, filled "
				           "from the records that have one)", defs[i].name, o->name, defs[i].geo->name)
				: add_step(plan, STEP_CREATE_INDEX, "create index %s", defs[i].name);
			s->object = o;
			s->field = defs[i].geo;
			s->name = xstrdup(defs[i].name);
			s->sql = xstrdup(defs[i].sql.data);
		}
		index_defs_free(defs, def_count);
	}
	const char *name;
	json_t *was;
	json_object_foreach(k.indexes, name, was) {
		if (json_object_get(wanted_indexes, name))
			continue;
		if (!meta_find_object(meta, json_string_value(json_array_get(was, 0))))
			continue; /* goes with its table */
		struct schema_step *s = add_step(plan, STEP_DROP_INDEX, "drop index %s", name);
		s->name = xstrdup(name);
	}
	json_decref(wanted_indexes);
	json_t *fields;
	json_object_foreach(k.fields, name, fields) {
		if (meta_find_object(meta, name))
			continue;
		struct schema_step *s = add_step(plan, STEP_DROP_TABLE,
			"remove object %s (its table is kept as a backup table)", name);
		s->name = xstrdup(name);
	}
	*out = plan;
cleanup:
	json_decref(k.fields);
	json_decref(k.indexes);
	return code;
}

void schema_plan_print(const struct schema_plan *plan, void *stream)
{
	FILE *f = stream;
	if (plan->count == 0) {
		fprintf(f, "schema is up to date (metadata %.12s)\n", plan->version);
		return;
	}
	int tables = 0, indexes = 0;
	for (int i = 0; i < plan->count; i++) {
		tables += plan->steps[i].kind == STEP_CREATE_TABLE;
		indexes += plan->steps[i].kind == STEP_CREATE_INDEX;
	}
	if (tables + indexes == plan->count && tables > 0) {
		/* a new database: the list would only repeat the metadata */
		fprintf(f, "schema: creating %d objects and %d indexes (metadata %.12s)\n", tables, indexes, plan->version);
		return;
	}
	fprintf(f, "schema plan (%d steps, metadata %.12s):\n", plan->count, plan->version);
	for (int i = 0; i < plan->count; i++)
		fprintf(f, "  %s %s\n", plan->steps[i].destructive ? "!" : "+", plan->steps[i].description);
}

int schema_plan_step_count(const struct schema_plan *plan)
{
	return plan->count;
}

bool schema_plan_destructive(const struct schema_plan *plan)
{
	for (int i = 0; i < plan->count; i++)
		if (plan->steps[i].destructive)
			return true;
	return false;
}

static void backup_name(struct strbuf *sb, const char *object, const char *field)
{
	strbuf_printf(sb, "_crm_backup_%s_%s_%lld", object, field ? field : "table", (long long)time(NULL));
}

static int remember_field(struct store_conn *conn, const struct meta_object *o,
                          const struct meta_field *f, struct crm_ctx *ctx)
{
	char sig[64];
	field_signature(f, sig, sizeof(sig));
	char *detail = enum_detail(f);
	json_t *params = json_pack("[ssso]", o->name, f->name, sig, detail ? json_string(detail) : json_null());
	free(detail);
	int code = store_rows(conn, "INSERT INTO _crm_fields(object, field, type, detail) VALUES (?1, ?2, ?3, ?4) "
	                      "ON CONFLICT(object, field) DO UPDATE SET type = excluded.type, detail = excluded.detail",
	                      params, NULL, NULL, ctx);
	json_decref(params);
	return code;
}

static int exec_params(struct store_conn *conn, const char *sql, json_t *params, struct crm_ctx *ctx)
{
	int code = store_rows(conn, sql, params, NULL, NULL, ctx);
	json_decref(params);
	return code;
}

static int collect_name(void *arg, json_t *row)
{
	json_array_append(arg, json_array_get(row, 0));
	return 0;
}

/* Drops the indexes that cover a column (SQLite refuses to drop an indexed column). */
static int drop_column_indexes(struct store_conn *conn, const char *object, const char *field,
                               struct crm_ctx *ctx)
{
	struct strbuf like = { 0 };
	strbuf_puts(&like, "%(%");
	strbuf_ident(&like, field);
	strbuf_puts(&like, "%");
	json_t *names = json_array();
	json_t *params = json_pack("[ss]", object, like.data);
	int code = store_rows(conn, "SELECT name FROM _crm_indexes WHERE object = ?1 AND sql LIKE ?2",
	                      params, collect_name, names, ctx);
	json_decref(params);
	strbuf_free(&like);
	size_t i;
	json_t *name;
	json_array_foreach(names, i, name) {
		if (code != CRM_OK)
			break;
		struct strbuf sql = { 0 };
		drop_index_sql(&sql, json_string_value(name));
		code = store_exec(conn, sql.data, ctx);
		strbuf_free(&sql);
		if (code == CRM_OK)
			code = exec_params(conn, "DELETE FROM _crm_indexes WHERE name = ?1", json_pack("[O]", name), ctx);
	}
	json_decref(names);
	return code;
}

static int has_column(struct store_conn *conn, const char *table, const char *column, bool *out,
                      struct crm_ctx *ctx)
{
	json_t *names = json_array(), *params = json_pack("[ss]", table, column);
	int code = store_rows(conn, "SELECT name FROM pragma_table_info(?1) WHERE name = ?2", params, collect_name,
	                      names, ctx);
	*out = json_array_size(names) > 0;
	json_decref(params);
	json_decref(names);
	return code;
}

/*
 * add: gives object the columns "<field>__lat" and "<field>__lng" where it
 * lacks them and fills them from the stored points, with crm_geo_lat and
 * crm_geo_lng (expr.c: the evaluator's own reading of a point), which
 * every connection registers. !add: drops them and their index (a geo
 * field removed or retyped); what is not there is no error.
 */
static int geo_columns(struct store_conn *conn, const struct meta_object *o, const char *field, bool add,
                       struct crm_ctx *ctx)
{
	static const char *const suffixes[2] = { "__lat", "__lng" };
	struct strbuf sql = { 0 };
	int code = CRM_OK;
	if (!add) {
		strbuf_printf(&sql, "%s__%s__geo", o->name, field);
		code = exec_params(conn, "DELETE FROM _crm_indexes WHERE name = ?1", json_pack("[s]", sql.data), ctx);
		char *name = strbuf_detach(&sql);
		drop_index_sql(&sql, name);
		free(name);
		if (code == CRM_OK)
			code = store_exec(conn, sql.data, ctx);
	}
	bool filled = false;
	for (int i = 0; i < 2 && code == CRM_OK; i++) {
		char column[80];
		bool present;
		snprintf(column, sizeof(column), "%s%s", field, suffixes[i]);
		code = has_column(conn, o->name, column, &present, ctx);
		if (code != CRM_OK || present == add)
			continue;
		strbuf_reset(&sql);
		strbuf_puts(&sql, "ALTER TABLE ");
		strbuf_ident(&sql, o->name);
		strbuf_puts(&sql, add ? " ADD COLUMN " : " DROP COLUMN ");
		strbuf_ident(&sql, column);
		if (add)
			strbuf_puts(&sql, " REAL");
		code = store_exec(conn, sql.data, ctx);
		filled |= add;
	}
	if (code == CRM_OK && filled) {
		strbuf_reset(&sql);
		strbuf_puts(&sql, "UPDATE ");
		strbuf_ident(&sql, o->name);
		for (int i = 0; i < 2; i++) {
			char column[80];
			snprintf(column, sizeof(column), "%s%s", field, suffixes[i]);
			strbuf_puts(&sql, i ? ", " : " SET ");
			strbuf_ident(&sql, column);
			strbuf_printf(&sql, " = %s(", i ? EXPR_SQL_GEO_LNG : EXPR_SQL_GEO_LAT);
			strbuf_ident(&sql, field);
			strbuf_putc(&sql, ')');
		}
		strbuf_puts(&sql, " WHERE ");
		strbuf_ident(&sql, field);
		strbuf_puts(&sql, " IS NOT NULL");
		code = store_exec(conn, sql.data, ctx);
	}
	strbuf_free(&sql);
	return code;
}

static int apply_step(struct store_conn *conn, const struct schema_step *s, struct crm_ctx *ctx)
{
	struct strbuf sql = { 0 };
	int code = CRM_OK;
	switch (s->kind) {
	case STEP_CREATE_TABLE:
		code = store_exec(conn, s->sql, ctx);
		for (int i = 0; code == CRM_OK && i < s->object->field_count; i++)
			code = remember_field(conn, s->object, &s->object->fields[i], ctx);
		break;
	case STEP_ADD_COLUMN:
		if (s->sql)
			code = store_exec(conn, s->sql, ctx);
		if (code == CRM_OK)
			code = remember_field(conn, s->object, s->field, ctx);
		break;
	case STEP_CREATE_INDEX:
		if (s->field && s->field->type == FIELD_GEO)
			code = geo_columns(conn, s->object, s->field->name, true, ctx);
		if (code == CRM_OK)
			code = store_exec(conn, s->sql, ctx);
		if (code == CRM_OK)
			code = exec_params(conn, "INSERT OR REPLACE INTO _crm_indexes(name, object, sql) VALUES (?1, ?2, ?3)",
			                   json_pack("[sss]", s->name, s->object->name, s->sql), ctx);
		break;
	case STEP_DROP_INDEX:
		drop_index_sql(&sql, s->name);
		code = store_exec(conn, sql.data, ctx);
		if (code == CRM_OK)
			code = exec_params(conn, "DELETE FROM _crm_indexes WHERE name = ?1",
			                   json_pack("[s]", s->name), ctx);
		break;
	case STEP_FILL_ROLLUP: {
		const struct meta_field *f = s->field;
		struct expr_sql b = { .meta = store_meta(store_conn_store(conn)), .object = f->rollup_child, .base_alias = "c0" };
		char err[256];
		strbuf_puts(&sql, "UPDATE ");
		strbuf_ident(&sql, s->object->name);
		strbuf_puts(&sql, " AS p SET ");
		strbuf_ident(&sql, f->name);
		strbuf_puts(&sql, " = (SELECT ");
		code = store_rollup_sql(&b, f, &sql, err, sizeof(err));
		struct strbuf where = { 0 };
		if (code == CRM_OK && f->rollup_where_expr)
			code = expr_compile(&b, f->rollup_where_expr, &where, err, sizeof(err));
		if (code != CRM_OK) {
			crm_error(ctx, CRM_EMETA, "rollup %s.%s: %s", s->object->name, f->name, err);
			strbuf_free(&where);
			expr_sql_free(&b);
			break;
		}
		strbuf_puts(&sql, " FROM ");
		strbuf_ident(&sql, f->rollup_child->name);
		strbuf_puts(&sql, " c0");
		if (b.joins.data)
			strbuf_puts(&sql, b.joins.data);
		strbuf_puts(&sql, " WHERE c0.");
		strbuf_ident(&sql, f->rollup_child_field->name);
		strbuf_puts(&sql, " = p.\"id\" AND c0.\"deleted_at\" IS NULL");
		if (where.data)
			strbuf_printf(&sql, " AND (%s)", where.data);
		strbuf_putc(&sql, ')');
		strbuf_free(&where);
		json_t *params = json_array();
		for (int i = 0; i < b.bind_count; i++) {
			struct expr_value *v = &b.binds[i];
			json_array_append_new(params, v->type == EV_INT || v->type == EV_BOOL ? json_integer(v->i)
				: v->type == EV_REAL ? json_real(v->r) : v->type == EV_TEXT ? json_string(v->s) : json_null());
		}
		code = exec_params(conn, sql.data, params, ctx);
		expr_sql_free(&b);
		break;
	}
	case STEP_DROP_COLUMN: {
		struct strbuf backup = { 0 };
		backup_name(&backup, s->object->name, s->name);
		strbuf_puts(&sql, "CREATE TABLE ");
		strbuf_ident(&sql, backup.data);
		strbuf_puts(&sql, " AS SELECT \"id\", ");
		strbuf_ident(&sql, s->name);
		strbuf_puts(&sql, " FROM ");
		strbuf_ident(&sql, s->object->name);
		code = store_exec(conn, sql.data, ctx);
		strbuf_reset(&sql);
		if (code == CRM_OK)
			code = drop_column_indexes(conn, s->object->name, s->name, ctx);
		if (code == CRM_OK)
			code = geo_columns(conn, s->object, s->name, false, ctx);
		if (code == CRM_OK) {
			/* formulas have no column: only drop what exists */
			strbuf_puts(&sql, "ALTER TABLE ");
			strbuf_ident(&sql, s->object->name);
			strbuf_puts(&sql, " DROP COLUMN ");
			strbuf_ident(&sql, s->name);
			int rc = store_exec(conn, sql.data, ctx);
			if (rc != CRM_OK && !strstr(ctx->message, "no such column"))
				code = rc;
		}
		if (code == CRM_OK)
			code = exec_params(conn, "DELETE FROM _crm_fields WHERE object = ?1 AND field = ?2",
			                   json_pack("[ss]", s->object->name, s->name), ctx);
		strbuf_free(&backup);
		break;
	}
	case STEP_CHANGE_TYPE: {
		/* Keep the old values, then start the column afresh with the new type. */
		struct strbuf backup = { 0 };
		backup_name(&backup, s->object->name, s->field->name);
		strbuf_puts(&sql, "CREATE TABLE ");
		strbuf_ident(&sql, backup.data);
		strbuf_puts(&sql, " AS SELECT \"id\", ");
		strbuf_ident(&sql, s->field->name);
		strbuf_puts(&sql, " FROM ");
		strbuf_ident(&sql, s->object->name);
		int rc = store_exec(conn, sql.data, ctx);
		if (rc != CRM_OK && !strstr(ctx->message, "no such column")) {
			code = rc;
			strbuf_free(&backup);
			break;
		}
		strbuf_reset(&sql);
		drop_column_indexes(conn, s->object->name, s->field->name, ctx);
		if (s->field->type != FIELD_GEO)
			geo_columns(conn, s->object, s->field->name, false, ctx);
		strbuf_puts(&sql, "ALTER TABLE ");
		strbuf_ident(&sql, s->object->name);
		strbuf_puts(&sql, " DROP COLUMN ");
		strbuf_ident(&sql, s->field->name);
		store_exec(conn, sql.data, ctx);
		crm_error_reset(ctx);
		strbuf_reset(&sql);
		if (meta_field_stored(s->field)) {
			strbuf_puts(&sql, "ALTER TABLE ");
			strbuf_ident(&sql, s->object->name);
			strbuf_puts(&sql, " ADD COLUMN ");
			column_def(&sql, s->field);
			code = store_exec(conn, sql.data, ctx);
		}
		if (code == CRM_OK)
			code = remember_field(conn, s->object, s->field, ctx);
		strbuf_free(&backup);
		break;
	}
	case STEP_NARROW_ENUM: {
		struct strbuf backup = { 0 };
		backup_name(&backup, s->object->name, s->field->name);
		struct strbuf cond = { 0 };
		char *list = json_dumps(s->removed_values, JSON_COMPACT);
		if (s->field->type == FIELD_ENUM) {
			strbuf_ident(&cond, s->field->name);
			strbuf_puts(&cond, " IN (SELECT value FROM json_each(?1))");
		} else {
			strbuf_puts(&cond, "EXISTS (SELECT 1 FROM json_each(");
			strbuf_ident(&cond, s->field->name);
			strbuf_puts(&cond, ") v WHERE v.value IN (SELECT value FROM json_each(?1)))");
		}
		strbuf_puts(&sql, "CREATE TABLE ");
		strbuf_ident(&sql, backup.data);
		strbuf_puts(&sql, " AS SELECT \"id\", ");
		strbuf_ident(&sql, s->field->name);
		strbuf_puts(&sql, " FROM ");
		strbuf_ident(&sql, s->object->name);
		strbuf_printf(&sql, " WHERE %s", cond.data);
		code = exec_params(conn, sql.data, json_pack("[s]", list), ctx);
		strbuf_reset(&sql);
		if (code == CRM_OK) {
			strbuf_puts(&sql, "UPDATE ");
			strbuf_ident(&sql, s->object->name);
			strbuf_puts(&sql, " SET ");
			strbuf_ident(&sql, s->field->name);
			strbuf_printf(&sql, " = NULL WHERE %s", cond.data);
			code = exec_params(conn, sql.data, json_pack("[s]", list), ctx);
		}
		if (code == CRM_OK)
			code = remember_field(conn, s->object, s->field, ctx);
		free(list);
		strbuf_free(&cond);
		strbuf_free(&backup);
		break;
	}
	case STEP_DROP_TABLE: {
		struct strbuf backup = { 0 };
		backup_name(&backup, s->name, NULL);
		/* the full-text index goes with its object (the backup keeps the text) */
		struct strbuf search = { 0 };
		strbuf_printf(&search, "%s__search", s->name);
		drop_index_sql(&sql, search.data);
		strbuf_free(&search);
		strbuf_puts(&sql, "; ALTER TABLE ");
		strbuf_ident(&sql, s->name);
		strbuf_puts(&sql, " RENAME TO ");
		strbuf_ident(&sql, backup.data);
		code = store_exec(conn, sql.data, ctx);
		if (code == CRM_OK)
			code = exec_params(conn, "DELETE FROM _crm_fields WHERE object = ?1",
			                   json_pack("[s]", s->name), ctx);
		if (code == CRM_OK)
			code = exec_params(conn, "DELETE FROM _crm_indexes WHERE object = ?1",
			                   json_pack("[s]", s->name), ctx);
		strbuf_free(&backup);
		break;
	}
	}
	strbuf_free(&sql);
	return code;
}

int schema_apply(struct store *store, const struct schema_plan *plan, bool allow_destructive,
                 struct crm_ctx *ctx)
{
	if (!allow_destructive) {
		for (int i = 0; i < plan->count; i++) {
			if (plan->steps[i].destructive)
				return crm_error(ctx, CRM_EDESTRUCTIVE,
					"refusing a destructive schema change: %s (run 'crm migrate --allow-destructive' "
					"to apply it; the old data is kept in a backup table)", plan->steps[i].description);
		}
	}
	struct store_conn *conn;
	int code = store_begin(store, &conn, ctx);
	if (code != CRM_OK)
		return code;
	code = store_exec(conn, bootstrap_sql, ctx);
	char now[32];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* Tables first, so that indexes and rollups find their columns. */
	for (int pass = 0; pass < 3 && code == CRM_OK; pass++) {
		for (int i = 0; i < plan->count && code == CRM_OK; i++) {
			const struct schema_step *s = &plan->steps[i];
			int want = s->kind == STEP_CREATE_TABLE || s->kind == STEP_ADD_COLUMN ? 0
				: s->kind == STEP_FILL_ROLLUP ? 2 : 1;
			if (want != pass)
				continue;
			code = apply_step(conn, s, ctx);
			if (code == CRM_OK)
				code = exec_params(conn, "INSERT INTO _crm_migrations(applied_at, metadata_version, step) "
				                   "VALUES (?1, ?2, ?3)", json_pack("[sss]", now, plan->version, s->description), ctx);
		}
	}
	if (code == CRM_OK && store_setting_set(conn, "metadata_version", plan->version) != CRM_OK)
		code = crm_error(ctx, CRM_EIO, "cannot record the metadata version");
	if (code != CRM_OK) {
		char message[sizeof(ctx->message)];
		snprintf(message, sizeof(message), "%s", ctx->message);
		store_rollback(conn);
		return crm_error(ctx, code, "schema change failed and was rolled back: %s", message);
	}
	return store_commit(conn, ctx);
}

int schema_search_rebuild(struct store *store, const char *object, int *out_count, struct crm_ctx *ctx)
{
	const struct meta *meta = store_meta(store);
	if (object && !meta_find_object(meta, object))
		return crm_error(ctx, CRM_ENOTFOUND, "unknown object '%.64s'", object);
	struct store_conn *conn;
	int code = store_begin(store, &conn, ctx);
	if (code != CRM_OK)
		return code;
	int count = 0;
	for (int oi = 0; code == CRM_OK && oi < meta->object_count; oi++) {
		const struct meta_object *o = &meta->objects[oi];
		struct index_def d = { 0 };
		if ((object && strcmp(object, o->name) != 0) || !search_def(o, &d))
			continue;
		/* dropped and created: a damaged or missing index comes back whole */
		struct strbuf sql = { 0 };
		drop_index_sql(&sql, d.name);
		strbuf_puts(&sql, "; ");
		strbuf_puts(&sql, d.sql.data);
		code = store_exec(conn, sql.data, ctx);
		if (code == CRM_OK)
			code = exec_params(conn, "INSERT OR REPLACE INTO _crm_indexes(name, object, sql) VALUES (?1, ?2, ?3)",
			                   json_pack("[sss]", d.name, o->name, d.sql.data), ctx);
		strbuf_free(&sql);
		strbuf_free(&d.sql);
		count++;
	}
	if (code != CRM_OK) {
		store_rollback(conn);
		return code;
	}
	code = store_commit(conn, ctx);
	if (code == CRM_OK)
		*out_count = count;
	return code;
}

void schema_plan_free(struct schema_plan *plan)
{
	if (!plan)
		return;
	for (int i = 0; i < plan->count; i++) {
		free(plan->steps[i].description);
		free(plan->steps[i].sql);
		free(plan->steps[i].name);
		json_decref(plan->steps[i].removed_values);
	}
	free(plan->steps);
	free(plan);
}
