/* shadowtap-forecast's parts (loadgen/history.c, common/holt_winters.c):
 * history parsing with line-numbered errors, season detection, Holt-Winters
 * against the seasonal-naive baseline on a noisy seasonal series, a
 * constant series forecast as constant, quantiles from the residuals. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "history.h"
#include "holt_winters.h"
#include "pacer.h"

/* A seasonal series: level, trend, a season of m, a weaker one of m / 4,
 * Gaussian noise of sd. */
static void synth(double *y, uint32_t n, uint32_t m, double sd, uint64_t seed)
{
	uint64_t s = seed;

	for (uint32_t i = 0; i < n; i++) {
		double u1 = ((double)(lg_rng_next(&s) >> 11) + 1) / 9007199254740993.0;
		double u2 = ((double)(lg_rng_next(&s) >> 11) + 1) / 9007199254740993.0;
		double z = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);

		y[i] = 1000 + 0.5 * i + 300 * sin(2 * M_PI * i / m) +
		       80 * cos(2 * M_PI * i * 4 / m) + sd * z;
	}
}

static void test_history_parse(void)
{
	struct lg_history h;
	struct st_perr err;
	const char *ok = "# rates\r\ntimestamp, rate\r\n100,5\n160,6.5 # c\n\n220,0\n";
	static const struct {
		const char *text;
		const char *msg;
	} bad[] = {
		{ "time,rate\n0,1\n1,2\n", "h.csv:1: header must be" },
		{ "timestamp,rate\n0,1\n", "1 points: a history needs at least two" },
		{ "timestamp,rate\n0,1\n60,x\n", "h.csv:3: rate 'x'" },
		{ "timestamp,rate\n0,1\n60,-1\n", "h.csv:3: rate '-1'" },
		{ "timestamp,rate\n0,1\n60\n", "h.csv:3: expected two fields" },
		{ "timestamp,rate\n0,1\n60,1,1\n", "h.csv:3: expected two fields" },
		{ "timestamp,rate\n60,1\n0,1\n", "h.csv:3: timestamp 0 does not come after 60" },
		{ "timestamp,rate\n0,1\n60,1\n90,1\n", "h.csv:4: uneven spacing" },
		{ "", "0 points" },
	};

	CU_ASSERT_EQUAL_FATAL(lg_history_parse(ok, strlen(ok), "h.csv", &h, &err), 0);
	CU_ASSERT_EQUAL(h.n, 3);
	CU_ASSERT_DOUBLE_EQUAL(h.t0, 100, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(h.step, 60, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(h.y[1], 6.5, 1e-12);
	lg_history_free(&h);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct st_perr e = { "" };

		CU_ASSERT_EQUAL(lg_history_parse(bad[i].text, strlen(bad[i].text), "h.csv", &h, &e),
				-EINVAL);
		if (strstr(e.msg, bad[i].msg) == NULL) {
			fprintf(stderr, "case %zu: got '%s', want '%s'\n", i, e.msg, bad[i].msg);
			CU_FAIL("history error message");
		}
		CU_ASSERT_PTR_NULL(h.y);
	}
	/* A 0.1 s series at today's Unix time, after a spreadsheet's byte
	 * order mark: each gap is rounded by some 2e-7 s, beyond a millionth
	 * of the step (refused as uneven spacing, the header as no header) */
	{
		char text[4096];
		size_t len = (size_t)snprintf(text, sizeof(text), "\xef\xbb\xbftimestamp,rate\n");

		for (int k = 0; k < 50; k++)
			len += (size_t)snprintf(text + len, sizeof(text) - len, "%.1f,5\n",
						1764000000.0 + k * 0.1);
		CU_ASSERT_EQUAL_FATAL(lg_history_parse(text, len, "h.csv", &h, &err), 0);
		CU_ASSERT_EQUAL(h.n, 50);
		CU_ASSERT_DOUBLE_EQUAL(h.step, 0.1, 1e-7);	/* 4.9 s over 49, rounded */
		lg_history_free(&h);
	}
}

static void test_detect_season(void)
{
	double *y = malloc(sizeof(double) * 2000);
	uint32_t periods[] = { 7, 12, 24, 60 };

	CU_ASSERT_PTR_NOT_NULL_FATAL(y);
	for (size_t i = 0; i < sizeof(periods) / sizeof(periods[0]); i++) {
		synth(y, 2000, periods[i], 40, 11 + i);
		CU_ASSERT_EQUAL(hw_detect_season(y, 2000), periods[i]);
	}
	for (uint32_t i = 0; i < 500; i++)
		y[i] = 42;
	CU_ASSERT_EQUAL(hw_detect_season(y, 500), 0);
	free(y);
}

/* Noisy seasonal series: Holt-Winters beats the seasonal naive forecast
 * on a held-out tail (MASE < 1, and below the naive forecast's). */
static void test_beats_seasonal_naive(void)
{
	const uint32_t m = 24, n = 24 * 20, hold = 48;
	double y[24 * 20], f[48], sn[48], scale, mase, mase_sn;
	struct hw_model mod;
	struct st_perr err;

	synth(y, n, m, 40, 5);
	CU_ASSERT_EQUAL_FATAL(hw_fit(y, n - hold, m, 0, &mod, &err), 0);
	hw_forecast(&mod, hold, f);
	hw_seasonal_naive(y, n - hold, m, hold, sn);
	scale = hw_naive_mae(y, n - hold, m);
	mase = hw_mae(y + n - hold, f, hold) / scale;
	mase_sn = hw_mae(y + n - hold, sn, hold) / scale;
	CU_ASSERT(mase < 1.0);
	CU_ASSERT(mase < mase_sn);
	CU_ASSERT(hw_smape(y + n - hold, f, hold) < hw_smape(y + n - hold, sn, hold));
	CU_ASSERT(mod.alpha >= 0 && mod.alpha <= 1 && mod.gamma1 >= 0 && mod.gamma1 <= 1);
	/* About 90% of the held-out points at or below the 0.9 quantile. */
	{
		int below = 0;

		for (uint32_t k = 0; k < hold; k++)
			below += y[n - hold + k] <= f[k] + hw_quantile_offset(&mod, 0.9, k + 1);
		CU_ASSERT(below >= 36 && below <= 48);
		CU_ASSERT(hw_quantile_offset(&mod, 0.9, 1) > 0);
		CU_ASSERT(hw_quantile_offset(&mod, 0.1, 1) < 0);
		CU_ASSERT(hw_quantile_offset(&mod, 0.9, 30) > hw_quantile_offset(&mod, 0.9, 1));
	}
	hw_free(&mod);
}

/* Two seasons (daily and weekly in hourly data). */
static void test_double_season(void)
{
	const uint32_t n = 24 * 7 * 6, hold = 48;
	double *y = malloc(sizeof(double) * n), f[48], sn[48];
	struct hw_model mod;
	struct st_perr err;
	uint64_t s = 9;

	CU_ASSERT_PTR_NOT_NULL_FATAL(y);
	for (uint32_t i = 0; i < n; i++)
		y[i] = 500 + 200 * sin(2 * M_PI * i / 24) + 150 * ((i / 24) % 7 >= 5) +
		       20 * lg_rng_exp(&s);
	CU_ASSERT_EQUAL_FATAL(hw_fit(y, n - hold, 24, 168, &mod, &err), 0);
	hw_forecast(&mod, hold, f);
	hw_seasonal_naive(y, n - hold, 168, hold, sn);
	CU_ASSERT(hw_mae(y + n - hold, f, hold) / hw_naive_mae(y, n - hold, 168) < 1.0);
	hw_free(&mod);
	free(y);
}

static void test_constant(void)
{
	double y[100], f[30];
	struct hw_model mod;
	struct st_perr err;

	for (int i = 0; i < 100; i++)
		y[i] = 750;
	CU_ASSERT_EQUAL_FATAL(hw_fit(y, 100, 12, 0, &mod, &err), 0);
	hw_forecast(&mod, 30, f);
	for (int k = 0; k < 30; k++)
		CU_ASSERT_DOUBLE_EQUAL(f[k], 750, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(hw_quantile_offset(&mod, 0.9, 10), 0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(hw_naive_mae(y, 100, 12), 0, 1e-12);
	hw_free(&mod);
	CU_ASSERT_EQUAL_FATAL(hw_fit(y, 100, 1, 0, &mod, &err), 0);
	hw_forecast(&mod, 30, f);
	CU_ASSERT_DOUBLE_EQUAL(f[29], 750, 1e-9);
	hw_free(&mod);
}

static void test_too_short(void)
{
	double y[30] = { 0 };
	struct hw_model mod;
	struct st_perr err;

	CU_ASSERT_EQUAL(hw_fit(y, 30, 24, 0, &mod, &err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "too few"));
	CU_ASSERT_EQUAL(hw_fit(y, 30, 4, 3, &mod, &err), -EINVAL);
	CU_ASSERT_EQUAL(hw_fit(y, 3, 1, 0, &mod, &err), -EINVAL);
	CU_ASSERT_EQUAL(hw_min_points(24, 168), 336);
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "history_parse", test_history_parse },
		{ "detect_season", test_detect_season },
		{ "beats_seasonal_naive", test_beats_seasonal_naive },
		{ "double_season", test_double_season },
		{ "constant", test_constant },
		{ "too_short", test_too_short },
		{ NULL, NULL },
	};

	return st_cu_add_suite("forecast", NULL, NULL, tests);
}
