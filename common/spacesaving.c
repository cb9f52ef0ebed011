/* Space-Saving with a min-heap of counts and an open-addressing index
 * (linear probing, deletion by backward shift), see spacesaving.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"
#include "spacesaving.h"

#define SS_MAX_CAP (16u << 20)

uint64_t st_lhist_lower(unsigned int b)
{
	unsigned int e;

	if (b < 4)
		return (uint64_t)b << 10;
	if (b >= ST_LHIST_BUCKETS)
		b = ST_LHIST_BUCKETS;
	e = (b - 4u) / 4u + 2u;
	return ((uint64_t)(4u + (b - 4u) % 4u) << (e - 2u)) << 10;
}

uint64_t st_lhist_quantile(const struct st_lhist *h, double q)
{
	uint64_t total = 0, rank, seen = 0;

	for (unsigned int b = 0; b < ST_LHIST_BUCKETS; b++)
		total += h->c[b];
	if (total == 0)
		return 0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	/* the smallest value with at least q of the count at or below it */
	rank = st_quantile_rank(q, total);
	for (unsigned int b = 0; b < ST_LHIST_BUCKETS; b++) {
		seen += h->c[b];
		if (seen >= rank)
			return (st_lhist_lower(b) + st_lhist_lower(b + 1)) / 2;
	}
	return st_lhist_lower(ST_LHIST_BUCKETS);
}

void st_lhist_add(struct st_lhist *dst, const struct st_lhist *src)
{
	/* a bucket past 2^32 - 1 stays there (the wire's counts are u32) */
	for (unsigned int b = 0; b < ST_LHIST_BUCKETS; b++)
		dst->c[b] = src->c[b] > UINT32_MAX - dst->c[b] ? UINT32_MAX : dst->c[b] + src->c[b];
}

int st_ckey_spec_parse(const char *v, struct st_ckey_spec *out, struct st_perr *e)
{
	char buf[64], *save = NULL;
	uint8_t p4 = 32, p6 = 64;
	bool v4 = false, v6 = false;

	memset(out, 0, sizeof(*out));
	if (strlen(v) >= sizeof(buf)) {
		snprintf(e->msg, sizeof(e->msg), "'%.40s...': too long", v);
		return -EINVAL;
	}
	if (strcmp(v, "none") == 0 || strcmp(v, "vlan") == 0 || strcmp(v, "dst_port") == 0) {
		out->by = v[0] == 'n' ? ST_CKEY_BY_NONE : v[0] == 'v' ? ST_CKEY_BY_VLAN :
			  ST_CKEY_BY_DST_PORT;
		return 0;
	}
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *t = strtok_r(buf, ", ", &save); t != NULL; t = strtok_r(NULL, ", ", &save)) {
		bool six = strncmp(t, "src6/", 5) == 0;
		const char *num = six ? t + 5 : strncmp(t, "src/", 4) == 0 ? t + 4 : NULL;
		uint64_t n;

		if (num == NULL || (six ? v6 : v4)) {
			snprintf(e->msg, sizeof(e->msg),
				 "'%s': not none, vlan, dst_port, src/N (IPv4 prefix) or src6/N "
				 "(IPv6 prefix), each at most once", v);
			return -EINVAL;
		}
		if (st_parse_uint(num, 0, six ? 128 : 32, &n, e) != 0)
			return -EINVAL;
		if (six) {
			v6 = true;
			p6 = (uint8_t)n;
		} else {
			v4 = true;
			p4 = (uint8_t)n;
		}
	}
	if (!v4 && !v6) {
		snprintf(e->msg, sizeof(e->msg), "empty: none, vlan, dst_port, src/N or src6/N");
		return -EINVAL;
	}
	out->by = ST_CKEY_BY_SRC;
	out->v4_prefix = p4;
	out->v6_prefix = p6;
	return 0;
}

int st_ckey_format(const struct st_ckey *k, char *buf, size_t len)
{
	unsigned int plen = (k->tag >> 8) & 0xff;

	switch (st_ckey_kind(k)) {
	case ST_CKEY_IPV4: {
		struct in_addr a = { .s_addr = htonl((uint32_t)k->lo) };
		char t[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &a, t, sizeof(t));
		return snprintf(buf, len, "%s/%u", t, plen);
	}
	case ST_CKEY_IPV6: {
		uint8_t a[16];
		char t[INET6_ADDRSTRLEN];

		for (int i = 0; i < 8; i++) {
			a[i] = (uint8_t)(k->hi >> (56 - 8 * i));
			a[8 + i] = (uint8_t)(k->lo >> (56 - 8 * i));
		}
		inet_ntop(AF_INET6, a, t, sizeof(t));
		return snprintf(buf, len, "%s/%u", t, plen);
	}
	case ST_CKEY_VLAN:
	case ST_CKEY_PORT:
		return snprintf(buf, len, "%" PRIu64, k->lo);
	default:
		return -EINVAL;
	}
}

static size_t slots_for(uint32_t cap)
{
	size_t n = 8;

	while (n < (size_t)cap * 2)
		n <<= 1;
	return n;
}

static size_t align8(size_t x)
{
	return (x + 7) & ~(size_t)7;
}

size_t st_ss_size(uint32_t cap)
{
	if (cap == 0 || cap > SS_MAX_CAP)
		return 0;
	return align8(sizeof(struct st_ss)) + align8((size_t)cap * sizeof(struct st_ss_entry)) +
	       align8((size_t)cap * sizeof(struct st_ss_heap)) + slots_for(cap) * sizeof(uint32_t);
}

struct st_ss *st_ss_init(void *mem, size_t size, uint32_t cap)
{
	size_t need = st_ss_size(cap);
	struct st_ss *s = mem;
	uint8_t *p = mem;

	if (mem == NULL || need == 0 || size < need || ((uintptr_t)mem & 7) != 0) {
		errno = EINVAL;
		return NULL;
	}
	memset(s, 0, sizeof(*s));
	s->cap = cap;
	s->mask = (uint32_t)(slots_for(cap) - 1);
	p += align8(sizeof(*s));
	s->e = (struct st_ss_entry *)(void *)p;
	p += align8((size_t)cap * sizeof(struct st_ss_entry));
	s->heap = (struct st_ss_heap *)(void *)p;
	p += align8((size_t)cap * sizeof(struct st_ss_heap));
	s->slot = (uint32_t *)(void *)p;
	/* every slot keeps "no responses: empty histogram" (entry_start) */
	memset(s->e, 0, (size_t)cap * sizeof(struct st_ss_entry));
	st_ss_clear(s);
	return s;
}

struct st_ss *st_ss_create(uint32_t cap)
{
	size_t sz = st_ss_size(cap);
	void *mem;
	struct st_ss *s;

	if (sz == 0) {
		errno = EINVAL;
		return NULL;
	}
	mem = malloc(sz);
	if (mem == NULL)
		return NULL;
	s = st_ss_init(mem, sz, cap);
	if (s == NULL)
		free(mem);
	return s;
}

void st_ss_destroy(struct st_ss *s)
{
	free(s);
}

void st_ss_clear(struct st_ss *s)
{
	memset(s->slot, 0, ((size_t)s->mask + 1) * sizeof(uint32_t));
	s->n = 0;
	s->floor = 0;
	s->evictions = 0;
	memset(&s->other, 0, sizeof(s->other));
}

static void stats_add(struct st_ss_stats *d, const struct st_ss_stats *a)
{
	d->requests += a->requests;
	d->bytes_req += a->bytes_req;
	d->bytes_resp += a->bytes_resp;
	d->responses += a->responses;
	d->timeouts += a->timeouts;
	d->resets += a->resets;
	/* most small entries were never answered: skip their empty histogram */
	if (a->responses != 0)
		st_lhist_add(&d->lat, &a->lat);
}

static void sift_down(struct st_ss *s, uint32_t pos)
{
	struct st_ss_heap h = s->heap[pos];

	for (;;) {
		uint32_t c = 2 * pos + 1;

		if (c >= s->n)
			break;
		/* The smaller child by arithmetic, not a branch: which one it
		 * is is a coin toss, and a newcomer that evicted the minimum
		 * usually sinks to a leaf (its count is the largest), so a
		 * branch here mispredicted about once a level (perf: half of
		 * sift_down's time with more clients than client_top). */
		if (c + 1 < s->n)
			c += (uint32_t)(s->heap[c + 1].count < s->heap[c].count);
		if (s->heap[c].count >= h.count)
			break;
		s->heap[pos] = s->heap[c];
		pos = c;
	}
	s->heap[pos] = h;
}

static void sift_up(struct st_ss *s, uint32_t pos)
{
	struct st_ss_heap h = s->heap[pos];

	while (pos > 0) {
		uint32_t parent = (pos - 1) / 2;

		if (s->heap[parent].count <= h.count)
			break;
		s->heap[pos] = s->heap[parent];
		pos = parent;
	}
	s->heap[pos] = h;
}

/* Brings the heap's top up to date: refreshed from its entry and sifted
 * until the top's count is its true one, the true minimum. */
static void settle_min(struct st_ss *s)
{
	for (;;) {
		const struct st_ss_entry *e = &s->e[s->heap[0].idx];
		uint64_t c = e->s.requests + e->err;

		if (c == s->heap[0].count)
			return;
		s->heap[0].count = c;
		sift_down(s, 0);
	}
}

static void slot_insert(struct st_ss *s, uint32_t hash, uint32_t idx)
{
	uint32_t i = hash & s->mask;

	while (s->slot[i] != 0)
		i = (i + 1) & s->mask;
	s->slot[i] = idx + 1;
}

static void slot_remove(struct st_ss *s, uint32_t hash, uint32_t idx)
{
	uint32_t i = hash & s->mask, j;

	while (s->slot[i] != idx + 1)
		i = (i + 1) & s->mask;
	/* backward shift: pull up every later entry of the run that may live
	 * at i, so no probe stops early at the hole */
	for (j = i;;) {
		uint32_t home;

		j = (j + 1) & s->mask;
		if (s->slot[j] == 0)
			break;
		home = s->e[s->slot[j] - 1].hash & s->mask;
		if (((j - home) & s->mask) >= ((j - i) & s->mask)) {
			s->slot[i] = s->slot[j];
			i = j;
		}
	}
	s->slot[i] = 0;
}

struct st_ss_entry *st_ss_find(const struct st_ss *s, const struct st_ckey *k, uint32_t hash)
{
	for (uint32_t i = hash & s->mask;; i = (i + 1) & s->mask) {
		uint32_t v = s->slot[i];
		struct st_ss_entry *e;

		if (v == 0)
			return NULL;
		e = &s->e[v - 1];
		if (e->hash == hash && st_ckey_eq(&e->key, k))
			return e;
	}
}

static void entry_start(struct st_ss_entry *e, const struct st_ckey *k, uint32_t hash,
			uint64_t err, uint64_t n, uint64_t bytes)
{
	e->key = *k;
	e->key.pad = 0;
	e->hash = hash;
	e->err = err;
	/* a histogram has counts only if there were responses: most replaced
	 * entries had none, so clearing their 416 bytes is skipped */
	if (e->s.responses != 0)
		memset(&e->s.lat, 0, sizeof(e->s.lat));
	memset(&e->s, 0, offsetof(struct st_ss_stats, lat));
	e->s.requests = n;
	e->s.bytes_req = bytes;
}

struct st_ss_entry *st_ss_request_slow(struct st_ss *s, const struct st_ckey *k, uint32_t hash,
				       uint64_t n, uint64_t bytes)
{
	struct st_ss_entry *e = st_ss_find(s, k, hash);
	uint32_t idx;

	if (e != NULL) {
		/* its count in the heap is now a lower bound: settle_min
		 * brings it up to date when it matters */
		e->s.requests += n;
		e->s.bytes_req += bytes;
		return e;
	}
	if (s->n < s->cap) {
		idx = s->n++;
		e = &s->e[idx];
		entry_start(e, k, hash, 0, n, bytes);
		s->heap[s->n - 1] = (struct st_ss_heap){ .count = n, .idx = idx };
		sift_up(s, s->n - 1);
		slot_insert(s, hash, idx);
		return e;
	}
	/* Full: the smallest gives its place, its count becoming the
	 * newcomer's error (and the floor, if larger); what it had goes to
	 * other. */
	settle_min(s);
	if (s->heap[0].count > s->floor)
		s->floor = s->heap[0].count;
	idx = s->heap[0].idx;
	e = &s->e[idx];
	stats_add(&s->other, &e->s);
	slot_remove(s, e->hash, idx);
	entry_start(e, k, hash, s->heap[0].count, n, bytes);
	s->heap[0].count += n;
	sift_down(s, 0);
	slot_insert(s, hash, idx);
	s->evictions++;
	return e;
}

static inline struct st_ss_stats *stats_of(struct st_ss *s, const struct st_ckey *k,
					   uint32_t hash)
{
	struct st_ss_entry *e = st_ss_find(s, k, hash);

	return e != NULL ? &e->s : &s->other;
}

void st_ss_response(struct st_ss *s, const struct st_ckey *k, uint32_t hash, uint64_t ns,
		    uint64_t bytes)
{
	struct st_ss_stats *st = stats_of(s, k, hash);

	st->responses++;
	st->bytes_resp += bytes;
	st->lat.c[st_lhist_bucket(ns)]++;
}

void st_ss_timeout(struct st_ss *s, const struct st_ckey *k, uint32_t hash)
{
	stats_of(s, k, hash)->timeouts++;
}

void st_ss_reset(struct st_ss *s, const struct st_ckey *k, uint32_t hash)
{
	stats_of(s, k, hash)->resets++;
}

uint64_t st_ss_floor(const struct st_ss *s)
{
	return s->floor;
}

/* Largest count first; ties by index, so the order is deterministic. */
static int cmp_desc(const void *a, const void *b)
{
	const struct st_ss_heap *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void rebuild(struct st_ss *s)
{
	memset(s->slot, 0, ((size_t)s->mask + 1) * sizeof(uint32_t));
	for (uint32_t i = 0; i < s->n; i++) {
		struct st_ss_entry *e = &s->e[i];

		slot_insert(s, e->hash, i);
		s->heap[i] = (struct st_ss_heap){ .count = e->s.requests + e->err, .idx = i };
	}
	for (uint32_t i = s->n / 2; i-- > 0;)
		sift_down(s, i);
}

int st_ss_merge(struct st_ss *dst, const struct st_ss *src, uint32_t keep)
{
	uint64_t fd = st_ss_floor(dst), fs = st_ss_floor(src), dropped_max = 0;
	uint32_t n0 = dst->n;

	if ((uint64_t)dst->n + src->n > dst->cap || keep == 0 || keep > dst->cap)
		return -ENOSPC;
	/* As if src held none of dst's keys; corrected below for those it does. */
	for (uint32_t i = 0; i < n0; i++)
		dst->e[i].err += fs;
	for (uint32_t i = 0; i < src->n; i++) {
		const struct st_ss_entry *se = &src->e[i];
		struct st_ss_entry *de = st_ss_find(dst, &se->key, se->hash);

		if (de != NULL && (uint32_t)(de - dst->e) < n0) {
			de->err = de->err - fs + se->err;
			stats_add(&de->s, &se->s);
			continue;
		}
		de = &dst->e[dst->n];
		*de = *se;
		de->err = se->err + fd;
		slot_insert(dst, de->hash, dst->n);
		dst->n++;
	}
	stats_add(&dst->other, &src->other);
	if (dst->n > keep) {
		uint32_t i, j;

		/* the heap array as scratch: (count, index), largest first */
		for (i = 0; i < dst->n; i++)
			dst->heap[i] = (struct st_ss_heap){
				.count = dst->e[i].s.requests + dst->e[i].err, .idx = i };
		qsort(dst->heap, dst->n, sizeof(dst->heap[0]), cmp_desc);
		dropped_max = dst->heap[keep].count;
		for (i = keep; i < dst->n; i++) {
			struct st_ss_entry *e = &dst->e[dst->heap[i].idx];

			stats_add(&dst->other, &e->s);
			e->key.tag = 0;	/* free */
		}
		/* compact: the last held entries fill the freed places */
		for (i = 0, j = dst->n - 1; i < j;) {
			if (dst->e[i].key.tag != 0)
				i++;
			else if (dst->e[j].key.tag == 0)
				j--;
			else
				dst->e[i++] = dst->e[j--];
		}
		dst->n = keep;
	}
	dst->floor = fd + fs > dropped_max ? fd + fs : dropped_max;
	dst->evictions = 0;
	rebuild(dst);
	return 0;
}

uint32_t st_ss_sorted(const struct st_ss *s, struct st_ss_heap *order)
{
	for (uint32_t i = 0; i < s->n; i++)
		order[i] = (struct st_ss_heap){ .count = s->e[i].s.requests + s->e[i].err,
						.idx = i };
	qsort(order, s->n, sizeof(order[0]), cmp_desc);
	return s->n;
}

void st_ss_totals(const struct st_ss *s, struct st_ss_stats *t)
{
	for (uint32_t i = 0; i < s->n; i++)
		stats_add(t, &s->e[i].s);
	stats_add(t, &s->other);
}
