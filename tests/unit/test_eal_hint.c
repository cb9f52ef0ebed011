/* Why the EAL found no hugepages: each state of a host (none reserved,
 * none mounted, all in use, some free, --no-huge asked) gets its own
 * answer, read from meminfo and mounts files written here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cunit_main.h"
#include "eal_hint.h"

static char dir[] = "/tmp/st_test_eal_hint_XXXXXX";
static char meminfo[128], mounts[128];

static const char *MOUNTED =
	"proc /proc proc rw,nosuid 0 0\n"
	"hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n";
static const char *UNMOUNTED = "proc /proc proc rw,nosuid 0 0\n";

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CU_ASSERT_FATAL(f != NULL);
	fputs(text, f);
	fclose(f);
}

static void host(long total, long nfree, const char *mount_text)
{
	char text[256];

	snprintf(text, sizeof(text),
		 "MemTotal: 24000000 kB\nHugePages_Total: %6ld\nHugePages_Free: %6ld\n"
		 "HugePages_Rsvd: 0\nHugepagesize:       2048 kB\n", total, nfree);
	write_file(meminfo, text);
	write_file(mounts, mount_text);
}

static int hint(char **argv, int argc, char *buf, size_t n)
{
	return st_eal_hugepage_hint(argc, argv, meminfo, mounts, buf, n);
}

static int setup(void)
{
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(meminfo, sizeof(meminfo), "%s/meminfo", dir);
	snprintf(mounts, sizeof(mounts), "%s/mounts", dir);
	return 0;
}

static int teardown(void)
{
	unlink(meminfo);
	unlink(mounts);
	return rmdir(dir);
}

static void test_states(void)
{
	char *argv[] = { "dp", "-l", "0-1", "--", "--config", "x.ini", NULL };
	char buf[512];

	host(0, 0, MOUNTED);
	CU_ASSERT_EQUAL(hint(argv, 6, buf, sizeof(buf)), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "no hugepages are reserved"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "--no-huge"));

	host(512, 512, UNMOUNTED);
	CU_ASSERT_EQUAL(hint(argv, 6, buf, sizeof(buf)), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "no hugetlbfs is mounted"));

	host(512, 0, MOUNTED);
	CU_ASSERT_EQUAL(hint(argv, 6, buf, sizeof(buf)), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "all 512 hugepages of 2048 kB are in use"));

	/* Free pages and a mount: the EAL failed for another reason. */
	host(512, 100, MOUNTED);
	CU_ASSERT_EQUAL(hint(argv, 6, buf, sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, "");
}

static void test_no_huge(void)
{
	char *asked[] = { "dp", "--no-huge", "-l", "0", "--", NULL };
	char *after[] = { "dp", "-l", "0", "--", "--no-huge", NULL };
	char buf[512];

	host(0, 0, UNMOUNTED);
	CU_ASSERT_EQUAL(hint(asked, 5, buf, sizeof(buf)), 0);
	/* after "--" it is the program's argument, not the EAL's */
	CU_ASSERT_EQUAL(hint(after, 5, buf, sizeof(buf)), 1);
}

static void test_unreadable(void)
{
	char *argv[] = { "dp", NULL };
	char buf[64];

	/* Files that cannot be read say nothing: no hint, no crash; a short
	 * buffer gets a truncated, terminated hint. */
	CU_ASSERT_EQUAL(st_eal_hugepage_hint(1, argv, "/nonexistent/meminfo",
					     "/nonexistent/mounts", buf, sizeof(buf)), 0);
	host(0, 0, MOUNTED);
	CU_ASSERT_EQUAL(hint(argv, 1, buf, sizeof(buf)), 1);
	CU_ASSERT_EQUAL(strlen(buf), sizeof(buf) - 1);
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "each state of the host", test_states },
		{ "--no-huge asked", test_no_huge },
		{ "unreadable files, short buffer", test_unreadable },
		{ NULL, NULL },
	};

	return st_cu_add_suite("eal_hint", setup, teardown, tests);
}
