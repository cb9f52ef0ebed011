/* Space-Saving (common/spacesaving.c) against exact counts, and the clients
 * message it is published in (common/wire_clients.c). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "cunit_main.h"
#include "spacesaving.h"
#include "wire.h"

static struct st_ckey key_of(uint32_t id)
{
	/* one /24 per id, as client_key = src/24 makes them */
	struct st_ckey k = { .hi = 0, .lo = (0xc6120000u + (id << 8)) & 0xffffff00u,
			     .tag = ST_CKEY_IPV4 | 24u << 8, .pad = 0 };

	return k;
}

static void request(struct st_ss *s, uint32_t id, uint64_t bytes)
{
	struct st_ckey k = key_of(id);

	st_ss_request(s, &k, st_ckey_hash(&k), bytes);
}

static const struct st_ss_entry *find(const struct st_ss *s, uint32_t id)
{
	struct st_ckey k = key_of(id);

	return st_ss_find(s, &k, st_ckey_hash(&k));
}

/* A Zipf(s) sampler over m keys: the cumulative weights, searched. */
struct zipf {
	double *cdf;
	uint32_t m;
};

static void zipf_init(struct zipf *z, uint32_t m, double expo)
{
	double sum = 0;

	z->m = m;
	z->cdf = malloc(m * sizeof(double));
	CU_ASSERT_PTR_NOT_NULL_FATAL(z->cdf);
	for (uint32_t i = 0; i < m; i++) {
		sum += 1.0 / pow(i + 1, expo);
		z->cdf[i] = sum;
	}
	for (uint32_t i = 0; i < m; i++)
		z->cdf[i] /= sum;
}

static uint32_t zipf_next(const struct zipf *z, uint64_t *rng)
{
	double u = (double)st_cu_rnd(rng) / 4294967296.0;
	uint32_t lo = 0, hi = z->m - 1;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (z->cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* scatter ranks over ids so the heavy ones are not the first inserted */
	return (lo * 2654435761u) % z->m;
}

static void test_init_invalid(void)
{
	uint64_t mem[16];

	CU_ASSERT_EQUAL(st_ss_size(0), 0);
	CU_ASSERT_EQUAL(st_ss_size(1u << 30), 0);
	CU_ASSERT_PTR_NULL(st_ss_init(mem, sizeof(mem), 100));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NULL(st_ss_init(NULL, 1 << 20, 10));
	CU_ASSERT_PTR_NULL(st_ss_create(0));
}

static void test_lhist(void)
{
	struct st_lhist h;
	unsigned int prev = 0;

	for (uint64_t ns = 1; ns < (1ull << 40); ns = ns * 3 / 2 + 1) {
		unsigned int b = st_lhist_bucket(ns);

		CU_ASSERT(b >= prev);
		CU_ASSERT(b < ST_LHIST_BUCKETS);
		if (ns < (1ull << 37)) {
			CU_ASSERT(st_lhist_lower(b) <= ns && ns < st_lhist_lower(b + 1));
			/* a bucket is at most 25% of its lower bound wide (above 4 us) */
			if (b >= 4)
				CU_ASSERT(st_lhist_lower(b + 1) - st_lhist_lower(b) <=
					  st_lhist_lower(b) / 4);
		}
		prev = b;
	}
	CU_ASSERT_EQUAL(st_lhist_bucket(UINT64_MAX), ST_LHIST_BUCKETS - 1);
	memset(&h, 0, sizeof(h));
	CU_ASSERT_EQUAL(st_lhist_quantile(&h, 0.5), 0);
	/* 90 answers at 10 ms, 10 at 200 ms: p50 near 10, p99 near 200 */
	h.c[st_lhist_bucket(10000000)] = 90;
	h.c[st_lhist_bucket(200000000)] = 10;
	CU_ASSERT(fabs((double)st_lhist_quantile(&h, 0.5) - 1e7) < 0.125 * 1e7);
	CU_ASSERT(fabs((double)st_lhist_quantile(&h, 0.99) - 2e8) < 0.125 * 2e8);
	/* 79 at 2 us and 1 at 500 ms: the 99th percentile is the 80th answer,
	 * ceil(0.99 * 80) (rounding took the 79th, 2 us) */
	memset(&h, 0, sizeof(h));
	h.c[st_lhist_bucket(2000)] = 79;
	h.c[st_lhist_bucket(500000000)] = 1;
	CU_ASSERT(fabs((double)st_lhist_quantile(&h, 0.99) - 5e8) < 0.125 * 5e8);
	/* sums stop at the wire's u32 */
	{
		struct st_lhist a = h;

		a.c[0] = UINT32_MAX - 1;
		st_lhist_add(&a, &h);
		CU_ASSERT_EQUAL(a.c[st_lhist_bucket(2000)], 158);
		h.c[0] = 2;
		st_lhist_add(&a, &h);
		CU_ASSERT_EQUAL(a.c[0], UINT32_MAX);
	}
}

static void test_ckey_format(void)
{
	struct st_ckey k = key_of(1);
	char buf[64];

	CU_ASSERT(st_ckey_format(&k, buf, sizeof(buf)) > 0);
	CU_ASSERT_STRING_EQUAL(buf, "198.18.1.0/24");
	k = (struct st_ckey){ .hi = 0x20010db800000000ull, .lo = 0, .tag = ST_CKEY_IPV6 | 48u << 8 };
	st_ckey_format(&k, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "2001:db8::/48");
	k = (struct st_ckey){ .lo = 100, .tag = ST_CKEY_VLAN };
	st_ckey_format(&k, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "100");
	k.tag = 0;
	CU_ASSERT_EQUAL(st_ckey_format(&k, buf, sizeof(buf)), -EINVAL);
}

/* Fewer distinct keys than the capacity: every count exact, no error. */
static void test_exact_below_capacity(void)
{
	struct st_ss *s = st_ss_create(64);
	uint64_t exact[50] = { 0 }, rng = 7;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (int i = 0; i < 20000; i++) {
		uint32_t id = st_cu_rnd(&rng) % 50;

		request(s, id, 100 + id);
		exact[id]++;
	}
	CU_ASSERT_EQUAL(s->n, 50);
	CU_ASSERT_EQUAL(st_ss_floor(s), 0);
	CU_ASSERT_EQUAL(s->other.requests, 0);
	for (uint32_t id = 0; id < 50; id++) {
		const struct st_ss_entry *e = find(s, id);

		CU_ASSERT_PTR_NOT_NULL_FATAL(e);
		CU_ASSERT_EQUAL(e->s.requests, exact[id]);
		CU_ASSERT_EQUAL(e->err, 0);
		CU_ASSERT_EQUAL(e->s.bytes_req, exact[id] * (100 + id));
	}
	/* a new interval starts empty */
	st_ss_clear(s);
	CU_ASSERT_EQUAL(s->n, 0);
	CU_ASSERT_PTR_NULL(find(s, 3));
	st_ss_destroy(s);
}

/* Checks the Space-Saving guarantees of s against exact[0..m): every key
 * held has requests <= exact <= requests + err, every key not held has
 * exact <= floor <= bound (N/k for one summary; a merge of summaries of
 * capacity k can reach 2N/k: the counts it sorts sum to at most 2N). */
static void check_bounds(const struct st_ss *s, const uint64_t *exact, uint32_t m, uint64_t total,
			 uint64_t bound)
{
	uint64_t floor = st_ss_floor(s), held_sum = 0;
	uint32_t bad_lo = 0, bad_hi = 0, bad_out = 0, missed_heavy = 0;

	for (uint32_t id = 0; id < m; id++) {
		const struct st_ss_entry *e = find(s, id);

		if (e != NULL) {
			bad_lo += e->s.requests > exact[id];
			bad_hi += exact[id] > e->s.requests + e->err;
			held_sum += e->s.requests;
		} else {
			bad_out += exact[id] > floor;
			/* any key above the bound must be held */
			missed_heavy += exact[id] > bound;
		}
	}
	CU_ASSERT_EQUAL(bad_lo, 0);
	CU_ASSERT_EQUAL(bad_hi, 0);
	CU_ASSERT_EQUAL(bad_out, 0);
	CU_ASSERT_EQUAL(missed_heavy, 0);
	CU_ASSERT(floor <= bound);
	CU_ASSERT_EQUAL(held_sum + s->other.requests, total);
}

static void test_bound_skewed(void)
{
	const uint32_t m = 5000, k = 100;
	const double expos[] = { 0.8, 1.1, 1.5 };

	for (size_t x = 0; x < sizeof(expos) / sizeof(expos[0]); x++) {
		struct st_ss *s = st_ss_create(k);
		uint64_t *exact = calloc(m, sizeof(uint64_t)), rng = 0x1234567 + x, total = 0;
		struct zipf z;

		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		CU_ASSERT_PTR_NOT_NULL_FATAL(exact);
		zipf_init(&z, m, expos[x]);
		for (int i = 0; i < 300000; i++) {
			uint32_t id = zipf_next(&z, &rng);

			request(s, id, 1);
			exact[id]++;
			total++;
		}
		CU_ASSERT(s->evictions > 0);
		CU_ASSERT_EQUAL(s->n, k);
		check_bounds(s, exact, m, total, total / k);
		/* every entry's error is bounded by N/k */
		for (uint32_t i = 0; i < s->n; i++)
			CU_ASSERT(s->e[i].err <= total / k);
		free(z.cdf);
		free(exact);
		st_ss_destroy(s);
	}
}

/* A run of one key's requests counted at once (st_ss_request_n, the
 * dataplane's per-burst runs) keeps the guarantees the same requests one by
 * one give, under churn (more keys than room, runs of 1 to 8) with the lazy
 * heap: counts bracket the truth, every key not held is under the floor,
 * the totals add up, the heavy keys are held either way. (Which of several
 * entries of equal count gives way may differ.) */
static void test_runs(void)
{
	const uint32_t m = 400, k = 50;
	struct st_ss *a = st_ss_create(k), *b = st_ss_create(k);
	uint64_t *exact = calloc(m, sizeof(uint64_t)), rng = 0xfeed, total = 0;
	struct zipf z;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_PTR_NOT_NULL_FATAL(exact);
	zipf_init(&z, m, 0.9);
	for (int i = 0; i < 40000; i++) {
		uint32_t id = zipf_next(&z, &rng), n = 1 + st_cu_rnd(&rng) % 8;
		struct st_ckey key = key_of(id);

		st_ss_request_n(a, &key, st_ckey_hash(&key), n, 10 * n);
		for (uint32_t j = 0; j < n; j++)
			request(b, id, 10);
		exact[id] += n;
		total += n;
	}
	CU_ASSERT(a->evictions > 0);
	CU_ASSERT_EQUAL(a->n, b->n);
	check_bounds(a, exact, m, total, total / k);
	check_bounds(b, exact, m, total, total / k);
	for (uint32_t id = 0; id < m; id++)
		if (exact[id] > total / k) {
			const struct st_ss_entry *x = find(a, id);

			CU_ASSERT_PTR_NOT_NULL_FATAL(x);
			CU_ASSERT(x->s.bytes_req == 10 * x->s.requests);
		}
	free(z.cdf);
	free(exact);
	st_ss_destroy(a);
	st_ss_destroy(b);
}

/* Every response, timeout and reset counted once, in an entry or in other:
 * the totals are the stream's, whoever is held when they come. */
static void test_totals(void)
{
	const uint32_t m = 3000, k = 50;
	struct st_ss *s = st_ss_create(k);
	struct st_ss_stats t;
	struct zipf z;
	uint64_t rng = 99, req = 0, bytes = 0, resp = 0, tmo = 0, rst = 0, rbytes = 0;
	uint64_t lat_n = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	zipf_init(&z, m, 1.0);
	for (int i = 0; i < 100000; i++) {
		uint32_t id = zipf_next(&z, &rng), r = st_cu_rnd(&rng) % 10;
		struct st_ckey key = key_of(id);
		uint32_t h = st_ckey_hash(&key);

		st_ss_request(s, &key, h, 60 + r);
		req++;
		bytes += 60 + r;
		if (r < 7) {
			st_ss_response(s, &key, h, 1000000u * (r + 1), 80);
			resp++;
			rbytes += 80;
		} else if (r == 7) {
			st_ss_timeout(s, &key, h);
			tmo++;
		} else if (r == 8) {
			st_ss_reset(s, &key, h);
			rst++;
		}
		/* a late answer of a key seen long ago */
		if (r == 9) {
			struct st_ckey old = key_of(st_cu_rnd(&rng) % m);

			st_ss_response(s, &old, st_ckey_hash(&old), 5000, 10);
			resp++;
			rbytes += 10;
		}
	}
	memset(&t, 0, sizeof(t));
	st_ss_totals(s, &t);
	CU_ASSERT_EQUAL(t.requests, req);
	CU_ASSERT_EQUAL(t.bytes_req, bytes);
	CU_ASSERT_EQUAL(t.responses, resp);
	CU_ASSERT_EQUAL(t.bytes_resp, rbytes);
	CU_ASSERT_EQUAL(t.timeouts, tmo);
	CU_ASSERT_EQUAL(t.resets, rst);
	for (unsigned int b = 0; b < ST_LHIST_BUCKETS; b++)
		lat_n += t.lat.c[b];
	CU_ASSERT_EQUAL(lat_n, resp);
	CU_ASSERT(s->other.requests > 0);
	free(z.cdf);
	st_ss_destroy(s);
}

/* Two workers' summaries of disjoint streams (the same keys, other
 * mixes), merged as the main lcore does: bounds hold for the sum. */
static void test_merge(void)
{
	const uint32_t m = 4000, k = 80;
	struct st_ss *a = st_ss_create(k), *b = st_ss_create(k), *d = st_ss_create(2 * k);
	uint64_t *exact = calloc(m, sizeof(uint64_t)), rng = 4242, total = 0;
	struct st_ss_stats t;
	struct zipf z;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_PTR_NOT_NULL_FATAL(exact);
	zipf_init(&z, m, 1.1);
	for (int i = 0; i < 200000; i++) {
		uint32_t id = zipf_next(&z, &rng);

		/* b sees a shifted popularity: some of its heavy keys are
		 * light in a */
		if (i & 1)
			id = (id + 7) % m;
		request((i & 1) ? b : a, id, 1);
		exact[id]++;
		total++;
	}
	/* merge into an empty summary, as the main lcore does each interval */
	CU_ASSERT_EQUAL(st_ss_merge(d, a, k), 0);
	CU_ASSERT_EQUAL(d->n, k);
	CU_ASSERT_EQUAL(st_ss_merge(d, b, k), 0);
	CU_ASSERT_EQUAL(d->n, k);
	check_bounds(d, exact, m, total, 2 * total / k);
	memset(&t, 0, sizeof(t));
	st_ss_totals(d, &t);
	CU_ASSERT_EQUAL(t.requests, total);
	/* no room: refused, unchanged */
	CU_ASSERT_EQUAL(st_ss_merge(a, b, k), -ENOSPC);
	/* exact inputs merge exactly */
	st_ss_clear(a);
	st_ss_clear(b);
	st_ss_clear(d);
	for (uint32_t id = 0; id < 30; id++) {
		for (uint32_t j = 0; j <= id; j++)
			request(a, id, 1);
		request(b, id + 20, 1);
	}
	CU_ASSERT_EQUAL(st_ss_merge(d, a, k), 0);
	CU_ASSERT_EQUAL(st_ss_merge(d, b, k), 0);
	CU_ASSERT_EQUAL(d->n, 50);
	CU_ASSERT_EQUAL(st_ss_floor(d), 0);
	CU_ASSERT_EQUAL(find(d, 25)->s.requests, 27);
	CU_ASSERT_EQUAL(find(d, 25)->err, 0);
	CU_ASSERT_EQUAL(find(d, 45)->s.requests, 1);
	free(z.cdf);
	free(exact);
	st_ss_destroy(a);
	st_ss_destroy(b);
	st_ss_destroy(d);
}

static const msgpack_object *map_get(const msgpack_object *m, const char *k)
{
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object_kv *kv = &m->via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(k) &&
		    memcmp(kv->key.via.str.ptr, k, strlen(k)) == 0)
			return &kv->val;
	}
	return NULL;
}

/* The message lists n entries, folds the rest into other, and the listed
 * counts plus other's are the totals. */
static void test_encode(void)
{
	struct st_ss *s = st_ss_create(20);
	struct st_ss_heap order[20];
	struct st_clients_hdr h = { .seq = 5, .src = "gw1", .service = "web", .target = "prod",
				    .key = "src/24", .top = 20, .t0 = 1, .t1 = 2 };
	struct st_wbuf out;
	msgpack_unpacked up;
	const msgpack_object *cl, *other;
	uint64_t sum = 0, floor;
	uint32_t n;
	char topic[64];

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (uint32_t id = 0; id < 40; id++)
		for (uint32_t j = 0; j < 40 - id; j++)
			request(s, id, 10);
	n = st_ss_sorted(s, order);
	CU_ASSERT_EQUAL(n, 20);
	for (uint32_t i = 1; i < n; i++)
		CU_ASSERT(order[i - 1].count >= order[i].count);
	st_wbuf_init(&out);
	CU_ASSERT_EQUAL(st_clients_encode(&h, s, order, n, 5, &out), 0);
	msgpack_unpacked_init(&up);
	CU_ASSERT_FATAL(msgpack_unpack_next(&up, (const char *)out.data, out.len, NULL) ==
			MSGPACK_UNPACK_SUCCESS);
	CU_ASSERT_EQUAL(map_get(&up.data, "v")->via.u64, 1);
	CU_ASSERT_EQUAL(map_get(&up.data, "seq")->via.u64, 5);
	CU_ASSERT_EQUAL(map_get(&up.data, "n")->via.u64, 5);
	cl = map_get(&up.data, "clients");
	CU_ASSERT_EQUAL_FATAL(cl->via.array.size, 5);
	/* largest count first; the key as text */
	{
		char k0[64];
		int kl = st_ckey_format(&s->e[order[0].idx].key, k0, sizeof(k0));
		const msgpack_object *c0 = &cl->via.array.ptr[0];

		CU_ASSERT(map_get(c0, "k")->via.str.size == (uint32_t)kl &&
			  memcmp(map_get(c0, "k")->via.str.ptr, k0, (size_t)kl) == 0);
		CU_ASSERT_EQUAL(map_get(c0, "requests")->via.u64 + map_get(c0, "err")->via.u64,
				order[0].count);
	}
	for (uint32_t i = 0; i < 5; i++)
		sum += map_get(&cl->via.array.ptr[i], "requests")->via.u64;
	other = map_get(&up.data, "other");
	sum += map_get(other, "requests")->via.u64;
	CU_ASSERT_EQUAL(sum, 40 * 41 / 2);
	/* an unlisted client had at most floor: the 6th largest's upper bound */
	floor = map_get(&up.data, "floor")->via.u64;
	CU_ASSERT_EQUAL(floor, order[5].count);
	msgpack_unpacked_destroy(&up);
	/* bad header: refused */
	snprintf(h.service, sizeof(h.service), "a.b");
	CU_ASSERT_EQUAL(st_clients_encode(&h, s, order, n, 5, &out), -EINVAL);
	CU_ASSERT_EQUAL(st_clients_topic("a b", topic, sizeof(topic)), -EINVAL);
	CU_ASSERT(st_clients_topic("web", topic, sizeof(topic)) > 0);
	CU_ASSERT_STRING_EQUAL(topic, "clients.web");
	st_wbuf_free(&out);
	st_ss_destroy(s);
}

int st_register_suites(void)
{
	static const struct st_cu_test basics[] = {
		{ "invalid arguments", test_init_invalid },
		{ "latency buckets and quantiles", test_lhist },
		{ "key text", test_ckey_format },
		{ NULL, NULL },
	};
	static const struct st_cu_test summary[] = {
		{ "exact below capacity", test_exact_below_capacity },
		{ "error bound on skewed streams", test_bound_skewed },
		{ "runs counted at once, the lazy heap", test_runs },
		{ "top plus other equals the totals", test_totals },
		{ "merge of two summaries", test_merge },
		{ "clients message", test_encode },
		{ NULL, NULL },
	};
	int rc;

	if ((rc = st_cu_add_suite("spacesaving basics", NULL, NULL, basics)) != 0 ||
	    (rc = st_cu_add_suite("spacesaving summary", NULL, NULL, summary)) != 0)
		return rc;
	return 0;
}
