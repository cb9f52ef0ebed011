/* Rate profiles: a CSV of points, linear between them.
 *
 *   t_seconds,pps            absolute packets per second
 *   0,10000
 *   10,10000
 *   10,50000                 two points at one time: a step
 *   40,100000                a ramp from 50k to 100k over 30 s
 *
 * or `t_seconds,multiplier`: a multiple of the capture's own rate. The first
 * point is at 0, times never go back, at most two points share a time (a
 * step), values are finite and >= 0. '#' starts a comment; blank lines and
 * blanks around fields are ignored; CRLF is fine. The run ends at the last
 * point.
 *
 * The pacer needs the inverse of the cumulative rate: the time at which
 * the P-th packet (or the P-th capture second, for multipliers) is due.
 * Between two points the rate is linear, so the cumulative is quadratic and
 * the inverse has a closed form. */
#ifndef LG_PROFILE_H
#define LG_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "parse.h"

#define LG_PROFILE_MAX_POINTS 1000000u
#define LG_PROFILE_MAX_T 31536000.0	/* a year */
#define LG_PROFILE_MAX_PPS 1e10
#define LG_PROFILE_MAX_MULT 1e6

enum lg_profile_kind {
	LG_PROFILE_PPS,
	LG_PROFILE_MULTIPLIER,
};

struct lg_profile_pt {
	double t;	/* seconds from the start */
	double v;	/* pps or multiplier */
	double cum;	/* integral of the rate from 0 to t */
};

struct lg_profile {
	enum lg_profile_kind kind;
	uint32_t n;	/* >= 1 */
	struct lg_profile_pt *pts;
};

/* Parses CSV text; name is used in messages ("profile.csv:7: ..."). Returns
 * 0, -EINVAL (with the line number and reason in err), -E2BIG (more than
 * LG_PROFILE_MAX_POINTS) or -ENOMEM. On error p is empty. O(len). */
int lg_profile_parse(const char *text, size_t len, const char *name,
		     struct lg_profile *p, struct st_perr *err);

/* Reads and parses a file. Same returns, plus -errno when it cannot be
 * read. */
int lg_profile_load(const char *path, struct lg_profile *p, struct st_perr *err);
/* The same for a regular file only: a FIFO or a device is refused at once
 * (the analyzer's main loop loads plans' profiles and must not block). */
int lg_profile_load_file(const char *path, struct lg_profile *p, struct st_perr *err);

/* Frees the points; NULL-safe. */
void lg_profile_free(struct lg_profile *p);

/* Time of the last point: the length of the run. */
static inline double lg_profile_end(const struct lg_profile *p)
{
	return p->pts[p->n - 1].t;
}

/* The rate at t (the later value at a step); 0 past the end. O(log n). */
double lg_profile_rate(const struct lg_profile *p, double t);

/* The integral of the rate from 0 to t, clamped to [0, end]. O(log n). */
double lg_profile_cum(const struct lg_profile *p, double t);

/* The earliest time at which the integral reaches pos, or INFINITY when it
 * never does before the end; for pos <= 0 (the first packet), where the
 * rate first rises above 0 (INFINITY for a profile all 0). *cursor (start it at 0) remembers the segment
 * between calls, so a non-decreasing sequence of pos costs O(1) amortised
 * (one sqrt). */
double lg_profile_time_at(const struct lg_profile *p, double pos, uint32_t *cursor);

#endif
