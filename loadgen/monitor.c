/* The main lcore while the TX lcores run and after: the progress line on
 * a terminal, KPI snapshots, draining the RX queue, the stop at the end of
 * the schedule, and the closing summary. Counters are read from the TX
 * lcores' cache lines without locks; the series and histograms only once
 * the lcores are done. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>

#include "clock.h"
#include "loadgen.h"
#include "log.h"
#include "publish.h"

/* How long the port stays open after the last send. */
#define LG_LINGER_NS (200 * ST_NS_PER_MS)

static void sum_counters(const struct lg_app *a, struct lg_counters *s)
{
	memset(s, 0, sizeof(*s));
	s->loops = UINT64_MAX;
	for (uint32_t i = 0; i < a->n_tx; i++) {
		const struct lg_counters *c = &a->w[i]->c;

		s->due += __atomic_load_n(&c->due, __ATOMIC_RELAXED);
		s->sent += __atomic_load_n(&c->sent, __ATOMIC_RELAXED);
		s->bytes += __atomic_load_n(&c->bytes, __ATOMIC_RELAXED);
		s->late += __atomic_load_n(&c->late, __ATOMIC_RELAXED);
		for (int d = 0; d < LG_DROP__COUNT; d++)
			s->drops[d] += __atomic_load_n(&c->drops[d], __ATOMIC_RELAXED);
		if (a->w[i]->n > 0 && c->loops < s->loops)
			s->loops = __atomic_load_n(&c->loops, __ATOMIC_RELAXED);
		if (c->end_tsc > s->end_tsc)
			s->end_tsc = c->end_tsc;
	}
	if (s->loops == UINT64_MAX)
		s->loops = 0;
}

static bool all_done(const struct lg_app *a)
{
	for (uint32_t i = 0; i < a->n_tx; i++)
		if (!__atomic_load_n(&a->w[i]->c.done, __ATOMIC_ACQUIRE))
			return false;
	return true;
}

static uint64_t total_drops(const struct lg_counters *c)
{
	uint64_t d = 0;

	for (int i = 0; i < LG_DROP__COUNT; i++)
		d += c->drops[i];
	return d;
}

/* The offered packet rate over [t0, t1] seconds from the start. */
static double offered_pps(const struct lg_app *a, double t0, double t1)
{
	if (!a->paced || t1 <= t0)
		return 0;
	return (lg_rate_pos_at(&a->rate, t1) - lg_rate_pos_at(&a->rate, t0)) *
	       a->rate.pkts_per_unit / (t1 - t0);
}

/* Frees what the port received (a peer's replies, ARP): nobody else reads
 * the RX queue, and a full one can stall some devices. Up to 32K frames a
 * call, so a few ms between calls still keep up with a fast peer. */
static void drain_rx(struct lg_app *a)
{
	struct rte_mbuf *rx[LG_BURST];

	for (int i = 0; i < 1024; i++) {
		uint16_t n = rte_eth_rx_burst(a->port_id, 0, rx, LG_BURST);

		if (n == 0)
			return;
		a->rx_pkts += n;
		rte_pktmbuf_free_bulk(rx, n);
	}
}

struct kpi_state {
	struct lg_counters prev;
	double prev_t;		/* seconds from the start */
	uint64_t wall0;		/* wall clock at the start */
};

/* One snapshot for the window since the last one, ending t seconds after
 * the start. */
static void publish(const struct lg_app *a, struct lg_pub *pub, struct kpi_state *k, double t)
{
	const char *names[LG_DROP__COUNT];
	uint64_t drops[LG_DROP__COUNT];
	struct lg_counters cur;
	double dt = t - k->prev_t;

	if (dt <= 0)
		return;
	sum_counters(a, &cur);
	for (int d = 0; d < LG_DROP__COUNT; d++) {
		names[d] = lg_drop_str((enum lg_drop)d);
		drops[d] = cur.drops[d] - k->prev.drops[d];
	}
	if (lg_pub_send(pub, k->wall0 + (uint64_t)(k->prev_t * 1e9), k->wall0 + (uint64_t)(t * 1e9),
			cur.sent - k->prev.sent, cur.bytes - k->prev.bytes,
			a->paced ? offered_pps(a, k->prev_t, t) : (double)(cur.sent - k->prev.sent) / dt,
			names, drops, LG_DROP__COUNT) < 0)
		ST_DEBUG("KPI snapshot not sent");
	k->prev = cur;
	k->prev_t = t;
}

/* The main lcore while the TX lcores run: progress line, KPI snapshots,
 * draining RX, and the stop at the end or on a signal. */
void lg_monitor_run(struct lg_app *a, struct lg_pub *pub, double planned_s)
{
	const double hz = (double)a->tsc_hz;
	const bool progress = a->cfg.progress && isatty(STDERR_FILENO);
	uint64_t next_prog = a->start_tsc, next_kpi = a->start_tsc + (uint64_t)(
		(double)a->cfg.interval_ns * hz / 1e9);
	struct lg_counters prev_p = { 0 }, cur;
	struct kpi_state kp = { 0 };
	double prev_p_t = 0;
	struct st_clock_pair cp;

	st_clock_pair_now(&cp);
	/* signed: the start may be behind us already (a slow start of this
	 * thread), and the unsigned difference put wall0 a century ahead */
	kp.wall0 = (uint64_t)((int64_t)cp.wall_ns +
			      (int64_t)((double)(int64_t)(a->start_tsc - rte_rdtsc()) / hz * 1e9));
	while (!all_done(a)) {
		uint64_t now = rte_rdtsc();
		double t = now > a->start_tsc ? (double)(now - a->start_tsc) / hz : 0;

		if (lg_force_quit)
			break;
		/* a TX lcore stuck in a port; one that is behind may still send
		 * what is due within --max-lag */
		if (a->end_tsc != UINT64_MAX &&
		    now > a->end_tsc + (uint64_t)(((double)a->cfg.max_lag_ns / 1e9 + 2) * hz))
			lg_force_quit = true;
		if (a->n_rxq)
			drain_rx(a);
		if (progress && now >= next_prog) {
			char line[200];

			sum_counters(a, &cur);
			lg_progress_fmt(line, sizeof(line), t, planned_s,
					a->paced ? lg_rate_pps_at(&a->rate, t) : -1,
					t > prev_p_t ? (double)(cur.sent - prev_p.sent) / (t - prev_p_t) : 0,
					cur.sent, total_drops(&cur));
			fprintf(stderr, "\r%s\033[K", line);
			prev_p = cur;
			prev_p_t = t;
			next_prog = now + (uint64_t)(0.25 * hz);
		}
		if (pub && now >= next_kpi) {
			publish(a, pub, &kp, t);
			next_kpi += (uint64_t)((double)a->cfg.interval_ns * hz / 1e9);
		}
		st_sleep_until_ns(st_mono_ns() + 5 * ST_NS_PER_MS);
	}
	if (progress)
		fputc('\n', stderr);
	/* A peer reads what was sent at its own pace (memif: from a ring that
	 * goes away with the connection): give it a moment before the port
	 * closes, and take what arrives meanwhile. */
	{
		uint64_t until = st_mono_ns() + LG_LINGER_NS;

		while (st_mono_ns() < until) {
			if (a->n_rxq)
				drain_rx(a);
			st_sleep_until_ns(st_mono_ns() + ST_NS_PER_MS);
		}
	}
	if (pub) {
		/* The last, partial window, up to the end of the schedule. */
		uint64_t end = rte_rdtsc();

		sum_counters(a, &cur);
		if (cur.end_tsc && cur.end_tsc < end)
			end = cur.end_tsc;
		publish(a, pub, &kp, end > a->start_tsc ? (double)(end - a->start_tsc) / hz : 0);
	}
}

void lg_summarize(struct lg_app *a, double planned_s)
{
	struct lg_summary s;
	struct lg_counters c;
	struct st_hist *lag = st_hist_create(1, 3600 * (int64_t)ST_NS_PER_S, 3);
	uint32_t nb = 0, n_bins = a->w[0]->n_bins;
	uint64_t *due = calloc(n_bins, sizeof(uint64_t));
	uint64_t *sent = calloc(n_bins, sizeof(uint64_t));
	bool overflow = false;

	if (lag == NULL || due == NULL || sent == NULL) {
		ST_ERR("out of memory for the summary");
		goto out;
	}
	sum_counters(a, &c);
	for (uint32_t i = 0; i < a->n_tx; i++) {
		const struct lg_worker *w = a->w[i];

		st_hist_add(lag, w->lag);
		for (uint32_t b = 0; b < w->bins_used; b++) {
			due[b] += w->due_bins[b];
			sent[b] += w->sent_bins[b];
		}
		if (w->bins_used > nb)
			nb = w->bins_used;
		overflow |= w->bins_overflow;
	}
	memset(&s, 0, sizeof(s));
	s.mode = lg_mode_str(a->cfg.mode);
	s.paced = a->paced;
	s.poisson = a->cfg.poisson;
	s.elapsed_s = c.end_tsc > a->start_tsc ?
		(double)(c.end_tsc - a->start_tsc) / (double)a->tsc_hz : 0;
	s.planned_s = planned_s;
	s.due_pkts = c.due;
	s.sent_pkts = c.sent;
	s.sent_bytes = c.bytes;
	memcpy(s.drops, c.drops, sizeof(s.drops));
	s.late = c.late;
	s.late_us = (double)a->cfg.late_ns / 1e3;
	s.lag_p50_ns = st_hist_value_at_percentile(lag, 50);
	s.lag_p99_ns = st_hist_value_at_percentile(lag, 99);
	s.lag_max_ns = st_hist_max(lag);
	s.loops = c.loops;
	s.multiply = a->cfg.multiply;
	s.lcores = a->n_tx;
	s.port = a->port_name;
	s.pcap = a->cfg.pcap;
	s.cap = &a->cap;
	s.plan = &a->plan;
	s.interval_s = (double)a->cfg.series_ns / 1e9;
	s.n_intervals = nb;
	s.n_full = (uint32_t)floor(s.elapsed_s / s.interval_s + 1e-6);
	if (s.n_full > nb)
		s.n_full = nb;
	s.due = due;
	s.sent = sent;
	s.series_truncated = overflow;
	lg_rmse(due, sent, s.n_full, s.interval_s, &s.rmse);
	s.copies_in_use = rte_mempool_in_use_count(a->copy_pool);
	s.rx_pkts = a->rx_pkts;
	if (a->cfg.json)
		lg_summary_json(&s, stdout);
	lg_summary_text(&s, a->cfg.json ? stderr : stdout);
out:
	st_hist_destroy(lag);
	free(due);
	free(sent);
}
