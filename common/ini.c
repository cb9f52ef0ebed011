#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ini.h"
#include "regfile.h"

static int fail(struct st_perr *err, const struct st_ini *ini, int line,
		int code, const char *why, const char *what)
{
	snprintf(err->msg, sizeof(err->msg), "%.64s:%d: %.60s%s%.40s%s", ini->path,
		 line, why, what ? " '" : "", what ? what : "", what ? "'" : "");
	errno = code;
	return -code;
}

static bool name_ok(const char *s)
{
	if (*s == '\0' || strlen(s) >= ST_INI_NAME_MAX)
		return false;
	for (; *s; s++)
		if (*s == '[' || *s == ']' || *s == '=' || (unsigned char)*s < 0x20)
			return false;
	return true;
}

static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
	void *p;
	size_t ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	p = realloc(*arr, ncap * size);
	if (p == NULL)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* Cuts line at its ';' comment; a backslash before a ';' makes it part of
 * the value instead, and is dropped. */
static void cut_comment(char *line)
{
	char *r = line, *w = line;

	for (; *r != '\0' && *r != ';'; r++) {
		if (r[0] == '\\' && r[1] == ';')
			r++;
		*w++ = *r;
	}
	*w = '\0';
}

/* Handles one line, already cut at its end and at a ';' comment. */
static int parse_line(struct st_ini *ini, char *s, int line, size_t *scap,
		      size_t *ecap, struct st_perr *err)
{
	struct st_ini_section *sec;
	struct st_ini_entry *e;
	char *eq, *key, *val, *end;

	s = st_trim(s);
	if (*s == '\0' || *s == '#')
		return 0;
	if (*s == '[') {
		end = strchr(s, ']');
		if (end == NULL)
			return fail(err, ini, line, EINVAL, "section header without ']'", NULL);
		if (*st_trim(end + 1) != '\0')
			return fail(err, ini, line, EINVAL, "text after the section header", NULL);
		*end = '\0';
		s = st_trim(s + 1);
		if (!name_ok(s))
			return fail(err, ini, line, EINVAL, "bad section name", s);
		for (size_t i = 0; i < ini->n_sections; i++)
			if (strcmp(ini->sections[i].name, s) == 0) {
				char why[64];

				snprintf(why, sizeof(why), "duplicate section (first at line %d)",
					 ini->sections[i].line);
				return fail(err, ini, line, EINVAL, why, s);
			}
		if (grow((void **)&ini->sections, scap, ini->n_sections,
			 sizeof(*ini->sections)) != 0)
			return fail(err, ini, line, ENOMEM, "out of memory", NULL);
		sec = &ini->sections[ini->n_sections++];
		sec->name = s;
		sec->line = line;
		sec->first = ini->n_entries;
		sec->n = 0;
		return 0;
	}
	if (ini->n_sections == 0)
		return fail(err, ini, line, EINVAL, "key outside any [section]", NULL);
	eq = strchr(s, '=');
	if (eq == NULL)
		return fail(err, ini, line, EINVAL, "expected 'key = value' or '[section]'", NULL);
	*eq = '\0';
	key = st_trim(s);
	val = st_trim(eq + 1);
	if (!name_ok(key))
		return fail(err, ini, line, EINVAL, "bad key name", key);
	sec = &ini->sections[ini->n_sections - 1];
	for (size_t i = sec->first; i < ini->n_entries; i++)
		if (strcmp(ini->entries[i].key, key) == 0) {
			char why[80];

			snprintf(why, sizeof(why), "duplicate key in [%.30s] (first at line %d)",
				 sec->name, ini->entries[i].line);
			return fail(err, ini, line, EINVAL, why, key);
		}
	if (ini->n_entries >= ST_INI_MAX_ENTRIES)
		return fail(err, ini, line, E2BIG, "too many entries", NULL);
	if (grow((void **)&ini->entries, ecap, ini->n_entries, sizeof(*ini->entries)) != 0)
		return fail(err, ini, line, ENOMEM, "out of memory", NULL);
	e = &ini->entries[ini->n_entries++];
	e->key = key;
	e->value = val;
	e->line = line;
	sec->n++;
	return 0;
}

struct st_ini *st_ini_parse(const char *text, size_t len, const char *name,
			    struct st_perr *err)
{
	struct st_ini *ini = calloc(1, sizeof(*ini));
	size_t scap = 0, ecap = 0, pos = 0;
	int line = 0, rc;

	if (ini == NULL) {
		snprintf(err->msg, sizeof(err->msg), "%s: out of memory", name);
		errno = ENOMEM;
		return NULL;
	}
	snprintf(ini->path, sizeof(ini->path), "%s", name);
	if (len > ST_INI_MAX_FILE) {
		fail(err, ini, 0, E2BIG, "file larger than 1 MiB", NULL);
		goto err;
	}
	ini->text = malloc(len + 1);
	if (ini->text == NULL) {
		fail(err, ini, 0, ENOMEM, "out of memory", NULL);
		goto err;
	}
	memcpy(ini->text, text, len);
	ini->text[len] = '\0';
	while (pos < len) {
		char *s = ini->text + pos, *nl;
		size_t n;

		line++;
		nl = memchr(s, '\n', len - pos);
		n = nl ? (size_t)(nl - s) : len - pos;
		pos += n + (nl ? 1 : 0);
		if (memchr(s, '\0', n) != NULL) {
			fail(err, ini, line, EINVAL, "NUL byte in the file", NULL);
			goto err;
		}
		if (n > ST_INI_MAX_LINE) {
			fail(err, ini, line, E2BIG, "line longer than 4096 bytes", NULL);
			goto err;
		}
		s[n] = '\0';
		if (n > 0 && s[n - 1] == '\r')
			s[n - 1] = '\0';
		cut_comment(s);
		rc = parse_line(ini, s, line, &scap, &ecap, err);
		if (rc != 0)
			goto err;
	}
	return ini;
err:
	rc = errno;
	st_ini_free(ini);
	errno = rc;
	return NULL;
}

struct st_ini *st_ini_load(const char *path, struct st_perr *err)
{
	struct st_ini *ini = NULL;
	struct stat st;
	char *buf = NULL;
	ssize_t got;
	size_t len = 0;
	int fd, e;

	fd = st_open_regular(path, &st);
	if (fd < 0) {
		snprintf(err->msg, sizeof(err->msg), "%s: %s", path,
			 fd == -EINVAL ? "not a regular file" : strerror(-fd));
		errno = -fd;
		return NULL;
	}
	if ((uint64_t)st.st_size > ST_INI_MAX_FILE) {
		e = EFBIG;
		snprintf(err->msg, sizeof(err->msg), "%s: file larger than 1 MiB", path);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		e = ENOMEM;
		snprintf(err->msg, sizeof(err->msg), "%s: out of memory", path);
		goto out;
	}
	/* The size may change under us: read at most what was announced
	 * plus one byte to notice growth. */
	while (len <= (size_t)st.st_size) {
		got = read(fd, buf + len, (size_t)st.st_size + 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			e = errno;
			snprintf(err->msg, sizeof(err->msg), "%s: %s", path, strerror(e));
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	if (len > (size_t)st.st_size) {
		e = EFBIG;
		snprintf(err->msg, sizeof(err->msg), "%s: file grew while being read", path);
		goto out;
	}
	ini = st_ini_parse(buf, len, path, err);
	e = ini ? 0 : errno;
out:
	free(buf);
	close(fd);
	errno = e;
	return ini;
}

void st_ini_free(struct st_ini *ini)
{
	if (ini == NULL)
		return;
	free(ini->text);
	free(ini->sections);
	free(ini->entries);
	free(ini);
}

const struct st_ini_section *st_ini_section(const struct st_ini *ini,
					    const char *name)
{
	for (size_t i = 0; i < ini->n_sections; i++)
		if (strcmp(ini->sections[i].name, name) == 0)
			return &ini->sections[i];
	return NULL;
}
