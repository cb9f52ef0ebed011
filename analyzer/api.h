/* The analyzer's HTTP surface (docs/analyzer.md, "HTTP API"): /metrics,
 * /api/v1/services[/{name}[/plan]], /api/v1/events (SSE), /healthz,
 * /readyz and the dashboard at /, on common/http.c's threads.
 *
 * The main loop owns the engine; the HTTP threads never touch it. Per
 * round the loop calls an_api_round, which publishes a snapshot
 * (snapshot.h), hands queued events to the stream (events.h) and applies
 * a plan change an HTTP client is waiting for; each takes its lock with
 * trylock, so the loop never waits for an HTTP thread. */
#ifndef AN_API_H
#define AN_API_H

#include "engine.h"

struct an_api;
struct an_out;

/* Starts the server per cfg->http (cfg and e are borrowed and must
 * outlive the api). Returns the api, or NULL with errno and err->msg
 * (a refused bind, a missing token for a non-loopback address, ...). */
struct an_api *an_api_start(const struct an_config *cfg, struct an_engine *e,
			    struct st_perr *err);

/* Ends the event streams, stops the server (joins its threads) and frees
 * everything. NULL is a no-op. */
void an_api_stop(struct an_api *a);

/* The publisher whose counters the snapshots carry (borrowed; it must
 * outlive the api, and only the main loop writes it). */
void an_api_outputs(struct an_api *a, const struct an_out *out);

/* Main loop, once per round. Never blocks. */
void an_api_round(struct an_api *a, uint64_t mono_ns, uint64_t wall_ns);

/* Main loop: a verdict or an anomaly (msgpack map) was published; both go
 * to the event stream in this order, and the next round publishes a
 * snapshot. */
void an_api_verdict(struct an_api *a, const struct st_verdict *v);
void an_api_anomaly(struct an_api *a, const char *service, const uint8_t *buf, size_t len);
/* Main loop: an alert.<service> message (msgpack map, alert.c) went out:
 * to the event stream as `event: alert`, and the next snapshot. */
void an_api_alert(struct an_api *a, const uint8_t *buf, size_t len);

/* The port listened on. */
uint16_t an_api_port(const struct an_api *a);

#endif
