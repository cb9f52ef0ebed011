/* A rate history from a capture: the packets a replay would send (the
 * client->server side, classify.c) counted per bin. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "classify.h"
#include "errmsg.h"
#include "history.h"

int lg_history_from_pcap(const char *path, uint64_t bin_ns, struct lg_history *h,
			 struct st_perr *err)
{
	struct lg_capture_opts o = { 0 };
	struct lg_capture cap;
	struct lg_plan plan;
	uint64_t t0, t1, n_bins;
	int rc;

	memset(h, 0, sizeof(*h));
	rc = lg_capture_load(path, &o, &cap, err);
	if (rc < 0)
		return rc;
	rc = lg_classify(&cap, NULL, 0, &plan, err);
	if (rc < 0)
		goto out_cap;
	t0 = t1 = cap.frames[plan.pkts[0].frame].ts_ns;
	for (uint32_t i = 0; i < plan.n; i++) {
		uint64_t ts = cap.frames[plan.pkts[i].frame].ts_ns;

		if (ts < t0)
			t0 = ts;
		if (ts > t1)
			t1 = ts;
	}
	n_bins = (t1 - t0) / bin_ns + 1;
	if (n_bins < 3 || n_bins > LG_HISTORY_MAX_POINTS) {
		lg_errmsg(err, "%s: %llu bins of %.3f s: a history needs 3 to %u", path,
			  (unsigned long long)n_bins, (double)bin_ns / 1e9, LG_HISTORY_MAX_POINTS);
		rc = -EINVAL;
		goto out_plan;
	}
	h->y = calloc(n_bins, sizeof(*h->y));
	if (h->y == NULL) {
		lg_errmsg(err, "out of memory");
		rc = -ENOMEM;
		goto out_plan;
	}
	for (uint32_t i = 0; i < plan.n; i++)
		h->y[(cap.frames[plan.pkts[i].frame].ts_ns - t0) / bin_ns] += 1;
	h->n = (uint32_t)n_bins;
	h->step = (double)bin_ns / 1e9;
	h->t0 = (double)t0 / 1e9;
	for (uint32_t i = 0; i < h->n; i++)
		h->y[i] /= h->step;
	/* The last bin is cut short by the end of the capture: leave it out
	 * rather than forecast a drop that is not there. */
	h->n--;
	rc = 0;
out_plan:
	lg_plan_free(&plan);
out_cap:
	lg_capture_free(&cap);
	return rc;
}
