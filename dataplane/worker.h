/* Per-worker state: one per worker lcore, allocated on its socket, written
 * only by its worker (the counters are read by the main lcore). */
#ifndef DP_WORKER_H
#define DP_WORKER_H

#include <stdint.h>

#include <rte_branch_prediction.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dataplane.h"
#include "flowtab.h"
#include "fragtab.h"
#include "tcp_session.h"
#include "timing.h"

/* Token buckets in fixed point: units of TSC cycles << DP_TB_SHIFT. A packet
 * costs hz/rate cycles; the bucket holds at most burst_ms of them. Costs are
 * recomputed only when the group's rate changes. */
#define DP_TB_SHIFT 16

struct dp_bucket {
	uint64_t tokens_p;
	uint64_t tokens_b;
	uint64_t last_tsc;
	uint64_t rate_pps;	/* what the costs below were computed for */
	uint64_t rate_bps;
	uint64_t cost_p;	/* per packet */
	uint64_t cost_b;	/* per byte */
	uint64_t depth;		/* burst_ms in fixed-point cycles */
};

/* Original destinations of rewritten copies, per group (mirror.c). */
#define DP_ORIG_MAX 4
struct dp_orig {
	int n;
	uint8_t family[DP_ORIG_MAX];
	struct st_ip_addr addr[DP_ORIG_MAX];
};

struct st_ss;

struct dp_worker {
	struct dp_counters cnt;
	struct dp_app *app; /* workers write only neighbour MACs into it */
	unsigned int lcore;
	uint16_t queue;		/* the RX and TX queue index on every port */
	uint64_t rng;		/* xorshift64 state, packet sampling, chaos */
	uint64_t chaos[DP_MAX_SHADOWS]; /* each group's chaos word, read once
					   per burst (chaos.h) */
	struct dp_bucket bucket[DP_MAX_SHADOWS];
	uint16_t n_copies[DP_MAX_SHADOWS];
	struct rte_mbuf *copies[DP_MAX_SHADOWS][DP_BURST];
	struct dp_flowtab flows;
	struct dp_tcp_table tcp;
	struct dp_fragtab frags;	/* client->server datagrams in fragments */
	struct dp_orig orig[DP_MAX_SHADOWS];
	uint32_t n_active[DP_MAX_SHADOWS];	/* each group's instances in use,
						   read once per burst */
	/* Timing windows: the worker writes ts[epoch & 1]; the main lcore
	 * reads the other after epoch_seen shows the worker moved on. */
	uint32_t epoch;
	uint32_t epoch_seen;
	struct dp_tstats ts[2][DP_MAX_TARGETS];
	struct st_ss *cs[2];	/* per-client windows, as ts (clients.h); NULL
				   when client_key is none */
} __rte_cache_aligned;

/* The worker that owns a flow, from its hash: remixed first, so that the
 * hash ranges the groups select by do not all land on one worker. */
static inline uint32_t dp_flow_worker(uint32_t hash, uint32_t n_workers)
{
	return (uint32_t)(((uint64_t)(uint32_t)(hash * 2654435761u) * n_workers) >> 32);
}

/* Sends a burst; what the queue refuses is counted and freed, never kept:
 * holding it would stall the loop behind a slow port. */
static inline void dp_tx_or_drop(struct dp_worker *w, int port_idx, uint16_t port_id,
				 struct rte_mbuf **pkts, uint16_t n)
{
	struct dp_port_counters *pc = &w->cnt.port[port_idx];
	uint16_t sent = rte_eth_tx_burst(port_id, w->queue, pkts, n);

	pc->tx_pkts += sent;
	if (unlikely(sent < n)) {
		pc->tx_full += n - sent;
		rte_pktmbuf_free_bulk(pkts + sent, n - sent);
	}
}

/* The poll loop (worker_loop.c), launched on each worker lcore. */
int worker_main_loop(void *arg);

/* Tees the client->server packets of a classified burst to the shadow
 * groups (mirror.c); with timing on, each copy that leaves with the burst
 * opens its request at now (dp_timing_copy). Queues copies in w->copies;
 * dp_mirror_flush sends them. Never changes or frees the originals. */
void dp_mirror_burst(struct dp_worker *w, struct rte_mbuf **pkts,
		     struct dp_pktinfo *info, uint16_t n, uint64_t now);

/* An answer from a group's instance on port port_idx carries the
 * instance's address: gives info the key of the flow it answers (the
 * address the copy was rewritten from). No change when none matches. */
void dp_map_back(struct dp_worker *w, int port_idx, struct dp_pktinfo *info);

/* Looks at up to budget slots of the fragment table: datagrams older than
 * frag_timeout are forgotten, their held fragments freed and counted
 * (frag_expired, frag_held_expired). */
void dp_frag_scan(struct dp_worker *w, uint64_t now, uint32_t budget);

/* Sends the queued copies of every group; what a TX queue refuses is
 * counted as tx_full (in cnt, the group counters it came from) and freed in
 * bulk. */
void dp_mirror_flush(struct dp_worker *w, struct dp_group_counters *cnt);

/* Load generator traffic from the inject port: copies to the groups that
 * take it (inject = true), never anything to production (mirror.c), timed
 * like dp_mirror_burst's under DP_TARGET_INJ; counts in w->cnt.inject. */
void dp_inject_burst(struct dp_worker *w, struct rte_mbuf **pkts,
		     struct dp_pktinfo *info, uint16_t n, uint64_t now);

#endif
