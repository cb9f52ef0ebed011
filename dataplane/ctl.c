/* shadowtap-ctl: a REQ client for the control sockets of the dataplane and
 * the analyzer. Builds one msgpack request map from the command line,
 * waits a bounded time for the reply and turns it into JSON and an exit
 * status, so scripts can drive a running gateway. With --http URL the same
 * commands go over the HTTP API instead, where the API has them (the
 * analyzer's services, plans and metrics; the dataplane's metrics), with a
 * bearer token and HTTPS. Plain C, no DPDK. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <zmq.h>

#include "chaos_fx.h"
#include "clock.h"
#include "http_client.h"
#include "log.h"
#include "parse.h"
#include "regfile.h"
#include "version.h"
#include "wire.h"
#include "zsec.h"

#define PROG "shadowtap-ctl"
#define DEFAULT_ENDPOINT "tcp://127.0.0.1:5557"
#define DEFAULT_TIMEOUT_NS (5ull * 1000000000ull)
#define MAX_TIMEOUT_NS (3600ull * 1000000000ull)
/* Pairs a `send` request may carry. */
#define MAX_SEND_PAIRS 64
/* An HTTP answer's size; /metrics of a big analyzer fits many times. */
#define MAX_HTTP_RESPONSE (64u << 20)

enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_FAIL = 2 };

struct ctl_opts {
	const char *endpoint;
	uint64_t timeout_ns;
	const char *server_key;
	const char *key_file;
	const char *gen_keys;
	const char *http;	/* --http URL: the HTTP API instead of ZeroMQ */
	const char *token_file;
	const char *ca_file;
	const char *cert_file;	/* --cert, --key: a TLS client certificate */
	const char *cert_key_file;
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: " PROG " [OPTIONS] COMMAND [ARGS]\n"
"       " PROG " --gen-keys PREFIX\n"
"\n"
"Sends one control request (a msgpack map) to a shadowtap control socket\n"
"(ZeroMQ REQ/REP) and prints the reply as one JSON line on stdout.\n"
"\n"
"Commands (dataplane):\n"
"  stats                          counters and settings\n"
"  set_share GROUP SHARE [OFFSET] share of flows a shadow group gets (0-1\n"
"                                 or 25%%), optionally from hash OFFSET (0-1)\n"
"  set_rate GROUP PPS [BPS]       rate cap (1M, 100k; BPS as 1G, 500M)\n"
"  set_instances GROUP N          spread the group's new flows over the first\n"
"                                 N of its listed instances (1..listed); KPIs\n"
"                                 report N\n"
"  enable GROUP | disable GROUP   start or stop copies to a group\n"
"  chaos GROUP KEY=VALUE...       chaos on the group's path, over what is in\n"
"                                 force: loss=2%% (or 0.02) random loss,\n"
"                                 down=ADDR one instance down (none: all up),\n"
"                                 respread=true|false its flows move to the\n"
"                                 others, delay=5ms jitter=1ms\n"
"                                 delay_dist=uniform|normal|paretonormal\n"
"                                 delay_corr=25%% copies held back,\n"
"                                 loss_burst=LOSS_IN_BAD,MEAN_BURST,MEAN_GAP\n"
"                                 Gilbert-Elliott loss (none: off),\n"
"                                 duplicate=1%% corrupt=0.1%%, reorder=25%%\n"
"                                 reorder_gap=5 (sent after the next 5),\n"
"                                 rate=10mbit shaping, flap=2s/30s down 2 s\n"
"                                 every 30 s, direction=copies|responses|both\n"
"                                 where loss and delay act (the config's\n"
"                                 chaos_* keys and values)\n"
"  chaos_off GROUP                end every chaos on the group\n"
"  chaos_scenario FILE            run FILE's lines t_seconds,group,key,value\n"
"                                 from now on (read here and sent; none:\n"
"                                 stop the scenario running)\n"
"  reload                         read the config file again and apply what\n"
"                                 can change at run time; refused whole,\n"
"                                 naming each key, when something cannot\n"
"                                 (the dataplane and the analyzer alike;\n"
"                                 SIGHUP does the same)\n"
"Commands (analyzer):\n"
"  last SERVICE                   the newest verdict for SERVICE\n"
"  propose SERVICE KEY=VALUE...   change SERVICE's plan ([service.NAME] keys:\n"
"                                 proposed_instances=12 slo_p99=50ms ...);\n"
"                                 VALUE typed as for send\n"
"  stats                          the engine's counters\n"
"Any control socket:\n"
"  send KEY=VALUE...              a map of your own; VALUE is typed: an\n"
"                                 integer (-3, 42), a float (0.5, 1e3),\n"
"                                 true, false, null, else a string; wrap it in\n"
"                                 double quotes ('\"42\"') to force a string.\n"
"                                 e.g. send cmd=last service=web\n"
"\n"
"Options:\n"
"  -e, --endpoint EP          control endpoint (default " DEFAULT_ENDPOINT ";\n"
"                             the analyzer's is in its config, e.g. :5561)\n"
"  -t, --timeout D            wait at most D for the reply (default 5s)\n"
"      --curve-server-key KEY the server's CURVE public key: 40 Z85\n"
"                             characters, or its .pub/.key file\n"
"      --curve-key-file FILE  this client's key pair; both or neither\n"
"      --gen-keys PREFIX      write a new key pair to PREFIX.key (mode 0600)\n"
"                             and its public key to PREFIX.pub, then exit\n"
"      --http URL             use the HTTP API at URL instead of the control\n"
"                             socket (http://127.0.0.1:9560, https://...)\n"
"      --token-file FILE      with --http: send the bearer token in FILE (the\n"
"                             server's http_token_file)\n"
"      --ca-file FILE         with an https URL: trust the CAs (PEM) in FILE\n"
"                             instead of the system's; the server's name or\n"
"                             address must match its certificate either way\n"
"      --cert FILE            with an https URL: present the client certificate\n"
"                             (PEM) in FILE, for a server with\n"
"                             http_tls_client_ca\n"
"      --key FILE             the private key (PEM) of --cert; both or neither\n"
"  -h, --help                 this text\n"
"      --version              print the version and exit\n"
"\n"
"Over --http (the analyzer's [analyzer] http_endpoint, the dataplane's\n"
"[dataplane] http_endpoint):\n"
"  last SERVICE                   GET /api/v1/services/SERVICE: the plan, the\n"
"                                 last verdict, recommended_instances, model\n"
"  services                       GET /api/v1/services: every service\n"
"  propose SERVICE KEY=VALUE...   PUT /api/v1/services/SERVICE/plan with the\n"
"                                 pairs as a JSON object; same validation\n"
"  stats                          GET /metrics: the counters, as Prometheus\n"
"                                 text (analyzer and dataplane alike)\n"
"  get PATH                       GET PATH (/healthz, /readyz, ...)\n"
"  send cmd=last|propose|stats service=NAME [KEY=VALUE...]\n"
"                                 the maps above, sent as those requests\n"
"  send cmd=whatif service=NAME [load=L] [instances=N]\n"
"                                 GET /api/v1/services/NAME/whatif?load=L&...\n"
"                                 (lists as load=0.5x,1x,2x; rps= is load=)\n"
"The answer's body goes to stdout as the server sent it (JSON; text for\n"
"stats). reload has no HTTP form: use the control socket or SIGHUP.\n"
"set_share, set_rate, set_instances, enable, disable and chaos exist only\n"
"on the dataplane's control socket: its HTTP endpoint is read-only.\n"
"\n"
"Exit status: 0 the reply says ok=true (over HTTP: a 2xx status); 1 it says\n"
"ok=false, or an HTTP error status (its error goes to stderr); 2 no reply in\n"
"time, a transport, TLS or protocol error, or a usage error.\n");
}

static int parse_opts(int argc, char **argv, struct ctl_opts *o)
{
	enum { OPT_SERVER_KEY = 256, OPT_KEY_FILE, OPT_GEN_KEYS, OPT_HTTP, OPT_TOKEN_FILE,
	       OPT_CA_FILE, OPT_CERT, OPT_KEY };
	static const struct option longopts[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "timeout", required_argument, NULL, 't' },
		{ "curve-server-key", required_argument, NULL, OPT_SERVER_KEY },
		{ "curve-key-file", required_argument, NULL, OPT_KEY_FILE },
		{ "gen-keys", required_argument, NULL, OPT_GEN_KEYS },
		{ "http", required_argument, NULL, OPT_HTTP },
		{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
		{ "ca-file", required_argument, NULL, OPT_CA_FILE },
		{ "cert", required_argument, NULL, OPT_CERT },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct st_perr err;
	bool endpoint_set = false;
	int c;

	o->endpoint = DEFAULT_ENDPOINT;
	o->timeout_ns = DEFAULT_TIMEOUT_NS;
	/* '+': stop at the command, so its arguments may start with '-'. */
	while ((c = getopt_long(argc, argv, "+e:t:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'e':
			o->endpoint = optarg;
			endpoint_set = true;
			break;
		case 't':
			if (st_parse_duration(optarg, 1000000ull, MAX_TIMEOUT_NS,
					      &o->timeout_ns, &err)) {
				fprintf(stderr, PROG ": --timeout: %s\n", err.msg);
				return -EINVAL;
			}
			break;
		case OPT_SERVER_KEY:
			o->server_key = optarg;
			break;
		case OPT_KEY_FILE:
			o->key_file = optarg;
			break;
		case OPT_GEN_KEYS:
			o->gen_keys = optarg;
			break;
		case OPT_HTTP:
			o->http = optarg;
			break;
		case OPT_TOKEN_FILE:
			o->token_file = optarg;
			break;
		case OPT_CA_FILE:
			o->ca_file = optarg;
			break;
		case OPT_CERT:
			o->cert_file = optarg;
			break;
		case OPT_KEY:
			o->cert_key_file = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		case 'V':
			printf("shadowtap-ctl %s\n", ST_VERSION);
			exit(EXIT_OK);
		default:
			return -EINVAL;
		}
	}
	if (!o->server_key != !o->key_file) {
		fprintf(stderr, PROG ": --curve-server-key and --curve-key-file "
			"go together\n");
		return -EINVAL;
	}
	if (o->http && (endpoint_set || o->server_key)) {
		fprintf(stderr, PROG ": --http goes over HTTP: --endpoint and CURVE keys "
			"are for the control socket\n");
		return -EINVAL;
	}
	if (!o->http && (o->token_file || o->ca_file || o->cert_file || o->cert_key_file)) {
		fprintf(stderr, PROG ": --token-file, --ca-file, --cert and --key go with --http\n");
		return -EINVAL;
	}
	if (!o->cert_file != !o->cert_key_file) {
		fprintf(stderr, PROG ": --cert and --key go together\n");
		return -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Requests                                                           */

static int need_args(const char *cmd, int argc, int min, int max,
		     const char *args)
{
	if (argc >= min && argc <= max)
		return 0;
	fprintf(stderr, PROG ": usage: %s%s%s (try --help)\n", cmd,
		args[0] ? " " : "", args);
	return -EINVAL;
}

/* A group name goes into topics and config sections: refuse what the
 * server would refuse, with a clearer message. */
static int check_group(const char *g)
{
	if (st_wire_name_ok(g, strlen(g)))
		return 0;
	fprintf(stderr, PROG ": '%s' is not a group name ([A-Za-z0-9_-], 1-63 "
		"characters)\n", g);
	return -EINVAL;
}

/* One typed VALUE of send (see --help), as msgpack packs it and as JSON
 * writes it: one reading of the command line for both transports. */
enum typed_kind { T_STR, T_TRUE, T_FALSE, T_NULL, T_INT, T_UINT, T_DOUBLE };

struct typed {
	enum typed_kind kind;
	const char *s;		/* T_STR: the text, without forcing quotes */
	size_t n;
	int64_t i;
	uint64_t u;
	double d;
};

/* Returns 0, or -ERANGE after a message for a number out of range. */
static int classify(const char *key, const char *v, struct typed *t)
{
	size_t n = strlen(v);
	struct st_perr err;
	const char *p = v;
	char *end;

	memset(t, 0, sizeof(*t));
	t->kind = T_STR;
	t->s = v;
	t->n = n;
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		t->s = v + 1;
		t->n = n - 2;
		return 0;
	}
	if (strcmp(v, "true") == 0) {
		t->kind = T_TRUE;
		return 0;
	}
	if (strcmp(v, "false") == 0) {
		t->kind = T_FALSE;
		return 0;
	}
	if (strcmp(v, "null") == 0) {
		t->kind = T_NULL;
		return 0;
	}
	if (*p == '-')
		p++;
	if (*p && strspn(p, "0123456789") == strlen(p)) {
		if (v[0] == '-') {
			if (st_parse_int(v, INT64_MIN, 0, &t->i, &err))
				goto range;
			t->kind = T_INT;
		} else {
			if (st_parse_uint(v, 0, UINT64_MAX, &t->u, &err))
				goto range;
			t->kind = T_UINT;
		}
		return 0;
	}
	/* A float only when it looks like one: "1e3", "0.5", "-2.", not
	 * "inf", "nan" or hex, which stay strings. */
	if (strpbrk(v, ".eE") && strspn(v, "0123456789+-.eE") == n) {
		errno = 0;
		t->d = strtod(v, &end);
		if (*end == '\0' && end != v) {
			if (errno == ERANGE || !isfinite(t->d))
				goto range;
			t->kind = T_DOUBLE;
			return 0;
		}
	}
	return 0;
range:
	fprintf(stderr, PROG ": %s: '%s' is out of range\n", key, v);
	return -ERANGE;
}

/* Packs one typed VALUE. Pack results are not checked here: a failed
 * write leaves the buffer's sticky oom flag, checked once at the end. */
static int pack_typed(msgpack_packer *pk, const char *key, const char *v)
{
	struct typed t;

	if (classify(key, v, &t))
		return -ERANGE;
	switch (t.kind) {
	case T_TRUE:
		msgpack_pack_true(pk);
		break;
	case T_FALSE:
		msgpack_pack_false(pk);
		break;
	case T_NULL:
		msgpack_pack_nil(pk);
		break;
	case T_INT:
		msgpack_pack_int64(pk, t.i);
		break;
	case T_UINT:
		msgpack_pack_uint64(pk, t.u);
		break;
	case T_DOUBLE:
		msgpack_pack_double(pk, t.d);
		break;
	case T_STR:
		msgpack_pack_str(pk, t.n);
		msgpack_pack_str_body(pk, t.s, t.n);
		break;
	}
	return 0;
}

/* Appends one typed VALUE as JSON. Same contract as pack_typed. */
static int json_typed(struct st_wbuf *out, const char *key, const char *v)
{
	struct typed t;

	if (classify(key, v, &t))
		return -ERANGE;
	switch (t.kind) {
	case T_TRUE:
		st_wbuf_printf(out, "true");
		break;
	case T_FALSE:
		st_wbuf_printf(out, "false");
		break;
	case T_NULL:
		st_wbuf_printf(out, "null");
		break;
	case T_INT:
		st_wbuf_printf(out, "%" PRId64, t.i);
		break;
	case T_UINT:
		st_wbuf_printf(out, "%" PRIu64, t.u);
		break;
	case T_DOUBLE:
		st_wbuf_printf(out, "%.17g", t.d);
		break;
	case T_STR:
		st_wire_json_str(out, t.s, t.n);
		break;
	}
	return 0;
}

/* Checks argv[0..argc) are KEY=VALUE pairs with distinct keys. Returns 0
 * or -EINVAL after a message. */
static int check_pairs(const char *cmd, int argc, char **argv)
{
	if (argc < 1 || argc > MAX_SEND_PAIRS) {
		fprintf(stderr, PROG ": %s takes 1 to %d KEY=VALUE pairs\n", cmd,
			MAX_SEND_PAIRS);
		return -EINVAL;
	}
	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');

		if (eq == NULL || eq == argv[i] || eq - argv[i] >= 128) {
			fprintf(stderr, PROG ": %s: '%s' is not KEY=VALUE\n", cmd,
				argv[i]);
			return -EINVAL;
		}
		for (int j = 0; j < i; j++) {
			size_t kl = (size_t)(eq - argv[i]);

			if (strncmp(argv[j], argv[i], kl) == 0 &&
			    argv[j][kl] == '=') {
				fprintf(stderr, PROG ": %s: key '%.*s' given "
					"twice\n", cmd, (int)kl, argv[i]);
				return -EINVAL;
			}
		}
	}
	return 0;
}

static int build_send(msgpack_packer *pk, int argc, char **argv)
{
	if (check_pairs("send", argc, argv))
		return -EINVAL;
	msgpack_pack_map(pk, (size_t)argc);
	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		char key[128];

		snprintf(key, sizeof(key), "%.*s", (int)(eq - argv[i]), argv[i]);
		msgpack_pack_str(pk, (size_t)(eq - argv[i]));
		msgpack_pack_str_body(pk, argv[i], (size_t)(eq - argv[i]));
		if (pack_typed(pk, key, eq + 1))
			return -EINVAL;
	}
	return 0;
}

/* The analyzer's commands as maps: {cmd: last|propose, service, KEY...}. */
static int build_service_cmd(msgpack_packer *pk, const char *cmd, int argc, char **argv)
{
	if (strcmp(cmd, "last") == 0 ? need_args(cmd, argc, 1, 1, "SERVICE") :
	    need_args(cmd, argc, 2, MAX_SEND_PAIRS, "SERVICE KEY=VALUE..."))
		return -EINVAL;
	if (!st_wire_name_ok(argv[0], strlen(argv[0]))) {
		fprintf(stderr, PROG ": '%s' is not a service name ([A-Za-z0-9_-], 1-63 "
			"characters)\n", argv[0]);
		return -EINVAL;
	}
	if (argc > 1 && check_pairs(cmd, argc - 1, argv + 1))
		return -EINVAL;
	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], "cmd=", 4) == 0 || strncmp(argv[i], "service=", 8) == 0) {
			fprintf(stderr, PROG ": %s: '%s': cmd and service are set by the "
				"command\n", cmd, argv[i]);
			return -EINVAL;
		}
	msgpack_pack_map(pk, (size_t)argc + 1);
	st_wire_pack_cstr(pk, "cmd");
	st_wire_pack_cstr(pk, cmd);
	st_wire_pack_cstr(pk, "service");
	st_wire_pack_cstr(pk, argv[0]);
	for (int i = 1; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		char key[128];

		snprintf(key, sizeof(key), "%.*s", (int)(eq - argv[i]), argv[i]);
		st_wire_pack_cstr(pk, key);
		if (pack_typed(pk, key, eq + 1))
			return -EINVAL;
	}
	return 0;
}

/* chaos GROUP KEY=VALUE...: loss (a share), down (an address or none),
 * respread (a bool), and the impairments (chaos_fx.h: delay, jitter, ...,
 * parsed by the dataplane's own parser and sent as text), each at most
 * once, checked here so that a typo never leaves; the dataplane checks
 * again (down must be one of the group's instances). Returns 0 or -EINVAL
 * after a message on stderr. */
#define CHAOS_KEYS 15
static int build_chaos(msgpack_packer *pk, int argc, char **argv)
{
	static const char *const keys[CHAOS_KEYS] = {
		"loss", "down", "respread", "delay", "jitter", "delay_dist", "delay_corr",
		"loss_burst", "duplicate", "corrupt", "reorder", "reorder_gap", "rate", "flap",
		"direction",
	};
	const char *val[CHAOS_KEYS] = { NULL };
	struct dp_chaos_params scratch = { 0 };
	struct st_perr err;
	double loss = 0;
	bool respread = false;
	struct st_addr a;
	int n = 0;

	if (need_args("chaos", argc, 2, 1 + CHAOS_KEYS,
		      "GROUP KEY=VALUE... (loss, down, respread, delay, jitter, delay_dist, "
		      "delay_corr, loss_burst, duplicate, corrupt, reorder, reorder_gap, rate, "
		      "flap, direction)") ||
	    check_group(argv[0]))
		return -EINVAL;
	for (int i = 1; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		int k = -1;

		for (int j = 0; j < CHAOS_KEYS && eq != NULL; j++)
			if ((size_t)(eq - argv[i]) == strlen(keys[j]) &&
			    strncmp(argv[i], keys[j], strlen(keys[j])) == 0)
				k = j;
		if (k < 0 || val[k] != NULL) {
			fprintf(stderr, PROG ": chaos: '%s': expected KEY=VALUE with KEY one of loss, "
				"down, respread, delay, jitter, delay_dist, delay_corr, loss_burst, "
				"duplicate, corrupt, reorder, reorder_gap, rate, flap, direction, each "
				"once\n",
				argv[i]);
			return -EINVAL;
		}
		val[k] = eq + 1;
		n++;
		if (k >= 3 && dp_chaos_param_set(&scratch, keys[k], val[k], &err) != 0) {
			fprintf(stderr, PROG ": chaos: %s %s\n", keys[k], err.msg);
			return -EINVAL;
		}
	}
	if (val[0] != NULL && st_parse_share(val[0], &loss, &err)) {
		fprintf(stderr, PROG ": chaos: loss %s\n", err.msg);
		return -EINVAL;
	}
	if (val[1] != NULL && strcmp(val[1], "none") != 0 && val[1][0] != '\0' &&
	    st_parse_ip(val[1], &a, &err)) {
		fprintf(stderr, PROG ": chaos: down %s\n", err.msg);
		return -EINVAL;
	}
	if (val[2] != NULL && st_parse_bool(val[2], &respread, &err)) {
		fprintf(stderr, PROG ": chaos: respread %s\n", err.msg);
		return -EINVAL;
	}
	msgpack_pack_map(pk, (size_t)(2 + n));
	st_wire_pack_cstr(pk, "cmd");
	st_wire_pack_cstr(pk, "chaos");
	st_wire_pack_cstr(pk, "group");
	st_wire_pack_cstr(pk, argv[0]);
	if (val[0] != NULL) {
		st_wire_pack_cstr(pk, "loss");
		msgpack_pack_double(pk, loss);
	}
	if (val[1] != NULL) {
		st_wire_pack_cstr(pk, "down");
		st_wire_pack_cstr(pk, val[1]);
	}
	if (val[2] != NULL) {
		st_wire_pack_cstr(pk, "respread");
		if (respread)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
	}
	for (int k = 3; k < CHAOS_KEYS; k++) {
		if (val[k] == NULL)
			continue;
		st_wire_pack_cstr(pk, keys[k]);
		st_wire_pack_cstr(pk, val[k]);
	}
	return 0;
}

/* chaos_scenario FILE: FILE read here, with this user's rights, and its
 * text sent (the dataplane opens no file a client names); none: stop. */
static int build_scenario(msgpack_packer *pk, int argc, char **argv)
{
	const size_t max = 1000000;	/* chaos_scenario's request: at most 1 MiB */
	char abs[4096], *text;
	const char *f;
	size_t n;
	FILE *in;

	if (need_args("chaos_scenario", argc, 1, 1, "FILE (none: stop the one running)"))
		return -EINVAL;
	f = argv[0];
	if (strcmp(f, "none") == 0) {
		msgpack_pack_map(pk, 2);
		st_wire_pack_cstr(pk, "cmd");
		st_wire_pack_cstr(pk, "chaos_scenario");
		st_wire_pack_cstr(pk, "file");
		st_wire_pack_cstr(pk, "none");
		return 0;
	}
	in = st_fopen_regular(f, "r");
	if (in == NULL) {
		fprintf(stderr, PROG ": chaos_scenario: %s: %s\n", f,
			errno == EINVAL ? "not a regular file" : strerror(errno));
		return -EINVAL;
	}
	text = malloc(max + 1);
	n = text != NULL ? fread(text, 1, max + 1, in) : 0;
	if (text == NULL || ferror(in) || n > max) {
		fprintf(stderr, PROG ": chaos_scenario: %s: %s\n", f,
			text == NULL ? "out of memory" : ferror(in) ? "read error" :
			"larger than 1000000 bytes");
		free(text);
		fclose(in);
		return -EINVAL;
	}
	fclose(in);
	/* the name the dataplane logs it under (control characters, which it
	 * refuses there, as '?') */
	if (realpath(f, abs) == NULL)
		snprintf(abs, sizeof(abs), "%s", f);
	for (char *x = abs; *x != '\0'; x++)
		if ((unsigned char)*x < 0x20 || *x == 0x7f)
			*x = '?';
	f = abs;
	msgpack_pack_map(pk, 3);
	st_wire_pack_cstr(pk, "cmd");
	st_wire_pack_cstr(pk, "chaos_scenario");
	/* as bin: st_wire takes a str of at most 64 KiB */
	st_wire_pack_cstr(pk, "text");
	msgpack_pack_bin(pk, n);
	msgpack_pack_bin_body(pk, text, n);
	st_wire_pack_cstr(pk, "name");
	st_wire_pack_cstr(pk, strlen(f) < 256 ? f : "(a path of 256 bytes or more)");
	free(text);
	return 0;
}

/* Builds the request for argv[0] (the command) into pk. Returns 0 or
 * -EINVAL after a message on stderr. */
static int build_request(msgpack_packer *pk, int argc, char **argv)
{
	const char *cmd = argv[0];
	struct st_perr err;
	double share, offset;
	uint64_t pps, bps;

	argc--;
	argv++;
	if (strcmp(cmd, "send") == 0)
		return build_send(pk, argc, argv);
	if (strcmp(cmd, "last") == 0 || strcmp(cmd, "propose") == 0)
		return build_service_cmd(pk, cmd, argc, argv);
	if (strcmp(cmd, "services") == 0 || strcmp(cmd, "get") == 0) {
		fprintf(stderr, PROG ": %s is served over HTTP only (--http URL)\n", cmd);
		return -EINVAL;
	}
	if (strcmp(cmd, "stats") == 0 || strcmp(cmd, "reload") == 0) {
		if (need_args(cmd, argc, 0, 0, ""))
			return -EINVAL;
		msgpack_pack_map(pk, 1);
		st_wire_pack_cstr(pk, "cmd");
		st_wire_pack_cstr(pk, cmd);
		return 0;
	}
	if (strcmp(cmd, "enable") == 0 || strcmp(cmd, "disable") == 0) {
		if (need_args(cmd, argc, 1, 1, "GROUP") || check_group(argv[0]))
			return -EINVAL;
		msgpack_pack_map(pk, 2);
		st_wire_pack_cstr(pk, "cmd");
		st_wire_pack_cstr(pk, cmd);
		st_wire_pack_cstr(pk, "group");
		st_wire_pack_cstr(pk, argv[0]);
		return 0;
	}
	if (strcmp(cmd, "chaos_off") == 0) {
		if (need_args(cmd, argc, 1, 1, "GROUP") || check_group(argv[0]))
			return -EINVAL;
		msgpack_pack_map(pk, 2);
		st_wire_pack_cstr(pk, "cmd");
		st_wire_pack_cstr(pk, cmd);
		st_wire_pack_cstr(pk, "group");
		st_wire_pack_cstr(pk, argv[0]);
		return 0;
	}
	if (strcmp(cmd, "chaos") == 0)
		return build_chaos(pk, argc, argv);
	if (strcmp(cmd, "chaos_scenario") == 0)
		return build_scenario(pk, argc, argv);
	if (strcmp(cmd, "set_share") == 0) {
		if (need_args(cmd, argc, 2, 3, "GROUP SHARE [OFFSET]") ||
		    check_group(argv[0]))
			return -EINVAL;
		if (st_parse_share(argv[1], &share, &err)) {
			fprintf(stderr, PROG ": set_share: SHARE %s\n", err.msg);
			return -EINVAL;
		}
		if (argc == 3 && st_parse_share(argv[2], &offset, &err)) {
			fprintf(stderr, PROG ": set_share: OFFSET %s\n", err.msg);
			return -EINVAL;
		}
		msgpack_pack_map(pk, argc == 3 ? 4 : 3);
		st_wire_pack_cstr(pk, "cmd");
		st_wire_pack_cstr(pk, cmd);
		st_wire_pack_cstr(pk, "group");
		st_wire_pack_cstr(pk, argv[0]);
		st_wire_pack_cstr(pk, "share");
		msgpack_pack_double(pk, share);
		if (argc == 3) {
			st_wire_pack_cstr(pk, "offset");
			msgpack_pack_double(pk, offset);
		}
		return 0;
	}
	if (strcmp(cmd, "set_instances") == 0) {
		uint64_t n;

		if (need_args(cmd, argc, 2, 2, "GROUP N") || check_group(argv[0]))
			return -EINVAL;
		if (st_parse_uint(argv[1], 1, UINT32_MAX, &n, &err)) {
			fprintf(stderr, PROG ": set_instances: N %s\n", err.msg);
			return -EINVAL;
		}
		msgpack_pack_map(pk, 3);
		st_wire_pack_cstr(pk, "cmd");
		st_wire_pack_cstr(pk, cmd);
		st_wire_pack_cstr(pk, "group");
		st_wire_pack_cstr(pk, argv[0]);
		st_wire_pack_cstr(pk, "instances");
		msgpack_pack_uint64(pk, n);
		return 0;
	}
	if (strcmp(cmd, "set_rate") == 0) {
		if (need_args(cmd, argc, 2, 3, "GROUP PPS [BPS]") ||
		    check_group(argv[0]))
			return -EINVAL;
		if (st_parse_si(argv[1], 0, UINT64_MAX, &pps, &err)) {
			fprintf(stderr, PROG ": set_rate: PPS %s\n", err.msg);
			return -EINVAL;
		}
		if (argc == 3 && st_parse_si(argv[2], 0, UINT64_MAX, &bps, &err)) {
			fprintf(stderr, PROG ": set_rate: BPS %s\n", err.msg);
			return -EINVAL;
		}
		msgpack_pack_map(pk, argc == 3 ? 4 : 3);
		st_wire_pack_cstr(pk, "cmd");
		st_wire_pack_cstr(pk, cmd);
		st_wire_pack_cstr(pk, "group");
		st_wire_pack_cstr(pk, argv[0]);
		st_wire_pack_cstr(pk, "pps");
		msgpack_pack_uint64(pk, pps);
		if (argc == 3) {
			st_wire_pack_cstr(pk, "bps");
			msgpack_pack_uint64(pk, bps);
		}
		return 0;
	}
	fprintf(stderr, PROG ": unknown command '%s' (try --help)\n", cmd);
	return -EINVAL;
}

/* ------------------------------------------------------------------ */
/* Exchange                                                           */

/* Waits for the reply until the deadline, noting handshake failures on
 * the way so that a timeout can say why. Returns 0 with the reply in
 * *reply, or EXIT_FAIL after a message. */
static int wait_reply(void *sock, void *mon, const struct ctl_opts *o,
		      zmq_msg_t *reply)
{
	uint64_t deadline = st_mono_ns() + o->timeout_ns;
	zmq_pollitem_t items[2] = {
		{ .socket = sock, .events = ZMQ_POLLIN },
		{ .socket = mon, .events = ZMQ_POLLIN },
	};
	char why[256] = "";
	int more;
	size_t ml = sizeof(more);

	for (;;) {
		uint64_t now = st_mono_ns();
		int rc;

		if (now >= deadline) {
			fprintf(stderr, PROG ": no reply from %s within %.3gs%s%s\n",
				o->endpoint, (double)o->timeout_ns / 1e9,
				why[0] ? ": " : "", why);
			return EXIT_FAIL;
		}
		rc = zmq_poll(items, mon ? 2 : 1,
			      (long)((deadline - now + 999999) / 1000000));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0) {
			fprintf(stderr, PROG ": zmq_poll: %s\n", zmq_strerror(errno));
			return EXIT_FAIL;
		}
		if (mon && (items[1].revents & ZMQ_POLLIN)) {
			char ev[256];

			while ((rc = st_zsec_monitor_read(mon, ev, sizeof(ev))) > 0)
				if (rc == ST_ZSEC_EV_FAILED ||
				    rc == ST_ZSEC_EV_RETRY)
					snprintf(why, sizeof(why), "%s", ev);
				else if (rc == ST_ZSEC_EV_OK)
					why[0] = '\0';
		}
		if (items[0].revents & ZMQ_POLLIN)
			break;
	}
	if (zmq_msg_recv(reply, sock, 0) < 0) {
		fprintf(stderr, PROG ": receive: %s\n", zmq_strerror(errno));
		return EXIT_FAIL;
	}
	if (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ml) == 0 && more) {
		fprintf(stderr, PROG ": the reply has more than one frame\n");
		return EXIT_FAIL;
	}
	return 0;
}

/* Prints the reply and maps it to the exit status. */
static int report(const char *cmd, zmq_msg_t *reply)
{
	struct st_wire_error werr;
	struct st_wbuf out;
	msgpack_zone zone;
	msgpack_object obj;
	char ebuf[200], text[512];
	bool ok;
	int status = EXIT_FAIL, rc;

	st_wbuf_init(&out);
	if (!msgpack_zone_init(&zone, 4096)) {
		fprintf(stderr, PROG ": out of memory\n");
		return EXIT_FAIL;
	}
	rc = st_wire_parse(zmq_msg_data(reply), zmq_msg_size(reply), NULL,
			   &zone, &obj, &werr);
	if (rc) {
		fprintf(stderr, PROG ": malformed reply: %s\n",
			st_wire_error_fmt(&werr, ebuf, sizeof(ebuf)));
		goto out;
	}
	if (st_wire_to_json(&obj, &out) || st_wbuf_append(&out, "\n", 1)) {
		fprintf(stderr, PROG ": out of memory\n");
		goto out;
	}
	fwrite(out.data, 1, out.len, stdout);
	fflush(stdout);
	if (st_wire_get_bool(&obj, "ok", &ok, &werr)) {
		fprintf(stderr, PROG ": reply without a boolean 'ok': %s\n",
			st_wire_error_fmt(&werr, ebuf, sizeof(ebuf)));
		goto out;
	}
	if (ok) {
		status = EXIT_OK;
		goto out;
	}
	rc = st_wire_get_str(&obj, "error", text, sizeof(text), &werr);
	fprintf(stderr, PROG ": %s: %s\n", cmd, rc == 0 ? text :
		rc == -ENOENT ? "refused (no error text)" :
		st_wire_error_fmt(&werr, ebuf, sizeof(ebuf)));
	status = EXIT_REFUSED;
out:
	msgpack_zone_destroy(&zone);
	st_wbuf_free(&out);
	return status;
}

static int exchange(const struct ctl_opts *o, const struct st_wbuf *req,
		    const char *cmd)
{
	int64_t maxmsg = ST_WIRE_MAX_SIZE;
	int zero = 0, status = EXIT_FAIL;
	void *ctx, *sock, *mon = NULL;
	struct st_perr err;
	zmq_msg_t reply;

	zmq_msg_init(&reply);
	ctx = zmq_ctx_new();
	if (ctx == NULL) {
		fprintf(stderr, PROG ": zmq_ctx_new: %s\n", zmq_strerror(errno));
		return EXIT_FAIL;
	}
	sock = zmq_socket(ctx, ZMQ_REQ);
	if (sock == NULL) {
		fprintf(stderr, PROG ": zmq_socket: %s\n", zmq_strerror(errno));
		goto out;
	}
	/* Linger 0: an unanswered request must not hold up the exit. */
	zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	if (o->server_key) {
		if (st_zsec_client_setup(sock, o->server_key, o->key_file, &err)) {
			fprintf(stderr, PROG ": %s\n", err.msg);
			goto out;
		}
	}
	/* Best effort: without it a timeout just cannot say why. */
	mon = st_zsec_monitor_open(ctx, sock);
	if (zmq_connect(sock, o->endpoint) != 0) {
		fprintf(stderr, PROG ": connect %s: %s\n", o->endpoint,
			zmq_strerror(errno));
		goto out;
	}
	/* REQ queues the request until the connection is up, so the send
	 * does not block; the wait below is what is bounded. */
	if (zmq_send(sock, req->data, req->len, ZMQ_DONTWAIT) < 0) {
		fprintf(stderr, PROG ": send: %s\n", zmq_strerror(errno));
		goto out;
	}
	status = wait_reply(sock, mon, o, &reply);
	if (status == 0)
		status = report(cmd, &reply);
out:
	zmq_msg_close(&reply);
	if (sock) {
		st_zsec_monitor_close(sock, mon);
		zmq_close(sock);
	}
	zmq_ctx_term(ctx);
	return status;
}

/* ------------------------------------------------------------------ */
/* Over HTTP (--http)                                                 */

/* What one command asks of the API. */
struct http_call {
	const char *method;
	char path[ST_HTTP_CLIENT_PATH_MAX];
	struct st_wbuf body;	/* PUT: a JSON object */
};

/* The plan as a JSON object from KEY=VALUE pairs (the keys of
 * [service.NAME]); skip: a key left out (cmd, service of a send map). */
static int plan_json(struct st_wbuf *out, int argc, char **argv, bool skip_cmd)
{
	bool first = true;

	st_wbuf_append(out, "{", 1);
	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		char key[128];

		snprintf(key, sizeof(key), "%.*s", (int)(eq - argv[i]), argv[i]);
		if (skip_cmd && (strcmp(key, "cmd") == 0 || strcmp(key, "service") == 0))
			continue;
		if (!first)
			st_wbuf_append(out, ",", 1);
		first = false;
		st_wire_json_str(out, key, strlen(key));
		st_wbuf_append(out, ":", 1);
		if (json_typed(out, key, eq + 1))
			return -EINVAL;
	}
	st_wbuf_append(out, "}", 1);
	return 0;
}

static int service_name(const char *cmd, const char *name)
{
	if (st_wire_name_ok(name, strlen(name)))
		return 0;
	fprintf(stderr, PROG ": %s: '%s' is not a service name ([A-Za-z0-9_-], 1-63 "
		"characters)\n", cmd, name);
	return -EINVAL;
}

/* The value of KEY in a send's pairs, or NULL; a quoted value unquoted
 * into buf. */
static const char *pair_value(int argc, char **argv, const char *key, char *buf, size_t len)
{
	size_t kl = strlen(key);

	for (int i = 0; i < argc; i++)
		if (strncmp(argv[i], key, kl) == 0 && argv[i][kl] == '=') {
			const char *v = argv[i] + kl + 1;
			size_t n = strlen(v);

			if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
				snprintf(buf, len, "%.*s", (int)(n - 2), v + 1);
			else
				snprintf(buf, len, "%s", v);
			return buf;
		}
	return NULL;
}

/* Appends "KEY=VALUE" to path, VALUE percent-encoded but for RFC 3986's
 * unreserved characters. Returns 0, or -ENAMETOOLONG. */
static int query_append(char *path, size_t len, const char *key, const char *value)
{
	size_t used = strlen(path);
	int k = snprintf(path + used, len - used, "%c%s=", strchr(path, '?') ? '&' : '?', key);

	if (k < 0 || (size_t)k >= len - used)
		return -ENAMETOOLONG;
	used += (size_t)k;
	for (const unsigned char *v = (const unsigned char *)value; *v; v++) {
		bool plain = isalnum(*v) || strchr("-._~", *v) != NULL;

		k = plain ? snprintf(path + used, len - used, "%c", *v) :
			    snprintf(path + used, len - used, "%%%02X", *v);
		if (k < 0 || (size_t)k >= len - used)
			return -ENAMETOOLONG;
		used += (size_t)k;
	}
	return 0;
}

/* send cmd=whatif service=NAME [load=..|rps=..] [instances=..] as
 * GET /api/v1/services/NAME/whatif?..., which reads the values as the
 * control socket does (lists as "0.5x,1x,2x"). Returns 0, or -EINVAL
 * after a message. */
static int whatif_path(struct http_call *c, const char *service, int argc, char **argv)
{
	snprintf(c->path, sizeof(c->path), "/api/v1/services/%s/whatif", service);
	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		char key[128], value[256];

		snprintf(key, sizeof(key), "%.*s", (int)(eq - argv[i]), argv[i]);
		if (strcmp(key, "cmd") == 0 || strcmp(key, "service") == 0)
			continue;
		if (strcmp(key, "load") != 0 && strcmp(key, "rps") != 0 &&
		    strcmp(key, "instances") != 0) {
			fprintf(stderr, PROG ": send cmd=whatif: unknown key '%s' (load or rps, "
				"instances)\n", key);
			return -EINVAL;
		}
		if (query_append(c->path, sizeof(c->path), key,
				 pair_value(argc, argv, key, value, sizeof(value))) != 0) {
			fprintf(stderr, PROG ": send cmd=whatif: the request is too long\n");
			return -EINVAL;
		}
	}
	return 0;
}

/* Maps the command line onto a request. Returns 0, or -EINVAL after a
 * message. */
static int http_build(struct http_call *c, int argc, char **argv)
{
	const char *cmd = argv[0], *service = NULL;
	char cbuf[32], sbuf[ST_WIRE_NAME_MAX + 2];
	bool from_send = false;

	argc--;
	argv++;
	if (strcmp(cmd, "send") == 0) {
		/* The control socket's maps the API has an answer for. */
		if (check_pairs(cmd, argc, argv))
			return -EINVAL;
		if (pair_value(argc, argv, "cmd", cbuf, sizeof(cbuf)) == NULL) {
			fprintf(stderr, PROG ": send over --http needs cmd=last, "
				"cmd=propose, cmd=whatif or cmd=stats\n");
			return -EINVAL;
		}
		service = pair_value(argc, argv, "service", sbuf, sizeof(sbuf));
		cmd = cbuf;
		from_send = true;
	}
	if (strcmp(cmd, "reload") == 0) {
		fprintf(stderr, PROG ": %sreload: the HTTP API has no reload; use the control "
			"socket (--endpoint) or SIGHUP\n", from_send ? "send cmd=" : "");
		return -EINVAL;
	}
	if (from_send) {
		if (strcmp(cmd, "last") != 0 && strcmp(cmd, "propose") != 0 &&
		    strcmp(cmd, "whatif") != 0 && strcmp(cmd, "stats") != 0) {
			fprintf(stderr, PROG ": send cmd=%s: not served over HTTP "
				"(last, propose, whatif and stats are); use the control "
				"socket (--endpoint)\n", cmd);
			return -EINVAL;
		}
		if (strcmp(cmd, "stats") != 0 && service == NULL) {
			fprintf(stderr, PROG ": send cmd=%s needs service=NAME\n", cmd);
			return -EINVAL;
		}
	}
	c->method = "GET";
	if (strcmp(cmd, "stats") == 0) {
		if (!from_send && need_args(cmd, argc, 0, 0, ""))
			return -EINVAL;
		snprintf(c->path, sizeof(c->path), "/metrics");
		return 0;
	}
	if (strcmp(cmd, "services") == 0) {
		if (need_args(cmd, argc, 0, 0, ""))
			return -EINVAL;
		snprintf(c->path, sizeof(c->path), "/api/v1/services");
		return 0;
	}
	if (strcmp(cmd, "get") == 0) {
		if (need_args(cmd, argc, 1, 1, "PATH"))
			return -EINVAL;
		if (argv[0][0] != '/' || strlen(argv[0]) >= sizeof(c->path) ||
		    strpbrk(argv[0], " \t\r\n") != NULL) {
			fprintf(stderr, PROG ": get: PATH must start with '/', without "
				"blanks, shorter than %zu\n", sizeof(c->path));
			return -EINVAL;
		}
		snprintf(c->path, sizeof(c->path), "%s", argv[0]);
		return 0;
	}
	if (strcmp(cmd, "last") == 0) {
		if (!from_send) {
			if (need_args(cmd, argc, 1, 1, "SERVICE"))
				return -EINVAL;
			service = argv[0];
		}
		if (service_name(cmd, service))
			return -EINVAL;
		snprintf(c->path, sizeof(c->path), "/api/v1/services/%s", service);
		return 0;
	}
	if (strcmp(cmd, "propose") == 0) {
		if (!from_send) {
			if (need_args(cmd, argc, 2, MAX_SEND_PAIRS, "SERVICE KEY=VALUE...") ||
			    check_pairs(cmd, argc - 1, argv + 1))
				return -EINVAL;
			service = argv[0];
			argc--;
			argv++;
		}
		if (service_name(cmd, service))
			return -EINVAL;
		c->method = "PUT";
		snprintf(c->path, sizeof(c->path), "/api/v1/services/%s/plan", service);
		if (plan_json(&c->body, argc, argv, from_send))
			return -EINVAL;
		return 0;
	}
	if (strcmp(cmd, "whatif") == 0 && from_send) {
		if (service_name(cmd, service))
			return -EINVAL;
		return whatif_path(c, service, argc, argv);
	}
	if (strcmp(cmd, "set_share") == 0 || strcmp(cmd, "set_rate") == 0 ||
	    strcmp(cmd, "set_instances") == 0 || strcmp(cmd, "enable") == 0 ||
	    strcmp(cmd, "disable") == 0 || strcmp(cmd, "chaos") == 0 ||
	    strcmp(cmd, "chaos_off") == 0 || strcmp(cmd, "chaos_scenario") == 0) {
		fprintf(stderr, PROG ": %s is not served over HTTP: the dataplane's HTTP "
			"endpoint is read-only (/metrics, /healthz); use its control "
			"socket (--endpoint)\n", cmd);
		return -EINVAL;
	}
	fprintf(stderr, PROG ": unknown command '%s' (try --help)\n", cmd);
	return -EINVAL;
}

/* Prints the body and maps the status to the exit status. */
static int http_report(const char *cmd, const struct st_httpc_resp *r)
{
	const char *b = (const char *)r->body.data;
	size_t n = r->body.len, line;

	if (n > 0) {
		fwrite(b, 1, n, stdout);
		if (b[n - 1] != '\n')
			fputc('\n', stdout);
	}
	fflush(stdout);
	if (r->status >= 200 && r->status < 300)
		return EXIT_OK;
	{
		const char *nl = n > 0 ? memchr(b, '\n', n) : NULL;

		line = nl != NULL ? (size_t)(nl - b) : n;
	}
	fprintf(stderr, PROG ": %s: HTTP %d%s%.*s\n", cmd, r->status, line ? ": " : "",
		(int)(line > 400 ? 400 : line), b ? b : "");
	return EXIT_REFUSED;
}

static int http_main(const struct ctl_opts *o, int argc, char **argv)
{
	struct st_httpc_opts ho = {
		.ca_file = o->ca_file,
		.cert_file = o->cert_file,
		.key_file = o->cert_key_file,
		.timeout_ns = o->timeout_ns,
		.max_response = MAX_HTTP_RESPONSE,
	};
	struct http_call c = { .method = NULL };
	struct st_httpc_resp r = { .status = 0 };
	char token[4096];
	struct st_perr err;
	struct st_url u;
	int status = EXIT_FAIL, rc;

	st_wbuf_init(&c.body);
	st_wbuf_init(&r.body);
	if (st_url_parse(o->http, &u, &err)) {
		fprintf(stderr, PROG ": --http: %s\n", err.msg);
		goto out;
	}
	if ((o->ca_file || o->cert_file) && !u.https) {
		fprintf(stderr, PROG ": --ca-file and --cert go with an https:// URL\n");
		goto out;
	}
	if (o->token_file) {
		if (st_httpc_read_token(o->token_file, token, sizeof(token), &err)) {
			fprintf(stderr, PROG ": --token-file: %s\n", err.msg);
			goto out;
		}
		ho.token = token;
	}
	if (http_build(&c, argc, argv))
		goto out;
	if (c.body.oom) {
		fprintf(stderr, PROG ": out of memory\n");
		goto out;
	}
	rc = st_httpc_request(&u, c.method, c.path, c.body.len ? "application/json" : NULL,
			      c.body.len ? c.body.data : NULL, c.body.len, &ho, &r, &err);
	if (rc != 0) {
		fprintf(stderr, PROG ": %s %s: %s\n", c.method, c.path, err.msg);
		goto out;
	}
	status = http_report(argv[0], &r);
out:
	explicit_bzero(token, sizeof(token));
	st_wbuf_free(&c.body);
	st_wbuf_free(&r.body);
	return status;
}

int main(int argc, char **argv)
{
	struct ctl_opts o = { 0 };
	struct st_wbuf req;
	msgpack_packer pk;
	struct st_perr err;
	int status;

	st_log_init(PROG, ST_LOG_WARN);
	if (parse_opts(argc, argv, &o))
		return EXIT_FAIL;
	if (o.gen_keys) {
		if (optind < argc) {
			fprintf(stderr, PROG ": --gen-keys takes no command\n");
			return EXIT_FAIL;
		}
		if (st_zsec_keygen(o.gen_keys, &err)) {
			fprintf(stderr, PROG ": %s\n", err.msg);
			return EXIT_FAIL;
		}
		printf("wrote %s.key (key pair, keep it secret) and %s.pub "
		       "(public key)\n", o.gen_keys, o.gen_keys);
		return EXIT_OK;
	}
	if (optind >= argc) {
		fprintf(stderr, PROG ": missing COMMAND (try --help)\n");
		return EXIT_FAIL;
	}
	if (o.http)
		return http_main(&o, argc - optind, argv + optind);
	st_wbuf_init(&req);
	msgpack_packer_init(&pk, &req, st_wbuf_mp_write);
	if (build_request(&pk, argc - optind, argv + optind)) {
		st_wbuf_free(&req);
		return EXIT_FAIL;
	}
	if (req.oom) {
		fprintf(stderr, PROG ": out of memory\n");
		st_wbuf_free(&req);
		return EXIT_FAIL;
	}
	status = exchange(&o, &req, argv[optind]);
	st_wbuf_free(&req);
	return status;
}
