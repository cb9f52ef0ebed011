#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "parse.h"

int an_events_init(struct an_events *ev)
{
	pthread_condattr_t ca;
	struct timespec now;
	int rc;

	memset(ev, 0, sizeof(*ev));
	clock_gettime(CLOCK_REALTIME, &now);
	ev->first_id = (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000 + 1;
	ev->next_id = ev->first_id;
	rc = pthread_mutex_init(&ev->mu, NULL);
	if (rc != 0)
		return -rc;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rc = pthread_cond_init(&ev->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (rc != 0) {
		pthread_mutex_destroy(&ev->mu);
		return -rc;
	}
	return 0;
}

void an_events_fini(struct an_events *ev)
{
	for (uint32_t i = 0; i < AN_EVENTS_RING; i++)
		free(ev->ring[i].json);
	for (uint32_t i = 0; i < ev->n_queue; i++)
		free(ev->queue[i].json);
	pthread_cond_destroy(&ev->cv);
	pthread_mutex_destroy(&ev->mu);
}

int an_events_push(struct an_events *ev, const char *type, const char *json, size_t len)
{
	struct an_event *e;

	if (ev->n_queue >= AN_EVENTS_QUEUE) {
		ev->lost++;
		return -ENOBUFS;
	}
	e = &ev->queue[ev->n_queue];
	e->json = malloc(len + 1);
	if (e->json == NULL) {
		ev->lost++;
		return -ENOMEM;
	}
	memcpy(e->json, json, len);
	e->json[len] = '\0';
	e->len = len;
	snprintf(e->type, sizeof(e->type), "%s", type);
	ev->n_queue++;
	ev->queued++;
	return 0;
}

/* The queue into the ring, under ev->mu. */
static void move_queue(struct an_events *ev)
{
	for (uint32_t i = 0; i < ev->n_queue; i++) {
		struct an_event *slot = &ev->ring[ev->next_id % AN_EVENTS_RING];

		free(slot->json);
		*slot = ev->queue[i];
		slot->id = ev->next_id++;
	}
	ev->n_queue = 0;
}

void an_events_flush(struct an_events *ev)
{
	if (ev->n_queue == 0 || pthread_mutex_trylock(&ev->mu) != 0)
		return;
	move_queue(ev);
	pthread_cond_broadcast(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
}

void an_events_close(struct an_events *ev)
{
	/* what the last round queued (its trylock may have failed) is still
	 * handed out before the streams end */
	pthread_mutex_lock(&ev->mu);
	move_queue(ev);
	ev->closed = true;
	pthread_cond_broadcast(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
}

uint64_t an_events_head(struct an_events *ev)
{
	uint64_t id;

	pthread_mutex_lock(&ev->mu);
	id = ev->next_id;
	pthread_mutex_unlock(&ev->mu);
	return id;
}

uint64_t an_events_resume(struct an_events *ev, const char *last)
{
	uint64_t id = 0, cursor;
	struct st_perr e;
	bool ok = st_parse_uint(last, 0, UINT64_MAX, &id, &e) == 0;

	pthread_mutex_lock(&ev->mu);
	if (!ok || id >= ev->next_id)
		cursor = ev->next_id;
	else if (id < ev->first_id)
		cursor = ev->next_id - ev->first_id > AN_EVENTS_RING ?
			 ev->next_id - AN_EVENTS_RING : ev->first_id;
	else
		cursor = id + 1;
	pthread_mutex_unlock(&ev->mu);
	return cursor;
}

long an_events_read(struct an_events *ev, uint64_t *cursor, char *buf, size_t max,
		    unsigned wait_ms)
{
	struct timespec until;
	size_t used = 0;
	long rc;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&ev->mu);
	while (!ev->closed && *cursor >= ev->next_id)
		if (pthread_cond_timedwait(&ev->cv, &ev->mu, &until) == ETIMEDOUT)
			break;
	/* Closed: what is left is still handed out, then the stream ends. */
	if (ev->closed && *cursor >= ev->next_id) {
		pthread_mutex_unlock(&ev->mu);
		return -1;
	}
	if (ev->next_id > AN_EVENTS_RING && *cursor < ev->next_id - AN_EVENTS_RING) {
		uint64_t oldest = ev->next_id - AN_EVENTS_RING;
		int k = snprintf(buf, max, "event: gap\ndata: {\"missed\":%llu}\n\n",
				 (unsigned long long)(oldest - *cursor));

		if (k > 0 && (size_t)k < max)
			used = (size_t)k;
		*cursor = oldest;
	}
	while (*cursor < ev->next_id) {
		const struct an_event *e = &ev->ring[*cursor % AN_EVENTS_RING];
		size_t need = e->len + 64 + strlen(e->type);
		int k;

		if (used + need > max) {
			/* One event bigger than the whole buffer: skip it
			 * rather than stall the stream. */
			if (used == 0)
				(*cursor)++;
			break;
		}
		k = snprintf(buf + used, max - used, "id: %llu\nevent: %s\ndata: %s\n\n",
			     (unsigned long long)e->id, e->type, e->json);
		if (k < 0 || (size_t)k >= max - used)
			break;
		used += (size_t)k;
		(*cursor)++;
	}
	rc = (long)used;
	pthread_mutex_unlock(&ev->mu);
	return rc;
}
