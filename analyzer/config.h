/* The analyzer's configuration: one struct, filled in order from defaults,
 * the INI file ([analyzer] and [service.NAME] sections) and the command
 * line. Every key has one range-checked setter in a table (config.c), which
 * is also what --help and docs/analyzer.md list. A file that also holds
 * [dataplane] and [shadow.*] sections is accepted: one file can configure a
 * whole deployment. */
#ifndef AN_CONFIG_H
#define AN_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "http.h"
#include "log.h"
#include "parse.h"
#include "shard.h"
#include "wire.h"

#define AN_MAX_ENDPOINTS 64
#define AN_ENDPOINT_MAX  256
#define AN_PATH_MAX      512
#define AN_MAX_INSTANCES 100000
#define AN_PLAN_KEYS_MAX 32	/* keys in one plan change */

enum an_model_pref {
	AN_MODEL_AUTO, AN_MODEL_MM1, AN_MODEL_MMC, AN_MODEL_USL, AN_MODEL_MG1, AN_MODEL_GGC
};

/* The question a service asks: is `proposed_instances` right for
 * `forecast_rps` under the SLO, judged on the shadow group `shadow`? */
struct an_plan {
	char shadow[ST_WIRE_NAME_MAX];
	char aa_shadow[ST_WIRE_NAME_MAX];	/* "" or a twin group for A/A */
	/* "" or a group running the proposal under a fault (chaos): the
	 * verdict's resilience part */
	char resilience_shadow[ST_WIRE_NAME_MAX];
	uint32_t current_instances;
	uint32_t proposed_instances;
	uint32_t shadow_instances;		/* 0: as the KPIs report */
	double forecast_rps;
	uint64_t slo_p99_ns;
	double slo_error_rate;
	double cost_per_hour;			/* < 0: no price configured */
	uint32_t min_instances;
	uint32_t max_instances;
	uint32_t max_step;			/* 0: no step limit */
	bool include_synthetic;			/* loadgen traffic counts as the shadow's */
	double profile_alert_rps;		/* pre-allocation threshold; 0: forecast_rps */
	/* forecast alerts (alert.c): a shadowtap-forecast profile, the
	 * thresholds (0: off) and a budget (< 0: none) */
	char forecast_profile[AN_PATH_MAX];
	/* named at run time (an_plan_edit): read only while it lies in
	 * forecast_dir (an_forecast_confined), checked at each read */
	bool forecast_from_api;
	double alert_utilization;
	double alert_p99;			/* a fraction of slo_p99 */
	double budget_per_hour;
};

struct an_service_cfg {
	char name[ST_WIRE_NAME_MAX];
	struct an_plan plan;
};

struct an_config {
	char kpi_endpoints[AN_MAX_ENDPOINTS][AN_ENDPOINT_MAX];
	uint32_t n_kpi_endpoints;
	char verdict_endpoint[AN_ENDPOINT_MAX];	/* "" or "none": no PUB */
	char control_endpoint[AN_ENDPOINT_MAX];	/* "" or "none": no REP */

	uint64_t window_ns;
	uint64_t grace_ns;		/* 0: window / 2 */
	uint64_t response_timeout_ns;
	uint64_t max_skew_ns;
	uint64_t stats_interval_ns;	/* 0: no periodic stats line */
	uint32_t eval_windows;
	uint32_t min_windows;
	uint32_t hysteresis;
	uint32_t history;
	uint64_t min_samples;
	double alpha;
	double tolerance;		/* NaN: auto (from A/A) */
	double tolerance_min;
	double tolerance_max;
	double max_load_cv;
	double model_weight;
	bool adjust_down;
	enum an_model_pref model;

	char state_file[AN_PATH_MAX];
	char forecast_dir[AN_PATH_MAX];	/* "" none: an_forecast_path */
	char json_out[AN_PATH_MAX];	/* "" none, "-" stdout */
	char report[AN_PATH_MAX];

	char curve_secret_key[AN_PATH_MAX];
	char curve_allowed_keys[AN_PATH_MAX];
	char curve_server_key[AN_PATH_MAX];
	char curve_client_key[AN_PATH_MAX];

	/* squeeze test (verify.c): off without a dataplane control endpoint
	 * or with verify_windows 0 */
	char dataplane_control[AN_ENDPOINT_MAX];
	uint32_t verify_windows;
	uint32_t verify_settle;
	double verify_util_ceiling;
	uint64_t verify_max_time_ns;
	uint64_t verify_keep_ns;
	/* The HTTP surface (api.c): endpoint, token, TLS and limits. */
	struct st_http_config http;
	bool http_endpoint_set;		/* given, not the default: failing to bind is fatal */
	uint64_t http_timeout_ns;

	uint32_t max_services;
	uint32_t max_publishers;
	/* client profiles (clients.c) */
	uint32_t client_history;	/* windows of per-client history */
	uint32_t max_clients;		/* clients tracked per service */
	uint32_t profile_k_max;		/* fingerprints at most */
	uint32_t profile_horizon;	/* windows each fingerprint is forecast ahead */
	struct an_shard shard;		/* shard = I/N or services = a,b (shard.h) */
	enum st_log_level log_level;

	struct an_service_cfg *services;
	uint32_t n_services;
};

/* Fills c with the documented defaults (no services). Never fails. */
void an_config_defaults(struct an_config *c);

/* Reads the INI file into c (on top of what is there), and n_sets
 * [analyzer] keys given on the command line (`--set KEY=VALUE`: sets[i] =
 * {KEY, VALUE}) over the file's [analyzer] section, before the services
 * are read: a relative forecast_profile is taken in the forecast_dir a
 * --set gives, and max_services bounds the file's services as set. Every
 * bad section, key and value is reported, one per line "FILE:LINE:
 * [section] key: reason" (or "--set KEY: reason"), into errbuf (always
 * NUL-terminated; cut short when full). Returns 0, or -EINVAL (errors
 * found), -ENOMEM, or -errno of the file. */
int an_config_load(struct an_config *c, const char *path, const char *const (*sets)[2],
		   int n_sets, char *errbuf, size_t errlen);

/* Sets one [analyzer] key from text (the command line uses it too).
 * Returns 0, -ENOENT (unknown key; err says so), -EINVAL/-ERANGE. */
int an_config_set(struct an_config *c, const char *key, const char *value,
		  struct st_perr *err);

/* Checks the keys that depend on each other (min_windows <= eval_windows,
 * grace <= window, CURVE files given together). Returns 0 or -EINVAL. */
int an_config_check(const struct an_config *c, struct st_perr *err);

/* Squeeze steps may run: a dataplane control endpoint and verify_windows. */
bool an_config_verify_on(const struct an_config *c);

/* Plan defaults: no shadow, 1 instance each, no price, bounds 1..100000. */
void an_plan_defaults(struct an_plan *p);

/* Sets one [service.*] key (also what a control `propose` goes through).
 * Same returns as an_config_set. */
int an_plan_set(struct an_plan *p, const char *key, const char *value,
		struct st_perr *err);

/* Checks a complete plan: a shadow group, instances > 0, forecast > 0, an
 * SLO, min <= max. Returns 0 or -EINVAL with the first problem. */
int an_plan_check(const struct an_plan *p, struct st_perr *err);

/* One key of a plan change, as text. number: the value was a number on the
 * wire (msgpack or JSON), so a duration key takes it as nanoseconds. */
struct an_plan_kv {
	const char *key;
	const char *text;
	bool number;
};

/* A problem with a plan change: key NULL when it is the whole plan's. */
typedef void (*an_plan_err_fn)(void *arg, const char *key, const char *msg);

/* The one validation of a plan change, for the control socket's `propose`
 * and HTTP's PUT .../plan: applies kv[0..n) to a copy of base and checks
 * the whole plan, reporting every problem to fn (unknown keys, bad
 * values, missing or inconsistent ones). Returns how many; *out is written
 * only when there are none. No allocation. */
int an_plan_edit(const struct an_plan *base, const struct an_plan_kv *kv, size_t n,
		 const char *forecast_dir, struct an_plan *out, an_plan_err_fn fn, void *arg);

/* The file a plan's forecast_profile names, in out: a relative name is
 * taken in forecast_dir when it is set. from_api (a plan proposed at run
 * time: the HTTP API, the control socket) may name only a file in
 * forecast_dir, none without it, and hears the same refusal whether or not
 * what it named exists, before anything is opened; the configuration file
 * may name any path. 0, or -EINVAL with err. */
int an_forecast_path(const char *forecast_dir, const char *name, bool from_api, char *out,
		     size_t outlen, struct st_perr *err);

/* Whether path lies in forecast_dir (not "/"), lexically and really: no
 * "."/".." component, its directory resolved inside forecast_dir's, and
 * the file, when a link, leading inside. A file not there (yet) passes. */
bool an_forecast_confined(const char *forecast_dir, const char *path);

/* The service's config, or NULL. O(services). */
const struct an_service_cfg *an_config_service(const struct an_config *c,
					       const char *name);

/* Prints every key with its default and range, for --help. */
void an_config_print_keys(FILE *f);

/* Calls fn for every [analyzer] key whose value differs between a and b
 * (a live reload's comparison). Returns how many. Never fails. */
int an_config_diff(const struct an_config *a, const struct an_config *b,
		   void (*fn)(void *arg, const char *key), void *arg);

/* Copies one [analyzer] key's value from src into dst (a reload applying a
 * key that can change at run time). Returns 0, -ENOENT (no such key) or
 * -EINVAL (a key that is not one field: kpi_endpoints, shard, services). */
int an_config_copy_key(struct an_config *dst, const struct an_config *src, const char *name);

/* Whether two plans hold the same value for every [service.*] key. */
bool an_plan_same(const struct an_plan *a, const struct an_plan *b);

/* Releases the services array. */
void an_config_free(struct an_config *c);

#endif
