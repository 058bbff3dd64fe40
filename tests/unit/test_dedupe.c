/* SPDX-License-Identifier: MIT */
/* Unit tests of dedupe.c: replay, waiting, failures, bounds, expiry. */
#include <check.h>
#include <string.h>

#include "dedupe.h"
#include "router.h"
#include "test_main.h"

#define SEC 1000000ull

#define SET CBD_M_CACHE_SET
#define INCR CBD_M_CACHE_INCREMENT
#define DEL CBD_M_CACHE_DELETE

START_TEST(test_replay_after_success)
{
	cbd_dedupe       *d;
	cbd_dedupe_entry *a = NULL, *b = NULL;
	const uint8_t    *p;
	size_t            n;

	ck_assert_int_eq(cbd_dedupe_alloc(&d, 8, 60 * SEC), CB_OK);
	ck_assert_int_eq(
	    cbd_dedupe_begin(d, INCR, "id-1", 0, &a, &p, &n), CBD_DEDUPE_NEW);
	ck_assert_ptr_nonnull(a);
	cbd_dedupe_complete(d, a, CB_OK, "v7", 2, 1 * SEC);
	ck_assert_int_eq(
	    cbd_dedupe_begin(d, INCR, "id-1", 2 * SEC, &b, &p, &n),
	    CBD_DEDUPE_REPLAY);
	ck_assert_uint_eq(n, 2);
	ck_assert_mem_eq(p, "v7", 2);
	/* Same id, other method: a different call. */
	ck_assert_int_eq(cbd_dedupe_begin(d, SET, "id-1", 2 * SEC, &b, &p, &n),
	    CBD_DEDUPE_NEW);
	ck_assert_ptr_ne(a, b);
	cbd_dedupe_free(d);
}
END_TEST

START_TEST(test_wait_while_running)
{
	cbd_dedupe       *d;
	cbd_dedupe_entry *a = NULL, *b = NULL, *c = NULL;
	const uint8_t    *p;
	size_t            n;
	int               mark;

	ck_assert_int_eq(cbd_dedupe_alloc(&d, 8, 60 * SEC), CB_OK);
	ck_assert_int_eq(
	    cbd_dedupe_begin(d, SET, "x", 0, &a, &p, &n), CBD_DEDUPE_NEW);
	ck_assert_int_eq(
	    cbd_dedupe_begin(d, SET, "x", 0, &b, &p, &n), CBD_DEDUPE_WAIT);
	ck_assert_int_eq(
	    cbd_dedupe_begin(d, SET, "x", 0, &c, &p, &n), CBD_DEDUPE_WAIT);
	/* Repeats find the running call's entry, and its waiter list is
	 * the caller's, kept as it was left. */
	ck_assert_ptr_eq(b, a);
	ck_assert_ptr_eq(c, a);
	ck_assert_ptr_null(*cbd_dedupe_waiters(a));
	*cbd_dedupe_waiters(a) = &mark;
	ck_assert_ptr_eq(*cbd_dedupe_waiters(c), &mark);
	*cbd_dedupe_waiters(a) = NULL;
	cbd_dedupe_complete(d, a, CB_OK, "", 0, 0);
	ck_assert_int_eq(
	    cbd_dedupe_begin(d, SET, "x", 0, &b, &p, &n), CBD_DEDUPE_REPLAY);
	cbd_dedupe_free(d);
}
END_TEST

START_TEST(test_failure_is_forgotten)
{
	cbd_dedupe       *d;
	cbd_dedupe_entry *a = NULL;
	const uint8_t    *p;
	size_t            n;

	ck_assert_int_eq(cbd_dedupe_alloc(&d, 8, 60 * SEC), CB_OK);
	ck_assert_int_eq(cbd_dedupe_begin(d, DEL, "retry-me", 0, &a, &p, &n),
	    CBD_DEDUPE_NEW);
	cbd_dedupe_complete(d, a, CB_UNAVAILABLE, NULL, 0, 0);
	ck_assert_uint_eq(cbd_dedupe_count(d), 0);
	ck_assert_int_eq(cbd_dedupe_begin(d, DEL, "retry-me", 0, &a, &p, &n),
	    CBD_DEDUPE_NEW);
	cbd_dedupe_free(d);
}
END_TEST

START_TEST(test_bounded_and_expiring)
{
	cbd_dedupe       *d;
	cbd_dedupe_entry *e[4];
	const char       *ids[] = { "a", "b", "c", "d" };
	const uint8_t    *p;
	size_t            n;

	ck_assert_int_eq(cbd_dedupe_alloc(&d, 2, 10 * SEC), CB_OK);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(
		    cbd_dedupe_begin(d, SET, ids[i], 0, &e[i], &p, &n),
		    CBD_DEDUPE_NEW);
	}
	/* Full of running calls: the next one runs unremembered. */
	ck_assert_int_eq(cbd_dedupe_begin(d, SET, ids[2], 0, &e[2], &p, &n),
	    CBD_DEDUPE_SKIP);
	cbd_dedupe_complete(d, e[0], CB_OK, "", 0, 1 * SEC);
	cbd_dedupe_complete(d, e[1], CB_OK, "", 0, 2 * SEC);
	/* Full of finished calls: the oldest goes. */
	ck_assert_int_eq(
	    cbd_dedupe_begin(d, SET, ids[2], 3 * SEC, &e[2], &p, &n),
	    CBD_DEDUPE_NEW);
	ck_assert_uint_eq(cbd_dedupe_count(d), 2);
	/* "a" was evicted: it is a new call again (evicting "b"). */
	ck_assert_int_eq(
	    cbd_dedupe_begin(d, SET, ids[0], 3 * SEC, &e[3], &p, &n),
	    CBD_DEDUPE_NEW);
	cbd_dedupe_complete(d, e[2], CB_OK, "", 0, 3 * SEC);
	cbd_dedupe_complete(d, e[3], CB_OK, "", 0, 4 * SEC);
	/* Finished at 3 s and 4 s; the window is 10 s. */
	cbd_dedupe_expire(d, 13 * SEC);
	ck_assert_uint_eq(cbd_dedupe_count(d), 2);
	cbd_dedupe_expire(d, 13 * SEC + 1);
	ck_assert_uint_eq(cbd_dedupe_count(d), 1);
	cbd_dedupe_expire(d, 14 * SEC + 1);
	ck_assert_uint_eq(cbd_dedupe_count(d), 0);
	cbd_dedupe_free(d);
}
END_TEST

static Suite *
dedupe_suite(void)
{
	Suite *s  = suite_create("dedupe");
	TCase *tc = tcase_create("dedupe");

	tcase_add_test(tc, test_replay_after_success);
	tcase_add_test(tc, test_wait_while_running);
	tcase_add_test(tc, test_failure_is_forgotten);
	tcase_add_test(tc, test_bounded_and_expiring);
	suite_add_tcase(s, tc);
	return s;
}

CBT_MAIN(dedupe_suite)
