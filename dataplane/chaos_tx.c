/* Chaos on copies on their way out: random and bursty loss, corruption,
 * duplication, delay, shaping, reordering. Runs in the worker's poll loop on the copies
 * dp_mirror_flush is about to send, after they were made, timed and (TCP)
 * queued, so that a shadow, and the dataplane's own retransmission, see
 * what a bad network would do to them. Production's packets never come
 * here: a copy that would pin one of production's buffers while it waits
 * is copied first. No allocation but mbufs from the copies' pool, no lock,
 * no system call. */
#include <errno.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>

#include "worker.h"

/* The wheel's tick and horizon: a tick of about 25 us (a copy leaves at
 * most that late), a horizon of 2 s (chaos_delay and chaos_jitter are at
 * most 1 s each; a draw past it leaves at the horizon). */
#define WHEEL_TICK_PER_S	40000
#define WHEEL_HORIZON_S		2

/* The wheel's tag: the group, and whether the copy is injected traffic. */
#define TAG_INJECT 0x100
/* ... and whether it is a TCP session's own segment (dp_chaos_tx_tcp), not
 * counted among the group's copies. */
#define TAG_UNCOUNTED 0x200
#define TAG_GROUP(tag) ((tag) & (TAG_INJECT - 1))
/* (DP_WTAG_RESPONSE and above: a shadow's response, chaos_rx.c.) */
_Static_assert(DP_WTAG_RESPONSE > TAG_UNCOUNTED && DP_MAX_SHADOWS <= TAG_INJECT &&
	       DP_MAX_PORTS <= 32, "the wheel's tags fit 16 bits");

/* Whether m (any segment) shares a buffer of a pool other than the copies'
 * own: production's, which a copy held for milliseconds must not pin. */
static bool pins_foreign(const struct dp_app *app, const struct rte_mbuf *m)
{
	for (; m != NULL; m = m->next) {
		if (RTE_MBUF_HAS_EXTBUF(m))
			return true;
		if (RTE_MBUF_CLONED(m)) {
			const struct rte_mempool *mp =
				rte_mbuf_from_indirect((struct rte_mbuf *)(uintptr_t)m)->pool;

			if (mp != app->copy_pool && mp != app->tcpq_pool)
				return true;
		}
	}
	return false;
}

/* Whether m's bytes are its own to change: no segment shared. */
static bool writable(const struct rte_mbuf *m)
{
	for (; m != NULL; m = m->next)
		if (RTE_MBUF_CLONED(m) || RTE_MBUF_HAS_EXTBUF(m) || rte_mbuf_refcnt_read(m) != 1)
			return false;
	return true;
}

/* A private copy of m from the copies' pool in place of m (freed), or NULL
 * (m freed too) when the pool is dry. */
static struct rte_mbuf *privatise(struct dp_worker *w, struct rte_mbuf *m)
{
	struct rte_mbuf *c = rte_pktmbuf_copy(m, w->app->copy_pool, 0, UINT32_MAX);

	rte_pktmbuf_free(m);
	return c;
}

/* One bit of m's L4 payload flipped, checksums left as they are. Returns
 * the copy to send (m, or a private copy of it when m shares its bytes),
 * NULL when it had to be copied and the pool was dry (m freed); *done
 * says whether a bit was flipped (not for copies without an L4 payload:
 * SYNs, pure ACKs, later fragments). */
static struct rte_mbuf *corrupt(struct dp_worker *w, struct rte_mbuf *m, bool *done)
{
	struct st_pkt p;
	uint32_t off;
	struct rte_mbuf *seg;

	*done = false;
	/* the payload as the IP length gives it: an Ethernet trailer's
	 * bytes are no one's, and a pure ACK padded to 60 bytes has none */
	if (dp_pkt_parse(m, &p) != 0 || !(p.flags & ST_PKT_F_L4) || (p.flags & ST_PKT_F_FRAG) ||
	    p.payload_len == 0 || p.payload_off + p.payload_len > m->pkt_len)
		return m;
	if (!writable(m)) {
		m = privatise(w, m);
		if (m == NULL)
			return NULL;
	}
	off = p.payload_off + dp_rng32(w) % p.payload_len;
	for (seg = m; seg != NULL && off >= seg->data_len; seg = seg->next)
		off -= seg->data_len;
	if (seg == NULL)
		return m;
	*rte_pktmbuf_mtod_offset(seg, uint8_t *, off) ^= (uint8_t)(1u << (dp_rng32(w) & 7));
	*done = true;
	return m;
}

/* A copy of len bytes no longer sent: out of the counts of sent copies
 * (when it was counted there), under reason. */
static inline void lose_len(struct dp_group_counters *gc, uint32_t len, int reason, uint16_t tag)
{
	if (!(tag & TAG_UNCOUNTED)) {
		gc->copies--;
		gc->copy_bytes -= len;
	}
	gc->drops[reason]++;
}

static inline void uncount(struct dp_group_counters *gc, const struct rte_mbuf *m, int reason,
			   uint16_t tag)
{
	lose_len(gc, m->pkt_len, reason, tag);
}

/* The counters a copy of tag counts in. */
static inline struct dp_group_counters *gc_of(struct dp_worker *w, uint16_t tag)
{
	int gi = TAG_GROUP(tag);

	return (tag & TAG_INJECT) ? &w->cnt.inject[gi] : &w->cnt.group[gi];
}

/* Into the wheel until due; a private copy first when m pins a foreign
 * buffer. Counted delayed (when delayed: not for a copy only shaped), or
 * dropped as chaos_queue_full / no_mbuf. */
static void hold(struct dp_worker *w, struct dp_group_counters *gc, struct rte_mbuf *m,
		 uint16_t tag, uint64_t due, uint64_t now, bool delayed)
{
	uint32_t len = m->pkt_len;

	if (unlikely(w->wheel.free_head == DP_WHEEL_NIL)) {
		uncount(gc, m, DP_DROP_CHAOS_QUEUE_FULL, tag);
		w->wheel.full++;
		rte_pktmbuf_free(m);
		return;
	}
	if (pins_foreign(w->app, m)) {
		m = privatise(w, m);
		if (unlikely(m == NULL)) {
			lose_len(gc, len, DP_DROP_NO_MBUF, tag);
			return;
		}
	}
	/* Room was checked above: the worker is the wheel's only user. */
	dp_wheel_add(&w->wheel, m, tag, due, now);
	gc->chaos_fx[DP_FX_DELAYED] += delayed;
}

/* Sends n (at most DP_BURST) copies of one tag: the group's copies through
 * dp_copies_send; a TCP session's own segments (no longer than the MSS the
 * shadow gave) straight to the port, what the queue refuses put off
 * (tcp_send_tx_full: their session resends them), and its ACKs counted
 * tx_full. */
static void send_one_tag(struct dp_worker *w, int gi, uint16_t tag, struct rte_mbuf **c, uint16_t n)
{
	uint16_t sent;

	if (likely(!(tag & TAG_UNCOUNTED))) {
		dp_copies_send(w, gi, gc_of(w, tag), c, n);
		return;
	}
	sent = rte_eth_tx_burst(w->app->groups[gi].port_id, w->queue, c, n);
	if (unlikely(sent < n)) {
		for (uint16_t i = sent; i < n; i++) {
			if (!dp_tcp_put_off(w, c[i]))
				gc_of(w, tag)->drops[DP_DROP_TX_FULL]++;
		}
		rte_pktmbuf_free_bulk(c + sent, n - sent);
	}
}

/* Sends out[0..n) (tags otag) in runs of one tag, each counted where it
 * belongs. */
static void send_runs(struct dp_worker *w, int gi, struct rte_mbuf **out, const uint16_t *otag,
		      uint16_t n)
{
	uint16_t i = 0;

	while (i < n) {
		uint16_t j = i;

		while (j < n && otag[j] == otag[i] && j - i < DP_BURST)
			j++;
		send_one_tag(w, gi, otag[i], out + i, (uint16_t)(j - i));
		i = j;
	}
}

/* Releases held copy j of group gi's state into out (at *k): counted
 * reordered when a later copy overtook it. Keeps the order of the others. */
static void release_held(struct dp_worker *w, struct dp_chaos_state *st, uint32_t j,
			 struct rte_mbuf **out, uint16_t *otag, uint16_t *k)
{
	out[*k] = st->held[j];
	otag[*k] = st->held_tag[j];
	if (st->held_passed[j])
		gc_of(w, st->held_tag[j])->chaos_fx[DP_FX_REORDERED]++;
	(*k)++;
	for (uint32_t i = j + 1; i < st->n_held; i++) {
		st->held[i - 1] = st->held[i];
		st->held_deadline[i - 1] = st->held_deadline[i];
		st->held_left[i - 1] = st->held_left[i];
		st->held_tag[i - 1] = st->held_tag[i];
		st->held_passed[i - 1] = st->held_passed[i];
	}
	st->n_held--;
	w->n_held--;
}

/* The copies of group gi about to leave (n, of tag), through the reorder
 * gate: one chosen by chaos_reorder is held back until chaos_reorder_gap
 * later copies of the group left, then sent after the last of them (or at
 * its time bound, dp_chaos_drain); copies held earlier are counted down by
 * every copy that leaves. Without reordering and nothing held, straight
 * to dp_copies_send. Takes every mbuf. */
static void emit(struct dp_worker *w, int gi, uint16_t tag, struct rte_mbuf **c, uint16_t n,
		 uint64_t now)
{
	const struct dp_chaos_fx *fx = &w->fx[gi];
	struct dp_chaos_state *st = &w->cst[gi];
	struct rte_mbuf *out[DP_BURST + DP_CHAOS_REORDER_HELD + 1];
	uint16_t otag[DP_BURST + DP_CHAOS_REORDER_HELD + 1], k = 0;
	const bool reorder = (fx->on & DP_FX_REORDER) != 0;

	if (likely(!reorder && st->n_held == 0)) {
		for (uint16_t i = 0; i < n; i += DP_BURST)
			send_one_tag(w, gi, tag, c + i, (uint16_t)RTE_MIN(n - i, DP_BURST));
		return;
	}
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = c[i];

		if (reorder && st->n_held < DP_CHAOS_REORDER_HELD &&
		    dp_rng32(w) < fx->reorder_thr) {
			uint32_t len = m->pkt_len, j;

			if (pins_foreign(w->app, m)) {
				m = privatise(w, m);
				if (unlikely(m == NULL)) {
					lose_len(gc_of(w, tag), len, DP_DROP_NO_MBUF, tag);
					continue;
				}
			}
			j = st->n_held++;
			w->n_held++;
			st->held[j] = m;
			st->held_left[j] = (uint32_t)fx->reorder_gap;
			st->held_passed[j] = 0;
			st->held_deadline[j] = now + fx->reorder_hold_cyc;
			st->held_tag[j] = tag;
			continue;
		}
		out[k] = m;
		otag[k++] = tag;
		/* Copies held earlier count this one down; a change of
		 * setting keeps counting them with the gap they were held for. */
		for (uint32_t j = 0; j < st->n_held;) {
			st->held_passed[j] = 1;
			if (--st->held_left[j] == 0)
				release_held(w, st, j, out, otag, &k);
			else
				j++;
		}
		if (k >= DP_BURST) {
			send_runs(w, gi, out, otag, k);
			k = 0;
		}
	}
	if (k > 0)
		send_runs(w, gi, out, otag, k);
}

/* The held copies whose time bound passed, every group: sent (counted
 * reordered when a later copy overtook them). */
static void expire_held(struct dp_worker *w, uint64_t now)
{
	for (int gi = 0; gi < w->app->n_groups && w->n_held > 0; gi++) {
		struct dp_chaos_state *st = &w->cst[gi];
		struct rte_mbuf *out[DP_CHAOS_REORDER_HELD];
		uint16_t otag[DP_CHAOS_REORDER_HELD], k = 0;

		for (uint32_t j = 0; j < st->n_held;) {
			if ((int64_t)(now - st->held_deadline[j]) >= 0)
				release_held(w, st, j, out, otag, &k);
			else
				j++;
		}
		if (k > 0)
			send_runs(w, gi, out, otag, k);
	}
}

/* dp_chaos_tx on the n (at most DP_BURST) copies in c, of tag. */
static void chaos_tx(struct dp_worker *w, int gi, uint16_t tag, struct dp_group_counters *gc,
		     struct rte_mbuf **c, uint16_t n)
{
	struct rte_mbuf *out[2 * DP_BURST], *lost[DP_BURST];
	const struct dp_chaos_fx *fx = &w->fx[gi];
	struct dp_chaos_state *st = &w->cst[gi];
	const uint64_t loss_thr = fx->copy_loss ? dp_chaos_loss_thr(w->chaos[gi]) : 0, on = fx->on;
	const bool delayed = (on & DP_FX_DELAY) != 0;
	uint64_t now = (on & (DP_FX_DELAY | DP_FX_RATE | DP_FX_REORDER)) || w->n_held ?
		       rte_rdtsc() : 0;
	uint16_t n_out = 0, n_lost = 0;

	/* A whole group's flap in its down phase: the path is gone, every
	 * copy and session packet is lost on the wire (timed as sent; the
	 * sessions resend once it is back). */
	if (unlikely(w->chaos[gi] & DP_CHAOS_ALLDOWN)) {
		for (uint16_t i = 0; i < n; i++)
			uncount(gc, c[i], DP_DROP_CHAOS_DOWN, tag);
		rte_pktmbuf_free_bulk(c, n);
		return;
	}
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = c[i], *dup = NULL;

		if (loss_thr != 0 && dp_rng32(w) < loss_thr) {
			uncount(gc, m, DP_DROP_CHAOS_LOSS, tag);
			lost[n_lost++] = m;
			continue;
		}
		if ((on & DP_FX_GE) && dp_chaos_ge_lose(fx, st, dp_rng32(w), dp_rng32(w))) {
			uncount(gc, m, DP_DROP_CHAOS_LOSS_BURST, tag);
			lost[n_lost++] = m;
			continue;
		}
		if ((on & DP_FX_CORRUPT) && dp_rng32(w) < fx->corrupt_thr) {
			uint32_t len = m->pkt_len;
			bool done;

			m = corrupt(w, m, &done);
			if (unlikely(m == NULL)) {
				lose_len(gc, len, DP_DROP_NO_MBUF, tag);
				continue;
			}
			gc->chaos_fx[DP_FX_CORRUPTED] += done;
		}
		if ((on & DP_FX_DUP) && dp_rng32(w) < fx->dup_thr) {
			dup = rte_pktmbuf_copy(m, w->app->copy_pool, 0, UINT32_MAX);
			if (likely(dup != NULL)) {
				if (!(tag & TAG_UNCOUNTED)) {
					gc->copies++;
					gc->copy_bytes += dup->pkt_len;
				}
				gc->chaos_fx[DP_FX_DUPLICATED]++;
			} else {
				gc->drops[DP_DROP_NO_MBUF]++;
			}
		}
		if (on & (DP_FX_DELAY | DP_FX_RATE)) {
			uint64_t due = delayed ? dp_chaos_delay(fx, st, now, dp_rng32(w)) : now;

			/* Shaped at the group's rate after the delay, as netem
			 * does; a full wheel drops in hold() without using
			 * the link's time. */
			if ((on & DP_FX_RATE) && w->wheel.free_head != DP_WHEEL_NIL) {
				uint64_t t = dp_chaos_shape(fx, st, now, due, m->pkt_len,
							    w->app->n_workers);

				if (t == 0) {
					/* the backlog is past what the wheel covers */
					uncount(gc, m, DP_DROP_CHAOS_QUEUE_FULL, tag);
					lost[n_lost++] = m;
					if (dup != NULL) {
						uncount(gc, dup, DP_DROP_CHAOS_QUEUE_FULL, tag);
						rte_pktmbuf_free(dup);
					}
					continue;
				}
				gc->chaos_fx[DP_FX_SHAPED] += t > due;
				/* later copies keep behind it through shape_next,
				 * not last_due: folded in there, the backlog moved
				 * their ready along and never showed as a wait */
				due = t;
			}
			hold(w, gc, m, tag, due, now, delayed);
			if (dup != NULL) {
				uint64_t t = due;

				if ((on & DP_FX_RATE) && w->wheel.free_head != DP_WHEEL_NIL) {
					t = dp_chaos_shape(fx, st, now, due, dup->pkt_len,
							   w->app->n_workers);
					if (t == 0) {
						uncount(gc, dup, DP_DROP_CHAOS_QUEUE_FULL, tag);
						rte_pktmbuf_free(dup);
						continue;
					}
					gc->chaos_fx[DP_FX_SHAPED] += t > due;
				}
				hold(w, gc, dup, tag, t, now, delayed);
			}
			continue;
		}
		out[n_out++] = m;
		if (dup != NULL)
			out[n_out++] = dup;
	}
	if (n_lost > 0)
		rte_pktmbuf_free_bulk(lost, n_lost);
	if (n_out > 0)
		emit(w, gi, tag, out, n_out, now);
}

void dp_chaos_tx(struct dp_worker *w, int gi, bool inject, struct dp_group_counters *gc,
		 uint16_t n)
{
	chaos_tx(w, gi, (uint16_t)(gi | (inject ? TAG_INJECT : 0)), gc, w->copies[gi], n);
}

void dp_chaos_tx_tcp(struct dp_worker *w, int gi, bool inject, struct rte_mbuf **pkts,
		     uint16_t n)
{
	uint16_t tag = (uint16_t)(gi | TAG_UNCOUNTED | (inject ? TAG_INJECT : 0));
	struct dp_group_counters *gc = inject ? &w->cnt.inject[gi] : &w->cnt.group[gi];

	for (uint16_t i = 0; i < n; i += DP_BURST)
		chaos_tx(w, gi, tag, gc, pkts + i, (uint16_t)RTE_MIN(n - i, DP_BURST));
}

/* Rounds of DP_BURST per loop iteration at most: a backlog (the loop was
 * late) leaves over a few iterations rather than stall one. */
#define DRAIN_ROUNDS 8

void dp_chaos_drain(struct dp_worker *w, uint64_t now)
{
	void *items[DP_BURST];
	uint16_t tags[DP_BURST];

	for (int r = 0; r < DRAIN_ROUNDS; r++) {
		uint32_t k = dp_wheel_poll(&w->wheel, now, items, tags, DP_BURST), i = 0;

		while (i < k) {
			/* A run of one group's copies, sent in order. */
			struct rte_mbuf *run[DP_BURST];
			uint16_t tag = tags[i], nr = 0;
			int gi = TAG_GROUP(tag);

			while (i < k && tags[i] == tag)
				run[nr++] = items[i++];
			if (unlikely(tag & DP_WTAG_RESPONSE))
				dp_chaos_rx_release(w, tag, run, nr, now);
			else
				emit(w, gi, tag, run, nr, now);
		}
		if (k < DP_BURST)
			break;
	}
	if (unlikely(w->n_held > 0))
		expire_held(w, now);
}

int dp_chaos_worker_init(struct dp_worker *w, uint32_t cap)
{
	uint64_t hz = w->app->tsc_hz;
	unsigned int shift;
	uint32_t slots;

	dp_wheel_geometry(hz / WHEEL_TICK_PER_S, hz * WHEEL_HORIZON_S, &shift, &slots);
	/* A worker's sequences start odd: it takes every group's setting and
	 * range (sel_read) at its first burst. */
	for (int gi = 0; gi < DP_MAX_SHADOWS; gi++)
		w->chaos_seq[gi] = w->range_seq[gi] = 1;
	return dp_wheel_init(&w->wheel, cap, slots, shift, rte_rdtsc());
}

static void free_copy(void *item, uint16_t tag, void *arg)
{
	(void)tag;
	(void)arg;
	rte_pktmbuf_free(item);
}

void dp_chaos_worker_fini(struct dp_worker *w)
{
	dp_wheel_fini(&w->wheel, free_copy, NULL);
	for (int gi = 0; gi < DP_MAX_SHADOWS; gi++) {
		struct dp_chaos_state *st = &w->cst[gi];

		for (uint32_t j = 0; j < st->n_held; j++)
			rte_pktmbuf_free(st->held[j]);
		st->n_held = 0;
	}
	w->n_held = 0;
}
