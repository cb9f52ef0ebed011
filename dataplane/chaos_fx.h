/* Chaos on the shadow path, the impairments beyond chaos.h's word: delay
 * with jitter, bursty (Gilbert-Elliott) loss, duplication, corruption,
 * reordering, a shaping rate, and a flap schedule for the down instance.
 *
 * Two forms. struct dp_chaos_params is what a person gives ([shadow.NAME]
 * chaos_* keys, the control socket's chaos command), in their units; the
 * main lcore keeps it and shows it back. struct dp_chaos_fx is what a worker
 * uses: thresholds on a 32-bit random and TSC cycles, all 64-bit words, so
 * that a group's whole setting is copied word by word under a sequence
 * counter (shadow.h, dp_group_set_chaos): a worker copies it into its own
 * state only when the counter was even and unchanged across the copy, so it
 * never runs with half a change.
 *
 * Plain C: the unit tests build it without EAL. */
#ifndef DP_CHAOS_FX_H
#define DP_CHAOS_FX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parse.h"

enum dp_chaos_dist {
	DP_DIST_UNIFORM,	/* delay +- jitter, flat (netem's default) */
	DP_DIST_NORMAL,		/* jitter is the standard deviation */
	DP_DIST_PARETONORMAL,	/* netem's paretonormal: a quarter normal, three
				   quarters Pareto (shape 3), a long right tail */
	DP_DIST_COUNT
};

extern const char *const dp_chaos_dist_names[DP_DIST_COUNT];

/* Which way loss (chaos_loss, chaos_loss_burst) and delay (chaos_delay with
 * its jitter) act: on the copies towards the shadows (the default), on the
 * shadows' responses on their way back to the dataplane (chaos_rx.c), or
 * on both, each direction drawing on its own. The other impairments act on
 * copies only. */
enum dp_chaos_direction {
	DP_CHAOS_DIR_COPIES,
	DP_CHAOS_DIR_RESPONSES,
	DP_CHAOS_DIR_BOTH,
	DP_CHAOS_DIR_COUNT
};

extern const char *const dp_chaos_direction_names[DP_CHAOS_DIR_COUNT];

/* The longest delay or jitter accepted: the timing wheel's horizon covers
 * delay + jitter tails up to about 2 s (chaos_wheel.h). */
#define DP_CHAOS_DELAY_MAX_NS 1000000000ULL
/* The longest one copy's draw of delay + jitter may be: a tail draw past
 * it is this (as the wheel would release it), and so is the group's last
 * release that later copies wait behind (they had waited behind the draw,
 * up to seconds past the wheel's horizon). */
#define DP_CHAOS_DRAW_MAX_NS (2 * DP_CHAOS_DELAY_MAX_NS)

/* A copy held back to be reordered leaves after chaos_reorder_gap later
 * copies of its group have left, or at the latest this long after it was
 * held: a quiet group does not keep it for ever. */
#define DP_CHAOS_REORDER_HOLD_NS 10000000ULL
/* Copies a worker holds back for reordering per group at once; one chosen
 * while they are all taken leaves in its turn (not reordered). */
#define DP_CHAOS_REORDER_HELD 8
#define DP_CHAOS_REORDER_GAP_MAX 1000
/* The shaping rate's range, bits per second. */
#define DP_CHAOS_RATE_MIN 1000ULL
#define DP_CHAOS_RATE_MAX 1000000000000ULL
/* A copy the shaper would hold longer than this is dropped
 * (chaos_queue_full): the backlog is past what the wheel covers. */
#define DP_CHAOS_SHAPE_BACKLOG_NS 1000000000ULL
/* The flap schedule's range: down for 1 ms .. 1 h of a period up to 1 d. */
#define DP_CHAOS_FLAP_MIN_NS 1000000ULL
#define DP_CHAOS_FLAP_MAX_NS 86400000000000ULL

struct dp_chaos_params {
	uint64_t delay_ns;	/* 0: no delay */
	uint64_t jitter_ns;	/* spread of the delay, by dist */
	enum dp_chaos_dist dist;
	double delay_corr;	/* 0..1: netem's correlation of one random with the last */
	/* Gilbert-Elliott (netem's gemodel with 1-k = 0): in the bad state a
	 * copy is lost with ge_loss_bad; the bad state lasts ge_burst copies on
	 * average (r = 1 / ge_burst), the good one ge_gap (p = 1 / ge_gap).
	 * ge_burst 0: off. */
	double ge_loss_bad;
	double ge_burst;
	double ge_gap;
	double duplicate;	/* share of copies sent twice */
	double corrupt;		/* share of copies with one L4 payload bit flipped */
	double reorder;		/* share of copies sent after the next reorder_gap */
	uint32_t reorder_gap;	/* 1..1000 (netem's gap; default 1) */
	uint64_t rate_bps;	/* shaping rate of the whole group, bits/s; 0: none */
	uint64_t flap_down_ns;	/* down this long ... */
	uint64_t flap_period_ns; /* ... every period (0: no flap); the down
				    instance (chaos_down), or without one the
				    whole group */
	enum dp_chaos_direction direction; /* where loss and delay act */
};

/* The worker's form (see above): every field a uint64_t. */
struct dp_chaos_fx {
	uint64_t on;		/* DP_FX_* bits: which impairments are in force */
	uint64_t delay_cyc;
	uint64_t jitter_cyc;
	uint64_t draw_max_cyc;	/* DP_CHAOS_DRAW_MAX_NS */
	uint64_t dist;
	uint64_t corr_q32;	/* delay_corr * 2^32 */
	uint64_t ge_p_thr;	/* good -> bad, on a 32-bit random */
	uint64_t ge_r_thr;	/* bad -> good */
	uint64_t ge_bad_thr;	/* loss in the bad state */
	uint64_t dup_thr;
	uint64_t corrupt_thr;
	uint64_t reorder_thr;
	uint64_t reorder_gap;
	uint64_t reorder_hold_cyc;
	uint64_t rate_cpb_q16;	/* cycles per byte of the group's rate << 16 */
	uint64_t shape_max_cyc;	/* the longest a copy waits for the shaper */
	uint64_t flap_down_cyc;
	uint64_t flap_period_cyc;
	uint64_t flap_epoch;	/* TSC the schedule started at (shadow.c sets it) */
	/* The responses' side (chaos_rx.c): DP_FX_LOSS, DP_FX_GE and
	 * DP_FX_DELAY when they act on responses; 0: responses untouched.
	 * `on` has DP_FX_GE and DP_FX_DELAY only when they act on copies. */
	uint64_t back;
	uint64_t copy_loss;	/* 1: chaos_loss acts on copies */
};

#define DP_FX_DELAY	(1ULL << 0)
#define DP_FX_GE	(1ULL << 1)
#define DP_FX_DUP	(1ULL << 2)
#define DP_FX_CORRUPT	(1ULL << 3)
#define DP_FX_REORDER	(1ULL << 4)
#define DP_FX_RATE	(1ULL << 5)
#define DP_FX_FLAP	(1ULL << 6)
#define DP_FX_LOSS	(1ULL << 7)	/* back only: chaos_loss (the group's word) */

#define DP_FX_WORDS (sizeof(struct dp_chaos_fx) / sizeof(uint64_t))

/* What chaos did to copies that were still sent (the copies' losses are
 * drop reasons, counters.h), and to the shadows' responses. */
enum dp_chaos_effect {
	DP_FX_DELAYED,		/* held in the timing wheel, then sent */
	DP_FX_DUPLICATED,	/* a second copy sent */
	DP_FX_CORRUPTED,	/* one payload bit flipped */
	DP_FX_REORDERED,	/* sent after at least one later copy of its group */
	DP_FX_SHAPED,		/* waited for the shaping rate */
	DP_FX_RESP_LOST,	/* a response lost: chaos_loss */
	DP_FX_RESP_LOST_BURST,	/* a response lost: chaos_loss_burst */
	DP_FX_RESP_DELAYED,	/* a response held, then read */
	DP_FX_RESP_QUEUE_FULL,	/* a response to be held, dropped: the wheel was full */
	DP_FX_COUNT
};

extern const char *const dp_chaos_effect_names[DP_FX_COUNT];

/* The keys, without their config prefix "chaos_": delay, jitter,
 * delay_dist, delay_corr, loss_burst, duplicate, corrupt, reorder,
 * reorder_gap, rate, flap, direction. */
extern const char *const dp_chaos_param_keys[];
extern const size_t dp_chaos_n_param_keys;

/* Sets one key of p from its text ("5ms", "normal", "25%",
 * "100%,5,200"). Returns 0, -ENOENT for an unknown key, or -EINVAL with e
 * set to the reason (without the key's name). Never changes p on error. */
int dp_chaos_param_set(struct dp_chaos_params *p, const char *key, const char *v,
		       struct st_perr *e);

/* A rate as netem takes it: a number and a unit, bit kbit mbit gbit tbit
 * (powers of 1000), kibit mibit gibit tibit (of 1024), bps kbps mbps gbps
 * tbps kibps mibps gibps tibps (bytes per second), any case; a bare
 * number is bits per second; 0, none, off: no shaping. Returns 0 with
 * *bps in bits per second, or -EINVAL with e set. */
int dp_chaos_parse_rate(const char *v, uint64_t *bps, struct st_perr *e);

/* Checks the keys together (a jitter larger than the delay is allowed: the
 * delay is clamped at 0). Returns 0, or -EINVAL with why naming the key. */
int dp_chaos_params_check(const struct dp_chaos_params *p, char *why, size_t len);

/* Whether p asks for anything. */
bool dp_chaos_params_any(const struct dp_chaos_params *p);

/* Whether a and b hold the same value of key, exactly (not through
 * their text, which keeps 6 digits); dp_chaos_param_copy copies it. */
bool dp_chaos_param_eq(const struct dp_chaos_params *a, const struct dp_chaos_params *b,
		       const char *key);
void dp_chaos_param_copy(struct dp_chaos_params *dst, const struct dp_chaos_params *src,
			 const char *key);

/* p's value of key as text, as dp_chaos_param_set reads it back. */
void dp_chaos_param_fmt(const struct dp_chaos_params *p, const char *key, char *buf,
			size_t len);

/* The worker's form of p for a TSC of tsc_hz. Never fails. */
void dp_chaos_compile(const struct dp_chaos_params *p, uint64_t tsc_hz, struct dp_chaos_fx *fx);

/* A worker's own chaos state for one group. */
struct dp_chaos_state {
	uint64_t last_due;	/* release time of its last delayed copy: flows
				   keep their order (see dp_chaos_delay) */
	uint32_t last_rnd;	/* the last random drawn for the delay, for
				   correlation */
	uint32_t ge_bad;	/* Gilbert-Elliott: in the bad state */
	uint64_t shape_next;	/* the shaper's clock: when the link is free */
	/* copies held back to be reordered (chaos_tx.c) */
	uint32_t n_held;
	void *held[DP_CHAOS_REORDER_HELD];
	uint64_t held_deadline[DP_CHAOS_REORDER_HELD];
	uint32_t held_left[DP_CHAOS_REORDER_HELD];	/* later copies still to pass */
	uint16_t held_tag[DP_CHAOS_REORDER_HELD];
	uint8_t held_passed[DP_CHAOS_REORDER_HELD];	/* a later copy overtook it */
};

/* Whether the flap schedule is in its down phase at TSC now: the first
 * flap_down_cyc of every flap_period_cyc since flap_epoch. One division. */
static inline bool dp_chaos_flap_down(const struct dp_chaos_fx *fx, uint64_t now)
{
	return now >= fx->flap_epoch &&
	       (now - fx->flap_epoch) % fx->flap_period_cyc < fx->flap_down_cyc;
}

/* The shaper: when a copy of len bytes that could leave at ready leaves at
 * the group's rate on one of n_workers workers (each shapes its share,
 * rate / n_workers), and moves the shaper's clock past it. Returns the
 * release time, or 0 when it would wait longer than shape_max_cyc for the
 * link after ready (its delay, in order behind the group's earlier copies:
 * dp_chaos_delay), or leave more than DP_CHAOS_DRAW_MAX_NS after now (the
 * clock is not moved: the copy is dropped). The shaped release is not the
 * delay's order (dp_chaos_state's last_due): shape_next keeps shaped
 * copies in order, and a backlog folded into ready never showed as one. */
static inline uint64_t dp_chaos_shape(const struct dp_chaos_fx *fx, struct dp_chaos_state *s,
				      uint64_t now, uint64_t ready, uint32_t len,
				      uint32_t n_workers)
{
	uint64_t t = ready > s->shape_next ? ready : s->shape_next;

	/* the wait for the link, and never past the wheel's horizon */
	if (t - ready > fx->shape_max_cyc || t - now > fx->draw_max_cyc)
		return 0;
	s->shape_next = t + ((fx->rate_cpb_q16 * len * n_workers) >> 16);
	return t;
}

/* Whether the Gilbert-Elliott model loses this copy, from three 32-bit
 * randoms (loss, transition): the loss is decided in the state the copy
 * finds, then the state moves, as netem's loss_gilb_ell. */
static inline bool dp_chaos_ge_lose(const struct dp_chaos_fx *fx, struct dp_chaos_state *s,
				    uint32_t rnd_loss, uint32_t rnd_move)
{
	bool lost;

	if (s->ge_bad) {
		lost = rnd_loss < fx->ge_bad_thr;
		if (rnd_move < fx->ge_r_thr)
			s->ge_bad = 0;
	} else {
		lost = false;
		if (rnd_move < fx->ge_p_thr)
			s->ge_bad = 1;
	}
	return lost;
}

/* The delay of one copy in cycles from a 32-bit random: delay + jitter
 * times the distribution's quantile at that random (computed, not a table
 * as netem's: Acklam's inverse normal, the Pareto's in closed form),
 * the random first correlated with the last one (netem's get_crandom),
 * clamped at 0. Then release = max(now + delay, the group's last release on
 * this worker): a copy never overtakes an earlier copy of its group, so
 * every flow keeps its order and jitter makes a busy flow's copies bunch up
 * rather than swap (netem reorders them unless told not to; a shadow
 * server should see reordering only when it is asked for). Returns the
 * release time. */
uint64_t dp_chaos_delay(const struct dp_chaos_fx *fx, struct dp_chaos_state *s, uint64_t now,
			uint32_t rnd);

/* The quantile of the distribution at u in (0,1), in units of jitter
 * (uniform: -1..1; normal: standard deviations). */
double dp_chaos_dist_quantile(enum dp_chaos_dist d, double u);

#endif
