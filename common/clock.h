/* Time. Monotonic time for intervals and timeouts, wall-clock time (ns since
 * the Unix epoch) for everything that goes on the wire. The poll loops use
 * the TSC through DPDK (rte_rdtsc); st_clock_pair ties the two together. */
#ifndef ST_CLOCK_H
#define ST_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define ST_NS_PER_US 1000ULL
#define ST_NS_PER_MS 1000000ULL
#define ST_NS_PER_S  1000000000ULL

/* CLOCK_MONOTONIC in ns. Never fails; a vDSO call, ~20 ns. */
uint64_t st_mono_ns(void);

/* CLOCK_REALTIME in ns since the Unix epoch. Never fails. */
uint64_t st_wall_ns(void);

/* Sleeps until the monotonic deadline (absolute), retrying on EINTR. */
void st_sleep_until_ns(uint64_t mono_deadline);

/* Formats wall time as ISO 8601 UTC with milliseconds
 * ("2026-11-24T12:00:00.123Z"). Returns buf; truncates to len. */
char *st_wall_fmt(uint64_t wall_ns, char *buf, size_t len);

/* A snapshot of wall and monotonic time taken together, to turn monotonic
 * stamps into wall-clock ones: wall = pair.wall + (mono - pair.mono). */
struct st_clock_pair {
	uint64_t wall_ns;
	uint64_t mono_ns;
};
void st_clock_pair_now(struct st_clock_pair *p);
uint64_t st_clock_mono_to_wall(const struct st_clock_pair *p, uint64_t mono_ns);

#endif
