/* [whatif] keys and the command line: defaults, then the file, then the
 * options. Every bad value is reported as "FILE:LINE: [whatif] KEY: reason"
 * before anything is sent anywhere. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "ini.h"
#include "whatif.h"

static void defaults(struct wi_config *c)
{
	memset(c, 0, sizeof(*c));
	c->step_ns = 10 * ST_NS_PER_S;
	c->warmup_ns = 3 * ST_NS_PER_S;
	c->cooldown_ns = 60 * ST_NS_PER_S;
	c->start_timeout_ns = 30 * ST_NS_PER_S;
	c->slo_error_rate = 0.001;
	c->stop_factor = 4;
	c->abort_error_rate = 0.2;
	c->reach = 0.9;
	c->pause_mirror = true;
	c->cost_per_hour = -1;
	c->budget_per_hour = -1;
	snprintf(c->control_endpoint, sizeof(c->control_endpoint), "tcp://127.0.0.1:5557");
	snprintf(c->kpi_endpoint, sizeof(c->kpi_endpoint), "tcp://127.0.0.1:5556");
}

void wi_usage(FILE *out, const char *prog)
{
	fprintf(out,
"Usage: %s --config whatif.ini [--json FILE] [--csv FILE] [--report FILE.html]\n"
"\n"
"Sweeps loads x instance counts against a running shadowtap-dataplane: for each\n"
"instance count and each load, in rising order, it sets the group's pool\n"
"(set_instances), replays the capture into the dataplane's inject port with\n"
"shadowtap-loadgen (one run per row, along a profile whose steps are the row's\n"
"loads), waits `warmup`, measures `step` of the group's synthetic KPI\n"
"snapshots and judges the cell against the SLO. Prints each cell as it\n"
"completes, then per load the fewest instances that met the SLO. Production\n"
"never sees the load; the pool size and the mirror share are restored at the\n"
"end, on Ctrl-C and on SIGTERM.\n"
"\n"
"Options:\n"
"  -c, --config FILE    the [whatif] section to run (required)\n"
"      --json FILE      every cell and the answers as JSON\n"
"      --csv FILE       every cell as CSV\n"
"      --report FILE    an HTML page: heatmap, SLO frontier, latency curves\n"
"  -q, --quiet          no table on stdout (the files only)\n"
"  -h, --help           this text\n"
"      --version        print the version and exit\n"
"\n"
"[whatif] keys (docs/whatif.md):\n"
"  service            KPI service of the group (required)\n"
"  group              shadow group whose `instances` form the pool; it must take\n"
"                     injected traffic (inject = true, an inject_port) (required)\n"
"  pcap               capture of requests to replay (required)\n"
"  loads              rising list of packet rates (200, 1.5k) or multiples of the\n"
"                     capture's own rate (0.5x, 2x) (required)\n"
"  instances          counts to try: 1-4, or a list 1,2,4 (required)\n"
"  step               time measured per cell (default 10s)\n"
"  warmup             time from the first packet to the measurement (default 3s)\n"
"  cooldown           longest wait for the pool to drain between load generator\n"
"                     runs (default 60s; at least 1 s + two KPI intervals)\n"
"  slo_p99            p99 latency objective, e.g. 50ms (required)\n"
"  slo_error_rate     timeouts+resets+ICMP errors per request (default 0.001)\n"
"  stop_factor        a row stops rising past this x slo_p99 (default 4)\n"
"  abort_error_rate   ... or past this error rate (default 0.2)\n"
"  reach              a cell must send this share of its load (default 0.9)\n"
"  poisson            exponential gaps between requests (default false)\n"
"  pause_mirror       share 0 for the group during the sweep (default true)\n"
"  instance_cost_per_hour  price of one instance-hour, for the answers' cost\n"
"                     (default none)\n"
"  budget_per_hour    what an hour of the pool may cost: each answer says whether\n"
"                     it is within it, the summary the highest load it serves at\n"
"                     the SLO; needs instance_cost_per_hour (default none)\n"
"  control_endpoint   the dataplane's control socket (default tcp://127.0.0.1:5557)\n"
"  kpi_endpoint       its KPI publisher (default tcp://127.0.0.1:5556)\n"
"  loadgen            shadowtap-loadgen to run (default: the one built beside\n"
"                     this program, else from PATH)\n"
"  loadgen_eal        its EAL arguments: the inject port, lcores, --file-prefix\n"
"  loadgen_args       more of its options (--map, --server, --src-mac, ...)\n"
"  loadgen_wrapper    a command to run it under (ip netns exec NS, taskset -c 1)\n"
"  start_timeout      longest wait for the first injected packet (default 30s)\n",
		prog);
}

static int errf(struct st_perr *err, const struct wi_config *c, int line, const char *key,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int errf(struct st_perr *err, const struct wi_config *c, int line, const char *key,
		const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		wi_msg(err->msg, sizeof(err->msg), "%s:%d: [whatif] %s: %s", c->path, line, key,
			 msg);
	else
		wi_msg(err->msg, sizeof(err->msg), "%s: [whatif] %s: %s", c->path, key, msg);
	return -EINVAL;
}

static int set_str(char *dst, size_t len, const char *v, struct st_perr *e)
{
	if (v[0] == '\0') {
		wi_msg(e->msg, sizeof(e->msg), "empty");
		return -EINVAL;
	}
	if (strlen(v) >= len) {
		wi_msg(e->msg, sizeof(e->msg), "longer than %zu characters", len - 1);
		return -EINVAL;
	}
	snprintf(dst, len, "%s", v);
	return 0;
}

static int set_name(char *dst, const char *v, struct st_perr *e)
{
	if (!st_wire_name_ok(v, strlen(v))) {
		wi_msg(e->msg, sizeof(e->msg), "'%s' is not a name ([A-Za-z0-9_-], 1 to 63)", v);
		return -EINVAL;
	}
	snprintf(dst, WI_NAME_MAX, "%s", v);
	return 0;
}

static int split_args(struct wi_argv *a, const char *v, struct st_perr *e)
{
	char *save = NULL, *tok;

	free(a->buf);
	memset(a, 0, sizeof(*a));
	a->buf = strdup(v);
	if (a->buf == NULL) {
		wi_msg(e->msg, sizeof(e->msg), "out of memory");
		return -ENOMEM;
	}
	for (tok = strtok_r(a->buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (a->n == WI_MAX_ARGS) {
			wi_msg(e->msg, sizeof(e->msg), "more than %d arguments", WI_MAX_ARGS);
			return -E2BIG;
		}
		if (tok[0] == '"' || tok[0] == '\'') {
			wi_msg(e->msg, sizeof(e->msg),
				 "arguments are split at blanks, quotes are not understood (%s)", tok);
			return -EINVAL;
		}
		a->v[a->n++] = tok;
	}
	return 0;
}

/* "200, 1.5k, 2x": rates (packets per second, SI suffixes) or multiples. */
static int set_loads(struct wi_config *c, const char *v, struct st_perr *e)
{
	char buf[1024], *items[WI_MAX_LOADS];
	int n;

	if (strlen(v) >= sizeof(buf)) {
		wi_msg(e->msg, sizeof(e->msg), "too long");
		return -EINVAL;
	}
	wi_msg(buf, sizeof(buf), "%s", v);
	n = st_split_list(buf, items, WI_MAX_LOADS, e);
	if (n < 0)
		return n;
	if (n == 0) {
		wi_msg(e->msg, sizeof(e->msg), "empty: give rates (200,400) or multiples (0.5x,1x)");
		return -EINVAL;
	}
	for (int i = 0; i < n; i++) {
		struct wi_load *l = &c->loads[i];
		size_t len = strlen(items[i]);
		struct st_perr pe;

		memset(l, 0, sizeof(*l));
		snprintf(l->text, sizeof(l->text), "%s", items[i]);
		if (len > 1 && (items[i][len - 1] == 'x' || items[i][len - 1] == 'X')) {
			items[i][len - 1] = '\0';
			l->multiple = true;
			if (st_parse_double(items[i], 1e-3, 1e4, &l->value, &pe) != 0) {
				wi_msg(e->msg, sizeof(e->msg), "'%s': a multiple is 0.001x..10000x",
					 l->text);
				return -EINVAL;
			}
		} else {
			uint64_t r;

			if (st_parse_si(items[i], 1, 100000000, &r, &pe) != 0) {
				wi_msg(e->msg, sizeof(e->msg),
					 "'%s': not a rate (1..100M per second) nor a multiple (2x)",
					 l->text);
				return -EINVAL;
			}
			l->value = (double)r;
		}
		for (int j = 0; j < i; j++)
			if (strcmp(c->loads[j].text, l->text) == 0) {
				wi_msg(e->msg, sizeof(e->msg), "'%s' is listed twice", l->text);
				return -EINVAL;
			}
	}
	c->n_loads = n;
	return 0;
}

/* "1-4" or "1,2,4" (rising). */
static int set_counts(struct wi_config *c, const char *v, struct st_perr *e)
{
	char buf[512], *items[WI_MAX_COUNTS];
	const char *dash = strchr(v, '-');
	uint64_t a, b;
	int n;

	c->n_counts = 0;
	if (dash != NULL && strchr(v, ',') == NULL) {
		char lo[32];
		size_t l = (size_t)(dash - v);

		if (l == 0 || l >= sizeof(lo)) {
			wi_msg(e->msg, sizeof(e->msg), "'%s': a range is FIRST-LAST, e.g. 1-4", v);
			return -EINVAL;
		}
		memcpy(lo, v, l);
		lo[l] = '\0';
		if (st_parse_uint(lo, 1, 4096, &a, e) != 0 ||
		    st_parse_uint(dash + 1, 1, 4096, &b, e) != 0)
			return -EINVAL;
		if (b < a) {
			wi_msg(e->msg, sizeof(e->msg), "'%s': an inverted range", v);
			return -EINVAL;
		}
		if (b - a + 1 > WI_MAX_COUNTS) {
			wi_msg(e->msg, sizeof(e->msg), "'%s': more than %d counts", v,
				 WI_MAX_COUNTS);
			return -EINVAL;
		}
		for (uint64_t x = a; x <= b; x++)
			c->counts[c->n_counts++] = (uint32_t)x;
		return 0;
	}
	if (strlen(v) >= sizeof(buf)) {
		wi_msg(e->msg, sizeof(e->msg), "too long");
		return -EINVAL;
	}
	wi_msg(buf, sizeof(buf), "%s", v);
	n = st_split_list(buf, items, WI_MAX_COUNTS, e);
	if (n < 0)
		return n;
	if (n == 0) {
		wi_msg(e->msg, sizeof(e->msg), "empty: give a range (1-4) or a list (1,2,4)");
		return -EINVAL;
	}
	for (int i = 0; i < n; i++) {
		if (st_parse_uint(items[i], 1, 4096, &a, e) != 0)
			return -EINVAL;
		if (i > 0 && a <= c->counts[i - 1]) {
			wi_msg(e->msg, sizeof(e->msg), "'%s': the list must rise (%u then %u)", v,
				 c->counts[i - 1], (unsigned int)a);
			return -EINVAL;
		}
		c->counts[i] = (uint32_t)a;
	}
	c->n_counts = n;
	return 0;
}

static int set_key(struct wi_config *c, const char *key, const char *v, bool *have,
		   struct st_perr *e)
{
	bool b;

	if (strcmp(key, "service") == 0) {
		have[0] = true;
		return set_name(c->service, v, e);
	}
	if (strcmp(key, "group") == 0) {
		have[1] = true;
		return set_name(c->group, v, e);
	}
	if (strcmp(key, "pcap") == 0) {
		have[2] = true;
		return set_str(c->pcap, sizeof(c->pcap), v, e);
	}
	if (strcmp(key, "loads") == 0) {
		have[3] = true;
		return set_loads(c, v, e);
	}
	if (strcmp(key, "instances") == 0) {
		have[4] = true;
		return set_counts(c, v, e);
	}
	if (strcmp(key, "slo_p99") == 0) {
		have[5] = true;
		return st_parse_duration(v, ST_NS_PER_US, 3600 * ST_NS_PER_S, &c->slo_p99_ns, e);
	}
	if (strcmp(key, "step") == 0)
		return st_parse_duration(v, 500 * ST_NS_PER_MS, 3600 * ST_NS_PER_S, &c->step_ns, e);
	if (strcmp(key, "warmup") == 0)
		return st_parse_duration(v, 0, 3600 * ST_NS_PER_S, &c->warmup_ns, e);
	if (strcmp(key, "cooldown") == 0)
		return st_parse_duration(v, 0, 3600 * ST_NS_PER_S, &c->cooldown_ns, e);
	if (strcmp(key, "start_timeout") == 0)
		return st_parse_duration(v, ST_NS_PER_S, 600 * ST_NS_PER_S, &c->start_timeout_ns, e);
	if (strcmp(key, "slo_error_rate") == 0)
		return st_parse_share(v, &c->slo_error_rate, e);
	if (strcmp(key, "abort_error_rate") == 0)
		return st_parse_share(v, &c->abort_error_rate, e);
	if (strcmp(key, "reach") == 0)
		return st_parse_share(v, &c->reach, e);
	if (strcmp(key, "stop_factor") == 0)
		return st_parse_double(v, 1, 1000, &c->stop_factor, e);
	/* priced as the analyzer's [service.NAME] keys of the same names */
	if (strcmp(key, "instance_cost_per_hour") == 0)
		return st_parse_price(v, 1e9, &c->cost_per_hour, e);
	if (strcmp(key, "budget_per_hour") == 0)
		return st_parse_price(v, 1e12, &c->budget_per_hour, e);
	if (strcmp(key, "poisson") == 0 || strcmp(key, "pause_mirror") == 0) {
		int rc = st_parse_bool(v, &b, e);

		if (rc == 0)
			*(key[0] == 'p' && key[1] == 'o' ? &c->poisson : &c->pause_mirror) = b;
		return rc;
	}
	if (strcmp(key, "control_endpoint") == 0)
		return set_str(c->control_endpoint, sizeof(c->control_endpoint), v, e);
	if (strcmp(key, "kpi_endpoint") == 0)
		return set_str(c->kpi_endpoint, sizeof(c->kpi_endpoint), v, e);
	if (strcmp(key, "loadgen") == 0)
		return set_str(c->loadgen, sizeof(c->loadgen), v, e);
	if (strcmp(key, "loadgen_eal") == 0)
		return split_args(&c->loadgen_eal, v, e);
	if (strcmp(key, "loadgen_args") == 0)
		return split_args(&c->loadgen_args, v, e);
	if (strcmp(key, "loadgen_wrapper") == 0)
		return split_args(&c->loadgen_wrapper, v, e);
	wi_msg(e->msg, sizeof(e->msg), "unknown key (see --help)");
	return -ENOENT;
}

static int load_file(struct wi_config *c, struct st_perr *err)
{
	static const char *const required[] = { "service", "group", "pcap", "loads",
						"instances", "slo_p99" };
	bool have[6] = { false };
	const struct st_ini_section *sec;
	struct st_ini *ini;
	struct st_perr pe;
	int rc = 0;

	ini = st_ini_load(c->path, &pe);
	if (ini == NULL) {
		wi_msg(err->msg, sizeof(err->msg), "%s", pe.msg);
		return -EINVAL;
	}
	sec = st_ini_section(ini, "whatif");
	if (sec == NULL) {
		wi_msg(err->msg, sizeof(err->msg), "%s: no [whatif] section", c->path);
		st_ini_free(ini);
		return -EINVAL;
	}
	for (size_t i = sec->first; i < sec->first + sec->n; i++) {
		const struct st_ini_entry *en = &ini->entries[i];

		memset(&pe, 0, sizeof(pe));
		if (set_key(c, en->key, en->value, have, &pe) != 0) {
			rc = errf(err, c, en->line, en->key, "%s", pe.msg);
			goto out;
		}
	}
	for (size_t i = 0; i < sizeof(have) / sizeof(have[0]); i++)
		if (!have[i]) {
			rc = errf(err, c, 0, required[i], "missing (required)");
			goto out;
		}
	if (c->budget_per_hour >= 0 && c->cost_per_hour < 0)
		rc = errf(err, c, 0, "budget_per_hour", "needs instance_cost_per_hour");
out:
	st_ini_free(ini);
	return rc;
}

int wi_config_load(int argc, char **argv, struct wi_config *c, struct st_perr *err)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", required_argument, NULL, 'j' },
		{ "csv", required_argument, NULL, 'v' },
		{ "report", required_argument, NULL, 'r' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL;
	int o;

	defaults(c);
	opterr = 0;
	optind = 0;	/* 0, not 1: GNU getopt forgets a cluster it was in */
	while ((o = getopt_long(argc, argv, ":c:qh", opts, NULL)) != -1) {
		switch (o) {
		case 'c': config = optarg; break;
		case 'j': c->json_path = optarg; break;
		case 'v': c->csv_path = optarg; break;
		case 'r': c->report_path = optarg; break;
		case 'q': c->quiet = true; break;
		case 'h': return 1;
		case 'V': return 2;
		case ':':
		default: {
			/* a short option is named by optopt (in "-xq" optind has
			 * not moved past the word yet), a long one by its word */
			char name[3] = { '-', (char)optopt, '\0' };
			const char *opt = optopt ? name : argv[optind - 1];

			if (o == ':')
				wi_msg(err->msg, sizeof(err->msg), "%s needs a value", opt);
			else
				wi_msg(err->msg, sizeof(err->msg), "unknown option %s (see --help)", opt);
			return -EINVAL;
		}
		}
	}
	if (optind < argc) {
		wi_msg(err->msg, sizeof(err->msg), "unexpected argument '%s' (see --help)",
			 argv[optind]);
		return -EINVAL;
	}
	if (config == NULL) {
		wi_msg(err->msg, sizeof(err->msg), "--config FILE is required (see --help)");
		return -EINVAL;
	}
	if (strlen(config) >= sizeof(c->path)) {
		wi_msg(err->msg, sizeof(err->msg), "--config: path too long");
		return -EINVAL;
	}
	snprintf(c->path, sizeof(c->path), "%s", config);
	return load_file(c, err);
}

void wi_config_free(struct wi_config *c)
{
	free(c->loadgen_eal.buf);
	free(c->loadgen_args.buf);
	free(c->loadgen_wrapper.buf);
	c->loadgen_eal.buf = c->loadgen_args.buf = c->loadgen_wrapper.buf = NULL;
}
