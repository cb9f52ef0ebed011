/* The impairments' settings and draws (dataplane/chaos_fx.c): every key
 * parsed and refused with a reason, the Gilbert-Elliott model's mean burst
 * and gap lengths and loss rate, the delay distributions' centre and
 * spread, correlation, and release times that never go backwards. Plain C:
 * no EAL. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "chaos_fx.h"
#include "cunit_main.h"

static void t_parse(void)
{
	struct dp_chaos_params p;
	struct st_perr e;
	char buf[64];

	memset(&p, 0, sizeof(p));
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "delay", "5ms", &e), 0);
	CU_ASSERT_EQUAL(p.delay_ns, 5000000);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "jitter", "250us", &e), 0);
	CU_ASSERT_EQUAL(p.jitter_ns, 250000);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "delay_dist", "normal", &e), 0);
	CU_ASSERT_EQUAL(p.dist, DP_DIST_NORMAL);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "delay_corr", "25%", &e), 0);
	CU_ASSERT_DOUBLE_EQUAL(p.delay_corr, 0.25, 1e-12);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "loss_burst", "100%, 5, 200", &e), 0);
	CU_ASSERT_DOUBLE_EQUAL(p.ge_loss_bad, 1.0, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(p.ge_burst, 5, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(p.ge_gap, 200, 1e-12);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "duplicate", "1%", &e), 0);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "corrupt", "0.001", &e), 0);
	CU_ASSERT_TRUE(dp_chaos_params_any(&p));
	dp_chaos_param_fmt(&p, "delay", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "5ms");
	dp_chaos_param_fmt(&p, "jitter", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "250us");
	dp_chaos_param_fmt(&p, "loss_burst", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "1,5,200");

	/* refused, p unchanged */
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "delay", "-1ms", &e), -EINVAL);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "delay", "2s", &e), -EINVAL);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "delay", "soon", &e), -EINVAL);
	CU_ASSERT_EQUAL(p.delay_ns, 5000000);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "delay_dist", "pareto", &e), -EINVAL);
	CU_ASSERT_EQUAL(p.dist, DP_DIST_NORMAL);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "duplicate", "150%", &e), -EINVAL);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "loss_burst", "100%,5", &e), -EINVAL);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "loss_burst", "100%,0.5,200", &e), -EINVAL);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "loss_burst", "2,5,200", &e), -EINVAL);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "loss_burst", "1,5,200,7", &e), -EINVAL);
	CU_ASSERT_DOUBLE_EQUAL(p.ge_burst, 5, 1e-12);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "wobble", "1", &e), -ENOENT);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "loss_burst", "none", &e), 0);
	CU_ASSERT_EQUAL(p.ge_burst, 0);
}

static void t_check(void)
{
	struct dp_chaos_params p;
	char why[128];

	memset(&p, 0, sizeof(p));
	CU_ASSERT_FALSE(dp_chaos_params_any(&p));
	CU_ASSERT_EQUAL(dp_chaos_params_check(&p, why, sizeof(why)), 0);
	p.jitter_ns = 1000;
	CU_ASSERT_EQUAL(dp_chaos_params_check(&p, why, sizeof(why)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "chaos_jitter"));
	p.delay_ns = 10;
	CU_ASSERT_EQUAL(dp_chaos_params_check(&p, why, sizeof(why)), 0);
}

/* Mean loss-burst and gap lengths of the GE model within 5% of the
 * configured ones over a million copies (loss 100% in the bad state: a
 * burst of losses is a stay in the bad state). */
static void t_ge(void)
{
	struct dp_chaos_params p = { .ge_loss_bad = 1.0, .ge_burst = 5, .ge_gap = 200 };
	struct dp_chaos_fx fx;
	struct dp_chaos_state s = { 0 };
	uint64_t rs = 99;
	long lost = 0, bursts = 0, gaps = 0, gap_len = 0;
	bool prev = false;
	const long n = 2000000;

	dp_chaos_compile(&p, 1000000000, &fx);
	CU_ASSERT_TRUE(fx.on & DP_FX_GE);
	for (long i = 0; i < n; i++) {
		bool l = dp_chaos_ge_lose(&fx, &s, st_cu_rnd(&rs), st_cu_rnd(&rs));

		lost += l;
		if (l && !prev)
			bursts++;
		if (!l)
			gap_len++;
		if (!l && prev)
			gaps++;
		prev = l;
	}
	CU_ASSERT_FATAL(bursts > 1000);
	CU_ASSERT_DOUBLE_EQUAL((double)lost / bursts, 5.0, 0.25);
	CU_ASSERT_DOUBLE_EQUAL((double)gap_len / gaps, 200.0, 10.0);
	/* the stationary loss rate: burst / (burst + gap) */
	CU_ASSERT_DOUBLE_EQUAL((double)lost / n, 5.0 / 205.0, 0.002);

	/* half lost in the bad state: half its stays' copies */
	p.ge_loss_bad = 0.5;
	dp_chaos_compile(&p, 1000000000, &fx);
	lost = 0;
	for (long i = 0; i < n; i++)
		lost += dp_chaos_ge_lose(&fx, &s, st_cu_rnd(&rs), st_cu_rnd(&rs));
	CU_ASSERT_DOUBLE_EQUAL((double)lost / n, 0.5 * 5.0 / 205.0, 0.002);
}

/* The draws of each distribution: median at the delay, spread as the
 * jitter says, never negative; release times never go backwards. */
static void t_delay(void)
{
	static const double want_sd[] = { 0.57735, 1.0, 1.0 };
	uint64_t rs = 7;

	for (int d = 0; d < DP_DIST_COUNT; d++) {
		struct dp_chaos_params p = { .delay_ns = 5000000, .jitter_ns = 1000000,
					     .dist = (enum dp_chaos_dist)d };
		struct dp_chaos_fx fx;
		const int n = 200000;
		double sum = 0, sum2 = 0;
		int below = 0;

		dp_chaos_compile(&p, 1000000000, &fx); /* 1 GHz: cycles are ns */
		CU_ASSERT_EQUAL(fx.delay_cyc, 5000000);
		for (int i = 0; i < n; i++) {
			/* a fresh state each time: the raw delay, no ordering */
			struct dp_chaos_state s = { 0 };
			double x = (double)dp_chaos_delay(&fx, &s, 0, st_cu_rnd(&rs)) - 5e6;

			sum += x;
			sum2 += x * x;
			below += x < 0;
		}
		/* centre: mean 0 for the symmetric ones; the Pareto mix is
		 * centred on its mean, its median below it */
		CU_ASSERT_DOUBLE_EQUAL(sum / n / 1e6, 0.0, 0.02);
		if (d != DP_DIST_PARETONORMAL) {
			CU_ASSERT_DOUBLE_EQUAL((double)below / n, 0.5, 0.01);
			CU_ASSERT_DOUBLE_EQUAL(sqrt(sum2 / n) / 1e6, want_sd[d], 0.03);
		} else {
			CU_ASSERT_TRUE((double)below / n > 0.55);
		}
	}
	{
		/* a jitter larger than the delay: clamped at 0 */
		struct dp_chaos_params p = { .delay_ns = 1000, .jitter_ns = 1000000 };
		struct dp_chaos_fx fx;

		dp_chaos_compile(&p, 1000000000, &fx);
		for (int i = 0; i < 10000; i++) {
			struct dp_chaos_state s = { 0 };

			CU_ASSERT_TRUE(dp_chaos_delay(&fx, &s, 100, st_cu_rnd(&rs)) >= 100);
		}
	}
	{
		/* one group's releases never go backwards */
		struct dp_chaos_params p = { .delay_ns = 5000000, .jitter_ns = 2000000 };
		struct dp_chaos_fx fx;
		struct dp_chaos_state s = { 0 };
		uint64_t last = 0, now = 0;

		dp_chaos_compile(&p, 1000000000, &fx);
		for (int i = 0; i < 100000; i++) {
			uint64_t due = dp_chaos_delay(&fx, &s, now, st_cu_rnd(&rs));

			CU_ASSERT_TRUE(due >= last);
			CU_ASSERT_TRUE(due >= now);
			last = due;
			now += 1000;
		}
	}
}

/* Correlation 0.9: consecutive delays close to each other, the spread
 * smaller than without (netem's correlation narrows it too). */
static void t_corr(void)
{
	struct dp_chaos_params p = { .delay_ns = 5000000, .jitter_ns = 1000000, .delay_corr = 0.9 };
	struct dp_chaos_fx fx;
	struct dp_chaos_state s = { 0 };
	uint64_t rs = 3;
	double prev = 0, step = 0;
	const int n = 100000;

	dp_chaos_compile(&p, 1000000000, &fx);
	s.last_rnd = 1u << 31;
	for (int i = 0; i < n; i++) {
		double x;

		s.last_due = 0;
		x = (double)dp_chaos_delay(&fx, &s, 0, st_cu_rnd(&rs));
		if (i > 0)
			step += fabs(x - prev);
		prev = x;
	}
	/* uncorrelated uniform +-1 ms: mean step 2/3 ms; here far less */
	CU_ASSERT_TRUE(step / (n - 1) < 0.2e6);
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "parse", t_parse },
		{ "check", t_check },
		{ "gilbert_elliott", t_ge },
		{ "delay", t_delay },
		{ "corr", t_corr },
		{ NULL, NULL },
	};

	return st_cu_add_suite("dp_chaos_fx", NULL, NULL, tests);
}
