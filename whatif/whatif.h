/* shadowtap-whatif: a capacity sweep against a running dataplane. For each
 * instance count (the group's pool, set with set_instances) and each load
 * (the load generator replaying a capture into the inject port), in rising
 * order, it measures the group's synthetic KPI snapshots and judges the cell
 * against the SLO. Production is never touched: injected traffic reaches
 * only groups with inject = true, and the mirror share is paused (a lease
 * the dataplane undoes by itself should this program die).
 *
 * The files: config.c ([whatif] keys and the command line), ctl.c (the
 * dataplane's control socket), kpi.c (the KPI subscription and the cell
 * measurement), loadgen.c (starting and stopping shadowtap-loadgen),
 * sweep.c (the loop), output.c (table, JSON, CSV), report.c (HTML). */
#ifndef WI_WHATIF_H
#define WI_WHATIF_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "hist.h"
#include "parse.h"
#include "wire.h"

#define WI_MAX_LOADS 32
#define WI_MAX_COUNTS 64
#define WI_MAX_ARGS 64
#define WI_NAME_MAX ST_WIRE_NAME_MAX

/* Set by SIGINT/SIGTERM; every wait checks it at least every 100 ms. */
extern volatile sig_atomic_t wi_stop;

/* One load of the sweep: a rate or a multiple of the capture's own. */
struct wi_load {
	char text[32];		/* as written: "400", "2x" */
	bool multiple;
	double value;		/* pps, or the multiple */
	double pps;		/* offered packets per second, resolved */
};

/* A whitespace-split argument list; the strings live in `buf`. */
struct wi_argv {
	char *buf;
	char *v[WI_MAX_ARGS];
	int n;
};

struct wi_config {
	char path[PATH_MAX];		/* the config file, for messages */
	char service[WI_NAME_MAX];
	char group[WI_NAME_MAX];
	char pcap[PATH_MAX];
	struct wi_load loads[WI_MAX_LOADS];
	int n_loads;
	uint32_t counts[WI_MAX_COUNTS];	/* instance counts, rising */
	int n_counts;
	uint64_t step_ns, warmup_ns, cooldown_ns, start_timeout_ns;
	uint64_t slo_p99_ns;
	double slo_error_rate;
	double stop_factor;		/* a row stops past stop_factor x slo_p99 */
	double abort_error_rate;	/* ... or past this error rate */
	double reach;			/* a cell must reach this share of its load */
	bool poisson;
	bool pause_mirror;
	double cost_per_hour;		/* per instance; < 0: not priced ("none") */
	double budget_per_hour;		/* < 0: no budget ("none"); needs a price */
	char control_endpoint[256];
	char kpi_endpoint[256];
	char loadgen[PATH_MAX];
	struct wi_argv loadgen_wrapper;	/* e.g. "ip netns exec NS" */
	struct wi_argv loadgen_eal;
	struct wi_argv loadgen_args;
	/* command line */
	const char *json_path, *csv_path, *report_path;
	bool quiet;
};

/* config.c */

/* Prints --help. */
void wi_usage(FILE *out, const char *prog);
/* Fills c from the command line and the config file it names, in order:
 * defaults, file, command line. Returns 0, 1 for --help, 2 for --version (the caller prints), or
 * -EINVAL with err->msg naming the option or "[whatif] KEY" and why. */
int wi_config_load(int argc, char **argv, struct wi_config *c, struct st_perr *err);
/* Releases the argument lists. */
void wi_config_free(struct wi_config *c);

/* capture.c: the capture's own request rate (packets the loadgen would
 * send, with the --server list lg_args gives, over the span between the
 * first and the last of them). lg_args is checked as the loadgen will read
 * it; with multiples among the loads, options that change the rate a
 * multiple scales (--select-clients, --multiply, --max-gap) are refused.
 * Returns 0, or a negative errno with err->msg (missing, not a capture, no
 * request, loadgen_args refused). */
int wi_capture_rate(const char *path, const struct wi_argv *lg_args, bool multiples,
		    double *pps, uint32_t *n_requests, struct st_perr *err);

/* ctl.c: the dataplane's control socket (REQ/REP, msgpack). */
struct wi_ctl;

struct wi_group {
	char name[WI_NAME_MAX];
	char service[WI_NAME_MAX];
	bool inject;
	uint32_t instances, listed;
	uint32_t count;		/* instances_count: what its KPIs report (0: not said) */
	double share, offset;	/* in force, or, under a lease (leased), what
				   the lease puts back: what a restore sets */
	bool leased;
};

/* Connects; NULL with err->msg. */
struct wi_ctl *wi_ctl_open(void *zctx, const char *endpoint, struct st_perr *err);
void wi_ctl_close(struct wi_ctl *c);
/* The group named `group` from {cmd: stats}, and in *others how many other
 * groups of the same service take injected traffic. Returns 0, -ENOENT
 * (no such group: err lists the groups), -EIO (no reply, refused). */
int wi_ctl_group(struct wi_ctl *c, const char *group, struct wi_group *out,
		 int *others, struct st_perr *err);
/* {cmd: set_instances}. Returns 0 or -EIO with err->msg. */
int wi_ctl_set_instances(struct wi_ctl *c, const char *group, uint32_t n,
			 struct st_perr *err);
/* {cmd: set_share, share, offset[, revert_after]} (revert_after <= 0:
 * settled, no lease). Returns 0 or -EIO with err->msg. */
int wi_ctl_set_share(struct wi_ctl *c, const char *group, double share, double offset,
		     double revert_after_s, struct st_perr *err);

/* kpi.c: the synthetic KPI snapshots of one service. */
struct wi_kpi;

/* What one cell measured: the windows' counters summed, their histograms
 * merged. */
struct wi_acc {
	struct st_hist *lat;
	uint64_t pkts, requests, responses, timeouts, resets, icmp_errors, rx_pkts;
	uint64_t ns;			/* window time covered */
	uint32_t windows;
	uint32_t wrong_count;		/* windows reporting another instance count */
};

struct wi_snap {
	struct st_kpi k;
	struct st_hist *lat;		/* decoded; NULL when the window had none */
};

struct wi_kpi *wi_kpi_open(void *zctx, const char *endpoint, const char *service,
			   struct st_perr *err);
void wi_kpi_close(struct wi_kpi *k);
/* The next kpi.<service>.synthetic snapshot within timeout_ns. Returns 1
 * with *s filled (wi_snap_release it), 0 on timeout or wi_stop, -EIO on a
 * transport error. Malformed messages are skipped and logged (rate-limited). */
int wi_kpi_next(struct wi_kpi *k, uint64_t timeout_ns, struct wi_snap *s);
void wi_snap_release(struct wi_snap *s);
/* True when the window saw no traffic at all (sent, answered, timed out). */
bool wi_snap_quiet(const struct wi_snap *s);
int wi_acc_init(struct wi_acc *a);
void wi_acc_free(struct wi_acc *a);
/* Empties it for a fresh measurement; keeps the histogram's memory. */
void wi_acc_reset(struct wi_acc *a);
/* Adds a snapshot. Never fails (a histogram that does not fit is clamped). */
void wi_acc_add(struct wi_acc *a, const struct wi_snap *s);

/* loadgen.c */
struct wi_lg {
	pid_t pid;
	char log[64];		/* its stderr, for the reason it exited */
	int log_fd;
	char profile[64];	/* the --profile it follows */
};

/* Starts the load generator along a stepped profile: loads from..to-1
 * (all rates or all multiples), slot_s seconds each, in that order; the
 * run ends by itself at the profile's end (a dead man's stop should this
 * program vanish). Returns 0 or -errno with err; wi_lg_cleanup it in
 * every case. */
int wi_lg_start(const struct wi_config *c, int from, int to, double slot_s,
		struct wi_lg *lg, struct st_perr *err);
/* True while it runs; when it has exited, *status is its wait status. */
bool wi_lg_running(struct wi_lg *lg, int *status);
/* SIGINT, then SIGKILL after 5 s; reaps it. Safe when not running. */
void wi_lg_stop(struct wi_lg *lg);
/* The last bytes of its stderr, one line, for an error message. */
void wi_lg_tail(const struct wi_lg *lg, char *buf, size_t len);
void wi_lg_cleanup(struct wi_lg *lg);

/* sweep.c */
enum wi_status {
	WI_NOT_RUN,	/* the sweep was interrupted before it */
	WI_PASS,
	WI_FAIL,	/* broke the SLO */
	WI_STOP,	/* broke it past stop_factor or abort_error_rate: the row stops */
	WI_SKIPPED,	/* not run: a lower load of its row stopped it */
	WI_NODATA,	/* no request was timed */
	WI_STATUS__COUNT
};

const char *wi_status_str(enum wi_status s);

struct wi_q {
	double v, lo, hi;	/* ns; NaN when there are no samples */
};

struct wi_cell {
	uint32_t instances;
	int load;			/* index in cfg->loads */
	enum wi_status status;
	double offered_rps;
	double sent_pps, achieved_rps, rps_per_instance, reached;
	uint64_t requests, responses, timeouts, resets, icmp_errors;
	double error_rate;
	struct wi_q p50, p90, p99, p999;
	double mean_ns;
	uint32_t windows;
	uint32_t stalls;		/* late KPI windows: measurement begun anew */
	double seconds;			/* measured */
	char note[160];
	/* model.c: the prediction for the same load and count */
	double pred_p50, pred_p99;	/* ns; +inf past saturation, NaN: no model */
	int pred_pass;			/* 1, 0, -1 no model */
	double model_ratio;		/* measured p99 / predicted p99 */
	int model_agrees;		/* 1, 0, -1 not run or no model */
};

/* The capacity model fitted from the sweep's own cells (model.c). */
struct wi_model {
	bool ok;
	const char *form;		/* the analyzer's form name: "mg1" */
	double mu, d0, cs2;		/* per instance, 1/s; s; service time SCV */
	int fit_cell;			/* index in cells, -1 none */
	int disagree;			/* cells where model and measurement part */
	char why[160];			/* when !ok */
};

struct wi_sweep {
	const struct wi_config *cfg;
	double capture_pps;
	uint32_t capture_requests;
	struct wi_group group0;		/* as found, restored at the end */
	uint64_t interval_ns;		/* the dataplane's KPI window, as first seen */
	struct wi_cell cells[WI_MAX_COUNTS * WI_MAX_LOADS];	/* [count][load] */
	int n_cells;
	bool interrupted;
	bool restored;
	char error[256];		/* why it ended early, when it did */
	struct wi_model model;
	uint64_t t_start_wall, t_end_wall;
};

static inline struct wi_cell *wi_cell_at(struct wi_sweep *s, int ci, int li)
{
	return &s->cells[ci * s->cfg->n_loads + li];
}

/* Runs the sweep: preflight (group, inject path, KPI stream), the cells,
 * the restore. Returns 0 when every cell ran, 1 when interrupted (cells not
 * run are marked), or a negative errno with s->error set; in every case
 * after the preflight the group is restored and the load generator stopped. */
int wi_sweep_run(struct wi_sweep *s, struct wi_config *cfg);

/* model.c */

/* A prediction within the measured p99's 95% interval widened by this
 * factor either way agrees with the measurement, when both also give the
 * same verdict. */
#define WI_MODEL_TOLERANCE 1.25

/* Fits the analyzer's mg1 form (every instance its own queue, as the
 * dataplane spreads flows by hash; general service time) to the passing
 * cell of the highest per-instance rate, then predicts p50/p99 and the
 * verdict of every cell and flags where the measurement disagrees. Never
 * fails: s->model.ok false with a reason when no cell can be fitted. About
 * 2 ms per fit and 10 us per cell. */
void wi_model_fit(struct wi_sweep *s);
/* The model table: measured against predicted, per cell. */
void wi_print_model(FILE *out, struct wi_sweep *s);

/* output.c */
/* One table row (header when cell is NULL) on out. */
void wi_print_row(FILE *out, const struct wi_sweep *s, const struct wi_cell *cell);
/* The answers: fewest instances per load, the knee, the cost. */
void wi_print_answers(FILE *out, struct wi_sweep *s);
/* Fewest instance count (index) that passed at load li, or -1. */
int wi_fewest(struct wi_sweep *s, int li);
/* Whether n instances cost at most budget_per_hour (the analyzer's
 * arithmetic: an_budget_affords). 1 within, 0 over, -1 no budget. */
int wi_within_budget(const struct wi_config *c, uint32_t n);
/* The highest load (index) whose answer, the fewest instances meeting the
 * SLO there, is within the budget; -1 when none is or there is no budget. */
int wi_budget_reach(struct wi_sweep *s);
int wi_write_json(struct wi_sweep *s, const char *path, struct st_perr *err);
int wi_write_csv(struct wi_sweep *s, const char *path, struct st_perr *err);

/* report.c */
int wi_write_report(struct wi_sweep *s, const char *path, struct st_perr *err);

/* snprintf for messages that may be cut short (names, paths, reasons
 * from elsewhere): cut, never an overflow. */
void wi_msg(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Writes buf to path through a temporary file and a rename. */
int wi_write_file(const char *path, const void *buf, size_t len, struct st_perr *err);

#endif
