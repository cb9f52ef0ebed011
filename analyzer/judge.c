#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "judge.h"
#include "kpi.h"
#include "noise.h"
#include "predict.h"
#include "stats.h"

#define SPAN_MAX 256
/* Per-instance loads within 10% of each other count as equal (anomaly). */
#define EQUAL_LOAD 0.10
/* The shadow should carry the proposal's per-instance load within this. */
#define TPUT_TOL 0.25
/* A DKW band excess above this is a shape change. */
#define SHAPE_TOL 0.02
/* Log-sd given to a prediction that comes from the model alone. */
#define MODEL_SIGMA 0.10
/* The corrected model takes the shadow's p99 at the upper end of this
 * one-sided interval: a recommendation errs on the safe side by about the
 * sampling noise, no more. */
#define REC_CONF 0.90
/* A per-instance load within this of the highest one measured counts as
 * measured: the shadow's own load wobbles by about this much around the
 * proposal's. */
#define MEASURED_TOL 0.05

enum { K_P50, K_P90, K_P99, K_ERR, K_TO, K_RST, K_TPUT, K_SHAPE, K__COUNT };

static const struct {
	const char *name, *unit;
	bool critical;
	double weight;
} kpi_def[K__COUNT] = {
	[K_P50] = { "p50", "ns", false, 1 },
	[K_P90] = { "p90", "ns", false, 2 },
	[K_P99] = { "p99", "ns", true, 3 },
	[K_ERR] = { "error_rate", "ratio", true, 3 },
	[K_TO] = { "timeout_rate", "ratio", false, 2 },
	[K_RST] = { "reset_rate", "ratio", false, 1 },
	[K_TPUT] = { "throughput_per_instance", "rps", false, 1 },
	[K_SHAPE] = { "shape", "ks", false, 1 },
};

static const double quant[3] = { 0.5, 0.9, 0.99 };

struct span {
	const struct an_win *w[SPAN_MAX];
	uint32_t n;
	uint32_t incomplete;	/* windows left out: a publisher missed them */
	uint32_t chaos;		/* windows left out for (or, FAULT, for want of) chaos */
	uint32_t down;		/* FAULT: instances down (chaos_down) */
	bool respread;		/* FAULT: their flows moved */
	uint32_t c;
	double secs, requests, responses, timeouts, resets, icmp;
	double lam, lam_cv;
	struct an_dist dist;
};

struct pool {
	struct an_bin *bins;
	size_t cap;
};

struct an_judge {
	const struct an_config *cfg;
	const struct st_hist *layout;
	struct st_hist *dense;
	int32_t lo, hi;
	struct pool pool[5];	/* prod, shadow, expected, aa, resilience */
	double *scratch;
	double a[SPAN_MAX], b[SPAN_MAX];
	double tmp[2 * AN_AA_MAX];
};

/* Everything one evaluation works out, for the verdict and the reason. */
struct eval {
	struct an_service *s;
	const struct an_plan *p;
	struct span prod, shadow, aa, res;
	bool has_prod;
	enum an_form form;
	struct an_fit fit;		/* prod model */
	bool model_ok;
	double P[3], Plo[3], Phi[3];	/* prod pooled quantiles, ns */
	double R[3];			/* load transport ratios */
	double pred[3], pred_sigma[3];	/* shadow prediction, ns */
	double tol[AN_AA_KPIS];
	struct st_verdict_kpi k[K__COUNT];
	struct an_kpi_detail det[K__COUNT];
	/* corrected model and recommendation */
	enum an_form cform;
	struct an_fit cfit[2];		/* corrected fits: the worse one counts */
	double ctail[2];		/* their tail stretch */
	bool cprod[2];			/* the fit is prod's model (its discrepancy counts) */
	int n_cfit;
	bool corrected;
	bool shared;		/* the instances may share one queue (shared_queue) */
	double base_err;
	double p99_prop, err_prop, p99_rec, err_rec;
	/* upper bounds (an_bound_factor): what the recommendation rests on */
	double p99_prop_hi, err_prop_hi, p99_rec_hi, err_rec_hi;
	double lam_obs;			/* highest per-instance load measured */
	double rsd;			/* relative standard error of the capacity */
	struct an_bound bound;		/* the two, for an_model_q_hi */
	double rsd_shadow;		/* its part from the shadow's p99 (mg1) */
	uint32_t rec;
	bool rec_unreachable;
	uint32_t rec_unstepped;		/* the count before max_step held it
					   back (0: it did not) */
	bool proposal_ok;
	bool verified;			/* the recommendation's load was measured */
	double lam_ok;			/* the load measured within the SLO the
					   evidence cap rests on (evidence_fewest) */
	double lam_meas_ok;		/* the highest load prod or the shadow was
					   measured within the SLO at */
	/* each span measured within the SLO: its per-instance load and the
	 * fewest instances that load stands for (lam_measured_ok) */
	double meas_lam[2];
	uint32_t meas_c[2], n_meas;
	bool rec_measured;		/* the recommendation is what lam_ok needs */
	bool rec_squeezed;		/* raised past a load a squeeze step failed */
	bool rec_broken;		/* raised past a load the shadow broke the SLO at */
	double lam_broken;		/* ... that load; 0: none */
	uint32_t rec_held;		/* fewer the model asks for, held until verified */
};

struct an_judge *an_judge_create(const struct an_config *cfg,
				 const struct st_hist *layout)
{
	struct an_judge *j = calloc(1, sizeof(*j));
	size_t n = (size_t)SPAN_MAX * SPAN_MAX + 2 * SPAN_MAX;

	if (j == NULL)
		goto err;
	j->cfg = cfg;
	j->layout = layout;
	j->dense = st_hist_create(layout->lowest, layout->highest, layout->sigfigs);
	j->scratch = malloc(n * sizeof(double));
	if (j->dense == NULL || j->scratch == NULL)
		goto err;
	j->lo = INT32_MAX;
	j->hi = -1;
	return j;
err:
	an_judge_destroy(j);
	errno = ENOMEM;
	return NULL;
}

void an_judge_destroy(struct an_judge *j)
{
	if (j == NULL)
		return;
	st_hist_destroy(j->dense);
	for (int i = 0; i < 5; i++)
		free(j->pool[i].bins);
	free(j->scratch);
	free(j);
}

/* --- pooling ------------------------------------------------------------ */

static void dense_add(struct an_judge *j, int32_t idx, int64_t n)
{
	j->dense->counts[idx] = an_count_add(j->dense->counts[idx], n);
	if (idx < j->lo)
		j->lo = idx;
	if (idx > j->hi)
		j->hi = idx;
}

/* Moves the dense scratch into pool slot `slot` as sparse bins. */
static int dense_take(struct an_judge *j, int slot, struct an_dist *d)
{
	struct pool *p = &j->pool[slot];
	size_t n = 0;
	int64_t total = 0;

	if (j->hi >= j->lo) {
		size_t need = (size_t)(j->hi - j->lo + 1);

		if (need > p->cap) {
			struct an_bin *b = realloc(p->bins, need * sizeof(*b));

			if (b == NULL)
				return -ENOMEM;
			p->bins = b;
			p->cap = need;
		}
		for (int32_t i = j->lo; i <= j->hi; i++) {
			int64_t c = j->dense->counts[i];

			if (c == 0)
				continue;
			p->bins[n].idx = i;
			p->bins[n].pad_ = 0;
			p->bins[n].count = c;
			total = an_count_add(total, c);
			n++;
			j->dense->counts[i] = 0;
		}
	}
	j->lo = INT32_MAX;
	j->hi = -1;
	d->layout = j->layout;
	d->bins = p->bins;
	d->n = n;
	d->total = total;
	return 0;
}

/* Which windows a span takes: the healthy ones (none a snapshot taken
 * under chaos went into: the model, the KPIs and the A/A noise judge the
 * service as it runs on a good day), or only those under chaos (the
 * resilience group's fault). */
enum span_kind { HEALTHY, FAULT };

/* Pools the k windows of t up to w_end, leaving out those in [x0, x1]
 * (a squeeze step's: the span reaches back past them), those of the
 * other kind, and with only_c, those closed while the plan gave another
 * count (prod before a scaler acted: divided by today's count, their
 * per-instance load read wrong, and the evidence cap with it). */
static int collect(struct an_judge *j, const struct an_target *t, int64_t w_end,
		   uint32_t k, uint32_t c_override, uint32_t only_c, int slot, int64_t x0,
		   int64_t x1, enum span_kind kind, struct span *sp)
{
	double sum = 0, sum2 = 0;
	int64_t lo = w_end - (int64_t)k;

	memset(sp, 0, sizeof(*sp));
	sp->dist.layout = j->layout;
	if (t == NULL)
		return 0;
	if (x1 >= x0 && x0 <= w_end && x1 > lo) {
		uint32_t need = k;

		for (lo = w_end; need > 0; lo--)
			if (lo < x0 || lo > x1)
				need--;
	}
	for (uint32_t i = 0; i < t->len && sp->n < SPAN_MAX; i++) {
		const struct an_win *w = an_target_win(t, i);

		if (w->w > w_end || (w->w >= x0 && w->w <= x1))
			continue;
		if (w->w <= lo)
			break;
		if (!an_target_complete(t, i)) {
			sp->incomplete++;
			continue;
		}
		if ((w->chaos > 0) != (kind == FAULT)) {
			sp->chaos++;
			continue;
		}
		if (only_c != 0 && w->plan_c != only_c)
			continue;
		if (w->chaos_down > sp->down)
			sp->down = w->chaos_down;
		sp->respread |= w->chaos_respread;
		sp->w[sp->n++] = w;
		if (w->instances > sp->c)
			sp->c = w->instances;
		sp->secs += an_win_secs(w);
		sp->requests += (double)w->requests;
		sp->responses += (double)w->responses;
		sp->timeouts += (double)w->timeouts;
		sp->resets += (double)w->resets;
		sp->icmp += (double)w->icmp_errors;
		for (uint32_t b = 0; b < w->n_bins; b++)
			dense_add(j, w->bins[b].idx, w->bins[b].count);
	}
	if (c_override)
		sp->c = c_override;
	if (sp->c == 0)
		sp->c = 1;
	if (sp->secs > 0)
		sp->lam = sp->requests / sp->secs / sp->c;
	for (uint32_t i = 0; i < sp->n; i++) {
		double l = an_win_rate(sp->w[i], sp->c);

		sum += l;
		sum2 += l * l;
	}
	if (sp->n >= 2 && sum > 0) {
		double mean = sum / sp->n, var = (sum2 - sum * mean) / (sp->n - 1);

		sp->lam_cv = sqrt(fmax(var, 0)) / mean;
	}
	return dense_take(j, slot, &sp->dist);
}

/* --- model glue ------------------------------------------------------------ */

static double model_q(const struct eval *ev, enum an_form f,
		      const struct an_fit *fit, double lam, uint32_t c, double q)
{
	return an_model_q(&ev->s->model, f, fit, lam, c, q);
}

/* Carries prod's quantiles to the shadow's load: the queueing part scales
 * by the model's ratio, the fixed part d0 stays. */
static void transport_ratios(struct eval *ev)
{
	for (int i = 0; i < 3; i++) {
		double qs, qp;

		ev->R[i] = 1;
		if (!ev->model_ok)
			continue;
		qs = model_q(ev, ev->form, &ev->fit, ev->shadow.lam, ev->shadow.c, quant[i]);
		qp = model_q(ev, ev->form, &ev->fit, ev->prod.lam, ev->prod.c, quant[i]);
		if (isfinite(qs) && isfinite(qp) && qs > 0 && qp > 0)
			ev->R[i] = qs / qp;
		else if (!isfinite(qs) && isfinite(qp))
			ev->R[i] = INFINITY;	/* saturated: no prediction */
	}
}

/* Log-sd of the transport ratio from the spread of the per-window
 * capacity estimates (mm1's derivative; a fair size for the others). */
static double transport_sigma(const struct an_judge *j, const struct eval *ev)
{
	double w = j->cfg->model_weight, sd, a, b;

	if (!ev->model_ok || !(ev->fit.v > 0))
		return 0;
	sd = sqrt(ev->fit.v * w / (2 - w));
	a = ev->fit.mu - ev->shadow.lam;
	b = ev->fit.mu - ev->prod.lam;
	if (a <= 0 || b <= 0)
		return 0;
	return fabs(1 / a - 1 / b) * sd;
}

static double carry(const struct eval *ev, double v_ns, double R)
{
	double d0 = ev->model_ok ? ev->fit.d0 * 1e9 : 0;

	if (v_ns <= d0)
		return v_ns * R;
	return d0 + (v_ns - d0) * R;
}

/* The expected distribution of the shadow: prod's pooled histogram with
 * every bucket carried to the shadow's load, the ratio interpolated in the
 * bucket's quantile between the 0.5, 0.9 and 0.99 anchors. */
static int transport_dist(struct an_judge *j, struct eval *ev, struct an_dist *out)
{
	const struct an_dist *d = &ev->prod.dist;
	int64_t cum = 0;

	for (size_t i = 0; i < d->n; i++) {
		int64_t lo = st_hist_value_at_index(j->layout, d->bins[i].idx);
		double u = ((double)cum + (double)d->bins[i].count / 2) / (double)d->total;
		double R, v;

		cum += d->bins[i].count;
		if (u <= 0.5)
			R = ev->R[0];
		else if (u <= 0.9)
			R = ev->R[0] + (ev->R[1] - ev->R[0]) * (u - 0.5) / 0.4;
		else if (u <= 0.99)
			R = ev->R[1] + (ev->R[2] - ev->R[1]) * (u - 0.9) / 0.09;
		else
			R = ev->R[2];
		v = carry(ev, (double)st_hist_median_equivalent(j->layout, lo), R);
		if (!(v >= 0))
			v = 0;
		if (v > (double)j->layout->highest)
			v = (double)j->layout->highest;
		dense_add(j, st_hist_index_(j->layout, (int64_t)v), d->bins[i].count);
	}
	return dense_take(j, 2, out);
}

/* --- A/A noise ------------------------------------------------------------ */

static double win_q(const struct an_win *w, int i)
{
	return i == 0 ? w->p50 : i == 1 ? w->p90 : w->p99;
}

/* Sampling variance of log(quantile) of one window, from its interval. */
static double win_q_var(struct an_judge *j, const struct an_win *w, double q)
{
	struct an_dist d = { j->layout, w->bins, w->n_bins, w->total };
	double lo, hi, z = an_norm_ppf(0.975), s;

	an_dist_quantile_ci(&d, q, 0.95, &lo, &hi);
	if (!(lo > 0) || !isfinite(hi))
		return NAN;
	s = (log(hi) - log(lo)) / (2 * z);
	return s * s;
}

static const struct an_win *find_win(const struct span *sp, int64_t w)
{
	for (uint32_t i = 0; i < sp->n; i++)
		if (sp->w[i]->w == w)
			return sp->w[i];
	return NULL;
}

/* One A/A pair: window a against window b, b's quantiles carried by
 * Ra[] (their queueing part, above d0_ns) to a's load. */
static void aa_pair(struct an_judge *j, struct an_judge_state *js,
		    const struct an_win *a, const struct an_win *b, const double Ra[3],
		    double d0_ns)
{
	for (int i = 0; i < 3; i++) {
		double need = 10 / (1 - quant[i]);
		double qa = win_q(a, i), qb = win_q(b, i);

		qb = qb > d0_ns ? d0_ns + (qb - d0_ns) * Ra[i] : qb * Ra[i];

		if ((double)a->total < need || (double)b->total < need || !(qa > 0) || !(qb > 0))
			continue;
		an_noise_add(js, AN_NOISE_P50 + i, log(qa / qb),
			     win_q_var(j, a, quant[i]) + win_q_var(j, b, quant[i]));
	}
	if (a->requests > 0 && b->requests > 0) {
		double ka = (double)(a->timeouts + a->resets + a->icmp_errors) + 0.5;
		double kb = (double)(b->timeouts + b->resets + b->icmp_errors) + 0.5;

		an_noise_add(js, AN_NOISE_ERR,
			     log(ka / (double)a->requests) - log(kb / (double)b->requests),
			     1 / ka + 1 / kb);
	}
}

/* New A/A pairs since the last evaluation: shadow against its twin in the
 * same window, else prod against the window before, carried to the same
 * load. */
static void update_noise(struct an_judge *j, struct eval *ev, int64_t w_end)
{
	struct an_judge_state *js = &ev->s->js;
	double one[3] = { 1, 1, 1 };

	if (ev->aa.n > 0) {
		for (uint32_t i = 0; i < ev->aa.n; i++) {
			const struct an_win *b = ev->aa.w[i];
			const struct an_win *a = find_win(&ev->shadow, b->w);

			if (a != NULL && b->w > js->aa_last_w)
				aa_pair(j, js, a, b, one, 0);
		}
	} else {
		for (uint32_t i = 0; i < ev->prod.n; i++) {
			const struct an_win *a = ev->prod.w[i];
			const struct an_win *b = find_win(&ev->prod, a->w - 1);
			double R[3];

			if (b == NULL || a->w <= js->aa_last_w)
				continue;
			for (int q = 0; q < 3; q++) {
				double qa = ev->model_ok ? model_q(ev, ev->form, &ev->fit,
					an_win_rate(a, ev->prod.c), ev->prod.c, quant[q]) : 1;
				double qb = ev->model_ok ? model_q(ev, ev->form, &ev->fit,
					an_win_rate(b, ev->prod.c), ev->prod.c, quant[q]) : 1;

				R[q] = isfinite(qa) && isfinite(qb) && qa > 0 && qb > 0 ? qa / qb : 1;
			}
			aa_pair(j, js, a, b, R, ev->model_ok ? ev->fit.d0 * 1e9 : 0);
		}
	}
	js->aa_last_w = w_end;
	for (int k = 0; k < AN_AA_KPIS; k++) {
		ev->tol[k] = an_noise_tol(js, k, j->cfg, j->tmp);
		js->tol[k] = ev->tol[k];
	}
}

/* --- KPIs ---------------------------------------------------------------- */

/* Per-window log residuals for MW: each window against the pooled
 * prediction carried to that window's own load. */
static size_t residuals(const struct eval *ev, const struct span *sp, int qi,
			double *out)
{
	double need = 10 / (1 - quant[qi]), base;
	size_t n = 0;

	base = ev->model_ok ? model_q(ev, ev->form, &ev->fit, ev->prod.lam,
				      ev->prod.c, quant[qi]) : NAN;
	for (uint32_t i = 0; i < sp->n; i++) {
		const struct an_win *w = sp->w[i];
		double R = 1, qw, pred;

		if ((double)w->total < need || !(win_q(w, qi) > 0))
			continue;
		if (ev->model_ok && isfinite(base) && base > 0) {
			qw = model_q(ev, ev->form, &ev->fit, an_win_rate(w, sp->c), sp->c,
				     quant[qi]);
			if (isfinite(qw) && qw > 0)
				R = qw / base;
		}
		pred = carry(ev, ev->P[qi], R);
		if (pred > 0)
			out[n++] = log(win_q(w, qi) / pred);
	}
	return n;
}

static void latency_kpis(struct an_judge *j, struct eval *ev)
{
	for (int i = 0; i < 3; i++) {
		struct an_lat_in in = {
			.obs = &ev->shadow.dist,
			.q = quant[i],
			.pred = ev->pred[i],
			.pred_sigma = ev->pred_sigma[i],
			.tol = ev->tol[AN_NOISE_P50 + i],
			.alpha = j->cfg->alpha,
			.min_samples = j->cfg->min_samples,
			.a = j->a,
			.b = j->b,
			.scratch = j->scratch,
		};

		if (ev->has_prod) {
			in.m = residuals(ev, &ev->shadow, i, j->a);
			in.n = residuals(ev, &ev->prod, i, j->b);
		}
		an_kpi_latency(&in, &ev->k[K_P50 + i], &ev->det[K_P50 + i]);
	}
}

/* P(latency > response_timeout) under the prod model at (lam, c). */
static double exceed(const struct an_judge *j, const struct eval *ev,
		     double lam, uint32_t c)
{
	if (!ev->model_ok)
		return 0;
	return an_model_exceed(&ev->s->model, ev->form, &ev->fit, lam, c,
			       (double)j->cfg->response_timeout_ns / 1e9);
}

static void rate_kpis(struct an_judge *j, struct eval *ev)
{
	const struct an_model *m = &ev->s->model;
	double ex_s = exceed(j, ev, ev->shadow.lam, ev->shadow.c);
	double ex_p = exceed(j, ev, ev->prod.lam, ev->prod.c);
	struct an_rate_in in = {
		.n = ev->shadow.requests,
		.alpha = j->cfg->alpha,
		.tol = ev->tol[AN_NOISE_ERR],
		.dir = AN_DIR_UP,
	};
	double r_ref, errs_p = ev->prod.timeouts + ev->prod.resets + ev->prod.icmp;

	/* errors: what prod shows beyond its own queueing timeouts, plus the
	 * timeouts the model expects at the shadow's load */
	in.k = (uint64_t)(ev->shadow.timeouts + ev->shadow.resets + ev->shadow.icmp);
	if (ev->has_prod && ev->prod.requests > 0) {
		r_ref = errs_p / ev->prod.requests;
		in.pred = fmax(0, r_ref - ex_p) + ex_s;
		in.k_ref = (uint64_t)errs_p;
		in.n_ref = ev->prod.requests;
		in.f = r_ref > 0 ? in.pred / r_ref : 1;
	} else {
		in.pred = fmax(0, m->rate_err - ex_p) + ex_s;
	}
	an_kpi_rate(&in, &ev->k[K_ERR], &ev->det[K_ERR]);

	in.k = (uint64_t)ev->shadow.timeouts;
	if (ev->has_prod && ev->prod.requests > 0) {
		r_ref = ev->prod.timeouts / ev->prod.requests;
		in.pred = fmax(0, r_ref - ex_p) + ex_s;
		in.k_ref = (uint64_t)ev->prod.timeouts;
		in.f = r_ref > 0 ? in.pred / r_ref : 1;
	} else {
		in.pred = fmax(0, m->rate_to - ex_p) + ex_s;
	}
	an_kpi_rate(&in, &ev->k[K_TO], &ev->det[K_TO]);

	in.k = (uint64_t)ev->shadow.resets;
	if (ev->has_prod && ev->prod.requests > 0) {
		in.pred = ev->prod.resets / ev->prod.requests;
		in.k_ref = (uint64_t)ev->prod.resets;
		in.f = 1;
	} else {
		in.pred = m->rate_rst;
	}
	an_kpi_rate(&in, &ev->k[K_RST], &ev->det[K_RST]);
}

/* Throughput: does the shadow carry the per-instance load the proposal
 * implies? Informational: a shadow fed less is not a slow shadow. */
static void tput_kpi(struct an_judge *j, struct eval *ev)
{
	struct st_verdict_kpi *k = &ev->k[K_TPUT];
	double pred = ev->p->forecast_rps / ev->p->proposed_instances;
	double scale, lo, hi;

	k->predicted = pred;
	k->n = (uint64_t)ev->shadow.responses;
	if (!(ev->shadow.secs > 0))
		return;
	scale = 1 / ev->shadow.secs / ev->shadow.c;
	k->observed = ev->shadow.responses * scale;
	an_poisson_ci((uint64_t)ev->shadow.responses, 1 - j->cfg->alpha, &lo, &hi);
	k->ci_low = lo * scale;
	k->ci_high = hi * scale;
	k->ratio = k->observed / pred;
	if (k->ci_low > pred * (1 + TPUT_TOL))
		k->status = ST_KPI_HIGH;
	else if (k->ci_high < pred * (1 - TPUT_TOL))
		k->status = ST_KPI_LOW;
	else
		k->status = ST_KPI_PASS;
	ev->det[K_TPUT].p = 1;
	ev->det[K_TPUT].bad = k->status == ST_KPI_LOW;
}

static int shape_kpi(struct an_judge *j, struct eval *ev)
{
	struct an_dist ref;
	int rc;

	if (!ev->has_prod)
		return 0;
	rc = transport_dist(j, ev, &ref);
	if (rc != 0)
		return rc;
	an_kpi_shape(&ev->shadow.dist, &ref, ev->pred[0], j->cfg->alpha, SHAPE_TOL,
		     &ev->k[K_SHAPE], &ev->det[K_SHAPE]);
	return 0;
}

/* --- corrected model, recommendation ------------------------------------- */

/* A form with a general service time, fitted by an_fit_service. */
static bool general_form(enum an_form f)
{
	return f == AN_FORM_MG1 || f == AN_FORM_GGC;
}

/* The corrected model as a predictor (predict.h): what the
 * recommendation below, the what-if answers and the forecast alerts all
 * evaluate, so they agree. The discrepancy at prod's load levels counts
 * for prod's own fit, not for a fit to the shadow. */
static void pred_of(const struct an_judge *j, const struct eval *ev, struct an_pred *p)
{
	memset(p, 0, sizeof(*p));
	p->form = ev->cform;
	p->n = ev->n_cfit;
	for (int i = 0; i < ev->n_cfit; i++) {
		p->fit[i] = ev->cfit[i];
		p->tail[i] = ev->ctail[i];
		p->prod[i] = ev->cprod[i];
	}
	p->bound = ev->bound;
	p->base_err = ev->base_err;
	p->timeout_s = (double)j->cfg->response_timeout_ns / 1e9;
	p->lam_shadow = isfinite(ev->shadow.lam) ? ev->shadow.lam : 0;
	p->corrected = true;
}

/* The forecast's share of the load at n instances. */
static double eval_lam(const struct eval *ev, uint32_t n)
{
	return ev->p->forecast_rps / n;
}

/* p99 (ns) at n instances each carrying lam under the corrected model;
 * hi: its upper bound (an_model_q_hi: the load inflated by the capacity's
 * uncertainty and by how far it lies beyond the loads measured, cs2 at the
 * upper end of its interval, the model's discrepancy at the loads
 * measured). */
static double p99_lam(const struct an_judge *j, const struct eval *ev, double lam, uint32_t n,
		      bool hi)
{
	struct an_pred p;

	pred_of(j, ev, &p);
	return an_pred_q(&ev->s->model, &p, lam, n, 0.99, hi) * 1e9;
}

/* p99 (ns) at n instances carrying the forecast; hi: its upper bound. */
static double p99_at(const struct an_judge *j, const struct eval *ev, uint32_t n, bool hi)
{
	return p99_lam(j, ev, eval_lam(ev, n), n, hi);
}

/* P(latency > t s) under the corrected model, tail stretch included; hi:
 * its upper bound (an_model_exceed_hi). */
static double c_exceed(const struct an_judge *j, const struct eval *ev, double lam, uint32_t n,
		       double t, bool hi)
{
	struct an_pred p;

	pred_of(j, ev, &p);
	return an_pred_exceed(&ev->s->model, &p, lam, n, t, hi);
}

/* Error rate at n instances each carrying lam (as p99_lam). */
static double err_lam(const struct an_judge *j, const struct eval *ev, double lam, uint32_t n,
		      bool hi)
{
	struct an_pred p;

	pred_of(j, ev, &p);
	return an_pred_err(&ev->s->model, &p, lam, n, hi);
}

static double err_at(const struct an_judge *j, const struct eval *ev, uint32_t n, bool hi)
{
	return err_lam(j, ev, eval_lam(ev, n), n, hi);
}

/* A count meets the SLO when the upper bounds of its p99 and error rate
 * do: less evidence, or a load further beyond what was measured, gives a
 * more cautious answer, never a bolder one. */
static bool meets(const struct an_judge *j, const struct eval *ev, uint32_t n)
{
	return p99_at(j, ev, n, true) <= (double)ev->p->slo_p99_ns &&
	       an_pred_err_ok(err_at(j, ev, n, true), ev->p->slo_error_rate);
}

/* The model refitted to what the shadow showed. Two fits, and where both
 * stand the worse one counts:
 * - the shadow's p50 and p99 at its one load, when its shape is the form's
 *   (a fixed part 0 < d0 <= prod's p50 explains them), the p99 taken at the upper end
 *   of its one-sided REC_CONF interval so the recommendation errs on the
 *   safe side;
 * - the p99 at prod's load and at the shadow's, both as observed
 *   (an_fit_two_loads), which follows the curve between them whatever its
 *   shape, as long as both run the same kind of server.
 * Neither: the prod model. USL has no such fits: its corrected fit is
 * mm1. mg1 and ggc fit the shadow's p50, p90, mean and p99 at its load
 * (the service time's variability included) and keep prod's fit beside
 * it. */
static void correct(struct an_judge *j, struct eval *ev)
{
	const struct st_verdict_kpi *k99 = &ev->k[K_P99];
	double o50 = ev->k[K_P50].observed, o99 = k99->observed, lo, hi;
	enum an_form f = ev->form == AN_FORM_USL ? AN_FORM_MM1 : ev->form;
	struct an_fit pt;

	ev->cform = ev->form;
	ev->cfit[0] = ev->fit;
	ev->ctail[0] = 1;
	ev->cprod[0] = ev->model_ok;
	ev->cprod[1] = false;
	ev->n_cfit = 1;
	ev->corrected = false;
	ev->rsd_shadow = 0;
	if ((uint64_t)ev->shadow.dist.total >= j->cfg->min_samples && o50 > 0 && o99 > o50) {
		bool pt_ok, pt_shape, two_ok;

		an_dist_quantile_ci(&ev->shadow.dist, 0.99, 1 - 2 * (1 - REC_CONF), &lo, &hi);
		if (isfinite(hi) && hi > o99)
			o99 = hi;
		if (general_form(f)) {
			/* At the p99 observed: raising it alone would read as a
			 * more variable service (cs2), which extrapolates far
			 * more steeply than the sampling noise it stands for.
			 * That noise goes into the bound instead, as capacity:
			 * d ln mu = (1 - rho) d ln p99 near the tail. */
			pt_ok = an_fit_service(f, ev->shadow.lam, ev->shadow.c, o50 / 1e9,
					       ev->k[K_P90].observed / 1e9, k99->observed / 1e9,
					       an_dist_mean(&ev->shadow.dist) / 1e9,
					       ev->model_ok ? ev->fit.d0 : -1, &pt) == 0;
			if (pt_ok && o99 > k99->observed && pt.mu > ev->shadow.lam)
				ev->rsd_shadow = (1 - ev->shadow.lam / pt.mu) *
						 log(o99 / k99->observed) / an_norm_ppf(REC_CONF);
			ev->n_cfit = ev->model_ok ? 1 : 0;
			if (pt_ok) {
				ev->cfit[ev->n_cfit] = pt;
				ev->ctail[ev->n_cfit++] = 1;
				ev->corrected = true;
			}
			if (ev->n_cfit == 0) {
				ev->cfit[0] = ev->fit;
				ev->n_cfit = 1;
			}
			goto errors;
		}
		pt_ok = an_fit_point(f, ev->shadow.lam, ev->shadow.c, o50 / 1e9, o99 / 1e9,
				     &pt) == 0;
		/* Both p99 as observed: raising one end alone would steepen
		 * the curve between them, most where it matters, near
		 * saturation (the one-load fit keeps the safety margin). */
		two_ok = ev->has_prod && ev->model_ok && ev->P[2] > 0 &&
			 an_fit_two_loads(f, ev->fit.d0, ev->prod.lam, ev->prod.c, ev->P[2] / 1e9,
					  ev->shadow.lam, ev->shadow.c, k99->observed / 1e9,
					  &ev->cfit[0], &ev->ctail[0]) == 0;
		/* The one-load fit's shape is the form's when a fixed part
		 * explains it, and no longer than prod's whole median (a
		 * longer one is a saturated queue taken for fixed). */
		pt_shape = pt_ok && pt.d0 > 0 &&
			   !(ev->has_prod && ev->P[0] > 0 && pt.d0 * 1e9 > ev->P[0]);
		ev->n_cfit = two_ok;
		ev->cprod[0] = false;	/* the two-load fit, or the shadow's */
		if (pt_ok && (pt_shape || !two_ok)) {
			ev->cfit[ev->n_cfit] = pt;
			ev->ctail[ev->n_cfit++] = 1;
		}
		if (ev->n_cfit > 0) {
			ev->cform = f;
			ev->corrected = true;
		} else {
			ev->cfit[0] = ev->fit;
			ev->ctail[0] = 1;
			ev->cprod[0] = ev->model_ok;
			ev->n_cfit = 1;
		}
	}
errors:
	/* errors the shadow shows beyond what its own queueing explains */
	ev->base_err = 0;
	if (ev->shadow.requests > 0) {
		double r = (ev->shadow.timeouts + ev->shadow.resets + ev->shadow.icmp) /
			   ev->shadow.requests;
		double ex = c_exceed(j, ev, ev->shadow.lam, ev->shadow.c,
				     (double)j->cfg->response_timeout_ns / 1e9, false);

		ev->base_err = fmax(0, r - ex);
	}
}

/* What the upper bound rests on: the highest per-instance load measured
 * (this span's prod and shadow, and the load levels prod showed before)
 * and the relative standard error of the capacity: prod's, from the
 * spread of its per-window estimates, and the shadow's sampling noise. */
static void bound_inputs(const struct an_judge *j, struct eval *ev)
{
	an_bound_prod(&ev->s->model, ev->model_ok ? &ev->fit : NULL, j->cfg->model_weight,
		      &ev->bound);
	if (isfinite(ev->shadow.lam) && ev->shadow.lam > ev->bound.lam_obs)
		ev->bound.lam_obs = ev->shadow.lam;
	if (ev->has_prod && ev->prod.lam > ev->bound.lam_obs)
		ev->bound.lam_obs = ev->prod.lam;
	ev->bound.rsd = hypot(ev->bound.rsd, ev->rsd_shadow);
	ev->lam_obs = ev->bound.lam_obs;
	ev->rsd = ev->bound.rsd;
}

bool an_err_within(double errors, double requests, double conf, double slo_err)
{
	return an_rate_bound(errors, requests, conf, true) <= slo_err ||
	       (slo_err == 0 && errors == 0 && requests > 0);
}

/* The highest per-instance load at which prod or the shadow was measured
 * meeting the SLO: enough samples, the upper ends of its p99's interval
 * and of its error rate's within the SLO. 0 when neither was. A count whose load is
 * at most this meets the SLO by measurement, whatever a model says -- but
 * where the instances share one queue (mmc, ggc) only a count of at least
 * as many as were measured: fewer pool less, and wait longer at the same
 * load. Each such span's load and count go to ev->meas_*. */
/* Whether the instances may share one queue: the form in use says so, or
 * prod's windows do not rule it out (an_model_pooling_seen): a load
 * measured on many instances then stands only for as many. */
static bool shared_queue(const struct an_judge *j, const struct eval *ev)
{
	return ev->cform == AN_FORM_MMC || ev->cform == AN_FORM_GGC ||
	       an_model_pooling_seen(&ev->s->model, j->cfg->model_weight);
}

static double lam_measured_ok(const struct an_judge *j, struct eval *ev)
{
	const struct span *sp[2] = { ev->has_prod ? &ev->prod : NULL, &ev->shadow };
	const bool shared = ev->shared;
	double best = 0;

	ev->n_meas = 0;
	for (int i = 0; i < 2; i++) {
		const struct span *s = sp[i];
		double lo, hi;

		if (s == NULL || !(s->lam > 0) || s->requests <= 0 ||
		    (uint64_t)s->dist.total < j->cfg->min_samples)
			continue;
		an_dist_quantile_ci(&s->dist, 0.99, 1 - 2 * (1 - REC_CONF), &lo, &hi);
		if (!isfinite(hi) || hi > (double)ev->p->slo_p99_ns ||
		    !an_err_within(s->timeouts + s->resets + s->icmp, s->requests, REC_CONF,
				ev->p->slo_error_rate))
			continue;
		ev->meas_lam[ev->n_meas] = s->lam;
		ev->meas_c[ev->n_meas++] = shared && s->c > 1 ? s->c : 1;
		best = fmax(best, s->lam);
	}
	return best;
}

/* The highest per-instance load a passed squeeze step stands for: the load
 * it ran with the tolerance of any measured load (a step lands within a
 * few percent of its aim: flows come whole), but never past its aim (the
 * load of the count it stepped: 5% more let a pass at 21 instances publish
 * 20, never stepped) nor up to a load a step failed at. 0: none. */
static double sq_ok_cap(const struct an_squeeze *sq)
{
	double cap = sq->ok_lam * (1 + MEASURED_TOL);

	if (!(sq->ok_lam > 0))
		return 0;
	if (sq->ok_aim > 0 && cap > sq->ok_aim)
		cap = fmax(sq->ok_lam, sq->ok_aim);
	if (sq->bad_lam > 0 && cap >= sq->bad_lam)
		cap = fmax(sq->ok_lam, sq->bad_lam * (1 - 1e-6));
	return cap;
}

/* The count a squeeze step's load stands for: it ran on the shadow's
 * instances, and where they share a queue (mmc, ggc) fewer pool less and
 * wait longer at the same load. */
static uint32_t sq_c(const struct eval *ev)
{
	return ev->shared && ev->shadow.c > 1 ? ev->shadow.c : 1;
}

/* A per-instance load measured within the SLO: by prod or the shadow
 * (within the usual 5%, on at least as many instances where they share a
 * queue), or by a squeeze step (the same). */
static bool load_verified(const struct eval *ev, double lam)
{
	uint32_t n = lam > 0 ? (uint32_t)ceil(ev->p->forecast_rps / lam - 1e-9) : 0;

	for (uint32_t i = 0; i < ev->n_meas; i++)
		if (lam <= ev->meas_lam[i] * (1 + MEASURED_TOL) && n >= ev->meas_c[i])
			return true;
	return lam <= sq_ok_cap(&ev->s->sq) && n >= sq_c(ev);
}

/* The fewest instances the evidence stands for at the forecast: of each
 * span measured within the SLO, its load (times tol) and at least its
 * count, and of the squeeze steps their cap; 0: none. *lam: the load that
 * count rests on. */
static uint32_t evidence_fewest(const struct eval *ev, double tol, double *lam)
{
	const double f = ev->p->forecast_rps, cap = sq_ok_cap(&ev->s->sq);
	double best = INFINITY;

	*lam = 0;
	for (uint32_t i = 0; i <= ev->n_meas; i++) {
		double l = i < ev->n_meas ? ev->meas_lam[i] * tol : cap;
		double need;

		if (!(l > 0))
			continue;
		need = ceil(f / l * (1 - 1e-12));
		if (i < ev->n_meas && need < ev->meas_c[i])
			need = ev->meas_c[i];
		if (i == ev->n_meas && need < sq_c(ev))
			need = sq_c(ev);
		if (need < best) {
			best = need;
			*lam = l;
		}
	}
	return isfinite(best) ? (best < 1 ? 1 : best > UINT32_MAX ? UINT32_MAX : (uint32_t)best) : 0;
}

/* The fewest instances whose load stays below the load a squeeze step
 * failed at (that load was measured, not a neighbour of it) and below the
 * load it aimed at (a step that overshot its count's load and failed does
 * not verify that count: one more instance is tried); 0: none. */
static uint32_t sq_floor(const struct an_plan *p, const struct an_squeeze *sq)
{
	double lam = sq->bad_aim > 0 ? fmin(sq->bad_lam, sq->bad_aim) : sq->bad_lam;

	if (!(lam > 0))
		return 0;
	return (uint32_t)fmin(floor(p->forecast_rps / lam * (1 + 1e-9)) + 1, p->max_instances);
}

/* The load per instance the shadow was measured breaking the SLO at (the
 * lower end of its p99's interval, or of its error rate's, past the
 * objective), 0: none. Every count whose load is at least this misses it,
 * whatever a model says (a shadow whose samples all fell in one bucket
 * gave no fit to correct the model with, and prod's confirmed it). Not
 * for a shared queue: more instances than the shadow's pool more. */
static double lam_broken(const struct an_judge *j, const struct eval *ev)
{
	const struct span *s = &ev->shadow;
	double lo, hi;

	/* the form in use, not ev->shared: where pooling is only possible,
	 * the reading that is never short is that it gives nothing */
	if (ev->cform == AN_FORM_MMC || ev->cform == AN_FORM_GGC || !(s->lam > 0) ||
	    s->requests <= 0 || (uint64_t)s->dist.total < j->cfg->min_samples)
		return 0;
	an_dist_quantile_ci(&s->dist, 0.99, 1 - 2 * (1 - REC_CONF), &lo, &hi);
	if ((isfinite(lo) && lo > (double)ev->p->slo_p99_ns) ||
	    an_rate_bound(s->timeouts + s->resets + s->icmp, s->requests, REC_CONF, false) >
		    ev->p->slo_error_rate)
		return s->lam;
	return 0;
}

/* Asks verify.c for a squeeze step (with dataplane_control): for the
 * recommendation when it is not verified; when it is, for a smaller count
 * no step has tried -- the upper bound and the evidence cap both err high.
 * That count is the model's nominal fewest, kept between the fewest the
 * evidence still allows (above the load a step failed at, and within the
 * ceiling at the most optimistic capacity) and one below the
 * recommendation: steps walk down until one fails. With the count: its per-instance load, the utilisation
 * the slowest fit puts there, and what the share change rests on. */
static void want_squeeze(const struct an_judge *j, struct eval *ev)
{
	const struct an_plan *p = ev->p;
	struct an_squeeze *sq = &ev->s->sq;
	double mu = INFINITY, mu_hi = 0, F = p->forecast_rps;
	uint32_t n = ev->rec;

	sq->want_n = 0;
	if (ev->rec == 0 || !an_config_verify_on(j->cfg))
		return;
	for (int i = 0; i < ev->n_cfit; i++)
		if (ev->cfit[i].mu > 0) {
			mu = fmin(mu, ev->cfit[i].mu);
			mu_hi = fmax(mu_hi, ev->cfit[i].mu);
		}
	if (ev->verified) {
		double lo = p->min_instances;

		if (mu_hi > 0)
			lo = fmax(lo, ceil(F / (mu_hi * j->cfg->verify_util_ceiling)));
		lo = fmax(lo, sq_floor(p, sq));
		/* a step for fewer than the shadow's instances, where they
		 * share a queue, would verify no count (sq_c) */
		lo = fmax(lo, sq_c(ev));
		if (!(lo < ev->rec))
			return;
		/* the model's own fewest (nominal, not the bound), within
		 * [lo, rec - 1]: p99 only falls as instances are added */
		n = (uint32_t)lo;
		for (uint32_t hi = ev->rec - 1; n < hi;) {
			uint32_t mid = n + (hi - n) / 2;

			if (p99_at(j, ev, mid, false) <= (double)p->slo_p99_ns &&
			    an_pred_err_ok(err_at(j, ev, mid, false), p->slo_error_rate))
				hi = mid;
			else
				n = mid + 1;
		}
	}
	if (n < sq_c(ev))
		return;
	sq->want_n = n;
	sq->want_probe = ev->verified;
	sq->want_lam = F / n;
	sq->want_util = isfinite(mu) ? sq->want_lam / mu : NAN;
	sq->prod_rps = ev->has_prod ? ev->prod.lam * ev->prod.c : 0;
	sq->shadow_lam = isfinite(ev->shadow.lam) ? ev->shadow.lam : 0;
	sq->shadow_c = ev->shadow.c;
}

static void recommend(struct an_judge *j, struct eval *ev)
{
	const struct an_plan *p = ev->p;
	const struct an_squeeze *sq = &ev->s->sq;
	uint32_t lo = p->min_instances, hi, n;

	bound_inputs(j, ev);
	/* Bracket from the proposal up by doubling (an M/M/c evaluation costs
	 * O(instances)), then bisect: p99 and timeouts only fall as
	 * instances are added. */
	hi = p->proposed_instances < lo ? lo : p->proposed_instances;
	if (hi > p->max_instances)
		hi = p->max_instances;
	while (hi < p->max_instances && !meets(j, ev, hi)) {
		lo = hi + 1;
		hi = hi > p->max_instances / 2 ? p->max_instances : hi * 2;
	}
	ev->rec_unreachable = false;
	if (!meets(j, ev, hi)) {
		n = hi;
		ev->rec_unreachable = true;
	} else {
		if (lo > hi)
			lo = hi;
		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;

			if (meets(j, ev, mid))
				hi = mid;
			else
				lo = mid + 1;
		}
		n = lo;
	}
	/* Never more than the evidence needs: the model's bound widens with
	 * extrapolation, and a corrected fit from a saturated shadow can ask
	 * for several times what prod was measured serving within the SLO. */
	ev->lam_meas_ok = lam_measured_ok(j, ev);
	ev->rec_measured = false;
	{
		uint32_t n_ok = evidence_fewest(ev, 1, &ev->lam_ok);

		if (n_ok > p->max_instances)
			n_ok = p->max_instances;
		if (n_ok != 0 && n_ok < p->min_instances)
			n_ok = p->min_instances;
		if (n_ok != 0 && n_ok < n) {
			n = n_ok;
			ev->rec_unreachable = false;
			ev->rec_measured = true;
		}
	}
	/* Never a load a squeeze step saw break the SLO. */
	if (n < sq_floor(p, sq)) {
		n = sq_floor(p, sq);
		ev->rec_measured = false;
		ev->rec_squeezed = true;
	}
	/* Nor one the shadow did, above every load measured within it (a
	 * break below a load met is not the load's: a fixed delay, a spike). */
	ev->lam_broken = lam_broken(j, ev);
	if (ev->lam_broken <= fmax(ev->lam_meas_ok, sq_ok_cap(sq)))
		ev->lam_broken = 0;
	ev->rec_broken = false;
	if (ev->lam_broken > 0) {
		/* within the usual 5% of it: a load measured is the load run */
		double fl = floor(p->forecast_rps / (ev->lam_broken * (1 - MEASURED_TOL)) *
				  (1 + 1e-9)) + 1;

		if (fl > p->max_instances) {
			fl = p->max_instances;
			ev->rec_unreachable = true;
		}
		if (n < fl) {
			n = (uint32_t)fl;
			ev->rec_measured = false;
			ev->rec_broken = true;
		}
	}
	ev->rec_unstepped = 0;
	if (p->max_step > 0) {
		uint32_t c = p->current_instances;

		if ((n > c && n - c > p->max_step) || (n < c && c - n > p->max_step)) {
			ev->rec_unstepped = n;
			/* the count the evidence stood for is not this one:
			 * load_verified says whether this one's load was run */
			ev->rec_measured = false;
		}
		if (n > c && n - c > p->max_step)
			n = c + p->max_step;
		if (n < c && c - n > p->max_step)
			n = c - p->max_step;
		if (n < p->min_instances)
			n = p->min_instances;
		if (n > p->max_instances)
			n = p->max_instances;
	}
	ev->rec = n;
	ev->p99_prop = p99_at(j, ev, p->proposed_instances, false);
	ev->err_prop = err_at(j, ev, p->proposed_instances, false);
	ev->p99_rec = p99_at(j, ev, n, false);
	ev->err_rec = err_at(j, ev, n, false);
	ev->p99_prop_hi = p99_at(j, ev, p->proposed_instances, true);
	ev->err_prop_hi = err_at(j, ev, p->proposed_instances, true);
	ev->p99_rec_hi = p99_at(j, ev, n, true);
	ev->err_rec_hi = err_at(j, ev, n, true);
	/* Measured: a load at least the count's was run within the SLO (by
	 * prod, the shadow or a squeeze step). A load between one met and one
	 * missed is the model's interpolation, not a measurement. */
	ev->verified = ev->rec_measured || load_verified(ev, p->forecast_rps / n);
	want_squeeze(j, ev);
	/* The verdict judges the proposal on the evidence (the nominal
	 * prediction); the count a scaler acts on rests on the bound. */
	ev->proposal_ok = ev->p99_prop <= (double)p->slo_p99_ns &&
			  an_pred_err_ok(ev->err_prop, p->slo_error_rate) &&
			  p->proposed_instances >= p->min_instances &&
			  p->proposed_instances <= p->max_instances &&
			  !(ev->lam_broken > 0 && p->forecast_rps / p->proposed_instances >=
							    ev->lam_broken * (1 - MEASURED_TOL));
	/* Not measured, and squeeze steps can measure it: what is published
	 * until one does is the fewest count whose load was run within the
	 * SLO (the proposal, when the shadow met it; else what prod's load
	 * says), never the model's interpolation -- a scaler acting on it
	 * blindly is never short. */
	ev->rec_held = 0;
	if (an_config_verify_on(j->cfg) && !ev->verified) {
		double lam_v;
		double nv = evidence_fewest(ev, 1 + MEASURED_TOL, &lam_v);

		if (nv > n && nv <= p->max_instances &&
		    !(p->max_step > 0 && nv > p->current_instances + p->max_step)) {
			uint32_t h = (uint32_t)nv;

			ev->rec_held = n;
			ev->rec = h;
			ev->rec_unstepped = 0;
			ev->p99_rec = p99_at(j, ev, h, false);
			ev->err_rec = err_at(j, ev, h, false);
			ev->p99_rec_hi = p99_at(j, ev, h, true);
			ev->err_rec_hi = err_at(j, ev, h, true);
			ev->rec_measured = ev->rec_squeezed = ev->rec_broken = false;
			ev->rec_unreachable = false;
			ev->verified = load_verified(ev, p->forecast_rps / h);
		}
	}
}

/* --- the verdict ------------------------------------------------------------ */

static const char *fmt_ns(char *buf, size_t len, double ns)
{
	if (!isfinite(ns))
		snprintf(buf, len, "unbounded");
	else if (ns >= 1e9)
		snprintf(buf, len, "%.3g s", ns / 1e9);
	else if (ns >= 1e6)
		snprintf(buf, len, "%.3g ms", ns / 1e6);
	else if (ns >= 1e3)
		snprintf(buf, len, "%.3g us", ns / 1e3);
	else
		snprintf(buf, len, "%.3g ns", ns);
	return buf;
}

static const char *fmt_pct(char *buf, size_t len, double r)
{
	if (r > 0 && r < 1e-6)
		snprintf(buf, len, "<0.0001%%");
	else
		snprintf(buf, len, "%.3g%%", r * 100);
	return buf;
}

struct reason {
	char *buf;
	size_t len, used;
};

static void say(struct reason *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(struct reason *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->used + 1 >= r->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(r->buf + r->used, r->len - r->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		r->used = fmin(r->used + (size_t)n, r->len - 1);
}

/* The KPI that decides a failing verdict: the critical bad one with the
 * largest excess, else any bad one (-1: none). */
static int deciding_kpi(const struct eval *ev, bool critical_only)
{
	int best = -1;
	double excess = -INFINITY;

	for (int i = 0; i < K_TPUT; i++) {
		double e;

		if (!ev->det[i].bad || (critical_only && !ev->k[i].critical))
			continue;
		e = isfinite(ev->k[i].ratio) ? ev->k[i].ratio : 1e300;
		if (e > excess) {
			excess = e;
			best = i;
		}
	}
	return best;
}

static void describe_kpi(struct reason *r, const struct eval *ev, int i)
{
	const struct st_verdict_kpi *k = &ev->k[i];
	const struct an_kpi_detail *d = &ev->det[i];
	char a[32], b[32], c[32], e[32];

	if (i <= K_P99) {
		say(r, "shadow %s %s is %.2fx the %s predicted (interval %s-%s",
		    k->name, fmt_ns(a, sizeof(a), k->observed), k->ratio,
		    fmt_ns(b, sizeof(b), k->predicted), fmt_ns(c, sizeof(c), k->ci_low),
		    fmt_ns(e, sizeof(e), k->ci_high));
		if (d->mw)
			say(r, ", Mann-Whitney p=%.2g, Hodges-Lehmann shift x%.2f", d->p,
			    exp(d->hl));
		say(r, ")");
	} else {
		say(r, "shadow %s %s against %s predicted (interval %s-%s, exact test p=%.2g)",
		    k->name, fmt_pct(a, sizeof(a), k->observed),
		    fmt_pct(b, sizeof(b), k->predicted), fmt_pct(c, sizeof(c), k->ci_low),
		    fmt_pct(e, sizeof(e), k->ci_high), d->p);
	}
}

static void describe_slo(struct reason *r, const struct eval *ev, uint32_t n,
			 double p99, double p99_hi, double err)
{
	char a[32], b[32], c[32], d[32], e[32];

	say(r, "%u instances give p99 %s (upper bound %s; SLO %s) and error rate %s (SLO %s) under the %s %s model",
	    n, fmt_ns(a, sizeof(a), p99), fmt_ns(e, sizeof(e), p99_hi),
	    fmt_ns(b, sizeof(b), (double)ev->p->slo_p99_ns),
	    fmt_pct(c, sizeof(c), err), fmt_pct(d, sizeof(d), ev->p->slo_error_rate),
	    ev->corrected ? "corrected" : "prod", an_form_name(ev->cform));
}

/* One sentence: was the recommendation's load measured, or extrapolated? */
static void describe_verified(const struct eval *ev, char *buf, size_t len)
{
	const struct an_plan *p = ev->p;
	double lam = p->forecast_rps / ev->rec;
	char a[32], b[32];

	fmt_ns(a, sizeof(a), ev->p99_rec);
	fmt_ns(b, sizeof(b), ev->p99_rec_hi);
	const struct an_squeeze *sq = &ev->s->sq;
	char c[32];
	int o;

	if (ev->verified && lam <= sq_ok_cap(sq) && sq->ok_ran > sq->ok_lam) {
		snprintf(buf, len,
			 "verified by two squeeze steps: the lower-loaded ran the shadow at %.1f rps per instance (aimed at %.1f) with p99 %s, within the SLO; %u instances run at %.1f rps each",
			 sq->ok_ran, sq->ok_lam, fmt_ns(c, sizeof(c), sq->ok_p99), ev->rec, lam);
		return;
	}
	if (ev->verified && lam <= sq_ok_cap(sq)) {
		snprintf(buf, len,
			 "verified by two squeeze steps: the lower-loaded ran the shadow at %.1f rps per instance with p99 %s, within the SLO; %u instances run at %.1f rps each",
			 sq->ok_lam, fmt_ns(c, sizeof(c), sq->ok_p99), ev->rec, lam);
		return;
	}
	if (ev->rec_measured)
		snprintf(buf, len,
			 "%u instances run at %.1f rps each, at most the %.1f rps per instance at which prod or the shadow was measured within the SLO (the model asked for more)",
			 ev->rec, lam, ev->lam_ok);
	else if (ev->verified)
		snprintf(buf, len,
			 "%u instances run at %.1f rps each, within the %.1f rps per instance at which prod or the shadow was measured within the SLO: p99 %s predicted, upper bound %s",
			 ev->rec, lam, ev->lam_meas_ok, a, b);
	else if (lam > ev->lam_obs * (1 + MEASURED_TOL))
		snprintf(buf, len,
			 "extrapolated: %u instances run at %.1f rps each, %.0f%% beyond the highest %.1f rps per instance prod or a shadow has run at; p99 %s predicted, upper bound %s, not measured",
			 ev->rec, lam, 100 * (lam / ev->lam_obs - 1), ev->lam_obs, a, b);
	else if (lam <= ev->lam_meas_ok * (1 + MEASURED_TOL) && ev->n_meas > 0)
		snprintf(buf, len,
			 "not verified: %u instances run at %.1f rps each, within the %.1f rps per instance measured within the SLO but on more instances sharing one queue, and fewer pool less; p99 %s predicted, upper bound %s",
			 ev->rec, lam, ev->lam_meas_ok, a, b);
	else if (ev->n_meas == 0)
		snprintf(buf, len,
			 "not verified: %u instances run at %.1f rps each; no load prod or the shadow ran was measured within the SLO (min_samples, and the upper bounds of p99 and error rate within it); p99 %s predicted, upper bound %s",
			 ev->rec, lam, a, b);
	else
		snprintf(buf, len,
			 "not verified: %u instances run at %.1f rps each, above the %.1f rps per instance measured within the SLO and below the %.1f run beyond it; p99 %s predicted, upper bound %s (the model's interpolation)",
			 ev->rec, lam, ev->lam_meas_ok, ev->lam_obs, a, b);
	o = (int)strlen(buf);
	if (ev->rec_squeezed && (size_t)o < len && sq->bad_aim > 0 && sq->bad_aim < sq->bad_lam)
		o += snprintf(buf + o, len - (size_t)o,
			      "; at least %u: a squeeze step aimed at %.1f rps per instance ran at %.1f and could not show p99 within the SLO (upper bound %s)",
			      ev->rec, sq->bad_aim, sq->bad_lam, fmt_ns(c, sizeof(c), sq->bad_p99));
	else if (ev->rec_squeezed && (size_t)o < len)
		o += snprintf(buf + o, len - (size_t)o,
			      "; at least %u: a squeeze step at %.1f rps per instance could not show p99 within the SLO (upper bound %s)",
			      ev->rec, sq->bad_lam, fmt_ns(c, sizeof(c), sq->bad_p99));
	if (ev->rec_broken && (size_t)o < len)
		o += snprintf(buf + o, len - (size_t)o,
			      "; at least %u: the shadow broke the SLO at %.1f rps per instance (measured)",
			      ev->rec, ev->lam_broken);
	if (ev->rec_held && (size_t)o < len)
		o += snprintf(buf + o, len - (size_t)o,
			      "; %u would do by the model (%.1f rps each): held at the fewest measured within the SLO until a squeeze step verifies it",
			      ev->rec_held, p->forecast_rps / ev->rec_held);
	if ((ev->verified && !ev->rec_held) || (size_t)o >= len)
		return;
	if (sq->running)
		snprintf(buf + o, len - (size_t)o,
			 "; verifying: a squeeze step runs the shadow at %u instances' %.1f rps per instance",
			 sq->run_n, sq->run_lam);
	else if (sq->note[0] != '\0')
		snprintf(buf + o, len - (size_t)o, "; %s", sq->note);
}

/* A count max_step held back says so: "10" then reads as the step's limit,
 * not as what meets the SLO. */
static void step_limited(struct reason *r, const struct eval *ev)
{
	if (ev->rec_unstepped != 0)
		say(r, " [step-limited: %u by max_step %u from the current %u; %u %s]",
		    ev->rec, ev->p->max_step, ev->p->current_instances, ev->rec_unstepped,
		    ev->rec_unreachable ? "is max_instances, short of the SLO too" :
		    ev->rec_unstepped > ev->rec ? "meet the SLO" : "would meet the SLO");
}

/* What the evidence says, before hysteresis. */
static enum st_verdict_kind decide(const struct an_judge *j, struct eval *ev,
				   struct reason *r)
{
	int dk = deciding_kpi(ev, true);
	const struct an_plan *p = ev->p;

	(void)j;
	if (!ev->proposal_ok) {
		say(r, "adjust to %u instances: ", ev->rec);
		if (dk >= 0) {
			/* the shadow is worse than predicted: that is why */
			describe_kpi(r, ev, dk);
			say(r, "; ");
		}
		describe_slo(r, ev, p->proposed_instances, ev->p99_prop, ev->p99_prop_hi,
			     ev->err_prop);
		say(r, ", short of the SLO; ");
		describe_slo(r, ev, ev->rec, ev->p99_rec, ev->p99_rec_hi, ev->err_rec);
		if (ev->rec_unreachable)
			say(r, ", the SLO is out of reach within max_instances");
		step_limited(r, ev);
		return ST_VERDICT_ADJUST;
	}
	if (j->cfg->adjust_down && ev->rec < p->proposed_instances) {
		say(r, "adjust to %u instances: fewer than the %u proposed meet the SLO; ",
		    ev->rec, p->proposed_instances);
		describe_slo(r, ev, ev->rec, ev->p99_rec, ev->p99_rec_hi, ev->err_rec);
		step_limited(r, ev);
		return ST_VERDICT_ADJUST;
	}
	say(r, "confirm %u instances: ", p->proposed_instances);
	if (dk >= 0) {
		describe_kpi(r, ev, dk);
		say(r, ", yet ");
	} else if (ev->k[K_P99].status != ST_KPI_NODATA) {
		char a[32], b[32];

		say(r, "shadow p99 %s vs %s predicted (ratio %.2f, tolerance %.0f%%); ",
		    fmt_ns(a, sizeof(a), ev->k[K_P99].observed),
		    fmt_ns(b, sizeof(b), ev->k[K_P99].predicted), ev->k[K_P99].ratio,
		    ev->tol[AN_NOISE_P99] * 100);
	}
	describe_slo(r, ev, p->proposed_instances, ev->p99_prop, ev->p99_prop_hi, ev->err_prop);
	if (ev->rec < p->proposed_instances)
		say(r, "; %u would also meet it", ev->rec);
	else if (ev->rec > p->proposed_instances)
		say(r, "; recommended %u: with %u the upper bound misses the SLO", ev->rec,
		    p->proposed_instances);
	step_limited(r, ev);
	return ST_VERDICT_CONFIRM;
}

static double score_of(const struct eval *ev)
{
	double num = 0, den = 0;

	for (int i = 0; i < K__COUNT; i++) {
		if (ev->k[i].status == ST_KPI_NODATA)
			continue;
		den += kpi_def[i].weight;
		num += ev->det[i].bad ? 0 : kpi_def[i].weight;
	}
	return den > 0 ? 100 * num / den : 0;
}

/* Probability-like confidence: the evidence behind the verdict, scaled by
 * how much of the span had data. docs/analyzer.md gives the formulas. */
static double confidence_of(const struct an_judge *j, const struct eval *ev,
			    enum st_verdict_kind kind)
{
	double data = fmin(1, (double)ev->shadow.n / j->cfg->eval_windows) *
		      fmin(1, (double)ev->shadow.dist.total / (4.0 * (double)j->cfg->min_samples));
	double s99 = ev->det[K_P99].sigma, c = 1;
	int dk;

	if (!isfinite(s99) || s99 <= 0)
		s99 = MODEL_SIGMA;
	if (kind == ST_VERDICT_INCONCLUSIVE)
		return 0;
	if (kind == ST_VERDICT_ADJUST) {
		dk = deciding_kpi(ev, true);
		if (dk >= 0)
			c = 1 - ev->det[dk].p;
		else if (!ev->proposal_ok && isfinite(ev->p99_prop))
			c = an_norm_cdf(log(ev->p99_prop / (double)ev->p->slo_p99_ns) / s99);
		else
			c = 0.9;
	} else {
		const struct st_verdict_kpi *k = &ev->k[K_P99];

		/* How sure the shadow matches the prediction; a confirm
		 * despite a high p99 (the SLO still met under the corrected
		 * model) rests on the SLO margin alone. */
		if (k->status == ST_KPI_PASS && k->ratio > 0)
			c *= an_norm_cdf((log1p(ev->tol[AN_NOISE_P99]) - log(k->ratio)) / s99);
		if (isfinite(ev->p99_prop) && ev->p99_prop > 0)
			c *= an_norm_cdf(log((double)ev->p->slo_p99_ns / ev->p99_prop) / s99);
		if (ev->det[K_ERR].bad)
			c *= ev->det[K_ERR].p;
	}
	c *= data;
	/* fmin(1, NaN) is 1: a NaN anywhere above is no confidence, not full */
	return isfinite(c) ? fmax(0, fmin(1, c)) : 0;
}

static void add_param(struct st_verdict *v, const char *name, double value)
{
	struct st_model_param *p;

	if (!isfinite(value) || v->model.n_params >= ST_MODEL_MAX_PARAMS)
		return;
	p = &v->model.params[v->model.n_params++];
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->value = value;
}

static void fill_model(const struct an_judge *j, const struct eval *ev,
		       struct st_verdict *v)
{
	const struct an_model *m = &ev->s->model;

	snprintf(v->model.kind, sizeof(v->model.kind), "%s", an_form_name(ev->form));
	v->model.version = m->version;
	if (ev->model_ok) {
		add_param(v, "mu_prod_rps", ev->fit.mu);
		add_param(v, "d0_ns", ev->fit.d0 * 1e9);
		if (general_form(ev->form))
			add_param(v, "service_cs2", ev->fit.cs2);
	}
	if (ev->corrected) {
		add_param(v, "mu_corrected_rps", ev->cfit[0].mu);
		add_param(v, "tail_corrected", ev->ctail[0]);
		if (ev->n_cfit > 1) {
			add_param(v, "mu_corrected_point_rps", ev->cfit[1].mu);
			add_param(v, "tail_corrected_point", ev->ctail[1]);
		}
	}
	add_param(v, "lambda_prod_rps", ev->has_prod ? ev->prod.lam : NAN);
	add_param(v, "lambda_shadow_rps", ev->shadow.lam);
	add_param(v, "lambda_proposed_rps", ev->p->forecast_rps / ev->p->proposed_instances);
	add_param(v, "lambda_observed_max_rps", ev->lam_obs);
	add_param(v, "lambda_recommended_rps", ev->p->forecast_rps / v->recommended_instances);
	add_param(v, "p99_proposed_ns", ev->p99_prop);
	add_param(v, "p99_proposed_upper_ns", ev->p99_prop_hi);
	add_param(v, "p99_recommended_ns", ev->p99_rec);
	add_param(v, "p99_recommended_upper_ns", ev->p99_rec_hi);
	/* the factor the bound carries for the prod model's misses at the
	 * loads prod has run at (an_model_discrepancy) */
	add_param(v, "p99_discrepancy",
		  ev->model_ok ? exp(an_model_discrepancy(m, ev->form, &ev->fit, 1)) : NAN);
	add_param(v, "error_proposed", ev->err_prop);
	add_param(v, "tolerance_latency", ev->tol[AN_NOISE_P99]);
	add_param(v, "tolerance_rate", ev->tol[AN_NOISE_ERR]);
	add_param(v, "fit_error_mm1", m->scored[AN_FORM_MM1] ? m->score[AN_FORM_MM1] : NAN);
	add_param(v, "fit_error_mmc", m->scored[AN_FORM_MMC] ? m->score[AN_FORM_MMC] : NAN);
	add_param(v, "fit_error_mg1", m->scored[AN_FORM_MG1] ? m->score[AN_FORM_MG1] : NAN);
	add_param(v, "fit_error_ggc", m->scored[AN_FORM_GGC] ? m->score[AN_FORM_GGC] : NAN);
	if (m->usl_ok) {
		add_param(v, "usl_sigma", m->usl_s);
		add_param(v, "usl_kappa", m->usl_k);
	}
	add_param(v, "windows_prod", (double)m->windows_prod);
	(void)j;
}

/* Applies hysteresis: a new kind takes over after `hysteresis`
 * consecutive evaluations agree; running out of data takes over at once. */
static enum st_verdict_kind settle(const struct an_judge *j, struct an_judge_state *js,
				   enum st_verdict_kind cand, struct reason *r)
{
	enum st_verdict_kind cur = js->has_published ? js->published : ST_VERDICT_INCONCLUSIVE;

	if (cand == ST_VERDICT_INCONCLUSIVE || cand == cur) {
		js->published = cand;
		js->has_published = true;
		js->pending_count = 0;
		return cand;
	}
	if (js->pending_count > 0 && js->pending == cand)
		js->pending_count++;
	else {
		js->pending = cand;
		js->pending_count = 1;
	}
	if (js->pending_count >= j->cfg->hysteresis) {
		js->published = cand;
		js->has_published = true;
		js->pending_count = 0;
		return cand;
	}
	say(r, " [held as %s: %u of %u consecutive evaluations say %s]",
	    st_verdict_kind_str(cur), js->pending_count, j->cfg->hysteresis,
	    st_verdict_kind_str(cand));
	return cur;
}

static void pack_kv_d(msgpack_packer *pk, const char *k, double v)
{
	st_wire_pack_cstr(pk, k);
	msgpack_pack_double(pk, v);
}

/* anomaly.<service>: {v, seq, t, service, shadow, kind, kpi, prod, shadow_value,
 * ratio, lambda_prod, lambda_shadow, reason} */
static int anomaly_msg(const struct eval *ev, int ki, uint64_t seq, uint64_t t,
		       const char *why, struct st_wbuf *out)
{
	msgpack_packer pk;

	st_wbuf_reset(out);
	msgpack_packer_init(&pk, out, st_wbuf_mp_write);
	msgpack_pack_map(&pk, 13);
	st_wire_pack_cstr(&pk, "v");
	msgpack_pack_uint64(&pk, ST_WIRE_VERSION);
	st_wire_pack_cstr(&pk, "seq");
	msgpack_pack_uint64(&pk, seq);
	st_wire_pack_cstr(&pk, "t");
	msgpack_pack_uint64(&pk, t);
	st_wire_pack_cstr(&pk, "service");
	st_wire_pack_cstr(&pk, ev->s->name);
	st_wire_pack_cstr(&pk, "shadow");
	st_wire_pack_cstr(&pk, ev->p->shadow);
	st_wire_pack_cstr(&pk, "kind");
	st_wire_pack_cstr(&pk, "divergence");
	st_wire_pack_cstr(&pk, "kpi");
	st_wire_pack_cstr(&pk, ev->k[ki].name);
	pack_kv_d(&pk, "prod", ki <= K_P99 ? ev->P[ki - K_P50] : ev->k[ki].predicted);
	pack_kv_d(&pk, "shadow_value", ev->k[ki].observed);
	pack_kv_d(&pk, "ratio", ev->k[ki].ratio);
	pack_kv_d(&pk, "lambda_prod", ev->prod.lam);
	pack_kv_d(&pk, "lambda_shadow", ev->shadow.lam);
	st_wire_pack_cstr(&pk, "reason");
	st_wire_pack_cstr(&pk, why);
	return out->oom ? -ENOMEM : 0;
}

/* Shadow and prod at the same per-instance load must look alike whatever
 * the model says; when they do not, the shadow is broken or the model is
 * stale. Returns the KPI index that diverges, or -1. */
static int divergence(const struct eval *ev)
{
	static const int watch[] = { K_P99, K_P50, K_ERR };

	if (!ev->has_prod || !(ev->prod.lam > 0) || !(ev->shadow.lam > 0) ||
	    fabs(ev->shadow.lam / ev->prod.lam - 1) > EQUAL_LOAD)
		return -1;
	for (size_t i = 0; i < sizeof(watch) / sizeof(watch[0]); i++) {
		enum st_kpi_status st = ev->k[watch[i]].status;

		if (st == ST_KPI_HIGH || st == ST_KPI_LOW)
			return watch[i];
	}
	return -1;
}

/* --- resilience ------------------------------------------------------------ */

/* The fault the resilience group ran under, as it carries to other counts:
 * k instances down, their flows moved (respread) or blackholed, and what
 * the fault cost beyond the model at the group's own load (a delay, random
 * loss: whatever the down instance alone does not explain). */
struct fault {
	uint32_t down;
	bool respread;
	double gap_p99;		/* ns */
	double gap_err;
};

/* p99 (ns) and error rate with n instances of which f->down are down
 * (hi: upper bounds, as meets takes them):
 * - respread: the n - k survivors carry the whole forecast, F / (n - k)
 *   each, and nothing is lost once the flows have moved;
 * - blackholed: the survivors keep their own share, F / n each, and the
 *   down ones' share k / n of the requests is lost (a client of a dead
 *   instance times out), on top of the survivors' own errors.
 * The fault's own cost (f->gap_*) is added as measured. */
static void fault_at(const struct an_judge *j, const struct eval *ev, const struct fault *f,
		     uint32_t n, bool hi, double *p99, double *err)
{
	uint32_t ns = n > f->down ? n - f->down : 0;

	if (ns == 0) {
		*p99 = INFINITY;
		*err = 1;
	} else if (f->respread || f->down == 0) {
		*p99 = p99_at(j, ev, ns, hi) + f->gap_p99;
		*err = err_at(j, ev, ns, hi) + f->gap_err;
	} else {
		double lost = (double)f->down / n, lam = eval_lam(ev, n);

		*p99 = p99_lam(j, ev, lam, ns, hi) + f->gap_p99;
		*err = lost + (1 - lost) * err_lam(j, ev, lam, ns, hi) + f->gap_err;
	}
	if (*err > 1)
		*err = 1;
}

static bool fault_meets(const struct an_judge *j, const struct eval *ev, const struct fault *f,
			uint32_t n)
{
	double p99, err;

	fault_at(j, ev, f, n, true, &p99, &err);
	return p99 <= (double)ev->p->slo_p99_ns && an_pred_err_ok(err, ev->p->slo_error_rate);
}

/* The resilience part: what the resilience group showed over its windows
 * under chaos, and -- when the corrected model stands (modelled) -- the
 * fewest instances that hold the SLO under the same fault: fault_meets
 * only gets easier as instances are added, so a doubling bracket and a
 * bisection find it, as recommend does. A count whose survivors' load the
 * group itself carried within the SLO (respread, or no instance down)
 * meets it by measurement, whatever the model says. */
static void resilience(const struct an_judge *j, struct eval *ev, bool modelled,
		       struct st_verdict *v)
{
	const struct an_plan *p = ev->p;
	const struct span *sp = &ev->res;
	const struct an_target *t = an_service_target(ev->s, p->resilience_shadow);
	struct st_resilience *r = &v->resilience;
	struct reason why = { r->reason, sizeof(r->reason), 0 };
	struct fault f = { 0 };
	uint32_t ns, lo, hi, n;
	double lam_s = 0, lost = 0;
	bool enough, measured = false;
	char a[32], b[32], c[32], d[32];

	v->has_resilience = true;
	memset(r, 0, sizeof(*r));
	snprintf(r->shadow, sizeof(r->shadow), "%s", p->resilience_shadow);
	if (t != NULL && t->has_chaos) {
		r->has_chaos = true;
		r->chaos = t->chaos;
	}
	r->instances = sp->c;
	r->down = sp->down < sp->c ? sp->down : sp->c;
	r->respread = sp->respread;
	r->windows = sp->n;
	r->samples = (uint64_t)sp->dist.total;
	r->p99 = sp->dist.total > 0 ? an_dist_quantile(&sp->dist, 0.99) : NAN;
	r->p99_healthy = ev->shadow.dist.total > 0 ? an_dist_quantile(&ev->shadow.dist, 0.99) : NAN;
	r->error_rate = sp->requests > 0 ? (sp->timeouts + sp->resets + sp->icmp) / sp->requests :
			NAN;
	r->p99_proposed = r->p99_recommended = NAN;
	f.down = r->down;
	f.respread = r->respread;
	ns = sp->c - r->down;
	if (ns > 0 && sp->secs > 0) {
		/* blackholed requests were timed as sent: the survivors
		 * answered R (1 - k/c), R / c each */
		lam_s = sp->requests / sp->secs / (f.respread || f.down == 0 ? ns : sp->c);
		r->rps_per_instance = lam_s;
	}
	if (!f.respread && f.down > 0)
		lost = (double)f.down / sp->c;
	enough = sp->n > 0 && (uint64_t)sp->dist.total >= j->cfg->min_samples;
	/* the error rate's 90% upper bound, as for a healthy load measured
	 * within the SLO (an_err_within): 0.9% in 8,000 requests does not
	 * show a 1% objective met */
	r->slo_met = enough && r->p99 <= (double)p->slo_p99_ns && sp->requests > 0 &&
		     an_err_within(sp->timeouts + sp->resets + sp->icmp, sp->requests, REC_CONF,
				   p->slo_error_rate);
	if (sp->n == 0) {
		say(&why, "no window of '%s' was taken under chaos in the last %u", r->shadow,
		    j->cfg->eval_windows);
		if (sp->chaos > 0)
			say(&why, " (%u without chaos left out)", sp->chaos);
		return;
	}
	if (f.down > 0)
		say(&why, "with %u of %u instances of '%s' down (%s), the %u left carried %.1f rps each: ",
		    f.down, sp->c, r->shadow, f.respread ? "flows respread" : "flows blackholed",
		    ns, lam_s);
	else
		say(&why, "under chaos, the %u instances of '%s' carried %.1f rps each: ", sp->c,
		    r->shadow, lam_s);
	say(&why, "p99 %s (healthy %s), error rate %s: ", fmt_ns(a, sizeof(a), r->p99),
	    fmt_ns(b, sizeof(b), r->p99_healthy), fmt_pct(c, sizeof(c), r->error_rate));
	if (!enough)
		say(&why, "too few samples to tell (%lld, %llu needed)", (long long)sp->dist.total,
		    (unsigned long long)j->cfg->min_samples);
	else
		say(&why, "the SLO %s", r->slo_met ? "holds" : "breaks");
	if (!modelled || ns == 0) {
		say(&why, "; no fitted model to size it with yet");
		return;
	}
	if (enough) {
		double mp99 = p99_lam(j, ev, lam_s, ns, false);
		double merr = err_lam(j, ev, lam_s, ns, false);

		/* the lost share is k/c only on average: what the group's
		 * requests show beyond it within their binomial noise (99%,
		 * one-sided) is not the fault's */
		double noise = 2.33 * sqrt(fmax(lost * (1 - lost), 1e-12) / sp->requests);

		if (isfinite(mp99) && r->p99 > mp99)
			f.gap_p99 = r->p99 - mp99;
		if (isfinite(merr) && r->error_rate - lost - noise > merr)
			f.gap_err = r->error_rate - lost - noise - merr;
	}
	lo = p->min_instances > f.down + 1 ? p->min_instances : f.down + 1;
	hi = p->proposed_instances > lo ? p->proposed_instances : lo;
	if (hi > p->max_instances)
		hi = p->max_instances;
	while (hi < p->max_instances && !fault_meets(j, ev, &f, hi)) {
		lo = hi + 1;
		hi = hi > p->max_instances / 2 ? p->max_instances : hi * 2;
	}
	r->reachable = lo <= hi && fault_meets(j, ev, &f, hi);
	if (r->reachable) {
		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;

			if (fault_meets(j, ev, &f, mid))
				hi = mid;
			else
				lo = mid + 1;
		}
	}
	n = hi;
	/* measured: the group's survivors carried lam_s within the SLO (the
	 * upper end of its p99's interval), so any count whose survivors carry
	 * no more does too -- without a lost share, which a count only shrinks */
	if (enough && r->slo_met && lost == 0 && lam_s > 0) {
		double plo, phi, need;

		an_dist_quantile_ci(&sp->dist, 0.99, 1 - 2 * (1 - REC_CONF), &plo, &phi);
		need = f.down + ceil(p->forecast_rps / lam_s * (1 - 1e-12));
		if (isfinite(phi) && phi <= (double)p->slo_p99_ns && need < n &&
		    need >= p->min_instances) {
			n = (uint32_t)need;
			r->reachable = true;
			measured = true;
		}
	}
	r->recommended_instances = n;
	{
		double e;

		fault_at(j, ev, &f, p->proposed_instances, true, &r->p99_proposed, &e);
		fault_at(j, ev, &f, n, true, &r->p99_recommended, &e);
		if (!isfinite(r->p99_proposed))
			r->p99_proposed = NAN;
		if (!isfinite(r->p99_recommended))
			r->p99_recommended = NAN;
	}
	if (measured)
		say(&why, "; %u instances hold the SLO with %u down: their %u left carry %.1f rps each, no more than this group's survivors did within it",
		    n, f.down, n - f.down, p->forecast_rps / (n - f.down));
	else if (r->reachable)
		say(&why, "; %u instances hold the SLO with %u down (p99 upper bound %s)", n, f.down,
		    fmt_ns(d, sizeof(d), r->p99_recommended));
	else
		say(&why, "; no count up to %u holds the SLO with %u down%s", p->max_instances,
		    f.down, lost > 0 ? ": the down share of requests is lost until its flows move" :
		    "");
	if (r->reachable && p->proposed_instances < n)
		say(&why, ", the %u proposed do not", p->proposed_instances);
	else if (r->reachable)
		say(&why, ", the %u proposed do", p->proposed_instances);
}

static void record_eval(struct an_service *s, const struct eval *ev, int64_t w,
			uint64_t t, const struct st_verdict *v)
{
	struct an_eval *e;

	if (s->evals == NULL)
		return;
	e = &s->evals[s->evals_head];
	s->evals_head = (s->evals_head + 1) % AN_EVALS_MAX;
	if (s->n_evals < AN_EVALS_MAX)
		s->n_evals++;
	memset(e, 0, sizeof(*e));
	e->w = w;
	e->t = t;
	e->kind = v->verdict;
	e->recommended = v->recommended_instances;
	e->score = v->score;
	e->confidence = v->confidence;
	e->lam_shadow = ev->shadow.lam;
	e->lam_prod = ev->prod.lam;
	e->res_p99 = v->has_resilience ? v->resilience.p99 : NAN;
	e->res_rec = v->has_resilience ? v->resilience.recommended_instances : 0;
	for (int i = 0; i < 3; i++) {
		e->obs[i] = ev->k[K_P50 + i].observed;
		e->pred[i] = ev->pred[i];
		e->prod[i] = ev->P[i];
	}
}

/* Why there is nothing to judge yet, or NULL. */
static bool inconclusive(const struct an_judge *j, const struct eval *ev,
			 struct reason *r)
{
	const struct an_config *c = j->cfg;

	if (ev->shadow.n < c->min_windows) {
		say(r, "inconclusive: %u window%s of shadow '%s' data in the last %u, %u needed",
		    ev->shadow.n, ev->shadow.n == 1 ? "" : "s", ev->p->shadow,
		    c->eval_windows, c->min_windows);
		if (ev->shadow.chaos > 0)
			say(r, " (%u left out: taken under chaos)", ev->shadow.chaos);
		return true;
	}
	if (!ev->has_prod && !ev->model_ok) {
		say(r, "inconclusive: %u prod window%s with %lld latency samples and no saved model to predict from (%u windows and %llu samples needed)",
		    ev->prod.n, ev->prod.n == 1 ? "" : "s", (long long)ev->prod.dist.total,
		    c->min_windows, (unsigned long long)c->min_samples);
		return true;
	}
	if ((uint64_t)ev->shadow.dist.total < c->min_samples) {
		say(r, "inconclusive: %lld shadow latency samples in %u windows, %llu needed",
		    (long long)ev->shadow.dist.total, ev->shadow.n,
		    (unsigned long long)c->min_samples);
		return true;
	}
	if (ev->shadow.lam_cv > c->max_load_cv) {
		say(r, "inconclusive: the shadow's per-instance load is unstable (coefficient of variation %.2f over %u windows, limit %.2f)",
		    ev->shadow.lam_cv, ev->shadow.n, c->max_load_cv);
		return true;
	}
	if (!isfinite(ev->pred[2]) || !(ev->pred[2] > 0)) {
		say(r, "inconclusive: the %s model (capacity %.1f rps per instance) is saturated at the shadow's load of %.1f rps per instance, which the shadow carries: the model is wrong there",
		    an_form_name(ev->form), ev->fit.mu, ev->shadow.lam);
		return true;
	}
	return false;
}

static void predict(struct an_judge *j, struct eval *ev)
{
	double z = an_norm_ppf(1 - j->cfg->alpha / 2), ts;

	transport_ratios(ev);
	ts = transport_sigma(j, ev);
	for (int i = 0; i < 3; i++) {
		ev->P[i] = ev->Plo[i] = ev->Phi[i] = NAN;
		ev->pred[i] = NAN;
		ev->pred_sigma[i] = MODEL_SIGMA;
		if (ev->has_prod) {
			ev->P[i] = an_dist_quantile(&ev->prod.dist, quant[i]);
			an_dist_quantile_ci(&ev->prod.dist, quant[i], 1 - j->cfg->alpha,
					    &ev->Plo[i], &ev->Phi[i]);
			ev->pred[i] = carry(ev, ev->P[i], ev->R[i]);
			if (ev->Plo[i] > 0 && isfinite(ev->Phi[i]))
				ev->pred_sigma[i] = (log(ev->Phi[i]) - log(ev->Plo[i])) / (2 * z);
			else
				ev->pred_sigma[i] = 1;
			ev->pred_sigma[i] = hypot(ev->pred_sigma[i], ts);
		} else if (ev->model_ok) {
			ev->pred[i] = (ev->fit.d0 + model_q(ev, ev->form, &ev->fit, ev->shadow.lam,
							   ev->shadow.c, quant[i])) * 1e9;
		}
	}
}

int an_judge_run(struct an_judge *j, struct an_service *s, uint64_t now_ns,
		 uint64_t anomaly_seq, struct st_verdict *v,
		 struct st_wbuf *anomaly)
{
	const struct an_config *c = j->cfg;
	struct eval *ev;
	struct reason r = { v->reason, sizeof(v->reason), 0 };
	enum st_verdict_kind cand, kind;
	int64_t w_end = s->closed_w;
	int rc, div = -1;

	ev = calloc(1, sizeof(*ev));
	if (ev == NULL)
		return -ENOMEM;
	memset(v, 0, sizeof(*v));
	s->sq.want_n = 0;
	ev->s = s;
	ev->p = &s->plan;
	ev->form = s->model.form;
	ev->fit = s->model.prod[ev->form == AN_FORM_USL ? AN_FORM_MM1 : ev->form];
	ev->model_ok = an_model_ready(&s->model);
	rc = collect(j, an_service_target(s, "prod"), w_end, c->eval_windows,
		     0, s->plan.current_instances, 0, 0, -1, HEALTHY, &ev->prod);
	if (rc == 0)
		rc = collect(j, an_service_target(s, ev->p->shadow), w_end, c->eval_windows,
			     ev->p->shadow_instances, 0, 1, s->sq.x0, s->sq.x1, HEALTHY, &ev->shadow);
	if (rc == 0 && ev->p->aa_shadow[0] != '\0')
		rc = collect(j, an_service_target(s, ev->p->aa_shadow), w_end,
			     c->eval_windows, ev->p->shadow_instances, 0, 3, 0, -1, HEALTHY, &ev->aa);
	if (rc == 0 && ev->p->resilience_shadow[0] != '\0')
		rc = collect(j, an_service_target(s, ev->p->resilience_shadow), w_end,
			     c->eval_windows, 0, 0, 4, 0, -1, FAULT, &ev->res);
	if (rc != 0)
		goto out;
	/* Prod runs the plan's current_instances: the dataplane's
	 * prod_instances is a static setting (1 unless told) and a count too
	 * small would make prod's per-instance load look many times higher,
	 * and the evidence cap bolder. */
	if (ev->prod.n > 0 && s->plan.current_instances) {
		ev->prod.c = s->plan.current_instances;
		ev->prod.lam = ev->prod.secs > 0 ? ev->prod.requests / ev->prod.secs / ev->prod.c : 0;
	}
	ev->has_prod = ev->prod.n >= c->min_windows &&
		       (uint64_t)ev->prod.dist.total >= c->min_samples;
	update_noise(j, ev, w_end);
	for (int i = 0; i < K__COUNT; i++)
		an_kpi_blank(&ev->k[i], kpi_def[i].name, kpi_def[i].unit, kpi_def[i].critical);
	predict(j, ev);

	snprintf(v->service, sizeof(v->service), "%s", s->name);
	snprintf(v->shadow, sizeof(v->shadow), "%s", ev->p->shadow);
	v->t = now_ns;
	v->current_instances = ev->p->current_instances;
	v->proposed_instances = ev->p->proposed_instances;
	v->recommended_instances = ev->p->proposed_instances;
	v->forecast_rps = ev->p->forecast_rps;
	v->observed_rps_per_instance = isfinite(ev->shadow.lam) ? ev->shadow.lam : 0;

	if (inconclusive(j, ev, &r)) {
		cand = ST_VERDICT_INCONCLUSIVE;
		tput_kpi(j, ev);
		ev->p99_prop = ev->p99_rec = ev->err_prop = ev->err_rec = NAN;
		ev->p99_prop_hi = ev->p99_rec_hi = ev->err_prop_hi = ev->err_rec_hi = NAN;
		ev->lam_obs = NAN;
	} else {
		latency_kpis(j, ev);
		rate_kpis(j, ev);
		tput_kpi(j, ev);
		rc = shape_kpi(j, ev);
		if (rc != 0)
			goto out;
		correct(j, ev);
		ev->shared = shared_queue(j, ev);
		recommend(j, ev);
		/* what-if and the forecast alerts ask the model the
		 * recommendation rests on */
		pred_of(j, ev, &s->pred);
		s->pred.t = now_ns;
		s->has_pred = true;
		s->pred_seq++;
		v->recommended_instances = ev->rec;
		cand = decide(j, ev, &r);
		v->has_verified = true;
		v->verified = ev->verified;
		describe_verified(ev, v->verified_reason, sizeof(v->verified_reason));
		if (!ev->verified)
			say(&r, "; %s", v->verified_reason);
		div = divergence(ev);
	}
	kind = settle(j, &s->js, cand, &r);
	v->verdict = kind;
	/* Nothing settled to act on (inconclusive, or a first count hysteresis
	 * still holds back): the count a scaler reading only the number
	 * (KEDA's metrics-api) acts on holds -- the last verdict's on this
	 * plan, else the plan's current count, within its bounds. (It was the
	 * proposal: a restart, a gateway's incomplete windows or a spell of
	 * unstable load took a scaler that had scaled up on an adjust back to
	 * the proposal.) */
	if (kind == ST_VERDICT_INCONCLUSIVE) {
		uint32_t held = s->has_last && s->last_plan == s->plan_changes ?
				s->last.recommended_instances : ev->p->current_instances;

		if (held < ev->p->min_instances)
			held = ev->p->min_instances;
		if (held > ev->p->max_instances)
			held = ev->p->max_instances;
		v->recommended_instances = held;
	}
	v->score = score_of(ev);
	v->confidence = confidence_of(j, ev, kind);
	/* A confirm held against a newer adjust still means "go with the
	 * proposal" until the adjust is settled. */
	if (kind != cand && kind == ST_VERDICT_CONFIRM && ev->rec > ev->p->proposed_instances) {
		v->recommended_instances = ev->p->proposed_instances;
		/* what is published is the proposal: say what backs it */
		ev->rec = v->recommended_instances;
		ev->p99_rec = ev->p99_prop;
		ev->p99_rec_hi = ev->p99_prop_hi;
		ev->rec_measured = false;
		ev->verified = load_verified(ev, ev->p->forecast_rps / ev->rec);
		ev->rec_squeezed = ev->rec_broken = false;
		want_squeeze(j, ev);
		v->verified = ev->verified;
		describe_verified(ev, v->verified_reason, sizeof(v->verified_reason));
	}
	for (int i = 0; i < K__COUNT; i++)
		v->kpis[v->n_kpis++] = ev->k[i];
	if (div >= 0) {
		struct st_verdict_kpi *k = &v->kpis[v->n_kpis++];
		char why[256], a[32], b[32];

		an_kpi_blank(k, "divergence", "ratio", false);
		k->predicted = 1;
		k->observed = ev->k[div].ratio;
		k->ratio = ev->k[div].ratio;
		k->ci_low = ev->k[div].predicted > 0 ? ev->k[div].ci_low / ev->k[div].predicted : NAN;
		k->ci_high = ev->k[div].predicted > 0 ? ev->k[div].ci_high / ev->k[div].predicted : NAN;
		k->n = ev->k[div].n;
		k->status = ev->k[div].status;
		if (div <= K_P99)
			snprintf(why, sizeof(why),
				 "shadow %s %s vs prod %s at equal per-instance load (%.1f vs %.1f rps): a broken shadow or a stale model",
				 ev->k[div].name, fmt_ns(a, sizeof(a), ev->k[div].observed),
				 fmt_ns(b, sizeof(b), ev->P[div - K_P50]), ev->shadow.lam,
				 ev->prod.lam);
		else
			snprintf(why, sizeof(why),
				 "shadow %s %s vs prod %s at equal per-instance load (%.1f vs %.1f rps): a broken shadow or a stale model",
				 ev->k[div].name, fmt_pct(a, sizeof(a), ev->k[div].observed),
				 fmt_pct(b, sizeof(b), ev->k[div].predicted), ev->shadow.lam,
				 ev->prod.lam);
		say(&r, "; anomaly: %s", why);
		rc = anomaly_msg(ev, div, anomaly_seq, now_ns, why, anomaly);
		if (rc != 0)
			goto out;
	}
	fill_model(j, ev, v);
	if (ev->p->resilience_shadow[0] != '\0')
		resilience(j, ev, cand != ST_VERDICT_INCONCLUSIVE && ev->n_cfit > 0, v);
	if (ev->p->cost_per_hour >= 0) {
		v->has_cost = true;
		v->cost.current = ev->p->cost_per_hour * ev->p->current_instances;
		v->cost.proposed = ev->p->cost_per_hour * ev->p->proposed_instances;
		v->cost.recommended = ev->p->cost_per_hour * v->recommended_instances;
	}
	record_eval(s, ev, w_end, now_ns, v);
	rc = div >= 0 ? 1 : 0;
out:
	free(ev);
	return rc;
}

int an_judge_measure(struct an_judge *j, const struct an_service *s, const char *target,
		     int64_t w0, int64_t w1, uint32_t c_override, struct an_measure *m)
{
	struct span *sp = calloc(1, sizeof(*sp));
	int rc;

	memset(m, 0, sizeof(*m));
	m->p99 = m->p99_lo = m->p99_hi = NAN;
	if (sp == NULL)
		return -ENOMEM;
	rc = w1 < w0 ? 0 : collect(j, an_service_target(s, target), w1,
				  (uint32_t)(w1 - w0 + 1), c_override, 0, 1, 0, -1, HEALTHY, sp);
	if (rc == 0) {
		m->windows = sp->n;
		m->lam = sp->lam;
		m->requests = sp->requests;
		m->samples = sp->dist.total;
		m->errors = sp->timeouts + sp->resets + sp->icmp;
		m->error_rate = sp->requests > 0 ? m->errors / sp->requests : 0;
		if (sp->dist.total > 0) {
			double sum = 0, sum2 = 0, lo, hi;
			uint32_t k = 0;

			m->p99 = an_dist_quantile(&sp->dist, 0.99);
			an_dist_quantile_ci(&sp->dist, 0.99, 1 - 2 * (1 - AN_STEP_FAIL_CONF),
					    &m->p99_lo, &hi);
			an_dist_quantile_ci(&sp->dist, 0.99, 1 - 2 * (1 - AN_STEP_PASS_CONF),
					    &lo, &m->p99_hi);
			/* Latencies through a queue are correlated: the order
			 * statistics' interval, which takes them as independent,
			 * is too narrow. Batch means over the windows (each
			 * seconds long, far beyond a queue's memory at these
			 * loads) carry the correlation: the wider of the two. */
			for (uint32_t i = 0; i < sp->n; i++)
				if (sp->w[i]->total > 0 && sp->w[i]->p99 > 0) {
					sum += sp->w[i]->p99;
					sum2 += sp->w[i]->p99 * sp->w[i]->p99;
					k++;
				}
			if (k >= 2) {
				double mean = sum / k, sd = sqrt(fmax(0, (sum2 - sum * mean) / (k - 1)));
				double se = sd / sqrt(k);

				m->p99_lo = fmin(m->p99_lo, mean - an_t_ppf(AN_STEP_FAIL_CONF, k - 1) * se);
				m->p99_hi = fmax(m->p99_hi, mean + an_t_ppf(AN_STEP_PASS_CONF, k - 1) * se);
			}
		}
	}
	free(sp);
	return rc;
}
