#include <errno.h>
#include <math.h>
#include <string.h>

#include "model.h"

static const char *const form_names[AN_FORM__COUNT] = { "mm1", "mmc", "usl", "mg1", "ggc" };

/* A window needs this many latency samples to be fitted: its p99 rests
 * on n / 100 samples. */
#define FIT_MIN_SAMPLES 50.0

const char *an_form_name(enum an_form f)
{
	return (unsigned int)f < AN_FORM__COUNT ? form_names[f] : "unknown";
}

int an_form_parse(const char *s, enum an_form *out)
{
	for (int i = 0; i < AN_FORM__COUNT; i++)
		if (strcmp(s, form_names[i]) == 0) {
			*out = (enum an_form)i;
			return 0;
		}
	return -EINVAL;
}

void an_model_init(struct an_model *m)
{
	memset(m, 0, sizeof(*m));
	m->form = AN_FORM_MM1;
}

bool an_model_ready(const struct an_model *m)
{
	if (m->form == AN_FORM_USL)
		return m->usl_ok && m->prod[AN_FORM_MM1].w > 0;
	return m->prod[m->form].w > 0;
}

static double lq(double q)
{
	return -log1p(-q);
}

double an_erlang_c(uint32_t c, double a)
{
	double b = 1, rho;

	if (c == 0 || !(a >= 0))
		return 1;
	if (a >= (double)c)
		return 1;
	/* Erlang B by its stable recursion, then C from B. */
	for (uint32_t k = 1; k <= c; k++)
		b = a * b / ((double)k + a * b);
	rho = a / (double)c;
	return b / (1 - rho * (1 - b));
}

/* (e^(-a t) - e^(-b t)) / (b - a) for rates a, b >= 0, written so that
 * neither rates far apart (a >> b overflows e^((a - b) t)) nor rates
 * nearly equal (0 / 0) lose it: e^(-min t) (1 - e^(-|b - a| t)) / |b - a|,
 * t e^(-a t) in the limit. */
static double exp_diff(double a, double b, double t)
{
	double x = fabs(b - a), lo = fmin(a, b);

	if (x < 1e-9 * fmax(a, b))
		return t * exp(-lo * t);
	return exp(-lo * t) * -expm1(-x * t) / x;
}

/* M/M/c sojourn survival P(W + S > t): service Exp(mu), wait 0 with
 * probability 1 - C and Exp(theta) otherwise, theta = c mu - Lambda:
 * e^(-mu t) + C mu (e^(-theta t) - e^(-mu t)) / (mu - theta). */
static double mmc_surv(double mu, double theta, double C, double t)
{
	return exp(-mu * t) + C * mu * exp_diff(theta, mu, t);
}

struct mmc {
	double mu, theta, C;
	bool saturated;
};

static void mmc_setup(struct mmc *s, double mu, double lam, uint32_t c)
{
	double a = lam * (double)c / mu;

	s->mu = mu;
	s->saturated = !(mu > 0) || a >= (double)c;
	s->theta = (double)c * mu - lam * (double)c;
	s->C = s->saturated ? 1 : an_erlang_c(c, a);
}

static double mmc_quantile(const struct mmc *s, double q)
{
	double lo = 0, hi, target = 1 - q;

	if (s->saturated)
		return INFINITY;
	hi = lq(q) / fmin(s->mu, s->theta);
	while (mmc_surv(s->mu, s->theta, s->C, hi) > target && hi < 1e12)
		hi *= 2;
	/* 1e-7 relative: far below what a histogram bucket resolves. */
	for (int i = 0; i < 100 && hi - lo > 1e-7 * hi; i++) {
		double mid = 0.5 * (lo + hi);

		if (mmc_surv(s->mu, s->theta, s->C, mid) > target)
			lo = mid;
		else
			hi = mid;
	}
	return 0.5 * (lo + hi);
}

/* USL: requests in the queueing part per instance at rate lam, the
 * smallest root of g n = lam (1 + s (n - 1) + k n (n - 1)); +inf when lam
 * is beyond the curve's peak. */
static double usl_conc(const struct an_model *m, double lam)
{
	double g = m->usl_g, s = m->usl_s, k = m->usl_k;
	double A = lam * k, B = lam * (s - k) - g, C = lam * (1 - s), disc;

	if (lam <= 0)
		return 0;
	if (A < 1e-300) {
		if (B >= 0)
			return INFINITY;
		return -C / B;
	}
	disc = B * B - 4 * A * C;
	if (disc < 0)
		return INFINITY;
	/* Smaller root, in the cancellation-free form. */
	return B < 0 ? (2 * C) / (-B + sqrt(disc)) : INFINITY;
}

/* --- mg1 and ggc: a general service time ------------------------------------ */

/* Where the two forms part, c: MG1_OWN for mg1 (every instance its own
 * queue), else the number of servers sharing one queue (ggc). Everything
 * below serves both; only mg1_setup's wait differs. */
#define MG1_OWN 0u

/* The queue's servers under form f with c instances. */
static uint32_t form_servers(enum an_form f, uint32_t c)
{
	return f == AN_FORM_GGC ? (c > 0 ? c : 1) : MG1_OWN;
}

/* The service time family for a given mean and cs2, and the queue's wait
 * at one load: P(W > x) = min(pw, C e^(-g x)). */
struct mg1 {
	double s, rho, lam;	/* rho: utilisation of a server */
	bool h2;		/* hyperexponential, else shifted exponential */
	double a, b;		/* shifted: S = a + Exp(mean b) */
	double p[2], r[2];	/* h2: phase probabilities and rates */
	double pw;		/* P(W > 0) */
	double g, C;		/* P(W > x) = C e^(-g x) in the tail, */
	double xs;		/* from x* on (pw before) */
	bool saturated;
};

/* M_S(g) and M_S'(g); +inf at or beyond the pole. */
static void mg1_mgf(const struct mg1 *q, double g, double *M, double *dM)
{
	if (q->h2) {
		*M = *dM = 0;
		for (int i = 0; i < 2; i++) {
			double d = q->r[i] - g;

			if (!(d > 0)) {
				*M = *dM = INFINITY;
				return;
			}
			*M += q->p[i] * q->r[i] / d;
			*dM += q->p[i] * q->r[i] / (d * d);
		}
		return;
	}
	if (!(1 - g * q->b > 0)) {
		*M = *dM = INFINITY;
		return;
	}
	*M = exp(g * q->a) / (1 - g * q->b);
	*dM = *M * (q->a + q->b / (1 - g * q->b));
}

/* ggc's mean wait over M/M/c's at utilisation rho. Allen-Cunneen's
 * (ca2 + cs2) / 2 with ca2 = 1; below cs2 = 1 the part of it that stands
 * for deterministic service, 1/2, is Cosmetatos' M/D/c correction,
 * (1 + (1 - rho) (c - 1) (sqrt(4 + 5c) - 2) / (16 rho c)) / 2: with many
 * servers at light load a deterministic server waits longer than half
 * M/M/c's (M/D/8 at rho 0.5: p99 5% short without it). 1 at cs2 = 1, and
 * at c = 1 (1 + cs2) / 2 exactly, Pollaczek-Khinchine's. */
static double ggc_wait_factor(uint32_t c, double rho, double cs2)
{
	double det;

	if (cs2 >= 1 || !(rho > 0))
		return 0.5 * (1 + cs2);
	det = 0.5 * (1 + (1 - rho) * (double)(c - 1) * (sqrt(4 + 5 * (double)c) - 2) /
			     (16 * rho * (double)c));
	return cs2 + (1 - cs2) * det;
}

/* mg1 (c MG1_OWN): Cramer-Lundberg, P(W > 0) = rho. ggc (c servers,
 * Allen-Cunneen with Poisson arrivals, ca2 = 1): P(W > 0) is Erlang-C at
 * c lam / mu and the wait, given it is positive, exponential with the
 * rate that gives M/M/c's mean wait scaled by (ca2 + cs2) / 2,
 * g = 2 c (mu - lam) / (1 + cs2): exactly M/M/c at cs2 = 1, the
 * Pollaczek-Khinchine mean at c = 1, Kingman's heavy-traffic tail. */
static void mg1_setup(struct mg1 *q, double mu, double cs2, double lam, uint32_t c)
{
	double lo, hi, M, dM;

	memset(q, 0, sizeof(*q));
	q->s = mu > 0 ? 1 / mu : INFINITY;
	q->lam = lam > 0 ? lam : 0;
	q->rho = q->lam * q->s;
	cs2 = fmin(fmax(cs2, 0), AN_MG1_CS2_MAX);
	q->saturated = !(mu > 0) || !(q->rho < 1);
	if (cs2 <= 1) {
		q->b = q->s * sqrt(cs2);
		q->a = q->s - q->b;
	} else {
		double p1 = 0.5 * (1 + sqrt((cs2 - 1) / (cs2 + 1)));

		q->h2 = true;
		q->p[0] = p1;
		q->p[1] = 1 - p1;
		q->r[0] = 2 * p1 / q->s;
		q->r[1] = 2 * (1 - p1) / q->s;
	}
	if (q->saturated || q->rho <= 0)
		return;
	if (c != MG1_OWN) {
		q->pw = q->C = an_erlang_c(c, (double)c * q->rho);
		q->g = (double)c * (mu - q->lam) / ggc_wait_factor(c, q->rho, cs2);
		q->xs = 0;
		return;
	}
	q->pw = q->rho;
	/* lam (M(g) - 1) - g is convex, 0 at 0 with slope rho - 1 < 0 and
	 * +inf at the pole of M: one positive root. */
	if (q->h2)
		hi = fmin(q->r[0], q->r[1]);
	else if (q->b > 0)
		hi = 1 / q->b;
	else {
		hi = 1 / q->s;
		for (int i = 0; i < 200; i++) {
			mg1_mgf(q, hi, &M, &dM);
			if (q->lam * (M - 1) - hi > 0)
				break;
			hi *= 2;
		}
	}
	lo = 0;
	for (int i = 0; i < 200 && hi - lo > 1e-10 * hi; i++) {
		double mid = 0.5 * (lo + hi);

		mg1_mgf(q, mid, &M, &dM);
		if (q->lam * (M - 1) - mid > 0)
			hi = mid;
		else
			lo = mid;
	}
	q->g = lo;
	mg1_mgf(q, q->g, &M, &dM);
	q->C = q->lam * dM - 1 > 0 ? fmin(1, (1 - q->rho) / (q->lam * dM - 1)) : 1;
	q->xs = q->C > q->rho && q->g > 0 ? log(q->C / q->rho) / q->g : 0;
}

/* P(S <= u) and e^(-g u) E[e^(g S); S <= u] (the latter by exp_diff, so
 * that ggc's g, which can lie far beyond the pole of S's generating
 * function when many servers share the queue, loses nothing). */
static void mg1_part(const struct mg1 *q, double u, double *F, double *H)
{
	*F = *H = 0;
	if (u <= 0)
		return;
	if (q->h2) {
		for (int i = 0; i < 2; i++) {
			double r = q->r[i];

			*F += q->p[i] * -expm1(-r * u);
			*H += q->p[i] * r * exp_diff(q->g, r, u);
		}
		return;
	}
	if (u < q->a)
		return;
	if (q->b > 0) {
		*F = -expm1(-(u - q->a) / q->b);
		*H = exp_diff(q->g, 1 / q->b, u - q->a) / q->b;
	} else {
		*F = 1;
		*H = exp(-q->g * (u - q->a));
	}
}

/* P(S + W > t) with P(W > x) = min(pw, C e^(-g x)). mg1: the wait is
 * positive with probability rho exactly (C > rho for service less
 * variable than exponential, and would put the median of a nearly
 * deterministic server inside the wait), then the Cramer-Lundberg tail
 * from x* on, where the two meet; exponential service has C = rho: x* = 0,
 * exactly M/M/1. ggc: C = pw, x* = 0. */
static double mg1_surv(const struct mg1 *q, double t)
{
	double Ft, Fs, Hs, v;

	if (t <= 0)
		return 1;
	mg1_part(q, t, &Ft, &Hs);
	v = 1 - Ft;
	if (q->C > 0) {
		mg1_part(q, t - q->xs, &Fs, &Hs);
		v += q->pw * (Ft - Fs);
		if (Hs > 0)
			v += exp(log(q->C) - q->g * q->xs + log(Hs));
	}
	return fmin(1, fmax(0, v));
}

static double mg1_quantile(const struct mg1 *q, double p)
{
	double lo = 0, hi = q->s, target = log1p(-p), flo, fhi;
	int side = 0;

	if (q->saturated)
		return INFINITY;
	for (int i = 0; i < 200 && mg1_surv(q, hi) > 1 - p; i++) {
		lo = hi;
		hi *= 2;
	}
	/* Regula falsi (Illinois) on ln P(Q > t) - ln(1 - p), nearly linear
	 * in t in the tail: a handful of steps where bisection takes 25.
	 * 1e-7 relative: far below what a histogram bucket resolves. */
	flo = log(fmax(mg1_surv(q, lo), 1e-300)) - target;
	fhi = log(fmax(mg1_surv(q, hi), 1e-300)) - target;
	for (int i = 0; i < 100 && hi - lo > 1e-7 * hi; i++) {
		double mid = flo - fhi > 0 ? (lo * fhi - hi * flo) / (fhi - flo) : 0.5 * (lo + hi), f;

		if (!(mid > lo && mid < hi))
			mid = 0.5 * (lo + hi);
		f = log(fmax(mg1_surv(q, mid), 1e-300)) - target;
		if (f > 0) {
			lo = mid;
			flo = f;
			if (side == 1)
				fhi *= 0.5;
			side = 1;
		} else {
			hi = mid;
			fhi = f;
			if (side == -1)
				flo *= 0.5;
			side = -1;
		}
	}
	return 0.5 * (lo + hi);
}

/* Pollaczek-Khinchine for mg1; for ggc Allen-Cunneen, 1/mu + C / g, which
 * is the same at c = 1 and M/M/c's at cs2 = 1. */
static double mg1_mean(double mu, double cs2, double lam, uint32_t c)
{
	double s = 1 / mu, rho = lam * s;

	if (!(mu > 0) || !(rho < 1))
		return INFINITY;
	if (!(rho > 0))
		return s;
	cs2 = fmin(fmax(cs2, 0), AN_MG1_CS2_MAX);
	if (c != MG1_OWN)
		return s + an_erlang_c(c, (double)c * rho) * ggc_wait_factor(c, rho, cs2) /
			   ((double)c * (mu - lam));
	return s + rho * s * (1 + cs2) / (2 * (1 - rho));
}

double an_bound_factor(double lam, double lam_obs, double rsd)
{
	double f = 1 + AN_BOUND_Z * (rsd > 0 && isfinite(rsd) ? rsd : 0);

	if (lam_obs > 0 && lam > lam_obs)
		f += AN_BOUND_EXTRAP * (lam / lam_obs - 1);
	else if (!(lam_obs > 0) && lam > 0)
		f += AN_BOUND_EXTRAP;	/* nothing observed: all of it is extrapolated */
	return f;
}

/* How far (log) a form may be trusted to miss a statistic it should
 * explain: the forms are validated within a few percent of simulation.
 * A fit counts a misfit of this size fully and a statistic known less
 * precisely than that in proportion (weighted least squares with the
 * form's own inexactness as a floor); the bound's discrepancy takes a
 * level's miss as evidence in the same proportion (a normal prior of this
 * spread on the miss, updated by the level's standard error). */
#define FIT_TOL 0.05

/* --- upper bounds ----------------------------------------------------------- */

void an_bound_prod(const struct an_model *m, const struct an_fit *fit, double weight,
		   struct an_bound *out)
{
	*out = (struct an_bound){ .weight = weight, .levels = true };
	for (uint32_t i = 0; i < m->n_usl; i++)
		if (m->usl[i].lam > out->lam_obs)
			out->lam_obs = m->usl[i].lam;
	if (fit != NULL && fit->mu > 0 && fit->v > 0 && weight > 0 && weight < 2)
		out->rsd = sqrt(fit->v * weight / (2 - weight)) / fit->mu;
}

double an_model_discrepancy(const struct an_model *m, enum an_form f, const struct an_fit *fit,
			    double tail)
{
	double d = 0;

	if (m == NULL || !(tail > 0))
		return 0;
	for (uint32_t i = 0; i < m->n_usl; i++) {
		const struct an_usl_pt *l = &m->usl[i];
		double pred, x, se, k;

		/* a level of one window has no spread to bound its p99 by;
		 * ggc needs the level's instance count */
		if (!(l->stat[2] > 0) || !(l->var[2] > 0) || (f == AN_FORM_GGC && l->c == 0))
			continue;
		pred = fit->d0 + tail * an_model_q(m, f, fit, l->lam, l->c > 0 ? l->c : 1, 0.99);
		if (!(pred > 0) || !isfinite(pred))
			continue;
		se = an_level_se(l, 2);
		k = FIT_TOL * FIT_TOL / (FIT_TOL * FIT_TOL + se * se);
		x = k * log(l->stat[2] / pred) + AN_BOUND_Z * sqrt(k) * se;
		if (x > d)
			d = x;
	}
	return d;
}

/* The fit and load an upper bound evaluates, and e^D. */
static double bound_setup(const struct an_model *m, enum an_form f, const struct an_fit *fit,
			  double tail, double lam, const struct an_bound *b, struct an_fit *hi,
			  double *lam_hi)
{
	double w = b->weight > 0 && b->weight < 2 ? b->weight : 0;

	*hi = *fit;
	if ((f == AN_FORM_MG1 || f == AN_FORM_GGC) && fit->vc > 0)
		hi->cs2 = fmin(AN_MG1_CS2_MAX, fit->cs2 + AN_BOUND_Z * sqrt(fit->vc * w / (2 - w)));
	*lam_hi = lam * an_bound_factor(lam, b->lam_obs, b->rsd);
	return b->levels ? exp(an_model_discrepancy(m, f, fit, tail)) : 1;
}

double an_model_q_hi(const struct an_model *m, enum an_form f, const struct an_fit *fit,
		     double tail, double lam, uint32_t c, double q, const struct an_bound *b)
{
	struct an_fit hi;
	double lam_hi, e = bound_setup(m, f, fit, tail, lam, b, &hi, &lam_hi);

	return (hi.d0 + tail * an_model_q(m, f, &hi, lam_hi, c, q)) * e;
}

double an_model_exceed_hi(const struct an_model *m, enum an_form f, const struct an_fit *fit,
			  double tail, double lam, uint32_t c, double t,
			  const struct an_bound *b)
{
	struct an_fit hi;
	double lam_hi, e = bound_setup(m, f, fit, tail, lam, b, &hi, &lam_hi);

	t /= e;
	return an_model_exceed(m, f, &hi, lam_hi, c, hi.d0 + (t - hi.d0) / tail);
}

double an_model_mean(const struct an_model *m, enum an_form f,
		     const struct an_fit *fit, double lam, uint32_t c)
{
	struct mmc s;

	switch (f) {
	case AN_FORM_MM1:
		return fit->mu > lam ? 1 / (fit->mu - lam) : INFINITY;
	case AN_FORM_MMC:
		mmc_setup(&s, fit->mu, lam, c);
		return s.saturated ? INFINITY : 1 / s.mu + s.C / s.theta;
	case AN_FORM_USL:
		if (m == NULL || !m->usl_ok)
			return INFINITY;
		if (lam <= 0)
			return (1 - m->usl_s) > 0 ? 1 / m->usl_g : INFINITY;
		return usl_conc(m, lam) / lam;
	case AN_FORM_MG1:
	case AN_FORM_GGC:
		return mg1_mean(fit->mu, fit->cs2, lam, form_servers(f, c));
	default:
		return INFINITY;
	}
}

double an_model_q(const struct an_model *m, enum an_form f,
		  const struct an_fit *fit, double lam, uint32_t c, double q)
{
	struct mmc s;

	switch (f) {
	case AN_FORM_MM1:
		return fit->mu > lam ? lq(q) / (fit->mu - lam) : INFINITY;
	case AN_FORM_MMC:
		mmc_setup(&s, fit->mu, lam, c);
		return mmc_quantile(&s, q);
	case AN_FORM_USL:
		/* The exponential shape M/M/1 has for the same mean. */
		return an_model_mean(m, f, fit, lam, c) * lq(q);
	case AN_FORM_MG1:
	case AN_FORM_GGC: {
		struct mg1 g;

		mg1_setup(&g, fit->mu, fit->cs2, lam, form_servers(f, c));
		return mg1_quantile(&g, q);
	}
	default:
		return INFINITY;
	}
}

double an_model_exceed(const struct an_model *m, enum an_form f,
		       const struct an_fit *fit, double lam, uint32_t c,
		       double t)
{
	struct mmc s;
	double mean;

	t -= fit->d0;
	if (t <= 0)
		return 1;
	switch (f) {
	case AN_FORM_MM1:
		return fit->mu > lam ? exp(-(fit->mu - lam) * t) : 1;
	case AN_FORM_MMC:
		mmc_setup(&s, fit->mu, lam, c);
		return s.saturated ? 1 : fmin(1, mmc_surv(s.mu, s.theta, s.C, t));
	case AN_FORM_USL:
		mean = an_model_mean(m, f, fit, lam, c);
		return isfinite(mean) && mean > 0 ? exp(-t / mean) : 1;
	case AN_FORM_MG1:
	case AN_FORM_GGC: {
		struct mg1 g;

		mg1_setup(&g, fit->mu, fit->cs2, lam, form_servers(f, c));
		return g.saturated ? 1 : mg1_surv(&g, t);
	}
	default:
		return 1;
	}
}

/* --- fitting --------------------------------------------------------------- */

/* Load levels (struct an_usl_pt) closer than this in load are one. */
#define USL_LEVEL_TOL 0.1

/* Squared log error of a prediction, capped. */
static double log_err(double pred, double obs)
{
	double e;

	if (!(pred > 0) || !isfinite(pred) || !(obs > 0))
		return 4;	/* a saturated or empty prediction: a big miss */
	e = log(pred / obs);
	return fmin(e * e, 4);
}


static int fit_mm1(double lam, double p50, double p99, struct an_fit *out)
{
	double theta = (lq(0.99) - lq(0.5)) / (p99 - p50);
	double d0 = p50 - lq(0.5) / theta;

	if (d0 < 0) {
		/* The spread says more than the median allows: keep the tail
		 * exact and put nothing fixed in front of it. */
		d0 = 0;
		theta = lq(0.99) / p99;
	}
	out->mu = lam + theta;
	out->d0 = d0;
	return 0;
}

static double mmc_spread(double mu, double lam, uint32_t c)
{
	struct mmc s;

	mmc_setup(&s, mu, lam, c);
	return mmc_quantile(&s, 0.99) - mmc_quantile(&s, 0.5);
}

static double mmc_q_at(double mu, double lam, uint32_t c, double q)
{
	struct mmc s;

	mmc_setup(&s, mu, lam, c);
	return mmc_quantile(&s, q);
}

/* Bisection on log(mu) over (lam, inf) for f(mu) = target, f decreasing. */
static double solve_mu(double lam, uint32_t c, double target, int which)
{
	double lo = lam > 0 ? lam * (1 + 1e-9) : 1e-9, hi = fmax(2 * lo, 1.0);
	double v;

	for (int i = 0; i < 200; i++) {
		v = which ? mmc_q_at(hi, lam, c, 0.99) : mmc_spread(hi, lam, c);
		if (v <= target)
			break;
		lo = hi;
		hi *= 2;
	}
	for (int i = 0; i < 80 && hi / lo > 1 + 1e-6; i++) {
		double mid = sqrt(lo * hi);

		v = which ? mmc_q_at(mid, lam, c, 0.99) : mmc_spread(mid, lam, c);
		if (v > target)
			lo = mid;
		else
			hi = mid;
	}
	return sqrt(lo * hi);
}

/* log(q99 at b / q99 at a) under form f with capacity mu. */
static double log_ratio(enum an_form f, double mu, double lam_a, uint32_t c_a,
			double lam_b, uint32_t c_b)
{
	struct an_fit fit = { .mu = mu };

	return log(an_model_q(NULL, f, &fit, lam_b, c_b, 0.99)) -
	       log(an_model_q(NULL, f, &fit, lam_a, c_a, 0.99));
}

int an_fit_two_loads(enum an_form f, double d0, double lam_a, uint32_t c_a, double p99_a,
		     double lam_b, uint32_t c_b, double p99_b, struct an_fit *out,
		     double *tail)
{
	double ra = p99_a - d0, rb = p99_b - d0, target, lo, hi, ga, gb;
	struct an_fit fit = { .d0 = d0 };

	if ((f != AN_FORM_MM1 && f != AN_FORM_MMC) || !(ra > 0) || !(rb > 0) ||
	    !isfinite(ra) || !isfinite(rb) || !(lam_a > 0) || !(lam_b > 0) ||
	    c_a == 0 || c_b == 0)
		return -EDOM;
	target = log(rb / ra);
	/* Just above saturation of the busier point the ratio runs to
	 * +-inf; with unbounded capacity both quantiles are the bare
	 * service time and it tends to 0: a root exists when the observed
	 * ratio lies between. */
	lo = fmax(lam_a, lam_b) * (1 + 1e-6);
	hi = lo * 1e4;
	ga = log_ratio(f, lo, lam_a, c_a, lam_b, c_b) - target;
	gb = log_ratio(f, hi, lam_a, c_a, lam_b, c_b) - target;
	if (!isfinite(ga) || !isfinite(gb) || (ga > 0) == (gb > 0) ||
	    fabs(target) < 0.05)
		return -EDOM;
	for (int i = 0; i < 100 && hi / lo > 1 + 1e-9; i++) {
		double mid = sqrt(lo * hi), g = log_ratio(f, mid, lam_a, c_a, lam_b, c_b) - target;

		if (!isfinite(g))
			return -EDOM;
		if ((g > 0) == (ga > 0))
			lo = mid;
		else
			hi = mid;
	}
	fit.mu = sqrt(lo * hi);
	*tail = ra / an_model_q(NULL, f, &fit, lam_a, c_a, 0.99);
	if (!isfinite(*tail) || !(*tail > 0))
		return -EDOM;
	*out = fit;
	return 0;
}

static int fit_mmc(double lam, uint32_t c, double p50, double p99,
		   struct an_fit *out)
{
	double mu = solve_mu(lam, c, p99 - p50, 0);
	double d0 = p50 - mmc_q_at(mu, lam, c, 0.5);

	if (d0 < 0) {
		d0 = 0;
		mu = solve_mu(lam, c, p99, 1);
	}
	out->mu = mu;
	out->d0 = d0;
	return 0;
}

/* Quantiles p50 and p99 (and p90) of Q under mg1 or ggc (servers c, as
 * mg1_setup) at utilisation rho. */
static void mg1_qs(double lam, double rho, double cs2, uint32_t c, double out[3])
{
	struct mg1 g;

	mg1_setup(&g, lam / rho, cs2, lam, c);
	out[0] = mg1_quantile(&g, 0.5);
	out[1] = mg1_quantile(&g, 0.9);
	out[2] = mg1_quantile(&g, 0.99);
}

/* Utilisation at which mg1 with cs2 shows f(rho) = target, f one of
 * p99 - p50, p99 - mean or p99 (which 0, 1, 2): each grows with rho at a
 * fixed lam, from about 0 at no load to +inf at saturation. Bisection
 * until both ends of the bracket are evaluated, then regula falsi
 * (Illinois): about 8 evaluations where bisection to 1e-6 takes 20. The
 * fits call this per window, per cs2 on their grid, per form: it was 70%
 * of judging a service. */
static double mg1_solve_rho(double lam, double cs2, uint32_t c, double target, int which)
{
	double lo = 0, hi = 1, flo = 0, fhi = 0, mid = 0.5, f = 1;
	bool have_lo = false, have_hi = false;
	int side = 0;

	for (int i = 0; i < 60 && hi - lo > 1e-6 && fabs(f) > 1e-12 * target; i++) {
		double q2, q0;
		struct mg1 g;

		mid = have_lo && have_hi ? (lo * fhi - hi * flo) / (fhi - flo) : 0.5 * (lo + hi);
		if (!(mid > lo && mid < hi))
			mid = 0.5 * (lo + hi);
		/* only the quantiles this solve needs: it runs per window */
		mg1_setup(&g, lam / mid, cs2, lam, c);
		q2 = mg1_quantile(&g, 0.99);
		q0 = which == 0 ? mg1_quantile(&g, 0.5) : 0;
		f = (which == 0 ? q2 - q0 :
		     which == 1 ? q2 - mg1_mean(lam / mid, cs2, lam, c) : q2) - target;
		if (!isfinite(f))
			f = INFINITY;
		if (f > 0) {
			hi = mid;
			fhi = isfinite(f) ? f : 1e300;
			have_hi = isfinite(f);
			if (side == -1)
				flo *= 0.5;
			side = -1;
		} else {
			lo = mid;
			flo = f;
			have_lo = true;
			if (side == 1)
				fhi *= 0.5;
			side = 1;
		}
	}
	return fabs(f) <= 1e-12 * target ? mid : 0.5 * (lo + hi);
}

/* (mu, d0) of mg1 with a given cs2 from two statistics matched exactly,
 * the misfit of the others (squared log errors) in *err. With the mean
 * known, the mean and p99: the mean is Pollaczek-Khinchine's, exact for
 * any service time, and measured most precisely, while the median of a
 * nearly deterministic server sits on the edge of the no-wait atom (mass
 * 1 - rho), where any approximation of the wait's body is least sure. */
/* Other load levels a fit must also explain (fit_levels). */
struct more_levels {
	const struct an_usl_pt *lv;
	uint32_t n;
	enum an_form form;
	const struct an_usl_pt *own;	/* the level fitted (its statistics' spread) */
};

/* The weight of statistic q of level l (NULL: 1) in a fit: 1 when its EW
 * value is known to within FIT_TOL, less the more it jumps from window to
 * window. A bimodal server's p90 sits on the jump between its two modes
 * and is a few ms one window and twenty the next; fitted as though it
 * were as sure as the mean, it pulled cs2 and the capacity far off (ggc
 * at 1.5 times the true capacity, the mean 13% short). */
static double stat_weight(const struct an_usl_pt *l, int q)
{
	double se;

	if (l == NULL)
		return 1;
	se = an_level_se(l, q);
	return FIT_TOL * FIT_TOL / (FIT_TOL * FIT_TOL + se * se);
}

static void mg1_fit_cs2(double lam, uint32_t c, double cs2, double p50, double p90,
			double p99, double mean, double d0_fixed, const struct more_levels *more,
			struct an_fit *out, double *err)
{
	int which = d0_fixed >= 0 ? 2 : 0;
	double rho = mg1_solve_rho(lam, cs2, c, which ? p99 - d0_fixed : p99 - p50, which);
	double q[3], e = 0, d0;

	mg1_qs(lam, rho, cs2, c, q);
	d0 = which ? d0_fixed : p50 - q[0];
	if (d0 < 0) {
		/* As fit_mm1: the tail stays exact, nothing fixed in front. */
		d0 = 0;
		rho = mg1_solve_rho(lam, cs2, c, p99, 2);
		mg1_qs(lam, rho, cs2, c, q);
	}
	out->mu = lam / rho;
	out->d0 = d0;
	out->cs2 = cs2;
	if (p90 > 0 && d0 + q[1] > 0) {
		double x = log((d0 + q[1]) / p90);

		e += stat_weight(more ? more->own : NULL, 1) * x * x;
	}
	if (which && d0 + q[0] > 0) {
		double x = log((d0 + q[0]) / p50);

		e += stat_weight(more ? more->own : NULL, 0) * x * x;
	}
	if (mean > 0) {
		double x = log((d0 + mg1_mean(out->mu, cs2, lam, c)) / mean);

		e += stat_weight(more ? more->own : NULL, 3) * x * x;
	}
	/* The other levels' p99 and mean, by their weight: at one load a
	 * queue of pooled servers lightly loaded and a fixed part with a
	 * variable service explain the statistics alike (ggc fitted to M/D/4
	 * at rho 0.5 took mu 9 times the true one); how they move with load
	 * tells them apart. */
	for (uint32_t i = 0; more != NULL && i < more->n; i++) {
		const struct an_usl_pt *l = &more->lv[i];
		uint32_t lc = form_servers(more->form, l->c);
		struct mg1 g;

		if (fabs(l->lam - lam) <= USL_LEVEL_TOL * lam || !(l->stat[2] > 0) ||
		    (more->form == AN_FORM_GGC && l->c == 0))
			continue;
		mg1_setup(&g, out->mu, cs2, l->lam, lc);
		e += l->w * stat_weight(l, 2) * log_err(d0 + mg1_quantile(&g, 0.99), l->stat[2]);
		if (l->stat[3] > 0)
			e += l->w * stat_weight(l, 3) *
			     log_err(d0 + mg1_mean(out->mu, cs2, l->lam, lc), l->stat[3]);
	}
	*err = e;
}

/* an_fit_service, the fit also judged by how it predicts the levels of
 * more (NULL: none). */
static int fit_levels(enum an_form form, double lam, uint32_t c, double p50, double p90,
		      double p99, double mean, double d0, const struct more_levels *more,
		      struct an_fit *out)
{
	/* Denser where the shapes differ most (deterministic to exponential). */
	static const double grid[] = { 0, 0.05, 0.12, 0.22, 0.35, 0.5, 0.7, 1,
				       1.5, 2.2, 3.2, 4.5, AN_MG1_CS2_MAX };
	enum { NG = sizeof(grid) / sizeof(grid[0]) };
	struct an_fit f[NG], best;
	double err[NG];
	int b = 0;

	if ((form != AN_FORM_MG1 && form != AN_FORM_GGC) || c == 0 ||
	    !(lam > 0) || !isfinite(lam) || !isfinite(p50) || !isfinite(p99) ||
	    !(p50 > 0) || !(p99 > p50) || !(d0 < p50))
		return -EDOM;
	c = form_servers(form, c);
	if (!isfinite(p90) || p90 <= p50 || p90 >= p99)
		p90 = 0;
	if (!isfinite(mean) || mean < 0)
		mean = 0;
	for (int i = 0; i < NG; i++) {
		f[i] = (struct an_fit){ 0 };
		mg1_fit_cs2(lam, c, grid[i], p50, p90, p99, mean, d0, more, &f[i], &err[i]);
		if (err[i] < err[b])
			b = i;
	}
	best = f[b];
	/* One parabolic step between the grid neighbours of the best. */
	if (b > 0 && b < NG - 1) {
		double x0 = grid[b - 1], x1 = grid[b], x2 = grid[b + 1];
		double y0 = err[b - 1], y1 = err[b], y2 = err[b + 1];
		double den = (x1 - x0) * (y1 - y2) - (x1 - x2) * (y1 - y0);

		if (fabs(den) > 1e-300) {
			double x = x1 - 0.5 * ((x1 - x0) * (x1 - x0) * (y1 - y2) -
					       (x1 - x2) * (x1 - x2) * (y1 - y0)) / den;
			struct an_fit g = { 0 };
			double e;

			if (x > x0 && x < x2) {
				mg1_fit_cs2(lam, c, x, p50, p90, p99, mean, d0, more, &g, &e);
				if (e < err[b])
					best = g;
			}
		}
	}
	if (!(best.mu > lam) || !isfinite(best.mu))
		return -EDOM;
	best.w = 1;
	best.v = 0;
	best.vc = 0;
	*out = best;
	return 0;
}

int an_fit_service(enum an_form form, double lam, uint32_t c, double p50, double p90,
		   double p99, double mean, double d0, struct an_fit *out)
{
	return fit_levels(form, lam, c, p50, p90, p99, mean, d0, NULL, out);
}

int an_fit_point(enum an_form f, double lam, uint32_t c, double p50,
		 double p99, struct an_fit *out)
{
	if (!isfinite(lam) || lam < 0 || !isfinite(p50) || !isfinite(p99) ||
	    p50 <= 0 || p99 <= p50 || c == 0)
		return -EDOM;
	*out = (struct an_fit){ 0 };
	out->w = 1;
	out->v = 0;
	switch (f) {
	case AN_FORM_MM1:
	case AN_FORM_USL:	/* usl keeps d0 from the mm1 fit */
		return fit_mm1(lam, p50, p99, out);
	case AN_FORM_MMC:
		return fit_mmc(lam, c, p50, p99, out);
	case AN_FORM_MG1:
	case AN_FORM_GGC:
		return an_fit_service(f, lam, c, p50, 0, p99, 0, -1, out);
	default:
		return -EDOM;
	}
}

static void ew_fold(struct an_fit *acc, const struct an_fit *x, double w)
{
	double dm;

	if (acc->w <= 0) {
		*acc = *x;
		acc->w = w;
		acc->v = 0;
		acc->vc = 0;
		return;
	}
	dm = x->mu - acc->mu;
	acc->v = (1 - w) * (acc->v + w * dm * dm);
	acc->mu += w * dm;
	dm = x->cs2 - acc->cs2;
	acc->vc = (1 - w) * (acc->vc + w * dm * dm);
	acc->cs2 += w * dm;
	acc->d0 += w * (x->d0 - acc->d0);
	acc->w = fmin(1, acc->w + w);
}

/* Solves the 3x3 (or smaller, by dropping unknowns) weighted least
 * squares of n/lam = a + b (n - 1) + k n (n - 1). */
static bool usl_solve(struct an_model *m, bool use_b, bool use_k)
{
	double A[3][4] = { { 0 } };
	int dim = 1 + (use_b ? 1 : 0) + (use_k ? 1 : 0);
	double sol[3] = { 0 };

	for (uint32_t i = 0; i < m->n_usl; i++) {
		const struct an_usl_pt *p = &m->usl[i];
		double x[3], y = p->conc / p->lam;
		int d = 0;

		x[d++] = 1;
		if (use_b)
			x[d++] = p->conc - 1;
		if (use_k)
			x[d++] = p->conc * (p->conc - 1);
		for (int r = 0; r < dim; r++) {
			for (int cc = 0; cc < dim; cc++)
				A[r][cc] += p->w * x[r] * x[cc];
			A[r][3] += p->w * x[r] * y;
		}
	}
	/* Gaussian elimination with partial pivoting. */
	for (int col = 0; col < dim; col++) {
		int piv = col;

		for (int r = col + 1; r < dim; r++)
			if (fabs(A[r][col]) > fabs(A[piv][col]))
				piv = r;
		if (fabs(A[piv][col]) < 1e-300)
			return false;
		for (int cc = 0; cc < 4; cc++) {
			double t = A[col][cc];

			A[col][cc] = A[piv][cc];
			A[piv][cc] = t;
		}
		for (int r = 0; r < dim; r++) {
			double f;

			if (r == col)
				continue;
			f = A[r][col] / A[col][col];
			for (int cc = col; cc < 4; cc++)
				A[r][cc] -= f * A[col][cc];
		}
	}
	for (int r = 0; r < dim; r++)
		sol[r] = A[r][3] / A[r][r];
	{
		double a = sol[0], b = use_b ? sol[1] : 0;
		double k = use_k ? sol[use_b ? 2 : 1] : 0;

		if (!(a > 0) || b < 0 || k < 0 || !isfinite(a + b + k))
			return false;
		m->usl_g = 1 / a;
		m->usl_s = b / a;
		m->usl_k = k / a;
	}
	return m->usl_s < 1;
}

/* Fits the USL once at least four load levels, spread by 1.5x or more,
 * have been seen; drops coefficients that come out negative. */
static void usl_refit(struct an_model *m)
{
	double lo = INFINITY, hi = 0;

	m->usl_ok = false;
	if (m->n_usl < 4)
		return;
	for (uint32_t i = 0; i < m->n_usl; i++) {
		lo = fmin(lo, m->usl[i].lam);
		hi = fmax(hi, m->usl[i].lam);
	}
	if (!(hi >= 1.5 * lo))
		return;
	m->usl_ok = usl_solve(m, true, true) || usl_solve(m, true, false) ||
		    usl_solve(m, false, true) || usl_solve(m, false, false);
}

/* Points closer than 10% in load are one level; a new level replaces the
 * lightest one when all slots are taken. */

static void usl_add(struct an_model *m, const struct an_obs *o, double conc, double w)
{
	const double st[4] = { o->p50, o->p90, o->p99, o->mean };
	double lam = o->lam;
	struct an_usl_pt *p, *light = NULL;

	if (!(lam > 0) || !(conc > 0) || !isfinite(conc))
		return;
	for (uint32_t i = 0; i < m->n_usl; i++) {
		p = &m->usl[i];
		if (fabs(p->lam - lam) <= USL_LEVEL_TOL * p->lam) {
			p->lam += w * (lam - p->lam);
			p->conc += w * (conc - p->conc);
			p->vw = (1 - w) * p->vw + w;
			p->s2 = (1 - w) * (1 - w) * p->s2 + w * w;
			for (int q = 0; q < 4; q++) {
				if (p->stat[q] > 0 && st[q] > 0) {
					double d = log(st[q] / p->stat[q]);

					p->var[q] = (1 - w) * (p->var[q] + w * d * d);
					p->stat[q] += w * (st[q] - p->stat[q]);
				} else {
					p->stat[q] = fmax(st[q], 0);
					p->var[q] = 0;
				}
			}
			p->w = fmin(1, p->w + w);
			p->c = o->c;
			return;
		}
		if (light == NULL || p->w < light->w)
			light = p;
	}
	if (m->n_usl < AN_USL_POINTS)
		p = &m->usl[m->n_usl++];
	else
		p = light;
	p->lam = lam;
	p->conc = conc;
	p->w = w;
	p->c = o->c;
	p->vw = 0;
	p->s2 = 1;
	for (int q = 0; q < 4; q++) {
		p->stat[q] = fmax(st[q], 0);
		p->var[q] = 0;
	}
}

double an_level_se(const struct an_usl_pt *l, int q)
{
	if (q < 0 || q > 3 || !(l->var[q] > 0) || !(l->vw > 0) || !(l->s2 > 0))
		return 0;
	return sqrt(l->var[q] / l->vw * l->s2);
}

/* One window's mg1 or ggc (form f) estimate. Once the level statistics
 * have given the service's shape (cs2, d0), only the capacity that puts
 * the window's p99 there: the spread of these (v) is then the sampling
 * noise of the p99 the SLO is about, not the three parameters trading off
 * against each other from window to window. Returns 0 or -EDOM. */
static int mg1_window(enum an_form f, const struct an_fit *cur, const struct an_obs *o,
		      struct an_fit *out)
{
	double rho;

	if (cur->w <= 0)
		return an_fit_service(f, o->lam, o->c, o->p50, o->p90, o->p99, o->mean, -1, out);
	if (!(o->lam > 0) || !(o->p99 > cur->d0) || !isfinite(o->p99))
		return -EDOM;
	rho = mg1_solve_rho(o->lam, cur->cs2, form_servers(f, o->c), o->p99 - cur->d0, 2);
	*out = *cur;
	out->mu = o->lam / rho;
	out->w = 1;
	out->v = out->vc = 0;
	return 0;
}

/* The load level prod has run at most (NULL: none yet). */
static const struct an_usl_pt *fit_level(const struct an_model *m)
{
	const struct an_usl_pt *b = NULL;

	for (uint32_t i = 0; i < m->n_usl; i++)
		if (b == NULL || m->usl[i].w > b->w)
			b = &m->usl[i];
	return b;
}

/* mg1 and ggc refitted to the EW statistics of the level prod has run at
 * most (the per-window fits folded before keep their spread, v and vc).
 * ggc needs the level's instance count: a level from a state saved before
 * it was kept (c 0) leaves ggc to its per-window fits until a window
 * at that level comes. */
static void mg1_refit(struct an_model *m)
{
	static const enum an_form forms[] = { AN_FORM_MG1, AN_FORM_GGC };
	const struct an_usl_pt *b = fit_level(m);
	struct an_fit fit;

	if (b == NULL)
		return;
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct an_fit *cur = &m->prod[forms[i]];

		const struct more_levels more = { m->usl, m->n_usl, forms[i], b };

		if (cur->w <= 0 ||
		    fit_levels(forms[i], b->lam, forms[i] == AN_FORM_GGC ? b->c : 1, b->stat[0],
			       b->stat[1], b->stat[2], b->stat[3], -1, &more, &fit) != 0)
			continue;
		cur->mu = fit.mu;
		cur->d0 = fit.d0;
		cur->cs2 = fit.cs2;
	}
}

/* mg1's level statistics rest on this many prod windows before its
 * predictions are scored: its first fits, from a window or two, can be
 * saturated, and one capped miss would weigh on the score for dozens of
 * windows. */
#define MG1_SCORE_AFTER 5

/* The form another one has to beat to be chosen: the reading of the same
 * service that promises no pooling gain, which is the safe one. mm1 for
 * mmc, usl and mg1; mg1 for ggc, which must show that the instances share
 * their queue (a tail that grows with load as pooled servers' does), not
 * merely that the service time is not exponential. Both are fitted to the
 * same level's statistics, and at that load either can match them about
 * as well: a consistent edge there is the shape of the fit, not the
 * queue's. So ggc is compared with mg1 only on windows at another load
 * than the fitted level's, further from it than a window's own load
 * wobbles (score_forms). */
#define GGC_OFF_LEVEL 0.2
static int base_form(int f)
{
	return f == AN_FORM_GGC ? AN_FORM_MG1 : AN_FORM_MM1;
}

/* One-step-ahead error of each form on this window, before it is used. */
static void score_forms(struct an_model *m, const struct an_obs *o, double w)
{
	double e[AN_FORM__COUNT];
	bool have[AN_FORM__COUNT] = { false }, off_level;
	const struct an_usl_pt *lvl;

	for (int f = 0; f < AN_FORM__COUNT; f++) {
		const struct an_fit *fit = &m->prod[f == AN_FORM_USL ? AN_FORM_MM1 : f];

		if (fit->w <= 0 || (f == AN_FORM_USL && !m->usl_ok) ||
		    ((f == AN_FORM_MG1 || f == AN_FORM_GGC) && m->windows_prod < MG1_SCORE_AFTER))
			continue;
		/* p90, p99 and the mean. The mean is measured far more
		 * precisely than p99 and shows a form with the wrong service
		 * time at one load (mm1 fitted to an M/D/1 queue's p50 and p99
		 * misses its mean by a fifth). The median is left out when the
		 * mean is there: near rho 0.5 a nearly deterministic server's
		 * median sits on the edge of the no-wait atom (mass 1 - rho)
		 * and jumps by a fraction of the service time as the load
		 * wobbles across it, which says nothing about the tail. */
		e[f] = log_err(fit->d0 + an_model_q(m, (enum an_form)f, fit, o->lam, o->c, 0.9), o->p90) +
		       log_err(fit->d0 + an_model_q(m, (enum an_form)f, fit, o->lam, o->c, 0.99), o->p99);
		if (o->mean > 0)
			e[f] = (e[f] + log_err(fit->d0 + an_model_mean(m, (enum an_form)f, fit,
								       o->lam, o->c), o->mean)) / 3;
		else
			e[f] = (e[f] + log_err(fit->d0 + an_model_q(m, (enum an_form)f, fit, o->lam,
								    o->c, 0.5), o->p50)) / 3;
		have[f] = true;
		if (m->scored[f] == 0)
			m->score[f] = e[f];
		else
			m->score[f] += w * (e[f] - m->score[f]);
		m->scored[f]++;
	}
	lvl = fit_level(m);
	off_level = lvl != NULL && fabs(o->lam - lvl->lam) > GGC_OFF_LEVEL * lvl->lam;
	for (int f = AN_FORM_MM1 + 1; f < AN_FORM__COUNT; f++) {
		int b = base_form(f);
		double d, old;

		if (!have[f] || !have[b] || (f == AN_FORM_GGC && !off_level))
			continue;
		d = e[f] - e[b];
		old = m->diff_m[f];
		m->diff_m[f] += w * (d - old);
		m->diff_v[f] = (1 - w) * (m->diff_v[f] + w * (d - old) * (d - old));
	}
}

/* z-score of "form f predicts better than its base form" (mm1, or mg1
 * for ggc): its mean error difference over the standard error of an EW
 * mean (variance v w / (2 - w)). */
static double better_z(const struct an_model *m, int f, double w)
{
	double se = sqrt(m->diff_v[f] * w / (2 - w));

	if (m->scored[f] < 5)
		return 0;
	if (se <= 0)
		return m->diff_m[f] < 0 ? -INFINITY : 0;
	return m->diff_m[f] / se;
}

/* The forms part only under load: at light load every one predicts nearly
 * the same quantiles (each refits its capacity), so a consistent edge of
 * one there is significant and still says nothing about the loads a
 * proposal runs at. Another form than mm1, which promises no pooling gain
 * and so is the safe reading, needs prod seen at this utilisation. */
#define FORM_MIN_RHO 0.4

/* ... and mmc, which promises pooling gains at counts prod never ran, must
 * predict prod materially better than mm1, not merely consistently: by a
 * mean squared log error of 0.002 (mm1 some 4.5% further off on p90, p99
 * and the mean). Per-instance M/M/1 queues seen at one moderate load read
 * a steady edge of 0.0005 for mmc (a z of -10 over 14 windows), and the
 * pooling it then granted took 8 instances at 150 rps for 24.8 ms where
 * they give 33 (test_an_engine). A shared queue seen across loads reads
 * 0.0056. */
#define FORM_MIN_GAIN 0.002

static bool gain_enough(const struct an_model *m, int f, double part)
{
	return f != AN_FORM_MMC || m->diff_m[f] < -FORM_MIN_GAIN * part;
}

static double rho_reached(const struct an_model *m, int f)
{
	double hi = 0;

	if (!(m->prod[f].mu > 0))
		return 0;
	for (uint32_t i = 0; i < m->n_usl; i++)
		if (m->usl[i].lam > hi)
			hi = m->usl[i].lam;
	return hi / m->prod[f].mu;
}

bool an_model_pooling_seen(const struct an_model *m, double weight)
{
	return m->form == AN_FORM_MMC || m->form == AN_FORM_GGC ||
	       !(m->diff_m[AN_FORM_MMC] > FORM_MIN_GAIN && better_z(m, AN_FORM_MMC, weight) > 2);
}

static void choose_form(struct an_model *m, enum an_model_pref pref, double w)
{
	enum an_form best = AN_FORM_MM1;
	double zbest = -2;

	switch (pref) {
	case AN_MODEL_MM1:
		m->form = AN_FORM_MM1;
		return;
	case AN_MODEL_MMC:
		m->form = AN_FORM_MMC;
		return;
	case AN_MODEL_USL:
		m->form = m->usl_ok ? AN_FORM_USL : AN_FORM_MM1;
		return;
	case AN_MODEL_MG1:
		m->form = m->prod[AN_FORM_MG1].w > 0 ? AN_FORM_MG1 : AN_FORM_MM1;
		return;
	case AN_MODEL_GGC:
		m->form = m->prod[AN_FORM_GGC].w > 0 ? AN_FORM_GGC : AN_FORM_MM1;
		return;
	default:
		break;
	}
	/* Another form takes over when it beats its base form by two
	 * standard errors, and keeps its place until it is no longer ahead
	 * by one. */
	if (m->form != AN_FORM_MM1 && (m->form != AN_FORM_USL || m->usl_ok) &&
	    better_z(m, m->form, w) < -1 && gain_enough(m, m->form, 0.5))
		return;
	for (int f = AN_FORM_MM1 + 1; f < AN_FORM__COUNT; f++) {
		double z;

		if (f == AN_FORM_GGC || (f == AN_FORM_USL && !m->usl_ok) ||
		    rho_reached(m, f) < FORM_MIN_RHO || !gain_enough(m, f, 1))
			continue;
		z = better_z(m, f, w);
		if (z < zbest) {
			zbest = z;
			best = (enum an_form)f;
		}
	}
	/* ggc, once it beats mg1 so, when it also predicts better than what
	 * the others chose. */
	if (rho_reached(m, AN_FORM_GGC) >= FORM_MIN_RHO && better_z(m, AN_FORM_GGC, w) < -2 &&
	    m->score[AN_FORM_GGC] < m->score[best])
		best = AN_FORM_GGC;
	m->form = best;
}

static void learn_rates(struct an_model *m, const struct an_obs *o, double weight)
{
	double w;

	if (!(o->requests > 0))
		return;
	/* Rates weigh by requests: a thin window says little about them. */
	w = m->rate_w <= 0 ? 1 : weight;
	m->rate_err += w * (o->errors / o->requests - m->rate_err);
	m->rate_to += w * (o->timeouts / o->requests - m->rate_to);
	m->rate_rst += w * (o->resets / o->requests - m->rate_rst);
	m->rate_w = fmin(1, m->rate_w + w);
}

void an_model_learn_prod(struct an_model *m, const struct an_obs *o,
			 double weight, enum an_model_pref pref)
{
	struct an_fit fit;
	double w;

	learn_rates(m, o, weight);
	m->version++;
	if (!(o->n >= FIT_MIN_SAMPLES) || !(o->p99 > o->p50) || o->c == 0)
		return;
	/* A window with few samples moves the estimate less. */
	w = weight * fmin(1, o->n / 1000);
	score_forms(m, o, weight);
	for (int f = 0; f < AN_FORM_USL; f++)
		if (an_fit_point((enum an_form)f, o->lam, o->c, o->p50, o->p99, &fit) == 0)
			ew_fold(&m->prod[f], &fit, w);
	for (int f = AN_FORM_MG1; f <= AN_FORM_GGC; f++)
		if (mg1_window((enum an_form)f, &m->prod[f], o, &fit) == 0)
			ew_fold(&m->prod[f], &fit, w);
	if (m->prod[AN_FORM_MM1].w > 0)
		usl_add(m, o, o->lam * fmax(o->mean - m->prod[AN_FORM_MM1].d0, 1e-12), w);
	usl_refit(m);
	mg1_refit(m);
	choose_form(m, pref, weight);
	m->windows_prod++;
}

void an_model_learn_shadow(struct an_model *m, const struct an_obs *o,
			   double weight)
{
	struct an_fit fit;
	double w;

	if (!(o->n >= FIT_MIN_SAMPLES) || !(o->p99 > o->p50) || o->c == 0)
		return;
	w = weight * fmin(1, o->n / 1000);
	for (int f = 0; f < AN_FORM_USL; f++)
		if (an_fit_point((enum an_form)f, o->lam, o->c, o->p50, o->p99, &fit) == 0)
			ew_fold(&m->shadow[f], &fit, w);
	for (int f = AN_FORM_MG1; f <= AN_FORM_GGC; f++)
		if (an_fit_service((enum an_form)f, o->lam, o->c, o->p50, o->p90, o->p99, o->mean,
				   -1, &fit) == 0)
			ew_fold(&m->shadow[f], &fit, w);
	m->windows_shadow++;
	m->version++;
}
