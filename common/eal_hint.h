/* Why the EAL could not start, in words an operator can act on. Plain C:
 * no DPDK. */
#ifndef ST_EAL_HINT_H
#define ST_EAL_HINT_H

#include <stddef.h>

/* When argv[1..argc) does not ask for --no-huge and the host has no
 * hugepages to give (no hugetlbfs in MOUNTS, none reserved in MEMINFO, or
 * none free), writes into buf (n bytes) what is missing and how to fix it
 * (reserve, mount, or run with --no-huge) and returns 1; otherwise returns
 * 0 and leaves buf empty: the EAL failed for another reason. MEMINFO and
 * MOUNTS are /proc/meminfo and /proc/mounts (other paths for tests); a file
 * that cannot be read counts as saying nothing. Never fails. */
int st_eal_hugepage_hint(int argc, char **argv, const char *meminfo,
			 const char *mounts, char *buf, size_t n);

#define ST_MEMINFO "/proc/meminfo"
#define ST_MOUNTS "/proc/mounts"

#endif
