/* Which captured packets a replay sends: the client->server side of every
 * flow. A replay towards shadows must not send the recorded responses, so
 * each flow's client is found, in this order:
 *   - the --server list: a packet to a listed server is a request, one from
 *     it a response, and flows touching no listed server are left out;
 *   - without a list, SYNs: the sender of a SYN is the client, the sender
 *     of a SYN-ACK the server, and the server endpoints learned that way
 *     decide the flows whose handshake was not captured;
 *   - failing that, the sender of the flow's first packet is the client
 *     (counted as guessed).
 * Non-IP frames and frames the parser refuses are left out and counted. */
#ifndef LG_CLASSIFY_H
#define LG_CLASSIFY_H

#include <stdint.h>

#include "capture.h"
#include "packet.h"
#include "parse.h"
#include "rewrite.h"
#include "select.h"

/* A server endpoint; port 0 stands for every port of the address. */
struct lg_server {
	struct st_ip_addr addr;
	uint16_t port;
	uint8_t family;		/* 4 or 6 */
};

enum lg_skip {
	LG_SKIP_NON_IP,		/* ARP, LLDP, ... */
	LG_SKIP_MALFORMED,	/* the parser refused it (see malformed[]) */
	LG_SKIP_CUT_HEADERS,	/* the snaplen cut into the IP header */
	LG_SKIP_RESPONSE,	/* server -> client */
	LG_SKIP_OTHER_FLOW,	/* --server given, neither end is one */
	LG_SKIP_NOT_SELECTED,	/* --select-clients given, its client not named */
	LG_SKIP__COUNT
};

/* One packet to send. */
struct lg_pkt {
	uint32_t frame;		/* index in the capture */
	uint32_t flow;		/* dense id of its flow, 0..n_flows-1 */
	uint32_t hash;		/* st_flow_hash of the flow as captured */
	uint16_t frag_dport;	/* a later fragment: its datagram's destination
				   port, read from the first fragment (--map
				   sends the whole datagram alike); 0: none */
	struct lg_rw rw;
};

struct lg_plan {
	struct lg_pkt *pkts;	/* in capture order */
	uint32_t n;
	uint32_t n_flows;		/* flows with at least one packet sent */
	uint32_t n_flows_guessed;	/* direction from the first packet */
	uint32_t n_servers_learned;	/* endpoints learned from SYN/SYN-ACK */
	uint64_t skipped[LG_SKIP__COUNT];
	uint64_t malformed[ST_PKT_ERR_COUNT];
	struct lg_variants var;	/* span of the client addresses sent */
};

/* Builds the plan for cap. servers may be NULL (n_servers 0): learn them.
 * Returns 0; -ENODATA when no packet is left to send (err says how many
 * were left out and why); -ENOMEM. On error plan is empty. Costs two
 * parses per frame and a flow table of about 64 bytes per flow. */
int lg_classify(const struct lg_capture *cap, const struct lg_server *servers,
		int n_servers, struct lg_plan *plan, struct st_perr *err);

/* The same, keeping only the flows whose client sel names (sel may be
 * NULL: every flow); sel->flows counts the flows each key selected. Also
 * -ENODATA when no flow of a named client is in the capture. */
int lg_classify_sel(const struct lg_capture *cap, const struct lg_server *servers,
		    int n_servers, struct lg_select *sel, struct lg_plan *plan,
		    struct st_perr *err);

/* Frees the plan's memory; NULL-safe. */
void lg_plan_free(struct lg_plan *plan);

/* "non_ip", "malformed", ...: the name used in reports. */
const char *lg_skip_str(enum lg_skip s);

#endif
