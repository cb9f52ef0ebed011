/* shadowtap-whatif's plain parts: the [whatif] keys and the command line
 * (every refusal names the key and its line), the model beside the
 * measurement (a sweep of M/D/1 cells is predicted by the model fitted on
 * it, a cell three times off is flagged), and the outputs (every cell in the
 * JSON and the CSV, a page that ends). */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>
#include <zmq.h>

#include "clock.h"
#include "cunit_main.h"
#include "pkt_build.h"
#include "model.h"
#include "whatif.h"

static char dir[] = "/tmp/st-test-whatif-XXXXXX";

static int setup(void)
{
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes body to DIR/name and loads it as --config. */
static int load(const char *body, struct wi_config *c, struct st_perr *e, const char *extra)
{
	char path[256], opt[64] = "";
	char *argv[6];
	int argc = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/w.ini", dir);
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fputs(body, f);
	fclose(f);
	argv[argc++] = (char *)"shadowtap-whatif";
	argv[argc++] = (char *)"--config";
	argv[argc++] = path;
	if (extra != NULL) {
		snprintf(opt, sizeof(opt), "%s", extra);
		argv[argc++] = opt;
	}
	argv[argc] = NULL;
	memset(e, 0, sizeof(*e));
	return wi_config_load(argc, argv, c, e);
}

#define BASE "[whatif]\nservice = web\ngroup = pool\npcap = x.pcap\nslo_p99 = 50ms\n"

static void t_config(void)
{
	struct wi_config c;
	struct st_perr e;

	CU_ASSERT_EQUAL_FATAL(load(BASE "loads = 0.5x, 1.5k, 2x\ninstances = 1-4\nstep = 20s\n"
				   "poisson = yes\nloadgen_eal = -l 0-1  --vdev net_memif0\n"
				   "instance_cost_per_hour = 0.4\n", &c, &e, NULL), 0);
	CU_ASSERT_EQUAL(c.n_loads, 3);
	CU_ASSERT_TRUE(c.loads[0].multiple && c.loads[0].value == 0.5);
	CU_ASSERT_TRUE(!c.loads[1].multiple && c.loads[1].value == 1500);
	CU_ASSERT_STRING_EQUAL(c.loads[2].text, "2x");
	CU_ASSERT_EQUAL(c.n_counts, 4);
	CU_ASSERT_EQUAL(c.counts[0], 1);
	CU_ASSERT_EQUAL(c.counts[3], 4);
	CU_ASSERT_EQUAL(c.step_ns, 20000000000ULL);
	CU_ASSERT_EQUAL(c.warmup_ns, 3000000000ULL);	/* default */
	CU_ASSERT_EQUAL(c.slo_p99_ns, 50000000ULL);
	CU_ASSERT_TRUE(c.poisson && c.pause_mirror);
	CU_ASSERT_EQUAL(c.loadgen_eal.n, 4);
	CU_ASSERT_STRING_EQUAL(c.loadgen_eal.v[3], "net_memif0");
	CU_ASSERT_DOUBLE_EQUAL(c.cost_per_hour, 0.4, 1e-12);
	CU_ASSERT_TRUE(c.budget_per_hour < 0);	/* default: none */
	wi_config_free(&c);
	/* priced and budgeted as the analyzer's keys: a number or none */
	CU_ASSERT_EQUAL(load(BASE "loads = 100\ninstances = 1\ninstance_cost_per_hour = 0.40\n"
			     "budget_per_hour = 1.2\n", &c, &e, NULL), 0);
	CU_ASSERT_DOUBLE_EQUAL(c.budget_per_hour, 1.2, 1e-12);
	wi_config_free(&c);
	CU_ASSERT_EQUAL(load(BASE "loads = 100\ninstances = 1\ninstance_cost_per_hour = none\n"
			     "budget_per_hour = NONE\n", &c, &e, NULL), 0);
	CU_ASSERT_TRUE(c.cost_per_hour < 0 && c.budget_per_hour < 0);
	wi_config_free(&c);
	CU_ASSERT_EQUAL(load(BASE "loads = 100\ninstances = 1\ninstance_cost_per_hour = 0\n"
			     "budget_per_hour = 0\n", &c, &e, NULL), 0);
	CU_ASSERT_TRUE(c.cost_per_hour == 0 && c.budget_per_hour == 0);
	wi_config_free(&c);
	CU_ASSERT_EQUAL(load(BASE "loads = 100\ninstances = 1, 2, 8\n", &c, &e, NULL), 0);
	CU_ASSERT_EQUAL(c.n_counts, 3);
	CU_ASSERT_EQUAL(c.counts[2], 8);
	wi_config_free(&c);
}

static void t_config_refused(void)
{
	static const struct {
		const char *body, *want;
	} cases[] = {
		{ "[other]\nx = 1\n", "no [whatif] section" },
		{ BASE "loads = 1x\ninstances = 4-1\n", ":7: [whatif] instances: '4-1': an inverted range" },
		{ BASE "loads = 1x\ninstances = 1, 3, 2\n", "[whatif] instances: '1, 3, 2': the list must rise" },
		{ BASE "loads = 1x\ninstances = 0-2\n", "[whatif] instances" },
		{ BASE "loads = 1x\ninstances = \n", "[whatif] instances: empty" },
		{ BASE "loads = fast\ninstances = 1\n", "[whatif] loads: 'fast': not a rate" },
		{ BASE "loads = 1x, 1x\ninstances = 1\n", "[whatif] loads: '1x' is listed twice" },
		{ BASE "loads = 0x\ninstances = 1\n", "[whatif] loads: '0x'" },
		{ BASE "loads = \ninstances = 1\n", "[whatif] loads: empty" },
		{ BASE "loads = 1x\n", "[whatif] instances: missing (required)" },
		{ "[whatif]\nservice = web\ngroup = pool\npcap = x\nloads = 1x\ninstances = 1\n",
		  "[whatif] slo_p99: missing" },
		{ BASE "loads = 1x\ninstances = 1\nsteps = 1s\n", "[whatif] steps: unknown key" },
		{ BASE "loads = 1x\ninstances = 1\nstep = 100ms\n", "[whatif] step" },
		{ BASE "loads = 1x\ninstances = 1\nstop_factor = 0.5\n", "[whatif] stop_factor" },
		{ BASE "loads = 1x\ninstances = 1\npoisson = maybe\n", "[whatif] poisson" },
		{ BASE "loads = 1x\ninstances = 1\nloadgen_args = --map '*=a'\n",
		  "[whatif] loadgen_args: arguments are split at blanks" },
		{ "[whatif]\nservice = a.b\n", "[whatif] service: 'a.b' is not a name" },
		{ BASE "loads = 1x\ninstances = 1\ninstance_cost_per_hour = 0.4\nbudget_per_hour = cheap\n",
		  ":9: [whatif] budget_per_hour: 'cheap': not a number" },
		{ BASE "loads = 1x\ninstances = 1\ninstance_cost_per_hour = 0.4\nbudget_per_hour = -1\n",
		  ":9: [whatif] budget_per_hour: '-1': out of range" },
		{ BASE "loads = 1x\ninstances = 1\nbudget_per_hour = 2\n",
		  "[whatif] budget_per_hour: needs instance_cost_per_hour" },
		{ BASE "loads = 1x\ninstances = 1\ninstance_cost_per_hour = free\n",
		  "[whatif] instance_cost_per_hour: 'free': not a number" },
	};
	struct wi_config c;
	struct st_perr e;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = load(cases[i].body, &c, &e, NULL);

		CU_ASSERT_EQUAL(rc, -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, cases[i].want));
		wi_config_free(&c);
	}
}

static void t_cmdline(void)
{
	char *no_config[] = { (char *)"w", NULL };
	char *help[] = { (char *)"w", (char *)"--help", NULL };
	char *stray[] = { (char *)"w", (char *)"-c", (char *)"x.ini", (char *)"extra", NULL };
	struct wi_config c;
	struct st_perr e;

	CU_ASSERT_EQUAL(wi_config_load(1, no_config, &c, &e), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "--config FILE is required"));
	CU_ASSERT_EQUAL(wi_config_load(2, help, &c, &e), 1);
	CU_ASSERT_EQUAL(wi_config_load(4, stray, &c, &e), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "unexpected argument 'extra'"));
	CU_ASSERT_EQUAL(load(BASE "loads = 1x\ninstances = 1\n", &c, &e, "--bogus"), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "unknown option --bogus"));
	wi_config_free(&c);
	/* a cluster of short options: the one refused, not the word before */
	CU_ASSERT_EQUAL(load(BASE "loads = 1x\ninstances = 1\n", &c, &e, "-xq"), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "unknown option -x "));
	wi_config_free(&c);
}

/* A sweep whose cells are what M/D/1 servers of 50/s (1 ms fixed part)
 * show: loads 10, 30, 70, 90/s on 1 and 2 instances, SLO 200 ms: met up
 * to rho 0.7, not at 0.9 nor past capacity. */
static struct wi_config mcfg;
static struct wi_sweep msw;

static void md1_sweep(void)
{
	static const double loads[] = { 10, 30, 70, 90 };
	struct an_fit truth = { .mu = 50, .d0 = 0.001, .w = 1, .cs2 = 0 };

	memset(&mcfg, 0, sizeof(mcfg));
	memset(&msw, 0, sizeof(msw));
	snprintf(mcfg.path, sizeof(mcfg.path), "t.ini");
	snprintf(mcfg.service, sizeof(mcfg.service), "web");
	snprintf(mcfg.group, sizeof(mcfg.group), "pool");
	snprintf(mcfg.pcap, sizeof(mcfg.pcap), "t.pcap");
	mcfg.n_loads = 4;
	for (int i = 0; i < 4; i++) {
		snprintf(mcfg.loads[i].text, sizeof(mcfg.loads[i].text), "%.0f", loads[i]);
		mcfg.loads[i].value = mcfg.loads[i].pps = loads[i];
	}
	mcfg.n_counts = 2;
	mcfg.counts[0] = 1;
	mcfg.counts[1] = 2;
	mcfg.slo_p99_ns = 200000000ULL;
	mcfg.slo_error_rate = 0.01;
	mcfg.stop_factor = 4;
	mcfg.step_ns = 10000000000ULL;
	mcfg.cost_per_hour = -1;	/* none */
	mcfg.budget_per_hour = -1;
	msw.cfg = &mcfg;
	msw.n_cells = 8;
	for (int ci = 0; ci < 2; ci++)
		for (int li = 0; li < 4; li++) {
			struct wi_cell *c = wi_cell_at(&msw, ci, li);
			double lam = loads[li] / mcfg.counts[ci];

			c->instances = mcfg.counts[ci];
			c->load = li;
			c->offered_rps = c->achieved_rps = c->sent_pps = loads[li];
			c->requests = c->responses = (uint64_t)(loads[li] * 10);
			c->error_rate = 0;
			c->windows = 10;
			c->seconds = 10;
			if (lam >= truth.mu) {
				c->p50.v = c->p90.v = c->p99.v = c->p999.v = 2e9;
				c->p99.lo = 1.8e9;
				c->p99.hi = 2.2e9;
				c->mean_ns = 1.5e9;
				c->status = WI_STOP;
				continue;
			}
			c->p50.v = (truth.d0 + an_model_q(NULL, AN_FORM_MG1, &truth, lam, 1, 0.5)) * 1e9;
			c->p90.v = (truth.d0 + an_model_q(NULL, AN_FORM_MG1, &truth, lam, 1, 0.9)) * 1e9;
			c->p99.v = (truth.d0 + an_model_q(NULL, AN_FORM_MG1, &truth, lam, 1, 0.99)) * 1e9;
			c->p999.v = c->p99.v * 1.2;
			c->p99.lo = c->p99.v * 0.9;
			c->p99.hi = c->p99.v * 1.1;
			c->mean_ns = (truth.d0 + an_model_mean(NULL, AN_FORM_MG1, &truth, lam, 1)) * 1e9;
			c->status = c->p99.v <= (double)mcfg.slo_p99_ns ? WI_PASS : WI_FAIL;
		}
}

static void t_model(void)
{
	int passes = 0;

	md1_sweep();
	wi_model_fit(&msw);
	CU_ASSERT_TRUE_FATAL(msw.model.ok);
	CU_ASSERT_STRING_EQUAL(msw.model.form, "mg1");
	/* the capacity and the fixed part of the servers the cells came from */
	CU_ASSERT_DOUBLE_EQUAL(msw.model.mu, 50, 5);
	CU_ASSERT_DOUBLE_EQUAL(msw.model.d0, 0.001, 0.003);
	CU_ASSERT_EQUAL(msw.model.disagree, 0);
	for (int i = 0; i < msw.n_cells; i++) {
		const struct wi_cell *c = &msw.cells[i];

		CU_ASSERT_EQUAL(c->model_agrees, 1);
		CU_ASSERT_EQUAL(c->pred_pass, c->status == WI_PASS);
		passes += c->status == WI_PASS;
		if (c->status == WI_PASS)
			CU_ASSERT_DOUBLE_EQUAL(c->model_ratio, 1, 0.15);
	}
	/* 2 instances at 70/s, 35/s each (rho 0.7): the passing cell
	 * nearest saturation, the anchor */
	CU_ASSERT_EQUAL(passes, 5);
	CU_ASSERT_EQUAL(msw.model.fit_cell, 1 * 4 + 2);

	/* a cell three times slower than the servers can be */
	struct wi_cell *odd = wi_cell_at(&msw, 1, 0);

	odd->p50.v *= 3;
	odd->p90.v *= 3;
	odd->p99.v *= 3;
	odd->p99.lo *= 3;
	odd->p99.hi *= 3;
	odd->mean_ns *= 3;
	wi_model_fit(&msw);
	CU_ASSERT_TRUE(msw.model.ok);
	CU_ASSERT_EQUAL(odd->model_agrees, 0);
	CU_ASSERT_TRUE(msw.model.disagree >= 1);

	/* a cell failed on its errors alone (0.5% timeouts, p99 well within
	 * the SLO): the model, which predicts latency, does not disagree */
	md1_sweep();
	{
		struct wi_cell *err = wi_cell_at(&msw, 1, 0);

		err->error_rate = 0.005;
		err->status = WI_FAIL;
		wi_model_fit(&msw);
		CU_ASSERT_TRUE(msw.model.ok);
		CU_ASSERT_EQUAL(err->model_agrees, 1);
		CU_ASSERT_EQUAL(msw.model.disagree, 0);
	}

	/* nothing passed: no model, and it says why */
	for (int i = 0; i < msw.n_cells; i++)
		msw.cells[i].status = WI_FAIL;
	wi_model_fit(&msw);
	CU_ASSERT_FALSE(msw.model.ok);
	CU_ASSERT_TRUE(msw.model.why[0] != '\0');
	CU_ASSERT_EQUAL(msw.cells[0].pred_pass, -1);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static int count(const char *s, const char *needle)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* The sweep's JSON, CSV and report as DIR/stem.{json,csv,html}. */
static int write_files(struct wi_sweep *sw, const char *stem, char j[256], char c[256],
		       char h[256])
{
	struct st_perr e;

	snprintf(j, 256, "%s/%s.json", dir, stem);
	snprintf(c, 256, "%s/%s.csv", dir, stem);
	snprintf(h, 256, "%s/%s.html", dir, stem);
	if (wi_write_json(sw, j, &e) != 0 || wi_write_csv(sw, c, &e) != 0 ||
	    wi_write_report(sw, h, &e) != 0)
		return -1;
	return 0;
}

static void t_outputs(void)
{
	char j[256], c[256], h[256];
	struct st_perr e;
	char *s;

	md1_sweep();
	wi_cell_at(&msw, 0, 3)->status = WI_SKIPPED;	/* a row stopped */
	wi_model_fit(&msw);
	/* fewest: 1 instance up to 30/s, 2 at 70/s, none at 90/s */
	CU_ASSERT_EQUAL(wi_fewest(&msw, 0), 0);
	CU_ASSERT_EQUAL(wi_fewest(&msw, 1), 0);
	CU_ASSERT_EQUAL(wi_fewest(&msw, 2), 1);
	CU_ASSERT_EQUAL(wi_fewest(&msw, 3), -1);
	CU_ASSERT_EQUAL_FATAL(write_files(&msw, "s", j, c, h), 0);
	s = slurp(j);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(count(s, "\"slo_met\":"), 8);
	CU_ASSERT_EQUAL(count(s, "\"status\":\"skipped\""), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"model\":{\"ok\":true,\"form\":\"mg1\""));
	CU_ASSERT_EQUAL(count(s, "\"predicted_status\":"), 8);
	CU_ASSERT_TRUE(s[strlen(s) - 2] == '}');
	free(s);
	s = slurp(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(count(s, "\n"), 9);
	CU_ASSERT_EQUAL(strncmp(s, "instances,load,offered_rps,status", 33), 0);
	free(s);
	s = slurp(h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(strncmp(s, "<!DOCTYPE html>", 15), 0);
	CU_ASSERT_EQUAL(count(s, "class=\"heat\""), 1);
	CU_ASSERT_EQUAL(count(s, "class=\"notrun\""), 1);
	CU_ASSERT_PTR_NULL(strstr(s, "<script"));
	CU_ASSERT_PTR_NULL(strstr(s, "nan"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "</html>\n"));
	CU_ASSERT_EQUAL(count(s, "<td"), count(s, "</td>"));
	CU_ASSERT_EQUAL(count(s, "<tr"), count(s, "</tr>"));
	free(s);
	/* an unwritable place: an error naming it, never a crash */
	CU_ASSERT_NOT_EQUAL(wi_write_json(&msw, "/nonexistent/dir/s.json", &e), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "/nonexistent/dir/s.json"));
}

/* The largest grid the config takes (64 counts x 32 loads): every cell
 * in the JSON (its msgpack passes st_wire's parser on the way, whose
 * default limits, 1,024 to an array, once refused sweeps of 208 cells). */
static void t_outputs_full_grid(void)
{
	char j[256], c[256], h[256];
	char *s;

	md1_sweep();
	mcfg.n_loads = WI_MAX_LOADS;
	mcfg.n_counts = WI_MAX_COUNTS;
	for (int li = 0; li < WI_MAX_LOADS; li++) {
		snprintf(mcfg.loads[li].text, sizeof(mcfg.loads[li].text), "%d", 10 * (li + 1));
		mcfg.loads[li].value = mcfg.loads[li].pps = 10.0 * (li + 1);
	}
	for (int ci = 0; ci < WI_MAX_COUNTS; ci++) {
		mcfg.counts[ci] = (uint32_t)ci + 1;
		for (int li = 0; li < WI_MAX_LOADS; li++) {
			struct wi_cell *x = wi_cell_at(&msw, ci, li);

			memset(x, 0, sizeof(*x));
			x->instances = mcfg.counts[ci];
			x->load = li;
			x->offered_rps = x->achieved_rps = x->sent_pps = mcfg.loads[li].pps;
			x->p50.v = x->p90.v = x->p99.v = x->p999.v = 1e6;
			x->status = WI_PASS;
		}
	}
	msw.n_cells = WI_MAX_COUNTS * WI_MAX_LOADS;
	wi_model_fit(&msw);
	CU_ASSERT_EQUAL_FATAL(write_files(&msw, "full", j, c, h), 0);
	s = slurp(j);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(count(s, "\"slo_met\":"), WI_MAX_COUNTS * WI_MAX_LOADS);
	free(s);
}

/* The capture's own rate as the load generator will replay it: with
 * loadgen_args' --server, only the flows it keeps (a capture of two
 * servers' flows, 10 packets a second, 5 of them to the one kept); with
 * multiples, options that change the rate they scale are refused, as is an
 * option the load generator would refuse. */
static void t_capture_rate(void)
{
	char path[256];
	char *server[] = { (char *)"--server", (char *)"198.18.1.1:53" };
	char *mult[] = { (char *)"--multiply", (char *)"2" };
	char *bogus[] = { (char *)"--bogus" };
	struct wi_argv a = { .buf = NULL, .n = 2 };
	pcap_t *pd = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *d;
	struct st_perr e;
	uint32_t n;
	double pps;

	snprintf(path, sizeof(path), "%s/two.pcap", dir);
	d = pcap_dump_open(pd, path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	for (int i = 0; i < 20; i++) {
		struct pcap_pkthdr h = { .ts = { .tv_sec = i / 10, .tv_usec = (i % 10) * 100000 } };
		struct pb b;

		pb_init(&b);
		pb_eth(&b);
		pb_type(&b, 0x0800);
		pb_ipv4(&b, 0xc6120001 + (uint32_t)(i % 2), 0xc6120101 + (uint32_t)(i % 2), 17, NULL,
			0);
		pb_udp(&b, (uint16_t)(1000 + i % 2), 53);
		pb_fill(&b, 20, (uint8_t)i);
		pb_finish(&b, 1);
		h.caplen = h.len = b.len;
		pcap_dump((u_char *)d, &h, b.b);
	}
	pcap_dump_close(d);
	pcap_close(pd);
	CU_ASSERT_EQUAL_FATAL(wi_capture_rate(path, NULL, true, &pps, &n, &e), 0);
	CU_ASSERT_EQUAL(n, 20);
	CU_ASSERT_DOUBLE_EQUAL(pps, 10, 1e-6);
	memcpy(a.v, server, sizeof(server));
	CU_ASSERT_EQUAL_FATAL(wi_capture_rate(path, &a, true, &pps, &n, &e), 0);
	CU_ASSERT_EQUAL(n, 10);
	CU_ASSERT_DOUBLE_EQUAL(pps, 5, 1e-6);
	memcpy(a.v, mult, sizeof(mult));
	CU_ASSERT_EQUAL(wi_capture_rate(path, &a, true, &pps, &n, &e), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "--multiply in loadgen_args: give the loads as rates"));
	CU_ASSERT_EQUAL(wi_capture_rate(path, &a, false, &pps, &n, &e), 0);
	a.n = 1;
	memcpy(a.v, bogus, sizeof(bogus));
	CU_ASSERT_EQUAL(wi_capture_rate(path, &a, false, &pps, &n, &e), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "loadgen_args: unknown option '--bogus'"));
}

/* A dataplane that answers the first request 3.5 s late (past the
 * client's 3 s) and then, wedged, the second not before it is told to. */
static atomic_bool wedged_stop;

static void *wedged_dataplane(void *zctx)
{
	static const char ok[] = "\x81\xa2ok\xc3";	/* {ok: true} */
	void *rep = zmq_socket(zctx, ZMQ_REP);
	int timeo = 100;
	char buf[512];

	zmq_setsockopt(rep, ZMQ_RCVTIMEO, &timeo, sizeof(timeo));
	zmq_bind(rep, "inproc://wedged");
	while (zmq_recv(rep, buf, sizeof(buf), 0) < 0 && !atomic_load(&wedged_stop))
		;
	usleep(3500 * 1000);
	zmq_send(rep, ok, sizeof(ok) - 1, 0);
	while (zmq_recv(rep, buf, sizeof(buf), 0) < 0 && !atomic_load(&wedged_stop))
		;
	/* the answer the client must not wait for */
	for (int i = 0; i < 100 && !atomic_load(&wedged_stop); i++)
		usleep(100 * 1000);
	zmq_send(rep, ok, sizeof(ok) - 1, 0);
	zmq_close(rep);
	return NULL;
}

/* A late reply to a request that timed out wakes the poll of the next
 * one; the socket drops it, and the call must still end at its deadline
 * (a blocking receive waited for the wedged dataplane: the restore of a
 * failed sweep hung). */
static void t_ctl_late_reply(void)
{
	void *zctx = zmq_ctx_new();
	struct st_perr e;
	struct wi_ctl *c;
	pthread_t th;
	uint64_t t0;

	atomic_store(&wedged_stop, false);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, wedged_dataplane, zctx), 0);
	usleep(100 * 1000);	/* bound before the connect (inproc) */
	c = wi_ctl_open(zctx, "inproc://wedged", &e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(wi_ctl_set_instances(c, "g", 2, &e), -EIO);	/* 3 s, no reply */
	t0 = st_mono_ns();
	CU_ASSERT_EQUAL(wi_ctl_set_instances(c, "g", 1, &e), -EIO);
	CU_ASSERT(st_mono_ns() - t0 < 5 * ST_NS_PER_S);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "no reply"));
	atomic_store(&wedged_stop, true);
	wi_ctl_close(c);
	pthread_join(th, NULL);
	zmq_ctx_term(zctx);
}

/* The budget: each answer within it or over it, the highest load it serves
 * at the SLO, and where it shows in the outputs. */
static void t_budget(void)
{
	char j[256], c[256], h[256];
	struct st_perr e;
	char *s;

	md1_sweep();
	wi_cell_at(&msw, 0, 3)->status = WI_SKIPPED;
	/* no budget: nothing to say; a budget without a price neither */
	CU_ASSERT_EQUAL(wi_within_budget(&mcfg, 1), -1);
	CU_ASSERT_EQUAL(wi_budget_reach(&msw), -1);
	mcfg.budget_per_hour = 1;
	CU_ASSERT_EQUAL(wi_within_budget(&mcfg, 1), -1);
	/* 0.40 an instance-hour, a budget of 0.80: 2 instances fit, 3 not;
	 * 3 x 0.40 = 1.2000000000000002 fits a budget of 1.20 */
	mcfg.cost_per_hour = 0.40;
	mcfg.budget_per_hour = 0.80;
	CU_ASSERT_EQUAL(wi_within_budget(&mcfg, 2), 1);
	CU_ASSERT_EQUAL(wi_within_budget(&mcfg, 3), 0);
	mcfg.budget_per_hour = 1.20;
	CU_ASSERT_EQUAL(wi_within_budget(&mcfg, 3), 1);
	CU_ASSERT_EQUAL(wi_within_budget(&mcfg, 4), 0);
	/* answers: 1 instance at 10 and 30/s, 2 at 70/s, none at 90/s; a
	 * budget of 0.40 pays for one: up to 30/s */
	mcfg.budget_per_hour = 0.40;
	CU_ASSERT_EQUAL(wi_budget_reach(&msw), 1);
	mcfg.budget_per_hour = 0.80;	/* two: up to 70/s; 90/s has no answer */
	CU_ASSERT_EQUAL(wi_budget_reach(&msw), 2);
	mcfg.budget_per_hour = 0.39;	/* not even one */
	CU_ASSERT_EQUAL(wi_budget_reach(&msw), -1);
	mcfg.cost_per_hour = 0;		/* free instances: every answer fits */
	mcfg.budget_per_hour = 0;
	CU_ASSERT_EQUAL(wi_within_budget(&mcfg, 4096), 1);
	CU_ASSERT_EQUAL(wi_budget_reach(&msw), 2);

	/* in the files: 0.40 an hour, a budget of 0.40 */
	mcfg.cost_per_hour = 0.40;
	mcfg.budget_per_hour = 0.40;
	CU_ASSERT_EQUAL_FATAL(write_files(&msw, "b", j, c, h), 0);
	s = slurp(j);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"budget_per_hour\":0.4,"));
	CU_ASSERT_EQUAL(count(s, "\"within_budget\":true"), 2);
	CU_ASSERT_EQUAL(count(s, "\"within_budget\":false"), 1);
	CU_ASSERT_EQUAL(count(s, "\"within_budget\":null"), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"budget\":{\"per_hour\":0.4,\"affordable_instances\":1,"
					 "\"highest_load\":\"30\",\"highest_load_rps\":30,"
					 "\"instances\":1}"));
	free(s);
	s = slurp(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, ",answer,cost_per_hour,within_budget\n"));
	/* 1 x 10/s: the answer, 0.40, within; 2 x 70/s: the answer, 0.80, over */
	CU_ASSERT_EQUAL(count(s, ",yes,0.4,yes\n"), 2);
	CU_ASSERT_EQUAL(count(s, ",yes,0.8,no\n"), 1);
	CU_ASSERT_EQUAL(count(s, ",no,0.8,no\n"), 3);
	free(s);
	s = slurp(h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "<p>Budget 0.40 per hour: serves up to load 30 (30.0/s) "
					 "at the SLO, on 1 instance.</p>"));
	CU_ASSERT_EQUAL(count(s, "<td class=\"over\">over</td>"), 1);
	CU_ASSERT_EQUAL(count(s, "<td"), count(s, "</td>"));
	free(s);
	/* no budget: null in the JSON, no verdict in the CSV */
	mcfg.budget_per_hour = -1;
	CU_ASSERT_EQUAL_FATAL(wi_write_json(&msw, j, &e), 0);
	s = slurp(j);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"budget\":null"));
	CU_ASSERT_EQUAL(count(s, "\"within_budget\":null"), 4);
	free(s);
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "config", t_config },
		{ "config_refused", t_config_refused },
		{ "cmdline", t_cmdline },
		{ "model", t_model },
		{ "outputs", t_outputs },
		{ "outputs of the largest grid", t_outputs_full_grid },
		{ "a control call ends at its deadline after a late reply", t_ctl_late_reply },
		{ "the capture's rate as loadgen_args replay it", t_capture_rate },
		{ "budget", t_budget },
		{ NULL, NULL },
	};

	return st_cu_add_suite("whatif", setup, teardown, tests);
}
