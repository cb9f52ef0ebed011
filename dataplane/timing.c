/* Timing on the datapath: what opens a request, what answers it, what ends
 * it without an answer. Runs inside the poll loop: no allocation, no lock.
 *
 * UDP: a client datagram opens a request unless one is pending (the oldest
 * unanswered one is kept); the next server datagram on the flow answers it.
 * TCP: a client segment with payload opens one; the server's first segment
 * with payload, or its FIN, answers it; pure ACKs are ignored. SYN ->
 * SYN-ACK is timed apart as connect latency. A server's RST counts as a
 * reset and an ICMP error quoting the flow as an icmp_error; either ends the
 * pending request. */
#include <stddef.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_prefetch.h>

#include "clients.h"
#include "flow_frame.h"
#include "fragtab.h"
#include "timing.h"
#include "worker.h"

static inline bool is_server(const struct dp_app *app, uint8_t l3, const struct st_ip_addr *a,
			     bool has_port, uint16_t port)
{
	for (int i = 0; i < app->n_servers; i++) {
		const struct dp_server_ep *s = &app->servers[i];

		if (s->family == l3 && memcmp(&s->ip, a, l3 == ST_L3_IPV4 ? 4 : 16) == 0 &&
		    (s->port == 0 || (has_port && s->port == port)))
			return true;
	}
	return false;
}

/* What is timed: TCP, UDP and ICMP echo. Neighbour discovery, router
 * solicitations, multicast listener reports and the like are not requests. */
static inline bool timed_proto(const struct st_pkt *p)
{
	if (p->proto == ST_IPPROTO_TCP || p->proto == ST_IPPROTO_UDP)
		return true;
	if (!(p->flags & ST_PKT_F_L4) || (p->flags & ST_PKT_F_ICMP_ERR))
		return false;
	if (p->proto == ST_IPPROTO_ICMP)
		return p->icmp.type == 8 || p->icmp.type == 0;
	if (p->proto == ST_IPPROTO_ICMPV6)
		return p->icmp.type == 128 || p->icmp.type == 129;
	return false;
}

/* A server address, whatever the port: a later fragment has none. */
static inline bool is_server_addr(const struct dp_app *app, uint8_t l3,
				  const struct st_ip_addr *a)
{
	for (int i = 0; i < app->n_servers; i++) {
		const struct dp_server_ep *s = &app->servers[i];

		if (s->family == l3 && memcmp(&s->ip, a, l3 == ST_L3_IPV4 ? 4 : 16) == 0)
			return true;
	}
	return false;
}

/* An IP fragment from a client port (dir C2S, or TAP towards a server):
 * gives it its datagram's flow (key, hash, client) when the fragment table
 * knows it, records it when it is the first fragment, and says what the tee
 * does with it (in->frag). Later fragments are not timed: the first one is
 * the datagram's request. Rare path: one CRC and a probe per fragment. */
static void frag_classify(struct dp_worker *w, struct rte_mbuf *m, struct dp_pktinfo *in,
			  enum dp_dir dir)
{
	const struct st_pkt *p = &in->p;
	const uint8_t *b = rte_pktmbuf_mtod(m, const uint8_t *);
	struct dp_fragtab *t = &w->frags;
	struct dp_frag_key fk;
	struct dp_frag *f;
	uint32_t fh;
	bool added;

	dp_frag_key_set(&fk, p, m->port);
	fh = dp_frag_key_hash(&fk);
	if (p->frag_off == 0) {
		bool ports = (p->proto == ST_IPPROTO_TCP || p->proto == ST_IPPROTO_UDP) &&
			     p->payload_len >= 4 &&
			     p->payload_off + 4u <= rte_pktmbuf_data_len(m);
		uint16_t sport = 0, dport = 0;
		bool swapped;

		if (ports) {
			const uint8_t *l4 = b + p->payload_off;

			sport = (uint16_t)(l4[0] << 8 | l4[1]);
			dport = (uint16_t)(l4[2] << 8 | l4[3]);
		}
		if (dir == DP_DIR_TAP && !is_server(w->app, p->l3, &p->dst, ports, dport))
			return;
		w->cnt.frag_seen++;
		w->cnt.frag_first++;
		st_flow_key_set(&in->key, p->l3, p->proto, in->key.vlan, &p->src, sport, &p->dst,
				dport, &swapped);
		in->hash = st_flow_hash(&in->key);
		in->c2s = 1;
		in->client = (uint8_t)swapped;
		in->timed = timed_proto(p);
		f = dp_fragtab_insert(t, &fk, fh, rte_rdtsc(), &added);
		if (unlikely(f == NULL)) {
			/* Its later fragments will not find the flow: copy
			 * none of the datagram. Timed all the same. */
			w->cnt.frag_table_full++;
			in->frag = DP_FRAG_NOCOPY;
			return;
		}
		/* A duplicate first fragment is the same request again. */
		if (f->flags & DP_FRAG_F_KNOWN)
			in->timed = 0;
		f->flow = in->key;
		f->flow_hash = in->hash;
		f->client = in->client;
		f->flags |= DP_FRAG_F_KNOWN;
		dp_frag_seen(f, 0, p->payload_len, p->frag_more);
		in->frag = DP_FRAG_FIRST;
		in->fragp = f;
		return;
	}
	f = dp_fragtab_lookup(t, &fk, fh);
	if (dir == DP_DIR_TAP && f == NULL && !is_server_addr(w->app, p->l3, &p->dst))
		return;
	w->cnt.frag_seen++;
	in->c2s = 1;
	in->timed = 0;
	if (f == NULL) {
		f = dp_fragtab_insert(t, &fk, fh, rte_rdtsc(), &added);
		if (unlikely(f == NULL)) {
			w->cnt.frag_table_full++;
			in->frag = DP_FRAG_NOCOPY;
			return;
		}
	}
	dp_frag_seen(f, p->frag_off, p->payload_len, p->frag_more);
	in->fragp = f;
	if (f->flags & DP_FRAG_F_KNOWN) {
		in->key = f->flow;
		in->hash = f->flow_hash;
		in->client = f->client;
		in->frag = DP_FRAG_LATER;
	} else {
		in->frag = DP_FRAG_PENDING;
	}
}

int dp_classify_one(struct dp_worker *w, struct rte_mbuf *m, struct dp_pktinfo *in,
		    enum dp_dir dir)
{
	bool swapped, src_is_client;

	in->ok = 0;
	in->parsed = 1;
	in->c2s = 0;
	in->group = -1;
	in->timed = 0;
	in->no_flow = 0;
	in->flow = NULL;
	in->frag = DP_FRAG_NONE;
	if (unlikely(dp_pkt_parse(m, &in->p) < 0)) {
		w->cnt.malformed[in->p.err]++;
		return 0;
	}
	if (unlikely(in->p.l3 == ST_L3_NONE)) {
		w->cnt.not_ip++;
		return 0;
	}
	/* An ICMP error belongs to the flow it quotes. */
	if (unlikely(in->p.flags & ST_PKT_F_ICMP_ERR)) {
		if (st_flow_key_from_icmp_inner(&in->p, &in->key, &swapped) < 0)
			return 0;
		/* The quoted packet went towards the sender of the error:
		 * the error travels like a response. */
		swapped = !swapped;
	} else {
		st_flow_key_from_pkt(&in->p, &in->key, &swapped);
	}
	in->hash = st_flow_hash(&in->key);
	in->ok = 1;
	if (dir == DP_DIR_C2S)
		src_is_client = true;
	else if (dir == DP_DIR_S2C)
		src_is_client = false;
	else
		src_is_client = is_server(w->app, in->p.l3, &in->p.dst,
					  in->p.flags & ST_PKT_F_PORTS, in->p.dport);
	in->c2s = src_is_client;
	in->timed = timed_proto(&in->p);
	/* swapped: the packet's source is addr[1]. */
	in->client = (uint8_t)(src_is_client == swapped);
	if (unlikely(in->p.flags & ST_PKT_F_FRAG) && dir != DP_DIR_S2C && w->frags.e != NULL)
		frag_classify(w, m, in, dir);
	return 1;
}

int dp_classify_finish(struct dp_worker *w, struct rte_mbuf *m, struct dp_pktinfo *in)
{
	in->parsed = 1;
	if (unlikely(dp_pkt_parse(m, &in->p) < 0)) {
		w->cnt.malformed[in->p.err]++;
		in->ok = 0;
	}
	return in->ok;
}

void dp_classify(struct dp_worker *w, struct rte_mbuf **pkts, struct dp_pktinfo *info,
		 uint16_t n, enum dp_dir dir)
{
	for (uint16_t i = 0; i < DP_PREFETCH_AHEAD && i < n; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (uint16_t i = 0; i < n; i++) {
		if (i + DP_PREFETCH_AHEAD < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + DP_PREFETCH_AHEAD], void *));
		dp_classify_one(w, pkts[i], &info[i], dir);
	}
}

/* dp_lazy_fill writes a hashed packet's one-byte fields in one store. */
_Static_assert(offsetof(struct dp_pktinfo, parsed) == offsetof(struct dp_pktinfo, ok) + 1 &&
	       offsetof(struct dp_pktinfo, c2s) == offsetof(struct dp_pktinfo, ok) + 2 &&
	       offsetof(struct dp_pktinfo, timed) == offsetof(struct dp_pktinfo, ok) + 3 &&
	       offsetof(struct dp_pktinfo, client) == offsetof(struct dp_pktinfo, ok) + 4 &&
	       offsetof(struct dp_pktinfo, group) == offsetof(struct dp_pktinfo, ok) + 5 &&
	       offsetof(struct dp_pktinfo, no_flow) == offsetof(struct dp_pktinfo, ok) + 6 &&
	       offsetof(struct dp_pktinfo, frag) == offsetof(struct dp_pktinfo, ok) + 7 &&
	       __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "dp_pktinfo's flag bytes");

void dp_classify_lazy(struct dp_worker *w, struct rte_mbuf **pkts, struct dp_pktinfo *info,
		      uint16_t n, enum dp_dir dir)
{
	const bool c2s = dir == DP_DIR_C2S;
	const bool prefetch_flows = c2s && w->app->timing;

	for (uint16_t i = 0; i < DP_PREFETCH_AHEAD && i < n; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (uint16_t i = 0; i < n; i++) {
		struct dp_pktinfo *in = &info[i];
		struct st_flow_lite f;

		if (i + DP_PREFETCH_AHEAD < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + DP_PREFETCH_AHEAD], void *));
		if (likely(dp_flow_frame(rte_pktmbuf_mtod(pkts[i], const uint8_t *),
					 rte_pktmbuf_data_len(pkts[i]), &in->key, &f) == 0)) {
			dp_lazy_fill(in, &f, c2s);
			/* for dp_timing_requests, later in this burst */
			if (prefetch_flows)
				rte_prefetch0(dp_flowtab_home(&w->flows, f.hash));
			continue;
		}
		dp_classify_one(w, pkts[i], in, dir);
	}
}

static inline struct dp_tstats *tstats(struct dp_worker *w, int target)
{
	return &w->ts[w->epoch & 1][target];
}

/* What a client->server packet starts towards a target. */
enum dp_opens { DP_OPENS_NOTHING, DP_OPENS_REQUEST, DP_OPENS_CONNECT };

static inline enum dp_opens opens(const struct st_pkt *p)
{
	if (p->proto == ST_IPPROTO_TCP && (p->flags & ST_PKT_F_L4)) {
		if ((p->tcp.flags & (ST_TCP_SYN | ST_TCP_ACK)) == ST_TCP_SYN)
			return DP_OPENS_CONNECT;
		if (p->payload_len == 0)
			return DP_OPENS_NOTHING;
	}
	return DP_OPENS_REQUEST;
}

/* Opens what the packet starts towards a target, counting a request in
 * *requests; its tx counts are the caller's. */
static inline void open_pending(struct dp_flowtab *t, struct dp_flow *f, int target,
				enum dp_opens o, uint64_t *requests, uint64_t now)
{
	f->targets |= 1u << target;
	if (o == DP_OPENS_REQUEST) {
		uint64_t *req = dp_flow_req(t, f, target);

		(*requests)++;
		if (*req == 0)
			*req = now;
	} else if (o == DP_OPENS_CONNECT) {
		dp_flow_pend(t, f, target)->syn_tsc = now;
	}
}

/* The flow of a timed client->server packet, added if new, its activity
 * stamped; NULL (counted) when the table is full. */
static inline struct dp_flow *request_flow(struct dp_worker *w, const struct st_flow_key *k,
					   uint32_t hash, uint64_t now)
{
	struct dp_flow *f;
	bool added;

	f = dp_flowtab_insert(&w->flows, k, hash, &added);
	if (unlikely(f == NULL)) {
		w->cnt.flow_table_full++;
		return NULL;
	}
	f->last_tsc = now;
	return f;
}

/* in's flow, looked up once per packet: in->flow, or NULL with in->no_flow
 * set when the table had no room (counted once, whatever the number of
 * copies). */
static inline struct dp_flow *pkt_flow(struct dp_worker *w, struct dp_pktinfo *in, uint64_t now)
{
	if (in->flow == NULL && !in->no_flow) {
		in->flow = request_flow(w, &in->key, in->hash, now);
		in->no_flow = in->flow == NULL;
	}
	return in->flow;
}

void dp_timing_requests(struct dp_worker *w, struct rte_mbuf **pkts, struct dp_pktinfo *info,
			uint16_t n, uint64_t bytes, uint64_t now)
{
	struct dp_tstats *ts = tstats(w, DP_TARGET_PROD);
	uint64_t skip_pkts = 0, skip_bytes = 0, requests = 0;
	const bool clients = w->cs[0] != NULL;
	struct dp_clients_run run = { .n = 0 };

	/* The counts stay in registers: one store per burst, not a chain of
	 * dependent increments in memory. */
	for (uint16_t i = 0; i < n; i++) {
		struct dp_pktinfo *in = &info[i];

		if (unlikely(!in->timed || !in->c2s || pkt_flow(w, in, now) == NULL)) {
			/* A datagram's later fragments go with its request:
			 * counted as sent, they open nothing. */
			if (in->frag != DP_FRAG_NONE && in->c2s && !in->timed)
				continue;
			skip_pkts++;
			skip_bytes += pkts[i]->pkt_len;
			continue;
		}
		if (clients) {
			enum dp_opens o = opens(&in->p);

			/* the expiry scan reads which side is the client */
			in->flow->targets |= in->client ? DP_FLOW_CLIENT1 : 0;
			open_pending(&w->flows, in->flow, DP_TARGET_PROD, o, &requests, now);
			if (o == DP_OPENS_REQUEST)
				dp_clients_request(w, &run, &in->key, in->client, pkts[i]->pkt_len);
			continue;
		}
		open_pending(&w->flows, in->flow, DP_TARGET_PROD, opens(&in->p), &requests, now);
	}
	if (clients)
		dp_clients_flush(w, &run);
	ts->tx_pkts += n - skip_pkts;
	ts->tx_bytes += bytes - skip_bytes;
	ts->requests += requests;
}

void dp_timing_tap(struct dp_worker *w, struct rte_mbuf **pkts, struct dp_pktinfo *info,
		   uint16_t n, uint64_t now)
{
	/* in order, a run of one direction at a time: a response in the
	 * same burst as its request must find it open */
	for (uint16_t i = 0, j; i < n; i = j) {
		for (j = (uint16_t)(i + 1); j < n && info[j].c2s == info[i].c2s; j++)
			;
		if (info[i].c2s) {
			uint64_t bytes = 0;

			for (uint16_t k = i; k < j; k++)
				bytes += pkts[k]->pkt_len;
			dp_timing_requests(w, pkts + i, info + i, (uint16_t)(j - i), bytes, now);
		} else {
			dp_timing_s2c(w, pkts + i, info + i, (uint16_t)(j - i), DP_TARGET_PROD, 0,
				      now);
		}
	}
}

void dp_timing_copy(struct dp_worker *w, struct dp_pktinfo *in, int target, uint32_t bytes,
		    uint64_t now)
{
	struct dp_tstats *ts;

	if (unlikely(in->frag != DP_FRAG_NONE && !in->timed)) {
		/* a later fragment: part of its datagram's request */
		ts = tstats(w, target);
		ts->tx_pkts++;
		ts->tx_bytes += bytes;
		return;
	}
	if (in->flow == NULL && (!in->c2s || !in->timed || pkt_flow(w, in, now) == NULL))
		return;
	ts = tstats(w, target);
	ts->tx_pkts++;
	ts->tx_bytes += bytes;
	open_pending(&w->flows, in->flow, target, opens(&in->p), &ts->requests, now);
}

void dp_timing_open_data(struct dp_worker *w, const struct st_flow_key *k, uint32_t hash,
			 int target, uint32_t bytes, uint64_t now)
{
	struct dp_tstats *ts;
	struct dp_flow *f;

	if (!w->app->timing)
		return;
	f = request_flow(w, k, hash, now);
	if (f == NULL)
		return;
	ts = tstats(w, target);
	ts->tx_pkts++;
	ts->tx_bytes += bytes;
	open_pending(&w->flows, f, target, DP_OPENS_REQUEST, &ts->requests, now);
}

/* Records now - then in h; returns it in ns. */
static inline uint64_t record(struct st_hist *h, uint64_t now, uint64_t then,
			      uint64_t ns_per_cyc_q32)
{
	/* cycles -> ns with a 32.32 fixed-point factor: no division per packet */
	uint64_t cyc = now - then;
	uint64_t ns = (uint64_t)(((unsigned __int128)cyc * ns_per_cyc_q32) >> 32);

	st_hist_record(h, (int64_t)ns);
	return ns;
}

/* client: f->key.addr index of the flow's client (per-client accounting of
 * production's answers and resets). */
static inline void answer(struct dp_worker *w, struct dp_flow *f, int target,
			  const struct st_pkt *p, unsigned int client, uint32_t bytes,
			  uint64_t now)
{
	struct dp_tstats *ts = tstats(w, target);
	uint64_t *req = dp_flow_req(&w->flows, f, target);
	bool closes = true;

	ts->rx_pkts++;
	ts->rx_bytes += bytes;
	if (unlikely(p->flags & ST_PKT_F_ICMP_ERR)) {
		ts->icmp_errors++;
		*req = 0;
		dp_flow_pend(&w->flows, f, target)->syn_tsc = 0;
		return;
	}
	if (p->proto == ST_IPPROTO_TCP && (p->flags & ST_PKT_F_L4)) {
		uint8_t fl = p->tcp.flags;

		if (fl & ST_TCP_RST) {
			ts->resets++;
			if (target == DP_TARGET_PROD && w->cs[0] != NULL)
				dp_clients_reset(w, &f->key, client);
			*req = 0;
			dp_flow_pend(&w->flows, f, target)->syn_tsc = 0;
			return;
		}
		if ((fl & (ST_TCP_SYN | ST_TCP_ACK)) == (ST_TCP_SYN | ST_TCP_ACK)) {
			uint64_t *syn = &dp_flow_pend(&w->flows, f, target)->syn_tsc;

			/* an answer read before the SYN was sent (on another
			 * core: a hand-over, handover.c) is not its answer */
			if (*syn != 0 && now >= *syn) {
				record(ts->conn, now, *syn, w->app->ns_per_cyc_q32);
				ts->connects++;
				*syn = 0;
			}
			return;
		}
		closes = p->payload_len > 0 || (fl & ST_TCP_FIN);
	}
	if (closes && *req != 0 && now >= *req) {
		uint64_t ns = record(ts->lat, now, *req, w->app->ns_per_cyc_q32);

		if (target == DP_TARGET_PROD && w->cs[0] != NULL)
			dp_clients_response(w, &f->key, client, ns, bytes);
		ts->responses++;
		*req = 0;
	}
}

void dp_timing_s2c(struct dp_worker *w, struct rte_mbuf **pkts,
		   const struct dp_pktinfo *info, uint16_t n, int target,
		   uint32_t port_groups, uint64_t now)
{
	for (uint16_t i = 0; i < n; i++) {
		const struct dp_pktinfo *in = &info[i];
		struct dp_flow *f;
		int t = target;

		if (!in->ok || in->c2s || (!in->timed && !(in->p.flags & ST_PKT_F_ICMP_ERR)))
			continue;
		f = dp_flowtab_lookup(&w->flows, &in->key, in->hash);
		if (f == NULL)
			continue;
		f->last_tsc = now;
		if (t < 0) {
			/* A shadow port: injected traffic is timed as synthetic,
			 * else the group of this port the flow was copied to. */
			uint32_t mir = (f->targets >> 1) & port_groups;
			uint32_t inj = (f->targets >> (1 + DP_MAX_SHADOWS)) & port_groups;
			uint32_t cand = inj ? inj : mir;
			int g;

			if (cand == 0)
				continue;
			if (in->group >= 0 && (cand & (1u << in->group)))
				g = in->group; /* the instance tells */
			else
				g = __builtin_ctz(cand);
			t = inj ? DP_TARGET_INJ(g) : DP_TARGET_GROUP(g);
		}
		answer(w, f, t, &in->p, in->client, pkts[i]->pkt_len, now);
		if (t != DP_TARGET_PROD) {
			struct dp_group_counters *gc = DP_TARGET_IS_INJ(t) ?
				&w->cnt.inject[t - 1 - DP_MAX_SHADOWS] : &w->cnt.group[t - 1];

			gc->rx_pkts++;
			gc->rx_bytes += pkts[i]->pkt_len;
		}
	}
}

void dp_timing_scan(struct dp_worker *w, uint64_t now, uint32_t budget)
{
	struct dp_flowtab *t = &w->flows;
	const uint64_t tmo = w->app->timeout_cyc, idle = w->app->idle_cyc;

	while (budget-- > 0) {
		struct dp_flow *f = &t->e[t->scan];

		if (dp_flow_used(f)) {
			for (uint32_t m = f->targets & ~DP_FLOW_CLIENT1; m != 0; m &= m - 1) {
				int tg = __builtin_ctz(m);
				uint64_t *req = dp_flow_req(t, f, tg);
				struct dp_pend *pd = dp_flow_pend(t, f, tg);
				bool req_open = *req != 0;

				if (*req != 0 && now - *req > tmo) {
					tstats(w, tg)->timeouts++;
					if (tg == DP_TARGET_PROD && w->cs[0] != NULL)
						dp_clients_timeout(w, f, false);
					*req = 0;
				}
				/* An unanswered SYN is a timeout of its own only for
				 * a connection that sent no request since: one
				 * that did times out with that request (both
				 * counted, a blackholed instance's one-request
				 * connections read an error rate of 200%), and one
				 * that sent none counts as a request too, so the
				 * error rate stays a share of requests. */
				if (pd->syn_tsc != 0 && now - pd->syn_tsc > tmo) {
					if (!req_open) {
						tstats(w, tg)->requests++;
						tstats(w, tg)->timeouts++;
						if (tg == DP_TARGET_PROD && w->cs[0] != NULL)
							dp_clients_timeout(w, f, true);
					}
					pd->syn_tsc = 0;
				}
			}
			if (now - f->last_tsc > idle) {
				dp_flowtab_remove(t, f);
				w->cnt.flows_expired++;
				/* An entry may have moved into this slot: look again. */
				continue;
			}
		}
		t->scan = (t->scan + 1) & t->mask;
	}
}

void dp_timing_epoch(struct dp_worker *w)
{
	uint32_t e = __atomic_load_n(&w->app->epoch, __ATOMIC_ACQUIRE);

	if (unlikely(e != w->epoch)) {
		w->epoch = e;
		__atomic_store_n(&w->epoch_seen, e, __ATOMIC_RELEASE);
	}
}
