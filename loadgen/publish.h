/* KPI snapshots of the offered load, kpi.<service>.synthetic, on a ZeroMQ
 * PUB socket the loadgen binds, so the analyzer knows what load the
 * shadows were offered. Runs on the main lcore only. */
#ifndef LG_PUBLISH_H
#define LG_PUBLISH_H

#include <stdint.h>

#include "parse.h"
#include "wire.h"

struct lg_pub;

/* Binds a PUB socket on endpoint and checks the names (service must be a
 * topic name, src non-empty). Returns NULL with errno set and err filled
 * (EINVAL: a bad name, or ZeroMQ's errno for the bind). */
struct lg_pub *lg_pub_open(const char *endpoint, const char *service,
			   const char *src, struct st_perr *err);

/* Publishes one snapshot for the window [t0, t1] (wall ns): packets and
 * bytes sent and the rate the schedule offered, plus the drops by reason.
 * Fills seq, names and role. Returns 0, or a negative errno (the snapshot
 * is lost; publishing goes on). Allocates only while the buffer grows. */
int lg_pub_send(struct lg_pub *p, uint64_t t0, uint64_t t1, uint64_t pkts,
		uint64_t bytes, double offered_rps, const char *const *drop_names,
		const uint64_t *drops, int n_drops);

/* Closes the socket (lingering at most 200 ms) and frees p. NULL-safe. */
void lg_pub_close(struct lg_pub *p);

#endif
