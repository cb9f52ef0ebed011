/* Hand-built packets for the packet, flow and checksum tests: append
 * headers in wire order, then pb_finish() fills in the lengths and
 * checksums of the (last) IP header and of UDP. Tests that want a broken
 * field write it after pb_finish(). */
#ifndef ST_PKT_BUILD_H
#define ST_PKT_BUILD_H

#include <stdint.h>
#include <string.h>

#include "csum.h"
#include "packet.h"

struct pb {
	uint8_t b[9216];	/* a jumbo frame */
	uint32_t len;
	int l3;		/* offset of the IP header, -1 none */
	int l3v;	/* 4 or 6 */
	int udp;	/* offset of the UDP header, -1 none */
};

static inline void pb_init(struct pb *b)
{
	memset(b, 0, sizeof(*b));
	b->l3 = -1;
	b->udp = -1;
}

static inline void pb_bytes(struct pb *b, const void *d, size_t n)
{
	memcpy(b->b + b->len, d, n);
	b->len += (uint32_t)n;
}

static inline void pb_u8(struct pb *b, uint8_t v)
{
	b->b[b->len++] = v;
}

static inline void pb_u16(struct pb *b, uint16_t v)
{
	pb_u8(b, (uint8_t)(v >> 8));
	pb_u8(b, (uint8_t)v);
}

static inline void pb_u32(struct pb *b, uint32_t v)
{
	pb_u16(b, (uint16_t)(v >> 16));
	pb_u16(b, (uint16_t)v);
}

static inline void pb_put16(struct pb *b, uint32_t off, uint16_t v)
{
	b->b[off] = (uint8_t)(v >> 8);
	b->b[off + 1] = (uint8_t)v;
}

/* Destination and source MACs; tags and the ethertype follow. */
static inline void pb_eth(struct pb *b)
{
	static const uint8_t macs[12] = { 0x02, 0, 0, 0, 0, 0x01,
					  0x02, 0, 0, 0, 0, 0x02 };

	pb_bytes(b, macs, sizeof(macs));
}

static inline void pb_vlan(struct pb *b, uint16_t tpid, uint16_t tci)
{
	pb_u16(b, tpid);
	pb_u16(b, tci);
}

static inline void pb_type(struct pb *b, uint16_t et)
{
	pb_u16(b, et);
}

/* IPv4 header with optlen (multiple of 4) bytes of options; addresses in
 * host order (0xc6120001 is 198.18.0.1). */
static inline void pb_ipv4(struct pb *b, uint32_t src, uint32_t dst,
			   uint8_t proto, const uint8_t *opts, size_t optlen)
{
	b->l3 = (int)b->len;
	b->l3v = 4;
	pb_u8(b, (uint8_t)(0x40 | (5 + optlen / 4)));
	pb_u8(b, 0);
	pb_u16(b, 0);		/* total length: pb_finish */
	pb_u16(b, 0x1234);	/* id */
	pb_u16(b, 0x4000);	/* DF */
	pb_u8(b, 64);
	pb_u8(b, proto);
	pb_u16(b, 0);
	pb_u32(b, src);
	pb_u32(b, dst);
	if (optlen)
		pb_bytes(b, opts, optlen);
}

static inline void pb_ipv6(struct pb *b, const uint8_t src[16],
			   const uint8_t dst[16], uint8_t nh)
{
	b->l3 = (int)b->len;
	b->l3v = 6;
	pb_u32(b, 0x60000000);
	pb_u16(b, 0);		/* payload length: pb_finish */
	pb_u8(b, nh);
	pb_u8(b, 64);
	pb_bytes(b, src, 16);
	pb_bytes(b, dst, 16);
}

/* A generic extension header (hop-by-hop, routing, destination options)
 * of len bytes (multiple of 8), padded with PadN. */
static inline void pb_v6ext(struct pb *b, uint8_t nh, size_t len)
{
	uint32_t start = b->len;

	pb_u8(b, nh);
	pb_u8(b, (uint8_t)(len / 8 - 1));
	pb_u8(b, 1);			/* PadN */
	pb_u8(b, (uint8_t)(len - 4));
	while (b->len < start + len)
		pb_u8(b, 0);
}

static inline void pb_v6frag(struct pb *b, uint8_t nh, uint16_t offset8,
			     int more)
{
	pb_u8(b, nh);
	pb_u8(b, 0);
	pb_u16(b, (uint16_t)(offset8 << 3 | (more ? 1 : 0)));
	pb_u32(b, 0xabcd);
}

/* AH with a 12-byte ICV (length field 4: 24 bytes in all). */
static inline void pb_v6ah(struct pb *b, uint8_t nh)
{
	pb_u8(b, nh);
	pb_u8(b, 4);
	pb_u16(b, 0);
	pb_u32(b, 0x100);	/* SPI */
	pb_u32(b, 1);		/* sequence */
	for (int i = 0; i < 12; i++)
		pb_u8(b, 0xa5);
}

/* TCP header with optlen (multiple of 4) bytes of options. */
static inline void pb_tcp(struct pb *b, uint16_t sport, uint16_t dport,
			  uint32_t seq, uint32_t ack, uint8_t flags,
			  const uint8_t *opts, size_t optlen)
{
	pb_u16(b, sport);
	pb_u16(b, dport);
	pb_u32(b, seq);
	pb_u32(b, ack);
	pb_u8(b, (uint8_t)((5 + optlen / 4) << 4));
	pb_u8(b, flags);
	pb_u16(b, 65535);
	pb_u16(b, 0);
	pb_u16(b, 0);
	if (optlen)
		pb_bytes(b, opts, optlen);
}

static inline void pb_udp(struct pb *b, uint16_t sport, uint16_t dport)
{
	b->udp = (int)b->len;
	pb_u16(b, sport);
	pb_u16(b, dport);
	pb_u16(b, 0);
	pb_u16(b, 0);
}

static inline void pb_icmp(struct pb *b, uint8_t type, uint8_t code,
			   uint32_t rest)
{
	pb_u8(b, type);
	pb_u8(b, code);
	pb_u16(b, 0);
	pb_u32(b, rest);
}

static inline void pb_fill(struct pb *b, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		pb_u8(b, (uint8_t)(seed + i));
}

/* Lengths of the last IP header and UDP header, then checksums (as the
 * parser sees the packet, starting at Ethernet when with_eth). */
static inline void pb_finish(struct pb *b, int with_eth)
{
	struct st_pkt p;

	if (b->l3 >= 0 && b->l3v == 4)
		pb_put16(b, (uint32_t)b->l3 + 2, (uint16_t)(b->len - (uint32_t)b->l3));
	if (b->l3 >= 0 && b->l3v == 6)
		pb_put16(b, (uint32_t)b->l3 + 4,
			 (uint16_t)(b->len - (uint32_t)b->l3 - 40));
	if (b->udp >= 0)
		pb_put16(b, (uint32_t)b->udp + 4, (uint16_t)(b->len - (uint32_t)b->udp));
	if ((with_eth ? st_pkt_parse(b->b, b->len, &p) :
			st_pkt_parse_l3(b->b, b->len, &p)) == 0)
		st_csum_pkt_set(b->b, &p);
}

#endif
