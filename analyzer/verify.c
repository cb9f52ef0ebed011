#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <zmq.h>

#include "clock.h"
#include "judge.h"
#include "log.h"
#include "stats.h"
#include "verify.h"
#include "wire.h"
#include "zsec.h"

/* How long a control request may wait for its reply. */
#define CTL_DEADLINE_NS (2ULL * 1000000000ULL)
/* A step that reached less than this share of the load it aimed at did
 * not test the candidate; its result still stands for the load it ran. */
#define REACHED 0.9
/* Steps per candidate count before giving up on it for verify_keep: a
 * pass and its confirmation, with room for one undecided step. */
#define MAX_TRIES 3

enum phase {
	IDLE,		/* nothing raised */
	ASK_SHARE,	/* stats sent: the group's share and offset */
	RAISING,	/* set_share sent */
	RUNNING,	/* raised; measuring */
	RESTORING,	/* set_share back sent */
};

struct an_verify {
	const struct an_config *cfg;
	void *zctx, *req;
	enum phase phase;
	uint64_t deadline;		/* mono ns: the pending reply's */
	bool pending;
	/* the step */
	char service[ST_WIRE_NAME_MAX];
	char group[ST_WIRE_NAME_MAX];
	double share0, offset0, share1;
	uint32_t n;
	double lam;
	int64_t m0, m1;			/* windows measured */
	uint64_t started;		/* mono ns */
	uint64_t plan_changes;		/* the plan's when the step started */
	bool cut;			/* verify_max_time passed */
	uint64_t retry_at;		/* mono ns: a failed restore's next try */
	/* pacing: one candidate at a time, a few tries each */
	char last_service[ST_WIRE_NAME_MAX];
	uint32_t last_n, tries;
	uint64_t tries_t;
	int64_t idle_until_w;
	uint32_t next_svc;		/* where the next search starts */
	struct st_wbuf out;
	msgpack_zone zone;
	struct an_verify_counters cnt;
};

static int open_req(struct an_verify *v)
{
	int one = 1, linger = 0;
	struct st_perr pe;

	if (v->req != NULL)
		zmq_close(v->req);
	v->req = zmq_socket(v->zctx, ZMQ_REQ);
	if (v->req == NULL)
		return -zmq_errno();
	/* A lost reply must not wedge the socket: a new request may follow
	 * one left unanswered, and a late reply to it is dropped. */
	zmq_setsockopt(v->req, ZMQ_REQ_RELAXED, &one, sizeof(one));
	zmq_setsockopt(v->req, ZMQ_REQ_CORRELATE, &one, sizeof(one));
	zmq_setsockopt(v->req, ZMQ_LINGER, &linger, sizeof(linger));
	if (v->cfg->curve_server_key[0] != '\0' &&
	    st_zsec_client_setup(v->req, v->cfg->curve_server_key,
				 v->cfg->curve_client_key[0] ? v->cfg->curve_client_key :
				 v->cfg->curve_secret_key, &pe) != 0) {
		ST_ERR("dataplane_control: %s", pe.msg);
		return -EINVAL;
	}
	if (zmq_connect(v->req, v->cfg->dataplane_control) != 0) {
		ST_ERR("dataplane_control %s: %s", v->cfg->dataplane_control,
		       zmq_strerror(zmq_errno()));
		return -EINVAL;
	}
	return 0;
}

struct an_verify *an_verify_create(const struct an_config *cfg, void *zctx)
{
	struct an_verify *v = calloc(1, sizeof(*v));

	if (v == NULL)
		return NULL;
	v->cfg = cfg;
	v->zctx = zctx;
	st_wbuf_init(&v->out);
	if (!msgpack_zone_init(&v->zone, 4096) || open_req(v) != 0) {
		if (v->req != NULL)
			zmq_close(v->req);
		st_wbuf_free(&v->out);
		free(v);
		errno = EINVAL;
		return NULL;
	}
	ST_NOTICE("squeeze steps through the dataplane at %s: %u windows after %u, utilisation ceiling %.2f, at most %.0f s",
		  cfg->dataplane_control, cfg->verify_windows, cfg->verify_settle,
		  cfg->verify_util_ceiling, (double)cfg->verify_max_time_ns / 1e9);
	return v;
}

/* Sends {cmd, group[, share, offset[, revert_after]]}; share < 0: stats.
 * revert_after > 0 (s): the dataplane puts the share back by itself then,
 * whatever becomes of this process. */
static int send_req(struct an_verify *v, const char *cmd, double share, double offset,
		    double revert_after, uint64_t mono)
{
	msgpack_packer pk;

	st_wbuf_reset(&v->out);
	msgpack_packer_init(&pk, &v->out, st_wbuf_mp_write);
	msgpack_pack_map(&pk, share < 0 ? 1 : revert_after > 0 ? 5 : 4);
	st_wire_pack_cstr(&pk, "cmd");
	st_wire_pack_cstr(&pk, cmd);
	if (share >= 0) {
		st_wire_pack_cstr(&pk, "group");
		st_wire_pack_cstr(&pk, v->group);
		st_wire_pack_cstr(&pk, "share");
		msgpack_pack_double(&pk, share);
		st_wire_pack_cstr(&pk, "offset");
		msgpack_pack_double(&pk, offset);
		if (revert_after > 0) {
			st_wire_pack_cstr(&pk, "revert_after");
			msgpack_pack_double(&pk, revert_after);
		}
	}
	if (zmq_send(v->req, v->out.data, v->out.len, ZMQ_DONTWAIT) < 0) {
		v->cnt.ctl_errors++;
		ST_WARN("dataplane_control: %s: %s", cmd, zmq_strerror(zmq_errno()));
		return -EIO;
	}
	v->pending = true;
	v->deadline = mono + CTL_DEADLINE_NS;
	return 0;
}

/* The reply, if one came: 1 with *req parsed, 0 still waiting, -1 failed
 * (timeout, transport, not a map, ok=false: logged, counted). */
static int take_reply(struct an_verify *v, uint64_t mono, msgpack_object *rep)
{
	char buf[65536], err[200];
	struct st_wire_error we;
	bool ok = false;
	int n;

	if (!v->pending)
		return -1;
	n = zmq_recv(v->req, buf, sizeof(buf), ZMQ_DONTWAIT);
	if (n < 0) {
		if (zmq_errno() == EAGAIN && mono < v->deadline)
			return 0;
		v->pending = false;
		v->cnt.ctl_errors++;
		ST_WARN("dataplane_control %s: no reply within %.0f s", v->cfg->dataplane_control,
			(double)CTL_DEADLINE_NS / 1e9);
		return -1;
	}
	v->pending = false;
	msgpack_zone_clear(&v->zone);
	if (n > (int)sizeof(buf) ||
	    st_wire_parse(buf, (size_t)n, NULL, &v->zone, rep, &we) != 0 ||
	    st_wire_get_bool(rep, "ok", &ok, NULL) != 0) {
		v->cnt.ctl_errors++;
		ST_WARN("dataplane_control: a reply that is not a control reply");
		return -1;
	}
	if (!ok) {
		if (st_wire_get_str(rep, "error", err, sizeof(err), NULL) != 0)
			snprintf(err, sizeof(err), "(no reason given)");
		v->cnt.ctl_errors++;
		ST_WARN("dataplane_control refused: %s", err);
		return -1;
	}
	return 1;
}

static void note(struct an_service *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Sets the service's note (the verdict shows it); logs it when new. */
static void note(struct an_service *s, const char *fmt, ...)
{
	char buf[sizeof(s->sq.note)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (strcmp(buf, s->sq.note) != 0)
		ST_NOTICE("%s: %s", s->name, buf);
	memcpy(s->sq.note, buf, sizeof(buf));
}

static int64_t win_of(const struct an_verify *v, uint64_t wall)
{
	return (int64_t)(wall / v->cfg->window_ns);
}

/* Results older than verify_keep no longer stand: the service may have
 * changed under them. */
static void expire(const struct an_verify *v, struct an_service *s, uint64_t wall)
{
	uint64_t keep = v->cfg->verify_keep_ns;

	if (s->sq.ok_lam > 0 && wall - s->sq.ok_t > keep)
		s->sq.ok_lam = 0;
	if (s->sq.bad_lam > 0 && wall - s->sq.bad_t > keep)
		s->sq.bad_lam = s->sq.bad_aim = 0;
	if (s->sq.cand_lam > 0 && wall - s->sq.cand_t > keep)
		s->sq.cand_lam = 0;
}

bool an_squeeze_passed(struct an_squeeze *sq, uint32_t n, double aim, double ran, double p99,
		       uint64_t wall, uint64_t keep_ns)
{
	bool fresh = wall - sq->ok_t > keep_ns;
	double lam = fmin(aim, ran);

	if (lam <= sq->ok_lam && !fresh)
		return true;
	if (!(sq->cand_lam > 0) || wall - sq->cand_t > keep_ns) {
		sq->cand_lam = lam;
		sq->cand_ran = ran;
		sq->cand_aim = aim;
		sq->cand_p99 = p99;
		sq->cand_n = n;
		sq->cand_t = wall;
		return false;
	}
	if (sq->cand_lam < lam) {
		lam = sq->cand_lam;
		ran = sq->cand_ran;
		aim = sq->cand_aim;
		p99 = sq->cand_p99;
	}
	sq->cand_lam = 0;
	if (lam > sq->ok_lam || fresh) {
		sq->ok_lam = lam;
		sq->ok_ran = ran;
		sq->ok_aim = aim;
		sq->ok_p99 = p99;
		sq->ok_t = wall;
	}
	return true;
}

/* Picks a service whose recommendation asks for a step and may have one:
 * an unverified recommendation before a walk below a verified one (safety
 * before savings), services in turn from the one after the last step's. */
static struct an_service *candidate(struct an_verify *v, struct an_engine *e, uint64_t wall)
{
	uint32_t n = an_engine_n_services(e);

	for (uint32_t k = 0; k < 2 * n; k++) {
		uint32_t i = (v->next_svc + k) % n;
		struct an_service *s = an_engine_service_at(e, i);
		const struct an_squeeze *sq = &s->sq;

		if (k < n)
			expire(v, s, wall);
		if (!s->has_plan || sq->want_n == 0 || s->closed_w < v->idle_until_w ||
		    sq->want_probe != (k >= n))
			continue;
		if (strcmp(v->last_service, s->name) == 0 && v->last_n == sq->want_n &&
		    v->tries >= MAX_TRIES && wall - v->tries_t < v->cfg->verify_keep_ns)
			continue;
		if (!(sq->want_util <= v->cfg->verify_util_ceiling)) {
			if (isfinite(sq->want_util))
				note(s, "no squeeze step: %u instances' %.1f rps each would run a shadow instance at %.0f%% utilisation, above verify_util_ceiling %.0f%%",
				     sq->want_n, sq->want_lam, 100 * sq->want_util,
				     100 * v->cfg->verify_util_ceiling);
			else
				note(s, "no squeeze step: no capacity estimate to bound its utilisation");
			v->cnt.not_run++;
			continue;
		}
		if (!(sq->prod_rps > 0) || !(sq->shadow_lam > 0) || sq->shadow_c == 0) {
			note(s, "no squeeze step: no prod and shadow load to scale the share by");
			v->cnt.not_run++;
			continue;
		}
		v->next_svc = (i + 1) % n;
		return s;
	}
	return NULL;
}

static void start(struct an_verify *v, struct an_service *s, uint64_t wall, uint64_t mono)
{
	snprintf(v->service, sizeof(v->service), "%s", s->name);
	snprintf(v->group, sizeof(v->group), "%s", s->plan.shadow);
	v->plan_changes = s->plan_changes;
	v->n = s->sq.want_n;
	v->lam = s->sq.want_lam;
	if (strcmp(v->last_service, s->name) != 0 || v->last_n != v->n ||
	    wall - v->tries_t >= v->cfg->verify_keep_ns) {
		snprintf(v->last_service, sizeof(v->last_service), "%s", s->name);
		v->last_n = v->n;
		v->tries = 0;
	}
	v->tries++;
	v->tries_t = wall;
	if (send_req(v, "stats", -1, 0, 0, mono) == 0)
		v->phase = ASK_SHARE;
}

/* The group's share and offset from a stats reply: 0, 1 when its share is
 * under a lease (another tool's pause or step, or one a killed analyzer
 * left: the share in force is not the one to put back), or -1. */
static int group_share(const msgpack_object *rep, const char *group, double *share,
		       double *offset)
{
	const msgpack_object *gs, *lease;
	char name[ST_WIRE_NAME_MAX];

	if (st_wire_get(rep, "groups", &gs, NULL) != 0 || gs->type != MSGPACK_OBJECT_ARRAY)
		return -1;
	for (uint32_t i = 0; i < gs->via.array.size; i++) {
		const msgpack_object *g = &gs->via.array.ptr[i];

		if (st_wire_get_str(g, "name", name, sizeof(name), NULL) != 0 ||
		    strcmp(name, group) != 0)
			continue;
		if (st_wire_get_double(g, "share", share, NULL) != 0 ||
		    st_wire_get_double(g, "offset", offset, NULL) != 0)
			return -1;
		return st_wire_get(g, "lease", &lease, NULL) == 0 &&
		       lease->type == MSGPACK_OBJECT_MAP ? 1 : 0;
	}
	return -1;
}

/* With the group's share known: the share that gives each shadow
 * instance the candidate's load (the mirrored part changes, an injected
 * part stays), then set it: raised to try a smaller count than the
 * shadow stands for, lowered to try a larger one. */
static void raise_share(struct an_verify *v, struct an_service *s, const msgpack_object *rep,
			uint64_t mono)
{
	const struct an_squeeze *sq = &s->sq;
	double room;
	int rc;

	rc = group_share(rep, v->group, &v->share0, &v->offset0);
	if (rc != 0) {
		/* a share under a lease is someone's (a what-if sweep's
		 * pause): a step put back the share in force for good */
		if (rc > 0)
			note(s, "no squeeze step: '%s' share is under a lease (a what-if sweep, or "
			     "a step an analyzer left): not stepped until it ends", v->group);
		else
			note(s, "no squeeze step: the dataplane at %s has no shadow group '%s'",
			     v->cfg->dataplane_control, v->group);
		v->cnt.not_run++;
		v->phase = IDLE;
		return;
	}
	v->share1 = v->share0 + (v->lam - sq->shadow_lam) * sq->shadow_c / sq->prod_rps;
	room = 1 - v->offset0;
	if (fabs(v->share1 - v->share0) < 1e-4) {
		v->phase = IDLE;
		return;
	}
	if (v->share1 < 0) {
		note(s, "no squeeze step: %u instances' %.1f rps each is below what '%s' gets without mirrored flows (injected load)",
		     v->n, v->lam, v->group);
		v->cnt.not_run++;
		v->phase = IDLE;
		return;
	}
	if (v->share1 > room + 1e-9) {
		note(s, "no squeeze step: %u instances' %.1f rps each needs share %.3f of prod's flows for '%s', beyond the %.3f its offset leaves",
		     v->n, v->lam, v->share1, v->group, room);
		v->cnt.not_run++;
		v->phase = IDLE;
		return;
	}
	/* the lease outlives verify_max_time by a few windows: the step
	 * ends it itself unless it died */
	if (send_req(v, "set_share", v->share1, v->offset0,
		     (double)(v->cfg->verify_max_time_ns + 3 * v->cfg->window_ns) / 1e9 + 5,
		     mono) == 0)
		v->phase = RAISING;
	else
		v->phase = IDLE;
}

static void raised(struct an_verify *v, struct an_service *s, uint64_t wall, uint64_t mono)
{
	int64_t w = win_of(v, wall);

	v->cnt.steps++;
	v->started = mono;
	v->cut = false;
	v->m0 = w + 1 + v->cfg->verify_settle;
	v->m1 = v->m0 + v->cfg->verify_windows - 1;
	s->sq.running = true;
	s->sq.run_n = v->n;
	s->sq.run_lam = v->lam;
	s->sq.x0 = w;
	s->sq.x1 = INT64_MAX;
	s->sq.note[0] = '\0';
	ST_NOTICE("%s: squeeze step: '%s' share %.4f -> %.4f, %u instances' %.1f rps per instance, windows %lld..%lld",
		  s->name, v->group, v->share0, v->share1, v->n, v->lam, (long long)v->m0,
		  (long long)v->m1);
}

/* Judges the step's windows and records the result. */
/* Judges the step's windows: within the SLO (the p99's upper bound and
 * the error rate within it), beyond it (the lower bound above it, or the
 * error rate), or undecided -- then, while verify_max_time leaves room for
 * one more window, returns 1: measure it too (a sequential test: the
 * interval narrows as samples come). Undecided at the end records
 * nothing: the count is not verified, and no floor is set on a p99 that
 * may well be within the SLO. */
static int conclude(struct an_verify *v, struct an_engine *e, struct an_service *s,
		    uint64_t wall, uint64_t mono)
{
	struct an_squeeze *sq = &s->sq;
	struct an_measure m;
	char p99[32];
	bool pass, fail;

	/* the plan changed under the step (a reload, a PUT): it was asked of
	 * the old one (its group, its SLO), and records nothing */
	if (s->plan_changes != v->plan_changes) {
		v->cnt.inconclusive++;
		note(s, "squeeze step for %u instances not judged: the plan changed while it ran",
		     v->n);
		return 0;
	}
	if (an_engine_measure(e, s, v->group, v->m0, v->m1, s->plan.shadow_instances, &m) != 0)
		return 0;
	if (m.windows == 0 || (uint64_t)m.samples < an_engine_config(e)->min_samples) {
		v->cnt.inconclusive++;
		note(s, "squeeze step for %u instances %s: %u windows, %lld responses (min_samples %llu)",
		     v->n, v->cut ? "cut short by verify_max_time" : "inconclusive", m.windows,
		     (long long)m.samples, (unsigned long long)an_engine_config(e)->min_samples);
		return 0;
	}
	snprintf(p99, sizeof(p99), "%.1f ms", m.p99 / 1e6);
	pass = m.p99_hi <= (double)s->plan.slo_p99_ns &&
	       an_err_within(m.errors, m.requests, AN_STEP_PASS_CONF, s->plan.slo_error_rate);
	fail = m.p99_lo > (double)s->plan.slo_p99_ns ||
	       an_rate_bound(m.errors, m.requests, AN_STEP_FAIL_CONF, false) >
		       s->plan.slo_error_rate;
	if (!pass && !fail && !v->cut &&
	    mono - v->started + 2 * v->cfg->window_ns <= v->cfg->verify_max_time_ns)
		return 1;
	if (!pass && !fail) {
		v->cnt.inconclusive++;
		note(s, "squeeze step for %u instances undecided: p99 %s at %.1f rps per instance over %u windows, its bounds %.1f..%.1f ms on both sides of the SLO",
		     v->n, p99, m.lam, m.windows, m.p99_lo / 1e6, m.p99_hi / 1e6);
	} else if (pass) {
		v->cnt.passed++;
		if (!an_squeeze_passed(sq, v->n, v->lam, m.lam, m.p99, wall,
				       v->cfg->verify_keep_ns)) {
			v->cnt.unconfirmed++;
			note(s, "squeeze step for %u instances passed (p99 %s at %.1f rps per instance); a second step confirms it before the count stands",
			     v->n, p99, m.lam);
		} else if (m.lam < v->lam * REACHED) {
			note(s, "squeeze step for %u instances reached %.1f of %.1f rps per instance: p99 %s within the SLO there",
			     v->n, m.lam, v->lam, p99);
		}
		if (sq->bad_lam > 0 && fmin(sq->bad_lam, sq->bad_aim) <= sq->ok_lam)
			sq->bad_lam = sq->bad_aim = 0;
	} else {
		v->cnt.failed++;
		/* a step that ran above its aim (flows come whole) and
		 * failed still fails its count: safety first */
		if (sq->bad_lam == 0 || fmin(m.lam, v->lam) < fmin(sq->bad_lam, sq->bad_aim)) {
			sq->bad_lam = m.lam;
			sq->bad_aim = v->lam;
			sq->bad_p99 = m.p99_hi;
			sq->bad_t = wall;
		}
		if (sq->ok_lam >= sq->bad_lam)
			sq->ok_lam = 0;
		if (sq->cand_lam >= fmin(sq->bad_lam, sq->bad_aim))
			sq->cand_lam = 0;
	}
	ST_NOTICE("%s: squeeze step for %u instances: %.1f rps per instance over %u windows, p99 %s (bounds %.1f..%.1f ms), errors %.3f%%: %s the SLO",
		  s->name, v->n, m.lam, m.windows, p99, m.p99_lo / 1e6, m.p99_hi / 1e6,
		  100 * m.error_rate, pass ? "within" : fail ? "beyond" : "undecided about");
	return 0;
}

static void restore(struct an_verify *v, uint64_t mono)
{
	if (send_req(v, "set_share", v->share0, v->offset0, 0, mono) == 0)
		v->phase = RESTORING;
	else
		v->retry_at = mono + CTL_DEADLINE_NS;
}

void an_verify_tick(struct an_verify *v, struct an_engine *e, uint64_t wall_ns,
		    uint64_t mono_ns)
{
	struct an_service *s = v->phase == IDLE ? NULL : an_engine_service(e, v->service);
	msgpack_object rep;
	int rc;

	switch (v->phase) {
	case IDLE:
		s = candidate(v, e, wall_ns);
		if (s != NULL)
			start(v, s, wall_ns, mono_ns);
		break;
	case ASK_SHARE:
		rc = take_reply(v, mono_ns, &rep);
		if (rc < 0)
			v->phase = IDLE;
		if (rc > 0 && s != NULL)
			raise_share(v, s, &rep, mono_ns);
		if (rc != 0 && v->phase == IDLE)
			v->idle_until_w = s != NULL ? s->closed_w + 1 : 0;
		break;
	case RAISING:
		rc = take_reply(v, mono_ns, &rep);
		if (rc > 0 && s != NULL) {
			raised(v, s, wall_ns, mono_ns);
			v->phase = RUNNING;
		} else if (rc > 0) {
			restore(v, mono_ns);
		} else if (rc < 0) {
			/* it may have been applied: put it back to be sure */
			restore(v, mono_ns);
		}
		break;
	case RUNNING:
		if (s == NULL || s->closed_w >= v->m1 ||
		    mono_ns - v->started > v->cfg->verify_max_time_ns) {
			v->cut = s == NULL || s->closed_w < v->m1;
			if (v->cut)
				v->cnt.cut_short++;
			if (s != NULL && conclude(v, e, s, wall_ns, mono_ns) > 0) {
				v->m1++;	/* one more window */
				break;
			}
			restore(v, mono_ns);
		}
		break;
	case RESTORING:
		if (!v->pending) {
			if (mono_ns >= v->retry_at)
				restore(v, mono_ns);
			break;
		}
		rc = take_reply(v, mono_ns, &rep);
		if (rc > 0) {
			ST_NOTICE("%s: squeeze step over: '%s' share back to %.4f", v->service,
				  v->group, v->share0);
			if (s != NULL && s->sq.running) {
				s->sq.running = false;
				s->sq.x1 = win_of(v, wall_ns) + 1;
				v->idle_until_w = s->sq.x1 + v->cfg->verify_settle;
			}
			v->phase = IDLE;
		} else if (rc < 0) {
			ST_ERR("%s: could not put '%s' share back to %.4f yet; retrying",
			       v->service, v->group, v->share0);
			v->retry_at = mono_ns + CTL_DEADLINE_NS;
		}
		break;
	}
}

void an_verify_destroy(struct an_verify *v)
{
	msgpack_object rep;
	uint64_t mono;
	int rc = 0;

	if (v == NULL)
		return;
	if (v->phase == RAISING || v->phase == RUNNING || v->phase == RESTORING) {
		mono = st_mono_ns();
		if (send_req(v, "set_share", v->share0, v->offset0, 0, mono) == 0) {
			zmq_pollitem_t it = { .socket = v->req, .events = ZMQ_POLLIN };

			if (zmq_poll(&it, 1, (long)(CTL_DEADLINE_NS / 1000000)) > 0)
				rc = take_reply(v, mono, &rep);
		}
		if (rc > 0)
			ST_NOTICE("stopping mid squeeze step: '%s' share back to %.4f", v->group,
				  v->share0);
		else
			ST_ERR("stopping mid squeeze step: could not put '%s' share back to %.4f: set it with shadowtap-ctl -e %s set_share %s %.4f %.4f",
			       v->group, v->share0, v->cfg->dataplane_control, v->group, v->share0,
			       v->offset0);
	}
	zmq_close(v->req);
	msgpack_zone_destroy(&v->zone);
	st_wbuf_free(&v->out);
	free(v);
}

const struct an_verify_counters *an_verify_counters(const struct an_verify *v)
{
	return &v->cnt;
}
