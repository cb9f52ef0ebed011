#include <errno.h>
#include <stdbool.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "window.h"

double an_win_secs(const struct an_win *w)
{
	double s = (double)w->span_ns / 1e9;

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
	for (int i = 0; i < AN_OPEN; i++) {
		for (uint32_t c = 0; c < t->acc[i].n_chunks; c++)
			free(t->acc[i].chunks[c]);
		free(t->acc[i].chunks);
	}
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

/* Makes sure the chunk of every bucket in bins exists, so the merge that
 * follows cannot fail half-way. Returns 0, -EINVAL (an index out of
 * range) or -ENOMEM (then acc only gained zeroed chunks). O(n_bins). */
static int acc_reserve(struct an_acc *acc, const struct an_bin *bins, size_t n_bins)
{
	uint32_t last = UINT32_MAX;

	for (size_t i = 0; i < n_bins; i++) {
		uint32_t c;

		if (bins[i].idx < 0 || bins[i].idx >= AN_ACC_IDX_MAX)
			return -EINVAL;
		c = (uint32_t)bins[i].idx >> AN_CHUNK_SHIFT;
		if (c == last)
			continue;
		last = c;
		if (c >= acc->n_chunks) {
			uint32_t n = acc->n_chunks ? acc->n_chunks : 16;
			int64_t **d;

			while (n <= c)
				n *= 2;
			d = realloc(acc->chunks, (size_t)n * sizeof(*d));
			if (d == NULL)
				return -ENOMEM;
			memset(d + acc->n_chunks, 0, (size_t)(n - acc->n_chunks) * sizeof(*d));
			acc->chunks = d;
			acc->n_chunks = n;
		}
		if (acc->chunks[c] == NULL) {
			acc->chunks[c] = calloc(AN_CHUNK, sizeof(int64_t));
			if (acc->chunks[c] == NULL)
				return -ENOMEM;
		}
	}
	return 0;
}

/* Adds a snapshot's time and requests to its publisher's (by a hash of
 * its id: two that collide count as one). A publisher beyond AN_ACC_SRCS
 * is left out of the span. */
static void note_src(struct an_acc *acc, const struct st_kpi *k)
{
	uint32_t h = 2166136261u, i;

	for (const unsigned char *c = (const unsigned char *)k->src; *c; c++)
		h = (h ^ *c) * 16777619u;
	for (i = 0; i < acc->n_src && acc->src_hash[i] != h; i++)
		;
	if (i == acc->n_src) {
		if (i == AN_ACC_SRCS)
			return;
		acc->src_hash[i] = h;
		acc->src_busy_ns[i] = acc->src_requests[i] = 0;
		acc->n_src++;
	}
	acc->src_busy_ns[i] += k->t1 - k->t0;
	acc->src_requests[i] += k->requests;
}

/* The time a window's traffic was counted over, from several publishers:
 * each one's covered time, weighted by its requests (out of step, they
 * cover about the same; one that joined late covers little and weighs
 * little), or averaged when none counted any. */
static uint64_t span_of(const struct an_acc *acc)
{
	double num = 0, req = 0, busy = 0;

	for (uint32_t i = 0; i < acc->n_src; i++) {
		num += (double)acc->src_requests[i] * (double)acc->src_busy_ns[i];
		req += (double)acc->src_requests[i];
		busy += (double)acc->src_busy_ns[i];
	}
	return (uint64_t)(req > 0 ? num / req : busy / acc->n_src);
}

int an_acc_add(struct an_acc *acc, const struct st_kpi *k,
	       const struct an_bin *bins, size_t n_bins, bool own)
{
	int rc = acc_reserve(acc, bins, n_bins);

	if (rc != 0)
		return rc;
	if (acc->snapshots == 0) {
		acc->t0 = k->t0;
		acc->t1 = k->t1;
		acc->requests = acc->responses = acc->timeouts = 0;
		acc->resets = acc->icmp_errors = 0;
		acc->instances = 0;
		acc->offered_rps = 0;
		acc->chaos = acc->chaos_down = 0;
		acc->chaos_respread = false;
		acc->n_src = 0;
	}
	for (size_t i = 0; i < n_bins; i++) {
		uint32_t x = (uint32_t)bins[i].idx;
		int64_t *c = &acc->chunks[x >> AN_CHUNK_SHIFT][x & (AN_CHUNK - 1)];
		int64_t n = bins[i].count;

		if (n <= 0)
			continue;
		if (*c == 0)
			acc->used++;
		/* saturate rather than wrap: 2^63 samples never come */
		*c = an_count_add(*c, n);
	}
	acc->snapshots++;
	if (own)
		note_src(acc, k);
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
	if (k->has_chaos) {
		acc->chaos++;
		if (k->chaos.down[0] != '\0') {
			acc->chaos_down = 1;
			acc->chaos_respread |= k->chaos.respread;
		}
	}
	return 0;
}

/* Takes the buckets out, in index order and exact-size (a closed window
 * lives long), and the summary; the counts are zeroed for the next window.
 * A chunk this window did not use is freed, so an acc keeps only what the
 * last window needed. Returns 0 or -ENOMEM (the counts are zeroed anyway).
 * O(chunks kept). */
static int summarise(struct an_acc *acc, struct an_win *win,
		     const struct st_hist *layout)
{
	struct an_dist d;
	uint32_t n = 0;
	int rc = 0;

	win->bins = malloc((acc->used ? acc->used : 1) * sizeof(*win->bins));
	if (win->bins == NULL)
		rc = -ENOMEM;
	win->total = 0;
	for (uint32_t c = 0; c < acc->n_chunks; c++) {
		int64_t *ch = acc->chunks[c];
		bool any = false;

		if (ch == NULL)
			continue;
		for (uint32_t j = 0; j < AN_CHUNK; j++) {
			if (ch[j] == 0)
				continue;
			any = true;
			if (rc == 0) {
				win->bins[n].idx = (int32_t)(c << AN_CHUNK_SHIFT | j);
				win->bins[n].pad_ = 0;
				win->bins[n].count = ch[j];
				win->total = an_count_add(win->total, ch[j]);
				n++;
			}
			ch[j] = 0;
		}
		if (!any) {
			free(ch);
			acc->chunks[c] = NULL;
		}
	}
	acc->used = 0;
	if (rc != 0)
		return rc;
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
	/* One publisher: its windows tile the span. Several, out of step:
	 * the span is longer than any of them counted over (requests are
	 * their sum, so the rate came out low): span_of. */
	win.span_ns = acc->n_src > 1 ? span_of(acc) : acc->t1 - acc->t0;
	win.requests = acc->requests;
	win.responses = acc->responses;
	win.timeouts = acc->timeouts;
	win.resets = acc->resets;
	win.icmp_errors = acc->icmp_errors;
	win.instances = acc->instances;
	win.plan_c = w < t->plan_c_from ? 0 : t->plan_c;
	win.snapshots = acc->snapshots;
	win.n_src = acc->n_src;
	win.chaos = acc->chaos;
	win.chaos_down = acc->chaos_down;
	win.chaos_respread = acc->chaos_respread;
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
	uint32_t most = 0, most_src = 0;

	if (w == NULL)
		return false;
	for (uint32_t k = i + 1; k < t->len && k <= i + 8; k++) {
		const struct an_win *o = an_target_win(t, k);

		if (o->snapshots > most)
			most = o->snapshots;
		if (o->n_src > most_src)
			most_src = o->n_src;
	}
	return (uint64_t)w->snapshots * 4 >= (uint64_t)most * 3 ||
	       (w->n_src >= most_src && (uint64_t)w->snapshots + w->n_src >= most);
}

int64_t an_target_oldest_open(const struct an_target *t)
{
	int64_t o = INT64_MAX;

	for (int i = 0; i < AN_OPEN; i++)
		if (t->acc[i].w >= 0 && t->acc[i].w < o)
			o = t->acc[i].w;
	return o;
}
