#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_telemetry.h>

#include "log.h"
#include "stats.h"
#include "worker.h"

/* The app the telemetry thread reads, NULL once it may be freed: DPDK
 * has no way to unregister a command, and a query can come at any time. */
static struct dp_app *tel_app;
static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;

void dp_stats_sum(const struct dp_app *app, struct dp_counters *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (unsigned int i = 0; i < app->n_workers; i++) {
		const struct dp_worker *w = app->workers[i];

		dp_counters_add(sum, &w->cnt);
		/* Levels, read from the tables themselves as the counters
		 * are read: a store per round into the worker's counters
		 * cost forward only about 3% in the bench. */
		sum->flows_active += __atomic_load_n(&w->flows.n, __ATOMIC_RELAXED);
		sum->tcp_sessions_active += __atomic_load_n(&w->tcp.n, __ATOMIC_RELAXED);
	}
}

const char *dp_port_role_name(uint32_t roles)
{
	if (roles & DP_ROLE_CLIENT)
		return "client";
	if (roles & DP_ROLE_PROD)
		return "prod";
	if (roles & DP_ROLE_INJECT)
		return "inject";
	return "shadow";
}

static uint64_t group_drops(const struct dp_group_counters *g)
{
	uint64_t n = 0;

	for (int r = 0; r < DP_DROP_COUNT; r++)
		n += g->drops[r];
	return n;
}

static uint64_t malformed(const struct dp_counters *c)
{
	uint64_t n = 0;

	for (int e = 0; e < ST_PKT_ERR_COUNT; e++)
		n += c->malformed[e];
	return n;
}

void dp_stats_line(const struct dp_app *app, const struct dp_counters *prev,
		   const struct dp_counters *cur, double secs)
{
	char line[1024];
	size_t used = 0;

#define ADD(...) do {								\
	int w_ = snprintf(line + used, sizeof(line) - used, __VA_ARGS__);	\
	if (w_ > 0 && (size_t)w_ < sizeof(line) - used)				\
		used += (size_t)w_;						\
} while (0)

	if (secs <= 0)
		secs = 1;
	for (int i = 0; i < app->n_ports; i++) {
		const struct dp_port_counters *a = &prev->port[i], *b = &cur->port[i];

		ADD("%s%s rx %.0f tx %.0f pps", used ? " | " : "", dp_port_role_name(app->port_roles[i]),
		    (double)(b->rx_pkts - a->rx_pkts) / secs,
		    (double)(b->tx_pkts - a->tx_pkts) / secs);
		if (b->tx_full != a->tx_full)
			ADD(" tx_full %" PRIu64, b->tx_full - a->tx_full);
	}
	for (int g = 0; g < app->n_groups; g++) {
		const struct dp_group_counters *a = &prev->group[g], *b = &cur->group[g];

		/* a copy is counted when made and taken back when a TX queue
		 * or chaos loses it, maybe after this sum: never below 0 */
		ADD(" | %s copies %.0f pps drops %" PRIu64, app->groups[g].name,
		    b->copies > a->copies ? (double)(b->copies - a->copies) / secs : 0.0,
		    group_drops(b) - group_drops(a));
	}
	if (malformed(cur) != malformed(prev))
		ADD(" | malformed %" PRIu64, malformed(cur) - malformed(prev));
	if (cur->flows_active | cur->tcp_sessions_active)
		ADD(" | flows %" PRIu64 " tcp %" PRIu64, cur->flows_active, cur->tcp_sessions_active);
#undef ADD
	st_log(ST_LOG_NOTICE, "%s", line);
}

void dp_stats_final(const struct dp_app *app, const struct dp_counters *c, FILE *out)
{
	fprintf(out, "final counters:\n");
	for (int i = 0; i < app->n_ports; i++) {
		const struct dp_port_counters *p = &c->port[i];
		struct rte_eth_stats st;

		/* pmd_tx: what the port itself says it sent, copies included
		 * (they are counted per group, not in tx) */
		if (rte_eth_stats_get(app->ports[i].id, &st) != 0)
			st.opackets = 0;
		fprintf(out, "  port %s (%s): rx %" PRIu64 " pkts %" PRIu64 " bytes, tx %" PRIu64
			" pkts %" PRIu64 " bytes, tx_full %" PRIu64 ", dispatch_full %" PRIu64
			", mtu %u, frags_out %" PRIu64 ", too_big %" PRIu64 ", pmd_tx %" PRIu64 "\n",
			app->ports[i].name, dp_port_role_name(app->port_roles[i]), p->rx_pkts,
			p->rx_bytes, p->tx_pkts, p->tx_bytes, p->tx_full, p->dispatch_full, app->ports[i].mtu, p->frags_out, p->too_big,
			st.opackets);
	}
	for (int g = 0; g < app->n_groups; g++) {
		const struct dp_group_counters *gc = &c->group[g];

		fprintf(out, "  shadow %s: copies %" PRIu64 " (%" PRIu64 " bytes, %" PRIu64
			" zero-copy), from shadows %" PRIu64 " pkts", app->groups[g].name,
			gc->copies, gc->copy_bytes, gc->zero_copy, gc->rx_pkts);
		for (int r = 0; r < DP_DROP_COUNT; r++)
			if (gc->drops[r])
				fprintf(out, ", %s %" PRIu64, dp_drop_names[r], gc->drops[r]);
		for (int r = 0; r < DP_FX_COUNT; r++)
			if (gc->chaos_fx[r])
				fprintf(out, ", chaos_%s %" PRIu64, dp_chaos_effect_names[r],
					gc->chaos_fx[r]);
		fprintf(out, "\n");
		gc = &c->inject[g];
		if (gc->copies || group_drops(gc)) {
			fprintf(out, "  shadow %s injected: copies %" PRIu64 " (%" PRIu64 " bytes)",
				app->groups[g].name, gc->copies, gc->copy_bytes);
			for (int r = 0; r < DP_DROP_COUNT; r++)
				if (gc->drops[r])
					fprintf(out, ", %s %" PRIu64, dp_drop_names[r], gc->drops[r]);
			for (int r = 0; r < DP_FX_COUNT; r++)
				if (gc->chaos_fx[r])
					fprintf(out, ", chaos_%s %" PRIu64, dp_chaos_effect_names[r],
						gc->chaos_fx[r]);
			fprintf(out, "\n");
		}
	}
	fprintf(out, "  not_ip %" PRIu64 ", neighbour answers %" PRIu64 ", learned %" PRIu64
		", other from shadows %" PRIu64 ", answers handed over %" PRIu64
		" (ring full %" PRIu64 ")\n", c->not_ip, c->arp_replies,
		c->neigh_learned, c->shadow_other, c->handed_over, c->handover_full);
	fprintf(out, "  flows: table full %" PRIu64 ", expired %" PRIu64 ", active %" PRIu64
		", tcp sessions active %" PRIu64 "\n", c->flow_table_full, c->flows_expired,
		c->flows_active, c->tcp_sessions_active);
	fprintf(out, "  frags: seen %" PRIu64 ", first %" PRIu64 ", held %" PRIu64 ", released %"
		PRIu64 ", expired %" PRIu64 ", table_full %" PRIu64 ", hold_full %" PRIu64
		", held_expired %" PRIu64 "\n", c->frag_seen, c->frag_first, c->frag_held,
		c->frag_released, c->frag_expired, c->frag_table_full, c->frag_hold_full,
		c->frag_held_expired);
	fprintf(out, "  tcp: acks to shadows %" PRIu64 " (no mbuf %" PRIu64 "), retransmits %" PRIu64
		", shadow resets %" PRIu64 ", client pure acks not copied %" PRIu64
		", client SYNs again %" PRIu64 ", given up %" PRIu64
		", client segments again %" PRIu64 ", sends put off (no mbuf %" PRIu64
		", TX full %" PRIu64 ")\n",
		c->tcp_acks, c->tcp_ack_nombuf, c->tcp_retrans, c->tcp_shadow_rst, c->tcp_acks_elided,
		c->tcp_syn_again, c->tcp_given_up, c->tcp_seg_again, c->tcp_send_nombuf,
		c->tcp_send_tx_full);
	for (int e = 1; e < ST_PKT_ERR_COUNT; e++)
		if (c->malformed[e])
			fprintf(out, "  malformed %s %" PRIu64 "\n", st_pkt_err_str(e),
				c->malformed[e]);
}

static int stats_dict(const struct dp_app *app, struct rte_tel_data *d)
{
	struct dp_counters c;
	uint64_t bad = 0;

	dp_stats_sum(app, &c);
	rte_tel_data_start_dict(d);
	for (int i = 0; i < app->n_ports; i++) {
		struct rte_tel_data *p = rte_tel_data_alloc();

		if (p == NULL)
			return -ENOMEM;
		rte_tel_data_start_dict(p);
		rte_tel_data_add_dict_string(p, "role", dp_port_role_name(app->port_roles[i]));
		rte_tel_data_add_dict_u64(p, "rx_pkts", c.port[i].rx_pkts);
		rte_tel_data_add_dict_u64(p, "rx_bytes", c.port[i].rx_bytes);
		rte_tel_data_add_dict_u64(p, "tx_pkts", c.port[i].tx_pkts);
		rte_tel_data_add_dict_u64(p, "tx_bytes", c.port[i].tx_bytes);
		rte_tel_data_add_dict_u64(p, "tx_full", c.port[i].tx_full);
		rte_tel_data_add_dict_u64(p, "mtu", app->ports[i].mtu);
		rte_tel_data_add_dict_u64(p, "frags_out", c.port[i].frags_out);
		rte_tel_data_add_dict_u64(p, "too_big", c.port[i].too_big);
		rte_tel_data_add_dict_container(d, app->ports[i].name, p, 0);
	}
	for (int e = 1; e < ST_PKT_ERR_COUNT; e++)
		bad += c.malformed[e];
	rte_tel_data_add_dict_u64(d, "malformed", bad);
	rte_tel_data_add_dict_u64(d, "not_ip", c.not_ip);
	rte_tel_data_add_dict_u64(d, "neigh_answers", c.arp_replies);
	rte_tel_data_add_dict_u64(d, "flows_active", c.flows_active);
	rte_tel_data_add_dict_u64(d, "tcp_sessions_active", c.tcp_sessions_active);
	rte_tel_data_add_dict_u64(d, "frag_seen", c.frag_seen);
	rte_tel_data_add_dict_u64(d, "frag_first", c.frag_first);
	rte_tel_data_add_dict_u64(d, "frag_held", c.frag_held);
	rte_tel_data_add_dict_u64(d, "frag_released", c.frag_released);
	rte_tel_data_add_dict_u64(d, "frag_expired", c.frag_expired);
	rte_tel_data_add_dict_u64(d, "frag_held_expired", c.frag_held_expired);
	rte_tel_data_add_dict_u64(d, "frag_table_full", c.frag_table_full);
	rte_tel_data_add_dict_u64(d, "frag_hold_full", c.frag_hold_full);
	return 0;
}

static int shadows_dict(const struct dp_app *app, struct rte_tel_data *d)
{
	struct dp_counters c;

	dp_stats_sum(app, &c);
	rte_tel_data_start_dict(d);
	for (int g = 0; g < app->n_groups; g++) {
		const struct dp_group *gr = &app->groups[g];
		const struct dp_group_counters *gc = &c.group[g];
		struct rte_tel_data *t = rte_tel_data_alloc();

		if (t == NULL)
			return -ENOMEM;
		rte_tel_data_start_dict(t);
		rte_tel_data_add_dict_string(t, "port", app->ports[gr->port_idx].name);
		rte_tel_data_add_dict_u64(t, "share_ppm",
					  (uint64_t)(dp_group_share(gr) * 1e6 + 0.5));
		rte_tel_data_add_dict_u64(t, "enabled",
					  __atomic_load_n(&gr->enabled, __ATOMIC_RELAXED));
		rte_tel_data_add_dict_u64(t, "instances", dp_group_instances(gr));
		rte_tel_data_add_dict_u64(t, "copies", gc->copies);
		rte_tel_data_add_dict_u64(t, "copy_bytes", gc->copy_bytes);
		rte_tel_data_add_dict_u64(t, "zero_copy", gc->zero_copy);
		for (int r = 0; r < DP_DROP_COUNT; r++)
			rte_tel_data_add_dict_u64(t, dp_drop_names[r], gc->drops[r]);
		for (int r = 0; r < DP_FX_COUNT; r++) {
			char k[32];

			snprintf(k, sizeof(k), "chaos_%s", dp_chaos_effect_names[r]);
			rte_tel_data_add_dict_u64(t, k, gc->chaos_fx[r]);
		}
		rte_tel_data_add_dict_container(d, gr->name, t, 0);
	}
	return 0;
}

/* A telemetry command: fill() over the app while it is there. */
static int tel_call(int (*fill)(const struct dp_app *, struct rte_tel_data *),
		    struct rte_tel_data *d)
{
	int rc = -ENODEV;

	pthread_mutex_lock(&tel_lock);
	if (tel_app != NULL)
		rc = fill(tel_app, d);
	pthread_mutex_unlock(&tel_lock);
	return rc;
}

static int tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	return tel_call(stats_dict, d);
}

static int tel_shadows(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	return tel_call(shadows_dict, d);
}

int dp_stats_telemetry_init(struct dp_app *app)
{
	int rc;

	pthread_mutex_lock(&tel_lock);
	tel_app = app;
	pthread_mutex_unlock(&tel_lock);
	rc = rte_telemetry_register_cmd("/shadowtap/stats", tel_stats,
					"Port and parse counters. Takes no parameters");
	if (rc == 0)
		rc = rte_telemetry_register_cmd("/shadowtap/shadows", tel_shadows,
						"Per shadow group: share, copies, drops by reason. Takes no parameters");
	return rc;
}

void dp_stats_telemetry_fini(void)
{
	pthread_mutex_lock(&tel_lock);
	tel_app = NULL;
	pthread_mutex_unlock(&tel_lock);
}
