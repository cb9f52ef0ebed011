#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "normal.h"
#include "stats.h"

double an_norm_cdf(double x)
{
	return 0.5 * erfc(-x / M_SQRT2);
}

double an_norm_ppf(double p)
{
	double x = st_norm_ppf_fast(p), e, u;

	if (!isfinite(x))
		return x;
	/* One Halley step against erfc brings it to full precision. */
	e = an_norm_cdf(x) - p;
	u = e * sqrt(2 * M_PI) * exp(x * x / 2);
	return x - u / (1 + x * u / 2);
}

/* --- gamma and beta ------------------------------------------------------ */

#define ITMAX 1000
#define EPS 1e-15
#define FPMIN 1e-300

static double gamma_series(double a, double x)
{
	double ap = a, sum = 1.0 / a, del = sum;

	for (int n = 0; n < ITMAX; n++) {
		ap += 1;
		del *= x / ap;
		sum += del;
		if (fabs(del) < fabs(sum) * EPS)
			break;
	}
	return sum * exp(-x + a * log(x) - lgamma(a));
}

static double gamma_cf(double a, double x)
{
	double b = x + 1 - a, c = 1 / FPMIN, d = 1 / b, h = d, an, del;

	for (int i = 1; i < ITMAX; i++) {
		an = -i * (i - a);
		b += 2;
		d = an * d + b;
		if (fabs(d) < FPMIN)
			d = FPMIN;
		c = b + an / c;
		if (fabs(c) < FPMIN)
			c = FPMIN;
		d = 1 / d;
		del = d * c;
		h *= del;
		if (fabs(del - 1) < EPS)
			break;
	}
	return exp(-x + a * log(x) - lgamma(a)) * h;
}

double an_gamma_p(double a, double x)
{
	if (!(a > 0) || isnan(x))
		return NAN;
	if (x <= 0)
		return 0;
	if (isinf(x))
		return 1;
	return x < a + 1 ? gamma_series(a, x) : 1 - gamma_cf(a, x);
}

double an_gamma_q(double a, double x)
{
	if (!(a > 0) || isnan(x))
		return NAN;
	if (x <= 0)
		return 1;
	if (isinf(x))
		return 0;
	return x < a + 1 ? 1 - gamma_series(a, x) : gamma_cf(a, x);
}

static double beta_cf(double a, double b, double x)
{
	double qab = a + b, qap = a + 1, qam = a - 1, c = 1, d, h, aa, del;

	d = 1 - qab * x / qap;
	if (fabs(d) < FPMIN)
		d = FPMIN;
	d = 1 / d;
	h = d;
	for (int m = 1; m < ITMAX; m++) {
		int m2 = 2 * m;

		aa = m * (b - m) * x / ((qam + m2) * (a + m2));
		d = 1 + aa * d;
		if (fabs(d) < FPMIN)
			d = FPMIN;
		c = 1 + aa / c;
		if (fabs(c) < FPMIN)
			c = FPMIN;
		d = 1 / d;
		h *= d * c;
		aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
		d = 1 + aa * d;
		if (fabs(d) < FPMIN)
			d = FPMIN;
		c = 1 + aa / c;
		if (fabs(c) < FPMIN)
			c = FPMIN;
		d = 1 / d;
		del = d * c;
		h *= del;
		if (fabs(del - 1) < EPS)
			break;
	}
	return h;
}

double an_beta_inc(double a, double b, double x)
{
	double bt;

	if (!(a > 0) || !(b > 0) || isnan(x))
		return NAN;
	if (x <= 0)
		return 0;
	if (x >= 1)
		return 1;
	bt = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
	if (x < (a + 1) / (a + b + 2))
		return bt * beta_cf(a, b, x) / a;
	return 1 - bt * beta_cf(b, a, 1 - x) / b;
}

/* --- counts ------------------------------------------------------------- */

/* Solves f(lam) = target for a monotone f on [lo, hi] by bisection. */
static double bisect(double (*f)(double, double), double arg, double target,
		     double lo, double hi, int increasing)
{
	for (int i = 0; i < 200 && hi - lo > 1e-12 * (1 + hi); i++) {
		double mid = 0.5 * (lo + hi), v = f(arg, mid);

		if ((v < target) == (increasing != 0))
			lo = mid;
		else
			hi = mid;
	}
	return 0.5 * (lo + hi);
}

double an_t_ppf(double p, double df)
{
	double lo = 0, hi = 1, sign = p < 0.5 ? -1 : 1, q;

	if (!(p > 0 && p < 1) || !(df > 0))
		return NAN;
	q = p < 0.5 ? 1 - p : p;	/* upper half, then mirrored */
	/* P(T > t) = I_{df / (df + t^2)}(df / 2, 1 / 2) / 2 */
	while (an_beta_inc(df / 2, 0.5, df / (df + hi * hi)) / 2 > 1 - q && hi < 1e12)
		hi *= 2;
	for (int i = 0; i < 200 && hi - lo > 1e-10 * hi; i++) {
		double mid = 0.5 * (lo + hi);

		if (an_beta_inc(df / 2, 0.5, df / (df + mid * mid)) / 2 > 1 - q)
			lo = mid;
		else
			hi = mid;
	}
	return sign * 0.5 * (lo + hi);
}

void an_poisson_ci(uint64_t k, double conf, double *lo, double *hi)
{
	double a = (1 - conf) / 2, kk = (double)k;
	double top = kk + 20 * sqrt(kk + 1) + 30;

	/* P(X >= k; lam) = P_gamma(k, lam) grows with lam; P(X <= k; lam) =
	 * Q_gamma(k + 1, lam) falls with it. */
	*lo = k == 0 ? 0 : bisect(an_gamma_p, kk, a, 0, top, 1);
	*hi = bisect(an_gamma_q, kk + 1, a, 0, top, 0);
}

double an_rate_bound(double k, double n, double conf, bool hi)
{
	double lo, up;

	if (!(n > 0) || !(k >= 0))
		return NAN;
	an_poisson_ci((uint64_t)llround(k), 1 - 2 * (1 - conf), &lo, &up);
	return fmin(1, (hi ? up : lo) / n);
}

void an_rate_test1(uint64_t k, double n, double r0, double *p_high,
		   double *p_low)
{
	double lam = n * r0;

	if (!(lam > 0)) {
		*p_high = k == 0 ? 1 : 0;
		*p_low = 1;
		return;
	}
	*p_high = k == 0 ? 1 : an_gamma_p((double)k, lam);
	*p_low = an_gamma_q((double)k + 1, lam);
}

void an_rate_test(uint64_t k1, double n1, uint64_t k2, double n2, double f,
		  double *p_high, double *p_low)
{
	uint64_t K = k1 + k2;
	double p0;

	*p_high = 1;
	*p_low = 1;
	if (K == 0 || !(n1 > 0) || !(n2 > 0) || !(f > 0))
		return;
	p0 = n1 * f / (n1 * f + n2);
	if (k1 > 0)
		*p_high = an_beta_inc((double)k1, (double)(K - k1) + 1, p0);
	if (k1 < K)
		*p_low = an_beta_inc((double)(K - k1), (double)k1 + 1, 1 - p0);
}

/* --- Mann-Whitney / Hodges-Lehmann --------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int an_mann_whitney(const double *a, size_t m, const double *b, size_t n,
		    double conf, double *scratch, struct an_mw *out)
{
	double *d = scratch, *sa = scratch + m * n, *sb = sa + m;
	double r1 = 0, ties = 0, mean, var, sd, z, cc, N = (double)(m + n);
	size_t i = 0, j = 0, mn = m * n;
	long c;

	memset(out, 0, sizeof(*out));
	if (m == 0 || n == 0)
		return -EINVAL;
	memcpy(sa, a, m * sizeof(double));
	memcpy(sb, b, n * sizeof(double));
	qsort(sa, m, sizeof(double), cmp_double);
	qsort(sb, n, sizeof(double), cmp_double);
	/* Mid-ranks over the merged order: walk both sorted samples, a group
	 * of equal values at a time. */
	while (i < m || j < n) {
		double v = i < m && (j >= n || sa[i] <= sb[j]) ? sa[i] : sb[j];
		size_t ca = 0, cb = 0, t;
		double first = (double)(i + j) + 1, rank;

		while (i < m && sa[i] == v) {
			i++;
			ca++;
		}
		while (j < n && sb[j] == v) {
			j++;
			cb++;
		}
		t = ca + cb;
		rank = first + ((double)t - 1) / 2;
		r1 += rank * (double)ca;
		ties += (double)t * (double)t * (double)t - (double)t;
	}
	out->u = r1 - (double)m * ((double)m + 1) / 2;
	mean = (double)m * (double)n / 2;
	var = (double)m * (double)n / 12 * ((N + 1) - ties / (N * (N - 1)));
	sd = var > 0 ? sqrt(var) : 0;
	if (sd > 0) {
		out->p_greater = 1 - an_norm_cdf((out->u - mean - 0.5) / sd);
		out->p_less = an_norm_cdf((out->u - mean + 0.5) / sd);
	} else {
		out->p_greater = out->p_less = 1;
	}
	out->p_min = exp(lgamma((double)m + 1) + lgamma((double)n + 1) - lgamma(N + 1));

	for (i = 0; i < m; i++)
		for (j = 0; j < n; j++)
			d[i * n + j] = a[i] - b[j];
	qsort(d, mn, sizeof(double), cmp_double);
	out->hl = mn % 2 ? d[mn / 2] : 0.5 * (d[mn / 2 - 1] + d[mn / 2]);
	z = an_norm_ppf(1 - (1 - conf) / 2);
	cc = floor((double)mn / 2 - z * sqrt((double)mn * (N + 1) / 12));
	c = (long)cc;
	if (c < 1) {
		out->hl_lo = -INFINITY;
		out->hl_hi = INFINITY;
	} else {
		out->hl_lo = d[c - 1];
		out->hl_hi = d[mn - (size_t)c];
	}
	return 0;
}

double an_dkw_eps(double n, double alpha)
{
	return n > 0 ? sqrt(log(2 / alpha) / (2 * n)) : INFINITY;
}

double an_dkw_eps2(double n, double m, double alpha)
{
	return n > 0 && m > 0 ? sqrt(log(2 / alpha) / 2 * (n + m) / (n * m)) : INFINITY;
}

/* --- sparse histograms --------------------------------------------------- */

static double bin_lo(const struct an_dist *d, size_t i)
{
	return (double)st_hist_value_at_index(d->layout, d->bins[i].idx);
}

static double bin_hi(const struct an_dist *d, size_t i)
{
	return (double)st_hist_highest_equivalent(d->layout,
		st_hist_value_at_index(d->layout, d->bins[i].idx));
}

size_t an_dist_rank_bin(const struct an_dist *d, int64_t r)
{
	int64_t cum = 0;

	if (r < 1)
		r = 1;
	for (size_t i = 0; i < d->n; i++) {
		cum = an_count_add(cum, d->bins[i].count);
		if (cum >= r)
			return i;
	}
	return d->n ? d->n - 1 : 0;
}

/* A rank from a double, 1..INT64_MAX: a total near 2^63 rounds up to it
 * as a double, which no int64_t holds. */
static int64_t rank_of(double c)
{
	return c < 1 ? 1 : c >= 9223372036854775807.0 ? INT64_MAX : (int64_t)c;
}

double an_dist_quantile(const struct an_dist *d, double q)
{
	double c;
	int64_t r;

	if (d->n == 0 || d->total <= 0)
		return 0;
	c = ceil(q * (double)d->total);
	r = rank_of(c);
	return bin_hi(d, an_dist_rank_bin(d, r));
}

void an_dist_quantile_ci(const struct an_dist *d, double q, double conf,
			 double *lo, double *hi)
{
	double n = (double)d->total, z, c, s, rl, ru;

	if (d->n == 0 || d->total <= 0) {
		*lo = 0;
		*hi = INFINITY;
		return;
	}
	z = an_norm_ppf(1 - (1 - conf) / 2);
	c = n * q;
	s = z * sqrt(n * q * (1 - q));
	rl = floor(c - s);
	ru = ceil(c + s) + 1;
	*lo = rl < 1 ? 0 : bin_lo(d, an_dist_rank_bin(d, rank_of(rl)));
	*hi = ru > n ? INFINITY : bin_hi(d, an_dist_rank_bin(d, rank_of(ru)));
}

double an_dist_mean(const struct an_dist *d)
{
	double sum = 0;

	if (d->total <= 0)
		return 0;
	for (size_t i = 0; i < d->n; i++) {
		int64_t lo = st_hist_value_at_index(d->layout, d->bins[i].idx);

		sum += (double)st_hist_median_equivalent(d->layout, lo) *
		       (double)d->bins[i].count;
	}
	return sum / (double)d->total;
}

double an_dist_cdf(const struct an_dist *d, double v)
{
	int64_t cum = 0;

	if (d->total <= 0)
		return 0;
	for (size_t i = 0; i < d->n && bin_hi(d, i) <= v; i++)
		cum += d->bins[i].count;
	return (double)cum / (double)d->total;
}

double an_dist_ks_above(const struct an_dist *a, const struct an_dist *b,
			double from)
{
	size_t i = 0, j = 0;
	int64_t ca = 0, cb = 0;
	double best = 0;

	if (a->total <= 0 || b->total <= 0)
		return 0;
	while (i < a->n || j < b->n) {
		int32_t idx;
		double diff;

		if (j >= b->n || (i < a->n && a->bins[i].idx <= b->bins[j].idx))
			idx = a->bins[i].idx;
		else
			idx = b->bins[j].idx;
		while (i < a->n && a->bins[i].idx == idx)
			ca += a->bins[i++].count;
		while (j < b->n && b->bins[j].idx == idx)
			cb += b->bins[j++].count;
		if ((double)st_hist_value_at_index(a->layout, idx) < from)
			continue;
		diff = (double)cb / (double)b->total - (double)ca / (double)a->total;
		if (diff > best)
			best = diff;
	}
	return best;
}

double an_median(double *x, size_t n)
{
	if (n == 0)
		return NAN;
	qsort(x, n, sizeof(double), cmp_double);
	return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

double an_robust_sd(double *x, size_t n)
{
	double med;

	if (n == 0)
		return NAN;
	med = an_median(x, n);
	for (size_t i = 0; i < n; i++)
		x[i] = fabs(x[i] - med);
	return 1.4826 * an_median(x, n);
}
