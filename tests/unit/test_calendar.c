/*
 * test_calendar.c - business-hours calendars: time zones read from the tz
 * database (with DST changes in America/New_York and Europe/Berlin, and a
 * year past the zone file's table), working intervals, the business-time
 * arithmetic with DOMAIN.md B3's numbers, the loader's errors for calendar:
 * documents, and the functions in SQL and in the C evaluator over holiday
 * records agreeing on a real kernel.
 */
#include "test.h"
#include "fixture.h"
#include "calendar.h"
#include "meta.h"
#include "expr.h"

/* Unix seconds of a UTC time. */
static int64_t utc(int y, int m, int d, int hh, int mm)
{
	return calendar_days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60;
}

static struct calendar_zone *zone(const char *name)
{
	struct calendar_zone *z = NULL;
	char err[200];
	if (calendar_zone_load(name, &z, err, sizeof(err)) != 0) {
		fprintf(stderr, "  %s\n", err);
		abort();
	}
	return z;
}

static void test_zone_offsets(void)
{
	struct calendar_zone *shanghai = zone("Asia/Shanghai"), *ny = zone("America/New_York"),
	                     *berlin = zone("Europe/Berlin"), *u = zone("UTC");
	ASSERT_EQ(calendar_zone_offset(shanghai, utc(2026, 12, 4, 9, 0)), 8 * 3600);
	ASSERT_EQ(calendar_zone_offset(u, utc(2026, 7, 1, 0, 0)), 0);
	/* New York: 2026-03-08 02:00 EST is 07:00 UTC; 2026-11-01 02:00 EDT is 06:00 UTC */
	ASSERT_EQ(calendar_zone_offset(ny, utc(2026, 3, 8, 6, 59)), -5 * 3600);
	ASSERT_EQ(calendar_zone_offset(ny, utc(2026, 3, 8, 7, 0)), -4 * 3600);
	ASSERT_EQ(calendar_zone_offset(ny, utc(2026, 11, 1, 5, 59)), -4 * 3600);
	ASSERT_EQ(calendar_zone_offset(ny, utc(2026, 11, 1, 6, 0)), -5 * 3600);
	/* Berlin: the last Sundays of March and October, 01:00 UTC */
	ASSERT_EQ(calendar_zone_offset(berlin, utc(2026, 3, 29, 0, 59)), 3600);
	ASSERT_EQ(calendar_zone_offset(berlin, utc(2026, 3, 29, 1, 0)), 7200);
	ASSERT_EQ(calendar_zone_offset(berlin, utc(2026, 10, 25, 0, 59)), 7200);
	ASSERT_EQ(calendar_zone_offset(berlin, utc(2026, 10, 25, 1, 0)), 3600);
	/* 2060: past any file's table, the footer's POSIX rule (second Sunday of March 2060 is the 14th) */
	ASSERT_EQ(calendar_zone_offset(ny, utc(2060, 3, 14, 6, 59)), -5 * 3600);
	ASSERT_EQ(calendar_zone_offset(ny, utc(2060, 3, 14, 7, 0)), -4 * 3600);
	ASSERT_EQ(calendar_zone_offset(berlin, utc(2060, 10, 31, 0, 59)), 7200);
	ASSERT_EQ(calendar_zone_offset(berlin, utc(2060, 10, 31, 1, 0)), 3600);
	/* local to UTC, on both sides of a change */
	ASSERT_EQ(calendar_local_to_utc(ny, utc(2026, 3, 6, 9, 0)), utc(2026, 3, 6, 14, 0));
	ASSERT_EQ(calendar_local_to_utc(ny, utc(2026, 3, 9, 9, 0)), utc(2026, 3, 9, 13, 0));
	calendar_zone_free(shanghai);
	calendar_zone_free(ny);
	calendar_zone_free(berlin);
	calendar_zone_free(u);
}

static void test_zone_refused(void)
{
	const char *bad[] = { "", "../../etc/passwd", "/etc/localtime", "Nowhere/City", "Asia/Shang hai", "a\nb",
	                      "zone.tab", "Asia" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct calendar_zone *z = (struct calendar_zone *)1;
		char err[200] = "";
		ASSERT_EQ(calendar_zone_load(bad[i], &z, err, sizeof(err)), -1);
		ASSERT(z == NULL);
		ASSERT(err[0] != '\0');
	}
}

static void test_intervals(void)
{
	struct calendar_interval i;
	struct calendar_hours h;
	char err[200];
	ASSERT_EQ(calendar_parse_interval("09:00-12:30", &i, err, sizeof(err)), 0);
	ASSERT_EQ(i.start, 540);
	ASSERT_EQ(i.end, 750);
	ASSERT_EQ(calendar_parse_interval("00:00-24:00", &i, err, sizeof(err)), 0);
	ASSERT_EQ(i.end, 1440);
	const char *bad[] = { "9-12", "09:00", "12:00-09:00", "09:00-09:00", "25:00-26:00", "09:60-10:00", "24:30-24:45",
	                      "09:00-12:00x", "", "09:00 - 12:00" };
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		ASSERT_EQ(calendar_parse_interval(bad[k], &i, err, sizeof(err)), -1);
	ASSERT_EQ(calendar_parse_hours("09:00-12:00, 13:00-18:00", &h, err, sizeof(err)), 0);
	ASSERT_EQ(h.count, 2);
	ASSERT_EQ(calendar_parse_hours("09:00-12:00, 11:00-18:00", &h, err, sizeof(err)), -1);
	ASSERT_CONTAINS(err, "overlaps");
}

/* Holidays from a list of days ("YYYY-MM-DD", closed all day, or with hours after a space). */
struct fixed_holidays {
	const char *const *days;
	int count;
	bool every_day;
};

static int list_fixed(void *arg, const char *calendar, const char *from_day, struct calendar_holiday *out, int max,
                      int *count)
{
	const struct fixed_holidays *f = arg;
	char err[200];
	(void)calendar;
	*count = 0;
	if (f->every_day) {   /* every day from from_day on */
		int y, m, d;
		sscanf(from_day, "%d-%d-%d", &y, &m, &d);
		int64_t day = calendar_days_from_civil(y, m, d);
		for (int k = 0; k < max; k++) {
			int64_t yy;
			int mm, dd;
			calendar_civil_from_days(day + k, &yy, &mm, &dd);
			snprintf(out[k].day, sizeof(out[k].day), "%04d-%02d-%02d", (int)yy, mm, dd);
			memset(&out[k].hours, 0, sizeof(out[k].hours));
		}
		*count = max;
		return 0;
	}
	for (int k = 0; k < f->count && *count < max; k++) {
		if (strncmp(f->days[k], from_day, 10) < 0)
			continue;
		struct calendar_holiday *h = &out[(*count)++];
		memcpy(h->day, f->days[k], 10);
		h->day[10] = '\0';
		memset(&h->hours, 0, sizeof(h->hours));
		if (f->days[k][10] == ' ')
			calendar_parse_hours(f->days[k] + 11, &h->hours, err, sizeof(err));
	}
	return 0;
}

static void week(struct calendar *c, const char *const hours[7])
{
	char err[200];
	for (int d = 0; d < 7; d++)
		if (calendar_parse_hours(hours[d], &c->week[d], err, sizeof(err)) != 0)
			abort();
}

static const char *const nine_to_six[7] = { "09:00-18:00", "09:00-18:00", "09:00-18:00", "09:00-18:00",
                                            "09:00-18:00", "", "" };

/* DOMAIN.md B3: Mon-Fri 09:00-18:00 Asia/Shanghai (UTC+8). 2026-12-04 is a Friday. */
static void test_domain_numbers(void)
{
	struct calendar c = { .name = "cn_office", .zone = zone("Asia/Shanghai") };
	week(&c, nine_to_six);
	char err[200];
	int64_t out;
	int64_t friday_five = utc(2026, 12, 4, 9, 0);   /* 17:00 in Shanghai */
	ASSERT_EQ(calendar_add_minutes(&c, NULL, friday_five, 60, &out, err, sizeof(err)), 0);
	ASSERT_EQ(out, utc(2026, 12, 4, 10, 0));          /* Friday 18:00 */
	ASSERT_EQ(calendar_add_minutes(&c, NULL, friday_five, 480, &out, err, sizeof(err)), 0);
	ASSERT_EQ(out, utc(2026, 12, 7, 8, 0));           /* Monday 16:00 */
	const char *const monday[] = { "2026-12-07" };
	struct fixed_holidays f = { monday, 1, false };
	struct calendar_holidays holidays = { list_fixed, &f };
	ASSERT_EQ(calendar_add_minutes(&c, &holidays, friday_five, 480, &out, err, sizeof(err)), 0);
	ASSERT_EQ(out, utc(2026, 12, 8, 8, 0));           /* Tuesday 16:00 */
	ASSERT_EQ(calendar_minutes_between(&c, NULL, utc(2026, 12, 7, 2, 0), utc(2026, 12, 7, 4, 0), &out, err,
	                                   sizeof(err)), 0);
	ASSERT_EQ(out, 120);                              /* Monday 10:00 to 12:00 */
	/* the same span backwards, and across the weekend and the holiday */
	ASSERT_EQ(calendar_minutes_between(&c, NULL, utc(2026, 12, 7, 4, 0), utc(2026, 12, 7, 2, 0), &out, err,
	                                   sizeof(err)), 0);
	ASSERT_EQ(out, -120);
	ASSERT_EQ(calendar_minutes_between(&c, &holidays, friday_five, utc(2026, 12, 8, 8, 0), &out, err, sizeof(err)), 0);
	ASSERT_EQ(out, 480);
	/* a half day: Monday 09:00-12:00 only */
	const char *const half[] = { "2026-12-07 09:00-12:00" };
	struct fixed_holidays fh = { half, 1, false };
	struct calendar_holidays half_day = { list_fixed, &fh };
	ASSERT_EQ(calendar_add_minutes(&c, &half_day, friday_five, 480, &out, err, sizeof(err)), 0);
	ASSERT_EQ(out, utc(2026, 12, 8, 5, 0));           /* 1h Friday, 3h Monday, 4h Tuesday: 13:00 */
	/* 0 minutes: the time itself inside working time, else the next start */
	ASSERT_EQ(calendar_add_minutes(&c, NULL, utc(2026, 12, 7, 2, 0), 0, &out, err, sizeof(err)), 0);
	ASSERT_EQ(out, utc(2026, 12, 7, 2, 0));
	ASSERT_EQ(calendar_add_minutes(&c, NULL, utc(2026, 12, 5, 2, 0), 0, &out, err, sizeof(err)), 0);
	ASSERT_EQ(out, utc(2026, 12, 7, 1, 0));           /* Saturday: Monday 09:00 */
	bool open;
	ASSERT_EQ(calendar_is_open(&c, NULL, utc(2026, 12, 4, 9, 59), &open, err, sizeof(err)), 0);
	ASSERT(open);
	ASSERT_EQ(calendar_is_open(&c, NULL, utc(2026, 12, 4, 10, 0), &open, err, sizeof(err)), 0);
	ASSERT(!open);
	ASSERT_EQ(calendar_is_open(&c, &holidays, utc(2026, 12, 7, 2, 0), &open, err, sizeof(err)), 0);
	ASSERT(!open);
	calendar_zone_free((struct calendar_zone *)c.zone);
}

/* Working days across the DST changes: hours stay local, so a day's length in UTC does not matter. */
static void test_dst(void)
{
	const char *const nine_to_five[7] = { "09:00-17:00", "09:00-17:00", "09:00-17:00", "09:00-17:00",
	                                      "09:00-17:00", "", "" };
	struct calendar ny = { .name = "ny", .zone = zone("America/New_York") };
	week(&ny, nine_to_five);
	char err[200];
	int64_t out;
	/* Friday 2026-03-06 16:00 EST (21:00Z) + 120: Monday 2026-03-09 10:00 EDT (14:00Z) */
	ASSERT_EQ(calendar_add_minutes(&ny, NULL, utc(2026, 3, 6, 21, 0), 120, &out, err, sizeof(err)), 0);
	ASSERT_EQ(out, utc(2026, 3, 9, 14, 0));
	/* Friday 09:00 EST to Monday 17:00 EDT: two full days */
	ASSERT_EQ(calendar_minutes_between(&ny, NULL, utc(2026, 3, 6, 14, 0), utc(2026, 3, 9, 21, 0), &out, err,
	                                   sizeof(err)), 0);
	ASSERT_EQ(out, 960);
	/* Friday 2026-10-30 16:00 EDT (20:00Z) + 120: Monday 2026-11-02 10:00 EST (15:00Z) */
	ASSERT_EQ(calendar_add_minutes(&ny, NULL, utc(2026, 10, 30, 20, 0), 120, &out, err, sizeof(err)), 0);
	ASSERT_EQ(out, utc(2026, 11, 2, 15, 0));
	struct calendar berlin = { .name = "de", .zone = zone("Europe/Berlin") };
	week(&berlin, nine_to_six);
	/* Friday 2026-10-23 17:00 CEST (15:00Z) + 60: Monday 2026-10-26 09:00 CET (08:00Z) + 60 = 10:00 CET */
	ASSERT_EQ(calendar_add_minutes(&berlin, NULL, utc(2026, 10, 23, 15, 0), 120, &out, err, sizeof(err)), 0);
	ASSERT_EQ(out, utc(2026, 10, 26, 9, 0));
	/* Friday 2026-03-27 17:00 CET (16:00Z) + 120: Monday 2026-03-30 10:00 CEST (08:00Z) */
	ASSERT_EQ(calendar_add_minutes(&berlin, NULL, utc(2026, 3, 27, 16, 0), 120, &out, err, sizeof(err)), 0);
	ASSERT_EQ(out, utc(2026, 3, 30, 8, 0));
	calendar_zone_free((struct calendar_zone *)ny.zone);
	calendar_zone_free((struct calendar_zone *)berlin.zone);
}

/* No working time ever (every day a holiday, or an empty week): an error after the bound, never a hang. */
static void test_bounded(void)
{
	struct calendar c = { .name = "closed", .zone = zone("UTC") };
	week(&c, nine_to_six);
	struct fixed_holidays f = { NULL, 0, true };
	struct calendar_holidays every_day = { list_fixed, &f };
	char err[200];
	int64_t out;
	ASSERT_EQ(calendar_add_minutes(&c, &every_day, utc(2026, 1, 1, 0, 0), 1, &out, err, sizeof(err)), -1);
	ASSERT_CONTAINS(err, "no answer within");
	struct calendar empty = { .name = "empty", .zone = c.zone };
	ASSERT_EQ(calendar_add_minutes(&empty, NULL, utc(2026, 1, 1, 0, 0), 1, &out, err, sizeof(err)), -1);
	ASSERT_EQ(calendar_add_minutes(&c, NULL, utc(2026, 1, 1, 0, 0), -5, &out, err, sizeof(err)), -1);
	ASSERT_EQ(calendar_add_minutes(&c, NULL, utc(2026, 1, 1, 0, 0), INT64_MAX, &out, err, sizeof(err)), -1);
	ASSERT_EQ(calendar_minutes_between(&c, NULL, utc(2000, 1, 1, 0, 0), utc(2100, 1, 1, 0, 0), &out, err,
	                                   sizeof(err)), -1);
	calendar_zone_free((struct calendar_zone *)c.zone);
}

static const struct meta_diag *find(const struct meta_diags *diags, const char *needle)
{
	for (int i = 0; i < diags->count; i++)
		if (strstr(diags->items[i].message, needle))
			return &diags->items[i];
	return NULL;
}

/* Each expected message (a part of it) among diags, at its line. */
struct expected_diag {
	const char *needle;
	int line;
};

static bool diags_match(const struct meta_diags *diags, const struct expected_diag *expected, int count)
{
	for (int i = 0; i < count; i++) {
		const struct meta_diag *d = find(diags, expected[i].needle);
		if (!d || d->line != expected[i].line) {
			fprintf(stderr, "  no '%s' at line %d%s\n", expected[i].needle, expected[i].line, d ? " (elsewhere)" : "");
			return false;
		}
	}
	return true;
}

/* A calendar 'ok' and the start of an object 'ticket' (7 lines), before its fields. */
#define CALENDAR_OK_AND_TICKET \
	"calendar: ok\ntimezone: UTC\nhours: { mon: [\"09:00-18:00\"] }\n---\n" \
	"object: ticket\nlabel: { en: Ticket, zh: 工单 }\nfields:\n"

/* The loader: each mistake in a calendar: document at its line and column. */
static void test_loader_errors(void)
{
	const char *text =
		"calendar: bad_zone\n"                                   /* 1 */
		"label: { en: Bad, zh: 坏 }\n"
		"timezone: Mars/Olympus\n"                               /* 3 */
		"hours: { mon: [\"09:00-18:00\"] }\n"
		"---\n"
		"calendar: bad_hours\n"                                  /* 6 */
		"timezone: Asia/Shanghai\n"
		"hours:\n"
		"  mon: [\"9-12\"]\n"                                    /* 9 */
		"  tue: [\"09:00-12:00\", \"11:00-18:00\"]\n"            /* 10 */
		"  fri: [\"18:00-09:00\"]\n"                             /* 11 */
		"  funday: []\n"                                         /* 12 */
		"---\n"
		"calendar: idle\n"                                       /* 14 */
		"timezone: UTC\n"
		"hours: { mon: [], sat: [] }\n"
		"---\n"
		"calendar: nozone\n"                                     /* 18 */
		"hours: { mon: [\"09:00-18:00\"] }\n";
	/* expressions are typed once the model has no other error: a file of its own */
	const char *objects =
		CALENDAR_OK_AND_TICKET
		"  opened_at: { type: datetime, label: { en: Opened, zh: 开 } }\n"
		"  due: { type: formula, returns: datetime, label: { en: Due, zh: 到期 }, formula: \"add_business_minutes(opened_at, 60, 'nowhere')\" }\n"
		"  late: { type: formula, returns: int, label: { en: Late, zh: 晚 }, formula: \"business_minutes_between(opened_at, now(), 3)\" }\n";
	const char *names[] = { "cal.yaml" };
	const char *texts[] = { text };
	struct meta *meta = NULL;
	struct meta_diags diags;
	ASSERT(meta_load_texts(1, names, texts, &meta, &diags) != CRM_OK);
	const struct meta_diag *d = find(&diags, "unknown time zone 'Mars/Olympus'");
	ASSERT(d);
	ASSERT_EQ(d->column, 11);
	static const struct expected_diag calendar_errors[] = {
		{ "unknown time zone 'Mars/Olympus'", 3 }, { "'9-12' is not an interval", 9 }, { "overlaps", 10 },
		{ "ends before it starts", 11 }, { "unknown key 'funday'", 12 },
		{ "calendar 'idle' has no working time", 14 }, { "calendar 'nozone' needs a 'timezone'", 18 },
	};
	ASSERT(diags_match(&diags, calendar_errors, 7));
	meta_diags_free(&diags);
	meta_free(meta);
	meta = NULL;
	texts[0] = objects;
	ASSERT(meta_load_texts(1, names, texts, &meta, &diags) != CRM_OK);
	static const struct expected_diag expression_errors[] = {
		{ "unknown calendar 'nowhere' (a calendar: document names it; defined: ok)", 9 },
		{ "takes a calendar's name", 10 },
	};
	ASSERT(diags_match(&diags, expression_errors, 2));
	meta_diags_free(&diags);
	meta_free(meta);
}

/* A timer's clock keys: each wrong one at its line. */
static void test_clock_key_errors(void)
{
	const char *text =
		CALENDAR_OK_AND_TICKET
		"  status: { type: enum, label: { en: S, zh: 状 }, values: [open, waiting] }\n"
		"  due_day: { type: date, label: { en: D, zh: 日 } }\n"
		"  due_at: { type: datetime, label: { en: D, zh: 时 } }\n"
		"---\n"
		"workflow: flow\n"
		"object: ticket\n"
		"field: status\n"
		"initial: open\n"
		"transitions: [{ name: wait, from: [open], to: waiting }]\n"
		"timers:\n"
		"  - name: a\n"                                           /* 18 */
		"    due: due_day\n"                                      /* 19: a date, not a datetime */
		"    calendar: atlantis\n"                                /* 20 */
		"    pause_when: \"status = 'waiting'\"\n"              /* 21: no paused fields */
		"    every: 1m\n"
		"    do: [notify_owner]\n"
		"  - name: b\n"
		"    paused_since: due_at\n"                              /* 25: without pause_when */
		"    paused_minutes: nope\n"                              /* 26 */
		"    every: 1m\n"
		"    do: [notify_owner]\n";
	const char *names[] = { "clock.yaml" };
	const char *texts[] = { text };
	struct meta *meta = NULL;
	struct meta_diags diags;
	ASSERT(meta_load_texts(1, names, texts, &meta, &diags) != CRM_OK);
	static const struct expected_diag clock_errors[] = {
		{ "'due' of timer 'a' of workflow 'flow' needs a datetime field", 19 }, { "unknown calendar 'atlantis'", 20 },
		{ "'pause_when' of timer 'a' of workflow 'flow' needs 'due'", 21 },
		{ "record a pause: they need 'pause_when'", 25 }, { "unknown field 'nope'", 26 },
	};
	ASSERT(diags_match(&diags, clock_errors, 5));
	meta_diags_free(&diags);
	meta_free(meta);
}

static const char *const kernel_yaml =
	"calendar: cn_office\n"
	"label: { en: China Office, zh: 中国办公时间 }\n"
	"timezone: Asia/Shanghai\n"
	"hours: { mon: [\"09:00-18:00\"], tue: [\"09:00-18:00\"], wed: [\"09:00-18:00\"], thu: [\"09:00-18:00\"],\n"
	"         fri: [\"09:00-18:00\"] }\n"
	"---\n"
	"object: holiday\n"
	"label: { en: Holiday, zh: 节假日 }\n"
	"fields:\n"
	"  calendar: { type: text, label: { en: Calendar, zh: 日历 }, required: true }\n"
	"  day: { type: date, label: { en: Day, zh: 日期 }, required: true }\n"
	"  hours: { type: text, label: { en: Hours, zh: 时段 } }\n"
	"---\n"
	"object: ticket\n"
	"label: { en: Ticket, zh: 工单 }\n"
	"fields:\n"
	"  opened_at: { type: datetime, label: { en: Opened, zh: 开 } }\n"
	"  minutes: { type: int, label: { en: Minutes, zh: 分钟 } }\n"
	"  cal: { type: text, label: { en: Calendar, zh: 日历 } }\n"
	"  expected: { type: datetime, label: { en: Expected, zh: 预期 } }\n"
	"  due: { type: formula, returns: datetime, label: { en: Due, zh: 到期 },\n"
	"         formula: \"add_business_minutes(opened_at, minutes, cal)\" }\n"
	"  spent: { type: formula, returns: int, label: { en: Spent, zh: 用时 },\n"
	"           formula: \"business_minutes_between(opened_at, expected, 'cn_office')\" }\n"
	"rules:\n"
	"  - { when: \"expected is not null and add_business_minutes(opened_at, minutes, cal) != expected\",\n"
	"      message: { en: \"not the business time\", zh: \"不是工作时间\" }, field: expected }\n";

static int64_t create(struct fixture *fx, const char *object, json_t *values)
{
	json_t *out = NULL;
	int code = object_create(&fx->ctx, object, values, &out);
	json_decref(values);
	int64_t id = code == CRM_OK ? json_integer_value(json_object_get(out, "id")) : -1;
	if (code != CRM_OK)
		crm_error_reset(&fx->ctx);
	json_decref(out);
	return id;
}

/*
 * On a real kernel: the holiday record moves the answer of the formula
 * (SQL) and of the validation rule (the C evaluator) alike; a filter and a
 * field-held calendar name; a name no calendar has reads null.
 */
static void test_sql_and_c_agree(void)
{
	struct fixture fx;
	ASSERT_EQ(fixture_open(&fx, kernel_yaml), CRM_OK);
	/* Friday 2026-12-04 17:00 Shanghai + 480: Monday 16:00 without the holiday */
	int64_t id = create(&fx, "ticket", json_pack("{s:s, s:i, s:s, s:s}", "opened_at", "2026-12-04T09:00:00Z",
	                                              "minutes", 480, "cal", "cn_office", "expected",
	                                              "2026-12-07T08:00:00Z"));
	ASSERT(id > 0);
	json_t *t = NULL;
	ASSERT_EQ(object_get(&fx.ctx, "ticket", id, false, &t), CRM_OK);
	ASSERT_STR_EQ(json_string_value(json_object_get(t, "due")), "2026-12-07T08:00:00Z");
	ASSERT_EQ(json_integer_value(json_object_get(t, "spent")), 480);
	json_decref(t);
	ASSERT(create(&fx, "holiday", json_pack("{s:s, s:s}", "calendar", "cn_office", "day", "2026-12-07")) > 0);
	ASSERT_EQ(object_get(&fx.ctx, "ticket", id, false, &t), CRM_OK);
	ASSERT_STR_EQ(json_string_value(json_object_get(t, "due")), "2026-12-08T08:00:00Z");   /* Tuesday 16:00 */
	ASSERT_EQ(json_integer_value(json_object_get(t, "spent")), 60);  /* Friday 17:00 to Monday 16:00: Friday's hour */
	json_decref(t);
	/* the C evaluator (the rule) sees the holiday too: Monday is refused, Tuesday taken */
	ASSERT_EQ(create(&fx, "ticket", json_pack("{s:s, s:i, s:s, s:s}", "opened_at", "2026-12-04T09:00:00Z", "minutes",
	                                            480, "cal", "cn_office", "expected", "2026-12-07T08:00:00Z")), -1);
	int64_t second = create(&fx, "ticket", json_pack("{s:s, s:i, s:s, s:s}", "opened_at", "2026-12-04T09:00:00Z",
	                                                  "minutes", 480, "cal", "cn_office", "expected",
	                                                  "2026-12-08T08:00:00Z"));
	ASSERT(second > 0);
	/* a name no calendar has: null in SQL and in C (the rule does not hold) */
	int64_t unknown = create(&fx, "ticket", json_pack("{s:s, s:i, s:s, s:s}", "opened_at", "2026-12-04T09:00:00Z",
	                                                   "minutes", 60, "cal", "atlantis", "expected",
	                                                   "2026-12-04T10:00:00Z"));
	ASSERT(unknown > 0);
	ASSERT_EQ(object_get(&fx.ctx, "ticket", unknown, false, &t), CRM_OK);
	ASSERT(json_is_null(json_object_get(t, "due")) || !json_object_get(t, "due"));
	json_decref(t);
	/* a filter in SQL: Tuesday's two */
	struct object_query q = { .filter = "add_business_minutes(opened_at, minutes, 'cn_office') = '2026-12-08T08:00:00Z'" };
	json_t *list = NULL;
	ASSERT_EQ(object_query(&fx.ctx, "ticket", &q, &list), CRM_OK);
	ASSERT_EQ(json_array_size(json_object_get(list, "records")), 2);
	json_decref(list);
	/* an unknown calendar constant in a filter: refused, naming it */
	q.filter = "is_business_time(opened_at, 'nowhere')";
	ASSERT(object_query(&fx.ctx, "ticket", &q, &list) != CRM_OK);
	ASSERT_CONTAINS(fx.ctx.message, "unknown calendar 'nowhere'");
	crm_error_reset(&fx.ctx);
	fixture_close(&fx);
}

static const struct test_case tests[] = {
	{ "zone_offsets", test_zone_offsets },
	{ "zone_refused", test_zone_refused },
	{ "intervals", test_intervals },
	{ "domain_numbers", test_domain_numbers },
	{ "dst", test_dst },
	{ "bounded", test_bounded },
	{ "loader_errors", test_loader_errors },
	{ "clock_key_errors", test_clock_key_errors },
	{ "sql_and_c_agree", test_sql_and_c_agree },
};

TEST_MAIN(tests)
