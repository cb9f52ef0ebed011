#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "control.h"
#include "flow.h"
#include "log.h"
#include "reload.h"
#include "shadow.h"

int dp_reload_init(struct dp_reload *r, struct dp_app *a)
{
	size_t sz = rte_rcu_qsbr_get_memsize(a->n_workers);

	r->n_retired = 0;
	a->qsv = rte_zmalloc("st_qsbr", sz, RTE_CACHE_LINE_SIZE);
	if (a->qsv == NULL || rte_rcu_qsbr_init(a->qsv, a->n_workers) != 0) {
		ST_ERR("cannot set up the workers' quiescent states (%zu bytes)", sz);
		rte_free(a->qsv);
		a->qsv = NULL;
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < a->n_workers; i++)
		rte_rcu_qsbr_thread_register(a->qsv, i);
	return 0;
}

void dp_reload_reclaim(struct dp_reload *r, struct dp_app *a)
{
	int k = 0;

	if (r->n_retired == 0)
		return;
	for (int i = 0; i < r->n_retired; i++) {
		if (rte_rcu_qsbr_check(a->qsv, r->retired[i].token, false) == 1) {
			dp_filter_free(r->retired[i].f);
			r->filters_freed++;
		} else {
			r->retired[k++] = r->retired[i];
		}
	}
	r->n_retired = k;
}

void dp_reload_fini(struct dp_reload *r, struct dp_app *a)
{
	/* The workers are offline: nothing can run these any more. */
	for (int i = 0; i < r->n_retired; i++)
		dp_filter_free(r->retired[i].f);
	r->n_retired = 0;
	rte_free(a->qsv);
	a->qsv = NULL;
}

/* Hands an old filter to the reclaimer: freed once every worker passed a
 * quiescent point after now. When the list is full (32 filter changes
 * within a few milliseconds), waits for the workers: they pass one every
 * loop round, microseconds. */
static void retire(struct dp_reload *r, struct dp_app *a, struct dp_filter *f)
{
	if (f == NULL)
		return;
	if (r->n_retired == DP_RELOAD_RETIRED) {
		rte_rcu_qsbr_check(a->qsv, r->retired[r->n_retired - 1].token, true);
		dp_reload_reclaim(r, a);
	}
	r->retired[r->n_retired].f = f;
	r->retired[r->n_retired].token = rte_rcu_qsbr_start(a->qsv);
	r->n_retired++;
}

/* Splits "shadow.canary.share=0.2" and sets it (main.c's --set). */
static int apply_set(struct dp_config *cfg, const char *arg, struct st_perr *err)
{
	char buf[1024], *eq, *dot;

	snprintf(buf, sizeof(buf), "%s", arg);
	eq = strchr(buf, '=');
	dot = eq ? memrchr(buf, '.', (size_t)(eq - buf)) : NULL;
	if (eq == NULL || dot == NULL || dot == buf) {
		snprintf(err->msg, sizeof(err->msg), "--set '%.100s': expected SECTION.KEY=VALUE",
			 arg);
		return -EINVAL;
	}
	*eq = '\0';
	*dot = '\0';
	return dp_config_set(cfg, buf, dot + 1, eq + 1, err);
}

static int group_index(const struct dp_config *cfg, const char *name)
{
	for (int i = 0; i < cfg->n_shadows; i++)
		if (strcmp(cfg->shadows[i].name, name) == 0)
			return i;
	return -1;
}

/* Puts group gi's changed keys (res) from its new config n in force, each
 * on its own: a value the control socket set for another key stays, even
 * when the two go to the workers together (share and offset, the three
 * rate keys, the chaos word and impairments). fnew is its new filter,
 * compiled already. */
static void apply_group(struct dp_reload *r, struct dp_app *a, struct dp_control *c, int gi,
			const struct dp_shadow_cfg *n, struct dp_filter *fnew,
			const struct dp_reload_result *res)
{
	struct dp_group *g = &a->groups[gi];

#define CHANGED(key) dp_reload_key_changed(res, gi, key)
	/* Packet sampling takes no offset: the range moves to [0, share)
	 * before the group samples packets, and a group going back to flows
	 * does so before its range moves off 0. */
	if (res->g[gi].sampling && n->sampling == DP_SAMPLE_FLOW)
		dp_group_set_sampling(g, n->sampling);
	if (res->g[gi].share || res->g[gi].sampling) {
		/* the range in force, as thresholds of 2^32: exact */
		uint64_t lo = __atomic_load_n(&g->range_lo, __ATOMIC_RELAXED);
		uint64_t hi = __atomic_load_n(&g->range_hi, __ATOMIC_RELAXED);
		double share = CHANGED("share") ? n->share : (double)(hi - lo) / 4294967296.0;
		double offset = CHANGED("share_offset") || res->g[gi].sampling ?
				n->share_offset : (double)lo / 4294967296.0;

		/* A new share in the file ends a lease: the offset is then the
		 * one the lease would have put back, not its own for good. */
		if (c != NULL && c->lease[gi].on && CHANGED("share") && !CHANGED("share_offset") &&
		    !res->g[gi].sampling)
			offset = c->lease[gi].offset;
		if (dp_group_set_share(g, share, offset) != 0)
			dp_group_set_share(g, n->share, n->share_offset);
		/* A lease (set_share ... revert_after) stands while the file
		 * leaves the share alone, and reverts to the share it saved
		 * at the file's new offset; a new share in the file ends it. */
		if (c != NULL && c->lease[gi].on) {
			if (CHANGED("share"))
				c->lease[gi].on = false;
			else
				c->lease[gi].offset = n->share_offset;
		}
	}
	if (res->g[gi].sampling && n->sampling == DP_SAMPLE_PACKET)
		dp_group_set_sampling(g, n->sampling);
	if (CHANGED("burst"))
		__atomic_store_n(&g->burst_ms, n->burst_ms, __ATOMIC_RELAXED);
	if (CHANGED("rate_pps"))
		__atomic_store_n(&g->rate_pps, n->rate_pps, __ATOMIC_RELAXED);
	if (CHANGED("rate_bps"))
		__atomic_store_n(&g->rate_bps, n->rate_bps, __ATOMIC_RELAXED);
	if (CHANGED("instances_active") && g->n_instances > 0)
		dp_group_set_instances(g, n->instances_active > 0 ? n->instances_active :
				       (uint32_t)g->n_instances);
	if (CHANGED("instances_count") || (CHANGED("instances_active") && g->n_instances > 0))
		__atomic_store_n(&g->instances_count, dp_shadow_instances_count(n),
				 __ATOMIC_RELAXED);
	if (res->g[gi].enabled)
		__atomic_store_n(&g->enabled, n->enabled, __ATOMIC_RELAXED);
	if (res->g[gi].chaos) {
		uint64_t w = __atomic_load_n(&g->chaos, __ATOMIC_RELAXED);
		uint64_t loss = CHANGED("chaos_loss") ? st_share_threshold(n->chaos_loss) :
			dp_chaos_loss_thr(w);
		int down = !CHANGED("chaos_down") ? dp_chaos_down(w) :
			   n->has_chaos_down ? dp_shadow_instance_index(n, &n->chaos_down) : -1;
		bool respread = CHANGED("chaos_down_respread") ? n->chaos_down_respread :
				dp_chaos_respread(w);
		struct dp_chaos_params p = g->chaos_params;
		char key[32], why[128];

		for (size_t k = 0; k < dp_chaos_n_param_keys; k++) {
			snprintf(key, sizeof(key), "chaos_%s", dp_chaos_param_keys[k]);
			if (CHANGED(key))
				dp_chaos_param_copy(&p, &n->chaos, dp_chaos_param_keys[k]);
		}
		/* the file's impairments whole when the merge does not hold
		 * together (a jitter kept from the control socket around a
		 * delay the file took away) */
		if (dp_chaos_params_check(&p, why, sizeof(why)) != 0)
			p = n->chaos;
		dp_group_set_chaos(g, dp_chaos_pack(loss, down, respread), &p);
	}
#undef CHANGED
	if (res->g[gi].filter)
		retire(r, a, dp_group_swap_filter(g, fnew));
}

static void log_result(const struct dp_reload_result *res, const char *path)
{
	char line[1024];
	size_t used = 0;

	if (!res->ok) {
		for (int i = 0; i < res->n_errors; i++)
			ST_ERR("reload of %s refused: %s", path, res->errors[i]);
		if (res->n_errors_total > res->n_errors)
			ST_ERR("reload of %s refused: and %d more reasons", path,
			       res->n_errors_total - res->n_errors);
		ST_ERR("reload of %s refused: nothing changed", path);
		return;
	}
	line[0] = '\0';
	for (int i = 0; i < res->n_changed && used < sizeof(line) - 1; i++) {
		int k = snprintf(line + used, sizeof(line) - used, "%s%s", i ? ", " : "",
				 res->changed[i]);

		if (k < 0)
			break;
		used += (size_t)k;
		if (used >= sizeof(line))
			used = sizeof(line) - 1;
	}
	ST_NOTICE("reload of %s: %d changed%s%s%s", path, res->n_changed_total,
		  res->n_changed ? ": " : "", line,
		  res->n_changed_total > res->n_changed ? ", ..." : "");
}

int dp_reload_run(struct dp_reload *r, struct dp_app *a, struct dp_control *c,
		  struct dp_reload_result *res)
{
	struct dp_filter *fnew[DP_MAX_SHADOWS] = { NULL };
	struct dp_config *nc;
	struct st_perr err;
	enum st_log_level lvl = ST_LOG_NOTICE;
	int rc;

	memset(res, 0, sizeof(*res));
	/* dp_config is large (its groups): not on the main lcore's stack */
	nc = malloc(sizeof(*nc));
	if (nc == NULL) {
		dp_reload_error(res, "out of memory");
		goto refused;
	}
	dp_config_defaults(nc);
	rc = dp_config_load(nc, r->path, &err);
	for (int i = 0; rc == 0 && i < r->n_sets; i++)
		rc = apply_set(nc, r->sets[i], &err);
	if (rc == 0) {
		/* The scenario file was read at start and cannot change at run
		 * time (the diff refuses a new one): not read again, so a file
		 * moved or edited since refuses no reload. */
		char scn[sizeof(nc->chaos_scenario)];
		bool same_scn = strcmp(nc->chaos_scenario, a->cfg.chaos_scenario) == 0;

		memcpy(scn, nc->chaos_scenario, sizeof(scn));
		if (same_scn)
			nc->chaos_scenario[0] = '\0';
		rc = dp_config_validate(nc, &err);
		memcpy(nc->chaos_scenario, scn, sizeof(scn));
	}
	if (rc == 0 && st_log_level_parse(nc->log_level, &lvl) < 0) {
		snprintf(err.msg, sizeof(err.msg), "[dataplane] log_level: '%.40s': expected "
			 "err|warn|notice|info|debug", nc->log_level);
		rc = -EINVAL;
	}
	if (rc != 0) {
		dp_reload_error(res, "%s", err.msg);
		goto refused;
	}
	if (dp_reload_diff(&a->cfg, nc, res) != 0)
		goto refused;
	/* Every new filter compiles before anything changes. */
	for (int gi = 0; gi < a->n_groups; gi++) {
		const struct dp_shadow_cfg *n;

		if (!res->g[gi].filter)
			continue;
		n = &nc->shadows[group_index(nc, a->groups[gi].name)];
		if (dp_filter_compile(n->filter, &fnew[gi], &err) != 0)
			dp_reload_error(res, "[shadow.%s] %s", n->name, err.msg);
	}
	if (res->n_errors_total > 0)
		goto refused;

	for (int gi = 0; gi < a->n_groups; gi++) {
		int ni = group_index(nc, a->groups[gi].name);

		apply_group(r, a, c, gi, &nc->shadows[ni], fnew[gi], res);
		/* The file's settings, for what reads them back (chaos_down's
		 * address, a scenario's checks); only the main lcore does. */
		a->cfg.shadows[gi] = nc->shadows[ni];
	}
	if (res->log_level) {
		st_log_set_level(lvl);
		memcpy(a->cfg.log_level, nc->log_level, sizeof(a->cfg.log_level));
	}
	if (res->stats)
		a->cfg.stats = nc->stats;
	res->ok = true;
	r->done++;
	log_result(res, r->path);
	free(nc);
	return 0;
refused:
	for (int gi = 0; gi < DP_MAX_SHADOWS; gi++)
		dp_filter_free(fnew[gi]);
	memset(res->g, 0, sizeof(res->g));
	res->ok = false;
	r->refused++;
	log_result(res, r->path);
	free(nc);
	return -EINVAL;
}
