/* Per-client accounting of production's requests ([dataplane] client_key,
 * issue #16). Datapath side: timing.c calls the inline functions below
 * where it counts a production request, answer, timeout or reset, so the
 * cost is per timed request, never per packet, and nothing when client_key
 * is none. Each worker keeps a Space-Saving summary (common/spacesaving.h)
 * per timing window, cs[epoch & 1], swapped with the KPI windows (timing.h).
 * Control side: every interval the main lcore merges the windows the
 * workers handed over and publishes clients.<service> (docs/wire.md) on the
 * KPI socket. No lock. */
#ifndef DP_CLIENTS_H
#define DP_CLIENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "flow.h"
#include "spacesaving.h"
#include "wire.h"
#include "worker.h"

/* A flow's client is key.addr[1] (set with the flow's first request, read
 * by the expiry scan for timeouts): the top bit of dp_flow.targets, far
 * above the DP_MAX_TARGETS target bits. */
#define DP_FLOW_CLIENT1 (1u << 31)
_Static_assert(DP_MAX_TARGETS < 31, "targets leave the top bit free");

/* The client key of a flow whose client is key->addr[client]. */
static inline void dp_client_key(const struct dp_config *cfg, const struct st_flow_key *k,
				 unsigned int client, struct st_ckey *out)
{
	st_ckey_of(&cfg->client, k, client, out);
}

static inline struct st_ss *dp_clients_window(struct dp_worker *w)
{
	return w->cs[w->epoch & 1];
}

/* A burst's production requests are counted by runs of one client: the
 * key is made per request (a few instructions from the flow key at hand),
 * the summary is looked up once per run (dp_clients_flush), so a train of
 * one client's packets costs a compare each. */
struct dp_clients_run {
	struct st_ckey k;
	uint64_t n, bytes;
};

/* Counts the run (if any) and empties it. Call before the burst's end:
 * a run never outlives the window its requests fell in. */
static inline void dp_clients_flush(struct dp_worker *w, struct dp_clients_run *r)
{
	if (r->n != 0)
		st_ss_request_n(dp_clients_window(w), &r->k, st_ckey_hash(&r->k), r->n, r->bytes);
	r->n = 0;
}

/* A production request of a flow (key k, its client k->addr[client])
 * whose packet had bytes, added to run r. */
static inline void dp_clients_request(struct dp_worker *w, struct dp_clients_run *r,
				      const struct st_flow_key *k, unsigned int client,
				      uint32_t bytes)
{
	struct st_ckey ck;

	dp_client_key(&w->app->cfg, k, client, &ck);
	if (r->n != 0 && st_ckey_eq(&ck, &r->k)) {
		r->n++;
		r->bytes += bytes;
		return;
	}
	dp_clients_flush(w, r);
	r->k = ck;
	r->n = 1;
	r->bytes = bytes;
}

/* Production answered one of the flow's requests after ns with a packet of
 * bytes. */
static inline void dp_clients_response(struct dp_worker *w, const struct st_flow_key *k,
				       unsigned int client, uint64_t ns, uint32_t bytes)
{
	struct st_ckey ck;

	dp_client_key(&w->app->cfg, k, client, &ck);
	st_ss_response(dp_clients_window(w), &ck, st_ckey_hash(&ck), ns, bytes);
}

static inline void dp_clients_reset(struct dp_worker *w, const struct st_flow_key *k,
				    unsigned int client)
{
	struct st_ckey ck;

	dp_client_key(&w->app->cfg, k, client, &ck);
	st_ss_reset(dp_clients_window(w), &ck, st_ckey_hash(&ck));
}

/* One of f's production requests timed out; with syn, an unanswered SYN
 * of a connection that sent no request, which counts as a request too (as
 * in the KPI snapshot: the clients add up to it). */
static inline void dp_clients_timeout(struct dp_worker *w, const struct dp_flow *f, bool syn)
{
	struct st_ckey ck;
	uint32_t h;

	dp_client_key(&w->app->cfg, &f->key, (f->targets & DP_FLOW_CLIENT1) ? 1 : 0, &ck);
	h = st_ckey_hash(&ck);
	if (syn)
		st_ss_request_n(dp_clients_window(w), &ck, h, 1, 0);
	st_ss_timeout(dp_clients_window(w), &ck, h);
}

/* Main lcore side. */
struct dp_clients {
	struct st_ss *merged;		/* twice client_top: room to merge one more */
	struct st_ss_heap *order;
	struct st_wbuf msg;
	uint32_t top;
	uint64_t sent;
	uint64_t dropped;		/* ZeroMQ could not queue */
	uint64_t shortened;		/* messages that listed fewer than top to fit */
	uint64_t failed;		/* could not be encoded at all */
};

/* Allocates a worker's two windows of client_top entries in hugepage
 * memory on its socket. Nothing when client_key is none. Returns 0 or
 * -ENOMEM. */
int dp_clients_worker_init(struct dp_worker *w, const struct dp_config *cfg, int socket);
void dp_clients_worker_fini(struct dp_worker *w);

/* The merge summary and the message buffer (malloc). Nothing when
 * client_key is none. Returns 0 or -ENOMEM. */
int dp_clients_init(struct dp_clients *c, const struct dp_config *cfg);
void dp_clients_fini(struct dp_clients *c);

/* After the epoch switch (kpi.c): merges the closed window old of every
 * worker marked ready, clears it for reuse, and publishes clients.<service>
 * for [t0, t1) on pub (NULL: merge only) with the next *seq. A message that
 * does not fit ST_WIRE_MAX_SIZE lists fewer clients (counted); one ZeroMQ
 * cannot queue is counted. */
void dp_clients_interval(struct dp_clients *c, struct dp_app *app, uint32_t old,
			 const bool *ready, void *pub, uint64_t *seq, uint64_t t0, uint64_t t1);

#endif
