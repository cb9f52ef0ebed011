#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "engine_priv.h"

uint32_t an_hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

struct an_engine *an_engine_create(const struct an_config *cfg, bool replay)
{
	struct an_engine *e = calloc(1, sizeof(*e));
	uint32_t n = 16;

	if (e == NULL)
		goto err;
	e->cfg = cfg;
	e->replay = replay;
	e->layout = st_hist_create(AN_HIST_LOWEST, AN_HIST_HIGHEST, AN_HIST_SIGFIGS);
	if (e->layout == NULL)
		goto err;
	e->dec = an_histdec_create(e->layout);
	e->judge = an_judge_create(cfg, e->layout);
	while (n < 2 * cfg->max_publishers)
		n *= 2;
	e->pub_hcap = n;
	e->pubs = calloc(n, sizeof(*e->pubs));
	e->clients = an_clients_create(cfg, e);
	if (e->dec == NULL || e->judge == NULL || e->pubs == NULL || e->clients == NULL)
		goto err;
	st_wbuf_init(&e->anomaly);
	e->rl = (struct st_ratelimit)ST_RATELIMIT_INIT(ST_NS_PER_S, 10);
	/* the configured services this analyzer's shard judges */
	for (uint32_t i = 0; i < cfg->n_services; i++)
		if (an_shard_owns(&cfg->shard, cfg->services[i].name) &&
		    an_engine_propose(e, cfg->services[i].name, &cfg->services[i].plan) != 0)
			goto err;
	return e;
err:
	an_engine_destroy(e);
	errno = ENOMEM;
	return NULL;
}

static void service_free(struct an_service *s)
{
	for (uint32_t i = 0; i < s->n_targets; i++) {
		an_target_free(s->targets[i]);
		free(s->targets[i]);
	}
	free(s->evals);
	free(s);
}

void an_engine_destroy(struct an_engine *e)
{
	if (e == NULL)
		return;
	for (uint32_t i = 0; i < e->n_svc; i++)
		service_free(e->svc[i]);
	free(e->svc);
	free(e->svc_hash);
	free(e->pubs);
	an_clients_destroy(e->clients);
	an_judge_destroy(e->judge);
	an_histdec_destroy(e->dec);
	st_hist_destroy(e->layout);
	st_wbuf_free(&e->anomaly);
	free(e);
}

void an_engine_set_output(struct an_engine *e, an_verdict_fn vf,
			  an_anomaly_fn af, void *arg)
{
	e->vf = vf;
	e->af = af;
	e->arg = arg;
}

const struct an_counters *an_engine_counters(const struct an_engine *e)
{
	return &e->cnt;
}

const struct an_config *an_engine_config(const struct an_engine *e)
{
	return e->cfg;
}

const struct st_hist *an_engine_layout(const struct an_engine *e)
{
	return e->layout;
}

int an_engine_measure(struct an_engine *e, const struct an_service *s, const char *target,
		      int64_t w0, int64_t w1, uint32_t c_override, struct an_measure *m)
{
	return an_judge_measure(e->judge, s, target, w0, w1, c_override, m);
}

struct an_histdec *an_engine_histdec(struct an_engine *e)
{
	return e->dec;
}

uint32_t an_engine_n_services(const struct an_engine *e)
{
	return e->n_svc;
}

struct an_service *an_engine_service_at(struct an_engine *e, uint32_t i)
{
	return i < e->n_svc ? e->svc[i] : NULL;
}

/* --- services --------------------------------------------------------------- */

static int hash_grow(struct an_engine *e)
{
	uint32_t cap = e->svc_hcap ? e->svc_hcap * 2 : 64;
	int32_t *h = malloc(cap * sizeof(*h));

	if (h == NULL)
		return -ENOMEM;
	memset(h, 0xff, cap * sizeof(*h));
	for (uint32_t i = 0; i < e->n_svc; i++) {
		uint32_t k = an_hash_str(e->svc[i]->name) & (cap - 1);

		while (h[k] >= 0)
			k = (k + 1) & (cap - 1);
		h[k] = (int32_t)i;
	}
	free(e->svc_hash);
	e->svc_hash = h;
	e->svc_hcap = cap;
	return 0;
}

struct an_service *an_engine_service(struct an_engine *e, const char *name)
{
	uint32_t k;

	if (e->svc_hcap == 0)
		return NULL;
	k = an_hash_str(name) & (e->svc_hcap - 1);
	while (e->svc_hash[k] >= 0) {
		struct an_service *s = e->svc[e->svc_hash[k]];

		if (strcmp(s->name, name) == 0)
			return s;
		k = (k + 1) & (e->svc_hcap - 1);
	}
	return NULL;
}

struct an_service *an_engine_service_get(struct an_engine *e, const char *name)
{
	struct an_service *s = an_engine_service(e, name);
	uint32_t k;

	if (s != NULL)
		return s;
	if (e->n_svc >= e->cfg->max_services)
		return NULL;
	if ((e->n_svc + 1) * 2 > e->svc_hcap && hash_grow(e) != 0)
		return NULL;
	if (e->n_svc == e->cap_svc) {
		uint32_t cap = e->cap_svc ? e->cap_svc * 2 : 16;
		struct an_service **a = realloc(e->svc, cap * sizeof(*a));

		if (a == NULL)
			return NULL;
		e->svc = a;
		e->cap_svc = cap;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->closed_w = -1;
	s->js.aa_last_w = -1;
	s->sq.x0 = 0;
	s->sq.x1 = -1;
	an_model_init(&s->model);
	e->svc[e->n_svc] = s;
	k = an_hash_str(name) & (e->svc_hcap - 1);
	while (e->svc_hash[k] >= 0)
		k = (k + 1) & (e->svc_hcap - 1);
	e->svc_hash[k] = (int32_t)e->n_svc;
	e->n_svc++;
	return s;
}

struct an_target *an_service_target(const struct an_service *s, const char *name)
{
	for (uint32_t i = 0; i < s->n_targets; i++)
		if (strcmp(s->targets[i]->name, name) == 0)
			return s->targets[i];
	return NULL;
}

static struct an_target *target_get(struct an_engine *e, struct an_service *s,
				    const char *name, enum st_role role)
{
	struct an_target *t = an_service_target(s, name);

	if (t != NULL)
		return t;
	if (s->n_targets >= AN_MAX_TARGETS)
		return NULL;
	t = malloc(sizeof(*t));
	if (t == NULL)
		return NULL;
	/* The judge pools eval_windows; the A/A pairs reach one further. */
	if (an_target_init(t, name, role, e->cfg->history, e->cfg->eval_windows + 1 +
			   (an_config_verify_on(e->cfg) ?
			    /* a squeeze step's windows, extensions included */
			    (uint32_t)(e->cfg->verify_max_time_ns / e->cfg->window_ns) +
			    e->cfg->verify_settle + 4 : 0)) != 0) {
		free(t);
		return NULL;
	}
	s->targets[s->n_targets++] = t;
	return t;
}

int an_engine_propose(struct an_engine *e, const char *service,
		      const struct an_plan *plan)
{
	struct an_service *s;

	if (!an_shard_owns(&e->cfg->shard, service))
		return -EXDEV;
	s = an_engine_service_get(e, service);

	if (s == NULL)
		return e->n_svc >= e->cfg->max_services ? -ENOSPC : -ENOMEM;
	if (s->evals == NULL) {
		s->evals = calloc(AN_EVALS_MAX, sizeof(*s->evals));
		if (s->evals == NULL)
			return -ENOMEM;
	}
	/* The same plan again (a controller that applies its plan every so
	 * often, a GET's plan PUT back) asks nothing new: the verdict stands. */
	if (s->has_plan && an_plan_same(&s->plan, plan)) {
		/* who named its profile: a reload's identical plan is the
		 * file's (read wherever it leads), an API's is confined */
		s->plan.forecast_from_api = plan->forecast_from_api;
		return 0;
	}
	/* Squeeze steps were judged against the SLO and on the shadow they
	 * ran on: a tighter SLO, another group or another instance count
	 * behind it and they stand for nothing (a pass under 50 ms kept
	 * capping the count under 35 ms until verify_keep ran out). */
	if (s->plan.slo_p99_ns != plan->slo_p99_ns ||
	    s->plan.slo_error_rate != plan->slo_error_rate ||
	    strcmp(s->plan.shadow, plan->shadow) != 0 ||
	    s->plan.shadow_instances != plan->shadow_instances) {
		s->sq.ok_lam = s->sq.cand_lam = s->sq.bad_lam = s->sq.bad_aim = 0;
		s->sq.want_n = 0;
	}
	/* the windows open now ran partly on the old count: prod's span
	 * takes none of them (an_target.plan_c_from) */
	if (s->has_plan && s->plan.current_instances != plan->current_instances)
		s->c_from_w = s->closed_w + AN_OPEN + 1;
	s->plan = *plan;
	s->has_plan = true;
	s->plan_changes++;
	/* A new question earns its verdict from scratch. */
	s->js.has_published = false;
	s->js.pending_count = 0;
	return 0;
}

int an_engine_plan_check(struct an_engine *e, const char *service,
			 const struct an_plan *plan, an_plan_err_fn fn, void *arg)
{
	const struct an_service *s;
	char known[256] = "", msg[400];
	bool any = false;
	size_t o = 0;

	if (plan->resilience_shadow[0] == '\0')
		return 0;
	s = an_engine_service(e, service);
	if (s == NULL)
		return 0;
	for (uint32_t i = 0; i < s->n_targets; i++) {
		const struct an_target *t = s->targets[i];

		if (t->role != ST_ROLE_SHADOW)
			continue;
		if (strcmp(t->name, plan->resilience_shadow) == 0)
			return 0;
		if (o < sizeof(known))
			o += (size_t)snprintf(known + o, sizeof(known) - o, "%s%s", any ? ", " : "",
					      t->name);
		any = true;
	}
	if (!any)
		return 0;
	snprintf(msg, sizeof(msg), "unknown group '%s' (the KPIs of %s name %s)",
		 plan->resilience_shadow, service, known);
	fn(arg, "resilience_shadow", msg);
	return 1;
}

/* --- windows ---------------------------------------------------------------- */

/* Teaches the model the windows of t closed after window `after`. A
 * window with clearly fewer snapshots than usual (a publisher restarting,
 * missing or just starting) carries latencies of one load and a request
 * count of another: it is kept for the verdict but not learnt from. */
static void learn(struct an_engine *e, struct an_service *s, struct an_target *t,
		  int64_t after)
{
	bool shadow = s->has_plan && strcmp(t->name, s->plan.shadow) == 0;
	uint32_t override = shadow ? s->plan.shadow_instances : 0;

	/* prod runs the plan's current_instances (judge.c says why); without
	 * a plan its count is not known (the dataplane's prod_instances is a
	 * static 1 unless told), and a window learnt at the total rate as
	 * one instance's would stay a load level of the model for good */
	if (t->role == ST_ROLE_PROD && !s->has_plan)
		return;
	if (t->role == ST_ROLE_PROD)
		override = s->plan.current_instances;

	if (t->role != ST_ROLE_PROD && !shadow)
		return;
	/* Oldest first, so the model's one-step scores run forward in time. */
	for (uint32_t i = t->len; i-- > 0;) {
		const struct an_win *w = an_target_win(t, i);
		struct an_obs o;

		if (w->w <= after)
			continue;
		if (!an_target_complete(t, i))
			continue;
		/* prod's count when it ran not known: before the plan, or
		 * open when the count changed */
		if (t->role == ST_ROLE_PROD && w->plan_c == 0)
			continue;
		/* a window under chaos says how the fault hurts, not what
		 * the healthy service does */
		if (w->chaos > 0) {
			e->cnt.chaos_windows++;
			continue;
		}
		memset(&o, 0, sizeof(o));
		o.c = override ? override : w->instances;
		if (o.c == 0)
			o.c = t->role == ST_ROLE_PROD && s->has_plan ? s->plan.current_instances : 1;
		o.lam = an_win_rate(w, o.c);
		o.p50 = w->p50 / 1e9;
		o.p90 = w->p90 / 1e9;
		o.p99 = w->p99 / 1e9;
		o.mean = w->mean / 1e9;
		o.n = (double)w->total;
		o.requests = (double)w->requests;
		o.errors = (double)(w->timeouts + w->resets + w->icmp_errors);
		o.timeouts = (double)w->timeouts;
		o.resets = (double)w->resets;
		if (t->role == ST_ROLE_PROD)
			an_model_learn_prod(&s->model, &o, e->cfg->model_weight, e->cfg->model);
		else
			an_model_learn_shadow(&s->model, &o, e->cfg->model_weight);
	}
}

/* Closes every window of s up to w (all targets), and teaches the model. */
static int close_upto(struct an_engine *e, struct an_service *s, int64_t w)
{
	int64_t before = s->closed_w;
	int rc;

	if (w <= s->closed_w)
		return 0;
	for (uint32_t i = 0; i < s->n_targets; i++) {
		struct an_target *t = s->targets[i];
		uint32_t len = t->len, head = t->head;

		/* the count prod's windows ran on, as the plan says now */
		t->plan_c = t->role == ST_ROLE_PROD && s->has_plan ? s->plan.current_instances : 0;
		t->plan_c_from = s->c_from_w;
		rc = an_target_close_upto(t, w, e->layout);
		if (rc < 0)
			return rc;
		if (t->len != len || t->head != head) {
			e->cnt.windows += (t->head + t->cap - head) % t->cap;
			s->dirty = true;
			learn(e, s, t, before);
		}
	}
	s->closed_w = w;
	return 0;
}

/* The last window whose grace is over at cut: window w ends at
 * (w + 1) * window and waits `grace` for stragglers. Below 0 (INT64_MIN)
 * when none is. */
static int64_t due_window(const struct an_engine *e, uint64_t cut)
{
	uint64_t grace = e->cfg->grace_ns ? e->cfg->grace_ns : e->cfg->window_ns / 2;

	if (cut < grace + e->cfg->window_ns)
		return INT64_MIN;
	return (int64_t)((cut - grace) / e->cfg->window_ns) - 1;
}

int an_engine_merge(struct an_engine *e, const struct st_kpi *k,
		    const struct an_bin *bins, size_t n_bins, uint64_t now_ns)
{
	struct an_service *s;
	struct an_target *t;
	struct an_acc *acc;
	int64_t w;
	int rc;

	if (!e->replay && k->t1 > now_ns + e->cfg->max_skew_ns) {
		e->cnt.future++;
		return -ESTALE;
	}
	w = (int64_t)((k->t0 + (k->t1 - k->t0) / 2) / e->cfg->window_ns);
	if (!an_shard_owns(&e->cfg->shard, k->service)) {
		e->cnt.other_shard++;
		return -EXDEV;
	}
	s = an_engine_service_get(e, k->service);
	if (s == NULL) {
		e->cnt.dropped_limits++;
		return -ENOSPC;
	}
	if (w <= s->closed_w) {
		e->cnt.late++;
		return -ESTALE;
	}
	t = target_get(e, s, k->target, k->role);
	if (t == NULL) {
		e->cnt.dropped_limits++;
		return -ENOSPC;
	}
	acc = an_target_acc(t, w);
	if (acc == NULL) {
		/* A publisher is AN_OPEN windows ahead: the oldest window
		 * cannot wait any longer -- in a replay. Live, a window in
		 * its grace is never closed for it: one gateway's clock a few
		 * windows ahead (within max_skew) closed the current window
		 * and every other gateway's snapshots for it were late. Its
		 * snapshot is refused instead, counted future (publishers do
		 * not send again: it is lost). */
		int64_t upto = w - AN_OPEN, due = e->replay ? upto : due_window(e, now_ns);

		rc = close_upto(e, s, upto < due ? upto : due);
		if (rc != 0)
			return rc;
		acc = an_target_acc(t, w);
		if (acc == NULL) {
			e->cnt.future++;
			return -ESTALE;
		}
	}
	rc = an_acc_add(acc, k, bins, n_bins, true);
	if (rc != 0)
		return rc;
	t->snapshots++;
	if (k->has_chaos && k->t1 >= t->chaos_t1) {
		t->has_chaos = true;
		t->chaos_t1 = k->t1;
		t->chaos = k->chaos;
	}
	/* Traffic the load generator injects lands on the shadow instances
	 * too: their load and latency are the sum of both streams. */
	if (k->role == ST_ROLE_LOADGEN && s->has_plan && s->plan.include_synthetic &&
	    strcmp(k->target, s->plan.shadow) != 0) {
		struct an_target *sh = target_get(e, s, s->plan.shadow, ST_ROLE_SHADOW);
		struct an_acc *sa = sh ? an_target_acc(sh, w) : NULL;

		if (sa != NULL && an_acc_add(sa, k, bins, n_bins, false) == 0)
			sh->snapshots++;
	}
	e->cnt.kpi_merged++;
	if (k->t1 > e->data_clock)
		e->data_clock = k->t1;
	return 0;
}

static int judge(struct an_engine *e, struct an_service *s, uint64_t now_ns)
{
	int rc;

	s->dirty = false;
	if (!s->has_plan)
		return 0;
	rc = an_judge_run(e->judge, s, now_ns, e->seq + 2, &e->v, &e->anomaly);
	if (rc < 0) {
		st_log_rl(&e->rl, ST_LOG_ERR, "judge %s: %s", s->name, strerror(-rc));
		return 0;
	}
	e->cnt.evaluations++;
	e->v.seq = ++e->seq;
	s->last = e->v;
	s->last_plan = s->plan_changes;
	s->has_last = true;
	e->cnt.verdicts++;
	if (e->vf != NULL)
		e->vf(e->arg, s, &e->v);
	if (rc == 1) {
		e->seq++;
		e->cnt.anomalies++;
		if (e->af != NULL)
			e->af(e->arg, s, e->anomaly.data, e->anomaly.len);
	}
	return 1;
}

int an_engine_tick(struct an_engine *e, uint64_t now_ns)
{
	uint64_t cut = e->replay ? e->data_clock : now_ns;
	int64_t due = due_window(e, cut);
	int n = 0;

	if (due == INT64_MIN)
		return 0;
	for (uint32_t i = 0; i < e->n_svc; i++) {
		struct an_service *s = e->svc[i];

		if (due > s->closed_w && close_upto(e, s, due) != 0)
			continue;
		if (s->dirty)
			n += judge(e, s, e->replay ? cut : now_ns);
	}
	return n;
}

int an_engine_flush(struct an_engine *e, uint64_t now_ns)
{
	int n = 0;

	for (uint32_t i = 0; i < e->n_svc; i++) {
		struct an_service *s = e->svc[i];
		int64_t top = -1;

		for (uint32_t t = 0; t < s->n_targets; t++)
			for (int a = 0; a < AN_OPEN; a++)
				if (s->targets[t]->acc[a].w > top)
					top = s->targets[t]->acc[a].w;
		if (top > s->closed_w && close_upto(e, s, top) != 0)
			continue;
		if (s->dirty)
			n += judge(e, s, e->replay ? e->data_clock : now_ns);
	}
	return n;
}

struct an_clients *an_engine_clients(struct an_engine *e)
{
	return e->clients;
}

uint64_t an_engine_next_seq(struct an_engine *e)
{
	return ++e->seq;
}
