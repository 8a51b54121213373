/*
 * semver.c - semantic versions and ranges (see semver.h): what plugin.yaml's
 * `version` and `requires` say, and the kernel's own version against them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "semver.h"

static bool parse_number_part(const char **p, long long *out)
{
	const char *s = *p;
	if (*s < '0' || *s > '9')
		return false;
	long long value = 0;
	int digits = 0;
	while (*s >= '0' && *s <= '9') {
		if (++digits > 15)
			return false;
		value = value * 10 + (*s++ - '0');
	}
	*out = value;
	*p = s;
	return true;
}

/*
 * A possibly partial version: parts = how many numbers were given (0 for
 * "*"); "x" or "*" ends it. Pre-release and build suffixes allowed on full ones.
 */
static bool parse_partial(const char *text, struct semver *out, int *parts)
{
	memset(out, 0, sizeof(*out));
	*parts = 0;
	const char *p = text;
	if (*p == 'v')
		p++;
	long long *slots[3] = { &out->major, &out->minor, &out->patch };
	for (int i = 0; i < 3; i++) {
		if ((*p == 'x' || *p == 'X' || *p == '*') && p[1] == '\0')
			return true;
		if (!parse_number_part(&p, slots[i]))
			return false;
		*parts = i + 1;
		if (*p == '\0')
			return true;
		if (i < 2) {
			if (*p != '.')
				return false;
			p++;
		}
	}
	if (*p == '-') {
		p++;
		size_t n = strcspn(p, "+");
		if (n == 0 || n >= sizeof(out->prerelease))
			return false;
		for (size_t i = 0; i < n; i++) {
			char c = p[i];
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '-'))
				return false;
		}
		memcpy(out->prerelease, p, n);
		out->prerelease[n] = '\0';
		p += n;
	}
	if (*p == '+') {
		for (p++; *p; p++) {
			char c = *p;
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '-'))
				return false;
		}
	}
	return *p == '\0';
}

int semver_parse(const char *text, struct semver *out)
{
	struct semver v;
	int parts;
	if (!text || !parse_partial(text, &v, &parts) || parts != 3 || text[0] == 'v')
		return CRM_EINVAL;
	*out = v;
	return CRM_OK;
}

/* Pre-release identifiers compare numerically when both are numbers (semver 11). */
static int compare_prerelease(const char *a, const char *b)
{
	if (!*a || !*b)
		return !*a && !*b ? 0 : !*a ? 1 : -1;   /* a release ranks above its pre-releases */
	while (*a && *b) {
		size_t la = strcspn(a, "."), lb = strcspn(b, ".");
		bool na = la > 0 && strspn(a, "0123456789") >= la, nb = lb > 0 && strspn(b, "0123456789") >= lb;
		int c;
		if (na && nb)
			c = la != lb ? (la < lb ? -1 : 1) : strncmp(a, b, la);
		else if (na || nb)
			c = na ? -1 : 1;
		else {
			c = strncmp(a, b, la < lb ? la : lb);
			if (c == 0 && la != lb)
				c = la < lb ? -1 : 1;
		}
		if (c)
			return c < 0 ? -1 : 1;
		a += la + (a[la] == '.');
		b += lb + (b[lb] == '.');
	}
	return *a ? 1 : *b ? -1 : 0;
}

int semver_compare(const struct semver *a, const struct semver *b)
{
	if (a->major != b->major)
		return a->major < b->major ? -1 : 1;
	if (a->minor != b->minor)
		return a->minor < b->minor ? -1 : 1;
	if (a->patch != b->patch)
		return a->patch < b->patch ? -1 : 1;
	return compare_prerelease(a->prerelease, b->prerelease);
}

/* The first version above a partial one: 1.2 -> 1.3.0, 1 -> 2.0.0, 1.2.3 -> 1.2.4. */
static struct semver bump(const struct semver *v, int parts)
{
	struct semver out = { .major = v->major, .minor = v->minor, .patch = v->patch };
	if (parts <= 1) {
		out.major++;
		out.minor = out.patch = 0;
	} else if (parts == 2) {
		out.minor++;
		out.patch = 0;
	} else {
		out.patch++;
	}
	return out;
}

static bool comparator_holds(const char *op, const struct semver *p, int parts, const struct semver *v)
{
	struct semver low = *p, high;
	if (parts == 0)
		return true;   /* "*" */
	int c = semver_compare(v, &low);
	if (!strcmp(op, ">="))
		return c >= 0;
	if (!strcmp(op, ">")) {
		if (parts == 3)
			return c > 0;
		high = bump(p, parts);
		return semver_compare(v, &high) >= 0;
	}
	if (!strcmp(op, "<"))
		return c < 0;
	if (!strcmp(op, "<=")) {
		if (parts == 3)
			return c <= 0;
		high = bump(p, parts);
		return semver_compare(v, &high) < 0;
	}
	if (!strcmp(op, "=") || !*op) {
		if (parts == 3)
			return c == 0;
		high = bump(p, parts);
		return c >= 0 && semver_compare(v, &high) < 0;
	}
	if (!strcmp(op, "~")) {
		high = bump(p, parts == 1 ? 1 : 2);
		return c >= 0 && semver_compare(v, &high) < 0;
	}
	/* ^: the left-most non-zero part may not change */
	if (p->major > 0 || parts == 1)
		high = bump(p, 1);
	else if (p->minor > 0 || parts == 2)
		high = bump(p, 2);
	else
		high = bump(p, 3);
	return c >= 0 && semver_compare(v, &high) < 0;
}

int semver_satisfies(const char *range, const struct semver *version, bool *ok, char *err, size_t errlen)
{
	if (!range) {
		*ok = true;
		return CRM_OK;
	}
	if (strlen(range) > 200 || strstr(range, "||")) {
		snprintf(err, errlen, "version range '%.60s' is not supported: use comparators joined by spaces "
		         "or commas (>=1.2 <2, ^1.2, ~1.2.3)", range);
		return CRM_EINVAL;
	}
	bool all = true;
	int count = 0;
	const char *p = range;
	while (*p) {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (!*p)
			break;
		char op[3] = "";
		if ((p[0] == '>' || p[0] == '<') && p[1] == '=') {
			op[0] = p[0];
			op[1] = '=';
			p += 2;
		} else if (strchr("><=^~", *p)) {
			op[0] = *p++;
		}
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ,\t");
		char token[80];
		if (n == 0 || n >= sizeof(token)) {
			snprintf(err, errlen, "version range '%.60s': expected a version after '%s'", range, op);
			return CRM_EINVAL;
		}
		memcpy(token, p, n);
		token[n] = '\0';
		p += n;
		struct semver bound;
		int parts;
		if (!parse_partial(token, &bound, &parts) || (parts == 0 && op[0])) {
			snprintf(err, errlen, "version range '%.60s': '%s' is not a version (expected like 1, 1.2 or 1.2.3)",
			         range, token);
			return CRM_EINVAL;
		}
		count++;
		if (!comparator_holds(op, &bound, parts, version))
			all = false;
	}
	if (count == 0) {
		snprintf(err, errlen, "empty version range");
		return CRM_EINVAL;
	}
	*ok = all;
	return CRM_OK;
}
