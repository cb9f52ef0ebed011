/* The dataplane's HTTP surface ([dataplane] http_endpoint, off by
 * default): GET /metrics (every counter the dataplane keeps, Prometheus
 * text) and GET /healthz, on common/http.c's threads.
 *
 * Served from the main lcore's side: once per main-loop round the main
 * lcore sums the workers' counters as the stats line does (dp_stats_sum)
 * into the spare of two buffers and makes it current under a mutex taken
 * with trylock; an HTTP thread copies the current buffer under that mutex
 * (a few KB). The workers are never touched, the main lcore never waits. */
#ifndef DP_HTTP_METRICS_H
#define DP_HTTP_METRICS_H

#include <stdint.h>

#include "dataplane.h"
#include "kpi.h"
#include "control.h"

struct dp_http;

/* Starts the server per app->cfg (http_endpoint etc.); app, kpi and ctl
 * are borrowed (read on the main lcore only). Returns NULL with errno
 * and err->msg when it cannot start; with http_endpoint off returns NULL
 * and errno 0. */
struct dp_http *dp_http_start(struct dp_app *app, const struct dp_kpi *kpi,
			      const struct dp_control *ctl, struct st_perr *err);

/* What dp_http_start would refuse of cfg's http_* keys, without
 * listening (--check). 0 or a negative errno with err->msg. */
int dp_http_check(const struct dp_config *cfg, struct st_perr *err);

/* Main lcore, once per round: publishes the counters when the last
 * publication is older than 100 ms. Never blocks. NULL is a no-op. */
void dp_http_round(struct dp_http *h, uint64_t mono_ns);

/* Stops the server, joins its threads, frees. NULL is a no-op. */
void dp_http_stop(struct dp_http *h);

uint16_t dp_http_port(const struct dp_http *h);

#endif
