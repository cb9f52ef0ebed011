/* Verdict message: the field tables of the verdict and of its nested
 * records (kpis[], model, model.params, cost, resilience), in wire key
 * order. */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "wire.h"
#include "wire_priv.h"

#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

#define MF ST_WF_MEMBER
#define MF_RANGE(type_, m_, lo_, hi_) {					\
	.name = #m_, .kind = ST_WF_F64, .flags = ST_WF_RANGE,		\
	.off = offsetof(type_, m_), .lo = (lo_), .hi = (hi_) }

/* ---- kpis[] ---- */

static const struct st_wfield vkpi_fields[] = {
	MF(struct st_verdict_kpi, ST_WF_TEXT, name, ST_WF_NONEMPTY),
	MF(struct st_verdict_kpi, ST_WF_TEXT, unit, 0),
	MF(struct st_verdict_kpi, ST_WF_F64, predicted, 0),
	MF(struct st_verdict_kpi, ST_WF_F64, observed, 0),
	MF(struct st_verdict_kpi, ST_WF_F64, ratio, 0),
	MF(struct st_verdict_kpi, ST_WF_F64, ci_low, 0),
	MF(struct st_verdict_kpi, ST_WF_F64, ci_high, 0),
	MF(struct st_verdict_kpi, ST_WF_U64, n, 0),
	MF(struct st_verdict_kpi, ST_WF_STATUS, status, 0),
	MF(struct st_verdict_kpi, ST_WF_BOOL, critical, 0),
};

/* "kpis[i]." without snprintf, which would cost more than decoding the
 * record. kpis is a top-level field, so that is the whole path. */
static void kpi_path(char path[24], uint32_t i)
{
	char digits[10];
	int n = 0;

	do {
		digits[n++] = (char)('0' + i % 10);
		i /= 10;
	} while (i > 0);
	memcpy(path, "kpis[", 5);
	for (int j = 0; j < n; j++)
		path[5 + j] = digits[n - 1 - j];
	memcpy(path + 5 + n, "].", 3);
}

static int kpis_dec(struct st_mp_cur *c, const struct st_mp_item *v,
		    void *base, const char *prefix, struct st_wctx *x)
{
	struct st_verdict *vd = base;

	if (v->type != ST_MP_ARRAY)
		return st_wire_fail(x->err, ST_WIRE_E_TYPE, prefix, "kpis",
				    "expected array, got %s",
				    st_mp_type_name(v->type));
	if (v->len > ST_VERDICT_MAX_KPIS)
		return st_wire_fail(x->err, ST_WIRE_E_COUNT, prefix, "kpis",
				    "%" PRIu32 " kpis, at most %d", v->len,
				    ST_VERDICT_MAX_KPIS);
	for (uint32_t i = 0; i < v->len; i++) {
		struct st_mp_item it;
		char path[24];
		int rc;

		kpi_path(path, i);
		rc = st_mp_next(c, &it, x->err);
		if (rc)
			return rc;
		if (it.type != ST_MP_MAP)
			return st_wire_fail(x->err, ST_WIRE_E_NOT_MAP, path, NULL,
					    "expected map, got %s",
					    st_mp_type_name(it.type));
		rc = st_wf_decode_map(c, &it, vkpi_fields, NFIELDS(vkpi_fields),
				      &vd->kpis[i], path, x);
		if (rc)
			return rc;
		vd->n_kpis = i + 1;
	}
	return 0;
}

static int kpis_check(const void *base, const char *prefix,
		      struct st_wire_error *err)
{
	const struct st_verdict *vd = base;

	if (vd->n_kpis > ST_VERDICT_MAX_KPIS) {
		st_wire_fail(err, ST_WIRE_E_COUNT, prefix, "kpis",
			     "%" PRIu32 " kpis, at most %d", vd->n_kpis,
			     ST_VERDICT_MAX_KPIS);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < vd->n_kpis; i++) {
		char path[24];

		kpi_path(path, i);
		if (st_wf_check(vkpi_fields, NFIELDS(vkpi_fields),
				&vd->kpis[i], path, err))
			return -EINVAL;
	}
	return 0;
}

static void kpis_enc(msgpack_packer *pk, const void *base)
{
	const struct st_verdict *vd = base;

	msgpack_pack_array(pk, vd->n_kpis);
	for (uint32_t i = 0; i < vd->n_kpis; i++)
		st_wf_encode(pk, vkpi_fields, NFIELDS(vkpi_fields),
			     &vd->kpis[i]);
}

static const struct st_wcustom kpis_codec = {
	.dec = kpis_dec, .check = kpis_check, .enc = kpis_enc,
};

/* ---- model.params: name -> finite double ---- */

#define PARAMS_PATH "model.params."

static int params_dec(struct st_mp_cur *c, const struct st_mp_item *v,
		      void *base, const char *prefix, struct st_wctx *x)
{
	struct st_model *m = base;

	if (v->type != ST_MP_MAP)
		return st_wire_fail(x->err, ST_WIRE_E_TYPE, prefix, "params",
				    "expected map, got %s",
				    st_mp_type_name(v->type));
	if (v->len > ST_MODEL_MAX_PARAMS)
		return st_wire_fail(x->err, ST_WIRE_E_COUNT, prefix, "params",
				    "%" PRIu32 " params, at most %d", v->len,
				    ST_MODEL_MAX_PARAMS);
	for (uint32_t i = 0; i < v->len; i++) {
		struct st_model_param *p = &m->params[i];
		char detail[sizeof(x->err->detail)];
		struct st_mp_item key, val;
		enum st_wire_err code;
		int rc;

		rc = st_mp_next(c, &key, x->err);
		if (rc)
			return rc;
		if (key.type != ST_MP_STR)
			return st_wire_fail(x->err, ST_WIRE_E_TYPE, prefix,
					    "params", "name: expected str, got %s",
					    st_mp_type_name(key.type));
		code = st_wire_check_text((const char *)key.ptr, key.len,
					  sizeof(p->name), true, detail,
					  sizeof(detail));
		if (code != ST_WIRE_OK)
			return st_wire_fail(x->err, code, prefix, "params",
					    "name: %s", detail);
		memcpy(p->name, key.ptr, key.len);
		p->name[key.len] = '\0';
		/* params only exists inside model: the error path is
		 * "model.params.<name>". */
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(m->params[j].name, p->name) == 0)
				return st_wire_fail(x->err, ST_WIRE_E_DUPLICATE,
						    PARAMS_PATH, p->name,
						    "param appears twice");
		rc = st_mp_next(c, &val, x->err);
		if (rc)
			return rc;
		rc = st_mp_get_f64(&val, &p->value, PARAMS_PATH, p->name,
				   x->err);
		if (rc)
			return rc;
		if (!isfinite(p->value))
			return st_wire_fail(x->err, ST_WIRE_E_VALUE, PARAMS_PATH,
					    p->name, "%g is not finite",
					    p->value);
		m->n_params = i + 1;
	}
	return 0;
}

static int params_check(const void *base, const char *prefix,
			struct st_wire_error *err)
{
	const struct st_model *m = base;
	char detail[sizeof(err->detail)];

	if (m->n_params > ST_MODEL_MAX_PARAMS) {
		st_wire_fail(err, ST_WIRE_E_COUNT, prefix, "params",
			     "%" PRIu32 " params, at most %d", m->n_params,
			     ST_MODEL_MAX_PARAMS);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < m->n_params; i++) {
		const struct st_model_param *p = &m->params[i];
		size_t len = strnlen(p->name, sizeof(p->name));
		enum st_wire_err code;

		code = st_wire_check_text(p->name, len, sizeof(p->name), true,
					  detail, sizeof(detail));
		if (code == ST_WIRE_OK && !isfinite(p->value)) {
			snprintf(detail, sizeof(detail), "%g is not finite",
				 p->value);
			code = ST_WIRE_E_VALUE;
		}
		for (uint32_t j = 0; code == ST_WIRE_OK && j < i; j++) {
			if (strcmp(m->params[j].name, p->name) == 0) {
				snprintf(detail, sizeof(detail),
					 "'%s' twice", p->name);
				code = ST_WIRE_E_DUPLICATE;
			}
		}
		if (code != ST_WIRE_OK) {
			st_wire_fail(err, code, prefix, "params",
				     "param %" PRIu32 ": %s", i, detail);
			return -EINVAL;
		}
	}
	return 0;
}

static void params_enc(msgpack_packer *pk, const void *base)
{
	const struct st_model *m = base;

	msgpack_pack_map(pk, m->n_params);
	for (uint32_t i = 0; i < m->n_params; i++) {
		st_mp_pack_str(pk, m->params[i].name,
			       strlen(m->params[i].name));
		msgpack_pack_double(pk, m->params[i].value);
	}
}

static const struct st_wcustom params_codec = {
	.dec = params_dec, .check = params_check, .enc = params_enc,
};

/* ---- model ---- */

static const struct st_wfield model_fields[] = {
	MF(struct st_model, ST_WF_TEXT, kind, ST_WF_NONEMPTY),
	MF(struct st_model, ST_WF_U64, version, 0),
	{ .name = "params", .kind = ST_WF_CUSTOM, .custom = &params_codec },
};

/* ---- cost ---- */

static const struct st_wfield cost_fields[] = {
	MF_RANGE(struct st_cost, current, 0, DBL_MAX),
	MF_RANGE(struct st_cost, proposed, 0, DBL_MAX),
	MF_RANGE(struct st_cost, recommended, 0, DBL_MAX),
};

/* A nested record: the map at `name` holds the struct at `off` of the
 * verdict, described by its own table. */
struct record {
	const char *name;
	const char *path;
	size_t off;
	const struct st_wfield *fields;
	size_t n;
};

static const struct record model_rec = {
	"model", "model.", offsetof(struct st_verdict, model), model_fields,
	NFIELDS(model_fields),
};
static const struct record cost_rec = {
	"cost", "cost.", offsetof(struct st_verdict, cost), cost_fields,
	NFIELDS(cost_fields),
};

static int record_dec(const struct record *r, struct st_mp_cur *c,
		      const struct st_mp_item *v, void *base,
		      const char *prefix, struct st_wctx *x)
{
	if (v->type != ST_MP_MAP)
		return st_wire_fail(x->err, ST_WIRE_E_TYPE, prefix, r->name,
				    "expected map, got %s",
				    st_mp_type_name(v->type));
	return st_wf_decode_map(c, v, r->fields, r->n, (char *)base + r->off,
				r->path, x);
}

static int record_check(const struct record *r, const void *base,
			struct st_wire_error *err)
{
	return st_wf_check(r->fields, r->n, (const char *)base + r->off,
			   r->path, err);
}

static void record_enc(const struct record *r, msgpack_packer *pk,
		       const void *base)
{
	st_wf_encode(pk, r->fields, r->n, (const char *)base + r->off);
}

static int model_dec(struct st_mp_cur *c, const struct st_mp_item *v,
		     void *base, const char *prefix, struct st_wctx *x)
{
	return record_dec(&model_rec, c, v, base, prefix, x);
}

static int model_check(const void *base, const char *prefix,
		       struct st_wire_error *err)
{
	(void)prefix;
	return record_check(&model_rec, base, err);
}

static void model_enc(msgpack_packer *pk, const void *base)
{
	record_enc(&model_rec, pk, base);
}

static int cost_dec(struct st_mp_cur *c, const struct st_mp_item *v,
		    void *base, const char *prefix, struct st_wctx *x)
{
	return record_dec(&cost_rec, c, v, base, prefix, x);
}

static int cost_check(const void *base, const char *prefix,
		      struct st_wire_error *err)
{
	(void)prefix;
	return record_check(&cost_rec, base, err);
}

static void cost_enc(msgpack_packer *pk, const void *base)
{
	record_enc(&cost_rec, pk, base);
}

static const struct st_wcustom model_codec = {
	.dec = model_dec, .check = model_check, .enc = model_enc,
};
static const struct st_wcustom cost_codec = {
	.dec = cost_dec, .check = cost_check, .enc = cost_enc,
};

/* ---- resilience, and its chaos map ---- */

static int rchaos_dec(struct st_mp_cur *c, const struct st_mp_item *v,
		      void *base, const char *prefix, struct st_wctx *x)
{
	(void)prefix;
	return st_chaos_dec(c, v, &((struct st_resilience *)base)->chaos,
			    "resilience.chaos.", x);
}

static int rchaos_check(const void *base, const char *prefix,
			struct st_wire_error *err)
{
	(void)prefix;
	return st_chaos_check(&((const struct st_resilience *)base)->chaos,
			      "resilience.chaos.", err);
}

static void rchaos_enc(msgpack_packer *pk, const void *base)
{
	st_chaos_pack(pk, &((const struct st_resilience *)base)->chaos);
}

static const struct st_wcustom rchaos_codec = {
	.dec = rchaos_dec, .check = rchaos_check, .enc = rchaos_enc,
};

#define RF(kind_, m_, flags_) MF(struct st_resilience, kind_, m_, flags_)

static const struct st_wfield resilience_fields[] = {
	RF(ST_WF_NAME, shadow, 0),
	RF(ST_WF_U32, instances, 0),
	RF(ST_WF_U32, down, 0),
	RF(ST_WF_BOOL, respread, 0),
	RF(ST_WF_U32, windows, 0),
	RF(ST_WF_U64, samples, 0),
	MF_RANGE(struct st_resilience, rps_per_instance, 0, DBL_MAX),
	RF(ST_WF_F64, p99, 0),
	RF(ST_WF_F64, p99_healthy, 0),
	RF(ST_WF_F64, error_rate, 0),
	RF(ST_WF_BOOL, slo_met, 0),
	RF(ST_WF_U32, recommended_instances, 0),
	RF(ST_WF_BOOL, reachable, 0),
	RF(ST_WF_F64, p99_proposed, 0),
	RF(ST_WF_F64, p99_recommended, 0),
	{ .name = "chaos", .kind = ST_WF_CUSTOM, .flags = ST_WF_OPTIONAL,
	  .aux = offsetof(struct st_resilience, has_chaos), .custom = &rchaos_codec },
	RF(ST_WF_TEXT, reason, 0),
};

static const struct record resilience_rec = {
	"resilience", "resilience.", offsetof(struct st_verdict, resilience),
	resilience_fields, NFIELDS(resilience_fields),
};

static int resilience_dec(struct st_mp_cur *c, const struct st_mp_item *v,
			  void *base, const char *prefix, struct st_wctx *x)
{
	return record_dec(&resilience_rec, c, v, base, prefix, x);
}

static int resilience_check(const void *base, const char *prefix,
			    struct st_wire_error *err)
{
	(void)prefix;
	return record_check(&resilience_rec, base, err);
}

static void resilience_enc(msgpack_packer *pk, const void *base)
{
	record_enc(&resilience_rec, pk, base);
}

static const struct st_wcustom resilience_codec = {
	.dec = resilience_dec, .check = resilience_check, .enc = resilience_enc,
};

/* ---- verdict ---- */

#define VF(kind_, m_, flags_) MF(struct st_verdict, kind_, m_, flags_)

static const struct st_wfield verdict_fields[] = {
	{ .name = "v", .kind = ST_WF_VERSION },
	VF(ST_WF_U64, seq, 0),
	VF(ST_WF_U64, t, 0),
	VF(ST_WF_NAME, service, 0),
	VF(ST_WF_NAME, shadow, 0),
	VF(ST_WF_VERDICT, verdict, 0),
	VF(ST_WF_U32, current_instances, 0),
	VF(ST_WF_U32, proposed_instances, 0),
	VF(ST_WF_U32, recommended_instances, 0),
	MF_RANGE(struct st_verdict, confidence, 0, 1),
	MF_RANGE(struct st_verdict, score, 0, 100),
	MF_RANGE(struct st_verdict, forecast_rps, 0, DBL_MAX),
	MF_RANGE(struct st_verdict, observed_rps_per_instance, 0, DBL_MAX),
	{ .name = "kpis", .kind = ST_WF_CUSTOM, .custom = &kpis_codec },
	{ .name = "model", .kind = ST_WF_CUSTOM, .custom = &model_codec },
	{ .name = "cost", .kind = ST_WF_CUSTOM, .flags = ST_WF_OPTIONAL,
	  .aux = offsetof(struct st_verdict, has_cost),
	  .custom = &cost_codec },
	VF(ST_WF_TEXT, reason, 0),
	{ .name = "verified", .kind = ST_WF_BOOL, .flags = ST_WF_OPTIONAL,
	  .off = offsetof(struct st_verdict, verified),
	  .aux = offsetof(struct st_verdict, has_verified) },
	{ .name = "verified_reason", .kind = ST_WF_TEXT, .flags = ST_WF_OPTIONAL | ST_WF_PAIRED,
	  .off = offsetof(struct st_verdict, verified_reason),
	  .size = sizeof(((struct st_verdict *)0)->verified_reason),
	  .aux = offsetof(struct st_verdict, has_verified) },
	{ .name = "resilience", .kind = ST_WF_CUSTOM, .flags = ST_WF_OPTIONAL,
	  .aux = offsetof(struct st_verdict, has_resilience),
	  .custom = &resilience_codec },
};

_Static_assert(NFIELDS(verdict_fields) <= 64, "seen-mask is 64 bits");

int st_verdict_check(const struct st_verdict *v, struct st_wire_error *err)
{
	if (st_wf_check(verdict_fields, NFIELDS(verdict_fields), v, "", err))
		return -EINVAL;
	return 0;
}

int st_verdict_encode(const struct st_verdict *v, struct st_wbuf *out)
{
	int rc = st_verdict_check(v, NULL);

	if (rc) {
		st_wbuf_reset(out);
		return rc;
	}
	return st_wf_encode_msg(verdict_fields, NFIELDS(verdict_fields), v,
				out);
}

int st_verdict_decode(const void *buf, size_t len, struct st_verdict *out,
		      struct st_wire_error *err)
{
	struct st_wctx x = { .err = err };
	int rc;

	memset(out, 0, sizeof(*out));
	rc = st_wf_decode_msg(buf, len, verdict_fields,
			      NFIELDS(verdict_fields), out, &x);
	out->unknown_keys = x.unknown;
	return rc;
}

int st_verdict_topic(const struct st_verdict *v, char *buf, size_t len)
{
	size_t ls = strnlen(v->service, sizeof(v->service));
	int n;

	if (!st_wire_name_ok(v->service, ls))
		return -EINVAL;
	n = snprintf(buf, len, ST_VERDICT_TOPIC_PREFIX "%s", v->service);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}
