/* Reading JSON request bodies: one object whose values are scalars (the
 * keys of a config section, sent over HTTP). Bounded and allocation-free:
 * pairs go into caller memory; a syntax error is reported with its byte
 * offset, so a 400 can say where the body went wrong. */
#ifndef ST_JSON_IN_H
#define ST_JSON_IN_H

#include <stddef.h>

#define ST_JSON_KEY_MAX  64	/* with NUL */
#define ST_JSON_TEXT_MAX 256	/* with NUL */

enum st_json_type { ST_JSON_STRING, ST_JSON_NUMBER, ST_JSON_BOOL, ST_JSON_NULL };

struct st_json_pair {
	char key[ST_JSON_KEY_MAX];
	enum st_json_type type;
	/* The string unescaped (UTF-8, no NUL), the number as written,
	 * "true"/"false", "null". */
	char text[ST_JSON_TEXT_MAX];
};

struct st_json_error {
	size_t offset;		/* byte where the reader stopped */
	char msg[160];
};

/* Parses buf[0..len) (RFC 8259, UTF-8, optional surrounding blanks) as one
 * object of at most max pairs with scalar values. Returns 0 with *n set,
 * or -EINVAL with err: bad syntax or UTF-8, a nested object or array, a
 * duplicate key, a key or string too long, more than max pairs. Never
 * allocates; O(len). */
int st_json_flat_object(const char *buf, size_t len, struct st_json_pair *pairs,
			size_t max, size_t *n, struct st_json_error *err);

#endif
