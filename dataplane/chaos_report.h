/* The chaos in force on a group as the outside sees it (struct st_chaos,
 * wire.h): the control `stats` reply and the KPI snapshots both say it
 * through this one function, so they never disagree. Main lcore only: it
 * reads the group's chaos_params, which only the main lcore writes. */
#ifndef DP_CHAOS_REPORT_H
#define DP_CHAOS_REPORT_H

#include <stdbool.h>

#include "dataplane.h"
#include "shadow.h"
#include "wire.h"

/* Fills out with g's chaos: every impairment key (chaos_fx.h's, as the
 * control `chaos` command takes them), loss, the down instance's address
 * ("" when all are up) and respread. Returns whether any chaos is on.
 * Never fails; O(keys). */
bool dp_chaos_report(const struct dp_app *app, const struct dp_group *g, struct st_chaos *out);

#endif
