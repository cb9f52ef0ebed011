/* Forecast alerts and pre-provisioning (issue #14): for each service whose
 * plan names a `forecast_profile` (shadowtap-forecast's t_seconds,pps), the
 * model (predict.h, the one the recommendation uses) is evaluated along
 * the forecast at the plan's current instance count, and an alert is
 * raised when a threshold will be crossed:
 *   utilization  the forecast rate over current x capacity passes
 *                alert_utilization;
 *   slo          the p99 bound passes alert_p99 x slo_p99, or the error
 *                rate bound slo_error_rate;
 *   budget       the instances the forecast needs (and the last verdict's
 *                recommendation) cost more per hour than budget_per_hour.
 * Each says when (seconds ahead and the absolute time), the value, and the
 * instance count that avoids it: what to add, and how long before it is
 * needed. It clears when the forecast no longer crosses (the plan got the
 * count, the forecast or the model changed).
 *
 * The profile's t = 0 is the file's modification time (when
 * shadowtap-forecast wrote it); a rewritten file is read again. Runs on
 * the main loop once a second; a service costs a few bisections of model
 * evaluations per kind. */
#ifndef AN_ALERT_H
#define AN_ALERT_H

#include <stdbool.h>
#include <stdint.h>

#include "clock.h"
#include "engine.h"

/* enum an_alert_kind and struct an_alert, kept in struct an_service, are in
 * predict.h. */

struct an_alerter;
/* Publishes one alert.<service> message (msgpack map in buf[0..len)). */
typedef void (*an_alert_fn)(void *arg, const struct an_service *s, const uint8_t *buf,
			    size_t len);

/* Returns NULL with errno ENOMEM. */
struct an_alerter *an_alerter_create(const struct an_config *cfg);
void an_alerter_destroy(struct an_alerter *a);

/* Evaluates every service due (once a second) and calls fn for each
 * message: a kind raised, changed (another count, a lower one held as
 * an_alert_hold says, or a crossing moved by more than 2 s) or cleared.
 * seq from an_engine_next_seq. Returns
 * the number of messages. Never fails: a profile that can no longer be
 * read is logged once and its alerts clear. */
int an_alerter_tick(struct an_alerter *a, struct an_engine *e, uint64_t wall_ns,
		    an_alert_fn fn, void *arg);

/* A raised alert asks for fewer instances than it last said (o, as sent)
 * only once lower counts have been wanted for AN_ALERT_HOLD_NS on end, and
 * then for the most of them: until then n carries o's count (and its
 * cost), so a capacity estimate wavering at a boundary does not make the
 * count a scaler reads go down and up again (Kubernetes' HPA holds a
 * scale-down the same way). A rise goes out at once. price: the plan's
 * instance_cost_per_hour (< 0: none). */
#define AN_ALERT_HOLD_NS (30 * ST_NS_PER_S)
void an_alert_hold(const struct an_alert *o, struct an_alert *n, enum an_alert_kind k,
		   uint64_t wall_ns, double price);

/* Encodes one alert message (docs/wire.md, alert.<service>). state
 * "raise" or "clear". Returns 0 or -ENOMEM. */
int an_alert_encode(const struct an_alert *al, enum an_alert_kind k, const char *service,
		    uint64_t seq, uint64_t t, struct st_wbuf *out);

#endif
