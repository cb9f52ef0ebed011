/* KPI snapshot message: the field table (which is the key order on the
 * wire) and the drops map, the one field the generic kinds do not cover. */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "wire.h"
#include "wire_priv.h"

static int drops_dec(struct st_mp_cur *c, const struct st_mp_item *v,
		     void *base, const char *prefix, struct st_wctx *x);
static int drops_check(const void *base, const char *prefix,
		       struct st_wire_error *err);
static void drops_enc(msgpack_packer *pk, const void *base);

static const struct st_wcustom drops_codec = {
	.dec = drops_dec, .check = drops_check, .enc = drops_enc,
};

static int chaos_kdec(struct st_mp_cur *c, const struct st_mp_item *v,
		      void *base, const char *prefix, struct st_wctx *x);
static int chaos_kcheck(const void *base, const char *prefix,
			struct st_wire_error *err);
static void chaos_kenc(msgpack_packer *pk, const void *base);

static const struct st_wcustom chaos_codec = {
	.dec = chaos_kdec, .check = chaos_kcheck, .enc = chaos_kenc,
};

#define KF(kind_, m_, flags_) ST_WF_MEMBER(struct st_kpi, kind_, m_, flags_)

static const struct st_wfield kpi_fields[] = {
	{ .name = "v", .kind = ST_WF_VERSION },
	KF(ST_WF_U64, seq, 0),
	KF(ST_WF_TEXT, src, ST_WF_NONEMPTY),
	KF(ST_WF_NAME, service, 0),
	KF(ST_WF_NAME, target, 0),
	KF(ST_WF_ROLE, role, 0),
	KF(ST_WF_U32, instances, 0),
	KF(ST_WF_U64, t0, 0),
	KF(ST_WF_U64, t1, 0),
	KF(ST_WF_U64, pkts, 0),
	KF(ST_WF_U64, bytes, 0),
	KF(ST_WF_U64, rx_pkts, 0),
	KF(ST_WF_U64, rx_bytes, 0),
	KF(ST_WF_U64, requests, 0),
	KF(ST_WF_U64, responses, 0),
	KF(ST_WF_U64, timeouts, 0),
	KF(ST_WF_U64, resets, 0),
	KF(ST_WF_U64, icmp_errors, 0),
	{ .name = "offered_rps", .kind = ST_WF_F64, .flags = ST_WF_RANGE,
	  .off = offsetof(struct st_kpi, offered_rps), .lo = 0,
	  .hi = DBL_MAX },
	{ .name = "drops", .kind = ST_WF_CUSTOM, .custom = &drops_codec },
	{ .name = "lat", .kind = ST_WF_BIN, .off = offsetof(struct st_kpi, lat),
	  .aux = offsetof(struct st_kpi, lat_len) },
	{ .name = "chaos", .kind = ST_WF_CUSTOM, .flags = ST_WF_OPTIONAL,
	  .aux = offsetof(struct st_kpi, has_chaos), .custom = &chaos_codec },
};

#define N_KPI_FIELDS (sizeof(kpi_fields) / sizeof(kpi_fields[0]))
_Static_assert(N_KPI_FIELDS <= 64, "the decoder's seen-mask is 64 bits");

static int drops_dec(struct st_mp_cur *c, const struct st_mp_item *v,
		     void *base, const char *prefix, struct st_wctx *x)
{
	struct st_kpi *k = base;

	if (v->type != ST_MP_MAP)
		return st_wire_fail(x->err, ST_WIRE_E_TYPE, prefix, "drops",
				    "expected map, got %s",
				    st_mp_type_name(v->type));
	if (v->len > ST_KPI_MAX_DROPS)
		return st_wire_fail(x->err, ST_WIRE_E_COUNT, prefix, "drops",
				    "%" PRIu32 " reasons, at most %d", v->len,
				    ST_KPI_MAX_DROPS);
	for (uint32_t i = 0; i < v->len; i++) {
		struct st_kpi_drop *d = &k->drops[i];
		struct st_mp_item key, val;
		char detail[sizeof(x->err->detail)];
		enum st_wire_err code;
		int rc;

		rc = st_mp_next(c, &key, x->err);
		if (rc)
			return rc;
		if (key.type != ST_MP_STR)
			return st_wire_fail(x->err, ST_WIRE_E_TYPE, prefix, "drops",
					    "reason: expected str, got %s",
					    st_mp_type_name(key.type));
		code = st_wire_check_text((const char *)key.ptr, key.len,
					  sizeof(d->reason), true, detail,
					  sizeof(detail));
		if (code != ST_WIRE_OK)
			return st_wire_fail(x->err, code, prefix, "drops",
					    "reason: %s", detail);
		memcpy(d->reason, key.ptr, key.len);
		d->reason[key.len] = '\0';
		/* Errors below name the path "drops.<reason>"; drops is a
		 * top-level field, so that is the whole path. */
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(k->drops[j].reason, d->reason) == 0)
				return st_wire_fail(x->err, ST_WIRE_E_DUPLICATE,
						    "drops.", d->reason,
						    "reason appears twice");
		rc = st_mp_next(c, &val, x->err);
		if (rc)
			return rc;
		rc = st_mp_get_u64(&val, &d->count, "drops.", d->reason, x->err);
		if (rc)
			return rc;
		/* Count the reason only once it is whole. */
		k->n_drops = i + 1;
	}
	return 0;
}

static int drops_check(const void *base, const char *prefix,
		       struct st_wire_error *err)
{
	const struct st_kpi *k = base;
	char detail[sizeof(err->detail)];

	if (k->n_drops > ST_KPI_MAX_DROPS) {
		st_wire_fail(err, ST_WIRE_E_COUNT, prefix, "drops",
			     "%" PRIu32 " reasons, at most %d", k->n_drops,
			     ST_KPI_MAX_DROPS);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < k->n_drops; i++) {
		const char *r = k->drops[i].reason;
		size_t len = strnlen(r, sizeof(k->drops[i].reason));
		enum st_wire_err code;

		code = st_wire_check_text(r, len, sizeof(k->drops[i].reason),
					  true, detail, sizeof(detail));
		if (code != ST_WIRE_OK) {
			st_wire_fail(err, code, prefix, "drops",
				     "reason %" PRIu32 ": %s", i, detail);
			return -EINVAL;
		}
		for (uint32_t j = 0; j < i; j++) {
			if (strcmp(k->drops[j].reason, r) == 0) {
				st_wire_fail(err, ST_WIRE_E_DUPLICATE, prefix,
					     "drops", "reason '%s' twice", r);
				return -EINVAL;
			}
		}
	}
	return 0;
}

static void drops_enc(msgpack_packer *pk, const void *base)
{
	const struct st_kpi *k = base;

	msgpack_pack_map(pk, k->n_drops);
	for (uint32_t i = 0; i < k->n_drops; i++) {
		const char *r = k->drops[i].reason;

		st_mp_pack_str(pk, r, strlen(r));
		msgpack_pack_uint64(pk, k->drops[i].count);
	}
}

/* ---- chaos: {<param>: text..., loss: double, down: text, respread: bool} ---- */

static bool chaos_typed_key(const char *k, size_t len)
{
	return (len == 4 && memcmp(k, "loss", 4) == 0) ||
	       (len == 4 && memcmp(k, "down", 4) == 0) ||
	       (len == 8 && memcmp(k, "respread", 8) == 0);
}

int st_chaos_dec(struct st_mp_cur *c, const struct st_mp_item *v, struct st_chaos *out,
		 const char *path, struct st_wctx *x)
{
	/* which of loss, down, respread arrived: a second one is a duplicate */
	bool seen[3] = { false, false, false };

	memset(out, 0, sizeof(*out));
	if (v->type != ST_MP_MAP)
		return st_wire_fail(x->err, ST_WIRE_E_TYPE, path, NULL,
				    "expected map, got %s", st_mp_type_name(v->type));
	for (uint32_t i = 0; i < v->len; i++) {
		char detail[sizeof(x->err->detail)], name[ST_WIRE_LABEL_MAX];
		struct st_mp_item key, val;
		enum st_wire_err code;
		int rc, slot;

		rc = st_mp_next(c, &key, x->err);
		if (rc)
			return rc;
		if (key.type != ST_MP_STR)
			return st_wire_fail(x->err, ST_WIRE_E_MALFORMED, path, NULL,
					    "key %" PRIu32 ": expected str, got %s", i,
					    st_mp_type_name(key.type));
		rc = st_mp_next(c, &val, x->err);
		if (rc)
			return rc;
		code = st_wire_check_text((const char *)key.ptr, key.len, sizeof(name), true,
					  detail, sizeof(detail));
		if (code != ST_WIRE_OK) {
			/* a key this decoder could not even hold: not one of ours */
			x->unknown++;
			rc = st_mp_skip(c, &val, x->err);
			if (rc)
				return rc;
			continue;
		}
		memcpy(name, key.ptr, key.len);
		name[key.len] = '\0';
		slot = strcmp(name, "loss") == 0 ? 0 : strcmp(name, "down") == 0 ? 1 :
		       strcmp(name, "respread") == 0 ? 2 : -1;
		if (slot >= 0) {
			if (seen[slot])
				return st_wire_fail(x->err, ST_WIRE_E_DUPLICATE, path, name,
						    "key appears twice");
			seen[slot] = true;
		}
		if (slot == 0) {
			rc = st_mp_get_f64(&val, &out->loss, path, name, x->err);
			if (rc)
				return rc;
			if (!(out->loss >= 0 && out->loss <= 1))
				return st_wire_fail(x->err, ST_WIRE_E_VALUE, path, name,
						    "%g is not in [0, 1]", out->loss);
		} else if (slot == 1) {
			if (val.type != ST_MP_STR)
				return st_wire_fail(x->err, ST_WIRE_E_TYPE, path, name,
						    "expected str, got %s",
						    st_mp_type_name(val.type));
			code = st_wire_check_text((const char *)val.ptr, val.len,
						  sizeof(out->down), false, detail, sizeof(detail));
			if (code != ST_WIRE_OK)
				return st_wire_fail(x->err, code, path, name, "%s", detail);
			memcpy(out->down, val.ptr, val.len);
			out->down[val.len] = '\0';
		} else if (slot == 2) {
			if (val.type != ST_MP_BOOL)
				return st_wire_fail(x->err, ST_WIRE_E_TYPE, path, name,
						    "expected bool, got %s",
						    st_mp_type_name(val.type));
			out->respread = val.v.b;
		} else if (val.type == ST_MP_STR && out->n_params < ST_CHAOS_MAX_PARAMS) {
			struct st_chaos_param *p = &out->params[out->n_params];

			for (uint32_t j = 0; j < out->n_params; j++)
				if (strcmp(out->params[j].key, name) == 0)
					return st_wire_fail(x->err, ST_WIRE_E_DUPLICATE, path,
							    name, "key appears twice");
			code = st_wire_check_text((const char *)val.ptr, val.len,
						  sizeof(p->value), false, detail, sizeof(detail));
			if (code != ST_WIRE_OK)
				return st_wire_fail(x->err, code, path, name, "%s", detail);
			memcpy(p->key, name, key.len + 1);
			memcpy(p->value, val.ptr, val.len);
			p->value[val.len] = '\0';
			out->n_params++;
		} else {
			/* not text, or no room: a newer dataplane's, not ours */
			x->unknown++;
			rc = st_mp_skip(c, &val, x->err);
			if (rc)
				return rc;
		}
	}
	return 0;
}

int st_chaos_check(const struct st_chaos *c, const char *path, struct st_wire_error *err)
{
	char detail[128];
	enum st_wire_err code;

	if (!(c->loss >= 0 && c->loss <= 1)) {
		st_wire_fail(err, ST_WIRE_E_VALUE, path, "loss", "%g is not in [0, 1]", c->loss);
		return -EINVAL;
	}
	code = st_wire_check_text(c->down, strnlen(c->down, sizeof(c->down)), sizeof(c->down),
				  false, detail, sizeof(detail));
	if (code != ST_WIRE_OK) {
		st_wire_fail(err, code, path, "down", "%s", detail);
		return -EINVAL;
	}
	if (c->n_params > ST_CHAOS_MAX_PARAMS) {
		st_wire_fail(err, ST_WIRE_E_COUNT, path, NULL, "%" PRIu32 " params, at most %d",
			     c->n_params, ST_CHAOS_MAX_PARAMS);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < c->n_params; i++) {
		const struct st_chaos_param *p = &c->params[i];
		size_t kl = strnlen(p->key, sizeof(p->key));

		code = st_wire_check_text(p->key, kl, sizeof(p->key), true, detail,
					  sizeof(detail));
		if (code == ST_WIRE_OK && chaos_typed_key(p->key, kl)) {
			code = ST_WIRE_E_VALUE;
			snprintf(detail, sizeof(detail), "'%s' is not a param", p->key);
		}
		if (code == ST_WIRE_OK)
			code = st_wire_check_text(p->value, strnlen(p->value, sizeof(p->value)),
						  sizeof(p->value), false, detail, sizeof(detail));
		for (uint32_t j = 0; code == ST_WIRE_OK && j < i; j++)
			if (strcmp(c->params[j].key, p->key) == 0) {
				code = ST_WIRE_E_DUPLICATE;
				snprintf(detail, sizeof(detail), "'%s' twice", p->key);
			}
		if (code != ST_WIRE_OK) {
			st_wire_fail(err, code, path, NULL, "param %" PRIu32 ": %s", i, detail);
			return -EINVAL;
		}
	}
	return 0;
}

void st_chaos_pack(msgpack_packer *pk, const struct st_chaos *c)
{
	msgpack_pack_map(pk, 3 + c->n_params);
	for (uint32_t i = 0; i < c->n_params; i++) {
		st_wire_pack_cstr(pk, c->params[i].key);
		st_wire_pack_cstr(pk, c->params[i].value);
	}
	st_wire_pack_cstr(pk, "loss");
	msgpack_pack_double(pk, c->loss);
	st_wire_pack_cstr(pk, "down");
	st_wire_pack_cstr(pk, c->down);
	st_wire_pack_cstr(pk, "respread");
	if (c->respread)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

const char *st_chaos_param(const struct st_chaos *c, const char *key)
{
	for (uint32_t i = 0; i < c->n_params && i < ST_CHAOS_MAX_PARAMS; i++)
		if (strcmp(c->params[i].key, key) == 0)
			return c->params[i].value;
	return NULL;
}

static int chaos_kdec(struct st_mp_cur *c, const struct st_mp_item *v,
		      void *base, const char *prefix, struct st_wctx *x)
{
	(void)prefix;
	return st_chaos_dec(c, v, &((struct st_kpi *)base)->chaos, "chaos.", x);
}

static int chaos_kcheck(const void *base, const char *prefix,
			struct st_wire_error *err)
{
	(void)prefix;
	return st_chaos_check(&((const struct st_kpi *)base)->chaos, "chaos.", err);
}

static void chaos_kenc(msgpack_packer *pk, const void *base)
{
	st_chaos_pack(pk, &((const struct st_kpi *)base)->chaos);
}

/* What no single field can say on its own. */
static int kpi_cross_check(const struct st_kpi *k, struct st_wire_error *err)
{
	if (k->t0 > k->t1)
		return st_wire_fail(err, ST_WIRE_E_VALUE, NULL, "t1",
				    "window ends (%" PRIu64 ") before it starts"
				    " (%" PRIu64 ")", k->t1, k->t0);
	return 0;
}

int st_kpi_check(const struct st_kpi *k, struct st_wire_error *err)
{
	if (st_wf_check(kpi_fields, N_KPI_FIELDS, k, "", err))
		return -EINVAL;
	if (kpi_cross_check(k, err))
		return -EINVAL;
	return 0;
}

int st_kpi_encode(const struct st_kpi *k, struct st_wbuf *out)
{
	int rc = st_kpi_check(k, NULL);

	if (rc) {
		st_wbuf_reset(out);
		return rc;
	}
	return st_wf_encode_msg(kpi_fields, N_KPI_FIELDS, k, out);
}

int st_kpi_decode(const void *buf, size_t len, struct st_kpi *out,
		  struct st_wire_error *err)
{
	struct st_wctx x = { .err = err };
	int rc;

	memset(out, 0, sizeof(*out));
	rc = st_wf_decode_msg(buf, len, kpi_fields, N_KPI_FIELDS, out, &x);
	if (rc == 0)
		rc = kpi_cross_check(out, err);
	out->unknown_keys = x.unknown;
	return rc;
}

int st_kpi_topic(const struct st_kpi *k, char *buf, size_t len)
{
	size_t ls = strnlen(k->service, sizeof(k->service));
	size_t lt = strnlen(k->target, sizeof(k->target));
	int n;

	if (!st_wire_name_ok(k->service, ls) || !st_wire_name_ok(k->target, lt))
		return -EINVAL;
	n = snprintf(buf, len, ST_KPI_TOPIC_PREFIX "%s.%s", k->service,
		     k->target);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}
