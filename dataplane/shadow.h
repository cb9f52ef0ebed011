/* Shadow groups at run time: what a worker needs to pick, filter, cap and
 * address the copies of one group. The fields the control socket may change
 * (range, enabled, rates, instances in use) are single words written by the main lcore and
 * read by the workers once per burst: no lock on the fast path. */
#ifndef DP_SHADOW_H
#define DP_SHADOW_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_bpf.h>
#include <rte_ether.h>

#include "chaos.h"
#include "chaos_fx.h"
#include "config.h"
#include "neigh.h"

/* A compiled filter: eBPF from a pcap expression, JIT-compiled where the
 * CPU allows. */
struct dp_filter {
	struct rte_bpf *bpf;
	uint64_t (*jit)(void *);	/* NULL: interpreted */
};

/* Whether the filter f lets packet m through (NULL: everything). */
static inline bool dp_filter_pass(const struct dp_filter *f, struct rte_mbuf *m)
{
	return f == NULL || (f->jit ? f->jit(m) : rte_bpf_exec(f->bpf, m)) != 0;
}

struct dp_group {
	char name[DP_NAME_LEN];
	uint16_t port_id;
	uint8_t port_idx;		/* index into the app's ports (counters) */
	enum dp_sampling sampling;
	struct dp_neigh_table *neigh;	/* the shadow port's table */
	uint32_t mtu;			/* copies above it are fragmented (main.c
					   sets it: the group's, at most the
					   port's) */
	uint32_t tx_fast_max;		/* mtu + Ethernet header */

	/* Changed at run time by the main lcore (__atomic stores). */
	uint64_t range_lo;		/* flow hash range [lo, hi), or for packet */
	uint64_t range_hi;		/* sampling [0, hi) of a 32-bit random */
	uint32_t range_seq;		/* the two's sequence counter, odd while
					   the main lcore writes (a seqlock: a
					   worker reading an old hi with a new lo
					   copied some 60% of the flows for a
					   burst when a range moved past its end) */
	uint32_t enabled;
	uint64_t rate_pps;		/* whole group, all workers; 0 none */
	uint64_t rate_bps;
	uint32_t burst_ms;
	uint64_t chaos;			/* the chaos in force, one word (chaos.h);
					   0: none */
	/* ... and the impairments (chaos_fx.h). The word and fx change
	 * together under chaos_seq, a sequence counter: odd while the main
	 * lcore writes; a worker takes a copy only when it read the same even
	 * value before and after copying (dp_chaos_refresh), else keeps the
	 * setting it had, for one more burst. */
	uint32_t chaos_seq;
	struct dp_chaos_fx chaos_fx;
	struct dp_chaos_params chaos_params; /* main lcore only: shown back */

	/* The filter: NULL, everything. A reload swaps the pointer
	 * (__atomic) and frees the old program only once every worker has
	 * passed a quiescent point since (reload.c, app->qsv): a worker
	 * loads it once per packet and never keeps it across loop rounds. */
	struct dp_filter *filter;

	/* Flows are spread by hash over inst[0 .. n_active): set_instances
	 * changes n_active (and instances_count with it) at run time. Answers
	 * are recognised from any of the n_instances listed, so those of an
	 * instance taken out of use are still timed and absorbed. */
	int n_instances;		/* listed */
	uint32_t n_active;		/* in use, 1..n_instances (0 when none
					   are listed); __atomic */
	struct dp_neigh *inst[DP_MAX_INSTANCES];
	bool has_dst_mac;
	struct rte_ether_addr dst_mac;
	uint32_t instances_count;	/* for KPIs; __atomic */
	bool inject;
	uint64_t inject_hi;		/* injected flows with hash < inject_hi */
	char service[DP_NAME_LEN];	/* KPI service name of this group */
};

/* Builds a group from its config: compiles the filter (libpcap) to eBPF
 * (rte_bpf, JIT where the CPU allows), registers the addresses to resolve in
 * the port's neighbour table (instances, else the servers). Returns 0, or a
 * negative errno with err set ("[shadow.canary] filter: syntax error"). */
int dp_group_init(struct dp_group *g, const struct dp_shadow_cfg *c,
		  const struct dp_config *cfg, uint16_t port_id, uint8_t port_idx,
		  struct dp_neigh_table *neigh, struct st_perr *err);

/* Releases the filter. Never fails. */
void dp_group_fini(struct dp_group *g);

/* Compiles a pcap expression to a filter ("" : *out NULL, no filter).
 * Returns 0, or a negative errno with err set ("filter 'x': syntax
 * error"). Costs a libpcap compile and a JIT: main lcore, never a worker. */
int dp_filter_compile(const char *expr, struct dp_filter **out, struct st_perr *err);

/* Frees a filter no worker can still be running (NULL: nothing). */
void dp_filter_free(struct dp_filter *f);

/* Puts f in force on a running group (main lcore) and returns the one it
 * replaces, which workers may still be running until each has passed a
 * quiescent point (reload.c frees it then). */
struct dp_filter *dp_group_swap_filter(struct dp_group *g, struct dp_filter *f);

/* Sets a running group's sampling (main lcore): workers read it once per
 * burst. Returns 0 or -EINVAL (packet sampling with an offset). */
int dp_group_set_sampling(struct dp_group *g, enum dp_sampling s);

/* Applies a new share/offset to a running group (main lcore). Returns 0 or
 * -EINVAL when offset + share is past 1 or the group samples packets with an
 * offset. Workers see it at their next burst. */
int dp_group_set_share(struct dp_group *g, double share, double offset);

/* Spreads the group's new flows over the first n of its listed instances
 * (main lcore) and reports n in its KPIs from then on. Returns 0, -ENOENT
 * when the group lists no instances, or -ERANGE when n is outside
 * 1..n_instances; nothing changes on error. Workers see it at their next
 * burst; TCP sessions already shadowed keep their instance. */
int dp_group_set_instances(struct dp_group *g, uint32_t n);

/* The number of listed instances new flows are spread over (0: none
 * listed). */
uint32_t dp_group_instances(const struct dp_group *g);

/* Applies a chaos setting (the word, dp_chaos_pack, and the impairments p,
 * NULL: none) to a running group (main lcore only: one writer), under the
 * group's sequence counter. Never fails; workers see the whole change at a
 * burst after it, never a part of it. */
void dp_group_set_chaos(struct dp_group *g, uint64_t word, const struct dp_chaos_params *p);

/* Whether any chaos is in force on the group (its word or an impairment):
 * a KPI snapshot taken then is taken under chaos. Main lcore. */
bool dp_group_chaos_any(const struct dp_group *g);

/* Reads back the share the group runs with. */
double dp_group_share(const struct dp_group *g);
double dp_group_offset(const struct dp_group *g);

/* Group g's range as a pair: true, with *lo, *hi and the sequence they
 * were read at (*seq), when no set_share ran across the read (a seqlock's
 * reader; the main lcore is the only writer). */
static inline bool dp_group_range_try(const struct dp_group *g, uint32_t *seq, uint64_t *lo,
				      uint64_t *hi)
{
	uint32_t s1 = __atomic_load_n(&g->range_seq, __ATOMIC_ACQUIRE);

	if (s1 & 1)
		return false;
	*lo = __atomic_load_n(&g->range_lo, __ATOMIC_RELAXED);
	*hi = __atomic_load_n(&g->range_hi, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	*seq = s1;
	return __atomic_load_n(&g->range_seq, __ATOMIC_RELAXED) == s1;
}

#endif
