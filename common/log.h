/* Logging with levels, to stderr.
 *
 * Log once, where an error is handled, with the function name and
 * strerror(). Code near the fast path uses the rate-limited form so a flood
 * of bad input cannot turn into a flood of writes. Poll loops never log:
 * they count, and the main lcore prints the counters. */
#ifndef ST_LOG_H
#define ST_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

enum st_log_level {
	ST_LOG_ERR = 0,
	ST_LOG_WARN,
	ST_LOG_NOTICE,
	ST_LOG_INFO,
	ST_LOG_DEBUG,
};

/* Sets the program name shown in each line and the threshold. Never fails. */
void st_log_init(const char *prog, enum st_log_level level);
void st_log_set_level(enum st_log_level level);
/* The program name st_log_init was given, without its directory (what
 * --help shows: a man page made from it names no build path). */
const char *st_log_prog(void);
enum st_log_level st_log_get_level(void);

/* Parses "err|warn|notice|info|debug" (or 0-4). Returns 0, or -EINVAL. */
int st_log_level_parse(const char *s, enum st_log_level *out);

/* Writes one line "TIME PROG LEVEL: message" if level passes the threshold.
 * One write(2) per line, so lines from threads do not interleave. */
void st_log(enum st_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void st_vlog(enum st_log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#define ST_ERR(fmt, ...)    st_log(ST_LOG_ERR, "%s: " fmt, __func__, ##__VA_ARGS__)
#define ST_WARN(fmt, ...)   st_log(ST_LOG_WARN, "%s: " fmt, __func__, ##__VA_ARGS__)
#define ST_NOTICE(fmt, ...) st_log(ST_LOG_NOTICE, fmt, ##__VA_ARGS__)
#define ST_INFO(fmt, ...)   st_log(ST_LOG_INFO, fmt, ##__VA_ARGS__)
#define ST_DEBUG(fmt, ...)  st_log(ST_LOG_DEBUG, "%s: " fmt, __func__, ##__VA_ARGS__)

/* A token bucket for messages: at most `burst` lines per `interval_ns`; the
 * lines it holds back are counted and reported with the next one let through.
 * Not thread-safe: one per thread or per call site on one thread. */
struct st_ratelimit {
	uint64_t interval_ns;
	uint32_t burst;
	uint32_t printed;
	uint64_t window_start;
	uint64_t suppressed;
};

#define ST_RATELIMIT_INIT(interval_ns_, burst_) \
	{ .interval_ns = (interval_ns_), .burst = (burst_) }

/* Returns true when a line may be printed now; sets *suppressed to the lines
 * held back since the last one let through. Costs one clock read. */
bool st_ratelimit_ok(struct st_ratelimit *rl, uint64_t *suppressed);

/* st_log through a rate limit; appends "(N similar suppressed)". */
void st_log_rl(struct st_ratelimit *rl, enum st_log_level level,
	       const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
