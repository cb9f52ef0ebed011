/* The HTTP server over libmicrohttpd: limits, authentication, TLS and
 * dispatch in one place (see http.h). MHD runs a listening thread and one
 * thread per connection; nothing here touches the caller's loop. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

#include "http.h"
#include "regfile.h"
#include "http_deadline.h"
#include "log.h"

#define TOKEN_MAX 4096		/* bytes of a token file */
#define PEM_MAX (1u << 20)	/* bytes of a certificate or key file */
/* A body past the limit is read and thrown away up to this many times the
 * limit, so the 413 reaches a client that does not wait for it; a client
 * that sends more loses the connection. */
#define DISCARD_FACTOR 16
#define STREAM_BLOCK 4096

struct st_http {
	struct MHD_Daemon *mhd;
	struct st_http_config cfg;
	const struct st_http_route *routes;
	size_t n_routes;
	void *arg;
	char *token;		/* NULL: no token required */
	size_t token_len;
	char *tls_cert, *tls_key;
	char *client_ca;	/* NULL: no client certificate required */
	uint16_t port;
	struct st_hd *hd;	/* the deadline for a request to arrive whole */
	atomic_uint_fast64_t c_conns, c_requests, c_2xx, c_4xx, c_5xx;
	atomic_uint_fast64_t c_401, c_403, c_404, c_405, c_413, c_streams;
};

/* One request's state across MHD's calls of the access handler. */
struct req_state {
	struct st_http_match match;
	int early;		/* a status decided before the body, or 0 */
	struct st_wbuf body;
	size_t discarded;
	bool too_large;
};

void st_http_config_defaults(struct st_http_config *c)
{
	memset(c, 0, sizeof(*c));
	c->max_body = 64 * 1024;
	c->max_header = 32 * 1024;
	c->max_conns = 64;
	c->max_conns_per_ip = 16;
	c->timeout_s = 10;
}

bool st_http_config_off(const struct st_http_config *c)
{
	return c->endpoint[0] == '\0' || strcmp(c->endpoint, "none") == 0;
}

static int endpoint_parse(const char *s, struct sockaddr_storage *ss, socklen_t *sl,
			  bool *loopback, struct st_perr *err)
{
	char buf[ST_HTTP_ENDPOINT_MAX];
	size_t n = strnlen(s, sizeof(buf));
	bool any_port = false;
	struct st_addr a;
	uint16_t port;
	int rc;

	/* Port 0 (the kernel picks one, st_http_port says which) is for
	 * tests; the config parser takes ports 1..65535 only. */
	snprintf(buf, sizeof(buf), "%s", s);
	if (n >= 2 && n < sizeof(buf) && strcmp(buf + n - 2, ":0") == 0) {
		buf[n - 1] = '1';
		any_port = true;
	}
	rc = st_parse_endpoint(buf, &a, &port, err);
	if (rc != 0)
		return rc;
	if (any_port)
		port = 0;
	else if (port == 0) {
		snprintf(err->msg, sizeof(err->msg), "'%.60s': expected ADDR:PORT", s);
		return -EINVAL;
	}
	if (strchr(s, ':') == NULL || (a.family == AF_INET6 && s[0] != '[')) {
		snprintf(err->msg, sizeof(err->msg), "'%.60s': expected ADDR:PORT ([ADDR]:PORT for IPv6)", s);
		return -EINVAL;
	}
	memset(ss, 0, sizeof(*ss));
	if (a.family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		in->sin_addr.s_addr = a.v4;
		*sl = sizeof(*in);
		*loopback = (ntohl(a.v4) >> 24) == 127;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		memcpy(&in6->sin6_addr, a.v6, 16);
		*sl = sizeof(*in6);
		*loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	return 0;
}

int st_http_endpoint_check(const char *s, struct st_perr *err)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	bool lo;

	if (s[0] == '\0' || strcmp(s, "none") == 0)
		return 0;
	return endpoint_parse(s, &ss, &sl, &lo, err);
}

/* Reads a whole small file. Returns a NUL-terminated copy or NULL with err.
 * secret: refuse a file others than its owner can read (its group may, in
 * the service's credentials directory: st_in_credentials). */
static char *read_small(const char *what, const char *path, size_t max, bool secret,
			size_t *len, struct st_perr *err)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err->msg, sizeof(err->msg), "%s %.100s: %s", what, path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (size_t)st.st_size > max) {
		snprintf(err->msg, sizeof(err->msg), "%s %.100s: not a regular file of 1..%zu bytes",
			 what, path, max);
		goto out;
	}
	if (secret && (st.st_mode & (st_in_credentials(path) ? 007 : 077)) != 0) {
		snprintf(err->msg, sizeof(err->msg),
			 "%s %.100s: readable by group or others (chmod 600 it)", what, path);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		snprintf(err->msg, sizeof(err->msg), "%s: out of memory", what);
		goto out;
	}
	n = read(fd, buf, (size_t)st.st_size);
	if (n != st.st_size) {
		snprintf(err->msg, sizeof(err->msg), "%s %.100s: short read", what, path);
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[n] = '\0';
	*len = (size_t)n;
out:
	close(fd);
	return buf;
}

static void count_status(struct st_http *h, int status)
{
	if (status >= 200 && status < 300)
		atomic_fetch_add_explicit(&h->c_2xx, 1, memory_order_relaxed);
	else if (status >= 400 && status < 500)
		atomic_fetch_add_explicit(&h->c_4xx, 1, memory_order_relaxed);
	else if (status >= 500)
		atomic_fetch_add_explicit(&h->c_5xx, 1, memory_order_relaxed);
	if (status == 401)
		atomic_fetch_add_explicit(&h->c_401, 1, memory_order_relaxed);
	else if (status == 403)
		atomic_fetch_add_explicit(&h->c_403, 1, memory_order_relaxed);
	else if (status == 404)
		atomic_fetch_add_explicit(&h->c_404, 1, memory_order_relaxed);
	else if (status == 405)
		atomic_fetch_add_explicit(&h->c_405, 1, memory_order_relaxed);
	else if (status == 413)
		atomic_fetch_add_explicit(&h->c_413, 1, memory_order_relaxed);
}

void st_http_error(struct st_http_resp *resp, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	resp->status = status;
	resp->content_type = "application/json";
	st_wbuf_reset(&resp->body);
	st_wbuf_append(&resp->body, "{\"error\":", 9);
	st_wire_json_str(&resp->body, msg, strlen(msg));
	st_wbuf_append(&resp->body, "}\n", 2);
}

const char *st_http_header(const struct st_http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *st_http_query(const struct st_http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct query_walk {
	void (*fn)(void *arg, const char *key, const char *value);
	void *arg;
};

static enum MHD_Result query_one(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	struct query_walk *w = cls;

	(void)kind;
	w->fn(w->arg, key, value);
	return MHD_YES;
}

void st_http_query_each(const struct st_http_req *req,
			void (*fn)(void *arg, const char *key, const char *value), void *arg)
{
	struct query_walk w = { fn, arg };

	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_one, &w);
}

struct stream {
	st_http_stream_fn fn;
	void *arg;
	void (*free_fn)(void *arg);
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;

	(void)pos;
	return s->fn(s->arg, buf, max);
}

static void stream_free(void *cls)
{
	struct stream *s = cls;

	if (s->free_fn != NULL)
		s->free_fn(s->arg);
	free(s);
}

/* Hands resp to MHD. Returns MHD's verdict on the connection. */
static enum MHD_Result send_resp(struct st_http *h, struct MHD_Connection *conn,
				 struct st_http_resp *resp, unsigned allow)
{
	struct MHD_Response *r;
	enum MHD_Result ok;
	char allow_text[64];

	if (resp->body.oom)
		st_http_error(resp, 500, "out of memory");
	if (resp->stream != NULL) {
		struct stream *s = malloc(sizeof(*s));

		if (s == NULL) {
			if (resp->stream_free)
				resp->stream_free(resp->stream_arg);
			return MHD_NO;
		}
		*s = (struct stream){ resp->stream, resp->stream_arg, resp->stream_free };
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK,
						      stream_read, s, stream_free);
		if (r == NULL) {
			stream_free(s);
			return MHD_NO;
		}
		atomic_fetch_add_explicit(&h->c_streams, 1, memory_order_relaxed);
	} else {
		r = MHD_create_response_from_buffer(resp->body.len, resp->body.data,
						    MHD_RESPMEM_MUST_COPY);
		if (r == NULL)
			return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type",
				resp->content_type ? resp->content_type : "application/json");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (resp->status == 405)
		MHD_add_response_header(r, "Allow", st_http_allow_fmt(allow, allow_text,
								      sizeof(allow_text)));
	if (resp->status == 401)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"shadowtap\"");
	count_status(h, resp->status);
	ok = MHD_queue_response(conn, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result send_error(struct st_http *h, struct MHD_Connection *conn,
				  int status, unsigned allow, const char *msg)
{
	struct st_http_resp resp = { 0 };
	enum MHD_Result ok;

	st_wbuf_init(&resp.body);
	st_http_error(&resp, status, "%s", msg);
	ok = send_resp(h, conn, &resp, allow);
	st_wbuf_free(&resp.body);
	return ok;
}

static bool token_ok(const struct st_http *h, struct MHD_Connection *conn)
{
	const char *v;
	size_t n;

	if (h->token == NULL)
		return true;
	v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	if (v == NULL || strncasecmp(v, "Bearer ", 7) != 0)
		return false;
	v += 7;
	n = strnlen(v, TOKEN_MAX + 1);
	return st_http_token_equal(v, n, h->token, h->token_len);
}

/* MHD asks for a client certificate when it has a trust list but lets the
 * handshake through without one (GNUTLS_CERT_REQUEST): the check is here,
 * against the same list, for a certificate meant for TLS clients. Once per
 * request: a chain of one or two signatures, small beside the handshake. */
static bool client_cert_ok(const struct st_http *h, struct MHD_Connection *conn)
{
	gnutls_typed_vdata_st purpose = {
		.type = GNUTLS_DT_KEY_PURPOSE_OID,
		.data = (unsigned char *)(uintptr_t)GNUTLS_KP_TLS_WWW_CLIENT,
	};
	const union MHD_ConnectionInfo *ci;
	unsigned status = 0;

	if (h->client_ca == NULL)
		return true;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL ||
	    gnutls_certificate_type_get(ci->tls_session) != GNUTLS_CRT_X509)
		return false;
	/* No certificate at all is an error (GNUTLS_E_NO_CERTIFICATE_FOUND). */
	if (gnutls_certificate_verify_peers(ci->tls_session, &purpose, 1, &status) < 0)
		return false;
	return status == 0;
}

bool st_http_host_loopback(const char *host)
{
	char name[256];
	const char *end;
	size_t len;
	struct in_addr a4;
	struct in6_addr a6;

	if (host == NULL)
		return true;
	if (host[0] == '[') {
		end = strchr(host, ']');
		if (end == NULL || (end[1] != '\0' && end[1] != ':'))
			return false;
		len = (size_t)(end - host - 1);
		if (len >= sizeof(name))
			return false;
		memcpy(name, host + 1, len);
		name[len] = '\0';
		return inet_pton(AF_INET6, name, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
	}
	end = strchr(host, ':');
	len = end != NULL ? (size_t)(end - host) : strlen(host);
	if (len == 0 || len >= sizeof(name) || (end != NULL && strchr(end + 1, ':') != NULL))
		return false;
	memcpy(name, host, len);
	name[len] = '\0';
	if (len > 0 && name[len - 1] == '.')	/* the root's dot */
		name[--len] = '\0';
	if (inet_pton(AF_INET, name, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	/* RFC 6761: localhost and every name under it are loopback */
	return strcasecmp(name, "localhost") == 0 ||
	       (len > 10 && strcasecmp(name + len - 10, ".localhost") == 0);
}

/* 0, or the refusal: 403 without a client certificate the CA signed
 * (checked first: no token is worth reading from an unknown client), 401
 * without the token. */
static int authenticate(const struct st_http *h, struct MHD_Connection *conn)
{
	if (!client_cert_ok(h, conn))
		return 403;
	return token_ok(h, conn) ? 0 : 401;
}

/* The first call for a request: route, authenticate, refuse a body that
 * says it is too large. Returns the status to answer now, or 0. */
static int admit(struct st_http *h, struct MHD_Connection *conn, const char *url,
		 unsigned method, struct req_state *st)
{
	const char *cl;
	int rc = st_http_route_match(h->routes, h->n_routes, method, url, &st->match);
	bool public = rc == 0 && st->match.route->public;
	int auth = public ? 0 : authenticate(h, conn);

	/* No token and no client certificates: loopback only, by name too
	 * (st_http_host_loopback). */
	if (h->token == NULL && h->client_ca == NULL &&
	    !st_http_host_loopback(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host")))
		return 421;

	/* Unauthenticated, nothing is said about which paths exist. */
	if (auth != 0)
		return auth;
	if (rc != 0)
		return rc;
	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
	if (cl != NULL && strtoull(cl, NULL, 10) > h->cfg.max_body)
		return 413;
	return 0;
}

/* The connection's deadline clock (on_connection), or NULL. */
static struct st_hd_conn *conn_clock(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci != NULL ? ci->socket_context : NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload, size_t *upload_size, void **req_cls)
{
	struct st_http *h = cls;
	struct req_state *st = *req_cls;
	struct st_http_resp resp;
	struct st_http_req req;
	enum MHD_Result ok;

	(void)version;
	if (st == NULL) {
		st = calloc(1, sizeof(*st));
		if (st == NULL)
			return MHD_NO;
		st_wbuf_init(&st->body);
		*req_cls = st;
		atomic_fetch_add_explicit(&h->c_requests, 1, memory_order_relaxed);
		st->early = admit(h, conn, url, st_http_method_bit(method), st);
		if (st->early == 0)
			return MHD_YES;
		st_hd_served(conn_clock(conn));
		return send_error(h, conn, st->early, st->match.allow,
				  st->early == 401 ? "missing or wrong bearer token" :
				  st->early == 403 ? "no client certificate signed by http_tls_client_ca" :
				  st->early == 421 ? "the Host header names no loopback address: without "
						     "a token this server answers only requests for "
						     "localhost, 127.0.0.0/8 or [::1]" :
				  st->early == 404 ? "no such path" :
				  st->early == 405 ? "method not allowed on this path" :
				  "request body too large");
	}
	if (*upload_size != 0) {
		size_t n = *upload_size;

		*upload_size = 0;
		if (!st->too_large && st->body.len + n <= h->cfg.max_body) {
			st_wbuf_append(&st->body, upload, n);
			return MHD_YES;
		}
		st->too_large = true;
		st->discarded += n;
		return st->discarded > DISCARD_FACTOR * h->cfg.max_body ? MHD_NO : MHD_YES;
	}
	/* the request is whole: answered, whatever it takes (a stream) */
	st_hd_served(conn_clock(conn));
	if (st->too_large)
		return send_error(h, conn, 413, 0, "request body too large");
	/* a body cut short by a failed allocation must not reach a handler */
	if (st->body.oom)
		return send_error(h, conn, 500, 0, "out of memory");
	memset(&req, 0, sizeof(req));
	req.method = st_http_method_bit(method);
	req.path = url;
	req.body = st->body.len ? st->body.data : NULL;
	req.body_len = st->body.len;
	req.n_params = st->match.n_params;
	memcpy(req.params, st->match.params, sizeof(req.params));
	req.conn = conn;
	memset(&resp, 0, sizeof(resp));
	resp.status = 200;
	st_wbuf_init(&resp.body);
	st->match.route->fn(h->arg, &req, &resp);
	ok = send_resp(h, conn, &resp, 0);
	st_wbuf_free(&resp.body);
	return ok;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct req_state *st = *req_cls;

	(void)cls;
	(void)toe;
	/* the next request on this connection is due from now */
	st_hd_next(conn_clock(conn));
	if (st == NULL)
		return;
	st_wbuf_free(&st->body);
	free(st);
	*req_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct st_http *h = cls;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		atomic_fetch_add_explicit(&h->c_conns, 1, memory_order_relaxed);
		*socket_ctx = ci != NULL ? st_hd_add(h->hd, ci->connect_fd) : NULL;
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		st_hd_remove(h->hd, *socket_ctx);
		*socket_ctx = NULL;
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	st_log(ST_LOG_INFO, "http: %s", line);
}

static void destroy(struct st_http *h)
{
	st_hd_stop(h->hd);
	if (h->token != NULL) {
		/* The secret does not outlive the server in freed memory. */
		explicit_bzero(h->token, h->token_len);
		free(h->token);
	}
	if (h->tls_key != NULL) {
		explicit_bzero(h->tls_key, strlen(h->tls_key));
		free(h->tls_key);
	}
	free(h->tls_cert);
	free(h->client_ca);
	free(h);
}

/* Loads the token, the TLS pair and the client CA, and refuses what must
 * not start. TLS alone does not say who the client is: a non-loopback bind
 * needs a token or client certificates. */
static int load_secrets(struct st_http *h, bool loopback, struct st_perr *err)
{
	const struct st_http_config *c = &h->cfg;
	size_t len;

	if (c->token_file[0] != '\0') {
		h->token = read_small("http_token_file", c->token_file, TOKEN_MAX, true,
				      &h->token_len, err);
		if (h->token == NULL)
			return -EINVAL;
		while (h->token_len > 0 && strchr(" \t\r\n", h->token[h->token_len - 1]))
			h->token[--h->token_len] = '\0';
		if (h->token_len < 16 || strpbrk(h->token, " \t\r\n") != NULL) {
			snprintf(err->msg, sizeof(err->msg),
				 "http_token_file %.100s: the token must be one word of at least 16 characters",
				 c->token_file);
			return -EINVAL;
		}
	}
	if ((c->tls_cert[0] != '\0') != (c->tls_key[0] != '\0')) {
		snprintf(err->msg, sizeof(err->msg), "http_tls_cert and http_tls_key go together");
		return -EINVAL;
	}
	if (c->tls_client_ca[0] != '\0' && c->tls_cert[0] == '\0') {
		snprintf(err->msg, sizeof(err->msg),
			 "http_tls_client_ca needs http_tls_cert and http_tls_key (client certificates are TLS)");
		return -EINVAL;
	}
	if (!loopback && h->token == NULL && c->tls_client_ca[0] == '\0') {
		snprintf(err->msg, sizeof(err->msg),
			 "http_endpoint %.40s is not loopback: set http_token_file (a bearer "
			 "token) or http_tls_client_ca (client certificates, over http_tls_cert)",
			 c->endpoint);
		return -EPERM;
	}
	if (c->tls_cert[0] == '\0')
		return 0;
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		snprintf(err->msg, sizeof(err->msg), "http_tls_cert: this libmicrohttpd has no TLS");
		return -ENOTSUP;
	}
	h->tls_cert = read_small("http_tls_cert", c->tls_cert, PEM_MAX, false, &len, err);
	if (h->tls_cert == NULL)
		return -EINVAL;
	h->tls_key = read_small("http_tls_key", c->tls_key, PEM_MAX, true, &len, err);
	if (h->tls_key == NULL)
		return -EINVAL;
	if (c->tls_client_ca[0] == '\0')
		return 0;
	h->client_ca = read_small("http_tls_client_ca", c->tls_client_ca, PEM_MAX, false, &len, err);
	return h->client_ca == NULL ? -EINVAL : 0;
}

/* A server's state with cfg's endpoint parsed and its secrets loaded (what
 * start refuses before it listens). NULL with errno and err->msg. */
static struct st_http *prepare(const struct st_http_config *cfg, struct sockaddr_storage *ss,
			       struct st_perr *err)
{
	struct st_http *h = calloc(1, sizeof(*h));
	socklen_t sl;
	bool loopback;
	int rc;

	if (h == NULL) {
		snprintf(err->msg, sizeof(err->msg), "http: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	h->cfg = *cfg;
	rc = endpoint_parse(cfg->endpoint, ss, &sl, &loopback, err);
	if (rc == 0)
		rc = load_secrets(h, loopback, err);
	if (rc != 0) {
		destroy(h);
		errno = -rc;
		return NULL;
	}
	return h;
}

struct st_http *st_http_start(const struct st_http_config *cfg,
			      const struct st_http_route *routes, size_t n_routes,
			      void *arg, struct st_perr *err)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_ERROR_LOG | MHD_USE_POLL;
	struct st_http *h;
	int rc;

	h = prepare(cfg, &ss, err);
	if (h == NULL)
		return NULL;
	h->routes = routes;
	h->n_routes = n_routes;
	h->arg = arg;
	h->hd = st_hd_start((uint64_t)cfg->timeout_s * 1000000000ULL);
	if (h->hd == NULL) {
		rc = errno ? errno : ENOMEM;
		snprintf(err->msg, sizeof(err->msg), "http: cannot start: %s", strerror(rc));
		destroy(h);
		errno = rc;
		return NULL;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (h->tls_cert != NULL)
		flags |= MHD_USE_TLS;
	/* Every limit of the server, here and nowhere else. */
	h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_CONNECTION_LIMIT, cfg->max_conns,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_conns_per_ip,
		MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->max_header,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
		h->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, h->tls_cert,
		MHD_OPTION_HTTPS_MEM_KEY, h->tls_key,
		/* A trust list makes MHD ask clients for a certificate. */
		h->client_ca ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, h->client_ca,
		MHD_OPTION_END);
	if (h->mhd == NULL) {
		snprintf(err->msg, sizeof(err->msg),
			 "http_endpoint %.60s: cannot listen (address in use, or TLS files refused)",
			 cfg->endpoint);
		destroy(h);
		errno = EADDRINUSE;
		return NULL;
	}
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info != NULL ? info->port : 0;
	return h;
}

int st_http_check(const struct st_http_config *cfg, struct st_perr *err)
{
	struct sockaddr_storage ss;
	struct st_http *h;

	if (st_http_config_off(cfg))
		return 0;
	h = prepare(cfg, &ss, err);
	if (h == NULL)
		return -errno;
	destroy(h);
	return 0;
}

void st_http_stop(struct st_http *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->mhd);
	destroy(h);
}

uint16_t st_http_port(const struct st_http *h)
{
	return h->port;
}

void st_http_get_counters(const struct st_http *h, struct st_http_counters *o)
{
	/* The atomics are read-only here, but atomic_load wants non-const. */
	struct st_http *m = (struct st_http *)(uintptr_t)h;

	if (m == NULL) {	/* a request served before its owner kept h */
		memset(o, 0, sizeof(*o));
		return;
	}
	o->connections = atomic_load_explicit(&m->c_conns, memory_order_relaxed);
	o->requests = atomic_load_explicit(&m->c_requests, memory_order_relaxed);
	o->status_2xx = atomic_load_explicit(&m->c_2xx, memory_order_relaxed);
	o->status_4xx = atomic_load_explicit(&m->c_4xx, memory_order_relaxed);
	o->status_5xx = atomic_load_explicit(&m->c_5xx, memory_order_relaxed);
	o->unauthorized = atomic_load_explicit(&m->c_401, memory_order_relaxed);
	o->forbidden = atomic_load_explicit(&m->c_403, memory_order_relaxed);
	o->not_found = atomic_load_explicit(&m->c_404, memory_order_relaxed);
	o->bad_method = atomic_load_explicit(&m->c_405, memory_order_relaxed);
	o->too_large = atomic_load_explicit(&m->c_413, memory_order_relaxed);
	o->streams = atomic_load_explicit(&m->c_streams, memory_order_relaxed);
	o->late_requests = st_hd_cut(m->hd);
}
