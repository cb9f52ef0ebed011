#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "json_in.h"
#include "wire_priv.h"

struct rd {
	const uint8_t *p;
	size_t len, off;
	struct st_json_error *err;
};

static int fail(struct rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct rd *r, const char *fmt, ...)
{
	va_list ap;

	r->err->offset = r->off;
	va_start(ap, fmt);
	vsnprintf(r->err->msg, sizeof(r->err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void blanks(struct rd *r)
{
	while (r->off < r->len && (r->p[r->off] == ' ' || r->p[r->off] == '\t' ||
				   r->p[r->off] == '\n' || r->p[r->off] == '\r'))
		r->off++;
}

static int hex4(struct rd *r, uint32_t *out)
{
	uint32_t v = 0;

	if (r->len - r->off < 4)
		return fail(r, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		uint8_t c = r->p[r->off++];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10u;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10u;
		else
			return fail(r, "bad hex digit in \\u escape");
	}
	*out = v;
	return 0;
}

/* Appends code point cp as UTF-8 to out[*n..size); false when full. */
static bool put_utf8(char *out, size_t size, size_t *n, uint32_t cp)
{
	uint8_t b[4];
	size_t k;

	if (cp < 0x80) {
		b[0] = (uint8_t)cp;
		k = 1;
	} else if (cp < 0x800) {
		b[0] = (uint8_t)(0xc0 | cp >> 6);
		b[1] = (uint8_t)(0x80 | (cp & 0x3f));
		k = 2;
	} else if (cp < 0x10000) {
		b[0] = (uint8_t)(0xe0 | cp >> 12);
		b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (uint8_t)(0x80 | (cp & 0x3f));
		k = 3;
	} else {
		b[0] = (uint8_t)(0xf0 | cp >> 18);
		b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (uint8_t)(0x80 | (cp & 0x3f));
		k = 4;
	}
	if (*n + k >= size)
		return false;
	memcpy(out + *n, b, k);
	*n += k;
	return true;
}

/* A string at r->off (the opening quote), unescaped into out. out may be
 * NULL: the string is checked and skipped. */
static int string(struct rd *r, char *out, size_t size, const char *what)
{
	size_t n = 0;

	r->off++;
	for (;;) {
		uint32_t cp;
		uint8_t c;

		if (r->off >= r->len)
			return fail(r, "unterminated string");
		c = r->p[r->off];
		if (c == '"') {
			r->off++;
			break;
		}
		if (c < 0x20)
			return fail(r, "control character in a string (escape it)");
		if (c == '\\') {
			if (++r->off >= r->len)
				return fail(r, "unterminated string");
			c = r->p[r->off++];
			switch (c) {
			case '"': case '\\': case '/': cp = c; break;
			case 'b': cp = '\b'; break;
			case 'f': cp = '\f'; break;
			case 'n': cp = '\n'; break;
			case 'r': cp = '\r'; break;
			case 't': cp = '\t'; break;
			case 'u':
				if (hex4(r, &cp) != 0)
					return -EINVAL;
				if (cp >= 0xdc00 && cp < 0xe000)
					return fail(r, "lone low surrogate");
				if (cp >= 0xd800 && cp < 0xdc00) {
					uint32_t lo;

					if (r->len - r->off < 2 || r->p[r->off] != '\\' ||
					    r->p[r->off + 1] != 'u')
						return fail(r, "high surrogate without its pair");
					r->off += 2;
					if (hex4(r, &lo) != 0)
						return -EINVAL;
					if (lo < 0xdc00 || lo >= 0xe000)
						return fail(r, "high surrogate without its pair");
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				}
				if (cp == 0)
					return fail(r, "NUL in a string");
				break;
			default:
				r->off--;
				return fail(r, "bad escape '\\%c'", c >= 0x20 && c < 0x7f ? c : '?');
			}
			if (out != NULL && !put_utf8(out, size, &n, cp))
				return fail(r, "%s longer than %zu bytes", what, size - 1);
			continue;
		}
		if (c >= 0x80) {
			size_t k = st_wire_utf8_seq(r->p + r->off, r->len - r->off);

			if (k == 0)
				return fail(r, "invalid UTF-8");
			if (out != NULL) {
				if (n + k >= size)
					return fail(r, "%s longer than %zu bytes", what, size - 1);
				memcpy(out + n, r->p + r->off, k);
				n += k;
			}
			r->off += k;
			continue;
		}
		if (out != NULL) {
			if (n + 1 >= size)
				return fail(r, "%s longer than %zu bytes", what, size - 1);
			out[n++] = (char)c;
		}
		r->off++;
	}
	if (out != NULL)
		out[n] = '\0';
	return 0;
}

static bool digit(const struct rd *r)
{
	return r->off < r->len && r->p[r->off] >= '0' && r->p[r->off] <= '9';
}

/* A number per RFC 8259's grammar, copied as written. */
static int number(struct rd *r, char *out, size_t size)
{
	size_t start = r->off;

	if (r->off < r->len && r->p[r->off] == '-')
		r->off++;
	if (!digit(r))
		return fail(r, "expected a digit");
	if (r->p[r->off] == '0')
		r->off++;
	else
		while (digit(r))
			r->off++;
	if (r->off < r->len && r->p[r->off] == '.') {
		r->off++;
		if (!digit(r))
			return fail(r, "expected a digit after '.'");
		while (digit(r))
			r->off++;
	}
	if (r->off < r->len && (r->p[r->off] == 'e' || r->p[r->off] == 'E')) {
		r->off++;
		if (r->off < r->len && (r->p[r->off] == '+' || r->p[r->off] == '-'))
			r->off++;
		if (!digit(r))
			return fail(r, "expected a digit in the exponent");
		while (digit(r))
			r->off++;
	}
	if (r->off - start >= size)
		return fail(r, "number longer than %zu characters", size - 1);
	memcpy(out, r->p + start, r->off - start);
	out[r->off - start] = '\0';
	return 0;
}

static bool literal(struct rd *r, const char *word)
{
	size_t k = strlen(word);

	if (r->len - r->off < k || memcmp(r->p + r->off, word, k) != 0)
		return false;
	r->off += k;
	return true;
}

static int value(struct rd *r, struct st_json_pair *pr)
{
	static const char *const words[] = { "true", "false", "null" };
	uint8_t c;

	if (r->off >= r->len)
		return fail(r, "expected a value");
	c = r->p[r->off];
	if (c == '"') {
		pr->type = ST_JSON_STRING;
		return string(r, pr->text, sizeof(pr->text), "string");
	}
	if (c == '-' || (c >= '0' && c <= '9')) {
		pr->type = ST_JSON_NUMBER;
		return number(r, pr->text, sizeof(pr->text));
	}
	if (c == '{' || c == '[')
		return fail(r, "key '%.40s': objects and arrays are not accepted here, only a string, number or bool",
			    pr->key);
	for (int i = 0; i < 3; i++) {
		if (literal(r, words[i])) {
			pr->type = i < 2 ? ST_JSON_BOOL : ST_JSON_NULL;
			snprintf(pr->text, sizeof(pr->text), "%s", words[i]);
			return 0;
		}
	}
	return fail(r, "expected a value");
}

struct walk {
	struct rd r;
	st_json_scalar_fn fn;
	void *arg;
	struct st_json_pair pr;	/* pr.key: the path so far */
};

/* Appends ".part" (or "part" at the top) to the path; returns the old
 * length to cut back to, or -EINVAL when it does not fit. */
static int path_push(struct walk *w, const char *part)
{
	size_t n = strlen(w->pr.key), at = n ? n + 1 : 0, k = strlen(part);

	if (at + k >= sizeof(w->pr.key))
		return fail(&w->r, "path '%.40s...' longer than %zu bytes", w->pr.key,
			    sizeof(w->pr.key) - 1);
	if (n)
		w->pr.key[n] = '.';
	memcpy(w->pr.key + at, part, k + 1);
	return (int)n;
}

static int walk_value(struct walk *w, int depth)
{
	struct rd *r = &w->r;
	char part[ST_JSON_KEY_MAX];
	bool obj;
	int rc;

	blanks(r);
	if (r->off >= r->len)
		return fail(r, "expected a value");
	obj = r->p[r->off] == '{';
	if (!obj && r->p[r->off] != '[') {
		size_t at = r->off;

		if (value(r, &w->pr) != 0)
			return -EINVAL;
		rc = w->fn(w->arg, &w->pr, r->err);
		if (rc != 0)
			r->err->offset = at;	/* where the value fn refused starts */
		return rc;
	}
	if (depth >= ST_JSON_DEPTH_MAX)
		return fail(r, "nested deeper than %d", ST_JSON_DEPTH_MAX);
	r->off++;
	blanks(r);
	if (r->off < r->len && r->p[r->off] == (obj ? '}' : ']')) {
		r->off++;
		return 0;
	}
	for (uint32_t i = 0;; i++) {
		int cut;

		blanks(r);
		if (obj) {
			if (r->off >= r->len || r->p[r->off] != '"')
				return fail(r, "expected a key (a string)");
			if (string(r, part, sizeof(part), "key") != 0)
				return -EINVAL;
			blanks(r);
			if (r->off >= r->len || r->p[r->off] != ':')
				return fail(r, "expected ':'");
			r->off++;
		} else {
			snprintf(part, sizeof(part), "%" PRIu32, i);
		}
		cut = path_push(w, part);
		if (cut < 0)
			return cut;
		rc = walk_value(w, depth + 1);
		if (rc != 0)
			return rc;
		w->pr.key[cut] = '\0';
		blanks(r);
		if (r->off < r->len && r->p[r->off] == ',') {
			r->off++;
			continue;
		}
		if (r->off < r->len && r->p[r->off] == (obj ? '}' : ']')) {
			r->off++;
			return 0;
		}
		return fail(r, obj ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

int st_json_walk(const char *buf, size_t len, st_json_scalar_fn fn, void *arg,
		 struct st_json_error *err)
{
	struct walk w = { .r = { (const uint8_t *)buf, len, 0, err }, .fn = fn, .arg = arg };
	int rc = walk_value(&w, 0);

	if (rc != 0)
		return rc;
	blanks(&w.r);
	if (w.r.off != w.r.len)
		return fail(&w.r, "bytes after the document");
	return 0;
}

int st_json_flat_object(const char *buf, size_t len, struct st_json_pair *pairs,
			size_t max, size_t *n, struct st_json_error *err)
{
	struct rd r = { (const uint8_t *)buf, len, 0, err };

	*n = 0;
	blanks(&r);
	if (r.off >= r.len || r.p[r.off] != '{')
		return fail(&r, "expected '{': the body is one JSON object");
	r.off++;
	blanks(&r);
	if (r.off < r.len && r.p[r.off] == '}') {
		r.off++;
		goto end;
	}
	for (;;) {
		struct st_json_pair *pr;
		size_t key_off;

		blanks(&r);
		if (r.off >= r.len || r.p[r.off] != '"')
			return fail(&r, "expected a key (a string)");
		if (*n >= max)
			return fail(&r, "more than %zu keys", max);
		pr = &pairs[*n];
		key_off = r.off;
		if (string(&r, pr->key, sizeof(pr->key), "key") != 0)
			return -EINVAL;
		for (size_t i = 0; i < *n; i++)
			if (strcmp(pairs[i].key, pr->key) == 0) {
				r.off = key_off;
				return fail(&r, "key '%.40s' appears twice", pr->key);
			}
		blanks(&r);
		if (r.off >= r.len || r.p[r.off] != ':')
			return fail(&r, "expected ':'");
		r.off++;
		blanks(&r);
		if (value(&r, pr) != 0)
			return -EINVAL;
		(*n)++;
		blanks(&r);
		if (r.off < r.len && r.p[r.off] == ',') {
			r.off++;
			continue;
		}
		if (r.off < r.len && r.p[r.off] == '}') {
			r.off++;
			break;
		}
		return fail(&r, "expected ',' or '}'");
	}
end:
	blanks(&r);
	if (r.off != r.len)
		return fail(&r, "bytes after the object");
	return 0;
}
