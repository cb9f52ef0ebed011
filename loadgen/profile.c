#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errmsg.h"
#include "profile.h"
#include "regfile.h"

#define LINE_MAX_LEN 256

/* Copies line [s, e) without its comment and CR into buf, trimmed. Returns
 * the trimmed text, or NULL when the line is too long or holds a NUL. */
static char *take_line(const char *s, const char *e, char *buf)
{
	const char *hash = memchr(s, '#', (size_t)(e - s));
	size_t n;

	if (hash != NULL)
		e = hash;
	n = (size_t)(e - s);
	if (n >= LINE_MAX_LEN || memchr(s, '\0', n) != NULL)
		return NULL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return st_trim(buf);
}

/* Splits "a,b" into two trimmed fields. Returns the number of fields. */
static int split2(char *s, char **a, char **b)
{
	char *comma = strchr(s, ',');

	*a = st_trim(s);
	*b = NULL;
	if (comma == NULL)
		return 1;
	*comma = '\0';
	*a = st_trim(s);
	*b = st_trim(comma + 1);
	return strchr(*b, ',') ? 3 : 2;
}

static int parse_header(char *line, const char *name, unsigned int lineno,
			struct lg_profile *p, struct st_perr *err)
{
	char *a, *b;

	if (split2(line, &a, &b) == 2 && strcasecmp(a, "t_seconds") == 0) {
		if (strcasecmp(b, "pps") == 0) {
			p->kind = LG_PROFILE_PPS;
			return 0;
		}
		if (strcasecmp(b, "multiplier") == 0) {
			p->kind = LG_PROFILE_MULTIPLIER;
			return 0;
		}
	}
	lg_errmsg(err, "%.60s:%u: header must be 't_seconds,pps' or 't_seconds,multiplier'",
		 name, lineno);
	return -EINVAL;
}

static int parse_point(char *line, const char *name, unsigned int lineno,
		       struct lg_profile *p, struct st_perr *err)
{
	double vmax = p->kind == LG_PROFILE_PPS ? LG_PROFILE_MAX_PPS : LG_PROFILE_MAX_MULT;
	struct lg_profile_pt pt = { 0 };
	struct st_perr e;
	char *a, *b;

	if (split2(line, &a, &b) != 2) {
		lg_errmsg(err, "%.60s:%u: expected two fields 't_seconds,%s'", name, lineno,
			 p->kind == LG_PROFILE_PPS ? "pps" : "multiplier");
		return -EINVAL;
	}
	if (st_parse_double(a, 0, LG_PROFILE_MAX_T, &pt.t, &e) < 0) {
		lg_errmsg(err, "%.60s:%u: t_seconds %.120s", name,
			 lineno, e.msg);
		return -EINVAL;
	}
	if (st_parse_double(b, 0, vmax, &pt.v, &e) < 0) {
		lg_errmsg(err, "%.60s:%u: %s %.120s", name, lineno,
			 p->kind == LG_PROFILE_PPS ? "pps" : "multiplier", e.msg);
		return -EINVAL;
	}
	if (p->n == 0 && pt.t != 0) {
		lg_errmsg(err, "%.60s:%u: the first point must be at t_seconds 0, not %g", name,
			 lineno, pt.t);
		return -EINVAL;
	}
	if (p->n > 0) {
		const struct lg_profile_pt *prev = &p->pts[p->n - 1];

		if (pt.t < prev->t) {
			lg_errmsg(err, "%.60s:%u: t_seconds %g is before the previous point's %g",
				 name, lineno, pt.t, prev->t);
			return -EINVAL;
		}
		if (pt.t == prev->t && p->n > 1 && p->pts[p->n - 2].t == pt.t) {
			lg_errmsg(err, "%.60s:%u: a third point at t_seconds %g (a step takes two)",
				 name, lineno, pt.t);
			return -EINVAL;
		}
		pt.cum = prev->cum + (prev->v + pt.v) / 2 * (pt.t - prev->t);
	}
	p->pts[p->n++] = pt;
	return 0;
}

int lg_profile_parse(const char *text, size_t len, const char *name,
		     struct lg_profile *p, struct st_perr *err)
{
	const char *s = text, *end = text + len;
	unsigned int lineno = 0;
	size_t lines = 1;
	bool header = false;
	char buf[LINE_MAX_LEN];
	int rc;

	memset(p, 0, sizeof(*p));
	for (const char *c = text; c < end; c++)
		lines += *c == '\n';
	if (lines > LG_PROFILE_MAX_POINTS + 1) {
		lg_errmsg(err, "%.60s: more than %u lines", name,
			 LG_PROFILE_MAX_POINTS + 1);
		return -E2BIG;
	}
	p->pts = malloc(lines * sizeof(*p->pts));
	if (p->pts == NULL) {
		lg_errmsg(err, "%.60s: out of memory", name);
		return -ENOMEM;
	}
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *e = nl ? nl : end;
		char *line;

		lineno++;
		if (e > s && e[-1] == '\r')
			e--;
		line = take_line(s, e, buf);
		s = nl ? nl + 1 : end;
		if (line == NULL) {
			lg_errmsg(err, "%.60s:%u: line longer than %d bytes or holding a NUL byte",
				 name, lineno, LINE_MAX_LEN - 1);
			rc = -EINVAL;
			goto err;
		}
		if (*line == '\0')
			continue;
		rc = header ? parse_point(line, name, lineno, p, err) :
			      parse_header(line, name, lineno, p, err);
		if (rc < 0)
			goto err;
		header = true;
	}
	if (p->n == 0) {
		lg_errmsg(err, "%.60s:%u: %s", name, lineno,
			 header ? "no points after the header" :
				  "empty: expected a 't_seconds,pps' or 't_seconds,multiplier' header");
		rc = -EINVAL;
		goto err;
	}
	if (lg_profile_end(p) <= 0) {
		lg_errmsg(err, "%.60s: the profile lasts 0 s: the last point must be after 0", name);
		rc = -EINVAL;
		goto err;
	}
	return 0;
err:
	lg_profile_free(p);
	return rc;
}

/* path opened for reading; with regular_only, anything but a regular file
 * (a FIFO, a device) is refused without blocking on it. */
static FILE *open_profile(const char *path, bool regular_only, struct st_perr *err, int *rc)
{
	FILE *f = regular_only ? st_fopen_regular(path, "rb") : fopen(path, "rb");

	if (f == NULL) {
		*rc = -errno;
		lg_errmsg(err, "%.150s: %s", path, regular_only && *rc == -EINVAL ?
			  "not a regular file" : strerror(-*rc));
	}
	return f;
}

static int load(const char *path, bool regular_only, struct lg_profile *p, struct st_perr *err)
{
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	int rc = 0;
	FILE *f;

	memset(p, 0, sizeof(*p));
	f = open_profile(path, regular_only, err, &rc);
	if (f == NULL)
		return rc;
	do {
		if (len == cap) {
			char *nb;

			cap = cap ? cap * 2 : 65536;
			/* 64 bytes a point is plenty; bound what a wrong file costs. */
			if (cap > (size_t)LG_PROFILE_MAX_POINTS * 64) {
				lg_errmsg(err, "%.150s: too large", path);
				rc = -E2BIG;
				goto out;
			}
			nb = realloc(buf, cap);
			if (nb == NULL) {
				lg_errmsg(err, "%.150s: out of memory", path);
				rc = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		lg_errmsg(err, "%.150s: read error", path);
		rc = -EIO;
		goto out;
	}
	rc = lg_profile_parse(buf, len, path, p, err);
out:
	free(buf);
	fclose(f);
	return rc;
}

int lg_profile_load(const char *path, struct lg_profile *p, struct st_perr *err)
{
	return load(path, false, p, err);
}

int lg_profile_load_file(const char *path, struct lg_profile *p, struct st_perr *err)
{
	return load(path, true, p, err);
}

void lg_profile_free(struct lg_profile *p)
{
	if (p == NULL)
		return;
	free(p->pts);
	p->pts = NULL;
	p->n = 0;
}

/* The last point at or before t (the later one of a step), t >= 0. */
static uint32_t seg_at(const struct lg_profile *p, double t)
{
	uint32_t lo = 0, hi = p->n - 1;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo + 1) / 2;

		if (p->pts[mid].t <= t)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

double lg_profile_rate(const struct lg_profile *p, double t)
{
	const struct lg_profile_pt *a, *b;
	uint32_t i;

	if (t < 0)
		t = 0;
	if (t > lg_profile_end(p))
		return 0;
	i = seg_at(p, t);
	if (i == p->n - 1)
		return p->pts[i].v;
	a = &p->pts[i];
	b = &p->pts[i + 1];
	return a->v + (b->v - a->v) * (t - a->t) / (b->t - a->t);
}

double lg_profile_cum(const struct lg_profile *p, double t)
{
	const struct lg_profile_pt *a, *b;
	double u, d;
	uint32_t i;

	if (t <= 0)
		return 0;
	if (t >= lg_profile_end(p))
		return p->pts[p->n - 1].cum;
	i = seg_at(p, t);
	a = &p->pts[i];
	b = &p->pts[i + 1];
	d = b->t - a->t;
	u = t - a->t;
	return a->cum + a->v * u + (b->v - a->v) / (2 * d) * u * u;
}

double lg_profile_time_at(const struct lg_profile *p, double pos, uint32_t *cursor)
{
	const struct lg_profile_pt *a, *b;
	uint32_t i = *cursor;
	double d, q, sl, den, u;

	if (pos <= 0) {
		/* The first packet: where the rate first rises above 0 (a
		 * silent lead-in sends nothing; a profile all 0, nothing). */
		for (uint32_t k = 0; k + 1 < p->n; k++)
			if (p->pts[k].v > 0 || p->pts[k + 1].v > 0)
				return p->pts[k].t;
		return INFINITY;
	}
	if (pos > p->pts[p->n - 1].cum)
		return INFINITY;
	if (i >= p->n - 1 || p->pts[i].cum >= pos) {
		/* Behind the cursor: search from the start (rare). */
		uint32_t lo = 0, hi = p->n - 1;

		while (lo + 1 < hi) {
			uint32_t mid = lo + (hi - lo) / 2;

			if (p->pts[mid].cum < pos)
				lo = mid;
			else
				hi = mid;
		}
		i = lo;
	}
	/* The segment with cum[i] < pos <= cum[i + 1]. */
	while (i + 1 < p->n - 1 && p->pts[i + 1].cum < pos)
		i++;
	*cursor = i;
	a = &p->pts[i];
	b = &p->pts[i + 1];
	d = b->t - a->t;
	q = pos - a->cum;
	sl = (b->v - a->v) / (2 * d);
	/* a u^2 + b u = q, in the form that does not cancel when sl ~ 0. */
	den = a->v + sqrt(fmax(0, a->v * a->v + 4 * sl * q));
	u = den > 0 ? 2 * q / den : d;
	if (u > d)
		u = d;
	if (u < 0)
		u = 0;
	return a->t + u;
}
