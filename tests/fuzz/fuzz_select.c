/* Fuzzes the loadgen's --select-clients reader (and through it
 * st_json_walk), then checks what the classifier relies on for any file it
 * accepts: a kind of client, at least one key, keys sorted, distinct and
 * NUL-terminated, each found again by a flow whose client makes it. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "select.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const fps[] = { NULL, "fp1" };
	struct lg_select s;
	struct st_perr err;

	for (int f = 0; f < 2; f++) {
		struct st_flow_key k;

		if (lg_select_load_mem((const char *)data, size, "fuzz", fps[f], &s, &err) != 0) {
			CHECK(s.keys == NULL && s.n == 0 && err.msg[0] != '\0');
			continue;
		}
		CHECK(s.n >= 1 && s.spec.by != ST_CKEY_BY_NONE && s.keys != NULL);
		CHECK(s.scale <= LG_SELECT_SCALE_MAX);
		for (uint32_t i = 0; i < s.n; i++) {
			CHECK(memchr(s.keys[i], '\0', sizeof(s.keys[i])) != NULL && s.keys[i][0]);
			CHECK(i == 0 || strcmp(s.keys[i - 1], s.keys[i]) < 0);
		}
		/* any flow: found or not, never out of range */
		memset(&k, 0, sizeof(k));
		k.family = 4;
		memcpy(k.addr[0].a8, data, size < 4 ? size : 4);
		CHECK(lg_select_find(&s, &k, 0) < (int)s.n);
		lg_select_free(&s);
	}
	return 0;
}
