/* The delayed copies' timing wheel (chaos_wheel.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chaos_wheel.h"

int dp_wheel_init(struct dp_wheel *w, uint32_t cap, uint32_t slots, unsigned int shift,
		  uint64_t now)
{
	memset(w, 0, sizeof(*w));
	if (cap < 1 || cap > (1u << 24) || slots < 2 || slots > (1u << 24) ||
	    (slots & (slots - 1)) != 0 || shift > 40)
		return -EINVAL;
	w->ent = calloc(cap, sizeof(*w->ent));
	w->head = malloc(sizeof(*w->head) * slots);
	w->tail = malloc(sizeof(*w->tail) * slots);
	if (w->ent == NULL || w->head == NULL || w->tail == NULL) {
		dp_wheel_fini(w, NULL, NULL);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < slots; i++)
		w->head[i] = w->tail[i] = DP_WHEEL_NIL;
	for (uint32_t i = 0; i < cap; i++)
		w->ent[i].next = i + 1 < cap ? i + 1 : DP_WHEEL_NIL;
	w->cap = cap;
	w->free_head = 0;
	w->mask = slots - 1;
	w->shift = shift;
	w->cursor = now >> shift;
	return 0;
}

void dp_wheel_geometry(uint64_t tick_units, uint64_t horizon_units, unsigned int *shift,
		       uint32_t *slots)
{
	unsigned int s = 0;
	uint64_t n = 2;

	while (s < 40 && (2ULL << s) <= tick_units)
		s++;
	while (n < (1u << 24) && (n << s) < horizon_units)
		n <<= 1;
	*shift = s;
	*slots = (uint32_t)n;
}

void dp_wheel_fini(struct dp_wheel *w, void (*drop)(void *item, uint16_t tag, void *arg),
		   void *arg)
{
	if (w->head != NULL && drop != NULL && w->n > 0) {
		for (uint32_t s = 0; s <= w->mask; s++)
			for (uint32_t i = w->head[s]; i != DP_WHEEL_NIL; i = w->ent[i].next)
				drop(w->ent[i].item, w->ent[i].tag, arg);
	}
	free(w->ent);
	free(w->head);
	free(w->tail);
	w->ent = NULL;
	w->head = w->tail = NULL;
	w->n = 0;
	w->cap = 0;
}

int dp_wheel_add(struct dp_wheel *w, void *item, uint16_t tag, uint64_t due, uint64_t now)
{
	uint64_t tick = due >> w->shift, now_tick = now >> w->shift;
	uint32_t i, s;

	if (w->free_head == DP_WHEEL_NIL) {
		w->full++;
		return -ENOSPC;
	}
	/* The cursor trails now by the ticks not yet polled: anything due
	 * before it goes in the cursor's slot, the next to leave. */
	if (tick < w->cursor)
		tick = w->cursor;
	if (w->n == 0 && now_tick > w->cursor)
		w->cursor = now_tick;
	if (tick < w->cursor)
		tick = w->cursor;
	if (tick - w->cursor > w->mask) {
		tick = w->cursor + w->mask;
		w->clamped++;
	}
	i = w->free_head;
	w->free_head = w->ent[i].next;
	w->ent[i].item = item;
	w->ent[i].tag = tag;
	w->ent[i].next = DP_WHEEL_NIL;
	s = (uint32_t)(tick & w->mask);
	if (w->tail[s] == DP_WHEEL_NIL)
		w->head[s] = i;
	else
		w->ent[w->tail[s]].next = i;
	w->tail[s] = i;
	w->n++;
	w->added++;
	return 0;
}

uint32_t dp_wheel_poll(struct dp_wheel *w, uint64_t now, void **items, uint16_t *tags,
		       uint32_t max)
{
	uint64_t now_tick = now >> w->shift;
	uint32_t out = 0;

	while (w->n > 0 && w->cursor < now_tick && out < max) {
		uint32_t s = (uint32_t)(w->cursor & w->mask);
		uint32_t i = w->head[s];

		if (i == DP_WHEEL_NIL) {
			w->cursor++;
			continue;
		}
		while (i != DP_WHEEL_NIL && out < max) {
			struct dp_wheel_ent *e = &w->ent[i];
			uint32_t next = e->next;

			items[out] = e->item;
			tags[out] = e->tag;
			out++;
			e->item = NULL;
			e->next = w->free_head;
			w->free_head = i;
			w->n--;
			i = next;
		}
		w->head[s] = i;
		if (i == DP_WHEEL_NIL) {
			w->tail[s] = DP_WHEEL_NIL;
			w->cursor++;
		}
	}
	if (w->n == 0 && w->cursor < now_tick)
		w->cursor = now_tick;
	w->released += out;
	return out;
}
