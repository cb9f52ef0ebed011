/* Shared entry point for the CUnit suites: each test_<name>.c defines
 * st_register_suites() and gets a main() from cunit_main.c. */
#ifndef ST_CUNIT_MAIN_H
#define ST_CUNIT_MAIN_H

#include <stdint.h>

#include <CUnit/CUnit.h>

/* Registers the file's suites with the CUnit registry. Returns 0, or a CUnit
 * error code when a suite or test could not be added. */
int st_register_suites(void);

/* Adds a suite with its tests, NULL-terminated by name. */
struct st_cu_test {
	const char *name;
	CU_TestFunc fn;
};
int st_cu_add_suite(const char *name, CU_InitializeFunc init,
		    CU_CleanupFunc clean, const struct st_cu_test *tests);

/* The next number of a xorshift64 sequence in *state (nonzero): test data
 * that is random-looking but the same on every run. */
static inline uint32_t st_cu_rnd(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return (uint32_t)(*state >> 16);
}

/* Path of a file below the source tree (fixtures). */
const char *st_source_path(const char *rel);

#endif
