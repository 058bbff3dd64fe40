/* SPDX-License-Identifier: MIT */
/* Unit tests of keys.c: namespace, key and pattern rules. */
#include <check.h>
#include <string.h>

#include "keys.h"
#include "test_main.h"

static char why[128];

START_TEST(test_namespaces)
{
	const char *good[] = { "users", "a", "tasks_v2", "report-x", "a1" };
	const char *bad[]  = { "", "Users", "1users", "_x", "us ers", "us:ers",
		 "us*", "users\n", "ü",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaa" };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(cbd_keys_check_namespace(
		                  good[i], why, sizeof(why)) == CB_OK,
		    "%s: %s", good[i], why);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		ck_assert_msg(cbd_keys_check_namespace(bad[i], why,
		                  sizeof(why)) == CB_INVALID_ARGUMENT,
		    "accepted '%s'", bad[i]);
		ck_assert_msg(why[0] != '\0', "no reason for '%s'", bad[i]);
	}
}
END_TEST

START_TEST(test_keys)
{
	const char *good[] = { "profile:42", "technician:7:date:2026-11-26",
		"a", "ключ", "x.y/z" };
	const char *bad[]  = { "", "a*", "a?", "a[1]", "a\\b", "tab\there",
		 "nl\n", "sp ace", "del\x7f" };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_int_eq(
		    cbd_keys_check_key(good[i], 64, why, sizeof(why)), CB_OK);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(cbd_keys_check_key(bad[i], 64, why,
		                  sizeof(why)) == CB_INVALID_ARGUMENT,
		    "accepted key %zu", i);
	}
	ck_assert_int_eq(cbd_keys_check_key("abcdef", 5, why, sizeof(why)),
	    CB_RESOURCE_EXHAUSTED);
	ck_assert_ptr_nonnull(strstr(why, "limit is 5"));
	ck_assert_int_eq(
	    cbd_keys_check_key("abcde", 5, why, sizeof(why)), CB_OK);
}
END_TEST

START_TEST(test_patterns)
{
	const char *good[] = { "*", "profile:*", "a?c", "[ab]*", "a\\*b",
		"x\\\\" };
	const char *bad[]  = { "", "a\\", "a\\\\\\", "tab\t*", "a *" };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(cbd_keys_check_pattern(
		                  good[i], 64, why, sizeof(why)) == CB_OK,
		    "%s: %s", good[i], why);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(cbd_keys_check_pattern(bad[i], 64, why,
		                  sizeof(why)) == CB_INVALID_ARGUMENT,
		    "accepted pattern %zu", i);
	}
	ck_assert_int_eq(
	    cbd_keys_check_pattern("abcdef*", 5, why, sizeof(why)),
	    CB_RESOURCE_EXHAUSTED);
}
END_TEST

START_TEST(test_join)
{
	char buf[32];

	ck_assert_uint_eq(
	    cbd_keys_join(buf, sizeof(buf), "", "users", "profile:42"), 16);
	ck_assert_str_eq(buf, "users:profile:42");
	ck_assert_uint_eq(
	    cbd_keys_join(buf, sizeof(buf), "app:", "u", "k"), 7);
	ck_assert_str_eq(buf, "app:u:k");
	/* Exactly full (with the NUL) fits; one more does not. */
	ck_assert_uint_eq(cbd_keys_join(buf, 8, "app:", "u", "k"), 7);
	ck_assert_uint_eq(cbd_keys_join(buf, 7, "app:", "u", "k"), 0);
}
END_TEST

static Suite *
keys_suite(void)
{
	Suite *s  = suite_create("keys");
	TCase *tc = tcase_create("keys");

	tcase_add_test(tc, test_namespaces);
	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_patterns);
	tcase_add_test(tc, test_join);
	suite_add_tcase(s, tc);
	return s;
}

CBT_MAIN(keys_suite)
