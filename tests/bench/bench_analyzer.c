/* The analyzer's benchmark: how many realistic KPI snapshots one core
 * ingests per second (decode, publisher tracking, histogram decode and
 * merge), in-process and through a ZeroMQ socket, and how long a round of
 * verdicts for 1,000 services takes.
 *
 * The stream is what a thousand gateways with a hundred targets each send
 * once a second: each snapshot carries its gateway's share of a target's
 * traffic (about a hundred requests a second) with its latency histogram in
 * the dataplane's layout, and its own seq and window.
 *
 * Usage: bench_analyzer [--quick] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "clients.h"
#include "engine.h"
#include "histdec.h"
#include "kpisim.h"
#include "wire.h"

#define SEC 1000000000ULL
#define T0 1000000000000000000ULL

struct msg {
	char topic[ST_WIRE_TOPIC_MAX];
	uint8_t *body;
	size_t len;
};

struct stream {
	struct msg *m;
	size_t n;
	size_t bytes;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static void row(const char *name, uint64_t ops, uint64_t ns, const char *note)
{
	double per = (double)ns / (double)ops;

	printf("%-34s %10llu %10.2f %12.0f  %s\n", name, (unsigned long long)ops, per / 1e3,
	       1e9 / per, note);
}

/* n_gw gateways x n_svc services x 4 targets, windows w0..w0+n_win-1. */
static int make_stream(struct stream *st, int n_gw, int n_svc, int n_win, int w0)
{
	static const char *const names[4] = { "prod", "canary", "canary2", "synthetic" };
	static const enum st_role roles[4] = { ST_ROLE_PROD, ST_ROLE_SHADOW, ST_ROLE_SHADOW,
					       ST_ROLE_LOADGEN };
	struct st_wbuf b;
	size_t k = 0;

	st->n = (size_t)n_gw * n_svc * 4 * n_win;
	st->m = calloc(st->n, sizeof(*st->m));
	st->bytes = 0;
	if (st->m == NULL)
		return -1;
	st_wbuf_init(&b);
	for (int g = 0; g < n_gw; g++) {
		struct ks_sim sim;
		char src[32];

		snprintf(src, sizeof(src), "gw%d", g);
		for (int s = 0; s < n_svc; s++) {
			char svc[32];

			snprintf(svc, sizeof(svc), "svc%d", s);
			if (ks_init(&sim, (uint64_t)(g * 1000 + s), svc, src) != 0)
				return -1;
			/* one publisher, one seq: keep it running across services */
			sim.seq = (uint64_t)s * 4 * (uint64_t)n_win + (uint64_t)w0 * 4 * n_svc;
			for (int w = 0; w < n_win; w++) {
				for (int t = 0; t < 4; t++) {
					struct ks_target tg = {
						.role = roles[t], .instances = t ? 2 : 8,
						.lam = 400, .mu = 1000, .d0 = 0.002, .tail = 1,
						/* ~100 requests per snapshot */
						.share = 100.0 / (400.0 * (t ? 2 : 8)),
					};
					uint64_t a = T0 + (uint64_t)(w0 + w) * SEC;

					snprintf(tg.name, sizeof(tg.name), "%s", names[t]);
					if (ks_snapshot(&sim, &tg, a, a + SEC, &b, st->m[k].topic,
							sizeof(st->m[k].topic)) != 0)
						return -1;
					st->m[k].body = malloc(b.len);
					memcpy(st->m[k].body, b.data, b.len);
					st->m[k].len = b.len;
					st->bytes += b.len;
					k++;
				}
			}
			ks_free(&sim);
		}
	}
	st_wbuf_free(&b);
	/* A real stream interleaves gateways: order by window, then gateway. */
	return 0;
}

static void free_stream(struct stream *st)
{
	for (size_t i = 0; i < st->n; i++)
		free(st->m[i].body);
	free(st->m);
}

static void config(struct an_config *c, uint32_t history)
{
	struct st_perr pe;
	char h[16];

	an_config_defaults(c);
	an_config_set(c, "window", "1s", &pe);
	an_config_set(c, "max_publishers", "100000", &pe);
	snprintf(h, sizeof(h), "%u", history);
	an_config_set(c, "history", h, &pe);
}

static void bench_decode(const struct stream *st)
{
	struct st_hist *layout = st_hist_create(AN_HIST_LOWEST, AN_HIST_HIGHEST, AN_HIST_SIGFIGS);
	struct an_histdec *d = an_histdec_create(layout);
	static struct st_kpi k;
	const struct an_bin *bins;
	int64_t total, clamped;
	size_t nb, bins_seen = 0;
	uint64_t t;

	t = now_ns();
	for (size_t i = 0; i < st->n; i++)
		st_kpi_decode(st->m[i].body, st->m[i].len, &k, NULL);
	row("st_kpi_decode", st->n, now_ns() - t, "msgpack map -> struct");
	t = now_ns();
	for (size_t i = 0; i < st->n; i++) {
		st_kpi_decode(st->m[i].body, st->m[i].len, &k, NULL);
		an_histdec_decode(d, k.lat, k.lat_len, &bins, &nb, &total, &clamped, NULL);
		bins_seen += nb;
	}
	row("+ streaming histogram decode", st->n, now_ns() - t, "");
	printf("%-34s %10s %10.1f\n", "  (non-empty buckets per snapshot)", "",
	       (double)bins_seen / (double)st->n);
	{
		size_t n = st->n < 20000 ? st->n : 20000;

		t = now_ns();
		for (size_t i = 0; i < n; i++) {
			struct st_hist *h;

			st_kpi_decode(st->m[i].body, st->m[i].len, &k, NULL);
			h = st_hist_decode_v2(k.lat, k.lat_len, NULL);
			st_hist_destroy(h);
		}
		row("  (same with st_hist_decode_v2)", n, now_ns() - t, "for comparison");
	}
	an_histdec_destroy(d);
	st_hist_destroy(layout);
}

/* In-process: the engine's ingest on one core. */
static void bench_ingest(const struct stream *w1, const struct stream *w2)
{
	struct an_config cfg;
	struct an_engine *e;
	uint64_t t, total = 0, n = 0;

	config(&cfg, 16);
	e = an_engine_create(&cfg, true);
	for (int round = 0; round < 2; round++) {
		const struct stream *st = round ? w2 : w1;
		uint64_t dt;

		t = now_ns();
		for (size_t i = 0; i < st->n; i++)
			an_engine_ingest(e, st->m[i].topic, strlen(st->m[i].topic), st->m[i].body,
					 st->m[i].len, 2, 0);
		dt = now_ns() - t;
		row(round ? "  window 2 (steady state)" : "  window 1 (targets created)", st->n, dt, "");
		total += dt;
		n += st->n;
	}
	row("ingest, in-process (one core)", n, total, "decode+track+merge");
	{
		const struct an_counters *c = an_engine_counters(e);

		if (c->kpi_merged != n)
			printf("  WARNING: merged %llu of %llu (gaps %llu late %llu dup %llu)\n",
			       (unsigned long long)c->kpi_merged, (unsigned long long)n,
			       (unsigned long long)c->gaps, (unsigned long long)c->late,
			       (unsigned long long)c->duplicates);
	}
	an_engine_destroy(e);
	an_config_free(&cfg);
}

struct pub_arg {
	void *ctx;
	const struct stream *st[2];
};

/* Sends both windows. The bodies go without a copy (zmq_send_const: the
 * stream outlives the socket): a copy would be malloc'ed here and freed by
 * the receiver, and the two threads would then fight over this thread's
 * malloc arena lock -- about one futex sleep in every ten frees, over a
 * microsecond per message of the receiver's time, none of it the
 * analyzer's. The analyzer's own socket gets its frames from ZeroMQ's I/O
 * thread, which decodes TCP into shared batch buffers (8 KiB: one free
 * per buffer, not per message). */
static void *publisher(void *p)
{
	struct pub_arg *a = p;
	void *s = zmq_socket(a->ctx, ZMQ_PUSH);
	int hwm = 0;

	zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_connect(s, "inproc://bench");
	for (int r = 0; r < 2; r++)
		for (size_t i = 0; i < a->st[r]->n; i++) {
			zmq_send(s, a->st[r]->m[i].topic, strlen(a->st[r]->m[i].topic), ZMQ_SNDMORE);
			zmq_send_const(s, a->st[r]->m[i].body, a->st[r]->m[i].len, 0);
		}
	zmq_close(s);
	return NULL;
}

/* Through a ZeroMQ socket: another thread sends, this one receives and
 * ingests, as main.c does (PUSH/PULL so nothing is dropped by design). */
static void bench_zmq(const struct stream *w1, const struct stream *w2)
{
	struct pub_arg a = { .st = { w1, w2 } };
	struct an_config cfg;
	struct an_engine *e;
	pthread_t th;
	void *sock;
	size_t n = w1->n + w2->n;
	int hwm = 0;
	uint64_t t;

	config(&cfg, 16);
	e = an_engine_create(&cfg, true);
	a.ctx = zmq_ctx_new();
	sock = zmq_socket(a.ctx, ZMQ_PULL);
	zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_bind(sock, "inproc://bench");
	t = now_ns();
	pthread_create(&th, NULL, publisher, &a);
	for (size_t i = 0; i < n; i++) {
		zmq_msg_t f[2];

		zmq_msg_init(&f[0]);
		zmq_msg_init(&f[1]);
		zmq_msg_recv(&f[0], sock, 0);
		zmq_msg_recv(&f[1], sock, 0);
		an_engine_ingest(e, zmq_msg_data(&f[0]), zmq_msg_size(&f[0]), zmq_msg_data(&f[1]),
				 zmq_msg_size(&f[1]), 2, 0);
		zmq_msg_close(&f[0]);
		zmq_msg_close(&f[1]);
	}
	row("ingest through ZeroMQ (inproc)", n, now_ns() - t, "receiver thread + publisher");
	pthread_join(th, NULL);
	zmq_close(sock);
	zmq_ctx_term(a.ctx);
	an_engine_destroy(e);
	an_config_free(&cfg);
}

/* A round of verdicts for n services, each with prod and a shadow group
 * and a full span of windows. */
static void bench_verdicts(int n_svc, int rounds)
{
	struct an_config cfg;
	struct an_engine *e;
	struct st_wbuf b;
	uint64_t total = 0;
	int verdicts = 0;

	config(&cfg, 16);
	e = an_engine_create(&cfg, true);
	st_wbuf_init(&b);
	for (int s = 0; s < n_svc; s++) {
		struct an_plan p;
		char name[32];

		snprintf(name, sizeof(name), "svc%d", s);
		an_plan_defaults(&p);
		snprintf(p.shadow, sizeof(p.shadow), "canary");
		p.current_instances = 8;
		p.proposed_instances = 12;
		p.forecast_rps = 12 * 500;
		p.slo_p99_ns = 30000000;
		p.cost_per_hour = 0.4;
		an_engine_propose(e, name, &p);
	}
	for (int w = 0; w < 8 + rounds; w++) {
		uint64_t t;
		int got;

		for (int s = 0; s < n_svc; s++) {
			struct ks_sim sim;
			char name[32];
			struct ks_target tg[2] = {
				{ .name = "prod", .role = ST_ROLE_PROD, .instances = 8, .lam = 400,
				  .mu = 1000, .d0 = 0.002, .tail = 1, .share = 1 },
				{ .name = "canary", .role = ST_ROLE_SHADOW, .instances = 2, .lam = 500,
				  .mu = 1000, .d0 = 0.002, .tail = 1, .share = 1 },
			};

			snprintf(name, sizeof(name), "svc%d", s);
			ks_init(&sim, (uint64_t)(s * 7919 + w), name, name);
			sim.seq = (uint64_t)w * 2;
			for (int k = 0; k < 2; k++) {
				char topic[ST_WIRE_TOPIC_MAX];
				uint64_t a = T0 + (uint64_t)w * SEC;

				ks_snapshot(&sim, &tg[k], a, a + SEC, &b, topic, sizeof(topic));
				an_engine_ingest(e, topic, strlen(topic), b.data, b.len, 2, 0);
			}
			ks_free(&sim);
		}
		t = now_ns();
		got = an_engine_tick(e, 0);
		if (w >= 8) {
			total += now_ns() - t;
			verdicts += got;
		}
	}
	{
		char note[64];

		snprintf(note, sizeof(note), "%.1f ms per round of %d services",
			 (double)total / rounds / 1e6, n_svc);
		row("verdicts (close window + judge)", (uint64_t)verdicts, total, note);
	}
	st_wbuf_free(&b);
	an_engine_destroy(e);
	an_config_free(&cfg);
}

/* Client records at a full table (max_clients 1,000, 60 windows of
 * history): gateways whose top 1,000 clients churn through a population of
 * 20,000, so most records name a client the analyzer does not hold and
 * each asks whether it takes the smallest one's place. */
static void bench_clients(int n_msgs)
{
	enum { RECS = 1000, POP = 20000, PER_WIN = 10 };
	static struct st_client_rec recs[RECS];
	struct st_clients_msg m;
	struct an_config cfg;
	struct an_engine *e;
	struct st_perr pe;
	struct st_wbuf b;
	uint32_t rng = 1;
	uint64_t t, dt = 0;
	char note[64];

	config(&cfg, 16);
	an_config_set(&cfg, "max_clients", "1000", &pe);
	an_config_set(&cfg, "client_history", "60", &pe);
	e = an_engine_create(&cfg, true);
	st_wbuf_init(&b);
	memset(&m, 0, sizeof(m));
	m.recs = recs;
	m.n_recs = RECS;
	snprintf(m.h.service, sizeof(m.h.service), "web");
	snprintf(m.h.target, sizeof(m.h.target), "prod");
	snprintf(m.h.key, sizeof(m.h.key), "src/32");
	m.h.top = RECS;
	for (int i = 0; i < n_msgs; i++) {
		char topic[ST_WIRE_TOPIC_MAX];

		/* PER_WIN gateways report each window */
		snprintf(m.h.src, sizeof(m.h.src), "gw%d", i % PER_WIN);
		m.h.seq = (uint64_t)(i / PER_WIN) + 1;
		m.h.t0 = T0 + (uint64_t)(i / PER_WIN) * SEC;
		m.h.t1 = m.h.t0 + SEC;
		for (int r = 0; r < RECS; r++) {
			rng = rng * 1103515245u + 12345u;
			snprintf(recs[r].k, sizeof(recs[r].k), "198.18.%u.%u",
				 (rng >> 8) % POP / 250, (rng >> 8) % POP % 250);
			recs[r].requests = 1 + (rng >> 20) % 100;
		}
		st_wbuf_reset(&b);
		if (st_clients_encode_msg(&m, &b) != 0)
			break;
		snprintf(topic, sizeof(topic), "clients.web");
		t = now_ns();
		an_engine_ingest(e, topic, strlen(topic), b.data, b.len, 2, 0);
		dt += now_ns() - t;
	}
	snprintf(note, sizeof(note), "%d records each, %llu taken a place",
		 RECS, (unsigned long long)an_clients_counters(an_engine_clients(e))->evicted);
	row("clients messages at a full table", (uint64_t)n_msgs, dt, note);
	st_wbuf_free(&b);
	an_engine_destroy(e);
	an_config_free(&cfg);
}

int main(int argc, char **argv)
{
	bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
	int n_gw = quick ? 100 : 1000, n_svc = 25;
	struct stream w1, w2;
	uint64_t t = now_ns();

	if (make_stream(&w1, n_gw, n_svc, 1, 0) != 0 || make_stream(&w2, n_gw, n_svc, 1, 1) != 0) {
		fprintf(stderr, "bench_analyzer: out of memory\n");
		return 1;
	}
	printf("stream: %d gateways x %d targets (%d services x prod, canary, canary2, synthetic),\n"
	       "        %zu snapshots per 1 s window, %.0f bytes each on average (made in %.1f s)\n",
	       n_gw, n_svc * 4, n_svc, w1.n, (double)w1.bytes / (double)w1.n,
	       (double)(now_ns() - t) / 1e9);
	printf("%-34s %10s %10s %12s\n", "operation", "ops", "us/op", "ops/s");
	/* BENCH_ONLY=ingest|zmq|verdicts|decode|clients runs one part (profiling). */
	{
		const char *only = getenv("BENCH_ONLY");

		if (only == NULL || strcmp(only, "decode") == 0)
			bench_decode(&w1);
		if (only == NULL || strcmp(only, "ingest") == 0)
			bench_ingest(&w1, &w2);
		if (only == NULL || strcmp(only, "zmq") == 0)
			bench_zmq(&w1, &w2);
		if (only == NULL || strcmp(only, "verdicts") == 0)
			bench_verdicts(1000, quick ? 2 : 5);
		if (only == NULL || strcmp(only, "clients") == 0)
			bench_clients(quick ? 50 : 200);
	}
	free_stream(&w1);
	free_stream(&w2);
	return 0;
}
