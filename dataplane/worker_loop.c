/* worker_main_loop: the poll loop of one worker lcore. It owns queue
 * w->queue on every port: reads client traffic, forwards it to production
 * (inline) and tees it to the shadow groups, forwards production's answers
 * back, answers the shadows' neighbour requests and absorbs their responses.
 * Nothing here allocates (but mbufs), locks, prints or makes a system call. */
#include <time.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "egress.h"
#include "flow.h"
#include "worker.h"

/* Counts a burst received on a port; returns its bytes, and in *big
 * whether a frame is longer than `fast` (the egress port's tx_fast_max). */
static inline uint64_t count_rx(struct dp_worker *w, int port_idx,
				struct rte_mbuf **pkts, uint16_t n, uint32_t fast, bool *big)
{
	struct dp_port_counters *pc = &w->cnt.port[port_idx];
	uint64_t bytes = 0, over = 0;

	/* A flag, not a running maximum: GCC 12 vectorised the maximum into
	 * a move through the stack per packet (11 instructions a packet, two
	 * thirds of the loop's own in forward only). fast - len in 64 bits
	 * has its top bit set exactly when len > fast: a subtraction and an
	 * or, no compare and no flag to widen; unrolled, the loop's own
	 * increment and branch come once per four packets. */
#pragma GCC unroll 4
	for (unsigned int i = 0; i < n; i++) {
		uint64_t len = pkts[i]->pkt_len;

		bytes += len;
		over |= (uint64_t)fast - len;
	}
	pc->rx_pkts += n;
	pc->rx_bytes += bytes;
	*big = (over >> 63) != 0;
	return bytes;
}

/* Production's traffic on its way out (`bytes` as received): a frame
 * above the egress port's MTU (af_packet hands over IPv4 datagrams the
 * kernel reassembled; a link with a larger MTU) is fragmented again from
 * production's own pool. */
static inline void forward(struct dp_worker *w, int port_idx, uint16_t port_id,
			   struct rte_mbuf **pkts, uint16_t n, uint64_t bytes, bool big)
{
	if (likely(!big))
		(void)dp_tx_counted(w, port_idx, port_id, pkts, n, bytes);
	else
		dp_egress_send(w, port_idx, w->app->ports[port_idx].mtu, pkts, n, w->app->pool, NULL);
}

/* Frames from a shadow port: neighbour requests are answered in place;
 * everything else is the shadows' output: timed against the requests copied
 * to them, counted and absorbed (worker.h). */
void dp_shadow_input(struct dp_worker *w, int port_idx, struct rte_mbuf **pkts,
		     struct dp_pktinfo *info, uint16_t n, uint64_t now, bool impair,
		     uint8_t hops)
{
	struct dp_app *app = w->app;
	struct dp_neigh_table *nt = &app->neigh[port_idx];
	/* Neighbour answers, our TCP ACKs and queued segments the shadows'
	 * ACKs let go. */
	struct rte_mbuf *replies[DP_BURST * 3], *done[DP_BURST];
	int8_t nb[DP_BURST];	/* dp_neigh_input's answer for each frame */
	uint16_t nr = 0, nd = 0;

	dp_classify(w, pkts, info, n, DP_DIR_S2C);
	if (app->port_instances[port_idx]) {
		n = dp_map_back_burst(w, port_idx, pkts, info, n, now, impair, hops);
		if (n == 0)
			return;
	}
	if (impair) {
		/* Chaos on the responses (chaos_direction): read once per
		 * burst, one test per group of the port when there is none. */
		bool back = false;

		for (uint32_t gm = app->port_groups[port_idx]; gm != 0; gm &= gm - 1) {
			int gi = __builtin_ctz(gm);

			dp_chaos_refresh_at(w, gi, now);
			back |= dp_chaos_back_on(w, gi);
		}
		if (unlikely(back))
			n = dp_chaos_rx(w, port_idx, pkts, info, n, now);
	}
	/* Neighbour frames first (answered in place: at most a burst of
	 * replies), then the answers timed, then the TCP sessions: a segment
	 * a session sends in this burst (an ACK here opened the shadow's
	 * window) opens its request after the answers to the earlier ones
	 * closed theirs (an answer later in the burst took the new request
	 * for its own: timed at 0 ns, or never). */
	for (uint16_t i = 0; i < n; i++) {
		nb[i] = (int8_t)dp_neigh_input(nt, pkts[i], &info[i].p, &w->cnt.neigh_learned);
		if (nb[i] >= 0)
			info[i].ok = 0;
		if (nb[i] == 1) {
			replies[nr++] = pkts[i];
			w->cnt.arp_replies++;
		}
	}
	if (app->timing)
		dp_timing_s2c(w, pkts, info, n, -1, app->port_groups[port_idx], now);
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const struct st_pkt *p = &info[i].p;

		if (nb[i] == 1)
			continue;
		/* Room for an ACK and a few segments (more wait in their
		 * queue for the next chance). */
		if (RTE_DIM(replies) - nr < 16) {
			dp_tx_or_drop(w, port_idx, app->ports[port_idx].id, replies, nr);
			nr = 0;
		}
		if (!info[i].ok) {
			if (nb[i] < 0)	/* not a neighbour frame either */
				w->cnt.shadow_other++;
		} else if (app->tcp && p->proto == ST_IPPROTO_TCP && (p->flags & ST_PKT_F_L4))
			nr += dp_tcp_shadow(w, app->port_groups[port_idx], &info[i].key,
					    info[i].hash, p, now, replies + nr,
					    (uint16_t)(RTE_DIM(replies) - nr));
		done[nd++] = m;
	}
	if (nr > 0)
		dp_tx_or_drop(w, port_idx, app->ports[port_idx].id, replies, nr);
	if (nd > 0)
		rte_pktmbuf_free_bulk(done, nd);
}

/* Worker 0's side of software dispatch: keeps its own flows in pkts and
 * hands the others to their workers. A full ring drops (counted): the same
 * as a full RX queue, and never a stall. */
static uint16_t dispatch(struct dp_worker *w, int port_idx, struct rte_mbuf **pkts,
			 uint16_t n)
{
	const struct dp_app *app = w->app;
	const uint32_t nw = app->n_workers;
	struct rte_mbuf *out[DP_MAX_WORKERS][DP_BURST];
	uint16_t n_out[DP_MAX_WORKERS] = { 0 };
	uint16_t kept = 0;

	for (uint16_t i = 0; i < n; i++) {
		const uint8_t *b = rte_pktmbuf_mtod(pkts[i], const uint8_t *);
		uint32_t len = rte_pktmbuf_data_len(pkts[i]), wi = 0;
		struct st_flow_lite f;
		struct st_flow_key key;
		struct st_pkt p;

		/* an ICMP error goes with the flow it quotes, as classified */
		if (st_flow_frame(b, len, NULL, &f) == 0)
			wi = dp_flow_worker(f.hash, nw);
		else if (dp_pkt_parse(pkts[i], &p) == 0 &&
			 ((p.flags & ST_PKT_F_ICMP_ERR) ? st_flow_key_from_icmp_inner(&p, &key, NULL) :
			  st_flow_key_from_pkt(&p, &key, NULL)) == 0)
			wi = dp_flow_worker(st_flow_hash(&key), nw);
		if (wi == 0)
			pkts[kept++] = pkts[i];
		else
			out[wi][n_out[wi]++] = pkts[i];
	}
	for (uint32_t wi = 1; wi < nw; wi++) {
		unsigned int sent;

		if (n_out[wi] == 0)
			continue;
		sent = rte_ring_sp_enqueue_burst(app->dispatch[port_idx][wi],
						 (void **)out[wi], n_out[wi], NULL);
		if (unlikely(sent < n_out[wi])) {
			w->cnt.port[port_idx].dispatch_full += n_out[wi] - sent;
			rte_pktmbuf_free_bulk(out[wi] + sent, n_out[wi] - sent);
		}
	}
	return kept;
}

/* One burst from a port, or from this worker's dispatch ring for ports
 * that cannot spread flows themselves. */
static inline uint16_t rx_burst(struct dp_worker *w, int port_idx, struct rte_mbuf **pkts)
{
	const struct dp_app *app = w->app;
	uint16_t n;

	if (likely(!app->ports[port_idx].sw_dispatch))
		n = rte_eth_rx_burst(app->ports[port_idx].id, w->queue, pkts, DP_BURST);
	else if (w->queue != 0)
		n = (uint16_t)rte_ring_sc_dequeue_burst(app->dispatch[port_idx][w->queue],
							(void **)pkts, DP_BURST, NULL);
	else if ((n = rte_eth_rx_burst(app->ports[port_idx].id, 0, pkts, DP_BURST)) > 0 &&
		 app->n_workers > 1)
		n = dispatch(w, port_idx, pkts, n);
	return n;
}

/* Sends what the main lcore queued (worker 0 only). Rare: a few frames a
 * second while a neighbour is unresolved. */
static void send_ctrl(struct dp_worker *w)
{
	struct rte_mbuf *m;

	while (rte_ring_sc_dequeue(w->app->ctrl_tx, (void **)&m) == 0) {
		if (rte_eth_tx_burst(m->port, w->queue, &m, 1) != 1)
			rte_pktmbuf_free(m);
	}
}

/* Cycles between two sweep chunks so that a table of `slots` is swept
 * once per period_ns. */
static uint64_t sweep_step(const struct dp_app *app, uint32_t slots, uint64_t period_ns)
{
	double cyc = (double)period_ns * (double)app->tsc_hz / 1e9;

	return slots ? (uint64_t)(cyc * DP_SCAN_CHUNK / slots) : 0;
}

int worker_main_loop(void *arg)
{
	struct dp_worker *w = arg;
	const struct dp_app *app = w->app;
	const bool tap = app->cfg.mode == DP_MODE_TAP;
	const bool timing = app->timing;
	const bool classify = timing || app->n_groups > 0;
	const uint16_t q = w->queue;
	const int client = app->client, prod = app->prod, inject = app->inject;
	const uint16_t client_id = app->ports[client].id;
	const uint16_t prod_id = tap ? 0 : app->ports[prod].id;
	/* Frames longer than these take the egress slow path. */
	const uint32_t prod_fast = tap ? UINT32_MAX : app->ports[prod].tx_fast_max;
	const uint32_t client_fast = app->ports[client].tx_fast_max;
	int shadow_idx[DP_MAX_PORTS], n_shadow = 0;
	struct rte_mbuf *pkts[DP_BURST];
	struct dp_pktinfo info[DP_BURST];

	for (int i = 0; i < app->n_ports; i++)
		if (app->port_roles[i] & DP_ROLE_SHADOW)
			shadow_idx[n_shadow++] = i;

	/* Idle sleep (off by default): after this many empty loops. */
	const uint32_t idle_loops = 1024;
	const struct timespec idle_ts = {
		.tv_sec = 0, .tv_nsec = (long)app->cfg.idle_sleep_ns,
	};
	uint32_t empty = 0;

	/* Expiry sweeps, paced rather than a few slots every loop (which
	 * cost a cache miss per slot, per burst): the flow table once per
	 * response_timeout / 10 (at most 100 ms), so timeouts are counted at
	 * most a tenth late; the TCP sessions once per 50 ms, a quarter of
	 * their 200 ms retransmission timeout, and only while there are any. */
	const uint64_t flow_step = sweep_step(app, w->flows.mask + 1,
					      RTE_MIN(app->cfg.response_timeout_ns / 10,
						      (uint64_t)100000000));
	const uint64_t tcp_step = app->tcp ? sweep_step(app, w->tcp.mask + 1, 50000000) : 0;
	uint64_t flow_next = 0, tcp_next = 0;
	/* Fragmented datagrams: once per frag_timeout / 10 (at most 100 ms). */
	const uint64_t frag_step = sweep_step(app, w->frags.mask + 1,
					      RTE_MIN(app->cfg.frag_timeout_ns / 10,
						      (uint64_t)100000000));
	uint64_t frag_next = 0;

	/* Copies come from this lcore's cache of the copies' pool, found once. */
	w->copy_cache = rte_mempool_default_cache(app->copy_pool, rte_lcore_id());
	rte_rcu_qsbr_thread_online(app->qsv, q);
	while (!dp_force_quit) {
		uint16_t n, got = 0;
		uint64_t now, bytes;
		bool big;

		/* Between two rounds this worker holds nothing a reload may
		 * free (a group's old filter). */
		rte_rcu_qsbr_quiescent(app->qsv, q);
		dp_timing_epoch(w);
		n = rx_burst(w, client, pkts);
		/* Stamps are taken per burst, when it is read: a slow TX
		 * (af_packet: a system call per packet) must not move them.
		 * The client's is also the round's, for the sweeps below when
		 * no other port had a burst (one rdtsc a round, not two: each
		 * costs about 25 cycles, a cycle a packet in forward only). */
		now = rte_rdtsc();
		got |= n;
		if (n > 0) {
			bytes = count_rx(w, client, pkts, n, prod_fast, &big);
			/* Only copies need the full view (tap: which side is
			 * the server needs the full parse). Without timing,
			 * the tee hashes and chooses in one pass. */
			if (timing && !tap)
				dp_classify_lazy(w, pkts, info, n, DP_DIR_C2S);
			else if (classify && tap)
				dp_classify(w, pkts, info, n, DP_DIR_TAP);
			/* Requests are timed from the burst's stamp, production's
			 * here and each copy's as it is made (tap: production
			 * is timed passively, both directions arrive here). */
			if (timing && tap)
				dp_timing_tap(w, pkts, info, n, now);
			else if (timing)
				dp_timing_requests(w, pkts, info, n, bytes, now);
			/* Copies are made before the originals are handed to
			 * a TX queue, which may free them at once. */
			if (app->n_groups > 0) {
				if (timing || tap)
					dp_mirror_burst(w, pkts, info, n, now);
				else
					dp_tee_burst(w, pkts, info, n, now);
				dp_mirror_flush(w, w->cnt.group);
			}
			if (tap)
				rte_pktmbuf_free_bulk(pkts, n);
			else
				forward(w, prod, prod_id, pkts, n, bytes, big);
		}
		if (!tap) {
			n = rx_burst(w, prod, pkts);
			got |= n;
			if (n > 0) {
				now = rte_rdtsc();
				bytes = count_rx(w, prod, pkts, n, client_fast, &big);
				if (timing) {
					dp_classify_lazy(w, pkts, info, n, DP_DIR_S2C);
					dp_timing_s2c(w, pkts, info, n, DP_TARGET_PROD, 0, now);
				}
				forward(w, client, client_id, pkts, n, bytes, big);
			}
		}
		if (inject >= 0) {
			n = rx_burst(w, inject, pkts);
			got |= n;
			if (n > 0) {
				now = rte_rdtsc();
				count_rx(w, inject, pkts, n, UINT32_MAX, &big);
				dp_classify(w, pkts, info, n,
					    app->n_servers ? DP_DIR_TAP : DP_DIR_C2S);
				dp_inject_burst(w, pkts, info, n, now);
				dp_mirror_flush(w, w->cnt.inject);
				/* Synthetic load never reaches production. */
				rte_pktmbuf_free_bulk(pkts, n);
			}
		}
		if (q == 0 && unlikely(!rte_ring_empty(app->ctrl_tx)))
			send_ctrl(w);
		for (int s = 0; s < n_shadow; s++) {
			int pi = shadow_idx[s];

			n = rx_burst(w, pi, pkts);
			got |= n;
			if (n > 0) {
				now = rte_rdtsc();
				count_rx(w, pi, pkts, n, UINT32_MAX, &big);
				dp_shadow_input(w, pi, pkts, info, n, now, true, 0);
			}
		}
		/* Answers other workers could not place (handover.c), at
		 * their stamps; the scans below take a now past them (a stamp
		 * ahead of a scan's now read as idle for ~2^64 cycles). */
		if (app->handover[q] != NULL && (n = dp_handover_poll(w, pkts, info)) > 0) {
			got |= n;
			now = rte_rdtsc();
		}
		/* Delayed copies that are due (chaos_delay, chaos_rate) and
		 * copies held for reordering past their time bound. */
		if (unlikely((w->wheel.n | w->n_held) != 0)) {
			/* the scans below take this now too: a response the
			 * drain lets in stamps its flow with it, and a stamp
			 * ahead of a scan's now read as idle for ~2^64 cycles */
			now = rte_rdtsc();
			dp_chaos_drain(w, now);
		}
		if (timing && now >= flow_next) {
			dp_timing_scan(w, now, DP_SCAN_CHUNK);
			flow_next = now + flow_step;
		}
		if (w->frags.n > 0 && now >= frag_next) {
			dp_frag_scan(w, now, DP_SCAN_CHUNK);
			frag_next = now + frag_step;
		}
		if (app->tcp && w->tcp.n > 0 && now >= tcp_next) {
			dp_tcp_scan(w, now, DP_SCAN_CHUNK);
			tcp_next = now + tcp_step;
		}
		if (unlikely(idle_ts.tv_nsec != 0)) {
			/* Shared cores: give the CPU back when there is nothing
			 * to do (as l3fwd-power does). */
			empty = got ? 0 : empty + 1;
			if (empty >= idle_loops)
				nanosleep(&idle_ts, NULL);
		}
	}
	rte_rcu_qsbr_thread_offline(app->qsv, q);
	return 0;
}
