/*
 * lua_host.h - sandboxed Lua 5.4 plugins (the only file that includes lua.h
 * is lua_host.c). A Lua plugin is one script run at load; its crm.on,
 * crm.action, crm.route and crm.job calls register functions that the
 * kernel later calls with an instruction budget and a memory cap.
 *
 * States: each plugin keeps a pool of lua_States guarded by a mutex. A call
 * takes an idle state (or makes one by running the script again, which must
 * register the same things in the same order), runs, and gives it back. A
 * hook that writes and so fires a hook of the same plugin simply takes a
 * second state. See sdk/lua-api.md for what scripts can do.
 */
#ifndef CRM_LUA_HOST_H
#define CRM_LUA_HOST_H

#include <stdio.h>
#include "crm.h"

struct plugin;
struct lua_plugin;

/*
 * Loads the script at path for plugin: builds the first sandboxed state,
 * runs the script (its registrations are staged on plugin, see plugin.h).
 * CRM_OK and *out (owned: lua_host_free), or an error with err filled
 * ("path:line: message").
 */
int lua_host_load(struct plugin *plugin, const char *path, struct lua_plugin **out, char *err, size_t errlen);
/* Closes every state. No call may be running. */
void lua_host_free(struct lua_plugin *lua);
/* { "states": n, "busy": n, "memory": bytes in idle states }. Owned. */
json_t *lua_host_stats(struct lua_plugin *lua);

/*
 * Runs the test file at path in a fresh sandbox with the plugin's settings:
 * every global function test_* in name order, each with a system context
 * in a transaction rolled back afterwards; crm.test.route and
 * crm.test.action call the plugin's handlers. Prints "ok"/"FAIL" lines to
 * out and adds to *passed and *failed.
 */
void lua_host_run_tests(struct plugin *plugin, const char *path, FILE *out, int *passed, int *failed);

#endif
