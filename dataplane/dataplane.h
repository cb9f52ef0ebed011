/* The dataplane as a whole: config, ports, groups, pools and workers, set up
 * by main.c and read (never written) by the workers' poll loops. */
#ifndef DP_DATAPLANE_H
#define DP_DATAPLANE_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_lcore.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "config.h"
#include "counters.h"
#include "neigh.h"
#include "packet.h"
#include "port.h"
#include "shadow.h"

#define DP_BURST 32
#define DP_MAX_WORKERS 64
#define DP_PREFETCH_AHEAD 3

/* The data room of a copy's mbuf (the copies' pool): a small packet whole,
 * or a large one's headers. */
#define DP_COPY_ROOM 256

#define DP_DISPATCH_RING 1024
/* The pool of large mbufs: per af_packet port and worker, and its cache. */
#define DP_BIG_PER_PORT 512
#define DP_BIG_CACHE 32
/* Expiry sweeps look at this many slots at a time, paced so that a whole
 * table is swept once per period (worker_loop.c). */
#define DP_SCAN_CHUNK 64

enum dp_port_role {
	DP_ROLE_CLIENT = 1u << 0,
	DP_ROLE_PROD = 1u << 1,
	DP_ROLE_SHADOW = 1u << 2,
	DP_ROLE_INJECT = 1u << 3,
};

/* A server endpoint as packets carry it (tap mode tells directions by it). */
struct dp_server_ep {
	struct st_ip_addr ip;
	uint8_t family;		/* 4 or 6 */
	uint16_t port;		/* host order; 0 any */
};

struct rte_rcu_qsbr;

struct dp_app {
	struct dp_config cfg;
	struct dp_port ports[DP_MAX_PORTS];
	uint32_t port_roles[DP_MAX_PORTS];
	struct dp_neigh_table neigh[DP_MAX_PORTS]; /* used on shadow ports */
	int n_ports;
	int client;	/* port indices; -1 when absent */
	int prod;
	int inject;
	struct dp_server_ep servers[DP_MAX_SERVERS];
	int n_servers;
	struct dp_group groups[DP_MAX_SHADOWS];
	int n_groups;
	struct rte_mempool *pool;	/* what the ports receive into */
	struct rte_mempool *big_pool;	/* ... those whose frames need more than
					   2 KB in one mbuf (port.rx_room); NULL
					   when none does */
	struct rte_mempool *copy_pool;	/* copies: indirect mbufs and header copies */
	struct rte_mempool *tcpq_pool;	/* TCP segments queued for shadows: full copies */
	int tcp_mark_off;	/* the mbuf dynamic field of struct dp_tcp_mark
				   (tcp_session.h), when tcpq_pool is */
	/* Frames the main lcore wants sent (neighbour requests; m->port says
	 * where): worker 0 sends them on its queue. Single producer, single
	 * consumer. */
	struct rte_ring *ctrl_tx;
	/* Ports that cannot hash flows to queues (port.sw_dispatch): worker 0
	 * reads them and hands each packet to the worker owning its flow
	 * through dispatch[port][worker]; the others read their ring instead
	 * of the port. Both directions of a flow hash alike, so they meet. */
	struct rte_ring *dispatch[DP_MAX_PORTS][DP_MAX_WORKERS];
	struct dp_worker *workers[DP_MAX_WORKERS];
	unsigned int n_workers;
	/* Answers from instances handed to worker w by worker w - 1 (round;
	 * handover.c), single producer and consumer; NULL unless more than
	 * one worker and a group with instances times or shadows TCP. */
	struct rte_ring *handover[DP_MAX_WORKERS];
	int handover_off;	/* the mbuf dynamic field of dp_handover_mark */
	/* Each worker reports a quiescent state per loop round (thread id:
	 * its queue index), so a reload frees a filter no worker still runs
	 * (reload.c). */
	struct rte_rcu_qsbr *qsv;
	uint64_t tsc_hz;
	uint64_t ns_per_cyc_q32;	/* 1e9 / tsc_hz in 32.32 fixed point */
	uint64_t timeout_cyc;		/* response_timeout in TSC cycles */
	uint64_t idle_cyc;		/* flow_idle_timeout in TSC cycles */
	uint64_t frag_cyc;		/* frag_timeout in TSC cycles */
	uint32_t port_groups[DP_MAX_PORTS];	/* bit g: group g copies to this port */
	bool port_instances[DP_MAX_PORTS];	/* a group here rewrites to instances */
	uint32_t epoch;			/* timing window, bumped by the main lcore */
	bool timing;			/* [dataplane] timing */
	bool tcp;			/* [dataplane] tcp_sessions > 0: TCP session shadowing */
};

/* Set by the signal handler; the poll loops run until it is. */
extern volatile bool dp_force_quit;

#endif
