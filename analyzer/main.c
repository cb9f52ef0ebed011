/* shadowtap-analyzer: subscribes to KPI streams, judges scaling proposals
 * against what the shadows show, publishes verdicts. See
 * docs/analyzer.md. The main loop is one thread: zmq_poll over the KPI
 * subscription, the control socket and the ZAP handler. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "alert.h"
#include "api.h"
#include "clients.h"
#include "clock.h"
#include "control.h"
#include "engine.h"
#include "log.h"
#include "notify.h"
#include "publish.h"
#include "reload.h"
#include "report.h"
#include "state.h"
#include "verify.h"
#include "version.h"
#include "zsec.h"

#define BATCH 1024		/* messages drained per poll wakeup */
#define MAX_FRAMES_SEEN 8

static volatile sig_atomic_t force_quit;
static volatile sig_atomic_t reload_requested;	/* SIGHUP */

static void on_signal(int sig)
{
	(void)sig;
	force_quit = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	reload_requested = 1;
}

struct app {
	struct an_config cfg;
	struct an_engine *eng;
	struct an_out out;
	struct an_control ctl;
	struct st_zap *zap;
	struct an_verify *verify;	/* NULL: no squeeze steps */
	struct an_api *api;		/* HTTP surface, or NULL */
	struct an_alerter *alerter;	/* forecast alerts (live runs) */
	void *ctx, *sub;
	uint32_t n_subscribed;		/* sharded: services subscribed to */
	uint64_t duration_ns;
	char replay[AN_PATH_MAX];
	uint64_t last_save, last_stats;
	uint64_t windows_saved;		/* windows closed at the last save */
	bool state_dirty;
	bool config_error;	/* the run ends with exit status 2: no restart */
	struct an_reload reload;	/* the file and --set values read again */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: shadowtap-analyzer --config FILE [options]\n"
		"\n"
		"Subscribes to KPI snapshots, predicts what the proposed instance count\n"
		"should show, compares it with the shadow group, and publishes verdicts\n"
		"(confirm | adjust | inconclusive) on verdict.<service>.\n"
		"\n"
		"HTTP (http_endpoint, default 127.0.0.1:9560; docs/analyzer.md): GET /\n"
		"(dashboard), /metrics (Prometheus), /api/v1/services[/NAME] (JSON,\n"
		"recommended_instances for KEDA), PUT /api/v1/services/NAME/plan,\n"
		"GET /api/v1/services/NAME/whatif?load=..&instances=.. (the model's\n"
		"prediction),\n"
		"GET /api/v1/events (SSE), /healthz, /readyz.\n"
		"\n"
		"  -c, --config FILE      INI file ([analyzer], [service.NAME]; others ignored)\n"
		"  -r, --report FILE      write an HTML report at exit\n"
		"  -d, --duration D       run for D (\"30s\", \"5m\") then exit; default: until signalled\n"
		"  -j, --json-out FILE    verdicts as JSON lines to FILE (\"-\": stdout, the default)\n"
		"  -s, --state-file F     model state to load at start and save as it learns\n"
		"  -w, --window D         analysis window (overrides the config)\n"
		"      --replay FILE      judge a recorded stream (kpi_pub --out) as fast as\n"
		"                         possible, windows closing by the data's clock, and exit\n"
		"      --set KEY=VALUE    any [analyzer] key (repeatable)\n"
		"      --check            check the config and exit\n"
		"  -v, --log-level L      err, warn, notice, info, debug\n"
		"  -h, --help             this text\n"
		"      --version          print the version and exit\n"
		"\n"
		"Config keys (default, meaning):\n");
	an_config_print_keys(f);
}

static void on_verdict(void *arg, const struct an_service *s, const struct st_verdict *v)
{
	struct app *a = arg;
	int rc = an_out_verdict(&a->out, v);

	if (rc != 0)
		ST_ERR("verdict %s: %s", s->name, strerror(-rc));
	an_api_verdict(a->api, v);
	a->state_dirty = true;
}

static void on_anomaly(void *arg, const struct an_service *s, const uint8_t *buf,
		       size_t len)
{
	struct app *a = arg;

	an_out_anomaly(&a->out, s->name, buf, len);
	an_api_anomaly(a->api, s->name, buf, len);
	ST_WARN("anomaly in %s (see anomaly.%s)", s->name, s->name);
}

static void on_profile(void *arg, const char *topic, const uint8_t *buf, size_t len)
{
	struct app *a = arg;

	an_out_topic(&a->out, topic, buf, len);
}

static void on_alert(void *arg, const struct an_service *s, const uint8_t *buf, size_t len)
{
	struct app *a = arg;

	an_out_alert(&a->out, s->name, buf, len);
	an_api_alert(a->api, buf, len);
}

static void print_counters(const struct app *a, const char *when)
{
	const struct an_counters *c = an_engine_counters(a->eng);

	st_log(ST_LOG_NOTICE,
	       "%s: msgs %llu merged %llu verdicts %llu anomalies %llu windows %llu | "
	       "malformed %llu bad_version %llu oversized %llu bad_frames %llu unknown_topic %llu "
	       "topic_mismatch %llu bad_hist %llu | gaps %llu duplicates %llu shared_src %llu restarts %llu "
	       "late %llu future %llu dropped_limits %llu untracked %llu other_shard %llu clamped %llu",
	       when, (unsigned long long)c->msgs, (unsigned long long)c->kpi_merged,
	       (unsigned long long)c->verdicts, (unsigned long long)c->anomalies,
	       (unsigned long long)c->windows, (unsigned long long)c->malformed,
	       (unsigned long long)c->bad_version, (unsigned long long)c->oversized,
	       (unsigned long long)c->bad_frames, (unsigned long long)c->unknown_topic,
	       (unsigned long long)c->topic_mismatch, (unsigned long long)c->bad_hist,
	       (unsigned long long)c->gaps, (unsigned long long)c->duplicates,
	       (unsigned long long)c->shared_src, (unsigned long long)c->restarts, (unsigned long long)c->late,
	       (unsigned long long)c->future, (unsigned long long)c->dropped_limits,
	       (unsigned long long)c->untracked,
	       (unsigned long long)c->other_shard, (unsigned long long)c->clamped);
	if (a->verify != NULL) {
		const struct an_verify_counters *v = an_verify_counters(a->verify);

		st_log(ST_LOG_NOTICE,
		       "%s: squeeze steps %llu passed %llu (unconfirmed %llu) failed %llu inconclusive %llu cut_short %llu not_run %llu ctl_errors %llu",
		       when, (unsigned long long)v->steps, (unsigned long long)v->passed,
		       (unsigned long long)v->unconfirmed, (unsigned long long)v->failed, (unsigned long long)v->inconclusive,
		       (unsigned long long)v->cut_short, (unsigned long long)v->not_run,
		       (unsigned long long)v->ctl_errors);
	}
}

static void save_state(struct app *a, uint64_t now)
{
	uint64_t windows = an_engine_counters(a->eng)->windows;
	struct st_perr pe;

	/* The model learns from every closed window, judged or not. */
	if (windows != a->windows_saved)
		a->state_dirty = true;
	if (a->cfg.state_file[0] == '\0' || !a->state_dirty)
		return;
	a->windows_saved = windows;
	if (an_state_save(a->eng, a->cfg.state_file, st_wall_ns(), &pe) != 0)
		ST_ERR("%s", pe.msg);
	a->state_dirty = false;
	a->last_save = now;
}

static int parse_args(struct app *a, int argc, char **argv, bool *check)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "report", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 'd' },
		{ "json-out", required_argument, NULL, 'j' },
		{ "state-file", required_argument, NULL, 's' },
		{ "window", required_argument, NULL, 'w' },
		{ "replay", required_argument, NULL, 'R' },
		{ "set", required_argument, NULL, 'S' },
		{ "check", no_argument, NULL, 'C' },
		{ "log-level", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	/* Command-line values go on top of the file: collect them first. */
	const char *config = NULL, *sets[64][2];
	char errbuf[8192], *eq;
	int n_sets = 0, opt, rc;
	struct st_perr pe;

	*check = false;
	while ((opt = getopt_long(argc, argv, "c:r:d:j:s:w:v:h", opts, NULL)) != -1) {
		const char *key = NULL;

		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'r':
			key = "report";
			break;
		case 'j':
			key = "json_out";
			break;
		case 's':
			key = "state_file";
			break;
		case 'w':
			key = "window";
			break;
		case 'v':
			key = "log_level";
			break;
		case 'd':
			if (st_parse_duration(optarg, ST_NS_PER_MS, 365 * 86400 * ST_NS_PER_S,
					      &a->duration_ns, &pe) != 0) {
				fprintf(stderr, "--duration: %s\n", pe.msg);
				return -EINVAL;
			}
			break;
		case 'R':
			snprintf(a->replay, sizeof(a->replay), "%s", optarg);
			break;
		case 'S':
			eq = strchr(optarg, '=');
			if (eq == NULL || n_sets >= 64) {
				fprintf(stderr, "--set: expected KEY=VALUE\n");
				return -EINVAL;
			}
			*eq = '\0';
			sets[n_sets][0] = optarg;
			sets[n_sets][1] = eq + 1;
			n_sets++;
			break;
		case 'C':
			*check = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("shadowtap-analyzer %s\n", ST_VERSION);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (key != NULL) {
			if (n_sets >= 64)
				return -EINVAL;
			sets[n_sets][0] = key;
			sets[n_sets][1] = optarg;
			n_sets++;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "shadowtap-analyzer: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (config == NULL) {
		fprintf(stderr, "shadowtap-analyzer: --config FILE is required (see --help)\n");
		return -EINVAL;
	}
	/* A reload (SIGHUP, control) reads these again, in this order. */
	snprintf(a->reload.path, sizeof(a->reload.path), "%s", config);
	for (int i = 0; i < n_sets && i < AN_RELOAD_MAX_SETS; i++) {
		a->reload.sets[i][0] = sets[i][0];
		a->reload.sets[i][1] = sets[i][1];
	}
	a->reload.n_sets = n_sets;
	a->reload.cfg = &a->cfg;
	rc = an_config_load(&a->cfg, config, (const char *const (*)[2])sets, n_sets, errbuf,
			    sizeof(errbuf));
	if (rc != 0) {
		fprintf(stderr, "%s", errbuf);
		fprintf(stderr, "shadowtap-analyzer: %s: configuration refused\n", config);
		return rc;
	}
	return 0;
}

/* A shard subscribes to kpi.NAME. for each service it judges: those of
 * its config, and any a plan change (control, HTTP) adds later. Services
 * only ever join the engine, at the end of its list. */
static void sync_subscriptions(struct app *a)
{
	uint32_t n = an_engine_n_services(a->eng);

	if (!an_shard_on(&a->cfg.shard) || a->sub == NULL)
		return;
	for (; a->n_subscribed < n; a->n_subscribed++) {
		const struct an_service *s = an_engine_service_at(a->eng, a->n_subscribed);
		char topic[ST_WIRE_NAME_MAX + 8];
		int len = snprintf(topic, sizeof(topic), "%s%s.", ST_KPI_TOPIC_PREFIX, s->name);

		if (zmq_setsockopt(a->sub, ZMQ_SUBSCRIBE, topic, (size_t)len) != 0)
			ST_WARN("subscribe %s: %s", topic, zmq_strerror(zmq_errno()));
		else
			ST_INFO("subscribed to %s", topic);
		/* its clients (no trailing dot: the topic ends with the name;
		 * a longer name that shares the prefix is counted other_shard) */
		len = snprintf(topic, sizeof(topic), "%s%s", ST_CLIENTS_TOPIC_PREFIX, s->name);
		if (zmq_setsockopt(a->sub, ZMQ_SUBSCRIBE, topic, (size_t)len) != 0)
			ST_WARN("subscribe %s: %s", topic, zmq_strerror(zmq_errno()));
	}
}

static int open_sockets(struct app *a)
{
	struct st_perr pe;
	int hwm = 1000000, linger = 0, rc;
	int64_t maxmsg = 4 * (int64_t)ST_WIRE_MAX_SIZE;

	a->ctx = zmq_ctx_new();
	if (a->ctx == NULL)
		return -ENOMEM;
	if (a->cfg.curve_secret_key[0] != '\0') {
		/* The handler before any bind: without it CURVE admits anyone. */
		a->zap = st_zap_create(a->ctx, a->cfg.curve_allowed_keys, &pe);
		if (a->zap == NULL) {
			ST_ERR("%s", pe.msg);
			return -EINVAL;
		}
	}
	rc = an_out_open(&a->out, a->ctx, &a->cfg, &pe);
	if (rc == 0)
		rc = an_control_open(&a->ctl, a->ctx, &a->cfg, &pe);
	if (rc != 0) {
		ST_ERR("%s", pe.msg);
		return rc;
	}
	if (a->replay[0] != '\0')
		return 0;
	if (an_config_verify_on(&a->cfg)) {
		a->verify = an_verify_create(&a->cfg, a->ctx);
		if (a->verify == NULL)
			return -EINVAL;
	}
	a->sub = zmq_socket(a->ctx, ZMQ_SUB);
	if (a->sub == NULL)
		return -zmq_errno();
	zmq_setsockopt(a->sub, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(a->sub, ZMQ_LINGER, &linger, sizeof(linger));
	/* Bigger than any valid message, so oversized ones are seen and
	 * counted; far bigger ones cost the sender its connection. */
	zmq_setsockopt(a->sub, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	/* A SUB never sends: without heartbeats, a gateway that is power-cycled
	 * or cut off leaves a half-open connection that is never dialled
	 * again, and its KPIs stop without a gap counted. ZMTP pings every
	 * 2 s, and a connection silent for 6 s is closed and re-dialled. */
	zmq_setsockopt(a->sub, ZMQ_HEARTBEAT_IVL, &(int){ 2000 }, sizeof(int));
	zmq_setsockopt(a->sub, ZMQ_HEARTBEAT_TIMEOUT, &(int){ 6000 }, sizeof(int));
	/* Everything: other topics are counted, not silently filtered. A
	 * shard: only its services' (sync_subscriptions), so the publishers
	 * filter and send it only its part. */
	if (!an_shard_on(&a->cfg.shard))
		zmq_setsockopt(a->sub, ZMQ_SUBSCRIBE, "", 0);
	else
		sync_subscriptions(a);
	if (a->cfg.curve_server_key[0] != '\0') {
		rc = st_zsec_client_setup(a->sub, a->cfg.curve_server_key,
					  a->cfg.curve_client_key[0] ? a->cfg.curve_client_key :
					  a->cfg.curve_secret_key, &pe);
		if (rc != 0) {
			ST_ERR("%s", pe.msg);
			return rc;
		}
	}
	for (uint32_t i = 0; i < a->cfg.n_kpi_endpoints; i++) {
		if (zmq_connect(a->sub, a->cfg.kpi_endpoints[i]) != 0) {
			ST_ERR("kpi_endpoints %s: %s", a->cfg.kpi_endpoints[i],
			       zmq_strerror(zmq_errno()));
			return -EINVAL;
		}
	}
	return 0;
}

/* Receives one multi-frame message; passes the first two frames. Returns
 * 0, or -1 when none is waiting. (Whether a frame follows is read off the
 * frame, not with getsockopt: two socket option calls per message less.) */
static int recv_one(struct app *a, uint64_t now)
{
	zmq_msg_t f[2];
	int more = 0, frames = 0;

	zmq_msg_init(&f[0]);
	if (zmq_msg_recv(&f[0], a->sub, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&f[0]);
		return -1;
	}
	frames = 1;
	zmq_msg_init(&f[1]);
	more = zmq_msg_more(&f[0]);
	while (more) {
		zmq_msg_t x, *dst = frames == 1 ? &f[1] : &x;

		if (frames > 1)
			zmq_msg_init(&x);
		/* a multipart message arrives whole; a failure ends it */
		more = zmq_msg_recv(dst, a->sub, 0) >= 0 && zmq_msg_more(dst);
		if (frames > 1)
			zmq_msg_close(&x);
		frames++;
	}
	an_engine_ingest(a->eng, zmq_msg_data(&f[0]), zmq_msg_size(&f[0]),
			 frames > 1 ? zmq_msg_data(&f[1]) : NULL,
			 frames > 1 ? zmq_msg_size(&f[1]) : 0, frames, now);
	zmq_msg_close(&f[0]);
	zmq_msg_close(&f[1]);
	return 0;
}

static void periodic(struct app *a, uint64_t mono)
{
	if (a->cfg.stats_interval_ns && mono - a->last_stats >= a->cfg.stats_interval_ns) {
		print_counters(a, "stats");
		a->last_stats = mono;
	}
	if (mono - a->last_save >= a->cfg.window_ns)
		save_state(a, mono);
}

static int run_live(struct app *a)
{
	uint64_t start = st_mono_ns();
	zmq_pollitem_t items[3];
	int n_items = 0;

	items[n_items++] = (zmq_pollitem_t){ .socket = a->sub, .events = ZMQ_POLLIN };
	if (a->ctl.sock != NULL)
		items[n_items++] = (zmq_pollitem_t){ .socket = a->ctl.sock, .events = ZMQ_POLLIN };
	if (a->zap != NULL)
		items[n_items++] = (zmq_pollitem_t){ .socket = a->zap->sock, .events = ZMQ_POLLIN };
	a->last_stats = a->last_save = start;
	while (!force_quit) {
		uint64_t mono = st_mono_ns();
		long timeout = 50;
		int rc;

		if (a->duration_ns && mono - start >= a->duration_ns)
			break;
		if (a->duration_ns && (a->duration_ns - (mono - start)) / ST_NS_PER_MS < 50)
			timeout = (long)((a->duration_ns - (mono - start)) / ST_NS_PER_MS);
		rc = zmq_poll(items, n_items, timeout);
		if (rc < 0 && zmq_errno() != EINTR) {
			ST_ERR("zmq_poll: %s", zmq_strerror(zmq_errno()));
			return -EIO;
		}
		for (int i = 0; i < BATCH; i++)
			if (recv_one(a, st_wall_ns()) < 0)
				break;
		if (reload_requested) {
			struct an_reload_result *res = malloc(sizeof(*res));

			reload_requested = 0;
			ST_NOTICE("SIGHUP: reloading %s", a->reload.path);
			if (res == NULL)
				ST_ERR("SIGHUP: reload: out of memory");
			else if (an_reload_run(&a->reload, a->eng, res) == 0)
				a->state_dirty = true;
			free(res);
		}
		an_control_handle(&a->ctl, a->eng);
		if (a->zap != NULL)
			st_zap_handle(a->zap);
		sync_subscriptions(a);
		an_engine_tick(a->eng, st_wall_ns());
		an_alerter_tick(a->alerter, a->eng, st_wall_ns(), on_alert, a);
		if (a->verify != NULL)
			an_verify_tick(a->verify, a->eng, st_wall_ns(), st_mono_ns());
		periodic(a, st_mono_ns());
		an_api_round(a->api, st_mono_ns(), st_wall_ns());
		an_clients_round(an_engine_clients(a->eng));
	}
	return 0;
}

/* The HTTP surface. The default endpoint is best effort (another analyzer
 * on the host may hold the port: say so and go on); one the operator set
 * must come up, or the analyzer does not start. A replay serves HTTP only
 * when asked to. */
static int open_http(struct app *a)
{
	struct st_perr pe;

	if (st_http_config_off(&a->cfg.http) || (a->replay[0] && !a->cfg.http_endpoint_set))
		return 0;
	a->api = an_api_start(&a->cfg, a->eng, &pe);
	if (a->api == NULL) {
		int e = errno;

		if (a->cfg.http_endpoint_set || e == EPERM) {
			/* a bind that failed may succeed on a restart; a token
			 * or key file the config names will not */
			a->config_error = e != EADDRINUSE && e != ENOMEM;
			ST_ERR("%s", pe.msg);
			return -EINVAL;
		}
		ST_WARN("%s: running without the HTTP API (set http_endpoint, or none)", pe.msg);
		return 0;
	}
	an_api_outputs(a->api, &a->out);
	ST_NOTICE("http: listening on %s port %u%s", a->cfg.http.endpoint, an_api_port(a->api),
		  a->cfg.http.tls_client_ca[0] ? " (TLS, client certificates)" :
		  a->cfg.http.tls_cert[0] ? " (TLS)" : "");
	return 0;
}

static int read_exact(FILE *f, void *buf, size_t n)
{
	return fread(buf, 1, n, f) == n ? 0 : -1;
}

/* The recording format of kpi_pub --out: per message a big-endian u32
 * frame count, then per frame a u32 length and the bytes. */
static int run_replay(struct app *a)
{
	FILE *f = fopen(a->replay, "rb");
	uint8_t *frame[2] = { NULL, NULL };
	size_t len[2];
	int rc = 0;

	if (f == NULL) {
		ST_ERR("--replay %s: %s", a->replay, strerror(errno));
		return -errno;
	}
	while (!force_quit) {
		uint8_t h[4];
		uint32_t nframes;

		if (read_exact(f, h, 4) != 0)
			break;
		nframes = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
		if (nframes == 0 || nframes > MAX_FRAMES_SEEN) {
			ST_ERR("--replay %s: bad record (%u frames)", a->replay, nframes);
			rc = -EINVAL;
			break;
		}
		for (uint32_t i = 0; i < nframes && rc == 0; i++) {
			uint32_t l;
			uint8_t *p;

			if (read_exact(f, h, 4) != 0) {
				rc = -EINVAL;
				break;
			}
			l = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
			if (l > 8 * ST_WIRE_MAX_SIZE) {
				rc = -EINVAL;
				break;
			}
			p = malloc(l ? l : 1);
			if (p == NULL || read_exact(f, p, l) != 0) {
				free(p);
				rc = -EINVAL;
				break;
			}
			if (i < 2) {
				free(frame[i]);
				frame[i] = p;
				len[i] = l;
			} else {
				free(p);
			}
		}
		if (rc != 0) {
			ST_ERR("--replay %s: truncated record", a->replay);
			break;
		}
		an_engine_ingest(a->eng, frame[0], len[0], nframes > 1 ? frame[1] : NULL,
				 nframes > 1 ? len[1] : 0, (int)nframes, 0);
		an_engine_tick(a->eng, 0);
		an_control_handle(&a->ctl, a->eng);
		an_api_round(a->api, st_mono_ns(), st_wall_ns());
		an_clients_round(an_engine_clients(a->eng));
	}
	free(frame[0]);
	free(frame[1]);
	fclose(f);
	return rc;
}

int main(int argc, char **argv)
{
	static struct app app;
	struct st_perr pe;
	bool check;
	int rc;

	st_log_init(argv[0], ST_LOG_NOTICE);
	an_config_defaults(&app.cfg);
	if (parse_args(&app, argc, argv, &check) != 0)
		return 2;
	st_log_set_level(app.cfg.log_level);
	if (check) {
		/* the token and TLS files too, as open_http judges them: a
		 * unit would find them only at start */
		rc = st_http_check(&app.cfg.http, &pe);
		if (rc != 0 && (app.cfg.http_endpoint_set || rc == -EPERM)) {
			ST_ERR("%s", pe.msg);
			an_config_free(&app.cfg);
			return 2;
		}
		printf("%s: ok (%u services)\n", "config", app.cfg.n_services);
		an_config_free(&app.cfg);
		return 0;
	}
	app.eng = an_engine_create(&app.cfg, app.replay[0] != '\0');
	if (app.eng == NULL) {
		ST_ERR("engine: %s", strerror(errno));
		return 1;
	}
	if (an_shard_on(&app.cfg.shard)) {
		char d[256];

		an_shard_describe(&app.cfg.shard, d, sizeof(d));
		ST_NOTICE("%s: judging %u of the %u services configured", d,
			  an_engine_n_services(app.eng), app.cfg.n_services);
	}
	if (app.cfg.state_file[0] != '\0') {
		rc = an_state_load(app.eng, app.cfg.state_file, &pe);
		if (rc == 0)
			ST_NOTICE("loaded model state from %s", app.cfg.state_file);
		else if (rc == -ENOENT)
			ST_NOTICE("no model state at %s yet: starting fresh", app.cfg.state_file);
		else {
			ST_ERR("%s (move it away to start fresh)", pe.msg);
			an_engine_destroy(app.eng);
			return 1;
		}
	}
	an_engine_set_output(app.eng, on_verdict, on_anomaly, &app);
	an_clients_set_output(an_engine_clients(app.eng), on_profile, &app);
	if (!app.replay[0]) {
		app.alerter = an_alerter_create(&app.cfg);
		if (app.alerter == NULL) {
			ST_ERR("alerts: %s", strerror(errno));
			an_engine_destroy(app.eng);
			return 1;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, on_hup);
	rc = open_sockets(&app);
	app.ctl.reload = &app.reload;
	if (rc == 0)
		rc = open_http(&app);
	if (rc == 0) {
		ST_NOTICE("%u services, window %.3f s, %u KPI endpoint(s)%s",
			  app.cfg.n_services, (double)app.cfg.window_ns / 1e9,
			  app.cfg.n_kpi_endpoints, app.replay[0] ? " (replay)" : "");
		/* sockets bound, state loaded: a Type=notify unit is up */
		if (st_notify_ready("%u services, %u KPI endpoint(s)", app.cfg.n_services,
				    app.cfg.n_kpi_endpoints) < 0)
			ST_WARN("sd_notify READY failed");
		rc = app.replay[0] ? run_replay(&app) : run_live(&app);
		st_notify_stopping();
		an_engine_flush(app.eng, app.replay[0] ? 0 : st_wall_ns());
		/* The flush's verdicts reach the API's last snapshot and streams. */
		an_api_round(app.api, st_mono_ns(), st_wall_ns());
		an_clients_round(an_engine_clients(app.eng));
		app.state_dirty = true;
		save_state(&app, st_mono_ns());
		if (app.cfg.report[0] != '\0') {
			if (an_report_write(app.eng, app.cfg.report, &pe) != 0)
				ST_ERR("%s", pe.msg);
			else
				ST_NOTICE("report written to %s", app.cfg.report);
		}
		print_counters(&app, "final");
	}
	an_verify_destroy(app.verify);
	an_alerter_destroy(app.alerter);
	an_api_stop(app.api);
	if (app.sub != NULL)
		zmq_close(app.sub);
	an_control_close(&app.ctl);
	an_out_close(&app.out);
	st_zap_destroy(app.zap);
	if (app.ctx != NULL)
		zmq_ctx_term(app.ctx);
	an_engine_destroy(app.eng);
	an_config_free(&app.cfg);
	return rc == 0 ? 0 : app.config_error ? 2 : 1;
}
