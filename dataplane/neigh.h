/* Neighbours on the shadow ports. The dataplane is the shadows' only
 * neighbour there: it answers every ARP request (and IPv6 neighbour
 * solicitation) a shadow sends with the port's MAC, so shadows need no static
 * entries to send their responses, and it resolves the MACs of the addresses
 * copies go to (the group's instances, or the servers).
 *
 * Entries are fixed at start; workers write a MAC when they see it, the main
 * lcore asks for missing ones once a second. A MAC is one 64-bit word
 * written and read atomically: no lock anywhere. */
#ifndef DP_NEIGH_H
#define DP_NEIGH_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "packet.h"
#include "parse.h"

#define DP_NEIGH_MAX 32
#define DP_NEIGH_VALID (1ULL << 63)

struct dp_neigh {
	struct st_ip_addr ip;   /* as packets carry it */
	uint8_t family;         /* 4 or 6 */
	uint64_t mac;           /* DP_NEIGH_VALID | 48-bit MAC, 0 unknown */
	bool is_static;         /* configured (ADDR@MAC): never asked for */
};

struct dp_neigh_table {
	uint16_t port_id;
	struct rte_ether_addr port_mac;
	int n;
	struct dp_neigh e[DP_NEIGH_MAX];
};

/* Adds (or finds) an address to resolve; with mac non-NULL the entry is
 * static. Returns the entry, or NULL when the table is full. Control side. */
struct dp_neigh *dp_neigh_add(struct dp_neigh_table *t, const struct st_addr *a,
			      const uint8_t *mac);

/* The entry for an address seen in a packet; NULL if not in the table. A
 * scan of at most DP_NEIGH_MAX entries. */
struct dp_neigh *dp_neigh_find(struct dp_neigh_table *t, uint8_t family,
			       const struct st_ip_addr *ip);

/* Reads an entry's MAC; false while unresolved. */
static inline bool dp_neigh_mac(const struct dp_neigh *n, struct rte_ether_addr *mac)
{
	uint64_t v = __atomic_load_n(&n->mac, __ATOMIC_RELAXED);

	if (!(v & DP_NEIGH_VALID))
		return false;
	for (int i = 0; i < 6; i++)
		mac->addr_bytes[i] = (uint8_t)(v >> (8 * i));
	return true;
}

/* Handles a frame from a shadow port if it is ARP or ICMPv6 neighbour
 * discovery: learns the sender, and turns a request into the reply in place.
 * Returns 1 when m became a reply to transmit, 0 when it was neighbour
 * traffic that is now consumed (the caller frees it), -1 when it is not
 * neighbour traffic at all. *learned is incremented per MAC learned. */
int dp_neigh_input(struct dp_neigh_table *t, struct rte_mbuf *m,
		   const struct st_pkt *p, uint64_t *learned);

/* Builds a request for every unresolved, non-static entry (and with
 * refresh, for the resolved ones too: an instance recreated with the same
 * address and a new MAC announces nothing, and copies went to the old MAC
 * for good; the answer moves the entry, broadcast and multicast reach the
 * new one), from mbufs of mp, and puts them on ring (m->port set to the
 * table's port) for worker 0 to send: the main lcore owns no TX queue.
 * Main lcore. Returns requests queued. */
#define DP_NEIGH_REFRESH_S 5	/* resolved entries asked again this often */
int dp_neigh_solicit(struct dp_neigh_table *t, struct rte_ring *ring,
		     struct rte_mempool *mp, bool refresh);

/* Entries still unresolved. */
int dp_neigh_unresolved(const struct dp_neigh_table *t);

#endif
