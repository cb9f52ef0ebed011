/* The dataplane's per-worker flow table (dataplane/flowtab.c) against a
 * plain list of the keys it should hold: inserts, lookups, the capacity
 * limit, and removal by backward shift, with the cold part of each slot
 * moving with its hot part. Hashes are chosen by the test, so probe runs
 * collide and wrap around the end of the table on purpose. Runs DPDK's EAL
 * without hugepages (the table is rte_zmalloc'd). */
#include <errno.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_memory.h>

#include "cunit_main.h"
#include "flowtab.h"

#define MAXF 1024
/* The targets timed in the insert/remove test: production, group 2 (target
 * 3) and the last inject target, so the cold part is compact (3 pends a
 * slot) and sparse in target numbers. */
#define TG_LAST (DP_MAX_TARGETS - 1)
#define TARGETS (1u << DP_TARGET_PROD | 1u << 3 | 1u << TG_LAST)

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	return st_cu_rnd(&rng_state);
}

/* Flow number i: distinct keys, hashes crowded into a few home slots near
 * the table's end (mask is 2 * MAXF - 1) so runs are long and wrap. */
static void flow_key(uint32_t i, struct st_flow_key *k, uint32_t *hash)
{
	memset(k, 0, sizeof(*k));
	k->family = 4;
	k->proto = 17;
	memcpy(&k->addr[0], &i, sizeof(i));
	k->port[0] = (uint16_t)i;
	k->port[1] = 53;
	*hash = (2 * MAXF - 40 + (i % 97)) + ((i % 5 == 0) ? 0x10000u * i : 0);
}

/* A cold value that names its flow, to see that it moved with it. */
static uint64_t mark(uint32_t i)
{
	return 0x5100000000ull + i;
}

static int eal_up;

static int suite_init(void)
{
	char *argv[] = { "test_dp_flowtab", "--no-huge", "-m", "64", "--no-pci",
			 "--no-shconf", "--log-level", "*:error", "-l", "0" };

	eal_up = rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])), argv) >= 0;
	return eal_up ? 0 : 1;
}

static int suite_clean(void)
{
	if (eal_up)
		rte_eal_cleanup();
	return 0;
}

static void check_all(struct dp_flowtab *t, const bool *present)
{
	uint32_t held = 0;

	for (uint32_t i = 0; i < 3 * MAXF; i++) {
		struct st_flow_key k;
		uint32_t h;
		struct dp_flow *f;

		flow_key(i, &k, &h);
		f = dp_flowtab_lookup(t, &k, h);
		if (!present[i]) {
			CU_ASSERT_PTR_NULL(f);
			continue;
		}
		held++;
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		CU_ASSERT_EQUAL(f->hash, h);
		CU_ASSERT_EQUAL(f->prod_req_tsc, mark(i));
		CU_ASSERT_EQUAL(dp_flow_pend(t, f, 3)->req_tsc, mark(i) + 3);
		CU_ASSERT_EQUAL(*dp_flow_req(t, f, 3), mark(i) + 3);
		CU_ASSERT_EQUAL(*dp_flow_req(t, f, TG_LAST), mark(i) + TG_LAST);
		CU_ASSERT_EQUAL(dp_flow_pend(t, f, DP_TARGET_PROD)->syn_tsc, mark(i) + 1);
	}
	CU_ASSERT_EQUAL(t->n, held);
}

static void t_insert_remove(void)
{
	static bool present[3 * MAXF];
	struct dp_flowtab t;

	CU_ASSERT_FATAL(dp_flowtab_init(&t, MAXF, TARGETS, SOCKET_ID_ANY) == 0);
	CU_ASSERT_EQUAL(t.mask, 2 * MAXF - 1);
	CU_ASSERT_EQUAL(t.stride, 3);
	memset(present, 0, sizeof(present));
	for (int round = 0; round < 20; round++) {
		/* Fill up to the limit from a random mix of flows... */
		for (int tries = 0; tries < 4 * MAXF; tries++) {
			uint32_t i = rnd() % (3 * MAXF);
			struct st_flow_key k;
			uint32_t h;
			bool added, full = t.n == MAXF;
			struct dp_flow *f;

			flow_key(i, &k, &h);
			f = dp_flowtab_insert(&t, &k, h, &added);
			if (present[i]) {
				CU_ASSERT_PTR_NOT_NULL_FATAL(f);
				CU_ASSERT_FALSE(added);
				continue;
			}
			if (full) {
				/* full: refused, nothing changes */
				CU_ASSERT_PTR_NULL(f);
				CU_ASSERT_EQUAL(t.n, MAXF);
				continue;
			}
			CU_ASSERT_PTR_NOT_NULL_FATAL(f);
			CU_ASSERT_TRUE(added);
			/* a new entry starts zeroed, both parts, even in a
			 * slot an earlier flow left */
			CU_ASSERT_EQUAL(f->targets, 0);
			CU_ASSERT_EQUAL(f->prod_req_tsc, 0);
			CU_ASSERT_EQUAL(dp_flow_pend(&t, f, 3)->req_tsc, 0);
			CU_ASSERT_EQUAL(dp_flow_pend(&t, f, TG_LAST)->req_tsc, 0);
			CU_ASSERT_EQUAL(dp_flow_pend(&t, f, DP_TARGET_PROD)->syn_tsc, 0);
			CU_ASSERT_EQUAL(*dp_flow_req(&t, f, DP_TARGET_PROD), 0);
			f->prod_req_tsc = mark(i);
			dp_flow_pend(&t, f, 3)->req_tsc = mark(i) + 3;
			dp_flow_pend(&t, f, TG_LAST)->req_tsc = mark(i) + TG_LAST;
			dp_flow_pend(&t, f, DP_TARGET_PROD)->syn_tsc = mark(i) + 1;
			present[i] = true;
		}
		CU_ASSERT_EQUAL(t.n, MAXF);
		check_all(&t, present);
		/* ...then take a random part of them out again. */
		for (uint32_t i = 0; i < 3 * MAXF; i++) {
			struct st_flow_key k;
			uint32_t h;
			struct dp_flow *f;

			if (!present[i] || rnd() % 3 == 0)
				continue;
			flow_key(i, &k, &h);
			f = dp_flowtab_lookup(&t, &k, h);
			CU_ASSERT_PTR_NOT_NULL_FATAL(f);
			dp_flowtab_remove(&t, f);
			present[i] = false;
		}
		check_all(&t, present);
	}
	dp_flowtab_fini(&t);
	CU_ASSERT_PTR_NULL(t.e);
}

/* Production's pending request lives in the hot line, every other target's
 * in the cold part: one pend per timed target, each its own, none for
 * targets not timed. */
static void t_req_places(void)
{
	struct dp_flowtab t;
	struct st_flow_key k;
	uint32_t h;
	bool added;
	struct dp_flow *f, *g;

	CU_ASSERT_EQUAL(dp_flowtab_init(&t, MAXF, 1u << DP_MAX_TARGETS, SOCKET_ID_ANY), -EINVAL);
	CU_ASSERT_PTR_NULL(t.e);
	/* production is timed even when not asked for */
	CU_ASSERT_FATAL(dp_flowtab_init(&t, MAXF, 1u << 1 | 1u << 9, SOCKET_ID_ANY) == 0);
	CU_ASSERT_EQUAL(t.stride, 3);
	CU_ASSERT_EQUAL(t.col[DP_TARGET_PROD], 0);
	CU_ASSERT_EQUAL(t.col[1], 1);
	CU_ASSERT_EQUAL(t.col[9], 2);
	for (int tg = 2; tg < DP_MAX_TARGETS; tg++)
		if (tg != 9)
			CU_ASSERT_EQUAL(t.col[tg], -1);
	flow_key(7, &k, &h);
	f = dp_flowtab_insert(&t, &k, h, &added);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	flow_key(8, &k, &h);
	g = dp_flowtab_insert(&t, &k, h, &added);
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	CU_ASSERT_TRUE(dp_flow_used(f));
	CU_ASSERT_PTR_EQUAL(dp_flow_req(&t, f, DP_TARGET_PROD), &f->prod_req_tsc);
	CU_ASSERT_PTR_EQUAL(dp_flow_req(&t, f, 1), &dp_flow_pend(&t, f, 1)->req_tsc);
	CU_ASSERT_PTR_EQUAL(dp_flow_req(&t, f, 9), &dp_flow_pend(&t, f, 9)->req_tsc);
	/* the three pends of a slot are distinct and adjacent, and two slots'
	 * pends never overlap */
	CU_ASSERT_PTR_EQUAL(dp_flow_pend(&t, f, 1), dp_flow_pend(&t, f, DP_TARGET_PROD) + 1);
	CU_ASSERT_PTR_EQUAL(dp_flow_pend(&t, f, 9), dp_flow_pend(&t, f, DP_TARGET_PROD) + 2);
	CU_ASSERT_EQUAL(dp_flow_pend(&t, g, DP_TARGET_PROD) - dp_flow_pend(&t, f, DP_TARGET_PROD),
			3 * (g - f));
	CU_ASSERT_PTR_EQUAL(dp_flowtab_home(&t, h), &t.e[h & t.mask]);
	dp_flowtab_remove(&t, g);
	dp_flowtab_remove(&t, f);
	CU_ASSERT_EQUAL(t.n, 0);
	CU_ASSERT_PTR_NULL(dp_flowtab_lookup(&t, &k, h));
	dp_flowtab_fini(&t);
}

/* A slot holds a key only if all 40 bytes agree: a change in any one byte
 * (addresses, ports, VLAN, protocol, family) is another flow. */
static void t_key_compare(void)
{
	struct dp_flow f;
	struct st_flow_key k;
	uint32_t h;

	memset(&f, 0, sizeof(f));
	flow_key(12345, &f.key, &h);
	memset(&f.key.addr[1], 0xa5, sizeof(f.key.addr[1]));
	f.key.vlan = 100;
	k = f.key;
	CU_ASSERT_TRUE(dp_flow_is(&f, &k));
	for (size_t i = 0; i < sizeof(k); i++) {
		uint8_t *b = (uint8_t *)&k;

		b[i] ^= 0x10;
		CU_ASSERT_FALSE(dp_flow_is(&f, &k));
		b[i] ^= 0x10;
	}
	CU_ASSERT_TRUE(dp_flow_is(&f, &k));
	memset(&f, 0, sizeof(f));	/* an empty slot holds no used key */
	CU_ASSERT_FALSE(dp_flow_is(&f, &k));
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "insert_remove", t_insert_remove },
		{ "req_places", t_req_places },
		{ "key_compare", t_key_compare },
		{ NULL, NULL },
	};

	return st_cu_add_suite("dp_flowtab", suite_init, suite_clean, tests);
}
