/* The path router and the small pure helpers of the HTTP server: no MHD
 * here, so the unit tests and the fuzz harness drive them directly. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http.h"

/* Matches one pattern against path; fills params. true on a match. */
static bool pattern_match(const char *pat, const char *path, struct st_http_match *m)
{
	const char *p = pat, *s = path;

	m->n_params = 0;
	while (*p != '\0' && *s != '\0') {
		if (*p == '{') {
			const char *pe = strchr(p, '}');
			size_t seg = strcspn(s, "/");

			if (pe == NULL || seg == 0 || seg >= ST_HTTP_PARAM_MAX ||
			    m->n_params >= ST_HTTP_MAX_PARAMS)
				return false;
			memcpy(m->params[m->n_params], s, seg);
			m->params[m->n_params][seg] = '\0';
			m->n_params++;
			p = pe + 1;
			s += seg;
			continue;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	return *p == '\0' && *s == '\0';
}

int st_http_route_match(const struct st_http_route *routes, size_t n,
			unsigned method, const char *path,
			struct st_http_match *m)
{
	struct st_http_match tmp;

	memset(m, 0, sizeof(*m));
	if (path == NULL || path[0] != '/' || strnlen(path, ST_HTTP_PATH_MAX) >= ST_HTTP_PATH_MAX)
		return 404;
	for (size_t i = 0; i < n; i++) {
		if (!pattern_match(routes[i].pattern, path, &tmp))
			continue;
		if ((routes[i].methods & method) == 0) {
			m->allow |= routes[i].methods;
			continue;
		}
		*m = tmp;
		m->route = &routes[i];
		m->allow = 0;
		return 0;
	}
	return m->allow ? 405 : 404;
}

unsigned st_http_method_bit(const char *name)
{
	if (name == NULL)
		return ST_HTTP_OTHER;
	/* HEAD is GET without the body; MHD drops the body itself. */
	if (strcmp(name, "GET") == 0 || strcmp(name, "HEAD") == 0)
		return ST_HTTP_GET;
	if (strcmp(name, "PUT") == 0)
		return ST_HTTP_PUT;
	if (strcmp(name, "POST") == 0)
		return ST_HTTP_POST;
	if (strcmp(name, "DELETE") == 0)
		return ST_HTTP_DELETE;
	return ST_HTTP_OTHER;
}

const char *st_http_allow_fmt(unsigned mask, char *buf, size_t len)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ ST_HTTP_GET, "GET, HEAD" }, { ST_HTTP_PUT, "PUT" },
		{ ST_HTTP_POST, "POST" }, { ST_HTTP_DELETE, "DELETE" },
	};
	size_t used = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int k;

		if (!(mask & names[i].bit))
			continue;
		k = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", names[i].name);
		if (k < 0 || (size_t)k >= len - used)
			break;
		used += (size_t)k;
	}
	return buf;
}

bool st_http_token_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char diff = alen != blen;

	/* Walk the expected length (b) whatever a holds: the loop's length
	 * and memory accesses never depend on the content. */
	for (size_t i = 0; i < blen; i++)
		diff |= (unsigned char)((i < alen ? x[i] : 0) ^ y[i]);
	return diff == 0;
}
