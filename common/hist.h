/* HDR histogram of nanosecond latencies, laid out exactly like
 * HdrHistogram_c and the Java/JS HdrHistogram: the same sub-bucket count,
 * bucket count and counts array for the same (lowest, highest, sigfigs), so
 * bucket indices agree and the V2 encoding is interchangeable with theirs.
 *
 * Values are grouped so that any value is within 10^-sigfigs of the value
 * its bucket reports. Recording never allocates, locks or fails: the
 * dataplane records into per-worker histograms (placed with st_hist_init in
 * its own memory), swaps them each interval and the reader merges them.
 * Nothing here is thread-safe; one writer per histogram.
 *
 * A value below 0 is a bug in the caller's clock arithmetic: it is counted
 * in `rejected` and dropped. A value above `highest` is recorded AS `highest`
 * and counted in `clamped`: a latency histogram must not lose a sample, or a
 * shadow that gets slow would look better than it is (the slowest samples
 * would vanish from the tail). Requests that never got a response are not
 * latencies at all: the timing code counts them as timeouts, separately. */
#ifndef ST_HIST_H
#define ST_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The struct is public so that recording can be inlined; treat every field
 * as read-only outside hist.c. */
struct st_hist {
	int64_t lowest;		/* lowest discernible value, >= 1 */
	int64_t highest;	/* highest trackable value */
	int32_t sigfigs;	/* significant decimal digits, 1..5 */
	int32_t unit_magnitude;	/* floor(log2(lowest)) */
	int32_t sub_bucket_half_count_magnitude;
	int32_t sub_bucket_count;
	int32_t sub_bucket_half_count;
	int32_t bucket_count;
	int32_t counts_len;
	int32_t lzc_base;	/* 64 - unit_magnitude - sub_bucket_half_count_magnitude - 1 */
	int64_t sub_bucket_mask;
	int64_t total;		/* samples recorded, clamped ones included */
	int64_t min_value;	/* smallest value recorded (INT64_MAX when empty) */
	int64_t max_value;	/* largest value recorded, after clamping */
	uint64_t clamped;	/* samples above highest, recorded as highest */
	uint64_t rejected;	/* negative samples, dropped */
	uint32_t flags;
	uint32_t pad_;
	int64_t counts[];
};

/* Limits the constructors enforce (the decoder enforces tighter ones). */
#define ST_HIST_SIGFIGS_MIN 1
#define ST_HIST_SIGFIGS_MAX 5
#define ST_HIST_HIGHEST_MAX (INT64_MAX / 2)

/* Bytes a histogram with this layout needs (struct and counts), or 0 when
 * the arguments are invalid (lowest < 1, highest < 2 * lowest, highest >
 * ST_HIST_HIGHEST_MAX, sigfigs outside 1..5). Never fails otherwise; O(1).
 * 3 sigfigs over 1 ns..1 h is 33792 counts, 264 KiB. */
size_t st_hist_size(int64_t lowest, int64_t highest, int sigfigs);

/* Builds an empty histogram in caller memory (e.g. rte_zmalloc'd per-worker
 * memory) of len bytes, 8-byte aligned. Returns 0, -EINVAL (bad arguments,
 * misaligned mem) or -ENOSPC (len < st_hist_size()). Zeroes the counts:
 * O(counts). Do not pass such a histogram to st_hist_destroy (it is safe:
 * nothing is freed, but the caller still owns mem). */
int st_hist_init(void *mem, size_t len, int64_t lowest, int64_t highest,
		 int sigfigs);

/* Allocates an empty histogram. Returns NULL with errno EINVAL (bad
 * arguments, as for st_hist_size) or ENOMEM. */
struct st_hist *st_hist_create(int64_t lowest, int64_t highest, int sigfigs);

/* Frees a histogram from st_hist_create or a decoder; NULL and histograms
 * placed with st_hist_init are ignored. */
void st_hist_destroy(struct st_hist *h);

/* Empties the histogram and its clamped/rejected counters. O(counts). */
void st_hist_reset(struct st_hist *h);

/* Counts-array index of a value in 0..highest (HdrHistogram's
 * counts_index_for). Internal to recording; exposed for the inline path. */
static inline int32_t st_hist_index_(const struct st_hist *h, int64_t v)
{
	int32_t bucket = h->lzc_base -
		__builtin_clzll((uint64_t)v | (uint64_t)h->sub_bucket_mask);
	int32_t sub = (int32_t)(v >> (bucket + h->unit_magnitude));

	return ((bucket + 1) << h->sub_bucket_half_count_magnitude) +
		sub - h->sub_bucket_half_count;
}

/* Records n samples of value v (ns). n <= 0 records nothing. Never fails,
 * never allocates: ~2 ns. The caller keeps counts below 2^63. */
static inline void st_hist_record_n(struct st_hist *h, int64_t v, int64_t n)
{
	if (__builtin_expect(n <= 0, 0))
		return;
	if (__builtin_expect(v < 0, 0)) {
		h->rejected += (uint64_t)n;
		return;
	}
	if (__builtin_expect(v > h->highest, 0)) {
		v = h->highest;
		h->clamped += (uint64_t)n;
	}
	h->counts[st_hist_index_(h, v)] += n;
	h->total += n;
	if (v < h->min_value)
		h->min_value = v;
	if (v > h->max_value)
		h->max_value = v;
}

/* Records one sample; see st_hist_record_n. */
static inline void st_hist_record(struct st_hist *h, int64_t v)
{
	st_hist_record_n(h, v, 1);
}

/* Adds src into dst; the layouts may differ. With the same layout counts
 * are added index by index; otherwise each bucket of src is recorded at its
 * highest equivalent value (so a merge never makes latencies look better).
 * Buckets of src that lie wholly above dst->highest are recorded as
 * dst->highest and counted in dst->clamped. src's clamped and rejected
 * counters are added to dst's. Returns the number of src samples that did
 * not fit (clamped by this merge, or lost to int64 overflow). Never fails;
 * O(src counts). */
int64_t st_hist_add(struct st_hist *dst, const struct st_hist *src);

/* Samples recorded (clamped included, rejected not). O(1). */
int64_t st_hist_total(const struct st_hist *h);

/* Lowest equivalent value of the smallest sample, 0 when empty. O(1). */
int64_t st_hist_min(const struct st_hist *h);

/* Highest equivalent value of the largest sample, 0 when empty. O(1). */
int64_t st_hist_max(const struct st_hist *h);

/* Mean and population standard deviation over the buckets' median
 * equivalent values (HdrHistogram's definition); 0 when empty. O(counts). */
double st_hist_mean(const struct st_hist *h);
double st_hist_stddev(const struct st_hist *h);

/* HdrHistogram's getValueAtPercentile: the highest equivalent value of the
 * first bucket at which the cumulative count reaches ceil(pct/100 * total)
 * (at least 1; the ceil ignores a 1-ulp excess as hdr-histogram-js does).
 * pct <= 0 (and NaN) gives st_hist_min, pct >= 100 st_hist_max. Returns 0
 * when empty. O(counts). */
int64_t st_hist_value_at_percentile(const struct st_hist *h, double pct);
/* The rank (1..total) of the sample at quantile q (0..1) of total samples:
 * ceil(q * total), at least 1, as HdrHistogram takes it. */
uint64_t st_quantile_rank(double q, uint64_t total);

/* Samples in the buckets up to and including the one holding v (so every
 * sample that may be <= v). v < 0 gives 0, v >= highest gives the total.
 * O(counts). */
int64_t st_hist_count_at_or_below(const struct st_hist *h, int64_t v);

/* Equivalent-value helpers (HdrHistogram's): all values in one bucket are
 * equivalent. Defined by the layout alone, also above highest; v is clamped
 * to 0..ST_HIST_HIGHEST_MAX first. O(1). */
int64_t st_hist_lowest_equivalent(const struct st_hist *h, int64_t v);
int64_t st_hist_highest_equivalent(const struct st_hist *h, int64_t v);
int64_t st_hist_median_equivalent(const struct st_hist *h, int64_t v);
int64_t st_hist_equivalent_range(const struct st_hist *h, int64_t v);
bool st_hist_values_equivalent(const struct st_hist *h, int64_t a, int64_t b);

/* Lowest value counted at a counts index (0 <= idx < counts_len). */
int64_t st_hist_value_at_index(const struct st_hist *h, int32_t idx);

/* Walks the non-empty buckets in increasing value order. Each step gives
 * the bucket's value range lo..hi (inclusive), its count and the cumulative
 * count through it, which is what order-statistic confidence intervals and
 * DKW bands need. The histogram must not change during the walk. */
struct st_hist_iter {
	const struct st_hist *h;
	int32_t idx;		/* next index to look at */
	int64_t lo;
	int64_t hi;
	int64_t count;
	int64_t cum;
};

void st_hist_iter_init(struct st_hist_iter *it, const struct st_hist *h);

/* Advances to the next non-empty bucket. Returns false when there is none
 * (then the fields keep the last bucket). O(counts) for a whole walk. */
bool st_hist_iter_next(struct st_hist_iter *it);

/* --- V2 encoding (hist_codec.c) -------------------------------------------
 *
 * HdrHistogram's "V2 compressed" form: big-endian cookie 0x1c849314 and
 * compressed length, then zlib data holding cookie 0x1c849313, payload
 * length, normalizing index offset, significant digits, lowest, highest,
 * conversion ratio (double 1.0) and the counts as ZigZag LEB128-64b9B
 * varints, a negative -N standing for N zero counts. The cookies carry 0x10
 * in the word-size nibble as HdrHistogram_c, Java and JS write them;
 * decoders compare cookie & ~0xf0, so the base values are accepted too.
 * The base64 form is what HdrHistogram logs and hdr-histogram-js use. */

#define ST_HIST_V2_COOKIE		0x1c849313u
#define ST_HIST_V2_COMPRESSED_COOKIE	0x1c849314u

/* What the decoder accepts; every size is checked before anything is
 * allocated. 2^20 counts (8 MiB) holds 3 sigfigs over 1 ns..1 h (33792
 * counts) and 4 sigfigs over the same (475136), but 5 sigfigs only up to
 * 2^24 units (16.7 ms in ns). */
#define ST_HIST_DECODE_MAX_INPUT	(1u << 20)
#define ST_HIST_DECODE_MAX_INFLATED	(8u << 20)
#define ST_HIST_DECODE_MAX_COUNTS	(1 << 20)

/* Why a decode failed. */
enum st_hist_derr {
	ST_HIST_DERR_OK = 0,
	ST_HIST_DERR_NOMEM,
	ST_HIST_DERR_TOO_LARGE,		/* input above ST_HIST_DECODE_MAX_INPUT */
	ST_HIST_DERR_TRUNCATED,		/* ends inside the header or compressed block */
	ST_HIST_DERR_TRAILING,		/* bytes after the compressed block or zlib stream */
	ST_HIST_DERR_COOKIE,		/* not an HdrHistogram encoding */
	ST_HIST_DERR_VERSION,		/* V0/V1 HdrHistogram encoding: unsupported */
	ST_HIST_DERR_ZLIB,		/* corrupt deflate data */
	ST_HIST_DERR_INNER_COOKIE,	/* inflated data is not a V2 histogram */
	ST_HIST_DERR_SIGFIGS,		/* significant digits outside 1..5 */
	ST_HIST_DERR_LOWEST,		/* lowest < 1, or too coarse for sigfigs */
	ST_HIST_DERR_HIGHEST,		/* highest < 2 * lowest, or above ST_HIST_HIGHEST_MAX */
	ST_HIST_DERR_COUNTS_LEN,	/* layout needs more than ST_HIST_DECODE_MAX_COUNTS */
	ST_HIST_DERR_PAYLOAD_LEN,	/* declared payload negative or impossibly large */
	ST_HIST_DERR_PAYLOAD_MISMATCH,	/* inflated payload longer or shorter than declared */
	ST_HIST_DERR_VARINT_TRUNCATED,	/* varint runs past the payload */
	ST_HIST_DERR_VARINT_OVERLONG,	/* varint not in its shortest form */
	ST_HIST_DERR_ZERO_RUN,		/* run of zero counts past the counts array */
	ST_HIST_DERR_COUNTS_PAST_END,	/* more counts than the layout holds */
	ST_HIST_DERR_TOTAL_OVERFLOW,	/* counts add up past INT64_MAX */
	ST_HIST_DERR_BASE64,		/* not canonical base64 */
};

/* A short English reason for logs ("zero run past end of counts"). */
const char *st_hist_derr_str(enum st_hist_derr e);

/* Upper bound of the V2 compressed size of h. O(counts). */
size_t st_hist_encode_bound(const struct st_hist *h);

/* Writes the V2 compressed encoding of h into out. Returns 0 with *len set,
 * -ENOSPC with *len = st_hist_encode_bound(h) when cap is too small, or
 * -ENOMEM/-EIO from zlib. Allocates only zlib's stream state (~256 KiB);
 * not for the poll loops. O(counts). */
int st_hist_encode_v2(const struct st_hist *h, uint8_t *out, size_t cap,
		      size_t *len);

/* Returns the base64 text of the V2 compressed encoding, NUL-terminated and
 * malloc'd (free it), with its length in *len when len is not NULL; NULL
 * with errno ENOMEM/EIO. */
char *st_hist_encode_b64(const struct st_hist *h, size_t *len);

/* Decodes a V2 encoding, compressed (cookie 0x1c849304/14) or not
 * (0x1c849303/13). Everything is bounded before allocating: input size,
 * inflated size (inflation stops one byte past the declared payload), the
 * header fields, counts length, varint form, zero runs, total count, and no
 * trailing bytes. The normalizing index offset and conversion ratio are
 * read and ignored, as HdrHistogram does for integer histograms
 * (hdr-histogram-js writes 1 and int64 1 there). Returns a new histogram
 * (st_hist_destroy it) or NULL with errno EINVAL (malformed), E2BIG (over a
 * limit) or ENOMEM, and *err (when not NULL) says why. O(input + counts). */
struct st_hist *st_hist_decode_v2(const uint8_t *buf, size_t len,
				  enum st_hist_derr *err);

/* Same from base64 text (surrounding whitespace ignored, padding optional). */
struct st_hist *st_hist_decode_b64(const char *s, size_t len,
				   enum st_hist_derr *err);

#endif
