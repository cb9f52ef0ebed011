/* Which services an analyzer judges when several share a fleet:
 * `shard = I/N` (services by a stable hash of their name: CRC32C mod N,
 * the same on every host and release) or `services = a,b,c` (by name).
 * Neither: every service. An analyzer subscribes only to its services'
 * topics (kpi.NAME.), so ZeroMQ filters at the publishers and each gateway
 * sends a shard only its part. Plain C: config.c parses, the engine and
 * main.c ask. */
#ifndef AN_SHARD_H
#define AN_SHARD_H

#include <stdbool.h>
#include <stdint.h>

#include "parse.h"
#include "wire.h"

#define AN_SHARD_MAX 1024		/* N at most */
#define AN_SHARD_MAX_NAMES 4096

struct an_shard {
	uint32_t i, n;			/* shard i of n, 1-based; n 0: none */
	char (*names)[ST_WIRE_NAME_MAX];	/* services = ...; NULL: none */
	uint32_t n_names;
};

/* "I/N" with 1 <= I <= N <= AN_SHARD_MAX, or "none"/"" (no shard).
 * Returns 0 or -EINVAL with the reason in e. */
int an_shard_parse(struct an_shard *s, const char *v, struct st_perr *e);

/* "a,b,c" (service names), or "none"/"" (no list). Returns 0, -EINVAL or
 * -ENOMEM. */
int an_shard_set_names(struct an_shard *s, const char *v, struct st_perr *e);

/* Whether either is set. */
bool an_shard_on(const struct an_shard *s);

/* Whether this analyzer judges service name: always without a shard. */
bool an_shard_owns(const struct an_shard *s, const char *name);

/* "shard 2/4" or "services a,b,c" (cut to fit) into buf. */
void an_shard_describe(const struct an_shard *s, char *buf, size_t len);

void an_shard_free(struct an_shard *s);

#endif
