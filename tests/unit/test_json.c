/* SPDX-License-Identifier: MIT */
/* Unit tests of json.c: the payload of a notification. */
#include <check.h>
#include <string.h>

#include "json.h"
#include "test_main.h"

static char        out[512];
static char        why[160];
static const char *event;
static const char *names[4];
static const char *vals[4];
static size_t      n;

static cb_status
parse(const char *text)
{
	why[0] = '\0';
	return cbd_json_event(text, strlen(text), out, sizeof(out), &event,
	    names, vals, 4, &n, why, sizeof(why));
}

START_TEST(test_event_and_params)
{
	ck_assert_int_eq(parse(" {\"event\" : \"users.updated\", \"params\":"
	                       " {\"user_id\": 42, \"name\": \"x\\\"y\","
	                       " \"ok\": true, \"f\": -1.5e3}}\n"),
	    CB_OK);
	ck_assert_str_eq(event, "users.updated");
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(names[0], "user_id");
	ck_assert_str_eq(vals[0], "42");
	ck_assert_str_eq(vals[1], "x\"y");
	ck_assert_str_eq(vals[2], "true");
	ck_assert_str_eq(vals[3], "-1.5e3");
	/* params may come first, or not at all. */
	ck_assert_int_eq(
	    parse("{\"params\":{},\"event\":\"users.created\"}"), CB_OK);
	ck_assert_str_eq(event, "users.created");
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(parse("{\"event\":\"e\"}"), CB_OK);
}
END_TEST

START_TEST(test_escapes)
{
	ck_assert_int_eq(
	    parse("{\"event\":\"a\\u00e9\\ud83d\\ude00\\n\"}"), CB_OK);
	ck_assert_str_eq(event, "a\xc3\xa9\xf0\x9f\x98\x80\n");
}
END_TEST

START_TEST(test_rejected)
{
	const char *bad[] = {
		"",
		"not json",
		"[]",
		"{}",
		"{\"event\":1}",
		"{\"event\":\"e\",\"other\":1}",
		"{\"event\":\"e\",\"event\":\"f\"}",
		"{\"event\":\"e\",\"params\":{\"a\":null}}",
		"{\"event\":\"e\",\"params\":{\"a\":{}}}",
		"{\"event\":\"e\",\"params\":{\"a\":[1]}}",
		"{\"event\":\"e\",\"params\":{\"a\":1,\"a\":2}}",
		/* One string, split for the line length.
		 * NOLINTNEXTLINE(bugprone-suspicious-missing-comma) */
		"{\"event\":\"e\",\"params\":{\"a\":1,\"b\":2,\"c\":3,\"d\":4,"
		"\"e\":5}}",
		"{\"event\":\"e\",\"params\":{\"a\":01}}",
		"{\"event\":\"e\",\"params\":{\"a\":1.}}",
		"{\"event\":\"e\"} x",
		"{\"event\":\"e\"",
		"{\"event\":\"e\",}",
		"{\"event\":\"a\\u0000\"}",
		"{\"event\":\"\\ud83d\"}",
		"{\"event\":\"\\ude00\"}",
		"{\"event\":\"\\x\"}",
		"{\"event\":\"tab\there\"}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(parse(bad[i]) == CB_INVALID_ARGUMENT,
		    "accepted '%s'", bad[i]);
		ck_assert_msg(why[0] != '\0', "no reason for '%s'", bad[i]);
	}
}
END_TEST

START_TEST(test_output_bound)
{
	/* The output never overflows, however small. */
	const char *t = "{\"event\":\"users.updated\"}";

	ck_assert_int_eq(cbd_json_event(t, strlen(t), out, 8, &event, names,
	                     vals, 4, &n, why, sizeof(why)),
	    CB_INVALID_ARGUMENT);
	ck_assert_int_eq(cbd_json_event(t, strlen(t), out, strlen(t) + 1,
	                     &event, names, vals, 4, &n, why, sizeof(why)),
	    CB_OK);
}
END_TEST

static Suite *
json_suite(void)
{
	Suite *s  = suite_create("json");
	TCase *tc = tcase_create("json");

	tcase_add_test(tc, test_event_and_params);
	tcase_add_test(tc, test_escapes);
	tcase_add_test(tc, test_rejected);
	tcase_add_test(tc, test_output_bound);
	suite_add_tcase(s, tc);
	return s;
}

CBT_MAIN(json_suite)
