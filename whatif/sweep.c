/* The sweep: preflight, then for each instance count one load generator
 * run along the row's loads in rising order (set the pool, drive the load
 * step by step, measure and judge each cell in its step), then the
 * restore. A row stops rising at the first cell that breaks the
 * SLO by stop_factor or passes abort_error_rate: past saturation only the
 * queues grow. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zmq.h>

#include "clock.h"
#include "log.h"
#include "whatif.h"

volatile sig_atomic_t wi_stop;

/* Measurements begun anew in one cell because the dataplane stalled. */
#define MAX_STALL_RESTARTS 3
/* A window expecting this many injected packets or more is empty by
 * chance with probability e^-8 (3e-4, Poisson): one with none means the
 * dataplane's workers or the load generator went without a CPU. */
#define EMPTY_WINDOW_EXPECTED 8.0

/* How long the stream may stay silent before the sweep gives up on it. */
#define KPI_SILENCE_NS (10ULL * ST_NS_PER_S)

static const char *const status_names[WI_STATUS__COUNT] = {
	"not_run", "pass", "fail", "stop", "skipped", "nodata",
};

const char *wi_status_str(enum wi_status s)
{
	return (unsigned int)s < WI_STATUS__COUNT ? status_names[s] : "unknown";
}

/* The q-quantile and a distribution-free 95% interval for it: the values
 * at the order statistics n q -+ 1.96 sqrt(n q (1 - q)). */
static void quantile(const struct st_hist *h, double q, struct wi_q *out)
{
	double n = (double)st_hist_total(h), sd, rlo, rhi;

	if (n <= 0) {
		out->v = out->lo = out->hi = NAN;
		return;
	}
	sd = sqrt(n * q * (1 - q));
	rlo = floor(n * q - 1.96 * sd);
	rhi = ceil(n * q + 1.96 * sd) + 1;
	rlo = rlo < 1 ? 1 : rlo;
	rhi = rhi > n ? n : rhi;
	out->v = (double)st_hist_value_at_percentile(h, 100 * q);
	out->lo = (double)st_hist_value_at_percentile(h, 100 * rlo / n);
	out->hi = rhi >= n ? (double)st_hist_max(h) :
		  (double)st_hist_value_at_percentile(h, 100 * rhi / n);
}

static void judge(struct wi_sweep *s, struct wi_cell *c, const struct wi_acc *a)
{
	const struct wi_config *cfg = s->cfg;
	double secs = (double)a->ns / 1e9, slo = (double)cfg->slo_p99_ns, expect;
	bool p99_ok, err_ok, reach_ok;

	c->requests = a->requests;
	c->responses = a->responses;
	c->timeouts = a->timeouts;
	c->resets = a->resets;
	c->icmp_errors = a->icmp_errors;
	c->windows = a->windows;
	c->seconds = secs;
	c->sent_pps = secs > 0 ? (double)a->pkts / secs : 0;
	c->achieved_rps = secs > 0 ? (double)a->requests / secs : 0;
	c->rps_per_instance = secs > 0 ? (double)a->responses / secs / c->instances : 0;
	c->reached = c->offered_rps > 0 ? c->sent_pps / c->offered_rps : NAN;
	c->error_rate = a->requests > 0 ?
		(double)(a->timeouts + a->resets + a->icmp_errors) / (double)a->requests : NAN;
	quantile(a->lat, 0.50, &c->p50);
	quantile(a->lat, 0.90, &c->p90);
	quantile(a->lat, 0.99, &c->p99);
	quantile(a->lat, 0.999, &c->p999);
	c->mean_ns = st_hist_total(a->lat) > 0 ? st_hist_mean(a->lat) : NAN;

	if (a->requests == 0) {
		c->status = WI_NODATA;
		wi_msg(c->note, sizeof(c->note), "no request timed in %.1f s (sent %llu packets)",
			 secs, (unsigned long long)a->pkts);
		return;
	}
	/* With nothing answered the p99 is unknown: only the errors count. */
	p99_ok = isfinite(c->p99.v) && c->p99.v <= slo;
	err_ok = c->error_rate <= cfg->slo_error_rate;
	/* Short of its load only beyond the noise of the count: a Poisson
	 * cell of 100 expected requests sends 83 one time in twenty. */
	expect = c->offered_rps * secs;
	reach_ok = !((double)a->pkts < cfg->reach * expect - 3 * sqrt(expect));
	if (p99_ok && err_ok && reach_ok) {
		c->status = WI_PASS;
		return;
	}
	c->status = WI_FAIL;
	if (!reach_ok)
		wi_msg(c->note, sizeof(c->note),
			 "sent %.0f of %.0f pps: the load was not reached", c->sent_pps,
			 c->offered_rps);
	if (!(isfinite(c->p99.v) && c->p99.v <= cfg->stop_factor * slo)) {
		c->status = WI_STOP;
		wi_msg(c->note, sizeof(c->note), "p99 past %g x the SLO: the row stops",
			 cfg->stop_factor);
	} else if (c->error_rate > cfg->abort_error_rate) {
		c->status = WI_STOP;
		wi_msg(c->note, sizeof(c->note), "error rate %.3g past abort_error_rate %.3g: "
			 "the row stops", c->error_rate, cfg->abort_error_rate);
	}
}

/* Waits for the pool to go quiet: QUIET_NS of windows in a row with nothing
 * sent, answered or timed out. One quiet window is not enough: a dataplane
 * or a server that lost the CPU for a moment shows one while a queue is
 * still draining, and the next cell would time the old answers. Returns 1
 * quiet, 0 not within cooldown (or interrupted). */
#define QUIET_NS ST_NS_PER_S

static int cooldown(struct wi_sweep *s, struct wi_kpi *kpi)
{
	uint64_t deadline = st_mono_ns() + s->cfg->cooldown_ns, quiet_ns = 0;
	struct wi_snap sn;

	while (!wi_stop && st_mono_ns() < deadline) {
		int r = wi_kpi_next(kpi, deadline - st_mono_ns(), &sn);

		if (r <= 0)
			return 0;
		quiet_ns = wi_snap_quiet(&sn) ? quiet_ns + (sn.k.t1 - sn.k.t0) : 0;
		wi_snap_release(&sn);
		if (quiet_ns >= QUIET_NS)
			return 1;
	}
	return 0;
}

static int lg_exited(struct wi_sweep *s, struct wi_lg *lg, int status, const char *when)
{
	char tail[160];

	wi_lg_tail(lg, tail, sizeof(tail));
	wi_msg(s->error, sizeof(s->error), "the load generator exited %s (%s %d): %s", when,
		 WIFEXITED(status) ? "status" : "signal",
		 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
		 tail[0] ? tail : "no message");
	return -EIO;
}

struct wi_progress {
	int done, total;	/* cells */
	uint64_t t0;		/* monotonic ns */
};

/* Prints a cell as it completes, and the progress bar. */
static void cell_done(struct wi_sweep *s, struct wi_cell *c, struct wi_progress *p)
{
	const struct wi_config *cfg = s->cfg;
	double el = (double)(st_mono_ns() - p->t0) / 1e9;

	p->done++;
	if (!cfg->quiet) {
		if (isatty(STDERR_FILENO))
			fputc('\r', stderr);
		wi_print_row(stdout, s, c);
		fflush(stdout);
	}
	if (!isatty(STDERR_FILENO) || p->total == 0)
		return;
	fprintf(stderr, "\r[%-20.*s] %d/%d cells, %.0f s elapsed, ~%.0f s left   ",
		p->done * 20 / p->total, "####################", p->done, p->total, el,
		el / p->done * (p->total - p->done));
	if (p->done == p->total)
		fputc('\n', stderr);
}

/* The time a cell's load lasts in a run: warmup and step, plus what the
 * window grid costs: the run's start is known to within its first window
 * with packets (and the gap before its first packet, guard_s), and the
 * measurement takes whole windows, one more lost at its start. */
static double slot_s(const struct wi_sweep *s, double guard_s)
{
	const struct wi_config *cfg = s->cfg;

	return (double)(cfg->warmup_ns + cfg->step_ns + 2 * s->interval_ns) / 1e9 + guard_s +
	       (double)s->interval_ns / 1e9 / 4;
}

/* One load generator run along row ci from load *li: the loads of the
 * same kind (rates or multiples) that follow, one profile step each. A
 * cell's windows are those between its step's start plus warmup and its
 * end, bounded on the dataplane's clock by when the run's first packet
 * came. A stall (a late window, or one on time with nothing injected)
 * begins the cell's measurement anew after another warmup; when that no
 * longer fits in its step, the run is stopped and the row goes on from
 * that cell in a new run. Advances *li past the cells done (and those
 * skipped when one stops the row). Returns 0, 1 interrupted, or -errno
 * with s->error. */
static int run_span(struct wi_sweep *s, struct wi_ctl *ctl, struct wi_kpi *kpi, int ci,
		    int *li, struct wi_progress *prog)
{
	const struct wi_config *cfg = s->cfg;
	int from = *li, to = from + 1, k = from, rc = 0, status = 0, r;
	double lease, guard_s, slot;
	uint64_t deadline, nominal = s->interval_ns, dur, slot_ns, t_late = 0, t_early = 0;
	uint64_t begin = 0, end = 0, span_end;
	bool late, empty, covered, stalled = false, lg_done = false, stop_row = false;
	struct wi_cell *c = wi_cell_at(s, ci, from);
	struct st_perr pe;
	struct wi_snap sn;
	struct wi_acc acc;
	struct wi_lg lg;

	while (to < cfg->n_loads && cfg->loads[to].multiple == cfg->loads[from].multiple)
		to++;
	/* The first packet comes one gap after the run's start: with
	 * EMPTY_WINDOW_EXPECTED gaps of slack, a Poisson one is longer one
	 * time in 3000. */
	guard_s = fmin(EMPTY_WINDOW_EXPECTED / cfg->loads[from].pps,
		       (double)(cfg->warmup_ns + cfg->step_ns) / 1e9);
	slot = slot_s(s, guard_s);
	slot_ns = (uint64_t)(slot * 1e9);
	/* the pause outlasts a cell as it runs: its slot (the window grid's
	 * intervals included, a minute each at interval = 60s), the
	 * cooldown after, the loadgen's stop, and a margin */
	lease = (double)(cfg->start_timeout_ns + slot_ns + cfg->cooldown_ns) / 1e9 + 5 + 30;
	if (cfg->pause_mirror &&
	    wi_ctl_set_share(ctl, cfg->group, 0, s->group0.offset, lease, &pe) != 0) {
		wi_msg(s->error, sizeof(s->error), "%s", pe.msg);
		return -EIO;
	}
	if (wi_ctl_set_instances(ctl, cfg->group, c->instances, &pe) != 0) {
		wi_msg(s->error, sizeof(s->error), "%s", pe.msg);
		return -EIO;
	}
	if (wi_acc_init(&acc) != 0) {
		wi_msg(s->error, sizeof(s->error), "out of memory");
		return -ENOMEM;
	}
	rc = wi_lg_start(cfg, from, to, slot, &lg, &pe);
	if (rc != 0) {
		wi_msg(s->error, sizeof(s->error), "%s", pe.msg);
		goto out;
	}
	/* The first window with injected packets: the load is on. */
	deadline = st_mono_ns() + cfg->start_timeout_ns;
	while (t_late == 0) {
		if (wi_stop) {
			rc = 1;
			goto out;
		}
		if (!wi_lg_running(&lg, &status)) {
			rc = lg_exited(s, &lg, status, "before its first packet reached the dataplane");
			goto out;
		}
		if (st_mono_ns() >= deadline) {
			wi_msg(s->error, sizeof(s->error),
				 "no injected packet reached group '%s' within %.0f s of starting the "
				 "load generator: check loadgen_eal (the inject port) and loadgen_args",
				 cfg->group, (double)cfg->start_timeout_ns / 1e9);
			rc = -ETIMEDOUT;
			goto out;
		}
		r = wi_kpi_next(kpi, 200 * ST_NS_PER_MS, &sn);
		if (r < 0) {
			wi_msg(s->error, sizeof(s->error), "the KPI subscription failed");
			rc = -EIO;
			goto out;
		}
		if (r == 1) {
			dur = sn.k.t1 - sn.k.t0;
			if (dur > 0 && (nominal == 0 || dur < nominal))
				nominal = dur;	/* the interval, for late windows below */
			if (sn.k.pkts > 0) {
				t_late = sn.k.t1;
				t_early = sn.k.t0 - (uint64_t)(guard_s * 1e9);
			}
			wi_snap_release(&sn);
		}
	}
	/* Cell k's step is [T0 + k slot, T0 + (k + 1) slot) for a start T0
	 * between t_early and t_late. */
#define STEP_BEGIN(k) (t_late + (uint64_t)((k) - from) * slot_ns + cfg->warmup_ns)
#define STEP_END(k) (t_early + (uint64_t)((k) - from + 1) * slot_ns)
	begin = STEP_BEGIN(k);
	end = STEP_END(k);
	deadline = st_mono_ns() + KPI_SILENCE_NS;
	/* On this host's clock: the steps end on the dataplane's, and windows
	 * whose clock stood still (or went back) would never end one. */
	span_end = st_mono_ns() + 2 * (uint64_t)(to - from) * slot_ns + KPI_SILENCE_NS;
	while (k < to) {
		if (wi_stop) {
			rc = 1;
			goto out;
		}
		if (st_mono_ns() >= span_end) {
			wi_msg(s->error, sizeof(s->error),
			       "cell %u x %s: not measured in twice its run's time (%.0f s): the KPI "
			       "windows from %s do not move on (the dataplane's clock?)",
			       c->instances, cfg->loads[k].text,
			       2.0 * (to - from) * (double)slot_ns / 1e9, cfg->kpi_endpoint);
			rc = -ETIMEDOUT;
			goto out;
		}
		if (st_mono_ns() >= deadline) {
			wi_msg(s->error, sizeof(s->error), "KPI snapshots stopped coming from %s",
				 cfg->kpi_endpoint);
			rc = -ETIMEDOUT;
			goto out;
		}
		if (!lg_done && !wi_lg_running(&lg, &status)) {
			/* at the profile's end, the last windows still to come */
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
				rc = lg_exited(s, &lg, status, "in the middle of the run");
				goto out;
			}
			lg_done = true;
		}
		r = wi_kpi_next(kpi, 200 * ST_NS_PER_MS, &sn);
		if (r < 0) {
			wi_msg(s->error, sizeof(s->error), "the KPI subscription failed");
			rc = -EIO;
			goto out;
		}
		if (r == 0)
			continue;
		deadline = st_mono_ns() + KPI_SILENCE_NS;
		dur = sn.k.t1 - sn.k.t0;
		if (dur > 0 && (nominal == 0 || dur < nominal))
			nominal = dur;
		late = nominal > 0 && dur > nominal + nominal / 2;
		/* due: the load of the earliest step the window may lie in */
		empty = sn.k.pkts == 0 && sn.k.t0 >= t_late &&
			cfg->loads[k].pps * (double)dur / 1e9 >= EMPTY_WINDOW_EXPECTED;
		/* a stall long enough before the measurement is absorbed
		 * by the warmup after it */
		if ((late || empty) && sn.k.t1 + cfg->warmup_ns > begin) {
			/* A window published late: the dataplane's main lcore
			 * went without a CPU; or one on time with nothing
			 * injected: its workers (or the load generator) did.
			 * The inject port's ring filled and went out in a
			 * burst, and the pool queues it for a while. That is
			 * the host, not the pool: measure afresh after another
			 * warmup (from the last window of a stall), a few
			 * stalls at most. */
			bool fresh = !stalled;

			stalled = true;
			c->stalls += fresh;
			if (c->stalls <= MAX_STALL_RESTARTS && sn.k.t1 + cfg->warmup_ns > begin) {
				if (fresh && late)
					ST_WARN("a KPI window of %.2f s (interval %.2f s): the dataplane "
						"was stalled; the cell is measured again after the warmup",
						(double)dur / 1e9, (double)nominal / 1e9);
				else if (fresh)
					ST_WARN("a KPI window with no injected packet where %.0f were "
						"due: the dataplane's workers or the load generator were "
						"stalled; the cell is measured again after the warmup",
						cfg->loads[k].pps * (double)dur / 1e9);
				wi_acc_reset(&acc);
				begin = sn.k.t1 + cfg->warmup_ns;
				wi_snap_release(&sn);
				if (begin + cfg->step_ns > end + ST_NS_PER_MS)
					goto restart;	/* no longer fits in its step */
				continue;
			}
		} else {
			stalled = false;
		}
		if (sn.k.t0 + ST_NS_PER_MS >= begin && sn.k.t1 <= end + ST_NS_PER_MS) {
			if (sn.k.instances == c->instances)
				wi_acc_add(&acc, &sn);
			else
				acc.wrong_count++;
		}
		/* step covered to within half a window: the dataplane's
		 * windows are a hair short of their interval, and a whole
		 * window more would not fit in the slot */
		covered = acc.ns + nominal / 2 >= cfg->step_ns;
		if (!covered && sn.k.t1 > end + ST_NS_PER_MS) {
			/* the step ended first: windows of another count, or
			 * a clock that moved under the grid */
			ST_WARN("cell %u x %s: %.1f s of %.1f s measured when its step ended",
				c->instances, cfg->loads[k].text, (double)acc.ns / 1e9,
				(double)cfg->step_ns / 1e9);
			wi_snap_release(&sn);
			if (c->stalls < MAX_STALL_RESTARTS) {
				c->stalls++;
				goto restart;
			}
			wi_msg(s->error, sizeof(s->error), "cell %u x %s: its step ended with %.1f "
			       "of %.1f s measured", c->instances, cfg->loads[k].text,
			       (double)acc.ns / 1e9, (double)cfg->step_ns / 1e9);
			rc = -EIO;
			goto out;
		}
		wi_snap_release(&sn);
		if (!covered)
			continue;
		/* cell k measured */
		judge(s, c, &acc);
		if (c->stalls > MAX_STALL_RESTARTS && c->note[0] == '\0')
			wi_msg(c->note, sizeof(c->note),
			       "the dataplane stalled %u times: timing suspect", c->stalls);
		if (acc.wrong_count > 0)
			ST_WARN("%u windows of the cell reported another instance count than %u: "
				"left out", acc.wrong_count, c->instances);
		cell_done(s, c, prog);
		stop_row = c->status == WI_STOP || c->status == WI_NODATA;
		k++;
		*li = k;
		if (stop_row || k == to)
			break;
		c = wi_cell_at(s, ci, k);
		wi_acc_reset(&acc);
		begin = STEP_BEGIN(k);
		end = STEP_END(k);
		/* the lease, renewed every cell */
		if (cfg->pause_mirror &&
		    wi_ctl_set_share(ctl, cfg->group, 0, s->group0.offset, lease, &pe) != 0) {
			wi_msg(s->error, sizeof(s->error), "%s", pe.msg);
			rc = -EIO;
			goto out;
		}
	}
#undef STEP_BEGIN
#undef STEP_END
	wi_lg_stop(&lg);
	if (stop_row)
		for (int i = k; i < cfg->n_loads; i++) {
			struct wi_cell *x = wi_cell_at(s, ci, i);

			x->status = WI_SKIPPED;
			wi_msg(x->note, sizeof(x->note), "not run: a lower load stopped the row");
			prog->total--;
			*li = cfg->n_loads;
		}
	/* The pool drains what it queued before the next run begins. */
	if (!cooldown(s, kpi) && !wi_stop) {
		struct wi_cell *last = wi_cell_at(s, ci, k - 1);

		ST_WARN("the pool was still busy %.0f s after the load stopped (cooldown)",
			(double)cfg->cooldown_ns / 1e9);
		if (last->note[0] == '\0')
			wi_msg(last->note, sizeof(last->note), "the pool was still busy after cooldown");
	}
	goto out;
restart:
	/* The stalled cell again, in a new run from its load: the host's
	 * burst is behind, the next run's warmup lets the queue settle. */
	ST_NOTICE("cell %u x %s: its step is too short for the measurement after the stall; "
		  "the row goes on from it in a new run", c->instances, cfg->loads[k].text);
	*li = k;
	/* The new run's grid is anchored on its first window with injected
	 * packets: this run's last windows must be behind it, and the pool
	 * drained, before it starts. */
	wi_lg_stop(&lg);
	if (!cooldown(s, kpi) && !wi_stop)
		ST_WARN("the pool was still busy %.0f s after the stalled run stopped (cooldown)",
			(double)cfg->cooldown_ns / 1e9);
out:
	wi_lg_cleanup(&lg);
	wi_acc_free(&acc);
	return rc;
}

/* Sorts the loads by offered rate (stable, so a tie keeps its order). */
static void sort_loads(struct wi_config *cfg)
{
	for (int i = 1; i < cfg->n_loads; i++)
		for (int j = i; j > 0 && cfg->loads[j].pps < cfg->loads[j - 1].pps; j--) {
			struct wi_load t = cfg->loads[j];

			cfg->loads[j] = cfg->loads[j - 1];
			cfg->loads[j - 1] = t;
		}
}

static int preflight(struct wi_sweep *s, struct wi_config *cfg, struct wi_ctl *ctl,
		     struct wi_kpi *kpi)
{
	struct st_perr pe;
	struct wi_snap sn;
	struct wi_group g;
	int others = 0, r;

	for (int i = 0; i < cfg->n_loads; i++) {
		struct wi_load *l = &cfg->loads[i];

		if (l->multiple && s->capture_pps <= 0) {
			wi_msg(s->error, sizeof(s->error),
				 "%s: [whatif] loads: '%s' is a multiple of the capture's own rate, but "
				 "%s has no rate (its requests are all at one instant); give rates",
				 cfg->path, l->text, cfg->pcap);
			return -EINVAL;
		}
		l->pps = l->multiple ? l->value * s->capture_pps : l->value;
	}
	sort_loads(cfg);
	if (wi_ctl_group(ctl, cfg->group, &g, &others, &pe) != 0) {
		wi_msg(s->error, sizeof(s->error), "[whatif] group: %s", pe.msg);
		return -EINVAL;
	}
	if (strcmp(g.service, cfg->service) != 0) {
		wi_msg(s->error, sizeof(s->error),
			 "[whatif] service: group '%s' reports under service '%s', not '%s'",
			 cfg->group, g.service, cfg->service);
		return -EINVAL;
	}
	if (g.listed == 0) {
		wi_msg(s->error, sizeof(s->error),
			 "[whatif] group: '%s' lists no instances: there is no pool to size "
			 "(give the group `instances = ADDR, ADDR...`)", cfg->group);
		return -EINVAL;
	}
	if (g.count != 0 && g.count != g.instances) {
		/* set_instances sets both, and nothing puts a count of the
		 * file's back: the KPIs would report the sweep's count until a
		 * reload */
		wi_msg(s->error, sizeof(s->error),
			 "[whatif] group: '%s' reports instances_count %u for the %u instances in "
			 "use; a sweep's set_instances would leave it at %u (the file's "
			 "instances_count comes back only with a reload): sweep a group whose "
			 "instances are its servers", cfg->group, g.count, g.instances, g.instances);
		return -EINVAL;
	}
	if (cfg->counts[cfg->n_counts - 1] > g.listed) {
		wi_msg(s->error, sizeof(s->error),
			 "[whatif] instances: %u is more than the %u instances group '%s' lists",
			 cfg->counts[cfg->n_counts - 1], g.listed, cfg->group);
		return -EINVAL;
	}
	if (!g.inject) {
		wi_msg(s->error, sizeof(s->error),
			 "[whatif] group: '%s' has no inject path: the dataplane needs an "
			 "inject_port and the group `inject = true`", cfg->group);
		return -EINVAL;
	}
	if (others > 0) {
		wi_msg(s->error, sizeof(s->error),
			 "[whatif] group: %d other group(s) of service '%s' take injected traffic "
			 "too, and kpi.%s.synthetic would mix them with '%s'", others, g.service,
			 g.service, cfg->group);
		return -EINVAL;
	}
	r = wi_kpi_next(kpi, KPI_SILENCE_NS, &sn);
	if (r != 1) {
		if (!wi_stop)
			wi_msg(s->error, sizeof(s->error),
				 "[whatif] kpi_endpoint: no kpi.%s.synthetic snapshot from %s within "
				 "%.0f s", cfg->service, cfg->kpi_endpoint,
				 (double)KPI_SILENCE_NS / 1e9);
		else
			wi_msg(s->error, sizeof(s->error), "interrupted before the sweep began");
		return -EINVAL;
	}
	/* the window grid the runs' steps are laid out on */
	s->interval_ns = sn.k.t1 > sn.k.t0 ? sn.k.t1 - sn.k.t0 : ST_NS_PER_S;
	wi_snap_release(&sn);
	/* The pool must be seen quiet between runs (QUIET_NS of windows with
	 * nothing in them): a shorter cooldown let the next run take the
	 * last one's windows, still in the subscription, for its start */
	if (cfg->cooldown_ns < QUIET_NS + 2 * s->interval_ns) {
		wi_msg(s->error, sizeof(s->error),
			 "[whatif] cooldown: %.1f s is less than the %.1f s it takes to see the pool "
			 "quiet (1 s of windows, and two KPI intervals of %.1f s)",
			 (double)cfg->cooldown_ns / 1e9,
			 (double)(QUIET_NS + 2 * s->interval_ns) / 1e9, (double)s->interval_ns / 1e9);
		return -EINVAL;
	}
	if (g.leased)
		ST_NOTICE("group %s: its share is under a lease (set_share revert_after): the "
			  "sweep restores the share the lease returns to, %g at offset %g",
			  cfg->group, g.share, g.offset);
	s->group0 = g;
	return 0;
}

static void restore(struct wi_sweep *s, struct wi_ctl *ctl)
{
	const struct wi_config *cfg = s->cfg;
	struct st_perr pe;
	bool ok = true;

	if (wi_ctl_set_instances(ctl, cfg->group, s->group0.instances, &pe) != 0) {
		ST_ERR("restoring %u instances: %s", s->group0.instances, pe.msg);
		ok = false;
	}
	if (cfg->pause_mirror &&
	    wi_ctl_set_share(ctl, cfg->group, s->group0.share, s->group0.offset, 0, &pe) != 0) {
		ST_ERR("restoring share %g: %s (its lease puts it back by itself)",
		       s->group0.share, pe.msg);
		ok = false;
	}
	s->restored = ok;
	if (ok)
		ST_NOTICE("group %s restored: %u instances, share %g", cfg->group,
			  s->group0.instances, s->group0.share);
}

int wi_sweep_run(struct wi_sweep *s, struct wi_config *cfg)
{
	struct wi_ctl *ctl = NULL;
	struct wi_kpi *kpi = NULL;
	void *zctx = NULL;
	struct wi_progress prog = { 0 };
	struct st_perr pe;
	int rc;

	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	{
		bool multiples = false;

		for (int i = 0; i < cfg->n_loads; i++)
			multiples |= cfg->loads[i].multiple;
		rc = wi_capture_rate(cfg->pcap, &cfg->loadgen_args, multiples, &s->capture_pps,
				     &s->capture_requests, &pe);
	}
	if (rc != 0) {
		wi_msg(s->error, sizeof(s->error), "%s: [whatif] %s", cfg->path, pe.msg);
		return rc;
	}
	zctx = zmq_ctx_new();
	if (zctx == NULL) {
		wi_msg(s->error, sizeof(s->error), "zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
		return -ENOMEM;
	}
	ctl = wi_ctl_open(zctx, cfg->control_endpoint, &pe);
	if (ctl == NULL) {
		wi_msg(s->error, sizeof(s->error), "[whatif] %s", pe.msg);
		rc = -EINVAL;
		goto out;
	}
	kpi = wi_kpi_open(zctx, cfg->kpi_endpoint, cfg->service, &pe);
	if (kpi == NULL) {
		wi_msg(s->error, sizeof(s->error), "[whatif] %s", pe.msg);
		rc = -EINVAL;
		goto out;
	}
	rc = preflight(s, cfg, ctl, kpi);
	if (rc != 0)
		goto out;

	s->n_cells = cfg->n_counts * cfg->n_loads;
	for (int ci = 0; ci < cfg->n_counts; ci++)
		for (int li = 0; li < cfg->n_loads; li++) {
			struct wi_cell *c = wi_cell_at(s, ci, li);

			c->instances = cfg->counts[ci];
			c->load = li;
			c->offered_rps = cfg->loads[li].pps;
			c->status = WI_NOT_RUN;
			c->p50.v = c->p90.v = c->p99.v = c->p999.v = NAN;
			c->error_rate = c->reached = c->mean_ns = NAN;
		}
	ST_NOTICE("sweep of %s/%s: %d loads x %d instance counts, capture %s (%u requests, "
		  "%.1f per second), SLO p99 %.3g ms, error rate %g",
		  cfg->service, cfg->group, cfg->n_loads, cfg->n_counts, cfg->pcap,
		  s->capture_requests, s->capture_pps, (double)cfg->slo_p99_ns / 1e6,
		  cfg->slo_error_rate);
	if (!cfg->quiet)
		wi_print_row(stdout, s, NULL);
	s->t_start_wall = st_wall_ns();
	prog.t0 = st_mono_ns();
	prog.total = s->n_cells;
	rc = 0;
	for (int ci = 0; ci < cfg->n_counts && rc == 0; ci++)
		for (int li = 0; li < cfg->n_loads && rc == 0;) {
			if (wi_stop) {	/* during the last run's cooldown */
				rc = 1;
				break;
			}
			rc = run_span(s, ctl, kpi, ci, &li, &prog);
		}
	if (rc == 1 || wi_stop) {
		s->interrupted = true;
		wi_msg(s->error, sizeof(s->error), "interrupted: %d of %d cells run", prog.done,
			 s->n_cells);
		rc = 1;
	}
	s->t_end_wall = st_wall_ns();
	restore(s, ctl);
out:
	wi_kpi_close(kpi);
	wi_ctl_close(ctl);
	zmq_ctx_term(zctx);
	return rc;
}
