/* Per-worker flow table: fixed capacity chosen at start, open addressing
 * with linear probing (load at most one half), deletion by backward shift so
 * no tombstones pile up. Written and read by its worker only. Full is a
 * counted condition, never a reason to allocate.
 *
 * Each slot is split in two: the hot part (struct dp_flow, one cache line)
 * holds what every timed packet reads and writes on the production path,
 * the key, the flow's targets, its last activity and production's pending
 * request; the cold part (struct dp_flow_pend, a parallel array) holds the
 * pending requests of the shadow targets and every target's pending SYN,
 * touched only by copied packets, SYNs and the expiry scan. */
#ifndef DP_FLOWTAB_H
#define DP_FLOWTAB_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>

#include "config.h"
#include "flow.h"

/* Timing targets: production, each shadow group's mirrored traffic, and
 * each group's share of the load generator's traffic from the inject port
 * (published as target "synthetic" of the group's service). */
#define DP_TARGET_PROD 0
#define DP_TARGET_GROUP(g) (1 + (g))
#define DP_TARGET_INJ(g) (1 + DP_MAX_SHADOWS + (g))
#define DP_MAX_TARGETS (1 + 2 * DP_MAX_SHADOWS)
#define DP_TARGET_IS_INJ(t) ((t) > DP_MAX_SHADOWS)

struct dp_flow {
	struct st_flow_key key;	/* key.family 0: the slot is empty (a used
				   key has family 4 or 6) */
	uint32_t hash;
	uint32_t targets;	/* bit t: the flow is timed towards target t */
	uint64_t last_tsc;
	uint64_t prod_req_tsc;	/* production's oldest unanswered request,
				   0: none */
} __rte_cache_aligned;

struct dp_pend {
	uint64_t req_tsc;	/* oldest unanswered request, 0: none (unused
				   for DP_TARGET_PROD: see prod_req_tsc) */
	uint64_t syn_tsc;	/* SYN sent, SYN-ACK not seen yet, 0: none */
};

struct dp_flow_pend {
	struct dp_pend pend[DP_MAX_TARGETS];
};

struct dp_flowtab {
	struct dp_flow *e;
	struct dp_flow_pend *cold;	/* cold[i] goes with e[i] */
	uint32_t mask;		/* slots - 1 */
	uint32_t n;		/* flows held */
	uint32_t max;		/* flows allowed */
	uint32_t scan;		/* next slot the expiry scan looks at */
};

static inline bool dp_flow_used(const struct dp_flow *f)
{
	return f->key.family != 0;
}

/* Allocates room for max_flows on a NUMA socket (rte_zmalloc). Returns 0,
 * or -ENOMEM. */
int dp_flowtab_init(struct dp_flowtab *t, uint32_t max_flows, int socket);
void dp_flowtab_fini(struct dp_flowtab *t);

/* The slot a probe for this hash starts at: prefetch it early. */
static inline const struct dp_flow *dp_flowtab_home(const struct dp_flowtab *t,
						    uint32_t hash)
{
	return &t->e[hash & t->mask];
}

/* The cold part of f's slot. */
static inline struct dp_flow_pend *dp_flowtab_cold(struct dp_flowtab *t,
						   const struct dp_flow *f)
{
	return &t->cold[f - t->e];
}

/* Where target's oldest unanswered request of f is kept. */
static inline uint64_t *dp_flow_req(struct dp_flowtab *t, struct dp_flow *f, int target)
{
	return target == DP_TARGET_PROD ? &f->prod_req_tsc
					: &dp_flowtab_cold(t, f)->pend[target].req_tsc;
}

/* The flow with this key, or NULL. Usually one cache line. */
static inline struct dp_flow *dp_flowtab_lookup(struct dp_flowtab *t,
						const struct st_flow_key *k,
						uint32_t hash)
{
	for (uint32_t i = hash & t->mask;; i = (i + 1) & t->mask) {
		struct dp_flow *f = &t->e[i];

		/* a used key never equals an empty slot's (family 0) */
		if (f->hash == hash && st_flow_key_eq(&f->key, k))
			return f;
		if (!dp_flow_used(f))
			return NULL;
	}
}

/* Adds the flow at free slot i (from a probe that ended there): zeroed
 * (both parts), key and hash set. NULL when the table holds max flows
 * already. */
struct dp_flow *dp_flowtab_add_at(struct dp_flowtab *t, uint32_t i,
				  const struct st_flow_key *k, uint32_t hash);

/* The flow with this key, added (as by dp_flowtab_add_at) if absent; NULL
 * when the table holds max flows already. *added says which. In line: it
 * runs for every timed packet, and a flow seen before is the common case. */
static inline struct dp_flow *dp_flowtab_insert(struct dp_flowtab *t,
						const struct st_flow_key *k,
						uint32_t hash, bool *added)
{
	for (uint32_t i = hash & t->mask;; i = (i + 1) & t->mask) {
		struct dp_flow *f = &t->e[i];

		if (f->hash == hash && st_flow_key_eq(&f->key, k)) {
			*added = false;
			return f;
		}
		if (!dp_flow_used(f)) {
			*added = true;
			return dp_flowtab_add_at(t, i, k, hash);
		}
	}
}

/* Removes f (a pointer from lookup/insert); other pointers into the table
 * may move. */
void dp_flowtab_remove(struct dp_flowtab *t, struct dp_flow *f);

#endif
