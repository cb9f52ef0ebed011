#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define ZLIB_CONST
#include <zlib.h>

#include "hist_v2.h"
#include "histdec.h"

#define N_FOREIGN	4

/* A layout seen on the wire that differs from dst's: a small histogram
 * with the same lowest and precision gives its index -> value mapping,
 * which does not depend on `highest`. */
struct foreign {
	int64_t lowest;
	int sigfigs;
	struct st_hist *tmpl;
	uint64_t used;
};

struct an_histdec {
	const struct st_hist *dst;
	int32_t dst_top;		/* dst's index of its highest value */
	z_stream zs;
	bool zs_ready;
	const uint8_t *z;		/* the message's zlib bytes */
	size_t z_len;
	uint8_t *payload;
	size_t payload_cap;
	struct an_bin *bins;
	size_t bins_cap;
	struct foreign foreign[N_FOREIGN];
	uint64_t tick;
};

struct an_histdec *an_histdec_create(const struct st_hist *dst)
{
	struct an_histdec *d = calloc(1, sizeof(*d));

	if (d == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	d->dst = dst;
	d->dst_top = st_hist_index_(dst, dst->highest);
	if (inflateInit(&d->zs) != Z_OK) {
		free(d);
		errno = ENOMEM;
		return NULL;
	}
	d->zs_ready = true;
	return d;
}

void an_histdec_destroy(struct an_histdec *d)
{
	if (d == NULL)
		return;
	if (d->zs_ready)
		inflateEnd(&d->zs);
	for (int i = 0; i < N_FOREIGN; i++)
		st_hist_destroy(d->foreign[i].tmpl);
	free(d->payload);
	free(d->bins);
	free(d);
}

/* --- input: zlib or raw ------------------------------------------------- */

/* st_hist_decode_v2 reads the inflated bytes in three steps: the 40-byte
 * header, the payload it declares, then one byte at a time until the zlib
 * stream ends. Each step's result hangs only on how far the one inflate
 * process got: pausing and resuming inflate changes neither what it
 * decodes nor where it finds an error, and with the whole input given at
 * once, one call runs until it wants an output byte it has no room for,
 * the input is used up, the stream ends or an error turns up -- with one
 * exception: a distance reaching before the start of the output is found
 * only when there is room to copy the match. So this decoder inflates in
 * one go into a buffer big enough for the header, the payload and one byte
 * more (zlib's fast path needs room: in 40-byte and 1-byte steps it
 * decodes symbol by symbol), and then reads off each step's result from
 * where the process stopped (zstep). The exception matters only when the
 * process fails with exactly the header out (the reference checks the
 * header before it reads on); then the header is inflated again the
 * reference's way to tell. */

/* How a run of the inflate process stands. */
enum zstate {
	ZS_MORE,	/* output full: it may go on */
	ZS_END,		/* Z_STREAM_END */
	ZS_TRUNC,	/* input used up before the end (Z_BUF_ERROR) */
	ZS_ERR,		/* corrupt data, a dictionary, any other zlib error */
	ZS_MEM,		/* Z_MEM_ERROR */
};

struct zrun {
	size_t n;		/* bytes inflated into d->payload */
	enum zstate st;
};

/* The first run inflates at most this much before the header says how
 * much to expect (a valid snapshot's histogram is a few hundred bytes). */
#define ZRUN_FIRST	(64u << 10)

/* Makes d->payload hold at least need bytes, keeping what it holds.
 * Returns 0 or -ENOMEM. */
static int buf_reserve(struct an_histdec *d, size_t need)
{
	size_t cap = d->payload_cap ? d->payload_cap : 4096;
	uint8_t *p;

	if (need <= d->payload_cap)
		return 0;
	while (cap < need)
		cap *= 2;
	p = realloc(d->payload, cap);
	if (p == NULL)
		return -ENOMEM;
	d->payload = p;
	d->payload_cap = cap;
	return 0;
}

/* Runs inflate on until r->n reaches want (<= d->payload_cap) or the
 * process stops, with the loop and return codes of hist_codec.c's
 * src_read. */
static void zrun_to(struct an_histdec *d, struct zrun *r, size_t want)
{
	int rc;

	while (r->st == ZS_MORE && r->n < want) {
		d->zs.next_out = d->payload + r->n;
		d->zs.avail_out = (uInt)(want - r->n);
		rc = inflate(&d->zs, Z_NO_FLUSH);
		r->n = want - d->zs.avail_out;
		if (rc == Z_STREAM_END)
			r->st = ZS_END;
		else if (rc == Z_MEM_ERROR)
			r->st = ZS_MEM;
		else if (rc == Z_BUF_ERROR)
			r->st = ZS_TRUNC;
		else if (rc != Z_OK)
			r->st = ZS_ERR;
	}
}

/* What reading the inflated bytes up to offset b (a step of the
 * reference) returns, given a run driven to at least b + 1 bytes or to
 * its stop (or, for the header, driven to exactly b): past b, it got
 * there; exactly at b, it got there unless the process went on into an
 * error (at the payload's end that error is the reference's next answer
 * anyway); short of b, why it stopped. */
static enum st_hist_derr zstep(const struct zrun *r, size_t b)
{
	if (r->n > b || r->st == ZS_MORE)
		return ST_HIST_DERR_OK;
	if (r->st == ZS_MEM)
		return ST_HIST_DERR_NOMEM;
	if (r->st == ZS_ERR)
		return ST_HIST_DERR_ZLIB;
	if (r->n == b)
		return ST_HIST_DERR_OK;
	return r->st == ZS_END ? ST_HIST_DERR_PAYLOAD_MISMATCH : ST_HIST_DERR_TRUNCATED;
}

/* Points d->zs, reset, at the zlib bytes z[0..n). One stream serves every
 * message: a reset costs nothing next to the ~7 KiB allocation and setup
 * of inflateInit. */
static enum st_hist_derr zrestart(struct an_histdec *d, const uint8_t *z, size_t n)
{
	if (inflateReset(&d->zs) != Z_OK)
		return ST_HIST_DERR_NOMEM;
	d->z = z;
	d->z_len = n;
	d->zs.next_in = z;
	d->zs.avail_in = (uInt)n;
	return ST_HIST_DERR_OK;
}

/* Checks the outer header. Compressed: *compressed is set and d->zs is
 * reset onto the zlib bytes; raw: the V2 encoding is buf itself. */
static enum st_hist_derr open_outer(struct an_histdec *d, const uint8_t *buf,
				    size_t len, bool *compressed)
{
	enum st_hist_derr e;
	const uint8_t *z;
	size_t z_len;

	e = st_hv2_parse_outer(buf, len, compressed, &z, &z_len);
	if (e != ST_HIST_DERR_OK || !*compressed)
		return e;
	return zrestart(d, z, z_len);
}

/* The index -> dst-index mapping of a layout. Same lowest and precision as
 * dst: indices agree (only the top differs). Otherwise a template. */
static enum st_hist_derr layout_map(struct an_histdec *d,
				    const struct st_hv2_inner *in,
				    const struct st_hist **tmpl)
{
	struct foreign *f, *victim = &d->foreign[0];

	*tmpl = NULL;
	if (in->lowest == d->dst->lowest && in->sigfigs == d->dst->sigfigs)
		return ST_HIST_DERR_OK;
	d->tick++;
	for (int i = 0; i < N_FOREIGN; i++) {
		f = &d->foreign[i];
		if (f->tmpl != NULL && f->lowest == in->lowest && f->sigfigs == in->sigfigs) {
			f->used = d->tick;
			*tmpl = f->tmpl;
			return ST_HIST_DERR_OK;
		}
		if (f->used < victim->used)
			victim = f;
	}
	st_hist_destroy(victim->tmpl);
	victim->tmpl = st_hist_create(in->lowest, 2 * in->lowest, in->sigfigs);
	if (victim->tmpl == NULL) {
		victim->used = 0;
		return ST_HIST_DERR_NOMEM;
	}
	victim->lowest = in->lowest;
	victim->sigfigs = in->sigfigs;
	victim->used = d->tick;
	*tmpl = victim->tmpl;
	return ST_HIST_DERR_OK;
}

static int32_t map_index(const struct an_histdec *d, const struct st_hist *tmpl,
			 int32_t idx, int64_t *clamped, int64_t count)
{
	int64_t v;

	if (tmpl == NULL) {
		if (idx <= d->dst_top)
			return idx;
		*clamped += count;
		return d->dst_top;
	}
	/* A bucket of another layout lands where its highest value does, so
	 * a merge never makes latencies look better (as st_hist_add). */
	v = st_hist_highest_equivalent(tmpl, st_hist_value_at_index(tmpl, idx));
	if (v > d->dst->highest) {
		*clamped += count;
		return d->dst_top;
	}
	return st_hist_index_(d->dst, v);
}

/* Reads the payload p[0..in->plen) into d->bins, as hist_codec.c's
 * apply_counts would count them. */
static enum st_hist_derr walk_counts(struct an_histdec *d,
				     const struct st_hv2_inner *in,
				     const uint8_t *p, const struct st_hist *tmpl,
				     size_t *n_bins, int64_t *total, int64_t *clamped)
{
	int32_t idx = 0, didx;
	size_t pos = 0, n = 0;
	uint64_t u, run;
	int64_t count, sum = 0;
	int k;

	while (pos < in->plen) {
		if (p[pos] < 0x80) {
			/* one byte: most counts and runs of a snapshot */
			u = p[pos++];
		} else {
			k = st_hv2_varint_get(p + pos, in->plen - pos, &u);
			if (k < 0)
				return st_hv2_varint_derr(k);
			pos += (size_t)k;
		}
		if (u & 1) {
			run = (u >> 1) + 1;
			if (run > (uint64_t)(in->counts_len - idx))
				return ST_HIST_DERR_ZERO_RUN;
			idx += (int32_t)run;
			continue;
		}
		count = (int64_t)(u >> 1);
		if (idx >= in->counts_len)
			return ST_HIST_DERR_COUNTS_PAST_END;
		if (count > INT64_MAX - sum)
			return ST_HIST_DERR_TOTAL_OVERFLOW;
		sum += count;
		if (count > 0) {
			didx = map_index(d, tmpl, idx, clamped, count);
			if (n > 0 && d->bins[n - 1].idx == didx) {
				d->bins[n - 1].count += count;
			} else {
				if (n == d->bins_cap) {
					size_t cap = d->bins_cap ? d->bins_cap * 2 : 1024;
					struct an_bin *b = realloc(d->bins, cap * sizeof(*b));

					if (b == NULL)
						return ST_HIST_DERR_NOMEM;
					d->bins = b;
					d->bins_cap = cap;
				}
				d->bins[n].idx = didx;
				d->bins[n].pad_ = 0;
				d->bins[n].count = count;
				n++;
			}
		}
		idx++;
	}
	*n_bins = n;
	*total = sum;
	return ST_HIST_DERR_OK;
}

/* The compressed path: inflates into d->payload (the 40-byte header, then
 * the payload) and gives the reference's result step by step; see zstep.
 * On success the header is checked and parsed into *in. */
static enum st_hist_derr inflate_all(struct an_histdec *d,
				     struct st_hv2_inner *in)
{
	struct zrun r = { 0, ZS_MORE };
	enum st_hist_derr e;
	size_t t;

	if (buf_reserve(d, 4096) != 0)
		return ST_HIST_DERR_NOMEM;
	zrun_to(d, &r, d->payload_cap < ZRUN_FIRST ? d->payload_cap : ZRUN_FIRST);
	if (r.n == ST_HV2_INNER_LEN && r.st == ZS_ERR) {
		/* Did it fail before wanting byte 41 (the reference's first
		 * step fails) or on copying it (the header counts first)? */
		struct zrun h = { 0, ZS_MORE };

		e = zrestart(d, d->z, d->z_len);
		if (e != ST_HIST_DERR_OK)
			return e;
		zrun_to(d, &h, ST_HV2_INNER_LEN);
		e = zstep(&h, ST_HV2_INNER_LEN);
		if (e == ST_HIST_DERR_OK)
			e = st_hv2_parse_inner(d->payload, in);
		return e != ST_HIST_DERR_OK ? e : ST_HIST_DERR_ZLIB;
	}
	e = zstep(&r, ST_HV2_INNER_LEN);
	if (e == ST_HIST_DERR_PAYLOAD_MISMATCH)
		e = ST_HIST_DERR_TRUNCATED;	/* stream ended inside the header */
	if (e != ST_HIST_DERR_OK)
		return e;
	e = st_hv2_parse_inner(d->payload, in);
	if (e != ST_HIST_DERR_OK)
		return e;
	t = ST_HV2_INNER_LEN + in->plen;
	if (r.st == ZS_MORE && r.n <= t) {
		if (buf_reserve(d, t + 1) != 0)
			return ST_HIST_DERR_NOMEM;
		zrun_to(d, &r, t + 1);
	}
	e = zstep(&r, t);
	if (e != ST_HIST_DERR_OK)
		return e;
	/* The reference's last step reads on one byte at a time. */
	if (r.n > t)
		return ST_HIST_DERR_PAYLOAD_MISMATCH;
	switch (r.st) {
	case ZS_END:
		return d->zs.avail_in == 0 ? ST_HIST_DERR_OK : ST_HIST_DERR_TRAILING;
	case ZS_TRUNC:
		return ST_HIST_DERR_TRUNCATED;
	case ZS_MEM:
		return ST_HIST_DERR_NOMEM;
	default:
		return ST_HIST_DERR_ZLIB;
	}
}

int an_histdec_decode(struct an_histdec *d, const uint8_t *buf, size_t len,
		      const struct an_bin **bins, size_t *n_bins,
		      int64_t *total, int64_t *clamped,
		      enum st_hist_derr *err)
{
	const struct st_hist *tmpl;
	const uint8_t *payload;
	struct st_hv2_inner in;
	enum st_hist_derr e;
	bool compressed = false;

	*clamped = 0;
	e = open_outer(d, buf, len, &compressed);
	if (e != ST_HIST_DERR_OK)
		goto out;
	if (compressed) {
		e = inflate_all(d, &in);
		payload = d->payload + ST_HV2_INNER_LEN;
	} else {
		/* Raw: header, payload, nothing after, read in place. */
		e = len < ST_HV2_INNER_LEN ? ST_HIST_DERR_TRUNCATED :
		    st_hv2_parse_inner(buf, &in);
		if (e == ST_HIST_DERR_OK && len - ST_HV2_INNER_LEN < in.plen)
			e = ST_HIST_DERR_TRUNCATED;
		else if (e == ST_HIST_DERR_OK && len - ST_HV2_INNER_LEN > in.plen)
			e = ST_HIST_DERR_TRAILING;
		payload = e == ST_HIST_DERR_OK ? buf + ST_HV2_INNER_LEN : NULL;
	}
	if (e != ST_HIST_DERR_OK)
		goto out;
	e = layout_map(d, &in, &tmpl);
	if (e != ST_HIST_DERR_OK)
		goto out;
	e = walk_counts(d, &in, payload, tmpl, n_bins, total, clamped);
out:
	if (err != NULL)
		*err = e;
	if (e != ST_HIST_DERR_OK)
		return st_hv2_derr_errno(e);
	*bins = d->bins;
	return 0;
}
