#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "config.h"
#include "../loadgen/profile.h"	/* the loadgen's reader: one profile format */
#include "ini.h"

/* ------------------------------------------------------------------ */
/* Setters: one per kind of value, bound to a field by offset          */

struct key;
typedef int (*setter)(void *base, const struct key *k, const char *v,
		      struct st_perr *e);

struct key {
	const char *name;
	setter set;
	size_t off;
	double min, max;	/* ranges (durations in ns) */
	size_t len;		/* strings: field size */
	const char *dflt;	/* as --help shows it */
	const char *help;
};

#define FIELD(base, k, type) ((type *)(void *)((char *)(base) + (k)->off))

static int set_u32(void *base, const struct key *k, const char *v,
		   struct st_perr *e)
{
	uint64_t x;
	int rc = st_parse_uint(v, (uint64_t)k->min, (uint64_t)k->max, &x, e);

	if (rc == 0)
		*FIELD(base, k, uint32_t) = (uint32_t)x;
	return rc;
}

static int set_u64(void *base, const struct key *k, const char *v,
		   struct st_perr *e)
{
	return st_parse_uint(v, (uint64_t)k->min, (uint64_t)k->max,
			     FIELD(base, k, uint64_t), e);
}

static int set_dbl(void *base, const struct key *k, const char *v,
		   struct st_perr *e)
{
	return st_parse_double(v, k->min, k->max, FIELD(base, k, double), e);
}

/* A double, or "auto" (stored as NaN). */
static int set_dbl_auto(void *base, const struct key *k, const char *v,
			struct st_perr *e)
{
	if (strcasecmp(v, "auto") == 0) {
		*FIELD(base, k, double) = NAN;
		return 0;
	}
	return set_dbl(base, k, v, e);
}

static int set_dur(void *base, const struct key *k, const char *v,
		   struct st_perr *e)
{
	return st_parse_duration(v, (uint64_t)k->min, (uint64_t)k->max,
				 FIELD(base, k, uint64_t), e);
}

static int set_bool(void *base, const struct key *k, const char *v,
		    struct st_perr *e)
{
	return st_parse_bool(v, FIELD(base, k, bool), e);
}

static int set_str(void *base, const struct key *k, const char *v,
		   struct st_perr *e)
{
	if (strlen(v) >= k->len) {
		snprintf(e->msg, sizeof(e->msg), "'%.40s...': longer than %zu characters",
			 v, k->len - 1);
		return -EINVAL;
	}
	snprintf(FIELD(base, k, char), k->len, "%s", v);
	return 0;
}

/* A topic component (wire.h): a '.' would make topics ambiguous. */
static int set_name(void *base, const struct key *k, const char *v,
		    struct st_perr *e)
{
	if (*v != '\0' && !st_wire_name_ok(v, strlen(v))) {
		snprintf(e->msg, sizeof(e->msg),
			 "'%.60s': names are 1-63 of [A-Za-z0-9_-]", v);
		return -EINVAL;
	}
	return set_str(base, k, v, e);
}

static int set_endpoints(void *base, const struct key *k, const char *v,
			 struct st_perr *e)
{
	struct an_config *c = base;
	char buf[AN_MAX_ENDPOINTS * AN_ENDPOINT_MAX], *items[AN_MAX_ENDPOINTS];
	int n;

	(void)k;
	if (strlen(v) >= sizeof(buf)) {
		snprintf(e->msg, sizeof(e->msg), "list too long");
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", v);
	n = st_split_list(buf, items, AN_MAX_ENDPOINTS, e);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (strlen(items[i]) >= AN_ENDPOINT_MAX || strstr(items[i], "://") == NULL) {
			snprintf(e->msg, sizeof(e->msg),
				 "'%.60s': not a ZeroMQ endpoint (tcp://HOST:PORT, ipc://PATH)",
				 items[i]);
			return -EINVAL;
		}
	}
	for (int i = 0; i < n; i++)
		snprintf(c->kpi_endpoints[i], AN_ENDPOINT_MAX, "%s", items[i]);
	c->n_kpi_endpoints = (uint32_t)n;
	return 0;
}

static int set_endpoint(void *base, const struct key *k, const char *v,
			struct st_perr *e)
{
	if (*v != '\0' && strcmp(v, "none") != 0 && strstr(v, "://") == NULL) {
		snprintf(e->msg, sizeof(e->msg),
			 "'%.60s': not a ZeroMQ endpoint (tcp://HOST:PORT, ipc://PATH, none)", v);
		return -EINVAL;
	}
	return set_str(base, k, v, e);
}

static int set_model(void *base, const struct key *k, const char *v,
		     struct st_perr *e)
{
	static const char *const names[] = { "auto", "mm1", "mmc", "usl", "mg1", "ggc" };
	int i, rc = st_parse_enum(v, names, (int)(sizeof(names) / sizeof(names[0])), &i, e);

	if (rc == 0)
		*FIELD(base, k, enum an_model_pref) = (enum an_model_pref)i;
	return rc;
}

static int set_level(void *base, const struct key *k, const char *v,
		     struct st_perr *e)
{
	if (st_log_level_parse(v, FIELD(base, k, enum st_log_level)) != 0) {
		snprintf(e->msg, sizeof(e->msg),
			 "'%.40s': expected err, warn, notice, info or debug", v);
		return -EINVAL;
	}
	return 0;
}

static int set_http_endpoint(void *base, const struct key *k, const char *v,
			     struct st_perr *e)
{
	struct an_config *c = base;
	int rc = st_http_endpoint_check(v, e);

	if (rc == 0)
		rc = set_str(base, k, v, e);
	if (rc == 0)
		c->http_endpoint_set = true;
	return rc;
}

static int set_size(void *base, const struct key *k, const char *v,
		    struct st_perr *e)
{
	uint64_t x;
	int rc = st_parse_size(v, (uint64_t)k->min, (uint64_t)k->max, &x, e);

	if (rc == 0)
		*FIELD(base, k, size_t) = (size_t)x;
	return rc;
}

static int set_uint(void *base, const struct key *k, const char *v,
		    struct st_perr *e)
{
	uint64_t x;
	int rc = st_parse_uint(v, (uint64_t)k->min, (uint64_t)k->max, &x, e);

	if (rc == 0)
		*FIELD(base, k, unsigned) = (unsigned)x;
	return rc;
}

static int set_shard(void *base, const struct key *k, const char *v, struct st_perr *e)
{
	(void)k;
	return an_shard_parse(&((struct an_config *)base)->shard, v, e);
}

static int set_shard_names(void *base, const struct key *k, const char *v, struct st_perr *e)
{
	(void)k;
	return an_shard_set_names(&((struct an_config *)base)->shard, v, e);
}

/* A price: a number >= 0, or "none". */
static int set_price(void *base, const struct key *k, const char *v,
		     struct st_perr *e)
{
	return st_parse_price(v, k->max, FIELD(base, k, double), e);
}

#define S_NS ((double)ST_NS_PER_S)
#define OFF_C(f) offsetof(struct an_config, f)
#define OFF_P(f) offsetof(struct an_plan, f)
#define STRLEN_C(f) sizeof(((struct an_config *)0)->f)
#define STRLEN_P(f) sizeof(((struct an_plan *)0)->f)

static const struct key analyzer_keys[] = {
	{ "kpi_endpoints", set_endpoints, 0, 0, 0, 0, "tcp://127.0.0.1:5556",
	  "KPI publishers to subscribe to, comma-separated" },
	{ "verdict_endpoint", set_endpoint, OFF_C(verdict_endpoint), 0, 0,
	  STRLEN_C(verdict_endpoint), "tcp://127.0.0.1:5560", "verdict PUB socket (bind); none: off" },
	{ "control_endpoint", set_endpoint, OFF_C(control_endpoint), 0, 0,
	  STRLEN_C(control_endpoint), "tcp://127.0.0.1:5561", "control REP socket (bind); none: off" },
	{ "window", set_dur, OFF_C(window_ns), 0.01 * S_NS, 3600 * S_NS, 0, "5s",
	  "analysis window, 10ms..1h" },
	{ "grace", set_dur, OFF_C(grace_ns), 0, 3600 * S_NS, 0, "0",
	  "wait for late snapshots after a window ends, <= window; 0: window/2" },
	{ "eval_windows", set_u32, OFF_C(eval_windows), 1, 256, 0, "6",
	  "recent windows pooled per verdict, 1..256" },
	{ "min_windows", set_u32, OFF_C(min_windows), 1, 256, 0, "3",
	  "windows of prod and shadow data a verdict needs, 1..eval_windows" },
	{ "min_samples", set_u64, OFF_C(min_samples), 10, 1e12, 0, "1000",
	  "responses in the pooled windows a latency KPI needs, >= 10" },
	{ "hysteresis", set_u32, OFF_C(hysteresis), 1, 100, 0, "2",
	  "consecutive evaluations a new verdict needs, 1..100" },
	{ "history", set_u32, OFF_C(history), 8, 100000, 0, "240",
	  "closed windows kept per target (model, report), 8..100000" },
	{ "alpha", set_dbl, OFF_C(alpha), 1e-6, 0.2, 0, "0.01",
	  "significance level of each test, 1e-6..0.2" },
	{ "tolerance", set_dbl_auto, OFF_C(tolerance), 0, 10, 0, "auto",
	  "relative deviation accepted as noise, or auto (from A/A comparisons)" },
	{ "tolerance_min", set_dbl, OFF_C(tolerance_min), 0, 10, 0, "0.05",
	  "lower bound of the automatic tolerance" },
	{ "tolerance_max", set_dbl, OFF_C(tolerance_max), 0, 10, 0, "0.5",
	  "upper bound of the automatic tolerance" },
	{ "max_load_cv", set_dbl, OFF_C(max_load_cv), 0.01, 10, 0, "0.25",
	  "coefficient of variation of the shadow's per-instance load above which a verdict is inconclusive" },
	{ "model", set_model, OFF_C(model), 0, 0, 0, "auto",
	  "queueing model: auto, mm1 (M/M/1 per instance), mmc (Erlang-C), usl, mg1 (M/G/1 per instance), ggc (G/G/c, one shared queue)" },
	{ "model_weight", set_dbl, OFF_C(model_weight), 0.001, 1, 0, "0.1",
	  "weight of a new window in the exponentially weighted model fit" },
	{ "adjust_down", set_bool, OFF_C(adjust_down), 0, 0, 0, "false",
	  "adjust a proposal that meets the SLO when fewer instances would too" },
	{ "response_timeout", set_dur, OFF_C(response_timeout_ns), 1e3, 3600 * S_NS, 0, "2s",
	  "the dataplane's response timeout (predicts the timeout rate)" },
	{ "max_skew", set_dur, OFF_C(max_skew_ns), 0, 86400 * S_NS, 0, "10s",
	  "snapshots ending further in the future are refused" },
	{ "stats_interval", set_dur, OFF_C(stats_interval_ns), 0, 86400 * S_NS, 0, "10s",
	  "period of the counters line on stderr; 0: off" },
	{ "state_file", set_str, OFF_C(state_file), 0, 0, STRLEN_C(state_file), "",
	  "model state, saved after each evaluation and loaded at start" },
	{ "forecast_dir", set_str, OFF_C(forecast_dir), 0, 0, STRLEN_C(forecast_dir), "",
	  "directory of forecast profiles: a relative forecast_profile is taken in it, and a "
	  "plan proposed at run time (HTTP API, control socket) may name only a file in it "
	  "(empty: such a plan names none)" },
	{ "json_out", set_str, OFF_C(json_out), 0, 0, STRLEN_C(json_out), "-",
	  "verdicts as JSON lines: a file, - for stdout, empty: off" },
	{ "report", set_str, OFF_C(report), 0, 0, STRLEN_C(report), "",
	  "HTML report written at exit" },
	{ "curve_secret_key", set_str, OFF_C(curve_secret_key), 0, 0,
	  STRLEN_C(curve_secret_key), "", "key-pair file: verdict and control sockets use CURVE" },
	{ "curve_allowed_keys", set_str, OFF_C(curve_allowed_keys), 0, 0,
	  STRLEN_C(curve_allowed_keys), "", "client keys admitted (required with curve_secret_key)" },
	{ "curve_server_key", set_str, OFF_C(curve_server_key), 0, 0,
	  STRLEN_C(curve_server_key), "", "publishers' public key (file or Z85): KPI subscriptions use CURVE" },
	{ "curve_client_key", set_str, OFF_C(curve_client_key), 0, 0,
	  STRLEN_C(curve_client_key), "", "key pair for the KPI subscriptions; default curve_secret_key" },
	{ "dataplane_control", set_endpoint, OFF_C(dataplane_control), 0, 0,
	  STRLEN_C(dataplane_control), "none",
	  "the dataplane's control socket: squeeze steps verify a smaller recommendation on the shadows; none: off" },
	{ "verify_windows", set_u32, OFF_C(verify_windows), 0, 64, 0, "3",
	  "windows a squeeze step measures, 0..64; 0: no squeeze steps" },
	{ "verify_settle", set_u32, OFF_C(verify_settle), 0, 16, 0, "1",
	  "windows a squeeze step lets pass after raising the share, before it measures" },
	{ "verify_util_ceiling", set_dbl, OFF_C(verify_util_ceiling), 0.05, 1, 0, "0.9",
	  "no squeeze step where the model puts a shadow instance's utilisation above this" },
	{ "verify_max_time", set_dur, OFF_C(verify_max_time_ns), ST_NS_PER_S, 86400 * S_NS, 0,
	  "2m", "longest a squeeze step keeps a share raised" },
	{ "verify_keep", set_dur, OFF_C(verify_keep_ns), 0, 30 * 86400 * S_NS, 0, "10m",
	  "how long a squeeze step's result stands" },
	{ "http_endpoint", set_http_endpoint, OFF_C(http.endpoint), 0, 0, STRLEN_C(http.endpoint),
	  "127.0.0.1:9560", "HTTP API, /metrics and dashboard (ADDR:PORT); none: off. Only loopback "
	  "without http_token_file or http_tls_client_ca" },
	{ "http_token_file", set_str, OFF_C(http.token_file), 0, 0, STRLEN_C(http.token_file), "",
	  "file (mode 0600; in systemd's $CREDENTIALS_DIRECTORY it may be group-readable) holding the bearer token every HTTP request must carry" },
	{ "http_tls_cert", set_str, OFF_C(http.tls_cert), 0, 0, STRLEN_C(http.tls_cert), "",
	  "PEM certificate: serve HTTPS (with http_tls_key)" },
	{ "http_tls_key", set_str, OFF_C(http.tls_key), 0, 0, STRLEN_C(http.tls_key), "",
	  "PEM private key of http_tls_cert (mode 0600; in systemd's $CREDENTIALS_DIRECTORY it may be group-readable)" },
	{ "http_tls_client_ca", set_str, OFF_C(http.tls_client_ca), 0, 0,
	  STRLEN_C(http.tls_client_ca), "",
	  "PEM CA: with TLS, every request needs a client certificate it signed (403 without)" },
	{ "http_max_body", set_size, OFF_C(http.max_body), 256, 16 << 20, 0, "64K",
	  "largest request body; larger ones get 413" },
	{ "http_max_connections", set_uint, OFF_C(http.max_conns), 2, 10000, 0, "64",
	  "HTTP connections at once (event streams included)" },
	{ "http_max_connections_per_client", set_uint, OFF_C(http.max_conns_per_ip), 1, 10000, 0,
	  "16",
	  "HTTP connections at once from one client address (a reverse proxy in front is one "
	  "client: raise it there); past it a connection is closed as it opens" },
	{ "http_timeout", set_dur, OFF_C(http_timeout_ns), S_NS, 3600 * S_NS, 0, "10s",
	  "an idle or slow HTTP connection is closed after this" },
	{ "shard", set_shard, 0, 0, 0, 0, "none",
	  "I/N: judge only the services whose name hashes (CRC32C mod N) to shard I of N, "
	  "and subscribe only to their topics" },
	{ "services", set_shard_names, 0, 0, 0, 0, "none",
	  "a,b,c: judge only these services (instead of shard), and subscribe only to their topics" },
	{ "max_services", set_u32, OFF_C(max_services), 1, 1000000, 0, "4096",
	  "services tracked at once" },
	{ "max_publishers", set_u32, OFF_C(max_publishers), 1, 1000000, 0, "4096",
	  "publishers (src) tracked at once" },
	{ "client_history", set_u32, OFF_C(client_history), 4, 10000, 0, "60",
	  "windows of per-client history kept per service (clients.<service>), 4..10000" },
	{ "max_clients", set_u32, OFF_C(max_clients), 1, 100000, 0, "1000",
	  "clients tracked per service; smaller ones are counted in other" },
	{ "profile_k_max", set_u32, OFF_C(profile_k_max), 1, 16, 0, "6",
	  "client fingerprints per service at most, 1..16 (k chosen by silhouette)" },
	{ "profile_horizon", set_u32, OFF_C(profile_horizon), 1, 1000, 0, "12",
	  "windows each fingerprint's load is forecast ahead (Holt-Winters)" },
	{ "log_level", set_level, OFF_C(log_level), 0, 0, 0, "notice",
	  "err, warn, notice, info, debug" },
	{ NULL, NULL, 0, 0, 0, 0, NULL, NULL },
};

static const struct key service_keys[] = {
	{ "shadow", set_name, OFF_P(shadow), 0, 0, STRLEN_P(shadow), "(required)",
	  "shadow group that stands for the proposal" },
	{ "aa_shadow", set_name, OFF_P(aa_shadow), 0, 0, STRLEN_P(aa_shadow), "",
	  "a second group configured like `shadow`, for A/A noise" },
	{ "resilience_shadow", set_name, OFF_P(resilience_shadow), 0, 0,
	  STRLEN_P(resilience_shadow), "",
	  "a group running the proposal under chaos (an instance down): the verdict's resilience part" },
	{ "current_instances", set_u32, OFF_P(current_instances), 1, AN_MAX_INSTANCES, 0,
	  "(required)", "instances in production now" },
	{ "proposed_instances", set_u32, OFF_P(proposed_instances), 1, AN_MAX_INSTANCES, 0,
	  "(required)", "instance count to judge" },
	{ "shadow_instances", set_u32, OFF_P(shadow_instances), 0, AN_MAX_INSTANCES, 0, "0",
	  "instances behind the shadow group; 0: as its KPIs say" },
	{ "forecast_rps", set_dbl, OFF_P(forecast_rps), 1e-9, 1e12, 0, "(required)",
	  "request rate the proposal must carry" },
	{ "slo_p99", set_dur, OFF_P(slo_p99_ns), 1, 3600 * S_NS, 0, "(required)",
	  "p99 latency objective" },
	{ "slo_error_rate", set_dbl, OFF_P(slo_error_rate), 0, 1, 0, "0.01",
	  "error rate objective (timeouts + resets + ICMP errors per request)" },
	{ "instance_cost_per_hour", set_price, OFF_P(cost_per_hour), 0, 1e9, 0, "none",
	  "price of one instance-hour; adds cost to verdicts" },
	{ "min_instances", set_u32, OFF_P(min_instances), 1, AN_MAX_INSTANCES, 0, "1",
	  "lower bound of recommended_instances" },
	{ "max_instances", set_u32, OFF_P(max_instances), 1, AN_MAX_INSTANCES, 0, "100000",
	  "upper bound of recommended_instances" },
	{ "max_step", set_u32, OFF_P(max_step), 0, AN_MAX_INSTANCES, 0, "0",
	  "largest change from current_instances; 0: unlimited" },
	{ "include_synthetic", set_bool, OFF_P(include_synthetic), 0, 0, 0, "true",
	  "merge loadgen (role loadgen) snapshots into the shadow group's windows" },
	{ "profile_alert_rps", set_dbl, OFF_P(profile_alert_rps), 0, 1e12, 0, "0",
	  "request rate past which one client fingerprint's forecast raises a pre-allocation "
	  "signal (the prealloc alert; alert_utilization and alert_p99 lower it); 0: those, "
	  "else forecast_rps" },
	{ "forecast_profile", set_str, OFF_P(forecast_profile), 0, 0, STRLEN_P(forecast_profile),
	  "", "a t_seconds,pps profile (shadowtap-forecast) the alerts look ahead along" },
	{ "alert_utilization", set_dbl, OFF_P(alert_utilization), 0, 1, 0, "0",
	  "alert when the forecast pushes utilisation past this (0: off)" },
	{ "alert_p99", set_dbl, OFF_P(alert_p99), 0, 10, 0, "0",
	  "alert when the forecast pushes the p99 bound past this fraction of slo_p99 (0: off)" },
	{ "budget_per_hour", set_price, OFF_P(budget_per_hour), 0, 1e12, 0, "none",
	  "alert when the instances the forecast needs cost more per hour than this" },
	{ NULL, NULL, 0, 0, 0, 0, NULL, NULL },
};

static const struct key *find_key(const struct key *t, const char *name)
{
	for (; t->name != NULL; t++)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

void an_config_defaults(struct an_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->kpi_endpoints[0], AN_ENDPOINT_MAX, "tcp://127.0.0.1:5556");
	c->n_kpi_endpoints = 1;
	snprintf(c->verdict_endpoint, sizeof(c->verdict_endpoint), "tcp://127.0.0.1:5560");
	snprintf(c->control_endpoint, sizeof(c->control_endpoint), "tcp://127.0.0.1:5561");
	c->window_ns = 5 * ST_NS_PER_S;
	c->grace_ns = 0;
	c->response_timeout_ns = 2 * ST_NS_PER_S;
	c->max_skew_ns = 10 * ST_NS_PER_S;
	c->stats_interval_ns = 10 * ST_NS_PER_S;
	c->eval_windows = 6;
	c->min_windows = 3;
	c->hysteresis = 2;
	c->history = 240;
	c->min_samples = 1000;
	c->alpha = 0.01;
	c->tolerance = NAN;
	c->tolerance_min = 0.05;
	c->tolerance_max = 0.5;
	c->max_load_cv = 0.25;
	c->model_weight = 0.1;
	c->adjust_down = false;
	c->model = AN_MODEL_AUTO;
	snprintf(c->json_out, sizeof(c->json_out), "-");
	snprintf(c->dataplane_control, sizeof(c->dataplane_control), "none");
	c->verify_windows = 3;
	c->verify_settle = 1;
	c->verify_util_ceiling = 0.9;
	c->verify_max_time_ns = 120 * ST_NS_PER_S;
	c->verify_keep_ns = 600 * ST_NS_PER_S;
	st_http_config_defaults(&c->http);
	snprintf(c->http.endpoint, sizeof(c->http.endpoint), "127.0.0.1:9560");
	c->http_timeout_ns = 10 * ST_NS_PER_S;
	c->max_services = 4096;
	c->max_publishers = 4096;
	c->client_history = 60;
	c->max_clients = 1000;
	c->profile_k_max = 6;
	c->profile_horizon = 12;
	c->log_level = ST_LOG_NOTICE;
}

bool an_config_verify_on(const struct an_config *c)
{
	return c->verify_windows > 0 && c->dataplane_control[0] != '\0' &&
	       strcmp(c->dataplane_control, "none") != 0;
}

void an_plan_defaults(struct an_plan *p)
{
	memset(p, 0, sizeof(*p));
	p->slo_error_rate = 0.01;
	p->cost_per_hour = -1.0;
	p->min_instances = 1;
	p->max_instances = AN_MAX_INSTANCES;
	p->include_synthetic = true;
	p->budget_per_hour = -1.0;
}

int an_config_set(struct an_config *c, const char *key, const char *value,
		  struct st_perr *err)
{
	const struct key *k = find_key(analyzer_keys, key);

	if (k == NULL) {
		snprintf(err->msg, sizeof(err->msg), "unknown key");
		return -ENOENT;
	}
	return k->set(c, k, value, err);
}

int an_plan_set(struct an_plan *p, const char *key, const char *value,
		struct st_perr *err)
{
	const struct key *k = find_key(service_keys, key);

	if (k == NULL) {
		snprintf(err->msg, sizeof(err->msg), "unknown key");
		return -ENOENT;
	}
	return k->set(p, k, value, err);
}

/* Every rule a complete plan must meet, each problem reported to fn:
 * an_plan_check (the first) and an_plan_edit (all) share them. */
static int plan_problems(const struct an_plan *p, an_plan_err_fn fn, void *arg)
{
	char m[160];
	int n = 0;

	if (p->shadow[0] == '\0') {
		fn(arg, "shadow", "required (the group standing for the proposal)");
		n++;
	}
	if (p->current_instances == 0) {
		fn(arg, "current_instances", "required, 1..100000");
		n++;
	}
	if (p->proposed_instances == 0) {
		fn(arg, "proposed_instances", "required, 1..100000");
		n++;
	}
	if (!(p->forecast_rps > 0)) {
		fn(arg, "forecast_rps", "required, > 0");
		n++;
	}
	if (p->slo_p99_ns == 0) {
		fn(arg, "slo_p99", "required");
		n++;
	}
	if (p->min_instances > p->max_instances) {
		snprintf(m, sizeof(m), "min_instances %u > max_instances %u", p->min_instances,
			 p->max_instances);
		fn(arg, NULL, m);
		n++;
	}
	if (p->aa_shadow[0] != '\0' && strcmp(p->aa_shadow, p->shadow) == 0) {
		fn(arg, "aa_shadow", "must differ from shadow");
		n++;
	}
	if (p->resilience_shadow[0] != '\0' && strcmp(p->resilience_shadow, p->shadow) == 0) {
		fn(arg, "resilience_shadow",
		   "must differ from shadow: the healthy group's windows would be judged as the faulted ones");
		n++;
	} else if (p->resilience_shadow[0] != '\0' &&
		   strcmp(p->resilience_shadow, p->aa_shadow) == 0) {
		fn(arg, "resilience_shadow", "must differ from aa_shadow");
		n++;
	}
	if (p->forecast_profile[0] != '\0') {
		struct lg_profile prof = { 0 };
		struct st_perr pe;

		if (lg_profile_load_file(p->forecast_profile, &prof, &pe) != 0) {
			fn(arg, "forecast_profile", pe.msg);
			n++;
		} else if (prof.kind != LG_PROFILE_PPS) {
			snprintf(m, sizeof(m), "%.40s: a t_seconds,multiplier profile: alerts need "
				 "t_seconds,pps (shadowtap-forecast's)", p->forecast_profile);
			fn(arg, "forecast_profile", m);
			n++;
		}
		lg_profile_free(&prof);
	}
	if ((p->alert_utilization > 0 || p->alert_p99 > 0) && p->forecast_profile[0] == '\0') {
		fn(arg, "forecast_profile", "required by alert_utilization and alert_p99");
		n++;
	}
	if (p->budget_per_hour >= 0 && p->cost_per_hour < 0) {
		fn(arg, "budget_per_hour", "needs instance_cost_per_hour");
		n++;
	}
	return n;
}

static void first_problem(void *arg, const char *key, const char *msg)
{
	struct st_perr *e = arg;

	if (e->msg[0] != '\0')
		return;
	if (key != NULL)
		snprintf(e->msg, sizeof(e->msg), "%.32s: %.150s", key, msg);
	else
		snprintf(e->msg, sizeof(e->msg), "%s", msg);
}

int an_plan_check(const struct an_plan *p, struct st_perr *err)
{
	err->msg[0] = '\0';
	return plan_problems(p, first_problem, err) ? -EINVAL : 0;
}

/* path's components after dir are plain names (none empty, "." or "..") */
static bool plain_below(const char *path, size_t dlen)
{
	const char *c = path + dlen;

	if (*c++ != '/')
		return false;
	for (;;) {
		const char *e = strchrnul(c, '/');
		size_t n = (size_t)(e - c);

		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (*e == '\0')
			return true;
		c = e + 1;
	}
}

/* Whether the resolved path real is, or lies in, the resolved directory rd. */
static bool within(const char *real, const char *rd)
{
	size_t n = strlen(rd);

	return strncmp(real, rd, n) == 0 && (real[n] == '/' || real[n] == '\0');
}

/* path, lexically in dir, really in it: the directory it names resolved
 * (links on the way followed) lies in dir's (not "/"), and the file, when
 * it is a link, leads into it (a dangling one does not). A file not there
 * yet passes; the alerts check it again at each read (alert.c). */
static bool really_in(const char *dir, const char *path)
{
	const char *slash = strrchr(path, '/');
	char *rd = realpath(dir, NULL), *rp = NULL, parent[AN_PATH_MAX];
	struct stat st;
	bool in = false;

	if (rd == NULL || strcmp(rd, "/") == 0 || slash == NULL ||
	    (size_t)(slash - path) >= sizeof(parent))
		goto out;
	memcpy(parent, path, (size_t)(slash - path));
	parent[slash - path] = '\0';
	rp = realpath(parent, NULL);
	if (rp == NULL || !within(rp, rd))
		goto out;
	free(rp);
	rp = NULL;
	if (lstat(path, &st) != 0) {
		in = errno == ENOENT;
		goto out;
	}
	if (!S_ISLNK(st.st_mode)) {
		in = true;
		goto out;
	}
	rp = realpath(path, NULL);
	in = rp != NULL && within(rp, rd);
out:
	free(rd);
	free(rp);
	return in;
}

bool an_forecast_confined(const char *forecast_dir, const char *path)
{
	size_t dlen = strlen(forecast_dir);

	while (dlen > 0 && forecast_dir[dlen - 1] == '/')
		dlen--;
	/* lexically below the directory, then really: a link in it leads
	 * nowhere else */
	return dlen > 0 && strncmp(path, forecast_dir, dlen) == 0 && plain_below(path, dlen) &&
	       really_in(forecast_dir, path);
}

int an_forecast_path(const char *forecast_dir, const char *name, bool from_api, char *out,
		     size_t outlen, struct st_perr *err)
{
	size_t dlen = strlen(forecast_dir);

	while (dlen > 0 && forecast_dir[dlen - 1] == '/')
		dlen--;	/* "/" itself is refused (an_config_check) */
	if (name[0] == '\0' || (dlen == 0 && forecast_dir[0] == '\0' && !from_api) ||
	    (name[0] == '/' && !from_api)) {
		if ((size_t)snprintf(out, outlen, "%s", name) >= outlen)
			goto too_long;
		return 0;
	}
	if (forecast_dir[0] == '\0') {
		snprintf(err->msg, sizeof(err->msg),
			 "a plan proposed at run time names a forecast_profile only with [analyzer] "
			 "forecast_dir set (the directory profiles are taken from)");
		return -EINVAL;
	}
	if (name[0] == '/') {
		if ((size_t)snprintf(out, outlen, "%s", name) >= outlen)
			goto too_long;
	} else if ((size_t)snprintf(out, outlen, "%.*s/%s", (int)dlen, forecast_dir, name) >=
		   outlen) {
		goto too_long;
	}
	if (!from_api)
		return 0;
	if (!an_forecast_confined(forecast_dir, out)) {
		snprintf(err->msg, sizeof(err->msg), "not a file in forecast_dir %.140s",
			 forecast_dir);
		return -EINVAL;
	}
	return 0;
too_long:
	snprintf(err->msg, sizeof(err->msg), "longer than %zu characters", outlen - 1);
	return -EINVAL;
}

int an_plan_edit(const struct an_plan *base, const struct an_plan_kv *kv, size_t n,
		 const char *forecast_dir, struct an_plan *out, an_plan_err_fn fn, void *arg)
{
	struct an_plan p = *base;
	struct st_perr pe;
	int problems = 0;

	for (size_t i = 0; i < n; i++) {
		const struct key *k = find_key(service_keys, kv[i].key);
		char text[300];

		if (k == NULL) {
			fn(arg, kv[i].key, "unknown key");
			problems++;
			continue;
		}
		/* A bare number for a duration is nanoseconds (the wire's unit);
		 * the text form takes units ("50ms"). */
		snprintf(text, sizeof(text), "%s%s", kv[i].text,
			 kv[i].number && k->set == set_dur ? "ns" : "");
		if (k->set(&p, k, text, &pe) != 0) {
			fn(arg, kv[i].key, pe.msg);
			problems++;
		} else if (strcmp(k->name, "forecast_profile") == 0 &&
			   an_forecast_path(forecast_dir, text, true, p.forecast_profile,
					    sizeof(p.forecast_profile), &pe) != 0) {
			/* the refused name is never opened (plan_problems
			 * reads the plan's own) */
			memcpy(p.forecast_profile, base->forecast_profile, sizeof(p.forecast_profile));
			fn(arg, kv[i].key, pe.msg);
			problems++;
		} else if (strcmp(k->name, "forecast_profile") == 0) {
			p.forecast_from_api = p.forecast_profile[0] != '\0';
		}
	}
	problems += plan_problems(&p, fn, arg);
	if (problems == 0)
		*out = p;
	return problems;
}

int an_config_check(const struct an_config *c, struct st_perr *err)
{
	if (c->min_windows > c->eval_windows) {
		snprintf(err->msg, sizeof(err->msg), "min_windows %u > eval_windows %u",
			 c->min_windows, c->eval_windows);
		return -EINVAL;
	}
	if (c->eval_windows > c->history) {
		snprintf(err->msg, sizeof(err->msg), "eval_windows %u > history %u",
			 c->eval_windows, c->history);
		return -EINVAL;
	}
	if (c->grace_ns > c->window_ns) {
		snprintf(err->msg, sizeof(err->msg), "grace must not exceed window");
		return -EINVAL;
	}
	if (c->tolerance_min > c->tolerance_max) {
		snprintf(err->msg, sizeof(err->msg), "tolerance_min > tolerance_max");
		return -EINVAL;
	}
	if ((c->curve_secret_key[0] != '\0') != (c->curve_allowed_keys[0] != '\0')) {
		snprintf(err->msg, sizeof(err->msg),
			 "curve_secret_key and curve_allowed_keys go together (CURVE without an allow-list admits anyone)");
		return -EINVAL;
	}
	if (c->curve_server_key[0] != '\0' && c->curve_client_key[0] == '\0' &&
	    c->curve_secret_key[0] == '\0') {
		snprintf(err->msg, sizeof(err->msg),
			 "curve_server_key needs a client key pair (curve_client_key or curve_secret_key)");
		return -EINVAL;
	}
	if (an_config_verify_on(c) &&
	    c->verify_max_time_ns < (uint64_t)(c->verify_settle + c->verify_windows + 2) * c->window_ns) {
		snprintf(err->msg, sizeof(err->msg),
			 "verify_max_time %.1f s is shorter than a squeeze step's %u windows (verify_settle + verify_windows + 2)",
			 (double)c->verify_max_time_ns / 1e9, c->verify_settle + c->verify_windows + 2);
		return -EINVAL;
	}
	if (c->forecast_dir[0] != '\0' &&
	    (c->forecast_dir[0] != '/' || strspn(c->forecast_dir, "/") == strlen(c->forecast_dir))) {
		snprintf(err->msg, sizeof(err->msg),
			 "forecast_dir must be an absolute path, and not / (the API's clients would "
			 "name any file)");
		return -EINVAL;
	}
	if ((c->http.tls_cert[0] != '\0') != (c->http.tls_key[0] != '\0')) {
		snprintf(err->msg, sizeof(err->msg), "http_tls_cert and http_tls_key go together");
		return -EINVAL;
	}
	if (c->http.tls_client_ca[0] != '\0' && c->http.tls_cert[0] == '\0') {
		snprintf(err->msg, sizeof(err->msg),
			 "http_tls_client_ca needs http_tls_cert and http_tls_key (client certificates are TLS)");
		return -EINVAL;
	}
	if (c->n_kpi_endpoints == 0) {
		snprintf(err->msg, sizeof(err->msg), "kpi_endpoints: at least one");
		return -EINVAL;
	}
	if (c->shard.n > 0 && c->shard.names != NULL) {
		snprintf(err->msg, sizeof(err->msg),
			 "shard and services: give one (a shard by hash, or the services by name)");
		return -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* File                                                               */

struct errs {
	char *buf;
	size_t len, used;
	int n;
};

static void add_err(struct errs *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add_err(struct errs *e, const char *fmt, ...)
{
	va_list ap;
	int n;

	e->n++;
	if (e->buf == NULL || e->used + 1 >= e->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(e->buf + e->used, e->len - e->used, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	e->used += (size_t)n;
	if (e->used + 1 < e->len) {
		e->buf[e->used++] = '\n';
		e->buf[e->used] = '\0';
	} else {
		e->used = e->len - 1;
	}
}

static int add_service(struct an_config *c, const char *name,
		       struct an_service_cfg **out)
{
	struct an_service_cfg *s;

	s = realloc(c->services, (c->n_services + 1) * sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	c->services = s;
	s = &c->services[c->n_services++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	an_plan_defaults(&s->plan);
	*out = s;
	return 0;
}

static void load_section(struct an_config *c, const struct st_ini *ini,
			 const struct st_ini_section *sec, struct errs *errs)
{
	const struct key *table = NULL;
	struct an_service_cfg *svc = NULL;
	const char *sname = NULL;
	void *base = NULL;
	char path[AN_PATH_MAX];
	struct st_perr pe;

	if (strcmp(sec->name, "analyzer") == 0) {
		table = analyzer_keys;
		base = c;
	} else if (strncmp(sec->name, "service.", 8) == 0) {
		sname = sec->name + 8;
		if (!st_wire_name_ok(sname, strlen(sname))) {
			add_err(errs, "%s:%d: [%s]: service names are 1-63 of [A-Za-z0-9_-]",
				ini->path, sec->line, sec->name);
			return;
		}
		if (c->n_services >= c->max_services) {
			add_err(errs, "%s:%d: [%s]: more services than max_services (%u)",
				ini->path, sec->line, sec->name, c->max_services);
			return;
		}
		if (add_service(c, sname, &svc) != 0) {
			add_err(errs, "%s:%d: out of memory", ini->path, sec->line);
			return;
		}
		table = service_keys;
		base = &svc->plan;
	} else if (strcmp(sec->name, "dataplane") == 0 ||
		   strncmp(sec->name, "shadow.", 7) == 0 ||
		   strcmp(sec->name, "loadgen") == 0) {
		return;	/* the other programs' sections */
	} else {
		add_err(errs, "%s:%d: [%s]: unknown section (expected [analyzer] or [service.NAME])",
			ini->path, sec->line, sec->name);
		return;
	}
	for (size_t i = sec->first; i < sec->first + sec->n; i++) {
		const struct st_ini_entry *e = &ini->entries[i];
		const struct key *k = find_key(table, e->key);

		if (k == NULL) {
			add_err(errs, "%s:%d: [%s] %s: unknown key", ini->path, e->line,
				sec->name, e->key);
			continue;
		}
		if (k->set(base, k, e->value, &pe) != 0)
			add_err(errs, "%s:%d: [%s] %s: %s", ini->path, e->line, sec->name,
				e->key, pe.msg);
	}
	if (svc != NULL && an_forecast_path(c->forecast_dir, svc->plan.forecast_profile, false,
					    path, sizeof(path), &pe) == 0)
		snprintf(svc->plan.forecast_profile, sizeof(svc->plan.forecast_profile), "%s", path);
	else if (svc != NULL)
		add_err(errs, "%s:%d: [%s] forecast_profile: %s", ini->path, sec->line, sec->name,
			pe.msg);
	if (svc != NULL && an_plan_check(&svc->plan, &pe) != 0)
		add_err(errs, "%s:%d: [%s]: %s", ini->path, sec->line, sec->name, pe.msg);
}

int an_config_load(struct an_config *c, const char *path, const char *const (*sets)[2],
		   int n_sets, char *errbuf, size_t errlen)
{
	struct errs errs = { errbuf, errlen, 0, 0 };
	const struct st_ini_section *a;
	struct st_ini *ini;
	struct st_perr pe;
	int rc;

	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	ini = st_ini_load(path, &pe);
	if (ini == NULL) {
		rc = -errno;
		add_err(&errs, "%s", pe.msg);
		return rc;
	}
	/* [analyzer] first: max_services bounds the service sections. */
	a = st_ini_section(ini, "analyzer");
	if (a != NULL)
		load_section(c, ini, a, &errs);
	/* Then the command line's, as if the file said them: before the
	 * services, which its forecast_dir and max_services bear on. */
	for (int i = 0; i < n_sets; i++)
		if (an_config_set(c, sets[i][0], sets[i][1], &pe) != 0)
			add_err(&errs, "--set %s: %s", sets[i][0], pe.msg);
	for (size_t i = 0; i < ini->n_sections; i++)
		if (&ini->sections[i] != a)
			load_section(c, ini, &ini->sections[i], &errs);
	if (errs.n == 0 && an_config_check(c, &pe) != 0)
		add_err(&errs, "%s: [analyzer]: %s", path, pe.msg);
	st_ini_free(ini);
	return errs.n ? -EINVAL : 0;
}

const struct an_service_cfg *an_config_service(const struct an_config *c,
					       const char *name)
{
	for (uint32_t i = 0; i < c->n_services; i++)
		if (strcmp(c->services[i].name, name) == 0)
			return &c->services[i];
	return NULL;
}

static void print_table(FILE *f, const char *title, const struct key *t)
{
	fprintf(f, "  [%s]\n", title);
	for (; t->name != NULL; t++)
		fprintf(f, "    %-31s %-22s %s\n", t->name, t->dflt, t->help);
}

void an_config_print_keys(FILE *f)
{
	print_table(f, "analyzer", analyzer_keys);
	print_table(f, "service.NAME", service_keys);
}

void an_config_free(struct an_config *c)
{
	an_shard_free(&c->shard);
	free(c->services);
	c->services = NULL;
	c->n_services = 0;
}

/* ------------------------------------------------------------------ */
/* Comparing two configs key by key (reload.c)                        */

/* The bytes a key's setter writes at its offset; 0: the key has no one
 * field (kpi_endpoints, shard, services: compared apart). */
static size_t key_size(const struct key *k)
{
	if (k->set == set_u32)
		return sizeof(uint32_t);
	if (k->set == set_u64 || k->set == set_dur)
		return sizeof(uint64_t);
	if (k->set == set_dbl || k->set == set_dbl_auto || k->set == set_price)
		return sizeof(double);
	if (k->set == set_bool)
		return sizeof(bool);
	if (k->set == set_model)
		return sizeof(enum an_model_pref);
	if (k->set == set_level)
		return sizeof(enum st_log_level);
	if (k->set == set_size)
		return sizeof(size_t);
	if (k->set == set_uint)
		return sizeof(unsigned);
	return 0;
}

static bool key_is_str(const struct key *k)
{
	return k->set == set_str || k->set == set_name || k->set == set_endpoint ||
	       k->set == set_http_endpoint;
}

/* Whether key k holds the same value in a and b (bases of its table). */
static bool key_same(const struct key *k, const void *a, const void *b)
{
	const char *pa = (const char *)a + k->off, *pb = (const char *)b + k->off;
	size_t sz = key_size(k);

	if (key_is_str(k))
		return strncmp(pa, pb, k->len) == 0;
	if (sz != 0)
		return memcmp(pa, pb, sz) == 0;
	if (k->set == set_endpoints) {
		const struct an_config *x = a, *y = b;

		if (x->n_kpi_endpoints != y->n_kpi_endpoints)
			return false;
		for (uint32_t i = 0; i < x->n_kpi_endpoints; i++)
			if (strcmp(x->kpi_endpoints[i], y->kpi_endpoints[i]) != 0)
				return false;
		return true;
	}
	if (k->set == set_shard || k->set == set_shard_names) {
		const struct an_config *x = a, *y = b;
		char dx[1024], dy[1024];

		an_shard_describe(&x->shard, dx, sizeof(dx));
		an_shard_describe(&y->shard, dy, sizeof(dy));
		return strcmp(dx, dy) == 0;
	}
	return false;	/* a kind not known here: taken as changed */
}

int an_config_diff(const struct an_config *a, const struct an_config *b,
		   void (*fn)(void *arg, const char *key), void *arg)
{
	int n = 0;

	for (const struct key *k = analyzer_keys; k->name != NULL; k++)
		if (!key_same(k, a, b)) {
			fn(arg, k->name);
			n++;
		}
	return n;
}

int an_config_copy_key(struct an_config *dst, const struct an_config *src, const char *name)
{
	const struct key *k = find_key(analyzer_keys, name);
	size_t sz;

	if (k == NULL)
		return -ENOENT;
	sz = key_is_str(k) ? k->len : key_size(k);
	if (sz == 0)
		return -EINVAL;
	memcpy((char *)dst + k->off, (const char *)src + k->off, sz);
	return 0;
}

bool an_plan_same(const struct an_plan *a, const struct an_plan *b)
{
	for (const struct key *k = service_keys; k->name != NULL; k++)
		if (!key_same(k, a, b))
			return false;
	return true;
}
