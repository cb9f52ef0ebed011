/* The timing wheel delayed copies wait in: one per worker, written and read
 * by that worker alone.
 *
 * A fixed pool of `cap` entries (the [dataplane] chaos_queue key) and a ring
 * of slots, each a FIFO list of the entries due in one tick (2^shift time
 * units). An entry is released when its tick is wholly past, so never
 * early and at most one tick late; entries of one slot leave in the order
 * they came. When every entry is taken, dp_wheel_add refuses: the caller
 * drops the copy and counts it (chaos_queue_full), never waits. A due time
 * past the horizon (slots ticks ahead) is clamped to it and counted.
 *
 * It holds opaque pointers with a 16-bit tag (the worker's: the group and
 * whether the copy was injected), so it is plain C: the unit tests build it
 * without EAL. Time is whatever unit the caller uses (the worker's: TSC
 * cycles). */
#ifndef DP_CHAOS_WHEEL_H
#define DP_CHAOS_WHEEL_H

#include <stdint.h>

struct dp_wheel_ent {
	void *item;
	uint32_t next;		/* next in its slot or in the free list */
	uint16_t tag;
};

struct dp_wheel {
	struct dp_wheel_ent *ent;
	uint32_t *head, *tail;	/* per slot; DP_WHEEL_NIL: empty */
	uint32_t cap;		/* entries */
	uint32_t n;		/* entries in use */
	uint32_t free_head;
	uint32_t mask;		/* slots - 1 */
	unsigned int shift;	/* a tick is 2^shift time units */
	uint64_t cursor;	/* the next tick to release */
	/* counters, written by the owner */
	uint64_t added;
	uint64_t released;
	uint64_t full;		/* refused: every entry taken */
	uint64_t clamped;	/* due past the horizon, released at it */
};

#define DP_WHEEL_NIL UINT32_MAX

/* Makes an empty wheel of cap entries (1..16M) and a ring of slots ticks
 * (a power of two, 2..16M) of 2^shift units each, its clock starting at
 * now. Returns 0, -EINVAL for sizes out of range, or -ENOMEM. Allocates
 * (calloc): call it before the poll loop. */
int dp_wheel_init(struct dp_wheel *w, uint32_t cap, uint32_t slots, unsigned int shift,
		  uint64_t now);

/* The shift and slot count for a tick of about tick_units and a horizon of
 * at least horizon_units. Never fails. */
void dp_wheel_geometry(uint64_t tick_units, uint64_t horizon_units, unsigned int *shift,
		       uint32_t *slots);

/* Frees the wheel; every item still waiting goes to drop(item, tag, arg)
 * first (the worker frees the mbuf). Safe on a zeroed or finished wheel. */
void dp_wheel_fini(struct dp_wheel *w, void (*drop)(void *item, uint16_t tag, void *arg),
		   void *arg);

/* Queues item to be released at due (released at once by the next poll
 * when due is already past). Returns 0, or -ENOSPC when every entry is
 * taken (counted in full; the item is not kept). O(1), no allocation. */
int dp_wheel_add(struct dp_wheel *w, void *item, uint16_t tag, uint64_t due, uint64_t now);

/* Takes up to max items whose tick is wholly before now, earliest first,
 * into items/tags. Returns how many; call again while it returns max. Costs
 * one look per tick passed since the last call (none when the wheel is
 * empty: the clock jumps). */
uint32_t dp_wheel_poll(struct dp_wheel *w, uint64_t now, void **items, uint16_t *tags,
		       uint32_t max);

#endif
