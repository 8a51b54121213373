/*
 * calendar.h - business-hours calendars: time zones read from the system's
 * tz database (TZif files under /usr/share/zoneinfo, Debian's tzdata) and
 * business time over a week of working intervals, with holidays.
 *
 * Time zones: the zone file is read once, when the metadata loads, into a
 * table of transitions and the file's POSIX rule for the years after its
 * last transition; lookups then read that table only. No TZ environment, no
 * tzset, no localtime_r: nothing is process-wide, so server threads convert
 * at the same time without a lock.
 *
 * Times are Unix seconds (UTC). A day is "local": the calendar's zone says
 * when each of its working intervals starts and ends, DST included (a day
 * the clocks spring forward still has 09:00-18:00 local, which is 9 hours).
 */
#ifndef CRM_CALENDAR_H
#define CRM_CALENDAR_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#define CALENDAR_MAX_INTERVALS 8       /* working intervals in one day */
#define CALENDAR_MAX_DAYS      3660    /* days add_business_minutes and between scan at most (~10 years) */
#define CALENDAR_ZONE_DIR      "/usr/share/zoneinfo"

struct calendar_zone;   /* opaque, read-only once loaded */

/* [start, end) in minutes after local midnight, 0 <= start < end <= 1440. */
struct calendar_interval {
	int16_t start, end;
};

/* One day's working time: the week's, or a holiday's (none, or a half day's hours). */
struct calendar_hours {
	int count;
	struct calendar_interval intervals[CALENDAR_MAX_INTERVALS];
};

/* A holiday record: its day ("YYYY-MM-DD") and working hours (count 0: closed all day). */
struct calendar_holiday {
	char day[11];
	struct calendar_hours hours;
};

/*
 * Where holidays come from (the holiday records): fills out with up to max
 * holidays of calendar on or after from_day ("YYYY-MM-DD"), in day order,
 * and *count with how many. Returns 0, or -1 (read as: no holidays).
 */
struct calendar_holidays {
	int (*list)(void *arg, const char *calendar, const char *from_day, struct calendar_holiday *out, int max,
	            int *count);
	void *arg;
};

/* A calendar: a zone and the working intervals of each weekday (0 Monday .. 6 Sunday). */
struct calendar {
	const char *name;
	const struct calendar_zone *zone;
	struct calendar_hours week[7];
};

/*
 * Loads zone name ("Asia/Shanghai", "UTC") from CALENDAR_ZONE_DIR. Refuses a
 * name that is not a plain relative path of letters, digits, '/', '_', '-',
 * '+' (no "..", no leading '/'), a missing file, and a file that is not
 * TZif version 2 or later. Returns 0, or -1 with err set.
 */
int calendar_zone_load(const char *name, struct calendar_zone **out, char *err, size_t errlen);
void calendar_zone_free(struct calendar_zone *zone);
/* Seconds east of UTC at t (Asia/Shanghai: 28800). */
int32_t calendar_zone_offset(const struct calendar_zone *zone, int64_t t);
/* The UTC time of a local wall time (seconds since 1970-01-01T00:00 local). */
int64_t calendar_local_to_utc(const struct calendar_zone *zone, int64_t local);

/*
 * Parses "09:00-12:00, 13:00-18:00" (or one interval) into hours: HH:MM with
 * 00 <= HH <= 24, end after start, intervals in order and not overlapping.
 * Returns 0, or -1 with err set.
 */
int calendar_parse_interval(const char *text, struct calendar_interval *out, char *err, size_t errlen);
int calendar_parse_hours(const char *text, struct calendar_hours *out, char *err, size_t errlen);

/*
 * The moment n business minutes (n >= 0) after t: the working time from t on,
 * skipping nights, weekends and holidays. n = 0 gives t, or the next start of
 * working time when t falls outside it. Returns 0; -1 with err set when n is
 * negative or no answer lies within CALENDAR_MAX_DAYS days (a calendar whose
 * holidays cover everything): never a search without end.
 */
int calendar_add_minutes(const struct calendar *c, const struct calendar_holidays *holidays, int64_t t, int64_t n,
                         int64_t *out, char *err, size_t errlen);
/* Business minutes (whole, truncated) from a to b; negative when b is before a. -1 with err past the bound. */
int calendar_minutes_between(const struct calendar *c, const struct calendar_holidays *holidays, int64_t a,
                             int64_t b, int64_t *out, char *err, size_t errlen);
/* Whether t falls inside working time. */
int calendar_is_open(const struct calendar *c, const struct calendar_holidays *holidays, int64_t t, bool *out,
                     char *err, size_t errlen);

/* Days since 1970-01-01 of a civil date, and back. */
int64_t calendar_days_from_civil(int64_t y, int m, int d);
void calendar_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

#endif
