/* SPDX-License-Identifier: MIT */
/* Declarations shared by the harness's own files, not by the tests. */
#ifndef CBH_INTERNAL_H
#define CBH_INTERNAL_H

#include <stdbool.h>

/*
 * cbh_dir_track adds (add) or removes a temporary directory from the list
 * of live ones (cbh_tmpdir_create and _remove call it); cbh_test_begin
 * writes the test's name into each as file TEST, so that the logs a
 * failed test leaves behind can be told apart.
 */
void cbh_dir_track(const char *dir, bool add);

#endif /* CBH_INTERNAL_H */
