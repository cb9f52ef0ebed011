/* Runs every suite a test file registers and turns CUnit's result into the
 * process exit status meson expects (0 pass, 1 fail). */
#include <stdio.h>
#include <stdlib.h>

#include <CUnit/Basic.h>

#include "cunit_main.h"

#ifndef ST_SOURCE_ROOT
#define ST_SOURCE_ROOT "."
#endif

int st_cu_add_suite(const char *name, CU_InitializeFunc init,
		    CU_CleanupFunc clean, const struct st_cu_test *tests)
{
	CU_pSuite suite = CU_add_suite(name, init, clean);

	if (suite == NULL)
		return CU_get_error();
	for (; tests->name != NULL; tests++)
		if (CU_add_test(suite, tests->name, tests->fn) == NULL)
			return CU_get_error();
	return 0;
}

const char *st_source_path(const char *rel)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf), "%s/%s", ST_SOURCE_ROOT, rel);
	return buf;
}

int main(void)
{
	unsigned int failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	if (st_register_suites() != 0) {
		fprintf(stderr, "suite registration failed: %s\n", CU_get_error_msg());
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	if (CU_get_number_of_suites_failed() > 0)
		failed++;
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
