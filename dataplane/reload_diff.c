#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "reload_diff.h"

/* How a key's two values are compared. */
enum kind {
	K_BYTES,	/* a scalar: equal bytes */
	K_STR,		/* a NUL-terminated string */
	K_SERVERS,	/* [dataplane] servers */
	K_INSTANCES,	/* [shadow] instances: addresses and MACs, in order */
	K_DST_MAC,
	K_CHAOS_DOWN,
	K_CHAOS_PARAM,	/* chaos_KEY: dp_chaos_param_eq on KEY */
};

/* What a changed key does to a running group (none: refused). */
enum effect {
	E_RESTART,
	E_SHARE, E_SAMPLING, E_FILTER, E_RATE, E_INSTANCES, E_ENABLED, E_CHAOS,
	E_LOG_LEVEL, E_STATS,
};

struct rule {
	const char *name;
	enum kind kind;
	size_t off, len;
	enum effect effect;
};

#define DP(f) offsetof(struct dp_config, f), sizeof(((struct dp_config *)0)->f)
#define SH(f) offsetof(struct dp_shadow_cfg, f), sizeof(((struct dp_shadow_cfg *)0)->f)

/* Every [dataplane] key: only the log level and the stats line change at
 * run time; the rest sized pools, tables, ports and lcores, or bound
 * sockets, at start. */
static const struct rule dp_rules[] = {
	{ "mode", K_BYTES, DP(mode), E_RESTART },
	{ "client_port", K_STR, DP(client_port), E_RESTART },
	{ "prod_port", K_STR, DP(prod_port), E_RESTART },
	{ "inject_port", K_STR, DP(inject_port), E_RESTART },
	{ "workers", K_BYTES, DP(workers), E_RESTART },
	{ "service", K_STR, DP(service), E_RESTART },
	{ "publisher_id", K_STR, DP(publisher_id), E_RESTART },
	{ "servers", K_SERVERS, 0, 0, E_RESTART },
	{ "kpi_endpoint", K_STR, DP(kpi_endpoint), E_RESTART },
	{ "control_endpoint", K_STR, DP(control_endpoint), E_RESTART },
	{ "interval", K_BYTES, DP(interval_ns), E_RESTART },
	{ "response_timeout", K_BYTES, DP(response_timeout_ns), E_RESTART },
	{ "mtu", K_BYTES, DP(mtu), E_RESTART },
	{ "mbufs", K_BYTES, DP(mbufs), E_RESTART },
	{ "copy_mbufs", K_BYTES, DP(copy_mbufs), E_RESTART },
	{ "rx_desc", K_BYTES, DP(rx_desc), E_RESTART },
	{ "tx_desc", K_BYTES, DP(tx_desc), E_RESTART },
	{ "flow_table_size", K_BYTES, DP(flow_table_size), E_RESTART },
	{ "tcp_sessions", K_BYTES, DP(tcp_sessions), E_RESTART },
	{ "tcp_queue", K_BYTES, DP(tcp_queue), E_RESTART },
	{ "flow_idle_timeout", K_BYTES, DP(flow_idle_ns), E_RESTART },
	{ "frag_table_size", K_BYTES, DP(frag_table_size), E_RESTART },
	{ "frag_hold", K_BYTES, DP(frag_hold), E_RESTART },
	{ "frag_timeout", K_BYTES, DP(frag_timeout_ns), E_RESTART },
	{ "idle_sleep", K_BYTES, DP(idle_sleep_ns), E_RESTART },
	{ "chaos_queue", K_BYTES, DP(chaos_queue), E_RESTART },
	/* the chaos_scenario command replaces a running scenario */
	{ "chaos_scenario", K_STR, DP(chaos_scenario), E_RESTART },
	{ "stats", K_BYTES, DP(stats), E_STATS },
	{ "timing", K_BYTES, DP(timing), E_RESTART },
	{ "client_key", K_STR, DP(client_key), E_RESTART },
	{ "client_top", K_BYTES, DP(client_top), E_RESTART },
	{ "prod_instances", K_BYTES, DP(prod_instances), E_RESTART },
	{ "kpi_hwm", K_BYTES, DP(kpi_hwm), E_RESTART },
	{ "curve_secret_key", K_STR, DP(curve_secret_key), E_RESTART },
	{ "curve_allowed_keys", K_STR, DP(curve_allowed_keys), E_RESTART },
	{ "http_endpoint", K_STR, DP(http_endpoint), E_RESTART },
	{ "http_token_file", K_STR, DP(http_token_file), E_RESTART },
	{ "http_tls_cert", K_STR, DP(http_tls_cert), E_RESTART },
	{ "http_tls_key", K_STR, DP(http_tls_key), E_RESTART },
	{ "http_tls_client_ca", K_STR, DP(http_tls_client_ca), E_RESTART },
	{ "log_level", K_STR, DP(log_level), E_LOG_LEVEL },
};

/* Every [shadow.NAME] key. The port, MTU, service and injection set up
 * queues, timing targets and KPI topics at start; the instances listed
 * were resolved on the port (instances_active picks among them). */
static const struct rule sh_rules[] = {
	{ "port", K_STR, SH(port), E_RESTART },
	{ "share", K_BYTES, SH(share), E_SHARE },
	{ "share_offset", K_BYTES, SH(share_offset), E_SHARE },
	{ "sampling", K_BYTES, SH(sampling), E_SAMPLING },
	{ "filter", K_STR, SH(filter), E_FILTER },
	{ "rate_pps", K_BYTES, SH(rate_pps), E_RATE },
	{ "rate_bps", K_BYTES, SH(rate_bps), E_RATE },
	{ "burst", K_BYTES, SH(burst_ms), E_RATE },
	{ "instances", K_INSTANCES, 0, 0, E_RESTART },
	{ "dst_mac", K_DST_MAC, 0, 0, E_RESTART },
	{ "instances_count", K_BYTES, SH(instances_count), E_INSTANCES },
	{ "instances_active", K_BYTES, SH(instances_active), E_INSTANCES },
	{ "mtu", K_BYTES, SH(mtu), E_RESTART },
	{ "enabled", K_BYTES, SH(enabled), E_ENABLED },
	{ "inject", K_BYTES, SH(inject), E_RESTART },
	{ "service", K_STR, SH(service), E_RESTART },
	{ "inject_share", K_BYTES, SH(inject_share), E_RESTART },
	{ "chaos_loss", K_BYTES, SH(chaos_loss), E_CHAOS },
	{ "chaos_down", K_CHAOS_DOWN, 0, 0, E_CHAOS },
	{ "chaos_down_respread", K_BYTES, SH(chaos_down_respread), E_CHAOS },
	{ "chaos_delay", K_CHAOS_PARAM, 0, 0, E_CHAOS },
	{ "chaos_jitter", K_CHAOS_PARAM, 0, 0, E_CHAOS },
	{ "chaos_delay_dist", K_CHAOS_PARAM, 0, 0, E_CHAOS },
	{ "chaos_delay_corr", K_CHAOS_PARAM, 0, 0, E_CHAOS },
	{ "chaos_loss_burst", K_CHAOS_PARAM, 0, 0, E_CHAOS },
	{ "chaos_duplicate", K_CHAOS_PARAM, 0, 0, E_CHAOS },
	{ "chaos_corrupt", K_CHAOS_PARAM, 0, 0, E_CHAOS },
	{ "chaos_reorder", K_CHAOS_PARAM, 0, 0, E_CHAOS },
	{ "chaos_reorder_gap", K_CHAOS_PARAM, 0, 0, E_CHAOS },
	{ "chaos_rate", K_CHAOS_PARAM, 0, 0, E_CHAOS },
	{ "chaos_flap", K_CHAOS_PARAM, 0, 0, E_CHAOS },
	{ "chaos_direction", K_CHAOS_PARAM, 0, 0, E_CHAOS },
};

#define N_DP (sizeof(dp_rules) / sizeof(dp_rules[0]))
#define N_SH (sizeof(sh_rules) / sizeof(sh_rules[0]))
_Static_assert(N_SH <= 64, "a group's changed keys are one 64-bit mask");

static const struct rule *find_rule(bool shadow, const char *key)
{
	const struct rule *t = shadow ? sh_rules : dp_rules;
	size_t n = shadow ? N_SH : N_DP;

	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].name, key) == 0)
			return &t[i];
	return NULL;
}

bool dp_reload_key_known(bool shadow, const char *key)
{
	return find_rule(shadow, key) != NULL;
}

bool dp_reload_key_runtime(bool shadow, const char *key)
{
	const struct rule *r = find_rule(shadow, key);

	return r != NULL && r->effect != E_RESTART;
}

void dp_reload_error(struct dp_reload_result *r, const char *fmt, ...)
{
	va_list ap;

	r->n_errors_total++;
	if (r->n_errors == DP_RELOAD_MAX_ERRORS)
		return;
	va_start(ap, fmt);
	vsnprintf(r->errors[r->n_errors++], DP_RELOAD_ERR_LEN, fmt, ap);
	va_end(ap);
}

static void add_changed(struct dp_reload_result *r, const char *section, const char *key)
{
	r->n_changed_total++;
	if (r->n_changed < DP_RELOAD_MAX_CHANGED)
		snprintf(r->changed[r->n_changed++], DP_RELOAD_KEY_LEN, "%s.%s", section, key);
}

static bool addr_eq(const struct st_addr *a, const struct st_addr *b)
{
	if (a->family != b->family)
		return false;
	return a->family == AF_INET ? a->v4 == b->v4 : memcmp(a->v6, b->v6, 16) == 0;
}

static bool servers_eq(const struct dp_config *a, const struct dp_config *b)
{
	if (a->n_servers != b->n_servers)
		return false;
	for (int i = 0; i < a->n_servers; i++)
		if (!addr_eq(&a->servers[i].addr, &b->servers[i].addr) ||
		    a->servers[i].port != b->servers[i].port)
			return false;
	return true;
}

static bool instances_eq(const struct dp_shadow_cfg *a, const struct dp_shadow_cfg *b)
{
	if (a->n_instances != b->n_instances)
		return false;
	for (int i = 0; i < a->n_instances; i++) {
		const struct dp_instance *x = &a->instances[i], *y = &b->instances[i];

		if (!addr_eq(&x->addr, &y->addr) || x->has_mac != y->has_mac ||
		    (x->has_mac && memcmp(x->mac, y->mac, 6) != 0))
			return false;
	}
	return true;
}

/* Whether rule r's value is the same in a and b (configs or groups). */
static bool same(const struct rule *r, const void *a, const void *b)
{
	const char *pa = (const char *)a + r->off, *pb = (const char *)b + r->off;

	switch (r->kind) {
	case K_BYTES:
		return memcmp(pa, pb, r->len) == 0;
	case K_STR:
		return strncmp(pa, pb, r->len) == 0;
	case K_SERVERS:
		return servers_eq(a, b);
	case K_INSTANCES:
		return instances_eq(a, b);
	case K_DST_MAC: {
		const struct dp_shadow_cfg *x = a, *y = b;

		return x->has_dst_mac == y->has_dst_mac &&
		       (!x->has_dst_mac || memcmp(x->dst_mac, y->dst_mac, 6) == 0);
	}
	case K_CHAOS_DOWN: {
		const struct dp_shadow_cfg *x = a, *y = b;

		return x->has_chaos_down == y->has_chaos_down &&
		       (!x->has_chaos_down || addr_eq(&x->chaos_down, &y->chaos_down));
	}
	case K_CHAOS_PARAM: {
		const struct dp_shadow_cfg *x = a, *y = b;

		return dp_chaos_param_eq(&x->chaos, &y->chaos, r->name + 6);
	}
	}
	return false;
}

static void group_diff(const struct dp_shadow_cfg *o, const struct dp_shadow_cfg *n, int gi,
		       struct dp_reload_result *r)
{
	char sec[DP_NAME_LEN + 8];

	snprintf(sec, sizeof(sec), "shadow.%s", o->name);
	for (size_t i = 0; i < N_SH; i++) {
		const struct rule *k = &sh_rules[i];

		if (same(k, o, n))
			continue;
		add_changed(r, sec, k->name);
		r->g[gi].keys |= 1ULL << i;
		switch (k->effect) {
		case E_RESTART:
			if (k->kind == K_INSTANCES)
				dp_reload_error(r, "[%s] instances: the list cannot change at run time "
						"(restart); instances_active picks among those listed",
						sec);
			else
				dp_reload_error(r, "[%s] %s: cannot change at run time (restart)", sec,
						k->name);
			break;
		case E_SHARE: r->g[gi].share = true; break;
		case E_SAMPLING: r->g[gi].sampling = true; break;
		case E_FILTER: r->g[gi].filter = true; break;
		case E_ENABLED: r->g[gi].enabled = true; break;
		case E_CHAOS: r->g[gi].chaos = true; break;
		default: break;
		}
	}
}

bool dp_reload_key_changed(const struct dp_reload_result *r, int gi, const char *key)
{
	for (size_t i = 0; i < N_SH; i++)
		if (strcmp(sh_rules[i].name, key) == 0)
			return (r->g[gi].keys >> i) & 1;
	return false;
}

int dp_reload_diff(const struct dp_config *old, const struct dp_config *nw,
		   struct dp_reload_result *r)
{
	for (size_t i = 0; i < N_DP; i++) {
		const struct rule *k = &dp_rules[i];

		if (same(k, old, nw))
			continue;
		add_changed(r, "dataplane", k->name);
		if (k->effect == E_LOG_LEVEL)
			r->log_level = true;
		else if (k->effect == E_STATS)
			r->stats = true;
		else
			dp_reload_error(r, "[dataplane] %s: cannot change at run time (restart)",
					k->name);
	}
	for (int g = 0; g < old->n_shadows; g++) {
		const struct dp_shadow_cfg *o = &old->shadows[g];
		int j;

		for (j = 0; j < nw->n_shadows; j++)
			if (strcmp(nw->shadows[j].name, o->name) == 0)
				break;
		if (j == nw->n_shadows) {
			dp_reload_error(r, "[shadow.%s]: removing a group needs a restart (to stop "
					"its copies: enabled = false)", o->name);
			continue;
		}
		group_diff(o, &nw->shadows[j], g, r);
	}
	for (int j = 0; j < nw->n_shadows; j++) {
		int g;

		for (g = 0; g < old->n_shadows; g++)
			if (strcmp(old->shadows[g].name, nw->shadows[j].name) == 0)
				break;
		if (g == old->n_shadows)
			dp_reload_error(r, "[shadow.%s]: adding a group needs a restart",
					nw->shadows[j].name);
	}
	return r->n_errors_total;
}
