/* Noise tolerance from A/A comparisons.
 *
 * Two samples of the same thing differ: by sampling (which the intervals
 * of kpi.c already cover) and by drift from window to window (load mix,
 * garbage collection, neighbours) which they do not. Each A/A pair -- a
 * window of the shadow against the same window of a twin group configured
 * alike (aa_shadow), or, without a twin, a prod window against the one
 * before it carried to the same load by the model -- gives a log-ratio d
 * and its sampling variance s2. The drift variance of one window is
 * (Var(d) - s2) / 2, with Var(d) estimated robustly (MAD), and the
 * tolerance is exp(z * sd_drift) - 1, z for the configured alpha, bounded
 * by tolerance_min..tolerance_max. With fewer than 8 pairs it is
 * max(tolerance_min, 0.10). Rates use the same rule with a floor of 0.20:
 * a relative change in a count of a few events is not a finding. */
#ifndef AN_NOISE_H
#define AN_NOISE_H

#include "config.h"
#include "engine.h"

enum { AN_NOISE_P50, AN_NOISE_P90, AN_NOISE_P99, AN_NOISE_ERR };

/* Adds one A/A pair to the ring of KPI kpi (drops non-finite input). */
void an_noise_add(struct an_judge_state *js, int kpi, double d, double s2);

/* The tolerance of KPI kpi now; scratch holds 2 * AN_AA_MAX doubles. */
double an_noise_tol(const struct an_judge_state *js, int kpi,
		    const struct an_config *cfg, double *scratch);

#endif
