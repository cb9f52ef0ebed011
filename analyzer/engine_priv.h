/* The engine's insides, shared by engine.c (services, windows, judging)
 * and ingest.c (messages, publishers). */
#ifndef AN_ENGINE_PRIV_H
#define AN_ENGINE_PRIV_H

#include "clients.h"
#include "engine.h"
#include "judge.h"
#include "log.h"

/* A publisher's newest window ends kept (ingest.c): a message whose seq
 * goes back is a duplicate when its window ends at one of them (or before
 * them all), else another publisher under the same src. */
#define AN_PUB_ENDS 8
struct an_pub {
	char src[ST_WIRE_NAME_MAX];
	uint64_t last_seq;
	uint64_t max_t1;
	uint64_t ends[AN_PUB_ENDS];	/* a ring of distinct t1, newest at n_ends - 1 */
	uint32_t n_ends;
	bool used;
	bool warned_shared;	/* shared_src warned about once */
};

struct an_engine {
	const struct an_config *cfg;
	bool replay;
	struct st_hist *layout;
	struct an_histdec *dec;
	struct an_judge *judge;
	struct an_service **svc;
	uint32_t n_svc, cap_svc;
	int32_t *svc_hash;		/* open addressing, -1 empty */
	uint32_t svc_hcap;
	struct an_pub *pubs;		/* open addressing */
	uint32_t pub_hcap, n_pubs;
	/* no publisher is forgettable before a window ending past this: a
	 * lower bound of the oldest last window end + PUB_FORGET_NS */
	uint64_t pub_forget_at;
	struct an_counters cnt;
	an_verdict_fn vf;
	an_anomaly_fn af;
	void *arg;
	uint64_t seq;
	uint64_t data_clock;
	struct st_wbuf anomaly;
	struct st_verdict v;
	struct st_kpi kpi;
	struct st_ratelimit rl;
	struct an_clients *clients;	/* client profiles (clients.h) */
};

uint32_t an_hash_str(const char *s);

#endif
