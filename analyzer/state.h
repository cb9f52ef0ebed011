/* The model state file: each service's model (fits per form, form scores,
 * USL points, baseline rates, version) and A/A noise, so a restarted
 * analyzer predicts from what it learnt instead of starting blind.
 *
 * Layout: a 16-byte header -- "STAN", format version (u32 BE, 1), body
 * length (u32 BE), CRC32-C of the body (u32 BE) -- then the body, one
 * msgpack map {format, saved, services: [{name, model: {...}, noise:
 * {...}}]}. Written to a temporary file, fsync'd and renamed over the old
 * one, so a crash leaves the old or the new file, never half of one. The
 * reader bounds the size before reading, checks header, length and CRC,
 * then every field's type and range, and refuses the whole file with a
 * reason ("services[2].model.prod[1].mu: must be > 0") on the first
 * fault: a state is loaded completely or not at all. */
#ifndef AN_STATE_H
#define AN_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "parse.h"

#define AN_STATE_VERSION 1
#define AN_STATE_MAX_FILE (64u << 20)

struct an_state_svc {
	char name[ST_WIRE_NAME_MAX];
	struct an_model model;
	struct an_judge_state js;	/* noise rings only */
};

struct an_state {
	uint64_t saved;
	uint32_t n;
	struct an_state_svc *svc;
};

/* Encodes the engine's state (header and body) into out. Returns 0 or
 * -ENOMEM. O(services). */
int an_state_encode(struct an_engine *e, uint64_t now_ns, struct st_wbuf *out);

/* Encodes a parsed state again (the fuzz harness checks that parse and
 * encode are each other's inverse). Returns 0 or -ENOMEM. */
int an_state_reencode(const struct an_state *st, struct st_wbuf *out);

/* Writes the state file atomically. Returns 0 or -errno with err->msg. */
int an_state_save(struct an_engine *e, const char *path, uint64_t now_ns,
		  struct st_perr *err);

/* Parses a whole state file image. Returns a new state (an_state_free)
 * or NULL with errno EINVAL/ENOMEM and err->msg saying why. Never reads
 * outside buf; allocation bounded by len. */
struct an_state *an_state_parse(const uint8_t *buf, size_t len, struct st_perr *err);
void an_state_free(struct an_state *st);

/* Puts the parsed models into the engine (creating services as needed).
 * Returns 0 or -ENOSPC (max_services) with err->msg. */
int an_state_apply(struct an_engine *e, const struct an_state *st,
		   struct st_perr *err);

/* Reads, parses and applies a state file. Returns 0, -ENOENT (no file: a
 * first start), or another negative errno with err->msg. */
int an_state_load(struct an_engine *e, const char *path, struct st_perr *err);

#endif
