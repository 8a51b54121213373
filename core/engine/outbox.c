/*
 * outbox.c - queueing outbound messages (outbox.h): settings, template
 * rendering and the outbox_message record written in the caller's
 * transaction. Delivery is outbox_deliver.c's; the wire is deliver.c's.
 */
#include <stdlib.h>
#include <string.h>
#include "access.h"
#include "meta_model.h"
#include "object.h"
#include "outbox.h"

static long config_number(const json_t *outbox, const char *key, long fallback, long min, long max)
{
	json_t *v = json_object_get(outbox, key);
	if (!json_is_number(v))
		return fallback;
	double d = json_number_value(v);
	return d < (double)min ? min : d > (double)max ? max : (long)d;
}

static const char *config_env(const json_t *outbox, const char *key)
{
	const char *name = json_string_value(json_object_get(outbox, key));
	return name ? getenv(name) : NULL;
}

void outbox_config_read(const struct crm_kernel *kernel, struct outbox_config *out)
{
	const json_t *outbox = json_object_get(kernel->meta->config, "outbox");
	memset(out, 0, sizeof(*out));
	out->smtp_url = json_string_value(json_object_get(outbox, "smtp_url"));
	out->from = json_string_value(json_object_get(outbox, "from"));
	if (!out->from)
		out->from = "CRM <crm@localhost>";
	out->user = config_env(outbox, "smtp_user_env");
	out->password = config_env(outbox, "smtp_password_env");
	out->starttls = json_is_true(json_object_get(outbox, "starttls"));
	out->timeout = config_number(outbox, "timeout", 10, 1, 300);
	out->retry_base = config_number(outbox, "retry_base", 30, 1, 7 * 86400);
	out->retry_cap = config_number(outbox, "retry_cap", 3600, 1, 7 * 86400);
	out->max_attempts = config_number(outbox, "max_attempts", 8, 1, 100);
	out->max_body = config_number(outbox, "max_body", 256 * 1024, 1024, 1024 * 1024);
	out->poll = config_number(outbox, "poll", 2, 1, 7 * 86400);
	out->webhooks = json_object_get(outbox, "webhooks");
}

/* ---- addresses ------------------------------------------------------------ */

/* One address local@domain: printable ASCII, no spaces, quotes, angle brackets, commas or line breaks. */
static bool email_address_ok(const char *to)
{
	const char *at = strchr(to, '@');
	size_t length = strlen(to);
	if (!at || at == to || !at[1] || strchr(at + 1, '@') || length > 254 || !strchr(at + 1, '.'))
		return false;
	for (const unsigned char *p = (const unsigned char *)to; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("<>,;:\"()[]\\", *p))
			return false;
	return true;
}

static bool has_line_break(const char *text)
{
	return text && strpbrk(text, "\r\n") != NULL;
}

/* ---- rendering -------------------------------------------------------------- */

/* A value as the text a placeholder becomes: null is empty, numbers and booleans as JSON writes them. */
static void value_text(struct strbuf *out, json_t *value)
{
	if (json_is_string(value)) {
		strbuf_puts(out, json_string_value(value));
	} else if (value && !json_is_null(value)) {
		char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
		if (text)
			strbuf_puts(out, text);
		free(text);
	}
}

/* Appends text escaped for the template's format: HTML entities, a JSON string's escapes, or as it is. */
static void escaped(struct strbuf *out, const char *text, enum template_format format)
{
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (format == TEMPLATE_HTML && strchr("<>&\"'", *p)) {
			strbuf_puts(out, *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : *p == '&' ? "&amp;"
			                 : *p == '"' ? "&quot;" : "&#39;");
		} else if (format == TEMPLATE_JSON && (*p == '"' || *p == '\\' || *p < 0x20)) {
			if (*p == '"' || *p == '\\')
				strbuf_printf(out, "\\%c", *p);
			else
				strbuf_printf(out, "\\u%04x", *p);
		} else {
			strbuf_putc(out, (char)*p);
		}
	}
}

/*
 * Fills text's placeholders from vars, then the record. The loader checked
 * every name against the template's vars and object; a declared var the
 * caller did not give is an error (a message with a hole is worse than none).
 */
static int render(struct crm_ctx *ctx, const struct meta_template *t, const char *text, enum template_format format,
                  json_t *vars, json_t *record, struct strbuf *out)
{
	const char *p = text, *start, *name, *end;
	size_t length;
	while ((start = meta_placeholder_next(p, &name, &length, &end)) && end) {
		strbuf_add(out, p, (size_t)(start - p));
		char key[64];
		snprintf(key, sizeof(key), "%.*s", (int)(length < 63 ? length : 63), name);
		json_t *value = json_object_get(vars, key);
		if (!value && record && t->object && meta_find_field(t->object, key))
			value = json_object_get(record, key);
		else if (!value)
			return crm_error(ctx, CRM_EINVAL, "template '%s' needs var '%s'", t->name, key);
		struct strbuf plain = { 0 };
		value_text(&plain, value);
		escaped(out, plain.data ? plain.data : "", format);
		strbuf_free(&plain);
		p = end;
	}
	strbuf_puts(out, p);
	return CRM_OK;
}

/* Every var given must be one the template declares (`lang` picks the language). */
static int check_vars(struct crm_ctx *ctx, const struct meta_template *t, json_t *vars, const char **lang)
{
	const char *key;
	json_t *value;
	if (vars && !json_is_object(vars))
		return crm_error(ctx, CRM_EINVAL, "the vars of template '%s' must be an object", t->name);
	json_object_foreach(vars, key, value) {
		if (!strcmp(key, "lang")) {
			const struct meta *meta = ctx->kernel->meta;
			*lang = NULL;
			for (int i = 0; i < meta->language_count; i++)
				if (json_is_string(value) && !strcmp(json_string_value(value), meta->languages[i]))
					*lang = meta->languages[i];
			if (!*lang)
				return crm_error(ctx, CRM_EINVAL, "lang must be one of the app's languages");
			continue;
		}
		bool known = false;
		for (int v = 0; v < t->var_count && !known; v++)
			known = !strcmp(t->vars[v], key);
		if (!known)
			return crm_error(ctx, CRM_EINVAL, "template '%s' has no var '%s'", t->name, key);
		if (json_is_object(value) || json_is_array(value))
			return crm_error(ctx, CRM_EINVAL, "var '%s' must be a text, number, boolean or null", key);
	}
	return CRM_OK;
}

/* The message as the system writes it, audited on behalf of the caller (only the system writes the outbox). */
static int create_message(struct crm_ctx *ctx, json_t *values, int64_t *out_id)
{
	int64_t user = ctx->user_id, on_behalf_of = ctx->on_behalf_of;
	struct access_user *access = ctx->access;
	if (user > 0) {
		json_object_set_new(values, "queued_by", json_integer(user));
		ctx->on_behalf_of = user;
	}
	ctx->user_id = 0;
	ctx->access = NULL;
	int code = object_create_id(ctx, OUTBOX_OBJECT, values, out_id);
	access_free(ctx->access);
	ctx->access = access;
	ctx->user_id = user;
	ctx->on_behalf_of = on_behalf_of;
	return code;
}

int outbox_send(struct crm_ctx *ctx, const char *channel, const char *to, const char *template_name, json_t *vars,
                const char *object, int64_t id, json_t *record, int64_t *out_id)
{
	const struct meta *meta = ctx->kernel->meta;
	struct outbox_config config;
	outbox_config_read(ctx->kernel, &config);
	if (!meta_find_object(meta, OUTBOX_OBJECT))
		return crm_error(ctx, CRM_EINVAL, "no outbox: the metadata has no '%s' object", OUTBOX_OBJECT);
	if (!channel || (strcmp(channel, "email") != 0 && strcmp(channel, "webhook") != 0))
		return crm_error(ctx, CRM_EINVAL, "bad channel '%.40s' (expected email or webhook)", channel ? channel : "");
	const struct meta_template *t = meta_find_template(meta, template_name);
	if (!t)
		return crm_error(ctx, CRM_EINVAL, "no template '%.64s'", template_name ? template_name : "");
	if (strcmp(t->channel, channel) != 0)
		return crm_error(ctx, CRM_EINVAL, "template '%s' is for %s, not %s", t->name, t->channel, channel);
	if (!to || has_line_break(to))
		return crm_error(ctx, CRM_EINVAL, "the recipient may not hold a line break (header injection)");
	if (!strcmp(channel, "email") && !email_address_ok(to))
		return crm_error(ctx, CRM_EINVAL, "'%.80s' is not one e-mail address", to);
	if (!strcmp(channel, "webhook") && !json_is_object(json_object_get(config.webhooks, to)))
		return crm_error(ctx, CRM_EINVAL, "no webhook endpoint '%.64s' in config.outbox.webhooks", to);
	if (t->object && (!object || strcmp(object, t->object->name) != 0))
		return crm_error(ctx, CRM_EINVAL, "template '%s' is about a %s record: give one", t->name, t->object->name);
	if (object && !meta_find_object(meta, object))
		return crm_error(ctx, CRM_EINVAL, "no object '%.64s'", object);
	const char *lang = meta->languages[0];
	int code = check_vars(ctx, t, vars, &lang);
	if (code != CRM_OK)
		return code;

	json_t *read = NULL;
	if (t->object && !record) {
		/* the record as the caller may read it: a message never carries what its sender cannot see */
		if ((code = object_get(ctx, object, id, false, &read)) != CRM_OK)
			return code;
		record = read;
	}
	struct strbuf subject = { 0 }, body = { 0 };
	if (t->subject.count)
		code = render(ctx, t, meta_label_text(&t->subject, lang, ""), TEMPLATE_TEXT, vars, record, &subject);
	if (code == CRM_OK)
		code = render(ctx, t, meta_label_text(&t->body, lang, ""), t->format, vars, record, &body);
	json_decref(read);
	if (code == CRM_OK && has_line_break(subject.data))
		code = crm_error(ctx, CRM_EINVAL, "template '%s': the subject may not hold a line break (header injection)",
		                 t->name);
	if (code == CRM_OK && body.len > (size_t)config.max_body)
		code = crm_error(ctx, CRM_ELIMIT, "template '%s': the body is %zu bytes, over the outbox's %ld", t->name,
		                 body.len, config.max_body);
	json_t *parsed = NULL;
	if (code == CRM_OK && t->format == TEMPLATE_JSON && !(parsed = json_loads(body.data ? body.data : "", 0, NULL)))
		code = crm_error(ctx, CRM_EINVAL, "template '%s': the rendered body is not JSON", t->name);
	json_decref(parsed);
	if (code == CRM_OK) {
		const char *type = t->format == TEMPLATE_JSON ? "application/json"
		                   : t->format == TEMPLATE_HTML ? "text/html; charset=UTF-8" : "text/plain; charset=UTF-8";
		json_t *values = json_pack("{s:s, s:s, s:s, s:s, s:s}", "channel", channel, "to", to, "template", t->name,
		                           "body", body.data ? body.data : "", "content_type", type);
		if (!values) {
			code = crm_error(ctx, CRM_EINVAL, "template '%s': the message is not valid UTF-8", t->name);
			goto done;
		}
		if (subject.data)
			json_object_set_new(values, "subject", json_string(subject.data));
		if (object && id) {
			json_object_set_new(values, "object_name", json_string(object));
			json_object_set_new(values, "record_id", json_integer(id));
		}
		int64_t created = 0;
		code = create_message(ctx, values, &created);
		json_decref(values);
		if (code == CRM_OK && out_id)
			*out_id = created;
	}
done:
	strbuf_free(&subject);
	strbuf_free(&body);
	return code;
}
