/* The loadgen's plain-C replay parts: reading captures from memory
 * (capture.c), picking the client->server side (classify.c), rewriting
 * addresses with incremental checksums and keeping loop/clone flows
 * unique (rewrite.c), and the command line (options.c). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "classify.h"
#include "cunit_main.h"
#include "csum.h"
#include "options.h"
#include "pkt_build.h"
#include "report.h"
#include "rewrite.h"

#define C1 0xc6120001u	/* 198.18.0.1 */
#define SRV 0xc6120135u	/* 198.18.1.53 */

/* A pcap in memory: global header then records. */
struct mcap {
	uint8_t buf[65536];
	size_t len;
};

static void mcap_init(struct mcap *m, uint32_t linktype, uint32_t snaplen)
{
	uint32_t h[6] = { 0xa1b2c3d4, 2 | (4u << 16), 0, 0, snaplen, linktype };

	memcpy(m->buf, h, sizeof(h));
	m->len = sizeof(h);
}

static void mcap_add(struct mcap *m, uint32_t sec, const void *d, uint32_t caplen,
		     uint32_t len)
{
	uint32_t h[4] = { sec, 0, caplen, len };

	memcpy(m->buf + m->len, h, sizeof(h));
	memcpy(m->buf + m->len + 16, d, caplen);
	m->len += 16 + caplen;
}

static void tcp4(struct pb *b, uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp,
		 uint8_t flags, size_t payload)
{
	pb_init(b);
	pb_eth(b);
	pb_type(b, ST_ETH_P_IPV4);
	pb_ipv4(b, src, dst, ST_IPPROTO_TCP, NULL, 0);
	pb_tcp(b, sp, dp, 1, 2, flags, NULL, 0);
	pb_fill(b, payload, (uint8_t)sp);
	pb_finish(b, 1);
}

static void udp4(struct pb *b, uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp)
{
	pb_init(b);
	pb_eth(b);
	pb_type(b, ST_ETH_P_IPV4);
	pb_ipv4(b, src, dst, ST_IPPROTO_UDP, NULL, 0);
	pb_udp(b, sp, dp);
	pb_fill(b, 20, 7);
	pb_finish(b, 1);
}

static void udp6(struct pb *b, uint8_t last, uint16_t sp)
{
	uint8_t s[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0 }, d[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1,
									[15] = 0x53 };

	s[15] = last;
	pb_init(b);
	pb_eth(b);
	pb_type(b, ST_ETH_P_IPV6);
	pb_ipv6(b, s, d, ST_IPPROTO_UDP);
	pb_udp(b, sp, 53);
	pb_fill(b, 30, 9);
	pb_finish(b, 1);
}

static bool csums_ok(const uint8_t *f, uint32_t len)
{
	struct st_pkt p;

	if (st_pkt_parse(f, len, &p) != 0)
		return false;
	if (p.l3 == ST_L3_IPV4 && !st_csum_ipv4_ok(f + p.l3_off))
		return false;
	return st_csum_l4_ok(f, &p);
}

static void test_capture_mem(void)
{
	struct lg_capture_opts o = { 0 };
	struct lg_capture cap;
	struct st_perr err;
	struct mcap m;
	struct pb b;

	mcap_init(&m, 1, 65535);
	tcp4(&b, C1, SRV, 1000, 80, ST_TCP_SYN, 0);
	mcap_add(&m, 10, b.b, b.len, b.len);
	mcap_add(&m, 9, b.b, 40, b.len);		/* cut, and stamped earlier */
	CU_ASSERT_EQUAL_FATAL(lg_capture_load_mem(m.buf, m.len, "m", &o, &cap, &err), 0);
	CU_ASSERT_EQUAL(cap.n, 2);
	CU_ASSERT_EQUAL(cap.n_cut, 1);
	CU_ASSERT_EQUAL(cap.n_ts_backwards, 1);
	CU_ASSERT_EQUAL(cap.frames[0].ts_ns, 10 * 1000000000ULL);
	CU_ASSERT_EQUAL(cap.frames[1].len, 40);
	CU_ASSERT_EQUAL(memcmp(lg_frame_data(&cap, 0), b.b, b.len), 0);
	lg_capture_free(&cap);

	o.skip_cut = true;
	CU_ASSERT_EQUAL_FATAL(lg_capture_load_mem(m.buf, m.len, "m", &o, &cap, &err), 0);
	CU_ASSERT_EQUAL(cap.n, 1);
	CU_ASSERT_EQUAL(cap.n_cut_skipped, 1);
	lg_capture_free(&cap);

	/* Raw IP: an Ethernet header is made up, the IP bytes are kept. */
	mcap_init(&m, 101, 65535);
	mcap_add(&m, 1, b.b + 14, b.len - 14, b.len - 14);
	o.skip_cut = false;
	CU_ASSERT_EQUAL_FATAL(lg_capture_load_mem(m.buf, m.len, "m", &o, &cap, &err), 0);
	CU_ASSERT(cap.synth_l2);
	CU_ASSERT_EQUAL(cap.frames[0].len, b.len);
	CU_ASSERT_EQUAL(memcmp(lg_frame_data(&cap, 0) + 12, b.b + 12, b.len - 12), 0);
	lg_capture_free(&cap);
}

static void test_capture_bad(void)
{
	struct lg_capture_opts o = { .max_frames = 2 };
	struct lg_capture cap;
	struct st_perr err;
	struct mcap m;
	struct pb b;

	CU_ASSERT_EQUAL(lg_capture_load_mem("", 0, "m", &o, &cap, &err), -ENODATA);
	CU_ASSERT_EQUAL(lg_capture_load_mem("not a capture at all!!!!!!", 26, "m", &o, &cap, &err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not a pcap"));
	mcap_init(&m, 1, 65535);
	CU_ASSERT_EQUAL(lg_capture_load_mem(m.buf, m.len, "m", &o, &cap, &err), -ENODATA);
	udp4(&b, C1, SRV, 1, 53);
	mcap_add(&m, 1, b.b, b.len, b.len);
	CU_ASSERT_EQUAL(lg_capture_load_mem(m.buf, m.len - 3, "m", &o, &cap, &err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "packet 1: truncated"));
	mcap_add(&m, 1, b.b, b.len, b.len);
	mcap_add(&m, 1, b.b, b.len, b.len);
	CU_ASSERT_EQUAL(lg_capture_load_mem(m.buf, m.len, "m", &o, &cap, &err), -E2BIG);
	mcap_init(&m, 105, 65535);
	mcap_add(&m, 1, b.b, b.len, b.len);
	CU_ASSERT_EQUAL(lg_capture_load_mem(m.buf, m.len, "m", &o, &cap, &err), -ENOTSUP);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "link type 105"));
	CU_ASSERT_EQUAL(lg_capture_load("/nonexistent/x.pcap", &o, &cap, &err), -ENOENT);
}

/* Handshakes decide TCP; the first sender decides the rest; --server
 * overrides both. */
static void test_classify(void)
{
	struct lg_capture_opts o = { 0 };
	struct lg_capture cap;
	struct lg_plan plan;
	struct st_perr err;
	struct mcap m;
	struct pb b;

	mcap_init(&m, 1, 65535);
	tcp4(&b, SRV, C1, 80, 1000, ST_TCP_ACK, 10);	/* mid-flow server data first */
	mcap_add(&m, 1, b.b, b.len, b.len);
	tcp4(&b, C1, SRV, 1001, 80, ST_TCP_SYN, 0);	/* a handshake: SRV:80 learned */
	mcap_add(&m, 1, b.b, b.len, b.len);
	tcp4(&b, SRV, C1, 80, 1001, ST_TCP_SYN | ST_TCP_ACK, 0);
	mcap_add(&m, 1, b.b, b.len, b.len);
	tcp4(&b, C1, SRV, 1000, 80, ST_TCP_ACK, 5);	/* flow 1's client side */
	mcap_add(&m, 1, b.b, b.len, b.len);
	udp4(&b, C1 + 1, SRV, 5000, 53);		/* UDP: first sender */
	mcap_add(&m, 1, b.b, b.len, b.len);
	udp4(&b, SRV, C1 + 1, 53, 5000);
	mcap_add(&m, 1, b.b, b.len, b.len);
	mcap_add(&m, 1, "\xff\xff\xff\xff\xff\xff\x02\0\0\0\0\x01\x08\x06", 14, 14);	/* ARP */
	CU_ASSERT_EQUAL_FATAL(lg_capture_load_mem(m.buf, m.len, "m", &o, &cap, &err), 0);

	CU_ASSERT_EQUAL_FATAL(lg_classify(&cap, NULL, 0, &plan, &err), 0);
	CU_ASSERT_EQUAL(plan.n, 3);
	CU_ASSERT_EQUAL(plan.pkts[0].frame, 1);
	CU_ASSERT_EQUAL(plan.pkts[1].frame, 3);
	CU_ASSERT_EQUAL(plan.pkts[2].frame, 4);
	CU_ASSERT_EQUAL(plan.n_flows, 3);
	CU_ASSERT_EQUAL(plan.n_servers_learned, 1);
	CU_ASSERT_EQUAL(plan.n_flows_guessed, 1);
	CU_ASSERT_EQUAL(plan.skipped[LG_SKIP_RESPONSE], 3);
	CU_ASSERT_EQUAL(plan.skipped[LG_SKIP_NON_IP], 1);
	lg_plan_free(&plan);

	{
		struct lg_server s = { .family = 4, .port = 53 };

		s.addr.v4 = __builtin_bswap32(SRV);
		CU_ASSERT_EQUAL_FATAL(lg_classify(&cap, &s, 1, &plan, &err), 0);
		CU_ASSERT_EQUAL(plan.n, 1);
		CU_ASSERT_EQUAL(plan.pkts[0].frame, 4);
		CU_ASSERT_EQUAL(plan.skipped[LG_SKIP_OTHER_FLOW], 4);
		CU_ASSERT_EQUAL(plan.skipped[LG_SKIP_RESPONSE], 1);
		lg_plan_free(&plan);
		s.port = 9;
		CU_ASSERT_EQUAL(lg_classify(&cap, &s, 1, &plan, &err), -ENODATA);
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no client->server packet"));
	}
	lg_capture_free(&cap);
}

/* Address rewrites keep every checksum valid, IPv4 and IPv6, TCP and
 * UDP, a UDP checksum of 0 stays 0. */
static void test_rewrite_csum(void)
{
	struct st_ip_addr a = { 0 };
	struct lg_rw rw;
	struct st_pkt p;
	struct pb b;

	tcp4(&b, C1, SRV, 1000, 80, ST_TCP_ACK, 33);
	CU_ASSERT_EQUAL_FATAL(st_pkt_parse(b.b, b.len, &p), 0);
	CU_ASSERT_EQUAL_FATAL(lg_rw_init(&rw, &p, b.b, b.len), 0);
	CU_ASSERT_EQUAL(rw.family, 4);
	CU_ASSERT_EQUAL(rw.l4_csum_off, 14 + 20 + 16);
	for (uint32_t i = 0; i < 1000; i++) {
		a.v4 = __builtin_bswap32(0x0a000000u + i * 7919u);
		lg_rw_set_src(b.b, &rw, &a);
		lg_rw_set_dst(b.b, &rw, &a);
		lg_rw_set_dport(b.b, &rw, (uint16_t)(i * 31));
		CU_ASSERT_FATAL(csums_ok(b.b, b.len));
	}
	CU_ASSERT_EQUAL(memcmp(b.b + 26, &a.v4, 4), 0);

	udp6(&b, 1, 4000);
	CU_ASSERT_EQUAL_FATAL(st_pkt_parse(b.b, b.len, &p), 0);
	CU_ASSERT_EQUAL_FATAL(lg_rw_init(&rw, &p, b.b, b.len), 0);
	CU_ASSERT(rw.udp);
	for (uint32_t i = 0; i < 1000; i++) {
		memcpy(a.a8, b.b + 22, 16);
		a.a32[3] ^= i * 2654435761u;
		a.a32[1] += i;
		lg_rw_set_src(b.b, &rw, &a);
		CU_ASSERT_FATAL(csums_ok(b.b, b.len));
	}

	/* An IPv6 datagram's first fragment: its UDP checksum (over the
	 * whole datagram) moves with the address as the unfragmented
	 * datagram's does. */
	{
		uint8_t s6[16], d6[16];
		struct lg_rw rwf;
		struct pb f;

		udp6(&b, 1, 4000);
		CU_ASSERT_EQUAL_FATAL(st_pkt_parse(b.b, b.len, &p), 0);
		CU_ASSERT_EQUAL_FATAL(lg_rw_init(&rw, &p, b.b, b.len), 0);
		memcpy(s6, b.b + 22, 16);
		memcpy(d6, b.b + 38, 16);
		pb_init(&f);
		pb_eth(&f);
		pb_type(&f, ST_ETH_P_IPV6);
		pb_ipv6(&f, s6, d6, 44);
		pb_v6frag(&f, ST_IPPROTO_UDP, 0, 1);
		pb_bytes(&f, b.b + 54, 24);
		pb_finish(&f, 1);
		memcpy(f.b + 62, b.b + 54, 8);	/* the datagram's UDP header */
		CU_ASSERT_EQUAL_FATAL(st_pkt_parse(f.b, f.len, &p), 0);
		CU_ASSERT_FATAL((p.flags & ST_PKT_F_FRAG) && p.frag_off == 0);
		CU_ASSERT_EQUAL_FATAL(lg_rw_init(&rwf, &p, f.b, f.len), 0);
		CU_ASSERT_EQUAL(rwf.l4_csum_off, 62 + 6);
		for (uint32_t i = 0; i < 100; i++) {
			memcpy(a.a8, s6, 16);
			a.a32[3] ^= i * 2654435761u;
			lg_rw_set_src(b.b, &rw, &a);
			lg_rw_set_src(f.b, &rwf, &a);
			CU_ASSERT_FATAL(memcmp(f.b + 68, b.b + 60, 2) == 0);
		}
	}
	/* An IPv4 first fragment of 8 bytes of TCP in a padded frame: its
	 * checksum lies in the next fragment, not in the padding. */
	pb_init(&b);
	pb_eth(&b);
	pb_type(&b, ST_ETH_P_IPV4);
	pb_ipv4(&b, C1, SRV, ST_IPPROTO_TCP, NULL, 0);
	pb_u16(&b, 1000);
	pb_u16(&b, 80);
	pb_u32(&b, 1);
	b.b[14 + 6] = 0x20;		/* more fragments */
	pb_finish(&b, 1);
	memset(b.b + b.len, 0, 60 - b.len);
	b.len = 60;
	CU_ASSERT_EQUAL_FATAL(st_pkt_parse(b.b, b.len, &p), 0);
	CU_ASSERT_EQUAL_FATAL(lg_rw_init(&rw, &p, b.b, b.len), 0);
	CU_ASSERT_EQUAL(rw.l4_csum_off, 0);
	CU_ASSERT_EQUAL(rw.dport_off, 14 + 20 + 2);

	udp4(&b, C1, SRV, 1, 53);
	b.b[14 + 20 + 6] = b.b[14 + 20 + 7] = 0;	/* no UDP checksum */
	CU_ASSERT_EQUAL_FATAL(st_pkt_parse(b.b, b.len, &p), 0);
	CU_ASSERT_EQUAL_FATAL(lg_rw_init(&rw, &p, b.b, b.len), 0);
	CU_ASSERT_EQUAL(rw.l4_csum_off, 0);
	a.v4 = 0x01020304;
	lg_rw_set_src(b.b, &rw, &a);
	CU_ASSERT_EQUAL(b.b[40] | b.b[41], 0);
	CU_ASSERT(st_csum_ipv4_ok(b.b + 14));
}

/* Variant blocks never overlap each other, and skip server addresses. */
static void test_variants(void)
{
	struct lg_variants v;
	struct st_ip_addr a, out, srv;
	uint32_t seen[64 * 32];
	int n = 0;

	lg_variants_init(&v);
	for (uint32_t i = 0; i < 20; i++) {
		a.v4 = __builtin_bswap32(C1 + i * 3);	/* span 57: stride 64 */
		lg_variants_add(&v, 4, &a);
	}
	lg_variants_done(&v);
	CU_ASSERT_EQUAL(v.stride4, 64);
	CU_ASSERT_EQUAL(v.max_variants, (1ULL << 32) / 64);
	memset(&srv, 0, sizeof(srv));
	srv.v4 = __builtin_bswap32(C1 + 64 * 2 + 6);	/* in variant 2's block */
	lg_variants_avoid(&v, 4, &srv);
	lg_variants_avoid(&v, 4, &srv);	/* once only */
	CU_ASSERT_EQUAL(v.n_avoid, 3);	/* the server's; 224/3 + 0/8 (one, wrapped); 127/8 */
	CU_ASSERT_EQUAL(lg_variants_slot(&v, 0), 0);
	CU_ASSERT_EQUAL(lg_variants_slot(&v, 1), 1);
	CU_ASSERT_EQUAL(lg_variants_slot(&v, 2), 3);
	CU_ASSERT_EQUAL(lg_variants_slot(&v, 5), 6);
	for (uint64_t var = 0; var < 32; var++) {
		uint64_t slot = lg_variants_slot(&v, var);

		for (uint32_t i = 0; i < 20; i++) {
			a.v4 = __builtin_bswap32(C1 + i * 3);
			lg_variant_addr(&v, 4, &a, slot, &out);
			CU_ASSERT_NOT_EQUAL(out.v4, srv.v4);
			for (int j = 0; j < n; j++)
				CU_ASSERT_NOT_EQUAL_FATAL(seen[j], out.v4);
			seen[n++] = out.v4;
		}
	}
}

static bool touches_reserved(uint32_t lo, uint32_t hi)
{
	static const uint32_t r[][2] = {
		{ 0x00000000, 0x00ffffff }, { 0x7f000000, 0x7fffffff }, { 0xe0000000, 0xffffffff },
	};

	if (hi < lo)	/* wrapped past 255.255.255.255 */
		return true;
	for (int i = 0; i < 3; i++)
		if (lo <= r[i][1] && hi >= r[i][0])
			return true;
	return false;
}

/* No variant's client block touches 0/8, 127/8 or 224/3, and no other
 * block is left out: clients in 10.0.0.1..10.0.200.1 (stride 2^16), every
 * slot looked at. */
static void test_variants_reserved(void)
{
	const uint32_t lo = 0x0a000001, hi = 0x0a00c801;
	struct lg_variants v;
	struct st_ip_addr a, out;
	uint64_t bad = 0, prev = 0;

	lg_variants_init(&v);
	a.v4 = __builtin_bswap32(lo);
	lg_variants_add(&v, 4, &a);
	a.v4 = __builtin_bswap32(hi);
	lg_variants_add(&v, 4, &a);
	lg_variants_done(&v);
	CU_ASSERT_EQUAL_FATAL(v.stride4, 1u << 16);
	CU_ASSERT_EQUAL_FATAL(v.max_variants, 1u << 16);
	for (uint64_t k = 1; k < v.max_variants; k++)
		bad += touches_reserved((uint32_t)(lo + k * v.stride4), (uint32_t)(hi + k * v.stride4));
	CU_ASSERT_EQUAL(v.n_avoided, bad);
	CU_ASSERT_EQUAL(lg_variants_slots(&v), v.max_variants - bad);
	for (uint64_t n = 0; n < lg_variants_slots(&v); n++) {
		uint64_t slot = lg_variants_slot(&v, n);
		uint32_t b0, b1;

		CU_ASSERT_FATAL(n == 0 ? slot == 0 : slot > prev);
		prev = slot;
		a.v4 = __builtin_bswap32(lo);
		lg_variant_addr(&v, 4, &a, slot, &out);
		b0 = __builtin_bswap32(out.v4);
		a.v4 = __builtin_bswap32(hi);
		lg_variant_addr(&v, 4, &a, slot, &out);
		b1 = __builtin_bswap32(out.v4);
		if (n > 0)
			CU_ASSERT_FATAL(!touches_reserved(b0, b1));
	}
	CU_ASSERT_EQUAL(lg_variants_slot(&v, lg_variants_slots(&v)), 0);	/* then repeats */

	/* clients 1.0.0.1 and 100.0.0.1: stride 2^31, whose second block
	 * runs into 224/3: only the capture's own */
	lg_variants_init(&v);
	a.v4 = __builtin_bswap32(0x01000001);
	lg_variants_add(&v, 4, &a);
	a.v4 = __builtin_bswap32(0x64000001);
	lg_variants_add(&v, 4, &a);
	lg_variants_done(&v);
	CU_ASSERT_EQUAL(v.max_variants, 2);
	CU_ASSERT_EQUAL(lg_variants_slots(&v), 1);
	CU_ASSERT_EQUAL(lg_variants_slot(&v, 1), 0);
}

static void test_options(void)
{
	struct lg_config c;
	struct st_perr err;
	char *ok[] = { "lg", "--pcap", "x.pcap", "--pps", "100k", "--multiply", "3",
		       "--server", "198.18.1.53:80,[2001:db8::1]:53", "--map",
		       "198.18.1.53=198.18.2.1,198.18.2.2:8080", "--dst-mac", "02:00:00:00:00:09",
		       "--duration", "1.5s", NULL };
	char *bad1[] = { "lg", "--pcap", "x", "--pps", "5", "--speed", "2", NULL };
	char *bad2[] = { "lg", "--pps", "5", NULL };
	char *bad3[] = { "lg", "--pcap", "x", "--map", "198.18.1.1=2001:db8::1", NULL };
	char *bad4[] = { "lg", "--pcap", "x", "--dst-mac", "02:00", NULL };
	char *bad5[] = { "lg", "--pcap", NULL };

	lg_config_defaults(&c);
	CU_ASSERT_EQUAL_FATAL(lg_options_parse((int)(sizeof(ok) / sizeof(ok[0])) - 1, ok, &c, &err), 0);
	CU_ASSERT_EQUAL(c.mode, LG_MODE_PPS);
	CU_ASSERT_DOUBLE_EQUAL(c.pps, 100000, 1e-9);
	CU_ASSERT_EQUAL(c.multiply, 3);
	CU_ASSERT_EQUAL(c.n_servers, 2);
	CU_ASSERT_EQUAL(c.servers[1].family, 6);
	CU_ASSERT_EQUAL(c.servers[1].port, 53);
	CU_ASSERT_EQUAL(c.n_maps, 1);
	CU_ASSERT_EQUAL(c.maps[0].n_to, 2);
	CU_ASSERT_EQUAL(c.maps[0].to[1].port, 8080);
	CU_ASSERT_EQUAL(c.dst_mac_mode, LG_MAC_SET);
	CU_ASSERT_EQUAL(c.dst_mac[5], 9);
	CU_ASSERT_EQUAL(c.duration_ns, 1500000000ULL);
	CU_ASSERT_EQUAL(c.loops, 0);	/* a duration loops until it is over */

	lg_config_defaults(&c);
	CU_ASSERT_EQUAL(lg_options_parse(7, bad1, &c, &err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "give one of"));
	lg_config_defaults(&c);
	CU_ASSERT_EQUAL(lg_options_parse(3, bad2, &c, &err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no --pcap"));
	lg_config_defaults(&c);
	CU_ASSERT_EQUAL(lg_options_parse(5, bad3, &c, &err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "one family"));
	lg_config_defaults(&c);
	CU_ASSERT_EQUAL(lg_options_parse(5, bad4, &c, &err), -EINVAL);
	lg_config_defaults(&c);
	CU_ASSERT_EQUAL(lg_options_parse(2, bad5, &c, &err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "needs a value"));
	/* Whole numbers are whole: --loop 0.4 was rounded to 0 (endless),
	 * --select-scale 1.5 to 2. */
	{
		char *frac[][8] = {
			{ "lg", "--pcap", "x.pcap", "--loop", "0.4", NULL },
			{ "lg", "--pcap", "x.pcap", "--select-clients", "c.json", "--select-scale", "1.5", NULL },
			{ "lg", "--pcap", "x.pcap", "--multiply", "2.5", NULL },
		};
		int argc[] = { 5, 7, 5 };

		for (size_t i = 0; i < sizeof(frac) / sizeof(frac[0]); i++) {
			lg_config_defaults(&c);
			CU_ASSERT_EQUAL(lg_options_parse(argc[i], frac[i], &c, &err), -EINVAL);
			CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, frac[i][argc[i] - 2]));
		}
	}
}

/* Per-interval accuracy and the progress line. */
static void test_report(void)
{
	uint64_t due[4] = { 1000, 1000, 2000, 50 }, sent[4] = { 1000, 990, 2040, 0 };
	struct lg_rmse r;
	char line[200], rate[32];

	lg_rmse(due, sent, 3, 0.1, &r);
	CU_ASSERT_EQUAL(r.intervals, 3);
	/* sqrt((0 + 100 + 1600) / 3) per 0.1 s. */
	CU_ASSERT_DOUBLE_EQUAL(r.rmse_pps, sqrt(1700.0 / 3) / 0.1, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(r.rel, r.rmse_pps / (4000.0 / 3 / 0.1), 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(r.max_rel, 0.02, 1e-12);
	lg_rmse(due, sent, 0, 0.1, &r);
	CU_ASSERT_EQUAL(r.intervals, 0);
	CU_ASSERT_DOUBLE_EQUAL(r.rmse_pps, 0, 0);
	lg_progress_fmt(line, sizeof(line), 5, 10, 100000, 99500, 12345, 7);
	CU_ASSERT_PTR_NOT_NULL(strstr(line, "[==========>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(line, "target 100.00 kpps"));
	CU_ASSERT_PTR_NOT_NULL(strstr(line, "achieved 99.50 kpps"));
	CU_ASSERT_PTR_NOT_NULL(strstr(line, "dropped 7"));
	lg_progress_fmt(line, sizeof(line), 5, 0, -1, 2e7, 1, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(line, "target max"));
	CU_ASSERT_STRING_EQUAL(lg_fmt_rate(rate, sizeof(rate), 2.5e9, "bps"), "2.50 Gbps");
	CU_ASSERT_STRING_EQUAL(lg_drop_str(LG_DROP_TOO_LATE), "too_late");
	CU_ASSERT_STRING_EQUAL(lg_skip_str(LG_SKIP_RESPONSE), "response");
}

/* More scattered servers among the client blocks than the list of skipped
 * slots holds (a resolver's capture: one client, thousands of servers):
 * the lowest are kept, the variants end below the first that found no
 * room, and none of them sends from a server's address. (It was refused:
 * "more than 1024 server addresses lie among the client addresses the
 * loops and clones would use", even for one pass.) */
static void test_variants_many_servers(void)
{
	struct lg_variants v;
	struct st_ip_addr a, srv, out;
	uint64_t slots;

	lg_variants_init(&v);
	a.v4 = __builtin_bswap32(C1);	/* one client: stride 1 */
	lg_variants_add(&v, 4, &a);
	lg_variants_done(&v);
	memset(&srv, 0, sizeof(srv));
	for (uint32_t i = 0; i < 2000; i++) {
		srv.v4 = __builtin_bswap32(C1 + 2 + 2 * i);	/* slots 2, 4, ... 4000 */
		lg_variants_avoid(&v, 4, &srv);
	}
	CU_ASSERT_EQUAL(v.n_avoid, LG_VARIANTS_MAX_AVOID);
	CU_ASSERT_EQUAL(v.lost_lo, 2 + 2 * LG_VARIANTS_MAX_AVOID);
	CU_ASSERT_TRUE(lg_variants_seal(&v));
	CU_ASSERT_EQUAL(v.max_variants, 2 + 2 * LG_VARIANTS_MAX_AVOID);
	slots = lg_variants_slots(&v);
	CU_ASSERT_EQUAL(slots, 2 + LG_VARIANTS_MAX_AVOID);
	for (uint64_t var = 1; var < slots; var++) {
		uint64_t slot = lg_variants_slot(&v, var);
		uint32_t h;

		lg_variant_addr(&v, 4, &a, slot, &out);
		h = __builtin_bswap32(out.v4);
		CU_ASSERT_FATAL(slot == 2 * var - 1 && slot < v.max_variants);
		CU_ASSERT_FATAL(h != C1 && ((h - C1) % 2 == 1 || h - C1 > 2 + 2 * 1999));
	}
	CU_ASSERT_EQUAL(lg_variants_slot(&v, slots), 0);	/* then they repeat */
	/* the same servers in the other order: the same end */
	lg_variants_init(&v);
	lg_variants_add(&v, 4, &a);
	lg_variants_done(&v);
	for (uint32_t i = 2000; i-- > 0;) {
		srv.v4 = __builtin_bswap32(C1 + 2 + 2 * i);
		lg_variants_avoid(&v, 4, &srv);
	}
	CU_ASSERT_TRUE(lg_variants_seal(&v));
	CU_ASSERT_EQUAL(v.max_variants, 2 + 2 * LG_VARIANTS_MAX_AVOID);
	CU_ASSERT_EQUAL(lg_variants_slots(&v), slots);
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "capture_mem", test_capture_mem },
		{ "capture_bad", test_capture_bad },
		{ "classify", test_classify },
		{ "rewrite_csum", test_rewrite_csum },
		{ "variants", test_variants },
		{ "variants_reserved", test_variants_reserved },
		{ "variants_many_servers", test_variants_many_servers },
		{ "options", test_options },
		{ "report", test_report },
		{ NULL, NULL },
	};

	return st_cu_add_suite("lg_replay", NULL, NULL, tests);
}
