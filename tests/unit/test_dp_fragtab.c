/* The dataplane's per-worker table of fragmented datagrams
 * (dataplane/fragtab.c): inserts and lookups, keys that share an IP id but
 * differ in source, destination, protocol, family, VLAN or port, the
 * capacity bound, the hold limits (per datagram and per table) with the
 * held mbufs going back to their pool, completeness from overlapping and
 * out-of-order fragments, and expiry. Runs DPDK's EAL without hugepages
 * (the table is rte_zmalloc'd, held fragments are mbufs). */
#include <errno.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_memory.h>

#include "cunit_main.h"
#include "fragtab.h"

#define MAXD 256

static int eal_up;
static struct rte_mempool *pool;

static int suite_init(void)
{
	char *argv[] = { "test_dp_fragtab", "--no-huge", "-m", "64", "--no-pci",
			 "--no-shconf", "--log-level", "*:error", "-l", "0" };

	eal_up = rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])), argv) >= 0;
	if (!eal_up)
		return 1;
	pool = rte_pktmbuf_pool_create("frag_test", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	return pool == NULL;
}

static int suite_clean(void)
{
	rte_mempool_free(pool);
	if (eal_up)
		rte_eal_cleanup();
	return 0;
}

/* A fragment's view as the parser leaves it: family, addresses, protocol
 * and VLAN are what the key reads. */
static void pkt(struct st_pkt *p, uint8_t l3, uint32_t src, uint32_t dst, uint8_t proto,
		uint16_t vlan)
{
	memset(p, 0, sizeof(*p));
	p->l3 = l3;
	p->proto = proto;
	p->flags = ST_PKT_F_FRAG;
	memcpy(&p->src.a8[l3 == ST_L3_IPV6 ? 12 : 0], &src, 4);
	memcpy(&p->dst.a8[l3 == ST_L3_IPV6 ? 12 : 0], &dst, 4);
	if (vlan) {
		p->vlan_count = 1;
		p->vlan_tci[0] = vlan;
	}
}

static struct dp_frag *add(struct dp_fragtab *t, const struct st_pkt *p, uint32_t id,
			   uint16_t port, uint64_t now, bool *added)
{
	struct st_pkt q = *p;
	struct dp_frag_key k;

	q.frag_id = id;
	dp_frag_key_set(&k, &q, port);
	return dp_fragtab_insert(t, &k, dp_frag_key_hash(&k), now, added);
}

static struct dp_frag *find(struct dp_fragtab *t, const struct st_pkt *p, uint32_t id,
			    uint16_t port)
{
	struct st_pkt q = *p;
	struct dp_frag_key k;

	q.frag_id = id;
	dp_frag_key_set(&k, &q, port);
	return dp_fragtab_lookup(t, &k, dp_frag_key_hash(&k));
}

/* Datagrams that share an IP id are told apart by everything else in
 * their key; the same key finds the same entry. */
static void t_id_collisions(void)
{
	struct dp_fragtab t;
	struct st_pkt v[8];
	struct dp_frag *e[8];
	bool added;

	CU_ASSERT_FATAL(dp_fragtab_init(&t, MAXD, 64, SOCKET_ID_ANY) == 0);
	pkt(&v[0], ST_L3_IPV4, 0x01020304, 0x05060708, ST_IPPROTO_UDP, 0);
	pkt(&v[1], ST_L3_IPV4, 0x01020305, 0x05060708, ST_IPPROTO_UDP, 0);	/* src */
	pkt(&v[2], ST_L3_IPV4, 0x01020304, 0x05060709, ST_IPPROTO_UDP, 0);	/* dst */
	pkt(&v[3], ST_L3_IPV4, 0x01020304, 0x05060708, ST_IPPROTO_TCP, 0);	/* proto */
	pkt(&v[4], ST_L3_IPV6, 0x01020304, 0x05060708, ST_IPPROTO_UDP, 0);	/* family */
	pkt(&v[5], ST_L3_IPV4, 0x01020304, 0x05060708, ST_IPPROTO_UDP, 10);	/* vlan */
	pkt(&v[6], ST_L3_IPV4, 0x05060708, 0x01020304, ST_IPPROTO_UDP, 0);	/* reversed */
	pkt(&v[7], ST_L3_IPV4, 0x01020304, 0x05060708, ST_IPPROTO_UDP, 0);	/* port, below */
	for (int i = 0; i < 8; i++) {
		e[i] = add(&t, &v[i], 77, i == 7 ? 1 : 0, 100, &added);
		CU_ASSERT_PTR_NOT_NULL_FATAL(e[i]);
		CU_ASSERT_TRUE(added);
		e[i]->flow_hash = 1000u + (uint32_t)i;
	}
	CU_ASSERT_EQUAL(t.n, 8);
	for (int i = 0; i < 8; i++) {
		struct dp_frag *f = find(&t, &v[i], 77, i == 7 ? 1 : 0);

		CU_ASSERT_PTR_EQUAL(f, e[i]);
		CU_ASSERT_EQUAL(f->flow_hash, 1000u + (uint32_t)i);
		/* another id of the same endpoints is another datagram */
		CU_ASSERT_PTR_NULL(find(&t, &v[i], 78, i == 7 ? 1 : 0));
		CU_ASSERT_PTR_EQUAL(add(&t, &v[i], 77, i == 7 ? 1 : 0, 200, &added), e[i]);
		CU_ASSERT_FALSE(added);
		CU_ASSERT_EQUAL(e[i]->born_tsc, 100);	/* found, not reborn */
	}
	/* removal by backward shift keeps the others findable */
	for (int i = 0; i < 8; i += 2)
		dp_fragtab_remove(&t, find(&t, &v[i], 77, i == 7 ? 1 : 0));
	CU_ASSERT_EQUAL(t.n, 4);
	for (int i = 0; i < 8; i++) {
		struct dp_frag *f = find(&t, &v[i], 77, i == 7 ? 1 : 0);

		if (i % 2 == 0) {
			CU_ASSERT_PTR_NULL(f);
		} else {
			CU_ASSERT_PTR_NOT_NULL_FATAL(f);
			CU_ASSERT_EQUAL(f->flow_hash, 1000u + (uint32_t)i);
		}
	}
	dp_fragtab_fini(&t);
	CU_ASSERT_PTR_NULL(t.e);
}

/* At most max datagrams: the next one is refused (NULL), known ones are
 * still found, and room comes back when one goes. */
static void t_capacity(void)
{
	struct dp_fragtab t;
	struct st_pkt p;
	bool added;

	CU_ASSERT_EQUAL(dp_fragtab_init(&t, 0, 1, SOCKET_ID_ANY), -EINVAL);
	CU_ASSERT_FATAL(dp_fragtab_init(&t, MAXD, 64, SOCKET_ID_ANY) == 0);
	CU_ASSERT_EQUAL(t.mask, 2 * MAXD - 1);
	pkt(&p, ST_L3_IPV4, 0x0a000001, 0x0a000002, ST_IPPROTO_UDP, 0);
	for (uint32_t id = 0; id < MAXD; id++)
		CU_ASSERT_PTR_NOT_NULL(add(&t, &p, id, 0, 1, &added));
	CU_ASSERT_EQUAL(t.n, MAXD);
	for (uint32_t id = MAXD; id < MAXD + 50; id++) {
		CU_ASSERT_PTR_NULL(add(&t, &p, id, 0, 1, &added));
		CU_ASSERT_PTR_NULL(find(&t, &p, id, 0));
	}
	CU_ASSERT_EQUAL(t.n, MAXD);
	for (uint32_t id = 0; id < MAXD; id++)
		CU_ASSERT_PTR_NOT_NULL(find(&t, &p, id, 0));
	dp_fragtab_remove(&t, find(&t, &p, 3, 0));
	CU_ASSERT_PTR_NOT_NULL(add(&t, &p, MAXD, 0, 1, &added));
	CU_ASSERT_PTR_NULL(add(&t, &p, MAXD + 1, 0, 1, &added));
	dp_fragtab_fini(&t);
}

/* Eight fragments a datagram, and the table's total; taking them hands
 * them over in arrival order; removing, expiring or freeing the table
 * gives held ones back to their pool. */
static void t_hold(void)
{
	struct dp_fragtab t;
	struct st_pkt p;
	struct rte_mbuf *m[DP_FRAG_HOLD_MAX], *out[DP_FRAG_HOLD_MAX];
	struct dp_frag *a, *b, *c;
	bool added;
	unsigned int base = rte_mempool_in_use_count(pool);

	CU_ASSERT_FATAL(dp_fragtab_init(&t, MAXD, 12, SOCKET_ID_ANY) == 0);
	pkt(&p, ST_L3_IPV4, 0x0a000001, 0x0a000002, ST_IPPROTO_UDP, 0);
	a = add(&t, &p, 1, 0, 1, &added);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	for (int i = 0; i < DP_FRAG_HOLD_MAX; i++) {
		CU_ASSERT_TRUE_FATAL(dp_frag_can_hold(&t, a));
		m[i] = rte_pktmbuf_alloc(pool);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m[i]);
		dp_frag_hold(&t, a, m[i]);
	}
	CU_ASSERT_FALSE(dp_frag_can_hold(&t, a));	/* the datagram's limit */
	CU_ASSERT_EQUAL(t.held, DP_FRAG_HOLD_MAX);
	CU_ASSERT_EQUAL(dp_frag_take(&t, a, out), DP_FRAG_HOLD_MAX);
	CU_ASSERT_EQUAL(memcmp(out, m, sizeof(m)), 0);
	CU_ASSERT_EQUAL(t.held, 0);
	CU_ASSERT_EQUAL(a->n_held, 0);
	rte_pktmbuf_free_bulk(out, DP_FRAG_HOLD_MAX);

	/* the table's total: 12 over two datagrams */
	b = add(&t, &p, 2, 0, 1, &added);
	c = add(&t, &p, 3, 0, 1, &added);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (int i = 0; i < 12; i++) {
		struct dp_frag *f = i < 6 ? b : c;

		CU_ASSERT_TRUE_FATAL(dp_frag_can_hold(&t, f));
		dp_frag_hold(&t, f, rte_pktmbuf_alloc(pool));
	}
	CU_ASSERT_FALSE(dp_frag_can_hold(&t, b));
	CU_ASSERT_FALSE(dp_frag_can_hold(&t, a));	/* an empty one too */
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(pool), base + 12);
	/* removing b frees its six, c's stay */
	CU_ASSERT_EQUAL(dp_fragtab_remove(&t, b), 6);
	CU_ASSERT_EQUAL(t.held, 6);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(pool), base + 6);
	c = find(&t, &p, 3, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->n_held, 6);
	CU_ASSERT_TRUE(dp_frag_can_hold(&t, a));
	/* the table's end frees the rest */
	dp_fragtab_fini(&t);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(pool), base);
}

/* Complete only with the first fragment known, the last seen and no hole
 * left, whatever the order, overlaps and duplicates. */
static void t_complete(void)
{
	struct dp_frag f;

	memset(&f, 0, sizeof(f));
	dp_frag_seen(&f, 1200, 300, false);	/* last first */
	CU_ASSERT_FALSE(dp_frag_complete(&f));
	dp_frag_seen(&f, 400, 400, true);
	dp_frag_seen(&f, 400, 400, true);	/* duplicate */
	f.flags |= DP_FRAG_F_KNOWN;
	dp_frag_seen(&f, 0, 400, true);
	CU_ASSERT_FALSE(dp_frag_complete(&f));	/* [800, 1200) missing */
	CU_ASSERT_EQUAL(f.n_ranges, 2);
	dp_frag_seen(&f, 600, 800, true);	/* overlaps both sides */
	CU_ASSERT_TRUE(dp_frag_complete(&f));
	CU_ASSERT_EQUAL(f.n_ranges, 1);
	CU_ASSERT_EQUAL(f.end, 1500);

	/* no last fragment: never complete */
	memset(&f, 0, sizeof(f));
	f.flags |= DP_FRAG_F_KNOWN;
	dp_frag_seen(&f, 0, 800, true);
	dp_frag_seen(&f, 800, 800, true);
	CU_ASSERT_FALSE(dp_frag_complete(&f));
	/* no first fragment known: never complete */
	memset(&f, 0, sizeof(f));
	dp_frag_seen(&f, 0, 800, true);
	dp_frag_seen(&f, 800, 8, false);
	CU_ASSERT_FALSE(dp_frag_complete(&f));

	/* more holes than tracked: incomplete for good */
	memset(&f, 0, sizeof(f));
	f.flags |= DP_FRAG_F_KNOWN;
	for (uint32_t i = DP_FRAG_RANGES + 1; i > 0; i--)
		dp_frag_seen(&f, i * 16, 8, i != DP_FRAG_RANGES + 1);
	CU_ASSERT_TRUE((f.flags & DP_FRAG_F_HOLES) != 0);
	for (uint32_t i = 0; i <= DP_FRAG_RANGES + 1; i++)
		dp_frag_seen(&f, i * 16, 16, i != DP_FRAG_RANGES + 1);
	CU_ASSERT_FALSE(dp_frag_complete(&f));
}

/* Entries older than the timeout go, a few slots per call; incomplete ones
 * and their held fragments are counted; an entry born after the sweep's
 * clock reading is young. */
static void t_expire(void)
{
	struct dp_fragtab t;
	struct st_pkt p;
	struct dp_frag_expiry x = { 0, 0 };
	struct dp_frag *f;
	bool added;
	unsigned int base = rte_mempool_in_use_count(pool);

	CU_ASSERT_FATAL(dp_fragtab_init(&t, MAXD, 128, SOCKET_ID_ANY) == 0);
	pkt(&p, ST_L3_IPV6, 0x0a000001, 0x0a000002, ST_IPPROTO_UDP, 0);
	for (uint32_t id = 0; id < 100; id++) {
		f = add(&t, &p, id, 0, id < 60 ? 1000 : 5000, &added);
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		if (id % 3 == 0) {	/* complete */
			f->flags |= DP_FRAG_F_KNOWN;
			dp_frag_seen(f, 0, 8, false);
		} else if (id % 3 == 1) {	/* first fragment missing, two held */
			dp_frag_hold(&t, f, rte_pktmbuf_alloc(pool));
			dp_frag_hold(&t, f, rte_pktmbuf_alloc(pool));
		}
	}
	/* one born after the clock reading (now < born) */
	f = add(&t, &p, 1000, 0, 9000, &added);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	/* a small budget per call: the sweep goes round in steps */
	for (int i = 0; i < 4 * (int)(t.mask + 1) / 16; i++)
		dp_fragtab_expire(&t, 3000, 1000, 16, &x);
	CU_ASSERT_EQUAL(t.n, 41);	/* the 40 born at 5000 and the young one */
	/* ids 0..59 expired: 20 complete, 40 incomplete (20 of them held 2) */
	CU_ASSERT_EQUAL(x.incomplete, 40);
	CU_ASSERT_EQUAL(x.held_freed, 40);
	for (uint32_t id = 0; id < 100; id++) {
		f = find(&t, &p, id, 0);
		if (id < 60) {
			CU_ASSERT_PTR_NULL(f);
		} else {
			CU_ASSERT_PTR_NOT_NULL(f);
		}
	}
	CU_ASSERT_PTR_NOT_NULL(find(&t, &p, 1000, 0));
	memset(&x, 0, sizeof(x));
	for (int i = 0; i < 4 * (int)(t.mask + 1) / 16; i++)
		dp_fragtab_expire(&t, 20000, 1000, 16, &x);
	CU_ASSERT_EQUAL(t.n, 0);
	CU_ASSERT_EQUAL(t.held, 0);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(pool), base);
	dp_fragtab_fini(&t);
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "id_collisions", t_id_collisions },
		{ "capacity", t_capacity },
		{ "hold", t_hold },
		{ "complete", t_complete },
		{ "expire", t_expire },
		{ NULL, NULL },
	};

	return st_cu_add_suite("dp_fragtab", suite_init, suite_clean, tests);
}
