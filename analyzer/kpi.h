/* Per-KPI statistics of the judge: each function takes what was observed
 * and predicted, and fills one verdict KPI (status, interval, ratio) plus
 * the numbers the reason sentence quotes. Internal to the analyzer. */
#ifndef AN_KPI_H
#define AN_KPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stats.h"
#include "wire.h"

/* Which way is bad for a KPI. */
enum an_dir { AN_DIR_UP, AN_DIR_DOWN, AN_DIR_BOTH };

struct an_kpi_detail {
	double p;		/* p-value behind the status (1: none) */
	bool mw;		/* Mann-Whitney decided along with the interval */
	double hl, hl_lo, hl_hi;/* Hodges-Lehmann shift of log residuals */
	double sigma;		/* log-scale sd of observed/predicted */
	bool bad;		/* status in the KPI's bad direction */
};

struct an_lat_in {
	const struct an_dist *obs;	/* shadow, pooled */
	double q;
	double pred;			/* ns; NaN: nothing to compare with */
	double pred_sigma;		/* log-sd of the prediction */
	double tol;
	double alpha;
	uint64_t min_samples;
	const double *a;		/* shadow per-window log residuals */
	size_t m;
	const double *b;		/* prod per-window log residuals */
	size_t n;
	double *scratch;		/* m*n + m + n doubles */
};

/* A latency quantile: observed with an order-statistic interval widened
 * by the prediction's uncertainty; high when the interval lies above
 * pred * (1 + tol), low when below pred * (1 - tol), each confirmed by
 * Mann-Whitney on the per-window series when those can reach alpha. */
void an_kpi_latency(const struct an_lat_in *in, struct st_verdict_kpi *out,
		    struct an_kpi_detail *det);

struct an_rate_in {
	uint64_t k;		/* shadow events */
	double n;		/* shadow exposure (requests) */
	uint64_t k_ref;		/* prod events, for the conditional test */
	double n_ref;		/* prod exposure; 0: test against pred */
	double f;		/* prediction / prod rate (when n_ref > 0) */
	double pred;		/* predicted rate */
	double tol;
	double alpha;
	enum an_dir dir;
};

/* A rate (errors, timeouts, resets per request): exact tests that stay
 * quiet on sparse counts, Garwood interval for the observed rate. */
void an_kpi_rate(const struct an_rate_in *in, struct st_verdict_kpi *out,
		 struct an_kpi_detail *det);

/* Shape: the one-sided Kolmogorov distance of the shadow to the expected
 * distribution above its median against the two-sample DKW band. */
void an_kpi_shape(const struct an_dist *obs, const struct an_dist *ref,
		  double from, double alpha, double tol,
		  struct st_verdict_kpi *out, struct an_kpi_detail *det);

/* Fills name/unit/critical and NaN numbers, status nodata. */
void an_kpi_blank(struct st_verdict_kpi *k, const char *name, const char *unit,
		  bool critical);

#endif
