/* Per-worker flow table: fixed capacity chosen at start, open addressing
 * with linear probing (load at most one half), deletion by backward shift so
 * no tombstones pile up. Written and read by its worker only. Full is a
 * counted condition, never a reason to allocate.
 *
 * Each slot is split in two: the hot part (struct dp_flow, one cache line)
 * holds what every timed packet reads and writes on the production path,
 * the key, the flow's targets, its last activity and production's pending
 * request; the cold part (a parallel array of struct dp_pend, one per
 * target the configuration can time: production, each group and each group
 * taking injected traffic, not the DP_MAX_TARGETS there could be) holds
 * the pending requests of the shadow targets and every target's pending
 * SYN, touched by copied packets, SYNs and SYN-ACKs, resets and ICMP
 * errors, new flows and the expiry scan, not by production's requests and
 * answers. */
#ifndef DP_FLOWTAB_H
#define DP_FLOWTAB_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_common.h>
#include <rte_debug.h>
#include <rte_vect.h>

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

struct dp_flowtab {
	struct dp_flow *e;
	struct dp_pend *cold;	/* e[i]'s pends: cold[i * stride ...] */
	uint32_t mask;		/* slots - 1 */
	uint32_t n;		/* flows held */
	uint32_t max;		/* flows allowed */
	uint32_t scan;		/* next slot the expiry scan looks at */
	uint32_t stride;	/* pends per slot: the targets timed */
	int8_t col[DP_MAX_TARGETS];	/* target -> its pend in a slot; -1:
					   never timed */
};

static inline bool dp_flow_used(const struct dp_flow *f)
{
	return f->key.family != 0;
}

/* Allocates room for max_flows on a NUMA socket (rte_zmalloc), with a
 * pending request and SYN per slot for each target in the bit set targets
 * (bit t: target t may be timed; DP_TARGET_PROD is always included). Only
 * those targets may be passed to dp_flow_pend and dp_flow_req. Returns 0,
 * -EINVAL for a bit at or past DP_MAX_TARGETS, or -ENOMEM. */
int dp_flowtab_init(struct dp_flowtab *t, uint32_t max_flows, uint32_t targets, int socket);
void dp_flowtab_fini(struct dp_flowtab *t);

/* The slot a probe for this hash starts at: prefetch it early. */
static inline const struct dp_flow *dp_flowtab_home(const struct dp_flowtab *t,
						    uint32_t hash)
{
	return &t->e[hash & t->mask];
}

/* Target's pending request and SYN of f, in the cold part of f's slot;
 * target one of those dp_flowtab_init was given. */
static inline struct dp_pend *dp_flow_pend(struct dp_flowtab *t, const struct dp_flow *f,
					   int target)
{
	RTE_ASSERT(target >= 0 && target < DP_MAX_TARGETS && t->col[target] >= 0);
	return &t->cold[(size_t)(f - t->e) * t->stride + (size_t)t->col[target]];
}

/* Where target's oldest unanswered request of f is kept. */
static inline uint64_t *dp_flow_req(struct dp_flowtab *t, struct dp_flow *f, int target)
{
	return target == DP_TARGET_PROD ? &f->prod_req_tsc
					: &dp_flow_pend(t, f, target)->req_tsc;
}

/* Whether slot f holds key k (a used key never equals an empty slot's:
 * family 0). The 40-byte compare in two 16-byte vector compares and one
 * 8-byte one where SSE2 is there. */
static inline bool dp_flow_is(const struct dp_flow *f, const struct st_flow_key *k)
{
#ifdef RTE_ARCH_X86
	const uint8_t *a = (const uint8_t *)&f->key, *b = (const uint8_t *)k;
	__m128i e0 = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)a),
				    _mm_loadu_si128((const __m128i *)b));
	__m128i e1 = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(a + 16)),
				    _mm_loadu_si128((const __m128i *)(b + 16)));
	uint64_t t0, t1;

	memcpy(&t0, a + 32, 8);
	memcpy(&t1, b + 32, 8);
	return _mm_movemask_epi8(_mm_and_si128(e0, e1)) == 0xffff && t0 == t1;
#else
	return st_flow_key_eq(&f->key, k);
#endif
}

/* The flow with this key, or NULL. Usually one cache line. */
static inline struct dp_flow *dp_flowtab_lookup(struct dp_flowtab *t,
						const struct st_flow_key *k,
						uint32_t hash)
{
	for (uint32_t i = hash & t->mask;; i = (i + 1) & t->mask) {
		struct dp_flow *f = &t->e[i];

		if (f->hash == hash && dp_flow_is(f, k))
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

		if (f->hash == hash && dp_flow_is(f, k)) {
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
