/* Chaos on the shadow path: what a group's copies suffer on purpose (random
 * loss, an instance down). Production is never touched.
 *
 * A group's whole chaos setting is one 64-bit word (struct dp_group's
 * chaos), so that the main lcore changes it with one atomic store and a
 * worker, reading it once per burst, never sees half a change. 0 is "no
 * chaos": the poll loop tests the word and pays one predictable branch.
 * Plain C: the unit tests build it without EAL. */
#ifndef DP_CHAOS_H
#define DP_CHAOS_H

#include <stdbool.h>
#include <stdint.h>

/* Bits 0..32: the loss threshold on a 32-bit random, 0 (none) .. 2^32 (all),
 * the same form as a share's (st_share_threshold). */
#define DP_CHAOS_LOSS_MASK	((1ULL << 33) - 1)
/* Bits 40..47: the down instance's index + 1; 0: none down. */
#define DP_CHAOS_DOWN_SHIFT	40
#define DP_CHAOS_DOWN_MASK	(0xffULL << DP_CHAOS_DOWN_SHIFT)
/* Bit 48: the down instance's flows move to the others. */
#define DP_CHAOS_RESPREAD	(1ULL << 48)
/* Bit 49: every copy of the group, and every packet of its TCP sessions,
 * is lost on the wire (chaos_tx.c). Never published: a worker sets it in
 * its own copy of the word while a flap schedule without a down instance
 * is in its down phase (dp_chaos_flap_word). */
#define DP_CHAOS_ALLDOWN	(1ULL << 49)

/* Packs a setting: loss_thr from st_share_threshold(loss), down the index of
 * the down instance or -1, respread whether its flows move. Never fails. */
static inline uint64_t dp_chaos_pack(uint64_t loss_thr, int down, bool respread)
{
	uint64_t w = loss_thr & DP_CHAOS_LOSS_MASK;

	if (down >= 0 && down < 255)
		w |= (uint64_t)(down + 1) << DP_CHAOS_DOWN_SHIFT;
	if (respread)
		w |= DP_CHAOS_RESPREAD;
	return w;
}

static inline uint64_t dp_chaos_loss_thr(uint64_t w)
{
	return w & DP_CHAOS_LOSS_MASK;
}

/* The down instance's index, or -1. */
static inline int dp_chaos_down(uint64_t w)
{
	return (int)((w & DP_CHAOS_DOWN_MASK) >> DP_CHAOS_DOWN_SHIFT) - 1;
}

static inline bool dp_chaos_respread(uint64_t w)
{
	return (w & DP_CHAOS_RESPREAD) != 0;
}

/* Whether a copy is lost, from a 32-bit random: one compare. */
static inline bool dp_chaos_lose(uint64_t w, uint32_t rnd)
{
	return rnd < dp_chaos_loss_thr(w);
}

/* The word a worker runs with under a flap schedule (chaos_fx.h,
 * chaos_flap): in the down phase the published word as it is, or with
 * DP_CHAOS_ALLDOWN when it names no down instance (the whole group flaps);
 * in the up phase without its down instance. Never fails. */
static inline uint64_t dp_chaos_flap_word(uint64_t w, bool down_now)
{
	if (!down_now)
		return w & ~(DP_CHAOS_DOWN_MASK | DP_CHAOS_RESPREAD);
	return (w & DP_CHAOS_DOWN_MASK) ? w : w | DP_CHAOS_ALLDOWN;
}

/* murmur3's finalizer: the flows of one instance sit in one slice of the
 * hash space, so they are remixed before being spread again. */
static inline uint32_t dp_chaos_remix(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* Where a flow of the down instance `down` (of n >= 2) goes when its flows
 * are respread: one of the n - 1 others, by a remix of the flow's hash, so
 * the others share its load evenly and every other flow stays where it was.
 * Never returns down. */
static inline int dp_chaos_respread_pick(uint32_t hash, int n, int down)
{
	int j = (int)(((uint64_t)dp_chaos_remix(hash) * (uint32_t)(n - 1)) >> 32);

	return j >= down ? j + 1 : j;
}

#endif
