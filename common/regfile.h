/* Opening a file a program reads while it serves: a FIFO or a device given
 * where a file belongs (a config, a profile, a chaos scenario) is refused
 * at once instead of blocking the caller's loop in open() or read(). */
#ifndef ST_REGFILE_H
#define ST_REGFILE_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>

/* path opened read-only (close-on-exec), without waiting for a FIFO's
 * writer; st filled when not NULL. Returns the descriptor, or -errno
 * (-EINVAL when it is not a regular file). */
int st_open_regular(const char *path, struct stat *st);

/* The same as a stdio stream (mode "r" or "rb"). NULL with errno set. */
FILE *st_fopen_regular(const char *path, const char *mode);

/* Whether path lies in systemd's credentials directory of this service
 * (LoadCredential=, $CREDENTIALS_DIRECTORY): its files are readable by the
 * unit's user alone, through an ACL whose mask shows in the group bits, so
 * a secret there may have them. Both paths resolved: no link or ".."
 * leads out of it. */
bool st_in_credentials(const char *path);

#endif
