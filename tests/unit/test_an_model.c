/* The capacity model: closed forms, fits, the USL. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "cunit_main.h"
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

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "erlang_c", test_erlang_c },
		{ "mm1", test_mm1 },
		{ "mmc", test_mmc },
		{ "learn", test_learn },
		{ "two_loads", test_two_loads },
		{ NULL, NULL },
	};

	return st_cu_add_suite("an_model", NULL, NULL, tests);
}
