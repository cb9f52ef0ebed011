/* Base64 (RFC 4648, standard alphabet, '=' padding), as HdrHistogram logs
 * and hdr-histogram-js write encoded histograms. */
#ifndef ST_BASE64_H
#define ST_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Characters st_base64_encode writes for n bytes, without the NUL. */
size_t st_base64_encoded_len(size_t n);

/* Encodes n bytes into out, which must hold st_base64_encoded_len(n) + 1
 * bytes; NUL-terminates. Returns the length written. Never fails. */
size_t st_base64_encode(const uint8_t *in, size_t n, char *out);

/* Most bytes st_base64_decode can produce from n characters. */
size_t st_base64_decoded_max(size_t n);

/* Decodes n characters (padding optional; no whitespace) into out. Returns
 * 0 with *outlen set, -EINVAL when the text is not canonical base64 (bad
 * character, misplaced '=', impossible length, non-zero bits past the last
 * byte) or -ENOSPC when cap is too small. O(n), no allocation. */
int st_base64_decode(const char *in, size_t n, uint8_t *out, size_t cap,
		     size_t *outlen);

#endif
