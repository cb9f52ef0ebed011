#include <errno.h>
#include <string.h>

#include <rte_common.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "crc32c.h"
#include "fragtab.h"

int dp_fragtab_init(struct dp_fragtab *t, uint32_t max_dgrams, uint32_t held_max, int socket)
{
	uint32_t slots;

	memset(t, 0, sizeof(*t));
	if (max_dgrams == 0)
		return -EINVAL;
	slots = rte_align32pow2(max_dgrams * 2);
	t->e = rte_zmalloc_socket("st_frags", sizeof(*t->e) * slots, RTE_CACHE_LINE_SIZE,
				  socket);
	if (t->e == NULL)
		return -ENOMEM;
	t->mask = slots - 1;
	t->max = max_dgrams;
	t->held_max = held_max;
	return 0;
}

void dp_fragtab_fini(struct dp_fragtab *t)
{
	if (t->e != NULL) {
		for (uint32_t i = 0; i <= t->mask; i++)
			if (t->e[i].n_held > 0)
				rte_pktmbuf_free_bulk(t->e[i].held, t->e[i].n_held);
	}
	rte_free(t->e);
	memset(t, 0, sizeof(*t));
}

void dp_frag_key_set(struct dp_frag_key *k, const struct st_pkt *p, uint16_t port)
{
	memset(k, 0, sizeof(*k));
	k->src = p->src;
	k->dst = p->dst;
	k->id = p->frag_id;
	k->vlan = p->vlan_count ? p->vlan_tci[p->vlan_count - 1] & 0x0fff : 0;
	k->port = port;
	k->proto = p->proto;
	k->family = p->l3;
}

uint32_t dp_frag_key_hash(const struct dp_frag_key *k)
{
	return st_crc32c(0x46524147u /* "FRAG" */, k, sizeof(*k));
}

static inline bool key_is(const struct dp_frag *f, const struct dp_frag_key *k, uint32_t hash)
{
	return f->khash == hash && memcmp(&f->key, k, sizeof(*k)) == 0;
}

struct dp_frag *dp_fragtab_lookup(struct dp_fragtab *t, const struct dp_frag_key *k,
				  uint32_t hash)
{
	for (uint32_t i = hash & t->mask;; i = (i + 1) & t->mask) {
		struct dp_frag *f = &t->e[i];

		if (key_is(f, k, hash))
			return f;
		if (!dp_frag_used(f))
			return NULL;
	}
}

struct dp_frag *dp_fragtab_insert(struct dp_fragtab *t, const struct dp_frag_key *k,
				  uint32_t hash, uint64_t now, bool *added)
{
	for (uint32_t i = hash & t->mask;; i = (i + 1) & t->mask) {
		struct dp_frag *f = &t->e[i];

		if (key_is(f, k, hash)) {
			*added = false;
			return f;
		}
		if (!dp_frag_used(f)) {
			*added = true;
			if (t->n >= t->max)
				return NULL;
			memset(f, 0, sizeof(*f));
			f->key = *k;
			f->khash = hash;
			f->born_tsc = now;
			t->n++;
			return f;
		}
	}
}

uint32_t dp_fragtab_remove(struct dp_fragtab *t, struct dp_frag *f)
{
	uint32_t hole = (uint32_t)(f - t->e), i = hole, freed = f->n_held;

	if (freed > 0) {
		rte_pktmbuf_free_bulk(f->held, freed);
		t->held -= freed;
	}
	/* Backward shift (flowtab.c): later entries of the probe run move
	 * into the hole when their home slot allows it. */
	for (;;) {
		uint32_t home;

		i = (i + 1) & t->mask;
		if (!dp_frag_used(&t->e[i]))
			break;
		home = t->e[i].khash & t->mask;
		/* Movable if home is cyclically outside (hole, i]. */
		if ((i > hole && (home <= hole || home > i)) ||
		    (i < hole && (home <= hole && home > i))) {
			t->e[hole] = t->e[i];
			hole = i;
		}
	}
	t->e[hole].key.family = 0;
	t->e[hole].n_held = 0;
	t->n--;
	return freed;
}

void dp_frag_seen(struct dp_frag *f, uint32_t off, uint32_t len, bool more)
{
	uint32_t lo[DP_FRAG_RANGES + 1], hi[DP_FRAG_RANGES + 1];
	uint32_t a = off, b = off + len;
	int n = 0;
	bool placed = false;

	if (!more) {
		f->end = b;
		f->flags |= DP_FRAG_F_END;
	}
	if ((f->flags & DP_FRAG_F_HOLES) || len == 0)
		return;
	/* Sorted, disjoint, not adjacent ranges: [a, b) swallows those it
	 * touches and goes in its place. */
	for (int i = 0; i < f->n_ranges; i++) {
		if (f->hi[i] < a) {
			lo[n] = f->lo[i];
			hi[n++] = f->hi[i];
		} else if (f->lo[i] > b) {
			if (!placed) {
				lo[n] = a;
				hi[n++] = b;
				placed = true;
			}
			lo[n] = f->lo[i];
			hi[n++] = f->hi[i];
		} else {
			a = RTE_MIN(a, f->lo[i]);
			b = RTE_MAX(b, f->hi[i]);
		}
	}
	if (!placed) {
		lo[n] = a;
		hi[n++] = b;
	}
	if (n > DP_FRAG_RANGES) {
		f->flags |= DP_FRAG_F_HOLES;
		return;
	}
	memcpy(f->lo, lo, sizeof(lo[0]) * (size_t)n);
	memcpy(f->hi, hi, sizeof(hi[0]) * (size_t)n);
	f->n_ranges = (uint8_t)n;
}

bool dp_frag_complete(const struct dp_frag *f)
{
	const uint8_t need = DP_FRAG_F_KNOWN | DP_FRAG_F_END;

	return (f->flags & (need | DP_FRAG_F_HOLES)) == need && f->n_ranges == 1 &&
	       f->lo[0] == 0 && f->hi[0] >= f->end;
}

uint32_t dp_frag_take(struct dp_fragtab *t, struct dp_frag *f, struct rte_mbuf **out)
{
	uint32_t n = f->n_held;

	memcpy(out, f->held, sizeof(f->held[0]) * n);
	f->n_held = 0;
	t->held -= n;
	return n;
}

void dp_fragtab_expire(struct dp_fragtab *t, uint64_t now, uint64_t timeout_cyc,
		       uint32_t budget, struct dp_frag_expiry *x)
{
	if (t->n == 0)
		return;
	while (budget-- > 0) {
		struct dp_frag *f = &t->e[t->scan];

		/* Signed: an entry born after the caller read its clock (in
		 * the same loop) is not old. */
		if (dp_frag_used(f) && (int64_t)(now - f->born_tsc) > (int64_t)timeout_cyc) {
			if (!dp_frag_complete(f))
				x->incomplete++;
			x->held_freed += dp_fragtab_remove(t, f);
			/* An entry may have moved into this slot: look again. */
			continue;
		}
		t->scan = (t->scan + 1) & t->mask;
	}
}
