/* Client profiles (issue #16, docs/analyzer.md "Client profiles"): the
 * dataplane's clients.<service> messages kept per service as a bounded
 * per-client history, clients grouped into fingerprints (fingerprint.h),
 * a Holt-Winters forecast per fingerprint (common/holt_winters.h) and a
 * pre-allocation signal; published as profile.<service>, served over
 * HTTP, Prometheus and the report.
 *
 * History: slots of the analyzer's `window`, a message counted in the slot
 * of its window's middle; `client_history` slots per service, at most
 * `max_clients` clients each (beyond that the client with the fewest
 * requests in the horizon gives way to a bigger one, or the newcomer is
 * counted in the service's `other`). A slot is closed when a message of a
 * later slot arrives; each closing refits the service's fingerprints over
 * the closed slots.
 *
 * The engine owns it (ingest.c feeds it); only the main loop writes it.
 * HTTP threads read an immutable, reference-counted snapshot the main loop
 * publishes after each refit (an_clients_http_*), never the live state. */
#ifndef AN_CLIENTS_H
#define AN_CLIENTS_H

#include <stdint.h>

#include "config.h"
#include "wire.h"

struct an_engine;
struct an_clients;

/* Every way a clients message can be refused or be odd, counted. */
struct an_clients_counters {
	uint64_t msgs;		/* clients.* messages seen */
	uint64_t merged;
	uint64_t malformed;	/* msgpack or field errors */
	uint64_t bad_version;
	uint64_t oversized;
	uint64_t topic_mismatch;
	uint64_t duplicates;	/* by the publisher's seq (shared with its KPIs) */
	uint64_t shared_src;	/* a seq back to a window its publisher never
				   sent: two publishers on one src */
	uint64_t late;		/* for a slot beyond the horizon */
	uint64_t future;	/* t1 beyond now + max_skew (a gateway's clock
				   ahead): not merged, nor its seq taken */
	uint64_t other_shard;
	uint64_t dropped_limits;/* max_services */
	uint64_t folded;	/* listed clients beyond max_clients: into other */
	uint64_t evicted;	/* tracked clients that gave way to bigger ones */
	uint64_t untracked;	/* client records counted in other: the table was full */
	uint64_t refits;
	uint64_t published;	/* profile messages */
};

/* A profile message is ready: topic "profile.<service>", msgpack map. */
typedef void (*an_profile_fn)(void *arg, const char *topic, const uint8_t *buf, size_t len);

/* NULL with errno ENOMEM. cfg and e are borrowed (e for the plans). */
struct an_clients *an_clients_create(const struct an_config *cfg, struct an_engine *e);
void an_clients_destroy(struct an_clients *c);
void an_clients_set_output(struct an_clients *c, an_profile_fn fn, void *arg);

/* Decodes a clients.* message and checks its topic. Returns the decoded
 * message (valid until the next call) or NULL, the refusal counted and
 * logged through the engine's rate limit. */
const struct st_clients_msg *an_clients_decode(struct an_clients *c, const void *topic,
					       size_t tlen, const void *body, size_t blen);
/* Merges a decoded message (the caller tracked its seq). Refits and
 * publishes when it closes a slot. Returns 0, -ESTALE (late), -ENOSPC
 * (max_services), -EXDEV (another shard's service). O(clients listed),
 * plus the refit: O(n^2) in the clients tracked. */
int an_clients_merge(struct an_clients *c, const struct st_clients_msg *m);
/* A message the caller's seq tracking dropped, counted here: a duplicate,
 * or (shared_src) a step back to a window its publisher never sent. */
void an_clients_count_duplicate(struct an_clients *c, bool shared_src);
void an_clients_count_future(struct an_clients *c);

/* Main loop, once per round: publishes the HTTP snapshot when it changed.
 * Never blocks (trylock; a busy reader defers the swap). */
void an_clients_round(struct an_clients *c);

const struct an_clients_counters *an_clients_counters(const struct an_clients *c);

/* HTTP threads: appends the JSON document to out. what: "clients",
 * "profiles", or "client" (with key). Returns 200, 404 (no such service or
 * client), 503 (no snapshot yet). */
int an_clients_http(struct an_clients *c, const char *service, const char *what,
		    const char *key, struct st_wbuf *out);
/* HTTP threads: the Prometheus families of the profiles and the counters. */
void an_clients_prom(struct an_clients *c, struct st_wbuf *out);
/* Main thread: the report's section (fingerprint table, load by fingerprint
 * over time, the top clients' rate heatmap). */
void an_clients_report(struct an_clients *c, struct st_wbuf *out);

/* One fingerprint's own forecast past a rate (alert.c's prealloc kind). */
struct an_clients_prealloc {
	char label[16];		/* "fp2" */
	double projected_peak;	/* the service's rate were this group alone at its forecast peak */
	double at_rps;		/* the same in the first window past the threshold */
	uint64_t at;		/* wall ns: the start of that window */
};

/* Main loop: 1 when, in the service's newest fit (its windows ending no
 * more than 3 windows before now), some fingerprint's forecast alone takes
 * the service (the others as they are in the last closed window) past
 * threshold_rps within profile_horizon; out names the one crossing first
 * (the highest peak of those crossing at once). 0: a recent fit, no
 * crossing; -1: no recent fit (or no threshold). O(fingerprints x
 * profile_horizon). */
int an_clients_prealloc(const struct an_clients *c, const char *service, double threshold_rps,
			 uint64_t now, struct an_clients_prealloc *out);

/* For tests: the service's fit, in the snapshot's form: n clients
 * assigned, their keys and labels (0: not enough requests to fit).
 * Returns the clients filled (at most max). */
uint32_t an_clients_labels(const struct an_clients *c, const char *service,
			   char (*keys)[ST_CLIENT_KEY_MAX], uint32_t *labels, uint32_t max);

#endif
