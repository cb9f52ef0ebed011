/* The event stream behind GET /api/v1/events: every verdict and anomaly
 * the analyzer publishes, as JSON, in publication order, numbered.
 *
 * The main loop appends to a private queue (no lock) and, once per round,
 * moves the queue into a shared ring under a mutex taken with trylock, so
 * it never waits for a reader. Readers (one per SSE connection, on MHD's
 * threads) copy what is newer than their cursor and wait on a condition
 * variable, for a bounded time, when there is nothing. A reader that
 * falls more than the ring behind is told how many it missed. */
#ifndef AN_EVENTS_H
#define AN_EVENTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AN_EVENTS_RING 1024		/* events kept for readers */
#define AN_EVENTS_QUEUE 4096		/* waiting for the ring, at most */

struct an_event {
	uint64_t id;			/* first_id, first_id + 1, ... */
	char type[16];			/* "verdict", "anomaly" */
	char *json;			/* one line, no newline */
	size_t len;
};

struct an_events {
	pthread_mutex_t mu;		/* guards ring, next_id, closed */
	pthread_cond_t cv;
	struct an_event ring[AN_EVENTS_RING];
	uint64_t first_id;		/* this process's first id: the wall
					   clock in microseconds at start, so
					   that ids go on rising across restarts */
	uint64_t next_id;		/* id of the next event in the ring */
	bool closed;
	/* The main loop's own. */
	struct an_event queue[AN_EVENTS_QUEUE];
	uint32_t n_queue;
	uint64_t queued, lost;		/* counters: lost when the queue was full */
};

/* Returns 0 or a negative errno (pthread). */
int an_events_init(struct an_events *ev);
/* Frees everything; no reader may run any more (after an_events_close and
 * stopping the server). */
void an_events_fini(struct an_events *ev);

/* Main loop: queues an event (json copied). Returns 0, -ENOMEM, or
 * -ENOBUFS when the queue is full (counted in lost). */
int an_events_push(struct an_events *ev, const char *type, const char *json, size_t len);
/* Main loop, once per round: moves the queue into the ring if the lock is
 * free, and wakes the readers. Never blocks. */
void an_events_flush(struct an_events *ev);
/* Moves what is queued into the ring (the last round's flush may have
 * found the lock taken), then wakes every reader for good: they hand out
 * what is left and end their streams. */
void an_events_close(struct an_events *ev);

/* A reader: formats the events with id >= *cursor as SSE ("id:", "event:",
 * "data:" lines) into buf, whole events only, advancing *cursor. Waits up
 * to wait_ms for one when there is none. Returns the bytes written; 0 when
 * nothing came; -1 when the stream is closed. A reader that fell behind
 * gets an "event: gap" saying how many were dropped. */
long an_events_read(struct an_events *ev, uint64_t *cursor, char *buf, size_t max,
		    unsigned wait_ms);

/* The id the next event will get: a new reader starts there. */
uint64_t an_events_head(struct an_events *ev);
/* Where a reader that reconnects with Last-Event-ID last resumes: after
 * last when this process gave it; at this process's oldest event kept when
 * last came from before a restart (a lower id); at the head when last is
 * not a number or lies ahead (a clock set back, or made up). */
uint64_t an_events_resume(struct an_events *ev, const char *last);

#endif
