/* Verdicts out: the PUB socket (topic verdict.<service>, anomalies on
 * anomaly.<service>) and JSON lines (stdout or a file), the latter being
 * what the demo prints. Sends never block: a PUB socket drops for slow
 * subscribers by design, and the counters say how many. */
#ifndef AN_PUBLISH_H
#define AN_PUBLISH_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "wire.h"

struct an_out {
	void *sock;		/* PUB, or NULL */
	FILE *json;		/* or NULL */
	bool json_owned;
	struct st_wbuf mp, text;
	msgpack_zone zone;
	uint64_t sent, send_errors, json_lines;
	uint64_t json_errors;	/* lines not written (a full disk, a closed pipe) */
	struct st_ratelimit rl;	/* their warnings */
};

/* Opens what cfg asks for: binds verdict_endpoint on ctx (as a CURVE
 * server when curve_secret_key is set; the caller runs the ZAP handler)
 * and opens json_out. Returns 0 or a negative errno with err->msg. */
int an_out_open(struct an_out *o, void *ctx, const struct an_config *cfg,
		struct st_perr *err);
void an_out_close(struct an_out *o);

/* Publishes a verdict on both outputs. Returns 0 or a negative errno
 * (encoding; a full PUB queue is counted, not an error). ~10 us. */
int an_out_verdict(struct an_out *o, const struct st_verdict *v);
/* Publishes an anomaly map (already encoded) for service. */
int an_out_anomaly(struct an_out *o, const char *service, const uint8_t *buf,
		   size_t len);
/* Publishes an encoded map on the PUB socket under topic (profile.<service>,
 * clients.c). Returns 0; a full queue is counted as for verdicts. */
int an_out_topic(struct an_out *o, const char *topic, const uint8_t *buf, size_t len);

/* Publishes an alert map (already encoded, alert.c) on alert.<service>. */
int an_out_alert(struct an_out *o, const char *service, const uint8_t *buf, size_t len);

/* Renders a verdict as one JSON object (no newline) into text, using mp
 * and zone as scratch. Returns 0, -EINVAL (the verdict does not pass
 * st_verdict_check), -ENOMEM. */
int an_verdict_json(const struct st_verdict *v, struct st_wbuf *mp,
		    msgpack_zone *zone, struct st_wbuf *text);

#endif
