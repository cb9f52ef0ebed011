/* sd_notify from libsystemd when the build has it (ST_HAVE_LIBSYSTEMD),
 * else the protocol itself (one datagram to $NOTIFY_SOCKET): a unit is
 * Type=notify whatever the build, and without READY systemd kills the
 * program at TimeoutStartSec and starts it again, for ever. */
#include "notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#if ST_HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

int st_notify_socket_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	size_t len;
	ssize_t n;
	int fd, rc;

	if (path == NULL || path[0] == '\0')
		return 0;
	len = strlen(path);
	/* a path, or '@' for the abstract namespace */
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path) || len < 2)
		return -EINVAL;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)&sa,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	rc = n < 0 ? -errno : 1;
	close(fd);
	return rc;
}

static int send_state(const char *state)
{
#if ST_HAVE_LIBSYSTEMD
	int rc = sd_notify(0, state);

	return rc > 0 ? 1 : rc;
#else
	return st_notify_socket_send(state);
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
	return getenv("NOTIFY_SOCKET") != NULL;
}
