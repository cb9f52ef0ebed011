/* The HdrHistogram V2 wire format's constants and readers, shared by the
 * reference codec (hist_codec.c) and the analyzer's streaming decoder
 * (analyzer/histdec.c), so the two read the outer header, the inner header
 * and the varints the same way and refuse bad input with the same reason.
 * The format itself is described in hist.h. Not part of the public API. */
#ifndef ST_HIST_V2_H
#define ST_HIST_V2_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"

#define ST_HV2_V2_COOKIE_BASE			0x1c849303u
#define ST_HV2_V2_COMPRESSED_COOKIE_BASE	0x1c849304u
#define ST_HV2_V1_COOKIE_BASE			0x1c849301u
#define ST_HV2_V1_COMPRESSED_COOKIE_BASE	0x1c849302u
#define ST_HV2_V0_COOKIE_BASE			0x1c849308u
#define ST_HV2_V0_COMPRESSED_COOKIE_BASE	0x1c849309u
/* The high nibble of the low byte once held the word size; V2 writers put
 * 0x10 there and readers mask it off. */
#define ST_HV2_COOKIE_BASE(c)			((c) & ~0xf0u)

#define ST_HV2_OUTER_LEN	8	/* cookie, compressed length */
#define ST_HV2_INNER_LEN	40	/* cookie, payload length, offset, sigfigs,
					 * lowest, highest, conversion ratio */
#define ST_HV2_VARINT_MAX	9	/* LEB128-64b9B: the 9th byte carries 8 bits */

/* The big-endian 32-bit word at p (4 readable bytes). Never fails; O(1). */
static inline uint32_t st_hv2_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* The big-endian 64-bit word at p (8 readable bytes). Never fails; O(1). */
static inline uint64_t st_hv2_get_be64(const uint8_t *p)
{
	return (uint64_t)st_hv2_get_be32(p) << 32 | st_hv2_get_be32(p + 4);
}

/* Reads one HdrHistogram LEB128-64b9B varint (7 bits a byte for 8 bytes,
 * then one byte with the top 8 bits) from p[0..avail) into *out, still
 * ZigZag-encoded. Returns its length (1..ST_HV2_VARINT_MAX), -ENODATA when
 * it runs past avail, or -EBADMSG when it is not in shortest form (a final
 * byte of 0 after a continuation: Java and JS never write one, and
 * accepting it would give one histogram many encodings). *out is set only
 * on success. O(1). */
static inline int st_hv2_varint_get(const uint8_t *p, size_t avail,
				    uint64_t *out)
{
	uint64_t u = 0;

	for (size_t i = 0; i < ST_HV2_VARINT_MAX; i++) {
		if (i >= avail)
			return -ENODATA;
		if (i == ST_HV2_VARINT_MAX - 1) {
			u |= (uint64_t)p[i] << 56;
		} else {
			u |= (uint64_t)(p[i] & 0x7f) << (7 * i);
			if (p[i] & 0x80)
				continue;
		}
		if (i > 0 && p[i] == 0)
			return -EBADMSG;
		*out = u;
		return (int)i + 1;
	}
	return -ENODATA; /* not reached: the 9th byte always ends the loop */
}

/* The decode error a st_hv2_varint_get failure (-ENODATA or -EBADMSG)
 * stands for. Never fails; O(1). */
static inline enum st_hist_derr st_hv2_varint_derr(int rc)
{
	return rc == -ENODATA ? ST_HIST_DERR_VARINT_TRUNCATED :
	       ST_HIST_DERR_VARINT_OVERLONG;
}

/* The -errno a decode failure reports: -ENOMEM, -E2BIG for the size
 * limits, -EINVAL for the rest (for a failure only: ST_HIST_DERR_OK too
 * gives -EINVAL). Never fails; O(1). */
static inline int st_hv2_derr_errno(enum st_hist_derr e)
{
	switch (e) {
	case ST_HIST_DERR_NOMEM:
		return -ENOMEM;
	case ST_HIST_DERR_TOO_LARGE:
	case ST_HIST_DERR_COUNTS_LEN:
		return -E2BIG;
	default:
		return -EINVAL;
	}
}

/* Checks the outer header of an encoding buf[0..len): its size against
 * ST_HIST_DECODE_MAX_INPUT, the cookie (V0/V1 refused as VERSION) and, when
 * compressed, that the compressed length fills the rest of buf exactly.
 * Returns ST_HIST_DERR_OK with *compressed set and, when compressed, the
 * zlib bytes in *z[0..*z_len) (inside buf); raw, the whole of buf is the
 * inner encoding and *z, *z_len are not touched. On failure returns the
 * reason and touches nothing. O(1). */
static inline enum st_hist_derr st_hv2_parse_outer(const uint8_t *buf,
						   size_t len, bool *compressed,
						   const uint8_t **z,
						   size_t *z_len)
{
	uint32_t base;
	int32_t clen;

	if (len > ST_HIST_DECODE_MAX_INPUT)
		return ST_HIST_DERR_TOO_LARGE;
	if (len < 4)
		return ST_HIST_DERR_TRUNCATED;
	base = ST_HV2_COOKIE_BASE(st_hv2_get_be32(buf));
	if (base == ST_HV2_V2_COOKIE_BASE) {
		*compressed = false;
		return ST_HIST_DERR_OK;
	}
	if (base == ST_HV2_V1_COOKIE_BASE ||
	    base == ST_HV2_V1_COMPRESSED_COOKIE_BASE ||
	    base == ST_HV2_V0_COOKIE_BASE ||
	    base == ST_HV2_V0_COMPRESSED_COOKIE_BASE)
		return ST_HIST_DERR_VERSION;
	if (base != ST_HV2_V2_COMPRESSED_COOKIE_BASE)
		return ST_HIST_DERR_COOKIE;
	if (len < ST_HV2_OUTER_LEN)
		return ST_HIST_DERR_TRUNCATED;
	clen = (int32_t)st_hv2_get_be32(buf + 4);
	if (clen < 0 || (size_t)clen > len - ST_HV2_OUTER_LEN)
		return ST_HIST_DERR_TRUNCATED;
	if ((size_t)clen < len - ST_HV2_OUTER_LEN)
		return ST_HIST_DERR_TRAILING;
	*compressed = true;
	*z = buf + ST_HV2_OUTER_LEN;
	*z_len = (size_t)clen;
	return ST_HIST_DERR_OK;
}

/* An inner header that st_hv2_parse_inner accepted: a layout that is safe
 * to allocate for and a payload length within the decode limits. */
struct st_hv2_inner {
	size_t plen;		/* payload bytes after the header */
	int64_t lowest, highest;
	int sigfigs;
	int32_t counts_len;	/* the layout's counts (st_hist's counts_len) */
};

/* Parses and checks the ST_HV2_INNER_LEN-byte inner header at p: cookie,
 * precision, lowest, highest, the layout's size against
 * ST_HIST_DECODE_MAX_COUNTS and the payload length (each varint is at most
 * ST_HV2_VARINT_MAX bytes and covers at least one count). Returns
 * ST_HIST_DERR_OK with *in filled, or the first reason it fails (checked in
 * that order) with *in untouched. O(1). */
static inline enum st_hist_derr st_hv2_parse_inner(const uint8_t *p,
						   struct st_hv2_inner *in)
{
	uint32_t cookie = st_hv2_get_be32(p);
	int32_t len = (int32_t)st_hv2_get_be32(p + 4);
	int32_t sf = (int32_t)st_hv2_get_be32(p + 12);
	int64_t lo = (int64_t)st_hv2_get_be64(p + 16);
	int64_t hi = (int64_t)st_hv2_get_be64(p + 24);
	size_t size, counts;

	if (ST_HV2_COOKIE_BASE(cookie) != ST_HV2_V2_COOKIE_BASE)
		return ST_HIST_DERR_INNER_COOKIE;
	if (sf < ST_HIST_SIGFIGS_MIN || sf > ST_HIST_SIGFIGS_MAX)
		return ST_HIST_DERR_SIGFIGS;
	if (lo < 1)
		return ST_HIST_DERR_LOWEST;
	if (hi > ST_HIST_HIGHEST_MAX || lo > hi / 2)
		return ST_HIST_DERR_HIGHEST;
	size = st_hist_size(lo, hi, sf);
	if (size == 0)	/* lowest too coarse for sigfigs: no valid layout */
		return ST_HIST_DERR_LOWEST;
	counts = (size - sizeof(struct st_hist)) / sizeof(int64_t);
	if (counts > ST_HIST_DECODE_MAX_COUNTS)
		return ST_HIST_DERR_COUNTS_LEN;
	if (len < 0 || (size_t)len > counts * ST_HV2_VARINT_MAX ||
	    (size_t)len > ST_HIST_DECODE_MAX_INFLATED - ST_HV2_INNER_LEN)
		return ST_HIST_DERR_PAYLOAD_LEN;
	in->plen = (size_t)len;
	in->lowest = lo;
	in->highest = hi;
	in->sigfigs = sf;
	in->counts_len = (int32_t)counts;
	return ST_HIST_DERR_OK;
}

#endif
