#include <errno.h>

#include "base64.h"

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t st_base64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

size_t st_base64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0, i = 0;
	uint32_t w;

	for (; i + 3 <= n; i += 3) {
		w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64_alphabet[w >> 18];
		out[o++] = b64_alphabet[(w >> 12) & 63];
		out[o++] = b64_alphabet[(w >> 6) & 63];
		out[o++] = b64_alphabet[w & 63];
	}
	if (n - i == 1) {
		w = (uint32_t)in[i] << 16;
		out[o++] = b64_alphabet[w >> 18];
		out[o++] = b64_alphabet[(w >> 12) & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64_alphabet[w >> 18];
		out[o++] = b64_alphabet[(w >> 12) & 63];
		out[o++] = b64_alphabet[(w >> 6) & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

size_t st_base64_decoded_max(size_t n)
{
	return n / 4 * 3 + 2;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int st_base64_decode(const char *in, size_t n, uint8_t *out, size_t cap,
		     size_t *outlen)
{
	size_t o = 0, tail;
	uint32_t w = 0;
	int v;

	/* Padding is optional, but when present it must complete a quad. */
	if (n % 4 == 0 && n > 0 && in[n - 1] == '=') {
		n--;
		if (in[n - 1] == '=')
			n--;
	}
	tail = n % 4;
	if (tail == 1)
		return -EINVAL;
	if (n / 4 * 3 + (tail ? tail - 1 : 0) > cap)
		return -ENOSPC;

	for (size_t i = 0; i < n; i++) {
		v = b64_value(in[i]);
		if (v < 0)
			return -EINVAL;
		w = w << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			out[o++] = (uint8_t)(w >> 16);
			out[o++] = (uint8_t)(w >> 8);
			out[o++] = (uint8_t)w;
			w = 0;
		}
	}
	/* Leftover bits must be zero, so each byte string has one text. */
	if (tail == 2) {
		if (w & 0xf)
			return -EINVAL;
		out[o++] = (uint8_t)(w >> 4);
	} else if (tail == 3) {
		if (w & 0x3)
			return -EINVAL;
		out[o++] = (uint8_t)(w >> 10);
		out[o++] = (uint8_t)(w >> 2);
	}
	*outlen = o;
	return 0;
}
