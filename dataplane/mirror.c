/* The tee: which packets each shadow group gets, and the copies themselves.
 * Runs inside the worker's poll loop: no allocation but from the copy pool,
 * no lock, no print, no system call. */
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_ether.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_prefetch.h>

#include "csum.h"
#include "egress.h"
#include "flow.h"
#include "worker.h"

/* Copies up to this size are copied whole into one mbuf of the copy pool;
 * larger ones get a private header mbuf chained to an indirect mbuf for the
 * rest, so their payload is never copied. */
#define COPY_WHOLE_MAX 192

/* Small and in one piece: copied whole (make_copies, make_copy). */
static inline bool copy_whole(const struct rte_mbuf *m)
{
	return m->nb_segs == 1 && m->pkt_len <= COPY_WHOLE_MAX;
}

/* A whole copy's header, written as DPDK's vector RX paths write a fresh
 * mbuf's: rearm_data in one store (data_off, refcnt 1, one segment, the
 * port), no offload flags, no packet type, the lengths. An mbuf from its
 * pool already has next NULL and one segment (rte_mbuf_raw_alloc's
 * invariant), so its second cache line is not touched; with no offload
 * flag, no PMD reads tx_offload. */
static inline void copy_header(struct rte_mbuf *c, const struct rte_mbuf *m, uint16_t len)
{
	uint64_t rearm = (uint64_t)RTE_PKTMBUF_HEADROOM | (uint64_t)1 << 16 | (uint64_t)1 << 32 |
			 (uint64_t)m->port << 48;

	memcpy(&c->rearm_data, &rearm, sizeof(rearm));
	c->ol_flags = 0;
	c->packet_type = 0;
	c->pkt_len = len;
	c->data_len = len;
	c->vlan_tci = 0;
	c->vlan_tci_outer = 0;
}

/* The frame's bytes into a copy's room (COPY_WHOLE_MAX fits): rounded up
 * to 64 bytes, a few fixed moves instead of rte_memcpy's branches on the
 * length, when the source buffer has that much past the frame's start (its
 * bytes past the frame are copied and never sent). */
static inline void copy_bytes(void *dst, const struct rte_mbuf *m, uint16_t len)
{
	const uint8_t *src = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t room = (uint32_t)m->buf_len - m->data_off;

	if (len <= 64 && room >= 64)
		rte_mov64(dst, src);
	else if (len <= 128 && room >= 128)
		rte_mov128(dst, src);
	else
		rte_memcpy(dst, src, len);
}

_Static_assert(COPY_WHOLE_MAX <= DP_COPY_ROOM && 128 <= DP_COPY_ROOM,
	       "a whole copy, rounded up, fits the copies' room");

#define rng32 dp_rng32

#define TB_MAX_FRAME (65535u + 26u)

static void bucket_reset(struct dp_bucket *b, const struct dp_app *app,
			 uint64_t pps, uint64_t bps, uint32_t burst_ms, uint64_t now)
{
	uint64_t hz = app->tsc_hz << DP_TB_SHIFT;
	uint64_t nw = app->n_workers ? app->n_workers : 1;
	uint64_t pps_w = pps ? (pps + nw - 1) / nw : 0;
	uint64_t bps_w = bps ? (bps + nw - 1) / nw : 0;

	b->rate_pps = pps;
	b->rate_bps = bps;
	b->burst_ms = burst_ms;
	b->cost_p = pps_w ? hz / pps_w : 0;
	b->cost_b = bps_w ? hz / bps_w * 8 : 0;
	b->depth = hz / 1000 * burst_ms;
	/* At least one full-size packet must fit, or a low cap passes nothing.
	 * A larger copy (a jumbo frame, a datagram af_packet reassembled, up
	 * to TB_MAX_FRAME) passes a full bucket and leaves it in debt: it
	 * never fit, and never passed a byte cap. Costs and depth are held
	 * below 2^61 so that depth plus a largest copy's debt stays signed. */
	if (b->cost_b > (UINT64_MAX >> 3) / TB_MAX_FRAME)
		b->cost_b = (UINT64_MAX >> 3) / TB_MAX_FRAME;
	if (b->depth > UINT64_MAX >> 3)
		b->depth = UINT64_MAX >> 3;
	if (b->depth < b->cost_p)
		b->depth = b->cost_p;
	if (b->depth < b->cost_b * RTE_ETHER_MAX_LEN)
		b->depth = b->cost_b * RTE_ETHER_MAX_LEN;
	b->room = b->depth + b->cost_b * TB_MAX_FRAME;
	b->tokens_p = b->depth;
	b->tokens_b = (int64_t)b->depth;
	b->last_tsc = now;
}

/* True when the copy fits the group's caps; takes its tokens. */
static inline bool bucket_take(struct dp_worker *w, int gi, const struct dp_group *g,
			       uint32_t bytes, uint64_t now)
{
	uint64_t pps = __atomic_load_n(&g->rate_pps, __ATOMIC_RELAXED);
	uint64_t bps = __atomic_load_n(&g->rate_bps, __ATOMIC_RELAXED);
	struct dp_bucket *b = &w->bucket[gi];
	uint64_t elapsed, need_b;
	uint32_t burst_ms;

	if (likely(pps == 0 && bps == 0))
		return true;
	burst_ms = __atomic_load_n(&g->burst_ms, __ATOMIC_RELAXED);
	if (unlikely(pps != b->rate_pps || bps != b->rate_bps || burst_ms != b->burst_ms ||
		     b->depth == 0))
		bucket_reset(b, w->app, pps, bps, burst_ms, now);
	elapsed = now - b->last_tsc;
	b->last_tsc = now;
	if (elapsed > (b->room >> DP_TB_SHIFT)) {
		b->tokens_p = b->depth;
		b->tokens_b = (int64_t)b->depth;
	} else {
		elapsed <<= DP_TB_SHIFT;
		b->tokens_p = RTE_MIN(b->tokens_p + elapsed, b->depth);
		b->tokens_b = RTE_MIN(b->tokens_b + (int64_t)elapsed, (int64_t)b->depth);
	}
	need_b = b->cost_b * RTE_MIN(bytes, TB_MAX_FRAME);
	if (b->tokens_p < b->cost_p ||
	    b->tokens_b < (int64_t)RTE_MIN(need_b, b->depth))
		return false;
	b->tokens_p -= b->cost_p;
	b->tokens_b -= (int64_t)need_b;
	return true;
}

/* Flow-consistent choice of an instance, independent of where the hash sits
 * in the group's range (the range selects the flow, so its position must not
 * also pick the instance). */
static inline int pick_instance(uint32_t hash, uint32_t n)
{
	return (int)dp_flow_worker(hash, n);
}

static void rewrite_dst_ip(uint8_t *buf, const struct st_pkt *p,
			   const struct st_ip_addr *dst)
{
	uint8_t *ip = buf + p->l3_off;
	uint8_t *l4 = buf + p->l4_off;
	bool l4ok = (p->flags & ST_PKT_F_L4) && !(p->flags & ST_PKT_F_FRAG);
	uint16_t c;

	if (p->l3 == ST_L3_IPV4) {
		uint32_t old;

		memcpy(&old, ip + 16, 4);
		memcpy(&c, ip + 10, 2);
		c = st_csum_update32(c, old, dst->v4);
		memcpy(ip + 10, &c, 2);
		if (l4ok && p->proto == ST_IPPROTO_TCP) {
			memcpy(&c, l4 + 16, 2);
			c = st_csum_update32(c, old, dst->v4);
			memcpy(l4 + 16, &c, 2);
		} else if (l4ok && p->proto == ST_IPPROTO_UDP) {
			memcpy(&c, l4 + 6, 2);
			if (c != 0) { /* 0: no checksum, stays so */
				c = st_csum_update32(c, old, dst->v4);
				if (c == 0)
					c = 0xffff;
				memcpy(l4 + 6, &c, 2);
			}
		}
		memcpy(ip + 16, &dst->v4, 4);
		return;
	}
	if (l4ok) {
		int off = p->proto == ST_IPPROTO_TCP ? 16 :
			  p->proto == ST_IPPROTO_UDP ? 6 :
			  p->proto == ST_IPPROTO_ICMPV6 ? 2 : -1;

		if (off >= 0) {
			memcpy(&c, l4 + off, 2);
			c = st_csum_update_addr6(c, ip + 24, dst->a8);
			if (p->proto == ST_IPPROTO_UDP && c == 0)
				c = 0xffff;
			memcpy(l4 + off, &c, 2);
		}
	}
	memcpy(ip + 24, dst->a8, 16);
}

/* The addresses copies were rewritten from, per group: the instances
 * answer from their own address, and the answer is mapped back to the flow
 * through these (dp_map_back). A handful per group: the service addresses.
 * When full, a new address takes the slots in turn: a few stray
 * destinations copied before the service's first request (a namespace's
 * IPv6 neighbour discovery, say) must not keep the service's address out
 * for good -- then no answer of the group would ever be matched. */
static inline void remember_orig(struct dp_worker *w, int g, const struct st_pkt *p)
{
	struct dp_orig *o = &w->orig[g];
	size_t alen = p->l3 == ST_L3_IPV4 ? 4 : 16;
	int i;

	for (i = 0; i < o->n; i++)
		if (o->family[i] == p->l3 && memcmp(&o->addr[i], &p->dst, alen) == 0)
			return;
	if (o->n < DP_ORIG_MAX) {
		i = o->n++;
	} else {
		i = o->next;
		o->next = (o->next + 1) % DP_ORIG_MAX;
	}
	o->addr[i] = p->dst;
	o->family[i] = p->l3;
}

/* One copy of m for group g, addressed to its shadow (instance inst of the
 * group when it lists instances); NULL when it cannot be made (counted). */
enum copy_mode {
	COPY_ANY,	/* zero-copy when nothing changes */
	COPY_HDR,	/* headers private (they will be rewritten) */
	COPY_FULL,	/* all bytes private, from the TCP queue pool: kept a while,
			   so it must not pin production's buffers */
};

static inline struct rte_mbuf *make_copy(struct dp_worker *w, const struct dp_group *g,
					 struct dp_group_counters *gc, struct rte_mbuf *m,
					 const struct st_pkt *p, int inst, enum copy_mode mode)
{
	struct rte_mempool *mp = w->app->copy_pool;
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	const struct dp_neigh *nb = NULL;
	const struct st_ip_addr *new_dst = NULL;
	struct rte_ether_addr mac;
	struct rte_mbuf *c;

	if (g->n_instances > 0) {
		nb = g->inst[inst];
		if (unlikely(nb->family != p->l3)) {
			/* an IPv4 instance for an IPv6 packet (or the other
			 * way): no address to put in it */
			gc->drops[DP_DROP_NO_NEIGH]++;
			return NULL;
		}
		if (memcmp(&nb->ip, &p->dst, p->l3 == ST_L3_IPV4 ? 4 : 16) != 0) {
			new_dst = &nb->ip;
			remember_orig(w, (int)(g - w->app->groups), p);
		}
	} else if (g->has_dst_mac) {
		mac = g->dst_mac;
	} else {
		nb = dp_neigh_find(g->neigh, p->l3, &p->dst);
		if (unlikely(nb == NULL)) {
			gc->drops[DP_DROP_NO_NEIGH]++;
			return NULL;
		}
	}
	if (nb != NULL && unlikely(!dp_neigh_mac(nb, &mac))) {
		gc->drops[DP_DROP_NO_NEIGH]++;
		return NULL;
	}
	if (mode == COPY_ANY && new_dst == NULL && rte_is_same_ether_addr(&mac, &eth->dst_addr)) {
		/* Unchanged: share the data, copy nothing. */
		c = rte_pktmbuf_clone(m, mp);
		if (unlikely(c == NULL)) {
			gc->drops[DP_DROP_NO_MBUF]++;
			return NULL;
		}
		gc->zero_copy++;
		return c;
	}
	if (mode == COPY_FULL) {
		c = rte_pktmbuf_copy(m, w->app->tcpq_pool, 0, UINT32_MAX);
	} else if (copy_whole(m)) {
		/* Small and in one piece, the common case: one alloc and one
		 * copy, none of rte_pktmbuf_copy's walking of segments. */
		c = rte_mbuf_raw_alloc(mp);
		if (likely(c != NULL)) {
			copy_header(c, m, m->data_len);
			copy_bytes(rte_pktmbuf_mtod(c, void *), m, m->data_len);
		}
	} else if (m->pkt_len <= COPY_WHOLE_MAX || p->payload_off >= rte_pktmbuf_data_len(m)) {
		c = rte_pktmbuf_copy(m, mp, 0, UINT32_MAX);
	} else {
		/* A private copy of the headers, the payload by reference. */
		struct rte_mbuf *rest;
		char *h;

		c = rte_pktmbuf_alloc(mp);
		if (unlikely(c == NULL))
			goto no_mbuf;
		h = rte_pktmbuf_append(c, p->payload_off);
		if (unlikely(h == NULL)) {
			rte_pktmbuf_free(c);
			goto too_long;
		}
		rest = rte_pktmbuf_clone(m, mp);
		if (unlikely(rest == NULL)) {
			rte_pktmbuf_free(c);
			goto no_mbuf;
		}
		memcpy(h, eth, p->payload_off);
		rte_pktmbuf_adj(rest, p->payload_off);
		if (unlikely(rte_pktmbuf_chain(c, rest) != 0)) {
			rte_pktmbuf_free(c);
			rte_pktmbuf_free(rest);
			goto no_mbuf;
		}
	}
	if (unlikely(c == NULL))
		goto no_mbuf;
	/* What is rewritten (the address and the L4 checksum; a queued TCP
	 * segment's sequence numbers, tcp_session.c) must lie in the copy's
	 * first buffer, which holds DP_COPY_ROOM bytes (2 KB for a queued
	 * segment): a copy of a frame whose headers are longer is not sent. */
	if (unlikely(rte_pktmbuf_data_len(c) < p->payload_off) &&
	    (new_dst != NULL || mode != COPY_ANY)) {
		rte_pktmbuf_free(c);
		goto too_long;
	}
	eth = rte_pktmbuf_mtod(c, struct rte_ether_hdr *);
	eth->dst_addr = mac;
	if (new_dst != NULL)
		rewrite_dst_ip((uint8_t *)eth, p, new_dst);
	return c;
no_mbuf:
	gc->drops[DP_DROP_NO_MBUF]++;
	return NULL;
too_long:
	gc->drops[DP_DROP_HEADERS_TOO_LONG]++;
	return NULL;
}

/* Makes the copy of m for group g and queues it for sending. TCP goes
 * through the group's session: the SYN starts it and is copied as is; data
 * and FIN go into the session's queue as full private copies and leave as
 * the shadow's window allows (dp_tcp_enqueue); the client's pure ACKs and
 * segments of sessions whose SYN was not seen are not copied. Returns 1
 * when a copy goes out with this burst (timed with it; or is lost to a
 * down instance, timed as sent), 2 when it was queued (timed when it
 * leaves the queue), 0 when none was made. */
static inline int queue_copy(struct dp_worker *w, int gi, const struct dp_group *g,
			     struct dp_group_counters *gc, struct rte_mbuf *m,
			     const struct dp_pktinfo *in, bool inject, uint64_t now)
{
	const struct st_pkt *p = &in->p;
	enum dp_tcp_verdict v = DP_TCP_SKIP;
	struct dp_tcp_sess *s = NULL;
	struct rte_mbuf *c;
	int reason, inst = 0;

	if (w->app->tcp && p->proto == ST_IPPROTO_TCP && (p->flags & ST_PKT_F_L4) &&
	    !(p->flags & ST_PKT_F_FRAG)) {
		v = dp_tcp_client(w, gi, &in->key, in->hash, p, inject, now, &reason, &s);
		if (v == DP_TCP_SKIP) {
			if (reason >= 0)
				gc->drops[reason]++;
			return 0;
		}
	}
	/* A session's queue can release several segments for one packet (up
	 * to the room left), so the burst's batch for the group may be full
	 * before its last packet: a copy that would go out now is dropped and
	 * counted, never written past the batch (queued segments wait). */
	if (unlikely(w->n_copies[gi] >= DP_BURST) && v != DP_TCP_QUEUE && v != DP_TCP_QUEUE_SYN) {
		gc->drops[DP_DROP_TX_FULL]++;
		if (v == DP_TCP_SEND_RST && s != NULL)
			dp_tcp_forget(w, s);	/* the client is gone either way */
		return 0;
	}
	if (g->n_instances > 0) {
		/* A new flow goes where the hash picks among the instances in
		 * use; a shadowed TCP session stays with the instance its SYN
		 * went to, whatever set_instances did since. */
		if (s != NULL && v != DP_TCP_QUEUE_SYN) {
			inst = s->inst;
			/* chaos: its instance is down. An established
			 * connection does not move (mid-stream, the other
			 * instance would reset it): it is gone, as with a dead
			 * host, and this segment is timed as sent, as a
			 * blackholed copy is; the flow's later segments are
			 * tcp_midstream, its client's next connection
			 * respreads */
			if (unlikely(w->chaos[gi] & DP_CHAOS_DOWN_MASK) &&
			    inst == dp_chaos_down(w->chaos[gi])) {
				gc->drops[DP_DROP_CHAOS_DOWN]++;
				dp_tcp_forget(w, s);
				return 1;
			}
		} else {
			inst = pick_instance(in->hash, w->n_active[gi]);
			/* chaos: a down instance's flows respread (copy_to_group
			 * dropped those with nowhere to go) */
			if (unlikely(w->chaos[gi] & DP_CHAOS_DOWN_MASK) &&
			    inst == dp_chaos_down(w->chaos[gi]))
				inst = dp_chaos_respread_pick(in->hash, (int)w->n_active[gi], inst);
			if (s != NULL)
				s->inst = (uint8_t)inst;
		}
	}
	if (v == DP_TCP_QUEUE_SYN && unlikely(!dp_tcp_has_room(&w->tcp, s))) {
		/* No room for the SYN (the worker's segments all taken): no
		 * session, so the client's SYN sent again may start one. */
		gc->drops[DP_DROP_TCP_QUEUE_FULL]++;
		dp_tcp_forget(w, s);
		return 0;
	}
	if (v == DP_TCP_QUEUE && unlikely(s->again) && dp_tcp_held(w, s, p)) {
		/* The client sent it again and the shadow has it or will:
		 * no copy made only to be freed. */
		uint16_t *n = &w->n_copies[gi];

		*n = (uint16_t)(*n + dp_tcp_skip(w, s, now, &w->copies[gi][*n],
						 (uint16_t)(DP_BURST - *n)));
		return 2;
	}
	if (v == DP_TCP_QUEUE && unlikely(!dp_tcp_has_room(&w->tcp, s))) {
		/* A full queue drops the segment: no copy made only to be
		 * freed (a shadow that stopped reading gets every segment
		 * of its sessions refused). */
		uint16_t *n = &w->n_copies[gi];

		*n = (uint16_t)(*n + dp_tcp_refuse(w, s, gc, now, &w->copies[gi][*n],
						   (uint16_t)(DP_BURST - *n)));
		return 2;
	}
	c = make_copy(w, g, gc, m, p, inst,
		      v == DP_TCP_QUEUE || v == DP_TCP_QUEUE_SYN ? COPY_FULL :
		      v == DP_TCP_SEND_RST ? COPY_HDR : COPY_ANY);
	if (c == NULL) {
		/* no SYN, no session; a client's RST not copied still ends
		 * its session (it retransmitted to the shadow for ~50 s); a
		 * segment not copied leaves a hole the client never fills (it
		 * went to production): the session would stall until given
		 * up, holding its queue, so it ends here */
		if (s != NULL)
			dp_tcp_forget(w, s);
		return 0;
	}
	if (v == DP_TCP_QUEUE_SYN && unlikely(!dp_tcp_template(s, c, p))) {
		gc->drops[DP_DROP_HEADERS_TOO_LONG]++;
		rte_pktmbuf_free(c);
		dp_tcp_forget(w, s);
		return 0;
	}
	if (v == DP_TCP_QUEUE || v == DP_TCP_QUEUE_SYN) {
		/* counted among the copies when it leaves the queue (pump) */
		uint16_t *n = &w->n_copies[gi];

		*n = (uint16_t)(*n + dp_tcp_enqueue(w, s, c, p, gc, now, &w->copies[gi][*n],
						    (uint16_t)(DP_BURST - *n)));
		/* The SYN leaves at once: its connect time starts now. */
		return v == DP_TCP_QUEUE_SYN ? 1 : 2;
	}
	gc->copies++;
	gc->copy_bytes += c->pkt_len;
	if (s != NULL && v == DP_TCP_SEND_RST)
		dp_tcp_rewrite_rst(w, s, c, p);
	w->copies[gi][w->n_copies[gi]++] = c;
	return 1;
}

/* A TCP segment a group's filter or rate cap keeps from its shadow: the
 * shadow's stream has a hole the client never fills (production got the
 * segment), and the session would stall until given up, holding its
 * queue: it ends, and the rest of the flow is tcp_midstream. */
static inline void tcp_hole(struct dp_worker *w, const struct dp_pktinfo *in, int gi)
{
	/* a pure ACK takes no sequence space: it leaves no hole (and the
	 * session would not have copied it) */
	if (w->app->tcp && in->p.proto == ST_IPPROTO_TCP &&
	    (in->p.payload_len > 0 ||
	     (in->p.tcp.flags & (ST_TCP_SYN | ST_TCP_FIN | ST_TCP_RST))))
		dp_tcp_forget_flow(w, &in->key, in->hash, gi);
}

/* Whether the flow's copies are dropped because its instance is down on
 * purpose: always when the group does not respread, and when it does but
 * the down instance was its only one. (A whole group's flap drops on the
 * wire instead, chaos_tx.c: its TCP sessions live through it.) */
static inline bool chaos_blackholed(const struct dp_worker *w, int gi, const struct dp_group *g,
				    uint32_t hash)
{
	uint64_t cw = w->chaos[gi];

	if (g->n_instances == 0 || pick_instance(hash, w->n_active[gi]) != dp_chaos_down(cw))
		return false;
	return !dp_chaos_respread(cw) || w->n_active[gi] < 2;
}

/* One selected packet towards group gi (mirrored, or injected when inject):
 * dropped and counted in gc when the group is disabled, its filter refuses
 * it or its rate cap is spent (injected and mirrored copies share the cap:
 * it protects the shadow), else copied and, when timing, opened towards
 * the group's target. */
static __rte_always_inline void copy_to_group(struct dp_worker *w, int gi,
					      struct dp_group_counters *gc, struct rte_mbuf *m,
					      struct dp_pktinfo *in, bool enabled, bool inject,
					      uint64_t now)
{
	const struct dp_group *g = &w->app->groups[gi];

	if (unlikely(!enabled)) {
		gc->drops[DP_DROP_DISABLED]++;
		return;
	}
	if (!dp_filter_pass(__atomic_load_n(&g->filter, __ATOMIC_ACQUIRE), m)) {
		gc->drops[DP_DROP_FILTERED]++;
		tcp_hole(w, in, gi);
		return;
	}
	if (!bucket_take(w, gi, g, m->pkt_len, now)) {
		gc->drops[DP_DROP_RATE_CAP]++;
		tcp_hole(w, in, gi);
		return;
	}
	if (unlikely(w->chaos[gi] & DP_CHAOS_DOWN_MASK) && chaos_blackholed(w, gi, g, in->hash)) {
		/* The copy goes nowhere, but the request is timed as sent: a
		 * client of a dead instance sees a timeout, and so do the
		 * group's KPIs. No TCP session is started for it, and one
		 * open before is gone, as with a dead host. */
		gc->drops[DP_DROP_CHAOS_DOWN]++;
		if (w->app->tcp && in->p.proto == ST_IPPROTO_TCP)
			dp_tcp_forget_flow(w, &in->key, in->hash, gi);
		if (w->app->timing)
			dp_timing_copy(w, in, inject ? DP_TARGET_INJ(gi) : DP_TARGET_GROUP(gi),
				       m->pkt_len, now);
		return;
	}
	if (queue_copy(w, gi, g, gc, m, in, inject, now) == 1 && w->app->timing)
		dp_timing_copy(w, in, inject ? DP_TARGET_INJ(gi) : DP_TARGET_GROUP(gi),
			       m->pkt_len, now);
}

/* What the groups take, read once per burst: control changes apply from
 * the next one. */
struct dp_sel {
	uint64_t lo[DP_MAX_SHADOWS], hi[DP_MAX_SHADOWS];
	uint64_t span[DP_MAX_SHADOWS];		/* hi - lo: flow sampling */
	uint32_t enabled[DP_MAX_SHADOWS];
	enum dp_sampling sampling[DP_MAX_SHADOWS];
	const struct dp_filter *filter[DP_MAX_SHADOWS];
	uint32_t capped;	/* bit g: group g has a pps or bps cap */
	uint32_t flow_groups;	/* bit g: group g samples flows */
	uint32_t plain;		/* bit g: group g copies whole without
				   rewriting addresses (no instances) */
	uint32_t simple;	/* bit g: plain, to its dst_mac, enabled, and
				   nothing to check per copy (no filter, no
				   cap, no instance down): dp_tee_burst's
				   packets that only such groups take need
				   no description */
};

/* One client->server packet (or held fragment) to every group that selects
 * it. */
static inline void tee_one(struct dp_worker *w, const struct dp_sel *s, struct rte_mbuf *m,
			   struct dp_pktinfo *in, uint64_t now)
{
	const struct dp_app *app = w->app;

	for (int gi = 0; gi < app->n_groups; gi++) {
		struct dp_group_counters *gc = &w->cnt.group[gi];
		bool sel;

		if (s->sampling[gi] == DP_SAMPLE_FLOW)
			sel = st_bucket_in(in->hash, s->lo[gi], s->hi[gi]);
		else
			sel = rng32(w) < s->hi[gi];
		if (!sel)
			continue;
		/* Hashed only (dp_classify_lazy): a copy needs the
		 * full view; a frame that fails it is counted there
		 * and goes nowhere. */
		if (!in->parsed && !dp_classify_finish(w, m, in))
			break;
		copy_to_group(w, gi, gc, m, in, s->enabled[gi], false, now);
	}
}

/* One injected packet (or held fragment) to every group taking injected
 * traffic that selects it. */
static inline void inject_one(struct dp_worker *w, struct rte_mbuf *m, struct dp_pktinfo *in,
			      uint64_t now)
{
	const struct dp_app *app = w->app;

	for (int gi = 0; gi < app->n_groups; gi++) {
		const struct dp_group *g = &app->groups[gi];
		struct dp_group_counters *gc = &w->cnt.inject[gi];

		if (!g->inject || !st_bucket_in(in->hash, 0, g->inject_hi))
			continue;
		copy_to_group(w, gi, gc, m, in,
			      __atomic_load_n(&g->enabled, __ATOMIC_RELAXED), true, now);
	}
}

/* A later fragment whose first one was not seen yet: a private copy of it,
 * from the copies' pool, waits in its datagram's entry. Not a clone: a
 * clone would pin production's buffer for up to frag_timeout, and a flood
 * of fragments whose first never comes could then empty the pool
 * production receives into (af_packet's is small: its mbufs are 60 KB).
 * No room or no mbuf: counted, and the fragment is never copied. */
static void frag_hold(struct dp_worker *w, struct rte_mbuf *m, const struct dp_pktinfo *in)
{
	struct rte_mbuf *c;

	if (unlikely(!dp_frag_can_hold(&w->frags, in->fragp))) {
		w->cnt.frag_hold_full++;
		return;
	}
	c = rte_pktmbuf_copy(m, w->app->copy_pool, 0, UINT32_MAX);
	if (unlikely(c == NULL)) {
		w->cnt.frag_hold_full++;
		return;
	}
	dp_frag_hold(&w->frags, in->fragp, c);
	w->cnt.frag_held++;
}

/* The fragments held for first's datagram, teed right after it (same
 * burst, same groups' decision: its flow's hash), then freed. s NULL:
 * injected traffic. */
static void frag_release(struct dp_worker *w, const struct dp_sel *s,
			 const struct dp_pktinfo *first, uint64_t now)
{
	struct rte_mbuf *held[DP_FRAG_HOLD_MAX];
	uint32_t n = dp_frag_take(&w->frags, first->fragp, held);

	for (uint32_t i = 0; i < n; i++) {
		struct dp_pktinfo in;

		/* parsed when it arrived: it parses again */
		if (dp_pkt_parse(held[i], &in.p) < 0)
			continue;
		in.key = first->key;
		in.hash = first->hash;
		in.ok = 1;
		in.parsed = 1;
		in.c2s = 1;
		in.timed = 0;
		in.client = first->client;
		in.group = -1;
		in.no_flow = 0;
		in.flow = NULL;
		in.frag = DP_FRAG_LATER;
		in.fragp = first->fragp;
		if (s != NULL)
			tee_one(w, s, held[i], &in, now);
		else
			inject_one(w, held[i], &in, now);
		w->cnt.frag_released++;
	}
	if (n > 0)
		rte_pktmbuf_free_bulk(held, n);
}

/* Whether a fragment goes to the groups now: a later one of an unknown
 * datagram is held instead, one the table had no room for goes nowhere. */
static inline bool frag_tee_now(struct dp_worker *w, struct rte_mbuf *m,
				const struct dp_pktinfo *in)
{
	if (in->frag == DP_FRAG_PENDING)
		frag_hold(w, m, in);
	return in->frag != DP_FRAG_PENDING && in->frag != DP_FRAG_NOCOPY;
}

/* A copy the burst makes with its others (make_copies): the packet, the
 * group, its slot in w->copies[gi] (kept in order with the copies made on
 * the way) and the MAC it goes to. */
struct copy_job {
	uint16_t pkt;
	uint8_t gi;
	uint8_t slot;
	struct rte_ether_addr mac;
};

/* Where a plain group's copy goes: its dst_mac, else the server's
 * neighbour entry (make_copy's order). False, counted no_neigh, when that
 * is not resolved. A packet only hashed (dp_classify_lazy) has its server
 * in its key. */
static inline bool plain_mac(const struct dp_group *g, struct dp_group_counters *gc,
			     const struct dp_pktinfo *in, struct rte_ether_addr *mac)
{
	const struct dp_neigh *nb;

	if (likely(g->has_dst_mac)) {
		*mac = g->dst_mac;
		return true;
	}
	nb = dp_neigh_find(g->neigh, in->p.l3, in->parsed ? &in->p.dst : &in->key.addr[!in->client]);
	if (unlikely(nb == NULL || !dp_neigh_mac(nb, mac))) {
		gc->drops[DP_DROP_NO_NEIGH]++;
		return false;
	}
	return true;
}

/* Mbufs of the copies' pool through the worker's own cache (found once:
 * rte_pktmbuf_alloc looks it up by lcore id, a TLS read, on every call).
 * 0, or -ENOENT when the pool has fewer than n left (none taken). */
static inline int copy_get(struct dp_worker *w, struct rte_mbuf **c, unsigned int n)
{
	return rte_mempool_generic_get(w->app->copy_pool, (void **)c, n, w->copy_cache);
}

/* The copies the burst's jobs ask for, in one allocation: each a fresh
 * mbuf (copy_header) holding the packet's bytes under the job's MAC, put in its slot and
 * counted, and timed when timing is on. When the pool has fewer left than
 * that, the first jobs take what there is and the rest are counted no_mbuf
 * (their slots are holes that dp_mirror_flush closes); production's
 * packets are never touched. */
static void make_copies(struct dp_worker *w, struct rte_mbuf **pkts, struct dp_pktinfo *info,
			const struct copy_job *jobs, uint32_t nj, uint64_t now)
{
	struct rte_mbuf *c[DP_BURST * DP_MAX_SHADOWS];
	const bool timing = w->app->timing;
	uint32_t got = nj, k;

	if (unlikely(copy_get(w, c, nj) != 0))
		for (got = 0; got < nj && copy_get(w, &c[got], 1) == 0; got++)
			;
	for (k = 0; k < got; k++) {
		const struct copy_job *j = &jobs[k];
		struct rte_mbuf *m = pkts[j->pkt], *cp = c[k];
		struct dp_group_counters *gc = &w->cnt.group[j->gi];
		uint16_t len = rte_pktmbuf_data_len(m);

		if (k + 1 < got)
			rte_prefetch0(c[k + 1]);
		copy_header(cp, m, len);
		copy_bytes(rte_pktmbuf_mtod(cp, void *), m, len);
		rte_pktmbuf_mtod(cp, struct rte_ether_hdr *)->dst_addr = j->mac;
		w->copies[j->gi][j->slot] = cp;
		gc->copies++;
		gc->copy_bytes += len;
		if (timing)
			dp_timing_copy(w, &info[j->pkt], DP_TARGET_GROUP(j->gi), len, now);
	}
	for (; k < nj; k++) {
		w->copies[jobs[k].gi][jobs[k].slot] = NULL;
		w->copy_holes |= 1u << jobs[k].gi;
		w->cnt.group[jobs[k].gi].drops[DP_DROP_NO_MBUF]++;
	}
}

/* The groups whose share holds hash, when every group samples flows. */
static inline uint32_t flow_sel(const struct dp_sel *s, int n_groups, uint32_t hash)
{
	uint32_t sel = 0;

	for (int gi = 0; gi < n_groups; gi++)
		sel |= (uint32_t)((uint64_t)hash - s->lo[gi] < s->span[gi]) << gi;
	return sel;
}

/* The groups that select packet in (s), in order, drawing the random of
 * each group that samples packets as tee_one does; 0 when the packet turns
 * out malformed at its first selection (counted by dp_classify_finish). A
 * hashed packet whose full parse cannot fail (everything st_flow_frame
 * takes but a TCP segment with options) is not parsed here. */
static inline uint32_t select_groups(struct dp_worker *w, const struct dp_sel *s, int n_groups,
				     bool all_flow, struct rte_mbuf *m, struct dp_pktinfo *in)
{
	uint32_t sel = 0;

	if (likely(all_flow)) {
		/* every group samples flows: no random to draw, no branch */
		sel = flow_sel(s, n_groups, in->hash);
		if (likely(sel == 0) || likely(in->parsed || in->p.proto != ST_IPPROTO_TCP ||
						 in->p.tcp.hlen <= 20))
			return sel;
		return dp_classify_finish(w, m, in) ? sel : 0;
	}
	for (int gi = 0; gi < n_groups; gi++) {
		bool take = (s->flow_groups >> gi) & 1 ?
			    (uint64_t)in->hash - s->lo[gi] < s->span[gi] :
			    rng32(w) < s->hi[gi];

		if (!take)
			continue;
		if (sel == 0 && unlikely(!in->parsed && in->p.proto == ST_IPPROTO_TCP &&
					 in->p.tcp.hlen > 20) &&
		    !dp_classify_finish(w, m, in))
			return 0;
		sel |= 1u << gi;
	}
	return sel;
}

/* dp_pktinfo's flag bytes from ok to frag as one little-endian word
 * (dp_lazy_fill's): ok 1, parsed 0, c2s 1, frag DP_FRAG_NONE; the others
 * any. */
#define LAZY_C2S_MASK 0xff00000000ffffffULL
#define LAZY_C2S (DP_LAZY_FLAGS(1, 0) & LAZY_C2S_MASK)

/* Group gi's range, taken when it changed and only as a pair read between
 * two equal even values of its sequence (dp_group_set_share): a read
 * across a change keeps the old range one more burst. One load and a
 * compare when nothing changed. */
static inline void range_refresh(struct dp_worker *w, const struct dp_group *g, int gi)
{
	uint32_t seq;
	uint64_t lo, hi;

	if (likely(__atomic_load_n(&g->range_seq, __ATOMIC_RELAXED) == w->range_seq[gi]) ||
	    !dp_group_range_try(g, &seq, &lo, &hi))
		return;
	w->range_lo[gi] = lo;
	w->range_hi[gi] = hi;
	w->range_seq[gi] = seq;
}

/* Control changes are read once per burst, and with them what each group
 * needs per copy (a filter, a cap, addresses rewritten). Returns whether
 * every group samples flows. */
static inline bool sel_read(struct dp_worker *w, struct dp_sel *s, uint64_t now)
{
	const struct dp_app *app = w->app;
	const int n_groups = app->n_groups;

	s->capped = 0;
	s->flow_groups = 0;
	s->plain = 0;
	s->simple = 0;
	for (int gi = 0; gi < n_groups; gi++) {
		const struct dp_group *g = &app->groups[gi];

		/* sampling first: a reload turning packet sampling on stores
		 * the range [0, share) before it, so the range read after it
		 * is that one (reload.c) */
		s->sampling[gi] = __atomic_load_n(&g->sampling, __ATOMIC_ACQUIRE);
		range_refresh(w, g, gi);
		s->hi[gi] = w->range_hi[gi];
		s->lo[gi] = w->range_lo[gi];
		s->span[gi] = s->hi[gi] - s->lo[gi];
		s->enabled[gi] = __atomic_load_n(&g->enabled, __ATOMIC_RELAXED);
		s->filter[gi] = __atomic_load_n(&g->filter, __ATOMIC_ACQUIRE);
		if (__atomic_load_n(&g->rate_pps, __ATOMIC_RELAXED) != 0 ||
		    __atomic_load_n(&g->rate_bps, __ATOMIC_RELAXED) != 0)
			s->capped |= 1u << gi;
		if (s->sampling[gi] == DP_SAMPLE_FLOW)
			s->flow_groups |= 1u << gi;
		if (g->n_instances == 0)
			s->plain |= 1u << gi;
		w->n_active[gi] = __atomic_load_n(&g->n_active, __ATOMIC_ACQUIRE);
		dp_chaos_refresh_at(w, gi, now);
		if (((s->plain >> gi) & 1) && g->has_dst_mac && s->enabled[gi] &&
		    s->filter[gi] == NULL && !((s->capped >> gi) & 1) &&
		    !(w->chaos[gi] & DP_CHAOS_DOWN_MASK))
			s->simple |= 1u << gi;
	}
	return s->flow_groups == (1u << n_groups) - 1;
}

/* Queues jobs[*nj] (its mac set) as packet i's whole copy to group gi,
 * in the group's next slot; a slot list a session's queue filled
 * (queue_copy) drops it, counted tx_full. */
static inline void add_job(struct dp_worker *w, struct dp_group_counters *gc,
			   struct copy_job *jobs, uint32_t *nj, uint16_t i, int gi)
{
	struct copy_job *j = &jobs[*nj];

	if (unlikely(w->n_copies[gi] >= DP_BURST)) {
		gc->drops[DP_DROP_TX_FULL]++;
		return;
	}
	j->pkt = i;
	j->gi = (uint8_t)gi;
	j->slot = (uint8_t)w->n_copies[gi]++;
	(*nj)++;
}

/* Packet i of the burst (classified) to every group that selects it: whole
 * copies become jobs for make_copies, the rest are made here. */
static __rte_always_inline void tee_packet(struct dp_worker *w, const struct dp_sel *s,
					   bool all_flow, struct rte_mbuf **pkts,
					   struct dp_pktinfo *info, uint16_t i,
					   struct copy_job *jobs, uint32_t *nj, uint64_t now)
{
	const struct dp_app *app = w->app;
	struct dp_pktinfo *in = &info[i];
	struct rte_mbuf *m = pkts[i];
	const struct rte_ether_addr *pkt_dst;
	bool whole, session;
	uint32_t sel;
	uint64_t fl;

	/* Most packets were only hashed: ok, not parsed, client to server,
	 * no fragment (the flag bytes dp_lazy_fill wrote in one store, read
	 * in one load). */
	memcpy(&fl, &in->ok, sizeof(fl));
	if (unlikely((fl & LAZY_C2S_MASK) != LAZY_C2S)) {
		/* Malformed, non-IP, server->client and ICMP errors are never
		 * copied. */
		if (!in->ok || !in->c2s || (in->parsed && (in->p.flags & ST_PKT_F_ICMP_ERR)))
			return;
		if (unlikely(in->frag != DP_FRAG_NONE)) {
			if (frag_tee_now(w, m, in))
				tee_one(w, s, m, in, now);
			if (in->frag == DP_FRAG_FIRST && in->fragp->n_held > 0)
				frag_release(w, s, in, now);
			return;
		}
	}
	sel = select_groups(w, s, app->n_groups, all_flow, m, in);
	if (likely(sel == 0))
		return;
	/* Small, in one piece and not kept by a TCP session: a whole copy,
	 * made by make_copies with the burst's others. */
	whole = copy_whole(m);
	session = app->tcp && in->p.proto == ST_IPPROTO_TCP && (in->p.flags & ST_PKT_F_L4) &&
		  !(in->p.flags & ST_PKT_F_FRAG);
	pkt_dst = &rte_pktmbuf_mtod(m, const struct rte_ether_hdr *)->dst_addr;
	for (; sel != 0; sel &= sel - 1) {
		int gi = __builtin_ctz(sel);
		const struct dp_group *g = &app->groups[gi];
		struct dp_group_counters *gc = &w->cnt.group[gi];

		/* copy_to_group's checks, with what the burst read */
		if (unlikely(!s->enabled[gi])) {
			gc->drops[DP_DROP_DISABLED]++;
			continue;
		}
		if (s->filter[gi] != NULL && !dp_filter_pass(s->filter[gi], m)) {
			gc->drops[DP_DROP_FILTERED]++;
			if (session)
				tcp_hole(w, in, gi);
			continue;
		}
		if (((s->capped >> gi) & 1) && !bucket_take(w, gi, g, m->pkt_len, now)) {
			gc->drops[DP_DROP_RATE_CAP]++;
			if (session)
				tcp_hole(w, in, gi);
			continue;
		}
		if (unlikely(w->chaos[gi] & DP_CHAOS_DOWN_MASK) &&
		    chaos_blackholed(w, gi, g, in->hash)) {
			gc->drops[DP_DROP_CHAOS_DOWN]++;
			if (app->tcp && in->p.proto == ST_IPPROTO_TCP)
				dp_tcp_forget_flow(w, &in->key, in->hash, gi);
			if (app->timing)
				dp_timing_copy(w, in, DP_TARGET_GROUP(gi), m->pkt_len, now);
			continue;
		}
		if (likely(whole && !session && ((s->plain >> gi) & 1))) {
			struct copy_job *j = &jobs[*nj];

			if (!plain_mac(g, gc, in, &j->mac))
				continue;
			/* the same MAC: make_copy shares the data */
			if (likely(!rte_is_same_ether_addr(&j->mac, pkt_dst))) {
				add_job(w, gc, jobs, nj, i, gi);
				continue;
			}
		}
		/* Instances, sessions, large or chained: one at a time, from
		 * the full view (which cannot fail here: select_groups parsed
		 * what could). */
		if (!in->parsed && !dp_classify_finish(w, m, in))
			break;
		if (queue_copy(w, gi, g, gc, m, in, false, now) == 1 && app->timing)
			dp_timing_copy(w, in, DP_TARGET_GROUP(gi), m->pkt_len, now);
	}
}

void dp_mirror_burst(struct dp_worker *w, struct rte_mbuf **pkts,
		     struct dp_pktinfo *info, uint16_t n, uint64_t now)
{
	const int n_groups = w->app->n_groups;
	struct copy_job jobs[DP_BURST * DP_MAX_SHADOWS];
	uint16_t pick[DP_BURST];
	uint32_t nj = 0, np = 0;
	struct dp_sel s;
	bool all_flow = sel_read(w, &s, now);

	/* The packets a group may take, found with no branch on the hash
	 * (dp_tee_burst's first pass): a hashed packet no group's share
	 * holds is left out; any other goes to tee_packet. */
	for (uint16_t i = 0; i < n; i++) {
		uint64_t fl;

		memcpy(&fl, &info[i].ok, sizeof(fl));
		pick[np] = i;
		np += !all_flow || (fl & LAZY_C2S_MASK) != LAZY_C2S ||
		      flow_sel(&s, n_groups, info[i].hash) != 0;
	}
	for (uint32_t k = 0; k < np; k++)
		tee_packet(w, &s, all_flow, pkts, info, pick[k], jobs, &nj, now);
	if (nj > 0)
		make_copies(w, pkts, info, jobs, nj, now);
}

void dp_tee_burst(struct dp_worker *w, struct rte_mbuf **pkts, struct dp_pktinfo *info,
		  uint16_t n, uint64_t now)
{
	const int n_groups = w->app->n_groups;
	struct copy_job jobs[DP_BURST * DP_MAX_SHADOWS];
	struct st_flow_key key[DP_BURST];
	struct st_flow_lite f[DP_BURST];
	uint8_t fast[DP_BURST];
	uint16_t pick[DP_BURST];
	uint32_t psel[DP_BURST];
	uint32_t nj = 0, np = 0;
	struct dp_sel s;
	bool all_flow = sel_read(w, &s, now);
	/* TCP segments with options are parsed in full before a copy (their
	 * options may be malformed), and sessions keep their own copies. */
	const bool tcp_sessions = w->app->tcp;

	/* First every packet's hash and whether a group takes it, with no
	 * branch on the hash: a branch there mispredicts on about one packet
	 * in ten at a 10% share, and each restarts a chain of five crc32. */
	for (uint16_t i = 0; i < DP_PREFETCH_AHEAD && i < n; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (uint16_t i = 0; i < n; i++) {
		bool ok;

		if (i + DP_PREFETCH_AHEAD < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + DP_PREFETCH_AHEAD], void *));
		ok = dp_flow_frame(rte_pktmbuf_mtod(pkts[i], const uint8_t *),
				   rte_pktmbuf_data_len(pkts[i]), &key[i], &f[i]) == 0;
		fast[i] = ok;
		pick[np] = i;
		/* f[i] holds nothing usable when st_flow_frame refused the
		 * frame (always picked: the full parse counts it) */
		psel[np] = all_flow && ok ? flow_sel(&s, n_groups, f[i].hash) : 0;
		np += !ok || !all_flow || psel[np] != 0;
	}
	/* Then the packets a group may take (and those st_flow_frame left to
	 * the full parse, which counts what is malformed), described and
	 * teed in order. */
	for (uint32_t k = 0; k < np; k++) {
		uint16_t i = pick[k];
		struct dp_pktinfo *in = &info[i];

		if (likely(fast[i])) {
			struct rte_mbuf *m = pkts[i];

			/* Taken only by simple groups, whole and no session:
			 * their jobs, straight from what the first pass read. */
			if (likely(all_flow && (psel[k] & ~s.simple) == 0 && copy_whole(m) &&
				   (f[i].proto == ST_IPPROTO_UDP ||
				    (!tcp_sessions && f[i].l4_hlen == 20)))) {
				const struct rte_ether_addr *dst =
					&rte_pktmbuf_mtod(m, const struct rte_ether_hdr *)->dst_addr;
				uint32_t sel = psel[k], same = 0;

				for (uint32_t x = sel; x != 0; x &= x - 1)
					same |= rte_is_same_ether_addr(
						&w->app->groups[__builtin_ctz(x)].dst_mac, dst);
				if (likely(!same)) {
					for (; sel != 0; sel &= sel - 1) {
						int gi = __builtin_ctz(sel);

						jobs[nj].mac = w->app->groups[gi].dst_mac;
						add_job(w, &w->cnt.group[gi], jobs, &nj, i, gi);
					}
					continue;
				}
			}
			in->key = key[i];
			dp_lazy_fill(in, &f[i], true);
		} else {
			dp_classify_one(w, pkts[i], in, DP_DIR_C2S);
		}
		tee_packet(w, &s, all_flow, pkts, info, i, jobs, &nj, now);
	}
	if (nj > 0)
		make_copies(w, pkts, info, jobs, nj, now);
}

void dp_inject_burst(struct dp_worker *w, struct rte_mbuf **pkts,
		     struct dp_pktinfo *info, uint16_t n, uint64_t now)
{
	const struct dp_app *app = w->app;

	for (int gi = 0; gi < app->n_groups; gi++)
		w->n_active[gi] = __atomic_load_n(&app->groups[gi].n_active, __ATOMIC_ACQUIRE);
	for (int gi = 0; gi < w->app->n_groups; gi++)
		dp_chaos_refresh_at(w, gi, now);
	for (uint16_t i = 0; i < n; i++) {
		struct dp_pktinfo *in = &info[i];
		struct rte_mbuf *m = pkts[i];

		if (!in->ok || !in->c2s || (in->p.flags & ST_PKT_F_ICMP_ERR))
			continue;
		if (unlikely(in->frag != DP_FRAG_NONE) && !frag_tee_now(w, m, in))
			continue;
		inject_one(w, m, in, now);
		if (unlikely(in->frag == DP_FRAG_FIRST) && in->fragp->n_held > 0)
			frag_release(w, NULL, in, now);
	}
}

void dp_frag_scan(struct dp_worker *w, uint64_t now, uint32_t budget)
{
	struct dp_frag_expiry x = { 0, 0 };

	dp_fragtab_expire(&w->frags, now, w->app->frag_cyc, budget, &x);
	w->cnt.frag_expired += x.incomplete;
	w->cnt.frag_held_expired += x.held_freed;
}

/* A copy longer than the shadow port sends without a second look. */
static inline bool copies_too_long(struct rte_mbuf *const *c, uint32_t fast, uint16_t n)
{
	uint32_t max = 0;

	for (uint16_t i = 0; i < n; i++)
		max = RTE_MAX(max, c[i]->pkt_len);
	return max > fast;
}

void dp_copies_send(struct dp_worker *w, int gi, struct dp_group_counters *gc,
		    struct rte_mbuf **c, uint16_t n)
{
	const struct dp_app *app = w->app;
	uint16_t sent;

	if (unlikely(copies_too_long(c, app->groups[gi].tx_fast_max, n))) {
		/* Fragmented to the shadow's MTU (or too_big): what was not
		 * sent is taken back out of the sent copies, as below. */
		struct dp_egress_lost lost = { 0, 0, 0 };

		dp_egress_send(w, app->groups[gi].port_idx, app->groups[gi].mtu, c, n,
			       app->copy_pool, &lost);
		gc->drops[DP_DROP_TOO_BIG] += lost.too_big;
		gc->drops[DP_DROP_TX_FULL] += lost.tx_full;
		gc->copies -= lost.too_big + lost.tx_full;
		gc->copy_bytes -= lost.bytes;
		return;
	}
	sent = rte_eth_tx_burst(app->groups[gi].port_id, w->queue, c, n);
	if (unlikely(sent < n)) {
		/* Not sent: take them back out of the counts of sent copies;
		 * but a TCP session's segment (a clone of its queue's copy)
		 * stays queued and is sent again: put off, not lost (a first
		 * send taken out of the copies until one leaves) */
		for (uint16_t i = sent; i < n; i++) {
			if (dp_tcp_put_off(w, c[i]))
				continue;
			gc->drops[DP_DROP_TX_FULL]++;
			gc->copies--;
			gc->copy_bytes -= c[i]->pkt_len;
		}
		rte_pktmbuf_free_bulk(&c[sent], n - sent);
	}
}

void dp_mirror_flush(struct dp_worker *w, struct dp_group_counters *cnt)
{
	const struct dp_app *app = w->app;

	for (int gi = 0; gi < app->n_groups; gi++) {
		uint16_t n = w->n_copies[gi];

		if (n == 0)
			continue;
		w->n_copies[gi] = 0;
		if (unlikely(w->copy_holes & (1u << gi))) {
			/* copies the pool had no mbuf for (make_copies) */
			uint16_t k = 0;

			for (uint16_t i = 0; i < n; i++)
				if (w->copies[gi][i] != NULL)
					w->copies[gi][k++] = w->copies[gi][i];
			n = k;
			w->copy_holes &= ~(1u << gi);
			if (n == 0)
				continue;
		}
		/* chaos: loss, corruption, duplicates, delay */
		if (unlikely(dp_chaos_on(w, gi))) {
			dp_chaos_tx(w, gi, cnt == w->cnt.inject, &cnt[gi], n);
			continue;
		}
		dp_copies_send(w, gi, &cnt[gi], w->copies[gi], n);
	}
}

/* Whether address a of family (ST_L3_*) is one of group g's instances. */
static bool is_instance(const struct dp_group *g, uint8_t family, const struct st_ip_addr *a)
{
	size_t alen = family == ST_L3_IPV4 ? 4 : 16;

	for (int i = 0; i < g->n_instances; i++)
		if (g->inst[i]->family == family && memcmp(&g->inst[i]->ip, a, alen) == 0)
			return true;
	return false;
}

/* dp_map_back for an instance's ICMP error: it quotes the copy, sent to
 * the instance's address; its flow is the one to the address the copy was
 * rewritten from. Only timing looks at errors. */
static bool map_back_icmp(struct dp_worker *w, int port_idx, struct dp_pktinfo *in,
			  bool may_defer)
{
	const struct dp_app *app = w->app;
	const struct st_pkt_inner *qi = &in->p.icmp.inner;
	bool defer = false;

	if (!app->timing || qi->err != ST_PKT_OK || qi->l3 == ST_L3_NONE)
		return false;
	for (uint32_t m = app->port_groups[port_idx]; m != 0; m &= m - 1) {
		int gi = __builtin_ctz(m);
		const struct dp_group *g = &app->groups[gi];
		const struct dp_orig *o = &w->orig[gi];

		if (!is_instance(g, qi->l3, &qi->dst))
			continue;
		in->group = (int8_t)gi;
		for (int i = 0; i < o->n; i++) {
			struct st_pkt q = in->p;
			struct st_flow_key k;
			uint32_t h;

			if (o->family[i] != qi->l3)
				continue;
			q.icmp.inner.dst = o->addr[i];
			if (st_flow_key_from_icmp_inner(&q, &k, NULL) != 0)
				continue;
			h = st_flow_hash(&k);
			if (dp_flowtab_lookup(&w->flows, &k, h) != NULL) {
				in->key = k;
				in->hash = h;
				return false;
			}
		}
		defer = may_defer;
	}
	return defer;
}

bool dp_map_back(struct dp_worker *w, int port_idx, struct dp_pktinfo *in, bool may_defer)
{
	const struct dp_app *app = w->app;
	bool defer = false;

	if (!in->ok)
		return false;
	if (in->p.flags & ST_PKT_F_ICMP_ERR)
		return map_back_icmp(w, port_idx, in, may_defer);
	for (uint32_t m = app->port_groups[port_idx]; m != 0; m &= m - 1) {
		int gi = __builtin_ctz(m);
		const struct dp_group *g = &app->groups[gi];
		const struct dp_orig *o = &w->orig[gi];
		bool mapped = false;

		if (!is_instance(g, in->p.l3, &in->p.src))
			continue;
		in->group = (int8_t)gi;
		/* The original address whose flow is known: timed, or a TCP
		 * session. Untimed, a datagram takes the first of its family
		 * (a TCP answer took it too, and with two addresses, DNS's
		 * and the service's, the sessions to the other never saw
		 * their SYN-ACK). */
		for (int i = 0; i < o->n; i++) {
			struct st_pkt q = in->p;
			struct st_flow_key k;
			uint32_t h;

			if (o->family[i] != in->p.l3)
				continue;
			q.src = o->addr[i];
			st_flow_key_from_pkt(&q, &k, NULL);
			h = st_flow_hash(&k);
			if (dp_flowtab_lookup(&w->flows, &k, h) != NULL ||
			    (app->tcp && in->p.proto == ST_IPPROTO_TCP && dp_tcp_known(w, &k, h, gi))) {
				in->key = k;
				in->hash = h;
				return false;
			}
			if (!mapped && !app->timing) {
				in->key = k;
				in->hash = h;
				mapped = true;
			}
		}
		/* Not this worker's flow: another's, perhaps (what it times,
		 * or its TCP session), unless a later group's here. The frame
		 * is classified again there. */
		if (may_defer && (app->timing || (app->tcp && in->p.proto == ST_IPPROTO_TCP))) {
			defer = true;
			continue;
		}
		if (mapped)
			return false;
	}
	return defer;
}
