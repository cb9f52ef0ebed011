/* shadowtap-sub: subscribes to any shadowtap stream (KPI snapshots,
 * verdicts) and prints each message as one JSON line, for operators, jq
 * and tests. The latency histogram is shown as its percentiles rather than
 * as opaque base64. Malformed messages are counted, reported through a
 * rate limit and skipped: a hostile publisher cannot crash or flood it. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <zmq.h>

#include "base64.h"
#include "clock.h"
#include "hist.h"
#include "log.h"
#include "parse.h"
#include "version.h"
#include "wire.h"
#include "zsec.h"

#define PROG "shadowtap-sub"
#define EXIT_USAGE 2
/* Largest wait that still fits zmq_poll's long timeout in ms. */
#define MAX_TIMEOUT_NS (7ull * 24 * 3600 * 1000000000ull)

struct sub_opts {
	const char *endpoint;
	char **topics;
	int n_topics;
	uint64_t count;		/* 0: no limit */
	uint64_t timeout_ns;	/* 0: none */
	bool raw;
	bool quiet;
	const char *server_key;
	const char *key_file;
};

struct sub_stats {
	uint64_t received;	/* messages, good or not */
	uint64_t printed;
	uint64_t malformed;
	uint64_t lat_errors;
};

struct sub {
	struct sub_opts o;
	struct sub_stats st;
	struct st_wbuf line;
	msgpack_zone zone;
	struct st_ratelimit rl;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: " PROG " [OPTIONS] ENDPOINT [TOPIC...]\n"
"\n"
"Subscribes to a shadowtap stream (ZeroMQ PUB: KPI snapshots, verdicts) and\n"
"prints each message as one JSON line on stdout:\n"
"  {\"topic\":\"kpi.web.prod\",\"msg\":{\"v\":1,\"seq\":7,...}}\n"
"The latency histogram (\"lat\", HdrHistogram V2) is rendered in ns as\n"
"  {\"count\":N,\"p50\":..,\"p90\":..,\"p99\":..,\"p99.9\":..,\n"
"   \"max\":..,\"min\":..,\"mean\":..}\n"
"or {\"error\":\"why\"} when it does not decode. Other binary values are base64.\n"
"TOPIC is a prefix (\"kpi.web.\", \"verdict.\"); all topics when none is given.\n"
"\n"
"Options:\n"
"  -n, --count N              exit after N messages printed\n"
"  -t, --timeout D            give up after D (e.g. 500ms, 10s, 2m)\n"
"      --raw                  keep the histogram's encoding too, as \"b64\" in\n"
"                             the lat object\n"
"      --curve-server-key KEY the publisher's CURVE public key: 40 Z85\n"
"                             characters, or a .pub/.key file\n"
"      --curve-key-file FILE  this subscriber's key pair (shadowtap-ctl\n"
"                             --gen-keys PREFIX makes one); both or neither\n"
"  -q, --quiet                no summary line on stderr at exit\n"
"  -h, --help                 this text\n"
"      --version              print the version and exit\n"
"\n"
"Malformed messages (not two frames, bad msgpack) are skipped, counted and\n"
"reported on stderr (rate-limited); a summary line goes to stderr at exit.\n"
"\n"
"Exit status:\n"
"  0  --count N reached; or stopped (signal, --timeout) with at least one\n"
"     message printed; or stopped by a signal without --count/--timeout\n"
"  1  stopped before --count N messages, or --timeout expired with none\n"
"  2  usage or setup error (endpoint, key files)\n");
}

static int parse_opts(int argc, char **argv, struct sub_opts *o)
{
	enum { OPT_RAW = 256, OPT_SERVER_KEY, OPT_KEY_FILE };
	static const struct option longopts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "raw", no_argument, NULL, OPT_RAW },
		{ "curve-server-key", required_argument, NULL, OPT_SERVER_KEY },
		{ "curve-key-file", required_argument, NULL, OPT_KEY_FILE },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct st_perr err;
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "+n:t:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (st_parse_uint(optarg, 1, UINT64_MAX, &o->count, &err)) {
				fprintf(stderr, PROG ": --count: %s\n", err.msg);
				return -EINVAL;
			}
			break;
		case 't':
			if (st_parse_duration(optarg, 1000000ull, MAX_TIMEOUT_NS,
					      &o->timeout_ns, &err)) {
				fprintf(stderr, PROG ": --timeout: %s\n", err.msg);
				return -EINVAL;
			}
			break;
		case OPT_RAW:
			o->raw = true;
			break;
		case OPT_SERVER_KEY:
			o->server_key = optarg;
			break;
		case OPT_KEY_FILE:
			o->key_file = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("shadowtap-sub %s\n", ST_VERSION);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, PROG ": missing ENDPOINT (try --help)\n");
		return -EINVAL;
	}
	if (!o->server_key != !o->key_file) {
		fprintf(stderr, PROG ": --curve-server-key and --curve-key-file "
			"go together\n");
		return -EINVAL;
	}
	o->endpoint = argv[optind];
	o->topics = argv + optind + 1;
	o->n_topics = argc - optind - 1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Rendering                                                          */

/* Appends a JSON string of s[0..n) (escaped by the wire printer). */
static int json_str(struct st_wbuf *out, const void *s, size_t n)
{
	msgpack_object o = { .type = MSGPACK_OBJECT_STR };

	o.via.str.ptr = s;
	o.via.str.size = (uint32_t)n;
	return st_wire_to_json(&o, out);
}

static int append_b64(struct st_wbuf *out, const uint8_t *bin, size_t len)
{
	size_t n = st_base64_encoded_len(len);

	if (st_wbuf_reserve(out, n + 3))
		return -ENOMEM;
	out->data[out->len++] = '"';
	out->len += st_base64_encode(bin, len, (char *)out->data + out->len);
	out->data[out->len++] = '"';
	return 0;
}

/* Renders the "lat" bin as its summary; every other bin as base64. */
static int render_bin(void *arg, const char *key, size_t key_len,
		      const uint8_t *bin, size_t len, struct st_wbuf *out)
{
	struct sub *s = arg;
	enum st_hist_derr derr = ST_HIST_DERR_OK;
	struct st_hist *h = NULL;
	int64_t count = 0, p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, min = 0;
	double mean = 0;

	if (key == NULL || key_len != 3 || memcmp(key, "lat", 3) != 0)
		return 1;
	/* An empty bin is a window without samples: same shape, zeros. */
	if (len > 0) {
		h = st_hist_decode_v2(bin, len, &derr);
		if (h == NULL) {
			s->st.lat_errors++;
			st_wbuf_printf(out, "{\"error\":\"%s\"",
				       st_hist_derr_str(derr));
			goto tail;
		}
		count = st_hist_total(h);
		p50 = st_hist_value_at_percentile(h, 50.0);
		p90 = st_hist_value_at_percentile(h, 90.0);
		p99 = st_hist_value_at_percentile(h, 99.0);
		p999 = st_hist_value_at_percentile(h, 99.9);
		max = st_hist_max(h);
		min = st_hist_min(h);
		mean = st_hist_mean(h);
		st_hist_destroy(h);
	}
	st_wbuf_printf(out, "{\"count\":%" PRId64 ",\"p50\":%" PRId64
		       ",\"p90\":%" PRId64 ",\"p99\":%" PRId64
		       ",\"p99.9\":%" PRId64 ",\"max\":%" PRId64
		       ",\"min\":%" PRId64 ",\"mean\":%.3f",
		       count, p50, p90, p99, p999, max, min, mean);
tail:
	if (s->o.raw) {
		st_wbuf_append(out, ",\"b64\":", 7);
		append_b64(out, bin, len);
	}
	st_wbuf_append(out, "}", 1);
	return out->oom ? -ENOMEM : 0;
}

/* ------------------------------------------------------------------ */
/* Receiving                                                          */

/* A peer-supplied topic, cut and made printable for a log line. */
static const char *topic_for_log(zmq_msg_t *m, char *buf, size_t len)
{
	return st_zsec_printable(zmq_msg_data(m), zmq_msg_size(m), buf, len);
}

/* Whatever a publisher of this project sends within the socket's 1 MiB: a
 * clients message lists up to client_top (100000) clients, each a map (the
 * defaults' 1024 per container and 16384 items stopped at ~700). Counts and
 * items are bounded by the bytes; msgpack-c's zone for 1 MiB of one-byte
 * items is a few tens of MiB at worst, for one message at a time. */
static const struct st_wire_limits sub_limits = {
	.max_size = ST_WIRE_MAX_SIZE, .max_depth = 8, .max_count = ST_WIRE_MAX_SIZE,
	.max_items = ST_WIRE_MAX_SIZE, .max_str = 65536, .max_bin = ST_WIRE_MAX_SIZE,
};

/* Prints one message. Returns 0 (printed or skipped), or -EPIPE/-EIO when
 * stdout is gone. */
static int handle_message(struct sub *s, zmq_msg_t *topic, zmq_msg_t *body,
			  int frames)
{
	struct st_wire_error werr;
	msgpack_object obj;
	char tb[64], eb[200];
	int rc;

	s->st.received++;
	if (frames != 2) {
		s->st.malformed++;
		st_log_rl(&s->rl, ST_LOG_WARN, "skipped a message of %d "
			  "frame%s (topic '%s'): expected 2", frames,
			  frames == 1 ? "" : "s", topic_for_log(topic, tb, sizeof(tb)));
		return 0;
	}
	msgpack_zone_clear(&s->zone);
	rc = st_wire_parse(zmq_msg_data(body), zmq_msg_size(body), &sub_limits,
			   &s->zone, &obj, &werr);
	if (rc) {
		s->st.malformed++;
		st_log_rl(&s->rl, ST_LOG_WARN, "skipped a malformed message "
			  "(topic '%s'): %s", topic_for_log(topic, tb, sizeof(tb)),
			  st_wire_error_fmt(&werr, eb, sizeof(eb)));
		return 0;
	}
	st_wbuf_reset(&s->line);
	st_wbuf_append(&s->line, "{\"topic\":", 9);
	json_str(&s->line, zmq_msg_data(topic), zmq_msg_size(topic));
	st_wbuf_append(&s->line, ",\"msg\":", 7);
	rc = st_wire_to_json_ex(&obj, &s->line, render_bin, s);
	st_wbuf_append(&s->line, "}\n", 2);
	if (rc || s->line.oom) {
		s->st.malformed++;
		st_log_rl(&s->rl, ST_LOG_WARN, "could not render a message "
			  "(topic '%s'): %s", topic_for_log(topic, tb, sizeof(tb)),
			  strerror(rc ? -rc : ENOMEM));
		return 0;
	}
	/* One line per message and flushed, so a pipe reader sees each
	 * message as it arrives. */
	if (fwrite(s->line.data, 1, s->line.len, stdout) != s->line.len ||
	    fflush(stdout) != 0)
		return errno == EPIPE ? -EPIPE : -EIO;
	s->st.printed++;
	return 0;
}

/* Reads one whole multipart message, keeping the first two frames. Returns
 * 1 when one was read, 0 when none was waiting, or a negative errno. */
static int receive_one(struct sub *s, void *sock)
{
	zmq_msg_t f[2], extra;
	int frames = 0, more, rc = 0;
	size_t ml;

	zmq_msg_init(&f[0]);
	zmq_msg_init(&f[1]);
	for (;;) {
		zmq_msg_t *m = frames < 2 ? &f[frames] : &extra;

		if (m == &extra)
			zmq_msg_init(&extra);
		if (zmq_msg_recv(m, sock, frames == 0 ? ZMQ_DONTWAIT : 0) < 0) {
			rc = -errno;
			if (m == &extra)
				zmq_msg_close(&extra);
			if (frames == 0 && rc == -EAGAIN)
				rc = 0;
			goto out;
		}
		frames++;
		if (m == &extra)
			zmq_msg_close(&extra);
		ml = sizeof(more);
		if (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ml) < 0 || !more)
			break;
	}
	rc = handle_message(s, &f[0], &f[1], frames);
	if (rc == 0)
		rc = 1;
out:
	zmq_msg_close(&f[0]);
	zmq_msg_close(&f[1]);
	return rc;
}

/* ------------------------------------------------------------------ */

static int setup_socket(struct sub *s, void *ctx, void **out)
{
	struct st_perr err;
	int64_t maxmsg = ST_WIRE_MAX_SIZE;
	int zero = 0;
	void *sock;

	sock = zmq_socket(ctx, ZMQ_SUB);
	if (sock == NULL) {
		ST_ERR("zmq_socket: %s", zmq_strerror(errno));
		return -1;
	}
	zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
	/* A frame larger than any valid message is refused by libzmq before
	 * it is buffered (the peer is disconnected). */
	zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	if (s->o.server_key &&
	    st_zsec_client_setup(sock, s->o.server_key, s->o.key_file, &err)) {
		ST_ERR("%s", err.msg);
		goto err;
	}
	if (s->o.n_topics == 0) {
		zmq_setsockopt(sock, ZMQ_SUBSCRIBE, "", 0);
	} else {
		for (int i = 0; i < s->o.n_topics; i++)
			zmq_setsockopt(sock, ZMQ_SUBSCRIBE, s->o.topics[i],
				       strlen(s->o.topics[i]));
	}
	if (zmq_connect(sock, s->o.endpoint) != 0) {
		ST_ERR("connect %s: %s", s->o.endpoint, zmq_strerror(errno));
		goto err;
	}
	*out = sock;
	return 0;
err:
	zmq_close(sock);
	return -1;
}

/* The exit status for a run that ended without reaching --count. */
static int stop_status(const struct sub *s, bool timed_out)
{
	if (s->o.count)
		return s->st.printed >= s->o.count ? 0 : 1;
	if (timed_out || s->o.timeout_ns)
		return s->st.printed > 0 ? 0 : 1;
	return 0;
}

static int run(struct sub *s, void *ctx, void *sock)
{
	uint64_t deadline = s->o.timeout_ns ? st_mono_ns() + s->o.timeout_ns : 0;
	void *mon = s->o.server_key ? st_zsec_monitor_open(ctx, sock) : NULL;
	zmq_pollitem_t items[2] = {
		{ .socket = sock, .events = ZMQ_POLLIN },
		{ .socket = mon, .events = ZMQ_POLLIN },
	};
	char why[256];
	int status = -1;

	while (status < 0) {
		long wait_ms = -1;
		int rc;

		if (stop_flag) {
			status = stop_status(s, false);
			break;
		}
		if (deadline) {
			uint64_t now = st_mono_ns();

			if (now >= deadline) {
				status = stop_status(s, true);
				break;
			}
			wait_ms = (long)((deadline - now + 999999) / 1000000);
		}
		rc = zmq_poll(items, mon ? 2 : 1, wait_ms);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0) {
			ST_ERR("zmq_poll: %s", zmq_strerror(errno));
			status = EXIT_USAGE;
			break;
		}
		if (mon && (items[1].revents & ZMQ_POLLIN)) {
			while ((rc = st_zsec_monitor_read(mon, why, sizeof(why))) > 0)
				if (rc == ST_ZSEC_EV_FAILED)
					st_log_rl(&s->rl, ST_LOG_WARN, "%s", why);
		}
		if (!(items[0].revents & ZMQ_POLLIN))
			continue;
		/* Bounded batches keep the deadline and the signal flag
		 * honoured under a flood. */
		for (int i = 0; i < 256 && status < 0; i++) {
			rc = receive_one(s, sock);
			if (rc == 0)
				break;
			if (rc == -EPIPE) {
				status = 0;	/* the reader is done */
			} else if (rc < 0 && rc != -EINTR) {
				ST_ERR("receive: %s", rc == -EIO ?
				       "write to stdout failed" : zmq_strerror(-rc));
				status = EXIT_USAGE;
			} else if (s->o.count && s->st.printed >= s->o.count) {
				status = 0;
			}
		}
	}
	st_zsec_monitor_close(sock, mon);
	return status;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct sub s;
	void *ctx = NULL, *sock = NULL;
	int status;

	memset(&s, 0, sizeof(s));
	st_log_init(PROG, ST_LOG_NOTICE);
	if (parse_opts(argc, argv, &s.o))
		return EXIT_USAGE;
	s.rl = (struct st_ratelimit)ST_RATELIMIT_INIT(1000000000ull, 10);
	st_wbuf_init(&s.line);
	if (!msgpack_zone_init(&s.zone, 4096)) {
		ST_ERR("out of memory");
		return EXIT_USAGE;
	}
	/* No SA_RESTART: the signal must interrupt zmq_poll. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	ctx = zmq_ctx_new();
	if (ctx == NULL) {
		ST_ERR("zmq_ctx_new: %s", zmq_strerror(errno));
		status = EXIT_USAGE;
		goto out;
	}
	if (setup_socket(&s, ctx, &sock)) {
		status = EXIT_USAGE;
		goto out;
	}
	status = run(&s, ctx, sock);
	if (!s.o.quiet)
		ST_NOTICE("received %" PRIu64 ", printed %" PRIu64
			  ", malformed %" PRIu64 ", lat_errors %" PRIu64,
			  s.st.received, s.st.printed, s.st.malformed,
			  s.st.lat_errors);
out:
	if (sock)
		zmq_close(sock);
	if (ctx)
		zmq_ctx_term(ctx);
	msgpack_zone_destroy(&s.zone);
	st_wbuf_free(&s.line);
	return status;
}
