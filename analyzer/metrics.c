#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"
#include "prom.h"

/* "quantile" is reserved for summaries (promtool says so): a gauge of a
 * quantile names it by the KPI's name instead. */
static const char *const percentiles[3] = { "p50", "p90", "p99" };

/* A gauge per service and shadow group, from a verdict field. */
struct vfield {
	const char *name, *help;
	double (*get)(const struct an_snap_service *v);
};

static double g_rec(const struct an_snap_service *v) { return v->last.recommended_instances; }
static double g_cur(const struct an_snap_service *v) { return v->last.current_instances; }
static double g_prop(const struct an_snap_service *v) { return v->last.proposed_instances; }
static double g_conf(const struct an_snap_service *v) { return v->last.confidence; }
static double g_score(const struct an_snap_service *v) { return v->last.score; }
static double g_fc(const struct an_snap_service *v) { return v->last.forecast_rps; }
static double g_t(const struct an_snap_service *v) { return (double)v->last.t / 1e9; }
static double g_lat(const struct an_snap_service *v) { return (double)v->verdict_latency_ns / 1e9; }
static double g_ver(const struct an_snap_service *v)
{
	return v->last.has_verified && v->last.verified ? 1 : 0;
}

static const struct vfield vfields[] = {
	{ "shadowtap_recommended_instances",
	  "Instances the last verdict recommends (KEDA/HPA target).", g_rec },
	{ "shadowtap_current_instances",
	  "Instances in production when the last verdict was given, as its plan said.", g_cur },
	{ "shadowtap_proposed_instances", "Instance count the plan proposes.", g_prop },
	{ "shadowtap_recommendation_verified",
	  "1 when a load at least the recommendation's per-instance load was run within the SLO (prod, shadow or a squeeze step), else 0.",
	  g_ver },
	{ "shadowtap_verdict_confidence", "Confidence of the last verdict, 0 to 1.", g_conf },
	{ "shadowtap_verdict_score", "Score of the last verdict, 0 to 100.", g_score },
	{ "shadowtap_forecast_requests_per_second", "Request rate the plan must carry.", g_fc },
	{ "shadowtap_verdict_timestamp_seconds", "When the last verdict was published.", g_t },
	{ "shadowtap_verdict_latency_seconds",
	  "From the end of the newest window judged to its verdict.", g_lat },
};

static void svc_labels(const struct an_snap_service *v, const char **l)
{
	l[0] = "service";
	l[1] = v->name;
	l[2] = "shadow";
	l[3] = v->last.shadow;
	l[4] = NULL;
}

static void verdict_families(const struct an_snap *s, struct st_wbuf *o)
{
	const char *l[12];

	st_prom_family(o, "shadowtap_verdict", "gauge",
		       "The last verdict as a state set: 1 for the verdict given, 0 for the others.");
	for (uint32_t i = 0; i < s->n; i++) {
		const struct an_snap_service *v = s->svc[i];

		if (!an_snap_judged(v))
			continue;
		svc_labels(v, l);
		l[4] = "verdict";
		l[6] = NULL;
		for (int k = 0; k < ST_VERDICT__COUNT; k++) {
			l[5] = st_verdict_kind_str((enum st_verdict_kind)k);
			st_prom_sample(o, "shadowtap_verdict", l, (int)v->last.verdict == k);
		}
	}
	for (size_t f = 0; f < sizeof(vfields) / sizeof(vfields[0]); f++) {
		st_prom_family(o, vfields[f].name, "gauge", vfields[f].help);
		for (uint32_t i = 0; i < s->n; i++) {
			if (!an_snap_judged(s->svc[i]))
				continue;
			svc_labels(s->svc[i], l);
			st_prom_sample(o, vfields[f].name, l, vfields[f].get(s->svc[i]));
		}
	}
	st_prom_family(o, "shadowtap_instance_cost_per_hour", "gauge",
		       "Hourly cost of the current, proposed and recommended counts, where priced.");
	for (uint32_t i = 0; i < s->n; i++) {
		const struct an_snap_service *v = s->svc[i];
		const char *which[3] = { "current", "proposed", "recommended" };
		const double val[3] = { v->last.cost.current, v->last.cost.proposed,
					v->last.cost.recommended };

		if (!an_snap_judged(v) || !v->last.has_cost)
			continue;
		svc_labels(v, l);
		l[4] = "count";
		l[6] = NULL;
		for (int k = 0; k < 3; k++) {
			l[5] = which[k];
			st_prom_sample(o, "shadowtap_instance_cost_per_hour", l, val[k]);
		}
	}
}

/* The resilience part: a gauge per service and resilience group, only
 * where the last verdict has the value (no windows under chaos: no
 * slo_met; no model: no recommendation). */
struct rfield {
	const char *name, *help;
	double (*get)(const struct st_resilience *r);
};

static double r_met(const struct st_resilience *r)
{
	return r->windows > 0 ? (r->slo_met ? 1 : 0) : NAN;
}
static double r_rec(const struct st_resilience *r)
{
	return r->recommended_instances > 0 ? r->recommended_instances : NAN;
}
static double r_p99(const struct st_resilience *r) { return r->p99 / 1e9; }
static double r_err(const struct st_resilience *r) { return r->error_rate; }
static double r_down(const struct st_resilience *r)
{
	return r->windows > 0 ? r->down : NAN;
}

static const struct rfield rfields[] = {
	{ "shadowtap_resilience_slo_met",
	  "1 when the resilience group met the SLO under its fault (chaos), else 0.", r_met },
	{ "shadowtap_resilience_recommended_instances",
	  "Fewest instances that hold the SLO under the resilience group's fault (N+1).", r_rec },
	{ "shadowtap_resilience_p99_seconds",
	  "p99 latency the resilience group showed under its fault.", r_p99 },
	{ "shadowtap_resilience_error_ratio",
	  "Error rate the resilience group showed under its fault (errors per request).", r_err },
	{ "shadowtap_resilience_instances_down",
	  "Instances of the resilience group down under its fault.", r_down },
};

static void resilience_families(const struct an_snap *s, struct st_wbuf *o)
{
	const char *l[6] = { "service", NULL, "shadow", NULL, NULL, NULL };

	for (size_t f = 0; f < sizeof(rfields) / sizeof(rfields[0]); f++) {
		st_prom_family(o, rfields[f].name, "gauge", rfields[f].help);
		for (uint32_t i = 0; i < s->n; i++) {
			const struct an_snap_service *v = s->svc[i];
			double x;

			if (!an_snap_judged(v) || !v->last.has_resilience)
				continue;
			x = rfields[f].get(&v->last.resilience);
			if (!isfinite(x))
				continue;
			l[1] = v->name;
			l[3] = v->last.resilience.shadow;
			st_prom_sample(o, rfields[f].name, l, x);
		}
	}
}

/* The plan's objectives, so alert rules can compare against them. */
static void slo_families(const struct an_snap *s, struct st_wbuf *o)
{
	const char *l[6] = { "service", NULL, "shadow", NULL, NULL, NULL };

	st_prom_family(o, "shadowtap_slo_p99_seconds", "gauge", "The plan's p99 latency objective.");
	for (uint32_t i = 0; i < s->n; i++) {
		if (!s->svc[i]->has_plan)
			continue;
		l[1] = s->svc[i]->name;
		l[3] = s->svc[i]->plan.shadow;
		st_prom_sample(o, "shadowtap_slo_p99_seconds", l,
			       (double)s->svc[i]->plan.slo_p99_ns / 1e9);
	}
	st_prom_family(o, "shadowtap_slo_error_ratio", "gauge",
		       "The plan's error rate objective (errors per request).");
	for (uint32_t i = 0; i < s->n; i++) {
		if (!s->svc[i]->has_plan)
			continue;
		l[1] = s->svc[i]->name;
		l[3] = s->svc[i]->plan.shadow;
		st_prom_sample(o, "shadowtap_slo_error_ratio", l, s->svc[i]->plan.slo_error_rate);
	}
}

/* Latency quantiles from the newest evaluation: prod and shadow observed,
 * and what the model predicted for the shadow's load. */
static void latency_families(const struct an_snap *s, struct st_wbuf *o)
{
	const char *l[12];

	st_prom_family(o, "shadowtap_latency_seconds", "gauge",
		       "Request latency quantiles in the last evaluation's windows: observed for "
		       "prod and the shadow group, predicted for the shadow's load.");
	for (uint32_t i = 0; i < s->n; i++) {
		const struct an_snap_service *v = s->svc[i];
		const struct an_eval *e;

		if (!an_snap_judged(v) || v->n_evals == 0)
			continue;
		e = &v->evals[v->n_evals - 1];
		svc_labels(v, l);
		for (int q = 0; q < 3; q++) {
			const struct { const char *target, *kind; double ns; } rows[3] = {
				{ "prod", "observed", e->prod[q] },
				{ "shadow", "observed", e->obs[q] },
				{ "shadow", "predicted", e->pred[q] },
			};

			for (int r = 0; r < 3; r++) {
				if (!isfinite(rows[r].ns))
					continue;
				l[4] = "target";
				l[5] = rows[r].target;
				l[6] = "kind";
				l[7] = rows[r].kind;
				l[8] = "percentile";
				l[9] = percentiles[q];
				l[10] = NULL;
				st_prom_sample(o, "shadowtap_latency_seconds", l, rows[r].ns / 1e9);
			}
		}
	}
	st_prom_family(o, "shadowtap_request_rate_per_instance", "gauge",
		       "Requests per second per instance in the last evaluation's windows.");
	for (uint32_t i = 0; i < s->n; i++) {
		const struct an_snap_service *v = s->svc[i];
		const struct an_eval *e;

		if (!an_snap_judged(v) || v->n_evals == 0)
			continue;
		e = &v->evals[v->n_evals - 1];
		svc_labels(v, l);
		l[4] = "target";
		l[6] = NULL;
		l[5] = "prod";
		st_prom_sample(o, "shadowtap_request_rate_per_instance", l, e->lam_prod);
		l[5] = "shadow";
		st_prom_sample(o, "shadowtap_request_rate_per_instance", l, e->lam_shadow);
	}
	st_prom_family(o, "shadowtap_error_ratio", "gauge",
		       "Errors (timeouts, resets, ICMP errors) per request: observed on the shadow "
		       "and predicted for its load.");
	for (uint32_t i = 0; i < s->n; i++) {
		const struct an_snap_service *v = s->svc[i];

		if (!an_snap_judged(v))
			continue;
		for (uint32_t k = 0; k < v->last.n_kpis; k++) {
			const struct st_verdict_kpi *kp = &v->last.kpis[k];

			if (strcmp(kp->name, "error_rate") != 0)
				continue;
			svc_labels(v, l);
			l[4] = "kind";
			l[6] = NULL;
			l[5] = "observed";
			if (isfinite(kp->observed))
				st_prom_sample(o, "shadowtap_error_ratio", l, kp->observed);
			l[5] = "predicted";
			if (isfinite(kp->predicted))
				st_prom_sample(o, "shadowtap_error_ratio", l, kp->predicted);
		}
	}
}

static void counter(struct st_wbuf *o, const char *name, const char *help, uint64_t v)
{
	st_prom_family(o, name, "counter", help);
	st_prom_sample_u64(o, name, NULL, v);
}

static void engine_families(const struct an_snap *s, struct st_wbuf *o)
{
	const struct an_counters *c = &s->counters;
	const struct { const char *reason; uint64_t n; } refused[] = {
		{ "bad_frames", c->bad_frames }, { "oversized", c->oversized },
		{ "malformed", c->malformed }, { "bad_version", c->bad_version },
		{ "unknown_topic", c->unknown_topic }, { "topic_mismatch", c->topic_mismatch },
		{ "bad_hist", c->bad_hist }, { "duplicate", c->duplicates },
		{ "shared_src", c->shared_src },
		{ "late", c->late }, { "future", c->future },
		{ "limits", c->dropped_limits }, { "other_shard", c->other_shard },
	};
	const char *l[4] = { "reason", NULL, NULL, NULL };

	counter(o, "shadowtap_messages_total", "Messages received on the KPI subscription.",
		c->msgs);
	counter(o, "shadowtap_snapshots_ingested_total", "KPI snapshots merged into a window.",
		c->kpi_merged);
	st_prom_family(o, "shadowtap_snapshots_refused_total", "counter",
		       "Messages refused, by reason.");
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		l[1] = refused[i].reason;
		st_prom_sample_u64(o, "shadowtap_snapshots_refused_total", l, refused[i].n);
	}
	counter(o, "shadowtap_seq_gaps_total", "Messages missing by their publishers' seq.", c->gaps);
	counter(o, "shadowtap_snapshots_untracked_total",
		"Snapshots merged from publishers past max_publishers, their seq not followed.",
		c->untracked);
	counter(o, "shadowtap_publishers_forgotten_total",
		"Publishers silent for an hour, forgotten to make room (max_publishers).",
		c->pubs_forgotten);
	counter(o, "shadowtap_publisher_restarts_total", "Publishers whose seq started over.",
		c->restarts);
	counter(o, "shadowtap_samples_clamped_total",
		"Latency samples above the histogram layout's highest value.", c->clamped);
	counter(o, "shadowtap_windows_closed_total", "Target windows closed.", c->windows);
	counter(o, "shadowtap_chaos_windows_total",
		"Windows of prod or the shadow taken under chaos, left out of the model.",
		c->chaos_windows);
	counter(o, "shadowtap_evaluations_total", "Evaluations of a plan.", c->evaluations);
	counter(o, "shadowtap_verdicts_total", "Verdicts published.", c->verdicts);
	counter(o, "shadowtap_anomalies_total", "Anomalies published.", c->anomalies);
	st_prom_family(o, "shadowtap_services", "gauge", "Services tracked.");
	st_prom_sample(o, "shadowtap_services", NULL, s->n);
	st_prom_family(o, "shadowtap_window_seconds", "gauge", "Length of an analysis window.");
	st_prom_sample(o, "shadowtap_window_seconds", NULL, (double)s->window_ns / 1e9);
	st_prom_family(o, "shadowtap_last_ingest_timestamp_seconds", "gauge",
		       "When a KPI snapshot was last merged (0: never).");
	st_prom_sample(o, "shadowtap_last_ingest_timestamp_seconds", NULL,
		       (double)s->last_merge_wall_ns / 1e9);
}

static void http_families(const struct st_http_counters *h, struct st_wbuf *o)
{
	const struct { const char *code; uint64_t n; } codes[] = {
		{ "2xx", h->status_2xx }, { "4xx", h->status_4xx }, { "5xx", h->status_5xx },
		{ "401", h->unauthorized }, { "403", h->forbidden }, { "404", h->not_found },
		{ "405", h->bad_method }, { "413", h->too_large },
	};
	const char *l[4] = { "code", NULL, NULL, NULL };

	counter(o, "shadowtap_http_connections_total", "HTTP connections accepted.", h->connections);
	counter(o, "shadowtap_http_requests_total", "HTTP requests received.", h->requests);
	st_prom_family(o, "shadowtap_http_responses_total", "counter",
		       "HTTP responses by status class, and the refusals by code.");
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		l[1] = codes[i].code;
		st_prom_sample_u64(o, "shadowtap_http_responses_total", l, codes[i].n);
	}
	counter(o, "shadowtap_http_streams_total", "Event streams opened.", h->streams);
	counter(o, "shadowtap_http_late_requests_total",
		"HTTP connections closed because no whole request arrived within http_timeout.",
		h->late_requests);
}

static void surface_families(const struct an_snap *s, struct st_wbuf *o)
{
	const struct an_snap_extra *x = &s->extra;

	counter(o, "shadowtap_published_messages_total",
		"Messages sent on the verdict PUB socket: verdicts, anomalies, profiles, alerts.",
		x->pub_sent);
	counter(o, "shadowtap_publish_errors_total",
		"Messages the verdict PUB socket refused (not sent).", x->pub_errors);
	counter(o, "shadowtap_json_lines_total", "Verdicts written to json_out.", x->json_lines);
	counter(o, "shadowtap_json_errors_total",
		"Verdict lines json_out did not take (a full disk, a reader gone).", x->json_errors);
	counter(o, "shadowtap_events_total", "Events queued for the event stream.", x->events_queued);
	counter(o, "shadowtap_events_lost_total",
		"Events the main loop could not queue for the event stream.", x->events_lost);
	counter(o, "shadowtap_http_snapshots_total", "Snapshots published for the HTTP threads.",
		x->snapshots_built);
	counter(o, "shadowtap_http_snapshot_swaps_deferred_total",
		"Rounds whose snapshot waited a round because a reader held the pointer.",
		x->snapshots_deferred);
}

/* Forecast alerts (alert.c), for services whose plan asks for them. */
static void alert_families(const struct an_snap *s, struct st_wbuf *o)
{
	static const struct { const char *name, *help; int what; } fam[] = {
		{ "shadowtap_alert_active",
		  "1 while the forecast crosses the alert's threshold at the current count, else 0.", 0 },
		{ "shadowtap_alert_seconds_ahead",
		  "Seconds until the forecast crosses the threshold (active alerts).", 1 },
		{ "shadowtap_alert_instances_needed",
		  "Instances that avoid the crossing (budget: that the forecast needs), active alerts.", 2 },
	};
	const char *l[6] = { "service", NULL, "kind", NULL, NULL, NULL };

	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		st_prom_family(o, fam[f].name, "gauge", fam[f].help);
		for (uint32_t i = 0; i < s->n; i++) {
			const struct an_snap_service *v = s->svc[i];

			bool profiled = isfinite(v->alert[AN_ALERT_PREALLOC].threshold);

			if (!v->has_plan || (v->plan.forecast_profile[0] == '\0' &&
					     v->plan.budget_per_hour < 0 && !profiled))
				continue;
			l[1] = v->name;
			for (int k = 0; k < AN_ALERT__COUNT; k++) {
				const struct an_alert *a = &v->alert[k];

				if ((fam[f].what != 0 && !a->active) ||
				    (k == AN_ALERT_PREALLOC && !profiled))
					continue;
				l[3] = an_alert_kind_name((enum an_alert_kind)k);
				st_prom_sample(o, fam[f].name, l, fam[f].what == 0 ? a->active :
					       fam[f].what == 1 ? a->seconds_ahead : a->instances);
			}
		}
	}
}

int an_metrics_render(const struct an_snap *snap, const struct st_http_counters *http,
		      struct st_wbuf *out)
{
	if (snap != NULL) {
		verdict_families(snap, out);
		resilience_families(snap, out);
		slo_families(snap, out);
		latency_families(snap, out);
		alert_families(snap, out);
		engine_families(snap, out);
		surface_families(snap, out);
	}
	http_families(http, out);
	return out->oom ? -ENOMEM : 0;
}
