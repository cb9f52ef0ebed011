/* kpi_pub: a seeded KPI publisher for the analyzer's tests, standing in for
 * a dataplane. Binds a ZeroMQ PUB socket (as the dataplane does) or writes
 * a recording for shadowtap-analyzer --replay.
 *
 *   kpi_pub (--endpoint EP | --out FILE) --target SPEC [--target SPEC...]
 *           [--service web [--also-service NAME...]] [--src gw1] [--seed N] [--interval 50ms]
 *           [--count N] [--realtime] [--t0 NS] [--wait 300ms]
 *           [--restart-at N] [--garbage] [--dup]
 *           [--curve-key KEYPAIR --curve-allow ALLOWLIST]
 *           [--client KEY,RPS[,SLOPE]...]
 *
 * SPEC: see ks_target_parse (kpisim.h). Without --realtime the windows
 * start at --t0 (default 1e18 ns, 2001-09-09) and follow each other
 * without sleeping; with it they follow the wall clock, from --t0 when
 * given (so that two publishers' windows are exactly as far apart as
 * asked: a dataplane's intervals start when it started), else from the
 * last multiple of the interval. --restart-at N starts seq over after N intervals, as a
 * restarted publisher would. --garbage sends, each interval, one each of:
 * a malformed body, an oversized body, a wrong version, an unknown topic, a
 * three-frame message, a topic that names another target, a bad histogram.
 * --dup resends every snapshot once. --curve-key makes the PUB socket a
 * CURVE server admitting the keys in --curve-allow, as the dataplane's.
 * --also-service sends the same targets for another service too, each
 * interval, the seq shared (one gateway fronting several services).
 * --client adds, each interval, one clients.<service> message (the
 * dataplane's per-client accounting, client_key src/32, target prod, seq
 * shared with the KPIs) listing each such client with RPS + SLOPE x t
 * requests per second (t: seconds since the first interval; fractions
 * carried to the next interval), 100 bytes each, each answered with 1000
 * bytes in 2 ms.
 * Prints "sent N" at the end. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "clock.h"
#include "kpisim.h"
#include "parse.h"
#include "zsec.h"

#define MAX_ALSO 3
#define MAX_TARGETS 8
#define MAX_CLIENTS 64

struct client {
	char k[ST_CLIENT_KEY_MAX];
	double rps, slope, carry;
};

/* "KEY,RPS[,SLOPE]". Returns 0 or -EINVAL. */
static int client_parse(const char *spec, struct client *c)
{
	const char *comma = strchr(spec, ',');
	char *end;

	memset(c, 0, sizeof(*c));
	if (comma == NULL || comma == spec || (size_t)(comma - spec) >= sizeof(c->k))
		return -EINVAL;
	memcpy(c->k, spec, (size_t)(comma - spec));
	c->rps = strtod(comma + 1, &end);
	if (*end == ',')
		c->slope = strtod(end + 1, &end);
	return *end == '\0' && c->rps >= 0 ? 0 : -EINVAL;
}

/* One clients message for the window [a, z), t seconds after the first. */
static int clients_msg(struct ks_sim *sim, struct client *cl, uint32_t n, uint64_t a, uint64_t z,
		       double t, struct st_wbuf *out)
{
	struct st_client_rec recs[MAX_CLIENTS];
	struct st_clients_msg m;
	unsigned int b = st_lhist_bucket(2 * ST_NS_PER_MS);

	memset(&m, 0, sizeof(m));
	m.h.seq = ++sim->seq;
	snprintf(m.h.src, sizeof(m.h.src), "%s", sim->src);
	snprintf(m.h.service, sizeof(m.h.service), "%s", sim->service);
	snprintf(m.h.target, sizeof(m.h.target), "prod");
	snprintf(m.h.key, sizeof(m.h.key), "src/32");
	m.h.top = n;
	m.h.t0 = a;
	m.h.t1 = z;
	memset(recs, 0, sizeof(recs[0]) * n);
	for (uint32_t i = 0; i < n; i++) {
		double want = cl[i].carry + (cl[i].rps + cl[i].slope * t) * (double)(z - a) / 1e9;
		uint64_t q = want > 0 ? (uint64_t)want : 0;

		cl[i].carry = want - (double)q;
		memcpy(recs[i].k, cl[i].k, sizeof(recs[i].k));
		recs[i].requests = recs[i].responses = q;
		recs[i].bytes_req = 100 * q;
		recs[i].bytes_resp = 1000 * q;
		recs[i].lat.c[b] = (uint32_t)q;
		recs[i].p50 = recs[i].p99 = st_lhist_quantile(&recs[i].lat, 0.5);
	}
	m.recs = recs;
	m.n_recs = m.n = n;
	return st_clients_encode_msg(&m, out);
}

struct out {
	void *sock;
	FILE *file;
	uint64_t sent;
};

static void put_be32(FILE *f, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	fwrite(b, 1, 4, f);
}

static void emit(struct out *o, int nframes, const void *const *frames, const size_t *lens)
{
	if (o->file != NULL) {
		put_be32(o->file, (uint32_t)nframes);
		for (int i = 0; i < nframes; i++) {
			put_be32(o->file, (uint32_t)lens[i]);
			fwrite(frames[i], 1, lens[i], o->file);
		}
	} else {
		for (int i = 0; i < nframes; i++)
			zmq_send(o->sock, frames[i], lens[i], i + 1 < nframes ? ZMQ_SNDMORE : 0);
	}
	o->sent++;
}

static void emit2(struct out *o, const char *topic, const void *body, size_t len)
{
	const void *f[2] = { topic, body };
	size_t l[2] = { strlen(topic), len };

	emit(o, 2, f, l);
}

/* One of each kind of bad message the analyzer must count and survive. */
static void garbage(struct out *o, struct ks_sim *s, const struct ks_target *t,
		    uint64_t t0, uint64_t t1)
{
	static uint8_t big[(1u << 20) + 64];
	struct st_wbuf b;
	char topic[ST_WIRE_TOPIC_MAX], other[ST_WIRE_TOPIC_MAX];
	const uint8_t junk[] = { 0x85, 0xa1, 'v', 0x01, 0xc1, 0xff, 0x00 };
	const void *f3[3];
	size_t l3[3];
	uint64_t seq = s->seq;

	st_wbuf_init(&b);
	emit2(o, "kpi.web.prod", junk, sizeof(junk));			/* malformed */
	memset(big, 0x90, sizeof(big));
	emit2(o, "kpi.web.prod", big, sizeof(big));			/* oversized */
	emit2(o, "metrics.web", junk, sizeof(junk));			/* unknown topic */
	if (ks_snapshot(s, t, t0, t1, &b, topic, sizeof(topic)) == 0) {
		/* v = 2: the byte after "v" key (0xa1 'v') is the value */
		uint8_t *p = memmem(b.data, b.len, "\xa1v\x01", 3);

		if (p != NULL) {
			p[2] = 0x02;
			emit2(o, topic, b.data, b.len);			/* wrong version */
			p[2] = 0x01;
		}
		f3[0] = topic;
		l3[0] = strlen(topic);
		f3[1] = b.data;
		l3[1] = b.len;
		f3[2] = "x";
		l3[2] = 1;
		emit(o, 3, f3, l3);					/* three frames */
		snprintf(other, sizeof(other), "kpi.%s.elsewhere", s->service);
		emit2(o, other, b.data, b.len);				/* topic mismatch */
	}
	/* Those copies never count as received: give their seq back. */
	s->seq = seq;
	if (ks_snapshot(s, t, t0, t1, &b, topic, sizeof(topic)) == 0) {
		/* A corrupt histogram in an otherwise good message: it is
		 * received (its seq counts), only its latencies are lost. */
		uint8_t *p = memmem(b.data, b.len, "\x1c\x84\x93\x14", 4);

		if (p != NULL && p + 16 < b.data + b.len) {
			p[12] ^= 0x55;
			p[13] ^= 0xaa;
			emit2(o, topic, b.data, b.len);			/* bad histogram */
		}
	}
	st_wbuf_free(&b);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "out", required_argument, NULL, 'o' },
		{ "target", required_argument, NULL, 't' },
		{ "service", required_argument, NULL, 'S' },
		{ "also-service", required_argument, NULL, 'a' },
		{ "src", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'r' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'n' },
		{ "realtime", no_argument, NULL, 'R' },
		{ "t0", required_argument, NULL, 'T' },
		{ "wait", required_argument, NULL, 'w' },
		{ "restart-at", required_argument, NULL, 'X' },
		{ "garbage", no_argument, NULL, 'g' },
		{ "dup", no_argument, NULL, 'd' },
		{ "curve-key", required_argument, NULL, 'K' },
		{ "curve-allow", required_argument, NULL, 'A' },
		{ "client", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	struct ks_target targets[MAX_TARGETS];
	static struct client clients[MAX_CLIENTS];
	uint32_t n_clients = 0;
	const char *endpoint = NULL, *outfile = NULL, *service = "web", *src = "gw1";
	const char *also[MAX_ALSO];
	int n_also = 0;
	const char *curve_key = NULL, *curve_allow = NULL;
	struct st_zap *zap = NULL;
	uint64_t interval = 50 * ST_NS_PER_MS, wait = 300 * ST_NS_PER_MS;
	uint64_t t0 = 1000000000000000000ULL, seed = 1, count = 40, restart_at = 0;
	bool realtime = false, junk = false, dup = false, t0_given = false;
	struct out o = { 0 };
	struct ks_sim sim;
	struct st_wbuf b;
	struct st_perr pe;
	int n_targets = 0, opt;
	void *ctx = NULL;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'e': endpoint = optarg; break;
		case 'o': outfile = optarg; break;
		case 't':
			if (n_targets >= MAX_TARGETS || ks_target_parse(optarg, &targets[n_targets]) != 0) {
				fprintf(stderr, "kpi_pub: bad --target '%s'\n", optarg);
				return 2;
			}
			n_targets++;
			break;
		case 'C':
			if (n_clients >= MAX_CLIENTS || client_parse(optarg, &clients[n_clients]) != 0) {
				fprintf(stderr, "kpi_pub: bad --client '%s' (KEY,RPS[,SLOPE])\n", optarg);
				return 2;
			}
			n_clients++;
			break;
		case 'S': service = optarg; break;
		case 'a':
			if (n_also >= MAX_ALSO || strlen(optarg) >= ST_WIRE_NAME_MAX) {
				fprintf(stderr, "kpi_pub: --also-service: at most %d, each a name "
					"under %d bytes\n", MAX_ALSO, ST_WIRE_NAME_MAX);
				return 2;
			}
			also[n_also++] = optarg;
			break;
		case 's': src = optarg; break;
		case 'r': seed = strtoull(optarg, NULL, 0); break;
		case 'n': count = strtoull(optarg, NULL, 0); break;
		case 'T': t0 = strtoull(optarg, NULL, 0); t0_given = true; break;
		case 'X': restart_at = strtoull(optarg, NULL, 0); break;
		case 'R': realtime = true; break;
		case 'g': junk = true; break;
		case 'd': dup = true; break;
		case 'K': curve_key = optarg; break;
		case 'A': curve_allow = optarg; break;
		case 'i':
		case 'w':
			if (st_parse_duration(optarg, 0, 3600 * ST_NS_PER_S,
					      opt == 'i' ? &interval : &wait, &pe) != 0) {
				fprintf(stderr, "kpi_pub: %s\n", pe.msg);
				return 2;
			}
			break;
		default:
			return 2;
		}
	}
	if ((endpoint == NULL) == (outfile == NULL) || n_targets == 0 || interval == 0) {
		fprintf(stderr, "usage: kpi_pub (--endpoint EP | --out FILE) --target SPEC... (see kpi_pub.c)\n");
		return 2;
	}
	if (ks_init(&sim, seed, service, src) != 0)
		return 1;
	st_wbuf_init(&b);
	if (outfile != NULL) {
		o.file = fopen(outfile, "wb");
		if (o.file == NULL) {
			perror(outfile);
			return 1;
		}
	} else {
		int hwm = 1000000;

		ctx = zmq_ctx_new();
		o.sock = zmq_socket(ctx, ZMQ_PUB);
		zmq_setsockopt(o.sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
		if (curve_key != NULL) {
			zap = st_zap_create(ctx, curve_allow ? curve_allow : "/dev/null", &pe);
			if (zap == NULL || st_zap_start_thread(zap) != 0 ||
			    st_zsec_server_setup(o.sock, curve_key, NULL, &pe) != 0) {
				fprintf(stderr, "kpi_pub: CURVE: %s\n", pe.msg);
				return 1;
			}
		}
		if (zmq_bind(o.sock, endpoint) != 0) {
			fprintf(stderr, "kpi_pub: bind %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
			return 1;
		}
		/* Subscribers need a moment to connect (ZeroMQ's slow joiner). */
		st_sleep_until_ns(st_mono_ns() + wait);
	}
	if (realtime && !t0_given)
		t0 = st_wall_ns() / interval * interval;
	for (uint64_t i = 0; i < count; i++) {
		uint64_t a = t0 + i * interval, z = a + interval;

		if (realtime) {
			uint64_t now = st_wall_ns();

			if (z > now)
				st_sleep_until_ns(st_mono_ns() + (z - now));
		}
		if (restart_at && i == restart_at)
			sim.seq = 0;
		for (int sv = 0; sv <= n_also; sv++) {
			snprintf(sim.service, sizeof(sim.service), "%s", sv ? also[sv - 1] : service);
			for (int k = 0; k < n_targets; k++) {
				char topic[ST_WIRE_TOPIC_MAX];

				if (ks_snapshot(&sim, &targets[k], a, z, &b, topic,
						sizeof(topic)) != 0) {
					fprintf(stderr, "kpi_pub: snapshot failed\n");
					return 1;
				}
				emit2(&o, topic, b.data, b.len);
				if (dup)
					emit2(&o, topic, b.data, b.len);
			}
		}
		snprintf(sim.service, sizeof(sim.service), "%s", service);
		if (n_clients > 0) {
			char topic[ST_WIRE_TOPIC_MAX];

			if (clients_msg(&sim, clients, n_clients, a, z, (double)(a - t0) / 1e9, &b) != 0 ||
			    st_clients_topic(service, topic, sizeof(topic)) < 0) {
				fprintf(stderr, "kpi_pub: clients message failed\n");
				return 1;
			}
			emit2(&o, topic, b.data, b.len);
		}
		if (junk)
			garbage(&o, &sim, &targets[0], a, z);
	}
	printf("sent %llu\n", (unsigned long long)o.sent);
	fflush(stdout);
	if (o.file != NULL)
		fclose(o.file);
	if (o.sock != NULL) {
		/* Let the last messages leave before the socket goes. */
		int linger = 2000;

		zmq_setsockopt(o.sock, ZMQ_LINGER, &linger, sizeof(linger));
		zmq_close(o.sock);
		st_zap_destroy(zap);
		zmq_ctx_term(ctx);
	}
	st_wbuf_free(&b);
	ks_free(&sim);
	return 0;
}
