/*
 * lua_host.c - the Lua 5.4 plugin host (see lua_host.h): the sandbox, the
 * crm module, the state pool and the conversions between Lua values and
 * jansson values. The only file that includes lua.h.
 *
 * The sandbox (RELIABILITY.md, "Lua"):
 *  - each script runs with an _ENV built from a whitelist (LIBRARIES and
 *    BASE_FUNCTIONS below); luaL_openlibs never runs into it; no io, os,
 *    debug, package, coroutine, dofile, loadfile, collectgarbage;
 *  - only text chunks load (mode "t"), and require() reads modules from the
 *    plugin's own folder only;
 *  - the string metatable is shared by every string of a state, so its
 *    __index points at the sandbox's string table (where rep is bounded and
 *    the pattern functions are ours) and __metatable hides it;
 *  - an instruction budget per call: a count hook charges every
 *    COUNT_PERIOD instructions; when the budget is spent the call is killed:
 *    the hook re-arms itself on every instruction and pcall/xpcall re-raise,
 *    so a script cannot catch the kill and go on;
 *  - the count hook is blind inside C functions, so the work done there is
 *    charged to the same budget: the pattern functions are a matcher of our
 *    own that counts its steps (Lua's own has no such bound: an exponential
 *    pattern runs for seconds), string.rep and table.move charge their size;
 *  - a per-state memory cap enforced by the allocator; reaching it kills the
 *    call like the budget does;
 *  - __gc and __close metamethods are refused: a finalizer runs outside any
 *    call, and both run while a kill unwinds, when Lua has hooks switched
 *    off; for the same reason xpcall's handler is skipped for a kill.
 *
 * Every Lua API call that may raise (allocations) runs inside lua_pcall of a
 * C trampoline, so an out-of-memory error never reaches the panic handler.
 * Lua-to-JSON conversion raises nothing: it returns NULL and a message.
 */
#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <sodium.h>
#include "access.h"
#include "events.h"
#include "expr.h"
#include "context.h"
#include "lua_host.h"
#include "workflow.h"
#include "meta_model.h"
#include "object.h"
#include "outbox.h"
#include "plugin_registry.h"
#include "store.h"

#define COUNT_PERIOD     1000           /* instructions between two count hooks */
#define MAX_STATES       128            /* Lua states per plugin */
#define MAX_JSON_DEPTH   32
#define MAX_SOURCE       (4 << 20)      /* a script or module */
#define MAX_PATTERN      512            /* bytes in a pattern */
#define MAX_SUBJECT      (1 << 20)      /* bytes a pattern function scans */
#define MATCH_DEPTH      200            /* recursion of the matcher */
#define MATCH_CAPTURES   32
#define TEST_BUDGET_FACTOR 10           /* tests may do more work than one hook */

enum job_kind { JOB_MAIN, JOB_HOOK, JOB_HANDLER, JOB_TEST };
enum reg_kind { REG_HOOK, REG_ACTION, REG_ROUTE, REG_JOB };

struct lua_plugin;

/* What the kernel's callbacks get as data: one registration. */
struct lua_handler {
	struct lua_plugin *lp;
	int index;                /* in every state's handler table, from 1 */
	enum reg_kind kind;
};

struct lua_plugin {
	struct plugin *plugin;
	char *path, *chunkname;
	char *source;
	size_t source_len;
	int reg_count, reg_cap;
	char **reg_keys;          /* what each registration was, to check replays */
	struct lua_handler **handlers;
	pthread_mutex_t lock;
	struct vm *idle[MAX_STATES];
	int idle_count, total, busy;
};

/* One lua_State and the state of the call running in it. */
struct vm {
	lua_State *L;
	struct plugin *plugin;
	struct lua_plugin *lp;    /* NULL for a test state */
	size_t used, limit;
	long long budget, budget_per_call;
	bool killed;
	int kill_code;
	char kill_message[256];
	bool loading, replay, test;
	int reg_seen;
	struct crm_ctx *ctx;      /* the current call's context; NULL while loading */
	int env_ref, handlers_ref, array_mt_ref, raised_ref;
	/* the last error raised on purpose (error(), crm.error, a failed crm.* call) */
	int raised_code;
	char raised_message[512];
	char raised_field[64];
	json_t *raised_field_errors;
	/* a write that failed inside the transaction fails the whole call */
	int poison_code;
	char poison_message[512];
	json_t *held;             /* JSON values alive until the call ends */
	char traceback[1024];
};

struct job {
	enum job_kind kind;
	struct lua_handler *handler;
	enum event_kind event;
	const char *object;
	json_t *values, *record, *input;   /* borrowed */
	json_t *new_values, *output;       /* owned results */
	int function_ref;                  /* JOB_TEST */
	const char *source;                /* JOB_MAIN */
	size_t source_len;
	const char *chunkname;
};

static struct vm *vm_of(lua_State *L)
{
	return *(struct vm **)lua_getextraspace(L);
}

/* ------------------------------------------------------------- the limits */

static void count_hook(lua_State *L, lua_Debug *ar);

/* Marks the call as killed: from now on every instruction raises. */
static void vm_kill(struct vm *vm, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void vm_kill(struct vm *vm, int code, const char *fmt, ...)
{
	if (vm->killed)
		return;
	vm->killed = true;
	vm->kill_code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(vm->kill_message, sizeof(vm->kill_message), fmt, ap);
	va_end(ap);
	if (vm->L)
		lua_sethook(vm->L, count_hook, LUA_MASKCOUNT, 1);
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	struct vm *vm = vm_of(L);
	if (!vm->killed) {
		vm->budget -= COUNT_PERIOD;
		if (vm->budget > 0)
			return;
		vm_kill(vm, CRM_ELIMIT, "plugin '%s': instruction budget of %lld exceeded (an endless loop?)",
		        plugin_name(vm->plugin), vm->budget_per_call);
	}
	luaL_error(L, "%s", vm->kill_message);
}

/* Charges work done inside a C function to the budget; raises when it is spent. */
static void charge(lua_State *L, long long cost)
{
	struct vm *vm = vm_of(L);
	vm->budget -= cost;
	if (vm->budget <= 0 || vm->killed) {
		vm_kill(vm, CRM_ELIMIT, "plugin '%s': instruction budget of %lld exceeded (an endless loop or a "
		        "pattern too complex?)", plugin_name(vm->plugin), vm->budget_per_call);
		luaL_error(L, "%s", vm->kill_message);
	}
}

/* The allocator: a quota per state. Shrinking never fails (Lua relies on it). */
static void *vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct vm *vm = ud;
	size_t old = ptr ? osize : 0;
	if (nsize == 0) {
		free(ptr);
		vm->used -= old;
		return NULL;
	}
	if (nsize > old && vm->used + (nsize - old) > vm->limit) {
		vm_kill(vm, CRM_ELIMIT, "plugin '%s': memory limit of %zu MiB exceeded", plugin_name(vm->plugin),
		        vm->limit >> 20);
		return NULL;
	}
	void *fresh = realloc(ptr, nsize);
	if (!fresh)
		return nsize <= old ? ptr : NULL;
	vm->used = vm->used - old + nsize;
	return fresh;
}

/* ------------------------------------------------------------ raising */

/*
 * Raises the error value on top of the stack (a message or a table)
 * remembering it as deliberate, with its kernel code: the host tells it
 * apart from a runtime error (a bug: 500) by identity when the call ends.
 */
static int raise_recorded(lua_State *L, int code, const char *message, const char *field, json_t *field_errors,
                          int level)
{
	struct vm *vm = vm_of(L);
	vm->raised_code = code;
	snprintf(vm->raised_message, sizeof(vm->raised_message), "%s", message ? message : "");
	snprintf(vm->raised_field, sizeof(vm->raised_field), "%s", field ? field : "");
	json_decref(vm->raised_field_errors);
	vm->raised_field_errors = field_errors ? json_incref(field_errors) : NULL;
	if (level > 0 && lua_type(L, -1) == LUA_TSTRING) {
		luaL_where(L, level);
		lua_insert(L, -2);
		lua_concat(L, 2);
	}
	lua_pushvalue(L, -1);
	lua_rawseti(L, LUA_REGISTRYINDEX, vm->raised_ref);
	return lua_error(L);
}

static int raise_code(lua_State *L, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int raise_code(lua_State *L, int code, const char *fmt, ...)
{
	char message[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	lua_pushstring(L, message);
	return raise_recorded(L, code, message, NULL, NULL, 1);
}

/* A crm.* call failed: raise its message with its code; a failed write in a transaction poisons the call. */
static int raise_failed(lua_State *L, const char *function, int code, bool write)
{
	struct vm *vm = vm_of(L);
	struct crm_ctx *ctx = vm->ctx;
	/* (a test's transaction is rolled back anyway, and tests check refusals) */
	if (write && ctx->txn && !vm->poison_code && !vm->test) {
		vm->poison_code = code;
		snprintf(vm->poison_message, sizeof(vm->poison_message), "%s", ctx->message);
	}
	char message[600];
	snprintf(message, sizeof(message), "%s: %s", function, ctx->message[0] ? ctx->message : crm_status_name(code));
	lua_pushstring(L, message);
	return raise_recorded(L, code, ctx->message[0] ? ctx->message : crm_status_name(code), NULL,
	                      code == CRM_EVALIDATION ? ctx->field_errors : NULL, 1);
}

/* ------------------------------------------------- Lua <-> JSON conversion */

static void push_json(lua_State *L, const json_t *value, int depth)
{
	struct vm *vm = vm_of(L);
	if (depth > MAX_JSON_DEPTH)
		luaL_error(L, "JSON nested deeper than %d levels", MAX_JSON_DEPTH);
	luaL_checkstack(L, 4, "JSON too deep");
	switch (json_typeof(value)) {
	case JSON_OBJECT: {
		lua_createtable(L, 0, (int)json_object_size(value));
		const char *key;
		json_t *item;
		json_object_foreach((json_t *)value, key, item) {
			push_json(L, item, depth + 1);
			lua_setfield(L, -2, key);
		}
		break;
	}
	case JSON_ARRAY: {
		size_t count = json_array_size(value);
		lua_createtable(L, count > INT_MAX ? 0 : (int)count, 0);
		for (size_t i = 0; i < count; i++) {
			push_json(L, json_array_get(value, i), depth + 1);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		lua_rawgeti(L, LUA_REGISTRYINDEX, vm->array_mt_ref);
		lua_setmetatable(L, -2);
		break;
	}
	case JSON_STRING:
		lua_pushlstring(L, json_string_value(value), json_string_length(value));
		break;
	case JSON_INTEGER:
		lua_pushinteger(L, (lua_Integer)json_integer_value(value));
		break;
	case JSON_REAL:
		lua_pushnumber(L, json_real_value(value));
		break;
	case JSON_TRUE:
		lua_pushboolean(L, 1);
		break;
	case JSON_FALSE:
		lua_pushboolean(L, 0);
		break;
	default:
		lua_pushlightuserdata(L, NULL);   /* crm.null */
		break;
	}
}

/*
 * A record: like push_json, but fields that are null are left out (nil), so
 * that `if record.approved then` means what it says. Incoming values keep
 * crm.null, which clears a field.
 */
static void push_record(lua_State *L, const json_t *record)
{
	if (!json_is_object(record)) {
		push_json(L, record, 0);
		return;
	}
	lua_createtable(L, 0, (int)json_object_size(record));
	const char *key;
	json_t *item;
	json_object_foreach((json_t *)record, key, item) {
		if (json_is_null(item))
			continue;
		push_json(L, item, 1);
		lua_setfield(L, -2, key);
	}
}

/* A list of records. */
static void push_records(lua_State *L, const json_t *records)
{
	struct vm *vm = vm_of(L);
	size_t count = json_array_size(records);
	lua_createtable(L, count > INT_MAX ? 0 : (int)count, 0);
	for (size_t i = 0; i < count; i++) {
		push_record(L, json_array_get(records, i));
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_rawgeti(L, LUA_REGISTRYINDEX, vm->array_mt_ref);
	lua_setmetatable(L, -2);
}

/* Keeps value (owned) alive until the call ends, then pushes it. */
static void push_held(lua_State *L, json_t *value)
{
	struct vm *vm = vm_of(L);
	json_array_append_new(vm->held, value);
	push_json(L, value, 0);
}

/* Keeps a record (owned) alive until the call ends, then pushes it without its null fields. */
static void push_held_record(lua_State *L, json_t *record)
{
	struct vm *vm = vm_of(L);
	json_array_append_new(vm->held, record);
	push_record(L, record);
}

static bool is_array_table(lua_State *L, int index)
{
	struct vm *vm = vm_of(L);
	if (!lua_getmetatable(L, index))
		return false;
	lua_rawgeti(L, LUA_REGISTRYINDEX, vm->array_mt_ref);
	bool same = lua_rawequal(L, -1, -2);
	lua_pop(L, 2);
	return same;
}

/* The value at index as JSON (owned), or NULL with err. Raises nothing. */
static json_t *to_json(lua_State *L, int index, int depth, char *err, size_t errlen)
{
	index = lua_absindex(L, index);
	if (depth > MAX_JSON_DEPTH) {
		snprintf(err, errlen, "a table nested deeper than %d levels (a cycle?)", MAX_JSON_DEPTH);
		return NULL;
	}
	if (!lua_checkstack(L, 6)) {
		snprintf(err, errlen, "too deep");
		return NULL;
	}
	switch (lua_type(L, index)) {
	case LUA_TNIL:
		return json_null();
	case LUA_TBOOLEAN:
		return json_boolean(lua_toboolean(L, index));
	case LUA_TNUMBER: {
		if (lua_isinteger(L, index))
			return json_integer((json_int_t)lua_tointeger(L, index));
		double d = lua_tonumber(L, index);
		if (d != d || d > 1e308 || d < -1e308) {
			snprintf(err, errlen, "a number that JSON cannot hold (nan or inf)");
			return NULL;
		}
		/* Lua's / makes floats: 25.0 stays a whole number for int fields */
		if (d == (double)(long long)d && d > -9007199254740992.0 && d < 9007199254740992.0)
			return json_integer((json_int_t)d);
		return json_real(d);
	}
	case LUA_TSTRING: {
		size_t len;
		const char *s = lua_tolstring(L, index, &len);
		json_t *v = json_stringn(s, len);
		if (!v)
			snprintf(err, errlen, "a string that is not valid UTF-8 (or holds a NUL byte)");
		return v;
	}
	case LUA_TLIGHTUSERDATA:
		if (lua_touserdata(L, index) == NULL)
			return json_null();
		break;
	case LUA_TTABLE: {
		if (is_array_table(L, index)) {
			json_t *array = json_array();
			lua_Unsigned n = lua_rawlen(L, index);
			for (lua_Unsigned i = 1; i <= n; i++) {
				lua_rawgeti(L, index, (lua_Integer)i);
				json_t *item = to_json(L, -1, depth + 1, err, errlen);
				lua_pop(L, 1);
				if (!item) {
					json_decref(array);
					return NULL;
				}
				json_array_append_new(array, item);
			}
			return array;
		}
		/* a sequence 1..n becomes an array; string keys an object; both is an error */
		lua_Integer count = 0, max = 0;
		bool strings = false, integers = false;
		lua_pushnil(L);
		while (lua_next(L, index)) {
			lua_pop(L, 1);
			if (lua_type(L, -1) == LUA_TSTRING) {
				strings = true;
			} else if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1) {
				integers = true;
				if (lua_tointeger(L, -1) > max)
					max = lua_tointeger(L, -1);
			} else {
				lua_pop(L, 1);
				snprintf(err, errlen, "a table key that is neither a name nor a position 1..n");
				return NULL;
			}
			count++;
		}
		if (strings && integers) {
			snprintf(err, errlen, "a table that mixes list items and named keys");
			return NULL;
		}
		if (integers) {
			if (max != count) {
				snprintf(err, errlen, "a list with holes (use crm.null for a missing item)");
				return NULL;
			}
			json_t *array = json_array();
			for (lua_Integer i = 1; i <= count; i++) {
				lua_rawgeti(L, index, i);
				json_t *item = to_json(L, -1, depth + 1, err, errlen);
				lua_pop(L, 1);
				if (!item) {
					json_decref(array);
					return NULL;
				}
				json_array_append_new(array, item);
			}
			return array;
		}
		json_t *object = json_object();
		lua_pushnil(L);
		while (lua_next(L, index)) {
			const char *key = lua_tostring(L, -2);
			json_t *item = to_json(L, -1, depth + 1, err, errlen);
			lua_pop(L, 1);
			if (!item || json_object_set_new(object, key, item) != 0) {
				if (item)
					snprintf(err, errlen, "a key that is not valid UTF-8");
				lua_pop(L, 1);
				json_decref(object);
				return NULL;
			}
		}
		return object;
	}
	default:
		break;
	}
	snprintf(err, errlen, "a %s, which JSON cannot hold", luaL_typename(L, index));
	return NULL;
}

/* The value at index as JSON, or raise "what: why". */
static json_t *check_json(lua_State *L, int index, const char *what)
{
	char err[256];
	json_t *value = to_json(L, index, 0, err, sizeof(err));
	if (!value)
		luaL_error(L, "%s: %s", what, err);
	return value;
}

/* Like check_json, but the value stays owned by the call (freed when it ends). */
static json_t *check_json_held(lua_State *L, int index, const char *what)
{
	json_t *value = check_json(L, index, what);
	json_array_append_new(vm_of(L)->held, value);
	return value;
}

/* -------------------------------------------------- the pattern functions */

/*
 * Lua pattern matching (the syntax of the Lua manual, section 6.4.1) written
 * for the sandbox: a backtracking matcher that charges every step to the
 * call's instruction budget, so no pattern runs longer than the budget, and
 * refuses patterns over MAX_PATTERN and subjects over MAX_SUBJECT bytes.
 */
#define CAP_UNFINISHED (-1)
#define CAP_POSITION   (-2)

struct matcher {
	lua_State *L;
	const char *src_init, *src_end;
	const char *pat_end;
	int depth;                 /* recursion left */
	int level;                 /* captures open or closed so far */
	long long steps;           /* not yet charged */
	struct {
		const char *init;
		ptrdiff_t len;
	} capture[MATCH_CAPTURES];
};

static void step(struct matcher *m)
{
	if (++m->steps >= 256) {
		charge(m->L, m->steps);
		m->steps = 0;
	}
}

static const char *class_end(struct matcher *m, const char *p)
{
	char c = *p++;
	if (c == '%') {
		if (p >= m->pat_end)
			luaL_error(m->L, "malformed pattern (ends with '%%')");
		return p + 1;
	}
	if (c == '[') {
		if (p < m->pat_end && *p == '^')
			p++;
		for (;;) {   /* the first character is taken as is, so "[]]" holds ']' */
			if (p >= m->pat_end)
				luaL_error(m->L, "malformed pattern (missing ']')");
			char d = *p++;
			if (d == '%') {
				if (p >= m->pat_end)
					luaL_error(m->L, "malformed pattern (missing ']')");
				p++;
			}
			if (p >= m->pat_end)
				luaL_error(m->L, "malformed pattern (missing ']')");
			if (*p == ']')
				return p + 1;
		}
	}
	return p;
}

static bool class_matches(int c, int class)
{
	bool result;
	switch (tolower(class)) {
	case 'a': result = isalpha(c); break;
	case 'c': result = iscntrl(c); break;
	case 'd': result = isdigit(c); break;
	case 'g': result = isgraph(c); break;
	case 'l': result = islower(c); break;
	case 'p': result = ispunct(c); break;
	case 's': result = isspace(c); break;
	case 'u': result = isupper(c); break;
	case 'w': result = isalnum(c); break;
	case 'x': result = isxdigit(c); break;
	default: return class == c;
	}
	return isupper(class) ? !result : result;
}

/* p points at '[', last at the closing ']'. */
static bool set_matches(int c, const char *p, const char *last)
{
	bool positive = true;
	p++;
	if (*p == '^') {
		positive = false;
		p++;
	}
	while (p < last) {
		if (*p == '%' && p + 1 < last) {
			if (class_matches(c, (unsigned char)p[1]))
				return positive;
			p += 2;
		} else if (p + 2 < last && p[1] == '-') {
			if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2])
				return positive;
			p += 3;
		} else {
			if ((unsigned char)*p == c)
				return positive;
			p++;
		}
	}
	return !positive;
}

static bool single_matches(struct matcher *m, const char *s, const char *p, const char *ep)
{
	if (s >= m->src_end)
		return false;
	int c = (unsigned char)*s;
	switch (*p) {
	case '.': return true;
	case '%': return class_matches(c, (unsigned char)p[1]);
	case '[': return set_matches(c, p, ep - 1);
	default: return (unsigned char)*p == c;
	}
}

static const char *match(struct matcher *m, const char *s, const char *p);

static const char *expand_greedy(struct matcher *m, const char *s, const char *p, const char *ep)
{
	ptrdiff_t count = 0;
	while (single_matches(m, s + count, p, ep)) {
		count++;
		step(m);
	}
	for (; count >= 0; count--) {
		const char *result = match(m, s + count, ep + 1);
		if (result)
			return result;
		step(m);
	}
	return NULL;
}

static const char *expand_lazy(struct matcher *m, const char *s, const char *p, const char *ep)
{
	for (;;) {
		const char *result = match(m, s, ep + 1);
		if (result)
			return result;
		if (!single_matches(m, s, p, ep))
			return NULL;
		s++;
		step(m);
	}
}

static const char *open_capture(struct matcher *m, const char *s, const char *p, ptrdiff_t what)
{
	if (m->level >= MATCH_CAPTURES)
		luaL_error(m->L, "too many captures");
	m->capture[m->level].init = s;
	m->capture[m->level].len = what;
	m->level++;
	const char *result = match(m, s, p);
	if (!result)
		m->level--;
	return result;
}

static const char *close_capture(struct matcher *m, const char *s, const char *p)
{
	int open = -1;
	for (int i = m->level - 1; i >= 0; i--) {
		if (m->capture[i].len == CAP_UNFINISHED) {
			open = i;
			break;
		}
	}
	if (open < 0)
		luaL_error(m->L, "invalid pattern capture");
	m->capture[open].len = s - m->capture[open].init;
	const char *result = match(m, s, p);
	if (!result)
		m->capture[open].len = CAP_UNFINISHED;
	return result;
}

static const char *match_balance(struct matcher *m, const char *s, const char *p)
{
	if (p + 1 >= m->pat_end)
		luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
	if (s >= m->src_end || *s != p[0])
		return NULL;
	char open = p[0], close = p[1];
	int depth = 1;
	while (++s < m->src_end) {
		step(m);
		if (*s == close) {
			if (--depth == 0)
				return s + 1;
		} else if (*s == open) {
			depth++;
		}
	}
	return NULL;
}

static const char *match_back_reference(struct matcher *m, const char *s, int digit)
{
	int index = digit - '1';
	if (index < 0 || index >= m->level || m->capture[index].len == CAP_UNFINISHED)
		luaL_error(m->L, "invalid capture index %%%d", index + 1);
	size_t len = (size_t)m->capture[index].len;
	charge(m->L, (long long)len / 16);
	if ((size_t)(m->src_end - s) >= len && memcmp(m->capture[index].init, s, len) == 0)
		return s + len;
	return NULL;
}

static const char *match(struct matcher *m, const char *s, const char *p)
{
	if (m->depth-- == 0)
		luaL_error(m->L, "pattern too complex");
	step(m);
	for (;;) {
		if (p == m->pat_end)
			break;
		if (*p == '(') {
			if (p + 1 < m->pat_end && p[1] == ')')
				s = open_capture(m, s, p + 2, CAP_POSITION);
			else
				s = open_capture(m, s, p + 1, CAP_UNFINISHED);
			break;
		}
		if (*p == ')') {
			s = close_capture(m, s, p + 1);
			break;
		}
		if (*p == '$' && p + 1 == m->pat_end) {
			if (s != m->src_end)
				s = NULL;
			break;
		}
		if (*p == '%' && p + 1 < m->pat_end) {
			if (p[1] == 'b') {
				s = match_balance(m, s, p + 2);
				if (s) {
					p += 4;
					continue;
				}
				break;
			}
			if (p[1] == 'f') {
				p += 2;
				if (p >= m->pat_end || *p != '[')
					luaL_error(m->L, "missing '[' after '%%f' in pattern");
				const char *ep = class_end(m, p);
				int previous = s == m->src_init ? 0 : (unsigned char)s[-1];
				int current = s < m->src_end ? (unsigned char)*s : 0;
				if (!set_matches(previous, p, ep - 1) && set_matches(current, p, ep - 1)) {
					p = ep;
					continue;
				}
				s = NULL;
				break;
			}
			if (isdigit((unsigned char)p[1])) {
				s = match_back_reference(m, s, (unsigned char)p[1]);
				if (s) {
					p += 2;
					continue;
				}
				break;
			}
		}
		const char *ep = class_end(m, p);
		char quantifier = ep < m->pat_end ? *ep : '\0';
		if (!single_matches(m, s, p, ep)) {
			if (quantifier == '*' || quantifier == '?' || quantifier == '-') {
				p = ep + 1;
				continue;
			}
			s = NULL;
			break;
		}
		if (quantifier == '?') {
			const char *result = match(m, s + 1, ep + 1);
			if (result) {
				s = result;
				break;
			}
			p = ep + 1;
			continue;
		}
		if (quantifier == '+') {
			s = expand_greedy(m, s + 1, p, ep);
			break;
		}
		if (quantifier == '*') {
			s = expand_greedy(m, s, p, ep);
			break;
		}
		if (quantifier == '-') {
			s = expand_lazy(m, s, p, ep);
			break;
		}
		s++;
		p = ep;
	}
	m->depth++;
	return s;
}

static void push_capture(struct matcher *m, int i, const char *s, const char *e)
{
	if (i >= m->level) {
		if (i != 0)
			luaL_error(m->L, "invalid capture index %%%d", i + 1);
		lua_pushlstring(m->L, s, (size_t)(e - s));
		return;
	}
	ptrdiff_t len = m->capture[i].len;
	if (len == CAP_UNFINISHED)
		luaL_error(m->L, "unfinished capture");
	if (len == CAP_POSITION)
		lua_pushinteger(m->L, m->capture[i].init - m->src_init + 1);
	else
		lua_pushlstring(m->L, m->capture[i].init, (size_t)len);
}

/* Pushes the captures (or the whole match when there are none and s is given). */
static int push_captures(struct matcher *m, const char *s, const char *e)
{
	int count = m->level == 0 && s ? 1 : m->level;
	luaL_checkstack(m->L, count, "too many captures");
	for (int i = 0; i < count; i++)
		push_capture(m, i, s, e);
	return count;
}

static void matcher_init(struct matcher *m, lua_State *L, const char *s, size_t ls, const char *p, size_t lp)
{
	m->L = L;
	m->src_init = s;
	m->src_end = s + ls;
	m->pat_end = p + lp;
	m->steps = 0;
}

static void matcher_reset(struct matcher *m)
{
	m->level = 0;
	m->depth = MATCH_DEPTH;
}

static void check_pattern_sizes(lua_State *L, const char *function, size_t ls, size_t lp)
{
	if (lp > MAX_PATTERN)
		raise_code(L, CRM_ELIMIT, "%s: the pattern is longer than %d bytes", function, MAX_PATTERN);
	if (ls > MAX_SUBJECT)
		raise_code(L, CRM_ELIMIT, "%s: the string is longer than %d bytes", function, MAX_SUBJECT);
}

static size_t start_position(lua_Integer pos, size_t len)
{
	if (pos > 0)
		return (size_t)pos;
	if (pos == 0 || pos < -(lua_Integer)len)
		return 1;
	return len + (size_t)pos + 1;
}

static bool has_specials(const char *p, size_t lp)
{
	for (size_t i = 0; i < lp; i++)
		if (strchr("^$*+?.([%-", p[i]) && p[i])
			return true;
	return false;
}

static int find_or_match(lua_State *L, bool find)
{
	size_t ls, lp;
	const char *s = luaL_checklstring(L, 1, &ls);
	const char *p = luaL_checklstring(L, 2, &lp);
	size_t init = start_position(luaL_optinteger(L, 3, 1), ls);
	check_pattern_sizes(L, find ? "string.find" : "string.match", ls, lp);
	if (init > ls + 1) {
		luaL_pushfail(L);
		return 1;
	}
	if (find && (lua_toboolean(L, 4) || !has_specials(p, lp))) {
		charge(L, (long long)(ls / 64));
		const char *found = lp == 0 ? s + init - 1 : memmem(s + init - 1, ls - init + 1, p, lp);
		if (found) {
			lua_pushinteger(L, found - s + 1);
			lua_pushinteger(L, (lua_Integer)(found - s) + (lua_Integer)lp);
			return 2;
		}
		luaL_pushfail(L);
		return 1;
	}
	struct matcher m;
	matcher_init(&m, L, s, ls, p, lp);
	bool anchor = lp > 0 && *p == '^';
	if (anchor) {
		p++;
		m.pat_end = p + lp - 1;
	}
	const char *s1 = s + init - 1;
	do {
		matcher_reset(&m);
		const char *e = match(&m, s1, p);
		if (e) {
			if (find) {
				lua_pushinteger(L, s1 - s + 1);
				lua_pushinteger(L, e - s);
				return push_captures(&m, NULL, NULL) + 2;
			}
			return push_captures(&m, s1, e);
		}
	} while (s1++ < m.src_end && !anchor);
	luaL_pushfail(L);
	return 1;
}

static int sb_find(lua_State *L) { return find_or_match(L, true); }
static int sb_match(lua_State *L) { return find_or_match(L, false); }

struct gmatch_state {
	const char *src, *pattern, *last_match;
	struct matcher m;
};

static int gmatch_next(lua_State *L)
{
	struct gmatch_state *gm = lua_touserdata(L, lua_upvalueindex(3));
	gm->m.L = L;
	for (const char *src = gm->src; src <= gm->m.src_end; src++) {
		matcher_reset(&gm->m);
		const char *e = match(&gm->m, src, gm->pattern);
		if (e && e != gm->last_match) {
			gm->src = gm->last_match = e;
			return push_captures(&gm->m, src, e);
		}
	}
	return 0;
}

static int sb_gmatch(lua_State *L)
{
	size_t ls, lp;
	const char *s = luaL_checklstring(L, 1, &ls);
	const char *p = luaL_checklstring(L, 2, &lp);
	size_t init = start_position(luaL_optinteger(L, 3, 1), ls);
	check_pattern_sizes(L, "string.gmatch", ls, lp);
	if (init > ls + 1)
		init = ls + 1;
	lua_settop(L, 2);
	struct gmatch_state *gm = lua_newuserdatauv(L, sizeof(*gm), 0);
	matcher_init(&gm->m, L, s, ls, p, lp);
	gm->src = s + init - 1;
	gm->pattern = p;
	gm->last_match = NULL;
	lua_pushcclosure(L, gmatch_next, 3);   /* the strings stay alive as upvalues */
	return 1;
}

static void add_replacement(struct matcher *m, luaL_Buffer *b, const char *s, const char *e, int type)
{
	lua_State *L = m->L;
	if (type == LUA_TSTRING || type == LUA_TNUMBER) {
		size_t len;
		const char *text = lua_tolstring(L, 3, &len);
		for (size_t i = 0; i < len; i++) {
			if (text[i] != '%') {
				luaL_addchar(b, text[i]);
				continue;
			}
			i++;
			if (i < len && text[i] == '%') {
				luaL_addchar(b, '%');
			} else if (i < len && isdigit((unsigned char)text[i])) {
				if (text[i] == '0') {
					luaL_addlstring(b, s, (size_t)(e - s));
				} else {
					push_capture(m, text[i] - '1', s, e);
					luaL_tolstring(L, -1, NULL);
					lua_remove(L, -2);
					luaL_addvalue(b);
				}
			} else {
				luaL_error(L, "invalid use of '%%' in replacement string");
			}
		}
		return;
	}
	if (type == LUA_TFUNCTION) {
		lua_pushvalue(L, 3);
		int n = push_captures(m, s, e);
		lua_call(L, n, 1);
	} else {
		push_capture(m, 0, s, e);
		lua_gettable(L, 3);
	}
	if (!lua_toboolean(L, -1)) {
		lua_pop(L, 1);
		luaL_addlstring(b, s, (size_t)(e - s));
	} else if (!lua_isstring(L, -1)) {
		luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
	} else {
		luaL_addvalue(b);
	}
}

static int sb_gsub(lua_State *L)
{
	size_t ls, lp;
	const char *src = luaL_checklstring(L, 1, &ls);
	const char *p = luaL_checklstring(L, 2, &lp);
	int type = lua_type(L, 3);
	lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
	luaL_argexpected(L, type == LUA_TNUMBER || type == LUA_TSTRING || type == LUA_TFUNCTION || type == LUA_TTABLE,
	                 3, "string/function/table");
	check_pattern_sizes(L, "string.gsub", ls, lp);
	struct matcher m;
	matcher_init(&m, L, src, ls, p, lp);
	bool anchor = lp > 0 && *p == '^';
	if (anchor) {
		p++;
		m.pat_end = p + lp - 1;
	}
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	const char *last_match = NULL;
	lua_Integer count = 0;
	while (count < max) {
		matcher_reset(&m);
		const char *e = match(&m, src, p);
		if (e && e != last_match) {
			count++;
			add_replacement(&m, &b, src, e, type);
			src = last_match = e;
		} else if (src < m.src_end) {
			luaL_addchar(&b, *src++);
		} else {
			break;
		}
		if (anchor)
			break;
	}
	luaL_addlstring(&b, src, (size_t)(m.src_end - src));
	luaL_pushresult(&b);
	lua_pushinteger(L, count);
	return 2;
}

/* string.rep, bounded by the memory cap and charged by size. */
static int sb_rep(lua_State *L)
{
	size_t len, sep_len;
	const char *s = luaL_checklstring(L, 1, &len);
	lua_Integer n = luaL_checkinteger(L, 2);
	const char *sep = luaL_optlstring(L, 3, "", &sep_len);
	if (n <= 0 || len + sep_len == 0) {
		lua_pushliteral(L, "");
		return 1;
	}
	struct vm *vm = vm_of(L);
	double total = (double)len * (double)n + (double)sep_len * (double)(n - 1);
	if (total > (double)vm->limit)
		return raise_code(L, CRM_ELIMIT, "string.rep: the result would be %.0f bytes, over the plugin's memory "
		                  "limit of %zu MiB", total, vm->limit >> 20);
	charge(L, (long long)(total / 64));
	size_t size = (size_t)total;
	luaL_Buffer b;
	char *out = luaL_buffinitsize(L, &b, size);
	for (lua_Integer i = 0; i < n; i++) {
		memcpy(out, s, len);
		out += len;
		if (i + 1 < n && sep_len) {
			memcpy(out, sep, sep_len);
			out += sep_len;
		}
	}
	luaL_pushresultsize(&b, size);
	return 1;
}

/* table.move charges its range (it loops in C, out of the count hook's sight). */
static int sb_table_move(lua_State *L)
{
	lua_Integer from = luaL_checkinteger(L, 2), to = luaL_checkinteger(L, 3);
	if (to >= from) {
		if (to - from >= (lua_Integer)1 << 40)
			return raise_code(L, CRM_ELIMIT, "table.move: range too large");
		charge(L, (long long)(to - from + 1));
	}
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

/* ------------------------------------------------ sandboxed base functions */

/* error(message [, level]): a deliberate refusal, which the client sees (422 from a hook). */
static int sb_error(lua_State *L)
{
	int level = (int)luaL_optinteger(L, 2, 1);
	lua_settop(L, 1);
	const char *message = "error", *field = NULL;
	char buffer[64];
	if (lua_type(L, 1) == LUA_TSTRING) {
		message = lua_tostring(L, 1);
	} else if (lua_type(L, 1) == LUA_TNUMBER) {
		snprintf(buffer, sizeof(buffer), "%.14g", lua_tonumber(L, 1));
		message = buffer;
	} else if (lua_type(L, 1) == LUA_TTABLE) {
		/* error({ field = "discount", message = "too high" }): an error on one field */
		lua_getfield(L, 1, "message");
		lua_getfield(L, 1, "field");
		if (lua_type(L, -2) == LUA_TSTRING)
			message = lua_tostring(L, -2);
		if (lua_type(L, -1) == LUA_TSTRING)
			field = lua_tostring(L, -1);
		lua_pushvalue(L, 1);   /* the table itself is what gets raised */
	}
	return raise_recorded(L, CRM_EVALIDATION, message, field, NULL, level);
}

static int sb_assert(lua_State *L)
{
	if (lua_toboolean(L, 1))
		return lua_gettop(L);
	luaL_checkany(L, 1);
	lua_remove(L, 1);
	lua_pushliteral(L, "assertion failed!");
	lua_settop(L, 1);
	lua_pushinteger(L, 1);
	return sb_error(L);
}

/* pcall and xpcall: a killed call stays killed, whatever the script catches. */
static int sb_pcall(lua_State *L)
{
	luaL_checkany(L, 1);
	int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
	struct vm *vm = vm_of(L);
	if (vm->killed)
		return luaL_error(L, "%s", vm->kill_message);
	lua_pushboolean(L, status == LUA_OK);
	lua_insert(L, 1);
	return lua_gettop(L);
}

/*
 * The script's message handler, called only for errors it may handle: an
 * error raised by the count hook reaches the handler while Lua has hooks
 * switched off, so a handler looping then would never be stopped.
 */
static int xpcall_handler(lua_State *L)
{
	if (vm_of(L)->killed)
		return 1;
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

static int sb_xpcall(lua_State *L)
{
	int n = lua_gettop(L);
	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_pushvalue(L, 2);
	lua_pushcclosure(L, xpcall_handler, 1);
	lua_replace(L, 2);
	lua_pushvalue(L, 1);
	for (int i = 3; i <= n; i++)
		lua_pushvalue(L, i);
	int status = lua_pcall(L, n - 2, LUA_MULTRET, 2);
	struct vm *vm = vm_of(L);
	if (vm->killed)
		return luaL_error(L, "%s", vm->kill_message);
	lua_pushboolean(L, status == LUA_OK);
	lua_rotate(L, n + 1, 1);
	return lua_gettop(L) - n;
}

static void log_values(lua_State *L, int first, const char *level)
{
	struct vm *vm = vm_of(L);
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	int n = lua_gettop(L);
	for (int i = first; i <= n; i++) {
		if (i > first)
			luaL_addchar(&b, '\t');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	size_t len;
	const char *text = lua_tolstring(L, -1, &len);
	plugin_log(vm->plugin, level, "%.*s", len > 2000 ? 2000 : (int)len, text);
}

static int sb_print(lua_State *L)
{
	log_values(L, 1, "info");
	return 0;
}

/* load(text [, name [, mode [, env]]]): text chunks only; the sandbox is the default _ENV. */
static int sb_load(lua_State *L)
{
	struct vm *vm = vm_of(L);
	size_t len;
	if (lua_type(L, 1) != LUA_TSTRING)
		return luaL_error(L, "load: only text chunks given as strings can be loaded in a plugin");
	const char *text = lua_tolstring(L, 1, &len);
	const char *name = luaL_optstring(L, 2, "=(load)");
	const char *mode = luaL_optstring(L, 3, "t");
	if (strcmp(mode, "t") != 0)
		return luaL_error(L, "load: mode '%s' is not allowed: binary chunks escape the sandbox", mode);
	bool has_env = !lua_isnone(L, 4);
	int status = luaL_loadbufferx(L, text, len, name, "t");
	if (status != LUA_OK) {
		luaL_pushfail(L);
		lua_insert(L, -2);
		return 2;
	}
	if (has_env)
		lua_pushvalue(L, 4);
	else
		lua_rawgeti(L, LUA_REGISTRYINDEX, vm->env_ref);
	if (!lua_setupvalue(L, -2, 1))
		lua_pop(L, 1);
	return 1;
}

static int sb_setmetatable(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	int type = lua_type(L, 2);
	luaL_argexpected(L, type == LUA_TNIL || type == LUA_TTABLE, 2, "nil or table");
	if (type == LUA_TTABLE) {
		/* both may run where the count hook cannot stop them: at collection, or unwinding a kill */
		lua_pushliteral(L, "__gc");
		if (lua_rawget(L, 2) != LUA_TNIL)
			return luaL_error(L, "setmetatable: __gc metamethods are not allowed in plugins");
		lua_pushliteral(L, "__close");
		if (lua_rawget(L, 2) != LUA_TNIL)
			return luaL_error(L, "setmetatable: __close metamethods are not allowed in plugins");
		lua_pop(L, 2);
	}
	if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
		return luaL_error(L, "cannot change a protected metatable");
	lua_settop(L, 2);
	lua_setmetatable(L, 1);
	return 1;
}

/* require(name): name.lua or name/with/dots.lua inside the plugin's folder, nowhere else. */
static int sb_require(lua_State *L)
{
	struct vm *vm = vm_of(L);
	const char *name = luaL_checkstring(L, 1);
	size_t len = strlen(name);
	bool ok = len > 0 && len <= 100 && name[0] != '.' && name[len - 1] != '.';
	for (size_t i = 0; ok && i < len; i++) {
		char c = name[i];
		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
			|| (c == '.' && name[i + 1] != '.');
	}
	if (!ok)
		return luaL_error(L, "require: module name '%s' is not allowed: only modules inside the plugin folder, "
		                  "named like 'util' or 'lib.util'", name);
	lua_getfield(L, LUA_REGISTRYINDEX, "crm.loaded");
	if (lua_getfield(L, -1, name) != LUA_TNIL)
		return 1;
	lua_pop(L, 1);
	char path[PATH_MAX], file_part[128], real[PATH_MAX], dir[PATH_MAX];
	snprintf(file_part, sizeof(file_part), "%s", name);
	for (char *p = file_part; *p; p++)
		if (*p == '.')
			*p = '/';
	snprintf(path, sizeof(path), "%s/%s.lua", plugin_dir(vm->plugin), file_part);
	/* a symbolic link must not lead out of the folder either */
	if (!realpath(path, real) || !realpath(plugin_dir(vm->plugin), dir) || strncmp(real, dir, strlen(dir)) != 0
	    || real[strlen(dir)] != '/')
		return luaL_error(L, "require: no module '%s' in the plugin folder (looked for %s)", name, path);
	FILE *f = fopen(real, "rb");
	if (!f)
		return luaL_error(L, "require: cannot read %s", path);
	luaL_Buffer b;
	char *buf = luaL_buffinitsize(L, &b, MAX_SOURCE + 1);
	size_t got = fread(buf, 1, MAX_SOURCE + 1, f);
	fclose(f);
	if (got > MAX_SOURCE)
		return luaL_error(L, "require: %s is larger than %d bytes", path, MAX_SOURCE);
	luaL_pushresultsize(&b, got);
	size_t source_len;
	const char *source = lua_tolstring(L, -1, &source_len);
	char chunkname[PATH_MAX + 1];
	snprintf(chunkname, sizeof(chunkname), "@%s", path);
	if (luaL_loadbufferx(L, source, source_len, chunkname, "t") != LUA_OK)
		return lua_error(L);
	lua_rawgeti(L, LUA_REGISTRYINDEX, vm->env_ref);
	lua_setupvalue(L, -2, 1);
	lua_pushstring(L, name);
	lua_call(L, 1, 1);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_pushboolean(L, 1);
	}
	/* stack: name, crm.loaded, source, result */
	lua_pushvalue(L, -1);
	lua_setfield(L, -4, name);   /* crm.loaded[name] */
	return 1;
}

/* ------------------------------------------------------------- the crm module */

static struct crm_ctx *need_ctx(lua_State *L, const char *function)
{
	struct vm *vm = vm_of(L);
	if (!vm->ctx)
		luaL_error(L, "%s is not available while the plugin loads: call it from a hook, action, route or job", function);
	return vm->ctx;
}

static int crm_get(lua_State *L)
{
	struct crm_ctx *ctx = need_ctx(L, "crm.get");
	const char *object = luaL_checkstring(L, 1);
	lua_Integer id = luaL_checkinteger(L, 2);
	json_t *record = NULL;
	int code = object_get(ctx, object, (int64_t)id, false, &record);
	if (code == CRM_ENOTFOUND && meta_find_object(ctx->kernel->meta, object)) {
		crm_error_reset(ctx);
		lua_pushnil(L);
		return 1;
	}
	if (code != CRM_OK)
		return raise_failed(L, "crm.get", code, false);
	push_held_record(L, record);
	return 1;
}

static const char *opt_field(lua_State *L, int table, const char *key)
{
	if (lua_type(L, table) != LUA_TTABLE)
		return NULL;
	lua_getfield(L, table, key);
	const char *value = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
	if (!value && !lua_isnil(L, -1))
		luaL_error(L, "option '%s' must be a string", key);
	return value;   /* stays on the stack, so it stays alive */
}

static int crm_query(lua_State *L)
{
	struct crm_ctx *ctx = need_ctx(L, "crm.query");
	const char *object = luaL_checkstring(L, 1);
	if (!lua_isnoneornil(L, 2))
		luaL_checktype(L, 2, LUA_TTABLE);
	struct object_query query = {
		.filter = opt_field(L, 2, "filter"), .sort = opt_field(L, 2, "sort"),
		.fields = opt_field(L, 2, "fields"), .search = opt_field(L, 2, "search"),
		.after = opt_field(L, 2, "after"),
	};
	if (lua_type(L, 2) == LUA_TTABLE) {
		lua_getfield(L, 2, "limit");
		if (!lua_isnil(L, -1)) {
			lua_Integer limit = luaL_checkinteger(L, -1);
			query.limit = limit < 1 ? 1 : limit > OBJECT_MAX_LIMIT ? OBJECT_MAX_LIMIT + 1 : (int)limit;
		}
	}
	json_t *page = NULL;
	int code = object_query(ctx, object, &query, &page);
	if (code != CRM_OK)
		return raise_failed(L, "crm.query", code, false);
	json_array_append_new(vm_of(L)->held, page);
	push_records(L, json_object_get(page, "records"));
	json_t *next = json_object_get(page, "next");
	if (json_is_string(next))
		lua_pushstring(L, json_string_value(next));
	else
		lua_pushnil(L);
	return 2;
}

static int crm_count(lua_State *L)
{
	struct crm_ctx *ctx = need_ctx(L, "crm.count");
	const char *object = luaL_checkstring(L, 1);
	const char *filter = luaL_optstring(L, 2, NULL);
	int64_t count = 0;
	int code = object_count(ctx, object, filter, &count);
	if (code != CRM_OK)
		return raise_failed(L, "crm.count", code, false);
	lua_pushinteger(L, (lua_Integer)count);
	return 1;
}

static int crm_aggregate(lua_State *L)
{
	struct crm_ctx *ctx = need_ctx(L, "crm.aggregate");
	const char *object = luaL_checkstring(L, 1);
	if (!lua_isnoneornil(L, 2))
		luaL_checktype(L, 2, LUA_TTABLE);
	const char *group = opt_field(L, 2, "group"), *measures = opt_field(L, 2, "measures");
	const char *filter = opt_field(L, 2, "filter");
	json_t *rows = NULL;
	int code = object_aggregate(ctx, object, group, measures, filter, &rows);
	if (code != CRM_OK)
		return raise_failed(L, "crm.aggregate", code, false);
	push_held(L, rows);
	return 1;
}

static int crm_create(lua_State *L)
{
	struct crm_ctx *ctx = need_ctx(L, "crm.create");
	const char *object = luaL_checkstring(L, 1);
	luaL_checktype(L, 2, LUA_TTABLE);
	json_t *values = check_json_held(L, 2, "crm.create");
	json_t *record = NULL;
	int code = object_create(ctx, object, values, &record);
	if (code != CRM_OK)
		return raise_failed(L, "crm.create", code, true);
	push_held_record(L, record);
	return 1;
}

/*
 * crm.send(channel, to, template, vars [, record]): queues an e-mail or a
 * webhook post in the caller's transaction (outbox.c); record is
 * { object = "lead", id = 12 }. Returns the outbox message's id.
 */
static int crm_send(lua_State *L)
{
	struct crm_ctx *ctx = need_ctx(L, "crm.send");
	const char *channel = luaL_checkstring(L, 1);
	const char *to = luaL_checkstring(L, 2);
	const char *template_name = luaL_checkstring(L, 3);
	json_t *vars = lua_isnoneornil(L, 4) ? NULL : check_json_held(L, 4, "crm.send");
	const char *object = NULL;
	lua_Integer id = 0;
	if (!lua_isnoneornil(L, 5)) {
		luaL_checktype(L, 5, LUA_TTABLE);
		lua_getfield(L, 5, "object");
		lua_getfield(L, 5, "id");
		/* a string held by the table outlives the pop; a number converted here would not */
		object = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
		id = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
		lua_pop(L, 2);
		if (!object || id <= 0)
			return raise_code(L, CRM_EINVAL, "crm.send: the record must be { object = name, id = number }");
	}
	if (json_is_array(vars) && json_array_size(vars) == 0)
		vars = NULL;   /* {} reads as an empty list */
	int64_t out = 0;
	int code = outbox_send(ctx, channel, to, template_name, vars, object, (int64_t)id, NULL, &out);
	if (code != CRM_OK)
		return raise_failed(L, "crm.send", code, code == CRM_EIO || code == CRM_EBUSY || code == CRM_EFULL ||
		                                          code == CRM_EINTERNAL);
	lua_pushinteger(L, (lua_Integer)out);
	return 1;
}

static int crm_update(lua_State *L)
{
	struct crm_ctx *ctx = need_ctx(L, "crm.update");
	const char *object = luaL_checkstring(L, 1);
	lua_Integer id = luaL_checkinteger(L, 2);
	luaL_checktype(L, 3, LUA_TTABLE);
	lua_Integer version = luaL_optinteger(L, 4, 0);
	json_t *changes = check_json_held(L, 3, "crm.update");
	json_t *record = NULL;
	int code = object_update(ctx, object, (int64_t)id, (int64_t)version, changes, &record);
	if (code != CRM_OK)
		return raise_failed(L, "crm.update", code, true);
	push_held_record(L, record);
	return 1;
}

static int crm_delete(lua_State *L)
{
	struct crm_ctx *ctx = need_ctx(L, "crm.delete");
	const char *object = luaL_checkstring(L, 1);
	lua_Integer id = luaL_checkinteger(L, 2);
	lua_Integer version = luaL_optinteger(L, 3, 0);
	int code = object_delete(ctx, object, (int64_t)id, (int64_t)version);
	if (code != CRM_OK)
		return raise_failed(L, "crm.delete", code, true);
	lua_pushboolean(L, 1);
	return 1;
}

static int crm_restore(lua_State *L)
{
	struct crm_ctx *ctx = need_ctx(L, "crm.restore");
	const char *object = luaL_checkstring(L, 1);
	lua_Integer id = luaL_checkinteger(L, 2);
	int code = object_restore(ctx, object, (int64_t)id);
	if (code != CRM_OK)
		return raise_failed(L, "crm.restore", code, true);
	lua_pushboolean(L, 1);
	return 1;
}

static int crm_transition(lua_State *L)
{
	/* crm.transition(object, id, name [, values [, version]]): fires a workflow transition */
	struct crm_ctx *ctx = need_ctx(L, "crm.transition");
	const char *object = luaL_checkstring(L, 1);
	lua_Integer id = luaL_checkinteger(L, 2);
	const char *name = luaL_checkstring(L, 3);
	json_t *values = NULL;
	if (!lua_isnoneornil(L, 4)) {
		luaL_checktype(L, 4, LUA_TTABLE);
		values = check_json_held(L, 4, "crm.transition");
	}
	lua_Integer version = luaL_optinteger(L, 5, 0);
	json_t *record = NULL;
	int code = workflow_fire(ctx, object, (int64_t)id, name, values, (int64_t)version, &record);
	if (code != CRM_OK)
		return raise_failed(L, "crm.transition", code, true);
	push_held_record(L, record);
	return 1;
}

/* crm.error(kind, message [, field]): refuse with an HTTP-visible kind. */
static int crm_raise(lua_State *L)
{
	static const struct { const char *name; int code; } kinds[] = {
		{ "invalid", CRM_EVALIDATION }, { "conflict", CRM_ESTATE }, { "denied", CRM_EDENIED },
		{ "not_found", CRM_ENOTFOUND }, { "limit", CRM_ELIMIT }, { NULL, 0 },
	};
	const char *kind = luaL_checkstring(L, 1);
	const char *message = luaL_checkstring(L, 2);
	const char *field = luaL_optstring(L, 3, NULL);
	for (int i = 0; kinds[i].name; i++) {
		if (strcmp(kinds[i].name, kind) == 0) {
			lua_pushstring(L, message);
			return raise_recorded(L, kinds[i].code, message, field, NULL, 1);
		}
	}
	return luaL_argerror(L, 1, "expected 'invalid', 'conflict', 'denied', 'not_found' or 'limit'");
}

/* crm.as_system(fn, ...): data calls inside act as the system user; needs system_access: true. */
static int crm_as_system(lua_State *L)
{
	struct vm *vm = vm_of(L);
	struct crm_ctx *ctx = need_ctx(L, "crm.as_system");
	luaL_checktype(L, 1, LUA_TFUNCTION);
	if (!plugin_system_access(vm->plugin))
		return raise_code(L, CRM_EDENIED, "crm.as_system: plugin '%s' has no system access (set system_access: "
		                  "true in its plugin.yaml; an administrator sees it in 'crm plugins')", plugin_name(vm->plugin));
	int64_t user = ctx->user_id;
	ctx->user_id = 0;
	int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
	ctx->user_id = user;
	if (status != LUA_OK || vm->killed)
		return lua_error(L);   /* the same value goes on: its identity marks what it was */
	return lua_gettop(L);
}

static int crm_log(lua_State *L)
{
	const char *level = luaL_checkstring(L, 1);
	if (strcmp(level, "debug") && strcmp(level, "info") && strcmp(level, "warn") && strcmp(level, "error"))
		return luaL_argerror(L, 1, "expected 'debug', 'info', 'warn' or 'error'");
	log_values(L, 2, level);
	return 0;
}

/* A point argument { lat = n, lng = n }: false when it is nil, crm.null or has no two numbers. */
static bool lua_point(lua_State *L, int index, double *lat, double *lng)
{
	if (!lua_istable(L, index))
		return false;
	lua_getfield(L, index, "lat");
	lua_getfield(L, index, "lng");
	bool ok = lua_type(L, -2) == LUA_TNUMBER && lua_type(L, -1) == LUA_TNUMBER;
	*lat = ok ? lua_tonumber(L, -2) : 0;
	*lng = ok ? lua_tonumber(L, -1) : 0;
	lua_pop(L, 2);
	return ok;
}

/* crm.distance(a, b): the expression language's distance() (the same C), metres or nil. */
static int crm_distance(lua_State *L)
{
	double lat1, lng1, lat2, lng2, metres;
	if (!lua_isnoneornil(L, 1) && !lua_istable(L, 1) && !lua_islightuserdata(L, 1))
		return luaL_argerror(L, 1, "expected a point { lat = .., lng = .. } or nil");
	if (!lua_isnoneornil(L, 2) && !lua_istable(L, 2) && !lua_islightuserdata(L, 2))
		return luaL_argerror(L, 2, "expected a point { lat = .., lng = .. } or nil");
	if (lua_point(L, 1, &lat1, &lng1) && lua_point(L, 2, &lat2, &lng2)
	    && expr_geo_distance(lat1, lng1, lat2, lng2, &metres))
		lua_pushnumber(L, metres);
	else
		lua_pushnil(L);
	return 1;
}

static int crm_now(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)time(NULL));
	return 1;
}

static int format_time(lua_State *L, const char *format)
{
	lua_Integer t = luaL_optinteger(L, 1, (lua_Integer)time(NULL));
	time_t when = (time_t)t;
	struct tm tm;
	char text[32];
	if (!gmtime_r(&when, &tm) || !strftime(text, sizeof(text), format, &tm))
		return luaL_argerror(L, 1, "time out of range");
	lua_pushstring(L, text);
	return 1;
}

static int crm_datetime(lua_State *L) { return format_time(L, "%Y-%m-%dT%H:%M:%SZ"); }
static int crm_date(lua_State *L) { return format_time(L, "%Y-%m-%d"); }

static int json_encode(lua_State *L)
{
	luaL_checkany(L, 1);
	json_t *value = check_json_held(L, 1, "crm.json.encode");
	size_t flags = JSON_ENCODE_ANY | JSON_COMPACT;
	size_t size = json_dumpb(value, NULL, 0, flags);
	if (size == 0)
		return luaL_error(L, "crm.json.encode: cannot encode");
	/* written straight into a Lua buffer: nothing of ours to free if it raises */
	luaL_Buffer b;
	char *out = luaL_buffinitsize(L, &b, size);
	json_dumpb(value, out, size, flags);
	luaL_pushresultsize(&b, size);
	return 1;
}

static int json_decode(lua_State *L)
{
	size_t len;
	const char *text = luaL_checklstring(L, 1, &len);
	json_error_t error;
	json_t *value = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &error);
	if (!value) {
		luaL_pushfail(L);
		lua_pushfstring(L, "crm.json.decode: %s at line %d, column %d", error.text, error.line, error.column);
		return 2;
	}
	push_held(L, value);
	return 1;
}

static int json_array_mark(lua_State *L)
{
	struct vm *vm = vm_of(L);
	if (lua_isnoneornil(L, 1))
		lua_newtable(L);
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	lua_rawgeti(L, LUA_REGISTRYINDEX, vm->array_mt_ref);
	lua_setmetatable(L, 1);
	return 1;
}

/* ---------------------------------------------------- crm.calendar: business time */

/*
 * crm.calendar.add_minutes(cal, t, n), .minutes_between(cal, a, b),
 * .is_business_time(cal, t): calendar.c over a `calendar:` document of the
 * metadata and its holiday records (read on the call's transaction, or a
 * reader), the code the SQL functions and the C evaluator run. Times are
 * the API's datetime text ("2026-12-04T09:00:00Z", seconds optional).
 */
static int64_t lua_calendar_time(lua_State *L, int arg)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";   /* d: a digit; ":dd" seconds optional */
	size_t len = 0;
	const char *text = lua_type(L, arg) == LUA_TSTRING ? lua_tolstring(L, arg, &len) : NULL;
	if (!text)
		return luaL_argerror(L, arg, "expected a datetime text \"YYYY-MM-DDTHH:MM:SSZ\"");
	char full[sizeof(shape)] = "";
	if (len == 17 && text[16] == 'Z')
		snprintf(full, sizeof(full), "%.16s:00Z", text);
	else if (len == 20)
		memcpy(full, text, sizeof(full) - 1);
	bool ok = full[0] != '\0';
	for (size_t i = 0; ok && i < sizeof(shape) - 1; i++)
		ok = shape[i] == 'd' ? isdigit((unsigned char)full[i]) != 0 : full[i] == shape[i];
	int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
	if (ok)
		ok = sscanf(full, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) == 6 && y >= 1970 && mo >= 1
		     && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && sec <= 59;
	if (!ok)
		return luaL_argerror(L, arg, lua_pushfstring(L, "'%s' is not a datetime \"YYYY-MM-DDTHH:MM:SSZ\"", text));
	return calendar_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
}

struct lua_calendar_call {
	const struct calendar *calendar;
	struct calendar_holidays holidays;
	struct crm_ctx *ctx;
	struct store_conn *conn;
};

static int lua_calendar_holidays(void *arg, const char *calendar, const char *from_day, struct calendar_holiday *out,
                                 int max, int *count)
{
	struct lua_calendar_call *call = arg;
	*count = 0;
	if (!call->conn)
		call->conn = object_read_conn(call->ctx);
	return call->conn ? store_holidays(call->conn, calendar, from_day, out, max, count) : -1;
}

static void lua_calendar_begin(lua_State *L, const char *function, struct lua_calendar_call *call)
{
	struct crm_ctx *ctx = need_ctx(L, function);
	const char *name = luaL_checkstring(L, 1);
	const struct meta_calendar *calendar = meta_find_calendar(ctx->kernel->meta, name);
	if (!calendar)
		luaL_error(L, "%s: unknown calendar '%s'", function, name);
	*call = (struct lua_calendar_call){ .calendar = &calendar->calendar, .ctx = ctx };
	call->holidays = (struct calendar_holidays){ lua_calendar_holidays, call };
}

static int lua_calendar_end(lua_State *L, const char *function, struct lua_calendar_call *call, int rc,
                            const char *err)
{
	if (call->conn)
		object_read_done(call->ctx, call->conn);
	if (rc != 0)
		return luaL_error(L, "%s: %s", function, err);
	return 0;
}

static int crm_calendar_add_minutes(lua_State *L)
{
	struct lua_calendar_call call;
	lua_calendar_begin(L, "crm.calendar.add_minutes", &call);
	int64_t t = lua_calendar_time(L, 2), out = 0;
	lua_Integer minutes = luaL_checkinteger(L, 3);
	if (minutes < 0)
		return luaL_error(L, "crm.calendar.add_minutes: negative minutes (%I)", minutes);
	char err[200] = "";
	int rc = calendar_add_minutes(call.calendar, &call.holidays, t, (int64_t)minutes, &out, err, sizeof(err));
	lua_calendar_end(L, "crm.calendar.add_minutes", &call, rc, err);
	lua_pushinteger(L, (lua_Integer)out);
	lua_replace(L, 1);
	lua_settop(L, 1);
	return format_time(L, "%Y-%m-%dT%H:%M:%SZ");
}

static int crm_calendar_minutes_between(lua_State *L)
{
	struct lua_calendar_call call;
	lua_calendar_begin(L, "crm.calendar.minutes_between", &call);
	int64_t a = lua_calendar_time(L, 2), b = lua_calendar_time(L, 3), out = 0;
	char err[200] = "";
	int rc = calendar_minutes_between(call.calendar, &call.holidays, a, b, &out, err, sizeof(err));
	lua_calendar_end(L, "crm.calendar.minutes_between", &call, rc, err);
	lua_pushinteger(L, (lua_Integer)out);
	return 1;
}

static int crm_calendar_is_business_time(lua_State *L)
{
	struct lua_calendar_call call;
	lua_calendar_begin(L, "crm.calendar.is_business_time", &call);
	int64_t t = lua_calendar_time(L, 2);
	bool open = false;
	char err[200] = "";
	int rc = calendar_is_open(call.calendar, &call.holidays, t, &open, err, sizeof(err));
	lua_calendar_end(L, "crm.calendar.is_business_time", &call, rc, err);
	lua_pushboolean(L, open);
	return 1;
}

/* --------------------------------------------------------------- crm.crypto */

/*
 * Secrets for links and tokens (a survey's single-use link): randomness from
 * libsodium (the kernel calls sodium_init when it opens), a digest to store
 * instead of the secret, and a comparison whose time does not depend on where
 * two texts differ. The texts are Lua strings; nothing is kept.
 */
#define CRYPTO_TOKEN_MIN 16
#define CRYPTO_TOKEN_MAX 64

/* crm.crypto.token([bytes]) -> base64url (no padding) of 16..64 random bytes, 32 by default */
static int crm_crypto_token(lua_State *L)
{
	lua_Integer bytes = luaL_optinteger(L, 1, 32);
	if (bytes < CRYPTO_TOKEN_MIN || bytes > CRYPTO_TOKEN_MAX)
		return luaL_error(L, "crm.crypto.token: bytes must be %d to %d", CRYPTO_TOKEN_MIN, CRYPTO_TOKEN_MAX);
	unsigned char random[CRYPTO_TOKEN_MAX];
	char text[sodium_base64_ENCODED_LEN(CRYPTO_TOKEN_MAX, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
	randombytes_buf(random, (size_t)bytes);
	sodium_bin2base64(text, sizeof(text), random, (size_t)bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(random, sizeof(random));
	lua_pushstring(L, text);
	sodium_memzero(text, sizeof(text));
	return 1;
}

/* crm.crypto.hash(text) -> the SHA-256 of text as 64 lower-case hex digits */
static int crm_crypto_hash(lua_State *L)
{
	size_t len;
	const char *text = luaL_checklstring(L, 1, &len);
	unsigned char digest[crypto_hash_sha256_BYTES];
	char hex[crypto_hash_sha256_BYTES * 2 + 1];
	crypto_hash_sha256(digest, (const unsigned char *)text, len);
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	lua_pushstring(L, hex);
	return 1;
}

/* crm.crypto.equal(a, b) -> whether two texts are equal, in a time that depends on their length only */
static int crm_crypto_equal(lua_State *L)
{
	size_t a_len, b_len;
	const char *a = luaL_checklstring(L, 1, &a_len);
	const char *b = luaL_checklstring(L, 2, &b_len);
	lua_pushboolean(L, a_len == b_len && sodium_memcmp(a, b, a_len) == 0);
	return 1;
}

/* ------------------------------------------------------------ registration */

static int lua_host_event(void *data, struct crm_ctx *ctx, enum event_kind kind, const struct meta_object *object,
                          json_t *values, json_t *record);
static int lua_host_handler(void *data, struct crm_ctx *ctx, json_t *input, json_t **output);

/*
 * The first state stages each registration on the plugin; a later state runs
 * the same script and must register the same things in the same order: its
 * functions go to the same slots of its own handler table.
 */
static int do_register(lua_State *L, enum reg_kind kind, const char *what, const char *a, const char *b,
                       bool async, json_t *options, int fn_index)
{
	struct vm *vm = vm_of(L);
	struct lua_plugin *lp = vm->lp;
	luaL_checktype(L, fn_index, LUA_TFUNCTION);
	if (!vm->loading || !lp)
		return luaL_error(L, "%s: registration is only possible at the top level of the plugin's script, while it loads",
		                  what);
	/* a route's options are part of what a replayed state must register alike */
	char key[600];
	char *options_text = options ? json_dumps(options, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
	snprintf(key, sizeof(key), "%d %s %s %d %s", (int)kind, a ? a : "", b ? b : "", async,
	         options_text ? options_text : "");
	free(options_text);
	int index = ++vm->reg_seen;
	if (vm->replay) {
		if (index > lp->reg_count || strcmp(lp->reg_keys[index - 1], key) != 0)
			return luaL_error(L, "%s: the script registered something else than when it first loaded "
			                  "(registrations must not depend on data or time)", what);
	} else {
		char err[400];
		struct lua_handler *handler = xcalloc(1, sizeof(*handler));
		*handler = (struct lua_handler) { .lp = lp, .index = index, .kind = kind };
		int code;
		if (kind == REG_HOOK)
			code = plugin_add_hook(lp->plugin, a, b, async, lua_host_event, handler, err, sizeof(err));
		else if (kind == REG_ROUTE)
			code = plugin_add_route(lp->plugin, a, b, options, lua_host_handler, handler, err, sizeof(err));
		else
			code = plugin_add_handler(lp->plugin, kind == REG_ACTION ? PLUGIN_ACTION : kind == REG_ROUTE
			                          ? PLUGIN_ROUTE : PLUGIN_JOB, a, b, lua_host_handler, handler, err, sizeof(err));
		if (code != CRM_OK) {
			free(handler);
			vm->reg_seen--;
			return luaL_error(L, "%s: %s", what, err);
		}
		if (lp->reg_count == lp->reg_cap) {
			lp->reg_cap = lp->reg_cap ? lp->reg_cap * 2 : 8;
			lp->reg_keys = xrealloc(lp->reg_keys, (size_t)lp->reg_cap * sizeof(*lp->reg_keys));
			lp->handlers = xrealloc(lp->handlers, (size_t)lp->reg_cap * sizeof(*lp->handlers));
		}
		lp->reg_keys[lp->reg_count] = xstrdup(key);
		lp->handlers[lp->reg_count] = handler;
		lp->reg_count++;
	}
	lua_rawgeti(L, LUA_REGISTRYINDEX, vm->handlers_ref);
	lua_pushvalue(L, fn_index);
	lua_rawseti(L, -2, index);
	return 0;
}

/* crm.on(object, event, fn [, { async = true }]) */
static int crm_on(lua_State *L)
{
	const char *object = luaL_checkstring(L, 1);
	const char *event = luaL_checkstring(L, 2);
	bool async = false;
	if (lua_type(L, 4) == LUA_TTABLE) {
		lua_getfield(L, 4, "async");
		async = lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	return do_register(L, REG_HOOK, "crm.on", object, event, async, NULL, 3);
}

static int crm_action(lua_State *L)
{
	return do_register(L, REG_ACTION, "crm.action", luaL_checkstring(L, 1), NULL, false, NULL, 2);
}

/* crm.route(method, path, fn [, { public = true, rate_limit = "10/min", max_body = 16384 }]) */
static int crm_route(lua_State *L)
{
	const char *method = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
	json_t *options = NULL;
	if (!lua_isnoneornil(L, 4)) {
		luaL_checktype(L, 4, LUA_TTABLE);
		options = check_json_held(L, 4, "crm.route options");
	}
	return do_register(L, REG_ROUTE, "crm.route", method, path, false, options, 3);
}

static int crm_job(lua_State *L)
{
	return do_register(L, REG_JOB, "crm.job", luaL_checkstring(L, 1), luaL_checkstring(L, 2), false, NULL, 3);
}

/*
 * crm.test.route(method, path [, body [, query]]) -> { status =, json = }; a
 * public route runs as the guest, as over HTTP (no rate limit, no size cap).
 */
static int test_route(lua_State *L)
{
	struct vm *vm = vm_of(L);
	struct crm_ctx *ctx = need_ctx(L, "crm.test.route");
	const char *method = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
	json_t *body = lua_isnoneornil(L, 3) ? NULL : check_json_held(L, 3, "crm.test.route body");
	json_t *query = lua_isnoneornil(L, 4) ? NULL : check_json_held(L, 4, "crm.test.route query");
	int status = 0;
	json_t *response = NULL;
	struct plugin_public_route route;
	int code = plugin_public_route_find(ctx->kernel, method, path, &route) == CRM_OK
	         ? plugin_public_route(ctx->kernel, ctx, method, path, query, body, false, &status, &response)
	         : plugin_route(ctx->kernel, ctx, method, path, query, body, &status, &response);
	if (code != CRM_OK)
		return raise_failed(L, "crm.test.route", code, false);
	json_array_append_new(vm->held, response);
	lua_createtable(L, 0, 2);
	lua_pushinteger(L, status);
	lua_setfield(L, -2, "status");
	push_json(L, response, 0);
	lua_setfield(L, -2, "json");
	return 1;
}

/* crm.test.action(name [, object, id [, args]]) -> result */
static int test_action(lua_State *L)
{
	struct crm_ctx *ctx = need_ctx(L, "crm.test.action");
	const char *name = luaL_checkstring(L, 1);
	const char *object = luaL_optstring(L, 2, NULL);
	lua_Integer id = object ? luaL_checkinteger(L, 3) : 0;
	json_t *args = lua_isnoneornil(L, 4) ? NULL : check_json_held(L, 4, "crm.test.action args");
	json_t *result = NULL;
	int code = plugin_action(ctx->kernel, ctx, name, object, (int64_t)id, args, &result);
	if (code != CRM_OK)
		return raise_failed(L, "crm.test.action", code, false);
	push_held(L, result);
	return 1;
}

/* crm.test.job(name): runs one of the plugin's jobs now */
static int test_job(lua_State *L)
{
	struct crm_ctx *ctx = need_ctx(L, "crm.test.job");
	int code = plugin_job_run(ctx->kernel, ctx, luaL_checkstring(L, 1));
	if (code != CRM_OK)
		return raise_failed(L, "crm.test.job", code, false);
	return 0;
}

/* crm.test.timer(workflow, timer) -> records acted on: one run of a workflow timer now, due or not */
static int test_timer(lua_State *L)
{
	struct crm_ctx *ctx = need_ctx(L, "crm.test.timer");
	int64_t touched = 0;
	int code = workflow_timer_run(ctx, luaL_checkstring(L, 1), luaL_checkstring(L, 2), time(NULL), &touched);
	if (code != CRM_OK)
		return raise_failed(L, "crm.test.timer", code, false);
	lua_pushinteger(L, (lua_Integer)touched);
	return 1;
}

/* crm.test.as_user(user_id, fn, ...): runs fn with data calls acting as that user */
static int test_as_user(lua_State *L)
{
	struct vm *vm = vm_of(L);
	struct crm_ctx *ctx = need_ctx(L, "crm.test.as_user");
	lua_Integer user = luaL_checkinteger(L, 1);
	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_remove(L, 1);
	/* the context caches the caller's rights: another user needs a cache of its own */
	int64_t saved = ctx->user_id;
	struct access_user *saved_access = ctx->access;
	ctx->user_id = (int64_t)user;
	ctx->access = NULL;
	int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
	access_free(ctx->access);
	ctx->access = saved_access;
	ctx->user_id = saved;
	if (status != LUA_OK || vm->killed)
		return lua_error(L);
	return lua_gettop(L);
}

/* ------------------------------------------------------------ a new state */

/* The libraries a sandbox gets, and what it keeps of each (after linit.c: one list, in one place). */
static const char *const BASE_FUNCTIONS[] = {
	"ipairs", "next", "pairs", "rawequal", "rawget", "rawlen", "rawset", "select", "tonumber", "tostring",
	"type", "getmetatable", "_VERSION", NULL,
};
static const char *const STRING_FUNCTIONS[] = {
	"byte", "char", "format", "len", "lower", "reverse", "sub", "upper", "pack", "packsize", "unpack", NULL,
};
static const char *const TABLE_FUNCTIONS[] = { "concat", "insert", "pack", "unpack", "remove", "sort", NULL };
static const char *const MATH_FUNCTIONS[] = {
	"abs", "ceil", "cos", "deg", "exp", "floor", "fmod", "log", "max", "min", "modf", "rad", "random",
	"randomseed", "sin", "sqrt", "tan", "tointeger", "type", "ult", "acos", "asin", "atan", "huge", "pi",
	"maxinteger", "mininteger", NULL,
};
static const char *const UTF8_FUNCTIONS[] = {
	"char", "charpattern", "codes", "codepoint", "len", "offset", NULL,
};

/* Copies the listed fields of the table on top into a new table, which replaces it. */
static void copy_fields(lua_State *L, const char *const *names)
{
	lua_newtable(L);
	for (int i = 0; names[i]; i++) {
		lua_getfield(L, -2, names[i]);
		lua_setfield(L, -2, names[i]);
	}
	lua_remove(L, -2);
}

static void set_functions(lua_State *L, const luaL_Reg *functions)
{
	luaL_setfuncs(L, functions, 0);
}

/* Builds the sandbox in the registry and the environment table; runs protected. */
static int build_sandbox(lua_State *L)
{
	struct vm *vm = vm_of(L);
	lua_newtable(L);
	vm->handlers_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_newtable(L);
	lua_pushliteral(L, "crm.array");
	lua_setfield(L, -2, "__name");
	vm->array_mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_pushboolean(L, 0);
	vm->raised_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_newtable(L);
	lua_setfield(L, LUA_REGISTRYINDEX, "crm.loaded");
	/* the real libraries, opened out of the scripts' reach */
	luaL_requiref(L, "_G", luaopen_base, 0);
	lua_pop(L, 1);
	lua_pushglobaltable(L);
	copy_fields(L, BASE_FUNCTIONS);                   /* env */
	static const luaL_Reg base[] = {
		{ "error", sb_error }, { "assert", sb_assert }, { "pcall", sb_pcall }, { "xpcall", sb_xpcall },
		{ "print", sb_print }, { "load", sb_load }, { "setmetatable", sb_setmetatable },
		{ "require", sb_require }, { NULL, NULL },
	};
	set_functions(L, base);
	lua_pushvalue(L, -1);
	lua_setfield(L, -2, "_G");

	luaL_requiref(L, "string", luaopen_string, 0);
	copy_fields(L, STRING_FUNCTIONS);
	static const luaL_Reg strings[] = {
		{ "rep", sb_rep }, { "find", sb_find }, { "match", sb_match }, { "gmatch", sb_gmatch },
		{ "gsub", sb_gsub }, { NULL, NULL },
	};
	set_functions(L, strings);
	/* every string's methods are the sandbox's: ("x"):rep(1e9) meets the bounded rep */
	lua_pushliteral(L, "");
	lua_getmetatable(L, -1);
	lua_pushvalue(L, -3);
	lua_setfield(L, -2, "__index");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 2);
	lua_setfield(L, -2, "string");

	luaL_requiref(L, "table", luaopen_table, 0);
	copy_fields(L, TABLE_FUNCTIONS);
	luaL_requiref(L, "table", luaopen_table, 0);   /* the real one again, for its move */
	lua_getfield(L, -1, "move");
	lua_pushcclosure(L, sb_table_move, 1);
	lua_setfield(L, -3, "move");
	lua_pop(L, 1);
	lua_setfield(L, -2, "table");

	luaL_requiref(L, "math", luaopen_math, 0);
	copy_fields(L, MATH_FUNCTIONS);
	lua_setfield(L, -2, "math");
	luaL_requiref(L, "utf8", luaopen_utf8, 0);
	copy_fields(L, UTF8_FUNCTIONS);
	lua_setfield(L, -2, "utf8");

	/* the crm module */
	static const luaL_Reg crm[] = {
		{ "get", crm_get }, { "query", crm_query }, { "count", crm_count }, { "aggregate", crm_aggregate },
		{ "create", crm_create }, { "update", crm_update }, { "delete", crm_delete }, { "restore", crm_restore },
		{ "transition", crm_transition }, { "on", crm_on }, { "action", crm_action }, { "route", crm_route },
		{ "job", crm_job }, { "log", crm_log }, { "now", crm_now }, { "datetime", crm_datetime },
		{ "date", crm_date }, { "error", crm_raise }, { "as_system", crm_as_system },
		{ "send", crm_send }, { "distance", crm_distance }, { NULL, NULL },
	};
	lua_newtable(L);
	set_functions(L, crm);
	lua_pushlightuserdata(L, NULL);
	lua_setfield(L, -2, "null");
	static const luaL_Reg json[] = {
		{ "encode", json_encode }, { "decode", json_decode }, { "array", json_array_mark }, { NULL, NULL },
	};
	lua_newtable(L);
	set_functions(L, json);
	lua_pushlightuserdata(L, NULL);
	lua_setfield(L, -2, "null");
	lua_setfield(L, -2, "json");
	static const luaL_Reg calendar[] = {
		{ "add_minutes", crm_calendar_add_minutes }, { "minutes_between", crm_calendar_minutes_between },
		{ "is_business_time", crm_calendar_is_business_time }, { NULL, NULL },
	};
	lua_newtable(L);
	set_functions(L, calendar);
	lua_setfield(L, -2, "calendar");
	static const luaL_Reg crypto[] = {
		{ "token", crm_crypto_token }, { "hash", crm_crypto_hash }, { "equal", crm_crypto_equal }, { NULL, NULL },
	};
	lua_newtable(L);
	set_functions(L, crypto);
	lua_setfield(L, -2, "crypto");
	push_json(L, plugin_config(vm->plugin), 0);
	lua_setfield(L, -2, "config");
	lua_createtable(L, 0, 2);
	lua_pushstring(L, plugin_name(vm->plugin));
	lua_setfield(L, -2, "name");
	lua_pushstring(L, plugin_version(vm->plugin));
	lua_setfield(L, -2, "version");
	lua_setfield(L, -2, "plugin");
	if (vm->test) {
		static const luaL_Reg test[] = {
			{ "route", test_route }, { "action", test_action }, { "job", test_job }, { "timer", test_timer }, { "as_user", test_as_user },
			{ NULL, NULL },
		};
		lua_newtable(L);
		set_functions(L, test);
		lua_setfield(L, -2, "test");
	}
	lua_setfield(L, -2, "crm");

	vm->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

/* ------------------------------------------------------------- running */

/* Keeps the error value; records a traceback when it is a bug rather than a refusal. */
static int message_handler(lua_State *L)
{
	struct vm *vm = vm_of(L);
	vm->traceback[0] = '\0';
	if (!vm->killed && lua_type(L, 1) == LUA_TSTRING) {
		lua_rawgeti(L, LUA_REGISTRYINDEX, vm->raised_ref);
		bool deliberate = lua_rawequal(L, -1, 1);
		lua_pop(L, 1);
		if (!deliberate) {
			luaL_traceback(L, L, lua_tostring(L, 1), 1);
			snprintf(vm->traceback, sizeof(vm->traceback), "%s", lua_tostring(L, -1));
		}
	}
	lua_settop(L, 1);
	return 1;
}

static void push_ctx(lua_State *L, struct vm *vm, const struct job *job)
{
	lua_createtable(L, 0, 5);
	if (vm->ctx && vm->ctx->user_id) {
		lua_pushinteger(L, (lua_Integer)vm->ctx->user_id);
		lua_setfield(L, -2, "user");
	}
	if (vm->ctx && vm->ctx->user_id == CRM_USER_GUEST) {
		lua_pushboolean(L, 1);
		lua_setfield(L, -2, "guest");
	}
	if (vm->ctx && vm->ctx->request_id) {
		lua_pushstring(L, vm->ctx->request_id);
		lua_setfield(L, -2, "request_id");
	}
	lua_pushstring(L, plugin_name(vm->plugin));
	lua_setfield(L, -2, "plugin");
	if (job->object) {
		lua_pushstring(L, job->object);
		lua_setfield(L, -2, "object");
	}
	if (job->kind == JOB_HOOK) {
		lua_pushstring(L, events_kind_name(job->event));
		lua_setfield(L, -2, "event");
	}
}

static void push_json_or_nil(lua_State *L, json_t *value)
{
	if (!value || json_is_null(value))
		lua_pushnil(L);
	else
		push_json(L, value, 0);
}

static void push_record_or_nil(lua_State *L, json_t *record)
{
	if (!record || json_is_null(record))
		lua_pushnil(L);
	else
		push_record(L, record);
}

static void push_handler(lua_State *L, struct vm *vm, int index)
{
	lua_rawgeti(L, LUA_REGISTRYINDEX, vm->handlers_ref);
	lua_rawgeti(L, -1, index);
	lua_remove(L, -2);
}

/*
 * { html = "<page>" [, status =] }: a web page (text/html), or { location =
 * "<url>", status = 301..308 }: a redirect to an http(s) URL or a path of this
 * server. Anything else is NULL (the JSON answers of route_answer).
 */
static json_t *route_page(lua_State *L, int index)
{
	int has_html = lua_getfield(L, index, "html") != LUA_TNIL;
	int has_location = lua_getfield(L, index, "location") != LUA_TNIL;
	lua_getfield(L, index, "status");
	json_t *out = NULL;
	if (has_html || has_location) {
		if (has_html && has_location)
			luaL_error(L, "the route returned both html and location: give one");
		lua_Integer status = lua_isnil(L, -1) ? (has_html ? 200 : 303) : lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
		size_t len;
		const char *text = lua_type(L, has_html ? -3 : -2) == LUA_TSTRING ? lua_tolstring(L, has_html ? -3 : -2, &len) : NULL;
		if (!text)
			luaL_error(L, "the route returned a %s that is not a text", has_html ? "html" : "location");
		if (has_html && (status < 200 || status > 599))
			luaL_error(L, "the route returned a status that is not a number from 200 to 599");
		if (has_location && (status < 301 || status > 308 || status == 304 || status == 305 || status == 306))
			luaL_error(L, "a redirect's status is 301, 302, 303, 307 or 308");
		if (has_location && (len > PLUGIN_ROUTE_LOCATION_MAX || strcspn(text, "\r\n\\ \t") != len
		                     || !(!strncmp(text, "https://", 8) || !strncmp(text, "http://", 7)
		                          || (text[0] == '/' && text[1] != '/'))))
			luaL_error(L, "the route returned a location that is not an http(s) URL or a path of at most %d bytes",
			           PLUGIN_ROUTE_LOCATION_MAX);
		json_t *value = json_stringn(text, len);
		if (!value)
			luaL_error(L, "the route returned a %s that is not UTF-8", has_html ? "html" : "location");
		out = json_pack("{s:i, s:o}", "status", (int)status, has_html ? "html" : "location", value);
	}
	lua_pop(L, 3);
	return out;
}

/* The route's answer: nil (204), { status =, json = }, a page or redirect (route_page), or any value (200 with it as JSON). */
static json_t *route_answer(lua_State *L, int index)
{
	char err[256];
	index = lua_absindex(L, index);
	if (lua_isnil(L, index))
		return json_pack("{s:i, s:n}", "status", 204, "json");
	if (lua_type(L, index) == LUA_TTABLE) {
		json_t *page = route_page(L, index);
		if (page)
			return page;
		int has_status = lua_getfield(L, index, "status") != LUA_TNIL;
		int has_json = lua_getfield(L, index, "json") != LUA_TNIL;
		if (has_status || has_json) {
			lua_Integer status = 200;
			if (has_status) {
				if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 200 || lua_tointeger(L, -2) > 599)
					luaL_error(L, "the route returned a status that is not a number from 200 to 599");
				status = lua_tointeger(L, -2);
			}
			json_t *body = to_json(L, -1, 0, err, sizeof(err));
			if (!body)
				luaL_error(L, "the route returned a json value that cannot be encoded: %s", err);
			lua_pop(L, 2);
			return json_pack("{s:i, s:o}", "status", (int)status, "json", body);
		}
		lua_pop(L, 2);
	}
	json_t *body = to_json(L, index, 0, err, sizeof(err));
	if (!body)
		luaL_error(L, "the route returned a value that cannot be encoded as JSON: %s", err);
	return json_pack("{s:i, s:o}", "status", 200, "json", body);
}

/* Everything that touches the Lua stack for one call, run protected. */
static int trampoline(lua_State *L)
{
	struct job *job = lua_touserdata(L, 1);
	struct vm *vm = vm_of(L);
	char err[256];
	switch (job->kind) {
	case JOB_MAIN:
		if (luaL_loadbufferx(L, job->source, job->source_len, job->chunkname, "t") != LUA_OK)
			return lua_error(L);
		lua_rawgeti(L, LUA_REGISTRYINDEX, vm->env_ref);
		lua_setupvalue(L, -2, 1);
		lua_call(L, 0, 0);
		return 0;
	case JOB_TEST:
		lua_rawgeti(L, LUA_REGISTRYINDEX, vm->env_ref);
		lua_getfield(L, -1, job->object);
		lua_call(L, 0, 0);
		return 0;
	case JOB_HOOK: {
		if (job->values)
			push_json(L, job->values, 0);              /* 2: new (null = clear the field) */
		else
			push_record_or_nil(L, job->record);
		push_handler(L, vm, job->handler->index);
		lua_pushvalue(L, 2);
		push_record_or_nil(L, job->values ? job->record : NULL);
		push_ctx(L, vm, job);
		lua_call(L, 3, 0);
		if (job->values) {
			json_t *changed = to_json(L, 2, 0, err, sizeof(err));
			if (!changed)
				return luaL_error(L, "the hook left a value that cannot be stored: %s", err);
			if (!json_is_object(changed)) {
				json_decref(changed);
				return luaL_error(L, "the hook replaced its values with something that is not a table");
			}
			job->new_values = changed;
		}
		return 0;
	}
	case JOB_HANDLER: {
		push_handler(L, vm, job->handler->index);
		int nargs = 1;
		if (job->handler->kind == REG_ACTION) {
			push_record_or_nil(L, json_object_get(job->input, "record"));
			push_ctx(L, vm, job);
			push_json_or_nil(L, json_object_get(job->input, "args"));
			nargs = 3;
		} else if (job->handler->kind == REG_ROUTE) {
			push_json(L, job->input, 0);
			push_ctx(L, vm, job);
			nargs = 2;
		} else {
			push_ctx(L, vm, job);
		}
		lua_call(L, nargs, 1);
		if (job->handler->kind == REG_ROUTE) {
			job->output = route_answer(L, -1);
		} else if (job->handler->kind == REG_ACTION) {
			json_t *result = to_json(L, -1, 0, err, sizeof(err));
			if (!result)
				return luaL_error(L, "the action returned a value that cannot be encoded as JSON: %s", err);
			job->output = json_pack("{s:o}", "json", result);
		}
		return 0;
	}
	}
	return 0;
}

/* After a failed call: sets ctx's error from what was raised and returns its code. */
static int classify(struct vm *vm, struct crm_ctx *ctx, int status)
{
	lua_State *L = vm->L;
	if (vm->killed || status == LUA_ERRMEM) {
		if (!vm->killed)
			vm_kill(vm, CRM_ELIMIT, "plugin '%s': memory limit of %zu MiB exceeded", plugin_name(vm->plugin),
			        vm->limit >> 20);
		crm_error_reset(ctx);
		plugin_log(vm->plugin, "warn", "%s", vm->kill_message);
		return crm_error(ctx, vm->kill_code, "%s", vm->kill_message);
	}
	lua_rawgeti(L, LUA_REGISTRYINDEX, vm->raised_ref);
	bool deliberate = lua_rawequal(L, -1, -2);
	lua_pop(L, 1);
	if (deliberate) {
		crm_error_reset(ctx);
		if (vm->raised_field[0])
			crm_field_error(ctx, vm->raised_field, "plugin", "%s", vm->raised_message);
		else if (vm->raised_field_errors)
			ctx->field_errors = json_incref(vm->raised_field_errors);
		return crm_error(ctx, vm->raised_code, "%s", vm->raised_message);
	}
	const char *message = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "an error value that is not a message";
	crm_error_reset(ctx);
	crm_error(ctx, CRM_EINTERNAL, "plugin '%s': %s", plugin_name(vm->plugin), message);
	plugin_log(vm->plugin, "error", "%s", vm->traceback[0] ? vm->traceback : message);
	return CRM_EINTERNAL;
}

/* Runs job in vm for ctx (NULL while loading). On failure err (if given) gets the message. */
static int vm_run(struct vm *vm, struct crm_ctx *ctx, struct job *job, char *err, size_t errlen)
{
	lua_State *L = vm->L;
	vm->ctx = ctx;
	vm->budget = vm->budget_per_call;
	vm->killed = false;
	vm->poison_code = 0;
	vm->raised_code = 0;
	vm->traceback[0] = '\0';
	lua_sethook(L, count_hook, LUA_MASKCOUNT, COUNT_PERIOD);
	lua_settop(L, 0);
	lua_pushcfunction(L, message_handler);
	lua_pushcfunction(L, trampoline);
	lua_pushlightuserdata(L, job);
	int status = lua_pcall(L, 1, 0, 1);
	struct crm_ctx scratch;
	struct crm_ctx *target = ctx;
	if (!target) {
		crm_ctx_init(&scratch, NULL, 0, NULL);
		target = &scratch;
	}
	int code = CRM_OK;
	if (status != LUA_OK)
		code = classify(vm, target, status);
	else if (vm->poison_code)
		code = crm_error(target, vm->poison_code, "%s", vm->poison_message);
	else if (ctx)
		crm_error_reset(ctx);   /* a failed read the script handled is not the request's error */
	if (code != CRM_OK && err)
		snprintf(err, errlen, "%s", target->message);
	if (!ctx)
		crm_error_reset(&scratch);
	lua_settop(L, 0);
	vm->ctx = NULL;
	json_array_clear(vm->held);
	json_decref(vm->raised_field_errors);
	vm->raised_field_errors = NULL;
	lua_pushboolean(L, 0);
	lua_rawseti(L, LUA_REGISTRYINDEX, vm->raised_ref);
	if (vm->killed || vm->used > vm->limit / 2)
		lua_gc(L, LUA_GCCOLLECT, 0);
	vm->killed = false;
	lua_sethook(L, count_hook, LUA_MASKCOUNT, COUNT_PERIOD);
	return code;
}

static void vm_free(struct vm *vm)
{
	if (!vm)
		return;
	if (vm->L) {
		lua_sethook(vm->L, NULL, 0, 0);
		lua_close(vm->L);
	}
	json_decref(vm->held);
	json_decref(vm->raised_field_errors);
	free(vm);
}

static struct vm *vm_new(struct plugin *plugin, struct lua_plugin *lp, bool test, char *err, size_t errlen)
{
	struct vm *vm = xcalloc(1, sizeof(*vm));
	vm->plugin = plugin;
	vm->lp = lp;
	vm->test = test;
	vm->limit = plugin_memory_limit(plugin);
	vm->budget_per_call = plugin_instruction_limit(plugin) * (test ? TEST_BUDGET_FACTOR : 1);
	vm->budget = vm->budget_per_call;
	vm->held = json_array();
	lua_State *L = lua_newstate(vm_alloc, vm);
	if (!L) {
		snprintf(err, errlen, "cannot create a Lua state (memory limit %zu MiB)", vm->limit >> 20);
		vm_free(vm);
		return NULL;
	}
	vm->L = L;
	*(struct vm **)lua_getextraspace(L) = vm;
	lua_sethook(L, count_hook, LUA_MASKCOUNT, COUNT_PERIOD);
	lua_pushcfunction(L, build_sandbox);
	if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
		snprintf(err, errlen, "cannot build the sandbox: %s", vm->killed ? vm->kill_message
		         : lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?");
		vm_free(vm);
		return NULL;
	}
	vm->killed = false;
	lua_sethook(L, count_hook, LUA_MASKCOUNT, COUNT_PERIOD);
	return vm;
}

/* Runs the plugin's script in vm: the first time to register, later to replay. */
static int vm_load_script(struct vm *vm, struct lua_plugin *lp, char *err, size_t errlen)
{
	struct job job = { .kind = JOB_MAIN, .source = lp->source, .source_len = lp->source_len,
	                   .chunkname = lp->chunkname };
	vm->loading = true;
	vm->reg_seen = 0;
	int code = vm_run(vm, NULL, &job, err, errlen);
	vm->loading = false;
	if (code == CRM_OK && vm->replay && vm->reg_seen != lp->reg_count) {
		snprintf(err, errlen, "%s: the script registered %d functions, but %d when it first loaded "
		         "(registrations must not depend on data or time)", lp->path, vm->reg_seen, lp->reg_count);
		code = CRM_EINTERNAL;
	}
	return code;
}

static struct vm *acquire(struct lua_plugin *lp, char *err, size_t errlen)
{
	pthread_mutex_lock(&lp->lock);
	if (lp->idle_count > 0) {
		struct vm *vm = lp->idle[--lp->idle_count];
		lp->busy++;
		pthread_mutex_unlock(&lp->lock);
		return vm;
	}
	if (lp->total >= MAX_STATES) {
		pthread_mutex_unlock(&lp->lock);
		snprintf(err, errlen, "plugin '%s': all %d Lua states are busy", plugin_name(lp->plugin), MAX_STATES);
		return NULL;
	}
	lp->total++;
	lp->busy++;
	pthread_mutex_unlock(&lp->lock);
	/* a new state, made outside the lock: the script runs again and registers the same functions */
	struct vm *vm = vm_new(lp->plugin, lp, false, err, errlen);
	if (vm) {
		vm->replay = true;
		if (vm_load_script(vm, lp, err, errlen) != CRM_OK) {
			vm_free(vm);
			vm = NULL;
		}
	}
	if (!vm) {
		pthread_mutex_lock(&lp->lock);
		lp->total--;
		lp->busy--;
		pthread_mutex_unlock(&lp->lock);
	}
	return vm;
}

static void release(struct lua_plugin *lp, struct vm *vm)
{
	pthread_mutex_lock(&lp->lock);
	lp->idle[lp->idle_count++] = vm;
	lp->busy--;
	pthread_mutex_unlock(&lp->lock);
}

static int lua_host_event(void *data, struct crm_ctx *ctx, enum event_kind kind, const struct meta_object *object,
                          json_t *values, json_t *record)
{
	struct lua_handler *handler = data;
	char err[512];
	struct vm *vm = acquire(handler->lp, err, sizeof(err));
	if (!vm)
		return crm_error(ctx, CRM_EBUSY, "%s", err);
	struct job job = { .kind = JOB_HOOK, .handler = handler, .event = kind, .object = object->name,
	                   .values = values, .record = record };
	int code = vm_run(vm, ctx, &job, NULL, 0);
	release(handler->lp, vm);
	if (code == CRM_OK && job.new_values) {
		json_object_clear(values);
		json_object_update(values, job.new_values);
	}
	json_decref(job.new_values);
	return code;
}

static int lua_host_handler(void *data, struct crm_ctx *ctx, json_t *input, json_t **output)
{
	struct lua_handler *handler = data;
	char err[512];
	struct vm *vm = acquire(handler->lp, err, sizeof(err));
	if (!vm)
		return crm_error(ctx, CRM_EBUSY, "%s", err);
	struct job job = { .kind = JOB_HANDLER, .handler = handler, .input = input,
	                   .object = json_string_value(json_object_get(input, "object")) };
	int code = vm_run(vm, ctx, &job, NULL, 0);
	release(handler->lp, vm);
	if (code == CRM_OK)
		*output = job.output;
	else
		json_decref(job.output);
	return code;
}

/* ------------------------------------------------------------ the interface */

static char *read_source(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "cannot open %s", path);
		return NULL;
	}
	char *source = xmalloc(MAX_SOURCE + 1);
	*len = fread(source, 1, MAX_SOURCE + 1, f);
	fclose(f);
	if (*len > MAX_SOURCE) {
		free(source);
		snprintf(err, errlen, "%s is larger than %d bytes", path, MAX_SOURCE);
		return NULL;
	}
	source[*len] = '\0';
	return source;
}

void lua_host_free(struct lua_plugin *lp)
{
	if (!lp)
		return;
	for (int i = 0; i < lp->idle_count; i++)
		vm_free(lp->idle[i]);
	for (int i = 0; i < lp->reg_count; i++) {
		free(lp->reg_keys[i]);
		free(lp->handlers[i]);
	}
	free(lp->reg_keys);
	free(lp->handlers);
	free(lp->source);
	free(lp->path);
	free(lp->chunkname);
	pthread_mutex_destroy(&lp->lock);
	free(lp);
}

int lua_host_load(struct plugin *plugin, const char *path, struct lua_plugin **out, char *err, size_t errlen)
{
	struct lua_plugin *lp = xcalloc(1, sizeof(*lp));
	lp->plugin = plugin;
	lp->path = xstrdup(path);
	struct strbuf chunkname = { 0 };
	strbuf_printf(&chunkname, "@%s", path);
	lp->chunkname = strbuf_detach(&chunkname);
	pthread_mutex_init(&lp->lock, NULL);
	lp->source = read_source(path, &lp->source_len, err, errlen);
	if (!lp->source) {
		lua_host_free(lp);
		return CRM_ENOTFOUND;
	}
	struct vm *vm = vm_new(plugin, lp, false, err, errlen);
	if (!vm) {
		lua_host_free(lp);
		return CRM_ENOMEM;
	}
	int code = vm_load_script(vm, lp, err, errlen);
	if (code != CRM_OK) {
		vm_free(vm);
		lua_host_free(lp);
		return code;
	}
	lp->idle[lp->idle_count++] = vm;
	lp->total = 1;
	*out = lp;
	return CRM_OK;
}

json_t *lua_host_stats(struct lua_plugin *lp)
{
	pthread_mutex_lock(&lp->lock);
	long long memory = 0;
	for (int i = 0; i < lp->idle_count; i++)
		memory += (long long)lp->idle[i]->used;
	json_t *out = json_pack("{s:i, s:i, s:I}", "states", lp->total, "busy", lp->busy, "memory", (json_int_t)memory);
	pthread_mutex_unlock(&lp->lock);
	return out;
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void lua_host_run_tests(struct plugin *plugin, const char *path, FILE *out, int *passed, int *failed)
{
	char err[1024];
	size_t len;
	char *source = read_source(path, &len, err, sizeof(err));
	struct vm *vm = source ? vm_new(plugin, NULL, true, err, sizeof(err)) : NULL;
	struct strbuf chunkname = { 0 };
	strbuf_printf(&chunkname, "@%s", path);
	struct job main_job = { .kind = JOB_MAIN, .source = source, .source_len = len, .chunkname = chunkname.data };
	if (!vm || vm_run(vm, NULL, &main_job, err, sizeof(err)) != CRM_OK) {
		fprintf(out, "FAIL %s: %s\n", path, err);
		(*failed)++;
		goto done;
	}
	/* the test functions, by name (nothing here allocates in Lua: keys are already strings) */
	char **names = NULL;
	int count = 0, cap = 0;
	lua_State *L = vm->L;
	lua_rawgeti(L, LUA_REGISTRYINDEX, vm->env_ref);
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TFUNCTION
		    && strncmp(lua_tostring(L, -2), "test_", 5) == 0) {
			if (count == cap) {
				cap = cap ? cap * 2 : 16;
				names = xrealloc(names, (size_t)cap * sizeof(*names));
			}
			names[count++] = xstrdup(lua_tostring(L, -2));
		}
		lua_pop(L, 1);
	}
	lua_settop(L, 0);
	if (count)
		qsort(names, (size_t)count, sizeof(*names), compare_strings);
	for (int i = 0; i < count; i++) {
		char request_id[160];
		snprintf(request_id, sizeof(request_id), "test:%s", names[i]);
		struct crm_ctx ctx;
		crm_ctx_init(&ctx, plugin_kernel(plugin), 0, request_id);
		int code = object_begin(&ctx);
		struct job job = { .kind = JOB_TEST, .object = names[i] };
		if (code == CRM_OK)
			code = vm_run(vm, &ctx, &job, err, sizeof(err));
		else
			snprintf(err, sizeof(err), "%s", ctx.message);
		object_rollback(&ctx);
		if (code == CRM_OK) {
			fprintf(out, "ok   %s\n", names[i]);
			(*passed)++;
		} else {
			fprintf(out, "FAIL %s: %s\n", names[i], err);
			(*failed)++;
		}
		crm_ctx_clear(&ctx);
		free(names[i]);
	}
	free(names);
done:
	vm_free(vm);
	free(source);
	strbuf_free(&chunkname);
}
