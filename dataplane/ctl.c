/* shadowtap-ctl: a REQ client for the control sockets of the dataplane and
 * the analyzer. Builds one msgpack request map from the command line,
 * waits a bounded time for the reply and turns it into JSON and an exit
 * status, so scripts can drive a running gateway. Plain C, no DPDK. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <zmq.h>

#include "clock.h"
#include "log.h"
#include "parse.h"
#include "wire.h"
#include "zsec.h"

#define PROG "shadowtap-ctl"
#define DEFAULT_ENDPOINT "tcp://127.0.0.1:5557"
#define DEFAULT_TIMEOUT_NS (5ull * 1000000000ull)
#define MAX_TIMEOUT_NS (3600ull * 1000000000ull)
/* Pairs a `send` request may carry. */
#define MAX_SEND_PAIRS 64

enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_FAIL = 2 };

struct ctl_opts {
	const char *endpoint;
	uint64_t timeout_ns;
	const char *server_key;
	const char *key_file;
	const char *gen_keys;
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
"  enable GROUP | disable GROUP   start or stop copies to a group\n"
"Any control socket (the analyzer's propose and last, for instance):\n"
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
"  -h, --help                 this text\n"
"\n"
"Exit status: 0 the reply says ok=true; 1 it says ok=false (its error goes\n"
"to stderr); 2 no reply in time, a transport or protocol error, or a usage\n"
"error.\n");
}

static int parse_opts(int argc, char **argv, struct ctl_opts *o)
{
	enum { OPT_SERVER_KEY = 256, OPT_KEY_FILE, OPT_GEN_KEYS };
	static const struct option longopts[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "timeout", required_argument, NULL, 't' },
		{ "curve-server-key", required_argument, NULL, OPT_SERVER_KEY },
		{ "curve-key-file", required_argument, NULL, OPT_KEY_FILE },
		{ "gen-keys", required_argument, NULL, OPT_GEN_KEYS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct st_perr err;
	int c;

	o->endpoint = DEFAULT_ENDPOINT;
	o->timeout_ns = DEFAULT_TIMEOUT_NS;
	/* '+': stop at the command, so its arguments may start with '-'. */
	while ((c = getopt_long(argc, argv, "+e:t:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'e':
			o->endpoint = optarg;
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
		case 'h':
			usage(stdout);
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
	return 0;
}

/* ------------------------------------------------------------------ */
/* Requests                                                           */

static void pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

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

/* Packs one typed VALUE of send (see --help). */
static int pack_typed(msgpack_packer *pk, const char *key, const char *v)
{
	size_t n = strlen(v);
	struct st_perr err;
	const char *p = v;
	char *end;

	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		msgpack_pack_str(pk, n - 2);
		msgpack_pack_str_body(pk, v + 1, n - 2);
		return 0;
	}
	/* Pack results are not checked here: a failed write leaves the
	 * buffer's sticky oom flag, checked once at the end. */
	if (strcmp(v, "true") == 0) {
		msgpack_pack_true(pk);
		return 0;
	}
	if (strcmp(v, "false") == 0) {
		msgpack_pack_false(pk);
		return 0;
	}
	if (strcmp(v, "null") == 0) {
		msgpack_pack_nil(pk);
		return 0;
	}
	if (*p == '-')
		p++;
	if (*p && strspn(p, "0123456789") == strlen(p)) {
		if (v[0] == '-') {
			int64_t i;

			if (st_parse_int(v, INT64_MIN, 0, &i, &err))
				goto range;
			msgpack_pack_int64(pk, i);
			return 0;
		} else {
			uint64_t u;

			if (st_parse_uint(v, 0, UINT64_MAX, &u, &err))
				goto range;
			msgpack_pack_uint64(pk, u);
			return 0;
		}
	}
	/* A float only when it looks like one: "1e3", "0.5", "-2.", not
	 * "inf", "nan" or hex, which stay strings. */
	if (strpbrk(v, ".eE") && strspn(v, "0123456789+-.eE") == n) {
		double d;

		errno = 0;
		d = strtod(v, &end);
		if (*end == '\0' && end != v) {
			if (errno == ERANGE || !isfinite(d))
				goto range;
			msgpack_pack_double(pk, d);
			return 0;
		}
	}
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, v, n);
	return 0;
range:
	fprintf(stderr, PROG ": send: %s: '%s' is out of range\n", key, v);
	return -ERANGE;
}

static int build_send(msgpack_packer *pk, int argc, char **argv)
{
	if (argc < 1 || argc > MAX_SEND_PAIRS) {
		fprintf(stderr, PROG ": send takes 1 to %d KEY=VALUE pairs\n",
			MAX_SEND_PAIRS);
		return -EINVAL;
	}
	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');

		if (eq == NULL || eq == argv[i]) {
			fprintf(stderr, PROG ": send: '%s' is not KEY=VALUE\n",
				argv[i]);
			return -EINVAL;
		}
		for (int j = 0; j < i; j++) {
			size_t kl = (size_t)(eq - argv[i]);

			if (strncmp(argv[j], argv[i], kl) == 0 &&
			    argv[j][kl] == '=') {
				fprintf(stderr, PROG ": send: key '%.*s' given "
					"twice\n", (int)kl, argv[i]);
				return -EINVAL;
			}
		}
	}
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
	if (strcmp(cmd, "stats") == 0) {
		if (need_args(cmd, argc, 0, 0, ""))
			return -EINVAL;
		msgpack_pack_map(pk, 1);
		pack_str(pk, "cmd");
		pack_str(pk, cmd);
		return 0;
	}
	if (strcmp(cmd, "enable") == 0 || strcmp(cmd, "disable") == 0) {
		if (need_args(cmd, argc, 1, 1, "GROUP") || check_group(argv[0]))
			return -EINVAL;
		msgpack_pack_map(pk, 2);
		pack_str(pk, "cmd");
		pack_str(pk, cmd);
		pack_str(pk, "group");
		pack_str(pk, argv[0]);
		return 0;
	}
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
		pack_str(pk, "cmd");
		pack_str(pk, cmd);
		pack_str(pk, "group");
		pack_str(pk, argv[0]);
		pack_str(pk, "share");
		msgpack_pack_double(pk, share);
		if (argc == 3) {
			pack_str(pk, "offset");
			msgpack_pack_double(pk, offset);
		}
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
		pack_str(pk, "cmd");
		pack_str(pk, cmd);
		pack_str(pk, "group");
		pack_str(pk, argv[0]);
		pack_str(pk, "pps");
		msgpack_pack_uint64(pk, pps);
		if (argc == 3) {
			pack_str(pk, "bps");
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
