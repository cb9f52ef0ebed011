/* CURVE key files, key generation and the ZAP handler over a real TCP
 * connection: a listed client gets messages, an unlisted or plain one
 * gets nothing, and a server without a handler admits no one. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include "clock.h"
#include "cunit_main.h"
#include "log.h"
#include "zsec.h"

static char tmpdir[] = "/tmp/st_test_zsec_XXXXXX";

static const char *tpath(const char *name)
{
	static char buf[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, name);
	return buf[i];
}

static void write_file(const char *name, const void *data, size_t len)
{
	int fd = open(tpath(name), O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, data, len) == (ssize_t)len);
	close(fd);
}

static void write_text(const char *name, const char *text)
{
	write_file(name, text, strlen(text));
}

static int suite_init(void)
{
	st_log_init("test_zsec", ST_LOG_ERR);
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_clean(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			unlink(tpath(e->d_name));
	closedir(d);
	return rmdir(tmpdir);
}

/* A fresh key pair as Z85 text. */
static void keypair(char pub[41], char sec[41])
{
	CU_ASSERT_FATAL(zmq_curve_keypair(pub, sec) == 0);
}


/* ------------------------------------------------------------------ */

static void test_z85(void)
{
	char pub[41], sec[41];
	uint8_t raw[32], back[32];
	char z[41];

	keypair(pub, sec);
	CU_ASSERT_TRUE(st_zsec_z85_key(pub, raw));
	CU_ASSERT_PTR_NOT_NULL(zmq_z85_decode(back, pub));
	CU_ASSERT_EQUAL(memcmp(raw, back, 32), 0);
	CU_ASSERT_PTR_NOT_NULL(zmq_z85_encode(z, raw, 32));
	CU_ASSERT_STRING_EQUAL(z, pub);

	CU_ASSERT_FALSE(st_zsec_z85_key(NULL, NULL));
	CU_ASSERT_FALSE(st_zsec_z85_key("", NULL));
	memcpy(z, pub, 41);
	z[39] = '\0';
	CU_ASSERT_FALSE(st_zsec_z85_key(z, NULL));		/* 39 chars */
	CU_ASSERT_FALSE(st_zsec_z85_key("0123456789012345678901234567890123456789X",
					NULL));			/* 41 chars */
	memcpy(z, pub, 41);
	z[7] = '"';						/* not Z85 */
	CU_ASSERT_FALSE(st_zsec_z85_key(z, NULL));
	z[7] = ' ';
	CU_ASSERT_FALSE(st_zsec_z85_key(z, NULL));
	/* "#####" is 85^5 - 1, above 2^32 - 1: not a valid group. */
	memcpy(z, pub, 41);
	memcpy(z + 10, "#####", 5);
	CU_ASSERT_FALSE(st_zsec_z85_key(z, NULL));
	/* The largest valid group, 2^32 - 1, is "%nSc0". */
	memcpy(z + 10, "%nSc0", 5);
	CU_ASSERT_TRUE(st_zsec_z85_key(z, raw));
	CU_ASSERT(raw[8] == 0xff && raw[9] == 0xff && raw[10] == 0xff &&
		  raw[11] == 0xff);
	memcpy(z + 10, "%nSc1", 5);
	CU_ASSERT_FALSE(st_zsec_z85_key(z, NULL));
}

static void test_keypair_good(void)
{
	struct st_zsec_keypair kp;
	struct st_perr err = { "" };
	char pub[41], sec[41], text[512];

	keypair(pub, sec);
	/* Comments, blanks, CRLF, tabs, a trailing comment, any order. */
	snprintf(text, sizeof(text),
		 "# comment\r\n\r\n   \t\nsecret\t=\t%s   # mine\r\n"
		 "  # indented comment\npublic=%s", sec, pub);
	write_text("good.key", text);
	CU_ASSERT_EQUAL(st_zsec_load_keypair(tpath("good.key"), &kp, &err), 0);
	CU_ASSERT_STRING_EQUAL(kp.public_z85, pub);
	CU_ASSERT_STRING_EQUAL(kp.secret_z85, sec);

	char z[41];

	CU_ASSERT_EQUAL(st_zsec_load_public(tpath("good.key"), z, &err), 0);
	CU_ASSERT_STRING_EQUAL(z, pub);

	/* A key pair others can read still loads (with a warning in the
	 * log): refusing would turn a copied file into an outage. */
	CU_ASSERT_EQUAL(chmod(tpath("good.key"), 0644), 0);
	CU_ASSERT_EQUAL(st_zsec_load_keypair(tpath("good.key"), &kp, &err), 0);
}

/* Loads name and expects rc with a message that contains want. */
static void expect_kp_error(const char *name, int rc, const char *want)
{
	struct st_zsec_keypair kp;
	struct st_perr err = { "" };

	CU_ASSERT_EQUAL(st_zsec_load_keypair(tpath(name), &kp, &err), rc);
	if (strstr(err.msg, want) == NULL) {
		fprintf(stderr, "\n  %s: got '%s', want '%s'\n", name, err.msg,
			want);
		CU_FAIL("error message");
	}
	/* Nothing half-loaded is left behind. */
	CU_ASSERT_EQUAL(kp.secret_z85[0], '\0');
}

static void test_keypair_bad(void)
{
	char pub[41], sec[41], pub2[41], sec2[41], text[1024];
	char want[600];

	keypair(pub, sec);
	keypair(pub2, sec2);

	snprintf(text, sizeof(text), "public = %s\n", pub);
	write_text("nosecret.key", text);
	expect_kp_error("nosecret.key", -EINVAL, "no 'secret = <key>' line");

	snprintf(text, sizeof(text), "secret = %s\n", sec);
	write_text("nopublic.key", text);
	expect_kp_error("nopublic.key", -EINVAL, "no 'public = <key>' line");

	write_text("empty.key", "");
	expect_kp_error("empty.key", -EINVAL, "no 'public");

	snprintf(text, sizeof(text), "public = %s\n\nsecret = %.39s\"\n", pub, sec);
	write_text("badz85.key", text);
	snprintf(want, sizeof(want), "%s:3: 'secret' is not a 40-character Z85 key",
		 tpath("badz85.key"));
	expect_kp_error("badz85.key", -EINVAL, want);
	/* The message never echoes a secret. */
	{
		struct st_zsec_keypair kp;
		struct st_perr err;

		st_zsec_load_keypair(tpath("badz85.key"), &kp, &err);
		CU_ASSERT_PTR_NULL(strstr(err.msg, "= "));
		CU_ASSERT_PTR_NULL(strstr(err.msg, pub));
	}

	snprintf(text, sizeof(text), "public = %s\nsecret = %sX\n", pub, sec);
	write_text("long.key", text);
	expect_kp_error("long.key", -EINVAL, ":2: 'secret' is not a 40-character");

	snprintf(text, sizeof(text), "public = %s\npublic = %s\nsecret = %s\n",
		 pub, pub, sec);
	write_text("dup.key", text);
	expect_kp_error("dup.key", -EINVAL, ":2: second 'public' line (first on line 1)");

	snprintf(text, sizeof(text), "public = %s\nsecret = %s\n", pub2, sec);
	write_text("mismatch.key", text);
	expect_kp_error("mismatch.key", -EINVAL, ":1: public key does not belong");

	snprintf(text, sizeof(text), "public = %s\nsecret = %s\nkind = x\n", pub, sec);
	write_text("unknown.key", text);
	expect_kp_error("unknown.key", -EINVAL, ":3: unknown name 'kind'");

	snprintf(text, sizeof(text), "%s\n", pub);
	write_text("bare.key", text);
	/* Z85 has '=' in its alphabet: a bare key may read as "name = value"
	 * and be refused as an unknown name instead. Either way, line 1. */
	expect_kp_error("bare.key", -EINVAL, "bare.key:1: ");

	snprintf(text, sizeof(text), "public = %s extra\nsecret = %s\n", pub, sec);
	write_text("trailing.key", text);
	expect_kp_error("trailing.key", -EINVAL, ":1: unexpected text after the key");

	expect_kp_error("does-not-exist.key", -ENOENT, "No such file");
	{
		struct st_zsec_keypair kp;
		struct st_perr err;

		CU_ASSERT_EQUAL(st_zsec_load_keypair(tmpdir, &kp, &err), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not a regular file"));
		CU_ASSERT_EQUAL(st_zsec_load_keypair("/dev/zero", &kp, &err),
				-EINVAL);
	}
}

static void test_hostile_files(void)
{
	static char big[ST_ZSEC_FILE_MAX + 10];
	char pub[41], sec[41], text[512];
	unsigned int seed = 1;

	keypair(pub, sec);

	/* A line longer than the limit, even inside a comment. */
	memset(big, 'a', sizeof(big));
	big[0] = '#';
	big[ST_ZSEC_LINE_MAX + 1] = '\n';
	write_file("longline.key", big, ST_ZSEC_LINE_MAX + 2);
	expect_kp_error("longline.key", -EINVAL, ":1: line longer than 256 bytes");

	/* A file larger than the limit, refused before it is parsed. */
	memset(big, '\n', sizeof(big));
	write_file("big.key", big, sizeof(big));
	expect_kp_error("big.key", -EFBIG, "larger than");

	/* NUL bytes. */
	snprintf(text, sizeof(text), "public = %s\nsecret = %s\n", pub, sec);
	text[60] = '\0';
	write_file("nul.key", text, strlen(text + 61) + 61);
	expect_kp_error("nul.key", -EINVAL, ":2: NUL byte");

	/* Random bytes: refused (or, very rarely, parsed), never a crash. */
	for (int round = 0; round < 200; round++) {
		struct st_zsec_keypair kp;
		struct st_perr err;
		struct st_zsec_allow *a;
		size_t n = (size_t)(rand_r(&seed) % 600);

		for (size_t i = 0; i < n; i++) {
			int r = rand_r(&seed);

			/* Mostly Z85 text, '=', blanks and newlines. */
			big[i] = (r & 3) == 0 ? (char)(r >> 8) :
				 (r & 3) == 1 ? "= \n#\t\r"[(r >> 8) % 6] :
				 "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
				 "OPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"[(r >> 8) % 85];
		}
		write_file("random", big, n);
		st_zsec_load_keypair(tpath("random"), &kp, &err);
		a = st_zsec_allow_load(tpath("random"), &err);
		st_zsec_allow_free(a);
	}
}

static void test_allow_list(void)
{
	char pub[4][41], sec[41], text[2048];
	uint8_t raw[32];
	struct st_perr err = { "" };
	struct st_zsec_allow *a;

	for (int i = 0; i < 4; i++)
		keypair(pub[i], sec);
	/* Bare keys, a .pub style line, trailing comments, duplicates. */
	snprintf(text, sizeof(text),
		 "# operators\n%s\n\n  %s   # alice\r\n"
		 "# bob, from bob.pub:\npublic = %s\n%s\n", pub[0], pub[1],
		 pub[2], pub[0]);
	write_text("allow", text);
	a = st_zsec_allow_load(tpath("allow"), &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(st_zsec_allow_count(a), 4);
	for (int i = 0; i < 4; i++) {
		CU_ASSERT_TRUE(st_zsec_z85_key(pub[i], raw));
		CU_ASSERT_EQUAL(st_zsec_allow_has(a, raw), i < 3);
	}
	st_zsec_allow_free(a);

	/* An empty list is valid and admits no one. */
	write_text("allow-empty", "# nobody\n\n");
	a = st_zsec_allow_load(tpath("allow-empty"), &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(st_zsec_allow_count(a), 0);
	CU_ASSERT_FALSE(st_zsec_allow_has(a, raw));
	st_zsec_allow_free(a);

	/* A secret line has no business in an allow-list. */
	snprintf(text, sizeof(text), "%s\nsecret = %s\n", pub[0], sec);
	write_text("allow-secret", text);
	errno = 0;
	CU_ASSERT_PTR_NULL(st_zsec_allow_load(tpath("allow-secret"), &err));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, ":2: unknown name 'secret'"));

	/* A fixed short key: half of a random one may hold '=' or '#', which
	 * the reader takes for a name or a comment (a different refusal). */
	snprintf(text, sizeof(text), "%s\n%s\n", pub[0], "0123456789abcdefghij");
	write_text("allow-short", text);
	CU_ASSERT_PTR_NULL(st_zsec_allow_load(tpath("allow-short"), &err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, ":2: expected a 40-character Z85 key"));

	snprintf(text, sizeof(text), "%s trailing\n", pub[0]);
	write_text("allow-trailing", text);
	CU_ASSERT_PTR_NULL(st_zsec_allow_load(tpath("allow-trailing"), &err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, ":1: "));

	snprintf(text, sizeof(text), "public = %.39s\n", pub[0]);
	write_text("allow-badpub", text);
	CU_ASSERT_PTR_NULL(st_zsec_allow_load(tpath("allow-badpub"), &err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, ":1: not a 40-character Z85 key"));
}

static void test_allow_too_many(void)
{
	size_t cap = (ST_ZSEC_MAX_KEYS + 1) * 41;
	char *text = malloc(cap + 1), pub[41], sec[41];
	struct st_perr err = { "" };
	struct st_zsec_allow *a;
	uint8_t raw[32];

	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	for (int i = 0; i <= ST_ZSEC_MAX_KEYS; i++) {
		keypair(pub, sec);
		memcpy(text + (size_t)i * 41, pub, 40);
		text[(size_t)i * 41 + 40] = '\n';
	}
	/* Exactly the maximum loads, and every key is found. */
	write_file("allow-max", text, (size_t)ST_ZSEC_MAX_KEYS * 41);
	a = st_zsec_allow_load(tpath("allow-max"), &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(st_zsec_allow_count(a), ST_ZSEC_MAX_KEYS);
	for (int i = 0; i < ST_ZSEC_MAX_KEYS; i++) {
		text[(size_t)i * 41 + 40] = '\0';
		CU_ASSERT_TRUE(st_zsec_z85_key(text + (size_t)i * 41, raw));
		CU_ASSERT_TRUE(st_zsec_allow_has(a, raw));
		text[(size_t)i * 41 + 40] = '\n';
	}
	st_zsec_allow_free(a);
	/* One more is refused with the line that overflowed. */
	write_file("allow-over", text, cap);
	errno = 0;
	CU_ASSERT_PTR_NULL(st_zsec_allow_load(tpath("allow-over"), &err));
	CU_ASSERT_EQUAL(errno, E2BIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, ":1025: more than 1024 keys"));
	free(text);
}

static void test_keygen(void)
{
	struct st_zsec_keypair kp, kp2;
	struct st_perr err = { "" };
	char z[41];
	struct stat st;

	CU_ASSERT_EQUAL(st_zsec_keygen(tpath("gen"), &err), 0);
	CU_ASSERT_EQUAL(stat(tpath("gen.key"), &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	CU_ASSERT_EQUAL(st_zsec_load_keypair(tpath("gen.key"), &kp, &err), 0);
	CU_ASSERT_EQUAL(st_zsec_load_public(tpath("gen.pub"), z, &err), 0);
	CU_ASSERT_STRING_EQUAL(z, kp.public_z85);
	/* The .pub has no secret in it, and is not a key pair. */
	CU_ASSERT_EQUAL(st_zsec_load_keypair(tpath("gen.pub"), &kp2, &err), -EINVAL);
	/* The .pub is a valid allow-list. */
	{
		struct st_zsec_allow *a = st_zsec_allow_load(tpath("gen.pub"), &err);
		uint8_t raw[32];

		CU_ASSERT_PTR_NOT_NULL_FATAL(a);
		CU_ASSERT_TRUE(st_zsec_z85_key(kp.public_z85, raw));
		CU_ASSERT_TRUE(st_zsec_allow_has(a, raw));
		st_zsec_allow_free(a);
	}
	/* Never overwrites: both files keep the first pair. */
	CU_ASSERT_EQUAL(st_zsec_keygen(tpath("gen"), &err), -EEXIST);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "never overwritten"));
	CU_ASSERT_EQUAL(st_zsec_load_keypair(tpath("gen.key"), &kp2, &err), 0);
	CU_ASSERT_STRING_EQUAL(kp2.secret_z85, kp.secret_z85);
	/* A .pub alone in the way: the .key made first is removed again. */
	write_text("gen2.pub", "x\n");
	CU_ASSERT_EQUAL(st_zsec_keygen(tpath("gen2"), &err), -EEXIST);
	CU_ASSERT_NOT_EQUAL(access(tpath("gen2.key"), F_OK), 0);
	CU_ASSERT_EQUAL(st_zsec_keygen(tpath("no-such-dir/x"), &err), -ENOENT);
	CU_ASSERT_EQUAL(st_zsec_keygen("", &err), -EINVAL);
}

/* ------------------------------------------------------------------ */
/* Real CURVE over TCP                                                */

struct peer {
	void *sock;
	int got;
};

static void *make_sub(void *ctx, const char *ep, const char *server_key,
		      const char *key_file)
{
	void *s = zmq_socket(ctx, ZMQ_SUB);
	int zero = 0;
	struct st_perr err = { "" };

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	if (server_key)
		CU_ASSERT_EQUAL(st_zsec_client_setup(s, server_key, key_file,
						     &err), 0);
	CU_ASSERT_EQUAL(zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0), 0);
	CU_ASSERT_EQUAL(zmq_connect(s, ep), 0);
	return s;
}

/* Publishes every 10 ms for `ms`, serving ZAP (when zap is polled here),
 * and counts what each sub receives. */
static void pump(void *pub, struct st_zap *zap, struct peer *subs, int n,
		 int ms)
{
	uint64_t end = st_mono_ns() + (uint64_t)ms * 1000000ull;
	zmq_pollitem_t items[8];
	int ni;

	while (st_mono_ns() < end) {
		ni = 0;
		for (int i = 0; i < n; i++)
			items[ni++] = (zmq_pollitem_t){ .socket = subs[i].sock,
							.events = ZMQ_POLLIN };
		if (zap)
			items[ni++] = (zmq_pollitem_t){ .socket = zap->sock,
							.events = ZMQ_POLLIN };
		zmq_send(pub, "kpi.web.prod", 12, ZMQ_SNDMORE);
		zmq_send(pub, "\x81\xa1v\x01", 4, 0);
		if (zmq_poll(items, ni, 10) < 0)
			break;
		if (zap && (items[ni - 1].revents & ZMQ_POLLIN))
			CU_ASSERT(st_zap_handle(zap) >= 0);
		for (int i = 0; i < n; i++) {
			char buf[64];

			while (zmq_recv(subs[i].sock, buf, sizeof(buf),
					ZMQ_DONTWAIT) >= 0)
				subs[i].got++;
		}
	}
}

static void *make_pub(void *ctx, char *ep, size_t ep_len)
{
	void *pub = zmq_socket(ctx, ZMQ_PUB);
	struct st_perr err = { "" };
	int zero = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
	zmq_setsockopt(pub, ZMQ_LINGER, &zero, sizeof(zero));
	CU_ASSERT_EQUAL_FATAL(st_zsec_server_setup(pub, tpath("server.key"),
						   NULL, &err), 0);
	CU_ASSERT_EQUAL_FATAL(zmq_bind(pub, "tcp://127.0.0.1:*"), 0);
	CU_ASSERT_EQUAL_FATAL(zmq_getsockopt(pub, ZMQ_LAST_ENDPOINT, ep,
					     &ep_len), 0);
	return pub;
}

static void make_keys(void)
{
	struct st_perr err = { "" };
	char pub[41], sec[41], text[128];

	if (access(tpath("server.key"), F_OK) == 0)
		return;
	CU_ASSERT_EQUAL_FATAL(st_zsec_keygen(tpath("server"), &err), 0);
	CU_ASSERT_EQUAL_FATAL(st_zsec_keygen(tpath("alice"), &err), 0);
	CU_ASSERT_EQUAL_FATAL(st_zsec_keygen(tpath("mallory"), &err), 0);
	/* The allow-list: alice's .pub and one unrelated key. */
	keypair(pub, sec);
	snprintf(text, sizeof(text), "%s\n", pub);
	write_text("allow.list", text);
	{
		struct st_zsec_keypair kp;
		FILE *f;

		CU_ASSERT_EQUAL_FATAL(st_zsec_load_keypair(tpath("alice.key"),
							   &kp, &err), 0);
		f = fopen(tpath("allow.list"), "a");
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		fprintf(f, "public = %s   # alice\n", kp.public_z85);
		fclose(f);
	}
}

static void test_curve_pollable_zap(void)
{
	struct st_perr err = { "" };
	struct st_zap_stats st;
	struct peer subs[3];
	struct st_zap *zap;
	char ep[128];
	void *ctx, *pub;

	make_keys();
	ctx = zmq_ctx_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	zap = st_zap_create(ctx, tpath("allow.list"), &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(zap);
	/* A second handler on the same context is refused. */
	CU_ASSERT_PTR_NULL(st_zap_create(ctx, tpath("allow.list"), &err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "already has a ZAP handler"));

	pub = make_pub(ctx, ep, sizeof(ep));
	/* Server key given as a .pub path, as Z85 text, and a plain SUB. */
	subs[0].sock = make_sub(ctx, ep, tpath("server.pub"), tpath("alice.key"));
	{
		char z[41];

		CU_ASSERT_EQUAL(st_zsec_load_public(tpath("server.pub"), z, &err), 0);
		subs[1].sock = make_sub(ctx, ep, z, tpath("mallory.key"));
	}
	subs[2].sock = make_sub(ctx, ep, NULL, NULL);
	for (int i = 0; i < 3; i++)
		subs[i].got = 0;

	/* Until alice has several messages, then on a while: the others had
	 * the same chances. */
	for (int i = 0; i < 300 && subs[0].got < 5; i++)
		pump(pub, zap, subs, 3, 10);
	pump(pub, zap, subs, 3, 500);
	CU_ASSERT(subs[0].got >= 5);
	CU_ASSERT_EQUAL(subs[1].got, 0);
	CU_ASSERT_EQUAL(subs[2].got, 0);
	st_zap_get_stats(zap, &st);
	CU_ASSERT(st.allowed >= 1);
	CU_ASSERT(st.denied >= 1);	/* mallory, at least once */
	CU_ASSERT_EQUAL(st.bad, 0);

	for (int i = 0; i < 3; i++)
		zmq_close(subs[i].sock);
	zmq_close(pub);
	st_zap_destroy(zap);
	zmq_ctx_term(ctx);
}

static void test_curve_zap_thread(void)
{
	struct st_perr err = { "" };
	struct st_zap_stats st;
	struct peer subs[2];
	struct st_zap *zap;
	char ep[128];
	void *ctx, *pub;

	make_keys();
	ctx = zmq_ctx_new();
	zap = st_zap_create(ctx, tpath("allow.list"), &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(zap);
	CU_ASSERT_EQUAL(st_zap_start_thread(zap), 0);
	CU_ASSERT_EQUAL(st_zap_start_thread(zap), -EALREADY);
	pub = make_pub(ctx, ep, sizeof(ep));
	subs[0].sock = make_sub(ctx, ep, tpath("server.key"), tpath("alice.key"));
	subs[1].sock = make_sub(ctx, ep, tpath("server.pub"), tpath("mallory.key"));
	subs[0].got = subs[1].got = 0;
	for (int i = 0; i < 300 && subs[0].got < 5; i++)
		pump(pub, NULL, subs, 2, 10);
	pump(pub, NULL, subs, 2, 300);
	CU_ASSERT(subs[0].got >= 5);
	CU_ASSERT_EQUAL(subs[1].got, 0);
	st_zap_get_stats(zap, &st);
	CU_ASSERT(st.allowed >= 1);
	CU_ASSERT(st.denied >= 1);
	for (int i = 0; i < 2; i++)
		zmq_close(subs[i].sock);
	zmq_close(pub);
	st_zap_destroy(zap);
	zmq_ctx_term(ctx);
}

/* A CURVE server whose context has no handler admits no one (libzmq's
 * ZMQ_ZAP_ENFORCE_DOMAIN); where the library lacks that DRAFT option,
 * it would admit anyone, which is why the handler is mandatory. */
static void test_curve_no_handler(void)
{
	struct peer subs[1];
	char ep[128];
	void *ctx, *pub, *probe;
	int one = 1;

	make_keys();
	ctx = zmq_ctx_new();
	probe = zmq_socket(ctx, ZMQ_PUB);
	if (zmq_setsockopt(probe, 93, &one, sizeof(one)) != 0) {
		fprintf(stderr, "\n  libzmq lacks ZMQ_ZAP_ENFORCE_DOMAIN: skipped\n");
		zmq_close(probe);
		zmq_ctx_term(ctx);
		return;
	}
	zmq_close(probe);
	pub = make_pub(ctx, ep, sizeof(ep));
	subs[0].sock = make_sub(ctx, ep, tpath("server.pub"), tpath("alice.key"));
	subs[0].got = 0;
	pump(pub, NULL, subs, 1, 500);
	CU_ASSERT_EQUAL(subs[0].got, 0);
	zmq_close(subs[0].sock);
	zmq_close(pub);
	zmq_ctx_term(ctx);
}

/* A malformed request on the ZAP endpoint gets a 500, not a crash. */
static void test_zap_malformed(void)
{
	struct st_perr err = { "" };
	struct st_zap_stats st;
	struct st_zap *zap;
	void *ctx, *req;
	char buf[64];
	int more, zero = 0;
	size_t ml;
	uint8_t key[32];
	struct st_zsec_keypair kp;

	make_keys();
	ctx = zmq_ctx_new();
	zap = st_zap_create(ctx, tpath("allow.list"), &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(zap);
	req = zmq_socket(ctx, ZMQ_REQ);
	zmq_setsockopt(req, ZMQ_LINGER, &zero, sizeof(zero));
	CU_ASSERT_EQUAL(zmq_connect(req, ST_ZAP_ENDPOINT), 0);

	/* One frame only. */
	zmq_send(req, "2.0", 3, 0);
	CU_ASSERT_EQUAL(zmq_poll(&(zmq_pollitem_t){ .socket = zap->sock,
						     .events = ZMQ_POLLIN }, 1, 1000), 1);
	CU_ASSERT_EQUAL(st_zap_handle(zap), 1);
	int frames = 0;
	char code[8] = "";

	do {
		int n = zmq_recv(req, buf, sizeof(buf), 0);

		CU_ASSERT_FATAL(n >= 0);
		if (frames == 2)
			snprintf(code, sizeof(code), "%.*s", n, buf);
		frames++;
		ml = sizeof(more);
		zmq_getsockopt(req, ZMQ_RCVMORE, &more, &ml);
	} while (more);
	CU_ASSERT_EQUAL(frames, 6);
	CU_ASSERT_STRING_EQUAL(code, "500");

	/* A well-formed request by hand: alice's key is admitted. */
	CU_ASSERT_EQUAL(st_zsec_load_keypair(tpath("alice.key"), &kp, &err), 0);
	st_zsec_z85_key(kp.public_z85, key);
	const char *fr[] = { "1.0", "7", "shadowtap", "127.0.0.1", "", "CURVE" };

	for (int i = 0; i < 6; i++)
		zmq_send(req, fr[i], strlen(fr[i]), ZMQ_SNDMORE);
	zmq_send(req, key, 32, 0);
	zmq_poll(&(zmq_pollitem_t){ .socket = zap->sock, .events = ZMQ_POLLIN },
		 1, 1000);
	CU_ASSERT_EQUAL(st_zap_handle(zap), 1);
	frames = 0;
	do {
		int n = zmq_recv(req, buf, sizeof(buf), 0);

		CU_ASSERT_FATAL(n >= 0);
		if (frames == 1)
			CU_ASSERT(n == 1 && buf[0] == '7');
		if (frames == 2)
			snprintf(code, sizeof(code), "%.*s", n, buf);
		if (frames == 4)
			CU_ASSERT(n == 40 && memcmp(buf, kp.public_z85, 40) == 0);
		frames++;
		ml = sizeof(more);
		zmq_getsockopt(req, ZMQ_RCVMORE, &more, &ml);
	} while (more);
	CU_ASSERT_EQUAL(frames, 6);
	CU_ASSERT_STRING_EQUAL(code, "200");

	/* PLAIN or NULL mechanisms are refused. */
	const char *fr2[] = { "1.0", "8", "shadowtap", "127.0.0.1", "", "NULL" };

	for (int i = 0; i < 5; i++)
		zmq_send(req, fr2[i], strlen(fr2[i]), ZMQ_SNDMORE);
	zmq_send(req, fr2[5], strlen(fr2[5]), 0);
	zmq_poll(&(zmq_pollitem_t){ .socket = zap->sock, .events = ZMQ_POLLIN },
		 1, 1000);
	CU_ASSERT_EQUAL(st_zap_handle(zap), 1);
	frames = 0;
	do {
		int n = zmq_recv(req, buf, sizeof(buf), 0);

		CU_ASSERT_FATAL(n >= 0);
		if (frames == 2)
			snprintf(code, sizeof(code), "%.*s", n, buf);
		frames++;
		ml = sizeof(more);
		zmq_getsockopt(req, ZMQ_RCVMORE, &more, &ml);
	} while (more);
	CU_ASSERT_STRING_EQUAL(code, "400");
	CU_ASSERT_EQUAL(st_zap_handle(zap), 0);	/* nothing waiting */

	st_zap_get_stats(zap, &st);
	CU_ASSERT_EQUAL(st.bad, 1);
	CU_ASSERT_EQUAL(st.allowed, 1);
	CU_ASSERT_EQUAL(st.denied, 1);
	zmq_close(req);
	st_zap_destroy(zap);
	zmq_ctx_term(ctx);
}

static void test_client_setup_errors(void)
{
	struct st_perr err = { "" };
	void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_SUB);

	make_keys();
	CU_ASSERT_EQUAL(st_zsec_client_setup(s, "nonsense", tpath("alice.key"),
					     &err), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "nonsense"));
	CU_ASSERT_EQUAL(st_zsec_client_setup(s, tpath("server.pub"), NULL, &err),
			-EINVAL);
	CU_ASSERT_EQUAL(st_zsec_client_setup(s, tpath("server.pub"),
					     tpath("alice.pub"), &err), -EINVAL);
	CU_ASSERT_EQUAL(st_zsec_server_setup(s, tpath("nope.key"), NULL, &err),
			-ENOENT);
	zmq_close(s);
	zmq_ctx_term(ctx);
}

/* A peer's bytes become a log-safe string: cut to the buffer, anything
 * outside printable ASCII shown as '?'. */
static void test_printable(void)
{
	const uint8_t in[] = { 'k', 'p', 'i', '.', 0x00, 0x1b, '\n', 0x7f, 0xff, '~', ' ' };
	char buf[16], small[5];

	CU_ASSERT_STRING_EQUAL(st_zsec_printable(in, sizeof(in), buf, sizeof(buf)),
			       "kpi.?????~ ");
	CU_ASSERT_STRING_EQUAL(st_zsec_printable(in, sizeof(in), small, sizeof(small)), "kpi.");
	CU_ASSERT_STRING_EQUAL(st_zsec_printable(in, 0, buf, sizeof(buf)), "");
	CU_ASSERT_PTR_EQUAL(st_zsec_printable(in, 3, buf, 1), buf);
	CU_ASSERT_STRING_EQUAL(buf, "");
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "z85 keys", test_z85 },
		{ "key pair file", test_keypair_good },
		{ "key pair errors", test_keypair_bad },
		{ "hostile files", test_hostile_files },
		{ "allow-list", test_allow_list },
		{ "allow-list limit", test_allow_too_many },
		{ "keygen round trip", test_keygen },
		{ "curve + pollable zap", test_curve_pollable_zap },
		{ "curve + zap thread", test_curve_zap_thread },
		{ "curve without handler", test_curve_no_handler },
		{ "zap malformed requests", test_zap_malformed },
		{ "client setup errors", test_client_setup_errors },
		{ "printable", test_printable },
		{ NULL, NULL },
	};

	return st_cu_add_suite("zsec", suite_init, suite_clean, tests);
}
