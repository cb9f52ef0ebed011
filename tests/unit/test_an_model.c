/* The capacity model: closed forms, fits, the USL. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "kpisim.h"
#include "model.h"

#define NEAR(a, b, tol) CU_ASSERT(fabs((a) - (b)) <= (tol))

static void test_erlang_c(void)
{
	/* c = 1: C = rho. c = 2, a = 1: C = 1/3. Known table value: c = 10,
	 * a = 8: 0.4092. */
	NEAR(an_erlang_c(1, 0.6), 0.6, 1e-15);
	NEAR(an_erlang_c(2, 1), 1.0 / 3, 1e-15);
	NEAR(an_erlang_c(10, 8), 0.40918, 1e-4);
	NEAR(an_erlang_c(4, 4), 1, 0);
	/* large c stays finite */
	CU_ASSERT(an_erlang_c(100000, 90000) > 0 && an_erlang_c(100000, 90000) < 1);
}

static void test_mm1(void)
{
	struct an_fit f = { .mu = 100, .d0 = 0.001, .w = 1 }, g;
	double q99 = an_model_q(NULL, AN_FORM_MM1, &f, 50, 4, 0.99);

	NEAR(q99, log(100) / 50, 1e-12);
	NEAR(an_model_mean(NULL, AN_FORM_MM1, &f, 50, 4), 1.0 / 50, 1e-12);
	CU_ASSERT(isinf(an_model_q(NULL, AN_FORM_MM1, &f, 100, 4, 0.99)));
	NEAR(an_model_exceed(NULL, AN_FORM_MM1, &f, 50, 4, 0.001 + 0.1), exp(-5), 1e-12);
	/* the two-point fit recovers mu and d0 from exact quantiles */
	CU_ASSERT_EQUAL(an_fit_point(AN_FORM_MM1, 50, 4, 0.001 + log(2) / 50,
				     0.001 + log(100) / 50, &g), 0);
	NEAR(g.mu, 100, 1e-9);
	NEAR(g.d0, 0.001, 1e-12);
	CU_ASSERT_EQUAL(an_fit_point(AN_FORM_MM1, 50, 4, 0.02, 0.01, &g), -EDOM);
	CU_ASSERT_EQUAL(an_fit_point(AN_FORM_MM1, 50, 4, NAN, 0.01, &g), -EDOM);
}

static void test_mmc(void)
{
	struct an_fit f = { .mu = 100, .d0 = 0.002, .w = 1 }, g;
	double prev = 0;

	/* c = 1 is M/M/1 */
	NEAR(an_model_q(NULL, AN_FORM_MMC, &f, 60, 1, 0.99),
	     an_model_q(NULL, AN_FORM_MM1, &f, 60, 1, 0.99), 1e-6);
	/* at no load: pure service time (solved to 1e-7 relative) */
	NEAR(an_model_q(NULL, AN_FORM_MMC, &f, 0, 8, 0.5), log(2) / 100, 1e-7);
	/* quantiles grow with the load and with q */
	for (double lam = 10; lam < 100; lam += 10) {
		double q = an_model_q(NULL, AN_FORM_MMC, &f, lam, 8, 0.99);

		CU_ASSERT(q > prev);
		CU_ASSERT(an_model_q(NULL, AN_FORM_MMC, &f, lam, 8, 0.9) < q);
		prev = q;
	}
	/* exceed is the inverse of q */
	{
		double q = an_model_q(NULL, AN_FORM_MMC, &f, 80, 8, 0.99);

		NEAR(an_model_exceed(NULL, AN_FORM_MMC, &f, 80, 8, f.d0 + q), 0.01, 1e-6);
	}
	/* mean: 1/mu + C / (c mu - Lambda) */
	NEAR(an_model_mean(NULL, AN_FORM_MMC, &f, 80, 10),
	     0.01 + an_erlang_c(10, 8) / (1000 - 800), 1e-12);
	/* fit recovers the parameters */
	CU_ASSERT_EQUAL(an_fit_point(AN_FORM_MMC, 80, 8,
				     0.002 + an_model_q(NULL, AN_FORM_MMC, &f, 80, 8, 0.5),
				     0.002 + an_model_q(NULL, AN_FORM_MMC, &f, 80, 8, 0.99), &g), 0);
	NEAR(g.mu, 100, 1e-2);
	NEAR(g.d0, 0.002, 1e-6);
	/* a thousand servers near saturation stays finite and ordered */
	CU_ASSERT(isfinite(an_model_q(NULL, AN_FORM_MMC, &f, 99, 1000, 0.99)));
}

/* The exponentially weighted fit converges on exact windows and the USL
 * appears once enough load levels were seen. */
static void test_learn(void)
{
	static const double loads[] = { 20, 40, 60, 80, 30, 70 };
	struct an_fit t = { .mu = 100, .d0 = 0.001, .w = 1 };
	struct an_model m;

	an_model_init(&m);
	CU_ASSERT_FALSE(an_model_ready(&m));
	for (int i = 0; i < 60; i++) {
		double lam = loads[i % 6];
		struct an_obs o = {
			.lam = lam, .c = 4, .n = 5000, .requests = 5000,
			.p50 = t.d0 + an_model_q(NULL, AN_FORM_MM1, &t, lam, 4, 0.5),
			.p90 = t.d0 + an_model_q(NULL, AN_FORM_MM1, &t, lam, 4, 0.9),
			.p99 = t.d0 + an_model_q(NULL, AN_FORM_MM1, &t, lam, 4, 0.99),
			.mean = t.d0 + an_model_mean(NULL, AN_FORM_MM1, &t, lam, 4),
			.errors = 5, .timeouts = 2,
		};

		an_model_learn_prod(&m, &o, 0.1, AN_MODEL_AUTO);
	}
	CU_ASSERT(an_model_ready(&m));
	CU_ASSERT_EQUAL(m.form, AN_FORM_MM1);
	NEAR(m.prod[AN_FORM_MM1].mu, 100, 1e-6);
	NEAR(m.prod[AN_FORM_MM1].d0, 0.001, 1e-9);
	NEAR(m.rate_err, 0.001, 1e-9);
	NEAR(m.rate_to, 0.0004, 1e-9);
	CU_ASSERT_EQUAL(m.windows_prod, 60);
	CU_ASSERT(m.version >= 60);
	/* M/M/1 is a USL curve too: the fit must predict the same means */
	CU_ASSERT(m.usl_ok);
	NEAR(an_model_mean(&m, AN_FORM_USL, NULL, 50, 4), 1.0 / 50, 0.05 / 50);
	/* forcing a form */
	an_model_learn_prod(&m, &(struct an_obs){ .lam = 50, .c = 4, .n = 10 }, 0.1, AN_MODEL_MMC);
	CU_ASSERT_EQUAL(m.form, AN_FORM_MM1);	/* too thin a window: no refit */
	an_model_learn_prod(&m, &(struct an_obs){ .lam = 50, .c = 4, .n = 5000, .p50 = 0.01,
					       .p90 = 0.03, .p99 = 0.05, .mean = 0.02 },
			    0.1, AN_MODEL_MMC);
	CU_ASSERT_EQUAL(m.form, AN_FORM_MMC);
	CU_ASSERT_STRING_EQUAL(an_form_name(AN_FORM_USL), "usl");
	{
		enum an_form f;

		CU_ASSERT_EQUAL(an_form_parse("mmc", &f), 0);
		CU_ASSERT_EQUAL(f, AN_FORM_MMC);
		CU_ASSERT_EQUAL(an_form_parse("mm2", &f), -EINVAL);
	}
}

/* p99 at two loads pins capacity and tail: exact points give them back,
 * for each form, also when prod and shadow run different instance counts;
 * points no capacity explains are refused. */
static void test_two_loads(void)
{
	static const struct { enum an_form f; uint32_t ca, cb; } cases[] = {
		{ AN_FORM_MM1, 8, 1 }, { AN_FORM_MMC, 8, 2 }, { AN_FORM_MMC, 4, 4 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct an_fit t = { .mu = 250, .d0 = 0.003 }, g;
		const double tail = 1.7, la = 60, lb = 220;
		double pa = t.d0 + tail * an_model_q(NULL, cases[i].f, &t, la, cases[i].ca, 0.99);
		double pb = t.d0 + tail * an_model_q(NULL, cases[i].f, &t, lb, cases[i].cb, 0.99);
		double got_tail = 0;

		CU_ASSERT_EQUAL_FATAL(an_fit_two_loads(cases[i].f, t.d0, la, cases[i].ca, pa, lb,
						       cases[i].cb, pb, &g, &got_tail), 0);
		NEAR(g.mu, 250, 250e-6);
		NEAR(got_tail, tail, 1e-4);
		NEAR(g.d0, 0.003, 0);
		/* either order */
		CU_ASSERT_EQUAL(an_fit_two_loads(cases[i].f, t.d0, lb, cases[i].cb, pb, la,
						 cases[i].ca, pa, &g, &got_tail), 0);
		NEAR(g.mu, 250, 250e-6);
	}
	{
		struct an_fit g;
		double tail;

		/* the busier point with the shorter tail */
		CU_ASSERT_EQUAL(an_fit_two_loads(AN_FORM_MM1, 0.001, 60, 1, 0.02, 200, 1, 0.01,
						 &g, &tail), -EDOM);
		/* alike loads, alike p99: nothing to tell capacity by */
		CU_ASSERT_EQUAL(an_fit_two_loads(AN_FORM_MM1, 0.001, 100, 1, 0.02, 101, 1, 0.0201,
						 &g, &tail), -EDOM);
		/* d0 above a p99, usl, no load */
		CU_ASSERT_EQUAL(an_fit_two_loads(AN_FORM_MM1, 0.05, 60, 1, 0.02, 200, 1, 0.1,
						 &g, &tail), -EDOM);
		CU_ASSERT_EQUAL(an_fit_two_loads(AN_FORM_USL, 0.001, 60, 1, 0.02, 200, 1, 0.1,
						 &g, &tail), -EDOM);
		CU_ASSERT_EQUAL(an_fit_two_loads(AN_FORM_MM1, 0.001, 0, 1, 0.02, 200, 1, 0.1,
						 &g, &tail), -EDOM);
	}
}

/* --- mg1 against closed forms and simulation -------------------------------- */

static uint64_t rng_state;

static double urand(void)
{
	/* splitmix64: seeded, portable, good enough for queue simulation */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Service time kinds the simulation draws from (mean s): deterministic,
 * exponential, and 90% s0 / 10% 8 s0. */
enum svc { SVC_DET, SVC_EXP, SVC_BIMODAL };

static double svc_draw(enum svc k, double s)
{
	switch (k) {
	case SVC_EXP:
		return -s * log(urand());
	case SVC_BIMODAL:
		return urand() < 0.9 ? s / 1.7 : 8 * s / 1.7;
	default:
		return s;
	}
}

/* Quantiles (0.5, 0.9, 0.99) and mean of the sojourn time of a FIFO
 * queue of c servers (each arrival takes the server that frees first,
 * ks_fifo) with Poisson arrivals at c lam, over n customers (the first
 * tenth discarded as warm-up). At c = 1 it is Lindley's recursion. */
static void sim_fifo(enum svc k, double s, double lam, uint32_t c, size_t n, uint64_t seed,
		     double q[3], double *mean)
{
	double *t = malloc(n * sizeof(*t)), gap = 0, sum = 0;
	size_t warm = n / 10, m = 0;
	struct ks_fifo f;

	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL_FATAL(ks_fifo_init(&f, c), 0);
	rng_state = seed;
	for (size_t i = 0; i < n + warm; i++) {
		double x = svc_draw(k, s), v = ks_fifo_next(&f, gap, x);

		/* the gap to the next arrival, drawn with this one's service
		 * as Lindley's recursion draws them */
		gap = -log(urand()) / (lam * c);
		if (i >= warm) {
			t[m++] = v;
			sum += v;
		}
	}
	ks_fifo_free(&f);
	qsort(t, m, sizeof(*t), cmp_dbl);
	q[0] = t[(size_t)(0.5 * (double)m)];
	q[1] = t[(size_t)(0.9 * (double)m)];
	q[2] = t[(size_t)(0.99 * (double)m)];
	*mean = sum / (double)m;
	free(t);
}

static void test_mg1_closed(void)
{
	struct an_fit f = { .mu = 200, .d0 = 0.001, .w = 1, .cs2 = 1 };

	/* cs2 = 1 is M/M/1 exactly: Exp(mu - lam) response time */
	for (double lam = 20; lam < 200; lam += 30) {
		for (double q = 0.5; q < 0.999; q += 0.1)
			NEAR(an_model_q(NULL, AN_FORM_MG1, &f, lam, 1, q),
			     -log1p(-q) / (200 - lam), 1e-6 / (200 - lam));
		NEAR(an_model_mean(NULL, AN_FORM_MG1, &f, lam, 1), 1 / (200 - lam), 1e-12);
		NEAR(an_model_exceed(NULL, AN_FORM_MG1, &f, lam, 1, 0.001 + 0.01),
		     exp(-(200 - lam) * 0.01), 1e-9);
	}
	/* cs2 = 0 is M/D/1: mean wait rho S / (2 (1 - rho)) exactly */
	f.cs2 = 0;
	for (double rho = 0.1; rho < 0.95; rho += 0.1)
		NEAR(an_model_mean(NULL, AN_FORM_MG1, &f, rho * 200, 1),
		     0.005 + rho * 0.005 / (2 * (1 - rho)), 1e-12);
	/* no load: the service time alone, deterministic */
	NEAR(an_model_q(NULL, AN_FORM_MG1, &f, 0, 1, 0.99), 0.005, 1e-8);
	CU_ASSERT(isinf(an_model_q(NULL, AN_FORM_MG1, &f, 200, 1, 0.99)));
	CU_ASSERT(isinf(an_model_mean(NULL, AN_FORM_MG1, &f, 250, 1)));
}

/* The server: one request at a time in exactly 5 ms. The model's
 * p99 must not fall short of the simulated one by more than 3% nor exceed
 * it by more than 15%. */
static void test_mg1_md1_sim(void)
{
	static const double rhos[] = { 0.5, 0.5625, 0.643, 0.75, 0.9 };
	struct an_fit f = { .mu = 200, .w = 1, .cs2 = 0 };

	for (size_t i = 0; i < sizeof(rhos) / sizeof(rhos[0]); i++) {
		double q[3], mean, p99 = an_model_q(NULL, AN_FORM_MG1, &f, rhos[i] * 200, 1, 0.99);

		sim_fifo(SVC_DET, 0.005, rhos[i] * 200, 1, 1000000, 42 + i, q, &mean);
		printf("\n    M/D/1 rho %.3f: p99 model %.2f ms, simulated %.2f ms (%+.1f%%)",
		       rhos[i], p99 * 1e3, q[2] * 1e3, (p99 / q[2] - 1) * 100);
		CU_ASSERT(p99 >= 0.97 * q[2]);
		CU_ASSERT(p99 <= 1.15 * q[2]);
		NEAR(an_model_mean(NULL, AN_FORM_MG1, &f, rhos[i] * 200, 1), mean, 0.03 * mean);
	}
}

/* 90% fast, 10% eight times slower (cs2 1.53): the hyperexponential tail
 * errs on the safe side, by a bounded amount. */
static void test_mg1_bimodal_sim(void)
{
	static const double rhos[] = { 0.5, 0.64, 0.75 };
	double s = 0.005, cs2 = (0.9 + 6.4) / (1.7 * 1.7) - 1;
	struct an_fit f = { .mu = 1 / s, .w = 1, .cs2 = cs2 };

	for (size_t i = 0; i < sizeof(rhos) / sizeof(rhos[0]); i++) {
		double q[3], mean, p99 = an_model_q(NULL, AN_FORM_MG1, &f, rhos[i] / s, 1, 0.99);

		sim_fifo(SVC_BIMODAL, s, rhos[i] / s, 1, 1000000, 7 + i, q, &mean);
		printf("\n    bimodal rho %.2f: p99 model %.2f ms, simulated %.2f ms (%+.1f%%)",
		       rhos[i], p99 * 1e3, q[2] * 1e3, (p99 / q[2] - 1) * 100);
		CU_ASSERT(p99 >= 0.97 * q[2]);
		CU_ASSERT(p99 <= 1.30 * q[2]);
		NEAR(an_model_mean(NULL, AN_FORM_MG1, &f, rhos[i] / s, 1), mean, 0.03 * mean);
	}
}

/* The fit recovers the service from one load's quantiles and mean, for
 * each kind of service, and predicts the p99 at a higher load. */
static void test_mg1_fit_sim(void)
{
	static const enum svc kinds[] = { SVC_DET, SVC_EXP, SVC_BIMODAL };
	static const double want_cs2[] = { 0, 1, 1.526 };

	for (size_t i = 0; i < 3; i++) {
		double q[3], mean, hi[3], hmean, p99;
		struct an_fit g;

		sim_fifo(kinds[i], 0.005, 100, 1, 1000000, 99 + i, q, &mean);
		CU_ASSERT_EQUAL_FATAL(an_fit_service(AN_FORM_MG1, 100, 1, q[0] + 0.001, q[1] + 0.001, q[2] + 0.001,
						 mean + 0.001, -1, &g), 0);
		sim_fifo(kinds[i], 0.005, 150, 1, 1000000, 199 + i, hi, &hmean);
		p99 = g.d0 + an_model_q(NULL, AN_FORM_MG1, &g, 150, 1, 0.99);
		printf("\n    fit kind %zu at rho 0.5: mu %.1f d0 %.2f ms cs2 %.2f (true %.2f); p99 at rho 0.75 %.2f ms, simulated %.2f ms",
		       i, g.mu, g.d0 * 1e3, g.cs2, want_cs2[i], p99 * 1e3, (hi[2] + 0.001) * 1e3);
		NEAR(g.d0, 0.001, 0.001);
		CU_ASSERT(p99 >= 0.9 * (hi[2] + 0.001));
	}
}

/* The upper bound covers the truth when extrapolating from rho 0.5 to
 * 0.75, even with the capacity misjudged by its standard error. */
static void test_mg1_bound(void)
{
	double q[3], mean, lo[3], lmean, up, p99;
	struct an_fit g;

	/* grows with the distance beyond what was seen, never below 1 */
	NEAR(an_bound_factor(100, 100, 0), 1, 0);
	NEAR(an_bound_factor(50, 100, 0.01), 1 + AN_BOUND_Z * 0.01, 1e-12);
	NEAR(an_bound_factor(150, 100, 0), 1 + AN_BOUND_EXTRAP * 0.5, 1e-12);
	CU_ASSERT(an_bound_factor(160, 100, 0.02) > an_bound_factor(150, 100, 0.02));
	for (int seed = 0; seed < 4; seed++) {
		/* a short run at rho 0.5: 20 s of 100 rps */
		sim_fifo(SVC_DET, 0.005, 100, 1, 2000, 500 + (uint64_t)seed, lo, &lmean);
		CU_ASSERT_EQUAL_FATAL(an_fit_service(AN_FORM_MG1, 100, 1, lo[0], lo[1], lo[2], lmean, -1, &g), 0);
		sim_fifo(SVC_DET, 0.005, 150, 1, 1000000, 77, q, &mean);
		p99 = g.d0 + an_model_q(NULL, AN_FORM_MG1, &g, 150, 1, 0.99);
		/* the bound judge.c takes, without prod's levels: the load
		 * inflated alone (an_fit_service leaves no cs2 spread) */
		up = an_model_q_hi(NULL, AN_FORM_MG1, &g, 1, 150, 1, 0.99,
				   &(struct an_bound){ .lam_obs = 100, .rsd = 0.03, .weight = 0.1 });
		NEAR(up, g.d0 + an_model_q(NULL, AN_FORM_MG1, &g,
					   150 * an_bound_factor(150, 100, 0.03), 1, 0.99), 1e-12);
		printf("\n    bound seed %d: fit mu %.1f cs2 %.2f, p99 at rho 0.75 %.1f ms, bound %.1f ms, simulated %.1f ms",
		       seed, g.mu, g.cs2, p99 * 1e3, up * 1e3, q[2] * 1e3);
		CU_ASSERT(up >= q[2]);
	}
}

/* The bound's discrepancy term (an_model_discrepancy) against closed
 * forms: a level measured precisely counts its miss in full, one measured
 * loosely only in proportion to its precision against FIT_TOL (5%), one
 * without a spread not at all, a level the model overpredicts only by its
 * noise; an_model_q_hi carries e^D, an_model_exceed_hi agrees with it. */
static void test_bound_discrepancy(void)
{
	const struct an_fit f = { .mu = 200, .d0 = 0.001, .w = 1, .cs2 = 0.5 };
	const struct an_bound b = { .lam_obs = 100, .rsd = 0.01, .weight = 0.1, .levels = true };
	struct an_bound b0 = b;
	double pred = f.d0 + an_model_q(NULL, AN_FORM_MG1, &f, 100, 1, 0.99), se, d, up, up0;
	struct an_model m;

	an_model_init(&m);
	m.n_usl = 1;
	m.usl[0] = (struct an_usl_pt){ .lam = 100, .conc = 1, .w = 1, .c = 1,
				       .stat = { 0, 0, 1.1 * pred, 0 } };
	/* no spread yet (one window): not counted */
	NEAR(an_model_discrepancy(&m, AN_FORM_MG1, &f, 1), 0, 0);
	CU_ASSERT_EQUAL(an_level_se(&m.usl[0], 2), 0);
	/* the standard error of the EW log p99: var / vw * s2 */
	m.usl[0].var[2] = 0.01;
	m.usl[0].vw = 0.5;
	m.usl[0].s2 = 0.2;
	se = an_level_se(&m.usl[0], 2);
	NEAR(se, sqrt(0.004), 1e-12);
	/* precisely measured: the miss in full, plus z standard errors */
	m.usl[0].var[2] = 1e-8;
	se = an_level_se(&m.usl[0], 2);
	NEAR(an_model_discrepancy(&m, AN_FORM_MG1, &f, 1), log(1.1) + AN_BOUND_Z * se, 1e-6);
	/* loosely measured: shrunk towards the prior, never beyond z * 5% more */
	m.usl[0].var[2] = 1;
	d = an_model_discrepancy(&m, AN_FORM_MG1, &f, 1);
	CU_ASSERT(d > 0 && d < 0.1 * log(1.1) + AN_BOUND_Z * 0.05);
	/* the model long at the level: only the noise remains */
	m.usl[0].var[2] = 1e-8;
	m.usl[0].stat[2] = 0.8 * pred;
	NEAR(an_model_discrepancy(&m, AN_FORM_MG1, &f, 1), 0, 1e-3);
	/* a tail stretch counts in the prediction it is measured against */
	m.usl[0].stat[2] = f.d0 + 1.2 * (pred - f.d0);
	NEAR(an_model_discrepancy(&m, AN_FORM_MG1, &f, 1.2), 0, 1e-3);
	/* the bound carries e^D on top of the inflated load */
	m.usl[0].stat[2] = 1.1 * pred;
	d = an_model_discrepancy(&m, AN_FORM_MG1, &f, 1);
	up = an_model_q_hi(&m, AN_FORM_MG1, &f, 1, 130, 1, 0.99, &b);
	b0.levels = false;	/* a fit to the shadow: no discrepancy */
	up0 = an_model_q_hi(&m, AN_FORM_MG1, &f, 1, 130, 1, 0.99, &b0);
	NEAR(up, up0 * exp(d), 1e-12);
	CU_ASSERT(up0 > f.d0 + an_model_q(NULL, AN_FORM_MG1, &f, 130, 1, 0.99));
	NEAR(an_model_exceed_hi(&m, AN_FORM_MG1, &f, 1, 130, 1, up, &b), 0.01, 1e-5);
	NEAR(an_model_exceed_hi(&m, AN_FORM_MG1, &f, 1, 130, 1, up0, &b0), 0.01, 1e-5);
	NEAR(an_model_q_hi(NULL, AN_FORM_MG1, &f, 1, 130, 1, 0.99, &b), up0, 1e-12);
	/* nondecreasing in the load, as the recommendation's bisection needs */
	CU_ASSERT(an_model_q_hi(&m, AN_FORM_MG1, &f, 1, 140, 1, 0.99, &b) > up);
	/* what prod's model gives: its levels' highest load, the capacity's
	 * relative standard error */
	{
		struct an_bound p;
		struct an_fit g = f;

		g.v = 16;
		an_bound_prod(&m, &g, 0.1, &p);
		NEAR(p.lam_obs, 100, 0);
		NEAR(p.rsd, sqrt(16 * 0.1 / 1.9) / 200, 1e-12);
		NEAR(p.weight, 0.1, 0);
		CU_ASSERT(p.levels);
	}
}

/* --- ggc against closed forms and simulation -------------------------------- */

static void test_ggc_closed(void)
{
	static const double cs2s[] = { 0, 0.3, 1, 2.5 };
	static const uint32_t cs[] = { 2, 4, 8, 32 };
	struct an_fit f = { .mu = 200, .d0 = 0.001, .w = 1 }, g;

	/* c = 1: the Pollaczek-Khinchine mean, exactly */
	for (size_t i = 0; i < sizeof(cs2s) / sizeof(cs2s[0]); i++) {
		f.cs2 = cs2s[i];
		for (double rho = 0.05; rho < 0.96; rho += 0.1) {
			double pk = 0.005 + rho * 0.005 * (1 + f.cs2) / (2 * (1 - rho));

			NEAR(an_model_mean(NULL, AN_FORM_GGC, &f, rho * 200, 1), pk, 1e-12 * pk);
			NEAR(an_model_mean(NULL, AN_FORM_MG1, &f, rho * 200, 1), pk, 1e-12 * pk);
		}
	}
	/* cs2 = 1: M/M/c. The mean is Erlang-C's, 1/mu + C / (c mu - c lam),
	 * exactly, and the quantiles are mmc's. */
	f.cs2 = 1;
	for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
		uint32_t c = cs[i];

		for (double rho = 0.1; rho < 0.96; rho += 0.1) {
			double lam = rho * 200, C = an_erlang_c(c, c * rho);
			double want = 1.0 / 200 + C / (c * (200 - lam));

			NEAR(an_model_mean(NULL, AN_FORM_GGC, &f, lam, c), want, 1e-12 * want);
			NEAR(an_model_mean(NULL, AN_FORM_MMC, &f, lam, c), want, 1e-12 * want);
			for (double q = 0.5; q < 0.9991; q = q < 0.99 ? q + 0.1 : q + 0.009) {
				double a = an_model_q(NULL, AN_FORM_GGC, &f, lam, c, q);
				double b = an_model_q(NULL, AN_FORM_MMC, &f, lam, c, q);

				NEAR(a, b, 1e-6 * b);
				/* exceed agrees with the quantile */
				NEAR(an_model_exceed(NULL, AN_FORM_GGC, &f, lam, c, f.d0 + a),
				     1 - q, 1e-5 * (1 - q));
			}
		}
	}
	/* many servers: the wait's rate lies far beyond the service's and
	 * nothing overflows; no load is the service alone; saturation */
	f.cs2 = 0.2;
	{
		double q = an_model_q(NULL, AN_FORM_GGC, &f, 0.95 * 200, 2000, 0.99);

		CU_ASSERT(isfinite(q) && q >= 0.005 && q < 0.02);
		f.cs2 = 0;
		NEAR(an_model_q(NULL, AN_FORM_GGC, &f, 0, 8, 0.99), 0.005, 1e-8);
		CU_ASSERT(isinf(an_model_q(NULL, AN_FORM_GGC, &f, 200, 8, 0.99)));
		CU_ASSERT(isinf(an_model_mean(NULL, AN_FORM_GGC, &f, 250, 8)));
		NEAR(an_model_exceed(NULL, AN_FORM_GGC, &f, 250, 8, 1), 1, 0);
	}
	/* pooling: more servers at the same utilisation, a shorter tail */
	f.cs2 = 0.5;
	CU_ASSERT(an_model_q(NULL, AN_FORM_GGC, &f, 160, 8, 0.99) <
		  an_model_q(NULL, AN_FORM_GGC, &f, 160, 2, 0.99));
	CU_ASSERT(an_model_q(NULL, AN_FORM_GGC, &f, 160, 2, 0.99) <
		  an_model_q(NULL, AN_FORM_MG1, &f, 160, 2, 0.99) * 1.0001 + 0.005);
	/* the fit recovers a ggc from its own quantiles and mean */
	f = (struct an_fit){ .mu = 200, .d0 = 0.002, .w = 1, .cs2 = 0.5 };
	CU_ASSERT_EQUAL_FATAL(an_fit_service(AN_FORM_GGC, 150, 4,
		f.d0 + an_model_q(NULL, AN_FORM_GGC, &f, 150, 4, 0.5),
		f.d0 + an_model_q(NULL, AN_FORM_GGC, &f, 150, 4, 0.9),
		f.d0 + an_model_q(NULL, AN_FORM_GGC, &f, 150, 4, 0.99),
		f.d0 + an_model_mean(NULL, AN_FORM_GGC, &f, 150, 4), -1, &g), 0);
	printf("\n    ggc fit of its own statistics: mu %.2f (200) d0 %.3f ms (2) cs2 %.3f (0.5)",
	       g.mu, g.d0 * 1e3, g.cs2);
	NEAR(g.mu, 200, 2);
	NEAR(g.d0, 0.002, 0.0001);
	NEAR(g.cs2, 0.5, 0.05);
	CU_ASSERT_EQUAL(an_fit_service(AN_FORM_MM1, 150, 4, 0.01, 0.02, 0.03, 0.012, -1, &g),
			-EDOM);
	CU_ASSERT_EQUAL(an_fit_service(AN_FORM_GGC, 150, 0, 0.01, 0.02, 0.03, 0.012, -1, &g),
			-EDOM);
	CU_ASSERT_EQUAL(an_fit_point(AN_FORM_GGC, 150, 4, 0.01, 0.03, &g), 0);
	CU_ASSERT(g.mu > 150);
}

/* M/D/c and the bimodal server (90% fast, 10% eight times slower) against
 * a FIFO queue of c servers simulated, c 2, 4, 8, utilisation 0.5-0.85.
 * The model's p99 is never short of the simulated one by more than 3% (a
 * recommendation rests on it) and errs high by a bounded amount: at most
 * 15% for M/D/c (the tail decays at the heavy-traffic rate, slower than
 * the true one at light load), 35% for the bimodal server (at light load
 * with many servers its p99 is the service time's own, and the
 * hyperexponential mg1 takes for cs2 1.53 has a longer tail than two
 * points; mg1_bimodal_sim allows 30% at c = 1). The mean within 4%. */
#define GGC_SIM_N 400000
static void test_ggc_sim(void)
{
	static const uint32_t cs[] = { 2, 4, 8 };
	static const double rhos[] = { 0.5, 0.65, 0.75, 0.85 };
	static const enum svc kinds[] = { SVC_DET, SVC_BIMODAL };
	static const char *const kname[] = { "M/D/c", "bimodal" };
	static const double hi_tol[] = { 1.15, 1.35 };
	double s = 0.005, worst_lo = INFINITY, worst_hi = 0;

	printf("\n    %-8s %2s %5s %10s %10s %7s %10s %10s %7s", "service", "c", "rho",
	       "p99 model", "p99 sim", "err", "mean model", "mean sim", "err");
	for (size_t k = 0; k < 2; k++) {
		double cs2 = kinds[k] == SVC_DET ? 0 : (0.9 + 6.4) / (1.7 * 1.7) - 1;
		struct an_fit f = { .mu = 1 / s, .w = 1, .cs2 = cs2 };

		for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
			for (size_t r = 0; r < sizeof(rhos) / sizeof(rhos[0]); r++) {
				double lam = rhos[r] / s, q[3], mean;
				double p99 = an_model_q(NULL, AN_FORM_GGC, &f, lam, cs[i], 0.99);
				double mm = an_model_mean(NULL, AN_FORM_GGC, &f, lam, cs[i]);

				sim_fifo(kinds[k], s, lam, cs[i], GGC_SIM_N,
					 1000 + 100 * k + 10 * i + r, q, &mean);
				printf("\n    %-8s %2u %5.2f %7.2f ms %7.2f ms %+6.1f%% %7.2f ms %7.2f ms %+6.1f%%",
				       kname[k], cs[i], rhos[r], p99 * 1e3, q[2] * 1e3,
				       (p99 / q[2] - 1) * 100, mm * 1e3, mean * 1e3,
				       (mm / mean - 1) * 100);
				worst_lo = fmin(worst_lo, p99 / q[2]);
				worst_hi = fmax(worst_hi, p99 / q[2]);
				CU_ASSERT(p99 >= 0.97 * q[2]);
				CU_ASSERT(p99 <= hi_tol[k] * q[2]);
				NEAR(mm, mean, 0.04 * mean);
			}
		}
	}
	printf("\n    p99 model / simulated: %.3f to %.3f", worst_lo, worst_hi);
}

/* The upper bound judge.c recommends on (an_model_q_hi, with what
 * an_bound_prod gives it), for ggc fitted to short runs as the analyzer
 * fits prod: windows of a shared M/D/4 (or bimodal) queue at rho 0.3 and
 * 0.5 in turn folded by an_model_learn_prod, then the p99 bound at rho 0.5
 * (where only the fit's uncertainty and its misses at the loads seen widen
 * it) and at 0.75 (beyond what was seen). Over seeded repetitions it
 * covers the simulated truth at least at its nominal rate (95%, one
 * sided) for both servers at both loads, and the median bound over the
 * truth stays within 1.25 at rho 0.5 and 2 at 0.75 (a bound that covers
 * by being useless fails too). The bimodal server is the hard case: at
 * rho 0.5 its p99 is the service time's own tail, which ggc's smooth
 * family misses by a few percent and an inflated load barely moves (the
 * bound's discrepancy term covers it: without it 0 of 30), and its p90
 * sits on the jump between the modes, which pulled fits weighing it like
 * the mean to 1.5 times the capacity (30% short at 0.75: the fit now
 * weighs each statistic by its spread). Two loads, because one does not
 * pin a pooled queue: at rho 0.5 alone M/D/4's statistics are fitted as
 * well by a fixed part and a variable service nine times faster, whose
 * bound at 0.75 covers nothing. */
#define BOUND_RUNS 30
#define BOUND_WINDOWS 20
static void test_ggc_bound(void)
{
	static const enum svc kinds[] = { SVC_DET, SVC_BIMODAL };
	static const char *const kname[] = { "M/D/4", "bimodal" };
	const double s = 0.005, wgt = 0.1, rhos[2] = { 0.5, 0.75 }, rho_win[2] = { 0.3, 0.5 };
	const double max_median[2] = { 1.25, 2.0 };
	const uint32_t c = 4;

	for (size_t k = 0; k < 2; k++) {
		double truth[2], q[3], mean, worst[2] = { INFINITY, INFINITY };
		double ratio[2][BOUND_RUNS], disc[BOUND_RUNS];
		int covered[2] = { 0, 0 };

		for (int t = 0; t < 2; t++) {
			sim_fifo(kinds[k], s, rhos[t] / s, c, 1000000, 3000 + 10 * k + (size_t)t, q,
				 &mean);
			truth[t] = q[2];
		}
		for (int run = 0; run < BOUND_RUNS; run++) {
			struct an_model m;
			struct an_bound b;
			const struct an_fit *f;

			an_model_init(&m);
			for (int i = 0; i < BOUND_WINDOWS; i++) {
				/* a 5 s window of 800 rps: 4000 requests */
				struct an_obs o = { .lam = rho_win[i % 2] / s, .c = c, .n = 4000,
						    .requests = 4000 };

				sim_fifo(kinds[k], s, o.lam, c, 4400,
					 100000 * (k + 1) + 1000 * (uint64_t)run + (uint64_t)i, q, &mean);
				o.p50 = q[0];
				o.p90 = q[1];
				o.p99 = q[2];
				o.mean = mean;
				an_model_learn_prod(&m, &o, wgt, AN_MODEL_GGC);
			}
			CU_ASSERT_EQUAL_FATAL(m.form, AN_FORM_GGC);
			f = &m.prod[AN_FORM_GGC];
			an_bound_prod(&m, f, wgt, &b);
			disc[run] = exp(an_model_discrepancy(&m, AN_FORM_GGC, f, 1));
			for (int t = 0; t < 2; t++) {
				double up = an_model_q_hi(&m, AN_FORM_GGC, f, 1, rhos[t] / s, c, 0.99, &b);

				covered[t] += up >= truth[t];
				ratio[t][run] = up / truth[t];
				worst[t] = fmin(worst[t], up / truth[t]);
				if (run == 0)
					printf("\n    %s: fit mu %.1f (200) cs2 %.2f rsd %.3f discrepancy x%.3f; rho %.2f: bound %.2f ms, simulated %.2f ms",
					       kname[k], f->mu, f->cs2, b.rsd, disc[run], rhos[t],
					       up * 1e3, truth[t] * 1e3);
			}
		}
		qsort(disc, BOUND_RUNS, sizeof(disc[0]), cmp_dbl);
		for (int t = 0; t < 2; t++) {
			double med;

			qsort(ratio[t], BOUND_RUNS, sizeof(ratio[t][0]), cmp_dbl);
			med = ratio[t][BOUND_RUNS / 2];
			printf("\n    %s rho %.2f: bound covers the truth in %d of %d fits, at worst %.3f of it, median bound/truth %.3f",
			       kname[k], rhos[t], covered[t], BOUND_RUNS, worst[t], med);
			CU_ASSERT(covered[t] >= 0.95 * BOUND_RUNS);
			CU_ASSERT(med <= max_median[t]);
		}
		printf("\n    %s: discrepancy factor median x%.3f, largest x%.3f", kname[k],
		       disc[BOUND_RUNS / 2], disc[BOUND_RUNS - 1]);
	}
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "erlang_c", test_erlang_c },
		{ "mm1", test_mm1 },
		{ "mmc", test_mmc },
		{ "learn", test_learn },
		{ "two_loads", test_two_loads },
		{ "mg1_closed", test_mg1_closed },
		{ "mg1_md1_sim", test_mg1_md1_sim },
		{ "mg1_bimodal_sim", test_mg1_bimodal_sim },
		{ "mg1_fit_sim", test_mg1_fit_sim },
		{ "mg1_bound", test_mg1_bound },
		{ "bound_discrepancy", test_bound_discrepancy },
		{ "ggc_closed", test_ggc_closed },
		{ "ggc_sim", test_ggc_sim },
		{ "ggc_bound", test_ggc_bound },
		{ NULL, NULL },
	};

	return st_cu_add_suite("an_model", NULL, NULL, tests);
}
