/* Per-client accounting, the main lcore's side: the workers' windows
 * merged and published (clients.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_malloc.h>
#include <zmq.h>

#include "clients.h"
#include "log.h"

int dp_clients_worker_init(struct dp_worker *w, const struct dp_config *cfg, int socket)
{
	size_t sz = st_ss_size(cfg->client_top);

	if (cfg->client.by == ST_CKEY_BY_NONE)
		return 0;
	for (int e = 0; e < 2; e++) {
		void *mem = rte_zmalloc_socket("st_clients", sz, RTE_CACHE_LINE_SIZE, socket);

		w->cs[e] = mem != NULL ? st_ss_init(mem, sz, cfg->client_top) : NULL;
		if (w->cs[e] == NULL) {
			rte_free(mem);
			return -ENOMEM;
		}
	}
	return 0;
}

void dp_clients_worker_fini(struct dp_worker *w)
{
	for (int e = 0; e < 2; e++) {
		rte_free(w->cs[e]);
		w->cs[e] = NULL;
	}
}

int dp_clients_init(struct dp_clients *c, const struct dp_config *cfg)
{
	memset(c, 0, sizeof(*c));
	st_wbuf_init(&c->msg);
	if (cfg->client.by == ST_CKEY_BY_NONE)
		return 0;
	c->top = cfg->client_top;
	c->merged = st_ss_create(2 * c->top);
	c->order = calloc(2 * (size_t)c->top, sizeof(*c->order));
	if (c->merged == NULL || c->order == NULL)
		return -ENOMEM;
	return 0;
}

void dp_clients_fini(struct dp_clients *c)
{
	st_ss_destroy(c->merged);
	free(c->order);
	st_wbuf_free(&c->msg);
	c->merged = NULL;
	c->order = NULL;
}

static void publish(struct dp_clients *c, struct dp_app *app, const char *service, void *pub,
		    uint64_t *seq, uint64_t t0, uint64_t t1, uint32_t n_order)
{
	struct st_clients_hdr h;
	char topic[ST_WIRE_TOPIC_MAX];
	uint32_t n = RTE_MIN(n_order, c->top);
	int tl = st_clients_topic(service, topic, sizeof(topic)), rc;

	memset(&h, 0, sizeof(h));
	h.seq = *seq + 1;
	snprintf(h.src, sizeof(h.src), "%s", app->cfg.publisher_id);
	snprintf(h.service, sizeof(h.service), "%s", service);
	snprintf(h.target, sizeof(h.target), "prod");
	snprintf(h.key, sizeof(h.key), "%s", app->cfg.client_key);
	h.top = c->top;
	h.t0 = t0;
	h.t1 = t1;
	/* Too big (a thousand clients with wide histograms): list fewer, the
	 * rest goes to other, totals still add up. */
	while ((rc = st_clients_encode(&h, c->merged, c->order, n_order, n, &c->msg)) == -EMSGSIZE &&
	       n > 0)
		n /= 2;
	if (tl < 0 || rc != 0) {
		c->failed++;
		return;
	}
	if (n < RTE_MIN(n_order, c->top))
		c->shortened++;
	*seq = h.seq;
	if (zmq_send(pub, topic, (size_t)tl, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(pub, c->msg.data, c->msg.len, ZMQ_DONTWAIT) < 0) {
		/* seq still advances: a subscriber sees the gap. */
		c->dropped++;
		return;
	}
	c->sent++;
}

void dp_clients_interval(struct dp_clients *c, struct dp_app *app, uint32_t old,
			 const bool *ready, void *pub, uint64_t *seq, uint64_t t0, uint64_t t1)
{
	uint32_t n_order;

	if (c->merged == NULL)
		return;
	st_ss_clear(c->merged);
	for (unsigned int i = 0; i < app->n_workers; i++) {
		struct st_ss *w;

		if (!ready[i])
			continue;
		w = app->workers[i]->cs[old & 1];
		/* merged holds at most top after each merge, a window at most
		 * top: it always has room */
		if (st_ss_merge(c->merged, w, c->top) != 0)
			c->failed++;
		st_ss_clear(w);
	}
	if (pub == NULL)
		return;
	n_order = st_ss_sorted(c->merged, c->order);
	publish(c, app, app->cfg.service, pub, seq, t0, t1, n_order);
	/* again under every other service name a group reports under, as
	 * production's KPI snapshots are (kpi.c) */
	for (int g = 0; g < app->n_groups; g++) {
		bool seen = strcmp(app->groups[g].service, app->cfg.service) == 0;

		for (int h = 0; h < g && !seen; h++)
			seen = strcmp(app->groups[h].service, app->groups[g].service) == 0;
		if (!seen)
			publish(c, app, app->groups[g].service, pub, seq, t0, t1, n_order);
	}
}
