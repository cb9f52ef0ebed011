/* HDR histogram: layout equal to HdrHistogram's, recording and queries
 * against exact order statistics, clamping, merge, V2 encoding round trips,
 * every class of malformed input, and the vectors hdr-histogram-js encoded
 * (tests/fixtures/hdr_js_vectors.json), so the foreign-encoding check runs
 * without node. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "base64.h"
#include "cunit_main.h"
#include "hist.h"

#define HOUR_NS 3600000000000LL

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Log-uniform in 1..max, so every bucket magnitude gets samples. */
static int64_t rng_log(int64_t max)
{
	double e = (double)(rng() >> 11) / 9007199254740992.0 * log((double)max);
	int64_t v = (int64_t)exp(e);

	return v < 1 ? 1 : (v > max ? max : v);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static bool counts_equal(const struct st_hist *a, const struct st_hist *b)
{
	return a->counts_len == b->counts_len &&
	       memcmp(a->counts, b->counts, (size_t)a->counts_len * sizeof(int64_t)) == 0;
}

/* --- layout --------------------------------------------------------------- */

static void check_layout(int64_t lo, int64_t hi, int sf, int32_t sub_bucket_count,
			 int32_t bucket_count, int32_t counts_len)
{
	struct st_hist *h = st_hist_create(lo, hi, sf);

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(h->sub_bucket_count, sub_bucket_count);
	CU_ASSERT_EQUAL(h->bucket_count, bucket_count);
	CU_ASSERT_EQUAL(h->counts_len, counts_len);
	CU_ASSERT_EQUAL(st_hist_size(lo, hi, sf),
			sizeof(struct st_hist) + (size_t)counts_len * sizeof(int64_t));
	st_hist_destroy(h);
}

static void test_layout(void)
{
	/* HdrHistogram_c's test_create: 1 us..1 h in us at 3 digits. */
	check_layout(1, 3600LL * 1000 * 1000, 3, 2048, 22, 23552);
	/* The rest as hdr-histogram-js (the Java layout) computes them. */
	check_layout(1, HOUR_NS, 3, 2048, 32, 33792);
	check_layout(1, HOUR_NS, 4, 32768, 28, 475136);
	check_layout(1, HOUR_NS, 1, 32, 38, 624);
	check_layout(1000, HOUR_NS, 3, 2048, 23, 24576);
	check_layout(1024, 1000000000000LL, 4, 32768, 16, 278528);
	check_layout(1, 10000000, 5, 262144, 7, 1048576);
	check_layout(1, 2, 1, 32, 1, 32);
	check_layout(1, ST_HIST_HIGHEST_MAX, 3, 2048, 52, 54272);
}

static void test_create_invalid(void)
{
	CU_ASSERT_EQUAL(st_hist_size(0, 100, 3), 0);
	CU_ASSERT_EQUAL(st_hist_size(10, 19, 3), 0);
	CU_ASSERT_NOT_EQUAL(st_hist_size(10, 20, 3), 0);
	CU_ASSERT_EQUAL(st_hist_size(1, 100, 0), 0);
	CU_ASSERT_EQUAL(st_hist_size(1, 100, 6), 0);
	CU_ASSERT_EQUAL(st_hist_size(1, INT64_MAX, 3), 0);
	CU_ASSERT_EQUAL(st_hist_size(-5, 100, 3), 0);
	/* lowest so coarse that unit + sub-bucket magnitudes pass 61 bits */
	CU_ASSERT_EQUAL(st_hist_size(1LL << 58, ST_HIST_HIGHEST_MAX, 5), 0);
	errno = 0;
	CU_ASSERT_PTR_NULL(st_hist_create(0, 100, 3));
	CU_ASSERT_EQUAL(errno, EINVAL);
	st_hist_destroy(NULL);
}

static void test_init_caller_memory(void)
{
	size_t need = st_hist_size(1, HOUR_NS, 3);
	uint64_t *mem = malloc(need + 16);
	struct st_hist *h = (struct st_hist *)mem;

	CU_ASSERT_FATAL(need > 0 && mem != NULL);
	CU_ASSERT_EQUAL(st_hist_init(mem, need - 1, 1, HOUR_NS, 3), -ENOSPC);
	CU_ASSERT_EQUAL(st_hist_init((char *)mem + 4, need, 1, HOUR_NS, 3), -EINVAL);
	CU_ASSERT_EQUAL(st_hist_init(mem, need, 0, HOUR_NS, 3), -EINVAL);
	memset(mem, 0xa5, need);
	CU_ASSERT_EQUAL_FATAL(st_hist_init(mem, need, 1, HOUR_NS, 3), 0);
	CU_ASSERT_EQUAL(st_hist_total(h), 0);
	for (int32_t i = 0; i < h->counts_len; i++)
		CU_ASSERT_EQUAL_FATAL(h->counts[i], 0);
	st_hist_record(h, 1234);
	CU_ASSERT_EQUAL(st_hist_total(h), 1);
	CU_ASSERT_EQUAL(st_hist_value_at_percentile(h, 50), 1234);
	st_hist_destroy(h);	/* must not free caller memory */
	CU_ASSERT_EQUAL(st_hist_total(h), 1);
	free(mem);
}

/* --- equivalent values (HdrHistogram's own test values) ------------------ */

static void test_equivalent_values(void)
{
	struct st_hist *h = st_hist_create(1, 3600LL * 1000 * 1000, 3);

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(st_hist_equivalent_range(h, 1), 1);
	CU_ASSERT_EQUAL(st_hist_equivalent_range(h, 2047), 1);
	CU_ASSERT_EQUAL(st_hist_equivalent_range(h, 2048), 2);
	CU_ASSERT_EQUAL(st_hist_equivalent_range(h, 2500), 2);
	CU_ASSERT_EQUAL(st_hist_equivalent_range(h, 8191), 4);
	CU_ASSERT_EQUAL(st_hist_equivalent_range(h, 8192), 8);
	CU_ASSERT_EQUAL(st_hist_equivalent_range(h, 10000), 8);
	CU_ASSERT_EQUAL(st_hist_lowest_equivalent(h, 10007), 10000);
	CU_ASSERT_EQUAL(st_hist_lowest_equivalent(h, 10009), 10008);
	CU_ASSERT_EQUAL(st_hist_highest_equivalent(h, 8180), 8183);
	CU_ASSERT_EQUAL(st_hist_highest_equivalent(h, 8191), 8191);
	CU_ASSERT_EQUAL(st_hist_highest_equivalent(h, 8193), 8199);
	CU_ASSERT_EQUAL(st_hist_highest_equivalent(h, 9995), 9999);
	CU_ASSERT_EQUAL(st_hist_highest_equivalent(h, 10007), 10007);
	CU_ASSERT_EQUAL(st_hist_highest_equivalent(h, 10008), 10015);
	CU_ASSERT_EQUAL(st_hist_median_equivalent(h, 4), 4);
	CU_ASSERT_EQUAL(st_hist_median_equivalent(h, 5), 5);
	CU_ASSERT_EQUAL(st_hist_median_equivalent(h, 4000), 4001);
	CU_ASSERT_EQUAL(st_hist_median_equivalent(h, 8000), 8002);
	CU_ASSERT_EQUAL(st_hist_median_equivalent(h, 10007), 10004);
	CU_ASSERT(st_hist_values_equivalent(h, 10000, 10007));
	CU_ASSERT(!st_hist_values_equivalent(h, 10007, 10008));
	/* out-of-range inputs are clamped, not undefined */
	CU_ASSERT_EQUAL(st_hist_lowest_equivalent(h, -7), 0);
	CU_ASSERT(st_hist_highest_equivalent(h, INT64_MAX) > 0);
	st_hist_destroy(h);
}

/* --- recording and percentiles ------------------------------------------ */

static void test_uniform_1e6(void)
{
	struct st_hist *h = st_hist_create(1, HOUR_NS, 3);
	int64_t p50;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	for (int64_t v = 1; v <= 1000000; v++)
		st_hist_record(h, v);
	CU_ASSERT_EQUAL(st_hist_total(h), 1000000);
	p50 = st_hist_value_at_percentile(h, 50.0);
	CU_ASSERT(fabs((double)p50 - 500000.0) <= 500000.0 * 1e-3);
	CU_ASSERT(st_hist_values_equivalent(h, st_hist_value_at_percentile(h, 99.0), 990000));
	CU_ASSERT_EQUAL(st_hist_min(h), 1);
	CU_ASSERT(st_hist_values_equivalent(h, st_hist_max(h), 1000000));
	CU_ASSERT(fabs(st_hist_mean(h) - 500000.5) < 500000.0 * 1e-3);
	st_hist_destroy(h);
}

/* Every percentile must be within 10^-sigfigs of the exact order statistic
 * x_(k), k = ceil(p/100 * n), and never below it (highest equivalent). */
static void check_against_exact(int sigfigs, int64_t highest)
{
	enum { N = 20000 };
	static const double pcts[] = { 0, 0.1, 1, 10, 25, 50, 75, 90, 95, 99,
				       99.5, 99.9, 99.99, 100 };
	int64_t *vals = malloc(N * sizeof(*vals));
	struct st_hist *h = st_hist_create(1, highest, sigfigs);
	double tol = pow(10.0, -sigfigs);

	CU_ASSERT_FATAL(vals != NULL && h != NULL);
	for (int i = 0; i < N; i++) {
		vals[i] = rng_log(highest);
		st_hist_record(h, vals[i]);
	}
	qsort(vals, N, sizeof(*vals), cmp_i64);
	for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
		/* minus a hair: 99.9% of 20000 is 19980.000000000004 in
		 * doubles, and the 19981st sample is not what is meant */
		double k = ceil(pcts[i] / 100.0 * N - 1e-6);
		int64_t exact = vals[k < 1 ? 0 : (size_t)k - 1];
		int64_t got = st_hist_value_at_percentile(h, pcts[i]);

		if (pcts[i] == 0) {	/* p0 is the lowest equivalent of min */
			CU_ASSERT(got <= exact);
			CU_ASSERT(exact - got <= (double)exact * tol);
			continue;
		}
		CU_ASSERT(got >= exact);
		CU_ASSERT((double)(got - exact) <= (double)exact * tol);
	}
	free(vals);
	st_hist_destroy(h);
}

static void test_percentiles_vs_exact(void)
{
	check_against_exact(1, HOUR_NS);
	check_against_exact(2, HOUR_NS);
	check_against_exact(3, HOUR_NS);
	check_against_exact(4, HOUR_NS);
	check_against_exact(5, 10000000);
}

static void test_percentile_edges(void)
{
	struct st_hist *h = st_hist_create(1, HOUR_NS, 3);

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(st_hist_value_at_percentile(h, 50), 0);
	CU_ASSERT_EQUAL(st_hist_min(h), 0);
	CU_ASSERT_EQUAL(st_hist_max(h), 0);
	CU_ASSERT_EQUAL(st_hist_mean(h), 0.0);
	st_hist_record(h, 100);
	st_hist_record(h, 1000000);
	CU_ASSERT_EQUAL(st_hist_value_at_percentile(h, 0), 100);
	CU_ASSERT_EQUAL(st_hist_value_at_percentile(h, -3), 100);
	CU_ASSERT_EQUAL(st_hist_value_at_percentile(h, NAN), 100);
	CU_ASSERT_EQUAL(st_hist_value_at_percentile(h, 50), 100);
	CU_ASSERT_EQUAL(st_hist_value_at_percentile(h, 50.0001), st_hist_max(h));
	CU_ASSERT_EQUAL(st_hist_value_at_percentile(h, 100), st_hist_max(h));
	CU_ASSERT_EQUAL(st_hist_value_at_percentile(h, 250), st_hist_max(h));
	CU_ASSERT_EQUAL(st_hist_max(h), st_hist_highest_equivalent(h, 1000000));
	CU_ASSERT_EQUAL(st_hist_min(h), 100);
	st_hist_destroy(h);
}

static void test_clamp_and_reject(void)
{
	struct st_hist *h = st_hist_create(1, 1000000, 3);

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	st_hist_record(h, -1);
	st_hist_record_n(h, -5, 3);
	CU_ASSERT_EQUAL(h->rejected, 4);
	CU_ASSERT_EQUAL(st_hist_total(h), 0);
	st_hist_record(h, 2000000);
	st_hist_record_n(h, INT64_MAX, 2);
	CU_ASSERT_EQUAL(h->clamped, 3);
	CU_ASSERT_EQUAL(st_hist_total(h), 3);
	CU_ASSERT_EQUAL(st_hist_max(h), st_hist_highest_equivalent(h, 1000000));
	CU_ASSERT_EQUAL(st_hist_value_at_percentile(h, 50), st_hist_max(h));
	st_hist_record_n(h, 10, 0);
	st_hist_record_n(h, 10, -4);
	CU_ASSERT_EQUAL(st_hist_total(h), 3);
	st_hist_record(h, 0);
	CU_ASSERT_EQUAL(st_hist_min(h), 0);
	CU_ASSERT_EQUAL(st_hist_total(h), 4);

	st_hist_reset(h);
	CU_ASSERT_EQUAL(st_hist_total(h), 0);
	CU_ASSERT_EQUAL(h->clamped, 0);
	CU_ASSERT_EQUAL(h->rejected, 0);
	CU_ASSERT_EQUAL(st_hist_max(h), 0);
	CU_ASSERT_EQUAL(st_hist_count_at_or_below(h, 1000000), 0);
	st_hist_destroy(h);
}

static void test_mean_stddev(void)
{
	/* Below 2048 a 3-digit histogram has unit buckets: exact moments. */
	struct st_hist *h = st_hist_create(1, HOUR_NS, 3);

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	for (int v = 1; v <= 2000; v++)
		st_hist_record(h, v);
	CU_ASSERT_DOUBLE_EQUAL(st_hist_mean(h), 1000.5, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(st_hist_stddev(h), sqrt((2000.0 * 2000.0 - 1) / 12.0), 1e-9);
	st_hist_reset(h);
	st_hist_record_n(h, 1000, 3);
	CU_ASSERT_DOUBLE_EQUAL(st_hist_stddev(h), 0.0, 1e-12);
	st_hist_destroy(h);
}

static void test_iterator(void)
{
	struct st_hist *h = st_hist_create(1, HOUR_NS, 2);
	struct st_hist_iter it;
	int64_t sum = 0, prev_hi = -1, steps = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	st_hist_iter_init(&it, h);
	CU_ASSERT(!st_hist_iter_next(&it));
	for (int i = 0; i < 5000; i++)
		st_hist_record(h, rng_log(HOUR_NS));
	st_hist_record_n(h, 0, 7);
	st_hist_iter_init(&it, h);
	while (st_hist_iter_next(&it)) {
		CU_ASSERT(it.count > 0);
		CU_ASSERT(it.lo > prev_hi);
		CU_ASSERT(it.hi >= it.lo);
		CU_ASSERT(st_hist_values_equivalent(h, it.lo, it.hi));
		CU_ASSERT(!st_hist_values_equivalent(h, it.hi, it.hi + 1));
		sum += it.count;
		CU_ASSERT_EQUAL(it.cum, sum);
		CU_ASSERT_EQUAL(st_hist_count_at_or_below(h, it.hi), sum);
		CU_ASSERT_EQUAL(st_hist_count_at_or_below(h, it.lo), sum);
		prev_hi = it.hi;
		steps++;
	}
	CU_ASSERT_EQUAL(sum, st_hist_total(h));
	CU_ASSERT_EQUAL(prev_hi, st_hist_max(h));
	CU_ASSERT(steps > 10);
	CU_ASSERT_EQUAL(st_hist_count_at_or_below(h, -1), 0);
	CU_ASSERT_EQUAL(st_hist_count_at_or_below(h, HOUR_NS), st_hist_total(h));
	CU_ASSERT_EQUAL(st_hist_count_at_or_below(h, 0), 7);
	st_hist_destroy(h);
}

/* --- merge ---------------------------------------------------------------- */

static void test_merge_same_layout(void)
{
	struct st_hist *a = st_hist_create(1, HOUR_NS, 3);
	struct st_hist *b = st_hist_create(1, HOUR_NS, 3);
	struct st_hist *all = st_hist_create(1, HOUR_NS, 3);
	int64_t v;

	CU_ASSERT_FATAL(a && b && all);
	for (int i = 0; i < 10000; i++) {
		v = rng_log(HOUR_NS);
		st_hist_record(i & 1 ? a : b, v);
		st_hist_record(all, v);
	}
	st_hist_record(a, -1);
	st_hist_record(b, HOUR_NS * 2);
	st_hist_record(all, HOUR_NS * 2);
	CU_ASSERT_EQUAL(st_hist_add(a, b), 0);
	CU_ASSERT(counts_equal(a, all));
	CU_ASSERT_EQUAL(st_hist_total(a), st_hist_total(all));
	CU_ASSERT_EQUAL(st_hist_min(a), st_hist_min(all));
	CU_ASSERT_EQUAL(st_hist_max(a), st_hist_max(all));
	CU_ASSERT_EQUAL(a->clamped, 1);
	CU_ASSERT_EQUAL(a->rejected, 1);
	CU_ASSERT_EQUAL(st_hist_value_at_percentile(a, 99.9),
			st_hist_value_at_percentile(all, 99.9));
	/* Same layout, smaller range: the top of b no longer fits. */
	st_hist_destroy(b);
	b = st_hist_create(1, 1000000, 3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(st_hist_add(b, all),
			st_hist_total(all) - st_hist_count_at_or_below(all, 1000000));
	CU_ASSERT_EQUAL(st_hist_total(b), st_hist_total(all));
	CU_ASSERT(st_hist_max(b) <= st_hist_highest_equivalent(b, 1000000));
	st_hist_destroy(a);
	st_hist_destroy(b);
	st_hist_destroy(all);
}

static void test_merge_different_layout(void)
{
	struct st_hist *fine = st_hist_create(1, HOUR_NS, 4);
	struct st_hist *coarse = st_hist_create(1000, 1000000000, 2);
	struct st_hist *into_fine = st_hist_create(1, HOUR_NS, 4);
	int64_t above = 0, lost, v;

	CU_ASSERT_FATAL(fine && coarse && into_fine);
	for (int i = 0; i < 20000; i++) {
		v = rng_log(10000000000LL);
		st_hist_record(fine, v);
		if (st_hist_lowest_equivalent(fine, v) > 1000000000)
			above++;
	}
	lost = st_hist_add(coarse, fine);
	CU_ASSERT_EQUAL(lost, above);
	CU_ASSERT_EQUAL(coarse->clamped, (uint64_t)above);
	CU_ASSERT_EQUAL(st_hist_total(coarse), st_hist_total(fine));
	/* Re-recorded at highest equivalents: never below the source, and
	 * within the coarse precision above it. */
	for (double p = 1; p < 80; p += 7) {
		int64_t f = st_hist_value_at_percentile(fine, p);
		int64_t c = st_hist_value_at_percentile(coarse, p);

		CU_ASSERT(c >= f);
		CU_ASSERT((double)(c - f) <= (double)f * 0.02 + 1000);
	}
	/* Coarse into fine: every sample fits. */
	CU_ASSERT_EQUAL(st_hist_add(into_fine, coarse), 0);
	CU_ASSERT_EQUAL(st_hist_total(into_fine), st_hist_total(coarse));
	CU_ASSERT_EQUAL(into_fine->clamped, coarse->clamped);
	CU_ASSERT(st_hist_value_at_percentile(into_fine, 50) >=
		  st_hist_value_at_percentile(fine, 50));
	st_hist_destroy(fine);
	st_hist_destroy(coarse);
	st_hist_destroy(into_fine);
}

static void test_merge_overflow(void)
{
	struct st_hist *a = st_hist_create(1, 1000, 1);
	struct st_hist *b = st_hist_create(1, 1000, 1);

	CU_ASSERT_FATAL(a && b);
	st_hist_record_n(a, 5, INT64_MAX - 10);
	st_hist_record_n(b, 5, 25);
	CU_ASSERT_EQUAL(st_hist_add(a, b), 15);
	CU_ASSERT_EQUAL(st_hist_total(a), INT64_MAX);
	st_hist_destroy(a);
	st_hist_destroy(b);
}

/* --- V2 encoding round trips --------------------------------------------- */

static struct st_hist *round_trip(const struct st_hist *h)
{
	size_t bound = st_hist_encode_bound(h), len = 0;
	uint8_t *buf = malloc(bound);
	enum st_hist_derr err = ST_HIST_DERR_NOMEM;
	struct st_hist *d;

	CU_ASSERT_FATAL(buf != NULL);
	CU_ASSERT_EQUAL_FATAL(st_hist_encode_v2(h, buf, bound, &len), 0);
	CU_ASSERT(len <= bound);
	d = st_hist_decode_v2(buf, len, &err);
	CU_ASSERT_EQUAL(err, ST_HIST_DERR_OK);
	free(buf);
	return d;
}

static void check_round_trip(const struct st_hist *h)
{
	struct st_hist *d = round_trip(h);

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL(d->lowest, h->lowest);
	CU_ASSERT_EQUAL(d->highest, h->highest);
	CU_ASSERT_EQUAL(d->sigfigs, h->sigfigs);
	CU_ASSERT(counts_equal(d, h));
	CU_ASSERT_EQUAL(st_hist_total(d), st_hist_total(h));
	CU_ASSERT_EQUAL(st_hist_min(d), st_hist_min(h));
	CU_ASSERT_EQUAL(st_hist_max(d), st_hist_max(h));
	CU_ASSERT_EQUAL(st_hist_value_at_percentile(d, 99), st_hist_value_at_percentile(h, 99));
	CU_ASSERT_DOUBLE_EQUAL(st_hist_mean(d), st_hist_mean(h), 1e-9 * (1 + st_hist_mean(h)));
	st_hist_destroy(d);
}

static void test_round_trip_configs(void)
{
	static const struct {
		int64_t lo, hi;
		int sf;
	} cfg[] = {
		{ 1, HOUR_NS, 1 }, { 1, HOUR_NS, 2 }, { 1, HOUR_NS, 3 },
		{ 1, HOUR_NS, 4 }, { 1, 10000000, 5 }, { 1000, HOUR_NS, 3 },
		{ 3, 1000000, 2 }, { 1, 2, 1 }, { 1, ST_HIST_HIGHEST_MAX, 3 },
		{ 1LL << 40, ST_HIST_HIGHEST_MAX, 2 },
	};

	for (size_t i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
		struct st_hist *h = st_hist_create(cfg[i].lo, cfg[i].hi, cfg[i].sf);

		CU_ASSERT_PTR_NOT_NULL_FATAL(h);
		check_round_trip(h);	/* empty */
		for (int k = 0; k < 3000; k++)
			st_hist_record(h, rng_log(cfg[i].hi));
		st_hist_record(h, 0);
		st_hist_record(h, cfg[i].hi);
		check_round_trip(h);
		st_hist_destroy(h);
	}
}

static void test_round_trip_huge_count(void)
{
	struct st_hist *h = st_hist_create(1, HOUR_NS, 3);
	struct st_hist *d;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	st_hist_record_n(h, 123456789, INT64_MAX - 1);
	st_hist_record(h, 7);
	d = round_trip(h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL(st_hist_total(d), INT64_MAX);
	CU_ASSERT(counts_equal(d, h));
	st_hist_destroy(d);
	st_hist_destroy(h);
}

static void test_encode_nospace(void)
{
	struct st_hist *h = st_hist_create(1, HOUR_NS, 3);
	uint8_t small[16], *buf;
	size_t len = 0, bound;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	for (int k = 0; k < 5000; k++)
		st_hist_record(h, rng_log(HOUR_NS));
	bound = st_hist_encode_bound(h);
	CU_ASSERT_EQUAL(st_hist_encode_v2(h, small, sizeof(small), &len), -ENOSPC);
	CU_ASSERT_EQUAL(len, bound);
	buf = malloc(bound);
	CU_ASSERT_FATAL(buf != NULL);
	CU_ASSERT_EQUAL(st_hist_encode_v2(h, buf, 200, &len), -ENOSPC);
	CU_ASSERT_EQUAL(st_hist_encode_v2(h, buf, bound, &len), 0);
	CU_ASSERT(len > 200 && len <= bound);
	free(buf);
	st_hist_destroy(h);
}

static void test_b64_round_trip(void)
{
	struct st_hist *h = st_hist_create(1, HOUR_NS, 3), *d;
	enum st_hist_derr err;
	char *text, *padded;
	size_t len = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	for (int k = 0; k < 100; k++)
		st_hist_record(h, rng_log(HOUR_NS));
	text = st_hist_encode_b64(h, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_EQUAL(strlen(text), len);
	CU_ASSERT_EQUAL(strncmp(text, "HISTF", 5), 0);	/* 0x1c849314 */
	/* as read from a log line: surrounding whitespace */
	padded = malloc(len + 4);
	CU_ASSERT_FATAL(padded != NULL);
	snprintf(padded, len + 4, " %s\n", text);
	d = st_hist_decode_b64(padded, len + 2, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT(counts_equal(d, h));
	st_hist_destroy(d);
	text[len / 2] = '*';
	errno = 0;
	CU_ASSERT_PTR_NULL(st_hist_decode_b64(text, len, &err));
	CU_ASSERT_EQUAL(err, ST_HIST_DERR_BASE64);
	CU_ASSERT_EQUAL(errno, EINVAL);
	free(padded);
	free(text);
	st_hist_destroy(h);
}

static void test_base64(void)
{
	static const struct {
		const char *bin, *text;
	} v[] = {	/* RFC 4648 test vectors */
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	static const char *const bad[] = { "Zg=", "Z", "Zh==", "Zm9=", "Zm9v=",
					   "Z===", "Zg=a", "Zm 9", "Zm9v\n" };
	uint8_t out[16];
	char text[16];
	size_t n;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t bl = strlen(v[i].bin);

		CU_ASSERT_EQUAL(st_base64_encoded_len(bl), strlen(v[i].text));
		CU_ASSERT_EQUAL(st_base64_encode((const uint8_t *)v[i].bin, bl, text), strlen(v[i].text));
		CU_ASSERT_STRING_EQUAL(text, v[i].text);
		CU_ASSERT_EQUAL(st_base64_decode(v[i].text, strlen(v[i].text), out, sizeof(out), &n), 0);
		CU_ASSERT(n == bl && memcmp(out, v[i].bin, n) == 0);
	}
	/* padding is optional */
	CU_ASSERT_EQUAL(st_base64_decode("Zm9vYg", 6, out, sizeof(out), &n), 0);
	CU_ASSERT(n == 4 && memcmp(out, "foob", 4) == 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(st_base64_decode(bad[i], strlen(bad[i]), out, sizeof(out), &n), -EINVAL);
	CU_ASSERT_EQUAL(st_base64_decode("Zm9vYmFy", 8, out, 5, &n), -ENOSPC);
}

/* --- malformed input ------------------------------------------------------- */

struct inner {
	uint32_t cookie;
	int32_t plen;		/* INT32_MIN: use the real payload length */
	int32_t offset;
	int32_t sigfigs;
	int64_t lowest, highest;
	uint64_t ratio;
};

#define INNER_DEFAULT { ST_HIST_V2_COOKIE, INT32_MIN, 0, 3, 1, HOUR_NS, \
			0x3ff0000000000000ULL }

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void be64(uint8_t *p, uint64_t v)
{
	be32(p, (uint32_t)(v >> 32));
	be32(p + 4, (uint32_t)v);
}

/* Builds the uncompressed V2 form with a hand-made payload. */
static size_t make_raw(const struct inner *in, const uint8_t *payload,
		       size_t plen, uint8_t *out)
{
	be32(out, in->cookie);
	be32(out + 4, (uint32_t)(in->plen == INT32_MIN ? (int32_t)plen : in->plen));
	be32(out + 8, (uint32_t)in->offset);
	be32(out + 12, (uint32_t)in->sigfigs);
	be64(out + 16, (uint64_t)in->lowest);
	be64(out + 24, (uint64_t)in->highest);
	be64(out + 32, in->ratio);
	if (plen > 0)
		memcpy(out + 40, payload, plen);
	return 40 + plen;
}

/* Wraps raw bytes as compressed V2; extra bytes go after the zlib stream
 * (inside the declared compressed length). Returns a malloc'd buffer. */
static uint8_t *make_compressed(const uint8_t *raw, size_t rlen,
				const uint8_t *extra, size_t elen, size_t *len)
{
	uLongf clen = compressBound((uLong)rlen);
	uint8_t *out = malloc(8 + clen + elen);

	CU_ASSERT_FATAL(out != NULL);
	CU_ASSERT_FATAL(compress(out + 8, &clen, raw, (uLong)rlen) == Z_OK);
	if (elen > 0)
		memcpy(out + 8 + clen, extra, elen);
	be32(out, ST_HIST_V2_COMPRESSED_COOKIE);
	be32(out + 4, (uint32_t)(clen + elen));
	*len = 8 + clen + elen;
	return out;
}

/* Expects the compressed form of (in, payload) to fail with want, and the
 * uncompressed form with raw_want (the outer cookie and the missing zlib
 * framing make some reasons differ). */
static void expect_bad2(const struct inner *in, const uint8_t *payload,
			size_t plen, enum st_hist_derr want,
			enum st_hist_derr raw_want, int want_errno)
{
	uint8_t *raw = malloc(40 + plen), *buf;
	enum st_hist_derr err = ST_HIST_DERR_OK;
	size_t rlen, len;

	CU_ASSERT_FATAL(raw != NULL);
	rlen = make_raw(in, payload, plen, raw);
	buf = make_compressed(raw, rlen, NULL, 0, &len);
	errno = 0;
	CU_ASSERT_PTR_NULL(st_hist_decode_v2(buf, len, &err));
	CU_ASSERT_EQUAL(err, want);
	CU_ASSERT_EQUAL(errno, want_errno);
	if (err != want)
		fprintf(stderr, "\n  got '%s', want '%s'\n", st_hist_derr_str(err),
			st_hist_derr_str(want));
	/* the uncompressed form is held to the same checks */
	err = ST_HIST_DERR_OK;
	CU_ASSERT_PTR_NULL(st_hist_decode_v2(raw, rlen, &err));
	CU_ASSERT_EQUAL(err, raw_want);
	free(buf);
	free(raw);
}

static void expect_bad(const struct inner *in, const uint8_t *payload,
		       size_t plen, enum st_hist_derr want, int want_errno)
{
	expect_bad2(in, payload, plen, want, want, want_errno);
}

static void expect_good(const struct inner *in, const uint8_t *payload,
			size_t plen, int64_t total)
{
	uint8_t raw[256], *buf;
	enum st_hist_derr err = ST_HIST_DERR_NOMEM;
	struct st_hist *h;
	size_t rlen, len;

	rlen = make_raw(in, payload, plen, raw);
	buf = make_compressed(raw, rlen, NULL, 0, &len);
	h = st_hist_decode_v2(buf, len, &err);
	CU_ASSERT_PTR_NOT_NULL(h);
	CU_ASSERT_EQUAL(err, ST_HIST_DERR_OK);
	if (h != NULL)
		CU_ASSERT_EQUAL(st_hist_total(h), total);
	st_hist_destroy(h);
	h = st_hist_decode_v2(raw, rlen, &err);
	CU_ASSERT_PTR_NOT_NULL(h);
	st_hist_destroy(h);
	free(buf);
}

static void test_decode_header_fields(void)
{
	static const uint8_t one[] = { 0x02 };	/* a single count of 1 */
	struct inner in = INNER_DEFAULT;

	expect_good(&in, one, 1, 1);
	/* the base cookies, without the 0x10 nibble, are V2 too */
	in.cookie = 0x1c849303;
	expect_good(&in, one, 1, 1);
	/* hdr-histogram-js writes offset 1 and an int64 1 as the ratio */
	in.offset = 1;
	in.ratio = 1;
	expect_good(&in, one, 1, 1);

	in = (struct inner)INNER_DEFAULT;
	in.cookie = 0x1c849301;
	expect_bad2(&in, one, 1, ST_HIST_DERR_INNER_COOKIE, ST_HIST_DERR_VERSION, EINVAL);
	in.cookie = 0x12345678;
	expect_bad2(&in, one, 1, ST_HIST_DERR_INNER_COOKIE, ST_HIST_DERR_COOKIE, EINVAL);
	in = (struct inner)INNER_DEFAULT;
	in.sigfigs = 0;
	expect_bad(&in, one, 1, ST_HIST_DERR_SIGFIGS, EINVAL);
	in.sigfigs = 6;
	expect_bad(&in, one, 1, ST_HIST_DERR_SIGFIGS, EINVAL);
	in.sigfigs = -1;
	expect_bad(&in, one, 1, ST_HIST_DERR_SIGFIGS, EINVAL);
	in = (struct inner)INNER_DEFAULT;
	in.lowest = 0;
	expect_bad(&in, one, 1, ST_HIST_DERR_LOWEST, EINVAL);
	in.lowest = INT64_MIN;
	expect_bad(&in, one, 1, ST_HIST_DERR_LOWEST, EINVAL);
	in = (struct inner)INNER_DEFAULT;
	in.lowest = 1000;
	in.highest = 1999;
	expect_bad(&in, one, 1, ST_HIST_DERR_HIGHEST, EINVAL);
	in.highest = INT64_MAX;
	expect_bad(&in, one, 1, ST_HIST_DERR_HIGHEST, EINVAL);
	in.highest = -1;
	expect_bad(&in, one, 1, ST_HIST_DERR_HIGHEST, EINVAL);
	/* hostile counts length: 5 digits over 2^61 would be 50 M counts */
	in = (struct inner)INNER_DEFAULT;
	in.sigfigs = 5;
	in.highest = 1LL << 61;
	expect_bad(&in, one, 1, ST_HIST_DERR_COUNTS_LEN, E2BIG);
	in.sigfigs = 5;
	in.highest = 100000000;
	expect_bad(&in, one, 1, ST_HIST_DERR_COUNTS_LEN, E2BIG);
	/* declared payload lengths that cannot be right */
	in = (struct inner)INNER_DEFAULT;
	in.plen = -1;
	expect_bad(&in, one, 1, ST_HIST_DERR_PAYLOAD_LEN, EINVAL);
	in.plen = INT32_MAX;
	expect_bad(&in, one, 1, ST_HIST_DERR_PAYLOAD_LEN, EINVAL);
	in.plen = 33792 * 9 + 1;
	expect_bad(&in, one, 1, ST_HIST_DERR_PAYLOAD_LEN, EINVAL);
	in.plen = 2;	/* longer than the data */
	expect_bad2(&in, one, 1, ST_HIST_DERR_PAYLOAD_MISMATCH, ST_HIST_DERR_TRUNCATED, EINVAL);
	in.plen = 0;	/* shorter than the data */
	expect_bad2(&in, one, 1, ST_HIST_DERR_PAYLOAD_MISMATCH, ST_HIST_DERR_TRAILING, EINVAL);
}

static void test_decode_payload(void)
{
	struct inner in = INNER_DEFAULT;
	uint8_t p[64];

	/* a literal 0 count, a run of two zeros, and a count: all fine */
	p[0] = 0x00;
	p[1] = 0x03;
	p[2] = 0x04;
	expect_good(&in, p, 3, 2);
	/* empty payload: an empty histogram */
	expect_good(&in, p, 0, 0);

	/* overlong: 1 written as 0x82 0x00 */
	p[0] = 0x82;
	p[1] = 0x00;
	expect_bad(&in, p, 2, ST_HIST_DERR_VARINT_OVERLONG, EINVAL);
	/* overlong in the 9-byte form: 8 continuation bytes, then 0 */
	memset(p, 0x80, 8);
	p[0] = 0x82;
	p[8] = 0x00;
	expect_bad(&in, p, 9, ST_HIST_DERR_VARINT_OVERLONG, EINVAL);
	/* truncated: a continuation bit on the last byte */
	p[0] = 0x02;
	p[1] = 0x80;
	expect_bad(&in, p, 2, ST_HIST_DERR_VARINT_TRUNCATED, EINVAL);
	/* zero run past the end: -(counts_len + 1) */
	p[0] = (uint8_t)(((2 * 33793 - 1) & 0x7f) | 0x80);
	p[1] = (uint8_t)(((2 * 33793 - 1) >> 7) & 0x7f) | 0x80;
	p[2] = (uint8_t)((2 * 33793 - 1) >> 14);
	expect_bad(&in, p, 3, ST_HIST_DERR_ZERO_RUN, EINVAL);
	/* a run of exactly counts_len zeros is fine, a count after it is not */
	p[0] = (uint8_t)(((2 * 33792 - 1) & 0x7f) | 0x80);
	p[1] = (uint8_t)(((2 * 33792 - 1) >> 7) & 0x7f) | 0x80;
	p[2] = (uint8_t)((2 * 33792 - 1) >> 14);
	expect_good(&in, p, 3, 0);
	p[3] = 0x02;
	expect_bad(&in, p, 4, ST_HIST_DERR_COUNTS_PAST_END, EINVAL);
	/* INT64_MIN, the largest zero run zigzag can say: 9 bytes of 0xff */
	memset(p, 0xff, 9);
	expect_bad(&in, p, 9, ST_HIST_DERR_ZERO_RUN, EINVAL);
	/* two counts of INT64_MAX (zigzag 0xff..fe) overflow the total */
	memset(p, 0xff, 18);
	p[0] = 0xfe;
	p[9] = 0xfe;
	expect_good(&in, p, 9, INT64_MAX);
	expect_bad(&in, p, 18, ST_HIST_DERR_TOTAL_OVERFLOW, EINVAL);
}

static uint8_t *valid_encoding(size_t *len)
{
	struct st_hist *h = st_hist_create(1, HOUR_NS, 3);
	size_t bound;
	uint8_t *buf;

	CU_ASSERT_FATAL(h != NULL);
	for (int k = 0; k < 300; k++)
		st_hist_record(h, rng_log(HOUR_NS));
	bound = st_hist_encode_bound(h) + 16;
	buf = malloc(bound);
	CU_ASSERT_FATAL(buf != NULL);
	CU_ASSERT_FATAL(st_hist_encode_v2(h, buf, bound, len) == 0);
	st_hist_destroy(h);
	return buf;
}

static void test_decode_truncated_every_length(void)
{
	enum st_hist_derr err;
	size_t len;
	uint8_t *buf = valid_encoding(&len), *copy;
	struct st_hist *h;

	for (size_t k = 0; k < len; k++) {
		/* exact-size copy so ASan sees any read past the end */
		copy = malloc(k ? k : 1);
		CU_ASSERT_FATAL(copy != NULL);
		memcpy(copy, buf, k);
		err = ST_HIST_DERR_OK;
		CU_ASSERT_PTR_NULL(st_hist_decode_v2(copy, k, &err));
		CU_ASSERT_EQUAL(err, ST_HIST_DERR_TRUNCATED);
		free(copy);
	}
	/* a truncated zlib stream whose length field was fixed up */
	for (size_t k = 9; k < len; k += 7) {
		copy = malloc(k);
		CU_ASSERT_FATAL(copy != NULL);
		memcpy(copy, buf, k);
		be32(copy + 4, (uint32_t)(k - 8));
		err = ST_HIST_DERR_OK;
		CU_ASSERT_PTR_NULL(st_hist_decode_v2(copy, k, &err));
		CU_ASSERT(err == ST_HIST_DERR_TRUNCATED || err == ST_HIST_DERR_ZLIB);
		free(copy);
	}
	h = st_hist_decode_v2(buf, len, &err);
	CU_ASSERT_PTR_NOT_NULL(h);
	st_hist_destroy(h);
	free(buf);
}

static void test_decode_outer(void)
{
	enum st_hist_derr err;
	size_t len, big_len = ST_HIST_DECODE_MAX_INPUT + 1;
	uint8_t *buf = valid_encoding(&len), *big;
	uint32_t cookie;

	/* trailing byte after the compressed block */
	buf = realloc(buf, len + 1);
	CU_ASSERT_FATAL(buf != NULL);
	buf[len] = 0;
	CU_ASSERT_PTR_NULL(st_hist_decode_v2(buf, len + 1, &err));
	CU_ASSERT_EQUAL(err, ST_HIST_DERR_TRAILING);

	/* wrong cookies */
	cookie = 0xdeadbeef;
	be32(buf, cookie);
	CU_ASSERT_PTR_NULL(st_hist_decode_v2(buf, len, &err));
	CU_ASSERT_EQUAL(err, ST_HIST_DERR_COOKIE);
	be32(buf, 0x1c849302);	/* V1 compressed */
	CU_ASSERT_PTR_NULL(st_hist_decode_v2(buf, len, &err));
	CU_ASSERT_EQUAL(err, ST_HIST_DERR_VERSION);
	be32(buf, 0x1c849309);	/* V0 compressed */
	CU_ASSERT_PTR_NULL(st_hist_decode_v2(buf, len, &err));
	CU_ASSERT_EQUAL(err, ST_HIST_DERR_VERSION);
	be32(buf, 0x1c849304);	/* base cookie: accepted */
	{
		struct st_hist *h = st_hist_decode_v2(buf, len, &err);

		CU_ASSERT_PTR_NOT_NULL(h);
		st_hist_destroy(h);
	}

	/* corrupt zlib: header byte, then a body byte (adler catches it) */
	buf[8] ^= 0xff;
	CU_ASSERT_PTR_NULL(st_hist_decode_v2(buf, len, &err));
	CU_ASSERT_EQUAL(err, ST_HIST_DERR_ZLIB);
	buf[8] ^= 0xff;
	buf[len - 2] ^= 0x55;
	CU_ASSERT_PTR_NULL(st_hist_decode_v2(buf, len, &err));
	CU_ASSERT(err == ST_HIST_DERR_ZLIB || err == ST_HIST_DERR_TRUNCATED);
	buf[len - 2] ^= 0x55;
	/* negative compressed length */
	be32(buf + 4, 0x80000000u);
	CU_ASSERT_PTR_NULL(st_hist_decode_v2(buf, len, &err));
	CU_ASSERT_EQUAL(err, ST_HIST_DERR_TRUNCATED);
	free(buf);

	/* input over the limit is refused before anything else */
	big = calloc(1, big_len);
	CU_ASSERT_FATAL(big != NULL);
	be32(big, ST_HIST_V2_COMPRESSED_COOKIE);
	be32(big + 4, (uint32_t)(big_len - 8));
	errno = 0;
	CU_ASSERT_PTR_NULL(st_hist_decode_v2(big, big_len, &err));
	CU_ASSERT_EQUAL(err, ST_HIST_DERR_TOO_LARGE);
	CU_ASSERT_EQUAL(errno, E2BIG);
	free(big);
}

static void test_decode_trailing_in_zlib_block(void)
{
	struct inner in = INNER_DEFAULT;
	static const uint8_t one[] = { 0x02 }, junk[] = { 1, 2, 3 };
	enum st_hist_derr err;
	uint8_t raw[64], *buf;
	size_t rlen, len;

	rlen = make_raw(&in, one, 1, raw);
	buf = make_compressed(raw, rlen, junk, sizeof(junk), &len);
	CU_ASSERT_PTR_NULL(st_hist_decode_v2(buf, len, &err));
	CU_ASSERT_EQUAL(err, ST_HIST_DERR_TRAILING);
	free(buf);
	/* and in the uncompressed form */
	raw[rlen] = 0;
	CU_ASSERT_PTR_NULL(st_hist_decode_v2(raw, rlen + 1, &err));
	CU_ASSERT_EQUAL(err, ST_HIST_DERR_TRAILING);
}

/* 64 MiB of zeros deflate to ~64 KiB: the decoder must stop one byte past
 * the declared payload, not inflate it all. */
static void test_decode_inflate_bomb(void)
{
	size_t zeros = 64u << 20, len;
	struct inner in = INNER_DEFAULT;
	uint8_t *raw = calloc(1, 40 + zeros), *buf;
	enum st_hist_derr err;
	uint64_t t0, t1;
	struct timespec ts;

	CU_ASSERT_FATAL(raw != NULL);
	in.plen = 100;
	make_raw(&in, NULL, 0, raw);
	buf = make_compressed(raw, 40 + zeros, NULL, 0, &len);
	free(raw);
	CU_ASSERT(len < ST_HIST_DECODE_MAX_INPUT);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	CU_ASSERT_PTR_NULL(st_hist_decode_v2(buf, len, &err));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t1 = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	CU_ASSERT_EQUAL(err, ST_HIST_DERR_PAYLOAD_MISMATCH);
	CU_ASSERT(t1 - t0 < 50000000u);	/* far less than inflating 64 MiB */
	free(buf);
}

static void test_derr_str(void)
{
	CU_ASSERT_STRING_EQUAL(st_hist_derr_str(ST_HIST_DERR_ZERO_RUN),
			       "zero run past end of counts");
	CU_ASSERT_STRING_EQUAL(st_hist_derr_str((enum st_hist_derr)999), "unknown error");
	for (int e = ST_HIST_DERR_OK; e <= ST_HIST_DERR_BASE64; e++)
		CU_ASSERT_STRING_NOT_EQUAL(st_hist_derr_str((enum st_hist_derr)e), "unknown error");
}

/* --- hdr-histogram-js vectors -------------------------------------------- */

static const char *json_field(const char *line, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(line, pat);
	return p ? p + strlen(pat) : NULL;
}

static int64_t json_i64(const char *line, const char *key)
{
	const char *p = json_field(line, key);

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	return strtoll(p, NULL, 10);
}

static double json_f64(const char *line, const char *key)
{
	const char *p = json_field(line, key);

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	return strtod(p, NULL);
}

/* Inflates the inner V2 bytes of a base64 encoding (test helper). */
static uint8_t *inner_bytes(const char *b64, size_t n, uLongf *ilen)
{
	uint8_t *bin = malloc(n), *inner = malloc(1u << 22);
	size_t blen = 0;

	CU_ASSERT_FATAL(bin != NULL && inner != NULL);
	CU_ASSERT_FATAL(st_base64_decode(b64, n, bin, n, &blen) == 0);
	*ilen = 1u << 22;
	CU_ASSERT_FATAL(uncompress(inner, ilen, bin + 8, (uLong)(blen - 8)) == Z_OK);
	free(bin);
	return inner;
}

static void test_js_vectors(void)
{
	const char *path = st_source_path("tests/fixtures/hdr_js_vectors.json");
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	int vectors = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while (getline(&line, &cap, f) > 0) {
		const char *b64 = json_field(line, "b64");
		enum st_hist_derr err = ST_HIST_DERR_NOMEM;
		struct st_hist *h;
		size_t n, mine_len = 0;
		uint8_t *theirs, *mine;
		uLongf tlen, mlen;
		char *ours;

		if (b64 == NULL)
			continue;
		b64++;
		n = strcspn(b64, "\"");
		h = st_hist_decode_b64(b64, n, &err);
		CU_ASSERT_PTR_NOT_NULL(h);
		if (h == NULL) {
			fprintf(stderr, "\n  vector %d: %s\n", vectors, st_hist_derr_str(err));
			continue;
		}
		vectors++;
		CU_ASSERT_EQUAL(h->lowest, json_i64(line, "lowest"));
		CU_ASSERT_EQUAL(h->highest, json_i64(line, "highest"));
		CU_ASSERT_EQUAL(h->sigfigs, json_i64(line, "sigfigs"));
		CU_ASSERT_EQUAL(h->bucket_count, json_i64(line, "bucket_count"));
		CU_ASSERT_EQUAL(h->sub_bucket_count, json_i64(line, "sub_bucket_count"));
		CU_ASSERT_EQUAL(h->counts_len, json_i64(line, "counts_len"));
		CU_ASSERT_EQUAL(st_hist_total(h), json_i64(line, "count"));
		CU_ASSERT_EQUAL(st_hist_min(h), json_i64(line, "min"));
		CU_ASSERT_EQUAL(st_hist_max(h), json_i64(line, "max"));
		CU_ASSERT_EQUAL(st_hist_value_at_percentile(h, 50), json_i64(line, "p50"));
		CU_ASSERT_EQUAL(st_hist_value_at_percentile(h, 90), json_i64(line, "p90"));
		CU_ASSERT_EQUAL(st_hist_value_at_percentile(h, 99), json_i64(line, "p99"));
		CU_ASSERT_EQUAL(st_hist_value_at_percentile(h, 99.9), json_i64(line, "p999"));
		CU_ASSERT_DOUBLE_EQUAL(st_hist_mean(h), json_f64(line, "mean"),
				       1e-9 * fmax(1.0, json_f64(line, "mean")));
		CU_ASSERT_DOUBLE_EQUAL(st_hist_stddev(h), json_f64(line, "stddev"),
				       1e-9 * fmax(1.0, json_f64(line, "stddev")));

		/* Our encoder writes the very counts bytes hdr-histogram-js
		 * wrote (the headers differ: JS puts 1 in the offset and
		 * ratio fields). */
		ours = st_hist_encode_b64(h, &mine_len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(ours);
		theirs = inner_bytes(b64, n, &tlen);
		mine = inner_bytes(ours, mine_len, &mlen);
		CU_ASSERT(tlen == mlen && memcmp(theirs + 40, mine + 40, tlen - 40) == 0);
		CU_ASSERT(memcmp(theirs + 12, mine + 12, 20) == 0);
		free(theirs);
		free(mine);
		free(ours);
		st_hist_destroy(h);
	}
	CU_ASSERT(vectors >= 16);
	free(line);
	fclose(f);
}

int st_register_suites(void)
{
	static const struct st_cu_test layout[] = {
		{ "layout matches HdrHistogram", test_layout },
		{ "invalid arguments", test_create_invalid },
		{ "init in caller memory", test_init_caller_memory },
		{ "equivalent values", test_equivalent_values },
		{ NULL, NULL },
	};
	static const struct st_cu_test record[] = {
		{ "uniform 1..1e6", test_uniform_1e6 },
		{ "percentiles vs exact order statistics", test_percentiles_vs_exact },
		{ "percentile edges", test_percentile_edges },
		{ "clamp, reject, reset", test_clamp_and_reject },
		{ "mean and stddev", test_mean_stddev },
		{ "iterator and count_at_or_below", test_iterator },
		{ "merge, same layout", test_merge_same_layout },
		{ "merge, different layouts", test_merge_different_layout },
		{ "merge saturates", test_merge_overflow },
		{ NULL, NULL },
	};
	static const struct st_cu_test codec[] = {
		{ "round trip, all configurations", test_round_trip_configs },
		{ "round trip, huge count", test_round_trip_huge_count },
		{ "encode into a small buffer", test_encode_nospace },
		{ "base64 round trip", test_b64_round_trip },
		{ "base64 RFC 4648", test_base64 },
		{ "hdr-histogram-js vectors", test_js_vectors },
		{ NULL, NULL },
	};
	static const struct st_cu_test malformed[] = {
		{ "header fields", test_decode_header_fields },
		{ "payload varints and runs", test_decode_payload },
		{ "truncated at every length", test_decode_truncated_every_length },
		{ "cookies, corrupt zlib, trailing, size", test_decode_outer },
		{ "trailing data in the zlib block", test_decode_trailing_in_zlib_block },
		{ "inflate bomb", test_decode_inflate_bomb },
		{ "reason strings", test_derr_str },
		{ NULL, NULL },
	};
	int rc;

	if ((rc = st_cu_add_suite("hist layout", NULL, NULL, layout)) != 0 ||
	    (rc = st_cu_add_suite("hist record", NULL, NULL, record)) != 0 ||
	    (rc = st_cu_add_suite("hist codec", NULL, NULL, codec)) != 0 ||
	    (rc = st_cu_add_suite("hist malformed", NULL, NULL, malformed)) != 0)
		return rc;
	return 0;
}
