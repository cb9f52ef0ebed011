/* The clients message decoder (common/wire_clients_dec.c) against the
 * dataplane's encoder (common/wire_clients.c): a round trip keeps every
 * count, key and histogram; the decoded form encodes back to the same
 * bytes; a client beyond the caller's room folds into other with the
 * bounds kept; every malformed field is refused with its path. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "cunit_main.h"
#include "spacesaving.h"
#include "wire.h"

static struct st_ckey key_of(uint32_t id)
{
	struct st_ckey k = { .hi = 0, .lo = (0x0a000000u + (id << 8)) & 0xffffff00u,
			     .tag = ST_CKEY_IPV4 | 24u << 8, .pad = 0 };

	return k;
}

/* A summary of cap entries fed ids 0..m with id-dependent counts, bytes,
 * latencies, timeouts and resets; some ids evicted when m > cap. */
static struct st_ss *build(uint32_t cap, uint32_t m, uint64_t *rng)
{
	struct st_ss *s = st_ss_create(cap);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (uint32_t id = 0; id < m; id++) {
		struct st_ckey k = key_of(id);
		uint32_t h = st_ckey_hash(&k), reqs = 1 + (m - id) * 3;

		for (uint32_t j = 0; j < reqs; j++) {
			st_ss_request(s, &k, h, 60 + id);
			switch (st_cu_rnd(rng) % 8) {
			case 0:
				st_ss_timeout(s, &k, h);
				break;
			case 1:
				st_ss_reset(s, &k, h);
				break;
			default:
				st_ss_response(s, &k, h, 1000 + (uint64_t)(st_cu_rnd(rng) % 5000000),
					       200 + id);
			}
		}
	}
	return s;
}

static struct st_wbuf enc;

static void encode(struct st_ss *s, uint32_t n, struct st_clients_hdr *h)
{
	struct st_ss_heap *order = calloc(s->n + 1, sizeof(*order));
	uint32_t no;

	CU_ASSERT_PTR_NOT_NULL_FATAL(order);
	no = st_ss_sorted(s, order);
	CU_ASSERT_EQUAL_FATAL(st_clients_encode(h, s, order, no, n, &enc), 0);
	free(order);
}

static const struct st_clients_hdr hdr = {
	.seq = 42, .src = "gw1", .service = "web", .target = "prod", .key = "src/24",
	.top = 64, .t0 = 1000, .t1 = 2000,
};

static void test_round_trip(void)
{
	uint64_t rng = 7;
	struct st_ss *s = build(64, 50, &rng);
	struct st_ss_heap order[64];
	struct st_client_rec *recs = calloc(64, sizeof(*recs));
	struct st_clients_msg m = { .recs = recs, .cap = 64 };
	struct st_clients_hdr h = hdr;
	struct st_wire_error err;
	struct st_ss_stats tot = { 0 };
	struct st_wbuf again;
	uint64_t sum_req = 0, sum_resp = 0;
	uint32_t no;

	st_wbuf_init(&again);
	encode(s, 64, &h);
	CU_ASSERT_EQUAL_FATAL(st_clients_decode(enc.data, enc.len, &m, &err), 0);
	CU_ASSERT_EQUAL(m.h.seq, 42);
	CU_ASSERT_STRING_EQUAL(m.h.service, "web");
	CU_ASSERT_STRING_EQUAL(m.h.key, "src/24");
	CU_ASSERT_EQUAL(m.n, 50);
	CU_ASSERT_EQUAL(m.n_recs, 50);
	CU_ASSERT_EQUAL(m.folded, 0);
	CU_ASSERT_EQUAL(m.floor, 0);
	CU_ASSERT_EQUAL(m.unknown_keys, 0);
	no = st_ss_sorted(s, order);
	for (uint32_t i = 0; i < no; i++) {
		const struct st_ss_entry *e = &s->e[order[i].idx];
		char k[64];

		st_ckey_format(&e->key, k, sizeof(k));
		CU_ASSERT_STRING_EQUAL(recs[i].k, k);
		CU_ASSERT_EQUAL(recs[i].requests, e->s.requests);
		CU_ASSERT_EQUAL(recs[i].bytes_req, e->s.bytes_req);
		CU_ASSERT_EQUAL(recs[i].bytes_resp, e->s.bytes_resp);
		CU_ASSERT_EQUAL(recs[i].responses, e->s.responses);
		CU_ASSERT_EQUAL(recs[i].timeouts, e->s.timeouts);
		CU_ASSERT_EQUAL(recs[i].resets, e->s.resets);
		CU_ASSERT_EQUAL(recs[i].err, e->err);
		CU_ASSERT(memcmp(&recs[i].lat, &e->s.lat, sizeof(e->s.lat)) == 0);
		CU_ASSERT_EQUAL(recs[i].p99, st_lhist_quantile(&e->s.lat, 0.99));
		sum_req += recs[i].requests;
		sum_resp += recs[i].responses;
	}
	st_ss_totals(s, &tot);
	CU_ASSERT_EQUAL(sum_req + m.other.requests, tot.requests);
	CU_ASSERT_EQUAL(sum_resp + m.other.responses, tot.responses);
	/* the decoded form encodes to the dataplane's bytes */
	CU_ASSERT_EQUAL(st_clients_encode_msg(&m, &again), 0);
	CU_ASSERT_EQUAL(again.len, enc.len);
	CU_ASSERT(again.len == enc.len && memcmp(again.data, enc.data, enc.len) == 0);
	st_wbuf_free(&again);
	free(recs);
	st_ss_destroy(s);
}

/* More clients than the caller's room (and than the summary's): the rest
 * fold into other, totals and bounds still hold. */
static void test_fold(void)
{
	uint64_t rng = 9;
	struct st_ss *s = build(40, 200, &rng);
	struct st_client_rec *all = calloc(40, sizeof(*all)), *few = calloc(10, sizeof(*few));
	struct st_clients_msg a = { .recs = all, .cap = 40 }, b = { .recs = few, .cap = 10 };
	struct st_clients_msg z = { .recs = NULL, .cap = 0 };
	struct st_clients_hdr h = hdr;
	struct st_wire_error err;
	uint64_t sa = 0, sb = 0;

	encode(s, 30, &h);
	CU_ASSERT_EQUAL_FATAL(st_clients_decode(enc.data, enc.len, &a, &err), 0);
	CU_ASSERT_EQUAL_FATAL(st_clients_decode(enc.data, enc.len, &b, &err), 0);
	CU_ASSERT_EQUAL_FATAL(st_clients_decode(enc.data, enc.len, &z, &err), 0);
	CU_ASSERT_EQUAL(a.n_recs, 30);
	CU_ASSERT(a.floor > 0);	/* evictions happened */
	CU_ASSERT_EQUAL(b.n, 30);
	CU_ASSERT_EQUAL(b.n_recs, 10);
	CU_ASSERT_EQUAL(b.folded, 20);
	CU_ASSERT_EQUAL(z.folded, 30);
	for (uint32_t i = 0; i < a.n_recs; i++)
		sa += all[i].requests;
	for (uint32_t i = 0; i < b.n_recs; i++)
		sb += few[i].requests;
	CU_ASSERT_EQUAL(sa + a.other.requests, sb + b.other.requests);
	CU_ASSERT_EQUAL(sa + a.other.requests, z.other.requests);
	/* floor: no unlisted client above it, so at least the 11th's bound */
	CU_ASSERT(b.floor >= all[10].requests + all[10].err);
	CU_ASSERT(b.floor >= a.floor);
	free(all);
	free(few);
	st_ss_destroy(s);
}

/* A hand-built message with one thing wrong at a time. */
struct bad {
	const char *what;	/* which field to break */
	enum st_wire_err code;
	const char *field;
};

static void pack_msg(struct st_wbuf *w, const char *bad)
{
	msgpack_packer pk;
	int n_top = 13 - (strcmp(bad, "missing_other") == 0);
	/* a client with 2^32 - 1 answers in one bucket, other with one more */
	bool big = strcmp(bad, "big") == 0;

	st_wbuf_reset(w);
	msgpack_packer_init(&pk, w, st_wbuf_mp_write);
	msgpack_pack_map(&pk, n_top + (strcmp(bad, "unknown") == 0));
#define KV_U(k, v) do { st_wire_pack_cstr(&pk, k); msgpack_pack_uint64(&pk, v); } while (0)
#define KV_S(k, v) do { st_wire_pack_cstr(&pk, k); st_wire_pack_cstr(&pk, v); } while (0)
	KV_U("v", strcmp(bad, "v") == 0 ? 2 : 1);
	KV_U("seq", 1);
	KV_S("src", "gw1");
	KV_S("service", strcmp(bad, "service") == 0 ? "a.b" : "web");
	KV_S("target", "prod");
	KV_S("key", "src/24");
	KV_U("top", strcmp(bad, "top") == 0 ? (1ull << 33) : 10);
	KV_U("t0", 5);
	KV_U("t1", strcmp(bad, "t1") == 0 ? 4 : 6);
	KV_U("floor", 0);
	KV_U("n", strcmp(bad, "n") == 0 ? 2 : 1);
	if (strcmp(bad, "unknown") == 0)
		KV_S("future", "x");
	st_wire_pack_cstr(&pk, "clients");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_map(&pk, 11);
	KV_S("k", strcmp(bad, "k") == 0 ? "" : "10.0.0.0/24");
	KV_U("err", 0);
	st_wire_pack_cstr(&pk, "requests");
	if (strcmp(bad, "requests") == 0)
		msgpack_pack_int64(&pk, -1);
	else
		msgpack_pack_uint64(&pk, big ? UINT32_MAX : 3);
	KV_U("bytes_req", 300);
	KV_U("bytes_resp", 600);
	KV_U("responses", big ? UINT32_MAX : 2);
	KV_U("timeouts", big ? 0 : 1);
	KV_U("resets", 0);
	KV_U("p50", 5000);
	KV_U("p99", 9000);
	st_wire_pack_cstr(&pk, "lat");
	if (strcmp(bad, "lat_order") == 0) {
		msgpack_pack_array(&pk, 4);
		msgpack_pack_uint32(&pk, 9);
		msgpack_pack_uint32(&pk, 1);
		msgpack_pack_uint32(&pk, 4);
		msgpack_pack_uint32(&pk, 1);
	} else if (strcmp(bad, "lat_odd") == 0) {
		msgpack_pack_array(&pk, 1);
		msgpack_pack_uint32(&pk, 9);
	} else {
		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint32(&pk, strcmp(bad, "lat_bucket") == 0 ? 104 : 5);
		msgpack_pack_uint32(&pk, big ? UINT32_MAX : strcmp(bad, "lat_sum") == 0 ? 3 : 2);
	}
	if (strcmp(bad, "missing_other") != 0) {
		st_wire_pack_cstr(&pk, "other");
		msgpack_pack_map(&pk, 9);
		KV_U("requests", 1);
		KV_U("bytes_req", 100);
		KV_U("bytes_resp", 0);
		KV_U("responses", big);
		KV_U("timeouts", 0);
		st_wire_pack_cstr(&pk, "resets");
		if (strcmp(bad, "other_resets") == 0)
			st_wire_pack_cstr(&pk, "x");
		else
			msgpack_pack_uint64(&pk, 0);
		KV_U("p50", 0);
		KV_U("p99", 0);
		st_wire_pack_cstr(&pk, "lat");
		msgpack_pack_array(&pk, big ? 2 : 0);
		if (big) {
			msgpack_pack_uint32(&pk, 5);
			msgpack_pack_uint32(&pk, 1);
		}
	}
#undef KV_U
#undef KV_S
}

static void test_refusals(void)
{
	static const struct bad cases[] = {
		{ "v", ST_WIRE_E_VERSION, "v" },
		{ "service", ST_WIRE_E_VALUE, "service" },
		{ "top", ST_WIRE_E_VALUE, "top" },
		{ "t1", ST_WIRE_E_VALUE, "t1" },
		{ "n", ST_WIRE_E_VALUE, "n" },
		{ "k", ST_WIRE_E_VALUE, "clients[0].k" },
		{ "requests", ST_WIRE_E_VALUE, "clients[0].requests" },
		{ "lat_order", ST_WIRE_E_VALUE, "clients[0].lat" },
		{ "lat_odd", ST_WIRE_E_COUNT, "clients[0].lat" },
		{ "lat_bucket", ST_WIRE_E_VALUE, "clients[0].lat" },
		{ "lat_sum", ST_WIRE_E_VALUE, "clients[0].lat" },
		{ "other_resets", ST_WIRE_E_TYPE, "other.resets" },
		{ "missing_other", ST_WIRE_E_MISSING, "other" },
	};
	struct st_client_rec recs[4];
	struct st_clients_msg m = { .recs = recs, .cap = 4 };
	struct st_wire_error err;
	struct st_wbuf w;

	st_wbuf_init(&w);
	pack_msg(&w, "none");
	CU_ASSERT_EQUAL_FATAL(st_clients_decode(w.data, w.len, &m, &err), 0);
	CU_ASSERT_EQUAL(m.n_recs, 1);
	CU_ASSERT_EQUAL(recs[0].lat.c[5], 2);
	pack_msg(&w, "unknown");
	CU_ASSERT_EQUAL(st_clients_decode(w.data, w.len, &m, &err), 0);
	CU_ASSERT_EQUAL(m.unknown_keys, 1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&err, 0, sizeof(err));
		pack_msg(&w, cases[i].what);
		CU_ASSERT_EQUAL(st_clients_decode(w.data, w.len, &m, &err), -EBADMSG);
		if (err.code != cases[i].code || strcmp(err.field, cases[i].field) != 0)
			fprintf(stderr, "case %s: code %d field '%s' detail '%s'\n", cases[i].what,
				err.code, err.field, err.detail);
		CU_ASSERT_EQUAL(err.code, cases[i].code);
		CU_ASSERT_STRING_EQUAL(err.field, cases[i].field);
	}
	/* a client folded into other past a bucket's u32: refused, where
	 * the room holds it decoded */
	pack_msg(&w, "big");
	CU_ASSERT_EQUAL(st_clients_decode(w.data, w.len, &m, &err), 0);
	{
		struct st_clients_msg z = { .recs = NULL, .cap = 0 };

		CU_ASSERT_EQUAL(st_clients_decode(w.data, w.len, &z, &err), -EBADMSG);
		CU_ASSERT_EQUAL(err.code, ST_WIRE_E_VALUE);
		CU_ASSERT_STRING_EQUAL(err.field, "other");
	}
	/* truncated anywhere: refused, never read past the end */
	pack_msg(&w, "none");
	for (size_t cut = 0; cut < w.len; cut++)
		CU_ASSERT_EQUAL(st_clients_decode(w.data, cut, &m, &err), -EBADMSG);
	st_wbuf_free(&w);
	st_wbuf_free(&enc);
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "round trip against the encoder", test_round_trip },
		{ "clients beyond the room fold into other", test_fold },
		{ "every bad field refused with its path", test_refusals },
		{ NULL, NULL },
	};

	return st_cu_add_suite("clients message decoder", NULL, NULL, tests);
}
