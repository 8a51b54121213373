/*
 * http.c - the HTTP server on libmicrohttpd 0.9.75 (the only file that
 * includes microhttpd.h). It owns the wire: limits, framing checks, request
 * ids, the access log, the per-request deadline and graceful shutdown. What
 * a request means is api.c's business.
 *
 * Threading: MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL with a thread
 * pool of options->threads workers; every handler runs on a worker and
 * blocks it (database calls are short; writes queue on the single writer).
 *
 * One request, one struct http_request: created by the URI callback (which
 * also keeps the raw request target, before libmicrohttpd decodes it),
 * freed in one place (request_release) when both the request-completed
 * notification and, for a streamed body, the response's free callback are in.
 *
 * Limits (RELIABILITY.md; libmicrohttpd 0.9.75 has none of the body ones):
 *   connections          options->max_connections (default 1024), beyond: refused
 *   per address          options->per_ip_connections (default 64), beyond: refused
 *   inactivity           options->connection_timeout s (default 30), then closed
 *   request deadline     options->request_deadline s (default 60) from the start of a
 *                        request (or the end of the previous one on a keep-alive
 *                        connection) until its response is queued; a slowloris
 *                        client that trickles a byte every few seconds is cut off
 *                        here (the connection is shut down; no response)
 *   memory per connection HTTP_CONNECTION_MEMORY (128 KiB, mapped lazily): bounds the
 *                        request line plus headers; beyond it libmicrohttpd itself
 *                        answers 414 or 431 (with its own small HTML body)
 *   request target       HTTP_MAX_TARGET (96 KiB): 414 problem+json (room for a
 *                        long filter, which the expression parser then caps)
 *   header fields        HTTP_MAX_HEADERS (32 KiB in all): 431 problem+json
 *   body                 options->max_body (default 10 MiB; a public plugin route's
 *                        max_body, default 16 KiB: api_body_limit): a Content-Length over it
 *                        is a 413 sent before any of the body is read (and the
 *                        connection closed); a chunked body that grows past it
 *                        gets the connection closed (libmicrohttpd 0.9.75 cannot
 *                        queue a response in the middle of an upload)
 *   framing              two Content-Length headers, Content-Length with
 *                        Transfer-Encoding, a Transfer-Encoding other than chunked,
 *                        a malformed Content-Length: 400, connection closed
 *   JSON depth           API_MAX_JSON_DEPTH (api.h)
 *   attachment upload    the body goes to a file under the files directory's tmp/
 *                        (api_body_spool), never whole into memory, capped at the
 *                        file cap plus multipart room; the file is removed when
 *                        the request ends, answered, refused or cut off
 *
 * Responses to malformed framing and oversized input are queued on the first
 * access-handler call, which makes libmicrohttpd close the connection after
 * them, as it should for a request whose body will not be read. Every other
 * response is queued on a later call, keeping the connection alive
 * (queuing on the first call costs about 5x in throughput).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>
#include <sodium.h>
#include "api.h"
#include "http.h"
#include "kernel.h"
#include "outbox_deliver.h"
#include "store.h"

/*
 * libmicrohttpd 0.9.75 clears the pool between keep-alive requests: at 256 KiB
 * that memset cost 12% of a GET by id; 128 KiB measured as cheap as 64 KiB.
 */
#define HTTP_CONNECTION_MEMORY (128 * 1024)
#define HTTP_MAX_TARGET        (96 * 1024)
#define HTTP_MAX_HEADERS       (32 * 1024)
#define HTTP_STREAM_BLOCK      (64 * 1024)
#define HTTP_CHECKPOINT_EVERY  60     /* seconds between WAL checkpoints */
#define HTTP_DRAIN_SECONDS     10     /* how long shutdown waits for in-flight requests */

/* One TCP connection, for the deadline sweep. */
struct http_conn {
	int fd;
	struct timespec phase_start;  /* start of the current request or idle phase */
	bool responding;              /* response queued: the deadline no longer applies */
	bool cut;                     /* shut down by the sweep */
	struct http_conn *prev, *next;
};

struct http_server {
	struct crm_kernel *kernel;
	struct api *api;
	struct http_options options;
	struct MHD_Daemon *daemon;
	FILE *log;

	pthread_mutex_t lock;         /* guards conns and in_flight */
	struct http_conn *conns;
	int in_flight;

	uint32_t id_prefix;
	atomic_uint_fast64_t id_counter;
};

struct http_request {
	struct http_server *server;
	struct http_conn *conn;
	atomic_int refs;              /* request + streamed response */
	int phase;                    /* 0 new, 1 receiving, 2 answered */
	char method[16];
	char *target;                 /* raw request target (owned) */
	size_t target_len;
	bool target_too_long;
	char request_id[72];
	struct timespec start;
	char *body;                   /* owned */
	size_t body_len, body_cap;
	size_t body_max;              /* this request's cap: --max-body, or a public route's smaller one */
	const char *spool_dir;        /* an upload: the body goes to a file under here (borrowed from the api) */
	char *spool_path;             /* owned: that file, once created */
	int spool_fd;
	int status;
	uint64_t bytes;
	struct api_stream *stream;    /* owned while streaming */
	bool stream_failed;
};

/*
 * The one piece of process-wide state: the write end of the pipe the signal
 * handler wakes the serving thread through (a handler can reach nothing else).
 * Whichever thread the kernel delivers SIGTERM to, the serving loop sees it.
 */
static int signal_pipe_write = -1;

static void on_signal(int signo)
{
	unsigned char byte = (unsigned char)signo;
	int saved = errno;
	if (signal_pipe_write >= 0 && write(signal_pipe_write, &byte, 1) < 0) {
		/* Nothing to do in a handler; the pipe is non-blocking. */
	}
	errno = saved;
}

/* ---- small helpers --------------------------------------------------------- */

static struct timespec now_monotonic(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

static int64_t elapsed_us(struct timespec since)
{
	struct timespec now = now_monotonic();
	return (int64_t)(now.tv_sec - since.tv_sec) * 1000000 + (now.tv_nsec - since.tv_nsec) / 1000;
}

static bool valid_request_id(const char *id)
{
	size_t len = strlen(id);
	if (len == 0 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

/* The access log line: method, path (no query: it may hold personal data), status, bytes, us, id. */
static void access_log(struct http_request *req)
{
	struct http_server *server = req->server;
	char path[256];
	size_t len = 0;

	if (server->options.quiet)
		return;
	for (size_t i = 0; req->target && i < req->target_len && req->target[i] != '?' &&
	                   len + 1 < sizeof(path); i++) {
		unsigned char c = (unsigned char)req->target[i];
		path[len++] = c < 0x21 || c == 0x7F ? '?' : (char)c;
	}
	path[len] = '\0';
	fprintf(server->log, "%s %s %d %llu %lldus %s\n", req->method[0] ? req->method : "-",
	        len ? path : "-", req->status, (unsigned long long)req->bytes,
	        (long long)elapsed_us(req->start), req->request_id);
}

/* Removes a spooled body: whatever became of the request, its file does not outlive it. */
static void spool_discard(struct http_request *req)
{
	if (!req->spool_path)
		return;
	close(req->spool_fd);
	unlink(req->spool_path);
	free(req->spool_path);
	req->spool_path = NULL;
}

static bool spool_append(struct http_request *req, const char *data, size_t size)
{
	if (size > req->body_max || req->body_len > req->body_max - size)
		return false;
	if (!req->spool_path) {
		struct strbuf path = { 0 };
		strbuf_printf(&path, "%s/tmp/upload-XXXXXX", req->spool_dir);
		req->spool_fd = mkostemp(path.data, O_CLOEXEC);
		if (req->spool_fd < 0) {
			free(path.data);
			return false;
		}
		req->spool_path = path.data;
	}
	while (size > 0) {
		ssize_t n = write(req->spool_fd, data, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return false;
		data += n;
		size -= (size_t)n;
		req->body_len += (size_t)n;
	}
	return true;
}

static void request_release(struct http_request *req)
{
	if (atomic_fetch_sub(&req->refs, 1) != 1)
		return;
	spool_discard(req);
	access_log(req);
	if (req->stream)
		api_stream_free(req->stream);
	free(req->body);
	free(req->target);
	free(req);
}

/* ---- connection tracking and the deadline ------------------------------------ */

static void on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
	struct http_server *server = cls;
	struct http_conn *conn;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *info =
			MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
		conn = xcalloc(1, sizeof(*conn));
		conn->fd = info ? info->connect_fd : -1;
		conn->phase_start = now_monotonic();
		pthread_mutex_lock(&server->lock);
		conn->next = server->conns;
		if (server->conns)
			server->conns->prev = conn;
		server->conns = conn;
		pthread_mutex_unlock(&server->lock);
		*socket_context = conn;
		return;
	}
	/* Closed: called before libmicrohttpd closes the socket, so the sweep never touches a reused fd. */
	conn = *socket_context;
	if (!conn)
		return;
	pthread_mutex_lock(&server->lock);
	if (conn->prev)
		conn->prev->next = conn->next;
	else
		server->conns = conn->next;
	if (conn->next)
		conn->next->prev = conn->prev;
	pthread_mutex_unlock(&server->lock);
	free(conn);
	*socket_context = NULL;
}

/* Shuts down connections whose request has run past the deadline. */
static void sweep_deadlines(struct http_server *server)
{
	struct timespec now = now_monotonic();
	int cut = 0;

	pthread_mutex_lock(&server->lock);
	for (struct http_conn *conn = server->conns; conn; conn = conn->next) {
		if (conn->responding || conn->cut || conn->fd < 0)
			continue;
		if (now.tv_sec - conn->phase_start.tv_sec > server->options.request_deadline) {
			shutdown(conn->fd, SHUT_RDWR);
			conn->cut = true;
			cut++;
		}
	}
	pthread_mutex_unlock(&server->lock);
	if (cut && !server->options.quiet)
		fprintf(server->log, "http: closed %d connection%s past the %d s request deadline\n", cut,
		        cut == 1 ? "" : "s", server->options.request_deadline);
}

/* ---- request lifecycle ------------------------------------------------------- */

/* Called once the request line is in: creates the request (the raw target is kept here). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *connection)
{
	struct http_server *server = cls;
	struct http_request *req = xcalloc(1, sizeof(*req));
	const union MHD_ConnectionInfo *info;
	size_t len = strlen(uri);

	req->server = server;
	atomic_init(&req->refs, 1);
	req->start = now_monotonic();
	if (len > HTTP_MAX_TARGET) {
		req->target_too_long = true;
		len = 64;   /* enough for the log */
	}
	req->target = xstrndup(uri, len);
	req->target_len = len;
	snprintf(req->request_id, sizeof(req->request_id), "%08x%08llx", server->id_prefix,
	         (unsigned long long)(atomic_fetch_add(&server->id_counter, 1) & 0xffffffffull));

	info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	pthread_mutex_lock(&server->lock);
	server->in_flight++;
	if (info && info->socket_context) {
		req->conn = info->socket_context;
		req->conn->phase_start = req->start;
		req->conn->responding = false;
	}
	pthread_mutex_unlock(&server->lock);
	return req;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct http_server *server = cls;
	struct http_request *req = *req_cls;
	(void)connection;

	if (!req)
		return;
	pthread_mutex_lock(&server->lock);
	server->in_flight--;
	if (req->conn) {
		req->conn->phase_start = now_monotonic();
		req->conn->responding = false;
	}
	pthread_mutex_unlock(&server->lock);
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && req->status == 0)
		req->status = 0;  /* never answered: logged as status 0 */
	req->conn = NULL;     /* the connection may close before a streamed response is freed */
	*req_cls = NULL;
	request_release(req);
}

/* ---- responses ----------------------------------------------------------------- */

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct http_request *req = cls;
	ssize_t n;
	(void)pos;

	n = api_stream_read(req->stream, buf, max);
	if (n < 0) {
		req->stream_failed = true;
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	if (n == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	req->bytes += (uint64_t)n;
	return n;
}

static void stream_done(void *cls)
{
	request_release(cls);
}

static void add_header(struct MHD_Response *response, const char *name, const char *value)
{
	if (value && *value)
		MHD_add_response_header(response, name, value);
}

static enum MHD_Result send_response(struct MHD_Connection *connection, struct http_request *req,
                                     struct api_response *res)
{
	struct MHD_Response *response;
	enum MHD_Result ret;
	char retry[16];

	if (res->stream) {
		req->stream = res->stream;
		res->stream = NULL;
		atomic_fetch_add(&req->refs, 1);
		response = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, HTTP_STREAM_BLOCK,
		                                             stream_reader, req, stream_done);
		if (!response) {
			atomic_fetch_sub(&req->refs, 1);
			return MHD_NO;
		}
	} else if (res->body) {
		response = MHD_create_response_from_buffer(res->body_len, res->body, MHD_RESPMEM_MUST_FREE);
		if (!response)
			return MHD_NO;
		req->bytes = res->body_len;
		res->body = NULL;   /* libmicrohttpd frees it */
	} else {
		response = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		if (!response)
			return MHD_NO;
	}
	add_header(response, "X-Request-Id", req->request_id);
	add_header(response, "Content-Type", res->content_type);
	add_header(response, "ETag", res->etag);
	add_header(response, "Location", res->location);
	add_header(response, "Allow", res->allow);
	add_header(response, "Content-Disposition", res->disposition);
	add_header(response, "Cache-Control", res->cache_control ? res->cache_control : "no-store");
	add_header(response, "X-Content-Type-Options", "nosniff");
	/* record URLs carry ids and filters: no page sends them to another site */
	add_header(response, "Referrer-Policy", "no-referrer");
	add_header(response, "Set-Cookie", res->set_cookie);
	add_header(response, "WWW-Authenticate", res->www_authenticate);
	add_header(response, "Content-Security-Policy", res->csp);
	if (res->retry_after > 0) {
		snprintf(retry, sizeof(retry), "%d", res->retry_after);
		add_header(response, "Retry-After", retry);
	}
	req->status = res->status;
	req->phase = 2;
	if (req->conn) {
		pthread_mutex_lock(&req->server->lock);
		req->conn->responding = true;
		pthread_mutex_unlock(&req->server->lock);
	}
	ret = MHD_queue_response(connection, (unsigned)res->status, response);
	MHD_destroy_response(response);
	return ret;
}

/* An error found at the door (framing, sizes): problem+json, queued at once. */
static enum MHD_Result refuse(struct MHD_Connection *connection, struct http_request *req,
                              int status, const char *detail)
{
	struct api_response res;
	enum MHD_Result ret;

	memset(&res, 0, sizeof(res));
	api_problem(&res, status, detail, req->request_id);
	ret = send_response(connection, req, &res);
	api_response_clear(&res);
	return ret;
}

/* ---- the access handler ---------------------------------------------------------- */

struct header_scan {
	size_t bytes;
	int content_length_count;
	bool transfer_encoding;
	bool chunked_only;
	const char *content_length;
	const char *request_id;
};

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
	struct header_scan *scan = cls;
	(void)kind;
	scan->bytes += strlen(key) + (value ? strlen(value) : 0) + 4;
	if (!value)
		value = "";
	if (strcasecmp(key, "Content-Length") == 0) {
		scan->content_length_count++;
		scan->content_length = value;
	} else if (strcasecmp(key, "Transfer-Encoding") == 0) {
		scan->chunked_only = !scan->transfer_encoding && strcasecmp(value, "chunked") == 0;
		scan->transfer_encoding = true;
	} else if (strcasecmp(key, "X-Request-Id") == 0) {
		scan->request_id = value;
	}
	return MHD_YES;
}

/* The first call: headers are in, the body (if any) is not. Checks framing and sizes. */
static enum MHD_Result first_call(struct MHD_Connection *connection, struct http_request *req,
                                  const char *method)
{
	struct http_server *server = req->server;
	struct header_scan scan;

	memset(&scan, 0, sizeof(scan));
	snprintf(req->method, sizeof(req->method), "%s", method);
	req->phase = 1;
	MHD_get_connection_values(connection, MHD_HEADER_KIND, scan_header, &scan);
	if (scan.request_id && valid_request_id(scan.request_id))
		snprintf(req->request_id, sizeof(req->request_id), "%s", scan.request_id);

	if (req->target_too_long)
		return refuse(connection, req, 414, "the request target is longer than 96 KiB");
	if (scan.bytes > HTTP_MAX_HEADERS)
		return refuse(connection, req, 431, "the header fields exceed 32 KiB");
	if (scan.content_length_count > 1)
		return refuse(connection, req, 400, "more than one Content-Length header");
	if (scan.content_length_count && scan.transfer_encoding)
		return refuse(connection, req, 400, "Content-Length together with Transfer-Encoding");
	if (scan.transfer_encoding && !scan.chunked_only)
		return refuse(connection, req, 400, "the only Transfer-Encoding accepted is chunked");
	/* a public plugin route, open to anyone, takes a small body: known before any of it is read */
	req->body_max = server->options.max_body;
	if (scan.content_length || scan.transfer_encoding) {
		size_t route_max = api_body_limit(server->api, method, req->target);
		if (route_max && route_max < req->body_max)
			req->body_max = route_max;
		size_t spool_max = 0;
		if ((req->spool_dir = api_body_spool(server->api, method, req->target, &spool_max)))
			req->body_max = spool_max;
	}
	if (scan.content_length) {
		const char *p = scan.content_length;
		uint64_t length = 0;
		size_t digits = strlen(p);
		if (digits == 0 || digits > 19 || strspn(p, "0123456789") != digits)
			return refuse(connection, req, 400, "malformed Content-Length");
		for (; *p; p++)
			length = length * 10 + (uint64_t)(*p - '0');
		if (length > req->body_max) {
			char detail[120];
			snprintf(detail, sizeof(detail), "the body (%llu bytes) is larger than the %zu-byte cap",
			         (unsigned long long)length, req->body_max);
			return refuse(connection, req, 413, detail);
		}
		if (length > 0 && !req->spool_dir) {
			req->body_cap = (size_t)length;
			req->body = xmalloc(req->body_cap + 1);
		}
	}
	return MHD_YES;
}

static bool append_body(struct http_request *req, const char *data, size_t size)
{
	size_t max = req->body_max;
	if (size > max || req->body_len > max - size)
		return false;
	if (req->body_len + size > req->body_cap) {
		size_t cap = req->body_cap ? req->body_cap : 16 * 1024;
		while (cap < req->body_len + size)
			cap *= 2;
		if (cap > max)
			cap = max;
		req->body = xrealloc(req->body, cap + 1);
		req->body_cap = cap;
	}
	memcpy(req->body + req->body_len, data, size);
	req->body_len += size;
	return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
	struct http_server *server = cls;
	struct http_request *req = *req_cls;
	struct api_request areq;
	struct api_response res;
	enum MHD_Result ret;
	(void)version;

	if (!req) {
		/* Without a URI callback (never expected): build the request from url. */
		req = on_uri(server, url, connection);
		*req_cls = req;
	}
	if (req->phase == 0)
		return first_call(connection, req, method);
	if (req->phase == 2) {
		/* Already answered at the door: drop whatever body still arrives. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		if (!(req->spool_dir ? spool_append(req, upload_data, *upload_data_size)
		                     : append_body(req, upload_data, *upload_data_size))) {
			/* A chunked body past the cap: a response cannot be queued mid-upload. */
			req->status = 413;
			return MHD_NO;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}

	memset(&areq, 0, sizeof(areq));
	areq.method = req->method;
	areq.target = req->target;
	areq.content_type = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Content-Type");
	areq.if_match = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "If-Match");
	areq.if_none_match = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "If-None-Match");
	if (req->body) {
		req->body[req->body_len] = '\0';
		areq.body = req->body;
	}
	areq.body_len = req->body_len;
	areq.body_path = req->spool_path;
	areq.request_id = req->request_id;
	areq.authorization = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Authorization");
	areq.cookie = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Cookie");
	areq.csrf = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "X-CSRF-Token");
	areq.signature = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "X-CRM-Signature");
	areq.signature_time = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "X-CRM-Timestamp");
	char ip[64] = "";
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (info && info->client_addr) {
		const struct sockaddr *sa = info->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof(ip));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof(ip));
	}
	areq.client_ip = ip[0] ? ip : NULL;

	api_handle(server->api, &areq, &res);
	/* The body is no longer needed; free it now rather than at completion. */
	free(req->body);
	req->body = NULL;
	req->body_len = req->body_cap = 0;
	spool_discard(req);
	ret = send_response(connection, req, &res);
	api_response_clear(&res);
	return ret;
}

/* ---- serving ------------------------------------------------------------------- */

static void restore_signals(int pipe_fds[2], const struct sigaction *old_term,
                            const struct sigaction *old_int)
{
	sigaction(SIGTERM, old_term, NULL);
	sigaction(SIGINT, old_int, NULL);
	signal_pipe_write = -1;
	close(pipe_fds[0]);
	close(pipe_fds[1]);
}

static void apply_defaults(struct http_options *o)
{
	if (!o->bind || !*o->bind)
		o->bind = "127.0.0.1";
	if (o->threads <= 0)
		o->threads = 2;
	if (o->max_body == 0)
		o->max_body = 10 * 1024 * 1024;
	if (o->max_connections <= 0)
		o->max_connections = 1024;
	if (o->per_ip_connections <= 0)
		o->per_ip_connections = 64;
	if (o->connection_timeout <= 0)
		o->connection_timeout = 30;
	if (o->request_deadline <= 0)
		o->request_deadline = 60;
}

int http_serve(struct crm_kernel *kernel, const struct http_options *options)
{
	struct http_server server;
	struct api_options api_options;
	struct sockaddr_in addr4;
	struct sockaddr_in6 addr6;
	struct sockaddr *addr;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC;
	const union MHD_DaemonInfo *info;
	struct sigaction action, old_term, old_int;
	int signal_pipe[2];
	struct timespec started;
	time_t last_checkpoint = time(NULL);
	MHD_socket listen_fd;
	int port, signo = 0;

	memset(&server, 0, sizeof(server));
	server.kernel = kernel;
	server.options = *options;
	apply_defaults(&server.options);
	server.log = kernel->log ? kernel->log : stderr;
	pthread_mutex_init(&server.lock, NULL);
	if (sodium_init() < 0) {
		fprintf(server.log, "crm serve: libsodium failed to initialise\n");
		return CRM_EINTERNAL;
	}
	server.id_prefix = randombytes_random();
	atomic_init(&server.id_counter, 0);

	memset(&addr4, 0, sizeof(addr4));
	memset(&addr6, 0, sizeof(addr6));
	port = server.options.port;
	if (port < 0 || port > 65535) {
		fprintf(server.log, "crm serve: port %d is out of range\n", port);
		return CRM_EINVAL;
	}
	if (inet_pton(AF_INET, server.options.bind, &addr4.sin_addr) == 1) {
		addr4.sin_family = AF_INET;
		addr4.sin_port = htons((uint16_t)port);
		addr = (struct sockaddr *)&addr4;
	} else if (inet_pton(AF_INET6, server.options.bind, &addr6.sin6_addr) == 1) {
		addr6.sin6_family = AF_INET6;
		addr6.sin6_port = htons((uint16_t)port);
		addr = (struct sockaddr *)&addr6;
		flags |= MHD_USE_IPv6;
	} else {
		fprintf(server.log, "crm serve: '%s' is not an IPv4 or IPv6 address\n", server.options.bind);
		return CRM_EINVAL;
	}

	memset(&api_options, 0, sizeof(api_options));
	api_options.require_if_match = server.options.require_if_match;
	api_options.secure_cookies = server.options.secure_cookies;
	api_options.log_errors = true;
	server.api = api_new(kernel, &api_options);

	/* SIGTERM/SIGINT write to a pipe that the serving loop below polls. */
	if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		fprintf(server.log, "crm serve: pipe: %s\n", strerror(errno));
		api_free(server.api);
		return CRM_EIO;
	}
	signal_pipe_write = signal_pipe[1];
	memset(&action, 0, sizeof(action));
	action.sa_handler = on_signal;
	sigemptyset(&action.sa_mask);
	sigaction(SIGTERM, &action, &old_term);
	sigaction(SIGINT, &action, &old_int);
	signal(SIGPIPE, SIG_IGN);

	server.daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, &server,
		MHD_OPTION_SOCK_ADDR, addr,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)server.options.threads,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)server.options.max_connections,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)server.options.per_ip_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)server.options.connection_timeout,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY,
		MHD_OPTION_STRICT_FOR_CLIENT, 1,
		MHD_OPTION_SIGPIPE_HANDLED_BY_APP, 1,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, &server,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, &server,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, &server,
		MHD_OPTION_END);
	if (!server.daemon) {
		fprintf(server.log, "crm serve: cannot listen on %s port %d: %s\n", server.options.bind, port,
		        strerror(errno));
		restore_signals(signal_pipe, &old_term, &old_int);
		api_free(server.api);
		pthread_mutex_destroy(&server.lock);
		return CRM_EIO;
	}
	info = MHD_get_daemon_info(server.daemon, MHD_DAEMON_INFO_BIND_PORT);
	if (info)
		port = info->port;
	/* the outbox's delivery runs beside the requests, never inside one's transaction */
	struct outbox_worker *outbox = outbox_worker_start(kernel);
	printf(addr == (struct sockaddr *)&addr6 ? "crm: serving http://[%s]:%d/\n"
	                                          : "crm: serving http://%s:%d/\n",
	       server.options.bind, port);
	fflush(stdout);

	for (;;) {
		struct pollfd wake = { .fd = signal_pipe[0], .events = POLLIN };
		unsigned char byte;
		if (poll(&wake, 1, 1000) > 0 && read(signal_pipe[0], &byte, 1) == 1) {
			signo = byte;
			break;
		}
		sweep_deadlines(&server);
		kernel_tick(kernel, time(NULL));
		if (time(NULL) - last_checkpoint >= HTTP_CHECKPOINT_EVERY) {
			store_checkpoint(kernel->store);
			last_checkpoint = time(NULL);
		}
	}

	/* Graceful: stop accepting, let in-flight requests finish, then stop. */
	if (!server.options.quiet)
		fprintf(server.log, "crm: %s received, finishing in-flight requests\n",
		        signo == SIGTERM ? "SIGTERM" : "SIGINT");
	listen_fd = MHD_quiesce_daemon(server.daemon);
	started = now_monotonic();
	for (;;) {
		int in_flight;
		struct timespec pause_time = { 0, 10 * 1000 * 1000 };
		pthread_mutex_lock(&server.lock);
		in_flight = server.in_flight;
		pthread_mutex_unlock(&server.lock);
		if (in_flight <= 0 || elapsed_us(started) > (int64_t)HTTP_DRAIN_SECONDS * 1000000)
			break;
		nanosleep(&pause_time, NULL);
	}
	outbox_worker_stop(outbox);
	MHD_stop_daemon(server.daemon);
	if (listen_fd != MHD_INVALID_SOCKET)
		close(listen_fd);
	restore_signals(signal_pipe, &old_term, &old_int);
	api_free(server.api);
	pthread_mutex_destroy(&server.lock);
	return CRM_OK;
}
