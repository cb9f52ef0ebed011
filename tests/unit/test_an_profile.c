/* Client fingerprints (analyzer/fingerprint.c) and the per-client history
 * (analyzer/clients.c): k-means finds planted groups and k by silhouette,
 * one blob stays one group, labels survive a refit with the groups in
 * another order and a new group gets a new label; the history keeps
 * max_clients, counts the rest in other, and fingerprints clients fed
 * through the engine's ingest. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients.h"
#include "config.h"
#include "cunit_main.h"
#include "engine.h"
#include "fingerprint.h"
#include "wire.h"

static const double floors[FP_DIMS] = { 0.5, 0.5, 0.5, 0.5, 0.5, 0.5 };

static double gauss(uint64_t *r)
{
	double u = (st_cu_rnd(r) + 1.0) / 4294967297.0, v = st_cu_rnd(r) / 4294967296.0;

	return sqrt(-2 * log(u)) * cos(2 * 3.14159265358979323846 * v);
}

/* per points around each of the k centres given, spread sd. */
static void blobs(double (*x)[FP_DIMS], uint32_t *truth, uint32_t per, uint32_t k,
		  const double (*ctr)[FP_DIMS], double sd, uint64_t *r)
{
	for (uint32_t g = 0; g < k; g++)
		for (uint32_t i = 0; i < per; i++) {
			for (int j = 0; j < FP_DIMS; j++)
				x[g * per + i][j] = ctr[g][j] + sd * gauss(r);
			truth[g * per + i] = g;
		}
}

static const double C4[4][FP_DIMS] = {
	{ 0, 0, 0, 0, 0, 0 }, { 3, 0, 0, 1, 0, 0 }, { 0, 3, 3, 0, 0, 0 }, { 0, 0, 0, 2, 2, 0 },
};

static void test_kmeans_k(void)
{
	static double x[200][FP_DIMS];
	uint32_t truth[200], a[200], next = 1;
	uint64_t r = 11;
	struct fp_fit f;

	for (uint32_t k = 2; k <= 4; k++) {
		blobs(x, truth, 50, k, C4, 0.25, &r);
		CU_ASSERT_EQUAL_FATAL(fp_fit((const double (*)[FP_DIMS])x, 50 * k, 8, floors, 1, NULL,
					     &next, &f, a), 0);
		CU_ASSERT_EQUAL(f.k, k);
		if (f.silhouette <= 0.5)
			fprintf(stderr, "k %u: silhouette %.3f\n", k, f.silhouette);
		CU_ASSERT(f.silhouette > 0.5);
		CU_ASSERT(fp_ari(truth, a, 50 * k) > 0.99);
	}
	/* a split of one round blob has a low silhouette: one group wins */
	blobs(x, truth, 200, 1, C4, 1.0, &r);
	CU_ASSERT_EQUAL(fp_fit((const double (*)[FP_DIMS])x, 200, 8, floors, 1, NULL, &next, &f, a), 0);
	CU_ASSERT_EQUAL(f.k, 1);
	/* silhouette by hand: two pairs far apart */
	{
		double z[4][FP_DIMS] = { { 0 }, { 1 }, { 10 }, { 11 } };
		uint32_t as[4] = { 0, 0, 1, 1 }, bad[4] = { 0, 1, 0, 1 };
		double s = fp_silhouette((const double (*)[FP_DIMS])z, 4, as, 2);

		/* the outer points: a = 1, b = (10 + 11) / 2; the inner: b = 9.5 */
		CU_ASSERT_DOUBLE_EQUAL(s, 1 - (1 / 10.5 + 1 / 9.5) / 2, 1e-9);
		CU_ASSERT(fp_silhouette((const double (*)[FP_DIMS])z, 4, bad, 2) < 0);
	}
	/* ARI: the same partition under other names is 1, a crossing one low */
	{
		uint32_t p[6] = { 0, 0, 1, 1, 2, 2 }, q[6] = { 5, 5, 3, 3, 9, 9 };
		uint32_t w[6] = { 0, 1, 0, 1, 0, 1 };

		CU_ASSERT_DOUBLE_EQUAL(fp_ari(p, q, 6), 1, 1e-12);
		CU_ASSERT(fp_ari(p, w, 6) < 0.1);
	}
}

/* Three tight groups, one of them in two halves apart by less than the
 * floor (0.45 of 0.5 in one feature): the silhouette alone prefers four
 * groups (the halves well apart against their own spread); they are not
 * distinct behaviours, so the fit is the three. A gap of a floor and more
 * (0.75) makes the halves two groups. */
static void test_tight_split(void)
{
	static double x[150][FP_DIMS];
	uint32_t truth[150], a[150], next = 1;
	uint64_t r = 23;
	struct fp_fit f;

	blobs(x, truth, 50, 3, C4, 0.01, &r);
	for (uint32_t i = 0; i < 25; i++)
		x[i][3] += 0.45;
	CU_ASSERT_EQUAL_FATAL(fp_fit((const double (*)[FP_DIMS])x, 150, 8, floors, 1, NULL, &next,
				     &f, a), 0);
	CU_ASSERT_EQUAL(f.k, 3);
	CU_ASSERT(fp_ari(truth, a, 150) > 0.99);
	for (uint32_t i = 0; i < 25; i++)
		x[i][3] += 0.3;
	CU_ASSERT_EQUAL_FATAL(fp_fit((const double (*)[FP_DIMS])x, 150, 8, floors, 1, NULL, &next,
				     &f, a), 0);
	CU_ASSERT_EQUAL(f.k, 4);
}

/* Refit with the groups' points in another order (and a little moved):
 * every group keeps its label; a fourth group gets a new one. */
static void test_labels_stable(void)
{
	static double x[200][FP_DIMS], y[200][FP_DIMS];
	uint32_t truth[200], a[200], b[200], next = 1, lab_a[3], lab_b[3];
	uint64_t r = 5;
	struct fp_fit f1, f2, f3;
	double moved[4][FP_DIMS], rev[4][FP_DIMS];

	blobs(x, truth, 50, 3, C4, 0.2, &r);
	CU_ASSERT_EQUAL_FATAL(fp_fit((const double (*)[FP_DIMS])x, 150, 6, floors, 3, NULL, &next,
				     &f1, a), 0);
	CU_ASSERT_EQUAL_FATAL(f1.k, 3);
	CU_ASSERT_EQUAL(next, 4);
	for (uint32_t g = 0; g < 3; g++)
		lab_a[g] = f1.label[a[g * 50]];
	memcpy(moved, C4, sizeof(moved));
	for (int g = 0; g < 4; g++)
		moved[g][0] += 0.3;
	for (int g = 0; g < 3; g++)
		memcpy(rev[g], moved[2 - g], sizeof(rev[g]));
	blobs(y, truth, 50, 3, (const double (*)[FP_DIMS])rev, 0.2, &r);
	CU_ASSERT_EQUAL_FATAL(fp_fit((const double (*)[FP_DIMS])y, 150, 6, floors, 99, &f1, &next,
				     &f2, b), 0);
	CU_ASSERT_EQUAL_FATAL(f2.k, 3);
	for (uint32_t g = 0; g < 3; g++)
		lab_b[g] = f2.label[b[g * 50]];
	CU_ASSERT_EQUAL(lab_b[0], lab_a[2]);
	CU_ASSERT_EQUAL(lab_b[1], lab_a[1]);
	CU_ASSERT_EQUAL(lab_b[2], lab_a[0]);
	CU_ASSERT_EQUAL(next, 4);
	/* a fourth behaviour appears: three labels kept, one new */
	blobs(y, truth, 50, 4, (const double (*)[FP_DIMS])moved, 0.2, &r);
	CU_ASSERT_EQUAL_FATAL(fp_fit((const double (*)[FP_DIMS])y, 200, 6, floors, 7, &f2, &next,
				     &f3, b), 0);
	CU_ASSERT_EQUAL_FATAL(f3.k, 4);
	CU_ASSERT_EQUAL(f3.label[b[0]], lab_a[0]);
	CU_ASSERT_EQUAL(f3.label[b[50]], lab_a[1]);
	CU_ASSERT_EQUAL(f3.label[b[100]], lab_a[2]);
	CU_ASSERT_EQUAL(f3.label[b[150]], 4);
	CU_ASSERT_EQUAL(next, 5);
}

/* ---- history through the engine ---- */

static struct st_wbuf wb;

static void feed_at(struct an_engine *e, uint64_t seq, uint64_t t0, uint64_t now, uint32_t n,
		    const char (*keys)[32], const uint64_t *req, uint64_t other)
{
	static struct st_client_rec recs[8];
	struct st_clients_msg m;

	memset(&m, 0, sizeof(m));
	memset(recs, 0, sizeof(recs));
	m.recs = recs;
	m.n_recs = n;
	snprintf(m.h.src, sizeof(m.h.src), "gw");
	snprintf(m.h.service, sizeof(m.h.service), "web");
	snprintf(m.h.target, sizeof(m.h.target), "prod");
	snprintf(m.h.key, sizeof(m.h.key), "src/24");
	m.h.seq = seq;
	m.h.top = 8;
	m.h.t0 = t0;
	m.h.t1 = t0 + 1000000000ull;
	m.other.requests = other;
	for (uint32_t i = 0; i < n; i++) {
		snprintf(recs[i].k, sizeof(recs[i].k), "%s", keys[i]);
		recs[i].requests = req[i];
		recs[i].bytes_req = req[i] * (i >= 2 ? 1000 : 80);
	}
	CU_ASSERT_EQUAL_FATAL(st_clients_encode_msg(&m, &wb), 0);
	an_engine_ingest(e, "clients.web", 11, wb.data, wb.len, 2, now);
}

static void feed(struct an_engine *e, uint64_t seq, uint64_t t0, uint32_t n,
		 const char (*keys)[32], const uint64_t *req, uint64_t other)
{
	feed_at(e, seq, t0, t0 + 2000000000ull, n, keys, req, other);
}

/* A clients message from a day ahead (a gateway's clock): counted future,
 * not merged, and neither its time nor its seq taken. Before, it moved
 * the service's history a day ahead (every real message after it late)
 * and its publisher's time with it (a restart's messages duplicates). */
static void test_future(void)
{
	static const char keys[1][32] = { "10.0.1.0/24" };
	const uint64_t base = 1700000000ull * 1000000000ull, day = 86400ull * 1000000000ull;
	const uint64_t req[1] = { 10 };
	const struct an_clients_counters *k;
	struct an_config cfg;
	struct an_engine *e;

	an_config_defaults(&cfg);
	cfg.window_ns = 1000000000ull;
	cfg.client_history = 8;
	e = an_engine_create(&cfg, false);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	st_wbuf_init(&wb);
	k = an_clients_counters(an_engine_clients(e));
	feed(e, 1, base, 1, keys, req, 0);
	feed_at(e, 2, base + day, base + 3000000000ull, 1, keys, req, 0);
	CU_ASSERT_EQUAL(k->future, 1);
	CU_ASSERT_EQUAL(k->merged, 1);
	feed(e, 3, base + 1000000000ull, 1, keys, req, 0);
	feed(e, 4, base + 2000000000ull, 1, keys, req, 0);
	CU_ASSERT_EQUAL(k->merged, 3);
	CU_ASSERT_EQUAL(k->late, 0);
	/* the publisher restarts (seq from 1 again) with the next window: a
	 * restart, not duplicates */
	feed(e, 1, base + 3000000000ull, 1, keys, req, 0);
	CU_ASSERT_EQUAL(k->merged, 4);
	CU_ASSERT_EQUAL(k->duplicates, 0);
	/* the same message again: a duplicate; a second publisher on this
	 * src, its seq behind, for a window the first never sent: shared_src,
	 * not a duplicate */
	feed(e, 1, base + 3000000000ull, 1, keys, req, 0);
	CU_ASSERT_EQUAL(k->duplicates, 1);
	CU_ASSERT_EQUAL(k->shared_src, 0);
	feed(e, 2, base + 4000000000ull, 1, keys, req, 0);
	feed(e, 1, base + 4000000000ull + 100000000ull, 1, keys, req, 0);
	CU_ASSERT_EQUAL(k->duplicates, 1);
	CU_ASSERT_EQUAL(k->shared_src, 1);
	CU_ASSERT_EQUAL(k->merged, 5);
	an_engine_destroy(e);
	st_wbuf_free(&wb);
}

static void test_history(void)
{
	static const char keys[6][32] = { "10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24",
					  "10.0.4.0/24", "10.0.5.0/24", "10.0.6.0/24" };
	const uint64_t base = 1700000000ull * 1000000000ull;
	const struct an_clients_counters *k;
	char got[8][ST_CLIENT_KEY_MAX];
	uint32_t labels[8], n;
	struct an_config cfg;
	struct an_engine *e;
	struct st_wbuf body;

	an_config_defaults(&cfg);
	cfg.window_ns = 1000000000ull;
	cfg.max_clients = 4;
	cfg.client_history = 8;
	e = an_engine_create(&cfg, true);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	st_wbuf_init(&wb);
	st_wbuf_init(&body);
	for (uint64_t w = 0; w < 12; w++) {
		/* four clients: two with small requests at ~50, two with large
		 * ones at ~20; the fifth and sixth are smaller than all: other */
		const uint64_t req[6] = { 50 + w % 3, 52, 20, 21 + w % 2, 1, 2 };

		feed(e, w + 1, base + w * 1000000000ull, 6, keys, req, 7);
	}
	k = an_clients_counters(an_engine_clients(e));
	CU_ASSERT_EQUAL(k->merged, 12);
	/* the decoder's room is max_clients: the fifth and sixth fold into other */
	CU_ASSERT_EQUAL(k->folded, 24);
	CU_ASSERT_EQUAL(k->untracked, 0);
	CU_ASSERT(k->refits >= 6);
	n = an_clients_labels(an_engine_clients(e), "web", got, labels, 8);
	CU_ASSERT_EQUAL(n, 4);
	CU_ASSERT(labels[0] != 0 && labels[0] == labels[1] && labels[2] == labels[3] &&
		  labels[0] != labels[2]);
	/* a new small client when the table is full: other; a big one:
	 * takes the smallest's place */
	{
		static const char nk[2][32] = { "10.0.7.0/24", "10.0.8.0/24" };
		const uint64_t small[1] = { 1 }, big[1] = { 100000 };

		feed(e, 13, base + 12 * 1000000000ull, 1, nk, small, 0);
		CU_ASSERT_EQUAL(k->untracked, 1);
		feed(e, 14, base + 12 * 1000000000ull, 1, nk + 1, big, 0);
		CU_ASSERT_EQUAL(k->evicted, 1);
		n = an_clients_labels(an_engine_clients(e), "web", got, labels, 8);
		CU_ASSERT_EQUAL(n, 4);
		CU_ASSERT(strcmp(got[2], "10.0.8.0/24") == 0);	/* 10.0.3.0/24 had the fewest */
	}
	/* a malformed message, a duplicate and a late one: counted */
	an_engine_ingest(e, "clients.web", 11, "\x81\xa1v\x01", 4, 2, base);
	CU_ASSERT_EQUAL(k->malformed, 1);
	{
		const uint64_t req[1] = { 5 };

		feed(e, 5, base + 4 * 1000000000ull, 1, keys, req, 0);
		CU_ASSERT_EQUAL(k->duplicates, 1);
		feed(e, 100, base, 1, keys, req, 0);
		CU_ASSERT_EQUAL(k->late, 1);
	}
	/* the snapshot serves the documents once published */
	CU_ASSERT_EQUAL(an_clients_http(an_engine_clients(e), "web", "profiles", NULL, &body), 503);
	an_clients_round(an_engine_clients(e));
	CU_ASSERT_EQUAL(an_clients_http(an_engine_clients(e), "web", "profiles", NULL, &body), 200);
	st_wbuf_append(&body, "", 1);
	CU_ASSERT(strstr((const char *)body.data, "\"fingerprints\"") != NULL);
	st_wbuf_reset(&body);
	CU_ASSERT_EQUAL(an_clients_http(an_engine_clients(e), "web", "client", "10.0.2.0/24",
					&body), 200);
	CU_ASSERT_EQUAL(an_clients_http(an_engine_clients(e), "web", "client", "10.0.9.0/24",
					&body), 404);
	CU_ASSERT_EQUAL(an_clients_http(an_engine_clients(e), "nope", "clients", NULL, &body), 404);
	st_wbuf_free(&body);
	st_wbuf_free(&wb);
	an_engine_destroy(e);
}

/* Which clients stay once the table is full, against a model of the rule
 * (a newcomer takes the place of the client with the fewest requests in
 * the history, the first of equals, when it has more than that): random
 * keys and counts over windows that move on by 0, 1 or 5, so that slots
 * clear while the table churns. */
static void test_eviction_rule(void)
{
	enum { MAXC = 5, H = 4, POOL = 12, STEPS = 300 };
	const uint64_t base = 1700000000ull * 1000000000ull;
	const struct an_clients_counters *k;
	char pool[POOL][32], got[MAXC + 1][ST_CLIENT_KEY_MAX];
	uint32_t labels[MAXC + 1], n = 0, rng = 12345;
	int mk[MAXC] = { 0 };		/* the model: pool key of each entry */
	uint64_t ms[MAXC][H] = { { 0 } }, evicted = 0, untracked = 0;
	int64_t w = 0, cur = -1;
	struct an_config cfg;
	struct an_engine *e;

	for (int i = 0; i < POOL; i++)
		snprintf(pool[i], sizeof(pool[i]), "10.9.%d.0/24", i);
	an_config_defaults(&cfg);
	cfg.window_ns = 1000000000ull;
	cfg.max_clients = MAXC;
	cfg.client_history = H;
	e = an_engine_create(&cfg, true);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	st_wbuf_init(&wb);
	k = an_clients_counters(an_engine_clients(e));
	for (int step = 0; step < STEPS; step++) {
		char keys[4][32];
		uint64_t req[4];
		int pick[4], nr = 0, ok = 1;
		uint32_t r;

		rng = rng * 1103515245u + 12345u;
		r = (rng >> 16) % 8;
		w += r < 5 ? 0 : r < 7 ? 1 : 5;
		for (int64_t x = (cur < 0 || w - cur > H) ? w - H + 1 : cur + 1; x <= w; x++)
			for (uint32_t i = 0; i < n; i++)
				ms[i][x % H] = 0;
		cur = w;
		while (nr < 4) {
			int p, dup = 0;

			rng = rng * 1103515245u + 12345u;
			p = (int)((rng >> 16) % POOL);
			for (int j = 0; j < nr; j++)
				dup |= pick[j] == p;
			if (dup)
				continue;
			pick[nr] = p;
			rng = rng * 1103515245u + 12345u;
			req[nr] = 1 + (rng >> 16) % 30;
			snprintf(keys[nr], sizeof(keys[nr]), "%s", pool[p]);
			nr++;
		}
		for (int j = 0; j < 4; j++) {
			int at = -1;

			for (uint32_t i = 0; i < n; i++)
				if (mk[i] == pick[j])
					at = (int)i;
			if (at < 0 && n < MAXC) {
				at = (int)n++;
			} else if (at < 0) {
				uint64_t least = UINT64_MAX;

				for (uint32_t i = 0; i < n; i++) {
					uint64_t t = ms[i][0] + ms[i][1] + ms[i][2] + ms[i][3];

					if (t < least) {
						least = t;
						at = (int)i;
					}
				}
				if (least >= req[j]) {
					untracked++;
					continue;
				}
				evicted++;
				memset(ms[at], 0, sizeof(ms[at]));
			}
			mk[at] = pick[j];
			ms[at][w % H] += req[j];
		}
		feed(e, (uint64_t)step + 1, base + (uint64_t)w * 1000000000ull, 4, keys, req, 0);
		CU_ASSERT_EQUAL_FATAL(an_clients_labels(an_engine_clients(e), "web", got, labels,
							MAXC + 1), n);
		for (uint32_t i = 0; i < n; i++)
			ok &= strcmp(got[i], pool[mk[i]]) == 0;
		CU_ASSERT_FATAL(ok);
		CU_ASSERT_EQUAL_FATAL(k->evicted, evicted);
		CU_ASSERT_EQUAL_FATAL(k->untracked, untracked);
	}
	/* the walk churned the table both ways */
	CU_ASSERT(evicted > 20 && untracked > 20);
	st_wbuf_free(&wb);
	an_engine_destroy(e);
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "k-means finds planted groups, k by silhouette", test_kmeans_k },
		{ "labels stable across refits, new group new label", test_labels_stable },
		{ "groups closer than the floors are one", test_tight_split },
		{ "history bounded, fingerprints through ingest, refusals counted", test_history },
		{ "a clients message from the future: refused, its time not taken", test_future },
		{ "a full table keeps the clients with the most requests in the history",
		  test_eviction_rule },
		{ NULL, NULL },
	};

	return st_cu_add_suite("client profiles", NULL, NULL, tests);
}
