/*
 * test.h - a tiny test runner after libuv's: each test file lists its tests
 * in a table and ends with TEST_MAIN(table). Assertions print file, line and
 * both values. Each file prints "N passed, N failed" (tests/run.sh adds them up).
 */
#ifndef CRM_TEST_H
#define CRM_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct test_case {
	const char *name;
	void (*fn)(void);
};

extern int test_failed_now;

#define ASSERT(cond) do { if (!(cond)) { \
	fprintf(stderr, "  %s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
	test_failed_now = 1; return; } } while (0)
#define ASSERT_EQ(a, b) do { long long va_ = (long long)(a), vb_ = (long long)(b); if (va_ != vb_) { \
	fprintf(stderr, "  %s:%d: %s == %s: %lld != %lld\n", __FILE__, __LINE__, #a, #b, va_, vb_); \
	test_failed_now = 1; return; } } while (0)
#define ASSERT_STR_EQ(a, b) do { const char *sa_ = (a), *sb_ = (b); \
	if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) { \
	fprintf(stderr, "  %s:%d: %s == %s: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a, #b, \
		sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)"); test_failed_now = 1; return; } } while (0)
#define ASSERT_CONTAINS(hay, needle) do { const char *h_ = (hay), *n_ = (needle); \
	if (!h_ || !strstr(h_, n_)) { \
	fprintf(stderr, "  %s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, \
		h_ ? h_ : "(null)", n_); test_failed_now = 1; return; } } while (0)

#define TEST_MAIN(table) \
	int test_failed_now; \
	int main(int argc, char **argv) { \
		int passed = 0, failed = 0; \
		for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) { \
			if (argc > 1 && !strstr(table[i].name, argv[1])) continue; \
			test_failed_now = 0; \
			table[i].fn(); \
			if (test_failed_now) { failed++; printf("FAIL %s\n", table[i].name); } \
			else { passed++; printf("ok   %s\n", table[i].name); } \
		} \
		printf("%d passed, %d failed\n", passed, failed); \
		return failed ? 1 : 0; \
	}

#endif
