/* One's complement sums work on words loaded in host order: adding the
 * halves of a 32- or 64-bit load is the same sum modulo 0xffff as adding
 * its 16-bit words, and folding back gives the checksum in memory order. */
#include <errno.h>
#include <string.h>

#include "csum.h"

uint32_t st_csum_partial(const void *buf, size_t len, uint32_t sum)
{
	const uint8_t *p = buf;
	uint64_t acc = sum;

	while (len >= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		acc += (v & 0xffffffff) + (v >> 32);
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		uint32_t v;

		memcpy(&v, p, 4);
		acc += v;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t v;

		memcpy(&v, p, 2);
		acc += v;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint8_t last[2] = { p[0], 0 };
		uint16_t v;

		memcpy(&v, last, 2);
		acc += v;
	}
	/* Down to 16 bits (plus a carry at most), so callers may add a few
	 * more terms to the result without overflowing 32 bits. */
	acc = (acc & 0xffffffff) + (acc >> 32);
	acc = (acc & 0xffffffff) + (acc >> 32);
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
	return (uint32_t)acc;
}

uint16_t st_csum(const void *buf, size_t len)
{
	return st_csum_fold(st_csum_partial(buf, len, 0));
}

/* The pseudo header's small fields as the bytes they are on the wire. */
static uint32_t be_sum16(uint16_t host)
{
	uint8_t b[2] = { (uint8_t)(host >> 8), (uint8_t)host };

	return st_csum_partial(b, 2, 0);
}

uint32_t st_csum_pseudo_v4(const void *src, const void *dst, uint8_t proto,
			   uint32_t l4_len)
{
	uint32_t s = st_csum_partial(src, 4, 0);

	s = st_csum_partial(dst, 4, s);
	return s + be_sum16(proto) + be_sum16((uint16_t)l4_len);
}

uint32_t st_csum_pseudo_v6(const void *src, const void *dst, uint8_t proto,
			   uint32_t l4_len)
{
	uint32_t s = st_csum_partial(src, 16, 0);

	s = st_csum_partial(dst, 16, s);
	return s + be_sum16(proto) + be_sum16((uint16_t)(l4_len >> 16)) +
	       be_sum16((uint16_t)l4_len);
}

uint16_t st_csum_ipv4_hdr(const void *ip)
{
	const uint8_t *h = ip;
	size_t hlen = (size_t)(h[0] & 0x0f) * 4;

	if (hlen < 12)
		return st_csum_fold(st_csum_partial(h, hlen, 0));
	return st_csum_fold(st_csum_partial(h + 12, hlen - 12,
					    st_csum_partial(h, 10, 0)));
}

static uint16_t udp_fix(uint8_t proto, uint16_t c)
{
	return proto == ST_IPPROTO_UDP && c == 0 ? 0xffff : c;
}

uint16_t st_csum_l4_v4(const void *src, const void *dst, uint8_t proto,
		       const void *l4, uint32_t len)
{
	uint32_t s = st_csum_pseudo_v4(src, dst, proto, len);

	return udp_fix(proto, st_csum_fold(st_csum_partial(l4, len, s)));
}

uint16_t st_csum_l4_v6(const void *src, const void *dst, uint8_t proto,
		       const void *l4, uint32_t len)
{
	uint32_t s = st_csum_pseudo_v6(src, dst, proto, len);

	return udp_fix(proto, st_csum_fold(st_csum_partial(l4, len, s)));
}

bool st_csum_ipv4_ok(const void *ip)
{
	const uint8_t *h = ip;

	return st_csum_fold(st_csum_partial(h, (size_t)(h[0] & 0x0f) * 4,
					    0)) == 0;
}

/* Where the checksum field is in the L4 header and how many bytes it
 * covers; -1 when p's L4 cannot be checksummed. */
static int l4_csum_span(const struct st_pkt *p, uint32_t *len)
{
	if (!(p->flags & ST_PKT_F_L4) || (p->flags & ST_PKT_F_FRAG))
		return -1;
	*len = (uint32_t)p->l3_off + p->l3_len - p->l4_off;
	switch (p->proto) {
	case ST_IPPROTO_TCP:
		return 16;
	case ST_IPPROTO_UDP:
		*len = (uint32_t)p->payload_len + 8;
		return 6;
	case ST_IPPROTO_ICMP:
	case ST_IPPROTO_ICMPV6:
		return 2;
	default:
		return -1;
	}
}

/* The sum over the L4 bytes and, except for ICMPv4, the pseudo header. */
static uint32_t l4_sum(const uint8_t *buf, const struct st_pkt *p,
		       uint32_t len)
{
	uint32_t s = 0;

	if (p->proto != ST_IPPROTO_ICMP) {
		if (p->l3 == ST_L3_IPV4)
			s = st_csum_pseudo_v4(p->src.a8, p->dst.a8, p->proto,
					      len);
		else
			s = st_csum_pseudo_v6(p->src.a8, p->dst.a8, p->proto,
					      len);
	}
	return st_csum_partial(buf + p->l4_off, len, s);
}

bool st_csum_l4_ok(const uint8_t *buf, const struct st_pkt *p)
{
	uint32_t len;
	int at = l4_csum_span(p, &len);

	if (at < 0 || p->l3 == ST_L3_NONE)
		return false;
	if (p->proto == ST_IPPROTO_UDP && p->l3 == ST_L3_IPV4 &&
	    buf[p->l4_off + 6] == 0 && buf[p->l4_off + 7] == 0)
		return true;
	return st_csum_fold(l4_sum(buf, p, len)) == 0;
}

int st_csum_pkt_set(uint8_t *buf, const struct st_pkt *p)
{
	uint32_t len;
	uint16_t c;
	int at;

	if (p->l3 == ST_L3_NONE)
		return -EINVAL;
	if (p->l3 == ST_L3_IPV4 && p->l3_hlen >= 20) {
		c = st_csum_ipv4_hdr(buf + p->l3_off);
		memcpy(buf + p->l3_off + 10, &c, 2);
	}
	at = l4_csum_span(p, &len);
	if (at < 0)
		return 0;
	memset(buf + p->l4_off + at, 0, 2);
	c = udp_fix(p->proto, st_csum_fold(l4_sum(buf, p, len)));
	memcpy(buf + p->l4_off + at, &c, 2);
	return 0;
}

uint16_t st_csum_update_addr6(uint16_t csum, const void *old, const void *new)
{
	const uint8_t *o = old, *n = new;
	uint32_t s = (uint16_t)~csum;

	for (int i = 0; i < 16; i += 2) {
		uint16_t ow, nw;

		memcpy(&ow, o + i, 2);
		memcpy(&nw, n + i, 2);
		s += (uint16_t)~ow + (uint32_t)nw;
	}
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint16_t fold16(uint32_t s)
{
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)((s & 0xffff) + (s >> 16));
}

uint16_t st_csum_update_at(uint16_t csum, uint32_t off, const void *old,
			   const void *new, size_t len)
{
	uint16_t so = fold16(st_csum_partial(old, len, 0));
	uint16_t sn = fold16(st_csum_partial(new, len, 0));
	uint32_t s;

	/* Bytes at an odd offset sit in the other half of each word, and a
	 * one's complement sum of byte-swapped words is the byte-swapped sum. */
	if (off & 1) {
		so = (uint16_t)(so << 8 | so >> 8);
		sn = (uint16_t)(sn << 8 | sn >> 8);
	}
	s = (uint32_t)(uint16_t)~csum + (uint16_t)~so + sn;
	return (uint16_t)~fold16(s);
}
