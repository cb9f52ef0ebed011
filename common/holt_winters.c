#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "holt_winters.h"

#define NM_ITERS 400
#define MAX_PARAMS 4

/* The data and the state the recursion starts from, shared by every
 * evaluation of the fit. */
struct fit_ctx {
	const double *y;
	uint32_t n, m1, m2, start;	/* start: first point forecast */
	double l0, b0;
	const double *s1_0, *s2_0;
	double *s1, *s2;		/* scratch */
	bool fit_trend, fit_s1, fit_s2;
};

uint32_t hw_min_points(uint32_t m1, uint32_t m2)
{
	uint32_t m = m2 > m1 ? m2 : m1, need = 2 * m;

	return need < 4 ? 4 : need;
}

/* Runs the recursion with parameters p (alpha, beta, gamma1, gamma2) and
 * returns the sum of squared one-step errors; keeps the final state in m
 * and the residuals in resid when they are not NULL. */
static double run(struct fit_ctx *c, const double p[MAX_PARAMS], struct hw_model *m,
		  double *resid)
{
	double l = c->l0, b = c->b0, sse = 0;
	const double a = p[0], ab = p[0] * p[1], g1 = p[2], g2 = p[3];

	memcpy(c->s1, c->s1_0, sizeof(double) * c->m1);
	if (c->m2)
		memcpy(c->s2, c->s2_0, sizeof(double) * c->m2);
	for (uint32_t t = c->start; t < c->n; t++) {
		double *s1 = &c->s1[t % c->m1], *s2 = c->m2 ? &c->s2[t % c->m2] : NULL;
		double e = c->y[t] - (l + b + *s1 + (s2 ? *s2 : 0));

		sse += e * e;
		if (resid)
			resid[t - c->start] = e;
		l += b + a * e;
		b += ab * e;
		*s1 += g1 * e;
		if (s2)
			*s2 += g2 * e;
	}
	if (m) {
		m->level = l;
		m->trend = b;
		memcpy(m->s1, c->s1, sizeof(double) * c->m1);
		if (c->m2)
			memcpy(m->s2, c->s2, sizeof(double) * c->m2);
	}
	return isfinite(sse) ? sse : HUGE_VAL;
}

/* Unconstrained x (logits) to parameters in [0, 1]; the ones not fitted
 * stay 0. */
static void to_params(const struct fit_ctx *c, const double *x, double p[MAX_PARAMS])
{
	int k = 0;

	p[0] = 1 / (1 + exp(-x[k++]));
	p[1] = c->fit_trend ? 1 / (1 + exp(-x[k++])) : 0;
	p[2] = c->fit_s1 ? 1 / (1 + exp(-x[k++])) : 0;
	p[3] = c->fit_s2 ? 1 / (1 + exp(-x[k++])) : 0;
}

static double eval(struct fit_ctx *c, const double *x)
{
	double p[MAX_PARAMS];

	to_params(c, x, p);
	return run(c, p, NULL, NULL);
}

/* Nelder-Mead over d logits from x0; the best point is left in x0. */
static double nelder_mead(struct fit_ctx *c, int d, double *x0)
{
	double s[MAX_PARAMS + 1][MAX_PARAMS], f[MAX_PARAMS + 1];

	for (int i = 0; i <= d; i++) {
		memcpy(s[i], x0, sizeof(double) * (size_t)d);
		if (i > 0)
			s[i][i - 1] += 1.5;
		f[i] = eval(c, s[i]);
	}
	for (int it = 0; it < NM_ITERS; it++) {
		double cen[MAX_PARAMS] = { 0 }, xr[MAX_PARAMS], xe[MAX_PARAMS], fr, fe;
		int hi = 0, lo = 0, nh = 0;

		for (int i = 1; i <= d; i++) {
			if (f[i] > f[hi])
				hi = i;
			if (f[i] < f[lo])
				lo = i;
		}
		nh = hi == 0 ? 1 : 0;
		for (int i = 0; i <= d; i++)
			if (i != hi && f[i] > f[nh])
				nh = i;
		if (f[hi] - f[lo] <= 1e-12 * (fabs(f[lo]) + 1e-300))
			break;
		for (int i = 0; i <= d; i++)
			if (i != hi)
				for (int k = 0; k < d; k++)
					cen[k] += s[i][k] / d;
		for (int k = 0; k < d; k++)
			xr[k] = cen[k] + (cen[k] - s[hi][k]);
		fr = eval(c, xr);
		if (fr < f[lo]) {
			for (int k = 0; k < d; k++)
				xe[k] = cen[k] + 2 * (cen[k] - s[hi][k]);
			fe = eval(c, xe);
			if (fe < fr) {
				memcpy(s[hi], xe, sizeof(double) * (size_t)d);
				f[hi] = fe;
			} else {
				memcpy(s[hi], xr, sizeof(double) * (size_t)d);
				f[hi] = fr;
			}
		} else if (fr < f[nh]) {
			memcpy(s[hi], xr, sizeof(double) * (size_t)d);
			f[hi] = fr;
		} else {
			double xc[MAX_PARAMS], fc;

			for (int k = 0; k < d; k++)
				xc[k] = cen[k] + 0.5 * (s[hi][k] - cen[k]);
			fc = eval(c, xc);
			if (fc < f[hi]) {
				memcpy(s[hi], xc, sizeof(double) * (size_t)d);
				f[hi] = fc;
			} else {
				for (int i = 0; i <= d; i++) {
					if (i == lo)
						continue;
					for (int k = 0; k < d; k++)
						s[i][k] = s[lo][k] + 0.5 * (s[i][k] - s[lo][k]);
					f[i] = eval(c, s[i]);
				}
			}
		}
	}
	{
		int lo = 0;

		for (int i = 1; i <= d; i++)
			if (f[i] < f[lo])
				lo = i;
		memcpy(x0, s[lo], sizeof(double) * (size_t)d);
		return f[lo];
	}
}

/* The starting state: level and trend from the first two long seasons,
 * seasonal offsets from the first one, detrended. */
static void init_state(struct fit_ctx *c, double *s1, double *s2)
{
	uint32_t M = c->m2 > c->m1 ? c->m2 : c->m1;
	double mean0 = 0, mean1 = 0;

	for (uint32_t i = 0; i < M; i++)
		mean0 += c->y[i] / M;
	if (c->n >= 2 * M && M > 1) {
		for (uint32_t i = M; i < 2 * M; i++)
			mean1 += c->y[i] / M;
		c->b0 = (mean1 - mean0) / M;
	} else {
		c->b0 = 0;
	}
	c->l0 = mean0 + c->b0 * (M - 1) / 2.0;
	memset(s1, 0, sizeof(double) * c->m1);
	for (uint32_t i = 0; i < M; i++)
		s1[i % c->m1] += (c->y[i] - mean0 - ((double)i - (M - 1) / 2.0) * c->b0) /
				 (M / c->m1 + (i % c->m1 < M % c->m1 ? 1 : 0));
	if (c->m2) {
		for (uint32_t i = 0; i < c->m2; i++)
			s2[i] = c->y[i] - mean0 - ((double)i - (M - 1) / 2.0) * c->b0 - s1[i % c->m1];
	}
	c->start = M;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int hw_fit(const double *y, uint32_t n, uint32_t m1, uint32_t m2,
	   struct hw_model *m, struct st_perr *err)
{
	static const double starts[][MAX_PARAMS] = {
		{ 0.3, 0.05, 0.1, 0.1 }, { 0.05, 0.01, 0.3, 0.3 }, { 0.7, 0.2, 0.05, 0.05 },
	};
	struct fit_ctx c = { .y = y, .n = n, .m1 = m1, .m2 = m2 };
	double *s1_0 = NULL, *s2_0 = NULL, best = HUGE_VAL, bestx[MAX_PARAMS] = { 0 };
	int d;

	memset(m, 0, sizeof(*m));
	if (m1 < 1 || (m2 != 0 && m2 <= m1)) {
		if (err)
			snprintf(err->msg, sizeof(err->msg),
				 "seasons must be >= 1, a second one longer than the first");
		return -EINVAL;
	}
	if (n < hw_min_points(m1, m2)) {
		if (err)
			snprintf(err->msg, sizeof(err->msg),
				 "%u points are too few: seasons of %u%s%.0u need at least %u", n,
				 m1, m2 ? " and " : "", m2, hw_min_points(m1, m2));
		return -EINVAL;
	}
	m->m1 = m1;
	m->m2 = m2;
	m->n = n;
	s1_0 = calloc(m1, sizeof(double));
	s2_0 = calloc(m2 + 1, sizeof(double));
	c.s1 = calloc(m1, sizeof(double));
	c.s2 = calloc(m2 + 1, sizeof(double));
	m->s1 = calloc(m1, sizeof(double));
	m->s2 = calloc(m2 + 1, sizeof(double));
	m->resid = calloc(n, sizeof(double));
	if (!s1_0 || !s2_0 || !c.s1 || !c.s2 || !m->s1 || !m->s2 || !m->resid) {
		if (err)
			snprintf(err->msg, sizeof(err->msg), "out of memory");
		free(s1_0);
		free(s2_0);
		free(c.s1);
		free(c.s2);
		hw_free(m);
		return -ENOMEM;
	}
	c.s1_0 = s1_0;
	c.s2_0 = s2_0;
	init_state(&c, s1_0, s2_0);
	c.fit_trend = true;
	c.fit_s1 = m1 > 1;
	c.fit_s2 = m2 > 0;
	d = 1 + c.fit_trend + c.fit_s1 + c.fit_s2;
	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		double x[MAX_PARAMS], p[MAX_PARAMS], f;
		int k = 0;

		p[0] = starts[i][0];
		p[1] = starts[i][1];
		p[2] = starts[i][2];
		p[3] = starts[i][3];
		x[k++] = log(p[0] / (1 - p[0]));
		if (c.fit_trend)
			x[k++] = log(p[1] / (1 - p[1]));
		if (c.fit_s1)
			x[k++] = log(p[2] / (1 - p[2]));
		if (c.fit_s2)
			x[k++] = log(p[3] / (1 - p[3]));
		f = nelder_mead(&c, d, x);
		if (f < best) {
			best = f;
			memcpy(bestx, x, sizeof(x));
		}
	}
	{
		double p[MAX_PARAMS];

		to_params(&c, bestx, p);
		m->alpha = p[0];
		m->beta = p[1];
		m->gamma1 = p[2];
		m->gamma2 = p[3];
		m->sse = run(&c, p, m, m->resid);
	}
	m->n_resid = n - c.start;
	qsort(m->resid, m->n_resid, sizeof(double), cmp_double);
	free(s1_0);
	free(s2_0);
	free(c.s1);
	free(c.s2);
	return 0;
}

void hw_forecast(const struct hw_model *m, uint32_t h, double *out)
{
	for (uint32_t k = 1; k <= h; k++) {
		uint64_t t = (uint64_t)m->n - 1 + k;
		double f = m->level + k * m->trend + m->s1[t % m->m1];

		if (m->m2)
			f += m->s2[t % m->m2];
		out[k - 1] = f;
	}
}

double hw_quantile_offset(const struct hw_model *m, double q, uint32_t h)
{
	double pos, r, v = 1;

	if (m->n_resid == 0)
		return 0;
	pos = q * (m->n_resid - 1);
	{
		uint32_t i = (uint32_t)pos;
		double frac = pos - i;

		r = m->resid[i] + (i + 1 < m->n_resid ? frac * (m->resid[i + 1] - m->resid[i]) : 0);
	}
	for (uint32_t j = 1; j < h; j++) {
		double cj = m->alpha * (1 + j * m->beta);

		if (j % m->m1 == 0)
			cj += m->gamma1;
		if (m->m2 && j % m->m2 == 0)
			cj += m->gamma2;
		v += cj * cj;
	}
	return r * sqrt(v);
}

void hw_free(struct hw_model *m)
{
	if (m == NULL)
		return;
	free(m->s1);
	free(m->s2);
	free(m->resid);
	m->s1 = m->s2 = m->resid = NULL;
}

void hw_seasonal_naive(const double *y, uint32_t n, uint32_t m, uint32_t h, double *out)
{
	for (uint32_t k = 1; k <= h; k++) {
		uint64_t back = (uint64_t)m * ((k + m - 1) / m);

		out[k - 1] = y[n - 1 + k - back];
	}
}

double hw_naive_mae(const double *y, uint32_t n, uint32_t m)
{
	double s = 0;

	if (n <= m)
		return 0;
	for (uint32_t t = m; t < n; t++)
		s += fabs(y[t] - y[t - m]);
	return s / (n - m);
}

double hw_smape(const double *y, const double *f, uint32_t n)
{
	double s = 0;

	for (uint32_t i = 0; i < n; i++) {
		double d = fabs(y[i]) + fabs(f[i]);

		if (d > 0)
			s += 200 * fabs(y[i] - f[i]) / d;
	}
	return n ? s / n : 0;
}

double hw_mae(const double *y, const double *f, uint32_t n)
{
	double s = 0;

	for (uint32_t i = 0; i < n; i++)
		s += fabs(y[i] - f[i]);
	return n ? s / n : 0;
}

uint32_t hw_detect_season(const double *y, uint32_t n)
{
	uint32_t N = n > 50000 ? 50000 : n, L = N / 3, best = 0, pick = 0;
	const double *x0 = y + (n - N);
	double *x, *acf, sx = 0, sxx = 0, sy = 0, sxy = 0, slope, icpt, var = 0;

	if (L < 2)
		return 0;
	if (L > 5000)
		L = 5000;
	x = malloc(sizeof(double) * N);
	acf = calloc(L + 2, sizeof(double));
	if (x == NULL || acf == NULL) {
		free(x);
		free(acf);
		return 0;
	}
	/* Remove a least-squares line: a trend would make every lag look
	 * correlated. */
	for (uint32_t i = 0; i < N; i++) {
		sx += i;
		sxx += (double)i * i;
		sy += x0[i];
		sxy += i * x0[i];
	}
	slope = (N * sxy - sx * sy) / (N * sxx - sx * sx);
	icpt = (sy - slope * sx) / N;
	for (uint32_t i = 0; i < N; i++) {
		x[i] = x0[i] - (icpt + slope * i);
		var += x[i] * x[i];
	}
	if (var <= 1e-12 * (sy * sy / N + 1e-300))
		goto out;
	for (uint32_t k = 1; k <= L + 1 && k < N; k++) {
		double s = 0;

		for (uint32_t i = 0; i + k < N; i++)
			s += x[i] * x[i + k];
		acf[k] = s / var;
	}
	for (uint32_t k = 2; k <= L; k++)
		if (acf[k] > acf[k - 1] && acf[k] >= acf[k + 1] && acf[k] > 0.2 &&
		    (best == 0 || acf[k] > acf[best]))
			best = k;
	if (best == 0)
		goto out;
	for (uint32_t k = 2; k <= best; k++)
		if (acf[k] > acf[k - 1] && acf[k] >= acf[k + 1] && acf[k] >= 0.9 * acf[best]) {
			pick = k;
			break;
		}
out:
	free(x);
	free(acf);
	return pick;
}
