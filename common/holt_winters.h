/* Additive Holt-Winters with one or two seasons (Taylor's double seasonal
 * form), in error-correction form:
 *
 *   e_t  = y_t - (l + b + s1[t mod m1] + s2[t mod m2])
 *   l   += b + alpha e_t
 *   b   += alpha beta e_t
 *   s1[t mod m1] += gamma1 e_t,   s2[t mod m2] += gamma2 e_t
 *
 * The smoothing parameters (each in [0, 1]) are fitted by minimising the
 * one-step-ahead squared error with Nelder-Mead from a few starts. The
 * in-sample one-step residuals are kept: upper quantiles of a forecast come
 * from their empirical distribution, widened with the horizon as the
 * model's error propagates.
 *
 * Also here: the seasonal-naive baseline, the accuracy measures of the
 * backtest (MASE, sMAPE, interval coverage) and season detection. Plain C,
 * no allocation but the model's own arrays. In common/: shadowtap-forecast
 * forecasts a whole service with it, the analyzer each client fingerprint
 * (analyzer/profile.c); m1 = 1 is Holt's linear trend without a season. */
#ifndef ST_HOLT_WINTERS_H
#define ST_HOLT_WINTERS_H

#include <stdint.h>

#include "parse.h"

struct hw_model {
	uint32_t m1, m2;	/* seasons; m2 0 when there is one */
	double alpha, beta, gamma1, gamma2;
	double level, trend;
	double *s1, *s2;	/* seasonal states, indexed by t mod m */
	uint32_t n;		/* points fitted */
	double sse;		/* one-step squared error over the fitted points */
	double *resid;		/* one-step residuals, sorted ascending */
	uint32_t n_resid;
};

/* Points a fit needs: two of the longest season, at least 4. */
uint32_t hw_min_points(uint32_t m1, uint32_t m2);

/* Fits y[0..n) with seasons m1 (>= 1) and m2 (0, or > m1). Returns 0;
 * -EINVAL with err filled when n < hw_min_points or a season is bad;
 * -ENOMEM. O(n) per evaluation, a few hundred evaluations. */
int hw_fit(const double *y, uint32_t n, uint32_t m1, uint32_t m2,
	   struct hw_model *m, struct st_perr *err);

/* Point forecasts for steps 1..h after the fitted data into out[0..h). */
void hw_forecast(const struct hw_model *m, uint32_t h, double *out);

/* What to add to the point forecast h steps ahead (h >= 1) for quantile q
 * in (0, 1): the q-quantile of the residuals times the growth of the error
 * variance over h steps. Negative for q below the residuals' median. */
double hw_quantile_offset(const struct hw_model *m, double q, uint32_t h);

void hw_free(struct hw_model *m);

/* Seasonal naive: step h forecast is y[n - k m + h - 1] for the smallest k
 * with k m >= h. m >= 1, n >= m. */
void hw_seasonal_naive(const double *y, uint32_t n, uint32_t m, uint32_t h, double *out);

/* Mean absolute error of the in-sample seasonal naive forecast over
 * y[m..n): MASE's denominator. 0 when the series repeats exactly. */
double hw_naive_mae(const double *y, uint32_t n, uint32_t m);

/* Symmetric MAPE in percent; a point where both are 0 counts as 0. */
double hw_smape(const double *y, const double *f, uint32_t n);

/* Mean absolute error. */
double hw_mae(const double *y, const double *f, uint32_t n);

/* The most likely season length in [2, n / 3] from the autocorrelation of
 * the detrended series: the shortest lag whose peak is within 10% of the
 * highest one. 0 when there is no clear season (no peak above 0.2, or a
 * constant series). O(n * n / 3). */
uint32_t hw_detect_season(const double *y, uint32_t n);

#endif
