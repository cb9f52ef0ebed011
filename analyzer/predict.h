/* What a service's model predicts at any load and instance count: the one
 * evaluation the judge's recommendation, the what-if answers (control
 * `whatif`, GET /api/v1/services/{name}/whatif) and the forecast alerts
 * (alert.c) share, so a what-if at the verdict's forecast and recommended
 * count reads the p99 and bound the verdict rests on.
 *
 * A predictor is the model the judge last recommended with: the form, its
 * fits (prod's and the one corrected by the shadow; where both stand the
 * worse one counts), their tail stretch, the upper bound's inputs and the
 * error rate the queue does not explain. Before any conclusive verdict it
 * is prod's own model (an_pred_prod). Plain data: copied into the HTTP
 * snapshot and read there without the engine. */
#ifndef AN_PREDICT_H
#define AN_PREDICT_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "model.h"
#include "wire.h"

/* A predicted error rate within the objective slo. Below one error in a
 * billion requests a prediction is none: the model's timeout tail
 * (P(latency > response_timeout), e^-142 for a 5 ms server) is never 0,
 * and an objective of 0 was met by no count at all. */
#define AN_ERR_NONE 1e-9
static inline bool an_pred_err_ok(double err, double slo)
{
	return err <= (slo > AN_ERR_NONE ? slo : AN_ERR_NONE);
}

struct an_pred {
	enum an_form form;
	struct an_fit fit[2];
	double tail[2];		/* queueing part stretched by this (two-load fits) */
	bool prod[2];		/* fit i is prod's model: its discrepancy counts */
	int n;			/* fits, 1..2 */
	struct an_bound bound;
	double base_err;	/* errors per request beyond the queue's timeouts */
	double timeout_s;	/* the response timeout: later is an error */
	double lam_shadow;	/* the shadow's per-instance load judged, 1/s (0: none) */
	bool corrected;		/* from a verdict (else prod's model alone) */
	uint64_t t;		/* wall ns of the verdict it came from (0: prod's) */
};

/* Prod's model as a predictor (form, its fit, the bound an_bound_prod
 * gives, prod's error and reset rates as the base). Returns 0, or -ENODATA
 * when the model has no usable fit (an_model_ready). O(levels). */
int an_pred_prod(const struct an_model *m, double weight, double timeout_s,
		 struct an_pred *out);

/* The predictor to answer with: pred when has_pred (the last conclusive
 * verdict's), else prod's model into *scratch (an_pred_prod with
 * model_weight and the response timeout in seconds, the config's: HTTP
 * threads pass their snapshot's copy). NULL when there is no fit
 * yet. The one choice the what-if (control, HTTP), the alerts and the
 * report make. O(levels). */
const struct an_pred *an_pred_pick(bool has_pred, const struct an_pred *pred,
				   const struct an_model *m, double model_weight,
				   double timeout_s, struct an_pred *scratch);

/* The q-quantile of latency (s, fixed part included) at per-instance rate
 * lam with c instances: the worst of the fits, nominal or (hi) its upper
 * bound (an_model_q_hi). +inf when saturated. Never fails; a few model
 * evaluations per fit. m: the model the form is evaluated with (usl). */
double an_pred_q(const struct an_model *m, const struct an_pred *p, double lam, uint32_t c,
		 double q, bool hi);
/* P(latency > t s), the worst of the fits, nominal or bound. */
double an_pred_exceed(const struct an_model *m, const struct an_pred *p, double lam, uint32_t c,
		      double t, bool hi);
/* The error rate: base_err + P(latency > timeout). Never fails. */
double an_pred_err(const struct an_model *m, const struct an_pred *p, double lam, uint32_t c,
		   bool hi);
/* Utilisation: lam over the slowest fit's capacity (NaN without one). */
double an_pred_util(const struct an_pred *p, double lam);
/* The SLO holds at (lam, c) under the bound (hi) or the nominal
 * prediction: p99 <= slo_p99_s and error rate <= slo_err. */
bool an_pred_meets(const struct an_model *m, const struct an_pred *p, double lam, uint32_t c,
		   double slo_p99_s, double slo_err, bool hi);
/* The fewest instances in [lo, hi] at which rps total meets the SLO
 * under the bound (the judge's recommendation before its clamps and
 * evidence caps), or 0 when even hi does not. O(log hi) evaluations. */
uint32_t an_pred_fewest(const struct an_model *m, const struct an_pred *p, double rps,
			double slo_p99_s, double slo_err, uint32_t lo, uint32_t hi);

/* How a per-instance load stands to the loads the model has seen (its
 * load levels, the highest load measured, the shadow's): within 10% of one
 * (measured), between the lowest and highest (interpolated), or outside
 * (extrapolated). */
enum an_evidence { AN_EV_MEASURED, AN_EV_INTERPOLATED, AN_EV_EXTRAPOLATED };
enum an_evidence an_pred_evidence(const struct an_model *m, const struct an_pred *p, double lam,
				  double *seen_lo, double *seen_hi);
const char *an_evidence_name(enum an_evidence e);

/* One what-if point: total rate rps on c instances under the plan. */
struct an_pred_point {
	double rps, lam;		/* total and per instance, 1/s */
	double p50, p99, p99_hi;	/* s; +inf saturated */
	double err, err_hi;		/* per request, at most 1 */
	double util;			/* lam over the slowest fit's capacity */
	double p99_over_slo;		/* NaN without an SLO */
	double cost_per_hour;		/* c x price; NaN unpriced */
	bool meets;			/* the bound within both objectives (the
					   recommendation's test) */
	bool meets_nominal;		/* the prediction within them */
	enum an_evidence evidence;
};

/* Evaluates the point (rps, c): what the what-if answer, the dashboard's
 * and the report's heatmaps show. Never fails; a few model evaluations. */
void an_pred_point(const struct an_model *m, const struct an_pred *p, const struct an_plan *plan,
		   double rps, uint32_t c, struct an_pred_point *out);

/* --- forecast alerts (alert.c) ----------------------------------------------- */

/* prealloc: one client fingerprint's own forecast (clients.c) alone takes
 * the service past its alert threshold (docs/analyzer.md, Client
 * profiles). */
enum an_alert_kind { AN_ALERT_UTIL, AN_ALERT_SLO, AN_ALERT_BUDGET, AN_ALERT_PREALLOC,
		     AN_ALERT__COUNT };

/* One kind's state for one service (kept in struct an_service). */
struct an_alert {
	bool active;
	uint64_t at;		/* wall ns when the forecast crosses */
	double seconds_ahead;	/* at - now when evaluated, >= 0 */
	double value;		/* utilisation, p99 (s) or cost per hour at the crossing/peak */
	double threshold;	/* what it crosses (same unit) */
	double forecast_rps;	/* the forecast at the crossing */
	double peak_rps;	/* the forecast's highest ahead */
	uint32_t current;	/* the plan's current_instances */
	uint32_t instances;	/* the count that avoids it (budget: the count needed) */
	uint32_t affordable;	/* budget: the most instances the budget pays for */
	double capacity;	/* per-instance capacity the model gives, rps */
	double cost_per_hour;	/* instances x price (NaN: unpriced) */
	uint64_t t;		/* wall ns of the evaluation */
	uint64_t lower_since;	/* wall ns since when a lower count than the one
				 * sent is wanted (an_alert_hold); 0: none */
	uint32_t lower_max;	/* the most wanted since then */
	char fingerprint[16];	/* prealloc: the group's label ("fp2") */
};

/* One alert message as sent, kept for the report's time axis: the last
 * AN_ALERT_LOG per service (struct an_service's alert_log, a ring). */
#define AN_ALERT_LOG 32
struct an_alert_mark {
	uint64_t t;		/* wall ns sent */
	uint64_t at;		/* raise: the crossing, wall ns */
	enum an_alert_kind kind;
	bool raise;		/* else clear */
	uint32_t current, instances;
	double value, threshold;
};

/* The most instances budget_per_hour pays for at price per instance-hour
 * (a relative 1e-12 of slack, so 3 x 0.40 fits a budget of 1.20), at most
 * max; max when the price is 0. budget and price >= 0. Never fails. */
uint32_t an_budget_affords(double budget, double price, uint32_t max);

/* "utilization", "slo", "budget", "prealloc". */
const char *an_alert_kind_name(enum an_alert_kind k);

/* --- what-if ------------------------------------------------------------ */

#define AN_WHATIF_LOADS 64
#define AN_WHATIF_COUNTS 256
#define AN_WHATIF_CELLS 4096
/* The instance counts summed over the cells, at most: a cell of the
 * shared-queue models costs its count in Erlang C terms (several times),
 * and the control socket answers on the main loop. */
#define AN_WHATIF_WORK 2000000

/* A what-if question: loads (total rps; factor > 0 when given as a
 * multiple of the forecast) x instance counts, both in rising order. */
struct an_whatif_req {
	double rps[AN_WHATIF_LOADS];
	double factor[AN_WHATIF_LOADS];	/* 0: given as rps */
	uint32_t n_loads;
	uint32_t counts[AN_WHATIF_COUNTS];
	uint32_t n_counts;
};

/* Parses the two parameters (NULL: the default, the forecast and the
 * plan's current and proposed counts): load "200,400" (rps) or "0.5x,2x"
 * (multiples of forecast_rps), mixed freely; instances "1-8", "2,4,8" or
 * both. Every problem goes to fn with its parameter's name ("load",
 * "instances"): a value not a number, <= 0, an inverted or empty range, a
 * count above max_instances, more than AN_WHATIF_LOADS loads,
 * AN_WHATIF_COUNTS counts, AN_WHATIF_CELLS cells or AN_WHATIF_WORK
 * instances over the cells. Duplicates are kept
 * once; both lists come out sorted. Returns the number of problems (0: r
 * is filled). No allocation. */
int an_whatif_parse(const char *load, const char *instances, const struct an_plan *plan,
		    struct an_whatif_req *r, an_plan_err_fn fn, void *arg);

/* Packs the answer as one msgpack map (docs/analyzer.md, "What-if"): the
 * model used, the plan's SLO and price, the loads seen, one point per
 * (load, count) with p50/p99/bound, error rate, utilisation, the SLO,
 * cost and evidence, and per load the fewest count meeting the SLO.
 * extra_ok: the map starts with ok: true (the control reply). Never
 * fails (an out-of-memory buffer says so in its oom flag). */
void an_whatif_pack(struct st_wbuf *out, const char *service, const struct an_plan *plan,
		    const struct an_model *m, const struct an_pred *p,
		    const struct an_whatif_req *r, bool extra_ok);

#endif
