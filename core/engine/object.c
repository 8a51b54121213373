/*
 * object.c - the object API (see object.h): the one door to records.
 *
 * Each call finds the object in the metadata, normalises and validates the
 * values (every field error at once), and asks the store to read or write.
 * Writes run on the single writer inside the caller's transaction
 * (object_begin) or one of their own; reads use the caller's transaction if
 * one is open, else a reader connection. Derived data (autonumbers, rollups
 * on parents) is maintained in the same transaction as the write.
 */
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "access.h"
#include "eval.h"
#include "events.h"
#include "expr.h"
#include "jsonw.h"
#include "context.h"
#include "meta_model.h"
#include "object.h"
#include "store.h"

#define MAX_HOOK_DEPTH 8
#define MAX_SORT_KEYS 8
#define MAX_SEARCH_TEXT 200   /* bytes of search text */
#define MAX_SEARCH_TERMS 16
#define MAX_FIELDS 200
#define MAX_JSON_VALUE 65536
#define CASCADE_LIMIT 10000

/* --- context and connections ----------------------------------------- */

void crm_ctx_clear(struct crm_ctx *ctx)
{
	context_read_end(ctx);
	events_rolled_back(ctx);
	access_free(ctx->access);
	ctx->access = NULL;
	if (ctx->txn) {
		store_rollback(ctx->txn);
		ctx->txn = NULL;
		ctx->txn_depth = 0;
	}
	crm_error_reset(ctx);
}

static const struct meta *ctx_meta(struct crm_ctx *ctx)
{
	return ctx->kernel->meta;
}

/* Every public call starts here: it forgets the previous call's error. */
static int find_object(struct crm_ctx *ctx, const char *name, const struct meta_object **out)
{
	crm_error_reset(ctx);
	if (ctx->depth > MAX_HOOK_DEPTH)
		return crm_error(ctx, CRM_ELIMIT, "hooks nested deeper than %d calls (a hook that re-triggers itself?)",
		                 MAX_HOOK_DEPTH);
	const struct meta_object *o = name ? meta_find_object(ctx_meta(ctx), name) : NULL;
	if (!o)
		return crm_error(ctx, CRM_ENOTFOUND, "unknown object '%.64s'", name ? name : "");
	*out = o;
	return CRM_OK;
}

/* find_object, with the caller's access loaded (every entry point that reads or writes starts here). */
static int find_for_caller(struct crm_ctx *ctx, const char *name, const struct meta_object **out)
{
	int code = find_object(ctx, name, out);
	if (code == CRM_OK)
		code = access_load(ctx);
	/* said plainly, for the implementer reading the answer: this tells nothing about any object */
	if (code == CRM_OK && ctx->user_id == CRM_USER_GUEST && !ctx->access->role)
		code = crm_error(ctx, CRM_EDENIED, "a public route acts as the guest, which has no rights: the metadata "
		                 "defines no role named '%s'", CRM_GUEST_ROLE);
	return code;
}

int object_begin(struct crm_ctx *ctx)
{
	if (ctx->txn) {
		ctx->txn_depth++;
		return CRM_OK;
	}
	int code = store_begin(ctx->kernel->store, &ctx->txn, ctx);
	if (code == CRM_OK)
		ctx->txn_depth = 1;
	return code;
}

int object_commit(struct crm_ctx *ctx)
{
	if (!ctx->txn)
		return crm_error(ctx, CRM_EINTERNAL, "commit without a transaction");
	if (--ctx->txn_depth > 0)
		return CRM_OK;
	struct store_conn *conn = ctx->txn;
	ctx->txn = NULL;
	int code = store_commit(conn, ctx);
	if (code == CRM_OK)
		events_committed(ctx, crm_ctx_clear);
	else
		events_rolled_back(ctx);
	return code;
}

void object_rollback(struct crm_ctx *ctx)
{
	events_rolled_back(ctx);
	if (!ctx->txn)
		return;
	store_rollback(ctx->txn);
	ctx->txn = NULL;
	ctx->txn_depth = 0;
}

/* A read connection: the open transaction, or a reader (released by read_done). */
static struct store_conn *read_conn(struct crm_ctx *ctx)
{
	return context_reader(ctx);
}

static void read_done(struct crm_ctx *ctx, struct store_conn *conn)
{
	context_reader_done(ctx, conn);
}

/* Runs a write in the caller's transaction, or in one of its own. */
static int write_begin(struct crm_ctx *ctx, bool *own)
{
	*own = ctx->txn == NULL;
	return object_begin(ctx);
}

static int write_end(struct crm_ctx *ctx, bool own, int code)
{
	if (code == CRM_OK)
		return object_commit(ctx);
	if (own)
		object_rollback(ctx);
	else
		ctx->txn_depth--;
	return code;
}

static void now_text(char *out, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * Who a record's owner, created_by and updated_by name for the acting user:
 * that user, or null for the system and for the guest of a public route,
 * who is nobody a user field could refer to.
 */
static json_t *acting_user(const struct crm_ctx *ctx)
{
	return ctx->user_id > 0 ? json_integer(ctx->user_id) : json_null();
}

/*
 * The value of a default worked out at creation (meta_model.h: $me,
 * $user.<field>, today(), now()); now is the creation time as text. The
 * system context has no user: $me and $user.<field> give null.
 */
static json_t *dynamic_default(struct crm_ctx *ctx, const struct meta_field *f, const char *now)
{
	switch (f->default_kind) {
	case DEFAULT_ME:
		return acting_user(ctx);
	case DEFAULT_USER_FIELD: {
		json_t *user = ctx->user_id && access_load(ctx) == CRM_OK && ctx->access ? ctx->access->record : NULL;
		json_t *value = json_object_get(user, f->default_user_field);
		return value ? json_deep_copy(value) : json_null();
	}
	case DEFAULT_TODAY:
		if (f->type == FIELD_DATETIME) {
			char midnight[32];
			snprintf(midnight, sizeof(midnight), "%.10sT00:00:00Z", now);
			return json_string(midnight);
		}
		return json_stringn(now, 10);
	case DEFAULT_NOW:
		return f->type == FIELD_DATE ? json_stringn(now, 10) : json_string(now);
	default:
		return json_null();
	}
}

/* --- value normalisation ---------------------------------------------- */

static size_t utf8_length(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static bool has_control(const char *s, bool multiline)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 && c != '\t' && !(multiline && (c == '\n' || c == '\r')))
			return true;
		if (c == 0x7f)
			return true;
	}
	return false;
}

static bool valid_email(const char *s)
{
	const char *at = strchr(s, '@');
	if (!at || at == s || strchr(at + 1, '@') || strlen(s) > 254)
		return false;
	const char *dot = strrchr(at, '.');
	if (!dot || dot == at + 1 || dot[1] == '\0')
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || strchr("()<>,;:\\\"[]", *p))
			return false;
	return true;
}

static bool valid_phone(const char *s)
{
	int digits = 0;
	for (const char *p = s; *p; p++) {
		if (*p >= '0' && *p <= '9')
			digits++;
		else if (!strchr("+-() .x/", *p))
			return false;
	}
	return digits >= 3 && digits <= 20;
}

static bool valid_url(const char *s)
{
	const char *rest;
	if (strncasecmp(s, "http://", 7) == 0)
		rest = s + 7;
	else if (strncasecmp(s, "https://", 8) == 0)
		rest = s + 8;
	else
		return false;
	if (!*rest || *rest == '/' || strlen(s) > 2048)
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '"' || *p == '<' || *p == '>')
			return false;
	return true;
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool valid_ymd(int y, int m, int d)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1)
		return false;
	return d <= days[m - 1] + (m == 2 && leap(y));
}

static bool digits_at(const char *s, int count)
{
	for (int i = 0; i < count; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int number_at(const char *s, int count)
{
	int v = 0;
	for (int i = 0; i < count; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

static bool parse_date(const char *s, int *y, int *m, int *d)
{
	if (strlen(s) < 10 || !digits_at(s, 4) || s[4] != '-' || !digits_at(s + 5, 2) || s[7] != '-'
	    || !digits_at(s + 8, 2))
		return false;
	*y = number_at(s, 4);
	*m = number_at(s + 5, 2);
	*d = number_at(s + 8, 2);
	return valid_ymd(*y, *m, *d);
}

/* ISO 8601 date-time with an optional offset, normalised to UTC "...Z". */
static bool normalise_datetime(const char *s, char *out, size_t len)
{
	int y, mo, d;
	if (!parse_date(s, &y, &mo, &d) || (s[10] != 'T' && s[10] != ' ') || !digits_at(s + 11, 2)
	    || s[13] != ':' || !digits_at(s + 14, 2))
		return false;
	int h = number_at(s + 11, 2), mi = number_at(s + 14, 2), sec = 0;
	const char *p = s + 16;
	if (*p == ':') {
		if (!digits_at(p + 1, 2))
			return false;
		sec = number_at(p + 1, 2);
		p += 3;
		if (*p == '.') {
			p++;
			if (*p < '0' || *p > '9')
				return false;
			while (*p >= '0' && *p <= '9')
				p++;
		}
	}
	if (h > 23 || mi > 59 || sec > 60)
		return false;
	long offset = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		if (!digits_at(p + 1, 2))
			return false;
		int oh = number_at(p + 1, 2), om = 0;
		p += 3;
		if (*p == ':')
			p++;
		if (digits_at(p, 2)) {
			om = number_at(p, 2);
			p += 2;
		}
		if (oh > 14 || om > 59)
			return false;
		offset = sign * (oh * 3600L + om * 60L);
	}
	if (*p)
		return false;
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
	                 .tm_hour = h, .tm_min = mi, .tm_sec = sec };
	time_t t = timegm(&tm) - offset;
	struct tm utc;
	gmtime_r(&t, &utc);
	if (utc.tm_year + 1900 < 1 || utc.tm_year + 1900 > 9999)
		return false;
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &utc);
	return true;
}

static bool enum_has(const struct meta_field *f, const char *value)
{
	for (int i = 0; i < f->value_count; i++)
		if (strcmp(f->values[i], value) == 0)
			return true;
	return false;
}

static double round_to(double v, int scale)
{
	double f = pow(10, scale);
	double r = round(v * f) / f;
	return isfinite(r) ? r : v;
}

static const char *json_kind_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "a list";
	case JSON_STRING: return "text";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE: case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

static bool check_bounds(struct crm_ctx *ctx, const struct meta_field *f, double v)
{
	if (f->has_min && v < f->min) {
		crm_field_error(ctx, f->name, "min", "must be >= %g", f->min);
		return false;
	}
	if (f->has_max && v > f->max) {
		crm_field_error(ctx, f->name, "max", "must be <= %g", f->max);
		return false;
	}
	return true;
}

/*
 * Whether the record a ref or user field is set to exists and the caller may
 * read it (object right and record rule: access_check, the rule the list's
 * predicate comes from). A record the caller may not read gets the same
 * answer as one that does not exist, so that a write is no oracle, cannot
 * read a foreign record through a path, and cannot move its rollups.
 * The system context (user 0: CLI, demo, system-run workflow actions) and
 * admins need only existence.
 */
static int ref_readable(struct crm_ctx *ctx, struct store_conn *conn, const struct meta_object *target, int64_t id,
                        bool *out)
{
	*out = false;
	if (access_is_admin(ctx))
		return store_exists(conn, target, id, out, ctx);
	if (!access_allows(ctx, target, ACCESS_READ))
		return CRM_OK;
	json_t *record = NULL;
	int code = store_get(conn, target, id, false, &record, ctx);
	if (code == CRM_ENOTFOUND) {
		crm_error_forget(ctx);   /* a missing id is an answer here; the field errors so far stay */
		return CRM_OK;
	}
	if (code == CRM_OK)
		code = access_check(ctx, target, ACCESS_READ, record, out);
	json_decref(record);
	return code;
}

/*
 * A point: exactly { "lat": -90..90, "lng": -180..180 }, both numbers (an
 * integer is read as a real). Every door (the API, CSV import, plugins,
 * batch) comes through here; the message says which part is wrong. NaN and
 * infinities cannot be JSON, but a plugin's number can be either.
 */
static json_t *geo_point(struct crm_ctx *ctx, const char *name, json_t *value)
{
	static const char *const expected = "expected a point {\"lat\": -90..90, \"lng\": -180..180}";
	if (!json_is_object(value)) {
		crm_field_error(ctx, name, "format", "%s, got %s", expected, json_kind_name(value));
		return NULL;
	}
	const char *key;
	json_t *part;
	json_object_foreach(value, key, part) {
		if (strcmp(key, "lat") != 0 && strcmp(key, "lng") != 0) {
			crm_field_error(ctx, name, "format", "%s: unknown key '%.32s'", expected, key);
			return NULL;
		}
	}
	json_t *lat = json_object_get(value, "lat"), *lng = json_object_get(value, "lng");
	if (!lat || !lng) {
		crm_field_error(ctx, name, "format", "%s: '%s' is missing", expected, lat ? "lng" : "lat");
		return NULL;
	}
	if (!json_is_number(lat) || !json_is_number(lng)) {
		crm_field_error(ctx, name, "type", "%s: '%s' must be a number, got %s", expected,
		                json_is_number(lat) ? "lng" : "lat", json_kind_name(json_is_number(lat) ? lng : lat));
		return NULL;
	}
	double lat_value = json_number_value(lat), lng_value = json_number_value(lng);
	if (!(lat_value >= -90 && lat_value <= 90)) {
		crm_field_error(ctx, name, "range", "latitude must be from -90 to 90");
		return NULL;
	}
	if (!(lng_value >= -180 && lng_value <= 180)) {
		crm_field_error(ctx, name, "range", "longitude must be from -180 to 180");
		return NULL;
	}
	return json_pack("{s:f, s:f}", "lat", lat_value, "lng", lng_value);
}

/*
 * The stored form of value for field, or NULL after adding a field error.
 * conn (may be NULL) checks that refs name records the caller may read;
 * before (may be NULL) is the stored record, whose ref values are kept as
 * they are.
 */
static json_t *normalise(struct crm_ctx *ctx, struct store_conn *conn, const struct meta_field *f,
                         json_t *value, json_t *before)
{
	const char *name = f->name;
	if (json_is_null(value))
		return json_null();
	switch (f->type) {
	case FIELD_TEXT: case FIELD_TEXTAREA: case FIELD_EMAIL: case FIELD_PHONE: case FIELD_URL: {
		if (!json_is_string(value)) {
			crm_field_error(ctx, name, "type", "expected text, got %s", json_kind_name(value));
			return NULL;
		}
		const char *s = json_string_value(value);
		size_t max = f->max_length > 0 ? (size_t)f->max_length : f->type == FIELD_TEXTAREA ? 32000 : 255;
		if (strlen(s) != json_string_length(value) || has_control(s, f->type == FIELD_TEXTAREA)) {
			crm_field_error(ctx, name, "format", "must not contain control characters");
			return NULL;
		}
		if (utf8_length(s) > max) {
			crm_field_error(ctx, name, "max_length", "must be at most %zu characters", max);
			return NULL;
		}
		if (f->type == FIELD_EMAIL && !valid_email(s)) {
			crm_field_error(ctx, name, "format", "'%.80s' is not an email address", s);
			return NULL;
		}
		if (f->type == FIELD_PHONE && !valid_phone(s)) {
			crm_field_error(ctx, name, "format", "'%.80s' is not a phone number", s);
			return NULL;
		}
		if (f->type == FIELD_URL && !valid_url(s)) {
			crm_field_error(ctx, name, "format", "'%.80s' is not an http(s) URL", s);
			return NULL;
		}
		if (f->required && !*s) {
			crm_field_error(ctx, name, "required", "is required");
			return NULL;
		}
		return json_incref(value);
	}
	case FIELD_INT:
		if (!json_is_integer(value)) {
			crm_field_error(ctx, name, "type", "expected an integer, got %s", json_kind_name(value));
			return NULL;
		}
		if (!check_bounds(ctx, f, (double)json_integer_value(value)))
			return NULL;
		return json_incref(value);
	case FIELD_DECIMAL: case FIELD_MONEY: case FIELD_PERCENT: {
		if (!json_is_number(value)) {
			crm_field_error(ctx, name, "type", "expected a number, got %s", json_kind_name(value));
			return NULL;
		}
		double v = json_number_value(value);
		if (!isfinite(v) || fabs(v) > 1e15) {
			crm_field_error(ctx, name, "range", "number out of range");
			return NULL;
		}
		if (!check_bounds(ctx, f, v))
			return NULL;
		return json_real(round_to(v, f->scale));
	}
	case FIELD_BOOL:
		if (!json_is_boolean(value)) {
			crm_field_error(ctx, name, "type", "expected true or false, got %s", json_kind_name(value));
			return NULL;
		}
		return json_incref(value);
	case FIELD_DATE: {
		int y, m, d;
		const char *s = json_string_value(value);
		if (!s || strlen(s) != 10 || !parse_date(s, &y, &m, &d)) {
			crm_field_error(ctx, name, "format", "expected a date YYYY-MM-DD");
			return NULL;
		}
		return json_incref(value);
	}
	case FIELD_DATETIME: {
		char out[32];
		const char *s = json_string_value(value);
		if (!s || strlen(s) > 40 || !normalise_datetime(s, out, sizeof(out))) {
			crm_field_error(ctx, name, "format", "expected a date-time YYYY-MM-DDTHH:MM:SSZ");
			return NULL;
		}
		return json_string(out);
	}
	case FIELD_ENUM: {
		const char *s = json_string_value(value);
		if (!s || !enum_has(f, s)) {
			crm_field_error(ctx, name, "enum", "must be one of the values of %s", name);
			return NULL;
		}
		return json_incref(value);
	}
	case FIELD_MULTIENUM: {
		if (!json_is_array(value)) {
			crm_field_error(ctx, name, "type", "expected a list of values");
			return NULL;
		}
		json_t *out = json_array();
		size_t i;
		json_t *item;
		json_array_foreach(value, i, item) {
			const char *s = json_string_value(item);
			if (!s || !enum_has(f, s)) {
				crm_field_error(ctx, name, "enum", "'%.64s' is not a value of %s", s ? s : "?", name);
				json_decref(out);
				return NULL;
			}
			bool seen = false;
			for (size_t j = 0; j < json_array_size(out) && !seen; j++)
				seen = strcmp(json_string_value(json_array_get(out, j)), s) == 0;
			if (!seen)
				json_array_append(out, item);
		}
		return out;
	}
	case FIELD_REF: case FIELD_USER: {
		if (!json_is_integer(value) || json_integer_value(value) <= 0) {
			crm_field_error(ctx, name, "type", "expected the id of a %s record", f->to ? f->to : "user");
			return NULL;
		}
		/* a value already stored is kept as it is: a shared record may point where its editor cannot see */
		json_t *old = json_object_get(before, name);
		if (conn && f->target && !(json_is_integer(old) && json_integer_value(old) == json_integer_value(value))) {
			bool exists = false;
			if (ref_readable(ctx, conn, f->target, json_integer_value(value), &exists) != CRM_OK)
				return NULL;
			if (!exists) {
				crm_field_error(ctx, name, "ref", "no %s with id %lld", f->target->name,
				                (long long)json_integer_value(value));
				return NULL;
			}
		}
		return json_incref(value);
	}
	case FIELD_JSON: {
		char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
		size_t len = text ? strlen(text) : 0;
		free(text);
		if (len > MAX_JSON_VALUE) {
			crm_field_error(ctx, name, "max_length", "JSON value larger than %d bytes", MAX_JSON_VALUE);
			return NULL;
		}
		return json_incref(value);
	}
	case FIELD_GEO:
		return geo_point(ctx, name, value);
	default:
		crm_field_error(ctx, name, "readonly", "is computed and cannot be written");
		return NULL;
	}
}

/* True if the caller may assign records of o to someone else. */
static bool may_change_owner(struct crm_ctx *ctx, const struct meta_object *o)
{
	if (access_is_admin(ctx))
		return true;
	const struct meta_role *role = ctx->access ? ctx->access->role : NULL;
	const struct meta_role_object *ro = role ? meta_role_object(role, o) : NULL;
	return ro && ro->change_owner;
}

static bool writable(struct crm_ctx *ctx, const struct meta_object *o, const struct meta_field *f, bool creating)
{
	enum field_access access = access_field(ctx, o, f);
	if (access == FIELD_ACCESS_HIDDEN) {
		/* as if it did not exist: a refusal must not confirm a hidden field */
		crm_field_error(ctx, f->name, "unknown", "unknown field '%s' on %s", f->name, o->name);
		return false;
	}
	if (f->system) {
		if (strcmp(f->name, "owner") == 0 && may_change_owner(ctx, o))
			return true;
		crm_field_error(ctx, f->name, "readonly", "is a system field");
		return false;
	}
	if (f->type == FIELD_FORMULA || f->type == FIELD_ROLLUP || f->type == FIELD_AUTONUMBER) {
		crm_field_error(ctx, f->name, "readonly", "is computed and cannot be written");
		return false;
	}
	if (access == FIELD_ACCESS_READ) {
		crm_field_error(ctx, f->name, "readonly", "your role may read but not change this field");
		return false;
	}
	/* readonly is for people: the system (timers, jobs, plugin code as the system) keeps such a field up to date */
	if (f->readonly && !creating && ctx->user_id != 0) {
		crm_field_error(ctx, f->name, "readonly", "cannot be changed once set");
		return false;
	}
	return true;
}

/*
 * Normalises every given value into *out (stored form). Collects all field
 * errors. before: the stored record on an update, NULL on a create.
 */
static int normalise_values(struct crm_ctx *ctx, struct store_conn *conn, const struct meta_object *o,
                            json_t *values, json_t *before, json_t **out)
{
	if (!json_is_object(values))
		return crm_error(ctx, CRM_EINVAL, "values must be a JSON object");
	if (json_object_size(values) > MAX_FIELDS)
		return crm_error(ctx, CRM_ELIMIT, "too many fields");
	json_t *result = json_object();
	const char *key;
	json_t *value;
	json_object_foreach(values, key, value) {
		const struct meta_field *f = meta_find_field(o, key);
		if (!f) {
			crm_field_error(ctx, key, "unknown", "unknown field '%.64s' on %s", key, o->name);
			continue;
		}
		if (!writable(ctx, o, f, before == NULL))
			continue;
		json_t *v = normalise(ctx, conn, f, value, before);
		if (v)
			json_object_set_new(result, key, v);
		else if (ctx->status != CRM_OK && ctx->status != CRM_EVALIDATION) {
			json_decref(result);
			return ctx->status;
		}
	}
	if (ctx->field_errors) {
		json_decref(result);
		return crm_error(ctx, CRM_EVALIDATION, "invalid %s record", o->name);
	}
	*out = result;
	return CRM_OK;
}

/* --- rules ------------------------------------------------------------ */

static int check_rules(struct crm_ctx *ctx, struct store_conn *conn, const struct meta_object *o,
                       json_t *record)
{
	for (int i = 0; i < o->rule_count; i++) {
		const struct meta_rule *r = &o->rules[i];
		struct expr_value result = { 0 };
		char err[256];
		if (eval_record(ctx, conn, o, r->expr, record, NULL, &result, err, sizeof(err)) != CRM_OK)
			return crm_error(ctx, CRM_EINTERNAL, "rule '%s' of %s failed: %s", r->when, o->name, err);
		if (expr_truthy(&result))
			crm_field_error(ctx, r->field ? r->field : "", "rule", "%s", r->message);
		expr_value_clear(&result);
	}
	return ctx->field_errors ? crm_error(ctx, CRM_EVALIDATION, "invalid %s record", o->name) : CRM_OK;
}

/* Required and unique checks on the full record. */
static int check_record(struct crm_ctx *ctx, struct store_conn *conn, const struct meta_object *o,
                        json_t *record, int64_t id)
{
	for (int i = 0; i < o->field_count; i++) {
		const struct meta_field *f = &o->fields[i];
		json_t *v = json_object_get(record, f->name);
		if (f->required && (!v || json_is_null(v)))
			crm_field_error(ctx, f->name, "required", "is required");
		if (f->unique && v && !json_is_null(v)) {
			bool taken = false;
			if (store_value_taken(conn, o, f, v, id, &taken, ctx) != CRM_OK)
				return ctx->status;
			if (taken)
				crm_field_error(ctx, f->name, "unique", "this value is already used by another %s", o->name);
		}
	}
	if (ctx->field_errors)
		return crm_error(ctx, CRM_EVALIDATION, "invalid %s record", o->name);
	return check_rules(ctx, conn, o, record);
}

/* --- derived data ----------------------------------------------------- */

/*
 * Rollups on parent record id moved: the rollups above it that read them
 * (a quote's subtotal feeds its grand total, which an account sums) are
 * refreshed next, climbing one ref at a time. The loader refuses loops of
 * such rollups, so the climb ends at the top of the object graph.
 */
static int climb_rollups(struct crm_ctx *ctx, const struct meta_object *object, int64_t id)
{
	/* each ref read once, every rollup above refreshed, then each parent climbs once */
	struct above { const struct meta_field *ref; int64_t id; } *above =
		object->rollup_parent_count ? xcalloc((size_t)object->rollup_parent_count, sizeof(*above)) : NULL;
	int count = 0, code = CRM_OK;
	for (int i = 0; i < object->rollup_parent_count && code == CRM_OK; i++) {
		const struct meta_field *up = object->rollup_parents[i];
		if (!up->rollup_reads_rollup)
			continue;
		int k = 0;
		while (k < count && above[k].ref != up->rollup_child_field)
			k++;
		if (k == count) {
			above[count].ref = up->rollup_child_field;
			code = store_ref_value(ctx->txn, object, up->rollup_child_field, id, &above[count++].id, ctx);
		}
		if (code == CRM_OK && above[k].id)
			code = store_rollup_refresh(ctx->txn, up, up->rollup_child_field->target, above[k].id, ctx);
	}
	for (int k = 0; k < count && code == CRM_OK; k++)
		if (above[k].id)
			code = climb_rollups(ctx, above[k].ref->target, above[k].id);
	free(above);
	return code;
}

/*
 * A child was written (before/after: its old and new values, NULL for none):
 * every rollup over it is recomputed for the parents it left and joined, in
 * the caller's transaction, then the rollups that read those.
 */
static int refresh_rollups(struct crm_ctx *ctx, const struct meta_object *child, json_t *before,
                           json_t *after)
{
	if (!child->rollup_parent_count)
		return CRM_OK;
	/* each parent record climbs once, whatever the number of its rollups over this child */
	struct moved { const struct meta_object *object; int64_t id; } *moved =
		xcalloc((size_t)child->rollup_parent_count * 2, sizeof(*moved));
	int moved_count = 0, code = CRM_OK;
	for (int i = 0; i < child->rollup_parent_count && code == CRM_OK; i++) {
		const struct meta_field *rollup = child->rollup_parents[i];
		const struct meta_field *ref = rollup->rollup_child_field;
		json_t *ids[2] = { before ? json_object_get(before, ref->name) : NULL,
		                   after ? json_object_get(after, ref->name) : NULL };
		for (int k = 0; k < 2 && code == CRM_OK; k++) {
			if (!json_is_integer(ids[k]))
				continue;
			if (k == 1 && json_equal(ids[0], ids[1]))
				continue;
			int64_t id = json_integer_value(ids[k]);
			code = store_rollup_refresh(ctx->txn, rollup, ref->target, id, ctx);
			int m = 0;
			while (m < moved_count && !(moved[m].object == ref->target && moved[m].id == id))
				m++;
			if (m == moved_count)
				moved[moved_count++] = (struct moved){ ref->target, id };
		}
	}
	for (int m = 0; m < moved_count && code == CRM_OK; m++)
		code = climb_rollups(ctx, moved[m].object, moved[m].id);
	free(moved);
	return code;
}

static void autonumber_text(const char *format, int64_t n, char *out, size_t len)
{
	const char *open = strchr(format, '{');
	const char *close = open ? strchr(open, '}') : NULL;
	if (!open || !close) {
		snprintf(out, len, "%s%lld", format, (long long)n);
		return;
	}
	int width = (int)(close - open - 1);
	snprintf(out, len, "%.*s%0*lld%s", (int)(open - format), format, width, (long long)n, close + 1);
}

/* --- audit ------------------------------------------------------------ */

/* Bookkeeping fields every write changes: the trail records what people changed. */
static bool audit_skips(const char *field)
{
	static const char *const skipped[] = { "id", "created_at", "created_by", "updated_at", "updated_by",
	                                       "version", "deleted_at" };
	for (size_t i = 0; i < sizeof(skipped) / sizeof(skipped[0]); i++)
		if (strcmp(field, skipped[i]) == 0)
			return true;
	return false;
}

/*
 * Records action on o/id in the write's transaction. after (may be NULL):
 * the values written; before (may be NULL): the record before. For an
 * update, changes are { field: [old, new] } and an update that changed
 * nothing records nothing; a create records { field: value }.
 */
static int audit(struct crm_ctx *ctx, const struct meta_object *o, int64_t id, const char *action,
                 json_t *before, json_t *after)
{
	/* every write passes here: a changed user (role, team, manager) invalidates cached access */
	if (strcmp(o->name, "user") == 0)
		access_users_changed(ctx->kernel->access_cache);
	json_t *changes = NULL;
	if (after && !before) {
		/*
		 * A create is recorded without its values, like Salesforce's "Created."
		 * line: the record holds them, and each later update records old and
		 * new, so every past value stays recoverable. Writing the values
		 * again doubled the cost of an import.
		 */
		json_t *behalf = ctx->on_behalf_of ? json_pack("{s:I}", "_on_behalf_of", (json_int_t)ctx->on_behalf_of) : NULL;
		int code = store_audit(ctx->txn, o->name, id, "create", ctx->user_id, ctx->request_id, behalf, ctx);
		json_decref(behalf);
		return code;
	}
	if (after) {
		changes = json_object();
		const char *key;
		json_t *value;
		json_object_foreach(after, key, value) {
			if (audit_skips(key))
				continue;
			json_t *old = json_object_get(before, key);
			if (old && json_equal(old, value))
				continue;
			json_object_set_new(changes, key, json_pack("[OO]", old ? old : json_null(), value));
		}
		if (json_object_size(changes) == 0) {
			json_decref(changes);
			return CRM_OK;
		}
	}
	if (ctx->on_behalf_of) {
		if (!changes)
			changes = json_object();
		json_object_set_new(changes, "_on_behalf_of", json_integer(ctx->on_behalf_of));
	}
	int code = store_audit(ctx->txn, o->name, id, action, ctx->user_id, ctx->request_id, changes, ctx);
	json_decref(changes);
	return code;
}

/* --- access to one record --------------------------------------------- */

/*
 * The record must be readable (else: not found, as if absent) and, for op,
 * allowed (else: denied with a reason).
 */
static int check_record_access(struct crm_ctx *ctx, const struct meta_object *o, json_t *record,
                               enum access_op op, int64_t id)
{
	bool allowed = false;
	int code = access_check(ctx, o, ACCESS_READ, record, &allowed);
	if (code != CRM_OK)
		return code;
	if (!allowed)
		return crm_error(ctx, CRM_ENOTFOUND, "no %s with id %lld", o->name, (long long)id);
	if (op == ACCESS_READ)
		return CRM_OK;
	if ((code = access_check(ctx, o, op, record, &allowed)) != CRM_OK)
		return code;
	if (!allowed)
		return crm_error(ctx, CRM_EDENIED, "your role may not %s this %s", op == ACCESS_UPDATE ? "change" : "delete",
		                 o->name);
	return CRM_OK;
}

/* --- hooks ------------------------------------------------------------ */

/* Fires kind's hooks with the depth counted, so a hook that writes cannot recurse forever. */
static int fire(struct crm_ctx *ctx, enum event_kind kind, const struct meta_object *o, json_t *values,
                json_t *record)
{
	if (!events_has(ctx->kernel->events, o, kind))
		return CRM_OK;
	ctx->depth++;
	int code = events_fire(ctx, kind, o, values, record);
	ctx->depth--;
	return code;
}

/* --- workflow state fields ------------------------------------------- */

/*
 * A new record starts in each of its workflows' initial state. A client may
 * not pick another state; the system (user 0: imports, demo data, the CLI)
 * may, so that history can be loaded as it was.
 */
static int set_initial_states(struct crm_ctx *ctx, const struct meta_object *o, json_t *record)
{
	const struct meta *meta = ctx_meta(ctx);
	for (int i = 0; i < meta->workflow_count; i++) {
		const struct meta_workflow *wf = &meta->workflows[i];
		if (wf->object != o || !wf->field)
			continue;
		const char *given = json_string_value(json_object_get(record, wf->field->name));
		if (!given)
			json_object_set_new(record, wf->field->name, json_string(wf->initial));
		else if (strcmp(given, wf->initial) != 0 && ctx->user_id != 0)
			crm_field_error(ctx, wf->field->name, "workflow",
			                "a new %s starts in '%s' (workflow '%s'); transitions move it on", o->name,
			                wf->initial, wf->name);
	}
	return ctx->field_errors ? crm_error(ctx, CRM_EVALIDATION, "invalid %s record", o->name) : CRM_OK;
}

/* True if a direct transition of wf leads from one state to the other. */
static bool direct_move(const struct meta_workflow *wf, const char *from, const char *to)
{
	for (int i = 0; i < wf->transition_count; i++) {
		const struct meta_transition *t = &wf->transitions[i];
		if (t->direct && to && strcmp(t->to, to) == 0 && meta_transition_leaves(wf, t, from))
			return true;
	}
	return false;
}

/*
 * Only transitions move a workflow's state field. On a plain update, a
 * value that changes the state is refused with a field error (code
 * "workflow") naming the transitions that leave the current state, unless
 * the caller is the system or a `direct: true` transition covers the move.
 * On a transition update (object_update_state), the state values and
 * values for readonly fields still empty (a lead's converted_* links) are
 * taken out of *incoming (replaced by a copy) into *state_values,
 * normalised, so that field access does not block them: the transition's
 * roles are the gate.
 */
static int check_state_writes(struct crm_ctx *ctx, const struct meta_object *o, json_t *before, json_t **incoming,
                              bool transition, json_t **state_values)
{
	const struct meta *meta = ctx_meta(ctx);
	*state_values = NULL;
	if (!json_is_object(*incoming))
		return CRM_OK;
	for (int i = 0; i < meta->workflow_count; i++) {
		const struct meta_workflow *wf = &meta->workflows[i];
		json_t *value;
		if (wf->object != o || !wf->field || !(value = json_object_get(*incoming, wf->field->name)))
			continue;
		const char *current = json_string_value(json_object_get(before, wf->field->name));
		if (transition) {
			json_t *normal = normalise(ctx, ctx->txn, wf->field, value, before);
			if (!normal)
				continue;
			if (!*state_values)
				*state_values = json_object();
			json_object_set_new(*state_values, wf->field->name, normal);
			continue;
		}
		const char *wanted = json_string_value(value);
		if (ctx->user_id == 0 || (wanted && current && strcmp(wanted, current) == 0) ||
		    direct_move(wf, current, wanted))
			continue;
		struct strbuf names = { 0 };
		for (int t = 0; t < wf->transition_count; t++)
			if (meta_transition_leaves(wf, &wf->transitions[t], current))
				strbuf_printf(&names, "%s%s", names.len ? ", " : "", wf->transitions[t].name);
		crm_field_error(ctx, wf->field->name, "workflow",
		                "is moved only by the transitions of workflow '%s'; from '%s': %s", wf->name,
		                current ? current : "(none)", names.len ? names.data : "none");
		strbuf_free(&names);
	}
	/* a transition may fill a readonly field once (a lead's converted_* links) */
	for (int f = 0; transition && f < o->field_count; f++) {
		const struct meta_field *field = &o->fields[f];
		json_t *value = json_object_get(*incoming, field->name), *old = json_object_get(before, field->name);
		if (!field->readonly || field->system || !value || (old && !json_is_null(old)))
			continue;
		json_t *normal = normalise(ctx, ctx->txn, field, value, before);
		if (!normal)
			continue;
		if (!*state_values)
			*state_values = json_object();
		json_object_set_new(*state_values, field->name, normal);
	}
	if (transition && *state_values) {
		json_t *rest = json_deep_copy(*incoming);
		const char *key;
		json_t *value;
		json_object_foreach(*state_values, key, value)
			json_object_del(rest, key);
		*incoming = rest;
	}
	if (ctx->field_errors) {
		json_decref(*state_values);
		*state_values = NULL;
		return crm_error(ctx, CRM_EVALIDATION, "invalid %s record", o->name);
	}
	return CRM_OK;
}

/* --- create, get, update ---------------------------------------------- */

static int create(struct crm_ctx *ctx, const char *object, json_t *values, int64_t *out_id, json_t **out);

/* After-hooks may write the record again (a plugin's computed fields): the answer is the record as they left it. */
static int reread_after_hooks(struct crm_ctx *ctx, const struct meta_object *o, int64_t id, enum event_kind kind,
                              json_t **stored)
{
	if (!events_has(ctx->kernel->events, o, kind))
		return CRM_OK;
	json_decref(*stored);
	*stored = NULL;
	return store_get(ctx->txn, o, id, false, stored, ctx);
}

int object_create(struct crm_ctx *ctx, const char *object, json_t *values, json_t **out)
{
	return create(ctx, object, values, NULL, out);
}

int object_create_id(struct crm_ctx *ctx, const char *object, json_t *values, int64_t *out_id)
{
	return create(ctx, object, values, out_id, NULL);
}

static int create(struct crm_ctx *ctx, const char *object, json_t *values, int64_t *out_id, json_t **out)
{
	const struct meta_object *o = NULL;
	int code = find_for_caller(ctx, object, &o);
	if (code != CRM_OK)
		return code;
	if (!access_allows(ctx, o, ACCESS_READ))
		return crm_error(ctx, CRM_ENOTFOUND, "unknown object '%.64s'", object);
	if (!access_allows(ctx, o, ACCESS_CREATE))
		return crm_error(ctx, CRM_EDENIED, "your role may not create %s records", o->name);
	bool own;
	if ((code = write_begin(ctx, &own)) != CRM_OK)
		return code;
	json_t *record = NULL, *incoming = values;
	if (events_has(ctx->kernel->events, o, EVENT_BEFORE_CREATE)) {
		/* a before-hook may change the values: it works on a copy, validated like client input */
		incoming = json_deep_copy(values);
		if ((code = fire(ctx, EVENT_BEFORE_CREATE, o, incoming, NULL)) != CRM_OK) {
			json_decref(incoming);
			return write_end(ctx, own, code);
		}
	}
	code = normalise_values(ctx, ctx->txn, o, incoming, NULL, &record);
	if (incoming != values)
		json_decref(incoming);
	if (code != CRM_OK)
		return write_end(ctx, own, code);
	if ((code = set_initial_states(ctx, o, record)) != CRM_OK)
		goto fail;
	char now[32];
	now_text(now, sizeof(now));
	for (int i = 0; i < o->field_count; i++) {
		const struct meta_field *f = &o->fields[i];
		if (f->default_value && !json_object_get(record, f->name))
			json_object_set(record, f->name, f->default_value);
		else if (f->default_kind != DEFAULT_VALUE && !json_object_get(record, f->name))
			json_object_set_new(record, f->name, dynamic_default(ctx, f, now));
		/* a rollup over no children yet: count and sum are 0, min, max and avg null */
		if (f->type == FIELD_ROLLUP && (f->rollup_measure == ROLLUP_COUNT || f->rollup_measure == ROLLUP_SUM))
			json_object_set_new(record, f->name, f->rollup_measure == ROLLUP_COUNT ? json_integer(0) : json_real(0));
		if (f->type == FIELD_AUTONUMBER) {
			int64_t n;
			if ((code = store_next_number(ctx->txn, o, f, &n, ctx)) != CRM_OK)
				goto fail;
			char text[128];
			autonumber_text(f->format ? f->format : "{0}", n, text, sizeof(text));
			json_object_set_new(record, f->name, json_string(text));
		}
	}
	json_t *user = acting_user(ctx);
	json_object_set_new(record, "created_at", json_string(now));
	json_object_set_new(record, "updated_at", json_string(now));
	json_object_set(record, "created_by", user);
	json_object_set(record, "updated_by", user);
	if (!json_object_get(record, "owner"))
		json_object_set(record, "owner", user);
	json_decref(user);
	json_object_set_new(record, "version", json_integer(1));
	bool allowed = false;
	if ((code = access_check(ctx, o, ACCESS_CREATE, record, &allowed)) != CRM_OK)
		goto fail;
	if (!allowed) {
		code = crm_error(ctx, CRM_EDENIED, "your role may not create this %s (check its owner and values)", o->name);
		goto fail;
	}
	if ((code = check_record(ctx, ctx->txn, o, record, 0)) != CRM_OK)
		goto fail;
	int64_t id;
	if ((code = store_insert(ctx->txn, o, record, &id, ctx)) != CRM_OK)
		goto fail;
	json_object_set_new(record, "id", json_integer(id));
	if ((code = audit(ctx, o, id, "create", NULL, record)) != CRM_OK)
		goto fail;
	if ((code = refresh_rollups(ctx, o, NULL, record)) != CRM_OK)
		goto fail;
	if (out || events_has(ctx->kernel->events, o, EVENT_AFTER_CREATE)) {
		json_t *stored;
		if ((code = store_get(ctx->txn, o, id, false, &stored, ctx)) != CRM_OK)
			goto fail;
		if ((code = fire(ctx, EVENT_AFTER_CREATE, o, NULL, stored)) != CRM_OK
		    || (out && (code = reread_after_hooks(ctx, o, id, EVENT_AFTER_CREATE, &stored)) != CRM_OK)) {
			json_decref(stored);
			goto fail;
		}
		if (out) {
			access_strip(ctx, o, stored);
			*out = stored;
		} else {
			json_decref(stored);
		}
	}
	json_decref(record);
	code = write_end(ctx, own, CRM_OK);
	if (code == CRM_OK && out_id)
		*out_id = id;
	if (code != CRM_OK && out) {
		json_decref(*out);
		*out = NULL;
	}
	return code;
fail:
	json_decref(record);
	return write_end(ctx, own, code);
}

int object_get(struct crm_ctx *ctx, const char *object, int64_t id, bool include_deleted, json_t **out)
{
	const struct meta_object *o = NULL;
	int code = find_for_caller(ctx, object, &o);
	if (code != CRM_OK)
		return code;
	struct store_conn *conn = read_conn(ctx);
	json_t *record = NULL;
	code = store_get(conn, o, id, include_deleted, &record, ctx);
	read_done(ctx, conn);
	if (code == CRM_OK)
		code = check_record_access(ctx, o, record, ACCESS_READ, id);
	if (code != CRM_OK) {
		json_decref(record);
		return code;
	}
	access_strip(ctx, o, record);
	*out = record;
	return CRM_OK;
}

int object_get_text(struct crm_ctx *ctx, const char *object, int64_t id, bool include_deleted,
                    struct jsonw *out, int64_t *version)
{
	const struct meta_object *o = NULL;
	int code = find_for_caller(ctx, object, &o);
	if (code != CRM_OK)
		return code;
	if (access_reads_everything(ctx, o)) {
		/* no check per record and nothing to strip: the row goes straight to text */
		struct store_conn *conn = read_conn(ctx);
		code = store_get_text(conn, o, id, include_deleted, out, version, ctx);
		read_done(ctx, conn);
		return code;
	}
	json_t *record = NULL;
	if ((code = object_get(ctx, object, id, include_deleted, &record)) != CRM_OK)
		return code;
	*version = json_integer_value(json_object_get(record, "version"));
	jsonw_value(out, record);
	json_decref(record);
	return CRM_OK;
}

static int update(struct crm_ctx *ctx, const char *object, int64_t id, int64_t expected_version,
                  json_t *changes, const char *transition, json_t **out);

int object_update(struct crm_ctx *ctx, const char *object, int64_t id, int64_t expected_version,
                  json_t *changes, json_t **out)
{
	return update(ctx, object, id, expected_version, changes, NULL, out);
}

int object_update_state(struct crm_ctx *ctx, const char *object, int64_t id, int64_t expected_version,
                          json_t *changes, const char *transition, json_t **out)
{
	return update(ctx, object, id, expected_version, changes, transition ? transition : "", out);
}

/* An append-only object's records are created once; a GDPR erase alone may clear their personal fields. */
static int refuse_append_only(struct crm_ctx *ctx, const struct meta_object *o, const char *what)
{
	return crm_error(ctx, CRM_ESTATE, "%s records are append-only: they cannot be %s; record a reversing entry instead",
	                 o->name, what);
}

/*
 * An update; transition non-NULL: a workflow transition's write, which may
 * move state fields and is audited as "transition" with the transition's
 * name under "_transition".
 */
static int update(struct crm_ctx *ctx, const char *object, int64_t id, int64_t expected_version,
                  json_t *changes, const char *transition, json_t **out)
{
	const struct meta_object *o = NULL;
	int code = find_object(ctx, object, &o);
	if (code != CRM_OK)
		return code;
	if (o->append_only && !ctx->erasing)
		return refuse_append_only(ctx, o, "changed");
	bool own;
	if ((code = write_begin(ctx, &own)) != CRM_OK)
		return code;
	json_t *before = NULL, *normal = NULL, *merged = NULL, *state_values = NULL;
	if ((code = access_load(ctx)) != CRM_OK)
		goto done;
	if ((code = store_get(ctx->txn, o, id, false, &before, ctx)) != CRM_OK)
		goto done;
	if ((code = check_record_access(ctx, o, before, ACCESS_UPDATE, id)) != CRM_OK)
		goto done;
	if (expected_version > 0 && json_integer_value(json_object_get(before, "version")) != expected_version) {
		code = crm_error(ctx, CRM_ECONFLICT, "record %s/%lld was changed by someone else (version %lld, expected %lld)",
		                 o->name, (long long)id, (long long)json_integer_value(json_object_get(before, "version")),
		                 (long long)expected_version);
		goto done;
	}
	json_t *incoming = changes;
	if (events_has(ctx->kernel->events, o, EVENT_BEFORE_UPDATE)) {
		incoming = json_deep_copy(changes);
		code = fire(ctx, EVENT_BEFORE_UPDATE, o, incoming, before);
	}
	json_t *hooked = incoming;
	if (code == CRM_OK)
		code = check_state_writes(ctx, o, before, &incoming, transition != NULL, &state_values);
	if (code == CRM_OK)
		code = normalise_values(ctx, ctx->txn, o, incoming, before, &normal);
	if (incoming != hooked)
		json_decref(incoming);
	if (hooked != changes)
		json_decref(hooked);
	if (code != CRM_OK)
		goto done;
	if (state_values)
		json_object_update(normal, state_values);
	merged = json_deep_copy(before);
	json_object_update(merged, normal);
	/*
	 * The role's update rule must still hold after the change, but a
	 * transition's move is the workflow's to allow (its from, roles and
	 * guard): the rule is held against the other values with the state as it
	 * was, so a partner whose rule is "status = 'draft'" can submit their
	 * draft, and then no longer change it.
	 */
	json_t *judged = merged;
	if (state_values) {
		judged = json_deep_copy(merged);
		const char *key;
		json_t *value;
		json_object_foreach(state_values, key, value) {
			json_t *was = json_object_get(before, key);
			json_object_set(judged, key, was ? was : json_null());
		}
	}
	bool stays = true;
	code = access_check_after(ctx, o, ACCESS_UPDATE, judged, &stays);
	if (judged != merged)
		json_decref(judged);
	if (code != CRM_OK)
		goto done;
	if (!stays) {
		code = crm_error(ctx, CRM_EDENIED, "this change would take the %s out of what your role may change", o->name);
		goto done;
	}
	if ((code = check_record(ctx, ctx->txn, o, merged, id)) != CRM_OK)
		goto done;
	char now[32];
	now_text(now, sizeof(now));
	json_object_set_new(normal, "updated_at", json_string(now));
	json_object_set_new(normal, "updated_by", acting_user(ctx));
	if ((code = store_update(ctx->txn, o, id, expected_version, false, normal, ctx)) != CRM_OK)
		goto done;
	if (transition)
		json_object_set_new(normal, "_transition", json_string(transition));
	if ((code = audit(ctx, o, id, transition ? "transition" : "update", before, normal)) != CRM_OK)
		goto done;
	if ((code = refresh_rollups(ctx, o, before, merged)) != CRM_OK)
		goto done;
	if (out || events_has(ctx->kernel->events, o, EVENT_AFTER_UPDATE)) {
		json_t *stored = NULL;
		if ((code = store_get(ctx->txn, o, id, false, &stored, ctx)) == CRM_OK)
			code = fire(ctx, EVENT_AFTER_UPDATE, o, NULL, stored);
		if (code == CRM_OK && out)
			code = reread_after_hooks(ctx, o, id, EVENT_AFTER_UPDATE, &stored);
		if (code == CRM_OK && out) {
			access_strip(ctx, o, stored);
			*out = stored;
		} else {
			json_decref(stored);
		}
	}
done:
	json_decref(before);
	json_decref(normal);
	json_decref(merged);
	json_decref(state_values);
	code = write_end(ctx, own, code);
	return code;
}

/* --- delete, restore, purge ------------------------------------------- */

static int set_deleted(struct crm_ctx *ctx, const struct meta_object *o, int64_t id,
                       int64_t expected_version, bool deleted, int depth);

/* on_delete for the records that point at o/id: restrict refuses, cascade deletes them too. */
static int delete_children(struct crm_ctx *ctx, const struct meta_object *o, int64_t id, int depth)
{
	const struct meta *meta = ctx_meta(ctx);
	for (int oi = 0; oi < meta->object_count; oi++) {
		const struct meta_object *child = &meta->objects[oi];
		for (int fi = 0; fi < child->field_count; fi++) {
			const struct meta_field *f = &child->fields[fi];
			if (f->system || f->target != o || f->type != FIELD_REF || f->on_delete == ON_DELETE_SET_NULL)
				continue;
			json_t *ids;
			int code = store_children(ctx->txn, child, f, id, CASCADE_LIMIT + 1, &ids, ctx);
			if (code != CRM_OK)
				return code;
			size_t count = json_array_size(ids);
			if (count && f->on_delete == ON_DELETE_RESTRICT) {
				json_decref(ids);
				return crm_error(ctx, CRM_ESTATE, "cannot delete %s %lld: %zu %s record%s still refer%s to it",
				                 o->name, (long long)id, count, child->name, count == 1 ? "" : "s",
				                 count == 1 ? "s" : "");
			}
			if (count > CASCADE_LIMIT || depth > MAX_HOOK_DEPTH) {
				json_decref(ids);
				return crm_error(ctx, CRM_ELIMIT, "deleting %s %lld would cascade to too many records",
				                 o->name, (long long)id);
			}
			size_t i;
			json_t *child_id;
			json_array_foreach(ids, i, child_id) {
				code = set_deleted(ctx, child, json_integer_value(child_id), 0, true, depth + 1);
				if (code != CRM_OK) {
					json_decref(ids);
					return code;
				}
			}
			json_decref(ids);
		}
	}
	return CRM_OK;
}

static int set_deleted(struct crm_ctx *ctx, const struct meta_object *o, int64_t id,
                       int64_t expected_version, bool deleted, int depth)
{
	if (o->append_only)
		return refuse_append_only(ctx, o, deleted ? "deleted" : "restored");
	json_t *before = NULL;
	int code = store_get(ctx->txn, o, id, true, &before, ctx);
	if (code != CRM_OK)
		return code;
	bool is_deleted = !json_is_null(json_object_get(before, "deleted_at"));
	if (is_deleted == deleted) {
		json_decref(before);
		if (deleted)
			return crm_error(ctx, CRM_ENOTFOUND, "no %s with id %lld", o->name, (long long)id);
		return crm_error(ctx, CRM_ESTATE, "%s %lld is not in the recycle bin", o->name, (long long)id);
	}
	if ((code = fire(ctx, deleted ? EVENT_BEFORE_DELETE : EVENT_BEFORE_RESTORE, o, NULL, before)) != CRM_OK)
		goto done;
	if (deleted && (code = delete_children(ctx, o, id, depth)) != CRM_OK)
		goto done;
	if (!deleted) {
		/* A restored record must not point at deleted records or break uniqueness. */
		for (int i = 0; i < o->field_count; i++) {
			const struct meta_field *f = &o->fields[i];
			json_t *v = json_object_get(before, f->name);
			if (f->type == FIELD_REF && f->target && json_is_integer(v) && f->on_delete != ON_DELETE_SET_NULL) {
				bool exists;
				if ((code = store_exists(ctx->txn, f->target, json_integer_value(v), &exists, ctx)) != CRM_OK)
					goto done;
				if (!exists) {
					code = crm_error(ctx, CRM_ESTATE, "cannot restore: its %s (%s %lld) is deleted; restore that first",
					                 f->name, f->target->name, (long long)json_integer_value(v));
					goto done;
				}
			}
			if (f->unique && v && !json_is_null(v)) {
				bool taken;
				if ((code = store_value_taken(ctx->txn, o, f, v, id, &taken, ctx)) != CRM_OK)
					goto done;
				if (taken) {
					code = crm_error(ctx, CRM_ESTATE, "cannot restore: another %s now has this %s", o->name, f->name);
					goto done;
				}
			}
		}
	}
	char now[32];
	now_text(now, sizeof(now));
	json_t *changes = json_pack("{s:o, s:s, s:o}", "deleted_at", deleted ? json_string(now) : json_null(),
	                            "updated_at", now,
	                            "updated_by", acting_user(ctx));
	code = store_update(ctx->txn, o, id, expected_version, true, changes, ctx);
	json_decref(changes);
	if (code == CRM_OK)
		code = audit(ctx, o, id, deleted ? "delete" : "restore", NULL, NULL);
	if (code == CRM_OK)
		code = refresh_rollups(ctx, o, deleted ? before : NULL, deleted ? NULL : before);
	enum event_kind after = deleted ? EVENT_AFTER_DELETE : EVENT_AFTER_RESTORE;
	if (code == CRM_OK && events_has(ctx->kernel->events, o, after)) {
		json_t *stored = NULL;
		if ((code = store_get(ctx->txn, o, id, true, &stored, ctx)) == CRM_OK)
			code = fire(ctx, after, o, NULL, stored);
		json_decref(stored);
	}
done:
	json_decref(before);
	return code;
}

/* Delete, restore and purge need the record readable and deletable by the caller. */
static int entry_access(struct crm_ctx *ctx, const struct meta_object *o, int64_t id, bool deleted)
{
	if (ctx->user_id == 0)
		return CRM_OK;
	int code = access_load(ctx);
	json_t *record = NULL;
	if (code == CRM_OK)
		code = store_get(ctx->txn, o, id, deleted, &record, ctx);
	if (code == CRM_OK)
		code = check_record_access(ctx, o, record, ACCESS_DELETE, id);
	json_decref(record);
	return code;
}

int object_delete(struct crm_ctx *ctx, const char *object, int64_t id, int64_t expected_version)
{
	const struct meta_object *o = NULL;
	int code = find_object(ctx, object, &o);
	if (code != CRM_OK)
		return code;
	bool own;
	if ((code = write_begin(ctx, &own)) != CRM_OK)
		return code;
	if ((code = entry_access(ctx, o, id, false)) != CRM_OK)
		return write_end(ctx, own, code);
	return write_end(ctx, own, set_deleted(ctx, o, id, expected_version, true, 0));
}

int object_restore(struct crm_ctx *ctx, const char *object, int64_t id)
{
	const struct meta_object *o = NULL;
	int code = find_object(ctx, object, &o);
	if (code != CRM_OK)
		return code;
	bool own;
	if ((code = write_begin(ctx, &own)) != CRM_OK)
		return code;
	if ((code = entry_access(ctx, o, id, true)) != CRM_OK)
		return write_end(ctx, own, code);
	return write_end(ctx, own, set_deleted(ctx, o, id, 0, false, 0));
}

int object_purge(struct crm_ctx *ctx, const char *object, int64_t id)
{
	const struct meta_object *o = NULL;
	int code = find_object(ctx, object, &o);
	if (code != CRM_OK)
		return code;
	bool own;
	if ((code = write_begin(ctx, &own)) != CRM_OK)
		return code;
	if ((code = entry_access(ctx, o, id, true)) != CRM_OK)
		return write_end(ctx, own, code);
	code = store_purge(ctx->txn, o, id, ctx);
	if (code == CRM_OK)
		code = audit(ctx, o, id, "purge", NULL, NULL);
	return write_end(ctx, own, code);
}

int object_purge_expired(struct crm_ctx *ctx, int days, int64_t *purged, int64_t *kept)
{
	if (ctx->user_id != 0)
		return crm_error(ctx, CRM_EDENIED, "the recycle bin is emptied by the system only");
	char cutoff[32];
	time_t t = time(NULL) - (time_t)days * 86400;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(cutoff, sizeof(cutoff), "%Y-%m-%dT%H:%M:%SZ", &tm);
	*purged = *kept = 0;
	const struct meta *meta = ctx_meta(ctx);
	for (int oi = 0; oi < meta->object_count; oi++) {
		const struct meta_object *o = &meta->objects[oi];
		json_t *ids = NULL;
		struct store_conn *conn = read_conn(ctx);
		int code = store_deleted_before(conn, o, cutoff, 10000, &ids, ctx);
		read_done(ctx, conn);
		if (code != CRM_OK)
			return code;
		size_t i;
		json_t *id;
		json_array_foreach(ids, i, id) {
			code = object_purge(ctx, o->name, json_integer_value(id));
			if (code == CRM_OK)
				(*purged)++;
			else if (code == CRM_ESTATE)
				(*kept)++;
			else {
				json_decref(ids);
				return code;
			}
		}
		json_decref(ids);
	}
	crm_error_reset(ctx);
	return CRM_OK;
}

/* --- queries ---------------------------------------------------------- */

/* Everything a compiled query owns. */
struct compiled {
	struct crm_ctx *ctx;               /* borrowed: the caller, for the access backstop */
	struct expr_sql b;
	struct store_query q;
	struct strbuf where;
	char *sort_text;                   /* normalised sort, bound into cursors */
	struct strbuf columns[MAX_FIELDS];
	char *names[MAX_FIELDS];
	const char *column_sql[MAX_FIELDS];
	const char *column_names[MAX_FIELDS];
	const struct meta_field *column_fields[MAX_FIELDS];
	struct strbuf sorts[MAX_SORT_KEYS];
	const char *sort_sql[MAX_SORT_KEYS];
	enum store_sort_dir sort_dir[MAX_SORT_KEYS];
	struct strbuf rank;                /* bm25() of a full-text search, the default order */
};

static void compiled_free(struct compiled *c)
{
	expr_sql_free(&c->b);
	strbuf_free(&c->where);
	strbuf_free(&c->rank);
	free(c->sort_text);
	for (int i = 0; i < c->q.column_count; i++) {
		strbuf_free(&c->columns[i]);
		free(c->names[i]);
	}
	for (int i = 0; i < c->q.sort_count; i++)
		strbuf_free(&c->sorts[i]);
	json_decref(c->q.after);
	free(c);
}

static int add_column(struct crm_ctx *ctx, struct compiled *c, const char *path)
{
	if (c->q.column_count >= MAX_FIELDS)
		return crm_error(ctx, CRM_ELIMIT, "too many fields (at most %d)", MAX_FIELDS);
	for (int i = 0; i < c->q.column_count; i++)
		if (strcmp(c->names[i], path) == 0)
			return CRM_OK;
	int i = c->q.column_count;
	char err[256];
	if (expr_compile_path(&c->b, path, &c->columns[i], &c->column_fields[i], err, sizeof(err)) != CRM_OK) {
		strbuf_free(&c->columns[i]);
		return crm_error(ctx, CRM_EINVAL, "fields: %s", err);
	}
	c->names[i] = xstrdup(path);
	c->column_sql[i] = c->columns[i].data;
	c->column_names[i] = c->names[i];
	c->q.column_count++;
	return CRM_OK;
}

/* Splits a comma list into trimmed items; calls fn for each. */
static int each_item(struct crm_ctx *ctx, const char *list, int (*fn)(struct crm_ctx *, struct compiled *, const char *),
                     struct compiled *c)
{
	char item[256];
	const char *p = list;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		while (len && (*p == ' ')) { p++; len--; }
		while (len && p[len - 1] == ' ')
			len--;
		if (len == 0 || len >= sizeof(item))
			return crm_error(ctx, CRM_EINVAL, "empty or overlong item in list '%.80s'", list);
		memcpy(item, p, len);
		item[len] = '\0';
		int code = fn(ctx, c, item);
		if (code != CRM_OK)
			return code;
		if (!comma)
			break;
		p = comma + 1;
	}
	return CRM_OK;
}

static int add_sort(struct crm_ctx *ctx, struct compiled *c, const char *item)
{
	if (c->q.sort_count >= MAX_SORT_KEYS)
		return crm_error(ctx, CRM_ELIMIT, "too many sort keys (at most %d)", MAX_SORT_KEYS);
	int i = c->q.sort_count;
	bool desc = item[0] == '-';
	const char *path = item[0] == '-' || item[0] == '+' ? item + 1 : item;
	const struct meta_field *f;
	char err[256];
	if (expr_compile_path(&c->b, path, &c->sorts[i], &f, err, sizeof(err)) != CRM_OK) {
		strbuf_free(&c->sorts[i]);
		return crm_error(ctx, CRM_EINVAL, "sort: %s", err);
	}
	if (meta_field_kind(f) == KIND_JSON) {
		strbuf_free(&c->sorts[i]);
		return crm_error(ctx, CRM_EINVAL, "sort: cannot sort by %s field '%s'", meta_type_name(f->type), path);
	}
	c->sort_sql[i] = c->sorts[i].data;
	c->sort_dir[i] = desc ? STORE_DESC : STORE_ASC;
	c->q.sort_count++;
	return CRM_OK;
}

/* --- cursors: base64url( mac[32] | json {"s": sort, "k": keys} ) --- */

static char *cursor_encode(struct crm_ctx *ctx, const char *sort, json_t *keys)
{
	json_t *payload = json_pack("{s:s, s:O}", "s", sort, "k", keys);
	char *text = json_dumps(payload, JSON_COMPACT);
	json_decref(payload);
	size_t len = strlen(text);
	unsigned char *raw = xmalloc(crypto_auth_BYTES + len);
	crypto_auth(raw, (const unsigned char *)text, len, ctx->kernel->secret);
	memcpy(raw + crypto_auth_BYTES, text, len);
	free(text);
	size_t b64_len = sodium_base64_ENCODED_LEN(crypto_auth_BYTES + len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *b64 = xmalloc(b64_len);
	sodium_bin2base64(b64, b64_len, raw, crypto_auth_BYTES + len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	free(raw);
	return b64;
}

static int cursor_decode(struct crm_ctx *ctx, const char *cursor, const char *sort, int key_count,
                         json_t **out_keys)
{
	size_t len = strlen(cursor);
	if (len > 8192)
		return crm_error(ctx, CRM_EINVAL, "invalid cursor");
	unsigned char *raw = xmalloc(len + 1);
	size_t raw_len = 0;
	if (sodium_base642bin(raw, len, cursor, len, NULL, &raw_len, NULL,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0
	    || raw_len <= crypto_auth_BYTES
	    || crypto_auth_verify(raw, raw + crypto_auth_BYTES, raw_len - crypto_auth_BYTES, ctx->kernel->secret) != 0) {
		free(raw);
		return crm_error(ctx, CRM_EINVAL, "invalid cursor: it was altered or does not come from this server");
	}
	json_t *payload = json_loadb((const char *)raw + crypto_auth_BYTES, raw_len - crypto_auth_BYTES, 0, NULL);
	free(raw);
	json_t *keys = json_object_get(payload, "k");
	const char *s = json_string_value(json_object_get(payload, "s"));
	if (!s || strcmp(s, sort) != 0 || !json_is_array(keys) || (int)json_array_size(keys) != key_count + 1) {
		json_decref(payload);
		return crm_error(ctx, CRM_EINVAL, "invalid cursor: it belongs to a query with another sort order");
	}
	*out_keys = json_incref(keys);
	json_decref(payload);
	return CRM_OK;
}

/*
 * Full-text search over the object's full-text index (schema.c: an FTS5 table
 * "<object>__search" of its stored `search: true` fields, trigram tokens).
 *
 * The text is split into terms at white space; a record matches when it holds
 * every term. A term of 3 or more characters goes to MATCH as a quoted phrase
 * (its quotes doubled), so FTS5 syntax in user text ("*", NEAR(, -, column
 * filters, unbalanced quotes) is only ever text. The trigram index cannot
 * answer a term of 1 or 2 characters (客户, 合同), so those become LIKE
 * conditions on the record's columns, tried only on the rows the longer terms
 * matched when there are any, else on the whole table.
 *
 * Hidden fields: the MATCH carries a column filter naming only the fields the
 * caller may read, and the LIKE conditions only those columns, so text in a
 * hidden field never makes a record match. Results rank by bm25 (best first)
 * unless the caller sorts.
 */
static bool search_space(const char *p, int *len)
{
	if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\v') {
		*len = 1;
		return true;
	}
	if ((unsigned char)p[0] == 0xE3 && (unsigned char)p[1] == 0x80 && (unsigned char)p[2] == 0x80) {
		*len = 3;   /* U+3000 ideographic space */
		return true;
	}
	return false;
}

/*
 * What a search text asks of o for this caller: match, the FTS5 query of its
 * terms of 3 or more characters (empty when none), with a column filter when
 * the caller may not read every indexed field; shorts, its 1-2 character
 * terms (a JSON array of strings); *readable, how many indexed fields the
 * caller may read.
 */
static int search_terms(struct crm_ctx *ctx, const struct meta_object *o, const char *search,
                        struct strbuf *match, json_t *shorts, int *readable)
{
	if (strlen(search) > MAX_SEARCH_TEXT)
		return crm_error(ctx, CRM_ELIMIT, "search text longer than %d bytes", MAX_SEARCH_TEXT);
	struct strbuf phrases = { 0 }, columns = { 0 };
	int indexed = 0, terms = 0;
	*readable = 0;
	for (int i = 0; i < o->field_count; i++) {
		const struct meta_field *f = &o->fields[i];
		if (!f->search || !meta_field_stored(f))
			continue;
		indexed++;
		if (access_field(ctx, o, f) != FIELD_ACCESS_HIDDEN)
			strbuf_printf(&columns, "%s%s", (*readable)++ ? " " : "", f->name);
	}
	if (!indexed)
		return crm_error(ctx, CRM_EINVAL, "object '%s' has no searchable fields", o->name);
	const char *p = search;
	int skip;
	while (*p) {
		if (search_space(p, &skip)) {
			p += skip;
			continue;
		}
		const char *begin = p;
		int chars = 0;
		while (*p && !search_space(p, &skip)) {
			chars += ((unsigned char)*p & 0xC0) != 0x80;
			p++;
		}
		if (++terms > MAX_SEARCH_TERMS) {
			strbuf_free(&phrases);
			strbuf_free(&columns);
			return crm_error(ctx, CRM_ELIMIT, "too many search terms (at most %d)", MAX_SEARCH_TERMS);
		}
		size_t len = (size_t)(p - begin);
		json_t *term = json_stringn(begin, len);
		if (!term) {
			strbuf_free(&phrases);
			strbuf_free(&columns);
			return crm_error(ctx, CRM_EINVAL, "search text is not valid UTF-8");
		}
		if (chars < 3) {
			json_array_append_new(shorts, term);
			continue;
		}
		json_decref(term);
		strbuf_puts(&phrases, phrases.len ? " AND \"" : "\"");
		for (size_t k = 0; k < len; k++) {
			if (begin[k] == '"')
				strbuf_putc(&phrases, '"');
			strbuf_putc(&phrases, begin[k]);
		}
		strbuf_putc(&phrases, '"');
	}
	if (phrases.len && *readable < indexed)
		strbuf_printf(match, "{%s} : (%s)", columns.data, phrases.data);
	else if (phrases.len)
		strbuf_puts(match, phrases.data);
	strbuf_free(&phrases);
	strbuf_free(&columns);
	return CRM_OK;
}

static int add_search(struct crm_ctx *ctx, struct compiled *c, const struct meta_object *o, const char *search)
{
	struct strbuf match = { 0 }, cond = { 0 };
	json_t *shorts = json_array();
	int readable = 0;
	int code = search_terms(ctx, o, search, &match, shorts, &readable);
	if (code != CRM_OK)
		goto cleanup;
	size_t ti;
	json_t *term;
	json_array_foreach(shorts, ti, term) {
		struct strbuf pattern = { 0 };
		strbuf_putc(&pattern, '%');
		for (const char *q = json_string_value(term); *q; q++) {
			if (*q == '%' || *q == '_' || *q == '\\')
				strbuf_putc(&pattern, '\\');
			strbuf_putc(&pattern, *q);
		}
		strbuf_putc(&pattern, '%');
		struct expr_value v = { .type = EV_TEXT, .s = pattern.data };
		int param = expr_sql_bind(&c->b, &v);
		strbuf_free(&pattern);
		strbuf_puts(&cond, cond.len ? " AND (" : "(");
		int n = 0;
		for (int i = 0; i < o->field_count; i++) {
			const struct meta_field *f = &o->fields[i];
			if (!f->search || !meta_field_stored(f) || access_field(ctx, o, f) == FIELD_ACCESS_HIDDEN)
				continue;
			strbuf_puts(&cond, n++ ? " OR t0." : "t0.");
			strbuf_ident(&cond, f->name);
			strbuf_printf(&cond, " LIKE ?%d ESCAPE '\\'", param);
		}
		strbuf_puts(&cond, n ? ")" : "0)");
	}
	if (!readable) {
		strbuf_reset(&cond);
		strbuf_puts(&cond, "0");   /* nothing the caller may read can match */
	} else if (match.len) {
		struct strbuf table = { 0 }, joins = { 0 };
		strbuf_printf(&table, "%s__search", o->name);
		struct expr_value v = { .type = EV_TEXT, .s = match.data };
		int param = expr_sql_bind(&c->b, &v);
		/* the index first: the planner starts from the MATCH and reaches t0 by id */
		strbuf_puts(&joins, " JOIN ");
		strbuf_ident(&joins, table.data);
		strbuf_puts(&joins, " ON ");
		strbuf_ident(&joins, table.data);
		strbuf_puts(&joins, ".rowid = t0.\"id\"");
		if (c->b.joins.data)
			strbuf_puts(&joins, c->b.joins.data);
		strbuf_free(&c->b.joins);
		c->b.joins = joins;
		struct strbuf both = { 0 };
		strbuf_ident(&both, table.data);
		strbuf_printf(&both, " MATCH ?%d", param);
		if (cond.len)
			strbuf_printf(&both, " AND %s", cond.data);
		strbuf_free(&cond);
		cond = both;
		strbuf_puts(&c->rank, "bm25(");
		strbuf_ident(&c->rank, table.data);
		strbuf_putc(&c->rank, ')');
		strbuf_free(&table);
	}
	if (cond.len) {
		if (c->where.len) {
			struct strbuf both = { 0 };
			strbuf_printf(&both, "(%s) AND (%s)", c->where.data, cond.data);
			strbuf_free(&c->where);
			c->where = both;
		} else {
			strbuf_printf(&c->where, "(%s)", cond.data);
		}
	}
cleanup:
	strbuf_free(&match);
	strbuf_free(&cond);
	json_decref(shorts);
	return code;
}

static int add_column_item(struct crm_ctx *ctx, struct compiled *c, const char *item)
{
	return add_column(ctx, c, item);
}

/*
 * The access backstop's question (store_query.column_allowed): may this
 * query read table.column? Yes for what is not record data (shares, json_each),
 * for the system columns the store's own predicates use, for every field the
 * caller may read, and for the columns the builder emitted on the role's or
 * the implementer's behalf (access rules, inlined formulas: expr_sql_vouched).
 * Anything else reached the SQL by a bug.
 */
static bool column_allowed(void *arg, const char *table, const char *column)
{
	struct compiled *c = arg;
	const struct meta_object *o = meta_find_object(ctx_meta(c->ctx), table);
	const struct meta_field *f = o ? meta_find_field(o, column) : NULL;
	size_t length = strlen(column);
	if (!f && o && length > 5 && (strcmp(column + length - 5, "__lat") == 0 || strcmp(column + length - 5, "__lng") == 0)) {
		/* a geo field's numbers (store.c) are that field's */
		char name[80];
		snprintf(name, sizeof(name), "%.*s", (int)(length - 5), column);
		f = meta_find_field(o, name);
		if (f && f->type != FIELD_GEO)
			f = NULL;
	}
	if (!f || strcmp(column, "id") == 0 || strcmp(column, "owner") == 0 || strcmp(column, "deleted_at") == 0)
		return true;
	return access_field(c->ctx, o, f) != FIELD_ACCESS_HIDDEN || expr_sql_vouched(&c->b, f);
}

/* CRM_TEST_FAULT=hidden_column: selects a field the caller may not read, past the builder's check. */
static void inject_hidden_column(struct crm_ctx *ctx, struct compiled *c, const struct meta_object *o)
{
	for (int i = 0; i < o->field_count && c->q.column_count < MAX_FIELDS; i++) {
		const struct meta_field *f = &o->fields[i];
		if (f->type == FIELD_FORMULA || access_field(ctx, o, f) != FIELD_ACCESS_HIDDEN)
			continue;
		int n = c->q.column_count++;
		strbuf_puts(&c->columns[n], "t0.");
		strbuf_ident(&c->columns[n], f->name);
		c->names[n] = xstrdup(f->name);
		c->column_sql[n] = c->columns[n].data;
		c->column_names[n] = c->names[n];
		c->column_fields[n] = f;
		return;
	}
}

/* Compiles a query (columns only when with_columns). *out owned (compiled_free). */
static int compile_query(struct crm_ctx *ctx, const char *object, const struct object_query *query,
                         bool with_columns, struct compiled **out)
{
	const struct meta_object *o = NULL;
	int code = find_for_caller(ctx, object, &o);
	if (code != CRM_OK)
		return code;
	if (!access_allows(ctx, o, ACCESS_READ))
		return crm_error(ctx, CRM_ENOTFOUND, "unknown object '%.64s'", object);
	struct compiled *c = xcalloc(1, sizeof(*c));
	c->ctx = ctx;
	c->b.meta = ctx_meta(ctx);
	c->b.object = o;
	c->b.base_alias = "t0";
	c->b.me = ctx->user_id;
	/* filters, sorts, columns and groups may only touch fields the caller can read */
	c->b.can_read = access_can_read;
	/* and a path reaches only records the caller may read (the same rule as the list's predicate) */
	c->b.join_rule = access_join_rule;
	/* $user.<field>: the caller's own user record (a console's "queue.team = $user.team") */
	c->b.user_field = access_user_value;
	c->b.arg = ctx;
	c->q.object = o;
	c->q.sql = &c->b;
	c->q.deleted = query && query->deleted;
	c->q.column_sql = c->column_sql;
	c->q.column_names = c->column_names;
	c->q.column_fields = c->column_fields;
	c->q.sort_sql = c->sort_sql;
	c->q.sort_dir = c->sort_dir;
	if (!access_is_admin(ctx)) {
		/* the second line of defence: SQLite refuses any column the caller may not read */
		c->q.column_allowed = column_allowed;
		c->q.column_arg = c;
		c->q.access_key = ctx->access && ctx->access->role ? ctx->access->role->name : "";
	}
	if (with_columns) {
		if (query && query->fields && *query->fields) {
			code = add_column(ctx, c, "id");
			if (code == CRM_OK)
				code = each_item(ctx, query->fields, add_column_item, c);
		} else {
			for (int i = 0; code == CRM_OK && i < o->field_count; i++)
				if (access_field(ctx, o, &o->fields[i]) != FIELD_ACCESS_HIDDEN)
					code = add_column(ctx, c, o->fields[i].name);
		}
		if (code == CRM_OK && ctx->kernel->fault_hidden_column)
			inject_hidden_column(ctx, c, o);
		if (code != CRM_OK)
			goto fail;
	}
	if (query && query->filter && *query->filter) {
		struct expr *e;
		char err[256];
		if (expr_parse(query->filter, &e, err, sizeof(err)) != CRM_OK) {
			code = crm_error(ctx, CRM_EINVAL, "filter: %s", err);
			goto fail;
		}
		code = expr_compile(&c->b, e, &c->where, err, sizeof(err));
		expr_free(e);
		if (code != CRM_OK) {
			code = crm_error(ctx, CRM_EINVAL, "filter: %s", err);
			goto fail;
		}
	}
	if (query && query->search && *query->search && (code = add_search(ctx, c, o, query->search)) != CRM_OK)
		goto fail;
	struct strbuf predicate = { 0 };
	access_predicate(ctx, o, ACCESS_READ, &c->b, &predicate);
	if (predicate.len) {
		if (c->where.len) {
			/* parenthesise the filter: its ORs must not swallow the predicate */
			struct strbuf both = { 0 };
			strbuf_printf(&both, "(%s) AND (%s)", c->where.data, predicate.data);
			strbuf_free(&c->where);
			c->where = both;
		} else {
			strbuf_puts(&c->where, predicate.data);
		}
	}
	strbuf_free(&predicate);
	c->q.where = c->where.len ? c->where.data : NULL;
	if (query && query->sort && *query->sort && (code = each_item(ctx, query->sort, add_sort, c)) != CRM_OK)
		goto fail;
	if (c->rank.len && c->q.sort_count == 0) {
		strbuf_puts(&c->sorts[0], c->rank.data);
		c->sort_sql[0] = c->sorts[0].data;
		c->sort_dir[0] = STORE_ASC;   /* bm25: lower is better */
		c->q.sort_count = 1;
	}
	c->sort_text = xstrdup(query && query->sort ? query->sort : "");
	if (query && query->after && *query->after
	    && (code = cursor_decode(ctx, query->after, c->sort_text, c->q.sort_count, &c->q.after)) != CRM_OK)
		goto fail;
	*out = c;
	return CRM_OK;
fail:
	compiled_free(c);
	return code;
}

struct page {
	json_t *records;                   /* the records as jansson values, or */
	struct jsonw *text;                /* ... as JSON text, or */
	int (*row_fn)(void *arg, json_t *record); /* ... each to row_fn */
	void *arg;
	json_t *last_keys;                 /* sort keys of the limit-th record (a cursor) */
	int limit;
	int seen;
	bool more;                         /* a record beyond the limit exists */
};

static int collect_row(void *arg, const struct store_row *row)
{
	struct page *p = arg;
	if (p->seen == p->limit) {
		p->more = true;
		return 1;
	}
	if (p->text) {
		if (p->seen)
			jsonw_char(p->text, ',');
		store_row_write(row, p->text);
	} else {
		json_t *record = store_row_record(row);
		int stop = 0;
		if (p->row_fn)
			stop = p->row_fn(p->arg, record);
		else
			json_array_append(p->records, record);
		json_decref(record);
		if (stop)
			return stop;
	}
	if (++p->seen == p->limit)
		p->last_keys = store_row_keys(row);
	return 0;
}

/*
 * One page, as a jansson value (*out) or as JSON text appended to text:
 * {"records": [...], "next": cursor or null, "total": n, "total_estimated": b}
 * (the totals only when asked for).
 */
static int query_page(struct crm_ctx *ctx, const char *object, const struct object_query *query,
                      json_t **out, struct jsonw *text)
{
	int limit = query && query->limit ? query->limit : OBJECT_DEFAULT_LIMIT;
	if (limit < 1 || limit > OBJECT_MAX_LIMIT)
		return crm_error(ctx, CRM_ELIMIT, "limit must be between 1 and %d", OBJECT_MAX_LIMIT);
	struct compiled *c;
	int code = compile_query(ctx, object, query, true, &c);
	if (code != CRM_OK)
		return code;
	c->q.limit = limit + 1;
	size_t text_start = text ? text->len : 0;
	struct page p = { .limit = limit };
	if (text)
		jsonw_raw(text, "{\"records\":[", 12);
	else
		p.records = json_array();
	p.text = text;
	struct store_conn *conn = read_conn(ctx);
	code = store_select(conn, &c->q, collect_row, &p, ctx);
	if (code == 1)
		code = CRM_OK;
	char *cursor = NULL;
	if (code == CRM_OK && p.more && p.last_keys)
		cursor = cursor_encode(ctx, c->sort_text, p.last_keys);
	int64_t total = -1;
	bool estimated = false;
	if (code == CRM_OK && query && query->count != OBJECT_COUNT_NONE) {
		/* counting starts from scratch: no keyset */
		json_decref(c->q.after);
		c->q.after = NULL;
		if (query->count == OBJECT_COUNT_EXACT) {
			code = store_count(conn, &c->q, 0, &total, ctx);
		} else {
			/* exact up to 10,000, then the id range as an upper estimate */
			code = store_count(conn, &c->q, 10001, &total, ctx);
			estimated = total > 10000;
			if (code == CRM_OK && estimated)
				code = store_max_id(conn, c->q.object, &total, ctx);
		}
	}
	read_done(ctx, conn);
	json_decref(p.last_keys);
	compiled_free(c);
	if (code != CRM_OK) {
		json_decref(p.records);
		free(cursor);
		if (text)
			text->len = text_start;
		return code;
	}
	bool with_total = query && query->count != OBJECT_COUNT_NONE;
	bool with_estimate = with_total && query->count != OBJECT_COUNT_EXACT;
	if (text) {
		jsonw_raw(text, "],\"next\":", 9);
		if (cursor)
			jsonw_string(text, cursor, strlen(cursor));
		else
			jsonw_raw(text, "null", 4);
		if (with_total) {
			jsonw_raw(text, ",\"total\":", 9);
			jsonw_int(text, total);
		}
		if (with_estimate) {
			jsonw_raw(text, ",\"total_estimated\":", 19);
			jsonw_raw(text, estimated ? "true" : "false", estimated ? 4 : 5);
		}
		jsonw_char(text, '}');
	} else {
		json_t *result = json_object();
		json_object_set_new(result, "records", p.records);
		json_object_set_new(result, "next", cursor ? json_string(cursor) : json_null());
		if (with_total)
			json_object_set_new(result, "total", json_integer(total));
		if (with_estimate)
			json_object_set_new(result, "total_estimated", json_boolean(estimated));
		*out = result;
	}
	free(cursor);
	return CRM_OK;
}

/* --- search: snippets and the global search --- */

#define SNIPPET_OPEN "\x02"     /* around each matched stretch of a snippet (U+0002, U+0003) */
#define SNIPPET_CLOSE "\x03"

struct snippet_rows {
	json_t *records;            /* the page: each gets _snippet and _snippet_field */
	const char **columns;       /* the readable indexed fields, in the index's order */
};

static int attach_snippet(void *arg, json_t *row)
{
	struct snippet_rows *s = arg;
	json_int_t id = json_integer_value(json_array_get(row, 0));
	size_t i;
	json_t *record;
	json_array_foreach(s->records, i, record) {
		if (json_integer_value(json_object_get(record, "id")) != id)
			continue;
		/* the first readable field where the query matched */
		for (size_t k = 1; k < json_array_size(row); k++) {
			const char *text = json_string_value(json_array_get(row, k));
			if (text && strstr(text, SNIPPET_OPEN)) {
				json_object_set_new(record, "_snippet", json_string(text));
				json_object_set_new(record, "_snippet_field", json_string(s->columns[k - 1]));
				break;
			}
		}
	}
	return 0;
}

/* A short term's snippet, cut from the record's own values: up to 40 bytes either side, on character bounds. */
static void short_snippet(const struct meta_object *o, json_t *record, json_t *shorts)
{
	const char *term = json_string_value(json_array_get(shorts, 0));
	for (int i = 0; term && i < o->field_count; i++) {
		const struct meta_field *f = &o->fields[i];
		const char *text = f->search ? json_string_value(json_object_get(record, f->name)) : NULL;
		const char *at = text ? strcasestr(text, term) : NULL;
		if (!at)
			continue;
		const char *from = at - text > 40 ? at - 40 : text;
		while (from > text && ((unsigned char)*from & 0xC0) == 0x80)
			from--;
		const char *end = at + strlen(term), *to = strlen(end) > 40 ? end + 40 : end + strlen(end);
		while (*to && ((unsigned char)*to & 0xC0) == 0x80)
			to++;
		struct strbuf sb = { 0 };
		if (from > text)
			strbuf_puts(&sb, "…");
		strbuf_add(&sb, from, (size_t)(at - from));
		strbuf_puts(&sb, SNIPPET_OPEN);
		strbuf_add(&sb, at, strlen(term));
		strbuf_puts(&sb, SNIPPET_CLOSE);
		strbuf_add(&sb, end, (size_t)(to - end));
		if (*to)
			strbuf_puts(&sb, "…");
		json_object_set_new(record, "_snippet", json_string(sb.data));
		json_object_set_new(record, "_snippet_field", json_string(f->name));
		strbuf_free(&sb);
		return;
	}
}

/*
 * Adds _snippet (the matched stretch, marked with U+0002 before and U+0003
 * after each hit) and _snippet_field to each record of a search's page. Only
 * readable fields are asked for snippets: the MATCH's column filter keeps
 * hits in them, and the SELECT names no other column.
 */
static int add_snippets(struct crm_ctx *ctx, const struct meta_object *o, const char *search, json_t *records)
{
	struct strbuf match = { 0 }, sql = { 0 }, table = { 0 };
	json_t *shorts = json_array(), *ids = json_array();
	const char *columns[MAX_FIELDS];
	int readable = 0, column_count = 0;
	int code = search_terms(ctx, o, search, &match, shorts, &readable);
	if (code != CRM_OK || !readable || !json_array_size(records))
		goto cleanup;
	if (!match.len) {
		size_t i;
		json_t *record;
		json_array_foreach(records, i, record)
			short_snippet(o, record, shorts);
		goto cleanup;
	}
	strbuf_printf(&table, "%s__search", o->name);
	strbuf_puts(&sql, "SELECT rowid");
	int index = 0;
	for (int i = 0; i < o->field_count && column_count < MAX_FIELDS; i++) {
		const struct meta_field *f = &o->fields[i];
		if (!f->search || !meta_field_stored(f))
			continue;
		if (access_field(ctx, o, f) != FIELD_ACCESS_HIDDEN) {
			columns[column_count++] = f->name;
			strbuf_puts(&sql, ", snippet(");
			strbuf_ident(&sql, table.data);
			strbuf_printf(&sql, ", %d, char(2), char(3), '…', 16)", index);
		}
		index++;
	}
	strbuf_puts(&sql, " FROM ");
	strbuf_ident(&sql, table.data);
	strbuf_puts(&sql, " WHERE ");
	strbuf_ident(&sql, table.data);
	strbuf_puts(&sql, " MATCH ?1 AND rowid IN (SELECT value FROM json_each(?2))");
	size_t i;
	json_t *record;
	json_array_foreach(records, i, record)
		json_array_append(ids, json_object_get(record, "id"));
	char *id_text = json_dumps(ids, JSON_COMPACT);
	json_t *params = json_pack("[ss]", match.data, id_text);
	free(id_text);
	struct snippet_rows rows = { records, columns };
	struct store_conn *conn = read_conn(ctx);
	code = store_rows(conn, sql.data, params, attach_snippet, &rows, ctx);
	read_done(ctx, conn);
	json_decref(params);
cleanup:
	strbuf_free(&match);
	strbuf_free(&sql);
	strbuf_free(&table);
	json_decref(shorts);
	json_decref(ids);
	return code;
}

int object_search(struct crm_ctx *ctx, const char *text, int per_object, json_t **out)
{
	int code = access_load(ctx);
	if (code != CRM_OK)
		return code;
	const struct meta *meta = ctx_meta(ctx);
	json_t *results = json_array();
	for (int oi = 0; code == CRM_OK && oi < meta->object_count; oi++) {
		const struct meta_object *o = &meta->objects[oi];
		bool readable = false;
		for (int i = 0; i < o->field_count && !readable; i++)
			readable = o->fields[i].search && meta_field_stored(&o->fields[i])
			           && access_field(ctx, o, &o->fields[i]) != FIELD_ACCESS_HIDDEN;
		if (!readable || !access_allows(ctx, o, ACCESS_READ))
			continue;
		struct object_query query = { .search = text, .limit = per_object };
		json_t *page = NULL;
		code = object_query(ctx, o->name, &query, &page);
		if (code == CRM_ENOTFOUND) {   /* an object this caller does not see */
			crm_error_reset(ctx);
			code = CRM_OK;
			continue;
		}
		json_t *records = json_object_get(page, "records");
		if (code == CRM_OK && json_array_size(records)) {
			code = add_snippets(ctx, o, text, records);
			json_array_append_new(results, json_pack("{s:s, s:O, s:b}", "object", o->name, "records", records,
			                                         "more", !json_is_null(json_object_get(page, "next"))));
		}
		json_decref(page);
	}
	if (code != CRM_OK) {
		json_decref(results);
		return code;
	}
	*out = json_pack("{s:s, s:o}", "q", text, "results", results);
	return CRM_OK;
}

int object_query(struct crm_ctx *ctx, const char *object, const struct object_query *query, json_t **out)
{
	return query_page(ctx, object, query, out, NULL);
}

int object_query_text(struct crm_ctx *ctx, const char *object, const struct object_query *query,
                      struct jsonw *out)
{
	return query_page(ctx, object, query, NULL, out);
}

int object_query_each(struct crm_ctx *ctx, const char *object, const struct object_query *query,
                      int (*row_fn)(void *arg, json_t *record), void *arg)
{
	struct compiled *c;
	int code = compile_query(ctx, object, query, true, &c);
	if (code != CRM_OK)
		return code;
	/* Pages of 500 on a fresh read each: flat memory, and no long-lived snapshot pinning the WAL. */
	for (;;) {
		struct page p = { .limit = 500, .row_fn = row_fn, .arg = arg };
		c->q.limit = 501;
		struct store_conn *conn = read_conn(ctx);
		code = store_select(conn, &c->q, collect_row, &p, ctx);
		read_done(ctx, conn);
		if (code == 1 && p.more)
			code = CRM_OK;
		if (code != CRM_OK || !p.more) {
			json_decref(p.last_keys);
			break;
		}
		json_decref(c->q.after);
		c->q.after = p.last_keys;
	}
	compiled_free(c);
	return code;
}

int object_count(struct crm_ctx *ctx, const char *object, const char *filter, int64_t *out)
{
	struct object_query query = { .filter = filter };
	struct compiled *c;
	int code = compile_query(ctx, object, &query, false, &c);
	if (code != CRM_OK)
		return code;
	struct store_conn *conn = read_conn(ctx);
	code = store_count(conn, &c->q, 0, out, ctx);
	read_done(ctx, conn);
	compiled_free(c);
	return code;
}

/*
 * A group item: a field path, or a date path with a bucket ("close_date:month"),
 * grouped in SQL by the bucket's first day's text: 2026-12-07 -> day
 * "2026-12-07", week "2026-12-07" (its Monday), month "2026-12", quarter
 * "2026-Q4", year "2026". The row key
 * is "close_date_month".
 */
static int group_item(struct crm_ctx *ctx, struct compiled *c, const char *item)
{
	const char *colon = strchr(item, ':');
	if (!colon)
		return add_column(ctx, c, item);
	static const char *const buckets[] = { "day", "month", "quarter", "year", "week" };
	int bucket = -1;
	for (int k = 0; k < 5; k++)
		if (!strcmp(colon + 1, buckets[k]))
			bucket = k;
	if (bucket < 0)
		return crm_error(ctx, CRM_EINVAL, "group '%.80s': a date is grouped by day, week, month, quarter or year",
		                 item);
	if (c->q.column_count >= MAX_FIELDS)
		return crm_error(ctx, CRM_ELIMIT, "too many fields (at most %d)", MAX_FIELDS);
	char *path = xstrndup(item, (size_t)(colon - item));
	struct strbuf date = { 0 };
	const struct meta_field *f = NULL;
	char err[256];
	int code = expr_compile_path(&c->b, path, &date, &f, err, sizeof(err));
	if (code != CRM_OK)
		code = crm_error(ctx, CRM_EINVAL, "group: %s", err);
	else if (f->type != FIELD_DATE && f->type != FIELD_DATETIME)
		code = crm_error(ctx, CRM_EINVAL, "group '%.80s': '%s' is %s, not a date", item, path, meta_type_name(f->type));
	if (code == CRM_OK) {
		int i = c->q.column_count;
		static const char *const sql[] = {
			"substr(%s, 1, 10)", "substr(%s, 1, 7)",
			"(substr(%s, 1, 4) || '-Q' || ((CAST(substr(%s, 6, 2) AS INTEGER) + 2) / 3))", "substr(%s, 1, 4)",
			/* the Monday of the ISO week */
			"date(substr(%s, 1, 10), '-' || ((CAST(strftime('%%w', substr(%s, 1, 10)) AS INTEGER) + 6) %% 7) || ' days')",
		};
		strbuf_printf(&c->columns[i], sql[bucket], date.data, date.data);
		struct strbuf name = { 0 };
		strbuf_printf(&name, "%s_%s", path, buckets[bucket]);
		for (char *p = name.data; *p; p++)
			if (*p == '.')
				*p = '_';
		c->names[i] = strbuf_detach(&name);
		c->column_sql[i] = c->columns[i].data;
		c->column_names[i] = c->names[i];
		c->column_fields[i] = NULL;   /* text: the bucket's label */
		c->q.column_count++;
	}
	strbuf_free(&date);
	free(path);
	return code;
}

int object_aggregate(struct crm_ctx *ctx, const char *object, const char *group, const char *measures,
                     const char *filter, json_t **out)
{
	struct object_query query = { .filter = filter };
	struct compiled *c;
	int code = compile_query(ctx, object, &query, false, &c);
	if (code != CRM_OK)
		return code;
	if (group && *group && (code = each_item(ctx, group, group_item, c)) != CRM_OK)
		goto done;
	int group_count = c->q.column_count;
	if (group_count > 4) {
		code = crm_error(ctx, CRM_ELIMIT, "group by at most 4 fields");
		goto done;
	}
	/* measures: count | fn(path) */
	char *list = xstrdup(measures && *measures ? measures : "count");
	struct strbuf measure_sql[16] = { 0 };
	char *measure_names[16] = { 0 };
	const char *sql_ptrs[16], *name_ptrs[16];
	int measure_count = 0;
	char *save = NULL;
	for (char *item = strtok_r(list, ",", &save); item && code == CRM_OK; item = strtok_r(NULL, ",", &save)) {
		while (*item == ' ')
			item++;
		if (measure_count == 16) {
			code = crm_error(ctx, CRM_ELIMIT, "at most 16 measures");
			break;
		}
		int m = measure_count;
		if (strcmp(item, "count") == 0 || strcmp(item, "count()") == 0) {
			strbuf_puts(&measure_sql[m], "count(*)");
			measure_names[m] = xstrdup("count");
			measure_count++;
			continue;
		}
		static const char *const fns[] = { "sum", "avg", "min", "max", "count", "count_distinct" };
		char *open = strchr(item, '(');
		char *close = open ? strchr(open, ')') : NULL;
		size_t fn_len = open ? (size_t)(open - item) : 0;
		int fn = -1;
		for (int k = 0; k < 6 && open; k++)
			if (strlen(fns[k]) == fn_len && strncmp(item, fns[k], fn_len) == 0)
				fn = k;
		if (fn < 0 || !close || close[1] != '\0' || close == open + 1) {
			code = crm_error(ctx, CRM_EINVAL, "measure '%.64s': expected count, sum(f), avg(f), min(f), max(f), "
			                 "count_distinct(f)", item);
			break;
		}
		*close = '\0';
		const struct meta_field *f;
		char err[256];
		strbuf_puts(&measure_sql[m], fn == 5 ? "count(DISTINCT " : fns[fn]);   /* count_distinct(f): the values f takes */
		if (fn != 5)
			strbuf_putc(&measure_sql[m], '(');
		struct strbuf amount = { 0 };
		if (expr_compile_path(&c->b, open + 1, &amount, &f, err, sizeof(err)) != CRM_OK) {
			strbuf_free(&amount);
			code = crm_error(ctx, CRM_EINVAL, "measure: %s", err);
			measure_count++;
			break;
		}
		if (fn < 4 && store_converts(ctx_meta(ctx), f)) {
			/* money in several currencies is measured in the company's (docs/metadata.md: currency) */
			struct strbuf currency = { 0 }, path = { 0 };
			const char *dot = strrchr(open + 1, '.');
			if (f->currency_field) {
				strbuf_printf(&path, "%.*s%s", dot ? (int)(dot + 1 - (open + 1)) : 0, open + 1, f->currency_field->name);
				if (expr_compile_path(&c->b, path.data, &currency, NULL, err, sizeof(err)) != CRM_OK)
					code = crm_error(ctx, CRM_EINVAL, "measure: %s", err);
			}
			if (code == CRM_OK)
				store_convert_sql(&c->b, f, amount.data, f->currency_field ? currency.data : NULL, &measure_sql[m]);
			strbuf_free(&currency);
			strbuf_free(&path);
		} else {
			strbuf_puts(&measure_sql[m], amount.data);
		}
		strbuf_free(&amount);
		if (code != CRM_OK) {
			measure_count++;
			break;
		}
		enum value_kind kind = meta_field_kind(f);
		if (fn <= 1 && kind != KIND_INT && kind != KIND_REAL) {
			code = crm_error(ctx, CRM_EINVAL, "measure: %s needs a number field, '%s' is %s", fns[fn], open + 1,
			                 meta_type_name(f->type));
			measure_count++;
			break;
		}
		strbuf_putc(&measure_sql[m], ')');
		struct strbuf name = { 0 };
		strbuf_printf(&name, "%s_%s", fns[fn], open + 1);
		for (char *p = name.data; *p; p++)
			if (*p == '.')
				*p = '_';
		measure_names[m] = strbuf_detach(&name);
		measure_count++;
	}
	if (code == CRM_OK) {
		for (int i = 0; i < measure_count; i++) {
			sql_ptrs[i] = measure_sql[i].data;
			name_ptrs[i] = measure_names[i];
		}
		struct store_conn *conn = read_conn(ctx);
		code = store_aggregate(conn, &c->q, group_count, c->column_sql, c->column_names, c->column_fields,
		                       measure_count, sql_ptrs, name_ptrs, out, ctx);
		read_done(ctx, conn);
	}
	for (int i = 0; i < 16; i++) {
		strbuf_free(&measure_sql[i]);
		free(measure_names[i]);
	}
	free(list);
done:
	compiled_free(c);
	return code;
}

int object_aggregate_parts(struct crm_ctx *ctx, const char *object, const struct object_aggregate_parts *parts,
                           json_t **out)
{
	if (parts->measure_count < 1 || parts->measure_count > 32)
		return crm_error(ctx, CRM_ELIMIT, "1 to 32 measures");
	struct object_query query = { .filter = parts->filter };
	struct compiled *c;
	int code = compile_query(ctx, object, &query, false, &c);
	if (code != CRM_OK)
		return code;
	struct strbuf extra = { 0 };
	struct strbuf measure_sql[32] = { 0 };
	const char *sql_ptrs[32];
	if (parts->group && *parts->group && (code = each_item(ctx, parts->group, group_item, c)) != CRM_OK)
		goto done;
	int group_count = c->q.column_count;
	if (group_count > 4) {
		code = crm_error(ctx, CRM_ELIMIT, "group by at most 4 fields");
		goto done;
	}
	if ((code = parts->compile(parts->arg, &c->b, -1, &extra)) != CRM_OK)
		goto done;
	if (extra.len) {
		struct strbuf both = { 0 };
		if (c->where.len)
			strbuf_printf(&both, "(%s) AND (%s)", c->where.data, extra.data);
		else
			strbuf_puts(&both, extra.data);
		strbuf_free(&c->where);
		c->where = both;
		c->q.where = c->where.data;
	}
	for (int i = 0; i < parts->measure_count && code == CRM_OK; i++) {
		code = parts->compile(parts->arg, &c->b, i, &measure_sql[i]);
		sql_ptrs[i] = measure_sql[i].data;
	}
	if (code == CRM_OK) {
		struct store_conn *conn = read_conn(ctx);
		code = store_aggregate(conn, &c->q, group_count, c->column_sql, c->column_names, c->column_fields,
		                       parts->measure_count, sql_ptrs, (const char **)parts->measure_names, out, ctx);
		read_done(ctx, conn);
	}
done:
	for (int i = 0; i < 32; i++)
		strbuf_free(&measure_sql[i]);
	strbuf_free(&extra);
	compiled_free(c);
	return code;
}

/* --- history ---------------------------------------------------------- */

int object_history(struct crm_ctx *ctx, const char *object, int64_t id, json_t **out)
{
	const struct meta_object *o = NULL;
	int code = find_for_caller(ctx, object, &o);
	if (code != CRM_OK)
		return code;
	struct store_conn *conn = read_conn(ctx);
	json_t *record = NULL, *rows = NULL;
	code = store_get(conn, o, id, true, &record, ctx);
	if (code == CRM_OK)
		code = check_record_access(ctx, o, record, ACCESS_READ, id);
	if (code == CRM_OK)
		code = store_history(conn, o->name, id, 10000, &rows, ctx);
	read_done(ctx, conn);
	json_decref(record);
	if (code != CRM_OK)
		return code;
	/* field history obeys field access: a hidden field's old values stay hidden */
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row) {
		json_t *changes = json_object_get(row, "changes");
		for (int f = 0; json_is_object(changes) && f < o->field_count; f++)
			if (access_field(ctx, o, &o->fields[f]) == FIELD_ACCESS_HIDDEN)
				json_object_del(changes, o->fields[f].name);
	}
	*out = rows;
	return CRM_OK;
}

/* --- manual sharing ---------------------------------------------------- */

/* Only the owner (or an admin) shares, and never more than they may do themselves. */
static int share_allowed(struct crm_ctx *ctx, const struct meta_object *o, int64_t id, bool edit)
{
	json_t *record = NULL;
	int code = store_get(ctx->txn, o, id, false, &record, ctx);
	if (code == CRM_OK)
		code = check_record_access(ctx, o, record, edit ? ACCESS_UPDATE : ACCESS_READ, id);
	if (code == CRM_OK && !access_is_admin(ctx)
	    && json_integer_value(json_object_get(record, "owner")) != ctx->user_id)
		code = crm_error(ctx, CRM_EDENIED, "only the owner of this %s or an admin may share it", o->name);
	json_decref(record);
	return code;
}

int object_share(struct crm_ctx *ctx, const char *object, int64_t id, json_t *share, json_t **out)
{
	const struct meta_object *o = NULL;
	int code = find_for_caller(ctx, object, &o);
	if (code != CRM_OK)
		return code;
	json_t *user = json_object_get(share, "user"), *team = json_object_get(share, "team");
	const char *level = json_string_value(json_object_get(share, "access"));
	if (!json_is_object(share) || (!user == !team) || (user && !json_is_integer(user)) || (team && !json_is_integer(team)))
		return crm_error(ctx, CRM_EINVAL, "a share names exactly one \"user\" or \"team\" id");
	if (!level || (strcmp(level, "read") != 0 && strcmp(level, "edit") != 0))
		return crm_error(ctx, CRM_EINVAL, "\"access\" must be \"read\" or \"edit\"");
	bool edit = strcmp(level, "edit") == 0;
	const struct meta_object *target = meta_find_object(ctx_meta(ctx), user ? "user" : "team");
	bool own;
	if ((code = write_begin(ctx, &own)) != CRM_OK)
		return code;
	if ((code = share_allowed(ctx, o, id, edit)) != CRM_OK)
		return write_end(ctx, own, code);
	bool exists = false;
	if (!target)
		code = crm_error(ctx, CRM_EINVAL, "this application has no %s object", user ? "user" : "team");
	else if ((code = ref_readable(ctx, ctx->txn, target, json_integer_value(user ? user : team), &exists)) == CRM_OK
	         && !exists)
		code = crm_error(ctx, CRM_EINVAL, "no %s with id %lld", target->name,
		                 (long long)json_integer_value(user ? user : team));
	int64_t share_id = 0;
	if (code == CRM_OK)
		code = store_share_add(ctx->txn, o->name, id, json_integer_value(user), json_integer_value(team), edit,
		                       ctx->user_id, &share_id, ctx);
	if (code == CRM_OK) {
		json_t *changes = json_pack("{s:O?, s:O?, s:s}", "user", user, "team", team, "access", level);
		code = store_audit(ctx->txn, o->name, id, "share", ctx->user_id, ctx->request_id, changes, ctx);
		json_decref(changes);
	}
	code = write_end(ctx, own, code);
	if (code == CRM_OK && out)
		*out = json_pack("{s:I, s:O?, s:O?, s:s}", "id", (json_int_t)share_id, "user", user, "team", team,
		                 "access", level);
	return code;
}

int object_unshare(struct crm_ctx *ctx, const char *object, int64_t id, int64_t share_id)
{
	const struct meta_object *o = NULL;
	int code = find_for_caller(ctx, object, &o);
	if (code != CRM_OK)
		return code;
	bool own;
	if ((code = write_begin(ctx, &own)) != CRM_OK)
		return code;
	code = share_allowed(ctx, o, id, false);
	if (code == CRM_OK)
		code = store_share_remove(ctx->txn, o->name, id, share_id, ctx);
	if (code == CRM_OK) {
		json_t *changes = json_pack("{s:I}", "share", (json_int_t)share_id);
		code = store_audit(ctx->txn, o->name, id, "unshare", ctx->user_id, ctx->request_id, changes, ctx);
		json_decref(changes);
	}
	return write_end(ctx, own, code);
}

int object_shares(struct crm_ctx *ctx, const char *object, int64_t id, json_t **out)
{
	const struct meta_object *o = NULL;
	int code = find_for_caller(ctx, object, &o);
	if (code != CRM_OK)
		return code;
	struct store_conn *conn = read_conn(ctx);
	json_t *record = NULL;
	code = store_get(conn, o, id, false, &record, ctx);
	if (code == CRM_OK)
		code = check_record_access(ctx, o, record, ACCESS_READ, id);
	if (code == CRM_OK)
		code = store_share_list(conn, o->name, id, out, ctx);
	read_done(ctx, conn);
	json_decref(record);
	return code;
}

/* --- batch ------------------------------------------------------------ */

static json_t *error_result(struct crm_ctx *ctx, int code)
{
	json_t *r = json_pack("{s:s, s:i, s:s, s:s}", "status", "error", "code", code,
	                      "error", crm_status_name(code), "message", ctx->message);
	if (ctx->field_errors)
		json_object_set(r, "errors", ctx->field_errors);
	return r;
}

static int run_operation(struct crm_ctx *ctx, json_t *op, json_t **record)
{
	const char *kind = json_string_value(json_object_get(op, "op"));
	const char *object = json_string_value(json_object_get(op, "object"));
	json_t *id = json_object_get(op, "id");
	json_t *values = json_object_get(op, "values");
	int64_t version = json_integer_value(json_object_get(op, "version"));
	if (!json_is_object(op) || !kind || !object)
		return crm_error(ctx, CRM_EINVAL, "each operation needs \"op\" and \"object\"");
	if (strcmp(kind, "create") == 0)
		return object_create(ctx, object, values ? values : json_object(), record);
	if (!json_is_integer(id))
		return crm_error(ctx, CRM_EINVAL, "operation '%s' needs an integer \"id\"", kind);
	if (strcmp(kind, "update") == 0)
		return object_update(ctx, object, json_integer_value(id), version, values ? values : json_object(), record);
	if (strcmp(kind, "delete") == 0)
		return object_delete(ctx, object, json_integer_value(id), version);
	if (strcmp(kind, "restore") == 0)
		return object_restore(ctx, object, json_integer_value(id));
	return crm_error(ctx, CRM_EINVAL, "unknown operation '%.32s' (expected create, update, delete, restore)", kind);
}

int object_batch(struct crm_ctx *ctx, json_t *operations, json_t **out)
{
	if (!json_is_array(operations))
		return crm_error(ctx, CRM_EINVAL, "operations must be a list");
	if (json_array_size(operations) > OBJECT_MAX_BATCH)
		return crm_error(ctx, CRM_ELIMIT, "at most %d operations in a batch", OBJECT_MAX_BATCH);
	bool own;
	int code = write_begin(ctx, &own);
	if (code != CRM_OK)
		return code;
	json_t *results = json_array();
	int failed = CRM_OK;
	size_t i;
	json_t *op;
	json_array_foreach(operations, i, op) {
		if (failed != CRM_OK) {
			json_array_append_new(results, json_pack("{s:s}", "status", "not run"));
			continue;
		}
		json_t *record = NULL;
		crm_error_reset(ctx);
		code = run_operation(ctx, op, &record);
		if (code == CRM_OK) {
			json_array_append_new(results, record ? json_pack("{s:s, s:o}", "status", "ok", "record", record)
			                                      : json_pack("{s:s}", "status", "ok"));
		} else {
			json_t *r = error_result(ctx, code);
			json_object_set_new(r, "index", json_integer((json_int_t)i));
			json_array_append_new(results, r);
			failed = code;
		}
	}
	if (failed != CRM_OK) {
		/* all or nothing */
		char message[sizeof(ctx->message)];
		snprintf(message, sizeof(message), "%s", ctx->message);
		json_t *errors = ctx->field_errors ? json_incref(ctx->field_errors) : NULL;
		if (own)
			object_rollback(ctx);
		else
			ctx->txn_depth--;
		crm_error_reset(ctx);
		ctx->field_errors = errors;
		crm_error(ctx, failed, "batch rolled back: %s", message);
		*out = results;
		return failed;
	}
	code = write_end(ctx, own, CRM_OK);
	*out = results;
	return code;
}

/* --- connections for modules above the object API (auth, gdpr) -------- */

struct store_conn *object_read_conn(struct crm_ctx *ctx)
{
	return read_conn(ctx);
}

void object_read_done(struct crm_ctx *ctx, struct store_conn *conn)
{
	read_done(ctx, conn);
}

int object_write_begin(struct crm_ctx *ctx, bool *own)
{
	return write_begin(ctx, own);
}

int object_write_end(struct crm_ctx *ctx, bool own, int code)
{
	return write_end(ctx, own, code);
}
