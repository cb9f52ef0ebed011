/* shadowtap-forecast: a rate history in, a loadgen profile out.
 *
 *   shadowtap-forecast --history rates.csv --season 24 --horizon 48 \
 *       --quantile 0.9 --output profile.csv
 *
 * Fits additive Holt-Winters (one or two seasons) to the history, checks it
 * first on a held-out tail against the seasonal-naive forecast, then refits
 * on everything and writes the forecast for the horizon as a
 * `t_seconds,pps` profile. Plain C: no DPDK. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "history.h"
#include "holt_winters.h"
#include "log.h"
#include "profile.h"
#include "version.h"

struct fc_opts {
	const char *history;
	const char *pcap;
	uint64_t bin_ns;
	uint32_t season;	/* 0: detect */
	uint32_t season2;
	uint32_t horizon;	/* 0: one long season */
	uint32_t holdout;	/* 0: the horizon, at most a fifth of the history */
	double quantile;	/* 0: the point forecast */
	const char *output;
	bool json;
};

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
"Usage: %s (--history CSV | --from-pcap FILE [--bin D]) [options]\n"
"\n"
"Forecasts a rate with additive Holt-Winters and writes a shadowtap-loadgen\n"
"profile (t_seconds,pps) for the horizon. The model is first checked on a\n"
"held-out tail of the history against the seasonal-naive forecast.\n"
"\n"
"Input (one of):\n"
"      --history CSV       'timestamp,rate' rows, evenly spaced (timestamps in s)\n"
"      --from-pcap FILE    the client->server packet rate of a capture ...\n"
"      --bin D             ... in bins of D (default 1s)\n"
"Model:\n"
"      --season N|auto     season length in points (default auto: from the\n"
"                          autocorrelation; none found means no season)\n"
"      --season2 N         a second, longer season (e.g. 24 and 168 for hourly\n"
"                          data with daily and weekly patterns)\n"
"Output:\n"
"      --horizon N         points to forecast (default: one longest season)\n"
"      --quantile Q        write the Q quantile (0.5-0.999) instead of the point\n"
"                          forecast, from the distribution of the fit's residuals\n"
"      --output FILE       the profile (default: stdout)\n"
"      --holdout N         points held out for the backtest (default: the\n"
"                          horizon, at most a fifth of the history)\n"
"      --json              the backtest as one JSON line on stderr\n"
"  -h, --help              this text\n"
"      --version           print the version and exit\n"
"\n"
"The backtest prints MASE (against the in-sample seasonal naive error; below\n"
"1 beats it), sMAPE, and the coverage of the held-out points by the\n"
"forecast's quantiles.\n",
		prog);
}

static int parse_u32(const char *opt, const char *arg, uint32_t min, uint32_t max, uint32_t *out)
{
	struct st_perr e;
	uint64_t v;

	if (st_parse_uint(arg, min, max, &v, &e) < 0) {
		ST_ERR("%s %s", opt, e.msg);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

/* Returns 0, 1 (help printed) or -1. */
static int parse_args(int argc, char **argv, struct fc_opts *o)
{
	enum { O_HIST = 256, O_PCAP, O_BIN, O_SEASON, O_SEASON2, O_HORIZON, O_HOLDOUT,
	       O_QUANT, O_OUT, O_JSON };
	static const struct option longopts[] = {
		{ "history", required_argument, NULL, O_HIST },
		{ "from-pcap", required_argument, NULL, O_PCAP },
		{ "bin", required_argument, NULL, O_BIN },
		{ "season", required_argument, NULL, O_SEASON },
		{ "season2", required_argument, NULL, O_SEASON2 },
		{ "horizon", required_argument, NULL, O_HORIZON },
		{ "holdout", required_argument, NULL, O_HOLDOUT },
		{ "quantile", required_argument, NULL, O_QUANT },
		{ "output", required_argument, NULL, O_OUT },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct st_perr e;
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		const char *name = argv[optind - 1];

		switch (opt) {
		case O_HIST: o->history = optarg; break;
		case O_PCAP: o->pcap = optarg; break;
		case O_BIN:
			if (st_parse_duration(optarg, ST_NS_PER_MS, 86400 * ST_NS_PER_S, &o->bin_ns, &e) < 0) {
				ST_ERR("--bin %s", e.msg);
				return -1;
			}
			break;
		case O_SEASON:
			if (strcmp(optarg, "auto") == 0)
				o->season = 0;
			else if (parse_u32("--season", optarg, 1, 1000000, &o->season) < 0)
				return -1;
			break;
		case O_SEASON2:
			if (parse_u32("--season2", optarg, 2, 1000000, &o->season2) < 0)
				return -1;
			break;
		case O_HORIZON:
			if (parse_u32("--horizon", optarg, 1, 10000000, &o->horizon) < 0)
				return -1;
			break;
		case O_HOLDOUT:
			if (parse_u32("--holdout", optarg, 1, 10000000, &o->holdout) < 0)
				return -1;
			break;
		case O_QUANT:
			if (st_parse_double(optarg, 0.5, 0.999, &o->quantile, &e) < 0) {
				ST_ERR("--quantile %s", e.msg);
				return -1;
			}
			break;
		case O_OUT: o->output = optarg; break;
		case O_JSON: o->json = true; break;
		case 'h':
			usage(stdout, st_log_prog());
			return 1;
		case 'V':
			printf("shadowtap-forecast %s\n", ST_VERSION);
			return 1;
		case ':':
			ST_ERR("%s needs a value (see --help)", name);
			return -1;
		default:
			ST_ERR("unknown option '%s' (see --help)", name);
			return -1;
		}
	}
	if (optind < argc) {
		ST_ERR("unexpected argument '%s' (see --help)", argv[optind]);
		return -1;
	}
	if ((o->history == NULL) == (o->pcap == NULL)) {
		ST_ERR("give one of --history CSV or --from-pcap FILE (see --help)");
		return -1;
	}
	if (o->season2 && o->season && o->season2 <= o->season) {
		ST_ERR("--season2 %u must be longer than --season %u", o->season2, o->season);
		return -1;
	}
	return 0;
}

struct backtest {
	uint32_t n;
	double mase, mase_naive, smape, smape_naive, cover_q, cover_band;
	double q;
};

/* Fits on all but the last bt->n points and scores the forecast of those. */
static int run_backtest(const struct lg_history *h, uint32_t m1, uint32_t m2, double q,
			struct backtest *bt)
{
	uint32_t n_tr = h->n - bt->n, m = m2 ? m2 : m1;
	double *f = malloc(sizeof(double) * bt->n), *sn = malloc(sizeof(double) * bt->n);
	double scale, in_q = 0, in_band = 0;
	struct hw_model mod;
	struct st_perr err;

	if (f == NULL || sn == NULL || hw_fit(h->y, n_tr, m1, m2, &mod, &err) < 0) {
		ST_ERR("backtest: %s", f && sn ? err.msg : "out of memory");
		free(f);
		free(sn);
		return -1;
	}
	hw_forecast(&mod, bt->n, f);
	hw_seasonal_naive(h->y, n_tr, m, bt->n, sn);
	for (uint32_t k = 0; k < bt->n; k++) {
		double y = h->y[n_tr + k];

		in_q += y <= f[k] + hw_quantile_offset(&mod, q, k + 1);
		in_band += y <= f[k] + hw_quantile_offset(&mod, q, k + 1) &&
			   y >= f[k] + hw_quantile_offset(&mod, 1 - q, k + 1);
	}
	scale = hw_naive_mae(h->y, n_tr, m);
	bt->q = q;
	bt->mase = scale > 0 ? hw_mae(h->y + n_tr, f, bt->n) / scale : NAN;
	bt->mase_naive = scale > 0 ? hw_mae(h->y + n_tr, sn, bt->n) / scale : NAN;
	bt->smape = hw_smape(h->y + n_tr, f, bt->n);
	bt->smape_naive = hw_smape(h->y + n_tr, sn, bt->n);
	bt->cover_q = in_q / bt->n;
	bt->cover_band = in_band / bt->n;
	hw_free(&mod);
	free(f);
	free(sn);
	return 0;
}

static void jnum(FILE *f, const char *k, double v, const char *sep)
{
	if (isfinite(v))
		fprintf(f, "\"%s\":%.6g%s", k, v, sep);
	else
		fprintf(f, "\"%s\":null%s", k, sep);
}

static void report(const struct fc_opts *o, const struct lg_history *h, uint32_t m1,
		   uint32_t m2, bool detected, const struct hw_model *mod,
		   const struct backtest *bt)
{
	if (o->json) {
		fprintf(stderr, "{\"points\":%u,\"step_s\":%.6g,\"season\":%u,\"season2\":%u,"
			"\"season_detected\":%s,", h->n, h->step, m1, m2, detected ? "true" : "false");
		jnum(stderr, "alpha", mod->alpha, ",");
		jnum(stderr, "beta", mod->beta, ",");
		jnum(stderr, "gamma1", mod->gamma1, ",");
		jnum(stderr, "gamma2", mod->gamma2, ",");
		fprintf(stderr, "\"holdout\":%u,", bt->n);
		jnum(stderr, "mase", bt->mase, ",");
		jnum(stderr, "mase_seasonal_naive", bt->mase_naive, ",");
		jnum(stderr, "smape", bt->smape, ",");
		jnum(stderr, "smape_seasonal_naive", bt->smape_naive, ",");
		jnum(stderr, "coverage_quantile", bt->cover_q, ",");
		jnum(stderr, "quantile", bt->q, ",");
		jnum(stderr, "coverage_band", bt->cover_band, "}\n");
		return;
	}
	fprintf(stderr, "history: %u points every %g s; season %u%s", h->n, h->step, m1,
		detected ? " (detected)" : "");
	if (m2)
		fprintf(stderr, ", second season %u", m2);
	fprintf(stderr, "\nfit: alpha %.3f, beta %.3f, gamma %.3f", mod->alpha, mod->beta, mod->gamma1);
	if (m2)
		fprintf(stderr, ", gamma2 %.3f", mod->gamma2);
	fprintf(stderr, "\nbacktest on the last %u points: MASE %.3f (seasonal naive %.3f), "
		"sMAPE %.2f%% (seasonal naive %.2f%%), %.0f%% at or below the %g quantile, "
		"%.0f%% inside the %g-%g band\n", bt->n, bt->mase, bt->mase_naive, bt->smape,
		bt->smape_naive, 100 * bt->cover_q, bt->q, 100 * bt->cover_band, 1 - bt->q, bt->q);
	if (isfinite(bt->mase) && isfinite(bt->mase_naive) && bt->mase >= bt->mase_naive)
		fprintf(stderr, "note: Holt-Winters did not beat the seasonal naive forecast here\n");
}

/* The profile: one point per forecast step, and a last one a step later
 * so the profile lasts the whole horizon. */
static int write_profile(const struct fc_opts *o, const struct hw_model *mod, double step,
			 uint32_t horizon)
{
	FILE *f = o->output ? fopen(o->output, "w") : stdout;
	double *fc = malloc(sizeof(double) * horizon);
	int rc = 0;

	if (f == NULL || fc == NULL) {
		ST_ERR("%s: %s", o->output ? o->output : "stdout", f ? "out of memory" : strerror(errno));
		free(fc);
		if (f && f != stdout)
			fclose(f);
		return -1;
	}
	hw_forecast(mod, horizon, fc);
	fprintf(f, "t_seconds,pps\n");
	for (uint32_t k = 0; k <= horizon; k++) {
		uint32_t i = k < horizon ? k : horizon - 1;
		double v = fc[i] + (o->quantile > 0 ? hw_quantile_offset(mod, o->quantile, i + 1) : 0);

		/* a trend run away past what the loadgen takes (1e10 pps) */
		v = v > 0 ? v : 0;
		fprintf(f, "%.9g,%.6f\n", k * step, v < LG_PROFILE_MAX_PPS ? v : LG_PROFILE_MAX_PPS);
	}
	if (fflush(f) != 0 || ferror(f)) {
		ST_ERR("%s: write error", o->output ? o->output : "stdout");
		rc = -1;
	}
	if (f != stdout)
		fclose(f);
	free(fc);
	return rc;
}

int main(int argc, char **argv)
{
	struct fc_opts o = { .bin_ns = ST_NS_PER_S };
	struct lg_history h = { 0 };
	struct hw_model mod = { 0 };
	struct backtest bt = { 0 };
	struct st_perr err;
	uint32_t m1, m2, need;
	bool detected = false;
	int rc, status = EXIT_FAILURE;

	st_log_init(argv[0], ST_LOG_NOTICE);
	rc = parse_args(argc, argv, &o);
	if (rc != 0)
		return rc > 0 ? 0 : EXIT_FAILURE;
	rc = o.history ? lg_history_load(o.history, &h, &err) :
			 lg_history_from_pcap(o.pcap, o.bin_ns, &h, &err);
	if (rc < 0) {
		ST_ERR("%s %s", o.history ? "--history" : "--from-pcap", err.msg);
		return EXIT_FAILURE;
	}
	m1 = o.season;
	if (m1 == 0) {
		m1 = hw_detect_season(h.y, h.n);
		detected = m1 > 0;
		if (m1 == 0) {
			ST_NOTICE("no season found in %u points: fitting without one (give --season)", h.n);
			m1 = 1;
		}
	}
	m2 = o.season2;
	if (m2 && m2 <= m1) {
		ST_ERR("--season2 %u must be longer than the season %u", m2, m1);
		goto out;
	}
	if (o.horizon == 0)
		o.horizon = m2 ? m2 : (m1 > 1 ? m1 : 1);
	/* what shadowtap-loadgen --profile reads: refused here, not there */
	/* (the reader counts the header and the newline after the last point
	 * as lines too: a profile of LG_PROFILE_MAX_POINTS - 1 points at most) */
	if (o.horizon + 2 > LG_PROFILE_MAX_POINTS || (double)o.horizon * h.step > LG_PROFILE_MAX_T) {
		ST_ERR("--horizon %u at a step of %g s: a profile of %u points over %.0f s; "
		       "shadowtap-loadgen reads at most %u points over %.0f s (a year)", o.horizon,
		       h.step, o.horizon + 1, (double)o.horizon * h.step, LG_PROFILE_MAX_POINTS - 1,
		       LG_PROFILE_MAX_T);
		goto out;
	}
	bt.n = o.holdout ? o.holdout : (o.horizon < h.n / 5 ? o.horizon : h.n / 5);
	if (bt.n == 0)
		bt.n = 1;
	need = hw_min_points(m1, m2) + bt.n;
	if (h.n < need) {
		ST_ERR("history too short: %u points; seasons of %u%s%.0u need %u to fit and %u "
		       "held out for the backtest, %u in all", h.n, m1, m2 ? " and " : "", m2,
		       hw_min_points(m1, m2), bt.n, need);
		goto out;
	}
	if (run_backtest(&h, m1, m2, o.quantile > 0 ? o.quantile : 0.9, &bt) < 0)
		goto out;
	if (hw_fit(h.y, h.n, m1, m2, &mod, &err) < 0) {
		ST_ERR("%s", err.msg);
		goto out;
	}
	report(&o, &h, m1, m2, detected, &mod, &bt);
	if (write_profile(&o, &mod, h.step, o.horizon) < 0)
		goto out;
	status = EXIT_SUCCESS;
out:
	hw_free(&mod);
	lg_history_free(&h);
	return status;
}
