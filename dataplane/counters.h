/* Counters: one cache-aligned block per worker, written by that worker
 * alone, summed and diffed by the main lcore. Every copy that does not reach
 * its shadow is counted under a named reason. */
#ifndef DP_COUNTERS_H
#define DP_COUNTERS_H

#include <stdint.h>

#include "config.h"
#include "packet.h"
#include "port.h"

/* Why a copy for a shadow group was not sent. */
enum dp_drop {
	DP_DROP_DISABLED,	/* selected, but the group is disabled */
	DP_DROP_FILTERED,	/* selected, but the group's BPF filter said no */
	DP_DROP_RATE_CAP,	/* over the group's pps or bps cap */
	DP_DROP_NO_NEIGH,	/* shadow instance's MAC not resolved (yet) */
	DP_DROP_NO_MBUF,	/* the copies' pool ran dry */
	DP_DROP_TX_FULL,	/* the shadow port's TX queue took no more, or
				 * the burst's batch for the group was full */
	DP_DROP_TCP_MIDSTREAM,	/* TCP flow whose SYN was not seen: not shadowed */
	DP_DROP_TCP_TABLE_FULL,	/* no room for another TCP session */
	DP_DROP_TCP_QUEUE_FULL,	/* the session's queue towards the shadow is full */
	DP_DROP_TOO_BIG,	/* above the shadow port's MTU and not fragmentable
				   (IPv6, DF set, too many fragments) */
	DP_DROP_CHAOS_LOSS,	/* lost on purpose: the group's chaos_loss */
	DP_DROP_CHAOS_DOWN,	/* its instance is down on purpose: chaos_down */
	DP_DROP_CHAOS_LOSS_BURST, /* lost on purpose: chaos_loss_burst (GE) */
	DP_DROP_CHAOS_QUEUE_FULL, /* to be delayed, but the timing wheel was full */
	DP_DROP_HEADERS_TOO_LONG, /* headers to rewrite longer than a copy's
				     first buffer (IPv6 extension headers of
				     a couple of hundred bytes) */
	DP_DROP_TCP_UNSENT,	/* queued towards the shadow, never sent: its
				   session ended first (idle, reset, given
				   up, the client starting over) */
	DP_DROP_COUNT
};

extern const char *const dp_drop_names[DP_DROP_COUNT];

struct dp_port_counters {
	uint64_t rx_pkts;
	uint64_t rx_bytes;
	uint64_t tx_pkts;
	uint64_t tx_bytes;  /* of the packets the TX queue took */
	uint64_t tx_full; /* production packets the port's TX queue refused */
	uint64_t dispatch_full; /* received, but the owning worker's ring was full */
	uint64_t frags_out; /* fragments sent in place of frames above the MTU */
	uint64_t too_big;   /* frames above the MTU that could not be fragmented:
			       dropped, as the next hop would (egress.c) */
};

struct dp_group_counters {
	uint64_t copies;
	uint64_t copy_bytes;
	uint64_t zero_copy; /* copies sent as indirect mbufs, no byte copied */
	uint64_t drops[DP_DROP_COUNT];
	uint64_t rx_pkts;   /* from the group's shadows (responses), absorbed */
	uint64_t rx_bytes;
	uint64_t chaos_fx[DP_FX_COUNT]; /* what chaos did to copies still sent
					   (chaos_fx.h: delayed, duplicated,
					   corrupted) */
};

struct dp_counters {
	struct dp_port_counters port[DP_MAX_PORTS];
	struct dp_group_counters group[DP_MAX_SHADOWS];
	/* Load generator traffic from the inject port, kept apart. */
	struct dp_group_counters inject[DP_MAX_SHADOWS];
	uint64_t malformed[ST_PKT_ERR_COUNT]; /* never mirrored; forwarded inline */
	uint64_t not_ip;       /* non-IP frames: forwarded, never mirrored */
	uint64_t arp_replies;  /* ARP/ND answers sent to shadows */
	uint64_t neigh_learned;
	uint64_t shadow_other; /* frames from shadow ports that are neither
				  responses nor neighbour traffic */
	uint64_t flow_table_full; /* new flows not timed: the table was full */
	uint64_t handed_over;	  /* instances' answers handed to the next
				     worker (handover.c) */
	uint64_t handover_full;	  /* ... that its full ring refused: taken
				     here, as with one worker */
	uint64_t tcp_acks;        /* ACKs the dataplane sent shadows for their data */
	uint64_t tcp_ack_nombuf;  /* ACKs not sent: no mbuf */
	uint64_t tcp_send_nombuf; /* sends of a queued segment put off: no mbuf
				     (the segment stays queued: not a drop) */
	uint64_t tcp_send_tx_full; /* sends of a queued segment the TX queue
				      refused (it stays queued: not a drop) */
	uint64_t tcp_retrans;     /* segments sent to a shadow again */
	uint64_t tcp_acks_elided; /* client pure ACKs not copied (they ack prod's bytes) */
	uint64_t tcp_shadow_rst;  /* sessions a shadow reset */
	uint64_t tcp_syn_again;   /* client SYNs sent again: not copied again */
	uint64_t tcp_given_up;    /* sessions removed after TCP_GIVE_UP timeouts
				     without the shadow's ACK moving */
	uint64_t tcp_seg_again;   /* client segments sent again whose bytes the
				     shadow has or were queued: not copied again */
	uint64_t flows_expired;   /* flows forgotten after the idle timeout */
	/* IP fragments of client->server datagrams (fragtab.h). */
	uint64_t frag_seen;       /* fragments seen */
	uint64_t frag_first;      /* first fragments (offset 0): they name the flow */
	uint64_t frag_held;       /* held until their first fragment comes */
	uint64_t frag_released;   /* held, then teed right after their first fragment */
	uint64_t frag_expired;    /* datagrams incomplete at frag_timeout */
	uint64_t frag_held_expired; /* held fragments freed unsent at frag_timeout */
	uint64_t frag_table_full; /* fragments of datagrams the table had no room for:
				     never copied */
	uint64_t frag_hold_full;  /* fragments not held (datagram's or worker's limit,
				     or no mbuf for the clone): never copied */
	/* Levels, not counts: filled in by dp_stats_sum from the workers'
	 * tables (a worker never writes them); a difference of two is
	 * meaningless. */
	uint64_t flows_active;        /* flow-table entries in use */
	uint64_t tcp_sessions_active; /* TCP sessions tracked towards shadows */
} __attribute__((aligned(64)));

/* Adds src into dst. */
void dp_counters_add(struct dp_counters *dst, const struct dp_counters *src);

#endif
