/* The squeeze test: before the analyzer stands behind a recommendation
 * whose per-instance load nobody has measured, it runs that load on the
 * shadows. Through the dataplane's control socket it raises the shadow
 * group's share until each shadow instance carries the candidate count's
 * load, measures verify_windows windows after verify_settle (more, one at
 * a time, while the p99's interval straddles the SLO), puts the share back, and records the load as verified within the SLO or as
 * beyond it (an_squeeze in engine.h); the judge then confirms the count
 * or raises it past the failed load, and asks again.
 *
 * Bounded: one step at a time; none where the model puts the utilisation
 * above verify_util_ceiling, or where the share would pass 1; a step never
 * keeps a share raised longer than verify_max_time; the share goes back
 * when the analyzer stops, and if it dies, the dataplane puts it back by
 * itself (set_share's revert_after: verify_max_time + 3 windows + 5 s). Production is never touched: only a shadow
 * group's share changes. Requests are asynchronous (REQ with a deadline):
 * ingest never waits for the dataplane. */
#ifndef AN_VERIFY_H
#define AN_VERIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

struct an_verify_counters {
	uint64_t steps;			/* shares raised */
	uint64_t passed, failed;	/* steps measured within / beyond the SLO */
	uint64_t unconfirmed;		/* passes waiting for a second step */
	uint64_t inconclusive;		/* too few samples, no windows, or undecided */
	uint64_t cut_short;		/* verify_max_time passed first */
	uint64_t not_run;		/* ceiling, share or missing load */
	uint64_t ctl_errors;		/* refusals, timeouts, bad replies */
};

struct an_verify;

/* A verifier over cfg's dataplane_control (an_config_verify_on must
 * hold), sockets from zctx. Returns NULL with errno set. */
struct an_verify *an_verify_create(const struct an_config *cfg, void *zctx);

/* Runs the state machine: starts, measures and ends steps, reads
 * replies. Call after every an_engine_tick; never blocks. */
void an_verify_tick(struct an_verify *v, struct an_engine *e, uint64_t wall_ns,
		    uint64_t mono_ns);

/* Puts a raised share back (waits at most 2 s for the dataplane) and
 * frees v. NULL is fine. */
void an_verify_destroy(struct an_verify *v);

const struct an_verify_counters *an_verify_counters(const struct an_verify *v);

/* A step for n instances, aimed at per-instance load aim, passed: it ran
 * at `ran`, p99 `p99` (wall ns); it verifies the lower of the two (an
 * overshoot verifies its count, not more). A load above the one verified
 * (sq->ok_lam, standing for keep_ns) stands only once a second, separate
 * step has passed it too: the first waits in sq->cand_*. The verified load
 * is then the lower of the two, with its own step's numbers (and aim:
 * sq->ok_aim, past which the evidence never stands). Returns true when the
 * load is now verified. */
bool an_squeeze_passed(struct an_squeeze *sq, uint32_t n, double aim, double ran, double p99,
		       uint64_t wall, uint64_t keep_ns);

#endif
