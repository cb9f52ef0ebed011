/* Pacing math: when each packet is due.
 *
 * Every packet of the replay has a position in an endless stream made of
 * the capture played over and over: its number (--pps, pps profiles), its
 * capture time (the capture's own gaps, --speed, multiplier profiles) or
 * the bytes before it (--mbps). A rate maps positions to times: a constant
 * (position units per second) or a profile, whose integral gives the
 * position reached at each time. A packet's deadline is the inverse of
 * that, computed from its absolute position every time, so no error is
 * carried from one packet to the next: the 10 millionth packet is due
 * exactly when the profile says, however late the ones before it went.
 *
 * With --poisson the positions themselves are drawn: exponential gaps whose
 * mean is one packet's share of the position, so packets arrive as a
 * Poisson process (non-homogeneous, following the profile) at the target
 * rate. Plain C, no DPDK: the TX loop converts times to TSC cycles. */
#ifndef LG_PACER_H
#define LG_PACER_H

#include <math.h>
#include <stdint.h>

#include "profile.h"

enum lg_unit {
	LG_UNIT_PACKETS,	/* --pps, pps profiles, --poisson at a pps */
	LG_UNIT_CAPTURE_S,	/* the capture's timestamps: --speed, multipliers */
	LG_UNIT_BYTES,		/* --mbps: frame bytes */
};

struct lg_rate {
	const struct lg_profile *profile;	/* NULL: constant */
	double per_s;		/* constant rate: position units per second */
	enum lg_unit unit;
	/* Packets per position unit over a loop of the capture, to turn the
	 * rate into an offered packet rate for reports. */
	double pkts_per_unit;
};

/* Seconds from the start at which position pos is due; INFINITY when the
 * profile ends first. *cursor: see lg_profile_time_at. A division, or a
 * sqrt with a profile. */
static inline double lg_rate_time_at(const struct lg_rate *r, double pos,
				     uint32_t *cursor)
{
	if (r->profile == NULL)
		return pos / r->per_s;
	return lg_profile_time_at(r->profile, pos, cursor);
}

/* Position reached at t seconds (the integral of the rate). */
static inline double lg_rate_pos_at(const struct lg_rate *r, double t)
{
	if (r->profile == NULL)
		return t * r->per_s;
	return lg_profile_cum(r->profile, t);
}

/* The offered packet rate at t seconds (what the schedule asks for). */
static inline double lg_rate_pps_at(const struct lg_rate *r, double t)
{
	double u = r->profile == NULL ? r->per_s : lg_profile_rate(r->profile, t);

	return u * r->pkts_per_unit;
}

/* xorshift64*: fast, good enough for gaps, one state per lcore. */
static inline uint64_t lg_rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* An exponential variate of mean 1. Never 0 or infinite; ~20 ns (a log). */
static inline double lg_rng_exp(uint64_t *s)
{
	/* 53 random bits in (0, 1]. */
	double u = ((double)(lg_rng_next(s) >> 11) + 1.0) * (1.0 / 9007199254740992.0);

	return -log(u);
}

/* Seeds a per-lcore state from a run seed and the lcore's index (a zero
 * state would stay zero). */
uint64_t lg_rng_seed(uint64_t seed, uint32_t idx);

#endif
