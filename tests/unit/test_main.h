/* SPDX-License-Identifier: MIT */
/* The main() every unit test shares: run one suite, exit by its result. */
#ifndef CBT_TEST_MAIN_H
#define CBT_TEST_MAIN_H

#include <check.h>
#include <stdlib.h>

#define CBT_MAIN(suite_fn)                                        \
	int main(void)                                            \
	{                                                         \
		SRunner *sr = srunner_create(suite_fn());         \
		int      failed;                                  \
		srunner_run_all(sr, CK_NORMAL);                   \
		failed = srunner_ntests_failed(sr);               \
		srunner_free(sr);                                 \
		return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE; \
	}

#endif /* CBT_TEST_MAIN_H */
