#include "pacer.h"

uint64_t lg_rng_seed(uint64_t seed, uint32_t idx)
{
	/* splitmix64 of (seed, idx): neighbouring lcores get unrelated states. */
	uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (idx + 1);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return z ? z : 0x2545f4914f6cdd1dULL;
}
