/* ZeroMQ CURVE: key files, socket setup and the ZAP handler (see zsec.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include "log.h"
#include "regfile.h"
#include "zsec.h"

/* ZMQ_ZAP_ENFORCE_DOMAIN is a DRAFT option in libzmq 4.3 (not in the stable
 * header): with it, a CURVE handshake fails when no ZAP handler answers
 * instead of admitting everyone. Libraries built without drafts refuse it
 * with EINVAL, and then the handler alone guards the socket. */
#define ST_ZMQ_ZAP_ENFORCE_DOMAIN 93

/* Requests one st_zap_handle call answers before it gives the loop back. */
#define ZAP_BATCH 64
/* Frames of a ZAP request kept; more are read and dropped (malformed). */
#define ZAP_MAX_FRAMES 8
/* The thread's poll period, which bounds how long st_zap_destroy waits. */
#define ZAP_THREAD_POLL_MS 100

struct st_zsec_allow {
	uint32_t n;
	uint8_t keys[ST_ZSEC_MAX_KEYS][ST_ZSEC_KEY_LEN];
};

static const char z85_chars[] =
	"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	".-:+=^!/*?&<>()[]{}@%$#";

static int z85_value(char c)
{
	const char *p;

	if (c == '\0')
		return -1;
	p = strchr(z85_chars, c);
	return p ? (int)(p - z85_chars) : -1;
}

/* Our own decoder rather than zmq_z85_decode: the check has to be exact
 * (length, alphabet, and a 5-char group above 2^32 - 1), and older libzmq
 * releases did not reject every bad input. */
static bool z85_decode_key(const char *s, size_t len,
			   uint8_t out[ST_ZSEC_KEY_LEN])
{
	uint8_t tmp[ST_ZSEC_KEY_LEN];

	if (len != ST_ZSEC_KEY_Z85_LEN)
		return false;
	for (size_t g = 0; g < ST_ZSEC_KEY_Z85_LEN / 5; g++) {
		uint64_t v = 0;

		for (size_t i = 0; i < 5; i++) {
			int d = z85_value(s[g * 5 + i]);

			if (d < 0)
				return false;
			v = v * 85 + (uint64_t)d;
		}
		if (v > UINT32_MAX)
			return false;
		tmp[g * 4] = (uint8_t)(v >> 24);
		tmp[g * 4 + 1] = (uint8_t)(v >> 16);
		tmp[g * 4 + 2] = (uint8_t)(v >> 8);
		tmp[g * 4 + 3] = (uint8_t)v;
	}
	if (out)
		memcpy(out, tmp, sizeof(tmp));
	explicit_bzero(tmp, sizeof(tmp));
	return true;
}

bool st_zsec_z85_key(const char *s, uint8_t out[ST_ZSEC_KEY_LEN])
{
	if (s == NULL)
		return false;
	return z85_decode_key(s, strnlen(s, ST_ZSEC_KEY_Z85_LEN + 1), out);
}

static int perr(struct st_perr *err, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int perr(struct st_perr *err, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* Reading key files                                                  */

/* Reads a whole small regular file into a NUL-terminated malloc'd buffer.
 * O_NONBLOCK so that a FIFO given by mistake cannot hang the open. */
static int read_small_file(const char *path, char **out, size_t *len,
			   mode_t *mode, struct st_perr *err)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		return perr(err, rc, "%s: %s", path, strerror(-rc));
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		perr(err, rc, "%s: %s", path, strerror(-rc));
		goto err;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = perr(err, -EINVAL, "%s: not a regular file", path);
		goto err;
	}
	if (st.st_size > (off_t)ST_ZSEC_FILE_MAX) {
		rc = perr(err, -EFBIG, "%s: larger than %u bytes", path,
			  ST_ZSEC_FILE_MAX);
		goto err;
	}
	if (mode)
		*mode = st.st_mode;
	/* One byte more than the limit, to notice a file that grew. */
	buf = malloc(ST_ZSEC_FILE_MAX + 2);
	if (buf == NULL) {
		rc = perr(err, -ENOMEM, "%s: out of memory", path);
		goto err;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, ST_ZSEC_FILE_MAX + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			perr(err, rc, "%s: %s", path, strerror(-rc));
			goto err;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > ST_ZSEC_FILE_MAX) {
			rc = perr(err, -EFBIG, "%s: larger than %u bytes", path,
				  ST_ZSEC_FILE_MAX);
			goto err;
		}
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
err:
	if (buf) {
		explicit_bzero(buf, n);
		free(buf);
	}
	close(fd);
	return rc;
}

static void free_file(char *buf, size_t len)
{
	if (buf) {
		explicit_bzero(buf, len);
		free(buf);
	}
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* One parsed line. kind: 0 blank or comment, 1 "name = value", 2 a bare
 * token (an allow-list key). */
struct kline {
	int kind;
	const char *name;
	size_t name_len;
	const char *val;
	size_t val_len;
};

/* Whether what follows a value is nothing, or blanks and a comment. */
static bool rest_ok(const char *p, const char *end)
{
	if (p < end && !is_blank(*p))
		return false;
	while (p < end && is_blank(*p))
		p++;
	return p == end || *p == '#';
}

/* Splits one line (without its '\n'). Z85 keys can hold '#', so a comment
 * is a '#' at the start of the line or after a blank, and an allow-list line
 * that is exactly a valid key wins over the comment reading. Returns 0, or
 * -EINVAL with why. */
static int split_line(const char *p, const char *end, bool bare_keys,
		      struct kline *kl, const char **why)
{
	const char *tok;

	memset(kl, 0, sizeof(*kl));
	while (p < end && is_blank(*p))
		p++;
	while (end > p && is_blank(end[-1]))
		end--;
	if (p == end)
		return 0;
	if (bare_keys) {
		tok = p;
		while (p < end && !is_blank(*p))
			p++;
		if (z85_decode_key(tok, (size_t)(p - tok), NULL) &&
		    rest_ok(p, end)) {
			kl->kind = 2;
			kl->val = tok;
			kl->val_len = (size_t)(p - tok);
			return 0;
		}
		p = tok;
	}
	if (*p == '#')
		return 0;
	tok = p;
	while (p < end && (*p == '_' || *p == '-' || (*p >= 'a' && *p <= 'z') ||
			   (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
		p++;
	kl->name = tok;
	kl->name_len = (size_t)(p - tok);
	while (p < end && is_blank(*p))
		p++;
	if (kl->name_len == 0 || p == end || *p != '=') {
		*why = bare_keys ? "expected a 40-character Z85 key or "
				   "'public = <key>'" :
				   "expected 'public = <key>' or 'secret = <key>'";
		return -EINVAL;
	}
	p++;
	while (p < end && is_blank(*p))
		p++;
	tok = p;
	while (p < end && !is_blank(*p))
		p++;
	kl->val = tok;
	kl->val_len = (size_t)(p - tok);
	if (!rest_ok(p, end)) {
		*why = "unexpected text after the key";
		return -EINVAL;
	}
	kl->kind = 1;
	return 0;
}

static bool name_is(const struct kline *kl, const char *name)
{
	return kl->name_len == strlen(name) &&
	       memcmp(kl->name, name, kl->name_len) == 0;
}

/* Calls fn for every key line of the file at path, with its line number.
 * Checks the line length and NUL bytes before anything else looks. fn
 * returns 0 or a negative errno with err filled. */
typedef int (*line_fn)(void *arg, const struct kline *kl, unsigned line,
		       const char *path, struct st_perr *err);

static int walk_file(const char *path, bool bare_keys, mode_t *mode,
		     line_fn fn, void *arg, struct st_perr *err)
{
	const char *why = NULL;
	unsigned line = 0;
	size_t len = 0;
	char *buf = NULL;
	const char *p, *end;
	int rc;

	rc = read_small_file(path, &buf, &len, mode, err);
	if (rc)
		return rc;
	p = buf;
	end = buf + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		struct kline kl;

		if (eol == NULL)
			eol = end;
		line++;
		if ((size_t)(eol - p) > ST_ZSEC_LINE_MAX) {
			rc = perr(err, -EINVAL, "%s:%u: line longer than %u bytes",
				  path, line, ST_ZSEC_LINE_MAX);
			goto out;
		}
		if (memchr(p, '\0', (size_t)(eol - p))) {
			rc = perr(err, -EINVAL, "%s:%u: NUL byte", path, line);
			goto out;
		}
		rc = split_line(p, eol, bare_keys, &kl, &why);
		if (rc) {
			perr(err, rc, "%s:%u: %s", path, line, why);
			goto out;
		}
		if (kl.kind != 0) {
			rc = fn(arg, &kl, line, path, err);
			if (rc)
				goto out;
		}
		p = eol + 1;
	}
	rc = 0;
out:
	free_file(buf, len);
	return rc;
}

/* The name of a "name = value" line, cut and made printable for a message. */
static const char *name_for_msg(const struct kline *kl, char *buf, size_t len)
{
	size_t n = kl->name_len < len - 1 ? kl->name_len : len - 1;

	memcpy(buf, kl->name, n);
	buf[n] = '\0';
	return buf;
}

struct kp_state {
	struct st_zsec_keypair *kp;
	unsigned public_line, secret_line;
	bool want_secret;
};

static int kp_line(void *arg, const struct kline *kl, unsigned line,
		   const char *path, struct st_perr *err)
{
	struct kp_state *s = arg;
	unsigned *seen;
	char *dst;
	char nb[24];

	if (name_is(kl, "public")) {
		seen = &s->public_line;
		dst = s->kp->public_z85;
	} else if (name_is(kl, "secret")) {
		seen = &s->secret_line;
		dst = s->kp->secret_z85;
	} else {
		return perr(err, -EINVAL, "%s:%u: unknown name '%s' (expected "
			    "'public' or 'secret')", path, line,
			    name_for_msg(kl, nb, sizeof(nb)));
	}
	if (*seen)
		return perr(err, -EINVAL, "%s:%u: second '%s' line (first on "
			    "line %u)", path, line, name_for_msg(kl, nb, sizeof(nb)),
			    *seen);
	*seen = line;
	/* A .key file given where a public key is wanted: skip the secret
	 * without looking at it. */
	if (dst == s->kp->secret_z85 && !s->want_secret)
		return 0;
	if (!z85_decode_key(kl->val, kl->val_len, NULL))
		return perr(err, -EINVAL, "%s:%u: '%s' is not a 40-character "
			    "Z85 key", path, line, name_for_msg(kl, nb, sizeof(nb)));
	memcpy(dst, kl->val, ST_ZSEC_KEY_Z85_LEN);
	dst[ST_ZSEC_KEY_Z85_LEN] = '\0';
	return 0;
}

int st_zsec_load_keypair(const char *path, struct st_zsec_keypair *kp,
			 struct st_perr *err)
{
	struct kp_state s = { .kp = kp, .want_secret = true };
	char derived[ST_ZSEC_KEY_Z85_LEN + 1];
	mode_t mode = 0;
	int rc;

	memset(kp, 0, sizeof(*kp));
	rc = walk_file(path, false, &mode, kp_line, &s, err);
	if (rc)
		goto err;
	if (s.public_line == 0 || s.secret_line == 0) {
		rc = perr(err, -EINVAL, "%s: no '%s = <key>' line", path,
			  s.public_line == 0 ? "public" : "secret");
		goto err;
	}
	/* A public line copied from another pair would make peers trust a
	 * key this host cannot prove; catch it here rather than as a
	 * handshake that silently never completes. */
	if (zmq_has("curve") &&
	    zmq_curve_public(derived, kp->secret_z85) == 0 &&
	    strcmp(derived, kp->public_z85) != 0) {
		rc = perr(err, -EINVAL, "%s:%u: public key does not belong to "
			  "the secret key", path, s.public_line);
		goto err;
	}
	/* As ssh does for its keys, but a warning: refusing would turn a
	 * copied file into an outage. */
	if (mode & (st_in_credentials(path) ? 007 : 077))
		ST_WARN("%s: secret key readable by group or others (mode "
			"%03o): chmod 600 it", path, (unsigned)(mode & 0777));
	return 0;
err:
	explicit_bzero(kp, sizeof(*kp));
	return rc;
}

int st_zsec_load_public(const char *path, char z85[ST_ZSEC_KEY_Z85_LEN + 1],
			struct st_perr *err)
{
	struct st_zsec_keypair kp;
	struct kp_state s = { .kp = &kp, .want_secret = false };
	int rc;

	memset(&kp, 0, sizeof(kp));
	rc = walk_file(path, false, NULL, kp_line, &s, err);
	if (rc == 0 && s.public_line == 0)
		rc = perr(err, -EINVAL, "%s: no 'public = <key>' line", path);
	if (rc == 0)
		memcpy(z85, kp.public_z85, sizeof(kp.public_z85));
	explicit_bzero(&kp, sizeof(kp));
	return rc;
}

static int allow_line(void *arg, const struct kline *kl, unsigned line,
		      const char *path, struct st_perr *err)
{
	struct st_zsec_allow *a = arg;
	char nb[24];

	if (kl->kind == 1 && !name_is(kl, "public"))
		return perr(err, -EINVAL, "%s:%u: unknown name '%s' (expected "
			    "'public' or a bare key)", path, line,
			    name_for_msg(kl, nb, sizeof(nb)));
	if (a->n >= ST_ZSEC_MAX_KEYS)
		return perr(err, -E2BIG, "%s:%u: more than %u keys", path,
			    line, ST_ZSEC_MAX_KEYS);
	if (!z85_decode_key(kl->val, kl->val_len, a->keys[a->n]))
		return perr(err, -EINVAL, "%s:%u: not a 40-character Z85 key",
			    path, line);
	a->n++;
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, ST_ZSEC_KEY_LEN);
}

struct st_zsec_allow *st_zsec_allow_load(const char *path, struct st_perr *err)
{
	struct st_zsec_allow *a = calloc(1, sizeof(*a));
	int rc;

	if (a == NULL) {
		perr(err, -ENOMEM, "%s: out of memory", path);
		errno = ENOMEM;
		return NULL;
	}
	rc = walk_file(path, true, NULL, allow_line, a, err);
	if (rc) {
		free(a);
		errno = -rc;
		return NULL;
	}
	qsort(a->keys, a->n, ST_ZSEC_KEY_LEN, key_cmp);
	return a;
}

uint32_t st_zsec_allow_count(const struct st_zsec_allow *a)
{
	return a ? a->n : 0;
}

bool st_zsec_allow_has(const struct st_zsec_allow *a,
		       const uint8_t key[ST_ZSEC_KEY_LEN])
{
	if (a == NULL || a->n == 0)
		return false;
	return bsearch(key, a->keys, a->n, ST_ZSEC_KEY_LEN, key_cmp) != NULL;
}

void st_zsec_allow_free(struct st_zsec_allow *a)
{
	free(a);
}

/* ------------------------------------------------------------------ */
/* Key generation                                                     */

static int write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Creates path (never over an existing file) with the text. */
static int write_new_file(const char *path, mode_t mode, const char *text,
			  struct st_perr *err)
{
	int fd, rc;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY,
		  mode);
	if (fd < 0) {
		rc = -errno;
		return perr(err, rc, "%s: %s%s", path, strerror(-rc),
			    rc == -EEXIST ? " (remove it first: keys are "
					    "never overwritten)" : "");
	}
	rc = write_all(fd, text, strlen(text));
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc) {
		unlink(path);
		return perr(err, rc, "%s: %s", path, strerror(-rc));
	}
	return 0;
}

int st_zsec_keygen(const char *prefix, struct st_perr *err)
{
	char pub[ST_ZSEC_KEY_Z85_LEN + 1], sec[ST_ZSEC_KEY_Z85_LEN + 1];
	char key_path[PATH_MAX], pub_path[PATH_MAX];
	char text[512];
	int rc;

	if (prefix == NULL || prefix[0] == '\0')
		return perr(err, -EINVAL, "empty key file prefix");
	if (snprintf(key_path, sizeof(key_path), "%s.key", prefix) >=
	    (int)sizeof(key_path) ||
	    snprintf(pub_path, sizeof(pub_path), "%s.pub", prefix) >=
	    (int)sizeof(pub_path))
		return perr(err, -ENAMETOOLONG, "%s: prefix too long", prefix);
	if (!zmq_has("curve"))
		return perr(err, -ENOTSUP, "libzmq was built without CURVE");
	if (zmq_curve_keypair(pub, sec) != 0) {
		rc = -errno;
		return perr(err, rc, "zmq_curve_keypair: %s", zmq_strerror(-rc));
	}
	snprintf(text, sizeof(text),
		 "# shadowtap CURVE key pair. Keep it secret (mode 0600): only\n"
		 "# the program that owns this identity reads it. Peers get the\n"
		 "# public key from %s.\n"
		 "public = %s\nsecret = %s\n", prefix, pub, sec);
	rc = write_new_file(key_path, 0600, text, err);
	explicit_bzero(text, sizeof(text));
	explicit_bzero(sec, sizeof(sec));
	if (rc)
		return rc;
	snprintf(text, sizeof(text),
		 "# shadowtap CURVE public key of %s.key: give it to peers\n"
		 "# (clients: --curve-server-key; servers: the allow-list).\n"
		 "public = %s\n", prefix, pub);
	rc = write_new_file(pub_path, 0644, text, err);
	if (rc) {
		unlink(key_path);
		return rc;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Socket setup                                                       */

static int sockopt(void *sock, int opt, const void *val, size_t len,
		   const char *name, struct st_perr *err)
{
	int rc;

	if (zmq_setsockopt(sock, opt, val, len) == 0)
		return 0;
	rc = -errno;
	return perr(err, rc, "zmq_setsockopt(%s): %s", name, zmq_strerror(-rc));
}

int st_zsec_server_setup(void *sock, const char *keypair_file,
			 const char *domain, struct st_perr *err)
{
	struct st_zsec_keypair kp;
	int one = 1, rc;

	if (!zmq_has("curve"))
		return perr(err, -ENOTSUP, "libzmq was built without CURVE");
	if (domain == NULL)
		domain = ST_ZSEC_DOMAIN;
	rc = st_zsec_load_keypair(keypair_file, &kp, err);
	if (rc)
		return rc;
	rc = sockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one),
		     "ZMQ_CURVE_SERVER", err);
	if (rc == 0)
		rc = sockopt(sock, ZMQ_CURVE_SECRETKEY, kp.secret_z85,
			     ST_ZSEC_KEY_Z85_LEN + 1, "ZMQ_CURVE_SECRETKEY", err);
	if (rc == 0)
		rc = sockopt(sock, ZMQ_ZAP_DOMAIN, domain, strlen(domain),
			     "ZMQ_ZAP_DOMAIN", err);
	explicit_bzero(&kp, sizeof(kp));
	if (rc)
		return rc;
	/* Best effort (a DRAFT option): fail closed without a handler. */
	(void)zmq_setsockopt(sock, ST_ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof(one));
	return 0;
}

int st_zsec_client_setup(void *sock, const char *server_public,
			 const char *client_keypair_file, struct st_perr *err)
{
	char server_z85[ST_ZSEC_KEY_Z85_LEN + 1];
	struct st_zsec_keypair kp;
	int rc;

	if (!zmq_has("curve"))
		return perr(err, -ENOTSUP, "libzmq was built without CURVE");
	if (server_public == NULL || client_keypair_file == NULL)
		return perr(err, -EINVAL, "CURVE needs both the server's "
			    "public key and a client key file");
	if (st_zsec_z85_key(server_public, NULL)) {
		memcpy(server_z85, server_public, sizeof(server_z85));
	} else {
		rc = st_zsec_load_public(server_public, server_z85, err);
		if (rc)
			return rc;
	}
	rc = st_zsec_load_keypair(client_keypair_file, &kp, err);
	if (rc)
		return rc;
	rc = sockopt(sock, ZMQ_CURVE_SERVERKEY, server_z85,
		     ST_ZSEC_KEY_Z85_LEN + 1, "ZMQ_CURVE_SERVERKEY", err);
	if (rc == 0)
		rc = sockopt(sock, ZMQ_CURVE_PUBLICKEY, kp.public_z85,
			     ST_ZSEC_KEY_Z85_LEN + 1, "ZMQ_CURVE_PUBLICKEY", err);
	if (rc == 0)
		rc = sockopt(sock, ZMQ_CURVE_SECRETKEY, kp.secret_z85,
			     ST_ZSEC_KEY_Z85_LEN + 1, "ZMQ_CURVE_SECRETKEY", err);
	explicit_bzero(&kp, sizeof(kp));
	return rc;
}

/* ------------------------------------------------------------------ */
/* Handshake monitor                                                  */

#define MONITOR_EVENTS (ZMQ_EVENT_CONNECT_RETRIED | \
			ZMQ_EVENT_HANDSHAKE_SUCCEEDED | \
			ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | \
			ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | \
			ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)

void *st_zsec_monitor_open(void *zmq_ctx, void *sock)
{
	char ep[64];
	void *mon;
	int zero = 0, e;

	/* The monitor endpoint is per socket; the address makes it unique
	 * within the process, which is all inproc needs. */
	snprintf(ep, sizeof(ep), "inproc://st-zsec-monitor-%p", sock);
	if (zmq_socket_monitor(sock, ep, MONITOR_EVENTS) != 0)
		return NULL;
	mon = zmq_socket(zmq_ctx, ZMQ_PAIR);
	if (mon == NULL)
		goto err;
	zmq_setsockopt(mon, ZMQ_LINGER, &zero, sizeof(zero));
	if (zmq_connect(mon, ep) != 0)
		goto err;
	return mon;
err:
	e = errno;
	if (mon)
		zmq_close(mon);
	zmq_socket_monitor(sock, NULL, 0);
	errno = e;
	return NULL;
}

int st_zsec_monitor_read(void *mon, char *buf, size_t len)
{
	uint8_t head[6];
	char ep[128];
	uint32_t value;
	uint16_t event;
	int n, more;
	size_t ml = sizeof(more);

	/* Two frames: u16 event and u32 value in host order, then the
	 * endpoint. */
	n = zmq_recv(mon, head, sizeof(head), ZMQ_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN ? ST_ZSEC_EV_NONE : -errno;
	ep[0] = '\0';
	if (zmq_getsockopt(mon, ZMQ_RCVMORE, &more, &ml) == 0 && more) {
		int m = zmq_recv(mon, ep, sizeof(ep) - 1, 0);

		ep[m < 0 ? 0 : (m > (int)sizeof(ep) - 1 ? (int)sizeof(ep) - 1 : m)] = '\0';
	}
	if (n < (int)sizeof(head)) {
		snprintf(buf, len, "%s: short monitor event", ep);
		return ST_ZSEC_EV_NONE;
	}
	memcpy(&event, head, sizeof(event));
	memcpy(&value, head + 2, sizeof(value));
	switch (event) {
	case ZMQ_EVENT_CONNECT_RETRIED:
		snprintf(buf, len, "%s: cannot connect (nothing listening?), "
			 "retrying", ep);
		return ST_ZSEC_EV_RETRY;
	case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
		snprintf(buf, len, "%s: handshake succeeded", ep);
		return ST_ZSEC_EV_OK;
	case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
		snprintf(buf, len, "%s: the server refused this client's key "
			 "(ZAP status %u)", ep, value);
		return ST_ZSEC_EV_FAILED;
	case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
		snprintf(buf, len, "%s: handshake failed, protocol error 0x%x "
			 "(wrong server key, or CURVE on one side only?)", ep,
			 value);
		return ST_ZSEC_EV_FAILED;
	default:
		snprintf(buf, len, "%s: handshake failed (%s; wrong server key, "
			 "or CURVE on one side only?)", ep,
			 zmq_strerror((int)value));
		return ST_ZSEC_EV_FAILED;
	}
}

void st_zsec_monitor_close(void *sock, void *mon)
{
	if (mon == NULL)
		return;
	zmq_socket_monitor(sock, NULL, 0);
	zmq_close(mon);
}

/* ------------------------------------------------------------------ */
/* ZAP handler                                                        */

struct st_zap *st_zap_create(void *zmq_ctx, const char *allow_file,
			     struct st_perr *err)
{
	struct st_zap *zap;
	int zero = 0, e;

	zap = calloc(1, sizeof(*zap));
	if (zap == NULL) {
		perr(err, -ENOMEM, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	zap->rl = (struct st_ratelimit)ST_RATELIMIT_INIT(1000000000ull, 5);
	zap->allow = st_zsec_allow_load(allow_file, err);
	if (zap->allow == NULL) {
		e = errno;
		goto err;
	}
	zap->sock = zmq_socket(zmq_ctx, ZMQ_REP);
	if (zap->sock == NULL) {
		e = errno;
		perr(err, -e, "zmq_socket(ZAP): %s", zmq_strerror(e));
		goto err;
	}
	zmq_setsockopt(zap->sock, ZMQ_LINGER, &zero, sizeof(zero));
	if (zmq_bind(zap->sock, ST_ZAP_ENDPOINT) != 0) {
		e = errno;
		perr(err, -e, "zmq_bind(%s): %s%s", ST_ZAP_ENDPOINT,
		     zmq_strerror(e), e == EADDRINUSE ?
		     " (this context already has a ZAP handler)" : "");
		goto err;
	}
	return zap;
err:
	if (zap->sock)
		zmq_close(zap->sock);
	st_zsec_allow_free(zap->allow);
	free(zap);
	errno = e;
	return NULL;
}

const char *st_zsec_printable(const void *data, size_t n, char *buf, size_t len)
{
	const unsigned char *p = data;
	size_t j = 0;

	for (size_t i = 0; i < n && j + 1 < len; i++)
		buf[j++] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
	buf[j] = '\0';
	return buf;
}

static const char *printable(zmq_msg_t *m, char *buf, size_t len)
{
	return st_zsec_printable(zmq_msg_data(m), zmq_msg_size(m), buf, len);
}

static bool frame_is(zmq_msg_t *m, const char *s)
{
	size_t n = strlen(s);

	return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), s, n) == 0;
}

static int send_frame(void *sock, const void *p, size_t n, bool more)
{
	if (zmq_send(sock, p, n, more ? ZMQ_SNDMORE : 0) < 0)
		return -errno;
	return 0;
}

/* ZAP reply: version, request id, status code, status text, user id,
 * metadata (RFC 27). */
static int zap_reply(void *sock, zmq_msg_t *req_id, const char *code,
		     const char *text, const char *user)
{
	int rc;

	rc = send_frame(sock, "1.0", 3, true);
	if (rc == 0)
		rc = send_frame(sock, req_id ? zmq_msg_data(req_id) : "",
				req_id ? zmq_msg_size(req_id) : 0, true);
	if (rc == 0)
		rc = send_frame(sock, code, strlen(code), true);
	if (rc == 0)
		rc = send_frame(sock, text, strlen(text), true);
	if (rc == 0)
		rc = send_frame(sock, user, strlen(user), true);
	if (rc == 0)
		rc = send_frame(sock, "", 0, false);
	return rc;
}

/* Reads one request (all its frames) and answers it. Returns 1 when one
 * was answered, 0 when none was waiting, or a negative errno. */
static int zap_one(struct st_zap *zap)
{
	zmq_msg_t f[ZAP_MAX_FRAMES], extra;
	char key_z85[ST_ZSEC_KEY_Z85_LEN + 1] = "";
	char addr[64], mech[16];
	int nf = 0, total = 0, rc, more;
	size_t more_len;
	uint8_t *key;

	for (;;) {
		zmq_msg_t *m = nf < ZAP_MAX_FRAMES ? &f[nf] : &extra;

		zmq_msg_init(m);
		if (zmq_msg_recv(m, zap->sock, total == 0 ? ZMQ_DONTWAIT : 0) < 0) {
			rc = -errno;
			zmq_msg_close(m);
			if (total == 0 && rc == -EAGAIN)
				return 0;
			goto out;
		}
		total++;
		/* Frames past ZAP_MAX_FRAMES are read and dropped. */
		if (m == &extra)
			zmq_msg_close(&extra);
		else
			nf++;
		more_len = sizeof(more);
		if (zmq_getsockopt(zap->sock, ZMQ_RCVMORE, &more, &more_len) < 0 ||
		    !more)
			break;
	}
	/* f[0] version, f[1] request id, f[2] domain, f[3] address, f[4]
	 * identity, f[5] mechanism, f[6..] credentials. */
	if (total < 6 || !frame_is(&f[0], "1.0")) {
		__atomic_fetch_add(&zap->bad, 1, __ATOMIC_RELAXED);
		st_log_rl(&zap->rl, ST_LOG_WARN, "ZAP: malformed request "
			  "(%d frames)", total);
		rc = zap_reply(zap->sock, total >= 2 ? &f[1] : NULL, "500",
			       "malformed ZAP request", "");
		goto out;
	}
	printable(&f[3], addr, sizeof(addr));
	printable(&f[5], mech, sizeof(mech));
	if (!frame_is(&f[5], "CURVE") || total != 7 ||
	    zmq_msg_size(&f[6]) != ST_ZSEC_KEY_LEN) {
		__atomic_fetch_add(&zap->denied, 1, __ATOMIC_RELAXED);
		st_log_rl(&zap->rl, ST_LOG_WARN, "ZAP: refused a %s client "
			  "from %s: only CURVE clients are admitted", mech, addr);
		rc = zap_reply(zap->sock, &f[1], "400",
			       "CURVE with a listed key required", "");
		goto out;
	}
	key = zmq_msg_data(&f[6]);
	zmq_z85_encode(key_z85, key, ST_ZSEC_KEY_LEN);
	if (!st_zsec_allow_has(zap->allow, key)) {
		__atomic_fetch_add(&zap->denied, 1, __ATOMIC_RELAXED);
		st_log_rl(&zap->rl, ST_LOG_WARN, "ZAP: refused CURVE client "
			  "%s from %s: key not in the allow-list", key_z85, addr);
		rc = zap_reply(zap->sock, &f[1], "400", "key not allowed", "");
		goto out;
	}
	__atomic_fetch_add(&zap->allowed, 1, __ATOMIC_RELAXED);
	ST_DEBUG("admitted CURVE client %s from %s", key_z85, addr);
	rc = zap_reply(zap->sock, &f[1], "200", "OK", key_z85);
out:
	for (int i = 0; i < nf; i++)
		zmq_msg_close(&f[i]);
	return rc < 0 ? rc : 1;
}

int st_zap_handle(struct st_zap *zap)
{
	int n = 0, rc;

	while (n < ZAP_BATCH) {
		rc = zap_one(zap);
		if (rc < 0)
			return rc;
		if (rc == 0)
			break;
		n++;
	}
	return n;
}

static void *zap_thread(void *arg)
{
	struct st_zap *zap = arg;
	zmq_pollitem_t it = { .socket = zap->sock, .events = ZMQ_POLLIN };

	while (!__atomic_load_n(&zap->stop, __ATOMIC_ACQUIRE)) {
		int n = zmq_poll(&it, 1, ZAP_THREAD_POLL_MS);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (n > 0 && st_zap_handle(zap) == -ETERM)
			break;
	}
	return NULL;
}

int st_zap_start_thread(struct st_zap *zap)
{
	int rc;

	if (zap->running)
		return -EALREADY;
	rc = pthread_create(&zap->thread, NULL, zap_thread, zap);
	if (rc)
		return -rc;
	zap->running = true;
	return 0;
}

void st_zap_get_stats(const struct st_zap *zap, struct st_zap_stats *out)
{
	out->allowed = __atomic_load_n(&zap->allowed, __ATOMIC_RELAXED);
	out->denied = __atomic_load_n(&zap->denied, __ATOMIC_RELAXED);
	out->bad = __atomic_load_n(&zap->bad, __ATOMIC_RELAXED);
}

void st_zap_destroy(struct st_zap *zap)
{
	if (zap == NULL)
		return;
	if (zap->running) {
		__atomic_store_n(&zap->stop, true, __ATOMIC_RELEASE);
		pthread_join(zap->thread, NULL);
	}
	zmq_close(zap->sock);
	st_zsec_allow_free(zap->allow);
	free(zap);
}
