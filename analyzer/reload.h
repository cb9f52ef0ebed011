/* Live reload of the analyzer (SIGHUP, the control socket's `reload`): the
 * config file it was started with is read again, the command line's --set
 * values applied on top in their order, and the whole checked. A config
 * that does not load or check, or that changes a key that cannot change at
 * run time (endpoints, window, history, HTTP, shard, state file, ...), is
 * refused whole, every reason logged, and the running one stays.
 *
 * Else, at once: the thresholds ([analyzer] min_windows, min_samples,
 * hysteresis, alpha, tolerance*, max_load_cv, model_weight, adjust_down,
 * stats_interval, log_level, report) take their new values, and every
 * [service.*] whose plan changed in the file (or is new) gets it through
 * the path a control `propose` takes (an_engine_propose): its pending
 * verdict starts over, its learned model and A/A history stay. A service
 * removed from the file stops being judged (no plan, no verdicts) and
 * keeps its model, so listing it again resumes from what was learned.
 * Plans set by `propose` or HTTP since stay unless the file changes that
 * service's section: a reload applies what changed in the file. */
#ifndef AN_RELOAD_H
#define AN_RELOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "engine.h"

#define AN_RELOAD_MAX_SETS 64
#define AN_RELOAD_MAX_ITEMS 64
#define AN_RELOAD_ITEM_LEN 200

struct an_reload {
	char path[AN_PATH_MAX];
	const char *sets[AN_RELOAD_MAX_SETS][2];	/* --set KEY VALUE (and the
							   short options), in order */
	int n_sets;
	struct an_config *cfg;		/* the running config (the engine's) */
	uint64_t done, refused;
};

struct an_reload_result {
	bool ok;
	/* "analyzer.alpha", "service.web", "service.old (removed)" */
	char changed[AN_RELOAD_MAX_ITEMS][AN_RELOAD_ITEM_LEN];
	int n_changed;
	int n_changed_total;	/* more than fit are counted */
	char errors[AN_RELOAD_MAX_ITEMS][AN_RELOAD_ITEM_LEN];
	int n_errors;
	int n_errors_total;
};

/* Whether an [analyzer] key may change at run time. */
bool an_reload_key_runtime(const char *key);

/* Reads the config again and applies it to r->cfg and e (see above). res
 * says what changed or every reason it was refused; the outcome is
 * logged. Returns 0 when applied, -EINVAL when refused. Main thread only:
 * the engine and the config are its own. */
int an_reload_run(struct an_reload *r, struct an_engine *e, struct an_reload_result *res);

#endif
