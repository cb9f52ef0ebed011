#include "shard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"

static bool none(const char *v)
{
	return *v == '\0' || strcmp(v, "none") == 0;
}

int an_shard_parse(struct an_shard *s, const char *v, struct st_perr *e)
{
	const char *spec = v;
	unsigned long i, n;
	char *end;

	if (none(v)) {
		s->i = s->n = 0;
		return 0;
	}
	errno = 0;
	i = strtoul(v, &end, 10);
	if (end == v || *end != '/' || errno != 0)
		goto bad;
	v = end + 1;
	n = strtoul(v, &end, 10);
	if (end == v || *end != '\0' || errno != 0)
		goto bad;
	if (n < 1 || n > AN_SHARD_MAX || i < 1 || i > n) {
		snprintf(e->msg, sizeof(e->msg),
			 "'%lu/%lu': shard I of N needs 1 <= I <= N <= %u (e.g. 1/2 and 2/2)", i, n,
			 AN_SHARD_MAX);
		return -EINVAL;
	}
	s->i = (uint32_t)i;
	s->n = (uint32_t)n;
	return 0;
bad:
	snprintf(e->msg, sizeof(e->msg), "'%.60s': expected I/N (e.g. 1/2), or none", spec);
	return -EINVAL;
}

int an_shard_set_names(struct an_shard *s, const char *v, struct st_perr *e)
{
	char (*names)[ST_WIRE_NAME_MAX] = NULL;
	uint32_t n = 0;
	const char *p = v;

	if (none(v)) {
		an_shard_free(s);
		return 0;
	}
	while (*p != '\0') {
		size_t len = strcspn(p, ",");
		const char *q = p, *end = p + len;

		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
		while (end > q && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (!st_wire_name_ok(q, (size_t)(end - q))) {
			snprintf(e->msg, sizeof(e->msg),
				 "'%.*s': service names are 1-63 of [A-Za-z0-9_-]",
				 (int)((end - q) > 60 ? 60 : end - q), q);
			free(names);
			return -EINVAL;
		}
		if (n == AN_SHARD_MAX_NAMES) {
			snprintf(e->msg, sizeof(e->msg), "more than %u services", AN_SHARD_MAX_NAMES);
			free(names);
			return -EINVAL;
		}
		if ((n & (n - 1)) == 0) {	/* 0, 1, 2, 4, ...: grow */
			void *g = realloc(names, (n ? 2 * n : 1) * sizeof(*names));

			if (g == NULL) {
				free(names);
				return -ENOMEM;
			}
			names = g;
		}
		memcpy(names[n], q, (size_t)(end - q));
		names[n][end - q] = '\0';
		n++;
		p += len;
		if (*p == ',')
			p++;
	}
	an_shard_free(s);
	s->names = names;
	s->n_names = n;
	return 0;
}

bool an_shard_on(const struct an_shard *s)
{
	return s->n > 0 || s->names != NULL;
}

bool an_shard_owns(const struct an_shard *s, const char *name)
{
	if (s->names != NULL) {
		for (uint32_t k = 0; k < s->n_names; k++)
			if (strcmp(s->names[k], name) == 0)
				return true;
		return false;
	}
	if (s->n == 0)
		return true;
	return st_crc32c(0, name, strlen(name)) % s->n == s->i - 1;
}

void an_shard_describe(const struct an_shard *s, char *buf, size_t len)
{
	size_t used;

	if (s->names == NULL) {
		if (s->n > 0)
			snprintf(buf, len, "shard %u/%u", s->i, s->n);
		else
			snprintf(buf, len, "all services");
		return;
	}
	used = (size_t)snprintf(buf, len, "services");
	for (uint32_t k = 0; k < s->n_names && used < len; k++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", k ? "," : " ",
					 s->names[k]);
}

void an_shard_free(struct an_shard *s)
{
	free(s->names);
	s->names = NULL;
	s->n_names = 0;
}
