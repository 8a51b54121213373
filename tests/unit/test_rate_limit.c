/*
 * test_rate_limit.c - the per-address counters of public plugin routes
 * (core/server/rate_limit.c): the window, Retry-After, routes and addresses
 * kept apart, IPv6 counted by /64, and a table that a flood of addresses
 * neither grows nor empties of the addresses at their limit.
 */
#include <arpa/inet.h>
#include "test.h"
#include "crm.h"
#include "rate_limit.h"

static void test_the_eleventh_request_in_a_window_waits_for_its_end(void)
{
	struct rate_limiter *limiter = rate_limiter_new();
	int retry = 0;
	for (int i = 0; i < 10; i++)
		ASSERT(rate_limiter_take(limiter, 1, "192.0.2.7", 10, 60, 1000 + i, &retry));
	ASSERT(!rate_limiter_take(limiter, 1, "192.0.2.7", 10, 60, 1015, &retry));
	ASSERT_EQ(retry, 45);                   /* the window opened at 1000 */
	ASSERT(!rate_limiter_take(limiter, 1, "192.0.2.7", 10, 60, 1059, &retry));
	ASSERT_EQ(retry, 1);
	/* refusals do not count: the next window is a whole one */
	for (int i = 0; i < 10; i++)
		ASSERT(rate_limiter_take(limiter, 1, "192.0.2.7", 10, 60, 1060, &retry));
	ASSERT(!rate_limiter_take(limiter, 1, "192.0.2.7", 10, 60, 1061, &retry));
	ASSERT_EQ(retry, 59);
	rate_limiter_free(limiter);
}

static void test_routes_and_addresses_count_apart(void)
{
	struct rate_limiter *limiter = rate_limiter_new();
	int retry = 0;
	ASSERT(rate_limiter_take(limiter, 1, "192.0.2.7", 1, 60, 0, &retry));
	ASSERT(!rate_limiter_take(limiter, 1, "192.0.2.7", 1, 60, 0, &retry));
	ASSERT(rate_limiter_take(limiter, 2, "192.0.2.7", 1, 60, 0, &retry));     /* another route */
	ASSERT(rate_limiter_take(limiter, 1, "192.0.2.8", 1, 60, 0, &retry));     /* another address */
	/* an address nobody could read counts as one shared address */
	ASSERT(rate_limiter_take(limiter, 1, NULL, 1, 60, 0, &retry));
	ASSERT(!rate_limiter_take(limiter, 1, "not an address", 1, 60, 0, &retry));
	rate_limiter_free(limiter);
}

static void test_ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4(void)
{
	struct rate_limiter *limiter = rate_limiter_new();
	int retry = 0;
	ASSERT(rate_limiter_take(limiter, 1, "2001:db8:1:2::1", 2, 60, 0, &retry));
	ASSERT(rate_limiter_take(limiter, 1, "2001:db8:1:2:ffff::9", 2, 60, 0, &retry));
	ASSERT(!rate_limiter_take(limiter, 1, "2001:db8:1:2:abcd::42", 2, 60, 0, &retry));  /* same /64 */
	ASSERT(rate_limiter_take(limiter, 1, "2001:db8:1:3::1", 2, 60, 0, &retry));         /* next /64 */
	ASSERT(rate_limiter_take(limiter, 1, "198.51.100.4", 1, 60, 0, &retry));
	ASSERT(!rate_limiter_take(limiter, 1, "::ffff:198.51.100.4", 1, 60, 0, &retry));
	/* mapped addresses are not lumped together by a /64 */
	ASSERT(rate_limiter_take(limiter, 1, "::ffff:198.51.100.5", 1, 60, 0, &retry));
	rate_limiter_free(limiter);
}

/*
 * 200,000 addresses, each calling once, against a table of 8,192 counters:
 * the table stays its size, and an address at its limit before the flood is
 * still refused after it.
 */
static void test_a_flood_of_addresses_does_not_free_one_at_its_limit(void)
{
	struct rate_limiter *limiter = rate_limiter_new();
	int retry = 0;
	for (int i = 0; i < 10; i++)
		ASSERT(rate_limiter_take(limiter, 1, "203.0.113.9", 10, 60, 0, &retry));
	char address[64];
	for (uint32_t i = 0; i < 200000; i++) {
		unsigned char raw[16] = { 0x20, 0x01, 0x0d, 0xb8 };
		raw[4] = (unsigned char)(i >> 16);
		raw[5] = (unsigned char)(i >> 8);
		raw[6] = (unsigned char)i;
		inet_ntop(AF_INET6, raw, address, sizeof(address));
		rate_limiter_take(limiter, 1, address, 10, 60, 1, &retry);
	}
	ASSERT(!rate_limiter_take(limiter, 1, "203.0.113.9", 10, 60, 2, &retry));
	ASSERT_EQ(retry, 58);
	rate_limiter_free(limiter);
}

static const struct test_case tests[] = {
	{ "the_eleventh_request_in_a_window_waits_for_its_end", test_the_eleventh_request_in_a_window_waits_for_its_end },
	{ "routes_and_addresses_count_apart", test_routes_and_addresses_count_apart },
	{ "ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4", test_ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4 },
	{ "a_flood_of_addresses_does_not_free_one_at_its_limit", test_a_flood_of_addresses_does_not_free_one_at_its_limit },
};

TEST_MAIN(tests)
