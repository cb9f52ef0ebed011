/* Starting and stopping shadowtap-loadgen, one run per row (or the part of
 * it whose loads are of one kind, rates or multiples): EAL arguments and
 * options from the config, and a stepped --profile whose steps are the
 * cells' loads; the profile's end ends the run by itself should this
 * program be killed without a chance to stop it.
 * It runs in a process group of its own, so a Ctrl-C on the terminal
 * reaches this program alone, which then stops it in order. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "whatif.h"

/* The loadgen built beside this program (build/whatif/ and
 * build/loadgen/), else the name for execvp to find on PATH. */
static void default_path(char *out, size_t len)
{
	char self[PATH_MAX], cand[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	snprintf(out, len, "shadowtap-loadgen");
	if (n <= 0)
		return;
	self[n] = '\0';
	snprintf(cand, sizeof(cand), "%s/../loadgen/shadowtap-loadgen", dirname(self));
	if (access(cand, X_OK) == 0) {
		wi_msg(out, len, "%s", cand);
		return;
	}
	/* installed: next to it */
	snprintf(cand, sizeof(cand), "%s/shadowtap-loadgen", self);
	if (access(cand, X_OK) == 0)
		wi_msg(out, len, "%s", cand);
}

/* The profile: a step per load, each slot_s long, two points at each
 * boundary (the loadgen's step), readable by a loadgen run under another
 * user. */
static int write_profile(const struct wi_config *c, int from, int to, double slot_s,
			 struct wi_lg *lg, struct st_perr *err)
{
	FILE *f;
	int fd;

	snprintf(lg->profile, sizeof(lg->profile), "/tmp/shadowtap-whatif-profile-XXXXXX");
	fd = mkstemp(lg->profile);
	if (fd < 0) {
		wi_msg(err->msg, sizeof(err->msg), "loadgen profile: %s", strerror(errno));
		lg->profile[0] = '\0';
		return -errno;
	}
	fchmod(fd, 0644);
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		wi_msg(err->msg, sizeof(err->msg), "loadgen profile: %s", strerror(errno));
		return -EIO;
	}
	fprintf(f, "t_seconds,%s\n", c->loads[from].multiple ? "multiplier" : "pps");
	for (int li = from; li < to; li++)
		fprintf(f, "%.6f,%.9g\n%.6f,%.9g\n", (li - from) * slot_s, c->loads[li].value,
			(li - from + 1) * slot_s, c->loads[li].value);
	if (fclose(f) != 0) {
		wi_msg(err->msg, sizeof(err->msg), "loadgen profile %s: %s", lg->profile,
		       strerror(errno));
		return -EIO;
	}
	return 0;
}

int wi_lg_start(const struct wi_config *c, int from, int to, double slot_s,
		struct wi_lg *lg, struct st_perr *err)
{
	char path[PATH_MAX], pcap[PATH_MAX];
	char *argv[3 * WI_MAX_ARGS + 16];
	int n = 0, devnull, rc;
	pid_t pid;

	memset(lg, 0, sizeof(*lg));
	lg->pid = -1;
	lg->log_fd = -1;
	rc = write_profile(c, from, to, slot_s, lg, err);
	if (rc != 0)
		return rc;
	if (c->loadgen[0] != '\0')
		snprintf(path, sizeof(path), "%s", c->loadgen);
	else
		default_path(path, sizeof(path));
	for (int i = 0; i < c->loadgen_wrapper.n; i++)
		argv[n++] = c->loadgen_wrapper.v[i];
	argv[n++] = path;
	for (int i = 0; i < c->loadgen_eal.n; i++)
		argv[n++] = c->loadgen_eal.v[i];
	argv[n++] = (char *)"--";
	argv[n++] = (char *)"--pcap";
	snprintf(pcap, sizeof(pcap), "%s", c->pcap);
	argv[n++] = pcap;
	argv[n++] = (char *)"--profile";
	argv[n++] = lg->profile;
	if (c->poisson)
		argv[n++] = (char *)"--poisson";
	argv[n++] = (char *)"--no-progress";
	for (int i = 0; i < c->loadgen_args.n; i++)
		argv[n++] = c->loadgen_args.v[i];
	argv[n] = NULL;

	snprintf(lg->log, sizeof(lg->log), "/tmp/shadowtap-whatif-lg-XXXXXX");
	lg->log_fd = mkstemp(lg->log);
	if (lg->log_fd < 0) {
		wi_msg(err->msg, sizeof(err->msg), "loadgen log: %s", strerror(errno));
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		wi_msg(err->msg, sizeof(err->msg), "fork: %s", strerror(errno));
		return -errno;
	}
	if (pid == 0) {
		sigset_t none;

		setpgid(0, 0);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0) {
			dup2(devnull, STDIN_FILENO);
			dup2(devnull, STDOUT_FILENO);
		}
		dup2(lg->log_fd, STDERR_FILENO);
		execvp(argv[0], argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	lg->pid = pid;
	return 0;
}

bool wi_lg_running(struct wi_lg *lg, int *status)
{
	pid_t r;

	if (lg->pid <= 0)
		return false;
	r = waitpid(lg->pid, status, WNOHANG);
	if (r == 0)
		return true;
	lg->pid = -1;
	return false;
}

void wi_lg_stop(struct wi_lg *lg)
{
	uint64_t deadline;
	int status;

	if (lg->pid <= 0)
		return;
	/* its process group: a wrapper script's children with it */
	kill(-lg->pid, SIGINT);
	deadline = st_mono_ns() + 5 * ST_NS_PER_S;
	while (st_mono_ns() < deadline) {
		if (waitpid(lg->pid, &status, WNOHANG) == lg->pid) {
			lg->pid = -1;
			return;
		}
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	kill(-lg->pid, SIGKILL);
	waitpid(lg->pid, &status, 0);
	lg->pid = -1;
}

void wi_lg_tail(const struct wi_lg *lg, char *buf, size_t len)
{
	char tmp[4096];
	ssize_t n;
	off_t end;
	char *p, *line;

	buf[0] = '\0';
	if (lg->log_fd < 0)
		return;
	end = lseek(lg->log_fd, 0, SEEK_END);
	if (end < 0)
		return;
	n = pread(lg->log_fd, tmp, sizeof(tmp) - 1, end > (off_t)sizeof(tmp) - 1 ?
		  end - (off_t)sizeof(tmp) + 1 : 0);
	if (n <= 0)
		return;
	tmp[n] = '\0';
	while (n > 0 && (tmp[n - 1] == '\n' || tmp[n - 1] == ' '))
		tmp[--n] = '\0';
	/* the last line that says something */
	line = tmp;
	for (p = tmp; *p; p++)
		if (*p == '\n' && p[1] != '\0')
			line = p + 1;
	snprintf(buf, len, "%s", line);
}

void wi_lg_cleanup(struct wi_lg *lg)
{
	wi_lg_stop(lg);
	if (lg->log_fd >= 0) {
		close(lg->log_fd);
		unlink(lg->log);
	}
	lg->log_fd = -1;
	if (lg->profile[0] != '\0')
		unlink(lg->profile);
	lg->profile[0] = '\0';
}
