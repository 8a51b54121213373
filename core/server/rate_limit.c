/*
 * rate_limit.c - per-address request counters for public routes (see
 * rate_limit.h). A set-associative table: the key (route, address) is hashed
 * with SipHash under a random key of the process (libsodium's
 * crypto_shorthash), so that nobody can choose addresses that land in one
 * bucket, and looked up among the RATE_LIMIT_WAYS slots of its bucket.
 *
 * Why not the login limit of auth.c: that one keeps each failed login as a
 * row in the database, which suits ten failures per account in fifteen
 * minutes, but would make every anonymous request a durable write on the one
 * writer (and a flood of them a flood of writes); these counters are memory
 * only and are lost on restart, which only gives every address a fresh
 * window.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include "crm.h"
#include "rate_limit.h"

#define BUCKETS (RATE_LIMIT_SLOTS / RATE_LIMIT_WAYS)

struct slot {
	uint64_t key;              /* 0: free */
	int64_t window_start;
	uint32_t period;           /* seconds: the window's length */
	uint32_t count;            /* requests let through in the window */
};

struct rate_limiter {
	pthread_mutex_t lock;
	unsigned char hash_key[crypto_shorthash_KEYBYTES];
	struct slot slots[RATE_LIMIT_SLOTS];
};

struct rate_limiter *rate_limiter_new(void)
{
	struct rate_limiter *limiter = xcalloc(1, sizeof(*limiter));
	pthread_mutex_init(&limiter->lock, NULL);
	randombytes_buf(limiter->hash_key, sizeof(limiter->hash_key));
	return limiter;
}

void rate_limiter_free(struct rate_limiter *limiter)
{
	if (!limiter)
		return;
	pthread_mutex_destroy(&limiter->lock);
	free(limiter);
}

/*
 * The bytes that name the client: 4 for IPv4 (and IPv4-mapped IPv6), the
 * first 8 (the /64) for other IPv6 addresses, none for an unknown address,
 * after a byte saying which.
 */
static size_t address_bytes(const char *address, unsigned char out[9])
{
	unsigned char raw[16];
	if (address && inet_pton(AF_INET, address, raw) == 1) {
		out[0] = 4;
		memcpy(out + 1, raw, 4);
		return 5;
	}
	if (address && inet_pton(AF_INET6, address, raw) == 1) {
		static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		if (memcmp(raw, mapped, sizeof(mapped)) == 0) {
			out[0] = 4;
			memcpy(out + 1, raw + 12, 4);
			return 5;
		}
		out[0] = 6;
		memcpy(out + 1, raw, 8);
		return 9;
	}
	out[0] = 0;
	return 1;
}

bool rate_limiter_take(struct rate_limiter *limiter, uint32_t scope, const char *address, int limit, int period,
                       int64_t now, int *retry_after)
{
	unsigned char material[4 + 9], hash[crypto_shorthash_BYTES];
	material[0] = (unsigned char)(scope >> 24);
	material[1] = (unsigned char)(scope >> 16);
	material[2] = (unsigned char)(scope >> 8);
	material[3] = (unsigned char)scope;
	size_t len = 4 + address_bytes(address, material + 4);
	crypto_shorthash(hash, material, len, limiter->hash_key);
	uint64_t key = 0;
	for (size_t i = 0; i < crypto_shorthash_BYTES; i++)
		key = key << 8 | hash[i];
	if (key == 0)
		key = 1;   /* 0 marks a free slot */
	if (period < 1)
		period = 1;

	pthread_mutex_lock(&limiter->lock);
	struct slot *bucket = &limiter->slots[(key % BUCKETS) * RATE_LIMIT_WAYS], *slot = NULL, *victim = NULL;
	bool victim_closed = false;
	for (int i = 0; i < RATE_LIMIT_WAYS && !slot; i++) {
		struct slot *s = &bucket[i];
		if (s->key == key) {
			slot = s;
			break;
		}
		bool closed = s->key == 0 || now >= s->window_start + (int64_t)s->period;
		if (victim_closed)
			continue;
		if (closed || !victim || s->count < victim->count
		    || (s->count == victim->count && s->window_start < victim->window_start)) {
			victim = s;
			victim_closed = closed;
		}
	}
	if (!slot) {
		slot = victim;
		*slot = (struct slot) { .key = key, .window_start = now, .period = (uint32_t)period };
	} else if (now >= slot->window_start + (int64_t)slot->period || now < slot->window_start) {
		slot->window_start = now;
		slot->count = 0;
	}
	slot->period = (uint32_t)period;
	bool allowed = slot->count < (uint32_t)limit;
	if (allowed)
		slot->count++;
	else if (retry_after)
		*retry_after = (int)(slot->window_start + period - now) > 0 ? (int)(slot->window_start + period - now) : 1;
	pthread_mutex_unlock(&limiter->lock);
	return allowed;
}
