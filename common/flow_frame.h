/* st_flow_frame's body, in line: the dataplane's classify loop calls it
 * once per packet, and a call per packet, with its lite struct written out
 * and read back, cost as much as the parse itself. flow.c builds
 * st_flow_frame from the same functions, so the unit tests and the fuzz
 * harness (st_flow_frame against st_pkt_parse) check what the dataplane
 * runs.
 *
 * ST_FLOW_FRAME_HW is 1 where st_flow_frame_hw exists (x86-64, little
 * endian); it needs SSE4.2 at run time: callers built for it (-march with
 * SSE4.2, as DPDK's flags give) call it directly, others through
 * st_flow_frame. */
#ifndef ST_FLOW_FRAME_H
#define ST_FLOW_FRAME_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "flow.h"
#include "packet.h"

#if defined(__x86_64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#include <nmmintrin.h>
#define ST_FLOW_FRAME_HW 1
#else
#define ST_FLOW_FRAME_HW 0
#endif

static inline uint16_t st_rd16be(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

/* The fields of a frame st_flow_frame takes (its comment in flow.h), and
 * the raw addresses and the VLAN id for the key; -1 for anything else. */
static inline __attribute__((always_inline)) int
st_flow_frame_fields(const uint8_t *buf, uint32_t len, struct st_flow_lite *f, uint32_t *s_raw,
		     uint32_t *d_raw, uint16_t *vlan)
{
	uint32_t off = 14, hlen, tot, l4len, h4;
	uint16_t et;
	int tags = 0;

	if (len < off)
		return -1;
	if (len > ST_PKT_MAX_LEN)
		len = ST_PKT_MAX_LEN;
	*vlan = 0;
	et = st_rd16be(buf + 12);
	if (__builtin_expect(et != ST_ETH_P_IPV4, 0)) {
		while (et == ST_ETH_P_8021Q || et == ST_ETH_P_8021AD ||
		       et == ST_ETH_P_QINQ_9100) {
			if (tags == ST_PKT_MAX_VLANS || len - off < 4)
				return -1;
			*vlan = st_rd16be(buf + off) & 0x0fff;
			et = st_rd16be(buf + off + 2);
			off += 4;
			tags++;
		}
		if (et != ST_ETH_P_IPV4)
			return -1;
	}
	if (len - off < 20 || buf[off] >> 4 != 4)
		return -1;
	hlen = (uint32_t)(buf[off] & 0x0f) * 4;
	tot = st_rd16be(buf + off + 2);
	f->proto = buf[off + 9];
	if (hlen < 20 || hlen > tot || tot > len - off || (st_rd16be(buf + off + 6) & 0x3fff))
		return -1;
	l4len = tot - hlen;
	off += hlen;
	if (f->proto == ST_IPPROTO_UDP) {
		if (l4len < 8)
			return -1;
		h4 = st_rd16be(buf + off + 4);
		if (h4 < 8 || h4 > l4len)
			return -1;
		f->tcp_flags = 0;
		f->l4_hlen = 8;
		f->payload_len = (uint16_t)(h4 - 8);
	} else if (f->proto == ST_IPPROTO_TCP) {
		if (l4len < 20)
			return -1;
		h4 = (uint32_t)(buf[off + 12] >> 4) * 4;
		if (h4 < 20 || h4 > l4len)
			return -1;
		f->tcp_flags = buf[off + 13];
		f->l4_hlen = (uint8_t)h4;
		f->payload_len = (uint16_t)(l4len - h4);
	} else {
		return -1;
	}
	memcpy(s_raw, buf + off - hlen + 12, 4);
	memcpy(d_raw, buf + off - hlen + 16, 4);
	f->sport = st_rd16be(buf + off);
	f->dport = st_rd16be(buf + off + 2);
	{
		uint32_t s = __builtin_bswap32(*s_raw), d = __builtin_bswap32(*d_raw);

		f->swapped = s > d || (s == d && f->sport > f->dport);
	}
	return 0;
}

/* The last of the key's five little-endian words (ports, VLAN, protocol,
 * family); the others are the lower address, 0, the higher, 0 (an IPv4
 * address is the low half of its word). */
static inline __attribute__((always_inline)) uint64_t
st_flow_frame_tail(const struct st_flow_lite *f, uint16_t vlan)
{
	bool sw = f->swapped;

	return (uint64_t)(sw ? f->dport : f->sport) | (uint64_t)(sw ? f->sport : f->dport) << 16 |
	       (uint64_t)vlan << 32 | (uint64_t)f->proto << 48 | (uint64_t)ST_L3_IPV4 << 56;
}

#if ST_FLOW_FRAME_HW
/* st_crc32c over the 40 bytes as five little-endian words, unrolled: five
 * dependent crc32 instructions and no loop. */
__attribute__((target("sse4.2"), always_inline))
static inline uint32_t st_flow_hash_words_hw(uint64_t w0, uint64_t w1, uint64_t w2, uint64_t w3,
					     uint64_t w4)
{
	uint64_t c = (uint32_t)~ST_FLOW_HASH_SEED;

	c = _mm_crc32_u64(c, w0);
	c = _mm_crc32_u64(c, w1);
	c = _mm_crc32_u64(c, w2);
	c = _mm_crc32_u64(c, w3);
	c = _mm_crc32_u64(c, w4);
	return ~(uint32_t)c;
}

/* st_flow_frame with the hash in line: the crc32 instructions need no
 * call, and the key is written as whole words (no store-forwarding stall
 * for whoever hashes or compares it next). SSE4.2 only. */
__attribute__((target("sse4.2"), always_inline))
static inline int st_flow_frame_hw(const uint8_t *buf, uint32_t len, struct st_flow_key *key,
				   struct st_flow_lite *f)
{
	uint32_t s_raw, d_raw;
	uint16_t vlan;
	uint64_t lo, hi, tail;

	if (st_flow_frame_fields(buf, len, f, &s_raw, &d_raw, &vlan) < 0)
		return -1;
	lo = f->swapped ? d_raw : s_raw;
	hi = f->swapped ? s_raw : d_raw;
	tail = st_flow_frame_tail(f, vlan);
	f->hash = st_flow_hash_words_hw(lo, 0, hi, 0, tail);
	if (key != NULL) {
		/* From registers, word by word: no wide reload of narrow
		 * stores (a store-forwarding stall). */
		uint8_t *k = (uint8_t *)key;
		const uint64_t zero = 0;

		memcpy(k, &lo, 8);
		memcpy(k + 8, &zero, 8);
		memcpy(k + 16, &hi, 8);
		memcpy(k + 24, &zero, 8);
		memcpy(k + 32, &tail, 8);
	}
	return 0;
}
#endif

#endif
