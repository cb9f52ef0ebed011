/* Answers from a group's instances handed between workers (worker.h,
 * dp_handover_mark): each goes round the workers until one knows its
 * flow, at most n_workers - 1 hops; the last takes it as one worker
 * would. Only frames from an instance's address whose flow the worker
 * neither times nor shadows a TCP session of make the trip. */
#include <rte_mbuf_dyn.h>
#include <rte_ring.h>

#include "worker.h"

int dp_handover_register(void)
{
	static const struct rte_mbuf_dynfield desc = {
		.name = "shadowtap_dp_handover",
		.size = sizeof(struct dp_handover_mark),
		.align = __alignof__(struct dp_handover_mark),
	};

	return rte_mbuf_dynfield_register(&desc);
}

static inline struct dp_handover_mark *mark_of(const struct dp_worker *w, struct rte_mbuf *m)
{
	return RTE_MBUF_DYNFIELD(m, w->app->handover_off, struct dp_handover_mark *);
}

uint16_t dp_map_back_burst(struct dp_worker *w, int port_idx, struct rte_mbuf **pkts,
			   struct dp_pktinfo *info, uint16_t n, uint64_t now, bool impair,
			   uint8_t hops)
{
	const struct dp_app *app = w->app;
	const bool may = app->handover[0] != NULL && hops < app->n_workers - 1;
	struct rte_mbuf *out[DP_BURST];
	bool gone[DP_BURST];
	uint16_t idx[DP_BURST], no = 0, kept = 0;
	unsigned int sent;

	for (uint16_t i = 0; i < n; i++) {
		gone[i] = false;
		if (dp_map_back(w, port_idx, &info[i], may))
			idx[no++] = i;
	}
	if (no == 0)
		return n;
	for (uint16_t j = 0; j < no; j++) {
		struct dp_handover_mark *mk = mark_of(w, pkts[idx[j]]);

		mk->stamp = now;
		mk->hops = (uint8_t)(hops + 1);
		mk->port_idx = (uint8_t)port_idx;
		mk->impaired = !impair;
		out[j] = pkts[idx[j]];
	}
	sent = rte_ring_sp_enqueue_burst(app->handover[(w->queue + 1) % app->n_workers],
					 (void **)out, no, NULL);
	w->cnt.handed_over += sent;
	for (uint16_t j = 0; j < no; j++) {
		if (j < sent)
			gone[idx[j]] = true;
		else
			(void)dp_map_back(w, port_idx, &info[idx[j]], false);
	}
	w->cnt.handover_full += no - sent;
	for (uint16_t i = 0; i < n; i++) {
		if (gone[i])
			continue;
		if (kept != i) {
			pkts[kept] = pkts[i];
			info[kept] = info[i];
		}
		kept++;
	}
	return kept;
}

/* One burst of the ring. */
static uint16_t poll_burst(struct dp_worker *w, struct rte_mbuf **pkts, struct dp_pktinfo *info)
{
	uint16_t n, i = 0;

	n = (uint16_t)rte_ring_sc_dequeue_burst(w->app->handover[w->queue], (void **)pkts,
						DP_BURST, NULL);
	/* In runs of one port, stamp, hop count and chaos state: a worker's
	 * hand-over of one burst is one run. */
	while (i < n) {
		const struct dp_handover_mark a = *mark_of(w, pkts[i]);
		uint16_t j = (uint16_t)(i + 1);

		while (j < n) {
			const struct dp_handover_mark *b = mark_of(w, pkts[j]);

			if (b->stamp != a.stamp || b->hops != a.hops ||
			    b->port_idx != a.port_idx || b->impaired != a.impaired)
				break;
			j++;
		}
		dp_shadow_input(w, a.port_idx, pkts + i, info, (uint16_t)(j - i), a.stamp,
				!a.impaired, a.hops);
		i = j;
	}
	return n;
}

uint16_t dp_handover_poll(struct dp_worker *w, struct rte_mbuf **pkts, struct dp_pktinfo *info)
{
	uint16_t n, total = 0;

	/* A few bursts a round: the worker before may hand over more than one
	 * a round (a burst from each shadow port, and what it passes on). */
	for (int k = 0; k < 4 && (n = poll_burst(w, pkts, info)) > 0; k++)
		total = (uint16_t)(total + n);
	return total;
}
