#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "control.h"
#include "log.h"
#include "reload.h"
#include "predict.h"
#include "zsec.h"

int an_control_open(struct an_control *c, void *ctx, const struct an_config *cfg,
		    struct st_perr *err)
{
	int64_t maxmsg = ST_WIRE_MAX_SIZE;
	int linger = 0, hwm = 4, rc;

	memset(c, 0, sizeof(*c));
	st_wbuf_init(&c->reply);
	st_wbuf_init(&c->tmp);
	if (!msgpack_zone_init(&c->zone, 8192)) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	if (cfg->control_endpoint[0] == '\0' || strcmp(cfg->control_endpoint, "none") == 0)
		return 0;
	c->sock = zmq_socket(ctx, ZMQ_REP);
	if (c->sock == NULL)
		goto zerr;
	zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof(linger));
	/* a request is a small map: a larger frame is refused by libzmq
	 * before it is buffered (the peer is disconnected) */
	zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	/* requests queued per client (a REP answers one at a time): a client
	 * pipelining libzmq's default 1000 would have them all held */
	zmq_setsockopt(c->sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	if (cfg->curve_secret_key[0] != '\0') {
		rc = st_zsec_server_setup(c->sock, cfg->curve_secret_key, NULL, err);
		if (rc != 0)
			goto err;
	}
	if (zmq_bind(c->sock, cfg->control_endpoint) != 0)
		goto zerr;
	return 0;
zerr:
	rc = -zmq_errno();
	snprintf(err->msg, sizeof(err->msg), "control_endpoint %.100s: %s",
		 cfg->control_endpoint, zmq_strerror(zmq_errno()));
err:
	an_control_close(c);
	return rc;
}

void an_control_close(struct an_control *c)
{
	if (c->sock != NULL)
		zmq_close(c->sock);
	c->sock = NULL;
	st_wbuf_free(&c->reply);
	st_wbuf_free(&c->tmp);
	msgpack_zone_destroy(&c->zone);
}

static int reply_error(struct an_control *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int reply_error(struct an_control *c, const char *fmt, ...)
{
	msgpack_packer pk;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	st_wbuf_reset(&c->reply);
	msgpack_packer_init(&pk, &c->reply, st_wbuf_mp_write);
	msgpack_pack_map(&pk, 2);
	st_wire_pack_cstr(&pk, "ok");
	msgpack_pack_false(&pk);
	st_wire_pack_cstr(&pk, "error");
	st_wire_pack_cstr(&pk, msg);
	c->errors++;
	return -EINVAL;
}

/* A msgpack value as the text an [service.*] key takes; *number says it
 * was a number (a duration key then takes nanoseconds: an_plan_edit). */
static int value_text(const msgpack_object *v, char *buf, size_t len, bool *number)
{
	*number = true;
	switch (v->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		snprintf(buf, len, "%" PRIu64, v->via.u64);
		return 0;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		snprintf(buf, len, "%" PRId64, v->via.i64);
		return 0;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		snprintf(buf, len, "%.17g", v->via.f64);
		return 0;
	case MSGPACK_OBJECT_BOOLEAN:
		*number = false;
		snprintf(buf, len, "%s", v->via.boolean ? "true" : "false");
		return 0;
	case MSGPACK_OBJECT_STR:
		*number = false;
		if (v->via.str.size >= len || memchr(v->via.str.ptr, '\0', v->via.str.size))
			return -EINVAL;
		memcpy(buf, v->via.str.ptr, v->via.str.size);
		buf[v->via.str.size] = '\0';
		return 0;
	default:
		return -EINVAL;
	}
}

/* Problems joined into one line: "k1: why; k2: why". */
struct problems {
	char text[900];
	size_t used;
};

static void add_problem(void *arg, const char *key, const char *msg)
{
	struct problems *p = arg;
	int k;

	if (p->used >= sizeof(p->text) - 1)
		return;
	k = snprintf(p->text + p->used, sizeof(p->text) - p->used, "%s%s%s%s",
		     p->used ? "; " : "", key ? key : "", key ? ": " : "", msg);
	if (k > 0)
		p->used = p->used + (size_t)k < sizeof(p->text) ? p->used + (size_t)k :
			  sizeof(p->text) - 1;
}

static int cmd_propose(struct an_control *c, struct an_engine *e,
		       const msgpack_object *req)
{
	char keys[AN_PLAN_KEYS_MAX][64], texts[AN_PLAN_KEYS_MAX][256];
	struct an_plan_kv kv[AN_PLAN_KEYS_MAX];
	struct problems probs = { .used = 0 };
	struct an_service *s;
	struct st_wire_error we;
	struct an_plan plan, base;
	msgpack_packer pk;
	char service[ST_WIRE_NAME_MAX], ebuf[192];
	size_t n = 0;
	int rc;

	probs.text[0] = '\0';
	if (st_wire_get_str(req, "service", service, sizeof(service), &we) != 0)
		return reply_error(c, "propose: %s", st_wire_error_fmt(&we, ebuf, sizeof(ebuf)));
	if (!st_wire_name_ok(service, strlen(service)))
		return reply_error(c, "propose: service '%s': names are 1-63 of [A-Za-z0-9_-]",
				   service);
	if (!an_shard_owns(&an_engine_config(e)->shard, service))
		return reply_error(c, "propose: %s: another shard judges this service", service);
	s = an_engine_service(e, service);
	if (s != NULL && s->has_plan)
		base = s->plan;
	else
		an_plan_defaults(&base);
	for (uint32_t i = 0; i < req->via.map.size; i++) {
		const msgpack_object_kv *m = &req->via.map.ptr[i];
		char key[64] = "";

		if (m->key.type != MSGPACK_OBJECT_STR || m->key.via.str.size >= sizeof(key))
			return reply_error(c, "propose: keys must be short strings");
		memcpy(key, m->key.via.str.ptr, m->key.via.str.size);
		key[m->key.via.str.size] = '\0';
		if (strcmp(key, "cmd") == 0 || strcmp(key, "service") == 0)
			continue;
		if (n >= AN_PLAN_KEYS_MAX)
			return reply_error(c, "propose: more than %d keys", AN_PLAN_KEYS_MAX);
		if (value_text(&m->val, texts[n], sizeof(texts[n]), &kv[n].number) != 0) {
			add_problem(&probs, key, "expected a number, bool or string");
			continue;
		}
		memcpy(keys[n], key, sizeof(key));
		kv[n].key = keys[n];
		kv[n].text = texts[n];
		n++;
	}
	if (an_plan_edit(&base, kv, n, an_engine_config(e)->forecast_dir, &plan, add_problem,
			 &probs) != 0 || probs.used != 0 ||
	    an_engine_plan_check(e, service, &plan, add_problem, &probs) != 0)
		return reply_error(c, "propose: %s", probs.text);
	rc = an_engine_propose(e, service, &plan);
	if (rc != 0)
		return reply_error(c, "propose: %s", rc == -ENOSPC ? "max_services reached" :
				   rc == -EXDEV ? "another shard judges this service" :
				   strerror(-rc));
	s = an_engine_service(e, service);
	st_wbuf_reset(&c->reply);
	msgpack_packer_init(&pk, &c->reply, st_wbuf_mp_write);
	msgpack_pack_map(&pk, 3);
	st_wire_pack_cstr(&pk, "ok");
	msgpack_pack_true(&pk);
	st_wire_pack_cstr(&pk, "service");
	st_wire_pack_cstr(&pk, service);
	st_wire_pack_cstr(&pk, "plan_changes");
	msgpack_pack_uint64(&pk, s ? s->plan_changes : 0);
	return 0;
}

static int cmd_last(struct an_control *c, struct an_engine *e,
		    const msgpack_object *req)
{
	char service[ST_WIRE_NAME_MAX], ebuf[192];
	struct st_wire_error we;
	struct an_service *s;
	msgpack_packer pk;
	int rc;

	if (st_wire_get_str(req, "service", service, sizeof(service), &we) != 0)
		return reply_error(c, "last: %s", st_wire_error_fmt(&we, ebuf, sizeof(ebuf)));
	s = an_engine_service(e, service);
	if (s == NULL)
		return reply_error(c, "last: unknown service '%s'", service);
	if (!s->has_last)
		return reply_error(c, "last: no verdict yet for service '%s'", service);
	/* as the HTTP API (an_snap_judged): a plan a reload removed is no
	 * longer judged, and its last verdict is no count to scale by */
	if (!s->has_plan)
		return reply_error(c, "last: service '%s' has no plan: not judged (its plan was removed)",
				   service);
	if (s->last_plan != s->plan_changes)
		return reply_error(c, "last: the plan of service '%s' changed since its last verdict: "
				   "none under this plan yet", service);
	rc = st_verdict_encode(&s->last, &c->tmp);
	if (rc != 0)
		return reply_error(c, "last: %s", strerror(-rc));
	st_wbuf_reset(&c->reply);
	msgpack_packer_init(&pk, &c->reply, st_wbuf_mp_write);
	msgpack_pack_map(&pk, 2);
	st_wire_pack_cstr(&pk, "ok");
	msgpack_pack_true(&pk);
	st_wire_pack_cstr(&pk, "verdict");
	/* The encoded verdict is one msgpack object: splice it in. */
	st_wbuf_append(&c->reply, c->tmp.data, c->tmp.len);
	return c->reply.oom ? -ENOMEM : 0;
}

static int cmd_stats(struct an_control *c, struct an_engine *e)
{
	const struct an_counters *n = an_engine_counters(e);
	static const char *const names[] = {
		"msgs", "kpi_merged", "bad_frames", "oversized", "malformed",
		"bad_version", "unknown_topic", "topic_mismatch", "bad_hist", "gaps",
		"duplicates", "shared_src", "restarts", "late", "future", "dropped_limits", "clamped",
		"windows", "chaos_windows", "evaluations", "verdicts", "anomalies",
		"publishers_forgotten", "untracked",
	};
	const uint64_t vals[] = {
		n->msgs, n->kpi_merged, n->bad_frames, n->oversized, n->malformed,
		n->bad_version, n->unknown_topic, n->topic_mismatch, n->bad_hist, n->gaps,
		n->duplicates, n->shared_src, n->restarts, n->late, n->future, n->dropped_limits, n->clamped,
		n->windows, n->chaos_windows, n->evaluations, n->verdicts, n->anomalies,
		n->pubs_forgotten, n->untracked,
	};
	msgpack_packer pk;

	st_wbuf_reset(&c->reply);
	msgpack_packer_init(&pk, &c->reply, st_wbuf_mp_write);
	msgpack_pack_map(&pk, 3);
	st_wire_pack_cstr(&pk, "ok");
	msgpack_pack_true(&pk);
	st_wire_pack_cstr(&pk, "services");
	msgpack_pack_uint32(&pk, an_engine_n_services(e));
	st_wire_pack_cstr(&pk, "counters");
	msgpack_pack_map(&pk, sizeof(names) / sizeof(names[0]));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		st_wire_pack_cstr(&pk, names[i]);
		msgpack_pack_uint64(&pk, vals[i]);
	}
	return c->reply.oom ? -ENOMEM : 0;
}

/* reload: the whole outcome, every reason when refused. */
static int cmd_reload(struct an_control *c, struct an_engine *e)
{
	struct an_reload_result *res;
	msgpack_packer pk;
	int rc;

	if (c->reload == NULL)
		return reply_error(c, "reload: not available");
	res = malloc(sizeof(*res));
	if (res == NULL)
		return reply_error(c, "reload: out of memory");
	ST_NOTICE("control: reloading %s", c->reload->path);
	rc = an_reload_run(c->reload, e, res);
	st_wbuf_reset(&c->reply);
	msgpack_packer_init(&pk, &c->reply, st_wbuf_mp_write);
	if (rc == 0) {
		msgpack_pack_map(&pk, 3);
		st_wire_pack_cstr(&pk, "ok");
		msgpack_pack_true(&pk);
		st_wire_pack_cstr(&pk, "changed");
		msgpack_pack_array(&pk, (size_t)res->n_changed);
		for (int i = 0; i < res->n_changed; i++)
			st_wire_pack_cstr(&pk, res->changed[i]);
		/* the list holds the first AN_RELOAD_MAX_ITEMS */
		st_wire_pack_cstr(&pk, "changed_total");
		msgpack_pack_uint32(&pk, (uint32_t)res->n_changed_total);
	} else {
		char first[AN_RELOAD_ITEM_LEN + 40];

		snprintf(first, sizeof(first), "%s%s", res->n_errors ? res->errors[0] : "refused",
			 res->n_errors_total > 1 ? " (and more: errors)" : "");
		msgpack_pack_map(&pk, 4);
		st_wire_pack_cstr(&pk, "ok");
		msgpack_pack_false(&pk);
		st_wire_pack_cstr(&pk, "error");
		st_wire_pack_cstr(&pk, first);
		st_wire_pack_cstr(&pk, "errors");
		msgpack_pack_array(&pk, (size_t)res->n_errors);
		for (int i = 0; i < res->n_errors; i++)
			st_wire_pack_cstr(&pk, res->errors[i]);
		st_wire_pack_cstr(&pk, "errors_total");
		msgpack_pack_uint32(&pk, (uint32_t)res->n_errors_total);
		c->errors++;
	}
	free(res);
	return c->reply.oom ? -ENOMEM : rc;
}

/* A what-if parameter as the text an_whatif_parse reads: a string, a
 * number, or an array of them (joined with commas). Absent: NULL. */
static int param_text(const msgpack_object *req, const char *key, char *buf, size_t len,
		      const char **out, struct problems *probs)
{
	const msgpack_object *v = NULL;
	size_t used = 0;

	*out = NULL;
	for (uint32_t i = 0; i < req->via.map.size; i++) {
		const msgpack_object_kv *m = &req->via.map.ptr[i];

		if (m->key.type == MSGPACK_OBJECT_STR && m->key.via.str.size == strlen(key) &&
		    memcmp(m->key.via.str.ptr, key, m->key.via.str.size) == 0)
			v = &m->val;
	}
	if (v == NULL)
		return 0;
	buf[0] = '\0';
	for (uint32_t i = 0; i < (v->type == MSGPACK_OBJECT_ARRAY ? v->via.array.size : 1); i++) {
		const msgpack_object *x = v->type == MSGPACK_OBJECT_ARRAY ? &v->via.array.ptr[i] : v;
		char item[256];
		bool number;
		int k;

		if (x->type == MSGPACK_OBJECT_BOOLEAN ||
		    value_text(x, item, sizeof(item), &number) != 0) {
			add_problem(probs, key, "expected a string, a number or an array of them");
			return -EINVAL;
		}
		k = snprintf(buf + used, len - used, "%s%s", i ? "," : "", item);
		if (k < 0 || (size_t)k >= len - used) {
			add_problem(probs, key, "too long");
			return -EINVAL;
		}
		used += (size_t)k;
	}
	*out = buf;
	return 0;
}

static int cmd_whatif(struct an_control *c, struct an_engine *e, const msgpack_object *req)
{
	const struct an_config *cfg = an_engine_config(e);
	struct problems probs = { .used = 0 };
	char service[ST_WIRE_NAME_MAX], ebuf[192], lbuf[1024], ibuf[1024];
	const char *load = NULL, *inst = NULL, *rps = NULL;
	struct an_whatif_req *wr;
	struct st_wire_error we;
	const struct an_pred *p;
	struct an_service *s;
	struct an_pred prod;

	probs.text[0] = '\0';
	if (st_wire_get_str(req, "service", service, sizeof(service), &we) != 0)
		return reply_error(c, "whatif: %s", st_wire_error_fmt(&we, ebuf, sizeof(ebuf)));
	s = an_engine_service(e, service);
	if (s == NULL)
		return reply_error(c, "whatif: unknown service '%s'", service);
	if (!s->has_plan)
		return reply_error(c, "whatif: service '%s' has no plan: a what-if needs its SLO",
				   service);
	for (uint32_t i = 0; i < req->via.map.size; i++) {
		const msgpack_object *k = &req->via.map.ptr[i].key;
		static const char *const known[] = { "cmd", "service", "load", "rps", "instances" };
		bool ok = false;

		for (size_t n = 0; n < sizeof(known) / sizeof(known[0]); n++)
			ok |= k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(known[n]) &&
			      memcmp(k->via.str.ptr, known[n], k->via.str.size) == 0;
		if (!ok) {
			char name[64];

			snprintf(name, sizeof(name), "%.*s",
				 k->type == MSGPACK_OBJECT_STR ? (int)(k->via.str.size < 60 ?
								     k->via.str.size : 60) : 0,
				 k->type == MSGPACK_OBJECT_STR ? k->via.str.ptr : "");
			add_problem(&probs, name, "unknown key (service, load, instances)");
		}
	}
	param_text(req, "load", lbuf, sizeof(lbuf), &load, &probs);
	if (load == NULL)
		param_text(req, "rps", lbuf, sizeof(lbuf), &rps, &probs);
	else if (param_text(req, "rps", ibuf, sizeof(ibuf), &rps, &probs) == 0 && rps != NULL)
		add_problem(&probs, "rps", "given with load (they are one parameter)");
	if (load == NULL)
		load = rps;
	param_text(req, "instances", ibuf, sizeof(ibuf), &inst, &probs);
	wr = malloc(sizeof(*wr));
	if (wr == NULL)
		return reply_error(c, "whatif: out of memory");
	an_whatif_parse(load, inst, &s->plan, wr, add_problem, &probs);
	if (probs.used != 0) {
		free(wr);
		return reply_error(c, "whatif: %s", probs.text);
	}
	p = an_pred_pick(s->has_pred, &s->pred, &s->model, cfg->model_weight,
			 (double)cfg->response_timeout_ns / 1e9, &prod);
	if (p == NULL) {
		free(wr);
		return reply_error(c, "whatif: service '%s' has no fitted model yet", service);
	}
	st_wbuf_reset(&c->reply);
	an_whatif_pack(&c->reply, s->name, &s->plan, &s->model, p, wr, true);
	free(wr);
	return c->reply.oom ? -ENOMEM : 0;
}

int an_control_request(struct an_control *c, struct an_engine *e,
		       const void *buf, size_t len)
{
	struct st_wire_error we;
	msgpack_object req;
	char cmd[32], ebuf[192];

	c->requests++;
	msgpack_zone_clear(&c->zone);
	if (st_wire_parse(buf, len, NULL, &c->zone, &req, &we) != 0)
		return reply_error(c, "bad request: %s", st_wire_error_fmt(&we, ebuf, sizeof(ebuf)));
	if (st_wire_get_str(&req, "cmd", cmd, sizeof(cmd), &we) != 0)
		return reply_error(c, "bad request: %s", st_wire_error_fmt(&we, ebuf, sizeof(ebuf)));
	if (strcmp(cmd, "propose") == 0)
		return cmd_propose(c, e, &req);
	if (strcmp(cmd, "last") == 0)
		return cmd_last(c, e, &req);
	if (strcmp(cmd, "stats") == 0)
		return cmd_stats(c, e);
	if (strcmp(cmd, "reload") == 0)
		return cmd_reload(c, e);
	if (strcmp(cmd, "whatif") == 0)
		return cmd_whatif(c, e, &req);
	return reply_error(c, "unknown cmd '%s' (propose, last, stats, reload, whatif)", cmd);
}

int an_control_handle(struct an_control *c, struct an_engine *e)
{
	int n = 0;

	if (c->sock == NULL)
		return 0;
	while (n < 64) {
		zmq_msg_t msg;
		int more = 0, frames = 0;
		size_t ml = sizeof(more);

		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, c->sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&msg);
			break;
		}
		frames = 1;
		zmq_getsockopt(c->sock, ZMQ_RCVMORE, &more, &ml);
		if (!more) {
			an_control_request(c, e, zmq_msg_data(&msg), zmq_msg_size(&msg));
		} else {
			/* REP must answer once per request: drain the rest. */
			while (more) {
				zmq_msg_t x;

				zmq_msg_init(&x);
				zmq_msg_recv(&x, c->sock, 0);
				zmq_msg_close(&x);
				frames++;
				zmq_getsockopt(c->sock, ZMQ_RCVMORE, &more, &ml);
			}
			reply_error(c, "bad request: %d frames, expected one msgpack map", frames);
		}
		zmq_msg_close(&msg);
		zmq_send(c->sock, c->reply.data, c->reply.len, 0);
		n++;
	}
	return n;
}
