/* The HTTP server's deadline for a request to arrive whole (http.c).
 * libmicrohttpd's connection timeout is an idle timeout: every byte resets
 * it, so a client that sends a header byte now and then holds a connection
 * (and, with a few, every connection) for as long as it likes. Here each
 * connection waiting for a request has a clock, started when it is
 * accepted and again when a response is done; a reaper thread shuts the
 * socket of one whose request has not arrived whole within the deadline,
 * and libmicrohttpd then closes it as a connection the peer ended. */
#ifndef ST_HTTP_DEADLINE_H
#define ST_HTTP_DEADLINE_H

#include <stdint.h>

struct st_hd;
struct st_hd_conn;

/* A reaper for requests that take longer than deadline_ns. NULL with
 * errno on failure. */
struct st_hd *st_hd_start(uint64_t deadline_ns);
/* Stops the reaper; every connection must have been removed. NULL-safe. */
void st_hd_stop(struct st_hd *d);
/* Connections cut for a late request so far. */
uint64_t st_hd_cut(struct st_hd *d);

/* A connection accepted on fd: its first request is due. NULL when out of
 * memory (the connection then has no deadline but MHD's idle one). */
struct st_hd_conn *st_hd_add(struct st_hd *d, int fd);
/* It is closing (before its socket is): no shutdown after this. */
void st_hd_remove(struct st_hd *d, struct st_hd_conn *c);
/* Its request arrived whole (the handler runs): no deadline while it is
 * answered, however long a stream lasts. NULL-safe. */
void st_hd_served(struct st_hd_conn *c);
/* Its response is done: the next request on it is due. NULL-safe. */
void st_hd_next(struct st_hd_conn *c);

#endif
