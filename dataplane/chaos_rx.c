/* Chaos on the shadows' responses on their way back to the dataplane
 * (chaos_direction = responses | both): random and bursty loss and delay,
 * applied before the dataplane reads them, as a bad network between the
 * shadows and the dataplane would. A lost answer is a timeout in the
 * group's KPIs (a TCP shadow sends again what its session did not
 * acknowledge); a delayed one lengthens the latency measured, and a TCP
 * session's ACKs and window follow it late. Neighbour traffic and frames
 * other than TCP and UDP pass untouched. A held response is copied into the
 * copies' pool first (the ports' pool is production's, which it must not
 * pin for milliseconds) and waits in the worker's timing wheel beside the
 * delayed copies; due, it is read as if it had just arrived. No allocation
 * but mbufs from the copies' pool, no lock, no system call. */
#include <rte_branch_prediction.h>
#include <rte_mbuf.h>

#include "worker.h"

/* The group a response belongs to: the one whose instance answered, else
 * (a port shared by groups without instances) the port's first. */
static inline int group_of(uint32_t port_groups, const struct dp_pktinfo *in)
{
	if (in->group >= 0 && (port_groups & (1u << in->group)))
		return in->group;
	return __builtin_ctz(port_groups);
}

/* Into the wheel until due, from the copies' pool; false when there was no
 * room (m freed, counted response_queue_full). */
static bool hold(struct dp_worker *w, int gi, int port_idx, struct rte_mbuf *m, uint64_t due,
		 uint64_t now)
{
	struct dp_group_counters *gc = &w->cnt.group[gi];
	struct rte_mbuf *c = NULL;

	if (likely(w->wheel.free_head != DP_WHEEL_NIL))
		c = rte_pktmbuf_copy(m, w->app->copy_pool, 0, UINT32_MAX);
	rte_pktmbuf_free(m);
	if (unlikely(c == NULL)) {
		gc->chaos_fx[DP_FX_RESP_QUEUE_FULL]++;
		return false;
	}
	/* Room was checked above: the worker is the wheel's only user. */
	dp_wheel_add(&w->wheel, c, (uint16_t)(gi | DP_WTAG_RESPONSE |
					      (port_idx << DP_WTAG_PORT_SHIFT)), due, now);
	gc->chaos_fx[DP_FX_RESP_DELAYED]++;
	return true;
}

/* The chaos of group gi on response m: true when it took m (lost into
 * lost[], or held), false when m is to be read now. */
static bool impair(struct dp_worker *w, int gi, int port_idx, struct rte_mbuf *m, uint64_t now,
		   struct rte_mbuf **lost, uint16_t *n_lost)
{
	const struct dp_chaos_fx *fx = &w->fx[gi];
	struct dp_chaos_state *st = &w->cst_back[gi];
	struct dp_group_counters *gc = &w->cnt.group[gi];

	if ((fx->back & DP_FX_LOSS) && dp_rng32(w) < dp_chaos_loss_thr(w->chaos[gi])) {
		gc->chaos_fx[DP_FX_RESP_LOST]++;
		lost[(*n_lost)++] = m;
		return true;
	}
	if ((fx->back & DP_FX_GE) && dp_chaos_ge_lose(fx, st, dp_rng32(w), dp_rng32(w))) {
		gc->chaos_fx[DP_FX_RESP_LOST_BURST]++;
		lost[(*n_lost)++] = m;
		return true;
	}
	if (fx->back & DP_FX_DELAY) {
		/* release no earlier than the group's last held response: the
		 * flows keep their order (dp_chaos_delay) */
		hold(w, gi, port_idx, m, dp_chaos_delay(fx, st, now, dp_rng32(w)), now);
		return true;
	}
	return false;
}

uint16_t dp_chaos_rx(struct dp_worker *w, int port_idx, struct rte_mbuf **pkts,
		     struct dp_pktinfo *info, uint16_t n, uint64_t now)
{
	const uint32_t port_groups = w->app->port_groups[port_idx];
	struct rte_mbuf *lost[DP_BURST];
	uint16_t kept = 0, n_lost = 0;
	int gi;

	for (uint16_t i = 0; i < n; i++) {
		const struct dp_pktinfo *in = &info[i];
		const uint8_t proto = in->p.proto;

		if (in->ok && (in->p.flags & ST_PKT_F_L4) &&
		    (proto == ST_IPPROTO_TCP || proto == ST_IPPROTO_UDP) &&
		    dp_chaos_back_on(w, gi = group_of(port_groups, in)) &&
		    impair(w, gi, port_idx, pkts[i], now, lost, &n_lost))
			continue;
		if (kept != i) {
			pkts[kept] = pkts[i];
			info[kept] = *in;
		}
		kept++;
	}
	if (n_lost > 0)
		rte_pktmbuf_free_bulk(lost, n_lost);
	return kept;
}

void dp_chaos_rx_release(struct dp_worker *w, uint16_t tag, struct rte_mbuf **pkts, uint16_t n,
			 uint64_t now)
{
	struct dp_pktinfo info[DP_BURST];

	for (uint16_t i = 0; i < n; i += DP_BURST)
		dp_shadow_input(w, DP_WTAG_PORT(tag), pkts + i, info,
				(uint16_t)RTE_MIN(n - i, DP_BURST), now, false, DP_HOPS_LAST);
}
