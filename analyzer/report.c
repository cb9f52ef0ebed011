/* The HTML report. Everything is drawn here as inline SVG with a few CSS
 * rules; the one inline script moves the what-if sliders over answers
 * embedded in the page. No font, image or data to fetch, so the page
 * opens anywhere and a headless browser logs nothing. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "clients.h"
#include "predict.h"
#include "report.h"

#define W 640
#define H 300
#define ML 70	/* margins */
#define MR 20
#define MT 20
#define MB 45

static const char *const colour_kind[] = { "#2e7d32", "#c62828", "#9e9e9e" };

struct scale {
	double lo, hi;
	bool log;
	double p0, p1;	/* pixels */
};

static double sx(const struct scale *s, double v)
{
	double f;

	if (s->log) {
		v = v > 0 ? log10(v) : log10(s->lo);
		f = (v - log10(s->lo)) / (log10(s->hi) - log10(s->lo));
	} else {
		f = (v - s->lo) / (s->hi - s->lo);
	}
	if (!isfinite(f))
		f = 0;
	if (f < -0.05)
		f = -0.05;
	if (f > 1.05)
		f = 1.05;
	return s->p0 + f * (s->p1 - s->p0);
}

static const char *ms(char *buf, size_t len, double ns)
{
	if (!isfinite(ns))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.3g ms", ns / 1e6);
	return buf;
}

/* Nice range for an axis: a little room around [lo, hi]. */
static void range(struct scale *s, double lo, double hi, bool logscale)
{
	if (!isfinite(lo) || !isfinite(hi) || hi <= lo) {
		lo = isfinite(lo) ? lo : 0;
		hi = lo > 0 ? lo * 2 : 1;
	}
	s->log = logscale && lo > 0;
	if (s->log) {
		s->lo = pow(10, floor(log10(lo) * 4) / 4);
		s->hi = pow(10, ceil(log10(hi) * 4) / 4);
		if (s->hi <= s->lo)
			s->hi = s->lo * 10;
	} else {
		double pad = (hi - lo) * 0.08;

		s->lo = lo - pad < 0 && lo >= 0 ? 0 : lo - pad;
		s->hi = hi + pad;
	}
}

static void axes(struct st_wbuf *o, const struct scale *x, const struct scale *y,
		 const char *xlabel, const char *ylabel, double yunit)
{
	st_wbuf_printf(o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"plot\"/>\n",
		       ML, MT, W - ML - MR, H - MT - MB);
	for (int i = 0; i <= 4; i++) {
		double fx = x->lo + (x->hi - x->lo) * i / 4;
		double fy = y->log ? pow(10, log10(y->lo) + (log10(y->hi) - log10(y->lo)) * i / 4) :
				     y->lo + (y->hi - y->lo) * i / 4;
		double px = sx(x, fx), py = sx(y, fy);

		st_wbuf_printf(o, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" class=\"grid\"/>"
			       "<text x=\"%.1f\" y=\"%d\" class=\"tick\" text-anchor=\"middle\">%.3g</text>\n",
			       px, MT, px, H - MB, px, H - MB + 15, fx);
		st_wbuf_printf(o, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/>"
			       "<text x=\"%d\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%.3g</text>\n",
			       ML, py, W - MR, py, ML - 5, py + 4, fy / yunit);
	}
	st_wbuf_printf(o, "<text x=\"%d\" y=\"%d\" class=\"label\" text-anchor=\"middle\">%s</text>\n",
		       (ML + W - MR) / 2, H - 8, xlabel);
	st_wbuf_printf(o, "<text x=\"14\" y=\"%d\" class=\"label\" text-anchor=\"middle\" "
		       "transform=\"rotate(-90 14 %d)\">%s</text>\n", (MT + H - MB) / 2,
		       (MT + H - MB) / 2, ylabel);
}

static void legend(struct st_wbuf *o, int i, const char *colour, const char *text, bool dot)
{
	int x = ML + 10 + i * 150, y = MT + 14;

	if (dot)
		st_wbuf_printf(o, "<circle cx=\"%d\" cy=\"%d\" r=\"4\" fill=\"%s\"/>", x + 8, y - 4, colour);
	else
		st_wbuf_printf(o, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
			       "stroke-width=\"2\"/>", x, y - 4, x + 16, y - 4, colour);
	st_wbuf_printf(o, "<text x=\"%d\" y=\"%d\" class=\"tick\">%s</text>\n", x + 20, y, text);
}

static const struct an_eval *eval_at(const struct an_service *s, uint32_t i)
{
	/* i-th oldest */
	uint32_t first = (s->evals_head + AN_EVALS_MAX - s->n_evals) % AN_EVALS_MAX;

	return &s->evals[(first + i) % AN_EVALS_MAX];
}

/* 1. p50/p90/p99 of prod, shadow, prediction: grouped bars, shadow with
 * its interval. */
static void chart_percentiles(struct st_wbuf *o, const struct an_service *s)
{
	const struct st_verdict *v = &s->last;
	const struct an_eval *e = s->n_evals ? eval_at(s, s->n_evals - 1) : NULL;
	static const char *const names[3] = { "p50", "p90", "p99" };
	static const char *const colour[3] = { "#1565c0", "#ef6c00", "#6a1b9a" };
	double vals[3][3], hi = 0;
	struct scale y = { .p0 = H - MB, .p1 = MT + 20 };
	int gw = (W - ML - MR) / 3;

	for (int q = 0; q < 3; q++) {
		const struct st_verdict_kpi *k = &v->kpis[q];

		vals[q][0] = e ? e->prod[q] : NAN;
		vals[q][1] = k->observed;
		vals[q][2] = k->predicted;
		for (int i = 0; i < 3; i++)
			if (isfinite(vals[q][i]) && vals[q][i] > hi)
				hi = vals[q][i];
		if (isfinite(k->ci_high) && k->ci_high > hi)
			hi = k->ci_high;
	}
	range(&y, 0, hi > 0 ? hi : 1, false);
	st_wbuf_printf(o, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
		       "role=\"img\"><title>latency percentiles</title>\n", W, H, W, H);
	st_wbuf_printf(o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"plot\"/>\n",
		       ML, MT, W - ML - MR, H - MT - MB);
	for (int i = 0; i <= 4; i++) {
		double f = y.lo + (y.hi - y.lo) * i / 4, py = sx(&y, f);

		st_wbuf_printf(o, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/>"
			       "<text x=\"%d\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%.3g</text>\n",
			       ML, py, W - MR, py, ML - 5, py + 4, f / 1e6);
	}
	for (int q = 0; q < 3; q++) {
		int x0 = ML + q * gw + gw / 6, bw = gw / 5;

		for (int i = 0; i < 3; i++) {
			double val = vals[q][i], py;

			if (!isfinite(val))
				continue;
			py = sx(&y, val);
			st_wbuf_printf(o, "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" "
				       "fill=\"%s\"><title>%s %s: %.4g ms</title></rect>\n",
				       x0 + i * bw, py, bw - 4, (double)(H - MB) - py, colour[i],
				       names[q], i == 0 ? "prod" : i == 1 ? "shadow" : "predicted",
				       val / 1e6);
		}
		if (isfinite(v->kpis[q].ci_low) && isfinite(v->kpis[q].ci_high)) {
			double cx = x0 + bw + (bw - 4) / 2.0;

			st_wbuf_printf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
				       "class=\"whisker\"/>\n", cx, sx(&y, v->kpis[q].ci_low), cx,
				       sx(&y, v->kpis[q].ci_high));
		}
		st_wbuf_printf(o, "<text x=\"%d\" y=\"%d\" class=\"label\" text-anchor=\"middle\">%s</text>\n",
			       ML + q * gw + gw / 2, H - MB + 18, names[q]);
	}
	st_wbuf_printf(o, "<text x=\"14\" y=\"%d\" class=\"label\" text-anchor=\"middle\" "
		       "transform=\"rotate(-90 14 %d)\">latency (ms)</text>\n", (MT + H - MB) / 2,
		       (MT + H - MB) / 2);
	legend(o, 0, colour[0], "prod (pooled)", false);
	legend(o, 1, colour[1], "shadow, with interval", false);
	legend(o, 2, colour[2], "predicted for shadow", false);
	st_wbuf_printf(o, "</svg>\n");
}

/* Which windows a series draws. */
enum pick { ALL, HEALTHY, CHAOS };

static bool picked(const struct an_win *w, enum pick k)
{
	return w->total > 0 && (k == ALL || (w->chaos > 0) == (k == CHAOS));
}

static void series(struct st_wbuf *o, const struct an_target *t, const struct scale *x,
		   const struct scale *y, double t0, const char *colour, enum pick k)
{
	bool first = true;

	if (t == NULL || t->len == 0)
		return;
	st_wbuf_printf(o, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
		       colour);
	for (uint32_t i = t->len; i-- > 0;) {
		const struct an_win *w = an_target_win(t, i);

		if (!picked(w, k))
			continue;
		st_wbuf_printf(o, "%s%.1f,%.1f", first ? "" : " ",
			       sx(x, (double)w->t1 / 1e9 - t0), sx(y, w->p99));
		first = false;
	}
	st_wbuf_printf(o, "\"/>\n");
}


/* Opens a p99-over-time chart: scales over [t0, t1] and [lo, hi] (an empty
 * span gets a unit one), the axes and the SLO line. Returns the t0 the
 * series are drawn from. */
static double p99_chart_open(struct st_wbuf *o, const struct an_service *s, struct scale *x,
			     struct scale *y, double t0, double t1, double lo, double hi,
			     const char *title)
{
	double slo = (double)s->plan.slo_p99_ns;

	if (!isfinite(t0)) {
		t0 = 0;
		t1 = 1;
	}
	range(x, 0, fmax(t1 - t0, 1e-3), false);
	range(y, isfinite(lo) ? lo : 1e5, hi, true);
	st_wbuf_printf(o, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
		       "role=\"img\"><title>%s</title>\n", W, H, W, H, title);
	axes(o, x, y, "time (s since the first window)", "p99 (ms, log)", 1e6);
	st_wbuf_printf(o, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"slo\"/>"
		       "<text x=\"%d\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">SLO</text>\n",
		       ML, sx(y, slo), W - MR, sx(y, slo), W - MR - 4, sx(y, slo) - 4);
	return t0;
}
/* --- forecast alerts on the time axis ------------------------------------ */

/* by kind: utilization, slo, budget, prealloc (the dashboard's too) */
static const char *const colour_alert[AN_ALERT__COUNT] = {
	"#f57c00", "#d32f2f", "#5d4037", "#7b1fa2",
};
/* alert marks sit just above the verdicts' boxes */
#define ALERT_ROW (H - MB - 14)

static const struct an_alert_mark *alert_mark_at(const struct an_service *s, uint32_t i)
{
	/* i-th oldest of those kept */
	uint64_t kept = s->n_alert_log < AN_ALERT_LOG ? s->n_alert_log : AN_ALERT_LOG;

	return &s->alert_log[(s->n_alert_log - kept + i) % AN_ALERT_LOG];
}

static uint32_t alert_marks_kept(const struct an_service *s)
{
	return (uint32_t)(s->n_alert_log < AN_ALERT_LOG ? s->n_alert_log : AN_ALERT_LOG);
}

/* The time axis's end with the alerts on it: their sending times, and the
 * crossings they name up to a span beyond the last window (a crossing
 * further ahead is drawn at the edge, its time in its label). t0 (wall s)
 * is set from the first alert when no window set it. */
static double alerts_span(const struct an_service *s, double *t0, double t1)
{
	double end = t1;

	for (uint32_t i = 0; i < alert_marks_kept(s); i++) {
		const struct an_alert_mark *a = alert_mark_at(s, i);
		double t = (double)a->t / 1e9;

		*t0 = fmin(*t0, t);
		end = fmax(end, t);
		if (a->raise)
			end = fmax(end, (double)a->at / 1e9);
	}
	if (!isfinite(t1))
		return end;
	return fmin(end, t1 + fmax(60, t1 - *t0));
}

/* Each alert sent: a triangle above the verdicts when raised (a dashed line down
 * at the crossing it names, labelled with the kind and the count to add),
 * a hollow circle when cleared. */
static void alert_marks(struct st_wbuf *o, const struct an_service *s, const struct scale *x,
			double t0)
{
	for (uint32_t i = 0; i < alert_marks_kept(s); i++) {
		const struct an_alert_mark *a = alert_mark_at(s, i);
		const char *kind = an_alert_kind_name(a->kind), *col = colour_alert[a->kind];
		double px = sx(x, (double)a->t / 1e9 - t0);
		char when[40];

		st_wall_fmt(a->t, when, sizeof(when));
		if (!a->raise) {
			st_wbuf_printf(o, "<circle class=\"alert-clear\" data-kind=\"%s\" cx=\"%.1f\" "
				       "cy=\"%d\" r=\"4\" fill=\"#fff\" stroke=\"%s\" stroke-width=\"2\">"
				       "<title>%s alert cleared at %s (%u instances)</title></circle>\n",
				       kind, px, ALERT_ROW - 4, col, kind, when, a->current);
			continue;
		}
		{
			bool newest = true;	/* of its kind: the one labelled */
			double ahead = a->at > a->t ? (double)(a->at - a->t) / 1e9 : 0;
			double pa = sx(x, (double)a->at / 1e9 - t0);
			uint32_t add = a->instances > a->current ? a->instances - a->current : 0;

			st_wbuf_printf(o, "<path class=\"alert-raise\" data-kind=\"%s\" d=\"M%.1f %d "
				       "l-5 -8 h10 z\" fill=\"%s\"><title>%s alert raised at %s: "
				       "crossing in %.0f s, %u instances needed (add %u)</title></path>\n",
				       kind, px, ALERT_ROW, col, kind, when, ahead, a->instances, add);
			for (uint32_t j = i + 1; j < alert_marks_kept(s); j++)
				newest &= !(alert_mark_at(s, j)->raise && alert_mark_at(s, j)->kind == a->kind);
			st_wbuf_printf(o, "<line class=\"alert-at\" data-kind=\"%s\" x1=\"%.1f\" "
				       "y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\" stroke-width=\"1.5\" "
				       "stroke-dasharray=\"6 3\"/>\n", kind, pa, MT, pa, H - MB, col);
			if (newest)
				st_wbuf_printf(o, "<text x=\"%.1f\" y=\"%d\" class=\"tick\" "
					       "text-anchor=\"end\" fill=\"%s\">%s: add %u%s</text>\n",
					       pa - 3, MT + 48 + 12 * (int)a->kind, col, kind, add,
					       pa >= W - MR - 1 ? " (later)" : "");
		}
	}
}

/* The alerts as sent (newest first) and those standing now. */
static void alert_table(struct st_wbuf *o, const struct an_service *s)
{
	uint32_t n = alert_marks_kept(s);

	st_wbuf_printf(o, "<p class=\"sub\">Forecast alerts: %llu sent",
		       (unsigned long long)s->n_alert_log);
	for (int k = 0; k < AN_ALERT__COUNT; k++)
		if (s->alert[k].active)
			st_wbuf_printf(o, "; <b style=\"color:%s\">%s</b> standing: %u instances "
				       "needed %.0f s ahead of its last evaluation", colour_alert[k],
				       an_alert_kind_name((enum an_alert_kind)k), s->alert[k].instances,
				       s->alert[k].seconds_ahead);
	st_wbuf_printf(o, ". Marked on the time axis above: &#9660; raised, a dashed line at the "
		       "crossing it names, &#9675; cleared.</p>\n<table class=\"alerts\"><tr>"
		       "<th>sent (UTC)</th><th>kind</th><th>state</th><th>crossing (UTC)</th>"
		       "<th>seconds ahead</th><th>value</th><th>threshold</th><th>instances now</th>"
		       "<th>needed</th></tr>\n");
	for (uint32_t i = n; i-- > 0;) {
		const struct an_alert_mark *a = alert_mark_at(s, i);
		char t[40], at[40];

		st_wall_fmt(a->t, t, sizeof(t));
		if (a->raise)
			st_wall_fmt(a->at, at, sizeof(at));
		else
			snprintf(at, sizeof(at), "-");
		st_wbuf_printf(o, "<tr><td>%s</td><td style=\"color:%s\">%s</td><td>%s</td><td>%s</td>"
			       "<td>%.0f</td><td>%.4g</td><td>%.4g</td><td>%u</td><td>%u</td></tr>\n",
			       strchr(t, 'T') ? strchr(t, 'T') + 1 : t, colour_alert[a->kind],
			       an_alert_kind_name(a->kind), a->raise ? "raise" : "clear",
			       strchr(at, 'T') ? strchr(at, 'T') + 1 : at,
			       a->raise && a->at > a->t ? (double)(a->at - a->t) / 1e9 : 0,
			       a->value, a->threshold, a->current, a->instances);
	}
	st_wbuf_printf(o, "</table>\n");
}

/* 2. p99 per window, prod and shadow, the prediction, verdicts marked. */
static void chart_p99(struct st_wbuf *o, const struct an_service *s)
{
	const struct an_target *prod = an_service_target(s, "prod");
	const struct an_target *sh = an_service_target(s, s->plan.shadow);
	double t0 = INFINITY, t1 = -INFINITY, lo = INFINITY, hi = 0;
	struct scale x = { .p0 = ML, .p1 = W - MR }, y = { .p0 = H - MB, .p1 = MT + 20 };
	const struct an_target *ts[2] = { prod, sh };
	bool first = true;

	for (int k = 0; k < 2; k++) {
		if (ts[k] == NULL)
			continue;
		for (uint32_t i = 0; i < ts[k]->len; i++) {
			const struct an_win *w = an_target_win(ts[k], i);

			if (w->total <= 0)
				continue;
			t0 = fmin(t0, (double)w->t1 / 1e9);
			t1 = fmax(t1, (double)w->t1 / 1e9);
			lo = fmin(lo, w->p99);
			hi = fmax(hi, w->p99);
		}
	}
	for (uint32_t i = 0; i < s->n_evals; i++) {
		const struct an_eval *e = eval_at(s, i);

		if (isfinite(e->pred[2]) && e->pred[2] > 0) {
			lo = fmin(lo, e->pred[2]);
			hi = fmax(hi, e->pred[2]);
		}
	}
	hi = fmax(hi, (double)s->plan.slo_p99_ns);
	t1 = alerts_span(s, &t0, t1);
	t0 = p99_chart_open(o, s, &x, &y, t0, t1, lo, hi, "p99 per window");
	series(o, prod, &x, &y, t0, "#1565c0", ALL);
	series(o, sh, &x, &y, t0, "#ef6c00", ALL);
	st_wbuf_printf(o, "<polyline fill=\"none\" stroke=\"#6a1b9a\" stroke-dasharray=\"5 3\" "
		       "stroke-width=\"1.5\" points=\"");
	for (uint32_t i = 0; i < s->n_evals; i++) {
		const struct an_eval *e = eval_at(s, i);

		if (!isfinite(e->pred[2]) || e->pred[2] <= 0)
			continue;
		st_wbuf_printf(o, "%s%.1f,%.1f", first ? "" : " ",
			       sx(&x, (double)e->t / 1e9 - t0), sx(&y, e->pred[2]));
		first = false;
	}
	st_wbuf_printf(o, "\"/>\n");
	for (uint32_t i = 0; i < s->n_evals; i++) {
		const struct an_eval *e = eval_at(s, i);
		double px = sx(&x, (double)e->t / 1e9 - t0);

		st_wbuf_printf(o, "<rect x=\"%.1f\" y=\"%d\" width=\"6\" height=\"8\" fill=\"%s\">"
			       "<title>%s, %u instances</title></rect>\n", px - 3, H - MB - 10,
			       colour_kind[e->kind], st_verdict_kind_str(e->kind), e->recommended);
	}
	alert_marks(o, s, &x, t0);
	legend(o, 0, "#1565c0", "prod p99", false);
	legend(o, 1, "#ef6c00", "shadow p99", false);
	legend(o, 2, "#6a1b9a", "predicted (dashed)", false);
	st_wbuf_printf(o, "<text x=\"%d\" y=\"%d\" class=\"tick\">verdicts: "
		       "<tspan fill=\"%s\">confirm</tspan> <tspan fill=\"%s\">adjust</tspan> "
		       "<tspan fill=\"%s\">inconclusive</tspan></text>\n", ML + 10, MT + 32,
		       colour_kind[0], colour_kind[1], colour_kind[2]);
	st_wbuf_printf(o, "</svg>\n");
}

/* 4. Resilience: p99 per window of the healthy shadow and of the
 * resilience group under its fault, the SLO, and what the verdict says. */
static void chart_resilience(struct st_wbuf *o, const struct an_service *s)
{
	const struct an_target *sh = an_service_target(s, s->plan.shadow);
	const struct an_target *rs = an_service_target(s, s->plan.resilience_shadow);
	const struct st_resilience *r = &s->last.resilience;
	double t0 = INFINITY, t1 = -INFINITY, lo = INFINITY, hi = (double)s->plan.slo_p99_ns;
	struct scale x = { .p0 = ML, .p1 = W - MR }, y = { .p0 = H - MB, .p1 = MT + 20 };
	const struct an_target *ts[2] = { sh, rs };
	const enum pick pk[2] = { HEALTHY, CHAOS };

	for (int k = 0; k < 2; k++) {
		for (uint32_t i = 0; ts[k] != NULL && i < ts[k]->len; i++) {
			const struct an_win *w = an_target_win(ts[k], i);

			if (!picked(w, pk[k]))
				continue;
			t0 = fmin(t0, (double)w->t1 / 1e9);
			t1 = fmax(t1, (double)w->t1 / 1e9);
			lo = fmin(lo, w->p99);
			hi = fmax(hi, w->p99);
		}
	}
	t0 = p99_chart_open(o, s, &x, &y, t0, t1, lo, hi, "p99 healthy and under the fault");
	series(o, sh, &x, &y, t0, "#ef6c00", HEALTHY);
	series(o, rs, &x, &y, t0, "#c62828", CHAOS);
	legend(o, 0, "#ef6c00", "healthy shadow p99", false);
	legend(o, 1, "#c62828", "p99 under the fault", false);
	st_wbuf_printf(o, "</svg>\n<p class=\"verdict\" style=\"border-color:%s\">",
		       r->windows == 0 ? "#9e9e9e" : r->slo_met ? colour_kind[0] : colour_kind[1]);
	if (r->windows > 0)
		st_wbuf_printf(o, "<b>SLO %s under the fault</b>; ", r->slo_met ? "holds" : "breaks");
	if (r->recommended_instances > 0)
		st_wbuf_printf(o, "<b>%u instances</b> hold it with %u down%s. ",
			       r->recommended_instances, r->down,
			       r->reachable ? "" : " (out of reach: max_instances)");
	st_wbuf_html(o, r->reason);
	if (r->has_chaos) {
		st_wbuf_printf(o, "<br>chaos: loss %.3g%%, down ", r->chaos.loss * 100);
		st_wbuf_html(o, r->chaos.down[0] ? r->chaos.down : "none");
		st_wbuf_printf(o, ", respread %s", r->chaos.respread ? "yes" : "no");
		for (uint32_t i = 0; i < r->chaos.n_params; i++) {
			st_wbuf_printf(o, ", ");
			st_wbuf_html(o, r->chaos.params[i].key);
			st_wbuf_printf(o, " ");
			st_wbuf_html(o, r->chaos.params[i].value);
		}
	}
	st_wbuf_printf(o, "</p>\n<table><tr><th>time (UTC)</th><th>healthy shadow p99</th>"
		       "<th>p99 under the fault</th><th>fewest with the fault</th></tr>\n");
	for (uint32_t i = s->n_evals, k = 0; i-- > 0 && k < 10; k++) {
		const struct an_eval *e = eval_at(s, i);
		char t[40], a[32], b[32];

		st_wall_fmt(e->t, t, sizeof(t));
		st_wbuf_printf(o, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s%.0u</td></tr>\n",
			       strchr(t, 'T') ? strchr(t, 'T') + 1 : t, ms(a, sizeof(a), e->obs[2]),
			       ms(b, sizeof(b), e->res_p99), e->res_rec ? "" : "-", e->res_rec);
	}
	st_wbuf_printf(o, "</table>\n");
}

static void dots(struct st_wbuf *o, const struct an_target *t, uint32_t c_override,
		 const struct scale *x, const struct scale *y, const char *colour)
{
	if (t == NULL)
		return;
	for (uint32_t i = 0; i < t->len; i++) {
		const struct an_win *w = an_target_win(t, i);

		if (w->total <= 0)
			continue;
		st_wbuf_printf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\" "
			       "fill-opacity=\"0.6\"/>\n", sx(x, an_win_rate(w, c_override)),
			       sx(y, w->p99), colour);
	}
}

static void curve(struct st_wbuf *o, const struct an_model *m, enum an_form f,
		  const struct an_fit *fit, uint32_t c, const struct scale *x,
		  const struct scale *y, const char *colour, const char *dash)
{
	bool first = true;

	if (fit->w <= 0)
		return;
	st_wbuf_printf(o, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" %s points=\"",
		       colour, dash);
	for (int i = 0; i <= 100; i++) {
		double lam = x->lo + (x->hi - x->lo) * i / 100;
		double v = (fit->d0 + an_model_q(m, f, fit, lam, c, 0.99)) * 1e9;

		if (!isfinite(v) || v > y->hi * 1.2)
			break;
		st_wbuf_printf(o, "%s%.1f,%.1f", first ? "" : " ", sx(x, lam), sx(y, v));
		first = false;
	}
	st_wbuf_printf(o, "\"/>\n");
}

/* 3. Request rate per instance against p99, with the fitted curves. */
static void chart_load(struct st_wbuf *o, const struct an_service *s)
{
	const struct an_target *prod = an_service_target(s, "prod");
	const struct an_target *sh = an_service_target(s, s->plan.shadow);
	const struct an_model *m = &s->model;
	enum an_form f = m->form == AN_FORM_USL ? AN_FORM_MM1 : m->form;
	struct scale x = { .p0 = ML, .p1 = W - MR }, y = { .p0 = H - MB, .p1 = MT + 20 };
	double lmax = s->plan.forecast_rps / s->plan.proposed_instances, plo = INFINITY, phi = 0;
	const struct an_target *ts[2] = { prod, sh };
	uint32_t c_prod = s->plan.current_instances, c_sh = s->plan.shadow_instances;

	for (int k = 0; k < 2; k++) {
		if (ts[k] == NULL)
			continue;
		for (uint32_t i = 0; i < ts[k]->len; i++) {
			const struct an_win *w = an_target_win(ts[k], i);

			if (w->total <= 0)
				continue;
			lmax = fmax(lmax, an_win_rate(w, k ? c_sh : 0));
			plo = fmin(plo, w->p99);
			phi = fmax(phi, w->p99);
		}
	}
	if (m->prod[f].w > 0)
		lmax = fmin(fmax(lmax, 0), m->prod[f].mu * 0.98);
	phi = fmax(phi, (double)s->plan.slo_p99_ns);
	range(&x, 0, lmax * 1.1, false);
	range(&y, isfinite(plo) ? plo * 0.8 : 1e5, phi * 1.5, true);
	st_wbuf_printf(o, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
		       "role=\"img\"><title>load against latency</title>\n", W, H, W, H);
	axes(o, &x, &y, "requests per second per instance", "p99 (ms, log)", 1e6);
	st_wbuf_printf(o, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"slo\"/>\n",
		       ML, sx(&y, (double)s->plan.slo_p99_ns), W - MR,
		       sx(&y, (double)s->plan.slo_p99_ns));
	{
		double px = sx(&x, s->plan.forecast_rps / s->plan.proposed_instances);

		st_wbuf_printf(o, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" class=\"slo\"/>"
			       "<text x=\"%.1f\" y=\"%d\" class=\"tick\">proposal</text>\n",
			       px, MT, px, H - MB, px + 3, H - MB - 4);
	}
	dots(o, prod, 0, &x, &y, "#1565c0");
	dots(o, sh, c_sh, &x, &y, "#ef6c00");
	curve(o, m, f, &m->prod[f], c_prod, &x, &y, "#6a1b9a", "");
	curve(o, m, f, &m->shadow[f], c_sh ? c_sh : 1, &x, &y, "#ef6c00", "stroke-dasharray=\"5 3\"");
	legend(o, 0, "#1565c0", "prod windows", true);
	legend(o, 1, "#ef6c00", "shadow windows", true);
	legend(o, 2, "#6a1b9a", "model fit (prod)", false);
	st_wbuf_printf(o, "</svg>\n");
}

/* --- the predicted heatmap ----------------------------------------------- */

/* The loads (multiples of the forecast) and the counts the dashboard's
 * heatmap shows (analyzer/dashboard.html, HEAT_LOADS and heatCounts). */
static const double heat_loads[] = { 0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 4 };
#define HEAT_NL (sizeof(heat_loads) / sizeof(heat_loads[0]))
#define HEAT_MAXC 26

/* The highest count shown (dashboard.html, instancesTop): twice the
 * proposal, at least 4, never past max_instances (the what-if refuses
 * those). */
static uint32_t instances_top(const struct an_plan *pl)
{
	uint32_t top = pl->proposed_instances * 2 > 4 ? pl->proposed_instances * 2 : 4;

	if (pl->max_instances > 0 && pl->max_instances < top)
		top = pl->max_instances;
	return top > 0 ? top : 1;
}

#define HEAT_WORK 2000000.0	/* dashboard.html's WHATIF_WORK */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* dashboard.html's heatCounts: up to the top in at most 24 steps, the top
 * and the proposal always in, fewer steps while the instances over all
 * cells pass the what-if's work bound. */
static uint32_t heat_counts(const struct an_plan *pl, uint32_t out[HEAT_MAXC])
{
	const uint32_t top = instances_top(pl), proposed = pl->proposed_instances;
	uint32_t n;

	for (uint32_t cols = 24;; cols /= 2) {
		uint32_t step = (top + cols - 1) / cols;
		bool has = false;
		double sum = 0;

		n = 0;
		for (uint32_t c = step; c <= top; c += step) {
			out[n++] = c;
			has |= c == proposed;
		}
		if (out[n - 1] != top) {
			out[n++] = top;
			has |= top == proposed;
		}
		if (proposed <= top && !has)
			out[n++] = proposed;
		for (uint32_t i = 0; i < n; i++)
			sum += out[i];
		if (cols <= 2 || (double)HEAT_NL * sum <= HEAT_WORK)
			break;
	}
	qsort(out, n, sizeof(out[0]), cmp_u32);
	return n;
}

static void js_num(struct st_wbuf *o, double v)
{
	if (isfinite(v))
		st_wbuf_printf(o, "%.6g", v);
	else
		st_wbuf_printf(o, "null");
}

#define WHATIF_NL 16		/* the load slider: 0.25x..4x in steps of 0.25 */
#define WHATIF_MAXC 64

/* The what-if controls: two sliders, load (0.25x-4x the forecast) and
 * instance count (up to twice the proposal or max_instances, at most 65 positions), showing
 * the model's p99, bound, error rate, utilisation, hourly cost, the SLO
 * and the evidence as they move. The report is a file, not a client of
 * the API: every position's answer (an_pred_point, what GET .../whatif
 * gives) is computed here and embedded as JSON; the page's one inline
 * script (report_script) only looks them up. */
static void whatif_controls(struct st_wbuf *o, const struct an_service *s, const struct an_pred *p)
{
	const struct an_plan *pl = &s->plan;
	uint32_t top = instances_top(pl);
	uint32_t step = (top + WHATIF_MAXC - 1) / WHATIF_MAXC, nc = 0, counts[WHATIF_MAXC + 1];

	for (uint32_t c = step; c <= top && nc < WHATIF_MAXC; c += step)
		counts[nc++] = c;
	if (counts[nc - 1] != top)
		counts[nc++] = top;	/* the top always there, as the dashboard's */
	st_wbuf_printf(o, "<div class=\"whatif\" data-service=\"");
	st_wbuf_html(o, s->name);
	st_wbuf_printf(o, "\"><b>What-if</b> (the model's prediction): "
		       "<label>load <input type=\"range\" class=\"whatif-load\" min=\"0\" max=\"%d\" "
		       "step=\"1\" value=\"3\"> <span data-field=\"load\"></span></label> "
		       "<label>instances <input type=\"range\" class=\"whatif-instances\" min=\"0\" "
		       "max=\"%u\" step=\"1\" value=\"0\"> <span data-field=\"instances\"></span></label>"
		       "<div class=\"out\">", WHATIF_NL - 1, nc - 1);
	{
		static const char *const f[][2] = {
			{ "p99", "p99" }, { "p99_hi", "p99 bound" }, { "error_rate", "error rate" },
			{ "utilization", "utilisation" }, { "cost_per_hour", "cost / h" },
			{ "meets_slo", "SLO" }, { "evidence", "evidence" },
		};

		for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
			st_wbuf_printf(o, "<div><b data-field=\"%s\">-</b>%s</div>", f[i][0], f[i][1]);
	}
	st_wbuf_printf(o, "</div><script type=\"application/json\" class=\"whatif-data\">"
		       "{\"forecast_rps\":");
	js_num(o, pl->forecast_rps);
	st_wbuf_printf(o, ",\"proposed\":%u,\"loads\":[", pl->proposed_instances);
	for (int i = 0; i < WHATIF_NL; i++)
		st_wbuf_printf(o, "%s%g", i ? "," : "", 0.25 * (i + 1));
	st_wbuf_printf(o, "],\"counts\":[");
	for (uint32_t k = 0; k < nc; k++)
		st_wbuf_printf(o, "%s%u", k ? "," : "", counts[k]);
	/* per load, per count: p99, p99_hi, error rate, utilisation, cost,
	 * meets (0/1), evidence */
	st_wbuf_printf(o, "],\"points\":[");
	for (int i = 0; i < WHATIF_NL; i++)
		for (uint32_t k = 0; k < nc; k++) {
			struct an_pred_point pt;

			an_pred_point(&s->model, p, pl, 0.25 * (i + 1) * pl->forecast_rps, counts[k], &pt);
			{
				const double v[] = { pt.p99, pt.p99_hi, pt.err, pt.util, pt.cost_per_hour };

				st_wbuf_printf(o, "%s[", i || k ? "," : "");
				for (size_t j = 0; j < sizeof(v) / sizeof(v[0]); j++) {
					js_num(o, v[j]);
					st_wbuf_printf(o, ",");
				}
			}
			st_wbuf_printf(o, "%d,\"%s\"]", pt.meets, an_evidence_name(pt.evidence));
		}
	st_wbuf_printf(o, "]}</script></div>\n");
}

/* The page's one script: the what-if sliders look up the answers
 * embedded beside them. Nothing is fetched. */
static const char report_script[] =
	"<script>\n\"use strict\";\n"
	"const ms = s => s == null ? \"saturated\" : (s * 1e3).toFixed(s < 0.01 ? 2 : 1) + \" ms\";\n"
	"document.querySelectorAll(\".whatif\").forEach(w => {\n"
	"  const d = JSON.parse(w.querySelector(\"script.whatif-data\").textContent);\n"
	"  const L = w.querySelector(\"input.whatif-load\"), N = w.querySelector(\"input.whatif-instances\");\n"
	"  const f = k => w.querySelector('[data-field=\"' + k + '\"]');\n"
	"  const k0 = d.counts.findIndex(n => n >= d.proposed);\n"
	"  N.value = String(k0 < 0 ? d.counts.length - 1 : k0);\n"
	"  const show = () => {\n"
	"    const i = +L.value, k = +N.value, p = d.points[i * d.counts.length + k];\n"
	"    const set = (key, text, raw) => { f(key).textContent = text; f(key).dataset.value = raw == null ? \"\" : String(raw); };\n"
	"    set(\"load\", d.loads[i] + \"x (\" + (d.loads[i] * d.forecast_rps).toFixed(0) + \" rps)\", d.loads[i]);\n"
	"    set(\"instances\", String(d.counts[k]), d.counts[k]);\n"
	"    set(\"p99\", ms(p[0]), p[0]);\n"
	"    set(\"p99_hi\", ms(p[1]), p[1]);\n"
	"    set(\"error_rate\", p[2] == null ? \"-\" : p[2] < 1e-6 ? \"< 0.0001 %\" : (p[2] * 100).toPrecision(3) + \" %\", p[2]);\n"
	"    set(\"utilization\", p[3] == null ? \"-\" : (p[3] * 100).toFixed(1) + \" %\", p[3]);\n"
	"    set(\"cost_per_hour\", p[4] == null ? \"unpriced\" : p[4].toFixed(2), p[4]);\n"
	"    set(\"meets_slo\", p[5] ? \"met\" : \"missed\", p[5] ? \"true\" : \"false\");\n"
	"    f(\"meets_slo\").style.color = p[5] ? \"#2e7d32\" : \"#c62828\";\n"
	"    set(\"evidence\", p[6], p[6]);\n"
	"  };\n"
	"  L.addEventListener(\"input\", show);\n"
	"  N.addEventListener(\"input\", show);\n"
	"  show();\n"
	"});\n</script>\n";

/* 5. The model's p99 over loads 0.25x-4x the forecast x counts up to
 * twice the proposal or max_instances, coloured by p99/SLO (green well within, amber at
 * it, red at twice it; dark red saturated), the cells meeting the SLO
 * under the bound outlined, the fewest such count per load (the SLO
 * frontier) dashed, the proposal's column outlined in blue. */
static void chart_heat(struct st_wbuf *o, const struct an_service *s, const struct an_config *cfg)
{
	const struct an_plan *pl = &s->plan;
	uint32_t counts[HEAT_MAXC], nc = heat_counts(pl, counts);
	int L = 104, cw = (W - L - 10) / (int)nc, ch = 24, T = 14, HH = T + ch * (int)HEAT_NL + 40;
	struct an_pred scratch;
	const struct an_pred *p = an_pred_pick(s->has_pred, &s->pred, &s->model, cfg->model_weight,
					       (double)cfg->response_timeout_ns / 1e9, &scratch);
	bool first = true;

	if (cw > 48)
		cw = 48;
	if (p == NULL || !(pl->forecast_rps > 0)) {
		st_wbuf_printf(o, "<p class=\"sub\">No prediction: %s.</p>\n",
			       p == NULL ? "the model has no fit yet" : "the plan has no forecast_rps");
		return;
	}
	st_wbuf_printf(o, "<svg class=\"chart heat\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
		       "role=\"img\"><title>predicted p99 over load and instances</title>\n",
		       W, HH, W, HH);
	for (uint32_t i = 0; i < HEAT_NL; i++) {
		int y = T + ch * (int)(HEAT_NL - 1 - i);

		st_wbuf_printf(o, "<text x=\"4\" y=\"%d\" class=\"tick\">%gx (%.0f/s)</text>\n", y + 15,
			       heat_loads[i], heat_loads[i] * pl->forecast_rps);
		for (uint32_t k = 0; k < nc; k++) {
			struct an_pred_point pt;
			char bg[16], r[16];

			an_pred_point(&s->model, p, pl, heat_loads[i] * pl->forecast_rps, counts[k], &pt);
			if (isfinite(pt.p99_over_slo))
				st_heat_colour(pt.p99_over_slo, 2, bg, sizeof(bg));
			else
				snprintf(bg, sizeof(bg), "#7a0d0d");
			snprintf(r, sizeof(r), isfinite(pt.p99_over_slo) ? "%.2f" : "sat",
				 pt.p99_over_slo);
			st_wbuf_printf(o, "<rect class=\"cell\" data-load=\"%g\" data-instances=\"%u\" "
				       "data-ratio=\"%s\" data-meets=\"%d\" data-p99=\"%.6g\" x=\"%d\" "
				       "y=\"%d\" width=\"%d\" "
				       "height=\"%d\" fill=\"%s\"%s><title>%gx (%.0f rps) on %u: p99 %.4g ms, "
				       "bound %.4g ms, error rate %.3g%%, utilisation %.0f%%, %s the SLO, "
				       "%s</title></rect>\n", heat_loads[i], counts[k], r, pt.meets, pt.p99,
				       L + cw * (int)k, y, cw - 1, ch - 1, bg,
				       pt.meets ? " stroke=\"#114d1c\"" : "", heat_loads[i], pt.rps,
				       counts[k], pt.p99 * 1e3, pt.p99_hi * 1e3, pt.err * 100,
				       pt.util * 100, pt.meets ? "meets" : "misses",
				       an_evidence_name(pt.evidence));
			if (cw >= 26)
				st_wbuf_printf(o, "<text x=\"%d\" y=\"%d\" class=\"cellv\">%s</text>\n",
					       L + cw * (int)k + 2, y + 15, r);
		}
	}
	st_wbuf_printf(o, "<polyline class=\"frontier\" fill=\"none\" stroke=\"#000\" "
		       "stroke-width=\"2\" stroke-dasharray=\"4 2\" points=\"");
	for (uint32_t i = 0; i < HEAT_NL; i++)
		for (uint32_t k = 0; k < nc; k++) {
			struct an_pred_point pt;

			an_pred_point(&s->model, p, pl, heat_loads[i] * pl->forecast_rps, counts[k], &pt);
			if (!pt.meets)
				continue;
			st_wbuf_printf(o, "%s%d,%d", first ? "" : " ", L + cw * (int)k,
				       T + ch * (int)(HEAT_NL - 1 - i) + ch / 2);
			first = false;
			break;
		}
	st_wbuf_printf(o, "\"/>\n");
	for (uint32_t k = 0; k < nc; k++) {
		if (counts[k] == pl->proposed_instances)
			st_wbuf_printf(o, "<rect class=\"proposal\" x=\"%d\" y=\"%d\" width=\"%d\" "
				       "height=\"%d\" fill=\"none\" stroke=\"#1f4fb0\" stroke-width=\"2\"/>\n",
				       L + cw * (int)k, T - 2, cw - 1, ch * (int)HEAT_NL + 2);
		if (nc <= 16 || k % 2 == 0)
			st_wbuf_printf(o, "<text x=\"%d\" y=\"%d\" class=\"tick\">%u</text>\n",
				       L + cw * (int)k + 2, T + ch * (int)HEAT_NL + 14, counts[k]);
	}
	st_wbuf_printf(o, "<text x=\"%d\" y=\"%d\" class=\"label\">instances (blue: proposed; "
		       "dashed: fewest meeting the SLO; colour and number: p99/SLO)</text>\n</svg>\n",
		       L, HH - 6);
	st_wbuf_printf(o, "<p class=\"sub\">The model (%s, %s) evaluated as "
		       "<code>GET /api/v1/services/{name}/whatif</code> answers: green at half the SLO "
		       "and below, amber at it, red at twice it, dark red saturated; outlined: the p99 "
		       "<i>bound</i> and the error bound within the objectives (the recommendation's "
		       "test).</p>\n", an_form_name(p->form),
		       p->corrected ? "corrected by the last conclusive verdict" : "prod's model alone");
	whatif_controls(o, s, p);
}

/* A KPI value in its unit: ns as ms, ratios as percentages. */
static const char *kval(char *buf, size_t len, const char *unit, double v)
{
	if (!isfinite(v))
		snprintf(buf, len, isnan(v) ? "-" : "&infin;");
	else if (strcmp(unit, "ns") == 0)
		snprintf(buf, len, "%.4g ms", v / 1e6);
	else if (strcmp(unit, "ratio") == 0)
		snprintf(buf, len, v != 0 && fabs(v) < 1e-6 ? "&lt;0.0001%%" : "%.3g%%", v * 100);
	else
		snprintf(buf, len, "%.4g", v);
	return buf;
}

static void kpi_table(struct st_wbuf *o, const struct st_verdict *v)
{
	char a[32], b[32], c[32], d[32];

	st_wbuf_printf(o, "<table><tr><th>KPI</th><th>unit</th><th>predicted</th><th>observed</th>"
		       "<th>ratio</th><th>interval</th><th>n</th><th>status</th><th>critical</th></tr>\n");
	for (uint32_t i = 0; i < v->n_kpis; i++) {
		const struct st_verdict_kpi *k = &v->kpis[i];

		st_wbuf_printf(o, "<tr class=\"%s\"><td>", st_kpi_status_str(k->status));
		st_wbuf_html(o, k->name);
		st_wbuf_printf(o, "</td><td>");
		st_wbuf_html(o, k->unit);
		st_wbuf_printf(o, "</td><td>%s</td><td>%s</td><td>%.3f</td><td>%s &ndash; %s</td>"
			       "<td>%llu</td><td>%s</td><td>%s</td></tr>\n",
			       kval(a, sizeof(a), k->unit, k->predicted),
			       kval(b, sizeof(b), k->unit, k->observed), k->ratio,
			       kval(c, sizeof(c), k->unit, k->ci_low),
			       kval(d, sizeof(d), k->unit, k->ci_high), (unsigned long long)k->n,
			       st_kpi_status_str(k->status), k->critical ? "yes" : "");
	}
	st_wbuf_printf(o, "</table>\n");
}

static void eval_table(struct st_wbuf *o, const struct an_service *s)
{
	uint32_t from = s->n_evals > 40 ? s->n_evals - 40 : 0;
	char a[32], b[32], c[32];

	st_wbuf_printf(o, "<table><tr><th>time (UTC)</th><th>verdict</th><th>recommended</th>"
		       "<th>score</th><th>confidence</th><th>shadow p99</th><th>predicted p99</th>"
		       "<th>prod p99</th><th>rps/instance shadow</th></tr>\n");
	for (uint32_t i = s->n_evals; i-- > from;) {
		const struct an_eval *e = eval_at(s, i);
		char t[40];

		st_wall_fmt(e->t, t, sizeof(t));
		st_wbuf_printf(o, "<tr><td>%s</td><td style=\"color:%s\">%s</td><td>%u</td>"
			       "<td>%.0f</td><td>%.2f</td><td>%s</td><td>%s</td><td>%s</td><td>%.1f</td></tr>\n",
			       strchr(t, 'T') ? strchr(t, 'T') + 1 : t, colour_kind[e->kind],
			       st_verdict_kind_str(e->kind), e->recommended,
			       e->score, e->confidence, ms(a, sizeof(a), e->obs[2]),
			       ms(b, sizeof(b), e->pred[2]), ms(c, sizeof(c), e->prod[2]),
			       e->lam_shadow);
	}
	st_wbuf_printf(o, "</table>\n");
}

static void service_section(struct st_wbuf *o, const struct an_service *s,
			    const struct an_config *cfg)
{
	const struct st_verdict *v = &s->last;
	char slo[32];

	st_wbuf_printf(o, "<section><h2>service ");
	st_wbuf_html(o, s->name);
	st_wbuf_printf(o, "</h2>\n<p class=\"plan\">shadow group <b>");
	st_wbuf_html(o, s->plan.shadow);
	st_wbuf_printf(o, "</b>: %u instances now, %u proposed for %.0f rps; SLO p99 %s, "
		       "error rate %.3g%%; model %s, version %llu.</p>\n",
		       s->plan.current_instances, s->plan.proposed_instances, s->plan.forecast_rps,
		       ms(slo, sizeof(slo), (double)s->plan.slo_p99_ns), s->plan.slo_error_rate * 100,
		       an_form_name(s->model.form), (unsigned long long)s->model.version);
	if (!s->has_last) {
		st_wbuf_printf(o, "<p>No verdict yet.</p>\n");
		if (s->n_alert_log > 0) {
			st_wbuf_printf(o, "<h3>p99 per window</h3>\n");
			chart_p99(o, s);
			alert_table(o, s);
		}
		st_wbuf_printf(o, "<h3>Predicted p99 over load and instances</h3>\n");
		chart_heat(o, s, cfg);
		st_wbuf_printf(o, "</section>\n");
		return;
	}
	st_wbuf_printf(o, "<p class=\"verdict\" style=\"border-color:%s\"><b style=\"color:%s\">%s</b> "
		       "&mdash; recommended %u instances, score %.0f, confidence %.2f",
		       colour_kind[v->verdict], colour_kind[v->verdict],
		       st_verdict_kind_str(v->verdict), v->recommended_instances, v->score,
		       v->confidence);
	if (v->has_cost)
		st_wbuf_printf(o, "; hourly cost: current %.2f, proposed %.2f, recommended %.2f",
			       v->cost.current, v->cost.proposed, v->cost.recommended);
	st_wbuf_printf(o, "<br>");
	st_wbuf_html(o, v->reason);
	/* What a scaler acts on: say plainly whether it was measured. */
	if (v->has_verified) {
		st_wbuf_printf(o, "<br><b>%s:</b> ", v->verified ? "measured" :
			       "not measured (extrapolated or below the proposal)");
		st_wbuf_html(o, v->verified_reason);
	}
	st_wbuf_printf(o, "</p>\n<h3>Latency percentiles</h3>\n");
	chart_percentiles(o, s);
	st_wbuf_printf(o, "<h3>p99 per window</h3>\n");
	chart_p99(o, s);
	if (s->n_alert_log > 0 || s->plan.forecast_profile[0] != '\0')
		alert_table(o, s);
	st_wbuf_printf(o, "<h3>Load against latency</h3>\n");
	chart_load(o, s);
	st_wbuf_printf(o, "<h3>Predicted p99 over load and instances</h3>\n");
	chart_heat(o, s, cfg);
	if (v->has_resilience) {
		st_wbuf_printf(o, "<h3>Resilience: group ");
		st_wbuf_html(o, v->resilience.shadow);
		st_wbuf_printf(o, "</h3>\n");
		chart_resilience(o, s);
	}
	st_wbuf_printf(o, "<h3>KPIs of the last verdict</h3>\n");
	kpi_table(o, v);
	st_wbuf_printf(o, "<h3>Verdicts (newest first)</h3>\n");
	eval_table(o, s);
	st_wbuf_printf(o, "</section>\n");
}

static const char css[] =
	"body{font-family:sans-serif;margin:2em;color:#212121;max-width:1000px}"
	"h1{font-size:1.5em}h2{border-bottom:1px solid #bdbdbd;margin-top:2em}h3{font-size:1em}"
	"table{border-collapse:collapse;font-size:.85em;margin:.5em 0}"
	"td,th{border:1px solid #e0e0e0;padding:2px 8px;text-align:right}"
	"th{background:#f5f5f5}td:first-child{text-align:left}"
	"tr.high td,tr.low td{background:#ffebee}tr.nodata td{color:#9e9e9e}"
	".verdict{border-left:6px solid;padding:.5em 1em;background:#fafafa}"
	".plot{fill:#fff;stroke:#9e9e9e}.grid{stroke:#eeeeee}"
	".tick{font-size:11px;fill:#616161}.label{font-size:12px;fill:#424242}"
	".slo{stroke:#c62828;stroke-dasharray:2 3}.whisker{stroke:#212121;stroke-width:2}"
	"svg.chart{display:block;margin:.5em 0}.sub{font-size:.85em;color:#616161}"
	".cellv{font-size:9px;fill:#212121}"
	".whatif{margin:.5em 0}.whatif label{margin-right:1.5em}.whatif input{vertical-align:middle;width:200px}"
	".whatif .out{display:flex;gap:1.6em;margin:.4em 0}.whatif .out b{display:block;font-size:1.2em}";

int an_report_render(struct an_engine *e, struct st_wbuf *out)
{
	const struct an_counters *c = an_engine_counters(e);
	char now[40];
	uint32_t shown = 0;

	st_wall_fmt(st_wall_ns(), now, sizeof(now));
	st_wbuf_printf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		       "<title>shadowtap analyzer report</title><style>%s</style></head><body>\n"
		       "<h1>shadowtap analyzer report</h1>\n<p>Written %s. %llu snapshots merged, "
		       "%llu verdicts, %llu anomalies; refused: %llu malformed, %llu wrong version, "
		       "%llu oversized, %llu unknown topic, %llu bad histogram; %llu late, %llu lost "
		       "(seq gaps), %llu duplicates, %llu from a shared publisher id, %llu publisher "
		       "restarts.</p>\n", css, now,
		       (unsigned long long)c->kpi_merged, (unsigned long long)c->verdicts,
		       (unsigned long long)c->anomalies, (unsigned long long)c->malformed,
		       (unsigned long long)c->bad_version, (unsigned long long)c->oversized,
		       (unsigned long long)c->unknown_topic, (unsigned long long)c->bad_hist,
		       (unsigned long long)c->late, (unsigned long long)c->gaps,
		       (unsigned long long)c->duplicates, (unsigned long long)c->shared_src,
		       (unsigned long long)c->restarts);
	for (uint32_t i = 0; i < an_engine_n_services(e); i++) {
		const struct an_service *s = an_engine_service_at(e, i);

		if (!s->has_plan)
			continue;
		service_section(out, s, an_engine_config(e));
		shown++;
	}
	if (shown == 0)
		st_wbuf_printf(out, "<p>No service has a plan: nothing was judged.</p>\n");
	an_clients_report(an_engine_clients(e), out);
	st_wbuf_printf(out, "%s</body></html>\n", report_script);
	return out->oom ? -ENOMEM : 0;
}

int an_report_write(struct an_engine *e, const char *path, struct st_perr *err)
{
	struct st_wbuf b;
	char tmp[AN_PATH_MAX + 32];
	FILE *f;
	int rc;

	st_wbuf_init(&b);
	rc = an_report_render(e, &b);
	if (rc != 0) {
		snprintf(err->msg, sizeof(err->msg), "report: out of memory");
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	f = fopen(tmp, "w");
	if (f == NULL) {
		rc = -errno;
		snprintf(err->msg, sizeof(err->msg), "report %.120s: %s", tmp, strerror(errno));
		goto out;
	}
	if (fwrite(b.data, 1, b.len, f) != b.len) {
		rc = -EIO;
		fclose(f);
		unlink(tmp);
		snprintf(err->msg, sizeof(err->msg), "report %.120s: write failed", tmp);
		goto out;
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		rc = -errno;
		snprintf(err->msg, sizeof(err->msg), "report %.120s: %s", path, strerror(errno));
		unlink(tmp);
	}
out:
	st_wbuf_free(&b);
	return rc;
}
