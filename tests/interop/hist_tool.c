/* hist_tool: the C side of the hdr-histogram-js interop check.
 *
 *   hist_tool encode LOWEST HIGHEST SIGFIGS   stdin "value [count]" lines ->
 *                                             one base64 V2 line
 *   hist_tool decode                          stdin base64 lines -> one JSON
 *                                             stats line each
 *   hist_tool gen                             stdin value-set lines from
 *                                             `hdr_vectors.js specs` ->
 *                                             vectors in hdr_vectors.js's
 *                                             gen format, our encoding
 *   hist_tool check                           stdin vectors (hdr_vectors.js
 *                                             gen) -> decode each, compare
 *                                             stats; "N passed, M failed"
 *
 * Exit status 0 when everything decoded and matched, 1 otherwise. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"

struct stats {
	int64_t count, min, max, p50, p90, p99, p999;
	int64_t bucket_count, sub_bucket_count, counts_len;
	double mean, stddev;
};

static void get_stats(const struct st_hist *h, struct stats *s)
{
	s->bucket_count = h->bucket_count;
	s->sub_bucket_count = h->sub_bucket_count;
	s->counts_len = h->counts_len;
	s->count = st_hist_total(h);
	s->min = st_hist_min(h);
	s->max = st_hist_max(h);
	s->mean = st_hist_mean(h);
	s->stddev = st_hist_stddev(h);
	s->p50 = st_hist_value_at_percentile(h, 50.0);
	s->p90 = st_hist_value_at_percentile(h, 90.0);
	s->p99 = st_hist_value_at_percentile(h, 99.0);
	s->p999 = st_hist_value_at_percentile(h, 99.9);
}

static void print_stats(const struct stats *s)
{
	printf("\"bucket_count\":%" PRId64 ",\"sub_bucket_count\":%" PRId64
	       ",\"counts_len\":%" PRId64 ",\"count\":%" PRId64
	       ",\"min\":%" PRId64 ",\"max\":%" PRId64
	       ",\"mean\":%.17g,\"stddev\":%.17g,\"p50\":%" PRId64
	       ",\"p90\":%" PRId64 ",\"p99\":%" PRId64 ",\"p999\":%" PRId64,
	       s->bucket_count, s->sub_bucket_count, s->counts_len, s->count,
	       s->min, s->max, s->mean, s->stddev, s->p50, s->p90, s->p99,
	       s->p999);
}

/* Finds "key": in a one-line JSON object and returns what follows. Enough
 * for the flat objects hdr_vectors.js writes; not a JSON parser. */
static const char *json_field(const char *line, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(line, pat);
	return p ? p + strlen(pat) : NULL;
}

static int json_i64(const char *line, const char *key, int64_t *out)
{
	const char *p = json_field(line, key);
	char *end;
	double d;

	if (p == NULL)
		return -1;
	/* JS prints integers above 1e21 in exponent form; ours stay below. */
	errno = 0;
	*out = strtoll(p, &end, 10);
	if (errno == 0 && end != p && *end != '.' && *end != 'e')
		return 0;
	d = strtod(p, &end);
	if (end == p)
		return -1;
	*out = (int64_t)d;
	return 0;
}

static int json_f64(const char *line, const char *key, double *out)
{
	const char *p = json_field(line, key);
	char *end;

	if (p == NULL)
		return -1;
	*out = strtod(p, &end);
	return end == p ? -1 : 0;
}

/* Returns the string value of key (in a static buffer), or NULL. */
static const char *json_str(const char *line, const char *key, char *buf,
			    size_t cap)
{
	const char *p = json_field(line, key), *q;

	if (p == NULL || *p != '"')
		return NULL;
	p++;
	q = strchr(p, '"');
	if (q == NULL || (size_t)(q - p) >= cap)
		return NULL;
	memcpy(buf, p, (size_t)(q - p));
	buf[q - p] = '\0';
	return buf;
}

static bool close_enough(double a, double b)
{
	double m = fmax(1.0, fmax(fabs(a), fabs(b)));

	return fabs(a - b) <= 1e-9 * m;
}

/* Compares the decoded stats with the ones on the vector line; prints
 * each difference. Returns the number of differences. */
static int compare_line(const char *name, const char *line,
			const struct stats *s)
{
	static const struct {
		const char *key;
		size_t off;
	} ints[] = {
		{ "bucket_count", offsetof(struct stats, bucket_count) },
		{ "sub_bucket_count", offsetof(struct stats, sub_bucket_count) },
		{ "counts_len", offsetof(struct stats, counts_len) },
		{ "count", offsetof(struct stats, count) },
		{ "min", offsetof(struct stats, min) },
		{ "max", offsetof(struct stats, max) },
		{ "p50", offsetof(struct stats, p50) },
		{ "p90", offsetof(struct stats, p90) },
		{ "p99", offsetof(struct stats, p99) },
		{ "p999", offsetof(struct stats, p999) },
	};
	int bad = 0;
	int64_t want = 0;
	double dw = NAN;

	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		int64_t got;

		memcpy(&got, (const char *)s + ints[i].off, sizeof(got));
		if (json_i64(line, ints[i].key, &want) != 0 || got != want) {
			printf("FAIL %s %s: %" PRId64 " != %" PRId64 "\n", name,
			       ints[i].key, got, want);
			bad++;
		}
	}
	if (json_f64(line, "mean", &dw) != 0 || !close_enough(s->mean, dw)) {
		printf("FAIL %s mean: %.17g != %.17g\n", name, s->mean, dw);
		bad++;
	}
	if (json_f64(line, "stddev", &dw) != 0 || !close_enough(s->stddev, dw)) {
		printf("FAIL %s stddev: %.17g != %.17g\n", name, s->stddev, dw);
		bad++;
	}
	return bad;
}

static int cmd_check(void)
{
	char *line = NULL, name[128];
	size_t cap = 0;
	int passed = 0, failed = 0;

	while (getline(&line, &cap, stdin) > 0) {
		struct st_hist *h;
		enum st_hist_derr err;
		const char *b64;
		struct stats s;
		int64_t lo, hi, sf;

		b64 = json_field(line, "b64");
		if (b64 == NULL)
			continue;
		if (json_str(line, "name", name, sizeof(name)) == NULL)
			snprintf(name, sizeof(name), "#%d", passed + failed);
		b64++;	/* opening quote */
		h = st_hist_decode_b64(b64, strcspn(b64, "\""), &err);
		if (h == NULL) {
			printf("FAIL %s: decode: %s\n", name, st_hist_derr_str(err));
			failed++;
			continue;
		}
		get_stats(h, &s);
		if (json_i64(line, "lowest", &lo) != 0 || lo != h->lowest ||
		    json_i64(line, "highest", &hi) != 0 || hi != h->highest ||
		    json_i64(line, "sigfigs", &sf) != 0 || sf != h->sigfigs) {
			printf("FAIL %s: layout parameters differ\n", name);
			failed++;
		} else if (compare_line(name, line, &s) != 0) {
			failed++;
		} else {
			printf("ok   %s\n", name);
			passed++;
		}
		st_hist_destroy(h);
	}
	free(line);
	printf("%d passed, %d failed\n", passed, failed);
	return failed || passed == 0 ? 1 : 0;
}

/* Parses "v:c" or "v c" pairs from p and records them. */
static int record_pairs(struct st_hist *h, char *p)
{
	char *tok, *save = NULL, *colon;

	for (tok = strtok_r(p, " \t\n", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t\n", &save)) {
		int64_t v, c = 1;

		colon = strchr(tok, ':');
		v = strtoll(tok, NULL, 10);
		if (colon != NULL)
			c = strtoll(colon + 1, NULL, 10);
		st_hist_record_n(h, v, c);
	}
	return 0;
}

static int cmd_gen(void)
{
	char *line = NULL;
	size_t cap = 0;
	bool first = true;
	int rc = 0;

	printf("[\n");
	while (getline(&line, &cap, stdin) > 0) {
		char name[128];
		long long lo, hi;
		int sf, used = 0;
		struct st_hist *h;
		struct stats s;
		char *b64;

		if (sscanf(line, "%127s %lld %lld %d %n", name, &lo, &hi, &sf, &used) != 4) {
			fprintf(stderr, "hist_tool gen: bad line: %s", line);
			rc = 1;
			continue;
		}
		h = st_hist_create(lo, hi, sf);
		if (h == NULL) {
			fprintf(stderr, "hist_tool gen: %s: %s\n", name, strerror(errno));
			rc = 1;
			continue;
		}
		record_pairs(h, line + used);
		get_stats(h, &s);
		b64 = st_hist_encode_b64(h, NULL);
		if (b64 == NULL) {
			fprintf(stderr, "hist_tool gen: %s: encode: %s\n", name, strerror(errno));
			rc = 1;
		} else {
			printf("%s{\"name\":\"%s\",\"lowest\":%lld,\"highest\":%lld,\"sigfigs\":%d,",
			       first ? "" : ",\n", name, lo, hi, sf);
			print_stats(&s);
			printf(",\"b64\":\"%s\"}", b64);
			first = false;
		}
		free(b64);
		st_hist_destroy(h);
	}
	printf("\n]\n");
	free(line);
	return rc;
}

static int cmd_encode(int argc, char **argv)
{
	char *line = NULL, *b64;
	struct st_hist *h;
	size_t cap = 0;

	if (argc != 5) {
		fprintf(stderr, "usage: hist_tool encode LOWEST HIGHEST SIGFIGS\n");
		return 2;
	}
	h = st_hist_create(strtoll(argv[2], NULL, 10), strtoll(argv[3], NULL, 10),
			   atoi(argv[4]));
	if (h == NULL) {
		fprintf(stderr, "hist_tool: %s\n", strerror(errno));
		return 1;
	}
	while (getline(&line, &cap, stdin) > 0)
		record_pairs(h, line);
	free(line);
	b64 = st_hist_encode_b64(h, NULL);
	st_hist_destroy(h);
	if (b64 == NULL) {
		fprintf(stderr, "hist_tool: encode: %s\n", strerror(errno));
		return 1;
	}
	printf("%s\n", b64);
	free(b64);
	return 0;
}

static int cmd_decode(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	while ((n = getline(&line, &cap, stdin)) > 0) {
		enum st_hist_derr err;
		struct st_hist *h;
		struct stats s;

		h = st_hist_decode_b64(line, (size_t)n, &err);
		if (h == NULL) {
			printf("{\"error\":\"%s\"}\n", st_hist_derr_str(err));
			rc = 1;
			continue;
		}
		get_stats(h, &s);
		printf("{\"lowest\":%" PRId64 ",\"highest\":%" PRId64 ",\"sigfigs\":%d,",
		       h->lowest, h->highest, h->sigfigs);
		print_stats(&s);
		printf("}\n");
		st_hist_destroy(h);
	}
	free(line);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "encode") == 0)
		return cmd_encode(argc, argv);
	if (argc == 2 && strcmp(argv[1], "decode") == 0)
		return cmd_decode();
	if (argc == 2 && strcmp(argv[1], "gen") == 0)
		return cmd_gen();
	if (argc == 2 && strcmp(argv[1], "check") == 0)
		return cmd_check();
	fprintf(stderr, "usage: hist_tool encode LOWEST HIGHEST SIGFIGS | decode | gen | check\n");
	return 2;
}
