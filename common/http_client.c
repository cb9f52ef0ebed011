/* A small HTTP/1.1 client over TCP or GnuTLS (http_client.h). Non-blocking
 * sockets and poll() against one monotonic deadline, so a server that
 * accepts and then says nothing cannot hold the caller past its timeout. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "clock.h"
#include "http_client.h"

#define HDR_MAX 16384		/* status line and headers */
#define RECV_CHUNK 16384

static int perr(struct st_perr *err, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int perr(struct st_perr *err, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return rc;
}

/* ------------------------------------------------------------------ */
/* URL                                                                */

int st_url_parse(const char *s, struct st_url *u, struct st_perr *err)
{
	const char *p, *host, *hend, *end;
	size_t hl;

	memset(u, 0, sizeof(*u));
	if (strncasecmp(s, "http://", 7) == 0) {
		p = s + 7;
		u->port = 80;
	} else if (strncasecmp(s, "https://", 8) == 0) {
		p = s + 8;
		u->https = true;
		u->port = 443;
	} else {
		return perr(err, -EINVAL, "'%.80s': the URL must start with http:// or https://", s);
	}
	end = p + strcspn(p, "/");
	if (memchr(p, '@', (size_t)(end - p)) != NULL)
		return perr(err, -EINVAL, "'%.80s': user info in a URL is not supported", s);
	if (*p == '[') {
		host = p + 1;
		hend = memchr(host, ']', (size_t)(end - host));
		if (hend == NULL)
			return perr(err, -EINVAL, "'%.80s': '[' without ']'", s);
		p = hend + 1;
	} else {
		host = p;
		hend = p + strcspn(p, ":/");
		p = hend;
	}
	hl = (size_t)(hend - host);
	if (hl == 0 || hl >= sizeof(u->host))
		return perr(err, -EINVAL, "'%.80s': no host, or a host too long", s);
	for (size_t i = 0; i < hl; i++)
		if (!isalnum((unsigned char)host[i]) && !strchr("-._:", host[i]))
			return perr(err, -EINVAL, "'%.80s': bad character in the host", s);
	memcpy(u->host, host, hl);
	u->host[hl] = '\0';
	if (*p == ':') {
		char num[8];
		size_t nl = (size_t)(end - p - 1);
		uint64_t port;

		if (nl == 0 || nl >= sizeof(num))
			return perr(err, -EINVAL, "'%.80s': bad port", s);
		memcpy(num, p + 1, nl);
		num[nl] = '\0';
		if (strspn(num, "0123456789") != nl || st_parse_uint(num, 1, 65535, &port, err))
			return perr(err, -EINVAL, "'%.80s': the port must be 1-65535", s);
		u->port = (uint16_t)port;
	} else if (p != end) {
		return perr(err, -EINVAL, "'%.80s': junk after the host", s);
	}
	/* What remains is a path prefix (a proxy's); no query or fragment. */
	hl = strlen(end);
	while (hl > 0 && end[hl - 1] == '/')
		hl--;
	if (hl >= sizeof(u->prefix))
		return perr(err, -EINVAL, "'%.80s': the path is too long", s);
	for (size_t i = 0; i < hl; i++)
		if ((unsigned char)end[i] <= ' ' || end[i] == '?' || end[i] == '#' ||
		    (unsigned char)end[i] >= 0x7f)
			return perr(err, -EINVAL, "'%.80s': no query, fragment or blanks in the URL", s);
	memcpy(u->prefix, end, hl);
	u->prefix[hl] = '\0';
	return 0;
}

/* ------------------------------------------------------------------ */
/* Response                                                           */

static const uint8_t *find_crlf(const uint8_t *p, const uint8_t *end)
{
	for (; p + 1 < end; p++)
		if (p[0] == '\r' && p[1] == '\n')
			return p;
	return NULL;
}

/* The end of the headers ("\r\n\r\n"), or NULL. */
static const uint8_t *headers_end(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i + 3 < len; i++)
		if (memcmp(buf + i, "\r\n\r\n", 4) == 0)
			return buf + i;
	return NULL;
}

static int dechunk(const uint8_t *p, const uint8_t *end, struct st_wbuf *out,
		   struct st_perr *err)
{
	for (;;) {
		const uint8_t *eol = find_crlf(p, end);
		uint64_t n = 0;
		const uint8_t *q;

		if (eol == NULL)
			return perr(err, -EPROTO, "chunked body: a chunk size line is cut short");
		for (q = p; q < eol && isxdigit(*q); q++) {
			if (n > (UINT64_MAX >> 4))
				return perr(err, -EPROTO, "chunked body: a chunk size overflows");
			n = n * 16 + (uint64_t)(isdigit(*q) ? *q - '0' : (tolower(*q) - 'a' + 10));
		}
		if (q == p || (q < eol && *q != ';' && *q != ' ' && *q != '\t'))
			return perr(err, -EPROTO, "chunked body: bad chunk size");
		p = eol + 2;
		if (n == 0)
			return 0;	/* trailers, if any, are not needed */
		/* (n + 2 would wrap for a size near 2^64) */
		if ((uint64_t)(end - p) < 2 || (uint64_t)(end - p) - 2 < n ||
		    memcmp(p + n, "\r\n", 2) != 0)
			return perr(err, -EPROTO, "chunked body: a chunk is cut short");
		if (st_wbuf_append(out, p, (size_t)n) != 0)
			return -ENOMEM;
		p += n + 2;
	}
}

int st_httpc_parse(const uint8_t *buf, size_t len, struct st_httpc_resp *r,
		   struct st_perr *err)
{
	const uint8_t *end = buf + len, *hend = headers_end(buf, len), *p, *eol;
	bool chunked = false, have_cl = false;
	uint64_t cl = 0;

	r->status = 0;
	r->content_type[0] = '\0';
	if (hend == NULL)
		return perr(err, -EPROTO, "the response ends before its headers do");
	if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || !isdigit(buf[7]) || buf[8] != ' ' ||
	    !isdigit(buf[9]) || !isdigit(buf[10]) || !isdigit(buf[11]) ||
	    (len > 12 && buf[12] != ' ' && buf[12] != '\r'))
		return perr(err, -EPROTO, "not an HTTP/1.x status line");
	r->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	if (r->status < 100 || r->status > 599)
		return perr(err, -EPROTO, "status %d is out of range", r->status);
	p = find_crlf(buf, hend + 2) + 2;
	while (p < hend + 2) {
		const uint8_t *colon, *v, *ve;
		size_t nl;

		eol = find_crlf(p, hend + 2);
		colon = memchr(p, ':', (size_t)(eol - p));
		if (colon == NULL || colon == p)
			return perr(err, -EPROTO, "a header line without a name and ':'");
		nl = (size_t)(colon - p);
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
			;
		if (nl == 14 && strncasecmp((const char *)p, "content-length", nl) == 0) {
			char num[24];

			if (ve - v == 0 || (size_t)(ve - v) >= sizeof(num))
				return perr(err, -EPROTO, "bad Content-Length");
			memcpy(num, v, (size_t)(ve - v));
			num[ve - v] = '\0';
			if (strspn(num, "0123456789") != strlen(num) ||
			    st_parse_uint(num, 0, UINT64_MAX, &cl, err))
				return perr(err, -EPROTO, "bad Content-Length");
			have_cl = true;
		} else if (nl == 17 && strncasecmp((const char *)p, "transfer-encoding", nl) == 0) {
			chunked = (size_t)(ve - v) >= 7 &&
				  strncasecmp((const char *)ve - 7, "chunked", 7) == 0;
		} else if (nl == 12 && strncasecmp((const char *)p, "content-type", nl) == 0) {
			snprintf(r->content_type, sizeof(r->content_type), "%.*s", (int)(ve - v),
				 (const char *)v);
		}
		p = eol + 2;
	}
	p = hend + 4;
	if (chunked)
		return dechunk(p, end, &r->body, err);
	if (have_cl) {
		if ((uint64_t)(end - p) < cl)
			return perr(err, -EPROTO, "the body is cut short (%zu of %llu bytes)",
				    (size_t)(end - p), (unsigned long long)cl);
		return st_wbuf_append(&r->body, p, (size_t)cl);
	}
	return st_wbuf_append(&r->body, p, (size_t)(end - p));
}

/* ------------------------------------------------------------------ */
/* Transport                                                          */

struct conn {
	int fd;
	gnutls_session_t tls;
	gnutls_certificate_credentials_t cred;
	uint64_t deadline;
};

/* Waits until fd is ready for events or the deadline. 0, or -ETIMEDOUT. */
static int wait_fd(const struct conn *c, short events)
{
	for (;;) {
		uint64_t now = st_mono_ns();
		struct pollfd pf = { .fd = c->fd, .events = events };
		int rc;

		if (now >= c->deadline)
			return -ETIMEDOUT;
		rc = poll(&pf, 1, (int)((c->deadline - now + 999999) / 1000000));
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

static int tcp_connect(struct conn *c, const struct st_url *u, struct st_perr *err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *ai;
	char port[8];
	int rc, last = -ECONNREFUSED;

	snprintf(port, sizeof(port), "%u", u->port);
	rc = getaddrinfo(u->host, port, &hints, &res);
	if (rc != 0)
		return perr(err, -EHOSTUNREACH, "%s: %s", u->host, gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			       ai->ai_protocol);
		if (c->fd < 0) {
			last = -errno;
			continue;
		}
		if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			rc = wait_fd(c, POLLOUT);
			if (rc == 0 && getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
			    soerr == 0)
				break;
			last = rc != 0 ? rc : -soerr;
		} else {
			last = -errno;
		}
		close(c->fd);
		c->fd = -1;
		if (last == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (c->fd < 0)
		return perr(err, last, "connect %s port %u: %s", u->host, u->port, strerror(-last));
	return 0;
}

static int tls_fail(struct conn *c, int grc, const char *what, struct st_perr *err)
{
	if (grc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR ||
	    grc == GNUTLS_E_CERTIFICATE_ERROR) {
		unsigned status = gnutls_session_get_verify_cert_status(c->tls);
		gnutls_datum_t txt = { NULL, 0 };

		if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &txt,
								 0) == 0) {
			perr(err, -EPROTO, "TLS %s: the server's certificate does not verify: %s",
			     what, (const char *)txt.data);
			gnutls_free(txt.data);
			return -EPROTO;
		}
	}
	return perr(err, -EPROTO, "TLS %s: %s", what, gnutls_strerror(grc));
}

/* Waits for what GnuTLS wants next (read or write), within the deadline. */
static int tls_wait(struct conn *c)
{
	return wait_fd(c, gnutls_record_get_direction(c->tls) ? POLLOUT : POLLIN);
}

static int tls_start(struct conn *c, const struct st_url *u, const struct st_httpc_opts *o,
		     struct st_perr *err)
{
	unsigned char addr[16];
	bool is_ip = inet_pton(AF_INET, u->host, addr) == 1 ||
		     inet_pton(AF_INET6, u->host, addr) == 1;
	int rc;

	rc = gnutls_certificate_allocate_credentials(&c->cred);
	if (rc < 0)
		return tls_fail(c, rc, "credentials", err);
	if (o->ca_file != NULL) {
		rc = gnutls_certificate_set_x509_trust_file(c->cred, o->ca_file,
							    GNUTLS_X509_FMT_PEM);
		if (rc <= 0)
			return perr(err, -EINVAL, "CA file %.120s: %s", o->ca_file,
				    rc == 0 ? "no certificate in it" : gnutls_strerror(rc));
	} else {
		rc = gnutls_certificate_set_x509_system_trust(c->cred);
		if (rc < 0)
			return tls_fail(c, rc, "system trust store", err);
	}
	if (o->cert_file != NULL) {
		rc = gnutls_certificate_set_x509_key_file(c->cred, o->cert_file, o->key_file,
							  GNUTLS_X509_FMT_PEM);
		if (rc < 0)
			return perr(err, -EINVAL, "client certificate %.100s, key %.100s: %s",
				    o->cert_file, o->key_file, gnutls_strerror(rc));
	}
	rc = gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
	if (rc < 0) {
		c->tls = NULL;
		return perr(err, -ENOMEM, "TLS init: %s", gnutls_strerror(rc));
	}
	if ((rc = gnutls_set_default_priority(c->tls)) < 0 ||
	    (rc = gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, c->cred)) < 0 ||
	    (!is_ip && (rc = gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, u->host,
						     strlen(u->host))) < 0))
		return tls_fail(c, rc, "setup", err);
	/* The chain against the trust anchors, and the host (a name, or an
	 * address against the certificate's IP SANs). */
	gnutls_session_set_verify_cert(c->tls, u->host, 0);
	gnutls_transport_set_int(c->tls, c->fd);
	for (;;) {
		rc = gnutls_handshake(c->tls);
		if (rc == 0)
			return 0;
		if (rc != GNUTLS_E_AGAIN && rc != GNUTLS_E_INTERRUPTED &&
		    gnutls_error_is_fatal(rc))
			return tls_fail(c, rc, "handshake", err);
		if (rc == GNUTLS_E_AGAIN && (rc = tls_wait(c)) != 0)
			return perr(err, rc, "TLS handshake with %s: %s", u->host, strerror(-rc));
	}
}

static int send_all(struct conn *c, const uint8_t *p, size_t n, struct st_perr *err)
{
	while (n > 0) {
		ssize_t k;
		int rc;

		if (c->tls != NULL) {
			k = gnutls_record_send(c->tls, p, n);
			if (k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED) {
				if ((rc = tls_wait(c)) != 0)
					return perr(err, rc, "send: %s", strerror(-rc));
				continue;
			}
			if (k < 0)
				return tls_fail(c, (int)k, "send", err);
		} else {
			k = send(c->fd, p, n, MSG_NOSIGNAL);
			if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
				if ((rc = wait_fd(c, POLLOUT)) != 0)
					return perr(err, rc, "send: %s", strerror(-rc));
				continue;
			}
			if (k < 0)
				return perr(err, -errno, "send: %s", strerror(errno));
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Reads to the end of the stream into raw, at most max bytes. */
static int recv_all(struct conn *c, struct st_wbuf *raw, size_t max, struct st_perr *err)
{
	for (;;) {
		ssize_t k;
		int rc;

		size_t want;

		if (raw->len > max)
			return perr(err, -EMSGSIZE, "the response is larger than %zu bytes", max);
		/* never past max + 1: the one byte more tells "larger" from
		 * "exactly max" */
		want = max - raw->len + 1 < RECV_CHUNK ? max - raw->len + 1 : RECV_CHUNK;
		if (st_wbuf_reserve(raw, want) != 0)
			return perr(err, -ENOMEM, "out of memory");
		if (c->tls != NULL) {
			k = gnutls_record_recv(c->tls, raw->data + raw->len, want);
			if (k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED) {
				if ((rc = tls_wait(c)) != 0)
					return perr(err, rc, "no complete response in time");
				continue;
			}
			/* A server that closes without close_notify ends the
			 * stream too; the length check in the parser catches a
			 * truncated body. */
			if (k == 0 || k == GNUTLS_E_PREMATURE_TERMINATION)
				return 0;
			if (k < 0)
				return tls_fail(c, (int)k, "receive", err);
		} else {
			k = recv(c->fd, raw->data + raw->len, want, 0);
			if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
				if ((rc = wait_fd(c, POLLIN)) != 0)
					return perr(err, rc, "no complete response in time");
				continue;
			}
			if (k < 0)
				return perr(err, -errno, "receive: %s", strerror(errno));
			if (k == 0)
				return 0;
		}
		raw->len += (size_t)k;
	}
}

int st_httpc_request(const struct st_url *u, const char *method, const char *path,
		     const char *body_type, const void *body, size_t body_len,
		     const struct st_httpc_opts *o, struct st_httpc_resp *r,
		     struct st_perr *err)
{
	struct conn c = { .fd = -1, .deadline = st_mono_ns() + o->timeout_ns };
	bool v6 = strchr(u->host, ':') != NULL;
	bool dflt = u->port == (u->https ? 443 : 80);
	struct st_wbuf req, raw;
	int rc;

	st_wbuf_init(&req);
	st_wbuf_init(&raw);
	st_wbuf_printf(&req, "%s %s%s HTTP/1.1\r\nHost: %s%s%s", method, u->prefix, path,
		       v6 ? "[" : "", u->host, v6 ? "]" : "");
	if (!dflt)
		st_wbuf_printf(&req, ":%u", u->port);
	st_wbuf_printf(&req, "\r\nUser-Agent: shadowtap-ctl\r\nAccept: application/json, "
		       "text/plain;q=0.9\r\nConnection: close\r\n");
	if (o->token != NULL)
		st_wbuf_printf(&req, "Authorization: Bearer %s\r\n", o->token);
	if (body != NULL)
		st_wbuf_printf(&req, "Content-Type: %s\r\nContent-Length: %zu\r\n",
			       body_type ? body_type : "application/octet-stream", body_len);
	st_wbuf_append(&req, "\r\n", 2);
	if (body != NULL)
		st_wbuf_append(&req, body, body_len);
	if (req.oom) {
		rc = perr(err, -ENOMEM, "out of memory");
		goto out;
	}
	rc = tcp_connect(&c, u, err);
	if (rc == 0 && u->https)
		rc = tls_start(&c, u, o, err);
	if (rc == 0)
		rc = send_all(&c, req.data, req.len, err);
	if (rc == 0)
		rc = recv_all(&c, &raw, o->max_response, err);
	if (rc == 0)
		rc = st_httpc_parse(raw.data, raw.len, r, err);
	if (rc == -ENOMEM)
		perr(err, rc, "out of memory");
out:
	if (c.tls != NULL)
		gnutls_deinit(c.tls);
	if (c.cred != NULL)
		gnutls_certificate_free_credentials(c.cred);
	if (c.fd >= 0)
		close(c.fd);
	/* The request carried the token: do not leave it in freed memory. */
	if (req.data != NULL)
		explicit_bzero(req.data, req.cap);
	st_wbuf_free(&req);
	st_wbuf_free(&raw);
	return rc;
}

int st_httpc_read_token(const char *path, char *out, size_t len, struct st_perr *err)
{
	char buf[4097];
	size_t n, s = 0;
	FILE *f = fopen(path, "re");

	if (f == NULL)
		return perr(err, -errno, "token file %.120s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (s < n && isspace((unsigned char)buf[s]))
		s++;
	n = s + strcspn(buf + s, "\r\n");
	while (n > s && isspace((unsigned char)buf[n - 1]))
		n--;
	for (size_t i = s; i < n; i++)
		if (!isgraph((unsigned char)buf[i]))
			n = s;	/* a blank inside: refused below */
	if (n - s < 16 || n - s >= len) {
		explicit_bzero(buf, sizeof(buf));
		return perr(err, -EINVAL, "token file %.120s: the token must be one word of "
			    "16-%zu printable characters", path, len - 1);
	}
	memcpy(out, buf + s, n - s);
	out[n - s] = '\0';
	explicit_bzero(buf, sizeof(buf));
	return 0;
}
