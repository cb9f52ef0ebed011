/* The analysis engine in-process, fed by the seeded publishers of
 * tests/integration/kpisim.c through the same an_engine_ingest the program
 * uses (only the sockets are missing), windows closing by the data's clock.
 * Fast enough for the 200-run A/A check. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "engine.h"
#include "kpisim.h"
#include "model.h"
#include "noise.h"
#include "verify.h"
#include "window.h"
#include "wire.h"

#define T0 1000000000000000000ULL
#define SEC 1000000000ULL

struct tally {
	int verdicts, confirm, adjust, inconclusive, anomalies;
	int any_high[16];
	struct st_verdict last;
	struct st_verdict last_decisive;
	int flips;
	enum st_verdict_kind prev;
	/* the first verdict whose count left the plan's current_instances */
	bool moved;
	enum st_verdict_kind moved_kind;
};

static void on_verdict(void *arg, const struct an_service *s, const struct st_verdict *v)
{
	struct tally *t = arg;

	(void)s;
	t->verdicts++;
	if (t->verdicts > 1 && v->verdict != t->prev)
		t->flips++;
	t->prev = v->verdict;
	if (v->verdict == ST_VERDICT_CONFIRM)
		t->confirm++;
	else if (v->verdict == ST_VERDICT_ADJUST)
		t->adjust++;
	else
		t->inconclusive++;
	for (uint32_t i = 0; i < v->n_kpis && i < 16; i++)
		if (v->kpis[i].status == ST_KPI_HIGH)
			t->any_high[i]++;
	t->last = *v;
	if (v->verdict != ST_VERDICT_INCONCLUSIVE)
		t->last_decisive = *v;
	if (!t->moved && v->recommended_instances != v->current_instances) {
		t->moved = true;
		t->moved_kind = v->verdict;
	}
}

static void on_anomaly(void *arg, const struct an_service *s, const uint8_t *b, size_t n)
{
	struct tally *t = arg;

	(void)s;
	(void)b;
	(void)n;
	t->anomalies++;
}

struct scenario {
	struct ks_target tg[4];
	int n_tg;
	int windows;		/* 1 s windows */
	int per_window;		/* snapshots per window per target */
	uint64_t seed;
	struct an_plan plan;
	const char *model;	/* NULL: auto */
	const char *dataplane_control;	/* squeeze steps on (no socket opened here) */
	/* called once, before window hook_at's snapshots */
	void (*hook)(struct an_engine *e, void *arg);
	void *hook_arg;
	int hook_at;
	bool no_plan;		/* the plan not proposed at the start */
	/* called for every snapshot: may change the target (a copy) for
	 * window w; returns false to generate it and not ingest it (the
	 * random stream stays that of a run that ingests it) */
	bool (*pick)(int w, int k, struct ks_target *t);
};

static void plan_default(struct an_plan *p)
{
	an_plan_defaults(p);
	snprintf(p->shadow, sizeof(p->shadow), "canary");
	p->current_instances = 8;
	p->proposed_instances = 16;
	p->forecast_rps = 8000;		/* 500 per instance at 16 */
	p->slo_p99_ns = 30 * 1000000ULL;
	p->slo_error_rate = 0.01;
}

static struct ks_target tgt(const char *name, enum st_role role, uint32_t c, double lam,
			    double mu)
{
	struct ks_target t;

	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "%s", name);
	t.role = role;
	t.instances = c;
	t.lam = lam;
	t.mu = mu;
	t.d0 = 0.002;
	t.tail = 1;
	t.share = 1;
	return t;
}

static void config(struct an_config *c, const char *model)
{
	struct st_perr pe;

	an_config_defaults(c);
	an_config_set(c, "window", "1s", &pe);
	an_config_set(c, "verdict_endpoint", "none", &pe);
	an_config_set(c, "control_endpoint", "none", &pe);
	if (model != NULL)
		an_config_set(c, "model", model, &pe);
}

/* Runs a scenario; returns the engine (destroy it) for further checks. */
static struct an_engine *run(const struct scenario *sc, struct tally *t,
			     struct an_config *cfg)
{
	struct an_engine *e;
	struct ks_sim sim;
	struct st_wbuf b;
	uint64_t step = SEC / (uint64_t)sc->per_window;

	config(cfg, sc->model);
	if (sc->dataplane_control != NULL)
		snprintf(cfg->dataplane_control, sizeof(cfg->dataplane_control), "%s",
			 sc->dataplane_control);
	memset(t, 0, sizeof(*t));
	e = an_engine_create(cfg, true);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	an_engine_set_output(e, on_verdict, on_anomaly, t);
	if (!sc->no_plan)
		CU_ASSERT_EQUAL(an_engine_propose(e, "web", &sc->plan), 0);
	CU_ASSERT_EQUAL_FATAL(ks_init(&sim, sc->seed, "web", "gw1"), 0);
	st_wbuf_init(&b);
	for (int i = 0; i < sc->windows * sc->per_window; i++) {
		uint64_t a = T0 + (uint64_t)i * step;

		if (sc->hook != NULL && i == sc->hook_at * sc->per_window)
			sc->hook(e, sc->hook_arg);
		for (int k = 0; k < sc->n_tg; k++) {
			char topic[ST_WIRE_TOPIC_MAX];
			struct ks_target tk = sc->tg[k];
			bool ingest = sc->pick == NULL || sc->pick(i / sc->per_window, k, &tk);

			CU_ASSERT_EQUAL_FATAL(ks_snapshot(&sim, &tk, a, a + step, &b, topic,
							  sizeof(topic)), 0);
			if (ingest)
				CU_ASSERT_EQUAL(an_engine_ingest(e, topic, strlen(topic), b.data, b.len,
								 2, 0), 0);
		}
		an_engine_tick(e, 0);
	}
	an_engine_flush(e, 0);
	st_wbuf_free(&b);
	ks_free(&sim);
	return e;
}

static const struct st_verdict_kpi *kpi(const struct st_verdict *v, const char *name)
{
	for (uint32_t i = 0; i < v->n_kpis; i++)
		if (strcmp(v->kpis[i].name, name) == 0)
			return &v->kpis[i];
	return NULL;
}

static double param(const struct st_verdict *v, const char *name)
{
	for (uint32_t i = 0; i < v->model.n_params; i++)
		if (strcmp(v->model.params[i].name, name) == 0)
			return v->model.params[i].value;
	return NAN;
}

/* Identical A/A streams: prod and the shadow (and, in half the runs, a twin
 * shadow group for the noise estimate) with the same capacity at the same
 * per-instance load. No run may end up with an adjust in more than 1% of
 * 200 seeds. */
static void test_aa_200(void)
{
	int runs_with_adjust = 0, high[16] = { 0 }, decisive = 0;

	for (int seed = 0; seed < 200; seed++) {
		struct scenario sc = { .windows = 12, .per_window = 4, .seed = 1000 + seed };
		struct an_config cfg;
		struct an_engine *e;
		struct tally t;

		sc.tg[0] = tgt("prod", ST_ROLE_PROD, 8, 500, 1000);
		sc.tg[1] = tgt("canary", ST_ROLE_SHADOW, 2, 500, 1000);
		sc.n_tg = 2;
		plan_default(&sc.plan);
		if (seed % 2) {
			sc.tg[2] = tgt("canary2", ST_ROLE_SHADOW, 2, 500, 1000);
			sc.n_tg = 3;
			snprintf(sc.plan.aa_shadow, sizeof(sc.plan.aa_shadow), "canary2");
		}
		e = run(&sc, &t, &cfg);
		if (t.adjust > 0)
			runs_with_adjust++;
		decisive += t.confirm;
		for (int i = 0; i < 16; i++)
			high[i] += t.any_high[i] > 0;
		an_engine_destroy(e);
		an_config_free(&cfg);
	}
	printf("\n    A/A: %d of 200 runs saw an adjust; %d confirm verdicts; runs with a high "
	       "p50/p90/p99/err/shape: %d/%d/%d/%d/%d\n", runs_with_adjust, decisive, high[0],
	       high[1], high[2], high[3], high[7]);
	CU_ASSERT(runs_with_adjust <= 2);
	CU_ASSERT(decisive > 200 * 5);
}

static void test_confirm_adjust(void)
{
	struct scenario sc = { .windows = 12, .per_window = 4, .seed = 7 };
	struct an_config cfg;
	struct an_engine *e;
	struct tally t;
	double mu_slow, n, lam;

	sc.tg[0] = tgt("prod", ST_ROLE_PROD, 8, 400, 1000);
	sc.tg[1] = tgt("canary", ST_ROLE_SHADOW, 2, 750, 1000);
	sc.n_tg = 2;
	plan_default(&sc.plan);
	sc.plan.forecast_rps = 12000;	/* 750 per instance at 16 */
	e = run(&sc, &t, &cfg);
	CU_ASSERT_EQUAL(t.last.verdict, ST_VERDICT_CONFIRM);
	CU_ASSERT_EQUAL(t.adjust, 0);
	CU_ASSERT_STRING_EQUAL(t.last.model.kind, "mm1");
	CU_ASSERT(fabs(param(&t.last, "mu_prod_rps") - 1000) < 50);
	an_engine_destroy(e);
	an_config_free(&cfg);

	/* The shadow's true capacity is lower: p99 twice at 750 rps. */
	mu_slow = 750 + log(100) / (2 * (0.002 + log(100) / 250) - 0.002);
	sc.tg[1].mu = mu_slow;
	e = run(&sc, &t, &cfg);
	CU_ASSERT_EQUAL(t.last.verdict, ST_VERDICT_ADJUST);
	CU_ASSERT_EQUAL(kpi(&t.last, "p99")->status, ST_KPI_HIGH);
	n = t.last.recommended_instances;
	lam = 12000 / n;
	/* meets the SLO under the true capacity */
	CU_ASSERT(0.002 + log(100) / (mu_slow - lam) <= 0.030);
	CU_ASSERT(n <= 20);
	CU_ASSERT_PTR_NULL(strstr(t.last.reason, "step-limited"));
	an_engine_destroy(e);
	an_config_free(&cfg);

	/* The same with max_step 2 from the current 8: 10 is published, and
	 * the reason says it is the step's limit, not what meets the SLO. */
	sc.plan.max_step = 2;
	e = run(&sc, &t, &cfg);
	printf("\n    max_step 2: %s", t.last.reason);
	CU_ASSERT_EQUAL(t.last.recommended_instances, 10);
	CU_ASSERT_PTR_NOT_NULL(strstr(t.last.reason, "[step-limited: 10 by max_step 2 from the current 8;"));
	an_engine_destroy(e);
	an_config_free(&cfg);
}

static void test_tail_only(void)
{
	struct scenario sc = { .windows = 12, .per_window = 4, .seed = 8 };
	struct an_config cfg;
	struct an_engine *e;
	struct tally t;

	sc.tg[0] = tgt("prod", ST_ROLE_PROD, 8, 500, 1000);
	sc.tg[1] = tgt("canary", ST_ROLE_SHADOW, 2, 500, 1000);
	sc.tg[1].tail = 3;
	sc.n_tg = 2;
	plan_default(&sc.plan);
	sc.plan.slo_p99_ns = 20 * 1000000ULL;
	e = run(&sc, &t, &cfg);
	CU_ASSERT_EQUAL(kpi(&t.last, "p50")->status, ST_KPI_PASS);
	CU_ASSERT_EQUAL(kpi(&t.last, "p99")->status, ST_KPI_HIGH);
	CU_ASSERT_EQUAL(t.last.verdict, ST_VERDICT_ADJUST);
	/* equal per-instance load: prod and shadow diverging is an anomaly */
	CU_ASSERT(t.anomalies > 0);
	CU_ASSERT_PTR_NOT_NULL(kpi(&t.last, "divergence"));
	an_engine_destroy(e);
	an_config_free(&cfg);
}

static void test_inconclusive(void)
{
	struct scenario sc = { .windows = 12, .per_window = 4, .seed = 9 };
	struct an_config cfg;
	struct an_engine *e;
	struct tally t;

	/* Too few windows of shadow data. */
	sc.tg[0] = tgt("prod", ST_ROLE_PROD, 8, 500, 1000);
	sc.tg[1] = tgt("canary", ST_ROLE_SHADOW, 2, 500, 1000);
	sc.n_tg = 2;
	sc.windows = 2;
	plan_default(&sc.plan);
	e = run(&sc, &t, &cfg);
	CU_ASSERT(t.verdicts > 0);
	CU_ASSERT_EQUAL(t.inconclusive, t.verdicts);
	CU_ASSERT_PTR_NOT_NULL(strstr(t.last.reason, "window"));
	/* before any conclusive verdict, a scaler reading the number holds
	 * the current size (it read the proposal, 16) */
	CU_ASSERT_EQUAL(t.last.recommended_instances, 8);
	an_engine_destroy(e);
	an_config_free(&cfg);

	/* Unstable load. */
	sc.windows = 12;
	sc.tg[1].lam_jitter = 0.6;
	sc.per_window = 1;
	e = run(&sc, &t, &cfg);
	CU_ASSERT_EQUAL(t.last.verdict, ST_VERDICT_INCONCLUSIVE);
	CU_ASSERT_PTR_NOT_NULL(strstr(t.last.reason, "unstable"));
	an_engine_destroy(e);
	an_config_free(&cfg);
}

/* The shadow's snapshots stop after window 12 (a gateway restarting, a
 * shadow group taken away): the verdicts turn inconclusive. */
static bool shadow_stops(int w, int k, struct ks_target *t)
{
	(void)t;
	return k != 1 || w < 12;
}

static void new_plan(struct an_engine *e, void *arg)
{
	struct an_plan p = *(const struct an_plan *)arg;

	p.current_instances = 9;
	p.forecast_rps = 12600;
	CU_ASSERT_EQUAL(an_engine_propose(e, "web", &p), 0);
}

/* An adjust, then inconclusive verdicts: the number a scaler acts on stays
 * the adjust's (it went back to the proposal, below what the model said
 * meets the SLO). */
static void test_inconclusive_holds(void)
{
	struct scenario sc = { .windows = 24, .per_window = 4, .seed = 7 };
	struct an_config cfg;
	struct an_engine *e;
	struct tally t;

	sc.tg[0] = tgt("prod", ST_ROLE_PROD, 8, 400, 1000);
	sc.tg[1] = tgt("canary", ST_ROLE_SHADOW, 2, 750,
		       750 + log(100) / (2 * (0.002 + log(100) / 250) - 0.002));
	sc.n_tg = 2;
	sc.pick = shadow_stops;
	plan_default(&sc.plan);
	sc.plan.forecast_rps = 12000;
	e = run(&sc, &t, &cfg);
	CU_ASSERT_EQUAL(t.last_decisive.verdict, ST_VERDICT_ADJUST);
	CU_ASSERT(t.last_decisive.recommended_instances > 16);
	CU_ASSERT_EQUAL(t.last.verdict, ST_VERDICT_INCONCLUSIVE);
	CU_ASSERT_EQUAL(t.last.recommended_instances, t.last_decisive.recommended_instances);
	if (t.last.recommended_instances != t.last_decisive.recommended_instances)
		printf("\n    inconclusive published %u after adjust to %u",
		       t.last.recommended_instances, t.last_decisive.recommended_instances);
	/* the count moved first with the settled adjust, not with a first
	 * adjust hysteresis still held (published as inconclusive) */
	CU_ASSERT(t.moved && t.moved_kind == ST_VERDICT_ADJUST);
	an_engine_destroy(e);
	an_config_free(&cfg);

	/* The plan changes once the shadow's last windows have aged out
	 * (another forecast, 9 running): the adjust was about the old plan,
	 * nothing holds it -- the new plan's current count does. */
	sc.hook = new_plan;
	sc.hook_arg = &sc.plan;
	sc.hook_at = 20;
	e = run(&sc, &t, &cfg);
	CU_ASSERT_EQUAL(t.last.verdict, ST_VERDICT_INCONCLUSIVE);
	CU_ASSERT_EQUAL(t.last.recommended_instances, 9);
	if (t.last.recommended_instances != 9)
		printf("\n    after the plan change: %u (%s)", t.last.recommended_instances, t.last.reason);
	an_engine_destroy(e);
	an_config_free(&cfg);
}

static void plan_late(struct an_engine *e, void *arg)
{
	CU_ASSERT_EQUAL(an_engine_propose(e, "web", (const struct an_plan *)arg), 0);
}

/* Prod's KPIs before its plan: how many instances share its load is not
 * known (the dataplane reports a static 1), so nothing is learnt from
 * them; learnt at the total rate as one instance's, they stayed a load
 * level of the model for good (400 rps on a server of 100). */
static void test_no_plan_no_learning(void)
{
	struct scenario sc = { .windows = 24, .per_window = 4, .seed = 11, .no_plan = true };
	struct an_config cfg;
	struct an_engine *e;
	struct an_service *s;
	struct tally t;
	double top = 0;

	sc.tg[0] = tgt("prod", ST_ROLE_PROD, 1, 400, 1000);	/* 8 x 50, reported as 1 */
	sc.n_tg = 1;
	plan_default(&sc.plan);
	sc.hook = plan_late;
	sc.hook_arg = &sc.plan;
	sc.hook_at = 15;
	e = run(&sc, &t, &cfg);
	s = an_engine_service(e, "web");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (uint32_t i = 0; i < s->model.n_usl; i++)
		top = fmax(top, s->model.usl[i].lam);
	/* learnt only after the plan: 400 rps over its 8 instances */
	CU_ASSERT(s->model.windows_prod > 0);
	CU_ASSERT(top > 0 && top <= 55);
	if (!(top > 0 && top <= 55))
		printf("\n    highest load level learnt %.1f rps per instance (%" PRIu64 " windows)", top,
		       s->model.windows_prod);
	an_engine_destroy(e);
	an_config_free(&cfg);
}

static void scaled_down(struct an_engine *e, void *arg)
{
	struct an_plan p = *(const struct an_plan *)arg;

	p.current_instances = 8;
	CU_ASSERT_EQUAL(an_engine_propose(e, "web", &p), 0);
}

/* prod from window 14 on 8 instances (1200 rps: 150 each), as the plan
 * says from then */
static bool prod_on_8(int w, int k, struct ks_target *t)
{
	if (k == 0 && w >= 14) {
		t->instances = 8;
		t->lam = 150;
	}
	return true;
}

/* Prod on 12 instances at 100 rps each, the shadow on 2 at the
 * proposal's 150 each; every instance its own M/M/1 queue of 300/s: at
 * 150 each p99 is about 33 ms against the 30 ms objective (136 at most,
 * 9 instances for 1200). */
static void scale_scenario(struct scenario *sc)
{
	sc->tg[0] = tgt("prod", ST_ROLE_PROD, 12, 100, 300);
	sc->tg[1] = tgt("canary", ST_ROLE_SHADOW, 2, 150, 300);
	sc->n_tg = 2;
	plan_default(&sc->plan);
	sc->plan.current_instances = 12;
	sc->plan.proposed_instances = 8;
	sc->plan.forecast_rps = 1200;
}

/* Per-instance queues seen at one moderate load: mmc fitted prod's windows
 * a little better than mm1, steadily (a z of -10 over 14 windows on an
 * edge of 0.0005), took over, and its pooling gain confirmed 8 (and said
 * 7 would do) where 9 are needed. */
static void test_no_pooling_from_one_load(void)
{
	struct scenario sc = { .windows = 15, .per_window = 4, .seed = 3 };
	struct an_config cfg;
	struct an_engine *e;
	struct tally t;

	scale_scenario(&sc);
	e = run(&sc, &t, &cfg);
	printf("\n    %s %u, form %s", st_verdict_kind_str(t.last_decisive.verdict),
	       t.last_decisive.recommended_instances,
	       an_form_name(an_engine_service(e, "web")->model.form));
	CU_ASSERT(t.last_decisive.recommended_instances >= 9);
	CU_ASSERT_STRING_EQUAL(an_form_name(an_engine_service(e, "web")->model.form), "mm1");
	an_engine_destroy(e);
	an_config_free(&cfg);
}

/* A scaler took prod from 12 instances to 8 and the plan says so: the
 * windows closed on 12 are not prod's evidence at 8. Divided by today's
 * count they read as 150 rps each at 100's p99, within the objective, and
 * the verdict after the change said its count was verified by loads
 * measured within the SLO. */
static void test_scaled_down_span(void)
{
	struct scenario sc = { .windows = 15, .per_window = 4, .seed = 3 };
	struct an_config cfg;
	struct an_engine *e;
	struct tally t;

	scale_scenario(&sc);
	sc.hook = scaled_down;
	sc.hook_arg = &sc.plan;
	sc.hook_at = 14;
	sc.pick = prod_on_8;
	e = run(&sc, &t, &cfg);
	printf("\n    after the scale-down: last %s %u; last decisive %s %u, verified %d",
	       st_verdict_kind_str(t.last.verdict), t.last.recommended_instances,
	       st_verdict_kind_str(t.last_decisive.verdict), t.last_decisive.recommended_instances,
	       t.last_decisive.verified);
	CU_ASSERT(t.last_decisive.recommended_instances >= 9);
	CU_ASSERT(!t.last_decisive.verified);
	an_engine_destroy(e);
	an_config_free(&cfg);
}

/* Windows at several loads from one shared queue: the model must notice
 * that mm1 does not fit and pick mmc; and from separate queues, mm1. A
 * shared queue seen only at light load (where the forms predict alike)
 * does not earn mmc's pooling gain: mm1. A shared queue of servers that
 * take exactly 1 ms (M/D/8, kpisim's FIFO queue): ggc. */
static void test_model_choice(void)
{
	static const double loads[] = { 300, 500, 650, 750, 450, 600, 350, 700 };
	const char *want[4] = { "mm1", "mmc", "mm1", "ggc" };

	for (int run = 0; run < 4; run++) {
		const int shared = run > 0;
		const double scale = run == 2 ? 0.3 : 1;
		struct an_config cfg;
		struct an_engine *e;
		struct ks_sim sim;
		struct st_wbuf b;
		struct tally t;
		struct ks_target tg = tgt("prod", ST_ROLE_PROD, 8, 500, 1000);
		struct an_service *s;
		struct an_plan p;

		tg.shared = shared;
		if (run == 3)
			tg.svc = KS_SVC_DET;
		config(&cfg, NULL);
		memset(&t, 0, sizeof(t));
		e = an_engine_create(&cfg, true);
		CU_ASSERT_PTR_NOT_NULL_FATAL(e);
		plan_default(&p);
		an_engine_propose(e, "web", &p);
		ks_init(&sim, 77 + shared, "web", "gw1");
		st_wbuf_init(&b);
		for (int i = 0; i < 40 * 4; i++) {
			char topic[ST_WIRE_TOPIC_MAX];
			uint64_t a = T0 + (uint64_t)i * SEC / 4;

			tg.lam = loads[(i / 4) % 8] * scale;
			ks_snapshot(&sim, &tg, a, a + SEC / 4, &b, topic, sizeof(topic));
			an_engine_ingest(e, topic, strlen(topic), b.data, b.len, 2, 0);
			an_engine_tick(e, 0);
		}
		s = an_engine_service(e, "web");
		printf("\n    %s data: form %s, fit errors mm1 %.4f mmc %.4f mg1 %.4f ggc %.4f, mu %.0f/%.0f/%.0f/%.0f",
		       run == 3 ? "M/D/c shared-queue" : run == 2 ? "light shared-queue" :
		       shared ? "shared-queue" : "per-instance",
		       an_form_name(s->model.form),
		       s->model.score[AN_FORM_MM1], s->model.score[AN_FORM_MMC],
		       s->model.score[AN_FORM_MG1], s->model.score[AN_FORM_GGC],
		       s->model.prod[AN_FORM_MM1].mu, s->model.prod[AN_FORM_MMC].mu,
		       s->model.prod[AN_FORM_MG1].mu, s->model.prod[AN_FORM_GGC].mu);
		CU_ASSERT_STRING_EQUAL(an_form_name(s->model.form), want[run]);
		if (run < 2 || run == 3)
			CU_ASSERT(fabs(s->model.prod[s->model.form].mu - 1000) < 100);
		st_wbuf_free(&b);
		ks_free(&sim);
		an_engine_destroy(e);
		an_config_free(&cfg);
	}
}

static void test_hysteresis(void)
{
	struct scenario sc = { .windows = 14, .per_window = 4, .seed = 11 };
	struct an_config cfg;
	struct an_engine *e;
	struct tally t;

	sc.tg[0] = tgt("prod", ST_ROLE_PROD, 8, 500, 1000);
	sc.tg[1] = tgt("canary", ST_ROLE_SHADOW, 2, 500, 1000);
	sc.n_tg = 2;
	plan_default(&sc.plan);
	e = run(&sc, &t, &cfg);
	/* The first decisive verdict needs two evaluations in a row that
	 * agree: the first candidate is published as inconclusive, held. */
	CU_ASSERT_EQUAL(t.last.verdict, ST_VERDICT_CONFIRM);
	CU_ASSERT(t.flips <= 2);
	an_engine_destroy(e);
	an_config_free(&cfg);
}

/* The load generator's traffic to the shadow counts as the shadow's load
 * (include_synthetic, the default), or not. */
static void test_synthetic(void)
{
	for (int include = 0; include < 2; include++) {
		struct scenario sc = { .windows = 10, .per_window = 4, .seed = 12 };
		struct an_config cfg;
		struct an_engine *e;
		struct tally t;
		double want = include ? 750 : 250;

		sc.tg[0] = tgt("prod", ST_ROLE_PROD, 8, 500, 1000);
		/* 750 rps per instance on the shadow: a third teed, the rest injected */
		sc.tg[1] = tgt("canary", ST_ROLE_SHADOW, 2, 750, 1000);
		sc.tg[1].share = 1.0 / 3;
		sc.tg[2] = tgt("synthetic", ST_ROLE_LOADGEN, 2, 750, 1000);
		sc.tg[2].share = 2.0 / 3;
		sc.n_tg = 3;
		plan_default(&sc.plan);
		sc.plan.include_synthetic = include;
		e = run(&sc, &t, &cfg);
		CU_ASSERT(fabs(t.last.observed_rps_per_instance - want) < 0.1 * want);
		if (include)
			CU_ASSERT_EQUAL(t.last.verdict, ST_VERDICT_CONFIRM);
		an_engine_destroy(e);
		an_config_free(&cfg);
	}
}

/* Feeds target t windows 0..11 from n_pub publishers, each sending
 * per(w) snapshots of 5 s / per(w) to window w, but publisher 1 nothing
 * to window `missing`. */
static void feed_windows(struct an_target *t, const struct st_hist *layout, int n_pub,
			 int (*per)(int64_t w), int64_t missing)
{
	struct st_kpi k;

	memset(&k, 0, sizeof(k));
	k.requests = 5;
	for (int64_t w = 0; w < 12; w++) {
		for (int p = 0; p < n_pub; p++) {
			snprintf(k.src, sizeof(k.src), "gw%c", 'a' + p);
			if (w == missing && p == 1)
				continue;
			for (int j = 0; j < per(w); j++) {
				struct an_acc *acc = an_target_acc(t, w);

				CU_ASSERT_PTR_NOT_NULL_FATAL(acc);
				k.t0 = (uint64_t)w * 5 * SEC + (uint64_t)j * 5 * SEC / (uint64_t)per(w);
				k.t1 = k.t0 + 5 * SEC / (uint64_t)per(w);
				CU_ASSERT_EQUAL(an_acc_add(acc, &k, NULL, 0, true), 0);
			}
		}
		CU_ASSERT_EQUAL(an_target_close(t, w, layout), 1);
	}
}

static int two_three(int64_t w)
{
	return 2 + (int)(w & 1);
}

static int one(int64_t w)
{
	(void)w;
	return 1;
}

/* Windows of 5 s fed by publishers every 2 s: by their midpoints the
 * windows get 2, 3, 2, 3... snapshots from each. All whole (every other
 * one was left out as incomplete: two against three is under three
 * quarters); a window one of two publishers missed is not. Nor is one
 * that one of two publishers sending one snapshot a window missed (1 + 1
 * publisher reach the 2 of the others: one fewer per publisher is no
 * excuse for a publisher missing). */
static void test_window_complete(void)
{
	struct st_hist *layout = st_hist_create(AN_HIST_LOWEST, AN_HIST_HIGHEST, AN_HIST_SIGFIGS);
	struct an_target t;

	CU_ASSERT_PTR_NOT_NULL_FATAL(layout);
	CU_ASSERT_EQUAL_FATAL(an_target_init(&t, "prod", ST_ROLE_PROD, 16, 4), 0);
	feed_windows(&t, layout, 2, two_three, 10);
	/* newest first: 11 (6 snapshots), 10 (2: one publisher), 9..0 */
	CU_ASSERT_TRUE(an_target_complete(&t, 0));
	CU_ASSERT_FALSE(an_target_complete(&t, 1));
	for (uint32_t i = 2; i < 8; i++)
		CU_ASSERT_TRUE(an_target_complete(&t, i));
	an_target_free(&t);
	CU_ASSERT_EQUAL_FATAL(an_target_init(&t, "prod", ST_ROLE_PROD, 16, 4), 0);
	feed_windows(&t, layout, 2, one, 10);
	CU_ASSERT_TRUE(an_target_complete(&t, 0));
	CU_ASSERT_FALSE(an_target_complete(&t, 1));
	CU_ASSERT_TRUE(an_target_complete(&t, 2));
	an_target_free(&t);
	st_hist_destroy(layout);
}

/* An open window's counts: buckets from many snapshots add up, far apart
 * or side by side, and come out once each in index order with the summary
 * of the same counts; a refused snapshot merges nothing; a window starts
 * empty after the one before closed. */
static void test_window_merge(void)
{
	struct st_hist *layout = st_hist_create(AN_HIST_LOWEST, AN_HIST_HIGHEST, AN_HIST_SIGFIGS);
	static int64_t want[AN_CHUNK * 40];
	struct an_target t;
	struct an_bin b[64];
	struct st_kpi k;
	const struct an_win *w;
	uint64_t rng = 12345;
	int64_t total = 0;
	uint32_t n_want = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(layout);
	CU_ASSERT_EQUAL_FATAL(an_target_init(&t, "prod", ST_ROLE_PROD, 4, 4), 0);
	memset(&k, 0, sizeof(k));
	k.t0 = 10 * SEC;
	k.t1 = 11 * SEC;
	k.requests = 5;
	for (int snap = 0; snap < 200; snap++) {
		struct an_acc *acc = an_target_acc(&t, 10);
		int32_t idx = 0;
		size_t n = 0;

		CU_ASSERT_PTR_NOT_NULL_FATAL(acc);
		/* increasing indices, some runs of neighbours, some far jumps */
		while (n < 64) {
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			idx += 1 + (int32_t)((rng >> 33) % ((rng >> 60) ? 5 : 700));
			if (idx >= (int32_t)(sizeof(want) / sizeof(want[0])))
				break;
			b[n].idx = idx;
			b[n].pad_ = 0;
			b[n].count = 1 + (int64_t)((rng >> 40) % 50);
			n++;
		}
		CU_ASSERT_EQUAL(an_acc_add(acc, &k, b, n, true), 0);
		for (size_t i = 0; i < n; i++) {
			n_want += want[b[i].idx] == 0;
			want[b[i].idx] += b[i].count;
			total += b[i].count;
		}
		/* out of range: refused whole */
		b[0].idx = AN_ACC_IDX_MAX;
		CU_ASSERT_EQUAL(an_acc_add(acc, &k, b, n, true), -EINVAL);
	}
	CU_ASSERT_EQUAL(an_target_close(&t, 10, layout), 1);
	w = an_target_win(&t, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	CU_ASSERT_EQUAL(w->snapshots, 200);
	CU_ASSERT_EQUAL(w->requests, 1000);
	CU_ASSERT_EQUAL(w->total, total);
	CU_ASSERT_EQUAL_FATAL(w->n_bins, n_want);
	for (uint32_t i = 0, j = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (want[i] == 0)
			continue;
		CU_ASSERT_EQUAL(w->bins[j].idx, (int32_t)i);
		CU_ASSERT_EQUAL(w->bins[j].count, want[i]);
		j++;
	}
	CU_ASSERT(w->p50 > 0 && w->p50 <= w->p90 && w->p90 <= w->p99);
	/* the next window of the same slot starts from nothing */
	{
		struct an_acc *acc = an_target_acc(&t, 11);

		CU_ASSERT_PTR_NOT_NULL_FATAL(acc);
		b[0].idx = 3;
		b[0].count = 0;		/* adds nothing */
		b[1].idx = 9000;
		b[1].count = INT64_MAX;
		CU_ASSERT_EQUAL(an_acc_add(acc, &k, b, 2, true), 0);
		CU_ASSERT_EQUAL(an_acc_add(acc, &k, b + 1, 1, true), 0);	/* saturates */
		CU_ASSERT_EQUAL(an_target_close(&t, 11, layout), 1);
		w = an_target_win(&t, 0);
		CU_ASSERT_EQUAL_FATAL(w->n_bins, 1);
		CU_ASSERT_EQUAL(w->bins[0].idx, 9000);
		CU_ASSERT_EQUAL(w->bins[0].count, INT64_MAX);
		CU_ASSERT_EQUAL(w->total, INT64_MAX);
	}
	/* two saturated buckets: the window's total saturates too (it
	 * wrapped to -2, and the quantiles of a negative total were 0) */
	{
		struct an_acc *acc = an_target_acc(&t, 12);

		CU_ASSERT_PTR_NOT_NULL_FATAL(acc);
		b[0].idx = 9000;
		b[0].count = INT64_MAX;
		b[1].idx = 9001;
		b[1].count = INT64_MAX;
		CU_ASSERT_EQUAL(an_acc_add(acc, &k, b, 2, true), 0);
		CU_ASSERT_EQUAL(an_target_close(&t, 12, layout), 1);
		w = an_target_win(&t, 0);
		CU_ASSERT_EQUAL_FATAL(w->n_bins, 2);
		CU_ASSERT_EQUAL(w->total, INT64_MAX);
		CU_ASSERT(w->p50 > 0 && w->p50 <= w->p99);
	}
	an_target_free(&t);
	st_hist_destroy(layout);
}

/* A snapshot of src covering [t0_ds, t0_ds + 10) tenths of a second with
 * requests, merged into window w of t as the target's own (or not). */
static void snap(struct an_target *t, int64_t w, const char *src, uint64_t t0_ds,
		 uint64_t requests, bool own)
{
	struct an_bin b = { .idx = 100, .pad_ = 0, .count = 1 };
	struct st_kpi k;

	memset(&k, 0, sizeof(k));
	snprintf(k.src, sizeof(k.src), "%s", src);
	k.t0 = t0_ds * SEC / 10;
	k.t1 = k.t0 + SEC;
	k.requests = requests;
	CU_ASSERT_EQUAL(an_acc_add(an_target_acc(t, w), &k, &b, 1, own), 0);
}

/* Two gateways publish 1 s snapshots of 100 requests each into one 5 s
 * window, 0.4 s out of step: the window spans 5.4 s, but each counted over
 * 5 s, so the rate is 200/s, not 1000 / 5.4 (the rate was 7% low; with
 * gateways half a window apart, a third). One publisher's window, and
 * synthetic traffic merged in (not the target's own), keep the span; a
 * gateway that joins late weighs by its requests. */
static void test_window_two_gateways(void)
{
	struct st_hist *layout = st_hist_create(AN_HIST_LOWEST, AN_HIST_HIGHEST, AN_HIST_SIGFIGS);
	struct an_target t;
	const struct an_win *w;

	CU_ASSERT_PTR_NOT_NULL_FATAL(layout);
	CU_ASSERT_EQUAL_FATAL(an_target_init(&t, "prod", ST_ROLE_PROD, 4, 4), 0);
	for (uint64_t i = 0; i < 5; i++) {
		snap(&t, 10, "gw1", 500 + 10 * i, 100, true);
		snap(&t, 10, "gw2", 496 + 10 * i, 100, true);
	}
	snap(&t, 10, "loadgen", 520, 0, false);	/* the load generator's, merged in */
	CU_ASSERT_EQUAL(an_target_close(&t, 10, layout), 1);
	w = an_target_win(&t, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	CU_ASSERT_EQUAL(w->t1 - w->t0, 54 * SEC / 10);
	CU_ASSERT_DOUBLE_EQUAL(an_win_secs(w), 5.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(an_win_rate(w, 1), 200.0, 1e-9);
	/* one publisher: the span, as before */
	for (uint64_t i = 0; i < 5; i++)
		snap(&t, 11, "gw1", 550 + 10 * i, 100, true);
	CU_ASSERT_EQUAL(an_target_close(&t, 11, layout), 1);
	w = an_target_win(&t, 0);
	CU_ASSERT_DOUBLE_EQUAL(an_win_secs(w), 5.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(an_win_rate(w, 1), 100.0, 1e-9);
	/* a second gateway joins for the window's last second and takes 40
	 * of the 100 requests then: 100/s in all. Its one second weighs by
	 * its requests (span 4.68 s, 106.8/s), not as much as the other's
	 * five (3 s, 166.7/s) */
	for (uint64_t i = 0; i < 5; i++)
		snap(&t, 12, "gw1", 600 + 10 * i, i < 4 ? 100 : 60, true);
	snap(&t, 12, "gw2", 640, 40, true);
	CU_ASSERT_EQUAL(an_target_close(&t, 12, layout), 1);
	w = an_target_win(&t, 0);
	CU_ASSERT_DOUBLE_EQUAL(an_win_secs(w), 4.68, 1e-9);
	CU_ASSERT(an_win_rate(w, 1) > 100.0 && an_win_rate(w, 1) < 107.0);
	an_target_free(&t);
	st_hist_destroy(layout);
}

/* Issue 20's scenarios: servers that serve one request at a time in a
 * fixed time (M/D/1 per instance), Poisson clients. The published
 * recommendation must never be below the fewest instances that meet the
 * SLO (theory, tests/unit/test_an_model.c checks it by simulation) and at
 * most one above it, whatever the proposal and the seed. */
struct md1_case {
	const char *name;
	uint32_t prod_c;
	double prod_rps, svc_s, forecast, slo_ms;
	uint32_t proposed, fewest;
};

static void md1_setup(const struct md1_case *mc, uint64_t seed, struct scenario *scp)
{
	struct scenario sc = { .windows = 30, .per_window = 2, .seed = seed };

	sc.tg[0] = tgt("prod", ST_ROLE_PROD, mc->prod_c, mc->prod_rps / mc->prod_c, 1 / mc->svc_s);
	sc.tg[1] = tgt("canary", ST_ROLE_SHADOW, 2, mc->forecast / mc->proposed, 1 / mc->svc_s);
	for (int i = 0; i < 2; i++) {
		sc.tg[i].svc = KS_SVC_DET;
		sc.tg[i].d0 = 0.0002;
	}
	sc.n_tg = 2;
	plan_default(&sc.plan);
	sc.plan.current_instances = mc->prod_c;
	sc.plan.proposed_instances = mc->proposed;
	sc.plan.forecast_rps = mc->forecast;
	sc.plan.slo_p99_ns = (uint64_t)(mc->slo_ms * 1e6);
	*scp = sc;
}

static void md1_run(const struct md1_case *mc, uint64_t seed, struct tally *t)
{
	struct scenario sc;
	struct an_config cfg;
	struct an_engine *e;

	md1_setup(mc, seed, &sc);
	e = run(&sc, t, &cfg);
	an_engine_destroy(e);
	an_config_free(&cfg);
}

static void test_md1_recommend(void)
{
	static const struct md1_case cases[] = {
		/* 4 x 5 ms at 400 rps, plan 900 rps at p99 <= 35 ms: 7 */
		{ "issue, proposal 8", 4, 400, 0.005, 900, 35, 8, 7 },
		{ "issue, proposal 5", 4, 400, 0.005, 900, 35, 5, 7 },
		/* the demo: 8 x 4 ms, forecast 1320 rps, SLO 25 ms: 9 */
		{ "demo, proposal 6", 8, 1000, 0.004, 1320, 25, 6, 9 },
		{ "demo, proposal 12", 8, 1000, 0.004, 1320, 25, 12, 9 },
	};

	int over = 0, runs = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		printf("\n    %s:", cases[i].name);
		for (uint64_t seed = 1; seed <= 5; seed++) {
			struct tally t;
			const struct st_verdict *v;

			md1_run(&cases[i], 1000 * i + seed, &t);
			v = &t.last_decisive;
			printf(" %u%s(%s, p99 %.1f ms, bound %.1f ms)", v->recommended_instances,
			       v->verified ? "" : "*", v->model.kind,
			       param(v, "p99_recommended_ns") / 1e6,
			       param(v, "p99_recommended_upper_ns") / 1e6);
			CU_ASSERT(t.confirm + t.adjust > 0);
			/* never short: the failure that pages people */
			CU_ASSERT(v->recommended_instances >= cases[i].fewest);
			/* Not too long either, when the score has picked mg1. It
			 * does not always (one load level tells the forms apart
			 * only by the mean and p90): then mm1's corrected fit,
			 * exponential in its tail, asks for more (counted
			 * below, not asserted). */
			if (strcmp(v->model.kind, "mg1") == 0)
				CU_ASSERT(v->recommended_instances <= cases[i].fewest + 2);
			if (v->recommended_instances > cases[i].fewest + 1)
				over++;
			runs++;
		}
	}
	printf("\n    %d of %d runs more than one above the fewest", over, runs);
}

/* What a squeeze step left in the service's state (verify.c writes it from
 * a real dataplane in tests/integration/test_e2e_recommend.py). */
struct sq_set {
	double ok_lam, bad_lam, bad_aim;
};

static void set_squeeze(struct an_engine *e, void *arg)
{
	const struct sq_set *q = arg;
	struct an_service *s = an_engine_service(e, "web");

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	s->sq.ok_lam = q->ok_lam;
	s->sq.ok_p99 = 28e6;
	s->sq.bad_lam = q->bad_lam;
	s->sq.bad_aim = q->bad_aim;
	s->sq.bad_p99 = 40e6;
}

/* The plan, proposal 8, true minimum 7, with squeeze steps on. */
static void test_squeeze_state(void)
{
	static const struct md1_case mc = { "issue, proposal 8", 4, 400, 0.005, 900, 35, 8, 7 };
	static const struct {
		const char *name;
		struct sq_set q;
	} cases[] = {
		{ "no step yet", { 0, 0, 0 } },
		{ "7's load verified", { 128.6, 0, 0 } },
		{ "7's load failed", { 0, 128.0, 128.0 } },
		/* the step for 7 overshot (flows come whole) and failed:
		 * 7 is not recommended, nor tried again */
		{ "7's step failed above its load", { 0, 132.6, 900.0 / 7 } },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (uint64_t seed = 1; seed <= 3; seed++) {
			struct sq_set q = cases[i].q;
			struct scenario sc;
			struct an_config cfg;
			struct an_engine *e;
			struct tally t;
			const struct st_verdict *v;

			md1_setup(&mc, seed, &sc);
			sc.dataplane_control = "ipc:///nonexistent";
			sc.hook = set_squeeze;
			sc.hook_arg = &q;
			sc.hook_at = 5;
			e = run(&sc, &t, &cfg);
			v = &t.last_decisive;
			printf("\n    %s, seed %u: %u (%s)", cases[i].name, (unsigned)seed,
			       v->recommended_instances, v->verified_reason);
			CU_ASSERT(v->recommended_instances >= mc.fewest);
			if (i == 0) {
				/* fewer than proposed, unmeasured: the proposal stands */
				CU_ASSERT_EQUAL(v->recommended_instances, 8);
				CU_ASSERT(v->verified);
			} else if (i == 1) {
				/* the evidence cap stands on the step: 7, verified */
				CU_ASSERT_EQUAL(v->recommended_instances, 7);
				CU_ASSERT(v->verified);
				CU_ASSERT_PTR_NOT_NULL(strstr(v->verified_reason, "squeeze step"));
			} else {
				/* never 7's load again */
				CU_ASSERT(v->recommended_instances >= 8);
			}
			{
				const struct an_squeeze *sq = &an_engine_service(e, "web")->sq;

				printf(" -> next step: %u", sq->want_n);
				if (i == 1)	/* below a verified 7: 6 or fewer is tried */
					CU_ASSERT(sq->want_n >= 1 && sq->want_n < 7);
				if (i >= 2 && v->recommended_instances == 8)
					/* 7 failed, 8 stands: nothing left between */
					CU_ASSERT_EQUAL(sq->want_n, 0);
			}
			an_engine_destroy(e);
			an_config_free(&cfg);
		}
	}
}

static void set_squeeze_aim(struct an_engine *e, void *arg)
{
	const double *lam = arg;
	struct an_service *s = an_engine_service(e, "web");

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	s->sq.ok_lam = s->sq.ok_ran = s->sq.ok_aim = *lam;
	s->sq.ok_p99 = 30e6;
}

/* A step passed at 21 instances, the fewest that meet the SLO (the issue's
 * servers at three times the load): the evidence stands for 21, never 20
 * (the 5% a measured load is allowed took it to ceil(21 / 1.05) = 20,
 * never stepped and short). Then a tighter SLO: the step stands for
 * nothing any more. */
static void test_squeeze_cap_aim(void)
{
	static const struct md1_case mc = { "issue x3, proposal 24", 12, 1200, 0.005, 2700, 35, 24,
					    21 };
	double lam = 2700.0 / 21;

	for (uint64_t seed = 1; seed <= 2; seed++) {
		struct scenario sc;
		struct an_config cfg;
		struct an_engine *e;
		struct an_service *s;
		struct an_plan p;
		struct tally t;

		md1_setup(&mc, seed, &sc);
		sc.dataplane_control = "ipc:///nonexistent";
		sc.hook = set_squeeze_aim;
		sc.hook_arg = &lam;
		sc.hook_at = 5;
		e = run(&sc, &t, &cfg);
		printf("\n    seed %u: %u (%s)", (unsigned)seed, t.last_decisive.recommended_instances,
		       t.last_decisive.verified_reason);
		CU_ASSERT(t.last_decisive.recommended_instances >= 21);
		s = an_engine_service(e, "web");
		CU_ASSERT_EQUAL(s->sq.ok_lam, lam);
		/* the same SLO, another proposal: the step still stands */
		p = s->plan;
		p.proposed_instances = 22;
		CU_ASSERT_EQUAL(an_engine_propose(e, "web", &p), 0);
		CU_ASSERT_EQUAL(s->sq.ok_lam, lam);
		/* a tighter SLO: it was judged against the old one */
		p.slo_p99_ns = 25 * 1000000ULL;
		CU_ASSERT_EQUAL(an_engine_propose(e, "web", &p), 0);
		CU_ASSERT_EQUAL(s->sq.ok_lam, 0);
		an_engine_destroy(e);
		an_config_free(&cfg);
	}
}

/* Prod on 40 instances sharing one queue at 84 rps each, the shadow on c
 * at lam each, the proposal 4 for 320 rps at p99 <= 55 ms. */
static void shared_queue_scenario(struct scenario *sc, uint32_t c, double lam)
{
	sc->tg[0] = tgt("prod", ST_ROLE_PROD, 40, 84, 100);
	sc->tg[1] = tgt("canary", ST_ROLE_SHADOW, c, lam, 100);
	sc->tg[0].shared = sc->tg[1].shared = true;
	sc->n_tg = 2;
	plan_default(&sc->plan);
	sc->plan.current_instances = 40;
	sc->plan.proposed_instances = 4;
	sc->plan.forecast_rps = 320;
	sc->plan.slo_p99_ns = 55 * 1000000ULL;
}

/* Instances sharing one queue (M/M/c): prod was measured within the SLO at
 * 84 rps per instance on 40 of them (p99 about 48 ms), but 4 at 80 pool far
 * less (p99 about 71 ms against an SLO of 55 ms; 5 at 64, about 51 ms; the
 * shadow, 3 of them at 80, about 87 ms: Erlang C plus the 2 ms fixed part). Prod's load stands for
 * no count under the 40 it was measured on: the recommendation is the
 * model's, 5 or more (the cap took it to 4, verified). */
static void test_shared_queue_cap(void)
{
	struct scenario sc = { .windows = 16, .per_window = 4, .seed = 21, .model = "mmc" };
	struct an_config cfg;
	struct an_engine *e;
	struct tally t;

	shared_queue_scenario(&sc, 3, 80);
	e = run(&sc, &t, &cfg);
	printf("\n    last: %s", t.last.reason);
	printf("\n    %s %u (%s; %s)", st_verdict_kind_str(t.last_decisive.verdict),
	       t.last_decisive.recommended_instances, t.last_decisive.model.kind,
	       t.last_decisive.verified_reason);
	CU_ASSERT_STRING_EQUAL(t.last_decisive.model.kind, "mmc");
	CU_ASSERT(t.last_decisive.recommended_instances >= 5);
	an_engine_destroy(e);
	an_config_free(&cfg);
}

/* A shadow 100 ms behind a fixed delay, every sample in one bucket (p50 =
 * p99): no fit to correct the model with, and prod's confirmed the
 * proposal while the shadow ran its load at three times the objective.
 * A load the shadow broke the SLO at is no count's. */
static void test_shadow_breaks_one_bucket(void)
{
	struct scenario sc = { .windows = 14, .per_window = 4, .seed = 13 };
	struct an_config cfg;
	struct an_engine *e;
	struct tally t;

	sc.tg[0] = tgt("prod", ST_ROLE_PROD, 8, 400, 1000);
	sc.tg[1] = tgt("canary", ST_ROLE_SHADOW, 2, 500, 1e7);
	sc.tg[1].d0 = 0.1;
	sc.n_tg = 2;
	plan_default(&sc.plan);
	e = run(&sc, &t, &cfg);
	printf("\n    %s %u (%s)", st_verdict_kind_str(t.last_decisive.verdict),
	       t.last_decisive.recommended_instances, t.last_decisive.reason);
	CU_ASSERT_NOT_EQUAL(t.last_decisive.verdict, ST_VERDICT_CONFIRM);
	CU_ASSERT(t.last_decisive.recommended_instances > 16);
	an_engine_destroy(e);
	an_config_free(&cfg);
}

/* The shared queue of test_shared_queue_cap with the form left to the
 * model: seen at one load, mmc's edge may fall short of what grants its
 * pooling gain, and the load prod measured on 40 must still stand for no
 * fewer than 40 (with mm1 chosen, ceil(320 / 84) = 4 read as verified,
 * p99 about 71 ms against 55). */
static void test_shared_queue_auto(void)
{
	struct scenario sc = { .windows = 16, .per_window = 4, .seed = 21 };
	struct an_config cfg;
	struct an_engine *e;
	struct tally t;

	shared_queue_scenario(&sc, 3, 80);
	e = run(&sc, &t, &cfg);
	printf("\n    %s %u (%s; %s)", st_verdict_kind_str(t.last_decisive.verdict),
	       t.last_decisive.recommended_instances, t.last_decisive.model.kind,
	       t.last_decisive.verified_reason);
	CU_ASSERT(t.last_decisive.recommended_instances >= 5);
	an_engine_destroy(e);
	an_config_free(&cfg);
}

static void squeeze_passed_at_80(struct an_engine *e, void *arg)
{
	struct an_service *s = an_engine_service(e, "web");

	(void)arg;
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	s->sq.ok_lam = 80;
	s->sq.ok_aim = 80;
	s->sq.ok_p99 = 30e6;
}

/* The same shared queue, the shadow on 8 instances, and a squeeze step
 * that passed at 4's load (80 rps each) -- on the shadow's 8, which pool
 * more than 4 would: it verifies 8 or more at that load, not 4 (it did,
 * and 4 was published as verified by two squeeze steps). */
static void test_shared_queue_squeeze(void)
{
	struct scenario sc = { .windows = 16, .per_window = 4, .seed = 21, .model = "mmc" };
	struct an_config cfg;
	struct an_engine *e;
	struct tally t;

	shared_queue_scenario(&sc, 8, 40);
	sc.hook = squeeze_passed_at_80;
	sc.hook_at = 8;
	e = run(&sc, &t, &cfg);
	printf("\n    %s %u, verified %d (%s)", st_verdict_kind_str(t.last_decisive.verdict),
	       t.last_decisive.recommended_instances, t.last_decisive.verified,
	       t.last_decisive.verified_reason);
	CU_ASSERT(t.last_decisive.recommended_instances >= 5);
	an_engine_destroy(e);
	an_config_free(&cfg);
}

/* Prod and the shadow at the proposal's load, p99 far within the SLO and
 * an error rate of 0.9% against an objective of 1%: some 8,000 requests a
 * span cannot tell 0.9% from 1.1% (the 90% upper bound is about 1.05%),
 * so the load is not measured within the SLO and the count not verified
 * by it (it was, on the point rate); at 0.2% it is. */
static void test_error_bound_evidence(void)
{
	static const double err[] = { 0.009, 0.002 };

	for (size_t i = 0; i < sizeof(err) / sizeof(err[0]); i++) {
		struct scenario sc = { .windows = 16, .per_window = 4, .seed = 5 };
		struct an_config cfg;
		struct an_engine *e;
		struct tally t;

		sc.tg[0] = tgt("prod", ST_ROLE_PROD, 8, 100, 400);
		sc.tg[1] = tgt("canary", ST_ROLE_SHADOW, 8, 100, 400);
		sc.tg[0].err = sc.tg[1].err = err[i];
		sc.n_tg = 2;
		plan_default(&sc.plan);
		sc.plan.current_instances = 8;
		sc.plan.proposed_instances = 8;
		sc.plan.forecast_rps = 800;
		sc.plan.min_instances = 8;	/* the model would take fewer */
		e = run(&sc, &t, &cfg);
		printf("\n    errors %.1f%%: %s %u, verified %d (%s)", 100 * err[i],
		       st_verdict_kind_str(t.last_decisive.verdict),
		       t.last_decisive.recommended_instances, t.last_decisive.verified,
		       t.last_decisive.verified_reason);
		CU_ASSERT_EQUAL(t.last_decisive.verified, i == 1);
		an_engine_destroy(e);
		an_config_free(&cfg);
	}
}

/* A gateway whose clock runs 3-4 s ahead (within max_skew), 1 s windows:
 * at 1000.2 s windows 999 (in its grace), 1000 (the current one) and 1003
 * (its) hold the target's three open slots, and its snapshot for 1004
 * arrives. It may not close 999 nor 1000 to make room: an honest
 * gateway's snapshot for 999 at 1000.3 s is merged, not late. The one
 * ahead is refused, counted future; once 999 is due, its next fits. */
static void test_skewed_gateway(void)
{
	struct an_config cfg;
	struct an_engine *e;
	struct st_kpi k;
	const struct an_counters *c;

	config(&cfg, NULL);
	e = an_engine_create(&cfg, false);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	memset(&k, 0, sizeof(k));
	snprintf(k.service, sizeof(k.service), "web");
	snprintf(k.target, sizeof(k.target), "prod");
	k.role = ST_ROLE_PROD;
	k.instances = 1;
	k.requests = k.responses = 10;
	snprintf(k.src, sizeof(k.src), "honest");
	k.t0 = 999 * SEC;
	k.t1 = 999 * SEC + 900000000ULL;
	CU_ASSERT_EQUAL(an_engine_merge(e, &k, NULL, 0, 1000 * SEC + 100000000ULL), 0);
	k.t0 = 1000 * SEC;
	k.t1 = 1000 * SEC + 100000000ULL;
	CU_ASSERT_EQUAL(an_engine_merge(e, &k, NULL, 0, 1000 * SEC + 150000000ULL), 0);
	snprintf(k.src, sizeof(k.src), "ahead");
	k.t0 = 1003 * SEC;
	k.t1 = 1003 * SEC + 500000000ULL;
	CU_ASSERT_EQUAL(an_engine_merge(e, &k, NULL, 0, 1000 * SEC + 200000000ULL), 0);
	k.t0 = 1004 * SEC;
	k.t1 = 1004 * SEC + 500000000ULL;
	CU_ASSERT_EQUAL(an_engine_merge(e, &k, NULL, 0, 1000 * SEC + 250000000ULL), -ESTALE);
	snprintf(k.src, sizeof(k.src), "honest");
	k.t0 = 999 * SEC + 900000000ULL;
	k.t1 = 1000 * SEC;
	CU_ASSERT_EQUAL(an_engine_merge(e, &k, NULL, 0, 1000 * SEC + 300000000ULL), 0);
	c = an_engine_counters(e);
	printf("\n    late %llu, future %llu, merged %llu", (unsigned long long)c->late,
	       (unsigned long long)c->future, (unsigned long long)c->kpi_merged);
	CU_ASSERT_EQUAL(c->late, 0);
	CU_ASSERT_EQUAL(c->future, 1);
	CU_ASSERT_EQUAL(c->kpi_merged, 4);
	/* once 999's grace is over, its slot is free: the one ahead fits */
	snprintf(k.src, sizeof(k.src), "ahead");
	k.t0 = 1004 * SEC;
	k.t1 = 1004 * SEC + 500000000ULL;
	CU_ASSERT_EQUAL(an_engine_merge(e, &k, NULL, 0, 1000 * SEC + 600000000ULL), 0);
	an_engine_destroy(e);
	an_config_free(&cfg);
}

/* --- chaos ---------------------------------------------------------------- */

static void count_problem(void *arg, const char *key, const char *msg)
{
	int *n = arg;

	CU_ASSERT_STRING_EQUAL(key, "resilience_shadow");
	CU_ASSERT(strstr(msg, "nosuch") != NULL && strstr(msg, "resil") != NULL);
	(*n)++;
}

/* Every third window of target k = 1 (the shadow, or with an A/A twin the
 * twin, k = 2) is slow: a third of the capacity, as an impairment would
 * make it. How the run marks it: */
enum slow_mark { SLOW_CHAOS, SLOW_PLAIN, SLOW_SKIPPED };
static enum slow_mark slow_mark;
static int slow_k;

static bool pick_slow(int w, int k, struct ks_target *t)
{
	if (k != slow_k || w % 3 != 1)
		return true;
	t->mu = t->lam + (t->mu - t->lam) / 3;
	t->chaos = slow_mark == SLOW_CHAOS;
	return slow_mark != SLOW_SKIPPED;
}

/* Slow windows of the shadow taken under chaos are left out of the model's
 * fit and of the judgment: the verdict is that of the healthy windows. The
 * same windows without the chaos mark make the p99 high and the verdict
 * adjust, so the exclusion is what keeps it. */
static void test_chaos_excluded(void)
{
	struct scenario sc = { .windows = 15, .per_window = 4, .seed = 11, .pick = pick_slow };
	struct an_config cfg;
	struct an_engine *e;
	struct an_service *s;
	struct tally t;
	uint64_t win_chaos;

	sc.tg[0] = tgt("prod", ST_ROLE_PROD, 8, 500, 1000);
	sc.tg[1] = tgt("canary", ST_ROLE_SHADOW, 2, 500, 1000);
	sc.n_tg = 2;
	plan_default(&sc.plan);
	slow_k = 1;

	slow_mark = SLOW_CHAOS;
	e = run(&sc, &t, &cfg);
	s = an_engine_service(e, "web");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	win_chaos = an_engine_counters(e)->chaos_windows;
	/* a third of 15 windows, less the last one or two the run ends in */
	CU_ASSERT(win_chaos >= 4 && win_chaos <= 5);
	CU_ASSERT_EQUAL(s->model.windows_shadow, 15 - win_chaos);
	CU_ASSERT_EQUAL(t.last.verdict, ST_VERDICT_CONFIRM);
	CU_ASSERT_EQUAL(kpi(&t.last, "p99")->status, ST_KPI_PASS);
	CU_ASSERT(fabs(kpi(&t.last, "p99")->ratio - 1) < 0.15);
	an_engine_destroy(e);
	an_config_free(&cfg);

	slow_mark = SLOW_PLAIN;
	e = run(&sc, &t, &cfg);
	s = an_engine_service(e, "web");
	CU_ASSERT_EQUAL(an_engine_counters(e)->chaos_windows, 0);
	CU_ASSERT_EQUAL(s->model.windows_shadow, 15);
	CU_ASSERT(kpi(&t.last, "p99")->ratio > 1.3);
	an_engine_destroy(e);
	an_config_free(&cfg);
}

/* The A/A twin's slow windows under chaos give no A/A pair: the tolerance
 * comes out exactly as when those windows never arrived, while the same
 * windows without the chaos mark widen it. */
static void test_chaos_noise(void)
{
	struct scenario sc = { .windows = 40, .per_window = 2, .seed = 23, .pick = pick_slow };
	struct an_config cfg;
	struct an_engine *e;
	struct an_service *s;
	struct tally t;
	struct an_judge_state js[3];

	sc.tg[0] = tgt("prod", ST_ROLE_PROD, 8, 500, 1000);
	/* 2000 samples a window: enough for a p99 pair (1000) */
	sc.tg[1] = tgt("canary", ST_ROLE_SHADOW, 4, 500, 1000);
	sc.tg[2] = tgt("canary2", ST_ROLE_SHADOW, 4, 500, 1000);
	sc.n_tg = 3;
	plan_default(&sc.plan);
	snprintf(sc.plan.aa_shadow, sizeof(sc.plan.aa_shadow), "canary2");
	slow_k = 2;
	for (int m = 0; m < 3; m++) {
		slow_mark = (enum slow_mark)m;
		e = run(&sc, &t, &cfg);
		s = an_engine_service(e, "web");
		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		js[m] = s->js;
		an_engine_destroy(e);
		an_config_free(&cfg);
	}
	printf("\n    A/A p99 pairs/tolerance: chaos %u/%.3f, skipped %u/%.3f, plain %u/%.3f\n",
	       js[0].aa_n[2], js[0].tol[2], js[1 + 1].aa_n[2], js[2].tol[2], js[1].aa_n[2],
	       js[1].tol[2]);
	for (int k = 0; k < AN_AA_KPIS; k++) {
		CU_ASSERT_EQUAL(js[SLOW_CHAOS].aa_n[k], js[SLOW_SKIPPED].aa_n[k]);
		CU_ASSERT_DOUBLE_EQUAL(js[SLOW_CHAOS].tol[k], js[SLOW_SKIPPED].tol[k], 1e-12);
	}
	CU_ASSERT(js[SLOW_CHAOS].aa_n[AN_NOISE_P99] >= 8);
	CU_ASSERT(js[SLOW_PLAIN].aa_n[AN_NOISE_P99] > js[SLOW_CHAOS].aa_n[AN_NOISE_P99]);
	CU_ASSERT(js[SLOW_PLAIN].tol[AN_NOISE_P99] > js[SLOW_CHAOS].tol[AN_NOISE_P99] + 0.05);
}

/* The resilience group "resil" runs the proposal's per-instance load on 3
 * instances with one down. M/M/1 per instance, mu 1000, d0 2 ms, SLO p99
 * 30 ms, forecast 8000 rps: n instances each at 8000/n meet it up to
 * lam = 1000 - ln(100)/0.028 = 835.5, i.e. from n = 10 (true). */
static int true_fewest(double F)
{
	int n = 1;

	while (0.002 + log(100) / (1000 - F / n) > 0.030 || F / n >= 1000)
		n++;
	return n;
}

static void res_scenario(struct scenario *sc, bool respread)
{
	memset(sc, 0, sizeof(*sc));
	sc->windows = 14;
	sc->per_window = 4;
	sc->seed = 5;
	sc->tg[0] = tgt("prod", ST_ROLE_PROD, 8, 500, 1000);
	sc->tg[1] = tgt("canary", ST_ROLE_SHADOW, 2, 500, 1000);
	sc->tg[2] = tgt("resil", ST_ROLE_SHADOW, 3, 500, 1000);
	sc->tg[2].chaos = true;
	sc->tg[2].down = 1;
	sc->tg[2].respread = respread;
	sc->n_tg = 3;
	plan_default(&sc->plan);
	snprintf(sc->plan.resilience_shadow, sizeof(sc->plan.resilience_shadow), "resil");
}

/* N+1 with the flows respread: the two survivors carry 750 rps each (p99
 * about 20 ms, within the SLO), and the fewest instances that hold the SLO
 * with one down are the fewest whose n - 1 carry the forecast: one more
 * than the healthy fewest, by the true capacity at least (the model's
 * upper bound errs high, by a little). */
static void test_resilience_respread(void)
{
	struct scenario sc;
	struct an_config cfg;
	struct an_engine *e;
	struct tally t;
	const struct st_resilience *r;
	int truth = true_fewest(8000) + 1;

	res_scenario(&sc, true);
	e = run(&sc, &t, &cfg);
	CU_ASSERT_EQUAL_FATAL(t.last.has_resilience, true);
	r = &t.last.resilience;
	printf("\n    respread: windows %u p99 %.2f ms (healthy %.2f) err %.4f rps %.1f rec %u "
	       "(truth %d) p99@rec %.2f ms: %s\n", r->windows, r->p99 / 1e6, r->p99_healthy / 1e6,
	       r->error_rate, r->rps_per_instance, r->recommended_instances, truth,
	       r->p99_recommended / 1e6, r->reason);
	CU_ASSERT_STRING_EQUAL(r->shadow, "resil");
	CU_ASSERT(r->windows >= 5);
	CU_ASSERT_EQUAL(r->instances, 3);
	CU_ASSERT_EQUAL(r->down, 1);
	CU_ASSERT(r->respread);
	CU_ASSERT(fabs(r->rps_per_instance - 750) < 40);
	/* M/M/1: 2 ms + ln(100)/250 = 20.4 ms at 750, 11.2 ms at 500 */
	CU_ASSERT(r->p99 > 17e6 && r->p99 < 24e6);
	CU_ASSERT(r->p99_healthy > 9e6 && r->p99_healthy < 13.5e6);
	CU_ASSERT(r->slo_met);
	CU_ASSERT(r->error_rate < 0.001);
	CU_ASSERT(r->has_chaos);
	CU_ASSERT_STRING_EQUAL(r->chaos.down, "198.18.1.12");
	CU_ASSERT_STRING_EQUAL(st_chaos_param(&r->chaos, "delay"), "0ms");
	CU_ASSERT(r->reachable);
	CU_ASSERT((int)r->recommended_instances >= truth);
	CU_ASSERT((int)r->recommended_instances <= truth + 2);
	/* its survivors carry the forecast within the SLO by the true
	 * capacity (by the model's bound, or as the group measured) */
	CU_ASSERT(0.002 + log(100) / (1000 - 8000.0 / (r->recommended_instances - 1)) <= 0.030);
	CU_ASSERT(isfinite(r->p99_recommended) && isfinite(r->p99_proposed));
	/* the healthy verdict is untouched by the resilience group */
	CU_ASSERT_STRING_EQUAL(t.last.shadow, "canary");
	CU_ASSERT(fabs(kpi(&t.last, "p99")->observed - r->p99_healthy) < 1);
	an_engine_destroy(e);
	an_config_free(&cfg);
}

/* Blackholed: the survivors keep their own 500 rps, and a third of the
 * requests (the down instance's share) time out. No count holds a 1%
 * error SLO until that share, 1/n, is within it: n = 100 (the model's own
 * errors at 80 rps per instance are nil). */
static void test_resilience_blackhole(void)
{
	struct scenario sc;
	struct an_config cfg;
	struct an_engine *e;
	struct tally t;
	const struct st_resilience *r;

	res_scenario(&sc, false);
	e = run(&sc, &t, &cfg);
	r = &t.last.resilience;
	printf("\n    blackhole: p99 %.2f ms err %.4f rps %.1f rec %u: %s\n", r->p99 / 1e6,
	       r->error_rate, r->rps_per_instance, r->recommended_instances, r->reason);
	CU_ASSERT_EQUAL(r->down, 1);
	CU_ASSERT(!r->respread);
	CU_ASSERT(fabs(r->error_rate - 1.0 / 3) < 0.02);
	CU_ASSERT(fabs(r->rps_per_instance - 500) < 30);
	CU_ASSERT(r->p99 < 13.5e6);
	CU_ASSERT(!r->slo_met);
	CU_ASSERT(r->reachable);
	CU_ASSERT_EQUAL(r->recommended_instances, 100);
	an_engine_destroy(e);
	an_config_free(&cfg);

	/* capped below 100: out of reach */
	res_scenario(&sc, false);
	sc.plan.max_instances = 60;
	e = run(&sc, &t, &cfg);
	r = &t.last.resilience;
	CU_ASSERT(!r->reachable);
	CU_ASSERT_EQUAL(r->recommended_instances, 60);
	an_engine_destroy(e);
	an_config_free(&cfg);
}

/* A resilience group that never ran under chaos has nothing to say, and a
 * plan naming a group the service's KPIs never named is refused once they
 * named some. */
static void test_resilience_nodata(void)
{
	struct scenario sc;
	struct an_config cfg;
	struct an_engine *e;
	struct tally t;
	struct an_plan p;
	int problems = 0;

	res_scenario(&sc, true);
	sc.tg[2].chaos = false;
	sc.tg[2].down = 0;
	e = run(&sc, &t, &cfg);
	CU_ASSERT(t.last.has_resilience);
	CU_ASSERT_EQUAL(t.last.resilience.windows, 0);
	CU_ASSERT(!t.last.resilience.slo_met);
	CU_ASSERT_EQUAL(t.last.resilience.recommended_instances, 0);
	CU_ASSERT(!t.last.resilience.has_chaos);
	CU_ASSERT(strstr(t.last.resilience.reason, "no window") != NULL);
	p = sc.plan;
	CU_ASSERT_EQUAL(an_engine_plan_check(e, "web", &p, count_problem, &problems), 0);
	snprintf(p.resilience_shadow, sizeof(p.resilience_shadow), "nosuch");
	CU_ASSERT_EQUAL(an_engine_plan_check(e, "web", &p, count_problem, &problems), 1);
	CU_ASSERT_EQUAL(problems, 1);
	/* a service no KPI has named yet: every group is unknown, and taken */
	CU_ASSERT_EQUAL(an_engine_plan_check(e, "other", &p, count_problem, &problems), 0);
	an_engine_destroy(e);
	an_config_free(&cfg);
}

/* A squeeze step's pass counts only when a second, separate step passes
 * too (analyzer/verify.c an_squeeze_passed): the lower load stands, with
 * its own step's numbers; results and waiting passes age out. */
static void test_squeeze_confirm(void)
{
	const uint64_t s = 1000000000ULL, keep = 600 * s, t0 = 1000 * s;
	struct an_squeeze sq;

	memset(&sq, 0, sizeof(sq));
	/* one pass alone verifies nothing */
	CU_ASSERT_FALSE(an_squeeze_passed(&sq, 9, 100, 101, 20e6, t0, keep));
	CU_ASSERT_EQUAL(sq.ok_lam, 0);
	CU_ASSERT_EQUAL(sq.cand_lam, 100);
	/* the second: the lower of the two, the first step's numbers */
	CU_ASSERT_TRUE(an_squeeze_passed(&sq, 8, 120, 125, 22e6, t0 + 20 * s, keep));
	CU_ASSERT_EQUAL(sq.ok_lam, 100);
	CU_ASSERT_EQUAL(sq.ok_ran, 101);
	CU_ASSERT_EQUAL(sq.ok_p99, 20e6);
	CU_ASSERT_EQUAL(sq.cand_lam, 0);
	/* at or below the verified load: stands at once, nothing waits */
	CU_ASSERT_TRUE(an_squeeze_passed(&sq, 10, 90, 90, 15e6, t0 + 30 * s, keep));
	CU_ASSERT_EQUAL(sq.ok_lam, 100);
	CU_ASSERT_EQUAL(sq.cand_lam, 0);
	/* above it: waits; the second, lower one stands with its numbers */
	CU_ASSERT_FALSE(an_squeeze_passed(&sq, 7, 130, 131, 30e6, t0 + 40 * s, keep));
	CU_ASSERT_EQUAL(sq.ok_lam, 100);
	CU_ASSERT_TRUE(an_squeeze_passed(&sq, 7, 110, 112, 25e6, t0 + 60 * s, keep));
	CU_ASSERT_EQUAL(sq.ok_lam, 110);
	CU_ASSERT_EQUAL(sq.ok_ran, 112);
	CU_ASSERT_EQUAL(sq.ok_p99, 25e6);
	/* a waiting pass older than verify_keep confirms nothing */
	CU_ASSERT_FALSE(an_squeeze_passed(&sq, 6, 150, 150, 30e6, t0 + 70 * s, keep));
	CU_ASSERT_FALSE(an_squeeze_passed(&sq, 6, 150, 150, 30e6, t0 + 71 * s + keep, keep));
	CU_ASSERT_EQUAL(sq.cand_t, t0 + 71 * s + keep);
	/* nor does a verified load that aged out: below it, it waits again */
	memset(&sq, 0, sizeof(sq));
	sq.ok_lam = 100;
	sq.ok_t = t0;
	CU_ASSERT_FALSE(an_squeeze_passed(&sq, 12, 80, 80, 10e6, t0 + keep + s, keep));
	CU_ASSERT_TRUE(an_squeeze_passed(&sq, 12, 80, 81, 11e6, t0 + keep + 20 * s, keep));
	CU_ASSERT_EQUAL(sq.ok_lam, 80);
	CU_ASSERT_EQUAL(sq.ok_t, t0 + keep + 20 * s);
}

/* Seq gaps: three snapshots of one publisher numbered 1, 2 and 5 are two
 * lost; a shard (services = web) receives only its services' share of a
 * gateway's seq, so counts none live, and all of them again in --replay. */
static uint64_t gaps_of(bool shard, bool replay)
{
	static const uint64_t seqs[] = { 1, 2, 5 };
	struct ks_target tg = tgt("prod", ST_ROLE_PROD, 8, 500, 1000);
	struct an_config cfg;
	struct an_engine *e;
	struct st_perr pe;
	struct ks_sim sim;
	struct st_wbuf b;
	uint64_t gaps;

	config(&cfg, NULL);
	if (shard)
		CU_ASSERT_EQUAL_FATAL(an_config_set(&cfg, "services", "web", &pe), 0);
	e = an_engine_create(&cfg, replay);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	ks_init(&sim, 5, "web", "gw1");
	st_wbuf_init(&b);
	for (int i = 0; i < 3; i++) {
		char topic[ST_WIRE_TOPIC_MAX];
		uint64_t a = T0 + (uint64_t)i * SEC;

		sim.seq = seqs[i] - 1;	/* ks_snapshot numbers from seq + 1 */
		ks_snapshot(&sim, &tg, a, a + SEC, &b, topic, sizeof(topic));
		an_engine_ingest(e, topic, strlen(topic), b.data, b.len, 2, replay ? 0 : a + SEC);
	}
	gaps = an_engine_counters(e)->gaps;
	st_wbuf_free(&b);
	ks_free(&sim);
	an_engine_destroy(e);
	an_config_free(&cfg);
	return gaps;
}

/* max_publishers 2: a third publisher while the two are live goes
 * untracked (its duplicate merged); once they have been silent an hour
 * they are forgotten to make room, and a new one is tracked. */
static void send_from(struct an_engine *e, struct ks_sim *sim, const struct ks_target *tg,
		      const char *src, uint64_t seq, uint64_t a, struct st_wbuf *b)
{
	char topic[ST_WIRE_TOPIC_MAX];

	snprintf(sim->src, sizeof(sim->src), "%s", src);
	sim->seq = seq - 1;	/* ks_snapshot numbers from seq + 1 */
	ks_snapshot(sim, tg, a, a + SEC, b, topic, sizeof(topic));
	an_engine_ingest(e, topic, strlen(topic), b->data, b->len, 2, a + SEC);
}

/* An engine in replay (windows' time only) with max_publishers max, fed
 * by send_from. */
struct pubs_rig {
	struct ks_target tg;
	struct an_config cfg;
	struct an_engine *e;
	struct ks_sim sim;
	struct st_wbuf b;
	const struct an_counters *n;
};

static void rig_init(struct pubs_rig *r, const char *max)
{
	struct st_perr pe;

	r->tg = tgt("prod", ST_ROLE_PROD, 8, 500, 1000);
	config(&r->cfg, NULL);
	CU_ASSERT_EQUAL_FATAL(an_config_set(&r->cfg, "max_publishers", max, &pe), 0);
	r->e = an_engine_create(&r->cfg, true);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r->e);
	r->n = an_engine_counters(r->e);
	ks_init(&r->sim, 5, "web", "gw");
	st_wbuf_init(&r->b);
}

static void rig_send(struct pubs_rig *r, const char *src, uint64_t seq, uint64_t a)
{
	send_from(r->e, &r->sim, &r->tg, src, seq, a, &r->b);
}

static void rig_free(struct pubs_rig *r)
{
	st_wbuf_free(&r->b);
	ks_free(&r->sim);
	an_engine_destroy(r->e);
	an_config_free(&r->cfg);
}

static void test_forget_publishers(void)
{
	const uint64_t hour = 3600 * SEC;
	struct pubs_rig r;

	rig_init(&r, "2");
	rig_send(&r, "gwa", 1, T0);
	rig_send(&r, "gwb", 1, T0);
	/* the table is full, both live: gwc untracked, its repeat not seen */
	rig_send(&r, "gwc", 1, T0 + 10 * SEC);
	rig_send(&r, "gwc", 1, T0 + 10 * SEC);
	CU_ASSERT_EQUAL(r.n->untracked, 2);
	CU_ASSERT_EQUAL(r.n->duplicates, 0);
	CU_ASSERT_EQUAL(r.n->pubs_forgotten, 0);
	/* gwb goes on; gwa silent for over an hour: forgotten, gwd tracked */
	rig_send(&r, "gwb", 2, T0 + hour);
	rig_send(&r, "gwd", 1, T0 + hour + 2 * SEC);
	CU_ASSERT_EQUAL(r.n->pubs_forgotten, 1);
	CU_ASSERT_EQUAL(r.n->untracked, 2);
	rig_send(&r, "gwd", 1, T0 + hour + 2 * SEC);
	CU_ASSERT_EQUAL(r.n->duplicates, 1);
	/* gwb's seq still followed: a jump is a gap */
	rig_send(&r, "gwb", 4, T0 + hour + SEC);
	CU_ASSERT_EQUAL(r.n->gaps, 1);
	/* gwa back while gwb and gwd are live: untracked, as a newcomer */
	rig_send(&r, "gwa", 2, T0 + hour + 3 * SEC);
	CU_ASSERT_EQUAL(r.n->untracked, 3);
	CU_ASSERT_EQUAL(r.n->pubs_forgotten, 1);
	rig_free(&r);
}

/* max_publishers 8, full of publishers two hours silent: the first
 * newcomer forgets all eight at once, and seven more are tracked. */
static void test_forget_publishers_batch(void)
{
	struct pubs_rig r;
	char src[16];

	rig_init(&r, "8");
	for (int i = 0; i < 8; i++) {
		snprintf(src, sizeof(src), "old%d", i);
		rig_send(&r, src, 1, T0 + (uint64_t)i * SEC);
	}
	for (int i = 0; i < 8; i++) {
		snprintf(src, sizeof(src), "new%d", i);
		rig_send(&r, src, 1, T0 + 7200 * SEC);
		rig_send(&r, src, 1, T0 + 7200 * SEC);
	}
	CU_ASSERT_EQUAL(r.n->pubs_forgotten, 8);
	CU_ASSERT_EQUAL(r.n->dropped_limits, 0);
	CU_ASSERT_EQUAL(r.n->duplicates, 8);
	rig_free(&r);
}

static void test_gaps(void)
{
	CU_ASSERT_EQUAL(gaps_of(false, false), 2);
	CU_ASSERT_EQUAL(gaps_of(true, false), 0);
	CU_ASSERT_EQUAL(gaps_of(true, true), 2);
	CU_ASSERT_EQUAL(gaps_of(false, true), 2);
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "window_merge", test_window_merge },
		{ "windows of a publisher whose interval does not divide them", test_window_complete },
		{ "seq gaps, in a shard and not", test_gaps },
		{ "publishers silent an hour forgotten when the table fills", test_forget_publishers },
		{ "a full table of silent publishers forgotten at once", test_forget_publishers_batch },
		{ "a window fed by two gateways out of step", test_window_two_gateways },
		{ "confirm_adjust", test_confirm_adjust },
		{ "tail_only", test_tail_only },
		{ "inconclusive", test_inconclusive },
		{ "an inconclusive verdict holds the last count", test_inconclusive_holds },
		{ "prod's KPIs before its plan teach the model nothing", test_no_plan_no_learning },
		{ "per-instance queues at one load earn no pooling gain", test_no_pooling_from_one_load },
		{ "prod's windows on the count before a scale-down are not its evidence", test_scaled_down_span },
		{ "a squeeze step on a shared queue's 8 verifies no fewer", test_shared_queue_squeeze },
		{ "a shared queue with the form left to the model", test_shared_queue_auto },
		{ "a shadow that breaks the SLO in one bucket confirms nothing", test_shadow_breaks_one_bucket },
		{ "hysteresis", test_hysteresis },
		{ "synthetic", test_synthetic },
		{ "model_choice", test_model_choice },
		{ "md1_recommend", test_md1_recommend },
		{ "squeeze_state", test_squeeze_state },
		{ "a squeeze step stands for its own count, under its SLO", test_squeeze_cap_aim },
		{ "a shared queue's measured load stands for its own count", test_shared_queue_cap },
		{ "an error rate near the objective verifies nothing", test_error_bound_evidence },
		{ "a gateway ahead closes no window in its grace", test_skewed_gateway },
		{ "squeeze_confirm", test_squeeze_confirm },
		{ "chaos_excluded", test_chaos_excluded },
		{ "chaos_noise", test_chaos_noise },
		{ "resilience_respread", test_resilience_respread },
		{ "resilience_blackhole", test_resilience_blackhole },
		{ "resilience_nodata", test_resilience_nodata },
		{ "aa_200_runs", test_aa_200 },
		{ NULL, NULL },
	};

	return st_cu_add_suite("an_engine", NULL, NULL, tests);
}
