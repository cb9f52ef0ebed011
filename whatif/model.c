/* A sweep is also a test of the capacity model: the analyzer's mg1 form
 * (analyzer/model.c, every instance an M/G/1 queue, which is what spreading
 * flows by hash over independent servers is) is fitted to the sweep's own
 * cells — there is no production data here — and predicts every cell, so
 * the page and the files show where the two part. The fit is anchored on
 * the passing cell nearest saturation (its p50 and p99 exactly, the
 * service time's variability from its p90 and mean); the other passing
 * cells with enough samples choose the fixed part. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "whatif.h"

static bool ran(const struct wi_cell *c)
{
	return c->status == WI_PASS || c->status == WI_FAIL || c->status == WI_STOP;
}

/* Requests per second per instance the cell put on the pool (or would
 * have, for a cell not run). */
static double lam_of(const struct wi_cell *c)
{
	return (ran(c) && c->achieved_rps > 0 ? c->achieved_rps : c->offered_rps) / c->instances;
}

/* A cell's p99 rests on requests / 100 samples above it: below 200 it is
 * one or two samples, too noisy to choose the fixed part by. */
#define JOINT_MIN_REQUESTS 200

static double predict(const struct an_fit *fit, double lam, double q)
{
	if (!(lam < fit->mu))
		return INFINITY;
	return fit->d0 + an_model_q(NULL, AN_FORM_MG1, fit, lam, 1, q);
}

/* Squared log errors of the fit's p50 and p99 over every passing cell. */
static double score(const struct wi_sweep *s, const struct an_fit *fit)
{
	double e = 0;

	for (int i = 0; i < s->n_cells; i++) {
		const struct wi_cell *c = &s->cells[i];
		double lam = lam_of(c), a, b;

		if (c->status != WI_PASS || c->requests < JOINT_MIN_REQUESTS)
			continue;
		a = log(predict(fit, lam, 0.50) / (c->p50.v / 1e9));
		b = log(predict(fit, lam, 0.99) / (c->p99.v / 1e9));
		e += (isfinite(a) ? a * a : 100) + (isfinite(b) ? b * b : 100);
	}
	return e;
}

/* One load cannot tell a fixed part of the latency from the service time
 * (analyzer/model.h): the fit to the anchor cell alone leaves d0 free.
 * With passing cells at other loads the fixed part is chosen on a grid
 * below the anchor's p50 to fit them all, the anchor's p99 still exactly. */
static int try_fit(const struct wi_sweep *s, const struct wi_cell *c, struct an_fit *fit)
{
	double lam = lam_of(c), best = INFINITY;
	struct an_fit f;
	bool other = false;

	for (int i = 0; i < s->n_cells; i++) {
		const struct wi_cell *o = &s->cells[i];

		if (o->status == WI_PASS && o->requests >= JOINT_MIN_REQUESTS &&
		    fabs(lam_of(o) - lam) > 0.1 * lam)
			other = true;
	}
	if (an_fit_service(AN_FORM_MG1, lam, 1, c->p50.v / 1e9, c->p90.v / 1e9, c->p99.v / 1e9,
			   c->mean_ns / 1e9, -1, &f) == 0) {
		*fit = f;
		best = score(s, &f);
	}
	for (int k = 0; other && k < 24; k++) {
		double d0 = c->p50.v / 1e9 * 0.95 * k / 24;

		if (an_fit_service(AN_FORM_MG1, lam, 1, c->p50.v / 1e9, c->p90.v / 1e9,
				   c->p99.v / 1e9, c->mean_ns / 1e9, d0, &f) != 0)
			continue;
		double e = score(s, &f);

		if (e < best) {
			best = e;
			*fit = f;
		}
	}
	return isfinite(best) ? 0 : -EDOM;
}

void wi_model_fit(struct wi_sweep *s)
{
	struct wi_model *m = &s->model;
	double slo = (double)s->cfg->slo_p99_ns;
	bool tried[WI_MAX_COUNTS * WI_MAX_LOADS] = { false };
	struct an_fit fit;

	memset(m, 0, sizeof(*m));
	m->form = an_form_name(AN_FORM_MG1);
	m->fit_cell = -1;
	for (int i = 0; i < s->n_cells; i++) {
		s->cells[i].pred_p50 = s->cells[i].pred_p99 = s->cells[i].model_ratio = NAN;
		s->cells[i].pred_pass = s->cells[i].model_agrees = -1;
	}
	/* The passing cell nearest saturation says the most about capacity;
	 * fall back to the next when its quantiles cannot be fitted. */
	for (;;) {
		int best = -1;

		for (int i = 0; i < s->n_cells; i++) {
			const struct wi_cell *c = &s->cells[i];

			if (c->status == WI_PASS && !tried[i] && c->requests >= 50 &&
			    (best < 0 || lam_of(c) > lam_of(&s->cells[best])))
				best = i;
		}
		if (best < 0)
			break;
		tried[best] = true;
		if (try_fit(s, &s->cells[best], &fit) == 0 && fit.mu > 0 && isfinite(fit.mu)) {
			m->fit_cell = best;
			break;
		}
	}
	if (m->fit_cell < 0) {
		snprintf(m->why, sizeof(m->why), "no cell met the SLO with 50 requests and "
			 "quantiles the model can be fitted to");
		return;
	}
	m->ok = true;
	m->mu = fit.mu;
	m->d0 = fit.d0;
	m->cs2 = fit.cs2;
	for (int i = 0; i < s->n_cells; i++) {
		struct wi_cell *c = &s->cells[i];
		double lam = lam_of(c);

		c->pred_p50 = predict(&fit, lam, 0.50) * 1e9;
		c->pred_p99 = predict(&fit, lam, 0.99) * 1e9;
		c->pred_pass = c->pred_p99 <= slo;
		if (!ran(c))
			continue;
		c->model_ratio = c->p99.v / c->pred_p99;
		/* the latency's verdict, which is all the model predicts: a
		 * cell failed on errors or on a load not reached is no
		 * disagreement */
		bool pass = c->p99.v <= slo;
		/* Within the measured p99's 95% interval, widened by the
		 * tolerance: a p99 of 100 samples is their largest or so. */
		bool close = c->pred_p99 >= c->p99.lo / WI_MODEL_TOLERANCE &&
			     c->pred_p99 <= c->p99.hi * WI_MODEL_TOLERANCE;

		c->model_agrees = pass == (c->pred_pass == 1) && (!pass || close);
		if (!c->model_agrees)
			m->disagree++;
	}
}

void wi_print_model(FILE *out, struct wi_sweep *s)
{
	const struct wi_model *m = &s->model;

	if (!m->ok) {
		fprintf(out, "\nmodel: not fitted: %s\n", m->why);
		return;
	}
	const struct wi_cell *f = &s->cells[m->fit_cell];

	fprintf(out, "\nmodel %s fitted on %u x %s: %.1f requests/s per instance, fixed %.2f ms, "
		"service SCV %.2f\n", m->form, f->instances, s->cfg->loads[f->load].text, m->mu,
		m->d0 * 1e3, m->cs2);
	fprintf(out, "%5s %-8s %12s %12s %12s %7s  %s\n", "inst", "load", "p99 ms", "model p99",
		"model p50", "ratio", "verdicts");
	for (int i = 0; i < s->n_cells; i++) {
		const struct wi_cell *c = &s->cells[i];

		fprintf(out, "%5u %-8s %12.2f %12.2f %12.2f %7.2f  %s / model %s%s\n", c->instances,
			s->cfg->loads[c->load].text, c->p99.v / 1e6, c->pred_p99 / 1e6,
			c->pred_p50 / 1e6, c->model_ratio, wi_status_str(c->status),
			c->pred_pass ? "pass" : "fail",
			c->model_agrees == 0 ? "  DISAGREE" : i == m->fit_cell ? "  (fitted here)" : "");
	}
	fprintf(out, "%d of the cells run disagree with the model (its p99 outside the measured "
		"p99's 95%% interval widened %gx, or another verdict)\n", m->disagree,
		WI_MODEL_TOLERANCE);
}
