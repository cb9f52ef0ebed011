/* Clients message decoder on arbitrary bytes. Whatever it accepts must
 * encode, decode again and encode to the same bytes; decoded with less room
 * (clients folded into other) it must keep the totals and raise floor to
 * every folded client's bound; whatever it refuses must come with a typed
 * error. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wire.h"

#define ROOM 256
#define SMALL 3

static void check_error(const struct st_wire_error *e)
{
	if (e->code <= ST_WIRE_OK || e->code >= ST_WIRE_ERR__COUNT)
		abort();
	if (!memchr(e->field, '\0', sizeof(e->field)) ||
	    !memchr(e->detail, '\0', sizeof(e->detail)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct st_client_rec ra[ROOM], rb[ROOM], rs[SMALL];
	static struct st_wbuf w1, w2;
	struct st_clients_msg a = { .recs = ra, .cap = ROOM };
	struct st_clients_msg b = { .recs = rb, .cap = ROOM };
	struct st_clients_msg s = { .recs = rs, .cap = SMALL };
	struct st_wire_error err;
	uint64_t req = 0, floor;

	if (st_clients_decode(data, size, &a, &err) != 0) {
		check_error(&err);
		/* with less room it refuses too */
		if (st_clients_decode(data, size, &s, &err) == 0)
			abort();
		return 0;
	}
	if (a.n_recs + a.folded != a.n || a.n_recs > ROOM)
		abort();
	if (a.folded == 0) {
		if (st_clients_encode_msg(&a, &w1) != 0)
			abort();
		if (st_clients_decode(w1.data, w1.len, &b, &err) != 0)
			abort();
		if (st_clients_encode_msg(&b, &w2) != 0)
			abort();
		if (w1.len != w2.len || memcmp(w1.data, w2.data, w1.len) != 0)
			abort();
	}
	if (st_clients_decode(data, size, &s, &err) != 0)
		abort();
	floor = s.floor;
	for (uint32_t i = 0; i < a.n_recs; i++) {
		req += ra[i].requests;
		if (i >= SMALL && ra[i].requests + ra[i].err > floor &&
		    ra[i].requests + ra[i].err >= ra[i].requests)
			abort();
	}
	for (uint32_t i = 0; i < s.n_recs; i++)
		req -= rs[i].requests;
	if (a.folded == 0 && s.other.requests - a.other.requests != req)
		abort();
	return 0;
}
