#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <pcap/pcap.h>

#include "bpf_fix.h"
#include "config.h"
#include "chaos_scenario.h"
#include "http.h"
#include "ini.h"

enum key_scope { SCOPE_DATAPLANE, SCOPE_SHADOW };

typedef int (*key_setter)(struct dp_config *c, struct dp_shadow_cfg *s,
			  const char *v, struct st_perr *e);

struct key {
	enum key_scope scope;
	const char *name;
	const char *dflt;	/* applied through the setter: the documented default is the real one */
	const char *help;
	key_setter set;
};

static int copy_str(char *dst, size_t len, const char *v, struct st_perr *e)
{
	if (strlen(v) >= len) {
		snprintf(e->msg, sizeof(e->msg), "'%.40s...': longer than %zu characters",
			 v, len - 1);
		return -EINVAL;
	}
	snprintf(dst, len, "%s", v);
	return 0;
}

/* Names go into ZeroMQ topics ("kpi.<service>.<target>"): keep them to
 * characters that need no quoting anywhere. */
static int copy_name(char *dst, size_t len, const char *v, struct st_perr *e)
{
	if (*v == '\0') {
		snprintf(e->msg, sizeof(e->msg), "empty name");
		return -EINVAL;
	}
	for (const char *p = v; *p; p++) {
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') {
			snprintf(e->msg, sizeof(e->msg),
				 "'%s': names use only letters, digits, '-' and '_'", v);
			return -EINVAL;
		}
	}
	return copy_str(dst, len, v, e);
}

static int parse_mac(const char *v, uint8_t mac[6], struct st_perr *e)
{
	unsigned int b[6];
	char tail;

	if (sscanf(v, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &tail) != 6) {
		snprintf(e->msg, sizeof(e->msg), "'%s': not a MAC address (aa:bb:cc:dd:ee:ff)", v);
		return -EINVAL;
	}
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

static int set_mode(struct dp_config *c, struct dp_shadow_cfg *s, const char *v,
		    struct st_perr *e)
{
	static const char *const names[] = { "inline", "tap" };
	int i, rc = st_parse_enum(v, names, 2, &i, e);

	(void)s;
	if (rc == 0)
		c->mode = (enum dp_mode)i;
	return rc;
}

#define STR_SETTER(fn, field, copier)						\
	static int fn(struct dp_config *c, struct dp_shadow_cfg *s,		\
		      const char *v, struct st_perr *e)				\
	{									\
		(void)c; (void)s;						\
		return copier(field, sizeof(field), v, e);			\
	}

STR_SETTER(set_client_port, c->client_port, copy_str)
STR_SETTER(set_prod_port, c->prod_port, copy_str)
STR_SETTER(set_inject_port, c->inject_port, copy_str)
STR_SETTER(set_service, c->service, copy_name)
STR_SETTER(set_publisher_id, c->publisher_id, copy_name)
STR_SETTER(set_kpi_endpoint, c->kpi_endpoint, copy_str)
STR_SETTER(set_control_endpoint, c->control_endpoint, copy_str)
STR_SETTER(set_log_level, c->log_level, copy_str)
STR_SETTER(set_curve_secret_key, c->curve_secret_key, copy_str)
STR_SETTER(set_chaos_scenario, c->chaos_scenario, copy_str)
STR_SETTER(set_curve_allowed_keys, c->curve_allowed_keys, copy_str)
STR_SETTER(set_http_token_file, c->http_token_file, copy_str)
STR_SETTER(set_http_tls_cert, c->http_tls_cert, copy_str)
STR_SETTER(set_http_tls_key, c->http_tls_key, copy_str)
STR_SETTER(set_http_tls_client_ca, c->http_tls_client_ca, copy_str)
STR_SETTER(set_sh_port, s->port, copy_str)

static int set_http_endpoint(struct dp_config *c, struct dp_shadow_cfg *s, const char *v,
			     struct st_perr *e)
{
	int rc = st_http_endpoint_check(v, e);

	(void)s;
	return rc != 0 ? rc : copy_str(c->http_endpoint, sizeof(c->http_endpoint), v, e);
}
STR_SETTER(set_sh_filter, s->filter, copy_str)

static int set_sh_service(struct dp_config *c, struct dp_shadow_cfg *s, const char *v,
			  struct st_perr *e)
{
	(void)c;
	if (*v == '\0') {
		s->service[0] = '\0';
		return 0;
	}
	return copy_name(s->service, sizeof(s->service), v, e);
}

#define UINT_SETTER(fn, field, type, min, max)					\
	static int fn(struct dp_config *c, struct dp_shadow_cfg *s,		\
		      const char *v, struct st_perr *e)				\
	{									\
		uint64_t x;							\
		int rc = st_parse_uint(v, min, max, &x, e);			\
		(void)c; (void)s;						\
		if (rc == 0)							\
			field = (type)x;					\
		return rc;							\
	}

UINT_SETTER(set_workers, c->workers, uint32_t, 0, 64)
UINT_SETTER(set_prod_instances, c->prod_instances, uint32_t, 1, 100000)
UINT_SETTER(set_kpi_hwm, c->kpi_hwm, uint32_t, 1, 1000000)
UINT_SETTER(set_rx_desc, c->rx_desc, uint16_t, 64, 16384)
UINT_SETTER(set_tx_desc, c->tx_desc, uint16_t, 64, 16384)
UINT_SETTER(set_sh_instances_count, s->instances_count, uint32_t, 0, 100000)
UINT_SETTER(set_sh_instances_active, s->instances_active, uint32_t, 0, DP_MAX_INSTANCES)
UINT_SETTER(set_sh_burst_ms, s->burst_ms, uint32_t, 1, 10000)

#define SIZE_SETTER(fn, field, type, min, max)					\
	static int fn(struct dp_config *c, struct dp_shadow_cfg *s,		\
		      const char *v, struct st_perr *e)				\
	{									\
		uint64_t x;							\
		int rc = st_parse_si(v, min, max, &x, e);			\
		(void)c; (void)s;						\
		if (rc == 0)							\
			field = (type)x;					\
		return rc;							\
	}

/* An MTU, or "auto" (0): each port's own (a kernel-backed port's
 * interface MTU, else 1500); for a group, its port's. The upper bound keeps
 * a full frame inside one mbuf's 16-bit data room. */
static int parse_mtu(const char *v, uint32_t *out, struct st_perr *e)
{
	uint64_t x;
	int rc;

	if (strcmp(v, "auto") == 0) {
		*out = 0;
		return 0;
	}
	rc = st_parse_uint(v, 68, DP_MTU_MAX, &x, e);
	if (rc == 0)
		*out = (uint32_t)x;
	return rc;
}

static int set_mtu(struct dp_config *c, struct dp_shadow_cfg *s, const char *v,
		   struct st_perr *e)
{
	(void)s;
	return parse_mtu(v, &c->mtu, e);
}

static int set_sh_mtu(struct dp_config *c, struct dp_shadow_cfg *s, const char *v,
		      struct st_perr *e)
{
	(void)c;
	return parse_mtu(v, &s->mtu, e);
}

SIZE_SETTER(set_mbufs, c->mbufs, uint32_t, 1023, 16777215)
SIZE_SETTER(set_copy_mbufs, c->copy_mbufs, uint32_t, 1023, 16777215)
SIZE_SETTER(set_flow_table_size, c->flow_table_size, uint32_t, 1024, 67108864)
SIZE_SETTER(set_frag_table_size, c->frag_table_size, uint32_t, 64, 16777216)
SIZE_SETTER(set_frag_hold, c->frag_hold, uint32_t, 0, 1048576)
SIZE_SETTER(set_tcp_sessions, c->tcp_sessions, uint32_t, 0, 16777216)
SIZE_SETTER(set_tcp_queue, c->tcp_queue, uint32_t, 1024, 16777216)
SIZE_SETTER(set_chaos_queue, c->chaos_queue, uint32_t, 1, 1048576)
SIZE_SETTER(set_sh_rate_pps, s->rate_pps, uint64_t, 0, 1000000000000ULL)
SIZE_SETTER(set_sh_rate_bps, s->rate_bps, uint64_t, 0, 10000000000000ULL)

#define DURATION_SETTER(fn, field, min, max)					\
	static int fn(struct dp_config *c, struct dp_shadow_cfg *s,		\
		      const char *v, struct st_perr *e)				\
	{									\
		(void)s;							\
		return st_parse_duration(v, min, max, &field, e);		\
	}

DURATION_SETTER(set_interval, c->interval_ns, 100 * 1000000ULL, 3600 * 1000000000ULL)
DURATION_SETTER(set_response_timeout, c->response_timeout_ns, 1000000ULL, 600 * 1000000000ULL)
DURATION_SETTER(set_flow_idle, c->flow_idle_ns, 1000000000ULL, 86400 * 1000000000ULL)
DURATION_SETTER(set_frag_timeout, c->frag_timeout_ns, 1000000ULL, 60 * 1000000000ULL)
DURATION_SETTER(set_idle_sleep, c->idle_sleep_ns, 0, 10000000ULL)

#define BOOL_SETTER(fn, field)							\
	static int fn(struct dp_config *c, struct dp_shadow_cfg *s,		\
		      const char *v, struct st_perr *e)				\
	{									\
		(void)c; (void)s;						\
		return st_parse_bool(v, &field, e);				\
	}

BOOL_SETTER(set_stats, c->stats)
BOOL_SETTER(set_timing, c->timing)
UINT_SETTER(set_client_top, c->client_top, uint32_t, 1, 100000)

/* client_key: none | vlan | dst_port | src/N | src6/N | src/N,src6/M. One
 * prefix given, the other family keeps its default (/32, /64). */
static int set_client_key(struct dp_config *c, struct dp_shadow_cfg *s, const char *v,
			  struct st_perr *e)
{
	(void)s;
	if (strlen(v) >= sizeof(c->client_key)) {
		snprintf(e->msg, sizeof(e->msg), "'%.40s...': too long", v);
		return -EINVAL;
	}
	if (st_ckey_spec_parse(v, &c->client, e) != 0)
		return -EINVAL;
	snprintf(c->client_key, sizeof(c->client_key), "%s", v);
	return 0;
}
BOOL_SETTER(set_sh_enabled, s->enabled)
BOOL_SETTER(set_sh_inject, s->inject)
BOOL_SETTER(set_sh_chaos_down_respread, s->chaos_down_respread)

static int set_sh_chaos_loss(struct dp_config *c, struct dp_shadow_cfg *s,
			     const char *v, struct st_perr *e)
{
	(void)c;
	return st_parse_share(v, &s->chaos_loss, e);
}

/* The impairments' keys: chaos_KEY is dp_chaos_param_set's KEY, one
 * parser for the file, --set and the control socket. */
#define CHAOS_SETTER(fn, key)							\
	static int fn(struct dp_config *c, struct dp_shadow_cfg *s,		\
		      const char *v, struct st_perr *e)				\
	{									\
		(void)c;							\
		return dp_chaos_param_set(&s->chaos, key, v, e);		\
	}

CHAOS_SETTER(set_sh_chaos_delay, "delay")
CHAOS_SETTER(set_sh_chaos_jitter, "jitter")
CHAOS_SETTER(set_sh_chaos_delay_dist, "delay_dist")
CHAOS_SETTER(set_sh_chaos_delay_corr, "delay_corr")
CHAOS_SETTER(set_sh_chaos_loss_burst, "loss_burst")
CHAOS_SETTER(set_sh_chaos_duplicate, "duplicate")
CHAOS_SETTER(set_sh_chaos_corrupt, "corrupt")
CHAOS_SETTER(set_sh_chaos_reorder, "reorder")
CHAOS_SETTER(set_sh_chaos_reorder_gap, "reorder_gap")
CHAOS_SETTER(set_sh_chaos_rate, "rate")
CHAOS_SETTER(set_sh_chaos_flap, "flap")
CHAOS_SETTER(set_sh_chaos_direction, "direction")

int dp_parse_chaos_down(const char *v, struct st_addr *addr, bool *has, struct st_perr *e)
{
	if (*v == '\0' || strcmp(v, "none") == 0) {
		memset(addr, 0, sizeof(*addr));
		*has = false;
		return 0;
	}
	if (st_parse_ip(v, addr, e) < 0)
		return -EINVAL;
	*has = true;
	return 0;
}

static int set_sh_chaos_down(struct dp_config *c, struct dp_shadow_cfg *s,
			     const char *v, struct st_perr *e)
{
	(void)c;
	return dp_parse_chaos_down(v, &s->chaos_down, &s->has_chaos_down, e);
}

int dp_shadow_instance_index(const struct dp_shadow_cfg *s, const struct st_addr *addr)
{
	for (int i = 0; i < s->n_instances; i++) {
		const struct st_addr *a = &s->instances[i].addr;

		if (a->family == addr->family &&
		    (a->family == AF_INET ? a->v4 == addr->v4 : memcmp(a->v6, addr->v6, 16) == 0))
			return i;
	}
	return -1;
}

static int set_servers(struct dp_config *c, struct dp_shadow_cfg *s,
		       const char *v, struct st_perr *e)
{
	char buf[DP_ENDPOINT_LEN * 4], *items[DP_MAX_SERVERS];
	struct dp_server srv[DP_MAX_SERVERS];
	int n, rc;

	(void)s;
	if ((rc = copy_str(buf, sizeof(buf), v, e)) < 0)
		return rc;
	n = st_split_list(buf, items, DP_MAX_SERVERS, e);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++)
		if ((rc = st_parse_endpoint(items[i], &srv[i].addr, &srv[i].port, e)) < 0)
			return rc;
	memcpy(c->servers, srv, sizeof(srv[0]) * (size_t)n);
	c->n_servers = n;
	return 0;
}

static int set_sh_share(struct dp_config *c, struct dp_shadow_cfg *s,
			const char *v, struct st_perr *e)
{
	(void)c;
	return st_parse_share(v, &s->share, e);
}

static int set_sh_inject_share(struct dp_config *c, struct dp_shadow_cfg *s,
			       const char *v, struct st_perr *e)
{
	(void)c;
	return st_parse_share(v, &s->inject_share, e);
}

static int set_sh_share_offset(struct dp_config *c, struct dp_shadow_cfg *s,
			       const char *v, struct st_perr *e)
{
	(void)c;
	return st_parse_share(v, &s->share_offset, e);
}

static int set_sh_sampling(struct dp_config *c, struct dp_shadow_cfg *s,
			   const char *v, struct st_perr *e)
{
	static const char *const names[] = { "flow", "packet" };
	int i, rc = st_parse_enum(v, names, 2, &i, e);

	(void)c;
	if (rc == 0)
		s->sampling = (enum dp_sampling)i;
	return rc;
}

/* "ADDR" or "ADDR@MAC"; without a MAC the dataplane resolves it. */
static int set_sh_instances(struct dp_config *c, struct dp_shadow_cfg *s,
			    const char *v, struct st_perr *e)
{
	char buf[1024], *items[DP_MAX_INSTANCES];
	struct dp_instance in[DP_MAX_INSTANCES];
	int n, rc;

	(void)c;
	if ((rc = copy_str(buf, sizeof(buf), v, e)) < 0)
		return rc;
	n = st_split_list(buf, items, DP_MAX_INSTANCES, e);
	if (n < 0)
		return n;
	memset(in, 0, sizeof(in));
	for (int i = 0; i < n; i++) {
		char *at = strchr(items[i], '@');

		if (at != NULL) {
			*at = '\0';
			if ((rc = parse_mac(at + 1, in[i].mac, e)) < 0)
				return rc;
			in[i].has_mac = true;
		}
		if ((rc = st_parse_ip(items[i], &in[i].addr, e)) < 0)
			return rc;
	}
	memcpy(s->instances, in, sizeof(in[0]) * (size_t)n);
	s->n_instances = n;
	return 0;
}

static int set_sh_dst_mac(struct dp_config *c, struct dp_shadow_cfg *s,
			  const char *v, struct st_perr *e)
{
	(void)c;
	if (*v == '\0') {
		s->has_dst_mac = false;
		return 0;
	}
	if (parse_mac(v, s->dst_mac, e) < 0)
		return -EINVAL;
	s->has_dst_mac = true;
	return 0;
}

static const struct key keys[] = {
	{ SCOPE_DATAPLANE, "mode", "inline",
	  "inline | tap. inline: forward client<->prod and tee to the shadows; "
	  "tap: the client port carries a SPAN/TAP copy of both directions, nothing is forwarded",
	  set_mode },
	{ SCOPE_DATAPLANE, "client_port", "0",
	  "port id, or a device name (net_af_packet0, 0000:3b:00.0): the clients' side, or the tap input",
	  set_client_port },
	{ SCOPE_DATAPLANE, "prod_port", "1",
	  "port id or device name towards the production instances (inline mode)", set_prod_port },
	{ SCOPE_DATAPLANE, "inject_port", "",
	  "optional port id or device name for load generator traffic: goes to shadows only, never to prod",
	  set_inject_port },
	{ SCOPE_DATAPLANE, "workers", "0",
	  "worker lcores to use, 0..64; 0 takes every EAL worker lcore (-l)", set_workers },
	{ SCOPE_DATAPLANE, "service", "default",
	  "service name in KPI topics (kpi.<service>.<target>); letters, digits, '-', '_'", set_service },
	{ SCOPE_DATAPLANE, "publisher_id", "gw1",
	  "this gateway's name in every published message (src)", set_publisher_id },
	{ SCOPE_DATAPLANE, "servers", "",
	  "ADDR[:PORT], ... : which side is the server (tap mode, and injected captures); "
	  "inline mode knows it from the port", set_servers },
	{ SCOPE_DATAPLANE, "kpi_endpoint", "tcp://127.0.0.1:5556",
	  "ZeroMQ PUB endpoint the KPI snapshots are published on", set_kpi_endpoint },
	{ SCOPE_DATAPLANE, "control_endpoint", "tcp://127.0.0.1:5557",
	  "ZeroMQ REP endpoint for runtime control (shadowtap-ctl)", set_control_endpoint },
	{ SCOPE_DATAPLANE, "interval", "1s",
	  "stats and KPI interval, 100ms..1h", set_interval },
	{ SCOPE_DATAPLANE, "response_timeout", "2s",
	  "a request with no response within this counts as a timeout, 1ms..600s, shorter than "
	  "flow_idle_timeout (with timing)", set_response_timeout },
	{ SCOPE_DATAPLANE, "mtu", "auto",
	  "largest IP packet every port carries, 68..65000, or auto: a kernel-backed port "
	  "(af_packet, af_xdp) takes its interface's MTU, any other 1500. Frames up to it (plus "
	  "Ethernet and two VLAN tags) are received whole; a larger one towards a port is "
	  "fragmented again (IPv4 without DF) or dropped and counted too_big",
	  set_mtu },
	{ SCOPE_DATAPLANE, "mbufs", "16383",
	  "mbufs in the production pool, 1023..16M (k/M suffixes)", set_mbufs },
	{ SCOPE_DATAPLANE, "copy_mbufs", "16383",
	  "mbufs in the copies' own pool; when it runs dry copies are dropped (no_mbuf), never prod packets",
	  set_copy_mbufs },
	{ SCOPE_DATAPLANE, "rx_desc", "1024", "RX descriptors per queue, 64..16384", set_rx_desc },
	{ SCOPE_DATAPLANE, "tx_desc", "1024", "TX descriptors per queue, 64..16384", set_tx_desc },
	{ SCOPE_DATAPLANE, "flow_table_size", "65536",
	  "flows tracked per worker, 1024..64M; when full new flows are counted (flow_table_full)",
	  set_flow_table_size },
	{ SCOPE_DATAPLANE, "tcp_sessions", "65536",
	  "TCP sessions shadowed per worker (ACK/timestamp/SACK rewriting, shadow data acknowledged "
	  "by the dataplane), 0..16M; 0 copies TCP as plain packets; when full: tcp_table_full",
	  set_tcp_sessions },
	{ SCOPE_DATAPLANE, "tcp_queue", "8192",
	  "TCP segments kept per worker until shadows acknowledge them (full copies, 2 KB each, "
	  "their own pool), 1024..16M; when full: tcp_queue_full", set_tcp_queue },
	{ SCOPE_DATAPLANE, "flow_idle_timeout", "60s",
	  "a flow with no packet for this long is forgotten, 1s..24h", set_flow_idle },
	{ SCOPE_DATAPLANE, "frag_table_size", "4096",
	  "fragmented client->server datagrams tracked per worker, so that all their fragments "
	  "are shadowed like their flow, 64..16M; when full their fragments are not copied "
	  "(frag_table_full)", set_frag_table_size },
	{ SCOPE_DATAPLANE, "frag_hold", "1024",
	  "fragments held per worker (at most 8 per datagram) until their datagram's first "
	  "fragment comes, 0..1M; each is a private copy from the copies' pool (copy_mbufs: a "
	  "1500-byte fragment takes six), never a production buffer; when full: frag_hold_full", set_frag_hold },
	{ SCOPE_DATAPLANE, "frag_timeout", "2s",
	  "a fragmented datagram is forgotten this long after the first of its fragments "
	  "arrived, 1ms..60s; incomplete ones are counted (frag_expired), held fragments freed", set_frag_timeout },
	{ SCOPE_DATAPLANE, "idle_sleep", "0",
	  "when a worker found nothing to do for a while, sleep this long (0..10ms; 0: poll "
	  "without pause, the lowest latency). For hosts where the cores are shared: it adds up "
	  "to this much to the latencies measured while idle", set_idle_sleep },
	{ SCOPE_DATAPLANE, "chaos_queue", "4096",
	  "copies a worker holds back for the shadow groups' chaos_delay, 1..1M; each holds a "
	  "private copy from the copies' pool (copy_mbufs), never a production buffer; when "
	  "full a delayed copy is dropped (chaos_queue_full)", set_chaos_queue },
	{ SCOPE_DATAPLANE, "chaos_scenario", "",
	  "a file of timed chaos changes, one a line: t_seconds,group,key,value (key: a chaos "
	  "command key such as delay or loss, or off), applied from the start of the run; the "
	  "whole file is checked at start, a bad line names its number", set_chaos_scenario },
	{ SCOPE_DATAPLANE, "stats", "true", "print one stats line per interval on stderr", set_stats },
	{ SCOPE_DATAPLANE, "timing", "true",
	  "time every request->response for prod and each shadow and publish KPI snapshots",
	  set_timing },
	{ SCOPE_DATAPLANE, "client_key", "none",
	  "per-client accounting of production's requests, published as clients.<service> each "
	  "interval: what a client is. src/N (IPv4 source prefix; IPv6 clients by /64), src6/N "
	  "(IPv6 prefix; IPv4 by /32), both (src/24,src6/48), vlan (inner-most VLAN id), dst_port "
	  "(the server's port: services behind one gateway), or none. Needs timing",
	  set_client_key },
	{ SCOPE_DATAPLANE, "client_top", "1000",
	  "clients each worker keeps per interval (Space-Saving; about 500 bytes each, twice) "
	  "and the most published, 1..100000; the rest are counted in one other entry",
	  set_client_top },
	{ SCOPE_DATAPLANE, "prod_instances", "1",
	  "production instances behind the prod port, reported in the prod KPIs, 1..100000",
	  set_prod_instances },
	{ SCOPE_DATAPLANE, "kpi_hwm", "10000",
	  "ZeroMQ send high-water mark of the KPI socket; what it cannot queue is counted",
	  set_kpi_hwm },
	{ SCOPE_DATAPLANE, "curve_secret_key", "",
	  "key pair file (shadowtap-ctl --gen-keys): CURVE-encrypt the KPI and control sockets",
	  set_curve_secret_key },
	{ SCOPE_DATAPLANE, "curve_allowed_keys", "",
	  "file of client public keys (one Z85 key a line) admitted when CURVE is on; "
	  "required with curve_secret_key", set_curve_allowed_keys },
	{ SCOPE_DATAPLANE, "http_endpoint", "",
	  "ADDR:PORT for GET /metrics (every counter, Prometheus text) and /healthz; empty or none: "
	  "off. Any address but loopback needs http_token_file or http_tls_client_ca",
	  set_http_endpoint },
	{ SCOPE_DATAPLANE, "http_token_file", "",
	  "file (mode 0600; in systemd's $CREDENTIALS_DIRECTORY it may be group-readable) holding the bearer token /metrics requires", set_http_token_file },
	{ SCOPE_DATAPLANE, "http_tls_cert", "", "PEM certificate: serve HTTPS (with http_tls_key)",
	  set_http_tls_cert },
	{ SCOPE_DATAPLANE, "http_tls_key", "", "PEM private key of http_tls_cert (mode 0600; in systemd's $CREDENTIALS_DIRECTORY it may be group-readable)",
	  set_http_tls_key },
	{ SCOPE_DATAPLANE, "http_tls_client_ca", "",
	  "PEM CA: with TLS, /metrics needs a client certificate it signed (403 without)",
	  set_http_tls_client_ca },
	{ SCOPE_DATAPLANE, "log_level", "notice", "err | warn | notice | info | debug", set_log_level },

	{ SCOPE_SHADOW, "port", "",
	  "required: port id or device name towards this shadow group", set_sh_port },
	{ SCOPE_SHADOW, "share", "0",
	  "share of flows (or packets) copied, 0..1 or 0%..100%", set_sh_share },
	{ SCOPE_SHADOW, "share_offset", "0",
	  "start of the group's flow-hash range [offset, offset+share); groups with equal ranges "
	  "see the same flows (A/A), disjoint ranges disjoint flows", set_sh_share_offset },
	{ SCOPE_SHADOW, "sampling", "flow",
	  "flow | packet. flow: whole flows by the symmetric flow hash, the same on every gateway; "
	  "packet: a share of packets", set_sh_sampling },
	{ SCOPE_SHADOW, "filter", "",
	  "optional BPF filter in pcap syntax (tcp port 80), as tcpdump reads it (VLAN-tagged "
	  "packets need 'vlan and ...'); only matching packets are copied",
	  set_sh_filter },
	{ SCOPE_SHADOW, "rate_pps", "0",
	  "cap on copies in packets/s (k/M/G suffixes), 0: none; over it: rate_cap drops", set_sh_rate_pps },
	{ SCOPE_SHADOW, "rate_bps", "0",
	  "cap on copies in bits/s (1G, 100M), 0: none", set_sh_rate_bps },
	{ SCOPE_SHADOW, "burst", "10",
	  "token bucket depth for the caps, in milliseconds of the rate, 1..10000", set_sh_burst_ms },
	{ SCOPE_SHADOW, "instances", "",
	  "ADDR[@MAC], ... : flows are spread over these by hash, destination MAC/IP rewritten; "
	  "without @MAC the MAC is resolved with ARP/ND on the shadow port. A packet whose flow "
	  "hashes to an instance of the other address family is not copied, counted `no_neigh`",
	  set_sh_instances },
	{ SCOPE_SHADOW, "dst_mac", "",
	  "with no instances: destination MAC for every copy (else resolved for the original address)",
	  set_sh_dst_mac },
	{ SCOPE_SHADOW, "instances_count", "0",
	  "instances behind the group, reported in KPIs; 0: the number of instances listed (1 if none)",
	  set_sh_instances_count },
	{ SCOPE_SHADOW, "instances_active", "0",
	  "flows go to the first this many of the instances listed (as set_instances does at run "
	  "time), and KPIs report it; 0: all of them", set_sh_instances_active },
	{ SCOPE_SHADOW, "mtu", "auto",
	  "largest IP packet the shadows take, 68..65000, or auto: the shadow port's. A larger "
	  "copy is fragmented to it (IPv4 without DF) or dropped as too_big; production is "
	  "never touched for it", set_sh_mtu },
	{ SCOPE_SHADOW, "enabled", "true", "copy to this group at start", set_sh_enabled },
	{ SCOPE_SHADOW, "inject", "false",
	  "receive the load generator's traffic from the inject port (timed under target "
	  "'synthetic', apart from mirrored traffic)", set_sh_inject },
	{ SCOPE_SHADOW, "service", "",
	  "publish this group's KPIs under another service name (and production's under it too), "
	  "so an analyzer judges several proposals for one production side by side; "
	  "empty: [dataplane] service", set_sh_service },
	{ SCOPE_SHADOW, "inject_share", "1",
	  "share of the injected flows this group takes, by flow hash, 0..1", set_sh_inject_share },
	{ SCOPE_SHADOW, "chaos_loss", "0",
	  "chaos: share of the group's copies lost on purpose, at random per packet, 0..1 or "
	  "0%..100% (counted chaos_loss); production is never touched", set_sh_chaos_loss },
	{ SCOPE_SHADOW, "chaos_down", "",
	  "chaos: one of the group's instances taken down on purpose: copies of its flows are "
	  "dropped (chaos_down), not spread over the others, as behind a slow health check; "
	  "empty or none: all up", set_sh_chaos_down },
	{ SCOPE_SHADOW, "chaos_down_respread", "false",
	  "with chaos_down: the down instance's flows move to the remaining instances by hash "
	  "instead of being dropped (the N-1 test)", set_sh_chaos_down_respread },
	{ SCOPE_SHADOW, "chaos_delay", "0",
	  "chaos: the group's copies are held this long before they leave (0..1s; 0: none), "
	  "in a per-worker timing wheel of [dataplane] chaos_queue copies (full: "
	  "chaos_queue_full); a copy never overtakes an earlier copy of its group, so flows "
	  "keep their order", set_sh_chaos_delay },
	{ SCOPE_SHADOW, "chaos_jitter", "0",
	  "chaos: spread of chaos_delay (0..1s): uniform +-jitter, or the standard deviation "
	  "for normal and paretonormal; a delay below 0 is 0", set_sh_chaos_jitter },
	{ SCOPE_SHADOW, "chaos_delay_dist", "uniform",
	  "uniform | normal | paretonormal (netem's: a quarter normal, three quarters Pareto, "
	  "a long tail of late copies)", set_sh_chaos_delay_dist },
	{ SCOPE_SHADOW, "chaos_delay_corr", "0",
	  "chaos: correlation of each jitter draw with the last one, 0..1 or 0%..100% (netem's "
	  "meaning)", set_sh_chaos_delay_corr },
	{ SCOPE_SHADOW, "chaos_loss_burst", "none",
	  "chaos: bursty loss, Gilbert-Elliott (netem's gemodel): LOSS_IN_BAD,MEAN_BURST,"
	  "MEAN_GAP, e.g. 100%,5,200: the bad state lasts 5 copies on average and loses each "
	  "with LOSS_IN_BAD, the good state 200 copies and loses none (counted "
	  "chaos_loss_burst); none: off", set_sh_chaos_loss_burst },
	{ SCOPE_SHADOW, "chaos_duplicate", "0",
	  "chaos: share of the group's copies sent twice, 0..1 or 0%..100% (counted duplicated)",
	  set_sh_chaos_duplicate },
	{ SCOPE_SHADOW, "chaos_corrupt", "0",
	  "chaos: share of the group's copies with one bit of their L4 payload flipped and the "
	  "checksums left as they were, as a real corruption (counted corrupted; copies without "
	  "payload are left alone)", set_sh_chaos_corrupt },
	{ SCOPE_SHADOW, "chaos_reorder", "0",
	  "chaos: share of the group's copies held back and sent after the next "
	  "chaos_reorder_gap copies of the group, 0..1 or 0%..100% (netem's reorder; counted "
	  "reordered); a held copy leaves at the latest 10 ms later, and at most 8 are held "
	  "per worker at once", set_sh_chaos_reorder },
	{ SCOPE_SHADOW, "chaos_reorder_gap", "1",
	  "chaos: how many later copies of the group overtake a reordered one, 1..1000",
	  set_sh_chaos_reorder_gap },
	{ SCOPE_SHADOW, "chaos_rate", "none",
	  "chaos: shape the group's copies to this rate (10mbit, 500kbit, 1gbit, 2mbps = bytes/s; "
	  "1kbit..1tbit; none): copies wait in the timing wheel until the link is free (counted "
	  "shaped), after chaos_delay; a backlog of more than 1 s or a full wheel drops "
	  "(chaos_queue_full). Unlike rate_bps, which drops what is over the cap",
	  set_sh_chaos_rate },
	{ SCOPE_SHADOW, "chaos_flap", "none",
	  "chaos: DOWN/PERIOD (2s/30s): the chaos_down instance is down for DOWN at the start of "
	  "every PERIOD, up for the rest; without chaos_down the whole group is (its copies "
	  "counted chaos_down). The schedule starts when the setting takes effect",
	  set_sh_chaos_flap },
	{ SCOPE_SHADOW, "chaos_direction", "copies",
	  "copies | responses | both: where chaos_loss, chaos_loss_burst and chaos_delay (with "
	  "its jitter) act: on the group's copies, on its shadows' TCP and UDP responses on "
	  "their way back to the dataplane (a lost answer times out in the KPIs, a delayed one "
	  "adds its delay to the latency measured; counted response_lost, response_lost_burst, "
	  "response_delayed), or on both, each drawing on its own. The other impairments act "
	  "on copies only", set_sh_chaos_direction },
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

static int fail(struct st_perr *e, int rc, const char *section, const char *key,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(struct st_perr *e, int rc, const char *section, const char *key,
		const char *fmt, ...)
{
	char reason[sizeof(e->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (key != NULL)
		snprintf(e->msg, sizeof(e->msg), "[%.40s] %.40s: %.100s", section, key, reason);
	else
		snprintf(e->msg, sizeof(e->msg), "[%.40s]: %.140s", section, reason);
	return rc;
}

static void shadow_defaults(struct dp_shadow_cfg *s)
{
	struct st_perr e;

	for (size_t i = 0; i < N_KEYS; i++)
		if (keys[i].scope == SCOPE_SHADOW)
			keys[i].set(NULL, s, keys[i].dflt, &e);
}

void dp_config_defaults(struct dp_config *cfg)
{
	struct st_perr e;

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < N_KEYS; i++)
		if (keys[i].scope == SCOPE_DATAPLANE)
			keys[i].set(cfg, NULL, keys[i].dflt, &e);
}

struct dp_shadow_cfg *dp_config_shadow(struct dp_config *cfg, const char *name)
{
	for (int i = 0; i < cfg->n_shadows; i++)
		if (strcmp(cfg->shadows[i].name, name) == 0)
			return &cfg->shadows[i];
	return NULL;
}

int dp_config_set(struct dp_config *cfg, const char *section, const char *key,
		  const char *value, struct st_perr *err)
{
	struct dp_shadow_cfg *s = NULL;
	enum key_scope scope;
	struct st_perr e;
	char v[1024];
	int rc;

	if (strcmp(section, "dataplane") == 0) {
		scope = SCOPE_DATAPLANE;
	} else if (strncmp(section, "shadow.", 7) == 0) {
		const char *name = section + 7;

		scope = SCOPE_SHADOW;
		s = dp_config_shadow(cfg, name);
		if (s == NULL) {
			if (cfg->n_shadows == DP_MAX_SHADOWS)
				return fail(err, -E2BIG, section, NULL,
					    "too many shadow groups (at most %d)", DP_MAX_SHADOWS);
			s = &cfg->shadows[cfg->n_shadows];
			memset(s, 0, sizeof(*s));
			if ((rc = copy_name(s->name, sizeof(s->name), name, &e)) < 0)
				return fail(err, rc, section, NULL, "bad group name: %s", e.msg);
			shadow_defaults(s);
			cfg->n_shadows++;
		}
	} else if (strcmp(section, "analyzer") == 0 || strncmp(section, "service.", 8) == 0) {
		/* One file can configure the whole deployment: the analyzer's
		 * sections are its own business. */
		return 0;
	} else {
		return fail(err, -EINVAL, section, NULL,
			    "unknown section (expected [dataplane] or [shadow.NAME])");
	}

	for (size_t i = 0; i < N_KEYS; i++) {
		if (keys[i].scope != scope || strcmp(keys[i].name, key) != 0)
			continue;
		if (strlen(value) >= sizeof(v))
			return fail(err, -EINVAL, section, key, "value too long");
		strcpy(v, value);
		rc = keys[i].set(cfg, s, st_trim(v), &e);
		if (rc < 0)
			return fail(err, rc, section, key, "%s", e.msg);
		return 0;
	}
	return fail(err, -EINVAL, section, key, "unknown key (see --config-help)");
}

/* "path:line: " and the reason, in err; returns -EINVAL. */
static int line_error(struct st_perr *err, const char *path, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int line_error(struct st_perr *err, const char *path, int line, const char *fmt, ...)
{
	int k = snprintf(err->msg, sizeof(err->msg), "%s:%d: ", path, line);
	va_list ap;

	if (k < 0 || (size_t)k >= sizeof(err->msg))
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(err->msg + k, sizeof(err->msg) - (size_t)k, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* dp_config_set's refusal of the key on that line, named by the line. */
static int set_at(struct dp_config *cfg, const struct st_ini *ini, int line, const char *section,
		  const char *key, const char *value, struct st_perr *err)
{
	int rc = dp_config_set(cfg, section, key, value, err);

	if (rc < 0) {
		char why[sizeof(err->msg)];

		memcpy(why, err->msg, sizeof(why));
		line_error(err, ini->path, line, "%s", why);
	}
	return rc;
}

int dp_config_apply(struct dp_config *cfg, const struct st_ini *ini, struct st_perr *err)
{
	for (size_t s = 0; s < ini->n_sections; s++) {
		const struct st_ini_section *sec = &ini->sections[s];
		int rc = 0;

		/* a group is made by its section, even one that sets nothing */
		if (strncmp(sec->name, "shadow.", 7) == 0)
			rc = set_at(cfg, ini, sec->line, sec->name, "enabled", "true", err);
		for (size_t i = sec->first; rc == 0 && i < sec->first + sec->n; i++) {
			const struct st_ini_entry *e = &ini->entries[i];

			if (strlen(e->key) >= DP_CFG_NAME_LEN)
				return line_error(err, ini->path, e->line,
						  "key longer than %d characters", DP_CFG_NAME_LEN - 1);
			if (strlen(e->value) >= DP_CFG_VALUE_LEN)
				return line_error(err, ini->path, e->line,
						  "value longer than %d characters",
						  DP_CFG_VALUE_LEN - 1);
			if (*e->value == '\0')
				return line_error(err, ini->path, e->line, "[%s] %s: no value",
						  sec->name, e->key);
			rc = set_at(cfg, ini, e->line, sec->name, e->key, e->value, err);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

int dp_config_load(struct dp_config *cfg, const char *path,
		   struct st_perr *err)
{
	struct st_ini *ini = st_ini_load(path, err);
	int rc;

	if (ini == NULL)
		return -errno;
	rc = dp_config_apply(cfg, ini, err);
	st_ini_free(ini);
	if (rc == 0)
		snprintf(cfg->config_file, sizeof(cfg->config_file), "%s", path);
	return rc;
}

uint32_t dp_shadow_instances_count(const struct dp_shadow_cfg *s)
{
	if (s->instances_count > 0)
		return s->instances_count;
	if (s->instances_active > 0)
		return s->instances_active;
	return s->n_instances > 0 ? (uint32_t)s->n_instances : 1;
}

int dp_config_validate(const struct dp_config *cfg, struct st_perr *err)
{
	if (cfg->client.by != ST_CKEY_BY_NONE && !cfg->timing)
		return fail(err, -EINVAL, "dataplane", "client_key",
			    "'%s' needs timing = true: clients are accounted as their requests "
			    "are timed", cfg->client_key);
	if (cfg->client_port[0] == '\0')
		return fail(err, -EINVAL, "dataplane", "client_port", "required");
	if (cfg->mode == DP_MODE_INLINE && cfg->prod_port[0] == '\0')
		return fail(err, -EINVAL, "dataplane", "prod_port", "required in inline mode");
	if (cfg->mode == DP_MODE_INLINE && strcmp(cfg->prod_port, cfg->client_port) == 0)
		return fail(err, -EINVAL, "dataplane", "prod_port",
			    "'%s' is also the client port", cfg->prod_port);
	if (cfg->inject_port[0] != '\0' &&
	    (strcmp(cfg->inject_port, cfg->client_port) == 0 ||
	     (cfg->mode == DP_MODE_INLINE && strcmp(cfg->inject_port, cfg->prod_port) == 0)))
		return fail(err, -EINVAL, "dataplane", "inject_port",
			    "'%s' is also the client or prod port: its packets would be taken "
			    "for synthetic load and never reach production", cfg->inject_port);
	if (cfg->timing && cfg->response_timeout_ns >= cfg->flow_idle_ns)
		return fail(err, -EINVAL, "dataplane", "response_timeout",
			    "must be shorter than flow_idle_timeout: an unanswered request's flow "
			    "would be forgotten before it counted as a timeout");
	for (int i = 0; i < cfg->n_shadows; i++) {
		const struct dp_shadow_cfg *s = &cfg->shadows[i];
		char sec[DP_NAME_LEN + 8];

		snprintf(sec, sizeof(sec), "shadow.%s", s->name);
		if (s->port[0] == '\0')
			return fail(err, -EINVAL, sec, "port", "required");
		if (strcmp(s->port, cfg->client_port) == 0 ||
		    (cfg->mode == DP_MODE_INLINE && strcmp(s->port, cfg->prod_port) == 0))
			return fail(err, -EINVAL, sec, "port",
				    "'%s' is the client or prod port: a shadow needs a port of its own",
				    s->port);
		if (cfg->inject_port[0] != '\0' && strcmp(s->port, cfg->inject_port) == 0)
			return fail(err, -EINVAL, sec, "port", "'%s' is the inject port", s->port);
		if (s->share_offset + s->share > 1.0 + 1e-9)
			return fail(err, -EINVAL, sec, "share_offset",
				    "offset %g + share %g is past 1", s->share_offset, s->share);
		if (s->sampling == DP_SAMPLE_PACKET && s->share_offset > 0)
			return fail(err, -EINVAL, sec, "share_offset",
				    "only meaningful with sampling = flow");
		if (s->n_instances > 0 && s->has_dst_mac)
			return fail(err, -EINVAL, sec, "dst_mac",
				    "give MACs per instance (ADDR@MAC) when instances are listed");
		if (s->instances_active > (uint32_t)s->n_instances)
			return fail(err, -EINVAL, sec, "instances_active",
				    "%u, but %d instances are listed", s->instances_active,
				    s->n_instances);
		if (s->instances_active > 0 && s->instances_count > 0 &&
		    s->instances_count != s->instances_active)
			return fail(err, -EINVAL, sec, "instances_active",
				    "%u, but instances_count says %u: KPIs report the instances "
				    "in use, set one of them", s->instances_active,
				    s->instances_count);
		if (s->filter[0] != '\0') {
			/* Compiled again with rte_bpf at start; checked here so a
			 * typo stops the program before the EAL and the ports. */
			pcap_t *pc = pcap_open_dead(DLT_EN10MB, 65535);
			struct bpf_program prog;
			int bad;

			if (pc == NULL)
				return fail(err, -ENOMEM, sec, "filter", "libpcap: out of memory");
			bad = pcap_compile(pc, &prog, s->filter, 1, PCAP_NETMASK_UNKNOWN) != 0;
			if (bad) {
				int rc = fail(err, -EINVAL, sec, "filter", "'%.60s': %.80s", s->filter,
					      pcap_geterr(pc));

				pcap_close(pc);
				return rc;
			}
			{
				/* as dp_filter_compile makes it fit for rte_bpf: a
				 * filter too long for it is refused here, not after
				 * the ports are up */
				const char *why = NULL;
				unsigned int n_fixed;
				struct bpf_insn *fixed = dp_bpf_fix_ind_byte_loads(&prog, &n_fixed, &why);

				pcap_freecode(&prog);
				pcap_close(pc);
				if (fixed == NULL)
					return fail(err, -EINVAL, sec, "filter", "'%.60s': %s", s->filter,
						    why);
				free(fixed);
			}
		}
		if (s->has_chaos_down && dp_shadow_instance_index(s, &s->chaos_down) < 0)
			return fail(err, -EINVAL, sec, "chaos_down",
				    "not one of the group's instances");
		{
			char why[160];

			if (dp_chaos_params_check(&s->chaos, why, sizeof(why)) != 0)
				return fail(err, -EINVAL, sec, NULL, "%s", why);
		}
		if (s->inject && cfg->inject_port[0] == '\0')
			return fail(err, -EINVAL, sec, "inject",
				    "needs [dataplane] inject_port");
	}
	if (cfg->chaos_scenario[0] != '\0') {
		struct dp_scenario scn;
		char why[400];
		int rc = dp_scenario_load(&scn, cfg->chaos_scenario, cfg, NULL, why, sizeof(why));

		if (rc != 0) {
			/* the reason whole: fail() keeps 100 bytes of it */
			snprintf(err->msg, sizeof(err->msg), "[dataplane] chaos_scenario: %.160s",
				 why);
			return rc;
		}
		dp_scenario_free(&scn);
	}
	if ((cfg->curve_secret_key[0] != '\0') != (cfg->curve_allowed_keys[0] != '\0'))
		return fail(err, -EINVAL, "dataplane", "curve_allowed_keys",
			    "curve_secret_key and curve_allowed_keys go together: without "
			    "an allow-list CURVE would admit any client");
	if (cfg->mode == DP_MODE_TAP && cfg->n_servers == 0)
		return fail(err, -EINVAL, "dataplane", "servers",
			    "tap mode needs the server addresses to tell the directions apart");
	return 0;
}

void dp_config_print_reference(FILE *out, bool markdown)
{
	enum key_scope last = SCOPE_SHADOW;

	for (size_t i = 0; i < N_KEYS; i++) {
		const struct key *k = &keys[i];

		if (i == 0 || k->scope != last) {
			const char *sec = k->scope == SCOPE_DATAPLANE ? "[dataplane]" : "[shadow.NAME]";

			if (markdown)
				fprintf(out, "%s### `%s`\n\n| key | default | meaning |\n|---|---|---|\n",
					i ? "\n" : "", sec);
			else
				fprintf(out, "%s%s\n", i ? "\n" : "", sec);
			last = k->scope;
		}
		if (markdown) {
			/* Pipes in the text would end the table cell. */
			fprintf(out, "| `%s` | %s%s%s | ", k->name, k->dflt[0] ? "`" : "",
				k->dflt[0] ? k->dflt : "(none)", k->dflt[0] ? "`" : "");
			for (const char *c = k->help; *c; c++)
				fputs(*c == '|' ? "\\|" : (char[2]){ *c, 0 }, out);
			fputs(" |\n", out);
		}
		else
			fprintf(out, "  %-18s default '%s'\n      %s\n", k->name, k->dflt, k->help);
	}
}

size_t dp_config_key_names(bool shadow, const char **names, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < N_KEYS; i++)
		if ((keys[i].scope == SCOPE_SHADOW) == shadow) {
			if (n < max)
				names[n] = keys[i].name;
			n++;
		}
	return n;
}
