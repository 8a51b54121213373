/*
 * expr.h - the one expression language: API filters, formulas, validation
 * rules, workflow guards and access predicates.
 *
 *   or  and  not            boolean, SQL three-valued logic (null is unknown)
 *   = != < <= > >=          comparison (also <> for !=); `x = null` means `x is null`
 *   in (...)  not in (...)  list of literals
 *   like  not like          % and _ wildcards, case-insensitive for ASCII
 *   is null  is not null
 *   + - * / %               arithmetic, unary minus; date + int, date - int,
 *                           date - date (days)
 *   ||                      string concatenation
 *   today() now() days_between(a, b) if(c, a, b) lower(s) upper(s) len(s)
 *   coalesce(a, b) round(x, n) abs(x) min(a, b) max(a, b) add_days(d, n)
 *   add_months(d, n) year(d) month(d) date_trunc('month', d)
 *   hours_between(a, b) substr(s, start, length) concat(a, b, ...)
 *   add_business_minutes(t, n, cal) business_minutes_between(a, b, cal)
 *   is_business_time(t, cal)    business hours of a calendar: document
 *   distance(a, b)          metres between two points (haversine, mean Earth
 *                           radius 6,371,008.8 m); a and b are geo fields
 *                           (dotted paths too) or point(lat, lng)
 *   within(g, centre, m)    distance(g, centre) <= m, false (not null) when
 *                           a point or m is null; with g a field of the
 *                           object and a constant centre and m, compiled to a
 *                           search of the <field>__lat/__lng index first
 *   'text' (quote doubled to escape), 12, 3.5, true, false, null
 *   name, account.industry  fields and dotted paths through ref/user fields
 *   $me, $user.<field>      the acting user
 *
 * An expression is parsed once into an AST. expr_compile turns it into a
 * parameterised SQL fragment (every literal and $-value becomes a numbered
 * parameter ?N; identifiers come only from metadata; dotted paths become
 * LEFT JOINs collected in the builder). expr_eval evaluates it in C.
 */
#ifndef CRM_EXPR_H
#define CRM_EXPR_H

#include <time.h>
#include "crm.h"

struct meta;
struct meta_object;
struct meta_field;
struct calendar_holidays;

#define EXPR_MAX_LENGTH 65536   /* characters of source */
#define EXPR_MAX_NODES  2000    /* AST nodes: a 10,000-term filter is refused */
#define EXPR_MAX_DEPTH  64      /* nesting */
#define EXPR_MAX_PATH   4       /* ref hops in a dotted path */
#define EXPR_MAX_IN_ITEMS      500      /* values in one in (...) list */
#define EXPR_MAX_LIKE_PATTERN  1000     /* characters in a like pattern */
#define EXPR_MAX_FORMULA_DEPTH 8        /* formulas inlined inside formulas */
#define EXPR_MAX_JOINS         32       /* distinct ref paths (LEFT JOINs) per builder */
#define EXPR_MAX_SQL           (1 << 20) /* bytes of SQL one expr_compile may produce */
#define EXPR_MAX_CONCAT        16       /* arguments of concat() */

enum expr_value_type { EV_NULL, EV_INT, EV_REAL, EV_TEXT, EV_BOOL };

struct expr_value {
	enum expr_value_type type;
	int64_t i;     /* EV_INT, EV_BOOL (0/1) */
	double r;      /* EV_REAL */
	char *s;       /* EV_TEXT: owned by whoever holds the value (see each function) */
};

struct expr;  /* opaque AST */

/*
 * Parses text. On failure returns CRM_EINVAL and writes "column N: message"
 * into err. *out is owned by the caller (expr_free).
 */
int expr_parse(const char *text, struct expr **out, char *err, size_t errlen);
void expr_free(struct expr *e);

/* Calls fn for every identifier path in e ("amount", "account.industry"), $-names excluded. */
void expr_each_path(const struct expr *e, void (*fn)(void *arg, const char *path), void *arg);
/* x rounded to places (0..9) half away from zero on the decimal x reads as: round() of the language. */
double expr_round(double x, int places);
/* A money, decimal or percent formula: its value is rounded to its scale wherever it is used. */
bool expr_formula_scaled(const struct meta_field *field);
/* True when the value depends on who asks or when: today(), now(), $me, $user (not storable). */
bool expr_reads_context(const struct expr *e);

/*
 * SQL builder. One builder serves a whole query, so that the select list,
 * WHERE and ORDER BY share joins and parameter numbers.
 * Zero-initialise, set meta, object, base_alias ("t0"), me, now, then call
 * expr_compile / expr_compile_path any number of times, and finally read
 * joins and binds. Free with expr_sql_free.
 */
struct expr_sql {
	const struct meta *meta;
	const struct meta_object *object;
	const char *base_alias;
	int64_t me;                         /* $me */
	time_t now;                         /* today()/now(); 0 = time(NULL) at first use */
	/* $user.<field>: fills out (text copied into the builder); NULL = no user fields */
	int (*user_field)(void *arg, const char *field, struct expr_value *out);
	/* field access: return false to refuse a field in this query (NULL = all readable) */
	bool (*can_read)(void *arg, const struct meta_object *object, const struct meta_field *field);
	void *arg;
	/*
	 * The records a path may reach (NULL: every record). Appends to out the
	 * condition restricting target, joined as alias, to the records the
	 * caller may read; nothing when unrestricted. Called once per distinct
	 * ref prefix of the caller's own paths (not of inlined formulas, which
	 * are the implementer's and read as the system); joins the condition
	 * itself needs stay inside it. Returns CRM_OK or an error.
	 */
	int (*join_rule)(void *arg, struct expr_sql *b, const struct meta_object *target, const char *alias,
	                 struct strbuf *out);

	struct strbuf joins;                /* " LEFT JOIN "x" j1 ON j1."id" = t0."y"" ... */
	int join_count;
	char **join_paths;                  /* owned: the ref path each alias jN stands for */
	int bind_count;
	struct expr_value *binds;           /* owned; binds[k] is parameter ?(k+1) */
	int alias_base;                     /* internal: jN numbering inside a join_rule condition */
	/*
	 * The fields whose columns this builder emitted without asking can_read:
	 * those of access rules and of inlined formulas, which are the role's and
	 * the implementer's, not the caller's. The SQLite authorizer (the access
	 * backstop) lets a hidden column through only if it is vouched for here.
	 */
	int vouched_count;
	const struct meta_field **vouched;  /* owned array, borrowed fields */
};

/*
 * Appends the SQL for e to out. Returns CRM_OK, or CRM_EINVAL with err set
 * (unknown field, unknown function, wrong argument count, refused field,
 * path too deep).
 */
int expr_compile(struct expr_sql *b, const struct expr *e, struct strbuf *out,
                 char *err, size_t errlen);
/*
 * Appends the SQL for a single dotted path (a sort key or a selected column).
 * *out_field (may be NULL) receives the final field.
 */
int expr_compile_path(struct expr_sql *b, const char *path, struct strbuf *out,
                      const struct meta_field **out_field, char *err, size_t errlen);
/* Adds a parameter and returns its number (1-based). Text is copied. */
int expr_sql_bind(struct expr_sql *b, const struct expr_value *value);
/* Whether b emitted field's column without an access check (see vouched). */
/* The kernel itself reads field in this query (a currency conversion's rate): the access backstop lets it. */
void expr_sql_vouch(struct expr_sql *b, const struct meta_field *field);
bool expr_sql_vouched(const struct expr_sql *b, const struct meta_field *field);
void expr_sql_free(struct expr_sql *b);

/*
 * Evaluation in C. lookup fills out for a path; text it sets is borrowed and
 * must stay valid until expr_eval returns. Returning non-zero from lookup
 * fails the evaluation with CRM_ENOTFOUND.
 */
struct expr_env {
	int (*lookup)(void *arg, const char *path, struct expr_value *out);
	int (*user_field)(void *arg, const char *field, struct expr_value *out);
	void *arg;
	int64_t me;
	time_t now;                         /* 0 = time(NULL) */
	/* the business-time functions: the calendars (NULL: those functions fail) and their holidays (NULL: none) */
	const struct meta *meta;
	const struct calendar_holidays *holidays;
};

/*
 * The type checker: types e over object (of meta) as expr_compile types it,
 * with field types, formulas inlined and $user.<field> typed from meta's
 * 'user' object, but no access rules. Refuses, with "column N: message" in
 * err, what every query would refuse (text or a date where a number is
 * needed, `date * 2`, `date + date`, a datetime in arithmetic, min of a
 * number and a text, ...), so that the loader can report it at load time
 * rather than each query or create failing. It also records in e where the
 * arithmetic is date arithmetic, which expr_eval needs (values alone do not
 * tell a date from a text): the loader checks every expression it loads.
 * Call it once, before e is shared between threads. Returns CRM_OK or
 * CRM_EINVAL.
 */
int expr_check(struct expr *e, const struct meta *meta, const struct meta_object *object, char *err, size_t errlen);

/*
 * Evaluates e. out's text, if any, is owned by the caller: expr_value_clear it.
 * `date + int` and the other date arithmetic need e to have passed expr_check;
 * unchecked, text in arithmetic is an error as before.
 */
int expr_eval(const struct expr *e, const struct expr_env *env, struct expr_value *out,
              char *err, size_t errlen);
/* True only for a true boolean or a non-zero number: null and text are false. */
bool expr_truthy(const struct expr_value *value);
/*
 * distance()'s metres between two points, for code outside an expression
 * (crm.distance in Lua): false, *metres untouched, when a coordinate is out
 * of range or not finite.
 */
bool expr_geo_distance(double lat1, double lng1, double lat2, double lng2, double *metres);
void expr_value_clear(struct expr_value *value);

/*
 * The functions of the language, for the reference: the index-th's name and
 * *arity (-1: 1 to EXPR_MAX_CONCAT arguments), or NULL past the last.
 */
const char *expr_function(int index, int *arity);

/*
 * The SQL functions that expr_compile's output may call, which every
 * connection running it must register (store.c does, on each connection it
 * opens): where SQLite has no function that agrees with the evaluator to the
 * last bit (round half away from zero on the decimal a number reads as;
 * add_months clamping to the month's end), the SQL and the evaluator call
 * this same C. call reads arity values (text borrowed) and fills out (text
 * owned by the caller), or returns CRM_EINVAL with err set. The index-th, or
 * NULL past the last.
 */
struct expr_sql_function {
	const char *name;     /* "crm_round" */
	int arity;
	int (*call)(const struct expr_value *arguments, struct expr_value *out, char *err, size_t errlen);
};
const struct expr_sql_function *expr_sql_function(int index);
/* Two of them: a stored point's (JSON text) latitude and longitude, as the evaluator reads it; null if no point. */
#define EXPR_SQL_GEO_LAT "crm_geo_lat"
#define EXPR_SQL_GEO_LNG "crm_geo_lng"

/*
 * The business-time functions, which SQL calls as registered C (store.c
 * registers expr_business_function(i) on each connection with the holidays
 * of its database) and the evaluator calls directly: the same code. Nulls
 * give null; a calendar name no calendar: document has gives null (a field's
 * value); a time that is no date gives null; so do minutes out of range
 * and no working time within CALENDAR_MAX_DAYS (calendar.h), so that one
 * row never fails a whole query (a constant out of range is refused when
 * compiled). Errors (CRM_EINVAL, err set): a calendar named by a number,
 * minutes as text.
 */
enum { EXPR_BUSINESS_ADD, EXPR_BUSINESS_BETWEEN, EXPR_BUSINESS_IS_OPEN, EXPR_BUSINESS_COUNT };
/* The SQL name ("crm_add_business_minutes") and arity of the index-th, or NULL past the last. */
const char *expr_business_function(int index, int *arity);
int expr_business_call(const struct meta *meta, const struct calendar_holidays *holidays, int which,
                       const struct expr_value *arguments, struct expr_value *out, char *err, size_t errlen);

#endif
