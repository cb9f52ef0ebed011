/* Chaos scenarios: reading, checking, and the setting a line changes
 * (chaos_scenario.h). The main lcore applies them (control.c). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaos_scenario.h"
#include "flow.h"
#include "regfile.h"

void dp_chaos_setting_from_cfg(const struct dp_shadow_cfg *sc, struct dp_chaos_setting *s)
{
	s->loss_thr = st_share_threshold(sc->chaos_loss);
	s->down = sc->has_chaos_down ? dp_shadow_instance_index(sc, &sc->chaos_down) : -1;
	s->respread = sc->chaos_down_respread;
	s->p = sc->chaos;
}

int dp_chaos_setting_set(struct dp_chaos_setting *s, const struct dp_shadow_cfg *sc,
			 const char *key, const char *v, struct st_perr *e)
{
	if (strncmp(key, "chaos_", 6) == 0)
		key += 6;
	if (strcmp(key, "off") == 0) {
		if (*v != '\0' && strcmp(v, "true") != 0) {
			snprintf(e->msg, sizeof(e->msg), "'%.60s': off takes no value", v);
			return -EINVAL;
		}
		memset(s, 0, sizeof(*s));
		s->down = -1;
		return 0;
	}
	if (strcmp(key, "loss") == 0) {
		double loss;

		if (st_parse_share(v, &loss, e) != 0)
			return -EINVAL;
		s->loss_thr = st_share_threshold(loss);
		return 0;
	}
	if (strcmp(key, "down") == 0) {
		struct st_addr a;
		bool has;
		int idx;

		if (dp_parse_chaos_down(v, &a, &has, e) != 0)
			return -EINVAL;
		idx = has ? dp_shadow_instance_index(sc, &a) : -1;
		if (has && idx < 0) {
			snprintf(e->msg, sizeof(e->msg), "'%.60s' is not one of %.40s's instances", v,
				 sc->name);
			return -EINVAL;
		}
		s->down = idx;
		return 0;
	}
	if (strcmp(key, "respread") == 0)
		return st_parse_bool(v, &s->respread, e) != 0 ? -EINVAL : 0;
	for (size_t i = 0; i < dp_chaos_n_param_keys; i++)
		if (strcmp(key, dp_chaos_param_keys[i]) == 0)
			return dp_chaos_param_set(&s->p, key, v, e);
	snprintf(e->msg, sizeof(e->msg),
		 "unknown chaos key '%.24s' (loss, down, respread, off, delay, jitter, delay_dist, "
		 "delay_corr, loss_burst, duplicate, corrupt, reorder, reorder_gap, rate, flap, "
		 "direction)", key);
	return -ENOENT;
}

static char *trim(char *t)
{
	char *z;

	while (*t == ' ' || *t == '\t')
		t++;
	for (z = t + strlen(t); z > t && (z[-1] == ' ' || z[-1] == '\t' || z[-1] == '\r' ||
					  z[-1] == '\n');)
		*--z = '\0';
	return t;
}

/* One line into l: "t,group,key,value" (value: the rest, commas and
 * all). Returns 0 or -EINVAL with why set (without the line's place). */
static int parse_line(char *buf, const struct dp_config *cfg, struct dp_scn_line *l, char *why,
		      size_t len)
{
	char *f[4], *p = buf, *end;
	double t;

	for (int i = 0; i < 3; i++) {
		char *c = strchr(p, ',');

		if (c == NULL) {
			snprintf(why, len, "expected t_seconds,group,key,value");
			return -EINVAL;
		}
		*c = '\0';
		f[i] = trim(p);
		p = c + 1;
	}
	f[3] = trim(p);
	errno = 0;
	t = strtod(f[0], &end);
	if (end == f[0] || *end != '\0' || errno != 0 || !isfinite(t) || t < 0 ||
	    t > DP_SCN_MAX_T_S) {
		snprintf(why, len, "t_seconds '%.30s': a number of seconds, 0..%d", f[0],
			 DP_SCN_MAX_T_S);
		return -EINVAL;
	}
	l->t_ns = (uint64_t)llround(t * 1e9);
	l->group = -1;
	for (int i = 0; i < cfg->n_shadows; i++)
		if (strcmp(cfg->shadows[i].name, f[1]) == 0)
			l->group = i;
	if (l->group < 0) {
		snprintf(why, len, "no shadow group '%.40s'", f[1]);
		return -EINVAL;
	}
	if (strlen(f[2]) >= sizeof(l->key) || strlen(f[3]) >= sizeof(l->value)) {
		snprintf(why, len, "key or value too long");
		return -EINVAL;
	}
	snprintf(l->key, sizeof(l->key), "%s", f[2]);
	snprintf(l->value, sizeof(l->value), "%s", f[3]);
	return 0;
}

/* The scenario read from f (closed here), path naming it in s and in why. */
static int load_stream(struct dp_scenario *s, const char *path, FILE *f,
		       const struct dp_config *cfg, const struct dp_chaos_setting *init, char *why,
		       size_t len)
{
	struct dp_chaos_setting cur[DP_MAX_SHADOWS];
	bool touched[DP_MAX_SHADOWS] = { false };
	struct dp_scn_line *lines = NULL;
	uint32_t n = 0, cap = 0;
	char buf[512], what[200];
	int lineno = 0, rc = -EINVAL;

	for (int i = 0; i < cfg->n_shadows; i++) {
		if (init != NULL)
			cur[i] = init[i];
		else
			dp_chaos_setting_from_cfg(&cfg->shadows[i], &cur[i]);
	}
	while (fgets(buf, sizeof(buf), f) != NULL) {
		struct dp_scn_line l;
		struct st_perr e;
		char *t;

		lineno++;
		if (strchr(buf, '\n') == NULL && !feof(f)) {
			snprintf(what, sizeof(what), "line too long (at most %zu bytes)",
				 sizeof(buf) - 2);
			goto bad;
		}
		t = trim(buf);
		if (*t == '\0' || *t == '#')
			continue;
		if (parse_line(t, cfg, &l, what, sizeof(what)) != 0)
			goto bad;
		l.lineno = lineno;
		if (n > 0 && l.t_ns < lines[n - 1].t_ns) {
			snprintf(what, sizeof(what), "t_seconds goes back (lines are in time order)");
			goto bad;
		}
		/* The instant before this line's is over: check what it left. */
		if (n > 0 && l.t_ns != lines[n - 1].t_ns) {
			for (int i = 0; i < cfg->n_shadows; i++) {
				if (touched[i] && dp_chaos_params_check(&cur[i].p, what,
									 sizeof(what)) != 0) {
					lineno = lines[n - 1].lineno;
					goto bad;
				}
				touched[i] = false;
			}
		}
		if (dp_chaos_setting_set(&cur[l.group], &cfg->shadows[l.group], l.key, l.value,
					 &e) != 0) {
			if (strncmp(e.msg, "unknown chaos key", 17) == 0)
				snprintf(what, sizeof(what), "%.190s", e.msg);
			else
				snprintf(what, sizeof(what), "%.20s: %.170s", l.key, e.msg);
			goto bad;
		}
		touched[l.group] = true;
		if (n == DP_SCN_MAX_LINES) {
			snprintf(what, sizeof(what), "more than %d lines", DP_SCN_MAX_LINES);
			goto bad;
		}
		if (n == cap) {
			uint32_t nc = cap ? 2 * cap : 64;
			struct dp_scn_line *nl = realloc(lines, nc * sizeof(*nl));

			if (nl == NULL) {
				rc = -ENOMEM;
				snprintf(what, sizeof(what), "out of memory");
				goto bad;
			}
			lines = nl;
			cap = nc;
		}
		lines[n++] = l;
	}
	if (ferror(f)) {
		rc = -EIO;
		snprintf(what, sizeof(what), "read error");
		goto bad;
	}
	for (int i = 0; i < cfg->n_shadows; i++) {
		if (touched[i] && dp_chaos_params_check(&cur[i].p, what, sizeof(what)) != 0) {
			lineno = lines[n - 1].lineno;
			goto bad;
		}
	}
	fclose(f);
	memset(s, 0, sizeof(*s));
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->lines = lines;
	s->n = n;
	return 0;
bad:
	snprintf(why, len, "%.120s:%d: %.200s", path, lineno, what);
	free(lines);
	fclose(f);
	return rc;
}

int dp_scenario_load(struct dp_scenario *s, const char *path, const struct dp_config *cfg,
		     const struct dp_chaos_setting *init, char *why, size_t len)
{
	FILE *f;
	int rc;

	if (strlen(path) >= sizeof(s->path)) {
		snprintf(why, len, "path too long");
		return -ENAMETOOLONG;
	}
	/* loaded on the main lcore, between control requests: a FIFO's
	 * open would stop them */
	f = st_fopen_regular(path, "r");
	if (f == NULL) {
		rc = -errno;
		snprintf(why, len, "%.200s: %s", path,
			 rc == -EINVAL ? "not a regular file" : strerror(-rc));
		return rc;
	}
	return load_stream(s, path, f, cfg, init, why, len);
}

int dp_scenario_parse(struct dp_scenario *s, const char *name, const char *text, size_t n,
		      const struct dp_config *cfg, const struct dp_chaos_setting *init, char *why,
		      size_t len)
{
	FILE *f;

	if (strlen(name) >= sizeof(s->path)) {
		snprintf(why, len, "name too long");
		return -ENAMETOOLONG;
	}
	if (n > 0 && memchr(text, '\0', n) != NULL) {
		snprintf(why, len, "%.120s: holds a NUL byte", name);
		return -EINVAL;
	}
	/* an empty text is an empty scenario (fmemopen wants a byte) */
	f = fmemopen((void *)(uintptr_t)(n > 0 ? text : "\n"), n > 0 ? n : 1, "r");
	if (f == NULL) {
		int rc = -errno;

		snprintf(why, len, "%.120s: %s", name, strerror(-rc));
		return rc;
	}
	return load_stream(s, name, f, cfg, init, why, len);
}

void dp_scenario_free(struct dp_scenario *s)
{
	free(s->lines);
	memset(s, 0, sizeof(*s));
}
