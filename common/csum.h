/* Internet checksum (RFC 1071) and incremental updates (RFC 1624).
 *
 * Byte order: checksums and the 16/32-bit words given to the update
 * functions are in memory order, i.e. loaded from or stored to the packet
 * with memcpy (network order on the wire; no ntohs). The one's complement
 * sum does not care which byte order the host uses as long as loads and
 * stores agree, so a value returned here is stored into the packet as is. */
#ifndef ST_CSUM_H
#define ST_CSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet.h"

/* Adds buf's 16-bit words to a running sum (any 32-bit value) and returns
 * it not complemented, folded to at most 0x10000 so a few more terms can be
 * added. An odd length is padded with a zero byte, so only the last piece
 * of a chain may be odd. Never fails; about 1 ns per 8 bytes. */
uint32_t st_csum_partial(const void *buf, size_t len, uint32_t sum);

/* Folds a running sum to 16 bits and complements it: the value to store. */
static inline uint16_t st_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Internet checksum of buf (st_csum_fold(st_csum_partial(buf, len, 0))). */
uint16_t st_csum(const void *buf, size_t len);

/* Running sums of the TCP/UDP pseudo headers: addresses in network order
 * (4 or 16 bytes), proto, and the L4 length (header + data) in host order. */
uint32_t st_csum_pseudo_v4(const void *src, const void *dst, uint8_t proto,
			   uint32_t l4_len);
uint32_t st_csum_pseudo_v6(const void *src, const void *dst, uint8_t proto,
			   uint32_t l4_len);

/* IPv4 header checksum, reading IHL from the header (IHL * 4 bytes must be
 * readable) and skipping its checksum field, so the field need not be
 * cleared first. */
uint16_t st_csum_ipv4_hdr(const void *ip);

/* TCP/UDP/ICMPv6 checksum over l4[0..len) plus the pseudo header, with the
 * checksum field as it is in l4 (clear it first). For UDP a result of 0 is
 * returned as 0xffff (0 means "no checksum" in UDP over IPv4). */
uint16_t st_csum_l4_v4(const void *src, const void *dst, uint8_t proto,
		       const void *l4, uint32_t len);
uint16_t st_csum_l4_v6(const void *src, const void *dst, uint8_t proto,
		       const void *l4, uint32_t len);

/* Whether the IPv4 header at ip (IHL * 4 readable) has a valid checksum. */
bool st_csum_ipv4_ok(const void *ip);

/* Whether the TCP, UDP, ICMP or ICMPv6 checksum of a parsed packet is
 * valid; false for anything else (no L4, a fragment). A zero UDP checksum
 * over IPv4 counts as valid. buf is the buffer p was parsed from. */
bool st_csum_l4_ok(const uint8_t *buf, const struct st_pkt *p);

/* Sets the IPv4 header checksum and the TCP/UDP/ICMP/ICMPv6 checksum of a
 * packet just parsed from buf (building packets: loadgen, tests). Returns 0,
 * or -EINVAL when p has no IP header; an L4 it cannot checksum (fragment,
 * other protocol) is left alone. */
int st_csum_pkt_set(uint8_t *buf, const struct st_pkt *p);

/* RFC 1624 eqn. 3: the checksum after a 16-bit word of the covered data
 * changed from old to new. Use it for ports and, through the 32-bit form,
 * for IPv4 addresses, sequence and acknowledgement numbers and timestamps.
 * The word must start at an even offset of the covered data (true of all of
 * those; TS values only when the option is NOP-aligned as usual, else use
 * st_csum_update_at). A UDP checksum of 0 (none) must be left at 0 by the caller, and a UDP
 * result of 0 stored as 0xffff. Never fails; a few instructions. */
static inline uint16_t st_csum_update16(uint16_t csum, uint16_t old,
					uint16_t new)
{
	uint32_t s = (uint32_t)(uint16_t)~csum + (uint16_t)~old + new;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* The same for a 32-bit word loaded from the packet with memcpy. */
static inline uint16_t st_csum_update32(uint16_t csum, uint32_t old,
					uint32_t new)
{
	uint32_t s = (uint32_t)(uint16_t)~csum;

	s += (uint16_t)~(old >> 16) + (uint32_t)(uint16_t)~(old & 0xffff);
	s += (new >> 16) + (new & 0xffff);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* The same for a 16-byte IPv6 address (old and new in network order). */
uint16_t st_csum_update_addr6(uint16_t csum, const void *old, const void *new);

/* The same for len bytes that changed from old[] to new[] at offset off,
 * any alignment: only off's parity matters, counted from the start of the
 * covered data or of the frame (IP and L4 headers always start at even
 * frame offsets). Never fails; about a ns per 8 bytes. */
uint16_t st_csum_update_at(uint16_t csum, uint32_t off, const void *old,
			   const void *new, size_t len);

#endif
