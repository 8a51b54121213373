/*
 * main.c - the `crm` command line: serve, check, migrate, import, export,
 * demo. Every command goes through the kernel and the object API.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <sys/stat.h>
#include "attachment.h"
#include "backup.h"
#include "auth.h"
#include "csv.h"
#include "demo.h"
#include "gdpr.h"
#include "http.h"
#include "kernel.h"
#include "meta_docs.h"
#include "meta.h"
#include "object.h"
#include "outbox_deliver.h"
#include "plugin.h"
#include "store.h"
#include "workflow.h"
#include "calendar.h"

static const char usage[] =
	"usage: crm [global options] COMMAND [options]\n"
	"\n"
	"Commands:\n"
	"  serve      serve the REST API and the web UI\n"
	"               --port N            TCP port (default 8080; 0 = any free port)\n"
	"               --bind ADDR         address to listen on (default 127.0.0.1)\n"
	"               --threads N         worker threads (default 2)\n"
	"               --max-body BYTES    request body cap (default 10485760; 413 beyond)\n"
	"               --max-file BYTES    one attachment's cap (default 10485760 or config file_max_bytes; 413 beyond)\n"
	"               --no-require-if-match  let PATCH without If-Match through (DELETE never needs it)\n"
	"               --max-connections N     open connections at most (default 1024)\n"
	"               --per-ip-connections N  from one address at most (default 64)\n"
	"               --connection-timeout S  seconds of silence before a connection is closed (default 30)\n"
	"               --request-deadline S    seconds a request may take in all (default 60)\n"
	"               --secure-cookies    mark the session cookie Secure (serve behind TLS)\n"
	"               --quiet             no access log\n"
	"  check      validate the metadata and the enabled plugins; exit 1 with file:line:column errors\n"
	"               --i18n LANG        also list every label people read that has no LANG text\n"
	"  docs metadata   the metadata reference (every document kind and key) as Markdown on standard output\n"
	"                  (crm docs metadata > docs/metadata.md regenerates the committed copy)\n"
	"  plugins [--stats]   the loaded plugins, versions, what each contributes (--stats: hook timings, jobs)\n"
	"  plugin new NAME [--lang lua|c]   scaffold plugins/NAME with a test that passes at once\n"
	"  plugin test NAME    run plugins/NAME/tests/ *.lua against a scratch database\n"
	"  migrate    diff the metadata against the database and apply additive changes\n"
	"               --dry-run           print the plan only\n"
	"               --allow-destructive apply removals, type changes and narrowed enums\n"
	"                                   (old data is kept in _crm_backup_* tables)\n"
	"  reindex [OBJECT]   rebuild the full-text search index of OBJECT (default: every object\n"
	"                     with search: true fields) from its records, in one transaction\n"
	"  import OBJECT FILE.csv\n"
	"             load records from CSV (header = field names); bad rows are reported\n"
	"             with their line number and skipped, good rows are loaded\n"
	"  export OBJECT [--filter EXPR] [--sort KEYS] [--fields LIST]\n"
	"             write records as CSV to standard output\n"
	"  files sweep [--grace S]  remove attachment files no record names any more, and\n"
	"               abandoned uploads, older than S seconds (default 3600)\n"
	"  gdpr export --contact ID   everything held about a person, as JSON on standard output\n"
	"  gdpr erase --contact ID    anonymise the person's personal fields (personal: true),\n"
	"                             keep the business records, scrub the audit trail\n"
	"  outbox run          one delivery pass of the outbox (e-mails, webhooks): for cron and tests\n"
	"  user add --login L --role R [--kind employee|partner|consumer] [--team T] [--manager L]\n"
	"           [--name N] [--email E]   create a user; the password is read from standard input\n"
	"  user passwd L       set L's password from standard input (ends L's sessions)\n"
	"  user disable L      disable L (ends L's sessions and API tokens)\n"
	"  user list           list the users\n"
	"  token create --user L --name N   an API token for integrations (shown once)\n"
	"  timer WORKFLOW TIMER [--at YYYY-MM-DDTHH:MM:SSZ]\n"
	"             run one workflow timer once, now or at the given UTC time (a test's\n"
	"             clock); beside a running server too (the database is shared)\n"
	"  backup FILE [--force]   a consistent copy of the database, also while a server writes to it: one\n"
	"             snapshot written to FILE.tmp, synced, integrity-checked, renamed to FILE; prints its\n"
	"             size, pages, time and last audit row (--force replaces an existing FILE)\n"
	"  backup --verify FILE    check a backup (integrity_check, this application's tables); restores nothing\n"
	"  restore FILE [--verify] replace the database by the backup FILE, only while no server serves it\n"
	"             (else exit 3); the old database stays as PATH.before-restore until the restore is\n"
	"             complete; --verify checks FILE and restores nothing\n"
	"  demo [--records N] [--seed S]\n"
	"             create deterministic demo data: N accounts (default 1000) with\n"
	"             contacts, opportunities, leads, activities, cases (vehicles\n"
	"             where the vin plugin is enabled), users and teams\n"
	"\n"
	"Global options (before or after the command):\n"
	"  --db PATH          database file (default var/crm.db)\n"
	"  --files DIR        attachments' files (default config files_dir, else the database path + .files)\n"
	"  --metadata DIR     metadata directory (default metadata)\n"
	"  --plugins DIR[:DIR...]  plugin folders, searched in order (default plugins)\n"
	"  --industry NAME    run as that industry of app.yaml `industries:` (its plugins after `plugins:`);\n"
	"                     default app.yaml `industry:`\n"
	"  --help             this text\n"
	"  --version          print the version\n";

struct cli {
	struct kernel_options kernel;
	struct http_options http;
	bool dry_run, allow_destructive;
	const char *filter, *sort, *fields;
	long records;
	long contact;
	struct auth_user_spec user;
	bool stats;
	const char *lang;
	const char *i18n;            /* crm check --i18n LANG */
	const char *token_user, *token_name;
	const char *at;              /* crm timer --at */
	unsigned long long seed;
	long grace;                  /* crm files sweep --grace */
	bool force, verify;          /* crm backup --force, crm backup|restore --verify */
};

enum {
	OPT_DB = 256, OPT_METADATA, OPT_PLUGINS, OPT_INDUSTRY, OPT_PORT, OPT_BIND, OPT_THREADS, OPT_MAX_BODY,
	OPT_NO_IF_MATCH, OPT_SECURE_COOKIES, OPT_QUIET, OPT_DRY_RUN, OPT_ALLOW_DESTRUCTIVE, OPT_FILTER, OPT_SORT,
	OPT_FIELDS, OPT_RECORDS, OPT_SEED, OPT_HELP, OPT_VERSION, OPT_CONTACT,
	OPT_STATS, OPT_LANG, OPT_I18N, OPT_MAX_CONNECTIONS, OPT_PER_IP, OPT_CONN_TIMEOUT, OPT_DEADLINE, OPT_LOGIN, OPT_ROLE, OPT_KIND, OPT_TEAM, OPT_MANAGER, OPT_NAME, OPT_EMAIL, OPT_PARTNER, OPT_USER,
	OPT_FILES, OPT_MAX_FILE, OPT_GRACE,
	OPT_AT, OPT_FORCE, OPT_VERIFY,
};

static const struct option options[] = {
	{ "db", required_argument, NULL, OPT_DB },
	{ "metadata", required_argument, NULL, OPT_METADATA },
	{ "plugins", required_argument, NULL, OPT_PLUGINS },
	{ "industry", required_argument, NULL, OPT_INDUSTRY },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "bind", required_argument, NULL, OPT_BIND },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "max-body", required_argument, NULL, OPT_MAX_BODY },
	{ "no-require-if-match", no_argument, NULL, OPT_NO_IF_MATCH },
	{ "secure-cookies", no_argument, NULL, OPT_SECURE_COOKIES },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "allow-destructive", no_argument, NULL, OPT_ALLOW_DESTRUCTIVE },
	{ "filter", required_argument, NULL, OPT_FILTER },
	{ "sort", required_argument, NULL, OPT_SORT },
	{ "fields", required_argument, NULL, OPT_FIELDS },
	{ "records", required_argument, NULL, OPT_RECORDS },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "contact", required_argument, NULL, OPT_CONTACT },
	{ "login", required_argument, NULL, OPT_LOGIN },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "i18n", required_argument, NULL, OPT_I18N },
	{ "max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS },
	{ "per-ip-connections", required_argument, NULL, OPT_PER_IP },
	{ "connection-timeout", required_argument, NULL, OPT_CONN_TIMEOUT },
	{ "request-deadline", required_argument, NULL, OPT_DEADLINE },
	{ "lang", required_argument, NULL, OPT_LANG },
	{ "role", required_argument, NULL, OPT_ROLE },
	{ "kind", required_argument, NULL, OPT_KIND },
	{ "team", required_argument, NULL, OPT_TEAM },
	{ "manager", required_argument, NULL, OPT_MANAGER },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "email", required_argument, NULL, OPT_EMAIL },
	{ "partner", required_argument, NULL, OPT_PARTNER },
	{ "user", required_argument, NULL, OPT_USER },
	{ "files", required_argument, NULL, OPT_FILES },
	{ "max-file", required_argument, NULL, OPT_MAX_FILE },
	{ "grace", required_argument, NULL, OPT_GRACE },
	{ "at", required_argument, NULL, OPT_AT },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "verify", no_argument, NULL, OPT_VERIFY },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static bool parse_long(const char *text, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static int bad_number(const char *option, const char *text)
{
	fprintf(stderr, "crm: --%s: '%s' is not a valid number\n", option, text);
	return 2;
}

/* Makes the directory holding path, so `--db var/x.db` works on a fresh clone. */
static void make_parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash || slash == path)
		return;
	char dir[4096];
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	mkdir(dir, 0755);
}

static int open_kernel(struct cli *cli, bool migrate, struct crm_kernel **out)
{
	cli->kernel.migrate = migrate;
	make_parent_dir(cli->kernel.db_path);
	return kernel_open(&cli->kernel, out) == CRM_OK ? 0 : 1;
}

static int cmd_check(struct cli *cli)
{
	/* metadata first (every error with file:line:column), then each enabled plugin */
	if (plugin_check(cli->kernel.metadata_dir, cli->kernel.plugins_dir, cli->kernel.industry, stderr) != 0)
		return 1;
	if (!cli->i18n)
		return 0;
	/* --i18n zh: every label a person reads that has no zh text, in the deployment and (without
	 * --industry) in each industry's; exit 1 if any. A base label missing counts once per deployment. */
	int missing = 0, count = 1;
	char **industries = xcalloc(1, sizeof(*industries));
	industries[0] = cli->kernel.industry ? xstrdup(cli->kernel.industry) : NULL;
	for (int i = 0; i < count; i++) {
		struct meta *meta = NULL;
		struct meta_diags diags = { 0 };
		int code = meta_load_industry(cli->kernel.metadata_dir, cli->kernel.plugins_dir, industries[i], &meta, &diags);
		meta_diags_free(&diags);
		if (code != CRM_OK) {
			missing = -1;
			break;
		}
		missing += meta_i18n_missing(meta, cli->i18n, stderr);
		for (int j = 0; i == 0 && !cli->kernel.industry && j < meta->industry_count; j++) {
			industries = xrealloc(industries, (size_t)(count + 1) * sizeof(*industries));
			industries[count++] = xstrdup(meta->industries[j].name);
		}
		meta_free(meta);
	}
	for (int i = 0; i < count; i++)
		free(industries[i]);
	free(industries);
	if (missing < 0)
		return 1;
	fprintf(stderr, "%d label%s without a '%s' text\n", missing, missing == 1 ? "" : "s", cli->i18n);
	return missing ? 1 : 0;
}

/* `crm docs metadata`: the reference, from the same key tables `crm check` uses. */
static int cmd_docs(const char *what)
{
	if (strcmp(what, "metadata") != 0) {
		fprintf(stderr, "crm docs: expected 'metadata', not '%s'\n", what);
		return 2;
	}
	int count;
	const struct meta_key_table *manifest = plugin_key_tables(&count);
	meta_docs_write(stdout, manifest, count);
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}

static int cmd_plugins(struct cli *cli)
{
	struct crm_kernel *kernel;
	if (open_kernel(cli, true, &kernel))
		return 1;
	int rc = plugin_cli_list(kernel, cli->stats, stdout);
	kernel_close(kernel);
	return rc;
}

static int cmd_plugin(struct cli *cli, const char *action, const char *name)
{
	if (strcmp(action, "new") == 0 && name)
		return plugin_cli_new(cli->kernel.plugins_dir, name, cli->lang ? cli->lang : "lua", stdout);
	if (strcmp(action, "test") == 0 && name)
		return kernel_plugin_test(cli->kernel.metadata_dir, cli->kernel.plugins_dir, name, stdout);
	fprintf(stderr, "crm plugin: expected 'new NAME --lang lua|c' or 'test NAME'\n");
	return 2;
}

static int cmd_migrate(struct cli *cli)
{
	cli->kernel.no_schema = true;
	struct crm_kernel *kernel;
	if (open_kernel(cli, false, &kernel))
		return 1;
	struct crm_ctx ctx;
	crm_ctx_init(&ctx, kernel, 0, NULL);
	struct schema_plan *plan = NULL;
	int code = cli->allow_destructive ? CRM_OK : kernel_industry(kernel, INDUSTRY_CHECK, &ctx);
	if (code == CRM_OK)
		code = schema_plan(kernel->store, &plan, &ctx);
	if (code == CRM_OK) {
		schema_plan_print(plan, stdout);
		if (!cli->dry_run && schema_plan_step_count(plan) > 0) {
			code = schema_apply(kernel->store, plan, cli->allow_destructive, &ctx);
			if (code == CRM_OK)
				printf("applied %d steps\n", schema_plan_step_count(plan));
		}
		if (code == CRM_OK && !cli->dry_run)
			code = kernel_industry(kernel, cli->allow_destructive ? INDUSTRY_SET : INDUSTRY_RECORD, &ctx);
	}
	if (code != CRM_OK)
		fprintf(stderr, "crm migrate: %s\n", ctx.message);
	schema_plan_free(plan);
	crm_ctx_clear(&ctx);
	kernel_close(kernel);
	return code == CRM_OK ? 0 : 1;
}

/* `crm reindex [OBJECT]`: the full-text indexes dropped and built again from the records. */
static int cmd_reindex(struct cli *cli, const char *object)
{
	struct crm_kernel *kernel;
	if (open_kernel(cli, true, &kernel))
		return 1;
	struct crm_ctx ctx;
	crm_ctx_init(&ctx, kernel, 0, NULL);
	int count = 0;
	int code = schema_search_rebuild(kernel->store, object, &count, &ctx);
	if (code == CRM_OK)
		printf("reindexed %d object%s\n", count, count == 1 ? "" : "s");
	else
		fprintf(stderr, "crm reindex: %s\n", ctx.message);
	crm_ctx_clear(&ctx);
	kernel_close(kernel);
	return code == CRM_OK ? 0 : 1;
}

static int cmd_import(struct cli *cli, const char *object, const char *file)
{
	cli->kernel.bulk = true;
	FILE *in = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
	if (!in) {
		fprintf(stderr, "crm import: cannot open '%s': %s\n", file, strerror(errno));
		return 1;
	}
	struct crm_kernel *kernel;
	if (open_kernel(cli, true, &kernel)) {
		if (in != stdin)
			fclose(in);
		return 1;
	}
	struct crm_ctx ctx;
	crm_ctx_init(&ctx, kernel, 0, NULL);
	struct csv_import_stats stats = { 0 };
	/*
	 * Big transactions: random index inserts touch most index pages in any
	 * batch, so fewer, larger commits write far less WAL (measured: 5,000-row
	 * batches made a 1,000,000-row import I/O-bound).
	 */
	struct csv_reader *reader = csv_reader_new_file(in);
	struct csv_import_options options = { .report = stderr, .batch_size = 50000 };
	int code = csv_import_reader(&ctx, object, reader, &options, &stats);
	csv_reader_free(reader);
	if (in != stdin)
		fclose(in);
	if (code != CRM_OK)
		fprintf(stderr, "crm import: %s\n", ctx.message);
	if (stats.created > 0)
		store_analyze(kernel->store);
	printf("%lld rows read, %lld created, %lld rejected\n", (long long)stats.rows,
	       (long long)stats.created, (long long)stats.rejected);
	crm_ctx_clear(&ctx);
	kernel_close(kernel);
	return code == CRM_OK && stats.rejected == 0 ? 0 : 1;
}

static int cmd_export(struct cli *cli, const char *object)
{
	struct crm_kernel *kernel;
	if (open_kernel(cli, false, &kernel))
		return 1;
	struct crm_ctx ctx;
	crm_ctx_init(&ctx, kernel, 0, NULL);
	struct object_query query = { .filter = cli->filter, .sort = cli->sort, .fields = cli->fields };
	int code = csv_export(&ctx, object, &query, stdout);
	if (code != CRM_OK)
		fprintf(stderr, "crm export: %s\n", ctx.message);
	crm_ctx_clear(&ctx);
	kernel_close(kernel);
	return code == CRM_OK ? 0 : 1;
}

static int cmd_demo(struct cli *cli)
{
	cli->kernel.bulk = true;
	struct crm_kernel *kernel;
	if (open_kernel(cli, true, &kernel))
		return 1;
	struct crm_ctx ctx;
	crm_ctx_init(&ctx, kernel, 0, NULL);
	int code = demo_generate(&ctx, (int)cli->records, cli->seed, stdout);
	if (code == CRM_OK)
		store_analyze(kernel->store);
	if (code != CRM_OK)
		fprintf(stderr, "crm demo: %s\n", ctx.message);
	crm_ctx_clear(&ctx);
	kernel_close(kernel);
	return code == CRM_OK ? 0 : 1;
}

static int cmd_gdpr(struct cli *cli, const char *action)
{
	if (strcmp(action, "export") != 0 && strcmp(action, "erase") != 0) {
		fprintf(stderr, "crm gdpr: expected 'export' or 'erase', not '%s'\n", action);
		return 2;
	}
	if (cli->contact <= 0) {
		fprintf(stderr, "crm gdpr %s: --contact ID is required\n", action);
		return 2;
	}
	struct crm_kernel *kernel;
	if (open_kernel(cli, false, &kernel))
		return 1;
	struct crm_ctx ctx;
	crm_ctx_init(&ctx, kernel, 0, NULL);
	int code;
	if (strcmp(action, "export") == 0) {
		json_t *out = NULL;
		code = gdpr_export(&ctx, "contact", cli->contact, &out);
		if (code == CRM_OK) {
			json_dumpf(out, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
			fputc('\n', stdout);
		}
		json_decref(out);
	} else {
		int fields = 0;
		code = gdpr_erase(&ctx, "contact", cli->contact, &fields);
		if (code == CRM_OK)
			printf("contact %ld: %d personal fields erased, audit trail scrubbed\n", cli->contact, fields);
	}
	if (code != CRM_OK)
		fprintf(stderr, "crm gdpr %s: %s\n", action, ctx.message);
	crm_ctx_clear(&ctx);
	kernel_close(kernel);
	return code == CRM_OK ? 0 : 1;
}

/* `crm outbox run`: one delivery pass (tests, cron); a message `sending` for 10 minutes is taken as abandoned. */
static int cmd_outbox(struct cli *cli, const char *action)
{
	if (strcmp(action, "run") != 0) {
		fprintf(stderr, "crm outbox: expected 'run', not '%s'\n", action);
		return 2;
	}
	struct crm_kernel *kernel;
	if (open_kernel(cli, false, &kernel))
		return 1;
	struct outbox_stats stats;
	int code = outbox_run(kernel, 10 * 60, &stats);
	printf("outbox: %d sent, %d failed (will retry), %d dead, %d requeued\n", stats.sent, stats.failed, stats.dead,
	       stats.recovered);
	kernel_close(kernel);
	return code == CRM_OK ? 0 : 1;
}

/* crm files sweep: attachment files no row names (attachment.h), older than --grace. */
static int cmd_files(struct cli *cli, const char *action)
{
	struct crm_kernel *kernel;
	struct crm_ctx ctx;
	int64_t removed = 0;
	if (strcmp(action, "sweep") != 0) {
		fprintf(stderr, "crm files: expected 'sweep', not '%s'\n", action);
		return 2;
	}
	if (open_kernel(cli, false, &kernel))
		return 1;
	crm_ctx_init(&ctx, kernel, 0, "files-sweep");
	int code = attachment_sweep(&ctx, (int)cli->grace, &removed);
	if (code != CRM_OK)
		fprintf(stderr, "crm files sweep: %s\n", ctx.message);
	else
		printf("%lld unreferenced files removed from %s\n", (long long)removed, kernel->files_dir);
	crm_ctx_clear(&ctx);
	kernel_close(kernel);
	return code != CRM_OK;
}

/* A password from standard input: the first line, without its line end. */
static bool read_password(char *buf, size_t size)
{
	if (!fgets(buf, (int)size, stdin))
		return false;
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf[0] != '\0';
}

static int cmd_user(struct cli *cli, const char *action, const char *login)
{
	struct crm_kernel *kernel;
	if (open_kernel(cli, true, &kernel))
		return 1;
	struct crm_ctx ctx;
	crm_ctx_init(&ctx, kernel, 0, "cli");
	char password[1100];
	int code = CRM_OK;
	if (strcmp(action, "add") == 0) {
		if (!cli->user.login || !cli->user.role) {
			fprintf(stderr, "crm user add: --login and --role are required\n");
			code = CRM_EINVAL;
		} else {
			cli->user.password = read_password(password, sizeof(password)) ? password : NULL;
			int64_t id = 0;
			code = auth_user_add(&ctx, &cli->user, &id);
			if (code == CRM_OK)
				printf("user %s created (id %lld)%s\n", cli->user.login, (long long)id,
				       cli->user.password ? "" : " without a password: set one with crm user passwd");
		}
	} else if (strcmp(action, "passwd") == 0 && login) {
		if (!read_password(password, sizeof(password)))
			code = crm_error(&ctx, CRM_EINVAL, "no password on standard input");
		else if ((code = auth_set_password(&ctx, login, password)) == CRM_OK)
			printf("password of %s changed; their sessions are ended\n", login);
	} else if (strcmp(action, "disable") == 0 && login) {
		if ((code = auth_user_disable(&ctx, login)) == CRM_OK)
			printf("%s disabled\n", login);
	} else if (strcmp(action, "list") == 0) {
		code = auth_user_list(&ctx, stdout);
	} else {
		fprintf(stderr, "crm user: expected add, passwd LOGIN, disable LOGIN or list\n");
		code = CRM_EINVAL;
	}
	sodium_memzero(password, sizeof(password));
	if (code != CRM_OK && ctx.message[0])
		fprintf(stderr, "crm user %s: %s\n", action, ctx.message);
	crm_ctx_clear(&ctx);
	kernel_close(kernel);
	return code == CRM_OK ? 0 : 1;
}

static int cmd_token(struct cli *cli, const char *action)
{
	if (strcmp(action, "create") != 0 || !cli->token_user || !cli->token_name) {
		fprintf(stderr, "crm token: expected create --user LOGIN --name NAME\n");
		return 2;
	}
	struct crm_kernel *kernel;
	if (open_kernel(cli, true, &kernel))
		return 1;
	struct crm_ctx ctx;
	crm_ctx_init(&ctx, kernel, 0, "cli");
	char *token = NULL;
	int code = auth_token_create(&ctx, cli->token_user, cli->token_name, &token);
	if (code == CRM_OK)
		printf("%s\n", token);
	else
		fprintf(stderr, "crm token create: %s\n", ctx.message);
	if (token) {
		sodium_memzero(token, strlen(token));
		free(token);
	}
	crm_ctx_clear(&ctx);
	kernel_close(kernel);
	return code == CRM_OK ? 0 : 1;
}

/* crm timer WORKFLOW TIMER [--at TIME]: one run of a workflow timer, at TIME (UTC) or now. */
static int cmd_timer(struct cli *cli, const char *workflow, const char *timer)
{
	time_t now = time(NULL);
	if (cli->at) {
		int y, mo, d, h, mi, sec, n = 0;
		if (sscanf(cli->at, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || cli->at[n] != '\0'
		    || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59) {
			fprintf(stderr, "crm timer: --at: '%s' is not a UTC time YYYY-MM-DDTHH:MM:SSZ\n", cli->at);
			return 2;
		}
		now = (time_t)(calendar_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec);
	}
	struct crm_kernel *kernel;
	if (open_kernel(cli, false, &kernel))
		return 1;
	struct crm_ctx ctx;
	crm_ctx_init(&ctx, kernel, 0, "timer");
	int64_t touched = 0;
	int code = workflow_timer_run(&ctx, workflow, timer, now, &touched);
	if (ctx.txn)
		object_rollback(&ctx);
	if (code == CRM_OK)
		printf("timer %s.%s: %lld records\n", workflow, timer, (long long)touched);
	else
		fprintf(stderr, "crm timer: %s\n", ctx.message);
	crm_ctx_clear(&ctx);
	kernel_close(kernel);
	return code == CRM_OK ? 0 : 1;
}

/* Exit codes: 0 done, 1 failed (the message names the file), 3 a server holds the database (restore). */
static int cmd_backup(struct cli *cli, const char *command, const char *file)
{
	char err[600];
	struct store_backup_stats stats = { 0 };
	bool restore = strcmp(command, "restore") == 0;
	int code;
	if (cli->verify) {
		if ((code = store_backup_verify(file, &stats, err, sizeof(err))) == CRM_OK)
			printf("%s: ok (integrity_check ok, %lld pages, %lld bytes, last audit row %lld)\n", file,
			       (long long)stats.pages, (long long)stats.bytes, (long long)stats.audit_id);
	} else if (restore) {
		if ((code = store_restore(file, cli->kernel.db_path, err, sizeof(err))) == CRM_OK)
			printf("restored %s from %s\n", cli->kernel.db_path, file);
	} else {
		struct store_backup_options options = { .force = cli->force };
		if ((code = store_backup(cli->kernel.db_path, file, &options, &stats, err, sizeof(err))) == CRM_OK)
			printf("backup %s: %lld bytes, %lld pages, %.2f s, last audit row %lld\n", file, (long long)stats.bytes,
			       (long long)stats.pages, stats.seconds, (long long)stats.audit_id);
	}
	if (code == CRM_OK)
		return 0;
	fprintf(stderr, "crm %s: %s\n", command, err);
	return code == CRM_EBUSY ? 3 : 1;
}

static int cmd_serve(struct cli *cli)
{
	struct crm_kernel *kernel;
	/* one server per database; crm restore takes the same lock (backup.h) */
	char err[600];
	int lock;
	make_parent_dir(cli->kernel.db_path);
	if (store_instance_lock(cli->kernel.db_path, &lock, err, sizeof(err)) != CRM_OK) {
		fprintf(stderr, "crm serve: %s\n", err);
		return 1;
	}
	if (cli->http.threads > 0)
		cli->kernel.readers = cli->http.threads + 1;
	cli->kernel.server = true;
	if (open_kernel(cli, true, &kernel)) {
		store_instance_unlock(lock);
		return 1;
	}
	if (attachment_prepare(kernel, err, sizeof(err)) != CRM_OK) {
		fprintf(stderr, "crm serve: %s\n", err);
		kernel_close(kernel);
		store_instance_unlock(lock);
		return 1;
	}
	int code = http_serve(kernel, &cli->http);
	kernel_close(kernel);
	store_instance_unlock(lock);
	return code == CRM_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct cli cli = {
		.kernel = { .db_path = "var/crm.db", .metadata_dir = "metadata", .plugins_dir = "plugins" },
		.http = { .bind = "127.0.0.1", .port = 8080, .threads = 2, .max_body = 10 * 1024 * 1024,
		          .require_if_match = true },
		.records = 1000,
		.grace = 3600,
		.seed = 42,
	};
	int opt;
	long number;
	const char *args[4];
	int arg_count = 0;
	/* "-": positional arguments come back as 1, so options may go before or after the command */
	while ((opt = getopt_long(argc, argv, "-h", options, NULL)) != -1) {
		switch (opt) {
		case 1:
			if (arg_count == 4) {
				fprintf(stderr, "crm: too many arguments\n");
				return 2;
			}
			args[arg_count++] = optarg;
			break;
		case OPT_DB: cli.kernel.db_path = optarg; break;
		case OPT_METADATA: cli.kernel.metadata_dir = optarg; break;
		case OPT_PLUGINS: cli.kernel.plugins_dir = optarg; break;
		case OPT_INDUSTRY: cli.kernel.industry = optarg; break;
		case OPT_PORT:
			if (!parse_long(optarg, 0, 65535, &number))
				return bad_number("port", optarg);
			cli.http.port = (int)number;
			break;
		case OPT_BIND: cli.http.bind = optarg; break;
		case OPT_THREADS:
			if (!parse_long(optarg, 1, 64, &number))
				return bad_number("threads", optarg);
			cli.http.threads = (int)number;
			break;
		case OPT_MAX_BODY:
			if (!parse_long(optarg, 1024, 1L << 30, &number))
				return bad_number("max-body", optarg);
			cli.http.max_body = (size_t)number;
			break;
		case OPT_FILES: cli.kernel.files_dir = optarg; break;
		case OPT_MAX_FILE:
			if (!parse_long(optarg, 1, 1L << 32, &number))
				return bad_number("max-file", optarg);
			cli.kernel.file_max = (size_t)number;
			break;
		case OPT_GRACE:
			if (!parse_long(optarg, 0, 1L << 30, &number))
				return bad_number("grace", optarg);
			cli.grace = number;
			break;
		case OPT_NO_IF_MATCH: cli.http.require_if_match = false; break;
		case OPT_SECURE_COOKIES: cli.http.secure_cookies = true; break;
		case OPT_QUIET: cli.http.quiet = true; break;
		case OPT_DRY_RUN: cli.dry_run = true; break;
		case OPT_ALLOW_DESTRUCTIVE: cli.allow_destructive = true; break;
		case OPT_FILTER: cli.filter = optarg; break;
		case OPT_SORT: cli.sort = optarg; break;
		case OPT_FIELDS: cli.fields = optarg; break;
		case OPT_RECORDS:
			if (!parse_long(optarg, 1, 10000000, &number))
				return bad_number("records", optarg);
			cli.records = number;
			break;
		case OPT_SEED:
			if (!parse_long(optarg, 0, 0x7fffffffL, &number))
				return bad_number("seed", optarg);
			cli.seed = (unsigned long long)number;
			break;
		case OPT_CONTACT:
			if (!parse_long(optarg, 1, 0x7fffffffffffffffL, &number))
				return bad_number("contact", optarg);
			cli.contact = number;
			break;
		case OPT_LOGIN: cli.user.login = optarg; break;
		case OPT_STATS: cli.stats = true; break;
		case OPT_I18N: cli.i18n = optarg; break;
		case OPT_MAX_CONNECTIONS:
			if (!parse_long(optarg, 1, 100000, &number))
				return bad_number("max-connections", optarg);
			cli.http.max_connections = (int)number;
			break;
		case OPT_PER_IP:
			if (!parse_long(optarg, 1, 100000, &number))
				return bad_number("per-ip-connections", optarg);
			cli.http.per_ip_connections = (int)number;
			break;
		case OPT_CONN_TIMEOUT:
			if (!parse_long(optarg, 1, 3600, &number))
				return bad_number("connection-timeout", optarg);
			cli.http.connection_timeout = (int)number;
			break;
		case OPT_DEADLINE:
			if (!parse_long(optarg, 1, 3600, &number))
				return bad_number("request-deadline", optarg);
			cli.http.request_deadline = (int)number;
			break;
		case OPT_LANG: cli.lang = optarg; break;
		case OPT_ROLE: cli.user.role = optarg; break;
		case OPT_KIND: cli.user.kind = optarg; break;
		case OPT_TEAM: cli.user.team = optarg; break;
		case OPT_MANAGER: cli.user.manager = optarg; break;
		case OPT_NAME: cli.user.name = optarg; cli.token_name = optarg; break;
		case OPT_EMAIL: cli.user.email = optarg; break;
		case OPT_PARTNER: cli.user.partner = optarg; break;
		case OPT_USER: cli.token_user = optarg; break;
		case OPT_AT: cli.at = optarg; break;
		case OPT_FORCE: cli.force = true; break;
		case OPT_VERIFY: cli.verify = true; break;
		case 'h':
		case OPT_HELP:
			fputs(usage, stdout);
			return 0;
		case OPT_VERSION:
			printf("crm %s\n", CRM_VERSION);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (arg_count == 0) {
		fputs(usage, stderr);
		return 2;
	}
	const char *command = args[0];
	int want = strcmp(command, "import") == 0 || strcmp(command, "timer") == 0 ? 3
		: strcmp(command, "export") == 0 || strcmp(command, "gdpr") == 0 || strcmp(command, "token") == 0
		  || strcmp(command, "outbox") == 0
		  || strcmp(command, "files") == 0
		  || strcmp(command, "docs") == 0
		  || strcmp(command, "backup") == 0 || strcmp(command, "restore") == 0 ? 2 : 1;
	if (strcmp(command, "plugin") == 0) {
		if (arg_count != 3) {
			fprintf(stderr, "crm plugin: expected 'new NAME --lang lua|c' or 'test NAME'\n");
			return 2;
		}
		return cmd_plugin(&cli, args[1], args[2]);
	}
	if (strcmp(command, "reindex") == 0) {
		if (arg_count > 2) {
			fprintf(stderr, "crm reindex: expected at most one OBJECT (see crm --help)\n");
			return 2;
		}
		return cmd_reindex(&cli, arg_count == 2 ? args[1] : NULL);
	}
	if (strcmp(command, "user") == 0) {
		if (arg_count < 2 || arg_count > 3) {
			fprintf(stderr, "crm user: expected add, passwd LOGIN, disable LOGIN or list (see crm --help)\n");
			return 2;
		}
		return cmd_user(&cli, args[1], arg_count == 3 ? args[2] : NULL);
	}
	if (arg_count != want) {
		fprintf(stderr, "crm %s: expected %d argument%s (see crm --help)\n", command, want - 1,
		        want == 2 ? "" : "s");
		return 2;
	}
	if (strcmp(command, "serve") == 0)
		return cmd_serve(&cli);
	if (strcmp(command, "check") == 0)
		return cmd_check(&cli);
	if (strcmp(command, "docs") == 0)
		return cmd_docs(args[1]);
	if (strcmp(command, "plugins") == 0)
		return cmd_plugins(&cli);
	if (strcmp(command, "migrate") == 0)
		return cmd_migrate(&cli);
	if (strcmp(command, "import") == 0)
		return cmd_import(&cli, args[1], args[2]);
	if (strcmp(command, "export") == 0)
		return cmd_export(&cli, args[1]);
	if (strcmp(command, "demo") == 0)
		return cmd_demo(&cli);
	if (strcmp(command, "gdpr") == 0)
		return cmd_gdpr(&cli, args[1]);
	if (strcmp(command, "token") == 0)
		return cmd_token(&cli, args[1]);
	if (strcmp(command, "outbox") == 0)
		return cmd_outbox(&cli, args[1]);
	if (strcmp(command, "files") == 0)
		return cmd_files(&cli, args[1]);
	if (strcmp(command, "timer") == 0)
		return cmd_timer(&cli, args[1], args[2]);
	if (strcmp(command, "backup") == 0 || strcmp(command, "restore") == 0)
		return cmd_backup(&cli, command, args[1]);
	fprintf(stderr, "crm: unknown command '%s' (see crm --help)\n", command);
	return 2;
}
