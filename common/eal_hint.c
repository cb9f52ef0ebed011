/* Reads /proc/meminfo and /proc/mounts to say why the EAL found no
 * hugepages. */
#include "eal_hint.h"

#include <stdio.h>
#include <string.h>

/* The value of "KEY: N" in a meminfo file, or -1. */
static long meminfo_value(FILE *f, const char *key)
{
	char line[256];
	size_t len = strlen(key);
	long v;

	rewind(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, len) == 0 && line[len] == ':' &&
		    sscanf(line + len + 1, "%ld", &v) == 1)
			return v;
	}
	return -1;
}

/* 1 when a hugetlbfs is mounted, 0 when none is, -1 when unknown. */
static int hugetlbfs_mounted(const char *mounts)
{
	char line[1024], dev[256], dir[512], type[64];
	FILE *f = fopen(mounts, "r");
	int found = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%255s %511s %63s", dev, dir, type) == 3 &&
		    strcmp(type, "hugetlbfs") == 0) {
			found = 1;
			break;
		}
	}
	fclose(f);
	return found;
}

int st_eal_hugepage_hint(int argc, char **argv, const char *meminfo,
			 const char *mounts, char *buf, size_t n)
{
	long total = -1, nfree = -1, size_kb = -1;
	const char *fix = " -- or run with --no-huge (slower: docs/operations.md)";
	FILE *f;
	int i;

	if (n > 0)
		buf[0] = '\0';
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--no-huge") == 0)
			return 0;
	}
	f = fopen(meminfo, "r");
	if (f != NULL) {
		total = meminfo_value(f, "HugePages_Total");
		nfree = meminfo_value(f, "HugePages_Free");
		size_kb = meminfo_value(f, "Hugepagesize");
		fclose(f);
	}
	if (total == 0) {
		snprintf(buf, n, "no hugepages are reserved on this host (HugePages_Total 0 in %s): "
			 "reserve them (sysctl vm.nr_hugepages=512, or hugepages=512 on the kernel "
			 "command line)%s", meminfo, fix);
		return 1;
	}
	if (hugetlbfs_mounted(mounts) == 0) {
		snprintf(buf, n, "no hugetlbfs is mounted (none in %s): mount one (mount -t "
			 "hugetlbfs nodev /dev/hugepages; systemd's dev-hugepages.mount does it "
			 "at boot)%s", mounts, fix);
		return 1;
	}
	if (total > 0 && nfree == 0) {
		snprintf(buf, n, "all %ld hugepages of %ld kB are in use by other processes "
			 "(HugePages_Free 0 in %s): reserve more (sysctl vm.nr_hugepages) or stop "
			 "what holds them%s", total, size_kb, meminfo, fix);
		return 1;
	}
	return 0;
}
