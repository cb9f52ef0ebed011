/* shadowtap-whatif: see whatif.h and docs/whatif.md. Exit status 0 when
 * every cell ran, 1 when the sweep failed or was interrupted (the group is
 * restored either way), 2 when it refused to start (a bad command line or
 * config, a group or capture unfit for a sweep, no dataplane): nothing was
 * sent then. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "version.h"
#include "whatif.h"

static void on_signal(int sig)
{
	(void)sig;
	wi_stop = 1;
}

static struct wi_sweep sweep;

int main(int argc, char **argv)
{
	struct wi_config cfg;
	struct sigaction sa;
	struct st_perr pe;
	int rc, status = 0;

	st_log_init("shadowtap-whatif", ST_LOG_NOTICE);
	memset(&pe, 0, sizeof(pe));
	rc = wi_config_load(argc, argv, &cfg, &pe);
	if (rc == 1) {
		wi_usage(stdout, st_log_prog());
		wi_config_free(&cfg);
		return 0;
	}
	if (rc == 2) {
		printf("shadowtap-whatif %s\n", ST_VERSION);
		wi_config_free(&cfg);
		return 0;
	}
	if (rc != 0) {
		fprintf(stderr, "shadowtap-whatif: %s\n", pe.msg);
		wi_config_free(&cfg);
		return 2;
	}
	/* No SA_RESTART: a wait in progress returns and sees wi_stop. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* and a hang-up (the ssh session it ran in closed): each ends the
	 * sweep and restores the group */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = wi_sweep_run(&sweep, &cfg);
	if (rc < 0 && sweep.n_cells == 0) {
		fprintf(stderr, "shadowtap-whatif: %s\n", sweep.error);
		wi_config_free(&cfg);
		return 2;
	}
	if (rc != 0) {
		fprintf(stderr, "shadowtap-whatif: %s\n", sweep.error);
		status = 1;
	}
	wi_model_fit(&sweep);
	if (!cfg.quiet) {
		wi_print_answers(stdout, &sweep);
		wi_print_model(stdout, &sweep);
	}
	fflush(stdout);
	if (cfg.json_path && wi_write_json(&sweep, cfg.json_path, &pe) != 0) {
		fprintf(stderr, "shadowtap-whatif: --json %s\n", pe.msg);
		status = 1;
	}
	if (cfg.csv_path && wi_write_csv(&sweep, cfg.csv_path, &pe) != 0) {
		fprintf(stderr, "shadowtap-whatif: --csv %s\n", pe.msg);
		status = 1;
	}
	if (cfg.report_path && wi_write_report(&sweep, cfg.report_path, &pe) != 0) {
		fprintf(stderr, "shadowtap-whatif: --report %s\n", pe.msg);
		status = 1;
	}
	if (!sweep.restored) {
		fprintf(stderr, "shadowtap-whatif: the group was NOT restored: check it with "
			"shadowtap-ctl stats\n");
		status = 1;
	}
	wi_config_free(&cfg);
	return status;
}
