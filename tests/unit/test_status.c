/* SPDX-License-Identifier: MIT */
/* Unit tests of cb_status: numbering equals gRPC's, names, and the
 * mapping of Redis replies to statuses. */
#include <check.h>
#include <string.h>

#include "redis_pool.h"
#include "test_main.h"

START_TEST(test_grpc_numbers)
{
	ck_assert_int_eq(CB_OK, 0);
	ck_assert_int_eq(CB_INVALID_ARGUMENT, 3);
	ck_assert_int_eq(CB_DEADLINE_EXCEEDED, 4);
	ck_assert_int_eq(CB_NOT_FOUND, 5);
	ck_assert_int_eq(CB_PERMISSION_DENIED, 7);
	ck_assert_int_eq(CB_RESOURCE_EXHAUSTED, 8);
	ck_assert_int_eq(CB_UNIMPLEMENTED, 12);
	ck_assert_int_eq(CB_INTERNAL, 13);
	ck_assert_int_eq(CB_UNAVAILABLE, 14);
	ck_assert_int_eq(CB_UNAUTHENTICATED, 16);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(cb_status_str(CB_OK), "OK");
	ck_assert_str_eq(
	    cb_status_str(CB_INVALID_ARGUMENT), "INVALID_ARGUMENT");
	ck_assert_str_eq(
	    cb_status_str(CB_DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED");
	ck_assert_str_eq(cb_status_str(CB_UNAVAILABLE), "UNAVAILABLE");
	ck_assert_str_eq(cb_status_str(CB_UNAUTHENTICATED), "UNAUTHENTICATED");
	ck_assert_str_eq(cb_status_str(-1), "UNKNOWN");
	ck_assert_str_eq(cb_status_str(17), "UNKNOWN");
	for (int i = 0; i <= CB_STATUS_MAX; i++) {
		ck_assert_ptr_nonnull(cb_status_str(i));
	}
}
END_TEST

static cb_status
map_error(const char *text, char *msg, size_t cap)
{
	redisReply r;

	memset(&r, 0, sizeof(r));
	r.type = REDIS_REPLY_ERROR;
	r.str  = (char *) text;
	r.len  = strlen(text);
	return cbd_redis_reply_status(&r, msg, cap);
}

START_TEST(test_redis_errors)
{
	char       msg[128];
	redisReply ok;

	ck_assert_int_eq(
	    cbd_redis_reply_status(NULL, msg, sizeof(msg)), CB_UNAVAILABLE);
	memset(&ok, 0, sizeof(ok));
	ok.type = REDIS_REPLY_NIL;
	ck_assert_int_eq(cbd_redis_reply_status(&ok, msg, sizeof(msg)), CB_OK);
	ck_assert_int_eq(
	    map_error("WRONGTYPE Operation against a key", msg, sizeof(msg)),
	    CB_FAILED_PRECONDITION);
	ck_assert_int_eq(map_error("ERR value is not an integer or out of "
	                           "range",
	                     msg, sizeof(msg)),
	    CB_FAILED_PRECONDITION);
	ck_assert_int_eq(map_error("ERR increment or decrement would overflow",
	                     msg, sizeof(msg)),
	    CB_OUT_OF_RANGE);
	ck_assert_int_eq(
	    map_error("OOM command not allowed", msg, sizeof(msg)),
	    CB_RESOURCE_EXHAUSTED);
	ck_assert_int_eq(
	    map_error("LOADING Redis is loading", msg, sizeof(msg)),
	    CB_UNAVAILABLE);
	ck_assert_int_eq(
	    map_error("NOAUTH Authentication required.", msg, sizeof(msg)),
	    CB_UNAVAILABLE);
	ck_assert_int_eq(
	    map_error("ERR unknown command", msg, sizeof(msg)), CB_INTERNAL);
	ck_assert_ptr_nonnull(strstr(msg, "unknown command"));
}
END_TEST

static Suite *
status_suite(void)
{
	Suite *s  = suite_create("status");
	TCase *tc = tcase_create("status");

	tcase_add_test(tc, test_grpc_numbers);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_redis_errors);
	suite_add_tcase(s, tc);
	return s;
}

CBT_MAIN(status_suite)
