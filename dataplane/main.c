/* shadowtap-dataplane: EAL arguments, then "--", then the application's.
 *
 *   shadowtap-dataplane -l 0-1 --vdev net_af_packet0,iface=veth0 ... -- \
 *       --config shadowtap.ini [--set shadow.canary.share=0.2] [--duration 30s]
 *
 * The config is read and checked before the EAL starts, so a bad file exits
 * non-zero before any port is probed. */
#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include <zmq.h>

#include "clock.h"
#include "control.h"
#include "chaos_scenario.h"
#include "dataplane.h"
#include "eal_hint.h"
#include "http_metrics.h"
#include "kpi.h"
#include "log.h"
#include "notify.h"
#include "reload.h"
#include "stats.h"
#include "vdev.h"
#include "version.h"
#include "worker.h"
#include "zsec.h"

volatile bool dp_force_quit;	/* the workers stop */
static volatile bool stop_requested;	/* a signal: the main lcore winds down */
static volatile sig_atomic_t reload_requested;	/* SIGHUP: read the config again */

static struct dp_app app;
static struct dp_kpi kpi;
static struct dp_control ctl;
static struct dp_scenario scn;	/* the chaos scenario running */
static struct dp_reload reload;	/* the file and --set overrides a reload reads again */
static void *zctx;
static struct st_zap *zap;
static struct dp_http *http;	/* GET /metrics, /healthz; NULL: off */

struct run_opts {
	uint64_t duration_ns; /* 0: until a signal */
	bool check_only;
};

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = true;
}

static void on_hup(int sig)
{
	(void)sig;
	reload_requested = 1;
}

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
"Usage: %s [EAL options] -- --config FILE [options]\n"
"\n"
"Tees a share of production traffic to shadow groups (see the config\n"
"reference: --config-help).\n"
"\n"
"Options:\n"
"  -c, --config FILE         INI file: [dataplane] and [shadow.NAME] sections\n"
"  -s, --set SEC.KEY=VALUE   set a config key, after the file; repeatable\n"
"                            (e.g. --set shadow.canary.share=0.2)\n"
"      --mode inline|tap     same as --set dataplane.mode=...\n"
"      --workers N           same as --set dataplane.workers=N\n"
"      --duration D          stop after D (e.g. 30s); default: until SIGINT/SIGTERM\n"
"      --log-level LEVEL     err|warn|notice|info|debug\n"
"      --no-stats            no stats line per interval\n"
"      --check               check the config and exit (no EAL needed)\n"
"      --config-help[=md]    print every config key with its default\n"
"  -h, --help                this text\n"
"      --version             print the version and exit\n"
"\n"
"EAL options go before '--', e.g. -l 0-1 --no-huge --no-pci -m 512\n"
"  --vdev net_af_packet0,iface=veth0 --vdev net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap\n"
"One worker per lcore after the main one; the main lcore prints and serves control.\n"
"Under systemd (Type=notify) it reports READY once its ports run.\n"
"\n"
"Exit status: 0 done; 1 a failure at run time (EAL, ports, memory);\n"
"2 a usage or config error.\n",
		prog);
}

/* Splits "shadow.canary.share=0.2" into section, key and value and sets it. */
static int apply_set(struct dp_config *cfg, const char *arg, struct st_perr *err)
{
	char buf[1024], *eq, *dot;

	snprintf(buf, sizeof(buf), "%s", arg);
	eq = strchr(buf, '=');
	dot = eq ? memrchr(buf, '.', (size_t)(eq - buf)) : NULL;
	if (eq == NULL || dot == NULL || dot == buf) {
		snprintf(err->msg, sizeof(err->msg),
			 "--set '%.100s': expected SECTION.KEY=VALUE", arg);
		return -EINVAL;
	}
	*eq = '\0';
	*dot = '\0';
	return dp_config_set(cfg, buf, dot + 1, eq + 1, err);
}

/* Parses the application's arguments (after "--") into cfg and opts.
 * Returns 0, 1 when the program should exit 0 (help), or -1 on error. */
static int parse_app_args(int argc, char **argv, const char *prog,
			  struct dp_config *cfg, struct run_opts *opts)
{
	enum { O_MODE = 256, O_WORKERS, O_DURATION, O_LOG, O_NOSTATS, O_CHECK, O_CFGHELP };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, O_MODE },
		{ "workers", required_argument, NULL, O_WORKERS },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "log-level", required_argument, NULL, O_LOG },
		{ "no-stats", no_argument, NULL, O_NOSTATS },
		{ "check", no_argument, NULL, O_CHECK },
		{ "config-help", optional_argument, NULL, O_CFGHELP },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sets[64];
	int n_sets = 0, opt, rc;
	const char *file = NULL;
	struct st_perr err;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:s:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			file = optarg;
			break;
		case 's':
			if (n_sets == 64) {
				ST_ERR("more than 64 --set options");
				return -1;
			}
			sets[n_sets++] = optarg;
			break;
		case O_MODE:
		case O_WORKERS:
		case O_LOG:
		case O_NOSTATS: {
			/* Shorthands for --set, applied in the same order. */
			static char buf[8][300];
			static int nb;
			const char *k = opt == O_MODE ? "mode" : opt == O_WORKERS ? "workers" :
					opt == O_LOG ? "log_level" : "stats";

			if (n_sets == 64 || nb == 8) {
				ST_ERR("too many options");
				return -1;
			}
			snprintf(buf[nb], sizeof(buf[nb]), "dataplane.%s=%s", k,
				 opt == O_NOSTATS ? "false" : optarg);
			sets[n_sets++] = buf[nb++];
			break;
		}
		case O_DURATION:
			if (st_parse_duration(optarg, 1000000ULL, 86400 * ST_NS_PER_S,
					      &opts->duration_ns, &err) < 0) {
				ST_ERR("--duration %s", err.msg);
				return -1;
			}
			break;
		case O_CHECK:
			opts->check_only = true;
			break;
		case O_CFGHELP:
			dp_config_print_reference(stdout, optarg && strcmp(optarg, "md") == 0);
			return 1;
		case 'h':
			usage(stdout, prog);
			return 1;
		default:
			usage(stderr, prog);
			return -1;
		}
	}
	if (optind < argc) {
		ST_ERR("unexpected argument '%s' (see --help)", argv[optind]);
		return -1;
	}
	if (file == NULL) {
		ST_ERR("no --config FILE (see --help; --config-help lists the keys)");
		return -1;
	}
	/* A reload reads the same file and overrides again, in this order. */
	snprintf(reload.path, sizeof(reload.path), "%s", file);
	for (int i = 0; i < n_sets && i < DP_RELOAD_MAX_SETS; i++)
		reload.sets[i] = sets[i];
	reload.n_sets = n_sets;
	rc = dp_config_load(cfg, file, &err);
	for (int i = 0; rc == 0 && i < n_sets; i++)
		rc = apply_set(cfg, sets[i], &err);
	if (rc == 0)
		rc = dp_config_validate(cfg, &err);
	if (rc < 0) {
		ST_ERR("%s", err.msg);
		return -1;
	}
	return 0;
}

/* Adds a port to the app (once per port id) with a role; returns its index. */
static int add_port(struct dp_app *a, const char *ref, uint32_t role, const char *what)
{
	struct st_perr err;
	uint16_t id;

	if (dp_port_resolve(ref, &id, &err) < 0) {
		ST_ERR("%s: %s", what, err.msg);
		return -1;
	}
	for (int i = 0; i < a->n_ports; i++) {
		if (a->ports[i].id != id)
			continue;
		/* Only shadow groups share a port (the same device under two
		 * names included): an inject port that is the client's would
		 * take production's packets for synthetic load and free them. */
		if (role != DP_ROLE_SHADOW || a->port_roles[i] != DP_ROLE_SHADOW) {
			ST_ERR("%s: '%s' is also the %s port", what, ref,
			       dp_port_role_name(a->port_roles[i]));
			return -1;
		}
		return i;
	}
	if (a->n_ports == DP_MAX_PORTS) {
		ST_ERR("more than %d ports", DP_MAX_PORTS);
		return -1;
	}
	a->ports[a->n_ports].id = id;
	a->port_roles[a->n_ports] = role;
	return a->n_ports++;
}

/* One pool of large mbufs for the ports whose frames do not fit the
 * shared pool's 2 KB and whose PMD does not chain mbufs (af_packet copies
 * each frame into one mbuf): data room for the largest such port, as many
 * mbufs as can be held at once: such a port's RX (af_packet: a few bursts
 * in flight, the ring is the kernel's; others: their descriptors) and
 * every TX queue that keeps mbufs until sent (not af_packet's). */
static int create_big_pool(struct dp_app *a)
{
	const struct dp_config *cfg = &a->cfg;
	uint32_t room = 0, n = 0;

	for (int i = 0; i < a->n_ports; i++) {
		const struct dp_port *p = &a->ports[i];
		bool afp = strcmp(p->driver, "net_af_packet") == 0;

		if (p->rx_room != 0) {
			room = RTE_MAX(room, p->rx_room);
			n += (afp ? DP_BIG_PER_PORT : cfg->rx_desc) * a->n_workers;
		}
		/* Any TX queue but af_packet's (which copies at once) may
		 * hold these mbufs until its descriptors complete. */
		if (!afp)
			n += (uint32_t)cfg->tx_desc * a->n_workers;
	}
	if (room == 0)
		return 0;
	n += a->n_workers * DP_BURST * 4 + rte_lcore_count() * DP_BIG_CACHE;
	a->big_pool = rte_pktmbuf_pool_create("st_big", n, DP_BIG_CACHE, 0, (uint16_t)room,
					      (int)rte_socket_id());
	if (a->big_pool == NULL) {
		ST_ERR("cannot create the pool of large mbufs (%u of %u bytes, for frames of "
		       "mtu %u): %s; give the EAL more memory (-m) or lower [dataplane] mtu",
		       n, room, cfg->mtu, rte_strerror(rte_errno));
		return -1;
	}
	ST_INFO("pools: %u mbufs of %u bytes for large frames", n, room);
	return 0;
}

static int setup_ports_and_groups(struct dp_app *a)
{
	const struct dp_config *cfg = &a->cfg;
	int shadow_idx[DP_MAX_SHADOWS];
	unsigned int nlc = rte_lcore_count();
	uint32_t need;

	a->client = add_port(a, cfg->client_port, DP_ROLE_CLIENT, "[dataplane] client_port");
	a->prod = cfg->mode == DP_MODE_INLINE ?
		add_port(a, cfg->prod_port, DP_ROLE_PROD, "[dataplane] prod_port") : -1;
	a->inject = cfg->inject_port[0] ?
		add_port(a, cfg->inject_port, DP_ROLE_INJECT, "[dataplane] inject_port") : -1;
	if (a->client < 0 || (cfg->mode == DP_MODE_INLINE && a->prod < 0) ||
	    (cfg->inject_port[0] && a->inject < 0))
		return -1;
	for (int g = 0; g < cfg->n_shadows; g++) {
		char what[64];

		snprintf(what, sizeof(what), "[shadow.%s] port", cfg->shadows[g].name);
		shadow_idx[g] = add_port(a, cfg->shadows[g].port, DP_ROLE_SHADOW, what);
		if (shadow_idx[g] < 0)
			return -1;
	}

	for (int i = 0; i < a->n_ports; i++)
		if (dp_port_plan(&a->ports[i], a->ports[i].id, cfg->mtu) < 0)
			return -1;
	if (create_big_pool(a) < 0)
		return -1;

	/* Every RX descriptor holds an mbuf, every TX descriptor may; add the
	 * bursts in flight, the per-lcore caches, and the rings between
	 * workers, full when one stalls (what they hold is received into this
	 * pool: short, the client port's RX would drop production's packets):
	 * a port's dispatch rings (any port may need them: which do is known
	 * once they start) and the hand-over's. */
	need = (uint32_t)a->n_ports * (cfg->rx_desc + cfg->tx_desc) * a->n_workers +
	       a->n_workers * DP_BURST * 4 + nlc * 256;
	if (a->n_workers > 1)
		need += (uint32_t)a->n_ports * (a->n_workers - 1) * DP_DISPATCH_RING;
	if (a->handover[0] != NULL)
		need += a->n_workers * DP_DISPATCH_RING;
	if (need < cfg->mbufs)
		need = cfg->mbufs;
	a->pool = rte_pktmbuf_pool_create("st_pool", need, 256, 0,
					  RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	/* Copies hold at most a header (or a small packet) of their own. */
	a->copy_pool = a->pool ? rte_pktmbuf_pool_create("st_copies", cfg->copy_mbufs, 256, 0,
							 RTE_PKTMBUF_HEADROOM + DP_COPY_ROOM,
							 (int)rte_socket_id()) : NULL;
	if (a->pool == NULL || a->copy_pool == NULL) {
		ST_ERR("cannot create the mbuf pools (%u + %u mbufs): %s; with --no-huge give "
		       "the EAL more memory (-m 1024)", need, cfg->copy_mbufs,
		       rte_strerror(rte_errno));
		return -1;
	}
	if (cfg->tcp_sessions > 0) {
		a->tcp_mark_off = dp_tcp_mark_register();
		if (a->tcp_mark_off < 0) {
			ST_ERR("cannot register the TCP segments' mbuf field: %s",
			       rte_strerror(rte_errno));
			return -1;
		}
		a->tcpq_pool = rte_pktmbuf_pool_create("st_tcpq", cfg->tcp_queue * a->n_workers + 1023,
						       256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
						       (int)rte_socket_id());
		if (a->tcpq_pool == NULL) {
			ST_ERR("cannot create the TCP queue pool (%u mbufs of 2 KB): %s; lower "
			       "[dataplane] tcp_queue or give the EAL more memory (-m)",
			       cfg->tcp_queue * a->n_workers, rte_strerror(rte_errno));
			return -1;
		}
	}
	ST_INFO("pools: %u mbufs for ports, %u for copies", need, cfg->copy_mbufs);
	a->ctrl_tx = rte_ring_create("st_ctrl_tx", 256, (int)rte_socket_id(),
				     RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (a->ctrl_tx == NULL) {
		ST_ERR("cannot create the control TX ring: %s", rte_strerror(rte_errno));
		return -1;
	}

	for (int i = 0; i < a->n_ports; i++) {
		if (dp_port_start(&a->ports[i], (uint16_t)a->n_workers, cfg->rx_desc, cfg->tx_desc,
				  a->ports[i].rx_room ? a->big_pool : a->pool) < 0)
			return -1;
		a->neigh[i].port_id = a->ports[i].id;
		a->neigh[i].port_mac = a->ports[i].mac;
		if (a->ports[i].sw_dispatch) {
			for (unsigned int w = 1; w < a->n_workers; w++) {
				char name[RTE_RING_NAMESIZE];

				snprintf(name, sizeof(name), "st_disp_%u_%u", (uint8_t)i, (uint8_t)w);
				a->dispatch[i][w] = rte_ring_create(name, DP_DISPATCH_RING,
								    (int)rte_socket_id(),
								    RING_F_SP_ENQ | RING_F_SC_DEQ);
				if (a->dispatch[i][w] == NULL) {
					ST_ERR("cannot create dispatch ring %s: %s", name,
					       rte_strerror(rte_errno));
					return -1;
				}
			}
			ST_NOTICE("port %s cannot hash flows to queues: worker 0 reads it "
				  "and hands each flow to its worker", a->ports[i].name);
		}
	}
	for (int i = 0; i < cfg->n_servers; i++) {
		struct dp_server_ep *s = &a->servers[i];

		memset(s, 0, sizeof(*s));
		if (cfg->servers[i].addr.family == AF_INET) {
			s->family = 4;
			s->ip.v4 = cfg->servers[i].addr.v4;
		} else {
			s->family = 6;
			memcpy(s->ip.a8, cfg->servers[i].addr.v6, 16);
		}
		s->port = cfg->servers[i].port;
	}
	a->n_servers = cfg->n_servers;
	for (int g = 0; g < cfg->n_shadows; g++) {
		struct st_perr err;
		int pi = shadow_idx[g];

		if (dp_group_init(&a->groups[g], &cfg->shadows[g], cfg, a->ports[pi].id,
				  (uint8_t)pi, &a->neigh[pi], &err) < 0) {
			ST_ERR("%s", err.msg);
			return -1;
		}
		a->groups[g].mtu = cfg->shadows[g].mtu ?
			RTE_MIN(cfg->shadows[g].mtu, a->ports[pi].mtu) : a->ports[pi].mtu;
		a->groups[g].tx_fast_max = a->groups[g].mtu + RTE_ETHER_HDR_LEN;
		a->port_groups[pi] |= 1u << g;
		if (a->groups[g].n_instances > 0)
			a->port_instances[pi] = true;
		a->n_groups++;
	}
	return 0;
}

/* The timing targets a worker may see: production, each group's mirrored
 * traffic, and, with an inject port, the injected traffic of each group
 * that takes it. The flow table keeps pending requests for these only. */
static uint32_t timed_targets(const struct dp_config *cfg)
{
	uint32_t m = 1u << DP_TARGET_PROD;

	for (int g = 0; g < cfg->n_shadows; g++) {
		m |= 1u << DP_TARGET_GROUP(g);
		if (cfg->inject_port[0] && cfg->shadows[g].inject)
			m |= 1u << DP_TARGET_INJ(g);
	}
	return m;
}

/* Whether answers from instances are handed between workers: more than
 * one worker, and a group with instances whose answers are timed or feed
 * TCP sessions (instances are not reloaded: restart-only). */
static bool handover_wanted(const struct dp_app *a)
{
	if (a->n_workers < 2 || !(a->cfg.timing || a->cfg.tcp_sessions > 0))
		return false;
	for (int g = 0; g < a->cfg.n_shadows; g++)
		if (a->cfg.shadows[g].n_instances > 0)
			return true;
	return false;
}

/* The rings answers from instances are handed over through (handover.c):
 * a group with instances gets its shadows' answers from the instances'
 * addresses, which RSS and the dispatch hash send to the worker their own
 * hash picks, not to the flow's. */
static int handover_start(struct dp_app *a)
{
	if (!handover_wanted(a))
		return 0;
	a->handover_off = dp_handover_register();
	if (a->handover_off < 0) {
		ST_ERR("cannot register the hand-over's mbuf field: %s", rte_strerror(rte_errno));
		return -1;
	}
	for (unsigned int w = 0; w < a->n_workers; w++) {
		char name[RTE_RING_NAMESIZE];

		snprintf(name, sizeof(name), "st_hand_%u", w);
		a->handover[w] = rte_ring_create(name, DP_DISPATCH_RING, (int)rte_socket_id(),
						 RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (a->handover[w] == NULL) {
			ST_ERR("cannot create ring %s: %s", name, rte_strerror(rte_errno));
			return -1;
		}
	}
	return 0;
}

static int setup_workers(struct dp_app *a)
{
	unsigned int lcore, avail = rte_lcore_count() - 1;

	if (avail == 0) {
		ST_ERR("no worker lcore: give the EAL at least two (-l 0-1); the main one "
		       "prints and serves control");
		return -1;
	}
	a->n_workers = a->cfg.workers ? a->cfg.workers : avail;
	if (a->n_workers > avail || a->n_workers > DP_MAX_WORKERS) {
		ST_ERR("[dataplane] workers: %u asked, %u worker lcores available",
		       a->n_workers, avail);
		return -1;
	}
	if (handover_start(a) < 0)
		return -1;
	{
		unsigned int i = 0;

		RTE_LCORE_FOREACH_WORKER(lcore) {
			struct dp_worker *w;

			if (i == a->n_workers)
				break;
			w = rte_zmalloc_socket("st_worker", sizeof(*w), RTE_CACHE_LINE_SIZE,
					       (int)rte_lcore_to_socket_id(lcore));
			if (w == NULL) {
				ST_ERR("cannot allocate worker state");
				return -1;
			}
			w->app = a;
			if (dp_flowtab_init(&w->flows, a->cfg.flow_table_size,
					    timed_targets(&a->cfg),
					    (int)rte_lcore_to_socket_id(lcore)) < 0 ||
			    (a->cfg.tcp_sessions > 0 &&
			     dp_tcp_init(&w->tcp, a->cfg.tcp_sessions, a->cfg.tcp_queue,
					 (int)rte_lcore_to_socket_id(lcore)) < 0) ||
			    dp_fragtab_init(&w->frags, a->cfg.frag_table_size, a->cfg.frag_hold,
					    (int)rte_lcore_to_socket_id(lcore)) < 0 ||
			    dp_kpi_worker_init(w, (int)rte_lcore_to_socket_id(lcore)) < 0 ||
			    dp_chaos_worker_init(w, a->cfg.chaos_queue) < 0 ||
			    dp_clients_worker_init(w, &a->cfg,
						   (int)rte_lcore_to_socket_id(lcore)) < 0) {
				ST_ERR("cannot allocate the flow table (%u flows), timing windows, chaos queue and client summaries; "
				       "with --no-huge give the EAL more memory (-m)",
				       a->cfg.flow_table_size);
				a->workers[i++] = w;
				return -1;
			}
			w->lcore = lcore;
			w->queue = (uint16_t)i;
			w->rng = 0x9e3779b97f4a7c15ULL * (i + 1);
			a->workers[i++] = w;
		}
	}
	return 0;
}

/* Frees a ring of mbufs and what it still holds; NULL is a no-op. */
static void ring_free(struct rte_ring *r)
{
	struct rte_mbuf *m = NULL;

	if (r == NULL)
		return;
	while (rte_ring_dequeue(r, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	rte_ring_free(r);
}

static void teardown(struct dp_app *a)
{
	for (int i = 0; i < a->n_ports; i++)
		dp_port_close(&a->ports[i]);
	for (int g = 0; g < a->n_groups; g++)
		dp_group_fini(&a->groups[g]);
	ring_free(a->ctrl_tx);
	for (unsigned int w = 0; w < DP_MAX_WORKERS; w++) {
		for (int i = 0; i < a->n_ports; i++)
			ring_free(a->dispatch[i][w]);
		ring_free(a->handover[w]);
	}
	/* Segments held for shadows go back before the pools are counted. */
	for (unsigned int i = 0; i < DP_MAX_WORKERS; i++)
		if (a->workers[i] != NULL) {
			dp_tcp_fini(&a->workers[i]->tcp);
			dp_fragtab_fini(&a->workers[i]->frags);
			dp_chaos_worker_fini(a->workers[i]);
		}
	if (a->pool != NULL || a->copy_pool != NULL) {
		unsigned int p = (a->pool ? rte_mempool_in_use_count(a->pool) : 0) +
				 (a->big_pool ? rte_mempool_in_use_count(a->big_pool) : 0);
		unsigned int c = a->copy_pool ? rte_mempool_in_use_count(a->copy_pool) : 0;

		c += a->tcpq_pool ? rte_mempool_in_use_count(a->tcpq_pool) : 0;

		fprintf(stderr, "mbufs in use at exit: ports %u, copies %u\n", p, c);
		if (p != 0 || c != 0)
			ST_WARN("mbufs leaked: ports %u, copies %u", p, c);
	}
	for (unsigned int i = 0; i < DP_MAX_WORKERS; i++) {
		if (a->workers[i] == NULL)
			continue;
		dp_flowtab_fini(&a->workers[i]->flows);
		dp_kpi_worker_fini(a->workers[i]);
		dp_clients_worker_fini(a->workers[i]);
		rte_free(a->workers[i]);
	}
	rte_mempool_free(a->tcpq_pool);
	rte_mempool_free(a->copy_pool);
	rte_mempool_free(a->pool);
	rte_mempool_free(a->big_pool);
}

/* The main lcore: control requests as they come, neighbour requests once a
 * second, the KPI window and the stats line every interval, until a signal
 * or the duration is up. */
static void main_loop(struct dp_app *a, const struct run_opts *opts)
{
	uint64_t start = st_mono_ns(), next_stats = start + a->cfg.interval_ns;

	/* The scenario's offsets count from here: the ports run. */
	scn.start_ns = start;
	if (scn.n > 0)
		ST_NOTICE("chaos scenario %s: %u lines from now", scn.path, scn.n);
	uint64_t next_neigh = start, prev_t = start;
	uint32_t neigh_round = 0;
	struct dp_counters prev, cur;

	memset(&prev, 0, sizeof(prev));
	while (!stop_requested) {
		uint64_t now = st_mono_ns(), wake;
		zmq_pollitem_t items[2] = {
			{ ctl.rep, 0, ZMQ_POLLIN, 0 },
			{ zap ? zap->sock : NULL, 0, ZMQ_POLLIN, 0 },
		};
		int n_items = zap ? 2 : 1;

		if (opts->duration_ns && now - start >= opts->duration_ns)
			break;
		if (now >= next_neigh) {
			/* the unresolved every second, all every few */
			bool refresh = ++neigh_round % DP_NEIGH_REFRESH_S == 0;

			for (int i = 0; i < a->n_ports; i++)
				if ((a->port_roles[i] & DP_ROLE_SHADOW) &&
				    (refresh || dp_neigh_unresolved(&a->neigh[i]) > 0))
					dp_neigh_solicit(&a->neigh[i], a->ctrl_tx, a->pool, refresh);
			next_neigh = now + ST_NS_PER_S;
		}
		if (now >= next_stats) {
			if (a->timing)
				dp_kpi_interval(&kpi, a);
			dp_stats_sum(a, &cur);
			if (a->cfg.stats)
				dp_stats_line(a, &prev, &cur, (double)(now - prev_t) / 1e9);
			prev = cur;
			prev_t = now;
			next_stats += a->cfg.interval_ns;
			if (next_stats < now)
				next_stats = now + a->cfg.interval_ns;
		}
		if (reload_requested) {
			struct dp_reload_result *res = malloc(sizeof(*res));

			reload_requested = 0;
			ST_NOTICE("SIGHUP: reloading %s", reload.path);
			if (res == NULL)
				ST_ERR("SIGHUP: reload: out of memory");
			else
				dp_reload_run(&reload, a, ctl.rep != NULL ? &ctl : NULL, res);
			free(res);
		}
		dp_reload_reclaim(&reload, a);
		dp_http_round(http, now);
		dp_control_scenario_run(&scn, a, now);
		wake = RTE_MIN(RTE_MIN(next_stats, next_neigh), dp_scenario_next_ns(&scn));
		if (opts->duration_ns)
			wake = RTE_MIN(wake, start + opts->duration_ns);
		{
			long ms = wake > now ? (long)((wake - now + ST_NS_PER_MS - 1) / ST_NS_PER_MS) : 0;

			if (ms > 10)
				ms = 10;
			if (ctl.rep == NULL && zap != NULL) {
				items[0] = items[1];
				n_items = 1;
			}
			if (ctl.rep != NULL || zap != NULL) {
				if (zmq_poll(items, n_items, ms) > 0) {
					if (ctl.rep != NULL && (items[0].revents & ZMQ_POLLIN))
						dp_control_poll(&ctl, a, &kpi);
					if (zap != NULL && (items[n_items - 1].revents & ZMQ_POLLIN))
						st_zap_handle(zap);
				}
				if (ctl.rep != NULL)
					dp_control_expire(&ctl, a, st_mono_ns());
			} else {
				st_sleep_until_ns(now + (uint64_t)ms * ST_NS_PER_MS);
			}
		}
	}
	/* The last, partial window too, while the workers can still hand it
	 * over: a short run publishes what it saw. */
	if (a->timing)
		dp_kpi_interval(&kpi, a);
	dp_force_quit = true;
}

/* ZeroMQ side: the KPI publisher and the control socket. */
static int setup_zmq(struct dp_app *a)
{
	const struct dp_config *cfg = &a->cfg;

	zctx = zmq_ctx_new();
	if (zctx == NULL) {
		ST_ERR("zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
		return -1;
	}
	if (dp_kpi_init(&kpi, a, zctx, a->timing ? cfg->kpi_endpoint : "") < 0)
		return -1;
	if (cfg->control_endpoint[0] != '\0' && dp_control_init(&ctl, zctx) < 0)
		return -1;
	ctl.scn = &scn;
	ctl.reload = &reload;
	if (cfg->curve_secret_key[0] != '\0') {
		struct st_perr err;

		/* The ZAP handler first: CURVE without one admits anyone. */
		zap = st_zap_create(zctx, cfg->curve_allowed_keys, &err);
		if (zap == NULL ||
		    (kpi.pub != NULL &&
		     st_zsec_server_setup(kpi.pub, cfg->curve_secret_key, NULL, &err) < 0) ||
		    (ctl.rep != NULL &&
		     st_zsec_server_setup(ctl.rep, cfg->curve_secret_key, NULL, &err) < 0)) {
			ST_ERR("CURVE: %s", err.msg);
			return -1;
		}
		ST_NOTICE("CURVE on: clients admitted from %s", cfg->curve_allowed_keys);
	}
	if (dp_kpi_bind(&kpi, cfg->kpi_endpoint) < 0)
		return -1;
	if (ctl.rep != NULL && dp_control_bind(&ctl, cfg->control_endpoint) < 0)
		return -1;
	return 0;
}

static void teardown_zmq(void)
{
	dp_control_fini(&ctl);
	dp_kpi_fini(&kpi);
	if (zap != NULL)
		st_zap_destroy(zap);
	zap = NULL;
	if (zctx != NULL)
		zmq_ctx_term(zctx);
	zctx = NULL;
}

/* A usage or config error: 2, apart from a failure at run time (1), so
 * that a unit's Restart=on-failure does not retry a config that cannot
 * start (RestartPreventExitStatus=2). */
#define EXIT_USAGE 2

int main(int argc, char **argv)
{
	struct run_opts opts = { 0 };
	enum st_log_level lvl;
	struct dp_counters total;
	int dashdash = -1, rc, status = EXIT_FAILURE;
	uint64_t run_start;
	const char *prog;

	st_log_init(argv[0], ST_LOG_NOTICE);
	prog = st_log_prog();
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			dashdash = i;
			break;
		}
	}
	/* --help and --config-help work without "--" and without the EAL. */
	if (dashdash < 0) {
		for (int i = 1; i < argc; i++) {
			if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
				usage(stdout, prog);
				return 0;
			}
			if (strcmp(argv[i], "--version") == 0) {
				printf("shadowtap-dataplane %s\n", ST_VERSION);
				return 0;
			}
			if (strncmp(argv[i], "--config-help", 13) == 0) {
				dp_config_print_reference(stdout, strcmp(argv[i], "--config-help=md") == 0);
				return 0;
			}
		}
		usage(stderr, prog);
		return EXIT_USAGE;
	}

	dp_config_defaults(&app.cfg);
	{
		char *app_argv[256];
		int app_argc = argc - dashdash;

		if (app_argc > 255)
			app_argc = 255;
		app_argv[0] = argv[0];
		for (int i = 1; i < app_argc; i++)
			app_argv[i] = argv[dashdash + i];
		app_argv[app_argc] = NULL;
		rc = parse_app_args(app_argc, app_argv, prog, &app.cfg, &opts);
	}
	if (rc != 0)
		return rc > 0 ? 0 : EXIT_USAGE;
	if (st_log_level_parse(app.cfg.log_level, &lvl) < 0) {
		ST_ERR("[dataplane] log_level: '%s': expected err|warn|notice|info|debug",
		       app.cfg.log_level);
		return EXIT_USAGE;
	}
	st_log_set_level(lvl);
	if (opts.check_only) {
		struct st_perr herr;

		/* the token and TLS files too: a unit would find them only at
		 * start */
		if (dp_http_check(&app.cfg, &herr) != 0) {
			ST_ERR("%s", herr.msg);
			return EXIT_USAGE;
		}
		printf("%s: config OK (%d shadow groups)\n", app.cfg.config_file, app.cfg.n_shadows);
		return 0;
	}
	/* The scenario, checked once more as it is read for the run (the
	 * config's check read it too): a bad one stops here, before a port. */
	if (app.cfg.chaos_scenario[0] != '\0') {
		char why[400];

		if (dp_scenario_load(&scn, app.cfg.chaos_scenario, &app.cfg, NULL, why,
				     sizeof(why)) != 0) {
			ST_ERR("[dataplane] chaos_scenario: %s", why);
			return EXIT_FAILURE;
		}
	}

	/* af_packet rings whose frames hold jumbo frames and the IPv4
	 * datagrams the kernel reassembles for af_packet (docs: Frames). */
	if (st_vdev_size_af_packet(dashdash, argv, ST_AFP_FRAME) < 0) {
		ST_ERR("out of memory");
		return EXIT_FAILURE;
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
	signal(SIGHUP, on_hup);
	app.tsc_hz = rte_get_tsc_hz();
	app.timing = app.cfg.timing;
	app.tcp = app.cfg.tcp_sessions > 0;
	app.ns_per_cyc_q32 = (uint64_t)((1000000000ULL << 32) / app.tsc_hz);
	app.timeout_cyc = (uint64_t)((double)app.cfg.response_timeout_ns * (double)app.tsc_hz / 1e9);
	app.idle_cyc = (uint64_t)((double)app.cfg.flow_idle_ns * (double)app.tsc_hz / 1e9);
	app.frag_cyc = (uint64_t)((double)app.cfg.frag_timeout_ns * (double)app.tsc_hz / 1e9);

	if (setup_workers(&app) < 0 || dp_reload_init(&reload, &app) < 0 ||
	    setup_ports_and_groups(&app) < 0 || setup_zmq(&app) < 0)
		goto out;
	if (dp_stats_telemetry_init(&app) < 0)
		ST_WARN("telemetry commands not registered");
	{
		struct st_perr err;

		http = dp_http_start(&app, &kpi, &ctl, &err);
		if (http == NULL && errno != 0) {
			int e = errno;

			/* a token or key file the config names will not be
			 * better on a restart (exit 2: the unit does not loop);
			 * a port in use may be */
			if (e != EADDRINUSE && e != ENOMEM)
				status = 2;
			ST_ERR("%s", err.msg);
			goto out;
		}
		if (http != NULL)
			ST_NOTICE("http: listening on %s port %u%s", app.cfg.http_endpoint,
				  dp_http_port(http),
				  app.cfg.http_tls_client_ca[0] ? " (TLS, client certificates)" :
				  app.cfg.http_tls_cert[0] ? " (TLS)" : "");
	}

	run_start = st_mono_ns();
	for (unsigned int i = 0; i < app.n_workers; i++) {
		rc = rte_eal_remote_launch(worker_main_loop, app.workers[i], app.workers[i]->lcore);
		if (rc != 0) {
			ST_ERR("cannot launch worker on lcore %u: %s", app.workers[i]->lcore,
			       strerror(-rc));
			dp_force_quit = true;
			break;
		}
	}
	ST_NOTICE("running: mode %s, %u workers, %d ports, %d shadow groups",
		  app.cfg.mode == DP_MODE_INLINE ? "inline" : "tap", app.n_workers,
		  app.n_ports, app.n_groups);
	/* ports started, sockets bound, workers polling: a Type=notify
	 * unit is up */
	if (!dp_force_quit &&
	    st_notify_ready("%s, %u workers, %d ports, %d shadow groups",
			    app.cfg.mode == DP_MODE_INLINE ? "inline" : "tap", app.n_workers,
			    app.n_ports, app.n_groups) < 0)
		ST_WARN("sd_notify READY failed");
	if (!dp_force_quit)
		main_loop(&app, &opts);
	st_notify_stopping();
	rte_eal_mp_wait_lcore();
	dp_stats_sum(&app, &total);
	dp_stats_final(&app, &total, stderr);
	fprintf(stderr, "  kpi: sent %" PRIu64 ", dropped %" PRIu64 ", last seq %" PRIu64
		", windows a worker missed %" PRIu64 ", histograms not encoded %" PRIu64
		"; control: handled %" PRIu64 ", rejected %" PRIu64 "; reloads: applied %" PRIu64
		", refused %" PRIu64 "\n", kpi.sent, kpi.dropped,
		kpi.seq, kpi.workers_late, kpi.lat_failed, ctl.handled, ctl.rejected, reload.done,
		reload.refused);
	fprintf(stderr, "run time %.3f s, tsc %" PRIu64 " Hz\n",
		(double)(st_mono_ns() - run_start) / 1e9, app.tsc_hz);
	status = EXIT_SUCCESS;
out:
	dp_force_quit = true;
	rte_eal_mp_wait_lcore();
	dp_http_stop(http);
	dp_stats_telemetry_fini();
	teardown_zmq();
	teardown(&app);
	if (app.qsv != NULL)
		dp_reload_fini(&reload, &app);
	dp_scenario_free(&scn);
	rte_eal_cleanup();
	return status;
}
