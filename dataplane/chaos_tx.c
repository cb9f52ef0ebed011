/* Chaos on copies on their way out: random and bursty loss, corruption,
 * duplication, delay. Runs in the worker's poll loop on the copies
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
	if (dp_pkt_parse(m, &p) != 0 || !(p.flags & ST_PKT_F_L4) || (p.flags & ST_PKT_F_FRAG) ||
	    p.payload_off >= m->pkt_len)
		return m;
	if (!writable(m)) {
		m = privatise(w, m);
		if (m == NULL)
			return NULL;
	}
	off = p.payload_off + dp_rng32(w) % (m->pkt_len - p.payload_off);
	for (seg = m; seg != NULL && off >= seg->data_len; seg = seg->next)
		off -= seg->data_len;
	if (seg == NULL)
		return m;
	*rte_pktmbuf_mtod_offset(seg, uint8_t *, off) ^= (uint8_t)(1u << (dp_rng32(w) & 7));
	*done = true;
	return m;
}

/* A copy no longer sent: out of the counts of sent copies, under reason. */
static inline void uncount(struct dp_group_counters *gc, const struct rte_mbuf *m, int reason)
{
	gc->copies--;
	gc->copy_bytes -= m->pkt_len;
	gc->drops[reason]++;
}

/* Into the wheel until due; a private copy first when m pins a foreign
 * buffer. Counted delayed, or dropped as chaos_queue_full / no_mbuf. */
static void hold(struct dp_worker *w, struct dp_group_counters *gc, struct rte_mbuf *m,
		 uint16_t tag, uint64_t due, uint64_t now)
{
	uint32_t len = m->pkt_len;

	if (unlikely(w->wheel.free_head == DP_WHEEL_NIL)) {
		uncount(gc, m, DP_DROP_CHAOS_QUEUE_FULL);
		w->wheel.full++;
		rte_pktmbuf_free(m);
		return;
	}
	if (pins_foreign(w->app, m)) {
		m = privatise(w, m);
		if (unlikely(m == NULL)) {
			gc->copies--;
			gc->copy_bytes -= len;
			gc->drops[DP_DROP_NO_MBUF]++;
			return;
		}
	}
	/* Room was checked above: the worker is the wheel's only user. */
	dp_wheel_add(&w->wheel, m, tag, due, now);
	gc->chaos_fx[DP_FX_DELAYED]++;
}

void dp_chaos_tx(struct dp_worker *w, int gi, bool inject, struct dp_group_counters *gc,
		 uint16_t n)
{
	struct rte_mbuf **c = w->copies[gi], *out[2 * DP_BURST], *lost[DP_BURST];
	const struct dp_chaos_fx *fx = &w->fx[gi];
	struct dp_chaos_state *st = &w->cst[gi];
	const uint64_t loss_thr = dp_chaos_loss_thr(w->chaos[gi]), on = fx->on;
	const uint16_t tag = (uint16_t)(gi | (inject ? TAG_INJECT : 0));
	uint64_t now = (on & DP_FX_DELAY) ? rte_rdtsc() : 0;
	uint16_t n_out = 0, n_lost = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = c[i], *dup = NULL;

		if (loss_thr != 0 && dp_rng32(w) < loss_thr) {
			uncount(gc, m, DP_DROP_CHAOS_LOSS);
			lost[n_lost++] = m;
			continue;
		}
		if ((on & DP_FX_GE) && dp_chaos_ge_lose(fx, st, dp_rng32(w), dp_rng32(w))) {
			uncount(gc, m, DP_DROP_CHAOS_LOSS_BURST);
			lost[n_lost++] = m;
			continue;
		}
		if ((on & DP_FX_CORRUPT) && dp_rng32(w) < fx->corrupt_thr) {
			uint32_t len = m->pkt_len;
			bool done;

			m = corrupt(w, m, &done);
			if (unlikely(m == NULL)) {
				gc->copies--;
				gc->copy_bytes -= len;
				gc->drops[DP_DROP_NO_MBUF]++;
				continue;
			}
			gc->chaos_fx[DP_FX_CORRUPTED] += done;
		}
		if ((on & DP_FX_DUP) && dp_rng32(w) < fx->dup_thr) {
			dup = rte_pktmbuf_copy(m, w->app->copy_pool, 0, UINT32_MAX);
			if (likely(dup != NULL)) {
				gc->copies++;
				gc->copy_bytes += dup->pkt_len;
				gc->chaos_fx[DP_FX_DUPLICATED]++;
			} else {
				gc->drops[DP_DROP_NO_MBUF]++;
			}
		}
		if (on & DP_FX_DELAY) {
			uint64_t due = dp_chaos_delay(fx, st, now, dp_rng32(w));

			hold(w, gc, m, tag, due, now);
			if (dup != NULL)
				hold(w, gc, dup, tag, due, now);
			continue;
		}
		out[n_out++] = m;
		if (dup != NULL)
			out[n_out++] = dup;
	}
	if (n_lost > 0)
		rte_pktmbuf_free_bulk(lost, n_lost);
	for (uint16_t k = 0; k < n_out; k += DP_BURST)
		dp_copies_send(w, gi, gc, out + k, (uint16_t)RTE_MIN(n_out - k, DP_BURST));
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
			int gi = tag & (TAG_INJECT - 1);

			while (i < k && tags[i] == tag)
				run[nr++] = items[i++];
			dp_copies_send(w, gi, (tag & TAG_INJECT) ? &w->cnt.inject[gi] :
				       &w->cnt.group[gi], run, nr);
		}
		if (k < DP_BURST)
			break;
	}
}

int dp_chaos_worker_init(struct dp_worker *w, uint32_t cap)
{
	uint64_t hz = w->app->tsc_hz;
	unsigned int shift;
	uint32_t slots;

	dp_wheel_geometry(hz / WHEEL_TICK_PER_S, hz * WHEEL_HORIZON_S, &shift, &slots);
	/* A worker's sequence starts odd: it takes every group's setting at
	 * its first burst. */
	for (int gi = 0; gi < DP_MAX_SHADOWS; gi++)
		w->chaos_seq[gi] = 1;
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
}
