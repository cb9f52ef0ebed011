/* Fuzzes the loadgen's rate-profile parser, then checks what the pacer
 * relies on for any profile it accepts: the cumulative rate never goes
 * down, its inverse lands inside [0, end] and inverts it, and positions
 * past the end are never due. */
#include <math.h>
#include <stdlib.h>

#include "fuzz.h"
#include "profile.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lg_profile p;
	struct st_perr err;
	double end, total, prev_t = 0, prev_c = 0;
	uint32_t cur = 0;

	if (lg_profile_parse((const char *)data, size, "fuzz", &p, &err) != 0) {
		CHECK(p.pts == NULL && err.msg[0] != '\0');
		return 0;
	}
	CHECK(p.n >= 1 && p.pts[0].t == 0);
	end = lg_profile_end(&p);
	total = p.pts[p.n - 1].cum;
	CHECK(end > 0 && isfinite(total) && total >= 0);
	for (int i = 0; i <= 64; i++) {
		double t = end * i / 64, c = lg_profile_cum(&p, t), r = lg_profile_rate(&p, t);

		CHECK(c >= prev_c - 1e-9 * (1 + fabs(prev_c)) && isfinite(c));
		CHECK(r >= 0 && isfinite(r));
		prev_c = c;
	}
	for (int i = 1; i <= 64 && total > 0; i++) {
		double pos = total * i / 64, t = lg_profile_time_at(&p, pos, &cur);

		CHECK(t >= 0 && t <= end * (1 + 1e-9));
		CHECK(t >= prev_t - 1e-9 * (1 + prev_t));
		CHECK(fabs(lg_profile_cum(&p, t) - pos) <= 1e-6 * (1 + total));
		prev_t = t;
	}
	CHECK(isinf(lg_profile_time_at(&p, total * 1.5 + 1, &cur)));
	lg_profile_free(&p);
	return 0;
}
