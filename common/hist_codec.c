/* HdrHistogram V2 encoding: what goes into every KPI snapshot's `lat`
 * field, so any HdrHistogram library can read our histograms and we can
 * read theirs. The decoder faces the network: it checks each size against
 * a limit before it allocates, and stops inflating one byte past what the
 * header declared, so a small message cannot make it allocate or inflate
 * much. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ZLIB_CONST
#include <zlib.h>

#include "base64.h"
#include "hist.h"
#include "hist_v2.h"

/* deflate with a 1 KiB window and a small hash: an encoded histogram is a
 * few KiB, and zlib's default (32 KiB window, memLevel 8) spends most of
 * its time setting up ~400 KiB of state, for 1-3% smaller output. Any
 * inflater reads the smaller window. */
#define DEFLATE_LEVEL		6
#define DEFLATE_WINDOW_BITS	10
#define DEFLATE_MEM_LEVEL	4

static const char *const derr_names[] = {
	[ST_HIST_DERR_OK] = "ok",
	[ST_HIST_DERR_NOMEM] = "out of memory",
	[ST_HIST_DERR_TOO_LARGE] = "input larger than the decode limit",
	[ST_HIST_DERR_TRUNCATED] = "input truncated",
	[ST_HIST_DERR_TRAILING] = "trailing bytes after the encoding",
	[ST_HIST_DERR_COOKIE] = "not an HdrHistogram encoding (bad cookie)",
	[ST_HIST_DERR_VERSION] = "HdrHistogram V0/V1 encoding, only V2 is supported",
	[ST_HIST_DERR_ZLIB] = "corrupt zlib data",
	[ST_HIST_DERR_INNER_COOKIE] = "inflated data is not a V2 histogram (bad inner cookie)",
	[ST_HIST_DERR_SIGFIGS] = "significant digits outside 1..5",
	[ST_HIST_DERR_LOWEST] = "lowest discernible value below 1 or too large for the precision",
	[ST_HIST_DERR_HIGHEST] = "highest trackable value below 2 * lowest or too large",
	[ST_HIST_DERR_COUNTS_LEN] = "counts array longer than the decode limit",
	[ST_HIST_DERR_PAYLOAD_LEN] = "declared payload length out of range",
	[ST_HIST_DERR_PAYLOAD_MISMATCH] = "inflated payload length differs from the declared one",
	[ST_HIST_DERR_VARINT_TRUNCATED] = "varint runs past the payload",
	[ST_HIST_DERR_VARINT_OVERLONG] = "varint not in shortest form",
	[ST_HIST_DERR_ZERO_RUN] = "zero run past end of counts",
	[ST_HIST_DERR_COUNTS_PAST_END] = "more counts than the histogram holds",
	[ST_HIST_DERR_TOTAL_OVERFLOW] = "total count overflows int64",
	[ST_HIST_DERR_BASE64] = "invalid base64",
};

const char *st_hist_derr_str(enum st_hist_derr e)
{
	if ((unsigned int)e >= sizeof(derr_names) / sizeof(derr_names[0]) ||
	    derr_names[e] == NULL)
		return "unknown error";
	return derr_names[e];
}

/* --- big-endian and varint writers (the readers are in hist_v2.h) ------ */

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

/* HdrHistogram's LEB128-64b9B: 7 bits a byte for 8 bytes, then one byte
 * with the top 8 bits, so 64-bit values never need a 10th byte. */
static size_t varint_put(uint8_t *p, uint64_t u)
{
	size_t n = 0;

	while (n < ST_HV2_VARINT_MAX - 1 && u >= 0x80) {
		p[n++] = (uint8_t)(u | 0x80);
		u >>= 7;
	}
	p[n++] = (uint8_t)u;
	return n;
}

static size_t varint_len(uint64_t u)
{
	size_t n = 1;

	while (n < ST_HV2_VARINT_MAX && u >= 0x80) {
		u >>= 7;
		n++;
	}
	return n;
}

/* --- encoder ------------------------------------------------------------ */

/* Walks the counts as V2 writes them: Java/JS put a single zero count as a
 * literal 0 and runs of two or more as -N; stop at the last non-zero count
 * (for an empty histogram, one literal 0, as Java and JS write it). */
struct enc_walk {
	const struct st_hist *h;
	int32_t limit;
	int32_t i;
};

static void enc_walk_init(struct enc_walk *w, const struct st_hist *h)
{
	int32_t last = h->counts_len - 1;

	while (last > 0 && h->counts[last] == 0)
		last--;
	w->h = h;
	w->limit = last + 1;
	w->i = 0;
}

/* Next word to write, or false at the end. */
static bool enc_walk_next(struct enc_walk *w, uint64_t *word)
{
	int64_t count;
	int32_t zeros;

	if (w->i >= w->limit)
		return false;
	count = w->h->counts[w->i++];
	if (count != 0) {
		*word = zigzag(count);
		return true;
	}
	zeros = 1;
	while (w->i < w->limit && w->h->counts[w->i] == 0) {
		zeros++;
		w->i++;
	}
	*word = zigzag(zeros > 1 ? -(int64_t)zeros : 0);
	return true;
}

static size_t payload_len(const struct st_hist *h)
{
	struct enc_walk w;
	uint64_t word;
	size_t n = 0;

	enc_walk_init(&w, h);
	while (enc_walk_next(&w, &word))
		n += varint_len(word);
	return n;
}

size_t st_hist_encode_bound(const struct st_hist *h)
{
	size_t n = ST_HV2_INNER_LEN + payload_len(h);

	/* deflateBound's bound for non-default parameters (compressBound
	 * holds only for the defaults), plus the zlib wrapper. */
	return ST_HV2_OUTER_LEN + n + ((n + 7) >> 3) + ((n + 63) >> 6) + 5 + 6;
}

static void put_inner_header(uint8_t *p, const struct st_hist *h, size_t plen)
{
	union {
		double d;
		uint64_t u;
	} ratio = { .d = 1.0 };

	put_be32(p, ST_HIST_V2_COOKIE);
	put_be32(p + 4, (uint32_t)plen);
	put_be32(p + 8, 0);	/* normalizing index offset */
	put_be32(p + 12, (uint32_t)h->sigfigs);
	put_be64(p + 16, (uint64_t)h->lowest);
	put_be64(p + 24, (uint64_t)h->highest);
	put_be64(p + 32, ratio.u);
}

/* Feeds buf to deflate. Returns 0, or -ENOSPC when the output is full. */
static int deflate_chunk(z_stream *zs, const uint8_t *buf, size_t n, int flush)
{
	int rc;

	zs->next_in = buf;
	zs->avail_in = (uInt)n;
	do {
		if (zs->avail_out == 0)
			return -ENOSPC;
		rc = deflate(zs, flush);
		if (rc == Z_STREAM_END)
			return 0;
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			return -EIO;
	} while (zs->avail_in > 0 || (flush == Z_FINISH));
	return 0;
}

int st_hist_encode_v2(const struct st_hist *h, uint8_t *out, size_t cap,
		      size_t *len)
{
	/* The payload is streamed through a small stack buffer so encoding a
	 * big histogram costs no payload-sized allocation. */
	uint8_t chunk[4096];
	struct enc_walk w;
	z_stream zs;
	uint64_t word;
	size_t plen, fill;
	int rc;

	plen = payload_len(h);
	if (cap < ST_HV2_OUTER_LEN + 16) {
		*len = st_hist_encode_bound(h);
		return -ENOSPC;
	}
	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, DEFLATE_LEVEL, Z_DEFLATED, DEFLATE_WINDOW_BITS,
			 DEFLATE_MEM_LEVEL, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	zs.next_out = out + ST_HV2_OUTER_LEN;
	zs.avail_out = (uInt)((cap - ST_HV2_OUTER_LEN) > UINT32_MAX ?
			      UINT32_MAX : cap - ST_HV2_OUTER_LEN);

	put_inner_header(chunk, h, plen);
	fill = ST_HV2_INNER_LEN;
	enc_walk_init(&w, h);
	while (enc_walk_next(&w, &word)) {
		fill += varint_put(chunk + fill, word);
		if (fill > sizeof(chunk) - ST_HV2_VARINT_MAX) {
			rc = deflate_chunk(&zs, chunk, fill, Z_NO_FLUSH);
			if (rc != 0)
				goto err;
			fill = 0;
		}
	}
	rc = deflate_chunk(&zs, chunk, fill, Z_FINISH);
	if (rc != 0)
		goto err;

	put_be32(out, ST_HIST_V2_COMPRESSED_COOKIE);
	put_be32(out + 4, (uint32_t)zs.total_out);
	*len = ST_HV2_OUTER_LEN + zs.total_out;
	deflateEnd(&zs);
	return 0;
err:
	deflateEnd(&zs);
	if (rc == -ENOSPC)
		*len = st_hist_encode_bound(h);
	return rc;
}

char *st_hist_encode_b64(const struct st_hist *h, size_t *len)
{
	size_t bound = st_hist_encode_bound(h), n, tlen;
	uint8_t *bin;
	char *text;
	int rc;

	bin = malloc(bound);
	if (bin == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	rc = st_hist_encode_v2(h, bin, bound, &n);
	if (rc != 0) {
		free(bin);
		errno = rc == -ENOMEM ? ENOMEM : EIO;
		return NULL;
	}
	text = malloc(st_base64_encoded_len(n) + 1);
	if (text == NULL) {
		free(bin);
		errno = ENOMEM;
		return NULL;
	}
	tlen = st_base64_encode(bin, n, text);
	free(bin);
	if (len != NULL)
		*len = tlen;
	return text;
}

/* --- decoder ------------------------------------------------------------ */

/* The source of inner bytes: either a zlib stream or the raw buffer. */
struct dec_src {
	bool compressed;
	z_stream zs;
	const uint8_t *raw;
	size_t raw_len;
	size_t raw_pos;
};

/* Reads exactly n inner bytes into out, or fails. With zlib the output
 * buffer is n bytes, so inflation never runs past what was asked for. */
static enum st_hist_derr src_read(struct dec_src *s, uint8_t *out, size_t n)
{
	int rc;

	if (!s->compressed) {
		if (s->raw_len - s->raw_pos < n)
			return ST_HIST_DERR_TRUNCATED;
		memcpy(out, s->raw + s->raw_pos, n);
		s->raw_pos += n;
		return ST_HIST_DERR_OK;
	}
	s->zs.next_out = out;
	s->zs.avail_out = (uInt)n;
	while (s->zs.avail_out > 0) {
		rc = inflate(&s->zs, Z_NO_FLUSH);
		if (rc == Z_STREAM_END)
			return s->zs.avail_out == 0 ? ST_HIST_DERR_OK :
			       ST_HIST_DERR_PAYLOAD_MISMATCH;
		if (rc == Z_MEM_ERROR)
			return ST_HIST_DERR_NOMEM;
		if (rc == Z_BUF_ERROR)
			return ST_HIST_DERR_TRUNCATED;	/* input ran out */
		if (rc != Z_OK)
			return ST_HIST_DERR_ZLIB;
	}
	return ST_HIST_DERR_OK;
}

/* After the payload the zlib stream must end, without producing another
 * byte, and use up the compressed block; raw input must be used up. */
static enum st_hist_derr src_finish(struct dec_src *s)
{
	uint8_t extra;
	int rc;

	if (!s->compressed)
		return s->raw_pos == s->raw_len ? ST_HIST_DERR_OK : ST_HIST_DERR_TRAILING;
	for (;;) {
		s->zs.next_out = &extra;
		s->zs.avail_out = 1;
		rc = inflate(&s->zs, Z_NO_FLUSH);
		if (rc == Z_STREAM_END)
			break;
		if (s->zs.avail_out == 0)
			return ST_HIST_DERR_PAYLOAD_MISMATCH;
		if (rc == Z_BUF_ERROR)
			return ST_HIST_DERR_TRUNCATED;
		if (rc != Z_OK)
			return rc == Z_MEM_ERROR ? ST_HIST_DERR_NOMEM : ST_HIST_DERR_ZLIB;
	}
	if (s->zs.avail_out == 0)
		return ST_HIST_DERR_PAYLOAD_MISMATCH;
	return s->zs.avail_in == 0 ? ST_HIST_DERR_OK : ST_HIST_DERR_TRAILING;
}

static enum st_hist_derr apply_counts(struct st_hist *h, const uint8_t *p,
				      size_t n)
{
	int32_t idx = 0, first = -1, last = -1;
	uint64_t u, run;
	int64_t count;
	size_t pos = 0;
	int k;

	while (pos < n) {
		k = st_hv2_varint_get(p + pos, n - pos, &u);
		if (k < 0)
			return st_hv2_varint_derr(k);
		pos += (size_t)k;
		if (u & 1) {
			/* ZigZag odd: -(u >> 1) - 1, i.e. a run of (u >> 1) + 1
			 * zeros, computed unsigned so INT64_MIN cannot trap. */
			run = (u >> 1) + 1;
			if (run > (uint64_t)(h->counts_len - idx))
				return ST_HIST_DERR_ZERO_RUN;
			idx += (int32_t)run;
			continue;
		}
		count = (int64_t)(u >> 1);
		if (idx >= h->counts_len)
			return ST_HIST_DERR_COUNTS_PAST_END;
		if (count > INT64_MAX - h->total)
			return ST_HIST_DERR_TOTAL_OVERFLOW;
		h->counts[idx] = count;
		h->total += count;
		if (count > 0) {
			if (first < 0)
				first = idx;
			last = idx;
		}
		idx++;
	}
	if (first >= 0) {
		/* Raw values are gone; a bucket's bottom gives the same
		 * st_hist_min/st_hist_max as the encoder's raw values did. */
		h->min_value = st_hist_value_at_index(h, first);
		h->max_value = st_hist_value_at_index(h, last);
	}
	return ST_HIST_DERR_OK;
}

/* Checks the outer header and points s at the inner bytes: buf itself,
 * or a zlib stream over the compressed block. */
static enum st_hist_derr decode_outer(const uint8_t *buf, size_t len,
				      struct dec_src *s)
{
	enum st_hist_derr e;
	const uint8_t *z;
	size_t z_len;
	bool compressed;

	e = st_hv2_parse_outer(buf, len, &compressed, &z, &z_len);
	if (e != ST_HIST_DERR_OK)
		return e;
	if (!compressed) {
		s->compressed = false;
		s->raw = buf;
		s->raw_len = len;
		return ST_HIST_DERR_OK;
	}
	s->compressed = true;
	if (inflateInit(&s->zs) != Z_OK)
		return ST_HIST_DERR_NOMEM;
	s->zs.next_in = z;
	s->zs.avail_in = (uInt)z_len;
	return ST_HIST_DERR_OK;
}

struct st_hist *st_hist_decode_v2(const uint8_t *buf, size_t len,
				  enum st_hist_derr *err)
{
	struct dec_src src;
	struct st_hist *h = NULL;
	uint8_t inner[ST_HV2_INNER_LEN];
	uint8_t *payload = NULL;
	struct st_hv2_inner in;
	enum st_hist_derr e;

	memset(&src, 0, sizeof(src));
	e = decode_outer(buf, len, &src);
	if (e != ST_HIST_DERR_OK)
		goto err;
	e = src_read(&src, inner, ST_HV2_INNER_LEN);
	if (e == ST_HIST_DERR_PAYLOAD_MISMATCH)
		e = ST_HIST_DERR_TRUNCATED;	/* stream ended inside the header */
	if (e != ST_HIST_DERR_OK)
		goto err;
	e = st_hv2_parse_inner(inner, &in);
	if (e != ST_HIST_DERR_OK)
		goto err;

	payload = malloc(in.plen > 0 ? in.plen : 1);
	h = st_hist_create(in.lowest, in.highest, in.sigfigs);
	if (payload == NULL || h == NULL) {
		e = ST_HIST_DERR_NOMEM;
		goto err;
	}
	e = src_read(&src, payload, in.plen);
	if (e != ST_HIST_DERR_OK)
		goto err;
	e = src_finish(&src);
	if (e != ST_HIST_DERR_OK)
		goto err;
	e = apply_counts(h, payload, in.plen);
	if (e != ST_HIST_DERR_OK)
		goto err;

	free(payload);
	if (src.compressed)
		inflateEnd(&src.zs);
	if (err != NULL)
		*err = ST_HIST_DERR_OK;
	return h;
err:
	st_hist_destroy(h);
	free(payload);
	if (src.compressed)
		inflateEnd(&src.zs);
	if (err != NULL)
		*err = e;
	errno = -st_hv2_derr_errno(e);
	return NULL;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

struct st_hist *st_hist_decode_b64(const char *s, size_t len,
				   enum st_hist_derr *err)
{
	struct st_hist *h;
	enum st_hist_derr e;
	uint8_t *bin;
	size_t n;
	int rc;

	while (len > 0 && is_space(*s)) {
		s++;
		len--;
	}
	while (len > 0 && is_space(s[len - 1]))
		len--;
	/* Bound the text by the binary limit before allocating for it. */
	if (len / 4 * 3 > ST_HIST_DECODE_MAX_INPUT) {
		e = ST_HIST_DERR_TOO_LARGE;
		goto err;
	}
	bin = malloc(st_base64_decoded_max(len));
	if (bin == NULL) {
		e = ST_HIST_DERR_NOMEM;
		goto err;
	}
	rc = st_base64_decode(s, len, bin, st_base64_decoded_max(len), &n);
	if (rc != 0) {
		free(bin);
		e = ST_HIST_DERR_BASE64;
		goto err;
	}
	h = st_hist_decode_v2(bin, n, err);
	free(bin);
	return h;
err:
	if (err != NULL)
		*err = e;
	errno = -st_hv2_derr_errno(e);
	return NULL;
}
