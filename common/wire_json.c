/* Generic msgpack for control messages and printers: bounded parse into a
 * msgpack-c zone, typed map lookups, and JSON rendering. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "wire.h"
#include "wire_priv.h"

/* Recursion bound of the JSON printer for objects built by hand. */
#define JSON_DEPTH_CAP 32

/* ------------------------------------------------------------------ */
/* Generic parse                                                      */

static const char *obj_type_name(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL: return "nil";
	case MSGPACK_OBJECT_BOOLEAN: return "bool";
	case MSGPACK_OBJECT_POSITIVE_INTEGER: return "unsigned integer";
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "negative integer";
	case MSGPACK_OBJECT_FLOAT32: return "float32";
	case MSGPACK_OBJECT_FLOAT64: return "float64";
	case MSGPACK_OBJECT_STR: return "str";
	case MSGPACK_OBJECT_BIN: return "bin";
	case MSGPACK_OBJECT_ARRAY: return "array";
	case MSGPACK_OBJECT_MAP: return "map";
	default: return "ext";
	}
}

int st_wire_parse(const void *buf, size_t len, const struct st_wire_limits *lim,
		  msgpack_zone *zone, msgpack_object *out,
		  struct st_wire_error *err)
{
	size_t off = 0;
	int rc;

	rc = st_wire_scan(buf, len, lim, err);
	if (rc)
		return rc;
	/* The first byte is a map header: fixmap, map16 or map32. */
	if (!((((const uint8_t *)buf)[0] & 0xf0) == 0x80 ||
	      ((const uint8_t *)buf)[0] == 0xde || ((const uint8_t *)buf)[0] == 0xdf))
		return st_wire_fail(err, ST_WIRE_E_NOT_MAP, NULL, NULL,
				    "top level is not a map");
	switch (msgpack_unpack(buf, len, &off, zone, out)) {
	case MSGPACK_UNPACK_SUCCESS:
		return 0;
	case MSGPACK_UNPACK_NOMEM_ERROR:
		st_wire_fail(err, ST_WIRE_E_NOMEM, NULL, NULL,
			     "msgpack zone allocation failed");
		return -ENOMEM;
	default:
		/* The scanner accepted it, so this is a disagreement
		 * between the two parsers; refuse rather than guess. */
		return st_wire_fail(err, ST_WIRE_E_MALFORMED, NULL, NULL,
				    "msgpack-c refused the message");
	}
}

int st_wire_get(const msgpack_object *map, const char *key,
		const msgpack_object **val, struct st_wire_error *err)
{
	size_t klen = strlen(key);
	const msgpack_object *found = NULL;

	if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
		return st_wire_fail(err, ST_WIRE_E_NOT_MAP, NULL, key,
				    "not a map");
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];

		if (kv->key.type != MSGPACK_OBJECT_STR ||
		    kv->key.via.str.size != klen ||
		    memcmp(kv->key.via.str.ptr, key, klen) != 0)
			continue;
		if (found)
			return st_wire_fail(err, ST_WIRE_E_DUPLICATE, NULL, key,
					    "key appears twice");
		found = &kv->val;
	}
	if (found == NULL) {
		st_wire_fail(err, ST_WIRE_E_MISSING, NULL, key,
			     "required field missing");
		return -ENOENT;
	}
	*val = found;
	return 0;
}

int st_wire_get_u64(const msgpack_object *map, const char *key, uint64_t *out,
		    struct st_wire_error *err)
{
	const msgpack_object *v;
	int rc = st_wire_get(map, key, &v, err);

	if (rc)
		return rc;
	if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		*out = v->via.u64;
		return 0;
	}
	if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return st_wire_fail(err, ST_WIRE_E_VALUE, NULL, key,
				    "negative value %" PRId64
				    " where an unsigned integer is expected",
				    v->via.i64);
	return st_wire_fail(err, ST_WIRE_E_TYPE, NULL, key,
			    "expected unsigned integer, got %s",
			    obj_type_name(v));
}

int st_wire_get_double(const msgpack_object *map, const char *key, double *out,
		       struct st_wire_error *err)
{
	const msgpack_object *v;
	int rc = st_wire_get(map, key, &v, err);

	if (rc)
		return rc;
	switch (v->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		*out = (double)v->via.u64;
		return 0;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		*out = (double)v->via.i64;
		return 0;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		*out = v->via.f64;
		return 0;
	default:
		return st_wire_fail(err, ST_WIRE_E_TYPE, NULL, key,
				    "expected number, got %s",
				    obj_type_name(v));
	}
}

int st_wire_get_bool(const msgpack_object *map, const char *key, bool *out,
		     struct st_wire_error *err)
{
	const msgpack_object *v;
	int rc = st_wire_get(map, key, &v, err);

	if (rc)
		return rc;
	if (v->type != MSGPACK_OBJECT_BOOLEAN)
		return st_wire_fail(err, ST_WIRE_E_TYPE, NULL, key,
				    "expected bool, got %s", obj_type_name(v));
	*out = v->via.boolean;
	return 0;
}

int st_wire_get_str(const msgpack_object *map, const char *key, char *buf,
		    size_t size, struct st_wire_error *err)
{
	const msgpack_object *v;
	int rc = st_wire_get(map, key, &v, err);
	uint32_t len;

	if (rc)
		return rc;
	if (v->type != MSGPACK_OBJECT_STR)
		return st_wire_fail(err, ST_WIRE_E_TYPE, NULL, key,
				    "expected str, got %s", obj_type_name(v));
	len = v->via.str.size;
	if (len >= size)
		return st_wire_fail(err, ST_WIRE_E_STR_LEN, NULL, key,
				    "%" PRIu32 " bytes, at most %zu fit", len,
				    size ? size - 1 : 0);
	if (len > 0 && memchr(v->via.str.ptr, '\0', len))
		return st_wire_fail(err, ST_WIRE_E_VALUE, NULL, key,
				    "NUL byte in string");
	if (len > 0)
		memcpy(buf, v->via.str.ptr, len);
	buf[len] = '\0';
	return 0;
}

/* ------------------------------------------------------------------ */
/* JSON                                                               */

static int json_lit(struct st_wbuf *out, const char *s)
{
	return st_wbuf_append(out, s, strlen(s));
}

/* Escapes per RFC 8259; a byte that does not start valid UTF-8 becomes
 * U+FFFD, so the output is always valid JSON in UTF-8. */
static int json_str(struct st_wbuf *out, const uint8_t *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t *d;
	int rc;

	/* Worst case: every byte becomes \u00XX or \ufffd (6 bytes). */
	if (len > (SIZE_MAX - 2) / 6)
		return -ENOMEM;
	rc = st_wbuf_reserve(out, 6 * len + 2);
	if (rc)
		return rc;
	d = out->data + out->len;
	*d++ = '"';
	for (size_t i = 0; i < len;) {
		uint8_t ch = s[i];
		size_t k;

		if (ch >= 0x80) {
			k = st_wire_utf8_seq(s + i, len - i);
			if (k == 0) {
				memcpy(d, "\\ufffd", 6);
				d += 6;
				i++;
			} else {
				memcpy(d, s + i, k);
				d += k;
				i += k;
			}
			continue;
		}
		i++;
		if (ch == '"' || ch == '\\') {
			*d++ = '\\';
			*d++ = ch;
		} else if (ch >= 0x20) {
			*d++ = ch;
		} else if (ch == '\n') {
			*d++ = '\\';
			*d++ = 'n';
		} else if (ch == '\t') {
			*d++ = '\\';
			*d++ = 't';
		} else if (ch == '\r') {
			*d++ = '\\';
			*d++ = 'r';
		} else {
			memcpy(d, "\\u00", 4);
			d[4] = (uint8_t)hex[ch >> 4];
			d[5] = (uint8_t)hex[ch & 15];
			d += 6;
		}
	}
	*d++ = '"';
	out->len = (size_t)(d - out->data);
	return 0;
}

static int json_base64(struct st_wbuf *out, const uint8_t *p, size_t len)
{
	size_t n = st_base64_encoded_len(len);
	char *d;
	int rc;

	/* Two quotes, and the NUL st_base64_encode writes (not counted). */
	rc = st_wbuf_reserve(out, n + 3);
	if (rc)
		return rc;
	d = (char *)out->data + out->len;
	d[0] = '"';
	n = st_base64_encode(p, len, d + 1);
	d[n + 1] = '"';
	out->len += n + 2;
	return 0;
}

/* Shortest %g that reads back to the same value. */
static int json_double(struct st_wbuf *out, double v, bool single)
{
	char b[40];

	if (!isfinite(v))
		return json_lit(out, "null");
	for (int prec = single ? 6 : 15; ; prec++) {
		snprintf(b, sizeof(b), "%.*g", prec, v);
		if (single ? (float)strtod(b, NULL) == (float)v :
		    strtod(b, NULL) == v)
			break;
		if (prec >= 17)
			break;
	}
	return json_lit(out, b);
}

static int json_value(const msgpack_object *o, struct st_wbuf *out,
		      const char *key, size_t klen, st_wire_bin_fn fn,
		      void *arg, unsigned depth);

/* JSON keys must be strings: render anything else, then quote the text. */
static int json_key(const msgpack_object *k, struct st_wbuf *out,
		    st_wire_bin_fn fn, void *arg, unsigned depth)
{
	size_t off = out->len, mid;
	int rc;

	if (k->type == MSGPACK_OBJECT_STR)
		return json_str(out, (const uint8_t *)k->via.str.ptr,
				k->via.str.size);
	rc = json_value(k, out, NULL, 0, fn, arg, depth + 1);
	if (rc)
		return rc;
	mid = out->len;
	rc = st_wbuf_reserve(out, 6 * (mid - off) + 2);
	if (rc)
		return rc;
	rc = json_str(out, out->data + off, mid - off);
	if (rc)
		return rc;
	memmove(out->data + off, out->data + mid, out->len - mid);
	out->len -= mid - off;
	return 0;
}

static int json_value(const msgpack_object *o, struct st_wbuf *out,
		      const char *key, size_t klen, st_wire_bin_fn fn,
		      void *arg, unsigned depth)
{
	int rc = 0;

	if (depth > JSON_DEPTH_CAP)
		return -EINVAL;
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_lit(out, "null");
	case MSGPACK_OBJECT_BOOLEAN:
		return json_lit(out, o->via.boolean ? "true" : "false");
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return st_wbuf_printf(out, "%" PRIu64, o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return st_wbuf_printf(out, "%" PRId64, o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
		return json_double(out, o->via.f64, true);
	case MSGPACK_OBJECT_FLOAT64:
		return json_double(out, o->via.f64, false);
	case MSGPACK_OBJECT_STR:
		return json_str(out, (const uint8_t *)o->via.str.ptr,
				o->via.str.size);
	case MSGPACK_OBJECT_BIN:
		if (fn) {
			rc = fn(arg, key, klen, (const uint8_t *)o->via.bin.ptr,
				o->via.bin.size, out);
			if (rc <= 0)
				return rc;
		}
		return json_base64(out, (const uint8_t *)o->via.bin.ptr,
				   o->via.bin.size);
	case MSGPACK_OBJECT_ARRAY:
		rc = json_lit(out, "[");
		for (uint32_t i = 0; rc == 0 && i < o->via.array.size; i++) {
			if (i > 0)
				rc = json_lit(out, ",");
			if (rc == 0)
				rc = json_value(&o->via.array.ptr[i], out, NULL,
						0, fn, arg, depth + 1);
		}
		return rc ? rc : json_lit(out, "]");
	case MSGPACK_OBJECT_MAP:
		rc = json_lit(out, "{");
		for (uint32_t i = 0; rc == 0 && i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			bool skey = kv->key.type == MSGPACK_OBJECT_STR;

			if (i > 0)
				rc = json_lit(out, ",");
			if (rc == 0)
				rc = json_key(&kv->key, out, fn, arg, depth);
			if (rc == 0)
				rc = json_lit(out, ":");
			if (rc == 0)
				rc = json_value(&kv->val, out,
						skey ? kv->key.via.str.ptr : NULL,
						skey ? kv->key.via.str.size : 0,
						fn, arg, depth + 1);
		}
		return rc ? rc : json_lit(out, "}");
	default:
		/* ext: the scanner refuses it; print something valid. */
		return json_lit(out, "null");
	}
}

int st_wire_to_json_ex(const msgpack_object *o, struct st_wbuf *out,
		       st_wire_bin_fn bin_fn, void *arg)
{
	return json_value(o, out, NULL, 0, bin_fn, arg, 0);
}

int st_wire_json_str(struct st_wbuf *out, const char *s, size_t len)
{
	return json_str(out, (const uint8_t *)s, len);
}

int st_wire_to_json(const msgpack_object *o, struct st_wbuf *out)
{
	return st_wire_to_json_ex(o, out, NULL, NULL);
}
