/* Stats on the main lcore: sums the workers' counters, prints one line per
 * interval and the final counters on stderr, serves the DPDK telemetry
 * commands /shadowtap/stats and /shadowtap/shadows. */
#ifndef DP_STATS_H
#define DP_STATS_H

#include <stdio.h>

#include "dataplane.h"

/* Sums every worker's counters into *sum. Reads words other lcores write:
 * each is a plain 64-bit load, exact per word, not a snapshot across words. */
void dp_stats_sum(const struct dp_app *app, struct dp_counters *sum);

/* "client", "prod", "inject" or "shadow": what a port is, by its roles
 * (the stats line, telemetry and /metrics name ports alike). */
const char *dp_port_role_name(uint32_t roles);

/* Prints the one-line summary of what changed from prev to cur over secs. */
void dp_stats_line(const struct dp_app *app, const struct dp_counters *prev,
		   const struct dp_counters *cur, double secs);

/* Prints every non-zero counter, for the end of a run. */
void dp_stats_final(const struct dp_app *app, const struct dp_counters *c, FILE *out);

/* Registers the telemetry commands. Returns 0 or a negative errno. */
int dp_stats_telemetry_init(struct dp_app *app);
/* From here the commands answer -ENODEV: the app may be freed (a query
 * waits until the one being answered is done). */
void dp_stats_telemetry_fini(void);

#endif
