/* KPI decoder on arbitrary bytes. Whatever it accepts must encode, decode
 * again and encode to the same bytes (the codec is a fixed point after one
 * round); whatever it refuses must come with a typed error. The generic
 * parser and the JSON printer run on the same input. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wire.h"

/* Refusals carry a code in range and NUL-terminated texts. */
static void check_error(const struct st_wire_error *e)
{
	if (e->code <= ST_WIRE_OK || e->code >= ST_WIRE_ERR__COUNT)
		abort();
	if (!memchr(e->field, '\0', sizeof(e->field)) ||
	    !memchr(e->detail, '\0', sizeof(e->detail)))
		abort();
}

/* The generic path: a bounded parse into a reused zone, then JSON that
 * must come out without raw control bytes. */
static void check_generic(const uint8_t *data, size_t size)
{
	static msgpack_zone zone;
	static bool ready;
	static struct st_wbuf json;
	struct st_wire_error err;
	msgpack_object o;

	if (!ready) {
		if (!msgpack_zone_init(&zone, 4096))
			abort();
		ready = true;
	}
	msgpack_zone_clear(&zone);
	if (st_wire_parse(data, size, NULL, &zone, &o, &err) != 0) {
		check_error(&err);
		return;
	}
	st_wbuf_reset(&json);
	if (st_wire_to_json(&o, &json) != 0)
		abort();
	for (size_t i = 0; i < json.len; i++)
		if (json.data[i] < 0x20)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct st_kpi a, b;
	static struct st_wbuf w1, w2;
	struct st_wire_error err;

	check_generic(data, size);
	if (st_kpi_decode(data, size, &a, &err) != 0) {
		check_error(&err);
		return 0;
	}
	if (a.lat_len && (a.lat < data || a.lat + a.lat_len > data + size))
		abort();
	if (st_kpi_encode(&a, &w1) != 0)
		abort();
	if (st_kpi_decode(w1.data, w1.len, &b, &err) != 0)
		abort();
	if (st_kpi_encode(&b, &w2) != 0)
		abort();
	if (w1.len != w2.len || memcmp(w1.data, w2.data, w1.len) != 0)
		abort();
	return 0;
}
