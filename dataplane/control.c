#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "chaos_report.h"
#include "clock.h"
#include "control.h"
#include "chaos_scenario.h"
#include "kpi.h"
#include "log.h"
#include "reload.h"
#include "shadow.h"
#include "stats.h"

#define CTL_MAX_REQUEST 4096
/* chaos_scenario carries a scenario's text (as bin: a str stops at
 * st_wire's 64 KiB) */
#define CTL_MAX_SCENARIO ST_WIRE_MAX_SIZE

static struct st_ratelimit ctl_rl = ST_RATELIMIT_INIT(10ULL * 1000000000ULL, 5);

int dp_control_init(struct dp_control *c, void *zctx)
{
	const int64_t max_msg = (int64_t)CTL_MAX_SCENARIO + CTL_MAX_REQUEST;
	/* requests queued per client: a REP answers one at a time, and a
	 * client pipelining up to libzmq's 1000 of the largest would have
	 * the dataplane hold 1000 MiB */
	int linger = 0, hwm = 4;

	memset(c, 0, sizeof(*c));
	st_wbuf_init(&c->out);
	if (!msgpack_zone_init(&c->zone, 4096))
		return -ENOMEM;
	c->inited = true;
	c->rep = zmq_socket(zctx, ZMQ_REP);
	if (c->rep == NULL) {
		ST_ERR("zmq_socket: %s", zmq_strerror(zmq_errno()));
		return -zmq_errno();
	}
	zmq_setsockopt(c->rep, ZMQ_LINGER, &linger, sizeof(linger));
	/* A request up to this is received and refused with a reason (more
	 * than CTL_MAX_REQUEST, or CTL_MAX_SCENARIO for chaos_scenario); a
	 * larger one drops its connection in libzmq before it is held in
	 * memory whole. */
	zmq_setsockopt(c->rep, ZMQ_MAXMSGSIZE, &max_msg, sizeof(max_msg));
	zmq_setsockopt(c->rep, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	return 0;
}

int dp_control_bind(struct dp_control *c, const char *endpoint)
{
	if (zmq_bind(c->rep, endpoint) != 0) {
		ST_ERR("cannot bind the control socket to %s: %s", endpoint,
		       zmq_strerror(zmq_errno()));
		return -zmq_errno();
	}
	return 0;
}

void dp_control_fini(struct dp_control *c)
{
	if (!c->inited)
		return;
	if (c->rep != NULL)
		zmq_close(c->rep);
	c->rep = NULL;
	msgpack_zone_destroy(&c->zone);
	st_wbuf_free(&c->out);
	c->inited = false;
}

static void reply_error(struct dp_control *c, msgpack_packer *pk, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void reply_error(struct dp_control *c, msgpack_packer *pk, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	st_wbuf_reset(&c->out);
	msgpack_pack_map(pk, 2);
	st_wire_pack_cstr(pk, "ok");
	msgpack_pack_false(pk);
	st_wire_pack_cstr(pk, "error");
	st_wire_pack_cstr(pk, msg);
	c->rejected++;
	st_log_rl(&ctl_rl, ST_LOG_WARN, "control: rejected: %s", msg);
}

/* The chaos in force, as the chaos command takes it (chaos_report.c:
 * the KPI snapshots say it the same way). */
void dp_group_pack_chaos(msgpack_packer *pk, const struct dp_app *app, const struct dp_group *g)
{
	struct st_chaos c;

	dp_chaos_report(app, g, &c);
	st_chaos_pack(pk, &c);
}

static void pack_group(msgpack_packer *pk, const struct dp_app *app, const struct dp_group *g,
		       const struct dp_group_counters *gc, const struct dp_lease *l)
{
	msgpack_pack_map(pk, 17);
	/* a set_share with revert_after running: the share and offset it
	 * puts back, and when (what a tool that saves the share to restore
	 * it must save: the one in force is the lease's) */
	st_wire_pack_cstr(pk, "lease");
	if (l != NULL && l->on) {
		uint64_t now = st_mono_ns();

		msgpack_pack_map(pk, 3);
		st_wire_pack_cstr(pk, "share");
		msgpack_pack_double(pk, l->share);
		st_wire_pack_cstr(pk, "offset");
		msgpack_pack_double(pk, l->offset);
		st_wire_pack_cstr(pk, "seconds_left");
		msgpack_pack_double(pk, l->deadline > now ? (double)(l->deadline - now) / 1e9 : 0);
	} else {
		msgpack_pack_nil(pk);
	}
	st_wire_pack_cstr(pk, "name");
	st_wire_pack_cstr(pk, g->name);
	st_wire_pack_cstr(pk, "service");
	st_wire_pack_cstr(pk, g->service);
	/* Takes the load generator's traffic: an inject port exists and the
	 * group has inject = true (shadowtap-whatif refuses a group without). */
	st_wire_pack_cstr(pk, "inject");
	if (app->inject >= 0 && g->inject)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	/* in use: set_instances' N for a group that lists its instances
	 * (what shadowtap-whatif saves and restores), else the count its
	 * KPIs report; instances_count is always the KPIs' (an
	 * instances_count key in the file may differ from the list) */
	st_wire_pack_cstr(pk, "instances");
	msgpack_pack_uint32(pk, g->n_instances > 0 ? dp_group_instances(g) :
			    __atomic_load_n(&g->instances_count, __ATOMIC_RELAXED));
	st_wire_pack_cstr(pk, "instances_count");
	msgpack_pack_uint32(pk, __atomic_load_n(&g->instances_count, __ATOMIC_RELAXED));
	st_wire_pack_cstr(pk, "instances_listed");
	msgpack_pack_uint32(pk, (uint32_t)g->n_instances);
	st_wire_pack_cstr(pk, "share");
	msgpack_pack_double(pk, dp_group_share(g));
	st_wire_pack_cstr(pk, "offset");
	msgpack_pack_double(pk, dp_group_offset(g));
	st_wire_pack_cstr(pk, "enabled");
	if (__atomic_load_n(&g->enabled, __ATOMIC_RELAXED))
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	st_wire_pack_cstr(pk, "rate_pps");
	msgpack_pack_uint64(pk, __atomic_load_n(&g->rate_pps, __ATOMIC_RELAXED));
	st_wire_pack_cstr(pk, "rate_bps");
	msgpack_pack_uint64(pk, __atomic_load_n(&g->rate_bps, __ATOMIC_RELAXED));
	st_wire_pack_cstr(pk, "copies");
	msgpack_pack_uint64(pk, gc->copies);
	st_wire_pack_cstr(pk, "responses");
	msgpack_pack_uint64(pk, gc->rx_pkts);
	st_wire_pack_cstr(pk, "chaos");
	dp_group_pack_chaos(pk, app, g);
	st_wire_pack_cstr(pk, "chaos_effects");
	msgpack_pack_map(pk, DP_FX_COUNT);
	for (int r = 0; r < DP_FX_COUNT; r++) {
		st_wire_pack_cstr(pk, dp_chaos_effect_names[r]);
		msgpack_pack_uint64(pk, gc->chaos_fx[r]);
	}
	st_wire_pack_cstr(pk, "drops");
	msgpack_pack_map(pk, DP_DROP_COUNT);
	for (int r = 0; r < DP_DROP_COUNT; r++) {
		st_wire_pack_cstr(pk, dp_drop_names[r]);
		msgpack_pack_uint64(pk, gc->drops[r]);
	}
}

/* The scenario running: {file, lines, next, applied, refused}; file ""
 * when none. */
static void pack_scenario(msgpack_packer *pk, const struct dp_scenario *s)
{
	static const struct dp_scenario none;

	if (s == NULL)
		s = &none;
	msgpack_pack_map(pk, 5);
	st_wire_pack_cstr(pk, "file");
	st_wire_pack_cstr(pk, s->path);
	st_wire_pack_cstr(pk, "lines");
	msgpack_pack_uint32(pk, s->n);
	st_wire_pack_cstr(pk, "next");
	msgpack_pack_uint32(pk, s->next);
	st_wire_pack_cstr(pk, "applied");
	msgpack_pack_uint64(pk, s->applied);
	st_wire_pack_cstr(pk, "refused");
	msgpack_pack_uint64(pk, s->refused);
}

static void reply_stats(msgpack_packer *pk, const struct dp_app *app, const struct dp_kpi *kpi,
			const struct dp_scenario *scn, const struct dp_reload *rl,
			const struct dp_lease *lease)
{
	struct dp_counters sum;

	dp_stats_sum(app, &sum);
	msgpack_pack_map(pk, 8);
	st_wire_pack_cstr(pk, "ok");
	msgpack_pack_true(pk);
	st_wire_pack_cstr(pk, "reloads");
	msgpack_pack_map(pk, 4);
	st_wire_pack_cstr(pk, "applied");
	msgpack_pack_uint64(pk, rl ? rl->done : 0);
	st_wire_pack_cstr(pk, "refused");
	msgpack_pack_uint64(pk, rl ? rl->refused : 0);
	/* old filters freed once every worker moved past them, and those
	 * still waiting for that */
	st_wire_pack_cstr(pk, "filters_freed");
	msgpack_pack_uint64(pk, rl ? rl->filters_freed : 0);
	st_wire_pack_cstr(pk, "filters_retired");
	msgpack_pack_uint32(pk, rl ? (uint32_t)rl->n_retired : 0);
	st_wire_pack_cstr(pk, "chaos_scenario");
	pack_scenario(pk, scn);
	st_wire_pack_cstr(pk, "tcp");
	msgpack_pack_map(pk, 9);
	st_wire_pack_cstr(pk, "acks");
	msgpack_pack_uint64(pk, sum.tcp_acks);
	st_wire_pack_cstr(pk, "retransmits");
	msgpack_pack_uint64(pk, sum.tcp_retrans);
	st_wire_pack_cstr(pk, "shadow_resets");
	msgpack_pack_uint64(pk, sum.tcp_shadow_rst);
	st_wire_pack_cstr(pk, "ack_nombuf");
	msgpack_pack_uint64(pk, sum.tcp_ack_nombuf);
	st_wire_pack_cstr(pk, "syn_again");
	msgpack_pack_uint64(pk, sum.tcp_syn_again);
	st_wire_pack_cstr(pk, "given_up");
	msgpack_pack_uint64(pk, sum.tcp_given_up);
	st_wire_pack_cstr(pk, "segments_again");
	msgpack_pack_uint64(pk, sum.tcp_seg_again);
	st_wire_pack_cstr(pk, "send_nombuf");
	msgpack_pack_uint64(pk, sum.tcp_send_nombuf);
	st_wire_pack_cstr(pk, "send_tx_full");
	msgpack_pack_uint64(pk, sum.tcp_send_tx_full);
	st_wire_pack_cstr(pk, "mode");
	st_wire_pack_cstr(pk, app->cfg.mode == DP_MODE_INLINE ? "inline" : "tap");
	st_wire_pack_cstr(pk, "groups");
	msgpack_pack_array(pk, (size_t)app->n_groups);
	for (int g = 0; g < app->n_groups; g++)
		pack_group(pk, app, &app->groups[g], &sum.group[g], &lease[g]);
	st_wire_pack_cstr(pk, "ports");
	msgpack_pack_array(pk, (size_t)app->n_ports);
	for (int i = 0; i < app->n_ports; i++) {
		msgpack_pack_map(pk, 5);
		st_wire_pack_cstr(pk, "name");
		st_wire_pack_cstr(pk, app->ports[i].name);
		st_wire_pack_cstr(pk, "rx_pkts");
		msgpack_pack_uint64(pk, sum.port[i].rx_pkts);
		st_wire_pack_cstr(pk, "tx_pkts");
		msgpack_pack_uint64(pk, sum.port[i].tx_pkts);
		st_wire_pack_cstr(pk, "tx_bytes");
		msgpack_pack_uint64(pk, sum.port[i].tx_bytes);
		st_wire_pack_cstr(pk, "tx_full");
		msgpack_pack_uint64(pk, sum.port[i].tx_full);
	}
	st_wire_pack_cstr(pk, "kpi");
	msgpack_pack_map(pk, 3);
	st_wire_pack_cstr(pk, "seq");
	msgpack_pack_uint64(pk, kpi ? kpi->seq : 0);
	st_wire_pack_cstr(pk, "sent");
	msgpack_pack_uint64(pk, kpi ? kpi->sent : 0);
	st_wire_pack_cstr(pk, "dropped");
	msgpack_pack_uint64(pk, kpi ? kpi->dropped : 0);
}

/* The request's group, or NULL with why set: missing, not a string, or no
 * group of that name (a name longer than any group's is one). */
static struct dp_group *find_group(struct dp_app *app, const msgpack_object *req, char *why,
				   size_t len)
{
	const msgpack_object *v;
	char name[DP_NAME_LEN + 1];

	if (st_wire_get(req, "group", &v, NULL) != 0) {
		snprintf(why, len, "missing 'group'");
		return NULL;
	}
	if (v->type != MSGPACK_OBJECT_STR) {
		snprintf(why, len, "'group' must be a string");
		return NULL;
	}
	if (v->via.str.size < sizeof(name)) {
		memcpy(name, v->via.str.ptr, v->via.str.size);
		name[v->via.str.size] = '\0';
		for (int g = 0; g < app->n_groups; g++)
			if (strcmp(app->groups[g].name, name) == 0)
				return &app->groups[g];
	}
	snprintf(why, len, "no shadow group '%.*s%s'",
		 (int)(v->via.str.size < 40 ? v->via.str.size : 40), v->via.str.ptr,
		 v->via.str.size > 40 ? "..." : "");
	return NULL;
}

/* Whether k is the string s. */
static bool key_is(const msgpack_object *k, const char *s)
{
	return k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(s) &&
	       memcmp(k->via.str.ptr, s, k->via.str.size) == 0;
}

/* The impairments a chaos request gives (chaos_fx.h: delay, jitter, ...,
 * each a string as the config file takes it, or a number) over p. Returns
 * how many it gave, or -EINVAL with why set. */
static int chaos_fx_request(const msgpack_object *req, struct dp_chaos_params *p, char *why,
			    size_t len)
{
	int n = 0;

	for (uint32_t i = 0; i < req->via.map.size; i++) {
		const msgpack_object *k = &req->via.map.ptr[i].key, *v = &req->via.map.ptr[i].val;
		const char *key = NULL;
		char buf[96];
		struct st_perr e;

		for (size_t j = 0; j < dp_chaos_n_param_keys && key == NULL; j++)
			if (key_is(k, dp_chaos_param_keys[j]))
				key = dp_chaos_param_keys[j];
		if (key == NULL)
			continue;
		if (v->type == MSGPACK_OBJECT_STR && v->via.str.size < sizeof(buf)) {
			memcpy(buf, v->via.str.ptr, v->via.str.size);
			buf[v->via.str.size] = '\0';
		} else if (v->type == MSGPACK_OBJECT_FLOAT32 || v->type == MSGPACK_OBJECT_FLOAT64) {
			snprintf(buf, sizeof(buf), "%.17g", v->via.f64);
		} else if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
			snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v->via.u64);
		} else {
			snprintf(why, len, "chaos: '%s' must be a string such as the config takes, "
				 "or a number", key);
			return -EINVAL;
		}
		if (dp_chaos_param_set(p, key, buf, &e) != 0) {
			snprintf(why, len, "chaos: %s: %.150s", key, e.msg);
			return -EINVAL;
		}
		n++;
	}
	if (n > 0 && dp_chaos_params_check(p, why, len) != 0)
		return -EINVAL;
	return n;
}

/* Whether a group command (not chaos: chaos_request checks its own) has a
 * key it does not take: a misspelt revert_after would leave a raised share
 * without its lease, and the reply said ok. why names it. */
static bool unknown_key(const char *cmd, const msgpack_object *req, char *why, size_t len)
{
	static const struct { const char *cmd, *keys[4]; } takes[] = {
		{ "set_share", { "share", "offset", "revert_after" } },
		{ "set_rate", { "pps", "bps" } }, { "set_instances", { "instances" } },
		{ "enable", { NULL } }, { "disable", { NULL } }, { "chaos_off", { NULL } },
	};
	const char *const *keys = takes[0].keys;
	char list[64] = "";

	for (size_t i = 0; i < sizeof(takes) / sizeof(takes[0]); i++)
		if (strcmp(cmd, takes[i].cmd) == 0)
			keys = takes[i].keys;
	for (int j = 0; keys[j] != NULL; j++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", j ? " " : "",
			 keys[j]);
	for (uint32_t i = 0; i < req->via.map.size; i++) {
		const msgpack_object *k = &req->via.map.ptr[i].key;
		bool ok = key_is(k, "cmd") || key_is(k, "group");

		for (int j = 0; !ok && keys[j] != NULL; j++)
			ok = key_is(k, keys[j]);
		if (!ok) {
			snprintf(why, len, "%s: unknown key '%.*s'%s%s%s", cmd,
				 k->type == MSGPACK_OBJECT_STR ?
				 (int)(k->via.str.size < 40 ? k->via.str.size : 40) : 1,
				 k->type == MSGPACK_OBJECT_STR ? k->via.str.ptr : "?",
				 *list ? " (it takes " : " (it takes only group", list, ")");
			return true;
		}
	}
	return false;
}

/* A chaos request's new word and impairments for g: the keys it gives
 * (loss: a number 0..1 or a string "2%"; down: an instance's address, ""
 * or "none"; respread: a bool; the impairments, chaos_fx_request) over the
 * setting in force. Validates everything before anything changes. Returns
 * 0, or -EINVAL with why set. */
static int chaos_request(const struct dp_app *app, const struct dp_group *g,
			 const msgpack_object *req, uint64_t *word, struct dp_chaos_params *fxp,
			 char *why, size_t len)
{
	const struct dp_shadow_cfg *sc = &app->cfg.shadows[g - app->groups];
	uint64_t cw = __atomic_load_n(&g->chaos, __ATOMIC_RELAXED);
	uint64_t loss_thr = dp_chaos_loss_thr(cw);
	int down = dp_chaos_down(cw), n_keys = 0;
	bool respread = dp_chaos_respread(cw);
	const msgpack_object *v;

	for (uint32_t i = 0; i < req->via.map.size; i++) {
		const msgpack_object *k = &req->via.map.ptr[i].key;
		static const char *const known[] = { "cmd", "group", "loss", "down", "respread" };
		bool ok = false;

		for (size_t j = 0; j < sizeof(known) / sizeof(known[0]) && !ok; j++)
			ok = key_is(k, known[j]);
		for (size_t j = 0; j < dp_chaos_n_param_keys && !ok; j++)
			ok = key_is(k, dp_chaos_param_keys[j]);
		if (!ok) {
			snprintf(why, len, "chaos: unknown key '%.*s' (loss, down, respread, delay, "
				 "jitter, delay_dist, delay_corr, loss_burst, duplicate, corrupt, "
				 "reorder, reorder_gap, rate, flap, direction)",
				 k->type == MSGPACK_OBJECT_STR ? (int)(k->via.str.size < 40 ? k->via.str.size : 40) : 1,
				 k->type == MSGPACK_OBJECT_STR ? k->via.str.ptr : "?");
			return -EINVAL;
		}
	}
	if (st_wire_get(req, "loss", &v, NULL) == 0) {
		struct st_perr e;
		double loss;

		n_keys++;
		if (v->type == MSGPACK_OBJECT_STR) {
			char buf[64];

			if (v->via.str.size >= sizeof(buf)) {
				snprintf(why, len, "chaos: 'loss' too long");
				return -EINVAL;
			}
			memcpy(buf, v->via.str.ptr, v->via.str.size);
			buf[v->via.str.size] = '\0';
			if (st_parse_share(buf, &loss, &e) != 0) {
				snprintf(why, len, "chaos: loss: %.150s", e.msg);
				return -EINVAL;
			}
		} else if (st_wire_get_double(req, "loss", &loss, NULL) != 0 || !isfinite(loss) ||
			   loss < 0 || loss > 1) {
			snprintf(why, len, "chaos: 'loss' must be 0..1 or a string such as \"2%%\"");
			return -EINVAL;
		}
		loss_thr = st_share_threshold(loss);
	}
	if (st_wire_get(req, "down", &v, NULL) == 0) {
		char buf[64];
		struct st_addr a;
		struct st_perr e;
		bool has;

		n_keys++;
		if (st_wire_get_str(req, "down", buf, sizeof(buf), NULL) != 0) {
			snprintf(why, len, "chaos: 'down' must be an instance's address, or none");
			return -EINVAL;
		}
		if (dp_parse_chaos_down(buf, &a, &has, &e) != 0) {
			snprintf(why, len, "chaos: down: %.150s", e.msg);
			return -EINVAL;
		}
		down = has ? dp_shadow_instance_index(sc, &a) : -1;
		if (has && down < 0) {
			snprintf(why, len, "chaos: down: '%.60s' is not one of %.40s's instances", buf,
				 g->name);
			return -EINVAL;
		}
	}
	if (st_wire_get(req, "respread", &v, NULL) == 0) {
		n_keys++;
		if (st_wire_get_bool(req, "respread", &respread, NULL) != 0) {
			snprintf(why, len, "chaos: 'respread' must be true or false");
			return -EINVAL;
		}
	}
	*fxp = g->chaos_params;
	{
		int rc = chaos_fx_request(req, fxp, why, len);

		if (rc < 0)
			return rc;
		n_keys += rc;
	}
	if (n_keys == 0) {
		snprintf(why, len, "chaos needs at least one of loss, down, respread, delay, jitter, "
			 "delay_dist, delay_corr, loss_burst, duplicate, corrupt, reorder, "
			 "reorder_gap, rate, flap, direction (chaos_off ends it)");
		return -EINVAL;
	}
	*word = dp_chaos_pack(loss_thr, down, respread);
	return 0;
}

/* The setting a group runs with, as a person states it. */
static void group_setting(const struct dp_group *g, struct dp_chaos_setting *s)
{
	uint64_t cw = __atomic_load_n(&g->chaos, __ATOMIC_RELAXED);

	s->loss_thr = dp_chaos_loss_thr(cw);
	s->down = dp_chaos_down(cw);
	s->respread = dp_chaos_respread(cw);
	s->p = g->chaos_params;
}

/* chaos_scenario {text, name}: the scenario's text (shadowtap-ctl reads
 * the file and sends it: the dataplane opens no file a control client
 * names, nor tells it what one holds), checked against the settings in
 * force, run from now in place of the one running; name (the file's, for
 * the logs and stats) defaults to "(control)". {file: "none"} (or "")
 * stops the one running; any other file is refused. A bad scenario
 * changes nothing. */
static void handle_scenario(struct dp_control *c, msgpack_packer *pk, struct dp_app *app,
			    const msgpack_object *req)
{
	struct dp_chaos_setting init[DP_MAX_SHADOWS];
	struct dp_scenario next;
	const msgpack_object *text;
	char name[256] = "(control)", file[8], why[400];
	int rc;

	if (c->scn == NULL) {
		reply_error(c, pk, "chaos_scenario: not available");
		return;
	}
	for (uint32_t i = 0; i < req->via.map.size; i++) {
		const msgpack_object *k = &req->via.map.ptr[i].key;

		if (!key_is(k, "cmd") && !key_is(k, "text") && !key_is(k, "name") &&
		    !key_is(k, "file")) {
			reply_error(c, pk, "chaos_scenario: unknown key (it takes text and name, "
				    "or file none)");
			return;
		}
	}
	rc = st_wire_get(req, "text", &text, NULL);
	if (rc == 0 && st_wire_get(req, "file", &text, NULL) != -ENOENT) {
		reply_error(c, pk, "chaos_scenario: 'text' or 'file' (none), not both");
		return;
	}
	if (rc == -ENOENT) {
		rc = st_wire_get_str(req, "file", file, sizeof(file), NULL);
		if (rc != 0 || (file[0] != '\0' && strcmp(file, "none") != 0)) {
			reply_error(c, pk, "chaos_scenario needs 'text' (the scenario's lines; "
				    "shadowtap-ctl chaos_scenario FILE reads FILE and sends them: "
				    "the dataplane opens no file a client names), or 'file': "
				    "'none' to stop the one running");
			return;
		}
		ST_NOTICE("control: chaos scenario %s stopped at line %u of %u",
			  c->scn->path[0] ? c->scn->path : "(none)", c->scn->next, c->scn->n);
		dp_scenario_free(c->scn);
	} else {
		if (rc != 0 || (text->type != MSGPACK_OBJECT_STR &&
				text->type != MSGPACK_OBJECT_BIN)) {
			reply_error(c, pk, "chaos_scenario: 'text' must be a str or bin");
			return;
		}
		rc = st_wire_get_str(req, "name", name, sizeof(name), NULL);
		if (rc != 0 && rc != -ENOENT) {
			reply_error(c, pk, "chaos_scenario: 'name' must be a string of at most "
				    "%zu bytes", sizeof(name) - 1);
			return;
		}
		if (rc == -ENOENT)
			snprintf(name, sizeof(name), "(control)");
		for (const char *x = name; *x != '\0'; x++)
			if ((unsigned char)*x < 0x20 || *x == 0x7f) {
				/* it goes into the log */
				reply_error(c, pk, "chaos_scenario: 'name' holds a control "
					    "character");
				return;
			}
		for (int i = 0; i < app->n_groups; i++)
			group_setting(&app->groups[i], &init[i]);
		if (dp_scenario_parse(&next, name, text->type == MSGPACK_OBJECT_STR ?
				      text->via.str.ptr : text->via.bin.ptr,
				      text->type == MSGPACK_OBJECT_STR ? text->via.str.size :
				      text->via.bin.size,
				      &app->cfg, init, why, sizeof(why)) != 0) {
			reply_error(c, pk, "chaos_scenario: %.230s", why);
			return;
		}
		dp_scenario_free(c->scn);
		*c->scn = next;
		c->scn->start_ns = st_mono_ns();
		ST_NOTICE("control: chaos scenario %s: %u lines from now", name, next.n);
	}
	st_wbuf_reset(&c->out);
	msgpack_pack_map(pk, 2);
	st_wire_pack_cstr(pk, "ok");
	msgpack_pack_true(pk);
	st_wire_pack_cstr(pk, "chaos_scenario");
	pack_scenario(pk, c->scn);
	c->handled++;
}

void dp_control_scenario_run(struct dp_scenario *s, struct dp_app *app, uint64_t now_ns)
{
	struct dp_chaos_setting set[DP_MAX_SHADOWS];
	bool touched[DP_MAX_SHADOWS] = { false };
	uint32_t n_set[DP_MAX_SHADOWS] = { 0 };

	if (dp_scenario_next_ns(s) > now_ns)
		return;
	while (s->next < s->n && s->start_ns + s->lines[s->next].t_ns <= now_ns) {
		const struct dp_scn_line *l = &s->lines[s->next++];
		struct dp_chaos_setting try;
		struct st_perr e;

		if (!touched[l->group])
			group_setting(&app->groups[l->group], &set[l->group]);
		try = set[l->group];
		if (dp_chaos_setting_set(&try, &app->cfg.shadows[l->group], l->key, l->value,
					 &e) != 0) {
			s->refused++;
			ST_WARN("chaos scenario %s:%d: %s: %s: refused", s->path, l->lineno, l->key,
				e.msg);
			continue;
		}
		set[l->group] = try;
		touched[l->group] = true;
		n_set[l->group]++;
		ST_NOTICE("chaos scenario %s:%d: t=%.3f s %s %s=%s", s->path, l->lineno,
			  (double)l->t_ns / 1e9, app->groups[l->group].name, l->key, l->value);
	}
	for (int i = 0; i < app->n_groups; i++) {
		char why[200];

		if (!touched[i])
			continue;
		if (dp_chaos_params_check(&set[i].p, why, sizeof(why)) != 0) {
			s->refused += n_set[i];
			ST_WARN("chaos scenario %s: %s: %s: this round's changes refused", s->path,
				app->groups[i].name, why);
			continue;
		}
		dp_group_set_chaos(&app->groups[i],
				   dp_chaos_pack(set[i].loss_thr, set[i].down, set[i].respread),
				   &set[i].p);
		s->applied += n_set[i];
	}
}

/* reload {}: reads the config file again (reload.h). {ok: true, changed:
 * [keys]} or {ok: false, error: the first reason, errors: [every one]}. */
static void handle_reload(struct dp_control *c, msgpack_packer *pk, struct dp_app *app)
{
	struct dp_reload_result *res;

	if (c->reload == NULL) {
		reply_error(c, pk, "reload: not available");
		return;
	}
	res = malloc(sizeof(*res));
	if (res == NULL) {
		reply_error(c, pk, "reload: out of memory");
		return;
	}
	ST_NOTICE("control: reloading %s", c->reload->path);
	dp_reload_run(c->reload, app, c, res);
	st_wbuf_reset(&c->out);
	if (res->ok) {
		msgpack_pack_map(pk, 3);
		st_wire_pack_cstr(pk, "ok");
		msgpack_pack_true(pk);
		st_wire_pack_cstr(pk, "changed");
		msgpack_pack_array(pk, (size_t)res->n_changed);
		for (int i = 0; i < res->n_changed; i++)
			st_wire_pack_cstr(pk, res->changed[i]);
		/* the list holds the first DP_RELOAD_MAX_CHANGED */
		st_wire_pack_cstr(pk, "changed_total");
		msgpack_pack_uint32(pk, (uint32_t)res->n_changed_total);
		c->handled++;
	} else {
		char first[DP_RELOAD_ERR_LEN + 40];

		snprintf(first, sizeof(first), "%s%s", res->n_errors ? res->errors[0] : "refused",
			 res->n_errors_total > 1 ? " (and more: errors)" : "");
		msgpack_pack_map(pk, 4);
		st_wire_pack_cstr(pk, "ok");
		msgpack_pack_false(pk);
		st_wire_pack_cstr(pk, "error");
		st_wire_pack_cstr(pk, first);
		st_wire_pack_cstr(pk, "errors");
		msgpack_pack_array(pk, (size_t)res->n_errors);
		for (int i = 0; i < res->n_errors; i++)
			st_wire_pack_cstr(pk, res->errors[i]);
		/* the list holds the first DP_RELOAD_MAX_ERRORS */
		st_wire_pack_cstr(pk, "errors_total");
		msgpack_pack_uint32(pk, (uint32_t)res->n_errors_total);
		c->rejected++;
	}
	free(res);
}

/* Whether req is a chaos_scenario command (it may be up to
 * CTL_MAX_SCENARIO long). */
static bool is_scenario(const msgpack_object *req)
{
	char cmd[16];

	return st_wire_get_str(req, "cmd", cmd, sizeof(cmd), NULL) == 0 &&
	       strcmp(cmd, "chaos_scenario") == 0;
}

/* A key the request gives twice, or NULL: which of the two counts would be
 * a guess. The map holds at most st_wire's 1,024 pairs. */
static const msgpack_object *key_twice(const msgpack_object *req)
{
	if (req->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 1; i < req->via.map.size; i++) {
		const msgpack_object *k = &req->via.map.ptr[i].key;

		if (k->type != MSGPACK_OBJECT_STR)
			continue;
		for (uint32_t j = 0; j < i; j++) {
			const msgpack_object *e = &req->via.map.ptr[j].key;

			if (e->type == MSGPACK_OBJECT_STR && e->via.str.size == k->via.str.size &&
			    memcmp(e->via.str.ptr, k->via.str.ptr, k->via.str.size) == 0)
				return k;
		}
	}
	return NULL;
}

/* Applies one request; the reply is packed into c->out. */
static void handle(struct dp_control *c, struct dp_app *app, const struct dp_kpi *kpi,
		   const msgpack_object *req)
{
	msgpack_packer pk;
	char cmd[32], why[200];
	const msgpack_object *dup;
	struct dp_group *g;

	st_wbuf_reset(&c->out);
	msgpack_packer_init(&pk, &c->out, st_wbuf_mp_write);
	dup = key_twice(req);
	if (dup != NULL) {
		uint32_t n = dup->via.str.size;

		reply_error(c, &pk, "key '%.*s%s' given twice", (int)(n < 40 ? n : 40),
			    dup->via.str.ptr, n > 40 ? "..." : "");
		return;
	}
	if (st_wire_get_str(req, "cmd", cmd, sizeof(cmd), NULL) != 0) {
		reply_error(c, &pk, "missing or bad 'cmd' (a string)");
		return;
	}
	if (strcmp(cmd, "stats") == 0) {
		reply_stats(&pk, app, kpi, c->scn, c->reload, c->lease);
		c->handled++;
		return;
	}
	if (strcmp(cmd, "chaos_scenario") == 0) {
		handle_scenario(c, &pk, app, req);
		return;
	}
	if (strcmp(cmd, "reload") == 0) {
		handle_reload(c, &pk, app);
		return;
	}
	if (strcmp(cmd, "set_share") && strcmp(cmd, "set_rate") && strcmp(cmd, "enable") &&
	    strcmp(cmd, "disable") && strcmp(cmd, "set_instances") && strcmp(cmd, "chaos") &&
	    strcmp(cmd, "chaos_off")) {
		reply_error(c, &pk, "unknown cmd '%s' (stats, set_share, set_rate, set_instances, "
			    "enable, disable, chaos, chaos_off, chaos_scenario, reload)", cmd);
		return;
	}
	g = find_group(app, req, why, sizeof(why));
	if (g == NULL) {
		reply_error(c, &pk, "%s", why);
		return;
	}
	if (strcmp(cmd, "chaos") != 0 && unknown_key(cmd, req, why, sizeof(why))) {
		reply_error(c, &pk, "%s", why);
		return;
	}
	if (strcmp(cmd, "set_share") == 0) {
		double share, offset = dp_group_offset(g), old_share = dp_group_share(g);
		double old_offset = offset, revert = 0;
		struct dp_lease *l = &c->lease[g - app->groups];
		int rc = st_wire_get_double(req, "share", &share, NULL);

		if (rc != 0 || !isfinite(share)) {
			reply_error(c, &pk, "set_share needs 'share' (a number in 0..1)");
			return;
		}
		rc = st_wire_get_double(req, "offset", &offset, NULL);
		if (rc == -EBADMSG || !isfinite(offset)) {
			reply_error(c, &pk, "'offset' must be a number in 0..1");
			return;
		}
		rc = st_wire_get_double(req, "revert_after", &revert, NULL);
		if (rc == -EBADMSG || !isfinite(revert) || revert < 0 || revert > 86400) {
			reply_error(c, &pk, "'revert_after' must be seconds in 0..86400");
			return;
		}
		if (dp_group_set_share(g, share, offset) != 0) {
			reply_error(c, &pk, "share %g at offset %g is outside 0..1%s", share, offset,
				    g->sampling == DP_SAMPLE_PACKET && offset > 0 ?
				    " (packet sampling takes no offset)" : "");
			return;
		}
		if (revert > 0) {
			/* a renewed lease keeps the share it first took over */
			if (!l->on) {
				l->share = old_share;
				l->offset = old_offset;
			}
			l->on = true;
			l->deadline = st_mono_ns() + (uint64_t)(revert * 1e9);
			ST_NOTICE("control: %s share %g offset %g for %g s (then %g offset %g)",
				  g->name, share, offset, revert, l->share, l->offset);
		} else {
			l->on = false;
			ST_NOTICE("control: %s share %g offset %g", g->name, share, offset);
		}
	} else if (strcmp(cmd, "set_rate") == 0) {
		uint64_t pps = __atomic_load_n(&g->rate_pps, __ATOMIC_RELAXED);
		uint64_t bps = __atomic_load_n(&g->rate_bps, __ATOMIC_RELAXED);
		int a = st_wire_get_u64(req, "pps", &pps, NULL);
		int b = st_wire_get_u64(req, "bps", &bps, NULL);

		if (a == -EBADMSG || b == -EBADMSG || (a != 0 && b != 0)) {
			reply_error(c, &pk, "set_rate needs 'pps' and/or 'bps' (unsigned integers, 0: no cap)");
			return;
		}
		__atomic_store_n(&g->rate_pps, pps, __ATOMIC_RELAXED);
		__atomic_store_n(&g->rate_bps, bps, __ATOMIC_RELAXED);
		ST_NOTICE("control: %s rate %lu pps %lu bps", g->name, (unsigned long)pps,
			  (unsigned long)bps);
	} else if (strcmp(cmd, "set_instances") == 0) {
		uint32_t old_n = dp_group_instances(g);
		uint64_t n;
		int rc = st_wire_get_u64(req, "instances", &n, NULL);

		if (rc != 0) {
			reply_error(c, &pk, "set_instances needs 'instances' (an integer in 1..%d)",
				    g->n_instances > 0 ? g->n_instances : 1);
			return;
		}
		rc = dp_group_set_instances(g, n > UINT32_MAX ? 0 : (uint32_t)n);
		if (rc == -ENOENT) {
			reply_error(c, &pk, "shadow group '%s' lists no instances ([shadow.%s] "
				    "instances)", g->name, g->name);
			return;
		}
		if (rc != 0) {
			reply_error(c, &pk, "instances %lu is outside 1..%d (the instances '%s' lists)",
				    (unsigned long)n, g->n_instances, g->name);
			return;
		}
		ST_NOTICE("control: %s instances %lu of %d (was %u)", g->name, (unsigned long)n,
			  g->n_instances, old_n);
	} else if (strcmp(cmd, "chaos") == 0) {
		struct dp_chaos_params fxp;
		uint64_t word;
		char d[32], j[32], lb[64];

		if (chaos_request(app, g, req, &word, &fxp, why, sizeof(why)) != 0) {
			reply_error(c, &pk, "%s", why);
			return;
		}
		dp_group_set_chaos(g, word, &fxp);
		dp_chaos_param_fmt(&fxp, "delay", d, sizeof(d));
		dp_chaos_param_fmt(&fxp, "jitter", j, sizeof(j));
		dp_chaos_param_fmt(&fxp, "loss_burst", lb, sizeof(lb));
		ST_NOTICE("control: %s chaos loss %g down %d%s delay %s jitter %s %s loss_burst %s "
			  "duplicate %g corrupt %g", g->name,
			  (double)dp_chaos_loss_thr(word) / 4294967296.0, dp_chaos_down(word),
			  dp_chaos_respread(word) ? " (respread)" : "", d, j,
			  dp_chaos_dist_names[fxp.dist], lb, fxp.duplicate, fxp.corrupt);
	} else if (strcmp(cmd, "chaos_off") == 0) {
		dp_group_set_chaos(g, 0, NULL);
		ST_NOTICE("control: %s chaos off", g->name);
	} else {
		__atomic_store_n(&g->enabled, strcmp(cmd, "enable") == 0, __ATOMIC_RELAXED);
		ST_NOTICE("control: %s %sd", g->name, cmd);
	}
	{
		struct dp_counters sum;

		dp_stats_sum(app, &sum);
		msgpack_pack_map(&pk, 2);
		st_wire_pack_cstr(&pk, "ok");
		msgpack_pack_true(&pk);
		st_wire_pack_cstr(&pk, "group");
		pack_group(&pk, app, g, &sum.group[g - app->groups], &c->lease[g - app->groups]);
	}
	c->handled++;
}

void dp_control_expire(struct dp_control *c, struct dp_app *app, uint64_t now_ns)
{
	for (int i = 0; i < app->n_groups; i++) {
		struct dp_lease *l = &c->lease[i];

		if (!l->on || now_ns < l->deadline)
			continue;
		l->on = false;
		c->reverted++;
		if (dp_group_set_share(&app->groups[i], l->share, l->offset) == 0) {
			ST_NOTICE("control: %s share back to %g offset %g: its revert_after ran out",
				  app->groups[i].name, l->share, l->offset);
			continue;
		}
		/* A reload moved the offset under the lease and the saved
		 * share no longer fits there (or the group samples packets
		 * now): what fits, never the lease's share left for good. */
		{
			double sh = l->share < 1.0 - l->offset ? l->share : 1.0 - l->offset;
			double off = l->offset;

			if (dp_group_set_share(&app->groups[i], sh, off) != 0) {
				sh = l->share;
				off = 0;
				(void)dp_group_set_share(&app->groups[i], sh, off);
			}
			ST_WARN("control: %s share back to %g offset %g: its revert_after ran out, and "
				"the saved share %g does not fit at offset %g (a reload moved it)",
				app->groups[i].name, sh, off, l->share, l->offset);
		}
	}
}

void dp_control_poll(struct dp_control *c, struct dp_app *app, const struct dp_kpi *kpi)
{
	for (;;) {
		zmq_msg_t msg;
		msgpack_object req;
		struct st_wire_error err;
		msgpack_packer pk;
		int more = 0;
		size_t more_len = sizeof(more);

		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, c->rep, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&msg);
			return;
		}
		zmq_getsockopt(c->rep, ZMQ_RCVMORE, &more, &more_len);
		st_wbuf_reset(&c->out);
		msgpack_packer_init(&pk, &c->out, st_wbuf_mp_write);
		if (more) {
			/* Drain the other frames: one request is one frame. */
			while (more) {
				zmq_msg_t part;

				zmq_msg_init(&part);
				zmq_msg_recv(&part, c->rep, 0);
				zmq_msg_close(&part);
				zmq_getsockopt(c->rep, ZMQ_RCVMORE, &more, &more_len);
			}
			reply_error(c, &pk, "a request is one frame holding one msgpack map");
		} else if (zmq_msg_size(&msg) > CTL_MAX_SCENARIO) {
			reply_error(c, &pk, "request of %zu bytes: at most %d (chaos_scenario: %u)",
				    zmq_msg_size(&msg), CTL_MAX_REQUEST, CTL_MAX_SCENARIO);
		} else if (st_wire_parse(zmq_msg_data(&msg), zmq_msg_size(&msg), NULL, &c->zone,
					 &req, &err) != 0) {
			char why[200];

			reply_error(c, &pk, "bad request: %s", st_wire_error_fmt(&err, why, sizeof(why)));
		} else if (zmq_msg_size(&msg) > CTL_MAX_REQUEST && !is_scenario(&req)) {
			reply_error(c, &pk, "request of %zu bytes: at most %d (chaos_scenario: %u)",
				    zmq_msg_size(&msg), CTL_MAX_REQUEST, CTL_MAX_SCENARIO);
		} else {
			handle(c, app, kpi, &req);
		}
		msgpack_zone_clear(&c->zone);
		zmq_msg_close(&msg);
		if (c->out.oom) {
			/* {"ok": false, "error": "out of memory"}: a REP socket
			 * that sends nothing never receives again */
			static const char oom[] = "\x82\xa2" "ok" "\xc2\xa5" "error" "\xad" "out of memory";

			if (zmq_send(c->rep, oom, sizeof(oom) - 1, 0) < 0)
				ST_WARN("control: reply not sent");
		} else if (zmq_send(c->rep, c->out.data, c->out.len, 0) < 0) {
			ST_WARN("control: reply not sent");
		}
	}
}
