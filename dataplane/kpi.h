/* KPI publishing on the main lcore: every interval it moves the workers to
 * the next timing window, merges the closed window across workers and
 * publishes one snapshot per target on a ZeroMQ PUB socket (DESIGN.md, the
 * wire contract). A message ZeroMQ cannot queue (high-water mark) is counted,
 * never waited for. */
#ifndef DP_KPI_H
#define DP_KPI_H

#include <stdint.h>

#include "clients.h"
#include "counters.h"
#include "dataplane.h"
#include "flowtab.h"
#include "timing.h"
#include "hist.h"
#include "wire.h"

struct dp_kpi {
	void *pub;			/* ZeroMQ PUB; NULL: timing windows only */
	uint64_t seq;
	uint64_t sent;
	uint64_t dropped;		/* ZeroMQ could not queue (EAGAIN) */
	uint64_t workers_late;		/* windows a worker did not hand over */
	uint64_t lat_failed;		/* histograms that could not be encoded */
	struct st_hist *merged[DP_MAX_TARGETS];
	uint8_t *enc;			/* histogram encoding buffer */
	size_t enc_cap;
	struct st_wbuf msg;
	struct dp_counters prev;	/* cumulative counters at the last window */
	uint64_t t0;			/* wall clock start of the open window */
	struct dp_clients clients;	/* per-client windows merged, clients.<service> */
	/* Each group's chaos at the start of the open window (the last
	 * publish): a window is under chaos when chaos was on at its start,
	 * at its end, or changed in between (chaos_seq moved). */
	struct st_chaos chaos_prev[DP_MAX_SHADOWS];
	bool chaos_prev_on[DP_MAX_SHADOWS];
	uint32_t chaos_seq_prev[DP_MAX_SHADOWS];
};

/* Binds the PUB socket (when endpoint is non-empty) in ctx. Returns 0 or a
 * negative errno, logged. */
int dp_kpi_init(struct dp_kpi *k, struct dp_app *app, void *zctx, const char *endpoint);

/* Binds the PUB socket once its options (CURVE) are set. Returns 0 or a
 * negative errno, logged. */
int dp_kpi_bind(struct dp_kpi *k, const char *endpoint);

/* Closes the window: epoch switch, hand-over, merge, publish, reset. */
void dp_kpi_interval(struct dp_kpi *k, struct dp_app *app);

void dp_kpi_fini(struct dp_kpi *k);

/* Allocates a worker's timing windows (histograms in hugepage memory on the
 * worker's socket). Returns 0 or -ENOMEM. */
int dp_kpi_worker_init(struct dp_worker *w, int socket);
void dp_kpi_worker_fini(struct dp_worker *w);

#endif
