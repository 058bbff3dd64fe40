/* SPDX-License-Identifier: MIT */
/* Unit tests of dedupe.c: replay, waiting, failures, bounds, expiry. */
#include <check.h>
#include <string.h>

#include "dedupe.h"
#include "request.h"
#include "test_main.h"

#define SEC 1000000ull

typedef struct fake {
	cbd_req                  req;
	Cachebroker__V1__Request env;
} fake;

static void
fake_init(fake *f, int method, const char *id)
{
	memset(f, 0, sizeof(*f));
	cachebroker__v1__request__init(&f->env);
	f->env.request_id = (char *) id;
	f->req.env        = &f->env;
	f->req.method     = &cbd_methods[method];
}

START_TEST(test_replay_after_success)
{
	cbd_dedupe    *d;
	fake           a, b;
	const uint8_t *p;
	size_t         n;

	ck_assert_int_eq(cbd_dedupe_alloc(&d, 8, 60 * SEC), CB_OK);
	fake_init(&a, CBD_M_CACHE_INCREMENT, "id-1");
	ck_assert_int_eq(
	    cbd_dedupe_begin(d, &a.req, 0, &p, &n), CBD_DEDUPE_NEW);
	ck_assert_ptr_nonnull(a.req.dedupe);
	ck_assert_ptr_null(
	    cbd_dedupe_complete(d, a.req.dedupe, CB_OK, "v7", 2, 1 * SEC));
	fake_init(&b, CBD_M_CACHE_INCREMENT, "id-1");
	ck_assert_int_eq(
	    cbd_dedupe_begin(d, &b.req, 2 * SEC, &p, &n), CBD_DEDUPE_REPLAY);
	ck_assert_uint_eq(n, 2);
	ck_assert_mem_eq(p, "v7", 2);
	/* Same id, other method: a different call. */
	fake_init(&b, CBD_M_CACHE_SET, "id-1");
	ck_assert_int_eq(
	    cbd_dedupe_begin(d, &b.req, 2 * SEC, &p, &n), CBD_DEDUPE_NEW);
	cbd_dedupe_free(d);
}
END_TEST

START_TEST(test_wait_while_running)
{
	cbd_dedupe    *d;
	fake           a, b, c;
	const uint8_t *p;
	size_t         n;
	cbd_req       *w;

	ck_assert_int_eq(cbd_dedupe_alloc(&d, 8, 60 * SEC), CB_OK);
	fake_init(&a, CBD_M_CACHE_SET, "x");
	fake_init(&b, CBD_M_CACHE_SET, "x");
	fake_init(&c, CBD_M_CACHE_SET, "x");
	ck_assert_int_eq(
	    cbd_dedupe_begin(d, &a.req, 0, &p, &n), CBD_DEDUPE_NEW);
	ck_assert_int_eq(
	    cbd_dedupe_begin(d, &b.req, 0, &p, &n), CBD_DEDUPE_WAIT);
	ck_assert_int_eq(
	    cbd_dedupe_begin(d, &c.req, 0, &p, &n), CBD_DEDUPE_WAIT);
	/* c gives up (its deadline): only b is left waiting. */
	cbd_dedupe_unwait(c.req.waiting, &c.req);
	w = cbd_dedupe_complete(d, a.req.dedupe, CB_OK, "", 0, 0);
	ck_assert_ptr_eq(w, &b.req);
	ck_assert_ptr_null(w->next);
	cbd_dedupe_free(d);
}
END_TEST

START_TEST(test_failure_is_forgotten)
{
	cbd_dedupe    *d;
	fake           a, b;
	const uint8_t *p;
	size_t         n;

	ck_assert_int_eq(cbd_dedupe_alloc(&d, 8, 60 * SEC), CB_OK);
	fake_init(&a, CBD_M_CACHE_DELETE, "retry-me");
	ck_assert_int_eq(
	    cbd_dedupe_begin(d, &a.req, 0, &p, &n), CBD_DEDUPE_NEW);
	cbd_dedupe_complete(d, a.req.dedupe, CB_UNAVAILABLE, NULL, 0, 0);
	ck_assert_uint_eq(cbd_dedupe_count(d), 0);
	fake_init(&b, CBD_M_CACHE_DELETE, "retry-me");
	ck_assert_int_eq(
	    cbd_dedupe_begin(d, &b.req, 0, &p, &n), CBD_DEDUPE_NEW);
	cbd_dedupe_free(d);
}
END_TEST

START_TEST(test_bounded_and_expiring)
{
	cbd_dedupe    *d;
	fake           f[4];
	const char    *ids[] = { "a", "b", "c", "d" };
	const uint8_t *p;
	size_t         n;

	ck_assert_int_eq(cbd_dedupe_alloc(&d, 2, 10 * SEC), CB_OK);
	for (int i = 0; i < 2; i++) {
		fake_init(&f[i], CBD_M_CACHE_SET, ids[i]);
		ck_assert_int_eq(
		    cbd_dedupe_begin(d, &f[i].req, 0, &p, &n), CBD_DEDUPE_NEW);
	}
	/* Full of running calls: the next one runs unremembered. */
	fake_init(&f[2], CBD_M_CACHE_SET, ids[2]);
	ck_assert_int_eq(
	    cbd_dedupe_begin(d, &f[2].req, 0, &p, &n), CBD_DEDUPE_SKIP);
	cbd_dedupe_complete(d, f[0].req.dedupe, CB_OK, "", 0, 1 * SEC);
	cbd_dedupe_complete(d, f[1].req.dedupe, CB_OK, "", 0, 2 * SEC);
	/* Full of finished calls: the oldest goes. */
	ck_assert_int_eq(
	    cbd_dedupe_begin(d, &f[2].req, 3 * SEC, &p, &n), CBD_DEDUPE_NEW);
	ck_assert_uint_eq(cbd_dedupe_count(d), 2);
	/* "a" was evicted: it is a new call again (evicting "b"). */
	fake_init(&f[3], CBD_M_CACHE_SET, ids[0]);
	ck_assert_int_eq(
	    cbd_dedupe_begin(d, &f[3].req, 3 * SEC, &p, &n), CBD_DEDUPE_NEW);
	cbd_dedupe_complete(d, f[2].req.dedupe, CB_OK, "", 0, 3 * SEC);
	cbd_dedupe_complete(d, f[3].req.dedupe, CB_OK, "", 0, 4 * SEC);
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
