#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "reload.h"

/* The [analyzer] keys read where they are used, every time: the judge's
 * thresholds, the stats line, the log level, the report written at exit.
 * The rest sized windows and tables, bound sockets or opened files. */
static const char *const runtime_keys[] = {
	"min_windows", "min_samples", "hysteresis", "alpha", "tolerance", "tolerance_min",
	"tolerance_max", "max_load_cv", "model_weight", "adjust_down", "stats_interval",
	"log_level", "report", "forecast_dir",
};

bool an_reload_key_runtime(const char *key)
{
	for (size_t i = 0; i < sizeof(runtime_keys) / sizeof(runtime_keys[0]); i++)
		if (strcmp(runtime_keys[i], key) == 0)
			return true;
	return false;
}

static void add_item(char (*items)[AN_RELOAD_ITEM_LEN], int *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void add_item(char (*items)[AN_RELOAD_ITEM_LEN], int *n, const char *fmt, ...)
{
	va_list ap;

	if (*n == AN_RELOAD_MAX_ITEMS)
		return;
	va_start(ap, fmt);
	vsnprintf(items[(*n)++], AN_RELOAD_ITEM_LEN, fmt, ap);
	va_end(ap);
}

#define CHANGED(res, ...)							\
	do {									\
		(res)->n_changed_total++;					\
		add_item((res)->changed, &(res)->n_changed, __VA_ARGS__);	\
	} while (0)

#define ERR(res, ...)								\
	do {									\
		(res)->n_errors_total++;					\
		add_item((res)->errors, &(res)->n_errors, __VA_ARGS__);		\
	} while (0)

struct diff_ctx {
	struct an_reload_result *res;
	const char *keys[128];
	int n_keys;
};

static void on_key(void *arg, const char *key)
{
	struct diff_ctx *d = arg;

	CHANGED(d->res, "analyzer.%s", key);
	if (!an_reload_key_runtime(key))
		ERR(d->res, "[analyzer] %s: cannot change at run time (restart)", key);
	else if (d->n_keys < 128)
		d->keys[d->n_keys++] = key;
}

/* The file's errors, one a line, into res. */
static void file_errors(struct an_reload_result *res, const char *buf)
{
	while (*buf != '\0') {
		const char *nl = strchr(buf, '\n');
		size_t len = nl ? (size_t)(nl - buf) : strlen(buf);

		if (len > 0)
			ERR(res, "%.*s", (int)(len < AN_RELOAD_ITEM_LEN - 1 ? len :
					       AN_RELOAD_ITEM_LEN - 1), buf);
		buf += len + (nl != NULL);
	}
}

static void log_result(const struct an_reload *r, const struct an_reload_result *res)
{
	if (!res->ok) {
		for (int i = 0; i < res->n_errors; i++)
			ST_ERR("reload of %s refused: %s", r->path, res->errors[i]);
		if (res->n_errors_total > res->n_errors)
			ST_ERR("reload of %s refused: and %d more reasons", r->path,
			       res->n_errors_total - res->n_errors);
		ST_ERR("reload of %s refused: the running config stays", r->path);
		return;
	}
	ST_NOTICE("reload of %s: %d changed", r->path, res->n_changed_total);
	for (int i = 0; i < res->n_changed; i++)
		ST_NOTICE("reload: %s", res->changed[i]);
	if (res->n_changed_total > res->n_changed)
		ST_NOTICE("reload: and %d more", res->n_changed_total - res->n_changed);
}

int an_reload_run(struct an_reload *r, struct an_engine *e, struct an_reload_result *res)
{
	struct an_config *cur = r->cfg, nc;
	struct diff_ctx d = { .res = res, .n_keys = 0 };
	char *errbuf = malloc(8192);
	uint32_t adds = 0;
	int rc;

	memset(res, 0, sizeof(*res));
	an_config_defaults(&nc);
	if (errbuf == NULL) {
		ERR(res, "out of memory");
		goto refused;
	}
	rc = an_config_load(&nc, r->path, r->sets, r->n_sets, errbuf, 8192);
	if (rc != 0) {
		file_errors(res, errbuf);
		if (res->n_errors_total == 0)
			ERR(res, "%s: %s", r->path, strerror(-rc));
		goto refused;
	}
	an_config_diff(cur, &nc, on_key, &d);
	/* Services: the changed and the new ones must fit max_services. */
	for (uint32_t i = 0; i < nc.n_services; i++) {
		const struct an_service_cfg *s = &nc.services[i];
		const struct an_service_cfg *o = an_config_service(cur, s->name);

		if (!an_shard_owns(&cur->shard, s->name))
			continue;
		if (o == NULL || !an_plan_same(&o->plan, &s->plan)) {
			CHANGED(res, "service.%s%s", s->name,
				 o == NULL ? " (new)" : "");
			if (an_engine_service(e, s->name) == NULL)
				adds++;
		}
	}
	for (uint32_t i = 0; i < cur->n_services; i++)
		if (an_config_service(&nc, cur->services[i].name) == NULL &&
		    an_shard_owns(&cur->shard, cur->services[i].name))
			CHANGED(res, "service.%s (removed: no longer "
				 "judged)", cur->services[i].name);
	if (an_engine_n_services(e) + adds > cur->max_services)
		ERR(res, "[service.*]: %u more services than max_services (%u) holds", adds,
		    cur->max_services);
	if (res->n_errors_total != 0)
		goto refused;

	/* Applied: nothing below can fail but the engine's allocation of a
	 * new service, checked above for room. */
	for (int i = 0; i < d.n_keys; i++)
		an_config_copy_key(cur, &nc, d.keys[i]);
	st_log_set_level(cur->log_level);
	for (uint32_t i = 0; i < nc.n_services; i++) {
		const struct an_service_cfg *s = &nc.services[i];
		const struct an_service_cfg *o = an_config_service(cur, s->name);

		if (!an_shard_owns(&cur->shard, s->name) ||
		    (o != NULL && an_plan_same(&o->plan, &s->plan)))
			continue;
		rc = an_engine_propose(e, s->name, &s->plan);
		if (rc != 0)
			ST_ERR("reload: service %s: %s", s->name, strerror(-rc));
	}
	for (uint32_t i = 0; i < cur->n_services; i++) {
		struct an_service *s;

		if (an_config_service(&nc, cur->services[i].name) != NULL)
			continue;
		s = an_engine_service(e, cur->services[i].name);
		if (s == NULL || !s->has_plan)
			continue;
		/* No plan: no verdicts; the targets, the model and the A/A
		 * pairs stay for when it is listed again. */
		s->has_plan = false;
		s->plan_changes++;
		s->js.has_published = false;
		s->js.pending_count = 0;
	}
	/* The file's services are what the next reload compares with. */
	{
		struct an_service_cfg *tmp = cur->services;
		uint32_t n = cur->n_services;

		cur->services = nc.services;
		cur->n_services = nc.n_services;
		nc.services = tmp;
		nc.n_services = n;
	}
	res->ok = true;
	r->done++;
	log_result(r, res);
	an_config_free(&nc);
	free(errbuf);
	return 0;
refused:
	res->ok = false;
	r->refused++;
	log_result(r, res);
	an_config_free(&nc);
	free(errbuf);
	return -EINVAL;
}
