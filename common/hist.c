/* HDR histogram: layout, queries, merge. The layout arithmetic follows
 * HdrHistogram_c's hdr_calculate_bucket_config step for step, because
 * "interchangeable encoding" means equal counts arrays, and those only
 * agree if every derived size agrees. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"

#define HIST_F_ALLOCATED 1u

struct hist_layout {
	int32_t unit_magnitude;
	int32_t sub_bucket_half_count_magnitude;
	int32_t sub_bucket_count;
	int32_t bucket_count;
	int32_t counts_len;
};

/* HdrHistogram_c's buckets_needed_to_cover_value: buckets double the range
 * each, the first one covering sub_bucket_count units. */
static int32_t buckets_needed(int64_t value, int32_t sub_bucket_count,
			      int32_t unit_magnitude)
{
	int64_t smallest_untrackable = (int64_t)sub_bucket_count << unit_magnitude;
	int32_t needed = 1;

	while (smallest_untrackable <= value) {
		if (smallest_untrackable > INT64_MAX / 2)
			return needed + 1;
		smallest_untrackable <<= 1;
		needed++;
	}
	return needed;
}

static int hist_layout(int64_t lowest, int64_t highest, int sigfigs,
		       struct hist_layout *l)
{
	int64_t largest_single_unit;
	int32_t sub_bucket_count_magnitude;

	if (lowest < 1 || sigfigs < ST_HIST_SIGFIGS_MIN ||
	    sigfigs > ST_HIST_SIGFIGS_MAX || highest > ST_HIST_HIGHEST_MAX ||
	    lowest > highest / 2)
		return -EINVAL;

	/* Smallest power of two >= 2 * 10^sigfigs, what HdrHistogram gets
	 * from ceil(log(x) / log(2)); x is never a power of two, so the
	 * integer form cannot disagree with the floating one. */
	largest_single_unit = 2;
	for (int i = 0; i < sigfigs; i++)
		largest_single_unit *= 10;
	sub_bucket_count_magnitude = 64 - __builtin_clzll((uint64_t)largest_single_unit - 1);
	l->sub_bucket_half_count_magnitude =
		(sub_bucket_count_magnitude > 1 ? sub_bucket_count_magnitude : 1) - 1;

	/* Deliberately the floating expression HdrHistogram_c and Java use,
	 * not an exact floor(log2): for lowest just below a large power of
	 * two (>= 2^47) they round up, and the layout must match theirs. */
	l->unit_magnitude = (int32_t)(log((double)lowest) / log(2.0));
	if (l->unit_magnitude + l->sub_bucket_half_count_magnitude > 61)
		return -EINVAL;
	l->sub_bucket_count = (int32_t)1 << (l->sub_bucket_half_count_magnitude + 1);
	l->bucket_count = buckets_needed(highest, l->sub_bucket_count,
					 l->unit_magnitude);
	l->counts_len = (l->bucket_count + 1) * (l->sub_bucket_count / 2);
	return 0;
}

size_t st_hist_size(int64_t lowest, int64_t highest, int sigfigs)
{
	struct hist_layout l;

	if (hist_layout(lowest, highest, sigfigs, &l) != 0)
		return 0;
	return sizeof(struct st_hist) + (size_t)l.counts_len * sizeof(int64_t);
}

static void hist_setup(struct st_hist *h, int64_t lowest, int64_t highest,
		       int sigfigs, const struct hist_layout *l, uint32_t flags)
{
	memset(h, 0, sizeof(*h));
	h->lowest = lowest;
	h->highest = highest;
	h->sigfigs = sigfigs;
	h->unit_magnitude = l->unit_magnitude;
	h->sub_bucket_half_count_magnitude = l->sub_bucket_half_count_magnitude;
	h->sub_bucket_count = l->sub_bucket_count;
	h->sub_bucket_half_count = l->sub_bucket_count / 2;
	h->bucket_count = l->bucket_count;
	h->counts_len = l->counts_len;
	h->lzc_base = 64 - l->unit_magnitude - l->sub_bucket_half_count_magnitude - 1;
	h->sub_bucket_mask = ((int64_t)l->sub_bucket_count - 1) << l->unit_magnitude;
	h->flags = flags;
	st_hist_reset(h);
}

int st_hist_init(void *mem, size_t len, int64_t lowest, int64_t highest,
		 int sigfigs)
{
	struct hist_layout l;
	int rc;

	if (mem == NULL || ((uintptr_t)mem & (sizeof(int64_t) - 1)) != 0)
		return -EINVAL;
	rc = hist_layout(lowest, highest, sigfigs, &l);
	if (rc != 0)
		return rc;
	if (len < sizeof(struct st_hist) + (size_t)l.counts_len * sizeof(int64_t))
		return -ENOSPC;
	hist_setup(mem, lowest, highest, sigfigs, &l, 0);
	return 0;
}

struct st_hist *st_hist_create(int64_t lowest, int64_t highest, int sigfigs)
{
	struct hist_layout l;
	struct st_hist *h;

	if (hist_layout(lowest, highest, sigfigs, &l) != 0) {
		errno = EINVAL;
		return NULL;
	}
	h = malloc(sizeof(*h) + (size_t)l.counts_len * sizeof(int64_t));
	if (h == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	hist_setup(h, lowest, highest, sigfigs, &l, HIST_F_ALLOCATED);
	return h;
}

void st_hist_destroy(struct st_hist *h)
{
	if (h != NULL && (h->flags & HIST_F_ALLOCATED))
		free(h);
}

void st_hist_reset(struct st_hist *h)
{
	memset(h->counts, 0, (size_t)h->counts_len * sizeof(int64_t));
	h->total = 0;
	h->min_value = INT64_MAX;
	h->max_value = 0;
	h->clamped = 0;
	h->rejected = 0;
}

/* --- equivalent values ------------------------------------------------- */

/* Equivalence is a property of the layout, defined for every value the
 * counts array could hold (all below 2^62); clamping to that keeps the
 * arithmetic below from overflowing for any input. */
static int64_t clamp_value(int64_t v)
{
	if (v < 0)
		return 0;
	return v > ST_HIST_HIGHEST_MAX ? ST_HIST_HIGHEST_MAX : v;
}

static int32_t bucket_of(const struct st_hist *h, int64_t v)
{
	return h->lzc_base -
		__builtin_clzll((uint64_t)v | (uint64_t)h->sub_bucket_mask);
}

int64_t st_hist_lowest_equivalent(const struct st_hist *h, int64_t v)
{
	int32_t b;

	v = clamp_value(v);
	b = bucket_of(h, v);
	return (v >> (b + h->unit_magnitude)) << (b + h->unit_magnitude);
}

int64_t st_hist_equivalent_range(const struct st_hist *h, int64_t v)
{
	int32_t b, sub;

	v = clamp_value(v);
	b = bucket_of(h, v);
	sub = (int32_t)(v >> (b + h->unit_magnitude));
	if (sub >= h->sub_bucket_count)
		b++;
	return (int64_t)1 << (h->unit_magnitude + b);
}

int64_t st_hist_highest_equivalent(const struct st_hist *h, int64_t v)
{
	return st_hist_lowest_equivalent(h, v) + st_hist_equivalent_range(h, v) - 1;
}

int64_t st_hist_median_equivalent(const struct st_hist *h, int64_t v)
{
	return st_hist_lowest_equivalent(h, v) + (st_hist_equivalent_range(h, v) >> 1);
}

bool st_hist_values_equivalent(const struct st_hist *h, int64_t a, int64_t b)
{
	return st_hist_lowest_equivalent(h, a) == st_hist_lowest_equivalent(h, b);
}

int64_t st_hist_value_at_index(const struct st_hist *h, int32_t idx)
{
	int32_t bucket = (idx >> h->sub_bucket_half_count_magnitude) - 1;
	int32_t sub = (idx & (h->sub_bucket_half_count - 1)) + h->sub_bucket_half_count;

	/* The first half-bucket holds the bottom of bucket 0. */
	if (bucket < 0) {
		sub -= h->sub_bucket_half_count;
		bucket = 0;
	}
	return (int64_t)sub << (bucket + h->unit_magnitude);
}

/* --- queries ------------------------------------------------------------ */

int64_t st_hist_total(const struct st_hist *h)
{
	return h->total;
}

int64_t st_hist_min(const struct st_hist *h)
{
	return h->total == 0 ? 0 : st_hist_lowest_equivalent(h, h->min_value);
}

int64_t st_hist_max(const struct st_hist *h)
{
	return h->total == 0 ? 0 : st_hist_highest_equivalent(h, h->max_value);
}

double st_hist_mean(const struct st_hist *h)
{
	struct st_hist_iter it;
	double sum = 0.0;

	if (h->total == 0)
		return 0.0;
	st_hist_iter_init(&it, h);
	while (st_hist_iter_next(&it))
		sum += (double)st_hist_median_equivalent(h, it.lo) * (double)it.count;
	return sum / (double)h->total;
}

double st_hist_stddev(const struct st_hist *h)
{
	struct st_hist_iter it;
	double mean, dev, sum = 0.0;

	if (h->total == 0)
		return 0.0;
	mean = st_hist_mean(h);
	st_hist_iter_init(&it, h);
	while (st_hist_iter_next(&it)) {
		dev = (double)st_hist_median_equivalent(h, it.lo) - mean;
		sum += dev * dev * (double)it.count;
	}
	return sqrt(sum / (double)h->total);
}

uint64_t st_quantile_rank(double q, uint64_t total)
{
	double fp = q * (double)total;

	/* q * total can come out one ulp above an integer and ceil would
	 * then skip a whole sample; hdr-histogram-js subtracts that ulp
	 * first, and so do we, so both give the same answer. */
	if (fp > 0.0)
		fp = ceil(fp - ldexp(1.0, (int)floor(log2(fp)) - 52));
	if (!(fp < (double)total))
		return total;
	return fp < 1.0 ? 1 : (uint64_t)fp;
}

int64_t st_hist_value_at_percentile(const struct st_hist *h, double pct)
{
	int64_t want, cum = 0;

	if (h->total == 0)
		return 0;
	if (!(pct > 0.0))
		return st_hist_min(h);
	if (pct >= 100.0)
		return st_hist_max(h);

	want = (int64_t)st_quantile_rank(pct / 100.0, (uint64_t)h->total);

	for (int32_t i = 0; i < h->counts_len; i++) {
		cum += h->counts[i];
		if (cum >= want)
			return st_hist_highest_equivalent(h, st_hist_value_at_index(h, i));
	}
	return st_hist_max(h);
}

int64_t st_hist_count_at_or_below(const struct st_hist *h, int64_t v)
{
	int64_t cum = 0;
	int32_t last;

	if (v < 0)
		return 0;
	if (v >= h->highest)
		return h->total;
	last = st_hist_index_(h, v);
	for (int32_t i = 0; i <= last; i++)
		cum += h->counts[i];
	return cum;
}

void st_hist_iter_init(struct st_hist_iter *it, const struct st_hist *h)
{
	memset(it, 0, sizeof(*it));
	it->h = h;
}

bool st_hist_iter_next(struct st_hist_iter *it)
{
	const struct st_hist *h = it->h;

	/* Stop once every sample is seen, so a walk does not scan the empty
	 * top of the array. */
	if (it->cum >= h->total)
		return false;
	for (int32_t i = it->idx; i < h->counts_len; i++) {
		if (h->counts[i] == 0)
			continue;
		it->idx = i + 1;
		it->lo = st_hist_value_at_index(h, i);
		it->hi = st_hist_highest_equivalent(h, it->lo);
		it->count = h->counts[i];
		it->cum += it->count;
		return true;
	}
	it->idx = h->counts_len;
	return false;
}

/* --- merge -------------------------------------------------------------- */

static bool same_layout(const struct st_hist *a, const struct st_hist *b)
{
	return a->unit_magnitude == b->unit_magnitude &&
	       a->sub_bucket_half_count_magnitude == b->sub_bucket_half_count_magnitude;
}

/* Adds n to one bucket, saturating. Returns the samples that did not fit. */
static int64_t add_count(struct st_hist *dst, int32_t idx, int64_t n)
{
	int64_t room = INT64_MAX - dst->total;
	int64_t lost = 0;

	if (INT64_MAX - dst->counts[idx] < room)
		room = INT64_MAX - dst->counts[idx];
	if (n > room) {
		lost = n - room;
		n = room;
	}
	dst->counts[idx] += n;
	dst->total += n;
	return lost;
}

int64_t st_hist_add(struct st_hist *dst, const struct st_hist *src)
{
	int32_t top = st_hist_index_(dst, dst->highest);
	bool same = same_layout(dst, src);
	int64_t lost = 0, n, lo, v;
	int32_t idx;

	if (src->total == 0)
		goto counters;
	for (int32_t i = 0; i < src->counts_len; i++) {
		n = src->counts[i];
		if (n == 0)
			continue;
		lo = st_hist_value_at_index(src, i);
		if (lo > dst->highest) {
			/* Wholly above dst's range: keep the sample as highest. */
			v = dst->highest;
			idx = top;
			dst->clamped += (uint64_t)n;
			lost += n;
		} else if (same) {
			v = lo;
			idx = i;
		} else {
			v = st_hist_highest_equivalent(src, lo);
			if (v > dst->highest)
				v = dst->highest;
			idx = st_hist_index_(dst, v);
		}
		lost += add_count(dst, idx, n);
		if (v < dst->min_value)
			dst->min_value = v;
		if (v > dst->max_value)
			dst->max_value = v;
	}
	/* With equal layouts the raw extremes carry over exactly. */
	if (same && src->min_value < dst->min_value)
		dst->min_value = src->min_value;
	if (same && src->max_value > dst->max_value && src->max_value <= dst->highest)
		dst->max_value = src->max_value;
counters:
	dst->clamped += src->clamped;
	dst->rejected += src->rejected;
	return lost;
}
