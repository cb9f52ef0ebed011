#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errmsg.h"
#include "history.h"

#define LINE_MAX_LEN 256

static int header_ok(char *line)
{
	char *comma = strchr(line, ',');

	if (comma == NULL)
		return 0;
	*comma = '\0';
	return strcasecmp(st_trim(line), "timestamp") == 0 &&
	       strcasecmp(st_trim(comma + 1), "rate") == 0;
}

/* One "t,rate" line into *t and *v. */
static int parse_line(char *line, const char *name, unsigned int lineno, double *t,
		      double *v, struct st_perr *err)
{
	char *comma = strchr(line, ','), *b;
	struct st_perr e;

	if (comma == NULL || strchr(comma + 1, ',') != NULL) {
		lg_errmsg(err, "%s:%u: expected two fields 'timestamp,rate'", name, lineno);
		return -EINVAL;
	}
	*comma = '\0';
	b = st_trim(comma + 1);
	if (st_parse_double(st_trim(line), -1e12, 1e12, t, &e) < 0) {
		lg_errmsg(err, "%s:%u: timestamp %s", name, lineno, e.msg);
		return -EINVAL;
	}
	if (st_parse_double(b, 0, 1e15, v, &e) < 0) {
		lg_errmsg(err, "%s:%u: rate %s", name, lineno, e.msg);
		return -EINVAL;
	}
	return 0;
}

/* Checks the spacing of the point just added. */
static int check_step(struct lg_history *h, double t, double *prev_t, const char *name,
		      unsigned int lineno, struct st_perr *err)
{
	double gap = t - *prev_t;

	if (gap <= 0) {
		lg_errmsg(err, "%s:%u: timestamp %.17g does not come after %.17g", name, lineno,
			  t, *prev_t);
		return -EINVAL;
	}
	/* Each timestamp is rounded to its double: near today's Unix time a
	 * gap is off by up to about 5e-7 s, more than a millionth of a 0.1 s
	 * step (such a series was refused as uneven). */
	if (h->n == 1) {
		h->step = gap;
	} else if (fabs(gap - h->step) > 1e-6 * h->step + 4 * DBL_EPSILON * fabs(t) + 1e-9) {
		lg_errmsg(err, "%s:%u: uneven spacing: %g s after the previous point, the series "
			  "steps by %g s (fill the gaps first)", name, lineno, gap, h->step);
		return -EINVAL;
	}
	*prev_t = t;
	return 0;
}

int lg_history_parse(const char *text, size_t len, const char *name,
		     struct lg_history *h, struct st_perr *err)
{
	const char *s = text, *end = text + len;
	unsigned int lineno = 0;
	bool header = false;
	size_t lines = 1;
	double prev_t = 0;
	char buf[LINE_MAX_LEN];
	int rc = -EINVAL;

	memset(h, 0, sizeof(*h));
	/* a spreadsheet's UTF-8 byte order mark before the header */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	for (const char *c = text; c < end; c++)
		lines += *c == '\n';
	/* a last line's newline ends it: no line after it */
	if (len > 0 && end[-1] == '\n')
		lines--;
	if (lines > LG_HISTORY_MAX_POINTS + 1) {
		lg_errmsg(err, "%s: more than %u lines", name, LG_HISTORY_MAX_POINTS + 1);
		return -E2BIG;
	}
	h->y = malloc(lines * sizeof(*h->y));
	if (h->y == NULL) {
		lg_errmsg(err, "%s: out of memory", name);
		return -ENOMEM;
	}
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *e = nl ? nl : end, *hash;
		char *line;
		double t, v;
		size_t n;

		lineno++;
		if (e > s && e[-1] == '\r')
			e--;
		hash = memchr(s, '#', (size_t)(e - s));
		n = (size_t)((hash ? hash : e) - s);
		if (n >= LINE_MAX_LEN || memchr(s, '\0', n) != NULL) {
			lg_errmsg(err, "%s:%u: line longer than %d bytes or holding a NUL byte",
				  name, lineno, LINE_MAX_LEN - 1);
			goto err;
		}
		memcpy(buf, s, n);
		buf[n] = '\0';
		s = nl ? nl + 1 : end;
		line = st_trim(buf);
		if (*line == '\0')
			continue;
		if (!header) {
			if (!header_ok(line)) {
				lg_errmsg(err, "%s:%u: header must be 'timestamp,rate'", name, lineno);
				goto err;
			}
			header = true;
			continue;
		}
		if (parse_line(line, name, lineno, &t, &v, err) < 0)
			goto err;
		if (h->n == 0)
			h->t0 = prev_t = t;
		else if (check_step(h, t, &prev_t, name, lineno, err) < 0)
			goto err;
		h->y[h->n++] = v;
	}
	if (h->n < 2) {
		lg_errmsg(err, "%s: %u points: a history needs at least two", name, h->n);
		goto err;
	}
	/* the spacing over the whole series: each gap carries rounding */
	h->step = (prev_t - h->t0) / (h->n - 1);
	return 0;
err:
	lg_history_free(h);
	return rc;
}

int lg_history_load(const char *path, struct lg_history *h, struct st_perr *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	int rc;

	memset(h, 0, sizeof(*h));
	if (f == NULL) {
		rc = -errno;
		lg_errmsg(err, "%s: %s", path, strerror(-rc));
		return rc;
	}
	do {
		if (len == cap) {
			char *nb;

			cap = cap ? cap * 2 : 65536;
			if (cap > (size_t)LG_HISTORY_MAX_POINTS * 64) {
				lg_errmsg(err, "%s: too large", path);
				rc = -E2BIG;
				goto out;
			}
			nb = realloc(buf, cap);
			if (nb == NULL) {
				lg_errmsg(err, "%s: out of memory", path);
				rc = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	rc = ferror(f) ? -EIO : lg_history_parse(buf, len, path, h, err);
	if (rc == -EIO)
		lg_errmsg(err, "%s: read error", path);
out:
	free(buf);
	fclose(f);
	return rc;
}

void lg_history_free(struct lg_history *h)
{
	if (h == NULL)
		return;
	free(h->y);
	h->y = NULL;
	h->n = 0;
}
