/* The HTML report: one self-contained page (inline SVG and CSS, no
 * script, no external asset) per run: latency percentiles of prod, shadow
 * and the prediction; p99 per window with the verdicts marked; request
 * rate per instance against latency with the fitted curve; the verdict
 * table with every KPI. */
#ifndef AN_REPORT_H
#define AN_REPORT_H

#include "engine.h"
#include "parse.h"

/* Renders the engine's services into text (appended). Returns 0/-ENOMEM. */
int an_report_render(struct an_engine *e, struct st_wbuf *out);

/* Writes the report to path (via a temporary file and rename). Returns 0
 * or a negative errno with err->msg. */
int an_report_write(struct an_engine *e, const char *path, struct st_perr *err);

#endif
