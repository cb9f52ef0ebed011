#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alert.h"
#include "clients.h"
#include "clock.h"
#include "log.h"
#include "../loadgen/profile.h"	/* the loadgen's reader: one profile format */

#define ALERT_PERIOD_NS ST_NS_PER_S
/* A raised alert is sent again when its crossing moves by more than this. */
#define MOVED_NS (2 * ST_NS_PER_S)

const char *an_alert_kind_name(enum an_alert_kind k)
{
	static const char *const names[] = { "utilization", "slo", "budget", "prealloc" };

	return k < AN_ALERT__COUNT ? names[k] : "?";
}

uint32_t an_budget_affords(double budget, double price, uint32_t max)
{
	return price > 0 ? (uint32_t)fmin(floor(budget / price * (1 + 1e-12)), max) : max;
}

/* One service's forecast, read from its plan's forecast_profile. */
struct fc {
	char service[ST_WIRE_NAME_MAX];
	char path[AN_PATH_MAX];
	struct lg_profile prof;
	bool ok, warned;
	struct timespec mtime;
	uint64_t t0;		/* wall ns of the profile's t = 0: the file's mtime */
};

struct an_alerter {
	const struct an_config *cfg;
	struct fc *fc;
	uint32_t n_fc, cap_fc;
	uint64_t last;
	struct st_wbuf buf;
};

struct an_alerter *an_alerter_create(const struct an_config *cfg)
{
	struct an_alerter *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->cfg = cfg;
	st_wbuf_init(&a->buf);
	return a;
}

void an_alerter_destroy(struct an_alerter *a)
{
	if (a == NULL)
		return;
	for (uint32_t i = 0; i < a->n_fc; i++)
		lg_profile_free(&a->fc[i].prof);
	free(a->fc);
	st_wbuf_free(&a->buf);
	free(a);
}

/* The service's forecast, (re)read when the path or the file changed.
 * NULL when there is none to use. */
static const struct fc *forecast(struct an_alerter *a, const struct an_service *s)
{
	struct fc *f = NULL;
	struct st_perr pe;
	struct stat st;

	for (uint32_t i = 0; i < a->n_fc; i++)
		if (strcmp(a->fc[i].service, s->name) == 0)
			f = &a->fc[i];
	if (f == NULL) {
		if (a->n_fc == a->cap_fc) {
			uint32_t cap = a->cap_fc ? 2 * a->cap_fc : 8;
			struct fc *n = realloc(a->fc, cap * sizeof(*n));

			if (n == NULL)
				return NULL;
			a->fc = n;
			a->cap_fc = cap;
		}
		f = &a->fc[a->n_fc++];
		memset(f, 0, sizeof(*f));
		snprintf(f->service, sizeof(f->service), "%s", s->name);
	}
	if (s->plan.forecast_from_api &&
	    !an_forecast_confined(a->cfg->forecast_dir, s->plan.forecast_profile)) {
		/* named through the API: a link since swapped in, or a
		 * forecast_dir that moved, is not followed */
		if (!f->warned)
			ST_WARN("alerts: %s: forecast_profile %s: not a file in forecast_dir %s",
				s->name, s->plan.forecast_profile, a->cfg->forecast_dir);
		f->warned = true;
		f->ok = false;
		return NULL;
	}
	if (stat(s->plan.forecast_profile, &st) != 0) {
		if (!f->warned)
			ST_WARN("alerts: %s: forecast_profile %s: %s", s->name,
				s->plan.forecast_profile, strerror(errno));
		f->warned = true;
		f->ok = false;
		return NULL;
	}
	if (f->ok && strcmp(f->path, s->plan.forecast_profile) == 0 &&
	    st.st_mtim.tv_sec == f->mtime.tv_sec && st.st_mtim.tv_nsec == f->mtime.tv_nsec)
		return f;
	lg_profile_free(&f->prof);
	f->ok = false;
	snprintf(f->path, sizeof(f->path), "%s", s->plan.forecast_profile);
	f->mtime = st.st_mtim;
	if (lg_profile_load_file(f->path, &f->prof, &pe) != 0 || f->prof.kind != LG_PROFILE_PPS) {
		if (!f->warned)
			ST_WARN("alerts: %s: %s", s->name,
				f->prof.n ? "a multiplier profile, not t_seconds,pps" : pe.msg);
		f->warned = true;
		lg_profile_free(&f->prof);
		return NULL;
	}
	f->warned = false;
	f->ok = true;
	f->t0 = (uint64_t)st.st_mtim.tv_sec * ST_NS_PER_S + (uint64_t)st.st_mtim.tv_nsec;
	ST_NOTICE("alerts: %s: forecast %s, %u points over %.0f s from its write time",
		  s->name, f->path, f->prof.n, lg_profile_end(&f->prof));
	return f;
}

/* The forecast's highest rate from `from` (s) to its end. */
static double peak_from(const struct lg_profile *p, double from)
{
	double peak = lg_profile_rate(p, from);

	for (uint32_t i = 0; i < p->n; i++)
		if (p->pts[i].t >= from)
			peak = fmax(peak, p->pts[i].v);
	return peak;
}

/* The first time >= from at which the forecast exceeds R (linear between
 * points, a step at a repeated time); +inf when it never does. */
static double crossing(const struct lg_profile *p, double from, double R)
{
	if (from > lg_profile_end(p))
		return INFINITY;
	if (lg_profile_rate(p, from) > R)
		return from;
	for (uint32_t i = 0; i + 1 < p->n; i++) {
		const struct lg_profile_pt *x = &p->pts[i], *y = &p->pts[i + 1];
		double ta, va;

		if (y->t < from || !(y->v > R))
			continue;
		ta = fmax(x->t, from);
		va = y->t > x->t ? x->v + (y->v - x->v) * (ta - x->t) / (y->t - x->t) : x->v;
		if (va > R)
			return ta;
		return ta + (R - va) / (y->v - va) * (y->t - ta);
	}
	return INFINITY;
}

/* The highest total rate n instances carry within p99 <= lim and the error
 * objective under the bound (bisection: p99 only grows with the load). */
static double carried(const struct an_model *m, const struct an_pred *p, uint32_t n, double lim,
		      double slo_err)
{
	double mu = 1 / an_pred_util(p, 1), lo = 0, hi;

	if (!(mu > 0) || !isfinite(mu))
		return 0;
	hi = mu * n;
	if (!an_pred_meets(m, p, 1e-9 * mu, n, lim, slo_err, true))
		return 0;
	for (int i = 0; i < 50; i++) {
		double mid = (lo + hi) / 2;

		if (an_pred_meets(m, p, mid / n, n, lim, slo_err, true))
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* The pre-allocation signal: the first fingerprint whose own forecast
 * takes the service past R (rps) at the current count, and the count that
 * carries its peak within the thresholds that set R. */
static void prealloc(const struct an_clients *cl, const struct an_service *s,
		     const struct an_pred *p, double R, uint64_t now, struct an_alert *a)
{
	const struct an_plan *pl = &s->plan;
	double mu = 1 / an_pred_util(p, 1), slo = (double)pl->slo_p99_ns / 1e9;
	uint32_t N = pl->current_instances, max = pl->max_instances, n = 0;
	struct an_clients_prealloc g;
	int rc = cl != NULL ? an_clients_prealloc(cl, s->name, R, now, &g) : -1;

	a->peak_rps = NAN;
	if (rc < 0)
		return;	/* no recent profile: threshold NaN, not shown */
	a->threshold = R;
	if (rc == 0)
		return;
	a->active = true;
	a->at = g.at > now ? g.at : now;
	a->value = a->peak_rps = g.projected_peak;
	a->forecast_rps = g.at_rps;
	snprintf(a->fingerprint, sizeof(a->fingerprint), "%s", g.label);
	if (pl->alert_utilization > 0) {
		double u = ceil(g.projected_peak / (pl->alert_utilization * mu) * (1 - 1e-12));

		n = u > max ? max : (uint32_t)u;
	}
	if (pl->alert_p99 > 0 || pl->alert_utilization <= 0) {
		uint32_t q = an_pred_fewest(&s->model, p, g.projected_peak,
					    pl->alert_p99 > 0 ? pl->alert_p99 * slo : slo,
					    pl->slo_error_rate, N, max);

		n = q == 0 ? max : q > n ? q : n;
	}
	/* a pre-allocation signal never asks for fewer than are running (its
	 * threshold, profile_alert_rps, may lie below what the running count
	 * carries at alert_utilization: it asked 7 of a running 10) */
	a->instances = n < N ? (N < max ? N : max) : n;
}

static void evaluate(const struct an_config *cfg, const struct an_service *s,
		     const struct an_clients *cl, const struct fc *f, const struct an_pred *p,
		     uint64_t now, struct an_alert out[AN_ALERT__COUNT], double *prealloc_rps)
{
	const struct an_plan *pl = &s->plan;
	const struct an_model *m = &s->model;
	double mu = 1 / an_pred_util(p, 1), slo = (double)pl->slo_p99_ns / 1e9;
	double from = 0, peak = 0, price = pl->cost_per_hour, R_slo = INFINITY, R_pre;
	uint32_t N = pl->current_instances, max = pl->max_instances, need = 0;

	(void)cfg;
	memset(out, 0, sizeof(out[0]) * AN_ALERT__COUNT);
	for (int k = 0; k < AN_ALERT__COUNT; k++) {
		out[k].current = N;
		out[k].capacity = mu;
		out[k].t = now;
		out[k].cost_per_hour = NAN;
		out[k].value = out[k].threshold = out[k].forecast_rps = NAN;
	}
	if (!(mu > 0) || !isfinite(mu) || N == 0)
		return;
	if (pl->alert_p99 > 0)
		R_slo = carried(m, p, N, pl->alert_p99 * slo, pl->slo_error_rate);
	if (f != NULL) {
		from = now > f->t0 ? (double)(now - f->t0) / 1e9 : 0;
		peak = from <= lg_profile_end(&f->prof) ? peak_from(&f->prof, from) : 0;
	}
	for (int k = 0; k < AN_ALERT__COUNT; k++)
		out[k].peak_rps = peak;
	if (f != NULL && pl->alert_utilization > 0 && peak > 0) {
		struct an_alert *a = &out[AN_ALERT_UTIL];
		double R = pl->alert_utilization * mu * N, t = crossing(&f->prof, from, R);

		a->threshold = pl->alert_utilization;
		a->value = peak / (mu * N);
		if (isfinite(t)) {
			double n = ceil(peak / (pl->alert_utilization * mu) * (1 - 1e-12));

			a->active = true;
			a->at = f->t0 + (uint64_t)(t * 1e9);
			a->forecast_rps = fmax(R, lg_profile_rate(&f->prof, t));
			a->instances = n > max ? max : (uint32_t)n;
			need = a->instances > need ? a->instances : need;
		}
	}
	if (f != NULL && pl->alert_p99 > 0 && peak > 0) {
		struct an_alert *a = &out[AN_ALERT_SLO];
		double lim = pl->alert_p99 * slo;
		double R = R_slo, t = crossing(&f->prof, from, R);

		a->threshold = lim;
		a->value = an_pred_q(m, p, peak / N, N, 0.99, true);
		if (isfinite(t)) {
			uint32_t n = an_pred_fewest(m, p, peak, lim, pl->slo_error_rate, N, max);

			a->active = true;
			a->at = f->t0 + (uint64_t)(t * 1e9);
			a->forecast_rps = fmax(R, lg_profile_rate(&f->prof, t));
			a->instances = n ? n : max;
			need = a->instances > need ? a->instances : need;
		}
	}
	if (pl->budget_per_hour >= 0 && price >= 0) {
		struct an_alert *a = &out[AN_ALERT_BUDGET];
		uint32_t afford = an_budget_affords(pl->budget_per_hour, price, max);
		uint32_t rec = s->has_last ? s->last.recommended_instances : 0;
		double t = INFINITY;

		/* what the forecast needs within the SLO (and the utilisation
		 * threshold), and what the last verdict recommends */
		if (f != NULL && peak > 0) {
			uint32_t n = an_pred_fewest(m, p, peak, slo, pl->slo_error_rate, 1, max);

			need = n > need ? n : need;
		}
		if (rec > need)
			need = rec;
		a->threshold = pl->budget_per_hour;
		a->affordable = afford;
		a->instances = need;
		a->value = need * price;
		if (need * price > pl->budget_per_hour) {
			if (rec * price > pl->budget_per_hour) {
				t = from;
				a->at = now;
			} else if (f != NULL) {
				double R = carried(m, p, afford, slo, pl->slo_error_rate);

				if (pl->alert_utilization > 0)
					R = fmin(R, pl->alert_utilization * mu * afford);
				t = crossing(&f->prof, from, R);
				if (isfinite(t))
					a->at = f->t0 + (uint64_t)(t * 1e9);
			}
			a->active = isfinite(t);
			if (a->active && f != NULL)
				a->forecast_rps = lg_profile_rate(&f->prof, t);
		}
	}
	/* prealloc: the lowest rate an alert threshold is crossed at, at the
	 * current count; without thresholds the load the plan is sized for */
	R_pre = pl->profile_alert_rps > 0 ? pl->profile_alert_rps : INFINITY;
	if (pl->alert_utilization > 0)
		R_pre = fmin(R_pre, pl->alert_utilization * mu * N);
	R_pre = fmin(R_pre, R_slo);
	if (!isfinite(R_pre))
		R_pre = pl->forecast_rps;
	*prealloc_rps = R_pre;
	prealloc(cl, s, p, R_pre, now, &out[AN_ALERT_PREALLOC]);
	for (int k = 0; k < AN_ALERT__COUNT; k++) {
		struct an_alert *a = &out[k];

		if (a->active)
			a->seconds_ahead = a->at > now ? (double)(a->at - now) / 1e9 : 0;
		if (a->instances && price >= 0)
			a->cost_per_hour = a->instances * price;
	}
}

int an_alert_encode(const struct an_alert *al, enum an_alert_kind k, const char *service,
		    uint64_t seq, uint64_t t, struct st_wbuf *out)
{
	char reason[320];
	msgpack_packer pk;
	uint32_t add = al->instances > al->current ? al->instances - al->current : 0;

	if (!al->active)
		snprintf(reason, sizeof(reason), "%s: the forecast no longer crosses the threshold at %u instances",
			 an_alert_kind_name(k), al->current);
	else if (k == AN_ALERT_BUDGET)
		snprintf(reason, sizeof(reason),
			 "budget: %u instances are needed (%.2f/h) in %.0f s, the budget of %.2f/h pays for %u",
			 al->instances, al->value, al->seconds_ahead, al->threshold, al->affordable);
	else if (k == AN_ALERT_PREALLOC)
		snprintf(reason, sizeof(reason),
			 "prealloc: fingerprint %s's own forecast takes the service to %.0f rps in %.0f s, past %.0f rps on %u instances (peak %.0f rps): add %u (to %u) before then",
			 al->fingerprint, al->forecast_rps, al->seconds_ahead, al->threshold, al->current,
			 al->value, add, al->instances);
	else if (k == AN_ALERT_UTIL)
		snprintf(reason, sizeof(reason),
			 "utilization: the forecast reaches %.0f rps in %.0f s, past %.0f%% of %u instances at %.0f rps each (peak %.0f%%): add %u (to %u) before then",
			 al->forecast_rps, al->seconds_ahead, al->threshold * 100, al->current,
			 al->capacity, al->value * 100, add, al->instances);
	else
		snprintf(reason, sizeof(reason),
			 "slo: the forecast reaches %.0f rps in %.0f s, where the p99 bound on %u instances passes %.1f ms: add %u (to %u) before then",
			 al->forecast_rps, al->seconds_ahead, al->current, al->threshold * 1e3, add,
			 al->instances);
	st_wbuf_reset(out);
	msgpack_packer_init(&pk, out, st_wbuf_mp_write);
	msgpack_pack_map(&pk, 20);
	st_wire_pack_cstr(&pk, "v");
	msgpack_pack_uint32(&pk, 1);
	st_wire_pack_cstr(&pk, "seq");
	msgpack_pack_uint64(&pk, seq);
	st_wire_pack_cstr(&pk, "t");
	msgpack_pack_uint64(&pk, t);
	st_wire_pack_cstr(&pk, "service");
	st_wire_pack_cstr(&pk, service);
	st_wire_pack_cstr(&pk, "kind");
	st_wire_pack_cstr(&pk, an_alert_kind_name(k));
	st_wire_pack_cstr(&pk, "state");
	st_wire_pack_cstr(&pk, al->active ? "raise" : "clear");
	st_wire_pack_cstr(&pk, "fingerprint");
	if (k == AN_ALERT_PREALLOC && al->fingerprint[0] != '\0')
		st_wire_pack_cstr(&pk, al->fingerprint);
	else
		msgpack_pack_nil(&pk);
	st_wire_pack_cstr(&pk, "at");
	if (al->active)
		msgpack_pack_uint64(&pk, al->at);
	else
		msgpack_pack_nil(&pk);
	st_wire_pack_cstr(&pk, "seconds_ahead");
	st_wire_pack_num(&pk, al->active ? al->seconds_ahead : NAN);
	st_wire_pack_cstr(&pk, "value");
	st_wire_pack_num(&pk, al->value);
	st_wire_pack_cstr(&pk, "threshold");
	st_wire_pack_num(&pk, al->threshold);
	st_wire_pack_cstr(&pk, "forecast_rps");
	st_wire_pack_num(&pk, al->active ? al->forecast_rps : NAN);
	st_wire_pack_cstr(&pk, "peak_rps");
	st_wire_pack_num(&pk, al->peak_rps);
	st_wire_pack_cstr(&pk, "current_instances");
	msgpack_pack_uint32(&pk, al->current);
	st_wire_pack_cstr(&pk, "instances");
	msgpack_pack_uint32(&pk, al->instances);
	st_wire_pack_cstr(&pk, "add");
	msgpack_pack_uint32(&pk, add);
	st_wire_pack_cstr(&pk, "affordable_instances");
	if (k == AN_ALERT_BUDGET)
		msgpack_pack_uint32(&pk, al->affordable);
	else
		msgpack_pack_nil(&pk);
	st_wire_pack_cstr(&pk, "capacity_rps_per_instance");
	st_wire_pack_num(&pk, al->capacity);
	st_wire_pack_cstr(&pk, "cost_per_hour");
	st_wire_pack_num(&pk, al->cost_per_hour);
	st_wire_pack_cstr(&pk, "reason");
	st_wire_pack_cstr(&pk, reason);
	return out->oom ? -ENOMEM : 0;
}

void an_alert_hold(const struct an_alert *o, struct an_alert *n, enum an_alert_kind k,
		   uint64_t wall_ns, double price)
{
	uint32_t want = n->instances;

	n->lower_since = 0;
	n->lower_max = 0;
	if (!o->active || !n->active || want >= o->instances ||
	    strcmp(n->fingerprint, o->fingerprint) != 0)
		return;
	/* a clock that went back starts the wait over */
	n->lower_since = o->lower_since && o->lower_since <= wall_ns ? o->lower_since : wall_ns;
	n->lower_max = n->lower_since == o->lower_since && o->lower_max > want ? o->lower_max : want;
	if (wall_ns - n->lower_since >= AN_ALERT_HOLD_NS) {
		/* lower for the whole hold: the most it wanted then */
		n->instances = n->lower_max;
		n->lower_since = 0;
		n->lower_max = 0;
	} else {
		n->instances = o->instances;
	}
	if (price >= 0) {
		n->cost_per_hour = n->instances * price;
		if (k == AN_ALERT_BUDGET)
			n->value = n->cost_per_hour;
	}
}

static bool changed(const struct an_alert *o, const struct an_alert *n)
{
	if (n->active != o->active)
		return true;
	if (!n->active)
		return false;
	return n->instances != o->instances || strcmp(n->fingerprint, o->fingerprint) != 0 ||
	       (n->at > o->at ? n->at - o->at : o->at - n->at) > MOVED_NS;
}

int an_alerter_tick(struct an_alerter *a, struct an_engine *e, uint64_t wall_ns,
		    an_alert_fn fn, void *arg)
{
	const struct an_config *cfg = an_engine_config(e);
	int sent = 0;

	if (a == NULL || wall_ns - a->last < ALERT_PERIOD_NS)
		return 0;
	a->last = wall_ns;
	for (uint32_t i = 0; i < an_engine_n_services(e); i++) {
		struct an_service *s = an_engine_service_at(e, i);
		struct an_alert now[AN_ALERT__COUNT];
		const struct fc *f = NULL;
		const struct an_pred *p;
		struct an_pred prod;

		if (!s->has_plan) {
			memset(now, 0, sizeof(now));
		} else {
			p = an_pred_pick(s->has_pred, &s->pred, &s->model, cfg->model_weight,
					 (double)cfg->response_timeout_ns / 1e9, &prod);
			if (p == NULL)
				continue;	/* nothing to predict with yet */
			if (s->plan.forecast_profile[0] != '\0')
				f = forecast(a, s);
			evaluate(cfg, s, an_engine_clients(e), f, p, wall_ns, now, &s->prealloc_rps);
		}
		for (int k = 0; k < AN_ALERT__COUNT; k++) {
			const struct an_alert *msg = &now[k];
			struct an_alert cleared;

			an_alert_hold(&s->alert[k], &now[k], (enum an_alert_kind)k, wall_ns,
				      s->has_plan ? s->plan.cost_per_hour : -1);
			if (!changed(&s->alert[k], &now[k]))
				continue;
			if (!now[k].active) {
				/* what the evaluation that cleared it saw (the old
				 * alert's when the plan no longer asks) */
				cleared = now[k].t ? now[k] : s->alert[k];
				cleared.active = false;
				if (s->has_plan)
					cleared.current = s->plan.current_instances;
				if (cleared.instances == 0)
					cleared.instances = cleared.current;
				msg = &cleared;
			}
			if (an_alert_encode(msg, (enum an_alert_kind)k, s->name,
					    an_engine_next_seq(e), wall_ns, &a->buf) == 0) {
				fn(arg, s, a->buf.data, a->buf.len);
				sent++;
				s->alert_log[s->n_alert_log++ % AN_ALERT_LOG] = (struct an_alert_mark){
					.t = wall_ns, .at = msg->active ? msg->at : 0,
					.kind = (enum an_alert_kind)k, .raise = msg->active,
					.current = msg->current, .instances = msg->instances,
					.value = msg->value, .threshold = msg->threshold,
				};
			}
			if (now[k].active)
				ST_WARN("alert %s: %s", s->name, an_alert_kind_name((enum an_alert_kind)k));
			else
				ST_NOTICE("alert %s: %s cleared", s->name,
					  an_alert_kind_name((enum an_alert_kind)k));
		}
		memcpy(s->alert, now, sizeof(now));
		s->alert_seq++;
	}
	return sent;
}
