/* Per-client accounting: a bounded Space-Saving heavy-hitter summary
 * (Metwally, Agrawal, El Abbadi, "Efficient computation of frequent and
 * top-k elements in data streams", 2005) over client keys, with the few
 * counts a client's requests carry (bytes each way, responses with a
 * compact latency histogram, timeouts, resets).
 *
 * Requests are the stream Space-Saving counts: each takes one unit. A key
 * not held replaces the entry with the smallest count c and starts at
 * c + 1 with error c. So for every key held, requests <= true <= requests +
 * err (requests: what was seen while it was held), and every key not held
 * has true <= st_ss_floor(). Everything an evicted entry had, and every
 * response, timeout or reset of a client not held, lands in `other`: the
 * entries plus `other` add up to the stream's totals exactly.
 *
 * Memory is fixed at init (st_ss_size bytes for a capacity), so the
 * dataplane can place it in hugepage memory; only st_ss_create allocates
 * (st_ss_merge works in place: its destination has twice the capacity it
 * keeps). Plain C, no EAL; not thread-safe: one writer. */
#ifndef ST_SPACESAVING_H
#define ST_SPACESAVING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "parse.h"

/* A compact latency histogram: quarter-octave buckets of nanoseconds above
 * 4 x 1024 ns, four linear 1024 ns buckets below, up to 2^37 ns (137 s,
 * clamped above). A bucket is at most 25% wide: a quantile is known to
 * about 12% from the bucket's middle. 104 32-bit counts. */
#define ST_LHIST_BUCKETS 104

struct st_lhist {
	uint32_t c[ST_LHIST_BUCKETS];
};

/* The bucket of a latency. Never fails (clamps). A few instructions. */
static inline unsigned int st_lhist_bucket(uint64_t ns)
{
	uint64_t v = ns >> 10;
	unsigned int e, b;

	if (v < 4)
		return (unsigned int)v;
	e = 63u - (unsigned int)__builtin_clzll(v);
	b = 4u + (e - 2u) * 4u + (unsigned int)((v >> (e - 2u)) & 3u);
	return b < ST_LHIST_BUCKETS ? b : ST_LHIST_BUCKETS - 1;
}

/* The lowest latency in bucket b (b < ST_LHIST_BUCKETS); its upper bound
 * is st_lhist_lower(b + 1) (b + 1 may be ST_LHIST_BUCKETS). */
uint64_t st_lhist_lower(unsigned int b);

/* The q-quantile (0..1) of h: the middle of the bucket that holds it, in
 * ns; 0 when h is empty. */
uint64_t st_lhist_quantile(const struct st_lhist *h, double q);

void st_lhist_add(struct st_lhist *dst, const struct st_lhist *src);

/* A client key: what [dataplane] client_key makes of a request's client.
 * tag says how to read hi/lo (ST_CKEY_*), and for prefixes the length in
 * bits 8..15. */
struct st_ckey {
	uint64_t hi, lo;
	uint32_t tag;
	uint32_t pad;	/* zero, so keys compare as memory */
};

enum st_ckey_kind {
	ST_CKEY_IPV4 = 4,	/* lo: the address (host order) masked to the prefix */
	ST_CKEY_IPV6 = 6,	/* hi, lo: the address's halves (network order
				   read big-endian) masked to the prefix */
	ST_CKEY_VLAN = 'v',	/* lo: the inner-most VLAN id, 0 untagged */
	ST_CKEY_PORT = 'p',	/* lo: the server's port */
};

static inline uint32_t st_ckey_kind(const struct st_ckey *k)
{
	return k->tag & 0xff;
}

/* A well-mixed 32-bit hash of a key. */
static inline uint32_t st_ckey_hash(const struct st_ckey *k)
{
	uint64_t h = k->hi * 0x9e3779b97f4a7c15ULL ^ k->lo * 0xc2b2ae3d27d4eb4fULL ^
		     (uint64_t)k->tag * 0x165667b19e3779f9ULL;

	h ^= h >> 31;
	h *= 0xd6e8feb86659fd93ULL;
	h ^= h >> 32;
	return (uint32_t)h;
}

static inline bool st_ckey_eq(const struct st_ckey *a, const struct st_ckey *b)
{
	return a->hi == b->hi && a->lo == b->lo && a->tag == b->tag;
}

/* What a client is: [dataplane] client_key, and the loadgen's
 * --select-clients file, so both make the same key of a flow. */
enum st_ckey_by { ST_CKEY_BY_NONE, ST_CKEY_BY_SRC, ST_CKEY_BY_VLAN, ST_CKEY_BY_DST_PORT };

struct st_ckey_spec {
	enum st_ckey_by by;
	uint8_t v4_prefix;	/* BY_SRC: IPv4 clients by this prefix */
	uint8_t v6_prefix;	/* ... IPv6 clients by this one */
};

/* "none", "vlan", "dst_port", "src/N", "src6/N", "src/N,src6/M" (one
 * prefix given, the other family keeps its default, /32 or /64). Returns 0,
 * or -EINVAL with e->msg saying why. */
int st_ckey_spec_parse(const char *v, struct st_ckey_spec *out, struct st_perr *e);

/* The key of flow k's client (k->addr[client]) under spec s (not BY_NONE).
 * Never fails; a few instructions. */
static inline void st_ckey_of(const struct st_ckey_spec *s, const struct st_flow_key *k,
			      unsigned int client, struct st_ckey *out)
{
	out->hi = out->lo = 0;
	out->pad = 0;
	switch (s->by) {
	case ST_CKEY_BY_SRC: {
		const uint8_t *a = k->addr[client].a8;

		if (k->family == 4) {
			unsigned int p = s->v4_prefix;
			uint32_t v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 |
				     (uint32_t)a[2] << 8 | a[3];

			out->lo = p == 0 ? 0 : v & (0xffffffffu << (32 - p));
			out->tag = ST_CKEY_IPV4 | p << 8;
		} else {
			unsigned int p = s->v6_prefix;
			uint64_t hi = 0, lo = 0;

			for (int i = 0; i < 8; i++) {
				hi = hi << 8 | a[i];
				lo = lo << 8 | a[8 + i];
			}
			out->hi = p == 0 ? 0 : p >= 64 ? hi : hi & (~0ull << (64 - p));
			out->lo = p <= 64 ? 0 : p == 128 ? lo : lo & (~0ull << (128 - p));
			out->tag = ST_CKEY_IPV6 | p << 8;
		}
		break;
	}
	case ST_CKEY_BY_VLAN:
		out->lo = k->vlan;
		out->tag = ST_CKEY_VLAN;
		break;
	default:
		out->lo = k->port[client ^ 1u];
		out->tag = ST_CKEY_PORT;
		break;
	}
}

/* The key as text: "198.18.1.0/24", "2001:db8::/48", "100" (VLAN id),
 * "53" (port). Returns the length written (snprintf), -EINVAL for an
 * unknown kind. */
int st_ckey_format(const struct st_ckey *k, char *buf, size_t len);

/* What a client's requests carried, or `other`'s. */
struct st_ss_stats {
	uint64_t requests;	/* seen while held (a lower bound of the true count) */
	uint64_t bytes_req;	/* of the packets that opened the requests */
	uint64_t bytes_resp;	/* of the packets that answered them */
	uint64_t responses;	/* requests answered and timed */
	uint64_t timeouts;
	uint64_t resets;
	struct st_lhist lat;	/* the responses' latencies */
};

struct st_ss_entry {
	struct st_ckey key;
	uint64_t err;		/* true requests <= stats.requests + err */
	uint32_t hash;
	uint32_t pad2;
	struct st_ss_stats s;
};

/* The heap keeps counts next to entry indices: sifting reads no entry. It
 * is lazy: a request of a key held touches only its entry, so an entry's
 * count here is a lower bound of its requests + err, brought up to date
 * only when the smallest is wanted (an eviction: the top is refreshed and
 * sifted until the top's count is its true one, which is then the true
 * minimum, every other count here being a lower bound of its own). */
struct st_ss_heap {
	uint64_t count;		/* stats.requests + err, or less (lazy) */
	uint32_t idx;
	uint32_t pad;
};

struct st_ss {
	uint32_t cap;		/* entries held at most */
	uint32_t n;		/* entries held */
	uint32_t mask;		/* index slots - 1 */
	uint32_t pad;
	uint64_t floor;		/* no key outside holds more requests: the
				   largest count evicted (or a merge's bound) */
	uint64_t evictions;	/* entries replaced (since the last clear) */
	struct st_ss_entry *e;
	struct st_ss_heap *heap;	/* min-heap on count */
	uint32_t *slot;		/* open addressing: entry index + 1, 0 empty */
	struct st_ss_stats other;
};

/* Bytes st_ss_init needs for cap entries; 0 for cap 0 or too large
 * (over 16M). */
size_t st_ss_size(uint32_t cap);

/* Lays a summary of cap entries out in mem (size >= st_ss_size(cap), 8-byte
 * aligned) and clears it. Returns the summary (== mem), or NULL with errno
 * EINVAL. */
struct st_ss *st_ss_init(void *mem, size_t size, uint32_t cap);

/* st_ss_init in malloc'd memory; NULL with errno set. */
struct st_ss *st_ss_create(uint32_t cap);
void st_ss_destroy(struct st_ss *s);

/* Empties the summary (for a new interval): touches the index slots and the
 * header only, O(cap). */
void st_ss_clear(struct st_ss *s);

/* One request of key k (hash st_ckey_hash(k)) whose packet had bytes:
 * counted in its entry, added (replacing the smallest when full). Returns
 * the entry. Never fails. A key held: a probe and two increments, nothing
 * else. A new key when full moves the smallest entry's counts into other
 * (its histogram too) after bringing the heap's top up to date: amortised
 * O(log cap) (each refresh follows at least one request of that entry).
 * Inline: a key found at its home slot costs no call.
 * st_ss_request_n: n requests of k at once (n >= 1, bytes their sum), with
 * the guarantees of n calls in a row (the entry that gives way among
 * several of equal count may differ): a run of one client's requests costs
 * one lookup. */
struct st_ss_entry *st_ss_request_slow(struct st_ss *s, const struct st_ckey *k, uint32_t hash,
				       uint64_t n, uint64_t bytes);

static inline struct st_ss_entry *st_ss_request_n(struct st_ss *s, const struct st_ckey *k,
						  uint32_t hash, uint64_t n, uint64_t bytes)
{
	uint32_t v = s->slot[hash & s->mask];

	if (__builtin_expect(v != 0, 1)) {
		struct st_ss_entry *e = &s->e[v - 1];

		if (e->hash == hash && st_ckey_eq(&e->key, k)) {
			/* its count in the heap is now a lower bound (lazy) */
			e->s.requests += n;
			e->s.bytes_req += bytes;
			return e;
		}
	}
	return st_ss_request_slow(s, k, hash, n, bytes);
}

static inline struct st_ss_entry *st_ss_request(struct st_ss *s, const struct st_ckey *k,
						uint32_t hash, uint64_t bytes)
{
	return st_ss_request_n(s, k, hash, 1, bytes);
}

/* The entry of k, or NULL. A probe. */
struct st_ss_entry *st_ss_find(const struct st_ss *s, const struct st_ckey *k, uint32_t hash);

/* What happened to one of k's requests, counted in its entry or, when k is
 * not held, in other. Never fail. */
void st_ss_response(struct st_ss *s, const struct st_ckey *k, uint32_t hash, uint64_t ns,
		    uint64_t bytes);
void st_ss_timeout(struct st_ss *s, const struct st_ckey *k, uint32_t hash);
void st_ss_reset(struct st_ss *s, const struct st_ckey *k, uint32_t hash);

/* No key outside the summary had more requests than this: 0 while nothing
 * was ever replaced. */
uint64_t st_ss_floor(const struct st_ss *s);

/* Adds src into dst, as two summaries of disjoint streams (Agarwal et al.,
 * "Mergeable summaries", 2012): a key held by both sums its counts and
 * errors; one held by one side only takes the other side's floor as extra
 * error; dst then keeps its keep largest counts (keep <= dst->cap, and dst
 * must have room for dst->n + src->n entries before trimming: give it twice
 * the capacity kept), the rest going to other. Bounds hold for the sum of
 * the streams. Returns 0, or -ENOSPC (dst unchanged) when it has no room.
 * O((n_dst + n_src) log). */
int st_ss_merge(struct st_ss *dst, const struct st_ss *src, uint32_t keep);

/* The held entries, largest count first, into order (room for s->n):
 * order[i].idx indexes s->e, order[i].count is its requests + err.
 * Returns s->n. O(n log n). */
uint32_t st_ss_sorted(const struct st_ss *s, struct st_ss_heap *order);

/* Adds every held entry's stats and other's into *t (totals). */
void st_ss_totals(const struct st_ss *s, struct st_ss_stats *t);

#endif
