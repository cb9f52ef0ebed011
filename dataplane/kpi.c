#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_pause.h>
#include <zmq.h>

#include "chaos_report.h"
#include "clock.h"
#include "kpi.h"
#include "log.h"
#include "stats.h"
#include "worker.h"

static struct st_hist *hist_alloc(int socket)
{
	size_t sz = st_hist_size(DP_HIST_LOWEST, DP_HIST_HIGHEST, DP_HIST_SIGFIGS);
	void *mem = rte_zmalloc_socket("st_hist", sz, RTE_CACHE_LINE_SIZE, socket);

	if (mem == NULL || st_hist_init(mem, sz, DP_HIST_LOWEST, DP_HIST_HIGHEST,
					DP_HIST_SIGFIGS) != 0) {
		rte_free(mem);
		return NULL;
	}
	return mem;
}

int dp_kpi_worker_init(struct dp_worker *w, int socket)
{
	for (int e = 0; e < 2; e++) {
		for (int t = 0; t < DP_MAX_TARGETS; t++) {
			w->ts[e][t].lat = hist_alloc(socket);
			w->ts[e][t].conn = hist_alloc(socket);
			if (w->ts[e][t].lat == NULL || w->ts[e][t].conn == NULL)
				return -ENOMEM;
		}
	}
	return 0;
}

void dp_kpi_worker_fini(struct dp_worker *w)
{
	for (int e = 0; e < 2; e++) {
		for (int t = 0; t < DP_MAX_TARGETS; t++) {
			rte_free(w->ts[e][t].lat);
			rte_free(w->ts[e][t].conn);
			w->ts[e][t].lat = w->ts[e][t].conn = NULL;
		}
	}
}

int dp_kpi_init(struct dp_kpi *k, struct dp_app *app, void *zctx, const char *endpoint)
{
	memset(k, 0, sizeof(*k));
	st_wbuf_init(&k->msg);
	for (int t = 0; t < DP_MAX_TARGETS; t++) {
		k->merged[t] = st_hist_create(DP_HIST_LOWEST, DP_HIST_HIGHEST, DP_HIST_SIGFIGS);
		if (k->merged[t] == NULL)
			return -ENOMEM;
	}
	k->enc_cap = st_hist_encode_bound(k->merged[0]);
	k->enc = malloc(k->enc_cap);
	if (k->enc == NULL)
		return -ENOMEM;
	k->t0 = st_wall_ns();
	/* the first window starts with the chaos the config set */
	for (int g = 0; g < app->n_groups && g < DP_MAX_SHADOWS; g++) {
		k->chaos_seq_prev[g] = __atomic_load_n(&app->groups[g].chaos_seq, __ATOMIC_ACQUIRE);
		k->chaos_prev_on[g] = dp_chaos_report(app, &app->groups[g], &k->chaos_prev[g]);
	}
	if (dp_clients_init(&k->clients, &app->cfg) != 0)
		return -ENOMEM;
	if (endpoint == NULL || endpoint[0] == '\0')
		return 0;
	k->pub = zmq_socket(zctx, ZMQ_PUB);
	if (k->pub == NULL) {
		ST_ERR("zmq_socket: %s", zmq_strerror(zmq_errno()));
		return -zmq_errno();
	}
	{
		/* A second to flush the last window at exit. */
		int hwm = (int)app->cfg.kpi_hwm, linger = 1000;

		zmq_setsockopt(k->pub, ZMQ_SNDHWM, &hwm, sizeof(hwm));
		zmq_setsockopt(k->pub, ZMQ_LINGER, &linger, sizeof(linger));
	}
	return 0;
}

int dp_kpi_bind(struct dp_kpi *k, const char *endpoint)
{
	if (k->pub == NULL)
		return 0;
	if (zmq_bind(k->pub, endpoint) != 0) {
		ST_ERR("cannot bind the KPI socket to %s: %s", endpoint,
		       zmq_strerror(zmq_errno()));
		return -zmq_errno();
	}
	return 0;
}

void dp_kpi_fini(struct dp_kpi *k)
{
	if (k->pub != NULL)
		zmq_close(k->pub);
	k->pub = NULL;
	for (int t = 0; t < DP_MAX_TARGETS; t++) {
		st_hist_destroy(k->merged[t]);
		k->merged[t] = NULL;
	}
	free(k->enc);
	k->enc = NULL;
	st_wbuf_free(&k->msg);
	dp_clients_fini(&k->clients);
}

static void send_snapshot(struct dp_kpi *k, struct st_kpi *s)
{
	char topic[ST_WIRE_TOPIC_MAX];
	int tl;

	if (k->pub == NULL)
		return;
	s->seq = ++k->seq;
	tl = st_kpi_topic(s, topic, sizeof(topic));
	if (tl < 0 || st_kpi_encode(s, &k->msg) != 0) {
		ST_WARN("KPI snapshot for %s not encodable", s->target);
		k->seq--;
		return;
	}
	if (zmq_send(k->pub, topic, (size_t)tl, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(k->pub, k->msg.data, k->msg.len, ZMQ_DONTWAIT) < 0) {
		/* seq still advances: a subscriber sees the gap. */
		k->dropped++;
		return;
	}
	k->sent++;
}

/* An empty sum that merges histograms into hist. */
static void sum_start(struct dp_tstats *sum, struct st_hist *hist)
{
	memset(sum, 0, sizeof(*sum));
	st_hist_reset(hist);
	sum->lat = hist;
}

/* Adds one target's closed window, over the workers that handed it over,
 * into sum, and readies the window for reuse. */
static void sum_add(struct dp_tstats *sum, struct dp_app *app, int t, uint32_t old,
		    const bool *ready)
{
	for (unsigned int i = 0; i < app->n_workers; i++) {
		struct dp_tstats *ts;

		if (!ready[i])
			continue;
		ts = &app->workers[i]->ts[old & 1][t];
		sum->requests += ts->requests;
		sum->responses += ts->responses;
		sum->timeouts += ts->timeouts;
		sum->resets += ts->resets;
		sum->icmp_errors += ts->icmp_errors;
		sum->connects += ts->connects;
		sum->tx_pkts += ts->tx_pkts;
		sum->tx_bytes += ts->tx_bytes;
		sum->rx_pkts += ts->rx_pkts;
		sum->rx_bytes += ts->rx_bytes;
		st_hist_add(sum->lat, ts->lat);
		/* Ready for reuse when this window comes round again. */
		{
			struct st_hist *lat = ts->lat, *conn = ts->conn;

			st_hist_reset(lat);
			st_hist_reset(conn);
			memset(ts, 0, sizeof(*ts));
			ts->lat = lat;
			ts->conn = conn;
		}
	}
}

static void fill(struct st_kpi *s, const struct dp_app *app, const char *service,
		 const char *target, enum st_role role, uint32_t instances,
		 const struct dp_tstats *ts, uint64_t t0, uint64_t t1)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->src, sizeof(s->src), "%s", app->cfg.publisher_id);
	snprintf(s->service, sizeof(s->service), "%s", service);
	snprintf(s->target, sizeof(s->target), "%s", target);
	s->role = role;
	s->instances = instances;
	s->t0 = t0;
	s->t1 = t1;
	s->pkts = ts->tx_pkts;
	s->bytes = ts->tx_bytes;
	s->rx_pkts = ts->rx_pkts;
	s->rx_bytes = ts->rx_bytes;
	s->requests = ts->requests;
	s->responses = ts->responses;
	s->timeouts = ts->timeouts;
	s->resets = ts->resets;
	s->icmp_errors = ts->icmp_errors;
}

static void add_drop(struct st_kpi *s, const char *reason, uint64_t n)
{
	if (s->n_drops >= ST_KPI_MAX_DROPS)
		return;
	snprintf(s->drops[s->n_drops].reason, sizeof(s->drops[0].reason), "%s", reason);
	s->drops[s->n_drops++].count = n;
}

static void encode_lat(struct dp_kpi *k, struct st_kpi *s, const struct st_hist *h)
{
	size_t len = 0;
	int rc = st_hist_encode_v2(h, k->enc, k->enc_cap, &len);

	/* The bound grows with the buckets in use: grow once, keep it. */
	if (rc == -ENOSPC) {
		uint8_t *bigger = realloc(k->enc, len);

		if (bigger != NULL) {
			k->enc = bigger;
			k->enc_cap = len;
			rc = st_hist_encode_v2(h, k->enc, k->enc_cap, &len);
		}
	}
	if (rc == 0) {
		s->lat = k->enc;
		s->lat_len = len;
	} else {
		k->lat_failed++;
	}
}

/* Whether group g's closing window ran under chaos, and which: the
 * chaos in force now, or the one at the window's start when it was on then
 * and is off now. A change and back within one window (chaos_seq moved)
 * counts too, with the setting at the end. Moves the start to now. */
static bool window_chaos(struct dp_kpi *k, const struct dp_app *app, int g, struct st_chaos *out)
{
	const struct dp_group *gr = &app->groups[g];
	uint32_t seq = __atomic_load_n(&gr->chaos_seq, __ATOMIC_ACQUIRE);
	bool on = dp_chaos_report(app, gr, out);
	bool under = on || k->chaos_prev_on[g] || seq != k->chaos_seq_prev[g];

	if (!on && k->chaos_prev_on[g]) {
		struct st_chaos now = *out;

		*out = k->chaos_prev[g];
		k->chaos_prev[g] = now;
	} else {
		k->chaos_prev[g] = *out;
	}
	k->chaos_prev_on[g] = on;
	k->chaos_seq_prev[g] = seq;
	return under;
}

void dp_kpi_interval(struct dp_kpi *k, struct dp_app *app)
{
	struct st_chaos chaos[DP_MAX_SHADOWS];
	bool chaos_on[DP_MAX_SHADOWS];
	uint32_t old = app->epoch, next = old + 1;
	bool ready[DP_MAX_WORKERS];
	uint64_t t1 = st_wall_ns(), deadline;
	struct dp_counters cur;
	struct dp_tstats sum;
	struct st_kpi s;

	__atomic_store_n(&app->epoch, next, __ATOMIC_RELEASE);
	/* A worker acknowledges within one loop iteration (microseconds).
	 * One that has not after 100 ms keeps its window for next time. */
	deadline = rte_rdtsc() + app->tsc_hz / 10;
	for (unsigned int i = 0; i < app->n_workers; i++) {
		while (__atomic_load_n(&app->workers[i]->epoch_seen, __ATOMIC_ACQUIRE) != next &&
		       rte_rdtsc() < deadline)
			rte_pause();
		ready[i] = __atomic_load_n(&app->workers[i]->epoch_seen, __ATOMIC_ACQUIRE) == next;
		if (!ready[i])
			k->workers_late++;
	}
	dp_stats_sum(app, &cur);
	for (int g = 0; g < app->n_groups; g++)
		chaos_on[g] = window_chaos(k, app, g, &chaos[g]);

	sum_start(&sum, k->merged[DP_TARGET_PROD]);
	sum_add(&sum, app, DP_TARGET_PROD, old, ready);
	fill(&s, app, app->cfg.service, "prod", ST_ROLE_PROD, app->cfg.prod_instances, &sum,
	     k->t0, t1);
	if (app->prod >= 0) {
		add_drop(&s, "tx_full", cur.port[app->prod].tx_full - k->prev.port[app->prod].tx_full);
		/* above the prod port's MTU and not fragmentable (egress.c) */
		add_drop(&s, "too_big", cur.port[app->prod].too_big - k->prev.port[app->prod].too_big);
	}
	encode_lat(k, &s, sum.lat);
	send_snapshot(k, &s);
	/* Production again under every other service name a group reports
	 * under: each plan the analyzer judges sees its production. */
	for (int g = 0; g < app->n_groups; g++) {
		bool seen = strcmp(app->groups[g].service, app->cfg.service) == 0;

		for (int h = 0; h < g && !seen; h++)
			seen = strcmp(app->groups[h].service, app->groups[g].service) == 0;
		if (seen)
			continue;
		snprintf(s.service, sizeof(s.service), "%s", app->groups[g].service);
		send_snapshot(k, &s);
	}

	for (int g = 0; g < app->n_groups; g++) {
		const struct dp_group *gr = &app->groups[g];
		const struct dp_group_counters *a = &k->prev.group[g], *b = &cur.group[g];

		sum_start(&sum, k->merged[DP_TARGET_GROUP(g)]);
		sum_add(&sum, app, DP_TARGET_GROUP(g), old, ready);
		fill(&s, app, gr->service, gr->name, ST_ROLE_SHADOW,
		     __atomic_load_n(&gr->instances_count, __ATOMIC_RELAXED), &sum,
		     k->t0, t1);
		for (int r = 0; r < DP_DROP_COUNT; r++)
			add_drop(&s, dp_drop_names[r], b->drops[r] - a->drops[r]);
		s.has_chaos = chaos_on[g];
		if (s.has_chaos)
			s.chaos = chaos[g];
		encode_lat(k, &s, sum.lat);
		send_snapshot(k, &s);
	}
	/* Injected traffic: one "synthetic" snapshot per service that has
	 * groups taking it, from those groups' windows only. */
	for (int g = 0; app->inject >= 0 && g < app->n_groups; g++) {
		const struct dp_group *gr = &app->groups[g];
		uint32_t inst = 0;
		bool first = true;

		if (!gr->inject)
			continue;
		for (int h = 0; h < g; h++)
			if (app->groups[h].inject && strcmp(app->groups[h].service, gr->service) == 0)
				first = false;
		if (!first)
			continue;
		sum_start(&sum, k->merged[DP_TARGET_INJ(g)]);
		for (int h = g; h < app->n_groups; h++) {
			const struct dp_group *hr = &app->groups[h];

			if (!hr->inject || strcmp(hr->service, gr->service) != 0)
				continue;
			sum_add(&sum, app, DP_TARGET_INJ(h), old, ready);
			inst += __atomic_load_n(&hr->instances_count, __ATOMIC_RELAXED);
		}
		fill(&s, app, gr->service, "synthetic", ST_ROLE_LOADGEN, inst, &sum, k->t0, t1);
		/* under chaos when any group it sums was: the first one's */
		for (int h = g; h < app->n_groups && !s.has_chaos; h++) {
			if (app->groups[h].inject && chaos_on[h] &&
			    strcmp(app->groups[h].service, gr->service) == 0) {
				s.has_chaos = true;
				s.chaos = chaos[h];
			}
		}
		for (int r = 0; r < DP_DROP_COUNT; r++) {
			uint64_t d = 0;

			for (int h = 0; h < app->n_groups; h++)
				if (app->groups[h].inject &&
				    strcmp(app->groups[h].service, gr->service) == 0)
					d += cur.inject[h].drops[r] - k->prev.inject[h].drops[r];
			add_drop(&s, dp_drop_names[r], d);
		}
		encode_lat(k, &s, sum.lat);
		send_snapshot(k, &s);
	}
	dp_clients_interval(&k->clients, app, old, ready, k->pub, &k->seq, k->t0, t1);
	k->prev = cur;
	k->t0 = t1;
}
