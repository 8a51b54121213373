/*
 * meta_model.h - the metadata model: objects, fields, rules, indexes, views,
 * roles, workflows and labels, as the loader (meta.h) builds them from YAML,
 * and the lookups in it. Immutable once loaded; shared read-only by all
 * threads. The expression language compiles against these types without
 * depending on the loader, which parses expressions.
 */
#ifndef CRM_META_MODEL_H
#define CRM_META_MODEL_H

#include "cron.h"
#include "calendar.h"
#include <stdint.h>
#include "crm.h"

struct expr;

enum field_type {
	FIELD_TEXT, FIELD_TEXTAREA, FIELD_EMAIL, FIELD_PHONE, FIELD_URL,
	FIELD_INT, FIELD_DECIMAL, FIELD_MONEY, FIELD_PERCENT, FIELD_BOOL,
	FIELD_DATE, FIELD_DATETIME, FIELD_ENUM, FIELD_MULTIENUM, FIELD_REF,
	FIELD_USER, FIELD_JSON, FIELD_GEO, FIELD_AUTONUMBER, FIELD_FORMULA,
	FIELD_ROLLUP,
	FIELD_TYPE_COUNT
};

/* How a value of a type is stored and compared. */
enum value_kind { KIND_TEXT, KIND_INT, KIND_REAL, KIND_BOOL, KIND_JSON };

enum on_delete { ON_DELETE_RESTRICT, ON_DELETE_SET_NULL, ON_DELETE_CASCADE };

enum rollup_measure { ROLLUP_COUNT, ROLLUP_SUM, ROLLUP_MIN, ROLLUP_MAX, ROLLUP_AVG };

/* A source position, for messages. file is borrowed from the meta's file table. */
struct meta_pos {
	const char *file;
	int line, column;
};

/* An i18n text: { en: ..., zh: ... } or a plain string (stored under "en"). */
struct meta_label {
	int count;
	char **lang;   /* owned */
	char **text;   /* owned */
};

struct meta_object;

struct meta_field {
	char *name;
	enum field_type type;
	struct meta_label label;
	struct meta_pos pos;
	bool system;           /* id, created_at, ... : not writable, not in YAML */
	bool required, search, unique, readonly;
	bool personal;         /* personal data: cleared by `crm gdpr erase` */
	bool has_min, has_max;
	double min, max;       /* numbers: value bounds; text: max is the length in characters */
	int max_length;        /* text types; 0 = default (text 255, textarea 32000) */
	int scale;             /* decimal places for decimal/money/percent (money 2, percent 2, decimal 6) */
	json_t *default_value; /* owned; NULL = none */
	/*
	 * default: $me, $user.<field>, today() or now(): worked out when a record
	 * is created, from the caller and the clock (DEFAULT_VALUE: default_value)
	 */
	enum field_default { DEFAULT_VALUE, DEFAULT_ME, DEFAULT_USER_FIELD, DEFAULT_TODAY, DEFAULT_NOW } default_kind;
	char *default_user_field;        /* owned: DEFAULT_USER_FIELD's field of the user object */
	/* enum, multienum */
	int value_count;
	char **values;         /* owned */
	struct meta_label *value_labels; /* owned, value_count entries (may be empty labels) */
	/* ref, user */
	char *to;                        /* target object name (user: "user") */
	const struct meta_object *target;/* resolved after loading */
	enum on_delete on_delete;
	/* formula: an expression over this object's fields and ref paths */
	char *formula;                   /* source text */
	struct expr *formula_expr;       /* owned, parsed */
	enum field_type result_type;     /* formula: `returns:` (default decimal) */
	/* rollup: measure over the child records whose `child_field` points here */
	char *rollup_of;                 /* "opportunity.account" */
	const struct meta_object *rollup_child;
	const struct meta_field *rollup_child_field; /* the ref on the child */
	enum rollup_measure rollup_measure;
	char *rollup_measure_field;      /* NULL for count */
	char *rollup_where;              /* source text or NULL */
	struct expr *rollup_where_expr;  /* owned or NULL */
	/*
	 * the measure or where reads a rollup of the child (itself or through a
	 * formula): when one of the child's rollups moves, this one is refreshed too
	 */
	bool rollup_reads_rollup;
	/* money: `currency:` a fixed code ("EUR") or the name of the field holding each record's (currency_field) */
	char *currency;                  /* owned or NULL */
	const struct meta_field *currency_field; /* resolved: a text or enum field of the same object, or NULL */
	/* autonumber */
	char *format;                    /* "CASE-{00000}" */
};

struct meta_rule {
	char *when;               /* expression: true means the record is invalid */
	struct expr *expr;        /* owned */
	char *message;            /* the server's text: message_label's en (or first) text */
	struct meta_label message_label;   /* message: text or { en, zh } */
	char *field;              /* optional: the field the error is reported on */
	struct meta_pos pos;
};

struct meta_index {
	int field_count;
	char **fields;            /* owned */
	bool unique;
	struct meta_pos pos;
};

struct meta_object {
	char *name;
	struct meta_label label;
	struct meta_label label_plural; /* "Opportunities": navigation and list titles (may be empty: label) */
	char *module;             /* navigation group, may be NULL */
	struct meta_label module_label; /* module: { name, label }: how people read the group (may be empty) */
	struct meta_pos pos;
	int field_count;          /* system fields first, then YAML order */
	struct meta_field *fields;
	int rule_count;
	struct meta_rule *rules;
	int index_count;
	struct meta_index *indexes;
	json_t *views;            /* owned: { list: [...], kanban: {...}, ... } as written */
	/* append_only: true: records are created, never changed or deleted (a ledger: corrections are
	 * reversing entries); the one exception is a GDPR erase of personal fields */
	bool append_only;
	/* rollups elsewhere that aggregate this object (this is the child) */
	int rollup_parent_count;
	const struct meta_field **rollup_parents;
	/* field name lookup: open addressing, slots hold index + 1 (0 = empty); built after loading */
	int field_slot_count;
	int *field_slots;
};

/* --- roles (access control) --- */

enum access_op { ACCESS_READ, ACCESS_CREATE, ACCESS_UPDATE, ACCESS_DELETE, ACCESS_OP_COUNT };

/*
 * What a role may do with the records of an object, per operation:
 * none, own (owner = the caller), team (the owner is in the caller's team or
 * among the caller's reports, all the way down), all, or an expression over
 * the record ($me, $user.<field>, dotted paths). For create, `true` means
 * all and `false` none.
 */
enum access_level { LEVEL_NONE, LEVEL_OWN, LEVEL_TEAM, LEVEL_ALL, LEVEL_EXPR };

struct meta_access_rule {
	enum access_level level;
	char *text;                 /* the expression source (LEVEL_EXPR), else NULL */
	struct expr *expr;          /* owned, parsed (LEVEL_EXPR), else NULL */
	struct meta_pos pos;
};

struct meta_role_object {
	const struct meta_object *object;
	struct meta_access_rule ops[ACCESS_OP_COUNT];   /* unspecified: none */
	bool change_owner;          /* may write the owner field (assign records) */
};

enum field_access { FIELD_ACCESS_WRITE, FIELD_ACCESS_READ, FIELD_ACCESS_HIDDEN };

struct meta_role_field {
	const struct meta_object *object;
	const struct meta_field *field;
	enum field_access access;
};

enum user_kind { USER_EMPLOYEE, USER_PARTNER, USER_CONSUMER };

/*
 * One section of a role's home page (role `home: { sections: [...] }`): a
 * short list of one object's records under the caller's rules. Positions
 * are kept for the checks that run once every object is loaded.
 */
struct meta_home_section {
	const struct meta_object *object;   /* resolved after every file is read */
	char *object_name;
	struct meta_label title;            /* may be empty: the object's plural label */
	char *filter;                       /* an expression over the object (views.home's), may be NULL */
	struct expr *filter_expr;           /* owned, parsed; NULL without a filter */
	char *sort;                         /* "field" or "-field", may be NULL */
	int field_count;
	char **fields;                      /* none: the object's list columns */
	int limit;                          /* 1..50, default 10 */
	bool new_button;                    /* `new: true`: a New button where the caller may create */
	struct meta_pos pos, object_pos, filter_pos, sort_pos;
	struct meta_pos *field_pos;         /* parallel to fields */
};

struct meta_role {
	char *name;
	struct meta_label label;
	enum user_kind kind;        /* which kind of user the role is for (default employee) */
	bool admin;                 /* every right on every object and field */
	int object_count;
	struct meta_role_object *objects;   /* objects not listed: no access */
	int field_count;
	struct meta_role_field *fields;     /* fields not listed: write where the object is writable */
	/* navigation: the modules and objects the UI lists for this role, in order (none: every readable object) */
	int navigation_count;
	char **navigation;
	/* home: the role's own home page (a portal); extensions append sections in load order */
	struct meta_label home_title;       /* may be empty: the UI's own "Home" */
	int home_count;
	struct meta_home_section *home;     /* none: the objects' views.home */
	struct meta_pos pos;
};

/* --- workflows (section 4 of DESIGN.md) --- */

/*
 * What a transition or a timer does, in order. A scalar "plugin.action"
 * runs a plugin action on the record; `notify_owner` / `notify_manager`
 * are short for { notify: owner } / { notify: manager }.
 *   { set: { field: value } }                  values written with the state
 *   { create: { object: x, values: {...}, link: field } }
 *                                              creates a record; link (may be
 *                                              absent) is a ref field of the
 *                                              record that receives the new id
 *   { notify: owner | manager | requester | user:<login>, message: "..." }
 *                                              an in-app notification record
 *   { transition: name }                       timers only: fires the named
 *                                              transition of the same workflow
 *                                              on the record, as the system
 * Values may be literals or references: "$record.<field>" (the record as it
 * will be written), "$created.<object>" (the id of the record an earlier
 * create of the same list made), "$me" (the acting user), "$now", "$today".
 */
enum workflow_action_kind { WORKFLOW_ACTION_PLUGIN, WORKFLOW_ACTION_SET, WORKFLOW_ACTION_CREATE,
                            WORKFLOW_ACTION_NOTIFY, WORKFLOW_ACTION_TRANSITION };

struct meta_workflow_action {
	enum workflow_action_kind kind;
	char *plugin_action;        /* PLUGIN: "sales.create_order" */
	json_t *values;             /* owned. SET: { field: value }; CREATE: the new record's values */
	char *object;               /* CREATE: the object to create */
	char *link;                 /* CREATE: ref field of the record set to the new id, or NULL */
	char *notify;               /* NOTIFY: "owner", "manager", "requester" or "user:<login>" */
	char *message;              /* NOTIFY: the text, or NULL (a default names the transition) */
	bool email;                 /* NOTIFY: channel: email (an outbox e-mail to the user's address), else in-app */
	char *template_name;        /* NOTIFY by e-mail: the template (about the workflow's object, no vars) */
	char *transition;           /* TRANSITION: the name of a transition of the timer's workflow */
	/*
	 * CREATE: who owns the new record: "record" (the record's owner, the
	 * default), "caller", or a user field of the record. The engine assigns
	 * it after the actions ran, whoever the caller is.
	 */
	char *owner;
	bool as_system;             /* as: system: the action runs with every right, audited on behalf of the caller */
	struct meta_pos pos;
};

/*
 * role:R (every active user of role R), user:<login>, owner_manager (the
 * record owner's manager), requester_manager (the manager of who fired the
 * transition), role:R in team of owner (users of role R in the owner's
 * team), field:<path> (the user a user field names, through refs:
 * field:partner.channel_manager).
 */
enum approver_kind {
	APPROVER_ROLE, APPROVER_USER, APPROVER_OWNER_MANAGER, APPROVER_REQUESTER_MANAGER, APPROVER_ROLE_IN_OWNER_TEAM,
	APPROVER_FIELD,
};

struct meta_approver {
	enum approver_kind kind;
	char *name;                 /* the role name, the user's login or the field path; NULL for the managers */
};

/* One step of an approval: any one of its approvers, or every one (all). */
struct meta_approval_step {
	int approver_count;
	struct meta_approver *approvers;
	bool all;
};

/*
 * approval: { when: expr, approvers: [role:x | user:login | owner_manager],
 * steps: N | [ { approvers: [...], mode: any|all } ], mode: any|all,
 * self_approval: bool }. `steps: N` repeats the approvers N times; each
 * step needs someone who did not approve an earlier one.
 */
struct meta_approval {
	char *when;                 /* NULL: always */
	struct expr *when_expr;     /* owned */
	int step_count;
	struct meta_approval_step *steps;
	bool self_approval;
	struct meta_pos pos;
};

struct meta_transition {
	char *name;
	bool from_any;              /* from: '*' (every state but the terminal ones) */
	int from_count;
	char **from;
	char *to;
	int require_count;
	char **require;             /* fields that must be set after the transition's values */
	char *when;                 /* guard, or NULL */
	struct expr *when_expr;     /* owned */
	struct meta_label message;  /* what the end user reads when the guard does not hold (may be empty) */
	struct meta_label label;    /* the button's text (may be empty: the name) */
	int role_count;
	char **roles;               /* who may fire it; none listed: whoever may update the record */
	bool direct;                /* a plain write of `to` from `from` counts as this transition (for
	                               code that writes the field, like a plugin's claim); such a
	                               transition has no require, when, roles, do or approval */
	int action_count;
	struct meta_workflow_action *actions;
	struct meta_approval *approval;   /* owned, or NULL */
	struct meta_pos pos, when_pos;
};

/*
 * timers: [{ name, when: expr, untouched_for: 4h, every: 1h, do: [...] }]:
 * every `every`, the actions run on each live record for which `when` holds
 * and (if untouched_for) whose updated_at is older than that.
 */
struct meta_timer {
	char *name;
	char *when;                 /* may be NULL: every record */
	struct expr *when_expr;     /* owned */
	int64_t every;              /* seconds (with at/cron: the cap of the retry delay) */
	/* `at: "00:05"` or `cron: "5 0 1 * *"` (UTC) instead of every: runs at those times, once per slot */
	bool timed;
	struct cron cron;
	int64_t untouched_for;      /* seconds, 0 = not a condition */
	int action_count;
	struct meta_workflow_action *actions;
	struct meta_pos pos, when_pos;
	/*
	 * A clock: due names a datetime field, the deadline. The timer fires on
	 * records whose deadline has passed and is not paused. While pause_when
	 * holds, the clock stops: the run stamps paused_since; when it no longer
	 * holds, the run adds the paused time (business minutes of calendar, or
	 * wall-clock minutes without one) to paused_minutes and pushes due by it.
	 * All NULL: a plain timer.
	 */
	char *due;
	char *pause_when;
	struct expr *pause_expr;    /* owned */
	char *calendar;
	char *paused_since;
	char *paused_minutes;
	struct meta_pos due_pos, pause_pos, calendar_pos, paused_since_pos, paused_minutes_pos;
	/* `{ name, extend: true, enabled: false }` in a workflow extension: only while loading (merge_workflows) */
	bool switched_off;
};

/*
 * kpi: a figure the kernel computes per person, team and period from the
 * records of one object (GET /api/v1/kpis): measure over the records for
 * which filter holds whose date falls in the period and whose owner field
 * names one of the people, beside a target and the previous period.
 */
enum kpi_period { KPI_MONTH, KPI_QUARTER, KPI_YEAR };
enum kpi_category { KPI_OPERATING, KPI_BUSINESS_VALUE };
/*
 * Where a kpi's figure comes from: the records of its object (measure count,
 * sum/avg/min/max(f), count_distinct(f) or retention(f)); the audit trail
 * (`source: audit`, _crm_audit: count, count_distinct(user | record | object)
 * of the audited actions of the people); or a formula over other kpis
 * evaluated for the same people and period (`formula:`).
 */
enum kpi_source { KPI_SOURCE_RECORDS, KPI_SOURCE_AUDIT, KPI_SOURCE_FORMULA };
/* dashboards: { role: scope }: a role's dashboard shows the kpi for these people (enum kpi_scope's order) */
enum kpi_dashboard_scope { KPI_DASHBOARD_ME, KPI_DASHBOARD_TEAM, KPI_DASHBOARD_ALL };

struct meta_kpi {
	char *name;
	struct meta_label label;
	char *description;
	char *object_name;
	const struct meta_object *object;  /* resolved */
	char *measure;                     /* "count", "sum(amount)": as GET /reports takes it */
	char *filter;                      /* may be NULL */
	struct expr *filter_expr;          /* owned */
	char *date_name, *owner_name;      /* owner default "owner" */
	const struct meta_field *date_field, *owner_field;   /* resolved */
	enum kpi_period period;
	enum kpi_category category;
	bool lower_is_better;              /* direction: down */
	/* target: a number, or the sum of a field of target records (object, field, owner, date) in the period */
	bool has_target;
	double target;
	char *target_object_name, *target_field_name, *target_owner_name, *target_date_name;
	const struct meta_object *target_object;
	const struct meta_field *target_field, *target_owner, *target_date;
	struct meta_pos pos, object_pos, measure_pos, filter_pos, date_pos, owner_pos, target_pos;
	/* the evaluation model (docs/metadata.md "KPI"): see enum kpi_source */
	enum kpi_source source;
	char *formula;                     /* source formula: "deals_won / deals_closed * 100" */
	struct expr *formula_expr;         /* owned; its paths are kpi names */
	int action_count;                  /* source audit: the actions counted (default the writes) */
	char **actions;
	bool per_day;                      /* per: day: the daily figure averaged over the period's days so far */
	char *unit;                        /* count, number, money, percent, hours, days; NULL: from the measure */
	int dashboard_count;               /* dashboards: { role: me | team | all } */
	char **dashboard_roles;
	enum kpi_dashboard_scope *dashboard_scopes;
	struct meta_pos source_pos, formula_pos, actions_pos, dashboards_pos;
};

/*
 * report: figures across objects (GET /api/v1/reports/<name>). The rows of
 * the root object (its read rule, the report's filter, run-time parameters)
 * are grouped by fields or date buckets of the root or its parents; each
 * measure counts or adds up the root rows or the records of a join, a chain
 * of refs walked down (children: the records whose ref points at a record)
 * or up (parent: the record a ref points at). engine/report.c compiles a
 * join measure into a subquery per root row that reaches each joined record
 * once (IN, never a flat join), so a child join cannot multiply rows.
 */
enum report_join_kind { REPORT_JOIN_CHILDREN, REPORT_JOIN_PARENT };
enum report_bucket { REPORT_BY_NONE, REPORT_BY_DAY, REPORT_BY_WEEK, REPORT_BY_MONTH, REPORT_BY_QUARTER,
                     REPORT_BY_YEAR };
enum report_fn { REPORT_COUNT, REPORT_COUNT_DISTINCT, REPORT_SUM, REPORT_AVG, REPORT_MIN, REPORT_MAX };
enum report_view { REPORT_VIEW_TABLE, REPORT_VIEW_BAR, REPORT_VIEW_LINE, REPORT_VIEW_FUNNEL };

struct meta_report_join {
	char *name;
	enum report_join_kind kind;
	char *from_name;                   /* the join it starts from; NULL: the root */
	char *object_name, *ref_name;      /* children: object.ref; parent: ref (of from's object) */
	int from;                          /* resolved: index in joins, -1 the root */
	const struct meta_object *object;  /* resolved: the joined records' object */
	const struct meta_field *ref;      /* resolved: children: object's ref; parent: from object's ref */
	struct meta_pos pos;
};

struct meta_report_group {
	char *path;                        /* a field of the root or a path up through its refs */
	enum report_bucket by;
	char *column;                      /* the row key: path with '_' for '.', then _<by> */
	struct meta_label label;           /* may be empty: the field's label */
	const struct meta_field *field;    /* resolved: the path's last field */
	struct meta_pos pos;
};

struct meta_report_measure {
	char *name;                        /* the row key */
	struct meta_label label;
	char *measure;                     /* as written: "sum(opportunity.amount)" */
	enum report_fn fn;
	int join;                          /* resolved: index in joins, -1 the root */
	char *path;                        /* the measured path on the join's object (NULL for count) */
	const struct meta_field *field;    /* resolved: the path's last field */
	char *filter;                      /* over the measured object, may be NULL */
	struct expr *filter_expr;          /* owned */
	struct meta_pos pos, measure_pos, filter_pos;
};

struct meta_report_parameter {
	char *name;                        /* ?name=value */
	char *path;                        /* a field of the root or a path up: path = value */
	const struct meta_field *field;    /* resolved */
	struct meta_pos pos;
};

struct meta_report {
	char *name;
	struct meta_label label;
	char *description;
	char *module;                      /* the dashboard (#/dash/<module>) that shows it, or NULL */
	char *object_name;
	const struct meta_object *object;  /* resolved: the root */
	int join_count;
	struct meta_report_join *joins;
	int group_count;
	struct meta_report_group *groups;
	int measure_count;
	struct meta_report_measure *measures;
	int parameter_count;
	struct meta_report_parameter *parameters;
	char *filter;                      /* over the root, may be NULL */
	struct expr *filter_expr;          /* owned */
	char *sort;                        /* a group column or measure, '-' first for descending; may be NULL */
	int limit;                         /* 0: every group (at most 10,000) */
	enum report_view view;
	struct meta_pos pos, object_pos, filter_pos, sort_pos, view_pos;
};

/*
 * A workflow as its document defines it, with the transitions, timers,
 * terminal states and transition actions of every `extend: true` document
 * of the same name merged in (in load order).
 */
struct meta_workflow {
	char *name;
	char *object_name, *field_name;
	const struct meta_object *object;  /* resolved */
	const struct meta_field *field;    /* resolved: an enum field */
	char *initial;              /* given or the field's default or its first value */
	int terminal_count;
	char **terminal;            /* states no transition leaves */
	bool self_approval;
	int transition_count;
	struct meta_transition *transitions;
	int timer_count;
	struct meta_timer *timers;
	struct meta_pos pos, object_pos, field_pos, initial_pos;
};

/*
 * template: a named outbound message (core/engine/outbox.c renders and
 * queues it). subject and body are i18n texts with {{name}} placeholders,
 * each one of `vars` or, when `object` is given, a field of that object
 * (the record the message is about). format: text or html for e-mail (an
 * html body gets its values HTML-escaped), json for a webhook (values are
 * JSON-string-escaped; the rendered body must be JSON).
 */
enum template_format { TEMPLATE_TEXT, TEMPLATE_HTML, TEMPLATE_JSON };

struct meta_template {
	char *name;
	char *channel;                  /* "email" or "webhook" */
	enum template_format format;
	struct meta_label label;        /* what an admin reads (may be empty: the name) */
	struct meta_label subject;      /* e-mail: required; webhook: unused */
	struct meta_label body;
	char **vars;                    /* declared placeholder names */
	int var_count;
	char *object_name;              /* may be NULL */
	const struct meta_object *object;   /* resolved from object_name */
	struct meta_pos pos, subject_pos, body_pos, object_pos;
};

struct meta_plugin_ref {
	char *name;
	char *version_range;      /* may be NULL */
};

/*
 * calendar: business hours (calendar.h): a time zone and the working
 * intervals of each weekday. Holidays are records of the holiday object.
 */
struct meta_calendar {
	struct calendar calendar;   /* name (owned, the same as name) and zone (owned) */
	char *name;
	char *timezone;
	char *description;
	struct meta_label label;
	struct meta_pos pos;
};

/* app.yaml `signup:`: consumer self sign-up (POST /api/v1/auth/signup, auth.h). */
struct meta_signup {
	char *role;                 /* a role of kind consumer: what a signed-up user is given */
	char *template_name;        /* an e-mail template with vars name and link */
	char *url;                  /* the UI's address: the link is url + "/#/verify?token=..." */
	int expires_hours;          /* 1..168: how long the link works */
	struct meta_pos pos, role_pos, template_pos;
};

/*
 * app.yaml `industries:` entry: the plugins a deployment of this industry
 * enables after `plugins:` (selected by `industry:` or `crm --industry`).
 */
struct meta_industry {
	char *name;
	struct meta_label label;
	int plugin_count;
	struct meta_plugin_ref *plugins;
	struct meta_pos pos;
};

struct meta {
	char *app_name;
	char *industry;           /* the deployment's: app.yaml `industry:`, or --industry */
	int industry_count;
	struct meta_industry *industries;   /* app.yaml `industries:` */
	char **languages;         /* from app.yaml `languages:`; default [en] */
	int language_count;
	int plugin_count;
	struct meta_plugin_ref *plugins;
	int object_count;
	struct meta_object *objects;
	json_t *config;           /* owned: app.yaml `config:` map, may be NULL */
	struct meta_signup *signup;   /* owned: app.yaml `signup:`, NULL: no public sign-up */
	int role_count;
	struct meta_role *roles;  /* from `role:` documents */
	int workflow_count;
	struct meta_workflow *workflows;   /* from `workflow:` documents */
	int kpi_count;
	struct meta_kpi *kpis;             /* from `kpi:` documents */
	int report_count;
	struct meta_report *reports;       /* from `report:` documents */
	int template_count;
	struct meta_template *templates;   /* from `template:` documents */
	int calendar_count;
	struct meta_calendar *calendars;   /* from `calendar:` documents */
	char version[65];         /* hex SHA-256 of the normalised metadata */
	int file_count;
	char **files;             /* owned file names, referenced by meta_pos */
};

/* The index of object name in meta->objects, or -1. */
int meta_object_index(const struct meta *meta, const char *name);
/* FNV-1a of a name: the field lookup table's hash (the loader fills the table). */
uint32_t meta_name_hash(const char *name);
const struct meta_object *meta_find_object(const struct meta *meta, const char *name);
const struct meta_field *meta_find_field(const struct meta_object *object, const char *name);
int meta_field_index(const struct meta_object *object, const char *name); /* -1 if absent */

const struct meta_role *meta_find_role(const struct meta *meta, const char *name);
const struct meta_kpi *meta_find_kpi(const struct meta *meta, const char *name);
const struct meta_report *meta_find_report(const struct meta *meta, const char *name);
const struct meta_template *meta_find_template(const struct meta *meta, const char *name);
/*
 * The next {{name}} placeholder of a template text at or after p: returns
 * where its "{{" starts (NULL: none left), *name and *length the name (its
 * spaces trimmed; length 0 when the name is not a name), *end just past
 * "}}" (an unclosed "{{": *end = NULL).
 */
const char *meta_placeholder_next(const char *p, const char **name, size_t *length, const char **end);
const struct meta_calendar *meta_find_calendar(const struct meta *meta, const char *name);
/* An ISO 4217-shaped code: three capital letters. */
bool meta_currency_code(const char *text);
/* The role's rules for object, or NULL (no access unless admin). */
const struct meta_role_object *meta_role_object(const struct meta_role *role, const struct meta_object *object);

const struct meta_workflow *meta_find_workflow(const struct meta *meta, const char *name);
/* The workflow that moves field of object, or NULL (at most one per field). */
const struct meta_workflow *meta_workflow_for_field(const struct meta *meta, const struct meta_object *object,
                                                    const char *field);
/* The transition named name of workflow, or NULL. */
const struct meta_transition *meta_find_transition(const struct meta_workflow *workflow, const char *name);
/* True if state is in the transition's from (from: '*' takes every non-terminal state). */
bool meta_transition_leaves(const struct meta_workflow *workflow, const struct meta_transition *transition,
                            const char *state);

const char *meta_type_name(enum field_type type);
/* The storage kind of a field (formula: of its result type). */
enum value_kind meta_field_kind(const struct meta_field *field);
/* True for fields that live in a column of the object's table (not formula). */
bool meta_field_stored(const struct meta_field *field);
/* Label in lang, falling back to en, then to the name. Borrowed. */
const char *meta_label_text(const struct meta_label *label, const char *lang, const char *fallback);

/*
 * Writes to out (a FILE *), as "file:line:column: warning: ...", every label
 * a person reads that has no text in lang: objects (singular and plural),
 * modules, fields, enum values, rule messages, chart titles, transition
 * labels and guard messages, roles.
 * Returns how many.
 */
int meta_i18n_missing(const struct meta *meta, const char *lang, void *out);

#endif
