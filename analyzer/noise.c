#include <math.h>
#include <string.h>

#include "noise.h"
#include "stats.h"

#define NOISE_MIN_PAIRS 8

void an_noise_add(struct an_judge_state *js, int kpi, double d, double s2)
{
	uint32_t h;

	if (!isfinite(d) || !isfinite(s2) || s2 < 0)
		return;
	h = js->aa_head[kpi];
	js->aa_d[kpi][h] = d;
	js->aa_s2[kpi][h] = s2;
	js->aa_head[kpi] = (h + 1) % AN_AA_MAX;
	if (js->aa_n[kpi] < AN_AA_MAX)
		js->aa_n[kpi]++;
}

double an_noise_tol(const struct an_judge_state *js, int kpi,
		    const struct an_config *cfg, double *scratch)
{
	uint32_t n = js->aa_n[kpi];
	double floor_ = kpi == AN_NOISE_ERR ? fmax(cfg->tolerance_min, 0.2) :
		       cfg->tolerance_min;
	double sd, s2, drift, tol;

	if (!isnan(cfg->tolerance))
		return cfg->tolerance;
	if (n < NOISE_MIN_PAIRS)
		return fmin(fmax(floor_, 0.10), fmax(cfg->tolerance_max, floor_));
	memcpy(scratch, js->aa_d[kpi], n * sizeof(double));
	sd = an_robust_sd(scratch, n);
	memcpy(scratch, js->aa_s2[kpi], n * sizeof(double));
	s2 = an_median(scratch, n);
	drift = (sd * sd - s2) / 2;
	tol = drift > 0 ? expm1(an_norm_ppf(1 - cfg->alpha / 2) * sqrt(drift)) : 0;
	if (tol < floor_)
		tol = floor_;
	if (tol > cfg->tolerance_max)
		tol = fmax(cfg->tolerance_max, floor_);
	return tol;
}
