/* The analyzer's statistics against known values and by simulation. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "histdec.h"
#include "stats.h"

#define NEAR(a, b, tol) CU_ASSERT(fabs((a) - (b)) <= (tol))

static uint64_t rng = 88172645463325252ULL;

static double unif(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}

static void test_normal(void)
{
	NEAR(an_norm_cdf(0), 0.5, 1e-15);
	NEAR(an_norm_cdf(1.959963984540054), 0.975, 1e-12);
	NEAR(an_norm_ppf(0.975), 1.959963984540054, 1e-12);
	NEAR(an_norm_ppf(0.005), -2.5758293035489, 1e-10);
	NEAR(an_norm_ppf(1e-10), -6.361340902404, 1e-8);
	CU_ASSERT(isinf(an_norm_ppf(0)) && an_norm_ppf(0) < 0);
	CU_ASSERT(isinf(an_norm_ppf(1)));
	CU_ASSERT(isnan(an_norm_ppf(NAN)));
	for (double p = 0.001; p < 1; p += 0.0371)
		NEAR(an_norm_cdf(an_norm_ppf(p)), p, 1e-13);
	/* Student's t: tables */
	NEAR(an_t_ppf(0.90, 2), 1.885618083, 1e-8);
	NEAR(an_t_ppf(0.975, 5), 2.570581836, 1e-8);
	NEAR(an_t_ppf(0.90, 1), 3.077683537, 1e-8);
	NEAR(an_t_ppf(0.05, 10), -1.812461123, 1e-8);
	NEAR(an_t_ppf(0.95, 1e6), 1.644855, 1e-5);
	CU_ASSERT(isnan(an_t_ppf(1, 3)) && isnan(an_t_ppf(0.5, 0)));
}

static void test_gamma_beta(void)
{
	/* P(1, x) = 1 - e^-x; P(a, x) + Q(a, x) = 1 */
	NEAR(an_gamma_p(1, 2), 1 - exp(-2), 1e-14);
	NEAR(an_gamma_p(5, 3) + an_gamma_q(5, 3), 1, 1e-14);
	/* chi-square(4) CDF at 9.487729 = 0.95: P(2, 4.7438645) */
	NEAR(an_gamma_p(2, 9.487729036781154 / 2), 0.95, 1e-9);
	NEAR(an_gamma_p(50, 60), 0.9156, 1e-3);
	/* I_x(a, 1) = x^a; I_x(1, b) = 1 - (1 - x)^b; symmetry */
	NEAR(an_beta_inc(3, 1, 0.4), pow(0.4, 3), 1e-14);
	NEAR(an_beta_inc(1, 4, 0.3), 1 - pow(0.7, 4), 1e-14);
	NEAR(an_beta_inc(2.5, 7, 0.2) + an_beta_inc(7, 2.5, 0.8), 1, 1e-13);
	CU_ASSERT(isnan(an_beta_inc(0, 1, 0.5)));
}

static void test_poisson(void)
{
	double lo, hi, ph, pl;

	/* Garwood: k = 0 at 95%: [0, 3.689]; k = 10: [4.795, 18.39] */
	an_poisson_ci(0, 0.95, &lo, &hi);
	NEAR(lo, 0, 0);
	NEAR(hi, 3.688879, 1e-5);
	an_poisson_ci(10, 0.95, &lo, &hi);
	NEAR(lo, 4.795389, 1e-5);
	NEAR(hi, 18.390356, 1e-5);
	/* a rate's one-sided bounds: 0 of 1,000 at 99%: up to 4.605 / 1000;
	 * 10 of 1,000 at 90%: 6.221..15.407 per 1,000 (chi-square's
	 * quantiles over two); never past 1; no trials: NaN */
	NEAR(an_rate_bound(0, 1000, 0.99, true), 4.605170e-3, 1e-8);
	NEAR(an_rate_bound(0, 1000, 0.90, false), 0, 0);
	NEAR(an_rate_bound(10, 1000, 0.90, true), 15.40664e-3, 1e-7);
	NEAR(an_rate_bound(10, 1000, 0.90, false), 6.22130e-3, 1e-7);
	NEAR(an_rate_bound(5, 5, 0.99, true), 1, 0);
	CU_ASSERT(isnan(an_rate_bound(0, 0, 0.99, true)));
	/* one-sample: 10 events where 2 are expected is rare, 3 is not */
	an_rate_test1(10, 1000, 0.002, &ph, &pl);
	CU_ASSERT(ph < 1e-4 && pl > 0.99);
	an_rate_test1(3, 1000, 0.002, &ph, &pl);
	CU_ASSERT(ph > 0.3);
	/* conditional: sparse counts say nothing, many do */
	an_rate_test(1, 1e5, 0, 1e5, 1, &ph, &pl);
	CU_ASSERT(ph > 0.4);
	an_rate_test(0, 1e5, 0, 1e5, 1, &ph, &pl);
	CU_ASSERT(ph == 1 && pl == 1);
	an_rate_test(60, 1e5, 20, 1e5, 1, &ph, &pl);
	CU_ASSERT(ph < 1e-5);
	/* the same with f = 3 (model expects three times the rate) is fine */
	an_rate_test(60, 1e5, 20, 1e5, 3, &ph, &pl);
	CU_ASSERT(ph > 0.1 && pl > 0.1);
	/* exact binomial: k1 = 5 of K = 5 with p0 = 0.5: 1/32 */
	an_rate_test(5, 1, 0, 1, 1, &ph, &pl);
	NEAR(ph, 1.0 / 32, 1e-12);
}

static void test_mann_whitney(void)
{
	double a[] = { 1.1, 2.2, 3.3, 4.4, 5.5, 6.6 };
	double b[] = { 0.1, 0.2, 0.3, 0.4, 0.5, 0.6 };
	double c[] = { 1.0, 2.0, 3.0, 4.0, 5.0, 6.0 };
	double scratch[6 * 6 + 12];
	struct an_mw mw;

	CU_ASSERT_EQUAL(an_mann_whitney(a, 6, b, 6, 0.95, scratch, &mw), 0);
	NEAR(mw.u, 36, 1e-12);
	CU_ASSERT(mw.p_greater < 0.005 && mw.p_less > 0.99);
	NEAR(mw.p_min, 1.0 / 924, 1e-12);
	/* a - c = 0.1 .. 0.6 shifted by i: HL = median of all differences */
	CU_ASSERT_EQUAL(an_mann_whitney(a, 6, c, 6, 0.95, scratch, &mw), 0);
	CU_ASSERT(mw.p_greater > 0.05);
	CU_ASSERT(mw.hl_lo <= mw.hl && mw.hl <= mw.hl_hi);
	/* shifting a sample shifts HL by the same amount */
	{
		double d[6], hl0 = mw.hl;

		for (int i = 0; i < 6; i++)
			d[i] = a[i] + 2.5;
		an_mann_whitney(d, 6, c, 6, 0.95, scratch, &mw);
		NEAR(mw.hl, hl0 + 2.5, 1e-12);
	}
	/* all tied: no evidence */
	CU_ASSERT_EQUAL(an_mann_whitney(c, 1, c, 1, 0.95, scratch, &mw), 0);
	CU_ASSERT(mw.p_greater == 1 && mw.p_less == 1);
	CU_ASSERT_EQUAL(an_mann_whitney(a, 0, b, 6, 0.95, scratch, &mw), -EINVAL);
}

/* Builds a sparse distribution from samples through a dense histogram. */
static struct an_bin *sparse(const struct st_hist *h, size_t *n)
{
	struct an_bin *b = malloc((size_t)h->counts_len * sizeof(*b));

	*n = 0;
	for (int32_t i = 0; i < h->counts_len; i++)
		if (h->counts[i]) {
			b[*n].idx = i;
			b[*n].count = h->counts[i];
			(*n)++;
		}
	return b;
}

/* The order-statistic interval covers the true quantile about as often as
 * its confidence says, and the point estimate agrees with HdrHistogram. */
static void test_quantile_ci(void)
{
	struct st_hist *h = st_hist_create(AN_HIST_LOWEST, AN_HIST_HIGHEST, AN_HIST_SIGFIGS);
	double true_p99 = 1e6 * log(100), true_p50 = 1e6 * log(2);
	int cover99 = 0, cover50 = 0, runs = 400;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	for (int r = 0; r < runs; r++) {
		struct an_dist d = { h, NULL, 0, 0 };
		double lo, hi;
		struct an_bin *b;

		st_hist_reset(h);
		for (int i = 0; i < 2000; i++)
			st_hist_record(h, (int64_t)(-1e6 * log(unif())));
		b = sparse(h, &d.n);
		d.bins = b;
		d.total = st_hist_total(h);
		if (r == 0) {
			NEAR(an_dist_quantile(&d, 0.99), (double)st_hist_value_at_percentile(h, 99), 0);
			NEAR(an_dist_quantile(&d, 0.5), (double)st_hist_value_at_percentile(h, 50), 0);
			NEAR(an_dist_mean(&d), st_hist_mean(h), 1e-6 * st_hist_mean(h));
			NEAR(an_dist_cdf(&d, 1e12), 1, 0);
		}
		an_dist_quantile_ci(&d, 0.99, 0.95, &lo, &hi);
		cover99 += lo <= true_p99 && true_p99 <= hi;
		an_dist_quantile_ci(&d, 0.5, 0.95, &lo, &hi);
		cover50 += lo <= true_p50 && true_p50 <= hi;
		free(b);
	}
	/* 95% nominal; bucket edges make it a little conservative */
	CU_ASSERT(cover99 >= runs * 0.92);
	CU_ASSERT(cover50 >= runs * 0.92);
	st_hist_destroy(h);
}

static void test_ks_dkw(void)
{
	struct st_hist *a = st_hist_create(AN_HIST_LOWEST, AN_HIST_HIGHEST, AN_HIST_SIGFIGS);
	struct st_hist *b = st_hist_create(AN_HIST_LOWEST, AN_HIST_HIGHEST, AN_HIST_SIGFIGS);
	struct an_dist da = { a, NULL, 0, 0 }, db = { b, NULL, 0, 0 };
	struct an_bin *ba, *bb;

	for (int i = 0; i < 5000; i++) {
		st_hist_record(a, (int64_t)(-2e6 * log(unif())));	/* slower */
		st_hist_record(b, (int64_t)(-1e6 * log(unif())));
	}
	ba = sparse(a, &da.n);
	bb = sparse(b, &db.n);
	da.bins = ba;
	db.bins = bb;
	da.total = st_hist_total(a);
	db.total = st_hist_total(b);
	/* sup(F_b - F_a) for Exp(1) vs Exp(1/2) is 1/4 at x = 2 ln 2 */
	NEAR(an_dist_ks_above(&da, &db, 0), 0.25, 0.03);
	CU_ASSERT(an_dist_ks_above(&db, &da, 0) < 0.02);
	NEAR(an_dkw_eps(1000, 0.05), sqrt(log(40) / 2000), 1e-15);
	NEAR(an_dkw_eps2(1000, 1000, 0.05), sqrt(log(40) / 1000), 1e-15);
	free(ba);
	free(bb);
	st_hist_destroy(a);
	st_hist_destroy(b);
}

static void test_robust(void)
{
	double x[] = { 1, 2, 3, 4, 100 }, y[] = { 5, 1, 3 };

	NEAR(an_median(y, 3), 3, 0);
	NEAR(an_robust_sd(x, 5), 1.4826, 1e-12);
	CU_ASSERT(isnan(an_median(x, 0)));
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "normal", test_normal },
		{ "gamma_beta", test_gamma_beta },
		{ "poisson", test_poisson },
		{ "mann_whitney", test_mann_whitney },
		{ "quantile_ci", test_quantile_ci },
		{ "ks_dkw", test_ks_dkw },
		{ "robust", test_robust },
		{ NULL, NULL },
	};

	return st_cu_add_suite("an_stats", NULL, NULL, tests);
}
