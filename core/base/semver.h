/*
 * semver.h - semantic versions (semver.org) and version ranges, as plugin
 * manifests use them. Pure functions, no state; tested in test_plugin.c.
 */
#ifndef CRM_SEMVER_H
#define CRM_SEMVER_H

#include "crm.h"

struct semver {
	long long major, minor, patch;
	char prerelease[64];         /* "" for a release */
};

/* Parses "1.2.3" or "1.2.3-rc.1" (build metadata "+..." ignored). CRM_OK or CRM_EINVAL. */
int semver_parse(const char *text, struct semver *out);
int semver_compare(const struct semver *a, const struct semver *b);
/*
 * True if version satisfies range: comparators >=, >, <=, <, =, ^, ~ or a
 * bare (possibly partial) version, "*", separated by spaces or commas (all
 * must hold). CRM_OK and *ok, or CRM_EINVAL with err for a malformed range.
 */
int semver_satisfies(const char *range, const struct semver *version, bool *ok, char *err, size_t errlen);

#endif
