/* TCP session shadowing: a shadow's TCP stack only takes mirrored segments
 * that are coherent with its own byte stream, and it cannot be made to take
 * more than its own window. Per shadowed session the worker
 *  - learns the shadow's ISN from its SYN-ACK (absorbed, like everything
 *    the shadow sends);
 *  - keeps a private copy of each client segment in a per-session queue
 *    (copies from their own pool: production's buffers are never held) and
 *    sends it when the shadow's window allows, with the acknowledgement
 *    number moved to what the shadow has sent, the timestamp echo set to the
 *    shadow's latest TSval and SACK blocks (production's) stripped;
 *  - frees a copy when the shadow acknowledges it, and sends it again after
 *    three duplicate ACKs or a timeout: a copy lost on the way, or beyond a
 *    window that production's stack had but the shadow's did not, is
 *    recovered;
 *  - acknowledges the shadow's data itself, so the shadow never stalls on
 *    acknowledgements the client gave production;
 *  - does not copy the client's pure ACKs (they acknowledge production's
 *    bytes), and does not shadow flows whose SYN it did not see
 *    (tcp_midstream).
 * Datapath: one table per worker, fixed capacity, no lock. */
#ifndef DP_TCP_SESSION_H
#define DP_TCP_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "flow.h"
#include "packet.h"

#define DP_TCP_TEMPLATE 128	/* L2 + L3 header bytes kept for our ACKs */
#define DP_TCP_NONE UINT32_MAX
#define DP_TCP_SESSION_QUEUE 2048	/* segments one session may keep */

enum dp_tcp_state {
	DP_TCP_FREE = 0,
	DP_TCP_SYN_SENT,	/* the client's SYN was copied, no SYN-ACK yet */
	DP_TCP_ESTABLISHED,
};

/* A queued client segment: a private copy and where to rewrite it. */
struct dp_tcp_seg {
	struct rte_mbuf *m;
	uint64_t sent_tsc;	/* last sent, 0: not yet */
	uint32_t seq, end;	/* client sequence space; end includes FIN */
	uint32_t next;		/* next in the session's queue, or the free list */
	uint16_t l4_off;
	uint16_t ts_off;	/* TS option, 0 none */
	uint16_t sack_off;	/* SACK option still to strip, 0 none */
	uint8_t sack_count;
	uint8_t ack;		/* the ACK flag is set */
	uint8_t has_data;	/* payload, not only a FIN: a request to time */
	uint8_t syn;		/* the client's SYN: resent until the SYN-ACK */
	uint8_t unsent;		/* among the sent ones (enqueue_again) but it
				 * never left (no mbuf, or its first send
				 * refused by the TX queue): its first send, a
				 * timeout's, counts as pump's do */
	uint8_t opened;		/* its request was opened towards the group
				   (timing): a first send again opens none */
	uint8_t resent;		/* sent again since its (counted) first send */
};

/* What a transmission of a queued segment (a clone of its queue's copy)
 * carries in an mbuf dynamic field, for a TX queue that refuses it
 * (dp_tcp_put_off): the segment's index + 1 when this is its first send,
 * counted among its group's copies, 0 for a resend; and that group. */
struct dp_tcp_mark {
	uint32_t first;
	uint8_t group;
	uint8_t synthetic;	/* the inject port's session: gc is cnt.inject */
};

/* Registers struct dp_tcp_mark as an mbuf dynamic field: its offset, or
 * -1 (rte_errno set). */
int dp_tcp_mark_register(void);

struct dp_tcp_sess {
	struct st_flow_key key;
	uint32_t hash;		/* of the session: flow hash mixed with the group */
	uint32_t fhash;		/* the flow hash */
	uint8_t state;
	uint8_t group;
	uint8_t ts_ok;		/* timestamps negotiated (both SYNs had them) */
	uint8_t s_wscale;	/* the shadow's window scale */
	uint8_t wscale_ok;	/* both SYNs had window scale */
	uint8_t dupacks;
	uint8_t backoff;	/* timeouts in a row on the oldest segment */
	uint8_t zw_answers;	/* window probes answered with the window
				   still shut, since the ACK last moved */
	uint8_t synthetic;	/* load generator traffic: timed as 'synthetic' */
	uint8_t fin_c, fin_s;
	uint8_t q_gap;		/* the queue may not run contiguously from its
				   head's seq to its tail's end (a segment
				   appended past a gap, or put in its place);
				   cleared when it empties */
	uint8_t again;		/* the segment dp_tcp_client passed on starts
				   before the client's highest byte seen: sent
				   again, or out of order (dp_tcp_enqueue
				   puts it in its place) */
	uint8_t inst;		/* the group's instance the SYN went to: the
				   session stays there when set_instances
				   changes the spread */
	uint32_t c_isn;		/* the client's initial sequence number */
	uint32_t c_nxt;		/* next client sequence number (client space) */
	uint32_t s_nxt;		/* next shadow sequence number (shadow space) */
	uint32_t s_ack;		/* what the shadow acknowledged (client space) */
	uint32_t s_wnd;		/* the shadow's window, scaled, bytes */
	uint32_t s_tsval;	/* the shadow's latest TSval */
	uint32_t c_tsval;	/* the client's latest TSval */
	uint16_t c_win;		/* the client's latest window, as on the wire */
	uint16_t hdr_len;	/* template: headers of the copies up to the TCP ports */
	uint16_t l3_off;	/* where the IP header starts in the template */
	uint16_t q_len;
	uint32_t q_head, q_tail; /* queued segments, oldest first */
	uint32_t q_unsent;	/* first never-sent segment, DP_TCP_NONE: none */
	uint64_t last_tsc;
	uint64_t probe_tsc;	/* since when the shadow's window has been
				   shut with nothing in flight, 0: it is not */
	uint8_t hdr[DP_TCP_TEMPLATE];
};

struct dp_tcp_table {
	struct dp_tcp_sess *e;
	uint32_t mask;
	uint32_t n;
	uint32_t max;
	uint32_t scan;
	struct dp_tcp_seg *seg;	/* segment nodes */
	uint32_t seg_free;	/* free list head */
	uint32_t seg_used;
};

struct dp_worker;
struct dp_group_counters;

/* Room for max_sessions sessions and max_segments queued segments on a
 * NUMA socket. Returns 0 or -ENOMEM. */
int dp_tcp_init(struct dp_tcp_table *t, uint32_t max_sessions, uint32_t max_segments,
		int socket);
/* Frees queued copies and the table. */
void dp_tcp_fini(struct dp_tcp_table *t);

/* Outcome of dp_tcp_client for a client segment selected for a group. */
enum dp_tcp_verdict {
	DP_TCP_QUEUE_SYN,	/* the SYN: a private copy, dp_tcp_template, then
				   dp_tcp_enqueue (resent until the SYN-ACK);
				   when no copy is made, dp_tcp_forget */
	DP_TCP_QUEUE,		/* copy privately into the queue: dp_tcp_enqueue */
	DP_TCP_SEND_RST,	/* the client's RST: copy, dp_tcp_rewrite_rst, send */
	DP_TCP_SKIP,		/* no copy; *reason a drop reason, or -1 for none */
};

/* Decides what happens to a client TCP segment selected for group g and
 * updates the session. */
enum dp_tcp_verdict dp_tcp_client(struct dp_worker *w, int g, const struct st_flow_key *k,
				  uint32_t hash, const struct st_pkt *p, bool synthetic,
				  uint64_t now, int *reason, struct dp_tcp_sess **sess);

/* Ends a session whose SYN was not copied (no mbuf, no neighbour, headers
 * too long, no room in the queue): the client's SYN sent again starts it anew, where the session
 * left in SYN_SENT with nothing queued would skip it as sent again and stay
 * dead until it idled out. */
void dp_tcp_forget(struct dp_worker *w, struct dp_tcp_sess *s);

/* Whether group g shadows a TCP session of this flow (k, its flow hash). */
bool dp_tcp_known(struct dp_worker *w, const struct st_flow_key *k, uint32_t flow_hash, int g);

/* Ends group g's session of this flow, if it has one (its instance went
 * down: chaos_down). */
void dp_tcp_forget_flow(struct dp_worker *w, const struct st_flow_key *k, uint32_t flow_hash,
			int g);

/* Keeps the headers of the SYN's copy (addresses as the shadow sees them)
 * as the template of the ACKs the dataplane sends the shadow. False when
 * they are longer than a template holds (IPv6 extension headers): the
 * session could never acknowledge the shadow, so it is not started. */
bool dp_tcp_template(struct dp_tcp_sess *s, const struct rte_mbuf *c, const struct st_pkt *p);

/* Whether dp_tcp_enqueue takes one more segment of s: a free node in the
 * table and room in the session's queue. */
static inline bool dp_tcp_has_room(const struct dp_tcp_table *t, const struct dp_tcp_sess *s)
{
	return t->seg_free != DP_TCP_NONE && s->q_len < DP_TCP_SESSION_QUEUE;
}

/* Whether a client segment sent again (s->again after dp_tcp_client) is
 * held already: the shadow acknowledged its bytes, a queued segment that
 * starts at or before it ends at or after it, or it is from before the
 * SYN. Then it is not copied: dp_tcp_skip. O(queued segments before it). */
bool dp_tcp_held(const struct dp_worker *w, const struct dp_tcp_sess *s, const struct st_pkt *p);

/* Counts a client segment not copied again (tcp_seg_again) and sends what
 * the shadow's window allows into out (at most max), as dp_tcp_enqueue
 * does. Returns the number placed in out. */
uint16_t dp_tcp_skip(struct dp_worker *w, struct dp_tcp_sess *s, uint64_t now,
		     struct rte_mbuf **out, uint16_t max);

/* A segment of s the queue has no room for (dp_tcp_has_room false): counted
 * tcp_queue_full in gc and never copied; sends what the shadow's window
 * allows into out (at most max), as dp_tcp_enqueue does. Returns the number
 * placed in out. */
uint16_t dp_tcp_refuse(struct dp_worker *w, struct dp_tcp_sess *s, struct dp_group_counters *gc,
		       uint64_t now, struct rte_mbuf **out, uint16_t max);

/* Queues a private copy c of a client segment (headers as in p) and sends
 * what the shadow's window allows into out (at most max). Returns the
 * number placed in out; c belongs to the queue (or was freed and counted
 * in gc when the queue is full: dp_tcp_refuse; the caller checks the room
 * for a SYN first, dp_tcp_forget, and dp_tcp_held for a segment sent
 * again). Each segment is counted among gc's copies when it first leaves,
 * not when queued. */
uint16_t dp_tcp_enqueue(struct dp_worker *w, struct dp_tcp_sess *s, struct rte_mbuf *c,
			const struct st_pkt *p, struct dp_group_counters *gc, uint64_t now,
			struct rte_mbuf **out, uint16_t max);

/* The client's RST, moved into the shadow's space; the session ends. */
void dp_tcp_rewrite_rst(struct dp_worker *w, struct dp_tcp_sess *s, struct rte_mbuf *c,
			const struct st_pkt *p);

/* A segment from a shadow on a port whose groups are port_groups: updates
 * the session, frees what it acknowledges, places our ACK and the segments
 * the window now allows (or a retransmission) into out (up to max).
 * Returns how many. */
uint16_t dp_tcp_shadow(struct dp_worker *w, uint32_t port_groups, const struct st_flow_key *k,
		       uint32_t hash, const struct st_pkt *p, uint64_t now,
		       struct rte_mbuf **out, uint16_t max);

/* m, a transmission of a queued segment, refused by a TX queue (freed by
 * the caller), when it was the segment's first send, the segment is still
 * queued and was not sent again since: taken back out of its group's
 * copies, and the segment is again never sent (its next send, a timeout's,
 * counts it; its session ending first counts it tcp_unsent). Nothing for a
 * resend. */
void dp_tcp_first_refused(struct dp_worker *w, struct rte_mbuf *m);

/* Looks at up to budget sessions: retransmits after a timeout, sends what
 * waits for nothing but a chance, forgets idle sessions. */
void dp_tcp_scan(struct dp_worker *w, uint64_t now, uint32_t budget);

#endif
