/*
 * plugin_registry_internal.h - what the plugin loader (plugin.c) and the registry
 * (plugin_registry.c) share: the structures of a loaded plugin, its staged
 * registrations and the handler tables. Not a public header: the hosts and
 * the engine see plugin_registry.h, the command line plugin.h.
 */
#ifndef CRM_PLUGIN_REGISTRY_INTERNAL_H
#define CRM_PLUGIN_REGISTRY_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include "plugin_registry.h"
#include "cron.h"
#include "semver.h"
#include "../../sdk/crm_plugin.h"

#define MAX_ROUTE_SEGMENTS  8

struct pending_hook {
	char *object;              /* NULL = every object */
	enum event_kind kind;
	bool async;
	event_fn fn;
	void *data;
};

struct handler {
	enum plugin_handler_kind kind;
	struct plugin *plugin;
	char *name;                /* action: "plugin.name"; job: name; route: "GET /p/x" */
	char *method;              /* route */
	int segment_count;         /* route */
	char *segments[MAX_ROUTE_SEGMENTS];
	char *schedule;            /* job */
	long long interval;        /* job: seconds ("every"; for at/cron the cap of the retry delay) */
	bool timed;                /* job: "at HH:MM" or "cron ...": runs at the times of cron */
	struct cron cron;
	plugin_handler_fn fn;
	void *data;
	/* route registered with { public = true }: served under /api/v1/public, as the guest */
	bool is_public;
	int rate_limit, rate_period;   /* public: at most rate_limit requests per rate_period s per address */
	size_t max_body;               /* public: body cap in bytes */
	char secret_env[PLUGIN_SECRET_ENV_MAX + 1];   /* public, signed: the secret's variable ("" unsigned) */
	int max_age;                   /* signed: seconds a signature's timestamp may lie from now */
	/* action declared in plugin.yaml `actions:` (a button on the object's records), else all NULL */
	const struct meta_object *object;
	json_t *label, *confirm;   /* owned: text or { en, zh } */
	struct expr *when;         /* owned: the button shows on a record for which it holds; NULL: always */
	atomic_llong calls, errors, total_us, max_us;
	/* job state: under plugins->jobs_lock */
	time_t next_run, last_start, last_end;
	long long runs, failures;
	int consecutive_failures;
	char last_error[256];
};

struct plugin {
	struct plugins *owner;
	json_t *action_decls;      /* plugin.yaml actions: { name: { object, label, when, confirm, line, column } } */
	char *name, *version_text, *description, *dir, *manifest_path;
	struct semver version;
	char *lua_file, *library;
	json_t *requires;          /* name -> range text */
	json_t *require_pos;       /* name -> [line, column] */
	json_t *defaults;          /* plugin.yaml config, or NULL */
	json_t *config;            /* merged settings (always an object) */
	char *config_text;         /* config as JSON text, for C plugins */
	bool system_access;
	long long instructions;
	size_t memory;
	bool parsed;               /* the manifest was read without errors */
	int mark;                  /* dependency walk: 0 new, 1 on the path, 2 done */
	bool loading;
	struct lua_plugin *lua;
	void *dl;
	struct crm_plugin *self;
	int pending_hook_count, pending_hook_cap;
	struct pending_hook *pending_hooks;
	int pending_handler_count, pending_handler_cap;
	struct handler **pending_handlers;
	json_t *hooks;             /* ["object event", ...] registered, for `crm plugins` */
	int owned_count, owned_cap;
	void **owned;              /* adapters of C callbacks, freed with the plugin */
};

struct plugins {
	struct crm_kernel *kernel;
	char *plugins_dir;
	int count;                 /* loaded, in dependency order */
	struct plugin **items;
	int all_count;             /* every manifest read (freed with the set) */
	struct plugin **all;
	int handler_count, handler_cap;
	struct handler **handlers;
	pthread_mutex_t jobs_lock;
	atomic_bool ticking;
	struct crm_host host;
};

/* Keeps ptr until the plugin is freed; returns it. */
void *plugin_own(struct plugin *plugin, void *ptr);
void plugin_handler_free(struct handler *h);
/* Forgets the staged registrations of a plugin that failed to load. */
void plugin_pending_clear(struct plugin *plugin);
/* Commits a plugin's staged hooks and handlers (it loaded completely). CRM_OK or CRM_EINVAL with err. */
int plugin_commit_registrations(struct plugin *plugin, char *err, size_t errlen);

#endif
