/* Wire contract basics: the output buffer, errors and their messages, the
 * enum spellings, and the checks on names and texts that the encoder and
 * the decoders share. The rest is in wire_mp.c (cursor and scanner),
 * wire_table.c (field-table codec), wire_json.c (generic parse, JSON). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "wire_priv.h"

const struct st_wire_limits st_wire_limits_default = {
	.max_size = ST_WIRE_MAX_SIZE,
	.max_depth = 8,
	.max_count = 1024,
	.max_items = 16384,
	.max_str = 64 * 1024,
	.max_bin = ST_WIRE_MAX_SIZE,
};

/* ------------------------------------------------------------------ */
/* st_wbuf                                                            */

void st_wbuf_init(struct st_wbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void st_wbuf_reset(struct st_wbuf *b)
{
	b->len = 0;
	b->oom = false;
}

void st_wbuf_free(struct st_wbuf *b)
{
	free(b->data);
	st_wbuf_init(b);
}

int st_wbuf_reserve(struct st_wbuf *b, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (b->oom)
		return -ENOMEM;
	if (n <= b->cap - b->len)
		return 0;
	if (n > SIZE_MAX / 2 - b->len)
		goto err;
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	p = realloc(b->data, cap);
	if (p == NULL)
		goto err;
	b->data = p;
	b->cap = cap;
	return 0;
err:
	b->oom = true;
	return -ENOMEM;
}

int st_wbuf_append(struct st_wbuf *b, const void *p, size_t n)
{
	int rc;

	if (n == 0)
		return b->oom ? -ENOMEM : 0;
	rc = st_wbuf_reserve(b, n);
	if (rc)
		return rc;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int st_wbuf_printf(struct st_wbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	/* vsnprintf writes a NUL we do not count. */
	rc = st_wbuf_reserve(b, (size_t)n + 1);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int st_wbuf_html(struct st_wbuf *b, const char *s)
{
	const char *run = s;

	for (; *s; s++) {
		const char *rep;

		switch (*s) {
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '&': rep = "&amp;"; break;
		case '"': rep = "&quot;"; break;
		default: continue;
		}
		st_wbuf_append(b, run, (size_t)(s - run));
		st_wbuf_append(b, rep, strlen(rep));
		run = s + 1;
	}
	st_wbuf_append(b, run, (size_t)(s - run));
	return b->oom ? -ENOMEM : 0;
}

static void heat_mix(const int a[3], const int b[3], double t, int out[3])
{
	t = t < 0 ? 0 : t > 1 ? 1 : t;
	for (int i = 0; i < 3; i++)
		out[i] = (int)lround(a[i] + (b[i] - a[i]) * t);
}

void st_heat_colour(double r, double red_at, char *buf, size_t len)
{
	static const int green[3] = { 0x43, 0xa0, 0x47 }, amber[3] = { 0xff, 0xb3, 0x00 },
			 red[3] = { 0xc6, 0x28, 0x28 };
	int c[3];

	if (isnan(r))
		r = INFINITY;
	if (r <= 1)
		heat_mix(green, amber, (r - 0.5) / 0.5, c);
	else
		heat_mix(amber, red, log(r) / log(red_at > 1.01 ? red_at : 2), c);
	snprintf(buf, len, "#%02x%02x%02x", c[0], c[1], c[2]);
}

int st_wbuf_mp_write(void *data, const char *buf, size_t len)
{
	return st_wbuf_append(data, buf, len);
}

void st_mp_pack_str(msgpack_packer *pk, const char *s, size_t len)
{
	msgpack_pack_str(pk, len);
	msgpack_pack_str_body(pk, s, len);
}

void st_wire_pack_cstr(msgpack_packer *pk, const char *s)
{
	st_mp_pack_str(pk, s, strlen(s));
}

void st_wire_pack_num(msgpack_packer *pk, double v)
{
	if (isfinite(v))
		msgpack_pack_double(pk, v);
	else
		msgpack_pack_nil(pk);
}

/* ------------------------------------------------------------------ */
/* Errors                                                             */

static const char *const err_names[ST_WIRE_ERR__COUNT] = {
	[ST_WIRE_OK] = "ok",
	[ST_WIRE_E_TOO_LARGE] = "message too large",
	[ST_WIRE_E_TRUNCATED] = "truncated",
	[ST_WIRE_E_MALFORMED] = "malformed",
	[ST_WIRE_E_TRAILING] = "trailing bytes",
	[ST_WIRE_E_DEPTH] = "nested too deep",
	[ST_WIRE_E_COUNT] = "too many elements",
	[ST_WIRE_E_STR_LEN] = "string too long",
	[ST_WIRE_E_BIN_LEN] = "binary too long",
	[ST_WIRE_E_NOT_MAP] = "not a map",
	[ST_WIRE_E_TYPE] = "wrong type",
	[ST_WIRE_E_MISSING] = "missing field",
	[ST_WIRE_E_VERSION] = "unsupported version",
	[ST_WIRE_E_VALUE] = "bad value",
	[ST_WIRE_E_DUPLICATE] = "duplicate key",
	[ST_WIRE_E_NOMEM] = "out of memory",
};

const char *st_wire_strerror(enum st_wire_err code)
{
	if ((unsigned)code >= ST_WIRE_ERR__COUNT)
		return "unknown";
	return err_names[code];
}

const char *st_wire_error_fmt(const struct st_wire_error *e, char *buf,
			      size_t len)
{
	if (len == 0)
		return buf;
	if (e->field[0])
		snprintf(buf, len, "field '%s': %s", e->field, e->detail);
	else
		snprintf(buf, len, "%s: %s", st_wire_strerror(e->code),
			 e->detail);
	return buf;
}

int st_wire_fail(struct st_wire_error *err, enum st_wire_err code,
		 const char *prefix, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -EBADMSG;
	err->code = code;
	snprintf(err->field, sizeof(err->field), "%s%s", prefix ? prefix : "",
		 name ? name : "");
	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

const char *st_wire_sanitize(char *dst, size_t size, const uint8_t *s,
			     size_t len)
{
	size_t i, n = len < size - 1 ? len : size - 1;

	for (i = 0; i < n; i++)
		dst[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
	dst[n] = '\0';
	return dst;
}

/* ------------------------------------------------------------------ */
/* Enums and names                                                    */

static const char *const role_names[] = { "prod", "shadow", "loadgen" };
static const char *const verdict_names[] = { "confirm", "adjust",
					     "inconclusive" };
static const char *const status_names[] = { "pass", "high", "low", "nodata" };

static int enum_from(const char *const *names, int n, const char *s,
		     size_t len)
{
	for (int i = 0; i < n; i++)
		if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
			return i;
	return -EINVAL;
}

const char *st_role_str(enum st_role r)
{
	return (unsigned)r < ST_ROLE__COUNT ? role_names[r] : NULL;
}

const char *st_verdict_kind_str(enum st_verdict_kind v)
{
	return (unsigned)v < ST_VERDICT__COUNT ? verdict_names[v] : NULL;
}

const char *st_kpi_status_str(enum st_kpi_status s)
{
	return (unsigned)s < ST_KPI_STATUS__COUNT ? status_names[s] : NULL;
}

int st_role_from_str(const char *s, size_t len, enum st_role *out)
{
	int i = enum_from(role_names, ST_ROLE__COUNT, s, len);

	if (i < 0)
		return i;
	*out = (enum st_role)i;
	return 0;
}

int st_verdict_kind_from_str(const char *s, size_t len,
			     enum st_verdict_kind *out)
{
	int i = enum_from(verdict_names, ST_VERDICT__COUNT, s, len);

	if (i < 0)
		return i;
	*out = (enum st_verdict_kind)i;
	return 0;
}

int st_kpi_status_from_str(const char *s, size_t len,
			   enum st_kpi_status *out)
{
	int i = enum_from(status_names, ST_KPI_STATUS__COUNT, s, len);

	if (i < 0)
		return i;
	*out = (enum st_kpi_status)i;
	return 0;
}

bool st_wire_name_ok(const char *s, size_t len)
{
	if (len == 0 || len >= ST_WIRE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

size_t st_wire_utf8_seq(const uint8_t *p, size_t n)
{
	uint8_t b = p[0];
	size_t k;
	uint8_t lo = 0x80, hi = 0xbf;

	if (b < 0x80)
		return 1;
	if (b >= 0xc2 && b <= 0xdf)
		k = 2;
	else if (b >= 0xe0 && b <= 0xef)
		k = 3;
	else if (b >= 0xf0 && b <= 0xf4)
		k = 4;
	else
		return 0;
	if (n < k)
		return 0;
	/* The second byte carries the range restrictions. */
	if (b == 0xe0)
		lo = 0xa0;
	else if (b == 0xed)
		hi = 0x9f;
	else if (b == 0xf0)
		lo = 0x90;
	else if (b == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < k; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return k;
}

enum st_wire_err st_wire_check_text(const char *s, size_t len, size_t size,
				    bool nonempty, char *detail, size_t dlen)
{
	const uint8_t *p = (const uint8_t *)s;

	if (len >= size) {
		snprintf(detail, dlen, "%zu bytes, at most %zu fit", len,
			 size - 1);
		return ST_WIRE_E_STR_LEN;
	}
	if (nonempty && len == 0) {
		snprintf(detail, dlen, "empty");
		return ST_WIRE_E_VALUE;
	}
	for (size_t i = 0; i < len;) {
		size_t k;

		if (p[i] == 0) {
			snprintf(detail, dlen, "NUL byte at offset %zu", i);
			return ST_WIRE_E_VALUE;
		}
		k = st_wire_utf8_seq(p + i, len - i);
		if (k == 0) {
			snprintf(detail, dlen, "invalid UTF-8 at offset %zu", i);
			return ST_WIRE_E_VALUE;
		}
		i += k;
	}
	return ST_WIRE_OK;
}

enum st_wire_err st_wire_check_name(const char *s, size_t len, char *detail,
				    size_t dlen)
{
	char tmp[25];

	if (len >= ST_WIRE_NAME_MAX) {
		snprintf(detail, dlen, "%zu bytes, at most %d fit", len,
			 ST_WIRE_NAME_MAX - 1);
		return ST_WIRE_E_STR_LEN;
	}
	if (!st_wire_name_ok(s, len)) {
		snprintf(detail, dlen, "'%s' is not a name ([A-Za-z0-9_-]+)",
			 st_wire_sanitize(tmp, sizeof(tmp), (const uint8_t *)s,
					  len));
		return ST_WIRE_E_VALUE;
	}
	return ST_WIRE_OK;
}
