/*
 * csv.c - the RFC 4180 reader and writer, and bulk import and export of
 * records through the object API (see csv.h for the contracts).
 *
 * The reader is a byte state machine over a refillable buffer with fast
 * paths that copy runs of ordinary bytes at once; one record's fields live
 * in one reusable buffer, so reading allocates nothing per record once the
 * buffers have grown. The importer looks up each column's field once, from
 * the header, and converts cells by field type.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "csv.h"
#include "context.h"
#include "meta_model.h"
#include "object.h"

#define CSV_CHUNK (64 * 1024)
#define CSV_FLUSH_AT (64 * 1024)
#define CSV_EOF (-1)

/* ---- reader ------------------------------------------------------------ */

struct csv_reader {
	csv_read_fn read_fn;
	void *arg;
	const char *data;      /* the bytes being parsed: chunk, or the caller's buffer */
	size_t len, pos;
	char *chunk;           /* owned read buffer; NULL for a memory reader */
	bool at_end;
	bool read_failed;
	bool started;          /* the byte order mark has been looked at */
	long line;             /* physical line of the next byte */

	char *text;            /* the current record's fields, each NUL-terminated */
	size_t text_len, text_cap;
	size_t field_start;    /* offset of the field being read */
	size_t *offsets;
	size_t *lengths;
	const char **fields;
	int field_count, field_cap;
	struct csv_record record;

	size_t max_field, max_record;
	int max_columns;

	bool bad;              /* the current record has an error: discard its bytes */
	int bad_status;
	bool fatal;
	long error_line;
	size_t error_detail;   /* offset of the message after "line N: " */
	char error[300];
};

/* Bytes that end a run in an unquoted field, and in a quoted one. */
static unsigned char unquoted_stop[256];
static unsigned char quoted_stop[256];
static bool stop_tables_ready;

static void init_stop_tables(void)
{
	/* Idempotent and the same in every thread, so a benign first-use race. */
	if (stop_tables_ready)
		return;
	unquoted_stop[','] = unquoted_stop['\n'] = unquoted_stop['\r'] = unquoted_stop[0] = 1;
	quoted_stop['"'] = quoted_stop['\n'] = quoted_stop['\r'] = quoted_stop[0] = 1;
	stop_tables_ready = true;
}

ssize_t csv_read_file(void *file, char *buf, size_t size)
{
	size_t got = fread(buf, 1, size, (FILE *)file);
	if (got == 0 && ferror((FILE *)file))
		return -1;
	return (ssize_t)got;
}

static struct csv_reader *reader_alloc(void)
{
	init_stop_tables();
	struct csv_reader *reader = xcalloc(1, sizeof(*reader));
	reader->line = 1;
	reader->max_field = CSV_MAX_FIELD;
	reader->max_columns = CSV_MAX_COLUMNS;
	reader->max_record = CSV_MAX_RECORD;
	reader->text_cap = 4096;
	reader->text = xmalloc(reader->text_cap);
	reader->field_cap = 32;
	reader->offsets = xmalloc(sizeof(size_t) * (size_t)reader->field_cap);
	reader->lengths = xmalloc(sizeof(size_t) * (size_t)reader->field_cap);
	reader->fields = xmalloc(sizeof(char *) * (size_t)reader->field_cap);
	return reader;
}

struct csv_reader *csv_reader_new(csv_read_fn read_fn, void *arg)
{
	struct csv_reader *reader = reader_alloc();
	reader->read_fn = read_fn;
	reader->arg = arg;
	reader->chunk = xmalloc(CSV_CHUNK);
	reader->data = reader->chunk;
	return reader;
}

struct csv_reader *csv_reader_new_file(FILE *file)
{
	return csv_reader_new(csv_read_file, file);
}

struct csv_reader *csv_reader_new_buffer(const char *data, size_t len)
{
	struct csv_reader *reader = reader_alloc();
	reader->data = data ? data : "";
	reader->len = data ? len : 0;
	reader->at_end = true;
	return reader;
}

void csv_reader_set_limits(struct csv_reader *reader, size_t max_field, int max_columns,
                           size_t max_record)
{
	reader->max_field = max_field;
	reader->max_columns = max_columns;
	reader->max_record = max_record;
}

void csv_reader_free(struct csv_reader *reader)
{
	if (!reader)
		return;
	free(reader->chunk);
	free(reader->text);
	free(reader->offsets);
	free(reader->lengths);
	free(reader->fields);
	free(reader);
}

const char *csv_reader_error(const struct csv_reader *reader)
{
	return reader->error;
}

long csv_reader_error_line(const struct csv_reader *reader)
{
	return reader->error_line;
}

bool csv_reader_fatal(const struct csv_reader *reader)
{
	return reader->fatal;
}

/* Reads more input into the chunk. Returns false at the end of input. */
static bool reader_refill(struct csv_reader *reader)
{
	if (reader->at_end)
		return false;
	ssize_t got = reader->read_fn(reader->arg, reader->chunk, CSV_CHUNK);
	if (got <= 0) {
		reader->at_end = true;
		if (got < 0)
			reader->read_failed = true;
		return false;
	}
	reader->data = reader->chunk;
	reader->len = (size_t)got;
	reader->pos = 0;
	return true;
}

static inline int reader_next_byte(struct csv_reader *reader)
{
	if (reader->pos < reader->len || reader_refill(reader))
		return (unsigned char)reader->data[reader->pos++];
	return CSV_EOF;
}

static inline int reader_peek_byte(struct csv_reader *reader)
{
	if (reader->pos < reader->len || reader_refill(reader))
		return (unsigned char)reader->data[reader->pos];
	return CSV_EOF;
}

/* Records the first error of the current record; later bytes of it are discarded. */
static void reader_fail(struct csv_reader *reader, long line, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void reader_fail(struct csv_reader *reader, long line, int status, const char *fmt, ...)
{
	if (reader->bad)
		return;
	reader->bad = true;
	reader->bad_status = status;
	reader->error_line = line;
	int prefix = snprintf(reader->error, sizeof(reader->error), "line %ld: ", line);
	if (prefix < 0 || (size_t)prefix >= sizeof(reader->error))
		prefix = 0;
	reader->error_detail = (size_t)prefix;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reader->error + prefix, sizeof(reader->error) - (size_t)prefix, fmt, ap);
	va_end(ap);
}

static void reader_append(struct csv_reader *reader, const char *bytes, size_t count)
{
	if (reader->bad || count == 0)
		return;
	if (reader->text_len - reader->field_start + count > reader->max_field) {
		reader_fail(reader, reader->record.line, CRM_ELIMIT,
		            "the field in column %d is longer than %zu bytes",
		            reader->field_count + 1, reader->max_field);
		return;
	}
	if (reader->text_len + count + 1 > reader->max_record) {
		reader_fail(reader, reader->record.line, CRM_ELIMIT,
		            "the record is longer than %zu bytes", reader->max_record);
		return;
	}
	if (reader->text_len + count + 1 > reader->text_cap) {
		size_t cap = reader->text_cap;
		while (reader->text_len + count + 1 > cap)
			cap *= 2;
		reader->text = xrealloc(reader->text, cap);
		reader->text_cap = cap;
	}
	memcpy(reader->text + reader->text_len, bytes, count);
	reader->text_len += count;
}

static void reader_append_byte(struct csv_reader *reader, int c)
{
	char byte = (char)c;
	reader_append(reader, &byte, 1);
}

static void reader_end_field(struct csv_reader *reader)
{
	if (reader->bad)
		return;
	if (reader->field_count >= reader->max_columns) {
		reader_fail(reader, reader->record.line, CRM_ELIMIT, "more than %d columns",
		            reader->max_columns);
		return;
	}
	if (reader->field_count == reader->field_cap) {
		reader->field_cap *= 2;
		reader->offsets = xrealloc(reader->offsets, sizeof(size_t) * (size_t)reader->field_cap);
		reader->lengths = xrealloc(reader->lengths, sizeof(size_t) * (size_t)reader->field_cap);
		reader->fields = xrealloc(reader->fields, sizeof(char *) * (size_t)reader->field_cap);
	}
	if (reader->text_len + 1 > reader->text_cap) {
		reader->text_cap *= 2;
		reader->text = xrealloc(reader->text, reader->text_cap);
	}
	reader->offsets[reader->field_count] = reader->field_start;
	reader->lengths[reader->field_count] = reader->text_len - reader->field_start;
	reader->text[reader->text_len++] = '\0';
	reader->field_count++;
}

/* Looks at the first bytes of the input: skips a UTF-8 BOM, refuses UTF-16. */
static void reader_start(struct csv_reader *reader)
{
	reader->started = true;
	/* A short first read (a pipe) must not hide a BOM: gather 3 bytes first. */
	if (reader->chunk) {
		while (reader->len < 3 && !reader->at_end) {
			ssize_t got = reader->read_fn(reader->arg, reader->chunk + reader->len,
			                              CSV_CHUNK - reader->len);
			if (got <= 0) {
				reader->at_end = true;
				if (got < 0)
					reader->read_failed = true;
				break;
			}
			reader->len += (size_t)got;
		}
	}
	const unsigned char *bytes = (const unsigned char *)reader->data;
	if (reader->len >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF) {
		reader->pos = 3;
	} else if (reader->len >= 2 && ((bytes[0] == 0xFF && bytes[1] == 0xFE) ||
	                                (bytes[0] == 0xFE && bytes[1] == 0xFF))) {
		reader->record.line = 1;
		reader_fail(reader, 1, CRM_EINVAL, "the input is UTF-16: save it as UTF-8");
		reader->fatal = true;
	}
}

int csv_reader_next(struct csv_reader *reader, const struct csv_record **out)
{
	reader->error[0] = '\0';
	reader->error_line = 0;
	reader->error_detail = 0;
	reader->bad = false;
	if (!reader->started) {
		reader_start(reader);
		if (reader->fatal)
			return reader->bad_status;
	}
	if (reader->fatal) {
		*out = NULL;
		return CRM_OK;
	}

	int c;
	for (;;) {  /* blank lines are not records */
		c = reader_next_byte(reader);
		if (c == '\n') {
			reader->line++;
		} else if (c == '\r') {
			if (reader_peek_byte(reader) == '\n')
				reader->pos++;
			reader->line++;
		} else {
			break;
		}
	}
	if (c == CSV_EOF) {
		if (reader->read_failed) {
			reader->record.line = reader->line;
			reader_fail(reader, reader->line, CRM_EIO, "reading the input failed");
			reader->fatal = true;
			return CRM_EIO;
		}
		*out = NULL;
		return CRM_OK;
	}

	reader->record.line = reader->line;
	reader->text_len = 0;
	reader->field_count = 0;
	for (;;) {  /* one field per turn; c is its first byte */
		reader->field_start = reader->text_len;
		bool quoted_done = false;
		if (c == '"') {
			long quote_line = reader->line;
			for (;;) {
				size_t run = reader->pos;
				while (reader->pos < reader->len &&
				       !quoted_stop[(unsigned char)reader->data[reader->pos]])
					reader->pos++;
				reader_append(reader, reader->data + run, reader->pos - run);
				c = reader_next_byte(reader);
				if (c == '"') {
					if (reader_peek_byte(reader) != '"')
						break;
					reader->pos++;
					reader_append_byte(reader, '"');
				} else if (c == '\n') {
					reader->line++;
					reader_append_byte(reader, c);
				} else if (c == '\r') {
					reader_append_byte(reader, c);
					if (reader_peek_byte(reader) != '\n')
						reader->line++;
				} else if (c == 0) {
					reader_fail(reader, reader->record.line, CRM_EINVAL,
					            "NUL byte in column %d (is the file UTF-16? save it as UTF-8)",
					            reader->field_count + 1);
				} else if (c == CSV_EOF) {
					reader->bad = false;  /* this error wins over any earlier one */
					if (reader->read_failed)
						reader_fail(reader, reader->record.line, CRM_EIO,
						            "reading the input failed");
					else
						reader_fail(reader, reader->record.line, CRM_EINVAL,
						            "unterminated quoted field in column %d (the quote opens on line %ld)",
						            reader->field_count + 1, quote_line);
					reader->fatal = true;
					return reader->bad_status;
				} else {
					reader_append_byte(reader, c);  /* the run ended at a chunk's end */
				}
			}
			c = reader_next_byte(reader);
			if (c == ',' || c == '\n' || c == '\r' || c == CSV_EOF)
				quoted_done = true;
			else
				reader_fail(reader, reader->record.line, CRM_EINVAL,
				            "unexpected character after the closing quote in column %d",
				            reader->field_count + 1);
		}
		if (!quoted_done) {
			while (c != ',' && c != '\n' && c != '\r' && c != CSV_EOF) {
				if (c == 0)
					reader_fail(reader, reader->record.line, CRM_EINVAL,
					            "NUL byte in column %d (is the file UTF-16? save it as UTF-8)",
					            reader->field_count + 1);
				else
					reader_append_byte(reader, c);
				size_t run = reader->pos;
				while (reader->pos < reader->len &&
				       !unquoted_stop[(unsigned char)reader->data[reader->pos]])
					reader->pos++;
				reader_append(reader, reader->data + run, reader->pos - run);
				c = reader_next_byte(reader);
			}
		}
		reader_end_field(reader);
		if (c == ',') {
			c = reader_next_byte(reader);
			continue;
		}
		if (c == '\r') {
			if (reader_peek_byte(reader) == '\n')
				reader->pos++;
			reader->line++;
		} else if (c == '\n') {
			reader->line++;
		}
		break;
	}
	if (reader->read_failed) {
		reader->bad = false;
		reader_fail(reader, reader->record.line, CRM_EIO, "reading the input failed");
		reader->fatal = true;
		return CRM_EIO;
	}
	if (reader->bad)
		return reader->bad_status;
	for (int i = 0; i < reader->field_count; i++)
		reader->fields[i] = reader->text + reader->offsets[i];
	reader->record.field_count = reader->field_count;
	reader->record.fields = reader->fields;
	reader->record.lengths = reader->lengths;
	*out = &reader->record;
	return CRM_OK;
}

/* ---- writer ------------------------------------------------------------ */

int csv_write_file(void *file, const char *data, size_t len)
{
	return fwrite(data, 1, len, (FILE *)file) == len ? 0 : -1;
}

void csv_writer_init(struct csv_writer *writer, csv_write_fn write_fn, void *arg)
{
	memset(writer, 0, sizeof(*writer));
	writer->write = write_fn;
	writer->arg = arg;
}

bool csv_needs_formula_guard(const char *text, size_t len)
{
	size_t i = 0;
	while (i < len && text[i] == '\'')
		i++;
	if (i == len)
		return false;
	char c = text[i];
	return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
}

void csv_writer_field(struct csv_writer *writer, const char *text, size_t len, int flags)
{
	struct strbuf *out = &writer->buffer;
	if (writer->column > 0)
		strbuf_putc(out, ',');
	writer->column++;
	if (!text || len == 0)
		return;
	bool guard = (flags & CSV_TEXT) && csv_needs_formula_guard(text, len);
	bool quote = text[0] == ' ' || text[0] == '\t' || text[len - 1] == ' ' || text[len - 1] == '\t';
	for (size_t i = 0; i < len && !quote; i++) {
		char c = text[i];
		quote = c == ',' || c == '"' || c == '\n' || c == '\r';
	}
	if (!quote && !guard) {
		strbuf_add(out, text, len);
		return;
	}
	if (quote)
		strbuf_putc(out, '"');
	if (guard)
		strbuf_putc(out, '\'');
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '"') {
			strbuf_add(out, text + run, i + 1 - run);  /* includes this quote ... */
			strbuf_putc(out, '"');                     /* ... and doubles it */
			run = i + 1;
		}
	}
	strbuf_add(out, text + run, len - run);
	if (quote)
		strbuf_putc(out, '"');
}

int csv_writer_end_record(struct csv_writer *writer)
{
	if (writer->column <= 1 && writer->buffer.len == writer->record_start)
		strbuf_add(&writer->buffer, "\"\"", 2);
	strbuf_add(&writer->buffer, "\r\n", 2);
	writer->column = 0;
	writer->record_start = writer->buffer.len;
	if (writer->buffer.len >= CSV_FLUSH_AT)
		csv_writer_flush(writer);
	return writer->status;
}

int csv_writer_flush(struct csv_writer *writer)
{
	if (writer->status == CRM_OK && writer->buffer.len > 0 &&
	    writer->write(writer->arg, writer->buffer.data, writer->buffer.len) != 0)
		writer->status = CRM_EIO;
	strbuf_reset(&writer->buffer);
	writer->record_start = 0;
	return writer->status;
}

void csv_writer_free(struct csv_writer *writer)
{
	strbuf_free(&writer->buffer);
}

/* ---- import ------------------------------------------------------------ */

struct import_column {
	const struct meta_field *field;
	const char *name;                 /* borrowed from the field */
};

struct import {
	struct crm_ctx *ctx;
	const char *object;
	const struct csv_import_options *options;
	struct csv_import_stats *stats;
	struct import_column *columns;
	int column_count;
	int64_t listed;                   /* rejected rows reported so far */
	struct strbuf scratch;
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static void trim(const char **text, size_t *len)
{
	while (*len > 0 && is_space(**text)) {
		(*text)++;
		(*len)--;
	}
	while (*len > 0 && is_space((*text)[*len - 1]))
		(*len)--;
}

/* Case-insensitive (ASCII) comparison of a counted string with a C string. */
static bool equal_nocase(const char *text, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(text, word, len) == 0;
}

/* Reports one rejected row. errors: array of {field, code, message} (borrowed). */
static void import_reject(struct import *import, long line, json_t *errors)
{
	import->stats->rejected++;
	const struct csv_import_options *options = import->options;
	if (options->error_limit > 0 && import->listed >= options->error_limit)
		return;
	import->listed++;
	if (options->report) {
		size_t i;
		json_t *error;
		json_array_foreach(errors, i, error) {
			const char *field = json_string_value(json_object_get(error, "field"));
			const char *message = json_string_value(json_object_get(error, "message"));
			if (field && *field)
				fprintf(options->report, "line %ld: %s: %s\n", line, field, message ? message : "");
			else
				fprintf(options->report, "line %ld: %s\n", line, message ? message : "");
		}
	}
	if (options->errors)
		json_array_append_new(options->errors,
			json_pack("{s:I, s:O}", "line", (json_int_t)line, "errors", errors));
}

/* Appends {field, code, message} to *errors (created on first use). field may be NULL. */
static void add_error(json_t **errors, const char *field, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void add_error(json_t **errors, const char *field, const char *code, const char *fmt, ...)
{
	char message[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (!*errors)
		*errors = json_array();
	json_array_append_new(*errors, json_pack("{s:o, s:s, s:s}",
		"field", field ? json_string(field) : json_null(), "code", code, "message", message));
}

static void reject_message(struct import *import, long line, const char *code, const char *message)
{
	json_t *errors = NULL;
	add_error(&errors, NULL, code, "%s", message);
	import_reject(import, line, errors);
	json_decref(errors);
}

/* Matches a header cell to a field: by name, by name in any case, then by label. */
static const struct meta_field *find_column_field(const struct meta_object *object,
                                                  const char *name, size_t len)
{
	const struct meta_field *field = meta_find_field(object, name);
	if (field)
		return field;
	for (int i = 0; i < object->field_count; i++)
		if (equal_nocase(name, len, object->fields[i].name))
			return &object->fields[i];
	for (int i = 0; i < object->field_count; i++) {
		const struct meta_label *label = &object->fields[i].label;
		for (int j = 0; j < label->count; j++)
			if (equal_nocase(name, len, label->text[j]))
				return &object->fields[i];
	}
	return NULL;
}

static int import_header(struct import *import, const struct meta_object *object,
                         const struct csv_record *header)
{
	struct crm_ctx *ctx = import->ctx;
	import->columns = xcalloc((size_t)header->field_count, sizeof(*import->columns));
	import->column_count = header->field_count;
	for (int i = 0; i < header->field_count; i++) {
		const char *cell = header->fields[i];
		size_t len = header->lengths[i];
		trim(&cell, &len);
		char *name = xstrndup(cell, len);
		const struct meta_field *field = len ? find_column_field(object, name, len) : NULL;
		int rc = CRM_OK;
		if (len == 0)
			rc = crm_error(ctx, CRM_EINVAL, "header: column %d has no field name", i + 1);
		else if (!field)
			rc = crm_error(ctx, CRM_EINVAL, "header: column %d '%s' is not a field of '%s'",
			               i + 1, name, object->name);
		else if (field->system)
			rc = crm_error(ctx, CRM_EINVAL,
			               "header: column %d '%s' is a system field and cannot be imported",
			               i + 1, name);
		else if (field->type == FIELD_FORMULA || field->type == FIELD_ROLLUP ||
		         field->type == FIELD_AUTONUMBER || field->formula)
			rc = crm_error(ctx, CRM_EINVAL,
			               "header: column %d '%s' is computed (%s) and cannot be imported",
			               i + 1, name, field->formula ? "formula" : meta_type_name(field->type));
		for (int j = 0; rc == CRM_OK && j < i; j++)
			if (import->columns[j].field == field)
				rc = crm_error(ctx, CRM_EINVAL,
				               "header: column %d '%s' repeats column %d (field '%s')",
				               i + 1, name, j + 1, field->name);
		free(name);
		if (rc != CRM_OK)
			return rc;
		import->columns[i].field = field;
		import->columns[i].name = field->name;
	}
	return CRM_OK;
}

/* Number syntax: [+-]digits[.digits][e[+-]digits] or [+-].digits...; is_integer if no . or e. */
static bool number_syntax(const char *text, size_t len, bool *is_integer)
{
	size_t i = 0, digits = 0;
	*is_integer = true;
	if (i < len && (text[i] == '+' || text[i] == '-'))
		i++;
	while (i < len && text[i] >= '0' && text[i] <= '9') {
		i++;
		digits++;
	}
	if (i < len && text[i] == '.') {
		*is_integer = false;
		i++;
		while (i < len && text[i] >= '0' && text[i] <= '9') {
			i++;
			digits++;
		}
	}
	if (digits == 0)
		return false;
	if (i < len && (text[i] == 'e' || text[i] == 'E')) {
		*is_integer = false;
		i++;
		if (i < len && (text[i] == '+' || text[i] == '-'))
			i++;
		size_t exponent_digits = 0;
		while (i < len && text[i] >= '0' && text[i] <= '9') {
			i++;
			exponent_digits++;
		}
		if (exponent_digits == 0)
			return false;
	}
	return i == len;
}

/*
 * Clinger's fast path: up to 15 significant digits and no exponent, so that
 * mantissa / 10^k (both exact doubles) is the correctly rounded value, the
 * same as strtod's. Returns false when the slow path is needed.
 */
static bool fast_decimal(const char *text, size_t len, double *out)
{
	static const double powers[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	                                 1e11, 1e12, 1e13, 1e14, 1e15 };
	size_t i = 0;
	bool negative = false;
	if (text[0] == '+' || text[0] == '-') {
		negative = text[0] == '-';
		i++;
	}
	uint64_t mantissa = 0;
	int digits = 0, decimals = 0;
	bool point = false;
	for (; i < len; i++) {
		char c = text[i];
		if (c == '.') {
			point = true;
			continue;
		}
		if (c < '0' || c > '9')
			return false;  /* an exponent */
		if (mantissa == 0 && c == '0') {
			if (point)
				decimals++;
			continue;      /* leading zeros are not significant */
		}
		if (++digits > 15)
			return false;
		mantissa = mantissa * 10 + (uint64_t)(c - '0');
		if (point)
			decimals++;
	}
	if (decimals > 15)
		return false;
	double value = (double)mantissa / powers[decimals];
	*out = negative ? -value : value;
	return true;
}

/* A number cell: an integer or real JSON value, or NULL if the cell is not a number. */
static json_t *parse_number(struct import *import, const char *text, size_t len, bool want_integer)
{
	bool is_integer;
	if (!number_syntax(text, len, &is_integer))
		return NULL;
	if (is_integer && want_integer && len <= 18) {
		bool negative = text[0] == '-';
		int64_t value = 0;
		for (size_t i = (text[0] == '-' || text[0] == '+'); i < len; i++)
			value = value * 10 + (text[i] - '0');
		return json_integer(negative ? -value : value);
	}
	double fast;
	if (!want_integer && fast_decimal(text, len, &fast))
		return json_real(fast);
	strbuf_reset(&import->scratch);
	strbuf_add(&import->scratch, text, len);
	const char *digits = import->scratch.data;
	if (is_integer && want_integer) {
		errno = 0;
		long long value = strtoll(digits, NULL, 10);
		if (errno == ERANGE)
			return NULL;
		return json_integer((json_int_t)value);
	}
	double value = strtod(digits, NULL);
	if (!isfinite(value))
		return NULL;
	return json_real(value);
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool valid_utf8(const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + len;
	while (p < end) {
		while (end - p >= 8) {  /* ASCII, a word at a time */
			uint64_t word;
			memcpy(&word, p, sizeof(word));
			if (word & 0x8080808080808080ULL)
				break;
			p += 8;
		}
		if (p == end)
			break;
		unsigned c = *p;
		if (c < 0x80) {
			p++;
			continue;
		}
		size_t count;
		uint32_t code, least;
		if ((c & 0xE0) == 0xC0) {
			count = 2, code = c & 0x1F, least = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			count = 3, code = c & 0x0F, least = 0x800;
		} else if ((c & 0xF8) == 0xF0) {
			count = 4, code = c & 0x07, least = 0x10000;
		} else {
			return false;
		}
		if ((size_t)(end - p) < count)
			return false;
		for (size_t i = 1; i < count; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return false;
			code = (code << 6) | (p[i] & 0x3F);
		}
		if (code < least || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
			return false;
		p += count;
	}
	return true;
}

static json_t *text_value(const char *text, size_t len, const char *name, json_t **errors)
{
	if (!valid_utf8(text, len)) {
		add_error(errors, name, "encoding", "is not valid UTF-8");
		return NULL;
	}
	return json_stringn_nocheck(text, len);
}

/* An enum cell: the value itself, else a value or a label in any case. */
static json_t *enum_value(const struct meta_field *field, const char *text, size_t len,
                          json_t **errors)
{
	for (int i = 0; i < field->value_count; i++)
		if (strlen(field->values[i]) == len && memcmp(field->values[i], text, len) == 0)
			return json_string(field->values[i]);
	for (int i = 0; i < field->value_count; i++) {
		if (equal_nocase(text, len, field->values[i]))
			return json_string(field->values[i]);
		const struct meta_label *label = field->value_labels ? &field->value_labels[i] : NULL;
		for (int j = 0; label && j < label->count; j++)
			if (equal_nocase(text, len, label->text[j]))
				return json_string(field->values[i]);
	}
	return text_value(text, len, field->name, errors);  /* validation names the bad value */
}

static json_t *geo_value(struct import *import, const struct meta_field *field,
                         const char *text, size_t len, json_t **errors)
{
	if (text[0] != '{') {
		/* "lat,lng", "lat;lng" or "lat lng" */
		size_t split = 0;
		while (split < len && text[split] != ',' && text[split] != ';' && text[split] != ' ')
			split++;
		if (split < len) {
			const char *second = text + split + 1;
			size_t second_len = len - split - 1;
			trim(&second, &second_len);
			json_t *lat = parse_number(import, text, split, false);
			json_t *lng = lat ? parse_number(import, second, second_len, false) : NULL;
			if (lat && lng)
				return json_pack("{s:o, s:o}", "lat", lat, "lng", lng);
			json_decref(lat);
			json_decref(lng);
		}
		return text_value(text, len, field->name, errors);  /* validation reports it */
	}
	json_error_t error;
	json_t *value = json_loadb(text, len, JSON_DECODE_ANY, &error);
	if (!value)
		add_error(errors, field->name, "json", "is not valid JSON: %s", error.text);
	return value;
}

/*
 * Converts one non-empty cell by the column's field type. Returns the value
 * (owned) or NULL after adding a field error to *errors.
 */
static json_t *convert_cell(struct import *import, const struct meta_field *field,
                            const char *text, size_t len, json_t **errors)
{
	json_t *value;
	switch (field->type) {
	case FIELD_TEXT:
	case FIELD_TEXTAREA:
		return text_value(text, len, field->name, errors);
	default:
		break;
	}
	trim(&text, &len);
	if (len == 0)
		return json_null();
	switch (field->type) {
	case FIELD_INT:
	case FIELD_REF:
	case FIELD_USER:
		value = parse_number(import, text, len, true);
		return value ? value : text_value(text, len, field->name, errors);
	case FIELD_DECIMAL:
	case FIELD_MONEY:
	case FIELD_PERCENT:
		value = parse_number(import, text, len, false);
		return value ? value : text_value(text, len, field->name, errors);
	case FIELD_BOOL:
		if (equal_nocase(text, len, "true") || equal_nocase(text, len, "yes") ||
		    equal_nocase(text, len, "1"))
			return json_true();
		if (equal_nocase(text, len, "false") || equal_nocase(text, len, "no") ||
		    equal_nocase(text, len, "0"))
			return json_false();
		return text_value(text, len, field->name, errors);
	case FIELD_ENUM:
		return enum_value(field, text, len, errors);
	case FIELD_MULTIENUM: {
		json_t *items = json_array();
		size_t start = 0;
		while (start <= len) {
			size_t end = start;
			while (end < len && text[end] != ';')
				end++;
			const char *item = text + start;
			size_t item_len = end - start;
			trim(&item, &item_len);
			if (item_len > 0) {
				json_t *one = enum_value(field, item, item_len, errors);
				if (!one) {
					json_decref(items);
					return NULL;
				}
				json_array_append_new(items, one);
			}
			start = end + 1;
		}
		return items;
	}
	case FIELD_JSON: {
		json_error_t error;
		value = json_loadb(text, len, JSON_DECODE_ANY, &error);
		if (!value)
			add_error(errors, field->name, "json", "is not valid JSON: %s", error.text);
		return value;
	}
	case FIELD_GEO:
		return geo_value(import, field, text, len, errors);
	default:  /* email, phone, url, date, datetime, autonumber */
		return text_value(text, len, field->name, errors);
	}
}

/* True for failures that concern one row only: report it and go on. */
static bool row_level_failure(int rc)
{
	return rc == CRM_EVALIDATION || rc == CRM_EINVAL || rc == CRM_ENOTFOUND ||
	       rc == CRM_ECONFLICT || rc == CRM_ELIMIT;
}

/* Reports a failed object_create of the row at line from ctx's error. */
static void reject_create(struct import *import, long line)
{
	struct crm_ctx *ctx = import->ctx;
	if (ctx->field_errors && json_array_size(ctx->field_errors) > 0) {
		import_reject(import, line, ctx->field_errors);
		return;
	}
	static const char *const codes[] = {
		[CRM_EINVAL] = "invalid", [CRM_ENOTFOUND] = "not_found", [CRM_ECONFLICT] = "conflict",
		[CRM_EVALIDATION] = "invalid", [CRM_ELIMIT] = "limit",
	};
	const char *code = ctx->status > 0 && (size_t)ctx->status < sizeof(codes) / sizeof(codes[0]) &&
	                   codes[ctx->status] ? codes[ctx->status] : "error";
	reject_message(import, line, code, ctx->message);
}

/* Builds and creates one row. Returns CRM_OK (created or rejected) or a failure that stops. */
static int import_row(struct import *import, const struct csv_record *record, bool *created)
{
	struct crm_ctx *ctx = import->ctx;
	*created = false;
	if (record->field_count != import->column_count) {
		char message[120];
		snprintf(message, sizeof(message), "expected %d columns as in the header, found %d",
		         import->column_count, record->field_count);
		reject_message(import, record->line, "columns", message);
		return CRM_OK;
	}
	json_t *values = json_object();
	json_t *errors = NULL;
	for (int i = 0; i < import->column_count; i++) {
		const char *text = record->fields[i];
		size_t len = record->lengths[i];
		if (len == 0)
			continue;
		/* Undo exactly the writer's formula guard (see csv.h). */
		if (text[0] == '\'' && csv_needs_formula_guard(text + 1, len - 1)) {
			text++;
			len--;
		}
		json_t *value = convert_cell(import, import->columns[i].field, text, len, &errors);
		if (value && json_is_null(value))
			json_decref(value);  /* a cell of blanks: absent */
		else if (value)
			json_object_set_new_nocheck(values, import->columns[i].name, value);
	}
	if (errors) {
		import_reject(import, record->line, errors);
		json_decref(errors);
		json_decref(values);
		return CRM_OK;
	}
	crm_error_reset(ctx);
	int rc = object_create(ctx, import->object, values, NULL);
	json_decref(values);
	if (rc == CRM_OK) {
		*created = true;
		return CRM_OK;
	}
	if (row_level_failure(rc)) {
		reject_create(import, record->line);
		crm_error_reset(ctx);
		return CRM_OK;
	}
	char message[sizeof(ctx->message)];
	snprintf(message, sizeof(message), "%s", ctx->message);
	return crm_error(ctx, rc, "line %ld: %s", record->line, message);
}

static bool record_is_empty(const struct csv_record *record)
{
	for (int i = 0; i < record->field_count; i++)
		for (size_t j = 0; j < record->lengths[i]; j++)
			if (!is_space(record->fields[i][j]))
				return false;
	return true;
}

int csv_import_reader(struct crm_ctx *ctx, const char *object, struct csv_reader *reader,
                      const struct csv_import_options *options, struct csv_import_stats *stats)
{
	static const struct csv_import_options no_options;
	struct csv_import_stats local_stats;
	if (!stats)
		stats = &local_stats;
	memset(stats, 0, sizeof(*stats));
	struct import import = {
		.ctx = ctx, .object = object, .options = options ? options : &no_options, .stats = stats,
	};
	int batch_size = import.options->batch_size > 0 ? import.options->batch_size : CSV_IMPORT_BATCH;
	int64_t batch_created = 0;
	bool in_transaction = false;
	int rc;

	const struct meta_object *meta_object = meta_find_object(ctx->kernel->meta, object);
	if (!meta_object)
		return crm_error(ctx, CRM_ENOTFOUND, "unknown object '%s'", object);

	const struct csv_record *record;
	rc = csv_reader_next(reader, &record);
	if (rc != CRM_OK)
		return crm_error(ctx, rc, "header: %s", csv_reader_error(reader));
	if (!record)
		return crm_error(ctx, CRM_EINVAL, "the CSV is empty: the first row must name the fields");
	rc = import_header(&import, meta_object, record);
	if (rc != CRM_OK)
		goto cleanup;

	rc = object_begin(ctx);
	if (rc != CRM_OK)
		goto cleanup;
	in_transaction = true;
	for (;;) {
		rc = csv_reader_next(reader, &record);
		if (rc != CRM_OK) {
			long line = csv_reader_error_line(reader);
			if (csv_reader_fatal(reader)) {
				stats->rows++;
				reject_message(&import, line, "csv",
				               csv_reader_error(reader) + reader->error_detail);
				/* Keep the rows before the fatal error, as the batches before it. */
				int commit_rc = object_commit(ctx);
				in_transaction = false;
				if (commit_rc == CRM_OK)
					stats->created += batch_created;
				else
					object_rollback(ctx);
				rc = crm_error(ctx, rc, "%s", csv_reader_error(reader));
				goto cleanup;
			}
			stats->rows++;
			reject_message(&import, line, "csv", csv_reader_error(reader) + reader->error_detail);
			continue;
		}
		if (!record)
			break;
		if (record_is_empty(record))
			continue;
		stats->rows++;
		bool created;
		rc = import_row(&import, record, &created);
		if (rc != CRM_OK) {
			object_rollback(ctx);
			in_transaction = false;
			goto cleanup;
		}
		if (!created)
			continue;
		if (++batch_created >= batch_size) {
			rc = object_commit(ctx);
			in_transaction = false;
			if (rc != CRM_OK) {
				object_rollback(ctx);
				goto cleanup;
			}
			stats->created += batch_created;
			batch_created = 0;
			rc = object_begin(ctx);
			if (rc != CRM_OK)
				goto cleanup;
			in_transaction = true;
		}
	}
	rc = object_commit(ctx);
	in_transaction = false;
	if (rc != CRM_OK) {
		object_rollback(ctx);
		goto cleanup;
	}
	stats->created += batch_created;

cleanup:
	if (in_transaction)
		object_rollback(ctx);
	if (import.options->report && import.listed < stats->rejected)
		fprintf(import.options->report, "... and %" PRId64 " more rejected rows not listed\n",
		        stats->rejected - import.listed);
	free(import.columns);
	strbuf_free(&import.scratch);
	return rc;
}

int csv_import(struct crm_ctx *ctx, const char *object, FILE *in, FILE *report,
               struct csv_import_stats *stats)
{
	struct csv_import_options options = { .report = report };
	struct csv_reader *reader = csv_reader_new_file(in);
	int rc = csv_import_reader(ctx, object, reader, &options, stats);
	csv_reader_free(reader);
	return rc;
}

int csv_import_buffer(struct crm_ctx *ctx, const char *object, const char *data, size_t len,
                      json_t *errors_out, struct csv_import_stats *stats)
{
	struct csv_import_options options = { .errors = errors_out };
	struct csv_reader *reader = csv_reader_new_buffer(data, len);
	int rc = csv_import_reader(ctx, object, reader, &options, stats);
	csv_reader_free(reader);
	return rc;
}

/* ---- export ------------------------------------------------------------ */

struct export_column {
	char *name;                        /* owned: a field name or a dotted path */
	const struct meta_field *field;    /* NULL for a dotted path */
};

struct export {
	struct csv_writer writer;
	struct export_column *columns;
	int column_count;
	int64_t rows;
	char number[64];
};

/* The value at a column: a plain key, else a dotted path into nested objects. */
static json_t *column_value(json_t *record, const char *name)
{
	json_t *value = json_object_get(record, name);
	if (value || !strchr(name, '.'))
		return value;
	char part[128];
	const char *at = name;
	value = record;
	while (value && *at) {
		const char *dot = strchr(at, '.');
		size_t len = dot ? (size_t)(dot - at) : strlen(at);
		if (len >= sizeof(part))
			return NULL;
		memcpy(part, at, len);
		part[len] = '\0';
		value = json_is_object(value) ? json_object_get(value, part) : NULL;
		at = dot ? dot + 1 : at + len;
	}
	return value;
}

/* Shortest decimal form of value that reads back as the same double. */
static size_t format_real(char *buf, size_t size, double value)
{
	int len = snprintf(buf, size, "%.15g", value);
	if (len > 0 && strtod(buf, NULL) != value)
		len = snprintf(buf, size, "%.17g", value);
	return len > 0 ? (size_t)len : 0;
}

/*
 * JSON text of value. Reals are written with 15 significant digits when that
 * reads back equal (48.13465, not 48.134650000000001), else with 17.
 */
static void export_json_text(struct csv_writer *writer, json_t *value)
{
	const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
	char small[512];
	size_t len = json_dumpb(value, small, sizeof(small), flags | JSON_REAL_PRECISION(15));
	if (len > 0 && len <= sizeof(small)) {
		json_t *back = json_loadb(small, len, JSON_DECODE_ANY, NULL);
		bool exact = back && json_equal(back, value);
		json_decref(back);
		if (exact) {
			csv_writer_field(writer, small, len, 0);
			return;
		}
	}
	char *text = json_dumps(value, flags);
	csv_writer_field(writer, text, text ? strlen(text) : 0, 0);
	free(text);
}

static void export_value(struct export *export, const struct meta_field *field, json_t *value)
{
	struct csv_writer *writer = &export->writer;
	size_t len;
	switch (value ? json_typeof(value) : JSON_NULL) {
	case JSON_STRING:
		csv_writer_field(writer, json_string_value(value), json_string_length(value), CSV_TEXT);
		break;
	case JSON_INTEGER:
		len = (size_t)snprintf(export->number, sizeof(export->number), "%" JSON_INTEGER_FORMAT,
		                       json_integer_value(value));
		csv_writer_field(writer, export->number, len, 0);
		break;
	case JSON_REAL:
		len = format_real(export->number, sizeof(export->number), json_real_value(value));
		csv_writer_field(writer, export->number, len, 0);
		break;
	case JSON_TRUE:
		csv_writer_field(writer, "true", 4, 0);
		break;
	case JSON_FALSE:
		csv_writer_field(writer, "false", 5, 0);
		break;
	case JSON_ARRAY:
		if (field && field->type == FIELD_MULTIENUM) {
			struct strbuf joined = { 0 };
			size_t i;
			json_t *item;
			json_array_foreach(value, i, item) {
				if (i > 0)
					strbuf_putc(&joined, ';');
				if (json_is_string(item))
					strbuf_add(&joined, json_string_value(item), json_string_length(item));
			}
			csv_writer_field(writer, joined.data, joined.len, CSV_TEXT);
			strbuf_free(&joined);
			break;
		}
		export_json_text(writer, value);
		break;
	case JSON_OBJECT:
		export_json_text(writer, value);
		break;
	case JSON_NULL:
	default:
		csv_writer_field(writer, NULL, 0, 0);
		break;
	}
}

static int export_row(void *arg, json_t *record)
{
	struct export *export = arg;
	for (int i = 0; i < export->column_count; i++)
		export_value(export, export->columns[i].field,
		             column_value(record, export->columns[i].name));
	export->rows++;
	return csv_writer_end_record(&export->writer) == CRM_OK ? 0 : CRM_EIO;
}

static void add_export_column(struct export *export, const struct meta_object *object,
                              const char *name, size_t len)
{
	export->columns = xrealloc(export->columns,
	                           sizeof(*export->columns) * (size_t)(export->column_count + 1));
	struct export_column *column = &export->columns[export->column_count++];
	column->name = xstrndup(name, len);
	column->field = meta_find_field(object, column->name);
}

int csv_export_to(struct crm_ctx *ctx, const char *object, const struct object_query *query,
                  csv_write_fn write_fn, void *arg, int64_t *rows_out)
{
	static const struct object_query all_records;
	struct export export = { 0 };
	int rc;
	const struct meta_object *meta_object = meta_find_object(ctx->kernel->meta, object);
	if (!meta_object)
		return crm_error(ctx, CRM_ENOTFOUND, "unknown object '%s'", object);
	if (!query)
		query = &all_records;
	csv_writer_init(&export.writer, write_fn, arg);

	if (query->fields && *query->fields) {
		const char *at = query->fields;
		while (*at) {
			const char *end = strchr(at, ',');
			size_t len = end ? (size_t)(end - at) : strlen(at);
			const char *name = at;
			trim(&name, &len);
			if (len > 0)
				add_export_column(&export, meta_object, name, len);
			at = end ? end + 1 : at + strlen(at);
		}
	} else {
		for (int i = 0; i < meta_object->field_count; i++)
			add_export_column(&export, meta_object, meta_object->fields[i].name,
			                  strlen(meta_object->fields[i].name));
	}
	if (export.column_count == 0) {
		rc = crm_error(ctx, CRM_EINVAL, "no fields to export");
		goto cleanup;
	}
	for (int i = 0; i < export.column_count; i++)
		csv_writer_field(&export.writer, export.columns[i].name, strlen(export.columns[i].name), 0);
	csv_writer_end_record(&export.writer);

	/* The header stays in the buffer until the first flush, so an invalid
	 * query fails before anything has been written. */
	rc = object_query_each(ctx, object, query, export_row, &export);
	if (rc == CRM_OK)
		rc = csv_writer_flush(&export.writer);
	if (export.writer.status != CRM_OK)
		rc = crm_error(ctx, CRM_EIO, "writing the CSV of '%s' failed after %" PRId64 " rows",
		               object, export.rows);
	if (rc == CRM_OK && rows_out)
		*rows_out = export.rows;

cleanup:
	for (int i = 0; i < export.column_count; i++)
		free(export.columns[i].name);
	free(export.columns);
	csv_writer_free(&export.writer);
	return rc;
}

int csv_export(struct crm_ctx *ctx, const char *object, const struct object_query *query,
               FILE *out)
{
	int rc = csv_export_to(ctx, object, query, csv_write_file, out, NULL);
	if (rc == CRM_OK && fflush(out) != 0)
		rc = crm_error(ctx, CRM_EIO, "writing the CSV of '%s' failed", object);
	return rc;
}
