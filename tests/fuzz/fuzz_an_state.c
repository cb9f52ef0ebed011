/* The analyzer's state-file reader on arbitrary bytes (after a valid
 * header, so the fuzzer reaches the msgpack walk: the CRC is recomputed
 * over whatever body it made). Whatever it accepts must encode and parse
 * back to the same encoding: parse and encode are a fixed point after one
 * round. */
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "fuzz.h"
#include "state.h"

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void check(const uint8_t *buf, size_t len)
{
	static struct st_wbuf a, b;
	struct an_state *st, *st2;
	struct st_perr err;

	st = an_state_parse(buf, len, &err);
	if (st == NULL) {
		if (memchr(err.msg, '\0', sizeof(err.msg)) == NULL || err.msg[0] == '\0')
			abort();
		return;
	}
	if (an_state_reencode(st, &a) != 0)
		abort();
	st2 = an_state_parse(a.data, a.len, &err);
	if (st2 == NULL || an_state_reencode(st2, &b) != 0)
		abort();
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		abort();
	an_state_free(st);
	an_state_free(st2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf;

	/* The raw bytes as a file... */
	check(data, size);
	/* ...and as the body of a file with a correct header. */
	if (size > AN_STATE_MAX_FILE)
		return 0;
	buf = malloc(size + 16);
	if (buf == NULL)
		return 0;
	memcpy(buf, "STAN", 4);
	put_be32(buf + 4, AN_STATE_VERSION);
	put_be32(buf + 8, (uint32_t)size);
	put_be32(buf + 12, st_crc32c(0, data, size));
	memcpy(buf + 16, data, size);
	check(buf, size + 16);
	free(buf);
	return 0;
}
