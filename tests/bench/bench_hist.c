/* Histogram micro-benchmarks: one table row per operation. Recording reads
 * latencies from a precomputed array, so the random number generator is
 * not what gets timed. MB/s is the counts array walked (merge)
 * or the encoded bytes produced or consumed (encode, decode).
 * Usage: bench_hist [--quick] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hist.h"

#define HOUR_NS 3600000000000LL
#define NVALS (1u << 20)	/* 8 MiB of values: beyond L2, like real input */

static volatile int64_t sink;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void row(const char *name, uint64_t ops, uint64_t ns, double bytes_per_op)
{
	double per = (double)ns / (double)ops;

	printf("%-22s %12llu %10.2f %14.0f", name, (unsigned long long)ops, per,
	       1e9 / per);
	if (bytes_per_op > 0)
		printf(" %10.1f", bytes_per_op * 1e3 / per);
	else
		printf(" %10s", "-");
	printf("\n");
}

/* Latency-like values: log-normal around 200 us with a heavy tail, and a
 * few up to seconds, so records touch many buckets. */
static int64_t *make_values(void)
{
	int64_t *v = malloc(NVALS * sizeof(*v));
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	if (v == NULL)
		return NULL;
	for (unsigned int i = 0; i < NVALS; i++) {
		double u1, u2, z;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		u1 = ((double)(x >> 11) + 1.0) / 9007199254740993.0;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		u2 = (double)(x >> 11) / 9007199254740992.0;
		z = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
		v[i] = (int64_t)(2e5 * exp(1.2 * z));
	}
	return v;
}

static void fill(struct st_hist *h, const int64_t *vals, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		st_hist_record(h, vals[i & (NVALS - 1)]);
}

int main(int argc, char **argv)
{
	bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
	uint64_t n_record = quick ? 10000000u : 100000000u;
	uint64_t n_merge = quick ? 200 : 2000;
	uint64_t n_codec = quick ? 200 : 2000;
	uint64_t n_pct = quick ? 2000 : 20000;
	struct st_hist *h, *a, *b;
	int64_t *vals = make_values();
	size_t bound, len = 0, counts_bytes;
	uint8_t *buf;
	uint64_t t0, t1;
	int64_t acc = 0;

	h = st_hist_create(1, HOUR_NS, 3);
	a = st_hist_create(1, HOUR_NS, 3);
	b = st_hist_create(1, HOUR_NS, 3);
	if (vals == NULL || h == NULL || a == NULL || b == NULL) {
		fprintf(stderr, "bench_hist: out of memory\n");
		return 1;
	}
	counts_bytes = (size_t)h->counts_len * sizeof(int64_t);

	printf("st_hist, 3 significant digits, 1 ns..1 h (%d counts, %zu KiB)%s\n",
	       h->counts_len, counts_bytes / 1024, quick ? ", --quick" : "");
	printf("%-22s %12s %10s %14s %10s\n", "operation", "ops", "ns/op",
	       "ops/s", "MB/s");

	/* warm the counts array and the value array once */
	fill(h, vals, NVALS);
	st_hist_reset(h);

	t0 = now_ns();
	for (uint64_t i = 0; i < n_record; i++)
		st_hist_record(h, vals[i & (NVALS - 1)]);
	t1 = now_ns();
	sink = st_hist_total(h);
	row("record", n_record, t1 - t0, 0);

	t0 = now_ns();
	for (uint64_t i = 0; i < n_record; i++)
		st_hist_record_n(h, vals[i & (NVALS - 1)], (int64_t)(i & 7) + 1);
	t1 = now_ns();
	sink = st_hist_total(h);
	row("record_n", n_record, t1 - t0, 0);

	fill(a, vals, 1000000);
	fill(b, vals + 12345, 1000000);
	t0 = now_ns();
	for (uint64_t i = 0; i < n_merge; i++)
		acc += st_hist_add(a, b);
	t1 = now_ns();
	sink = acc + st_hist_total(a);
	row("merge (same layout)", n_merge, t1 - t0, (double)counts_bytes);

	st_hist_reset(a);
	fill(a, vals, 1000000);
	bound = st_hist_encode_bound(a);
	buf = malloc(bound);
	if (buf == NULL)
		return 1;
	t0 = now_ns();
	for (uint64_t i = 0; i < n_codec; i++) {
		if (st_hist_encode_v2(a, buf, bound, &len) != 0)
			return 1;
	}
	t1 = now_ns();
	row("encode V2", n_codec, t1 - t0, (double)len);
	printf("  (1e6 samples: %zu counts bytes -> %zu encoded bytes)\n",
	       counts_bytes, len);

	t0 = now_ns();
	for (uint64_t i = 0; i < n_codec; i++) {
		struct st_hist *d = st_hist_decode_v2(buf, len, NULL);

		if (d == NULL)
			return 1;
		acc += st_hist_total(d);
		st_hist_destroy(d);
	}
	t1 = now_ns();
	sink = acc;
	row("decode V2", n_codec, t1 - t0, (double)len);

	t0 = now_ns();
	for (uint64_t i = 0; i < n_pct; i++)
		acc += st_hist_value_at_percentile(a, i & 1 ? 99.0 : 50.0);
	t1 = now_ns();
	sink = acc;
	row("value_at_percentile", n_pct, t1 - t0, 0);

	free(buf);
	free(vals);
	st_hist_destroy(h);
	st_hist_destroy(a);
	st_hist_destroy(b);
	return 0;
}
