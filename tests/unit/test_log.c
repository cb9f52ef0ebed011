/* Logging and time: levels filter, lines are whole, the rate limit holds
 * back and then reports what it held back, wall/monotonic conversions. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "clock.h"
#include "cunit_main.h"
#include "log.h"
#include "notify.h"

static int saved_stderr = -1;
static char capture_path[] = "/tmp/st_test_log_XXXXXX";
static int capture_fd = -1;

/* Redirects stderr into a temporary file for the duration of one check. */
static void capture_start(void)
{
	capture_fd = mkstemp(capture_path);
	CU_ASSERT_FATAL(capture_fd >= 0);
	saved_stderr = dup(STDERR_FILENO);
	dup2(capture_fd, STDERR_FILENO);
}

static size_t capture_end(char *buf, size_t len)
{
	ssize_t n;

	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	n = pread(capture_fd, buf, len - 1, 0);
	close(capture_fd);
	unlink(capture_path);
	strcpy(capture_path, "/tmp/st_test_log_XXXXXX");
	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_levels(void)
{
	char out[4096];

	st_log_init("/usr/bin/st-test", ST_LOG_WARN);
	capture_start();
	ST_ERR("disk %s", "gone");
	ST_WARN("queue %d full", 3);
	ST_INFO("not shown");
	ST_DEBUG("not shown either");
	capture_end(out, sizeof(out));
	CU_ASSERT_EQUAL(count_lines(out), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "st-test err: test_levels: disk gone\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "st-test warn: test_levels: queue 3 full\n"));
	CU_ASSERT_PTR_NULL(strstr(out, "not shown"));
	st_log_set_level(ST_LOG_NOTICE);
}

static void test_level_parse(void)
{
	enum st_log_level l = ST_LOG_ERR;

	CU_ASSERT_EQUAL(st_log_level_parse("debug", &l), 0);
	CU_ASSERT_EQUAL(l, ST_LOG_DEBUG);
	CU_ASSERT_EQUAL(st_log_level_parse("WARNING", &l), 0);
	CU_ASSERT_EQUAL(l, ST_LOG_WARN);
	CU_ASSERT_EQUAL(st_log_level_parse("3", &l), 0);
	CU_ASSERT_EQUAL(l, ST_LOG_INFO);
	CU_ASSERT_EQUAL(st_log_level_parse("loud", &l), -EINVAL);
	CU_ASSERT_EQUAL(l, ST_LOG_INFO);
}

static void test_long_line_and_errno(void)
{
	char big[3000], out[8192];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	capture_start();
	errno = ENOSPC;
	st_log(ST_LOG_ERR, "%s", big);
	CU_ASSERT_EQUAL(errno, ENOSPC); /* logging keeps errno for the caller */
	capture_end(out, sizeof(out));
	CU_ASSERT_EQUAL(count_lines(out), 1);
	CU_ASSERT(strlen(out) <= 1024);
	CU_ASSERT_EQUAL(out[strlen(out) - 1], '\n');
}

static void test_ratelimit(void)
{
	struct st_ratelimit rl = ST_RATELIMIT_INIT(60 * ST_NS_PER_S, 3);
	struct st_ratelimit fast = ST_RATELIMIT_INIT(1 * ST_NS_PER_MS, 1);
	uint64_t sup = 99;
	char out[4096];
	int ok = 0;

	for (int i = 0; i < 10; i++)
		ok += st_ratelimit_ok(&rl, &sup);
	CU_ASSERT_EQUAL(ok, 3);
	CU_ASSERT_EQUAL(rl.suppressed, 7);

	/* After the window, the next line carries the count held back. */
	CU_ASSERT_TRUE(st_ratelimit_ok(&fast, &sup));
	CU_ASSERT_FALSE(st_ratelimit_ok(&fast, &sup));
	CU_ASSERT_FALSE(st_ratelimit_ok(&fast, &sup));
	st_sleep_until_ns(st_mono_ns() + 2 * ST_NS_PER_MS);
	capture_start();
	st_log_rl(&fast, ST_LOG_ERR, "bad packet from %s", "198.18.0.1");
	st_log_rl(&fast, ST_LOG_ERR, "bad packet from %s", "198.18.0.2");
	capture_end(out, sizeof(out));
	CU_ASSERT_EQUAL(count_lines(out), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "bad packet from 198.18.0.1 (2 similar suppressed)"));
}

static void test_clock(void)
{
	struct st_clock_pair p;
	uint64_t m0, m1, w;
	char buf[40];

	m0 = st_mono_ns();
	st_sleep_until_ns(m0 + 5 * ST_NS_PER_MS);
	m1 = st_mono_ns();
	CU_ASSERT(m1 - m0 >= 5 * ST_NS_PER_MS);
	CU_ASSERT(m1 - m0 < 5 * ST_NS_PER_S);

	w = st_wall_ns();
	CU_ASSERT(w > 1700000000ULL * ST_NS_PER_S); /* after 2023 */
	st_clock_pair_now(&p);
	CU_ASSERT(st_clock_mono_to_wall(&p, p.mono_ns + 10) == p.wall_ns + 10);
	CU_ASSERT(st_clock_mono_to_wall(&p, p.mono_ns - 10) == p.wall_ns - 10);
	{
		uint64_t d = st_clock_mono_to_wall(&p, st_mono_ns());
		uint64_t now = st_wall_ns();
		uint64_t diff = d > now ? d - now : now - d;

		CU_ASSERT(diff < 50 * ST_NS_PER_MS);
	}
	CU_ASSERT_STRING_EQUAL(st_wall_fmt(1795521600123456789ULL, buf, sizeof(buf)),
			       "2026-11-24T12:00:00.123Z");
}

/* Readiness without libsystemd: the datagram systemd reads from
 * $NOTIFY_SOCKET, a path or an abstract name (@...); nothing outside
 * systemd; a name it cannot use refused. */
static void test_notify_socket(void)
{
	char path[64], abstract[64], buf[128];
	struct sockaddr_un sa;
	ssize_t n;
	int fd;

	for (int k = 0; k < 2; k++) {
		memset(&sa, 0, sizeof(sa));
		sa.sun_family = AF_UNIX;
		snprintf(path, sizeof(path), "/tmp/st-notify-%d", (int)getpid());
		snprintf(abstract, sizeof(abstract), "@st-notify-%d", (int)getpid());
		unlink(path);
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		CU_ASSERT_FATAL(fd >= 0);
		if (k == 0) {
			snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
			CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
			setenv("NOTIFY_SOCKET", path, 1);
		} else {
			memcpy(sa.sun_path + 1, abstract + 1, strlen(abstract) - 1);
			CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&sa,
					     (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
							 strlen(abstract))) == 0);
			setenv("NOTIFY_SOCKET", abstract, 1);
		}
		CU_ASSERT_EQUAL(st_notify_socket_send("READY=1\nSTATUS=up"), 1);
		n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		CU_ASSERT_EQUAL_FATAL(n, 17);
		buf[n] = '\0';
		CU_ASSERT_STRING_EQUAL(buf, "READY=1\nSTATUS=up");
		close(fd);
		unlink(path);
	}
	setenv("NOTIFY_SOCKET", "relative", 1);
	CU_ASSERT_EQUAL(st_notify_socket_send("READY=1"), -EINVAL);
	unsetenv("NOTIFY_SOCKET");
	CU_ASSERT_EQUAL(st_notify_socket_send("READY=1"), 0);
	CU_ASSERT_FALSE(st_notify_enabled());
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "levels filter lines", test_levels },
		{ "readiness to systemd without libsystemd", test_notify_socket },
		{ "level names", test_level_parse },
		{ "long lines and errno", test_long_line_and_errno },
		{ "rate limit", test_ratelimit },
		{ "clocks", test_clock },
		{ NULL, NULL },
	};

	return st_cu_add_suite("log", NULL, NULL, tests);
}
