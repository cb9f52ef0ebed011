/* Ports: resolve a config's port reference (id or device name), configure
 * one RX and one TX queue per worker, start, stop and close. Control side
 * only. (The main lcore sends through worker 0: see dp_app.ctrl_tx.) */
#ifndef DP_PORT_H
#define DP_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mempool.h>

#include "parse.h"

#define DP_MAX_PORTS 16

struct dp_port {
	uint16_t id;
	char name[64];             /* device name, for messages */
	struct rte_ether_addr mac;
	uint16_t n_rxq;            /* one per worker */
	uint16_t n_txq;            /* one per worker */
	bool hw_rss;               /* symmetric Toeplitz RSS spreads the flows */
	bool sw_dispatch;          /* one RX queue; worker 0 spreads flows to the
				      others (devices that cannot hash) */
	bool started;
};

/* Turns "3" or "net_af_packet0" into a port id. Returns 0, or -ENODEV with
 * err naming the reference and the ports that exist. */
int dp_port_resolve(const char *ref, uint16_t *port_id, struct st_perr *err);

/* Configures and starts a port with one TX queue per worker and, for RX,
 * with more than one worker: symmetric RSS when the device hashes; with
 * net_af_packet, one queue per worker (qpairs=N) spread by the kernel's
 * fanout hash, which is symmetric too; otherwise (pcap, null, ring) a
 * single queue that worker 0 reads and spreads by the flow hash
 * (sw_dispatch). Then
 * promiscuous mode (a bump in the wire must take every frame). Returns 0 or
 * a negative errno, logged with the port's name. */
int dp_port_start(struct dp_port *p, uint16_t port_id, uint16_t n_workers,
		  uint16_t rx_desc, uint16_t tx_desc, struct rte_mempool *mp);

/* Stops and closes a started port. Never fails. */
void dp_port_close(struct dp_port *p);

#endif
