/* Interop helper for wire_py.sh: writes a sample KPI and verdict encoded by
 * libshadowtap, so an independent msgpack decoder (Python's) can check every
 * field, and decodes messages that decoder wrote, printing them as JSON.
 *
 *   wire_tool encode DIR              writes DIR/kpi.mp and DIR/verdict.mp
 *   wire_tool decode kpi|verdict FILE st_*_decode, then JSON on stdout
 *
 * Exit status 0, or 1 with the reason on stderr. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

static const uint8_t sample_lat[] = {
	0x1c, 0x84, 0x93, 0x14, 0x00, 0x00, 0x00, 0x2a, 0xff, 0x80, 0x7f,
};

static void sample_kpi(struct st_kpi *k)
{
	static const char *const reasons[] = {
		"ring_full", "rate_cap", "no_mbuf", "shadow_down", "no_syn",
	};

	memset(k, 0, sizeof(*k));
	k->seq = 18446744073709551615ULL;
	strcpy(k->src, "gw1-\xc3\xbc");  /* gw1-ü */
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
	k->lat = sample_lat;
	k->lat_len = sizeof(sample_lat);
}

static void sample_verdict(struct st_verdict *v)
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
	v->n_kpis = 2;
	strcpy(v->kpis[0].name, "p99");
	strcpy(v->kpis[0].unit, "ns");
	v->kpis[0].predicted = 31e6;
	v->kpis[0].observed = 58e6;
	v->kpis[0].ratio = 1.8709677419354838;
	v->kpis[0].ci_low = 52e6;
	v->kpis[0].ci_high = 63e6;
	v->kpis[0].n = 290000;
	v->kpis[0].status = ST_KPI_HIGH;
	v->kpis[0].critical = true;
	strcpy(v->kpis[1].name, "timeouts");
	v->kpis[1].predicted = NAN;
	v->kpis[1].observed = NAN;
	v->kpis[1].ratio = INFINITY;
	v->kpis[1].ci_low = -INFINITY;
	v->kpis[1].ci_high = NAN;
	v->kpis[1].status = ST_KPI_NODATA;
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
	strcpy(v->reason, "p99 58 ms > SLO 50 ms \xe2\x80\x94 adjust to 14");
}

static int write_file(const char *dir, const char *name,
		      const struct st_wbuf *b)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(b->data, 1, b->len, f) != b->len) {
		fprintf(stderr, "wire_tool: %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	return fclose(f) == 0 ? 0 : -1;
}

static int cmd_encode(const char *dir)
{
	static struct st_kpi k;
	static struct st_verdict v;
	struct st_wbuf b;
	int rc;

	st_wbuf_init(&b);
	sample_kpi(&k);
	rc = st_kpi_encode(&k, &b);
	if (rc == 0)
		rc = write_file(dir, "kpi.mp", &b);
	sample_verdict(&v);
	if (rc == 0)
		rc = st_verdict_encode(&v, &b);
	if (rc == 0)
		rc = write_file(dir, "verdict.mp", &b);
	st_wbuf_free(&b);
	if (rc)
		fprintf(stderr, "wire_tool: encode failed: %d\n", rc);
	return rc ? 1 : 0;
}

static int cmd_decode(const char *kind, const char *path)
{
	static uint8_t buf[ST_WIRE_MAX_SIZE + 1];
	static struct st_kpi k;
	static struct st_verdict v;
	struct st_wire_error err;
	struct st_wbuf out;
	msgpack_zone zone;
	msgpack_object o;
	char msg[256];
	size_t len;
	FILE *f;
	int rc;

	f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "wire_tool: %s: %s\n", path, strerror(errno));
		return 1;
	}
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (strcmp(kind, "kpi") == 0)
		rc = st_kpi_decode(buf, len, &k, &err);
	else
		rc = st_verdict_decode(buf, len, &v, &err);
	if (rc) {
		fprintf(stderr, "wire_tool: %s: %s\n", path,
			st_wire_error_fmt(&err, msg, sizeof(msg)));
		return 1;
	}
	/* The typed decode accepted it; print it through the generic path so
	 * the other side can compare values (and check the JSON too). */
	if (!msgpack_zone_init(&zone, 4096))
		return 1;
	st_wbuf_init(&out);
	rc = st_wire_parse(buf, len, NULL, &zone, &o, &err);
	if (rc == 0)
		rc = st_wire_to_json(&o, &out);
	if (rc == 0)
		rc = st_wbuf_append(&out, "\n", 1);
	if (rc == 0 && fwrite(out.data, 1, out.len, stdout) != out.len)
		rc = -EIO;
	st_wbuf_free(&out);
	msgpack_zone_destroy(&zone);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "encode") == 0)
		return cmd_encode(argv[2]);
	if (argc == 4 && strcmp(argv[1], "decode") == 0 &&
	    (strcmp(argv[2], "kpi") == 0 || strcmp(argv[2], "verdict") == 0))
		return cmd_decode(argv[2], argv[3]);
	fprintf(stderr, "usage: wire_tool encode DIR\n"
			"       wire_tool decode kpi|verdict FILE\n");
	return 2;
}
