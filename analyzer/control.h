/* The analyzer's control socket (ZeroMQ REP, msgpack maps with `cmd`):
 *   propose  {service, and any [service.*] key: current_instances,
 *             proposed_instances, forecast_rps, slo_p99 (a duration string
 *             such as "50ms", or a number of nanoseconds), slo_error_rate,
 *             shadow, ...}: sets the plan; keys not given keep their value
 *             (a new service starts from the defaults). The whole plan is
 *             checked before anything changes.
 *   last     {service}: {ok: true, verdict: {...}}, the newest verdict, for
 *             subscribers that joined late.
 *   stats    {}: the ingest counters.
 *   reload   {}: reads the config file again (reload.h): {ok: true,
 *             changed: [...]} or {ok: false, error, errors: [...]}.
 *   whatif   {service, load, instances}: the model's prediction for each
 *             load (rps, or a multiple of the forecast: "2x"; a string,
 *             a number or an array) and instance count ("1-8", 4, [2, 4]),
 *             both defaulting to the plan's forecast and its current and
 *             proposed counts: {ok: true, ...} as GET
 *             /api/v1/services/{name}/whatif answers (predict.h); every
 *             bad parameter named in one error.
 * Replies are {ok: true, ...} or {ok: false, error: "..."}; a bad request
 * changes nothing. */
#ifndef AN_CONTROL_H
#define AN_CONTROL_H

#include "engine.h"

struct an_reload;

struct an_control {
	void *sock;		/* REP */
	msgpack_zone zone;
	struct st_wbuf reply, tmp;
	uint64_t requests, errors;
	struct an_reload *reload;	/* main.c's: `reload` reads the config
					   again (reload.h); NULL: refused */
};

/* Binds the REP socket (CURVE server with curve_secret_key). Returns 0,
 * or a negative errno with err->msg. With control_endpoint "none" or ""
 * sock stays NULL. */
int an_control_open(struct an_control *c, void *ctx, const struct an_config *cfg,
		    struct st_perr *err);
void an_control_close(struct an_control *c);

/* Answers the requests waiting on the socket without blocking (at most
 * 64). Returns how many. */
int an_control_handle(struct an_control *c, struct an_engine *e);

/* Handles one request body and leaves the reply (msgpack) in c->reply.
 * For tests; no socket involved. Returns 0 when the reply is ok: true. */
int an_control_request(struct an_control *c, struct an_engine *e,
		       const void *buf, size_t len);

#endif
