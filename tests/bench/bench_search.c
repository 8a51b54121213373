/*
 * bench_search.c - full-text search through the object API beside the raw
 * FTS5 query of the same work, on the same database file in the same run:
 * N articles (title and body of generated Chinese and English text, the
 * metadata of tests/api/search), searched for English words, Chinese terms
 * of 3-4 characters (the trigram index) and of 2 characters (LIKE over the
 * readable columns), a ranked page of 20 each; p50 and p99 per kind.
 *
 *   bench_search DB METADATA_DIR [N]
 *
 * With --kb, the service package's knowledge base instead (bench_kb below):
 *
 *   bench_search --kb DB [N]      (metadata/ and plugins/ of the repository)
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "kernel.h"
#include "object.h"
#include "plugin_registry.h"
#include "bench.h"

#define RUNS 200
#define PAGE 20

/*
 * The vocabulary: English-like words of two or three syllables (40 x 40 x 41,
 * about 66,000) and 60 Chinese characters paired into 3,600 two-character
 * words, so that a word is in well under 1% of the articles, as in real text;
 * plus "customer" / 客户 in about a third of them: the common word, whose every
 * hit must be ranked (the worst case of a ranked search).
 */
static const char *const syllables[] = { "ka", "ren", "mo", "tal", "vi", "son", "de", "lor", "pri", "mun", "ex", "ta",
	"bel", "cor", "di", "fen", "gra", "hol", "in", "jus", "kel", "lum", "mar", "nor", "ol", "pen", "qua", "ros", "sta",
	"tur", "ul", "ver", "wen", "xan", "yor", "zel", "bra", "cli", "dro", "fla" };
static const char *const zh_chars[] = { "合", "同", "续", "约", "发", "票", "退", "款", "物", "流", "售", "后", "维",
	"修", "账", "户", "密", "码", "登", "录", "订", "单", "报", "价", "审", "批", "库", "存", "保", "投", "诉", "升",
	"级", "服", "务", "器", "数", "据", "接", "口", "网", "络", "打", "印", "机", "安", "装", "配", "置", "权", "限",
	"表", "导", "出", "步", "备", "份", "故", "障", "费" };
#define SYLLABLES (sizeof(syllables) / sizeof(syllables[0]))
#define ZH_CHARS (sizeof(zh_chars) / sizeof(zh_chars[0]))

/* word k of the English vocabulary (k < SYLLABLES^2 * (SYLLABLES + 1)): two syllables, or three */
static void english_word(uint64_t k, char *out, size_t size)
{
	uint64_t third = k / (SYLLABLES * SYLLABLES) % (SYLLABLES + 1);
	snprintf(out, size, "%s%s%s", syllables[k % SYLLABLES], syllables[k / SYLLABLES % SYLLABLES],
	         third < SYLLABLES ? syllables[third] : "");
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static uint64_t state = 88172645463325252ULL;
static uint64_t next_random(void)
{
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return state;
}

/* words: about a third Chinese (no spaces between them, as written), the rest English */
static void text_of(char *out, size_t size, int words)
{
	size_t len = 0;
	out[0] = 0;
	for (int i = 0; i < words && len + 40 < size; i++) {
		uint64_t r = next_random();
		if (i == 0 && r % 6 == 0) {
			len += (size_t)snprintf(out + len, size - len, "%s", (r >> 4) % 2 ? "customer " : "客户");
			continue;
		}
		if (r % 3 == 0) {
			len += (size_t)snprintf(out + len, size - len, "%s%s", zh_chars[(r >> 8) % ZH_CHARS],
			                        zh_chars[(r >> 16) % ZH_CHARS]);
		} else {
			char word[16];
			english_word(r >> 8, word, sizeof(word));
			len += (size_t)snprintf(out + len, size - len, "%s ", word);
		}
	}
}

static int fill(struct crm_ctx *ctx, int count)
{
	char title[256], body[2048];
	state = 7;
	for (int i = 0; i < count; i++) {
		if (i % 5000 == 0 && (i ? object_commit(ctx) : CRM_OK) != CRM_OK)
			return 1;
		if (i % 5000 == 0 && object_begin(ctx) != CRM_OK)
			return 1;
		text_of(title, sizeof(title), 5);
		text_of(body, sizeof(body), 60);
		json_t *values = json_pack("{s:s, s:s}", "title", title, "body", body);
		int64_t id;
		int code = object_create_id(ctx, "article", values, &id);
		json_decref(values);
		if (code != CRM_OK) {
			fprintf(stderr, "create: %s\n", ctx->message);
			return 1;
		}
	}
	return object_commit(ctx) == CRM_OK ? 0 : 1;
}

/* Opens the kernel on db and fills object with filler up to count records (timed); 0, or 1 on a failure. */
static int open_filled(const char *db, const char *metadata, const char *object, int (*filler)(struct crm_ctx *, int),
                       int count, struct crm_kernel **kernel, struct crm_ctx *ctx)
{
	struct kernel_options options = { .db_path = db, .metadata_dir = metadata, .plugins_dir = "plugins", .migrate = true };
	if (kernel_open(&options, kernel) != CRM_OK)
		return 1;
	crm_ctx_init(ctx, *kernel, 0, "bench");
	int64_t have = 0;
	object_count(ctx, object, NULL, &have);
	if (have < count) {
		double s = now_s();
		if (filler(ctx, count - (int)have))
			return 1;
		printf("created %d %s records through the object API (index kept in the same transactions): %.0f/s\n",
		       count - (int)have, object, (count - (int)have) / (now_s() - s));
	}
	return 0;
}

struct kind {
	const char *name;
	const char *terms[8];
	const char *raw_sql;
};

/* ------------------------------------------------------------ the knowledge base */

/*
 * bench_kb: N published knowledge articles (plugins/service), each with its live
 * version, of the same generated zh+en text, and the case page's suggestion
 * (GET /api/v1/plugins/service/cases/{id}/suggestions through plugin_route: the
 * Lua route, one object API search per term of the subject, ranks fused) beside
 * the raw work: the same terms (the route's own answer names them), one
 * hand-written FTS5 MATCH + bm25 query each on the same file, fused in C. And
 * one term through the object API (search with the live filter) beside its raw
 * query. p50 and p99 of each.
 */
#define KB_SUBJECTS 16

/* count published articles, each with its live version (two records) */
static int kb_fill(struct crm_ctx *ctx, int count)
{
	char title[256], body[2048];
	state = 11;
	for (int i = 0; i < count; i++) {
		if (i % 5000 == 0 && ((i ? object_commit(ctx) : CRM_OK) != CRM_OK || object_begin(ctx) != CRM_OK))
			return 1;
		text_of(title, sizeof(title), 5);
		text_of(body, sizeof(body), 60);
		const char *audience = i % 3 == 0 ? "public" : i % 3 == 1 ? "partner" : "internal";
		json_t *values = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s}", "title", title, "body", body, "status", "published",
		                           "audience", audience, "revision", 1, "published_at", "2026-12-01T09:00:00Z");
		int64_t id;
		int code = object_create_id(ctx, "kb_article", values, &id);
		json_decref(values);
		if (code == CRM_OK) {
			values = json_pack("{s:I, s:i, s:s, s:s, s:b, s:s}", "article", (json_int_t)id, "revision", 1, "title", title,
			                   "body", body, "live", 1, "audience", audience);
			code = object_create_id(ctx, "kb_article_version", values, &id);
			json_decref(values);
		}
		if (code != CRM_OK) {
			fprintf(stderr, "create: %s\n", ctx->message);
			return 1;
		}
	}
	return object_commit(ctx) == CRM_OK ? 0 : 1;
}

/* subject k: English (4 words of the vocabulary, every fourth with the common "customer") or Chinese (8 characters) */
static void kb_subject(int k, char *out, size_t size)
{
	size_t len = 0;
	out[0] = 0;
	for (int w = 0; w < (k % 2 ? 8 : 4); w++) {
		uint64_t r = next_random();
		if (k % 2)
			len += (size_t)snprintf(out + len, size - len, "%s", zh_chars[(r >> 8) % ZH_CHARS]);
		else if (w == 0 && k % 4 == 0)
			len += (size_t)snprintf(out + len, size - len, "customer ");
		else {
			char word[16];
			english_word(r >> 8, word, sizeof(word));
			len += (size_t)snprintf(out + len, size - len, "%s ", word);
		}
	}
}

static void print_row(const char *name, double *api, double *raw, int runs)
{
	qsort(api, (size_t)runs, sizeof(double), compare_double);
	qsort(raw, (size_t)runs, sizeof(double), compare_double);
	printf("%-34s %10.2fms %10.2fms %10.2fms %10.2fms\n", name, api[runs / 2] * 1e3, raw[runs / 2] * 1e3,
	       api[runs * 99 / 100] * 1e3, raw[runs * 99 / 100] * 1e3);
}

static int bench_kb(const char *db, int count)
{
	struct crm_kernel *kernel;
	struct crm_ctx ctx;
	if (open_filled(db, "metadata", "kb_article", kb_fill, count, &kernel, &ctx))
		return 1;
	/* the cases whose subjects are asked about */
	int64_t cases[KB_SUBJECTS];
	state = 99;
	for (int k = 0; k < KB_SUBJECTS; k++) {
		char subject[256];
		kb_subject(k, subject, sizeof(subject));
		json_t *values = json_pack("{s:s}", "subject", subject);
		int code = object_create_id(&ctx, "case", values, &cases[k]);
		json_decref(values);
		if (code != CRM_OK) {
			fprintf(stderr, "case: %s\n", ctx.message);
			return 1;
		}
	}
	sqlite3 *raw;
	sqlite3_open_v2(db, &raw, SQLITE_OPEN_READONLY, NULL);
	sqlite3_stmt *stmt;
	if (sqlite3_prepare_v2(raw, "SELECT v.id, v.article, v.revision, v.title, v.audience FROM kb_article_version v "
	                       "JOIN kb_article_version__search s ON s.rowid = v.id WHERE kb_article_version__search MATCH ?1 "
	                       "AND v.deleted_at IS NULL AND v.live = 1 ORDER BY bm25(kb_article_version__search), v.id LIMIT 20",
	                       -1, &stmt, NULL) != SQLITE_OK) {
		fprintf(stderr, "raw: %s\n", sqlite3_errmsg(raw));
		return 1;
	}
	double *raw_lat = malloc(RUNS * sizeof(double)), *api_lat = malloc(RUNS * sizeof(double));
	double one_raw[RUNS], one_api[RUNS];
	volatile size_t sink = 0;
	int failed = 0;
	for (int lang = 0; lang < 2; lang++) {
		for (int i = 0; i < RUNS; i++) {
			int k = (i % (KB_SUBJECTS / 2)) * 2 + lang;
			char path[96];
			snprintf(path, sizeof(path), "/service/cases/%lld/suggestions", (long long)cases[k]);
			json_t *response = NULL;
			int status = 0;
			double s = now_s();
			if (plugin_route(kernel, &ctx, "GET", path, NULL, NULL, &status, &response) != CRM_OK) {
				fprintf(stderr, "route: %s\n", ctx.message);
				crm_error_reset(&ctx);
				failed++;
			}
			api_lat[i] = now_s() - s;
			json_t *terms = json_object_get(response, "terms");
			sink += json_array_size(json_object_get(response, "articles"));
			/* the raw work: the same terms, one ranked query each, the ranks fused (sum of 1 / (10 + rank)) */
			s = now_s();
			int64_t ids[8 * 20];
			double scores[8 * 20];
			int found = 0;
			size_t t;
			json_t *term;
			json_array_foreach(terms, t, term) {
				char bound[64];
				snprintf(bound, sizeof(bound), "\"%s\"", json_string_value(term));
				sqlite3_bind_text(stmt, 1, bound, -1, SQLITE_TRANSIENT);
				for (int rank = 1; sqlite3_step(stmt) == SQLITE_ROW; rank++) {
					int64_t article = sqlite3_column_int64(stmt, 1);
					sink += (size_t)sqlite3_column_bytes(stmt, 3);
					int j = 0;
					while (j < found && ids[j] != article)
						j++;
					if (j == found && found < 8 * 20) {
						ids[found] = article;
						scores[found++] = 0;
					}
					if (j < found)
						scores[j] += 1.0 / (10 + rank);
				}
				sqlite3_reset(stmt);
			}
			for (int a = 0; a < found && a < 5; a++)   /* the best 5: a partial selection */
				for (int b = a + 1; b < found; b++)
					if (scores[b] > scores[a]) {
						double x = scores[a];
						int64_t y = ids[a];
						scores[a] = scores[b], ids[a] = ids[b], scores[b] = x, ids[b] = y;
					}
			raw_lat[i] = now_s() - s;
			sink += (size_t)found;
			/* one term through the object API with the live filter, and its raw query */
			if (json_array_size(terms)) {
				const char *first = json_string_value(json_array_get(terms, 0));
				struct object_query q = { .search = first, .filter = "live = true", .limit = PAGE,
				                          .fields = "id,article,revision,title,audience" };
				json_t *page = NULL;
				s = now_s();
				if (object_query(&ctx, "kb_article_version", &q, &page) != CRM_OK)
					crm_error_reset(&ctx);
				one_api[i] = now_s() - s;
				sink += json_array_size(json_object_get(page, "records"));
				json_decref(page);
				char bound[64];
				snprintf(bound, sizeof(bound), "\"%s\"", first);
				s = now_s();
				sqlite3_bind_text(stmt, 1, bound, -1, SQLITE_TRANSIENT);
				while (sqlite3_step(stmt) == SQLITE_ROW)
					sink += (size_t)sqlite3_column_bytes(stmt, 3);
				sqlite3_reset(stmt);
				one_raw[i] = now_s() - s;
			} else {
				one_api[i] = one_raw[i] = 0;
			}
			json_decref(response);
		}
		if (lang == 0)
			printf("knowledge base, %d articles %12s %12s %12s %12s\n", count, "crm p50", "raw p50", "crm p99", "raw p99");
		print_row(lang ? "suggestion, Chinese subject" : "suggestion, English subject", api_lat, raw_lat, RUNS);
		print_row(lang ? "one term, live filter (zh)" : "one term, live filter (en)", one_api, one_raw, RUNS);
	}
	printf("(%zu)%s\n", (size_t)(sink & 1), failed ? " some routes failed" : "");
	free(raw_lat);
	free(api_lat);
	sqlite3_finalize(stmt);
	sqlite3_close(raw);
	crm_ctx_clear(&ctx);
	kernel_close(kernel);
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "--kb") == 0)
		return bench_kb(argv[2], argc > 3 ? (int)strtol(argv[3], NULL, 10) : 100000);
	if (argc < 3) {
		fprintf(stderr, "usage: bench_search DB METADATA_DIR [N] | bench_search --kb DB [N]\n");
		return 2;
	}
	int count = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 100000;
	struct crm_kernel *kernel;
	struct crm_ctx ctx;
	if (open_filled(argv[1], argv[2], "article", fill, count, &kernel, &ctx))
		return 1;
	sqlite3 *raw;
	sqlite3_open_v2(argv[1], &raw, SQLITE_OPEN_READONLY, NULL);
	/* the raw work of each kind: what the object API's query is, written by hand */
	const char *fts_sql = "SELECT t0.* FROM article t0 JOIN article__search s ON s.rowid = t0.id "
	                      "WHERE article__search MATCH ?1 AND t0.deleted_at IS NULL "
	                      "ORDER BY bm25(article__search), t0.id LIMIT 21";
	const struct kind kinds[] = {
		{ "English word", { "kamota", "renvi", "lorpri", "sonde", "taltur", "mundi", "pencor", "verwen" }, fts_sql },
		{ "English, two words", { "kamota renvi", "lorpri sonde", "taltur mundi", "pencor verwen", "rosstaul xan",
		                          "belcor fen", "grahol in", "marnor ol" }, fts_sql },
		{ "Chinese, 3-4 characters", { "合同续", "服务器", "数据接口", "退款发票", "登录密码", "故障报价", "库存保",
		                               "升级网络" }, fts_sql },
		{ "Chinese, 2 characters", { "合同", "发票", "退款", "物流", "投诉", "备份", "故障", "费用" },
		  "SELECT * FROM article t0 WHERE t0.deleted_at IS NULL AND (t0.title LIKE ?1 ESCAPE '\\' OR t0.body LIKE "
		  "?1 ESCAPE '\\' OR t0.note LIKE ?1 ESCAPE '\\') ORDER BY t0.id LIMIT 21" },
		{ "common word (1 in 6)", { "customer", "customer", "customer", "customer", "customer", "customer",
		                            "customer", "customer" }, fts_sql },
		{ "no match", { "zzzzqqq", "不存在的词", "xyzzyplugh", "无此内容", "qqqqzzz", "没有结果", "plughxyzzy",
		                "找不到的" }, fts_sql },
	};
	double *raw_lat = malloc(RUNS * sizeof(double)), *api_lat = malloc(RUNS * sizeof(double));
	volatile size_t sink = 0;
	printf("%-28s %12s %12s %12s %12s\n", "search, page of 20", "crm p50", "raw p50", "crm p99", "raw p99");
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		int stopped = 0;
		sqlite3_stmt *stmt;
		if (sqlite3_prepare_v2(raw, kinds[k].raw_sql, -1, &stmt, NULL) != SQLITE_OK) {
			fprintf(stderr, "raw: %s\n", sqlite3_errmsg(raw));
			return 1;
		}
		for (int i = 0; i < RUNS; i++) {
			const char *term = kinds[k].terms[i % 8];
			char bound[128];
			/* the raw query gets what the object API binds: a quoted phrase per term, or a LIKE pattern */
			if (k == 3)
				snprintf(bound, sizeof(bound), "%%%s%%", term);
			else if (strchr(term, ' '))
				snprintf(bound, sizeof(bound), "\"%.*s\" AND \"%s\"", (int)(strchr(term, ' ') - term), term,
				         strchr(term, ' ') + 1);
			else
				snprintf(bound, sizeof(bound), "\"%s\"", term);
			double s = now_s();
			sqlite3_bind_text(stmt, 1, bound, -1, SQLITE_TRANSIENT);
			while (sqlite3_step(stmt) == SQLITE_ROW)
				sink += (size_t)sqlite3_column_bytes(stmt, 1) + (size_t)sqlite3_column_bytes(stmt, 2);
			sqlite3_reset(stmt);
			raw_lat[i] = now_s() - s;

			struct object_query q = { .search = term, .limit = PAGE };
			json_t *page = NULL;
			s = now_s();
			if (object_query(&ctx, "article", &q, &page) != CRM_OK) {
				/* the store stops any statement after 2 s: counted, not fatal */
				stopped++;
				crm_error_reset(&ctx);
			}
			api_lat[i] = now_s() - s;
			sink += json_array_size(json_object_get(page, "records"));
			json_decref(page);
		}
		sqlite3_finalize(stmt);
		qsort(raw_lat, RUNS, sizeof(double), compare_double);
		qsort(api_lat, RUNS, sizeof(double), compare_double);
		printf("%-28s %10.2fms %10.2fms %10.2fms %10.2fms", kinds[k].name, api_lat[RUNS / 2] * 1e3,
		       raw_lat[RUNS / 2] * 1e3, api_lat[RUNS * 99 / 100] * 1e3, raw_lat[RUNS * 99 / 100] * 1e3);
		printf(stopped ? "  (%d of %d stopped at 2 s)\n" : "\n", stopped, RUNS);
	}
	/* the global search (every object with search: true fields, snippets) */
	for (int i = 0; i < RUNS / 4; i++) {
		json_t *out = NULL;
		double s = now_s();
		if (object_search(&ctx, kinds[i % 3].terms[i % 8], 5, &out) != CRM_OK)
			crm_error_reset(&ctx);
		api_lat[i] = now_s() - s;
		json_decref(out);
	}
	qsort(api_lat, RUNS / 4, sizeof(double), compare_double);
	printf("%-28s %10.2fms %12s %10.2fms\n", "global search (snippets)", api_lat[RUNS / 8] * 1e3, "",
	       api_lat[RUNS / 4 * 99 / 100] * 1e3);
	printf("(%zu)\n", (size_t)(sink & 1));
	free(raw_lat);
	free(api_lat);
	sqlite3_close(raw);
	crm_ctx_clear(&ctx);
	kernel_close(kernel);
	return 0;
}
