/* The synthetic KPI snapshots of one service (kpi.<service>.synthetic:
 * what the dataplane timed of the injected traffic, for the groups taking
 * it), and a cell's measurement: counters summed, histograms merged. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "clock.h"
#include "log.h"
#include "whatif.h"

#define KPI_MAX_MSG ST_WIRE_MAX_SIZE

struct wi_kpi {
	void *sub;
	char topic[ST_WIRE_TOPIC_MAX];
	uint8_t *buf;
};

static struct st_ratelimit kpi_rl = ST_RATELIMIT_INIT(10ULL * ST_NS_PER_S, 3);

struct wi_kpi *wi_kpi_open(void *zctx, const char *endpoint, const char *service,
			   struct st_perr *err)
{
	struct wi_kpi *k = calloc(1, sizeof(*k));
	int linger = 0;

	if (k == NULL || (k->buf = malloc(KPI_MAX_MSG)) == NULL) {
		free(k);
		wi_msg(err->msg, sizeof(err->msg), "out of memory");
		return NULL;
	}
	snprintf(k->topic, sizeof(k->topic), "%s%s.synthetic", ST_KPI_TOPIC_PREFIX, service);
	k->sub = zmq_socket(zctx, ZMQ_SUB);
	if (k->sub == NULL)
		goto err;
	zmq_setsockopt(k->sub, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_setsockopt(k->sub, ZMQ_SUBSCRIBE, k->topic, strlen(k->topic)) != 0 ||
	    zmq_connect(k->sub, endpoint) != 0)
		goto err;
	return k;
err:
	wi_msg(err->msg, sizeof(err->msg), "kpi_endpoint %s: %s", endpoint,
		 zmq_strerror(zmq_errno()));
	wi_kpi_close(k);
	return NULL;
}

void wi_kpi_close(struct wi_kpi *k)
{
	if (k == NULL)
		return;
	if (k->sub != NULL)
		zmq_close(k->sub);
	free(k->buf);
	free(k);
}

/* Receives one frame; *more says whether another follows. */
static int recv_frame(void *sock, void *buf, size_t cap, bool *more)
{
	int m = 0;
	size_t ml = sizeof(m);
	int n = zmq_recv(sock, buf, cap, ZMQ_DONTWAIT);

	if (n >= 0 && zmq_getsockopt(sock, ZMQ_RCVMORE, &m, &ml) != 0)
		m = 0;
	*more = m != 0;
	return n;
}

int wi_kpi_next(struct wi_kpi *k, uint64_t timeout_ns, struct wi_snap *s)
{
	uint64_t deadline = st_mono_ns() + timeout_ns;
	zmq_pollitem_t it = { .socket = k->sub, .events = ZMQ_POLLIN };
	char topic[ST_WIRE_TOPIC_MAX];
	struct st_wire_error we;
	enum st_hist_derr he;
	char why[200];

	memset(s, 0, sizeof(*s));
	while (!wi_stop) {
		uint64_t now = st_mono_ns();
		bool more;
		int n, t;

		if (now >= deadline)
			return 0;
		n = zmq_poll(&it, 1, 100);
		if (n < 0) {
			if (zmq_errno() == EINTR)
				continue;
			ST_ERR("zmq_poll: %s", zmq_strerror(zmq_errno()));
			return -EIO;
		}
		if (n == 0)
			continue;
		t = recv_frame(k->sub, topic, sizeof(topic) - 1, &more);
		if (t < 0)
			continue;
		if (!more)
			continue;	/* a one-frame message is not a snapshot */
		n = recv_frame(k->sub, k->buf, KPI_MAX_MSG, &more);
		while (more) {		/* frames beyond the contract's two */
			char drop[64];

			recv_frame(k->sub, drop, sizeof(drop), &more);
		}
		/* ZeroMQ matches the subscription as a prefix. */
		if (t != (int)strlen(k->topic) || memcmp(topic, k->topic, (size_t)t) != 0 || n < 0)
			continue;
		if (n > (int)KPI_MAX_MSG || st_kpi_decode(k->buf, (size_t)n, &s->k, &we) != 0) {
			if (n > (int)KPI_MAX_MSG)
				wi_msg(why, sizeof(why), "larger than %u bytes", KPI_MAX_MSG);
			else
				st_wire_error_fmt(&we, why, sizeof(why));
			st_log_rl(&kpi_rl, ST_LOG_WARN, "a malformed KPI snapshot skipped: %s", why);
			continue;
		}
		if (s->k.lat_len > 0) {
			s->lat = st_hist_decode_v2(s->k.lat, s->k.lat_len, &he);
			if (s->lat == NULL) {
				st_log_rl(&kpi_rl, ST_LOG_WARN,
					  "a KPI snapshot with a bad histogram skipped: %s",
					  st_hist_derr_str(he));
				continue;
			}
		}
		s->k.lat = NULL;	/* points into k->buf, reused */
		return 1;
	}
	return 0;
}

void wi_snap_release(struct wi_snap *s)
{
	st_hist_destroy(s->lat);
	s->lat = NULL;
}

bool wi_snap_quiet(const struct wi_snap *s)
{
	const struct st_kpi *k = &s->k;

	return k->pkts == 0 && k->rx_pkts == 0 && k->requests == 0 && k->responses == 0 &&
	       k->timeouts == 0 && k->resets == 0 && k->icmp_errors == 0;
}

int wi_acc_init(struct wi_acc *a)
{
	memset(a, 0, sizeof(*a));
	/* The dataplane's layout (1 ns to 60 s, 3 digits): merges add
	 * index by index. */
	a->lat = st_hist_create(1, 60 * (int64_t)ST_NS_PER_S, 3);
	return a->lat == NULL ? -ENOMEM : 0;
}

void wi_acc_free(struct wi_acc *a)
{
	st_hist_destroy(a->lat);
	a->lat = NULL;
}

void wi_acc_reset(struct wi_acc *a)
{
	struct st_hist *h = a->lat;

	st_hist_reset(h);
	memset(a, 0, sizeof(*a));
	a->lat = h;
}

void wi_acc_add(struct wi_acc *a, const struct wi_snap *s)
{
	const struct st_kpi *k = &s->k;

	a->pkts += k->pkts;
	a->rx_pkts += k->rx_pkts;
	a->requests += k->requests;
	a->responses += k->responses;
	a->timeouts += k->timeouts;
	a->resets += k->resets;
	a->icmp_errors += k->icmp_errors;
	a->ns += k->t1 - k->t0;
	a->windows++;
	if (s->lat != NULL)
		st_hist_add(a->lat, s->lat);
}
