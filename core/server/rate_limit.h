/*
 * rate_limit.h - how often one client address may call one public plugin
 * route: a fixed window per (route, address) in a table of fixed size, so
 * that hostile addresses cannot make it grow. Used by api.c for the routes a
 * plugin registers with crm.route(..., { public = true, rate_limit = "10/min" }).
 *
 * The address is the TCP peer's, as the login limit (auth.c) sees it: behind
 * a reverse proxy every client is the proxy's one address (X-Forwarded-For is
 * never read: any client can write it). An IPv6 client counts by its /64 (a
 * host is given a whole /64 and picks addresses in it at will); an
 * IPv4-mapped IPv6 address counts as the IPv4 address.
 *
 * Thread-safe: one mutex around a table lookup.
 */
#ifndef CRM_RATE_LIMIT_H
#define CRM_RATE_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATE_LIMIT_SLOTS 8192      /* counters in the table: 8192 x 24 bytes */
#define RATE_LIMIT_WAYS  8         /* an address competes for the 8 slots of its bucket */

struct rate_limiter;

/* A table of RATE_LIMIT_SLOTS counters with a random hashing key. Never NULL. */
struct rate_limiter *rate_limiter_new(void);
void rate_limiter_free(struct rate_limiter *limiter);

/*
 * Counts one request to scope (the route) from address (text, as inet_ntop
 * writes it; NULL or unreadable: one shared "unknown" address) at now
 * (seconds, any monotonic clock). A window opens at an address's first
 * request and lasts period seconds; in it at most limit requests are let
 * through. Returns true for those; false for the rest, with *retry_after =
 * the seconds until the window closes (at least 1). Refused requests do not
 * count.
 *
 * When every slot of a bucket holds an open window, a new address takes the
 * slot of the address with the fewest requests (the oldest window among
 * equals): addresses near their limit keep their count while a flood of new
 * addresses replaces only each other.
 */
bool rate_limiter_take(struct rate_limiter *limiter, uint32_t scope, const char *address, int limit, int period,
                       int64_t now, int *retry_after);

#endif
