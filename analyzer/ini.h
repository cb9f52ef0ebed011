/* A small INI reader for the analyzer's config file, in the dialect the
 * dataplane reads with rte_cfgfile: "[section]" headers, "key = value"
 * lines, ';' starts a comment anywhere on a line, '#' at the start of one.
 * The analyzer must build without DPDK (DESIGN.md), so it cannot use
 * rte_cfgfile itself.
 *
 * The reader keeps line numbers so every later error can say where the key
 * was, and refuses what rte_cfgfile would silently accept or merge: a
 * duplicate section, a duplicate key within a section, a key before any
 * section. Everything is bounded (file size, line length, entry count). */
#ifndef AN_INI_H
#define AN_INI_H

#include <stdbool.h>
#include <stddef.h>

#include "parse.h"

#define AN_INI_MAX_FILE    (1u << 20)
#define AN_INI_MAX_LINE    4096
#define AN_INI_MAX_ENTRIES 65536
#define AN_INI_NAME_MAX    128	/* section and key names, with NUL */

struct an_ini_entry {
	const char *key;
	const char *value;	/* trimmed; may be empty */
	int line;
};

struct an_ini_section {
	const char *name;
	int line;
	size_t first;		/* index of its first entry */
	size_t n;		/* entries */
};

struct an_ini {
	char *text;		/* owned copy; names and values point into it */
	char path[256];		/* for messages */
	struct an_ini_section *sections;
	size_t n_sections;
	struct an_ini_entry *entries;
	size_t n_entries;
};

/* Parses text[0..len) (need not be NUL-terminated); name is used in
 * messages ("FILE:LINE: reason"). Returns a new reader (an_ini_free it), or
 * NULL with errno EINVAL (syntax; err->msg says where and why), E2BIG (over
 * a limit) or ENOMEM. O(len). */
struct an_ini *an_ini_parse(const char *text, size_t len, const char *name,
			    struct st_perr *err);

/* Reads and parses a file. As an_ini_parse, plus errno from open/read and
 * EFBIG when the file is larger than AN_INI_MAX_FILE. */
struct an_ini *an_ini_load(const char *path, struct st_perr *err);

/* NULL is ignored. */
void an_ini_free(struct an_ini *ini);

/* The section of that name, or NULL. O(sections). */
const struct an_ini_section *an_ini_section(const struct an_ini *ini,
					    const char *name);

#endif
