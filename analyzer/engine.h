/* The analysis engine without sockets: services, their targets' windows,
 * models and verdicts. main.c feeds it messages and the clock; tests and
 * the benchmark drive it in-process with the same calls, so the 200-run
 * A/A check takes seconds and what it checks is the engine the program
 * runs.
 *
 * Flow: an_engine_ingest (ingest.c) checks and decodes a message, tracks
 * its publisher's seq, and merges it into its service's open window;
 * an_engine_tick closes the windows whose grace has passed, teaches the
 * model the closed windows, and asks the judge (judge.c) for a verdict for
 * every service with a plan. Verdicts and anomalies go to the callbacks.
 * Single-threaded; nothing here blocks. */
#ifndef AN_ENGINE_H
#define AN_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "histdec.h"
#include "model.h"
#include "predict.h"
#include "window.h"
#include "wire.h"

#define AN_MAX_TARGETS 16
#define AN_AA_MAX 64		/* A/A pairs kept per KPI */
#define AN_AA_KPIS 4		/* p50, p90, p99, error rate */
#define AN_EVALS_MAX 512	/* evaluations kept per service (report) */

/* Every way a message can be turned away or be odd, counted. */
struct an_counters {
	uint64_t msgs;			/* messages seen (any topic) */
	uint64_t kpi_merged;		/* snapshots merged into a window */
	uint64_t bad_frames;		/* not exactly two frames */
	uint64_t oversized;		/* larger than ST_WIRE_MAX_SIZE */
	uint64_t malformed;		/* msgpack or field errors */
	uint64_t bad_version;		/* v != 1 */
	uint64_t unknown_topic;		/* not kpi.* */
	uint64_t topic_mismatch;	/* topic names another service/target */
	uint64_t bad_hist;		/* lat is not a valid V2 histogram */
	uint64_t gaps;			/* messages missing by seq */
	uint64_t duplicates;
	uint64_t shared_src;		/* seq back, time on: two publishers, one src */
	uint64_t restarts;		/* a publisher's seq started over */
	uint64_t pubs_forgotten;	/* silent an hour when the table filled */
	uint64_t untracked;		/* merged from a publisher past
					   max_publishers: its seq not followed */
	uint64_t late;			/* for a window already closed */
	uint64_t future;		/* ends beyond now + max_skew */
	uint64_t dropped_limits;	/* max_services/publishers/targets */
	uint64_t other_shard;		/* a service another shard judges */
	uint64_t clamped;		/* samples above the layout's highest */
	uint64_t windows;		/* target windows closed */
	uint64_t chaos_windows;		/* under chaos: not learnt from */
	uint64_t evaluations;
	uint64_t verdicts;
	uint64_t anomalies;
};

/* One evaluation, kept for the report. */
struct an_eval {
	int64_t w;
	uint64_t t;
	enum st_verdict_kind kind;
	uint32_t recommended;
	double score, confidence;
	double lam_shadow, lam_prod;	/* per-instance rps */
	double obs[3], pred[3];		/* shadow p50, p90, p99 and prediction, ns */
	double prod[3];			/* prod pooled p50, p90, p99, ns */
	double res_p99;			/* resilience group's p99 under chaos, ns; NaN: none */
	uint32_t res_rec;		/* fewest holding the SLO under the fault; 0: none */
};

struct an_judge_state {
	bool has_published;
	enum st_verdict_kind published;
	enum st_verdict_kind pending;
	uint32_t pending_count;
	/* A/A pairs: log-ratio and its sampling variance. */
	double aa_d[AN_AA_KPIS][AN_AA_MAX];
	double aa_s2[AN_AA_KPIS][AN_AA_MAX];
	uint32_t aa_n[AN_AA_KPIS], aa_head[AN_AA_KPIS];
	int64_t aa_last_w;
	double tol[AN_AA_KPIS];		/* as last computed */
};

/* The squeeze test of a service's recommendation (verify.c runs it on the
 * dataplane, the judge reads and asks): per-instance loads in requests/s.
 * The shadow windows in [x0, x1] ran at a raised share: verdicts leave them
 * out (x1 < x0: none). */
struct an_squeeze {
	int64_t x0, x1;
	bool running;
	uint32_t run_n;			/* the count being verified */
	double run_lam;
	/* results, 0: none; t: wall ns of the step's end */
	double ok_lam, ok_p99;		/* highest load verified within the SLO:
					   what the step ran at, at most what it
					   aimed at (an overshoot that passed
					   verifies its count, not more) */
	double ok_ran;			/* the load that step ran at */
	double ok_aim;			/* the load it aimed at (its count's): the
					   evidence never stands for more */
	uint64_t ok_t;
	/* a pass above ok_lam waits here for a second step to confirm it:
	 * one step's bound errs once in a hundred, two separate steps' both
	 * erring is what lowers the count a scaler acts on */
	double cand_lam;		/* 0: none */
	double cand_ran, cand_p99;	/* that step's load run and p99 */
	double cand_aim;
	uint32_t cand_n;
	uint64_t cand_t;
	double bad_lam, bad_p99;	/* lowest load not shown within it; p99 upper bound */
	double bad_aim;			/* the load that failed step aimed at: its
					   count is not recommended on a step
					   that overshot */
	uint64_t bad_t;
	/* the judge's ask: its recommendation when not verified (0: none),
	 * the model's utilisation there, and what sets the share */
	uint32_t want_n;
	bool want_probe;		/* a walk below a verified count, else the
					   unverified recommendation itself */
	double want_lam, want_util;
	double prod_rps;		/* prod's total request rate */
	double shadow_lam;		/* the shadow's per-instance rate now */
	uint32_t shadow_c;
	char note[192];			/* the last step not run, or cut short */
};

struct an_service {
	char name[ST_WIRE_NAME_MAX];
	bool has_plan;
	struct an_plan plan;
	uint64_t plan_changes;
	struct an_target *targets[AN_MAX_TARGETS];
	uint32_t n_targets;
	int64_t closed_w;		/* newest closed window; -1: none */
	int64_t c_from_w;		/* first window wholly on current_instances
					   (windows open when it changed straddle) */
	bool dirty;			/* windows closed since the last judge */
	struct an_model model;
	struct an_judge_state js;
	struct an_squeeze sq;
	bool has_last;
	struct st_verdict last;
	uint64_t last_plan;		/* plan_changes when last was judged */
	/* the model the last conclusive verdict recommended with (what-if,
	 * alerts); pred_seq +1 per change */
	bool has_pred;
	struct an_pred pred;
	uint64_t pred_seq;
	/* forecast alerts (alert.c), per kind; alert_seq +1 per evaluation */
	struct an_alert alert[AN_ALERT__COUNT];
	uint64_t alert_seq;
	/* the alert messages sent, the newest AN_ALERT_LOG of n_alert_log
	 * at [i % AN_ALERT_LOG] (the report) */
	struct an_alert_mark alert_log[AN_ALERT_LOG];
	uint64_t n_alert_log;
	/* the rate past which one client fingerprint's forecast raises the
	 * pre-allocation signal (alert.c sets it, clients.c reads it); 0:
	 * not evaluated */
	double prealloc_rps;
	struct an_eval *evals;
	uint32_t n_evals, evals_head;
};

struct an_engine;

typedef void (*an_verdict_fn)(void *arg, const struct an_service *s,
			      const struct st_verdict *v);
/* An anomaly as a msgpack map in buf[0..len) (encoded by the judge). */
typedef void (*an_anomaly_fn)(void *arg, const struct an_service *s,
			      const uint8_t *buf, size_t len);

/* A new engine over cfg (borrowed: it must outlive the engine). Services
 * with a plan in cfg are created at once. replay: windows close by the
 * time in the data instead of the wall clock. Returns NULL, errno ENOMEM. */
struct an_engine *an_engine_create(const struct an_config *cfg, bool replay);
void an_engine_destroy(struct an_engine *e);

void an_engine_set_output(struct an_engine *e, an_verdict_fn vf,
			  an_anomaly_fn af, void *arg);

/* One ZeroMQ message: topic frame and body frame (nframes is how many
 * frames the message really had; only the first two are passed). Counts
 * whatever is wrong and returns 0 when merged, or a negative errno
 * (-EBADMSG, -EPROTO, -ENOENT unknown topic, -ESTALE late or duplicate,
 * -ENOSPC over a limit). Never aborts on input; logs refusals through a
 * rate limit. O(message). */
int an_engine_ingest(struct an_engine *e, const void *topic, size_t tlen,
		     const void *body, size_t blen, int nframes,
		     uint64_t now_ns);

/* Merges one decoded snapshot (bins already in the analyzer layout). For
 * ingest.c and the benchmark. Same returns as an_engine_ingest. */
int an_engine_merge(struct an_engine *e, const struct st_kpi *k,
		    const struct an_bin *bins, size_t n_bins, uint64_t now_ns);

/* Closes the windows whose end + grace is at or before now (wall time;
 * the data's newest t1 in replay mode), and judges the services that got
 * new windows. Returns the number of verdicts emitted. */
int an_engine_tick(struct an_engine *e, uint64_t now_ns);

/* Closes every open window and judges once more (end of a run). */
int an_engine_flush(struct an_engine *e, uint64_t now_ns);

/* Sets or replaces a service's plan (a control `propose`); the pending
 * verdict state starts over, unless the plan is the one in force
 * (an_plan_same: nothing changes, plan_changes included). Returns 0, -ENOSPC (max_services), -ENOMEM,
 * -EXDEV (a service another shard judges: shard.h). */
int an_engine_propose(struct an_engine *e, const char *service,
		      const struct an_plan *plan);

/* What only the engine can check in a plan for service: a
 * resilience_shadow that is none of the shadow groups the service's KPIs
 * have named so far (when they have named any: before the first snapshot
 * every group is unknown, and accepted). Reports each problem to fn as
 * an_plan_edit does; returns how many. O(targets). */
int an_engine_plan_check(struct an_engine *e, const char *service,
			 const struct an_plan *plan, an_plan_err_fn fn, void *arg);

/* The service, or NULL. O(1). */
struct an_service *an_engine_service(struct an_engine *e, const char *name);
/* Services in creation order: i < an_engine_n_services. */
uint32_t an_engine_n_services(const struct an_engine *e);
struct an_service *an_engine_service_at(struct an_engine *e, uint32_t i);

const struct an_counters *an_engine_counters(const struct an_engine *e);
const struct an_config *an_engine_config(const struct an_engine *e);
/* A histogram in the analyzer's layout, for an_dist (report, tests). */
const struct st_hist *an_engine_layout(const struct an_engine *e);

/* The service's target of that name, or NULL. */
struct an_target *an_service_target(const struct an_service *s,
				    const char *name);
/* Finds or creates a service (state reload). NULL: limit or ENOMEM. */
struct an_service *an_engine_service_get(struct an_engine *e, const char *name);

/* What target of s showed over windows [w0, w1] (judge.h). 0 or -ENOMEM. */
struct an_measure;
int an_engine_measure(struct an_engine *e, const struct an_service *s, const char *target,
		      int64_t w0, int64_t w1, uint32_t c_override, struct an_measure *m);

/* The client profiles (clients.h): clients.<service> messages in,
 * profile.<service> out. Never NULL for a created engine. */
struct an_clients;
struct an_clients *an_engine_clients(struct an_engine *e);
/* The next seq of the analyzer's publisher (verdicts, anomalies, alerts
 * share it, so a gap shows loss). For alert.c. */
uint64_t an_engine_next_seq(struct an_engine *e);

/* The decoder the engine uses, for the benchmark's decode-only rows. */
struct an_histdec *an_engine_histdec(struct an_engine *e);

#endif
