/* A small HTTP/1.1 client, for shadowtap-ctl --http: one request per
 * connection (Connection: close), over TCP or over TLS with GnuTLS (the
 * library libmicrohttpd already links for the server side), verified
 * against a CA file or the system's trust store and the URL's host name or
 * address, with a client certificate when the server asks for one. One deadline bounds connect, handshake, send and receive; one
 * cap bounds the response's size. Blocking, single-threaded, for tools:
 * never call it from a poll loop. */
#ifndef ST_HTTP_CLIENT_H
#define ST_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parse.h"
#include "wire.h"

#define ST_URL_HOST_MAX   256	/* with NUL; an IPv6 address without brackets */
#define ST_URL_PREFIX_MAX 256	/* with NUL */
#define ST_HTTP_CLIENT_PATH_MAX 512	/* a request's path, with NUL */

/* http[s]://HOST[:PORT][/PREFIX]. */
struct st_url {
	bool https;
	char host[ST_URL_HOST_MAX];
	uint16_t port;			/* 80 or 443 unless given */
	char prefix[ST_URL_PREFIX_MAX];	/* "" or "/a/b": no trailing '/' */
};

/* Parses s (scheme http or https; HOST a name, an IPv4 address or [IPv6];
 * no user info, query or fragment). Returns 0, or -EINVAL with err. Pure. */
int st_url_parse(const char *s, struct st_url *u, struct st_perr *err);

struct st_httpc_opts {
	const char *token;		/* bearer token; NULL: none */
	const char *ca_file;		/* https: PEM trust anchors; NULL: the system's */
	const char *cert_file;		/* https: PEM client certificate; NULL: none */
	const char *key_file;		/* its private key (with cert_file) */
	uint64_t timeout_ns;		/* the whole exchange */
	size_t max_response;		/* bytes on the wire, headers included */
};

struct st_httpc_resp {
	int status;			/* 100-599 */
	char content_type[128];		/* "" when absent */
	struct st_wbuf body;		/* the caller inits and frees it */
};

/* Parses one complete response (status line, headers, body by
 * Content-Length, chunked transfer coding, or to the end) from buf[0..len)
 * into r (r->body is appended to). Returns 0; -EPROTO with err when the
 * bytes are not such a response or the body is short; -ENOMEM. Pure but for
 * the body's allocation; O(len). */
int st_httpc_parse(const uint8_t *buf, size_t len, struct st_httpc_resp *r,
		   struct st_perr *err);

/* Sends METHOD u->prefix + path (path starts with '/') with an optional
 * body of body_type, and reads the whole response into r. Returns 0 with
 * r filled (any status: a 404 is an answer, not a failure), or a negative
 * errno with err: -ETIMEDOUT past the deadline, -ECONNREFUSED and friends
 * from connect, -EPROTO for a malformed response or a TLS failure (err
 * says which, a certificate that does not verify included), -EMSGSIZE past
 * max_response. Name resolution (getaddrinfo) is not bounded by the
 * deadline. */
int st_httpc_request(const struct st_url *u, const char *method, const char *path,
		     const char *body_type, const void *body, size_t body_len,
		     const struct st_httpc_opts *o, struct st_httpc_resp *r,
		     struct st_perr *err);

/* Reads a bearer token from path: its first line without surrounding
 * blanks, 16-4095 printable ASCII characters, like the servers require.
 * Returns 0 or a negative errno with err. */
int st_httpc_read_token(const char *path, char *out, size_t len, struct st_perr *err);

#endif
