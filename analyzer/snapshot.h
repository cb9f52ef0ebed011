/* What the HTTP threads read: an immutable, reference-counted copy of the
 * engine's state that the main loop publishes, so a request never touches
 * the engine and never holds up ingest.
 *
 * The main loop builds a new snapshot when a verdict or plan changed, or
 * every AN_SNAP_PERIOD_NS otherwise (the counters), sharing the entries of
 * services that did not change with the previous one. It swaps the pointer
 * under a mutex taken with trylock: a reader holds that mutex only to take
 * a reference (a few instructions), and when one does, the swap waits for
 * the next round instead of the loop waiting for the reader. */
#ifndef AN_SNAPSHOT_H
#define AN_SNAPSHOT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

#define AN_SNAP_EVALS 60			/* evaluations kept per service */
#define AN_SNAP_PERIOD_NS (250 * 1000000ull)	/* counters refresh */

struct an_snap_service {
	atomic_uint refs;
	char name[ST_WIRE_NAME_MAX];
	bool has_plan;
	struct an_plan plan;
	uint64_t plan_changes;
	uint64_t last_plan;			/* plan_changes when last was judged */
	bool has_last;
	struct st_verdict last;
	uint32_t n_evals;			/* oldest first */
	struct an_eval evals[AN_SNAP_EVALS];
	uint64_t verdict_latency_ns;		/* newest window's end -> verdict */
	/* what-if (predict.h): the model, and the predictor the last
	 * conclusive verdict used (else prod's model's, when ready) */
	struct an_model model;
	bool has_pred;
	struct an_pred pred;
	struct an_alert alert[AN_ALERT__COUNT];	/* forecast alerts (alert.c) */
	uint64_t key[7];			/* what it was built from */
};

/* A service judged now: a verdict given under the plan in force. One whose
 * plan a reload removed is judged no more, and a verdict given under an
 * earlier plan (a PUT or a reload changed it: another maximum, objective
 * or count) holds no more, as the judge takes it (judge.c): its last
 * verdict stays on record, but nothing a scaler or an alert acts on (the
 * API's recommended_instances, which is then the plan's current_instances,
 * and verdict, /metrics' verdict series) until the next verdict. */
static inline bool an_snap_judged(const struct an_snap_service *v)
{
	return v->has_last && v->has_plan && v->last_plan == v->plan_changes;
}

/* The HTTP surface's own counters, kept by the main loop and copied into
 * each snapshot so the HTTP threads read them without a race. */
struct an_snap_extra {
	uint64_t events_queued, events_lost;
	uint64_t snapshots_built, snapshots_deferred;
	/* the publisher's (publish.h): PUB messages sent and refused, JSON
	 * lines written */
	uint64_t pub_sent, pub_errors, json_lines, json_errors;
};

struct an_snap {
	atomic_uint refs;
	struct an_snap_extra extra;
	uint64_t seq;				/* +1 per publication */
	uint64_t wall_ns;			/* when built */
	uint64_t window_ns;
	/* the config's keys a what-if reads (a reload may change them) */
	double model_weight;
	uint64_t response_timeout_ns;
	uint64_t last_merge_wall_ns;		/* 0: nothing merged yet */
	struct an_counters counters;
	uint32_t n;
	struct an_snap_service **svc;		/* in the engine's order */
};

/* The owner's side. */
struct an_snapper {
	pthread_mutex_t mu;			/* guards cur: the pointer only */
	struct an_snap *cur;
	struct an_snap *pending;		/* built, swap deferred */
	uint64_t seq, last_build_mono, last_merged, last_merge_wall;
	bool dirty;
	uint64_t built, deferred;		/* counters */
	struct an_snap_extra extra;		/* the next snapshot's copy */
};

/* Returns 0 or -ENOMEM (pthread). */
int an_snapper_init(struct an_snapper *s);
/* Releases the snapshots; no reader may run any more. */
void an_snapper_fini(struct an_snapper *s);

/* A verdict or plan changed: the next round publishes at once. */
static inline void an_snapper_touch(struct an_snapper *s)
{
	s->dirty = true;
}

/* The main loop, once per round: publishes a new snapshot when one is due
 * (see above). Never blocks; an allocation failure keeps the old snapshot
 * and tries again next round. O(services) when due, O(1) otherwise. */
void an_snapper_round(struct an_snapper *s, struct an_engine *e, uint64_t mono_ns,
		      uint64_t wall_ns, const struct an_snap_extra *x);

/* HTTP threads: the newest snapshot with a reference taken, or NULL before
 * the first. Release it with an_snap_put. */
struct an_snap *an_snap_get(struct an_snapper *s);
void an_snap_put(struct an_snap *snap);

/* The snapshot's service of that name, or NULL. O(services). */
const struct an_snap_service *an_snap_service(const struct an_snap *snap, const char *name);

#endif
