#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vdev.h"

/* The device string of "--vdev X" or "--vdev=X" at argv[i], or NULL. */
static char **vdev_arg(int argc, char **argv, int i)
{
	if (strcmp(argv[i], "--vdev") == 0 && i + 1 < argc)
		return &argv[i + 1];
	if (strncmp(argv[i], "--vdev=", 7) == 0)
		return &argv[i];
	return NULL;
}

/* The rewritten device strings: static, so they live as long as the
 * program (the EAL may keep pointers to argv's strings) and nothing is
 * left to free. */
static char sized[ST_VDEV_MAX][ST_VDEV_LEN];
static int n_sized;

int st_vdev_size_af_packet(int argc, char **argv, unsigned int framesz)
{
	char add[96];
	int n = 0;

	for (int i = 1; i < argc; i++) {
		char **a = vdev_arg(argc, argv, i), *v, *s;
		size_t len;
		int alen;

		if (a == NULL)
			continue;
		v = strncmp(*a, "--vdev=", 7) == 0 ? *a + 7 : *a;
		if ((strncmp(v, "net_af_packet", 13) != 0 && strncmp(v, "eth_af_packet", 13) != 0) ||
		    strstr(v, "framesz=") != NULL || strstr(v, "blocksz=") != NULL)
			continue;
		/* Fewer frames than the PMD's 512 unless told: each is
		 * framesz long, and 512 of 60 KB per ring, twice per queue,
		 * were seen to delay the host's other work now and then. */
		alen = strstr(v, "framecnt=") != NULL ?
		       snprintf(add, sizeof(add), ",framesz=%u,blocksz=%u", framesz, framesz) :
		       snprintf(add, sizeof(add), ",framesz=%u,blocksz=%u,framecnt=%u", framesz,
				framesz, ST_AFP_FRAMECNT);
		len = strlen(*a);
		if (n_sized == ST_VDEV_MAX || len + (size_t)alen >= ST_VDEV_LEN)
			return -ENOMEM;
		s = sized[n_sized++];
		memcpy(s, *a, len);
		memcpy(s + len, add, (size_t)alen + 1);
		*a = s;
		n++;
	}
	return n;
}

unsigned int st_vdev_af_packet_framesz(const char *devargs)
{
	const char *f = devargs ? strstr(devargs, "framesz=") : NULL;

	return f ? (unsigned int)strtoul(f + 8, NULL, 10) : ST_AFP_FRAME_DEFAULT;
}
