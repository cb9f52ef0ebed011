/* Rate histories for shadowtap-forecast: a regularly spaced series of
 * rates, from a CSV
 *
 *   timestamp,rate
 *   1764000000,5210.5
 *   1764000060,5302
 *
 * (timestamps in seconds, any origin, strictly increasing by one constant
 * step; rates finite and >= 0; '#' comments and blank lines ignored), or
 * binned from a capture's client->server packets. */
#ifndef LG_HISTORY_H
#define LG_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "parse.h"

#define LG_HISTORY_MAX_POINTS 10000000u

struct lg_history {
	double t0;	/* timestamp of the first point, s */
	double step;	/* spacing, s (> 0) */
	double *y;
	uint32_t n;
};

/* Parses CSV text; name is used in messages ("hist.csv:12: ..."). Returns
 * 0; -EINVAL (line number and reason in err: header, field count, number,
 * range, timestamps not increasing or not evenly spaced, fewer than two
 * points); -E2BIG; -ENOMEM. On error h is empty. O(len). */
int lg_history_parse(const char *text, size_t len, const char *name,
		     struct lg_history *h, struct st_perr *err);

/* Reads and parses a file; same returns, plus -errno when unreadable. */
int lg_history_load(const char *path, struct lg_history *h, struct st_perr *err);

/* Bins the client->server packets of a capture (as the loadgen would send
 * them) into packets per second over bins of bin_ns. Returns 0 or the
 * capture reader's errors (err says why). */
int lg_history_from_pcap(const char *path, uint64_t bin_ns, struct lg_history *h,
			 struct st_perr *err);

void lg_history_free(struct lg_history *h);

#endif
