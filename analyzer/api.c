#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert.h"
#include "api.h"
#include "clients.h"
#include "clock.h"
#include "events.h"
#include "http.h"
#include "json_in.h"
#include "log.h"
#include "metrics.h"
#include "predict.h"
#include "publish.h"
#include "snapshot.h"

#define PLAN_WAIT_MS 5000	/* a PUT waits this long for the main loop */
#define PLAN_ERRS_MAX 40
#define SSE_BUF (64 * 1024)	/* a reader's buffer: whole events */

extern const char an_dashboard_html[];
extern const size_t an_dashboard_html_len;

struct plan_err {
	char key[ST_JSON_KEY_MAX];
	char msg[192];
};

/* One plan change handed from an HTTP thread to the main loop. */
struct plan_box {
	pthread_mutex_t put_mu;		/* HTTP threads: one change at a time */
	pthread_mutex_t mu;		/* the fields below */
	pthread_cond_t cv;
	bool pending, done;
	bool applied;			/* in force; done once a snapshot shows it */
	char service[ST_WIRE_NAME_MAX];
	struct st_json_pair pairs[AN_PLAN_KEYS_MAX];
	size_t n;
	int rc;				/* 0, -EINVAL (errs), or an engine errno */
	uint64_t plan_changes;
	struct plan_err errs[PLAN_ERRS_MAX];
	uint32_t n_errs;
};

struct an_api {
	const struct an_config *cfg;
	struct an_engine *eng;
	struct st_http *http;
	struct an_snapper snap;
	struct an_events events;
	struct plan_box box;
	const struct an_out *out;	/* its counters, or NULL */
	atomic_uint streams;		/* SSE connections open */
	unsigned max_streams, keepalive_ms;
	/* Main loop scratch for rendering events. */
	struct st_wbuf mp, text;
	msgpack_zone zone;
	bool snap_ok, events_ok, box_ok;
};

/* ------------------------------------------------------------------ */
/* Rendering: documents are packed as msgpack and printed by the one JSON
 * writer (common/wire_json.c), so a verdict reads the same here as on
 * the wire and in the JSON lines. */

static void pk_num(msgpack_packer *pk, double v)
{
	if (isfinite(v))
		msgpack_pack_double(pk, v);
	else
		msgpack_pack_nil(pk);
}

/* Converts the msgpack in mp into JSON appended to out. */
static int mp_to_json(const struct st_wbuf *mp, struct st_wbuf *out)
{
	static const struct st_wire_limits lim = {
		.max_size = 16u << 20, .max_depth = 8, .max_count = 4096,
		.max_items = 1u << 20, .max_str = 65536, .max_bin = 0,
	};
	struct st_wire_error we;
	msgpack_object obj;
	msgpack_zone zone;
	int rc;

	if (mp->oom)
		return -ENOMEM;
	if (!msgpack_zone_init(&zone, 8192))
		return -ENOMEM;
	rc = st_wire_parse(mp->data, mp->len, &lim, &zone, &obj, &we);
	if (rc == 0)
		rc = st_wire_to_json(&obj, out);
	msgpack_zone_destroy(&zone);
	return rc;
}

static void pack_plan(msgpack_packer *pk, const struct an_plan *p)
{
	msgpack_pack_map(pk, 14);
	st_wire_pack_cstr(pk, "shadow");
	st_wire_pack_cstr(pk, p->shadow);
	st_wire_pack_cstr(pk, "aa_shadow");
	st_wire_pack_cstr(pk, p->aa_shadow);
	st_wire_pack_cstr(pk, "resilience_shadow");
	st_wire_pack_cstr(pk, p->resilience_shadow);
	st_wire_pack_cstr(pk, "current_instances");
	msgpack_pack_uint32(pk, p->current_instances);
	st_wire_pack_cstr(pk, "proposed_instances");
	msgpack_pack_uint32(pk, p->proposed_instances);
	st_wire_pack_cstr(pk, "shadow_instances");
	msgpack_pack_uint32(pk, p->shadow_instances);
	st_wire_pack_cstr(pk, "forecast_rps");
	pk_num(pk, p->forecast_rps);
	/* A number here is nanoseconds, as a PUT takes it back. */
	st_wire_pack_cstr(pk, "slo_p99");
	msgpack_pack_uint64(pk, p->slo_p99_ns);
	st_wire_pack_cstr(pk, "slo_error_rate");
	pk_num(pk, p->slo_error_rate);
	st_wire_pack_cstr(pk, "instance_cost_per_hour");
	if (p->cost_per_hour < 0)
		st_wire_pack_cstr(pk, "none");
	else
		pk_num(pk, p->cost_per_hour);
	st_wire_pack_cstr(pk, "min_instances");
	msgpack_pack_uint32(pk, p->min_instances);
	st_wire_pack_cstr(pk, "max_instances");
	msgpack_pack_uint32(pk, p->max_instances);
	st_wire_pack_cstr(pk, "max_step");
	msgpack_pack_uint32(pk, p->max_step);
	st_wire_pack_cstr(pk, "include_synthetic");
	if (p->include_synthetic)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

static void pack_triple(msgpack_packer *pk, const double ns[3])
{
	msgpack_pack_array(pk, 3);
	for (int i = 0; i < 3; i++)
		pk_num(pk, ns[i] / 1e9);
}

static void pack_history(msgpack_packer *pk, const struct an_snap_service *v)
{
	msgpack_pack_array(pk, v->n_evals);
	for (uint32_t i = 0; i < v->n_evals; i++) {
		const struct an_eval *e = &v->evals[i];

		msgpack_pack_map(pk, 10);
		st_wire_pack_cstr(pk, "t");
		msgpack_pack_uint64(pk, e->t);
		st_wire_pack_cstr(pk, "verdict");
		st_wire_pack_cstr(pk, st_verdict_kind_str(e->kind));
		st_wire_pack_cstr(pk, "recommended_instances");
		msgpack_pack_uint32(pk, e->recommended);
		st_wire_pack_cstr(pk, "score");
		pk_num(pk, e->score);
		st_wire_pack_cstr(pk, "confidence");
		pk_num(pk, e->confidence);
		st_wire_pack_cstr(pk, "rps_per_instance_prod");
		pk_num(pk, e->lam_prod);
		st_wire_pack_cstr(pk, "rps_per_instance_shadow");
		pk_num(pk, e->lam_shadow);
		/* p50, p90, p99 in seconds. */
		st_wire_pack_cstr(pk, "prod_seconds");
		pack_triple(pk, e->prod);
		st_wire_pack_cstr(pk, "shadow_seconds");
		pack_triple(pk, e->obs);
		st_wire_pack_cstr(pk, "predicted_seconds");
		pack_triple(pk, e->pred);
	}
}

static void pack_model(msgpack_packer *pk, const struct st_model *m)
{
	msgpack_pack_map(pk, 3);
	st_wire_pack_cstr(pk, "kind");
	st_wire_pack_cstr(pk, m->kind);
	st_wire_pack_cstr(pk, "version");
	msgpack_pack_uint64(pk, m->version);
	st_wire_pack_cstr(pk, "params");
	msgpack_pack_map(pk, m->n_params);
	for (uint32_t i = 0; i < m->n_params; i++) {
		st_wire_pack_cstr(pk, m->params[i].name);
		pk_num(pk, m->params[i].value);
	}
}

/* One service's document (GET /api/v1/services/{name}). recommended_instances
 * is a top-level number (KEDA metrics-api: valueLocation
 * recommended_instances): the last verdict's, or before any verdict the
 * plan's current count (hold), or null without a plan either. */
static int render_service(const struct an_snap_service *v, struct st_wbuf *mp,
			  struct st_wbuf *tmp, struct st_wbuf *out)
{
	msgpack_packer pk;
	int rc;

	st_wbuf_reset(mp);
	msgpack_packer_init(&pk, mp, st_wbuf_mp_write);
	msgpack_pack_map(&pk, 8);
	st_wire_pack_cstr(&pk, "service");
	st_wire_pack_cstr(&pk, v->name);
	st_wire_pack_cstr(&pk, "recommended_instances");
	/* its last verdict stays in last_verdict either way */
	if (an_snap_judged(v))
		msgpack_pack_uint32(&pk, v->last.recommended_instances);
	else if (v->has_plan)
		msgpack_pack_uint32(&pk, v->plan.current_instances);
	else
		msgpack_pack_nil(&pk);
	st_wire_pack_cstr(&pk, "verdict");
	if (an_snap_judged(v))
		st_wire_pack_cstr(&pk, st_verdict_kind_str(v->last.verdict));
	else
		msgpack_pack_nil(&pk);
	st_wire_pack_cstr(&pk, "plan");
	if (v->has_plan)
		pack_plan(&pk, &v->plan);
	else
		msgpack_pack_nil(&pk);
	st_wire_pack_cstr(&pk, "plan_changes");
	msgpack_pack_uint64(&pk, v->plan_changes);
	st_wire_pack_cstr(&pk, "model");
	if (v->has_last)
		pack_model(&pk, &v->last.model);
	else
		msgpack_pack_nil(&pk);
	st_wire_pack_cstr(&pk, "last_verdict");
	if (v->has_last) {
		/* The wire encoding, spliced in whole: the same fields and
		 * names as verdict.<service> (docs/wire.md). */
		rc = st_verdict_encode(&v->last, tmp);
		if (rc != 0)
			return rc;
		st_wbuf_append(mp, tmp->data, tmp->len);
	} else {
		msgpack_pack_nil(&pk);
	}
	st_wire_pack_cstr(&pk, "history");
	pack_history(&pk, v);
	return mp_to_json(mp, out);
}

/* ------------------------------------------------------------------ */
/* Handlers (HTTP threads)                                            */

static struct an_snap *need_snap(struct an_api *a, struct st_http_resp *resp)
{
	struct an_snap *s = an_snap_get(&a->snap);

	if (s == NULL)
		st_http_error(resp, 503, "starting: no snapshot published yet");
	return s;
}

/* The snapshot and the service req names (its first parameter) in *v, or
 * NULL with the answer written: 503 before the first snapshot, 404 for a
 * service it does not have. The caller puts the snapshot. */
static struct an_snap *need_service(struct an_api *a, const struct st_http_req *req,
				    struct st_http_resp *resp, const struct an_snap_service **v)
{
	struct an_snap *s = need_snap(a, resp);

	if (s == NULL)
		return NULL;
	*v = an_snap_service(s, req->params[0]);
	if (*v == NULL) {
		st_http_error(resp, 404, "no service '%.63s'", req->params[0]);
		an_snap_put(s);
		return NULL;
	}
	return s;
}

static void h_metrics(void *arg, const struct st_http_req *req, struct st_http_resp *resp)
{
	struct an_api *a = arg;
	struct st_http_counters hc;
	struct an_snap *s = an_snap_get(&a->snap);

	(void)req;
	/* stored by the main thread once its server runs, which may already
	 * answer this: NULL until then (st_http_get_counters takes it) */
	st_http_get_counters(__atomic_load_n(&a->http, __ATOMIC_ACQUIRE), &hc);
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
	an_metrics_render(s, &hc, &resp->body);
	an_clients_prom(an_engine_clients(a->eng), &resp->body);
	an_snap_put(s);
}

/* GET .../clients, .../clients/{key}, .../clients/{addr}/{len} (a prefix
 * key such as 198.18.1.0/24, its '/' a path separator), .../profiles:
 * from the client profiles' own snapshot (clients.h). */
static void clients_reply(struct an_api *a, const char *svc, const char *what, const char *key,
			  struct st_http_resp *resp)
{
	int st = an_clients_http(an_engine_clients(a->eng), svc, what, key, &resp->body);

	if (st == 503)
		st_http_error(resp, 503, "no client profile published yet");
	else if (st == 404)
		st_http_error(resp, 404, "no %s for '%.63s'%s%.63s", what, svc, key ? " key " : "",
			      key ? key : "");
}

static void h_clients(void *arg, const struct st_http_req *req, struct st_http_resp *resp)
{
	clients_reply(arg, req->params[0], "clients", NULL, resp);
}

static void h_client(void *arg, const struct st_http_req *req, struct st_http_resp *resp)
{
	char key[2 * ST_HTTP_PARAM_MAX];

	if (req->n_params > 2)
		snprintf(key, sizeof(key), "%s/%s", req->params[1], req->params[2]);
	else
		snprintf(key, sizeof(key), "%s", req->params[1]);
	clients_reply(arg, req->params[0], "client", key, resp);
}

static void h_profiles(void *arg, const struct st_http_req *req, struct st_http_resp *resp)
{
	clients_reply(arg, req->params[0], "profiles", NULL, resp);
}

static void h_services(void *arg, const struct st_http_req *req, struct st_http_resp *resp)
{
	struct an_api *a = arg;
	struct st_wbuf mp, tmp;
	struct an_snap *s = need_snap(a, resp);
	int rc = 0;

	(void)req;
	if (s == NULL)
		return;
	st_wbuf_init(&mp);
	st_wbuf_init(&tmp);
	st_wbuf_printf(&resp->body, "{\"snapshot\":%" PRIu64 ",\"t\":%" PRIu64 ",\"services\":[",
		       s->seq, s->wall_ns);
	for (uint32_t i = 0; rc == 0 && i < s->n; i++) {
		if (i > 0)
			st_wbuf_append(&resp->body, ",", 1);
		rc = render_service(s->svc[i], &mp, &tmp, &resp->body);
	}
	st_wbuf_append(&resp->body, "]}\n", 3);
	if (rc != 0)
		st_http_error(resp, 500, "rendering: %s", strerror(-rc));
	st_wbuf_free(&mp);
	st_wbuf_free(&tmp);
	an_snap_put(s);
}

static void h_service(void *arg, const struct st_http_req *req, struct st_http_resp *resp)
{
	struct an_api *a = arg;
	const struct an_snap_service *v;
	struct st_wbuf mp, tmp;
	struct an_snap *s = need_service(a, req, resp, &v);
	int rc;

	if (s == NULL)
		return;
	st_wbuf_init(&mp);
	st_wbuf_init(&tmp);
	rc = render_service(v, &mp, &tmp, &resp->body);
	st_wbuf_append(&resp->body, "\n", 1);
	if (rc != 0)
		st_http_error(resp, 500, "rendering: %s", strerror(-rc));
	st_wbuf_free(&mp);
	st_wbuf_free(&tmp);
	an_snap_put(s);
}

/* 400 with every problem: {"error": headline, "errors": [{key, error}]}
 * (a refused plan, bad what-if parameters). */
static void refused_400(struct st_http_resp *resp, const char *headline,
			const struct plan_err *errs, uint32_t n_errs)
{
	struct st_wbuf mp;
	msgpack_packer pk;

	st_wbuf_init(&mp);
	msgpack_packer_init(&pk, &mp, st_wbuf_mp_write);
	msgpack_pack_map(&pk, 2);
	st_wire_pack_cstr(&pk, "error");
	st_wire_pack_cstr(&pk, headline);
	st_wire_pack_cstr(&pk, "errors");
	msgpack_pack_array(&pk, n_errs);
	for (uint32_t i = 0; i < n_errs; i++) {
		msgpack_pack_map(&pk, 2);
		st_wire_pack_cstr(&pk, "key");
		if (errs[i].key[0] != '\0')
			st_wire_pack_cstr(&pk, errs[i].key);
		else
			msgpack_pack_nil(&pk);
		st_wire_pack_cstr(&pk, "error");
		st_wire_pack_cstr(&pk, errs[i].msg);
	}
	resp->status = 400;
	st_wbuf_reset(&resp->body);
	if (mp_to_json(&mp, &resp->body) != 0)
		st_http_error(resp, 400, "%s", headline);
	else
		st_wbuf_append(&resp->body, "\n", 1);
	st_wbuf_free(&mp);
}

static void deadline(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void h_plan(void *arg, const struct st_http_req *req, struct st_http_resp *resp)
{
	struct an_api *a = arg;
	struct plan_box *b = &a->box;
	struct st_json_pair pairs[AN_PLAN_KEYS_MAX];
	struct st_json_error je;
	struct timespec until;
	size_t n;

	if (!st_wire_name_ok(req->params[0], strlen(req->params[0]))) {
		st_http_error(resp, 400, "service '%.63s': names are 1-63 of [A-Za-z0-9_-]",
			      req->params[0]);
		return;
	}
	if (st_json_flat_object((const char *)req->body, req->body_len, pairs, AN_PLAN_KEYS_MAX,
				&n, &je) != 0) {
		st_http_error(resp, 400, "bad JSON at offset %zu: %s", je.offset, je.msg);
		return;
	}
	/* The main loop validates against the live plan with the control
	 * socket's code (an_plan_edit) and applies it; wait for its answer. */
	pthread_mutex_lock(&b->put_mu);
	pthread_mutex_lock(&b->mu);
	snprintf(b->service, sizeof(b->service), "%s", req->params[0]);
	memcpy(b->pairs, pairs, n * sizeof(pairs[0]));
	b->n = n;
	b->n_errs = 0;
	b->done = false;
	b->applied = false;
	b->pending = true;
	deadline(&until, PLAN_WAIT_MS);
	while (!b->done)
		if (pthread_cond_timedwait(&b->cv, &b->mu, &until) == ETIMEDOUT)
			break;
	/* in force, its snapshot not swapped in yet (a reader held it):
	 * taken all the same */
	b->done = b->done || b->applied;
	b->pending = false;
	if (!b->done)
		st_http_error(resp, 503, "the analyzer's loop did not take the plan in %d ms",
			      PLAN_WAIT_MS);
	else if (b->rc == -EINVAL)
		refused_400(resp, "the plan was refused; nothing changed", b->errs, b->n_errs);
	else if (b->rc != 0)
		st_http_error(resp, b->rc == -ENOSPC || b->rc == -EXDEV ? 409 : 500, "%s",
			      b->rc == -ENOSPC ? "max_services reached" :
			      b->rc == -EXDEV ? "another shard judges this service" :
			      strerror(-b->rc));
	else
		st_wbuf_printf(&resp->body, "{\"ok\":true,\"service\":\"%s\",\"plan_changes\":%" PRIu64
			       "}\n", b->service, b->plan_changes);
	pthread_mutex_unlock(&b->mu);
	pthread_mutex_unlock(&b->put_mu);
}

/* --- what-if (predict.h) --- */

#define WHATIF_ERRS_MAX 32

struct whatif_q {
	const char *load, *instances;
	struct plan_err errs[WHATIF_ERRS_MAX];
	uint32_t n_errs;
};

static void whatif_err(void *arg, const char *key, const char *msg)
{
	struct whatif_q *q = arg;

	if (q->n_errs >= WHATIF_ERRS_MAX)
		return;
	snprintf(q->errs[q->n_errs].key, sizeof(q->errs[0].key), "%s", key ? key : "");
	snprintf(q->errs[q->n_errs].msg, sizeof(q->errs[0].msg), "%s", msg);
	q->n_errs++;
}

static void whatif_arg(void *arg, const char *key, const char *value)
{
	struct whatif_q *q = arg;
	const char **slot = strcmp(key, "load") == 0 || strcmp(key, "rps") == 0 ? &q->load :
			    strcmp(key, "instances") == 0 ? &q->instances : NULL;

	if (slot == NULL) {
		whatif_err(q, key, "unknown parameter (load, instances)");
		return;
	}
	if (*slot != NULL) {
		whatif_err(q, key, "given twice (load and rps are one parameter)");
		return;
	}
	*slot = value != NULL ? value : "";
}


/* GET /api/v1/services/{name}/whatif?load=..&instances=..: the model's
 * answer (predict.h) from the snapshot, never the engine. */
static void h_whatif(void *arg, const struct st_http_req *req, struct st_http_resp *resp)
{
	struct an_api *a = arg;
	const struct an_snap_service *v;
	struct an_whatif_req *wr = NULL;
	struct whatif_q q = { 0 };
	struct an_pred prod;
	const struct an_pred *p;
	struct st_wbuf mp;
	struct an_snap *s = need_service(a, req, resp, &v);

	if (s == NULL)
		return;
	if (!v->has_plan) {
		st_http_error(resp, 409, "service '%.63s' has no plan: a what-if needs its SLO",
			      v->name);
		goto out;
	}
	st_http_query_each(req, whatif_arg, &q);
	wr = malloc(sizeof(*wr));
	if (wr == NULL) {
		st_http_error(resp, 500, "out of memory");
		goto out;
	}
	an_whatif_parse(q.load, q.instances, &v->plan, wr, whatif_err, &q);
	if (q.n_errs != 0) {
		refused_400(resp, "bad what-if parameters", q.errs, q.n_errs);
		goto out;
	}
	p = an_pred_pick(v->has_pred, &v->pred, &v->model, s->model_weight,
			 (double)s->response_timeout_ns / 1e9, &prod);
	if (p == NULL) {
		st_http_error(resp, 409, "service '%.63s' has no fitted model yet", v->name);
		goto out;
	}
	st_wbuf_init(&mp);
	an_whatif_pack(&mp, v->name, &v->plan, &v->model, p, wr, false);
	if (mp_to_json(&mp, &resp->body) != 0)
		st_http_error(resp, 500, "rendering the what-if failed");
	else
		st_wbuf_append(&resp->body, "\n", 1);
	st_wbuf_free(&mp);
out:
	free(wr);
	an_snap_put(s);
}

/* GET /api/v1/services/{name}/alerts: the forecast alerts as last
 * evaluated, one per kind, each as its alert.<service> message says
 * (state raise or clear), with the plan's thresholds. */
static void h_alerts(void *arg, const struct st_http_req *req, struct st_http_resp *resp)
{
	struct an_api *a = arg;
	const struct an_snap_service *v;
	struct st_wbuf mp, one;
	msgpack_packer pk;
	struct an_snap *s = need_service(a, req, resp, &v);

	if (s == NULL)
		return;
	st_wbuf_init(&mp);
	st_wbuf_init(&one);
	msgpack_packer_init(&pk, &mp, st_wbuf_mp_write);
	msgpack_pack_map(&pk, 7);
	st_wire_pack_cstr(&pk, "service");
	st_wire_pack_cstr(&pk, v->name);
	st_wire_pack_cstr(&pk, "forecast_profile");
	if (v->has_plan && v->plan.forecast_profile[0] != '\0')
		st_wire_pack_cstr(&pk, v->plan.forecast_profile);
	else
		msgpack_pack_nil(&pk);
	st_wire_pack_cstr(&pk, "alert_utilization");
	pk_num(&pk, v->has_plan && v->plan.alert_utilization > 0 ? v->plan.alert_utilization : NAN);
	st_wire_pack_cstr(&pk, "alert_p99");
	pk_num(&pk, v->has_plan && v->plan.alert_p99 > 0 ? v->plan.alert_p99 : NAN);
	st_wire_pack_cstr(&pk, "budget_per_hour");
	pk_num(&pk, v->has_plan && v->plan.budget_per_hour >= 0 ? v->plan.budget_per_hour : NAN);
	st_wire_pack_cstr(&pk, "active");
	{
		uint32_t n = 0;

		for (int k = 0; k < AN_ALERT__COUNT; k++)
			n += v->alert[k].active;
		msgpack_pack_uint32(&pk, n);
	}
	st_wire_pack_cstr(&pk, "alerts");
	msgpack_pack_array(&pk, AN_ALERT__COUNT);
	for (int k = 0; k < AN_ALERT__COUNT; k++) {
		/* the message's encoding, seq 0: not a published message */
		an_alert_encode(&v->alert[k], (enum an_alert_kind)k, v->name, 0, v->alert[k].t, &one);
		st_wbuf_append(&mp, one.data, one.len);
	}
	if (mp_to_json(&mp, &resp->body) != 0)
		st_http_error(resp, 500, "rendering the alerts failed");
	else
		st_wbuf_append(&resp->body, "\n", 1);
	st_wbuf_free(&mp);
	st_wbuf_free(&one);
	an_snap_put(s);
}

struct sse {
	struct an_api *api;
	uint64_t cursor;
	char *buf;
	size_t len, off;
};

static ssize_t sse_read(void *arg, char *out, size_t max)
{
	struct sse *s = arg;
	size_t k;

	if (s->off >= s->len) {
		long n = an_events_read(&s->api->events, &s->cursor, s->buf, SSE_BUF,
					s->api->keepalive_ms);

		if (n < 0)
			return ST_HTTP_STREAM_END;
		if (n == 0)
			/* A comment: keeps the connection busy inside the idle
			 * timeout and tells a proxy the stream is alive. */
			n = snprintf(s->buf, SSE_BUF, ": keepalive\n\n");
		s->len = (size_t)n;
		s->off = 0;
	}
	k = s->len - s->off < max ? s->len - s->off : max;
	memcpy(out, s->buf + s->off, k);
	s->off += k;
	return (ssize_t)k;
}

static void sse_free(void *arg)
{
	struct sse *s = arg;

	atomic_fetch_sub(&s->api->streams, 1);
	free(s->buf);
	free(s);
}

static void h_events(void *arg, const struct st_http_req *req, struct st_http_resp *resp)
{
	struct an_api *a = arg;
	const char *last = st_http_header(req, "Last-Event-ID");
	struct sse *s;

	if (atomic_fetch_add(&a->streams, 1) >= a->max_streams) {
		atomic_fetch_sub(&a->streams, 1);
		st_http_error(resp, 503, "too many event streams (%u)", a->max_streams);
		return;
	}
	s = calloc(1, sizeof(*s));
	if (s != NULL)
		s->buf = malloc(SSE_BUF);
	if (s == NULL || s->buf == NULL) {
		if (s != NULL)
			free(s);
		atomic_fetch_sub(&a->streams, 1);
		st_http_error(resp, 500, "out of memory");
		return;
	}
	s->api = a;
	/* A reconnecting EventSource resumes after the last id it saw. */
	s->cursor = last != NULL ? an_events_resume(&a->events, last) : an_events_head(&a->events);
	s->len = (size_t)snprintf(s->buf, SSE_BUF, "retry: 2000\n: shadowtap events from id %llu\n\n",
				  (unsigned long long)s->cursor);
	resp->content_type = "text/event-stream";
	resp->stream = sse_read;
	resp->stream_arg = s;
	resp->stream_free = sse_free;
}

static void h_healthz(void *arg, const struct st_http_req *req, struct st_http_resp *resp)
{
	(void)arg;
	(void)req;
	st_wbuf_printf(&resp->body, "{\"status\":\"ok\"}\n");
}

/* Ready: ingesting (a snapshot merged within three windows or 10 s) and
 * at least one window closed. */
static void h_readyz(void *arg, const struct st_http_req *req, struct st_http_resp *resp)
{
	struct an_api *a = arg;
	struct an_snap *s = need_snap(a, resp);
	uint64_t now = st_wall_ns(), fresh;
	const char *why = NULL;

	(void)req;
	if (s == NULL)
		return;
	fresh = 3 * s->window_ns > 10 * ST_NS_PER_S ? 3 * s->window_ns : 10 * ST_NS_PER_S;
	if (s->counters.kpi_merged == 0)
		why = "no KPI snapshot merged yet";
	else if (now > s->last_merge_wall_ns + fresh)
		why = "no KPI snapshot merged recently";
	else if (s->counters.windows == 0)
		why = "no window closed yet";
	if (why != NULL)
		st_http_error(resp, 503, "not ready: %s", why);
	else
		st_wbuf_printf(&resp->body, "{\"status\":\"ready\",\"windows\":%" PRIu64
			       ",\"snapshots\":%" PRIu64 "}\n", s->counters.windows,
			       s->counters.kpi_merged);
	an_snap_put(s);
}

static void h_dashboard(void *arg, const struct st_http_req *req, struct st_http_resp *resp)
{
	(void)arg;
	(void)req;
	resp->content_type = "text/html; charset=utf-8";
	st_wbuf_append(&resp->body, an_dashboard_html, an_dashboard_html_len);
}

static const struct st_http_route routes[] = {
	{ ST_HTTP_GET, "/metrics", h_metrics, false },
	{ ST_HTTP_GET, "/api/v1/services", h_services, false },
	{ ST_HTTP_GET, "/api/v1/services/{name}", h_service, false },
	{ ST_HTTP_PUT, "/api/v1/services/{name}/plan", h_plan, false },
	{ ST_HTTP_GET, "/api/v1/services/{name}/clients", h_clients, false },
	{ ST_HTTP_GET, "/api/v1/services/{name}/clients/{key}", h_client, false },
	{ ST_HTTP_GET, "/api/v1/services/{name}/clients/{addr}/{len}", h_client, false },
	{ ST_HTTP_GET, "/api/v1/services/{name}/profiles", h_profiles, false },
	{ ST_HTTP_GET, "/api/v1/services/{name}/whatif", h_whatif, false },
	{ ST_HTTP_GET, "/api/v1/services/{name}/alerts", h_alerts, false },
	{ ST_HTTP_GET, "/api/v1/events", h_events, false },
	{ ST_HTTP_GET, "/healthz", h_healthz, true },
	{ ST_HTTP_GET, "/readyz", h_readyz, false },
	/* The page holds no data: it asks the API, with the token if any. */
	{ ST_HTTP_GET, "/", h_dashboard, true },
};

/* ------------------------------------------------------------------ */
/* Main loop side                                                     */

static void box_err(void *arg, const char *key, const char *msg)
{
	struct plan_box *b = arg;

	if (b->n_errs >= PLAN_ERRS_MAX)
		return;
	snprintf(b->errs[b->n_errs].key, sizeof(b->errs[0].key), "%s", key ? key : "");
	snprintf(b->errs[b->n_errs].msg, sizeof(b->errs[0].msg), "%s", msg);
	b->n_errs++;
}

/* Applies a waiting plan change, if the box is free to look at. */
static void box_round(struct an_api *a)
{
	struct plan_box *b = &a->box;
	struct an_plan_kv kv[AN_PLAN_KEYS_MAX];
	struct an_plan base, plan;
	struct an_service *s;
	size_t n = 0;

	if (pthread_mutex_trylock(&b->mu) != 0)
		return;
	if (!b->pending || b->done || b->applied) {
		pthread_mutex_unlock(&b->mu);
		return;
	}
	if (!an_shard_owns(&an_engine_config(a->eng)->shard, b->service)) {
		b->rc = -EXDEV;
		b->done = true;
		pthread_cond_broadcast(&b->cv);
		pthread_mutex_unlock(&b->mu);
		return;
	}
	s = an_engine_service(a->eng, b->service);
	if (s != NULL && s->has_plan)
		base = s->plan;
	else
		an_plan_defaults(&base);
	for (size_t i = 0; i < b->n; i++) {
		if (b->pairs[i].type == ST_JSON_NULL) {
			box_err(b, b->pairs[i].key, "null is not a value");
			continue;
		}
		kv[n].key = b->pairs[i].key;
		kv[n].text = b->pairs[i].text;
		kv[n].number = b->pairs[i].type == ST_JSON_NUMBER;
		n++;
	}
	if (an_plan_edit(&base, kv, n, an_engine_config(a->eng)->forecast_dir, &plan, box_err,
			 b) != 0 || b->n_errs != 0 ||
	    an_engine_plan_check(a->eng, b->service, &plan, box_err, b) != 0) {
		b->rc = -EINVAL;
	} else {
		b->rc = an_engine_propose(a->eng, b->service, &plan);
		s = an_engine_service(a->eng, b->service);
		b->plan_changes = s != NULL ? s->plan_changes : 0;
		an_snapper_touch(&a->snap);
		if (b->rc == 0) {
			ST_NOTICE("http: plan of %s changed (change %" PRIu64 ")", b->service,
				  b->plan_changes);
			/* answered once a snapshot shows it (box_answer): a
			 * GET right after the 200 read the plan before */
			b->applied = true;
			pthread_mutex_unlock(&b->mu);
			return;
		}
	}
	b->done = true;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

/* Answers a plan change in force once the snapshot the readers see shows
 * it. */
static void box_answer(struct an_api *a)
{
	struct plan_box *b = &a->box;

	if (pthread_mutex_trylock(&b->mu) != 0)
		return;
	if (b->applied && !b->done) {
		b->done = true;
		pthread_cond_broadcast(&b->cv);
	}
	pthread_mutex_unlock(&b->mu);
}

void an_api_outputs(struct an_api *a, const struct an_out *out)
{
	if (a != NULL)
		a->out = out;
}

void an_api_round(struct an_api *a, uint64_t mono_ns, uint64_t wall_ns)
{
	struct an_snap_extra x = { 0 };

	if (a == NULL)
		return;
	box_round(a);
	x.events_queued = a->events.queued;
	x.events_lost = a->events.lost;
	if (a->out != NULL) {
		x.pub_sent = a->out->sent;
		x.pub_errors = a->out->send_errors;
		x.json_lines = a->out->json_lines;
		x.json_errors = a->out->json_errors;
	}
	an_snapper_round(&a->snap, a->eng, mono_ns, wall_ns, &x);
	/* Once the snapshot readers get shows the round's changes: the
	 * events that tell of them (a dashboard fetches on one), and the
	 * answer to a plan change. */
	if (a->snap.pending == NULL && !a->snap.dirty) {
		an_events_flush(&a->events);
		box_answer(a);
	}
}

void an_api_verdict(struct an_api *a, const struct st_verdict *v)
{
	if (a == NULL)
		return;
	an_snapper_touch(&a->snap);
	if (an_verdict_json(v, &a->mp, &a->zone, &a->text) == 0)
		an_events_push(&a->events, "verdict", (const char *)a->text.data, a->text.len);
}

void an_api_anomaly(struct an_api *a, const char *service, const uint8_t *buf, size_t len)
{
	struct st_wire_error we;
	msgpack_object obj;

	(void)service;
	if (a == NULL)
		return;
	msgpack_zone_clear(&a->zone);
	st_wbuf_reset(&a->text);
	if (st_wire_parse(buf, len, NULL, &a->zone, &obj, &we) == 0 &&
	    st_wire_to_json(&obj, &a->text) == 0)
		an_events_push(&a->events, "anomaly", (const char *)a->text.data, a->text.len);
}

void an_api_alert(struct an_api *a, const uint8_t *buf, size_t len)
{
	struct st_wire_error we;
	msgpack_object obj;

	if (a == NULL)
		return;
	an_snapper_touch(&a->snap);
	msgpack_zone_clear(&a->zone);
	st_wbuf_reset(&a->text);
	if (st_wire_parse(buf, len, NULL, &a->zone, &obj, &we) == 0 &&
	    st_wire_to_json(&obj, &a->text) == 0)
		an_events_push(&a->events, "alert", (const char *)a->text.data, a->text.len);
}

static int box_init(struct plan_box *b)
{
	pthread_condattr_t ca;
	int rc;

	memset(b, 0, sizeof(*b));
	rc = pthread_mutex_init(&b->put_mu, NULL);
	if (rc != 0)
		return -rc;
	rc = pthread_mutex_init(&b->mu, NULL);
	if (rc != 0) {
		pthread_mutex_destroy(&b->put_mu);
		return -rc;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rc = pthread_cond_init(&b->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (rc != 0) {
		pthread_mutex_destroy(&b->mu);
		pthread_mutex_destroy(&b->put_mu);
		return -rc;
	}
	return 0;
}

static void box_fini(struct plan_box *b)
{
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	pthread_mutex_destroy(&b->put_mu);
}

void an_api_stop(struct an_api *a)
{
	if (a == NULL)
		return;
	/* Streams end first, so MHD's threads can be joined. */
	if (a->events_ok)
		an_events_close(&a->events);
	st_http_stop(a->http);
	if (a->events_ok)
		an_events_fini(&a->events);
	if (a->snap_ok)
		an_snapper_fini(&a->snap);
	if (a->box_ok)
		box_fini(&a->box);
	st_wbuf_free(&a->mp);
	st_wbuf_free(&a->text);
	msgpack_zone_destroy(&a->zone);
	free(a);
}

struct an_api *an_api_start(const struct an_config *cfg, struct an_engine *e,
			    struct st_perr *err)
{
	struct st_http_config hc = cfg->http;
	struct an_api *a = calloc(1, sizeof(*a));
	int rc = -ENOMEM;

	if (a == NULL || !msgpack_zone_init(&a->zone, 8192)) {
		free(a);
		snprintf(err->msg, sizeof(err->msg), "http: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	a->cfg = cfg;
	a->eng = e;
	st_wbuf_init(&a->mp);
	st_wbuf_init(&a->text);
	hc.timeout_s = (unsigned)((cfg->http_timeout_ns + ST_NS_PER_S - 1) / ST_NS_PER_S);
	/* Streams may take half the connections; the rest stay for scrapes. */
	a->max_streams = hc.max_conns / 2 ? hc.max_conns / 2 : 1;
	a->keepalive_ms = hc.timeout_s * 1000 / 2;
	rc = an_snapper_init(&a->snap);
	a->snap_ok = rc == 0;
	if (rc == 0)
		rc = an_events_init(&a->events);
	a->events_ok = a->snap_ok && rc == 0;
	if (rc == 0)
		rc = box_init(&a->box);
	a->box_ok = a->events_ok && rc == 0;
	if (rc != 0) {
		snprintf(err->msg, sizeof(err->msg), "http: %s", strerror(-rc));
		goto err;
	}
	/* A first snapshot before the first request. */
	an_api_round(a, st_mono_ns(), st_wall_ns());
	__atomic_store_n(&a->http, st_http_start(&hc, routes, sizeof(routes) / sizeof(routes[0]),
						  a, err), __ATOMIC_RELEASE);
	if (a->http == NULL) {
		rc = -errno;
		goto err;
	}
	return a;
err:
	an_api_stop(a);
	errno = -rc;
	return NULL;
}

uint16_t an_api_port(const struct an_api *a)
{
	return st_http_port(a->http);
}
