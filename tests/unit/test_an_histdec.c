/* The streaming V2 decoder gives what st_hist_decode_v2 gives, mapped
 * into the analyzer's layout, and refuses what it refuses. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "cunit_main.h"
#include "histdec.h"

static uint64_t rng = 0x853c49e6748fea9bULL;

static double unif(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}

static struct st_hist *dst;

static int init(void)
{
	dst = st_hist_create(AN_HIST_LOWEST, AN_HIST_HIGHEST, AN_HIST_SIGFIGS);
	return dst == NULL;
}

static int clean(void)
{
	st_hist_destroy(dst);
	return 0;
}

/* Decodes enc both ways and compares bucket by bucket (by value). */
static void compare(struct an_histdec *d, const uint8_t *enc, size_t len)
{
	const struct an_bin *bins;
	size_t n;
	int64_t total, clamped;
	enum st_hist_derr e1, e2;
	struct st_hist *ref = st_hist_decode_v2(enc, len, &e1);
	int rc = an_histdec_decode(d, enc, len, &bins, &n, &total, &clamped, &e2);

	CU_ASSERT_EQUAL(rc == 0, ref != NULL);
	CU_ASSERT_EQUAL(e1, e2);
	if (ref == NULL || rc != 0) {
		st_hist_destroy(ref);
		return;
	}
	CU_ASSERT_EQUAL(total, st_hist_total(ref));
	/* merging ref into an empty dst-layout histogram gives the same */
	{
		struct st_hist *m = st_hist_create(AN_HIST_LOWEST, AN_HIST_HIGHEST, AN_HIST_SIGFIGS);
		size_t k = 0;

		st_hist_add(m, ref);
		for (int32_t i = 0; i < m->counts_len; i++) {
			if (m->counts[i] == 0)
				continue;
			CU_ASSERT_FATAL(k < n);
			CU_ASSERT_EQUAL(bins[k].idx, i);
			CU_ASSERT_EQUAL(bins[k].count, m->counts[i]);
			k++;
		}
		CU_ASSERT_EQUAL(k, n);
		CU_ASSERT_EQUAL((uint64_t)clamped, m->clamped);
		st_hist_destroy(m);
	}
	st_hist_destroy(ref);
}

static void roundtrip(struct an_histdec *d, int64_t lo, int64_t hi, int sf, double scale)
{
	struct st_hist *h = st_hist_create(lo, hi, sf);
	uint8_t *buf;
	size_t len, cap;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	for (int i = 0; i < 3000; i++)
		st_hist_record(h, (int64_t)(-scale * log(unif())));
	cap = st_hist_encode_bound(h);
	buf = malloc(cap);
	CU_ASSERT_EQUAL_FATAL(st_hist_encode_v2(h, buf, cap, &len), 0);
	compare(d, buf, len);
	free(buf);
	st_hist_destroy(h);
}

static void test_same_layout(void)
{
	struct an_histdec *d = an_histdec_create(dst);

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	/* the dataplane's layout (1 ns .. 60 s, 3 digits) and ours */
	for (int i = 0; i < 20; i++)
		roundtrip(d, 1, 60000000000LL, 3, 1e6 * (1 + i));
	roundtrip(d, 1, AN_HIST_HIGHEST, 3, 2e7);
	an_histdec_destroy(d);
}

static void test_foreign_layout(void)
{
	struct an_histdec *d = an_histdec_create(dst);

	/* microsecond resolution, 2 digits; 5 digits; a top above ours */
	roundtrip(d, 1000, 100000000000LL, 2, 3e6);
	roundtrip(d, 1, 1LL << 24, 5, 1e6);
	roundtrip(d, 1, 7200LL * 1000000000, 3, 1.5e12);	/* clamps */
	roundtrip(d, 1000, 100000000000LL, 2, 3e6);		/* cached template */
	roundtrip(d, 7, 1LL << 40, 1, 1e5);
	roundtrip(d, 100, 1LL << 40, 4, 1e5);
	roundtrip(d, 3, 1LL << 40, 2, 1e5);			/* evicts one */
	an_histdec_destroy(d);
}

static void test_refusals(void)
{
	struct an_histdec *d = an_histdec_create(dst);
	struct st_hist *h = st_hist_create(1, 60000000000LL, 3);
	uint8_t buf[4096], bad[4096];
	size_t len;

	for (int i = 0; i < 500; i++)
		st_hist_record(h, (int64_t)(1e6 * unif()));
	CU_ASSERT_EQUAL_FATAL(st_hist_encode_v2(h, buf, sizeof(buf), &len), 0);
	/* every truncation, and flipped bytes everywhere: same answer both ways */
	for (size_t n = 0; n < len; n++)
		compare(d, buf, n);
	for (size_t i = 0; i < len; i++) {
		memcpy(bad, buf, len);
		bad[i] ^= (uint8_t)(0x5a + i);
		compare(d, bad, len);
	}
	memcpy(bad, buf, len);
	bad[len] = 0;
	compare(d, bad, len + 1);	/* trailing */
	/* after a refusal the decoder still works */
	compare(d, buf, len);
	st_hist_destroy(h);
	an_histdec_destroy(d);
}

/* --- where the inflated stream stops --------------------------------------
 * The decoder inflates in one go and works out what the reference's three
 * reads (header, payload, the rest byte by byte) would have said: these
 * encodings stop, go wrong or go on right at those boundaries. */

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A compressed V2 encoding of inner[0..n) in out (cap bytes): a sync flush
 * after `split` bytes (none when split >= n), the stream finished unless
 * !finish, then tail[0..tail_n) appended to the zlib bytes. Returns the
 * length. */
static size_t zwrap(const uint8_t *inner, size_t n, size_t split, bool finish,
		    const uint8_t *tail, size_t tail_n, uint8_t *out, size_t cap)
{
	z_stream zs;
	size_t clen;

	memset(&zs, 0, sizeof(zs));
	CU_ASSERT_EQUAL_FATAL(deflateInit(&zs, 6), Z_OK);
	zs.next_out = out + 8;
	zs.avail_out = (uInt)(cap - 8);
	zs.next_in = (Bytef *)(uintptr_t)inner;
	if (split < n) {
		zs.avail_in = (uInt)split;
		CU_ASSERT_EQUAL_FATAL(deflate(&zs, Z_SYNC_FLUSH), Z_OK);
	}
	zs.avail_in = (uInt)(n - (split < n ? split : 0));
	CU_ASSERT_FATAL(deflate(&zs, finish ? Z_FINISH : Z_SYNC_FLUSH) ==
			(finish ? Z_STREAM_END : Z_OK));
	clen = zs.total_out;
	deflateEnd(&zs);
	CU_ASSERT_FATAL(8 + clen + tail_n <= cap);
	if (tail_n > 0)
		memcpy(out + 8 + clen, tail, tail_n);
	clen += tail_n;
	put_be32(out, ST_HIST_V2_COMPRESSED_COOKIE);
	put_be32(out + 4, (uint32_t)clen);
	return 8 + clen;
}

/* The inner bytes (header and payload) of h's encoding, in a new buffer. */
static uint8_t *inner_of(const struct st_hist *h, size_t *n)
{
	size_t cap = st_hist_encode_bound(h), len;
	uint8_t *enc = malloc(cap), *inner;
	uLongf got;

	CU_ASSERT_PTR_NOT_NULL_FATAL(enc);
	CU_ASSERT_EQUAL_FATAL(st_hist_encode_v2(h, enc, cap, &len), 0);
	got = 64 + 9 * (uLongf)h->counts_len;
	inner = malloc(got);
	CU_ASSERT_PTR_NOT_NULL_FATAL(inner);
	CU_ASSERT_EQUAL_FATAL(uncompress(inner, &got, enc + 8, len - 8), Z_OK);
	free(enc);
	*n = got;
	return inner;
}

/* Every way of stopping at, before or after the header and the payload
 * boundary, for one histogram's inner bytes. */
static void boundaries(struct an_histdec *d, const struct st_hist *h)
{
	static const uint8_t bad_block = 0x07;	/* final, type 3: invalid */
	static const uint8_t junk[3] = { 0x03, 0x00, 0x42 };
	size_t n, cap, len, t;
	uint8_t *inner = inner_of(h, &n), *raw, *out;
	uint32_t plen;

	cap = 2 * n + 1024;
	out = malloc(cap);
	raw = malloc(n + 2);
	CU_ASSERT_FATAL(out != NULL && raw != NULL);
	t = n;
	{
		const size_t splits[] = { 0, 1, 39, 40, 41, t - 1, t };

		for (size_t i = 0; i < sizeof(splits) / sizeof(splits[0]); i++) {
			size_t sp = splits[i];

			/* whole, flushed at sp */
			compare(d, out, zwrap(inner, n, sp, true, NULL, 0, out, cap));
			/* cut at sp: the stream ends there ... */
			compare(d, out, zwrap(inner, sp, n, true, NULL, 0, out, cap));
			/* ... the input ends there ... */
			compare(d, out, zwrap(inner, sp, n, false, NULL, 0, out, cap));
			/* ... an invalid block follows ... */
			compare(d, out, zwrap(inner, sp, n, false, &bad_block, 1, out, cap));
			/* ... or it ends and junk follows */
			compare(d, out, zwrap(inner, sp, n, true, junk, sizeof(junk), out, cap));
			/* one byte more after sp, then an invalid block */
			if (sp < n)
				compare(d, out, zwrap(inner, sp + 1, n, false, &bad_block, 1,
						      out, cap));
		}
	}
	/* the whole thing with a bad check value, and with one byte too many */
	len = zwrap(inner, n, n, true, NULL, 0, out, cap);
	out[len - 1] ^= 1;
	compare(d, out, len);
	memcpy(raw, inner, n);
	raw[n] = 0;
	compare(d, out, zwrap(raw, n + 1, n, true, NULL, 0, out, cap));
	/* the header declaring one byte less and one more */
	plen = (uint32_t)(t - 40);
	for (int k = -1; k <= 1; k += 2) {
		memcpy(raw, inner, n);
		put_be32(raw + 4, plen + (uint32_t)k);
		compare(d, out, zwrap(raw, n, n, true, NULL, 0, out, cap));
		compare(d, out, zwrap(raw, n, 40, true, NULL, 0, out, cap));
		/* uncompressed: the inner bytes themselves */
		put_be32(raw, ST_HIST_V2_COOKIE);
		compare(d, raw, n);
		compare(d, raw, n - 1);
		compare(d, raw, n + 1);
	}
	/* uncompressed, right and with a byte after */
	memcpy(raw, inner, n);
	put_be32(raw, ST_HIST_V2_COOKIE);
	raw[n] = 0;
	compare(d, raw, n);
	compare(d, raw, n + 1);
	compare(d, raw, 39);
	compare(d, raw, 40);
	free(raw);
	free(out);
	free(inner);
}

static void test_boundaries(void)
{
	struct an_histdec *d = an_histdec_create(dst);
	struct st_hist *h;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	/* empty (payload of one zero run), a snapshot-sized one */
	h = st_hist_create(1, 60000000000LL, 3);
	boundaries(d, h);
	for (int i = 0; i < 300; i++)
		st_hist_record(h, (int64_t)(2e6 * unif()));
	boundaries(d, h);
	st_hist_destroy(h);
	/* a payload far above the first run and the buffer (it grows) */
	h = st_hist_create(1, 1LL << 40, 5);
	for (int i = 0; i < 200000; i++)
		st_hist_record(h, (int64_t)(1e10 * unif()));
	boundaries(d, h);
	st_hist_destroy(h);
	an_histdec_destroy(d);
}

/* A hand-made zlib stream: one final fixed-Huffman block, written LSB
 * first as RFC 1951 says. */
struct bits {
	uint8_t *p;
	size_t n;		/* bits written */
};

static void put_bits(struct bits *b, uint32_t v, int n)
{
	for (int i = 0; i < n; i++, b->n++) {
		if (b->n % 8 == 0)
			b->p[b->n / 8] = 0;
		b->p[b->n / 8] |= (uint8_t)(((v >> i) & 1) << (b->n % 8));
	}
}

/* A Huffman code goes most significant bit first. */
static void put_code(struct bits *b, uint32_t code, int n)
{
	for (int i = n - 1; i >= 0; i--)
		put_bits(b, (code >> i) & 1, 1);
}

static void put_lit(struct bits *b, uint8_t c)
{
	if (c < 144)
		put_code(b, 0x30 + c, 8);
	else
		put_code(b, 0x190 + (c - 144u), 9);
}

/* A V2 encoding whose zlib stream holds lit[0..n) as literals, then a
 * match of length 3 with distance code dcode (4: distance 6; 29: distance
 * 24577; 30: invalid), then the end of the block and the check. */
static size_t fixed_stream(const uint8_t *lit, size_t n, int dcode, uint8_t *out)
{
	struct bits b = { out + 10, 0 };
	size_t len;
	uLong a;

	put_bits(&b, 1, 1);		/* final */
	put_bits(&b, 1, 2);		/* fixed Huffman */
	for (size_t i = 0; i < n; i++)
		put_lit(&b, lit[i]);
	if (dcode >= 0) {
		put_code(&b, 1, 7);	/* 257: length 3 */
		put_code(&b, (uint32_t)dcode, 5);
		if (dcode == 4)
			put_bits(&b, 1, 1);
		if (dcode == 29)
			put_bits(&b, 0, 13);
	}
	put_code(&b, 0, 7);		/* 256: end of block */
	len = (b.n + 7) / 8;
	a = adler32(1, lit, (uInt)n);	/* wrong once a match is there */
	out[8] = 0x78;
	out[9] = 0x01;
	put_be32(out + 10 + len, (uint32_t)a);
	len += 6;
	put_be32(out, ST_HIST_V2_COMPRESSED_COOKIE);
	put_be32(out + 4, (uint32_t)len);
	return 8 + len;
}

/* Right after the header or the payload: a distance before the start (an
 * error zlib finds only with room for the match) or an invalid distance
 * code (found without), with a good and a bad header. */
static void test_distance_errors(void)
{
	struct an_histdec *d = an_histdec_create(dst);
	struct st_hist *h = st_hist_create(1, 60000000000LL, 3);
	uint8_t out[8192];
	size_t n;
	uint8_t *inner;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	for (int i = 0; i < 50; i++)
		st_hist_record(h, (int64_t)(2e6 * unif()));
	inner = inner_of(h, &n);
	CU_ASSERT_FATAL(n < 2000);
	for (int bad = 0; bad < 2; bad++) {
		if (bad)
			inner[0] ^= 0x40;
		for (int dc = 0; dc < 3; dc++) {
			int dcode = dc == 0 ? -1 : dc == 1 ? 30 : 29;

			/* header only; one byte less; the whole; one more */
			compare(d, out, fixed_stream(inner, 40, dcode, out));
			compare(d, out, fixed_stream(inner, 39, dcode, out));
			compare(d, out, fixed_stream(inner, n, dcode, out));
			compare(d, out, fixed_stream(inner, n - 1, dcode, out));
		}
	}
	/* a distance that reaches before the start, at the very start */
	for (size_t k = 1; k < 8; k++)
		compare(d, out, fixed_stream(inner, k, 4, out));
	free(inner);
	st_hist_destroy(h);
	an_histdec_destroy(d);
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "same_layout", test_same_layout },
		{ "foreign_layout", test_foreign_layout },
		{ "refusals", test_refusals },
		{ "boundaries", test_boundaries },
		{ "distance_errors", test_distance_errors },
		{ NULL, NULL },
	};

	return st_cu_add_suite("an_histdec", init, clean, tests);
}
