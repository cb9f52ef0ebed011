/* The msgpack cursor and the bounded, allocation-free scanner that every
 * decoder runs before it trusts a single length from the wire. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "wire_priv.h"

/* The scanner's explicit stack; st_wire_limits.max_depth is capped here. */
#define WIRE_DEPTH_CAP 32

/* ------------------------------------------------------------------ */
/* Cursor                                                             */

static const char *const mp_type_names[] = {
	[ST_MP_NIL] = "nil", [ST_MP_BOOL] = "bool",
	[ST_MP_UINT] = "unsigned integer", [ST_MP_INT] = "negative integer",
	[ST_MP_F32] = "float32", [ST_MP_F64] = "float64", [ST_MP_STR] = "str",
	[ST_MP_BIN] = "bin", [ST_MP_ARRAY] = "array", [ST_MP_MAP] = "map",
};

const char *st_mp_type_name(enum st_mp_type t)
{
	return (unsigned)t <= ST_MP_MAP ? mp_type_names[t] : "?";
}

static uint64_t be_load(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Reads the header of the next object: for str/bin the cursor is left at the
 * payload (it->ptr) which is not bounds-checked yet, so the scanner can
 * check the declared length against its limits first. */
static int mp_head(struct st_mp_cur *c, struct st_mp_item *it,
		   struct st_wire_error *err)
{
	const uint8_t *p = c->p;
	size_t left = (size_t)(c->end - p), k = 0;
	uint8_t b;

	/* set before any return: the callers' -O3 cannot see that
	 * st_wire_fail never returns 0 */
	it->type = ST_MP_NIL;
	it->len = 0;
	it->ptr = NULL;
	if (left == 0)
		return st_wire_fail(err, ST_WIRE_E_TRUNCATED, NULL, NULL,
				    "ends where an object should start");
	b = *p++;
	left--;
	if (b <= 0x7f) {
		it->type = ST_MP_UINT;
		it->v.u = b;
	} else if (b <= 0x8f) {
		it->type = ST_MP_MAP;
		it->len = b & 0x0f;
	} else if (b <= 0x9f) {
		it->type = ST_MP_ARRAY;
		it->len = b & 0x0f;
	} else if (b <= 0xbf) {
		it->type = ST_MP_STR;
		it->len = b & 0x1f;
	} else if (b >= 0xe0) {
		it->type = ST_MP_INT;
		it->v.i = (int8_t)b;
	} else {
		/* Bytes of the header that follow the type byte. */
		static const uint8_t extra[0x20] = {
			[0x04] = 1, [0x05] = 2, [0x06] = 4,     /* bin 8/16/32 */
			[0x0a] = 4, [0x0b] = 8,                 /* float 32/64 */
			[0x0c] = 1, [0x0d] = 2, [0x0e] = 4, [0x0f] = 8,
			[0x10] = 1, [0x11] = 2, [0x12] = 4, [0x13] = 8,
			[0x19] = 1, [0x1a] = 2, [0x1b] = 4,     /* str 8/16/32 */
			[0x1c] = 2, [0x1d] = 4,                 /* array 16/32 */
			[0x1e] = 2, [0x1f] = 4,                 /* map 16/32 */
		};
		uint64_t v;

		switch (b) {
		case 0xc1:
			return st_wire_fail(err, ST_WIRE_E_MALFORMED, NULL, NULL,
					    "reserved byte 0xc1");
		case 0xc7: case 0xc8: case 0xc9:
		case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
			return st_wire_fail(err, ST_WIRE_E_MALFORMED, NULL, NULL,
					    "ext type 0x%02x not allowed", b);
		default:
			break;
		}
		k = extra[b - 0xc0];
		if (left < k)
			return st_wire_fail(err, ST_WIRE_E_TRUNCATED, NULL, NULL,
					    "ends inside the header of a 0x%02x",
					    b);
		v = be_load(p, k);
		p += k;
		switch (b) {
		case 0xc0:
			it->type = ST_MP_NIL;
			break;
		case 0xc2:
		case 0xc3:
			it->type = ST_MP_BOOL;
			it->v.b = b == 0xc3;
			break;
		case 0xc4: case 0xc5: case 0xc6:
			it->type = ST_MP_BIN;
			it->len = (uint32_t)v;
			break;
		case 0xca: {
			uint32_t u = (uint32_t)v;
			float f;

			memcpy(&f, &u, sizeof(f));
			it->type = ST_MP_F32;
			it->v.d = f;
			break;
		}
		case 0xcb:
			it->type = ST_MP_F64;
			memcpy(&it->v.d, &v, sizeof(v));
			break;
		case 0xcc: case 0xcd: case 0xce: case 0xcf:
			it->type = ST_MP_UINT;
			it->v.u = v;
			break;
		case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
			/* Sign-extend from k bytes. */
			int64_t s = (int64_t)(v << (64 - 8 * k)) >> (64 - 8 * k);

			if (s >= 0) {
				it->type = ST_MP_UINT;
				it->v.u = (uint64_t)s;
			} else {
				it->type = ST_MP_INT;
				it->v.i = s;
			}
			break;
		}
		case 0xd9: case 0xda: case 0xdb:
			it->type = ST_MP_STR;
			it->len = (uint32_t)v;
			break;
		case 0xdc: case 0xdd:
			it->type = ST_MP_ARRAY;
			it->len = (uint32_t)v;
			break;
		default: /* 0xde, 0xdf: nothing else is left */
			it->type = ST_MP_MAP;
			it->len = (uint32_t)v;
			break;
		}
	}
	if (it->type == ST_MP_STR || it->type == ST_MP_BIN)
		it->ptr = p;
	c->p = p;
	return 0;
}

int st_mp_next(struct st_mp_cur *c, struct st_mp_item *it,
	       struct st_wire_error *err)
{
	int rc = mp_head(c, it, err);

	if (rc)
		return rc;
	if (it->type == ST_MP_STR || it->type == ST_MP_BIN) {
		if (it->len > (size_t)(c->end - c->p))
			return st_wire_fail(err, ST_WIRE_E_TRUNCATED, NULL, NULL,
					    "%s of %" PRIu32 " bytes, %td left",
					    st_mp_type_name(it->type), it->len,
					    c->end - c->p);
		c->p += it->len;
	}
	return 0;
}

static uint64_t mp_children(const struct st_mp_item *it)
{
	if (it->type == ST_MP_ARRAY)
		return it->len;
	if (it->type == ST_MP_MAP)
		return 2 * (uint64_t)it->len;
	return 0;
}

int st_mp_skip(struct st_mp_cur *c, const struct st_mp_item *it,
	       struct st_wire_error *err)
{
	/* Every element costs at least one byte, so the loop ends within
	 * the buffer whatever the counts claim. */
	uint64_t pending = mp_children(it);

	while (pending > 0) {
		struct st_mp_item x;
		int rc = st_mp_next(c, &x, err);

		if (rc)
			return rc;
		pending += mp_children(&x) - 1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Scanner                                                            */

int st_wire_scan(const void *buf, size_t len, const struct st_wire_limits *lim,
		 struct st_wire_error *err)
{
	uint64_t left[WIRE_DEPTH_CAP + 1];
	struct st_mp_cur c = { buf, (const uint8_t *)buf + len };
	uint64_t items = 0;
	uint32_t d = 0, maxd;

	if (lim == NULL)
		lim = &st_wire_limits_default;
	maxd = lim->max_depth < WIRE_DEPTH_CAP ? lim->max_depth : WIRE_DEPTH_CAP;
	if (len > lim->max_size)
		return st_wire_fail(err, ST_WIRE_E_TOO_LARGE, NULL, NULL,
				    "%zu bytes, limit %zu", len, lim->max_size);
	if (len == 0)
		return st_wire_fail(err, ST_WIRE_E_TRUNCATED, NULL, NULL,
				    "empty message");
	left[0] = 1;
	for (;;) {
		struct st_mp_item it;
		size_t rest;
		uint64_t n;
		int rc;

		while (d > 0 && left[d] == 0)
			d--;
		if (left[d] == 0)
			break;
		left[d]--;
		rc = mp_head(&c, &it, err);
		if (rc)
			return rc;
		rest = (size_t)(c.end - c.p);
		switch (it.type) {
		case ST_MP_STR:
		case ST_MP_BIN:
			if (it.type == ST_MP_STR && it.len > lim->max_str)
				return st_wire_fail(err, ST_WIRE_E_STR_LEN, NULL,
						    NULL, "str of %" PRIu32
						    " bytes, limit %" PRIu32,
						    it.len, lim->max_str);
			if (it.type == ST_MP_BIN && it.len > lim->max_bin)
				return st_wire_fail(err, ST_WIRE_E_BIN_LEN, NULL,
						    NULL, "bin of %" PRIu32
						    " bytes, limit %" PRIu32,
						    it.len, lim->max_bin);
			if (it.len > rest)
				return st_wire_fail(err, ST_WIRE_E_TRUNCATED, NULL,
						    NULL, "%s of %" PRIu32
						    " bytes, %zu left",
						    st_mp_type_name(it.type),
						    it.len, rest);
			c.p += it.len;
			break;
		case ST_MP_ARRAY:
		case ST_MP_MAP:
			n = mp_children(&it);
			if (it.len > lim->max_count)
				return st_wire_fail(err, ST_WIRE_E_COUNT, NULL,
						    NULL, "%s of %" PRIu32
						    " entries, limit %" PRIu32,
						    st_mp_type_name(it.type),
						    it.len, lim->max_count);
			/* Each element takes at least one byte. */
			if (n > rest)
				return st_wire_fail(err, ST_WIRE_E_TRUNCATED, NULL,
						    NULL, "%s declares %" PRIu64
						    " elements, %zu bytes left",
						    st_mp_type_name(it.type),
						    n, rest);
			items += n;
			if (items > lim->max_items)
				return st_wire_fail(err, ST_WIRE_E_COUNT, NULL,
						    NULL, "more than %" PRIu32
						    " elements in the message",
						    lim->max_items);
			if (d + 1 > maxd)
				return st_wire_fail(err, ST_WIRE_E_DEPTH, NULL,
						    NULL, "nested deeper than %"
						    PRIu32, maxd);
			if (n > 0)
				left[++d] = n;
			break;
		default:
			break;
		}
	}
	if (c.p != c.end)
		return st_wire_fail(err, ST_WIRE_E_TRAILING, NULL, NULL,
				    "%td bytes after the object", c.end - c.p);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Values                                                             */

int st_mp_get_f64(const struct st_mp_item *it, double *out, const char *prefix,
		  const char *name, struct st_wire_error *err)
{
	switch (it->type) {
	case ST_MP_UINT:
		*out = (double)it->v.u;
		return 0;
	case ST_MP_INT:
		*out = (double)it->v.i;
		return 0;
	case ST_MP_F32:
	case ST_MP_F64:
		*out = it->v.d;
		return 0;
	default:
		return st_wire_fail(err, ST_WIRE_E_TYPE, prefix, name,
				    "expected number, got %s",
				    st_mp_type_name(it->type));
	}
}

int st_mp_get_u64(const struct st_mp_item *it, uint64_t *out,
		  const char *prefix, const char *name,
		  struct st_wire_error *err)
{
	if (it->type == ST_MP_UINT) {
		*out = it->v.u;
		return 0;
	}
	if (it->type == ST_MP_INT)
		return st_wire_fail(err, ST_WIRE_E_VALUE, prefix, name,
				    "negative value %" PRId64
				    " where an unsigned integer is expected",
				    it->v.i);
	return st_wire_fail(err, ST_WIRE_E_TYPE, prefix, name,
			    "expected unsigned integer, got %s",
			    st_mp_type_name(it->type));
}
