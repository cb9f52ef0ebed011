/* Per-worker table of fragmented client->server datagrams, so that every
 * fragment of a datagram is shadowed (or not) like its flow.
 *
 * Only the first fragment (offset 0) carries the L4 ports, so only it can
 * tell a datagram's flow; later ones carry (src, dst, proto, id). The table
 * maps the latter to the former: the first fragment records its flow's key
 * and hash, later fragments look them up. A later fragment that arrives
 * before its first one is held (a private copy from the copies' pool, in
 * the entry: a clone would pin production's buffer) and copied right after
 * the first one; if that never comes, the entry expires and the copies are
 * freed. Nothing is reassembled: production gets every fragment as it
 * arrives, and copies are of the fragments as they are.
 *
 * Fixed capacity chosen at start, open addressing with linear probing (load
 * at most one half), deletion by backward shift, as the flow table
 * (flowtab.h). Written and read by its worker only. Full is a counted
 * condition, never a reason to allocate. */
#ifndef DP_FRAGTAB_H
#define DP_FRAGTAB_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "flow.h"
#include "packet.h"

/* Fragments held per datagram while its first fragment is missing. */
#define DP_FRAG_HOLD_MAX 8
/* Byte ranges of a datagram tracked to tell it complete; a datagram whose
 * fragments leave more holes than this is taken as incomplete. */
#define DP_FRAG_RANGES 4

/* What identifies a datagram (RFC 791, RFC 8200): source, destination,
 * protocol and identification, plus where it was seen (input port and
 * inner-most VLAN), since the same datagram replayed on the inject port is
 * another one. No padding: compared as bytes. */
struct dp_frag_key {
	struct st_ip_addr src;
	struct st_ip_addr dst;
	uint32_t id;		/* IPv4: 16 bits; IPv6: 32 */
	uint16_t vlan;
	uint16_t port;		/* mbuf port id */
	uint8_t proto;		/* IPv6: the header after the fragment header */
	uint8_t family;		/* 4 or 6; 0: empty slot */
	uint8_t pad[6];
};

_Static_assert(sizeof(struct dp_frag_key) == 48, "fragment key is compared as 48 bytes");

/* dp_frag.flags */
#define DP_FRAG_F_KNOWN 0x01	/* the first fragment was seen: flow, hash, client set */
#define DP_FRAG_F_END 0x02	/* the last fragment was seen: end set */
#define DP_FRAG_F_HOLES 0x04	/* more holes than DP_FRAG_RANGES: never complete */

struct dp_frag {
	struct dp_frag_key key;
	uint32_t khash;		/* dp_frag_key_hash(&key) */
	uint32_t flow_hash;	/* with DP_FRAG_F_KNOWN */
	struct st_flow_key flow;	/* with DP_FRAG_F_KNOWN */
	uint64_t born_tsc;	/* the entry expires a timeout after this */
	uint32_t end;		/* datagram payload length, with DP_FRAG_F_END */
	uint32_t lo[DP_FRAG_RANGES];	/* payload bytes seen: [lo, hi), sorted, */
	uint32_t hi[DP_FRAG_RANGES];	/* disjoint, not adjacent */
	uint8_t n_ranges;
	uint8_t flags;		/* DP_FRAG_F_* */
	uint8_t client;		/* flow.addr index of the client */
	uint8_t n_held;
	struct rte_mbuf *held[DP_FRAG_HOLD_MAX];	/* in arrival order */
};

struct dp_fragtab {
	struct dp_frag *e;
	uint32_t mask;		/* slots - 1 */
	uint32_t n;		/* datagrams held */
	uint32_t max;		/* datagrams allowed */
	uint32_t scan;		/* next slot the expiry sweep looks at */
	uint32_t held;		/* fragments held, all datagrams */
	uint32_t held_max;	/* fragments allowed held, all datagrams */
};

/* What an expiry sweep did. */
struct dp_frag_expiry {
	uint64_t incomplete;	/* datagrams expired without all their fragments seen */
	uint64_t held_freed;	/* fragments held for them, freed unsent */
};

/* Allocates room for max_dgrams datagrams on a NUMA socket (rte_zmalloc),
 * at most held_max fragments held at a time over all of them. Returns 0,
 * -EINVAL for a zero size, or -ENOMEM. */
int dp_fragtab_init(struct dp_fragtab *t, uint32_t max_dgrams, uint32_t held_max, int socket);

/* Frees the held fragments and the table. Safe on a table never or already
 * freed (zeroed). */
void dp_fragtab_fini(struct dp_fragtab *t);

/* Key of a fragment p (ST_PKT_F_FRAG: p->frag_id is set) received on
 * port. Never fails; no hashing. */
void dp_frag_key_set(struct dp_frag_key *k, const struct st_pkt *p, uint16_t port);

/* Hash of a fragment key (CRC32-C): where its probe starts. */
uint32_t dp_frag_key_hash(const struct dp_frag_key *k);

static inline bool dp_frag_used(const struct dp_frag *f)
{
	return f->key.family != 0;
}

/* The datagram with this key, or NULL. */
struct dp_frag *dp_fragtab_lookup(struct dp_fragtab *t, const struct dp_frag_key *k,
				  uint32_t hash);

/* The datagram with this key, added if absent (zeroed, key set, born now);
 * NULL when the table holds max datagrams already. *added says which. */
struct dp_frag *dp_fragtab_insert(struct dp_fragtab *t, const struct dp_frag_key *k,
				  uint32_t hash, uint64_t now, bool *added);

/* Removes f, freeing what it holds; other pointers into the table may
 * move. Returns the number of held fragments freed. */
uint32_t dp_fragtab_remove(struct dp_fragtab *t, struct dp_frag *f);

/* Records that the fragment [off, off + len) of f's datagram was seen; more
 * is its MF flag (0: the last fragment, which tells the datagram's length).
 * Overlaps and duplicates are fine. Never fails. */
void dp_frag_seen(struct dp_frag *f, uint32_t off, uint32_t len, bool more);

/* Whether every byte of f's datagram was seen (first and last fragment
 * included). */
bool dp_frag_complete(const struct dp_frag *f);

/* Whether f can hold one more fragment (its own limit and the table's). */
static inline bool dp_frag_can_hold(const struct dp_fragtab *t, const struct dp_frag *f)
{
	return f->n_held < DP_FRAG_HOLD_MAX && t->held < t->held_max;
}

/* Holds m (the caller's reference, typically a clone) in f; only after
 * dp_frag_can_hold said yes. */
static inline void dp_frag_hold(struct dp_fragtab *t, struct dp_frag *f, struct rte_mbuf *m)
{
	f->held[f->n_held++] = m;
	t->held++;
}

/* Moves f's held fragments, in arrival order, to out (room for
 * DP_FRAG_HOLD_MAX): the caller owns them. Returns how many. */
uint32_t dp_frag_take(struct dp_fragtab *t, struct dp_frag *f, struct rte_mbuf **out);

/* Looks at up to budget slots from where the last sweep stopped: an entry
 * older than timeout_cyc is removed, its held fragments freed, and counted
 * in *x when its datagram was incomplete. */
void dp_fragtab_expire(struct dp_fragtab *t, uint64_t now, uint64_t timeout_cyc,
		       uint32_t budget, struct dp_frag_expiry *x);

#endif
