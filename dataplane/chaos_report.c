#include <stdio.h>
#include <string.h>

#include "chaos_report.h"
#include "parse.h"

bool dp_chaos_report(const struct dp_app *app, const struct dp_group *g, struct st_chaos *out)
{
	uint64_t cw = __atomic_load_n(&g->chaos, __ATOMIC_RELAXED);
	const struct dp_shadow_cfg *sc = &app->cfg.shadows[g - app->groups];
	int down = dp_chaos_down(cw);

	memset(out, 0, sizeof(*out));
	if (down >= 0 && down < sc->n_instances)
		st_ip_fmt(&sc->instances[down].addr, out->down, sizeof(out->down));
	for (size_t i = 0; i < dp_chaos_n_param_keys && out->n_params < ST_CHAOS_MAX_PARAMS; i++) {
		struct st_chaos_param *p = &out->params[out->n_params++];

		snprintf(p->key, sizeof(p->key), "%s", dp_chaos_param_keys[i]);
		dp_chaos_param_fmt(&g->chaos_params, dp_chaos_param_keys[i], p->value,
				   sizeof(p->value));
	}
	out->loss = (double)dp_chaos_loss_thr(cw) / 4294967296.0;
	out->respread = dp_chaos_respread(cw);
	return cw != 0 || dp_chaos_params_any(&g->chaos_params);
}
