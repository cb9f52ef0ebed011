/* lg_tx_main_loop: the poll loop of one TX lcore. It walks its templates
 * pass after pass, clone after clone, and sends each packet when its
 * deadline (an absolute TSC value computed from the packet's position, see
 * pacer.h) has come. A packet whose variant is the capture itself goes out
 * as the template (one more reference, no copy); loop passes and clones
 * are copies with the client address rewritten.
 *
 * Nothing here allocates (but mbufs), locks, prints or makes a system call.
 * A port that pushes back gets the packet again until it is --max-lag late,
 * then the packet is dropped and counted: the schedule never slows down to
 * absorb it, the later packets keep their own deadlines. */
#include <math.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_pause.h>
#include <time.h>
#include <rte_prefetch.h>

#include "loadgen.h"

/* The longest sleep before the next deadline: how soon a stop is seen. */
#define SLEEP_MAX_NS 50000000ULL

/* Where the walk is. */
struct walk {
	uint64_t k;		/* pass */
	uint32_t m;		/* template */
	uint32_t c;		/* clone */
	uint32_t cursor;	/* profile segment */
	double pos;		/* --poisson: drawn position */
	uint64_t deadline;	/* TSC */
	bool end;
	bool loops_done;	/* --loop N passes made */
};

/* A series bin cursor: bins are visited in time order, so no division. */
struct bins {
	uint32_t i;
	uint64_t end;		/* TSC at which bin i ends */
};

struct tx_ctx {
	struct lg_worker *w;
	const struct lg_app *app;
	const struct lg_variants *var;
	uint64_t hz;
	uint64_t max_lag;	/* TSC cycles */
	uint64_t late;
	uint64_t bin_tsc;
	double ns_per_tsc;
	uint64_t sleep_min;	/* TSC: sleep when the next deadline is further */
	uint64_t spin;		/* TSC: the last stretch, spun */
	uint32_t mul;
	uint64_t loops;
	struct bins due_b, sent_b;
	struct rte_mbuf *stash[LG_BURST];
	uint32_t n_stash;
	uint64_t last_variant, last_slot;
	uint64_t ended_tsc;	/* when the run was over for drain_late (0: not) */
};

static inline void bin_add(struct tx_ctx *x, uint64_t *arr, struct bins *b, uint64_t t,
			   uint64_t n)
{
	struct lg_worker *w = x->w;

	while (t >= b->end) {
		b->i++;
		b->end += x->bin_tsc;
	}
	if (likely(b->i < w->n_bins)) {
		arr[b->i] += n;
		if (b->i >= w->bins_used)
			w->bins_used = b->i + 1;
	} else {
		w->bins_overflow = true;
	}
}

static inline void next_deadline(struct tx_ctx *x, struct walk *s)
{
	const struct lg_app *app = x->app;
	const struct lg_tmpl *t = &x->w->t[s->m];
	double pos, sec;

	if (!app->paced) {
		s->deadline = 0;
		return;
	}
	if (app->cfg.poisson) {
		s->pos += lg_rng_exp(&x->w->rng) * x->w->gap_mean;
		pos = s->pos;
	} else {
		pos = (double)s->k * app->loop_len + t->base + s->c * t->step;
	}
	sec = lg_rate_time_at(&app->rate, pos, &s->cursor);
	if (!isfinite(sec) || sec * (double)x->hz >= (double)(app->end_tsc - app->start_tsc)) {
		s->end = true;
		return;
	}
	s->deadline = app->start_tsc + (uint64_t)(sec * (double)x->hz);
}

static inline void advance(struct tx_ctx *x, struct walk *s)
{
	if (++s->c == x->mul) {
		s->c = 0;
		if (++s->m == x->w->n) {
			s->m = 0;
			s->k++;
			x->w->c.loops = s->k;
			if (x->loops && s->k >= x->loops) {
				s->end = true;
				s->loops_done = true;
				return;
			}
		}
	}
	next_deadline(x, s);
}

/* A packet of the given variant from template t, or NULL when the copy
 * pool is empty. */
static inline struct rte_mbuf *make(struct tx_ctx *x, const struct lg_tmpl *t,
				    uint64_t variant)
{
	struct rte_mbuf *m;
	struct st_ip_addr a;
	uint8_t *d;

	if (variant == 0 && likely(rte_mbuf_refcnt_read(t->m) < LG_REFCNT_MAX)) {
		rte_mbuf_refcnt_update(t->m, 1);
		return t->m;
	}
	if (unlikely(x->n_stash == 0)) {
		if (rte_pktmbuf_alloc_bulk(x->app->copy_pool, x->stash, LG_BURST) != 0)
			return NULL;
		x->n_stash = LG_BURST;
	}
	m = x->stash[--x->n_stash];
	d = rte_pktmbuf_mtod(m, uint8_t *);
	rte_memcpy(d, rte_pktmbuf_mtod(t->m, const uint8_t *), t->len);
	m->data_len = t->len;
	m->pkt_len = t->len;
	if (variant != 0) {
		if (variant != x->last_variant) {
			x->last_variant = variant;
			x->last_slot = lg_variants_slot(x->var, variant);
		}
		lg_variant_addr(x->var, t->rw.family, &t->src, x->last_slot, &a);
		lg_rw_set_src(d, &t->rw, &a);
	}
	return m;
}

/* Hands pkts to the port, again while it pushes back and the oldest
 * packet is less than --max-lag late; what is left is dropped. */
static void send_burst(struct tx_ctx *x, struct rte_mbuf **pkts, const uint64_t *dl,
		       uint16_t n)
{
	struct lg_worker *w = x->w;
	const struct lg_app *app = x->app;
	uint16_t done = 0;

	for (;;) {
		uint64_t t = rte_rdtsc();
		uint16_t s = rte_eth_tx_burst(app->port_id, w->queue, pkts + done,
					      (uint16_t)(n - done));

		if (s > 0) {
			uint64_t bytes = 0;

			for (uint16_t i = done; i < done + s; i++) {
				uint64_t lag = t > dl[i] ? t - dl[i] : 0;

				bytes += pkts[i]->pkt_len;
				if (app->paced) {
					st_hist_record(w->lag, (int64_t)((double)lag * x->ns_per_tsc));
					w->c.late += lag > x->late;
				}
			}
			w->c.sent += s;
			w->c.bytes += bytes;
			bin_add(x, w->sent_bins, &x->sent_b, t, s);
			done = (uint16_t)(done + s);
		}
		if (done == n || lg_force_quit || (t > dl[done] && t - dl[done] > x->max_lag))
			break;
		rte_pause();
	}
	if (unlikely(done < n)) {
		w->c.drops[LG_DROP_TX_FULL] += n - done;
		rte_pktmbuf_free_bulk(pkts + done, n - done);
	}
}

/* The run is over while the walk lags: what was due before its end and
 * not walked yet is too late too, counted (so that sent and drops add up
 * to what was due), within a second more at most (a rate so far past what
 * this lcore walks that the count would take longer is left short; so is
 * a stop). The run's length stays the schedule's: it ended at now. Ends
 * the walk. */
static void drain_late(struct tx_ctx *x, struct walk *s, uint64_t now)
{
	struct lg_worker *w = x->w;
	const uint64_t stop = now + x->hz;

	x->ended_tsc = now;
	for (uint32_t k = 1; ; k++) {
		advance(x, s);
		if (s->end || ((k & 1023) == 0 && (lg_force_quit || rte_rdtsc() >= stop)))
			break;
		w->c.due++;
		bin_add(x, w->due_bins, &x->due_b, s->deadline, 1);
		w->c.drops[LG_DROP_TOO_LATE]++;
	}
	s->end = true;
}

static void run(struct tx_ctx *x, struct walk *s)
{
	struct lg_worker *w = x->w;
	const struct lg_app *app = x->app;
	const bool paced = app->paced;
	struct rte_mbuf *pkts[LG_BURST];
	uint64_t dl[LG_BURST];

	while (!s->end && !lg_force_quit) {
		uint64_t now = rte_rdtsc();
		uint16_t n = 0;

		if (!paced && now >= app->end_tsc)
			break;
		while (n < LG_BURST && !s->end && s->deadline <= now) {
			const struct lg_tmpl *t = &w->t[s->m];
			uint64_t due_at = paced ? s->deadline : now;
			struct rte_mbuf *m;

			w->c.due++;
			bin_add(x, w->due_bins, &x->due_b, due_at, 1);
			if (paced && now - s->deadline > x->max_lag) {
				w->c.drops[LG_DROP_TOO_LATE]++;
				/* At a rate this lcore cannot keep, the walk may
				 * never catch up with now: a stop (Ctrl-C), or
				 * the run's planned end, must still be seen. */
				if (unlikely(lg_force_quit))
					break;
				if (unlikely(now >= app->end_tsc)) {
					drain_late(x, s, now);
					break;
				}
			} else if ((m = make(x, t, s->k * x->mul + s->c)) == NULL) {
				w->c.drops[LG_DROP_NO_MBUF]++;
				/* The pool is dry: send what this burst has (a
				 * PMD that frees on a later send gives mbufs
				 * back only then) and look at the clock and the
				 * stop again: unpaced, the deadline is always 0
				 * and this loop would not end by itself. */
				advance(x, s);
				break;
			} else {
				pkts[n] = m;
				dl[n++] = due_at;
			}
			advance(x, s);
		}
		if (n > 0) {
			send_burst(x, pkts, dl, n);
		} else if (paced && !s->end && s->deadline > now &&
			   s->deadline - now > x->sleep_min) {
			/* Far from the next deadline (a low rate): sleep most of
			 * the way and spin only for the last stretch, so a slow
			 * profile does not hold a core. The deadline itself is
			 * absolute: an oversleep costs lag, never drift. */
			uint64_t ns = (uint64_t)((double)(s->deadline - now - x->spin) * x->ns_per_tsc);
			struct timespec ts;

			/* At most SLEEP_MAX_NS at a time: a stop is seen
			 * within it, not at a deadline an hour away. */
			ns = RTE_MIN(ns, SLEEP_MAX_NS);
			ts.tv_sec = (time_t)(ns / 1000000000ULL);
			ts.tv_nsec = (long)(ns % 1000000000ULL);
			nanosleep(&ts, NULL);
		} else if (paced) {
			rte_pause();
		}
	}
}

int lg_tx_main_loop(void *arg)
{
	struct lg_worker *w = arg;
	const struct lg_app *app = w->app;
	struct tx_ctx x = {
		.w = w,
		.app = app,
		.var = &app->plan.var,
		.hz = app->tsc_hz,
		.max_lag = (uint64_t)((double)app->cfg.max_lag_ns * (double)app->tsc_hz / 1e9),
		.late = (uint64_t)((double)app->cfg.late_ns * (double)app->tsc_hz / 1e9),
		.bin_tsc = (uint64_t)((double)app->cfg.series_ns * (double)app->tsc_hz / 1e9),
		.ns_per_tsc = 1e9 / (double)app->tsc_hz,
		/* Sleep when the next packet is over 2 ms away (rates under
		 * ~500 pps); spin its last 1 ms, which covers a sleep's
		 * overshoot on a loaded host. */
		.sleep_min = app->tsc_hz / 500,
		.spin = app->tsc_hz / 1000,
		.mul = app->cfg.multiply,
		.loops = app->cfg.loops,
		.last_variant = UINT64_MAX,
	};
	struct walk s = { 0 };

	x.due_b.end = app->start_tsc + x.bin_tsc;
	x.sent_b.end = x.due_b.end;
	/* Warm up before the shared start: the first copies' mbufs, the
	 * templates' cache lines and the first deadline are ready when the
	 * first packet is due. */
	if (rte_pktmbuf_alloc_bulk(app->copy_pool, x.stash, LG_BURST) == 0)
		x.n_stash = LG_BURST;
	for (uint32_t i = 0; i < w->n && i < 4096; i++)
		rte_prefetch0(rte_pktmbuf_mtod(w->t[i].m, void *));
	if (w->n == 0) {
		/* nothing of the capture fell to this lcore: its passes are
		 * made, and it does not hold a --loop run to the planned end */
		s.end = true;
		s.loops_done = app->cfg.loops != 0;
	} else
		next_deadline(&x, &s);
	while (rte_rdtsc() < app->start_tsc && !lg_force_quit)
		rte_pause();
	run(&x, &s);
	/* A schedule with a planned end lasts until then, even when this
	 * lcore's last packet was due earlier, so the run's length and its
	 * last interval are the schedule's. */
	if (app->paced && app->end_tsc != UINT64_MAX && !s.loops_done)
		while (rte_rdtsc() < app->end_tsc && !lg_force_quit)
			rte_pause();
	if (x.n_stash > 0)
		rte_pktmbuf_free_bulk(x.stash, x.n_stash);
	w->c.end_tsc = x.ended_tsc ? x.ended_tsc : rte_rdtsc();
	__atomic_store_n(&w->c.done, true, __ATOMIC_RELEASE);
	return 0;
}
