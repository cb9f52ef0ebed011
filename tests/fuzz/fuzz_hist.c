/* Fuzzes the HdrHistogram V2 decoder: every input is tried as binary and
 * as base64 text, so the corpus holds plain encodings of both kinds.
 * Whatever decodes must re-encode and decode to the same histogram: same
 * layout, total, min, max and counts. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hist.h"

static void check_same(const struct st_hist *a, const struct st_hist *b)
{
	if (a->lowest != b->lowest || a->highest != b->highest ||
	    a->sigfigs != b->sigfigs || a->counts_len != b->counts_len ||
	    st_hist_total(a) != st_hist_total(b) ||
	    st_hist_min(a) != st_hist_min(b) || st_hist_max(a) != st_hist_max(b) ||
	    memcmp(a->counts, b->counts, (size_t)a->counts_len * sizeof(int64_t)) != 0)
		abort();
}

static void round_trip(const struct st_hist *h)
{
	size_t bound = st_hist_encode_bound(h), len = 0;
	uint8_t *buf = malloc(bound);
	struct st_hist *again;
	enum st_hist_derr err;
	char *text;

	if (buf == NULL)
		return;
	if (st_hist_encode_v2(h, buf, bound, &len) != 0)
		abort();
	again = st_hist_decode_v2(buf, len, &err);
	if (again == NULL)
		abort();
	check_same(h, again);
	st_hist_destroy(again);
	free(buf);

	text = st_hist_encode_b64(h, &len);
	if (text == NULL)
		abort();
	again = st_hist_decode_b64(text, len, &err);
	if (again == NULL)
		abort();
	check_same(h, again);
	st_hist_destroy(again);
	free(text);

	/* the queries must hold up on anything the decoder accepts */
	(void)st_hist_value_at_percentile(h, 99.9);
	(void)st_hist_mean(h);
	(void)st_hist_stddev(h);
}

static void one(struct st_hist *h, enum st_hist_derr err)
{
	if (h == NULL) {
		if (err == ST_HIST_DERR_OK)
			abort();
		return;
	}
	round_trip(h);
	st_hist_destroy(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum st_hist_derr err = ST_HIST_DERR_OK;
	struct st_hist *h;

	h = st_hist_decode_v2(data, size, &err);
	one(h, err);
	err = ST_HIST_DERR_OK;
	h = st_hist_decode_b64((const char *)data, size, &err);
	one(h, err);
	return 0;
}
