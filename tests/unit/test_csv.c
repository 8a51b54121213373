/*
 * test_csv.c - the CSV reader on tricky input, the writer's quoting and
 * formula guard, and import/export through the object API against a real
 * SQLite file with the repository's base metadata (metadata/).
 */
#include <unistd.h>
#include "test.h"
#include "fixture.h"
#include "csv.h"

/* fixture.h helpers this file does not need (they are static). */
__attribute__((unused)) static const void *const unused_fixture_helpers[] = {
	(const void *)fixture_open, (const void *)first_error_code, (const void *)first_error_field,
};

/* ---- reader ------------------------------------------------------------- */

/* Reads every record of text into one string: fields joined by '|', records by '\n'. */
static char *read_all(struct csv_reader *reader, int *status, long *error_line)
{
	struct strbuf out = { 0 };
	const struct csv_record *record;
	*status = CRM_OK;
	for (;;) {
		int rc = csv_reader_next(reader, &record);
		if (rc != CRM_OK) {
			*status = rc;
			*error_line = csv_reader_error_line(reader);
			strbuf_printf(&out, "!%ld\n", csv_reader_error_line(reader));
			if (csv_reader_fatal(reader))
				break;
			continue;
		}
		if (!record)
			break;
		strbuf_printf(&out, "%ld:", record->line);
		for (int i = 0; i < record->field_count; i++) {
			if (i > 0)
				strbuf_putc(&out, '|');
			strbuf_add(&out, record->fields[i], record->lengths[i]);
		}
		strbuf_putc(&out, '\n');
	}
	return strbuf_detach(&out);
}

static char *read_text(const char *text, int *status, long *error_line)
{
	struct csv_reader *reader = csv_reader_new_buffer(text, strlen(text));
	char *out = read_all(reader, status, error_line);
	csv_reader_free(reader);
	return out;
}

/* A read function that hands out one byte at a time: every chunk boundary. */
struct trickle {
	const char *text;
	size_t len, pos;
};

static ssize_t trickle_read(void *arg, char *buf, size_t size)
{
	struct trickle *trickle = arg;
	if (trickle->pos >= trickle->len || size == 0)
		return 0;
	buf[0] = trickle->text[trickle->pos++];
	return 1;
}

static void test_reader_parses_quoted_fields_with_commas_and_doubled_quotes(void)
{
	int status;
	long line = 0;
	char *out = read_text("a,\"b,c\",\"say \"\"hi\"\"\",\"\"\n", &status, &line);
	ASSERT_EQ(status, CRM_OK);
	ASSERT_STR_EQ(out, "1:a|b,c|say \"hi\"|\n");
	free(out);
}

static void test_reader_keeps_embedded_newlines_and_reports_the_start_line(void)
{
	int status;
	long line = 0;
	char *out = read_text("h1,h2\r\n\"multi\nline\r\nvalue\",x\r\nnext,y\r\n", &status, &line);
	ASSERT_EQ(status, CRM_OK);
	ASSERT_STR_EQ(out, "1:h1|h2\n2:multi\nline\r\nvalue|x\n5:next|y\n");
	free(out);
}

static void test_reader_accepts_lf_crlf_and_lone_cr_and_skips_blank_lines(void)
{
	int status;
	long line = 0;
	char *out = read_text("a,b\n\nc,d\r\n\r\ne,f\rg,\n,\nlast", &status, &line);
	ASSERT_EQ(status, CRM_OK);
	ASSERT_STR_EQ(out, "1:a|b\n3:c|d\n5:e|f\n6:g|\n7:|\n8:last\n");
	free(out);
}

static void test_reader_skips_a_utf8_bom(void)
{
	int status;
	long line = 0;
	char *out = read_text("\xEF\xBB\xBFname,city\n\xE5\x8C\x97\xE4\xBA\xAC,x\n", &status, &line);
	ASSERT_EQ(status, CRM_OK);
	ASSERT_STR_EQ(out, "1:name|city\n2:北京|x\n");
	free(out);
}

static void test_reader_reports_an_unterminated_quote_with_its_line(void)
{
	int status;
	long line = 0;
	char *out = read_text("a,b\nc,d\ne,\"open\nstill open\n", &status, &line);
	ASSERT_EQ(status, CRM_EINVAL);
	ASSERT_EQ(line, 3);
	ASSERT_STR_EQ(out, "1:a|b\n2:c|d\n!3\n");
	free(out);

	struct csv_reader *reader = csv_reader_new_buffer("x,\"y", 4);
	const struct csv_record *record;
	ASSERT_EQ(csv_reader_next(reader, &record), CRM_EINVAL);
	ASSERT_CONTAINS(csv_reader_error(reader), "line 1: unterminated quoted field in column 2");
	ASSERT(csv_reader_fatal(reader));
	ASSERT_EQ(csv_reader_next(reader, &record), CRM_OK);
	ASSERT(record == NULL);
	csv_reader_free(reader);
}

static void test_reader_refuses_a_character_after_a_closing_quote_and_goes_on(void)
{
	int status;
	long line = 0;
	char *out = read_text("a,\"b\"c,d\ne,f\n", &status, &line);
	ASSERT_EQ(status, CRM_EINVAL);
	ASSERT_EQ(line, 1);
	ASSERT_STR_EQ(out, "!1\n2:e|f\n");
	free(out);
}

static void test_reader_refuses_too_many_columns_and_goes_on(void)
{
	struct strbuf text = { 0 };
	for (int i = 0; i <= CSV_MAX_COLUMNS; i++)
		strbuf_puts(&text, i ? ",x" : "x");
	strbuf_puts(&text, "\nok,1\n");
	struct csv_reader *reader = csv_reader_new_buffer(text.data, text.len);
	const struct csv_record *record;
	ASSERT_EQ(csv_reader_next(reader, &record), CRM_ELIMIT);
	ASSERT_CONTAINS(csv_reader_error(reader), "line 1: more than 1000 columns");
	ASSERT(!csv_reader_fatal(reader));
	ASSERT_EQ(csv_reader_next(reader, &record), CRM_OK);
	ASSERT(record);
	ASSERT_EQ(record->line, 2);
	ASSERT_EQ(record->field_count, 2);
	csv_reader_free(reader);
	strbuf_free(&text);
}

static void test_reader_refuses_an_oversized_field_and_goes_on(void)
{
	struct strbuf text = { 0 };
	strbuf_puts(&text, "a,b\nsmall,\"");
	for (int i = 0; i < CSV_MAX_FIELD / 64 + 1; i++)
		strbuf_puts(&text, "0123456789012345678901234567890123456789012345678901234567890123");
	strbuf_puts(&text, "\"\nc,d\n");
	struct csv_reader *reader = csv_reader_new_buffer(text.data, text.len);
	const struct csv_record *record;
	ASSERT_EQ(csv_reader_next(reader, &record), CRM_OK);
	ASSERT_EQ(csv_reader_next(reader, &record), CRM_ELIMIT);
	ASSERT_CONTAINS(csv_reader_error(reader), "line 2: the field in column 2 is longer than 1048576 bytes");
	ASSERT_EQ(csv_reader_next(reader, &record), CRM_OK);
	ASSERT(record);
	ASSERT_EQ(record->line, 3);
	ASSERT_STR_EQ(record->fields[1], "d");
	csv_reader_free(reader);
	strbuf_free(&text);
}

static void test_reader_refuses_nul_bytes_and_utf16(void)
{
	struct csv_reader *reader = csv_reader_new_buffer("a,b\0c\nd,e\n", 10);
	const struct csv_record *record;
	ASSERT_EQ(csv_reader_next(reader, &record), CRM_EINVAL);
	ASSERT_CONTAINS(csv_reader_error(reader), "NUL byte in column 2");
	ASSERT_EQ(csv_reader_next(reader, &record), CRM_OK);
	ASSERT_STR_EQ(record->fields[0], "d");
	csv_reader_free(reader);

	reader = csv_reader_new_buffer("\xFF\xFEn\0a\0", 6);
	ASSERT_EQ(csv_reader_next(reader, &record), CRM_EINVAL);
	ASSERT_CONTAINS(csv_reader_error(reader), "UTF-16");
	ASSERT(csv_reader_fatal(reader));
	csv_reader_free(reader);
}

static void test_reader_gives_the_same_records_one_byte_at_a_time(void)
{
	const char *text = "\xEF\xBB\xBFid,\"note\"\r\n1,\"a \"\"b\"\"\r\nc\"\r\n2,plain\r3,\"\"\n";
	int status_whole, status_trickle;
	long line = 0;
	char *whole = read_text(text, &status_whole, &line);
	struct trickle trickle = { text, strlen(text), 0 };
	struct csv_reader *reader = csv_reader_new(trickle_read, &trickle);
	char *trickled = read_all(reader, &status_trickle, &line);
	csv_reader_free(reader);
	ASSERT_EQ(status_whole, CRM_OK);
	ASSERT_EQ(status_trickle, CRM_OK);
	ASSERT_STR_EQ(trickled, whole);
	ASSERT_STR_EQ(whole, "1:id|note\n2:1|a \"b\"\r\nc\n4:2|plain\n5:3|\n");
	free(whole);
	free(trickled);
}

static void test_reader_reads_a_file(void)
{
	FILE *file = tmpfile();
	ASSERT(file);
	fputs("x,y\n1,2\n", file);
	rewind(file);
	struct csv_reader *reader = csv_reader_new_file(file);
	int status;
	long line = 0;
	char *out = read_all(reader, &status, &line);
	csv_reader_free(reader);
	fclose(file);
	ASSERT_EQ(status, CRM_OK);
	ASSERT_STR_EQ(out, "1:x|y\n2:1|2\n");
	free(out);
}

/* ---- writer ------------------------------------------------------------- */

static int strbuf_write(void *arg, const char *data, size_t len)
{
	strbuf_add(arg, data, len);
	return 0;
}

static void test_writer_quotes_only_when_needed(void)
{
	struct strbuf out = { 0 };
	struct csv_writer writer;
	csv_writer_init(&writer, strbuf_write, &out);
	const char *fields[] = { "plain", "a,b", "say \"hi\"", "two\nlines", "cr\rx", " lead", "trail ",
	                         "", "北京" };
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		csv_writer_field(&writer, fields[i], strlen(fields[i]), CSV_TEXT);
	csv_writer_field(&writer, NULL, 0, 0);
	ASSERT_EQ(csv_writer_end_record(&writer), CRM_OK);
	ASSERT_EQ(csv_writer_flush(&writer), CRM_OK);
	ASSERT_STR_EQ(out.data, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\rx\",\" lead\",\"trail \",,北京,\r\n");
	csv_writer_free(&writer);
	strbuf_free(&out);
}

static void test_writer_guards_against_formula_injection(void)
{
	struct strbuf out = { 0 };
	struct csv_writer writer;
	csv_writer_init(&writer, strbuf_write, &out);
	const char *fields[] = { "=HYPERLINK(\"http://x\")", "+49 30 1234", "-2+3", "@SUM(A1)", "\tx",
	                         "'=already", "'plain", "a=b" };
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		csv_writer_field(&writer, fields[i], strlen(fields[i]), CSV_TEXT);
	csv_writer_field(&writer, "-5", 2, 0);  /* a number, not text: left alone */
	csv_writer_end_record(&writer);
	csv_writer_flush(&writer);
	ASSERT_STR_EQ(out.data, "\"'=HYPERLINK(\"\"http://x\"\")\",'+49 30 1234,'-2+3,'@SUM(A1),\"'\tx\","
	                        "''=already,'plain,a=b,-5\r\n");
	ASSERT(csv_needs_formula_guard("''-1", 4));
	ASSERT(!csv_needs_formula_guard("'", 1));
	ASSERT(!csv_needs_formula_guard("", 0));
	csv_writer_free(&writer);
	strbuf_free(&out);
}

static void test_writer_writes_a_lone_empty_field_as_quotes(void)
{
	struct strbuf out = { 0 };
	struct csv_writer writer;
	csv_writer_init(&writer, strbuf_write, &out);
	csv_writer_field(&writer, "", 0, 0);
	csv_writer_end_record(&writer);
	csv_writer_field(&writer, "x", 1, 0);
	csv_writer_end_record(&writer);
	csv_writer_flush(&writer);
	ASSERT_STR_EQ(out.data, "\"\"\r\nx\r\n");
	int status;
	long line = 0;
	char *back = read_text(out.data, &status, &line);
	ASSERT_STR_EQ(back, "1:\n2:x\n");
	free(back);
	csv_writer_free(&writer);
	strbuf_free(&out);
}

static int failing_write(void *arg, const char *data, size_t len)
{
	(void)arg;
	(void)data;
	(void)len;
	return -1;
}

static void test_writer_reports_a_failed_write(void)
{
	struct csv_writer writer;
	csv_writer_init(&writer, failing_write, NULL);
	csv_writer_field(&writer, "x", 1, 0);
	csv_writer_end_record(&writer);
	ASSERT_EQ(csv_writer_flush(&writer), CRM_EIO);
	ASSERT_EQ(csv_writer_end_record(&writer), CRM_EIO);
	csv_writer_free(&writer);
}

static void test_writer_and_reader_round_trip(void)
{
	const char *values[] = { "", "a", "a,b", "\"", "\"\"", "x\ny", "x\r\ny", " s ", ",", "\n",
	                         "日本語", "end\"", "\"start", "=1" };
	int count = (int)(sizeof(values) / sizeof(values[0]));
	struct strbuf out = { 0 };
	struct csv_writer writer;
	csv_writer_init(&writer, strbuf_write, &out);
	for (int row = 0; row < count; row++) {
		for (int col = 0; col < 3; col++) {
			const char *v = values[(row + col * 5) % count];
			csv_writer_field(&writer, v, strlen(v), 0);
		}
		csv_writer_end_record(&writer);
	}
	csv_writer_flush(&writer);
	struct csv_reader *reader = csv_reader_new_buffer(out.data, out.len);
	const struct csv_record *record;
	for (int row = 0; row < count; row++) {
		ASSERT_EQ(csv_reader_next(reader, &record), CRM_OK);
		ASSERT(record);
		ASSERT_EQ(record->field_count, 3);
		for (int col = 0; col < 3; col++)
			ASSERT_STR_EQ(record->fields[col], values[(row + col * 5) % count]);
	}
	ASSERT_EQ(csv_reader_next(reader, &record), CRM_OK);
	ASSERT(record == NULL);
	csv_reader_free(reader);
	csv_writer_free(&writer);
	strbuf_free(&out);
}

/* ---- import and export against a database ------------------------------- */

/* A kernel on a fresh database with the repository's metadata (tests run from the repo root). */
static int open_base(struct fixture *fx)
{
	fixture_prepare(fx, "");
	char cwd[200];
	if (!getcwd(cwd, sizeof(cwd)))
		return CRM_EIO;
	snprintf(fx->metadata, sizeof(fx->metadata), "%s/metadata", cwd);
	FILE *quiet = fopen("/dev/null", "w");
	struct kernel_options options = { .db_path = fx->db, .metadata_dir = fx->metadata,
	                                  .plugins_dir = "plugins", .migrate = true, .log = quiet };
	int code = kernel_open(&options, &fx->kernel);
	if (code == CRM_OK) {
		fx->kernel->log = stderr;
		crm_ctx_init(&fx->ctx, fx->kernel, 0, "test");
	}
	fclose(quiet);
	return code;
}

static int64_t count_of(struct crm_ctx *ctx, const char *object, const char *filter)
{
	int64_t count = -1;
	if (object_count(ctx, object, filter, &count) != CRM_OK)
		return -1;
	return count;
}

/* Runs csv_import on text; the text report is returned (owned). */
static char *import_text(struct crm_ctx *ctx, const char *object, const char *text, int *status,
                         struct csv_import_stats *stats)
{
	char *report = NULL;
	size_t report_len = 0;
	FILE *report_file = open_memstream(&report, &report_len);
	FILE *in = fmemopen((void *)text, strlen(text), "r");
	*status = csv_import(ctx, object, in, report_file, stats);
	fclose(in);
	fclose(report_file);
	return report;
}

static const char *const mixed_accounts =
	"name,industry,annual_revenue,employees,type,parent,email,description\n"
	"Acme Corp,technology,1200000,50,customer,,info@acme.example,\"Robert'); DROP TABLE account;--\"\n"
	"Bad Enum Ltd,spaceflight,10,1,prospect,,,\n"
	"Bad Number GmbH,retail,lots,5,prospect,,,\n"
	",retail,10,1,prospect,,,\n"
	"Orphan Inc,retail,10,1,prospect,999999,,\n"
	"<script>alert(1)</script>,Media and Entertainment,,,,,,\"=1+2 \"\"quoted\"\" ' OR 1=1 --\"\n"
	"Multi Error,nope,-5,x,,,not-an-email,\n"
	"\n"
	"Last Row,RETAIL, 42.5 ,7,partner,,,\n";

static void test_import_loads_good_rows_and_reports_bad_rows_by_line(void)
{
	struct fixture fx;
	ASSERT_EQ(open_base(&fx), CRM_OK);
	struct csv_import_stats stats;
	int status;
	char *report = import_text(&fx.ctx, "account", mixed_accounts, &status, &stats);
	if (status != CRM_OK)
		fprintf(stderr, "  import: %s\n", fx.ctx.message);
	ASSERT_EQ(status, CRM_OK);
	ASSERT_EQ(stats.rows, 8);
	ASSERT_EQ(stats.created, 3);
	ASSERT_EQ(stats.rejected, 5);
	ASSERT_CONTAINS(report, "line 3: industry: ");
	ASSERT_CONTAINS(report, "line 4: annual_revenue: ");
	ASSERT_CONTAINS(report, "line 5: name: ");
	ASSERT_CONTAINS(report, "line 6: parent: ");
	ASSERT_CONTAINS(report, "line 8: industry: ");
	ASSERT_CONTAINS(report, "line 8: annual_revenue: ");
	ASSERT_CONTAINS(report, "line 8: employees: ");
	ASSERT_CONTAINS(report, "line 8: email: ");
	ASSERT(!strstr(report, "line 2:"));
	ASSERT(!strstr(report, "line 7:"));
	ASSERT(!strstr(report, "line 10:"));
	free(report);

	ASSERT_EQ(count_of(&fx.ctx, "account", NULL), 3);
	ASSERT_EQ(count_of(&fx.ctx, "account", "name = '<script>alert(1)</script>'"), 1);
	ASSERT_EQ(count_of(&fx.ctx, "account", "description = 'Robert''); DROP TABLE account;--'"), 1);
	ASSERT_EQ(count_of(&fx.ctx, "account",
	                   "description = '=1+2 \"quoted\" '' OR 1=1 --' and industry = 'media'"), 1);
	ASSERT_EQ(count_of(&fx.ctx, "account",
	                   "name = 'Last Row' and industry = 'retail' and annual_revenue = 42.5"), 1);
	fixture_close(&fx);
}

static void test_import_buffer_collects_errors_as_json(void)
{
	struct fixture fx;
	ASSERT_EQ(open_base(&fx), CRM_OK);
	json_t *errors = json_array();
	struct csv_import_stats stats;
	int status = csv_import_buffer(&fx.ctx, "account", mixed_accounts, strlen(mixed_accounts),
	                               errors, &stats);
	ASSERT_EQ(status, CRM_OK);
	ASSERT_EQ(stats.rejected, 5);
	ASSERT_EQ(json_array_size(errors), 5);
	json_t *first = json_array_get(errors, 0);
	ASSERT_EQ(json_integer_value(json_object_get(first, "line")), 3);
	json_t *error = json_array_get(json_object_get(first, "errors"), 0);
	ASSERT_STR_EQ(json_string_value(json_object_get(error, "field")), "industry");
	ASSERT_STR_EQ(json_string_value(json_object_get(error, "code")), "enum");
	ASSERT(json_string_value(json_object_get(error, "message")));
	json_t *last = json_array_get(errors, 4);
	ASSERT_EQ(json_integer_value(json_object_get(last, "line")), 8);
	ASSERT_EQ(json_array_size(json_object_get(last, "errors")), 4);
	json_decref(errors);
	fixture_close(&fx);
}

static void test_import_refuses_an_unknown_or_system_column_and_loads_nothing(void)
{
	struct fixture fx;
	ASSERT_EQ(open_base(&fx), CRM_OK);
	struct csv_import_stats stats;
	int status;
	char *report = import_text(&fx.ctx, "account", "name,nmae\nAcme,x\n", &status, &stats);
	free(report);
	ASSERT_EQ(status, CRM_EINVAL);
	ASSERT_CONTAINS(fx.ctx.message, "column 2 'nmae' is not a field of 'account'");
	ASSERT_EQ(stats.created, 0);

	report = import_text(&fx.ctx, "account", "name,owner\nAcme,1\n", &status, &stats);
	free(report);
	ASSERT_EQ(status, CRM_EINVAL);
	ASSERT_CONTAINS(fx.ctx.message, "'owner' is a system field");

	report = import_text(&fx.ctx, "account", "id,name\n1,Acme\n", &status, &stats);
	free(report);
	ASSERT_EQ(status, CRM_EINVAL);
	ASSERT_CONTAINS(fx.ctx.message, "'id' is a system field");

	report = import_text(&fx.ctx, "account", "name,won_revenue\nAcme,1\n", &status, &stats);
	free(report);
	ASSERT_EQ(status, CRM_EINVAL);
	ASSERT_CONTAINS(fx.ctx.message, "'won_revenue' is computed");

	report = import_text(&fx.ctx, "account", "name,Name\nAcme,Acme\n", &status, &stats);
	free(report);
	ASSERT_EQ(status, CRM_EINVAL);
	ASSERT_CONTAINS(fx.ctx.message, "repeats column 1");

	report = import_text(&fx.ctx, "nothing", "name\nAcme\n", &status, &stats);
	free(report);
	ASSERT_EQ(status, CRM_ENOTFOUND);

	report = import_text(&fx.ctx, "account", "", &status, &stats);
	free(report);
	ASSERT_EQ(status, CRM_EINVAL);
	ASSERT_EQ(count_of(&fx.ctx, "account", NULL), 0);
	fixture_close(&fx);
}

static void test_import_matches_headers_and_enums_by_label(void)
{
	struct fixture fx;
	ASSERT_EQ(open_base(&fx), CRM_OK);
	struct csv_import_stats stats;
	int status;
	char *report = import_text(&fx.ctx, "account",
		"Account Name,Industry,客户类型\nLabel Co,Financial Services,合作伙伴\n", &status, &stats);
	ASSERT_STR_EQ(report, "");
	free(report);
	ASSERT_EQ(status, CRM_OK);
	ASSERT_EQ(stats.created, 1);
	ASSERT_EQ(count_of(&fx.ctx, "account", "industry = 'financial_services' and type = 'partner'"), 1);
	fixture_close(&fx);
}

static void test_import_commits_in_batches_and_stops_at_an_unterminated_quote(void)
{
	struct fixture fx;
	ASSERT_EQ(open_base(&fx), CRM_OK);
	const char *text = "name\nA\nB\nC\nD\nE\n\"F\nG\n";
	struct csv_reader *reader = csv_reader_new_buffer(text, strlen(text));
	struct csv_import_options options = { .batch_size = 2 };
	struct csv_import_stats stats;
	int status = csv_import_reader(&fx.ctx, "account", reader, &options, &stats);
	csv_reader_free(reader);
	ASSERT_EQ(status, CRM_EINVAL);
	ASSERT_CONTAINS(fx.ctx.message, "line 7: unterminated quoted field");
	ASSERT_EQ(stats.created, 5);
	ASSERT_EQ(stats.rejected, 1);
	ASSERT(fx.ctx.txn == NULL);
	crm_error_reset(&fx.ctx);
	ASSERT_EQ(count_of(&fx.ctx, "account", NULL), 5);
	fixture_close(&fx);
}

static void test_import_converts_every_field_type(void)
{
	struct fixture fx;
	ASSERT_EQ(open_base(&fx), CRM_OK);
	struct csv_import_stats stats;
	int status;
	char *report = import_text(&fx.ctx, "account",
		"name,location,employees\nGeo Co,\"48.1351, 11.582\",12\nGeo Json,\"{\"\"lat\"\": 1.5, \"\"lng\"\": 2}\",\n",
		&status, &stats);
	ASSERT_STR_EQ(report, "");
	free(report);
	ASSERT_EQ(stats.created, 2);
	report = import_text(&fx.ctx, "contact",
		"last_name,first_name,account,tags,do_not_call,birthdate,mobile\n"
		"Müller,Jürgen,1,decision_maker; Champion,yes,1970-05-31,'+49 151 5551234\n"
		"Wang,Fang,2,,0,,\n"
		"Bad,Bool,1,,perhaps,31/05/1970,\n"
		"Bad,Tag,1,decision_maker;boss,,,\n",
		&status, &stats);
	ASSERT_EQ(status, CRM_OK);
	ASSERT_EQ(stats.created, 2);
	ASSERT_EQ(stats.rejected, 2);
	ASSERT_CONTAINS(report, "line 4: do_not_call: ");
	ASSERT_CONTAINS(report, "line 4: birthdate: ");
	ASSERT_CONTAINS(report, "line 5: tags: ");
	free(report);
	json_t *page = NULL;
	struct object_query query = { .filter = "last_name = 'Müller'" };
	ASSERT_EQ(object_query(&fx.ctx, "contact", &query, &page), CRM_OK);
	json_t *record = json_array_get(json_object_get(page, "records"), 0);
	ASSERT(record);
	ASSERT_STR_EQ(json_string_value(json_object_get(record, "mobile")), "+49 151 5551234");
	ASSERT(json_is_true(json_object_get(record, "do_not_call")));
	json_t *tags = json_object_get(record, "tags");
	ASSERT_EQ(json_array_size(tags), 2);
	ASSERT_STR_EQ(json_string_value(json_array_get(tags, 1)), "champion");
	ASSERT_STR_EQ(json_string_value(json_object_get(record, "full_name")), "Jürgen Müller");
	json_decref(page);
	fixture_close(&fx);
}

static char *export_text(struct crm_ctx *ctx, const char *object, const struct object_query *query,
                         int *status)
{
	struct strbuf out = { 0 };
	*status = csv_export_to(ctx, object, query, strbuf_write, &out, NULL);
	return strbuf_detach(&out);
}

static void test_export_then_import_is_lossless(void)
{
	struct fixture fx;
	ASSERT_EQ(open_base(&fx), CRM_OK);
	struct csv_import_stats stats;
	int status;
	char *report = import_text(&fx.ctx, "account", "name\nHolder\n", &status, &stats);
	free(report);
	report = import_text(&fx.ctx, "contact",
		"last_name,first_name,title,department,account,tags,do_not_call,birthdate,email\n"
		"\"=cmd|' /C calc'!A0\",+Plus,''=already quoted,\"a, \"\"b\"\"\",1,technical;newsletter,true,1980-02-29,x@y.example\n"
		"Plain,,-minus,@at,,,false,,\n"
		"\" spaced \",日本,,,,,,,\n",
		&status, &stats);
	ASSERT_STR_EQ(report, "");
	free(report);
	ASSERT_EQ(stats.created, 3);

	const char *fields = "last_name,first_name,title,department,account,tags,do_not_call,birthdate,email";
	struct object_query query = { .fields = fields, .sort = "id" };
	char *first = export_text(&fx.ctx, "contact", &query, &status);
	ASSERT_EQ(status, CRM_OK);
	ASSERT_CONTAINS(first, "\r\n'=cmd|' /C calc'!A0,'+Plus,''=already quoted,");
	ASSERT_CONTAINS(first, "\r\nPlain,,'-minus,'@at,,,false,,\r\n");
	ASSERT_CONTAINS(first, "\r\n\" spaced \",日本,,,,,false,,\r\n");
	ASSERT_CONTAINS(first, "technical;newsletter,true,1980-02-29");

	report = import_text(&fx.ctx, "contact", first, &status, &stats);
	ASSERT_STR_EQ(report, "");
	free(report);
	ASSERT_EQ(stats.created, 3);
	struct object_query copies = { .fields = fields, .sort = "id", .filter = "id > 3" };
	char *second = export_text(&fx.ctx, "contact", &copies, &status);
	ASSERT_EQ(status, CRM_OK);
	ASSERT_STR_EQ(second, first);
	ASSERT_EQ(count_of(&fx.ctx, "contact", "last_name = '=cmd|'' /C calc''!A0'"), 2);
	free(first);
	free(second);

	/* every field, the default: a header of all field names, system fields first */
	char *all = export_text(&fx.ctx, "account", NULL, &status);
	ASSERT_EQ(status, CRM_OK);
	ASSERT(strncmp(all, "id,", 3) == 0);
	ASSERT_CONTAINS(all, ",name,account_number,");
	ASSERT_CONTAINS(all, "ACC-000001");
	free(all);
	fixture_close(&fx);
}

static void test_export_refuses_a_bad_query_before_writing(void)
{
	struct fixture fx;
	ASSERT_EQ(open_base(&fx), CRM_OK);
	struct strbuf out = { 0 };
	struct object_query query = { .filter = "no_such_field = 1" };
	int status = csv_export_to(&fx.ctx, "account", &query, strbuf_write, &out, NULL);
	ASSERT(status != CRM_OK);
	ASSERT_EQ(out.len, 0);
	strbuf_free(&out);
	ASSERT_EQ(csv_export_to(&fx.ctx, "nothing", NULL, strbuf_write, &out, NULL), CRM_ENOTFOUND);
	fixture_close(&fx);
}

static void test_export_reports_a_failed_write(void)
{
	struct fixture fx;
	ASSERT_EQ(open_base(&fx), CRM_OK);
	struct csv_import_stats stats;
	int status;
	struct strbuf text = { 0 };
	strbuf_puts(&text, "name,description\n");
	for (int i = 0; i < 2000; i++)
		strbuf_printf(&text, "Account %d,%s\n", i, "a description long enough to fill the buffer quickly");
	char *report = import_text(&fx.ctx, "account", text.data, &status, &stats);
	free(report);
	strbuf_free(&text);
	ASSERT_EQ(stats.created, 2000);
	status = csv_export_to(&fx.ctx, "account", NULL, failing_write, NULL, NULL);
	ASSERT_EQ(status, CRM_EIO);
	ASSERT_CONTAINS(fx.ctx.message, "writing the CSV");
	fixture_close(&fx);
}

static const struct test_case tests[] = {
	{ "reader_parses_quoted_fields_with_commas_and_doubled_quotes", test_reader_parses_quoted_fields_with_commas_and_doubled_quotes },
	{ "reader_keeps_embedded_newlines_and_reports_the_start_line", test_reader_keeps_embedded_newlines_and_reports_the_start_line },
	{ "reader_accepts_lf_crlf_and_lone_cr_and_skips_blank_lines", test_reader_accepts_lf_crlf_and_lone_cr_and_skips_blank_lines },
	{ "reader_skips_a_utf8_bom", test_reader_skips_a_utf8_bom },
	{ "reader_reports_an_unterminated_quote_with_its_line", test_reader_reports_an_unterminated_quote_with_its_line },
	{ "reader_refuses_a_character_after_a_closing_quote_and_goes_on", test_reader_refuses_a_character_after_a_closing_quote_and_goes_on },
	{ "reader_refuses_too_many_columns_and_goes_on", test_reader_refuses_too_many_columns_and_goes_on },
	{ "reader_refuses_an_oversized_field_and_goes_on", test_reader_refuses_an_oversized_field_and_goes_on },
	{ "reader_refuses_nul_bytes_and_utf16", test_reader_refuses_nul_bytes_and_utf16 },
	{ "reader_gives_the_same_records_one_byte_at_a_time", test_reader_gives_the_same_records_one_byte_at_a_time },
	{ "reader_reads_a_file", test_reader_reads_a_file },
	{ "writer_quotes_only_when_needed", test_writer_quotes_only_when_needed },
	{ "writer_guards_against_formula_injection", test_writer_guards_against_formula_injection },
	{ "writer_writes_a_lone_empty_field_as_quotes", test_writer_writes_a_lone_empty_field_as_quotes },
	{ "writer_reports_a_failed_write", test_writer_reports_a_failed_write },
	{ "writer_and_reader_round_trip", test_writer_and_reader_round_trip },
	{ "import_loads_good_rows_and_reports_bad_rows_by_line", test_import_loads_good_rows_and_reports_bad_rows_by_line },
	{ "import_buffer_collects_errors_as_json", test_import_buffer_collects_errors_as_json },
	{ "import_refuses_an_unknown_or_system_column_and_loads_nothing", test_import_refuses_an_unknown_or_system_column_and_loads_nothing },
	{ "import_matches_headers_and_enums_by_label", test_import_matches_headers_and_enums_by_label },
	{ "import_commits_in_batches_and_stops_at_an_unterminated_quote", test_import_commits_in_batches_and_stops_at_an_unterminated_quote },
	{ "import_converts_every_field_type", test_import_converts_every_field_type },
	{ "export_then_import_is_lossless", test_export_then_import_is_lossless },
	{ "export_refuses_a_bad_query_before_writing", test_export_refuses_a_bad_query_before_writing },
	{ "export_reports_a_failed_write", test_export_reports_a_failed_write },
};

TEST_MAIN(tests)
