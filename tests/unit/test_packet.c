/* Packet parser: every protocol path and field, every malformation class,
 * every truncation of a set of valid packets, every cut of them into a
 * first segment and the rest, and random mutations. Each parse runs on an
 * exactly-sized heap copy (of the first segment only for _seg) so ASan sees
 * a read past the end. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "pkt_build.h"

#define CLIENT4 0xc6120001u	/* 198.18.0.1 */
#define SERVER4 0xc6120035u	/* 198.18.0.53 */
#define ROUTER4 0xc61200feu

static const uint8_t client6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x01 };
static const uint8_t server6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x35 };
static const uint8_t router6[16] = { 0x20, 0x01, 0x0d, 0xb8, [14] = 1 };

/* MSS 1460, SACK-permitted, TS, NOP, WS 7: 20 bytes. */
static const uint8_t syn_opts[20] = {
	2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0x11, 0x11, 0x11, 0x11,
	0x22, 0x22, 0x22, 0x22, 1, 3, 3, 7,
};

/* Checks what must hold for any view, valid or not. */
static void check_view(const struct st_pkt *p, uint32_t len, int rc)
{
	CU_ASSERT(rc == -(int)p->err);
	CU_ASSERT(p->err < ST_PKT_ERR_COUNT);
	CU_ASSERT(p->l3_off == p->l2_len);
	CU_ASSERT(p->l2_len <= len);
	CU_ASSERT(p->vlan_count <= ST_PKT_MAX_VLANS);
	CU_ASSERT((uint32_t)p->payload_off + p->payload_len <= len);
	if (rc != 0)
		return;
	if (p->l3 != ST_L3_NONE) {
		uint32_t end = (uint32_t)p->l3_off + p->l3_len;

		CU_ASSERT(end <= len);
		CU_ASSERT(p->l4_off == p->l3_off + p->l3_hlen);
		CU_ASSERT(p->l4_off <= end);
		CU_ASSERT(p->payload_off >= p->l4_off);
		CU_ASSERT((uint32_t)p->payload_off + p->payload_len <= end);
		CU_ASSERT(!!(p->flags & ST_PKT_F_PADDED) == (len > end));
	} else {
		CU_ASSERT((uint32_t)p->payload_off + p->payload_len == len);
	}
	if ((p->flags & ST_PKT_F_L4) && p->proto == ST_IPPROTO_TCP) {
		uint32_t oe = (uint32_t)p->l4_off + p->tcp.hlen;

		if (p->tcp.opts & ST_TCPOPT_F_TS) {
			CU_ASSERT(p->tcp.ts_off >= p->l4_off + 20);
			CU_ASSERT(p->tcp.ts_off + 10u <= oe);
		}
		if (p->tcp.opts & ST_TCPOPT_F_SACK) {
			CU_ASSERT(p->tcp.sack_count >= 1 && p->tcp.sack_count <= 4);
			CU_ASSERT(p->tcp.sack_off + 2u + 8u * p->tcp.sack_count <= oe);
		}
	}
	if (p->flags & ST_PKT_F_ICMP_ERR)
		CU_ASSERT(p->icmp.inner.l3_off == p->payload_off);
}

static void check_frag(const struct st_pkt *p)
{
	CU_ASSERT(p->frag_off % 8 == 0);
	CU_ASSERT(p->frag_more <= 1);
	if (!(p->flags & ST_PKT_F_FRAG)) {
		CU_ASSERT(p->frag_id == 0 && p->frag_off == 0 && p->frag_more == 0);
	} else {
		CU_ASSERT(p->l3 != ST_L3_NONE);
		if (p->l3 == ST_L3_IPV4)
			CU_ASSERT(p->frag_id <= 0xffff);
	}
}

static int parse_seg_n(const uint8_t *buf, uint32_t have, uint32_t len,
		       int eth, struct st_pkt *p);

/* Parses buf[0..len) from an exact heap copy; the same frame given to the
 * _seg parsers as one whole segment (and with have past its end) must come
 * out the same. */
static int parse_n(const uint8_t *buf, uint32_t len, int eth, struct st_pkt *p)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct st_pkt q;
	int rc;

	memcpy(copy, buf, len);
	rc = eth ? st_pkt_parse(copy, len, p) : st_pkt_parse_l3(copy, len, p);
	check_view(p, len, rc);
	check_frag(p);
	CU_ASSERT(rc != -ST_PKT_ERR_SPLIT_HEADER);
	free(copy);
	CU_ASSERT_EQUAL(parse_seg_n(buf, len, len, eth, &q), rc);
	CU_ASSERT(memcmp(p, &q, sizeof(q)) == 0);
	CU_ASSERT_EQUAL(parse_seg_n(buf, len + 100, len, eth, &q), rc);
	CU_ASSERT(memcmp(p, &q, sizeof(q)) == 0);
	return rc;
}

/* A frame of len bytes of which only the first have (at most len) are in
 * an exact heap copy. Besides what holds for any view: every header it
 * describes lies below have. */
static int parse_seg_n(const uint8_t *buf, uint32_t have, uint32_t len,
		       int eth, struct st_pkt *p)
{
	uint32_t n = have < len ? have : len;
	uint8_t *copy = malloc(n ? n : 1);
	int rc;

	memcpy(copy, buf, n);
	rc = eth ? st_pkt_parse_seg(copy, have, len, p) :
		   st_pkt_parse_l3_seg(copy, have, len, p);
	free(copy);
	check_view(p, len, rc);
	check_frag(p);
	if (rc == -ST_PKT_ERR_SPLIT_HEADER)
		CU_ASSERT(have < len);
	if (rc != 0)
		return rc;
	CU_ASSERT(p->l2_len <= n);
	if (p->l3 != ST_L3_NONE)
		CU_ASSERT(p->l4_off <= n);
	if (p->flags & ST_PKT_F_L4)
		CU_ASSERT(p->l4_off + (p->proto == ST_IPPROTO_TCP ? p->tcp.hlen : 8u) <= n);
	return rc;
}

/* The frame cut after have bytes parses as the whole one does, or fails
 * with split_header; only the quote in an ICMP error may be cut without
 * failing (its err says split_header then). Returns what the cut gives. */
static int check_cut(const uint8_t *buf, uint32_t have, uint32_t len, int eth,
		     struct st_pkt *cut)
{
	struct st_pkt whole;
	int rc = parse_n(buf, len, eth, &whole);
	int rs = parse_seg_n(buf, have, len, eth, cut);

	if (rs == -ST_PKT_ERR_SPLIT_HEADER)
		return rs;
	CU_ASSERT_EQUAL(rs, rc);
	if ((cut->flags & ST_PKT_F_ICMP_ERR) &&
	    cut->icmp.inner.err == ST_PKT_ERR_SPLIT_HEADER) {
		struct st_pkt a = whole, b = *cut;

		CU_ASSERT(have < len);
		memset(&a.icmp.inner, 0, sizeof(a.icmp.inner));
		memset(&b.icmp.inner, 0, sizeof(b.icmp.inner));
		CU_ASSERT(memcmp(&a, &b, sizeof(a)) == 0);
		return rs;
	}
	CU_ASSERT(memcmp(&whole, cut, sizeof(whole)) == 0);
	return rs;
}

static int parse(const struct pb *b, struct st_pkt *p)
{
	return parse_n(b->b, b->len, 1, p);
}

static void build_v4_tcp(struct pb *b, const uint8_t *opts, size_t optlen,
			 size_t payload)
{
	pb_init(b);
	pb_eth(b);
	pb_type(b, ST_ETH_P_IPV4);
	pb_ipv4(b, CLIENT4, SERVER4, ST_IPPROTO_TCP, NULL, 0);
	pb_tcp(b, 40000, 80, 1000, 2000, ST_TCP_ACK | ST_TCP_PSH, opts, optlen);
	pb_fill(b, payload, 'a');
	pb_finish(b, 1);
}

static void build_v4_udp(struct pb *b, size_t payload)
{
	pb_init(b);
	pb_eth(b);
	pb_type(b, ST_ETH_P_IPV4);
	pb_ipv4(b, CLIENT4, SERVER4, ST_IPPROTO_UDP, NULL, 0);
	pb_udp(b, 5353, 53);
	pb_fill(b, payload, 'q');
	pb_finish(b, 1);
}

static void build_v6_tcp(struct pb *b, size_t payload)
{
	pb_init(b);
	pb_eth(b);
	pb_type(b, ST_ETH_P_IPV6);
	pb_ipv6(b, client6, server6, ST_IPPROTO_TCP);
	pb_tcp(b, 40001, 443, 7, 9, ST_TCP_SYN, syn_opts, sizeof(syn_opts));
	pb_fill(b, payload, 'x');
	pb_finish(b, 1);
}

static void t_eth_ipv4_tcp(void)
{
	struct pb b;
	struct st_pkt p;

	build_v4_tcp(&b, syn_opts, sizeof(syn_opts), 10);
	CU_ASSERT_EQUAL_FATAL(parse(&b, &p), 0);
	CU_ASSERT_EQUAL(p.l2_len, 14);
	CU_ASSERT_EQUAL(p.ethertype, ST_ETH_P_IPV4);
	CU_ASSERT_EQUAL(p.vlan_count, 0);
	CU_ASSERT_EQUAL(p.l3, ST_L3_IPV4);
	CU_ASSERT_EQUAL(p.l3_off, 14);
	CU_ASSERT_EQUAL(p.l3_hlen, 20);
	CU_ASSERT_EQUAL(p.l3_len, 20 + 40 + 10);
	CU_ASSERT_EQUAL(p.ttl, 64);
	CU_ASSERT_EQUAL(p.proto, ST_IPPROTO_TCP);
	CU_ASSERT_EQUAL(p.src.v4, htonl(CLIENT4));
	CU_ASSERT_EQUAL(p.dst.v4, htonl(SERVER4));
	CU_ASSERT_EQUAL(p.src.a32[1] | p.src.a32[2] | p.src.a32[3], 0);
	CU_ASSERT_EQUAL(p.l4_off, 34);
	CU_ASSERT_EQUAL(p.sport, 40000);
	CU_ASSERT_EQUAL(p.dport, 80);
	CU_ASSERT_EQUAL(p.flags, ST_PKT_F_PORTS | ST_PKT_F_L4);
	CU_ASSERT_EQUAL(p.tcp.seq, 1000);
	CU_ASSERT_EQUAL(p.tcp.ack, 2000);
	CU_ASSERT_EQUAL(p.tcp.flags, ST_TCP_ACK | ST_TCP_PSH);
	CU_ASSERT_EQUAL(p.tcp.win, 65535);
	CU_ASSERT_EQUAL(p.tcp.hlen, 40);
	CU_ASSERT_EQUAL(p.tcp.opts, ST_TCPOPT_F_MSS | ST_TCPOPT_F_SACK_PERM |
			ST_TCPOPT_F_TS | ST_TCPOPT_F_WSCALE);
	CU_ASSERT_EQUAL(p.tcp.mss, 1460);
	CU_ASSERT_EQUAL(p.tcp.wscale, 7);
	CU_ASSERT_EQUAL(p.tcp.tsval, 0x11111111);
	CU_ASSERT_EQUAL(p.tcp.tsecr, 0x22222222);
	CU_ASSERT_EQUAL(p.tcp.ts_off, 34 + 20 + 6);
	CU_ASSERT_EQUAL(b.b[p.tcp.ts_off], 8);
	CU_ASSERT_EQUAL(p.tcp.sack_off, 0);
	CU_ASSERT_EQUAL(p.payload_off, 74);
	CU_ASSERT_EQUAL(p.payload_len, 10);
	CU_ASSERT_EQUAL(b.b[p.payload_off], 'a');
	CU_ASSERT_STRING_EQUAL(st_pkt_err_str(p.err), "ok");
}

static void t_eth_ipv4_udp_padding(void)
{
	struct pb b;
	struct st_pkt p;

	build_v4_udp(&b, 4);
	CU_ASSERT_EQUAL(b.len, 46);
	b.len = 60;		/* minimum frame: 14 bytes of Ethernet padding */
	CU_ASSERT_EQUAL_FATAL(parse(&b, &p), 0);
	CU_ASSERT_EQUAL(p.l3_len, 32);
	CU_ASSERT_EQUAL(p.sport, 5353);
	CU_ASSERT_EQUAL(p.dport, 53);
	CU_ASSERT(p.flags & ST_PKT_F_PADDED);
	CU_ASSERT(p.flags & ST_PKT_F_L4);
	CU_ASSERT_EQUAL(p.payload_off, 42);
	CU_ASSERT_EQUAL(p.payload_len, 4);
}

static void t_vlan(void)
{
	struct pb b;
	struct st_pkt p;
	static const uint16_t outer[] = { ST_ETH_P_8021Q, ST_ETH_P_8021AD,
					  ST_ETH_P_QINQ_9100 };

	pb_init(&b);
	pb_eth(&b);
	pb_vlan(&b, ST_ETH_P_8021Q, 0x2064);
	pb_type(&b, ST_ETH_P_IPV4);
	pb_ipv4(&b, CLIENT4, SERVER4, ST_IPPROTO_UDP, NULL, 0);
	pb_udp(&b, 1, 2);
	pb_finish(&b, 1);
	CU_ASSERT_EQUAL_FATAL(parse(&b, &p), 0);
	CU_ASSERT_EQUAL(p.vlan_count, 1);
	CU_ASSERT_EQUAL(p.vlan_tci[0], 0x2064);
	CU_ASSERT_EQUAL(p.vlan_tpid[0], ST_ETH_P_8021Q);
	CU_ASSERT_EQUAL(p.l2_len, 18);
	CU_ASSERT_EQUAL(p.ethertype, ST_ETH_P_IPV4);
	CU_ASSERT_EQUAL(p.dport, 2);

	for (size_t i = 0; i < sizeof(outer) / sizeof(outer[0]); i++) {
		pb_init(&b);
		pb_eth(&b);
		pb_vlan(&b, outer[i], 10);
		pb_vlan(&b, ST_ETH_P_8021Q, 0xe014);
		pb_type(&b, ST_ETH_P_IPV6);
		pb_ipv6(&b, client6, server6, ST_IPPROTO_UDP);
		pb_udp(&b, 3, 4);
		pb_finish(&b, 1);
		CU_ASSERT_EQUAL_FATAL(parse(&b, &p), 0);
		CU_ASSERT_EQUAL(p.vlan_count, 2);
		CU_ASSERT_EQUAL(p.vlan_tpid[0], outer[i]);
		CU_ASSERT_EQUAL(p.vlan_tci[0], 10);
		CU_ASSERT_EQUAL(p.vlan_tpid[1], ST_ETH_P_8021Q);
		CU_ASSERT_EQUAL(p.vlan_tci[1], 0xe014);
		CU_ASSERT_EQUAL(p.l2_len, 22);
		CU_ASSERT_EQUAL(p.l4_off, 62);
		CU_ASSERT_EQUAL(p.sport, 3);
	}

	/* a third tag */
	pb_init(&b);
	pb_eth(&b);
	pb_vlan(&b, ST_ETH_P_8021AD, 1);
	pb_vlan(&b, ST_ETH_P_8021Q, 2);
	pb_vlan(&b, ST_ETH_P_8021Q, 3);
	pb_type(&b, ST_ETH_P_IPV4);
	pb_fill(&b, 40, 0);
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_TOO_MANY_VLANS);
	CU_ASSERT_EQUAL(p.vlan_count, 2);

	/* a tag cut in half */
	pb_init(&b);
	pb_eth(&b);
	pb_vlan(&b, ST_ETH_P_8021Q, 2);
	b.len -= 2;
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_TRUNCATED_VLAN);
}

static void t_non_ip(void)
{
	struct pb b;
	struct st_pkt p;

	pb_init(&b);
	pb_eth(&b);
	pb_type(&b, ST_ETH_P_ARP);
	pb_fill(&b, 28, 0);
	CU_ASSERT_EQUAL_FATAL(parse(&b, &p), 0);
	CU_ASSERT_EQUAL(p.l3, ST_L3_NONE);
	CU_ASSERT_EQUAL(p.ethertype, ST_ETH_P_ARP);
	CU_ASSERT_EQUAL(p.payload_off, 14);
	CU_ASSERT_EQUAL(p.payload_len, 28);
	CU_ASSERT_EQUAL(p.flags, 0);

	/* exactly a header */
	b.len = 14;
	CU_ASSERT_EQUAL(parse(&b, &p), 0);
	CU_ASSERT_EQUAL(p.payload_len, 0);
	b.len = 13;
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_TRUNCATED_L2);
}

static void t_ipv4_options(void)
{
	uint8_t opts[40];
	struct pb b;
	struct st_pkt p;

	memset(opts, 1, sizeof(opts));	/* NOPs */
	opts[39] = 0;
	for (size_t n = 4; n <= 40; n += 36) {
		pb_init(&b);
		pb_eth(&b);
		pb_type(&b, ST_ETH_P_IPV4);
		pb_ipv4(&b, CLIENT4, SERVER4, ST_IPPROTO_UDP, opts + 40 - n, n);
		pb_udp(&b, 1000, 2000);
		pb_fill(&b, 3, 0);
		pb_finish(&b, 1);
		CU_ASSERT_EQUAL_FATAL(parse(&b, &p), 0);
		CU_ASSERT_EQUAL(p.l3_hlen, 20 + n);
		CU_ASSERT_EQUAL(p.l4_off, 34 + n);
		CU_ASSERT(p.flags & ST_PKT_F_IP_OPTS);
		CU_ASSERT_EQUAL(p.dport, 2000);
		CU_ASSERT_EQUAL(p.payload_len, 3);
		CU_ASSERT(st_csum_ipv4_ok(b.b + 14));
	}
}

static void t_ipv4_frag(void)
{
	static const struct {
		uint16_t id, fo;	/* as on the wire: MF 0x2000 | offset / 8 */
		uint16_t off;
		uint8_t more;
	} cases[] = {
		{ 0xbeef, 0x2000, 0, 1 },	/* first */
		{ 0x0001, 0x20b9, 1480, 1 },	/* middle */
		{ 0xffff, 0x00b9, 1480, 0 },	/* last */
		{ 0x8000, 0x3fff, 65528, 1 },	/* largest offset */
		{ 0x1234, 0x6172, 2960, 1 },	/* DF set too: still a fragment */
	};
	struct pb b;
	struct st_pkt p;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		build_v4_udp(&b, 16);
		pb_put16(&b, 14 + 4, cases[i].id);
		pb_put16(&b, 14 + 6, cases[i].fo);
		CU_ASSERT_EQUAL_FATAL(parse(&b, &p), 0);
		CU_ASSERT(p.flags & ST_PKT_F_FRAG);
		CU_ASSERT(!(p.flags & (ST_PKT_F_PORTS | ST_PKT_F_L4)));
		CU_ASSERT_EQUAL(p.sport, 0);
		CU_ASSERT_EQUAL(p.proto, ST_IPPROTO_UDP);
		CU_ASSERT_EQUAL(p.payload_off, 34);
		CU_ASSERT_EQUAL(p.payload_len, 24);
		CU_ASSERT_EQUAL(p.frag_id, cases[i].id);
		CU_ASSERT_EQUAL(p.frag_off, cases[i].off);
		CU_ASSERT_EQUAL(p.frag_more, cases[i].more);
	}
	/* DF alone is not a fragment: no fragment fields, though the id is
	 * there */
	build_v4_udp(&b, 16);
	CU_ASSERT_EQUAL(parse(&b, &p), 0);
	CU_ASSERT(!(p.flags & ST_PKT_F_FRAG));
	CU_ASSERT_EQUAL(p.frag_id, 0);
	CU_ASSERT_EQUAL(p.frag_off, 0);
	CU_ASSERT_EQUAL(p.frag_more, 0);
}

static void t_ipv6_tcp(void)
{
	struct pb b;
	struct st_pkt p;

	build_v6_tcp(&b, 5);
	CU_ASSERT_EQUAL_FATAL(parse(&b, &p), 0);
	CU_ASSERT_EQUAL(p.l3, ST_L3_IPV6);
	CU_ASSERT_EQUAL(p.ethertype, ST_ETH_P_IPV6);
	CU_ASSERT_EQUAL(p.l3_hlen, 40);
	CU_ASSERT_EQUAL(p.l3_len, 40 + 40 + 5);
	CU_ASSERT_EQUAL(p.ttl, 64);
	CU_ASSERT(memcmp(p.src.a8, client6, 16) == 0);
	CU_ASSERT(memcmp(p.dst.a8, server6, 16) == 0);
	CU_ASSERT_EQUAL(p.l4_off, 54);
	CU_ASSERT_EQUAL(p.sport, 40001);
	CU_ASSERT_EQUAL(p.dport, 443);
	CU_ASSERT_EQUAL(p.tcp.flags, ST_TCP_SYN);
	CU_ASSERT_EQUAL(p.tcp.mss, 1460);
	CU_ASSERT_EQUAL(p.payload_off, 94);
	CU_ASSERT_EQUAL(p.payload_len, 5);
	CU_ASSERT(!(p.flags & ST_PKT_F_V6_EXT));
}

static void t_ipv6_ext_chain(void)
{
	struct pb b;
	struct st_pkt p;

	pb_init(&b);
	pb_eth(&b);
	pb_type(&b, ST_ETH_P_IPV6);
	pb_ipv6(&b, client6, server6, 0);	/* hop-by-hop */
	pb_v6ext(&b, 60, 8);
	pb_v6ext(&b, 43, 16);
	pb_v6ext(&b, 51, 24);
	pb_v6ah(&b, ST_IPPROTO_UDP);
	pb_udp(&b, 7, 8);
	pb_fill(&b, 2, 0);
	pb_finish(&b, 1);
	CU_ASSERT_EQUAL_FATAL(parse(&b, &p), 0);
	CU_ASSERT_EQUAL(p.l3_hlen, 40 + 8 + 16 + 24 + 24);
	CU_ASSERT_EQUAL(p.proto, ST_IPPROTO_UDP);
	CU_ASSERT(p.flags & ST_PKT_F_V6_EXT);
	CU_ASSERT(p.flags & ST_PKT_F_L4);
	CU_ASSERT_EQUAL(p.sport, 7);
	CU_ASSERT_EQUAL(p.payload_len, 2);
	CU_ASSERT(st_csum_l4_ok(b.b, &p));

	/* no next header */
	pb_init(&b);
	pb_eth(&b);
	pb_type(&b, ST_ETH_P_IPV6);
	pb_ipv6(&b, client6, server6, 60);
	pb_v6ext(&b, 59, 8);
	pb_finish(&b, 1);
	CU_ASSERT_EQUAL(parse(&b, &p), 0);
	CU_ASSERT_EQUAL(p.proto, 59);
	CU_ASSERT_EQUAL(p.payload_len, 0);
	CU_ASSERT(!(p.flags & ST_PKT_F_L4));
}

/* n destination-options headers then UDP. */
static void build_v6_n_ext(struct pb *b, int n)
{
	pb_init(b);
	pb_eth(b);
	pb_type(b, ST_ETH_P_IPV6);
	pb_ipv6(b, client6, server6, n ? 60 : ST_IPPROTO_UDP);
	for (int i = 0; i < n; i++)
		pb_v6ext(b, i == n - 1 ? ST_IPPROTO_UDP : 60, 8);
	pb_udp(b, 1, 2);
	pb_finish(b, 1);
}

static void t_ipv6_ext_limits(void)
{
	struct pb b;
	struct st_pkt p;

	build_v6_n_ext(&b, ST_PKT_MAX_V6_EXT);
	CU_ASSERT_EQUAL(parse(&b, &p), 0);
	CU_ASSERT_EQUAL(p.dport, 2);
	build_v6_n_ext(&b, ST_PKT_MAX_V6_EXT + 1);
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_BAD_IPV6_EXT);
	CU_ASSERT_EQUAL(p.l3, ST_L3_IPV6);
	build_v6_n_ext(&b, 64);
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_BAD_IPV6_EXT);

	/* hop-by-hop after another header */
	pb_init(&b);
	pb_eth(&b);
	pb_type(&b, ST_ETH_P_IPV6);
	pb_ipv6(&b, client6, server6, 60);
	pb_v6ext(&b, 0, 8);
	pb_v6ext(&b, ST_IPPROTO_UDP, 8);
	pb_udp(&b, 1, 2);
	pb_finish(&b, 1);
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_BAD_IPV6_EXT);

	/* header length past the payload; then a header cut short */
	build_v6_n_ext(&b, 1);
	b.b[14 + 40 + 1] = 200;
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_TRUNCATED_IPV6_EXT);
	build_v6_n_ext(&b, 1);
	pb_put16(&b, 14 + 4, 4);
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_TRUNCATED_IPV6_EXT);
}

static void t_ipv6_frag(void)
{
	struct pb b;
	struct st_pkt p;
	static const struct {
		uint16_t off8;
		int more, frag;
		uint32_t id;
	} cases[] = {
		{ 0, 1, 1, 0x89abcdef },	/* first */
		{ 100, 1, 1, 1 },		/* middle */
		{ 100, 0, 1, 0xffffffff },	/* last */
		{ 8191, 0, 1, 0 },		/* largest offset */
		{ 0, 0, 0, 0x12345678 },	/* atomic */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pb_init(&b);
		pb_eth(&b);
		pb_type(&b, ST_ETH_P_IPV6);
		pb_ipv6(&b, client6, server6, 44);
		pb_v6frag(&b, ST_IPPROTO_UDP, cases[i].off8, cases[i].more);
		pb_udp(&b, 11, 12);
		pb_fill(&b, 8, 0);
		pb_finish(&b, 1);
		pb_put16(&b, 14 + 40 + 4, (uint16_t)(cases[i].id >> 16));
		pb_put16(&b, 14 + 40 + 6, (uint16_t)cases[i].id);
		CU_ASSERT_EQUAL_FATAL(parse(&b, &p), 0);
		CU_ASSERT_EQUAL(p.proto, ST_IPPROTO_UDP);
		CU_ASSERT_EQUAL(p.l4_off, 14 + 48);
		CU_ASSERT(p.flags & ST_PKT_F_V6_EXT);
		if (cases[i].frag) {
			CU_ASSERT(p.flags & ST_PKT_F_FRAG);
			CU_ASSERT(!(p.flags & ST_PKT_F_PORTS));
			CU_ASSERT_EQUAL(p.payload_len, 16);
			CU_ASSERT_EQUAL(p.frag_id, cases[i].id);
			CU_ASSERT_EQUAL(p.frag_off, cases[i].off8 * 8u);
			CU_ASSERT_EQUAL(p.frag_more, cases[i].more);
		} else {	/* atomic fragment, RFC 6946 */
			CU_ASSERT(!(p.flags & ST_PKT_F_FRAG));
			CU_ASSERT_EQUAL(p.dport, 12);
			CU_ASSERT_EQUAL(p.payload_len, 8);
			CU_ASSERT_EQUAL(p.frag_id, 0);
			CU_ASSERT_EQUAL(p.frag_off, 0);
			CU_ASSERT_EQUAL(p.frag_more, 0);
		}
	}

	/* after other extension headers; a later header after the fragment
	 * header is the fragment's data, not walked */
	pb_init(&b);
	pb_eth(&b);
	pb_type(&b, ST_ETH_P_IPV6);
	pb_ipv6(&b, client6, server6, 0);
	pb_v6ext(&b, 44, 8);
	pb_v6frag(&b, 60, 185, 1);
	pb_v6ext(&b, ST_IPPROTO_TCP, 16);
	pb_finish(&b, 1);
	CU_ASSERT_EQUAL_FATAL(parse(&b, &p), 0);
	CU_ASSERT(p.flags & ST_PKT_F_FRAG);
	CU_ASSERT_EQUAL(p.proto, 60);
	CU_ASSERT_EQUAL(p.l3_hlen, 40 + 8 + 8);
	CU_ASSERT_EQUAL(p.frag_id, 0xabcd);
	CU_ASSERT_EQUAL(p.frag_off, 1480);
	CU_ASSERT_EQUAL(p.frag_more, 1);
}

static void t_tcp_sack_ts(void)
{
	uint8_t opts[40];
	struct pb b;
	struct st_pkt p;

	for (int n = 1; n <= 4; n++) {
		size_t ol = 2 + 8 * (size_t)n, len = 0;

		memset(opts, 0, sizeof(opts));
		opts[len++] = 1;
		opts[len++] = 1;
		if (n < 4) {	/* room for timestamps too */
			opts[len++] = 8;
			opts[len++] = 10;
			for (int i = 0; i < 8; i++)
				opts[len++] = (uint8_t)(0x40 + i);
			opts[len++] = 1;
			opts[len++] = 1;
		}
		opts[len++] = 5;
		opts[len++] = (uint8_t)ol;
		for (int i = 0; i < 8 * n; i++)
			opts[len++] = (uint8_t)i;
		len = (len + 3) & ~(size_t)3;
		build_v4_tcp(&b, opts, len, 0);
		CU_ASSERT_EQUAL_FATAL(parse(&b, &p), 0);
		CU_ASSERT(p.tcp.opts & ST_TCPOPT_F_SACK);
		CU_ASSERT_EQUAL(p.tcp.sack_count, n);
		CU_ASSERT_EQUAL(b.b[p.tcp.sack_off], 5);
		CU_ASSERT_EQUAL(b.b[p.tcp.sack_off + 1], ol);
		CU_ASSERT_EQUAL(p.tcp.sack_off, 54 + (n < 4 ? 14 : 2));
		if (n < 4) {
			CU_ASSERT_EQUAL(p.tcp.ts_off, 56);
			CU_ASSERT_EQUAL(p.tcp.tsval, 0x40414243);
			CU_ASSERT_EQUAL(p.tcp.tsecr, 0x44454647);
		} else {
			CU_ASSERT(!(p.tcp.opts & ST_TCPOPT_F_TS));
			CU_ASSERT_EQUAL(p.tcp.ts_off, 0);
		}
	}

	/* unknown option skipped by length; bytes after EOL ignored */
	{
		static const uint8_t o[] = { 30, 6, 1, 2, 3, 4, 8, 10, 0, 0, 0, 1,
					     0, 0, 0, 2, 0, 0xff, 0xff, 0xff };

		build_v4_tcp(&b, o, sizeof(o), 1);
		CU_ASSERT_EQUAL_FATAL(parse(&b, &p), 0);
		CU_ASSERT_EQUAL(p.tcp.opts, ST_TCPOPT_F_TS);
		CU_ASSERT_EQUAL(p.tcp.ts_off, 60);
		CU_ASSERT_EQUAL(p.tcp.tsval, 1);
		CU_ASSERT_EQUAL(p.tcp.tsecr, 2);
	}
}

static void t_tcp_bad_options(void)
{
	static const uint8_t bad[][8] = {
		{ 2, 0, 0, 0 },			/* length 0 */
		{ 30, 1, 0, 0 },		/* length 1 */
		{ 1, 1, 30, 12 },		/* past the header */
		{ 1, 1, 1, 2 },			/* no room for the length */
		{ 2, 3, 5, 0 },			/* MSS length 3 */
		{ 3, 4, 7, 0 },			/* WS length 4 */
		{ 4, 3, 0, 0 },			/* SACK-permitted length 3 */
		{ 5, 2, 0, 0 },			/* SACK without a block */
		{ 5, 7, 0, 0, 0, 0, 0, 0 },	/* SACK not 2 + 8n */
		{ 8, 8, 0, 0, 0, 0, 0, 0 },	/* TS length 8 */
	};
	struct pb b;
	struct st_pkt p;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		build_v4_tcp(&b, bad[i], 8, 4);
		CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_BAD_TCP_OPTION);
		CU_ASSERT_STRING_EQUAL(st_pkt_err_str(p.err), "bad_tcp_option");
		/* the flow is still known */
		CU_ASSERT(p.flags & ST_PKT_F_PORTS);
		CU_ASSERT(!(p.flags & ST_PKT_F_L4));
		CU_ASSERT_EQUAL(p.dport, 80);
	}
}

static void t_l4_malformed(void)
{
	struct pb b;
	struct st_pkt p;

	/* data offset < 5, and past the segment */
	build_v4_tcp(&b, NULL, 0, 0);
	b.b[34 + 12] = 0x40;
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_BAD_TCP_DOFF);
	build_v4_tcp(&b, NULL, 0, 20);
	b.b[34 + 12] = 0xf0;
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_BAD_TCP_DOFF);
	b.b[34 + 12] = 0xa0;	/* 40 bytes: exactly header + 20 of payload */
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_BAD_TCP_OPTION);

	/* L4 header longer than what the IP header says is there */
	build_v4_tcp(&b, NULL, 0, 0);
	pb_put16(&b, 14 + 2, 20 + 19);
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_TRUNCATED_L4);
	CU_ASSERT(!(p.flags & ST_PKT_F_PORTS));
	build_v4_udp(&b, 0);
	pb_put16(&b, 14 + 2, 20 + 7);
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_TRUNCATED_L4);

	/* UDP length: too small, too large, shorter than the IP payload */
	build_v4_udp(&b, 12);
	pb_put16(&b, 34 + 4, 7);
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_BAD_UDP_LEN);
	CU_ASSERT(p.flags & ST_PKT_F_PORTS);
	pb_put16(&b, 34 + 4, 21);
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_BAD_UDP_LEN);
	pb_put16(&b, 34 + 4, 0xffff);
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_BAD_UDP_LEN);
	pb_put16(&b, 34 + 4, 10);
	CU_ASSERT_EQUAL(parse(&b, &p), 0);
	CU_ASSERT_EQUAL(p.payload_len, 2);

	/* ICMP shorter than its 8-byte header */
	pb_init(&b);
	pb_eth(&b);
	pb_type(&b, ST_ETH_P_IPV4);
	pb_ipv4(&b, CLIENT4, SERVER4, ST_IPPROTO_ICMP, NULL, 0);
	pb_fill(&b, 7, 8);
	pb_finish(&b, 1);
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_TRUNCATED_L4);
}

static void t_ip_malformed(void)
{
	struct pb b;
	struct st_pkt p;

	build_v4_udp(&b, 8);
	b.b[14] = 0x65;
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_BAD_IP_VERSION);
	CU_ASSERT_EQUAL(p.l3, ST_L3_NONE);
	build_v4_udp(&b, 8);
	b.b[14] = 0x44;
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_BAD_IHL);
	CU_ASSERT_EQUAL(p.l3, ST_L3_IPV4);	/* addresses were read */
	CU_ASSERT_EQUAL(p.src.v4, htonl(CLIENT4));
	build_v4_udp(&b, 8);
	b.b[14] = 0x4f;		/* 60 > total length 36 */
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_BAD_IHL);
	build_v4_udp(&b, 8);
	pb_put16(&b, 14 + 2, 19);
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_BAD_IP_LEN);
	pb_put16(&b, 14 + 2, 0);
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_BAD_IP_LEN);
	pb_put16(&b, 14 + 2, 37);
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_TRUNCATED_IP);
	pb_put16(&b, 14 + 2, 0xffff);
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_TRUNCATED_IP);

	build_v6_tcp(&b, 0);
	b.b[14] = 0x45;
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_BAD_IP_VERSION);
	build_v6_tcp(&b, 0);
	pb_put16(&b, 14 + 4, 41);
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_TRUNCATED_IP);
	pb_put16(&b, 14 + 4, 0xffff);
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_TRUNCATED_IP);
	pb_put16(&b, 14 + 4, 0);	/* no room left for TCP */
	CU_ASSERT_EQUAL(parse(&b, &p), -ST_PKT_ERR_TRUNCATED_L4);
}

static void t_icmp_echo(void)
{
	struct pb b;
	struct st_pkt p;

	pb_init(&b);
	pb_eth(&b);
	pb_type(&b, ST_ETH_P_IPV4);
	pb_ipv4(&b, CLIENT4, SERVER4, ST_IPPROTO_ICMP, NULL, 0);
	pb_icmp(&b, 8, 0, 0x00010002);
	pb_fill(&b, 56, 0);
	pb_finish(&b, 1);
	CU_ASSERT_EQUAL_FATAL(parse(&b, &p), 0);
	CU_ASSERT_EQUAL(p.icmp.type, 8);
	CU_ASSERT_EQUAL(p.icmp.code, 0);
	CU_ASSERT_EQUAL(p.flags, ST_PKT_F_L4);
	CU_ASSERT_EQUAL(p.payload_off, 42);
	CU_ASSERT_EQUAL(p.payload_len, 56);
	CU_ASSERT(st_csum_l4_ok(b.b, &p));
}

/* ICMP error from a router to the client about orig (which starts at its
 * IP header), quoting quote bytes of it. */
static void build_icmp4_err(struct pb *b, uint8_t type, uint8_t code,
			    const uint8_t *orig, size_t quote)
{
	pb_init(b);
	pb_eth(b);
	pb_type(b, ST_ETH_P_IPV4);
	pb_ipv4(b, ROUTER4, CLIENT4, ST_IPPROTO_ICMP, NULL, 0);
	pb_icmp(b, type, code, 0);
	pb_bytes(b, orig, quote);
	pb_finish(b, 1);
}

static void t_icmp_err_v4(void)
{
	static const uint8_t types[][2] = { { 3, 4 }, { 11, 0 }, { 12, 0 },
					    { 4, 0 }, { 5, 1 } };
	struct pb o, b;
	struct st_pkt p;

	build_v4_tcp(&o, syn_opts, sizeof(syn_opts), 100);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		for (size_t quote = 24; quote <= o.len - 14; quote += 52) {
			build_icmp4_err(&b, types[i][0], types[i][1], o.b + 14,
					quote);
			CU_ASSERT_EQUAL_FATAL(parse(&b, &p), 0);
			CU_ASSERT(p.flags & ST_PKT_F_ICMP_ERR);
			CU_ASSERT_EQUAL(p.icmp.type, types[i][0]);
			CU_ASSERT_EQUAL(p.icmp.code, types[i][1]);
			CU_ASSERT_EQUAL(p.icmp.inner.err, ST_PKT_OK);
			CU_ASSERT_EQUAL(p.icmp.inner.l3, ST_L3_IPV4);
			CU_ASSERT_EQUAL(p.icmp.inner.l3_off, 42);
			CU_ASSERT_EQUAL(p.icmp.inner.proto, ST_IPPROTO_TCP);
			CU_ASSERT_EQUAL(p.icmp.inner.src.v4, htonl(CLIENT4));
			CU_ASSERT_EQUAL(p.icmp.inner.dst.v4, htonl(SERVER4));
			CU_ASSERT_EQUAL(p.icmp.inner.sport, 40000);
			CU_ASSERT_EQUAL(p.icmp.inner.dport, 80);
			CU_ASSERT_EQUAL(p.icmp.inner.flags, ST_PKT_F_PORTS);
			CU_ASSERT(st_csum_l4_ok(b.b, &p));
		}
	}

	/* quoted header with options */
	{
		static const uint8_t opts[8] = { 1, 1, 1, 1, 1, 1, 1, 0 };

		pb_init(&o);
		pb_ipv4(&o, CLIENT4, SERVER4, ST_IPPROTO_UDP, opts, 8);
		pb_udp(&o, 999, 53);
		pb_finish(&o, 0);
		build_icmp4_err(&b, 3, 3, o.b, 36);
		CU_ASSERT_EQUAL_FATAL(parse(&b, &p), 0);
		CU_ASSERT_EQUAL(p.icmp.inner.err, ST_PKT_OK);
		CU_ASSERT_EQUAL(p.icmp.inner.sport, 999);
		CU_ASSERT_EQUAL(p.icmp.inner.proto, ST_IPPROTO_UDP);
	}
}

static void t_icmp_err_v6(void)
{
	struct pb o, b;
	struct st_pkt p;

	for (uint8_t type = 1; type <= 4; type++) {
		pb_init(&o);
		pb_ipv6(&o, client6, server6, 60);
		pb_v6ext(&o, ST_IPPROTO_UDP, 16);
		pb_udp(&o, 5000, 53);
		pb_fill(&o, 30, 0);
		pb_finish(&o, 0);

		pb_init(&b);
		pb_eth(&b);
		pb_type(&b, ST_ETH_P_IPV6);
		pb_ipv6(&b, router6, client6, ST_IPPROTO_ICMPV6);
		pb_icmp(&b, type, 0, 1280);
		pb_bytes(&b, o.b, o.len);
		pb_finish(&b, 1);
		CU_ASSERT_EQUAL_FATAL(parse(&b, &p), 0);
		CU_ASSERT(p.flags & ST_PKT_F_ICMP_ERR);
		CU_ASSERT_EQUAL(p.icmp.type, type);
		CU_ASSERT_EQUAL(p.icmp.inner.err, ST_PKT_OK);
		CU_ASSERT_EQUAL(p.icmp.inner.l3, ST_L3_IPV6);
		CU_ASSERT_EQUAL(p.icmp.inner.proto, ST_IPPROTO_UDP);
		CU_ASSERT(memcmp(p.icmp.inner.src.a8, client6, 16) == 0);
		CU_ASSERT(memcmp(p.icmp.inner.dst.a8, server6, 16) == 0);
		CU_ASSERT_EQUAL(p.icmp.inner.sport, 5000);
		CU_ASSERT_EQUAL(p.icmp.inner.dport, 53);
		CU_ASSERT(st_csum_l4_ok(b.b, &p));
	}
	/* informational types are not errors */
	CU_ASSERT_EQUAL(b.b[54], 4);
	b.b[54] = 128;
	CU_ASSERT_EQUAL(parse(&b, &p), 0);
	CU_ASSERT(!(p.flags & ST_PKT_F_ICMP_ERR));

	/* a quoted fragment has no ports */
	pb_init(&o);
	pb_ipv6(&o, client6, server6, 44);
	pb_v6frag(&o, ST_IPPROTO_UDP, 0, 1);
	pb_udp(&o, 5000, 53);
	pb_finish(&o, 0);
	pb_init(&b);
	pb_eth(&b);
	pb_type(&b, ST_ETH_P_IPV6);
	pb_ipv6(&b, router6, client6, ST_IPPROTO_ICMPV6);
	pb_icmp(&b, 3, 1, 0);
	pb_bytes(&b, o.b, o.len);
	pb_finish(&b, 1);
	CU_ASSERT_EQUAL_FATAL(parse(&b, &p), 0);
	CU_ASSERT_EQUAL(p.icmp.inner.err, ST_PKT_OK);
	CU_ASSERT_EQUAL(p.icmp.inner.flags, ST_PKT_F_FRAG);
	CU_ASSERT_EQUAL(p.icmp.inner.proto, ST_IPPROTO_UDP);
	CU_ASSERT_EQUAL(p.icmp.inner.sport, 0);
}

static void t_icmp_err_bad_inner(void)
{
	struct pb o, b;
	struct st_pkt p;
	static const struct {
		size_t quote;
		uint8_t vihl;
		enum st_pkt_err err;
	} cases[] = {
		{ 0, 0x45, ST_PKT_ERR_TRUNCATED_IP },
		{ 10, 0x45, ST_PKT_ERR_TRUNCATED_IP },
		{ 22, 0x45, ST_PKT_ERR_TRUNCATED_L4 },
		{ 24, 0x47, ST_PKT_ERR_TRUNCATED_IP },
		{ 28, 0x43, ST_PKT_ERR_BAD_IHL },
		{ 28, 0x55, ST_PKT_ERR_BAD_IP_VERSION },
		{ 24, 0x45, ST_PKT_OK },	/* ports are enough */
	};

	build_v4_udp(&o, 20);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		o.b[14] = cases[i].vihl;
		build_icmp4_err(&b, 3, 1, o.b + 14, cases[i].quote);
		CU_ASSERT_EQUAL_FATAL(parse(&b, &p), 0);
		CU_ASSERT(p.flags & ST_PKT_F_ICMP_ERR);
		CU_ASSERT_EQUAL(p.icmp.inner.err, cases[i].err);
	}
	/* quoted IPv6 header cut short */
	pb_init(&b);
	pb_eth(&b);
	pb_type(&b, ST_ETH_P_IPV6);
	pb_ipv6(&b, router6, client6, ST_IPPROTO_ICMPV6);
	pb_icmp(&b, 1, 0, 0);
	pb_u8(&b, 0x60);
	pb_fill(&b, 38, 0);
	pb_finish(&b, 1);
	CU_ASSERT_EQUAL_FATAL(parse(&b, &p), 0);
	CU_ASSERT_EQUAL(p.icmp.inner.err, ST_PKT_ERR_TRUNCATED_IP);
}

static void t_parse_l3(void)
{
	struct pb b;
	struct st_pkt p;

	pb_init(&b);
	pb_ipv4(&b, CLIENT4, SERVER4, ST_IPPROTO_UDP, NULL, 0);
	pb_udp(&b, 1, 2);
	pb_finish(&b, 0);
	CU_ASSERT_EQUAL_FATAL(parse_n(b.b, b.len, 0, &p), 0);
	CU_ASSERT_EQUAL(p.l2_len, 0);
	CU_ASSERT_EQUAL(p.l3_off, 0);
	CU_ASSERT_EQUAL(p.ethertype, ST_ETH_P_IPV4);
	CU_ASSERT_EQUAL(p.l4_off, 20);
	CU_ASSERT_EQUAL(p.dport, 2);
	CU_ASSERT(st_csum_l4_ok(b.b, &p));

	pb_init(&b);
	pb_ipv6(&b, client6, server6, ST_IPPROTO_TCP);
	pb_tcp(&b, 1, 2, 3, 4, ST_TCP_ACK, NULL, 0);
	pb_finish(&b, 0);
	CU_ASSERT_EQUAL_FATAL(parse_n(b.b, b.len, 0, &p), 0);
	CU_ASSERT_EQUAL(p.ethertype, ST_ETH_P_IPV6);
	CU_ASSERT_EQUAL(p.l4_off, 40);
	CU_ASSERT_EQUAL(p.tcp.ack, 4);
	CU_ASSERT(st_csum_l4_ok(b.b, &p));

	b.b[0] = 0x50;
	CU_ASSERT_EQUAL(parse_n(b.b, b.len, 0, &p), -ST_PKT_ERR_BAD_IP_VERSION);
	CU_ASSERT_EQUAL(parse_n(b.b, 0, 0, &p), -ST_PKT_ERR_TRUNCATED_IP);
	CU_ASSERT_EQUAL(parse_n(b.b, 0, 1, &p), -ST_PKT_ERR_TRUNCATED_L2);
}

/* A 3000-byte frame whose first segment holds 200 bytes: the same view as
 * the whole frame gives, offsets and lengths those of the frame. */
static void t_seg_jumbo(void)
{
	struct pb b;
	struct st_pkt p;

	build_v4_udp(&b, 3000 - 42);
	CU_ASSERT_EQUAL_FATAL(b.len, 3000);
	CU_ASSERT_EQUAL_FATAL(check_cut(b.b, 200, b.len, 1, &p), 0);
	CU_ASSERT_EQUAL(p.l3, ST_L3_IPV4);
	CU_ASSERT_EQUAL(p.l3_len, 2986);
	CU_ASSERT_EQUAL(p.l4_off, 34);
	CU_ASSERT_EQUAL(p.sport, 5353);
	CU_ASSERT_EQUAL(p.dport, 53);
	CU_ASSERT_EQUAL(p.flags, ST_PKT_F_PORTS | ST_PKT_F_L4);
	CU_ASSERT_EQUAL(p.payload_off, 42);
	CU_ASSERT_EQUAL(p.payload_len, 2958);
	/* the first segment's length alone is not the frame's */
	CU_ASSERT_EQUAL(parse_n(b.b, 200, 1, &p), -ST_PKT_ERR_TRUNCATED_IP);
	/* just the headers; one byte fewer */
	CU_ASSERT_EQUAL(check_cut(b.b, 42, b.len, 1, &p), 0);
	CU_ASSERT_EQUAL(p.payload_len, 2958);
	CU_ASSERT_EQUAL(check_cut(b.b, 41, b.len, 1, &p), -ST_PKT_ERR_SPLIT_HEADER);
	CU_ASSERT_EQUAL(p.l3, ST_L3_IPV4);
	CU_ASSERT_EQUAL(p.sport, 0);
	/* Ethernet padding is counted against the frame */
	CU_ASSERT_EQUAL(check_cut(b.b, 200, b.len + 6, 1, &p), 0);
	CU_ASSERT(p.flags & ST_PKT_F_PADDED);
	CU_ASSERT_EQUAL(p.payload_len, 2958);

	build_v6_tcp(&b, 3000 - 94);
	CU_ASSERT_EQUAL_FATAL(b.len, 3000);
	CU_ASSERT_EQUAL_FATAL(check_cut(b.b, 200, b.len, 1, &p), 0);
	CU_ASSERT_EQUAL(p.l3, ST_L3_IPV6);
	CU_ASSERT_EQUAL(p.l3_hlen, 40);
	CU_ASSERT_EQUAL(p.l3_len, 2986);
	CU_ASSERT_EQUAL(p.l4_off, 54);
	CU_ASSERT_EQUAL(p.sport, 40001);
	CU_ASSERT_EQUAL(p.dport, 443);
	CU_ASSERT_EQUAL(p.flags, ST_PKT_F_PORTS | ST_PKT_F_L4);
	CU_ASSERT_EQUAL(p.tcp.flags, ST_TCP_SYN);
	CU_ASSERT_EQUAL(p.tcp.hlen, 40);
	CU_ASSERT_EQUAL(p.tcp.mss, 1460);
	CU_ASSERT_EQUAL(p.tcp.ts_off, 54 + 26);
	CU_ASSERT_EQUAL(p.payload_off, 94);
	CU_ASSERT_EQUAL(p.payload_len, 2906);
	CU_ASSERT_EQUAL(parse_n(b.b, 200, 1, &p), -ST_PKT_ERR_TRUNCATED_IP);
	CU_ASSERT_EQUAL(check_cut(b.b, 94, b.len, 1, &p), 0);
	/* and from the IP header on */
	CU_ASSERT_EQUAL(check_cut(b.b + 14, 80, b.len - 14, 0, &p), 0);
	CU_ASSERT_EQUAL(p.payload_len, 2906);
	CU_ASSERT_EQUAL(check_cut(b.b + 14, 79, b.len - 14, 0, &p),
			-ST_PKT_ERR_SPLIT_HEADER);

	/* a fragment needs only its IP header in the first segment */
	build_v4_udp(&b, 3000 - 42);
	pb_put16(&b, 14 + 6, 0x20b9);
	CU_ASSERT_EQUAL(check_cut(b.b, 34, b.len, 1, &p), 0);
	CU_ASSERT(p.flags & ST_PKT_F_FRAG);
	CU_ASSERT_EQUAL(p.payload_off, 34);
	CU_ASSERT_EQUAL(p.payload_len, 2966);
	CU_ASSERT_EQUAL(p.frag_id, 0x1234);
	CU_ASSERT_EQUAL(p.frag_off, 1480);
	CU_ASSERT_EQUAL(p.frag_more, 1);
	CU_ASSERT_EQUAL(check_cut(b.b, 33, b.len, 1, &p), -ST_PKT_ERR_SPLIT_HEADER);
}

/* Headers cut by the end of the first segment fail with split_header;
 * length fields are still checked against the frame. */
static void t_seg_split(void)
{
	static const uint8_t opts40[40] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
					    1, 1, 1, 1, 1, 1, 1, 1, 1, 0 };
	struct pb b;
	struct st_pkt p;

	/* inside the TCP options: the ports were read */
	build_v4_tcp(&b, syn_opts, sizeof(syn_opts), 1000);
	for (uint32_t have = 54; have < 74; have++) {
		CU_ASSERT_EQUAL(check_cut(b.b, have, b.len, 1, &p),
				-ST_PKT_ERR_SPLIT_HEADER);
		CU_ASSERT(p.flags & ST_PKT_F_PORTS);
		CU_ASSERT(!(p.flags & ST_PKT_F_L4));
		CU_ASSERT_EQUAL(p.dport, 80);
	}
	CU_ASSERT_EQUAL(check_cut(b.b, 53, b.len, 1, &p), -ST_PKT_ERR_SPLIT_HEADER);
	CU_ASSERT(!(p.flags & ST_PKT_F_PORTS));
	CU_ASSERT_EQUAL(check_cut(b.b, 74, b.len, 1, &p), 0);
	CU_ASSERT_EQUAL(p.tcp.tsval, 0x11111111);
	/* a data offset past the L3 end is bad whatever is at hand; one
	 * inside it but past the segment is split */
	build_v4_tcp(&b, NULL, 0, 20);
	b.b[34 + 12] = 0xf0;
	CU_ASSERT_EQUAL(check_cut(b.b, 54, b.len, 1, &p), -ST_PKT_ERR_BAD_TCP_DOFF);
	b.b[34 + 12] = 0xa0;
	CU_ASSERT_EQUAL(check_cut(b.b, 54, b.len, 1, &p), -ST_PKT_ERR_SPLIT_HEADER);
	CU_ASSERT_EQUAL(check_cut(b.b, 74, b.len, 1, &p), -ST_PKT_ERR_BAD_TCP_OPTION);

	/* inside an IPv6 extension header, and in the UDP header after them */
	build_v6_n_ext(&b, 3);
	CU_ASSERT_EQUAL_FATAL(b.len, 86);
	for (uint32_t have = 54; have < 86; have++) {
		CU_ASSERT_EQUAL(check_cut(b.b, have, b.len, 1, &p),
				-ST_PKT_ERR_SPLIT_HEADER);
		CU_ASSERT_EQUAL(p.l3, ST_L3_IPV6);
		CU_ASSERT_EQUAL(p.l3_len, 72);
	}
	CU_ASSERT_EQUAL(check_cut(b.b, 86, b.len, 1, &p), 0);
	/* a header as long as the format allows, its length byte read from
	 * the first segment and the rest of it past it */
	pb_init(&b);
	pb_eth(&b);
	pb_type(&b, ST_ETH_P_IPV6);
	pb_ipv6(&b, client6, server6, 60);
	pb_v6ext(&b, 43, 2048);
	pb_v6ext(&b, ST_IPPROTO_UDP, 2048);
	pb_udp(&b, 1, 2);
	pb_finish(&b, 1);
	CU_ASSERT_EQUAL(check_cut(b.b, 200, b.len, 1, &p), -ST_PKT_ERR_SPLIT_HEADER);
	CU_ASSERT_EQUAL(check_cut(b.b, 54 + 2048 + 2047, b.len, 1, &p),
			-ST_PKT_ERR_SPLIT_HEADER);
	CU_ASSERT_EQUAL(check_cut(b.b, 54 + 4096 + 8, b.len, 1, &p), 0);
	CU_ASSERT_EQUAL(p.dport, 2);
	/* and one that claims more than the payload length */
	pb_put16(&b, 14 + 4, 2000);
	CU_ASSERT_EQUAL(check_cut(b.b, 200, b.len, 1, &p),
			-ST_PKT_ERR_TRUNCATED_IPV6_EXT);

	/* inside the IPv4 options, and a VLAN tag */
	pb_init(&b);
	pb_eth(&b);
	pb_vlan(&b, ST_ETH_P_8021Q, 3);
	pb_type(&b, ST_ETH_P_IPV4);
	pb_ipv4(&b, CLIENT4, SERVER4, ST_IPPROTO_UDP, opts40, sizeof(opts40));
	pb_udp(&b, 1, 2);
	pb_fill(&b, 100, 0);
	pb_finish(&b, 1);
	CU_ASSERT_EQUAL(check_cut(b.b, 17, b.len, 1, &p), -ST_PKT_ERR_SPLIT_HEADER);
	CU_ASSERT_EQUAL(p.vlan_count, 0);
	CU_ASSERT_EQUAL(check_cut(b.b, 18 + 20, b.len, 1, &p), -ST_PKT_ERR_SPLIT_HEADER);
	CU_ASSERT_EQUAL(p.l3, ST_L3_IPV4);
	CU_ASSERT_EQUAL(p.vlan_tci[0], 3);
	CU_ASSERT_EQUAL(check_cut(b.b, 18 + 59, b.len, 1, &p), -ST_PKT_ERR_SPLIT_HEADER);
	CU_ASSERT_EQUAL(check_cut(b.b, 18 + 60, b.len, 1, &p), -ST_PKT_ERR_SPLIT_HEADER);
	CU_ASSERT_EQUAL(check_cut(b.b, 18 + 68, b.len, 1, &p), 0);
	CU_ASSERT_EQUAL(p.dport, 2);
	CU_ASSERT(p.flags & ST_PKT_F_IP_OPTS);

	/* lengths against the frame: total length past it, UDP length past
	 * the IP payload, the frame shorter than a header */
	build_v4_udp(&b, 100);
	CU_ASSERT_EQUAL(check_cut(b.b, 42, b.len - 1, 1, &p), -ST_PKT_ERR_TRUNCATED_IP);
	pb_put16(&b, 34 + 4, 109);
	CU_ASSERT_EQUAL(check_cut(b.b, 42, b.len, 1, &p), -ST_PKT_ERR_BAD_UDP_LEN);
	CU_ASSERT_EQUAL(check_cut(b.b, 20, 30, 1, &p), -ST_PKT_ERR_TRUNCATED_IP);
	CU_ASSERT_EQUAL(check_cut(b.b, 10, 30, 1, &p), -ST_PKT_ERR_SPLIT_HEADER);
	CU_ASSERT_EQUAL(check_cut(b.b, 10, 13, 1, &p), -ST_PKT_ERR_TRUNCATED_L2);
	CU_ASSERT_EQUAL(check_cut(b.b, 0, 0, 1, &p), -ST_PKT_ERR_TRUNCATED_L2);
	CU_ASSERT_EQUAL(check_cut(b.b, 0, 14, 1, &p), -ST_PKT_ERR_SPLIT_HEADER);
	CU_ASSERT_EQUAL(check_cut(b.b + 14, 0, 0, 0, &p), -ST_PKT_ERR_TRUNCATED_IP);
	CU_ASSERT_EQUAL(check_cut(b.b + 14, 0, 1, 0, &p), -ST_PKT_ERR_SPLIT_HEADER);
	CU_ASSERT_STRING_EQUAL(st_pkt_err_str(p.err), "split_header");
}

/* The quote in an ICMP error is cut short by design: cut by the segment,
 * the outer packet still parses and the quote says why it is unusable. */
static void t_seg_icmp_quote(void)
{
	struct pb o, b;
	struct st_pkt p;

	build_v4_tcp(&o, syn_opts, sizeof(syn_opts), 100);
	build_icmp4_err(&b, 3, 4, o.b + 14, 48);
	CU_ASSERT_EQUAL(check_cut(b.b, 41, b.len, 1, &p), -ST_PKT_ERR_SPLIT_HEADER);
	for (uint32_t have = 42; have < 42 + 24; have++) {
		CU_ASSERT_EQUAL(check_cut(b.b, have, b.len, 1, &p), 0);
		CU_ASSERT(p.flags & ST_PKT_F_ICMP_ERR);
		CU_ASSERT_EQUAL(p.icmp.type, 3);
		CU_ASSERT_EQUAL(p.icmp.inner.err, ST_PKT_ERR_SPLIT_HEADER);
		CU_ASSERT(!(p.icmp.inner.flags & ST_PKT_F_PORTS));
	}
	CU_ASSERT_EQUAL(check_cut(b.b, 42 + 24, b.len, 1, &p), 0);
	CU_ASSERT_EQUAL(p.icmp.inner.err, ST_PKT_OK);
	CU_ASSERT_EQUAL(p.icmp.inner.dport, 80);
	/* a quote the frame cuts short is truncated, wherever the segment
	 * ends */
	build_icmp4_err(&b, 3, 4, o.b + 14, 10);
	CU_ASSERT_EQUAL(check_cut(b.b, 45, b.len, 1, &p), 0);
	CU_ASSERT_EQUAL(p.icmp.inner.err, ST_PKT_ERR_TRUNCATED_IP);
}

/* Valid packets for the truncation and mutation tests. */
static size_t build_corpus(struct pb *set, size_t max)
{
	size_t n = 0;

	build_v4_tcp(&set[n++], syn_opts, sizeof(syn_opts), 12);
	build_v4_udp(&set[n++], 9);
	build_v6_tcp(&set[n++], 3);
	build_v6_n_ext(&set[n++], 3);
	pb_init(&set[n]);
	pb_eth(&set[n]);
	pb_vlan(&set[n], ST_ETH_P_8021AD, 5);
	pb_vlan(&set[n], ST_ETH_P_8021Q, 6);
	pb_type(&set[n], ST_ETH_P_IPV6);
	pb_ipv6(&set[n], client6, server6, 0);
	pb_v6ext(&set[n], 51, 8);
	pb_v6ah(&set[n], ST_IPPROTO_UDP);
	pb_udp(&set[n], 1, 2);
	pb_finish(&set[n++], 1);
	build_icmp4_err(&set[n++], 3, 3, set[0].b + 14, 48);
	pb_init(&set[n]);
	pb_eth(&set[n]);
	pb_vlan(&set[n], ST_ETH_P_8021Q, 7);
	pb_type(&set[n], ST_ETH_P_IPV4);
	pb_ipv4(&set[n], CLIENT4, SERVER4, ST_IPPROTO_UDP,
		(const uint8_t *)"\x01\x01\x01\x00", 4);
	pb_udp(&set[n], 9, 10);
	pb_finish(&set[n++], 1);
	CU_ASSERT(n <= max);
	return n;
}

static void t_truncation(void)
{
	static struct pb set[16];
	size_t n = build_corpus(set, 16);
	struct st_pkt p, full;

	for (size_t i = 0; i < n; i++) {
		CU_ASSERT_EQUAL_FATAL(parse(&set[i], &full), 0);
		for (uint32_t len = 0; len < set[i].len; len++) {
			int rc = parse_n(set[i].b, len, 1, &p);
			int want = len < 14 ? ST_PKT_ERR_TRUNCATED_L2 :
				   len < full.l2_len ? ST_PKT_ERR_TRUNCATED_VLAN :
				   ST_PKT_ERR_TRUNCATED_IP;

			CU_ASSERT_EQUAL(rc, -want);
			if (len >= full.l2_len + (full.l3 == 4 ? 20u : 40u))
				CU_ASSERT_EQUAL(p.l3, full.l3);
			/* and from the IP header on */
			if (len >= full.l2_len) {
				rc = parse_n(set[i].b + full.l2_len,
					     len - full.l2_len, 0, &p);
				CU_ASSERT_EQUAL(rc, -ST_PKT_ERR_TRUNCATED_IP);
			}
		}
	}
}

/* Every valid packet cut after every byte: split_header while any header
 * (the first 4 bytes of an ICMP quote's L4 header included) lies past the
 * cut, the whole frame's view from the end of the headers on. */
static void t_seg_every_cut(void)
{
	static struct pb set[20];
	size_t n = build_corpus(set, 16);
	struct st_pkt p, whole;

	build_v4_udp(&set[n++], 3000 - 42);
	build_v6_tcp(&set[n++], 3000 - 94);
	build_v4_udp(&set[n], 1000);
	pb_put16(&set[n++], 14 + 6, 0x00b9);
	for (size_t i = 0; i < n; i++) {
		const struct pb *s = &set[i];
		uint32_t hend, qend = 0;

		CU_ASSERT_EQUAL_FATAL(parse(s, &whole), 0);
		hend = (whole.flags & ST_PKT_F_L4) ? whole.payload_off :
		       whole.l4_off;
		if (whole.flags & ST_PKT_F_ICMP_ERR) {
			CU_ASSERT_EQUAL_FATAL(whole.icmp.inner.l3, ST_L3_IPV4);
			qend = whole.icmp.inner.l3_off + 20u + 4u;
		}
		for (uint32_t have = 0; have <= s->len; have++) {
			int rc = check_cut(s->b, have, s->len, 1, &p);

			CU_ASSERT_EQUAL(rc, have < hend ? -ST_PKT_ERR_SPLIT_HEADER : 0);
			if (rc == 0 && (whole.flags & ST_PKT_F_ICMP_ERR))
				CU_ASSERT_EQUAL(p.icmp.inner.err,
						have < qend ? ST_PKT_ERR_SPLIT_HEADER :
						ST_PKT_OK);
			if (have >= whole.l2_len)
				check_cut(s->b + whole.l2_len, have - whole.l2_len,
					  s->len - whole.l2_len, 0, &p);
		}
	}
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	return st_cu_rnd(&rng_state);
}

/* Valid packets with a few bytes changed, mostly in the headers, and any
 * length: whatever comes out must be a consistent view. */
static void t_mutations(void)
{
	static struct pb set[16];
	size_t n = build_corpus(set, 16);
	uint8_t buf[256];
	struct st_pkt p;
	int ok = 0;

	for (int iter = 0; iter < 100000; iter++) {
		const struct pb *s = &set[rnd() % n];
		uint32_t len = s->len;
		int flips = 1 + (int)(rnd() % 4);

		memcpy(buf, s->b, len);
		for (int f = 0; f < flips; f++) {
			uint32_t at = rnd() % (len < 100 ? len : 100);

			buf[at] = rnd() % 3 ? (uint8_t)rnd() : buf[at] ^ (uint8_t)(1u << (rnd() % 8));
		}
		if (rnd() % 4 == 0)
			len = rnd() % (uint32_t)sizeof(buf);
		ok += parse_n(buf, len, 1, &p) == 0;
		parse_n(buf + 14, len > 14 ? len - 14 : 0, 0, &p);
		/* and with the frame cut into a first segment and the rest */
		check_cut(buf, rnd() % (len + 1), len, 1, &p);
	}
	/* both outcomes happen */
	CU_ASSERT(ok > 1000 && ok < 99000);
}

static void t_err_str(void)
{
	for (int e = 0; e < ST_PKT_ERR_COUNT; e++) {
		const char *s = st_pkt_err_str(e);

		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		CU_ASSERT(strcmp(s, "unknown") != 0);
		CU_ASSERT(strlen(s) > 1 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(s));
		CU_ASSERT_PTR_EQUAL(st_pkt_err_str(-e), s);
		for (int f = 0; f < e; f++)
			CU_ASSERT(strcmp(s, st_pkt_err_str(f)) != 0);
	}
	CU_ASSERT_STRING_EQUAL(st_pkt_err_str(ST_PKT_ERR_COUNT), "unknown");
	CU_ASSERT_STRING_EQUAL(st_pkt_err_str(-ST_PKT_ERR_COUNT), "unknown");
	CU_ASSERT_STRING_EQUAL(st_pkt_err_str(-2147483647 - 1), "unknown");
	CU_ASSERT_STRING_EQUAL(st_pkt_err_str(-ST_PKT_ERR_BAD_IHL), "bad_ihl");
	/* added last: counter arrays indexed by the enum keep their slots */
	CU_ASSERT_EQUAL(ST_PKT_ERR_SPLIT_HEADER, ST_PKT_ERR_COUNT - 1);
	CU_ASSERT_STRING_EQUAL(st_pkt_err_str(-ST_PKT_ERR_SPLIT_HEADER), "split_header");
	/* the view stays two cache lines */
	CU_ASSERT(sizeof(struct st_pkt) <= 128);
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "eth_ipv4_tcp", t_eth_ipv4_tcp },
		{ "eth_ipv4_udp_padding", t_eth_ipv4_udp_padding },
		{ "vlan_qinq", t_vlan },
		{ "non_ip", t_non_ip },
		{ "ipv4_options", t_ipv4_options },
		{ "ipv4_frag", t_ipv4_frag },
		{ "ipv6_tcp", t_ipv6_tcp },
		{ "ipv6_ext_chain", t_ipv6_ext_chain },
		{ "ipv6_ext_limits", t_ipv6_ext_limits },
		{ "ipv6_frag", t_ipv6_frag },
		{ "tcp_sack_ts", t_tcp_sack_ts },
		{ "tcp_bad_options", t_tcp_bad_options },
		{ "l4_malformed", t_l4_malformed },
		{ "ip_malformed", t_ip_malformed },
		{ "icmp_echo", t_icmp_echo },
		{ "icmp_err_v4", t_icmp_err_v4 },
		{ "icmp_err_v6", t_icmp_err_v6 },
		{ "icmp_err_bad_inner", t_icmp_err_bad_inner },
		{ "parse_l3", t_parse_l3 },
		{ "truncation", t_truncation },
		{ "seg_jumbo", t_seg_jumbo },
		{ "seg_split", t_seg_split },
		{ "seg_icmp_quote", t_seg_icmp_quote },
		{ "seg_every_cut", t_seg_every_cut },
		{ "mutations", t_mutations },
		{ "err_str", t_err_str },
		{ NULL, NULL },
	};

	return st_cu_add_suite("packet", NULL, NULL, tests);
}
