/* Replays files (or every file in directories) through a harness's
 * LLVMFuzzerTestOneInput, for compilers without libFuzzer and for the
 * regression run of the corpus in `meson test`. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long len;

	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return -1;
	}
	/* malloc(len) exactly, so ASan catches a read one past the input. */
	buf = malloc(len > 0 ? (size_t)len : 1);
	if (buf == NULL || fread(buf, 1, (size_t)len, f) != (size_t)len) {
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	int n = 0, bad = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			DIR *d = opendir(argv[i]);
			struct dirent *e;
			char path[4096];

			if (d == NULL) {
				bad++;
				continue;
			}
			while ((e = readdir(d)) != NULL) {
				if (e->d_name[0] == '.')
					continue;
				snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
				bad += replay_file(path) != 0;
				n++;
			}
			closedir(d);
		} else {
			bad += replay_file(argv[i]) != 0;
			n++;
		}
	}
	printf("replayed %d inputs, %d unreadable\n", n, bad);
	if (n == 0) {
		fprintf(stderr, "replay: no inputs\n");
		return 1;
	}
	return bad ? 1 : 0;
}
