/* Windows of one target (prod, a shadow group, synthetic) of one service.
 *
 * Snapshots from every publisher are merged into the open window their
 * midpoint falls in: counters add up, instances take the largest report
 * (the gateways front the same instances), histograms merge bucket by
 * bucket. An open window keeps its counts in chunks of AN_CHUNK
 * consecutive buckets, allocated only where a snapshot put something --
 * a whole dense counts array is 264 KiB for the analyzer's layout and a
 * thousand services hold several open windows each, while real latencies
 * fill a band of a few thousand buckets. Merging costs O(1) per bucket
 * however many gateways feed the window, and a snapshot's buckets (in
 * increasing order) land in a few neighbouring cache lines. When the
 * service closes the window it becomes an an_win: counters, the latency
 * summary and the buckets in order, kept in a ring of the last `history`
 * windows. */
#ifndef AN_WINDOW_H
#define AN_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#include "histdec.h"
#include "wire.h"

/* Open windows per target: the current one, the one waiting for late
 * snapshots (grace <= window), and one spare for a publisher ahead. */
#define AN_OPEN 3

/* Buckets per chunk of an open window's counts (2 KiB), and the bucket
 * indices an open window takes: [0, AN_ACC_IDX_MAX). */
#define AN_CHUNK_SHIFT	8
#define AN_CHUNK	(1 << AN_CHUNK_SHIFT)
#define AN_ACC_IDX_MAX	(1 << 20)

/* Publishers told apart in a window; the snapshots of any more are left
 * out of its span (their requests still count). */
#define AN_ACC_SRCS 32

struct an_win {
	int64_t w;			/* window number: time / window */
	uint64_t t0, t1;		/* span the snapshots covered */
	uint64_t span_ns;		/* the time its traffic was counted over:
					   t1 - t0 from one publisher; from
					   several (gateways out of
					   step), the time each covered,
					   weighted by its requests */
	uint64_t requests, responses, timeouts, resets, icmp_errors;
	uint32_t instances;
	uint32_t plan_c;		/* the count the plan gave the target when
					   the window closed (an_target.plan_c) */
	uint32_t snapshots;
	uint32_t n_src;			/* publishers of its own snapshots */
	/* Chaos (the snapshots' chaos maps): how many snapshots were taken
	 * under chaos, the instances down in them (0 or 1: chaos_down) and
	 * whether their flows moved. A window with chaos > 0 never teaches
	 * the healthy model nor the A/A noise, and is all a resilience
	 * judgment looks at. */
	uint32_t chaos;
	uint32_t chaos_down;
	bool chaos_respread;
	double offered_rps;
	int64_t total;			/* latency samples */
	double p50, p90, p99, mean;	/* ns */
	struct an_bin *bins;
	uint32_t n_bins;
};

struct an_acc {
	int64_t w;			/* -1: free */
	uint64_t t0, t1;
	/* Per publisher (by a hash of its id), for span_ns: the time its
	 * snapshots covered and the requests they counted. */
	uint32_t src_hash[AN_ACC_SRCS];
	uint64_t src_busy_ns[AN_ACC_SRCS];
	uint64_t src_requests[AN_ACC_SRCS];
	uint32_t n_src;
	uint64_t requests, responses, timeouts, resets, icmp_errors;
	uint32_t instances;
	uint32_t snapshots;
	uint32_t chaos, chaos_down;	/* as in an_win */
	bool chaos_respread;
	double offered_rps;
	int64_t **chunks;		/* [i]: buckets i*AN_CHUNK.., NULL: all 0 */
	uint32_t n_chunks;		/* entries of chunks */
	uint32_t used;			/* non-zero buckets */
};

struct an_target {
	char name[ST_WIRE_NAME_MAX];
	enum st_role role;
	struct an_acc acc[AN_OPEN];
	struct an_win *ring;
	uint32_t cap, len, head;	/* head: next slot to write */
	uint32_t keep_bins;		/* newest windows that keep histograms */
	uint64_t snapshots;		/* merged, lifetime */
	uint32_t plan_c;		/* stamped on each window as it closes:
					   prod's current_instances (0: no plan) */
	int64_t plan_c_from;		/* ... on windows from this one on; those
					   before it (open when the count
					   changed: partly on the old) get 0 */
	/* The newest chaos map a snapshot of this target carried. */
	bool has_chaos;
	uint64_t chaos_t1;
	struct st_chaos chaos;
};

/* Window length in seconds, at least 1 ms so rates stay finite. */
double an_win_secs(const struct an_win *w);
/* Requests per second per instance (instances: the window's, unless
 * override > 0). */
double an_win_rate(const struct an_win *w, uint32_t override);
/* (timeouts + resets + ICMP errors) / requests; 0 without requests. */
double an_win_error_rate(const struct an_win *w);

/* Sets up an empty target with room for `history` closed windows, of
 * which the newest keep_bins keep their histograms (older ones keep the
 * summary only: memory stays bounded by what the judge pools). Returns 0
 * or -ENOMEM. */
int an_target_init(struct an_target *t, const char *name, enum st_role role,
		   uint32_t history, uint32_t keep_bins);
void an_target_free(struct an_target *t);

/* The accumulator for window w, or NULL when all AN_OPEN are taken by
 * other windows (the caller closes the oldest first). */
struct an_acc *an_target_acc(struct an_target *t, int64_t w);

/* Merges a snapshot's counters and histogram buckets (analyzer layout:
 * indices in [0, AN_ACC_IDX_MAX); buckets with a count <= 0 add nothing)
 * into acc. Returns 0, or -EINVAL (an index out of range) or -ENOMEM, and
 * then nothing is merged. Allocates only when a chunk of buckets is first
 * used (a chunk stays while windows keep using it). own: the snapshot is
 * the target's own (not synthetic traffic merged into a shadow's): its
 * time and publisher count towards the window's span_ns. O(snapshot
 * buckets). */
int an_acc_add(struct an_acc *acc, const struct st_kpi *k,
	       const struct an_bin *bins, size_t n_bins, bool own);

/* Moves window w's accumulator (if any) into the ring, summarising the
 * histogram. Returns 1 when a window was stored, 0 when the target had
 * no snapshot in w, -ENOMEM. O(touched counts). */
int an_target_close(struct an_target *t, int64_t w, const struct st_hist *layout);

/* Closes every open window up to and including w, oldest first. */
int an_target_close_upto(struct an_target *t, int64_t w,
			 const struct st_hist *layout);

/* The i-th newest closed window (0: newest), or NULL. */
const struct an_win *an_target_win(const struct an_target *t, uint32_t i);

/* Whether the i-th newest closed window is complete: it has at least
 * three quarters of the snapshots the most complete of the 8 windows
 * before it had, or at most one fewer per publisher with none of its
 * neighbours' publishers missing. A window a
 * publisher missed (restarting, lost, not yet started) carries latencies
 * of one load and a request count of another, so the model and the judge
 * leave it out; but where a publisher's interval does not divide the
 * window (2 s into 5 s: 2, 3, 2, 3 snapshots by their midpoints), the
 * windows with one fewer are whole (every other one was left out). */
bool an_target_complete(const struct an_target *t, uint32_t i);

/* Smallest open window number, or INT64_MAX. */
int64_t an_target_oldest_open(const struct an_target *t);

/* Appends a closed window to the ring, dropping the oldest when it is
 * full, and the histogram of the one that falls out of keep_bins. Takes
 * ownership of w->bins. Never fails. */
void an_target_push(struct an_target *t, const struct an_win *w);

#endif
