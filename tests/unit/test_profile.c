/* Rate profiles (loadgen/profile.c) and the pacing math on top of them
 * (loadgen/pacer.h): parsing with line-numbered errors, interpolation,
 * the cumulative and its inverse, absolute deadlines without drift, and
 * the Poisson gaps. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cunit_main.h"
#include "pacer.h"
#include "profile.h"

static int parse(const char *text, struct lg_profile *p, struct st_perr *err)
{
	return lg_profile_parse(text, strlen(text), "p.csv", p, err);
}

static void test_parse_ok(void)
{
	struct lg_profile p;
	struct st_perr err;
	const char *text =
		"# a comment line\r\n"
		"T_Seconds , PPS\r\n"
		"\n"
		"0, 1000   # start\r\n"
		"10,1000\n"
		"10,5000\n"
		"40 , 8000\n";

	CU_ASSERT_EQUAL_FATAL(parse(text, &p, &err), 0);
	CU_ASSERT_EQUAL(p.kind, LG_PROFILE_PPS);
	CU_ASSERT_EQUAL(p.n, 4);
	CU_ASSERT_DOUBLE_EQUAL(lg_profile_end(&p), 40, 1e-12);
	/* 10 s at 1000, then a ramp 5000 -> 8000 over 30 s. */
	CU_ASSERT_DOUBLE_EQUAL(p.pts[3].cum, 10000 + 30 * 6500, 1e-6);
	lg_profile_free(&p);

	CU_ASSERT_EQUAL_FATAL(parse("t_seconds,multiplier\n0,0.5\n2,2", &p, &err), 0);
	CU_ASSERT_EQUAL(p.kind, LG_PROFILE_MULTIPLIER);
	CU_ASSERT_EQUAL(p.n, 2);
	lg_profile_free(&p);
}

/* Each error names the line and the reason. */
static void test_parse_errors(void)
{
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
		{ "", "p.csv:0: empty" },
		{ "# only a comment\n", "empty" },
		{ "t,pps\n0,1\n", "p.csv:1: header must be" },
		{ "t_seconds,rate\n0,1\n", "p.csv:1: header must be" },
		{ "t_seconds,pps\n", "no points after the header" },
		{ "t_seconds,pps\n0\n", "p.csv:2: expected two fields" },
		{ "t_seconds,pps\n0,1,2\n", "p.csv:2: expected two fields" },
		{ "t_seconds,pps\n0,x\n", "p.csv:2: pps 'x'" },
		{ "t_seconds,pps\nzero,1\n", "p.csv:2: t_seconds 'zero'" },
		{ "t_seconds,pps\n0,-1\n", "p.csv:2: pps '-1': out of range" },
		{ "t_seconds,pps\n0,nan\n", "p.csv:2: pps" },
		{ "t_seconds,pps\n0,inf\n", "p.csv:2: pps" },
		{ "t_seconds,pps\n1,5\n", "p.csv:2: the first point must be at t_seconds 0" },
		{ "t_seconds,pps\n0,5\n3,5\n2,5\n", "p.csv:4: t_seconds 2 is before the previous point's 3" },
		{ "t_seconds,pps\n0,5\n3,5\n3,6\n3,7\n", "p.csv:5: a third point at t_seconds 3" },
		{ "t_seconds,pps\n0,5\n", "lasts 0 s" },
		{ "t_seconds,multiplier\n0,1\n5,2000000\n", "p.csv:3: multiplier" },
	};
	char nul[] = "t_seconds,pps\n0,5\n1,\0\n";

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lg_profile p;
		struct st_perr err = { "" };
		int rc = parse(cases[i].text, &p, &err);

		CU_ASSERT_EQUAL(rc, -EINVAL);
		if (strstr(err.msg, cases[i].msg) == NULL) {
			fprintf(stderr, "case %zu: got '%s', want '%s'\n", i, err.msg, cases[i].msg);
			CU_FAIL("error message");
		}
		CU_ASSERT_PTR_NULL(p.pts);
	}
	{
		struct lg_profile p;
		struct st_perr err;

		CU_ASSERT_EQUAL(lg_profile_parse(nul, sizeof(nul) - 1, "p.csv", &p, &err), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "p.csv:3: line longer than"));
	}
}

static void test_rate_and_cum(void)
{
	struct lg_profile p;
	struct st_perr err;

	CU_ASSERT_EQUAL_FATAL(parse("t_seconds,pps\n0,100\n1,100\n1,300\n3,500\n4,0\n", &p, &err), 0);
	CU_ASSERT_DOUBLE_EQUAL(lg_profile_rate(&p, 0.5), 100, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(lg_profile_rate(&p, 1.0), 300, 1e-9);	/* after the step */
	CU_ASSERT_DOUBLE_EQUAL(lg_profile_rate(&p, 2.0), 400, 1e-9);	/* mid-ramp */
	CU_ASSERT_DOUBLE_EQUAL(lg_profile_rate(&p, 3.5), 250, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(lg_profile_rate(&p, 4.5), 0, 1e-9);	/* past the end */
	CU_ASSERT_DOUBLE_EQUAL(lg_profile_cum(&p, 1), 100, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(lg_profile_cum(&p, 2), 100 + 350, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(lg_profile_cum(&p, 3), 100 + 800, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(lg_profile_cum(&p, 4), 100 + 800 + 250, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(lg_profile_cum(&p, 99), 1150, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(lg_profile_cum(&p, -1), 0, 1e-9);
	lg_profile_free(&p);
}

/* time_at is the inverse of cum, through steps, ramps (up and down) and
 * a stretch at rate 0, with a cursor or without. */
static void test_inverse(void)
{
	struct lg_profile p;
	struct st_perr err;
	uint32_t cur = 0;
	double prev = 0;

	CU_ASSERT_EQUAL_FATAL(parse("t_seconds,pps\n0,100\n1,100\n1,300\n3,500\n4,0\n5,0\n5,50\n7,50\n",
				    &p, &err), 0);
	CU_ASSERT_DOUBLE_EQUAL(lg_profile_time_at(&p, 0, &cur), 0, 1e-12);
	for (double pos = 0.5; pos <= p.pts[p.n - 1].cum; pos += 0.5) {
		uint32_t fresh = 0;
		double t = lg_profile_time_at(&p, pos, &cur);

		CU_ASSERT(t >= prev);
		CU_ASSERT_DOUBLE_EQUAL(lg_profile_cum(&p, t), pos, 1e-6);
		CU_ASSERT_DOUBLE_EQUAL(lg_profile_time_at(&p, pos, &fresh), t, 1e-9);
		/* Nothing is due during the stretch at rate 0. */
		CU_ASSERT(!(t > 4 + 1e-9 && t < 5 - 1e-9));
		prev = t;
	}
	CU_ASSERT(isinf(lg_profile_time_at(&p, p.pts[p.n - 1].cum + 0.01, &cur)));
	/* Going back resets the cursor. */
	CU_ASSERT_DOUBLE_EQUAL(lg_profile_time_at(&p, 50, &cur), 0.5, 1e-9);
	lg_profile_free(&p);
	/* A silent lead-in: the first packet is due where the rate rises,
	 * not at 0; a profile all 0 sends none. */
	CU_ASSERT_EQUAL_FATAL(parse("t_seconds,pps\n0,0\n30,0\n30,1000\n90,1000\n", &p, &err), 0);
	cur = 0;
	CU_ASSERT_DOUBLE_EQUAL(lg_profile_time_at(&p, 0, &cur), 30, 1e-12);
	lg_profile_free(&p);
	CU_ASSERT_EQUAL_FATAL(parse("t_seconds,pps\n0,0\n10,0\n", &p, &err), 0);
	cur = 0;
	CU_ASSERT(isinf(lg_profile_time_at(&p, 0, &cur)));
	lg_profile_free(&p);
}

/* Deadlines come from absolute positions: the 10 millionth packet at 1
 * Mpps is due at exactly 10 s, whatever came before. */
static void test_no_drift(void)
{
	struct lg_rate r = { .profile = NULL, .per_s = 1e6, .unit = LG_UNIT_PACKETS };
	struct lg_profile p;
	struct st_perr err;
	uint32_t cur = 0;
	double t = 0;

	CU_ASSERT_DOUBLE_EQUAL(lg_rate_time_at(&r, 1e7, &cur), 10.0, 1e-12);
	for (uint64_t i = 0; i < 10000000; i += 999983)
		t = lg_rate_time_at(&r, (double)i, &cur);
	CU_ASSERT_DOUBLE_EQUAL(t, 9999830 / 1e6, 1e-12);

	/* A profile at a constant 1 Mpps for a day. */
	CU_ASSERT_EQUAL_FATAL(parse("t_seconds,pps\n0,1000000\n86400,1000000\n", &p, &err), 0);
	r.profile = &p;
	CU_ASSERT_DOUBLE_EQUAL(lg_rate_time_at(&r, 86399e6, &cur), 86399, 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(lg_rate_pos_at(&r, 12.5), 12.5e6, 1e-3);
	r.pkts_per_unit = 1;
	CU_ASSERT_DOUBLE_EQUAL(lg_rate_pps_at(&r, 100), 1e6, 1e-6);
	lg_profile_free(&p);
}

/* Exponential variates: mean 1, P(x < ln 2) = 1/2, never 0 or infinite. */
static void test_poisson_gaps(void)
{
	uint64_t s = lg_rng_seed(42, 0), s2 = lg_rng_seed(42, 1);
	double sum = 0, sum2 = 0;
	int below = 0, n = 200000;

	CU_ASSERT_NOT_EQUAL(s, s2);
	for (int i = 0; i < n; i++) {
		double x = lg_rng_exp(&s);

		CU_ASSERT_FATAL(x > 0 && isfinite(x));
		sum += x;
		sum2 += x * x;
		below += x < log(2);
	}
	CU_ASSERT_DOUBLE_EQUAL(sum / n, 1.0, 0.01);
	CU_ASSERT_DOUBLE_EQUAL(sum2 / n - (sum / n) * (sum / n), 1.0, 0.03);
	CU_ASSERT_DOUBLE_EQUAL((double)below / n, 0.5, 0.005);
	CU_ASSERT_NOT_EQUAL(lg_rng_seed(0, 0), 0);
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "parse_ok", test_parse_ok },
		{ "parse_errors", test_parse_errors },
		{ "rate_and_cum", test_rate_and_cum },
		{ "inverse", test_inverse },
		{ "no_drift", test_no_drift },
		{ "poisson_gaps", test_poisson_gaps },
		{ NULL, NULL },
	};

	return st_cu_add_suite("profile", NULL, NULL, tests);
}
