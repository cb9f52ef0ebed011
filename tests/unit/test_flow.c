/* Flow keys and hash, CRC32-C, and checksums. The pinned hash values are
 * the cross-host contract: if one changes, gateways running different
 * builds no longer shadow the same flows. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "cunit_main.h"
#include "flow.h"
#include "pkt_build.h"

#define CLIENT4 0xc6120001u	/* 198.18.0.1 */
#define SERVER4 0xc6120035u	/* 198.18.0.53 */
#define ROUTER4 0xc61200feu

static const uint8_t client6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x01 };
static const uint8_t server6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x35 };
static const uint8_t router6[16] = { 0x20, 0x01, 0x0d, 0xb8, [14] = 1 };

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint32_t rnd(void)
{
	return st_cu_rnd(&rng_state);
}

static void rnd_fill(uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)rnd();
}

/* ---- CRC32-C ---- */

static void t_crc_vectors(void)
{
	uint8_t b[32];
	static const struct {
		int fill;
		uint32_t want;
	} rfc3720[] = {	/* RFC 3720 B.4 */
		{ 0, 0x8a9136aa }, { 1, 0x62a8ab43 }, { 2, 0x46dd794e },
		{ 3, 0x113fdb5c },
	};

	CU_ASSERT_EQUAL(st_crc32c(0, "123456789", 9), 0xe3069283);
	CU_ASSERT_EQUAL(st_crc32c_sw(0, "123456789", 9), 0xe3069283);
	CU_ASSERT_EQUAL(st_crc32c(0, "", 0), 0);
	CU_ASSERT_EQUAL(st_crc32c_sw(0, "", 0), 0);
	CU_ASSERT_EQUAL(st_crc32c(0x12345678, "", 0), 0x12345678);
	for (size_t i = 0; i < sizeof(rfc3720) / sizeof(rfc3720[0]); i++) {
		for (int k = 0; k < 32; k++)
			b[k] = rfc3720[i].fill == 0 ? 0 :
			       rfc3720[i].fill == 1 ? 0xff :
			       rfc3720[i].fill == 2 ? (uint8_t)k :
			       (uint8_t)(31 - k);
		CU_ASSERT_EQUAL(st_crc32c(0, b, 32), rfc3720[i].want);
		CU_ASSERT_EQUAL(st_crc32c_sw(0, b, 32), rfc3720[i].want);
	}
}

static void t_crc_hw_sw(void)
{
	uint8_t *buf = malloc(300 + 8);

	/* On a CPU without SSE4.2 both sides are the table: still a valid
	 * (if weaker) test of the dispatcher. */
	rnd_fill(buf, 308);
	for (size_t len = 0; len <= 300; len++) {
		for (size_t start = 0; start < 8; start++) {
			uint32_t seed = rnd();
			uint32_t hw = st_crc32c(seed, buf + start, len);
			uint32_t sw = st_crc32c_sw(seed, buf + start, len);
			size_t cut = len ? rnd() % len : 0;

			CU_ASSERT_EQUAL(hw, sw);
			/* chaining */
			CU_ASSERT_EQUAL(st_crc32c(st_crc32c(seed, buf + start, cut),
						  buf + start + cut, len - cut), hw);
			CU_ASSERT_EQUAL(st_crc32c_sw(st_crc32c_sw(seed, buf + start, cut),
						     buf + start + cut, len - cut), sw);
		}
	}
	free(buf);
	CU_ASSERT(st_crc32c_hw_available() || !__builtin_cpu_supports("sse4.2"));
}

/* ---- checksums ---- */

/* RFC 1071 by the book: big-endian words, result in host order. */
static uint16_t ref_csum(const uint8_t *b, size_t n)
{
	uint64_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	if (n & 1)
		s += (uint32_t)b[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint16_t as_host(uint16_t memory_order)
{
	return ntohs(memory_order);
}

static void t_csum_known(void)
{
	uint8_t ip[20] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00,
			   0x40, 0x11, 0xaa, 0xbb, 0xc0, 0xa8, 0x00, 0x01,
			   0xc0, 0xa8, 0x00, 0xc7 };
	uint16_t c = st_csum_ipv4_hdr(ip);
	uint8_t buf[300 + 1];

	CU_ASSERT_EQUAL(as_host(c), 0xb861);	/* checksum field ignored */
	CU_ASSERT(!st_csum_ipv4_ok(ip));
	memcpy(ip + 10, &c, 2);
	CU_ASSERT(st_csum_ipv4_ok(ip));
	CU_ASSERT_EQUAL(st_csum(ip, 20), 0);

	rnd_fill(buf, sizeof(buf));
	for (size_t len = 0; len <= 300; len++) {
		CU_ASSERT_EQUAL(as_host(st_csum(buf, len)), ref_csum(buf, len));
		CU_ASSERT_EQUAL(as_host(st_csum(buf + 1, len)),
				ref_csum(buf + 1, len));
	}
	/* even pieces chain */
	CU_ASSERT_EQUAL(st_csum_fold(st_csum_partial(buf + 10, 91,
						     st_csum_partial(buf, 10, 0))),
			st_csum(buf, 101));
	CU_ASSERT_EQUAL(st_csum_fold(st_csum_partial(buf, 8, 0xffffffffu)),
			st_csum_fold(st_csum_partial(buf, 8, 0)));
}

static void build_tcp4(struct pb *b, uint32_t src, uint16_t sport,
		       uint32_t dst, uint16_t dport, size_t payload)
{
	static const uint8_t opts[12] = { 1, 1, 8, 10, 0, 0, 1, 0,
					  0, 0, 2, 0 };

	pb_init(b);
	pb_eth(b);
	pb_type(b, ST_ETH_P_IPV4);
	pb_ipv4(b, src, dst, ST_IPPROTO_TCP, NULL, 0);
	pb_tcp(b, sport, dport, 100, 200, ST_TCP_ACK, opts, sizeof(opts));
	pb_fill(b, payload, 'p');
	pb_finish(b, 1);
}

static void build_udp6(struct pb *b, const uint8_t *src, uint16_t sport,
		       const uint8_t *dst, uint16_t dport, uint16_t vlan)
{
	pb_init(b);
	pb_eth(b);
	if (vlan)
		pb_vlan(b, ST_ETH_P_8021Q, vlan);
	pb_type(b, ST_ETH_P_IPV6);
	pb_ipv6(b, src, dst, 60);
	pb_v6ext(b, ST_IPPROTO_UDP, 8);
	pb_udp(b, sport, dport);
	pb_fill(b, 13, 'u');
	pb_finish(b, 1);
}

static void t_csum_verify(void)
{
	struct pb b;
	struct st_pkt p;

	build_tcp4(&b, CLIENT4, 1, SERVER4, 2, 11);
	CU_ASSERT_EQUAL_FATAL(st_pkt_parse(b.b, b.len, &p), 0);
	CU_ASSERT(st_csum_ipv4_ok(b.b + p.l3_off));
	CU_ASSERT(st_csum_l4_ok(b.b, &p));
	b.b[b.len - 1] ^= 1;
	CU_ASSERT(!st_csum_l4_ok(b.b, &p));
	b.b[p.l3_off + 8] = 63;
	CU_ASSERT(!st_csum_ipv4_ok(b.b + p.l3_off));

	build_udp6(&b, client6, 3, server6, 4, 0);
	CU_ASSERT_EQUAL_FATAL(st_pkt_parse(b.b, b.len, &p), 0);
	CU_ASSERT(st_csum_l4_ok(b.b, &p));
	memset(b.b + p.l4_off + 6, 0, 2);	/* mandatory over IPv6 */
	CU_ASSERT(!st_csum_l4_ok(b.b, &p));

	pb_init(&b);
	pb_eth(&b);
	pb_type(&b, ST_ETH_P_IPV4);
	pb_ipv4(&b, CLIENT4, SERVER4, ST_IPPROTO_UDP, NULL, 0);
	pb_udp(&b, 5, 6);
	pb_fill(&b, 7, 0);
	pb_finish(&b, 1);
	CU_ASSERT_EQUAL_FATAL(st_pkt_parse(b.b, b.len, &p), 0);
	CU_ASSERT(st_csum_l4_ok(b.b, &p));
	memset(b.b + p.l4_off + 6, 0, 2);	/* "no checksum" over IPv4 */
	CU_ASSERT(st_csum_l4_ok(b.b, &p));

	/* a fragment has no checksummable L4 */
	pb_put16(&b, p.l3_off + 6, 0x2000);
	CU_ASSERT_EQUAL_FATAL(st_pkt_parse(b.b, b.len, &p), 0);
	CU_ASSERT(!st_csum_l4_ok(b.b, &p));
	CU_ASSERT_EQUAL(st_csum_pkt_set(b.b, &p), 0);
	CU_ASSERT(st_csum_ipv4_ok(b.b + p.l3_off));
	p.l3 = ST_L3_NONE;
	CU_ASSERT_EQUAL(st_csum_pkt_set(b.b, &p), -EINVAL);
}

static void t_csum_incremental(void)
{
	uint8_t buf[64], old[16];

	for (int iter = 0; iter < 20000; iter++) {
		uint16_t c, want;
		uint32_t o32, n32;
		uint16_t o16, n16;
		size_t at = (rnd() % 24) * 2, len;

		rnd_fill(buf, sizeof(buf));
		c = st_csum(buf, sizeof(buf));
		switch (iter % 4) {
		case 0:
			memcpy(&o16, buf + at, 2);
			n16 = (uint16_t)rnd();
			memcpy(buf + at, &n16, 2);
			c = st_csum_update16(c, o16, n16);
			break;
		case 1:
			memcpy(&o32, buf + at, 4);
			n32 = rnd();
			memcpy(buf + at, &n32, 4);
			c = st_csum_update32(c, o32, n32);
			break;
		case 2:
			memcpy(old, buf + at, 16);
			rnd_fill(buf + at, 16);
			c = st_csum_update_addr6(c, old, buf + at);
			break;
		default:	/* any offset, any length */
			at = rnd() % 48;
			len = 1 + rnd() % 16;
			memcpy(old, buf + at, len);
			rnd_fill(buf + at, len);
			c = st_csum_update_at(c, (uint32_t)at, old, buf + at, len);
			break;
		}
		want = st_csum(buf, sizeof(buf));
		CU_ASSERT_EQUAL(c, want);
	}
}

/* What the dataplane does to a copy: new destination address and port,
 * shifted ack and TSecr, all fixed incrementally. */
static void t_csum_rewrite_packet(void)
{
	struct pb b;
	struct st_pkt p;
	uint16_t ipc, l4c, o16, n16;
	uint32_t o32, n32;
	uint8_t *ip, *th;
	uint8_t new6[16];

	build_tcp4(&b, CLIENT4, 40000, SERVER4, 80, 33);
	CU_ASSERT_EQUAL_FATAL(st_pkt_parse(b.b, b.len, &p), 0);
	ip = b.b + p.l3_off;
	th = b.b + p.l4_off;
	memcpy(&ipc, ip + 10, 2);
	memcpy(&l4c, th + 16, 2);

	memcpy(&o32, ip + 16, 4);
	n32 = htonl(0xc612010a);
	memcpy(ip + 16, &n32, 4);
	ipc = st_csum_update32(ipc, o32, n32);
	l4c = st_csum_update32(l4c, o32, n32);	/* pseudo header */

	memcpy(&o16, th + 2, 2);
	n16 = htons(8080);
	memcpy(th + 2, &n16, 2);
	l4c = st_csum_update16(l4c, o16, n16);

	memcpy(&o32, th + 8, 4);
	n32 = htonl(ntohl(o32) + 123456789);
	memcpy(th + 8, &n32, 4);
	l4c = st_csum_update32(l4c, o32, n32);

	CU_ASSERT_EQUAL_FATAL(p.tcp.opts, ST_TCPOPT_F_TS);
	memcpy(&o32, b.b + p.tcp.ts_off + 6, 4);
	n32 = htonl(0xdeadbeef);
	memcpy(b.b + p.tcp.ts_off + 6, &n32, 4);
	l4c = st_csum_update32(l4c, o32, n32);

	memcpy(ip + 10, &ipc, 2);
	memcpy(th + 16, &l4c, 2);
	CU_ASSERT_EQUAL_FATAL(st_pkt_parse(b.b, b.len, &p), 0);
	CU_ASSERT_EQUAL(p.dport, 8080);
	CU_ASSERT_EQUAL(p.tcp.tsecr, 0xdeadbeef);
	CU_ASSERT(st_csum_ipv4_ok(ip));
	CU_ASSERT(st_csum_l4_ok(b.b, &p));

	/* IPv6 destination through the pseudo header */
	build_udp6(&b, client6, 1, server6, 2, 0);
	CU_ASSERT_EQUAL_FATAL(st_pkt_parse(b.b, b.len, &p), 0);
	memcpy(&l4c, b.b + p.l4_off + 6, 2);
	memcpy(new6, server6, 16);
	new6[15] = 0x99;
	new6[3] = 0x77;
	l4c = st_csum_update_addr6(l4c, server6, new6);
	memcpy(b.b + p.l3_off + 24, new6, 16);
	memcpy(b.b + p.l4_off + 6, &l4c, 2);
	CU_ASSERT_EQUAL_FATAL(st_pkt_parse(b.b, b.len, &p), 0);
	CU_ASSERT(st_csum_l4_ok(b.b, &p));
}

/* ---- flow keys ---- */

static void key_of(const struct pb *b, struct st_flow_key *k, bool *swapped)
{
	struct st_pkt p;

	CU_ASSERT_EQUAL_FATAL(st_pkt_parse(b->b, b->len, &p), 0);
	CU_ASSERT_EQUAL_FATAL(st_flow_key_from_pkt(&p, k, swapped), 0);
}

static void t_key_symmetric_v4(void)
{
	struct pb fwd, rev;
	struct st_flow_key kf, kr;
	bool sf, sr;

	/* client address lower, then higher than the server's */
	for (int hi = 0; hi < 2; hi++) {
		uint32_t c = hi ? 0xc6120100u : CLIENT4;

		build_tcp4(&fwd, c, 40000, SERVER4, 80, 0);
		build_tcp4(&rev, SERVER4, 80, c, 40000, 5);
		key_of(&fwd, &kf, &sf);
		key_of(&rev, &kr, &sr);
		CU_ASSERT(st_flow_key_eq(&kf, &kr));
		CU_ASSERT_EQUAL(st_flow_key_cmp(&kf, &kr), 0);
		CU_ASSERT_EQUAL(st_flow_hash(&kf), st_flow_hash(&kr));
		CU_ASSERT(sf != sr);
		CU_ASSERT_EQUAL(sf, hi);
		CU_ASSERT_EQUAL(kf.family, 4);
		CU_ASSERT_EQUAL(kf.proto, ST_IPPROTO_TCP);
		CU_ASSERT_EQUAL(kf.port[hi], 40000);
		CU_ASSERT_EQUAL(kf.addr[hi].v4, htonl(c));
	}

	/* same address: the ports order the endpoints */
	build_tcp4(&fwd, CLIENT4, 5000, CLIENT4, 80, 0);
	build_tcp4(&rev, CLIENT4, 80, CLIENT4, 5000, 0);
	key_of(&fwd, &kf, &sf);
	key_of(&rev, &kr, &sr);
	CU_ASSERT(st_flow_key_eq(&kf, &kr));
	CU_ASSERT(sf && !sr);
	CU_ASSERT_EQUAL(kf.port[0], 80);

	/* a different flow differs */
	build_tcp4(&rev, SERVER4, 80, CLIENT4, 40001, 0);
	key_of(&rev, &kr, NULL);
	build_tcp4(&fwd, CLIENT4, 40000, SERVER4, 80, 0);
	key_of(&fwd, &kf, NULL);
	CU_ASSERT(!st_flow_key_eq(&kf, &kr));
	CU_ASSERT(st_flow_key_cmp(&kf, &kr) != 0);
	CU_ASSERT(st_flow_hash(&kf) != st_flow_hash(&kr));
}

static void t_key_symmetric_v6_vlan(void)
{
	struct pb fwd, rev;
	struct st_flow_key kf, kr;
	bool sf, sr;

	build_udp6(&fwd, client6, 5000, server6, 53, 0x3064);
	build_udp6(&rev, server6, 53, client6, 5000, 0x0064);
	key_of(&fwd, &kf, &sf);
	key_of(&rev, &kr, &sr);
	CU_ASSERT(st_flow_key_eq(&kf, &kr));
	CU_ASSERT_EQUAL(st_flow_hash(&kf), st_flow_hash(&kr));
	CU_ASSERT(!sf && sr);
	CU_ASSERT_EQUAL(kf.family, 6);
	CU_ASSERT_EQUAL(kf.vlan, 100);	/* PCP masked off */
	CU_ASSERT(memcmp(kf.addr[0].a8, client6, 16) == 0);

	/* QinQ: the inner tag counts */
	pb_init(&fwd);
	pb_eth(&fwd);
	pb_vlan(&fwd, ST_ETH_P_8021AD, 300);
	pb_vlan(&fwd, ST_ETH_P_8021Q, 200);
	pb_type(&fwd, ST_ETH_P_IPV4);
	pb_ipv4(&fwd, CLIENT4, SERVER4, ST_IPPROTO_UDP, NULL, 0);
	pb_udp(&fwd, 1, 2);
	pb_finish(&fwd, 1);
	key_of(&fwd, &kf, NULL);
	CU_ASSERT_EQUAL(kf.vlan, 200);
}

static void t_key_no_ports(void)
{
	struct pb b;
	struct st_pkt p;
	struct st_flow_key k, k2;

	/* ICMP echo */
	pb_init(&b);
	pb_eth(&b);
	pb_type(&b, ST_ETH_P_IPV4);
	pb_ipv4(&b, CLIENT4, SERVER4, ST_IPPROTO_ICMP, NULL, 0);
	pb_icmp(&b, 8, 0, 0x10001);
	pb_finish(&b, 1);
	key_of(&b, &k, NULL);
	CU_ASSERT_EQUAL(k.port[0], 0);
	CU_ASSERT_EQUAL(k.port[1], 0);
	CU_ASSERT_EQUAL(k.proto, ST_IPPROTO_ICMP);

	/* first and later fragments of a TCP datagram share a key */
	build_tcp4(&b, CLIENT4, 40000, SERVER4, 80, 40);
	pb_put16(&b, 14 + 6, 0x2000);
	key_of(&b, &k, NULL);
	CU_ASSERT_EQUAL(k.port[0], 0);
	CU_ASSERT_EQUAL(k.proto, ST_IPPROTO_TCP);
	pb_put16(&b, 14 + 6, 0x0005);
	key_of(&b, &k2, NULL);
	CU_ASSERT(st_flow_key_eq(&k, &k2));

	/* no IP: no key */
	pb_init(&b);
	pb_eth(&b);
	pb_type(&b, ST_ETH_P_ARP);
	pb_fill(&b, 28, 0);
	CU_ASSERT_EQUAL(st_pkt_parse(b.b, b.len, &p), 0);
	CU_ASSERT_EQUAL(st_flow_key_from_pkt(&p, &k, NULL), -EINVAL);
	CU_ASSERT_EQUAL(st_flow_key_from_icmp_inner(&p, &k, NULL), -EINVAL);
	CU_ASSERT(st_pkt_parse(b.b, 10, &p) < 0);
	CU_ASSERT_EQUAL(st_flow_key_from_pkt(&p, &k, NULL), -EINVAL);
}

/* Every byte of the key is written: garbage in the destination does not
 * change the bytes (hence the hash). */
static void t_key_no_garbage(void)
{
	struct st_flow_key a, b;
	struct st_ip_addr s = { .v4 = htonl(CLIENT4) }, d = { .v4 = htonl(SERVER4) };

	memset(&a, 0xaa, sizeof(a));
	memset(&b, 0x00, sizeof(b));
	st_flow_key_set(&a, 4, ST_IPPROTO_UDP, 0xf123, &s, 1, &d, 2, NULL);
	st_flow_key_set(&b, 4, ST_IPPROTO_UDP, 0xf123, &s, 1, &d, 2, NULL);
	CU_ASSERT(memcmp(&a, &b, sizeof(a)) == 0);
	CU_ASSERT_EQUAL(a.vlan, 0x123);
}

/* The ICMP error about a packet keys like that packet's flow. */
static void t_key_icmp_inner(void)
{
	struct pb o, b;
	struct st_pkt p;
	struct st_flow_key ko, ki;
	bool so, si;

	for (int dir = 0; dir < 2; dir++) {
		/* v4: the original goes either way; the error goes back */
		if (dir == 0)
			build_tcp4(&o, CLIENT4, 40000, SERVER4, 80, 10);
		else
			build_tcp4(&o, SERVER4, 80, CLIENT4, 40000, 10);
		key_of(&o, &ko, &so);
		pb_init(&b);
		pb_eth(&b);
		pb_type(&b, ST_ETH_P_IPV4);
		pb_ipv4(&b, ROUTER4, dir ? SERVER4 : CLIENT4, ST_IPPROTO_ICMP,
			NULL, 0);
		pb_icmp(&b, 11, 0, 0);
		pb_bytes(&b, o.b + 14, 28);
		pb_finish(&b, 1);
		CU_ASSERT_EQUAL_FATAL(st_pkt_parse(b.b, b.len, &p), 0);
		CU_ASSERT_EQUAL_FATAL(st_flow_key_from_icmp_inner(&p, &ki, &si), 0);
		CU_ASSERT(st_flow_key_eq(&ko, &ki));
		CU_ASSERT_EQUAL(st_flow_hash(&ko), st_flow_hash(&ki));
		CU_ASSERT_EQUAL(so, si);
		/* the ICMP packet's own key is a different flow */
		CU_ASSERT_EQUAL(st_flow_key_from_pkt(&p, &ki, NULL), 0);
		CU_ASSERT(!st_flow_key_eq(&ko, &ki));

		/* v6 with a VLAN */
		if (dir == 0)
			build_udp6(&o, client6, 5000, server6, 53, 42);
		else
			build_udp6(&o, server6, 53, client6, 5000, 42);
		key_of(&o, &ko, &so);
		pb_init(&b);
		pb_eth(&b);
		pb_vlan(&b, ST_ETH_P_8021Q, 42);
		pb_type(&b, ST_ETH_P_IPV6);
		pb_ipv6(&b, router6, dir ? server6 : client6, ST_IPPROTO_ICMPV6);
		pb_icmp(&b, 1, 4, 0);
		pb_bytes(&b, o.b + 18, o.len - 18);
		pb_finish(&b, 1);
		CU_ASSERT_EQUAL_FATAL(st_pkt_parse(b.b, b.len, &p), 0);
		CU_ASSERT_EQUAL_FATAL(st_flow_key_from_icmp_inner(&p, &ki, &si), 0);
		CU_ASSERT(st_flow_key_eq(&ko, &ki));
		CU_ASSERT_EQUAL(st_flow_hash(&ko), st_flow_hash(&ki));
		CU_ASSERT_EQUAL(so, si);
	}

	/* no usable quote: no key */
	b.len = 18 + 40 + 8 + 20;
	pb_put16(&b, 18 + 4, 8 + 20);
	CU_ASSERT_EQUAL_FATAL(st_pkt_parse(b.b, b.len, &p), 0);
	CU_ASSERT(p.icmp.inner.err != ST_PKT_OK);
	CU_ASSERT_EQUAL(st_flow_key_from_icmp_inner(&p, &ki, NULL), -EINVAL);
	build_tcp4(&o, CLIENT4, 1, SERVER4, 2, 0);
	CU_ASSERT_EQUAL_FATAL(st_pkt_parse(o.b, o.len, &p), 0);
	CU_ASSERT_EQUAL(st_flow_key_from_icmp_inner(&p, &ki, NULL), -EINVAL);
}

static void t_hash_pinned(void)
{
	static const struct {
		uint8_t family, proto;
		uint16_t vlan;
		const char *a, *b;
		uint16_t pa, pb;
		uint32_t want;
	} v[] = {
		{ 4, 6, 0, "198.18.0.53", "198.18.0.1", 80, 40000, 0x8ed8d86c },
		{ 6, 17, 100, "2001:db8::35", "2001:db8::1", 53, 5000, 0x20b48503 },
		{ 4, 1, 0, "10.0.0.2", "10.0.0.1", 0, 0, 0x0b1df311 },
		{ 4, 6, 4095, "198.18.0.1", "198.18.0.1", 80, 443, 0x578a0b0a },
		{ 6, 6, 0, "::1", "::", 1, 2, 0x01190eb5 },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct st_ip_addr a = { 0 }, b = { 0 };
		struct st_flow_key k;
		int af = v[i].family == 6 ? AF_INET6 : AF_INET;

		CU_ASSERT_EQUAL_FATAL(inet_pton(af, v[i].a, a.a8), 1);
		CU_ASSERT_EQUAL_FATAL(inet_pton(af, v[i].b, b.a8), 1);
		st_flow_key_set(&k, v[i].family, v[i].proto, v[i].vlan, &a,
				v[i].pa, &b, v[i].pb, NULL);
		CU_ASSERT_EQUAL(st_flow_hash(&k), v[i].want);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		/* the unrolled hardware hash is CRC32-C of the struct bytes */
		CU_ASSERT_EQUAL(st_crc32c_sw(ST_FLOW_HASH_SEED, &k, sizeof(k)),
				v[i].want);
#endif
		st_flow_key_set(&k, v[i].family, v[i].proto, v[i].vlan, &b,
				v[i].pb, &a, v[i].pa, NULL);
		CU_ASSERT_EQUAL(st_flow_hash(&k), v[i].want);
	}
}

static void t_bucket(void)
{
	const uint64_t all = 1ull << 32;

	CU_ASSERT_EQUAL(st_share_threshold(0.0), 0);
	CU_ASSERT_EQUAL(st_share_threshold(-0.5), 0);
	CU_ASSERT_EQUAL(st_share_threshold(NAN), 0);
	CU_ASSERT_EQUAL(st_share_threshold(1.0), all);
	CU_ASSERT_EQUAL(st_share_threshold(7.0), all);
	CU_ASSERT_EQUAL(st_share_threshold(INFINITY), all);
	CU_ASSERT_EQUAL(st_share_threshold(0.5), all / 2);
	CU_ASSERT_EQUAL(st_share_threshold(0.25), all / 4);
	CU_ASSERT_EQUAL(st_share_threshold(1e-300), 1);
	CU_ASSERT_EQUAL(st_share_threshold(1.0 - 1e-16), all);

	CU_ASSERT(!st_bucket_in(0, 0, 0));
	CU_ASSERT(!st_bucket_in(0xffffffffu, 0, 0));
	CU_ASSERT(st_bucket_in(0, 0, all));
	CU_ASSERT(st_bucket_in(0xffffffffu, 0, all));
	CU_ASSERT(st_bucket_in(0x7fffffffu, 0, all / 2));
	CU_ASSERT(!st_bucket_in(0x80000000u, 0, all / 2));
	CU_ASSERT(st_bucket_in(0x80000000u, all / 2, all));
	CU_ASSERT_DOUBLE_EQUAL(st_flow_bucket(0), 0.0, 0.0);
	CU_ASSERT_DOUBLE_EQUAL(st_flow_bucket(0x80000000u), 0.5, 0.0);
	CU_ASSERT(st_flow_bucket(0xffffffffu) < 1.0);

	/* the integer test is exactly the float one, and stacked ranges
	 * partition the space */
	for (int i = 0; i < 200000; i++) {
		double s = (double)rnd() / 4294967296.0, t;
		uint32_t h = i % 3 ? rnd() : (uint32_t)st_share_threshold(s) -
					      (uint32_t)(i % 2);
		uint64_t ts = st_share_threshold(s), tt;

		CU_ASSERT_EQUAL(st_bucket_in(h, 0, ts), st_flow_bucket(h) < s);
		t = s + (1.0 - s) * (double)rnd() / 4294967296.0;
		tt = st_share_threshold(t);
		CU_ASSERT_EQUAL(st_bucket_in(h, 0, ts) + st_bucket_in(h, ts, tt) +
				st_bucket_in(h, tt, all), 1);
	}
}

/* Sequential client ports and addresses, the common shape of real
 * traffic, still spread evenly. */
static void t_hash_spread(void)
{
	uint64_t thr = st_share_threshold(0.1);
	struct st_ip_addr c = { 0 }, s = { .v4 = htonl(SERVER4) };
	struct st_flow_key k;
	int in = 0, n = 0;

	for (uint32_t a = 0; a < 16; a++) {
		c.v4 = htonl(0x0a000000u + a);
		for (uint32_t port = 1024; port < 1024 + 6000; port++, n++) {
			st_flow_key_set(&k, 4, ST_IPPROTO_TCP, 0, &c,
					(uint16_t)port, &s, 443, NULL);
			in += st_bucket_in(st_flow_hash(&k), 0, thr);
		}
	}
	CU_ASSERT(fabs((double)in / n - 0.1) < 0.005);
}

/* The shortcut equals parse + key + hash on what it takes (TCP with
 * options, UDP, IP options, one and two VLAN tags, either direction) and
 * leaves the rest to the full parse (IPv6, fragments, ICMP, truncation,
 * bad lengths). */
static uint32_t full_hash(const struct pb *b, bool *sw, struct st_pkt *p)
{
	struct st_flow_key k;

	st_pkt_parse(b->b, b->len, p);
	st_flow_key_from_pkt(p, &k, sw);
	return st_flow_hash(&k);
}

static int frame(const struct pb *b, uint32_t len, uint32_t *h, bool *sw)
{
	struct st_flow_lite f;
	int rc = st_flow_frame(b->b, len, NULL, &f);

	if (rc == 0) {	/* on -1 nothing is written */
		*h = f.hash;
		*sw = f.swapped;
	}
	return rc;
}

static void t_hash_frame(void)
{
	static const uint8_t ipopt[4] = { 1, 1, 1, 0 };
	struct pb b;
	struct st_pkt p;
	struct st_flow_lite f;
	uint32_t h;
	bool sw, fsw;

	for (int v = 0; v < 4; v++) {
		for (int dir = 0; dir < 2; dir++) {
			pb_init(&b);
			pb_eth(&b);
			if (v >= 2)
				pb_vlan(&b, ST_ETH_P_8021AD, 7);
			if (v >= 1)
				pb_vlan(&b, ST_ETH_P_8021Q, 0x2123);
			pb_type(&b, ST_ETH_P_IPV4);
			pb_ipv4(&b, dir ? SERVER4 : CLIENT4, dir ? CLIENT4 : SERVER4,
				v == 3 ? ST_IPPROTO_UDP : ST_IPPROTO_TCP, v == 2 ? ipopt : NULL,
				v == 2 ? sizeof(ipopt) : 0);
			if (v == 3)
				pb_udp(&b, dir ? 53 : 5353, dir ? 5353 : 53);
			else
				pb_tcp(&b, dir ? 80 : 40000, dir ? 40000 : 80, 1, 2, ST_TCP_ACK,
				       (const uint8_t[]){ 2, 4, 5, 0xb4 }, 4);
			pb_fill(&b, 9, 'x');
			pb_finish(&b, 1);
			CU_ASSERT_EQUAL_FATAL(st_flow_frame(b.b, b.len, NULL, &f), 0);
			CU_ASSERT_EQUAL(f.hash, full_hash(&b, &sw, &p));
			CU_ASSERT_EQUAL(f.swapped, sw);
			CU_ASSERT_EQUAL(f.payload_len, 9);
			CU_ASSERT_EQUAL(f.payload_len, p.payload_len);
			CU_ASSERT_EQUAL(f.sport, p.sport);
			CU_ASSERT_EQUAL(f.tcp_flags, v == 3 ? 0 : ST_TCP_ACK);
			/* cut inside the ports: the full parse's business */
			CU_ASSERT_EQUAL(frame(&b, b.len - 9 - (v == 3 ? 8 : 24) + 2, &h, &fsw), -1);
		}
	}
	build_udp6(&b, client6, 3, server6, 4, 0);
	CU_ASSERT_EQUAL(frame(&b, b.len, &h, &fsw), -1);
	build_tcp4(&b, CLIENT4, 1, SERVER4, 2, 11);
	b.b[14 + 6] = 0x20;	/* MF: a fragment */
	CU_ASSERT_EQUAL(frame(&b, b.len, &h, &fsw), -1);
	b.b[14 + 6] = 0;
	b.b[14 + 20 + 12] = 0x40;	/* data offset 4 */
	CU_ASSERT_EQUAL(frame(&b, b.len, &h, &fsw), -1);
	b.b[14 + 20 + 12] = 0x80;
	b.b[14 + 9] = ST_IPPROTO_ICMP;
	CU_ASSERT_EQUAL(frame(&b, b.len, &h, &fsw), -1);
	CU_ASSERT_EQUAL(frame(&b, 13, &h, &fsw), -1);
}

static void t_key_fmt(void)
{
	struct st_ip_addr a = { .v4 = htonl(CLIENT4) }, b = { .v4 = htonl(SERVER4) };
	struct st_flow_key k;
	char buf[128];

	st_flow_key_set(&k, 4, ST_IPPROTO_TCP, 0, &b, 80, &a, 1234, NULL);
	st_flow_key_fmt(&k, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "tcp 198.18.0.1:1234 <-> 198.18.0.53:80");
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memcpy(a.a8, client6, 16);
	memcpy(b.a8, server6, 16);
	st_flow_key_set(&k, 6, 132, 7, &b, 80, &a, 1234, NULL);
	st_flow_key_fmt(&k, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "proto-132 [2001:db8::1]:1234 <-> [2001:db8::35]:80 vlan 7");
}

int st_register_suites(void)
{
	static const struct st_cu_test crc[] = {
		{ "vectors", t_crc_vectors },
		{ "hw_equals_sw", t_crc_hw_sw },
		{ NULL, NULL },
	};
	static const struct st_cu_test csum[] = {
		{ "known_and_reference", t_csum_known },
		{ "verify", t_csum_verify },
		{ "incremental", t_csum_incremental },
		{ "rewrite_packet", t_csum_rewrite_packet },
		{ NULL, NULL },
	};
	static const struct st_cu_test flow[] = {
		{ "symmetric_v4", t_key_symmetric_v4 },
		{ "symmetric_v6_vlan", t_key_symmetric_v6_vlan },
		{ "no_ports", t_key_no_ports },
		{ "no_garbage", t_key_no_garbage },
		{ "icmp_inner", t_key_icmp_inner },
		{ "hash_pinned", t_hash_pinned },
		{ "bucket", t_bucket },
		{ "hash_spread", t_hash_spread },
		{ "hash_frame", t_hash_frame },
		{ "fmt", t_key_fmt },
		{ NULL, NULL },
	};
	int rc;

	if ((rc = st_cu_add_suite("crc32c", NULL, NULL, crc)) != 0 ||
	    (rc = st_cu_add_suite("csum", NULL, NULL, csum)) != 0)
		return rc;
	return st_cu_add_suite("flow", NULL, NULL, flow);
}
