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
	char driver[32];           /* net_af_packet, net_pcap, ... */
	struct rte_ether_addr mac;
	/* Frames (dp_port_plan): the largest IP packet the port carries, the
	 * largest frame sent without a second look (mtu + Ethernet header:
	 * a tagged one is looked at), the data room its RX mbufs need when the
	 * shared 2 KB pool will not do (0: it will), and whether the PMD
	 * chains mbufs itself (scattered RX). */
	uint32_t mtu;
	uint32_t tx_fast_max;
	uint32_t rx_room;
	bool scatter;
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

/* The frames a port will carry, read before any pool exists: sets p->id,
 * name, driver, mtu (cfg_mtu, or 0 for the port's own: a kernel-backed
 * port's interface MTU, else 1500), tx_fast_max, rx_room and scatter.
 * Returns 0, or -EINVAL with the reason logged (naming the port and the
 * limit) when the PMD cannot carry that MTU whole: an interface MTU below
 * it, a PMD whose largest frame is smaller, an af_packet ring whose frames
 * are too small. Never touches the device's state. */
int dp_port_plan(struct dp_port *p, uint16_t port_id, uint32_t cfg_mtu);

/* Configures and starts a port with one TX queue per worker and, for RX,
 * with more than one worker: symmetric RSS when the device hashes; with
 * net_af_packet, one queue per worker (qpairs=N) spread by the kernel's
 * fanout hash, which is symmetric too; otherwise (pcap, null, ring) a
 * single queue that worker 0 reads and spreads by the flow hash
 * (sw_dispatch). p must have been planned (dp_port_plan): its MTU is
 * set, with scattered RX where the plan asks for it. Then
 * promiscuous mode (a bump in the wire must take every frame). Returns 0 or
 * a negative errno, logged with the port's name. */
int dp_port_start(struct dp_port *p, uint16_t n_workers, uint16_t rx_desc,
		  uint16_t tx_desc, struct rte_mempool *mp);

/* Stops and closes a started port. Never fails. */
void dp_port_close(struct dp_port *p);

#endif
