/* Fuzzes the packet parser from Ethernet and from L3, then reads every
 * byte range the view reports (so ASan flags a wrong offset, not just a
 * wrong read inside the parser), checks the view's invariants, builds flow
 * keys both ways round, checks the shortcut flow hash against the full
 * parse and CRC32-C hardware against software. */
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

static void check_view(const uint8_t *d, size_t size, const struct st_pkt *p,
		       int rc)
{
	uint32_t len = size > ST_PKT_MAX_LEN ? ST_PKT_MAX_LEN : (uint32_t)size;
	uint32_t end;

	CHECK(rc == -(int)p->err);
	CHECK(p->err < ST_PKT_ERR_COUNT);
	CHECK(strcmp(st_pkt_err_str(rc), "unknown") != 0);
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
 * hash, direction, ports, flags and payload length. */
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
	if (rc == 0) {
		CHECK(f.payload_len == p->payload_len);
		CHECK(f.tcp_flags == (p->proto == ST_IPPROTO_TCP ? p->tcp.flags : 0));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_pkt p;
	int rc;

	rc = st_pkt_parse(data, (uint32_t)(size > UINT32_MAX ? UINT32_MAX : size), &p);
	check_view(data, size, &p, rc);
	check_fast(data, (uint32_t)(size > UINT32_MAX ? UINT32_MAX : size), &p, rc);
	rc = st_pkt_parse_l3(data, (uint32_t)(size > UINT32_MAX ? UINT32_MAX : size), &p);
	check_view(data, size, &p, rc);
	CHECK(st_crc32c(0, data, size) == st_crc32c_sw(0, data, size));
	return 0;
}
