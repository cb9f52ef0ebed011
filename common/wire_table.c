/* The field-table codec: one table per message (and per nested record)
 * drives the checker, the encoder and the decoder, so the three cannot
 * disagree on a name, a type or the key order. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "wire_priv.h"

/* NaN fails every comparison, so a RANGE field refuses it too. */
static bool f64_ok(const struct st_wfield *f, double d, char *detail,
		   size_t dlen)
{
	if (f->flags & ST_WF_RANGE) {
		if (!(d >= f->lo && d <= f->hi)) {
			snprintf(detail, dlen, "%g outside [%g, %g]", d, f->lo,
				 f->hi);
			return false;
		}
	} else if ((f->flags & ST_WF_FINITE) && !isfinite(d)) {
		snprintf(detail, dlen, "%g is not finite", d);
		return false;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* Field tables                                                       */

#define MEMBER(base, f) ((char *)(base) + (f)->off)
#define CMEMBER(base, f) ((const char *)(base) + (f)->off)

static bool wf_present(const struct st_wfield *f, const void *base)
{
	bool present;

	if (!(f->flags & ST_WF_OPTIONAL))
		return true;
	memcpy(&present, (const char *)base + f->aux, sizeof(present));
	return present;
}

/* Wire spelling of an enum member, NULL when out of range. */
static const char *enum_str(const struct st_wfield *f, const void *base)
{
	switch (f->kind) {
	case ST_WF_ROLE: {
		enum st_role r;

		memcpy(&r, CMEMBER(base, f), sizeof(r));
		return st_role_str(r);
	}
	case ST_WF_VERDICT: {
		enum st_verdict_kind v;

		memcpy(&v, CMEMBER(base, f), sizeof(v));
		return st_verdict_kind_str(v);
	}
	default: {
		enum st_kpi_status s;

		memcpy(&s, CMEMBER(base, f), sizeof(s));
		return st_kpi_status_str(s);
	}
	}
}

int st_wf_check(const struct st_wfield *f, size_t n, const void *base,
		const char *prefix, struct st_wire_error *err)
{
	char detail[sizeof(err->detail)];
	struct st_wire_error dummy;

	if (err == NULL)
		err = &dummy;
	for (size_t i = 0; i < n; i++, f++) {
		const char *m = CMEMBER(base, f);
		enum st_wire_err code = ST_WIRE_OK;
		size_t len;

		if (!wf_present(f, base))
			continue;
		switch (f->kind) {
		case ST_WF_F64: {
			double d;

			memcpy(&d, m, sizeof(d));
			if (!f64_ok(f, d, detail, sizeof(detail)))
				code = ST_WIRE_E_VALUE;
			break;
		}
		case ST_WF_NAME:
		case ST_WF_TEXT:
			len = strnlen(m, f->size);
			if (len == f->size) {
				snprintf(detail, sizeof(detail),
					 "not NUL-terminated within %u bytes",
					 f->size);
				code = ST_WIRE_E_STR_LEN;
			} else if (f->kind == ST_WF_NAME) {
				code = st_wire_check_name(m, len, detail,
							  sizeof(detail));
			} else {
				code = st_wire_check_text(m, len, f->size,
							  f->flags & ST_WF_NONEMPTY,
							  detail, sizeof(detail));
			}
			break;
		case ST_WF_ROLE:
		case ST_WF_VERDICT:
		case ST_WF_STATUS:
			if (enum_str(f, base) == NULL) {
				snprintf(detail, sizeof(detail),
					 "enum value out of range");
				code = ST_WIRE_E_VALUE;
			}
			break;
		case ST_WF_BIN: {
			const uint8_t *p;

			memcpy(&p, m, sizeof(p));
			memcpy(&len, (const char *)base + f->aux, sizeof(len));
			if (p == NULL && len > 0) {
				snprintf(detail, sizeof(detail),
					 "NULL with length %zu", len);
				code = ST_WIRE_E_VALUE;
			} else if (len > st_wire_limits_default.max_bin) {
				snprintf(detail, sizeof(detail),
					 "%zu bytes, limit %" PRIu32, len,
					 st_wire_limits_default.max_bin);
				code = ST_WIRE_E_BIN_LEN;
			}
			break;
		}
		case ST_WF_CUSTOM:
			if (f->custom->check(m, prefix, err))
				return -EINVAL;
			break;
		default:
			break;
		}
		if (code != ST_WIRE_OK) {
			st_wire_fail(err, code, prefix, f->name, "%s", detail);
			return -EINVAL;
		}
	}
	return 0;
}

void st_wf_encode(msgpack_packer *pk, const struct st_wfield *f, size_t n,
		  const void *base)
{
	size_t count = 0;

	for (size_t i = 0; i < n; i++)
		count += wf_present(&f[i], base);
	msgpack_pack_map(pk, count);
	for (size_t i = 0; i < n; i++, f++) {
		const char *m = CMEMBER(base, f);

		if (!wf_present(f, base))
			continue;
		st_mp_pack_str(pk, f->name, strlen(f->name));
		switch (f->kind) {
		case ST_WF_VERSION:
			msgpack_pack_uint64(pk, ST_WIRE_VERSION);
			break;
		case ST_WF_U64: {
			uint64_t u;

			memcpy(&u, m, sizeof(u));
			msgpack_pack_uint64(pk, u);
			break;
		}
		case ST_WF_U32: {
			uint32_t u;

			memcpy(&u, m, sizeof(u));
			msgpack_pack_uint64(pk, u);
			break;
		}
		case ST_WF_F64: {
			double d;

			memcpy(&d, m, sizeof(d));
			msgpack_pack_double(pk, d);
			break;
		}
		case ST_WF_NAME:
		case ST_WF_TEXT:
			st_mp_pack_str(pk, m, strlen(m));
			break;
		case ST_WF_ROLE:
		case ST_WF_VERDICT:
		case ST_WF_STATUS: {
			const char *s = enum_str(f, base);

			st_mp_pack_str(pk, s, strlen(s));
			break;
		}
		case ST_WF_BOOL: {
			bool b;

			memcpy(&b, m, sizeof(b));
			if (b)
				msgpack_pack_true(pk);
			else
				msgpack_pack_false(pk);
			break;
		}
		case ST_WF_BIN: {
			const uint8_t *p;
			size_t len;

			memcpy(&p, m, sizeof(p));
			memcpy(&len, (const char *)base + f->aux, sizeof(len));
			msgpack_pack_bin(pk, len);
			msgpack_pack_bin_body(pk, p, len);
			break;
		}
		case ST_WF_CUSTOM:
			f->custom->enc(pk, m);
			break;
		default:
			break;
		}
	}
}

/* Index of the field named key, trying `hint` first: encoders send fields
 * in table order, so the next key is almost always the next field. */
static int wf_lookup(const struct st_wfield *f, size_t n, size_t hint,
		     const uint8_t *key, size_t len)
{
	for (size_t j = 0; j < n; j++) {
		size_t i = (hint + j) % n;

		if (strlen(f[i].name) == len &&
		    memcmp(f[i].name, key, len) == 0)
			return (int)i;
	}
	return -1;
}

static int wf_decode_value(struct st_mp_cur *c, const struct st_mp_item *v,
			   const struct st_wfield *f, void *base,
			   const char *prefix, struct st_wctx *x)
{
	char detail[sizeof(x->err->detail)], tmp[25];
	char *m = MEMBER(base, f);
	enum st_wire_err code;
	uint64_t u;
	double d;
	int rc, e;

	switch (f->kind) {
	case ST_WF_VERSION:
		rc = st_mp_get_u64(v, &u, prefix, f->name, x->err);
		if (rc)
			return rc;
		if (u != ST_WIRE_VERSION)
			return st_wire_fail(x->err, ST_WIRE_E_VERSION, prefix,
					    f->name, "version %" PRIu64
					    ", this decoder reads %d", u,
					    ST_WIRE_VERSION);
		return 0;
	case ST_WF_U64:
	case ST_WF_U32:
		rc = st_mp_get_u64(v, &u, prefix, f->name, x->err);
		if (rc)
			return rc;
		if (f->kind == ST_WF_U64) {
			memcpy(m, &u, sizeof(u));
		} else {
			uint32_t u32 = (uint32_t)u;

			if (u > UINT32_MAX)
				return st_wire_fail(x->err, ST_WIRE_E_VALUE, prefix,
						    f->name, "%" PRIu64
						    " does not fit 32 bits", u);
			memcpy(m, &u32, sizeof(u32));
		}
		return 0;
	case ST_WF_F64:
		rc = st_mp_get_f64(v, &d, prefix, f->name, x->err);
		if (rc)
			return rc;
		if (!f64_ok(f, d, detail, sizeof(detail)))
			return st_wire_fail(x->err, ST_WIRE_E_VALUE, prefix,
					    f->name, "%s", detail);
		memcpy(m, &d, sizeof(d));
		return 0;
	case ST_WF_BOOL:
		if (v->type != ST_MP_BOOL)
			break;
		memcpy(m, &v->v.b, sizeof(bool));
		return 0;
	case ST_WF_BIN:
		if (v->type != ST_MP_BIN)
			break;
		memcpy(m, &v->ptr, sizeof(v->ptr));
		memcpy((char *)base + f->aux, &(size_t){ v->len }, sizeof(size_t));
		return 0;
	case ST_WF_CUSTOM:
		rc = f->custom->dec(c, v, m, prefix, x);
		if (rc == 0 && (f->flags & ST_WF_OPTIONAL))
			memcpy((char *)base + f->aux, &(bool){ true },
			       sizeof(bool));
		return rc;
	default:
		break;
	}
	/* Everything left is a str. */
	if (v->type != ST_MP_STR || f->kind == ST_WF_BOOL || f->kind == ST_WF_BIN)
		return st_wire_fail(x->err, ST_WIRE_E_TYPE, prefix, f->name,
				    "expected %s, got %s",
				    f->kind == ST_WF_BOOL ? "bool" :
				    f->kind == ST_WF_BIN ? "bin" : "str",
				    st_mp_type_name(v->type));
	switch (f->kind) {
	case ST_WF_NAME:
	case ST_WF_TEXT:
		code = f->kind == ST_WF_NAME ?
		       st_wire_check_name((const char *)v->ptr, v->len, detail,
					  sizeof(detail)) :
		       st_wire_check_text((const char *)v->ptr, v->len, f->size,
					  f->flags & ST_WF_NONEMPTY, detail,
					  sizeof(detail));
		if (code != ST_WIRE_OK)
			return st_wire_fail(x->err, code, prefix, f->name, "%s",
					    detail);
		memcpy(m, v->ptr, v->len);
		m[v->len] = '\0';
		return 0;
	default:
		/* Enums. */
		if (f->kind == ST_WF_ROLE) {
			enum st_role r;

			e = st_role_from_str((const char *)v->ptr, v->len, &r);
			if (e == 0)
				memcpy(m, &r, sizeof(r));
		} else if (f->kind == ST_WF_VERDICT) {
			enum st_verdict_kind k;

			e = st_verdict_kind_from_str((const char *)v->ptr,
						     v->len, &k);
			if (e == 0)
				memcpy(m, &k, sizeof(k));
		} else {
			enum st_kpi_status s;

			e = st_kpi_status_from_str((const char *)v->ptr, v->len,
						   &s);
			if (e == 0)
				memcpy(m, &s, sizeof(s));
		}
		if (e)
			return st_wire_fail(x->err, ST_WIRE_E_VALUE, prefix,
					    f->name, "unknown value '%s'",
					    st_wire_sanitize(tmp, sizeof(tmp), v->ptr,
						     v->len));
		return 0;
	}
}

int st_wf_decode_map(struct st_mp_cur *c, const struct st_mp_item *map,
		     const struct st_wfield *f, size_t n, void *base,
		     const char *prefix, struct st_wctx *x)
{
	uint64_t seen = 0;
	size_t hint = 0;

	for (uint32_t i = 0; i < map->len; i++) {
		struct st_mp_item k, v;
		char tmp[25];
		int j, rc;

		rc = st_mp_next(c, &k, x->err);
		if (rc)
			return rc;
		if (k.type != ST_MP_STR)
			return st_wire_fail(x->err, ST_WIRE_E_MALFORMED, prefix,
					    NULL, "map key %" PRIu32
					    ": expected str, got %s", i,
					    st_mp_type_name(k.type));
		rc = st_mp_next(c, &v, x->err);
		if (rc)
			return rc;
		j = wf_lookup(f, n, hint, k.ptr, k.len);
		if (j < 0) {
			x->unknown++;
			rc = st_mp_skip(c, &v, x->err);
			if (rc)
				return rc;
			continue;
		}
		if (seen & (1ULL << j))
			return st_wire_fail(x->err, ST_WIRE_E_DUPLICATE, prefix,
					    f[j].name, "key '%s' appears twice",
					    st_wire_sanitize(tmp, sizeof(tmp), k.ptr,
						     k.len));
		seen |= 1ULL << j;
		hint = (size_t)j + 1;
		rc = wf_decode_value(c, &v, &f[j], base, prefix, x);
		if (rc)
			return rc;
		/* An optional field that arrived is present (custom ones
		 * mark themselves, the same way). */
		if (f[j].flags & ST_WF_OPTIONAL)
			memcpy((char *)base + f[j].aux, &(bool){ true }, sizeof(bool));
	}
	for (size_t j = 0; j < n; j++) {
		if (!(seen & (1ULL << j)) && !(f[j].flags & ST_WF_OPTIONAL))
			return st_wire_fail(x->err, ST_WIRE_E_MISSING, prefix,
					    f[j].name, "required field missing");
		if (j > 0 && (f[j].flags & ST_WF_PAIRED) &&
		    !(seen & (1ULL << j)) != !(seen & (1ULL << (j - 1)))) {
			size_t a = seen & (1ULL << j) ? j - 1 : j;

			return st_wire_fail(x->err, ST_WIRE_E_MISSING, prefix, f[a].name,
					    "sent with '%s', never without",
					    f[a == j ? j - 1 : j].name);
		}
	}
	return 0;
}

int st_wf_decode_msg(const void *buf, size_t len, const struct st_wfield *f,
		     size_t n, void *base, struct st_wctx *x)
{
	struct st_mp_cur c = { buf, (const uint8_t *)buf + len };
	struct st_mp_item top;
	int rc;

	rc = st_wire_scan(buf, len, NULL, x->err);
	if (rc)
		return rc;
	rc = st_mp_next(&c, &top, x->err);
	if (rc)
		return rc;
	if (top.type != ST_MP_MAP)
		return st_wire_fail(x->err, ST_WIRE_E_NOT_MAP, NULL, NULL,
				    "top level: expected map, got %s",
				    st_mp_type_name(top.type));
	return st_wf_decode_map(&c, &top, f, n, base, "", x);
}

int st_wf_encode_msg(const struct st_wfield *f, size_t n, const void *base,
		     struct st_wbuf *out)
{
	msgpack_packer pk;

	st_wbuf_reset(out);
	msgpack_packer_init(&pk, out, st_wbuf_mp_write);
	st_wf_encode(&pk, f, n, base);
	if (out->oom) {
		st_wbuf_reset(out);
		return -ENOMEM;
	}
	if (out->len > ST_WIRE_MAX_SIZE) {
		st_wbuf_reset(out);
		return -EMSGSIZE;
	}
	return 0;
}
