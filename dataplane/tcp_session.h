/* TCP session shadowing: a shadow's TCP stack only takes mirrored segments
 * that are coherent with its own byte stream. Per shadowed session the
 * worker learns the shadow's ISN from its SYN-ACK (absorbed), rewrites on
 * every copied client segment the acknowledgement number to what the shadow
 * has sent, the timestamp echo to the shadow's latest TSval, strips SACK
 * blocks (they describe production's stream), and acknowledges the
 * shadow's data itself so it never stalls on acknowledgements the client
 * gave to production. Client segments that arrive before the shadow's
 * SYN-ACK are held (a few per session) and sent once it comes. Flows whose
 * SYN was not seen are not shadowed (tcp_midstream).
 *
 * Datapath: one table per worker, fixed capacity, no lock. */
#ifndef DP_TCP_SESSION_H
#define DP_TCP_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "flow.h"
#include "packet.h"

#define DP_TCP_HOLD 8		/* client segments held before the SYN-ACK */
#define DP_TCP_TEMPLATE 128	/* L2 + L3 header bytes kept for our ACKs */

enum dp_tcp_state {
	DP_TCP_FREE = 0,
	DP_TCP_SYN_SENT,	/* the client's SYN was copied, no SYN-ACK yet */
	DP_TCP_ESTABLISHED,
};

struct dp_tcp_sess {
	struct st_flow_key key;
	uint32_t hash;
	uint8_t state;
	uint8_t group;
	uint8_t ts_ok;		/* timestamps negotiated (both SYNs had them) */
	uint8_t n_held;
	uint32_t c_nxt;		/* next client sequence number (client space) */
	uint32_t s_nxt;		/* next shadow sequence number (shadow space) */
	uint32_t s_tsval;	/* the shadow's latest TSval */
	uint32_t c_tsval;	/* the client's latest TSval */
	uint16_t c_win;		/* the client's latest window, as on the wire */
	uint16_t hdr_len;	/* template: headers of the copies up to the TCP ports */
	uint16_t l3_off;	/* where the IP header starts in the template */
	uint8_t fin_c, fin_s;
	uint64_t last_tsc;
	struct rte_mbuf *held[DP_TCP_HOLD];
	uint8_t hdr[DP_TCP_TEMPLATE];
};

struct dp_tcp_table {
	struct dp_tcp_sess *e;
	uint32_t mask;
	uint32_t n;
	uint32_t max;
	uint32_t scan;
};

struct dp_worker;
struct dp_group;
struct dp_group_counters;

int dp_tcp_init(struct dp_tcp_table *t, uint32_t max_sessions, int socket);
/* Frees held mbufs and the table. */
void dp_tcp_fini(struct dp_tcp_table *t);

/* Outcome of dp_tcp_copy for a client segment selected for a group. */
enum dp_tcp_verdict {
	DP_TCP_SEND,		/* make the copy (rewritten by dp_tcp_rewrite) */
	DP_TCP_SEND_PLAIN,	/* make the copy as is (the SYN) */
	DP_TCP_SKIP,		/* no copy: counted under the reason returned */
};

/* Decides what happens to a client TCP segment selected for group g and
 * updates the session; on DP_TCP_SKIP *reason is a drop reason. */
enum dp_tcp_verdict dp_tcp_client(struct dp_worker *w, int g, const struct st_flow_key *k,
				  uint32_t hash, const struct st_pkt *p, uint64_t now,
				  int *reason, struct dp_tcp_sess **sess);

/* Keeps the headers of the SYN's copy (addresses as the shadow sees them)
 * as the template of the ACKs the dataplane sends the shadow. */
void dp_tcp_template(struct dp_tcp_sess *s, const struct rte_mbuf *c, const struct st_pkt *p);

/* Rewrites a private copy c (headers as in p) for session s, or holds it
 * while the shadow's SYN-ACK is awaited. Returns true when c is to be sent
 * now, false when it was held or dropped (counted in gc). */
bool dp_tcp_rewrite(struct dp_worker *w, struct dp_tcp_sess *s, struct rte_mbuf *c,
		    const struct st_pkt *p, struct dp_group_counters *gc);

/* A segment from a shadow on a port whose groups are port_groups: updates
 * the session, queues our ACK and released held copies into out (up to
 * max), returns how many. */
uint16_t dp_tcp_shadow(struct dp_worker *w, uint32_t port_groups, const struct st_flow_key *k,
		       uint32_t hash, const struct st_pkt *p, uint64_t now,
		       struct rte_mbuf **out, uint16_t max);

/* Forgets sessions idle past the idle timeout; up to budget slots. */
void dp_tcp_scan(struct dp_worker *w, uint64_t now, uint32_t budget);

#endif
