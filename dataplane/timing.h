/* Request->response timing for production and every shadow group, on one
 * TSC clock. Datapath side: called by the poll loop with the packets of a
 * burst already classified. Results go to per-worker, per-target windows
 * (counters and HDR histograms) that the main lcore swaps every interval:
 * the worker writes window (epoch & 1), the main lcore reads the other one
 * after every worker has acknowledged the new epoch. No lock. */
#ifndef DP_TIMING_H
#define DP_TIMING_H

#include <stdint.h>
#include <string.h>

#include <rte_mbuf.h>

#include "flow_frame.h"
#include "flowtab.h"
#include "hist.h"
#include "packet.h"

/* Histogram range: 1 ns to 60 s at 3 significant digits; a latency above
 * is clamped (and timeouts are counted apart anyway). */
#define DP_HIST_LOWEST 1
#define DP_HIST_HIGHEST (60LL * 1000 * 1000 * 1000)
#define DP_HIST_SIGFIGS 3

enum dp_dir {
	DP_DIR_C2S,	/* from the client port in inline mode */
	DP_DIR_S2C,	/* from production or a shadow */
	DP_DIR_TAP,	/* either: told by the configured servers */
};

struct dp_frag;

/* dp_pktinfo.frag: what an IP fragment of a client->server datagram is to
 * the tee (fragtab.h). Fragments of the other direction are NONE. */
enum dp_frag_role {
	DP_FRAG_NONE = 0,	/* not a fragment (or not client->server) */
	DP_FRAG_FIRST,		/* offset 0: key and hash are its flow's, from its
				   L4 ports; timed as the datagram's request */
	DP_FRAG_LATER,		/* a later one of a datagram whose first fragment
				   was seen: key and hash are the flow's; not timed */
	DP_FRAG_PENDING,	/* a later one, first fragment not seen yet: held
				   for it (key without ports); not timed */
	DP_FRAG_NOCOPY,		/* no room in the table: never copied */
};

/* What the poll loop knows of one packet of a burst. */
struct dp_pktinfo {
	struct st_pkt p;
	struct st_flow_key key;
	uint32_t hash;
	uint8_t ok;		/* IP, hash known (and, if parsed, key built) */
	uint8_t parsed;		/* p is the full view; 0 (dp_classify_lazy):
				   key, hash and of p only l3, proto, flags
				   (L4, PORTS), sport, dport, tcp.flags,
				   tcp.hlen (UDP: 8) and payload_len, what
				   timing and the tee read */
	uint8_t c2s;		/* client -> server */
	uint8_t timed;		/* ok and a protocol timing looks at (TCP, UDP,
				   ICMP echo): one test on the request path */
	uint8_t client;		/* key.addr index of the client */
	int8_t group;		/* from a shadow port: the group whose instance
				   answered (dp_map_back), -1 unknown */
	uint8_t no_flow;	/* a timing call found the flow table full
				   for it: counted once, not tried again */
	uint8_t frag;		/* enum dp_frag_role */
	struct dp_frag *fragp;	/* FIRST, LATER, PENDING: the datagram's entry
				   (valid until the next fragment sweep) */
	struct dp_flow *flow;	/* the flow's entry once a timing call found
				   it (valid until the next expiry scan),
				   else NULL */
};

/* One window of one target. */
struct dp_tstats {
	uint64_t requests;	/* requests sent towards the target */
	uint64_t responses;	/* requests answered (and timed) */
	uint64_t timeouts;
	uint64_t resets;
	uint64_t icmp_errors;
	uint64_t connects;	/* SYN -> SYN-ACK timed */
	uint64_t tx_pkts, tx_bytes;	/* towards the target */
	uint64_t rx_pkts, rx_bytes;	/* from it */
	struct st_hist *lat;	/* request -> first response, ns */
	struct st_hist *conn;	/* SYN -> SYN-ACK, ns */
};

struct dp_worker;

/* Parses a frame held in an mbuf, chained or not: its headers must lie in
 * the first segment (split_header otherwise), its lengths are the whole
 * chain's. As st_pkt_parse_seg. */
static inline int dp_pkt_parse(const struct rte_mbuf *m, struct st_pkt *p)
{
	return st_pkt_parse_seg(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m),
				rte_pktmbuf_pkt_len(m), p);
}

/* Parses a burst, builds flow keys and hashes, and tells directions.
 * Counts malformed and non-IP frames. */
void dp_classify(struct dp_worker *w, struct rte_mbuf **pkts, struct dp_pktinfo *info,
		 uint16_t n, enum dp_dir dir);

/* The full view of a packet dp_classify_lazy only hashed (parsed = 0):
 * parses it, keeping its key, hash and direction. A frame the parser
 * refuses is counted as malformed and gets ok = 0. Returns in->ok. */
int dp_classify_finish(struct dp_worker *w, struct rte_mbuf *m, struct dp_pktinfo *in);

/* dp_classify of one packet (in->group -1: no group's answer). Returns
 * in->ok. */
int dp_classify_one(struct dp_worker *w, struct rte_mbuf *m, struct dp_pktinfo *in,
		    enum dp_dir dir);

/* dp_classify for a burst between client and production (dir C2S or
 * S2C): IPv4 TCP/UDP gets its key, hash and what timing reads from
 * st_flow_frame and parsed = 0, so a tee of a small share does not parse
 * what it does not copy; whoever copies calls dp_classify_finish first. The
 * rest is parsed in full. Malformed frames are then counted when parsed,
 * and a TCP segment with malformed options is timed like any other. With
 * timing on, a client burst's flow entries are prefetched for
 * dp_timing_requests. */
void dp_classify_lazy(struct dp_worker *w, struct rte_mbuf **pkts, struct dp_pktinfo *info,
		      uint16_t n, enum dp_dir dir);

/* st_flow_frame, in line where the build has SSE4.2 (DPDK's -march does). */
#if ST_FLOW_FRAME_HW && defined(__SSE4_2__)
#define dp_flow_frame st_flow_frame_hw
#else
#define dp_flow_frame st_flow_frame
#endif

/* dp_pktinfo's one-byte fields from ok to frag, written in one store by
 * dp_lazy_fill (their order is checked in timing.c). */
#define DP_LAZY_FLAGS(c2s, swapped)                                                        \
	(1 | (uint64_t)(c2s) << 16 | (uint64_t)1 << 24 | (uint64_t)((c2s) == (swapped)) << 32 | \
	 (uint64_t)(uint8_t)-1 << 40 | (uint64_t)DP_FRAG_NONE << 56)

/* What dp_classify_lazy gives a frame dp_flow_frame took (its key already
 * in in->key): ok, not parsed, c2s as the burst's direction, timed (TCP or
 * UDP), client (swapped: the packet's source is addr[1]), group -1,
 * no_flow 0, frag none, and of p what timing and the tee read. */
static inline __attribute__((always_inline)) void
dp_lazy_fill(struct dp_pktinfo *in, const struct st_flow_lite *f, bool c2s)
{
	uint64_t flags = DP_LAZY_FLAGS(c2s, f->swapped);

	in->hash = f->hash;
	in->flow = NULL;
	memcpy(&in->ok, &flags, sizeof(flags));
	in->p.l3 = ST_L3_IPV4;
	in->p.proto = f->proto;
	in->p.flags = ST_PKT_F_L4 | ST_PKT_F_PORTS;
	in->p.sport = f->sport;
	in->p.dport = f->dport;
	in->p.tcp.flags = f->tcp_flags;
	in->p.tcp.hlen = f->l4_hlen;
	in->p.payload_len = f->payload_len;
}

/* The client->server packets of a classified burst, on their way to
 * production (inline: about to be sent; tap: seen passing): finds (or adds)
 * each one's flow, sets info->flow, and opens production's requests and
 * connects. bytes is the sum of the burst's pkt_len (the port's RX count
 * has it): what is sent towards production is counted as the burst less
 * the few packets not timed, not packet by packet. */
void dp_timing_requests(struct dp_worker *w, struct rte_mbuf **pkts, struct dp_pktinfo *info,
			uint16_t n, uint64_t bytes, uint64_t now);

/* Tap mode: both directions of production's traffic in one burst, timed
 * in their order (dp_timing_requests, dp_timing_s2c towards
 * DP_TARGET_PROD). */
void dp_timing_tap(struct dp_worker *w, struct rte_mbuf **pkts, struct dp_pktinfo *info,
		   uint16_t n, uint64_t now);

/* A copy of in's packet went out towards target (DP_TARGET_GROUP or
 * DP_TARGET_INJ) now: opens its request or connect, finding the flow first
 * unless dp_timing_requests did. Timing must be on. */
void dp_timing_copy(struct dp_worker *w, struct dp_pktinfo *in, int target, uint32_t bytes,
		    uint64_t now);

/* Opens a request towards one target for data sent apart from its burst
 * (a TCP segment sent from a session's queue when the shadow's window
 * allowed). */
void dp_timing_open_data(struct dp_worker *w, const struct st_flow_key *k, uint32_t hash,
			 int target, uint32_t bytes, uint64_t now);

/* Server->client packets received from a target (DP_TARGET_PROD, or
 * DP_TARGET_GROUP(g) with g < 0 meaning "whichever group of this port the
 * flow is timed towards"): closes requests, counts resets and ICMP errors. */
void dp_timing_s2c(struct dp_worker *w, struct rte_mbuf **pkts,
		   const struct dp_pktinfo *info, uint16_t n, int target,
		   uint32_t port_groups, uint64_t now);

/* Looks at up to budget flow slots: unanswered requests older than the
 * timeout become timeouts, flows idle past the idle timeout are removed. */
void dp_timing_scan(struct dp_worker *w, uint64_t now, uint32_t budget);

/* Picks up a new epoch from the main lcore and acknowledges it. */
void dp_timing_epoch(struct dp_worker *w);

#endif
