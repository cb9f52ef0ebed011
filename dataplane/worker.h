/* Per-worker state: one per worker lcore, allocated on its socket, written
 * only by its worker (the counters are read by the main lcore). */
#ifndef DP_WORKER_H
#define DP_WORKER_H

#include <stdint.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "chaos_fx.h"
#include "chaos_wheel.h"
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
	int64_t tokens_b;	/* below 0 after a copy larger than the depth */
	uint64_t last_tsc;
	uint64_t rate_pps;	/* what the costs below were computed for */
	uint64_t rate_bps;
	uint32_t burst_ms;	/* ... and the depth for */
	uint64_t cost_p;	/* per packet */
	uint64_t cost_b;	/* per byte */
	uint64_t depth;		/* burst_ms in fixed-point cycles */
	uint64_t room;		/* depth and the debt of a largest copy */
};

/* Original destinations of rewritten copies, per group (mirror.c). */
#define DP_ORIG_MAX 4
struct dp_orig {
	int n;
	int next;	/* full: the slot the next new address takes */
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
	uint64_t chaos[DP_MAX_SHADOWS]; /* each group's chaos word as this
					   worker runs it this burst (chaos.h:
					   a flap schedule changes it) */
	uint64_t chaos_pub[DP_MAX_SHADOWS]; /* ... and as published */
	uint32_t n_held;	/* copies held back for reordering, all groups */
	/* each group's impairments as last copied whole (dp_chaos_refresh),
	 * the sequence they were copied at, and this worker's chaos state */
	uint32_t chaos_seq[DP_MAX_SHADOWS];
	/* each group's range as last read whole, and its sequence (sel_read) */
	uint32_t range_seq[DP_MAX_SHADOWS];
	uint64_t range_lo[DP_MAX_SHADOWS], range_hi[DP_MAX_SHADOWS];
	struct dp_chaos_fx fx[DP_MAX_SHADOWS];
	struct dp_chaos_state cst[DP_MAX_SHADOWS];
	/* ... and on the shadows' responses (chaos_rx.c: its Gilbert-Elliott
	 * state and its delay's last draw and release, apart from the
	 * copies') */
	struct dp_chaos_state cst_back[DP_MAX_SHADOWS];
	struct dp_wheel wheel;	/* delayed copies and responses (chaos_tx.c,
				   chaos_rx.c) */
	struct dp_bucket bucket[DP_MAX_SHADOWS];
	uint16_t n_copies[DP_MAX_SHADOWS];
	uint32_t copy_holes;	/* bit g: a slot of copies[g] is NULL (no mbuf
				   for it: mirror.c's make_copies) */
	struct rte_mbuf *copies[DP_MAX_SHADOWS][DP_BURST];
	struct rte_mempool_cache *copy_cache; /* the copies' pool's cache of
						 this worker's lcore (NULL:
						 none, or not known yet) */
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

/* m, refused by a TX queue (the caller frees it): when it is a
 * transmission of a TCP session's queued segment (a clone of the queue's
 * copy), put off, not lost, as its session sends it again: counted
 * tcp_send_tx_full (a first send no longer among the copies:
 * dp_tcp_first_refused), and true; otherwise false, for the caller to
 * count. */
static inline bool dp_tcp_put_off(struct dp_worker *w, struct rte_mbuf *m)
{
	if (!RTE_MBUF_CLONED(m) || rte_mbuf_from_indirect(m)->pool != w->app->tcpq_pool)
		return false;
	w->cnt.tcp_send_tx_full++;
	dp_tcp_first_refused(w, m);
	return true;
}

/* Sends a burst of `bytes` (the caller's sum, taken while the mbufs were
 * its own: a PMD may free what it took, net_pcap and af_packet do, before
 * tx_burst returns); what the queue refuses is counted and freed, never
 * kept: holding it would stall the loop behind a slow port. Returns the
 * bytes of the refused that were TCP session segments (put off, counted
 * tcp_send_tx_full: their session sends them again). */
static inline uint64_t dp_tx_counted(struct dp_worker *w, int port_idx, uint16_t port_id,
				     struct rte_mbuf **pkts, uint16_t n, uint64_t bytes)
{
	struct dp_port_counters *pc = &w->cnt.port[port_idx];
	uint16_t sent = rte_eth_tx_burst(port_id, w->queue, pkts, n);
	uint64_t seg_bytes = 0;

	pc->tx_pkts += sent;
	if (unlikely(sent < n)) {
		for (uint16_t i = sent; i < n; i++) {
			bytes -= pkts[i]->pkt_len;
			if (dp_tcp_put_off(w, pkts[i]))
				seg_bytes += pkts[i]->pkt_len;
		}
		pc->tx_full += n - sent;
		rte_pktmbuf_free_bulk(pkts + sent, n - sent);
	}
	pc->tx_bytes += bytes;
	return seg_bytes;
}

/* The same, summing the burst's bytes first. */
static inline void dp_tx_or_drop(struct dp_worker *w, int port_idx, uint16_t port_id,
				 struct rte_mbuf **pkts, uint16_t n)
{
	uint64_t bytes = 0;

	for (unsigned int i = 0; i < n; i++)
		bytes += pkts[i]->pkt_len;
	(void)dp_tx_counted(w, port_idx, port_id, pkts, n, bytes);
}

/* The worker's xorshift64: packet sampling and chaos. */
static inline uint32_t dp_rng32(struct dp_worker *w)
{
	uint64_t x = w->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	w->rng = x;
	return (uint32_t)(x >> 32);
}

/* Takes group gi's chaos setting (word and impairments) into the worker's
 * copy when it changed: only a copy read between two equal even values of
 * the group's sequence counter is taken (a seqlock's reader), so a worker
 * never runs with half a change; a torn read keeps the old setting until
 * the next burst. One load and a compare when nothing changed. */
static inline void dp_chaos_refresh(struct dp_worker *w, int gi)
{
	const struct dp_group *g = &w->app->groups[gi];
	uint32_t s1 = __atomic_load_n(&g->chaos_seq, __ATOMIC_ACQUIRE), s2;
	const uint64_t *src = (const uint64_t *)&g->chaos_fx;
	uint64_t buf[DP_FX_WORDS], word;

	if (likely(s1 == w->chaos_seq[gi]) || (s1 & 1))
		return;
	word = __atomic_load_n(&g->chaos, __ATOMIC_RELAXED);
	for (size_t i = 0; i < DP_FX_WORDS; i++)
		buf[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	s2 = __atomic_load_n(&g->chaos_seq, __ATOMIC_RELAXED);
	if (s1 != s2)
		return;
	w->chaos[gi] = word;
	w->chaos_pub[gi] = word;
	memcpy(&w->fx[gi], buf, sizeof(buf));
	w->chaos_seq[gi] = s1;
}

/* Takes group gi's setting when it changed (dp_chaos_refresh), then, under
 * a flap schedule, the word for the phase at now. Once per burst. */
static inline void dp_chaos_refresh_at(struct dp_worker *w, int gi, uint64_t now)
{
	dp_chaos_refresh(w, gi);
	if (unlikely(w->fx[gi].on & DP_FX_FLAP))
		w->chaos[gi] = dp_chaos_flap_word(w->chaos_pub[gi],
						  dp_chaos_flap_down(&w->fx[gi], now));
}

/* The chaos on copies about to leave (chaos_tx.c): random and bursty loss,
 * corruption, duplication and delay on the n copies in w->copies[gi]
 * (counted in gc, inject: they are injected traffic). Sends what leaves
 * now (dp_copies_send); the delayed wait in the worker's wheel. Takes every
 * mbuf. */
void dp_chaos_tx(struct dp_worker *w, int gi, bool inject, struct dp_group_counters *gc,
		 uint16_t n);

/* Whether group gi's path is impaired for this worker (chaos_tx.c runs). */
static inline bool dp_chaos_on(const struct dp_worker *w, int gi)
{
	return dp_chaos_loss_thr(w->chaos[gi]) != 0 || w->fx[gi].on != 0;
}

/* Whether group gi's responses are impaired for this worker (chaos_rx.c
 * runs on them): chaos_direction responses or both, with a loss or a delay
 * in force. */
static inline bool dp_chaos_back_on(const struct dp_worker *w, int gi)
{
	const uint64_t b = w->fx[gi].back;

	return (b & ~DP_FX_LOSS) != 0 ||
	       ((b & DP_FX_LOSS) && dp_chaos_loss_thr(w->chaos[gi]) != 0);
}

/* A tag of the worker's timing wheel for a shadow's response held by
 * chaos_rx.c: its group, this bit, and the port it came from. (chaos_tx.c
 * tags copies with the group and its own bits below this one.) */
#define DP_WTAG_RESPONSE	0x400
#define DP_WTAG_PORT_SHIFT	11
#define DP_WTAG_PORT(tag)	(((tag) >> DP_WTAG_PORT_SHIFT) & 0x1f)

/* The chaos on the responses of a burst from shadow port port_idx, already
 * classified (and mapped back to their groups): random and bursty loss
 * (freed, counted response_lost, response_lost_burst) and delay (held in
 * the wheel, counted response_delayed, or dropped as response_queue_full
 * when the wheel or the copies' pool has no room). TCP and UDP only; other
 * frames stay. Keeps the rest of pkts and info in order at their front and
 * returns how many. Only for groups with dp_chaos_back_on. */
uint16_t dp_chaos_rx(struct dp_worker *w, int port_idx, struct rte_mbuf **pkts,
		     struct dp_pktinfo *info, uint16_t n, uint64_t now);

/* Reads n held responses of one tag that are due (dp_chaos_drain): through
 * dp_shadow_input as if they had just arrived, at now, without the chaos
 * again. Takes every mbuf. */
void dp_chaos_rx_release(struct dp_worker *w, uint16_t tag, struct rte_mbuf **pkts, uint16_t n,
			 uint64_t now);

/* Frames from shadow port port_idx (worker_loop.c): neighbour requests
 * answered, TCP sessions fed, responses timed against their requests and
 * absorbed; impair: the responses' chaos applies first (a burst just read;
 * not held responses coming back). info is scratch for n. Takes every
 * mbuf. hops: workers the frames were handed to (dp_handover_mark), 0 for
 * a burst just read, DP_HOPS_LAST for frames no other worker may take. */
#define DP_HOPS_LAST UINT8_MAX
void dp_shadow_input(struct dp_worker *w, int port_idx, struct rte_mbuf **pkts,
		     struct dp_pktinfo *info, uint16_t n, uint64_t now, bool impair,
		     uint8_t hops);

/* The chaos of group gi's path on a TCP session's own packets towards its
 * shadow (segments the window let go, retransmissions, ACKs): a bad network
 * treats them as it treats the copies, and the session's retransmission
 * repairs what it loses. Counted under the group's drops and effects (its
 * injected traffic's, for a session the inject port opened), not among its
 * copies (they were counted when first sent). Takes every mbuf. */
void dp_chaos_tx_tcp(struct dp_worker *w, int gi, bool inject, struct rte_mbuf **pkts,
		     uint16_t n);

/* Sends the delayed copies that are due, and the copies held back for
 * reordering whose time bound passed (chaos_tx.c). Call every loop
 * iteration while w->wheel.n or w->n_held is not 0. */
void dp_chaos_drain(struct dp_worker *w, uint64_t now);

/* Makes and frees the worker's timing wheel of cap copies (main lcore,
 * before and after the poll loop): init returns 0 or a negative errno;
 * fini frees every copy still waiting. */
int dp_chaos_worker_init(struct dp_worker *w, uint32_t cap);
void dp_chaos_worker_fini(struct dp_worker *w);

/* The poll loop (worker_loop.c), launched on each worker lcore. */
int worker_main_loop(void *arg);

/* Tees the client->server packets of a classified burst to the shadow
 * groups (mirror.c); with timing on, each copy that leaves with the burst
 * opens its request at now (dp_timing_copy). Queues copies in w->copies;
 * dp_mirror_flush sends them. Never changes or frees the originals. */
void dp_mirror_burst(struct dp_worker *w, struct rte_mbuf **pkts,
		     struct dp_pktinfo *info, uint16_t n, uint64_t now);

/* dp_classify_lazy and dp_mirror_burst in one pass over a client burst,
 * for when nothing else reads the burst's info (timing off, inline): a
 * packet st_flow_frame takes and no group's share holds costs its hash and
 * a compare, and is not described in info at all. Counts what
 * dp_classify_lazy counts; the groups get what dp_mirror_burst gives. */
void dp_tee_burst(struct dp_worker *w, struct rte_mbuf **pkts, struct dp_pktinfo *info,
		  uint16_t n, uint64_t now);

/* An answer from a group's instance on port port_idx carries the
 * instance's address: gives info the key of the flow it answers (the
 * address the copy was rewritten from). No change when none matches.
 * may_defer: true, and nothing changed, for an instance's answer to a flow
 * this worker neither times nor shadows a TCP session of (another worker
 * may: handover.c); false leaves the fallbacks as with one worker. */
bool dp_map_back(struct dp_worker *w, int port_idx, struct dp_pktinfo *info, bool may_defer);

/* Answers handed over between workers (handover.c). A group with instances
 * gets its shadows' answers from the instances' addresses, which RSS, the
 * kernel's fanout or the dispatch hash send to the worker their own hash
 * picks, not to the flow's. An answer whose flow a worker does not know
 * goes to the next worker (queue + 1, round), at most n_workers - 1 times,
 * with its port, its stamp and whether its chaos was applied; the last
 * takes it as one worker would. */
struct dp_handover_mark {
	uint64_t stamp;		/* when it was first read */
	uint8_t hops;		/* workers it was handed to */
	uint8_t port_idx;
	uint8_t impaired;	/* the responses' chaos was applied */
};

/* Registers the mark's mbuf dynamic field; its offset, or -1 (rte_errno). */
int dp_handover_register(void);

/* dp_map_back for n frames of port_idx (dp_shadow_input): the answers this
 * worker cannot place, when another may (hops below n_workers - 1), go to
 * the next worker's ring and out of pkts and info; what the ring refuses
 * stays, counted handover_full, mapped as with one worker. Returns the
 * frames kept at the front of pkts and info. */
uint16_t dp_map_back_burst(struct dp_worker *w, int port_idx, struct rte_mbuf **pkts,
			   struct dp_pktinfo *info, uint16_t n, uint64_t now, bool impair,
			   uint8_t hops);

/* The answers handed to this worker, through dp_shadow_input: up to four
 * bursts; pkts and info are scratch for one. Returns how many. */
uint16_t dp_handover_poll(struct dp_worker *w, struct rte_mbuf **pkts, struct dp_pktinfo *info);

/* Looks at up to budget slots of the fragment table: datagrams older than
 * frag_timeout are forgotten, their held fragments freed and counted
 * (frag_expired, frag_held_expired). */
void dp_frag_scan(struct dp_worker *w, uint64_t now, uint32_t budget);

/* Sends the queued copies of every group; what a TX queue refuses is
 * counted as tx_full (in cnt, the group counters it came from) and freed in
 * bulk. */
void dp_mirror_flush(struct dp_worker *w, struct dp_group_counters *cnt);

/* Sends n copies of group gi (counted in gc): fragmented when one is above
 * the group's MTU; what the TX queue refuses is counted tx_full, taken back
 * out of gc's copies and freed. Takes every mbuf. */
void dp_copies_send(struct dp_worker *w, int gi, struct dp_group_counters *gc,
		    struct rte_mbuf **c, uint16_t n);

/* Load generator traffic from the inject port: copies to the groups that
 * take it (inject = true), never anything to production (mirror.c), timed
 * like dp_mirror_burst's under DP_TARGET_INJ; counts in w->cnt.inject. */
void dp_inject_burst(struct dp_worker *w, struct rte_mbuf **pkts,
		     struct dp_pktinfo *info, uint16_t n, uint64_t now);

#endif
