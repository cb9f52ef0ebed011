/* The INI reader of shadowtap's config files: the dataplane's and the
 * analyzer's, which can be one file (each takes its own sections), so both
 * read one dialect. "[section]" headers, "key = value" lines, ';' starts a
 * comment anywhere on a line ("\;" is a ';' in the value, as DPDK's
 * rte_cfgfile reads it), '#' at the start of one.
 *
 * The reader keeps line numbers so every later error can say where the key
 * was, and refuses what rte_cfgfile would silently accept or merge: a
 * duplicate section, a duplicate key within a section, a key before any
 * section. Everything is bounded (file size, line length, entry count). */
#ifndef ST_INI_H
#define ST_INI_H

#include <stdbool.h>
#include <stddef.h>

#include "parse.h"

#define ST_INI_MAX_FILE    (1u << 20)
#define ST_INI_MAX_LINE    4096
#define ST_INI_MAX_ENTRIES 65536
#define ST_INI_NAME_MAX    128	/* section and key names, with NUL */

struct st_ini_entry {
	const char *key;
	const char *value;	/* trimmed; may be empty */
	int line;
};

struct st_ini_section {
	const char *name;
	int line;
	size_t first;		/* index of its first entry */
	size_t n;		/* entries */
};

struct st_ini {
	char *text;		/* owned copy; names and values point into it */
	char path[256];		/* for messages */
	struct st_ini_section *sections;
	size_t n_sections;
	struct st_ini_entry *entries;
	size_t n_entries;
};

/* Parses text[0..len) (need not be NUL-terminated); name is used in
 * messages ("FILE:LINE: reason"). Returns a new reader (st_ini_free it), or
 * NULL with errno EINVAL (syntax; err->msg says where and why), E2BIG (over
 * a limit) or ENOMEM. O(len). */
struct st_ini *st_ini_parse(const char *text, size_t len, const char *name,
			    struct st_perr *err);

/* Reads and parses a file. As st_ini_parse, plus errno from open/read and
 * EFBIG when the file is larger than ST_INI_MAX_FILE. */
struct st_ini *st_ini_load(const char *path, struct st_perr *err);

/* NULL is ignored. */
void st_ini_free(struct st_ini *ini);

/* The section of that name, or NULL. O(sections). */
const struct st_ini_section *st_ini_section(const struct st_ini *ini,
					    const char *name);

#endif
