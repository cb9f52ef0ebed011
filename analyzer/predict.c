#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predict.h"

/* A per-instance load within this of one the model has seen is measured
 * (the model's load levels are loads within 10% of each other). */
#define SEEN_TOL 0.10

int an_pred_prod(const struct an_model *m, double weight, double timeout_s,
		 struct an_pred *out)
{
	memset(out, 0, sizeof(*out));
	if (!an_model_ready(m))
		return -ENODATA;
	out->form = m->form;
	out->fit[0] = m->prod[m->form == AN_FORM_USL ? AN_FORM_MM1 : m->form];
	out->tail[0] = 1;
	out->prod[0] = true;
	out->n = 1;
	an_bound_prod(m, &out->fit[0], weight, &out->bound);
	/* rate_err holds the resets already (timeouts + resets + ICMP) */
	out->base_err = fmax(0, m->rate_err);
	out->timeout_s = timeout_s;
	return 0;
}

const struct an_pred *an_pred_pick(bool has_pred, const struct an_pred *pred,
				   const struct an_model *m, double model_weight,
				   double timeout_s, struct an_pred *scratch)
{
	if (has_pred)
		return pred;
	if (an_pred_prod(m, model_weight, timeout_s, scratch) != 0)
		return NULL;
	return scratch;
}

static struct an_bound bound_of(const struct an_pred *p, int i)
{
	struct an_bound b = p->bound;

	b.levels = p->prod[i];
	return b;
}

double an_pred_q(const struct an_model *m, const struct an_pred *p, double lam, uint32_t c,
		 double q, bool hi)
{
	double worst = 0;

	for (int i = 0; i < p->n; i++) {
		const struct an_fit *f = &p->fit[i];
		struct an_bound b = bound_of(p, i);
		double v = hi ? an_model_q_hi(m, p->form, f, p->tail[i], lam, c, q, &b) :
				f->d0 + p->tail[i] * an_model_q(m, p->form, f, lam, c, q);

		worst = fmax(worst, v);
	}
	return worst;
}

double an_pred_exceed(const struct an_model *m, const struct an_pred *p, double lam, uint32_t c,
		      double t, bool hi)
{
	double worst = 0;

	for (int i = 0; i < p->n; i++) {
		const struct an_fit *f = &p->fit[i];
		struct an_bound b = bound_of(p, i);
		double v = hi ? an_model_exceed_hi(m, p->form, f, p->tail[i], lam, c, t, &b) :
				an_model_exceed(m, p->form, f, lam, c,
						f->d0 + (t - f->d0) / p->tail[i]);

		worst = fmax(worst, v);
	}
	return worst;
}

double an_pred_err(const struct an_model *m, const struct an_pred *p, double lam, uint32_t c,
		   bool hi)
{
	return p->base_err + an_pred_exceed(m, p, lam, c, p->timeout_s, hi);
}

double an_pred_util(const struct an_pred *p, double lam)
{
	double mu = INFINITY;

	for (int i = 0; i < p->n; i++)
		if (p->fit[i].mu > 0)
			mu = fmin(mu, p->fit[i].mu);
	return isfinite(mu) ? lam / mu : NAN;
}

bool an_pred_meets(const struct an_model *m, const struct an_pred *p, double lam, uint32_t c,
		   double slo_p99_s, double slo_err, bool hi)
{
	return an_pred_q(m, p, lam, c, 0.99, hi) <= slo_p99_s &&
	       an_pred_err_ok(an_pred_err(m, p, lam, c, hi), slo_err);
}

uint32_t an_pred_fewest(const struct an_model *m, const struct an_pred *p, double rps,
			double slo_p99_s, double slo_err, uint32_t lo, uint32_t hi)
{
	uint32_t top;

	if (lo < 1)
		lo = 1;
	if (hi < lo || !(rps > 0))
		return 0;
	/* Bracket by doubling (ggc and mmc cost O(c) an evaluation), then
	 * bisect: p99 and timeouts only fall as instances are added. */
	top = lo;
	while (!an_pred_meets(m, p, rps / top, top, slo_p99_s, slo_err, true)) {
		if (top >= hi)
			return 0;
		lo = top + 1;
		top = top > hi / 2 ? hi : top * 2;
	}
	while (lo < top) {
		uint32_t mid = lo + (top - lo) / 2;

		if (an_pred_meets(m, p, rps / mid, mid, slo_p99_s, slo_err, true))
			top = mid;
		else
			lo = mid + 1;
	}
	return top;
}

enum an_evidence an_pred_evidence(const struct an_model *m, const struct an_pred *p, double lam,
				  double *seen_lo, double *seen_hi)
{
	double lo = INFINITY, hi = 0, seen[AN_USL_POINTS + 2];
	bool near = false;
	uint32_t n = 0;

	for (uint32_t i = 0; i < m->n_usl && i < AN_USL_POINTS; i++)
		if (m->usl[i].lam > 0 && m->usl[i].w > 0)
			seen[n++] = m->usl[i].lam;
	if (p->bound.lam_obs > 0)
		seen[n++] = p->bound.lam_obs;
	if (p->lam_shadow > 0)
		seen[n++] = p->lam_shadow;
	for (uint32_t i = 0; i < n; i++) {
		lo = fmin(lo, seen[i]);
		hi = fmax(hi, seen[i]);
		if (fabs(lam / seen[i] - 1) <= SEEN_TOL)
			near = true;
	}
	if (seen_lo != NULL)
		*seen_lo = n ? lo : NAN;
	if (seen_hi != NULL)
		*seen_hi = n ? hi : NAN;
	if (near)
		return AN_EV_MEASURED;
	if (n && lam >= lo && lam <= hi)
		return AN_EV_INTERPOLATED;
	return AN_EV_EXTRAPOLATED;
}

const char *an_evidence_name(enum an_evidence e)
{
	switch (e) {
	case AN_EV_MEASURED:
		return "measured";
	case AN_EV_INTERPOLATED:
		return "interpolated";
	default:
		return "extrapolated";
	}
}

/* --- what-if: the question ---------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

struct errs {
	an_plan_err_fn fn;
	void *arg;
	int n;
};

static void problem(struct errs *e, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void problem(struct errs *e, const char *key, const char *fmt, ...)
{
	char msg[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e->fn(e->arg, key, msg);
	e->n++;
}

/* Splits text at commas into a copy; every item trimmed. Returns the count,
 * or -1 after reporting a problem. */
static int split(const char *key, const char *text, char *buf, size_t len, char **items,
		 int max, struct errs *e)
{
	struct st_perr pe;
	int n;

	if (strlen(text) >= len) {
		problem(e, key, "longer than 1023 characters");
		return -1;
	}
	snprintf(buf, len, "%s", text);
	n = st_split_list(buf, items, max, &pe);
	if (n == -E2BIG) {
		problem(e, key, "more than %d items", max);
		return -1;
	}
	if (n < 0) {
		problem(e, key, "%s", pe.msg);
		return -1;
	}
	if (n == 0) {
		problem(e, key, "empty: give at least one value");
		return -1;
	}
	return n;
}

static void parse_loads(const char *text, const struct an_plan *plan, struct an_whatif_req *r,
			struct errs *e)
{
	char buf[1024], *items[AN_WHATIF_LOADS * 2];
	int n = split("load", text, buf, sizeof(buf), items, AN_WHATIF_LOADS * 2, e);

	for (int i = 0; i < n; i++) {
		char *s = items[i], num[64];
		size_t l = strlen(s);
		bool factor = l > 0 && (s[l - 1] == 'x' || s[l - 1] == 'X');
		struct st_perr pe;
		double v;

		if (factor)
			l--;
		if (l == 0 || l >= sizeof(num)) {
			problem(e, "load", "'%.40s': expected a request rate (250) or a multiple of the forecast (1.5x)",
				s);
			continue;
		}
		memcpy(num, s, l);
		num[l] = '\0';
		if (st_parse_double(num, 0, 1e12, &v, &pe) != 0 || !(v > 0)) {
			problem(e, "load", "'%.40s': expected a request rate (250) or a multiple of the forecast (1.5x) above 0",
				s);
			continue;
		}
		if (factor && !(plan->forecast_rps > 0)) {
			problem(e, "load", "'%.40s': a multiple of the forecast, and the plan has no forecast_rps",
				s);
			continue;
		}
		if (r->n_loads >= AN_WHATIF_LOADS) {
			problem(e, "load", "more than %d loads", AN_WHATIF_LOADS);
			return;
		}
		r->factor[r->n_loads] = factor ? v : 0;
		r->rps[r->n_loads++] = factor ? v * plan->forecast_rps : v;
	}
}

static void add_count(struct an_whatif_req *r, uint32_t c, struct errs *e, bool *full)
{
	for (uint32_t i = 0; i < r->n_counts; i++)
		if (r->counts[i] == c)
			return;
	if (r->n_counts >= AN_WHATIF_COUNTS) {
		if (!*full)
			problem(e, "instances", "more than %d instance counts", AN_WHATIF_COUNTS);
		*full = true;
		return;
	}
	r->counts[r->n_counts++] = c;
}

static void parse_counts(const char *text, const struct an_plan *plan, struct an_whatif_req *r,
			 struct errs *e)
{
	char buf[1024], *items[AN_WHATIF_COUNTS];
	int n = split("instances", text, buf, sizeof(buf), items, AN_WHATIF_COUNTS, e);
	uint64_t max = plan->max_instances ? plan->max_instances : AN_MAX_INSTANCES;
	bool full = false;

	for (int i = 0; i < n && !full; i++) {
		char *dash = strchr(items[i], '-'), lim[24];
		struct st_perr pe;
		uint64_t a, b;

		snprintf(lim, sizeof(lim), "%llu", (unsigned long long)max);
		if (dash == NULL) {
			if (st_parse_uint(items[i], 1, max, &a, &pe) != 0) {
					problem(e, "instances", "'%.40s': expected a count 1..%s (the plan's max_instances) or a range such as 2-8",
					items[i], lim);
				continue;
			}
			add_count(r, (uint32_t)a, e, &full);
			continue;
		}
		*dash = '\0';
		if (st_parse_uint(items[i], 1, max, &a, &pe) != 0 ||
		    st_parse_uint(dash + 1, 1, max, &b, &pe) != 0) {
			*dash = '-';
			problem(e, "instances", "'%.40s': a range is LO-HI, both counts 1..%s",
				items[i], lim);
			continue;
		}
		if (b < a) {
			*dash = '-';
			problem(e, "instances", "'%.40s': an inverted range (the first count is larger)",
				items[i]);
			continue;
		}
		if (b - a >= AN_WHATIF_COUNTS) {
			*dash = '-';
			problem(e, "instances", "'%.40s': a range of more than %d counts", items[i],
				AN_WHATIF_COUNTS);
			continue;
		}
		for (uint64_t c = a; c <= b && !full; c++)
			add_count(r, (uint32_t)c, e, &full);
	}
}

int an_whatif_parse(const char *load, const char *instances, const struct an_plan *plan,
		    struct an_whatif_req *r, an_plan_err_fn fn, void *arg)
{
	struct errs e = { fn, arg, 0 };

	memset(r, 0, sizeof(*r));
	if (load != NULL) {
		parse_loads(load, plan, r, &e);
	} else if (plan->forecast_rps > 0) {
		r->rps[0] = plan->forecast_rps;
		r->factor[0] = 1;
		r->n_loads = 1;
	} else {
		problem(&e, "load", "required: the plan has no forecast_rps to default to");
	}
	if (instances != NULL) {
		parse_counts(instances, plan, r, &e);
	} else if (plan->current_instances > 0) {
		bool full = false;

		add_count(r, plan->current_instances, &e, &full);
		if (plan->proposed_instances > 0)
			add_count(r, plan->proposed_instances, &e, &full);
	} else {
		problem(&e, "instances", "required: the plan has no current_instances to default to");
	}
	if (e.n == 0 && r->n_loads * r->n_counts > AN_WHATIF_CELLS) {
		problem(&e, NULL, "%u cells (loads x instance counts): at most %d",
			r->n_loads * r->n_counts, AN_WHATIF_CELLS);
	}
	if (e.n == 0) {
		uint64_t work = 0;

		for (uint32_t i = 0; i < r->n_counts; i++)
			work += r->counts[i];
		work *= r->n_loads;
		if (work > AN_WHATIF_WORK)
			problem(&e, "instances", "%llu instances over the %u cells: at most %d "
				"(fewer loads, or fewer or smaller counts)",
				(unsigned long long)work, r->n_loads * r->n_counts, AN_WHATIF_WORK);
	}
	if (e.n != 0)
		return e.n;
	/* rising order, each load once (the factor kept with its load) */
	for (uint32_t i = 1; i < r->n_loads; i++)
		for (uint32_t j = i; j > 0 && r->rps[j - 1] > r->rps[j]; j--) {
			double t = r->rps[j];

			r->rps[j] = r->rps[j - 1];
			r->rps[j - 1] = t;
			t = r->factor[j];
			r->factor[j] = r->factor[j - 1];
			r->factor[j - 1] = t;
		}
	{
		uint32_t k = 0;

		for (uint32_t i = 0; i < r->n_loads; i++)
			if (k == 0 || r->rps[i] != r->rps[k - 1]) {
				r->rps[k] = r->rps[i];
				r->factor[k++] = r->factor[i];
			}
		r->n_loads = k;
	}
	qsort(r->counts, r->n_counts, sizeof(r->counts[0]), cmp_u32);
	return 0;
}

void an_pred_point(const struct an_model *m, const struct an_pred *p, const struct an_plan *plan,
		   double rps, uint32_t c, struct an_pred_point *out)
{
	double slo = (double)plan->slo_p99_ns / 1e9;

	out->rps = rps;
	out->lam = rps / c;
	out->p50 = an_pred_q(m, p, out->lam, c, 0.5, false);
	out->p99 = an_pred_q(m, p, out->lam, c, 0.99, false);
	out->p99_hi = an_pred_q(m, p, out->lam, c, 0.99, true);
	out->err = fmin(1, an_pred_err(m, p, out->lam, c, false));
	out->err_hi = fmin(1, an_pred_err(m, p, out->lam, c, true));
	out->util = an_pred_util(p, out->lam);
	out->p99_over_slo = slo > 0 ? out->p99 / slo : NAN;
	out->cost_per_hour = plan->cost_per_hour >= 0 ? plan->cost_per_hour * c : NAN;
	out->meets = out->p99_hi <= slo && an_pred_err_ok(out->err_hi, plan->slo_error_rate);
	out->meets_nominal = out->p99 <= slo && an_pred_err_ok(out->err, plan->slo_error_rate);
	out->evidence = an_pred_evidence(m, p, out->lam, NULL, NULL);
}

/* --- what-if: the answer ------------------------------------------------------ */

static void pk_num(msgpack_packer *pk, double v)
{
	if (isfinite(v))
		msgpack_pack_double(pk, v);
	else
		msgpack_pack_nil(pk);
}

static void pk_key(msgpack_packer *pk, const char *k)
{
	st_wire_pack_cstr(pk, k);
}

static void pk_bool(msgpack_packer *pk, bool b)
{
	if (b)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

static void pack_pred_model(msgpack_packer *pk, const struct an_model *m, const struct an_pred *p)
{
	bool general = p->form == AN_FORM_MG1 || p->form == AN_FORM_GGC;

	msgpack_pack_map(pk, 5);
	pk_key(pk, "form");
	st_wire_pack_cstr(pk, an_form_name(p->form));
	pk_key(pk, "version");
	msgpack_pack_uint64(pk, m->version);
	pk_key(pk, "source");
	st_wire_pack_cstr(pk, p->corrected ? "verdict" : "prod");
	pk_key(pk, "verdict_t");
	if (p->t)
		msgpack_pack_uint64(pk, p->t);
	else
		msgpack_pack_nil(pk);
	pk_key(pk, "fits");
	msgpack_pack_array(pk, (size_t)p->n);
	for (int i = 0; i < p->n; i++) {
		msgpack_pack_map(pk, general ? 5 : 4);
		pk_key(pk, "mu");
		pk_num(pk, p->fit[i].mu);
		pk_key(pk, "d0");
		pk_num(pk, p->fit[i].d0);
		pk_key(pk, "tail");
		pk_num(pk, p->tail[i]);
		pk_key(pk, "prod");
		pk_bool(pk, p->prod[i]);
		if (general) {
			pk_key(pk, "cs2");
			pk_num(pk, p->fit[i].cs2);
		}
	}
}

void an_whatif_pack(struct st_wbuf *out, const char *service, const struct an_plan *plan,
		    const struct an_model *m, const struct an_pred *p,
		    const struct an_whatif_req *r, bool extra_ok)
{
	double slo = (double)plan->slo_p99_ns / 1e9, price = plan->cost_per_hour, lo, hi;
	uint32_t max = plan->max_instances ? plan->max_instances : AN_MAX_INSTANCES;
	msgpack_packer pk;

	msgpack_packer_init(&pk, out, st_wbuf_mp_write);
	msgpack_pack_map(&pk, 11 + (extra_ok ? 1 : 0));
	if (extra_ok) {
		pk_key(&pk, "ok");
		msgpack_pack_true(&pk);
	}
	pk_key(&pk, "service");
	st_wire_pack_cstr(&pk, service);
	pk_key(&pk, "model");
	pack_pred_model(&pk, m, p);
	pk_key(&pk, "forecast_rps");
	pk_num(&pk, plan->forecast_rps);
	pk_key(&pk, "current_instances");
	msgpack_pack_uint32(&pk, plan->current_instances);
	pk_key(&pk, "proposed_instances");
	msgpack_pack_uint32(&pk, plan->proposed_instances);
	pk_key(&pk, "slo_p99");
	pk_num(&pk, slo);
	pk_key(&pk, "slo_error_rate");
	pk_num(&pk, plan->slo_error_rate);
	pk_key(&pk, "instance_cost_per_hour");
	pk_num(&pk, price >= 0 ? price : NAN);
	an_pred_evidence(m, p, 0, &lo, &hi);
	pk_key(&pk, "seen_rps_per_instance");
	msgpack_pack_array(&pk, 2);
	pk_num(&pk, lo);
	pk_num(&pk, hi);
	pk_key(&pk, "points");
	msgpack_pack_array(&pk, (size_t)r->n_loads * r->n_counts);
	for (uint32_t i = 0; i < r->n_loads; i++)
		for (uint32_t k = 0; k < r->n_counts; k++) {
			uint32_t c = r->counts[k];
			struct an_pred_point pt;

			an_pred_point(m, p, plan, r->rps[i], c, &pt);
			msgpack_pack_map(&pk, 15);
			pk_key(&pk, "rps");
			pk_num(&pk, pt.rps);
			pk_key(&pk, "load_factor");
			pk_num(&pk, plan->forecast_rps > 0 ? r->rps[i] / plan->forecast_rps : NAN);
			pk_key(&pk, "instances");
			msgpack_pack_uint32(&pk, c);
			pk_key(&pk, "rps_per_instance");
			pk_num(&pk, pt.lam);
			pk_key(&pk, "p50");
			pk_num(&pk, pt.p50);
			pk_key(&pk, "p99");
			pk_num(&pk, pt.p99);
			pk_key(&pk, "p99_hi");
			pk_num(&pk, pt.p99_hi);
			pk_key(&pk, "error_rate");
			pk_num(&pk, pt.err);
			pk_key(&pk, "error_rate_hi");
			pk_num(&pk, pt.err_hi);
			pk_key(&pk, "utilization");
			pk_num(&pk, pt.util);
			/* the recommendation's test: the bound */
			pk_key(&pk, "meets_slo");
			pk_bool(&pk, pt.meets);
			pk_key(&pk, "meets_slo_nominal");
			pk_bool(&pk, pt.meets_nominal);
			pk_key(&pk, "p99_over_slo");
			pk_num(&pk, pt.p99_over_slo);
			pk_key(&pk, "cost_per_hour");
			pk_num(&pk, pt.cost_per_hour);
			pk_key(&pk, "evidence");
			st_wire_pack_cstr(&pk, an_evidence_name(pt.evidence));
		}
	pk_key(&pk, "fewest");
	msgpack_pack_array(&pk, r->n_loads);
	for (uint32_t i = 0; i < r->n_loads; i++) {
		uint32_t n = an_pred_fewest(m, p, r->rps[i], slo, plan->slo_error_rate,
					    plan->min_instances ? plan->min_instances : 1, max);

		msgpack_pack_map(&pk, 3);
		pk_key(&pk, "rps");
		pk_num(&pk, r->rps[i]);
		pk_key(&pk, "instances");
		if (n)
			msgpack_pack_uint32(&pk, n);
		else
			msgpack_pack_nil(&pk);
		pk_key(&pk, "cost_per_hour");
		pk_num(&pk, n && price >= 0 ? price * n : NAN);
	}
}
