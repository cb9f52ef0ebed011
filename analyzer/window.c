#include <errno.h>
#include <stdbool.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "window.h"

double an_win_secs(const struct an_win *w)
{
	double s = (double)(w->t1 - w->t0) / 1e9;

	return s < 1e-3 ? 1e-3 : s;
}

double an_win_rate(const struct an_win *w, uint32_t override)
{
	uint32_t c = override ? override : w->instances;

	return (double)w->requests / an_win_secs(w) / (c ? c : 1);
}

double an_win_error_rate(const struct an_win *w)
{
	if (w->requests == 0)
		return 0;
	return (double)(w->timeouts + w->resets + w->icmp_errors) /
	       (double)w->requests;
}

int an_target_init(struct an_target *t, const char *name, enum st_role role,
		   uint32_t history, uint32_t keep_bins)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->role = role;
	for (int i = 0; i < AN_OPEN; i++)
		t->acc[i].w = -1;
	t->ring = calloc(history, sizeof(*t->ring));
	if (t->ring == NULL)
		return -ENOMEM;
	t->cap = history;
	t->keep_bins = keep_bins < history ? keep_bins : history;
	return 0;
}

void an_target_free(struct an_target *t)
{
	for (int i = 0; i < AN_OPEN; i++)
		free(t->acc[i].slots);
	for (uint32_t i = 0; i < t->cap && t->ring; i++)
		free(t->ring[i].bins);
	free(t->ring);
	memset(t, 0, sizeof(*t));
}

struct an_acc *an_target_acc(struct an_target *t, int64_t w)
{
	struct an_acc *free_slot = NULL;

	for (int i = 0; i < AN_OPEN; i++) {
		if (t->acc[i].w == w)
			return &t->acc[i];
		if (t->acc[i].w < 0 && free_slot == NULL)
			free_slot = &t->acc[i];
	}
	if (free_slot == NULL)
		return NULL;
	free_slot->w = w;
	free_slot->snapshots = 0;
	return free_slot;
}

static uint32_t slot_of(int32_t idx, uint32_t mask)
{
	return ((uint32_t)idx * 2654435761u) & mask;
}

/* Doubles the table (or makes the first one). Returns 0 or -ENOMEM. */
static int acc_grow(struct an_acc *acc)
{
	uint32_t cap = acc->cap ? acc->cap * 2 : 512, mask = cap - 1;
	struct an_bin *t = malloc((size_t)cap * sizeof(*t));

	if (t == NULL || cap == 0) {
		free(t);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < cap; i++)
		t[i].idx = -1;
	for (uint32_t i = 0; i < acc->cap; i++) {
		uint32_t k;

		if (acc->slots[i].idx < 0)
			continue;
		k = slot_of(acc->slots[i].idx, mask);
		while (t[k].idx >= 0)
			k = (k + 1) & mask;
		t[k] = acc->slots[i];
	}
	free(acc->slots);
	acc->slots = t;
	acc->cap = cap;
	return 0;
}

int an_acc_add(struct an_acc *acc, const struct st_kpi *k,
	       const struct an_bin *bins, size_t n_bins)
{
	uint32_t mask;

	/* Room for all of them at a load of at most a half, before touching
	 * anything, so a failure merges nothing. */
	while ((size_t)acc->used + n_bins > acc->cap / 2)
		if (acc_grow(acc) != 0)
			return -ENOMEM;
	if (acc->snapshots == 0) {
		acc->t0 = k->t0;
		acc->t1 = k->t1;
		acc->requests = acc->responses = acc->timeouts = 0;
		acc->resets = acc->icmp_errors = 0;
		acc->instances = 0;
		acc->offered_rps = 0;
	}
	mask = acc->cap - 1;
	for (size_t i = 0; i < n_bins; i++) {
		uint32_t s = slot_of(bins[i].idx, mask);

		while (acc->slots[s].idx >= 0 && acc->slots[s].idx != bins[i].idx)
			s = (s + 1) & mask;
		if (acc->slots[s].idx < 0) {
			acc->slots[s] = bins[i];
			acc->used++;
		} else if (acc->slots[s].count <= INT64_MAX - bins[i].count) {
			/* saturate rather than wrap: 2^63 samples never come */
			acc->slots[s].count += bins[i].count;
		}
	}
	acc->snapshots++;
	if (k->t0 < acc->t0)
		acc->t0 = k->t0;
	if (k->t1 > acc->t1)
		acc->t1 = k->t1;
	acc->requests += k->requests;
	acc->responses += k->responses;
	acc->timeouts += k->timeouts;
	acc->resets += k->resets;
	acc->icmp_errors += k->icmp_errors;
	if (k->instances > acc->instances)
		acc->instances = k->instances;
	acc->offered_rps += k->offered_rps;
	return 0;
}

static int cmp_bin(const void *a, const void *b)
{
	int32_t x = ((const struct an_bin *)a)->idx, y = ((const struct an_bin *)b)->idx;

	return (x > y) - (x < y);
}

/* Sorts by index: two 8-bit radix passes (the analyzer's layout has fewer
 * than 2^16 buckets), qsort for anything bigger or when tmp is missing. */
static void sort_bins(struct an_bin *b, uint32_t n)
{
	struct an_bin *tmp = n > 64 ? malloc(n * sizeof(*tmp)) : NULL;
	uint32_t cnt[256];
	bool small = true;

	for (uint32_t i = 0; i < n && small; i++)
		small = b[i].idx < 65536;
	if (tmp == NULL || !small) {
		free(tmp);
		qsort(b, n, sizeof(*b), cmp_bin);
		return;
	}
	for (int pass = 0; pass < 2; pass++) {
		struct an_bin *src = pass ? tmp : b, *dst = pass ? b : tmp;
		int shift = pass * 8;
		uint32_t sum = 0;

		memset(cnt, 0, sizeof(cnt));
		for (uint32_t i = 0; i < n; i++)
			cnt[((uint32_t)src[i].idx >> shift) & 0xff]++;
		for (int k = 0; k < 256; k++) {
			uint32_t c = cnt[k];

			cnt[k] = sum;
			sum += c;
		}
		for (uint32_t i = 0; i < n; i++)
			dst[cnt[((uint32_t)src[i].idx >> shift) & 0xff]++] = src[i];
	}
	free(tmp);
}

/* Takes the table's buckets out, sorted and exact-size (a closed window
 * lives long), and the summary; the table is emptied for the next window
 * and keeps its size. */
static int summarise(struct an_acc *acc, struct an_win *win,
		     const struct st_hist *layout)
{
	struct an_dist d;
	uint32_t n = 0;

	win->bins = malloc((acc->used ? acc->used : 1) * sizeof(*win->bins));
	if (win->bins == NULL)
		return -ENOMEM;
	win->total = 0;
	for (uint32_t i = 0; i < acc->cap; i++) {
		if (acc->slots[i].idx < 0)
			continue;
		win->bins[n++] = acc->slots[i];
		win->total += acc->slots[i].count;
		acc->slots[i].idx = -1;
	}
	acc->used = 0;
	sort_bins(win->bins, n);
	win->n_bins = n;
	d.layout = layout;
	d.bins = win->bins;
	d.n = win->n_bins;
	d.total = win->total;
	win->p50 = an_dist_quantile(&d, 0.5);
	win->p90 = an_dist_quantile(&d, 0.9);
	win->p99 = an_dist_quantile(&d, 0.99);
	win->mean = an_dist_mean(&d);
	return 0;
}

void an_target_push(struct an_target *t, const struct an_win *w)
{
	struct an_win *slot = &t->ring[t->head];

	free(slot->bins);
	*slot = *w;
	t->head = (t->head + 1) % t->cap;
	if (t->len < t->cap)
		t->len++;
	if (t->len > t->keep_bins) {
		struct an_win *old = &t->ring[(t->head + t->cap - 1 - t->keep_bins) % t->cap];

		free(old->bins);
		old->bins = NULL;
		old->n_bins = 0;
	}
}

int an_target_close(struct an_target *t, int64_t w, const struct st_hist *layout)
{
	struct an_win win;
	struct an_acc *acc = NULL;
	int rc;

	for (int i = 0; i < AN_OPEN; i++)
		if (t->acc[i].w == w)
			acc = &t->acc[i];
	if (acc == NULL)
		return 0;
	memset(&win, 0, sizeof(win));
	win.w = w;
	win.t0 = acc->t0;
	win.t1 = acc->t1;
	win.requests = acc->requests;
	win.responses = acc->responses;
	win.timeouts = acc->timeouts;
	win.resets = acc->resets;
	win.icmp_errors = acc->icmp_errors;
	win.instances = acc->instances;
	win.snapshots = acc->snapshots;
	win.offered_rps = acc->offered_rps;
	rc = summarise(acc, &win, layout);
	acc->w = -1;
	acc->snapshots = 0;
	if (rc != 0)
		return rc;
	an_target_push(t, &win);
	return 1;
}

int an_target_close_upto(struct an_target *t, int64_t w,
			 const struct st_hist *layout)
{
	int64_t o;
	int rc;

	while ((o = an_target_oldest_open(t)) <= w) {
		rc = an_target_close(t, o, layout);
		if (rc < 0)
			return rc;
	}
	return 0;
}

const struct an_win *an_target_win(const struct an_target *t, uint32_t i)
{
	if (i >= t->len)
		return NULL;
	return &t->ring[(t->head + t->cap - 1 - i) % t->cap];
}

bool an_target_complete(const struct an_target *t, uint32_t i)
{
	const struct an_win *w = an_target_win(t, i);
	uint32_t most = 0;

	if (w == NULL)
		return false;
	for (uint32_t k = i + 1; k < t->len && k <= i + 8; k++) {
		const struct an_win *o = an_target_win(t, k);

		if (o->snapshots > most)
			most = o->snapshots;
	}
	return (uint64_t)w->snapshots * 4 >= (uint64_t)most * 3;
}

int64_t an_target_oldest_open(const struct an_target *t)
{
	int64_t o = INT64_MAX;

	for (int i = 0; i < AN_OPEN; i++)
		if (t->acc[i].w >= 0 && t->acc[i].w < o)
			o = t->acc[i].w;
	return o;
}
