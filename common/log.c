#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

static const char *log_prog = "shadowtap";
static enum st_log_level log_level = ST_LOG_NOTICE;

static const char *const level_names[] = {
	[ST_LOG_ERR] = "err",
	[ST_LOG_WARN] = "warn",
	[ST_LOG_NOTICE] = "notice",
	[ST_LOG_INFO] = "info",
	[ST_LOG_DEBUG] = "debug",
};

const char *st_log_prog(void)
{
	return log_prog;
}

void st_log_init(const char *prog, enum st_log_level level)
{
	if (prog != NULL) {
		const char *slash = strrchr(prog, '/');

		log_prog = slash ? slash + 1 : prog;
	}
	st_log_set_level(level);
}

void st_log_set_level(enum st_log_level level)
{
	if (level > ST_LOG_DEBUG)
		level = ST_LOG_DEBUG;
	log_level = level;
}

enum st_log_level st_log_get_level(void)
{
	return log_level;
}

int st_log_level_parse(const char *s, enum st_log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i]) == 0 ||
		    (s[0] == (char)('0' + i) && s[1] == '\0')) {
			*out = (enum st_log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "error") == 0) {
		*out = ST_LOG_ERR;
		return 0;
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = ST_LOG_WARN;
		return 0;
	}
	return -EINVAL;
}

void st_vlog(enum st_log_level level, const char *fmt, va_list ap)
{
	char line[1024];
	char ts[40];
	int n, m;
	int saved_errno = errno;

	if (level > log_level)
		return;
	st_wall_fmt(st_wall_ns(), ts, sizeof(ts));
	n = snprintf(line, sizeof(line), "%s %s %s: ", ts, log_prog,
		     level_names[level]);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	/* A line that did not fit is cut, and still ends the line. */
	if ((size_t)n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line: lines from several threads stay whole. A log
	 * line that cannot be written has nowhere else to go. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		(void)0;
	errno = saved_errno;
}

void st_log(enum st_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	st_vlog(level, fmt, ap);
	va_end(ap);
}

bool st_ratelimit_ok(struct st_ratelimit *rl, uint64_t *suppressed)
{
	uint64_t now = st_mono_ns();

	if (rl->window_start == 0 || now - rl->window_start >= rl->interval_ns) {
		rl->window_start = now;
		rl->printed = 0;
	}
	if (rl->printed < rl->burst) {
		rl->printed++;
		*suppressed = rl->suppressed;
		rl->suppressed = 0;
		return true;
	}
	rl->suppressed++;
	*suppressed = 0;
	return false;
}

void st_log_rl(struct st_ratelimit *rl, enum st_log_level level,
	       const char *fmt, ...)
{
	char msg[896];
	uint64_t suppressed;
	va_list ap;

	if (level > log_level || !st_ratelimit_ok(rl, &suppressed))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (suppressed > 0)
		st_log(level, "%s (%llu similar suppressed)", msg,
		       (unsigned long long)suppressed);
	else
		st_log(level, "%s", msg);
}
