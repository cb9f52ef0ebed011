/* A UDP echo server for the tests and the demo: answers every datagram
 * after a fixed delay (the known latency the timing tests measure; 0
 * answers at once). With one delay for all, answers leave in arrival order,
 * so a FIFO of pending answers is the whole scheduler and a slow answer
 * never queues the next. With "serial", DELAY_MS is a service time instead:
 * one request at a time, each occupying the server for DELAY_MS, so load
 * queues as on a real, saturable instance (an M/D/1 server). "serial-exp"
 * draws each service time from an exponential distribution of mean DELAY_MS
 * (M/M/1), "serial-bimodal" serves 90% of requests in DELAY_MS and 10% in
 * eight times that (a heavy-tailed M/G/1). On SIGTERM it writes the flows it
 * saw ("ip port" per request) to LOGFILE, and it creates LOGFILE.ready once
 * it listens. On SIGUSR1 it writes what it saw since the last SIGUSR1 (or
 * the start) to LOGFILE (whole: written beside it, then renamed) and starts
 * a new log.
 *
 * -s logs each request's sequence number as a third field: N of a payload
 * "q<N>" (scripts/demo/udp_load.py numbers its requests so), "-" for any
 * other payload; lines in arrival order, so a test reads loss, bursts,
 * duplicates and reordering off what the server got. It also asks for a
 * 4 MiB receive buffer (SO_RCVBUFFORCE as root, else SO_RCVBUF), so that a
 * busy machine's scheduler does not add losses of its own to the log.
 *
 *   udp_echo [-s] ADDR PORT DELAY_MS LOGFILE [serial|serial-exp|serial-bimodal] */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define QMAX 65536
#define LOGMAX (1 << 20)
#define LINEMAX 96

struct pending {
	uint64_t due;
	struct sockaddr_storage peer;
	socklen_t plen;
	uint16_t len;
	char data[1500];
};

static volatile sig_atomic_t stop, dump;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void on_usr1(int sig)
{
	(void)sig;
	dump = 1;
}

/* Writes lines[0..n) to path, whole: beside it first, then renamed, so a
 * reader never sees half a log. Returns 0 or -1. */
static int write_log(const char *path, char (*lines)[LINEMAX], size_t n)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\n", lines[i]);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

/* The sequence number of a "q<N>" payload as text, or "-". */
static void seq_of(const char *d, ssize_t n, char *out, size_t len)
{
	ssize_t i = 1;

	while (i < n && i < 21 && d[i] >= '0' && d[i] <= '9')
		i++;
	if (n < 2 || d[0] != 'q' || i == 1 || i != n) {
		snprintf(out, len, "-");
		return;
	}
	snprintf(out, len, "%.*s", (int)(i - 1), d + 1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: a uniform in (0, 1). */
static double uniform(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return ((double)((*s * 0x2545f4914f6cdd1dULL) >> 11) + 0.5) / 9007199254740992.0;
}

static uint64_t service_time(int mode, uint64_t mean, uint64_t *rng)
{
	switch (mode) {
	case 2:
		return (uint64_t)(-log(uniform(rng)) * (double)mean);
	case 3:
		return uniform(rng) < 0.1 ? 8 * mean : mean;
	default:
		return mean;
	}
}

int main(int argc, char **argv)
{
	static struct pending q[QMAX];
	static char seen[LOGMAX][LINEMAX];
	struct sockaddr_storage bind_addr;
	size_t head = 0, tail = 0, n_seen = 0;
	uint64_t delay, busy_until = 0, rng;
	int fd, family, serial, seqlog = 0;
	FILE *f;
	char ready[4096];

	static const char *const modes[] = { "serial", "serial-exp", "serial-bimodal" };

	if (argc > 1 && strcmp(argv[1], "-s") == 0) {
		seqlog = 1;
		argv++;
		argc--;
	}
	serial = 0;
	for (int i = 0; argc == 6 && i < 3; i++)
		if (strcmp(argv[5], modes[i]) == 0)
			serial = i + 1;
	if (argc != 5 && serial == 0) {
		fprintf(stderr,
			"usage: udp_echo [-s] ADDR PORT DELAY_MS LOGFILE [serial|serial-exp|serial-bimodal]\n");
		return 2;
	}
	rng = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^ now_ns();
	delay = (uint64_t)(atof(argv[3]) * 1e6);
	memset(&bind_addr, 0, sizeof(bind_addr));
	if (strchr(argv[1], ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&bind_addr;

		family = a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)atoi(argv[2]));
		inet_pton(AF_INET6, argv[1], &a->sin6_addr);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&bind_addr;

		family = a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)atoi(argv[2]));
		inet_pton(AF_INET, argv[1], &a->sin_addr);
	}
	fd = socket(family, SOCK_DGRAM, 0);
	/* Several servers on one address share its datagrams by flow hash
	 * (SO_REUSEPORT): instances behind one load-balanced address. */
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &(int){ 1 }, sizeof(int));
	if (fd < 0 || bind(fd, (struct sockaddr *)&bind_addr, family == AF_INET ?
			   sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) < 0) {
		perror("udp_echo: bind");
		return 1;
	}
	if (seqlog) {
		int sz = 4 << 20;

		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) != 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGUSR1, on_usr1);
	snprintf(ready, sizeof(ready), "%s.ready", argv[4]);
	f = fopen(ready, "w");
	if (f)
		fclose(f);
	while (!stop) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = now_ns(), wait = 200000000ULL;
		struct timespec tmo;

		if (dump) {
			dump = 0;
			if (write_log(argv[4], seen, n_seen) != 0)
				perror("udp_echo: log");
			n_seen = 0;
		}
		while (head != tail && q[head % QMAX].due <= now) {
			struct pending *e = &q[head % QMAX];

			sendto(fd, e->data, e->len, 0, (struct sockaddr *)&e->peer, e->plen);
			head++;
		}
		/* To the nanosecond: a millisecond timeout would wake early and
		 * spin out the rest of the delay. */
		if (head != tail)
			wait = q[head % QMAX].due - now;
		tmo.tv_sec = (time_t)(wait / 1000000000ULL);
		tmo.tv_nsec = (long)(wait % 1000000000ULL);
		if (ppoll(&p, 1, &tmo, NULL) <= 0)
			continue;
		for (;;) {
			struct pending *e = &q[tail % QMAX];
			ssize_t n;

			if (tail - head == QMAX)
				break; /* full: leave it in the socket buffer */
			e->plen = sizeof(e->peer);
			n = recvfrom(fd, e->data, sizeof(e->data), MSG_DONTWAIT,
				     (struct sockaddr *)&e->peer, &e->plen);
			if (n < 0)
				break;
			e->len = (uint16_t)n;
			e->due = now_ns() + delay;
			if (serial) {
				/* Served after everything already waiting. */
				uint64_t start = busy_until > now_ns() ? busy_until : now_ns();

				e->due = start + service_time(serial, delay, &rng);
				busy_until = e->due;
			}
			if (n_seen < LOGMAX) {
				char host[INET6_ADDRSTRLEN];
				uint16_t port;

				if (e->peer.ss_family == AF_INET) {
					struct sockaddr_in *a = (struct sockaddr_in *)&e->peer;

					inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
					port = ntohs(a->sin_port);
				} else {
					struct sockaddr_in6 *a = (struct sockaddr_in6 *)&e->peer;

					inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
					port = ntohs(a->sin6_port);
				}
				if (seqlog) {
					char seq[24];

					seq_of(e->data, n, seq, sizeof(seq));
					snprintf(seen[n_seen++], sizeof(seen[0]), "%s %u %s", host, port,
						 seq);
				} else {
					snprintf(seen[n_seen++], sizeof(seen[0]), "%s %u", host, port);
				}
			}
			if (delay == 0) {
				sendto(fd, e->data, e->len, 0, (struct sockaddr *)&e->peer, e->plen);
				continue;
			}
			tail++;
		}
	}
	return write_log(argv[4], seen, n_seen) == 0 ? 0 : 1;
}
