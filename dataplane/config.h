/* The dataplane's configuration: one struct, filled in order from the
 * defaults in the key table, the INI file (common/ini.h), and the command line
 * (--set SECTION.KEY=VALUE and a few short flags). Every key has one
 * range-checked setter; errors name the section, the key and the reason.
 *
 * Parsing needs no EAL, so a bad config exits before any port is probed. */
#ifndef DP_CONFIG_H
#define DP_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "chaos_fx.h"
#include "ini.h"
#include "parse.h"
#include "spacesaving.h"

#define DP_MAX_SHADOWS   8
#define DP_MAX_INSTANCES 16
#define DP_MAX_SERVERS   16
#define DP_NAME_LEN      32
#define DP_PORT_LEN      64
#define DP_FILTER_LEN    256
#define DP_ENDPOINT_LEN  256
#define DP_MTU_MAX       65000

enum dp_mode { DP_MODE_INLINE, DP_MODE_TAP };
enum dp_sampling { DP_SAMPLE_FLOW, DP_SAMPLE_PACKET };

struct dp_instance {
	struct st_addr addr;
	uint8_t mac[6];
	bool has_mac; /* else resolved with ARP/ND on the shadow port */
};

struct dp_server {
	struct st_addr addr;
	uint16_t port; /* 0: any port of that address */
};

struct dp_shadow_cfg {
	char name[DP_NAME_LEN];
	char port[DP_PORT_LEN];
	double share;        /* width of the hash range [offset, offset+share) */
	double share_offset; /* groups with equal ranges see the same flows */
	enum dp_sampling sampling;
	char filter[DP_FILTER_LEN]; /* pcap syntax; empty: everything */
	uint64_t rate_pps;          /* 0: no cap */
	uint64_t rate_bps;          /* 0: no cap */
	uint32_t burst_ms;          /* token bucket depth, in ms of the rate */
	struct dp_instance instances[DP_MAX_INSTANCES];
	int n_instances;
	uint8_t dst_mac[6]; /* all copies to this MAC when no instances */
	bool has_dst_mac;
	uint32_t instances_count; /* reported in KPIs; 0: derived */
	uint32_t instances_active; /* flows go to the first this many of
				      instances[]; 0: all of them */
	uint32_t mtu; /* 0: the port's */
	bool enabled;
	bool inject; /* takes load generator traffic from the inject port */
	double inject_share; /* share of the injected flows it takes */
	char service[DP_NAME_LEN]; /* "": the dataplane's service */
	double chaos_loss;   /* share of the copies lost on purpose (chaos.h) */
	struct st_addr chaos_down; /* an instance blackholed on purpose */
	bool has_chaos_down;
	bool chaos_down_respread; /* its flows move to the other instances */
	struct dp_chaos_params chaos; /* delay, jitter, bursty loss, duplicate,
					 corrupt (chaos_fx.h) */
};

struct dp_config {
	enum dp_mode mode;
	char client_port[DP_PORT_LEN];
	char prod_port[DP_PORT_LEN]; /* inline mode only */
	char inject_port[DP_PORT_LEN]; /* optional */
	uint32_t workers;            /* 0: every EAL worker lcore */
	char service[DP_NAME_LEN];
	char publisher_id[DP_NAME_LEN];
	struct dp_server servers[DP_MAX_SERVERS];
	int n_servers;
	char kpi_endpoint[DP_ENDPOINT_LEN];
	char control_endpoint[DP_ENDPOINT_LEN];
	uint64_t interval_ns;
	uint64_t response_timeout_ns;
	uint32_t mbufs;       /* production pool, per port and worker scaled */
	uint32_t copy_mbufs;  /* the copies' own pool */
	uint32_t mtu;         /* 0: auto, per port (port.c) */
	uint16_t rx_desc;
	uint16_t tx_desc;
	uint32_t flow_table_size;   /* per worker */
	uint32_t tcp_sessions;      /* per worker; 0: TCP copied as packets */
	uint32_t tcp_queue;         /* segments queued towards shadows, per worker */
	uint64_t flow_idle_ns;
	uint32_t frag_table_size;   /* fragmented datagrams tracked per worker */
	uint32_t frag_hold;         /* fragments held per worker for their first one */
	uint64_t frag_timeout_ns;   /* a fragmented datagram is forgotten after this */
	uint64_t idle_sleep_ns;     /* 0: poll without pause */
	uint32_t chaos_queue;       /* delayed copies held per worker (chaos_wheel.h) */
	char chaos_scenario[256];   /* a file of timed chaos changes (chaos_scenario.h) */
	bool stats;           /* one line per interval on stderr */
	bool timing;          /* request->response timing and KPIs */
	uint32_t prod_instances; /* production instances, reported in KPIs */
	struct st_ckey_spec client; /* BY_NONE: no per-client accounting (clients.h) */
	char client_key[32];       /* the setting as given, for the message */
	uint32_t client_top;       /* clients kept per worker and published */
	uint32_t kpi_hwm;     /* ZeroMQ send high-water mark, messages */
	char curve_secret_key[256];   /* key pair file: CURVE on when set */
	char curve_allowed_keys[256]; /* client public keys admitted */
	char http_endpoint[128];      /* "" or none: no HTTP (http_metrics.c) */
	char http_token_file[256];
	char http_tls_cert[256];
	char http_tls_key[256];
	char http_tls_client_ca[256];
	char log_level[16];

	struct dp_shadow_cfg shadows[DP_MAX_SHADOWS];
	int n_shadows;
	char config_file[256];
};

/* Fills cfg with every key's documented default. Never fails. */
void dp_config_defaults(struct dp_config *cfg);

/* Sets SECTION.KEY to VALUE ("dataplane", or "shadow.NAME" which creates the
 * group on first use). Returns 0, or a negative errno with err->msg set to
 * "[section] key: reason". Used by the file loader and by --set. */
int dp_config_set(struct dp_config *cfg, const char *section, const char *key,
		  const char *value, struct st_perr *err);

/* Loads an INI file on top of cfg: rejects unknown sections and keys,
 * duplicate keys, and malformed lines (with their line number). Returns 0 or
 * a negative errno with err set. */
int dp_config_load(struct dp_config *cfg, const char *path,
		   struct st_perr *err);
/* The keys of a file already read (common/ini.h), in its order; errors
 * name the line. cfg->config_file is left as it is. */
int dp_config_apply(struct dp_config *cfg, const struct st_ini *ini, struct st_perr *err);

/* Longest key and value a file may hold, NUL included (rte_cfgfile's,
 * which read the file before). */
#define DP_CFG_NAME_LEN 64
#define DP_CFG_VALUE_LEN 256

/* Cross-key checks once everything is set (ports present for the mode, share
 * ranges inside [0,1], unique names). Returns 0 or -EINVAL with err set. */
int dp_config_validate(const struct dp_config *cfg, struct st_perr *err);

/* Instances behind a group as reported in KPIs: instances_count, else
 * instances_active, else the number of instances listed, else 1. */
uint32_t dp_shadow_instances_count(const struct dp_shadow_cfg *s);

/* Prints the reference of every key: section, key, default, meaning. */
void dp_config_print_reference(FILE *out, bool markdown);

/* Parses a chaos_down value: an address, or "" / "none" for no instance
 * down (*has false). Returns 0 or -EINVAL with e set. */
int dp_parse_chaos_down(const char *v, struct st_addr *addr, bool *has, struct st_perr *e);

/* The index of addr among the group's instances, or -1. */
int dp_shadow_instance_index(const struct dp_shadow_cfg *s, const struct st_addr *addr);

/* The names of the [dataplane] keys (shadow false) or the [shadow.NAME]
 * ones, in the reference's order: up to max into names; returns how many
 * there are. Never fails. */
size_t dp_config_key_names(bool shadow, const char **names, size_t max);

/* Finds a shadow group by name; NULL when there is none. */
struct dp_shadow_cfg *dp_config_shadow(struct dp_config *cfg, const char *name);

#endif
