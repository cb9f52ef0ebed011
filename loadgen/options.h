/* shadowtap-loadgen's configuration: one struct, filled with defaults and
 * then from the command line (the arguments after "--"), each option
 * through one range-checked parser. Plain C: the unit tests check it
 * without the EAL. */
#ifndef LG_OPTIONS_H
#define LG_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "classify.h"
#include "parse.h"

#define LG_MAX_SERVERS 64
#define LG_MAX_MAPS 64
#define LG_MAP_MAX_TO 16
#define LG_MAX_MULTIPLY 1000000u

enum lg_mode {
	LG_MODE_CAPTURE,	/* the capture's own gaps, times --speed */
	LG_MODE_PPS,
	LG_MODE_MBPS,
	LG_MODE_TOPSPEED,
	LG_MODE_PROFILE,
};

/* --map FROM[:PORT]=TO[,TO...][:PORT]: packets to FROM (any server with
 * '*') go to TO instead; several TOs share the flows by flow hash. */
struct lg_map {
	struct lg_server from;		/* port 0: any port */
	bool any;			/* '*' */
	struct lg_server to[LG_MAP_MAX_TO];	/* port 0: keep the port; the
						   IPv4 ones first */
	uint8_t n_to;
	uint8_t n_to4;			/* of them IPv4 (the rest IPv6): a
					   packet picks among its family's */
};

enum lg_mac_mode { LG_MAC_KEEP, LG_MAC_PORT, LG_MAC_SET };

struct lg_config {
	const char *pcap;
	const char *port;		/* port id or device name; "0" */
	enum lg_mode mode;
	double speed;			/* LG_MODE_CAPTURE */
	double pps;
	double mbps;
	const char *profile;
	bool poisson;
	uint64_t duration_ns;		/* 0: no limit */
	uint64_t max_gap_ns;		/* the capture's gaps cut to this; 0: none */
	uint64_t loops;			/* 0: endless */
	bool loops_set;
	uint32_t multiply;
	const char *select_clients;	/* --select-clients FILE (select.h); NULL: every client */
	const char *select_fingerprint;	/* only the file's clients of this fingerprint */
	uint32_t select_scale;		/* 0: the file's scale, else 1 */
	bool json;
	bool progress;			/* progress line when stderr is a terminal */
	bool skip_cut;
	struct lg_server servers[LG_MAX_SERVERS];
	int n_servers;
	struct lg_map maps[LG_MAX_MAPS];
	int n_maps;
	enum lg_mac_mode src_mac_mode;	/* default: the port's MAC */
	uint8_t src_mac[6];
	enum lg_mac_mode dst_mac_mode;	/* default: keep (raw IP: broadcast) */
	uint8_t dst_mac[6];
	uint32_t tx_lcores;		/* 0: every worker lcore */
	uint32_t tx_desc;
	const char *kpi_endpoint;	/* NULL: no publishing */
	const char *service;
	const char *publisher_id;
	uint64_t interval_ns;		/* KPI snapshots */
	uint64_t series_ns;		/* rate series bins */
	uint64_t late_ns;
	uint64_t max_lag_ns;
	uint64_t link_timeout_ns;
	uint64_t seed;
	const char *log_level;
};

/* Fills the defaults. Never fails. */
void lg_config_defaults(struct lg_config *c);

/* Parses the application arguments (argv[0] is the program). Returns 0, 1
 * when --help was printed (exit 0), or -EINVAL with err saying which option
 * and why. Keeps pointers into argv. */
int lg_options_parse(int argc, char **argv, struct lg_config *c, struct st_perr *err);

/* The --help text. */
void lg_usage(FILE *out, const char *prog);

/* "capture", "pps", ...: the mode's name in reports. */
const char *lg_mode_str(enum lg_mode m);

/* Parses "aa:bb:cc:dd:ee:ff". Returns 0 or -EINVAL. */
int lg_parse_mac(const char *s, uint8_t mac[6]);

#endif
