/* The statistics behind a verdict, as plain functions of their inputs:
 * normal and gamma/beta distribution functions, order-statistic intervals
 * for quantiles of a (sparse) histogram, Mann-Whitney with the
 * Hodges-Lehmann shift, an exact rate test for sparse counts, and the
 * Dvoretzky-Kiefer-Wolfowitz band. None of them allocates except where
 * said; none fails except by returning NaN for inputs outside its domain. */
#ifndef AN_STATS_H
#define AN_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"
#include "histdec.h"

/* Standard normal CDF and its inverse (Acklam's rational approximation
 * refined by one Halley step: |error| < 1e-12). ppf(p) for p outside
 * (0, 1) is -inf / +inf. */
double an_norm_cdf(double x);
double an_norm_ppf(double p);

/* Regularized lower incomplete gamma P(a, x) and Q = 1 - P; a > 0. */
double an_gamma_p(double a, double x);
double an_gamma_q(double a, double x);
/* Regularized incomplete beta I_x(a, b); a, b > 0, 0 <= x <= 1. */
double an_beta_inc(double a, double b, double x);

/* Student's t quantile with df > 0 degrees of freedom, p in (0, 1):
 * bisection on the CDF (an_beta_inc), |error| < 1e-9. NaN outside. */
double an_t_ppf(double p, double df);

/* Exact (Garwood) two-sided interval, at confidence conf, for the mean of
 * a Poisson count k. lo is 0 when k is 0. */
void an_poisson_ci(uint64_t k, double conf, double *lo, double *hi);

/* One-sided bound at confidence conf (0.5..1) on the rate of k events in
 * n trials (errors among requests): the upper one (hi) or the lower one,
 * Garwood's Poisson bound over n, a little wider than the binomial's at
 * the small rates an error objective names, never narrower. In [0, 1];
 * NaN when n <= 0. */
double an_rate_bound(double k, double n, double conf, bool hi);

/* Exact conditional test of two Poisson rates (counts k1 in exposure n1,
 * k2 in n2) against H0: rate1 = f * rate2. Given K = k1 + k2, k1 is
 * Binomial(K, n1 f / (n1 f + n2)). *p_high = P(X >= k1), *p_low =
 * P(X <= k1): one-sided p-values for rate1 above / below f * rate2. With
 * K = 0 both are 1: no evidence either way, as it should be for sparse
 * counts. n1, n2 > 0, f > 0. */
void an_rate_test(uint64_t k1, double n1, uint64_t k2, double n2, double f,
		  double *p_high, double *p_low);

/* Same against a known rate r0 (k in exposure n, H0: rate = r0): Poisson
 * tail probabilities. */
void an_rate_test1(uint64_t k, double n, double r0, double *p_high,
		   double *p_low);

/* Mann-Whitney U test of a[0..m) against b[0..n) with mid-ranks for ties,
 * the normal approximation with tie and continuity corrections, and the
 * Hodges-Lehmann estimate of the shift a - b (median of the m*n pairwise
 * differences) with its distribution-free interval at confidence conf.
 * scratch must hold m*n + m + n doubles. p_greater is the one-sided
 * p-value for "a tends to be larger". O(mn log mn). */
struct an_mw {
	double u;
	double p_greater, p_less;
	double hl, hl_lo, hl_hi;
	/* The smallest one-sided p-value these sample sizes can give
	 * (1 / C(m+n, m)): when it is above alpha the test cannot decide. */
	double p_min;
};
int an_mann_whitney(const double *a, size_t m, const double *b, size_t n,
		    double conf, double *scratch, struct an_mw *out);

/* DKW half-width for one sample of n at significance alpha, and for two
 * samples (n, m). */
double an_dkw_eps(double n, double alpha);
double an_dkw_eps2(double n, double m, double alpha);

/* A sparse histogram in the analyzer's layout (histdec.h): bins in
 * increasing index order, total their sum. `layout` maps indices to
 * values (any histogram of the analyzer's layout). */
struct an_dist {
	const struct st_hist *layout;
	const struct an_bin *bins;
	size_t n;
	int64_t total;
};

/* a + b for sample counts (both >= 0), INT64_MAX when it would not fit:
 * a publisher's counts saturate, they never wrap (each message's total is
 * checked, not what many add up to). */
static inline int64_t an_count_add(int64_t a, int64_t b)
{
	return b > INT64_MAX - a ? INT64_MAX : a + b;
}

/* Index of the bin holding the sample of rank r (1-based, clamped). */
size_t an_dist_rank_bin(const struct an_dist *d, int64_t r);
/* HdrHistogram's value at quantile q (0..1): highest equivalent value of
 * the bin holding rank ceil(q * total). 0 when empty. */
double an_dist_quantile(const struct an_dist *d, double q);
/* Distribution-free interval for the q-quantile at confidence conf: the
 * order statistics of ranks nq -+ z sqrt(nq(1-q)), taken at the low edge
 * of the lower bin and the high edge of the upper bin. lo is 0 when the
 * lower rank falls below 1, hi is +inf when the upper one passes n. */
void an_dist_quantile_ci(const struct an_dist *d, double q, double conf,
			 double *lo, double *hi);
/* Mean over bins' median equivalent values; 0 when empty. */
double an_dist_mean(const struct an_dist *d);
/* Fraction of samples in bins whose values lie wholly at or below v. */
double an_dist_cdf(const struct an_dist *d, double v);
/* One-sided Kolmogorov distance sup_x (F_b(x) - F_a(x)) over x >= from
 * (a to the right of b: a slower), evaluated at the bins of both. */
double an_dist_ks_above(const struct an_dist *a, const struct an_dist *b,
			double from);

/* Robust standard deviation: 1.4826 * median absolute deviation. Sorts
 * x in place (n <= 0: NaN). */
double an_robust_sd(double *x, size_t n);
/* Median; sorts x in place. */
double an_median(double *x, size_t n);

#endif
