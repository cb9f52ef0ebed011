/* The dataplane's chaos word (dataplane/chaos.h): packing and reading back
 * a setting, the loss decision against its threshold (the share's form,
 * from the same percent-or-fraction parser the config and the control
 * socket use), and the respread choice: never the down instance, even over
 * the others, deterministic. Plain C: no EAL. */
#include <math.h>
#include <stdint.h>

#include "chaos.h"
#include "cunit_main.h"
#include "flow.h"
#include "parse.h"

/* The dataplane's instance choice (worker.h dp_flow_worker). */
static int pick(uint32_t hash, int n)
{
	return (int)(((uint64_t)(uint32_t)(hash * 2654435761u) * (uint32_t)n) >> 32);
}

static uint64_t xs = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd32(void)
{
	xs ^= xs << 13;
	xs ^= xs >> 7;
	xs ^= xs << 17;
	return (uint32_t)(xs >> 32);
}

static void t_pack(void)
{
	uint64_t w;

	CU_ASSERT_EQUAL(dp_chaos_pack(0, -1, false), 0);
	w = dp_chaos_pack(st_share_threshold(0.02), 3, true);
	CU_ASSERT_EQUAL(dp_chaos_loss_thr(w), st_share_threshold(0.02));
	CU_ASSERT_EQUAL(dp_chaos_down(w), 3);
	CU_ASSERT_TRUE(dp_chaos_respread(w));
	w = dp_chaos_pack(1ULL << 32, -1, false);
	CU_ASSERT_EQUAL(dp_chaos_loss_thr(w), 1ULL << 32);
	CU_ASSERT_EQUAL(dp_chaos_down(w), -1);
	CU_ASSERT_FALSE(dp_chaos_respread(w));
	CU_ASSERT_EQUAL(w & DP_CHAOS_DOWN_MASK, 0);
	/* instance 0 down, nothing else: still a non-zero word (chaos on) */
	w = dp_chaos_pack(0, 0, false);
	CU_ASSERT_NOT_EQUAL(w, 0);
	CU_ASSERT_EQUAL(dp_chaos_down(w), 0);
	CU_ASSERT_EQUAL(dp_chaos_loss_thr(w), 0);
	for (int d = -1; d < 16; d++)
		CU_ASSERT_EQUAL(dp_chaos_down(dp_chaos_pack(12345, d, d & 1)), d);
}

static void t_loss_value(void)
{
	struct st_perr e;
	double v;

	CU_ASSERT_EQUAL(st_parse_share("2%", &v, &e), 0);
	CU_ASSERT_DOUBLE_EQUAL(v, 0.02, 1e-12);
	CU_ASSERT_EQUAL(st_parse_share("0.02", &v, &e), 0);
	CU_ASSERT_DOUBLE_EQUAL(v, 0.02, 1e-12);
	CU_ASSERT_EQUAL(st_parse_share("100%", &v, &e), 0);
	CU_ASSERT_EQUAL(st_share_threshold(v), 1ULL << 32);
	CU_ASSERT_EQUAL(st_parse_share("0", &v, &e), 0);
	CU_ASSERT_EQUAL(st_share_threshold(v), 0);
	CU_ASSERT_NOT_EQUAL(st_parse_share("150%", &v, &e), 0);
	CU_ASSERT_NOT_EQUAL(st_parse_share("-1%", &v, &e), 0);
	CU_ASSERT_NOT_EQUAL(st_parse_share("1.5", &v, &e), 0);
	CU_ASSERT_NOT_EQUAL(st_parse_share("2 %x", &v, &e), 0);
	CU_ASSERT_NOT_EQUAL(st_parse_share("", &v, &e), 0);
}

static void t_lose(void)
{
	uint64_t none = dp_chaos_pack(0, -1, false), all = dp_chaos_pack(1ULL << 32, -1, false);
	uint64_t ten = dp_chaos_pack(st_share_threshold(0.10), -1, false);
	int n = 1000000, lost = 0;

	CU_ASSERT_FALSE(dp_chaos_lose(none, 0));
	CU_ASSERT_FALSE(dp_chaos_lose(none, UINT32_MAX));
	CU_ASSERT_TRUE(dp_chaos_lose(all, 0));
	CU_ASSERT_TRUE(dp_chaos_lose(all, UINT32_MAX));
	for (int i = 0; i < n; i++)
		lost += dp_chaos_lose(ten, rnd32());
	/* 10% within 5 binomial sigmas (300 for a million) */
	CU_ASSERT_TRUE(fabs(lost - 0.1 * n) < 5 * sqrt(n * 0.1 * 0.9));
}

static void t_respread(void)
{
	for (int n = 2; n <= 16; n++) {
		for (int down = 0; down < n; down++) {
			int cnt[16] = { 0 }, moved = 0;

			for (uint32_t f = 0; f < 40000; f++) {
				uint32_t h = f * 0x01000193u + 0x811c9dc5u;
				int j;

				if (pick(h, n) != down)
					continue;
				j = dp_chaos_respread_pick(h, n, down);
				CU_ASSERT_TRUE(j >= 0 && j < n && j != down);
				CU_ASSERT_EQUAL(j, dp_chaos_respread_pick(h, n, down));
				if (j >= 0 && j < n)
					cnt[j]++;
				moved++;
			}
			/* the down instance's load shared out evenly: each of the
			 * others within 30% of its fair part */
			for (int j = 0; j < n && moved > 0; j++) {
				double fair = (double)moved / (n - 1);

				if (j != down)
					CU_ASSERT_TRUE(fabs(cnt[j] - fair) < 0.3 * fair);
			}
		}
	}
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "pack", t_pack },
		{ "loss_value", t_loss_value },
		{ "lose", t_lose },
		{ "respread", t_respread },
		{ NULL, NULL },
	};

	return st_cu_add_suite("dp_chaos", NULL, NULL, tests);
}
