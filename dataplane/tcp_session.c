/* TCP session shadowing on the datapath (see tcp_session.h). Sequence
 * numbers compare modulo 2^32. */
#include <errno.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>

#include "csum.h"
#include "tcp_session.h"
#include "timing.h"
#include "worker.h"

#define TCPOPT_NOP 1
#define TCPOPT_TS 8
/* A session whose both sides said FIN, with nothing left to deliver, is
 * forgotten this long after its last segment; any other after the flow
 * idle timeout. */
#define FIN_LINGER_MS 2000
/* Retransmission timeout for copies the shadow has not acknowledged: the
 * shadow is on the local segment, so Linux's minimum RTO is plenty. */
#define RTO_MS 200
/* Timeouts in a row without the shadow's ACK moving (0.2 s doubling to
 * 6.4 s: about 50 s) before the session is given up. A shadow that answers
 * every retransmission with the same ACK (a segment it never got: a copy
 * dropped on the way) would otherwise keep the session, and its queue,
 * from the idle timeout for ever. Linux gives up after 15 (tcp_retries2). */
#define TCP_GIVE_UP 12
/* Window probes a shut window may answer before its timeouts count
 * towards the give-up again: some 3 minutes at 6.4 s (a shadow stuck
 * with its kernel still answering held its queue for ever) */
#define TCP_ZW_ANSWERS 30

static inline bool seq_after(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

static inline bool seq_before(uint32_t a, uint32_t b)
{
	return seq_after(b, a);
}

/* The sequence number after a segment: its data, and its FIN. */
static inline uint32_t seg_end(const struct st_pkt *p)
{
	return p->tcp.seq + p->payload_len + ((p->tcp.flags & ST_TCP_FIN) ? 1 : 0);
}

static inline uint32_t sess_hash(uint32_t flow_hash, int g)
{
	return flow_hash ^ ((uint32_t)(g + 1) * 0x9e3779b1u);
}

int dp_tcp_mark_register(void)
{
	static const struct rte_mbuf_dynfield desc = {
		.name = "shadowtap_dp_tcp_mark",
		.size = sizeof(struct dp_tcp_mark),
		.align = __alignof__(struct dp_tcp_mark),
	};

	return rte_mbuf_dynfield_register(&desc);
}

static inline struct dp_tcp_mark *tcp_mark(const struct dp_worker *w, struct rte_mbuf *m)
{
	return RTE_MBUF_DYNFIELD(m, w->app->tcp_mark_off, struct dp_tcp_mark *);
}

int dp_tcp_init(struct dp_tcp_table *t, uint32_t max_sessions, uint32_t max_segments,
		int socket)
{
	uint32_t slots = rte_align32pow2(max_sessions * 2);

	memset(t, 0, sizeof(*t));
	t->e = rte_zmalloc_socket("st_tcp", sizeof(*t->e) * slots, RTE_CACHE_LINE_SIZE, socket);
	t->seg = rte_zmalloc_socket("st_tcpseg", sizeof(*t->seg) * (max_segments + 1),
				    RTE_CACHE_LINE_SIZE, socket);
	if (t->e == NULL || t->seg == NULL) {
		rte_free(t->e);
		rte_free(t->seg);
		t->e = NULL;
		t->seg = NULL;
		return -ENOMEM;
	}
	t->mask = slots - 1;
	t->max = max_sessions;
	/* Free list through `next`, all of them. */
	for (uint32_t i = 0; i < max_segments; i++)
		t->seg[i].next = i + 1 < max_segments ? i + 1 : DP_TCP_NONE;
	t->seg_free = max_segments ? 0 : DP_TCP_NONE;
	return 0;
}

static void q_free_all(struct dp_tcp_table *t, struct dp_tcp_sess *s)
{
	uint32_t i = s->q_head;

	while (i != DP_TCP_NONE) {
		uint32_t next = t->seg[i].next;

		rte_pktmbuf_free(t->seg[i].m);
		t->seg[i].m = NULL;
		t->seg[i].next = t->seg_free;
		t->seg_free = i;
		t->seg_used--;
		i = next;
	}
	s->q_head = s->q_tail = s->q_unsent = DP_TCP_NONE;
	s->q_len = 0;
	s->q_gap = 0;
}

void dp_tcp_fini(struct dp_tcp_table *t)
{
	if (t->e == NULL)
		return;
	for (uint32_t i = 0; i <= t->mask; i++)
		if (t->e[i].state != DP_TCP_FREE)
			q_free_all(t, &t->e[i]);
	rte_free(t->e);
	rte_free(t->seg);
	t->e = NULL;
	t->seg = NULL;
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
	t->e[i].q_head = t->e[i].q_tail = t->e[i].q_unsent = DP_TCP_NONE;
	t->n++;
	return &t->e[i];
}

/* The counters of the session's copies: injected ones count apart. */
static struct dp_group_counters *sess_gc(struct dp_worker *w, const struct dp_tcp_sess *s)
{
	return s->synthetic ? &w->cnt.inject[s->group] : &w->cnt.group[s->group];
}

/* Frees the session's queue; its segments never sent (never counted
 * among the copies: pump counts a segment when it first leaves) are lost
 * copies, tcp_unsent. */
static void q_drop_all(struct dp_worker *w, struct dp_tcp_sess *s)
{
	struct dp_group_counters *gc = sess_gc(w, s);
	bool past = false;

	for (uint32_t i = s->q_head; i != DP_TCP_NONE; i = w->tcp.seg[i].next) {
		past |= i == s->q_unsent;
		gc->drops[DP_DROP_TCP_UNSENT] += past || w->tcp.seg[i].unsent;
	}
	q_free_all(&w->tcp, s);
}

void dp_tcp_first_refused(struct dp_worker *w, struct rte_mbuf *m)
{
	const struct dp_tcp_mark *k = tcp_mark(w, m);
	struct dp_group_counters *gc;
	struct dp_tcp_seg *g;

	if (k->first == 0)
		return;
	g = &w->tcp.seg[k->first - 1];
	/* Still queued (this transmission holds a reference to the queue's
	 * copy, so no other segment can hold that mbuf)? Gone, it was
	 * acknowledged after a resend (a first send chaos held back) or its
	 * session ended: the count stays. Resent since (a first send chaos
	 * held back past a timeout): the resend counts in its place. */
	if (g->m != rte_mbuf_from_indirect(m) || g->resent)
		return;
	gc = k->synthetic ? &w->cnt.inject[k->group] : &w->cnt.group[k->group];
	gc->copies--;
	gc->copy_bytes -= m->pkt_len;
	g->unsent = 1;
}

/* Backward-shift deletion, as in the flow table. */
static void sess_remove(struct dp_worker *w, struct dp_tcp_sess *s)
{
	struct dp_tcp_table *t = &w->tcp;
	uint32_t hole = (uint32_t)(s - t->e), i = hole;

	q_drop_all(w, s);
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
				  uint32_t hash, const struct st_pkt *p, bool synthetic,
				  uint64_t now, int *reason, struct dp_tcp_sess **sess)
{
	struct dp_tcp_table *t = &w->tcp;
	uint32_t h = sess_hash(hash, g);
	uint8_t fl = p->tcp.flags;
	struct dp_tcp_sess *s;
	uint32_t end;

	if ((fl & (ST_TCP_SYN | ST_TCP_ACK)) == ST_TCP_SYN) {
		s = lookup(t, k, h, g);
		if (s != NULL && s->c_isn == p->tcp.seq) {
			/* The client's SYN again (production was slow to
			 * answer): our copy is resent on our own timer, and
			 * starting over would strand a shadow that already
			 * answered the first one. */
			s->last_tsc = now;
			w->cnt.tcp_syn_again++;
			*reason = -1;
			return DP_TCP_SKIP;
		}
		s = insert(t, k, h, g);
		if (unlikely(s == NULL)) {
			*reason = DP_DROP_TCP_TABLE_FULL;
			return DP_TCP_SKIP;
		}
		/* A new session, or the client trying again: start over. */
		q_drop_all(w, s);
		s->fhash = hash;
		s->state = DP_TCP_SYN_SENT;
		s->c_isn = p->tcp.seq;
		s->c_nxt = p->tcp.seq + 1;
		s->s_ack = p->tcp.seq;
		s->ts_ok = (p->tcp.opts & ST_TCPOPT_F_TS) != 0;
		s->wscale_ok = (p->tcp.opts & ST_TCPOPT_F_WSCALE) != 0;
		s->c_tsval = p->tcp.tsval;
		s->c_win = p->tcp.win;
		s->fin_c = s->fin_s = 0;
		s->again = 0;
		s->dupacks = 0;
		s->backoff = 0;
		s->synthetic = synthetic;
		s->last_tsc = now;
		*sess = s;
		return DP_TCP_QUEUE_SYN;
	}
	s = lookup(t, k, h, g);
	if (s == NULL) {
		*reason = DP_DROP_TCP_MIDSTREAM;
		return DP_TCP_SKIP;
	}
	s->last_tsc = now;
	end = seg_end(p);
	s->again = seq_before(p->tcp.seq, s->c_nxt);
	if (seq_after(end, s->c_nxt))
		s->c_nxt = end;
	if (p->tcp.opts & ST_TCPOPT_F_TS)
		s->c_tsval = p->tcp.tsval;
	s->c_win = p->tcp.win;
	*sess = s;
	if (fl & ST_TCP_RST)
		return DP_TCP_SEND_RST;
	if (fl & ST_TCP_FIN)
		s->fin_c = 1;
	/* A pure ACK acknowledges production's bytes: the shadow's are
	 * acknowledged by us, and after a close it would only draw a RST. */
	if (p->payload_len == 0 && !(fl & ST_TCP_FIN)) {
		w->cnt.tcp_acks_elided++;
		*reason = -1;
		return DP_TCP_SKIP;
	}
	return DP_TCP_QUEUE;
}

/* Group g's session of this flow, or NULL (also with sessions off). */
static struct dp_tcp_sess *flow_sess(struct dp_worker *w, const struct st_flow_key *k,
				     uint32_t flow_hash, int g)
{
	return w->tcp.e != NULL ? lookup(&w->tcp, k, sess_hash(flow_hash, g), g) : NULL;
}

bool dp_tcp_known(struct dp_worker *w, const struct st_flow_key *k, uint32_t flow_hash, int g)
{
	return flow_sess(w, k, flow_hash, g) != NULL;
}

void dp_tcp_forget_flow(struct dp_worker *w, const struct st_flow_key *k, uint32_t flow_hash,
			int g)
{
	struct dp_tcp_sess *s = flow_sess(w, k, flow_hash, g);

	if (s != NULL)
		sess_remove(w, s);
}

void dp_tcp_forget(struct dp_worker *w, struct dp_tcp_sess *s)
{
	sess_remove(w, s);
}

bool dp_tcp_template(struct dp_tcp_sess *s, const struct rte_mbuf *c, const struct st_pkt *p)
{
	uint16_t len = (uint16_t)(p->l4_off + 4); /* headers up to the TCP ports */

	if (len > DP_TCP_TEMPLATE || len > rte_pktmbuf_data_len(c)) {
		s->hdr_len = 0;
		return false;
	}
	memcpy(s->hdr, rte_pktmbuf_mtod(c, const uint8_t *), len);
	s->hdr_len = len;
	s->l3_off = p->l3_off;
	return true;
}

/* Acknowledgement, timestamp echo and SACK of a queued client segment,
 * moved into the shadow's sequence space. Run before every send: the
 * incremental checksum updates start from whatever the fields hold. */
static void rewrite_seg(const struct dp_tcp_sess *s, struct dp_tcp_seg *g)
{
	uint8_t *buf = rte_pktmbuf_mtod(g->m, uint8_t *);
	uint8_t *tcp = buf + g->l4_off;
	uint16_t csum;

	if (g->syn)
		return; /* the client's SYN goes as it came */

	memcpy(&csum, tcp + 16, 2);
	if (g->ack) {
		uint32_t old, nw = rte_cpu_to_be_32(s->s_nxt);

		memcpy(&old, tcp + 8, 4);
		csum = st_csum_update32(csum, old, nw);
		memcpy(tcp + 8, &nw, 4);
	}
	if (g->ts_off && s->ts_ok) {
		uint8_t *ecr = buf + g->ts_off + 6;
		uint32_t nw = rte_cpu_to_be_32(s->s_tsval);
		uint8_t old[4];

		memcpy(old, ecr, 4);
		csum = st_csum_update_at(csum, (uint32_t)(g->ts_off + 6), old, &nw, 4);
		memcpy(ecr, &nw, 4);
	}
	if (g->sack_off) {
		/* SACK blocks name production's bytes: NOP the option out,
		 * keeping the header's length. */
		uint8_t *o = buf + g->sack_off, old[2 + 8 * ST_PKT_MAX_SACK];
		size_t len = 2 + 8 * (size_t)g->sack_count;

		memcpy(old, o, len);
		memset(o, TCPOPT_NOP, len);
		csum = st_csum_update_at(csum, g->sack_off, old, o, len);
		g->sack_off = 0;
	}
	memcpy(tcp + 16, &csum, 2);
}

/* One transmission of a queued segment: rewritten, then sent as an
 * indirect mbuf, so the queue keeps its copy until the shadow acknowledges
 * it. (A retransmission rewrites the header again; by then the previous
 * transmission has long left the port.) */
static struct rte_mbuf *send_seg(struct dp_worker *w, struct dp_tcp_sess *s,
				 struct dp_tcp_seg *g, uint64_t now)
{
	struct rte_mbuf *c;

	rewrite_seg(s, g);
	c = rte_pktmbuf_clone(g->m, w->app->copy_pool);
	if (unlikely(c == NULL)) {
		/* put off, not lost: the segment stays queued */
		w->cnt.tcp_send_nombuf++;
		return NULL;
	}
	/* a resend (the clone took its queue copy's field) */
	tcp_mark(w, c)->first = 0;
	g->sent_tsc = now;
	return c;
}

/* c, the first transmission of g: a copy of the group's (counted, and
 * marked so that a TX queue refusing it takes it back out: dp_tcp_put_off)
 * and, for data, its request opened towards the group (once, however often
 * a TX queue refuses it). Returns c. */
static struct rte_mbuf *first_send(struct dp_worker *w, struct dp_tcp_sess *s,
				   struct dp_tcp_seg *g, struct rte_mbuf *c, uint64_t now)
{
	struct dp_group_counters *gc = sess_gc(w, s);
	struct dp_tcp_mark *k = tcp_mark(w, c);

	if (g->has_data && !g->opened)
		dp_timing_open_data(w, &s->key, s->fhash, s->synthetic ? DP_TARGET_INJ(s->group) :
				    DP_TARGET_GROUP(s->group), c->pkt_len, now);
	g->opened = 1;
	g->resent = 0;
	k->first = (uint32_t)(g - w->tcp.seg) + 1;
	k->group = s->group;
	k->synthetic = s->synthetic;
	gc->copies++;
	gc->copy_bytes += c->pkt_len;
	return c;
}

/* The first send of s's oldest never-sent segment (q_unsent), which
 * moves past it; NULL when no mbuf was had (it stays, put off). */
static struct rte_mbuf *send_unsent(struct dp_worker *w, struct dp_tcp_sess *s, uint64_t now)
{
	struct dp_tcp_seg *g = &w->tcp.seg[s->q_unsent];
	struct rte_mbuf *c = send_seg(w, s, g, now);

	if (c == NULL)
		return NULL;
	s->q_unsent = g->next;
	return first_send(w, s, g, c, now);
}

/* Sends never-sent segments while the shadow's window allows; before the
 * SYN-ACK, only the SYN. */
static uint16_t pump(struct dp_worker *w, struct dp_tcp_sess *s, uint64_t now,
		     struct rte_mbuf **out, uint16_t max)
{
	struct dp_tcp_table *t = &w->tcp;
	uint16_t n = 0;

	while (s->q_unsent != DP_TCP_NONE && n < max) {
		const struct dp_tcp_seg *g = &t->seg[s->q_unsent];

		if (s->state != DP_TCP_ESTABLISHED && !g->syn)
			break;
		if (!g->syn && seq_after(g->end, s->s_ack + s->s_wnd))
			break;
		if ((out[n] = send_unsent(w, s, now)) == NULL)
			break;
		n++;
	}
	return n;
}

uint16_t dp_tcp_refuse(struct dp_worker *w, struct dp_tcp_sess *s, struct dp_group_counters *gc,
		       uint64_t now, struct rte_mbuf **out, uint16_t max)
{
	gc->drops[DP_DROP_TCP_QUEUE_FULL]++;
	return pump(w, s, now, out, max);
}

/* A free segment holding c, the copy of the client segment p; room was
 * checked. Returns its index. */
static uint32_t seg_take(struct dp_tcp_table *t, struct rte_mbuf *c, const struct st_pkt *p)
{
	uint32_t idx = t->seg_free;
	struct dp_tcp_seg *g = &t->seg[idx];

	t->seg_free = g->next;
	t->seg_used++;
	g->m = c;
	g->sent_tsc = 0;
	g->seq = p->tcp.seq;
	g->end = seg_end(p);
	g->next = DP_TCP_NONE;
	g->l4_off = p->l4_off;
	g->ts_off = p->tcp.ts_off;
	g->sack_off = p->tcp.sack_off;
	g->sack_count = p->tcp.sack_count;
	g->ack = (p->tcp.flags & ST_TCP_ACK) != 0;
	g->has_data = p->payload_len > 0;
	g->syn = (p->tcp.flags & ST_TCP_SYN) != 0;
	g->unsent = 0;
	g->opened = 0;
	g->resent = 0;
	if (g->syn)
		g->end = p->tcp.seq + 1;
	return idx;
}

bool dp_tcp_held(const struct dp_worker *w, const struct dp_tcp_sess *s, const struct st_pkt *p)
{
	const struct dp_tcp_table *t = &w->tcp;
	uint32_t seq = p->tcp.seq, end = seg_end(p);

	/* acknowledged, or, before the SYN-ACK, from before the SYN (a
	 * delayed segment of an earlier connection on the same ports: none
	 * of this session's). Established, the acknowledgement alone says
	 * it: 2 GiB past the SYN every sequence number is "before" it
	 * modulo 2^32, and a retransmission there was never copied. */
	if (s->state == DP_TCP_ESTABLISHED ? !seq_after(end, s->s_ack) : !seq_after(seq, s->c_isn))
		return true;
	if (s->q_head == DP_TCP_NONE)
		return false;
	/* a queue without a gap holds all it spans: no walk */
	if (!s->q_gap)
		return !seq_before(seq, t->seg[s->q_head].seq) && !seq_after(end, t->seg[s->q_tail].end);
	for (uint32_t cur = s->q_head; cur != DP_TCP_NONE && !seq_after(t->seg[cur].seq, seq);
	     cur = t->seg[cur].next)
		if (!seq_after(end, t->seg[cur].end))
			return true;	/* starts at or after it, ends within it */
	return false;
}

uint16_t dp_tcp_skip(struct dp_worker *w, struct dp_tcp_sess *s, uint64_t now,
		     struct rte_mbuf **out, uint16_t max)
{
	w->cnt.tcp_seg_again++;
	return pump(w, s, now, out, max);
}

/* A client segment that starts before the client's highest byte seen (the
 * client sent it again, or it came out of order). Not held (the caller
 * checked dp_tcp_held before copying it), it goes into the queue
 * in sequence order, not at its tail: the client's retransmission of a
 * segment the dataplane never saw (lost before it, so production got only
 * the retransmission) would wait there behind segments beyond the
 * shadow's window, which waits for it: the session stalled. Landing among
 * segments already sent, it is sent now (and resent on a timeout as they
 * are); among those not sent yet, it goes with them. */
static uint16_t enqueue_again(struct dp_worker *w, struct dp_tcp_sess *s, struct rte_mbuf *c,
			      const struct st_pkt *p, uint64_t now, struct rte_mbuf **out,
			      uint16_t max)
{
	struct dp_tcp_table *t = &w->tcp;
	uint32_t seq = p->tcp.seq, prev = DP_TCP_NONE, cur = s->q_head, idx;
	bool past_unsent = false;
	struct rte_mbuf *m;
	uint16_t n = 0;

	for (; cur != DP_TCP_NONE && !seq_after(t->seg[cur].seq, seq); cur = t->seg[cur].next) {
		past_unsent |= cur == s->q_unsent;
		prev = cur;
	}
	idx = seg_take(t, c, p);
	s->q_gap = 1;
	t->seg[idx].next = cur;
	if (prev == DP_TCP_NONE)
		s->q_head = idx;
	else
		t->seg[prev].next = idx;
	if (cur == DP_TCP_NONE)
		s->q_tail = idx;
	s->q_len++;
	if (past_unsent || cur == s->q_unsent || s->state != DP_TCP_ESTABLISHED) {
		/* with the segments not sent yet (the first of them, when
		 * it lands just before them) */
		if (!past_unsent && cur == s->q_unsent)
			s->q_unsent = idx;
		return pump(w, s, now, out, max);
	}
	/* Among the segments sent: now, and on a timeout again if it cannot
	 * go now (the oldest is what a timeout resends). */
	t->seg[idx].sent_tsc = now;
	if (max > 0 && (m = send_seg(w, s, &t->seg[idx], now)) != NULL)
		out[n++] = first_send(w, s, &t->seg[idx], m, now);
	else
		t->seg[idx].unsent = 1;
	return (uint16_t)(n + pump(w, s, now, out + n, (uint16_t)(max - n)));
}

uint16_t dp_tcp_enqueue(struct dp_worker *w, struct dp_tcp_sess *s, struct rte_mbuf *c,
			const struct st_pkt *p, struct dp_group_counters *gc, uint64_t now,
			struct rte_mbuf **out, uint16_t max)
{
	struct dp_tcp_table *t = &w->tcp;
	uint32_t idx;

	if (unlikely(!dp_tcp_has_room(t, s))) {
		rte_pktmbuf_free(c);
		return dp_tcp_refuse(w, s, gc, now, out, max);
	}
	if (unlikely(s->again) && !(p->tcp.flags & ST_TCP_SYN))
		return enqueue_again(w, s, c, p, now, out, max);
	idx = seg_take(t, c, p);
	if (s->q_tail == DP_TCP_NONE) {
		s->q_head = idx;
	} else {
		s->q_gap |= t->seg[s->q_tail].end != t->seg[idx].seq;
		t->seg[s->q_tail].next = idx;
	}
	s->q_tail = idx;
	if (s->q_unsent == DP_TCP_NONE)
		s->q_unsent = idx;
	s->q_len++;
	return pump(w, s, now, out, max);
}

void dp_tcp_rewrite_rst(struct dp_worker *w, struct dp_tcp_sess *s, struct rte_mbuf *c,
			const struct st_pkt *p)
{
	struct dp_tcp_seg g = {
		.m = c, .l4_off = p->l4_off, .ts_off = p->tcp.ts_off,
		.sack_off = p->tcp.sack_off, .sack_count = p->tcp.sack_count,
		.ack = (p->tcp.flags & ST_TCP_ACK) != 0,
	};

	rewrite_seg(s, &g);
	sess_remove(w, s);
}

/* Frees the queued segments the shadow has acknowledged up to ack. */
static void q_ack(struct dp_tcp_table *t, struct dp_tcp_sess *s, uint32_t ack)
{
	while (s->q_head != DP_TCP_NONE) {
		uint32_t i = s->q_head;
		struct dp_tcp_seg *g = &t->seg[i];

		if (seq_after(g->end, ack))
			break;
		if (s->q_unsent == i)
			s->q_unsent = g->next;
		s->q_head = g->next;
		if (s->q_head == DP_TCP_NONE) {
			s->q_tail = DP_TCP_NONE;
			s->q_gap = 0;
		}
		rte_pktmbuf_free(g->m);
		g->m = NULL;
		g->next = t->seg_free;
		t->seg_free = i;
		t->seg_used--;
		s->q_len--;
	}
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

/* The oldest unacknowledged segment, sent again. */
static struct rte_mbuf *retransmit(struct dp_worker *w, struct dp_tcp_sess *s, uint64_t now)
{
	struct dp_tcp_seg *g;
	struct rte_mbuf *c;

	if (s->q_head == DP_TCP_NONE || s->q_head == s->q_unsent)
		return NULL;
	g = &w->tcp.seg[s->q_head];
	c = send_seg(w, s, g, now);
	if (c == NULL)
		return NULL;
	if (unlikely(g->unsent)) {
		g->unsent = 0;
		return first_send(w, s, g, c, now);
	}
	g->resent = 1;
	w->cnt.tcp_retrans++;
	return c;
}

/* dp_tcp_shadow, and the group of the session (*gi) when one was found,
 * and whether the inject port opened it (*inject). */
static uint16_t tcp_shadow(struct dp_worker *w, uint32_t port_groups, const struct st_flow_key *k,
			   uint32_t hash, const struct st_pkt *p, uint64_t now,
			   struct rte_mbuf **out, uint16_t max, int *gi, bool *inject)
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
	*gi = s->group;
	*inject = s->synthetic;
	s->last_tsc = now;
	if (fl & ST_TCP_RST) {
		w->cnt.tcp_shadow_rst++;
		sess_remove(w, s);
		return 0;
	}
	if ((fl & (ST_TCP_SYN | ST_TCP_ACK)) == (ST_TCP_SYN | ST_TCP_ACK)) {
		if (s->state == DP_TCP_SYN_SENT) {
			s->s_nxt = p->tcp.seq + 1;
			s->ts_ok = s->ts_ok && (p->tcp.opts & ST_TCPOPT_F_TS);
			if (p->tcp.opts & ST_TCPOPT_F_TS)
				s->s_tsval = p->tcp.tsval;
			s->wscale_ok = s->wscale_ok && (p->tcp.opts & ST_TCPOPT_F_WSCALE);
			/* RFC 7323 2.3: a shift above 14 is taken as 14 (a
			 * larger one would wrap the 32-bit window, or shift
			 * past its width) */
			s->s_wscale = s->wscale_ok ? RTE_MIN(p->tcp.wscale, 14) : 0;
			s->s_ack = p->tcp.ack;
			s->s_wnd = p->tcp.win; /* never scaled in a SYN-ACK */
			s->state = DP_TCP_ESTABLISHED;
			s->backoff = 0;
			q_ack(&w->tcp, s, s->s_ack); /* the SYN's copy */
		}
		/* The first time, or again if our ACK was lost. */
		if ((out[n] = gen_ack(w, s)) != NULL)
			n++;
		return (uint16_t)(n + pump(w, s, now, out + n, (uint16_t)(max - n)));
	}
	if (s->state != DP_TCP_ESTABLISHED)
		return 0;
	if (fl & ST_TCP_ACK) {
		uint32_t wnd = (uint32_t)p->tcp.win << s->s_wscale;

		if (seq_after(p->tcp.ack, s->s_ack)) {
			bool recovering = s->dupacks >= 3 || s->backoff > 0;

			s->s_ack = p->tcp.ack;
			s->dupacks = 0;
			s->backoff = 0;
			s->zw_answers = 0;
			q_ack(&w->tcp, s, s->s_ack);
			/* A partial ACK in recovery (NewReno): the next hole
			 * is the new oldest segment; resend it now rather
			 * than a timeout later. */
			if (recovering && (out[n] = retransmit(w, s, now)) != NULL)
				n++;
		} else if (p->tcp.ack == s->s_ack && wnd == 0) {
			/* The window shut: an answer to a probe, not a loss.
			 * The shadow lives, slow: probes go on at the longest
			 * interval for a while, not given up (the give-up is
			 * for a shadow that stopped answering), but not for
			 * ever (one whose application hung) */
			if (s->backoff > 5 && s->zw_answers < TCP_ZW_ANSWERS) {
				s->backoff = 5;
				s->zw_answers++;
			}
		} else if (p->tcp.ack == s->s_ack && p->payload_len == 0 && !(fl & ST_TCP_FIN) &&
			   wnd == s->s_wnd && s->q_head != DP_TCP_NONE && s->q_head != s->q_unsent) {
			/* Three duplicates: the shadow is missing our oldest. */
			if (++s->dupacks == 3 && (out[n] = retransmit(w, s, now)) != NULL)
				n++;
		}
		s->s_wnd = wnd;
	}
	end = seg_end(p);
	if (seq_after(end, s->s_nxt))
		s->s_nxt = end;
	if (p->tcp.opts & ST_TCPOPT_F_TS)
		s->s_tsval = p->tcp.tsval;
	if (fl & ST_TCP_FIN)
		s->fin_s = 1;
	if ((p->payload_len > 0 || (fl & ST_TCP_FIN)) && n < max && (out[n] = gen_ack(w, s)) != NULL)
		n++;
	return (uint16_t)(n + pump(w, s, now, out + n, (uint16_t)(max - n)));
}

uint16_t dp_tcp_shadow(struct dp_worker *w, uint32_t port_groups, const struct st_flow_key *k,
		       uint32_t hash, const struct st_pkt *p, uint64_t now,
		       struct rte_mbuf **out, uint16_t max)
{
	int gi = -1;
	bool inject = false;
	uint16_t n = tcp_shadow(w, port_groups, k, hash, p, now, out, max, &gi, &inject);

	/* The group's chaos on the path: it takes them. The setting is read
	 * again here (one load when unchanged): a chaos_off must reach a
	 * session's retransmissions even when no client packet comes. */
	if (n > 0 && gi >= 0)
		dp_chaos_refresh_at(w, gi, now);
	if (n > 0 && gi >= 0 && unlikely(dp_chaos_on(w, gi))) {
		dp_chaos_tx_tcp(w, gi, inject, out, n);
		return 0;
	}
	return n;
}

void dp_tcp_scan(struct dp_worker *w, uint64_t now, uint32_t budget)
{
	struct dp_tcp_table *t = &w->tcp;
	const uint64_t idle = w->app->idle_cyc;
	const uint64_t linger = w->app->tsc_hz / 1000 * FIN_LINGER_MS;
	const uint64_t rto = w->app->tsc_hz / 1000 * RTO_MS;

	while (budget-- > 0) {
		struct dp_tcp_sess *s = &t->e[t->scan];

		if (s->state != DP_TCP_FREE) {
			if (now - s->last_tsc > idle ||
			    (s->fin_c && s->fin_s && s->q_len == 0 && now - s->last_tsc > linger)) {
				sess_remove(w, s);
				continue; /* an entry may have moved into this slot */
			}
			if (s->q_head != DP_TCP_NONE) {
				struct rte_mbuf *out[8];
				uint16_t n = 0, sent;
				const struct dp_tcp_seg *head = &t->seg[s->q_head];

				/* Timeouts back off, doubling up to 6.4 s. */
				if (head->sent_tsc != 0 &&
				    now - head->sent_tsc > rto << RTE_MIN(s->backoff, 5)) {
					if (s->backoff >= TCP_GIVE_UP) {
						w->cnt.tcp_given_up++;
						sess_remove(w, s);
						continue;
					}
					if ((out[n] = retransmit(w, s, now)) != NULL) {
						n++;
						if (s->backoff < 255)
							s->backoff++;
					}
				}
				/* The shadow's window shut with nothing in
				 * flight: no timer runs, and a lost window
				 * update left the session stuck for good (its
				 * client's segments keep it from idling out).
				 * After an RTO the head goes out anyway, a
				 * window probe; from then on its timeouts back
				 * off and give up as any segment's. */
				if (s->state == DP_TCP_ESTABLISHED && head->sent_tsc == 0 &&
				    s->q_head == s->q_unsent && !head->syn &&
				    seq_after(head->end, s->s_ack + s->s_wnd)) {
					if (s->probe_tsc == 0) {
						s->probe_tsc = now;
					} else if (now - s->probe_tsc > rto &&
						   (out[n] = send_unsent(w, s, now)) != NULL) {
						n++;
						s->probe_tsc = 0;
					}
				} else {
					s->probe_tsc = 0;
				}
				n = (uint16_t)(n + pump(w, s, now, out + n, (uint16_t)(RTE_DIM(out) - n)));
				if (n > 0)
					dp_chaos_refresh_at(w, s->group, now);
				if (n > 0 && unlikely(dp_chaos_on(w, s->group))) {
					dp_chaos_tx_tcp(w, s->group, s->synthetic, out, n);
				} else if (n > 0) {
					sent = rte_eth_tx_burst(w->app->groups[s->group].port_id,
								w->queue, out, n);
					if (sent < n) {
						/* put off: the queue keeps them */
						for (uint16_t i = sent; i < n; i++)
							(void)dp_tcp_put_off(w, out[i]);
						rte_pktmbuf_free_bulk(out + sent, n - sent);
					}
				}
			}
		}
		t->scan = (t->scan + 1) & t->mask;
	}
}
