/* ZeroMQ CURVE security shared by every program: key files, the server and
 * client socket setup, and a ZAP handler that admits only listed clients.
 *
 * Why a ZAP handler is not optional: a CURVE server with no handler at
 * inproc://zeromq.zap.01 admits ANY client that knows the server's public
 * key (encryption without authentication). So a program that configures
 * server keys must also run st_zap on the same zmq context before it binds.
 * st_zsec_server_setup additionally asks libzmq to refuse every handshake
 * when no handler is running (ZMQ_ZAP_ENFORCE_DOMAIN, where the library
 * offers it), so a forgotten handler fails closed.
 *
 * Files (all: '#' at the start of a line or after a blank starts a comment,
 * since Z85 keys may hold '#'; blank lines are ignored; at most
 * ST_ZSEC_FILE_MAX bytes, no NUL bytes, lines at most ST_ZSEC_LINE_MAX):
 *   key-pair file   public = <40 Z85 chars>     (PREFIX.key, mode 0600)
 *                   secret = <40 Z85 chars>
 *   public file     public = <Z85>              (PREFIX.pub)
 *   allow-list      one client key per line, either bare Z85 or a
 *                   "public = <Z85>" line, so `cat *.pub > allow` works;
 *                   at most ST_ZSEC_MAX_KEYS keys.
 * Every loader error names the place: "FILE:LINE: reason".
 *
 * The ZAP handler is a REP socket the owner polls: add zap->sock to the
 * zmq_poll set and call st_zap_handle() on ZMQ_POLLIN, so single-threaded
 * loops (the dataplane's main lcore, the analyzer) need no thread. Programs
 * that block elsewhere can run it on a thread (st_zap_start_thread). One
 * handler per zmq context: the ZAP endpoint is per context. */
#ifndef ST_ZSEC_H
#define ST_ZSEC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "parse.h"

#define ST_ZSEC_KEY_Z85_LEN 40		/* Z85 text of a 32-byte key */
#define ST_ZSEC_KEY_LEN 32
#define ST_ZSEC_MAX_KEYS 1024		/* keys in one allow-list */
#define ST_ZSEC_LINE_MAX 256		/* bytes in one line of a key file */
#define ST_ZSEC_FILE_MAX (256u * 1024)	/* bytes in one key file */
#define ST_ZSEC_DOMAIN "shadowtap"	/* default ZAP domain */
#define ST_ZAP_ENDPOINT "inproc://zeromq.zap.01"

struct st_zsec_keypair {
	char public_z85[ST_ZSEC_KEY_Z85_LEN + 1];
	char secret_z85[ST_ZSEC_KEY_Z85_LEN + 1];
};

/* True when s is exactly 40 Z85 characters that decode to 32 bytes. If out
 * is not NULL the key is written there. Never fails otherwise; O(1). */
bool st_zsec_z85_key(const char *s, uint8_t out[ST_ZSEC_KEY_LEN]);

/* Reads a key-pair file. Checks both keys' form, and that the public key is
 * the one the secret key derives. Warns (log) when the file can be read by
 * group or others. Returns 0, or -errno from open/read, -EINVAL (syntax,
 * missing or duplicate key, mismatch), -EFBIG (file too large), with
 * err->msg "FILE:LINE: reason". Clears its copy of the file. O(file). */
int st_zsec_load_keypair(const char *path, struct st_zsec_keypair *kp,
			 struct st_perr *err);

/* Reads a server's public key from a .pub file, or the public line of a
 * .key file (a secret line is ignored). z85 gets 41 bytes. Same returns as
 * st_zsec_load_keypair. */
int st_zsec_load_public(const char *path, char z85[ST_ZSEC_KEY_Z85_LEN + 1],
			struct st_perr *err);

/* A loaded allow-list: the keys sorted for binary search. */
struct st_zsec_allow;

/* Reads an allow-list file. Returns a new list (st_zsec_allow_free it) or
 * NULL with errno (ENOENT..., EINVAL syntax, E2BIG too many keys, EFBIG file
 * too large, ENOMEM) and err->msg set. An empty list is valid (admits no
 * one). Duplicate keys are accepted. O(file + n log n). */
struct st_zsec_allow *st_zsec_allow_load(const char *path, struct st_perr *err);
/* Keys in the list. */
uint32_t st_zsec_allow_count(const struct st_zsec_allow *a);
/* True when the 32-byte key is listed. O(log n), no allocation. */
bool st_zsec_allow_has(const struct st_zsec_allow *a,
		       const uint8_t key[ST_ZSEC_KEY_LEN]);
void st_zsec_allow_free(struct st_zsec_allow *a);

/* Makes a new key pair (zmq_curve_keypair) and writes PREFIX.key (both
 * keys, mode 0600) and PREFIX.pub (public key, mode 0644). Refuses to
 * overwrite either file. Returns 0, -ENOTSUP (libzmq without CURVE),
 * -EEXIST, -ENAMETOOLONG, or -errno from the file calls, with err->msg;
 * on error nothing it created is left behind. */
int st_zsec_keygen(const char *prefix, struct st_perr *err);

/* Makes sock a CURVE server with the key pair in keypair_file, in ZAP
 * domain `domain` (NULL: ST_ZSEC_DOMAIN). Call before zmq_bind. The caller
 * must run an st_zap on the socket's context. Returns 0, a loader error,
 * or -errno from zmq_setsockopt (-ENOTSUP without CURVE), with err->msg. */
int st_zsec_server_setup(void *sock, const char *keypair_file,
			 const char *domain, struct st_perr *err);

/* Makes sock a CURVE client of the server whose public key is
 * server_public: 40 Z85 characters, or the path of a .pub or .key file;
 * with the client key pair in client_keypair_file. Call before
 * zmq_connect. Returns 0, a loader error, or -errno from zmq_setsockopt. */
int st_zsec_client_setup(void *sock, const char *server_public,
			 const char *client_keypair_file, struct st_perr *err);

/* Watches sock's connection attempts and handshakes (zmq_socket_monitor)
 * so that a refused key, a wrong server key or a server that is not there
 * shows up as a message instead of as silence. For any socket, CURVE or
 * not. Returns a PAIR socket to add to a zmq_poll set, or NULL with errno. */
void *st_zsec_monitor_open(void *zmq_ctx, void *sock);

enum st_zsec_event {
	ST_ZSEC_EV_NONE = 0,	/* nothing waiting */
	ST_ZSEC_EV_OK,		/* a handshake succeeded */
	ST_ZSEC_EV_FAILED,	/* a handshake failed; buf says why */
	ST_ZSEC_EV_RETRY,	/* a connection attempt failed; will retry */
};

/* Reads one event from mon without blocking and describes it in buf
 * ("tcp://127.0.0.1:5557: the server refused this client's key (ZAP
 * status 400)"). Returns an st_zsec_event, or a negative errno. */
int st_zsec_monitor_read(void *mon, char *buf, size_t len);

/* Stops monitoring sock and closes mon. NULL mon is ignored. */
void st_zsec_monitor_close(void *sock, void *mon);

/* Copies a peer-supplied frame data[0..n) into buf (len > 0) as a log-safe
 * string: cut to len - 1 bytes, anything outside printable ASCII as '?'.
 * Returns buf. Never fails; O(len). */
const char *st_zsec_printable(const void *data, size_t n, char *buf, size_t len);

/* ------------------------------------------------------------------ */
/* ZAP handler (ZAP 1.0, RFC 27)                                      */

struct st_zap_stats {
	uint64_t allowed;	/* CURVE clients with a listed key: 200 */
	uint64_t denied;	/* unlisted key or other mechanism: 400 */
	uint64_t bad;		/* malformed requests: 500 (or dropped) */
};

struct st_zap {
	void *sock;		/* REP bound to ST_ZAP_ENDPOINT: poll it */
	/* Everything below is private to zsec.c. */
	struct st_zsec_allow *allow;
	uint64_t allowed, denied, bad;	/* updated with __atomic builtins */
	struct st_ratelimit rl;		/* refusals are logged through it */
	pthread_t thread;
	bool running;			/* the thread was started */
	bool stop;			/* read by the thread with __atomic */
};

/* Loads allow_file and binds a ZAP handler on zmq_ctx. Returns a handler
 * or NULL with errno (a loader errno, EADDRINUSE when the context already
 * has one, or zmq's errno) and err->msg set. */
struct st_zap *st_zap_create(void *zmq_ctx, const char *allow_file,
			     struct st_perr *err);

/* Answers every request waiting on zap->sock, without blocking (at most 64
 * per call so a flood cannot starve the caller's loop): 200 "OK" for a
 * CURVE client whose key is listed, with its Z85 key as user id; 400 for
 * any other (unlisted key, NULL or PLAIN mechanism); 500 for a malformed
 * request. The ZAP domain is not looked at: one allow-list serves every
 * socket of the context. Refusals are logged through a rate limit. Returns the number answered, or
 * a negative errno from zmq (-ETERM when the context is closing). Cost: a
 * few microseconds per request. Not for use while the thread runs. */
int st_zap_handle(struct st_zap *zap);

/* Runs st_zap_handle on a thread of its own until st_zap_destroy. After
 * this, the caller must not touch zap->sock. Returns 0, -EALREADY, or
 * -errno from pthread_create. */
int st_zap_start_thread(struct st_zap *zap);

/* Counters; safe while the thread runs. Never fails. */
void st_zap_get_stats(const struct st_zap *zap, struct st_zap_stats *out);

/* Stops the thread (within 100 ms), closes the socket and frees. Call
 * before zmq_ctx_term. NULL is ignored. */
void st_zap_destroy(struct st_zap *zap);

#endif
