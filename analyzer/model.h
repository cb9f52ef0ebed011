/* The capacity model: what latency and error rate a service shows at a
 * per-instance request rate lambda with c instances.
 *
 * Latency = d0 + Q, where d0 is a fixed part (network, parsing) and Q the
 * queueing part, in one of five forms:
 *   mm1  every instance queues on its own (a load balancer in front):
 *        M/M/1 at lambda, Q ~ Exp(mu - lambda);
 *   mmc  the instances share one queue: M/M/c (Erlang-C) at c * lambda,
 *        Q = service + wait, P(wait > 0) = C(c, c lambda / mu);
 *   usl  the Universal Scalability Law fitted over the load levels seen,
 *        X(n) = g n / (1 + s (n - 1) + k n (n - 1)), mean Q from Little's
 *        law and an exponential shape; used only with >= 4 load levels;
 *   mg1  every instance queues on its own with a general service time S
 *        (mean 1/mu, squared coefficient of variation cs2): M/G/1 at
 *        lambda. Q = S + W. The mean wait is Pollaczek-Khinchine,
 *        E[W] = rho E[S] (1 + cs2) / (2 (1 - rho)), rho = lambda / mu. The
 *        tail is Cramer-Lundberg: P(W > x) = C e^(-g x), g the positive root
 *        of lambda (M_S(g) - 1) = g (M_S the moment generating function of
 *        S) and C = (1 - rho) / (lambda M_S'(g) - 1), convolved in closed
 *        form with S itself: P(Q > t) = P(S > t) + C e^(-g t) E[e^(g S); S <= t].
 *        S is taken from a family fixed by cs2: a shifted exponential
 *        (mean 1/mu, exponential part sqrt(cs2)/mu) for cs2 <= 1, which is
 *        deterministic at 0 and exponential at 1 (where the form is exactly
 *        M/M/1), and a balanced-means two-phase hyperexponential above 1.
 *        The tail is asymptotically exact (M/D/1 p99 within a few percent of
 *        simulation at rho 0.5-0.9; tests/unit/test_an_model.c) and costs two
 *        bisections, no simulation. Fitted to the EW p50, p90, p99 and mean
 *        of the load level prod has run at most (an_fit_service: p50 and
 *        p99 exactly, cs2 chosen on a grid to fit p90, the mean and the
 *        other levels' p99 and mean, each weighed by how precisely it is
 *        known: FIT_TOL^2 / (FIT_TOL^2 + se^2), se the standard error of
 *        the level's EW log statistic, an_level_se); the per-window fits
 *        give the spread (v, vc) the upper bound uses.
 *   ggc  the instances share one queue, general service time S as mg1's
 *        (same family, same cs2): G/G/c by Allen-Cunneen with Poisson
 *        arrivals (ca2 = 1) at c * lambda. P(W > 0) = C(c, c lambda / mu)
 *        (Erlang-C), and given a wait it is exponential with rate
 *        g = c (mu - lambda) / K, so that the mean wait is M/M/c's times
 *        K = (1 + cs2) / 2 (Kingman's heavy-traffic law; below cs2 = 1
 *        its deterministic half takes Cosmetatos' M/D/c correction); the
 *        same closed-form convolution with S gives the tail,
 *        P(Q > t) = P(S > t) + C e^(-g t) E[e^(g S); S <= t]. Mean
 *        1/mu + C / g: Pollaczek-Khinchine at c = 1, Erlang-C's at cs2 = 1,
 *        where the form is exactly M/M/c. Against FIFO queues of c
 *        servers simulated (c 2-8, rho 0.5-0.85), p99 is never more than
 *        3% short and at most 15% (M/D/c) or 30% (bimodal: the
 *        hyperexponential's own tail) long, the mean within 4%
 *        (tests/unit/test_an_model.c). Fitted as mg1, with the level's
 *        instance count; chosen over mg1 only on windows at other loads
 *        than the fitted one (a shared queue shows in how its tail
 *        grows with load, not in one load's shape).
 * Near saturation mm1 and mmc give very different answers; the model keeps
 * each form's one-step-ahead prediction error on prod windows and uses
 * another form than mm1 (the load-balancer case) only when it predicts
 * better by more than the noise of those errors, so windows at one load
 * level, which cannot tell the forms apart, never make the choice flip.
 *
 * The upper bound a recommendation rests on (an_model_q_hi) widens the
 * prediction three ways, each for what the others cannot see: the load
 * inflated by the capacity's standard error and by the distance beyond
 * the loads measured (an_bound_factor); for mg1 and ggc cs2 at the upper
 * end of its interval; and the whole latency times e^D, D the model's
 * discrepancy at the load levels prod has run at (an_model_discrepancy:
 * the fit's p99 miss at each level, believed in proportion to how
 * precisely the level's p99 is known, plus z of its posterior sd). The
 * first grows fastest near saturation; the last is what covers a p99 that
 * is the service time's own tail (light load, many servers), which an
 * inflated load barely moves and a form with the wrong shape misses:
 * ggc fitted to short runs of a bimodal shared queue at rho 0.3 and 0.5
 * covers the simulated p99 at 0.5 in 29 of 30 fits with it and in none
 * without (tests/unit/test_an_model.c, test_ggc_bound).
 *
 * Fitting is recursive: each prod window gives (mu, d0) per form from its
 * p50 and p99 (an exact two-point fit, so the tail the SLO is about is
 * honoured), folded into an exponentially weighted estimate. Times are in
 * seconds and rates per second inside the model. */
#ifndef AN_MODEL_H
#define AN_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

/* New forms come last so that saved states written before them keep
 * their indices (state.c reads the shorter arrays). */
enum an_form {
	AN_FORM_MM1, AN_FORM_MMC, AN_FORM_USL, AN_FORM_MG1, AN_FORM_GGC, AN_FORM__COUNT
};

#define AN_USL_POINTS 16

/* One estimate of the form's parameters; w == 0 means none yet. */
struct an_fit {
	double mu;	/* service rate per instance, 1/s */
	double d0;	/* fixed latency, s */
	double w;	/* weight accumulated (0..1 after the first window) */
	double v;	/* EW variance of the per-window mu estimates */
	double cs2;	/* mg1, ggc: squared coefficient of variation of S */
	double vc;	/* mg1, ggc: EW variance of the per-window cs2 estimates */
};

/* One load level prod has run at (loads within 10% are one level). */
struct an_usl_pt {
	double lam;	/* per-instance rate, 1/s */
	double conc;	/* requests in the queueing part per instance */
	double w;
	/* EW p50, p90, p99 and mean latency of the level's windows, s (0: not
	 * known): mg1 and ggc are fitted to these rather than to one window,
	 * whose p99 rests on a few samples and whose three parameters would
	 * trade off against each other from window to window. */
	double stat[4];
	uint32_t c;	/* instances of the level's latest window (0: not known) */
	/* EW variance of the log of each of stat[]'s windows about it: how
	 * much the statistic jumps from window to window. A fit weighs a
	 * statistic by how precisely it is known (the p90 of a server with
	 * two modes, 10% of requests slow, sits on the jump between them),
	 * and the upper bound takes the level's p99 at the upper end of its
	 * interval. 0: one window, or a state saved before it was kept. */
	double var[4];
	/* The weight var[] has gathered (1 - prod (1 - w) over the level's
	 * windows after its first: var / vw is unbiased) and the sum of the
	 * squared weights the EW stat[] gives its windows, so that
	 * var / vw * s2 is the variance of stat[]'s log, exact for a
	 * level of a few windows (where the first weighs far more than w)
	 * as for one of many (s2 = w / (2 - w)). */
	double vw, s2;
};

/* The standard error of the log of level l's statistic q (0..3: p50,
 * p90, p99, mean); 0 when it has no spread yet. O(1). */
double an_level_se(const struct an_usl_pt *l, int q);

struct an_model {
	uint64_t version;
	enum an_form form;
	struct an_fit prod[AN_FORM__COUNT];
	struct an_fit shadow[AN_FORM__COUNT];
	double score[AN_FORM__COUNT];	/* EW mean squared log prediction error */
	uint32_t scored[AN_FORM__COUNT];
	/* EW mean and variance of (error of the form - error of mm1) on the
	 * same windows: a form replaces mm1 only when it is better by more
	 * than the noise (two standard errors). */
	double diff_m[AN_FORM__COUNT], diff_v[AN_FORM__COUNT];
	struct an_usl_pt usl[AN_USL_POINTS];
	uint32_t n_usl;
	bool usl_ok;
	double usl_g, usl_s, usl_k;
	double rate_err, rate_to, rate_rst;	/* per request, EW from prod */
	double rate_w;
	uint64_t windows_prod, windows_shadow;
};

/* What one window of one target showed, as the model sees it. */
struct an_obs {
	double lam;		/* requests per second per instance */
	uint32_t c;		/* instances */
	double p50, p90, p99;	/* s */
	double mean;		/* s */
	double n;		/* latency samples */
	double requests;
	double errors, timeouts, resets;
};

const char *an_form_name(enum an_form f);
/* "mm1" etc. Returns 0 or -EINVAL. */
int an_form_parse(const char *s, enum an_form *out);

/* An empty model (form mm1, version 0). */
void an_model_init(struct an_model *m);

/* True when the model has a usable fit for its form. */
bool an_model_ready(const struct an_model *m);

/* False only when prod's windows rule out one queue shared by the
 * instances: mmc predicts them worse than mm1 by a material margin and two
 * standard errors. Seen at one load the two forms tie (mmc's steady edge
 * was 0.0002-0.0005 on per-instance queues and on a shared one alike), and
 * the measured loads then stand only for as many instances as they were
 * measured on: the reading that is never short. */
bool an_model_pooling_seen(const struct an_model *m, double weight);

/* Folds one prod window in: scores each form on it first, then refits.
 * weight is the config's model_weight; pref forces a form. Windows too
 * thin to fit (fewer than 50 samples, p99 <= p50) only update the rates.
 * Bumps version when anything changed. Never fails; O(c) for mmc, about
 * 1.5 ms each for the mg1 and ggc fits (an_fit_service). */
void an_model_learn_prod(struct an_model *m, const struct an_obs *o,
			 double weight, enum an_model_pref pref);
/* Same for a shadow window (kept apart: shadow fits correct the model for
 * the proposal, they do not overwrite what prod says). */
void an_model_learn_shadow(struct an_model *m, const struct an_obs *o,
			   double weight);

/* Fits (mu, d0) of a form to one point: p50 and p99 at (lam, c). Returns
 * 0, or -EDOM when the point cannot be fitted (p99 <= p50, non-finite). */
int an_fit_point(enum an_form f, double lam, uint32_t c, double p50,
		 double p99, struct an_fit *out);

/* Fits a form with a general service time (form AN_FORM_MG1 or
 * AN_FORM_GGC) to the statistics of one load, per-instance rate lam with c
 * instances (ggc's servers; mg1 ignores it): p50 and p99 exactly, cs2
 * (0..AN_MG1_CS2_MAX, on a grid refined by one parabolic step) to p90 and
 * the mean (either may be 0: not known). d0 >= 0 fixes the fixed part (a
 * shadow fitted with prod's: one load cannot tell a fixed part from
 * queueing), and then p99 alone is matched exactly and cs2 also fits p50;
 * d0 < 0 fits it. Returns 0, or -EDOM for another form, c 0, lam <= 0,
 * d0 >= p50, or quantiles that cannot be fitted. Costs a few hundred model
 * evaluations (about 1.5 ms for mg1; an evaluation about 3 us, ggc's O(c)
 * more for Erlang-C): once per window, never per snapshot. */
#define AN_MG1_CS2_MAX 6.0
int an_fit_service(enum an_form form, double lam, uint32_t c, double p50, double p90,
		   double p99, double mean, double d0, struct an_fit *out);

/* How far a prediction at per-instance rate lam is pushed for its upper
 * bound: the factor by which the load is inflated, 1 + z rsd + extrap
 * (lam / lam_obs - 1) when lam lies beyond lam_obs, the highest per-instance
 * rate observed, else 1 + z rsd. rsd is the relative standard error of the
 * capacity. Nondecreasing in lam, so a count that meets the SLO under the
 * bound keeps meeting it with more instances. Never fails; O(1). */
#define AN_BOUND_Z 1.645	/* one-sided 95% */
#define AN_BOUND_EXTRAP 0.25	/* per unit of relative extrapolation */
double an_bound_factor(double lam, double lam_obs, double rsd);

/* What an upper bound rests on besides the fit (judge.c's bound_inputs). */
struct an_bound {
	double lam_obs;	/* highest per-instance rate measured, 1/s (0: none) */
	double rsd;	/* relative standard error of the capacity */
	double weight;	/* the config's model_weight: EW variances to standard errors */
	bool levels;	/* the fit is prod's model: its discrepancy at the model's
			 * load levels counts (not for a fit to a shadow's one load) */
};

/* What prod's model gives a bound on its own: the highest per-instance
 * rate of its load levels and the relative standard error of fit's
 * capacity, sqrt(v w / (2 - w)) / mu (w = weight, the config's
 * model_weight), levels set. judge.c adds the loads and the noise of the
 * span it judges. Never fails; O(levels). */
void an_bound_prod(const struct an_model *m, const struct an_fit *fit, double weight,
		   struct an_bound *out);

/* The model's discrepancy: how far fit (form f, its queueing part
 * stretched by tail) falls short of the p99 prod showed at the load levels
 * it has run at, as the log of a factor: for each level with a spread
 * (two windows or more), log(level p99 / predicted p99) + AN_BOUND_Z times
 * the standard error of the level's EW log p99 (an_level_se), the largest
 * over levels,
 * 0 when none is positive. A form whose shape is not the service's (the
 * bimodal server's two modes under ggc's smooth family) misses the p99 at
 * the loads it was not fitted at; a capacity bound barely moves a p99
 * that is the service time's own tail, this does. m NULL: 0. O(levels)
 * model evaluations. */
double an_model_discrepancy(const struct an_model *m, enum an_form f, const struct an_fit *fit,
			    double tail);

/* The upper bound of the q-quantile of latency (s, d0 included) at
 * per-instance rate lam with c instances, under form f with fit, its
 * queueing part stretched by tail (judge.c's two-load fits; 1 otherwise).
 * Three widenings, each for what the one before cannot see:
 *   - the load inflated by an_bound_factor(lam, b->lam_obs, b->rsd): the
 *     capacity's standard error and the distance beyond the loads
 *     measured;
 *   - mg1, ggc: cs2 at the upper end of its one-sided interval,
 *     cs2 + AN_BOUND_Z sqrt(vc w / (2 - w)) (the spread of per-window
 *     estimates, w = b->weight);
 *   - the latency times e^D, D = an_model_discrepancy(m, ...) when
 *     b->levels (else, or m NULL, D = 0).
 * m is the model the form is evaluated with (usl needs it; NULL for the
 * others). +inf when the inflated load saturates. Nondecreasing in lam. Never
 * fails; a few model evaluations. The analyzer's recommendation is the
 * fewest count whose p99 bound (this) meets the SLO. */
double an_model_q_hi(const struct an_model *m, enum an_form f, const struct an_fit *fit,
		     double tail, double lam, uint32_t c, double q, const struct an_bound *b);
/* P(latency > t) under the same bound: the inflated load and cs2, t
 * shrunk by e^-D. */
double an_model_exceed_hi(const struct an_model *m, enum an_form f, const struct an_fit *fit,
			  double tail, double lam, uint32_t c, double t,
			  const struct an_bound *b);

/* Fits a form to the p99 seen at two loads, prod's and the shadow's, with
 * the fixed part d0 given: the queueing part of p99 is tail * the form's
 * (mu) quantile at each point. Real servers rarely have the exponential
 * shape the forms assume, so a fit to one point's p50 and p99 extrapolates
 * badly; two loads pin the capacity and the tail together. mm1 and mmc
 * only. Returns 0, or -EDOM when no capacity explains the two points (the
 * more loaded point shows the shorter tail, or the loads are alike). */
int an_fit_two_loads(enum an_form f, double d0, double lam_a, uint32_t c_a, double p99_a,
		     double lam_b, uint32_t c_b, double p99_b, struct an_fit *out,
		     double *tail);

/* Queueing part of the q-quantile (s) under a form with fit at (lam, c);
 * +inf when saturated. For usl the model's USL parameters are used (m may
 * be NULL for the other forms). */
double an_model_q(const struct an_model *m, enum an_form f,
		  const struct an_fit *fit, double lam, uint32_t c, double q);
/* P(latency > t) under the same (t in s). */
double an_model_exceed(const struct an_model *m, enum an_form f,
		       const struct an_fit *fit, double lam, uint32_t c,
		       double t);
/* Mean of the queueing part (s); +inf when saturated. */
double an_model_mean(const struct an_model *m, enum an_form f,
		     const struct an_fit *fit, double lam, uint32_t c);

/* Erlang-C probability of waiting, c servers, offered load a = Lambda/mu.
 * 1 when a >= c. O(c). */
double an_erlang_c(uint32_t c, double a);

#endif
