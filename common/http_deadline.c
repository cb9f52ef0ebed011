/* The deadline for a request to arrive whole (http_deadline.h). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"
#include "http_deadline.h"

#define REAP_EVERY_MS 250

struct st_hd_conn {
	struct st_hd_conn *prev, *next;
	int fd;
	atomic_uint_fast64_t since;	/* monotonic ns: accepted, or the last response done */
	atomic_bool waiting;		/* for a request to arrive whole */
	bool cut;
};

struct st_hd {
	pthread_mutex_t mu;		/* the list, and each fd while listed */
	pthread_cond_t cv;
	pthread_t th;
	struct st_hd_conn *head;
	uint64_t deadline_ns;
	bool stop;
	atomic_uint_fast64_t cut;
};

static void *reaper(void *arg)
{
	struct st_hd *d = arg;

	pthread_mutex_lock(&d->mu);
	while (!d->stop) {
		struct timespec until;
		uint64_t now = st_mono_ns();

		for (struct st_hd_conn *c = d->head; c != NULL; c = c->next) {
			uint64_t since;

			if (c->cut || !atomic_load(&c->waiting))
				continue;
			since = atomic_load(&c->since);
			if (since >= now || now - since <= d->deadline_ns)
				continue;
			/* Listed, so not closed yet: the fd is still the
			 * connection's (MHD tells the close before it). */
			shutdown(c->fd, SHUT_RDWR);
			c->cut = true;
			atomic_fetch_add(&d->cut, 1);
		}
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += REAP_EVERY_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&d->cv, &d->mu, &until);
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

struct st_hd *st_hd_start(uint64_t deadline_ns)
{
	struct st_hd *d = calloc(1, sizeof(*d));
	pthread_condattr_t ca;
	int rc;

	if (d == NULL)
		return NULL;
	d->deadline_ns = deadline_ns;
	pthread_mutex_init(&d->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cv, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&d->th, NULL, reaper, d);
	if (rc != 0) {
		pthread_cond_destroy(&d->cv);
		pthread_mutex_destroy(&d->mu);
		free(d);
		errno = rc;
		return NULL;
	}
	return d;
}

void st_hd_stop(struct st_hd *d)
{
	if (d == NULL)
		return;
	pthread_mutex_lock(&d->mu);
	d->stop = true;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	pthread_join(d->th, NULL);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

uint64_t st_hd_cut(struct st_hd *d)
{
	return d != NULL ? atomic_load(&d->cut) : 0;
}

struct st_hd_conn *st_hd_add(struct st_hd *d, int fd)
{
	struct st_hd_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->fd = fd;
	atomic_init(&c->since, st_mono_ns());
	atomic_init(&c->waiting, true);
	pthread_mutex_lock(&d->mu);
	c->next = d->head;
	if (d->head != NULL)
		d->head->prev = c;
	d->head = c;
	pthread_mutex_unlock(&d->mu);
	return c;
}

void st_hd_remove(struct st_hd *d, struct st_hd_conn *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&d->mu);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		d->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&d->mu);
	free(c);
}

void st_hd_served(struct st_hd_conn *c)
{
	if (c != NULL)
		atomic_store(&c->waiting, false);
}

void st_hd_next(struct st_hd_conn *c)
{
	if (c == NULL)
		return;
	atomic_store(&c->since, st_mono_ns());
	atomic_store(&c->waiting, true);
}
