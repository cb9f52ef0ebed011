/* The model state file: round trip, atomic save and load, and every kind
 * of damage refused with a reason. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "crc32c.h"
#include "cunit_main.h"
#include "engine.h"
#include "noise.h"
#include "state.h"

static struct an_config cfg;

static struct an_engine *engine_with_models(void)
{
	struct an_engine *e;

	an_config_defaults(&cfg);
	e = an_engine_create(&cfg, true);
	for (int i = 0; i < 3; i++) {
		char name[16];
		struct an_service *s;

		snprintf(name, sizeof(name), "svc%d", i);
		s = an_engine_service_get(e, name);
		s->model.version = 10 + (uint64_t)i;
		s->model.form = (enum an_form)(i % 2);
		s->model.prod[0] = (struct an_fit){ 1000 + i, 0.002, 1, 25, 0, 0 };
		s->model.prod[1] = (struct an_fit){ 600, 0.001, 0.5, 0, 0, 0 };
		s->model.shadow[0] = (struct an_fit){ 900, 0.003, 0.3, 4, 0.4, 0.01 };
		s->model.score[0] = 0.01;
		s->model.scored[0] = 7;
		s->model.diff_m[1] = -0.002;
		s->model.diff_v[1] = 1e-5;
		s->model.n_usl = 2;
		s->model.usl[0] = (struct an_usl_pt){ 100, 0.2, 1, { 0.005, 0.01, 0.02, 0.006 }, 4,
						      { 1e-4, 0.3, 2e-3, 5e-5 }, 0.6, 0.18 };
		s->model.usl[1] = (struct an_usl_pt){ 300, 0.9, 0.5, { 0, 0, 0, 0 }, 0,
						      { 0, 0, 0, 0 }, 0, 1 };
		s->model.rate_err = 0.001;
		s->model.rate_w = 1;
		s->model.windows_prod = 99;
		for (int k = 0; k < 20; k++)
			an_noise_add(&s->js, AN_NOISE_P99, 0.01 * k, 0.001);
	}
	return e;
}

static void test_round_trip(void)
{
	struct an_engine *e = engine_with_models(), *f;
	struct st_wbuf a, b;
	struct an_state *st;
	struct st_perr err;
	char path[64];

	st_wbuf_init(&a);
	st_wbuf_init(&b);
	CU_ASSERT_EQUAL_FATAL(an_state_encode(e, 1234, &a), 0);
	CU_ASSERT(memcmp(a.data, "STAN", 4) == 0);
	st = an_state_parse(a.data, a.len, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(st->n, 3);
	CU_ASSERT_EQUAL(st->saved, 1234);
	CU_ASSERT_STRING_EQUAL(st->svc[1].name, "svc1");
	CU_ASSERT_EQUAL(st->svc[1].model.prod[0].mu, 1001);
	CU_ASSERT_EQUAL(st->svc[1].model.prod[0].v, 25);
	CU_ASSERT_EQUAL(st->svc[2].model.form, AN_FORM_MM1);
	/* a level's spread, which the bound's discrepancy rests on */
	CU_ASSERT_EQUAL(st->svc[1].model.usl[0].var[1], 0.3);
	CU_ASSERT_EQUAL(st->svc[1].model.usl[0].vw, 0.6);
	CU_ASSERT_EQUAL(st->svc[1].model.usl[0].s2, 0.18);
	CU_ASSERT_EQUAL(st->svc[0].js.aa_n[AN_NOISE_P99], 20);
	CU_ASSERT_EQUAL(an_state_reencode(st, &b), 0);
	CU_ASSERT(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	an_state_free(st);

	/* save, load into a fresh engine */
	snprintf(path, sizeof(path), "/tmp/st-an-state-%d", (int)getpid());
	CU_ASSERT_EQUAL(an_state_save(e, path, 1234, &err), 0);
	f = an_engine_create(&cfg, true);
	CU_ASSERT_EQUAL(an_state_load(f, path, &err), 0);
	CU_ASSERT_EQUAL(an_engine_n_services(f), 3);
	CU_ASSERT_EQUAL(an_engine_service(f, "svc2")->model.version, 12);
	CU_ASSERT_EQUAL(an_engine_service(f, "svc2")->js.aa_n[AN_NOISE_P99], 20);
	CU_ASSERT_EQUAL(an_state_load(f, "/tmp/st-an-state-missing", &err), -ENOENT);
	unlink(path);
	an_engine_destroy(f);
	an_engine_destroy(e);
	st_wbuf_free(&a);
	st_wbuf_free(&b);
}

static void expect_refused(const uint8_t *buf, size_t len, const char *why)
{
	struct st_perr err;
	struct an_state *st = an_state_parse(buf, len, &err);

	CU_ASSERT_PTR_NULL(st);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, why));
	if (st != NULL || strstr(err.msg, why) == NULL)
		printf("\n    want '%s', got '%s'", why, st ? "(accepted)" : err.msg);
	an_state_free(st);
}

static void fix_crc(struct st_wbuf *b);

static void test_damage(void)
{
	struct an_engine *e = engine_with_models();
	struct st_wbuf a;
	uint8_t *c;

	st_wbuf_init(&a);
	an_state_encode(e, 1, &a);
	c = malloc(a.len);
	memcpy(c, a.data, a.len);
	expect_refused(c, 10, "shorter than the header");
	expect_refused(c, a.len - 1, "truncated");
	c[0] = 'X';
	expect_refused(c, a.len, "bad magic");
	c[0] = 'S';
	c[7] = 9;
	expect_refused(c, a.len, "format version 9");
	c[7] = 1;
	c[a.len - 3] ^= 1;
	expect_refused(c, a.len, "CRC mismatch");
	free(c);

	/* A well-formed file with a value out of range. */
	an_engine_service(e, "svc1")->model.prod[0].mu = -5;
	an_state_encode(e, 1, &a);
	expect_refused(a.data, a.len, "services[1].model.prod: [0]: mu must be > 0");
	an_engine_service(e, "svc1")->model.prod[0].mu = 5;
	an_engine_service(e, "svc2")->model.rate_err = 2;
	an_state_encode(e, 1, &a);
	expect_refused(a.data, a.len, "services[2].model: rates[0] outside 0..1");
	an_engine_service(e, "svc2")->model.rate_err = 0;
	an_engine_service(e, "svc0")->model.n_usl = 1;
	an_engine_service(e, "svc0")->model.usl[0].lam = 0;
	an_state_encode(e, 1, &a);
	expect_refused(a.data, a.len, "usl[0]: out of range");
	an_engine_service(e, "svc0")->model.usl[0].lam = 1;
	an_engine_service(e, "svc0")->model.usl[0].var[2] = -1;
	an_state_encode(e, 1, &a);
	expect_refused(a.data, a.len, "usl[0]: spread out of range");
	an_engine_service(e, "svc0")->model.usl[0].var[2] = 0;
	/* duplicate service name: rename one to another's */
	an_state_encode(e, 1, &a);
	{
		uint8_t *p = memmem(a.data, a.len, "svc2", 4);

		p[3] = '1';
		fix_crc(&a);
		expect_refused(a.data, a.len, "service 'svc1' twice");
	}
	st_wbuf_free(&a);
	an_engine_destroy(e);
}

static void fix_crc(struct st_wbuf *b)
{
	uint32_t crc = st_crc32c(0, b->data + 16, b->len - 16);

	b->data[12] = (uint8_t)(crc >> 24);
	b->data[13] = (uint8_t)(crc >> 16);
	b->data[14] = (uint8_t)(crc >> 8);
	b->data[15] = (uint8_t)crc;
}

/* The state of 12,000 learned services (34 MB, past the 4 Mi items the
 * parse once allowed: saved, then refused at the next start, "more than
 * 4194304 elements") reads back. */
static void test_many_services(void)
{
	struct an_config c6;
	struct an_engine *e;
	struct an_state *st;
	struct st_perr err;
	struct st_wbuf a;
	const uint32_t n = 12000;

	an_config_defaults(&c6);
	c6.max_services = n;
	e = an_engine_create(&c6, true);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	for (uint32_t i = 0; i < n; i++) {
		char name[16];
		struct an_service *s;

		snprintf(name, sizeof(name), "svc%u", i);
		s = an_engine_service_get(e, name);
		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		s->model.version = 1;
		s->model.prod[0] = (struct an_fit){ 1000, 0.002, 1, 25, 0, 0 };
		s->model.n_usl = AN_USL_POINTS;
		for (int l = 0; l < AN_USL_POINTS; l++)
			s->model.usl[l] = (struct an_usl_pt){ .lam = 10.0 * (l + 1), .conc = 0.5, .w = 1,
							      .stat = { 0.01, 0.02, 0.03, 0.01 },
							      .c = 4 };
	}
	st_wbuf_init(&a);
	CU_ASSERT_EQUAL_FATAL(an_state_encode(e, 1234, &a), 0);
	st = an_state_parse(a.data, a.len, &err);
	if (st == NULL)
		printf("\n    %zu bytes: %s", a.len, err.msg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(st->n, n);
	printf("\n    %u services, %zu bytes", n, a.len);
	an_state_free(st);
	st_wbuf_free(&a);
	an_engine_destroy(e);
	an_config_free(&c6);
}

int st_register_suites(void)
{
	static const struct st_cu_test tests[] = {
		{ "round_trip", test_round_trip },
		{ "damage", test_damage },
		{ "the state of 12,000 services", test_many_services },
		{ NULL, NULL },
	};

	return st_cu_add_suite("an_state", NULL, NULL, tests);
}
