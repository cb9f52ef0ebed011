/* The clients message (docs/wire.md, clients.<service>): a summary's top
 * entries with their error bounds, and `other`. Encode only: the dataplane
 * publishes it; the tests read it with python3-msgpack. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "spacesaving.h"
#include "wire.h"
#include "wire_priv.h"

static void pack_kv_u64(msgpack_packer *pk, const char *k, uint64_t v)
{
	st_wire_pack_cstr(pk, k);
	msgpack_pack_uint64(pk, v);
}

/* requests .. lat: the fields an entry and other share (10 pairs). */
static void pack_stats(msgpack_packer *pk, const struct st_ss_stats *s)
{
	uint32_t used = 0;

	pack_kv_u64(pk, "requests", s->requests);
	pack_kv_u64(pk, "bytes_req", s->bytes_req);
	pack_kv_u64(pk, "bytes_resp", s->bytes_resp);
	pack_kv_u64(pk, "responses", s->responses);
	pack_kv_u64(pk, "timeouts", s->timeouts);
	pack_kv_u64(pk, "resets", s->resets);
	pack_kv_u64(pk, "p50", st_lhist_quantile(&s->lat, 0.50));
	pack_kv_u64(pk, "p99", st_lhist_quantile(&s->lat, 0.99));
	/* sparse: bucket, count, bucket, count ... of the non-empty buckets */
	for (unsigned int b = 0; b < ST_LHIST_BUCKETS; b++)
		used += s->lat.c[b] != 0;
	st_wire_pack_cstr(pk, "lat");
	msgpack_pack_array(pk, 2 * used);
	for (unsigned int b = 0; b < ST_LHIST_BUCKETS; b++) {
		if (s->lat.c[b] == 0)
			continue;
		msgpack_pack_uint32(pk, b);
		msgpack_pack_uint32(pk, s->lat.c[b]);
	}
}

#define STATS_PAIRS 9

int st_clients_topic(const char *service, char *buf, size_t len)
{
	size_t ls = strnlen(service, ST_WIRE_NAME_MAX);
	int n;

	if (!st_wire_name_ok(service, ls))
		return -EINVAL;
	n = snprintf(buf, len, "clients.%s", service);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

int st_clients_encode(const struct st_clients_hdr *h, const struct st_ss *s,
		      const struct st_ss_heap *order, uint32_t n_order, uint32_t n,
		      struct st_wbuf *out)
{
	struct st_ss_stats other = s->other;
	uint64_t floor = st_ss_floor(s);
	msgpack_packer pk;

	if (!st_wire_name_ok(h->service, strnlen(h->service, sizeof(h->service))) ||
	    !st_wire_name_ok(h->target, strnlen(h->target, sizeof(h->target))) ||
	    h->src[0] == '\0' || strnlen(h->src, sizeof(h->src)) == sizeof(h->src) ||
	    strnlen(h->key, sizeof(h->key)) == sizeof(h->key) || h->t0 > h->t1 ||
	    n_order > s->n)
		return -EINVAL;
	if (n > n_order)
		n = n_order;
	/* the held entries not listed: into other, their counts into the
	 * bound on what an unlisted client had */
	for (uint32_t i = n; i < n_order; i++) {
		const struct st_ss_entry *e = &s->e[order[i].idx];

		other.requests += e->s.requests;
		other.bytes_req += e->s.bytes_req;
		other.bytes_resp += e->s.bytes_resp;
		other.responses += e->s.responses;
		other.timeouts += e->s.timeouts;
		other.resets += e->s.resets;
		st_lhist_add(&other.lat, &e->s.lat);
		if (order[i].count > floor)
			floor = order[i].count;
	}

	st_wbuf_reset(out);
	msgpack_packer_init(&pk, out, st_wbuf_mp_write);
	msgpack_pack_map(&pk, 13);
	pack_kv_u64(&pk, "v", ST_WIRE_VERSION);
	pack_kv_u64(&pk, "seq", h->seq);
	st_wire_pack_cstr(&pk, "src");
	st_wire_pack_cstr(&pk, h->src);
	st_wire_pack_cstr(&pk, "service");
	st_wire_pack_cstr(&pk, h->service);
	st_wire_pack_cstr(&pk, "target");
	st_wire_pack_cstr(&pk, h->target);
	st_wire_pack_cstr(&pk, "key");
	st_wire_pack_cstr(&pk, h->key);
	pack_kv_u64(&pk, "top", h->top);
	pack_kv_u64(&pk, "t0", h->t0);
	pack_kv_u64(&pk, "t1", h->t1);
	pack_kv_u64(&pk, "floor", floor);
	pack_kv_u64(&pk, "n", n);
	st_wire_pack_cstr(&pk, "clients");
	msgpack_pack_array(&pk, n);
	for (uint32_t i = 0; i < n; i++) {
		const struct st_ss_entry *e = &s->e[order[i].idx];
		char key[64];
		int kl = st_ckey_format(&e->key, key, sizeof(key));

		if (kl < 0 || (size_t)kl >= sizeof(key))
			kl = snprintf(key, sizeof(key), "?");
		msgpack_pack_map(&pk, 2 + STATS_PAIRS);
		st_wire_pack_cstr(&pk, "k");
		st_mp_pack_str(&pk, key, (size_t)kl);
		pack_kv_u64(&pk, "err", e->err);
		pack_stats(&pk, &e->s);
	}
	st_wire_pack_cstr(&pk, "other");
	msgpack_pack_map(&pk, STATS_PAIRS);
	pack_stats(&pk, &other);
	if (out->oom) {
		st_wbuf_reset(out);
		return -ENOMEM;
	}
	if (out->len > ST_WIRE_MAX_SIZE) {
		st_wbuf_reset(out);
		return -EMSGSIZE;
	}
	return 0;
}
