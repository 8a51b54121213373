/*
 * test_api.c - the parsers of api.c that the HTTP tests reach only through
 * a server: HTML form bodies (application/x-www-form-urlencoded) as public
 * plugin routes receive them.
 */
#include "test.h"
#include "api.h"

/* The form text parsed into compact JSON text (owned), or "error: <message>". */
static char *form(const char *text)
{
	json_t *out = NULL;
	char err[300];
	if (api_parse_form(text, strlen(text), &out, err, sizeof(err)) != CRM_OK) {
		size_t size = strlen(err) + 8;
		char *message = malloc(size);
		snprintf(message, size, "error: %s", err);
		return message;
	}
	char *json = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(out);
	return json;
}

#define ASSERT_FORM(text, expected) do { char *got_ = form(text); \
	int same_ = strcmp(got_, expected) == 0; \
	if (!same_) fprintf(stderr, "  %s:%d: form \"%s\": %s != %s\n", __FILE__, __LINE__, text, got_, expected); \
	free(got_); ASSERT(same_); } while (0)
#define ASSERT_FORM_ERROR(text, message) do { char *got_ = form(text); \
	int has_ = strncmp(got_, "error: ", 7) == 0 && strstr(got_, message) != NULL; \
	if (!has_) fprintf(stderr, "  %s:%d: form \"%s\": %s, not an error with \"%s\"\n", __FILE__, __LINE__, \
	                   text, got_, message); \
	free(got_); ASSERT(has_); } while (0)

static void test_form_fields_decode_like_the_query_string(void)
{
	ASSERT_FORM("", "{}");
	ASSERT_FORM("name=Ann+Lee&email=ann%40example.com", "{\"email\":\"ann@example.com\",\"name\":\"Ann Lee\"}");
	ASSERT_FORM("a=1+%2B+1%3D2&b=%E4%B8%AD%E6%96%87", "{\"a\":\"1 + 1=2\",\"b\":\"中文\"}");
	/* an empty value, a name without '=', an '=' in the value, empty pieces */
	ASSERT_FORM("a=&b&c=x=y&&d=1&", "{\"a\":\"\",\"b\":\"\",\"c\":\"x=y\",\"d\":\"1\"}");
	/* a textarea's line breaks stay; other control characters do not pass */
	ASSERT_FORM("m=one%0D%0Atwo%09three", "{\"m\":\"one\\r\\ntwo\\tthree\"}");
	ASSERT_FORM_ERROR("m=bell%07", "control character");
	ASSERT_FORM_ERROR("a%0A=1", "control character");
}

static void test_form_with_repeated_names_needs_brackets(void)
{
	ASSERT_FORM("tag[]=a&tag[]=b+c&x=1", "{\"tag\":[\"a\",\"b c\"],\"x\":\"1\"}");
	ASSERT_FORM("tag%5B%5D=a", "{\"tag\":[\"a\"]}");
	ASSERT_FORM_ERROR("a=1&a=2", "'a' is given more than once");
	ASSERT_FORM_ERROR("a=1&a[]=2", "'a' is given more than once");
	ASSERT_FORM_ERROR("a[]=1&a=2", "'a' is given more than once");
}

static void test_malformed_or_oversized_forms_are_refused(void)
{
	ASSERT_FORM_ERROR("a=%zz", "bad %-escape");
	ASSERT_FORM_ERROR("a=%4", "bad %-escape");
	ASSERT_FORM_ERROR("a=%00", "bad %-escape, control character");
	ASSERT_FORM_ERROR("a=%C3%28", "invalid UTF-8");
	ASSERT_FORM_ERROR("=1", "a name of 1 to");
	json_t *out = NULL;
	char err[300];
	ASSERT_EQ(api_parse_form("a=1\0b=2", 7, &out, err, sizeof(err)), CRM_EINVAL);
	ASSERT_CONTAINS(err, "NUL byte");
	char name[API_FORM_MAX_NAME + 8];
	memset(name, 'n', API_FORM_MAX_NAME + 1);
	memcpy(name + API_FORM_MAX_NAME + 1, "=1", 3);
	ASSERT_FORM_ERROR(name, "a name of 1 to 128 bytes");
	name[API_FORM_MAX_NAME] = '=';
	name[API_FORM_MAX_NAME + 1] = '\0';
	char *ok = form(name);
	ASSERT(ok[0] == '{');
	free(ok);
	struct strbuf many = { 0 };
	for (int i = 0; i <= API_FORM_MAX_FIELDS; i++)
		strbuf_printf(&many, "%sf[]=%d", i ? "&" : "", i);
	ASSERT_EQ(api_parse_form(many.data, many.len, &out, err, sizeof(err)), CRM_ELIMIT);
	ASSERT_CONTAINS(err, "more than 100 fields");
	strbuf_free(&many);
}

static const struct test_case tests[] = {
	{ "form_fields_decode_like_the_query_string", test_form_fields_decode_like_the_query_string },
	{ "form_with_repeated_names_needs_brackets", test_form_with_repeated_names_needs_brackets },
	{ "malformed_or_oversized_forms_are_refused", test_malformed_or_oversized_forms_are_refused },
};

TEST_MAIN(tests)
