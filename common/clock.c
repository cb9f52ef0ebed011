#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "clock.h"

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	/* Cannot fail for these clock ids on Linux. */
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * ST_NS_PER_S + (uint64_t)ts.tv_nsec;
}

uint64_t st_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t st_wall_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

void st_sleep_until_ns(uint64_t mono_deadline)
{
	struct timespec ts = {
		.tv_sec = (time_t)(mono_deadline / ST_NS_PER_S),
		.tv_nsec = (long)(mono_deadline % ST_NS_PER_S),
	};

	/* Absolute deadline: an interrupted sleep resumes without drift. */
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

char *st_wall_fmt(uint64_t wall_ns, char *buf, size_t len)
{
	time_t sec = (time_t)(wall_ns / ST_NS_PER_S);
	unsigned int ms = (unsigned int)(wall_ns % ST_NS_PER_S / ST_NS_PER_MS);
	struct tm tm;
	char day[32];

	if (len == 0)
		return buf;
	if (gmtime_r(&sec, &tm) == NULL ||
	    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		buf[0] = '\0';
		return buf;
	}
	snprintf(buf, len, "%s.%03uZ", day, ms);
	return buf;
}

void st_clock_pair_now(struct st_clock_pair *p)
{
	/* Take the monotonic reading between two wall readings and use their
	 * midpoint, so a preemption between the calls costs little accuracy. */
	uint64_t w0 = st_wall_ns();

	p->mono_ns = st_mono_ns();
	p->wall_ns = w0 + (st_wall_ns() - w0) / 2;
}

uint64_t st_clock_mono_to_wall(const struct st_clock_pair *p, uint64_t mono_ns)
{
	if (mono_ns >= p->mono_ns)
		return p->wall_ns + (mono_ns - p->mono_ns);
	return p->wall_ns - (p->mono_ns - mono_ns);
}
