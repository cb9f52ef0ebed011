/* The operators' HTTP surface: a small server over libmicrohttpd, on
 * threads of its own (one per connection, MHD's), never on a poll loop.
 *
 * A program gives a table of routes ("GET /api/v1/services/{name}") and
 * its handlers; the server does everything else in one place: limits
 * (body size -> 413, header memory, connections in all and per client,
 * per-connection idle timeout), 404 for an unknown path, 405 with Allow
 * for a known path and the wrong method, a bearer token compared in
 * constant time (401), TLS (MHD over GnuTLS), client certificates signed
 * by a given CA (403 without one), and the refusal to listen on anything
 * but loopback without a token or client certificates.
 *
 * Handlers run on MHD's connection threads, several at once: they must
 * only read what their owner publishes for them (a snapshot) and must not
 * take a lock the owner's loop waits on. A handler may answer with a
 * buffer (resp->body) or with a stream (resp->stream: server-sent events),
 * whose callback may block for a bounded time. */
#ifndef ST_HTTP_H
#define ST_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "parse.h"
#include "wire.h"

#define ST_HTTP_ENDPOINT_MAX 128
#define ST_HTTP_PATH_MAX     512
#define ST_HTTP_MAX_PARAMS   4
#define ST_HTTP_PARAM_MAX    128	/* a {name} segment, with NUL */

/* Methods as bits, so a route can take several. HEAD is served by GET
 * routes (MHD sends the headers only). */
enum st_http_method {
	ST_HTTP_GET = 1u << 0,
	ST_HTTP_PUT = 1u << 1,
	ST_HTTP_POST = 1u << 2,
	ST_HTTP_DELETE = 1u << 3,
	ST_HTTP_OTHER = 1u << 4,
};

/* Where and how to listen. Filled by st_http_config_defaults, then by
 * the program's config; every limit of the server is here. */
struct st_http_config {
	char endpoint[ST_HTTP_ENDPOINT_MAX];	/* ADDR:PORT; "" or "none": off */
	char token_file[ST_HTTP_PATH_MAX];	/* bearer token; "" none */
	char tls_cert[ST_HTTP_PATH_MAX];	/* PEM; with tls_key: HTTPS */
	char tls_key[ST_HTTP_PATH_MAX];
	char tls_client_ca[ST_HTTP_PATH_MAX];	/* PEM; clients show a cert it signed */
	size_t max_body;		/* request body, bytes (413 beyond) */
	size_t max_header;		/* MHD's per-connection memory: headers */
	unsigned max_conns;		/* connections at once */
	unsigned max_conns_per_ip;
	unsigned timeout_s;		/* idle connection closed after this, and one
					 * whose request has not arrived whole
					 * within it (http_deadline.h) */
};

/* 64 KiB body, 32 KiB headers, 64 connections, 16 per client, 10 s. */
void st_http_config_defaults(struct st_http_config *c);

/* True when c->endpoint says the server is off. */
bool st_http_config_off(const struct st_http_config *c);

/* Parses ADDR:PORT ("127.0.0.1:9560", "[::1]:9560", "0.0.0.0:9560") or
 * "none". Returns 0 or -EINVAL with err; for config setters. */
int st_http_endpoint_check(const char *s, struct st_perr *err);

/* One request as a handler sees it. Strings live as long as the call. */
struct st_http_req {
	unsigned method;			/* one st_http_method bit */
	const char *path;
	const uint8_t *body;			/* NULL when there is none */
	size_t body_len;
	uint32_t n_params;			/* the route's {name} segments */
	char params[ST_HTTP_MAX_PARAMS][ST_HTTP_PARAM_MAX];
	void *conn;				/* for st_http_header */
};

/* A stream's next bytes, as MHD's content reader: up to max into buf.
 * Returns the count (> 0), or ST_HTTP_STREAM_END. May block, briefly: it
 * runs on the connection's own thread. */
typedef ssize_t (*st_http_stream_fn)(void *arg, char *buf, size_t max);
#define ST_HTTP_STREAM_END ((ssize_t)-1)

struct st_http_resp {
	int status;				/* 200 unless set */
	const char *content_type;		/* "application/json" unless set */
	struct st_wbuf body;			/* the handler appends here */
	st_http_stream_fn stream;		/* or a stream, then body is unused */
	void *stream_arg;
	void (*stream_free)(void *arg);		/* called once the stream ends */
};

typedef void (*st_http_handler)(void *arg, const struct st_http_req *req,
				struct st_http_resp *resp);

/* A route: methods it takes, a pattern of literal segments and {name}
 * segments (each matches one non-empty segment), its handler. public:
 * served without the token (a static page, the liveness probe). */
struct st_http_route {
	unsigned methods;
	const char *pattern;
	st_http_handler fn;
	bool public;
};

/* What st_http_route_match found. */
struct st_http_match {
	const struct st_http_route *route;	/* NULL unless status is 0 */
	unsigned allow;				/* 405: the methods the path takes */
	uint32_t n_params;
	char params[ST_HTTP_MAX_PARAMS][ST_HTTP_PARAM_MAX];
};

/* Matches path (no query) against routes[0..n). Returns 0 (m->route set),
 * 404 (no pattern matches the path) or 405 (some pattern does, none with
 * this method; m->allow lists theirs). Pure, no allocation, O(n * path);
 * a segment longer than ST_HTTP_PARAM_MAX - 1 or a path longer than
 * ST_HTTP_PATH_MAX never matches a {name}. */
int st_http_route_match(const struct st_http_route *routes, size_t n,
			unsigned method, const char *path,
			struct st_http_match *m);

/* The method bit of an HTTP method name (ST_HTTP_OTHER if unknown). */
unsigned st_http_method_bit(const char *name);
/* "GET, PUT" for a mask, into buf. Returns buf. */
const char *st_http_allow_fmt(unsigned mask, char *buf, size_t len);

/* Constant-time equality of two byte strings: the time depends on the
 * lengths only, never on where they first differ. */
bool st_http_token_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Whether a request's Host header names this host's loopback: localhost
 * (or a name under .localhost), 127.0.0.0/8 or [::1], with or without a
 * port; NULL (no Host: HTTP/1.0) too. Without a token or client
 * certificates, the server answers nothing else (421): a web page whose
 * name was made to resolve to 127.0.0.1 (DNS rebinding) would otherwise
 * be same-origin with the loopback API, and its browser could read it and
 * change plans. */
bool st_http_host_loopback(const char *host);

/* Counters, each a sum over all connection threads. */
struct st_http_counters {
	uint64_t connections;		/* accepted */
	uint64_t requests;
	uint64_t status_2xx, status_4xx, status_5xx;
	uint64_t unauthorized;		/* 401 */
	uint64_t forbidden;		/* 403: no client certificate the CA signed */
	uint64_t not_found;		/* 404 */
	uint64_t bad_method;		/* 405 */
	uint64_t too_large;		/* 413 */
	uint64_t streams;		/* streams opened */
	uint64_t late_requests;		/* connections closed: no whole request within timeout_s */
};

struct st_http;

/* Starts listening per cfg (copied) with the routes (borrowed: they must
 * outlive the server) and arg for the handlers. Refuses, with err, a
 * non-loopback address without token_file or tls_client_ca, a token file
 * that is empty or readable by others than its owner, half a TLS pair, a
 * client CA without TLS, and everything MHD refuses. With both a token and
 * a client CA a request needs both. Returns the server, or NULL with errno and err->msg. */
struct st_http *st_http_start(const struct st_http_config *cfg,
			      const struct st_http_route *routes, size_t n_routes,
			      void *arg, struct st_perr *err);

/* What st_http_start refuses before it listens (the endpoint, the token,
 * the TLS files, the non-loopback rule), checked without listening: for a
 * program's --check. 0 when cfg is off or would start (a port in use aside);
 * else a negative errno with err->msg. */
int st_http_check(const struct st_http_config *cfg, struct st_perr *err);

/* Stops accepting, closes every connection and joins MHD's threads. A
 * stream callback still blocked must return within its bounded wait. NULL
 * is a no-op. */
void st_http_stop(struct st_http *h);

/* The port listened on (useful with port 0). */
uint16_t st_http_port(const struct st_http *h);

/* Reads the counters (relaxed atomics; each is exact, the set is not a
 * single instant). Never fails. */
void st_http_get_counters(const struct st_http *h, struct st_http_counters *out);

/* A request header's value, or NULL. For handlers. */
const char *st_http_header(const struct st_http_req *req, const char *name);

/* A query argument's value ("" for "?a", NULL when absent), decoded.
 * For handlers. */
const char *st_http_query(const struct st_http_req *req, const char *name);
/* Calls fn for every query argument, in order (value NULL for "?a").
 * For handlers that refuse arguments they do not know. */
void st_http_query_each(const struct st_http_req *req,
			void (*fn)(void *arg, const char *key, const char *value), void *arg);

/* Sets resp to an error: status and {"error": msg} as JSON. Never fails
 * (an allocation failure leaves an empty body). */
void st_http_error(struct st_http_resp *resp, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
