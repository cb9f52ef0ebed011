/* The clients message read back (docs/wire.md, clients.<service>): a
 * bounded decoder for the analyzer, and an encoder from the decoded form
 * that gives the dataplane's bytes (wire_clients.c), so a decoded message
 * encodes back to itself. Field tables as the other messages (wire_priv.h). */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "wire.h"
#include "wire_priv.h"

/* The decoder's context: the generic one first, then what the clients
 * array folds beyond the caller's room until `other` is known. */
struct clients_ctx {
	struct st_wctx x;
	struct st_client_rec fold;
	uint64_t fold_floor;
};

/* ---- lat: [bucket, count, ...], buckets ascending ---- */

static int lat_dec(struct st_mp_cur *c, const struct st_mp_item *v, void *base,
		   const char *prefix, struct st_wctx *x)
{
	struct st_client_rec *r = base;
	int64_t last = -1;

	if (v->type != ST_MP_ARRAY)
		return st_wire_fail(x->err, ST_WIRE_E_TYPE, prefix, "lat",
				    "expected array, got %s", st_mp_type_name(v->type));
	if (v->len % 2 != 0 || v->len > 2 * ST_LHIST_BUCKETS)
		return st_wire_fail(x->err, ST_WIRE_E_COUNT, prefix, "lat",
				    "%" PRIu32 " elements: pairs, at most %d", v->len,
				    2 * ST_LHIST_BUCKETS);
	memset(&r->lat, 0, sizeof(r->lat));
	for (uint32_t i = 0; i < v->len; i += 2) {
		struct st_mp_item it;
		uint64_t b, n;
		int rc;

		rc = st_mp_next(c, &it, x->err);
		if (rc == 0)
			rc = st_mp_get_u64(&it, &b, prefix, "lat", x->err);
		if (rc == 0)
			rc = st_mp_next(c, &it, x->err);
		if (rc == 0)
			rc = st_mp_get_u64(&it, &n, prefix, "lat", x->err);
		if (rc)
			return rc;
		if (b >= ST_LHIST_BUCKETS || (int64_t)b <= last)
			return st_wire_fail(x->err, ST_WIRE_E_VALUE, prefix, "lat",
					    "bucket %" PRIu64 " after %" PRId64
					    ": ascending, below %d", b, last,
					    ST_LHIST_BUCKETS);
		if (n == 0 || n > UINT32_MAX)
			return st_wire_fail(x->err, ST_WIRE_E_VALUE, prefix, "lat",
					    "bucket %" PRIu64 ": count %" PRIu64
					    " (1 to 2^32-1)", b, n);
		r->lat.c[b] = (uint32_t)n;
		last = (int64_t)b;
	}
	return 0;
}

static uint64_t lat_sum(const struct st_lhist *h)
{
	uint64_t s = 0;

	for (unsigned int b = 0; b < ST_LHIST_BUCKETS; b++)
		s += h->c[b];
	return s;
}

static int lat_check(const void *base, const char *prefix, struct st_wire_error *err)
{
	const struct st_client_rec *r = base;

	if (lat_sum(&r->lat) != r->responses) {
		st_wire_fail(err, ST_WIRE_E_VALUE, prefix, "lat",
			     "counts add up to %" PRIu64 ", responses %" PRIu64,
			     lat_sum(&r->lat), r->responses);
		return -EINVAL;
	}
	return 0;
}

static void lat_enc(msgpack_packer *pk, const void *base)
{
	const struct st_client_rec *r = base;
	uint32_t used = 0;

	for (unsigned int b = 0; b < ST_LHIST_BUCKETS; b++)
		used += r->lat.c[b] != 0;
	msgpack_pack_array(pk, 2 * used);
	for (unsigned int b = 0; b < ST_LHIST_BUCKETS; b++) {
		if (r->lat.c[b] == 0)
			continue;
		msgpack_pack_uint32(pk, b);
		msgpack_pack_uint32(pk, r->lat.c[b]);
	}
}

static const struct st_wcustom lat_codec = {
	.dec = lat_dec, .check = lat_check, .enc = lat_enc,
};

#define RF(kind_, m_, flags_) ST_WF_MEMBER(struct st_client_rec, kind_, m_, flags_)

/* A listed client; `other` is the same without k and err (the table from
 * its third row). The order is the encoder's. */
static const struct st_wfield rec_fields[] = {
	RF(ST_WF_TEXT, k, ST_WF_NONEMPTY),
	RF(ST_WF_U64, err, 0),
	RF(ST_WF_U64, requests, 0),
	RF(ST_WF_U64, bytes_req, 0),
	RF(ST_WF_U64, bytes_resp, 0),
	RF(ST_WF_U64, responses, 0),
	RF(ST_WF_U64, timeouts, 0),
	RF(ST_WF_U64, resets, 0),
	RF(ST_WF_U64, p50, 0),
	RF(ST_WF_U64, p99, 0),
	{ .name = "lat", .kind = ST_WF_CUSTOM, .custom = &lat_codec },
};

#define N_REC (sizeof(rec_fields) / sizeof(rec_fields[0]))
#define OTHER_FIELDS (rec_fields + 2)
#define N_OTHER (N_REC - 2)

/* ---- clients: the array ---- */

static void rec_path(char *buf, size_t len, uint32_t i)
{
	snprintf(buf, len, "clients[%" PRIu32 "].", i);
}

/* Adds r into o; false when a sum would not fit (a count past 2^64, a
 * bucket past 2^32 - 1): the folded "other" would no longer add up to its
 * responses, nor encode. */
static bool fold_into(struct st_client_rec *o, const struct st_client_rec *r)
{
	bool over = __builtin_add_overflow(o->requests, r->requests, &o->requests) |
		    __builtin_add_overflow(o->bytes_req, r->bytes_req, &o->bytes_req) |
		    __builtin_add_overflow(o->bytes_resp, r->bytes_resp, &o->bytes_resp) |
		    __builtin_add_overflow(o->responses, r->responses, &o->responses) |
		    __builtin_add_overflow(o->timeouts, r->timeouts, &o->timeouts) |
		    __builtin_add_overflow(o->resets, r->resets, &o->resets);

	for (unsigned int b = 0; b < ST_LHIST_BUCKETS; b++)
		over |= __builtin_add_overflow(o->lat.c[b], r->lat.c[b], &o->lat.c[b]);
	return !over;
}

static int clients_dec(struct st_mp_cur *c, const struct st_mp_item *v, void *base,
		       const char *prefix, struct st_wctx *x)
{
	struct clients_ctx *cx = (struct clients_ctx *)x;
	struct st_clients_msg *m = base;

	if (v->type != ST_MP_ARRAY)
		return st_wire_fail(x->err, ST_WIRE_E_TYPE, prefix, "clients",
				    "expected array, got %s", st_mp_type_name(v->type));
	if (v->len > ST_CLIENTS_MAX)
		return st_wire_fail(x->err, ST_WIRE_E_COUNT, prefix, "clients",
				    "%" PRIu32 " clients, at most %d", v->len, ST_CLIENTS_MAX);
	for (uint32_t i = 0; i < v->len; i++) {
		struct st_client_rec tmp, *r = i < m->cap ? &m->recs[i] : &tmp;
		struct st_mp_item it;
		char path[24];
		int rc;

		rec_path(path, sizeof(path), i);
		rc = st_mp_next(c, &it, x->err);
		if (rc)
			return rc;
		if (it.type != ST_MP_MAP)
			return st_wire_fail(x->err, ST_WIRE_E_NOT_MAP, path, NULL,
					    "expected map, got %s", st_mp_type_name(it.type));
		memset(r, 0, sizeof(*r));
		rc = st_wf_decode_map(c, &it, rec_fields, N_REC, r, path, x);
		if (rc == 0 && lat_check(r, path, x->err) != 0)
			rc = -EBADMSG;
		if (rc)
			return rc;
		if (r == &tmp) {
			uint64_t floor;

			if (!fold_into(&cx->fold, r) ||
			    __builtin_add_overflow(r->requests, r->err, &floor))
				return st_wire_fail(x->err, ST_WIRE_E_VALUE, path, NULL,
						    "counts too large to fold into 'other'");
			if (floor > cx->fold_floor)
				cx->fold_floor = floor;
			m->folded++;
		} else {
			m->n_recs = i + 1;
		}
	}
	return 0;
}

static int clients_check(const void *base, const char *prefix, struct st_wire_error *err)
{
	const struct st_clients_msg *m = base;

	if (m->n_recs > ST_CLIENTS_MAX || (m->n_recs > 0 && m->recs == NULL)) {
		st_wire_fail(err, ST_WIRE_E_COUNT, prefix, "clients",
			     "%" PRIu32 " clients, at most %d", m->n_recs, ST_CLIENTS_MAX);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < m->n_recs; i++) {
		char path[24];

		rec_path(path, sizeof(path), i);
		if (st_wf_check(rec_fields, N_REC, &m->recs[i], path, err) != 0)
			return -EINVAL;
	}
	return 0;
}

static void clients_enc(msgpack_packer *pk, const void *base)
{
	const struct st_clients_msg *m = base;

	msgpack_pack_array(pk, m->n_recs);
	for (uint32_t i = 0; i < m->n_recs; i++)
		st_wf_encode(pk, rec_fields, N_REC, &m->recs[i]);
}

static const struct st_wcustom clients_codec = {
	.dec = clients_dec, .check = clients_check, .enc = clients_enc,
};

/* ---- other ---- */

static int other_dec(struct st_mp_cur *c, const struct st_mp_item *v, void *base,
		     const char *prefix, struct st_wctx *x)
{
	struct st_clients_msg *m = base;
	int rc;

	(void)prefix;
	if (v->type != ST_MP_MAP)
		return st_wire_fail(x->err, ST_WIRE_E_TYPE, NULL, "other",
				    "expected map, got %s", st_mp_type_name(v->type));
	memset(&m->other, 0, sizeof(m->other));
	rc = st_wf_decode_map(c, v, OTHER_FIELDS, N_OTHER, &m->other, "other.", x);
	if (rc == 0 && lat_check(&m->other, "other.", x->err) != 0)
		rc = -EBADMSG;
	return rc;
}

static int other_check(const void *base, const char *prefix, struct st_wire_error *err)
{
	const struct st_clients_msg *m = base;

	(void)prefix;
	return st_wf_check(OTHER_FIELDS, N_OTHER, &m->other, "other.", err) ? -EINVAL : 0;
}

static void other_enc(msgpack_packer *pk, const void *base)
{
	const struct st_clients_msg *m = base;

	st_wf_encode(pk, OTHER_FIELDS, N_OTHER, &m->other);
}

static const struct st_wcustom other_codec = {
	.dec = other_dec, .check = other_check, .enc = other_enc,
};

/* ---- the message ---- */

#define MF(kind_, m_, flags_) ST_WF_MEMBER_AT(struct st_clients_msg, kind_, #m_, h.m_, flags_)

static const struct st_wfield msg_fields[] = {
	{ .name = "v", .kind = ST_WF_VERSION },
	MF(ST_WF_U64, seq, 0),
	MF(ST_WF_TEXT, src, ST_WF_NONEMPTY),
	MF(ST_WF_NAME, service, 0),
	MF(ST_WF_NAME, target, 0),
	MF(ST_WF_TEXT, key, 0),
	MF(ST_WF_U32, top, 0),
	MF(ST_WF_U64, t0, 0),
	MF(ST_WF_U64, t1, 0),
	{ .name = "floor", .kind = ST_WF_U64, .off = offsetof(struct st_clients_msg, floor) },
	{ .name = "n", .kind = ST_WF_U32, .off = offsetof(struct st_clients_msg, n) },
	{ .name = "clients", .kind = ST_WF_CUSTOM, .custom = &clients_codec },
	{ .name = "other", .kind = ST_WF_CUSTOM, .custom = &other_codec },
};

#define N_MSG (sizeof(msg_fields) / sizeof(msg_fields[0]))
_Static_assert(N_MSG <= 64 && N_REC <= 64, "the decoder's seen-mask is 64 bits");

/* The whole message fits 1 MiB; a client is a map of 11 pairs and a lat
 * list of up to 208 numbers, so the per-container count is the clients'
 * bound and the item count the size's. */
static const struct st_wire_limits clients_limits = {
	.max_size = ST_WIRE_MAX_SIZE, .max_depth = 4, .max_count = ST_CLIENTS_MAX,
	.max_items = ST_WIRE_MAX_SIZE, .max_str = 256, .max_bin = 0,
};

static int cross_check(const struct st_clients_msg *m, uint32_t listed,
		       struct st_wire_error *err)
{
	if (m->h.t0 > m->h.t1)
		return st_wire_fail(err, ST_WIRE_E_VALUE, NULL, "t1",
				    "window ends (%" PRIu64 ") before it starts (%" PRIu64 ")",
				    m->h.t1, m->h.t0);
	if (m->n != listed)
		return st_wire_fail(err, ST_WIRE_E_VALUE, NULL, "n",
				    "%" PRIu32 ", but %" PRIu32 " clients listed", m->n, listed);
	return 0;
}

int st_clients_decode(const void *buf, size_t len, struct st_clients_msg *out,
		      struct st_wire_error *err)
{
	struct clients_ctx cx;
	struct st_client_rec *recs = out->recs;
	uint32_t cap = recs != NULL ? out->cap : 0;
	struct st_mp_cur c = { buf, (const uint8_t *)buf + len };
	struct st_mp_item top;
	int rc;

	memset(out, 0, sizeof(*out));
	out->recs = recs;
	out->cap = cap;
	memset(&cx, 0, sizeof(cx));
	cx.x.err = err;
	rc = st_wire_scan(buf, len, &clients_limits, err);
	if (rc == 0)
		rc = st_mp_next(&c, &top, err);
	if (rc == 0 && top.type != ST_MP_MAP)
		rc = st_wire_fail(err, ST_WIRE_E_NOT_MAP, NULL, NULL,
				  "top level: expected map, got %s", st_mp_type_name(top.type));
	if (rc == 0)
		rc = st_wf_decode_map(&c, &top, msg_fields, N_MSG, out, "", &cx.x);
	if (rc == 0)
		rc = cross_check(out, out->n_recs + out->folded, err);
	out->unknown_keys = cx.x.unknown;
	if (rc)
		return rc;
	if (out->folded) {
		if (!fold_into(&out->other, &cx.fold))
			return st_wire_fail(err, ST_WIRE_E_VALUE, NULL, "other",
					    "counts too large to fold the clients past %" PRIu32
					    " into", cap);
		if (cx.fold_floor > out->floor)
			out->floor = cx.fold_floor;
	}
	return 0;
}

int st_clients_encode_msg(const struct st_clients_msg *m, struct st_wbuf *out)
{
	struct st_clients_msg tmp = *m;

	tmp.n = m->n_recs;
	if (st_wf_check(msg_fields, N_MSG, &tmp, "", NULL) != 0 ||
	    lat_check(&tmp.other, "other.", NULL) != 0 || tmp.h.t0 > tmp.h.t1) {
		st_wbuf_reset(out);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < tmp.n_recs; i++) {
		if (lat_check(&tmp.recs[i], "", NULL) != 0) {
			st_wbuf_reset(out);
			return -EINVAL;
		}
	}
	return st_wf_encode_msg(msg_fields, N_MSG, &tmp, out);
}
