/* --select-clients files (select.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "errmsg.h"
#include "json_in.h"
#include "select.h"

struct listed {
	char k[ST_CLIENT_KEY_MAX];
	char fp[16];
};

struct rd {
	struct lg_select *sel;
	struct listed *l;
	uint32_t n, cap;	/* entries seen (the highest index + 1) */
	bool has_key;
};

static int bad(struct st_json_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(struct st_json_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* The entry of clients.N, grown to hold it. */
static struct listed *entry(struct rd *r, unsigned long n)
{
	if (n >= r->cap) {
		uint32_t cap = r->cap ? r->cap : 64;
		struct listed *l;

		while (cap <= n)
			cap *= 2;
		l = realloc(r->l, cap * sizeof(*l));
		if (l == NULL)
			return NULL;
		memset(l + r->cap, 0, (cap - r->cap) * sizeof(*l));
		r->l = l;
		r->cap = cap;
	}
	if (n >= r->n)
		r->n = (uint32_t)n + 1;
	return &r->l[n];
}

static int on_scalar(void *arg, const struct st_json_pair *p, struct st_json_error *err)
{
	struct rd *r = arg;
	struct st_perr pe;
	const char *rest;
	char *end;
	unsigned long n;
	struct listed *e;

	if (strcmp(p->key, "client_key") == 0) {
		if (p->type != ST_JSON_STRING)
			return bad(err, "client_key: %.40s, not a string", p->text);
		if (st_ckey_spec_parse(p->text, &r->sel->spec, &pe) != 0)
			return bad(err, "client_key: %.120s", pe.msg);
		if (r->sel->spec.by == ST_CKEY_BY_NONE)
			return bad(err, "client_key %.40s: names no kind of client", p->text);
		snprintf(r->sel->client_key, sizeof(r->sel->client_key), "%.63s", p->text);
		r->has_key = true;
		return 0;
	}
	if (strcmp(p->key, "scale") == 0) {
		unsigned long v = strtoul(p->text, &end, 10);

		if (p->type != ST_JSON_NUMBER || *end != '\0' || v < 1 || v > LG_SELECT_SCALE_MAX)
			return bad(err, "scale %.30s: a whole number from 1 to 1000 (each selected flow "
				   "is sent that many times, from client addresses of its own)", p->text);
		r->sel->scale = (uint32_t)v;
		return 0;
	}
	if (strncmp(p->key, "clients.", 8) != 0)
		return 0;
	n = strtoul(p->key + 8, &end, 10);
	if (end == p->key + 8 || (*end != '\0' && *end != '.'))
		return 0;	/* "clients" as an object: not ours */
	if (n >= ST_CLIENTS_MAX)
		return bad(err, "%.60s: more clients than the analyzer tracks", p->key);
	rest = end;
	if (strcmp(rest, "") != 0 && strcmp(rest, ".k") != 0 && strcmp(rest, ".fingerprint") != 0)
		return 0;
	if (p->type != ST_JSON_STRING || p->text[0] == '\0')
		return bad(err, "%.60s: a client key is a non-empty string", p->key);
	e = entry(r, n);
	if (e == NULL) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	if (strcmp(rest, ".fingerprint") == 0) {
		snprintf(e->fp, sizeof(e->fp), "%.15s", p->text);
	} else {
		if (strlen(p->text) >= sizeof(e->k))
			return bad(err, "%.60s: longer than a client key", p->key);
		memcpy(e->k, p->text, strlen(p->text) + 1);
	}
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

int lg_select_load_mem(const char *buf, size_t len, const char *name, const char *fingerprint,
		       struct lg_select *sel, struct st_perr *err)
{
	struct rd r = { .sel = sel };
	struct st_json_error je;
	int rc;

	memset(sel, 0, sizeof(*sel));
	rc = st_json_walk(buf, len, on_scalar, &r, &je);
	if (rc != 0) {
		lg_errmsg(err, "%s: byte %zu: %s", name, je.offset, je.msg);
		goto err;
	}
	rc = -EINVAL;
	if (!r.has_key) {
		lg_errmsg(err, "%s: no client_key (what the keys are: src/24, vlan, ...); the "
			  "analyzer's GET /api/v1/services/NAME/clients states it", name);
		goto err;
	}
	sel->keys = malloc((r.n + 1) * sizeof(*sel->keys));
	sel->flows = calloc(r.n + 1, sizeof(*sel->flows));
	if (sel->keys == NULL || sel->flows == NULL) {
		rc = -ENOMEM;
		lg_errmsg(err, "%s: out of memory for %u clients", name, r.n);
		goto err;
	}
	for (uint32_t i = 0; i < r.n; i++) {
		if (r.l[i].k[0] == '\0') {
			lg_errmsg(err, "%s: clients.%u has no key (k)", name, i);
			goto err;
		}
		if (fingerprint != NULL && strcmp(r.l[i].fp, fingerprint) != 0)
			continue;
		memcpy(sel->keys[sel->n++], r.l[i].k, sizeof(sel->keys[0]));
	}
	sel->listed = r.n;
	if (sel->n == 0) {
		rc = -ENODATA;
		if (fingerprint != NULL && r.n > 0)
			lg_errmsg(err, "%s: no client of fingerprint %s among its %u", name,
				  fingerprint, r.n);
		else
			lg_errmsg(err, "%s: names no client (clients: [...] is empty or missing)", name);
		goto err;
	}
	qsort(sel->keys, sel->n, sizeof(sel->keys[0]), key_cmp);
	{
		uint32_t w = 1;

		for (uint32_t i = 1; i < sel->n; i++)
			if (strcmp(sel->keys[i], sel->keys[w - 1]) != 0)
				memmove(sel->keys[w++], sel->keys[i], sizeof(sel->keys[0]));
		sel->n = w;
	}
	free(r.l);
	return 0;
err:
	free(r.l);
	lg_select_free(sel);
	return rc;
}

int lg_select_load(const char *path, const char *fingerprint, struct lg_select *sel,
		   struct st_perr *err)
{
	FILE *f;
	struct stat st;
	char *buf;
	size_t got;
	int rc;

	memset(sel, 0, sizeof(*sel));
	f = fopen(path, "rb");
	if (f == NULL) {
		rc = -errno;
		lg_errmsg(err, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		lg_errmsg(err, "%s: not a regular file", path);
		return -EISDIR;
	}
	if ((uint64_t)st.st_size > LG_SELECT_FILE_MAX) {
		fclose(f);
		lg_errmsg(err, "%s: %lld bytes, more than %u", path, (long long)st.st_size,
			  LG_SELECT_FILE_MAX);
		return -EFBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		fclose(f);
		lg_errmsg(err, "%s: out of memory", path);
		return -ENOMEM;
	}
	got = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	rc = lg_select_load_mem(buf, got, path, fingerprint, sel, err);
	free(buf);
	return rc;
}

int lg_select_find(const struct lg_select *sel, const struct st_flow_key *k, unsigned int client)
{
	char text[ST_CLIENT_KEY_MAX];
	struct st_ckey ck;
	const char (*hit)[ST_CLIENT_KEY_MAX];

	st_ckey_of(&sel->spec, k, client, &ck);
	if (st_ckey_format(&ck, text, sizeof(text)) < 0)
		return -1;
	hit = bsearch(text, sel->keys, sel->n, sizeof(sel->keys[0]), key_cmp);
	return hit == NULL ? -1 : (int)(hit - sel->keys);
}

void lg_select_free(struct lg_select *sel)
{
	if (sel == NULL)
		return;
	free(sel->keys);
	free(sel->flows);
	memset(sel, 0, sizeof(*sel));
}
