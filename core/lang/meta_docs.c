/*
 * meta_docs.c - the words of the metadata reference (docs/metadata.md) and
 * the writer that puts them beside the loaders' key tables.
 *
 * The keys themselves are never listed here as the truth: the writer walks
 * the loader's tables (meta_key_tables, meta_field_key_*, the plugin
 * manifest's tables handed in by the layer above) and looks each key up in
 * key_docs. meta_docs_check fails when a loader accepts a key that has no
 * entry here, or an entry names a key no loader accepts; tests run it, and
 * compare `crm docs metadata` with the committed docs/metadata.md.
 *
 * To document a new key: add one key_docs row { kind, key, type, allowed
 * values, default, what it does, example } in its section's block (kind is
 * the table's name in meta_key_tables: "transition", "field", ...), then
 * run `crm docs metadata > docs/metadata.md`.
 */
#include <stdarg.h>
#include <string.h>
#include "expr.h"
#include "meta_docs.h"

/* One key of one kind of map. fallback: the default ("required" if it must be given); NULL: none. */
struct key_doc {
	const char *kind;
	const char *key;
	const char *type;
	const char *values;    /* allowed values; NULL: any of the type */
	const char *fallback;
	const char *text;
	const char *example;   /* YAML */
};

/* One section of the reference: a kind of document or map, or a generated table. */
struct section_doc {
	const char *kind;      /* the anchor; a key table's kind where there is one */
	const char *title;
	const char *intro;     /* Markdown */
	const char *example;   /* a complete YAML example, or NULL */
	void (*generated)(FILE *out);   /* a table made from the loader's own lists, or NULL */
};

#define NAME_WORDS "lower-case letters, digits and `_`, not starting with a digit, at most 63 characters"
#define LABEL_TYPE "text, or a map of language codes to texts"

static const struct key_doc key_docs[] = {
	/* ---- app.yaml */
	{ "app", "app", "text", NULL, "crm",
	  "The application's name, shown by `GET /api/v1/meta`.", "app: crm" },
	{ "app", "industry", "text", NULL, NULL,
	  "The industry the deployment is for (`generic`, `automotive`, ...), shown by `GET /api/v1/meta`. When "
	  "`industries:` has an entry of that name, its plugins are enabled too. `crm --industry NAME` overrides "
	  "it for one command (`crm --industry pharma demo`, `crm --industry pharma serve`) and must name an entry.",
	  "industry: automotive" },
	{ "app", "industries", "map of industry names to [industry entries](#industry)", NAME_WORDS, "none",
	  "The industry packs one code base ships: each deployment runs the base `plugins:` plus its industry's. "
	  "`crm check` checks the base deployment and then each industry's.",
	  "industries:\n  pharma: { label: { en: Pharma, zh: 医药 }, plugins: [pharma] }" },
	{ "app", "languages", "list of language codes",
	  "codes of letters, digits, `_` and `-`, starting with a letter, at most 16 characters, each once", "[en]",
	  "The languages labels are written in; the UI offers a switch between them.", "languages: [en, zh]" },
	{ "app", "plugins", "list of plugin names or [plugin entries](#app-plugin)", "folders under `plugins/`, each once",
	  NULL,
	  "The plugins to enable. Their `objects/*.yaml` load after `metadata/`, in this order; their manifests and "
	  "code are checked and loaded in dependency order.",
	  "plugins: [sales, { name: vin, version: \"^1.0\" }]" },
	{ "app", "config", "map of plugin names to maps of settings, and kernel settings",
	  "settings the plugin's manifest declares; `currency` (an ISO 4217 code), `recycle_bin_days`, "
	  "[`outbox`](#outbox), `files_dir` (a path), `file_max_bytes` (1 to 4294967296)", "{}",
	  "Overrides plugin settings key by key, over the defaults of each manifest's `config:`. A setting the "
	  "manifest does not declare is an error. `currency: EUR` makes the UI show money fields in that "
	  "currency; `recycle_bin_days` (default 30) is how long deleted records stay restorable. "
	  "`files_dir` is where attachments' files live, outside the database (default: the database path plus "
	  "`.files`; `crm serve --files DIR` overrides it) and `file_max_bytes` the largest file one upload may "
	  "attach (default 10485760; `--max-file` overrides it).",
	  "config: { currency: EUR, sales: { claim_limit: 30 } }" },

	{ "app", "signup", "[signup settings](#signup)", NULL, "no sign-up",
	  "Consumers may sign themselves up: `POST /api/v1/auth/signup` and `POST /api/v1/auth/verify` answer (404 "
	  "without it) and the login page offers \"Sign up\".",
	  "signup: { role: consumer, template: signup_verify, url: \"https://crm.example.com\" }" },

	/* ---- app.yaml signup: consumer self sign-up */
	{ "signup", "role", "name", "a role of kind consumer", "required",
	  "The role a signed-up user gets (kind consumer, login = their e-mail address).", "role: consumer" },
	{ "signup", "template", "name", "an e-mail template without object, with vars name and link", "required",
	  "The [template](#template) of the e-mail with the one-time link, in the language the sign-up asked for "
	  "(else the app's first).", "template: signup_verify" },
	{ "signup", "url", "text", "`https://...` or `http://...`, no `#`, `?`, quotes or spaces, at most 500 "
	  "characters", "required",
	  "Where people reach the UI: the link is `url` + `/#/verify?token=...`.", "url: \"https://crm.example.com\"" },
	{ "signup", "expires_hours", "integer", "1 to 168", "24",
	  "How long the link works. A sign-up again with the same address before it is used sends a new link "
	  "(the old one stops working).", "expires_hours: 48" },

	/* ---- a plugin entry of app.yaml */
	{ "app-plugin", "name", "name", NAME_WORDS, "required",
	  "The plugin: the folder `plugins/<name>/` with its `plugin.yaml`.", "name: vin" },
	{ "app-plugin", "version", "version range",
	  "`>=1.2`, `>1.2`, `<=2`, `<2.0.0`, `=1.2.3`, `1.2`, `^1.2`, `~1.2`, `*`; several separated by spaces or "
	  "commas must all hold", "any version",
	  "The manifest's `version` must satisfy the range, or `crm check` and the server refuse to start.",
	  "version: \"^1.0\"" },

	{ "industry", "label", LABEL_TYPE, NULL, "the name",
	  "The industry's name as people read it.", "label: { en: Automotive, zh: 汽车 }" },
	{ "industry", "plugins", "list of plugin names or [plugin entries](#app-plugin)",
	  "folders under `plugins/`, none of them in app.yaml's `plugins:`", "required",
	  "The plugins a deployment of this industry enables after app.yaml's `plugins:`, in this order, so they "
	  "may require and extend every base plugin. Their `demo` jobs run in `crm demo` after the base ones.",
	  "plugins: [automotive]" },

	/* ---- object */
	{ "object", "object", "name", NAME_WORDS "; not starting with `_` or `sqlite_`", "required",
	  "The object's name: its table, its API path (`/api/v1/objects/<name>`), what refs, roles and workflows "
	  "name. Defined once; other documents add to it with `extend: true`.",
	  "object: vehicle" },
	{ "object", "label", LABEL_TYPE, NULL, "the name",
	  "What people read. In an extension it replaces the base's label.", "label: { en: Vehicle, zh: 车辆 }" },
	{ "object", "label_plural", LABEL_TYPE, NULL, "the label",
	  "The plural people read in navigation and list titles (\"Opportunities\", 商机).",
	  "label_plural: { en: Vehicles, zh: 车辆 }" },
	{ "object", "module", "name, or a [module](#module) map", NAME_WORDS, NULL,
	  "The navigation group the UI lists the object under, by name or with its label. In an extension it "
	  "replaces the base's module.",
	  "module: { name: sales, label: { en: Sales, zh: 销售 } }" },
	{ "module", "name", "name", NAME_WORDS, "required", "The group's name: objects with the same name are listed "
	  "together.", "name: realestate" },
	{ "module", "label", LABEL_TYPE, NULL, "the name, prettified",
	  "The group's heading in the navigation; one object of the group giving it is enough.",
	  "label: { en: Real estate, zh: 房产 }" },
	{ "object", "extend", "boolean", "true, false", "false",
	  "true: this document adds fields, rules, indexes and views to the object of that name defined (without "
	  "`extend`) in another file or plugin, whatever the load order. Views are merged key by key; a field name "
	  "the object has already is an error, unless the field says `extend: true` to add values to an enum "
	  "(a state for a workflow, say).",
	  "extend: true" },
	{ "object", "fields", "map of field names to [field settings](#field)",
	  "names: " NAME_WORDS "; not a [system field](#system-fields); at most 2,000 fields", NULL,
	  "The object's fields, in this order after the system fields.",
	  "fields: { vin: { type: text, required: true } }" },
	{ "object", "rules", "list of [rules](#rule)", NULL, NULL,
	  "Validation rules, checked on every create and update.",
	  "rules: [{ when: \"price < 0\", message: \"A price cannot be negative\", field: price }]" },
	{ "object", "indexes", "list of [indexes](#index)", NULL, NULL,
	  "Database indexes beyond those every object gets (refs, `owner`, unique fields).",
	  "indexes: [[model, price]]" },
	{ "object", "views", "map ([views](#views))", NULL, NULL,
	  "How the UI shows the object: list columns, a kanban board, dashboard charts. Passed to "
	  "`GET /api/v1/meta` as written.",
	  "views: { list: [vin, model, owner] }" },
	{ "object", "description", "text", NULL, NULL,
	  "For people reading the metadata; not stored.", "description: \"A vehicle a customer owns\"" },
	{ "object", "append_only", "boolean", "true, false; only in the object's own definition (not an extension)", "false",
	  "true: a ledger. Records are created and never changed, deleted or restored, by anyone: the API answers 409, "
	  "and plugins, CSV import and workflows get the same refusal; the UI offers no edit or delete (`can.update` and "
	  "`can.delete` are false in `GET /api/v1/meta`). A correction is a new, reversing entry; the audit trail shows "
	  "each entry created once. A GDPR erase still clears its personal fields. `crm check` refuses a workflow on it, "
	  "a rollup field in it and a ref or user field without `on_delete: restrict`.",
	  "append_only: true" },

	/* ---- field (which types take a key comes from the loader's table) */
	{ "field", "type", "[field type](#field-types)", "one of the [field types](#field-types)", "required",
	  "The field's type. Any type but `formula` given together with `formula:` makes a formula returning that "
	  "type (`{ type: money, formula: \"...\" }`); the keys it takes are then a formula's.",
	  "type: money" },
	{ "field", "label", LABEL_TYPE, NULL, "the field name",
	  "What people read in forms, lists and error messages.", "label: { en: Price, zh: 价格 }" },
	{ "field", "description", "text", NULL, NULL,
	  "For people reading the metadata; not stored.", "description: \"List price before discount\"" },
	{ "field", "required", "boolean", "true, false", "false",
	  "A value must be given on create and cannot be cleared (null, or an empty text, is refused: 422 "
	  "`required`).",
	  "required: true" },
	{ "field", "search", "boolean", "true, false", "false",
	  "The field is in its object's full-text index, which the kernel builds and keeps in step with every "
	  "write (an SQLite FTS5 table `<object>__search`, rebuilt by `crm migrate` when the searchable fields "
	  "change and by `crm reindex`). `GET /api/v1/objects/<object>?q=text` (or `?search=`) finds the records "
	  "holding every term of the text, in Chinese, Japanese or English alike: a term of 3 or more characters "
	  "matches any substring (trigram index, case-insensitive), a term of 1 or 2 characters (客户) is looked "
	  "for in the records the longer terms matched, else in all of them. Results rank best first (bm25) "
	  "unless `sort` is given; `GET /api/v1/search?q=text` searches every object the reader may read, "
	  "with a marked snippet per record. A field hidden from the reader neither matches nor gives a "
	  "snippet. Stored fields only (a formula is not indexed).",
	  "search: true" },
	{ "field", "unique", "boolean", "true, false", "false",
	  "No two live records hold the same value (a unique index; the recycle bin and nulls do not count).",
	  "unique: true" },
	{ "field", "readonly", "boolean", "true, false", "false",
	  "Set on create only: an update that changes it is refused. A workflow action may still fill it while "
	  "it is empty, and the system (timers' `set`, jobs, plugin code in `crm.as_system`) may change it: a "
	  "field the code keeps, such as an SLA due date.",
	  "readonly: true" },
	{ "field", "min", "number", "for texts a whole number", NULL,
	  "Numbers: the smallest value allowed. Texts: the fewest characters.", "min: 0" },
	{ "field", "max", "number", "for texts a whole number from 1 to 10,000,000", NULL,
	  "Numbers: the largest value allowed. Texts: the most characters, as `max_length` (give one of the two).",
	  "max: 100" },
	{ "field", "max_length", "integer", "1 to 10,000,000", "255 (textarea 32,000)",
	  "Texts: the most characters (not bytes).", "max_length: 17" },
	{ "field", "scale", "integer", "0 to 15", "decimal 6, money 2, percent 2",
	  "Decimal places kept; values are rounded to them. On a formula only with a decimal, money or percent "
	  "result.",
	  "scale: 4" },
	{ "field", "default", "a value of the field's type, or `$me`, `$user.<field>`, `today()`, `now()`",
	  "text: a text within `max_length`; int, decimal, money, percent: a number within `min`/`max`; bool: "
	  "true or false; date: `YYYY-MM-DD`; datetime: `YYYY-MM-DDTHH:MM[:SS]`, optionally `Z` or `+HH:MM`; enum: "
	  "one of `values`; multienum: a list of them; json: any YAML; ref and user: `$me` or `$user.<field>` only",
	  NULL,
	  "The value a create that does not give the field gets. `$me` (user fields and refs to `user`) is the "
	  "creating user, `$user.<field>` a field of the same kind of the creating user's record, `today()` and "
	  "`now()` (date, datetime and text fields) the date or time of the create. A field added to an object "
	  "that already has records (`crm migrate`, `crm serve`) gives them its literal default too: a new bool "
	  "with `default: false` reads false on the old records, not null (no row is rewritten). `$me`, "
	  "`$user.<field>`, `today()` and `now()` are not worked out for records that exist (they have no "
	  "creating user or time of create to take them from), nor is the default of a `unique` field: on those "
	  "the field reads null until set.",
	  "default: prospecting" },
	{ "field", "values", "list of texts or [enum values](#enum-value)",
	  "texts of 1 to 64 characters without control characters, each once", "required for enum and multienum",
	  "The values the field may hold, in display order (select lists, kanban columns, chart bars).",
	  "values: [sedan, suv, van]" },
	{ "field", "to", "object name", "any object of the metadata or an enabled plugin", "ref: required; user: `user`",
	  "The object a ref points to.", "to: account" },
	{ "field", "on_delete", "text", "restrict, set_null, cascade", "ref: restrict; user: set_null",
	  "What deleting the target does to the records that point at it. restrict: the delete is refused while "
	  "live records point at it; cascade: they go to the recycle bin with it (and come back with it); "
	  "set_null: the ref is cleared when the target is purged from the recycle bin. A required field cannot "
	  "use set_null.",
	  "on_delete: cascade" },
	{ "field", "formula", "[expression](#expressions)", "over the record's fields and ref paths",
	  "required for formula",
	  "Computed on every read, not stored: it cannot be written, required or indexed. A formula may use "
	  "other formulas, but not in a cycle.",
	  "formula: \"price * (100 - discount) / 100\"" },
	{ "field", "returns", "field type", "text, int, decimal, money, percent, bool, date, datetime", "decimal",
	  "A `type: formula` field's result type. With the shortcut (`type: money` and `formula:`) the type is the "
	  "result and `returns` is refused.",
	  "returns: money" },
	{ "field", "of", "text", "`child_object.ref_field`: a ref (or user field) of the child to this object",
	  "required for rollup",
	  "The child records a rollup aggregates: those whose ref points at this record. Recomputed in the "
	  "transaction of every child create, update, move, delete and restore; a rollup that measures a rollup "
	  "(itself or through a formula) is recomputed after it, up the refs, so line totals, a quote's subtotal, "
	  "its grand total and an account's sum of quotes move together. Loops of such rollups are refused.",
	  "of: opportunity.account" },
	{ "field", "measure", "text",
	  "count, sum(f), avg(f) of a number field f of the child, min(f), max(f) of a number, date or datetime field; "
	  "f may be a stored field, a rollup of the child or a formula over the child's own fields",
	  "count",
	  "What the rollup computes over the children. avg keeps 6 decimal places, sum, min and max the measured "
	  "field's. A formula that reads another record (`account.x`), the day (`today()`, `now()`) or the reader "
	  "(`$me`, `$user`) cannot be measured: the stored total would go stale when they change. A money, decimal "
	  "or percent formula counts at its scale (each line's cents, as shown).",
	  "measure: sum(amount)" },
	{ "field", "where", "[expression](#expressions)", "over the child's fields", "every child",
	  "Only the children for which it holds count.", "where: \"stage = 'won'\"" },
	{ "field", "format", "text",
	  "one `{0...}` placeholder of 1 to 18 zeros and no other braces; at most 255 characters",
	  "required for autonumber",
	  "The autonumber's text: the next number, padded with zeros to the placeholder's width.",
	  "format: \"CASE-{00000}\"" },
	{ "field", "currency", "text", "an ISO 4217 code (three capital letters) or the name of a text or enum field of "
	  "the object", "the company currency (app.yaml `config.currency`)",
	  "The currency of a money field, money formula or rollup of money. A field name lets each record carry its own (a quote in "
	  "USD): the UI shows the code beside the amount, and reports (`GET /api/v1/reports`) and rollups that sum "
	  "it convert each amount into the company currency at the `exchange_rate` record valid that day (the latest "
	  "`valid_from` on or before it; rate = company currency per unit), rounded to the cent before adding up. An "
	  "amount whose currency has no rate counts as null (left out). A rollup keeps the figure of its last refresh.",
	  "currency: currency" },
	{ "field", "personal", "boolean", "true, false", "false",
	  "Personal data: `crm gdpr erase` clears it and scrubs it from the audit trail, keeping the record.",
	  "personal: true" },
	{ "field", "extend", "boolean", "true, false; only in an object document with `extend: true`", "false",
	  "true: the field is defined elsewhere and this entry adds `values` to it (the only other key it takes), "
	  "after its own values, in load order; a value it has already is an error. Its type comes from the "
	  "definition.",
	  "status: { extend: true, values: [{ value: waiting_customer, label: { en: Waiting for the customer } }] }" },

	/* ---- an enum value */
	{ "enum-value", "value", "text", "1 to 64 characters without control characters; each once", "required",
	  "The value stored and sent by the API.", "value: won" },
	{ "enum-value", "label", LABEL_TYPE, NULL, "the value",
	  "What people read for the value.", "label: { en: Closed Won, zh: 赢单 }" },

	/* ---- a rule */
	{ "rule", "when", "[expression](#expressions)", "over the record's fields and ref paths", "required",
	  "True when the record is invalid: the create or update is refused with 422.",
	  "when: \"model = 'van' and price is null\"" },
	{ "rule", "message", LABEL_TYPE, NULL, "required",
	  "The error the client receives (the en text, or the first given); `GET /api/v1/meta` lists every "
	  "language under `message_label` for the UI.", "message: { en: \"A van needs a price\", zh: \"厢式车需要价格\" }" },
	{ "rule", "field", "field name", "a field of the object", NULL,
	  "The field the error is reported on (`errors[].field`); without it the error is the record's.",
	  "field: price" },

	/* ---- an index in the map form */
	{ "index", "fields", "list of field names", "stored fields of the object (not formulas), each once",
	  "required",
	  "The indexed fields, in order: the filter fields first, then the sort field.",
	  "fields: [account, name]" },
	{ "index", "unique", "boolean", "true, false", "false",
	  "No two live records hold the same values in these fields.", "unique: true" },

	/* ---- views: passed through, not checked by the loader */
	{ "views", "list", "list of field names", "fields of the object", "the first six non-system fields",
	  "The columns of the list, in order; the first, if a text, email, formula or autonumber, is the "
	  "record's title.",
	  "list: [name, account, amount, stage, owner]" },
	{ "views", "kanban", "map: `group_by` (an enum field), `sum` (a number field), `card`", NULL, "no board",
	  "A board with a column per value of `group_by`; moving a card fires the workflow transition that makes "
	  "the move. `card: { title, subtitle, fields: [up to three] }` chooses what a card shows (default: the "
	  "list's first text field and `sum`); `crm check` checks that each names a field.",
	  "kanban: { group_by: stage, sum: amount, card: { title: name, subtitle: account, fields: [amount, close_date] } }" },
	{ "views", "home", "list of sections", "each `{ title, filter, sort, fields, limit }`", "none",
	  "Sections of each person's home page that list this object's records: `filter` an expression (with `$me`, "
	  "`today()`, `now()`), `sort` a field (`-` first for descending), `fields` the columns, `limit` 1 to 50 "
	  "(default 10). The caller's access rules apply as in any list; `crm check` checks each part.",
	  "home: [{ title: { en: My tasks due, zh: 我的待办 }, filter: \"owner = $me and status = 'open'\", sort: due_at }]" },
	{ "views", "composer", "map: `object`, `ref`, `fields`", "a child object, its ref field to this object, its fields", "none",
	  "A quick form on this object's record pages that creates a child record linked to it (log a call, add a "
	  "task or a note): the child `object`, its `ref` field to this object, the `fields` to fill. `crm check` "
	  "checks each part.",
	  "composer: { object: activity, ref: opportunity, fields: [kind, subject, due_at] }" },
	{ "views", "lines", "map ([line items](#lines-view))", "`{ object, ref, fields, order }`", "none",
	  "Child records edited as a grid on this object's record page (the lines of a quote or an order): one row "
	  "per child, added, changed, reordered and removed together and saved in one transaction. `crm check` "
	  "checks each part.",
	  "lines: { object: quote_line, ref: quote, fields: [product, quantity, unit_price], order: sort_order }" },
	{ "views", "console", "map ([console](#console-view))", "`{ queue, sort, columns, fields, clocks, ... }`", "none",
	  "A work page for this object's records in the web UI (`#/console/<object>`): a queue, the selected record "
	  "with its clocks counting down and related lists, and the records of its customer beside it (the service "
	  "console of a case). `crm check` checks each part.",
	  "console: { queue: \"owner = $me and status = 'open'\", sort: resolution_due, clocks: [{ due: resolution_due }] }" },
	{ "views", "charts", "list of charts",
	  "each `{ title, group, measure, filter, by, type: bar }`: `title` a label, `group` a field, `measure` "
	  "count, sum(f), avg(f), min(f) or max(f), `filter` an expression, `by` year, month or day for date groups",
	  "charts derived from the board",
	  "Dashboard bar charts, one report (`GET /api/v1/reports/<object>`) each.",
	  "charts: [{ title: { en: Pipeline by stage }, group: stage, measure: sum(amount), type: bar }]" },

	/* ---- views.lines */
	{ "lines-view", "object", "name", "an object", "required",
	  "The child object, one record a line.", "object: quote_line" },
	{ "lines-view", "ref", "name", "a ref field of the child to this object", "required",
	  "The child's field that links a line to the record; the grid sets it on the lines it adds.",
	  "ref: quote" },
	{ "lines-view", "fields", "list of field names", "1 to 12 fields of the child, each once, not `ref`", "required",
	  "The grid's columns, in order. Each is edited with the form's widget for its type (a ref with its "
	  "picker); formula, rollup, read-only and system fields, and those the caller may only read, are shown as "
	  "text.",
	  "fields: [product, quantity, unit_price, discount, line_total]" },
	{ "lines-view", "order", "name", "a writable int field of the child", "the order lines were added",
	  "Keeps the order the user gives the lines: the grid lists them by this field, offers move up and down, "
	  "and writes 1, 2, 3... into it when it saves.",
	  "order: sort_order" },

	/* ---- views.console */
	{ "console-view", "title", "text, or a map of language codes to texts", "", "the object's plural label",
	  "The page's title and its entry in the navigation.", "title: { en: Service console, zh: 服务工作台 }" },
	{ "console-view", "queue", "[expression](#expressions)", "over the object (with `$me`, `$user.<field>`)", "required",
	  "The records to work on, listed on the left under the caller's read rule: my open cases and the "
	  "unassigned ones of my team's queues.",
	  "queue: \"status = 'open' and (owner = $me or (owner = null and queue.team = $user.team))\"" },
	{ "console-view", "sort", "name", "a field, `-` first for descending", "the first clock's `due`",
	  "The queue's order (empty values last).", "sort: resolution_due" },
	{ "console-view", "columns", "list of field names", "1 to 24 fields", "the list view's first four",
	  "What each queue entry shows: the first as its title, the others under it.",
	  "columns: [number, subject, priority, status]" },
	{ "console-view", "fields", "list of field names", "1 to 24 fields", "the list view's",
	  "The selected record's fields in the middle, above its transition buttons.",
	  "fields: [number, subject, status, account, contact]" },
	{ "console-view", "clocks", "list of [clocks](#console-clock)", "1 to 8 `{ due, done }`", "none",
	  "Deadlines shown as live countdowns (\"2h 15m left\", \"overdue 40m\"); the queue shows each record's "
	  "first clock not yet done.",
	  "clocks: [{ due: first_response_due, done: first_responded_at }, { due: resolution_due, done: resolved_at }]" },
	{ "console-view", "paused", "name", "a datetime field", "none",
	  "While it holds a time the clocks show paused, not a countdown.", "paused: sla_paused_since" },
	{ "console-view", "related", "list of [panels](#console-panel)", "1 to 8, each `ref` a ref to this object", "none",
	  "Child records shown under the selected record (its SLA milestones).",
	  "related: [{ object: case_milestone, ref: case, fields: [kind, status, due_at] }]" },
	{ "console-view", "suggest", "text", "a plugin route path with `{id}`: lower-case letters, digits, `_-/{}`",
	  "none",
	  "`GET /api/v1/plugins/<suggest>` with the record's id answers a list of records to suggest (`id` and a "
	  "title), each with a Link action that sets `link` to it; a 404 shows an empty panel.",
	  "suggest: \"service/cases/{id}/suggestions\"" },
	{ "console-view", "link", "name", "a ref field of the object", "required with `suggest`",
	  "The field a suggestion's Link sets.", "link: kb_article" },
	{ "console-view", "customer", "name", "a ref field of the object", "required with `panels`",
	  "The record the right-hand panels are about (the case's account).", "customer: account" },
	{ "console-view", "panels", "list of [panels](#console-panel)", "1 to 8, each `ref` a ref to `customer`'s object",
	  "none",
	  "The customer's 360 beside the record: each panel the records of an object linked to it; a panel of an "
	  "object the caller's role may not read is left out.",
	  "panels: [{ object: contact, ref: account, fields: [full_name, phone] }]" },
	{ "console-clock", "due", "name", "a datetime field", "required",
	  "When the deadline falls.", "due: resolution_due" },
	{ "console-clock", "done", "name", "a datetime field", "none",
	  "When it was met: a clock with this set shows met (in time) or violated (late), no longer counting.",
	  "done: resolved_at" },
	{ "console-panel", "object", "name", "an object", "required", "Whose records the panel lists.",
	  "object: entitlement" },
	{ "console-panel", "ref", "name", "a ref field of `object` to the record", "required",
	  "The field linking them to the selected record (related) or to the customer (panels).", "ref: account" },
	{ "console-panel", "fields", "list of field names", "fields of `object`", "required",
	  "What each entry shows: the first as a link to the record.", "fields: [number, service_product, ends_on]" },
	{ "console-panel", "filter", "[expression](#expressions)", "over `object`", "every record",
	  "Which of them the panel lists.", "filter: \"status = 'open'\"" },
	{ "console-panel", "sort", "name", "a field of `object`, `-` first for descending", "newest first",
	  "Their order.", "sort: -opened_at" },
	{ "console-panel", "limit", "integer", "1 to 50", "10", "The most entries.", "limit: 5" },
	{ "console-panel", "title", "text, or a map of language codes to texts", "", "the object's plural label",
	  "The panel's heading.", "title: { en: Open cases, zh: 未结工单 }" },

	/* ---- role */
	{ "role", "role", "name", NAME_WORDS, "required",
	  "The role's name, given to users (`crm user add --role`). Defined once; other documents (a plugin's) add "
	  "objects, fields and navigation entries to it with `extend: true`. The role named `guest` is what "
	  "anonymous callers of public plugin routes act with (`crm.route(..., { public = true })`); without "
	  "one they have no rights at all.",
	  "role: sales_rep" },
	{ "role", "extend", "boolean", "true, false", "false",
	  "This document adds to a role defined elsewhere (metadata/ or another plugin), whatever the load order: "
	  "its `objects`, `fields`, `navigation` and `home` sections are appended. It may not restate an object or field the role "
	  "already lists, nor set `kind`, `admin` or `label`.",
	  "extend: true" },
	{ "role", "label", LABEL_TYPE, NULL, "the name", "What people read.", "label: { en: Sales Rep, zh: 销售代表 }" },
	{ "role", "kind", "text", "employee, partner, consumer", "employee",
	  "The kind of user the role is for.", "kind: partner" },
	{ "role", "admin", "boolean", "true, false", "false",
	  "Every right on every object and field. Only for employees, and without `objects` or `fields`; never "
	  "on the role `guest`.",
	  "admin: true" },
	{ "role", "navigation", "list of names", "modules (an object's `module`) and object names", "every object the role reads",
	  "What the role works with: the UI's navigation lists only these, in this order. Objects left out stay reachable "
	  "(links, related lists, the API); rights are unchanged.", "navigation: [sales, marketing, approval]" },
	{ "role", "objects", "map of object names to [rights](#role-object)", "objects of the metadata or plugins",
	  NULL,
	  "What the role may do with each object's records. An object not listed is closed to the role.",
	  "objects: { account: { read: all, update: own } }" },
	{ "role", "fields", "map of `object.field` to a text", "read, hidden, write", "write",
	  "Per field: `read` (may not change it), `hidden` (as if it did not exist: filters, sorts and reports on "
	  "it are refused like an unknown field), `write`. A field not listed is writable where its record is.",
	  "fields: { opportunity.discount: read }" },
	{ "role", "description", "text", NULL, NULL,
	  "For people reading the metadata; not stored.", "description: \"Works their own accounts\"" },
	{ "role", "home", "[role home](#role-home)", NULL, "the objects' `views.home`",
	  "The home page of the role's users (a partner or consumer portal): its title and sections, shown instead "
	  "of the objects' `views.home`. An extension (`extend: true`) appends its sections after the role's, in "
	  "load order.",
	  "home: { title: { en: Partner portal, zh: 伙伴门户 }, sections: [{ object: lead }] }" },

	/* ---- a role's home page */
	{ "role-home", "title", LABEL_TYPE, NULL, "Home",
	  "The page's heading. The document that defines the role gives it, else the first extension (in load "
	  "order) that does.", "title: { en: Partner portal, zh: 伙伴门户 }" },
	{ "role-home", "sections", "list of [home sections](#home-section)", "1 to 50 sections", "required",
	  "The cards of the page, in order. `GET /api/v1/meta` gives the caller `caller.home` with only the "
	  "sections of objects the caller may read.", "sections: [{ object: opportunity, limit: 5 }]" },

	/* ---- a section of a role's home page */
	{ "home-section", "object", "name", "objects of the metadata or plugins", "required",
	  "The object whose records the section lists, under the caller's rules like any list.", "object: lead" },
	{ "home-section", "title", LABEL_TYPE, NULL, "the object's plural label", "The card's heading.",
	  "title: { en: My registrations, zh: 我的报备 }" },
	{ "home-section", "filter", "expression", "an expression over the object, with `$me`, `$user.<field>`, "
	  "`today()`", "every record the caller reads",
	  "Which records the card lists (as `views.home`).", "filter: \"status in ('draft', 'submitted')\"" },
	{ "home-section", "sort", "text", "a field of the object, `-` before it for descending", "the list's order",
	  "The order of the card's records.", "sort: -created_at" },
	{ "home-section", "fields", "list of names", "fields of the object", "the object's list columns",
	  "The columns; the first links to the record. Fields the caller may not see are left out.",
	  "fields: [name, amount, stage]" },
	{ "home-section", "limit", "integer", "1 to 50", "10", "How many records the card shows.", "limit: 5" },
	{ "home-section", "new", "boolean", "true, false", "false",
	  "A \"New\" button on the card, shown only to callers who may create the object's records.", "new: true" },

	/* ---- the rights of a role on one object */
	{ "role-object", "read", "level", "none, own, team, all, true (all), false (none) or an expression", "none",
	  "Which records the role may read. own: the caller owns it; team: its owner is in the caller's team or "
	  "among the caller's reports, all the way down; an [expression](#expressions) over the record, with `$me` "
	  "and `$user.<field>`. A record the role may not read answers 404.",
	  "read: \"owner = $me or owner = null\"" },
	{ "role-object", "create", "level", "none, own, team, all, true (all), false (none) or an expression", "none",
	  "Which records the role may create (an expression is checked on the new record).", "create: true" },
	{ "role-object", "update", "level", "none, own, team, all, true (all), false (none) or an expression", "none",
	  "Which records the role may change (and fire transitions on). A change must leave the record within the "
	  "rule; a transition's move of the state is the workflow's to allow, so `status = 'draft'` lets the role "
	  "submit its draft and then no longer change it.", "update: own" },
	{ "role-object", "delete", "level", "none, own, team, all, true (all), false (none) or an expression", "none",
	  "Which records the role may delete (to the recycle bin), restore and purge.", "delete: team" },
	{ "role-object", "change_owner", "boolean", "true, false", "false",
	  "The role may write the `owner` field (assign records).", "change_owner: true" },

	/* ---- workflow */
	{ "workflow", "workflow", "name", NAME_WORDS "; each workflow once", "required",
	  "The workflow's name.", "workflow: opportunity_stage" },
	{ "workflow", "extend", "boolean", "true, false", "false",
	  "true: this document adds to the workflow of that name defined (without `extend`) in another file or "
	  "plugin, whatever the load order: `transitions` (new names, or `extend: true` ones adding actions to a "
	  "transition), `timers` (new names) and `terminal` states. It may not give `object`, `field`, `initial` or "
	  "`self_approval`. The merged workflow is checked as a whole; a new state must first be added to the state "
	  "field's values (a field with `extend: true` in an object extension).",
	  "extend: true" },
	{ "workflow", "object", "object name", "an object of the metadata or plugins", "required",
	  "The object whose records move.", "object: opportunity" },
	{ "workflow", "field", "field name", "an enum field of the object, moved by no other workflow", "required",
	  "The state field: its values are the states. Only transitions change it.", "field: stage" },
	{ "workflow", "initial", "state", "a value of the state field",
	  "the field's default, else its first value",
	  "The state new records start in; states that no transition reaches from it are warned about.",
	  "initial: prospecting" },
	{ "workflow", "terminal", "state or list of states", "values of the state field", NULL,
	  "States no transition leaves (`from: '*'` skips them; naming one in `from` is an error).",
	  "terminal: [won, lost]" },
	{ "workflow", "self_approval", "boolean", "true, false", "false",
	  "For every approval of the workflow: the requester may approve their own request.",
	  "self_approval: true" },
	{ "workflow", "transitions", "list of [transitions](#transition)", "at most 200", NULL,
	  "The moves between states.", "transitions: [{ name: qualify, from: prospecting, to: qualification }]" },
	{ "workflow", "timers", "list of [timers](#timer)", "at most 200", NULL,
	  "Actions run on a schedule over the records in some state.",
	  "timers: [{ name: escalate, when: \"status = 'open'\", untouched_for: 4h, every: 5m, do: [notify_manager] }]" },
	{ "workflow", "label", LABEL_TYPE, NULL, "the name", "What people read; checked, not stored.",
	  "label: { en: Sales pipeline }" },
	{ "workflow", "description", "text", NULL, NULL,
	  "For people reading the metadata; not stored.", "description: \"The sales pipeline\"" },

	/* ---- transition */
	{ "transition", "name", "name", NAME_WORDS "; each once in the workflow", "required",
	  "The transition: `POST /api/v1/objects/<object>/<id>/transitions/<name>` fires it.", "name: qualify" },
	{ "transition", "extend", "boolean", "true, false; only in a workflow document with `extend: true`", "false",
	  "true: the transition `name` is defined elsewhere and this entry appends its `do` actions (the only other "
	  "key it takes) to that transition's, in load order. A `direct` transition takes none.",
	  "- { name: win, extend: true, do: [lead2cash.create_order] }" },
	{ "transition", "from", "state, list of states, or `'*'`",
	  "values of the state field, not terminal; `'*'` (quoted) is every non-terminal state", "required",
	  "The states the transition leaves.", "from: [new, working]" },
	{ "transition", "to", "state", "a value of the state field", "required",
	  "The state it leads to.", "to: qualification" },
	{ "transition", "require", "field name or list of field names", "fields of the object", NULL,
	  "Fields that must hold a value (not null, not an empty text) once the transition's submitted values are "
	  "applied; each missing one is a 422 field error.",
	  "require: [amount, close_date]" },
	{ "transition", "when", "[expression](#expressions)", "over the record with the submitted values", NULL,
	  "A guard: the transition fires only if it holds (else 422).", "when: \"amount > 0\"" },
	{ "transition", "message", LABEL_TYPE, "only with `when`",
	  "`the conditions of transition '<name>' are not met`",
	  "What the end user reads when `when` does not hold.",
	  "message: { en: Add an amount first, zh: 请先填写金额 }" },
	{ "transition", "roles", "role name or list of role names", "roles of the metadata",
	  "whoever may update the record",
	  "Only these roles (and admins) may fire it; they still need the update right on the record.",
	  "roles: [sales_manager]" },
	{ "transition", "do", "list of [actions](#actions)", "at most 200", NULL,
	  "What firing does, in order, in the same transaction as the state change.",
	  "do: [{ set: { probability: 100 } }, notify_manager]" },
	{ "transition", "approval", "map ([approval](#approval))", NULL, "no approval",
	  "Firing opens an approval request instead (202 `pending_approval`); the transition fires when the last "
	  "step is approved.",
	  "approval: { approvers: [\"role:sales_manager\"] }" },
	{ "transition", "direct", "boolean", "true, false", "false",
	  "A plain write of `to` over a `from` state (by a plugin, say) counts as this transition. A direct "
	  "transition has no require, when, roles, do or approval.",
	  "direct: true" },
	{ "transition", "label", LABEL_TYPE, NULL, "the name", "The transition button's text.",
	  "label: { en: Qualify, zh: 确认需求 }" },

	/* ---- approval */
	{ "approval", "when", "[expression](#expressions)", "over the record with the submitted values", "always",
	  "The approval is needed only when it holds; otherwise the transition fires at once.",
	  "when: \"discount > 20\"" },
	{ "approval", "approvers", "list of approvers",
	  "`role:<name>`, `role:<name> in team of owner`, `user:<login>`, `owner_manager`, `requester_manager`, "
	  "`field:<path>` (quote them)",
	  "required unless `steps` is a list",
	  "Who decides each step: every active user with the role; those of the role in the record owner's team; "
	  "one user; the record owner's manager; the manager of whoever fired the transition; the user a user "
	  "field names, through refs (`field:partner.channel_manager`, checked at load).",
	  "approvers: [\"role:sales_manager in team of owner\", requester_manager]" },
	{ "approval", "steps", "integer, or list of [approval steps](#approval-step)",
	  "1 to 10, or 1 to 200 steps", "1",
	  "A number repeats `approvers` that many times; a list gives each step its own approvers (then `approvers` "
	  "is refused). Nobody approves two steps of one request.",
	  "steps: 2" },
	{ "approval", "mode", "text", "any, all", "any",
	  "any: one approver's approval completes a step; all: every approver must approve. One rejection rejects "
	  "the request.",
	  "mode: all" },
	{ "approval", "self_approval", "boolean", "true, false", "false",
	  "The requester may approve their own request (else they are left out of the approvers).",
	  "self_approval: true" },

	/* ---- approval step */
	{ "approval-step", "approvers", "list of approvers",
	  "as the approval's `approvers`", "required", "Who decides this step.", "approvers: [\"user:cfo\"]" },
	{ "approval-step", "mode", "text", "any, all", "any", "As the approval's `mode`, for this step.", "mode: all" },

	/* ---- timer */
	{ "timer", "name", "name", NAME_WORDS "; each once in the workflow", "required",
	  "The timer's name, as the server log reports its runs (`timer <workflow>.<name>`).", "name: stale_proposal" },
	{ "timer", "when", "[expression](#expressions)", "over the record's fields", "every live record",
	  "The records the actions run on.", "when: \"stage = 'proposal'\"" },
	{ "timer", "every", "duration", "`90` (seconds), `30s`, `15m`, `1h`, `2d`; at most ten years",
	  "required, unless `at` or `cron`",
	  "How often the timer runs (a failed run is retried sooner, backing off from 30 s).", "every: 1d" },
	{ "timer", "at", "text", "a time of day `HH:MM` (UTC)", NULL,
	  "Runs once a day at that time instead of `every`. The next slot is kept in the database: a slot missed "
	  "while the server was down runs once at the next start, never twice.", "at: \"00:05\"" },
	{ "timer", "cron", "text", "five fields `minute hour day-of-month month day-of-week` (UTC): a star, numbers, "
	  "ranges `a-b`, steps `/n`, lists `a,b`; day-of-week 0-7 (0 and 7 Sunday)", NULL,
	  "Runs at the times the cron expression names instead of `every`, once per slot across restarts. When "
	  "both day fields are restricted, a day matching either runs (as cron does).",
	  "cron: \"5 0 1 * *\"" },
	{ "timer", "untouched_for", "duration", "`30s`, `15m`, `1h`, `2d`; at most ten years", NULL,
	  "Only records not updated for this long (`updated_at`).", "untouched_for: 30d" },
	{ "timer", "due", "name", "a datetime field of the workflow's object", NULL,
	  "Makes the timer a clock: it fires on the records whose deadline in this field has passed at the run's "
	  "time (and that `when` picks, and that are not paused). To fire once, let `when` test a flag that the "
	  "actions set (`when: \"breached = false\"`, `do: [{ set: { breached: true } }, ...]`): the flag and "
	  "the notification commit together, so a restart never notifies twice.", "due: resolution_due" },
	{ "timer", "pause_when", "[expression](#expressions)", "over the record's fields", NULL,
	  "Stops the clock while it holds (a case waiting for the customer): each run stamps `paused_since` on "
	  "the records it now holds for; when it no longer holds, the run adds the paused time to "
	  "`paused_minutes` and pushes `due` by it, in business minutes of `calendar` (wall-clock minutes "
	  "without one). Needs `due`, `paused_since` and `paused_minutes`.",
	  "pause_when: \"status = 'waiting_customer'\"" },
	{ "timer", "calendar", "name", "a [calendar](#calendar)", "wall-clock time",
	  "The business hours paused time is counted in, and the deadline pushed by.", "calendar: cn_office" },
	{ "timer", "paused_since", "name", "a datetime field of the workflow's object", NULL,
	  "Where a clock records when its pause began (null while it runs).", "paused_since: sla_paused_since" },
	{ "timer", "paused_minutes", "name", "an int field of the workflow's object", NULL,
	  "Where a clock adds up its paused minutes.", "paused_minutes: sla_paused_minutes" },
	{ "timer", "extend", "boolean", "true, false; only in a workflow document with `extend: true`", "false",
	  "true: the timer `name` is defined elsewhere and this entry, with `enabled: false` (its only other key), "
	  "switches it off: it leaves the merged workflow and never runs (a package that replaces a base timer by "
	  "its own clock).", "- { name: escalate, extend: true, enabled: false }" },
	{ "timer", "enabled", "boolean", "false; only with `extend: true`", "true",
	  "false: the timer of that name, defined elsewhere, does not run (see `extend`).", "enabled: false" },
	/* ---- kpi */
	{ "kpi", "kpi", "name", NAME_WORDS "; each kpi once", "required",
	  "The kpi's name: `GET /api/v1/kpis/<name>`.", "kpi: won_revenue" },
	{ "kpi", "label", LABEL_TYPE, NULL, "the name", "What the tile says.", "label: { en: Won revenue, zh: 赢单金额 }" },
	{ "kpi", "description", "text", NULL, NULL, "For people reading the metadata; not shown.",
	  "description: \"Lower is better\"" },
	{ "kpi", "object", "name", "an object", "required (unless `source: audit` or `formula`)",
	  "Whose records the figure is made of.", "object: opportunity" },
	{ "kpi", "measure", "text", "count, sum(f), avg(f), min(f), max(f) of a number field f of the object; "
	  "count_distinct(f), retention(f) of any field f; with `source: audit`: count, count_distinct(user), "
	  "count_distinct(record), count_distinct(object)", "count",
	  "The figure over the records of a period. count_distinct(f): the values f takes (nulls not counted). "
	  "retention(f): of the f values of the previous period's records, the percent that come back in this "
	  "period's (null when the previous period has none): customer retention is `retention(account)` over won "
	  "deals. A duration is a formula field measured (`avg(hours_to_first_contact)` over a field "
	  "`hours_between(created_at, first_contact_at)`).", "measure: sum(amount)" },
	{ "kpi", "filter", "[expression](#expressions)", "over the object's fields", "every record",
	  "Only the records for which it holds count.", "filter: \"stage = 'won'\"" },
	{ "kpi", "date", "name", "a date or datetime field of the object", "required",
	  "Puts each record in a period.", "date: close_date" },
	{ "kpi", "owner", "name", "a user field of the object", "owner",
	  "Whose figure a record is: `scope=me` counts the caller's, `scope=team` the caller's `team` scope (team "
	  "mates and reports, down the manager tree), `scope=all` everyone's the caller may read.", "owner: owner" },
	{ "kpi", "period", "text", "month, quarter, year", "month",
	  "The period holding the day asked about (`?day=`, default today, UTC); the previous one is given beside it.",
	  "period: quarter" },
	{ "kpi", "direction", "text", "up, down", "up",
	  "Whether a higher figure is better. Attainment is actual / target (up) or target / actual (down), in percent.",
	  "direction: down" },
	{ "kpi", "target", "number, or a map of [target](#kpi-target) records", NULL, "none",
	  "A fixed goal for any scope, or the sum of a field of goal records (a sales plan) in the period for the "
	  "same people.", "target: 250000" },
	{ "kpi", "category", "text", "operating, business_value", "operating",
	  "Operating efficiency (use of the CRM) or business value (what it earns): the dashboards group tiles by it.",
	  "category: business_value" },
	{ "kpi", "source", "text", "records, audit", "records",
	  "`audit`: the figure is made of the audit trail, not of an object's records: each audited action of the "
	  "people in the period (who created, updated, moved what), so adoption needs no tracking of its own. It "
	  "takes no object, filter, date or owner. Who may read it: everyone their own figure (`scope=me`), a "
	  "manager their reports down the manager tree (`scope=team`: a rep with no reports gets their own), an "
	  "admin everyone (`scope=all`; left out for anyone else).", "source: audit" },
	{ "kpi", "actions", "list of names", "create, update, delete, restore, transition, purge, login, password",
	  "create, update, delete, restore, transition", "With `source: audit`: the actions that count.",
	  "actions: [update, transition]" },
	{ "kpi", "formula", "[expression](#expressions)", "over other kpis' names; no loops", NULL,
	  "A derived kpi: the expression over the figures of the kpis it names, each for the same people and for "
	  "this kpi's period (not its own). A zero divisor or an unknown figure gives null (unknown), not an "
	  "error; a kpi whose input the caller may not have is left out. Takes no object, measure, filter, date, "
	  "owner, per or actions.", "formula: \"deals_won / deals_closed * 100\"" },
	{ "kpi", "per", "text", "day", "the whole period",
	  "`day`: the measure for each day of the period up to the day asked (the whole period once it is over), "
	  "summed and divided by those days: active users per day is `count_distinct(user)` over the audit trail "
	  "`per: day`.", "per: day" },
	{ "kpi", "unit", "text", "count, number, money, percent, hours, days", "from the measure",
	  "How the figure is shown (money in the company currency, a percent with %); a formula's is number "
	  "unless given.", "unit: percent" },
	{ "kpi", "dashboards", "map of role to scope", "roles; me, team, all", "no role's dashboard",
	  "Which roles' dashboards show the tile, and for whom (`GET /api/v1/kpis?view=dashboard` as that role): a "
	  "rep `me` (their own figure), a manager `team`, an admin `all`. The web UI's dashboard shows the "
	  "caller's role's tiles grouped by category, or every kpi with a scope switch when the role has none.",
	  "dashboards: { admin: all, sales_manager: team, sales_rep: me }" },
	{ "kpi-target", "object", "name", "an object", "required", "The goal records.", "object: sales_target" },
	{ "kpi-target", "field", "name", "a number field of that object", "required", "The goal.", "field: amount" },
	{ "kpi-target", "date", "name", "a date field of that object", "required",
	  "Puts a goal in a period (its start, typically).", "date: period_start" },
	{ "kpi-target", "owner", "name", "a user field of that object", "owner", "Whose goal it is.", "owner: owner" },

	/* ---- report */
	{ "report", "report", "name", NAME_WORDS "; each report once; not the name of an object", "required",
	  "The report's name: `GET /api/v1/reports/<name>` runs it. It may not be an object's name, since "
	  "`GET /api/v1/reports/<object>` is that object's own report (`?group=&measure=`).",
	  "report: campaign_revenue" },
	{ "report", "label", LABEL_TYPE, NULL, "the name", "The chart's or table's title.",
	  "label: { en: Won revenue by campaign, zh: 各市场活动赢单收入 }" },
	{ "report", "description", "text", NULL, NULL, "For people reading the metadata; listed by `GET /api/v1/reports`.",
	  "description: \"Members to won revenue, per campaign\"" },
	{ "report", "module", "name", "a module name", "none",
	  "The module whose dashboard (`#/dash/<module>`) shows the report; without one it is only served by the API.",
	  "module: marketing" },
	{ "report", "object", "name", "an object", "required",
	  "The root: the report's rows are its records (those the reader may read, matching `filter`, the "
	  "parameters and `?filter=`), grouped by `group`.",
	  "object: campaign" },
	{ "report", "joins", "map of join names to [joins](#report-join)", "at most 16; names not fields of the root",
	  "none",
	  "Records related to each root record along refs, down (`children`) or up (`parent`), step by step: a "
	  "measure counts or adds up the records of a join. A join starts from the root or from another join "
	  "(`from:` or `parent: join.ref`); a chain that comes back to itself is an error.",
	  "joins: { member: { children: campaign_member.campaign }, lead: { parent: member.lead } }" },
	{ "report", "group", "list of fields or [groups](#report-group)",
	  "at most 4; fields of the root or paths up through its refs (`account.industry`), not through a join", "none: one row",
	  "A row per distinct value (or date bucket, computed in SQL). A join's fields cannot be a group: a root "
	  "record with three members would then be split, or counted, three times.",
	  "group: [name, { field: start_date, by: month }]" },
	{ "report", "measures", "map of measure names to [measures](#report-measure)", "1 to 16; names not group columns",
	  "required",
	  "The figures of each row, in order (a funnel's stages). The name is the row's key.",
	  "measures: { members: { measure: count(member) } }" },
	{ "report", "filter", "[expression](#expressions)", "over the root's fields and paths up", "every record",
	  "Which root records the report is made of (a measure's own `filter` narrows that measure only).",
	  "filter: \"status != 'planned'\"" },
	{ "report", "parameters", "map of parameter names to paths", "fields of the root or paths up; at most 16; not "
	  "`from`, `to`, `filter` or `limit`", "none",
	  "What a run may narrow: `?name=value` keeps the root records whose path equals the value (bound as the "
	  "field's type; a value that is not one is a 400). Besides these every run takes `from` and `to` "
	  "(YYYY-MM-DD, both days included) on the first date group, `filter` (an expression over the root, under "
	  "the reader's field rules) and `limit`.",
	  "parameters: { campaign: id, region: account.region }" },
	{ "report", "sort", "text", "a group column or measure name, `-` first for descending", "the groups, ascending",
	  "The order of the rows.", "sort: -won_amount" },
	{ "report", "limit", "integer", "1 to 10,000", "every row (at most 10,000)",
	  "The most rows, after sorting (the top ten campaigns).", "limit: 10" },
	{ "report", "view", "text", "table, bar, line, funnel", "table",
	  "How the dashboard draws it. bar: a bar per row (needs a group); line: a line per measure over a date "
	  "group; funnel: the measures as stages, from the first row (needs two measures); table: rows and columns.",
	  "view: funnel" },
	{ "report-join", "children", "text", "`object.ref`: an object and its ref field to the join's start",
	  "one of `children` and `parent`",
	  "The records whose ref points at the start record: `campaign_member.campaign` from a campaign.",
	  "children: campaign_member.campaign" },
	{ "report-join", "parent", "text", "`join.ref` (a ref of that join's object), or `ref` (of the root)",
	  "one of `children` and `parent`",
	  "The record a ref of the start points at: `member.lead`, the lead of each member.",
	  "parent: member.lead" },
	{ "report-join", "from", "name", "another join of the report", "the root",
	  "With `children`: the join the children hang from (`{ children: activity.lead, from: lead }`).",
	  "from: lead" },
	{ "report-group", "field", "text", "a field of the root or a path up through its refs", "required",
	  "The value rows are grouped by.", "field: close_date" },
	{ "report-group", "by", "text", "day, week, month, quarter, year", "the value itself",
	  "A date or datetime grouped by its bucket, in SQL: `2026-12-07`, week `2026-12-07` (its Monday), month "
	  "`2026-12`, quarter `2026-Q4`, year `2026`. The row key is `<field>_<by>` (`close_date_month`).",
	  "by: quarter" },
	{ "report-group", "label", LABEL_TYPE, NULL, "the field's label", "The column's title.",
	  "label: { en: Month, zh: 月份 }" },
	{ "report-measure", "measure", "text",
	  "`count` (root records), `count(join)`, `count_distinct(path)`, `sum(path)`, `avg(path)`, `min(path)`, "
	  "`max(path)`; path a field of the root, or `join.field`, with hops up through refs", "count",
	  "What the figure is. sum and avg take a number field, min and max a number or date, count_distinct any "
	  "field (the distinct values per root record, then added up). Money in several currencies is added in the "
	  "company's, as in other reports.",
	  "measure: sum(opportunity.amount)" },
	{ "report-measure", "filter", "[expression](#expressions)", "over the measured object (the join's, or the root's)",
	  "every record", "Which of the measured records count: `stage = 'won'` on an opportunity join.",
	  "filter: \"stage = 'won'\"" },
	{ "report-measure", "label", LABEL_TYPE, NULL, "the name", "The column's or stage's title.",
	  "label: { en: Won revenue, zh: 赢单收入 }" },

	/* ---- calendar */
	{ "calendar", "calendar", "name", NAME_WORDS "; each calendar once", "required",
	  "The calendar's name: the business-time functions take it as a text (`add_business_minutes(opened_at, "
	  "240, 'cn_office')`), as do the `calendar` field of holiday records.",
	  "calendar: cn_office" },
	{ "calendar", "label", LABEL_TYPE, NULL, "the name", "What people read.",
	  "label: { en: China Office Hours, zh: 中国办公时间 }" },
	{ "calendar", "description", "text", NULL, NULL, "For people reading the metadata.",
	  "description: \"Monday to Friday, 09:00-18:00 Beijing time\"" },
	{ "calendar", "timezone", "text", "an IANA time zone of the system's tz database (`/usr/share/zoneinfo`, "
	  "Debian's tzdata): letters, digits, `/`, `_`, `-`, `+`", "required",
	  "The zone the working hours are local to, daylight saving included: a 09:00-18:00 day is 9 hours on the day "
	  "the clocks change too. Read once when the metadata loads; an unknown zone is an error at the value.",
	  "timezone: Asia/Shanghai" },
	{ "calendar", "hours", "map of [weekdays](#calendar-hours) to lists of intervals",
	  "intervals `HH:MM-HH:MM` (00:00 to 24:00), at most 8 a day, in order and apart", "required",
	  "The working time of each weekday, local to `timezone`. A weekday not listed, or `[]`, has none; a "
	  "calendar with no working time at all is an error.",
	  "hours: { mon: [\"09:00-12:00\", \"13:00-18:00\"], sat: [] }" },
	{ "calendar-hours", "mon", "list of intervals", "`HH:MM-HH:MM`", "none", "Monday.", "mon: [\"09:00-18:00\"]" },
	{ "calendar-hours", "tue", "list of intervals", "`HH:MM-HH:MM`", "none", "Tuesday.", "tue: [\"09:00-18:00\"]" },
	{ "calendar-hours", "wed", "list of intervals", "`HH:MM-HH:MM`", "none", "Wednesday.", "wed: [\"09:00-18:00\"]" },
	{ "calendar-hours", "thu", "list of intervals", "`HH:MM-HH:MM`", "none", "Thursday.", "thu: [\"09:00-18:00\"]" },
	{ "calendar-hours", "fri", "list of intervals", "`HH:MM-HH:MM`", "none", "Friday.", "fri: [\"09:00-17:00\"]" },
	{ "calendar-hours", "sat", "list of intervals", "`HH:MM-HH:MM`", "none", "Saturday.", "sat: [\"10:00-14:00\"]" },
	{ "calendar-hours", "sun", "list of intervals", "`HH:MM-HH:MM`", "none", "Sunday.", "sun: []" },

	{ "timer", "do", "list of [actions](#actions)", "at most 200", "required",
	  "What runs on each matching record, as the system, one transaction per record. A `set` here cannot move "
	  "the state field; `{ transition: <name> }` fires a transition of the workflow, which does.",
	  "do: [{ notify: owner, message: \"This proposal has not moved for 30 days\" }]" },

	/* ---- actions: the keys of an action map (the text forms are in the section's intro) */
	{ "actions", "set", "map of field names to values",
	  "fields of the record, not system fields (but `owner`), not the state field", NULL,
	  "Values written with the state change: literals or references (`$record.<field>`, `$me`, `$now`, "
	  "`$today`, `$created.<object>`).",
	  "- set: { probability: 100, close_date: $today }" },
	{ "actions", "create", "map ([create action](#create-action))", NULL, NULL,
	  "Creates a record of another object.", "- create: { object: activity, values: { subject: Follow up, opportunity: $record.id } }" },
	{ "actions", "notify", "text ([notify action](#notify-action))", "owner, manager, requester, `user:<login>`",
	  NULL, "An in-app notification; `message` goes beside it in the same map.",
	  "- { notify: owner, message: \"Deal won\" }" },
	{ "actions", "transition", "name", "a transition of the timer's workflow, without `approval` (a `direct` one too)",
	  NULL,
	  "Timers only: fires the transition on the record as the system, as a call to it would (its `require` and "
	  "`when`, `before_transition` and `after_transition` hooks, its own actions, the audit), with the values "
	  "earlier `set` actions of the list gathered. A record the transition may not leave now (its state, a "
	  "pending approval, `require`, `when`) is skipped and rolled back: the run records how many "
	  "(`last_skipped`) and why for the first (`last_skip`), and is not a failure.",
	  "- { transition: expire }" },
	{ "actions", "as", "text", "caller, system", "caller",
	  "Beside `set`, `create` or `notify` in the same map: whose rights the action runs with. system: every "
	  "right, audited on behalf of the caller.",
	  "- { create: { object: activity, values: { subject: Check credit } }, as: system }" },

	/* ---- create action */
	{ "create-action", "object", "object name", "an object of the metadata or plugins", "required",
	  "The object of the new record.", "object: contact" },
	{ "create-action", "values", "map of field names to values", "fields of that object, not system fields "
	  "(but `owner`)", "{}",
	  "The new record's values: literals or `$record.<field>`, `$created.<object>` (the id of the record an "
	  "earlier create of the same list made), `$me`, `$now`, `$today`.",
	  "values: { account: $created.account, last_name: $record.last_name }" },
	{ "create-action", "link", "field name", "a ref field of the workflow's object to that object", NULL,
	  "Set to the new record's id, with the state change.", "link: converted_contact" },
	{ "create-action", "owner", "text", "record, caller, or a user field of the workflow's object", "record",
	  "Who owns the new record: the record's owner, the caller, or the user the field names. Assigned after "
	  "the actions ran, whatever the caller's rights.",
	  "owner: sales_engineer" },

	/* ---- notify action */
	{ "notify-action", "notify", "text", "owner, manager (the owner's manager), requester, `user:<login>`",
	  "required",
	  "Who gets an in-app notification (a `notification` record with `user` and `title` fields).",
	  "notify: owner" },
	{ "notify-action", "message", "text", NULL, "`<object> #<id>: transition '<name>'` (a timer: `timer '<name>'`)",
	  "The notification's title.", "message: \"This proposal has not moved for 30 days\"" },
	{ "notify-action", "channel", "text", "app, email", "app",
	  "app: an in-app notification; email: an e-mail to the user's `email` field through the outbox, written in "
	  "the firing's transaction and sent after it commits (a user with no address gets nothing). Needs "
	  "`template`.",
	  "channel: email" },
	{ "notify-action", "template", "name", "an e-mail [template](#template) with no `vars`, about the workflow's "
	  "object or none", "required with `channel: email`",
	  "The e-mail: its placeholders read the record as the transition leaves it (the new state included).",
	  "template: deal_won" },

	/* ---- template */
	{ "template", "template", "name", NAME_WORDS "; each template once", "required",
	  "The template's name: what `crm.send`, the C host's `send` and a notify action name.", "template: welcome" },
	{ "template", "label", LABEL_TYPE, NULL, "the name", "What an admin reads.", "label: { en: Welcome, zh: 欢迎 }" },
	{ "template", "description", "text", NULL, NULL, "For people reading the metadata; not shown.",
	  "description: \"Sent when a portal account opens\"" },
	{ "template", "channel", "text", "email, webhook", "required",
	  "email: a message over SMTP; webhook: a JSON POST to an endpoint of [config.outbox.webhooks](#outbox).",
	  "channel: email" },
	{ "template", "format", "text", "text, html (e-mail); json (webhook)", "text; json for a webhook",
	  "How values are escaped into the body: html escapes `< > & \" '`, json escapes them as inside a JSON string "
	  "(put quotes around a text placeholder: `\"{{name}}\"`), and the rendered body must be JSON.",
	  "format: html" },
	{ "template", "subject", LABEL_TYPE, "no line breaks once rendered", "required for e-mail",
	  "The subject, per language, with `{{name}}` placeholders (never escaped; a value with a line break is "
	  "refused: header injection).",
	  "subject: { en: \"Welcome, {{name}}\", zh: \"欢迎，{{name}}\" }" },
	{ "template", "body", LABEL_TYPE, NULL, "required",
	  "The body, per language, with `{{name}}` placeholders. Sent in the language the sender's `lang` var names, "
	  "else the app's first language.",
	  "body: { en: \"Hello {{name}}\", zh: \"{{name}}，您好\" }" },
	{ "template", "vars", "list of names", NAME_WORDS "; not a field of `object`", "none",
	  "The values the sender gives. Every placeholder must be one of these or a field of `object` (`crm check` "
	  "says which is neither); a send must give each of them and no other (`lang` aside).",
	  "vars: [name, link]" },
	{ "template", "object", "name", "an object", "none",
	  "The object the message is about: its fields fill the placeholders that are not vars, read as the sender "
	  "may read them, and a send must name such a record.",
	  "object: opportunity" },

	/* ---- config.outbox */
	{ "outbox", "smtp_url", "text", "`smtp://host:port` or `smtps://host:port` (TLS from the start)", "none: "
	  "e-mails wait, failing, until it is set",
	  "The SMTP server e-mails are handed to.", "smtp_url: \"smtp://mail.example.com:587\"" },
	{ "outbox", "from", "text", "`Name <address>` or an address; no line breaks", "`CRM <crm@localhost>`",
	  "The From header and the envelope sender; its domain ends each Message-ID.",
	  "from: \"Acme CRM <crm@acme.example>\"" },
	{ "outbox", "smtp_user_env", "text", "the name of an environment variable", "none: no login",
	  "Where the SMTP login is read from, at each delivery (secrets stay out of the metadata).",
	  "smtp_user_env: CRM_SMTP_USER" },
	{ "outbox", "smtp_password_env", "text", "the name of an environment variable", "none",
	  "Where the SMTP password is read from.", "smtp_password_env: CRM_SMTP_PASSWORD" },
	{ "outbox", "starttls", "boolean", "true, false", "false",
	  "Require STARTTLS on an `smtp://` server (the message is not sent in clear if the server cannot).",
	  "starttls: true" },
	{ "outbox", "timeout", "whole number", "seconds, 1 to 300", "10",
	  "How long one delivery attempt may take.", "timeout: 20" },
	{ "outbox", "retry_base", "whole number", "seconds, 1 to 604800 (a week)", "30",
	  "The wait after the first failed attempt; each further failure doubles it, up to `retry_cap`.",
	  "retry_base: 60" },
	{ "outbox", "retry_cap", "whole number", "seconds, 1 to 604800", "3600", "The longest wait between attempts.",
	  "retry_cap: 7200" },
	{ "outbox", "max_attempts", "whole number", "1 to 100", "8",
	  "Attempts before a message is `dead` (an admin's `retry` transition queues it again).", "max_attempts: 5" },
	{ "outbox", "max_body", "whole number", "bytes, 1 KiB to 1 MiB (the body field's max_length)", "262144",
	  "The largest rendered body a send accepts.", "max_body: 65536" },
	{ "outbox", "poll", "whole number", "seconds, 1 to 604800", "2",
	  "How often the server's delivery thread looks for due messages.", "poll: 5" },
	{ "outbox", "webhooks", "map of endpoint names to [webhooks](#outbox-webhook)", NULL, "none",
	  "The endpoints a webhook send may name (a sender names an endpoint, never a URL).",
	  "webhooks: { erp: { url: \"https://erp.example/hooks/crm\", secret_env: CRM_ERP_SECRET } }" },
	{ "outbox-webhook", "url", "text", "`https://...` or `http://...`", "required",
	  "Where the JSON body is POSTed. Redirects are not followed; a 2xx answer is success.",
	  "url: \"https://erp.example/hooks/crm\"" },
	{ "outbox-webhook", "secret_env", "text", "the name of an environment variable", "required",
	  "The endpoint's secret: each POST carries `X-CRM-Signature: sha256=<hex HMAC-SHA256 of the body>` and "
	  "`X-CRM-Delivery: <outbox message id>` (the same on every attempt).",
	  "secret_env: CRM_ERP_SECRET" },

	/* ---- plugin.yaml (the hosts layer's tables) */
	{ "plugin-manifest", "name", "name", NAME_WORDS "; the plugin's folder name", "required",
	  "The plugin's name.", "name: discounts" },
	{ "plugin-manifest", "version", "semantic version", "MAJOR.MINOR.PATCH", "required",
	  "The plugin's version, matched against the ranges of app.yaml and other plugins' `requires`.",
	  "version: 1.2.0" },
	{ "plugin-manifest", "description", "text", NULL, NULL, "Shown by `crm plugins`.",
	  "description: \"Discount approval rules\"" },
	{ "plugin-manifest", "author", "text", NULL, NULL, "For people; not read.", "author: \"Acme CRM team\"" },
	{ "plugin-manifest", "license", "text", NULL, NULL, "For people; not read.", "license: MIT" },
	{ "plugin-manifest", "requires", "map of `kernel` or plugin names to version ranges",
	  "ranges as in [plugin entries](#app-plugin)", NULL,
	  "Every range must hold, and every plugin named must be enabled, or the kernel refuses to start; plugins "
	  "load after those they require (a cycle is an error).",
	  "requires: { kernel: \">=0.1\", sales: \"^1.0\" }" },
	{ "plugin-manifest", "lua", "file name", "a `.lua` file inside the plugin folder", NULL,
	  "The plugin's Lua code (sandboxed). Give `lua` or `library`, not both; neither: objects only.",
	  "lua: discounts.lua" },
	{ "plugin-manifest", "library", "name", NAME_WORDS, NULL,
	  "A C plugin: the folder holds NAME.c, built into NAME.so (`make -C plugins/<name>`).",
	  "library: discounts" },
	{ "plugin-manifest", "config", "map", NULL, "{}",
	  "The plugin's settings and their defaults (`crm.config` in Lua); app.yaml `config.<plugin>` overrides "
	  "them.",
	  "config: { max_discount: 50 }" },
	{ "plugin-manifest", "limits", "map ([limits](#plugin-limits))", NULL, NULL,
	  "Lua only: what one call may use.", "limits: { instructions: 10000000, memory_mb: 16 }" },
	{ "plugin-manifest", "system_access", "boolean", "true, false", "false",
	  "`crm.as_system` may act as the system user (no access rules); shown by `crm plugins`.",
	  "system_access: true" },
	{ "plugin-manifest", "actions", "map of action names to [action declarations](#plugin-action)", NULL, "none",
	  "How actions the code registers (`crm.action`) show as buttons on records. Declaring an action the code "
	  "does not register is an error.",
	  "actions: { claim: { object: lead, label: { en: Claim, zh: 领取 }, when: \"owner = null\" } }" },
	{ "plugin-action", "object", "object name", "an object of the metadata", "required",
	  "The object whose record pages show the button; the action runs on that record.", "object: lead" },
	{ "plugin-action", "label", LABEL_TYPE, NULL, "the action's name", "The button's text.",
	  "label: { en: Claim, zh: 领取 }" },
	{ "plugin-action", "when", "expression", "over the record's fields, `$me`, `$user.<field>`", "always",
	  "The button shows on a record for which it holds, for the person looking at it (`GET` of a record lists "
	  "them under `_actions`). It decides nothing: the action checks again when it runs.",
	  "when: \"owner = null and status = 'new'\"" },
	{ "plugin-action", "confirm", LABEL_TYPE, NULL, "none", "A question the UI asks before it runs the action.",
	  "confirm: { en: \"Take this lead?\", zh: \"领取这条线索？\" }" },

	/* ---- plugin.yaml limits */
	{ "plugin-limits", "instructions", "integer", "10,000 to 10,000,000,000", "10,000,000",
	  "Lua instructions per call (a hook, an action, a route, a job).", "instructions: 50000000" },
	{ "plugin-limits", "memory_mb", "integer", "1 to 1,024", "16",
	  "Memory of the plugin's Lua state, in MiB.", "memory_mb: 32" },
};

#define KEY_DOC_COUNT ((int)(sizeof(key_docs) / sizeof(key_docs[0])))

/* What a value of each field type is, in enum field_type order of names. */
static const struct {
	const char *type;
	const char *text;
} type_docs[] = {
	{ "text", "One line of text, at most `max_length` characters (255)." },
	{ "textarea", "Text with line breaks, at most `max_length` characters (32,000)." },
	{ "email", "An email address (checked)." },
	{ "phone", "A phone number (checked)." },
	{ "url", "An http or https URL (checked)." },
	{ "int", "A whole number." },
	{ "decimal", "A number, rounded to `scale` places (6)." },
	{ "money", "An amount, rounded to `scale` places (2)." },
	{ "percent", "A percentage as a number (`15` is 15%), rounded to `scale` places (2)." },
	{ "bool", "true or false." },
	{ "date", "A date, `YYYY-MM-DD`." },
	{ "datetime", "A date and time, stored in UTC as `YYYY-MM-DDTHH:MM:SSZ`." },
	{ "enum", "One of `values`." },
	{ "multienum", "A list of `values`, each once." },
	{ "ref", "The id of a record of `to` that the caller may read." },
	{ "user", "The id of a user (a ref to `user`)." },
	{ "json", "Any JSON value, at most 64 KiB." },
	{ "geo", "A point, `{ \"lat\": -90..90, \"lng\": -180..180 }`: both keys, numbers, nothing else (a CSV "
	         "cell may read `48.137, 11.575`). Stored as that JSON and as two indexed numbers, `<field>__lat` and "
	         "`<field>__lng`, for `distance` and `within`." },
	{ "autonumber", "A text numbered on create from `format` (\"CASE-00042\"); not writable." },
	{ "formula", "Computed from `formula` on every read; `returns` gives its type." },
	{ "rollup", "A count, sum, average, minimum or maximum over child records (`of`, `measure`, `where`); "
	            "stored, recomputed as the children change." },
};

static const struct {
	const char *name;
	const char *text;
} system_field_docs[] = {
	{ "id", "The record's id, given on create." },
	{ "created_at", "When the record was created (UTC)." },
	{ "created_by", "Who created it." },
	{ "updated_at", "When it last changed (timers' `untouched_for` reads it)." },
	{ "updated_by", "Who changed it last." },
	{ "owner", "Who owns it: the creator unless given; roles' `own` and `team` levels read it; writable with "
	           "`change_owner`." },
	{ "version", "1 on create, one more on every update: `If-Match` and conflicts use it." },
	{ "deleted_at", "Set while the record is in the recycle bin (purged after 30 days)." },
};

/* arguments: as the reference writes them, one name per argument ("..." for more of the same). */
static const struct {
	const char *name;
	const char *arguments;
	const char *text;
} function_docs[] = {
	{ "today", "", "Today's date in UTC, as `YYYY-MM-DD`." },
	{ "now", "", "The current time in UTC, as `YYYY-MM-DDTHH:MM:SSZ`." },
	{ "days_between", "a, b", "Whole days from the first date to the second (negative if it is earlier)." },
	{ "if", "a, b, c", "The second argument if the condition (the first) is true, else the third." },
	{ "lower", "a", "The text in lower case (ASCII letters)." },
	{ "upper", "a", "The text in upper case (ASCII letters)." },
	{ "len", "a", "The number of characters of the text." },
	{ "coalesce", "a, b", "The first argument unless it is null, else the second." },
	{ "round", "x, n", "x rounded to n decimals (n a whole number from 0 to 9, written as is), half away from zero, "
	                   "on the decimal x reads as: `round(2.675, 2)` is 2.68, `round(-0.5, 0)` is -1. An integer "
	                   "stays as it is." },
	{ "abs", "x", "The number without its sign." },
	{ "min", "a, b", "The smaller of two numbers, or the earlier of two dates or datetimes (compared as text, so a "
	                 "date comes before any datetime of its day); null if either is null." },
	{ "max", "a, b", "The larger of two numbers, or the later of two dates or datetimes; null if either is null." },
	{ "add_days", "d, n", "The date n days after d (before it if n is negative); a datetime gives its UTC date. "
	                      "`d + n` and `d - n` on a date do the same." },
	{ "add_months", "d, n", "The date n months after d, on the same day or, if that month is shorter, on its last "
	                        "day: `add_months('2024-01-31', 1)` is 2024-02-29." },
	{ "year", "d", "The year of the date, an int." },
	{ "month", "d", "The month of the date, an int from 1 to 12." },
	{ "date_trunc", "unit, d", "The first day of d's month, quarter or year: unit is `'month'`, `'quarter'` or "
	                           "`'year'`, written as is." },
	{ "hours_between", "a, b", "Hours from the first datetime to the second, to the millisecond (1.5 is an hour and "
	                           "a half; negative if it is earlier)." },
	{ "substr", "s, start, length", "length characters of s from character start (the first is 1; a negative "
	                                "start counts from the end), as SQL's substr." },
	{ "concat", "a, b, ...", "The texts of 1 to 16 values joined; a null counts as empty text (`||` gives null "
	                         "instead)." },
	{ "add_business_minutes", "t, n, cal", "The datetime n business minutes (0 to 5,270,400) after t in [calendar]"
	                                       "(#calendar) cal: nights, days off and holiday records skipped, a "
	                                       "half day's hours kept. n = 0 gives t in working time, else the next "
	                                       "start of it. cal is a calendar's name: a text constant (an unknown "
	                                       "one is an error when the metadata loads or the filter is read) or a "
	                                       "text field (a name no calendar has gives null). An error, never a "
	                                       "search without end, when no working time lies within 3,660 days." },
	{ "business_minutes_between", "a, b, cal", "The whole business minutes of calendar cal from a to b "
	                                           "(negative if b is earlier), holidays skipped; at most 3,660 days "
	                                           "apart." },
	{ "is_business_time", "t, cal", "Whether t falls in the working time of calendar cal (a holiday: not, but "
	                                "for its hours)." },
	{ "distance", "a, b", "Metres between two points along the Earth's surface (haversine, mean radius "
	                      "6,371,008.8 m): `distance(location, point(48.137, 11.575))`. a and b are geo fields "
	                      "(`account.location` through refs too) or `point(lat, lng)`; null if either is null." },
	{ "within", "g, centre, metres", "Whether `distance(g, centre) <= metres`: true or false, never null (a "
	                                 "record with no point is within no circle, and `not within(...)` lists it): "
	                                 "`within(location, point(48.137, 11.575), 5000)`. With g a geo field of the "
	                                 "object itself and a constant centre and metres (numbers, `$user.<field>`), a "
	                                 "list searches the field's index for the box around the circle first (two "
	                                 "boxes across the date line, every longitude near a pole), so it reads only "
	                                 "the records near the centre, never the whole table." },
	{ "point", "lat, lng", "A point to give `distance` or `within` (nothing else takes one): latitude -90..90 and "
	                       "longitude -180..180, numbers or number fields; a constant out of range is an error, "
	                       "a field's value out of range makes the distance null." },
};

#define COUNT_OF(array) ((int)(sizeof(array) / sizeof((array)[0])))

/* ------------------------------------------------------------ generated parts */

static void put_cell(FILE *out, const char *text)
{
	for (const char *p = text ? text : ""; *p; p++) {
		if (*p == '|')
			fputs("\\|", out);
		else if (*p == '\n')
			fputc(' ', out);
		else
			fputc(*p, out);
	}
}

static void put_code_cell(FILE *out, const char *text)
{
	if (!text || !*text)
		return;
	fputc('`', out);
	put_cell(out, text);
	fputc('`', out);
}

static bool valid_for_all(int key)
{
	for (int t = 0; t < FIELD_TYPE_COUNT; t++) {
		if (!meta_field_key_valid(key, (enum field_type)t))
			return false;
	}
	return true;
}

/* "all", "all but formula, rollup" or "ref, user": the field types a key is valid for. */
static void put_field_types(FILE *out, int key)
{
	int valid = 0;
	for (int t = 0; t < FIELD_TYPE_COUNT; t++)
		valid += meta_field_key_valid(key, (enum field_type)t);
	if (valid == FIELD_TYPE_COUNT) {
		fputs("all", out);
		return;
	}
	bool but = valid > FIELD_TYPE_COUNT / 2, first = true;
	if (but)
		fputs("all but ", out);
	for (int t = 0; t < FIELD_TYPE_COUNT; t++) {
		if (meta_field_key_valid(key, (enum field_type)t) != but) {
			fprintf(out, "%s%s", first ? "" : ", ", meta_type_name((enum field_type)t));
			first = false;
		}
	}
}

static const struct key_doc *find_key_doc(const char *kind, const char *key)
{
	for (int i = 0; i < KEY_DOC_COUNT; i++) {
		if (!strcmp(key_docs[i].kind, kind) && !strcmp(key_docs[i].key, key))
			return &key_docs[i];
	}
	return NULL;
}

static void put_key_row(FILE *out, const char *kind, const char *key, int field_key)
{
	const struct key_doc *doc = find_key_doc(kind, key);
	fputs("| ", out);
	put_code_cell(out, key);
	if (field_key >= 0) {
		fputs(" | ", out);
		put_field_types(out, field_key);
	}
	fputs(" | ", out);
	put_cell(out, doc ? doc->type : "(undocumented)");
	fputs(" | ", out);
	put_cell(out, doc ? doc->values : NULL);
	fputs(" | ", out);
	put_cell(out, doc && doc->fallback ? doc->fallback : "none");
	fputs(" | ", out);
	put_cell(out, doc ? doc->text : NULL);
	fputs(" | ", out);
	put_code_cell(out, doc ? doc->example : NULL);
	fputs(" |\n", out);
}

static void put_key_header(FILE *out, bool field)
{
	fprintf(out, "| key |%s type | allowed values | default | what it does | example |\n", field ? " field types |" : "");
	fprintf(out, "|---|%s---|---|---|---|---|\n", field ? "---|" : "");
}

/* The field types and the keys each takes beyond those every type takes, from the loader's masks. */
static void write_field_types(FILE *out)
{
	fputs("Every type takes", out);
	bool first = true;
	for (int k = 0; k < meta_field_key_count(); k++) {
		if (valid_for_all(k)) {
			fprintf(out, "%s `%s`", first ? "" : ",", meta_field_key_name(k));
			first = false;
		}
	}
	fputs(". The other keys, by type:\n\n| type | a value is | other keys it takes |\n|---|---|---|\n", out);
	for (int t = 0; t < FIELD_TYPE_COUNT; t++) {
		const char *name = meta_type_name((enum field_type)t), *text = "(undocumented)";
		for (int i = 0; i < COUNT_OF(type_docs); i++) {
			if (!strcmp(type_docs[i].type, name))
				text = type_docs[i].text;
		}
		fprintf(out, "| `%s` | ", name);
		put_cell(out, text);
		fputs(" | ", out);
		first = true;
		for (int k = 0; k < meta_field_key_count(); k++) {
			if (!valid_for_all(k) && meta_field_key_valid(k, (enum field_type)t)) {
				fprintf(out, "%s`%s`", first ? "" : ", ", meta_field_key_name(k));
				first = false;
			}
		}
		fputs(" |\n", out);
	}
}

static void write_system_fields(FILE *out)
{
	fputs("| field | type | what it holds |\n|---|---|---|\n", out);
	enum field_type type;
	const char *name;
	for (int i = 0; (name = meta_system_field(i, &type)); i++) {
		const char *text = "(undocumented)";
		for (int d = 0; d < COUNT_OF(system_field_docs); d++) {
			if (!strcmp(system_field_docs[d].name, name))
				text = system_field_docs[d].text;
		}
		fprintf(out, "| `%s` | %s | ", name, meta_type_name(type));
		put_cell(out, text);
		fputs(" |\n", out);
	}
}

static void write_functions(FILE *out)
{
	fputs("| function | gives |\n|---|---|\n", out);
	const char *name;
	for (int i = 0; (name = expr_function(i, NULL)); i++) {
		const char *text = "(undocumented)", *arguments = "";
		for (int d = 0; d < COUNT_OF(function_docs); d++) {
			if (!strcmp(function_docs[d].name, name)) {
				text = function_docs[d].text;
				arguments = function_docs[d].arguments;
			}
		}
		fprintf(out, "| `%s(%s)` | ", name, arguments);
		put_cell(out, text);
		fputs(" |\n", out);
	}
}

/* ------------------------------------------------------------------ sections */

static const struct section_doc sections[] = {
	{ "files", "Files and documents",
	  "The kernel reads, in this order: `metadata/app.yaml` (the [app settings](#app)), every other "
	  "`metadata/*.yaml` in name order, then `plugins/<name>/objects/*.yaml` of each plugin app.yaml enables, "
	  "in app.yaml's order. Each plugin also has a [manifest](#plugin-manifest), `plugins/<name>/plugin.yaml`.\n\n"
	  "A file holds one or more documents separated by `---`. A document is a map whose leading key says what it "
	  "is: `workflow:` a [workflow](#workflow), `role:` a [role](#role), `kpi:` a [KPI](#kpi), `report:` a "
	  "[report](#report), `template:` a [template](#template), `object:` an [object](#object); "
	  "app.yaml holds the app settings. Names (objects, fields, roles, workflows, states, transitions) are "
	  NAME_WORDS ". Labels are a text (English) or a map of language codes to texts.\n\n"
	  "YAML is read strictly: keys must be texts and unique in their map; anchors, aliases and tags are refused "
	  "(quote `'*'`); a file is at most 4 MiB, nested at most 32 levels, with at most 200,000 values a "
	  "document. Unknown keys are errors.\n\n"
	  "`crm check` loads everything and prints every problem as `file:line:column: error: message`; an "
	  "unknown key's message lists the keys allowed there and the section of this page that documents them. "
	  "Then restart: `crm serve` applies additive schema changes at start, `crm migrate --dry-run` shows the "
	  "plan first.",
	  NULL, NULL },
	{ "app", "app.yaml: the deployment",
	  "The document of `metadata/app.yaml` (given once): which application, industry, languages and plugins, "
	  "and the plugins' settings.",
	  "app: crm\n"
	  "industry: automotive\n"
	  "languages: [en, zh]\n"
	  "plugins: [sales, { name: vin, version: \"^1.0\" }]\n"
	  "config:\n"
	  "  sales: { claim_limit: 30 }\n",
	  NULL },
	{ "app-plugin", "Plugin entry (app.yaml `plugins:`)",
	  "An item of app.yaml's `plugins:` list: a plugin name, or a map that also constrains its version.",
	  "plugins:\n"
	  "  - sales\n"
	  "  - { name: vin, version: \">=1.0 <2\" }\n",
	  NULL },
	{ "industry", "Industry entry (app.yaml `industries:`)",
	  "One industry pack of the deployment: the plugins it adds to the base `plugins:` when the deployment runs "
	  "as that industry (app.yaml `industry:`, or `crm --industry NAME` for one command). The base metadata and "
	  "plugins stay the same; the industry's plugins extend them.",
	  "industry: generic\n"
	  "plugins: [sales, lead2cash, channel]\n"
	  "industries:\n"
	  "  automotive: { label: { en: Automotive, zh: 汽车 }, plugins: [automotive] }\n",
	  NULL },
	{ "object", "Object",
	  "A kind of record: one table, one API path, one set of fields. Every object also has the "
	  "[system fields](#system-fields). A document with `extend: true` adds to an object defined elsewhere "
	  "(an industry pack customising a base object).",
	  "object: vehicle\n"
	  "label: { en: Vehicle, zh: 车辆 }\n"
	  "module: sales\n"
	  "description: \"A vehicle a customer owns\"\n"
	  "fields:\n"
	  "  vin:      { type: text, required: true, unique: true, max_length: 17, search: true }\n"
	  "  account:  { type: ref, to: account, on_delete: restrict }\n"
	  "  model:    { type: enum, values: [sedan, suv, van] }\n"
	  "  price:    { type: money, min: 0 }\n"
	  "  discount: { type: percent, max: 100, default: 0 }\n"
	  "  net:      { type: money, formula: \"price * (100 - discount) / 100\" }\n"
	  "rules:\n"
	  "  - { when: \"model = 'van' and price is null\", message: \"A van needs a price\", field: price }\n"
	  "indexes: [[model, price]]\n"
	  "views:\n"
	  "  list: [vin, account, model, price, owner]\n"
	  "---\n"
	  "# another file or a plugin: add to the base account\n"
	  "object: account\n"
	  "extend: true\n"
	  "fields:\n"
	  "  fleet_size: { type: int, min: 0 }\n"
	  "  vehicle_count: { type: rollup, of: vehicle.account, measure: count }\n"
	  "  industry: { extend: true, values: [{ value: automotive, label: { en: Automotive, zh: 汽车 } }] }\n",
	  NULL },
	{ "field", "Field",
	  "A value of `fields:`: the settings of one field. Which keys a field takes depends on its type (the "
	  "column *field types*, from the loader's own table); another key is an error naming the type.",
	  "fields:\n"
	  "  name:       { type: text, label: { en: Name, zh: 名称 }, required: true, max: 120, search: true }\n"
	  "  email:      { type: email, unique: true, personal: true }\n"
	  "  account:    { type: ref, to: account, on_delete: cascade }\n"
	  "  manager:    { type: user, default: $me }\n"
	  "  stage:      { type: enum, values: [open, won, lost], default: open }\n"
	  "  tags:       { type: multienum, values: [hot, partner], default: [hot] }\n"
	  "  amount:     { type: money, min: 0 }\n"
	  "  rate:       { type: decimal, scale: 4 }\n"
	  "  close_date: { type: date, default: today() }\n"
	  "  number:     { type: autonumber, format: \"DEAL-{00000}\" }\n"
	  "  age_days:   { type: formula, formula: \"days_between(created_at, today())\", returns: int }\n"
	  "  won_total:  { type: rollup, of: opportunity.account, measure: sum(amount), where: \"stage = 'won'\" }\n",
	  NULL },
	{ "field-types", "Field types",
	  "The values of a field's `type`, and the keys each takes (from the loader's table):",
	  NULL, write_field_types },
	{ "enum-value", "Enum value",
	  "An item of an enum or multienum field's `values:`: a text, or a map giving the value a label.",
	  "values:\n"
	  "  - prospecting\n"
	  "  - { value: won,  label: { en: Closed Won, zh: 赢单 } }\n"
	  "  - { value: lost, label: Closed Lost }\n",
	  NULL },
	{ "rule", "Rule",
	  "An item of an object's `rules:`: a condition under which a record is invalid. Every rule is checked on "
	  "create and update; each failing one is an error in the 422 answer.",
	  "rules:\n"
	  "  - { when: \"stage = 'won' and amount is null\", message: \"A won opportunity needs an amount\", field: amount }\n"
	  "  - when: \"close_date < created_at\"\n"
	  "    message: \"The close date is before the opportunity was created\"\n",
	  NULL },
	{ "index", "Index",
	  "An item of an object's `indexes:`: a list of field names, or a map with `fields` and `unique`. Refs, "
	  "`owner` and unique fields are indexed anyway. Declare an index for each list your users filter and "
	  "sort: the filter fields followed by the sort field.",
	  "indexes:\n"
	  "  - [stage, close_date]\n"
	  "  - { fields: [account, name], unique: true }\n",
	  NULL },
	{ "views", "Views",
	  "An object's `views:` map, for the web UI. The loader keeps it as written (it must be a map) and "
	  "`GET /api/v1/meta` passes it on; the UI reads these keys and ignores others.",
	  "views:\n"
	  "  list:   [name, account, amount, stage, close_date, owner]\n"
	  "  kanban: { group_by: stage, sum: amount }\n"
	  "  charts:\n"
	  "    - { title: { en: Pipeline by stage }, group: stage, measure: sum(amount), type: bar }\n"
	  "    - { title: Won by month, group: close_date, measure: sum(amount), filter: \"stage = 'won'\", by: month, type: bar }\n",
	  NULL },
	{ "console-view", "Console (views.console)",
	  "`views: { console: ... }` on an object: a page of the web UI (`#/console/<object>`, in the navigation "
	  "beside the object) for working a queue of its records, built from the metadata alone. Left, the queue: "
	  "the records `queue` picks, in `sort` order, each with its first running clock (\"2h 15m left\", "
	  "\"overdue 40m\", paused, met or violated in colour). Middle, the selected record: its `fields`, its "
	  "transition buttons, each clock counting down live, its `related` child records and the suggestions of a "
	  "plugin route with a Link action. Right, the `customer` record's `panels` (its contacts, open and recent "
	  "records, entitlements). Every list runs under the caller's rules; a panel of an object the role may not "
	  "read is not shown. `crm check` reports every unknown key, field, object, filter and route at its "
	  "file:line:column.",
	  "object: case\n"
	  "extend: true\n"
	  "views:\n"
	  "  console:\n"
	  "    title: { en: Service console, zh: 服务工作台 }\n"
	  "    queue: \"status in ('new', 'open') and (owner = $me or (owner = null and queue.team = $user.team))\"\n"
	  "    sort: resolution_due\n"
	  "    columns: [number, subject, priority, status]\n"
	  "    fields: [number, subject, status, priority, account, contact]\n"
	  "    clocks: [{ due: first_response_due, done: first_responded_at }, { due: resolution_due, done: resolved_at }]\n"
	  "    paused: sla_paused_since\n"
	  "    related: [{ object: case_milestone, ref: case, fields: [kind, status, due_at] }]\n"
	  "    suggest: \"service/cases/{id}/suggestions\"\n"
	  "    link: kb_article\n"
	  "    customer: account\n"
	  "    panels:\n"
	  "      - { object: contact, ref: account, fields: [full_name, phone] }\n"
	  "      - { object: case, ref: account, fields: [number, subject, status], filter: \"status = 'open'\" }\n",
	  NULL },
	{ "console-clock", "Console clock",
	  "An item of a console's `clocks:`: a deadline of the record, counting down until `done` is set.",
	  "clocks:\n  - { due: first_response_due, done: first_responded_at }\n  - { due: resolution_due, done: resolved_at }\n",
	  NULL },
	{ "console-panel", "Console panel",
	  "An item of a console's `related:` or `panels:`: the records of an object linked by a ref to the selected "
	  "record or to its customer.",
	  "panels:\n  - { object: entitlement, ref: account, fields: [number, ends_on, incidents_left], sort: -ends_on, limit: 5 }\n",
	  NULL },
	{ "lines-view", "Line items (views.lines)",
	  "`views: { lines: ... }` on an object: its child records edited inside its record page as a grid, one row "
	  "a line, one input a field. The user adds, changes, moves and removes lines, then saves them all at "
	  "once: the creates, updates (with each line's version) and deletes go in one `POST /api/v1/batch`, one "
	  "transaction, so a refused line saves nothing and its errors show in its cells. The record is read again "
	  "afterwards: rollups over the lines show their new values. The caller's rights on the child object "
	  "apply as anywhere: a role that may not create, change or delete lines sees them as text.",
	  "object: quote\n"
	  "fields:\n"
	  "  name:        { type: text, required: true }\n"
	  "  subtotal:    { type: rollup, of: quote_line.quote, measure: sum(line_total) }\n"
	  "  grand_total: { type: money, formula: \"subtotal * 1.13\" }\n"
	  "views:\n"
	  "  lines: { object: quote_line, ref: quote, fields: [product, quantity, unit_price, discount, line_total], order: sort_order }\n"
	  "---\n"
	  "object: quote_line\n"
	  "fields:\n"
	  "  quote:      { type: ref, to: quote, required: true, on_delete: cascade }\n"
	  "  product:    { type: ref, to: product, required: true }\n"
	  "  quantity:   { type: decimal, min: 0.01, default: 1 }\n"
	  "  unit_price: { type: money, min: 0 }\n"
	  "  discount:   { type: percent, min: 0, max: 100, default: 0 }\n"
	  "  line_total: { type: money, formula: \"quantity * unit_price * (100 - discount) / 100\" }\n"
	  "  sort_order: { type: int }\n",
	  NULL },
	{ "system-fields", "System fields",
	  "Every object has these fields, before its own; a field of the same name is an error. They are set by "
	  "the kernel (only `owner` can be written).",
	  NULL, write_system_fields },
	{ "expressions", "Expressions",
	  "One language for formulas, rules, rollup `where`, access levels, transition and approval `when`, timer "
	  "`when` and API filters. It compiles to parameterised SQL and evaluates in C with the same results.\n\n"
	  "- `and`, `or`, `not` (null is unknown, as in SQL)\n"
	  "- `=`, `!=` (or `<>`), `<`, `<=`, `>`, `>=`; `x = null` means `x is null`\n"
	  "- `in ('a', 'b')`, `not in (...)`: lists of literals\n"
	  "- `like`, `not like`: `%` and `_` wildcards, ASCII case-insensitive\n"
	  "- `is null`, `is not null`\n"
	  "- `+ - * / %` (`/` of two integers is exact or a decimal; by zero gives null), unary `-`, `||` joins texts "
	  "(null if any is null)\n"
	  "- dates: `date + n` and `date - n` move a date by n whole days (a fraction is dropped), `date - date` is the "
	  "whole days between them (as `days_between`); a datetime takes no arithmetic (use `add_days`, `days_between`, "
	  "`hours_between`), and `date * 2`, `date + 'x'` or `date + date` are refused when the metadata loads\n"
	  "- literals: `'text'` (double a quote inside: `'it''s'`), `12`, `3.5`, `true`, `false`, `null`\n"
	  "- fields by name, and dotted paths through ref and user fields (`account.industry`, at most 4 hops)\n"
	  "- `$me` (the acting user's id), `$user.<field>` (a field of the acting user's record)\n\n"
	  "Functions (a function of null gives null, unless it says otherwise):",
	  "when: \"stage = 'won' and (amount is null or days_between(close_date, today()) > 30)\"\n"
	  "formula: \"concat(first_name, ' ', last_name)\"\n"
	  "formula: \"if(close_date < today() + 30, round(amount * probability / 100, 2), 0)\"\n",
	  write_functions },
	{ "role", "Role",
	  "A document: what the users given this role may read, create, change and delete, object by object and "
	  "field by field. Enforced in the object API for every list, count, report, export and record.",
	  "role: sales_rep\n"
	  "label: { en: Sales Rep, zh: 销售代表 }\n"
	  "kind: employee\n"
	  "description: \"Works their own accounts, leads and deals; sees the team's pipeline\"\n"
	  "objects:\n"
	  "  account:     { read: all, update: own }\n"
	  "  lead:        { read: \"owner = $me or owner = null\", create: true, update: own }\n"
	  "  opportunity: { read: team, create: true, update: own, delete: none }\n"
	  "  user:        { read: all }\n"
	  "fields:\n"
	  "  opportunity.discount: read\n",
	  NULL },
	{ "signup", "Sign-up",
	  "app.yaml `signup:`: consumers sign themselves up. `POST /api/v1/auth/signup {email, name, password "
	  "[, language]}` answers 202 with the same body whether the address is new or taken (nobody learns who "
	  "has an account) and, for a new address, creates an inactive user of the role (login = the address) and "
	  "queues the template's e-mail through the outbox with a one-time link; only the link's hash is kept. "
	  "`POST /api/v1/auth/verify {token}` activates the user through the object API (an update setting "
	  "`active: true`, which `after_update` hooks on `user` see) and signs them in. Well-formed sign-ups are "
	  "limited per client address (429 with Retry-After), like failed logins.",
	  "signup:\n"
	  "  role: consumer\n"
	  "  template: signup_verify\n"
	  "  url: \"https://crm.example.com\"\n"
	  "  expires_hours: 24\n",
	  NULL },
	{ "role-home", "Role home",
	  "A role's `home:`: the home page its users see instead of the objects' `views.home` (a partner or "
	  "consumer portal), each section a short list under the caller's rules. Packages add sections with "
	  "`role: <name>, extend: true, home: { sections: [...] }`. `crm check` checks every part where it is "
	  "written: the object exists, the filter is an expression over it, sort and fields are its fields.",
	  "role: partner_user\n"
	  "extend: true\n"
	  "home:\n"
	  "  title: { en: Partner portal, zh: 伙伴门户 }\n"
	  "  sections:\n"
	  "    - object: opportunity\n"
	  "      title: { en: Our open deals, zh: 进行中的商机 }\n"
	  "      filter: \"stage not in ('won', 'lost')\"\n"
	  "      sort: -created_at\n"
	  "      fields: [name, account, amount, stage]\n"
	  "      limit: 10\n"
	  "      new: true\n",
	  NULL },
	{ "home-section", "Home section",
	  "One card of a [role home](#role-home): records of one object, filtered and sorted, with an optional "
	  "\"New\" button for callers who may create them.",
	  "object: lead\n"
	  "title: { en: Our leads, zh: 我们的线索 }\n"
	  "filter: \"status != 'converted'\"\n"
	  "fields: [name, company, status]\n",
	  NULL },
	{ "role-object", "Role object entry",
	  "A value of a role's `objects:`: the role's rights on one object's records. Each right is a level: "
	  "`none`, `own`, `team`, `all`, `true` (all), `false` (none), or an expression over the record.",
	  "objects:\n"
	  "  partner:     { read: \"id = $user.partner\" }\n"
	  "  opportunity: { read: \"partner = $user.partner\", create: \"partner = $user.partner\", update: own }\n"
	  "  lead:        { read: all, create: true, update: team, delete: team, change_owner: true }\n",
	  NULL },
	{ "workflow", "Workflow",
	  "A document: a state machine on an enum field of an object. Only its transitions change the field "
	  "(`POST .../transitions/<name>`; a record's `_transitions` lists those the caller may fire now); its "
	  "timers act on records over time. A document with `extend: true` adds transitions, actions, timers and "
	  "terminal states to a workflow defined elsewhere (a plugin adding a step to a base workflow).",
	  "workflow: opportunity_stage\n"
	  "object: opportunity\n"
	  "field: stage\n"
	  "initial: prospecting\n"
	  "terminal: [won, lost]\n"
	  "transitions:\n"
	  "  - { name: qualify, from: prospecting, to: qualification }\n"
	  "  - { name: propose, from: qualification, to: proposal, require: [amount, close_date] }\n"
	  "  - name: negotiate\n"
	  "    from: proposal\n"
	  "    to: negotiation\n"
	  "    approval: { when: \"discount > 20\", approvers: [\"role:sales_manager\"] }\n"
	  "  - { name: win, from: negotiation, to: won, do: [{ set: { probability: 100 } }, notify_manager] }\n"
	  "  - { name: lose, from: '*', to: lost }\n"
	  "timers:\n"
	  "  - { name: stale_proposal, when: \"stage = 'proposal'\", untouched_for: 30d, every: 1d,\n"
	  "      do: [{ notify: owner, message: \"This proposal has not moved for 30 days\" }] }\n"
	  "---\n"
	  "# another file or a plugin: a state, transitions, actions and a timer added to the workflow above\n"
	  "object: opportunity\n"
	  "extend: true\n"
	  "fields:\n"
	  "  stage: { extend: true, values: [stalled] }\n"
	  "---\n"
	  "workflow: opportunity_stage\n"
	  "extend: true\n"
	  "transitions:\n"
	  "  - { name: stall, from: [proposal, negotiation], to: stalled }\n"
	  "  - { name: revive, from: stalled, to: negotiation }\n"
	  "  - { name: win, extend: true, do: [lead2cash.create_order] }\n"
	  "timers:\n"
	  "  - { name: stall_quiet_deals, when: \"stage in ('proposal', 'negotiation')\", untouched_for: 60d, every: 1d,\n"
	  "      do: [{ transition: stall }] }\n",
	  NULL },
	{ "transition", "Transition",
	  "An item of a workflow's `transitions:`. Firing checks, in order: the caller may update the record, its "
	  "state is in `from`, no approval is pending on it, the caller's role is in `roles`, `require`, `when`; then "
	  "`approval` (which defers the rest), `before_transition` hooks, the actions, the state change and "
	  "`after_transition` hooks run, in one transaction.",
	  "transitions:\n"
	  "  - name: win\n"
	  "    label: { en: Mark won, zh: 赢单 }\n"
	  "    from: [negotiation, proposal]\n"
	  "    to: won\n"
	  "    require: [amount]\n"
	  "    when: \"amount > 0\"\n"
	  "    message: \"A won deal needs a positive amount\"\n"
	  "    roles: [sales_rep, sales_manager]\n"
	  "    do: [{ set: { probability: 100 } }, notify_manager]\n",
	  NULL },
	{ "approval", "Approval",
	  "A transition's `approval:`. Firing it creates one `approval` record per approver of the first step "
	  "(the metadata needs an `approval` object with `approver` and `status` fields: metadata/approval.yaml) and "
	  "answers 202; approvers decide with `POST /api/v1/objects/approval/<id>/approve` or `/reject`. When the "
	  "last step is approved the transition fires, with the values submitted at the request.",
	  "approval:\n"
	  "  when: \"discount > 20\"\n"
	  "  steps:\n"
	  "    - { approvers: [owner_manager] }\n"
	  "    - { approvers: [\"role:sales_manager\", \"user:cfo\"], mode: all }\n",
	  NULL },
	{ "approval-step", "Approval step",
	  "An item of an approval's `steps:` when it is a list.",
	  "steps:\n"
	  "  - { approvers: [owner_manager] }\n"
	  "  - { approvers: [\"role:sales_manager\", \"user:cfo\"], mode: all }\n",
	  NULL },
	{ "timer", "Timer",
	  "An item of a workflow's `timers:`. While `crm serve` runs, every `every` it runs its actions on each "
	  "live record of the workflow's object for which `when` holds and (with `untouched_for`) that has not "
	  "changed for that long. `{ transition: <name> }` among the actions moves the record through a transition "
	  "of the workflow; write `when` so that it matches only states the transition leaves (a record it may not "
	  "leave is skipped, and the run says so).\n\n"
	  "A timer with `due:` is a clock (an SLA deadline): it fires once the deadline in that field has passed, "
	  "and with `pause_when:` it stops while a condition holds, counting the pause in business minutes of a "
	  "[calendar](#calendar) and pushing the deadline by them on resume. `crm timer WORKFLOW TIMER --at "
	  "TIME` runs one timer once at a chosen UTC time, beside a running server: how tests drive the clock.",
	  "timers:\n"
	  "  - name: resolution_sla\n"
	  "    due: resolution_due\n"
	  "    pause_when: \"status = 'waiting_customer'\"\n"
	  "    calendar: cn_office\n"
	  "    paused_since: sla_paused_since\n"
	  "    paused_minutes: sla_paused_minutes\n"
	  "    when: \"sla_breached = false\"\n"
	  "    every: 1m\n"
	  "    do: [{ set: { sla_breached: true } }, { notify: owner, message: \"Resolution SLA breached\" }]\n"
	  "  - name: escalate\n"
	  "    when: \"status in ('new', 'open') and tier = 'l1'\"\n"
	  "    untouched_for: 4h\n"
	  "    every: 5m\n"
	  "    do: [{ set: { tier: l2 } }, notify_manager]\n"
	  "  - { name: auto_close, when: \"status = 'resolved'\", untouched_for: 7d, every: 1h, do: [{ transition: close }] }\n",
	  NULL },
	{ "kpi", "KPI",
	  "A document: a key figure the kernel computes per person, team and period from one object's records, "
	  "beside its target and the previous period (`GET /api/v1/kpis?day=YYYY-MM-DD&scope=me|team|all`, "
	  "`GET /api/v1/kpis/<name>`). The figure is a report of the object (the same compiler and the reader's "
	  "row rules): a kpi of an object the reader cannot read is left out, and records they cannot read never "
	  "count. `crm check` checks every key against the objects. Beside records, a kpi may count the audit "
	  "trail (`source: audit`) or be a formula over other kpis (`formula:`): the evaluation model of "
	  "metadata/kpis.yaml (operating efficiency: active users per day, records created and updated per user, "
	  "hours to first contact, pipeline velocity; business value: won revenue, win rate, average deal, "
	  "customer retention).",
	  "kpi: won_revenue\n"
	  "label: { en: Won revenue, zh: 赢单金额 }\n"
	  "category: business_value\n"
	  "object: opportunity\n"
	  "measure: sum(amount)\n"
	  "filter: \"stage = 'won'\"\n"
	  "date: close_date\n"
	  "period: quarter\n"
	  "target: 250000\n"
	  "dashboards: { admin: all, sales_manager: team, sales_rep: me }\n"
	  "---\n"
	  "kpi: win_rate\n"
	  "label: { en: Win rate, zh: 赢单率 }\n"
	  "category: business_value\n"
	  "formula: \"deals_won / deals_closed * 100\"\n"
	  "unit: percent\n"
	  "period: quarter\n"
	  "---\n"
	  "kpi: active_users_per_day\n"
	  "label: { en: Active users per day, zh: 日均活跃用户 }\n"
	  "source: audit\n"
	  "measure: count_distinct(user)\n"
	  "per: day\n",
	  NULL },
	{ "kpi-target", "KPI target",
	  "A kpi's `target:` as a map: the sum of a field of goal records whose date falls in the period and whose "
	  "owner is among the people asked about.",
	  "target: { object: sales_target, field: amount, date: period_start, owner: owner }\n",
	  NULL },
	{ "report", "Report",
	  "A document: figures across objects, run by `GET /api/v1/reports/<name>` (listed, with their columns, by "
	  "`GET /api/v1/reports`) and drawn on the dashboard of its `module`. Its rows are the root object's records "
	  "grouped by `group`; each measure counts or adds up the root records or the records of a join, reached "
	  "from each root record along refs, down to children or up to parents, in as many steps as needed "
	  "(campaign, its members, their leads, the opportunities those leads became).\n\n"
	  "**No double counting.** Joining children multiplies rows: a flat join of a campaign with its 100 members, "
	  "their leads and the opportunities they became has a row per path, so a deal two members lead to is added "
	  "twice, and the campaign's budget a hundred times. A report never joins that way. Each join measure is a "
	  "subquery per root record in which every step is a set (`id IN (...)`): the members of the campaign, the "
	  "leads they point at, the opportunities those leads point at, each record once, however many paths lead "
	  "to it; a root measure (`sum(budget)`) reads each root record once. A group then adds up its root "
	  "records' figures (min and max take the least and greatest; avg is the group's sum over its count): a deal "
	  "two campaigns lead to counts for both, once each, as in Salesforce's campaign reports.\n\n"
	  "**Access.** The report runs as the reader with the rules of lists: each object it touches (the root and "
	  "every join) is restricted to the records the reader's role lets them read, so a rep's report adds up "
	  "only their rows' contribution, and paths up through a record they may not read read as null. A report "
	  "whose root or join object the reader may not read at all, or that reads a field hidden from them "
	  "(groups, parameters, joins' refs, measured fields, filters), is refused as a whole (403) and left out of "
	  "their list: a funnel with a stage silently missing would mislead. `crm check` checks every key against "
	  "the objects: paths, joins and their refs' targets, loops of joins, measure types, filters' fields and "
	  "types, sort, and a name that is an object's.",
	  "report: campaign_revenue\n"
	  "label: { en: Won revenue by campaign, zh: 各市场活动赢单收入 }\n"
	  "module: marketing\n"
	  "object: campaign\n"
	  "joins:\n"
	  "  member:      { children: campaign_member.campaign }   # the campaign's members\n"
	  "  prospect:    { parent: member.lead }                   # the lead of each member\n"
	  "  opportunity: { parent: prospect.converted_opportunity } # what the lead became\n"
	  "group: [name]\n"
	  "measures:\n"
	  "  members:    { measure: count(member), label: { en: Members, zh: 成员 } }\n"
	  "  responded:  { measure: count(member), filter: \"status = 'responded'\", label: { en: Responded, zh: 已响应 } }\n"
	  "  won:        { measure: count(opportunity), filter: \"stage = 'won'\", label: { en: Won, zh: 赢单 } }\n"
	  "  won_amount: { measure: sum(opportunity.amount), filter: \"stage = 'won'\", label: { en: Won revenue, zh: 赢单收入 } }\n"
	  "  budget:     { measure: sum(budget), label: { en: Budget, zh: 预算 } }\n"
	  "parameters: { campaign: id }        # GET /api/v1/reports/campaign_revenue?campaign=12\n"
	  "sort: -won_amount\n"
	  "limit: 20\n"
	  "view: bar\n"
	  "---\n"
	  "report: won_by_month\n"
	  "label: { en: Won revenue by month, zh: 每月赢单收入 }\n"
	  "module: sales\n"
	  "object: opportunity\n"
	  "group: [{ field: close_date, by: month }]   # ?from=2026-01-01&to=2026-06-30\n"
	  "measures:\n"
	  "  won: { measure: sum(amount), filter: \"stage = 'won'\", label: { en: Won, zh: 赢单 } }\n"
	  "view: line\n",
	  NULL },
	{ "calendar", "Calendar",
	  "A `calendar:` document: business hours, for SLA clocks and any deadline counted in working time. It "
	  "names an IANA time zone and the working intervals of each weekday; the functions "
	  "`add_business_minutes`, `business_minutes_between` and `is_business_time` of the "
	  "[expression language](#expressions) count in it, in SQL (filters, formulas, reports: registered C "
	  "functions) and in C (rules, guards) alike, with the same code.\n\n"
	  "Holidays are records, so that an admin adds them without a release: the base object `holiday` "
	  "(`metadata/holiday.yaml`: `calendar` the calendar's name, `day`, `name`, `hours` a half day's "
	  "`HH:MM-HH:MM`, empty for a day off), readable by every employee role and written by admins. Metadata "
	  "without that object has no holidays.\n\n"
	  "Time zones come from the system's tz database (TZif files, version 2 or later): the kernel reads the "
	  "zone's file once when the metadata loads, its transitions and the rule for the years after them, and "
	  "converts with that table alone. It never sets `TZ` or calls `localtime_r`, whose zone is the "
	  "process's: server threads convert at the same time with no lock. `crm check` reports at the value's "
	  "file:line:column an unknown zone, a malformed, reversed or overlapping interval, a weekday that is no "
	  "weekday, and a calendar with no working time; an expression naming a calendar no document defines, "
	  "where the name is a text constant.",
	  "calendar: cn_office\n"
	  "label: { en: China Office Hours, zh: 中国办公时间 }\n"
	  "timezone: Asia/Shanghai\n"
	  "hours:\n"
	  "  mon: [\"09:00-12:00\", \"13:00-18:00\"]\n"
	  "  tue: [\"09:00-12:00\", \"13:00-18:00\"]\n"
	  "  wed: [\"09:00-12:00\", \"13:00-18:00\"]\n"
	  "  thu: [\"09:00-12:00\", \"13:00-18:00\"]\n"
	  "  fri: [\"09:00-12:00\", \"13:00-18:00\"]\n"
	  "  sat: []\n"
	  "# a deadline: due: { type: formula, returns: datetime, formula: \"add_business_minutes(opened_at, 480, 'cn_office')\" }\n",
	  NULL },
	{ "calendar-hours", "Calendar hours",
	  "The map of a calendar's `hours:`: a weekday's working intervals, `HH:MM-HH:MM` local time, in order "
	  "and apart (`24:00` ends a day).",
	  "hours: { mon: [\"09:00-18:00\"], sat: [\"10:00-14:00\"], sun: [] }\n",
	  NULL },
	{ "report-join", "Report join",
	  "A value of a report's `joins:`: one step from the root or another join, `children` (down: the records "
	  "whose ref points at the start) or `parent` (up: the record a ref of the start points at). The "
	  "records of a join are those the reader may read, live, reached from each root record.",
	  "joins:\n"
	  "  member:   { children: campaign_member.campaign }          # from the root (a campaign)\n"
	  "  lead:     { parent: member.lead }                         # up from member\n"
	  "  call:     { children: activity.lead, from: lead }         # down from lead\n"
	  "  manager:  { parent: owner }                               # up from the root: the user who owns it\n",
	  NULL },
	{ "report-group", "Report group",
	  "An item of a report's `group:` list: a field name or path (`owner`, `account.industry`), or a map for a "
	  "date bucket or a label of its own.",
	  "group:\n"
	  "  - { field: close_date, by: quarter, label: { en: Quarter, zh: 季度 } }\n"
	  "  - owner\n",
	  NULL },
	{ "report-measure", "Report measure",
	  "A value of a report's `measures:`: one figure of each row. A path's first segment names a join (its "
	  "records are measured) or else a field of the root.",
	  "measures:\n"
	  "  deals:   { measure: count(opportunity), label: { en: Deals, zh: 交易 } }\n"
	  "  won:     { measure: sum(opportunity.amount), filter: \"stage = 'won'\" }\n"
	  "  average: { measure: avg(opportunity.amount) }\n"
	  "  owners:  { measure: count_distinct(account.owner) }\n"
	  "  first:   { measure: min(close_date) }\n",
	  NULL },
	{ "actions", "Actions",
	  "An item of a transition's or a timer's `do:` list. They run in order, in the firing's transaction. An "
	  "item is a text or a map.\n\n"
	  "- `plugin.action` (a text with one dot): runs the action a plugin enabled in app.yaml registers "
	  "(`crm.action` in Lua, `host->action` in C) on the record.\n"
	  "- `notify_owner`, `notify_manager`: short for `{ notify: owner }` and `{ notify: manager }`.\n"
	  "- a map holding one action, `set`, `create`, `notify` or (in a timer) `transition`, and optionally `as` "
	  "(the table below).\n\n"
	  "Values may be literals or references: `$record.<field>` (the record as it will be written), `$me` (the "
	  "caller), `$now`, `$today`, and `$created.<object>` (the id of the record an earlier `create` of the same "
	  "list made). The keys of an action map:",
	  "# a transition of the lead workflow\n"
	  "do:\n"
	  "  - { set: { rating: hot } }\n"
	  "  - create: { object: activity, values: { subject: \"Call the lead\", lead: $record.id } }\n"
	  "  - { notify: \"user:sales_manager\", message: \"A lead was qualified\" }\n"
	  "  - notify_owner\n"
	  "  - sales.claim\n",
	  NULL },
	{ "create-action", "Create action",
	  "The map of a `create:` action: a new record of another object, created in the same transaction with "
	  "the caller's rights (the system's with `as: system` beside it).",
	  "do:\n"
	  "  - create: { object: account, values: { name: $record.company }, link: converted_account }\n"
	  "  - create:\n"
	  "      object: contact\n"
	  "      values: { account: $created.account, last_name: $record.last_name, email: $record.email }\n"
	  "      link: converted_contact\n",
	  NULL },
	{ "module", "Module",
	  "The `module:` of an object, written as a map to give the navigation group a label in every language.",
	  "module: { name: realestate, label: { en: Real estate, zh: 房产 } }\n",
	  NULL },
	{ "notify-action", "Notify action",
	  "A `do:` item whose first key is `notify:`: an in-app notification (the metadata needs a `notification` "
	  "object with `user` and `title` fields; `manager` needs a `manager` field on `user`), or with "
	  "`channel: email` an e-mail from a [template](#template) through the outbox (the metadata needs the "
	  "`outbox_message` object and an `email` field on `user`).",
	  "do:\n"
	  "  - { notify: owner, message: \"This proposal has not moved for 30 days\" }\n"
	  "  - { notify: \"user:admin\" }\n"
	  "  - { notify: manager, channel: email, template: deal_won }\n",
	  NULL },
	{ "template", "Template",
	  "A document: a named outbound message, an e-mail or a webhook post, that `crm.send(channel, to, template, "
	  "vars [, record])` (Lua), the C host's `send` and a workflow's [notify action](#notify-action) queue in the "
	  "caller's transaction. The outbox (`outbox_message` records, admins read them) delivers each message after "
	  "the commit, retrying with a backoff; see [config.outbox](#outbox). `{{name}}` placeholders take a var or "
	  "a field of `object`; `crm check` refuses any other.",
	  "template: deal_won\n"
	  "label: { en: Deal won, zh: 赢单通知 }\n"
	  "channel: email\n"
	  "format: html\n"
	  "object: opportunity\n"
	  "vars: [note]\n"
	  "subject: { en: \"Won: {{name}}\", zh: \"赢单：{{name}}\" }\n"
	  "body: { en: \"<p>{{name}} is won ({{amount}}). {{note}}</p>\", zh: \"<p>{{name}} 已赢单（{{amount}}）。{{note}}</p>\" }\n",
	  NULL },
	{ "outbox", "Outbox settings (config.outbox)",
	  "app.yaml `config: { outbox: {...} }`: where e-mails and webhook posts go and how delivery retries. "
	  "`crm serve` delivers on a thread of its own (never inside a request's transaction); `crm outbox run` makes "
	  "one pass (cron, tests). A message left `sending` by a crash goes back to the queue when the server starts, "
	  "so delivery is at least once.",
	  "config:\n"
	  "  outbox:\n"
	  "    smtp_url: \"smtp://mail.example.com:587\"\n"
	  "    starttls: true\n"
	  "    from: \"Acme CRM <crm@acme.example>\"\n"
	  "    smtp_user_env: CRM_SMTP_USER\n"
	  "    smtp_password_env: CRM_SMTP_PASSWORD\n"
	  "    retry_base: 30\n"
	  "    retry_cap: 3600\n"
	  "    max_attempts: 8\n"
	  "    webhooks:\n"
	  "      erp: { url: \"https://erp.example/hooks/crm\", secret_env: CRM_ERP_SECRET }\n",
	  NULL },
	{ "outbox-webhook", "Outbox webhook endpoint",
	  "One endpoint of `config.outbox.webhooks`, named by senders.",
	  "erp: { url: \"https://erp.example/hooks/crm\", secret_env: CRM_ERP_SECRET }\n",
	  NULL },
	{ "plugin-manifest", "Plugin manifest (plugin.yaml)",
	  "`plugins/<name>/plugin.yaml`: one document describing the plugin. sdk/README.md walks through writing "
	  "one.",
	  "name: discounts\n"
	  "version: 1.2.0\n"
	  "description: \"Discount approval rules\"\n"
	  "author: \"Acme CRM team\"\n"
	  "license: MIT\n"
	  "requires: { kernel: \">=0.1\", sales: \"^1.0\" }\n"
	  "lua: discounts.lua\n"
	  "config:\n"
	  "  max_discount: 50\n"
	  "limits: { instructions: 10000000, memory_mb: 16 }\n"
	  "system_access: false\n",
	  NULL },
	{ "plugin-action", "Plugin action declaration (plugin.yaml `actions:`)",
	  "A button for an action the plugin's code registers: on which object's records, its label, when it "
	  "applies and what to confirm. `GET /api/v1/meta` lists an object's declared actions under `actions`; "
	  "`GET` of a record names those whose `when` holds under `_actions`; the UI runs one with "
	  "`POST /api/v1/objects/{object}/{id}/actions/{plugin.action}`, which answers 409 on a record whose `when` "
	  "does not hold. Only declared actions can be called by clients: an action the code registers without a "
	  "declaration is a step for workflows and code (404 over HTTP).",
	  "actions:\n"
	  "  claim:\n"
	  "    object: lead\n"
	  "    label: { en: Claim, zh: 领取 }\n"
	  "    when: \"owner = null and status in ('new', 'working')\"\n"
	  "    confirm: { en: \"Take this lead from the pool?\", zh: \"从公海领取这条线索？\" }\n",
	  NULL },
	{ "plugin-limits", "Plugin limits (plugin.yaml `limits:`)",
	  "What one call into a Lua plugin may use; past it the call fails.",
	  "limits:\n"
	  "  instructions: 50000000\n"
	  "  memory_mb: 32\n",
	  NULL },
};

/* The loader's (or a caller's) key table of kind, or NULL. */
static const struct meta_key_table *find_table(const char *kind, const struct meta_key_table *extra,
                                               int extra_count)
{
	int count;
	const struct meta_key_table *tables = meta_key_tables(&count);
	for (int i = 0; i < count; i++) {
		if (!strcmp(tables[i].kind, kind))
			return &tables[i];
	}
	for (int i = 0; i < extra_count; i++) {
		if (!strcmp(extra[i].kind, kind))
			return &extra[i];
	}
	return NULL;
}

static void write_section(FILE *out, const struct section_doc *s, const struct meta_key_table *extra,
                          int extra_count)
{
	fprintf(out, "<a id=\"%s\"></a>\n\n## %s\n\n%s\n\n", s->kind, s->title, s->intro);
	if (s->generated) {
		s->generated(out);
		fputc('\n', out);
	}
	const struct meta_key_table *table = find_table(s->kind, extra, extra_count);
	if (!strcmp(s->kind, "field")) {
		put_key_header(out, true);
		for (int k = 0; k < meta_field_key_count(); k++)
			put_key_row(out, "field", meta_field_key_name(k), k);
		fputc('\n', out);
	} else if (table) {
		put_key_header(out, false);
		for (int k = 0; table->keys[k]; k++)
			put_key_row(out, s->kind, table->keys[k], -1);
		fputc('\n', out);
	} else {
		/* a kind no loader checks (views, actions): its entries as written */
		bool any = false;
		for (int i = 0; i < KEY_DOC_COUNT; i++) {
			if (strcmp(key_docs[i].kind, s->kind) != 0)
				continue;
			if (!any)
				put_key_header(out, false);
			any = true;
			put_key_row(out, s->kind, key_docs[i].key, -1);
		}
		if (any)
			fputc('\n', out);
	}
	if (s->example)
		fprintf(out, "```yaml\n%s```\n\n", s->example);
}

void meta_docs_write(FILE *out, const struct meta_key_table *extra, int extra_count)
{
	fputs("# Metadata reference\n\n"
	      "<!-- Generated by `crm docs metadata` from the loaders' key tables (core/lang/meta.c, "
	      "core/hosts/plugin.c) and the words in core/lang/meta_docs.c; `make test` fails when this file "
	      "differs. Edit those, then run `crm docs metadata > docs/metadata.md`. -->\n\n"
	      "Everything an implementer writes in YAML: each kind of document and map, each key the loader "
	      "accepts there with its type, allowed values, default and an example. An implementer can write a "
	      "pack from this page alone; `crm check` says where a file departs from it.\n\n"
	      "<a id=\"contents\"></a>\n\n", out);
	for (int i = 0; i < COUNT_OF(sections); i++)
		fprintf(out, "- [%s](#%s)\n", sections[i].title, sections[i].kind);
	fputc('\n', out);
	for (int i = 0; i < COUNT_OF(sections); i++)
		write_section(out, &sections[i], extra, extra_count);
}

/* ------------------------------------------------------------------- checking */

struct problems {
	char *err;
	size_t errlen, used;
	int count;
};

static void problem(struct problems *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct problems *p, const char *fmt, ...)
{
	char text[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (p->errlen > 0 && p->used < p->errlen - 1) {
		int n = snprintf(p->err + p->used, p->errlen - p->used, "%s%s", p->count ? "; " : "", text);
		if (n > 0)
			p->used += (size_t)n < p->errlen - p->used ? (size_t)n : p->errlen - p->used - 1;
	}
	p->count++;
}

static const struct section_doc *find_section(const char *kind)
{
	for (int i = 0; i < COUNT_OF(sections); i++) {
		if (!strcmp(sections[i].kind, kind))
			return &sections[i];
	}
	return NULL;
}

static bool accepted(const char *kind, const char *key, const struct meta_key_table *table)
{
	if (!strcmp(kind, "field")) {
		for (int k = 0; k < meta_field_key_count(); k++) {
			if (!strcmp(meta_field_key_name(k), key))
				return true;
		}
		return false;
	}
	for (int k = 0; table->keys[k]; k++) {
		if (!strcmp(table->keys[k], key))
			return true;
	}
	return false;
}

static void check_table(struct problems *p, const struct meta_key_table *table)
{
	if (!find_section(table->kind))
		problem(p, "key table '%s' has no section in core/lang/meta_docs.c", table->kind);
	for (int k = 0; table->keys[k]; k++) {
		if (!find_key_doc(table->kind, table->keys[k]))
			problem(p, "key '%s' of '%s' has no entry in core/lang/meta_docs.c", table->keys[k], table->kind);
	}
}

int meta_docs_check(const struct meta_key_table *extra, int extra_count, char *err, size_t errlen)
{
	struct problems p = { err, errlen, 0, 0 };
	if (errlen > 0)
		err[0] = '\0';
	int count;
	const struct meta_key_table *tables = meta_key_tables(&count);
	for (int i = 0; i < count; i++)
		check_table(&p, &tables[i]);
	for (int i = 0; i < extra_count; i++)
		check_table(&p, &extra[i]);
	for (int k = 0; k < meta_field_key_count(); k++) {
		if (!find_key_doc("field", meta_field_key_name(k)))
			problem(&p, "key '%s' of '%s' has no entry in core/lang/meta_docs.c", meta_field_key_name(k), "field");
	}
	/* Every entry names a key the loader accepts, in a section that exists. */
	for (int i = 0; i < KEY_DOC_COUNT; i++) {
		const struct key_doc *doc = &key_docs[i];
		const struct meta_key_table *table = find_table(doc->kind, extra, extra_count);
		if (!find_section(doc->kind))
			problem(&p, "entry for key '%s' names '%s', which has no section", doc->key, doc->kind);
		else if ((table || !strcmp(doc->kind, "field")) && !accepted(doc->kind, doc->key, table))
			problem(&p, "entry for key '%s' of '%s': the loader accepts no such key", doc->key, doc->kind);
		if (find_key_doc(doc->kind, doc->key) != doc)
			problem(&p, "key '%s' of '%s' is documented twice", doc->key, doc->kind);
		if (!doc->type || !doc->text || !doc->example)
			problem(&p, "entry for key '%s' of '%s' needs a type, a text and an example", doc->key, doc->kind);
	}
	/* The lists the generated tables come from. */
	for (int t = 0; t < FIELD_TYPE_COUNT; t++) {
		bool found = false;
		for (int i = 0; i < COUNT_OF(type_docs); i++)
			found = found || !strcmp(type_docs[i].type, meta_type_name((enum field_type)t));
		if (!found)
			problem(&p, "field type '%s' has no entry in core/lang/meta_docs.c", meta_type_name((enum field_type)t));
	}
	if (COUNT_OF(type_docs) != FIELD_TYPE_COUNT)
		problem(&p, "type_docs lists a field type the loader does not have");
	int system_count = 0;
	const char *name;
	for (; (name = meta_system_field(system_count, NULL)); system_count++) {
		bool found = false;
		for (int i = 0; i < COUNT_OF(system_field_docs); i++)
			found = found || !strcmp(system_field_docs[i].name, name);
		if (!found)
			problem(&p, "system field '%s' has no entry in core/lang/meta_docs.c", name);
	}
	if (COUNT_OF(system_field_docs) != system_count)
		problem(&p, "system_field_docs lists a field that is not a system field");
	int function_count = 0, arity;
	for (; (name = expr_function(function_count, &arity)); function_count++) {
		bool found = false;
		for (int i = 0; i < COUNT_OF(function_docs); i++) {
			if (strcmp(function_docs[i].name, name))
				continue;
			found = true;
			/* the names written must be as many as the arguments: commas + 1, "..." for more */
			const char *arguments = function_docs[i].arguments;
			int written = *arguments ? 1 : 0;
			for (const char *c = arguments; *c; c++)
				written += *c == ',';
			bool variadic = strstr(arguments, "...") != NULL;
			if (variadic != (arity < 0) || (!variadic && written != arity))
				problem(&p, "function '%s': its arguments in core/lang/meta_docs.c are not its %d", name, arity);
		}
		if (!found)
			problem(&p, "function '%s' has no entry in core/lang/meta_docs.c", name);
	}
	if (COUNT_OF(function_docs) != function_count)
		problem(&p, "function_docs lists a function the expression language does not have");
	return p.count;
}
