/*
 * csv.h - CSV in and out: a streaming RFC 4180 reader and writer, and on top
 * of them the bulk import and export of records through the object API.
 *
 * The reader and the writer know nothing about records; csv_import and
 * csv_export turn rows into object_create calls and query results into rows.
 * Both ends work on callbacks (a read function, a write function) so that
 * the CLI can pass a FILE *, and the REST API a request body in memory or a
 * streamed response.
 *
 * Spreadsheet formula injection: a text value that starts with = + - @, a tab
 * or a carriage return (after any number of single quotes) is written with
 * one extra leading single quote ('), so that Excel, LibreOffice and Google
 * Sheets show it as text instead of running it as a formula. csv_import
 * removes exactly that one quote again, so export -> import is lossless, and
 * the Excel habit of typing '+49 30 1234 to keep a value as text imports as
 * +49 30 1234.
 */
#ifndef CRM_CSV_H
#define CRM_CSV_H

#include <stdio.h>
#include <sys/types.h>
#include "crm.h"

struct object_query;

#define CSV_MAX_FIELD   (1024 * 1024)       /* bytes in one field */
#define CSV_MAX_COLUMNS 1000                /* fields in one record */
#define CSV_MAX_RECORD  (16 * 1024 * 1024)  /* bytes in one record */
#define CSV_IMPORT_BATCH 25000              /* rows per transaction */

/* ---- reader ------------------------------------------------------------ */

/*
 * Fills buf with up to size bytes. Returns the count read (> 0), 0 at the
 * end of input, or -1 after a read error.
 */
typedef ssize_t (*csv_read_fn)(void *arg, char *buf, size_t size);

/* A csv_read_fn over a FILE * (arg). */
ssize_t csv_read_file(void *file, char *buf, size_t size);

/*
 * One record. Borrowed from the reader: valid until the next
 * csv_reader_next or csv_reader_free. Every field is NUL-terminated;
 * lengths[i] is its length in bytes (a field never contains a NUL byte:
 * the reader refuses them).
 */
struct csv_record {
	int field_count;
	const char **fields;
	const size_t *lengths;
	long line;        /* physical line (1-based) on which the record starts */
};

struct csv_reader;

/*
 * A reader pulling bytes through read_fn(arg, ...). Never NULL (aborts on
 * out of memory). Limits default to CSV_MAX_FIELD, CSV_MAX_COLUMNS and
 * CSV_MAX_RECORD. Owned: free with csv_reader_free.
 */
struct csv_reader *csv_reader_new(csv_read_fn read_fn, void *arg);
/* A reader over a FILE * (borrowed, not closed). */
struct csv_reader *csv_reader_new_file(FILE *file);
/* A reader over len bytes at data (borrowed; must outlive the reader; not copied). */
struct csv_reader *csv_reader_new_buffer(const char *data, size_t len);
void csv_reader_set_limits(struct csv_reader *reader, size_t max_field, int max_columns,
                           size_t max_record);
void csv_reader_free(struct csv_reader *reader);

/*
 * Reads the next record.
 *
 * RFC 4180 with the usual leniencies: LF, CRLF or a lone CR end a line; a
 * UTF-8 byte order mark at the very start is skipped; fields in double
 * quotes may hold commas, line breaks and doubled quotes (""); a quote in
 * the middle of an unquoted field is kept as a character; an empty line is
 * skipped (it is not a record); a line of commas is a record of empty fields.
 *
 * Returns CRM_OK with *out set to the record (borrowed), or CRM_OK with
 * *out = NULL at the end of input. On a malformed record returns an error
 * and leaves the message, starting "line N: ", in csv_reader_error():
 *   CRM_EINVAL  a character after a closing quote, a NUL byte, an
 *               unterminated quoted field (at end of input), UTF-16 input
 *   CRM_ELIMIT  a field, a record or the column count over the limits
 *   CRM_EIO     the read function failed
 * After CRM_EINVAL or CRM_ELIMIT the reader has skipped the bad record and
 * may be called again to go on with the next one (csv_reader_fatal() says
 * whether that is possible: false after an unterminated quote, UTF-16 input
 * or a read error).
 */
int csv_reader_next(struct csv_reader *reader, const struct csv_record **out);
/* The message of the last error (borrowed), "" if none. */
const char *csv_reader_error(const struct csv_reader *reader);
/* The line of the last error's record (0 if none). */
long csv_reader_error_line(const struct csv_reader *reader);
/* True when the last error ended the input: no record can follow. */
bool csv_reader_fatal(const struct csv_reader *reader);

/* ---- writer ------------------------------------------------------------ */

/* Writes len bytes at data. Returns 0, or non-zero on failure. */
typedef int (*csv_write_fn)(void *arg, const char *data, size_t len);

/* A csv_write_fn over a FILE * (arg). */
int csv_write_file(void *file, const char *data, size_t len);

/*
 * A buffered writer. Zero-initialise, or use csv_writer_init. Records end
 * with CRLF (RFC 4180). A field is quoted when it holds a comma, a quote, a
 * CR or LF, or starts or ends with a space or tab. A record whose only field
 * is empty is written as "" so that it does not read back as a blank line.
 */
struct csv_writer {
	csv_write_fn write;
	void *arg;
	struct strbuf buffer;
	int column;          /* fields written in the current record */
	size_t record_start; /* offset of the current record in buffer */
	int status;          /* CRM_OK, or CRM_EIO once a write failed (sticky) */
};

void csv_writer_init(struct csv_writer *writer, csv_write_fn write_fn, void *arg);

/* Flags for csv_writer_field. */
#define CSV_TEXT 1   /* free text from a user: apply the formula-injection guard */

/* Appends one field (text may be NULL for an empty field). */
void csv_writer_field(struct csv_writer *writer, const char *text, size_t len, int flags);
/* Ends the record; flushes once the buffer holds 64 KiB or more. Returns writer->status. */
int csv_writer_end_record(struct csv_writer *writer);
/* Writes out what is buffered. Returns CRM_OK or CRM_EIO. */
int csv_writer_flush(struct csv_writer *writer);
/* Frees the buffer (without flushing). */
void csv_writer_free(struct csv_writer *writer);

/*
 * The formula-injection guard on its own: true if text would be written
 * with an extra leading quote (it matches '*[=+\-@\t\r]...).
 */
bool csv_needs_formula_guard(const char *text, size_t len);

/* ---- import ------------------------------------------------------------ */

struct csv_import_stats {
	int64_t rows;      /* data rows read (blank lines and all-empty rows not counted) */
	int64_t created;   /* records created and committed */
	int64_t rejected;  /* rows refused: bad CSV, bad value or failed validation */
};

struct csv_import_options {
	/* Rejections as text, one line per field error: "line N: field: message". NULL = none. */
	FILE *report;
	/*
	 * Rejections as JSON (borrowed array, appended to), one entry per row:
	 * {"line": N, "errors": [{"field": "amount", "code": "min", "message": "..."}]}
	 * ("field" is null for an error about the whole row). NULL = none.
	 */
	json_t *errors;
	/* Stop listing after this many rejected rows (they are still counted). 0 = no cap. */
	int64_t error_limit;
	/* Rows per transaction; 0 = CSV_IMPORT_BATCH. */
	int batch_size;
};

/*
 * Imports the CSV read by reader into object, through object_create.
 *
 * The first record is the header: one field per column, named by its name
 * (in any case) or by its label in any language ("Account Name", "客户名称").
 * An unknown field, a system field (id, owner, ...), a computed field
 * (formula, rollup, autonumber), a duplicate or an empty name refuses the
 * whole import before anything is written (CRM_EINVAL, ctx->message names
 * the column). An unknown object is CRM_ENOTFOUND.
 *
 * Every following record becomes one record. Cells are converted by the
 * field's type: an empty cell leaves the field out; int, decimal, money and
 * percent parse numbers (a cell that is not a number is passed on as a
 * string so that validation reports it as a field error); bool accepts
 * true/false, 1/0, yes/no (any case); enum accepts a value, or a value or
 * label in any case; multienum is split on ';'; json and geo are JSON text
 * (geo also "lat,lng"); ref and user take the target's id; text is kept
 * verbatim (only the formula guard's quote is removed). Other cells of
 * number, enum, date and ref columns are trimmed.
 *
 * Blank lines and rows whose cells are all empty are skipped. A row that
 * fails (bad CSV, a wrong column count, a field error, an unknown ref, a
 * unique value taken) is reported through options (every field error),
 * counted as rejected and skipped; the other rows are loaded. object_create
 * validates before it writes, so a rejected row leaves nothing behind.
 * Failures counted as the row's: CRM_EVALIDATION, CRM_EINVAL, CRM_ENOTFOUND,
 * CRM_ECONFLICT, CRM_ELIMIT. Rows are committed in
 * transactions of options->batch_size. If object_create fails for a reason
 * that is not about the row (storage, access, internal), the current batch
 * is rolled back and the import stops with that code; earlier batches stay
 * committed and stats says how many. A fatal CSV error (unterminated quote
 * at the end of input, read error) stops the import likewise, after
 * committing the rows before it, is reported like a rejected row, and
 * returns CRM_EINVAL or CRM_EIO. ctx->message of a stopping error starts
 * with "line N: ".
 *
 * Returns CRM_OK when the whole input was read, rejected rows or not.
 * stats (may be NULL) is filled in every case. options may be NULL.
 */
int csv_import_reader(struct crm_ctx *ctx, const char *object, struct csv_reader *reader,
                      const struct csv_import_options *options, struct csv_import_stats *stats);

/* csv_import_reader over a FILE *, reporting rejections as text to report (may be NULL). */
int csv_import(struct crm_ctx *ctx, const char *object, FILE *in, FILE *report,
               struct csv_import_stats *stats);

/*
 * csv_import_reader over len bytes at data (a request body), collecting
 * rejections as JSON into errors_out (a borrowed array, may be NULL).
 */
int csv_import_buffer(struct crm_ctx *ctx, const char *object, const char *data, size_t len,
                      json_t *errors_out, struct csv_import_stats *stats);

/* ---- export ------------------------------------------------------------ */

/*
 * Writes the records of object matching query (NULL = all live records) as
 * CSV through write_fn(arg, ...): a header of field names (query->fields, or
 * every field of the object), then one row per record, streamed with
 * object_query_each so that memory stays flat. query->limit is ignored:
 * every matching record is written. Values: null -> empty, bools
 * true/false, numbers in the shortest form that reads back exactly,
 * multienum joined by ';', json and geo as JSON text, text with the
 * formula guard. The header is held back until the first rows are
 * flushed, so an invalid query fails before write_fn is ever called.
 *
 * Returns CRM_OK, an object API error, or CRM_EIO if write_fn failed (the
 * output is then incomplete). *rows_out (may be NULL) receives the number
 * of records written.
 */
int csv_export_to(struct crm_ctx *ctx, const char *object, const struct object_query *query,
                  csv_write_fn write_fn, void *arg, int64_t *rows_out);

/* csv_export_to a FILE * (flushed, not closed). */
int csv_export(struct crm_ctx *ctx, const char *object, const struct object_query *query,
               FILE *out);

#endif
