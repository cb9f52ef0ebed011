/* The analyzer's INI reader and config: every error reported with its
 * place, defaults, whole-deployment files accepted. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "cunit_main.h"
#include "ini.h"

static const char *write_tmp(const char *text)
{
	static char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/st-an-config-%d.ini", (int)getpid());
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_ini(void)
{
	static const char text[] =
		"; comment\n# another\n[a]\nk = v ; trailing\nempty =\n\n[b]\r\n  x=1  \r\n"
		"f = udp \\; tcp ; and a comment\n";
	struct st_perr e;
	struct st_ini *ini = st_ini_parse(text, sizeof(text) - 1, "t.ini", &e);
	const struct st_ini_section *s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ini);
	CU_ASSERT_EQUAL(ini->n_sections, 2);
	s = st_ini_section(ini, "a");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(s->n, 2);
	CU_ASSERT_STRING_EQUAL(ini->entries[s->first].value, "v");
	CU_ASSERT_EQUAL(ini->entries[s->first].line, 4);
	CU_ASSERT_STRING_EQUAL(ini->entries[s->first + 1].value, "");
	s = st_ini_section(ini, "b");
	CU_ASSERT_STRING_EQUAL(ini->entries[s->first].key, "x");
	CU_ASSERT_STRING_EQUAL(ini->entries[s->first].value, "1");
	/* a backslash makes a ';' part of the value (a BPF filter, say) */
	CU_ASSERT_STRING_EQUAL(ini->entries[s->first + 1].value, "udp ; tcp");
	st_ini_free(ini);

	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "k = v\n", "t.ini:1: key outside any [section]" },
		{ "[a\n", "t.ini:1: section header without ']'" },
		{ "[a]\n[a]\n", "t.ini:2: duplicate section (first at line 1) 'a'" },
		{ "[a]\nk=1\nk=2\n", "t.ini:3: duplicate key in [a] (first at line 2) 'k'" },
		{ "[a]\njust words\n", "t.ini:2: expected 'key = value' or '[section]'" },
		{ "[a] x\n", "t.ini:1: text after the section header" },
		{ "[]\n", "t.ini:1: bad section name ''" },
		{ "[a]\n= 3\n", "t.ini:2: bad key name ''" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ini = st_ini_parse(bad[i].text, strlen(bad[i].text), "t.ini", &e);
		CU_ASSERT_PTR_NULL(ini);
		CU_ASSERT_STRING_EQUAL(e.msg, bad[i].want);
		if (ini == NULL && strcmp(e.msg, bad[i].want) != 0)
			printf("\n    got '%s', want '%s'", e.msg, bad[i].want);
		st_ini_free(ini);
	}
	ini = st_ini_parse("[a]\nk=\0x\n", 9, "t.ini", &e);
	CU_ASSERT_PTR_NULL(ini);
	CU_ASSERT_PTR_NULL(st_ini_load("/nonexistent/x.ini", &e));
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "No such file"));
}

static void test_defaults(void)
{
	struct an_config c;
	struct st_perr e;

	an_config_defaults(&c);
	CU_ASSERT_EQUAL(c.window_ns, 5000000000ULL);
	CU_ASSERT_EQUAL(c.min_windows, 3);
	CU_ASSERT(isnan(c.tolerance));
	CU_ASSERT_STRING_EQUAL(c.kpi_endpoints[0], "tcp://127.0.0.1:5556");
	CU_ASSERT_EQUAL(an_config_check(&c, &e), 0);
	CU_ASSERT_EQUAL(an_config_set(&c, "tolerance", "0.2", &e), 0);
	CU_ASSERT_EQUAL(c.tolerance, 0.2);
	CU_ASSERT_EQUAL(an_config_set(&c, "nope", "1", &e), -ENOENT);
	CU_ASSERT_EQUAL(an_config_set(&c, "alpha", "0.5", &e), -ERANGE);
	CU_ASSERT_EQUAL(an_config_set(&c, "min_windows", "9", &e), 0);
	CU_ASSERT_EQUAL(an_config_check(&c, &e), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "min_windows"));
	an_config_defaults(&c);
	an_config_set(&c, "curve_secret_key", "/x.key", &e);
	CU_ASSERT_EQUAL(an_config_check(&c, &e), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "curve_allowed_keys"));
}

/* One file can configure the whole deployment (DESIGN.md's example). */
static void test_deployment_file(void)
{
	static const char text[] =
		"[dataplane]\nmode = inline ; inline | tap\nservice = web\n"
		"[shadow.canary]\nport = 2\nshare = 0.10\n"
		"[analyzer]\nkpi_endpoints = tcp://127.0.0.1:5556, tcp://gw2:5556\n"
		"verdict_endpoint = tcp://*:5560\ncontrol_endpoint = tcp://*:5561\n"
		"window = 5s\nstate_file = /var/lib/shadowtap/model.state\n"
		"[service.web]\nshadow = canary\ncurrent_instances = 8\nproposed_instances = 12\n"
		"forecast_rps = 60000\nslo_p99 = 50ms\nslo_error_rate = 0.001\n"
		"instance_cost_per_hour = 0.40\n";
	struct an_config c;
	const struct an_service_cfg *s;
	char err[2048];

	an_config_defaults(&c);
	CU_ASSERT_EQUAL_FATAL(an_config_load(&c, write_tmp(text), NULL, 0, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.n_kpi_endpoints, 2);
	CU_ASSERT_STRING_EQUAL(c.kpi_endpoints[1], "tcp://gw2:5556");
	CU_ASSERT_STRING_EQUAL(c.state_file, "/var/lib/shadowtap/model.state");
	s = an_config_service(&c, "web");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_STRING_EQUAL(s->plan.shadow, "canary");
	CU_ASSERT_EQUAL(s->plan.proposed_instances, 12);
	CU_ASSERT_EQUAL(s->plan.slo_p99_ns, 50000000ULL);
	CU_ASSERT_EQUAL(s->plan.forecast_rps, 60000);
	CU_ASSERT_EQUAL(s->plan.cost_per_hour, 0.40);
	CU_ASSERT_EQUAL(s->plan.max_instances, AN_MAX_INSTANCES);
	an_config_free(&c);
	unlink(write_tmp(""));
}

/* Every bad key is reported, each with file, line, section and reason. */
static void test_errors(void)
{
	static const char text[] =
		"[analyzer]\nwindow = 5 parsecs\nbogus = 1\nalpha = 2\n"
		"[service.web]\nshadow = can.ary\ncurrent_instances = 0\n"
		"[weird]\nx = 1\n[service.b@d]\n";
	struct an_config c;
	char err[4096];
	const char *path = write_tmp(text);
	char want[6][128];

	snprintf(want[0], 128, "%s:2: [analyzer] window: '5 parsecs'", path);
	snprintf(want[1], 128, "%s:3: [analyzer] bogus: unknown key", path);
	snprintf(want[2], 128, "%s:4: [analyzer] alpha: ", path);
	snprintf(want[3], 128, "%s:6: [service.web] shadow: 'can.ary'", path);
	snprintf(want[4], 128, "%s:8: [weird]: unknown section", path);
	snprintf(want[5], 128, "%s:10: [service.b@d]: service names", path);
	an_config_defaults(&c);
	CU_ASSERT_EQUAL(an_config_load(&c, path, NULL, 0, err, sizeof(err)), -EINVAL);
	for (int i = 0; i < 6; i++) {
		CU_ASSERT_PTR_NOT_NULL(strstr(err, want[i]));
		if (strstr(err, want[i]) == NULL)
			printf("\n    missing '%s' in:\n%s", want[i], err);
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "current_instances: '0': out of range"));
	an_config_free(&c);
	unlink(path);
}

static void test_plan(void)
{
	struct an_plan p;
	struct st_perr e;

	an_plan_defaults(&p);
	CU_ASSERT_EQUAL(an_plan_check(&p, &e), -EINVAL);
	CU_ASSERT_EQUAL(an_plan_set(&p, "shadow", "canary", &e), 0);
	CU_ASSERT_EQUAL(an_plan_set(&p, "current_instances", "8", &e), 0);
	CU_ASSERT_EQUAL(an_plan_set(&p, "proposed_instances", "12", &e), 0);
	CU_ASSERT_EQUAL(an_plan_set(&p, "forecast_rps", "6e4", &e), 0);
	CU_ASSERT_EQUAL(an_plan_check(&p, &e), -EINVAL);
	CU_ASSERT_EQUAL(an_plan_set(&p, "slo_p99", "50000000ns", &e), 0);
	CU_ASSERT_EQUAL(an_plan_check(&p, &e), 0);
	CU_ASSERT_EQUAL(an_plan_set(&p, "min_instances", "20", &e), 0);
	CU_ASSERT_EQUAL(an_plan_set(&p, "max_instances", "10", &e), 0);
	CU_ASSERT_EQUAL(an_plan_check(&p, &e), -EINVAL);
	CU_ASSERT_EQUAL(an_plan_set(&p, "instance_cost_per_hour", "none", &e), 0);
	CU_ASSERT(p.cost_per_hour < 0);
	CU_ASSERT_EQUAL(an_plan_set(&p, "slo_error_rate", "1.5", &e), -ERANGE);
	CU_ASSERT_EQUAL(an_plan_set(&p, "whatever", "1", &e), -ENOENT);
}

static void collect(void *arg, const char *key, const char *msg)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 1024 - n, "[%s] %s\n", key ? key : "-", msg);
}

/* A plan change lists every problem and changes nothing; numbers for a
 * duration are nanoseconds. */
static void test_plan_edit(void)
{
	const struct an_plan_kv bad[] = {
		{ "bogus", "1", true },
		{ "proposed_instances", "0", true },
		{ "slo_error_rate", "2", true },
		{ "shadow", "a.b", false },
	};
	const struct an_plan_kv good[] = {
		{ "shadow", "canary", false },
		{ "current_instances", "8", true },
		{ "proposed_instances", "12", true },
		{ "forecast_rps", "6e4", true },
		{ "slo_p99", "50000000", true },
	};
	struct an_plan base, out;
	char errs[1024] = "";

	an_plan_defaults(&base);
	memset(&out, 0x5a, sizeof(out));
	CU_ASSERT(an_plan_edit(&base, bad, 4, "", &out, collect, errs) >= 4);
	CU_ASSERT_PTR_NOT_NULL(strstr(errs, "[bogus] unknown key"));
	CU_ASSERT_PTR_NOT_NULL(strstr(errs, "[proposed_instances]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(errs, "[slo_error_rate]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(errs, "[shadow]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(errs, "[slo_p99] required"));
	CU_ASSERT_EQUAL(out.current_instances, 0x5a5a5a5a);
	errs[0] = '\0';
	CU_ASSERT_EQUAL(an_plan_edit(&base, good, 5, "", &out, collect, errs), 0);
	CU_ASSERT_STRING_EQUAL(errs, "");
	CU_ASSERT_EQUAL(out.slo_p99_ns, 50000000);
	CU_ASSERT_EQUAL(out.proposed_instances, 12);
	CU_ASSERT_STRING_EQUAL(out.shadow, "canary");
}

/* A forecast_profile named at run time: only a file in forecast_dir, the
 * same refusal whether or not what it names exists; the file may name any
 * path, a relative one taken in forecast_dir. */
/* A fresh directory (dir, a mkdtemp template) holding the profile
 * web.csv, its path in p. */
static void profile_in_tmp(char *dir, char *p, size_t len)
{
	FILE *f;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(p, len, "%s/web.csv", dir);
	f = fopen(p, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("t_seconds,pps\n0,100\n60,200\n", f);
	fclose(f);
}

static void test_forecast_path(void)
{
	char dir[] = "/tmp/st-an-fdir-XXXXXX", out[AN_PATH_MAX], p[600], q[600], link_dir[600];
	struct st_perr e;
	struct an_plan base, plan;
	char errs[1024] = "";

	profile_in_tmp(dir, p, sizeof(p));
	snprintf(q, sizeof(q), "%s/out", dir);
	CU_ASSERT_EQUAL(symlink("/etc/passwd", q), 0);
	/* a link to nothing yet, one to a directory outside */
	snprintf(q, sizeof(q), "%s/dangling", dir);
	CU_ASSERT_EQUAL(symlink("/root/not-yet", q), 0);
	snprintf(q, sizeof(q), "%s/etc", dir);
	CU_ASSERT_EQUAL(symlink("/etc", q), 0);
	/* the directory itself reached through a link */
	snprintf(link_dir, sizeof(link_dir), "%s-link", dir);
	CU_ASSERT_EQUAL(symlink(dir, link_dir), 0);

	/* the file: any path, a relative one in the directory */
	CU_ASSERT_EQUAL(an_forecast_path("", "rel.csv", false, out, sizeof(out), &e), 0);
	CU_ASSERT_STRING_EQUAL(out, "rel.csv");
	CU_ASSERT_EQUAL(an_forecast_path(dir, "/etc/x.csv", false, out, sizeof(out), &e), 0);
	CU_ASSERT_STRING_EQUAL(out, "/etc/x.csv");
	CU_ASSERT_EQUAL(an_forecast_path(dir, "web.csv", false, out, sizeof(out), &e), 0);
	CU_ASSERT_STRING_EQUAL(out, p);

	/* at run time: none without the directory */
	CU_ASSERT_EQUAL(an_forecast_path("", p, true, out, sizeof(out), &e), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "forecast_dir"));
	CU_ASSERT_EQUAL(an_forecast_path("", "", true, out, sizeof(out), &e), 0);
	/* in it, by name or path (a trailing / on the directory too) */
	CU_ASSERT_EQUAL(an_forecast_path(dir, "web.csv", true, out, sizeof(out), &e), 0);
	CU_ASSERT_STRING_EQUAL(out, p);
	CU_ASSERT_EQUAL(an_forecast_path(dir, p, true, out, sizeof(out), &e), 0);
	snprintf(q, sizeof(q), "%s/", dir);
	CU_ASSERT_EQUAL(an_forecast_path(q, "web.csv", true, out, sizeof(out), &e), 0);
	CU_ASSERT_STRING_EQUAL(out, p);
	/* a file not there yet is the reader's to refuse */
	CU_ASSERT_EQUAL(an_forecast_path(dir, "later.csv", true, out, sizeof(out), &e), 0);
	/* forecast_dir given through a link */
	CU_ASSERT_EQUAL(an_forecast_path(link_dir, "web.csv", true, out, sizeof(out), &e), 0);
	/* outside it, existing or not, told alike */
	{
		static const char *const outside[] = {
			"/etc/passwd", "/etc/no-such-file", "../etc/passwd", "sub/../web.csv",
			"./web.csv", "a//b", "out", "/tmp", "dangling", "etc/passwd",
			"etc/no-such-file", "nodir/x.csv",
		};
		char first[sizeof(e.msg)] = "";

		for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
			CU_ASSERT_EQUAL(an_forecast_path(dir, outside[i], true, out, sizeof(out), &e),
					-EINVAL);
			if (i == 0)
				snprintf(first, sizeof(first), "%s", e.msg);
			CU_ASSERT_STRING_EQUAL(e.msg, first);
		}
		CU_ASSERT_PTR_NOT_NULL(strstr(first, "not a file in forecast_dir"));
		/* a directory whose name the path merely starts with */
		snprintf(q, sizeof(q), "%sx/web.csv", dir);
		CU_ASSERT_EQUAL(an_forecast_path(dir, q, true, out, sizeof(out), &e), -EINVAL);
	}

	/* through an_plan_edit: refused before anything is opened, the plan's
	 * own profile kept */
	an_plan_defaults(&base);
	snprintf(base.shadow, sizeof(base.shadow), "canary");
	base.current_instances = 8;
	base.proposed_instances = 12;
	base.forecast_rps = 1000;
	base.slo_p99_ns = 50000000;
	{
		const struct an_plan_kv bad[] = { { "forecast_profile", "/etc/passwd", false } };
		const struct an_plan_kv good[] = { { "forecast_profile", "web.csv", false } };

		CU_ASSERT_EQUAL(an_plan_edit(&base, bad, 1, dir, &plan, collect, errs), 1);
		CU_ASSERT_PTR_NOT_NULL(strstr(errs, "[forecast_profile] not a file in forecast_dir"));
		CU_ASSERT_PTR_NULL(strstr(errs, "header"));
		errs[0] = '\0';
		CU_ASSERT_EQUAL(an_plan_edit(&base, good, 1, dir, &plan, collect, errs), 0);
		CU_ASSERT_STRING_EQUAL(plan.forecast_profile, p);
		CU_ASSERT_EQUAL(an_plan_edit(&base, good, 1, "", &plan, collect, errs), 1);
	}
	for (int i = 0; i < 3; i++) {
		snprintf(q, sizeof(q), "%s/%s", dir, i == 0 ? "out" : i == 1 ? "dangling" : "etc");
		unlink(q);
	}
	unlink(link_dir);
	unlink(p);
	rmdir(dir);
}

/* The command line's [analyzer] keys (--set) count as the file's own, read
 * before its services: a relative forecast_profile is taken in the
 * forecast_dir a --set gives, and a --set max_services bounds the
 * services. A bad --set is reported with the file's errors. */
static void test_sets(void)
{
	char dir[] = "/tmp/st-an-sets-XXXXXX", p[600], text[512], err[2048];
	const char *const sets[][2] = {
		{ "forecast_dir", dir }, { "max_services", "2" },
	};
	const char *const bad[][2] = { { "bogus", "1" }, { "window", "5 parsecs" } };
	const struct an_service_cfg *s;
	struct an_config c;
	const char *path;

	profile_in_tmp(dir, p, sizeof(p));
	snprintf(text, sizeof(text),
		 "[analyzer]\nmax_services = 1\n"
		 "[service.web]\nshadow = a\ncurrent_instances = 2\nproposed_instances = 3\n"
		 "forecast_rps = 100\nslo_p99 = 50ms\nforecast_profile = web.csv\n"
		 "[service.api]\nshadow = b\ncurrent_instances = 2\nproposed_instances = 3\n"
		 "forecast_rps = 100\nslo_p99 = 50ms\n");
	path = write_tmp(text);
	an_config_defaults(&c);
	CU_ASSERT_EQUAL(an_config_load(&c, path, sets, 2, err, sizeof(err)), 0);
	if (err[0] != '\0')
		printf("\n    %s", err);
	CU_ASSERT_STRING_EQUAL(c.forecast_dir, dir);
	CU_ASSERT_EQUAL(c.n_services, 2);
	s = an_config_service(&c, "web");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_STRING_EQUAL(s->plan.forecast_profile, p);
	an_config_free(&c);
	/* without them: the file alone has no forecast_dir and one service */
	an_config_defaults(&c);
	CU_ASSERT_EQUAL(an_config_load(&c, path, NULL, 0, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "more services than max_services (1)"));
	an_config_free(&c);
	an_config_defaults(&c);
	CU_ASSERT_EQUAL(an_config_load(&c, path, bad, 2, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "--set bogus: unknown key"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "--set window: '5 parsecs'"));
	an_config_free(&c);
	unlink(path);
	unlink(p);
	rmdir(dir);
}

/* forecast_dir: absolute, and not / */
static void test_forecast_dir_check(void)
{
	static const char *const bad[] = { "/", "//", "forecasts", "./f" };
	struct an_config c;
	struct st_perr e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		an_config_defaults(&c);
		snprintf(c.forecast_dir, sizeof(c.forecast_dir), "%s", bad[i]);
		CU_ASSERT_EQUAL(an_config_check(&c, &e), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "forecast_dir"));
		an_config_free(&c);
	}
	an_config_defaults(&c);
	snprintf(c.forecast_dir, sizeof(c.forecast_dir), "/var/lib/f/");
	CU_ASSERT_EQUAL(an_config_check(&c, &e), 0);
	an_config_free(&c);
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "ini", test_ini },
		{ "defaults", test_defaults },
		{ "deployment_file", test_deployment_file },
		{ "errors", test_errors },
		{ "plan", test_plan },
		{ "plan_edit", test_plan_edit },
		{ "forecast_path", test_forecast_path },
		{ "forecast_dir_check", test_forecast_dir_check },
		{ "sets", test_sets },
		{ NULL, NULL },
	};

	return st_cu_add_suite("an_config", NULL, NULL, tests);
}
