/* Fuzzes shadowtap-forecast's history parser, then runs what the
 * forecaster does with an accepted history (season detection, a fit, the
 * forecast and its quantiles, the baseline and the error measures) and
 * checks every number that comes out of a finite history is finite. */
#include <math.h>
#include <stdlib.h>

#include "fuzz.h"
#include "history.h"
#include "holt_winters.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lg_history h;
	struct hw_model m;
	struct st_perr err;
	double f[8], sn[8];
	uint32_t season, m1;

	if (lg_history_parse((const char *)data, size, "fuzz", &h, &err) != 0) {
		CHECK(h.y == NULL && err.msg[0] != '\0');
		return 0;
	}
	CHECK(h.n >= 2 && h.step > 0);
	for (uint32_t i = 0; i < h.n; i++)
		CHECK(isfinite(h.y[i]) && h.y[i] >= 0);
	/* Fitting is O(n) per evaluation: keep the fuzzer fast. */
	if (h.n > 400) {
		lg_history_free(&h);
		return 0;
	}
	season = hw_detect_season(h.y, h.n);
	CHECK(season == 0 || (season >= 2 && season <= h.n / 3));
	m1 = season ? season : 1;
	if (hw_fit(h.y, h.n, m1, 0, &m, &err) == 0) {
		hw_forecast(&m, 8, f);
		for (int k = 0; k < 8; k++) {
			CHECK(!isnan(f[k]));
			CHECK(!isnan(hw_quantile_offset(&m, 0.9, (uint32_t)k + 1)));
		}
		CHECK(m.alpha >= 0 && m.alpha <= 1 && m.beta >= 0 && m.beta <= 1);
		hw_free(&m);
	} else {
		CHECK(h.n < hw_min_points(m1, 0));
	}
	if (h.n >= m1) {
		hw_seasonal_naive(h.y, h.n, m1, 8, sn);
		CHECK(hw_naive_mae(h.y, h.n, m1) >= 0);
		CHECK(hw_smape(h.y, h.y, h.n) == 0);
	}
	lg_history_free(&h);
	return 0;
}
