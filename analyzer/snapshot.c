#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"

int an_snapper_init(struct an_snapper *s)
{
	memset(s, 0, sizeof(*s));
	s->dirty = true;
	return -pthread_mutex_init(&s->mu, NULL);
}

static void svc_put(struct an_snap_service *v)
{
	if (v != NULL && atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) == 1)
		free(v);
}

void an_snap_put(struct an_snap *snap)
{
	if (snap == NULL || atomic_fetch_sub_explicit(&snap->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (uint32_t i = 0; i < snap->n; i++)
		svc_put(snap->svc[i]);
	free(snap->svc);
	free(snap);
}

void an_snapper_fini(struct an_snapper *s)
{
	an_snap_put(s->cur);
	an_snap_put(s->pending);
	s->cur = s->pending = NULL;
	pthread_mutex_destroy(&s->mu);
}

struct an_snap *an_snap_get(struct an_snapper *s)
{
	struct an_snap *snap;

	pthread_mutex_lock(&s->mu);
	snap = s->cur;
	if (snap != NULL)
		atomic_fetch_add_explicit(&snap->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&s->mu);
	return snap;
}

const struct an_snap_service *an_snap_service(const struct an_snap *snap, const char *name)
{
	for (uint32_t i = 0; i < snap->n; i++)
		if (strcmp(snap->svc[i]->name, name) == 0)
			return snap->svc[i];
	return NULL;
}

static void svc_key(const struct an_service *es, uint64_t key[7])
{
	key[6] = es->alert_seq;
	key[4] = es->model.version;
	key[5] = es->pred_seq;
	key[0] = es->plan_changes << 1 | es->has_plan;
	key[1] = es->has_last ? es->last.seq + 1 : 0;
	key[2] = (uint64_t)es->n_evals << 32 | es->evals_head;
	key[3] = es->has_last ? es->last.t : 0;
}

/* A service's entry: the previous one when nothing changed, else a copy. */
static struct an_snap_service *svc_entry(const struct an_service *es,
					 const struct an_snap_service *prev,
					 uint64_t window_ns)
{
	struct an_snap_service *v;
	uint64_t key[7];
	uint32_t n, first;

	svc_key(es, key);
	if (prev != NULL && memcmp(prev->key, key, sizeof(key)) == 0 &&
	    strcmp(prev->name, es->name) == 0) {
		/* Shared, read-only: the cast only takes a reference. */
		v = (struct an_snap_service *)(uintptr_t)prev;
		atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
		return v;
	}
	v = malloc(sizeof(*v));
	if (v == NULL)
		return NULL;
	memset(v, 0, offsetof(struct an_snap_service, evals));
	atomic_init(&v->refs, 1);
	memcpy(v->key, key, sizeof(key));
	snprintf(v->name, sizeof(v->name), "%s", es->name);
	v->has_plan = es->has_plan;
	v->plan = es->plan;
	v->plan_changes = es->plan_changes;
	v->last_plan = es->last_plan;
	v->has_last = es->has_last;
	if (es->has_last)
		v->last = es->last;
	v->model = es->model;
	v->pred = es->pred;
	v->has_pred = es->has_pred;
	memcpy(v->alert, es->alert, sizeof(v->alert));
	n = es->n_evals < AN_SNAP_EVALS ? es->n_evals : AN_SNAP_EVALS;
	first = (es->evals_head + AN_EVALS_MAX - n) % AN_EVALS_MAX;
	for (uint32_t i = 0; es->evals != NULL && i < n; i++)
		v->evals[i] = es->evals[(first + i) % AN_EVALS_MAX];
	v->n_evals = es->evals != NULL ? n : 0;
	if (v->n_evals > 0) {
		const struct an_eval *e = &v->evals[v->n_evals - 1];
		uint64_t end = (uint64_t)(e->w + 1) * window_ns;

		v->verdict_latency_ns = e->w >= 0 && e->t > end ? e->t - end : 0;
	}
	return v;
}

static struct an_snap *build(struct an_snapper *s, struct an_engine *e, uint64_t wall_ns)
{
	const struct an_snap *prev = s->pending != NULL ? s->pending : s->cur;
	uint32_t n = an_engine_n_services(e);
	struct an_snap *snap = calloc(1, sizeof(*snap));

	if (snap == NULL)
		return NULL;
	atomic_init(&snap->refs, 1);
	snap->svc = calloc(n ? n : 1, sizeof(*snap->svc));
	if (snap->svc == NULL) {
		free(snap);
		return NULL;
	}
	snap->seq = ++s->seq;
	snap->extra = s->extra;
	snap->wall_ns = wall_ns;
	snap->window_ns = an_engine_config(e)->window_ns;
	snap->model_weight = an_engine_config(e)->model_weight;
	snap->response_timeout_ns = an_engine_config(e)->response_timeout_ns;
	snap->counters = *an_engine_counters(e);
	if (snap->counters.kpi_merged != s->last_merged) {
		s->last_merged = snap->counters.kpi_merged;
		s->last_merge_wall = wall_ns;
	}
	snap->last_merge_wall_ns = s->last_merge_wall;
	for (uint32_t i = 0; i < n; i++) {
		const struct an_service *es = an_engine_service_at(e, i);
		/* Services only ever get appended: same index, same service. */
		const struct an_snap_service *p = prev != NULL && i < prev->n ? prev->svc[i] : NULL;

		snap->svc[i] = svc_entry(es, p, snap->window_ns);
		if (snap->svc[i] == NULL) {
			snap->n = i;
			an_snap_put(snap);
			return NULL;
		}
		snap->n = i + 1;
	}
	return snap;
}

void an_snapper_round(struct an_snapper *s, struct an_engine *e, uint64_t mono_ns,
		      uint64_t wall_ns, const struct an_snap_extra *x)
{
	struct an_snap *old;

	s->extra = *x;
	s->extra.snapshots_built = s->built;
	s->extra.snapshots_deferred = s->deferred;
	if (s->dirty || mono_ns - s->last_build_mono >= AN_SNAP_PERIOD_NS) {
		struct an_snap *snap = build(s, e, wall_ns);

		if (snap != NULL) {
			an_snap_put(s->pending);
			s->pending = snap;
			s->dirty = false;
			s->last_build_mono = mono_ns;
			s->built++;
		}
	}
	if (s->pending == NULL)
		return;
	if (pthread_mutex_trylock(&s->mu) != 0) {
		s->deferred++;
		return;
	}
	old = s->cur;
	s->cur = s->pending;
	s->pending = NULL;
	pthread_mutex_unlock(&s->mu);
	an_snap_put(old);
}
