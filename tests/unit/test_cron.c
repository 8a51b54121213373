/* cron.c: parsing "at HH:MM" and five-field cron, and the next run after a time (UTC). */
#include <string.h>
#include <time.h>
#include "cron.h"
#include "test.h"

static time_t utc(int year, int month, int day, int hour, int minute)
{
	struct tm tm = { .tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day, .tm_hour = hour, .tm_min = minute };
	return timegm(&tm);
}

static void test_at_runs_daily_at_the_time(void)
{
	struct cron c;
	char err[200];
	ASSERT(cron_parse("at 00:05", &c, err, sizeof(err)));
	ASSERT_EQ(cron_next(&c, utc(2026, 12, 7, 13, 0)), utc(2026, 12, 8, 0, 5));
	ASSERT_EQ(cron_next(&c, utc(2026, 12, 7, 0, 4)), utc(2026, 12, 7, 0, 5));
	/* strictly after: at 00:05 itself the next is tomorrow's */
	ASSERT_EQ(cron_next(&c, utc(2026, 12, 7, 0, 5)), utc(2026, 12, 8, 0, 5));
	ASSERT_EQ(cron_next(&c, utc(2026, 12, 31, 23, 59)), utc(2027, 1, 1, 0, 5));
}

static void test_cron_fields(void)
{
	struct cron c;
	char err[200];
	/* 00:05 on the 1st of every month */
	ASSERT(cron_parse("cron 5 0 1 * *", &c, err, sizeof(err)));
	ASSERT_EQ(cron_next(&c, utc(2026, 12, 7, 13, 0)), utc(2027, 1, 1, 0, 5));
	ASSERT_EQ(cron_next(&c, utc(2027, 1, 1, 0, 5)), utc(2027, 2, 1, 0, 5));
	/* every 15 minutes from 8 to 18 on weekdays (2026-12-07 is a Monday; 12-12 a Saturday) */
	ASSERT(cron_parse_fields("*/15 8-18 * * 1-5", &c, err, sizeof(err)));
	ASSERT_EQ(cron_next(&c, utc(2026, 12, 7, 9, 7)), utc(2026, 12, 7, 9, 15));
	ASSERT_EQ(cron_next(&c, utc(2026, 12, 7, 18, 45)), utc(2026, 12, 8, 8, 0));
	ASSERT_EQ(cron_next(&c, utc(2026, 12, 11, 18, 50)), utc(2026, 12, 14, 8, 0));
	/* Sunday as 7, lists, February 29 */
	ASSERT(cron_parse_fields("0 12 * * 7", &c, err, sizeof(err)));
	ASSERT_EQ(cron_next(&c, utc(2026, 12, 7, 0, 0)), utc(2026, 12, 13, 12, 0));
	ASSERT(cron_parse_fields("30 6 29 2 *", &c, err, sizeof(err)));
	ASSERT_EQ(cron_next(&c, utc(2026, 3, 1, 0, 0)), utc(2028, 2, 29, 6, 30));
	/* both day fields restricted: either matches (the 13th, or any Friday) */
	ASSERT(cron_parse_fields("0 0 13 * 5", &c, err, sizeof(err)));
	ASSERT_EQ(cron_next(&c, utc(2026, 12, 7, 0, 0)), utc(2026, 12, 11, 0, 0));
	ASSERT_EQ(cron_next(&c, utc(2026, 12, 11, 0, 0)), utc(2026, 12, 13, 0, 0));
	ASSERT(cron_parse_fields("0,30 1,2 * * *", &c, err, sizeof(err)));
	ASSERT_EQ(cron_next(&c, utc(2026, 12, 7, 1, 0)), utc(2026, 12, 7, 1, 30));
	ASSERT_EQ(cron_next(&c, utc(2026, 12, 7, 2, 30)), utc(2026, 12, 8, 1, 0));
	/* never: 31 February */
	ASSERT(cron_parse_fields("0 0 31 2 *", &c, err, sizeof(err)));
	ASSERT_EQ(cron_next(&c, utc(2026, 12, 7, 0, 0)), 0);
}

static void test_bad_schedules_are_refused(void)
{
	static const char *const bad[] = {
		"at 24:00", "at 7:05", "at 00:60", "at 00:05x", "cron 5 0 1 *", "cron 5 0 1 * * *", "cron 60 * * * *",
		"cron * 24 * * *", "cron * * 0 * *", "cron * * * 13 *", "cron * * * * 8", "cron */0 * * * *",
		"cron 5-1 * * * *", "cron 1, * * * *", "cron a * * * *", "every day", "", "cron ",
	};
	struct cron c;
	char err[200];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (cron_parse(bad[i], &c, err, sizeof(err))) {
			fprintf(stderr, "  accepted '%s'\n", bad[i]);
			test_failed_now = 1;
			return;
		}
		ASSERT(err[0] != '\0');
	}
}

static const struct test_case tests[] = {
	{ "at_runs_daily_at_the_time", test_at_runs_daily_at_the_time },
	{ "cron_fields", test_cron_fields },
	{ "bad_schedules_are_refused", test_bad_schedules_are_refused },
};

TEST_MAIN(tests)
