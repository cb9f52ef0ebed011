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

/* Reading a whole JSON document (a file another program wrote, such as the
 * analyzer's GET .../clients) by its scalars: fn is called for each, in
 * document order, with its path (object keys and array indices joined by
 * '.': "clients.3.k"; "" for a scalar document) in pair->key and its value
 * as st_json_flat_object gives it. A path longer than ST_JSON_KEY_MAX - 1
 * is refused. fn returns 0 to go on, or a negative errno (with err->msg
 * filled) to stop: that is returned. */
#define ST_JSON_DEPTH_MAX 32
typedef int (*st_json_scalar_fn)(void *arg, const struct st_json_pair *pair,
				 struct st_json_error *err);
/* Returns 0, fn's error, or -EINVAL with err: bad syntax or UTF-8, nesting
 * deeper than ST_JSON_DEPTH_MAX, a string longer than ST_JSON_TEXT_MAX - 1,
 * bytes after the document. Never allocates; O(len). Duplicate keys are
 * not refused here (fn sees both). */
int st_json_walk(const char *buf, size_t len, st_json_scalar_fn fn, void *arg,
		 struct st_json_error *err);

#endif
