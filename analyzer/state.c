#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "engine_priv.h"
#include "noise.h"
#include "state.h"

#define MAGIC "STAN"
#define HDR_LEN 16
#define FORMAT_NAME "shadowtap-analyzer-state"

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* --- encoding ----------------------------------------------------------------- */

static void pk_fit(msgpack_packer *pk, const struct an_fit *f)
{
	msgpack_pack_array(pk, 6);
	msgpack_pack_double(pk, f->mu);
	msgpack_pack_double(pk, f->d0);
	msgpack_pack_double(pk, f->w);
	msgpack_pack_double(pk, f->v);
	msgpack_pack_double(pk, f->cs2);
	msgpack_pack_double(pk, f->vc);
}

static void pk_model(msgpack_packer *pk, const struct an_model *m)
{
	msgpack_pack_map(pk, 14);
	st_wire_pack_cstr(pk, "version");
	msgpack_pack_uint64(pk, m->version);
	st_wire_pack_cstr(pk, "form");
	st_wire_pack_cstr(pk, an_form_name(m->form));
	st_wire_pack_cstr(pk, "prod");
	msgpack_pack_array(pk, AN_FORM__COUNT);
	for (int i = 0; i < AN_FORM__COUNT; i++)
		pk_fit(pk, &m->prod[i]);
	st_wire_pack_cstr(pk, "shadow");
	msgpack_pack_array(pk, AN_FORM__COUNT);
	for (int i = 0; i < AN_FORM__COUNT; i++)
		pk_fit(pk, &m->shadow[i]);
	st_wire_pack_cstr(pk, "score");
	msgpack_pack_array(pk, AN_FORM__COUNT);
	for (int i = 0; i < AN_FORM__COUNT; i++)
		msgpack_pack_double(pk, m->score[i]);
	st_wire_pack_cstr(pk, "scored");
	msgpack_pack_array(pk, AN_FORM__COUNT);
	for (int i = 0; i < AN_FORM__COUNT; i++)
		msgpack_pack_uint32(pk, m->scored[i]);
	st_wire_pack_cstr(pk, "form_diff");
	msgpack_pack_array(pk, AN_FORM__COUNT);
	for (int i = 0; i < AN_FORM__COUNT; i++) {
		msgpack_pack_array(pk, 2);
		msgpack_pack_double(pk, m->diff_m[i]);
		msgpack_pack_double(pk, m->diff_v[i]);
	}
	st_wire_pack_cstr(pk, "usl");
	msgpack_pack_array(pk, m->n_usl);
	for (uint32_t i = 0; i < m->n_usl; i++) {
		msgpack_pack_array(pk, 14);
		msgpack_pack_double(pk, m->usl[i].lam);
		msgpack_pack_double(pk, m->usl[i].conc);
		msgpack_pack_double(pk, m->usl[i].w);
		for (int q = 0; q < 4; q++)
			msgpack_pack_double(pk, m->usl[i].stat[q]);
		msgpack_pack_uint32(pk, m->usl[i].c);
		for (int q = 0; q < 4; q++)
			msgpack_pack_double(pk, m->usl[i].var[q]);
		msgpack_pack_double(pk, m->usl[i].vw);
		msgpack_pack_double(pk, m->usl[i].s2);
	}
	st_wire_pack_cstr(pk, "usl_ok");
	if (m->usl_ok)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	st_wire_pack_cstr(pk, "usl_params");
	msgpack_pack_array(pk, 3);
	msgpack_pack_double(pk, m->usl_g);
	msgpack_pack_double(pk, m->usl_s);
	msgpack_pack_double(pk, m->usl_k);
	st_wire_pack_cstr(pk, "rates");
	msgpack_pack_array(pk, 4);
	msgpack_pack_double(pk, m->rate_err);
	msgpack_pack_double(pk, m->rate_to);
	msgpack_pack_double(pk, m->rate_rst);
	msgpack_pack_double(pk, m->rate_w);
	st_wire_pack_cstr(pk, "windows_prod");
	msgpack_pack_uint64(pk, m->windows_prod);
	st_wire_pack_cstr(pk, "windows_shadow");
	msgpack_pack_uint64(pk, m->windows_shadow);
	st_wire_pack_cstr(pk, "saved_by");
	st_wire_pack_cstr(pk, "shadowtap-analyzer");
}

static void pk_noise(msgpack_packer *pk, const struct an_judge_state *js)
{
	msgpack_pack_map(pk, 2);
	for (int which = 0; which < 2; which++) {
		st_wire_pack_cstr(pk, which ? "s2" : "d");
		msgpack_pack_array(pk, AN_AA_KPIS);
		for (int k = 0; k < AN_AA_KPIS; k++) {
			uint32_t n = js->aa_n[k];

			msgpack_pack_array(pk, n);
			/* oldest first */
			for (uint32_t i = 0; i < n; i++) {
				uint32_t at = (js->aa_head[k] + AN_AA_MAX - n + i) % AN_AA_MAX;

				msgpack_pack_double(pk, which ? js->aa_s2[k][at] : js->aa_d[k][at]);
			}
		}
	}
}

static void pk_service(msgpack_packer *pk, const char *name, const struct an_model *m,
		       const struct an_judge_state *js)
{
	msgpack_pack_map(pk, 3);
	st_wire_pack_cstr(pk, "name");
	st_wire_pack_cstr(pk, name);
	st_wire_pack_cstr(pk, "model");
	pk_model(pk, m);
	st_wire_pack_cstr(pk, "noise");
	pk_noise(pk, js);
}

static int encode_state(const struct an_state *st, struct an_engine *e, uint64_t now,
			struct st_wbuf *out)
{
	msgpack_packer pk;
	uint32_t n = st ? st->n : an_engine_n_services(e);
	uint8_t *h;

	st_wbuf_reset(out);
	if (st_wbuf_reserve(out, HDR_LEN) != 0)
		return -ENOMEM;
	out->len = HDR_LEN;
	msgpack_packer_init(&pk, out, st_wbuf_mp_write);
	msgpack_pack_map(&pk, 3);
	st_wire_pack_cstr(&pk, "format");
	st_wire_pack_cstr(&pk, FORMAT_NAME);
	st_wire_pack_cstr(&pk, "saved");
	msgpack_pack_uint64(&pk, st ? st->saved : now);
	st_wire_pack_cstr(&pk, "services");
	msgpack_pack_array(&pk, n);
	for (uint32_t i = 0; i < n; i++) {
		if (st != NULL) {
			pk_service(&pk, st->svc[i].name, &st->svc[i].model, &st->svc[i].js);
		} else {
			const struct an_service *s = an_engine_service_at(e, i);

			pk_service(&pk, s->name, &s->model, &s->js);
		}
	}
	if (out->oom || out->len - HDR_LEN > UINT32_MAX)
		return -ENOMEM;
	h = out->data;
	memcpy(h, MAGIC, 4);
	put_be32(h + 4, AN_STATE_VERSION);
	put_be32(h + 8, (uint32_t)(out->len - HDR_LEN));
	put_be32(h + 12, st_crc32c(0, h + HDR_LEN, out->len - HDR_LEN));
	return 0;
}

int an_state_encode(struct an_engine *e, uint64_t now_ns, struct st_wbuf *out)
{
	return encode_state(NULL, e, now_ns, out);
}

int an_state_reencode(const struct an_state *st, struct st_wbuf *out)
{
	return encode_state(st, NULL, 0, out);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int an_state_save(struct an_engine *e, const char *path, uint64_t now_ns,
		  struct st_perr *err)
{
	struct st_wbuf b;
	char tmp[AN_PATH_MAX + 32], dir[AN_PATH_MAX], *slash;
	int fd = -1, rc;

	st_wbuf_init(&b);
	rc = an_state_encode(e, now_ns, &b);
	if (rc != 0) {
		snprintf(err->msg, sizeof(err->msg), "state: out of memory");
		goto out;
	}
	/* never a file the next start refuses (and exits on) */
	if (b.len > AN_STATE_MAX_FILE) {
		rc = -EFBIG;
		snprintf(err->msg, sizeof(err->msg),
			 "state: %zu bytes for %u services, more than a state file holds (%u): not saved",
			 b.len, an_engine_n_services(e), AN_STATE_MAX_FILE);
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		snprintf(err->msg, sizeof(err->msg), "%.120s: %s", tmp, strerror(errno));
		goto out;
	}
	rc = write_all(fd, b.data, b.len);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	fd = -1;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc != 0) {
		snprintf(err->msg, sizeof(err->msg), "%.120s: %s", path, strerror(-rc));
		unlink(tmp);
		goto out;
	}
	/* The rename is durable once the directory is. */
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash != NULL) {
		*(slash == dir ? slash + 1 : slash) = '\0';
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
out:
	st_wbuf_free(&b);
	return rc;
}

/* --- parsing ------------------------------------------------------------------ */

struct pctx {
	struct st_perr *err;
	char path[96];
};

static int bad(struct pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(struct pctx *c, const char *fmt, ...)
{
	char why[96];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(c->err->msg, sizeof(c->err->msg), "state: %.80s: %.90s", c->path, why);
	return -EINVAL;
}

static const msgpack_object *field(struct pctx *c, const msgpack_object *map,
				   const char *key, msgpack_object_type type, int *rc)
{
	const msgpack_object *v;
	size_t plen = strlen(c->path);

	if (st_wire_get(map, key, &v, NULL) != 0) {
		*rc = bad(c, "missing or duplicate '%s'", key);
		return NULL;
	}
	if (v->type != type &&
	    !(type == MSGPACK_OBJECT_FLOAT64 && (v->type == MSGPACK_OBJECT_FLOAT32 ||
						 v->type == MSGPACK_OBJECT_POSITIVE_INTEGER))) {
		snprintf(c->path + plen, sizeof(c->path) - plen, ".%s", key);
		*rc = bad(c, "wrong type");
		c->path[plen] = '\0';
		return NULL;
	}
	return v;
}

static double num(const msgpack_object *o)
{
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		return (double)o->via.u64;
	if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64)
		return o->via.f64;
	return NAN;
}

/* An array of exactly n finite numbers (n 0: any length up to max). */
static int num_array(struct pctx *c, const msgpack_object *o, uint32_t n, uint32_t max,
		     double *out, uint32_t *got)
{
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return bad(c, "expected an array");
	if ((n && o->via.array.size != n) || o->via.array.size > (n ? n : max))
		return bad(c, "array of %u, expected %u", o->via.array.size, n ? n : max);
	for (uint32_t i = 0; i < o->via.array.size; i++) {
		out[i] = num(&o->via.array.ptr[i]);
		if (!isfinite(out[i]))
			return bad(c, "[%u]: not a finite number", i);
	}
	if (got)
		*got = o->via.array.size;
	return 0;
}

static int parse_fits(struct pctx *c, const msgpack_object *map, const char *key,
		      struct an_fit *fits)
{
	size_t plen = strlen(c->path);
	const msgpack_object *a;
	int rc = 0;

	a = field(c, map, key, MSGPACK_OBJECT_ARRAY, &rc);
	if (a == NULL)
		return rc;
	snprintf(c->path + plen, sizeof(c->path) - plen, ".%s", key);
	/* States written before mg1 hold AN_FORM_MG1 fits of 4 numbers, those
	 * written before ggc AN_FORM_GGC fits. */
	if (a->via.array.size < AN_FORM_MG1 || a->via.array.size > AN_FORM__COUNT)
		return bad(c, "expected %d to %d fits", AN_FORM_MG1, AN_FORM__COUNT);
	for (uint32_t i = 0; i < a->via.array.size; i++) {
		double v[6] = { 0 };
		uint32_t got = 0;

		rc = num_array(c, &a->via.array.ptr[i], 0, 6, v, &got);
		if (rc != 0)
			return rc;
		if (got < 4)
			return bad(c, "[%u]: array of %u, expected 4 to 6", i, got);
		if (v[4] < 0 || v[4] > AN_MG1_CS2_MAX || v[5] < 0)
			return bad(c, "[%u]: cs2 outside 0..%g or negative variance", i,
				   AN_MG1_CS2_MAX);
		fits[i].cs2 = v[4];
		fits[i].vc = v[5];
		if (v[2] < 0 || v[2] > 1)
			return bad(c, "[%u]: weight outside 0..1", i);
		if (v[2] > 0 && !(v[0] > 0))
			return bad(c, "[%u]: mu must be > 0", i);
		if (v[1] < 0 || v[1] > 3600)
			return bad(c, "[%u]: d0 outside 0..3600 s", i);
		fits[i].mu = v[0];
		fits[i].d0 = v[1];
		fits[i].w = v[2];
		if (v[3] < 0)
			return bad(c, "[%u]: negative variance", i);
		fits[i].v = v[3];
	}
	c->path[plen] = '\0';
	return 0;
}

static int parse_model(struct pctx *c, const msgpack_object *o, struct an_model *m)
{
	const msgpack_object *v;
	size_t plen = strlen(c->path);
	double d[AN_USL_POINTS * 3 > 4 ? AN_USL_POINTS * 3 : 4];
	uint32_t got = 0;
	char form[16];
	int rc = 0;

	if (o->type != MSGPACK_OBJECT_MAP)
		return bad(c, "model is not a map");
	an_model_init(m);
	snprintf(c->path + plen, sizeof(c->path) - plen, ".model");
	if ((v = field(c, o, "version", MSGPACK_OBJECT_POSITIVE_INTEGER, &rc)) == NULL)
		return rc;
	m->version = v->via.u64;
	if ((v = field(c, o, "form", MSGPACK_OBJECT_STR, &rc)) == NULL)
		return rc;
	if (v->via.str.size >= sizeof(form))
		return bad(c, "unknown form");
	memcpy(form, v->via.str.ptr, v->via.str.size);
	form[v->via.str.size] = '\0';
	if (an_form_parse(form, &m->form) != 0)
		return bad(c, "unknown form '%s'", form);
	if ((rc = parse_fits(c, o, "prod", m->prod)) != 0 ||
	    (rc = parse_fits(c, o, "shadow", m->shadow)) != 0)
		return rc;
	if ((v = field(c, o, "score", MSGPACK_OBJECT_ARRAY, &rc)) == NULL ||
	    (rc = num_array(c, v, 0, AN_FORM__COUNT, m->score, NULL)) != 0)
		return rc;
	for (int i = 0; i < AN_FORM__COUNT; i++)
		if (m->score[i] < 0)
			return bad(c, "score[%d] < 0", i);
	if ((v = field(c, o, "scored", MSGPACK_OBJECT_ARRAY, &rc)) == NULL ||
	    (rc = num_array(c, v, 0, AN_FORM__COUNT, d, &got)) != 0)
		return rc;
	for (uint32_t i = 0; i < got; i++) {
		if (d[i] < 0 || d[i] > UINT32_MAX || d[i] != floor(d[i]))
			return bad(c, "scored[%u]: not a count", i);
		m->scored[i] = (uint32_t)d[i];
	}
	if ((v = field(c, o, "form_diff", MSGPACK_OBJECT_ARRAY, &rc)) == NULL)
		return rc;
	if (v->via.array.size < AN_FORM_MG1 || v->via.array.size > AN_FORM__COUNT)
		return bad(c, "form_diff: expected %d to %d pairs", AN_FORM_MG1, AN_FORM__COUNT);
	for (uint32_t i = 0; i < v->via.array.size; i++) {
		if ((rc = num_array(c, &v->via.array.ptr[i], 2, 2, d, NULL)) != 0)
			return rc;
		if (d[1] < 0)
			return bad(c, "form_diff[%u]: negative variance", i);
		m->diff_m[i] = d[0];
		m->diff_v[i] = d[1];
	}
	if ((v = field(c, o, "usl", MSGPACK_OBJECT_ARRAY, &rc)) == NULL)
		return rc;
	if (v->via.array.size > AN_USL_POINTS)
		return bad(c, "more than %d USL points", AN_USL_POINTS);
	for (uint32_t i = 0; i < v->via.array.size; i++) {
		/* 3 numbers before mg1, 7 since (the level's p50, p90, p99,
		 * mean; 0 when not known), 8 since ggc (its instance count;
		 * 0 when not known), 14 since the bound's discrepancy (the
		 * statistics' spread, its weight and the EW's squared weights;
		 * 0 when not known) */
		if ((rc = num_array(c, &v->via.array.ptr[i], 0, 14, d, &got)) != 0)
			return rc;
		if (got != 3 && got != 7 && got != 8 && got != 14)
			return bad(c, "usl[%u]: array of %u, expected 3, 7, 8 or 14", i, got);
		if (!(d[0] > 0) || !(d[1] > 0) || !(d[2] > 0) || d[2] > 1)
			return bad(c, "usl[%u]: out of range", i);
		m->usl[i].lam = d[0];
		m->usl[i].conc = d[1];
		m->usl[i].w = d[2];
		for (uint32_t q = 0; q < 4; q++) {
			double x = got >= 7 ? d[3 + q] : 0;

			if (x < 0 || x > 3600)
				return bad(c, "usl[%u]: statistic outside 0..3600 s", i);
			m->usl[i].stat[q] = x;
		}
		if (got >= 8 && (d[7] < 0 || d[7] > AN_MAX_INSTANCES || d[7] != floor(d[7])))
			return bad(c, "usl[%u]: instances not a count up to %d", i, AN_MAX_INSTANCES);
		m->usl[i].c = got >= 8 ? (uint32_t)d[7] : 0;
		for (uint32_t q = 0; q < 6; q++) {
			double x = got == 14 ? d[8 + q] : 0;

			if (!(x >= 0) || !isfinite(x) || (q >= 4 && x > 1))
				return bad(c, "usl[%u]: spread out of range", i);
		}
		for (uint32_t q = 0; q < 4; q++)
			m->usl[i].var[q] = got == 14 ? d[8 + q] : 0;
		m->usl[i].vw = got == 14 ? d[12] : 0;
		m->usl[i].s2 = got == 14 ? d[13] : 0;
	}
	m->n_usl = v->via.array.size;
	if ((v = field(c, o, "usl_ok", MSGPACK_OBJECT_BOOLEAN, &rc)) == NULL)
		return rc;
	m->usl_ok = v->via.boolean;
	if ((v = field(c, o, "usl_params", MSGPACK_OBJECT_ARRAY, &rc)) == NULL ||
	    (rc = num_array(c, v, 3, 0, d, NULL)) != 0)
		return rc;
	if (m->usl_ok && (!(d[0] > 0) || d[1] < 0 || d[1] >= 1 || d[2] < 0))
		return bad(c, "usl_params out of range");
	m->usl_g = d[0];
	m->usl_s = d[1];
	m->usl_k = d[2];
	if ((v = field(c, o, "rates", MSGPACK_OBJECT_ARRAY, &rc)) == NULL ||
	    (rc = num_array(c, v, 4, 0, d, NULL)) != 0)
		return rc;
	for (int i = 0; i < 4; i++)
		if (d[i] < 0 || d[i] > 1)
			return bad(c, "rates[%d] outside 0..1", i);
	m->rate_err = d[0];
	m->rate_to = d[1];
	m->rate_rst = d[2];
	m->rate_w = d[3];
	if ((v = field(c, o, "windows_prod", MSGPACK_OBJECT_POSITIVE_INTEGER, &rc)) == NULL)
		return rc;
	m->windows_prod = v->via.u64;
	if ((v = field(c, o, "windows_shadow", MSGPACK_OBJECT_POSITIVE_INTEGER, &rc)) == NULL)
		return rc;
	m->windows_shadow = v->via.u64;
	c->path[plen] = '\0';
	return 0;
}

static int parse_noise(struct pctx *c, const msgpack_object *o, struct an_judge_state *js)
{
	double d[AN_AA_MAX], s2[AN_AA_MAX];
	const msgpack_object *a, *b;
	size_t plen = strlen(c->path);
	uint32_t nd, ns;
	int rc = 0;

	if (o->type != MSGPACK_OBJECT_MAP)
		return bad(c, "noise is not a map");
	snprintf(c->path + plen, sizeof(c->path) - plen, ".noise");
	if ((a = field(c, o, "d", MSGPACK_OBJECT_ARRAY, &rc)) == NULL ||
	    (b = field(c, o, "s2", MSGPACK_OBJECT_ARRAY, &rc)) == NULL)
		return rc;
	if (a->via.array.size != AN_AA_KPIS || b->via.array.size != AN_AA_KPIS)
		return bad(c, "expected %d series", AN_AA_KPIS);
	memset(js, 0, sizeof(*js));
	for (int k = 0; k < AN_AA_KPIS; k++) {
		if ((rc = num_array(c, &a->via.array.ptr[k], 0, AN_AA_MAX, d, &nd)) != 0 ||
		    (rc = num_array(c, &b->via.array.ptr[k], 0, AN_AA_MAX, s2, &ns)) != 0)
			return rc;
		if (nd != ns)
			return bad(c, "series %d: %u values and %u variances", k, nd, ns);
		for (uint32_t i = 0; i < nd; i++) {
			if (s2[i] < 0)
				return bad(c, "series %d: negative variance", k);
			an_noise_add(js, k, d[i], s2[i]);
		}
	}
	js->aa_last_w = -1;
	c->path[plen] = '\0';
	return 0;
}

struct an_state *an_state_parse(const uint8_t *buf, size_t len, struct st_perr *err)
{
	struct st_wire_limits lim = st_wire_limits_default;
	struct pctx c = { .err = err, .path = "" };
	const msgpack_object *v, *svcs;
	struct st_wire_error we;
	struct an_state *st = NULL;
	msgpack_zone zone;
	msgpack_object root;
	uint32_t blen;
	char ebuf[160];
	int rc = 0, e = EINVAL;

	if (!msgpack_zone_init(&zone, 4096)) {
		snprintf(err->msg, sizeof(err->msg), "state: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	if (len < HDR_LEN) {
		snprintf(err->msg, sizeof(err->msg), "state: %zu bytes, shorter than the header", len);
		goto out;
	}
	if (memcmp(buf, MAGIC, 4) != 0) {
		snprintf(err->msg, sizeof(err->msg), "state: not a shadowtap analyzer state file (bad magic)");
		goto out;
	}
	if (get_be32(buf + 4) != AN_STATE_VERSION) {
		snprintf(err->msg, sizeof(err->msg), "state: format version %u, this analyzer reads %u",
			 get_be32(buf + 4), AN_STATE_VERSION);
		goto out;
	}
	blen = get_be32(buf + 8);
	if (blen != len - HDR_LEN) {
		snprintf(err->msg, sizeof(err->msg), "state: body of %zu bytes, header says %u (truncated?)",
			 len - HDR_LEN, blen);
		goto out;
	}
	if (st_crc32c(0, buf + HDR_LEN, blen) != get_be32(buf + 12)) {
		snprintf(err->msg, sizeof(err->msg), "state: CRC mismatch (corrupt file)");
		goto out;
	}
	/* Each msgpack item is at least one byte: the file (at most
	 * AN_STATE_MAX_FILE, which saving keeps to) bounds the parse. A cap
	 * of 4 Mi items refused the state of some 4,700 learned services,
	 * saved without complaint, and the start after exited on it. */
	lim.max_size = blen;
	lim.max_count = 1u << 20;
	lim.max_items = blen ? blen : 1;
	if (st_wire_parse(buf + HDR_LEN, blen, &lim, &zone, &root, &we) != 0) {
		snprintf(err->msg, sizeof(err->msg), "state: %s", st_wire_error_fmt(&we, ebuf, sizeof(ebuf)));
		goto out;
	}
	if ((v = field(&c, &root, "format", MSGPACK_OBJECT_STR, &rc)) == NULL)
		goto out;
	if (v->via.str.size != strlen(FORMAT_NAME) ||
	    memcmp(v->via.str.ptr, FORMAT_NAME, v->via.str.size) != 0) {
		bad(&c, "format is not '%s'", FORMAT_NAME);
		goto out;
	}
	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		e = ENOMEM;
		goto out;
	}
	if ((v = field(&c, &root, "saved", MSGPACK_OBJECT_POSITIVE_INTEGER, &rc)) == NULL)
		goto out;
	st->saved = v->via.u64;
	if ((svcs = field(&c, &root, "services", MSGPACK_OBJECT_ARRAY, &rc)) == NULL)
		goto out;
	st->svc = calloc(svcs->via.array.size ? svcs->via.array.size : 1, sizeof(*st->svc));
	if (st->svc == NULL) {
		e = ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < svcs->via.array.size; i++) {
		const msgpack_object *s = &svcs->via.array.ptr[i];
		struct an_state_svc *out = &st->svc[i];

		snprintf(c.path, sizeof(c.path), "services[%u]", i);
		if (s->type != MSGPACK_OBJECT_MAP) {
			bad(&c, "not a map");
			goto out;
		}
		if ((v = field(&c, s, "name", MSGPACK_OBJECT_STR, &rc)) == NULL)
			goto out;
		if (!st_wire_name_ok(v->via.str.ptr, v->via.str.size)) {
			bad(&c, "name is not a valid service name");
			goto out;
		}
		memcpy(out->name, v->via.str.ptr, v->via.str.size);
		out->name[v->via.str.size] = '\0';
		for (uint32_t k = 0; k < i; k++)
			if (strcmp(st->svc[k].name, out->name) == 0) {
				bad(&c, "service '%s' twice", out->name);
				goto out;
			}
		if ((v = field(&c, s, "model", MSGPACK_OBJECT_MAP, &rc)) == NULL ||
		    parse_model(&c, v, &out->model) != 0)
			goto out;
		if ((v = field(&c, s, "noise", MSGPACK_OBJECT_MAP, &rc)) == NULL ||
		    parse_noise(&c, v, &out->js) != 0)
			goto out;
		st->n++;
	}
	msgpack_zone_destroy(&zone);
	return st;
out:
	if (e == ENOMEM)
		snprintf(err->msg, sizeof(err->msg), "state: out of memory");
	msgpack_zone_destroy(&zone);
	an_state_free(st);
	errno = e;
	return NULL;
}

void an_state_free(struct an_state *st)
{
	if (st == NULL)
		return;
	free(st->svc);
	free(st);
}

int an_state_apply(struct an_engine *e, const struct an_state *st, struct st_perr *err)
{
	for (uint32_t i = 0; i < st->n; i++) {
		struct an_service *s;

		/* a state saved before sharding: each shard takes its own */
		if (!an_shard_owns(&an_engine_config(e)->shard, st->svc[i].name))
			continue;
		s = an_engine_service_get(e, st->svc[i].name);
		if (s == NULL) {
			snprintf(err->msg, sizeof(err->msg),
				 "state: service %s: max_services reached", st->svc[i].name);
			return -ENOSPC;
		}
		s->model = st->svc[i].model;
		memcpy(s->js.aa_d, st->svc[i].js.aa_d, sizeof(s->js.aa_d));
		memcpy(s->js.aa_s2, st->svc[i].js.aa_s2, sizeof(s->js.aa_s2));
		memcpy(s->js.aa_n, st->svc[i].js.aa_n, sizeof(s->js.aa_n));
		memcpy(s->js.aa_head, st->svc[i].js.aa_head, sizeof(s->js.aa_head));
	}
	return 0;
}

int an_state_load(struct an_engine *e, const char *path, struct st_perr *err)
{
	struct an_state *st;
	struct stat sb;
	uint8_t *buf = NULL;
	size_t got = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err->msg, sizeof(err->msg), "%.120s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    (uint64_t)sb.st_size > AN_STATE_MAX_FILE) {
		snprintf(err->msg, sizeof(err->msg), "%.120s: not a regular file of at most %u bytes",
			 path, AN_STATE_MAX_FILE);
		close(fd);
		return -EINVAL;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (buf == NULL) {
		close(fd);
		snprintf(err->msg, sizeof(err->msg), "state: out of memory");
		return -ENOMEM;
	}
	while (got < (size_t)sb.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	st = an_state_parse(buf, got, err);
	free(buf);
	if (st == NULL)
		return -errno;
	rc = an_state_apply(e, st, err);
	an_state_free(st);
	return rc;
}
