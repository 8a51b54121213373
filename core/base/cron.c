/*
 * cron.c - "at HH:MM" and five-field cron schedules, and their next run.
 * Small on purpose: no seconds, no names (jan, mon), no @daily; UTC only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cron.h"

static void set_error(char *err, size_t errlen, const char *message, const char *text)
{
	if (err && errlen)
		snprintf(err, errlen, "%s: '%.60s'", message, text);
}

/* One field: a star, a star with a step (every n), "a", "a-b", "a-b" with a step, comma lists. Sets bits lo..hi. */
static bool parse_field(const char *text, size_t length, int lo, int hi, uint64_t *bits)
{
	*bits = 0;
	size_t i = 0;
	while (i < length) {
		size_t end = i;
		while (end < length && text[end] != ',')
			end++;
		int from = lo, to = hi, step = 1;
		size_t p = i;
		if (p < end && text[p] == '*') {
			p++;
		} else {
			char *stop;
			long a = strtol(text + p, &stop, 10);
			if (stop == text + p || stop > text + end)
				return false;
			from = to = (int)a;
			p = (size_t)(stop - text);
			if (p < end && text[p] == '-') {
				long b = strtol(text + p + 1, &stop, 10);
				if (stop == text + p + 1 || stop > text + end)
					return false;
				to = (int)b;
				p = (size_t)(stop - text);
			}
		}
		if (p < end && text[p] == '/') {
			char *stop;
			long n = strtol(text + p + 1, &stop, 10);
			if (stop == text + p + 1 || stop > text + end || n < 1 || n > hi)
				return false;
			step = (int)n;
			p = (size_t)(stop - text);
			if (from == to && text[i] != '*')
				to = hi;            /* "5/15": from 5 to the end, every 15 */
		}
		if (p != end || from < lo || to > hi || from > to)
			return false;
		for (int v = from; v <= to; v += step)
			*bits |= 1ULL << v;
		i = end + 1;
		if (end < length && end + 1 == length)
			return false;           /* a trailing comma */
	}
	return length > 0;
}

bool cron_parse_fields(const char *fields, struct cron *out, char *err, size_t errlen)
{
	static const int lo[] = { 0, 0, 1, 1, 0 }, hi[] = { 59, 23, 31, 12, 7 };
	static const char *const names[] = { "minute", "hour", "day of month", "month", "day of week" };
	uint64_t bits[5];
	const char *p = fields ? fields : "";
	memset(out, 0, sizeof(*out));
	for (int f = 0; f < 5; f++) {
		while (*p == ' ')
			p++;
		size_t length = strcspn(p, " ");
		if (length == 0 || length > 100 || !parse_field(p, length, lo[f], hi[f], &bits[f])) {
			char message[80];
			snprintf(message, sizeof(message), "cron: a bad %s field (expected a star, n, a-b, steps or lists) in", names[f]);
			set_error(err, errlen, length ? message : "cron: expected five fields (minute hour day month weekday) in",
			          fields ? fields : "");
			return false;
		}
		if (f == 2)
			out->any_day = p[0] == '*' && length == 1;
		if (f == 4)
			out->any_weekday = p[0] == '*' && length == 1;
		p += length;
	}
	while (*p == ' ')
		p++;
	if (*p) {
		set_error(err, errlen, "cron: more than five fields in", fields);
		return false;
	}
	out->minutes = bits[0];
	out->hours = (uint32_t)bits[1];
	out->days = (uint32_t)bits[2];
	out->months = (uint16_t)bits[3];
	out->weekdays = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f);   /* 7 is Sunday too */
	return true;
}

bool cron_parse_at(const char *hhmm, struct cron *out, char *err, size_t errlen)
{
	int h, m;
	char tail;
	if (!hhmm || strlen(hhmm) != 5 || sscanf(hhmm, "%2d:%2d%c", &h, &m, &tail) != 2 || hhmm[2] != ':' || h < 0
	    || h > 23 || m < 0 || m > 59) {
		set_error(err, errlen, "at: expected a time of day HH:MM (UTC), such as 00:05, not", hhmm ? hhmm : "");
		return false;
	}
	memset(out, 0, sizeof(*out));
	out->minutes = 1ULL << m;
	out->hours = 1U << h;
	out->days = 0xfffffffeU;
	out->months = 0x1ffe;
	out->weekdays = 0x7f;
	out->any_day = out->any_weekday = true;
	return true;
}

bool cron_parse(const char *text, struct cron *out, char *err, size_t errlen)
{
	if (text && strncmp(text, "at ", 3) == 0)
		return cron_parse_at(text + 3, out, err, errlen);
	if (text && strncmp(text, "cron ", 5) == 0)
		return cron_parse_fields(text + 5, out, err, errlen);
	set_error(err, errlen, "expected \"at HH:MM\" or \"cron M H DOM MON DOW\", not", text ? text : "");
	return false;
}

static bool day_matches(const struct cron *c, const struct tm *tm)
{
	bool day = (c->days >> tm->tm_mday) & 1, weekday = (c->weekdays >> tm->tm_wday) & 1;
	if (c->any_day && c->any_weekday)
		return true;
	if (c->any_day)
		return weekday;
	if (c->any_weekday)
		return day;
	return day || weekday;
}

time_t cron_next(const struct cron *c, time_t after)
{
	time_t t = after - after % 60 + 60;   /* the next whole minute */
	time_t limit = after + 5 * 366 * 86400;
	while (t <= limit) {
		struct tm tm;
		gmtime_r(&t, &tm);
		if (!((c->months >> (tm.tm_mon + 1)) & 1)) {
			/* the first minute of next month */
			tm.tm_mon++;
			tm.tm_mday = 1;
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
			t = timegm(&tm);
			continue;
		}
		if (!day_matches(c, &tm)) {
			t += 86400 - (tm.tm_hour * 3600 + tm.tm_min * 60);
			continue;
		}
		if (!((c->hours >> tm.tm_hour) & 1)) {
			t += 3600 - tm.tm_min * 60;
			continue;
		}
		if (!((c->minutes >> tm.tm_min) & 1)) {
			t += 60;
			continue;
		}
		return t;
	}
	return 0;
}
