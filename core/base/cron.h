/*
 * cron.h - when a scheduled job or timer runs next: "at HH:MM" (every day)
 * or five-field cron ("5 0 1 * *": minute hour day-of-month month
 * day-of-week; a star, lists `1,15`, ranges `1-5`, steps `0-59/10`, `8-18/2`;
 * day-of-week 0-7 with 0 and 7 Sunday). Times are UTC. When both day fields
 * are restricted, a day matches either (as cron does).
 */
#ifndef CRM_CRON_H
#define CRM_CRON_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <time.h>

struct cron {
	uint64_t minutes;      /* bit m: minute m (0-59) */
	uint32_t hours;        /* bit h (0-23) */
	uint32_t days;         /* bit d (1-31) */
	uint16_t months;       /* bit m (1-12) */
	uint8_t weekdays;      /* bit w (0-6, Sunday 0) */
	bool any_day, any_weekday;
};

/*
 * Parses "at HH:MM" or "cron M H DOM MON DOW" (the word first, as a plugin
 * job's schedule is written) or, with bare, the text after the word (a
 * workflow timer's `at:` / `cron:` value: bare_at selects which). Returns
 * false with a message in err.
 */
bool cron_parse(const char *text, struct cron *out, char *err, size_t errlen);
bool cron_parse_at(const char *hhmm, struct cron *out, char *err, size_t errlen);
bool cron_parse_fields(const char *fields, struct cron *out, char *err, size_t errlen);
/* The first minute strictly after `after` that the schedule matches (UTC); 0 if none within 5 years. */
time_t cron_next(const struct cron *c, time_t after);

#endif
