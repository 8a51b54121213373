/*
 * http_floor.c - the benchmark floor: a bare libmicrohttpd server that answers
 * every request with the same 200-byte JSON body, configured like crm serve
 * (internal polling thread + epoll, thread pool, keep-alive, the response
 * queued on the second access-handler call). `crm serve` figures are reported
 * as a ratio to this server measured in the same run.
 *
 *   http_floor [port [threads]]     port 0 = any free port; prints the URL
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <microhttpd.h>

static char body[201];
static struct MHD_Response *response;
static volatile sig_atomic_t stop_requested;

static void on_signal(int signo)
{
	(void)signo;
	stop_requested = 1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection,
                                  const char *url, const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
	static int first_call_marker;
	(void)cls; (void)url; (void)method; (void)version; (void)upload_data;
	if (*req_cls == NULL) {
		/* Queuing on the first call would force Connection: close. */
		*req_cls = &first_call_marker;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	return MHD_queue_response(connection, MHD_HTTP_OK, response);
}

int main(int argc, char **argv)
{
	unsigned port = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 8099;
	unsigned threads = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 2;
	struct MHD_Daemon *daemon;
	const union MHD_DaemonInfo *info;
	struct sigaction sa;
	size_t len;

	/* A 200-byte body shaped like a small record. */
	len = (size_t)snprintf(body, sizeof(body),
		"{\"id\":123456,\"name\":\"Acme Corporation\",\"industry\":\"manufacturing\","
		"\"city\":\"Berlin\",\"version\":3,\"owner\":1,\"created_at\":\"2024-01-01T00:00:00Z\","
		"\"updated_at\":\"2024-01-02T00:00:00Z\",\"note\":\"");
	while (len < 198)
		body[len++] = 'x';
	body[len++] = '"';
	body[len++] = '}';
	body[len] = '\0';

	response = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(response, "Content-Type", "application/json");

	daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC,
		(uint16_t)port, NULL, NULL, on_request, NULL,
		MHD_OPTION_THREAD_POOL_SIZE, threads,
		MHD_OPTION_CONNECTION_LIMIT, 1024u,
		MHD_OPTION_CONNECTION_TIMEOUT, 30u,
		MHD_OPTION_END);
	if (!daemon) {
		fprintf(stderr, "http_floor: cannot listen on port %u\n", port);
		return 1;
	}
	info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
	printf("http://127.0.0.1:%u/\n", info ? info->port : port);
	fflush(stdout);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	while (!stop_requested)
		pause();
	MHD_stop_daemon(daemon);
	MHD_destroy_response(response);
	return 0;
}
