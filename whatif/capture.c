/* The capture's own request rate, which the multiples in `loads` scale:
 * the packets the load generator would send (its classification of the
 * flows loadgen_args keeps: the client side of every flow), over the time
 * from the first to the last. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>

#include "capture.h"
#include "classify.h"
#include "options.h"
#include "whatif.h"

/* loadgen_args as the load generator will read them (whatif's own options
 * before them, as loadgen.c passes them): a typo is refused here, before
 * anything is sent. */
static int parse_lg_args(const char *path, const struct wi_argv *args, struct lg_config *lc,
			 struct st_perr *err)
{
	char *argv[WI_MAX_ARGS + 8], pcap[PATH_MAX];
	int argc = 0, rc;
	struct st_perr pe;

	snprintf(pcap, sizeof(pcap), "%s", path);

	argv[argc++] = (char *)"shadowtap-loadgen";
	argv[argc++] = (char *)"--pcap";
	argv[argc++] = pcap;
	argv[argc++] = (char *)"--profile";
	argv[argc++] = (char *)"-";
	argv[argc++] = (char *)"--no-progress";
	for (int i = 0; args != NULL && i < args->n; i++)
		argv[argc++] = args->v[i];
	argv[argc] = NULL;
	lg_config_defaults(lc);
	rc = lg_options_parse(argc, argv, lc, &pe);
	if (rc != 0) {
		wi_msg(err->msg, sizeof(err->msg), "loadgen_args: %s", rc > 0 ? "--help or --version" :
		       pe.msg);
		return -EINVAL;
	}
	return 0;
}

int wi_capture_rate(const char *path, const struct wi_argv *lg_args, bool multiples,
		    double *pps, uint32_t *n_requests, struct st_perr *err)
{
	struct lg_capture_opts opts = { .skip_cut = false, .max_frames = 0 };
	struct lg_capture cap;
	struct lg_config lc;
	struct lg_plan plan;
	struct st_perr pe;
	uint64_t t0, t1;
	int rc;

	rc = parse_lg_args(path, lg_args, &lc, err);
	if (rc != 0)
		return rc;
	/* Each run's length and passes are the sweep's (its profile's
	 * steps): a run that ended before its last step left the rest of
	 * the row measured on nothing */
	if (lc.duration_ns > 0 || lc.loops_set) {
		wi_msg(err->msg, sizeof(err->msg), "loadgen_args: %s is the sweep's to set "
		       "(each run lasts its row's steps)", lc.duration_ns > 0 ? "--duration" : "--loop");
		return -EINVAL;
	}
	/* These change the rate a multiple would scale (the clients kept and
	 * their scale, copies of each flow, the capture's gaps): a rate given
	 * as such is what is sent, a multiple of the whole capture would not be. */
	if (multiples && (lc.select_clients != NULL || lc.multiply > 1 || lc.max_gap_ns > 0)) {
		wi_msg(err->msg, sizeof(err->msg), "loads: multiples of the capture's rate "
		       "with %s in loadgen_args: give the loads as rates",
		       lc.select_clients != NULL ? "--select-clients" :
		       lc.multiply > 1 ? "--multiply" : "--max-gap");
		return -EINVAL;
	}
	opts.skip_cut = lc.skip_cut;
	rc = lg_capture_load(path, &opts, &cap, &pe);
	if (rc < 0) {
		wi_msg(err->msg, sizeof(err->msg), "pcap: %s", pe.msg);
		return rc;
	}
	rc = lg_classify(&cap, lc.n_servers > 0 ? lc.servers : NULL, lc.n_servers, &plan, &pe);
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
