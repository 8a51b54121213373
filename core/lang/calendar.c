/* calendar.c - time zones from TZif files and business time (see calendar.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "calendar.h"
#include "crm.h"

#define ZONE_MAX_FILE (1 << 20)

/* The POSIX TZ rule of a TZif footer, "EST5EDT,M3.2.0,M11.1.0": only the Mm.w.d form. */
struct zone_rule {
	bool valid, has_dst;
	int32_t std_offset, dst_offset;      /* seconds east of UTC */
	int start_month, start_week, start_day, end_month, end_week, end_day;
	int32_t start_time, end_time;        /* seconds after local midnight (may be negative or past 24h) */
};

struct calendar_zone {
	int count;                /* transitions */
	int64_t *at;              /* transition times, ascending */
	uint8_t *type;            /* the type index after each */
	int type_count;
	int32_t *offsets;         /* per type: seconds east of UTC */
	struct zone_rule rule;    /* after the last transition */
};

int64_t calendar_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void calendar_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* 0 Sunday .. 6 Saturday (1970-01-01 was a Thursday). */
static int weekday_sunday(int64_t days)
{
	return (int)(((days % 7) + 11) % 7);
}

/* ---- TZif ----------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static const char *rule_name(const char *p)
{
	if (*p == '<') {
		while (*p && *p != '>')
			p++;
		return *p ? p + 1 : NULL;
	}
	const char *start = p;
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
		p++;
	return p - start >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] into seconds. */
static const char *rule_time(const char *p, int32_t *out)
{
	int sign = 1;
	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	int parts[3] = { 0, 0, 0 }, k = 0;
	for (; k < 3; k++) {
		if (*p < '0' || *p > '9')
			return NULL;
		int v = 0;
		for (int digits = 0; *p >= '0' && *p <= '9' && digits < 3; digits++)
			v = v * 10 + (*p++ - '0');
		parts[k] = v;
		if (*p != ':')
			break;
		p++;
	}
	*out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
	return p;
}

/* ",Mm.w.d[/time]" */
static const char *rule_date(const char *p, int *month, int *week, int *day, int32_t *time)
{
	if (*p++ != ',' || *p++ != 'M')
		return NULL;
	char *end;
	long m = strtol(p, &end, 10);
	if (end == p || *end != '.' || m < 1 || m > 12)
		return NULL;
	p = end + 1;
	long w = strtol(p, &end, 10);
	if (end == p || *end != '.' || w < 1 || w > 5)
		return NULL;
	p = end + 1;
	long d = strtol(p, &end, 10);
	if (end == p || d < 0 || d > 6)
		return NULL;
	p = end;
	*month = (int)m;
	*week = (int)w;
	*day = (int)d;
	*time = 7200;
	if (*p == '/' && !(p = rule_time(p + 1, time)))
		return NULL;
	return p;
}

static void parse_rule(const char *text, struct zone_rule *rule)
{
	memset(rule, 0, sizeof(*rule));
	int32_t west;
	const char *p = rule_name(text);
	if (!p || !(p = rule_time(p, &west)))
		return;
	rule->std_offset = -west;
	rule->dst_offset = rule->std_offset + 3600;
	if (*p == '\0') {
		rule->valid = true;
		return;
	}
	if (!(p = rule_name(p)))
		return;
	if (*p && *p != ',') {
		if (!(p = rule_time(p, &west)))
			return;
		rule->dst_offset = -west;
	}
	if (!(p = rule_date(p, &rule->start_month, &rule->start_week, &rule->start_day, &rule->start_time))
	    || !(p = rule_date(p, &rule->end_month, &rule->end_week, &rule->end_day, &rule->end_time)) || *p)
		return;
	rule->has_dst = rule->valid = true;
}

static bool zone_name_valid(const char *name)
{
	size_t length = strlen(name);
	if (length == 0 || length > 64 || name[0] == '/' || name[0] == '.' || strstr(name, ".."))
		return false;
	for (const char *c = name; *c; c++) {
		bool ok = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '/'
		          || *c == '_' || *c == '-' || *c == '+';
		if (!ok)
			return false;
	}
	return true;
}

static int parse_tzif(const unsigned char *data, size_t size, struct calendar_zone *z)
{
	if (size < 44 || memcmp(data, "TZif", 4) != 0 || data[4] < '2')
		return -1;
	uint32_t c[6];  /* isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt */
	for (int i = 0; i < 6; i++)
		c[i] = be32(data + 20 + 4 * i);
	if (c[3] > 100000 || c[4] > 256 || c[5] > 100000 || c[2] > 100000 || c[0] > 256 || c[1] > 256)
		return -1;
	size_t skip = 44 + (size_t)c[3] * 5 + (size_t)c[4] * 6 + c[5] + (size_t)c[2] * 8 + c[1] + c[0];
	if (size < skip + 44 || memcmp(data + skip, "TZif", 4) != 0)
		return -1;
	const unsigned char *h = data + skip;
	for (int i = 0; i < 6; i++)
		c[i] = be32(h + 20 + 4 * i);
	if (c[3] > 100000 || c[4] == 0 || c[4] > 256 || c[5] > 100000 || c[2] > 100000 || c[0] > 256 || c[1] > 256)
		return -1;
	size_t body = (size_t)c[3] * 9 + (size_t)c[4] * 6 + c[5] + (size_t)c[2] * 12 + c[1] + c[0];
	if (size < skip + 44 + body)
		return -1;
	const unsigned char *p = h + 44;
	z->count = (int)c[3];
	z->type_count = (int)c[4];
	z->at = xcalloc((size_t)z->count + 1, sizeof(*z->at));
	z->type = xcalloc((size_t)z->count + 1, 1);
	z->offsets = xcalloc((size_t)z->type_count, sizeof(*z->offsets));
	for (int i = 0; i < z->count; i++) {
		z->at[i] = be64(p + 8 * i);
		if (i > 0 && z->at[i] <= z->at[i - 1])
			return -1;
	}
	p += (size_t)z->count * 8;
	for (int i = 0; i < z->count; i++) {
		if (p[i] >= z->type_count)
			return -1;
		z->type[i] = p[i];
	}
	p += z->count;
	for (int i = 0; i < z->type_count; i++) {
		int32_t offset = (int32_t)be32(p + 6 * i);
		if (offset < -25 * 3600 || offset > 26 * 3600)
			return -1;
		z->offsets[i] = offset;
	}
	const unsigned char *footer = h + 44 + body, *end = data + size;
	if (footer < end && *footer == '\n') {
		const unsigned char *nl = memchr(footer + 1, '\n', (size_t)(end - footer - 1));
		if (nl && nl - footer < 128) {
			char text[128];
			memcpy(text, footer + 1, (size_t)(nl - footer - 1));
			text[nl - footer - 1] = '\0';
			parse_rule(text, &z->rule);
		}
	}
	return 0;
}

int calendar_zone_load(const char *name, struct calendar_zone **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!zone_name_valid(name)) {
		snprintf(err, errlen, "'%.64s' is not a time zone name (an IANA name such as Asia/Shanghai)", name);
		return -1;
	}
	char path[200];
	snprintf(path, sizeof(path), "%s/%s", CALENDAR_ZONE_DIR, name);
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "unknown time zone '%s' (no %s: is the tzdata package installed?)", name, path);
		return -1;
	}
	unsigned char *data = xmalloc(ZONE_MAX_FILE);
	size_t size = fread(data, 1, ZONE_MAX_FILE, f);
	fclose(f);
	struct calendar_zone *z = xcalloc(1, sizeof(*z));
	int rc = parse_tzif(data, size, z);
	free(data);
	if (rc != 0) {
		calendar_zone_free(z);
		snprintf(err, errlen, "time zone '%s': %s is not a TZif file of version 2 or later", name, path);
		return -1;
	}
	*out = z;
	return 0;
}

void calendar_zone_free(struct calendar_zone *zone)
{
	if (!zone)
		return;
	free(zone->at);
	free(zone->type);
	free(zone->offsets);
	free(zone);
}

/* The day (days since the epoch) of the w-th d-day of month m of year y (w 5: the last). */
static int64_t rule_day(int64_t y, int m, int w, int d)
{
	int64_t first = calendar_days_from_civil(y, m, 1);
	int64_t next = m == 12 ? calendar_days_from_civil(y + 1, 1, 1) : calendar_days_from_civil(y, m + 1, 1);
	int64_t day = first + (d - weekday_sunday(first) + 7) % 7 + (int64_t)(w - 1) * 7;
	while (day >= next)
		day -= 7;
	return day;
}

static int32_t rule_offset(const struct zone_rule *r, int64_t t)
{
	if (!r->has_dst)
		return r->std_offset;
	int64_t y;
	int m, d;
	calendar_civil_from_days(floor_div(t + r->std_offset, 86400), &y, &m, &d);
	int64_t start = rule_day(y, r->start_month, r->start_week, r->start_day) * 86400 + r->start_time - r->std_offset;
	int64_t end = rule_day(y, r->end_month, r->end_week, r->end_day) * 86400 + r->end_time - r->dst_offset;
	bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
	return dst ? r->dst_offset : r->std_offset;
}

int32_t calendar_zone_offset(const struct calendar_zone *z, int64_t t)
{
	if (z->count == 0 || t >= z->at[z->count - 1]) {
		if (z->rule.valid)
			return rule_offset(&z->rule, t);
		return z->count ? z->offsets[z->type[z->count - 1]] : z->offsets[0];
	}
	if (t < z->at[0])
		return z->offsets[0];
	int lo = 0, hi = z->count - 1;   /* at[lo] <= t < at[hi] */
	while (hi - lo > 1) {
		int mid = lo + (hi - lo) / 2;
		if (z->at[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return z->offsets[z->type[lo]];
}

int64_t calendar_local_to_utc(const struct calendar_zone *z, int64_t local)
{
	int32_t guess = calendar_zone_offset(z, local);
	int64_t t = local - guess;
	int32_t offset = calendar_zone_offset(z, t);
	if (offset != guess && calendar_zone_offset(z, local - offset) == offset)
		t = local - offset;
	return t;
}

/* ---- working hours -------------------------------------------------------- */

static const char *parse_clock(const char *p, int *minutes)
{
	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9' || p[2] != ':' || p[3] < '0' || p[3] > '5' || p[4] < '0'
	    || p[4] > '9')
		return NULL;
	int h = (p[0] - '0') * 10 + (p[1] - '0'), m = (p[3] - '0') * 10 + (p[4] - '0');
	if (h > 24 || (h == 24 && m != 0))
		return NULL;
	*minutes = h * 60 + m;
	return p + 5;
}

int calendar_parse_interval(const char *text, struct calendar_interval *out, char *err, size_t errlen)
{
	int start, end;
	const char *p = parse_clock(text, &start);
	if (p && *p == '-')
		p = parse_clock(p + 1, &end);
	else
		p = NULL;
	if (!p || *p) {
		snprintf(err, errlen, "'%.40s' is not an interval: write HH:MM-HH:MM, as in 09:00-12:00", text);
		return -1;
	}
	if (end <= start) {
		snprintf(err, errlen, "interval '%s' ends before it starts", text);
		return -1;
	}
	out->start = (int16_t)start;
	out->end = (int16_t)end;
	return 0;
}

int calendar_parse_hours(const char *text, struct calendar_hours *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	const char *p = text;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		char piece[16];
		size_t n = strcspn(p, ", ");
		if (n >= sizeof(piece) || out->count == CALENDAR_MAX_INTERVALS) {
			snprintf(err, errlen, "'%.40s' is not a list of at most %d intervals HH:MM-HH:MM", text,
			         CALENDAR_MAX_INTERVALS);
			return -1;
		}
		memcpy(piece, p, n);
		piece[n] = '\0';
		struct calendar_interval *i = &out->intervals[out->count];
		if (calendar_parse_interval(piece, i, err, errlen) != 0)
			return -1;
		if (out->count > 0 && i->start < out->intervals[out->count - 1].end) {
			snprintf(err, errlen, "interval '%s' overlaps or comes before the one before it", piece);
			return -1;
		}
		out->count++;
		p += n;
	}
	return 0;
}

/* ---- business time -------------------------------------------------------- */

/* The working hours of each day, walking forward through the holidays in batches. */
struct days {
	const struct calendar *c;
	const struct calendar_holidays *holidays;
	struct calendar_holiday batch[32];
	int count, pos;
	bool loaded, more;
};

static void day_text(int64_t day, char out[11])
{
	int64_t y;
	int m, d;
	calendar_civil_from_days(day, &y, &m, &d);
	snprintf(out, 11, "%04d-%02d-%02d", (int)(y < 0 ? 0 : y > 9999 ? 9999 : y), m, d);
}

static void load_batch(struct days *s, const char *from)
{
	s->loaded = true;
	s->count = s->pos = 0;
	s->more = false;
	if (!s->holidays || !s->holidays->list)
		return;
	int count = 0;
	if (s->holidays->list(s->holidays->arg, s->c->name, from, s->batch, 32, &count) != 0 || count < 0)
		return;
	s->count = count > 32 ? 32 : count;
	s->more = count >= 32;
}

static const struct calendar_hours *hours_of(struct days *s, int64_t day)
{
	char text[11];
	day_text(day, text);
	if (!s->loaded)
		load_batch(s, text);
	while (s->pos < s->count && strcmp(s->batch[s->pos].day, text) < 0)
		s->pos++;
	if (s->pos == s->count && s->more)
		load_batch(s, text);
	if (s->pos < s->count && strcmp(s->batch[s->pos].day, text) == 0)
		return &s->batch[s->pos].hours;
	return &s->c->week[(weekday_sunday(day) + 6) % 7];
}

static int64_t local_day(const struct calendar *c, int64_t t)
{
	return floor_div(t + calendar_zone_offset(c->zone, t), 86400);
}

static void interval_times(const struct calendar *c, int64_t day, const struct calendar_interval *i, int64_t *start,
                           int64_t *end)
{
	*start = calendar_local_to_utc(c->zone, day * 86400 + i->start * 60);
	*end = calendar_local_to_utc(c->zone, day * 86400 + i->end * 60);
}

static int beyond(const struct calendar *c, char *err, size_t errlen)
{
	snprintf(err, errlen, "calendar '%s' has no answer within %d days (no working time, or every day a holiday)",
	         c->name, CALENDAR_MAX_DAYS);
	return -1;
}

int calendar_add_minutes(const struct calendar *c, const struct calendar_holidays *holidays, int64_t t, int64_t n,
                         int64_t *out, char *err, size_t errlen)
{
	if (n < 0 || n > (int64_t)CALENDAR_MAX_DAYS * 1440) {
		snprintf(err, errlen, "add_business_minutes takes 0 to %d minutes, not %lld", CALENDAR_MAX_DAYS * 1440,
		         (long long)n);
		return -1;
	}
	struct days s = { .c = c, .holidays = holidays };
	int64_t remaining = n * 60;
	int64_t day = local_day(c, t);
	for (int k = 0; k < CALENDAR_MAX_DAYS; k++, day++) {
		const struct calendar_hours *h = hours_of(&s, day);
		for (int i = 0; i < h->count; i++) {
			int64_t start, end;
			interval_times(c, day, &h->intervals[i], &start, &end);
			if (end <= t)
				continue;
			if (start < t)
				start = t;
			if (end - start >= remaining) {
				*out = start + remaining;
				return 0;
			}
			remaining -= end - start;
		}
	}
	return beyond(c, err, errlen);
}

int calendar_minutes_between(const struct calendar *c, const struct calendar_holidays *holidays, int64_t a,
                             int64_t b, int64_t *out, char *err, size_t errlen)
{
	if (b < a) {
		int rc = calendar_minutes_between(c, holidays, b, a, out, err, errlen);
		*out = -*out;
		return rc;
	}
	*out = 0;
	int64_t first = local_day(c, a), last = local_day(c, b);
	if (last - first > CALENDAR_MAX_DAYS)
		return beyond(c, err, errlen);
	struct days s = { .c = c, .holidays = holidays };
	int64_t seconds = 0;
	for (int64_t day = first; day <= last; day++) {
		const struct calendar_hours *h = hours_of(&s, day);
		for (int i = 0; i < h->count; i++) {
			int64_t start, end;
			interval_times(c, day, &h->intervals[i], &start, &end);
			if (start < a)
				start = a;
			if (end > b)
				end = b;
			if (end > start)
				seconds += end - start;
		}
	}
	*out = seconds / 60;
	return 0;
}

int calendar_is_open(const struct calendar *c, const struct calendar_holidays *holidays, int64_t t, bool *out,
                     char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	struct days s = { .c = c, .holidays = holidays };
	int64_t day = local_day(c, t);
	const struct calendar_hours *h = hours_of(&s, day);
	*out = false;
	for (int i = 0; i < h->count; i++) {
		int64_t start, end;
		interval_times(c, day, &h->intervals[i], &start, &end);
		if (t >= start && t < end)
			*out = true;
	}
	return 0;
}
