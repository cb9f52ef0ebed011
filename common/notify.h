/* Service manager notification (systemd's sd_notify protocol): a program
 * started by a Type=notify unit says when it is ready (ports up, sockets
 * bound), what it is doing, and when it is stopping. Outside systemd
 * ($NOTIFY_SOCKET unset) every call does nothing and returns 0. Built
 * without libsystemd (-Dsystemd=disabled) it speaks the protocol itself. */
#ifndef ST_NOTIFY_H
#define ST_NOTIFY_H

#include <stdbool.h>

/* READY=1 with a STATUS= line. Returns 1 when the manager was told, 0 when
 * there is no manager, or a negative errno (logged once by the caller). */
int st_notify_ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* STATUS= alone (a reload, a stats summary). Same returns. */
int st_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* STOPPING=1. Same returns. */
int st_notify_stopping(void);

/* Whether notifications go anywhere ($NOTIFY_SOCKET set). */
bool st_notify_enabled(void);

/* The protocol without libsystemd: state in one datagram to the unix
 * socket $NOTIFY_SOCKET names (a path, or @name in the abstract
 * namespace). Same returns; -EINVAL for a name it cannot use. */
int st_notify_socket_send(const char *state);

#endif
