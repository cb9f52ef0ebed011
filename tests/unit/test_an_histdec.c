/* The streaming V2 decoder gives what st_hist_decode_v2 gives, mapped
 * into the analyzer's layout, and refuses what it refuses. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "histdec.h"

static uint64_t rng = 0x853c49e6748fea9bULL;

static double unif(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}

static struct st_hist *dst;

static int init(void)
{
	dst = st_hist_create(AN_HIST_LOWEST, AN_HIST_HIGHEST, AN_HIST_SIGFIGS);
	return dst == NULL;
}

static int clean(void)
{
	st_hist_destroy(dst);
	return 0;
}

/* Decodes enc both ways and compares bucket by bucket (by value). */
static void compare(struct an_histdec *d, const uint8_t *enc, size_t len)
{
	const struct an_bin *bins;
	size_t n;
	int64_t total, clamped;
	enum st_hist_derr e1, e2;
	struct st_hist *ref = st_hist_decode_v2(enc, len, &e1);
	int rc = an_histdec_decode(d, enc, len, &bins, &n, &total, &clamped, &e2);

	CU_ASSERT_EQUAL(rc == 0, ref != NULL);
	CU_ASSERT_EQUAL(e1, e2);
	if (ref == NULL || rc != 0) {
		st_hist_destroy(ref);
		return;
	}
	CU_ASSERT_EQUAL(total, st_hist_total(ref));
	/* merging ref into an empty dst-layout histogram gives the same */
	{
		struct st_hist *m = st_hist_create(AN_HIST_LOWEST, AN_HIST_HIGHEST, AN_HIST_SIGFIGS);
		size_t k = 0;

		st_hist_add(m, ref);
		for (int32_t i = 0; i < m->counts_len; i++) {
			if (m->counts[i] == 0)
				continue;
			CU_ASSERT_FATAL(k < n);
			CU_ASSERT_EQUAL(bins[k].idx, i);
			CU_ASSERT_EQUAL(bins[k].count, m->counts[i]);
			k++;
		}
		CU_ASSERT_EQUAL(k, n);
		CU_ASSERT_EQUAL((uint64_t)clamped, m->clamped);
		st_hist_destroy(m);
	}
	st_hist_destroy(ref);
}

static void roundtrip(struct an_histdec *d, int64_t lo, int64_t hi, int sf, double scale)
{
	struct st_hist *h = st_hist_create(lo, hi, sf);
	uint8_t *buf;
	size_t len, cap;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	for (int i = 0; i < 3000; i++)
		st_hist_record(h, (int64_t)(-scale * log(unif())));
	cap = st_hist_encode_bound(h);
	buf = malloc(cap);
	CU_ASSERT_EQUAL_FATAL(st_hist_encode_v2(h, buf, cap, &len), 0);
	compare(d, buf, len);
	free(buf);
	st_hist_destroy(h);
}

static void test_same_layout(void)
{
	struct an_histdec *d = an_histdec_create(dst);

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	/* the dataplane's layout (1 ns .. 60 s, 3 digits) and ours */
	for (int i = 0; i < 20; i++)
		roundtrip(d, 1, 60000000000LL, 3, 1e6 * (1 + i));
	roundtrip(d, 1, AN_HIST_HIGHEST, 3, 2e7);
	an_histdec_destroy(d);
}

static void test_foreign_layout(void)
{
	struct an_histdec *d = an_histdec_create(dst);

	/* microsecond resolution, 2 digits; 5 digits; a top above ours */
	roundtrip(d, 1000, 100000000000LL, 2, 3e6);
	roundtrip(d, 1, 1LL << 24, 5, 1e6);
	roundtrip(d, 1, 7200LL * 1000000000, 3, 1.5e12);	/* clamps */
	roundtrip(d, 1000, 100000000000LL, 2, 3e6);		/* cached template */
	roundtrip(d, 7, 1LL << 40, 1, 1e5);
	roundtrip(d, 100, 1LL << 40, 4, 1e5);
	roundtrip(d, 3, 1LL << 40, 2, 1e5);			/* evicts one */
	an_histdec_destroy(d);
}

static void test_refusals(void)
{
	struct an_histdec *d = an_histdec_create(dst);
	struct st_hist *h = st_hist_create(1, 60000000000LL, 3);
	uint8_t buf[4096], bad[4096];
	size_t len;

	for (int i = 0; i < 500; i++)
		st_hist_record(h, (int64_t)(1e6 * unif()));
	CU_ASSERT_EQUAL_FATAL(st_hist_encode_v2(h, buf, sizeof(buf), &len), 0);
	/* every truncation, and flipped bytes everywhere: same answer both ways */
	for (size_t n = 0; n < len; n++)
		compare(d, buf, n);
	for (size_t i = 0; i < len; i++) {
		memcpy(bad, buf, len);
		bad[i] ^= (uint8_t)(0x5a + i);
		compare(d, bad, len);
	}
	memcpy(bad, buf, len);
	bad[len] = 0;
	compare(d, bad, len + 1);	/* trailing */
	/* after a refusal the decoder still works */
	compare(d, buf, len);
	st_hist_destroy(h);
	an_histdec_destroy(d);
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "same_layout", test_same_layout },
		{ "foreign_layout", test_foreign_layout },
		{ "refusals", test_refusals },
		{ NULL, NULL },
	};

	return st_cu_add_suite("an_histdec", init, clean, tests);
}
