/*
 * expr.c - the one expression language: a lexer and recursive-descent parser
 * into a flat AST, an evaluator in C with SQL's three-valued logic, and a
 * compiler to parameterised SQL for SQLite.
 *
 * The evaluator and the compiler must agree on every row: a list filtered in
 * SQL and a rule checked in C on one record see the same truth. Where
 * SQLite's own behaviour differs from the rule we want (integer division,
 * text compared with a number) the compiler spells the rule out in SQL
 * instead of leaving it to column affinity. tests/unit/test_expr.c checks the
 * agreement against a real SQLite database.
 *
 * The rules both sides follow:
 *   - null: comparisons, arithmetic, ||, like and functions of null give
 *     null; `and`, `or`, `not` use SQL's three-valued logic.
 *   - numbers: int and real compare exactly by value; bool is the number 0/1.
 *   - text against a number: if the text is a well-formed number (SQLite's
 *     numeric-affinity syntax: optional spaces and sign, digits, optional
 *     fraction and exponent) the two compare as numbers; otherwise the number
 *     sorts before the text, as in SQLite's storage-class order.
 *   - text against text: bytewise (strcmp, SQLite's BINARY collation).
 *   - arithmetic: int op int stays int; overflow is an error in C (SQLite
 *     would switch to real: we refuse rather than guess). `/` of two ints
 *     gives an int when it divides exactly, else a real; division or modulo
 *     by zero gives null. `%` takes integers only. Text in arithmetic or as
 *     a condition is an error (a compile error when the type is known then).
 *   - a number as text (||, like, lower, len) is written as SQLite writes
 *     it: 42, 100.0, 1.0e+20.
 *   - days_between(a, b) is julianday(b) - julianday(a) truncated toward
 *     zero, with SQLite's date parser ported below.
 *   - dates are ISO text; the compiler tells a date from a text by the field
 *     types (date fields, today(), add_days() ...), the evaluator by what
 *     expr_check recorded. date + n (or n + date) is the date n whole days
 *     later (a fractional n truncated toward zero), date - n earlier, date -
 *     date the whole days between (days_between(b, a)). A date is read as
 *     julianday() reads it (so '2024-02-30' is 2024-03-01, a datetime its
 *     UTC date) and written as date() writes it. A datetime takes no
 *     arithmetic (add_days, days_between and hours_between do what it would
 *     mean), and nothing else about a date is: date * 2, date + 'x', date +
 *     date are refused when compiled.
 *   - functions of null give null, except coalesce, if, and concat, which
 *     reads a null as empty text (unlike ||, so that a missing middle name
 *     does not blank a whole name).
 *   - round(x, n) rounds half away from zero on the decimal x reads as
 *     (2.675 is 2.68 although the double is a hair below) and min(a, b),
 *     max(a, b) order as SQLite's scalar min and max (numbers before text,
 *     text bytewise: dates and datetimes by time). round and add_months
 *     are C functions registered with SQLite (expr_sql_function), so both
 *     sides run the same code; everything else compiles to SQLite's own.
 *
 * Limits (EXPR_MAX_*) bound source length, node count, nesting depth, path
 * length and the size of the SQL produced, so no input can exhaust the stack
 * or memory or take long to parse.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "expr.h"
#include "meta_model.h"
#include "calendar.h"

/* ---- the AST ---------------------------------------------------------- */

enum node_kind {
	NODE_LITERAL,     /* value */
	NODE_PATH,        /* name: "amount", "account.industry" */
	NODE_ME,          /* $me */
	NODE_USER_FIELD,  /* name: the field of $user.<field> */
	NODE_OR,          /* n-ary, so that long chains stay shallow */
	NODE_AND,         /* n-ary */
	NODE_NOT,
	NODE_COMPARE,     /* op: enum compare_op */
	NODE_LIKE,        /* negated: not like */
	NODE_IN,          /* first child: the operand, then the list; negated: not in */
	NODE_IS_NULL,     /* negated: is not null */
	NODE_CONCAT,      /* n-ary */
	NODE_ARITH,       /* op: enum arith_op */
	NODE_NEGATE,
	NODE_CALL,        /* op: enum function_id */
};

enum compare_op { CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE };
enum arith_op { ARITH_ADD, ARITH_SUB, ARITH_MUL, ARITH_DIV, ARITH_MOD };
enum function_id {
	FN_TODAY, FN_NOW, FN_DAYS_BETWEEN, FN_IF, FN_LOWER, FN_UPPER, FN_LEN, FN_COALESCE,
	FN_ROUND, FN_ABS, FN_MIN, FN_MAX, FN_ADD_DAYS, FN_ADD_MONTHS, FN_YEAR, FN_MONTH, FN_DATE_TRUNC,
	FN_HOURS_BETWEEN, FN_SUBSTR, FN_CONCAT, FN_ADD_BUSINESS_MINUTES, FN_BUSINESS_MINUTES_BETWEEN,
	FN_IS_BUSINESS_TIME, FN_DISTANCE, FN_WITHIN, FN_POINT,
};

/* What expr_check found an arithmetic node to be: expr_eval follows it. */
enum date_arith {
	DATE_ARITH_NONE,   /* numbers (or unchecked) */
	DATE_PLUS_DAYS,    /* date + n */
	DAYS_PLUS_DATE,    /* n + date */
	DATE_MINUS_DAYS,   /* date - n */
	DATE_MINUS_DATE,   /* date - date: days */
};

/*
 * Nodes live in one array and refer to each other by index, so that freeing
 * needs no recursion and a child list of any length costs nothing extra.
 */
struct node {
	enum node_kind kind;
	int op;
	bool negated;
	int column;              /* source column, for messages */
	int first_child;         /* -1 if none */
	int next_sibling;        /* -1 if none */
	int height;              /* 1 for a leaf: bounded by EXPR_MAX_DEPTH */
	enum date_arith date_arith; /* NODE_ARITH: set by expr_check */
	struct expr_value value; /* NODE_LITERAL; text owned */
	char *name;              /* NODE_PATH, NODE_USER_FIELD; owned */
};

struct expr {
	int node_count, node_capacity;
	struct node *nodes;
	int root;
};

static const char *const compare_sql[] = { "=", "<>", "<", "<=", ">", ">=" };
static const char *const arith_name[] = { "+", "-", "*", "/", "%" };

static const struct function {
	const char *name;
	enum function_id id;
	int arity;           /* -1: 1 to EXPR_MAX_CONCAT */
} functions[] = {
	{ "today", FN_TODAY, 0 },
	{ "now", FN_NOW, 0 },
	{ "days_between", FN_DAYS_BETWEEN, 2 },
	{ "if", FN_IF, 3 },
	{ "lower", FN_LOWER, 1 },
	{ "upper", FN_UPPER, 1 },
	{ "len", FN_LEN, 1 },
	{ "coalesce", FN_COALESCE, 2 },
	{ "round", FN_ROUND, 2 },
	{ "abs", FN_ABS, 1 },
	{ "min", FN_MIN, 2 },
	{ "max", FN_MAX, 2 },
	{ "add_days", FN_ADD_DAYS, 2 },
	{ "add_months", FN_ADD_MONTHS, 2 },
	{ "year", FN_YEAR, 1 },
	{ "month", FN_MONTH, 1 },
	{ "date_trunc", FN_DATE_TRUNC, 2 },
	{ "hours_between", FN_HOURS_BETWEEN, 2 },
	{ "substr", FN_SUBSTR, 3 },
	{ "concat", FN_CONCAT, -1 },
	{ "add_business_minutes", FN_ADD_BUSINESS_MINUTES, 3 },
	{ "business_minutes_between", FN_BUSINESS_MINUTES_BETWEEN, 3 },
	{ "is_business_time", FN_IS_BUSINESS_TIME, 2 },
	{ "distance", FN_DISTANCE, 2 },
	{ "within", FN_WITHIN, 3 },
	{ "point", FN_POINT, 2 },
};

/* date_trunc's units, in the order of their SQL in compile_call. */
static const char *const date_units[] = { "month", "quarter", "year" };

const char *expr_function(int index, int *arity)
{
	if (index < 0 || (size_t)index >= sizeof(functions) / sizeof(functions[0]))
		return NULL;
	if (arity)
		*arity = functions[index].arity;
	return functions[index].name;
}

/* ---- small helpers shared by all parts -------------------------------- */

/* Locale-independent character classes: the language is ASCII outside strings. */
static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_word_start(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_word_char(int c) { return is_word_start(c) || is_digit(c); }
/* SQLite's sqlite3Isspace: space, \t, \n, \v, \f, \r. */
static bool is_space(int c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
static int to_lower_ascii(int c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }
static int to_upper_ascii(int c) { return c >= 'a' && c <= 'z' ? c - ('a' - 'A') : c; }

static bool equal_ignoring_case(const char *a, size_t a_length, const char *b)
{
	size_t i = 0;
	for (; i < a_length && b[i]; i++) {
		if (to_lower_ascii((unsigned char)a[i]) != to_lower_ascii((unsigned char)b[i]))
			return false;
	}
	return i == a_length && b[i] == '\0';
}

static void set_error(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_error(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * Copies up to 24 bytes of untrusted text for an error message, replacing
 * anything that is not printable ASCII: messages end up in JSON and logs.
 */
static void excerpt(const char *text, size_t length, char out[32])
{
	size_t n = 0;
	for (; n < length && n < 24 && text[n]; n++) {
		unsigned char c = (unsigned char)text[n];
		out[n] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (n < length && text[n]) {
		out[n++] = '.';
		out[n++] = '.';
		out[n++] = '.';
	}
	out[n] = '\0';
}

/*
 * Length of the valid UTF-8 sequence at s, or 0 if it is invalid (overlong,
 * surrogate, beyond U+10FFFF, truncated). Reads no further than a NUL.
 */
static size_t utf8_sequence(const unsigned char *s)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char low = c == 0xe0 ? 0xa0 : 0x80, high = c == 0xed ? 0x9f : 0xbf;
		if (s[1] < low || s[1] > high)
			return 0;
		return (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char low = c == 0xf0 ? 0x90 : 0x80, high = c == 0xf4 ? 0x8f : 0xbf;
		if (s[1] < low || s[1] > high || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

/*
 * Reads one character the way SQLite's LIKE does (sqlite3Utf8Read): lenient,
 * so that stored text that is not valid UTF-8 still matches identically.
 */
static uint32_t utf8_next(const unsigned char **text)
{
	const unsigned char *s = *text;
	uint32_t c = *s++;
	if (c >= 0xc0) {
		static const unsigned char lead_bits[] = {
			0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
			0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
			0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
			0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x00, 0x01, 0x02, 0x03, 0x00, 0x01, 0x00, 0x00,
		};
		c = lead_bits[c - 0xc0];
		while ((*s & 0xc0) == 0x80)
			c = (c << 6) + (0x3f & *s++);
		if (c < 0x80 || (c & 0xfffff800) == 0xd800 || (c & 0xfffffffe) == 0xfffe)
			c = 0xfffd;
	}
	*text = s;
	return c;
}

/* Characters as SQLite's length() counts them. */
static int64_t utf8_length(const char *text)
{
	int64_t count = 0;
	const unsigned char *s = (const unsigned char *)text;
	while (*s) {
		count++;
		if (*s++ >= 0xc0) {
			while ((*s & 0xc0) == 0x80)
				s++;
		}
	}
	return count;
}

void expr_value_clear(struct expr_value *value)
{
	if (value->type == EV_TEXT)
		free(value->s);
	memset(value, 0, sizeof(*value));
	value->type = EV_NULL;
}

/* A copy that owns its text; a NaN or a text without a pointer becomes null. */
static void value_copy(struct expr_value *out, const struct expr_value *in)
{
	memset(out, 0, sizeof(*out));
	switch (in->type) {
	case EV_INT:
	case EV_BOOL:
		out->type = in->type;
		out->i = in->type == EV_BOOL ? in->i != 0 : in->i;
		break;
	case EV_REAL:
		if (!isnan(in->r)) {
			out->type = EV_REAL;
			out->r = in->r;
		}
		break;
	case EV_TEXT:
		if (in->s) {
			out->type = EV_TEXT;
			out->s = xstrdup(in->s);
		}
		break;
	default:
		out->type = EV_NULL;
		break;
	}
}

bool expr_truthy(const struct expr_value *value)
{
	switch (value->type) {
	case EV_BOOL:
	case EV_INT:
		return value->i != 0;
	case EV_REAL:
		return value->r != 0.0;
	default:
		return false;
	}
}

static bool is_number(const struct expr_value *value)
{
	return value->type == EV_INT || value->type == EV_BOOL || value->type == EV_REAL;
}

/*
 * Reads text as a number with SQLite's numeric-affinity syntax: spaces
 * around, optional sign, digits with an optional fraction (at least one
 * digit in all), optional exponent. An integer too large for int64 becomes
 * a real, as in SQLite. Returns false for anything else ('5e', '0x10', '').
 */
static bool text_to_number(const char *text, struct expr_value *out)
{
	const char *p = text;
	while (is_space((unsigned char)*p))
		p++;
	const char *start = p;
	bool is_real = false;
	int digits = 0;
	if (*p == '+' || *p == '-')
		p++;
	while (is_digit(*p)) {
		p++;
		digits++;
	}
	if (*p == '.') {
		is_real = true;
		p++;
		while (is_digit(*p)) {
			p++;
			digits++;
		}
	}
	if (digits == 0)
		return false;
	if (*p == 'e' || *p == 'E') {
		const char *q = p + 1;
		if (*q == '+' || *q == '-')
			q++;
		if (!is_digit(*q))
			return false;
		while (is_digit(*q))
			q++;
		p = q;
		is_real = true;
	}
	const char *end = p;
	while (is_space((unsigned char)*p))
		p++;
	if (*p)
		return false;

	char small[64];
	size_t length = (size_t)(end - start);
	char *copy = length < sizeof(small) ? small : xmalloc(length + 1);
	memcpy(copy, start, length);
	copy[length] = '\0';
	memset(out, 0, sizeof(*out));
	if (!is_real) {
		errno = 0;
		long long integer = strtoll(copy, NULL, 10);
		if (errno == 0) {
			out->type = EV_INT;
			out->i = integer;
		} else {
			is_real = true;
		}
	}
	if (is_real) {
		out->type = EV_REAL;
		out->r = strtod(copy, NULL);
	}
	if (copy != small)
		free(copy);
	return true;
}

/*
 * Writes a real the way SQLite 3.40 turns one into text ("%!.15g"): always
 * with a decimal point, Inf for infinity, 0.0 for negative zero.
 */
static void format_real(double r, char *out, size_t size)
{
	if (isinf(r)) {
		snprintf(out, size, "%s", r > 0 ? "Inf" : "-Inf");
		return;
	}
	if (r == 0.0) {
		snprintf(out, size, "0.0");
		return;
	}
	char digits[48];
	snprintf(digits, sizeof(digits), "%.15g", r);
	char *exponent = strchr(digits, 'e');
	if (strchr(digits, '.'))
		snprintf(out, size, "%s", digits);
	else if (exponent)
		snprintf(out, size, "%.*s.0%s", (int)(exponent - digits), digits, exponent);
	else
		snprintf(out, size, "%s.0", digits);
}

/* The text form of a value (owned), or NULL for null. */
static char *value_to_text(const struct expr_value *value)
{
	char buffer[64];
	switch (value->type) {
	case EV_TEXT:
		return xstrdup(value->s);
	case EV_INT:
	case EV_BOOL:
		snprintf(buffer, sizeof(buffer), "%" PRId64, value->i);
		return xstrdup(buffer);
	case EV_REAL:
		format_real(value->r, buffer, sizeof(buffer));
		return xstrdup(buffer);
	default:
		return NULL;
	}
}

/* ---- dates: SQLite's julianday() parser, ported ------------------------- */

struct datetime {
	bool has_date, has_time;
	int year, month, day, hour, minute, timezone_minutes;
	double second;
};

static bool read_digits(const char *s, int count, int min, int max, int *out)
{
	int value = 0;
	for (int i = 0; i < count; i++) {
		if (!is_digit(s[i]))
			return false;
		value = value * 10 + (s[i] - '0');
	}
	if (value < min || value > max)
		return false;
	*out = value;
	return true;
}

/* "Z", "+HH:MM", "-HH:MM" or nothing, with spaces around. */
static bool parse_timezone(const char *s, struct datetime *dt)
{
	while (is_space((unsigned char)*s))
		s++;
	dt->timezone_minutes = 0;
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		int sign = *s == '-' ? -1 : 1, hours, minutes;
		s++;
		if (!read_digits(s, 2, 0, 14, &hours) || s[2] != ':' || !read_digits(s + 3, 2, 0, 59, &minutes))
			return false;
		s += 5;
		dt->timezone_minutes = sign * (hours * 60 + minutes);
	} else {
		return *s == '\0';
	}
	while (is_space((unsigned char)*s))
		s++;
	return *s == '\0';
}

/* "HH:MM", "HH:MM:SS", "HH:MM:SS.FFF", then a time zone. */
static bool parse_time(const char *s, struct datetime *dt)
{
	int hour, minute, second = 0;
	double fraction = 0.0;
	if (!read_digits(s, 2, 0, 24, &hour) || s[2] != ':' || !read_digits(s + 3, 2, 0, 59, &minute))
		return false;
	s += 5;
	if (*s == ':') {
		s++;
		if (!read_digits(s, 2, 0, 59, &second))
			return false;
		s += 2;
		if (*s == '.' && is_digit(s[1])) {
			double scale = 1.0;
			s++;
			while (is_digit(*s)) {
				fraction = fraction * 10.0 + (*s - '0');
				scale *= 10.0;
				s++;
			}
			fraction /= scale;
		}
	}
	if (!parse_timezone(s, dt))
		return false;
	dt->has_time = true;
	dt->hour = hour;
	dt->minute = minute;
	dt->second = second + fraction;
	return true;
}

/* "[-]YYYY-MM-DD", then spaces or 'T' and an optional time. */
static bool parse_date(const char *s, struct datetime *dt)
{
	bool negative = false;
	int year, month, day;
	if (*s == '-') {
		negative = true;
		s++;
	}
	if (!read_digits(s, 4, 0, 9999, &year) || s[4] != '-' || !read_digits(s + 5, 2, 1, 12, &month)
	    || s[7] != '-' || !read_digits(s + 8, 2, 1, 31, &day))
		return false;
	s += 10;
	while (is_space((unsigned char)*s) || *s == 'T')
		s++;
	if (!parse_time(s, dt)) {
		if (*s != '\0')
			return false;
		dt->has_time = false;
		dt->timezone_minutes = 0;
	}
	dt->has_date = true;
	dt->year = negative ? -year : year;
	dt->month = month;
	dt->day = day;
	return true;
}

/* Meeus, as SQLite's computeJD: milliseconds since the julian epoch. */
static bool datetime_to_julian_ms(const struct datetime *dt, int64_t *out)
{
	int year = dt->has_date ? dt->year : 2000, month = dt->has_date ? dt->month : 1;
	int day = dt->has_date ? dt->day : 1;
	if (year < -4713 || year > 9999)
		return false;
	if (month <= 2) {
		year--;
		month += 12;
	}
	int a = year / 100;
	int b = 2 - a + (a / 4);
	int x1 = 36525 * (year + 4716) / 100;
	int x2 = 306001 * (month + 1) / 10000;
	int64_t ms = (int64_t)((x1 + x2 + day + b - 1524.5) * 86400000);
	if (dt->has_time) {
		ms += dt->hour * 3600000 + dt->minute * 60000 + (int64_t)(dt->second * 1000.0 + 0.5);
		ms -= (int64_t)dt->timezone_minutes * 60000;
	}
	if (ms < 0 || ms > INT64_C(464269060799999))
		return false;
	*out = ms;
	return true;
}

/* A raw julian day number, as SQLite accepts one. */
static bool number_to_julian_ms(double r, int64_t *out)
{
	if (!(r >= 0.0 && r < 5373484.5))
		return false;
	*out = (int64_t)(r * 86400000.0 + 0.5);
	return true;
}

/*
 * The julian day (in ms) of a value as SQLite's julianday() reads it: a date
 * or date-time text, a time alone (on 2000-01-01), 'now' (the time now; with
 * now 0 'now' is no date), or a number that is a julian day. False (null)
 * for anything else.
 */
static bool value_to_julian_ms(const struct expr_value *value, time_t now, int64_t *out)
{
	struct datetime dt;
	struct expr_value number;
	switch (value->type) {
	case EV_INT:
	case EV_BOOL:
		return number_to_julian_ms((double)value->i, out);
	case EV_REAL:
		return number_to_julian_ms(value->r, out);
	case EV_TEXT:
		memset(&dt, 0, sizeof(dt));
		if (parse_date(value->s, &dt))
			return datetime_to_julian_ms(&dt, out);
		memset(&dt, 0, sizeof(dt));
		if (parse_time(value->s, &dt))
			return datetime_to_julian_ms(&dt, out);
		if (now && equal_ignoring_case(value->s, strlen(value->s), "now")) {
			*out = (int64_t)now * 1000 + INT64_C(210866760000000);
			return true;
		}
		if (text_to_number(value->s, &number))
			return number_to_julian_ms(number.type == EV_INT ? (double)number.i : number.r, out);
		return false;
	default:
		return false;
	}
}

/* SQLite's validJulianDay: 0 (-4713-11-24 12:00) to 9999-12-31 23:59:59.999. */
static bool valid_julian_ms(int64_t ms)
{
	return ms >= 0 && ms <= INT64_C(464269060799999);
}

/* SQLite's computeYMD (Meeus): the proleptic Gregorian date of a valid julian day. */
static void julian_ms_to_date(int64_t ms, int *year, int *month, int *day)
{
	int z = (int)((ms + 43200000) / 86400000);
	int a = (int)((z - 1867216.25) / 36524.25);
	a = z + 1 + a - (a / 4);
	int b = a + 1524;
	int c = (int)((b - 122.1) / 365.25);
	int d = (36525 * (c & 32767)) / 100;
	int e = (int)((b - d) / 30.6001);
	int x1 = (int)(30.6001 * e);
	*day = b - d - x1;
	*month = e < 14 ? e - 1 : e - 13;
	*year = *month > 2 ? c - 4716 : c - 4715;
}

/* A date as SQLite's date() writes it: YYYY-MM-DD, a year before 0 as -YYYY. */
static void format_date(int year, int month, int day, char out[40])
{
	snprintf(out, 40, "%s%04d-%02d-%02d", year < 0 ? "-" : "", year < 0 ? -year : year, month, day);
}

/* date(r) for a julian day number r (julianday(d) + n): false (null) out of range. */
static bool julian_number_to_date(double r, char out[40])
{
	int64_t ms;
	if (!number_to_julian_ms(r, &ms) || !valid_julian_ms(ms))
		return false;
	int year, month, day;
	julian_ms_to_date(ms, &year, &month, &day);
	format_date(year, month, day, out);
	return true;
}

/* A number as SQLite's CAST(x AS INTEGER) makes it: a real truncated toward zero, saturating. */
static int64_t integer_of(const struct expr_value *value)
{
	if (value->type != EV_REAL)
		return value->i;
	if (value->r <= -9223372036854775808.0)
		return INT64_MIN;
	if (value->r >= 9223372036854775807.0)
		return INT64_MAX;
	return (int64_t)value->r;
}

static void format_today(time_t now, char out[32])
{
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(out, 32, "%Y-%m-%d", &tm);
}

static void format_now(time_t now, char out[32])
{
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- the lexer ----------------------------------------------------------- */

enum token_type {
	TOK_END, TOK_ERROR, TOK_NAME, TOK_INT, TOK_REAL, TOK_STRING, TOK_ME, TOK_USER,
	TOK_LPAREN, TOK_RPAREN, TOK_COMMA,
	TOK_EQ, TOK_NE, TOK_LT, TOK_LE, TOK_GT, TOK_GE,
	TOK_CONCAT, TOK_PLUS, TOK_MINUS, TOK_STAR, TOK_SLASH, TOK_PERCENT,
	TOK_AND, TOK_OR, TOK_NOT, TOK_LIKE, TOK_IN, TOK_IS, TOK_NULL, TOK_TRUE, TOK_FALSE,
};

static const struct keyword {
	const char *word;
	enum token_type type;
} keywords[] = {
	{ "and", TOK_AND }, { "or", TOK_OR }, { "not", TOK_NOT }, { "like", TOK_LIKE },
	{ "in", TOK_IN }, { "is", TOK_IS }, { "null", TOK_NULL }, { "true", TOK_TRUE },
	{ "false", TOK_FALSE },
};

struct token {
	enum token_type type;
	size_t start, length;  /* bytes of source */
	int column;
	int64_t integer;
	double real;
	char *text;            /* TOK_STRING (decoded), TOK_USER (field): owned until taken */
	bool has_upper, has_dot;
};

struct parser {
	const char *source;
	size_t pos;
	size_t column_pos;     /* columns are counted incrementally up to here */
	int column;
	struct token token;
	struct expr *expr;
	int depth;
	bool failed;
	char *err;
	size_t errlen;
};

/* 1-based column of a byte offset, counting UTF-8 characters; offsets only grow. */
static int column_at(struct parser *p, size_t offset)
{
	while (p->column_pos < offset) {
		if (((unsigned char)p->source[p->column_pos] & 0xc0) != 0x80)
			p->column++;
		p->column_pos++;
	}
	return p->column;
}

static void parse_error(struct parser *p, int column, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void parse_error(struct parser *p, int column, const char *fmt, ...)
{
	if (p->failed)
		return;
	p->failed = true;
	if (!p->err || p->errlen == 0)
		return;
	int n = snprintf(p->err, p->errlen, "column %d: ", column);
	if (n < 0 || (size_t)n >= p->errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* "expected X near '...'" about the current token. */
static void expect_error(struct parser *p, const char *what)
{
	if (p->token.type == TOK_END) {
		parse_error(p, p->token.column, "expected %s at end of input", what);
	} else {
		char near[32];
		excerpt(p->source + p->token.start, p->token.length, near);
		parse_error(p, p->token.column, "expected %s near '%s'", what, near);
	}
}

static void lex_word(struct parser *p)
{
	struct token *t = &p->token;
	const char *s = p->source;
	size_t segment_start = p->pos;
	int segments = 1;
	for (;;) {
		while (is_word_char((unsigned char)s[p->pos])) {
			if (s[p->pos] >= 'A' && s[p->pos] <= 'Z')
				t->has_upper = true;
			p->pos++;
		}
		if (p->pos - segment_start > 63) {
			char near[32];
			excerpt(s + segment_start, p->pos - segment_start, near);
			parse_error(p, t->column, "name too long: more than 63 characters near '%s'", near);
			t->type = TOK_ERROR;
			return;
		}
		if (s[p->pos] != '.' || !is_word_start((unsigned char)s[p->pos + 1]))
			break;
		p->pos++;
		segment_start = p->pos;
		segments++;
		t->has_dot = true;
	}
	t->length = p->pos - t->start;
	if (segments > EXPR_MAX_PATH + 1) {
		char near[32];
		excerpt(s + t->start, t->length, near);
		parse_error(p, t->column, "path too long: more than %d links near '%s'", EXPR_MAX_PATH, near);
		t->type = TOK_ERROR;
		return;
	}
	t->type = TOK_NAME;
	if (!t->has_dot) {
		for (size_t k = 0; k < sizeof(keywords) / sizeof(keywords[0]); k++) {
			if (equal_ignoring_case(s + t->start, t->length, keywords[k].word)) {
				t->type = keywords[k].type;
				break;
			}
		}
	}
}

static void lex_number(struct parser *p)
{
	struct token *t = &p->token;
	const char *s = p->source;
	bool is_real = false, bad = false;
	while (is_digit(s[p->pos]))
		p->pos++;
	if (s[p->pos] == '.') {
		is_real = true;
		p->pos++;
		while (is_digit(s[p->pos]))
			p->pos++;
	}
	if (s[p->pos] == 'e' || s[p->pos] == 'E') {
		is_real = true;
		p->pos++;
		if (s[p->pos] == '+' || s[p->pos] == '-')
			p->pos++;
		if (!is_digit(s[p->pos]))
			bad = true;
		while (is_digit(s[p->pos]))
			p->pos++;
	}
	/* "12abc", "1.2.3": a number runs straight into something else */
	while (is_word_char((unsigned char)s[p->pos]) || s[p->pos] == '.') {
		bad = true;
		p->pos++;
	}
	t->length = p->pos - t->start;
	char near[32];
	excerpt(s + t->start, t->length, near);
	if (bad) {
		parse_error(p, t->column, "invalid number near '%s'", near);
		t->type = TOK_ERROR;
		return;
	}
	if (!is_real) {
		int64_t value = 0;
		for (size_t i = t->start; i < p->pos; i++) {
			if (__builtin_mul_overflow(value, 10, &value) || __builtin_add_overflow(value, s[i] - '0', &value)) {
				parse_error(p, t->column, "integer out of range near '%s'", near);
				t->type = TOK_ERROR;
				return;
			}
		}
		t->type = TOK_INT;
		t->integer = value;
		return;
	}
	char *copy = xstrndup(s + t->start, t->length);
	double value = strtod(copy, NULL);
	free(copy);
	if (isinf(value)) {
		parse_error(p, t->column, "number out of range near '%s'", near);
		t->type = TOK_ERROR;
		return;
	}
	t->type = TOK_REAL;
	t->real = value;
}

static void lex_string(struct parser *p)
{
	struct token *t = &p->token;
	const unsigned char *s = (const unsigned char *)p->source;
	struct strbuf text = {0};
	p->pos++;
	for (;;) {
		unsigned char c = s[p->pos];
		if (c == '\0') {
			t->length = p->pos - t->start;
			char near[32];
			excerpt(p->source + t->start, t->length, near);
			parse_error(p, t->column, "unterminated string near '%s'", near);
			goto fail;
		}
		if (c == '\'') {
			if (s[p->pos + 1] != '\'') {
				p->pos++;
				break;
			}
			strbuf_putc(&text, '\'');
			p->pos += 2;
			continue;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			parse_error(p, column_at(p, p->pos), "control character 0x%02x in string", c);
			goto fail;
		}
		size_t n = utf8_sequence(s + p->pos);
		/* C1 controls (U+0080..U+009F) are control characters too */
		if (n == 0 || (n == 2 && c == 0xc2 && s[p->pos + 1] < 0xa0)) {
			parse_error(p, column_at(p, p->pos), "%s", n ? "control character in string" : "invalid UTF-8 in string");
			goto fail;
		}
		strbuf_add(&text, (const char *)s + p->pos, n);
		p->pos += n;
	}
	t->type = TOK_STRING;
	t->length = p->pos - t->start;
	t->text = strbuf_detach(&text);
	return;
fail:
	strbuf_free(&text);
	t->type = TOK_ERROR;
}

static void lex_variable(struct parser *p)
{
	struct token *t = &p->token;
	const char *s = p->source;
	char near[32];
	p->pos++;
	size_t word = p->pos;
	while (is_word_char((unsigned char)s[p->pos]))
		p->pos++;
	size_t word_length = p->pos - word;
	if (equal_ignoring_case(s + word, word_length, "me") && s[p->pos] != '.') {
		t->type = TOK_ME;
		t->length = p->pos - t->start;
		return;
	}
	if (equal_ignoring_case(s + word, word_length, "user") && s[p->pos] == '.') {
		p->pos++;
		size_t field = p->pos;
		while (is_word_char((unsigned char)s[p->pos]))
			p->pos++;
		t->length = p->pos - t->start;
		char *name = xstrndup(s + field, p->pos - field);
		if (!crm_valid_name(name) || s[p->pos] == '.') {
			free(name);
			while (is_word_char((unsigned char)s[p->pos]) || s[p->pos] == '.')
				p->pos++;
			t->length = p->pos - t->start;
			excerpt(s + t->start, t->length, near);
			parse_error(p, t->column, "expected one lower-case field name after '$user.' near '%s'", near);
			t->type = TOK_ERROR;
			return;
		}
		t->type = TOK_USER;
		t->text = name;
		return;
	}
	t->length = p->pos - t->start + (s[p->pos] == '.');
	excerpt(s + t->start, t->length, near);
	parse_error(p, t->column, "unknown variable near '%s' (there are $me and $user.<field>)", near);
	t->type = TOK_ERROR;
}

/* Reads the next token into p->token; on a lexical error sets p->failed. */
static void next_token(struct parser *p)
{
	struct token *t = &p->token;
	const char *s = p->source;
	free(t->text);
	memset(t, 0, sizeof(*t));
	while (s[p->pos] == ' ' || s[p->pos] == '\t' || s[p->pos] == '\n' || s[p->pos] == '\r')
		p->pos++;
	t->start = p->pos;
	t->column = column_at(p, p->pos);
	unsigned char c = (unsigned char)s[p->pos];
	if (c == '\0') {
		t->type = TOK_END;
		return;
	}
	if (is_word_start(c)) {
		lex_word(p);
		return;
	}
	if (is_digit(c) || (c == '.' && is_digit(s[p->pos + 1]))) {
		lex_number(p);
		return;
	}
	if (c == '\'') {
		lex_string(p);
		return;
	}
	if (c == '$') {
		lex_variable(p);
		return;
	}
	static const struct {
		const char *text;
		enum token_type type;
	} operators[] = {  /* two-character operators first */
		{ "!=", TOK_NE }, { "<>", TOK_NE }, { "<=", TOK_LE }, { ">=", TOK_GE }, { "||", TOK_CONCAT },
		{ "=", TOK_EQ }, { "<", TOK_LT }, { ">", TOK_GT }, { "+", TOK_PLUS }, { "-", TOK_MINUS },
		{ "*", TOK_STAR }, { "/", TOK_SLASH }, { "%", TOK_PERCENT }, { "(", TOK_LPAREN },
		{ ")", TOK_RPAREN }, { ",", TOK_COMMA },
	};
	for (size_t k = 0; k < sizeof(operators) / sizeof(operators[0]); k++) {
		size_t length = strlen(operators[k].text);
		if (strncmp(s + p->pos, operators[k].text, length) == 0) {
			t->type = operators[k].type;
			t->length = length;
			p->pos += length;
			return;
		}
	}
	char near[32];
	excerpt(s + p->pos, 1, near);
	parse_error(p, t->column, "unexpected character near '%s'", near);
	t->type = TOK_ERROR;
	t->length = 1;
}

/* Moves to the next token; false once the parse has failed. */
static bool advance(struct parser *p)
{
	next_token(p);
	return !p->failed;
}

/* ---- the parser ------------------------------------------------------- */

/*
 * Appends a node whose children (already linked through next_sibling) start
 * at first_child. Enforces the node and height limits. Returns its index or
 * -1.
 */
static int new_node(struct parser *p, enum node_kind kind, int column, int first_child)
{
	struct expr *e = p->expr;
	if (e->node_count >= EXPR_MAX_NODES) {
		parse_error(p, column, "expression too large: more than %d terms", EXPR_MAX_NODES);
		return -1;
	}
	int height = 0;
	for (int child = first_child; child >= 0; child = e->nodes[child].next_sibling) {
		if (e->nodes[child].height > height)
			height = e->nodes[child].height;
	}
	if (height + 1 > EXPR_MAX_DEPTH) {
		parse_error(p, column, "expression nested too deeply: more than %d levels", EXPR_MAX_DEPTH);
		return -1;
	}
	if (e->node_count == e->node_capacity) {
		e->node_capacity = e->node_capacity ? e->node_capacity * 2 : 16;
		e->nodes = xrealloc(e->nodes, (size_t)e->node_capacity * sizeof(e->nodes[0]));
	}
	struct node *n = &e->nodes[e->node_count];
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->column = column;
	n->first_child = first_child;
	n->next_sibling = -1;
	n->height = height + 1;
	n->value.type = EV_NULL;
	return e->node_count++;
}

static void link_sibling(struct parser *p, int node, int next)
{
	p->expr->nodes[node].next_sibling = next;
}

/* Guards every recursion of the parser, so that '((((...' cannot overflow the stack. */
static bool enter(struct parser *p)
{
	if (++p->depth > EXPR_MAX_DEPTH) {
		parse_error(p, p->token.column, "expression nested too deeply: more than %d levels", EXPR_MAX_DEPTH);
		return false;
	}
	return true;
}

static int parse_expression(struct parser *p);

/* A literal from the current token; takes a string token's text. */
static int parse_literal(struct parser *p)
{
	struct token *t = &p->token;
	int index = new_node(p, NODE_LITERAL, t->column, -1);
	if (index < 0)
		return -1;
	struct expr_value *v = &p->expr->nodes[index].value;
	switch (t->type) {
	case TOK_INT:
		v->type = EV_INT;
		v->i = t->integer;
		break;
	case TOK_REAL:
		v->type = EV_REAL;
		v->r = t->real;
		break;
	case TOK_STRING:
		v->type = EV_TEXT;
		v->s = t->text;
		t->text = NULL;
		break;
	case TOK_TRUE:
	case TOK_FALSE:
		v->type = EV_BOOL;
		v->i = t->type == TOK_TRUE;
		break;
	default:
		v->type = EV_NULL;
		break;
	}
	return advance(p) ? index : -1;
}

/* $me or $user.<field> from the current token. */
static int parse_variable(struct parser *p)
{
	struct token *t = &p->token;
	int index = new_node(p, t->type == TOK_ME ? NODE_ME : NODE_USER_FIELD, t->column, -1);
	if (index < 0)
		return -1;
	if (t->type == TOK_USER) {
		p->expr->nodes[index].name = t->text;
		t->text = NULL;
	}
	return advance(p) ? index : -1;
}

/* Negates a numeric literal in place, so that -5 is one literal (and bindable in lists). */
static bool fold_negative(struct parser *p, int index, int column)
{
	struct expr_value *v = &p->expr->nodes[index].value;
	if (v->type == EV_REAL) {
		v->r = -v->r;
		return true;
	}
	if (v->i == INT64_MIN) {
		parse_error(p, column, "integer out of range");
		return false;
	}
	v->i = -v->i;
	return true;
}

static bool is_numeric_literal(struct parser *p, int index)
{
	const struct node *n = &p->expr->nodes[index];
	return n->kind == NODE_LITERAL && (n->value.type == EV_INT || n->value.type == EV_REAL);
}

static int date_unit(const char *text)
{
	for (int i = 0; i < (int)(sizeof(date_units) / sizeof(date_units[0])); i++) {
		if (strcmp(text, date_units[i]) == 0)
			return i;
	}
	return -1;
}

/*
 * The arguments that must be literals, checked as the call is parsed:
 * round's places (0 to 9, so that the SQL never varies with a value) and
 * date_trunc's unit (which picks the SQL).
 */
static bool literal_arguments_valid(struct parser *p, enum function_id id, int first)
{
	const struct node *nodes = p->expr->nodes;
	if (id == FN_ROUND) {
		const struct node *places = &nodes[nodes[first].next_sibling];
		if (places->kind != NODE_LITERAL || places->value.type != EV_INT || places->value.i < 0
		    || places->value.i > 9) {
			parse_error(p, places->column, "function 'round' takes its places as a whole number from 0 to 9, "
			            "as in round(amount, 2)");
			return false;
		}
	}
	if (id == FN_DATE_TRUNC) {
		const struct node *unit = &nodes[first];
		if (unit->kind != NODE_LITERAL || unit->value.type != EV_TEXT || date_unit(unit->value.s) < 0) {
			parse_error(p, unit->column, "function 'date_trunc' takes 'month', 'quarter' or 'year' first, "
			            "as in date_trunc('month', close_date)");
			return false;
		}
	}
	return true;
}

static int parse_call(struct parser *p)
{
	struct token *t = &p->token;
	int column = t->column;
	const struct function *fn = NULL;
	for (size_t k = 0; k < sizeof(functions) / sizeof(functions[0]) && !t->has_dot; k++) {
		if (equal_ignoring_case(p->source + t->start, t->length, functions[k].name))
			fn = &functions[k];
	}
	if (!fn) {
		char near[32];
		excerpt(p->source + t->start, t->length, near);
		parse_error(p, column, "unknown function '%s'", near);
		return -1;
	}
	if (!advance(p) || !advance(p))  /* the name, then '(' */
		return -1;
	int first = -1, tail = -1, count = 0;
	if (p->token.type == TOK_RPAREN) {
		if (!advance(p))
			return -1;
	} else {
		for (;;) {
			int argument = parse_expression(p);
			if (argument < 0)
				return -1;
			if (tail < 0)
				first = argument;
			else
				link_sibling(p, tail, argument);
			tail = argument;
			count++;
			if (p->token.type == TOK_COMMA) {
				if (!advance(p))
					return -1;
				continue;
			}
			if (p->token.type != TOK_RPAREN) {
				expect_error(p, "',' or ')'");
				return -1;
			}
			if (!advance(p))
				return -1;
			break;
		}
	}
	if (fn->arity < 0 && (count < 1 || count > EXPR_MAX_CONCAT)) {
		parse_error(p, column, "function '%s' takes 1 to %d arguments, not %d", fn->name, EXPR_MAX_CONCAT, count);
		return -1;
	}
	if (fn->arity >= 0 && count != fn->arity) {
		parse_error(p, column, "function '%s' takes %d argument%s, not %d", fn->name, fn->arity,
		            fn->arity == 1 ? "" : "s", count);
		return -1;
	}
	if (!literal_arguments_valid(p, fn->id, first))
		return -1;
	int index = new_node(p, NODE_CALL, column, first);
	if (index >= 0)
		p->expr->nodes[index].op = fn->id;
	return index;
}

/* True if the current name token is directly followed by '(' (spaces allowed). */
static bool followed_by_paren(struct parser *p)
{
	size_t pos = p->token.start + p->token.length;
	while (p->source[pos] == ' ' || p->source[pos] == '\t' || p->source[pos] == '\n' || p->source[pos] == '\r')
		pos++;
	return p->source[pos] == '(';
}

static int parse_primary(struct parser *p)
{
	struct token *t = &p->token;
	switch (t->type) {
	case TOK_LPAREN: {
		if (!advance(p))
			return -1;
		int inner = parse_expression(p);
		if (inner < 0)
			return -1;
		if (p->token.type != TOK_RPAREN) {
			expect_error(p, "')'");
			return -1;
		}
		return advance(p) ? inner : -1;
	}
	case TOK_INT:
	case TOK_REAL:
	case TOK_STRING:
	case TOK_TRUE:
	case TOK_FALSE:
	case TOK_NULL:
		return parse_literal(p);
	case TOK_ME:
	case TOK_USER:
		return parse_variable(p);
	case TOK_NAME: {
		if (followed_by_paren(p))
			return parse_call(p);
		if (t->has_upper) {
			char near[32];
			excerpt(p->source + t->start, t->length, near);
			parse_error(p, t->column, "invalid name '%s': field names are lower case", near);
			return -1;
		}
		int index = new_node(p, NODE_PATH, t->column, -1);
		if (index < 0)
			return -1;
		p->expr->nodes[index].name = xstrndup(p->source + t->start, t->length);
		return advance(p) ? index : -1;
	}
	default:
		expect_error(p, "an expression");
		return -1;
	}
}

static int parse_unary(struct parser *p)
{
	if (p->token.type != TOK_MINUS)
		return parse_primary(p);
	int column = p->token.column;
	if (!enter(p) || !advance(p))
		return -1;
	int operand = parse_unary(p);
	p->depth--;
	if (operand < 0)
		return -1;
	if (is_numeric_literal(p, operand))
		return fold_negative(p, operand, column) ? operand : -1;
	return new_node(p, NODE_NEGATE, column, operand);
}

/* Left-associative binary arithmetic: + - over * / %. */
static int parse_arith(struct parser *p, bool additive)
{
	int left = additive ? parse_arith(p, false) : parse_unary(p);
	while (left >= 0) {
		enum arith_op op;
		switch (p->token.type) {
		case TOK_PLUS: op = ARITH_ADD; break;
		case TOK_MINUS: op = ARITH_SUB; break;
		case TOK_STAR: op = ARITH_MUL; break;
		case TOK_SLASH: op = ARITH_DIV; break;
		case TOK_PERCENT: op = ARITH_MOD; break;
		default: return left;
		}
		if (additive != (op == ARITH_ADD || op == ARITH_SUB))
			return left;
		int column = p->token.column;
		if (!advance(p))
			return -1;
		int right = additive ? parse_arith(p, false) : parse_unary(p);
		if (right < 0)
			return -1;
		link_sibling(p, left, right);
		left = new_node(p, NODE_ARITH, column, left);
		if (left >= 0)
			p->expr->nodes[left].op = op;
	}
	return -1;
}

static int parse_additive(struct parser *p)
{
	return parse_arith(p, true);
}

/* An n-ary chain of one operator: a || b || c, a and b and c. */
static int parse_chain(struct parser *p, enum token_type op, enum node_kind kind, int (*operand)(struct parser *))
{
	int first = operand(p);
	if (first < 0 || p->token.type != op)
		return first;
	int column = p->token.column, tail = first;
	while (p->token.type == op) {
		if (!advance(p))
			return -1;
		int next = operand(p);
		if (next < 0)
			return -1;
		link_sibling(p, tail, next);
		tail = next;
	}
	return new_node(p, kind, column, first);
}

static int parse_concat(struct parser *p)
{
	return parse_chain(p, TOK_CONCAT, NODE_CONCAT, parse_additive);
}

/* A member of an in (...) list: a literal (a number may be negative), $me or $user.<field>. */
static int parse_list_item(struct parser *p)
{
	switch (p->token.type) {
	case TOK_MINUS: {
		int column = p->token.column;
		if (!advance(p))
			return -1;
		if (p->token.type != TOK_INT && p->token.type != TOK_REAL) {
			expect_error(p, "a number after '-'");
			return -1;
		}
		int index = parse_literal(p);
		if (index < 0 || !fold_negative(p, index, column))
			return -1;
		return index;
	}
	case TOK_INT:
	case TOK_REAL:
	case TOK_STRING:
	case TOK_TRUE:
	case TOK_FALSE:
	case TOK_NULL:
		return parse_literal(p);
	case TOK_ME:
	case TOK_USER:
		return parse_variable(p);
	default:
		expect_error(p, "a value (a literal, $me or $user.<field>)");
		return -1;
	}
}

static int parse_in_list(struct parser *p, int left, int column, bool negated)
{
	if (p->token.type != TOK_LPAREN) {
		expect_error(p, "'(' after 'in'");
		return -1;
	}
	if (!advance(p))
		return -1;
	int tail = left, count = 0;
	for (;;) {
		int item = parse_list_item(p);
		if (item < 0)
			return -1;
		if (++count > EXPR_MAX_IN_ITEMS) {
			parse_error(p, p->expr->nodes[item].column, "too many values in 'in' list: more than %d",
			            EXPR_MAX_IN_ITEMS);
			return -1;
		}
		link_sibling(p, tail, item);
		tail = item;
		if (p->token.type == TOK_COMMA) {
			if (!advance(p))
				return -1;
			continue;
		}
		if (p->token.type != TOK_RPAREN) {
			expect_error(p, "',' or ')'");
			return -1;
		}
		if (!advance(p))
			return -1;
		break;
	}
	int index = new_node(p, NODE_IN, column, left);
	if (index >= 0)
		p->expr->nodes[index].negated = negated;
	return index;
}

static int parse_comparison(struct parser *p)
{
	int left = parse_concat(p);
	if (left < 0)
		return -1;
	int column = p->token.column;
	enum compare_op op;
	bool negated = false;
	switch (p->token.type) {
	case TOK_EQ: op = CMP_EQ; break;
	case TOK_NE: op = CMP_NE; break;
	case TOK_LT: op = CMP_LT; break;
	case TOK_LE: op = CMP_LE; break;
	case TOK_GT: op = CMP_GT; break;
	case TOK_GE: op = CMP_GE; break;
	case TOK_NOT:
		if (!advance(p))
			return -1;
		if (p->token.type != TOK_LIKE && p->token.type != TOK_IN) {
			expect_error(p, "'like' or 'in' after 'not'");
			return -1;
		}
		negated = true;
		/* fall through */
	case TOK_LIKE:
	case TOK_IN: {
		bool is_like = p->token.type == TOK_LIKE;
		if (!advance(p))
			return -1;
		if (!is_like)
			return parse_in_list(p, left, column, negated);
		int pattern = parse_concat(p);
		if (pattern < 0)
			return -1;
		link_sibling(p, left, pattern);
		int index = new_node(p, NODE_LIKE, column, left);
		if (index >= 0)
			p->expr->nodes[index].negated = negated;
		return index;
	}
	case TOK_IS: {
		if (!advance(p))
			return -1;
		if (p->token.type == TOK_NOT) {
			negated = true;
			if (!advance(p))
				return -1;
		}
		if (p->token.type != TOK_NULL) {
			expect_error(p, "'null' after 'is'");
			return -1;
		}
		if (!advance(p))
			return -1;
		int index = new_node(p, NODE_IS_NULL, column, left);
		if (index >= 0)
			p->expr->nodes[index].negated = negated;
		return index;
	}
	default:
		return left;
	}
	if (!advance(p))
		return -1;
	int right = parse_concat(p);
	if (right < 0)
		return -1;
	if ((op == CMP_EQ || op == CMP_NE) && p->expr->nodes[right].kind == NODE_LITERAL
	    && p->expr->nodes[right].value.type == EV_NULL) {
		/*
		 * `owner = null` means "has no owner", as in SOQL and DESIGN.md's
		 * public lead pool; under three-valued logic it would never be true.
		 * The right literal stays in the node array, unlinked.
		 */
		int index = new_node(p, NODE_IS_NULL, column, left);
		if (index >= 0)
			p->expr->nodes[index].negated = op == CMP_NE;
		return index;
	}
	link_sibling(p, left, right);
	int index = new_node(p, NODE_COMPARE, column, left);
	if (index >= 0)
		p->expr->nodes[index].op = op;
	return index;
}

static int parse_not(struct parser *p)
{
	if (p->token.type != TOK_NOT)
		return parse_comparison(p);
	int column = p->token.column;
	if (!enter(p) || !advance(p))
		return -1;
	int operand = parse_not(p);
	p->depth--;
	if (operand < 0)
		return -1;
	return new_node(p, NODE_NOT, column, operand);
}

static int parse_and(struct parser *p)
{
	return parse_chain(p, TOK_AND, NODE_AND, parse_not);
}

static int parse_expression(struct parser *p)
{
	if (!enter(p))
		return -1;
	int index = parse_chain(p, TOK_OR, NODE_OR, parse_and);
	p->depth--;
	return index;
}

void expr_free(struct expr *e)
{
	if (!e)
		return;
	for (int i = 0; i < e->node_count; i++) {
		expr_value_clear(&e->nodes[i].value);
		free(e->nodes[i].name);
	}
	free(e->nodes);
	free(e);
}

int expr_parse(const char *text, struct expr **out, char *err, size_t errlen)
{
	set_error(err, errlen, "%s", "");
	if (!text) {
		set_error(err, errlen, "column 1: no expression");
		return CRM_EINVAL;
	}
	if (strnlen(text, EXPR_MAX_LENGTH + 1) > EXPR_MAX_LENGTH) {
		set_error(err, errlen, "column 1: expression too long: more than %d bytes", EXPR_MAX_LENGTH);
		return CRM_EINVAL;
	}
	struct parser p = {
		.source = text, .column = 1, .err = err, .errlen = errlen,
		.expr = xcalloc(1, sizeof(struct expr)),
	};
	int root = -1;
	if (advance(&p))
		root = parse_expression(&p);
	if (root >= 0 && p.token.type != TOK_END)
		expect_error(&p, "end of expression");
	free(p.token.text);
	if (p.failed || root < 0) {
		expr_free(p.expr);
		return CRM_EINVAL;
	}
	p.expr->root = root;
	*out = p.expr;
	return CRM_OK;
}

void expr_each_path(const struct expr *e, void (*fn)(void *arg, const char *path), void *arg)
{
	for (int i = 0; i < e->node_count; i++) {
		if (e->nodes[i].kind == NODE_PATH)
			fn(arg, e->nodes[i].name);
	}
}

bool expr_reads_context(const struct expr *e)
{
	for (int i = 0; i < e->node_count; i++) {
		const struct node *n = &e->nodes[i];
		if (n->kind == NODE_ME || n->kind == NODE_USER_FIELD
		    || (n->kind == NODE_CALL && (n->op == FN_TODAY || n->op == FN_NOW)))
			return true;
	}
	return false;
}

/* ---- evaluation in C ----------------------------------------------------- */

struct eval_state {
	const struct expr *e;
	const struct expr_env *env;
	time_t now;
	char *err;
	size_t errlen;
};

static int eval_error(struct eval_state *st, const struct node *n, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int eval_error(struct eval_state *st, const struct node *n, int code, const char *fmt, ...)
{
	if (st->err && st->errlen) {
		int k = snprintf(st->err, st->errlen, "column %d: ", n->column);
		if (k >= 0 && (size_t)k < st->errlen) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(st->err + k, st->errlen - (size_t)k, fmt, ap);
			va_end(ap);
		}
	}
	return code;
}

static int eval_node(struct eval_state *st, int index, struct expr_value *out);

static void set_bool(struct expr_value *out, bool value)
{
	memset(out, 0, sizeof(*out));
	out->type = EV_BOOL;
	out->i = value;
}

static void set_int(struct expr_value *out, int64_t value)
{
	memset(out, 0, sizeof(*out));
	out->type = EV_INT;
	out->i = value;
}

/* A real result; NaN becomes null, as SQLite stores it. */
static void set_real(struct expr_value *out, double value)
{
	memset(out, 0, sizeof(*out));
	out->type = isnan(value) ? EV_NULL : EV_REAL;
	out->r = isnan(value) ? 0.0 : value;
}

static void set_text(struct expr_value *out, char *owned)
{
	memset(out, 0, sizeof(*out));
	out->type = EV_TEXT;
	out->s = owned;
}

static void set_null(struct expr_value *out)
{
	memset(out, 0, sizeof(*out));
	out->type = EV_NULL;
}

/* ---- the functions SQLite runs as registered C (expr_sql_function) -------- */

/*
 * x rounded to places decimals, half away from zero, on the decimal that x
 * reads as: the shortest of 15, 16 or 17 significant digits that reads back
 * as x (15 nearly always: what SQLite and the API write). So 2.675 rounds to
 * 2.68 and 1.005 to 1.01, as a person reading those numbers expects,
 * although neither double is exact and both lie a hair below the half.
 */
static double round_decimal(double x, int places)
{
	static const double powers_of_ten[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9 };
	if (!(fabs(x) < 4503599627370496.0))  /* 2^52 and over (and infinity): no fraction to round */
		return x;
	/*
	 * The quick way, when it cannot differ from the decimal one: that decimal
	 * D reads back as x, so |D - x| is at most half an ulp of x, and D * 10^n
	 * lies within 2^-52 * scaled of scaled. Unless scaled is that near a
	 * half (2.675 is), both round to the same integer, and the integer over
	 * an exact power of ten is what strtod would give: the nearest double.
	 */
	double scaled = fabs(x) * powers_of_ten[places];
	if (scaled < 4503599627370496.0) {
		double whole = floor(scaled);
		if (fabs(scaled - whole - 0.5) > scaled * 0x1p-50 + 0x1p-60) {
			whole = floor(scaled + 0.5);
			return whole == 0.0 ? 0.0 : copysign(whole / powers_of_ten[places], x);
		}
	}
	char text[40];
	int precision = 15;
	for (; precision < 17; precision++) {
		snprintf(text, sizeof(text), "%.*e", precision - 1, x);
		if (strtod(text, NULL) == x)
			break;
	}
	if (precision == 17)
		snprintf(text, sizeof(text), "%.*e", precision - 1, x);
	/* text is "[-]d.ddd...e[+-]xx": digits[0..precision-1] times 10^(exponent - k) each */
	const char *p = text;
	bool negative = *p == '-';
	if (negative)
		p++;
	char digits[20];
	int count = 0;
	for (; *p && *p != 'e'; p++) {
		if (is_digit(*p))
			digits[count++] = *p;
	}
	int exponent = *p == 'e' ? (int)strtol(p + 1, NULL, 10) : 0;
	int kept = exponent + places + 1;   /* digits at or above the 10^-places place */
	if (kept >= count)
		return x;
	int64_t whole = 0;                  /* the kept digits as an integer: x * 10^places, truncated */
	for (int i = 0; i < kept; i++)
		whole = whole * 10 + (digits[i] - '0');
	if (kept >= 0 && digits[kept] >= '5')
		whole++;
	if (whole == 0)
		return 0.0;
	snprintf(text, sizeof(text), "%s%" PRId64 "e-%d", negative ? "-" : "", whole, places);
	return strtod(text, NULL);
}

double expr_round(double x, int places)
{
	return round_decimal(x, places < 0 ? 0 : places > 9 ? 9 : places);
}

bool expr_formula_scaled(const struct meta_field *field)
{
	return field->type == FIELD_FORMULA && field->scale >= 0 && field->scale <= 9
	       && (field->result_type == FIELD_MONEY || field->result_type == FIELD_DECIMAL
	           || field->result_type == FIELD_PERCENT);
}

static int function_round(const struct expr_value *arguments, struct expr_value *out, char *err, size_t errlen)
{
	const struct expr_value *x = &arguments[0], *places = &arguments[1];
	set_null(out);
	if (x->type == EV_TEXT || places->type == EV_TEXT) {
		set_error(err, errlen, "function 'round' needs a number, not text");
		return CRM_EINVAL;
	}
	if (x->type == EV_NULL || places->type == EV_NULL)
		return CRM_OK;
	if (x->type != EV_REAL) {  /* an integer has nothing to round */
		set_int(out, x->i);
		return CRM_OK;
	}
	int64_t count = integer_of(places);
	set_real(out, round_decimal(x->r, count < 0 ? 0 : count > 9 ? 9 : (int)count));
	return CRM_OK;
}

static bool leap_year(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/*
 * The date months after the date of value (a datetime's UTC date), on the
 * same day of the month, or the month's last day when it is shorter
 * (2024-01-31 + 1 month is 2024-02-29). Null when a value is not a date or
 * the result falls outside SQLite's years (-4713 to 9999).
 */
static int function_add_months(const struct expr_value *arguments, struct expr_value *out, char *err,
                               size_t errlen)
{
	static const int month_days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const struct expr_value *date = &arguments[0], *months = &arguments[1];
	set_null(out);
	if (months->type == EV_TEXT) {
		set_error(err, errlen, "function 'add_months' needs a number of months, not text");
		return CRM_EINVAL;
	}
	int64_t ms;
	/* 'now' is no date here: the SQL function has no time of the query to read it as */
	if (months->type == EV_NULL || !value_to_julian_ms(date, 0, &ms))
		return CRM_OK;
	int year, month, day;
	julian_ms_to_date(ms, &year, &month, &day);
	int64_t total;  /* months since January of year 0 */
	if (__builtin_add_overflow((int64_t)year * 12 + (month - 1), integer_of(months), &total)
	    || total < -4713 * 12 || total > 9999 * 12 + 11)
		return CRM_OK;
	struct datetime dt = { .has_date = true };
	dt.year = (int)(total >= 0 ? total / 12 : -((-total + 11) / 12));
	dt.month = (int)(total - (int64_t)dt.year * 12) + 1;
	int last = dt.month == 2 && leap_year(dt.year) ? 29 : month_days[dt.month - 1];
	dt.day = day < last ? day : last;
	if (!datetime_to_julian_ms(&dt, &ms))  /* before -4713-11-24 */
		return CRM_OK;
	char text[40];
	format_date(dt.year, dt.month, dt.day, text);
	set_text(out, xstrdup(text));
	return CRM_OK;
}

/* ---- geo: points on the Earth --------------------------------------------- */

/*
 * A geo value is a point { "lat": -90..90, "lng": -180..180 } (object.c
 * validates it). The store keeps it as JSON text and, beside it, its two
 * numbers in the REAL columns <field>__lat and <field>__lng with an index
 * on them (schema.c), written in the same statement as the point: the SQL
 * reads those, the evaluator the point itself, and both hand the same
 * doubles to the same C (crm_distance).
 */
#define GEO_EARTH_RADIUS 6371008.8   /* metres: the mean radius (IUGG) */
#define GEO_PI 3.14159265358979323846

static double radians(double degrees)
{
	return degrees * (GEO_PI / 180.0);
}

static double degrees_of(double radians_value)
{
	return radians_value * (180.0 / GEO_PI);
}

static bool geo_valid(double lat, double lng)
{
	return isfinite(lat) && isfinite(lng) && lat >= -90.0 && lat <= 90.0 && lng >= -180.0 && lng <= 180.0;
}

/*
 * Great-circle distance in metres (haversine; atan2 rather than asin keeps
 * its precision near the antipodes). Symmetric in its two points.
 */
static double geo_haversine(double lat1, double lng1, double lat2, double lng2)
{
	double phi1 = radians(lat1), phi2 = radians(lat2), east = lng2 - lng1;
	if (east > 180.0)   /* the short way round: 180 and -180 are one meridian */
		east -= 360.0;
	else if (east < -180.0)
		east += 360.0;
	double sin_lat = sin((phi2 - phi1) / 2), sin_lng = sin(radians(east) / 2);
	double a = sin_lat * sin_lat + cos(phi1) * cos(phi2) * sin_lng * sin_lng;
	if (a > 1.0)
		a = 1.0;
	return 2.0 * GEO_EARTH_RADIUS * atan2(sqrt(a), sqrt(1.0 - a));
}

bool expr_geo_distance(double lat1, double lng1, double lat2, double lng2, double *metres)
{
	if (!geo_valid(lat1, lng1) || !geo_valid(lat2, lng2))
		return false;
	*metres = geo_haversine(lat1, lng1, lat2, lng2);
	return true;
}

/* A coordinate argument: a number, or false (null, text: the caller decides). */
static bool coordinate(const struct expr_value *value, double *out)
{
	if (value->type == EV_REAL)
		*out = value->r;
	else if (value->type == EV_INT || value->type == EV_BOOL)
		*out = (double)value->i;
	else
		return false;
	return true;
}

/*
 * crm_distance(lat1, lng1, lat2, lng2): metres between two points, null
 * when a coordinate is null or no point (out of range, not finite: a row's
 * value never fails a whole query). Text is an error, as in arithmetic.
 */
static int function_distance(const struct expr_value *arguments, struct expr_value *out, char *err, size_t errlen)
{
	double c[4];
	set_null(out);
	for (int i = 0; i < 4; i++) {
		if (arguments[i].type == EV_TEXT) {
			set_error(err, errlen, "function 'distance' needs numbers for latitude and longitude, not text");
			return CRM_EINVAL;
		}
	}
	for (int i = 0; i < 4; i++) {
		if (!coordinate(&arguments[i], &c[i]))
			return CRM_OK;
	}
	if (geo_valid(c[0], c[1]) && geo_valid(c[2], c[3]))
		set_real(out, geo_haversine(c[0], c[1], c[2], c[3]));
	return CRM_OK;
}

/*
 * A stored point's latitude (which 0) or longitude (1) from its JSON text,
 * as jansson reads it when the store loads the record; null when the text
 * is no point. The evaluator reads a geo field this way, and schema.c fills
 * the <field>__lat/__lng columns of the records a database already has
 * with crm_geo_lat/crm_geo_lng, so that both read the same doubles.
 */
static void geo_coordinate(const char *text, int which, struct expr_value *out)
{
	set_null(out);
	if (!text)
		return;
	json_t *point = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	json_t *lat = json_object_get(point, "lat"), *lng = json_object_get(point, "lng");
	if (json_is_number(lat) && json_is_number(lng)
	    && geo_valid(json_number_value(lat), json_number_value(lng)))
		set_real(out, json_number_value(which ? lng : lat));
	json_decref(point);
}

static int function_geo_lat(const struct expr_value *arguments, struct expr_value *out, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	geo_coordinate(arguments[0].type == EV_TEXT ? arguments[0].s : NULL, 0, out);
	return CRM_OK;
}

static int function_geo_lng(const struct expr_value *arguments, struct expr_value *out, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	geo_coordinate(arguments[0].type == EV_TEXT ? arguments[0].s : NULL, 1, out);
	return CRM_OK;
}

/*
 * The box around a circle of metres around (lat, lng) that within() puts
 * before the exact distance, so that an index on <field>__lat, __lng finds
 * the candidates. Latitudes lat -/+ d (d the angle of the radius); the
 * longitudes whose meridians touch the circle are lng -/+ asin(sin d / cos
 * lat). A circle that reaches a pole spans every longitude (*wide); one
 * that crosses the date line spans two ranges, [lng_min, 180] and [-180,
 * lng_max] (*wraps). The box is widened by a hair (1e-6 degrees, 0.1 m) so
 * that rounding never leaves out a point the exact test would take.
 */
struct geo_box {
	double lat_min, lat_max, lng_min, lng_max;
	bool wide, wraps;
};

static bool geo_box(double lat, double lng, double metres, struct geo_box *box)
{
	const double hair = 1e-6;
	double angle = metres / GEO_EARTH_RADIUS * (1.0 + 1e-9);
	if (!(angle < GEO_PI / 2))   /* a quarter of the Earth or more (or NaN): no box worth its SQL */
		return false;
	double spread = degrees_of(angle) + hair;
	box->lat_min = lat - spread;
	box->lat_max = lat + spread;
	box->wide = box->lat_min <= -90.0 || box->lat_max >= 90.0;
	box->wraps = false;
	if (box->lat_min < -90.0)
		box->lat_min = -90.0;
	if (box->lat_max > 90.0)
		box->lat_max = 90.0;
	if (box->wide)
		return true;
	double ratio = sin(angle) / cos(radians(lat));
	if (!(ratio < 1.0)) {
		box->wide = true;
		return true;
	}
	double half = degrees_of(asin(ratio)) + hair;
	box->lng_min = lng - half;
	box->lng_max = lng + half;
	if (box->lng_min < -180.0) {
		box->lng_min += 360.0;
		box->wraps = true;
	} else if (box->lng_max > 180.0) {
		box->lng_max -= 360.0;
		box->wraps = true;
	}
	return true;
}

static const struct expr_sql_function sql_functions[] = {
	{ "crm_round", 2, function_round },
	{ "crm_add_months", 2, function_add_months },
	{ "crm_distance", 4, function_distance },
	{ EXPR_SQL_GEO_LAT, 1, function_geo_lat },
	{ EXPR_SQL_GEO_LNG, 1, function_geo_lng },
};
enum { SQL_ROUND, SQL_ADD_MONTHS, SQL_DISTANCE, SQL_GEO_LAT, SQL_GEO_LNG };

const struct expr_sql_function *expr_sql_function(int index)
{
	if (index < 0 || (size_t)index >= sizeof(sql_functions) / sizeof(sql_functions[0]))
		return NULL;
	return &sql_functions[index];
}

/* ---- business time: calendar.h over a calendar: document ---------------- */

static const char *const business_sql_names[] = {
	"crm_add_business_minutes", "crm_business_minutes_between", "crm_is_business_time",
};

const char *expr_business_function(int index, int *arity)
{
	if (index < 0 || index >= EXPR_BUSINESS_COUNT)
		return NULL;
	*arity = index == EXPR_BUSINESS_IS_OPEN ? 2 : 3;
	return business_sql_names[index];
}

int expr_business_call(const struct meta *meta, const struct calendar_holidays *holidays, int which,
                       const struct expr_value *arguments, struct expr_value *out, char *err, size_t errlen)
{
	int count = which == EXPR_BUSINESS_IS_OPEN ? 2 : 3;
	const struct expr_value *name = &arguments[count - 1];
	set_null(out);
	for (int i = 0; i < count; i++)
		if (arguments[i].type == EV_NULL)
			return CRM_OK;
	if (name->type != EV_TEXT) {
		set_error(err, errlen, "a calendar is named by a text, as in '%s'", "cn_office");
		return CRM_EINVAL;
	}
	if (which == EXPR_BUSINESS_ADD && arguments[1].type == EV_TEXT) {
		set_error(err, errlen, "function 'add_business_minutes' needs a number of minutes, not text");
		return CRM_EINVAL;
	}
	const struct meta_calendar *calendar = meta_find_calendar(meta, name->s);
	int64_t from, to;
	/* a name no calendar has (a field's value), or a text that is no time: null */
	if (!calendar || !value_to_julian_ms(&arguments[0], 0, &from))
		return CRM_OK;
	from = from / 1000 - INT64_C(210866760000);
	int64_t result;
	bool open;
	int rc;
	switch (which) {
	case EXPR_BUSINESS_ADD:
		rc = calendar_add_minutes(&calendar->calendar, holidays, from, integer_of(&arguments[1]), &result, err, errlen);
		if (rc == 0) {
			char text[32];
			format_now((time_t)result, text);
			set_text(out, xstrdup(text));
		}
		break;
	case EXPR_BUSINESS_BETWEEN:
		if (!value_to_julian_ms(&arguments[1], 0, &to))
			return CRM_OK;
		to = to / 1000 - INT64_C(210866760000);
		rc = calendar_minutes_between(&calendar->calendar, holidays, from, to, &result, err, errlen);
		if (rc == 0)
			set_int(out, result);
		break;
	default:
		rc = calendar_is_open(&calendar->calendar, holidays, from, &open, err, errlen);
		if (rc == 0)
			set_bool(out, open);
		break;
	}
	/*
	 * No answer within the bound (minutes out of range, or no working time
	 * for CALENDAR_MAX_DAYS days): null, in SQL as in C, so that one row
	 * never fails a whole list; a constant out of range is refused when
	 * compiled, a calendar without working time when the metadata loads.
	 */
	if (rc != 0)
		set_null(out);
	return CRM_OK;
}

/* A condition: -1 unknown (null), 0 false, 1 true. Text is not a condition. */
static int eval_condition(struct eval_state *st, int index, int *truth)
{
	struct expr_value v;
	int rc = eval_node(st, index, &v);
	if (rc)
		return rc;
	if (v.type == EV_TEXT) {
		expr_value_clear(&v);
		return eval_error(st, &st->e->nodes[index], CRM_EINVAL, "expected a condition, not text");
	}
	*truth = v.type == EV_NULL ? -1 : expr_truthy(&v);
	return CRM_OK;
}

static int compare_int_real(int64_t i, double r)
{
	if (r < -9223372036854775808.0)
		return 1;
	if (r >= 9223372036854775808.0)
		return -1;
	int64_t whole = (int64_t)r;
	if (i != whole)
		return i < whole ? -1 : 1;
	/* exact: below 2^53 whole converts back exactly, above it r has no fraction */
	double fraction = r - (double)whole;
	return fraction > 0 ? -1 : fraction < 0 ? 1 : 0;
}

static int compare_numbers(const struct expr_value *a, const struct expr_value *b)
{
	if (a->type != EV_REAL && b->type != EV_REAL)
		return a->i < b->i ? -1 : a->i > b->i;
	if (a->type == EV_REAL && b->type == EV_REAL)
		return a->r < b->r ? -1 : a->r > b->r;
	if (a->type == EV_REAL)
		return -compare_int_real(b->i, a->r);
	return compare_int_real(a->i, b->r);
}

/* Orders two non-null values by the rules in the file comment. */
static int compare_values(const struct expr_value *a, const struct expr_value *b)
{
	bool a_number = is_number(a), b_number = is_number(b);
	if (a_number && b_number)
		return compare_numbers(a, b);
	if (!a_number && !b_number) {
		int c = strcmp(a->s, b->s);
		return c < 0 ? -1 : c > 0;
	}
	struct expr_value converted;
	if (!text_to_number(a_number ? b->s : a->s, &converted))
		return a_number ? -1 : 1;  /* numbers sort before text */
	return a_number ? compare_numbers(a, &converted) : compare_numbers(&converted, b);
}

static bool compare_holds(enum compare_op op, int c)
{
	switch (op) {
	case CMP_EQ: return c == 0;
	case CMP_NE: return c != 0;
	case CMP_LT: return c < 0;
	case CMP_LE: return c <= 0;
	case CMP_GT: return c > 0;
	default: return c >= 0;
	}
}

/*
 * LIKE as SQLite runs it without ESCAPE: % any run, _ one character, ASCII
 * letters without case. The two-pointer walk with one backtrack point is
 * O(text * pattern): a pathological pattern cannot make it exponential.
 */
static bool like_match(const char *text, const char *pattern)
{
	const unsigned char *s = (const unsigned char *)text, *p = (const unsigned char *)pattern;
	const unsigned char *star_pattern = NULL, *star_text = NULL;
	while (*s) {
		if (*p == '%') {
			while (*p == '%')
				p++;
			if (!*p)
				return true;
			star_pattern = p;
			star_text = s;
			continue;
		}
		const unsigned char *s_next = s, *p_next = p;
		if (*p) {
			uint32_t sc = utf8_next(&s_next), pc = utf8_next(&p_next);
			if (pc == '_' || (pc < 0x80 && sc < 0x80 ? to_lower_ascii((int)pc) == to_lower_ascii((int)sc) : pc == sc)) {
				s = s_next;
				p = p_next;
				continue;
			}
		}
		if (!star_pattern)
			return false;
		/* let the last % swallow one more character and retry */
		utf8_next(&star_text);
		s = star_text;
		p = star_pattern;
	}
	while (*p == '%')
		p++;
	return *p == '\0';
}

static int eval_logic(struct eval_state *st, const struct node *n, struct expr_value *out)
{
	bool is_or = n->kind == NODE_OR;
	bool unknown = false;
	for (int child = n->first_child; child >= 0; child = st->e->nodes[child].next_sibling) {
		int truth;
		int rc = eval_condition(st, child, &truth);
		if (rc)
			return rc;
		if (truth < 0) {
			unknown = true;
		} else if (truth == is_or) {  /* true decides an or, false an and */
			set_bool(out, is_or);
			return CRM_OK;
		}
	}
	if (unknown)
		expr_value_clear(out);
	else
		set_bool(out, !is_or);
	return CRM_OK;
}

static int eval_in(struct eval_state *st, const struct node *n, struct expr_value *out)
{
	struct expr_value left, item;
	int rc = eval_node(st, n->first_child, &left);
	if (rc)
		return rc;
	expr_value_clear(out);
	if (left.type == EV_NULL)
		return CRM_OK;
	bool found = false, unknown = false;
	for (int child = st->e->nodes[n->first_child].next_sibling; child >= 0 && !found;
	     child = st->e->nodes[child].next_sibling) {
		rc = eval_node(st, child, &item);
		if (rc)
			break;
		if (item.type == EV_NULL)
			unknown = true;
		else if (compare_values(&left, &item) == 0)
			found = true;
		expr_value_clear(&item);
	}
	expr_value_clear(&left);
	if (rc)
		return rc;
	if (found)
		set_bool(out, !n->negated);
	else if (!unknown)
		set_bool(out, n->negated);
	return CRM_OK;
}

static int eval_like(struct eval_state *st, const struct node *n, struct expr_value *out)
{
	struct expr_value a, b;
	int rc = eval_node(st, n->first_child, &a);
	if (rc)
		return rc;
	rc = eval_node(st, st->e->nodes[n->first_child].next_sibling, &b);
	if (rc) {
		expr_value_clear(&a);
		return rc;
	}
	char *text = value_to_text(&a), *pattern = value_to_text(&b);
	expr_value_clear(&a);
	expr_value_clear(&b);
	expr_value_clear(out);
	if (pattern && utf8_length(pattern) > EXPR_MAX_LIKE_PATTERN) {
		rc = eval_error(st, n, CRM_EINVAL, "like pattern too long: more than %d characters", EXPR_MAX_LIKE_PATTERN);
	} else if (text && pattern) {
		set_bool(out, like_match(text, pattern) != n->negated);
	}
	free(text);
	free(pattern);
	return rc;
}

static int eval_concat(struct eval_state *st, const struct node *n, struct expr_value *out)
{
	struct strbuf result = {0};
	bool is_null = false;
	for (int child = n->first_child; child >= 0; child = st->e->nodes[child].next_sibling) {
		struct expr_value v;
		int rc = eval_node(st, child, &v);
		if (rc) {
			strbuf_free(&result);
			return rc;
		}
		char *text = value_to_text(&v);
		expr_value_clear(&v);
		if (!text)
			is_null = true;
		else
			strbuf_puts(&result, text);
		free(text);
	}
	if (is_null) {
		strbuf_free(&result);
		expr_value_clear(out);
	} else {
		set_text(out, strbuf_detach(&result));
	}
	return CRM_OK;
}

static int arith_ints(struct eval_state *st, const struct node *n, int64_t a, int64_t b, struct expr_value *out)
{
	int64_t result;
	switch ((enum arith_op)n->op) {
	case ARITH_ADD:
		if (__builtin_add_overflow(a, b, &result))
			goto overflow;
		break;
	case ARITH_SUB:
		if (__builtin_sub_overflow(a, b, &result))
			goto overflow;
		break;
	case ARITH_MUL:
		if (__builtin_mul_overflow(a, b, &result))
			goto overflow;
		break;
	case ARITH_DIV:
		if (b == 0) {
			expr_value_clear(out);
			return CRM_OK;
		}
		if (a == INT64_MIN && b == -1)
			goto overflow;
		if (a % b != 0) {
			set_real(out, (double)a / (double)b);
			return CRM_OK;
		}
		result = a / b;
		break;
	default:
		if (b == 0) {
			expr_value_clear(out);
			return CRM_OK;
		}
		result = b == -1 ? 0 : a % b;  /* INT64_MIN % -1 traps on x86 */
		break;
	}
	set_int(out, result);
	return CRM_OK;
overflow:
	return eval_error(st, n, CRM_EINVAL, "integer overflow in '%s'", arith_name[n->op]);
}

/* date(julianday(date) + days): the date days later, or null (out is set). */
static void date_plus_days(const struct expr_value *date, double days, time_t now, struct expr_value *out)
{
	int64_t ms;
	char text[40];
	set_null(out);
	if (value_to_julian_ms(date, now, &ms) && julian_number_to_date((double)ms / 86400000.0 + days, text))
		set_text(out, xstrdup(text));
}

/* Date arithmetic, as expr_check found it (see the file comment); out is set. */
static int eval_date_arith(struct eval_state *st, const struct node *n, const struct expr_value *a,
                           const struct expr_value *b, struct expr_value *out)
{
	set_null(out);
	if (a->type == EV_NULL || b->type == EV_NULL)
		return CRM_OK;
	if (n->date_arith == DATE_MINUS_DATE) {
		int64_t from, to;
		if (value_to_julian_ms(b, st->now, &from) && value_to_julian_ms(a, st->now, &to))
			set_int(out, (int64_t)(to / 86400000.0 - from / 86400000.0));  /* days_between(b, a) */
		return CRM_OK;
	}
	const struct expr_value *date = n->date_arith == DAYS_PLUS_DATE ? b : a;
	const struct expr_value *days = n->date_arith == DAYS_PLUS_DATE ? a : b;
	if (days->type == EV_TEXT)
		return eval_error(st, n, CRM_EINVAL, "operator '%s' needs a number of days beside a date, not text",
		                  arith_name[n->op]);
	/* julianday(d) - n, as SQLite adds: in doubles */
	double whole_days = (double)integer_of(days);
	date_plus_days(date, n->date_arith == DATE_MINUS_DAYS ? -whole_days : whole_days, st->now, out);
	return CRM_OK;
}

static int eval_arith(struct eval_state *st, const struct node *n, struct expr_value *out)
{
	struct expr_value a, b;
	int rc = eval_node(st, n->first_child, &a);
	if (rc)
		return rc;
	rc = eval_node(st, st->e->nodes[n->first_child].next_sibling, &b);
	if (rc) {
		expr_value_clear(&a);
		return rc;
	}
	if (n->date_arith != DATE_ARITH_NONE) {
		rc = eval_date_arith(st, n, &a, &b, out);
	} else if (a.type == EV_TEXT || b.type == EV_TEXT) {
		rc = eval_error(st, n, CRM_EINVAL, "operator '%s' needs numbers, not text", arith_name[n->op]);
	} else if (a.type == EV_NULL || b.type == EV_NULL) {
		expr_value_clear(out);
	} else if (n->op == ARITH_MOD && (a.type == EV_REAL || b.type == EV_REAL)) {
		rc = eval_error(st, n, CRM_EINVAL, "operator '%%' needs integers");
	} else if (a.type != EV_REAL && b.type != EV_REAL) {
		rc = arith_ints(st, n, a.i, b.i, out);
	} else {
		double x = a.type == EV_REAL ? a.r : (double)a.i, y = b.type == EV_REAL ? b.r : (double)b.i;
		switch ((enum arith_op)n->op) {
		case ARITH_ADD: set_real(out, x + y); break;
		case ARITH_SUB: set_real(out, x - y); break;
		case ARITH_MUL: set_real(out, x * y); break;
		default:
			if (y == 0.0)
				expr_value_clear(out);
			else
				set_real(out, x / y);
			break;
		}
	}
	expr_value_clear(&a);
	expr_value_clear(&b);
	return rc;
}

/* Evaluates count arguments from first into arguments; on failure none is left set. */
static int eval_arguments(struct eval_state *st, int first, struct expr_value *arguments, int count)
{
	int child = first;
	for (int i = 0; i < count; i++, child = st->e->nodes[child].next_sibling) {
		int rc = eval_node(st, child, &arguments[i]);
		if (rc) {
			while (i-- > 0)
				expr_value_clear(&arguments[i]);
			return rc;
		}
	}
	return CRM_OK;
}

static void clear_arguments(struct expr_value *arguments, int count)
{
	for (int i = 0; i < count; i++)
		expr_value_clear(&arguments[i]);
}

/*
 * SQLite's scalar min/max order: numbers by value before any text, text
 * bytewise. Unlike comparisons, no text is read as a number, as SQLite
 * gives function arguments no affinity.
 */
static int compare_stored(const struct expr_value *a, const struct expr_value *b)
{
	bool a_number = is_number(a), b_number = is_number(b);
	if (a_number && b_number)
		return compare_numbers(a, b);
	if (a_number != b_number)
		return a_number ? -1 : 1;
	int c = strcmp(a->s, b->s);
	return c < 0 ? -1 : c > 0;
}

/* sqlite3_value_int: the number as an int64 (CAST), then its low 32 bits as a signed int. */
static int64_t sqlite_int(const struct expr_value *value)
{
	uint32_t low = (uint32_t)(uint64_t)integer_of(value);
	return low >= UINT32_C(0x80000000) ? (int64_t)low - INT64_C(0x100000000) : (int64_t)low;
}

/* SQLite's substr(text, start, length) on characters, its rules for 0 and negative numbers included. */
static char *substring(const char *text, int64_t start, int64_t length)
{
	const unsigned char *z = (const unsigned char *)text, *end;
	bool negative_length = false;
	int64_t characters = start < 0 ? utf8_length(text) : 0;
	if (length < 0) {
		length = -length;
		negative_length = true;
	}
	if (start < 0) {
		start += characters;
		if (start < 0) {
			length += start;
			if (length < 0)
				length = 0;
			start = 0;
		}
	} else if (start > 0) {
		start--;
	} else if (length > 0) {
		length--;
	}
	if (negative_length) {
		start -= length;
		if (start < 0) {
			length += start;
			start = 0;
		}
	}
	for (; *z && start; start--) {
		if (*z++ >= 0xc0) {
			while ((*z & 0xc0) == 0x80)
				z++;
		}
	}
	for (end = z; *end && length; length--) {
		if (*end++ >= 0xc0) {
			while ((*end & 0xc0) == 0x80)
				end++;
		}
	}
	return xstrndup((const char *)z, (size_t)(end - z));
}

static const char *function_name(int id)
{
	for (size_t k = 0; k < sizeof(functions) / sizeof(functions[0]); k++) {
		if ((int)functions[k].id == id)
			return functions[k].name;
	}
	return "?";
}

/* Text where a function needs a number: an error, as in arithmetic. */
static int text_argument(struct eval_state *st, const struct node *n, const char *needs)
{
	return eval_error(st, n, CRM_EINVAL, "function '%s' needs %s, not text", function_name(n->op), needs);
}

/*
 * A geo argument of distance() or within() as its latitude and longitude
 * (owned values): point(lat, lng)'s two numbers, or a geo field's stored
 * point read as the SQL's <field>__lat/__lng columns hold it; null for
 * a null field.
 */
static int eval_geo(struct eval_state *st, const struct node *call, int index, struct expr_value coordinates[2])
{
	const struct node *n = &st->e->nodes[index];
	if (n->kind == NODE_CALL && n->op == FN_POINT)
		return eval_arguments(st, n->first_child, coordinates, 2);
	struct expr_value value;
	int rc = eval_node(st, index, &value);
	if (rc)
		return rc;
	set_null(&coordinates[0]);
	set_null(&coordinates[1]);
	if (value.type == EV_TEXT) {
		geo_coordinate(value.s, 0, &coordinates[0]);
		geo_coordinate(value.s, 1, &coordinates[1]);
	} else if (value.type != EV_NULL) {
		expr_value_clear(&value);
		return eval_error(st, call, CRM_EINVAL, "function '%s' needs a geo field or point(lat, lng)",
		                  function_name(call->op));
	}
	expr_value_clear(&value);
	return CRM_OK;
}

/* distance(a, b) and within(a, b, metres): crm_distance's C, as the SQL calls it. */
static int eval_geo_call(struct eval_state *st, const struct node *n, struct expr_value *out)
{
	const struct node *nodes = st->e->nodes;
	int first = n->first_child, second = nodes[first].next_sibling;
	struct expr_value coordinates[4], radius, metres;
	char message[200];
	int rc = eval_geo(st, n, first, coordinates);
	if (rc)
		return rc;
	if ((rc = eval_geo(st, n, second, coordinates + 2))) {
		clear_arguments(coordinates, 2);
		return rc;
	}
	rc = function_distance(coordinates, &metres, message, sizeof(message));
	clear_arguments(coordinates, 4);
	if (rc)
		return eval_error(st, n, rc, "%s", message);
	if (n->op == FN_DISTANCE) {
		*out = metres;
		return CRM_OK;
	}
	if ((rc = eval_node(st, nodes[second].next_sibling, &radius)))
		return rc;
	if (radius.type == EV_TEXT) {
		expr_value_clear(&radius);
		return text_argument(st, n, "a number of metres");
	}
	double limit;
	/* a predicate: no point (or no radius) is not within, as the SQL's coalesce(..., 0) */
	set_bool(out, metres.type == EV_REAL && coordinate(&radius, &limit) && metres.r <= limit);
	expr_value_clear(&radius);
	return CRM_OK;
}

static int eval_call(struct eval_state *st, const struct node *n, struct expr_value *out)
{
	const struct node *nodes = st->e->nodes;
	int first = n->first_child, second = first >= 0 ? nodes[first].next_sibling : -1;
	struct expr_value arguments[3], a;
	char buffer[40];
	int rc;
	int64_t from, to;
	set_null(out);
	switch ((enum function_id)n->op) {
	case FN_TODAY:
		format_today(st->now, buffer);
		set_text(out, xstrdup(buffer));
		return CRM_OK;
	case FN_NOW:
		format_now(st->now, buffer);
		set_text(out, xstrdup(buffer));
		return CRM_OK;
	case FN_DAYS_BETWEEN:
	case FN_HOURS_BETWEEN:
		if ((rc = eval_arguments(st, first, arguments, 2)))
			return rc;
		if (value_to_julian_ms(&arguments[0], st->now, &from) && value_to_julian_ms(&arguments[1], st->now, &to)) {
			double days = to / 86400000.0 - from / 86400000.0;  /* julianday(b) - julianday(a) */
			if (n->op == FN_DAYS_BETWEEN) {
				set_int(out, (int64_t)days);  /* SQLite's CAST truncates */
			} else {
				/* to the millisecond as SQLite's round(x) does it, then hours */
				double ms = days * 86400000.0;
				if (ms >= -4503599627370496.0 && ms <= 4503599627370496.0)
					ms = (double)(int64_t)(ms + (ms < 0 ? -0.5 : 0.5));
				set_real(out, ms / 3600000.0);
			}
		}
		clear_arguments(arguments, 2);
		return CRM_OK;
	case FN_ADD_BUSINESS_MINUTES:
	case FN_BUSINESS_MINUTES_BETWEEN:
	case FN_IS_BUSINESS_TIME: {
		int which = n->op == FN_ADD_BUSINESS_MINUTES ? EXPR_BUSINESS_ADD
		            : n->op == FN_BUSINESS_MINUTES_BETWEEN ? EXPR_BUSINESS_BETWEEN : EXPR_BUSINESS_IS_OPEN;
		int count = which == EXPR_BUSINESS_IS_OPEN ? 2 : 3;
		char message[200];
		if (!st->env->meta)
			return eval_error(st, n, CRM_EINVAL, "function '%s' needs the calendars of the metadata, which this "
			                  "evaluation has not", function_name(n->op));
		if ((rc = eval_arguments(st, first, arguments, count)))
			return rc;
		rc = expr_business_call(st->env->meta, st->env->holidays, which, arguments, out, message, sizeof(message));
		clear_arguments(arguments, count);
		return rc == CRM_OK ? CRM_OK : eval_error(st, n, rc, "%s", message);
	}
	case FN_DISTANCE:
	case FN_WITHIN:
		return eval_geo_call(st, n, out);
	case FN_POINT:
		return eval_error(st, n, CRM_EINVAL, "point(lat, lng) is a place, not a value: use it in distance() or "
		                  "within()");
	case FN_IF: {
		int truth;
		if ((rc = eval_condition(st, first, &truth)))
			return rc;
		return eval_node(st, truth == 1 ? second : nodes[second].next_sibling, out);
	}
	case FN_COALESCE:
		if ((rc = eval_node(st, first, out)))
			return rc;
		if (out->type != EV_NULL)
			return CRM_OK;
		return eval_node(st, second, out);
	case FN_ROUND:
	case FN_ADD_MONTHS: {
		const struct expr_sql_function *fn = &sql_functions[n->op == FN_ROUND ? SQL_ROUND : SQL_ADD_MONTHS];
		char message[200];
		if ((rc = eval_arguments(st, first, arguments, 2)))
			return rc;
		rc = fn->call(arguments, out, message, sizeof(message));
		clear_arguments(arguments, 2);
		return rc ? eval_error(st, n, rc, "%s", message) : CRM_OK;
	}
	case FN_ABS:
		if ((rc = eval_node(st, first, &a)))
			return rc;
		if (a.type == EV_TEXT) {
			expr_value_clear(&a);
			return text_argument(st, n, "a number");
		}
		if (a.type == EV_REAL)
			set_real(out, a.r < 0 ? -a.r : a.r);  /* as SQLite: -0.0 stays */
		else if (a.type != EV_NULL && a.i == INT64_MIN)
			return eval_error(st, n, CRM_EINVAL, "integer overflow in 'abs'");
		else if (a.type != EV_NULL)
			set_int(out, a.i < 0 ? -a.i : a.i);
		return CRM_OK;
	case FN_MIN:
	case FN_MAX:
		if ((rc = eval_arguments(st, first, arguments, 2)))
			return rc;
		if (arguments[0].type != EV_NULL && arguments[1].type != EV_NULL) {
			int c = compare_stored(&arguments[0], &arguments[1]);
			/* SQLite keeps the later of equals for min, the earlier for max (1 against 1.0) */
			bool later = n->op == FN_MIN ? c >= 0 : c < 0;
			*out = arguments[later];
			set_null(&arguments[later]);
		}
		clear_arguments(arguments, 2);
		return CRM_OK;
	case FN_ADD_DAYS:
		if ((rc = eval_arguments(st, first, arguments, 2)))
			return rc;
		if (arguments[1].type == EV_TEXT)
			rc = text_argument(st, n, "a number of days");
		else if (arguments[1].type != EV_NULL)
			date_plus_days(&arguments[0], (double)integer_of(&arguments[1]), st->now, out);
		clear_arguments(arguments, 2);
		return rc;
	case FN_YEAR:
	case FN_MONTH:
	case FN_DATE_TRUNC: {
		const char *unit = n->op == FN_DATE_TRUNC ? nodes[first].value.s : NULL;
		if ((rc = eval_node(st, n->op == FN_DATE_TRUNC ? second : first, &a)))
			return rc;
		bool is_date = value_to_julian_ms(&a, st->now, &from);
		expr_value_clear(&a);
		if (!is_date)
			return CRM_OK;
		struct datetime dt = { .has_date = true, .day = 1 };
		julian_ms_to_date(from, &dt.year, &dt.month, &dt.day);
		if (n->op != FN_DATE_TRUNC) {
			set_int(out, n->op == FN_YEAR ? dt.year : dt.month);
			return CRM_OK;
		}
		dt.day = 1;
		if (date_unit(unit) == 1)
			dt.month = (dt.month - 1) / 3 * 3 + 1;
		else if (date_unit(unit) == 2)
			dt.month = 1;
		if (datetime_to_julian_ms(&dt, &to)) {  /* -4713-11-01 is before the first julian day */
			format_date(dt.year, dt.month, dt.day, buffer);
			set_text(out, xstrdup(buffer));
		}
		return CRM_OK;
	}
	case FN_SUBSTR:
		if ((rc = eval_arguments(st, first, arguments, 3)))
			return rc;
		if (arguments[1].type == EV_TEXT || arguments[2].type == EV_TEXT) {
			rc = text_argument(st, n, "numbers for its start and length");
		} else if (arguments[0].type != EV_NULL && arguments[1].type != EV_NULL && arguments[2].type != EV_NULL) {
			char *text = value_to_text(&arguments[0]);
			set_text(out, substring(text, sqlite_int(&arguments[1]), sqlite_int(&arguments[2])));
			free(text);
		}
		clear_arguments(arguments, 3);
		return rc;
	case FN_CONCAT: {
		struct strbuf result = {0};
		for (int child = first; child >= 0; child = nodes[child].next_sibling) {
			if ((rc = eval_node(st, child, &a))) {
				strbuf_free(&result);
				return rc;
			}
			char *text = value_to_text(&a);  /* NULL for null: empty */
			expr_value_clear(&a);
			if (text)
				strbuf_puts(&result, text);
			free(text);
		}
		set_text(out, strbuf_detach(&result));
		return CRM_OK;
	}
	default: {  /* lower, upper, len: of the text form */
		if ((rc = eval_node(st, first, &a)))
			return rc;
		char *text = value_to_text(&a);
		expr_value_clear(&a);
		if (!text)
			return CRM_OK;
		if (n->op == FN_LEN) {
			set_int(out, utf8_length(text));
			free(text);
			return CRM_OK;
		}
		for (char *c = text; *c; c++)
			*c = (char)(n->op == FN_LOWER ? to_lower_ascii((unsigned char)*c) : to_upper_ascii((unsigned char)*c));
		set_text(out, text);
		return CRM_OK;
	}
	}
}

/* Evaluates node index into out (owned). Recursion is bounded by the AST height. */
static int eval_node(struct eval_state *st, int index, struct expr_value *out)
{
	const struct node *n = &st->e->nodes[index];
	const struct expr_env *env = st->env;
	struct expr_value v;
	int rc, truth;
	memset(out, 0, sizeof(*out));
	out->type = EV_NULL;
	switch (n->kind) {
	case NODE_LITERAL:
		value_copy(out, &n->value);
		return CRM_OK;
	case NODE_PATH:
		memset(&v, 0, sizeof(v));
		if (!env->lookup || env->lookup(env->arg, n->name, &v) != 0)
			return eval_error(st, n, CRM_ENOTFOUND, "cannot read field '%s'", n->name);
		value_copy(out, &v);  /* the lookup's text is borrowed */
		return CRM_OK;
	case NODE_ME:
		set_int(out, env->me);
		return CRM_OK;
	case NODE_USER_FIELD:
		memset(&v, 0, sizeof(v));
		if (!env->user_field)
			return eval_error(st, n, CRM_EINVAL, "$user.%s is not available here", n->name);
		if (env->user_field(env->arg, n->name, &v) != 0)
			return eval_error(st, n, CRM_EINVAL, "unknown user field '$user.%s'", n->name);
		value_copy(out, &v);
		return CRM_OK;
	case NODE_OR:
	case NODE_AND:
		return eval_logic(st, n, out);
	case NODE_NOT:
		if ((rc = eval_condition(st, n->first_child, &truth)))
			return rc;
		if (truth >= 0)
			set_bool(out, !truth);
		return CRM_OK;
	case NODE_COMPARE: {
		struct expr_value b;
		if ((rc = eval_node(st, n->first_child, &v)))
			return rc;
		if ((rc = eval_node(st, st->e->nodes[n->first_child].next_sibling, &b))) {
			expr_value_clear(&v);
			return rc;
		}
		if (v.type != EV_NULL && b.type != EV_NULL)
			set_bool(out, compare_holds((enum compare_op)n->op, compare_values(&v, &b)));
		expr_value_clear(&v);
		expr_value_clear(&b);
		return CRM_OK;
	}
	case NODE_LIKE:
		return eval_like(st, n, out);
	case NODE_IN:
		return eval_in(st, n, out);
	case NODE_IS_NULL:
		if ((rc = eval_node(st, n->first_child, &v)))
			return rc;
		set_bool(out, (v.type == EV_NULL) != n->negated);
		expr_value_clear(&v);
		return CRM_OK;
	case NODE_CONCAT:
		return eval_concat(st, n, out);
	case NODE_ARITH:
		return eval_arith(st, n, out);
	case NODE_NEGATE:
		if ((rc = eval_node(st, n->first_child, &v)))
			return rc;
		if (v.type == EV_TEXT) {
			expr_value_clear(&v);
			return eval_error(st, n, CRM_EINVAL, "operator '-' needs numbers, not text");
		}
		if (v.type == EV_REAL) {
			set_real(out, -v.r);
		} else if (v.type != EV_NULL) {
			if (v.i == INT64_MIN)
				return eval_error(st, n, CRM_EINVAL, "integer overflow in '-'");
			set_int(out, -v.i);
		}
		return CRM_OK;
	case NODE_CALL:
		return eval_call(st, n, out);
	}
	return eval_error(st, n, CRM_EINTERNAL, "unknown node");
}

int expr_eval(const struct expr *e, const struct expr_env *env, struct expr_value *out,
              char *err, size_t errlen)
{
	set_error(err, errlen, "%s", "");
	struct eval_state st = {
		.e = e, .env = env, .now = env->now ? env->now : time(NULL), .err = err, .errlen = errlen,
	};
	struct expr_value result;
	int rc = eval_node(&st, e->root, &result);
	if (rc == CRM_OK)
		*out = result;
	return rc;
}

/* ---- compilation to SQL ---------------------------------------------------- */

/*
 * What the compiler knows about the type of a SQL fragment. It decides the
 * explicit conversions that make SQLite follow the rules of the evaluator.
 */
enum sql_type {
	ST_UNKNOWN,  /* if() or coalesce() of mixed types */
	ST_NULL,
	ST_TEXT,
	ST_INT,
	ST_REAL,
	ST_NUMBER,   /* int or real, not known which */
	ST_BOOL,
	ST_DATE,     /* text, YYYY-MM-DD: a date field, today(), add_days() ... */
	ST_DATETIME, /* text, YYYY-MM-DDTHH:MM:SSZ: a datetime field, now() */
};

static bool is_numeric_type(enum sql_type type)
{
	return type == ST_INT || type == ST_REAL || type == ST_NUMBER || type == ST_BOOL;
}

/* Text, a date or a datetime: all text to SQLite. */
static bool is_text_type(enum sql_type type)
{
	return type == ST_TEXT || type == ST_DATE || type == ST_DATETIME;
}

/* For messages: "a number", "text", "a date" ... */
static const char *type_words(enum sql_type type)
{
	switch (type) {
	case ST_TEXT: return "text";
	case ST_DATE: return "a date";
	case ST_DATETIME: return "a datetime";
	case ST_NULL: return "null";
	case ST_UNKNOWN: return "a value of mixed type";
	case ST_BOOL: return "a bool";
	default: return "a number";
	}
}

static bool is_integer_type(enum sql_type type)
{
	return type == ST_INT || type == ST_BOOL;
}

static enum sql_type value_sql_type(const struct expr_value *value)
{
	switch (value->type) {
	case EV_TEXT: return ST_TEXT;
	case EV_INT: return ST_INT;
	case EV_REAL: return ST_REAL;
	case EV_BOOL: return ST_BOOL;
	default: return ST_NULL;
	}
}

static enum sql_type merge_types(enum sql_type a, enum sql_type b)
{
	if (a == b || b == ST_NULL)
		return a;
	if (a == ST_NULL)
		return b;
	if (is_numeric_type(a) && is_numeric_type(b))
		return ST_NUMBER;
	if (is_text_type(a) && is_text_type(b))  /* a date or a text: no longer known to be a date */
		return ST_TEXT;
	return ST_UNKNOWN;
}

/* The scope a path is resolved in: the object, its table alias, its join path. */
struct scope {
	const struct meta_object *object;
	const char *alias;
	const char *prefix;  /* "" for the base object, "account" for j1 ... */
};

struct compile_state {
	struct expr_sql *b;
	char *err;
	size_t errlen;
	const struct strbuf *out; /* the caller's buffer ... */
	size_t start;        /* ... and its length when this compile began: for the size limit */
	int formula_depth;
	bool check_access;   /* off inside inlined formulas: the formula field was checked */
	struct expr *typed;  /* expr_check: the expression whose arithmetic nodes learn their kind */
	const char *geo_column; /* "__lat" or "__lng": a geo field's path reads that column of its point */
};

static int compile_error(struct compile_state *cs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int compile_error(struct compile_state *cs, const char *fmt, ...)
{
	if (cs->err && cs->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(cs->err, cs->errlen, fmt, ap);
		va_end(ap);
	}
	return CRM_EINVAL;
}

/* Field lookup of our own, so that the compiler does not depend on meta.c. */
static const struct meta_field *find_field(const struct meta_object *object, const char *name, size_t length)
{
	for (int i = 0; i < object->field_count; i++) {
		const struct meta_field *f = &object->fields[i];
		if (strlen(f->name) == length && memcmp(f->name, name, length) == 0)
			return f;
	}
	return NULL;
}

/* How a stored field's values compare (meta_field_kind, without meta.c). */
static enum sql_type field_type_of(enum field_type type)
{
	switch (type) {
	case FIELD_INT:
	case FIELD_REF:
	case FIELD_USER:
		return ST_INT;
	case FIELD_DECIMAL:
	case FIELD_MONEY:
	case FIELD_PERCENT:
		return ST_REAL;
	case FIELD_BOOL:
		return ST_BOOL;
	case FIELD_FORMULA:
	case FIELD_ROLLUP:
		return ST_UNKNOWN;
	case FIELD_DATE:
		return ST_DATE;
	case FIELD_DATETIME:
		return ST_DATETIME;
	default:
		return ST_TEXT;  /* text types, enums, json, geo, autonumber */
	}
}

/* As the store keeps rollups (meta_field_kind): count an int, min/max of dates a date (text), else real. */
static enum sql_type rollup_type(const struct meta_field *field)
{
	if (field->rollup_measure == ROLLUP_COUNT)
		return ST_INT;
	if ((field->rollup_measure == ROLLUP_MIN || field->rollup_measure == ROLLUP_MAX) && field->rollup_child
	    && field->rollup_measure_field) {
		const struct meta_field *measured = find_field(field->rollup_child, field->rollup_measure_field,
		                                               strlen(field->rollup_measure_field));
		if (measured && (measured->type == FIELD_DATE || measured->type == FIELD_DATETIME))
			return field_type_of(measured->type);
	}
	return ST_REAL;
}

int expr_sql_bind(struct expr_sql *b, const struct expr_value *value)
{
	/* capacity is implicit: the next power of two (at least 8) above the count */
	int count = b->bind_count;
	if (count == 0 || (count >= 8 && (count & (count - 1)) == 0))
		b->binds = xrealloc(b->binds, (size_t)(count < 8 ? 8 : count * 2) * sizeof(b->binds[0]));
	struct expr_value *slot = &b->binds[count];
	value_copy(slot, value);
	if (slot->type == EV_BOOL)  /* bools are stored as 0/1 */
		slot->type = EV_INT;
	b->bind_count++;
	return b->bind_count;
}

/* Records that field's column was emitted without can_read being asked (rules, inlined formulas). */
void expr_sql_vouch(struct expr_sql *b, const struct meta_field *field)
{
	for (int i = 0; i < b->vouched_count; i++)
		if (b->vouched[i] == field)
			return;
	int count = b->vouched_count;
	if (count == 0 || (count >= 8 && (count & (count - 1)) == 0))
		b->vouched = xrealloc(b->vouched, (size_t)(count < 8 ? 8 : count * 2) * sizeof(b->vouched[0]));
	b->vouched[b->vouched_count++] = field;
}

static void vouch(struct compile_state *cs, const struct meta_field *field)
{
	struct expr_sql *b = cs->b;
	if (cs->check_access && b->can_read)
		return;
	expr_sql_vouch(b, field);
}

bool expr_sql_vouched(const struct expr_sql *b, const struct meta_field *field)
{
	for (int i = 0; i < b->vouched_count; i++)
		if (b->vouched[i] == field)
			return true;
	return false;
}

static void bind_placeholder(struct compile_state *cs, const struct expr_value *value, struct strbuf *out)
{
	strbuf_printf(out, "?%d", expr_sql_bind(cs->b, value));
}

static void bind_text(struct compile_state *cs, const char *text, struct strbuf *out)
{
	struct expr_value value = { .type = EV_TEXT, .s = (char *)text };
	bind_placeholder(cs, &value, out);
}

/*
 * The condition of join_rule for target joined as alias, compiled with the
 * builder's joins set aside: joins the condition needs (a rule with a path)
 * go into an EXISTS of their own, since an ON clause may not reach tables
 * joined after it. Their aliases are numbered past the enclosing ones.
 */
static int join_condition(struct compile_state *cs, const struct meta_object *target, const char *alias,
                          struct strbuf *out)
{
	struct expr_sql *b = cs->b;
	struct strbuf outer_joins = b->joins;
	int outer_count = b->join_count, outer_base = b->alias_base;
	char **outer_paths = b->join_paths;
	b->joins = (struct strbuf){ 0 };
	b->join_count = 0;
	b->join_paths = NULL;
	b->alias_base = outer_base + outer_count;
	struct strbuf condition = { 0 };
	int rc = b->join_rule(b->arg, b, target, alias, &condition);
	if (rc == CRM_OK && condition.len) {
		if (b->join_count)
			strbuf_printf(out, " AND EXISTS (SELECT 1 FROM (SELECT 1)%s WHERE %s)", b->joins.data, condition.data);
		else
			strbuf_printf(out, " AND (%s)", condition.data);
	}
	strbuf_free(&condition);
	strbuf_free(&b->joins);
	for (int i = 0; i < b->join_count; i++)
		free(b->join_paths[i]);
	free(b->join_paths);
	b->joins = outer_joins;
	b->join_count = outer_count;
	b->join_paths = outer_paths;
	b->alias_base = outer_base;
	if (rc != CRM_OK)
		return compile_error(cs, "the access rule of '%s' cannot be applied to a path", target->name);
	return CRM_OK;
}

/*
 * Returns the alias of the join for the ref path key, creating it if new.
 * The caller's own paths reach only records the caller may read (join_rule):
 * an unreadable target joins as null, so that it reads as null and matches no
 * filter. Paths inlined from formulas join unrestricted, under a key of their
 * own, so that the two never share a join.
 */
static int join_alias(struct compile_state *cs, const char *key, const char *from_alias,
                      const struct meta_field *ref, char alias[16])
{
	struct expr_sql *b = cs->b;
	bool restricted = b->join_rule && cs->check_access;
	char lookup[EXPR_MAX_PATH * 64 + 8];
	snprintf(lookup, sizeof(lookup), "%s%s", b->join_rule && !restricted ? "=" : "", key);
	for (int i = 0; i < b->join_count; i++) {
		if (strcmp(b->join_paths[i], lookup) == 0) {
			snprintf(alias, 16, "j%d", b->alias_base + i + 1);
			return CRM_OK;
		}
	}
	if (b->join_count >= EXPR_MAX_JOINS)
		return compile_error(cs, "too many related objects in one query: more than %d", EXPR_MAX_JOINS);
	int count = b->join_count;
	if (count == 0 || (count >= 8 && (count & (count - 1)) == 0))
		b->join_paths = xrealloc(b->join_paths, (size_t)(count < 8 ? 8 : count * 2) * sizeof(char *));
	b->join_paths[count] = xstrdup(lookup);
	b->join_count++;
	snprintf(alias, 16, "j%d", b->alias_base + b->join_count);
	struct strbuf condition = { 0 };
	int rc = restricted ? join_condition(cs, ref->target, alias, &condition) : CRM_OK;
	if (rc == CRM_OK) {
		strbuf_puts(&b->joins, " LEFT JOIN ");
		strbuf_ident(&b->joins, ref->target->name);
		strbuf_printf(&b->joins, " %s ON %s.\"id\" = %s.", alias, alias, from_alias);
		strbuf_ident(&b->joins, ref->name);
		if (condition.len)
			strbuf_puts(&b->joins, condition.data);
	}
	strbuf_free(&condition);
	return rc;
}

static int compile_node(struct compile_state *cs, const struct expr *e, int index, const struct scope *sc,
                        struct strbuf *out, enum sql_type *type);

static bool access_refused(struct compile_state *cs, const struct meta_object *object,
                           const struct meta_field *field)
{
	return cs->check_access && cs->b->can_read && !cs->b->can_read(cs->b->arg, object, field);
}

/*
 * Compiles a dotted path in scope: one LEFT JOIN per distinct ref prefix, a
 * column for a stored field, the inlined expression for a formula field.
 * The segments are already valid names (the lexer or expr_compile_path
 * checked them), so they may be used as identifiers.
 */
static int compile_path(struct compile_state *cs, const char *path, const struct scope *sc, struct strbuf *out,
                        enum sql_type *type, const struct meta_field **out_field)
{
	const struct meta_object *object = sc->object;
	char aliases[2][16];
	const char *alias = sc->alias;
	struct strbuf prefix = {0};
	int rc = CRM_OK;
	strbuf_puts(&prefix, sc->prefix);
	const char *segment = path;
	for (int hop = 0;; hop++) {
		const char *dot = strchr(segment, '.');
		size_t length = dot ? (size_t)(dot - segment) : strlen(segment);
		if (!object) {
			rc = compile_error(cs, "unknown field '%.*s': no object to look it up in", (int)length, segment);
			goto cleanup;
		}
		const struct meta_field *field = find_field(object, segment, length);
		/* a field the caller may not read is refused in the words of one that does not exist: no oracle */
		if (!field || access_refused(cs, object, field)) {
			rc = compile_error(cs, "unknown field '%.*s' on object '%s'", (int)length, segment, object->name);
			goto cleanup;
		}
		if (!dot) {
			if (out_field)
				*out_field = field;
			if (field->type == FIELD_FORMULA) {
				if (!field->formula_expr) {
					rc = compile_error(cs, "formula field '%s' on object '%s' has no expression", field->name,
					                   object->name);
					goto cleanup;
				}
				if (cs->formula_depth >= EXPR_MAX_FORMULA_DEPTH) {
					rc = compile_error(cs, "formulas nested too deeply at '%s': more than %d levels", field->name,
					                   EXPR_MAX_FORMULA_DEPTH);
					goto cleanup;
				}
				struct scope inner = { .object = object, .alias = alias, .prefix = prefix.data ? prefix.data : "" };
				bool check_access = cs->check_access;
				/*
				 * A money, decimal or percent formula is its value at the field's
				 * scale wherever it is used (eval.c rounds alike), so that what a
				 * line shows is what its quote adds up: each line's cents.
				 */
				bool scaled = expr_formula_scaled(field);
				if (scaled)
					strbuf_puts(out, "crm_round(");
				cs->formula_depth++;
				cs->check_access = false;
				rc = compile_node(cs, field->formula_expr, field->formula_expr->root, &inner, out, type);
				cs->formula_depth--;
				cs->check_access = check_access;
				if (scaled)
					strbuf_printf(out, ", %d)", field->scale);
				goto cleanup;
			}
			vouch(cs, field);
			strbuf_puts(out, alias);
			strbuf_putc(out, '.');
			if (cs->geo_column && field->type == FIELD_GEO) {
				char column[80];
				snprintf(column, sizeof(column), "%s%s", field->name, cs->geo_column);
				strbuf_ident(out, column);
				*type = ST_REAL;
				goto cleanup;
			}
			strbuf_ident(out, field->name);
			*type = field->type == FIELD_ROLLUP ? rollup_type(field) : field_type_of(field->type);
			goto cleanup;
		}
		if (field->type != FIELD_REF && field->type != FIELD_USER) {
			rc = compile_error(cs, "field '%s' on object '%s' is not a reference: '%s' cannot follow it",
			                   field->name, object->name, dot + 1);
			goto cleanup;
		}
		if (!field->target) {
			rc = compile_error(cs, "field '%s' on object '%s' leads to no object: '%s' cannot follow it",
			                   field->name, object->name, dot + 1);
			goto cleanup;
		}
		if (prefix.len)
			strbuf_putc(&prefix, '.');
		strbuf_add(&prefix, segment, length);
		vouch(cs, field);  /* the join reads the ref's column */
		if ((rc = join_alias(cs, prefix.data, alias, field, aliases[hop % 2])))
			goto cleanup;
		alias = aliases[hop % 2];
		object = field->target;
		segment = dot + 1;
	}
cleanup:
	strbuf_free(&prefix);
	return rc;
}

/* The value of a literal, $me or $user.<field>, known while compiling (owned copy). */
static int constant_value(struct compile_state *cs, const struct node *n, struct expr_value *out)
{
	struct expr_sql *b = cs->b;
	struct expr_value v;
	memset(out, 0, sizeof(*out));
	switch (n->kind) {
	case NODE_LITERAL:
		value_copy(out, &n->value);
		return CRM_OK;
	case NODE_ME:
		set_int(out, b->me);
		return CRM_OK;
	default:
		memset(&v, 0, sizeof(v));
		if (!b->user_field)
			return compile_error(cs, "$user.%s is not available here", n->name);
		if (b->user_field(b->arg, n->name, &v) != 0)
			return compile_error(cs, "unknown user field '$user.%s'", n->name);
		value_copy(out, &v);  /* the callback's text is borrowed */
		return CRM_OK;
	}
}

static bool is_constant(const struct node *n)
{
	return n->kind == NODE_LITERAL || n->kind == NODE_ME || n->kind == NODE_USER_FIELD;
}

/*
 * One side of a comparison. A constant is bound only once the other side's
 * type is known: text that reads as a number meets a number as that number
 * (the evaluator's rule, applied here once, so that an index stays usable).
 */
struct operand {
	struct strbuf sql;
	enum sql_type type;
	bool constant;
	struct expr_value value;
};

static int operand_start(struct compile_state *cs, const struct expr *e, int index, const struct scope *sc,
                         struct operand *op)
{
	memset(op, 0, sizeof(*op));
	op->value.type = EV_NULL;
	if (is_constant(&e->nodes[index])) {
		op->constant = true;
		int rc = constant_value(cs, &e->nodes[index], &op->value);
		op->type = value_sql_type(&op->value);
		return rc;
	}
	return compile_node(cs, e, index, sc, &op->sql, &op->type);
}

static void operand_finish(struct compile_state *cs, struct operand *op, enum sql_type other)
{
	if (!op->constant)
		return;
	struct expr_value number;
	if (op->value.type == EV_TEXT && is_numeric_type(other) && text_to_number(op->value.s, &number)) {
		expr_value_clear(&op->value);
		op->value = number;
		op->type = value_sql_type(&number);
	}
	bind_placeholder(cs, &op->value, &op->sql);
}

static void operand_free(struct operand *op)
{
	strbuf_free(&op->sql);
	expr_value_clear(&op->value);
}

/*
 * Writes an operand; as_number gives it NUMERIC affinity, which makes SQLite
 * apply numeric affinity to the text on the other side: well-formed numeric
 * text becomes a number, other text stays text and sorts after numbers.
 */
static void put_operand(struct strbuf *out, const struct operand *op, bool as_number)
{
	if (as_number)
		strbuf_puts(out, "CAST(");
	strbuf_add(out, op->sql.data ? op->sql.data : "", op->sql.len);
	if (as_number)
		strbuf_puts(out, " AS NUMERIC)");
}

static int compile_compare(struct compile_state *cs, const struct expr *e, const struct node *n,
                           const struct scope *sc, struct strbuf *out)
{
	struct operand left, right;
	int rc = operand_start(cs, e, n->first_child, sc, &left);
	memset(&right, 0, sizeof(right));
	if (rc == CRM_OK)
		rc = operand_start(cs, e, e->nodes[n->first_child].next_sibling, sc, &right);
	if (rc == CRM_OK) {
		operand_finish(cs, &left, right.type);
		operand_finish(cs, &right, left.type);
		strbuf_putc(out, '(');
		put_operand(out, &left, is_text_type(right.type) && is_numeric_type(left.type));
		strbuf_printf(out, " %s ", compare_sql[n->op]);
		put_operand(out, &right, is_text_type(left.type) && is_numeric_type(right.type));
		strbuf_putc(out, ')');
	}
	operand_free(&left);
	operand_free(&right);
	return rc;
}

/*
 * x in (...) becomes SQL's IN, except for text meeting numbers: IN gives its
 * list no affinity, so that case is spelled out as x = CAST(?N AS NUMERIC)
 * OR ..., which means the same in three-valued logic.
 */
static int compile_in(struct compile_state *cs, const struct expr *e, const struct node *n, const struct scope *sc,
                      struct strbuf *out)
{
	struct operand left;
	int rc = operand_start(cs, e, n->first_child, sc, &left);
	int count = 0;
	for (int c = e->nodes[n->first_child].next_sibling; c >= 0; c = e->nodes[c].next_sibling)
		count++;
	struct operand *items = xcalloc((size_t)count, sizeof(*items));
	enum sql_type item_type = ST_NULL;
	bool has_number = false;
	int k = 0;
	for (int c = e->nodes[n->first_child].next_sibling; c >= 0 && rc == CRM_OK; c = e->nodes[c].next_sibling) {
		rc = operand_start(cs, e, c, sc, &items[k]);
		if (is_numeric_type(items[k].type))
			has_number = true;
		item_type = merge_types(item_type, items[k].type);
		k++;
	}
	if (rc == CRM_OK) {
		operand_finish(cs, &left, item_type);
		bool expand = is_text_type(left.type) && has_number;
		strbuf_puts(out, n->negated ? (expand ? "(NOT (" : "(") : "(");
		if (!expand) {
			put_operand(out, &left, false);
			strbuf_puts(out, n->negated ? " NOT IN (" : " IN (");
		}
		for (int i = 0; i < count; i++) {
			operand_finish(cs, &items[i], left.type);
			if (expand) {
				strbuf_puts(out, i ? " OR " : "");
				put_operand(out, &left, false);
				strbuf_puts(out, " = ");
				put_operand(out, &items[i], is_numeric_type(items[i].type));
			} else {
				strbuf_puts(out, i ? ", " : "");
				put_operand(out, &items[i], false);
			}
		}
		strbuf_puts(out, expand && n->negated ? "))" : ")");
		if (!expand)
			strbuf_putc(out, ')');
	}
	operand_free(&left);
	for (int i = 0; i < count; i++)
		operand_free(&items[i]);
	free(items);
	return rc;
}

/* Compiles each child in turn into its own buffer: the caller assembles them. */
static int compile_children(struct compile_state *cs, const struct expr *e, const struct node *n,
                            const struct scope *sc, struct strbuf *parts, enum sql_type *types, int count)
{
	int child = n->first_child;
	for (int i = 0; i < count; i++, child = e->nodes[child].next_sibling) {
		int rc = compile_node(cs, e, child, sc, &parts[i], &types[i]);
		if (rc)
			return rc;
	}
	return CRM_OK;
}

static int check_condition(struct compile_state *cs, const struct node *n, enum sql_type type)
{
	if (is_text_type(type))
		return compile_error(cs, "column %d: expected a condition, not %s", n->column, type_words(type));
	return CRM_OK;
}

/*
 * Whether the arithmetic n of left and right is date arithmetic (the file
 * comment), into *kind; refuses a date or datetime in any other arithmetic.
 */
static int date_arith_kind(struct compile_state *cs, const struct node *n, enum sql_type left, enum sql_type right,
                           enum date_arith *kind)
{
	const char *op = arith_name[n->op];
	*kind = DATE_ARITH_NONE;
	if (left == ST_DATETIME || right == ST_DATETIME)
		return compile_error(cs, "column %d: operator '%s' cannot take a datetime (add_days gives a date n days "
		                     "later; days_between and hours_between the time between two)", n->column, op);
	bool left_date = left == ST_DATE, right_date = right == ST_DATE;
	if (!left_date && !right_date)
		return CRM_OK;
	bool left_days = is_numeric_type(left) || left == ST_NULL, right_days = is_numeric_type(right) || right == ST_NULL;
	if (n->op == ARITH_ADD && left_date && right_days)
		*kind = DATE_PLUS_DAYS;
	else if (n->op == ARITH_ADD && left_days && right_date)
		*kind = DAYS_PLUS_DATE;
	else if (n->op == ARITH_SUB && left_date && right_days)
		*kind = DATE_MINUS_DAYS;
	else if (n->op == ARITH_SUB && (left_date || left == ST_NULL) && right_date)
		*kind = DATE_MINUS_DATE;
	if (*kind != DATE_ARITH_NONE)
		return CRM_OK;
	if (n->op != ARITH_ADD && n->op != ARITH_SUB)
		return compile_error(cs, "column %d: operator '%s' cannot take a date (a date only adds or subtracts days: "
		                     "date + 30, date - 30, date - date)", n->column, op);
	if (left_date && right_date)
		return compile_error(cs, "column %d: operator '+' cannot add two dates (date - date gives the days "
		                     "between them)", n->column);
	if (right_date && left_days)
		return compile_error(cs, "column %d: operator '-' cannot subtract a date from a number", n->column);
	return compile_error(cs, "column %d: operator '%s' needs a number of days beside a date, not %s", n->column, op,
	                     type_words(left_date ? right : left));
}

/* A whole number of days for date arithmetic: SQLite's CAST where it may be a real. */
static void put_days(struct strbuf *out, const char *sql, enum sql_type type)
{
	if (is_integer_type(type) || type == ST_NULL)
		strbuf_puts(out, sql);
	else
		strbuf_printf(out, "CAST(%s AS INTEGER)", sql);
}

static int compile_arith(struct compile_state *cs, const struct expr *e, const struct node *n,
                         const struct scope *sc, struct strbuf *out, enum sql_type *type)
{
	struct strbuf parts[2] = { {0}, {0} };
	enum sql_type types[2];
	enum date_arith kind;
	int rc = compile_children(cs, e, n, sc, parts, types, 2);
	if (rc || (rc = date_arith_kind(cs, n, types[0], types[1], &kind)))
		goto cleanup;
	if (cs->typed == e)
		cs->typed->nodes[n - e->nodes].date_arith = kind;
	const char *a = parts[0].data, *b = parts[1].data;
	switch (kind) {
	case DATE_PLUS_DAYS:
	case DAYS_PLUS_DATE:
	case DATE_MINUS_DAYS: {
		/* date(number) reads a julian day: plain SQL, no date text built */
		bool date_first = kind != DAYS_PLUS_DATE;
		strbuf_printf(out, "date(julianday(%s) %s ", date_first ? a : b, kind == DATE_MINUS_DAYS ? "-" : "+");
		put_days(out, date_first ? b : a, types[date_first ? 1 : 0]);
		strbuf_putc(out, ')');
		*type = ST_DATE;
		goto cleanup;
	}
	case DATE_MINUS_DATE:
		strbuf_printf(out, "CAST(julianday(%s) - julianday(%s) AS INTEGER)", a, b);
		*type = ST_INT;
		goto cleanup;
	case DATE_ARITH_NONE:
		break;
	}
	if (types[0] == ST_TEXT || types[1] == ST_TEXT) {
		rc = compile_error(cs, "column %d: operator '%s' needs numbers, not text", n->column, arith_name[n->op]);
		goto cleanup;
	}
	if (n->op == ARITH_MOD && (types[0] == ST_REAL || types[1] == ST_REAL)) {
		rc = compile_error(cs, "column %d: operator '%%' needs integers", n->column);
		goto cleanup;
	}
	bool integers = (is_integer_type(types[0]) || types[0] == ST_NULL)
	                && (is_integer_type(types[1]) || types[1] == ST_NULL);
	if (n->op == ARITH_DIV && integers) {
		/* an int when it divides exactly, else a real; SQLite's / truncates */
		strbuf_printf(out, "(CASE WHEN (%s %% %s) = 0 THEN (%s / %s) ELSE (CAST(%s AS REAL) / %s) END)",
		              a, b, a, b, a, b);
		*type = ST_NUMBER;
	} else if (n->op == ARITH_DIV) {
		strbuf_printf(out, "(CAST(%s AS REAL) / %s)", a, b);
		*type = ST_REAL;
	} else {
		strbuf_printf(out, "(%s %s %s)", a, arith_name[n->op], b);
		if (n->op == ARITH_MOD || integers)
			*type = ST_INT;
		else if (types[0] == ST_REAL || types[1] == ST_REAL)
			*type = ST_REAL;
		else
			*type = ST_NUMBER;
	}
cleanup:
	strbuf_free(&parts[0]);
	strbuf_free(&parts[1]);
	return rc;
}

/* An argument of a known type that the function cannot take: refused at the argument. */
static int check_argument(struct compile_state *cs, const struct node *n, const struct node *argument,
                          enum sql_type type, bool number)
{
	if (number && is_text_type(type))
		return compile_error(cs, "column %d: function '%s' needs a number, not %s", argument->column,
		                     function_name(n->op), type_words(type));
	if (!number && is_numeric_type(type))
		return compile_error(cs, "column %d: function '%s' needs a date, not %s", argument->column,
		                     function_name(n->op), type_words(type));
	return CRM_OK;
}

/* The type of abs(x), round(x, n): x's, a bool being the number 0 or 1. */
static enum sql_type number_result(enum sql_type type)
{
	return type == ST_BOOL ? ST_INT : is_numeric_type(type) || type == ST_NULL ? type : ST_NUMBER;
}

/* concat(a, b, ...): each argument's text, null as empty; always text, even of one number. */
static int compile_concat(struct compile_state *cs, const struct expr *e, const struct node *n,
                          const struct scope *sc, struct strbuf *out)
{
	strbuf_putc(out, '(');
	for (int child = n->first_child; child >= 0; child = e->nodes[child].next_sibling) {
		enum sql_type type;
		strbuf_puts(out, child == n->first_child ? "coalesce(" : " || coalesce(");
		int rc = compile_node(cs, e, child, sc, out, &type);
		if (rc)
			return rc;
		strbuf_puts(out, ", '')");
	}
	if (e->nodes[n->first_child].next_sibling < 0)
		strbuf_puts(out, " || ''");
	strbuf_putc(out, ')');
	return CRM_OK;
}

/*
 * add_business_minutes(t, n, cal), business_minutes_between(a, b, cal),
 * is_business_time(t, cal): registered C (store.c), the evaluator's own
 * expr_business_call. A calendar named by a text constant must exist (an
 * error at the argument); one named by a text field is looked up per row.
 */
static int compile_business(struct compile_state *cs, const struct expr *e, const struct node *n,
                            const struct scope *sc, struct strbuf *out, enum sql_type *type)
{
	struct strbuf parts[3] = { {0}, {0}, {0} };
	enum sql_type types[3];
	int count = n->op == FN_IS_BUSINESS_TIME ? 2 : 3;
	const struct node *arg[3];
	arg[0] = &e->nodes[n->first_child];
	for (int i = 1; i < count; i++)
		arg[i] = &e->nodes[arg[i - 1]->next_sibling];
	const struct node *name = arg[count - 1];
	int rc = compile_children(cs, e, n, sc, parts, types, count);
	if (rc == CRM_OK)
		rc = check_argument(cs, n, arg[0], types[0], false);
	if (rc == CRM_OK && n->op == FN_ADD_BUSINESS_MINUTES)
		rc = check_argument(cs, n, arg[1], types[1], true);
	if (rc == CRM_OK && n->op == FN_BUSINESS_MINUTES_BETWEEN)
		rc = check_argument(cs, n, arg[1], types[1], false);
	if (rc == CRM_OK && n->op == FN_ADD_BUSINESS_MINUTES && arg[1]->kind == NODE_LITERAL
	    && (arg[1]->value.type == EV_INT || arg[1]->value.type == EV_REAL)) {
		double minutes = arg[1]->value.type == EV_INT ? (double)arg[1]->value.i : arg[1]->value.r;
		if (minutes < 0 || minutes > (double)CALENDAR_MAX_DAYS * 1440)
			rc = compile_error(cs, "column %d: function 'add_business_minutes' adds 0 to %d minutes", arg[1]->column,
			                   CALENDAR_MAX_DAYS * 1440);
	}
	if (rc == CRM_OK && is_numeric_type(types[count - 1]))
		rc = compile_error(cs, "column %d: function '%s' takes a calendar's name (a text, as in 'cn_office'), "
		                   "not %s", name->column, function_name(n->op), type_words(types[count - 1]));
	if (rc == CRM_OK && name->kind == NODE_LITERAL && name->value.type == EV_TEXT
	    && !meta_find_calendar(cs->b->meta, name->value.s)) {
		struct strbuf known = { 0 };
		for (int i = 0; cs->b->meta && i < cs->b->meta->calendar_count; i++)
			strbuf_printf(&known, "%s%s", i ? ", " : "", cs->b->meta->calendars[i].name);
		rc = compile_error(cs, "column %d: unknown calendar '%.64s' (a calendar: document names it; %s%s)",
		                   name->column, name->value.s, known.len ? "defined: " : "none is defined",
		                   known.len ? known.data : "");
		strbuf_free(&known);
	}
	if (rc == CRM_OK) {
		int which = n->op == FN_ADD_BUSINESS_MINUTES ? EXPR_BUSINESS_ADD
		            : n->op == FN_BUSINESS_MINUTES_BETWEEN ? EXPR_BUSINESS_BETWEEN : EXPR_BUSINESS_IS_OPEN;
		int arity;
		strbuf_printf(out, "%s(%s, %s", expr_business_function(which, &arity), parts[0].data, parts[1].data);
		if (count == 3)
			strbuf_printf(out, ", %s", parts[2].data);
		strbuf_putc(out, ')');
		*type = n->op == FN_ADD_BUSINESS_MINUTES ? ST_DATETIME : n->op == FN_BUSINESS_MINUTES_BETWEEN ? ST_INT : ST_BOOL;
	}
	for (int i = 0; i < 3; i++)
		strbuf_free(&parts[i]);
	return rc;
}

/* A point known while compiling (point() of literals or $user.<field>s): within() can box it. */
struct geo_constant {
	bool known;
	double lat, lng;
};

/* The number a constant argument is (*known false for anything else: a field, text, null). */
static int constant_number(struct compile_state *cs, const struct node *n, double *out, bool *known)
{
	struct expr_value value;
	*known = false;
	if (!is_constant(n))
		return CRM_OK;
	int rc = constant_value(cs, n, &value);
	if (rc == CRM_OK)
		*known = coordinate(&value, out);
	expr_value_clear(&value);
	return rc;
}

/*
 * A geo argument of distance() or within() as two SQL numbers in parts:
 * point(lat, lng)'s, or a geo field's <field>__lat and <field>__lng columns
 * (through any ref path). Anything else is refused at the argument. centre
 * (may be NULL) learns whether the point is a constant, and which.
 */
static int compile_geo(struct compile_state *cs, const struct expr *e, const struct node *call, int index,
                       const struct scope *sc, struct strbuf parts[2], struct geo_constant *centre)
{
	const struct node *n = &e->nodes[index];
	enum sql_type types[2];
	int rc;
	if (centre)
		centre->known = false;
	if (n->kind == NODE_CALL && n->op == FN_POINT) {
		const struct node *lat = &e->nodes[n->first_child], *lng = &e->nodes[lat->next_sibling];
		if ((rc = compile_children(cs, e, n, sc, parts, types, 2)) || (rc = check_argument(cs, n, lat, types[0], true))
		    || (rc = check_argument(cs, n, lng, types[1], true)))
			return rc;
		double lat_value = 0, lng_value = 0;
		bool lat_known, lng_known;
		if ((rc = constant_number(cs, lat, &lat_value, &lat_known)) || (rc = constant_number(cs, lng, &lng_value, &lng_known)))
			return rc;
		if (lat->kind == NODE_LITERAL && lat_known && !(lat_value >= -90.0 && lat_value <= 90.0))
			return compile_error(cs, "column %d: a latitude is from -90 to 90, not %g", lat->column, lat_value);
		if (lng->kind == NODE_LITERAL && lng_known && !(lng_value >= -180.0 && lng_value <= 180.0))
			return compile_error(cs, "column %d: a longitude is from -180 to 180, not %g", lng->column, lng_value);
		if (centre && lat_known && lng_known && geo_valid(lat_value, lng_value)) {
			centre->known = true;
			centre->lat = lat_value;
			centre->lng = lng_value;
		}
		return CRM_OK;
	}
	if (n->kind == NODE_PATH) {
		const char *const columns[2] = { "__lat", "__lng" };
		for (int i = 0; i < 2; i++) {
			const struct meta_field *field = NULL;
			cs->geo_column = columns[i];
			rc = compile_path(cs, n->name, sc, &parts[i], &types[i], &field);
			cs->geo_column = NULL;
			if (rc)
				return rc;
			if (field->type != FIELD_GEO)
				return compile_error(cs, "column %d: function '%s' needs a geo field or point(lat, lng), not "
				                     "'%s' (%s)", n->column, function_name(call->op), n->name,
				                     meta_type_name(field->type));
		}
		return CRM_OK;
	}
	return compile_error(cs, "column %d: function '%s' needs a geo field or point(lat, lng) there", n->column,
	                     function_name(call->op));
}

/* Appends "(column BETWEEN ?min AND ?max)". */
static void put_range(struct compile_state *cs, struct strbuf *out, const char *column, double min, double max)
{
	struct expr_value low = { .type = EV_REAL, .r = min }, high = { .type = EV_REAL, .r = max };
	strbuf_printf(out, "%s BETWEEN ", column);
	bind_placeholder(cs, &low, out);
	strbuf_puts(out, " AND ");
	bind_placeholder(cs, &high, out);
}

/*
 * distance(a, b): crm_distance of the four numbers, null when a point is.
 * within(geo, centre, metres): a predicate, true or false, never null (a
 * record with no point is not within any circle, and `not within` takes
 * it): coalesce(crm_distance(...) <= metres, 0), and, when geo is a field of the
 * base object and centre and metres are constants, first the box (geo_box)
 * as a search of the <field>__lat, __lng index: "t0.id IN (SELECT id ...
 * WHERE lat BETWEEN .. AND (lng BETWEEN ..))". The subquery makes SQLite
 * read the index for the few candidates whatever order the list is sorted
 * in; left to itself it may walk the table in id order. A point outside
 * the box is farther than metres, so the box changes no answer, only the
 * rows read.
 */
static int compile_geo_call(struct compile_state *cs, const struct expr *e, const struct node *n,
                            const struct scope *sc, struct strbuf *out, enum sql_type *type)
{
	struct strbuf parts[5] = { {0}, {0}, {0}, {0}, {0} };
	const struct node *first = &e->nodes[n->first_child], *second = &e->nodes[first->next_sibling];
	struct geo_constant centre;
	enum sql_type radius_type = ST_NULL;
	int rc = compile_geo(cs, e, n, n->first_child, sc, parts, NULL);
	if (rc == CRM_OK)
		rc = compile_geo(cs, e, n, first->next_sibling, sc, parts + 2, &centre);
	const struct node *radius = n->op == FN_WITHIN ? &e->nodes[second->next_sibling] : NULL;
	double metres = 0;
	bool metres_known = false;
	if (rc == CRM_OK && radius) {
		rc = compile_node(cs, e, second->next_sibling, sc, &parts[4], &radius_type);
		if (rc == CRM_OK)
			rc = check_argument(cs, n, radius, radius_type, true);
		if (rc == CRM_OK)
			rc = constant_number(cs, radius, &metres, &metres_known);
		if (rc == CRM_OK && radius->kind == NODE_LITERAL && metres_known && !(metres >= 0))
			rc = compile_error(cs, "column %d: function 'within' needs a distance in metres of 0 or more, not %g",
			                   radius->column, metres);
	}
	if (rc == CRM_OK) {
		struct geo_box box;
		bool boxed = radius && first->kind == NODE_PATH && !strchr(first->name, '.') && centre.known
		             && metres_known && geo_box(centre.lat, centre.lng, metres, &box);
		strbuf_putc(out, '(');
		if (boxed) {
			strbuf_printf(out, "%s.\"id\" IN (SELECT \"id\" FROM ", sc->alias);
			strbuf_ident(out, sc->object->name);
			strbuf_puts(out, " WHERE ");
			/* the columns as the table names them: the subquery has no alias */
			const char *lat_column = strrchr(parts[0].data, '.') + 1, *lng_column = strrchr(parts[1].data, '.') + 1;
			put_range(cs, out, lat_column, box.lat_min, box.lat_max);
			if (!box.wide && !box.wraps) {
				strbuf_puts(out, " AND ");
				put_range(cs, out, lng_column, box.lng_min, box.lng_max);
			} else if (!box.wide) {
				struct expr_value east = { .type = EV_REAL, .r = box.lng_min }, west = { .type = EV_REAL, .r = box.lng_max };
				strbuf_printf(out, " AND (%s >= ", lng_column);
				bind_placeholder(cs, &east, out);
				strbuf_printf(out, " OR %s <= ", lng_column);
				bind_placeholder(cs, &west, out);
				strbuf_putc(out, ')');
			}
			strbuf_puts(out, ") AND ");
		}
		if (radius)
			strbuf_puts(out, "coalesce(");
		strbuf_printf(out, "%s(%s, %s, %s, %s)", sql_functions[SQL_DISTANCE].name, parts[0].data, parts[1].data,
		              parts[2].data, parts[3].data);
		if (radius)
			strbuf_printf(out, " <= %s, 0)", parts[4].data);
		strbuf_putc(out, ')');
		*type = radius ? ST_BOOL : ST_REAL;
	}
	for (int i = 0; i < 5; i++)
		strbuf_free(&parts[i]);
	return rc;
}

static int compile_call(struct compile_state *cs, const struct expr *e, const struct node *n,
                        const struct scope *sc, struct strbuf *out, enum sql_type *type)
{
	struct strbuf parts[3] = { {0}, {0}, {0} };
	enum sql_type types[3];
	const struct node *first = n->first_child >= 0 ? &e->nodes[n->first_child] : NULL;
	const struct node *second = first && first->next_sibling >= 0 ? &e->nodes[first->next_sibling] : NULL;
	const struct node *third = second && second->next_sibling >= 0 ? &e->nodes[second->next_sibling] : NULL;
	char buffer[32];
	int rc = CRM_OK;
	if (!cs->b->now)  /* once per builder, so that a whole query agrees on the time */
		cs->b->now = time(NULL);
	switch ((enum function_id)n->op) {
	case FN_TODAY:
	case FN_NOW:
		(n->op == FN_TODAY ? format_today : format_now)(cs->b->now, buffer);
		bind_text(cs, buffer, out);
		*type = n->op == FN_TODAY ? ST_DATE : ST_DATETIME;
		break;
	case FN_DAYS_BETWEEN:
		if ((rc = compile_children(cs, e, n, sc, parts, types, 2)))
			break;
		strbuf_printf(out, "CAST(julianday(%s) - julianday(%s) AS INTEGER)", parts[1].data, parts[0].data);
		*type = ST_INT;
		break;
	case FN_IF:
		if ((rc = compile_children(cs, e, n, sc, parts, types, 3)))
			break;
		if ((rc = check_condition(cs, first, types[0])))
			break;
		strbuf_printf(out, "(CASE WHEN %s THEN %s ELSE %s END)", parts[0].data, parts[1].data, parts[2].data);
		*type = merge_types(types[1], types[2]);
		break;
	case FN_COALESCE:
		if ((rc = compile_children(cs, e, n, sc, parts, types, 2)))
			break;
		strbuf_printf(out, "coalesce(%s, %s)", parts[0].data, parts[1].data);
		*type = merge_types(types[0], types[1]);
		break;
	case FN_ROUND:
		if ((rc = compile_children(cs, e, n, sc, parts, types, 2)) || (rc = check_argument(cs, n, first, types[0], true)))
			break;
		strbuf_printf(out, "%s(%s, %s)", sql_functions[SQL_ROUND].name, parts[0].data, parts[1].data);
		*type = number_result(types[0]);
		break;
	case FN_ABS:
		if ((rc = compile_children(cs, e, n, sc, parts, types, 1)) || (rc = check_argument(cs, n, first, types[0], true)))
			break;
		strbuf_printf(out, "abs(%s)", parts[0].data);
		*type = number_result(types[0]);
		break;
	case FN_MIN:
	case FN_MAX:
		if ((rc = compile_children(cs, e, n, sc, parts, types, 2)))
			break;
		if ((is_numeric_type(types[0]) && is_text_type(types[1])) || (is_text_type(types[0]) && is_numeric_type(types[1]))) {
			rc = compile_error(cs, "column %d: function '%s' compares %s with %s: give it two numbers, or two dates "
			                   "or texts", n->column, function_name(n->op), type_words(types[0]), type_words(types[1]));
			break;
		}
		/* SQLite's scalar min/max: null if either is null, as the evaluator */
		strbuf_printf(out, "%s(%s, %s)", n->op == FN_MIN ? "min" : "max", parts[0].data, parts[1].data);
		*type = merge_types(types[0], types[1]);
		break;
	case FN_ADD_DAYS:
	case FN_ADD_MONTHS:
		if ((rc = compile_children(cs, e, n, sc, parts, types, 2)) || (rc = check_argument(cs, n, first, types[0], false))
		    || (rc = check_argument(cs, n, second, types[1], true)))
			break;
		if (n->op == FN_ADD_DAYS) {
			strbuf_printf(out, "date(julianday(%s) + ", parts[0].data);
			put_days(out, parts[1].data, types[1]);
			strbuf_putc(out, ')');
		} else {
			/*
			 * SQLite's date(d, '+1 month') does not clamp (2024-01-31 becomes
			 * 2024-03-02); the clamping SQL (start of month, add, compare with
			 * the month's last day) repeats d three times and builds modifier
			 * text per row. One registered C call is simpler and faster, and
			 * is the evaluator's own code.
			 */
			strbuf_printf(out, "%s(%s, %s)", sql_functions[SQL_ADD_MONTHS].name, parts[0].data, parts[1].data);
		}
		*type = ST_DATE;
		break;
	case FN_YEAR:
	case FN_MONTH:
		if ((rc = compile_children(cs, e, n, sc, parts, types, 1)) || (rc = check_argument(cs, n, first, types[0], false)))
			break;
		/* julianday() first, so that '2024-02-30' is March everywhere, as the evaluator reads it */
		strbuf_printf(out, "CAST(strftime('%s', julianday(%s)) AS INTEGER)", n->op == FN_YEAR ? "%Y" : "%m",
		              parts[0].data);
		*type = ST_INT;
		break;
	case FN_DATE_TRUNC:
		/* the unit is a literal the parser checked: it picks the SQL, bound as nothing */
		if ((rc = compile_node(cs, e, first->next_sibling, sc, &parts[1], &types[1]))
		    || (rc = check_argument(cs, n, second, types[1], false)))
			break;
		switch (date_unit(first->value.s)) {
		case 0:
			strbuf_printf(out, "date(julianday(%s), 'start of month')", parts[1].data);
			break;
		case 1:
			strbuf_printf(out, "date(julianday(%s), 'start of year', '+' || ((CAST(strftime('%%m', julianday(%s)) "
			              "AS INTEGER) - 1) / 3 * 3) || ' months')", parts[1].data, parts[1].data);
			break;
		default:
			strbuf_printf(out, "date(julianday(%s), 'start of year')", parts[1].data);
			break;
		}
		*type = ST_DATE;
		break;
	case FN_HOURS_BETWEEN:
		if ((rc = compile_children(cs, e, n, sc, parts, types, 2)) || (rc = check_argument(cs, n, first, types[0], false))
		    || (rc = check_argument(cs, n, second, types[1], false)))
			break;
		/* to the millisecond (julianday's doubles are a hair off it), then hours */
		strbuf_printf(out, "(round((julianday(%s) - julianday(%s)) * 86400000.0) / 3600000.0)", parts[1].data,
		              parts[0].data);
		*type = ST_REAL;
		break;
	case FN_SUBSTR:
		if ((rc = compile_children(cs, e, n, sc, parts, types, 3)) || (rc = check_argument(cs, n, second, types[1], true))
		    || (rc = check_argument(cs, n, third, types[2], true)))
			break;
		strbuf_printf(out, "substr(%s, %s, %s)", parts[0].data, parts[1].data, parts[2].data);
		*type = ST_TEXT;
		break;
	case FN_CONCAT:
		rc = compile_concat(cs, e, n, sc, out);
		*type = ST_TEXT;
		break;
	case FN_ADD_BUSINESS_MINUTES:
	case FN_BUSINESS_MINUTES_BETWEEN:
	case FN_IS_BUSINESS_TIME:
		rc = compile_business(cs, e, n, sc, out, type);
		break;
	case FN_DISTANCE:
	case FN_WITHIN:
		rc = compile_geo_call(cs, e, n, sc, out, type);
		break;
	case FN_POINT:
		rc = compile_error(cs, "column %d: point(lat, lng) is a place, not a value: use it in distance() or "
		                   "within()", n->column);
		break;
	default:
		if ((rc = compile_children(cs, e, n, sc, parts, types, 1)))
			break;
		strbuf_printf(out, "%s(%s)", n->op == FN_LOWER ? "lower" : n->op == FN_UPPER ? "upper" : "length",
		              parts[0].data);
		*type = n->op == FN_LEN ? ST_INT : ST_TEXT;
		break;
	}
	for (int i = 0; i < 3; i++)
		strbuf_free(&parts[i]);
	return rc;
}

/* and, or, ||: n-ary, each child compiled straight into out. */
static int compile_chain(struct compile_state *cs, const struct expr *e, const struct node *n,
                         const struct scope *sc, struct strbuf *out, const char *separator, bool conditions)
{
	strbuf_putc(out, '(');
	for (int child = n->first_child; child >= 0; child = e->nodes[child].next_sibling) {
		enum sql_type type;
		if (child != n->first_child)
			strbuf_puts(out, separator);
		int rc = compile_node(cs, e, child, sc, out, &type);
		if (rc == CRM_OK && conditions)
			rc = check_condition(cs, &e->nodes[child], type);
		if (rc)
			return rc;
	}
	strbuf_putc(out, ')');
	return CRM_OK;
}

/* Appends the SQL for one node; every operator's output is parenthesised. */
static int compile_node(struct compile_state *cs, const struct expr *e, int index, const struct scope *sc,
                        struct strbuf *out, enum sql_type *type)
{
	const struct node *n = &e->nodes[index];
	struct expr_value value;
	enum sql_type child_type;
	int rc = CRM_OK;
	*type = ST_UNKNOWN;
	switch (n->kind) {
	case NODE_LITERAL:
	case NODE_ME:
	case NODE_USER_FIELD:
		if ((rc = constant_value(cs, n, &value)))
			break;
		*type = value_sql_type(&value);
		bind_placeholder(cs, &value, out);
		expr_value_clear(&value);
		break;
	case NODE_PATH:
		rc = compile_path(cs, n->name, sc, out, type, NULL);
		break;
	case NODE_OR:
	case NODE_AND:
		rc = compile_chain(cs, e, n, sc, out, n->kind == NODE_OR ? " OR " : " AND ", true);
		*type = ST_BOOL;
		break;
	case NODE_CONCAT:
		rc = compile_chain(cs, e, n, sc, out, " || ", false);
		*type = ST_TEXT;
		break;
	case NODE_NOT:
		strbuf_puts(out, "(NOT ");
		rc = compile_node(cs, e, n->first_child, sc, out, &child_type);
		if (rc == CRM_OK)
			rc = check_condition(cs, &e->nodes[n->first_child], child_type);
		strbuf_putc(out, ')');
		*type = ST_BOOL;
		break;
	case NODE_COMPARE:
		rc = compile_compare(cs, e, n, sc, out);
		*type = ST_BOOL;
		break;
	case NODE_IN:
		rc = compile_in(cs, e, n, sc, out);
		*type = ST_BOOL;
		break;
	case NODE_LIKE: {
		const struct node *pattern = &e->nodes[e->nodes[n->first_child].next_sibling];
		if (pattern->kind == NODE_LITERAL && pattern->value.type == EV_TEXT
		    && utf8_length(pattern->value.s) > EXPR_MAX_LIKE_PATTERN) {
			rc = compile_error(cs, "column %d: like pattern too long: more than %d characters", pattern->column,
			                   EXPR_MAX_LIKE_PATTERN);
			break;
		}
		strbuf_putc(out, '(');
		if ((rc = compile_node(cs, e, n->first_child, sc, out, &child_type)))
			break;
		strbuf_puts(out, n->negated ? " NOT LIKE " : " LIKE ");
		if ((rc = compile_node(cs, e, e->nodes[n->first_child].next_sibling, sc, out, &child_type)))
			break;
		strbuf_putc(out, ')');
		*type = ST_BOOL;
		break;
	}
	case NODE_IS_NULL:
		strbuf_putc(out, '(');
		rc = compile_node(cs, e, n->first_child, sc, out, &child_type);
		strbuf_puts(out, n->negated ? " IS NOT NULL)" : " IS NULL)");
		*type = ST_BOOL;
		break;
	case NODE_ARITH:
		rc = compile_arith(cs, e, n, sc, out, type);
		break;
	case NODE_NEGATE:
		strbuf_puts(out, "(- ");
		rc = compile_node(cs, e, n->first_child, sc, out, &child_type);
		strbuf_putc(out, ')');
		if (rc == CRM_OK && is_text_type(child_type))
			rc = compile_error(cs, "column %d: operator '-' needs numbers, not %s", n->column, type_words(child_type));
		*type = child_type == ST_BOOL ? ST_INT : child_type;
		break;
	case NODE_CALL:
		rc = compile_call(cs, e, n, sc, out, type);
		break;
	}
	/* operands are compiled into buffers of their own, which start empty */
	size_t base = out == cs->out ? cs->start : 0;
	if (rc == CRM_OK && out->len - base > EXPR_MAX_SQL)
		rc = compile_error(cs, "expression too large: its SQL is more than %d bytes", EXPR_MAX_SQL);
	return rc;
}

/* Where a builder stood before a compile, to undo a failed one completely. */
struct builder_mark {
	size_t out_len, joins_len;
	int join_count, bind_count;
};

static struct builder_mark builder_mark(const struct expr_sql *b, const struct strbuf *out)
{
	struct builder_mark mark = { out->len, b->joins.len, b->join_count, b->bind_count };
	return mark;
}

static void builder_rollback(struct expr_sql *b, struct strbuf *out, const struct builder_mark *mark)
{
	out->len = mark->out_len;
	if (out->data)
		out->data[out->len] = '\0';
	b->joins.len = mark->joins_len;
	if (b->joins.data)
		b->joins.data[b->joins.len] = '\0';
	while (b->join_count > mark->join_count)
		free(b->join_paths[--b->join_count]);
	while (b->bind_count > mark->bind_count)
		expr_value_clear(&b->binds[--b->bind_count]);
}

static struct compile_state compile_state(struct expr_sql *b, const struct strbuf *out, char *err, size_t errlen)
{
	struct compile_state cs = {
		.b = b, .err = err, .errlen = errlen, .out = out, .start = out->len, .check_access = true,
	};
	return cs;
}

int expr_compile(struct expr_sql *b, const struct expr *e, struct strbuf *out, char *err, size_t errlen)
{
	set_error(err, errlen, "%s", "");
	struct builder_mark mark = builder_mark(b, out);
	struct compile_state cs = compile_state(b, out, err, errlen);
	struct scope sc = { .object = b->object, .alias = b->base_alias ? b->base_alias : "t0", .prefix = "" };
	enum sql_type type;
	int rc = compile_node(&cs, e, e->root, &sc, out, &type);
	if (rc)
		builder_rollback(b, out, &mark);
	return rc;
}

int expr_compile_path(struct expr_sql *b, const char *path, struct strbuf *out,
                      const struct meta_field **out_field, char *err, size_t errlen)
{
	set_error(err, errlen, "%s", "");
	/* the same rule as the lexer: lower-case names joined by dots, at most EXPR_MAX_PATH links */
	int segments = 1;
	size_t segment_length = 0, length = 0;
	bool valid = path && *path;
	for (const char *c = path; valid && *c; c++, length++) {
		if (*c == '.') {
			valid = segment_length > 0 && c[1] != '\0' && ++segments <= EXPR_MAX_PATH + 1;
			segment_length = 0;
		} else {
			bool letter = (*c >= 'a' && *c <= 'z') || *c == '_';
			valid = (letter || (segment_length > 0 && is_digit(*c))) && ++segment_length <= 63;
		}
	}
	if (!valid) {
		char near[32];
		excerpt(path ? path : "", path ? strnlen(path, 64) : 0, near);
		set_error(err, errlen, "invalid field path '%s'", near);
		return CRM_EINVAL;
	}
	struct builder_mark mark = builder_mark(b, out);
	struct compile_state cs = compile_state(b, out, err, errlen);
	struct scope sc = { .object = b->object, .alias = b->base_alias ? b->base_alias : "t0", .prefix = "" };
	enum sql_type type;
	const struct meta_field *field = NULL;
	int rc = compile_path(&cs, path, &sc, out, &type, &field);
	if (rc) {
		builder_rollback(b, out, &mark);
		return rc;
	}
	if (out_field)
		*out_field = field;
	return CRM_OK;
}

/*
 * $user.<field> for expr_check: a value of the type the field's value will
 * have when a query binds it (a date is plain text there), or null.
 */
static int typed_user_field(void *arg, const char *name, struct expr_value *out)
{
	const struct meta *meta = arg;
	set_null(out);
	for (int o = 0; meta && o < meta->object_count; o++) {
		const struct meta_object *user = &meta->objects[o];
		const struct meta_field *field = strcmp(user->name, "user") ? NULL : find_field(user, name, strlen(name));
		switch (field ? field_type_of(field->type) : ST_NULL) {
		case ST_INT: set_int(out, 0); break;
		case ST_REAL: set_real(out, 0.0); break;
		case ST_BOOL: set_bool(out, false); break;
		case ST_TEXT: case ST_DATE: case ST_DATETIME: set_text(out, (char *)""); break;  /* borrowed */
		default: break;
		}
	}
	return 0;
}

int expr_check(struct expr *e, const struct meta *meta, const struct meta_object *object, char *err, size_t errlen)
{
	set_error(err, errlen, "%s", "");
	for (int i = 0; i < e->node_count; i++)
		e->nodes[i].date_arith = DATE_ARITH_NONE;
	struct expr_sql b = {
		.meta = meta, .object = object, .base_alias = "t0", .now = 1, .user_field = typed_user_field,
		.arg = (void *)meta,
	};
	struct strbuf sql = { 0 };
	struct compile_state cs = compile_state(&b, &sql, err, errlen);
	cs.typed = e;
	struct scope sc = { .object = object, .alias = "t0", .prefix = "" };
	enum sql_type type;
	int rc = compile_node(&cs, e, e->root, &sc, &sql, &type);
	for (int i = 0; rc != CRM_OK && i < e->node_count; i++)
		e->nodes[i].date_arith = DATE_ARITH_NONE;  /* refused: evaluated, if ever, as unchecked */
	strbuf_free(&sql);
	expr_sql_free(&b);
	return rc;
}

void expr_sql_free(struct expr_sql *b)
{
	strbuf_free(&b->joins);
	for (int i = 0; i < b->join_count; i++)
		free(b->join_paths[i]);
	free(b->join_paths);
	b->join_paths = NULL;
	b->join_count = 0;
	for (int i = 0; i < b->bind_count; i++)
		expr_value_clear(&b->binds[i]);
	free(b->binds);
	b->binds = NULL;
	b->bind_count = 0;
	free(b->vouched);
	b->vouched = NULL;
	b->vouched_count = 0;
}
