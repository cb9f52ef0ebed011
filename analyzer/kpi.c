#include <math.h>
#include <string.h>

#include "kpi.h"

void an_kpi_blank(struct st_verdict_kpi *k, const char *name, const char *unit,
		  bool critical)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "%s", name);
	snprintf(k->unit, sizeof(k->unit), "%s", unit);
	k->predicted = k->observed = k->ratio = NAN;
	k->ci_low = k->ci_high = NAN;
	k->status = ST_KPI_NODATA;
	k->critical = critical;
}

static void detail_init(struct an_kpi_detail *det)
{
	memset(det, 0, sizeof(*det));
	det->p = 1;
	det->hl = det->hl_lo = det->hl_hi = NAN;
	det->sigma = NAN;
}

void an_kpi_latency(const struct an_lat_in *in, struct st_verdict_kpi *out,
		    struct an_kpi_detail *det)
{
	double z = an_norm_ppf(1 - in->alpha / 2), o, lo, hi, so, sigma, r;
	bool usable = false, high, low;
	struct an_mw mw;

	detail_init(det);
	out->n = in->obs->total > 0 ? (uint64_t)in->obs->total : 0;
	out->predicted = in->pred;
	if (in->obs->total <= 0)
		return;
	o = an_dist_quantile(in->obs, in->q);
	out->observed = o;
	if ((uint64_t)in->obs->total < in->min_samples || !(in->pred > 0) ||
	    !isfinite(in->pred) || !(o > 0))
		return;
	an_dist_quantile_ci(in->obs, in->q, 1 - in->alpha, &lo, &hi);
	/* The order-statistic interval on the log scale; one open side is
	 * mirrored from the other, two open sides leave nothing to judge. */
	if (lo > 0 && isfinite(hi))
		so = (log(hi) - log(lo)) / (2 * z);
	else if (lo > 0)
		so = (log(o) - log(lo)) / z;
	else if (isfinite(hi))
		so = (log(hi) - log(o)) / z;
	else
		return;
	sigma = sqrt(so * so + in->pred_sigma * in->pred_sigma);
	r = o / in->pred;
	det->sigma = sigma;
	out->ratio = r;
	out->ci_low = o * exp(-z * sigma);
	out->ci_high = o * exp(z * sigma);
	if (in->m >= 2 && in->n >= 2 &&
	    an_mann_whitney(in->a, in->m, in->b, in->n, 1 - in->alpha,
			    in->scratch, &mw) == 0) {
		det->hl = mw.hl;
		det->hl_lo = mw.hl_lo;
		det->hl_hi = mw.hl_hi;
		/* With too few windows the test cannot reach alpha at all:
		 * then the interval decides alone. */
		usable = mw.p_min < in->alpha;
	}
	high = out->ci_low > in->pred * (1 + in->tol);
	low = out->ci_high < in->pred * (1 - in->tol);
	det->mw = usable;
	if (high && (!usable || mw.p_greater < in->alpha)) {
		out->status = ST_KPI_HIGH;
		det->p = usable ? mw.p_greater :
			 1 - an_norm_cdf((log(r) - log1p(in->tol)) / sigma);
	} else if (low && (!usable || mw.p_less < in->alpha)) {
		out->status = ST_KPI_LOW;
		det->p = usable ? mw.p_less :
			 an_norm_cdf((log(r) - log1p(-fmin(in->tol, 0.99))) / sigma);
	} else {
		out->status = ST_KPI_PASS;
		det->p = usable ? fmin(mw.p_greater, mw.p_less) : 1;
	}
	det->bad = out->status == ST_KPI_HIGH;
}

void an_kpi_rate(const struct an_rate_in *in, struct st_verdict_kpi *out,
		 struct an_kpi_detail *det)
{
	double lo, hi, o, p_high, p_low;
	bool high, low;

	detail_init(det);
	out->predicted = in->pred;
	out->n = in->n > 0 ? (uint64_t)in->n : 0;
	if (!(in->n > 0) || !(in->pred >= 0) || !isfinite(in->pred))
		return;
	o = (double)in->k / in->n;
	out->observed = o;
	an_poisson_ci(in->k, 1 - in->alpha, &lo, &hi);
	out->ci_low = lo / in->n;
	out->ci_high = hi / in->n;
	if (in->pred > 0)
		out->ratio = o / in->pred;
	else
		out->ratio = o > 0 ? INFINITY : 1;
	if (in->n_ref > 0)
		an_rate_test(in->k, in->n, in->k_ref, in->n_ref, in->f > 0 ? in->f : 1,
			     &p_high, &p_low);
	else
		an_rate_test1(in->k, in->n, in->pred, &p_high, &p_low);
	high = p_high < in->alpha && out->ci_low > in->pred * (1 + in->tol);
	low = p_low < in->alpha && out->ci_high < in->pred * (1 - in->tol);
	if (high) {
		out->status = ST_KPI_HIGH;
		det->p = p_high;
	} else if (low) {
		out->status = ST_KPI_LOW;
		det->p = p_low;
	} else {
		out->status = ST_KPI_PASS;
		det->p = fmin(p_high, p_low);
	}
	det->bad = (high && in->dir != AN_DIR_DOWN) || (low && in->dir != AN_DIR_UP);
}

void an_kpi_shape(const struct an_dist *obs, const struct an_dist *ref,
		  double from, double alpha, double tol,
		  struct st_verdict_kpi *out, struct an_kpi_detail *det)
{
	double n, m, d, eps;

	detail_init(det);
	out->n = obs->total > 0 ? (uint64_t)obs->total : 0;
	out->predicted = 0;
	if (obs->total < 100 || ref->total < 100)
		return;
	n = (double)obs->total;
	m = (double)ref->total;
	d = an_dist_ks_above(obs, ref, from);
	eps = an_dkw_eps2(n, m, alpha);
	out->observed = d;
	out->ratio = d / eps;
	out->ci_low = fmax(0, d - eps);
	out->ci_high = fmin(1, d + eps);
	det->p = exp(-2 * n * m / (n + m) * d * d);
	out->status = d - eps > tol ? ST_KPI_HIGH : ST_KPI_PASS;
	det->bad = out->status == ST_KPI_HIGH;
}
