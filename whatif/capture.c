/* The capture's own request rate, which the multiples in `loads` scale:
 * the packets the load generator would send (its classification: the
 * client side of every flow), over the time from the first to the last. */
#include <errno.h>
#include <stdio.h>

#include "capture.h"
#include "classify.h"
#include "whatif.h"

int wi_capture_rate(const char *path, double *pps, uint32_t *n_requests,
		    struct st_perr *err)
{
	struct lg_capture_opts opts = { .skip_cut = false, .max_frames = 0 };
	struct lg_capture cap;
	struct lg_plan plan;
	struct st_perr pe;
	uint64_t t0, t1;
	int rc;

	rc = lg_capture_load(path, &opts, &cap, &pe);
	if (rc < 0) {
		wi_msg(err->msg, sizeof(err->msg), "pcap: %s", pe.msg);
		return rc;
	}
	rc = lg_classify(&cap, NULL, 0, &plan, &pe);
	if (rc < 0) {
		wi_msg(err->msg, sizeof(err->msg), "pcap: %s: no request to replay: %s", path,
			 pe.msg);
		lg_capture_free(&cap);
		return rc;
	}
	t0 = cap.frames[plan.pkts[0].frame].ts_ns;
	t1 = cap.frames[plan.pkts[plan.n - 1].frame].ts_ns;
	*n_requests = plan.n;
	/* One packet, or all at one instant: no rate of its own. */
	*pps = plan.n > 1 && t1 > t0 ? (double)(plan.n - 1) / ((double)(t1 - t0) / 1e9) : 0;
	lg_plan_free(&plan);
	lg_capture_free(&cap);
	return 0;
}
