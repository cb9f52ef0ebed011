/* The predictor the judge, what-if and the alerts share (analyzer/predict.c):
 * closed-form values on a model with known parameters, the bound beyond the
 * loads seen, the fewest count, evidence, the what-if parameters (every
 * refusal reported) and the packed answer. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cunit_main.h"
#include "predict.h"

#define NEAR(a, b, tol) CU_ASSERT(fabs((a) - (b)) <= (tol))

/* M/M/1 per instance, 100/s, 1 ms fixed, seen at 50/s per instance. */
static void known(struct an_model *m, struct an_pred *p)
{
	an_model_init(m);
	memset(p, 0, sizeof(*p));
	p->form = AN_FORM_MM1;
	p->fit[0] = (struct an_fit){ .mu = 100, .d0 = 0.001, .w = 1 };
	p->tail[0] = 1;
	p->n = 1;
	p->bound = (struct an_bound){ .lam_obs = 50, .rsd = 0, .weight = 0.1, .levels = false };
	p->timeout_s = 0.1;
	p->base_err = 0.002;
}

static void test_closed_form(void)
{
	struct an_model m;
	struct an_pred p;
	double f;

	known(&m, &p);
	NEAR(an_pred_q(&m, &p, 50, 4, 0.99, false), 0.001 + log(100) / 50, 1e-12);
	NEAR(an_pred_q(&m, &p, 50, 4, 0.5, false), 0.001 + log(2) / 50, 1e-12);
	/* at the load seen, with no spread, the bound is the prediction */
	NEAR(an_pred_q(&m, &p, 50, 4, 0.99, true), 0.001 + log(100) / 50, 1e-12);
	/* beyond it the load is inflated by 1 + 0.25 (lam / lam_obs - 1) */
	f = 1 + AN_BOUND_EXTRAP * (75.0 / 50 - 1);
	NEAR(an_pred_q(&m, &p, 75, 4, 0.99, true), 0.001 + log(100) / (100 - 75 * f), 1e-12);
	NEAR(an_pred_err(&m, &p, 50, 4, false), 0.002 + exp(-50 * (0.1 - 0.001)), 1e-12);
	NEAR(an_pred_util(&p, 50), 0.5, 1e-15);
	CU_ASSERT(isinf(an_pred_q(&m, &p, 100, 4, 0.99, false)));
	/* two fits: the worse one counts */
	p.fit[1] = (struct an_fit){ .mu = 80, .d0 = 0.001, .w = 1 };
	p.tail[1] = 1;
	p.n = 2;
	NEAR(an_pred_q(&m, &p, 50, 4, 0.99, false), 0.001 + log(100) / 30, 1e-12);
	NEAR(an_pred_util(&p, 40), 0.5, 1e-15);
}

static void test_fewest(void)
{
	struct an_model m;
	struct an_pred p;
	uint32_t want = 0;

	known(&m, &p);
	/* brute force over the closed form of the bound */
	for (uint32_t n = 1; n < 100 && want == 0; n++) {
		double lam = 300.0 / n, f = 1 + (lam > 50 ? AN_BOUND_EXTRAP * (lam / 50 - 1) : 0);
		double lh = lam * f;

		if (lh < 100 && 0.001 + log(100) / (100 - lh) <= 0.05 &&
		    0.002 + exp(-(100 - lh) * (0.1 - 0.001)) <= 0.01)
			want = n;
	}
	CU_ASSERT(want > 0);
	CU_ASSERT_EQUAL(an_pred_fewest(&m, &p, 300, 0.05, 0.01, 1, 1000), want);
	CU_ASSERT(an_pred_meets(&m, &p, 300.0 / want, want, 0.05, 0.01, true));
	CU_ASSERT(!an_pred_meets(&m, &p, 300.0 / (want - 1), want - 1, 0.05, 0.01, true));
	/* bounded above: none */
	CU_ASSERT_EQUAL(an_pred_fewest(&m, &p, 300, 0.05, 0.01, 1, want - 1), 0);
	/* an error floor above the SLO: no count meets it */
	p.base_err = 0.02;
	CU_ASSERT_EQUAL(an_pred_fewest(&m, &p, 300, 0.05, 0.01, 1, 1000), 0);
	/* An objective of 0 with no error seen: the model's timeout tail at
	 * a light load, e^-(100 - 10) 0.999 (about 1e-39), is no error; it
	 * was above 0, and no count met the objective. One error seen in
	 * the past is one. */
	p.base_err = 0;
	p.timeout_s = 1;
	CU_ASSERT(an_pred_err(&m, &p, 10, 30, true) > 0);
	CU_ASSERT(an_pred_meets(&m, &p, 10, 30, 0.1, 0, true));
	CU_ASSERT(an_pred_fewest(&m, &p, 300, 0.05, 0, 1, 1000) > 0);
	p.base_err = 1e-6;
	CU_ASSERT(!an_pred_meets(&m, &p, 10, 30, 0.1, 0, true));
	/* prod's predictor: its error rate holds the resets already (they
	 * were counted twice: 1.0% for 0.6%) */
	an_model_init(&m);
	m.prod[AN_FORM_MM1] = (struct an_fit){ .mu = 100, .d0 = 0.001, .w = 1 };
	m.rate_err = 0.006;
	m.rate_rst = 0.004;
	CU_ASSERT_EQUAL_FATAL(an_pred_prod(&m, 0.1, 2, &p), 0);
	NEAR(p.base_err, 0.006, 1e-12);
}

static void test_evidence(void)
{
	struct an_model m;
	struct an_pred p;
	double lo, hi;

	known(&m, &p);
	m.usl[0].lam = 20;
	m.usl[0].w = 1;
	m.n_usl = 1;
	CU_ASSERT_EQUAL(an_pred_evidence(&m, &p, 52, &lo, &hi), AN_EV_MEASURED);
	NEAR(lo, 20, 0);
	NEAR(hi, 50, 0);
	CU_ASSERT_EQUAL(an_pred_evidence(&m, &p, 35, NULL, NULL), AN_EV_INTERPOLATED);
	CU_ASSERT_EQUAL(an_pred_evidence(&m, &p, 60, NULL, NULL), AN_EV_EXTRAPOLATED);
	CU_ASSERT_EQUAL(an_pred_evidence(&m, &p, 10, NULL, NULL), AN_EV_EXTRAPOLATED);
	CU_ASSERT_STRING_EQUAL(an_evidence_name(AN_EV_INTERPOLATED), "interpolated");
}

struct seen {
	int n;
	char text[2048];
};

static void collect(void *arg, const char *key, const char *msg)
{
	struct seen *s = arg;
	size_t u = strlen(s->text);

	snprintf(s->text + u, sizeof(s->text) - u, "[%s] %s\n", key ? key : "-", msg);
	s->n++;
}

static void test_parse(void)
{
	struct an_whatif_req r;
	struct an_plan plan;
	struct seen s = { 0 };

	an_plan_defaults(&plan);
	plan.forecast_rps = 400;
	plan.current_instances = 4;
	plan.proposed_instances = 6;
	plan.max_instances = 50;
	CU_ASSERT_EQUAL(an_whatif_parse("1x, 200,0.5x ,2.5X", "4,1-3,2", &plan, &r, collect, &s), 0);
	CU_ASSERT_EQUAL(s.n, 0);
	CU_ASSERT_EQUAL(r.n_loads, 3);	/* 200 and 0.5x are one load */
	NEAR(r.rps[0], 200, 0);
	NEAR(r.rps[1], 400, 0);
	NEAR(r.factor[1], 1, 0);
	NEAR(r.rps[2], 1000, 0);
	CU_ASSERT_EQUAL(r.n_counts, 4);
	CU_ASSERT_EQUAL(r.counts[0], 1);
	CU_ASSERT_EQUAL(r.counts[3], 4);
	/* defaults: the forecast, the current and proposed counts */
	CU_ASSERT_EQUAL(an_whatif_parse(NULL, NULL, &plan, &r, collect, &s), 0);
	CU_ASSERT_EQUAL(r.n_loads, 1);
	NEAR(r.rps[0], 400, 0);
	CU_ASSERT_EQUAL(r.n_counts, 2);
	CU_ASSERT_EQUAL(r.counts[1], 6);
	/* every problem reported, each under its parameter */
	CU_ASSERT_EQUAL(an_whatif_parse("abc,-1,0x,x,7", "5-2,0,51,a-b,3", &plan, &r, collect, &s),
			8);
	printf("\n%s", s.text);
	CU_ASSERT_PTR_NOT_NULL(strstr(s.text, "[load] 'abc'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s.text, "[load] '-1'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s.text, "[load] '0x'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s.text, "[load] 'x'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s.text, "[instances] '5-2': an inverted range"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s.text, "[instances] '0'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s.text, "[instances] '51'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s.text, "[instances] 'a-b'"));
	s.n = 0;
	s.text[0] = '\0';
	CU_ASSERT_EQUAL(an_whatif_parse("", ",", &plan, &r, collect, &s), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(s.text, "[load] empty"));
	s.n = 0;
	s.text[0] = '\0';
	plan.max_instances = 100000;
	CU_ASSERT_EQUAL(an_whatif_parse("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", "1-255",
					&plan, &r, collect, &s), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(s.text, "cells"));
	/* 4,096 cells but 16 x 256 counts near 100,000: each a chain of
	 * 100,000 Erlang C terms, seconds of the main loop's time: refused */
	s.n = 0;
	s.text[0] = '\0';
	CU_ASSERT_EQUAL(an_whatif_parse("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", "99745-100000",
					&plan, &r, collect, &s), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(s.text, "[instances] 409077760 instances over the 4096 cells"));
	/* the same cells at counts 1-256: 16 x 32,896, taken */
	CU_ASSERT_EQUAL(an_whatif_parse("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", "1-256",
					&plan, &r, collect, &s), 0);
	/* a multiple of a forecast the plan does not have */
	s.n = 0;
	plan.forecast_rps = 0;
	CU_ASSERT_EQUAL(an_whatif_parse("2x", "1", &plan, &r, collect, &s), 1);
}

static const msgpack_object *get(const msgpack_object *map, const char *key)
{
	for (uint32_t i = 0; map->type == MSGPACK_OBJECT_MAP && i < map->via.map.size; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key;

		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(key) &&
		    memcmp(k->via.str.ptr, key, k->via.str.size) == 0)
			return &map->via.map.ptr[i].val;
	}
	return NULL;
}

static double num(const msgpack_object *o)
{
	if (o == NULL)
		return NAN;
	if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32)
		return o->via.f64;
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		return (double)o->via.u64;
	return NAN;
}

static void test_pack(void)
{
	struct an_whatif_req r;
	struct an_model m;
	struct an_pred p;
	struct an_plan plan;
	struct seen s = { 0 };
	struct st_wbuf b;
	struct st_wire_error we;
	msgpack_zone zone;
	msgpack_object doc;
	const msgpack_object *pts, *pt, *few;

	known(&m, &p);
	an_plan_defaults(&plan);
	plan.forecast_rps = 200;
	plan.current_instances = 4;
	plan.proposed_instances = 6;
	plan.slo_p99_ns = 100000000;
	plan.slo_error_rate = 0.01;
	plan.cost_per_hour = 0.5;
	CU_ASSERT_EQUAL_FATAL(an_whatif_parse("1x,1.5x", "2-4", &plan, &r, collect, &s), 0);
	st_wbuf_init(&b);
	an_whatif_pack(&b, "web", &plan, &m, &p, &r, true);
	CU_ASSERT_FATAL(!b.oom);
	CU_ASSERT_FATAL(msgpack_zone_init(&zone, 4096));
	CU_ASSERT_EQUAL_FATAL(st_wire_parse(b.data, b.len, NULL, &zone, &doc, &we), 0);
	CU_ASSERT(get(&doc, "ok") != NULL && get(&doc, "ok")->type == MSGPACK_OBJECT_BOOLEAN);
	pts = get(&doc, "points");
	CU_ASSERT_FATAL(pts != NULL && pts->type == MSGPACK_OBJECT_ARRAY);
	CU_ASSERT_EQUAL_FATAL(pts->via.array.size, 6);
	pt = &pts->via.array.ptr[2];	/* 200 rps on 4: 50/s each, as seen */
	NEAR(num(get(pt, "rps")), 200, 0);
	NEAR(num(get(pt, "instances")), 4, 0);
	NEAR(num(get(pt, "p99")), 0.001 + log(100) / 50, 1e-12);
	NEAR(num(get(pt, "p99_hi")), 0.001 + log(100) / 50, 1e-12);
	NEAR(num(get(pt, "utilization")), 0.5, 1e-12);
	NEAR(num(get(pt, "cost_per_hour")), 2.0, 1e-12);
	CU_ASSERT(get(pt, "meets_slo")->via.boolean);
	CU_ASSERT(get(pt, "evidence")->via.str.size == 8);	/* measured */
	pt = &pts->via.array.ptr[0];	/* 200 on 2: 100/s, saturated */
	CU_ASSERT(get(pt, "p99")->type == MSGPACK_OBJECT_NIL);
	CU_ASSERT(!get(pt, "meets_slo")->via.boolean);
	few = get(&doc, "fewest");
	CU_ASSERT_FATAL(few != NULL && few->via.array.size == 2);
	NEAR(num(get(&few->via.array.ptr[1], "instances")),
	     an_pred_fewest(&m, &p, 300, 0.1, 0.01, 1, 100000), 0);
	msgpack_zone_destroy(&zone);
	st_wbuf_free(&b);
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "closed_form", test_closed_form },
		{ "fewest", test_fewest },
		{ "evidence", test_evidence },
		{ "parse", test_parse },
		{ "pack", test_pack },
		{ NULL, NULL },
	};

	return st_cu_add_suite("an_predict", NULL, NULL, tests);
}
