#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "errmsg.h"
#include "log.h"
#include "options.h"
#include "version.h"

void lg_config_defaults(struct lg_config *c)
{
	memset(c, 0, sizeof(*c));
	c->port = "0";
	c->mode = LG_MODE_CAPTURE;
	c->speed = 1.0;
	c->loops = 1;
	c->multiply = 1;
	c->progress = true;
	c->src_mac_mode = LG_MAC_PORT;
	c->dst_mac_mode = LG_MAC_KEEP;
	c->tx_desc = 1024;
	c->service = "default";
	c->publisher_id = "loadgen";
	c->interval_ns = ST_NS_PER_S;
	c->series_ns = 100 * ST_NS_PER_MS;
	c->late_ns = 100 * ST_NS_PER_US;
	c->max_lag_ns = 10 * ST_NS_PER_MS;
	c->link_timeout_ns = 10 * ST_NS_PER_S;
	c->seed = 1;
	c->log_level = "notice";
}

const char *lg_mode_str(enum lg_mode m)
{
	switch (m) {
	case LG_MODE_CAPTURE: return "capture";
	case LG_MODE_PPS: return "pps";
	case LG_MODE_MBPS: return "mbps";
	case LG_MODE_TOPSPEED: return "topspeed";
	case LG_MODE_PROFILE: return "profile";
	}
	return "unknown";
}

void lg_usage(FILE *out, const char *prog)
{
	fprintf(out,
"Usage: %s [EAL options] -- --pcap FILE [timing] [options]\n"
"\n"
"Replays the client->server side of a capture on a DPDK port (port 0 unless\n"
"--port says otherwise), paced against absolute TSC deadlines.\n"
"\n"
"Timing (one of; default: the capture's own gaps):\n"
"      --speed X             the capture's gaps divided by X\n"
"      --pps N               N packets per second (100k, 1.5M)\n"
"      --mbps N              N megabits per second of frames\n"
"      --topspeed            as fast as the port takes them (a packet the port\n"
"                            refuses for --max-lag is dropped, counted tx_full)\n"
"      --profile CSV         't_seconds,pps' or 't_seconds,multiplier' points, linear\n"
"                            between them; the run ends at the last point and the\n"
"                            capture loops if it runs out first\n"
"      --poisson             exponential gaps at the target rate\n"
"      --duration D          stop after D (30s, 500ms); the capture loops until then\n"
"      --max-gap D           cut the capture's gaps longer than D to D (as tcpreplay's\n"
"                            --maxsleep); without it a gap of more than a day is\n"
"                            refused as a damaged timestamp\n"
"      --loop N              play the capture N times (0: endless; default 1, or\n"
"                            endless with --profile or --duration); every pass\n"
"                            after the first gets client addresses of its own\n"
"Scaling and rewriting:\n"
"      --multiply N          send each flow N times, from distinct client addresses\n"
"      --select-clients FILE only the flows of the clients FILE names (JSON: the\n"
"                            analyzer's GET /api/v1/services/NAME/clients, or\n"
"                            {\"client_key\": \"src/24\", \"clients\": [\"198.18.1.0/24\"],\n"
"                            \"scale\": 2}); a client is the key its flow makes\n"
"                            under the file's client_key, as the dataplane's\n"
"      --select-fingerprint FP  only the file's clients of fingerprint FP (fp2)\n"
"      --select-scale N      send each selected flow N times (default: the file's\n"
"                            \"scale\", else 1); multiplies with --multiply\n"
"      --server ADDR[:PORT]  a server (repeatable, or a comma list): only packets\n"
"                            to servers are sent; default: learned from SYNs\n"
"      --map FROM=TO[,TO..]  send packets for FROM (ADDR[:PORT], or * for every\n"
"                            server) to TO instead; several TOs share the flows\n"
"                            (a packet picks among its own family's TOs)\n"
"      --src-mac MAC|port|keep  source MAC (default: the port's)\n"
"      --dst-mac MAC|keep    destination MAC (default: as captured; raw IP and\n"
"                            Linux cooked captures: broadcast)\n"
"      --skip-truncated      leave out packets cut by the capture's snaplen\n"
"                            (default: send them as captured; always counted)\n"
"Port and lcores:\n"
"      --port ID|NAME        port id or device name (net_pcap0, 0000:3b:00.0)\n"
"      --tx-lcores N         TX lcores (default: every lcore but the main one);\n"
"                            flows are sharded across them by flow hash\n"
"      --tx-desc N           TX descriptors per queue (default 1024)\n"
"      --link-timeout D      wait this long for the link to come up (default 10s)\n"
"Accuracy:\n"
"      --late D              a send later than D after its deadline counts as late\n"
"                            (default 100us)\n"
"      --max-lag D           a packet that cannot go within D of its deadline is\n"
"                            dropped and counted, the schedule does not slow down\n"
"                            (default 10ms)\n"
"      --series-interval D   bins of the due/sent series and RMSE (default 100ms)\n"
"      --seed N              seed of the --poisson gaps (default 1)\n"
"Reporting:\n"
"      --json                the summary as JSON on stdout (text goes to stderr)\n"
"      --no-progress         no progress line (shown only when stderr is a terminal)\n"
"      --kpi-endpoint EP     publish kpi.<service>.synthetic snapshots (ZeroMQ PUB,\n"
"                            bind), e.g. tcp://127.0.0.1:5570\n"
"      --service NAME        service in the KPI topic (default 'default')\n"
"      --publisher-id ID     'src' of the snapshots (default 'loadgen')\n"
"      --interval D          KPI snapshot interval (default 1s)\n"
"      --log-level LEVEL     err|warn|notice|info|debug\n"
"  -h, --help                this text\n"
"      --version             print the version and exit\n"
"\n"
"EAL options go before '--', e.g. -l 0-1 --no-huge --no-pci -m 512\n"
"  --vdev net_pcap0,tx_pcap=out.pcap | --vdev net_null0 |\n"
"  --vdev net_af_packet0,iface=veth0 | --vdev net_memif0,role=client,socket=/run/x.sock\n"
"The main lcore reports; every other lcore transmits.\n",
		prog);
}

int lg_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

static int to_server(const char *s, struct lg_server *out, struct st_perr *err)
{
	struct st_addr a;
	uint16_t port;
	int rc = st_parse_endpoint(s, &a, &port, err);

	if (rc < 0)
		return rc;
	memset(out, 0, sizeof(*out));
	out->port = port;
	if (a.family == AF_INET) {
		out->family = 4;
		out->addr.v4 = a.v4;
	} else {
		out->family = 6;
		memcpy(out->addr.a8, a.v6, 16);
	}
	return 0;
}

/* The longest list a --server or --map takes: 64 bracketed IPv6 addresses
 * with ports. */
#define LIST_MAX (LG_MAX_SERVERS * 48)

/* arg copied into buf for st_split_list; -EINVAL (said) when longer than
 * it holds: a list cut short would drop or change its last items. */
static int list_copy(char *buf, size_t len, const char *opt, const char *arg,
		     struct st_perr *err)
{
	if ((size_t)snprintf(buf, len, "%s", arg) >= len) {
		lg_errmsg(err, "%s '%.60s...': longer than %zu bytes", opt, arg, len - 1);
		return -EINVAL;
	}
	return 0;
}

static int add_servers(struct lg_config *c, const char *arg, struct st_perr *err)
{
	char buf[LIST_MAX], *items[LG_MAX_SERVERS];
	struct st_perr e;
	int n;

	if (list_copy(buf, sizeof(buf), "--server", arg, err) < 0)
		return -EINVAL;
	n = st_split_list(buf, items, LG_MAX_SERVERS, &e);
	if (n <= 0) {
		lg_errmsg(err, "--server '%.100s': %s", arg,
			 n == 0 ? "empty" : e.msg);
		return -EINVAL;
	}
	for (int i = 0; i < n; i++) {
		if (c->n_servers == LG_MAX_SERVERS) {
			lg_errmsg(err, "more than %d servers", LG_MAX_SERVERS);
			return -EINVAL;
		}
		if (to_server(items[i], &c->servers[c->n_servers], &e) < 0) {
			lg_errmsg(err, "--server %.150s", e.msg);
			return -EINVAL;
		}
		c->n_servers++;
	}
	return 0;
}

static int add_map(struct lg_config *c, const char *arg, struct st_perr *err)
{
	char buf[LIST_MAX], *eq, *items[LG_MAP_MAX_TO];
	struct lg_server to[LG_MAP_MAX_TO];
	struct lg_map *m;
	struct st_perr e;
	int n, k = 0;

	if (c->n_maps == LG_MAX_MAPS) {
		lg_errmsg(err, "more than %d --map options", LG_MAX_MAPS);
		return -EINVAL;
	}
	m = &c->maps[c->n_maps];
	memset(m, 0, sizeof(*m));
	if (list_copy(buf, sizeof(buf), "--map", arg, err) < 0)
		return -EINVAL;
	eq = strchr(buf, '=');
	if (eq == NULL) {
		lg_errmsg(err, "--map '%.100s': expected FROM=TO[,TO...]", arg);
		return -EINVAL;
	}
	*eq = '\0';
	if (strcmp(st_trim(buf), "*") == 0) {
		m->any = true;
	} else if (to_server(st_trim(buf), &m->from, &e) < 0) {
		lg_errmsg(err, "--map FROM %.150s", e.msg);
		return -EINVAL;
	}
	n = st_split_list(eq + 1, items, LG_MAP_MAX_TO, &e);
	if (n <= 0) {
		lg_errmsg(err, "--map '%.100s': %s", arg,
			 n == 0 ? "no TO address" : e.msg);
		return -EINVAL;
	}
	for (int i = 0; i < n; i++) {
		if (to_server(items[i], &to[i], &e) < 0) {
			lg_errmsg(err, "--map TO %.150s", e.msg);
			return -EINVAL;
		}
		if (!m->any && to[i].family != m->from.family) {
			lg_errmsg(err, "--map '%.100s': FROM and TO must be of one family", arg);
			return -EINVAL;
		}
	}
	/* a '*' map may name both families: each packet picks among its
	 * own family's targets, in the order given */
	for (int fam = 4; fam <= 6; fam += 2)
		for (int i = 0; i < n; i++)
			if (to[i].family == fam)
				m->to[k++] = to[i];
	m->n_to = (uint8_t)n;
	for (m->n_to4 = 0; m->n_to4 < n && m->to[m->n_to4].family == 4; m->n_to4++)
		;
	c->n_maps++;
	return 0;
}

static int set_mode(struct lg_config *c, enum lg_mode m, bool *set, const char *opt,
		    struct st_perr *err)
{
	if (*set) {
		lg_errmsg(err, "%s: give one of --speed, --pps, --mbps, --topspeed, --profile", opt);
		return -EINVAL;
	}
	*set = true;
	c->mode = m;
	return 0;
}

static int parse_mac_opt(const char *opt, const char *arg, bool allow_port,
			 enum lg_mac_mode *mode, uint8_t mac[6], struct st_perr *err)
{
	if (strcmp(arg, "keep") == 0)
		*mode = LG_MAC_KEEP;
	else if (allow_port && strcmp(arg, "port") == 0)
		*mode = LG_MAC_PORT;
	else if (lg_parse_mac(arg, mac) == 0)
		*mode = LG_MAC_SET;
	else {
		lg_errmsg(err, "%s '%.60s': expected aa:bb:cc:dd:ee:ff%s",
			 opt, arg, allow_port ? ", port or keep" : " or keep");
		return -EINVAL;
	}
	return 0;
}

/* A duration option into *out. */
static int dur(const char *opt, const char *arg, uint64_t min, uint64_t max,
	       uint64_t *out, struct st_perr *err)
{
	struct st_perr e;

	if (st_parse_duration(arg, min, max, out, &e) < 0) {
		lg_errmsg(err, "%s %.150s", opt, e.msg);
		return -EINVAL;
	}
	return 0;
}

static int num(const char *opt, const char *arg, double min, double max, double *out,
	       struct st_perr *err)
{
	struct st_perr e;
	uint64_t v;

	/* "100k" and "1.5" alike. */
	if (st_parse_double(arg, min, max, out, &e) == 0)
		return 0;
	if (st_parse_si(arg, (uint64_t)min, (uint64_t)max, &v, &e) == 0 && v > 0) {
		*out = (double)v;
		return 0;
	}
	lg_errmsg(err, "%s %.150s", opt, e.msg);
	return -EINVAL;
}

static int uint_opt(const char *opt, const char *arg, uint64_t min, uint64_t max,
		    uint64_t *out, struct st_perr *err)
{
	struct st_perr e;

	/* a whole number: no suffix, no fraction rounded away (--loop 0.4
	 * was 0, endless) */
	if (st_parse_uint(arg, min, max, out, &e) < 0) {
		lg_errmsg(err, "%s %.150s", opt, e.msg);
		return -EINVAL;
	}
	return 0;
}

int lg_options_parse(int argc, char **argv, struct lg_config *c, struct st_perr *err)
{
	enum {
		O_PCAP = 256, O_PORT, O_SPEED, O_PPS, O_MBPS, O_TOPSPEED, O_PROFILE,
		O_POISSON, O_DURATION, O_LOOP, O_MULTIPLY, O_JSON, O_NOPROGRESS, O_SERVER,
		O_MAP, O_SRCMAC, O_DSTMAC, O_SKIPCUT, O_TXLCORES, O_TXDESC, O_LINKTO,
		O_LATE, O_MAXLAG, O_SERIES, O_SEED, O_KPI, O_SERVICE, O_PUBID, O_INTERVAL,
		O_LOG, O_SELECT, O_SELECT_FP, O_SELECT_SCALE, O_MAXGAP,
	};
	static const struct option longopts[] = {
		{ "pcap", required_argument, NULL, O_PCAP },
		{ "port", required_argument, NULL, O_PORT },
		{ "speed", required_argument, NULL, O_SPEED },
		{ "pps", required_argument, NULL, O_PPS },
		{ "mbps", required_argument, NULL, O_MBPS },
		{ "topspeed", no_argument, NULL, O_TOPSPEED },
		{ "profile", required_argument, NULL, O_PROFILE },
		{ "poisson", no_argument, NULL, O_POISSON },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "max-gap", required_argument, NULL, O_MAXGAP },
		{ "loop", required_argument, NULL, O_LOOP },
		{ "multiply", required_argument, NULL, O_MULTIPLY },
		{ "select-clients", required_argument, NULL, O_SELECT },
		{ "select-fingerprint", required_argument, NULL, O_SELECT_FP },
		{ "select-scale", required_argument, NULL, O_SELECT_SCALE },
		{ "json", no_argument, NULL, O_JSON },
		{ "no-progress", no_argument, NULL, O_NOPROGRESS },
		{ "server", required_argument, NULL, O_SERVER },
		{ "map", required_argument, NULL, O_MAP },
		{ "src-mac", required_argument, NULL, O_SRCMAC },
		{ "dst-mac", required_argument, NULL, O_DSTMAC },
		{ "skip-truncated", no_argument, NULL, O_SKIPCUT },
		{ "tx-lcores", required_argument, NULL, O_TXLCORES },
		{ "tx-desc", required_argument, NULL, O_TXDESC },
		{ "link-timeout", required_argument, NULL, O_LINKTO },
		{ "late", required_argument, NULL, O_LATE },
		{ "max-lag", required_argument, NULL, O_MAXLAG },
		{ "series-interval", required_argument, NULL, O_SERIES },
		{ "seed", required_argument, NULL, O_SEED },
		{ "kpi-endpoint", required_argument, NULL, O_KPI },
		{ "service", required_argument, NULL, O_SERVICE },
		{ "publisher-id", required_argument, NULL, O_PUBID },
		{ "interval", required_argument, NULL, O_INTERVAL },
		{ "log-level", required_argument, NULL, O_LOG },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	bool mode_set = false;
	uint64_t v;
	int opt, rc = 0;

	optind = 1;
	opterr = 0;
	while (rc == 0 && (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		const char *name = optind > 0 && optind <= argc ? argv[optind - 1] : "?";

		switch (opt) {
		case O_PCAP: c->pcap = optarg; break;
		case O_PORT: c->port = optarg; break;
		case O_SPEED:
			rc = set_mode(c, LG_MODE_CAPTURE, &mode_set, "--speed", err);
			if (rc == 0)
				rc = num("--speed", optarg, 1e-6, 1e6, &c->speed, err);
			break;
		case O_PPS:
			rc = set_mode(c, LG_MODE_PPS, &mode_set, "--pps", err);
			if (rc == 0)
				rc = num("--pps", optarg, 1e-3, 1e10, &c->pps, err);
			break;
		case O_MBPS:
			rc = set_mode(c, LG_MODE_MBPS, &mode_set, "--mbps", err);
			if (rc == 0)
				rc = num("--mbps", optarg, 1e-3, 1e7, &c->mbps, err);
			break;
		case O_TOPSPEED:
			rc = set_mode(c, LG_MODE_TOPSPEED, &mode_set, "--topspeed", err);
			break;
		case O_PROFILE:
			rc = set_mode(c, LG_MODE_PROFILE, &mode_set, "--profile", err);
			c->profile = optarg;
			break;
		case O_POISSON: c->poisson = true; break;
		case O_DURATION:
			rc = dur("--duration", optarg, ST_NS_PER_MS, 366 * 86400 * ST_NS_PER_S,
				 &c->duration_ns, err);
			break;
		case O_MAXGAP:
			rc = dur("--max-gap", optarg, ST_NS_PER_US, 366 * 86400 * ST_NS_PER_S,
				 &c->max_gap_ns, err);
			break;
		case O_LOOP:
			rc = uint_opt("--loop", optarg, 0, UINT32_MAX, &c->loops, err);
			c->loops_set = true;
			break;
		case O_MULTIPLY:
			rc = uint_opt("--multiply", optarg, 1, LG_MAX_MULTIPLY, &v, err);
			c->multiply = (uint32_t)v;
			break;
		case O_SELECT: c->select_clients = optarg; break;
		case O_SELECT_FP: c->select_fingerprint = optarg; break;
		case O_SELECT_SCALE:
			rc = uint_opt("--select-scale", optarg, 1, LG_SELECT_SCALE_MAX, &v, err);
			c->select_scale = (uint32_t)v;
			break;
		case O_JSON: c->json = true; break;
		case O_NOPROGRESS: c->progress = false; break;
		case O_SERVER: rc = add_servers(c, optarg, err); break;
		case O_MAP: rc = add_map(c, optarg, err); break;
		case O_SRCMAC:
			rc = parse_mac_opt("--src-mac", optarg, true, &c->src_mac_mode, c->src_mac, err);
			break;
		case O_DSTMAC:
			rc = parse_mac_opt("--dst-mac", optarg, false, &c->dst_mac_mode, c->dst_mac, err);
			break;
		case O_SKIPCUT: c->skip_cut = true; break;
		case O_TXLCORES:
			rc = uint_opt("--tx-lcores", optarg, 1, 128, &v, err);
			c->tx_lcores = (uint32_t)v;
			break;
		case O_TXDESC:
			rc = uint_opt("--tx-desc", optarg, 64, 32768, &v, err);
			c->tx_desc = (uint32_t)v;
			break;
		case O_LINKTO:
			rc = dur("--link-timeout", optarg, 0, 3600 * ST_NS_PER_S, &c->link_timeout_ns, err);
			break;
		case O_LATE:
			rc = dur("--late", optarg, 1, 60 * ST_NS_PER_S, &c->late_ns, err);
			break;
		case O_MAXLAG:
			rc = dur("--max-lag", optarg, ST_NS_PER_US, 3600 * ST_NS_PER_S, &c->max_lag_ns, err);
			break;
		case O_SERIES:
			rc = dur("--series-interval", optarg, ST_NS_PER_MS, 3600 * ST_NS_PER_S,
				 &c->series_ns, err);
			break;
		case O_SEED:
			rc = uint_opt("--seed", optarg, 0, UINT64_MAX, &c->seed, err);
			break;
		case O_KPI: c->kpi_endpoint = optarg; break;
		case O_SERVICE: c->service = optarg; break;
		case O_PUBID: c->publisher_id = optarg; break;
		case O_INTERVAL:
			rc = dur("--interval", optarg, 10 * ST_NS_PER_MS, 3600 * ST_NS_PER_S,
				 &c->interval_ns, err);
			break;
		case O_LOG: c->log_level = optarg; break;
		case 'h':
			lg_usage(stdout, st_log_prog());
			return 1;
		case 'V':
			printf("shadowtap-loadgen %s\n", ST_VERSION);
			return 1;
		case ':':
			lg_errmsg(err, "%.60s needs a value (see --help)", name);
			return -EINVAL;
		default:
			lg_errmsg(err, "unknown option '%.60s' (see --help)", name);
			return -EINVAL;
		}
	}
	if (rc < 0)
		return -EINVAL;
	if (optind < argc) {
		lg_errmsg(err, "unexpected argument '%.60s' (see --help)",
			 argv[optind]);
		return -EINVAL;
	}
	if (c->pcap == NULL) {
		lg_errmsg(err, "no --pcap FILE (see --help)");
		return -EINVAL;
	}
	if ((c->select_fingerprint != NULL || c->select_scale != 0) && c->select_clients == NULL) {
		lg_errmsg(err, "--select-fingerprint and --select-scale need --select-clients FILE");
		return -EINVAL;
	}
	if (c->poisson && c->mode == LG_MODE_TOPSPEED) {
		lg_errmsg(err, "--poisson needs a rate: not with --topspeed");
		return -EINVAL;
	}
	/* A profile or a duration sets the length of the run: loop until then. */
	if (!c->loops_set && (c->mode == LG_MODE_PROFILE || c->duration_ns))
		c->loops = 0;
	return 0;
}
