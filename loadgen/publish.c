#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "errmsg.h"
#include "publish.h"

struct lg_pub {
	void *ctx;
	void *sock;
	struct st_kpi kpi;
	struct st_wbuf buf;
	char topic[ST_WIRE_TOPIC_MAX];
};

struct lg_pub *lg_pub_open(const char *endpoint, const char *service,
			   const char *src, struct st_perr *err)
{
	struct lg_pub *p = calloc(1, sizeof(*p));
	int linger = 200, e;

	if (p == NULL) {
		lg_errmsg(err, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	st_wbuf_init(&p->buf);
	if (!st_wire_name_ok(service, strlen(service)) ||
	    strlen(src) == 0 || strlen(src) >= sizeof(p->kpi.src)) {
		lg_errmsg(err, "--service '%.60s' must be 1-63 of [A-Za-z0-9_-] and --publisher-id "
			 "1-63 bytes", service);
		e = EINVAL;
		goto err;
	}
	snprintf(p->kpi.service, sizeof(p->kpi.service), "%s", service);
	snprintf(p->kpi.src, sizeof(p->kpi.src), "%s", src);
	snprintf(p->kpi.target, sizeof(p->kpi.target), "synthetic");
	p->kpi.role = ST_ROLE_LOADGEN;
	if (st_kpi_topic(&p->kpi, p->topic, sizeof(p->topic)) < 0) {
		lg_errmsg(err, "cannot make the KPI topic");
		e = EINVAL;
		goto err;
	}
	p->ctx = zmq_ctx_new();
	p->sock = p->ctx ? zmq_socket(p->ctx, ZMQ_PUB) : NULL;
	if (p->sock == NULL) {
		e = errno;
		lg_errmsg(err, "zmq socket: %s", zmq_strerror(e));
		goto err;
	}
	zmq_setsockopt(p->sock, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_bind(p->sock, endpoint) != 0) {
		e = errno;
		lg_errmsg(err, "--kpi-endpoint %.100s: %s", endpoint,
			 zmq_strerror(e));
		goto err;
	}
	return p;
err:
	lg_pub_close(p);
	errno = e;
	return NULL;
}

int lg_pub_send(struct lg_pub *p, uint64_t t0, uint64_t t1, uint64_t pkts,
		uint64_t bytes, double offered_rps, const char *const *drop_names,
		const uint64_t *drops, int n_drops)
{
	struct st_kpi *k = &p->kpi;
	int rc;

	k->seq++;
	k->t0 = t0;
	k->t1 = t1 < t0 ? t0 : t1;
	k->pkts = pkts;
	k->bytes = bytes;
	k->offered_rps = offered_rps >= 0 ? offered_rps : 0;
	k->n_drops = 0;
	for (int i = 0; i < n_drops && k->n_drops < ST_KPI_MAX_DROPS; i++) {
		snprintf(k->drops[k->n_drops].reason, sizeof(k->drops[0].reason), "%s",
			 drop_names[i]);
		k->drops[k->n_drops++].count = drops[i];
	}
	rc = st_kpi_encode(k, &p->buf);
	if (rc < 0)
		return rc;
	if (zmq_send(p->sock, p->topic, strlen(p->topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(p->sock, p->buf.data, p->buf.len, ZMQ_DONTWAIT) < 0)
		return -errno;
	return 0;
}

void lg_pub_close(struct lg_pub *p)
{
	if (p == NULL)
		return;
	if (p->sock)
		zmq_close(p->sock);
	if (p->ctx)
		zmq_ctx_term(p->ctx);
	st_wbuf_free(&p->buf);
	free(p);
}
