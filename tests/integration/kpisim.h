/* Seeded KPI snapshots from known distributions, for the analyzer's tests
 * and benchmark. Each target is a group of instances that each queue on
 * their own (M/M/1 at the per-instance rate, as behind a load balancer)
 * with a true capacity mu, a fixed latency d0, and optionally a tail
 * regression that leaves the median alone. Knowing mu, a test can check
 * that a recommendation meets the SLO under the true capacity.
 *
 * svc picks the service time (mean 1/mu) of the per-instance queue:
 * exponential (M/M/1, the default), deterministic (M/D/1: one request at a
 * time in exactly 1/mu) or bimodal (90% fast, 10% eight times slower).
 * The last two have no closed form for their quantiles: their latencies
 * come from a FIFO queue simulated by Lindley's recursion, per window.
 * With shared, the instances share one queue: M/M/c by its closed form for
 * exponential service, else a FIFO queue of `instances` servers simulated
 * per window (ks_fifo: M/D/c, or the bimodal service's M/G/c). */
#ifndef ST_KPISIM_H
#define ST_KPISIM_H

#include <stdbool.h>
#include <stdint.h>

#include "hist.h"
#include "wire.h"

enum ks_svc { KS_SVC_EXP, KS_SVC_DET, KS_SVC_BIMODAL };

struct ks_target {
	char name[ST_WIRE_NAME_MAX];
	enum st_role role;
	uint32_t instances;
	double lam;		/* requests per second per instance */
	double lam_jitter;	/* relative sd of the per-window load */
	double share;		/* of the target's traffic this publisher sees
				 * (several gateways in front of one pool) */
	double mu;		/* true capacity per instance, rps */
	double d0;		/* fixed latency, s */
	double tail;		/* 1: none; k: p99 k times, p50 unchanged */
	double err;		/* reset probability per request */
	double timeout;		/* timeout probability per request */
	bool shared;		/* one shared queue (M/M/c) instead of one each */
	enum ks_svc svc;	/* service time distribution */
	/* Chaos: the snapshots carry a chaos map. down instances of the
	 * target are down: with respread the others carry their load (each
	 * at lam * instances / (instances - down)), else their share of the
	 * requests times out (the dataplane times a blackholed copy as sent). */
	bool chaos;
	uint32_t down;
	bool respread;
};

/* A FIFO queue of c servers: each arrival takes the server that frees
 * first (a binary min-heap of the servers' free times). */
struct ks_fifo {
	double *free;
	uint32_t c;
	double now;
};

/* An empty queue of c >= 1 servers. Returns 0, -EINVAL or -ENOMEM. */
int ks_fifo_init(struct ks_fifo *q, uint32_t c);
void ks_fifo_free(struct ks_fifo *q);
/* The sojourn time (wait + svc) of the next arrival, gap after the one
 * before it, served for svc. Never fails; O(log c). */
double ks_fifo_next(struct ks_fifo *q, double gap, double svc);

struct ks_sim {
	uint64_t rng;
	char service[ST_WIRE_NAME_MAX];
	char src[ST_WIRE_NAME_MAX];
	uint64_t seq;
	struct st_hist *h;
	uint8_t *enc;
	size_t enc_cap;
};

/* Returns 0 or -ENOMEM. */
int ks_init(struct ks_sim *s, uint64_t seed, const char *service, const char *src);
void ks_free(struct ks_sim *s);

double ks_uniform(struct ks_sim *s);

/* The q-quantile (s) of a target's latency at its per-instance rate lam
 * (the true distribution, for checks; exponential service only). */
double ks_quantile(const struct ks_target *t, double lam, double q);

/* One snapshot of target t over [t0, t1] (ns): samples the request count,
 * errors and latencies, encodes the histogram and the msgpack map into out
 * and the topic into topic. Returns 0 or a negative errno. */
int ks_snapshot(struct ks_sim *s, const struct ks_target *t, uint64_t t0,
		uint64_t t1, struct st_wbuf *out, char *topic, size_t topic_len);

/* Parses "name=canary,role=shadow,instances=2,lam=100,mu=150,d0=1ms,
 * tail=3,err=0.001,timeout=0,jitter=0.05,share=0.5,shared=1,svc=det,chaos=1,
 * down=1,respread=1" (svc: exp, det or bimodal). Returns 0 or -EINVAL. */
int ks_target_parse(const char *spec, struct ks_target *t);

#endif
