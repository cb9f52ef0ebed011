#include <errno.h>
#include <string.h>

#include <zmq.h>

#include "clock.h"
#include "publish.h"
#include "zsec.h"

int an_out_open(struct an_out *o, void *ctx, const struct an_config *cfg,
		struct st_perr *err)
{
	int hwm = 100000, linger = 0, rc;

	memset(o, 0, sizeof(*o));
	o->rl = (struct st_ratelimit)ST_RATELIMIT_INIT(ST_NS_PER_S, 1);
	st_wbuf_init(&o->mp);
	st_wbuf_init(&o->text);
	if (!msgpack_zone_init(&o->zone, 8192)) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	if (cfg->verdict_endpoint[0] != '\0' && strcmp(cfg->verdict_endpoint, "none") != 0) {
		o->sock = zmq_socket(ctx, ZMQ_PUB);
		if (o->sock == NULL)
			goto zerr;
		zmq_setsockopt(o->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
		zmq_setsockopt(o->sock, ZMQ_LINGER, &linger, sizeof(linger));
		if (cfg->curve_secret_key[0] != '\0') {
			rc = st_zsec_server_setup(o->sock, cfg->curve_secret_key, NULL, err);
			if (rc != 0)
				goto err;
		}
		if (zmq_bind(o->sock, cfg->verdict_endpoint) != 0)
			goto zerr;
	}
	if (strcmp(cfg->json_out, "-") == 0) {
		o->json = stdout;
	} else if (cfg->json_out[0] != '\0') {
		o->json = fopen(cfg->json_out, "a");
		if (o->json == NULL) {
			rc = -errno;
			snprintf(err->msg, sizeof(err->msg), "json_out %.100s: %s", cfg->json_out,
				 strerror(errno));
			goto err;
		}
		o->json_owned = true;
	}
	return 0;
zerr:
	rc = -zmq_errno();
	snprintf(err->msg, sizeof(err->msg), "verdict_endpoint %.100s: %s", cfg->verdict_endpoint,
		 zmq_strerror(zmq_errno()));
err:
	an_out_close(o);
	return rc;
}

void an_out_close(struct an_out *o)
{
	if (o->sock != NULL)
		zmq_close(o->sock);
	if (o->json_owned && o->json != NULL)
		fclose(o->json);
	else if (o->json != NULL)
		fflush(o->json);
	o->sock = NULL;
	o->json = NULL;
	st_wbuf_free(&o->mp);
	st_wbuf_free(&o->text);
	msgpack_zone_destroy(&o->zone);
}

int an_verdict_json(const struct st_verdict *v, struct st_wbuf *mp,
		    msgpack_zone *zone, struct st_wbuf *text)
{
	struct st_wire_error err;
	msgpack_object obj;
	int rc;

	rc = st_verdict_encode(v, mp);
	if (rc != 0)
		return rc;
	msgpack_zone_clear(zone);
	rc = st_wire_parse(mp->data, mp->len, NULL, zone, &obj, &err);
	if (rc != 0)
		return rc == -ENOMEM ? -ENOMEM : -EINVAL;
	st_wbuf_reset(text);
	return st_wire_to_json(&obj, text);
}

static void send2(struct an_out *o, const char *topic, const void *buf, size_t len)
{
	if (zmq_send(o->sock, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(o->sock, buf, len, ZMQ_DONTWAIT) < 0) {
		o->send_errors++;
		return;
	}
	o->sent++;
}

int an_out_verdict(struct an_out *o, const struct st_verdict *v)
{
	char topic[ST_WIRE_TOPIC_MAX];
	int rc;

	rc = an_verdict_json(v, &o->mp, &o->zone, &o->text);
	if (rc != 0)
		return rc;
	if (o->sock != NULL && st_verdict_topic(v, topic, sizeof(topic)) > 0)
		send2(o, topic, o->mp.data, o->mp.len);
	if (o->json != NULL) {
		/* a line is counted once written: a full disk or a reader
		 * gone (EPIPE: SIGPIPE is ignored) loses it, counted, said */
		bool ok = fwrite(o->text.data, 1, o->text.len, o->json) == o->text.len;

		ok = fputc('\n', o->json) != EOF && ok;
		ok = fflush(o->json) == 0 && ok;
		if (ok) {
			o->json_lines++;
		} else {
			o->json_errors++;
			st_log_rl(&o->rl, ST_LOG_WARN, "json_out: a verdict line not written: %s",
				  strerror(errno));
			clearerr(o->json);
		}
	}
	return 0;
}

int an_out_anomaly(struct an_out *o, const char *service, const uint8_t *buf,
		   size_t len)
{
	char topic[ST_WIRE_TOPIC_MAX];

	if (o->sock == NULL)
		return 0;
	snprintf(topic, sizeof(topic), "anomaly.%s", service);
	send2(o, topic, buf, len);
	return 0;
}

int an_out_topic(struct an_out *o, const char *topic, const uint8_t *buf, size_t len)
{
	if (o->sock == NULL)
		return 0;
	send2(o, topic, buf, len);
	return 0;
}

int an_out_alert(struct an_out *o, const char *service, const uint8_t *buf, size_t len)
{
	char topic[ST_WIRE_TOPIC_MAX];

	if (o->sock == NULL)
		return 0;
	snprintf(topic, sizeof(topic), "alert.%s", service);
	send2(o, topic, buf, len);
	return 0;
}
