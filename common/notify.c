/* sd_notify from libsystemd when the build has it (ST_HAVE_LIBSYSTEMD). */
#include "notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#if ST_HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

static int send_state(const char *state)
{
#if ST_HAVE_LIBSYSTEMD
	int rc = sd_notify(0, state);

	return rc > 0 ? 1 : rc;
#else
	(void)state;
	return 0;
#endif
}

/* "HEAD\nSTATUS=text" into buf; the status cut to fit. */
static int send_fmt(const char *head, const char *fmt, va_list ap)
{
	char status[200], msg[256];

	vsnprintf(status, sizeof(status), fmt, ap);
	snprintf(msg, sizeof(msg), "%sSTATUS=%s", head, status);
	return send_state(msg);
}

int st_notify_ready(const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = send_fmt("READY=1\n", fmt, ap);
	va_end(ap);
	return rc;
}

int st_notify_status(const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = send_fmt("", fmt, ap);
	va_end(ap);
	return rc;
}

int st_notify_stopping(void)
{
	return send_state("STOPPING=1");
}

bool st_notify_enabled(void)
{
	return ST_HAVE_LIBSYSTEMD && getenv("NOTIFY_SOCKET") != NULL;
}
