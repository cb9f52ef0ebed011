/* Wire contract: round trips, the golden encoding, limits, and every class
 * of malformed input the decoders must refuse with a typed error. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "cunit_main.h"
#include "wire.h"

/* ------------------------------------------------------------------ */
/* Fixtures                                                           */

static uint8_t lat200[200];

static void fill_kpi(struct st_kpi *k)
{
	static const char *const reasons[] = {
		"ring_full", "rate_cap", "no_mbuf", "shadow_down", "no_syn",
	};

	memset(k, 0, sizeof(*k));
	k->seq = 123456;
	strcpy(k->src, "gw1-\xc3\xbc-\xe6\x9d\xb1\xe4\xba\xac");  /* gw1-ü-東京 */
	strcpy(k->service, "web");
	strcpy(k->target, "canary");
	k->role = ST_ROLE_SHADOW;
	k->instances = 12;
	k->t0 = 1700000000000000000ULL;
	k->t1 = 1700000001000000000ULL;
	k->pkts = 1234567;
	k->bytes = 987654321;
	k->rx_pkts = 1200000;
	k->rx_bytes = 1500000000;
	k->requests = 60000;
	k->responses = 59990;
	k->timeouts = 7;
	k->resets = 3;
	k->icmp_errors = 1;
	k->offered_rps = 60000.5;
	k->n_drops = 5;
	for (int i = 0; i < 5; i++) {
		strcpy(k->drops[i].reason, reasons[i]);
		k->drops[i].count = (uint64_t)i * 1000 + 1;
	}
	for (size_t i = 0; i < sizeof(lat200); i++)
		lat200[i] = (uint8_t)(i * 37 + 11);
	k->lat = lat200;
	k->lat_len = sizeof(lat200);
}

static void fill_verdict(struct st_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->seq = 77;
	v->t = 1700000005000000000ULL;
	strcpy(v->service, "web");
	strcpy(v->shadow, "canary");
	v->verdict = ST_VERDICT_ADJUST;
	v->current_instances = 8;
	v->proposed_instances = 12;
	v->recommended_instances = 14;
	v->confidence = 0.93;
	v->score = 61.5;
	v->forecast_rps = 60000;
	v->observed_rps_per_instance = 4871.25;
	v->n_kpis = 3;
	strcpy(v->kpis[0].name, "p99");
	strcpy(v->kpis[0].unit, "ns");
	v->kpis[0].predicted = 31e6;
	v->kpis[0].observed = 58e6;
	v->kpis[0].ratio = 58.0 / 31.0;
	v->kpis[0].ci_low = 52e6;
	v->kpis[0].ci_high = 63e6;
	v->kpis[0].n = 290000;
	v->kpis[0].status = ST_KPI_HIGH;
	v->kpis[0].critical = true;
	strcpy(v->kpis[1].name, "error_rate");
	strcpy(v->kpis[1].unit, "ratio");
	v->kpis[1].predicted = 0.001;
	v->kpis[1].observed = 0.0004;
	v->kpis[1].ratio = 0.4;
	v->kpis[1].ci_low = 0.0001;
	v->kpis[1].ci_high = 0.0009;
	v->kpis[1].n = 290000;
	v->kpis[1].status = ST_KPI_PASS;
	strcpy(v->kpis[2].name, "timeouts");
	v->kpis[2].predicted = NAN;
	v->kpis[2].observed = NAN;
	v->kpis[2].ratio = INFINITY;
	v->kpis[2].ci_low = -INFINITY;
	v->kpis[2].ci_high = NAN;
	v->kpis[2].status = ST_KPI_NODATA;
	strcpy(v->model.kind, "mmc");
	v->model.version = 9;
	v->model.n_params = 2;
	strcpy(v->model.params[0].name, "mu");
	v->model.params[0].value = 5120.0;
	strcpy(v->model.params[1].name, "sigma");
	v->model.params[1].value = -0.25;
	v->has_cost = true;
	v->cost.current = 3.2;
	v->cost.proposed = 4.8;
	v->cost.recommended = 5.6;
	strcpy(v->reason, "p99 latency 58 ms on 12 instances exceeds the "
	       "50 ms SLO; 14 instances meet it \xe2\x80\x94 adjust.");
}

/* Same bits, so NaN == NaN and -0 != 0: a round trip must not change a
 * double at all. */
static int same_f64(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

static void check_kpi_eq(const struct st_kpi *a, const struct st_kpi *b)
{
	CU_ASSERT_EQUAL(a->seq, b->seq);
	CU_ASSERT_STRING_EQUAL(a->src, b->src);
	CU_ASSERT_STRING_EQUAL(a->service, b->service);
	CU_ASSERT_STRING_EQUAL(a->target, b->target);
	CU_ASSERT_EQUAL(a->role, b->role);
	CU_ASSERT_EQUAL(a->instances, b->instances);
	CU_ASSERT_EQUAL(a->t0, b->t0);
	CU_ASSERT_EQUAL(a->t1, b->t1);
	CU_ASSERT_EQUAL(a->pkts, b->pkts);
	CU_ASSERT_EQUAL(a->bytes, b->bytes);
	CU_ASSERT_EQUAL(a->rx_pkts, b->rx_pkts);
	CU_ASSERT_EQUAL(a->rx_bytes, b->rx_bytes);
	CU_ASSERT_EQUAL(a->requests, b->requests);
	CU_ASSERT_EQUAL(a->responses, b->responses);
	CU_ASSERT_EQUAL(a->timeouts, b->timeouts);
	CU_ASSERT_EQUAL(a->resets, b->resets);
	CU_ASSERT_EQUAL(a->icmp_errors, b->icmp_errors);
	CU_ASSERT(same_f64(a->offered_rps, b->offered_rps));
	CU_ASSERT_EQUAL_FATAL(a->n_drops, b->n_drops);
	for (uint32_t i = 0; i < a->n_drops; i++) {
		CU_ASSERT_STRING_EQUAL(a->drops[i].reason, b->drops[i].reason);
		CU_ASSERT_EQUAL(a->drops[i].count, b->drops[i].count);
	}
	CU_ASSERT_EQUAL_FATAL(a->lat_len, b->lat_len);
	if (a->lat_len)
		CU_ASSERT(memcmp(a->lat, b->lat, a->lat_len) == 0);
}

static void check_verdict_eq(const struct st_verdict *a,
			     const struct st_verdict *b)
{
	CU_ASSERT_EQUAL(a->seq, b->seq);
	CU_ASSERT_EQUAL(a->t, b->t);
	CU_ASSERT_STRING_EQUAL(a->service, b->service);
	CU_ASSERT_STRING_EQUAL(a->shadow, b->shadow);
	CU_ASSERT_EQUAL(a->verdict, b->verdict);
	CU_ASSERT_EQUAL(a->current_instances, b->current_instances);
	CU_ASSERT_EQUAL(a->proposed_instances, b->proposed_instances);
	CU_ASSERT_EQUAL(a->recommended_instances, b->recommended_instances);
	CU_ASSERT(same_f64(a->confidence, b->confidence));
	CU_ASSERT(same_f64(a->score, b->score));
	CU_ASSERT(same_f64(a->forecast_rps, b->forecast_rps));
	CU_ASSERT(same_f64(a->observed_rps_per_instance,
			   b->observed_rps_per_instance));
	CU_ASSERT_EQUAL_FATAL(a->n_kpis, b->n_kpis);
	for (uint32_t i = 0; i < a->n_kpis; i++) {
		const struct st_verdict_kpi *x = &a->kpis[i], *y = &b->kpis[i];

		CU_ASSERT_STRING_EQUAL(x->name, y->name);
		CU_ASSERT_STRING_EQUAL(x->unit, y->unit);
		CU_ASSERT(same_f64(x->predicted, y->predicted));
		CU_ASSERT(same_f64(x->observed, y->observed));
		CU_ASSERT(same_f64(x->ratio, y->ratio));
		CU_ASSERT(same_f64(x->ci_low, y->ci_low));
		CU_ASSERT(same_f64(x->ci_high, y->ci_high));
		CU_ASSERT_EQUAL(x->n, y->n);
		CU_ASSERT_EQUAL(x->status, y->status);
		CU_ASSERT_EQUAL(x->critical, y->critical);
	}
	CU_ASSERT_STRING_EQUAL(a->model.kind, b->model.kind);
	CU_ASSERT_EQUAL(a->model.version, b->model.version);
	CU_ASSERT_EQUAL_FATAL(a->model.n_params, b->model.n_params);
	for (uint32_t i = 0; i < a->model.n_params; i++) {
		CU_ASSERT_STRING_EQUAL(a->model.params[i].name,
				       b->model.params[i].name);
		CU_ASSERT(same_f64(a->model.params[i].value,
				   b->model.params[i].value));
	}
	CU_ASSERT_EQUAL(a->has_cost, b->has_cost);
	if (a->has_cost) {
		CU_ASSERT(same_f64(a->cost.current, b->cost.current));
		CU_ASSERT(same_f64(a->cost.proposed, b->cost.proposed));
		CU_ASSERT(same_f64(a->cost.recommended, b->cost.recommended));
	}
	CU_ASSERT_STRING_EQUAL(a->reason, b->reason);
	CU_ASSERT_EQUAL(a->has_verified, b->has_verified);
	if (a->has_verified) {
		CU_ASSERT_EQUAL(a->verified, b->verified);
		CU_ASSERT_STRING_EQUAL(a->verified_reason, b->verified_reason);
	}
}

/* Shared scratch: a buffer and decoded structs (the verdict is 4.5 KB). */
static struct st_wbuf wb, wb2;
static struct st_kpi kin, kout;
static struct st_verdict vin, vout;
static msgpack_zone zone;

static int suite_init(void)
{
	st_wbuf_init(&wb);
	st_wbuf_init(&wb2);
	return msgpack_zone_init(&zone, 4096) ? 0 : -1;
}

static int suite_clean(void)
{
	st_wbuf_free(&wb);
	st_wbuf_free(&wb2);
	msgpack_zone_destroy(&zone);
	return 0;
}

static void encode_kpi(void)
{
	fill_kpi(&kin);
	CU_ASSERT_EQUAL_FATAL(st_kpi_encode(&kin, &wb), 0);
}

static void encode_verdict(void)
{
	fill_verdict(&vin);
	CU_ASSERT_EQUAL_FATAL(st_verdict_encode(&vin, &wb), 0);
}

static enum st_wire_err kpi_err(const void *buf, size_t len,
				struct st_wire_error *e)
{
	memset(e, 0, sizeof(*e));
	if (st_kpi_decode(buf, len, &kout, e) == 0)
		return ST_WIRE_OK;
	return e->code;
}

static enum st_wire_err verdict_err(const void *buf, size_t len,
				    struct st_wire_error *e)
{
	memset(e, 0, sizeof(*e));
	if (st_verdict_decode(buf, len, &vout, e) == 0)
		return ST_WIRE_OK;
	return e->code;
}

/* ------------------------------------------------------------------ */
/* Message surgery: rebuild a map with one key dropped, replaced by raw
 * msgpack bytes, sent twice, or added. */

enum edit { ED_DROP, ED_REPLACE, ED_DUP, ED_ADD };

static void repack_obj(const msgpack_object *map, const char *key,
		       enum edit ed, const void *raw, size_t rawlen,
		       struct st_wbuf *out)
{
	size_t klen = strlen(key);
	uint32_t n = map->via.map.size;
	msgpack_packer pk;

	st_wbuf_reset(out);
	msgpack_packer_init(&pk, out, st_wbuf_mp_write);
	msgpack_pack_map(&pk, n + (ed == ED_DUP || ed == ED_ADD) -
			      (ed == ED_DROP));
	for (uint32_t i = 0; i < n; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];
		int hit = kv->key.type == MSGPACK_OBJECT_STR &&
			  kv->key.via.str.size == klen &&
			  memcmp(kv->key.via.str.ptr, key, klen) == 0;

		if (hit && ed == ED_DROP)
			continue;
		msgpack_pack_object(&pk, kv->key);
		if (hit && ed == ED_REPLACE)
			st_wbuf_append(out, raw, rawlen);
		else
			msgpack_pack_object(&pk, kv->val);
		if (hit && ed == ED_DUP) {
			msgpack_pack_object(&pk, kv->key);
			msgpack_pack_object(&pk, kv->val);
		}
	}
	if (ed == ED_ADD) {
		msgpack_pack_str(&pk, klen);
		msgpack_pack_str_body(&pk, key, klen);
		st_wbuf_append(out, raw, rawlen);
	}
	CU_ASSERT_FATAL(!out->oom);
}

/* Edits the message in wb into wb2. */
static void repack(const char *key, enum edit ed, const void *raw,
		   size_t rawlen)
{
	msgpack_object top;

	msgpack_zone_clear(&zone);
	CU_ASSERT_EQUAL_FATAL(st_wire_parse(wb.data, wb.len, NULL, &zone,
					    &top, NULL), 0);
	repack_obj(&top, key, ed, raw, rawlen, &wb2);
}

/* ------------------------------------------------------------------ */
/* Round trips                                                        */

static void test_kpi_roundtrip(void)
{
	struct st_wire_error e;

	encode_kpi();
	CU_ASSERT_EQUAL_FATAL(kpi_err(wb.data, wb.len, &e), ST_WIRE_OK);
	check_kpi_eq(&kin, &kout);
	CU_ASSERT_EQUAL(kout.unknown_keys, 0);
	/* lat is borrowed from the input, not copied. */
	CU_ASSERT(kout.lat > wb.data && kout.lat + kout.lat_len <= wb.data + wb.len);
}

static void test_kpi_roundtrip_max(void)
{
	struct st_wire_error e;

	fill_kpi(&kin);
	memset(kin.src, 'a', sizeof(kin.src) - 1);
	kin.src[sizeof(kin.src) - 1] = '\0';
	memset(kin.service, 'S', sizeof(kin.service) - 1);
	kin.service[sizeof(kin.service) - 1] = '\0';
	memset(kin.target, '-', sizeof(kin.target) - 1);
	kin.target[sizeof(kin.target) - 1] = '\0';
	kin.role = ST_ROLE_LOADGEN;
	kin.instances = UINT32_MAX;
	kin.seq = kin.t1 = kin.pkts = kin.rx_bytes = UINT64_MAX;
	kin.t0 = 0;
	kin.n_drops = ST_KPI_MAX_DROPS;
	for (int i = 0; i < ST_KPI_MAX_DROPS; i++) {
		memset(kin.drops[i].reason, 'r', sizeof(kin.drops[i].reason) - 1);
		kin.drops[i].reason[sizeof(kin.drops[i].reason) - 1] = '\0';
		kin.drops[i].reason[0] = (char)('A' + i);
		kin.drops[i].count = UINT64_MAX - (uint64_t)i;
	}
	kin.lat = NULL;
	kin.lat_len = 0;
	CU_ASSERT_EQUAL_FATAL(st_kpi_encode(&kin, &wb), 0);
	CU_ASSERT_EQUAL_FATAL(kpi_err(wb.data, wb.len, &e), ST_WIRE_OK);
	check_kpi_eq(&kin, &kout);

	/* A prod snapshot with no drops at all. */
	fill_kpi(&kin);
	kin.role = ST_ROLE_PROD;
	kin.n_drops = 0;
	kin.offered_rps = 0;
	CU_ASSERT_EQUAL_FATAL(st_kpi_encode(&kin, &wb), 0);
	CU_ASSERT_EQUAL_FATAL(kpi_err(wb.data, wb.len, &e), ST_WIRE_OK);
	check_kpi_eq(&kin, &kout);
}

static void test_verdict_roundtrip(void)
{
	struct st_wire_error e;

	encode_verdict();
	CU_ASSERT_EQUAL_FATAL(verdict_err(wb.data, wb.len, &e), ST_WIRE_OK);
	check_verdict_eq(&vin, &vout);
	CU_ASSERT_EQUAL(vout.unknown_keys, 0);

	/* Without a price there is no cost map at all. */
	vin.has_cost = false;
	CU_ASSERT_EQUAL_FATAL(st_verdict_encode(&vin, &wb), 0);
	CU_ASSERT_PTR_NULL(memmem(wb.data, wb.len, "\xa4" "cost", 5));
	CU_ASSERT_EQUAL_FATAL(verdict_err(wb.data, wb.len, &e), ST_WIRE_OK);
	CU_ASSERT_FALSE(vout.has_cost);
	check_verdict_eq(&vin, &vout);

	/* verified and its reason travel together, only when set; a
	 * verdict without them (an older analyzer's) still decodes. */
	CU_ASSERT_PTR_NULL(memmem(wb.data, wb.len, "\xa8" "verified", 9));
	CU_ASSERT_FALSE(vout.has_verified);
	vin.has_verified = true;
	vin.verified = false;
	snprintf(vin.verified_reason, sizeof(vin.verified_reason),
		 "7 instances run at 128.6 rps each, beyond the 112.5 rps measured");
	CU_ASSERT_EQUAL_FATAL(st_verdict_encode(&vin, &wb), 0);
	CU_ASSERT_EQUAL_FATAL(verdict_err(wb.data, wb.len, &e), ST_WIRE_OK);
	CU_ASSERT_TRUE(vout.has_verified);
	check_verdict_eq(&vin, &vout);
	/* ...and never one without the other (the reason alone decoded as
	 * "verified": false, never said) */
	{
		uint8_t *r = memmem(wb.data, wb.len, "\xaf" "verified_reason", 16);
		uint8_t *b = memmem(wb.data, wb.len, "\xa8" "verified", 9);

		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		r[15] = 'X';
		CU_ASSERT_EQUAL(verdict_err(wb.data, wb.len, &e), ST_WIRE_E_MISSING);
		CU_ASSERT_STRING_EQUAL(e.field, "verified_reason");
		r[15] = 'n';
		b[8] = 'X';
		CU_ASSERT_EQUAL(verdict_err(wb.data, wb.len, &e), ST_WIRE_E_MISSING);
		CU_ASSERT_STRING_EQUAL(e.field, "verified");
		b[8] = 'd';
		CU_ASSERT_EQUAL(verdict_err(wb.data, wb.len, &e), ST_WIRE_OK);
	}
}

static void test_verdict_roundtrip_max(void)
{
	struct st_wire_error e;

	fill_verdict(&vin);
	vin.verdict = ST_VERDICT_INCONCLUSIVE;
	vin.confidence = 1;
	vin.score = 100;
	vin.n_kpis = ST_VERDICT_MAX_KPIS;
	for (int i = 0; i < ST_VERDICT_MAX_KPIS; i++) {
		struct st_verdict_kpi *k = &vin.kpis[i];

		memset(k->name, 'k', sizeof(k->name) - 1);
		k->name[sizeof(k->name) - 1] = '\0';
		memset(k->unit, 'u', sizeof(k->unit) - 1);
		k->unit[sizeof(k->unit) - 1] = '\0';
		k->predicted = i;
		k->observed = -i;
		k->n = UINT64_MAX;
		k->status = (enum st_kpi_status)(i % ST_KPI_STATUS__COUNT);
		k->critical = i & 1;
	}
	vin.model.n_params = ST_MODEL_MAX_PARAMS;
	for (int i = 0; i < ST_MODEL_MAX_PARAMS; i++) {
		/* 31 bytes, the most that fits. */
		char *nm = vin.model.params[i].name;

		memset(nm, 'x', ST_WIRE_LABEL_MAX - 1);
		nm[ST_WIRE_LABEL_MAX - 1] = '\0';
		nm[0] = (char)('a' + i % 26);
		nm[1] = (char)('a' + i / 26);
		vin.model.params[i].value = 1.0 / (i + 1);
	}
	/* 511 bytes of 3-byte UTF-8 sequences plus ASCII padding. */
	memset(vin.reason, 0, sizeof(vin.reason));
	for (int i = 0; i < 170; i++)
		memcpy(vin.reason + 3 * i, "\xe2\x82\xac", 3);  /* € */
	vin.reason[510] = '.';
	CU_ASSERT_EQUAL(strlen(vin.reason), ST_WIRE_REASON_MAX - 1);
	CU_ASSERT_EQUAL_FATAL(st_verdict_encode(&vin, &wb), 0);
	CU_ASSERT_EQUAL_FATAL(verdict_err(wb.data, wb.len, &e), ST_WIRE_OK);
	check_verdict_eq(&vin, &vout);
}

/* The bytes of a known snapshot, produced independently by Python's msgpack
 * (packb of an ordered dict, use_bin_type=True). A change here is a change
 * of the wire format: every subscriber has to follow. */
static const uint8_t golden_kpi[] = {
	0xde, 0x00, 0x15, 0xa1, 0x76, 0x01, 0xa3, 0x73, 0x65, 0x71, 0x2a, 0xa3,
	0x73, 0x72, 0x63, 0xa3, 0x67, 0x77, 0x31, 0xa7, 0x73, 0x65, 0x72, 0x76,
	0x69, 0x63, 0x65, 0xa3, 0x77, 0x65, 0x62, 0xa6, 0x74, 0x61, 0x72, 0x67,
	0x65, 0x74, 0xa6, 0x63, 0x61, 0x6e, 0x61, 0x72, 0x79, 0xa4, 0x72, 0x6f,
	0x6c, 0x65, 0xa6, 0x73, 0x68, 0x61, 0x64, 0x6f, 0x77, 0xa9, 0x69, 0x6e,
	0x73, 0x74, 0x61, 0x6e, 0x63, 0x65, 0x73, 0x02, 0xa2, 0x74, 0x30, 0xcf,
	0x17, 0x97, 0x9c, 0xfe, 0x36, 0x2a, 0x00, 0x00, 0xa2, 0x74, 0x31, 0xcf,
	0x17, 0x97, 0x9c, 0xfe, 0x71, 0xc4, 0xca, 0x00, 0xa4, 0x70, 0x6b, 0x74,
	0x73, 0xcd, 0x03, 0xe8, 0xa5, 0x62, 0x79, 0x74, 0x65, 0x73, 0xce, 0x00,
	0x16, 0xe3, 0x60, 0xa7, 0x72, 0x78, 0x5f, 0x70, 0x6b, 0x74, 0x73, 0xcd,
	0x03, 0x84, 0xa8, 0x72, 0x78, 0x5f, 0x62, 0x79, 0x74, 0x65, 0x73, 0xce,
	0x00, 0x1e, 0x84, 0x80, 0xa8, 0x72, 0x65, 0x71, 0x75, 0x65, 0x73, 0x74,
	0x73, 0xcd, 0x01, 0xf4, 0xa9, 0x72, 0x65, 0x73, 0x70, 0x6f, 0x6e, 0x73,
	0x65, 0x73, 0xcd, 0x01, 0xf2, 0xa8, 0x74, 0x69, 0x6d, 0x65, 0x6f, 0x75,
	0x74, 0x73, 0x01, 0xa6, 0x72, 0x65, 0x73, 0x65, 0x74, 0x73, 0x01, 0xab,
	0x69, 0x63, 0x6d, 0x70, 0x5f, 0x65, 0x72, 0x72, 0x6f, 0x72, 0x73, 0x00,
	0xab, 0x6f, 0x66, 0x66, 0x65, 0x72, 0x65, 0x64, 0x5f, 0x72, 0x70, 0x73,
	0xcb, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xa5, 0x64, 0x72,
	0x6f, 0x70, 0x73, 0x82, 0xa9, 0x72, 0x69, 0x6e, 0x67, 0x5f, 0x66, 0x75,
	0x6c, 0x6c, 0x03, 0xa8, 0x72, 0x61, 0x74, 0x65, 0x5f, 0x63, 0x61, 0x70,
	0x07, 0xa3, 0x6c, 0x61, 0x74, 0xc4, 0x07, 0x1c, 0x84, 0x93, 0x14, 0x01,
	0x02, 0x03,
};

static void test_kpi_golden(void)
{
	static const uint8_t lat[] = { 0x1c, 0x84, 0x93, 0x14, 0x01, 0x02, 0x03 };
	struct st_wire_error e;
	struct st_kpi k = {
		.seq = 42, .src = "gw1", .service = "web", .target = "canary",
		.role = ST_ROLE_SHADOW, .instances = 2,
		.t0 = 1700000000000000000ULL, .t1 = 1700000001000000000ULL,
		.pkts = 1000, .bytes = 1500000, .rx_pkts = 900,
		.rx_bytes = 2000000, .requests = 500, .responses = 498,
		.timeouts = 1, .resets = 1, .icmp_errors = 0,
		.offered_rps = 0.0, .n_drops = 2,
		.drops = { { "ring_full", 3 }, { "rate_cap", 7 } },
		.lat = lat, .lat_len = sizeof(lat),
	};

	CU_ASSERT_EQUAL_FATAL(st_kpi_encode(&k, &wb), 0);
	CU_ASSERT_EQUAL_FATAL(wb.len, sizeof(golden_kpi));
	CU_ASSERT(memcmp(wb.data, golden_kpi, sizeof(golden_kpi)) == 0);
	CU_ASSERT_EQUAL_FATAL(kpi_err(golden_kpi, sizeof(golden_kpi), &e),
			      ST_WIRE_OK);
	check_kpi_eq(&k, &kout);
}

/* The HTML escaper: the four characters, runs between them intact. */
static void test_wbuf_html(void)
{
	struct st_wbuf b;

	st_wbuf_init(&b);
	CU_ASSERT_EQUAL(st_wbuf_html(&b, "a<b>&\"c\" d"), 0);
	CU_ASSERT_EQUAL(b.len, strlen("a&lt;b&gt;&amp;&quot;c&quot; d"));
	CU_ASSERT_EQUAL(memcmp(b.data, "a&lt;b&gt;&amp;&quot;c&quot; d", b.len), 0);
	st_wbuf_reset(&b);
	CU_ASSERT_EQUAL(st_wbuf_html(&b, ""), 0);
	CU_ASSERT_EQUAL(b.len, 0);
	CU_ASSERT_EQUAL(st_wbuf_html(&b, "plain"), 0);
	CU_ASSERT_EQUAL(b.len, 5);
	st_wbuf_free(&b);
}

/* The heatmaps' scale: green to half the objective, amber at it, red at
 * red_at and past it (log between), NaN red. */
static void test_heat_colour(void)
{
	char c[16];

	st_heat_colour(0.1, 4, c, sizeof(c));
	CU_ASSERT_STRING_EQUAL(c, "#43a047");
	st_heat_colour(0.5, 4, c, sizeof(c));
	CU_ASSERT_STRING_EQUAL(c, "#43a047");
	st_heat_colour(0.75, 4, c, sizeof(c));	/* half way, green to amber */
	CU_ASSERT_STRING_EQUAL(c, "#a1aa24");
	st_heat_colour(1, 4, c, sizeof(c));
	CU_ASSERT_STRING_EQUAL(c, "#ffb300");
	st_heat_colour(2, 8, c, sizeof(c));	/* a third of the way on the log scale */
	CU_ASSERT_STRING_EQUAL(c, "#ec850d");
	st_heat_colour(4, 4, c, sizeof(c));
	CU_ASSERT_STRING_EQUAL(c, "#c62828");
	st_heat_colour(INFINITY, 2, c, sizeof(c));
	CU_ASSERT_STRING_EQUAL(c, "#c62828");
	st_heat_colour(NAN, 2, c, sizeof(c));
	CU_ASSERT_STRING_EQUAL(c, "#c62828");
}

static void test_wbuf_reuse(void)
{
	uint8_t *p;

	encode_kpi();
	p = wb.data;
	/* The same snapshot again must not reallocate: publishers reuse
	 * one buffer every interval. */
	for (int i = 0; i < 100; i++) {
		kin.seq++;
		CU_ASSERT_EQUAL(st_kpi_encode(&kin, &wb), 0);
	}
	CU_ASSERT_PTR_EQUAL(wb.data, p);
	CU_ASSERT_EQUAL(st_wbuf_printf(&wb, "%s-%d", "x", 5), 0);
	CU_ASSERT(memcmp(wb.data + wb.len - 3, "x-5", 3) == 0);
}

/* ------------------------------------------------------------------ */
/* Encoder refusals                                                   */

static void test_encode_refuses(void)
{
	struct st_wire_error e;

	fill_kpi(&kin);
	strcpy(kin.service, "we.b");
	CU_ASSERT_EQUAL(st_kpi_encode(&kin, &wb), -EINVAL);
	CU_ASSERT_EQUAL(wb.len, 0);
	CU_ASSERT_EQUAL(st_kpi_check(&kin, &e), -EINVAL);
	CU_ASSERT_EQUAL(e.code, ST_WIRE_E_VALUE);
	CU_ASSERT_STRING_EQUAL(e.field, "service");

	fill_kpi(&kin);
	kin.target[0] = '\0';
	CU_ASSERT_EQUAL(st_kpi_check(&kin, &e), -EINVAL);
	CU_ASSERT_STRING_EQUAL(e.field, "target");

	fill_kpi(&kin);
	strcpy(kin.target, "a b");
	CU_ASSERT_EQUAL(st_kpi_check(&kin, &e), -EINVAL);

	fill_kpi(&kin);
	memset(kin.service, 'x', sizeof(kin.service));  /* no NUL */
	CU_ASSERT_EQUAL(st_kpi_check(&kin, &e), -EINVAL);
	CU_ASSERT_EQUAL(e.code, ST_WIRE_E_STR_LEN);

	fill_kpi(&kin);
	kin.role = (enum st_role)7;
	CU_ASSERT_EQUAL(st_kpi_check(&kin, &e), -EINVAL);
	CU_ASSERT_STRING_EQUAL(e.field, "role");

	fill_kpi(&kin);
	kin.t0 = kin.t1 + 1;
	CU_ASSERT_EQUAL(st_kpi_check(&kin, &e), -EINVAL);

	fill_kpi(&kin);
	kin.n_drops = ST_KPI_MAX_DROPS + 1;
	CU_ASSERT_EQUAL(st_kpi_check(&kin, &e), -EINVAL);
	CU_ASSERT_EQUAL(e.code, ST_WIRE_E_COUNT);

	fill_kpi(&kin);
	strcpy(kin.drops[3].reason, kin.drops[1].reason);
	CU_ASSERT_EQUAL(st_kpi_check(&kin, &e), -EINVAL);
	CU_ASSERT_EQUAL(e.code, ST_WIRE_E_DUPLICATE);

	fill_kpi(&kin);
	kin.lat = NULL;
	CU_ASSERT_EQUAL(st_kpi_check(&kin, &e), -EINVAL);
	CU_ASSERT_STRING_EQUAL(e.field, "lat");

	fill_kpi(&kin);
	kin.offered_rps = NAN;
	CU_ASSERT_EQUAL(st_kpi_check(&kin, &e), -EINVAL);
	kin.offered_rps = -1;
	CU_ASSERT_EQUAL(st_kpi_check(&kin, &e), -EINVAL);

	fill_kpi(&kin);
	strcpy(kin.src, "bad\xff");
	CU_ASSERT_EQUAL(st_kpi_check(&kin, &e), -EINVAL);
	CU_ASSERT_STRING_EQUAL(e.field, "src");

	fill_verdict(&vin);
	vin.confidence = 1.0000001;
	CU_ASSERT_EQUAL(st_verdict_encode(&vin, &wb), -EINVAL);
	CU_ASSERT_EQUAL(st_verdict_check(&vin, &e), -EINVAL);
	CU_ASSERT_STRING_EQUAL(e.field, "confidence");
	fill_verdict(&vin);
	vin.score = NAN;
	CU_ASSERT_EQUAL(st_verdict_check(&vin, &e), -EINVAL);
	fill_verdict(&vin);
	vin.kpis[1].status = ST_KPI_STATUS__COUNT;
	CU_ASSERT_EQUAL(st_verdict_check(&vin, &e), -EINVAL);
	CU_ASSERT_STRING_EQUAL(e.field, "kpis[1].status");
	fill_verdict(&vin);
	vin.kpis[0].name[0] = '\0';
	CU_ASSERT_EQUAL(st_verdict_check(&vin, &e), -EINVAL);
	CU_ASSERT_STRING_EQUAL(e.field, "kpis[0].name");
	fill_verdict(&vin);
	vin.model.params[1].value = INFINITY;
	CU_ASSERT_EQUAL(st_verdict_check(&vin, &e), -EINVAL);
	fill_verdict(&vin);
	strcpy(vin.model.params[1].name, "mu");
	CU_ASSERT_EQUAL(st_verdict_check(&vin, &e), -EINVAL);
	fill_verdict(&vin);
	vin.cost.proposed = -1;
	CU_ASSERT_EQUAL(st_verdict_check(&vin, &e), -EINVAL);
	CU_ASSERT_STRING_EQUAL(e.field, "cost.proposed");
	vin.has_cost = false;  /* an absent cost is not checked */
	CU_ASSERT_EQUAL(st_verdict_check(&vin, &e), 0);
	fill_verdict(&vin);
	vin.n_kpis = ST_VERDICT_MAX_KPIS + 1;
	CU_ASSERT_EQUAL(st_verdict_check(&vin, &e), -EINVAL);
}

static void test_size_limit(void)
{
	static uint8_t big[ST_WIRE_MAX_SIZE];
	struct st_wire_error e;
	size_t overhead;

	/* Find the lat length that makes the message exactly the limit. */
	fill_kpi(&kin);
	kin.lat = big;
	kin.lat_len = 70000;  /* bin32 header, as the big one will use */
	CU_ASSERT_EQUAL_FATAL(st_kpi_encode(&kin, &wb), 0);
	overhead = wb.len - kin.lat_len;
	kin.lat_len = ST_WIRE_MAX_SIZE - overhead;
	CU_ASSERT_EQUAL_FATAL(st_kpi_encode(&kin, &wb), 0);
	CU_ASSERT_EQUAL(wb.len, ST_WIRE_MAX_SIZE);
	CU_ASSERT_EQUAL(kpi_err(wb.data, wb.len, &e), ST_WIRE_OK);
	CU_ASSERT_EQUAL(kout.lat_len, kin.lat_len);

	kin.lat_len++;
	CU_ASSERT_EQUAL(st_kpi_encode(&kin, &wb), -EMSGSIZE);
	CU_ASSERT_EQUAL(wb.len, 0);

	/* The decoder refuses by size before reading a byte. */
	CU_ASSERT_EQUAL(kpi_err(big, 0, &e), ST_WIRE_E_TRUNCATED);
	{
		uint8_t *p = calloc(1, ST_WIRE_MAX_SIZE + 1);

		CU_ASSERT_FATAL(p != NULL);
		CU_ASSERT_EQUAL(kpi_err(p, ST_WIRE_MAX_SIZE + 1, &e),
				ST_WIRE_E_TOO_LARGE);
		free(p);
	}
}

/* ------------------------------------------------------------------ */
/* Malformed input                                                    */

static void test_truncated_everywhere(void)
{
	struct st_wire_error e;
	uint8_t *p;
	size_t n;

	encode_kpi();
	n = wb.len;
	for (size_t len = 0; len < n; len++) {
		/* An exact-size copy, so ASan sees any read past the end. */
		p = malloc(len ? len : 1);
		CU_ASSERT_FATAL(p != NULL);
		memcpy(p, wb.data, len);
		if (kpi_err(p, len, &e) != ST_WIRE_E_TRUNCATED) {
			CU_FAIL("kpi prefix not refused as truncated");
			fprintf(stderr, "len %zu: %s\n", len,
				st_wire_strerror(e.code));
		}
		free(p);
	}

	encode_verdict();
	n = wb.len;
	for (size_t len = 0; len < n; len++) {
		p = malloc(len ? len : 1);
		CU_ASSERT_FATAL(p != NULL);
		memcpy(p, wb.data, len);
		CU_ASSERT_EQUAL(verdict_err(p, len, &e), ST_WIRE_E_TRUNCATED);
		free(p);
	}
}

static void test_trailing(void)
{
	struct st_wire_error e;

	encode_kpi();
	st_wbuf_append(&wb, "\xc0", 1);
	CU_ASSERT_EQUAL(kpi_err(wb.data, wb.len, &e), ST_WIRE_E_TRAILING);
	encode_verdict();
	st_wbuf_append(&wb, "\x00\x00", 2);
	CU_ASSERT_EQUAL(verdict_err(wb.data, wb.len, &e), ST_WIRE_E_TRAILING);
	CU_ASSERT_NOT_EQUAL(strstr(e.detail, "2 bytes"), NULL);
}

static const char *const kpi_keys[] = {
	"v", "seq", "src", "service", "target", "role", "instances", "t0",
	"t1", "pkts", "bytes", "rx_pkts", "rx_bytes", "requests", "responses",
	"timeouts", "resets", "icmp_errors", "offered_rps", "drops", "lat",
};
static const char *const kpi_str_keys[] = {
	"src", "service", "target", "role",
};
static const char *const verdict_keys[] = {
	"v", "seq", "t", "service", "shadow", "verdict", "current_instances",
	"proposed_instances", "recommended_instances", "confidence", "score",
	"forecast_rps", "observed_rps_per_instance", "kpis", "model", "cost",
	"reason",
};
static const char *const verdict_str_keys[] = {
	"service", "shadow", "verdict", "reason",
};

static int in_list(const char *k, const char *const *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(k, l[i]) == 0)
			return 1;
	return 0;
}

#define RAW(s) s, sizeof(s) - 1
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void test_wrong_type_each_field(void)
{
	struct st_wire_error e;

	for (size_t i = 0; i < NELEM(kpi_keys); i++) {
		const char *k = kpi_keys[i];
		/* A str where the field is not one, an int where it is. */
		int is_str = in_list(k, kpi_str_keys, NELEM(kpi_str_keys));

		encode_kpi();
		repack(k, ED_REPLACE, is_str ? "\x07" : "\xa1x", is_str ? 1 : 2);
		CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_E_TYPE);
		CU_ASSERT_STRING_EQUAL(e.field, k);
	}
	for (size_t i = 0; i < NELEM(verdict_keys); i++) {
		const char *k = verdict_keys[i];
		int is_str = in_list(k, verdict_str_keys,
				     NELEM(verdict_str_keys));

		encode_verdict();
		repack(k, ED_REPLACE, is_str ? "\x07" : "\xa1x", is_str ? 1 : 2);
		CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e),
				ST_WIRE_E_TYPE);
		CU_ASSERT_STRING_EQUAL(e.field, k);
	}
	/* The message text names what was expected and what came. */
	encode_kpi();
	repack("seq", ED_REPLACE, RAW("\xa1x"));
	kpi_err(wb2.data, wb2.len, &e);
	{
		char buf[200];

		CU_ASSERT_STRING_EQUAL(st_wire_error_fmt(&e, buf, sizeof(buf)),
				       "field 'seq': expected unsigned integer, got str");
	}
}

static const char *const vkpi_keys[] = {
	"name", "unit", "predicted", "observed", "ratio", "ci_low", "ci_high",
	"n", "status", "critical",
};

/* Edits kpis[1] of the verdict in wb into wb2. */
static void repack_vkpi(const char *key, enum edit ed, const void *raw,
			size_t rawlen)
{
	msgpack_object top;
	const msgpack_object *kpis;
	struct st_wbuf item, arr;
	msgpack_packer pk;

	st_wbuf_init(&item);
	st_wbuf_init(&arr);
	msgpack_zone_clear(&zone);
	CU_ASSERT_EQUAL_FATAL(st_wire_parse(wb.data, wb.len, NULL, &zone,
					    &top, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(st_wire_get(&top, "kpis", &kpis, NULL), 0);
	repack_obj(&kpis->via.array.ptr[1], key, ed, raw, rawlen, &item);
	msgpack_packer_init(&pk, &arr, st_wbuf_mp_write);
	msgpack_pack_array(&pk, kpis->via.array.size);
	for (uint32_t i = 0; i < kpis->via.array.size; i++) {
		if (i == 1)
			st_wbuf_append(&arr, item.data, item.len);
		else
			msgpack_pack_object(&pk, kpis->via.array.ptr[i]);
	}
	repack_obj(&top, "kpis", ED_REPLACE, arr.data, arr.len, &wb2);
	st_wbuf_free(&item);
	st_wbuf_free(&arr);
}

static void test_nested_fields(void)
{
	struct st_wire_error e;
	char path[32];

	for (size_t i = 0; i < NELEM(vkpi_keys); i++) {
		const char *k = vkpi_keys[i];
		int is_str = !strcmp(k, "name") || !strcmp(k, "unit") ||
			     !strcmp(k, "status");

		snprintf(path, sizeof(path), "kpis[1].%s", k);
		encode_verdict();
		repack_vkpi(k, ED_REPLACE, is_str ? "\x07" : "\xa1x",
			    is_str ? 1 : 2);
		CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e),
				ST_WIRE_E_TYPE);
		CU_ASSERT_STRING_EQUAL(e.field, path);

		repack_vkpi(k, ED_DROP, NULL, 0);
		CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e),
				ST_WIRE_E_MISSING);
		CU_ASSERT_STRING_EQUAL(e.field, path);

		repack_vkpi(k, ED_DUP, NULL, 0);
		CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e),
				ST_WIRE_E_DUPLICATE);
		CU_ASSERT_STRING_EQUAL(e.field, path);
	}
	/* Bad values inside. */
	encode_verdict();
	repack_vkpi("status", ED_REPLACE, RAW("\xa4" "PASS"));
	CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e), ST_WIRE_E_VALUE);
	repack_vkpi("n", ED_REPLACE, RAW("\xff"));  /* -1 */
	CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e), ST_WIRE_E_VALUE);
	/* A newer analyzer's extra KPI field is skipped and counted. */
	repack_vkpi("weight", ED_ADD, RAW("\x92\x01\x81\xa1z\xc0"));
	CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e), ST_WIRE_OK);
	CU_ASSERT_EQUAL(vout.unknown_keys, 1);
	CU_ASSERT_EQUAL(vout.n_kpis, 3);
	CU_ASSERT_STRING_EQUAL(vout.kpis[2].name, "timeouts");

	/* kpis elements must be maps. */
	repack("kpis", ED_REPLACE, RAW("\x91\x01"));
	CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e), ST_WIRE_E_NOT_MAP);
	CU_ASSERT_STRING_EQUAL(e.field, "kpis[0].");
}

static void test_missing_each_field(void)
{
	struct st_wire_error e;

	for (size_t i = 0; i < NELEM(kpi_keys); i++) {
		encode_kpi();
		repack(kpi_keys[i], ED_DROP, NULL, 0);
		CU_ASSERT_EQUAL(wb2.len < wb.len, 1);
		CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e),
				ST_WIRE_E_MISSING);
		CU_ASSERT_STRING_EQUAL(e.field, kpi_keys[i]);
	}
	for (size_t i = 0; i < NELEM(verdict_keys); i++) {
		encode_verdict();
		repack(verdict_keys[i], ED_DROP, NULL, 0);
		if (strcmp(verdict_keys[i], "cost") == 0) {
			CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e),
					ST_WIRE_OK);
			CU_ASSERT_FALSE(vout.has_cost);
			continue;
		}
		CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e),
				ST_WIRE_E_MISSING);
		CU_ASSERT_STRING_EQUAL(e.field, verdict_keys[i]);
	}
	/* Inside nested records too. */
	encode_verdict();
	repack("model", ED_REPLACE, RAW("\x82\xa4kind\xa1m\xa6params\x80"));
	CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e), ST_WIRE_E_MISSING);
	CU_ASSERT_STRING_EQUAL(e.field, "model.version");
	repack("cost", ED_REPLACE, RAW("\x81\xa7" "current\x01"));
	CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e), ST_WIRE_E_MISSING);
	CU_ASSERT_STRING_EQUAL(e.field, "cost.proposed");
}

static void test_duplicate_keys(void)
{
	struct st_wire_error e;

	for (size_t i = 0; i < NELEM(kpi_keys); i++) {
		encode_kpi();
		repack(kpi_keys[i], ED_DUP, NULL, 0);
		CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e),
				ST_WIRE_E_DUPLICATE);
		CU_ASSERT_STRING_EQUAL(e.field, kpi_keys[i]);
	}
	encode_kpi();
	repack("drops", ED_REPLACE, RAW("\x82\xa1" "a\x01\xa1" "a\x02"));
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_E_DUPLICATE);
	CU_ASSERT_STRING_EQUAL(e.field, "drops.a");

	encode_verdict();
	repack("model", ED_REPLACE,
	       RAW("\x83\xa4kind\xa1m\xa7version\x01\xa6params\x82\xa1p\x01\xa1p\x02"));
	CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e),
			ST_WIRE_E_DUPLICATE);
	CU_ASSERT_STRING_EQUAL(e.field, "model.params.p");
	repack("cost", ED_DUP, NULL, 0);
	CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e),
			ST_WIRE_E_DUPLICATE);
}

static void test_version(void)
{
	struct st_wire_error e;

	encode_kpi();
	repack("v", ED_REPLACE, RAW("\x02"));
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_E_VERSION);
	repack("v", ED_REPLACE, RAW("\x00"));
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_E_VERSION);
	/* Any integer encoding of 1 is version 1. */
	repack("v", ED_REPLACE, RAW("\xcf\0\0\0\0\0\0\0\x01"));
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_OK);
	repack("v", ED_REPLACE, RAW("\xd0\x01"));
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_OK);
	repack("v", ED_REPLACE, RAW("\xcb\x3f\xf0\0\0\0\0\0\0"));  /* 1.0 */
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_E_TYPE);
	encode_verdict();
	repack("v", ED_REPLACE, RAW("\x02"));
	CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e), ST_WIRE_E_VERSION);
}

static void test_values(void)
{
	struct st_wire_error e;

	encode_kpi();
	repack("role", ED_REPLACE, RAW("\xa5" "proxy"));
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_E_VALUE);
	CU_ASSERT_STRING_EQUAL(e.field, "role");
	repack("service", ED_REPLACE, RAW("\xa3" "a.b"));
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_E_VALUE);
	repack("service", ED_REPLACE, RAW("\xa0"));
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_E_VALUE);
	repack("src", ED_REPLACE, RAW("\xa0"));
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_E_VALUE);
	repack("src", ED_REPLACE, RAW("\xa3" "a\0b"));
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_E_VALUE);
	repack("src", ED_REPLACE, RAW("\xa2\xc0\xaf"));  /* overlong '/' */
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_E_VALUE);
	repack("src", ED_REPLACE, RAW("\xa3\xed\xa0\x80"));  /* surrogate */
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_E_VALUE);
	repack("seq", ED_REPLACE, RAW("\xff"));
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_E_VALUE);
	repack("seq", ED_REPLACE, RAW("\xd3\x80\0\0\0\0\0\0\0"));
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_E_VALUE);
	repack("instances", ED_REPLACE, RAW("\xcf\0\0\0\x01\0\0\0\0"));
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_E_VALUE);
	repack("instances", ED_REPLACE, RAW("\xce\xff\xff\xff\xff"));
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_OK);
	CU_ASSERT_EQUAL(kout.instances, UINT32_MAX);
	repack("t0", ED_REPLACE, RAW("\xcf\xff\0\0\0\0\0\0\0"));
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_E_VALUE);
	repack("offered_rps", ED_REPLACE, RAW("\xcb\x7f\xf8\0\0\0\0\0\0"));
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_E_VALUE);
	repack("offered_rps", ED_REPLACE, RAW("\xff"));
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_E_VALUE);
	/* Integers and float32 are fine where a double is expected. */
	repack("offered_rps", ED_REPLACE, RAW("\xcd\x03\xe8"));
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_OK);
	CU_ASSERT_DOUBLE_EQUAL(kout.offered_rps, 1000.0, 0);
	repack("offered_rps", ED_REPLACE, RAW("\xca\x3f\xc0\0\0"));
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_OK);
	CU_ASSERT_DOUBLE_EQUAL(kout.offered_rps, 1.5, 0);
	/* Drop reasons are bounded and counts unsigned. */
	repack("drops", ED_REPLACE,
	       RAW("\x81\xa0\x01"));
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_E_VALUE);
	repack("drops", ED_REPLACE, RAW("\x81\x01\x01"));
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_E_TYPE);
	repack("drops", ED_REPLACE, RAW("\x81\xa1r\xa1r"));
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_E_TYPE);
	CU_ASSERT_STRING_EQUAL(e.field, "drops.r");

	encode_verdict();
	repack("verdict", ED_REPLACE, RAW("\xa7" "Confirm"));
	CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e), ST_WIRE_E_VALUE);
	repack("confidence", ED_REPLACE, RAW("\x02"));
	CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e), ST_WIRE_E_VALUE);
	repack("confidence", ED_REPLACE, RAW("\x01"));
	CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e), ST_WIRE_OK);
	repack("score", ED_REPLACE, RAW("\x65"));  /* 101 */
	CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e), ST_WIRE_E_VALUE);
	repack("score", ED_REPLACE, RAW("\x64"));  /* 100 */
	CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e), ST_WIRE_OK);
	repack("shadow", ED_REPLACE, RAW("\xa2" "a "));
	CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e), ST_WIRE_E_VALUE);
	repack("model", ED_REPLACE,
	       RAW("\x83\xa4kind\xa1m\xa7version\x01\xa6params\x81\xa1p\xa1x"));
	CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e), ST_WIRE_E_TYPE);
	CU_ASSERT_STRING_EQUAL(e.field, "model.params.p");
	repack("cost", ED_REPLACE, RAW("\xc0"));
	CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e), ST_WIRE_E_TYPE);
}

static void test_string_bounds(void)
{
	char raw[1 + 2 + 600];
	struct st_wire_error e;

	/* Names: 63 bytes fit, 64 do not (no silent truncation). */
	encode_kpi();
	raw[0] = (char)0xd9;
	raw[1] = 63;
	memset(raw + 2, 'n', 64);
	repack("service", ED_REPLACE, raw, 2 + 63);
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_OK);
	CU_ASSERT_EQUAL(strlen(kout.service), 63);
	raw[1] = 64;
	repack("service", ED_REPLACE, raw, 2 + 64);
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_E_STR_LEN);
	CU_ASSERT_STRING_EQUAL(e.field, "service");
	raw[1] = 63;
	repack("src", ED_REPLACE, raw, 2 + 63);
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_OK);
	raw[1] = 64;
	repack("src", ED_REPLACE, raw, 2 + 64);
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_E_STR_LEN);

	/* Reason: 511 fit, 512 do not. */
	encode_verdict();
	raw[0] = (char)0xda;
	raw[1] = 0x01;
	raw[2] = (char)0xff;
	memset(raw + 3, 'r', 512);
	repack("reason", ED_REPLACE, raw, 3 + 511);
	CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e), ST_WIRE_OK);
	CU_ASSERT_EQUAL(strlen(vout.reason), 511);
	raw[2] = 0x00;
	raw[1] = 0x02;
	repack("reason", ED_REPLACE, raw, 3 + 512);
	CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e), ST_WIRE_E_STR_LEN);
}

static void test_count_bounds(void)
{
	struct st_wbuf m;
	msgpack_packer pk;
	struct st_wire_error e;

	st_wbuf_init(&m);
	msgpack_packer_init(&pk, &m, st_wbuf_mp_write);
	/* 32 drops fit, 33 do not. */
	for (int n = 32; n <= 33; n++) {
		st_wbuf_reset(&m);
		msgpack_pack_map(&pk, (size_t)n);
		for (int i = 0; i < n; i++) {
			char r[8];

			snprintf(r, sizeof(r), "r%d", i);
			msgpack_pack_str(&pk, strlen(r));
			msgpack_pack_str_body(&pk, r, strlen(r));
			msgpack_pack_uint64(&pk, (uint64_t)i);
		}
		encode_kpi();
		repack("drops", ED_REPLACE, m.data, m.len);
		CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e),
				n == 32 ? ST_WIRE_OK : ST_WIRE_E_COUNT);
	}
	/* 32 kpis fit, 33 do not; 16 params fit, 17 do not. */
	for (int n = 32; n <= 33; n++) {
		st_wbuf_reset(&m);
		msgpack_pack_array(&pk, (size_t)n);
		for (int i = 0; i < n; i++)
			st_wbuf_append(&m, RAW("\x8a\xa4name\xa1k\xa4unit\xa0"
				       "\xa9predicted\x00\xa8observed\x00"
				       "\xa5ratio\x00\xa6" "ci_low\x00"
				       "\xa7" "ci_high\x00\xa1n\x00"
				       "\xa6status\xa4pass\xa8" "critical\xc2"));
		encode_verdict();
		repack("kpis", ED_REPLACE, m.data, m.len);
		CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e),
				n == 32 ? ST_WIRE_OK : ST_WIRE_E_COUNT);
	}
	for (int n = ST_MODEL_MAX_PARAMS; n <= ST_MODEL_MAX_PARAMS + 1; n++) {
		st_wbuf_reset(&m);
		st_wbuf_append(&m, RAW("\x83\xa4kind\xa1m\xa7version\x01"
				       "\xa6params"));
		msgpack_pack_map(&pk, (size_t)n);
		for (int i = 0; i < n; i++) {
			char r[8];

			snprintf(r, sizeof(r), "p%d", i);
			msgpack_pack_str(&pk, strlen(r));
			msgpack_pack_str_body(&pk, r, strlen(r));
			msgpack_pack_double(&pk, i);
		}
		encode_verdict();
		repack("model", ED_REPLACE, m.data, m.len);
		CU_ASSERT_EQUAL(verdict_err(wb2.data, wb2.len, &e),
				n == ST_MODEL_MAX_PARAMS ? ST_WIRE_OK : ST_WIRE_E_COUNT);
	}
	CU_ASSERT_EQUAL(vout.model.n_params, 0);  /* failed decode */
	st_wbuf_free(&m);
}

static void test_hostile_headers(void)
{
	static const struct {
		const char *bytes;
		size_t len;
		enum st_wire_err code;
	} cases[] = {
		{ "\xdf\xff\xff\xff\xff", 5, ST_WIRE_E_COUNT },
		{ "\xdd\xff\xff\xff\xff", 5, ST_WIRE_E_COUNT },
		{ "\xde\xff\xff\x01", 4, ST_WIRE_E_COUNT },
		{ "\xdb\xff\xff\xff\xff" "a", 6, ST_WIRE_E_STR_LEN },
		{ "\xc6\xff\xff\xff\xff" "a", 6, ST_WIRE_E_BIN_LEN },
		{ "\x81\xa1" "a\xdd\xff\xff\xff\xff", 8, ST_WIRE_E_COUNT },
		{ "\x81\xa1" "a\xdb\x00\x00\xff\xff", 8, ST_WIRE_E_TRUNCATED },
		{ "\x81\xa1" "a\xc6\x00\x00\xff\xff", 8, ST_WIRE_E_TRUNCATED },
		/* Within the count limit but beyond the bytes left. */
		{ "\xdc\x03\xff\x01\x02", 5, ST_WIRE_E_TRUNCATED },
		{ "\x8f\x01", 2, ST_WIRE_E_TRUNCATED },
		{ "\xc1", 1, ST_WIRE_E_MALFORMED },
		{ "\x81\xa1" "a\xc1", 4, ST_WIRE_E_MALFORMED },
		{ "\xd4\x01\x02", 3, ST_WIRE_E_MALFORMED },
		{ "\xc7\x01\x05\x00", 4, ST_WIRE_E_MALFORMED },
		{ "\x81\xa1" "a\xd8\x01" "0123456789abcdef", 21,
		  ST_WIRE_E_MALFORMED },
		{ "\xcf\x00", 2, ST_WIRE_E_TRUNCATED },
		{ "\x80\x80", 2, ST_WIRE_E_TRAILING },
	};
	struct st_wire_limits wide = st_wire_limits_default;
	struct st_wire_error e;
	msgpack_object o;

	for (size_t i = 0; i < NELEM(cases); i++) {
		CU_ASSERT_EQUAL(kpi_err(cases[i].bytes, cases[i].len, &e),
				cases[i].code);
		CU_ASSERT_EQUAL(verdict_err(cases[i].bytes, cases[i].len, &e),
				cases[i].code);
		msgpack_zone_clear(&zone);
		CU_ASSERT_EQUAL(st_wire_parse(cases[i].bytes, cases[i].len,
					      NULL, &zone, &o, &e), -EBADMSG);
		CU_ASSERT_EQUAL(e.code, cases[i].code);
	}
	/* Even with no count limit at all, the bytes left bound the count
	 * before msgpack-c sees it. */
	wide.max_count = UINT32_MAX;
	wide.max_items = UINT32_MAX;
	wide.max_str = UINT32_MAX;
	wide.max_bin = UINT32_MAX;
	CU_ASSERT_EQUAL(st_wire_parse("\xdf\xff\xff\xff\xff", 5, &wide, &zone,
				      &o, &e), -EBADMSG);
	CU_ASSERT_EQUAL(e.code, ST_WIRE_E_TRUNCATED);
	CU_ASSERT_EQUAL(st_wire_scan("\xdb\xff\xff\xff\xff" "a", 6, &wide, &e),
			-EBADMSG);
	CU_ASSERT_EQUAL(e.code, ST_WIRE_E_TRUNCATED);

	/* The scan's total item limit. */
	wide = st_wire_limits_default;
	wide.max_items = 3;
	CU_ASSERT_EQUAL(st_wire_scan("\x92\x92\x01\x02\x00", 5, &wide, &e),
			-EBADMSG);
	CU_ASSERT_EQUAL(e.code, ST_WIRE_E_COUNT);
	wide.max_items = 4;
	CU_ASSERT_EQUAL(st_wire_scan("\x92\x92\x01\x02\x00", 5, &wide, &e), 0);
}

static void test_deep_nesting(void)
{
	static uint8_t deep[100001];
	struct st_wire_error e;
	uint8_t buf[16];

	/* Depth 8 is allowed, 9 is not (the top map counts as 1). */
	buf[0] = 0x81;
	buf[1] = 0xa1;
	buf[2] = 'x';
	memset(buf + 3, 0x91, 6);
	buf[9] = 0x90;
	CU_ASSERT_EQUAL(st_wire_scan(buf, 10, NULL, &e), 0);
	memset(buf + 3, 0x91, 7);
	buf[10] = 0x90;
	CU_ASSERT_EQUAL(st_wire_scan(buf, 11, NULL, &e), -EBADMSG);
	CU_ASSERT_EQUAL(e.code, ST_WIRE_E_DEPTH);

	/* 100000 levels: refused at level 9, no recursion. */
	memset(deep, 0x91, sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = 0xc0;
	CU_ASSERT_EQUAL(kpi_err(deep, sizeof(deep), &e), ST_WIRE_E_DEPTH);

	/* A deep unknown field in a KPI is refused the same way. */
	encode_kpi();
	memset(buf, 0x91, 12);
	buf[12] = 0xc0;
	repack("future", ED_ADD, buf, 13);
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_E_DEPTH);
}

static void test_not_a_map(void)
{
	struct st_wire_error e;
	msgpack_object o;

	CU_ASSERT_EQUAL(kpi_err("\x90", 1, &e), ST_WIRE_E_NOT_MAP);
	CU_ASSERT_EQUAL(kpi_err("\x01", 1, &e), ST_WIRE_E_NOT_MAP);
	CU_ASSERT_EQUAL(kpi_err("\xa1x", 2, &e), ST_WIRE_E_NOT_MAP);
	CU_ASSERT_EQUAL(verdict_err("\xc0", 1, &e), ST_WIRE_E_NOT_MAP);
	CU_ASSERT_EQUAL(st_wire_parse("\x92\x01\x02", 3, NULL, &zone, &o, &e),
			-EBADMSG);
	CU_ASSERT_EQUAL(e.code, ST_WIRE_E_NOT_MAP);
	/* Keys must be str. */
	CU_ASSERT_EQUAL(kpi_err("\x81\x01\x01", 3, &e), ST_WIRE_E_MALFORMED);
	/* An empty map is missing everything. */
	CU_ASSERT_EQUAL(kpi_err("\x80", 1, &e), ST_WIRE_E_MISSING);
	CU_ASSERT_STRING_EQUAL(e.field, "v");
}

static void test_unknown_keys(void)
{
	struct st_wire_error e;

	encode_kpi();
	repack("zz_future", ED_ADD, RAW("\x82\xa1" "a\x92\x01\xa1x\xa1" "b\xc4\x01\x00"));
	CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_OK);
	CU_ASSERT_EQUAL(kout.unknown_keys, 1);
	check_kpi_eq(&kin, &kout);
}

/* Random byte flips of valid messages: refused or accepted, never a crash
 * (ASan/UBSan builds make this meaningful); accepted ones re-encode. */
static void test_mutations(void)
{
	uint64_t s = 0x9e3779b97f4a7c15ULL;
	struct st_wire_error e;
	int accepted = 0;

	for (int round = 0; round < 20000; round++) {
		uint8_t *p;
		size_t n;
		int flips;

		if (round % 2 == 0)
			encode_kpi();
		else
			encode_verdict();
		n = wb.len;
		p = malloc(n);
		CU_ASSERT_FATAL(p != NULL);
		memcpy(p, wb.data, n);
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		flips = 1 + (int)((s >> 60) & 3);
		for (int i = 0; i < flips; i++) {
			s = s * 6364136223846793005ULL + 1442695040888963407ULL;
			p[(s >> 33) % n] = (uint8_t)(s >> 20);
		}
		if (round % 2 == 0 && st_kpi_decode(p, n, &kout, &e) == 0) {
			accepted++;
			CU_ASSERT_EQUAL(st_kpi_encode(&kout, &wb2), 0);
		} else if (round % 2 == 1 &&
			   st_verdict_decode(p, n, &vout, &e) == 0) {
			accepted++;
			CU_ASSERT_EQUAL(st_verdict_encode(&vout, &wb2), 0);
		}
		free(p);
	}
	CU_ASSERT(accepted > 0);
}

/* ------------------------------------------------------------------ */
/* Topics, enums, errors                                              */

static void test_topics(void)
{
	char buf[ST_WIRE_TOPIC_MAX];

	fill_kpi(&kin);
	CU_ASSERT_EQUAL(st_kpi_topic(&kin, buf, sizeof(buf)), 14);
	CU_ASSERT_STRING_EQUAL(buf, "kpi.web.canary");
	CU_ASSERT_EQUAL(st_kpi_topic(&kin, buf, 14), -ENOSPC);
	CU_ASSERT_EQUAL(st_kpi_topic(&kin, buf, 15), 14);
	strcpy(kin.target, "a.b");
	CU_ASSERT_EQUAL(st_kpi_topic(&kin, buf, sizeof(buf)), -EINVAL);
	kin.target[0] = '\0';
	CU_ASSERT_EQUAL(st_kpi_topic(&kin, buf, sizeof(buf)), -EINVAL);

	/* The longest names fit ST_WIRE_TOPIC_MAX. */
	memset(kin.service, 's', 63);
	kin.service[63] = '\0';
	memset(kin.target, 't', 63);
	kin.target[63] = '\0';
	CU_ASSERT_EQUAL(st_kpi_topic(&kin, buf, sizeof(buf)), 4 + 63 + 1 + 63);

	fill_verdict(&vin);
	CU_ASSERT_EQUAL(st_verdict_topic(&vin, buf, sizeof(buf)), 11);
	CU_ASSERT_STRING_EQUAL(buf, "verdict.web");
	strcpy(vin.service, "w\xc3\xa9");
	CU_ASSERT_EQUAL(st_verdict_topic(&vin, buf, sizeof(buf)), -EINVAL);

	CU_ASSERT_TRUE(st_wire_name_ok("Web_1-a", 7));
	CU_ASSERT_FALSE(st_wire_name_ok("web\n", 4));
	CU_ASSERT_FALSE(st_wire_name_ok("", 0));
}

static void test_enums(void)
{
	enum st_role r;
	enum st_verdict_kind v;
	enum st_kpi_status s;

	CU_ASSERT_STRING_EQUAL(st_role_str(ST_ROLE_LOADGEN), "loadgen");
	CU_ASSERT_PTR_NULL(st_role_str(ST_ROLE__COUNT));
	CU_ASSERT_STRING_EQUAL(st_verdict_kind_str(ST_VERDICT_INCONCLUSIVE),
			       "inconclusive");
	CU_ASSERT_STRING_EQUAL(st_kpi_status_str(ST_KPI_NODATA), "nodata");
	CU_ASSERT_PTR_NULL(st_kpi_status_str((enum st_kpi_status)-1));
	CU_ASSERT_EQUAL(st_role_from_str("shadow", 6, &r), 0);
	CU_ASSERT_EQUAL(r, ST_ROLE_SHADOW);
	CU_ASSERT_EQUAL(st_role_from_str("shadowx", 6, &r), 0);
	CU_ASSERT_EQUAL(st_role_from_str("shado", 5, &r), -EINVAL);
	CU_ASSERT_EQUAL(st_verdict_kind_from_str("confirm", 7, &v), 0);
	CU_ASSERT_EQUAL(v, ST_VERDICT_CONFIRM);
	CU_ASSERT_EQUAL(st_kpi_status_from_str("low", 3, &s), 0);
	CU_ASSERT_EQUAL(s, ST_KPI_LOW);
	CU_ASSERT_EQUAL(st_kpi_status_from_str("LOW", 3, &s), -EINVAL);
}

static void test_error_strings(void)
{
	struct st_wire_error e = { .code = ST_WIRE_E_TRUNCATED };
	char buf[64];

	for (int c = 0; c < ST_WIRE_ERR__COUNT; c++)
		CU_ASSERT_STRING_NOT_EQUAL(st_wire_strerror((enum st_wire_err)c),
					   "unknown");
	CU_ASSERT_STRING_EQUAL(st_wire_strerror(ST_WIRE_ERR__COUNT), "unknown");
	strcpy(e.detail, "empty message");
	CU_ASSERT_STRING_EQUAL(st_wire_error_fmt(&e, buf, sizeof(buf)),
			       "truncated: empty message");
	/* Null err pointers are allowed everywhere. */
	CU_ASSERT_EQUAL(st_kpi_decode("\xc1", 1, &kout, NULL), -EBADMSG);
	CU_ASSERT_EQUAL(st_wire_scan("\xc1", 1, NULL, NULL), -EBADMSG);
}

/* ------------------------------------------------------------------ */
/* Generic parse, getters, JSON                                       */

static void test_parse_get(void)
{
	struct st_wire_error e;
	msgpack_object top;
	uint64_t u;
	double d;
	bool b;
	char s[8];

	/* A control request as later issues will send it. */
	static const char req[] =
		"\x85\xa3" "cmd\xa9set_share\xa5group\xa6" "canary"
		"\xa5share\xcb\x3f\xb9\x99\x99\x99\x99\x99\x9a"
		"\xa2ok\xc3\xa1n\xd0\x05";

	msgpack_zone_clear(&zone);
	CU_ASSERT_EQUAL_FATAL(st_wire_parse(req, sizeof(req) - 1, NULL, &zone,
					    &top, &e), 0);
	CU_ASSERT_EQUAL(st_wire_get_str(&top, "cmd", s, sizeof(s), &e),
			-EBADMSG);
	CU_ASSERT_EQUAL(e.code, ST_WIRE_E_STR_LEN);
	CU_ASSERT_EQUAL(st_wire_get_str(&top, "group", s, sizeof(s), &e), 0);
	CU_ASSERT_STRING_EQUAL(s, "canary");
	CU_ASSERT_EQUAL(st_wire_get_double(&top, "share", &d, &e), 0);
	CU_ASSERT_DOUBLE_EQUAL(d, 0.1, 0);
	CU_ASSERT_EQUAL(st_wire_get_double(&top, "n", &d, &e), 0);
	CU_ASSERT_DOUBLE_EQUAL(d, 5, 0);
	CU_ASSERT_EQUAL(st_wire_get_u64(&top, "n", &u, &e), 0);
	CU_ASSERT_EQUAL(u, 5);
	CU_ASSERT_EQUAL(st_wire_get_bool(&top, "ok", &b, &e), 0);
	CU_ASSERT_TRUE(b);
	CU_ASSERT_EQUAL(st_wire_get_u64(&top, "share", &u, &e), -EBADMSG);
	CU_ASSERT_EQUAL(e.code, ST_WIRE_E_TYPE);
	CU_ASSERT_EQUAL(st_wire_get_u64(&top, "nope", &u, &e), -ENOENT);
	CU_ASSERT_EQUAL(e.code, ST_WIRE_E_MISSING);
	CU_ASSERT_EQUAL(st_wire_get_bool(&top.via.map.ptr[0].val, "x", &b, &e),
			-EBADMSG);
	CU_ASSERT_EQUAL(e.code, ST_WIRE_E_NOT_MAP);

	msgpack_zone_clear(&zone);
	CU_ASSERT_EQUAL_FATAL(st_wire_parse("\x82\xa1" "a\x01\xa1" "a\x02", 7,
					    NULL, &zone, &top, &e), 0);
	CU_ASSERT_EQUAL(st_wire_get_u64(&top, "a", &u, &e), -EBADMSG);
	CU_ASSERT_EQUAL(e.code, ST_WIRE_E_DUPLICATE);
}

static int lat_hook(void *arg, const char *key, size_t key_len,
		    const uint8_t *bin, size_t len, struct st_wbuf *out)
{
	(void)bin;
	(*(int *)arg)++;
	if (key_len == 3 && memcmp(key, "lat", 3) == 0)
		return st_wbuf_printf(out, "{\"bytes\":%zu}", len);
	return 1;
}

static void test_json(void)
{
	/* {"s": "a\"\\\n\x01é\xff", "i": -3, "u": 18446744073709551615,
	 *  "f": 0.1, "g": NaN, "h": 1.5f, "b": bin 01 02 03 04, 7: [nil,
	 *  true, false], "lat": bin 00, "m": {}} */
	static const char msg[] =
		"\x8a"
		"\xa1s\xa8" "a\"\\\n\x01\xc3\xa9\xff"
		"\xa1i\xfd"
		"\xa1u\xcf\xff\xff\xff\xff\xff\xff\xff\xff"
		"\xa1" "f\xcb\x3f\xb9\x99\x99\x99\x99\x99\x9a"
		"\xa1g\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00"
		"\xa1h\xca\x3f\xc0\x00\x00"
		"\xa1" "b\xc4\x04\x01\x02\x03\x04"
		"\x07\x93\xc0\xc3\xc2"
		"\xa3lat\xc4\x01\x00"
		"\xa1m\x80";
	static const char want[] =
		"{\"s\":\"a\\\"\\\\\\n\\u0001\xc3\xa9\\ufffd\",\"i\":-3,"
		"\"u\":18446744073709551615,\"f\":0.1,\"g\":null,\"h\":1.5,"
		"\"b\":\"AQIDBA==\",\"7\":[null,true,false],\"lat\":\"AA==\","
		"\"m\":{}}";
	static const char want_hook[] = "\"lat\":{\"bytes\":1}";
	struct st_wire_error e;
	msgpack_object top;
	int calls = 0;

	msgpack_zone_clear(&zone);
	CU_ASSERT_EQUAL_FATAL(st_wire_parse(msg, sizeof(msg) - 1, NULL, &zone,
					    &top, &e), 0);
	st_wbuf_reset(&wb);
	CU_ASSERT_EQUAL_FATAL(st_wire_to_json(&top, &wb), 0);
	st_wbuf_append(&wb, "", 1);
	CU_ASSERT_STRING_EQUAL((char *)wb.data, want);
	if (strcmp((char *)wb.data, want) != 0)
		fprintf(stderr, "\n got: %s\nwant: %s\n", wb.data, want);

	st_wbuf_reset(&wb);
	CU_ASSERT_EQUAL_FATAL(st_wire_to_json_ex(&top, &wb, lat_hook, &calls),
			      0);
	st_wbuf_append(&wb, "", 1);
	CU_ASSERT_EQUAL(calls, 2);
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)wb.data, want_hook));
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)wb.data, "\"b\":\"AQIDBA==\""));

	/* Base64 padding, every remainder. */
	msgpack_zone_clear(&zone);
	CU_ASSERT_EQUAL_FATAL(st_wire_parse("\x83\xa1" "a\xc4\x01\xff\xa1"
					    "b\xc4\x02\xff\xfe\xa1" "c\xc4\x00",
					    16, NULL, &zone, &top, &e), 0);
	st_wbuf_reset(&wb);
	CU_ASSERT_EQUAL(st_wire_to_json(&top, &wb), 0);
	st_wbuf_append(&wb, "", 1);
	CU_ASSERT_STRING_EQUAL((char *)wb.data,
			       "{\"a\":\"/w==\",\"b\":\"//4=\",\"c\":\"\"}");

	/* A whole KPI: appends to what is already there. */
	encode_kpi();
	msgpack_zone_clear(&zone);
	CU_ASSERT_EQUAL_FATAL(st_wire_parse(wb.data, wb.len, NULL, &zone,
					    &top, &e), 0);
	st_wbuf_reset(&wb2);
	st_wbuf_append(&wb2, "kpi.web.canary ", 15);
	CU_ASSERT_EQUAL(st_wire_to_json(&top, &wb2), 0);
	st_wbuf_append(&wb2, "", 1);
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)wb2.data,
				      "kpi.web.canary {\"v\":1,\"seq\":123456,"
				      "\"src\":\"gw1-\xc3\xbc-"));
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)wb2.data,
				      "\"offered_rps\":60000.5,\"drops\":"
				      "{\"ring_full\":1,"));
}

static void test_zone_reuse(void)
{
	struct st_wire_error e;
	msgpack_object top;

	/* Parsing into a cleared zone over and over must not grow it. */
	encode_verdict();
	for (int i = 0; i < 1000; i++) {
		msgpack_zone_clear(&zone);
		CU_ASSERT_EQUAL(st_wire_parse(wb.data, wb.len, NULL, &zone, &top,
					      &e), 0);
	}
	CU_ASSERT_EQUAL(top.type, MSGPACK_OBJECT_MAP);
}

/* ------------------------------------------------------------------ */
/* Chaos map and resilience                                           */

static void fill_chaos(struct st_chaos *c)
{
	memset(c, 0, sizeof(*c));
	c->loss = 0.02;
	strcpy(c->down, "198.18.1.11");
	c->respread = true;
	c->n_params = 2;
	strcpy(c->params[0].key, "delay");
	strcpy(c->params[0].value, "5ms");
	strcpy(c->params[1].key, "delay_dist");
	strcpy(c->params[1].value, "normal");
}

static void check_chaos_eq(const struct st_chaos *a, const struct st_chaos *b)
{
	CU_ASSERT_DOUBLE_EQUAL(a->loss, b->loss, 0);
	CU_ASSERT_STRING_EQUAL(a->down, b->down);
	CU_ASSERT_EQUAL(a->respread, b->respread);
	CU_ASSERT_EQUAL_FATAL(a->n_params, b->n_params);
	for (uint32_t i = 0; i < a->n_params; i++) {
		CU_ASSERT_STRING_EQUAL(a->params[i].key, b->params[i].key);
		CU_ASSERT_STRING_EQUAL(a->params[i].value, b->params[i].value);
	}
}

/* A chaos map of raw entries: n pairs of (key, raw msgpack value). */
static void raw_chaos(struct st_wbuf *o, int n, const char *const *keys, const char *const *vals,
		      const size_t *vlen)
{
	msgpack_packer pk;

	st_wbuf_reset(o);
	msgpack_packer_init(&pk, o, st_wbuf_mp_write);
	msgpack_pack_map(&pk, (size_t)n);
	for (int i = 0; i < n; i++) {
		st_wire_pack_cstr(&pk, keys[i]);
		st_wbuf_append(o, vals[i], vlen[i]);
	}
}

static void test_kpi_chaos(void)
{
	struct st_wire_error e;
	struct st_wbuf m;

	/* none: no key on the wire */
	encode_kpi();
	CU_ASSERT_PTR_NULL(memmem(wb.data, wb.len, "\xa5" "chaos", 6));
	CU_ASSERT_EQUAL_FATAL(kpi_err(wb.data, wb.len, &e), ST_WIRE_OK);
	CU_ASSERT_FALSE(kout.has_chaos);

	/* a round trip, and the same bytes the stats reply's packer gives */
	fill_kpi(&kin);
	kin.has_chaos = true;
	fill_chaos(&kin.chaos);
	CU_ASSERT_EQUAL_FATAL(st_kpi_encode(&kin, &wb), 0);
	CU_ASSERT_EQUAL_FATAL(kpi_err(wb.data, wb.len, &e), ST_WIRE_OK);
	CU_ASSERT_TRUE(kout.has_chaos);
	check_chaos_eq(&kin.chaos, &kout.chaos);
	CU_ASSERT_EQUAL(kout.unknown_keys, 0);
	CU_ASSERT_STRING_EQUAL(st_chaos_param(&kout.chaos, "delay_dist"), "normal");
	CU_ASSERT_PTR_NULL(st_chaos_param(&kout.chaos, "jitter"));
	{
		msgpack_packer pk;

		st_wbuf_init(&m);
		msgpack_packer_init(&pk, &m, st_wbuf_mp_write);
		st_chaos_pack(&pk, &kin.chaos);
		CU_ASSERT_PTR_NOT_NULL(memmem(wb.data, wb.len, m.data, m.len));
	}

	/* tolerant: a text key it does not know is kept, any other skipped
	 * and counted */
	{
		const char *const k[] = { "reorder", "flap_count", "loss", "down", "respread" };
		const char *const v[] = { "\xa3" "25%", "\x07", "\xcb\x3f\x84\x7a\xe1\x47\xae\x14\x7b",
					  "\xa0", "\xc2" };
		const size_t l[] = { 4, 1, 9, 1, 1 };

		raw_chaos(&m, 5, k, v, l);
		repack("chaos", ED_REPLACE, m.data, m.len);
		CU_ASSERT_EQUAL_FATAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_OK);
		CU_ASSERT_TRUE(kout.has_chaos);
		CU_ASSERT_EQUAL(kout.unknown_keys, 1);
		CU_ASSERT_STRING_EQUAL(st_chaos_param(&kout.chaos, "reorder"), "25%");
		CU_ASSERT_DOUBLE_EQUAL(kout.chaos.loss, 0.01, 1e-12);
		CU_ASSERT_STRING_EQUAL(kout.chaos.down, "");
		CU_ASSERT_FALSE(kout.chaos.respread);
	}
	/* refused: a known key of the wrong type or out of range, a
	 * duplicate, chaos that is not a map */
	{
		static const struct {
			const char *key, *val;
			size_t len;
			enum st_wire_err code;
			const char *field;
		} bad[] = {
			{ "loss", "\xa2" "2%", 3, ST_WIRE_E_TYPE, "chaos.loss" },
			{ "loss", "\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00", 9, ST_WIRE_E_VALUE,
			  "chaos.loss" },
			{ "down", "\x01", 1, ST_WIRE_E_TYPE, "chaos.down" },
			{ "respread", "\x01", 1, ST_WIRE_E_TYPE, "chaos.respread" },
			{ "delay", "\xa2" "\xff\xfe", 3, ST_WIRE_E_VALUE, "chaos.delay" },
		};

		for (size_t i = 0; i < NELEM(bad); i++) {
			const char *const k[] = { bad[i].key };
			const char *const v[] = { bad[i].val };
			const size_t l[] = { bad[i].len };

			raw_chaos(&m, 1, k, v, l);
			repack("chaos", ED_REPLACE, m.data, m.len);
			CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), bad[i].code);
			CU_ASSERT_STRING_EQUAL(e.field, bad[i].field);
		}
		{
			const char *const k[] = { "down", "down" };
			const char *const v[] = { "\xa0", "\xa0" };
			const size_t l[] = { 1, 1 };

			raw_chaos(&m, 2, k, v, l);
			repack("chaos", ED_REPLACE, m.data, m.len);
			CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_E_DUPLICATE);
		}
		repack("chaos", ED_REPLACE, RAW("\x90"));
		CU_ASSERT_EQUAL(kpi_err(wb2.data, wb2.len, &e), ST_WIRE_E_TYPE);
		CU_ASSERT_STRING_EQUAL(e.field, "chaos.");
	}
	/* the encoder refuses what the decoder would */
	fill_kpi(&kin);
	kin.has_chaos = true;
	fill_chaos(&kin.chaos);
	kin.chaos.loss = -0.1;
	CU_ASSERT_EQUAL(st_kpi_encode(&kin, &wb), -EINVAL);
	fill_chaos(&kin.chaos);
	strcpy(kin.chaos.params[1].key, "loss");
	CU_ASSERT_EQUAL(st_kpi_encode(&kin, &wb), -EINVAL);
	fill_chaos(&kin.chaos);
	strcpy(kin.chaos.params[1].key, "delay");
	CU_ASSERT_EQUAL(st_kpi_encode(&kin, &wb), -EINVAL);
	st_wbuf_free(&m);
}

static void test_verdict_resilience(void)
{
	struct st_wire_error e;
	struct st_resilience *r = &vin.resilience;

	encode_verdict();
	CU_ASSERT_PTR_NULL(memmem(wb.data, wb.len, "\xaa" "resilience", 11));
	CU_ASSERT_EQUAL_FATAL(verdict_err(wb.data, wb.len, &e), ST_WIRE_OK);
	CU_ASSERT_FALSE(vout.has_resilience);

	vin.has_resilience = true;
	strcpy(r->shadow, "resil");
	r->instances = 3;
	r->down = 1;
	r->respread = true;
	r->windows = 6;
	r->samples = 12345;
	r->rps_per_instance = 745.5;
	r->p99 = 21e6;
	r->p99_healthy = 11e6;
	r->error_rate = 0.0005;
	r->slo_met = true;
	r->recommended_instances = 12;
	r->reachable = true;
	r->p99_proposed = NAN;
	r->p99_recommended = 29e6;
	r->has_chaos = true;
	fill_chaos(&r->chaos);
	snprintf(r->reason, sizeof(r->reason), "with 1 of 3 instances down: 12 hold the SLO");
	CU_ASSERT_EQUAL_FATAL(st_verdict_encode(&vin, &wb), 0);
	CU_ASSERT_EQUAL_FATAL(verdict_err(wb.data, wb.len, &e), ST_WIRE_OK);
	CU_ASSERT_TRUE_FATAL(vout.has_resilience);
	CU_ASSERT_STRING_EQUAL(vout.resilience.shadow, "resil");
	CU_ASSERT_EQUAL(vout.resilience.instances, 3);
	CU_ASSERT_EQUAL(vout.resilience.down, 1);
	CU_ASSERT_TRUE(vout.resilience.respread);
	CU_ASSERT_EQUAL(vout.resilience.windows, 6);
	CU_ASSERT_EQUAL(vout.resilience.samples, 12345);
	CU_ASSERT_DOUBLE_EQUAL(vout.resilience.rps_per_instance, 745.5, 0);
	CU_ASSERT_DOUBLE_EQUAL(vout.resilience.p99, 21e6, 0);
	CU_ASSERT_DOUBLE_EQUAL(vout.resilience.p99_healthy, 11e6, 0);
	CU_ASSERT_TRUE(vout.resilience.slo_met);
	CU_ASSERT_EQUAL(vout.resilience.recommended_instances, 12);
	CU_ASSERT_TRUE(isnan(vout.resilience.p99_proposed));
	CU_ASSERT_TRUE(vout.resilience.has_chaos);
	check_chaos_eq(&r->chaos, &vout.resilience.chaos);
	CU_ASSERT_STRING_EQUAL(vout.resilience.reason, r->reason);
	check_verdict_eq(&vin, &vout);

	/* without a chaos map (no window under chaos yet) */
	r->has_chaos = false;
	CU_ASSERT_EQUAL_FATAL(st_verdict_encode(&vin, &wb), 0);
	CU_ASSERT_EQUAL_FATAL(verdict_err(wb.data, wb.len, &e), ST_WIRE_OK);
	CU_ASSERT_FALSE(vout.resilience.has_chaos);

	/* refused: a bad name, a negative rate, a chaos map that is off */
	strcpy(r->shadow, "a.b");
	CU_ASSERT_EQUAL(st_verdict_encode(&vin, &wb), -EINVAL);
	strcpy(r->shadow, "resil");
	r->rps_per_instance = -1;
	CU_ASSERT_EQUAL(st_verdict_encode(&vin, &wb), -EINVAL);
	r->rps_per_instance = 1;
	r->has_chaos = true;
	r->chaos.loss = 2;
	CU_ASSERT_EQUAL(st_verdict_encode(&vin, &wb), -EINVAL);
	vin.has_resilience = false;
}

int st_register_suites(void)
{
	static const struct st_cu_test codec[] = {
		{ "kpi_roundtrip", test_kpi_roundtrip },
		{ "kpi_roundtrip_max", test_kpi_roundtrip_max },
		{ "verdict_roundtrip", test_verdict_roundtrip },
		{ "verdict_roundtrip_max", test_verdict_roundtrip_max },
		{ "kpi_chaos", test_kpi_chaos },
		{ "verdict_resilience", test_verdict_resilience },
		{ "kpi_golden", test_kpi_golden },
		{ "wbuf_reuse", test_wbuf_reuse },
		{ "wbuf_html", test_wbuf_html },
		{ "heat_colour", test_heat_colour },
		{ "encode_refuses", test_encode_refuses },
		{ "topics", test_topics },
		{ "enums", test_enums },
		{ "error_strings", test_error_strings },
		{ NULL, NULL },
	};
	static const struct st_cu_test hostile[] = {
		{ "size_limit", test_size_limit },
		{ "truncated_everywhere", test_truncated_everywhere },
		{ "trailing", test_trailing },
		{ "wrong_type_each_field", test_wrong_type_each_field },
		{ "nested_fields", test_nested_fields },
		{ "missing_each_field", test_missing_each_field },
		{ "duplicate_keys", test_duplicate_keys },
		{ "version", test_version },
		{ "values", test_values },
		{ "string_bounds", test_string_bounds },
		{ "count_bounds", test_count_bounds },
		{ "hostile_headers", test_hostile_headers },
		{ "deep_nesting", test_deep_nesting },
		{ "not_a_map", test_not_a_map },
		{ "unknown_keys", test_unknown_keys },
		{ "mutations", test_mutations },
		{ NULL, NULL },
	};
	static const struct st_cu_test generic[] = {
		{ "parse_get", test_parse_get },
		{ "json", test_json },
		{ "zone_reuse", test_zone_reuse },
		{ NULL, NULL },
	};
	int rc;

	rc = st_cu_add_suite("wire_codec", suite_init, suite_clean, codec);
	if (rc == 0)
		rc = st_cu_add_suite("wire_hostile", suite_init, suite_clean,
				     hostile);
	if (rc == 0)
		rc = st_cu_add_suite("wire_generic", suite_init, suite_clean,
				     generic);
	return rc;
}
