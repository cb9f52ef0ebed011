/* The delayed copies' timing wheel (dataplane/chaos_wheel.c): release never
 * early and at most a tick late, FIFO within a time, bounded (full counted,
 * nothing kept), the horizon clamp, the idle jump, fini handing back
 * everything still waiting. Plain C: no EAL. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "chaos_wheel.h"
#include "cunit_main.h"

#define SHIFT 4	/* ticks of 16 units */

static void t_init_args(void)
{
	struct dp_wheel w;

	CU_ASSERT_EQUAL(dp_wheel_init(&w, 0, 64, SHIFT, 0), -EINVAL);
	CU_ASSERT_EQUAL(dp_wheel_init(&w, 8, 63, SHIFT, 0), -EINVAL);
	CU_ASSERT_EQUAL(dp_wheel_init(&w, 8, 1, SHIFT, 0), -EINVAL);
	CU_ASSERT_EQUAL(dp_wheel_init(&w, 8, 64, SHIFT, 0), 0);
	dp_wheel_fini(&w, NULL, NULL);
	dp_wheel_fini(&w, NULL, NULL); /* twice: safe */
}

static void t_geometry(void)
{
	unsigned int shift;
	uint32_t slots;

	/* 2.5 GHz TSC, a 25 us tick, a 2 s horizon */
	dp_wheel_geometry(62500, 5000000000ULL, &shift, &slots);
	CU_ASSERT_TRUE((1ULL << shift) <= 62500 && (2ULL << shift) > 62500);
	CU_ASSERT_TRUE(((uint64_t)slots << shift) >= 5000000000ULL);
	CU_ASSERT_TRUE(((uint64_t)slots << shift) < 2 * 5000000000ULL);
	CU_ASSERT_EQUAL(slots & (slots - 1), 0);
}

/* Items released exactly after their tick, never before, in due order;
 * random dues over the whole horizon. */
static void t_order_and_time(void)
{
	struct dp_wheel w;
	uint64_t rs = 12345, now = 1000;
	static uint64_t due[4096];
	void *items[64];
	uint16_t tags[64];
	uint32_t got = 0, n;
	uint64_t last_due = 0;

	CU_ASSERT_FATAL(dp_wheel_init(&w, 4096, 1024, SHIFT, now) == 0);
	for (uint32_t i = 0; i < 4096; i++) {
		due[i] = now + st_cu_rnd(&rs) % (1000 * 16);
		CU_ASSERT_EQUAL(dp_wheel_add(&w, &due[i], (uint16_t)(i & 7), due[i], now), 0);
	}
	CU_ASSERT_EQUAL(w.n, 4096);
	CU_ASSERT_EQUAL(dp_wheel_add(&w, &due[0], 0, now, now), -ENOSPC);
	CU_ASSERT_EQUAL(w.full, 1);
	for (; now < 1000 + 1002 * 16; now += 3) {
		while ((n = dp_wheel_poll(&w, now, items, tags, 64)) > 0) {
			for (uint32_t k = 0; k < n; k++) {
				uint64_t d = *(uint64_t *)items[k];

				/* never early, at most a tick late */
				CU_ASSERT_TRUE(((d >> SHIFT) + 1) << SHIFT <= now);
				CU_ASSERT_TRUE(now - d <= 2 * 16 + 3);
				/* by tick: never one of an earlier tick after a later one */
				CU_ASSERT_TRUE((d >> SHIFT) >= (last_due >> SHIFT));
				last_due = d;
				CU_ASSERT_EQUAL(tags[k], (uint16_t)(((uint64_t *)items[k] - due) & 7));
			}
			got += n;
			if (n < 64)
				break;
		}
	}
	CU_ASSERT_EQUAL(got, 4096);
	CU_ASSERT_EQUAL(w.n, 0);
	CU_ASSERT_EQUAL(w.released, 4096);
	CU_ASSERT_EQUAL(w.clamped, 0);
	dp_wheel_fini(&w, NULL, NULL);
}

/* Equal due times leave in the order they came (a flow's copies). */
static void t_fifo(void)
{
	struct dp_wheel w;
	static int v[100];
	void *items[128];
	uint16_t tags[128];

	CU_ASSERT_FATAL(dp_wheel_init(&w, 100, 64, SHIFT, 0) == 0);
	for (int i = 0; i < 100; i++)
		CU_ASSERT_EQUAL(dp_wheel_add(&w, &v[i], 0, 100 + (uint64_t)(i / 10), 0), 0);
	CU_ASSERT_EQUAL(dp_wheel_poll(&w, 100, items, tags, 128), 0); /* not yet */
	CU_ASSERT_EQUAL(dp_wheel_poll(&w, 200, items, tags, 128), 100);
	for (int i = 0; i < 100; i++)
		CU_ASSERT_PTR_EQUAL(items[i], &v[i]);
	dp_wheel_fini(&w, NULL, NULL);
}

/* Past the horizon: clamped to it and counted, still released. Already
 * due: released by the next poll. */
static void t_clamp_and_past(void)
{
	struct dp_wheel w;
	int a, b;
	void *items[4];
	uint16_t tags[4];

	CU_ASSERT_FATAL(dp_wheel_init(&w, 4, 8, SHIFT, 0) == 0);
	CU_ASSERT_EQUAL(dp_wheel_add(&w, &a, 1, 1000000, 0), 0);
	CU_ASSERT_EQUAL(w.clamped, 1);
	CU_ASSERT_EQUAL(dp_wheel_poll(&w, 7 * 16, items, tags, 4), 0);
	CU_ASSERT_EQUAL(dp_wheel_poll(&w, 8 * 16, items, tags, 4), 1);
	CU_ASSERT_EQUAL(tags[0], 1);
	/* due long ago (the worker was slow): out at the next poll */
	CU_ASSERT_EQUAL(dp_wheel_add(&w, &b, 2, 0, 9 * 16), 0);
	CU_ASSERT_EQUAL(dp_wheel_poll(&w, 10 * 16, items, tags, 4), 1);
	CU_ASSERT_PTR_EQUAL(items[0], &b);
	dp_wheel_fini(&w, NULL, NULL);
}

/* Idle for far longer than the ring: an empty wheel's clock jumps, and a
 * new item still waits its whole delay. */
static void t_idle_jump(void)
{
	struct dp_wheel w;
	int a;
	void *items[4];
	uint16_t tags[4];
	uint64_t t = 1ULL << 40;

	CU_ASSERT_FATAL(dp_wheel_init(&w, 4, 8, SHIFT, 0) == 0);
	CU_ASSERT_EQUAL(dp_wheel_poll(&w, t, items, tags, 4), 0);
	CU_ASSERT_EQUAL(dp_wheel_add(&w, &a, 0, t + 64, t), 0);
	CU_ASSERT_EQUAL(dp_wheel_poll(&w, t + 64, items, tags, 4), 0);
	CU_ASSERT_EQUAL(dp_wheel_poll(&w, t + 80, items, tags, 4), 1);
	dp_wheel_fini(&w, NULL, NULL);
}

static void count_drop(void *item, uint16_t tag, void *arg)
{
	(void)item;
	*(int *)arg += tag;
}

/* fini hands back every waiting item (the worker frees their mbufs), and
 * the entries of the full wheel come back as it drains. */
static void t_fini_drops(void)
{
	struct dp_wheel w;
	int v[16], sum = 0;
	void *items[16];
	uint16_t tags[16];

	CU_ASSERT_FATAL(dp_wheel_init(&w, 16, 16, SHIFT, 0) == 0);
	for (int i = 0; i < 16; i++)
		CU_ASSERT_EQUAL(dp_wheel_add(&w, &v[i], 1, (uint64_t)i * 16, 0), 0);
	CU_ASSERT_EQUAL(dp_wheel_add(&w, &v[0], 1, 0, 0), -ENOSPC);
	CU_ASSERT_EQUAL(dp_wheel_poll(&w, 4 * 16, items, tags, 16), 4);
	for (int i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(dp_wheel_add(&w, &v[i], 1, 200, 4 * 16), 0);
	CU_ASSERT_EQUAL(dp_wheel_add(&w, &v[0], 1, 0, 0), -ENOSPC);
	dp_wheel_fini(&w, count_drop, &sum);
	CU_ASSERT_EQUAL(sum, 16);
	CU_ASSERT_PTR_NULL(w.ent);
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "init_args", t_init_args },
		{ "geometry", t_geometry },
		{ "order_and_time", t_order_and_time },
		{ "fifo", t_fifo },
		{ "clamp_and_past", t_clamp_and_past },
		{ "idle_jump", t_idle_jump },
		{ "fini_drops", t_fini_drops },
		{ NULL, NULL },
	};

	return st_cu_add_suite("dp_chaos_wheel", NULL, NULL, tests);
}
