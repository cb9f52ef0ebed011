/* The judge: one verdict for one service from its recent windows.
 *
 * 1. Span: the last eval_windows closed windows of prod and of the shadow
 *    group, histograms pooled.
 * 2. Prediction: prod's pooled quantiles carried to the shadow's
 *    per-instance load and instance count by the model (at equal load the
 *    prediction is prod itself, whatever the model), error rates likewise.
 * 3. KPIs (kpi.c): order-statistic intervals, Mann-Whitney/Hodges-Lehmann
 *    over per-window series, exact rate tests, a DKW shape band, each
 *    against a tolerance tuned from A/A comparisons (noise.c).
 * 4. Corrected model: the form refitted to what the shadow showed; the
 *    fewest instances that meet the SLO under it, clamped and step-limited.
 * 5. Verdict with hysteresis, score, confidence, cost and a reason.
 * docs/analyzer.md describes the rules in full. */
#ifndef AN_JUDGE_H
#define AN_JUDGE_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "wire.h"

struct an_judge;

/* Scratch for judging (pooling histograms, test series). layout is the
 * analyzer's histogram layout. Returns NULL with errno ENOMEM. */
struct an_judge *an_judge_create(const struct an_config *cfg,
				 const struct st_hist *layout);
void an_judge_destroy(struct an_judge *j);

/* Judges s (which has a plan) over its windows up to s->closed_w. Fills v
 * (seq left 0) and updates s's hysteresis, A/A noise and evaluation ring.
 * When the shadow and prod diverge at equal per-instance load, anomaly
 * gets the anomaly map (seq 0 too; the caller patches nothing: the map's
 * seq is given as `seq`). Returns 1 with an anomaly, 0 without, or
 * -ENOMEM. O(windows x bins) plus O(c log N) for the recommendation. */
int an_judge_run(struct an_judge *j, struct an_service *s, uint64_t now_ns,
		 uint64_t anomaly_seq, struct st_verdict *v,
		 struct st_wbuf *anomaly);

/* What a target showed over windows [w0, w1] (a squeeze step's): windows
 * pooled, per-instance request rate (c_override instances unless 0), the
 * error rate, and p99 with one-sided bounds (ns; NaN without samples): the
 * lower at AN_STEP_FAIL_CONF, the upper at AN_STEP_PASS_CONF -- a step
 * that wrongly passes lowers the count a scaler acts on, one that wrongly
 * fails only keeps it higher. Each is the wider of the order statistics'
 * and the per-window p99s' batch-means t interval (queue latencies are
 * correlated). */
#define AN_STEP_FAIL_CONF 0.90
#define AN_STEP_PASS_CONF 0.99
struct an_measure {
	uint32_t windows;
	double lam, requests, errors, error_rate;
	int64_t samples;
	double p99, p99_lo, p99_hi;
};

/* Whether errors among requests were measured within an error objective:
 * the rate's one-sided upper bound at conf at most slo_err (an objective
 * of 0 is met by no error at all). A point rate just under the objective
 * is not enough: near it, half the measurements of a count that misses
 * would pass. */
bool an_err_within(double errors, double requests, double conf, double slo_err);

/* Returns 0 or -ENOMEM. Uses the judge's scratch: not during an_judge_run. */
int an_judge_measure(struct an_judge *j, const struct an_service *s, const char *target,
		     int64_t w0, int64_t w1, uint32_t c_override, struct an_measure *m);

#endif
