#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mempool.h>

#include "clock.h"
#include "http.h"
#include "http_metrics.h"
#include "prom.h"
#include "reload.h"
#include "stats.h"

#define PUBLISH_PERIOD_NS (100 * ST_NS_PER_MS)
#define N_POOLS 4

/* What /metrics shows: a copy made on the main lcore. */
struct dp_http_snap {
	uint64_t t_ns;			/* wall clock when taken */
	uint64_t mono_ns;		/* the same on the monotonic clock (/healthz) */
	struct dp_counters c;
	uint64_t kpi_sent, kpi_dropped, kpi_late, kpi_lat_failed;
	uint64_t clients[4];	/* sent, dropped, shortened, failed (clients.h) */
	uint64_t ctl_handled, ctl_rejected;
	uint64_t reloads_applied, reloads_refused;
	unsigned int pool_in_use[N_POOLS], pool_size[N_POOLS];
	uint32_t group_enabled[DP_MAX_SHADOWS];
	double group_share[DP_MAX_SHADOWS];
};

struct dp_http {
	struct dp_app *app;
	const struct dp_kpi *kpi;
	const struct dp_control *ctl;
	struct st_http *http;
	pthread_mutex_t mu;		/* guards cur */
	int cur;			/* -1: nothing published yet */
	struct dp_http_snap buf[2];
	uint64_t last_mono;
	/* The copies counters as last published (this lcore's): a copy is
	 * counted when made and taken back when a TX queue or chaos loses it,
	 * which a sum may fall between -- published never lower, as a
	 * Prometheus counter must be ([0] mirrored, [1] injected). So a copy
	 * lost after a scrape that counted it stays counted here until new
	 * copies pass it (the final counters and `stats` are exact). */
	uint64_t copies_hw[2][DP_MAX_SHADOWS], bytes_hw[2][DP_MAX_SHADOWS];
	/* Immutable once the server runs: read by the HTTP threads. */
	char port_name[DP_MAX_PORTS][64], port_role[DP_MAX_PORTS][8];
	char group_name[DP_MAX_SHADOWS][64];
	int n_ports, n_groups;
	uint64_t flows_max, tcp_max;	/* the tables' sizes, all workers */
	const char *pool_name[N_POOLS];
	struct rte_mempool *pool[N_POOLS];
};

/* *v, never below what was published before (*hw). */
static void monotonic(uint64_t *v, uint64_t *hw)
{
	if (*v < *hw)
		*v = *hw;
	else
		*hw = *v;
}

void dp_http_round(struct dp_http *h, uint64_t mono_ns)
{
	struct dp_http_snap *s;
	int spare;

	if (h == NULL || (h->cur >= 0 && mono_ns - h->last_mono < PUBLISH_PERIOD_NS))
		return;
	h->last_mono = mono_ns;
	/* Only this lcore writes the buffers, and never the current one. */
	spare = h->cur == 0 ? 1 : 0;
	s = &h->buf[spare];
	s->t_ns = st_wall_ns();
	s->mono_ns = st_mono_ns();
	dp_stats_sum(h->app, &s->c);
	for (int g = 0; g < h->n_groups; g++) {
		struct dp_group_counters *gc[2] = { &s->c.group[g], &s->c.inject[g] };

		for (int k = 0; k < 2; k++) {
			monotonic(&gc[k]->copies, &h->copies_hw[k][g]);
			monotonic(&gc[k]->copy_bytes, &h->bytes_hw[k][g]);
		}
	}
	s->kpi_sent = h->kpi->sent;
	s->kpi_dropped = h->kpi->dropped;
	s->kpi_late = h->kpi->workers_late;
	s->kpi_lat_failed = h->kpi->lat_failed;
	s->clients[0] = h->kpi->clients.sent;
	s->clients[1] = h->kpi->clients.dropped;
	s->clients[2] = h->kpi->clients.shortened;
	s->clients[3] = h->kpi->clients.failed;
	s->ctl_handled = h->ctl->handled;
	s->ctl_rejected = h->ctl->rejected;
	s->reloads_applied = h->ctl->reload ? h->ctl->reload->done : 0;
	s->reloads_refused = h->ctl->reload ? h->ctl->reload->refused : 0;
	for (int i = 0; i < N_POOLS; i++) {
		s->pool_in_use[i] = h->pool[i] ? rte_mempool_in_use_count(h->pool[i]) : 0;
		s->pool_size[i] = h->pool[i] ? h->pool[i]->size : 0;
	}
	for (int g = 0; g < h->n_groups; g++) {
		s->group_enabled[g] = __atomic_load_n(&h->app->groups[g].enabled, __ATOMIC_RELAXED);
		s->group_share[g] = dp_group_share(&h->app->groups[g]);
	}
	if (pthread_mutex_trylock(&h->mu) != 0)
		return;	/* a reader is copying: publish next round */
	h->cur = spare;
	pthread_mutex_unlock(&h->mu);
}

/* ---- rendering, on an HTTP thread ---------------------------------- */

static void counter(struct st_wbuf *o, const char *name, const char *help, uint64_t v)
{
	st_prom_family(o, name, "counter", help);
	st_prom_sample_u64(o, name, NULL, v);
}

static void gauge(struct st_wbuf *o, const char *name, const char *help, uint64_t v)
{
	st_prom_family(o, name, "gauge", help);
	st_prom_sample_u64(o, name, NULL, v);
}

static void port_family(struct st_wbuf *o, const struct dp_http *h, const struct dp_http_snap *s,
			const char *name, const char *help, size_t off)
{
	st_prom_family(o, name, "counter", help);
	for (int i = 0; i < h->n_ports; i++) {
		const char *l[] = { "port", h->port_name[i], "role", h->port_role[i], NULL };
		uint64_t v;

		memcpy(&v, (const char *)&s->c.port[i] + off, sizeof(v));
		st_prom_sample_u64(o, name, l, v);
	}
}

static void group_family(struct st_wbuf *o, const struct dp_http *h, const struct dp_http_snap *s,
			 const char *name, const char *help, size_t off)
{
	st_prom_family(o, name, "counter", help);
	for (int g = 0; g < h->n_groups; g++) {
		const struct { const char *src; const struct dp_group_counters *gc; } rows[2] = {
			{ "mirror", &s->c.group[g] }, { "inject", &s->c.inject[g] },
		};

		for (int r = 0; r < 2; r++) {
			const char *l[] = { "group", h->group_name[g], "source", rows[r].src, NULL };
			uint64_t v;

			memcpy(&v, (const char *)rows[r].gc + off, sizeof(v));
			st_prom_sample_u64(o, name, l, v);
		}
	}
}

static void render(const struct dp_http *h, const struct dp_http_snap *s, struct st_wbuf *o)
{
	const struct dp_counters *c = &s->c;

	port_family(o, h, s, "shadowtap_dp_port_rx_packets_total", "Packets received on the port.",
		    offsetof(struct dp_port_counters, rx_pkts));
	port_family(o, h, s, "shadowtap_dp_port_rx_bytes_total", "Bytes received on the port.",
		    offsetof(struct dp_port_counters, rx_bytes));
	port_family(o, h, s, "shadowtap_dp_port_tx_packets_total", "Packets sent on the port.",
		    offsetof(struct dp_port_counters, tx_pkts));
	port_family(o, h, s, "shadowtap_dp_port_tx_bytes_total",
		    "Bytes of the packets the port's TX queue took.",
		    offsetof(struct dp_port_counters, tx_bytes));
	port_family(o, h, s, "shadowtap_dp_port_tx_full_total",
		    "Production packets the port's TX queue refused.",
		    offsetof(struct dp_port_counters, tx_full));
	port_family(o, h, s, "shadowtap_dp_port_dispatch_full_total",
		    "Packets received whose worker's dispatch ring was full.",
		    offsetof(struct dp_port_counters, dispatch_full));
	port_family(o, h, s, "shadowtap_dp_port_fragments_out_total",
		    "Fragments sent in place of frames above the MTU.",
		    offsetof(struct dp_port_counters, frags_out));
	port_family(o, h, s, "shadowtap_dp_port_too_big_total",
		    "Frames above the MTU that could not be fragmented, dropped.",
		    offsetof(struct dp_port_counters, too_big));
	group_family(o, h, s, "shadowtap_dp_group_copies_total",
		     "Copies sent to the shadow group (source: mirrored or injected traffic).",
		     offsetof(struct dp_group_counters, copies));
	group_family(o, h, s, "shadowtap_dp_group_copy_bytes_total", "Bytes of those copies.",
		     offsetof(struct dp_group_counters, copy_bytes));
	group_family(o, h, s, "shadowtap_dp_group_zero_copy_total",
		     "Copies sent as indirect mbufs, no byte copied.",
		     offsetof(struct dp_group_counters, zero_copy));
	group_family(o, h, s, "shadowtap_dp_group_rx_packets_total",
		     "Packets from the group's shadows (responses), absorbed.",
		     offsetof(struct dp_group_counters, rx_pkts));
	group_family(o, h, s, "shadowtap_dp_group_rx_bytes_total", "Bytes of those packets.",
		     offsetof(struct dp_group_counters, rx_bytes));
	st_prom_family(o, "shadowtap_dp_group_drops_total", "counter",
		       "Copies not sent to the shadow group, by reason.");
	for (int g = 0; g < h->n_groups; g++)
		for (int src = 0; src < 2; src++)
			for (int r = 0; r < DP_DROP_COUNT; r++) {
				const char *l[] = { "group", h->group_name[g], "source",
						    src ? "inject" : "mirror", "reason", dp_drop_names[r],
						    NULL };

				st_prom_sample_u64(o, "shadowtap_dp_group_drops_total", l,
						   src ? c->inject[g].drops[r] : c->group[g].drops[r]);
			}
	st_prom_family(o, "shadowtap_dp_group_chaos_total", "counter",
		       "Copies still sent that chaos changed on purpose, by effect "
		       "(delayed, duplicated, corrupted).");
	for (int g = 0; g < h->n_groups; g++)
		for (int src = 0; src < 2; src++)
			for (int r = 0; r < DP_FX_COUNT; r++) {
				const char *l[] = { "group", h->group_name[g], "source",
						    src ? "inject" : "mirror", "effect",
						    dp_chaos_effect_names[r], NULL };

				st_prom_sample_u64(o, "shadowtap_dp_group_chaos_total", l,
						   src ? c->inject[g].chaos_fx[r] :
						   c->group[g].chaos_fx[r]);
			}
	st_prom_family(o, "shadowtap_dp_group_share", "gauge", "Share of flows the group gets.");
	for (int g = 0; g < h->n_groups; g++) {
		const char *l[] = { "group", h->group_name[g], NULL };

		st_prom_sample(o, "shadowtap_dp_group_share", l, s->group_share[g]);
	}
	st_prom_family(o, "shadowtap_dp_group_enabled", "gauge", "1 when the group gets copies.");
	for (int g = 0; g < h->n_groups; g++) {
		const char *l[] = { "group", h->group_name[g], NULL };

		st_prom_sample(o, "shadowtap_dp_group_enabled", l, s->group_enabled[g] ? 1 : 0);
	}
	st_prom_family(o, "shadowtap_dp_malformed_total", "counter",
		       "Packets that did not parse, by reason: never mirrored, forwarded inline.");
	for (int e = 1; e < ST_PKT_ERR_COUNT; e++) {
		const char *l[] = { "reason", st_pkt_err_str(e), NULL };

		st_prom_sample_u64(o, "shadowtap_dp_malformed_total", l, c->malformed[e]);
	}
	counter(o, "shadowtap_dp_not_ip_total", "Non-IP frames: forwarded, never mirrored.", c->not_ip);
	counter(o, "shadowtap_dp_neighbour_answers_total", "ARP/ND answers sent to shadows.",
		c->arp_replies);
	counter(o, "shadowtap_dp_neighbours_learned_total", "Shadow neighbours learned.",
		c->neigh_learned);
	counter(o, "shadowtap_dp_shadow_other_total",
		"Frames from shadow ports that are neither responses nor neighbour traffic.",
		c->shadow_other);
	counter(o, "shadowtap_dp_answers_handed_over_total",
		"Answers from instances handed to the next worker, whose flow it may know.",
		c->handed_over);
	counter(o, "shadowtap_dp_handover_full_total",
		"Answers from instances kept by their worker: the next worker's ring was full.",
		c->handover_full);
	counter(o, "shadowtap_dp_flow_table_full_total", "New flows not timed: the table was full.",
		c->flow_table_full);
	counter(o, "shadowtap_dp_flows_expired_total", "Flows forgotten after the idle timeout.",
		c->flows_expired);
	gauge(o, "shadowtap_dp_flows_active", "Flow-table entries in use, over all workers.",
	      c->flows_active);
	gauge(o, "shadowtap_dp_flows_max", "Flow-table entries allowed, over all workers.",
	      h->flows_max);
	gauge(o, "shadowtap_dp_tcp_sessions_active",
	      "TCP sessions tracked towards the shadows, over all workers.", c->tcp_sessions_active);
	gauge(o, "shadowtap_dp_tcp_sessions_max", "TCP sessions allowed, over all workers.",
	      h->tcp_max);
	counter(o, "shadowtap_dp_tcp_acks_total", "ACKs the dataplane sent shadows for their data.",
		c->tcp_acks);
	counter(o, "shadowtap_dp_tcp_ack_no_mbuf_total", "ACKs not sent: no mbuf.", c->tcp_ack_nombuf);
	counter(o, "shadowtap_dp_tcp_send_no_mbuf_total",
		"Sends of a queued segment put off for want of an mbuf (it stays queued).",
		c->tcp_send_nombuf);
	counter(o, "shadowtap_dp_tcp_send_tx_full_total",
		"Sends of a queued segment the TX queue refused (it stays queued, sent again).",
		c->tcp_send_tx_full);
	counter(o, "shadowtap_dp_tcp_retransmits_total", "Segments sent to a shadow again.",
		c->tcp_retrans);
	counter(o, "shadowtap_dp_tcp_acks_elided_total", "Client pure ACKs not copied.",
		c->tcp_acks_elided);
	counter(o, "shadowtap_dp_tcp_shadow_resets_total", "TCP sessions a shadow reset.",
		c->tcp_shadow_rst);
	counter(o, "shadowtap_dp_tcp_syn_again_total", "Client SYNs sent again, not copied again.",
		c->tcp_syn_again);
	counter(o, "shadowtap_dp_tcp_segments_again_total",
		"Client segments sent again whose bytes the shadow had or were queued: not copied again.",
		c->tcp_seg_again);
	counter(o, "shadowtap_dp_tcp_given_up_total",
		"TCP sessions removed after 12 timeouts without the shadow's ACK moving.",
		c->tcp_given_up);
	counter(o, "shadowtap_dp_fragments_total", "IP fragments seen.", c->frag_seen);
	counter(o, "shadowtap_dp_fragments_first_total", "First fragments (offset 0).", c->frag_first);
	counter(o, "shadowtap_dp_fragments_held_total", "Fragments held for their first one.",
		c->frag_held);
	counter(o, "shadowtap_dp_fragments_released_total", "Held fragments teed after their first.",
		c->frag_released);
	counter(o, "shadowtap_dp_fragments_expired_total", "Datagrams incomplete at frag_timeout.",
		c->frag_expired);
	counter(o, "shadowtap_dp_fragments_held_expired_total",
		"Held fragments freed unsent at frag_timeout.", c->frag_held_expired);
	counter(o, "shadowtap_dp_fragments_table_full_total",
		"Fragments of datagrams the table had no room for.", c->frag_table_full);
	counter(o, "shadowtap_dp_fragments_hold_full_total", "Fragments not held: a limit was reached.",
		c->frag_hold_full);
	st_prom_family(o, "shadowtap_dp_kpi_messages_total", "counter",
		       "KPI snapshots: sent, or dropped because ZeroMQ could not queue them.");
	{
		const char *l1[] = { "result", "sent", NULL }, *l2[] = { "result", "dropped", NULL };

		st_prom_sample_u64(o, "shadowtap_dp_kpi_messages_total", l1, s->kpi_sent);
		st_prom_sample_u64(o, "shadowtap_dp_kpi_messages_total", l2, s->kpi_dropped);
	}
	counter(o, "shadowtap_dp_kpi_windows_late_total", "Timing windows a worker did not hand over.",
		s->kpi_late);
	counter(o, "shadowtap_dp_kpi_histograms_failed_total", "Histograms that could not be encoded.",
		s->kpi_lat_failed);
	st_prom_family(o, "shadowtap_dp_clients_messages_total", "counter",
		       "clients.<service> messages (client_key): sent; dropped because ZeroMQ could not "
		       "queue them; shortened (fewer clients listed to fit 1 MiB); failed (not encoded).");
	{
		static const char *const res[] = { "sent", "dropped", "shortened", "failed" };

		for (int i = 0; i < 4; i++) {
			const char *l[] = { "result", res[i], NULL };

			st_prom_sample_u64(o, "shadowtap_dp_clients_messages_total", l, s->clients[i]);
		}
	}
	st_prom_family(o, "shadowtap_dp_control_requests_total", "counter",
		       "Control requests, handled or rejected.");
	{
		const char *l1[] = { "result", "handled", NULL }, *l2[] = { "result", "rejected", NULL };

		st_prom_sample_u64(o, "shadowtap_dp_control_requests_total", l1, s->ctl_handled);
		st_prom_sample_u64(o, "shadowtap_dp_control_requests_total", l2, s->ctl_rejected);
	}
	st_prom_family(o, "shadowtap_dp_reloads_total", "counter",
		       "Config reloads (SIGHUP, control reload): applied, or refused and nothing "
		       "changed.");
	{
		const char *l1[] = { "result", "applied", NULL }, *l2[] = { "result", "refused", NULL };

		st_prom_sample_u64(o, "shadowtap_dp_reloads_total", l1, s->reloads_applied);
		st_prom_sample_u64(o, "shadowtap_dp_reloads_total", l2, s->reloads_refused);
	}
	st_prom_family(o, "shadowtap_dp_mbufs_in_use", "gauge", "Mbufs taken from each pool.");
	for (int i = 0; i < N_POOLS; i++) {
		const char *l[] = { "pool", h->pool_name[i], NULL };

		if (h->pool[i] != NULL)
			st_prom_sample(o, "shadowtap_dp_mbufs_in_use", l, s->pool_in_use[i]);
	}
	st_prom_family(o, "shadowtap_dp_mbufs", "gauge", "Mbufs in each pool.");
	for (int i = 0; i < N_POOLS; i++) {
		const char *l[] = { "pool", h->pool_name[i], NULL };

		if (h->pool[i] != NULL)
			st_prom_sample(o, "shadowtap_dp_mbufs", l, s->pool_size[i]);
	}
	st_prom_family(o, "shadowtap_dp_counters_timestamp_seconds", "gauge",
		       "When the main lcore summed these counters.");
	st_prom_sample(o, "shadowtap_dp_counters_timestamp_seconds", NULL, (double)s->t_ns / 1e9);
}

static void h_metrics(void *arg, const struct st_http_req *req, struct st_http_resp *resp)
{
	struct dp_http *h = arg;
	struct st_http_counters hc;
	/* aligned as its counters are (64: dp_counters) */
	struct dp_http_snap *s = aligned_alloc(_Alignof(struct dp_http_snap),
					       RTE_ALIGN_CEIL(sizeof(*s), _Alignof(struct dp_http_snap)));
	bool have;

	(void)req;
	if (s == NULL) {
		st_http_error(resp, 500, "out of memory");
		return;
	}
	pthread_mutex_lock(&h->mu);
	have = h->cur >= 0;
	if (have)
		*s = h->buf[h->cur];
	pthread_mutex_unlock(&h->mu);
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
	if (have)
		render(h, s, &resp->body);
	st_http_get_counters(h->http, &hc);
	counter(&resp->body, "shadowtap_dp_http_requests_total", "HTTP requests received.",
		hc.requests);
	free(s);
}

static void h_healthz(void *arg, const struct st_http_req *req, struct st_http_resp *resp)
{
	struct dp_http *h = arg;
	uint64_t t = 0;

	(void)req;
	pthread_mutex_lock(&h->mu);
	if (h->cur >= 0)
		t = h->buf[h->cur].mono_ns;
	pthread_mutex_unlock(&h->mu);
	/* The main lcore publishes every 100 ms: older than 5 s, it is stuck
	 * (the monotonic clock: a step of the wall clock says nothing). */
	if (t == 0 || st_mono_ns() - t > 5 * ST_NS_PER_S)
		st_http_error(resp, 503, "the main lcore has not published counters for 5 s");
	else
		st_wbuf_printf(&resp->body, "{\"status\":\"ok\"}\n");
}

static const struct st_http_route routes[] = {
	{ ST_HTTP_GET, "/metrics", h_metrics, false },
	{ ST_HTTP_GET, "/healthz", h_healthz, true },
};

/* The server's settings from the [dataplane] keys. */
static void http_config(const struct dp_config *cfg, struct st_http_config *hc)
{
	st_http_config_defaults(hc);
	snprintf(hc->endpoint, sizeof(hc->endpoint), "%s", cfg->http_endpoint);
	snprintf(hc->token_file, sizeof(hc->token_file), "%s", cfg->http_token_file);
	snprintf(hc->tls_cert, sizeof(hc->tls_cert), "%s", cfg->http_tls_cert);
	snprintf(hc->tls_key, sizeof(hc->tls_key), "%s", cfg->http_tls_key);
	snprintf(hc->tls_client_ca, sizeof(hc->tls_client_ca), "%s", cfg->http_tls_client_ca);
	hc->max_body = 1024;	/* nothing here takes a body */
	hc->max_conns = 16;
}

int dp_http_check(const struct dp_config *cfg, struct st_perr *err)
{
	struct st_http_config hc;

	http_config(cfg, &hc);
	return st_http_check(&hc, err);
}

struct dp_http *dp_http_start(struct dp_app *app, const struct dp_kpi *kpi,
			      const struct dp_control *ctl, struct st_perr *err)
{
	struct st_http_config hc;
	struct dp_http *h;

	http_config(&app->cfg, &hc);
	errno = 0;
	if (st_http_config_off(&hc))
		return NULL;
	h = aligned_alloc(_Alignof(struct dp_http), RTE_ALIGN_CEIL(sizeof(*h), _Alignof(struct dp_http)));
	if (h != NULL)
		memset(h, 0, sizeof(*h));
	if (h == NULL || pthread_mutex_init(&h->mu, NULL) != 0) {
		free(h);
		snprintf(err->msg, sizeof(err->msg), "http: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	h->app = app;
	h->kpi = kpi;
	h->ctl = ctl;
	h->cur = -1;
	h->n_ports = app->n_ports;
	h->n_groups = app->n_groups;
	h->flows_max = (uint64_t)app->cfg.flow_table_size * app->n_workers;
	h->tcp_max = (uint64_t)app->cfg.tcp_sessions * app->n_workers;
	for (int i = 0; i < app->n_ports; i++) {
		snprintf(h->port_name[i], sizeof(h->port_name[i]), "%s", app->ports[i].name);
		snprintf(h->port_role[i], sizeof(h->port_role[i]), "%s",
			 dp_port_role_name(app->port_roles[i]));
	}
	for (int g = 0; g < app->n_groups; g++)
		snprintf(h->group_name[g], sizeof(h->group_name[g]), "%s", app->groups[g].name);
	h->pool_name[0] = "rx";
	h->pool[0] = app->pool;
	h->pool_name[1] = "rx_big";
	h->pool[1] = app->big_pool;
	h->pool_name[2] = "copies";
	h->pool[2] = app->copy_pool;
	h->pool_name[3] = "tcp_queue";
	h->pool[3] = app->tcpq_pool;
	dp_http_round(h, st_mono_ns());
	h->http = st_http_start(&hc, routes, sizeof(routes) / sizeof(routes[0]), h, err);
	if (h->http == NULL) {
		int e = errno;

		pthread_mutex_destroy(&h->mu);
		free(h);
		errno = e ? e : EINVAL;
		return NULL;
	}
	return h;
}

void dp_http_stop(struct dp_http *h)
{
	if (h == NULL)
		return;
	st_http_stop(h->http);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

uint16_t dp_http_port(const struct dp_http *h)
{
	return st_http_port(h->http);
}
