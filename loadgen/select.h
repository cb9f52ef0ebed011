/* --select-clients: replay only some clients of a capture, at a multiple
 * (issue #16: "what if this kind of client doubles?"). The file is JSON
 * the analyzer writes, GET /api/v1/services/{name}/clients (every tracked
 * client with its `k` and `fingerprint`, and the `client_key` that made
 * the keys), narrowed to one fingerprint when asked; or one written by
 * hand: {"client_key": "src/24", "clients": ["198.18.1.0/24", ...],
 * "scale": 2}. A flow is selected when the key its client makes under
 * client_key (common/spacesaving.h: the dataplane's own function) is one
 * the file names.
 *
 * Plain C, no DPDK: the fuzz harness and the unit tests link it. */
#ifndef LG_SELECT_H
#define LG_SELECT_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "parse.h"
#include "spacesaving.h"
#include "wire.h"

#define LG_SELECT_FILE_MAX (64u << 20)	/* bytes */
#define LG_SELECT_SCALE_MAX 1000u

struct lg_select {
	struct st_ckey_spec spec;
	char client_key[64];		/* as the file states it */
	char (*keys)[ST_CLIENT_KEY_MAX];	/* sorted, distinct */
	uint32_t n;
	uint32_t scale;			/* the file's "scale"; 0: not given */
	uint32_t listed;		/* clients in the file, before the fingerprint filter */
	uint32_t *flows;		/* per key: flows of the capture selected by it */
};

/* Reads path (at most LG_SELECT_FILE_MAX bytes). fingerprint (may be NULL)
 * keeps only the clients whose "fingerprint" is that label. Returns 0;
 * -ENOENT/-EACCES/-EISDIR/-EFBIG (cannot read), -EINVAL (not JSON, no or a
 * bad client_key, a bad scale, a client that is not a key string), -ENODATA
 * (names no client, or none of that fingerprint), -ENOMEM; err->msg names
 * the file and says why. On error sel is empty. O(file + n log n). */
int lg_select_load(const char *path, const char *fingerprint, struct lg_select *sel,
		   struct st_perr *err);

/* The same from memory; name is used in the messages. */
int lg_select_load_mem(const char *buf, size_t len, const char *name, const char *fingerprint,
		       struct lg_select *sel, struct st_perr *err);

/* The index of the key that flow k's client (k->addr[client]) makes, or -1
 * when the file does not name it. A key made and formatted, and a binary
 * search. */
int lg_select_find(const struct lg_select *sel, const struct st_flow_key *k, unsigned int client);

/* NULL-safe; sel is empty after. */
void lg_select_free(struct lg_select *sel);

#endif
