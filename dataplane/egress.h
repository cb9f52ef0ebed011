/* Frames larger than the port they leave by: fragmented again to its MTU
 * (IPv4 without DF, the way a router would), else dropped and counted
 * too_big. The slow side of the transmit path: the poll loop calls it only
 * for a burst that holds such a frame (max pkt_len > port.tx_fast_max),
 * which a 64-byte tee never does. */
#ifndef DP_EGRESS_H
#define DP_EGRESS_H

#include <stdint.h>

#include <rte_mbuf.h>

struct dp_worker;

/* Fragments of one frame at most (a 61 KB datagram into 1500-byte MTU
 * takes 42; a smaller MTU than that needs more and is too_big). */
#define DP_EGRESS_MAX_FRAGS 128

/* Frames dp_egress_send did not send: too big and not fragmentable, or
 * refused by the TX queue (a fragmented frame is lost when any of its
 * fragments is), with their bytes as they were handed in. */
struct dp_egress_lost {
	uint32_t too_big;
	uint32_t tx_full;
	uint64_t bytes;
};

/* Sends pkts[0..n) on port_idx's queue in order, each frame above mtu
 * (the port's, or a shadow group's below it) replaced by its fragments
 * (headers from mp, data referenced, never copied) or, when it cannot be
 * fragmented (IPv6, DF, non-IP, too many fragments, mp dry), freed and
 * counted in the port's too_big. What the TX queue refuses is counted
 * (tx_full) and freed, as tx_or_drop. Fragments sent are counted in the
 * port's frags_out. With lost (a shadow group's copies, counted per group,
 * not in the port's tx, tx_bytes and tx_full, as copies that need no
 * fragments), the frames not sent are added to *lost instead (the group
 * takes them out of its copies and counts them as its drops). Takes every
 * mbuf of pkts. */
void dp_egress_send(struct dp_worker *w, int port_idx, uint32_t mtu,
		    struct rte_mbuf **pkts, uint16_t n, struct rte_mempool *mp,
		    struct dp_egress_lost *lost);

#endif
