/* Packet parser. Every read is preceded by a check of the bytes left, done
 * as `need > end - off` with off <= end, so no addition can wrap.
 *
 * Two lengths run through it: `len`, the frame's, which the length fields
 * are checked against, and `have`, the bytes at buf (have <= len). Each
 * function reads only below rend = min(its end, have), with off <= rend;
 * when a read check fails, short_err() tells a header missing from the
 * frame from one left in a later segment. st_pkt_parse() is the inlined
 * core with have == len. */
#include <string.h>

#include "packet.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
/* The per-packet path is a handful of small functions: inlined, the
 * common case is one straight run with no calls. */
#define HOT static inline __attribute__((always_inline))

#define ETH_HLEN 14
#define VLAN_HLEN 4
#define IPV4_HLEN 20
#define IPV6_HLEN 40
#define TCP_HLEN 20
#define UDP_HLEN 8
#define ICMP_HLEN 8

/* IPv6 extension headers that use the common (next header, length) layout
 * or the two special ones (fragment, AH). */
#define NH_HOPOPTS 0
#define NH_ROUTING 43
#define NH_FRAGMENT 44
#define NH_AH 51
#define NH_DSTOPTS 60
#define NH_MOBILITY 135
#define NH_HIP 139
#define NH_SHIM6 140

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOPT_WSCALE 3
#define TCPOPT_SACK_PERM 4
#define TCPOPT_SACK 5
#define TCPOPT_TS 8

static const char *const err_names[ST_PKT_ERR_COUNT] = {
	[ST_PKT_OK] = "ok",
	[ST_PKT_ERR_TRUNCATED_L2] = "truncated_l2",
	[ST_PKT_ERR_TRUNCATED_VLAN] = "truncated_vlan",
	[ST_PKT_ERR_TOO_MANY_VLANS] = "too_many_vlans",
	[ST_PKT_ERR_TRUNCATED_IP] = "truncated_ip",
	[ST_PKT_ERR_BAD_IP_VERSION] = "bad_ip_version",
	[ST_PKT_ERR_BAD_IHL] = "bad_ihl",
	[ST_PKT_ERR_BAD_IP_LEN] = "bad_ip_len",
	[ST_PKT_ERR_TRUNCATED_IPV6_EXT] = "truncated_ipv6_ext",
	[ST_PKT_ERR_BAD_IPV6_EXT] = "bad_ipv6_ext",
	[ST_PKT_ERR_TRUNCATED_L4] = "truncated_l4",
	[ST_PKT_ERR_BAD_TCP_DOFF] = "bad_tcp_doff",
	[ST_PKT_ERR_BAD_TCP_OPTION] = "bad_tcp_option",
	[ST_PKT_ERR_BAD_UDP_LEN] = "bad_udp_len",
	[ST_PKT_ERR_SPLIT_HEADER] = "split_header",
};

const char *st_pkt_err_str(int err)
{
	if (err < 0 && err > -ST_PKT_ERR_COUNT)
		err = -err;
	if (err < 0 || err >= ST_PKT_ERR_COUNT)
		return "unknown";
	return err_names[err];
}

static inline uint16_t rd16(const uint8_t *b)
{
	return (uint16_t)((uint16_t)b[0] << 8 | b[1]);
}

static inline uint32_t rd32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

static inline int fail(struct st_pkt *p, enum st_pkt_err e)
{
	p->err = (uint8_t)e;
	return -(int)e;
}

static inline uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* The n bytes at off are not all below min(end, have): past end they are
 * missing (trunc), otherwise they are in a later segment. off <= end. */
static inline enum st_pkt_err short_err(uint32_t n, uint32_t off, uint32_t end,
					enum st_pkt_err trunc)
{
	return n > end - off ? trunc : ST_PKT_ERR_SPLIT_HEADER;
}

/* memset() of the view compiles to `rep stosq` under GCC's generic
 * tuning, whose start-up cost (tens of cycles) was a third of the parse;
 * fixed 8-byte stores become a few vector stores. */
HOT void pkt_zero(struct st_pkt *p)
{
	uint8_t *b = (uint8_t *)p;
	const uint64_t z = 0;

	_Static_assert(sizeof(*p) >= 8 && sizeof(*p) <= 128,
		       "extend pkt_zero");
#define ZERO8_AT(o) \
	do { if ((o) + 8 <= sizeof(*p)) memcpy(b + (o), &z, 8); } while (0)
	ZERO8_AT(0); ZERO8_AT(8); ZERO8_AT(16); ZERO8_AT(24);
	ZERO8_AT(32); ZERO8_AT(40); ZERO8_AT(48); ZERO8_AT(56);
	ZERO8_AT(64); ZERO8_AT(72); ZERO8_AT(80); ZERO8_AT(88);
	ZERO8_AT(96); ZERO8_AT(104); ZERO8_AT(112); ZERO8_AT(120);
#undef ZERO8_AT
	memcpy(b + sizeof(*p) - 8, &z, 8);
}

static inline int is_vlan_tpid(uint16_t et)
{
	return et == ST_ETH_P_8021Q || et == ST_ETH_P_8021AD ||
	       et == ST_ETH_P_QINQ_9100;
}

/* Walks the extension headers from buf[*off] (of type *nh) up to end,
 * reading below have. On return *off is the upper-layer header and *nh its
 * type. A fragment header that marks a real fragment ends the walk, with
 * *off just past it: what follows is the fragment's data, not headers. An
 * atomic fragment (offset 0, no M flag, RFC 6946) is walked past like any
 * other header. Each header must lie wholly below have, so that l4_off
 * does too, though only its first bytes are read. */
static int v6_ext_walk(const uint8_t *buf, uint32_t end, uint32_t have,
		       uint32_t *offp, uint8_t *nhp, uint8_t *flags)
{
	uint32_t off = *offp, hl, rend = min_u32(end, have);
	uint8_t nh = *nhp;
	unsigned int n;

	for (n = 0;; n++) {
		/* RFC 8200: hop-by-hop only directly after the IPv6 header. */
		if (nh == NH_HOPOPTS && n != 0)
			return -ST_PKT_ERR_BAD_IPV6_EXT;
		switch (nh) {
		case NH_HOPOPTS:
		case NH_ROUTING:
		case NH_DSTOPTS:
		case NH_MOBILITY:
		case NH_HIP:
		case NH_SHIM6:
		case NH_FRAGMENT:
		case NH_AH:
			break;
		default:
			*offp = off;
			*nhp = nh;
			return 0;
		}
		if (n >= ST_PKT_MAX_V6_EXT)
			return -ST_PKT_ERR_BAD_IPV6_EXT;
		if (8 > rend - off)
			return -(int)short_err(8, off, end,
					       ST_PKT_ERR_TRUNCATED_IPV6_EXT);
		*flags |= ST_PKT_F_V6_EXT;
		if (nh == NH_FRAGMENT) {
			/* offset (13 bits) << 3 | res (2) | M (1) */
			if (rd16(buf + off + 2) & 0xfff9) {
				*flags |= ST_PKT_F_FRAG;
				*offp = off + 8;
				*nhp = buf[off];
				return 0;
			}
			hl = 8;
		} else if (nh == NH_AH) {
			hl = ((uint32_t)buf[off + 1] + 2) * 4;
		} else {
			hl = ((uint32_t)buf[off + 1] + 1) * 8;
		}
		if (hl > rend - off)
			return -(int)short_err(hl, off, end,
					       ST_PKT_ERR_TRUNCATED_IPV6_EXT);
		nh = buf[off];
		off += hl;
	}
}

static int parse_tcp_opts(const uint8_t *buf, uint32_t off, uint32_t end,
			  struct st_pkt_tcp *t)
{
	while (off < end) {
		uint8_t kind = buf[off], ol;

		if (kind == TCPOPT_EOL)
			break;
		if (kind == TCPOPT_NOP) {
			off++;
			continue;
		}
		if (2 > end - off)
			return -ST_PKT_ERR_BAD_TCP_OPTION;
		ol = buf[off + 1];
		if (ol < 2 || ol > end - off)
			return -ST_PKT_ERR_BAD_TCP_OPTION;
		/* A known option with the wrong length is an error rather than
		 * skipped: the dataplane rewrites timestamps and SACK blocks in
		 * place and must not guess their layout. */
		switch (kind) {
		case TCPOPT_MSS:
			if (ol != 4)
				return -ST_PKT_ERR_BAD_TCP_OPTION;
			t->mss = rd16(buf + off + 2);
			t->opts |= ST_TCPOPT_F_MSS;
			break;
		case TCPOPT_WSCALE:
			if (ol != 3)
				return -ST_PKT_ERR_BAD_TCP_OPTION;
			t->wscale = buf[off + 2];
			t->opts |= ST_TCPOPT_F_WSCALE;
			break;
		case TCPOPT_SACK_PERM:
			if (ol != 2)
				return -ST_PKT_ERR_BAD_TCP_OPTION;
			t->opts |= ST_TCPOPT_F_SACK_PERM;
			break;
		case TCPOPT_SACK:
			if (ol < 10 || (ol - 2) % 8 != 0 ||
			    ol > 2 + 8 * ST_PKT_MAX_SACK)
				return -ST_PKT_ERR_BAD_TCP_OPTION;
			t->sack_off = (uint16_t)off;
			t->sack_count = (uint8_t)((ol - 2) / 8);
			t->opts |= ST_TCPOPT_F_SACK;
			break;
		case TCPOPT_TS:
			if (ol != 10)
				return -ST_PKT_ERR_BAD_TCP_OPTION;
			t->ts_off = (uint16_t)off;
			t->tsval = rd32(buf + off + 2);
			t->tsecr = rd32(buf + off + 6);
			t->opts |= ST_TCPOPT_F_TS;
			break;
		default:
			break;
		}
		off += ol;
	}
	return 0;
}

static inline int is_icmp_error(uint8_t proto, uint8_t type)
{
	if (proto == ST_IPPROTO_ICMP)
		/* unreachable, source quench, redirect, time exceeded,
		 * parameter problem */
		return type == 3 || type == 4 || type == 5 || type == 11 ||
		       type == 12;
	/* unreachable, too big, time exceeded, parameter problem */
	return type >= 1 && type <= 4;
}

/* The quoted packet is cut short by design (RFC 792: IP header + 8 bytes;
 * RFC 4443: as much as fits in 1280), so its length fields are not checked
 * against what is there; only the bytes actually read are. */
static void parse_inner(const uint8_t *buf, uint32_t off, uint32_t end,
			uint32_t have, struct st_pkt_inner *in)
{
	uint32_t l4, hlen, rend = min_u32(end, have);
	uint8_t proto;
	int rc;

	in->l3_off = (uint16_t)off;
	if (1 > rend - off) {
		in->err = (uint8_t)short_err(1, off, end, ST_PKT_ERR_TRUNCATED_IP);
		return;
	}
	switch (buf[off] >> 4) {
	case 4:
		if (IPV4_HLEN > rend - off) {
			in->err = (uint8_t)short_err(IPV4_HLEN, off, end,
						     ST_PKT_ERR_TRUNCATED_IP);
			return;
		}
		proto = buf[off + 9];
		memcpy(&in->src.v4, buf + off + 12, 4);
		memcpy(&in->dst.v4, buf + off + 16, 4);
		in->l3 = ST_L3_IPV4;
		in->proto = proto;
		hlen = (uint32_t)(buf[off] & 0x0f) * 4;
		if (hlen < IPV4_HLEN) {
			in->err = ST_PKT_ERR_BAD_IHL;
			return;
		}
		if (hlen > rend - off) {
			in->err = (uint8_t)short_err(hlen, off, end,
						     ST_PKT_ERR_TRUNCATED_IP);
			return;
		}
		if (rd16(buf + off + 6) & 0x3fff)
			in->flags |= ST_PKT_F_FRAG;
		l4 = off + hlen;
		break;
	case 6: {
		uint8_t f = 0;

		if (IPV6_HLEN > rend - off) {
			in->err = (uint8_t)short_err(IPV6_HLEN, off, end,
						     ST_PKT_ERR_TRUNCATED_IP);
			return;
		}
		proto = buf[off + 6];
		memcpy(in->src.a8, buf + off + 8, 16);
		memcpy(in->dst.a8, buf + off + 24, 16);
		in->l3 = ST_L3_IPV6;
		in->proto = proto;
		l4 = off + IPV6_HLEN;
		rc = v6_ext_walk(buf, end, have, &l4, &proto, &f);
		in->proto = proto;
		in->flags |= f & ST_PKT_F_FRAG;
		if (rc < 0) {
			in->err = (uint8_t)-rc;
			return;
		}
		break;
	}
	default:
		in->err = ST_PKT_ERR_BAD_IP_VERSION;
		return;
	}
	if (in->flags & ST_PKT_F_FRAG)
		return;
	if (proto == ST_IPPROTO_TCP || proto == ST_IPPROTO_UDP) {
		/* Only the ports are needed to find the flow. */
		if (4 > rend - l4) {
			in->err = (uint8_t)short_err(4, l4, end,
						     ST_PKT_ERR_TRUNCATED_L4);
			return;
		}
		in->sport = rd16(buf + l4);
		in->dport = rd16(buf + l4 + 2);
		in->flags |= ST_PKT_F_PORTS;
	}
}

/* L4 from buf[off] to end (the L3 end), reading below have. */
HOT int parse_l4(const uint8_t *buf, uint32_t off, uint32_t end,
		 uint32_t have, struct st_pkt *p)
{
	uint32_t hlen, rend = min_u32(end, have);
	int rc;

	switch (p->proto) {
	case ST_IPPROTO_TCP:
		if (unlikely(TCP_HLEN > rend - off))
			return fail(p, short_err(TCP_HLEN, off, end,
						 ST_PKT_ERR_TRUNCATED_L4));
		p->sport = rd16(buf + off);
		p->dport = rd16(buf + off + 2);
		p->flags |= ST_PKT_F_PORTS;
		p->tcp.seq = rd32(buf + off + 4);
		p->tcp.ack = rd32(buf + off + 8);
		p->tcp.flags = buf[off + 13];
		p->tcp.win = rd16(buf + off + 14);
		hlen = (uint32_t)(buf[off + 12] >> 4) * 4;
		if (unlikely(hlen < TCP_HLEN || hlen > end - off))
			return fail(p, ST_PKT_ERR_BAD_TCP_DOFF);
		p->tcp.hlen = (uint8_t)hlen;
		if (hlen > TCP_HLEN) {
			/* Options are rewritten in place: all of them must be
			 * in the first segment, not just the ones read. */
			if (unlikely(hlen > rend - off))
				return fail(p, ST_PKT_ERR_SPLIT_HEADER);
			rc = parse_tcp_opts(buf, off + TCP_HLEN, off + hlen,
					    &p->tcp);
			if (unlikely(rc < 0))
				return fail(p, (enum st_pkt_err)-rc);
		}
		p->payload_off = (uint16_t)(off + hlen);
		p->payload_len = (uint16_t)(end - off - hlen);
		break;
	case ST_IPPROTO_UDP:
		if (unlikely(UDP_HLEN > rend - off))
			return fail(p, short_err(UDP_HLEN, off, end,
						 ST_PKT_ERR_TRUNCATED_L4));
		p->sport = rd16(buf + off);
		p->dport = rd16(buf + off + 2);
		p->flags |= ST_PKT_F_PORTS;
		hlen = rd16(buf + off + 4);
		/* Shorter than the IP payload is legal (trailing bytes are
		 * ignored, as Linux does); longer is not. */
		if (unlikely(hlen < UDP_HLEN || hlen > end - off))
			return fail(p, ST_PKT_ERR_BAD_UDP_LEN);
		p->payload_off = (uint16_t)(off + UDP_HLEN);
		p->payload_len = (uint16_t)(hlen - UDP_HLEN);
		break;
	case ST_IPPROTO_ICMP:
	case ST_IPPROTO_ICMPV6:
		if (unlikely(ICMP_HLEN > rend - off))
			return fail(p, short_err(ICMP_HLEN, off, end,
						 ST_PKT_ERR_TRUNCATED_L4));
		p->icmp.type = buf[off];
		p->icmp.code = buf[off + 1];
		p->payload_off = (uint16_t)(off + ICMP_HLEN);
		p->payload_len = (uint16_t)(end - off - ICMP_HLEN);
		if (is_icmp_error(p->proto, p->icmp.type)) {
			p->flags |= ST_PKT_F_ICMP_ERR;
			parse_inner(buf, off + ICMP_HLEN, end, have,
				    &p->icmp.inner);
		}
		break;
	default:
		return 0;
	}
	p->flags |= ST_PKT_F_L4;
	return 0;
}

HOT int parse_ipv4(const uint8_t *buf, uint32_t off, uint32_t have,
		   uint32_t len, struct st_pkt *p)
{
	uint32_t hlen, tot, end, fo;

	if (unlikely(IPV4_HLEN > have - off))
		return fail(p, short_err(IPV4_HLEN, off, len,
					 ST_PKT_ERR_TRUNCATED_IP));
	if (unlikely(buf[off] >> 4 != 4))
		return fail(p, ST_PKT_ERR_BAD_IP_VERSION);
	p->l3 = ST_L3_IPV4;
	p->ttl = buf[off + 8];
	p->proto = buf[off + 9];
	memcpy(&p->src.v4, buf + off + 12, 4);
	memcpy(&p->dst.v4, buf + off + 16, 4);
	hlen = (uint32_t)(buf[off] & 0x0f) * 4;
	tot = rd16(buf + off + 2);
	if (unlikely(hlen < IPV4_HLEN))
		return fail(p, ST_PKT_ERR_BAD_IHL);
	if (unlikely(tot < IPV4_HLEN))
		return fail(p, ST_PKT_ERR_BAD_IP_LEN);
	if (unlikely(hlen > tot))
		return fail(p, ST_PKT_ERR_BAD_IHL);
	if (unlikely(tot > len - off))
		return fail(p, ST_PKT_ERR_TRUNCATED_IP);
	if (hlen > IPV4_HLEN) {
		/* The options are not read, but the header is checksummed
		 * whole: it must all be in the first segment. */
		if (unlikely(hlen > have - off))
			return fail(p, ST_PKT_ERR_SPLIT_HEADER);
		p->flags |= ST_PKT_F_IP_OPTS;
	}
	end = off + tot;
	p->l3_hlen = (uint16_t)hlen;
	p->l3_len = (uint16_t)tot;
	p->l4_off = (uint16_t)(off + hlen);
	p->payload_off = p->l4_off;
	p->payload_len = (uint16_t)(tot - hlen);
	if (len > end)
		p->flags |= ST_PKT_F_PADDED;
	/* MF or a fragment offset: a later fragment has no L4 header and a
	 * first one must be keyed like the rest, so none is parsed past L3. */
	fo = rd16(buf + off + 6);
	if (unlikely(fo & 0x3fff)) {
		p->flags |= ST_PKT_F_FRAG;
		p->frag_id = rd16(buf + off + 4);
		p->frag_off = (uint16_t)((fo & 0x1fff) << 3);
		p->frag_more = (uint8_t)(fo >> 13 & 1);
		return 0;
	}
	return parse_l4(buf, off + hlen, end, have, p);
}

static int parse_ipv6(const uint8_t *buf, uint32_t off, uint32_t have,
		      uint32_t len, struct st_pkt *p)
{
	uint32_t end, l4;
	uint8_t nh, f = 0;
	int rc;

	if (unlikely(IPV6_HLEN > have - off))
		return fail(p, short_err(IPV6_HLEN, off, len,
					 ST_PKT_ERR_TRUNCATED_IP));
	if (unlikely(buf[off] >> 4 != 6))
		return fail(p, ST_PKT_ERR_BAD_IP_VERSION);
	p->l3 = ST_L3_IPV6;
	nh = buf[off + 6];
	p->proto = nh;
	p->ttl = buf[off + 7];
	memcpy(p->src.a8, buf + off + 8, 16);
	memcpy(p->dst.a8, buf + off + 24, 16);
	/* Payload length 0 with a jumbo option (RFC 2675) is not supported:
	 * it parses as an empty payload and the chain then fails. */
	end = IPV6_HLEN + (uint32_t)rd16(buf + off + 4);
	if (unlikely(end > len - off))
		return fail(p, ST_PKT_ERR_TRUNCATED_IP);
	end += off;
	p->l3_len = (uint16_t)(end - off);
	l4 = off + IPV6_HLEN;
	if (len > end)
		p->flags |= ST_PKT_F_PADDED;
	rc = v6_ext_walk(buf, end, have, &l4, &nh, &f);
	p->flags |= f;
	p->proto = nh;
	if (unlikely(rc < 0))
		return fail(p, (enum st_pkt_err)-rc);
	p->l3_hlen = (uint16_t)(l4 - off);
	p->l4_off = (uint16_t)l4;
	p->payload_off = (uint16_t)l4;
	p->payload_len = (uint16_t)(end - l4);
	if (unlikely(f & ST_PKT_F_FRAG)) {
		/* The walk stopped just past the fragment header: next
		 * header, reserved, offset (13 bits) << 3 | res | M, id. */
		const uint8_t *fh = buf + l4 - 8;
		uint16_t fo = rd16(fh + 2);

		p->frag_id = rd32(fh + 4);
		p->frag_off = (uint16_t)(fo & 0xfff8);
		p->frag_more = (uint8_t)(fo & 1);
		return 0;
	}
	return parse_l4(buf, l4, end, have, p);
}

/* Both Ethernet entry points: inlined into each, so st_pkt_parse's
 * have == len folds away. */
HOT int parse_frame(const uint8_t *buf, uint32_t have, uint32_t len,
		    struct st_pkt *p)
{
	uint32_t off = ETH_HLEN;
	uint16_t et;

	pkt_zero(p);
	if (unlikely(len > ST_PKT_MAX_LEN))
		len = ST_PKT_MAX_LEN;
	if (unlikely(have > len))
		have = len;
	if (unlikely(have < ETH_HLEN))
		return fail(p, short_err(ETH_HLEN, 0, len,
					 ST_PKT_ERR_TRUNCATED_L2));
	et = rd16(buf + 12);
	while (unlikely(is_vlan_tpid(et))) {
		if (p->vlan_count == ST_PKT_MAX_VLANS)
			return fail(p, ST_PKT_ERR_TOO_MANY_VLANS);
		if (VLAN_HLEN > have - off)
			return fail(p, short_err(VLAN_HLEN, off, len,
						 ST_PKT_ERR_TRUNCATED_VLAN));
		p->vlan_tpid[p->vlan_count] = et;
		p->vlan_tci[p->vlan_count] = rd16(buf + off);
		p->vlan_count++;
		et = rd16(buf + off + 2);
		off += VLAN_HLEN;
	}
	p->ethertype = et;
	p->l2_len = (uint16_t)off;
	p->l3_off = (uint16_t)off;
	if (likely(et == ST_ETH_P_IPV4))
		return parse_ipv4(buf, off, have, len, p);
	if (et == ST_ETH_P_IPV6)
		return parse_ipv6(buf, off, have, len, p);
	p->payload_off = (uint16_t)off;
	p->payload_len = (uint16_t)(len - off);
	return 0;
}

int st_pkt_parse(const uint8_t *buf, uint32_t len, struct st_pkt *p)
{
	return parse_frame(buf, len, len, p);
}

int st_pkt_parse_seg(const uint8_t *buf, uint32_t have, uint32_t len,
		     struct st_pkt *p)
{
	return parse_frame(buf, have, len, p);
}

static int parse_l3(const uint8_t *buf, uint32_t have, uint32_t len,
		    struct st_pkt *p)
{
	pkt_zero(p);
	if (unlikely(len > ST_PKT_MAX_LEN))
		len = ST_PKT_MAX_LEN;
	if (unlikely(have > len))
		have = len;
	if (unlikely(have < 1))
		return fail(p, short_err(1, 0, len, ST_PKT_ERR_TRUNCATED_IP));
	switch (buf[0] >> 4) {
	case 4:
		p->ethertype = ST_ETH_P_IPV4;
		return parse_ipv4(buf, 0, have, len, p);
	case 6:
		p->ethertype = ST_ETH_P_IPV6;
		return parse_ipv6(buf, 0, have, len, p);
	default:
		return fail(p, ST_PKT_ERR_BAD_IP_VERSION);
	}
}

int st_pkt_parse_l3(const uint8_t *buf, uint32_t len, struct st_pkt *p)
{
	return parse_l3(buf, len, len, p);
}

int st_pkt_parse_l3_seg(const uint8_t *buf, uint32_t have, uint32_t len,
			struct st_pkt *p)
{
	return parse_l3(buf, have, len, p);
}
