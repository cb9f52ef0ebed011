/* shadowtap-loadgen: EAL arguments, then "--", then the application's.
 *
 *   shadowtap-loadgen -l 0-1 --vdev net_pcap0,tx_pcap=out.pcap -- \
 *       --pcap in.pcap --profile rate.csv --json
 *
 * The options, the profile and the capture are read and checked before the
 * EAL starts, so bad input exits non-zero before any port is probed. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "clock.h"
#include "loadgen.h"
#include "log.h"
#include "eal_hint.h"
#include "vdev.h"
#include "publish.h"
#include "version.h"

volatile bool lg_force_quit;

static struct lg_app app;

/* Room for the series when the run's length is not known in advance:
 * an hour of 100 ms bins. */
/* A run of unknown length: an hour's series, or 36,000 intervals when
 * that is more. */
#define LG_DEFAULT_SERIES_S 3600.0
#define LG_DEFAULT_BINS 36000.0
#define LG_MAX_BINS (1u << 20)

static void on_signal(int sig)
{
	(void)sig;
	lg_force_quit = true;
}

/* --select-clients: what was selected, and the scale folded into
 * --multiply (each selected flow sent that many times). */
static int select_scale(struct lg_app *a)
{
	const struct lg_select *s = &a->sel;
	uint32_t scale = a->cfg.select_scale ? a->cfg.select_scale : s->scale ? s->scale : 1;
	uint32_t found = 0;
	uint64_t flows = 0;

	for (uint32_t i = 0; i < s->n; i++) {
		found += s->flows[i] > 0;
		flows += s->flows[i];
	}
	if ((uint64_t)a->cfg.multiply * scale > LG_MAX_MULTIPLY) {
		ST_ERR("--multiply %u x select scale %u: more than %u", a->cfg.multiply, scale,
		       LG_MAX_MULTIPLY);
		return -1;
	}
	a->cfg.multiply *= scale;
	ST_NOTICE("--select-clients %s: %u clients (client_key %s%s%s), %u of them in the capture "
		  "with %llu flows, %u packets; each sent %u times",
		  a->cfg.select_clients, s->n, s->client_key,
		  a->cfg.select_fingerprint ? ", fingerprint " : "",
		  a->cfg.select_fingerprint ? a->cfg.select_fingerprint : "", found,
		  (unsigned long long)flows, a->plan.n, a->cfg.multiply);
	if (found < s->n)
		ST_WARN("--select-clients %s: %u of its clients have no flow in %s",
			a->cfg.select_clients, s->n - found, a->cfg.pcap);
	return 0;
}

/* Reads the profile and the capture and classifies the packets: all that
 * can be wrong with the input is found here, before the EAL. */
static int load_inputs(struct lg_app *a)
{
	struct lg_capture_opts co = { .skip_cut = a->cfg.skip_cut };
	struct st_perr err;

	if (a->cfg.mode == LG_MODE_PROFILE &&
	    lg_profile_load(a->cfg.profile, &a->profile, &err) < 0) {
		ST_ERR("--profile %s", err.msg);
		return -1;
	}
	if (lg_capture_load(a->cfg.pcap, &co, &a->cap, &err) < 0) {
		ST_ERR("--pcap %s", err.msg);
		return -1;
	}
	if (a->cap.n_cut)
		ST_WARN("%s: %u packets cut by the snaplen (%s)", a->cfg.pcap, a->cap.n_cut,
			a->cfg.skip_cut ? "skipped" : "sent as captured; --skip-truncated leaves them out");
	if (a->cfg.select_clients != NULL &&
	    lg_select_load(a->cfg.select_clients, a->cfg.select_fingerprint, &a->sel, &err) < 0) {
		ST_ERR("--select-clients %s", err.msg);
		return -1;
	}
	if (lg_classify_sel(&a->cap, a->cfg.servers, a->cfg.n_servers,
			    a->cfg.select_clients != NULL ? &a->sel : NULL, &a->plan, &err) < 0) {
		ST_ERR("--pcap %s: %s", a->cfg.pcap, err.msg);
		return -1;
	}
	if (a->cfg.select_clients != NULL)
		return select_scale(a);
	return 0;
}

/* The rate that maps positions to times, and the planned end. */
static void setup_rate(struct lg_app *a, double *planned_s)
{
	const struct lg_config *c = &a->cfg;
	struct lg_rate *r = &a->rate;

	memset(r, 0, sizeof(*r));
	a->paced = true;
	*planned_s = 0;
	switch (c->mode) {
	case LG_MODE_CAPTURE:
		r->unit = LG_UNIT_CAPTURE_S;
		r->per_s = c->speed;
		break;
	case LG_MODE_PPS:
		r->unit = LG_UNIT_PACKETS;
		r->per_s = c->pps;
		break;
	case LG_MODE_MBPS:
		r->unit = LG_UNIT_BYTES;
		r->per_s = c->mbps * 1e6 / 8;
		break;
	case LG_MODE_TOPSPEED:
		r->unit = LG_UNIT_PACKETS;
		r->per_s = 1;
		a->paced = false;
		break;
	case LG_MODE_PROFILE:
		r->unit = a->profile.kind == LG_PROFILE_PPS ? LG_UNIT_PACKETS : LG_UNIT_CAPTURE_S;
		r->profile = &a->profile;
		*planned_s = lg_profile_end(&a->profile);
		break;
	}
	if (c->duration_ns && (*planned_s == 0 || (double)c->duration_ns / 1e9 < *planned_s))
		*planned_s = (double)c->duration_ns / 1e9;
}

/* Each worker's due/sent series: the planned run's intervals (two more),
 * or an hour's (36,000 intervals at least) when its length is not known
 * (--loop 0 without --duration); at most LG_MAX_BINS (a longer run's
 * series is cut, and says so). */
static int size_bins(struct lg_app *a, double planned_s)
{
	double secs = planned_s > 0 ? planned_s : LG_DEFAULT_SERIES_S;
	double bins = ceil(secs * 1e9 / (double)a->cfg.series_ns) + 2;

	if (planned_s <= 0 && bins < LG_DEFAULT_BINS)
		bins = LG_DEFAULT_BINS;	/* a coarse interval: more than the hour */
	if (bins > LG_MAX_BINS)
		bins = LG_MAX_BINS;
	for (uint32_t i = 0; i < a->n_tx; i++) {
		struct lg_worker *w = a->w[i];
		int socket = (int)rte_lcore_to_socket_id(w->lcore);

		if (w->due_bins != NULL && w->n_bins == (uint32_t)bins)
			continue;
		rte_free(w->due_bins);
		rte_free(w->sent_bins);
		w->n_bins = (uint32_t)bins;
		w->due_bins = rte_zmalloc_socket("lg_bins", sizeof(uint64_t) * w->n_bins, 0, socket);
		w->sent_bins = rte_zmalloc_socket("lg_bins", sizeof(uint64_t) * w->n_bins, 0, socket);
		if (w->due_bins == NULL || w->sent_bins == NULL) {
			ST_ERR("out of memory for the rate series (%u intervals: give the EAL more "
			       "memory, -m, or a longer --series-interval)", w->n_bins);
			return -1;
		}
	}
	return 0;
}

static int setup_workers(struct lg_app *a, double planned_s)
{
	unsigned int avail = rte_lcore_count() - 1, lcore, i = 0;
	size_t hsize = st_hist_size(1, 3600 * (int64_t)ST_NS_PER_S, 3);

	if (avail == 0) {
		ST_ERR("no TX lcore: give the EAL at least two (-l 0-1); the main one reports");
		return -1;
	}
	a->n_tx = a->cfg.tx_lcores ? a->cfg.tx_lcores : avail;
	if (a->n_tx > avail || a->n_tx > LG_MAX_TX) {
		ST_ERR("--tx-lcores %u: %u lcores available besides the main one (at most %d)",
		       a->n_tx, avail, LG_MAX_TX);
		return -1;
	}
	RTE_LCORE_FOREACH_WORKER(lcore) {
		int socket = (int)rte_lcore_to_socket_id(lcore);
		struct lg_worker *w;

		if (i == a->n_tx)
			break;
		w = rte_zmalloc_socket("lg_worker", sizeof(*w), RTE_CACHE_LINE_SIZE, socket);
		a->w[i] = w;
		if (w == NULL)
			goto nomem;
		w->app = a;
		w->lcore = lcore;
		w->queue = (uint16_t)i;
		w->idx = i;
		w->rng = lg_rng_seed(a->cfg.seed, i);
		w->lag = rte_zmalloc_socket("lg_lag", hsize, RTE_CACHE_LINE_SIZE, socket);
		if (w->lag == NULL)
			goto nomem;
		st_hist_init(w->lag, hsize, 1, 3600 * (int64_t)ST_NS_PER_S, 3);
		i++;
	}
	return size_bins(a, planned_s);
nomem:
	ST_ERR("out of memory for the TX lcores' state (give the EAL more memory: -m)");
	return -1;
}

/* Flows stay unique only while there are client address blocks left. */
static int check_variants(const struct lg_app *a)
{
	const struct lg_variants *v = &a->plan.var;
	uint64_t slots = lg_variants_slots(v);
	uint64_t need = (a->cfg.loops ? a->cfg.loops : 1) * a->cfg.multiply;

	/* clones run side by side: the same flows twice at once are no load */
	if (need > slots) {
		ST_ERR("%s%llu x --multiply %u needs %llu distinct client address blocks, "
		       "but the capture's clients span so much of the address space that only "
		       "%llu fit (with 0/8, 127/8, 224/3 and the servers' addresses left out)",
		       a->cfg.loops ? "--loop " : "", (unsigned long long)(a->cfg.loops ? a->cfg.loops : 1),
		       a->cfg.multiply, (unsigned long long)need, (unsigned long long)slots);
		return -1;
	}
	if (a->cfg.loops == 0 && slots < UINT32_MAX)
		st_log(slots < 16 ? ST_LOG_WARN : ST_LOG_INFO,
		       "flows are unique for the first %llu passes x clones, then repeat",
		       (unsigned long long)slots);
	return 0;
}

static void teardown(struct lg_app *a)
{
	lg_port_close(a);
	lg_templates_free(a);
	for (uint32_t i = 0; i < LG_MAX_TX; i++) {
		struct lg_worker *w = a->w[i];

		if (w == NULL)
			continue;
		rte_free(w->lag);
		rte_free(w->due_bins);
		rte_free(w->sent_bins);
		rte_free(w);
		a->w[i] = NULL;
	}
	rte_mempool_free(a->copy_pool);
	rte_mempool_free(a->tmpl_pool);
	rte_mempool_free(a->tmpl_big);
	rte_mempool_free(a->rx_pool);
}

/* Runs the application arguments through the parser; the EAL's are left
 * for rte_eal_init. Returns 0, 1 (exit 0: help) or -1. */
static int parse_args(int argc, char **argv, int dashdash)
{
	char *app_argv[512];
	int app_argc = argc - dashdash, rc;
	struct st_perr err;
	enum st_log_level lvl;

	if (app_argc > 511) {
		ST_ERR("too many arguments");
		return -1;
	}
	app_argv[0] = argv[0];
	for (int i = 1; i < app_argc; i++)
		app_argv[i] = argv[dashdash + i];
	app_argv[app_argc] = NULL;
	lg_config_defaults(&app.cfg);
	rc = lg_options_parse(app_argc, app_argv, &app.cfg, &err);
	if (rc != 0) {
		if (rc < 0)
			ST_ERR("%s", err.msg);
		return rc > 0 ? 1 : -1;
	}
	if (st_log_level_parse(app.cfg.log_level, &lvl) < 0) {
		ST_ERR("--log-level '%s': expected err|warn|notice|info|debug", app.cfg.log_level);
		return -1;
	}
	st_log_set_level(lvl);
	return 0;
}

int main(int argc, char **argv)
{
	int dashdash = -1, rc, status = EXIT_FAILURE;
	struct lg_pub *pub = NULL;
	double planned_s;
	struct st_perr err;

	st_log_init(argv[0], ST_LOG_NOTICE);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			dashdash = i;
			break;
		}
	}
	if (dashdash < 0) {
		/* --help works without "--" and without the EAL. */
		for (int i = 1; i < argc; i++) {
			if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
				lg_usage(stdout, st_log_prog());
				return 0;
			}
			if (strcmp(argv[i], "--version") == 0) {
				printf("shadowtap-loadgen %s\n", ST_VERSION);
				return 0;
			}
		}
		lg_usage(stderr, st_log_prog());
		return EXIT_FAILURE;
	}
	rc = parse_args(argc, argv, dashdash);
	if (rc != 0)
		return rc > 0 ? 0 : EXIT_FAILURE;
	if (load_inputs(&app) < 0)
		goto out_inputs;
	setup_rate(&app, &planned_s);

	/* Frames longer than af_packet's default ring frames: size the rings
	 * (the PMD drops a longer frame without a word). */
	if (app.cap.max_len > ST_AFP_FRAME_DEFAULT - ST_AFP_FRAME_HDR &&
	    st_vdev_size_af_packet(dashdash, argv, ST_AFP_FRAME) < 0) {
		ST_ERR("out of memory");
		goto out_inputs;
	}
	rc = rte_eal_init(dashdash, argv);
	if (rc < 0) {
		char hint[512];

		/* No hugepages: say which fix applies, and exit 2 (cannot start
		 * as configured here; the unit does not restart on it). */
		if ((rte_errno == EACCES || rte_errno == ENOMEM) &&
		    st_eal_hugepage_hint(dashdash, argv, ST_MEMINFO, ST_MOUNTS, hint, sizeof(hint))) {
			ST_ERR("cannot start: %s", hint);
			return 2;
		}
		rte_exit(EXIT_FAILURE, "EAL init failed: %s\n", rte_strerror(rte_errno));
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	app.tsc_hz = rte_get_tsc_hz();

	if (setup_workers(&app, planned_s) < 0 || lg_port_find(&app) < 0 ||
	    lg_templates_build(&app) < 0 || check_variants(&app) < 0)
		goto out;
	/* a paced replay of N passes: its length is known once the templates
	 * have their positions, and the series sized for it */
	if (planned_s == 0 && app.paced && app.cfg.loops && app.rate.profile == NULL) {
		planned_s = (double)app.cfg.loops * app.loop_len / app.rate.per_s;
		if (size_bins(&app, planned_s) < 0)
			goto out;
	}
	if (lg_port_setup(&app) < 0)
		goto out;
	if (app.cfg.kpi_endpoint) {
		pub = lg_pub_open(app.cfg.kpi_endpoint, app.cfg.service, app.cfg.publisher_id, &err);
		if (pub == NULL) {
			ST_ERR("%s", err.msg);
			goto out;
		}
	}

	/* Every lcore starts on one shared TSC instant, a little ahead so
	 * they are all waiting for it. */
	app.start_tsc = rte_rdtsc() + app.tsc_hz / 20;
	app.end_tsc = UINT64_MAX;
	if (app.rate.profile != NULL || app.cfg.duration_ns) {
		double end_s = app.rate.profile ? lg_profile_end(&app.profile) : INFINITY;

		if (app.cfg.duration_ns && (double)app.cfg.duration_ns / 1e9 < end_s)
			end_s = (double)app.cfg.duration_ns / 1e9;
		app.end_tsc = app.start_tsc + (uint64_t)(end_s * (double)app.tsc_hz);
	}
	for (uint32_t i = 0; i < app.n_tx; i++) {
		rc = rte_eal_remote_launch(lg_tx_main_loop, app.w[i], app.w[i]->lcore);
		if (rc != 0) {
			ST_ERR("cannot launch TX on lcore %u: %s", app.w[i]->lcore, strerror(-rc));
			lg_force_quit = true;
			break;
		}
	}
	if (!lg_force_quit)
		lg_monitor_run(&app, pub, planned_s);
	rte_eal_mp_wait_lcore();
	lg_summarize(&app, planned_s);
	status = rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
out:
	lg_force_quit = true;
	rte_eal_mp_wait_lcore();
	lg_pub_close(pub);
	teardown(&app);
	rte_eal_cleanup();
out_inputs:
	lg_plan_free(&app.plan);
	lg_select_free(&app.sel);
	lg_capture_free(&app.cap);
	lg_profile_free(&app.profile);
	return status;
}
