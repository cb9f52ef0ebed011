/* The HTML page of a sweep: one self-contained file (inline CSS and SVG,
 * no script, nothing fetched), written as well-formed XHTML so any XML
 * parser reads it. The heatmap is loads x instance counts, each cell
 * coloured by how far it is from the SLO (p99 / slo_p99, or the error rate
 * over its objective when that is worse) from green through amber (at the
 * SLO) to red, the number in it; the fewest passing count per load (the
 * SLO frontier) is outlined; cells not run are grey. Then p99 against load
 * per instance count, the answers, and every cell. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "whatif.h"

#define W 640
#define H 320
#define ML 70
#define MR 130
#define MT 20
#define MB 45

static const char *const series_colour[] = {
	"#1565c0", "#6a1b9a", "#00838f", "#ef6c00", "#2e7d32", "#ad1457", "#4e342e", "#37474f",
};

/* How far a cell is from its objective: 1 at the SLO. */
static double badness(const struct wi_sweep *s, const struct wi_cell *c)
{
	double r = c->p99.v / (double)s->cfg->slo_p99_ns;
	double e = s->cfg->slo_error_rate > 0 ? c->error_rate / s->cfg->slo_error_rate :
		   (c->error_rate > 0 ? INFINITY : 0);

	if (!isfinite(r))
		r = c->status == WI_PASS ? 0 : INFINITY;
	if (isfinite(c->error_rate) && e > r)
		r = e;
	return r;
}

/* The model's p99 for the cell, and a mark where the measurement parts
 * from it. */
static void model_note(struct st_wbuf *o, const struct wi_cell *c)
{
	if (c->pred_pass < 0)
		return;
	if (isinf(c->pred_p99))
		st_wbuf_printf(o, "<br/><span class=\"model\">model: saturated");
	else
		st_wbuf_printf(o, "<br/><span class=\"model\">model %.2f ms", c->pred_p99 / 1e6);
	if (c->model_agrees == 0)
		st_wbuf_printf(o, " &#8800;");
	st_wbuf_printf(o, "</span>");
}

static void heatmap(struct st_wbuf *o, struct wi_sweep *s)
{
	const struct wi_config *cfg = s->cfg;

	st_wbuf_printf(o, "<h2>Heatmap: p99 / SLO</h2>\n<table class=\"heat\">\n<tr><th>instances \\ load</th>");
	for (int li = 0; li < cfg->n_loads; li++) {
		st_wbuf_printf(o, "<th>");
		st_wbuf_html(o, cfg->loads[li].text);
		st_wbuf_printf(o, "<br/><span class=\"sub\">%.0f/s</span></th>", cfg->loads[li].pps);
	}
	st_wbuf_printf(o, "</tr>\n");
	for (int ci = cfg->n_counts - 1; ci >= 0; ci--) {
		st_wbuf_printf(o, "<tr><th>%u</th>", cfg->counts[ci]);
		for (int li = 0; li < cfg->n_loads; li++) {
			const struct wi_cell *c = wi_cell_at(s, ci, li);
			bool frontier = wi_fewest(s, li) == ci;
			char bg[16];

			if (c->status == WI_NOT_RUN || c->status == WI_SKIPPED) {
				st_wbuf_printf(o, "<td class=\"notrun\" title=\"%s\">not run<br/>"
					       "<span class=\"sub\">%s</span>",
					       wi_status_str(c->status), wi_status_str(c->status));
				model_note(o, c);
				st_wbuf_printf(o, "</td>");
				continue;
			}
			st_heat_colour(badness(s, c), s->cfg->stop_factor, bg, sizeof(bg));
			st_wbuf_printf(o, "<td class=\"%s%s%s\" style=\"background:%s\" "
				       "title=\"%u instances, %.0f/s: %s\">",
				       c->status == WI_PASS ? "pass" : "fail",
				       frontier ? " frontier" : "",
				       c->model_agrees == 0 ? " disagree" : "", bg, c->instances, c->offered_rps,
				       wi_status_str(c->status));
			if (isfinite(c->p99.v))
				st_wbuf_printf(o, "%.2f ms", c->p99.v / 1e6);
			else
				st_wbuf_printf(o, "-");
			st_wbuf_printf(o, "<br/><span class=\"sub\">%s, %.2f&#215; SLO",
				       wi_status_str(c->status), badness(s, c));
			if (isfinite(c->error_rate) && c->error_rate > 0)
				st_wbuf_printf(o, ", err %.2f%%", 100 * c->error_rate);
			st_wbuf_printf(o, "</span>");
			model_note(o, c);
			st_wbuf_printf(o, "</td>");
		}
		st_wbuf_printf(o, "</tr>\n");
	}
	st_wbuf_printf(o, "</table>\n<p class=\"sub\">Outlined: the fewest instances meeting the "
		       "SLO at that load (the SLO frontier). Green at half the SLO, amber at the "
		       "SLO, red at %g&#215; it; grey: not run. Dashed red border and &#8800;: the "
		       "measurement disagrees with the model (its p99 outside the measured p99's "
		       "95%% interval widened %g&#215;, or another verdict).</p>\n", cfg->stop_factor, WI_MODEL_TOLERANCE);
	if (s->model.ok) {
		const struct wi_cell *f = &s->cells[s->model.fit_cell];

		st_wbuf_printf(o, "<p>Model: the analyzer's <code>%s</code> form (every instance "
			       "its own queue, general service time) fitted on the cell %u &#215; ",
			       s->model.form, f->instances);
		st_wbuf_html(o, cfg->loads[f->load].text);
		st_wbuf_printf(o, ": %.1f requests/s per instance, fixed part %.2f ms, service "
			       "time SCV %.2f. %d of the cells run disagree with it.</p>\n",
			       s->model.mu, s->model.d0 * 1e3, s->model.cs2, s->model.disagree);
	} else {
		st_wbuf_printf(o, "<p>Model: not fitted: ");
		st_wbuf_html(o, s->model.why);
		st_wbuf_printf(o, ".</p>\n");
	}
}

/* p99 (log scale) against offered load, one line per instance count. */
static void curves(struct st_wbuf *o, struct wi_sweep *s)
{
	const struct wi_config *cfg = s->cfg;
	double xmax = cfg->loads[cfg->n_loads - 1].pps * 1.05, ylo = INFINITY, yhi = 0;
	double slo = (double)cfg->slo_p99_ns;

	for (int i = 0; i < s->n_cells; i++) {
		double v = s->cells[i].p99.v;

		if (isfinite(v) && v > 0) {
			ylo = fmin(ylo, v);
			yhi = fmax(yhi, v);
		}
	}
	ylo = fmin(isfinite(ylo) ? ylo : slo, slo) / 2;
	yhi = fmax(yhi, slo) * 2;
	double lylo = log10(ylo), lyhi = log10(yhi);
#define PX(x) (ML + (x) / xmax * (W - ML - MR))
#define PY(y) (H - MB - (log10(y) - lylo) / (lyhi - lylo) * (H - MT - MB))

	st_wbuf_printf(o, "<h2>p99 against load</h2>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
		       "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n", W, H, W, H);
	st_wbuf_printf(o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"plot\"/>\n",
		       ML, MT, W - ML - MR, H - MT - MB);
	for (int i = 0; i <= 4; i++) {
		double x = xmax * i / 4, y = pow(10, lylo + (lyhi - lylo) * i / 4);

		st_wbuf_printf(o, "<text x=\"%.1f\" y=\"%d\" class=\"tick\" text-anchor=\"middle\">%.0f</text>\n",
			       PX(x), H - MB + 15, x);
		st_wbuf_printf(o, "<text x=\"%d\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%.3g</text>\n",
			       ML - 5, PY(y) + 4, y / 1e6);
	}
	st_wbuf_printf(o, "<text x=\"%d\" y=\"%d\" class=\"label\" text-anchor=\"middle\">offered "
		       "load, requests/s</text>\n", (ML + W - MR) / 2, H - 8);
	st_wbuf_printf(o, "<text x=\"14\" y=\"%d\" class=\"label\" text-anchor=\"middle\" "
		       "transform=\"rotate(-90 14 %d)\">p99, ms</text>\n", (MT + H - MB) / 2,
		       (MT + H - MB) / 2);
	st_wbuf_printf(o, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"slo\"/>"
		       "<text x=\"%d\" y=\"%.1f\" class=\"tick\">SLO</text>\n", ML, PY(slo), W - MR,
		       PY(slo), W - MR + 4, PY(slo) + 4);
	for (int ci = 0; ci < cfg->n_counts; ci++) {
		const char *col = series_colour[ci % 8];
		bool any = false;

		st_wbuf_printf(o, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", col);
		for (int li = 0; li < cfg->n_loads; li++) {
			const struct wi_cell *c = wi_cell_at(s, ci, li);

			if (isfinite(c->p99.v) && c->p99.v > 0) {
				st_wbuf_printf(o, "%s%.1f,%.1f", any ? " " : "", PX(c->offered_rps),
					       PY(c->p99.v));
				any = true;
			}
		}
		st_wbuf_printf(o, "\"/>\n");
		for (int li = 0; li < cfg->n_loads; li++) {
			const struct wi_cell *c = wi_cell_at(s, ci, li);

			if (isfinite(c->p99.v) && c->p99.v > 0)
				st_wbuf_printf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n",
					       PX(c->offered_rps), PY(c->p99.v),
					       c->status == WI_PASS ? col : "#c62828");
		}
		any = false;
		st_wbuf_printf(o, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" "
			       "stroke-dasharray=\"5 4\" points=\"", col);
		for (int li = 0; li < cfg->n_loads; li++) {
			const struct wi_cell *c = wi_cell_at(s, ci, li);
			double v = c->pred_p99;

			if (isfinite(v) && v > 0) {
				v = fmin(fmax(v, ylo), yhi);
				st_wbuf_printf(o, "%s%.1f,%.1f", any ? " " : "", PX(c->offered_rps),
					       PY(v));
				any = true;
			}
		}
		st_wbuf_printf(o, "\"/>\n");
		st_wbuf_printf(o, "<text x=\"%d\" y=\"%d\" class=\"tick\" fill=\"%s\">&#9632; %u instance%s</text>\n",
			       W - MR + 8, MT + 30 + 16 * ci, col, cfg->counts[ci],
			       cfg->counts[ci] == 1 ? "" : "s");
	}
	st_wbuf_printf(o, "</svg>\n<p class=\"sub\">Solid: measured; dashed: the model's prediction (saturated loads left out). Dots in red: the cell broke the SLO.</p>\n");
#undef PX
#undef PY
}

static void answers(struct st_wbuf *o, struct wi_sweep *s)
{
	const struct wi_config *cfg = s->cfg;
	int within;

	st_wbuf_printf(o, "<h2>Answers</h2>\n<table class=\"cells\"><tr><th>load</th><th>offered/s</th>"
		       "<th>fewest instances meeting the SLO</th><th>p99 there</th><th>cost per hour</th>"
		       "<th>within the budget</th></tr>\n");
	for (int li = 0; li < cfg->n_loads; li++) {
		int ci = wi_fewest(s, li);

		st_wbuf_printf(o, "<tr><td>");
		st_wbuf_html(o, cfg->loads[li].text);
		st_wbuf_printf(o, "</td><td>%.1f</td>", cfg->loads[li].pps);
		if (ci < 0) {
			st_wbuf_printf(o, "<td>none of %u..%u</td><td>-</td><td>-</td><td>-</td></tr>\n",
				       cfg->counts[0], cfg->counts[cfg->n_counts - 1]);
			continue;
		}
		within = wi_within_budget(cfg, cfg->counts[ci]);
		st_wbuf_printf(o, "<td>%u</td><td>%.2f ms</td>", cfg->counts[ci],
			       wi_cell_at(s, ci, li)->p99.v / 1e6);
		if (cfg->cost_per_hour >= 0)
			st_wbuf_printf(o, "<td>%.2f</td>", cfg->cost_per_hour * cfg->counts[ci]);
		else
			st_wbuf_printf(o, "<td>-</td>");
		st_wbuf_printf(o, "<td%s>%s</td></tr>\n", within == 0 ? " class=\"over\"" : "",
			       within < 0 ? "-" : within ? "yes" : "over");
	}
	st_wbuf_printf(o, "</table>\n");
	if (cfg->budget_per_hour >= 0) {
		int li = wi_budget_reach(s);

		st_wbuf_printf(o, "<p>Budget %.2f per hour: ", cfg->budget_per_hour);
		if (li >= 0) {
			st_wbuf_printf(o, "serves up to load ");
			st_wbuf_html(o, cfg->loads[li].text);
			st_wbuf_printf(o, " (%.1f/s) at the SLO, on %u instance%s.</p>\n",
				       cfg->loads[li].pps, cfg->counts[wi_fewest(s, li)],
				       cfg->counts[wi_fewest(s, li)] == 1 ? "" : "s");
		} else {
			st_wbuf_printf(o, "serves none of the loads at the SLO.</p>\n");
		}
	}
}

/* A number for a table cell, "-" when there is none (a cell not run). */
static void num(char buf[24], double v, int decimals)
{
	if (isfinite(v))
		snprintf(buf, 24, "%.*f", decimals, v);
	else
		snprintf(buf, 24, "-");
}

static void cell_table(struct st_wbuf *o, struct wi_sweep *s)
{
	st_wbuf_printf(o, "<h2>Every cell</h2>\n<table class=\"cells\"><tr><th>instances</th><th>load</th>"
		       "<th>offered/s</th><th>sent/s</th><th>requests/s</th><th>answered/s per instance</th>"
		       "<th>p50 ms</th><th>p90 ms</th><th>p99 ms [95%% CI]</th><th>p99.9 ms</th>"
		       "<th>errors</th><th>verdict</th><th>model p99 ms</th></tr>\n");
	for (int i = 0; i < s->n_cells; i++) {
		const struct wi_cell *c = &s->cells[i];

		st_wbuf_printf(o, "<tr><td>%u</td><td>", c->instances);
		st_wbuf_html(o, s->cfg->loads[c->load].text);
		char f[8][24];

		num(f[0], c->p50.v / 1e6, 2);
		num(f[1], c->p90.v / 1e6, 2);
		num(f[2], c->p99.v / 1e6, 2);
		num(f[3], c->p99.lo / 1e6, 2);
		num(f[4], c->p99.hi / 1e6, 2);
		num(f[5], c->p999.v / 1e6, 2);
		num(f[6], 100 * c->error_rate, 3);
		st_wbuf_printf(o, "</td><td>%.1f</td><td>%.1f</td><td>%.1f</td><td>%.1f</td>"
			       "<td>%s</td><td>%s</td><td>%s [%s, %s]</td><td>%s</td><td>%s%%</td><td>%s",
			       c->offered_rps, c->sent_pps, c->achieved_rps, c->rps_per_instance,
			       f[0], f[1], f[2], f[3], f[4], f[5], f[6], wi_status_str(c->status));
		if (c->note[0]) {
			st_wbuf_printf(o, ": ");
			st_wbuf_html(o, c->note);
		}
		if (c->pred_pass < 0)
			st_wbuf_printf(o, "</td><td>-</td></tr>\n");
		else if (isinf(c->pred_p99))
			st_wbuf_printf(o, "</td><td>saturated%s</td></tr>\n",
				       c->model_agrees == 0 ? " &#8800;" : "");
		else
			st_wbuf_printf(o, "</td><td>%.2f%s</td></tr>\n", c->pred_p99 / 1e6,
				       c->model_agrees == 0 ? " &#8800;" : "");
	}
	st_wbuf_printf(o, "</table>\n");
}

int wi_write_report(struct wi_sweep *s, const char *path, struct st_perr *err)
{
	const struct wi_config *cfg = s->cfg;
	char t0[64];
	struct st_wbuf o;
	int rc;

	st_wbuf_init(&o);
	st_wall_fmt(s->t_start_wall, t0, sizeof(t0));
	st_wbuf_printf(&o, "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n"
		       "<head><meta charset=\"utf-8\"/><title>shadowtap what-if: ");
	st_wbuf_html(&o, cfg->service);
	st_wbuf_printf(&o, "/");
	st_wbuf_html(&o, cfg->group);
	st_wbuf_printf(&o, "</title>\n<style>\n"
		       "body{font-family:sans-serif;margin:2em;color:#222}\n"
		       "table{border-collapse:collapse;margin:1em 0}\n"
		       "th,td{border:1px solid #bbb;padding:4px 8px;text-align:right}\n"
		       ".heat td{width:7em;height:3em;text-align:center;color:#111}\n"
		       ".heat td.frontier{outline:3px solid #000;outline-offset:-3px;font-weight:bold}\n"
		       ".heat td.notrun{background:repeating-linear-gradient(45deg,#eee,#eee 6px,#ddd 6px,#ddd 12px);color:#777}\n"
		       ".sub{font-size:80%%;color:#444}\n"
		       ".plot{fill:#fafafa;stroke:#999}\n.tick{font-size:11px}\n.label{font-size:12px}\n"
		       ".slo{stroke:#c62828;stroke-dasharray:6 4}\n"
		       ".heat td.disagree{border:3px dashed #b71c1c}\n.cells td.over{color:#b71c1c;font-weight:bold}\n.model{font-size:75%%;color:#333;font-style:italic}\n"
		       "</style></head>\n<body>\n<h1>What-if sweep: ");
	st_wbuf_html(&o, cfg->service);
	st_wbuf_printf(&o, " / ");
	st_wbuf_html(&o, cfg->group);
	st_wbuf_printf(&o, "</h1>\n<p>Started %s. SLO: p99 &#8804; %.3g ms, error rate &#8804; %g. "
		       "Capture ", t0, (double)cfg->slo_p99_ns / 1e6, cfg->slo_error_rate);
	st_wbuf_html(&o, cfg->pcap);
	st_wbuf_printf(&o, " (%u requests, %.1f/s of its own); %.1f s warmup and %.1f s measured "
		       "per cell%s.</p>\n", s->capture_requests, s->capture_pps,
		       (double)cfg->warmup_ns / 1e9, (double)cfg->step_ns / 1e9,
		       cfg->poisson ? ", Poisson arrivals" : "");
	if (s->error[0]) {
		st_wbuf_printf(&o, "<p><b>");
		st_wbuf_html(&o, s->error);
		st_wbuf_printf(&o, "</b></p>\n");
	}
	heatmap(&o, s);
	answers(&o, s);
	curves(&o, s);
	cell_table(&o, s);
	st_wbuf_printf(&o, "</body>\n</html>\n");
	if (o.oom) {
		wi_msg(err->msg, sizeof(err->msg), "%s: out of memory", path);
		rc = -ENOMEM;
	} else {
		rc = wi_write_file(path, o.data, o.len, err);
	}
	st_wbuf_free(&o);
	return rc;
}
