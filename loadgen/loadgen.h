/* shadowtap-loadgen's DPDK side: the state shared by the main lcore (setup,
 * reporting, publishing) and the TX lcores (tx_loop.c). */
#ifndef LG_LOADGEN_H
#define LG_LOADGEN_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "capture.h"
#include "classify.h"
#include "hist.h"
#include "options.h"
#include "pacer.h"
#include "profile.h"
#include "report.h"
#include "rewrite.h"

#define LG_BURST 32
#define LG_MAX_TX 64
/* Templates up to this many bytes share one pool; longer ones (jumbo
 * frames) have one of their own (templates.c). */
#define LG_SMALL_ROOM 2048
/* A template shared by this many in-flight sends is copied instead. */
#define LG_REFCNT_MAX 60000

extern volatile bool lg_force_quit;

/* One packet of one TX lcore: the captured frame with the static rewrites
 * (MACs, --map) done, and where each of its sends sits in the stream. */
struct lg_tmpl {
	struct rte_mbuf *m;
	double base;		/* position of clone 0 in the first loop */
	double step;		/* clone c is at base + c * step */
	struct st_ip_addr src;	/* the client address as captured */
	struct lg_rw rw;
	uint16_t len;
};

/* Written by its TX lcore only, read by the main lcore. */
struct lg_counters {
	uint64_t due;		/* packets whose deadline came (sent or dropped) */
	uint64_t sent;
	uint64_t bytes;
	uint64_t late;
	uint64_t drops[LG_DROP__COUNT];
	uint64_t loops;		/* whole passes over this lcore's packets */
	uint64_t end_tsc;	/* when it stopped */
	bool done;
} __rte_cache_aligned;

struct lg_worker {
	struct lg_app *app;
	unsigned int lcore;
	uint16_t queue;
	uint32_t idx;
	struct lg_tmpl *t;
	uint32_t n;
	double gap_mean;	/* --poisson: mean gap in position units */
	uint64_t rng;
	struct st_hist *lag;	/* send lag, ns */
	uint64_t *due_bins;	/* per series interval, by deadline */
	uint64_t *sent_bins;	/* per series interval, by send time */
	uint32_t n_bins;
	uint32_t bins_used;	/* highest bin touched + 1 */
	bool bins_overflow;
	struct lg_counters c;
};

struct lg_app {
	struct lg_config cfg;
	struct lg_capture cap;
	struct lg_plan plan;
	struct lg_select sel;		/* --select-clients (n 0: every client) */
	struct lg_profile profile;
	struct lg_rate rate;
	uint16_t port_id;
	uint16_t n_rxq;
	bool port_started;
	char port_name[RTE_ETH_NAME_MAX_LEN];
	struct rte_ether_addr port_mac;
	struct rte_mempool *tmpl_pool;	/* the templates, one mbuf each ... */
	struct rte_mempool *tmpl_big;	/* ... but those longer than LG_SMALL_ROOM */
	struct rte_mempool *copy_pool;	/* rewritten copies */
	struct rte_mempool *rx_pool;	/* whatever the port receives */
	uint32_t n_tx;
	struct lg_worker *w[LG_MAX_TX];
	double loop_len;	/* position units in one pass, clones included */
	uint64_t pkts_per_loop;	/* packets in one pass, clones included */
	uint64_t tsc_hz;
	uint64_t start_tsc;	/* shared start of the schedule */
	uint64_t end_tsc;	/* planned end; UINT64_MAX when open */
	bool paced;
	uint64_t rx_pkts;	/* received on the port (drained, main lcore) */
};

/* Builds every TX lcore's templates from app->cap and app->plan: the mbuf
 * pools, MAC and --map rewrites, positions. Returns 0 or -1 (logged; a pool
 * that does not fit says how much memory it needs). */
int lg_templates_build(struct lg_app *app);

/* Returns the templates to their pool and frees the arrays. */
void lg_templates_free(struct lg_app *app);

/* Finds --port (id or name) and reads its MAC. Returns 0 or -1 (logged,
 * with the ports there are). */
int lg_port_find(struct lg_app *app);

/* Configures n_tx TX queues (and one RX queue when the device has any),
 * starts the port and waits for the link. Returns 0 or -1 (logged). */
int lg_port_setup(struct lg_app *app);
void lg_port_close(struct lg_app *app);

struct lg_pub;

/* The main lcore from the start to the end of the run (monitor.c): drains
 * RX, prints progress when stderr is a terminal, publishes a KPI snapshot
 * every interval (pub may be NULL), stops the TX lcores on a signal or
 * when one is stuck 2 s past the planned end, and keeps the port open a
 * moment after the last send. Returns when every TX lcore is done. */
void lg_monitor_run(struct lg_app *a, struct lg_pub *pub, double planned_s);

/* Prints the summary (JSON on stdout with --json, text on stdout or
 * stderr). Call once the TX lcores are done. Allocates the merged series
 * and histogram; a failure is logged and the summary skipped. */
void lg_summarize(struct lg_app *a, double planned_s);

/* The TX poll loop (tx_loop.c), launched on each TX lcore. */
int lg_tx_main_loop(void *arg);

/* Which TX lcore sends a flow: the same multiply-shift as the dataplane's
 * worker choice, so flows spread evenly whatever the count. */
static inline uint32_t lg_flow_lcore(uint32_t hash, uint32_t n)
{
	return (uint32_t)(((uint64_t)(uint32_t)(hash * 2654435761u) * n) >> 32);
}

#endif
