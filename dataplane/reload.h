/* Live reload (SIGHUP, the control socket's `reload`): the config file the
 * dataplane was started with is read again, the command line's --set
 * overrides applied on top in their order, and the whole checked. What
 * cannot change at run time (reload_diff.h) refuses the reload, naming
 * each key, and nothing changes; else each setting that changed is put in
 * force on the running groups with the same single-word stores and chaos
 * seqlock the control commands use, so workers follow it from their next
 * burst. Production's path is never touched.
 *
 * Settings changed over the control socket since (set_share, chaos, ...)
 * stay unless the file changes that key: a reload applies what changed in
 * the file, not the whole file again.
 *
 * A new filter is compiled before anything changes (a bad one refuses the
 * reload), swapped in atomically, and the old program freed only once
 * every worker has passed a quiescent point after the swap (DPDK's QSBR:
 * each worker reports one per loop round, and holds no filter across
 * rounds). Main lcore only. */
#ifndef DP_RELOAD_H
#define DP_RELOAD_H

#include <stdint.h>

#include "dataplane.h"
#include "reload_diff.h"

struct dp_control;

#define DP_RELOAD_MAX_SETS 64
#define DP_RELOAD_RETIRED 32

struct dp_reload {
	char path[256];				/* the --config file */
	const char *sets[DP_RELOAD_MAX_SETS];	/* --set SECTION.KEY=VALUE, in order;
						   the strings live as long as argv */
	int n_sets;
	/* filters swapped out, freed once the workers passed the token */
	struct {
		struct dp_filter *f;
		uint64_t token;
	} retired[DP_RELOAD_RETIRED];
	int n_retired;
	uint64_t done;		/* reloads applied (with changes or none) */
	uint64_t refused;	/* reloads that changed nothing */
	uint64_t filters_freed;
};

/* The quiescent-state variable the workers report to (app->qsv), one
 * thread per worker (its queue index). Call after the workers are set up,
 * before they run. Returns 0 or -ENOMEM (logged). */
int dp_reload_init(struct dp_reload *r, struct dp_app *a);

/* Reads the config again and applies it (see above); r holds the path and
 * the overrides. res says what changed, or every reason it was refused.
 * Logs the outcome. Returns 0 when applied, -EINVAL when refused. Costs a
 * file read, a libpcap compile and a JIT per changed filter. */
int dp_reload_run(struct dp_reload *r, struct dp_app *a, struct dp_control *c,
		  struct dp_reload_result *res);

/* Frees the retired filters every worker has moved past. Call every round
 * of the main loop; one compare when none waits. */
void dp_reload_reclaim(struct dp_reload *r, struct dp_app *a);

/* After the workers stopped: frees what is still retired and the QSBR
 * variable. */
void dp_reload_fini(struct dp_reload *r, struct dp_app *a);

#endif
