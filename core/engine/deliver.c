/*
 * deliver.c - the outbox's drivers over libcurl (deliver.h).
 *
 * E-mail: the message is written here (From, To, Subject as an RFC 2047
 * encoded word when it is not ASCII, Date, Message-ID, MIME-Version, a
 * UTF-8 body in base64 so that no line is too long and no byte needs 8-bit
 * transport) and handed to curl's SMTP client. Header values are refused
 * when they hold a line break: the queue refuses them already, this is the
 * last line.
 *
 * Webhooks: a POST of the JSON body signed with HMAC-SHA256 (libsodium),
 * no redirects (a redirect would send the signed body somewhere else), only
 * http and https, a total timeout.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <sodium.h>
#include "crm.h"
#include "deliver.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_start(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (sodium_init() < 0)
		abort();
}

static void base64(struct strbuf *out, const unsigned char *data, size_t length, bool wrap)
{
	for (size_t at = 0; at < length; at += 57) {
		size_t n = length - at < 57 ? length - at : 57;
		char line[80];
		sodium_bin2base64(line, sizeof(line), data + at, n, sodium_base64_VARIANT_ORIGINAL);
		strbuf_puts(out, line);
		if (wrap)
			strbuf_puts(out, "\r\n");
	}
}

/* A header value: as it is when ASCII, else encoded words of UTF-8 (=?UTF-8?B?...?=), never splitting a character. */
static void header_text(struct strbuf *out, const char *text)
{
	bool ascii = true;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		ascii = ascii && *p < 0x80;
	if (ascii) {
		strbuf_puts(out, text);
		return;
	}
	size_t length = strlen(text), at = 0;
	while (at < length) {
		size_t n = length - at < 45 ? length - at : 45;
		while (at + n < length && ((unsigned char)text[at + n] & 0xC0) == 0x80)
			n--;
		strbuf_puts(out, at ? "\r\n =?UTF-8?B?" : "=?UTF-8?B?");
		base64(out, (const unsigned char *)text + at, n, false);
		strbuf_puts(out, "?=");
		at += n;
	}
}

/* The address of "Name <addr>" or "addr". */
static void address_of(const char *from, char *out, size_t size)
{
	const char *open = strrchr(from, '<'), *close = open ? strchr(open, '>') : NULL;
	if (open && close)
		snprintf(out, size, "%.*s", (int)(close - open - 1), open + 1);
	else
		snprintf(out, size, "%s", from);
}

struct upload {
	const char *data;
	size_t length, at;
};

static size_t read_upload(char *buffer, size_t size, size_t count, void *context)
{
	struct upload *u = context;
	size_t n = size * count;
	if (n > u->length - u->at)
		n = u->length - u->at;
	memcpy(buffer, u->data + u->at, n);
	u->at += n;
	return n;
}

static size_t discard(char *data, size_t size, size_t count, void *context)
{
	(void)data;
	(void)context;
	return size * count;
}

int deliver_mail(const struct deliver_mail *mail, char *err, size_t errlen)
{
	pthread_once(&curl_once, curl_start);
	if (!mail->url || !*mail->url) {
		snprintf(err, errlen, "no SMTP server: set config.outbox.smtp_url in app.yaml");
		return -1;
	}
	if (strpbrk(mail->from, "\r\n") || strpbrk(mail->to, "\r\n") || strpbrk(mail->subject, "\r\n")) {
		snprintf(err, errlen, "a header value holds a line break (header injection)");
		return -1;
	}
	char from[256], date[64], rcpt[300];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	address_of(mail->from, from, sizeof(from));
	struct strbuf message = { 0 };
	/* only a display name is encoded: an address inside an encoded word would be no address */
	const char *open = strrchr(mail->from, '<');
	strbuf_puts(&message, "From: ");
	if (open && open > mail->from) {
		char name[256];
		size_t n = (size_t)(open - mail->from);
		while (n > 0 && mail->from[n - 1] == ' ')
			n--;
		snprintf(name, sizeof(name), "%.*s", (int)n, mail->from);
		header_text(&message, name);
		strbuf_printf(&message, " <%s>", from);
	} else {
		strbuf_puts(&message, from);
	}
	strbuf_printf(&message, "\r\nTo: %s\r\nSubject: ", mail->to);
	header_text(&message, mail->subject);
	/* the same Message-ID on every attempt: a receiver can drop a second copy after a lost answer */
	strbuf_printf(&message, "\r\nDate: %s\r\nMessage-ID: <outbox-%lld@%s>\r\nMIME-Version: 1.0\r\n"
	              "Content-Type: %s\r\nContent-Transfer-Encoding: base64\r\n\r\n", date, (long long)mail->id,
	              strchr(from, '@') ? strchr(from, '@') + 1 : "localhost", mail->content_type);
	base64(&message, (const unsigned char *)mail->body, strlen(mail->body), true);

	CURL *curl = curl_easy_init();
	struct curl_slist *to = NULL;
	struct upload upload = { message.data, message.len, 0 };
	char error[CURL_ERROR_SIZE] = "";
	char mail_from[300];
	snprintf(mail_from, sizeof(mail_from), "<%s>", from);
	snprintf(rcpt, sizeof(rcpt), "<%s>", mail->to);
	to = curl_slist_append(to, rcpt);
	curl_easy_setopt(curl, CURLOPT_URL, mail->url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(curl, CURLOPT_MAIL_FROM, mail_from);
	curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, to);
	curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_upload);
	curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
	curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, mail->timeout);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
	if (mail->starttls)
		curl_easy_setopt(curl, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	if (mail->user)
		curl_easy_setopt(curl, CURLOPT_USERNAME, mail->user);
	if (mail->password)
		curl_easy_setopt(curl, CURLOPT_PASSWORD, mail->password);
	CURLcode code = curl_easy_perform(curl);
	if (code != CURLE_OK)
		snprintf(err, errlen, "SMTP: %s", error[0] ? error : curl_easy_strerror(code));
	curl_slist_free_all(to);
	curl_easy_cleanup(curl);
	strbuf_free(&message);
	return code == CURLE_OK ? 0 : -1;
}

/* HMAC-SHA256 under secret of prefix then length bytes of data: what both sides of a signature compute. */
static void signature_mac(const char *secret, const char *prefix, const void *data, size_t length,
                          unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
	pthread_once(&curl_once, curl_start);
	crypto_auth_hmacsha256_state state;
	crypto_auth_hmacsha256_init(&state, (const unsigned char *)secret, strlen(secret));
	crypto_auth_hmacsha256_update(&state, (const unsigned char *)prefix, strlen(prefix));
	crypto_auth_hmacsha256_update(&state, data, length);
	crypto_auth_hmacsha256_final(&state, mac);
}

void deliver_signature(const char *secret, const char *body, char out[65])
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	signature_mac(secret, "", body, strlen(body), mac);
	sodium_bin2hex(out, 65, mac, sizeof(mac));
}

bool deliver_signature_check(const char *secret, const char *prefix, const void *data, size_t length,
                             const char *hex)
{
	unsigned char given[crypto_auth_hmacsha256_BYTES], mac[crypto_auth_hmacsha256_BYTES];
	size_t given_length = 0;
	const char *end = NULL;
	if (!hex || strlen(hex) != 2 * sizeof(given)
	    || sodium_hex2bin(given, sizeof(given), hex, strlen(hex), NULL, &given_length, &end) != 0
	    || given_length != sizeof(given) || *end)
		return false;
	signature_mac(secret, prefix, data, length, mac);
	return sodium_memcmp(given, mac, sizeof(mac)) == 0;
}

int deliver_webhook(const char *url, const char *secret, const char *body, int64_t id, long timeout, char *err,
                    size_t errlen)
{
	pthread_once(&curl_once, curl_start);
	char signature[65], header[128], delivery[64], error[CURL_ERROR_SIZE] = "";
	deliver_signature(secret, body, signature);
	snprintf(header, sizeof(header), "X-CRM-Signature: sha256=%s", signature);
	snprintf(delivery, sizeof(delivery), "X-CRM-Delivery: %lld", (long long)id);
	struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
	headers = curl_slist_append(headers, header);
	headers = curl_slist_append(headers, delivery);
	headers = curl_slist_append(headers, "Expect:");
	CURL *curl = curl_easy_init();
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "crm-outbox");
	CURLcode code = curl_easy_perform(curl);
	long status = 0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	int result = 0;
	if (code != CURLE_OK) {
		snprintf(err, errlen, "webhook: %s", error[0] ? error : curl_easy_strerror(code));
		result = -1;
	} else if (status < 200 || status > 299) {
		snprintf(err, errlen, "webhook: HTTP %ld%s", status, status >= 300 && status < 400 ? " (redirects are not followed)" : "");
		result = -1;
	}
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	return result;
}
