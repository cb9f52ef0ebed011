/* Fuzzes the packet parser from Ethernet and from L3, then reads every
 * byte range the view reports (so ASan flags a wrong offset, not just a
 * wrong read inside the parser), checks the view's invariants, builds flow
 * keys both ways round, checks the shortcut flow hash against the full
 * parse and CRC32-C hardware against software. Each input is parsed again
 * as a multi-segment frame whose first segment (a heap copy of its own, so
 * ASan flags a read past it) ends where the input's first two bytes say. */
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "csum.h"
#include "flow.h"
#include "fuzz.h"
#include "packet.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static volatile uint32_t sink;

static void touch(const uint8_t *d, size_t size, uint32_t off, uint32_t len)
{
	uint32_t s = 0;

	CHECK((size_t)off + len <= size);
	for (uint32_t i = 0; i < len; i++)
		s += d[off + i];
	sink += s;
}

static void check_keys(const struct st_pkt *p)
{
	struct st_flow_key k, r;
	bool ports = p->flags & ST_PKT_F_PORTS, sk, sr;
	uint16_t sp = ports ? p->sport : 0, dp = ports ? p->dport : 0;

	CHECK(st_flow_key_from_pkt(p, &k, &sk) == 0);
	/* the reverse direction gives the same key and hash */
	st_flow_key_set(&r, p->l3, p->proto, k.vlan, &p->dst, dp, &p->src, sp,
			&sr);
	CHECK(st_flow_key_eq(&k, &r));
	CHECK(st_flow_hash(&k) == st_flow_hash(&r));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	CHECK(st_flow_hash(&k) == st_crc32c_sw(ST_FLOW_HASH_SEED, &k, sizeof(k)));
#endif
	if (memcmp(&p->src, &p->dst, sizeof(p->src)) != 0 || sp != dp)
		CHECK(sk != sr);
	CHECK(k.family == p->l3);
	CHECK(k.vlan < 4096);
}

static void check_frag(const struct st_pkt *p)
{
	CHECK(p->frag_off % 8 == 0 && p->frag_more <= 1);
	if (!(p->flags & ST_PKT_F_FRAG))
		CHECK(p->frag_id == 0 && p->frag_off == 0 && p->frag_more == 0);
	else
		CHECK(p->l3 == ST_L3_IPV6 || p->frag_id <= 0xffff);
}

static void check_view(const uint8_t *d, size_t size, const struct st_pkt *p,
		       int rc)
{
	uint32_t len = size > ST_PKT_MAX_LEN ? ST_PKT_MAX_LEN : (uint32_t)size;
	uint32_t end;

	CHECK(rc == -(int)p->err);
	CHECK(p->err < ST_PKT_ERR_COUNT);
	CHECK(rc != -ST_PKT_ERR_SPLIT_HEADER);
	CHECK(strcmp(st_pkt_err_str(rc), "unknown") != 0);
	check_frag(p);
	CHECK(p->l3_off == p->l2_len && p->l2_len <= len);
	CHECK(p->vlan_count <= ST_PKT_MAX_VLANS);
	touch(d, len, 0, p->l2_len);
	touch(d, len, p->payload_off, p->payload_len);
	if (p->l3 != ST_L3_NONE)
		check_keys(p);
	else
		CHECK(st_flow_key_from_pkt(p, &(struct st_flow_key){ 0 }, NULL) < 0);
	if (rc != 0 || p->l3 == ST_L3_NONE)
		return;

	end = (uint32_t)p->l3_off + p->l3_len;
	CHECK(end <= len);
	CHECK(p->l4_off == p->l3_off + p->l3_hlen && p->l4_off <= end);
	CHECK(p->payload_off >= p->l4_off &&
	      (uint32_t)p->payload_off + p->payload_len <= end);
	touch(d, len, p->l3_off, p->l3_len);
	if (p->l3 == ST_L3_IPV4)
		sink += st_csum_ipv4_ok(d + p->l3_off);
	sink += st_csum_l4_ok(d, p);
	if (!(p->flags & ST_PKT_F_L4))
		return;
	if (p->proto == ST_IPPROTO_TCP) {
		uint32_t oe = (uint32_t)p->l4_off + p->tcp.hlen;

		CHECK(p->tcp.hlen >= 20 && oe <= end);
		if (p->tcp.opts & ST_TCPOPT_F_TS) {
			CHECK(p->tcp.ts_off >= p->l4_off + 20 &&
			      p->tcp.ts_off + 10u <= oe);
			CHECK(d[p->tcp.ts_off] == 8 && d[p->tcp.ts_off + 1] == 10);
		}
		if (p->tcp.opts & ST_TCPOPT_F_SACK) {
			uint32_t sl = 2u + 8u * p->tcp.sack_count;

			CHECK(p->tcp.sack_count >= 1 && p->tcp.sack_count <= 4);
			CHECK(p->tcp.sack_off >= p->l4_off + 20 &&
			      p->tcp.sack_off + sl <= oe);
			CHECK(d[p->tcp.sack_off] == 5 && d[p->tcp.sack_off + 1] == sl);
		}
	}
	if (p->flags & ST_PKT_F_ICMP_ERR) {
		struct st_flow_key k;
		const struct st_pkt_inner *in = &p->icmp.inner;
		int krc = st_flow_key_from_icmp_inner(p, &k, NULL);

		CHECK(in->l3_off == p->payload_off && in->l3_off <= end);
		CHECK(in->err < ST_PKT_ERR_COUNT);
		CHECK((krc == 0) == (in->err == ST_PKT_OK));
		if (krc == 0)
			sink += st_flow_hash(&k);
	}
}

/* The shortcut takes exactly the IPv4 TCP/UDP frames the full parse
 * accepts, or refuses only for their TCP options, and reads the same key,
 * hash, direction, ports, flags, L4 header length and payload length. */
static void check_fast(const uint8_t *d, uint32_t len, const struct st_pkt *p, int rc)
{
	bool want = p->l3 == ST_L3_IPV4 && (p->flags & ST_PKT_F_PORTS) &&
		    !(p->flags & ST_PKT_F_FRAG) &&
		    (p->proto == ST_IPPROTO_TCP || p->proto == ST_IPPROTO_UDP) &&
		    (rc == 0 || p->err == ST_PKT_ERR_BAD_TCP_OPTION);
	struct st_flow_lite f;
	struct st_flow_key k, fk;
	bool sk;
	int frc = st_flow_frame(d, len, &fk, &f);

	CHECK((frc == 0) == want);
	if (!want)
		return;
	CHECK(st_flow_key_from_pkt(p, &k, &sk) == 0);
	CHECK(st_flow_key_eq(&k, &fk));
	CHECK(f.hash == st_flow_hash(&k));
	CHECK(f.swapped == sk && f.proto == p->proto);
	CHECK(f.sport == p->sport && f.dport == p->dport);
	/* What the tee relies on to copy a frame without the full parse
	 * (dataplane/mirror.c): only a TCP segment with options can be taken
	 * here and refused there. */
	CHECK(rc == 0 || (p->proto == ST_IPPROTO_TCP && f.l4_hlen > 20));
	if (rc == 0) {
		CHECK(f.payload_len == p->payload_len);
		CHECK(f.tcp_flags == (p->proto == ST_IPPROTO_TCP ? p->tcp.flags : 0));
		CHECK(f.l4_hlen == (p->proto == ST_IPPROTO_TCP ? p->tcp.hlen : 8));
	}
}

/* The frame again with only its first have bytes at hand: split_header,
 * or the whole frame's view (but for an ICMP quote the cut made unusable).
 * Every header the view describes is then read from the copy of the first
 * segment, the payload from the whole input. */
static void check_seg(const uint8_t *d, uint32_t len, uint32_t have, int eth,
		      const struct st_pkt *whole, int wrc)
{
	uint32_t flen = len > ST_PKT_MAX_LEN ? ST_PKT_MAX_LEN : len;
	uint8_t *seg = malloc(have ? have : 1);
	struct st_pkt p, a, b;
	int rc;

	CHECK(seg != NULL && have <= flen);
	memcpy(seg, d, have);
	rc = eth ? st_pkt_parse_seg(seg, have, len, &p) :
		   st_pkt_parse_l3_seg(seg, have, len, &p);
	CHECK(rc == -(int)p.err && p.err < ST_PKT_ERR_COUNT);
	check_frag(&p);
	if (rc == -ST_PKT_ERR_SPLIT_HEADER) {
		CHECK(have < flen);
		goto out;
	}
	CHECK(rc == wrc);
	a = *whole;
	b = p;
	if ((p.flags & ST_PKT_F_ICMP_ERR) &&
	    p.icmp.inner.err == ST_PKT_ERR_SPLIT_HEADER) {
		CHECK(have < flen);
		memset(&a.icmp.inner, 0, sizeof(a.icmp.inner));
		memset(&b.icmp.inner, 0, sizeof(b.icmp.inner));
	}
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	if (rc != 0)
		goto out;
	touch(seg, have, 0, p.l2_len);
	touch(d, flen, p.payload_off, p.payload_len);
	if (p.l3 == ST_L3_NONE)
		goto out;
	touch(seg, have, p.l3_off, p.l3_hlen);
	if (p.l3 == ST_L3_IPV4)
		sink += st_csum_ipv4_ok(seg + p.l3_off);
	if (!(p.flags & ST_PKT_F_L4))
		goto out;
	touch(seg, have, p.l4_off, p.proto == ST_IPPROTO_TCP ? p.tcp.hlen : 8);
	if (p.proto == ST_IPPROTO_TCP && (p.tcp.opts & ST_TCPOPT_F_TS))
		touch(seg, have, p.tcp.ts_off, 10);
	if (p.proto == ST_IPPROTO_TCP && (p.tcp.opts & ST_TCPOPT_F_SACK))
		touch(seg, have, p.tcp.sack_off, 2u + 8u * p.tcp.sack_count);
out:
	free(seg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t len = (uint32_t)(size > UINT32_MAX ? UINT32_MAX : size);
	uint32_t flen = len > ST_PKT_MAX_LEN ? ST_PKT_MAX_LEN : len;
	/* The destination MAC's first bytes: nothing the parser reads. */
	uint32_t have = size >= 2 ? ((uint32_t)data[0] << 8 | data[1]) % (flen + 1) : 0;
	struct st_pkt p;
	int rc;

	rc = st_pkt_parse(data, len, &p);
	check_view(data, size, &p, rc);
	check_fast(data, len, &p, rc);
	check_seg(data, len, have, 1, &p, rc);
	rc = st_pkt_parse_l3(data, len, &p);
	check_view(data, size, &p, rc);
	check_seg(data, len, have, 0, &p, rc);
	CHECK(st_crc32c(0, data, size) == st_crc32c_sw(0, data, size));
	return 0;
}
