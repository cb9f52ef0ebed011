/* CRC32-C: slicing-by-8 tables built once, and the SSE4.2 instruction
 * compiled with a function-level target attribute so the library itself
 * needs no -msse4.2 and still runs on a CPU without it. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "crc32c.h"

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define HAVE_X86_CRC 1
#else
#define HAVE_X86_CRC 0
#endif

#define POLY 0x82f63b78u

static uint32_t tbl[8][256];
static pthread_once_t tbl_once = PTHREAD_ONCE_INIT;
static atomic_bool tbl_ready;

enum { IMPL_UNKNOWN, IMPL_SW, IMPL_HW };
static atomic_int impl;

static void tbl_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
		tbl[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int k = 1; k < 8; k++)
			tbl[k][i] = (tbl[k - 1][i] >> 8) ^
				    tbl[0][tbl[k - 1][i] & 0xff];
	atomic_store_explicit(&tbl_ready, true, memory_order_release);
}

static inline uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

uint32_t st_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (!atomic_load_explicit(&tbl_ready, memory_order_acquire))
		pthread_once(&tbl_once, tbl_init);
	crc = ~crc;
	while (len >= 8) {
		uint32_t lo = le32(p) ^ crc, hi = le32(p + 4);

		crc = tbl[7][lo & 0xff] ^ tbl[6][(lo >> 8) & 0xff] ^
		      tbl[5][(lo >> 16) & 0xff] ^ tbl[4][lo >> 24] ^
		      tbl[3][hi & 0xff] ^ tbl[2][(hi >> 8) & 0xff] ^
		      tbl[1][(hi >> 16) & 0xff] ^ tbl[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = tbl[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

#if HAVE_X86_CRC
__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t len)
{
	uint32_t c = ~crc;

#if defined(__x86_64__)
	uint64_t c64 = c;

	while (len >= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c64 = _mm_crc32_u64(c64, v);
		p += 8;
		len -= 8;
	}
	c = (uint32_t)c64;
#endif
	while (len >= 4) {
		uint32_t v;

		memcpy(&v, p, 4);
		c = _mm_crc32_u32(c, v);
		p += 4;
		len -= 4;
	}
	while (len--)
		c = _mm_crc32_u8(c, *p++);
	return ~c;
}
#endif

static int impl_detect(void)
{
	int i = IMPL_SW;

#if HAVE_X86_CRC
	__builtin_cpu_init();
	if (__builtin_cpu_supports("sse4.2"))
		i = IMPL_HW;
#endif
	atomic_store_explicit(&impl, i, memory_order_relaxed);
	return i;
}

bool st_crc32c_hw_available(void)
{
	int i = atomic_load_explicit(&impl, memory_order_relaxed);

	if (i == IMPL_UNKNOWN)
		i = impl_detect();
	return i == IMPL_HW;
}

uint32_t st_crc32c(uint32_t crc, const void *buf, size_t len)
{
	int i = atomic_load_explicit(&impl, memory_order_relaxed);

	if (__builtin_expect(i == IMPL_UNKNOWN, 0))
		i = impl_detect();
#if HAVE_X86_CRC
	if (__builtin_expect(i == IMPL_HW, 1))
		return crc32c_hw(crc, buf, len);
#endif
	return st_crc32c_sw(crc, buf, len);
}
