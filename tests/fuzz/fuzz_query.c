/*
 * fuzz_query.c - libFuzzer target for the request-target parser and the
 * list parameters (api.c), and behind them the filter/sort/fields compiler
 * (expr.c): any bytes as a request target must parse or be refused with a
 * message, and every filter, sort key and field path that parses must
 * compile to SQL or be refused; never crash, leak or hit undefined behaviour.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "expr.h"
#include "meta.h"

static const char *const yaml[] = {
	"app: fuzz\nlanguages: [en]\nplugins: []\n",
	"object: company\nfields:\n  name: { type: text, search: true }\n  city: { type: text }\n",
	"object: thing\nfields:\n"
	"  title: { type: text, required: true, search: true }\n"
	"  quantity: { type: int }\n  amount: { type: money }\n  active: { type: bool }\n"
	"  due: { type: date }\n  at: { type: datetime }\n"
	"  status: { type: enum, values: [new, open, closed] }\n"
	"  tags: { type: multienum, values: [red, green] }\n"
	"  company: { type: ref, to: company }\n  extra: { type: json }\n  place: { type: geo }\n"
	"  total: { type: money, formula: \"amount * quantity\" }\n",
};
static const char *const names[] = { "app.yaml", "company.yaml", "thing.yaml" };
static struct meta *meta;

static void compile_list(const struct meta_object *object, const char *list)
{
	char path[256], err[256];
	while (list && *list) {
		size_t len = strcspn(list, ",");
		if (len > 0 && len < sizeof(path)) {
			struct expr_sql b;
			struct strbuf sql = { 0 };
			memcpy(path, list, len);
			path[len] = '\0';
			memset(&b, 0, sizeof(b));
			b.meta = meta;
			b.object = object;
			b.base_alias = "t0";
			expr_compile_path(&b, path[0] == '-' ? path + 1 : path, &sql, NULL, err, sizeof(err));
			strbuf_free(&sql);
			expr_sql_free(&b);
		}
		list += len;
		if (*list == ',')
			list++;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_target target;
	struct object_query query;
	struct api_list_options options;
	char err[300];

	if (!meta) {
		struct meta_diags diags;
		if (meta_load_texts(3, names, yaml, &meta, &diags) != CRM_OK)
			abort();
		meta_diags_free(&diags);
	}
	if (api_parse_target((const char *)data, size, &target, err, sizeof(err)) != CRM_OK)
		return 0;
	if (api_list_query(&target, &query, &options, err, sizeof(err)) == CRM_OK) {
		const struct meta_object *object = meta_find_object(meta, "thing");
		struct expr *e = NULL;
		if (query.filter && expr_parse(query.filter, &e, err, sizeof(err)) == CRM_OK) {
			struct expr_sql b;
			struct strbuf sql = { 0 };
			memset(&b, 0, sizeof(b));
			b.meta = meta;
			b.object = object;
			b.base_alias = "t0";
			b.me = 1;
			expr_compile(&b, e, &sql, err, sizeof(err));
			strbuf_free(&sql);
			expr_sql_free(&b);
			expr_free(e);
		}
		compile_list(object, query.sort);
		compile_list(object, query.fields);
	}
	api_target_free(&target);
	return 0;
}
