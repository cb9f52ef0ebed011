#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kpisim.h"
#include "parse.h"

int ks_init(struct ks_sim *s, uint64_t seed, const char *service, const char *src)
{
	memset(s, 0, sizeof(*s));
	s->rng = seed * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL;
	snprintf(s->service, sizeof(s->service), "%s", service);
	snprintf(s->src, sizeof(s->src), "%s", src);
	/* The dataplane's layout (dataplane/timing.h). */
	s->h = st_hist_create(1, 60LL * 1000 * 1000 * 1000, 3);
	s->enc_cap = 1 << 16;
	s->enc = malloc(s->enc_cap);
	if (s->h == NULL || s->enc == NULL) {
		ks_free(s);
		return -ENOMEM;
	}
	return 0;
}

void ks_free(struct ks_sim *s)
{
	st_hist_destroy(s->h);
	free(s->enc);
	s->h = NULL;
	s->enc = NULL;
}

static uint64_t next(struct ks_sim *s)
{
	/* xorshift64* */
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return s->rng * 2685821657736338717ULL;
}

double ks_uniform(struct ks_sim *s)
{
	return ((double)(next(s) >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(struct ks_sim *s)
{
	return sqrt(-2 * log(ks_uniform(s))) * cos(2 * M_PI * ks_uniform(s));
}

static uint64_t poisson(struct ks_sim *s, double lam)
{
	double x;

	if (lam <= 0)
		return 0;
	if (lam < 30) {
		double l = exp(-lam), p = 1;
		uint64_t k = 0;

		do {
			k++;
			p *= ks_uniform(s);
		} while (p > l);
		return k - 1;
	}
	x = lam + sqrt(lam) * normal(s) + 0.5;
	return x < 0 ? 0 : (uint64_t)x;
}

static uint64_t binomial(struct ks_sim *s, uint64_t n, double p)
{
	uint64_t k = 0;

	if (p <= 0 || n == 0)
		return 0;
	if ((double)n * p < 30 && n < 100000) {
		/* Poisson is what a rare per-request event gives. */
		k = poisson(s, (double)n * p);
		return k > n ? n : k;
	}
	k = (uint64_t)fmax(0, (double)n * p + sqrt((double)n * p * (1 - p)) * normal(s) + 0.5);
	return k > n ? n : k;
}

/* Latency at CDF position u: M/M/1 sojourn Exp(mu - lam) after d0, and a
 * tail regression that stretches the top 5% up to `tail` times. */
static double at_u(const struct ks_target *t, double lam, double u)
{
	double theta = t->mu - lam, v, g;

	if (theta <= 1e-9)
		theta = 1e-9;
	v = t->d0 - log1p(-u) / theta;
	if (t->tail > 1 && u > 0.95) {
		g = 1 + (t->tail - 1) * fmin(1, (u - 0.95) / 0.04);
		v *= g;
	}
	return v;
}

double ks_quantile(const struct ks_target *t, double lam, double q)
{
	return at_u(t, lam, q);
}

/* Erlang C: probability of waiting with c servers at offered load a. */
static double erlang_c(uint32_t c, double a)
{
	double b = 1;

	if (a >= c)
		return 1;
	for (uint32_t k = 1; k <= c; k++)
		b = a * b / (k + a * b);
	return b / (1 - a / c * (1 - b));
}

/* One M/M/c sojourn: service Exp(mu), and with probability C a wait
 * Exp(c mu - c lam). */
static double mmc_sample(struct ks_sim *s, const struct ks_target *t, double lam, double C)
{
	double v = t->d0 - log(ks_uniform(s)) / t->mu;
	double theta = t->instances * (t->mu - lam);

	if (ks_uniform(s) < C)
		v += -log(ks_uniform(s)) / (theta > 1e-9 ? theta : 1e-9);
	return v;
}

/* Customers run through the queue before a window's are recorded, so each
 * window starts from the queue's steady state rather than empty. */
#define LINDLEY_WARMUP 2000

static double svc_draw(struct ks_sim *s, const struct ks_target *t)
{
	double mean = 1 / t->mu;

	if (t->svc == KS_SVC_DET)
		return mean;
	/* 0.9 f + 0.1 (8 f) = mean */
	return ks_uniform(s) < 0.9 ? mean / 1.7 : 8 * mean / 1.7;
}

int ks_fifo_init(struct ks_fifo *q, uint32_t c)
{
	memset(q, 0, sizeof(*q));
	if (c == 0)
		return -EINVAL;
	q->free = calloc(c, sizeof(*q->free));
	if (q->free == NULL)
		return -ENOMEM;
	q->c = c;
	return 0;
}

void ks_fifo_free(struct ks_fifo *q)
{
	free(q->free);
	q->free = NULL;
}

double ks_fifo_next(struct ks_fifo *q, double gap, double svc)
{
	double start, done;
	uint32_t i = 0;

	q->now += gap;
	start = q->free[0] > q->now ? q->free[0] : q->now;
	done = start + svc;
	/* the root (the first free) takes done, then sinks */
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < q->c && q->free[l] < done)
			m = l;
		if (r < q->c && q->free[r] < (m == i ? done : q->free[l]))
			m = r;
		if (m == i)
			break;
		q->free[i] = q->free[m];
		i = m;
	}
	q->free[i] = done;
	return done - q->now;
}

/* Records n sojourn times of one FIFO instance fed Poisson arrivals at lam
 * (Lindley: W' = max(0, W + S - A)). */
static void lindley_record(struct ks_sim *s, const struct ks_target *t, double lam,
			   uint64_t n)
{
	double w = 0;

	for (uint64_t i = 0; i < n + LINDLEY_WARMUP; i++) {
		double x = svc_draw(s, t), a = -log(ks_uniform(s)) / lam;

		if (i >= LINDLEY_WARMUP)
			st_hist_record(s->h, (int64_t)((t->d0 + w + x) * 1e9));
		w = fmax(0, w + x - a);
	}
}

/* The same for `instances` servers sharing one FIFO queue, fed Poisson
 * arrivals at instances * lam. Returns 0 or -ENOMEM. */
static int fifo_record(struct ks_sim *s, const struct ks_target *t, double lam, uint64_t n)
{
	struct ks_fifo q;
	double rate = lam * t->instances;
	int rc = ks_fifo_init(&q, t->instances);

	if (rc != 0)
		return rc;
	for (uint64_t i = 0; i < n + LINDLEY_WARMUP; i++) {
		double x = svc_draw(s, t), a = -log(ks_uniform(s)) / rate;
		double v = ks_fifo_next(&q, a, x);

		if (i >= LINDLEY_WARMUP)
			st_hist_record(s->h, (int64_t)((t->d0 + v) * 1e9));
	}
	ks_fifo_free(&q);
	return 0;
}

int ks_snapshot(struct ks_sim *s, const struct ks_target *t, uint64_t t0,
		uint64_t t1, struct st_wbuf *out, char *topic, size_t topic_len)
{
	double secs = (double)(t1 - t0) / 1e9, lam = t->lam;
	struct st_kpi k;
	uint64_t n, to, rst, ok;
	size_t len;
	int rc;

	if (t->lam_jitter > 0)
		lam *= fmax(0.05, 1 + t->lam_jitter * normal(s));
	n = poisson(s, lam * t->instances * secs * t->share);
	if (t->down > 0 && t->down < t->instances && t->respread) {
		lam *= (double)t->instances / (t->instances - t->down);
		to = binomial(s, n, t->timeout);
	} else if (t->down > 0) {
		uint64_t lost = binomial(s, n, fmin(1, (double)t->down / t->instances));

		to = lost + binomial(s, n - lost, t->timeout);
	} else {
		to = binomial(s, n, t->timeout);
	}
	rst = binomial(s, n - to, t->err);
	ok = n - to - rst;
	st_hist_reset(s->h);
	if (t->shared && t->svc != KS_SVC_EXP) {
		rc = fifo_record(s, t, lam, ok);
		if (rc != 0)
			return rc;
	} else if (t->shared) {
		double C = erlang_c(t->instances, lam * t->instances / t->mu);

		for (uint64_t i = 0; i < ok; i++)
			st_hist_record(s->h, (int64_t)(mmc_sample(s, t, lam, C) * 1e9));
	} else if (t->svc != KS_SVC_EXP) {
		lindley_record(s, t, lam, ok);
	} else {
		for (uint64_t i = 0; i < ok; i++)
			st_hist_record(s->h, (int64_t)(at_u(t, lam, ks_uniform(s)) * 1e9));
	}
	rc = st_hist_encode_v2(s->h, s->enc, s->enc_cap, &len);
	if (rc != 0)
		return rc;
	memset(&k, 0, sizeof(k));
	k.seq = ++s->seq;
	snprintf(k.src, sizeof(k.src), "%s", s->src);
	snprintf(k.service, sizeof(k.service), "%s", s->service);
	snprintf(k.target, sizeof(k.target), "%s", t->name);
	k.role = t->role;
	k.instances = t->instances;
	k.t0 = t0;
	k.t1 = t1;
	k.pkts = n * 2;
	k.bytes = n * 300;
	k.rx_pkts = ok * 2;
	k.rx_bytes = ok * 1200;
	k.requests = n;
	k.responses = ok + rst;
	k.timeouts = to;
	k.resets = rst;
	k.lat = s->enc;
	k.lat_len = len;
	if (t->role == ST_ROLE_LOADGEN)
		k.offered_rps = t->lam * t->instances;
	if (t->chaos) {
		k.has_chaos = true;
		if (t->down > 0)
			snprintf(k.chaos.down, sizeof(k.chaos.down), "198.18.1.%u", 10 + t->instances - 1);
		k.chaos.respread = t->respread;
		k.chaos.n_params = 1;
		snprintf(k.chaos.params[0].key, sizeof(k.chaos.params[0].key), "delay");
		snprintf(k.chaos.params[0].value, sizeof(k.chaos.params[0].value), "0ms");
	}
	rc = st_kpi_encode(&k, out);
	if (rc != 0)
		return rc;
	rc = st_kpi_topic(&k, topic, topic_len);
	return rc < 0 ? rc : 0;
}

int ks_target_parse(const char *spec, struct ks_target *t)
{
	char buf[512], *save = NULL, *tok;
	struct st_perr pe;
	uint64_t ns;

	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "prod");
	t->role = ST_ROLE_PROD;
	t->instances = 1;
	t->lam = 100;
	t->mu = 200;
	t->d0 = 1e-3;
	t->tail = 1;
	t->share = 1;
	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		const char *v;

		if (eq == NULL)
			return -EINVAL;
		*eq = '\0';
		v = eq + 1;
		if (strcmp(tok, "name") == 0)
			snprintf(t->name, sizeof(t->name), "%s", v);
		else if (strcmp(tok, "role") == 0) {
			if (st_role_from_str(v, strlen(v), &t->role) != 0)
				return -EINVAL;
		} else if (strcmp(tok, "instances") == 0)
			t->instances = (uint32_t)atoi(v);
		else if (strcmp(tok, "lam") == 0)
			t->lam = atof(v);
		else if (strcmp(tok, "jitter") == 0)
			t->lam_jitter = atof(v);
		else if (strcmp(tok, "mu") == 0)
			t->mu = atof(v);
		else if (strcmp(tok, "d0") == 0) {
			if (st_parse_duration(v, 0, 3600ULL * 1000000000, &ns, &pe) != 0)
				return -EINVAL;
			t->d0 = (double)ns / 1e9;
		} else if (strcmp(tok, "tail") == 0)
			t->tail = atof(v);
		else if (strcmp(tok, "err") == 0)
			t->err = atof(v);
		else if (strcmp(tok, "shared") == 0)
			t->shared = atoi(v) != 0;
		else if (strcmp(tok, "share") == 0)
			t->share = atof(v);
		else if (strcmp(tok, "timeout") == 0)
			t->timeout = atof(v);
		else if (strcmp(tok, "chaos") == 0)
			t->chaos = atoi(v) != 0;
		else if (strcmp(tok, "down") == 0)
			t->down = (uint32_t)atoi(v);
		else if (strcmp(tok, "respread") == 0)
			t->respread = atoi(v) != 0;
		else if (strcmp(tok, "svc") == 0) {
			if (strcmp(v, "exp") == 0)
				t->svc = KS_SVC_EXP;
			else if (strcmp(v, "det") == 0)
				t->svc = KS_SVC_DET;
			else if (strcmp(v, "bimodal") == 0)
				t->svc = KS_SVC_BIMODAL;
			else
				return -EINVAL;
		} else
			return -EINVAL;
	}
	return t->instances > 0 && t->mu > 0 && t->share > 0 && t->share <= 1 ? 0 : -EINVAL;
}
