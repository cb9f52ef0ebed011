/* The impairments' settings and draws (dataplane/chaos_fx.c): every key
 * parsed and refused with a reason, the Gilbert-Elliott model's mean burst
 * and gap lengths and loss rate, the delay distributions' centre and
 * spread, correlation, and release times that never go backwards. Plain C:
 * no EAL. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "chaos.h"
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
		/* the Pareto tail's far end (some 1,770 times the jitter) is
		 * 2 s at most, and so is what later copies wait behind: one
		 * draw held the group's copies for seconds */
		struct dp_chaos_params p = { .delay_ns = 10000000, .jitter_ns = 10000000,
					     .dist = DP_DIST_PARETONORMAL };
		struct dp_chaos_fx fx;
		struct dp_chaos_state s = { 0 };

		dp_chaos_compile(&p, 1000000000, &fx);
		CU_ASSERT_EQUAL(dp_chaos_delay(&fx, &s, 100, UINT32_MAX), 100 + 2000000000ULL);
		CU_ASSERT_EQUAL(dp_chaos_delay(&fx, &s, 200, 1u << 31), 100 + 2000000000ULL);
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

/* chaos_reorder, chaos_reorder_gap, chaos_rate, chaos_flap: parsed, shown
 * back as they were given, refused with a reason, compiled. */
static void t_parse_more(void)
{
	struct dp_chaos_params p;
	struct dp_chaos_fx fx;
	struct st_perr e;
	uint64_t bps;
	char buf[64];
	static const struct {
		const char *v;
		uint64_t bps;
	} rates[] = {
		{ "10mbit", 10000000 }, { "10Mbit", 10000000 }, { "500kbit", 500000 },
		{ "1gbit", 1000000000 }, { "2mbps", 16000000 }, { "1kibit", 1024 },
		{ "1mibps", 8388608 }, { "64000", 64000 }, { "1.5 mbit", 1500000 },
		{ "1tbit", 1000000000000ULL }, { "none", 0 }, { "0", 0 },
	};
	static const char *const bad_rates[] = { "", "fast", "10 furlongs", "-1mbit", "0.5bit",
						 "2tbit", "mbit", "nan" };

	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		CU_ASSERT_EQUAL_FATAL(dp_chaos_parse_rate(rates[i].v, &bps, &e), 0);
		CU_ASSERT_EQUAL(bps, rates[i].bps);
	}
	for (size_t i = 0; i < sizeof(bad_rates) / sizeof(bad_rates[0]); i++) {
		e.msg[0] = '\0';
		CU_ASSERT_EQUAL(dp_chaos_parse_rate(bad_rates[i], &bps, &e), -EINVAL);
		CU_ASSERT_TRUE(e.msg[0] != '\0');
	}
	memset(&p, 0, sizeof(p));
	CU_ASSERT_FALSE(dp_chaos_params_any(&p));
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "reorder", "25%", &e), 0);
	CU_ASSERT_DOUBLE_EQUAL(p.reorder, 0.25, 1e-12);
	CU_ASSERT_TRUE(dp_chaos_params_any(&p));
	dp_chaos_param_fmt(&p, "reorder_gap", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "1");	/* netem's default */
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "reorder_gap", "5", &e), 0);
	CU_ASSERT_EQUAL(p.reorder_gap, 5);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "reorder_gap", "0", &e), -EINVAL);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "reorder_gap", "2.5", &e), -EINVAL);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "reorder_gap", "1001", &e), -EINVAL);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "reorder", "120%", &e), -EINVAL);
	CU_ASSERT_EQUAL(p.reorder_gap, 5);	/* unchanged on error */
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "rate", "10mbit", &e), 0);
	dp_chaos_param_fmt(&p, "rate", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "10mbit");
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "rate", "3 kibps", &e), 0);
	dp_chaos_param_fmt(&p, "rate", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "24576bit");
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "rate", "10 parsecs", &e), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "unit"));
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "flap", "2s/30s", &e), 0);
	CU_ASSERT_EQUAL(p.flap_down_ns, 2000000000ULL);
	CU_ASSERT_EQUAL(p.flap_period_ns, 30000000000ULL);
	dp_chaos_param_fmt(&p, "flap", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "2000ms/30000ms");
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "flap", buf, &e), 0);	/* reads back */
	CU_ASSERT_EQUAL(p.flap_period_ns, 30000000000ULL);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "flap", "30s/2s", &e), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "shorter"));
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "flap", "2s", &e), -EINVAL);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "flap", "2s/", &e), -EINVAL);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "flap", "0s/1s", &e), -EINVAL);
	CU_ASSERT_EQUAL(p.flap_down_ns, 2000000000ULL);
	dp_chaos_compile(&p, 1000000000, &fx);
	CU_ASSERT_EQUAL(fx.on, DP_FX_REORDER | DP_FX_RATE | DP_FX_FLAP);
	CU_ASSERT_EQUAL(fx.reorder_gap, 5);
	CU_ASSERT_EQUAL(fx.reorder_thr, 1ULL << 30);
	CU_ASSERT_EQUAL(fx.flap_down_cyc, 2000000000ULL);
	/* 24576 bit/s: 1/3072 s a byte */
	CU_ASSERT_EQUAL(fx.rate_cpb_q16, (uint64_t)(1e9 / 3072 * 65536 + 0.5));
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "flap", "off", &e), 0);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "rate", "off", &e), 0);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "reorder", "0", &e), 0);
	CU_ASSERT_FALSE(dp_chaos_params_any(&p));
}

/* The shaper: back-to-back copies leave one transmission time apart, a
 * copy after an idle spell leaves at once, and one that would wait past
 * the bound is refused without moving the clock. */
static void t_shape(void)
{
	struct dp_chaos_params p = { .rate_bps = 8000000 };	/* 1 byte a us */
	struct dp_chaos_fx fx;
	struct dp_chaos_state s = { 0 };
	uint64_t t, now = 1000000;

	dp_chaos_compile(&p, 1000000000, &fx);	/* 1 GHz: a cycle a ns */
	for (int i = 0; i < 10; i++) {
		t = dp_chaos_shape(&fx, &s, now, now, 1000, 1);
		CU_ASSERT_EQUAL(t, now + (uint64_t)i * 1000000);	/* 1000 B: 1 ms */
	}
	/* two workers: each has half the rate, so twice the time */
	now += 100000000;
	CU_ASSERT_EQUAL(dp_chaos_shape(&fx, &s, now, now, 1000, 2), now);
	CU_ASSERT_EQUAL(dp_chaos_shape(&fx, &s, now, now, 1000, 2), now + 2000000);
	/* ready later than the link is free: leaves when ready */
	CU_ASSERT_EQUAL(dp_chaos_shape(&fx, &s, now, now + 50000000, 10, 1), now + 50000000);
	/* a backlog of a second (the bound): the next is refused, the clock
	 * kept */
	now += 200000000;
	for (int i = 0; i < 1001; i++)
		CU_ASSERT_NOT_EQUAL(dp_chaos_shape(&fx, &s, now, now, 1000, 1), 0);
	t = s.shape_next;
	CU_ASSERT_EQUAL(dp_chaos_shape(&fx, &s, now, now, 2000, 1), 0);
	CU_ASSERT_EQUAL(s.shape_next, t);
	/* measured rate over the backlog: 8 Mbit/s */
	CU_ASSERT_EQUAL(t - now, 1001000000);
	/* the bound is on the wait for the link, not on the copy's delay
	 * before it (a copy ready 1.5 s from now, chaos_delay, on an idle
	 * link leaves then: it was refused) */
	now = t + 10000000;
	CU_ASSERT_EQUAL(dp_chaos_shape(&fx, &s, now, now + 1500000000, 1000, 1), now + 1500000000);
	/* with chaos_delay, each copy is ready after its own delay (in order
	 * behind the group's earlier ones: dp_chaos_delay, which no longer
	 * takes the shaped release), and the link's backlog shows as its wait
	 * after that: refused past a second (when the shaped release was
	 * folded into ready, the wait never passed one transmission) */
	now += 3000000000ULL;
	for (int i = 0; i < 1001; i++)
		CU_ASSERT_NOT_EQUAL(dp_chaos_shape(&fx, &s, now, now + 5000000, 1000, 1), 0);
	CU_ASSERT_EQUAL(dp_chaos_shape(&fx, &s, now, now + 5000000, 1000, 1), 0);
	/* held in order behind a long draw, the link idle: it leaves when
	 * ready (with the wait counted from its own draw, it was refused) */
	now += 3000000000ULL;
	CU_ASSERT_EQUAL(dp_chaos_shape(&fx, &s, now, now + 1900000000ULL, 10, 1), now + 1900000000ULL);
	/* and never past the wheel's 2 s */
	now += 3000000000ULL;
	CU_ASSERT_EQUAL(dp_chaos_shape(&fx, &s, now, now + 2100000000ULL, 10, 1), 0);
}

/* The flap schedule's phase and the word a worker runs with under it. */
static void t_flap(void)
{
	struct dp_chaos_params p = { .flap_down_ns = 2000000000ULL,
				     .flap_period_ns = 30000000000ULL };
	struct dp_chaos_fx fx;
	uint64_t with_down = dp_chaos_pack(0, 1, true), none = dp_chaos_pack(1ULL << 31, -1, false);
	int down = 0;

	dp_chaos_compile(&p, 1000000000, &fx);
	fx.flap_epoch = 5000000000ULL;
	CU_ASSERT_FALSE(dp_chaos_flap_down(&fx, 4000000000ULL));	/* before it started */
	CU_ASSERT_TRUE(dp_chaos_flap_down(&fx, 5000000000ULL));
	CU_ASSERT_TRUE(dp_chaos_flap_down(&fx, 6999999999ULL));
	CU_ASSERT_FALSE(dp_chaos_flap_down(&fx, 7000000000ULL));
	CU_ASSERT_FALSE(dp_chaos_flap_down(&fx, 34999999999ULL));
	CU_ASSERT_TRUE(dp_chaos_flap_down(&fx, 35000000000ULL));
	/* over 10 periods, sampled each ms: 2/30 of the time down */
	for (uint64_t t = 5000000000ULL; t < 305000000000ULL; t += 1000000)
		down += dp_chaos_flap_down(&fx, t);
	CU_ASSERT_EQUAL(down, 20000);
	/* down phase: the down instance as published; up: none down */
	CU_ASSERT_EQUAL(dp_chaos_flap_word(with_down, true), with_down);
	CU_ASSERT_EQUAL(dp_chaos_down(dp_chaos_flap_word(with_down, false)), -1);
	CU_ASSERT_FALSE(dp_chaos_respread(dp_chaos_flap_word(with_down, false)));
	/* no down instance: the whole group flaps; the loss stays */
	CU_ASSERT_TRUE((dp_chaos_flap_word(none, true) & DP_CHAOS_ALLDOWN) != 0);
	CU_ASSERT_EQUAL(dp_chaos_down(dp_chaos_flap_word(none, true)), -1);
	CU_ASSERT_EQUAL(dp_chaos_flap_word(none, false), none);
	CU_ASSERT_EQUAL(dp_chaos_loss_thr(dp_chaos_flap_word(none, true)), 1ULL << 31);
}

/* chaos_direction: where loss, bursty loss and delay act; the other
 * impairments stay on copies. */
static void t_direction(void)
{
	struct dp_chaos_params p;
	struct dp_chaos_fx fx;
	struct st_perr e;
	char buf[32];

	memset(&p, 0, sizeof(p));
	dp_chaos_param_fmt(&p, "direction", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "copies");
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "delay", "5ms", &e), 0);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "loss_burst", "100%,5,200", &e), 0);
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "duplicate", "1%", &e), 0);
	/* copies (the default): nothing on the responses */
	dp_chaos_compile(&p, 1000000000, &fx);
	CU_ASSERT_EQUAL(fx.on & (DP_FX_DELAY | DP_FX_GE | DP_FX_DUP), DP_FX_DELAY | DP_FX_GE | DP_FX_DUP);
	CU_ASSERT_EQUAL(fx.back, 0);
	CU_ASSERT_EQUAL(fx.copy_loss, 1);
	/* responses: loss and delay move to them, duplication stays */
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "direction", "responses", &e), 0);
	CU_ASSERT_EQUAL(p.direction, DP_CHAOS_DIR_RESPONSES);
	dp_chaos_compile(&p, 1000000000, &fx);
	CU_ASSERT_EQUAL(fx.on & (DP_FX_DELAY | DP_FX_GE | DP_FX_DUP), DP_FX_DUP);
	CU_ASSERT_EQUAL(fx.back, DP_FX_LOSS | DP_FX_DELAY | DP_FX_GE);
	CU_ASSERT_EQUAL(fx.copy_loss, 0);
	CU_ASSERT_EQUAL(fx.delay_cyc, 5000000);
	/* both: each way */
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "direction", "both", &e), 0);
	dp_chaos_compile(&p, 1000000000, &fx);
	CU_ASSERT_EQUAL(fx.on & (DP_FX_DELAY | DP_FX_GE), DP_FX_DELAY | DP_FX_GE);
	CU_ASSERT_EQUAL(fx.back, DP_FX_LOSS | DP_FX_DELAY | DP_FX_GE);
	CU_ASSERT_EQUAL(fx.copy_loss, 1);
	dp_chaos_param_fmt(&p, "direction", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "both");
	/* a direction alone is no chaos; a bad one changes nothing */
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "direction", "sideways", &e), -EINVAL);
	CU_ASSERT_EQUAL(p.direction, DP_CHAOS_DIR_BOTH);
	memset(&p, 0, sizeof(p));
	CU_ASSERT_EQUAL(dp_chaos_param_set(&p, "direction", "responses", &e), 0);
	CU_ASSERT_FALSE(dp_chaos_params_any(&p));
	dp_chaos_compile(&p, 1000000000, &fx);
	CU_ASSERT_EQUAL(fx.on, 0);
	CU_ASSERT_EQUAL(fx.back, DP_FX_LOSS);
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "parse", t_parse },
		{ "check", t_check },
		{ "gilbert_elliott", t_ge },
		{ "delay", t_delay },
		{ "corr", t_corr },
		{ "parse_more", t_parse_more },
		{ "shape", t_shape },
		{ "flap", t_flap },
		{ "direction", t_direction },
		{ NULL, NULL },
	};

	return st_cu_add_suite("dp_chaos_fx", NULL, NULL, tests);
}
