/* Runtime control on the main lcore: a ZeroMQ REP socket taking msgpack
 * maps with `cmd` (stats, set_share [revert_after], set_rate, enable, disable,
 * reload: reload.h) and
 * answering {ok: true, ...} or {ok: false, error}. Changes reach the workers
 * through single-word atomic stores they read once per burst: in effect
 * within one burst, never behind a lock. A bad command changes nothing. */
#ifndef DP_CONTROL_H
#define DP_CONTROL_H

#include <stdbool.h>

#include <msgpack.h>

#include "dataplane.h"
#include "wire.h"

struct dp_kpi;
struct dp_scenario;
struct dp_reload;

/* A share set with `revert_after`: put back at `deadline` unless a later
 * set_share (without it) has settled the group first. A dead-man switch for
 * squeeze steps: whatever happens to the analyzer that raised a share, the
 * share comes back. */
struct dp_lease {
	bool on;
	double share, offset;		/* what it reverts to */
	uint64_t deadline;		/* st_mono_ns */
};

struct dp_control {
	void *rep;
	struct dp_lease lease[DP_MAX_SHADOWS];
	uint64_t reverted;		/* leases that ran out */
	msgpack_zone zone;
	struct st_wbuf out;
	uint64_t handled;
	uint64_t rejected;
	bool inited;
	struct dp_scenario *scn;	/* the chaos scenario running (main.c's):
					   shown in stats, replaced by the
					   chaos_scenario command */
	struct dp_reload *reload;	/* main.c's: the `reload` command reads
					   the config again (reload.h) */
};

/* Creates the REP socket (bound later by dp_control_bind, after CURVE).
 * Returns 0 or a negative errno, logged. */
int dp_control_init(struct dp_control *c, void *zctx);
int dp_control_bind(struct dp_control *c, const char *endpoint);

/* Handles every request waiting on the socket; never blocks. */
void dp_control_poll(struct dp_control *c, struct dp_app *app, const struct dp_kpi *kpi);

/* Puts back the shares whose lease ran out (logged). Call every round of
 * the main loop; O(groups). */
void dp_control_expire(struct dp_control *c, struct dp_app *app, uint64_t now_ns);

void dp_control_fini(struct dp_control *c);

/* The chaos group g runs with, as one msgpack map in the chaos command's
 * keys and the config's text: {delay: "5ms", jitter, delay_dist,
 * delay_corr, loss_burst, duplicate, corrupt, reorder, reorder_gap, rate,
 * flap, loss: 0.02 (a number), down: "198.18.1.11" ("" when all are up),
 * respread: bool}. The control socket's stats use it, and a KPI snapshot
 * can (main lcore: reads the group's published setting). Never fails. */
void dp_group_pack_chaos(msgpack_packer *pk, const struct dp_app *app, const struct dp_group *g);

/* Applies the scenario's lines due at now_ns (st_mono_ns) to the groups,
 * each group's lines of one round published together; a line that no
 * longer fits the setting in force (a control command changed it since the
 * scenario was checked) is refused, logged and counted. Call every round
 * of the main loop; one compare when nothing is due. */
void dp_control_scenario_run(struct dp_scenario *s, struct dp_app *app, uint64_t now_ns);

#endif
