#include <errno.h>
#include <string.h>

#include <rte_common.h>
#include <rte_malloc.h>

#include "flowtab.h"

_Static_assert(sizeof(struct dp_flow) == RTE_CACHE_LINE_SIZE,
	       "a flow's hot part is one cache line");

int dp_flowtab_init(struct dp_flowtab *t, uint32_t max_flows, uint32_t targets, int socket)
{
	uint32_t slots = rte_align32pow2(max_flows * 2);

	memset(t, 0, sizeof(*t));
	if ((targets >> DP_MAX_TARGETS) != 0)
		return -EINVAL;
	targets |= 1u << DP_TARGET_PROD;
	for (int tg = 0; tg < DP_MAX_TARGETS; tg++)
		t->col[tg] = (targets >> tg) & 1 ? (int8_t)t->stride++ : -1;
	t->e = rte_zmalloc_socket("st_flows", sizeof(*t->e) * slots, RTE_CACHE_LINE_SIZE,
				  socket);
	t->cold = rte_zmalloc_socket("st_flow_pend", sizeof(*t->cold) * t->stride * slots,
				     RTE_CACHE_LINE_SIZE, socket);
	if (t->e == NULL || t->cold == NULL) {
		dp_flowtab_fini(t);
		return -ENOMEM;
	}
	t->mask = slots - 1;
	t->max = max_flows;
	return 0;
}

void dp_flowtab_fini(struct dp_flowtab *t)
{
	rte_free(t->e);
	rte_free(t->cold);
	t->e = NULL;
	t->cold = NULL;
}

struct dp_flow *dp_flowtab_add_at(struct dp_flowtab *t, uint32_t i,
				  const struct st_flow_key *k, uint32_t hash)
{
	if (t->n >= t->max)
		return NULL;
	memset(&t->e[i], 0, sizeof(t->e[i]));
	memset(&t->cold[(size_t)i * t->stride], 0, sizeof(*t->cold) * t->stride);
	t->e[i].key = *k;
	t->e[i].hash = hash;
	t->n++;
	return &t->e[i];
}

void dp_flowtab_remove(struct dp_flowtab *t, struct dp_flow *f)
{
	uint32_t hole = (uint32_t)(f - t->e), i = hole;

	/* Backward shift: pull later entries of the probe run into the hole
	 * when their home slot allows it, so lookups never need tombstones. */
	for (;;) {
		uint32_t home;

		i = (i + 1) & t->mask;
		if (!dp_flow_used(&t->e[i]))
			break;
		home = t->e[i].hash & t->mask;
		/* Movable if home is cyclically outside (hole, i]. */
		if ((i > hole && (home <= hole || home > i)) ||
		    (i < hole && (home <= hole && home > i))) {
			t->e[hole] = t->e[i];
			memcpy(&t->cold[(size_t)hole * t->stride], &t->cold[(size_t)i * t->stride],
			       sizeof(*t->cold) * t->stride);
			hole = i;
		}
	}
	t->e[hole].key.family = 0;
	t->n--;
}
