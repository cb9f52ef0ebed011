/* The CURVE key files on arbitrary bytes: a key-pair file, a public-key
 * file and an allow-list, read through a memory file (the loaders take a
 * path). Each must refuse with a message that starts with the path, or
 * accept only well-formed keys: a key pair whose public key the secret
 * derives, a public key of 40 Z85 characters, an allow-list holding every
 * line that is exactly a key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "fuzz.h"
#include "zsec.h"

static int mem_fd = -1;
static char mem_path[64];

static void check_refusal(const struct st_perr *err)
{
	if (strncmp(err->msg, mem_path, strlen(mem_path)) != 0)
		abort();
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Every line that is a key alone (blanks around it) is in the list. */
static void check_listed(const struct st_zsec_allow *a, const uint8_t *data,
			 size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *b, *e;
		char key[ST_ZSEC_KEY_Z85_LEN + 1];
		uint8_t raw[ST_ZSEC_KEY_LEN];

		if (eol == NULL)
			eol = end;
		for (b = p; b < eol && blank(*b); b++)
			;
		for (e = eol; e > b && blank(e[-1]); e--)
			;
		if (e - b == ST_ZSEC_KEY_Z85_LEN) {
			memcpy(key, b, ST_ZSEC_KEY_Z85_LEN);
			key[ST_ZSEC_KEY_Z85_LEN] = '\0';
			if (st_zsec_z85_key(key, raw) && !st_zsec_allow_has(a, raw))
				abort();
		}
		p = eol + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_zsec_keypair kp;
	struct st_zsec_allow *a;
	char z85[ST_ZSEC_KEY_Z85_LEN + 1], derived[ST_ZSEC_KEY_Z85_LEN + 1];
	struct st_perr err;

	if (mem_fd < 0) {
		mem_fd = memfd_create("zsec", 0);
		if (mem_fd < 0)
			abort();
		/* a key pair in a file others may read is warned about */
		if (fchmod(mem_fd, 0600) != 0)
			abort();
		snprintf(mem_path, sizeof(mem_path), "/proc/self/fd/%d", mem_fd);
	}
	if (ftruncate(mem_fd, 0) != 0 ||
	    (size && pwrite(mem_fd, data, size, 0) != (ssize_t)size))
		abort();

	if (st_zsec_load_keypair(mem_path, &kp, &err) == 0) {
		if (!st_zsec_z85_key(kp.public_z85, NULL) ||
		    !st_zsec_z85_key(kp.secret_z85, NULL))
			abort();
		if (zmq_has("curve") &&
		    (zmq_curve_public(derived, kp.secret_z85) != 0 ||
		     strcmp(derived, kp.public_z85) != 0))
			abort();
	} else {
		check_refusal(&err);
	}

	if (st_zsec_load_public(mem_path, z85, &err) == 0) {
		if (strlen(z85) != ST_ZSEC_KEY_Z85_LEN || !st_zsec_z85_key(z85, NULL))
			abort();
	} else {
		check_refusal(&err);
	}

	a = st_zsec_allow_load(mem_path, &err);
	if (a == NULL) {
		check_refusal(&err);
		return 0;
	}
	if (st_zsec_allow_count(a) > ST_ZSEC_MAX_KEYS)
		abort();
	check_listed(a, data, size);
	st_zsec_allow_free(a);
	return 0;
}
