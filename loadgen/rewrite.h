/* Rewriting replayed packets in place: client (source) address for loop
 * iterations and --multiply clones, destination address and port for the
 * shadow mapping, MACs. Checksums are updated incrementally (RFC 1624,
 * common/csum.h), never recomputed, so a rewrite costs the same whatever
 * the payload length.
 *
 * The offsets come from the packet's st_pkt view once, when the capture is
 * loaded; the per-send rewrite reads no header it does not change. */
#ifndef LG_REWRITE_H
#define LG_REWRITE_H

#include <stdbool.h>
#include <stdint.h>

#include "packet.h"

/* Where the fields a replay rewrites sit in one frame. Offset 0 means
 * "absent" for every field but l3_off (an IP header never starts at 0 in an
 * Ethernet frame). */
struct lg_rw {
	uint16_t l3_off;
	uint16_t ip_csum_off;	/* IPv4 header checksum; 0 for IPv6 */
	/* The L4 checksum that covers the addresses (through the pseudo
	 * header) and the ports: TCP, UDP (unless 0: no checksum), ICMPv6.
	 * 0 for ICMPv4, other protocols, later fragments, or when the field
	 * lies past the bytes captured. */
	uint16_t l4_csum_off;
	uint16_t sport_off;	/* 0 without ports (fragments, ICMP) */
	uint16_t dport_off;
	uint8_t family;		/* 4 or 6 */
	uint8_t udp;		/* l4_csum_off is UDP's: 0 is stored as 0xffff */
};

/* Fills rw from a packet parsed (st_pkt_parse) from buf[0..len). Returns 0,
 * or -EINVAL when p has no IP header or an address lies past len. Never
 * allocates; a few ns. */
int lg_rw_init(struct lg_rw *rw, const struct st_pkt *p, const uint8_t *buf,
	       uint32_t len);

/* Offsets of the addresses (derived from l3_off and family). */
static inline uint16_t lg_rw_src_off(const struct lg_rw *rw)
{
	return (uint16_t)(rw->l3_off + (rw->family == 4 ? 12 : 8));
}

static inline uint16_t lg_rw_dst_off(const struct lg_rw *rw)
{
	return (uint16_t)(rw->l3_off + (rw->family == 4 ? 16 : 24));
}

/* Replaces the source (dst: destination) address with a (4 or 16 bytes as
 * the family says, network order) and updates the IPv4 header and L4
 * checksums. Never fails; tens of cycles. */
void lg_rw_set_src(uint8_t *buf, const struct lg_rw *rw, const struct st_ip_addr *a);
void lg_rw_set_dst(uint8_t *buf, const struct lg_rw *rw, const struct st_ip_addr *a);

/* Replaces the destination port (host order) and updates the L4 checksum.
 * No-op without ports. */
void lg_rw_set_dport(uint8_t *buf, const struct lg_rw *rw, uint16_t port);

/* Client address shifting for loop iterations and clones. Variant 0 is the
 * capture as it is; variant v adds v * stride to the address (IPv4: as a
 * 32-bit number, IPv6: to its low 64 bits), where stride is the power of two
 * above the span of the capture's client addresses, so every variant's
 * clients form a block of their own and no two (address, variant) pairs
 * meet. Slots whose block holds a server address, or (IPv4) touches
 * 0.0.0.0/8, 127.0.0.0/8 or 224.0.0.0/3 (multicast, reserved, broadcast:
 * no client's source), are skipped. */
#define LG_VARIANTS_MAX_AVOID 1024

struct lg_variants {
	uint32_t min4, max4;	/* host order; min4 > max4 when there is none */
	uint64_t min6, max6;	/* low 64 bits, host order */
	uint64_t stride4;	/* 2^k > max4 - min4 */
	uint64_t stride6;
	uint64_t max_variants;	/* distinct slots before addresses repeat */
	bool has4, has6;
	uint64_t lost_lo;	/* the lowest slot to skip that found no room
				   in avoid (0: none); lg_variants_seal ends
				   the slots below it */
	uint32_t n_avoid;	/* intervals in avoid */
	uint64_t n_avoided;	/* slots in them */
	struct { uint64_t lo, hi; } avoid[LG_VARIANTS_MAX_AVOID];	/* sorted, disjoint */
};

/* Starts an empty span. */
void lg_variants_init(struct lg_variants *v);

/* Widens the span with one client address. */
void lg_variants_add(struct lg_variants *v, uint8_t family, const struct st_ip_addr *a);

/* Computes the strides and max_variants once every client was added, and
 * skips the IPv4 slots that touch the ranges above. */
void lg_variants_done(struct lg_variants *v);

/* The address of client a in slot `slot` (from lg_variants_slot). Never
 * fails; a few instructions. */
static inline void lg_variant_addr(const struct lg_variants *v, uint8_t family,
				   const struct st_ip_addr *a, uint64_t variant,
				   struct st_ip_addr *out)
{
	*out = *a;
	if (variant == 0)
		return;
	if (family == 4) {
		uint32_t h = __builtin_bswap32(a->v4);

		h += (uint32_t)(variant * v->stride4);
		out->v4 = __builtin_bswap32(h);
	} else {
		uint64_t lo;

		__builtin_memcpy(&lo, a->a8 + 8, 8);
		lo = __builtin_bswap64(__builtin_bswap64(lo) + variant * v->stride6);
		__builtin_memcpy(out->a8 + 8, &lo, 8);
	}
}

/* Keeps variants away from server address a: the variant whose client
 * block holds a is skipped (a server address must never be sent as a
 * client). The LG_VARIANTS_MAX_AVOID lowest intervals of skipped slots are
 * kept; past that, the lowest slot that found no room is remembered
 * (lost_lo) and lg_variants_seal makes it the end of the slots. Call after
 * lg_variants_done. Never fails. O(avoided). */
void lg_variants_avoid(struct lg_variants *v, uint8_t family, const struct st_ip_addr *a);

/* After the last lg_variants_avoid: when slots had to be skipped past the
 * list's room, the variants end below the lowest of them (so flows repeat
 * sooner, and a run needing more is refused by its caller: a capture
 * whose thousands of scattered servers lie among the client blocks).
 * Returns whether it cut them. */
bool lg_variants_seal(struct lg_variants *v);

/* The slots variants can use: max_variants less the avoided ones. */
static inline uint64_t lg_variants_slots(const struct lg_variants *v)
{
	return v->max_variants > v->n_avoided ? v->max_variants - v->n_avoided : 1;
}

/* The slot of variant n: n itself, moved past the avoided ones and taken
 * modulo the slots available. Slot 0 is the capture as it is. O(avoided
 * intervals), usually nothing. */
static inline uint64_t lg_variants_slot(const struct lg_variants *v, uint64_t n)
{
	uint64_t s = n % lg_variants_slots(v);

	for (uint32_t i = 0; s != 0 && i < v->n_avoid && v->avoid[i].lo <= s; i++)
		s += v->avoid[i].hi - v->avoid[i].lo + 1;
	return s;
}

#endif
