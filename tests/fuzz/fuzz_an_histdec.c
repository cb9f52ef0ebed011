/* The analyzer's streaming V2 decoder against st_hist_decode_v2 on the same
 * bytes: both accept or both refuse, with the same reason; when they
 * accept, the buckets (mapped into the analyzer's layout as st_hist_add
 * would) and the totals agree. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "histdec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct st_hist *dst, *merged;
	static struct an_histdec *d;
	const struct an_bin *bins;
	enum st_hist_derr e1, e2;
	int64_t total, clamped;
	struct st_hist *ref;
	size_t n, k = 0;
	int rc;

	if (d == NULL) {
		dst = st_hist_create(AN_HIST_LOWEST, AN_HIST_HIGHEST, AN_HIST_SIGFIGS);
		merged = st_hist_create(AN_HIST_LOWEST, AN_HIST_HIGHEST, AN_HIST_SIGFIGS);
		d = an_histdec_create(dst);
		if (d == NULL || merged == NULL)
			abort();
	}
	ref = st_hist_decode_v2(data, size, &e1);
	rc = an_histdec_decode(d, data, size, &bins, &n, &total, &clamped, &e2);
	if ((ref != NULL) != (rc == 0))
		abort();
	/* Out of memory is allowed to differ: the two allocate differently. */
	if (e1 != e2 && e1 != ST_HIST_DERR_NOMEM && e2 != ST_HIST_DERR_NOMEM)
		abort();
	if (ref == NULL)
		return 0;
	if (total != st_hist_total(ref))
		abort();
	st_hist_reset(merged);
	st_hist_add(merged, ref);
	for (int32_t i = 0; i < merged->counts_len; i++) {
		if (merged->counts[i] == 0)
			continue;
		if (k >= n || bins[k].idx != i || bins[k].count != merged->counts[i])
			abort();
		k++;
	}
	if (k != n)
		abort();
	st_hist_destroy(ref);
	return 0;
}
