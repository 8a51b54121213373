/*
 * test_outbox.c - the outbox's pure parts: template placeholders as the
 * loader checks and the renderer fills them (meta_placeholder_next), and
 * the webhook signature (deliver_signature) against RFC 4231 test vectors (and the classic "quick brown fox" one).
 * Delivery itself runs against real servers in tests/api/outbox.sh.
 */
#include "deliver.h"
#include "meta_model.h"
#include "test.h"

static void test_placeholders_are_found_and_trimmed(void)
{
	const char *name, *end, *text = "Hi {{ name }}, {{x_1}}!{{";
	size_t length;
	const char *p = meta_placeholder_next(text, &name, &length, &end);
	ASSERT(p == text + 3);
	ASSERT_EQ(length, 4);
	ASSERT(!strncmp(name, "name", 4));
	ASSERT_STR_EQ(end, ", {{x_1}}!{{");
	p = meta_placeholder_next(end, &name, &length, &end);
	ASSERT_EQ(length, 3);
	ASSERT(!strncmp(name, "x_1", 3));
	p = meta_placeholder_next(end, &name, &length, &end);
	ASSERT(p != NULL);
	ASSERT(end == NULL);   /* an unclosed {{ */
	ASSERT(meta_placeholder_next("no placeholders", &name, &length, &end) == NULL);
}

static void test_a_placeholder_that_is_no_name_has_length_0(void)
{
	const char *bad[] = { "{{}}", "{{  }}", "{{Name}}", "{{1x}}", "{{a b}}", "{{a-b}}", "{{a.b}}" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *name, *end;
		size_t length = 99;
		ASSERT(meta_placeholder_next(bad[i], &name, &length, &end) == bad[i]);
		if (length != 0) {
			fprintf(stderr, "  '%s' read as a name\n", bad[i]);
			test_failed_now = 1;
			return;
		}
	}
}

static void test_webhook_signature_is_hmac_sha256_hex(void)
{
	char out[65];
	deliver_signature("key", "The quick brown fox jumps over the lazy dog", out);
	ASSERT_STR_EQ(out, "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
	/* a key longer than the block (64 bytes) is hashed first, as HMAC says */
	char key[132];
	memset(key, 0xaa, 131);
	key[131] = '\0';
	deliver_signature(key, "Test Using Larger Than Block-Size Key - Hash Key First", out);
	ASSERT_STR_EQ(out, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

/* The receiving side (signed public routes): the same MAC over a prefix and the body, compared whole. */
static void test_signature_check_accepts_only_the_exact_mac(void)
{
	const char *fox = "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8";
	const char *body = "The quick brown fox jumps over the lazy dog";
	ASSERT(deliver_signature_check("key", "", body, strlen(body), fox));
	ASSERT(deliver_signature_check("key", "The quick ", body + 10, strlen(body) - 10, fox));
	ASSERT(deliver_signature_check("key", "", body, strlen(body),
	                               "F7BC83F430538424B13298E6AA6FB143EF4D59A14946175997479DBC2D1A3CD8"));
	ASSERT(!deliver_signature_check("other", "", body, strlen(body), fox));
	ASSERT(!deliver_signature_check("key", "", body, strlen(body) - 1, fox));
	ASSERT(!deliver_signature_check("key", "1.", body, strlen(body), fox));
	static const char *const malformed[] = {
		"", "f7bc", "zz", "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8aa",
		"f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd ", NULL,
	};
	for (int i = 0; malformed[i]; i++)
		ASSERT(!deliver_signature_check("key", "", body, strlen(body), malformed[i]));
	ASSERT(!deliver_signature_check("key", "", body, strlen(body), NULL));
}

static const struct test_case tests[] = {
	{ "placeholders_are_found_and_trimmed", test_placeholders_are_found_and_trimmed },
	{ "a_placeholder_that_is_no_name_has_length_0", test_a_placeholder_that_is_no_name_has_length_0 },
	{ "webhook_signature_is_hmac_sha256_hex", test_webhook_signature_is_hmac_sha256_hex },
	{ "signature_check_accepts_only_the_exact_mac", test_signature_check_accepts_only_the_exact_mac },
};

TEST_MAIN(tests)
