/* A streaming decoder of HdrHistogram V2 encodings for the ingest path.
 *
 * st_hist_decode_v2 builds a whole histogram per message: a 216-264 KiB
 * counts array allocated, zeroed and walked for a snapshot that holds a
 * few hundred non-empty buckets. At 100,000 snapshots a second that is
 * tens of GB/s of memory traffic. This decoder reuses one zlib stream and
 * one payload buffer and hands out only the non-empty buckets, already
 * mapped into the analyzer's histogram layout, so merging a snapshot costs
 * what its encoding holds.
 *
 * It accepts and refuses exactly what st_hist_decode_v2 does (the fuzz
 * harness fuzz_an_histdec checks the two against each other), and nothing
 * is handed out unless the whole encoding is valid, so a bad message never
 * half-merges into a window. */
#ifndef AN_HISTDEC_H
#define AN_HISTDEC_H

#include <stddef.h>
#include <stdint.h>

#include "hist.h"

/* The layout of every histogram the analyzer keeps: the dataplane's
 * lowest and precision (so its buckets map one to one), up to an hour. */
#define AN_HIST_LOWEST  1
#define AN_HIST_HIGHEST (3600LL * 1000 * 1000 * 1000)
#define AN_HIST_SIGFIGS 3

/* One non-empty bucket: its index in the analyzer's layout. */
struct an_bin {
	int32_t idx;
	int32_t pad_;
	int64_t count;
};

struct an_histdec;

/* A decoder that maps into dst's layout (dst's counts are not touched;
 * it must outlive the decoder). Returns NULL with errno ENOMEM. */
struct an_histdec *an_histdec_create(const struct st_hist *dst);
void an_histdec_destroy(struct an_histdec *d);

/* Decodes one V2 encoding (compressed or not). On success *bins points to
 * the non-empty buckets in increasing index order, each index once, valid
 * until the next call; *n_bins and *total are set, and *clamped counts the
 * samples above dst's highest that were put in its top bucket. Returns 0,
 * or -EINVAL / -E2BIG / -ENOMEM with *err set (the reasons of hist.h).
 * Allocates only when the payload or bin buffers grow; O(encoding). */
int an_histdec_decode(struct an_histdec *d, const uint8_t *buf, size_t len,
		      const struct an_bin **bins, size_t *n_bins,
		      int64_t *total, int64_t *clamped,
		      enum st_hist_derr *err);

#endif
