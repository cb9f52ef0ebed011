/* GET /metrics: the analyzer's state as Prometheus text 0.0.4, rendered
 * on an HTTP thread from a snapshot (snapshot.h) with the one Prometheus
 * writer (common/prom.c). Families and labels: docs/analyzer.md. */
#ifndef AN_METRICS_H
#define AN_METRICS_H

#include "http.h"
#include "snapshot.h"

/* Appends the whole exposition to out: snap's state and counters, and the
 * server's (http). snap may be NULL (before the first snapshot: only the
 * server's). Returns 0 or -ENOMEM. */
int an_metrics_render(const struct an_snap *snap, const struct st_http_counters *http,
		      struct st_wbuf *out);

#endif
