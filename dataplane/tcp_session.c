/* TCP session shadowing on the datapath (see tcp_session.h). Sequence
 * numbers compare modulo 2^32. */
#include <errno.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_malloc.h>

#include "csum.h"
#include "tcp_session.h"
#include "timing.h"
#include "worker.h"

#define TCPOPT_NOP 1
#define TCPOPT_TS 8
/* A session whose both sides said FIN is forgotten this long after its last
 * segment; any other after the flow idle timeout. */
#define FIN_LINGER_NS (2ULL * 1000000000ULL)

static inline bool seq_after(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

static inline uint32_t sess_hash(uint32_t flow_hash, int g)
{
	return flow_hash ^ ((uint32_t)(g + 1) * 0x9e3779b1u);
}

int dp_tcp_init(struct dp_tcp_table *t, uint32_t max_sessions, int socket)
{
	uint32_t slots = rte_align32pow2(max_sessions * 2);

	memset(t, 0, sizeof(*t));
	t->e = rte_zmalloc_socket("st_tcp", sizeof(*t->e) * slots, RTE_CACHE_LINE_SIZE, socket);
	if (t->e == NULL)
		return -ENOMEM;
	t->mask = slots - 1;
	t->max = max_sessions;
	return 0;
}

static void free_held(struct dp_tcp_sess *s)
{
	if (s->n_held)
		rte_pktmbuf_free_bulk(s->held, s->n_held);
	s->n_held = 0;
}

void dp_tcp_fini(struct dp_tcp_table *t)
{
	if (t->e == NULL)
		return;
	for (uint32_t i = 0; i <= t->mask; i++)
		if (t->e[i].state != DP_TCP_FREE)
			free_held(&t->e[i]);
	rte_free(t->e);
	t->e = NULL;
}

static struct dp_tcp_sess *lookup(struct dp_tcp_table *t, const struct st_flow_key *k,
				  uint32_t h, int g)
{
	for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
		struct dp_tcp_sess *s = &t->e[i];

		if (s->state == DP_TCP_FREE)
			return NULL;
		if (s->hash == h && s->group == g && st_flow_key_eq(&s->key, k))
			return s;
	}
}

static struct dp_tcp_sess *insert(struct dp_tcp_table *t, const struct st_flow_key *k,
				  uint32_t h, int g)
{
	uint32_t i;

	for (i = h & t->mask;; i = (i + 1) & t->mask) {
		struct dp_tcp_sess *s = &t->e[i];

		if (s->state == DP_TCP_FREE)
			break;
		if (s->hash == h && s->group == g && st_flow_key_eq(&s->key, k))
			return s;
	}
	if (t->n >= t->max)
		return NULL;
	memset(&t->e[i], 0, offsetof(struct dp_tcp_sess, hdr));
	t->e[i].key = *k;
	t->e[i].hash = h;
	t->e[i].group = (uint8_t)g;
	t->e[i].state = DP_TCP_SYN_SENT;
	t->n++;
	return &t->e[i];
}

/* Backward-shift deletion, as in the flow table. */
static void sess_remove(struct dp_tcp_table *t, struct dp_tcp_sess *s)
{
	uint32_t hole = (uint32_t)(s - t->e), i = hole;

	free_held(s);
	for (;;) {
		uint32_t home;

		i = (i + 1) & t->mask;
		if (t->e[i].state == DP_TCP_FREE)
			break;
		home = t->e[i].hash & t->mask;
		if ((i > hole && (home <= hole || home > i)) ||
		    (i < hole && (home <= hole && home > i))) {
			t->e[hole] = t->e[i];
			hole = i;
		}
	}
	t->e[hole].state = DP_TCP_FREE;
	t->n--;
}

enum dp_tcp_verdict dp_tcp_client(struct dp_worker *w, int g, const struct st_flow_key *k,
				  uint32_t hash, const struct st_pkt *p, uint64_t now,
				  int *reason, struct dp_tcp_sess **sess)
{
	struct dp_tcp_table *t = &w->tcp;
	uint32_t h = sess_hash(hash, g);
	uint8_t fl = p->tcp.flags;
	struct dp_tcp_sess *s;
	uint32_t end;

	if ((fl & (ST_TCP_SYN | ST_TCP_ACK)) == ST_TCP_SYN) {
		s = insert(t, k, h, g);
		if (unlikely(s == NULL)) {
			*reason = DP_DROP_TCP_TABLE_FULL;
			return DP_TCP_SKIP;
		}
		/* A new session, or the client trying again: start over. */
		free_held(s);
		s->state = DP_TCP_SYN_SENT;
		s->c_nxt = p->tcp.seq + 1;
		s->ts_ok = (p->tcp.opts & ST_TCPOPT_F_TS) != 0;
		s->c_tsval = p->tcp.tsval;
		s->c_win = p->tcp.win;
		s->fin_c = s->fin_s = 0;
		s->last_tsc = now;
		*sess = s;
		return DP_TCP_SEND_PLAIN;
	}
	s = lookup(t, k, h, g);
	if (s == NULL) {
		*reason = DP_DROP_TCP_MIDSTREAM;
		return DP_TCP_SKIP;
	}
	s->last_tsc = now;
	end = p->tcp.seq + p->payload_len + ((fl & ST_TCP_FIN) ? 1 : 0);
	if (seq_after(end, s->c_nxt))
		s->c_nxt = end;
	if (p->tcp.opts & ST_TCPOPT_F_TS)
		s->c_tsval = p->tcp.tsval;
	s->c_win = p->tcp.win;
	if (fl & ST_TCP_FIN)
		s->fin_c = 1;
	/* A pure ACK acknowledges production's bytes: the shadow's are
	 * acknowledged by us, and after a close it would only draw a RST. */
	if (p->payload_len == 0 && !(fl & (ST_TCP_FIN | ST_TCP_RST))) {
		w->cnt.tcp_acks_elided++;
		*reason = -1;
		return DP_TCP_SKIP;
	}
	*sess = s;
	return DP_TCP_SEND;
}

void dp_tcp_template(struct dp_tcp_sess *s, const struct rte_mbuf *c, const struct st_pkt *p)
{
	uint16_t len = (uint16_t)(p->l4_off + 4); /* headers up to the TCP ports */

	if (len > DP_TCP_TEMPLATE || len > rte_pktmbuf_data_len(c)) {
		s->hdr_len = 0;
		return;
	}
	memcpy(s->hdr, rte_pktmbuf_mtod(c, const uint8_t *), len);
	s->hdr_len = len;
	s->l3_off = p->l3_off;
}

/* Acknowledgement, timestamp echo and SACK of a client segment, moved into
 * the shadow's sequence space. buf holds the copy's headers as p describes. */
static void rewrite_seg(const struct dp_tcp_sess *s, uint8_t *buf, const struct st_pkt *p)
{
	uint8_t *tcp = buf + p->l4_off;
	uint16_t csum;

	memcpy(&csum, tcp + 16, 2);
	if (p->tcp.flags & ST_TCP_ACK) {
		uint32_t old, nw = rte_cpu_to_be_32(s->s_nxt);

		memcpy(&old, tcp + 8, 4);
		csum = st_csum_update32(csum, old, nw);
		memcpy(tcp + 8, &nw, 4);
	}
	if (p->tcp.ts_off && s->ts_ok) {
		uint8_t *ecr = buf + p->tcp.ts_off + 6;
		uint32_t nw = rte_cpu_to_be_32(s->s_tsval);
		uint8_t old[4];

		memcpy(old, ecr, 4);
		csum = st_csum_update_at(csum, (uint32_t)(p->tcp.ts_off + 6), old, &nw, 4);
		memcpy(ecr, &nw, 4);
	}
	if (p->tcp.sack_off) {
		/* SACK blocks name production's bytes: NOP the option out,
		 * keeping the header's length. */
		uint8_t *o = buf + p->tcp.sack_off, old[2 + 8 * ST_PKT_MAX_SACK];
		size_t len = 2 + 8 * (size_t)p->tcp.sack_count;

		memcpy(old, o, len);
		memset(o, TCPOPT_NOP, len);
		csum = st_csum_update_at(csum, p->tcp.sack_off, old, o, len);
	}
	memcpy(tcp + 16, &csum, 2);
}

bool dp_tcp_rewrite(struct dp_worker *w, struct dp_tcp_sess *s, struct rte_mbuf *c,
		    const struct st_pkt *p, struct dp_group_counters *gc)
{
	if (s->state == DP_TCP_SYN_SENT) {
		if (s->n_held < DP_TCP_HOLD) {
			s->held[s->n_held++] = c;
			w->cnt.tcp_held++;
		} else {
			rte_pktmbuf_free(c);
			gc->drops[DP_DROP_TCP_HOLD_FULL]++;
		}
		return false;
	}
	rewrite_seg(s, rte_pktmbuf_mtod(c, uint8_t *), p);
	if (p->tcp.flags & ST_TCP_RST)
		sess_remove(&w->tcp, s);
	return true;
}

/* Our pure ACK towards the shadow, from the client's address: everything
 * the shadow sent is acknowledged. NULL when no mbuf is left (counted). */
static struct rte_mbuf *gen_ack(struct dp_worker *w, const struct dp_tcp_sess *s)
{
	const uint16_t tcp_len = s->ts_ok ? 32 : 20;
	uint16_t l4_off = (uint16_t)(s->hdr_len - 4);
	struct rte_mbuf *m;
	uint8_t *b, *ip, *tcp;
	uint16_t csum, v16;
	uint32_t v32;

	if (unlikely(s->hdr_len == 0))
		return NULL;
	m = rte_pktmbuf_alloc(w->app->copy_pool);
	if (unlikely(m == NULL)) {
		w->cnt.tcp_ack_nombuf++;
		return NULL;
	}
	b = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(l4_off + tcp_len));
	if (unlikely(b == NULL)) {
		rte_pktmbuf_free(m);
		w->cnt.tcp_ack_nombuf++;
		return NULL;
	}
	memcpy(b, s->hdr, s->hdr_len);
	tcp = b + l4_off;
	memset(tcp + 4, 0, tcp_len - 4);
	v32 = rte_cpu_to_be_32(s->c_nxt);
	memcpy(tcp + 4, &v32, 4);
	v32 = rte_cpu_to_be_32(s->s_nxt);
	memcpy(tcp + 8, &v32, 4);
	tcp[12] = (uint8_t)((tcp_len / 4) << 4);
	tcp[13] = ST_TCP_ACK;
	v16 = rte_cpu_to_be_16(s->c_win);
	memcpy(tcp + 14, &v16, 2);
	if (s->ts_ok) {
		tcp[20] = TCPOPT_NOP;
		tcp[21] = TCPOPT_NOP;
		tcp[22] = TCPOPT_TS;
		tcp[23] = 10;
		v32 = rte_cpu_to_be_32(s->c_tsval);
		memcpy(tcp + 24, &v32, 4);
		v32 = rte_cpu_to_be_32(s->s_tsval);
		memcpy(tcp + 28, &v32, 4);
	}
	/* The L3 header: find it after the L2 header kept in the template. */
	ip = b + s->l3_off;
	if ((ip[0] >> 4) == 4) {
		uint16_t ihl = (uint16_t)((ip[0] & 0xf) * 4);

		v16 = rte_cpu_to_be_16((uint16_t)(ihl + tcp_len));
		memcpy(ip + 2, &v16, 2);
		ip[4] = ip[5] = 0;	/* ID */
		ip[6] = 0x40;		/* DF */
		ip[7] = 0;
		ip[10] = ip[11] = 0;
		csum = st_csum_ipv4_hdr(ip);
		memcpy(ip + 10, &csum, 2);
		csum = st_csum_l4_v4(ip + 12, ip + 16, ST_IPPROTO_TCP, tcp, tcp_len);
	} else {
		v16 = rte_cpu_to_be_16((uint16_t)(l4_off - s->l3_off - 40 + tcp_len));
		memcpy(ip + 4, &v16, 2);
		csum = st_csum_l4_v6(ip + 8, ip + 24, ST_IPPROTO_TCP, tcp, tcp_len);
	}
	memcpy(tcp + 16, &csum, 2);
	w->cnt.tcp_acks++;
	return m;
}

uint16_t dp_tcp_shadow(struct dp_worker *w, uint32_t port_groups, const struct st_flow_key *k,
		       uint32_t hash, const struct st_pkt *p, uint64_t now,
		       struct rte_mbuf **out, uint16_t max)
{
	struct dp_tcp_sess *s = NULL;
	uint8_t fl = p->tcp.flags;
	uint16_t n = 0;
	uint32_t end;

	for (uint32_t m = port_groups; m != 0 && s == NULL; m &= m - 1) {
		int g = __builtin_ctz(m);

		s = lookup(&w->tcp, k, sess_hash(hash, g), g);
	}
	if (s == NULL || max == 0)
		return 0;
	s->last_tsc = now;
	if (fl & ST_TCP_RST) {
		w->cnt.tcp_shadow_rst++;
		sess_remove(&w->tcp, s);
		return 0;
	}
	if ((fl & (ST_TCP_SYN | ST_TCP_ACK)) == (ST_TCP_SYN | ST_TCP_ACK)) {
		if (s->state == DP_TCP_SYN_SENT) {
			s->s_nxt = p->tcp.seq + 1;
			s->ts_ok = s->ts_ok && (p->tcp.opts & ST_TCPOPT_F_TS);
			if (p->tcp.opts & ST_TCPOPT_F_TS)
				s->s_tsval = p->tcp.tsval;
			s->state = DP_TCP_ESTABLISHED;
		}
		/* The first time, or again if our ACK was lost. */
		if ((out[n] = gen_ack(w, s)) != NULL)
			n++;
		/* What the client sent meanwhile can go now. */
		for (uint8_t i = 0; i < s->n_held; i++) {
			struct rte_mbuf *c = s->held[i];
			struct st_pkt hp;

			if (n == max || st_pkt_parse(rte_pktmbuf_mtod(c, uint8_t *),
						     rte_pktmbuf_data_len(c), &hp) < 0 ||
			    hp.proto != ST_IPPROTO_TCP || !(hp.flags & ST_PKT_F_L4)) {
				rte_pktmbuf_free(c);
				continue;
			}
			rewrite_seg(s, rte_pktmbuf_mtod(c, uint8_t *), &hp);
			dp_timing_open(w, k, hash, DP_TARGET_GROUP(s->group), &hp, c->pkt_len, now);
			out[n++] = c;
		}
		s->n_held = 0;
		return n;
	}
	if (s->state != DP_TCP_ESTABLISHED)
		return 0;
	end = p->tcp.seq + p->payload_len + ((fl & ST_TCP_FIN) ? 1 : 0);
	if (seq_after(end, s->s_nxt))
		s->s_nxt = end;
	if (p->tcp.opts & ST_TCPOPT_F_TS)
		s->s_tsval = p->tcp.tsval;
	if (fl & ST_TCP_FIN)
		s->fin_s = 1;
	if ((p->payload_len > 0 || (fl & ST_TCP_FIN)) && (out[n] = gen_ack(w, s)) != NULL)
		n++;
	return n;
}

void dp_tcp_scan(struct dp_worker *w, uint64_t now, uint32_t budget)
{
	struct dp_tcp_table *t = &w->tcp;
	const uint64_t idle = w->app->idle_cyc;
	const uint64_t linger = w->app->tsc_hz * (FIN_LINGER_NS / 1000000000ULL);

	while (budget-- > 0) {
		struct dp_tcp_sess *s = &t->e[t->scan];

		if (s->state != DP_TCP_FREE &&
		    (now - s->last_tsc > idle ||
		     (s->fin_c && s->fin_s && now - s->last_tsc > linger))) {
			sess_remove(t, s);
			continue; /* an entry may have moved into this slot */
		}
		t->scan = (t->scan + 1) & t->mask;
	}
}
