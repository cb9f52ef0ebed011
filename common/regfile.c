/* Regular files only (regfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "regfile.h"

int st_open_regular(const char *path, struct stat *st)
{
	struct stat own;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC), e;

	if (fd < 0)
		return -errno;
	if (st == NULL)
		st = &own;
	e = fstat(fd, st) != 0 ? errno : !S_ISREG(st->st_mode) ? EINVAL : 0;
	if (e != 0) {
		close(fd);
		return -e;
	}
	/* reads of a regular file never wait; the flag goes for tidiness */
	if (fcntl(fd, F_SETFL, 0) != 0) {
		e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

FILE *st_fopen_regular(const char *path, const char *mode)
{
	int fd = st_open_regular(path, NULL), e;
	FILE *f;

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	f = fdopen(fd, mode);
	if (f == NULL) {
		e = errno;
		close(fd);
		errno = e;
	}
	return f;
}

/* Whether path lies in systemd's credentials directory of this service
 * (LoadCredential=, $CREDENTIALS_DIRECTORY): its files are readable by the
 * unit's user alone, through an ACL whose mask shows in the group bits, so
 * such a secret may have them. Both paths resolved: no link or ".." leads
 * out of it. */
bool st_in_credentials(const char *path)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char *d, *p;
	bool in = false;

	if (dir == NULL || dir[0] != '/')
		return false;
	d = realpath(dir, NULL);
	p = realpath(path, NULL);
	if (d != NULL && p != NULL) {
		size_t n = strlen(d);

		in = strncmp(p, d, n) == 0 && p[n] == '/';
	}
	free(d);
	free(p);
	return in;
}
