/* Messages in: checks, decoding, publisher tracking. Everything a peer can
 * get wrong is counted under its own name and logged through one rate
 * limit; the engine runs on. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "engine_priv.h"

enum track { TRACK_OK, TRACK_DUP, TRACK_SHARED };

/* Follows each publisher's seq: a jump forward is loss, a step back to a
 * window newer than anything it sent before is a restarted publisher, a
 * step back to a window that ends at one this publisher sent (or before
 * the oldest it keeps) is a duplicate or a replay, and any other step back
 * is a second publisher under the same src: two gateways left on one
 * publisher_id, whose intervals, started when each dataplane started, end
 * at other times (a publisher's windows follow each other, t0 the last
 * t1). Both are dropped; the second is counted apart and warned about. */
struct track_key {
	const char *src;
	uint64_t seq, t0, t1;
};

static void note_end(struct an_pub *p, uint64_t t1)
{
	if (p->n_ends == 0 || p->ends[(p->n_ends - 1) % AN_PUB_ENDS] != t1)
		p->ends[p->n_ends++ % AN_PUB_ENDS] = t1;
}

/* Whether t1 is a window end p sent, or older than every one kept (sent
 * before them, or before p was first heard of). */
static bool sent_end(const struct an_pub *p, uint64_t t1)
{
	uint32_t n = p->n_ends < AN_PUB_ENDS ? p->n_ends : AN_PUB_ENDS;
	uint64_t oldest = UINT64_MAX;

	for (uint32_t i = 0; i < n; i++) {
		if (p->ends[i] == t1)
			return true;
		oldest = p->ends[i] < oldest ? p->ends[i] : oldest;
	}
	return t1 < oldest;
}

/* A publisher silent this long (by its windows' time) is forgotten when
 * the table fills: gateways come and go under new names (a dataplane per
 * pod), and a full table would leave every new one untracked for good. */
#define PUB_FORGET_NS (3600ull * ST_NS_PER_S)

/* Whether p's last window ended PUB_FORGET_NS before t1. */
static bool pub_stale(const struct an_pub *p, uint64_t t1)
{
	return t1 > PUB_FORGET_NS && p->max_t1 < t1 - PUB_FORGET_NS;
}

/* Drops the publishers whose last window ended PUB_FORGET_NS before t1,
 * the table rebuilt without them; the scan only when e->pub_forget_at
 * says one may be (a table full of live publishers costs a compare a
 * message, not a scan). Returns how many. */
static uint32_t forget_pubs(struct an_engine *e, uint64_t t1)
{
	uint32_t mask = e->pub_hcap - 1, n = 0, kept = 0;
	uint64_t oldest = UINT64_MAX;
	struct an_pub *keep;

	if (t1 <= e->pub_forget_at)
		return 0;
	for (uint32_t i = 0; i <= mask; i++) {
		if (!e->pubs[i].used)
			continue;
		if (pub_stale(&e->pubs[i], t1))
			n++;
		else if (e->pubs[i].max_t1 < oldest)
			oldest = e->pubs[i].max_t1;
	}
	e->pub_forget_at = oldest > UINT64_MAX - PUB_FORGET_NS ? UINT64_MAX :
			   oldest + PUB_FORGET_NS;
	if (n == 0 || (keep = malloc((size_t)(e->n_pubs - n) * sizeof(*keep) + 1)) == NULL)
		return 0;
	for (uint32_t i = 0; i <= mask; i++)
		if (e->pubs[i].used && !pub_stale(&e->pubs[i], t1))
			keep[kept++] = e->pubs[i];
	memset(e->pubs, 0, (size_t)e->pub_hcap * sizeof(*e->pubs));
	for (uint32_t j = 0; j < kept; j++) {
		uint32_t i = an_hash_str(keep[j].src) & mask;

		while (e->pubs[i].used)
			i = (i + 1) & mask;
		e->pubs[i] = keep[j];
	}
	e->n_pubs = kept;
	e->cnt.pubs_forgotten += n;
	free(keep);
	return n;
}

static enum track track(struct an_engine *e, const struct track_key *k)
{
	uint32_t mask = e->pub_hcap - 1, i = an_hash_str(k->src) & mask;
	struct an_pub *p;

	while (e->pubs[i].used && strcmp(e->pubs[i].src, k->src) != 0)
		i = (i + 1) & mask;
	p = &e->pubs[i];
	if (!p->used && e->n_pubs >= e->cfg->max_publishers && forget_pubs(e, k->t1) > 0) {
		i = an_hash_str(k->src) & mask;
		while (e->pubs[i].used)
			i = (i + 1) & mask;
		p = &e->pubs[i];
	}
	if (!p->used) {
		if (e->n_pubs >= e->cfg->max_publishers) {
			/* Untracked, but its data still counts (it is
			 * merged: not among the refused) */
			e->cnt.untracked++;
			return TRACK_OK;
		}
		p->used = true;
		snprintf(p->src, sizeof(p->src), "%s", k->src);
		p->last_seq = k->seq;
		p->max_t1 = k->t1;
		p->n_ends = 0;
		note_end(p, k->t1);
		e->n_pubs++;
		if (k->t1 < e->pub_forget_at - PUB_FORGET_NS)
			e->pub_forget_at = k->t1 + PUB_FORGET_NS;
		return TRACK_OK;
	}
	if (k->seq > p->last_seq) {
		/* A shard receives only its services' share of a publisher's
		 * seq (filtered at the publisher): a jump is no loss there
		 * (a replay reads the whole recording). */
		if (!an_shard_on(&e->cfg->shard) || e->replay)
			e->cnt.gaps += k->seq - p->last_seq - 1;
	} else if (k->t0 >= p->max_t1) {
		e->cnt.restarts++;
		st_log_rl(&e->rl, ST_LOG_NOTICE, "publisher %s restarted (seq %llu after %llu)",
			  k->src, (unsigned long long)k->seq,
			  (unsigned long long)p->last_seq);
	} else if (sent_end(p, k->t1)) {
		e->cnt.duplicates++;
		return TRACK_DUP;
	} else {
		e->cnt.shared_src++;
		/* once per publisher, past the rate limit a flood of bad
		 * messages from elsewhere may have used up */
		if (!p->warned_shared)
			st_log(ST_LOG_WARN,
			       "publisher %s: seq %llu after %llu, for a window it never sent: two "
			       "publishers share this src (give each dataplane its own "
			       "publisher_id), or its clock went back; such messages are dropped "
			       "(shared_src)", k->src, (unsigned long long)k->seq,
			       (unsigned long long)p->last_seq);
		p->warned_shared = true;
		return TRACK_SHARED;
	}
	p->last_seq = k->seq;
	if (k->t1 > p->max_t1)
		p->max_t1 = k->t1;
	note_end(p, k->t1);
	return TRACK_OK;
}

static bool topic_matches(const struct st_kpi *k, const char *topic, size_t tlen)
{
	size_t ls = strlen(k->service), lt = strlen(k->target);

	return tlen == 4 + ls + 1 + lt && memcmp((const char *)topic + 4, k->service, ls) == 0 &&
	       topic[4 + ls] == '.' && memcmp(topic + 5 + ls, k->target, lt) == 0;
}

/* Whether a message's window ends beyond now + max_skew: a gateway's
 * clock ahead, or a forged time. Checked before its seq is tracked: taken,
 * its time would mark every message of a restarted publisher a duplicate
 * until the clock caught up, and a clients message would move the
 * service's history a day ahead, every real one after it late. */
static bool from_future(const struct an_engine *e, uint64_t t1, uint64_t now_ns)
{
	return !e->replay && t1 > now_ns + e->cfg->max_skew_ns;
}

/* A clients.<service> message: decoded and merged by clients.c; its seq
 * is the publisher's, shared with its KPI snapshots, so it is tracked in
 * the same table (or the KPIs' seq would show it as a gap). */
static int ingest_clients(struct an_engine *e, const void *topic, size_t tlen,
			  const void *body, size_t blen, uint64_t now_ns)
{
	const struct st_clients_msg *m = an_clients_decode(e->clients, topic, tlen, body, blen);

	if (m == NULL)
		return -EBADMSG;
	if (from_future(e, m->h.t1, now_ns)) {
		an_clients_count_future(e->clients);
		return -ESTALE;
	}
	switch (track(e, &(struct track_key){ m->h.src, m->h.seq, m->h.t0, m->h.t1 })) {
	case TRACK_DUP:
		an_clients_count_duplicate(e->clients, false);
		return -ESTALE;
	case TRACK_SHARED:
		an_clients_count_duplicate(e->clients, true);
		return -ESTALE;
	case TRACK_OK:
		break;
	}
	return an_clients_merge(e->clients, m);
}

int an_engine_ingest(struct an_engine *e, const void *topic, size_t tlen,
		     const void *body, size_t blen, int nframes,
		     uint64_t now_ns)
{
	const struct an_bin *bins = NULL;
	struct st_wire_error err;
	int64_t total, clamped;
	enum st_hist_derr derr;
	size_t n_bins = 0;
	char ebuf[192];

	e->cnt.msgs++;
	if (nframes != 2) {
		e->cnt.bad_frames++;
		st_log_rl(&e->rl, ST_LOG_WARN, "message with %d frames (expected topic and body)",
			  nframes);
		return -EBADMSG;
	}
	if (tlen > 8 && memcmp(topic, ST_CLIENTS_TOPIC_PREFIX, 8) == 0)
		return ingest_clients(e, topic, tlen, body, blen, now_ns);
	if (tlen < 4 || memcmp(topic, ST_KPI_TOPIC_PREFIX, 4) != 0) {
		e->cnt.unknown_topic++;
		st_log_rl(&e->rl, ST_LOG_WARN, "message on unknown topic '%.*s'",
			  (int)(tlen > 40 ? 40 : tlen), (const char *)topic);
		return -ENOENT;
	}
	if (blen > ST_WIRE_MAX_SIZE) {
		e->cnt.oversized++;
		st_log_rl(&e->rl, ST_LOG_WARN, "KPI message of %zu bytes, limit %u", blen,
			  ST_WIRE_MAX_SIZE);
		return -EMSGSIZE;
	}
	if (st_kpi_decode(body, blen, &e->kpi, &err) != 0) {
		if (err.code == ST_WIRE_E_VERSION)
			e->cnt.bad_version++;
		else if (err.code == ST_WIRE_E_TOO_LARGE)
			e->cnt.oversized++;
		else
			e->cnt.malformed++;
		st_log_rl(&e->rl, ST_LOG_WARN, "KPI message refused: %s",
			  st_wire_error_fmt(&err, ebuf, sizeof(ebuf)));
		return err.code == ST_WIRE_E_VERSION ? -EPROTO : -EBADMSG;
	}
	if (!topic_matches(&e->kpi, topic, tlen)) {
		e->cnt.topic_mismatch++;
		st_log_rl(&e->rl, ST_LOG_WARN, "topic '%.*s' does not match kpi.%s.%s",
			  (int)(tlen > 80 ? 80 : tlen), (const char *)topic, e->kpi.service,
			  e->kpi.target);
		return -EBADMSG;
	}
	if (from_future(e, e->kpi.t1, now_ns)) {
		e->cnt.future++;
		return -ESTALE;
	}
	if (track(e, &(struct track_key){ e->kpi.src, e->kpi.seq, e->kpi.t0, e->kpi.t1 }) !=
	    TRACK_OK)
		return -ESTALE;
	if (e->kpi.lat_len > 0) {
		if (an_histdec_decode(e->dec, e->kpi.lat, e->kpi.lat_len, &bins, &n_bins,
				      &total, &clamped, &derr) != 0) {
			e->cnt.bad_hist++;
			st_log_rl(&e->rl, ST_LOG_WARN, "KPI %s.%s from %s: latency histogram: %s",
				  e->kpi.service, e->kpi.target, e->kpi.src,
				  st_hist_derr_str(derr));
			return -EBADMSG;
		}
		e->cnt.clamped += (uint64_t)clamped;
	}
	return an_engine_merge(e, &e->kpi, bins, n_bins, now_ns);
}
