#include <errno.h>
#include <string.h>

#include "csum.h"
#include "rewrite.h"

int lg_rw_init(struct lg_rw *rw, const struct st_pkt *p, const uint8_t *buf,
	       uint32_t len)
{
	uint32_t l4 = p->l4_off, csum = 0;
	bool ports = false, pseudo = false;

	memset(rw, 0, sizeof(*rw));
	if (p->l3 != ST_L3_IPV4 && p->l3 != ST_L3_IPV6)
		return -EINVAL;
	rw->family = p->l3 == ST_L3_IPV4 ? 4 : 6;
	rw->l3_off = p->l3_off;
	if ((uint32_t)lg_rw_dst_off(rw) + (rw->family == 4 ? 4 : 16) > len)
		return -EINVAL;
	if (rw->family == 4)
		rw->ip_csum_off = (uint16_t)(p->l3_off + 10);
	/* Nothing of the L4 header is looked for past the IP packet's end
	 * (a first fragment may be shorter than its header; Ethernet may pad
	 * the frame). */
	if ((uint32_t)p->l3_off + p->l3_len < len)
		len = (uint32_t)p->l3_off + p->l3_len;
	if (p->flags & ST_PKT_F_FRAG) {
		/* The first fragment (IPv4 or IPv6) carries the L4 header and
		 * the checksum over the whole datagram. */
		if (p->frag_off != 0)
			return 0;
	} else if (!(p->flags & ST_PKT_F_PORTS) && p->proto != ST_IPPROTO_ICMPV6) {
		return 0;
	}
	switch (p->proto) {
	case ST_IPPROTO_TCP:
		csum = l4 + 16;
		ports = pseudo = true;
		break;
	case ST_IPPROTO_UDP:
		csum = l4 + 6;
		ports = pseudo = true;
		rw->udp = 1;
		break;
	case ST_IPPROTO_ICMPV6:
		csum = l4 + 2;
		pseudo = true;
		break;
	default:
		return 0;
	}
	if (ports && l4 + 4 <= len) {
		rw->sport_off = (uint16_t)l4;
		rw->dport_off = (uint16_t)(l4 + 2);
	}
	if (pseudo && csum + 2 <= len) {
		/* UDP over IPv4 may carry no checksum at all: keep it that way. */
		if (!(rw->udp && rw->family == 4 && buf[csum] == 0 && buf[csum + 1] == 0))
			rw->l4_csum_off = (uint16_t)csum;
	}
	return 0;
}

static inline uint16_t load16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static inline void store16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

/* Replaces len bytes at off with a and updates the checksums covering it:
 * the IPv4 header's (addresses are in it) and the L4 one. */
static void set_addr(uint8_t *buf, const struct lg_rw *rw, uint16_t off,
		     const struct st_ip_addr *a)
{
	uint8_t *f = buf + off;

	if (rw->family == 4) {
		uint32_t old, new = a->v4;

		memcpy(&old, f, 4);
		if (old == new)
			return;
		memcpy(f, &new, 4);
		store16(buf + rw->ip_csum_off,
			st_csum_update32(load16(buf + rw->ip_csum_off), old, new));
		if (rw->l4_csum_off) {
			uint16_t c = st_csum_update32(load16(buf + rw->l4_csum_off), old, new);

			store16(buf + rw->l4_csum_off, rw->udp && c == 0 ? 0xffff : c);
		}
	} else {
		uint8_t old[16];

		memcpy(old, f, 16);
		memcpy(f, a->a8, 16);
		if (rw->l4_csum_off) {
			uint16_t c = st_csum_update_addr6(load16(buf + rw->l4_csum_off), old, a->a8);

			store16(buf + rw->l4_csum_off, rw->udp && c == 0 ? 0xffff : c);
		}
	}
}

void lg_rw_set_src(uint8_t *buf, const struct lg_rw *rw, const struct st_ip_addr *a)
{
	set_addr(buf, rw, lg_rw_src_off(rw), a);
}

void lg_rw_set_dst(uint8_t *buf, const struct lg_rw *rw, const struct st_ip_addr *a)
{
	set_addr(buf, rw, lg_rw_dst_off(rw), a);
}

void lg_rw_set_dport(uint8_t *buf, const struct lg_rw *rw, uint16_t port)
{
	uint16_t old, new = __builtin_bswap16(port);

	if (rw->dport_off == 0)
		return;
	old = load16(buf + rw->dport_off);
	store16(buf + rw->dport_off, new);
	if (rw->l4_csum_off) {
		uint16_t c = st_csum_update16(load16(buf + rw->l4_csum_off), old, new);

		store16(buf + rw->l4_csum_off, rw->udp && c == 0 ? 0xffff : c);
	}
}

void lg_variants_init(struct lg_variants *v)
{
	memset(v, 0, sizeof(*v));
	v->min4 = UINT32_MAX;
	v->min6 = UINT64_MAX;
}

static uint64_t low64(const struct st_ip_addr *a)
{
	uint64_t lo;

	memcpy(&lo, a->a8 + 8, 8);
	return __builtin_bswap64(lo);
}

void lg_variants_add(struct lg_variants *v, uint8_t family, const struct st_ip_addr *a)
{
	if (family == 4) {
		uint32_t h = __builtin_bswap32(a->v4);

		v->has4 = true;
		if (h < v->min4)
			v->min4 = h;
		if (h > v->max4)
			v->max4 = h;
	} else {
		uint64_t lo = low64(a);

		v->has6 = true;
		if (lo < v->min6)
			v->min6 = lo;
		if (lo > v->max6)
			v->max6 = lo;
	}
}

/* The power of two above span (span + 1 addresses), at least 1. */
static uint64_t stride_for(uint64_t span)
{
	uint64_t s = 1;

	while (s != 0 && s <= span)
		s <<= 1;
	return s;
}

static void lose(struct lg_variants *v, uint64_t lo)
{
	if (v->lost_lo == 0 || lo < v->lost_lo)
		v->lost_lo = lo;
}

/* Skips slots lo..hi (1 <= lo <= hi < max_variants), merged with those
 * skipped already. When the list is full, the highest interval (the new
 * one or the list's last) is let go, and lost_lo remembers it. */
static void avoid_slots(struct lg_variants *v, uint64_t lo, uint64_t hi)
{
	uint32_t i = 0, j;

	if (v->lost_lo != 0 && lo >= v->lost_lo)
		return;		/* past the end lg_variants_seal will make */
	while (i < v->n_avoid && v->avoid[i].hi + 1 < lo)
		i++;
	/* intervals i..j-1 touch or overlap lo..hi: merged into one */
	for (j = i; j < v->n_avoid && v->avoid[j].lo <= hi + 1; j++) {
		lo = v->avoid[j].lo < lo ? v->avoid[j].lo : lo;
		hi = v->avoid[j].hi > hi ? v->avoid[j].hi : hi;
		v->n_avoided -= v->avoid[j].hi - v->avoid[j].lo + 1;
	}
	if (j == i && v->n_avoid == LG_VARIANTS_MAX_AVOID) {
		if (i == v->n_avoid) {
			lose(v, lo);
			return;
		}
		/* the list's last interval, above this one, makes room */
		v->n_avoid--;
		lose(v, v->avoid[v->n_avoid].lo);
		v->n_avoided -= v->avoid[v->n_avoid].hi - v->avoid[v->n_avoid].lo + 1;
	}
	memmove(&v->avoid[i + 1], &v->avoid[j], (v->n_avoid - j) * sizeof(v->avoid[0]));
	v->n_avoid = v->n_avoid - (j - i) + 1;	/* j - i merged into one */
	v->avoid[i].lo = lo;
	v->avoid[i].hi = hi;
	v->n_avoided += hi - lo + 1;
}

/* Skips the IPv4 slots whose block [min4 + k * stride, + span] (mod 2^32)
 * touches lo..hi. */
static void avoid_range4(struct lg_variants *v, uint64_t lo, uint64_t hi)
{
	uint64_t span = (uint64_t)v->max4 - v->min4, base = v->min4;

	/* blocks k = 1.. run from base + stride up to below base + 2^32:
	 * the range is met there as itself or one turn up */
	for (uint64_t turn = 0; turn <= (1ULL << 32); turn += 1ULL << 32) {
		uint64_t l = lo + turn, h = hi + turn, k0, k1;

		if (h < base)
			continue;
		k0 = l > base + span ? (l - base - span + v->stride4 - 1) / v->stride4 : 0;
		k1 = (h - base) / v->stride4;
		if (k0 < 1)
			k0 = 1;
		if (k1 > v->max_variants - 1)
			k1 = v->max_variants - 1;
		if (k0 <= k1)
			avoid_slots(v, k0, k1);
	}
}

void lg_variants_done(struct lg_variants *v)
{
	uint64_t m4 = UINT64_MAX, m6 = UINT64_MAX;

	if (v->has4) {
		v->stride4 = stride_for((uint64_t)v->max4 - v->min4);
		m4 = (1ULL << 32) / v->stride4;
	}
	if (v->has6) {
		v->stride6 = stride_for(v->max6 - v->min6);
		/* A span of 2^64 addresses leaves no room: one variant. */
		m6 = v->stride6 == 0 ? 1 : v->stride6 == 1 ? UINT64_MAX : UINT64_MAX / v->stride6 + 1;
	}
	v->max_variants = m4 < m6 ? m4 : m6;
	if (v->max_variants == 0)
		v->max_variants = 1;
	if (v->has4 && v->max_variants > 1) {
		avoid_range4(v, 0x00000000, 0x00ffffff);	/* 0/8: "this" network */
		avoid_range4(v, 0x7f000000, 0x7fffffff);	/* 127/8: loopback */
		avoid_range4(v, 0xe0000000, 0xffffffff);	/* multicast, reserved, broadcast */
	}
}

void lg_variants_avoid(struct lg_variants *v, uint8_t family, const struct st_ip_addr *a)
{
	uint64_t d, k, span, stride;

	if (family == 4) {
		if (!v->has4)
			return;
		d = (uint32_t)(__builtin_bswap32(a->v4) - v->min4);
		span = (uint64_t)v->max4 - v->min4;
		stride = v->stride4;
	} else {
		if (!v->has6)
			return;
		d = low64(a) - v->min6;
		span = v->max6 - v->min6;
		stride = v->stride6;
	}
	if (stride == 0)
		return;
	k = d / stride;
	if (k == 0 || k >= v->max_variants || d % stride > span)
		return;
	avoid_slots(v, k, k);
}

bool lg_variants_seal(struct lg_variants *v)
{
	if (v->lost_lo == 0 || v->lost_lo >= v->max_variants)
		return false;
	/* every interval kept lies below lost_lo: the one let go was the
	 * highest */
	v->max_variants = v->lost_lo;
	return true;
}
