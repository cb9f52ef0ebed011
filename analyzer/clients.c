/* Client history, fingerprints, per-fingerprint forecasts (clients.h). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients.h"
#include "clock.h"
#include "engine.h"
#include "fingerprint.h"
#include "holt_winters.h"
#include "log.h"
#include "prom.h"

#define MIN_SLOTS 4		/* closed slots before a fit (Holt-Winters needs 4) */
#define MIN_REQ_PER_SLOT 1.0	/* a client with fewer requests per slot is not fitted */
#define HEAT_CLIENTS 20		/* the report's heatmap rows */
#define Q_UPPER 0.9		/* the forecast's upper quantile */

/* Feature floors (fingerprint.h): log rate, log bytes per request each way,
 * burstiness (CV), trend (relative change over the horizon), log p99 (ms). */
static const double floors[FP_DIMS] = { 0.35, 0.35, 0.35, 0.25, 0.25, 0.5 };

struct cl_slot {
	uint64_t req, resp, errs, breq, bresp;
	uint64_t p99_ns;	/* the highest p99 a publisher reported in the slot */
};

struct cl_client {
	char k[ST_CLIENT_KEY_MAX];
	uint32_t hash;
	uint64_t err;		/* the largest error bound seen in the horizon */
	struct cl_slot *s;	/* history slots, ring by window index */
	/* from the last fit */
	uint32_t label;		/* 0: not fitted (too few requests) */
	double f[FP_DIMS];
	double rps, share, bytes_req, bytes_resp, burst, trend, p99_ns;
	uint64_t requests;	/* in the closed horizon */
	uint64_t total;		/* requests in the history slots: what eviction compares */
	uint32_t at;		/* its place in the service's heap */
};

struct cl_group {
	uint32_t label, clients;
	double share, rps, requests;
	double centroid[FP_DIMS];
	double fc_next, fc_peak, fc_upper, projected;
	double fc_share;	/* its share of the service's load one window ahead */
	bool prealloc, has_fc;
};

struct cl_service {
	char name[ST_WIRE_NAME_MAX];
	int64_t cur_w, first_w;		/* newest and first slot seen; -1 none */
	int64_t busy_w;			/* first slot with a request; -1 none */
	struct cl_client *cl;
	uint32_t n;
	uint32_t *index;		/* open addressing: client + 1, 0 empty */
	uint32_t hmask;
	uint32_t *heap;			/* clients, a min-heap by (total, index): the
					 * root is the one a newcomer may replace */
	uint64_t *tot_req, *tot_other;	/* per slot */
	uint64_t msgs;
	/* the last fit */
	bool fitted;
	struct fp_fit fit;
	uint32_t next_label;
	uint32_t n_groups;
	struct cl_group g[FP_K_MAX];
	int64_t fit_w0, fit_w1;		/* the closed slots fitted */
	double other_share, threshold_rps, total_rps;
	uint64_t fit_t;
	uint64_t seq;
	double *gseries;		/* [FP_K_MAX][history]: load per group per slot, rps */
	double *gfc;			/* [FP_K_MAX][profile_horizon]: each group's forecast, rps */
	char key[ST_WIRE_LABEL_MAX];	/* what a client is (the newest message's client_key) */
};

/* What the HTTP threads read. */
struct cl_snap_svc {
	char name[ST_WIRE_NAME_MAX];
	struct st_wbuf clients, profiles;	/* JSON */
	uint32_t n;
	char (*keys)[ST_CLIENT_KEY_MAX];
	size_t *off, *len;			/* each client's object in clients */
};

struct cl_snap {
	atomic_uint refs;
	uint32_t n;
	struct cl_snap_svc *svc;
	struct st_wbuf prom;
};

struct an_clients {
	const struct an_config *cfg;
	struct an_engine *eng;
	uint32_t H;
	struct cl_service **svc;
	uint32_t n_svc;
	struct an_clients_counters cnt;
	struct st_client_rec *recs;
	struct st_clients_msg msg;
	an_profile_fn fn;
	void *arg;
	struct st_wbuf mp, tmp;
	msgpack_zone zone;
	struct st_ratelimit rl;
	bool dirty;
	pthread_mutex_t mu;
	struct cl_snap *cur, *pending;
	/* cnt as of the last round, for /metrics (under mu): the counters
	 * move with every message, the profile families only at a refit */
	struct an_clients_counters pub;
};

static void label_name(char *buf, size_t len, uint32_t label)
{
	if (label == 0)
		snprintf(buf, len, "none");
	else
		snprintf(buf, len, "fp%" PRIu32, label);
}

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static uint32_t ring(const struct an_clients *c, int64_t w)
{
	return (uint32_t)(w % c->H);
}

/* ------------------------------------------------------------------ */
/* Lifecycle                                                          */

struct an_clients *an_clients_create(const struct an_config *cfg, struct an_engine *e)
{
	struct an_clients *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->cfg = cfg;
	c->eng = e;
	c->H = cfg->client_history ? cfg->client_history : 60;
	c->svc = calloc(cfg->max_services ? cfg->max_services : 1, sizeof(*c->svc));
	c->recs = calloc(cfg->max_clients ? cfg->max_clients : 1, sizeof(*c->recs));
	if (c->svc == NULL || c->recs == NULL || pthread_mutex_init(&c->mu, NULL) != 0) {
		free(c->svc);
		free(c->recs);
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	if (!msgpack_zone_init(&c->zone, 65536)) {
		pthread_mutex_destroy(&c->mu);
		free(c->svc);
		free(c->recs);
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	st_wbuf_init(&c->mp);
	st_wbuf_init(&c->tmp);
	c->rl = (struct st_ratelimit)ST_RATELIMIT_INIT(ST_NS_PER_S, 10);
	return c;
}

static void snap_free(struct cl_snap *s)
{
	if (s == NULL)
		return;
	for (uint32_t i = 0; i < s->n; i++) {
		st_wbuf_free(&s->svc[i].clients);
		st_wbuf_free(&s->svc[i].profiles);
		free(s->svc[i].keys);
		free(s->svc[i].off);
		free(s->svc[i].len);
	}
	free(s->svc);
	st_wbuf_free(&s->prom);
	free(s);
}

static void snap_put(struct cl_snap *s)
{
	if (s != NULL && atomic_fetch_sub(&s->refs, 1) == 1)
		snap_free(s);
}

static void service_free(struct cl_service *s)
{
	if (s == NULL)
		return;
	for (uint32_t i = 0; i < s->n; i++)
		free(s->cl[i].s);
	free(s->cl);
	free(s->index);
	free(s->heap);
	free(s->tot_req);
	free(s->tot_other);
	free(s->gseries);
	free(s->gfc);
	free(s);
}

void an_clients_destroy(struct an_clients *c)
{
	if (c == NULL)
		return;
	for (uint32_t i = 0; i < c->n_svc; i++)
		service_free(c->svc[i]);
	snap_put(c->cur);
	snap_put(c->pending);
	pthread_mutex_destroy(&c->mu);
	msgpack_zone_destroy(&c->zone);
	st_wbuf_free(&c->mp);
	st_wbuf_free(&c->tmp);
	free(c->svc);
	free(c->recs);
	free(c);
}

void an_clients_set_output(struct an_clients *c, an_profile_fn fn, void *arg)
{
	c->fn = fn;
	c->arg = arg;
}

const struct an_clients_counters *an_clients_counters(const struct an_clients *c)
{
	return &c->cnt;
}

void an_clients_count_duplicate(struct an_clients *c, bool shared_src)
{
	if (shared_src)
		c->cnt.shared_src++;
	else
		c->cnt.duplicates++;
}

void an_clients_count_future(struct an_clients *c)
{
	c->cnt.future++;
}

/* ------------------------------------------------------------------ */
/* Ingest                                                             */

const struct st_clients_msg *an_clients_decode(struct an_clients *c, const void *topic,
					       size_t tlen, const void *body, size_t blen)
{
	struct st_wire_error err;
	char ebuf[192];
	size_t ls;

	c->cnt.msgs++;
	if (blen > ST_WIRE_MAX_SIZE) {
		c->cnt.oversized++;
		st_log_rl(&c->rl, ST_LOG_WARN, "clients message of %zu bytes, limit %u", blen,
			  ST_WIRE_MAX_SIZE);
		return NULL;
	}
	c->msg.recs = c->recs;
	c->msg.cap = c->cfg->max_clients;
	if (st_clients_decode(body, blen, &c->msg, &err) != 0) {
		if (err.code == ST_WIRE_E_VERSION)
			c->cnt.bad_version++;
		else if (err.code == ST_WIRE_E_TOO_LARGE)
			c->cnt.oversized++;
		else
			c->cnt.malformed++;
		st_log_rl(&c->rl, ST_LOG_WARN, "clients message refused: %s",
			  st_wire_error_fmt(&err, ebuf, sizeof(ebuf)));
		return NULL;
	}
	ls = strlen(c->msg.h.service);
	if (tlen != 8 + ls || memcmp((const char *)topic + 8, c->msg.h.service, ls) != 0) {
		c->cnt.topic_mismatch++;
		st_log_rl(&c->rl, ST_LOG_WARN, "topic '%.*s' does not match clients.%s",
			  (int)(tlen > 80 ? 80 : tlen), (const char *)topic, c->msg.h.service);
		return NULL;
	}
	c->cnt.folded += c->msg.folded;
	return &c->msg;
}

static struct cl_service *service_get(struct an_clients *c, const char *name, bool create)
{
	struct cl_service *s;
	uint32_t hcap = 16;

	for (uint32_t i = 0; i < c->n_svc; i++)
		if (strcmp(c->svc[i]->name, name) == 0)
			return c->svc[i];
	if (!create || c->n_svc >= c->cfg->max_services)
		return NULL;
	while (hcap < 2 * c->cfg->max_clients)
		hcap *= 2;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->cl = calloc(c->cfg->max_clients, sizeof(*s->cl));
	s->index = calloc(hcap, sizeof(*s->index));
	s->heap = calloc(c->cfg->max_clients, sizeof(*s->heap));
	s->tot_req = calloc(c->H, sizeof(uint64_t));
	s->tot_other = calloc(c->H, sizeof(uint64_t));
	s->gseries = calloc((size_t)FP_K_MAX * c->H, sizeof(double));
	s->gfc = calloc((size_t)FP_K_MAX * c->cfg->profile_horizon, sizeof(double));
	if (!s->cl || !s->index || !s->heap || !s->tot_req || !s->tot_other || !s->gseries || !s->gfc) {
		service_free(s);
		return NULL;
	}
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->hmask = hcap - 1;
	s->cur_w = s->first_w = s->busy_w = -1;
	s->next_label = 1;
	c->svc[c->n_svc++] = s;
	return s;
}

/* The index holds client i under its hash. */
static void index_insert(struct cl_service *s, uint32_t i)
{
	uint32_t j = s->cl[i].hash & s->hmask;

	while (s->index[j])
		j = (j + 1) & s->hmask;
	s->index[j] = i + 1;
}

/* Takes client i out of the index: the entries after it in its run move
 * back into the hole when their home allows (linear probing's deletion,
 * no tombstones). */
static void index_remove(struct cl_service *s, uint32_t i)
{
	uint32_t j = s->cl[i].hash & s->hmask, k;

	while (s->index[j] != i + 1)
		j = (j + 1) & s->hmask;
	for (k = j;;) {
		uint32_t home;

		s->index[j] = 0;
		do {
			k = (k + 1) & s->hmask;
			if (s->index[k] == 0)
				return;
			home = s->cl[s->index[k] - 1].hash & s->hmask;
			/* stays when its home lies cyclically in (j, k] */
		} while (j <= k ? (j < home && home <= k) : (j < home || home <= k));
		s->index[j] = s->index[k];
		j = k;
	}
}

static struct cl_client *client_find(struct cl_service *s, const char *k, uint32_t h)
{
	uint32_t j = h & s->hmask;

	while (s->index[j]) {
		struct cl_client *cl = &s->cl[s->index[j] - 1];

		if (cl->hash == h && strcmp(cl->k, k) == 0)
			return cl;
		j = (j + 1) & s->hmask;
	}
	return NULL;
}

/* Whether client a sorts before client b: fewer requests, then the lower
 * index (the first of equals, as a scan in order finds it). */
static bool heap_before(const struct cl_service *s, uint32_t a, uint32_t b)
{
	return s->cl[a].total < s->cl[b].total || (s->cl[a].total == s->cl[b].total && a < b);
}

static void heap_put(struct cl_service *s, uint32_t at, uint32_t i)
{
	s->heap[at] = i;
	s->cl[i].at = at;
}

static void heap_up(struct cl_service *s, uint32_t at)
{
	uint32_t i = s->heap[at];

	while (at > 0 && heap_before(s, i, s->heap[(at - 1) / 2])) {
		heap_put(s, at, s->heap[(at - 1) / 2]);
		at = (at - 1) / 2;
	}
	heap_put(s, at, i);
}

static void heap_down(struct cl_service *s, uint32_t at)
{
	uint32_t i = s->heap[at];

	for (;;) {
		uint32_t l = 2 * at + 1, m;

		if (l >= s->n)
			break;
		m = l + 1 < s->n && heap_before(s, s->heap[l + 1], s->heap[l]) ? l + 1 : l;
		if (!heap_before(s, s->heap[m], i))
			break;
		heap_put(s, at, s->heap[m]);
		at = m;
	}
	heap_put(s, at, i);
}

/* A new client: a free entry, or the smallest one's when it is smaller
 * than the newcomer's first count (the heap's root: no scan of the
 * clients' history, which cost max_clients x client_history slots for
 * every new key once the table was full). NULL: counted in other. */
static struct cl_client *client_add(struct an_clients *c, struct cl_service *s,
				    const char *k, uint32_t h, uint64_t first)
{
	struct cl_client *cl;
	uint32_t i, at;

	if (s->n < c->cfg->max_clients) {
		i = at = s->n;
		cl = &s->cl[i];
		cl->s = calloc(c->H, sizeof(*cl->s));
		if (cl->s == NULL)
			return NULL;
		s->n++;
	} else {
		i = s->heap[0];
		at = 0;
		cl = &s->cl[i];
		if (cl->total >= first)
			return NULL;
		index_remove(s, i);
		memset(cl->s, 0, c->H * sizeof(*cl->s));
		c->cnt.evicted++;
	}
	{
		struct cl_slot *keep = cl->s;

		memset(cl, 0, sizeof(*cl));
		cl->s = keep;
	}
	snprintf(cl->k, sizeof(cl->k), "%s", k);
	cl->hash = h;
	index_insert(s, i);
	/* total 0 (evicted: at the root, where it was) */
	heap_put(s, at, i);
	heap_up(s, at);
	return cl;
}

static void refit(struct an_clients *c, struct cl_service *s);

/* Moves the newest slot to w, clearing the slots it passes (w > cur_w). */
static void advance(struct an_clients *c, struct cl_service *s, int64_t w)
{
	int64_t from = s->cur_w + 1;

	if (w - from >= (int64_t)c->H)
		from = w - c->H + 1;
	for (int64_t x = from; x <= w; x++) {
		uint32_t r = ring(c, x);

		s->tot_req[r] = s->tot_other[r] = 0;
		for (uint32_t i = 0; i < s->n; i++) {
			s->cl[i].total -= s->cl[i].s[r].req;
			memset(&s->cl[i].s[r], 0, sizeof(struct cl_slot));
		}
	}
	/* totals only fell: the heap is made again, bottom up */
	for (uint32_t at = s->n / 2; at-- > 0;)
		heap_down(s, at);
	s->cur_w = w;
}

int an_clients_merge(struct an_clients *c, const struct st_clients_msg *m)
{
	const struct an_shard *sh = &c->cfg->shard;
	struct cl_service *s;
	uint64_t mid = m->h.t0 / 2 + m->h.t1 / 2;
	int64_t w = (int64_t)(mid / c->cfg->window_ns);
	uint32_t r;
	bool closed = false;

	if (an_shard_on(sh) && !an_shard_owns(sh, m->h.service)) {
		c->cnt.other_shard++;
		return -EXDEV;
	}
	s = service_get(c, m->h.service, true);
	if (s == NULL) {
		c->cnt.dropped_limits++;
		return -ENOSPC;
	}
	if (s->cur_w < 0) {
		s->first_w = w;
		advance(c, s, w);
	} else if (w > s->cur_w) {
		advance(c, s, w);
		closed = true;
	} else if (w <= s->cur_w - (int64_t)c->H) {
		c->cnt.late++;
		return -ESTALE;
	}
	r = ring(c, w);
	s->msgs++;
	snprintf(s->key, sizeof(s->key), "%s", m->h.key);
	if (s->busy_w < 0 || w < s->busy_w) {
		uint64_t any = m->other.requests;

		for (uint32_t i = 0; i < m->n_recs; i++)
			any += m->recs[i].requests;
		if (any > 0)
			s->busy_w = w;
	}
	s->tot_req[r] += m->other.requests;
	s->tot_other[r] += m->other.requests;
	for (uint32_t i = 0; i < m->n_recs; i++) {
		const struct st_client_rec *rec = &m->recs[i];
		uint32_t h = hash_str(rec->k);
		struct cl_client *cl = client_find(s, rec->k, h);
		struct cl_slot *sl;

		s->tot_req[r] += rec->requests;
		if (cl == NULL)
			cl = client_add(c, s, rec->k, h, rec->requests);
		if (cl == NULL) {
			c->cnt.untracked++;
			s->tot_other[r] += rec->requests;
			continue;
		}
		sl = &cl->s[r];
		sl->req += rec->requests;
		cl->total += rec->requests;
		heap_down(s, cl->at);
		sl->resp += rec->responses;
		sl->errs += rec->timeouts + rec->resets;
		sl->breq += rec->bytes_req;
		sl->bresp += rec->bytes_resp;
		if (rec->p99 > sl->p99_ns)
			sl->p99_ns = rec->p99;
		if (rec->err > cl->err)
			cl->err = rec->err;
	}
	c->cnt.merged++;
	if (closed)
		refit(c, s);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Fit                                                                */

/* The rate past which a group's forecast raises the pre-allocation
 * signal: the alerter's (alert.c: the lowest of profile_alert_rps and the
 * rates where alert_utilization and alert_p99 are crossed at the current
 * count), else profile_alert_rps, else forecast_rps; 0 without a plan. */
static double plan_threshold(struct an_clients *c, const char *name)
{
	struct an_service *sv = an_engine_service(c->eng, name);

	if (sv == NULL || !sv->has_plan)
		return 0;
	if (sv->prealloc_rps > 0)
		return sv->prealloc_rps;
	return sv->plan.profile_alert_rps > 0 ? sv->plan.profile_alert_rps : sv->plan.forecast_rps;
}

/* A client's features over slots w0..w1 (nw of them); false when it had
 * too few requests to say anything. */
static bool features(const struct an_clients *c, struct cl_client *cl, int64_t w0, uint32_t nw,
		     double slot_s, uint64_t tot)
{
	double sum = 0, sq = 0, st = 0, stt = 0, sty = 0, breq = 0, bresp = 0, resp = 0, p99w = 0;
	double mean, sd, slope;

	for (uint32_t i = 0; i < nw; i++) {
		const struct cl_slot *sl = &cl->s[ring(c, w0 + i)];
		double y = (double)sl->req;

		sum += y;
		sq += y * y;
		st += i;
		stt += (double)i * i;
		sty += (double)i * y;
		breq += (double)sl->breq;
		bresp += (double)sl->bresp;
		resp += (double)sl->resp;
		p99w += (double)sl->p99_ns * (double)sl->resp;
	}
	cl->requests = (uint64_t)sum;
	mean = sum / nw;
	sd = sqrt(fmax(0, sq / nw - mean * mean));
	slope = (nw * sty - st * sum) / fmax(1e-12, nw * stt - st * st);
	cl->rps = mean / slot_s;
	cl->share = tot ? sum / (double)tot : 0;
	cl->bytes_req = sum > 0 ? breq / sum : 0;
	cl->bytes_resp = resp > 0 ? bresp / resp : 0;
	cl->burst = mean > 0 ? sd / mean : 0;
	cl->trend = mean > 0 ? slope * (nw - 1) / mean : 0;
	if (cl->trend > 4)
		cl->trend = 4;
	if (cl->trend < -4)
		cl->trend = -4;
	cl->p99_ns = resp > 0 ? p99w / resp : 0;
	cl->f[0] = log(fmax(cl->rps, 1e-3));
	cl->f[1] = log1p(cl->bytes_req);
	cl->f[2] = log1p(cl->bytes_resp);
	cl->f[3] = cl->burst;
	cl->f[4] = cl->trend;
	cl->f[5] = log1p(cl->p99_ns / 1e6);
	return mean >= MIN_REQ_PER_SLOT;
}

static void publish_profile(struct an_clients *c, struct cl_service *s);

static void refit(struct an_clients *c, struct cl_service *s)
{
	int64_t w1 = s->cur_w - 1, w0 = w1 - (int64_t)c->H + 2;
	double slot_s = (double)c->cfg->window_ns / 1e9, (*x)[FP_DIMS] = NULL;
	uint32_t nw, nf = 0, *who = NULL, *assign = NULL, h = c->cfg->profile_horizon;
	uint64_t tot = 0, other = 0;
	struct fp_fit fit;
	double fc_sum, fitted_rps = 0;

	/* the history starts with the service's first request: the quiet
	 * windows before it would make every client look as if it ramped */
	if (s->busy_w < 0)
		return;
	if (w0 < s->busy_w)
		w0 = s->busy_w;
	if (w1 < w0 || w1 - w0 + 1 < MIN_SLOTS)
		return;
	nw = (uint32_t)(w1 - w0 + 1);
	for (uint32_t i = 0; i < nw; i++) {
		tot += s->tot_req[ring(c, w0 + i)];
		other += s->tot_other[ring(c, w0 + i)];
	}
	x = malloc(sizeof(*x) * (s->n + 1));
	who = malloc(sizeof(uint32_t) * (s->n + 1));
	assign = malloc(sizeof(uint32_t) * (s->n + 1));
	if (!x || !who || !assign)
		goto out;
	for (uint32_t i = 0; i < s->n; i++) {
		struct cl_client *cl = &s->cl[i];

		cl->label = 0;
		if (features(c, cl, w0, nw, slot_s, tot)) {
			memcpy(x[nf], cl->f, sizeof(cl->f));
			who[nf++] = i;
		}
	}
	s->fit_w0 = w0;
	s->fit_w1 = w1;
	s->fit_t = st_wall_ns();
	s->total_rps = (double)s->tot_req[ring(c, w1)] / slot_s;
	s->threshold_rps = plan_threshold(c, s->name);
	s->n_groups = 0;
	s->other_share = tot ? (double)other / (double)tot : 0;
	if (nf > 0 && fp_fit((const double (*)[FP_DIMS])x, nf, c->cfg->profile_k_max, floors,
			     0x5eed0000u + (uint64_t)w1, s->fitted ? &s->fit : NULL,
			     &s->next_label, &fit, assign) == 0) {
		s->fit = fit;
		s->fitted = true;
		s->n_groups = fit.k;
	} else {
		nf = 0;	/* no fit (too few, or no memory): assign[] holds nothing */
	}
	memset(s->gseries, 0, sizeof(double) * FP_K_MAX * c->H);
	for (uint32_t m = 0; m < s->n_groups; m++) {
		memset(&s->g[m], 0, sizeof(s->g[m]));
		s->g[m].label = s->fit.label[m];
		s->g[m].clients = s->fit.size[m];
		memcpy(s->g[m].centroid, s->fit.centroid[m], sizeof(s->g[m].centroid));
	}
	for (uint32_t i = 0; i < nf; i++) {
		struct cl_client *cl = &s->cl[who[i]];
		uint32_t m = assign[i];

		cl->label = s->fit.label[m];
		for (uint32_t t = 0; t < nw; t++)
			s->gseries[(size_t)m * c->H + t] += (double)cl->s[ring(c, w0 + t)].req / slot_s;
		s->g[m].requests += (double)cl->requests;
	}
	/* the clients not fitted count in other's share */
	for (uint32_t i = 0; i < s->n; i++)
		if (s->cl[i].label == 0 && tot)
			s->other_share += (double)s->cl[i].requests / (double)tot;
	for (uint32_t m = 0; m < s->n_groups; m++) {
		struct cl_group *g = &s->g[m];
		const double *y = &s->gseries[(size_t)m * c->H];
		double *fc = &s->gfc[(size_t)m * h];
		struct hw_model hw;

		g->share = tot ? g->requests / (double)tot : 0;
		g->rps = y[nw - 1];
		for (uint32_t j = 0; j < h; j++)
			fc[j] = g->rps;
		g->fc_next = g->fc_peak = g->fc_upper = g->rps;
		if (hw_fit(y, nw, 1, 0, &hw, NULL) == 0) {
			hw_forecast(&hw, h, fc);
			g->fc_peak = 0;
			for (uint32_t j = 0; j < h; j++) {
				fc[j] = fmax(0, fc[j]);
				g->fc_peak = fmax(g->fc_peak, fc[j]);
			}
			g->fc_next = fc[0];
			g->fc_upper = g->fc_peak + fmax(0, hw_quantile_offset(&hw, Q_UPPER, h));
			g->has_fc = true;
			hw_free(&hw);
		}
		/* one group's forecast alone: the others as they are now */
		g->projected = s->total_rps - g->rps + g->fc_peak;
		g->prealloc = s->threshold_rps > 0 && g->projected > s->threshold_rps;
		fitted_rps += g->rps;
	}
	/* each group's share of the next window's load: the groups by their
	 * forecasts, the clients not fitted and other as they are now */
	fc_sum = fmax(0, s->total_rps - fitted_rps);
	for (uint32_t m = 0; m < s->n_groups; m++)
		fc_sum += s->g[m].fc_next;
	for (uint32_t m = 0; m < s->n_groups; m++)
		s->g[m].fc_share = fc_sum > 0 ? s->g[m].fc_next / fc_sum : 0;
	c->cnt.refits++;
	c->dirty = true;
	publish_profile(c, s);
out:
	free(x);
	free(who);
	free(assign);
}

static const struct cl_service *service_find(const struct an_clients *c, const char *name)
{
	for (uint32_t i = 0; i < c->n_svc; i++)
		if (strcmp(c->svc[i]->name, name) == 0)
			return c->svc[i];
	return NULL;
}

int an_clients_prealloc(const struct an_clients *c, const char *service, double threshold_rps,
			uint64_t now, struct an_clients_prealloc *out)
{
	const struct cl_service *s = service_find(c, service);
	uint64_t win = c->cfg->window_ns;
	uint32_t h = c->cfg->profile_horizon, best_j = UINT32_MAX;
	int found = 0;

	if (s == NULL || s->fit_t == 0 || !(threshold_rps > 0) ||
	    (uint64_t)(s->fit_w1 + 1) * win + 3 * win < now)
		return -1;
	for (uint32_t m = 0; m < s->n_groups; m++) {
		const struct cl_group *g = &s->g[m];
		const double *fc = &s->gfc[(size_t)m * h];
		double base = s->total_rps - g->rps;

		for (uint32_t j = 0; j < h && j <= best_j; j++) {
			if (!(base + fc[j] > threshold_rps))
				continue;
			if (j == best_j && g->projected <= out->projected_peak)
				break;
			best_j = j;
			found = 1;
			label_name(out->label, sizeof(out->label), g->label);
			out->projected_peak = g->projected;
			out->at_rps = base + fc[j];
			/* fc[0] is the window after the last closed one */
			out->at = (uint64_t)(s->fit_w1 + 1 + j) * win;
			break;
		}
	}
	return found;
}

uint32_t an_clients_labels(const struct an_clients *c, const char *service,
			   char (*keys)[ST_CLIENT_KEY_MAX], uint32_t *labels, uint32_t max)
{
	const struct cl_service *s = NULL;
	uint32_t n = 0;

	for (uint32_t i = 0; i < c->n_svc; i++)
		if (strcmp(c->svc[i]->name, service) == 0)
			s = c->svc[i];
	if (s == NULL)
		return 0;
	for (uint32_t i = 0; i < s->n && n < max; i++, n++) {
		snprintf(keys[n], ST_CLIENT_KEY_MAX, "%s", s->cl[i].k);
		labels[n] = s->cl[i].label;
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* Documents: msgpack, the profile message and (through the one JSON
 * writer) the HTTP bodies                                            */

static void kv_u(msgpack_packer *pk, const char *k, uint64_t v)
{
	st_wire_pack_cstr(pk, k);
	msgpack_pack_uint64(pk, v);
}

static void kv_d(msgpack_packer *pk, const char *k, double v)
{
	st_wire_pack_cstr(pk, k);
	msgpack_pack_double(pk, isfinite(v) ? v : 0);
}

/* nil when v is not a number (no such forecast) */
static void kv_n(msgpack_packer *pk, const char *k, double v)
{
	st_wire_pack_cstr(pk, k);
	st_wire_pack_num(pk, v);
}

static void kv_s(msgpack_packer *pk, const char *k, const char *v)
{
	st_wire_pack_cstr(pk, k);
	st_wire_pack_cstr(pk, v);
}

/* The profile document: the profile.<service> message (seq given) and
 * the body of GET .../profiles. */
static void pack_profile(const struct an_clients *c, const struct cl_service *s, msgpack_packer *pk,
			 uint64_t seq)
{
	uint32_t nw = s->fit_t != 0 ? (uint32_t)(s->fit_w1 - s->fit_w0 + 1) : 0;
	const struct an_service *sv = an_engine_service(c->eng, s->name);
	/* the forecasts the verdicts (forecast_rps) and the alerts (the
	 * forecast_profile's peak ahead) use */
	double verdict_fc = sv && sv->has_plan ? sv->plan.forecast_rps : NAN;
	double alert_fc = sv && sv->has_plan && sv->plan.forecast_profile[0] != '\0' &&
			  sv->alert[AN_ALERT_UTIL].t != 0 ? sv->alert[AN_ALERT_UTIL].peak_rps : NAN;
	bool any = false;

	for (uint32_t m = 0; m < s->n_groups; m++)
		any |= s->g[m].prealloc;
	msgpack_pack_map(pk, 19);
	kv_u(pk, "v", ST_WIRE_VERSION);
	kv_u(pk, "seq", seq);
	kv_u(pk, "t", s->fit_t);
	kv_s(pk, "service", s->name);
	kv_u(pk, "window_ns", c->cfg->window_ns);
	kv_u(pk, "t0", (uint64_t)s->fit_w0 * c->cfg->window_ns);
	kv_u(pk, "t1", (uint64_t)(s->fit_w1 + 1) * c->cfg->window_ns);
	kv_u(pk, "horizon", c->cfg->profile_horizon);
	kv_s(pk, "client_key", s->key);
	kv_u(pk, "clients", s->n);
	kv_u(pk, "k", s->n_groups);
	kv_d(pk, "silhouette", s->fitted ? s->fit.silhouette : 0);
	kv_d(pk, "total_rps", s->total_rps);
	kv_d(pk, "other_share", s->other_share);
	kv_d(pk, "threshold_rps", s->threshold_rps);
	kv_n(pk, "forecast_rps", verdict_fc);
	kv_n(pk, "alert_peak_rps", alert_fc);
	st_wire_pack_cstr(pk, "prealloc");
	if (any)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	st_wire_pack_cstr(pk, "fingerprints");
	msgpack_pack_array(pk, s->n_groups);
	for (uint32_t m = 0; m < s->n_groups; m++) {
		const struct cl_group *g = &s->g[m];
		char name[16];

		label_name(name, sizeof(name), g->label);
		msgpack_pack_map(pk, 16);
		kv_s(pk, "label", name);
		kv_u(pk, "clients", g->clients);
		kv_d(pk, "share", g->share);
		kv_d(pk, "rps", g->rps);
		st_wire_pack_cstr(pk, "centroid");
		msgpack_pack_map(pk, 6);
		kv_d(pk, "rps", exp(g->centroid[0]));
		kv_d(pk, "bytes_req", expm1(g->centroid[1]));
		kv_d(pk, "bytes_resp", expm1(g->centroid[2]));
		kv_d(pk, "burstiness", g->centroid[3]);
		kv_d(pk, "trend", g->centroid[4]);
		kv_d(pk, "p99_ns", expm1(g->centroid[5]) * 1e6);
		st_wire_pack_cstr(pk, "history_rps");
		msgpack_pack_array(pk, nw);
		for (uint32_t t = 0; t < nw; t++)
			msgpack_pack_double(pk, s->gseries[(size_t)m * c->H + t]);
		kv_d(pk, "forecast_next_rps", g->fc_next);
		kv_d(pk, "forecast_peak_rps", g->fc_peak);
		kv_d(pk, "forecast_upper_rps", g->fc_upper);
		kv_d(pk, "forecast_rise", g->fc_peak - g->rps);
		kv_d(pk, "projected_rps", g->projected);
		kv_d(pk, "forecast_share", g->fc_share);
		kv_n(pk, "forecast_contribution_rps", g->fc_share * verdict_fc);
		kv_n(pk, "alert_contribution_rps", g->fc_share * alert_fc);
		st_wire_pack_cstr(pk, "forecast_model");
		st_wire_pack_cstr(pk, g->has_fc ? "holt" : "last");
		st_wire_pack_cstr(pk, "prealloc");
		if (g->prealloc)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
	}
}

static void pack_client(const struct an_clients *c, const struct cl_service *s,
			const struct cl_client *cl, msgpack_packer *pk)
{
	double slot_s = (double)c->cfg->window_ns / 1e9;
	uint32_t nw = (uint32_t)(s->fit_w1 - s->fit_w0 + 1);
	char name[16];

	label_name(name, sizeof(name), cl->label);
	msgpack_pack_map(pk, 12);
	kv_s(pk, "k", cl->k);
	kv_s(pk, "fingerprint", name);
	kv_u(pk, "requests", cl->requests);
	kv_u(pk, "err", cl->err);
	kv_d(pk, "rps", cl->rps);
	kv_d(pk, "share", cl->share);
	kv_d(pk, "bytes_req", cl->bytes_req);
	kv_d(pk, "bytes_resp", cl->bytes_resp);
	kv_d(pk, "burstiness", cl->burst);
	kv_d(pk, "trend", cl->trend);
	kv_d(pk, "p99_ns", cl->p99_ns);
	st_wire_pack_cstr(pk, "history_rps");
	msgpack_pack_array(pk, nw);
	for (uint32_t t = 0; t < nw; t++)
		msgpack_pack_double(pk, (double)cl->s[ring(c, s->fit_w0 + t)].req / slot_s);
}

/* msgpack in c->mp to JSON appended to out. */
static int mp_json(struct an_clients *c, struct st_wbuf *out)
{
	static const struct st_wire_limits lim = {
		.max_size = 64u << 20, .max_depth = 8, .max_count = 1u << 20,
		.max_items = 1u << 24, .max_str = 65536, .max_bin = 0,
	};
	struct st_wire_error err;
	msgpack_object o;
	int rc;

	msgpack_zone_clear(&c->zone);
	rc = st_wire_parse(c->mp.data, c->mp.len, &lim, &c->zone, &o, &err);
	if (rc == 0)
		rc = st_wire_to_json(&o, out);
	return rc;
}

static void publish_profile(struct an_clients *c, struct cl_service *s)
{
	char topic[ST_WIRE_TOPIC_MAX];
	msgpack_packer pk;

	st_wbuf_reset(&c->mp);
	msgpack_packer_init(&pk, &c->mp, st_wbuf_mp_write);
	pack_profile(c, s, &pk, ++s->seq);
	if (c->mp.oom || c->fn == NULL)
		return;
	snprintf(topic, sizeof(topic), "profile.%s", s->name);
	c->fn(c->arg, topic, c->mp.data, c->mp.len);
	c->cnt.published++;
}

/* ------------------------------------------------------------------ */
/* Snapshot for the HTTP threads                                      */

static void prom_labels2(struct st_wbuf *o, const char *fam, const char *svc, const char *fp,
			 double v)
{
	const char *l[] = { "service", svc, "fingerprint", fp, NULL };

	st_prom_sample(o, fam, l, v);
}

static void render_prom(struct an_clients *c, struct st_wbuf *o)
{
	static const struct { const char *name, *help; int what; } fams[] = {
		{ "shadowtap_profile_clients", "clients in the fingerprint at the last refit", 0 },
		{ "shadowtap_profile_share", "the fingerprint's share of the service's requests over the history", 1 },
		{ "shadowtap_profile_rps", "the fingerprint's request rate in the last closed window", 2 },
		{ "shadowtap_profile_forecast_peak_rps", "highest Holt-Winters forecast of the fingerprint's rate within profile_horizon", 3 },
		{ "shadowtap_profile_projected_rps", "the service's rate if this fingerprint alone reached its forecast peak", 4 },
		{ "shadowtap_profile_prealloc", "1 when this fingerprint's forecast alone would push the service past its threshold", 5 },
		{ "shadowtap_profile_forecast_share", "the fingerprint's share of the service's load one window ahead (its part of forecast_rps)", 6 },
	};
	const char *lbl[] = { "service", NULL, NULL };

	st_prom_family(o, "shadowtap_profile_fingerprints", "gauge",
		       "client fingerprints of the service at the last refit");
	for (uint32_t i = 0; i < c->n_svc; i++) {
		lbl[1] = c->svc[i]->name;
		st_prom_sample(o, "shadowtap_profile_fingerprints", lbl, c->svc[i]->n_groups);
	}
	st_prom_family(o, "shadowtap_profile_clients_tracked", "gauge",
		       "clients with history kept for the service (max_clients at most)");
	for (uint32_t i = 0; i < c->n_svc; i++) {
		lbl[1] = c->svc[i]->name;
		st_prom_sample(o, "shadowtap_profile_clients_tracked", lbl, c->svc[i]->n);
	}
	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		st_prom_family(o, fams[f].name, "gauge", fams[f].help);
		for (uint32_t i = 0; i < c->n_svc; i++) {
			const struct cl_service *s = c->svc[i];

			for (uint32_t m = 0; m < s->n_groups; m++) {
				const struct cl_group *g = &s->g[m];
				double v[] = { g->clients, g->share, g->rps, g->fc_peak, g->projected,
					       g->prealloc ? 1 : 0, g->fc_share };
				char name[16];

				label_name(name, sizeof(name), g->label);
				prom_labels2(o, fams[f].name, s->name, name, v[fams[f].what]);
			}
		}
	}
}

/* The counter families, from a copy of the counters. */
static void render_counters(const struct an_clients_counters *k, struct st_wbuf *o)
{
	st_prom_family(o, "shadowtap_clients_messages_total", "counter",
		       "clients.<service> messages by what became of them");
	{
		const struct { const char *r; uint64_t v; } res[] = {
			{ "merged", k->merged }, { "malformed", k->malformed },
			{ "bad_version", k->bad_version }, { "oversized", k->oversized },
			{ "topic_mismatch", k->topic_mismatch }, { "duplicate", k->duplicates },
			{ "shared_src", k->shared_src },
			{ "late", k->late }, { "future", k->future },
			{ "other_shard", k->other_shard },
			{ "dropped_limits", k->dropped_limits },
		};

		for (size_t j = 0; j < sizeof(res) / sizeof(res[0]); j++) {
			const char *l[] = { "result", res[j].r, NULL };

			st_prom_sample_u64(o, "shadowtap_clients_messages_total", l, res[j].v);
		}
	}
	st_prom_family(o, "shadowtap_clients_records_total", "counter",
		       "client records not kept as their own: folded (beyond max_clients in one "
		       "message), untracked (the table full of bigger clients), evicted");
	{
		const char *l1[] = { "kind", "folded", NULL }, *l2[] = { "kind", "untracked", NULL },
			   *l3[] = { "kind", "evicted", NULL };

		st_prom_sample_u64(o, "shadowtap_clients_records_total", l1, k->folded);
		st_prom_sample_u64(o, "shadowtap_clients_records_total", l2, k->untracked);
		st_prom_sample_u64(o, "shadowtap_clients_records_total", l3, k->evicted);
	}
	st_prom_family(o, "shadowtap_profile_refits_total", "counter", "fingerprint refits");
	st_prom_sample_u64(o, "shadowtap_profile_refits_total", NULL, k->refits);
}

static struct cl_snap *build_snap(struct an_clients *c)
{
	struct cl_snap *sn = calloc(1, sizeof(*sn));
	msgpack_packer pk;

	if (sn == NULL)
		return NULL;
	atomic_init(&sn->refs, 1);
	sn->svc = calloc(c->n_svc + 1, sizeof(*sn->svc));
	if (sn->svc == NULL) {
		free(sn);
		return NULL;
	}
	sn->n = c->n_svc;
	st_wbuf_init(&sn->prom);
	render_prom(c, &sn->prom);
	for (uint32_t i = 0; i < c->n_svc; i++) {
		const struct cl_service *s = c->svc[i];
		struct cl_snap_svc *v = &sn->svc[i];

		snprintf(v->name, sizeof(v->name), "%s", s->name);
		st_wbuf_init(&v->clients);
		st_wbuf_init(&v->profiles);
		if (!s->fitted && s->n_groups == 0 && s->fit_t == 0)
			continue;
		st_wbuf_reset(&c->mp);
		msgpack_packer_init(&pk, &c->mp, st_wbuf_mp_write);
		pack_profile(c, s, &pk, s->seq);
		mp_json(c, &v->profiles);
		v->keys = calloc(s->n + 1, sizeof(*v->keys));
		v->off = calloc(s->n + 1, sizeof(size_t));
		v->len = calloc(s->n + 1, sizeof(size_t));
		if (!v->keys || !v->off || !v->len)
			continue;
		st_wbuf_printf(&v->clients, "{\"service\":");
		st_wire_json_str(&v->clients, s->name, strlen(s->name));
		st_wbuf_printf(&v->clients, ",\"client_key\":");
		st_wire_json_str(&v->clients, s->key, strlen(s->key));
		st_wbuf_printf(&v->clients, ",\"t\":%" PRIu64 ",\"window_ns\":%" PRIu64
			       ",\"windows\":%" PRId64 ",\"total_rps\":%.6g,\"other_share\":%.6g,"
			       "\"clients\":[", s->fit_t, c->cfg->window_ns,
			       s->fit_w1 - s->fit_w0 + 1, s->total_rps, s->other_share);
		for (uint32_t j = 0; j < s->n; j++) {
			if (j)
				st_wbuf_append(&v->clients, ",", 1);
			st_wbuf_reset(&c->mp);
			msgpack_packer_init(&pk, &c->mp, st_wbuf_mp_write);
			pack_client(c, s, &s->cl[j], &pk);
			v->off[v->n] = v->clients.len;
			mp_json(c, &v->clients);
			v->len[v->n] = v->clients.len - v->off[v->n];
			snprintf(v->keys[v->n], ST_CLIENT_KEY_MAX, "%s", s->cl[j].k);
			v->n++;
		}
		st_wbuf_printf(&v->clients, "]}\n");
		st_wbuf_append(&v->profiles, "\n", 1);
	}
	return sn;
}

void an_clients_round(struct an_clients *c)
{
	struct cl_snap *old;

	if (memcmp(&c->pub, &c->cnt, sizeof(c->cnt)) != 0 && pthread_mutex_trylock(&c->mu) == 0) {
		c->pub = c->cnt;
		pthread_mutex_unlock(&c->mu);
	}
	if (c->dirty && c->pending == NULL) {
		c->pending = build_snap(c);
		if (c->pending != NULL)
			c->dirty = false;
	}
	if (c->pending == NULL)
		return;
	if (pthread_mutex_trylock(&c->mu) != 0)
		return;	/* a reader takes a reference: swap next round */
	old = c->cur;
	c->cur = c->pending;
	c->pending = NULL;
	pthread_mutex_unlock(&c->mu);
	snap_put(old);
}

static struct cl_snap *snap_get(struct an_clients *c)
{
	struct cl_snap *s;

	pthread_mutex_lock(&c->mu);
	s = c->cur;
	if (s != NULL)
		atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&c->mu);
	return s;
}

int an_clients_http(struct an_clients *c, const char *service, const char *what,
		    const char *key, struct st_wbuf *out)
{
	struct cl_snap *s = snap_get(c);
	const struct cl_snap_svc *v = NULL;
	int status = 404;

	if (s == NULL)
		return 503;
	for (uint32_t i = 0; i < s->n; i++)
		if (strcmp(s->svc[i].name, service) == 0)
			v = &s->svc[i];
	if (v != NULL && strcmp(what, "clients") == 0 && v->clients.len > 0) {
		st_wbuf_append(out, v->clients.data, v->clients.len);
		status = 200;
	} else if (v != NULL && strcmp(what, "profiles") == 0 && v->profiles.len > 0) {
		st_wbuf_append(out, v->profiles.data, v->profiles.len);
		status = 200;
	} else if (v != NULL && key != NULL) {
		for (uint32_t j = 0; j < v->n; j++) {
			if (strcmp(v->keys[j], key) == 0) {
				st_wbuf_append(out, v->clients.data + v->off[j], v->len[j]);
				st_wbuf_append(out, "\n", 1);
				status = 200;
				break;
			}
		}
	}
	snap_put(s);
	return status;
}

void an_clients_prom(struct an_clients *c, struct st_wbuf *out)
{
	struct an_clients_counters k;
	struct cl_snap *s;

	pthread_mutex_lock(&c->mu);
	k = c->pub;
	pthread_mutex_unlock(&c->mu);
	s = snap_get(c);
	/* the fingerprints as of the last refit (none before the first) */
	if (s != NULL)
		st_wbuf_append(out, s->prom.data, s->prom.len);
	snap_put(s);
	/* the counters as of the last round */
	render_counters(&k, out);
}

/* ------------------------------------------------------------------ */
/* Report                                                             */

static const char *const palette[] = {
	"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
};

static void report_service(const struct an_clients *c, const struct cl_service *s,
			   struct st_wbuf *o)
{
	uint32_t nw = (uint32_t)(s->fit_w1 - s->fit_w0 + 1), top[HEAT_CLIENTS], nt = 0;
	double slot_s = (double)c->cfg->window_ns / 1e9, ymax = 0, hmax = 0;
	const double W = 640, Hh = 160;

	st_wbuf_printf(o, "<section><h2>client fingerprints of ");
	st_wbuf_html(o, s->name);
	st_wbuf_printf(o, "</h2>\n<p>%" PRIu32 " clients tracked, %" PRIu32
		       " windows; k = %" PRIu32 " (silhouette %.2f); %.1f%% of the load from "
		       "clients not fitted or not tracked; total %.1f rps; pre-allocation "
		       "threshold %.1f rps%s.</p>\n", s->n, nw, s->n_groups,
		       s->fitted ? s->fit.silhouette : 0.0, 100 * s->other_share, s->total_rps,
		       s->threshold_rps, s->threshold_rps > 0 ? "" : " (none: no plan)");
	st_wbuf_printf(o, "<table><tr><th>fingerprint</th><th>clients</th><th>share</th>"
		       "<th>rps</th><th>rps/client</th><th>bytes/req</th><th>bytes/resp</th>"
		       "<th>burstiness</th><th>trend</th><th>p99 ms</th><th>forecast peak rps</th>"
		       "<th>projected rps</th><th>pre-allocate</th></tr>\n");
	for (uint32_t m = 0; m < s->n_groups; m++) {
		const struct cl_group *g = &s->g[m];

		st_wbuf_printf(o, "<tr><td style=\"color:%s\">fp%" PRIu32 "</td><td>%" PRIu32
			       "</td><td>%.1f%%</td><td>%.1f</td><td>%.2f</td><td>%.0f</td>"
			       "<td>%.0f</td><td>%.2f</td><td>%+.2f</td><td>%.2f</td><td>%.1f</td>"
			       "<td>%.1f</td><td>%s</td></tr>\n", palette[m % 8], g->label,
			       g->clients, 100 * g->share, g->rps, exp(g->centroid[0]),
			       expm1(g->centroid[1]), expm1(g->centroid[2]), g->centroid[3],
			       g->centroid[4], expm1(g->centroid[5]), g->fc_peak, g->projected,
			       g->prealloc ? "<b>yes</b>" : "no");
	}
	st_wbuf_printf(o, "</table>\n");
	/* load by fingerprint over time, stacked */
	for (uint32_t t = 0; t < nw; t++) {
		double sum = 0;

		for (uint32_t m = 0; m < s->n_groups; m++)
			sum += s->gseries[(size_t)m * c->H + t];
		if (sum > ymax)
			ymax = sum;
	}
	if (nw >= 2 && ymax > 0) {
		double *base = calloc(nw, sizeof(double));

		st_wbuf_printf(o, "<p>load by fingerprint (rps, stacked; %.0f at the top)</p>\n"
			       "<svg width=\"%.0f\" height=\"%.0f\">\n", ymax, W, Hh);
		for (uint32_t m = 0; base != NULL && m < s->n_groups; m++) {
			st_wbuf_printf(o, "<polygon fill=\"%s\" points=\"", palette[m % 8]);
			for (uint32_t t = 0; t < nw; t++)
				st_wbuf_printf(o, "%.1f,%.1f ", W * t / (nw - 1),
					       Hh - Hh * (base[t] + s->gseries[(size_t)m * c->H + t]) / ymax);
			for (uint32_t t = nw; t-- > 0;)
				st_wbuf_printf(o, "%.1f,%.1f ", W * t / (nw - 1), Hh - Hh * base[t] / ymax);
			st_wbuf_printf(o, "\"/>\n");
			for (uint32_t t = 0; t < nw; t++)
				base[t] += s->gseries[(size_t)m * c->H + t];
		}
		st_wbuf_printf(o, "</svg>\n");
		free(base);
	}
	/* the top clients' rate over time, green (0) to red (the highest) */
	for (uint32_t i = 0; i < s->n; i++) {
		uint32_t j = nt < HEAT_CLIENTS ? nt++ : HEAT_CLIENTS;

		if (j == HEAT_CLIENTS) {
			if (s->cl[i].requests <= s->cl[top[HEAT_CLIENTS - 1]].requests)
				continue;
			j = HEAT_CLIENTS - 1;
		}
		while (j > 0 && s->cl[top[j - 1]].requests < s->cl[i].requests) {
			top[j] = top[j - 1];
			j--;
		}
		top[j] = i;
	}
	for (uint32_t r = 0; r < nt; r++)
		for (uint32_t t = 0; t < nw; t++)
			hmax = fmax(hmax, (double)s->cl[top[r]].s[ring(c, s->fit_w0 + t)].req);
	if (nt > 0 && hmax > 0) {
		st_wbuf_printf(o, "<p>top clients' request rate per window (green 0, red %.1f rps)</p>\n"
			       "<table style=\"border-collapse:collapse\">\n", hmax / slot_s);
		for (uint32_t r = 0; r < nt; r++) {
			const struct cl_client *cl = &s->cl[top[r]];

			st_wbuf_printf(o, "<tr><td>");
			st_wbuf_html(o, cl->k);
			st_wbuf_printf(o, " (fp%" PRIu32 ")</td>", cl->label);
			for (uint32_t t = 0; t < nw; t++) {
				double f = (double)cl->s[ring(c, s->fit_w0 + t)].req / hmax;

				st_wbuf_printf(o, "<td style=\"width:6px;background:hsl(%.0f,70%%,50%%)\">"
					       "</td>", 120 * (1 - f));
			}
			st_wbuf_printf(o, "</tr>\n");
		}
		st_wbuf_printf(o, "</table>\n");
	}
	st_wbuf_printf(o, "</section>\n");
}

void an_clients_report(struct an_clients *c, struct st_wbuf *out)
{
	for (uint32_t i = 0; i < c->n_svc; i++)
		if (c->svc[i]->fit_t != 0)
			report_service(c, c->svc[i], out);
}
