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

#define KF(kind_, m_, flags_) {						\
	.name = #m_, .kind = (kind_), .flags = (flags_),		\
	.off = offsetof(struct st_kpi, m_),				\
	.size = sizeof(((struct st_kpi *)0)->m_) }

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
